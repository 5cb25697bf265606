"""Miner tests, ``tests/miners/test_<name>.py`` for ``miner=<name>``.

A package, so that ``test_multisim.py`` can be the name here and in ``tests/losses``.
"""
