"""The default run's claim, through the CLI: ``python train.py`` (glyphs, no override) ends with a
model that beats the untrained one on every test metric, and its best checkpoint is not the worst
epoch by any validation metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_helpers import run_train
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def val_history(run_dir: Path) -> dict[str, list[float]]:
    """Every per-epoch ``val/*`` scalar of the run, in step order."""
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    return {
        tag: [e.value for e in sorted(acc.Scalars(tag), key=lambda e: e.step)]
        for tag in acc.Tags()["scalars"]
        if tag.startswith("val/") and not tag.startswith("val/best_")  # one point: the best
    }


@pytest.mark.slow
def test_the_default_run_learns_what_the_untrained_model_cannot(tmp_path: Path) -> None:
    trained_dir, untrained_dir = tmp_path / "trained", tmp_path / "untrained"
    trained = run_train(f"hydra.run.dir={trained_dir}", cwd=tmp_path, OMP_NUM_THREADS="1")
    assert trained.returncode == 0, trained.stderr[-3000:]
    untrained = run_train(
        "train=false", f"hydra.run.dir={untrained_dir}", cwd=tmp_path, OMP_NUM_THREADS="1"
    )
    assert untrained.returncode == 0, untrained.stderr[-3000:]
    after = json.loads((trained_dir / "metrics.json").read_text())
    before = json.loads((untrained_dir / "metrics.json").read_text())
    tests = [k for k in after if k.startswith("test/")]
    assert len(tests) == 8
    worse = {k: (before[k], after[k]) for k in tests if not after[k] > before[k]}
    assert not worse, f"untrained vs trained: {worse}"
    assert after["test/map@r"] > 2 * before["test/map@r"]  # learning shows, not a rounding win

    history = val_history(trained_dir)
    best = after["best_epoch"]
    assert len(history["val/map@r"]) == 10 and best == max(
        range(10), key=lambda e: (history["val/map@r"][e], e)
    )
    for tag, values in history.items():  # the chosen epoch is never the worst by any metric
        assert values[best] > min(values), (tag, best, values)
