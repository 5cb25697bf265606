"""protocol=kfold: the class-disjoint fold rule against a loop, and what a user meets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metriclab.data.base import Split
from metriclab.data.datamodule import MetricDataModule
from metriclab.data.folds import fold_classes, never_validated
from metriclab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def loop_rule(classes: list[int], k: int, p: int) -> tuple[list[int], list[int]]:
    """The rule as written: sorted ids, block of floor(N/k) from floor(p*N/k), wrapping round."""
    ordered = sorted(set(classes))
    n = len(ordered)
    start = (p * n) // k
    val = [ordered[(start + i) % n] for i in range(n // k)]
    return [c for c in ordered if c not in val], sorted(val)


@pytest.mark.parametrize("n", [4, 5, 6, 7, 9, 10, 13, 100, 101, 103])
@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_fold_rule_matches_a_loop_on_awkward_n(n, k):
    if n < k:
        return
    rng = np.random.default_rng(n * 10 + k)
    classes = rng.choice(1000, size=n, replace=False)  # unsorted, gaps between ids
    vals = []
    for p in range(k):
        train, val = fold_classes(classes, k, p)
        want_train, want_val = loop_rule(classes.tolist(), k, p)
        assert train.tolist() == want_train and val.tolist() == want_val
        assert len(val) == n // k and not set(train) & set(val)  # class-disjoint
        assert sorted([*train, *val]) == sorted(classes.tolist())
        vals.append(set(val.tolist()))
    for a in range(k):  # the folds' validation blocks are pairwise disjoint
        for b in range(a + 1, k):
            assert not vals[a] & vals[b]
    left_out = set(classes.tolist()) - set().union(*vals)  # N mod k classes always train
    assert len(left_out) == n % k
    assert sorted(left_out) == never_validated(classes, k).tolist()


def test_fold_of_ten_classes_into_four_is_stated_exactly():
    ids = list(range(10, 20))  # N=10, k=4: blocks of 2 starting at 0, 2, 5, 7
    assert [fold_classes(ids, 4, p)[1].tolist() for p in range(4)] == [
        [10, 11],
        [12, 13],
        [15, 16],
        [17, 18],
    ]
    assert never_validated(ids, 4).tolist() == [14, 19]


@pytest.mark.parametrize(
    ("n", "k", "p", "needle"),
    [
        (3, 4, 0, "needs at least 4 training classes, the training split has 3"),
        (10, 4, 4, "protocol.fold=4 is not a fold"),
        (10, 1, 0, "protocol.folds=1 must be at least 2"),
    ],
)
def test_bad_folds_are_refused_with_one_line(n, k, p, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        fold_classes(list(range(n)), k, p)
    assert "\n" not in str(info.value)


def reader(root=None):
    labels = np.repeat(np.arange(10), 3)
    items = np.zeros((30, 4, 4), dtype=np.uint8)
    return {"train": Split(items[:21], labels[:21]), "test": Split(items[21:], labels[21:])}


def test_datamodule_trains_and_validates_on_the_fold_and_keeps_the_test_split():
    dm = MetricDataModule(
        reader, image_size=4, channels=1, mean=[0.5], std=[0.5], folds=3, fold=1, batch_size=4
    )
    dm.setup()
    assert dm.class_split == {"train": [0, 1, 4, 5, 6], "val": [2, 3], "test": [7, 8, 9]}
    assert "fold 1 of 3" in dm.describe()
    plain = MetricDataModule(
        reader, image_size=4, channels=1, mean=[0.5], std=[0.5], val_classes=2, batch_size=4
    )
    plain.setup()  # without the protocol: the last val_classes, as before
    assert plain.class_split == {"train": [0, 1, 2, 3, 4], "val": [5, 6], "test": [7, 8, 9]}


def test_kfold_with_val_on_test_is_refused():
    with pytest.raises(ConfigError, match="val_on_test"):
        MetricDataModule(reader, folds=4, val_on_test=True)


@pytest.mark.slow  # a fresh interpreter: about 10-20 s on a busy 2-core CPU
def test_cli_refuses_more_folds_than_classes_in_one_line(tmp_path):
    # digits trains on 5 classes: 6 folds cannot be made
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            "data=digits",
            "protocol=kfold",
            "protocol.folds=6",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert lines[-1].startswith("error: protocol.folds=6 needs at least 6 training classes")
    assert not (tmp_path / "run" / "metrics.json").exists()


def sweep_jobs(*overrides: str, command_line: tuple[str, ...] = ()) -> list[list[str]]:
    """The jobs Hydra's basic sweeper makes of the config's ``hydra.sweeper.params`` and the
    command line's sweeps (what ``python train.py -m *overrides *command_line`` launches)."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides], return_hydra_config=True)
    GlobalHydra.instance().clear()
    params = OmegaConf.to_container(cfg.hydra.sweeper, resolve=True).get("params") or {}
    parsed = OverridesParser.create().parse_overrides(
        [f"{k}={v}" for k, v in params.items()] + list(command_line)
    )
    return BasicSweeper.split_arguments(parsed, None)[0]


def test_kfold_sweeps_every_fold_crossed_with_the_command_lines_sweeps():
    jobs = sweep_jobs("protocol=kfold", command_line=("loss=circle,contrastive", "seed=0,1"))
    assert len(jobs) == 16
    folds = sorted({o for job in jobs for o in job if o.startswith("protocol.fold=")})
    assert folds == [f"protocol.fold={p}" for p in range(4)]
    assert len(sweep_jobs("protocol=kfold", "protocol.folds=3")) == 3
    only = sweep_jobs("protocol=kfold", command_line=("protocol.fold=2", "seed=0,1"))
    assert [o for job in only for o in job if o.startswith("protocol.fold")] == [
        "protocol.fold=2"
    ] * 2
    assert sweep_jobs("protocol=none", command_line=("seed=0,1",)) == [["seed=0"], ["seed=1"]]


def test_optuna_under_kfold_trains_every_fold_in_each_trial():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hparams_search=optuna", "protocol=kfold"], return_hydra_config=True
        )
    GlobalHydra.instance().clear()
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True)
    assert params["protocol.fold"] == "all"  # a fixed value: Optuna never samples a fold
    assert cfg.optimized_metric == "val/map@r"
