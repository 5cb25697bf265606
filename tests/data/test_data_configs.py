"""Every ``configs/data/*.yaml``, composed with Hydra and built on a tiny official-format fixture.

Checks the split sizes the datamodule reports, that labels are ``0..C-1`` per split, and that the
first training item has the configured shape.
"""

from __future__ import annotations

from pathlib import Path

import fixtures
import numpy as np
import pytest

from metriclab.build import build_datamodule
from metriclab.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _csv(tmp: Path) -> Path:
    fixtures.make_class_folders(tmp / "img", {f"c{i}": 2 for i in range(6)})
    split = ["train"] * 4 + ["test"] * 2
    rows = [f"img/c{i}/{k}.png,c{i},{split[i]}" for i in range(6) for k in (0, 1)]
    (tmp / "table.csv").write_text("path,label,split\n" + "\n".join(rows) + "\n")
    return tmp / "table.csv"


#: name -> (fixture builder returning data.root, expected (images, classes) per split).
CASES = {
    "digits": (lambda tmp: None, None),  # bundled with scikit-learn: sizes checked below
    "cub": (fixtures.make_cub, {"train": (4, 2), "val": (4, 2), "test": (6, 3)}),
    "cars": (fixtures.make_cars_annos, {"train": (2, 1), "val": (4, 2), "test": (6, 3)}),
    "cifar10": (fixtures.make_cifar10, {"train": (18, 3), "val": (12, 2), "test": (30, 5)}),
    "cifar100": (fixtures.make_cifar100, {"train": (144, 48), "val": (6, 2), "test": (150, 50)}),
    "sop": (fixtures.make_sop, {"train": (2, 1), "val": (4, 2), "test": (4, 2)}),
    "inshop": (
        fixtures.make_inshop,
        {"train": (2, 1), "val": (4, 2), "query": (2, 2), "gallery": (4, 2)},
    ),
    "omniglot": (
        fixtures.make_omniglot_official,
        {"train": (2, 1), "val": (4, 2), "test": (4, 2)},
    ),
    "folder": (
        lambda tmp: fixtures.make_class_folders(tmp / "classes", {f"k{i}": 2 for i in range(6)}),
        {"train": (2, 1), "val": (4, 2), "test": (6, 3)},
    ),
    "csv": (_csv, {"train": (4, 2), "val": (4, 2), "test": (4, 2)}),
    # generated: 200 training characters (the last 40 validate) and 200 test ones, 20 drawings each
    "glyphs": (lambda tmp: None, {"train": (3200, 160), "val": (800, 40), "test": (4000, 200)}),
}


def test_every_data_config_is_covered():
    assert sorted(p.stem for p in (CONFIGS / "data").glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_data_config_builds_on_official_fixture(name, tmp_path, make_cfg):
    build, expected = CASES[name]
    root = build(tmp_path)
    overrides = [f"data={name}", "data.num_workers=0"]
    if root is not None:  # 2 validation classes, batches of 1 class x 2
        overrides += [f"data.root={root}", "data.val_classes=2", "data.batch_size=2", "sampler.m=2"]
    datamodule = build_datamodule(cfg := make_cfg(*overrides, tiny=False))
    sizes = {k: (len(d), d.num_classes) for k, d in datamodule.datasets.items()}
    if expected is None:  # digits: 0-2 train, 3-4 validate, 5-9 test
        expected = {k: (sizes[k][0], c) for k, c in (("train", 3), ("val", 2), ("test", 5))}
    assert sizes == expected
    for key, (n, c) in sizes.items():
        assert f"{key} {n} images / {c} classes" in datamodule.describe()
    for key, dataset in datamodule.datasets.items():
        if key not in ("query", "gallery"):
            assert np.unique(dataset.labels).tolist() == list(range(dataset.num_classes)), key
    both = np.concatenate([datamodule.datasets[k].labels for k in datamodule.test_splits])
    assert np.unique(both).tolist() == list(range(len(np.unique(both))))
    image, label, index = datamodule.datasets["train"][1]
    side = cfg.data.image_size
    assert tuple(image.shape) == (cfg.data.channels, side, side)
    assert (label, index) == (int(datamodule.datasets["train"].labels[1]), 1)


@pytest.mark.parametrize("name", ["folder", "csv"])
def test_root_is_required_for_own_data(name, make_cfg):
    with pytest.raises(ConfigError, match=f"{name}: data.root is not set") as info:
        build_datamodule(make_cfg(f"data={name}", tiny=False))
    assert "\n" not in str(info.value) and f"data={name} data.root=" in str(info.value)
