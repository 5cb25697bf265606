"""Lightning callbacks: ``configs/callbacks/default.yaml`` lists every one a run gets.

Each key of that file names a module here (``evaluator`` -> ``callbacks/evaluator.py``,
``nonfinite_loss`` -> ``callbacks/nonfinite_loss.py``) and a test
(``tests/callbacks/test_<name>.py``); the keys that build Lightning's own callbacks
(``lr_monitor``, ``progress_bar``) have no module. Nothing is added behind the config:
``callbacks.<name>=null`` drops one (the run refuses to start without the evaluator).

A new callback is one module here, one entry in ``configs/callbacks/default.yaml`` (or a file of
its own in ``configs/callbacks/`` for an optional one, like ``early_stopping.yaml``) and its test.
"""
