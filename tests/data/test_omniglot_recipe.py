"""``experiment=omniglot`` end to end on a subset of the real Omniglot (``../shared/data``).

40 background characters train (5 of them validate), 30 evaluation characters test, 1 epoch: the
real pipeline (reader, cache, recipe, evaluator) in well under a minute. Skipped when the archive
is absent.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from metriclab.pipeline.training import train

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot.tar.gz"
KEEP = {"images_background": range(1, 41), "images_evaluation": range(965, 995)}


def extract_subset(archive: Path, dest: Path) -> Path:
    """Extract the characters of ``KEEP`` (flat layout ``omniglot/<set>/<id>/<id>_DD.png``)."""
    pattern = re.compile(r"omniglot/(images_\w+)/(\d{4})/\d{4}_\d{2}\.png$")
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            match = pattern.match(member.name)
            if match and int(match[2]) in KEEP[match[1]] and member.isfile():
                tar.extract(member, dest, filter="data")
    return dest / "omniglot"


@pytest.mark.slow
def test_omniglot_recipe_on_a_real_subset(tmp_path, make_cfg):
    if not ARCHIVE.is_file():
        pytest.skip(f"real Omniglot archive not found at {ARCHIVE}")
    root = extract_subset(ARCHIVE, tmp_path / "data")
    cfg = make_cfg(
        "experiment=omniglot",
        f"data.root={root}",
        "data.val_classes=5",
        "trainer.max_epochs=1",
        "logger=csv",
        "callbacks.progress_bar=null",
        tiny=False,
    )
    metrics, objects = train(cfg)
    sizes = {k: (len(d), d.num_classes) for k, d in objects["datamodule"].datasets.items()}
    assert sizes == {"train": (700, 35), "val": (100, 5), "test": (600, 30)}
    saved = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    recalls = [saved[f"test/recall@{k}"] for k in (1, 2, 4, 8)]
    assert recalls == sorted(recalls)
    for key in ("recall@1", "recall@8", "precision@1", "r_precision", "map@r", "nmi"):
        assert 0.0 <= saved[f"test/{key}"] <= 1.0, key
    assert saved["test/recall@1"] > 0.3, saved  # chance: 19 of 599 neighbours, about 0.03
    assert saved["test/nmi"] > 0.3 and saved["train_time_s"] > 0
