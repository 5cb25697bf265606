"""Bad input is refused with one actionable line, a non-zero exit and no ``metrics.json``.

Most cases call the CLI wrapper (:func:`metriclab.commands.train.run`) in-process and check its
exit status and stderr; the two that Hydra itself would handle (an unknown ``group=option``, a
run directory that holds a run) start ``train.py`` in a subprocess.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from config_helpers import TINY, compose_config, one_error_line, refused, run_train
from omegaconf import read_write

from metriclab.commands.train import run, unknown_group_option
from metriclab.errors import ConfigError
from metriclab.pipeline import train
from metriclab.runs.run_dir import RunDirGuard

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained_ckpt(tmp_path_factory) -> Path:
    """``last.ckpt`` of a one-epoch run with ``head.embedding_size=32`` and small_cnn."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    train(compose_config([*TINY, "logger=csv"], run_dir))
    return run_dir / "checkpoints" / "last.ckpt"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_train(*args, cwd=cwd, timeout=300, OMP_NUM_THREADS="1")


# ------------------------------------------------------------------ command line / run directory
@pytest.mark.slow
def test_unknown_group_option_lists_the_available_ones(tmp_path):
    line = one_error_line(cli("loss=circl", cwd=tmp_path))
    assert "loss=circl" in line and "available:" in line and "circle, contrastive" in line
    assert not (tmp_path / "outputs").exists()  # refused before Hydra made a run directory


def test_unknown_group_option_parsing():
    configs = ROOT / "configs"
    assert unknown_group_option(["loss=circle", "miner=none", "seed=3"], configs) is None
    assert unknown_group_option(["data.root=/x", "debug=null", "+x=1"], configs) is None
    assert unknown_group_option(["hydra/launcher=submitit_slurm"], configs) is None  # a plugin's
    assert "miner=bogus" in unknown_group_option(["-m", "miner=none,bogus"], configs)
    assert "loss/distance=manhattan" in unknown_group_option(["loss/distance=manhattan"], configs)


@pytest.mark.slow
def test_a_new_run_never_writes_into_a_directory_that_holds_a_run(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"old")
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("the old run's config\n")
    line = one_error_line(cli(f"hydra.run.dir={run_dir}", cwd=tmp_path))
    assert "already holds a run" in line and "ckpt_path=last" in line
    assert (run_dir / ".hydra" / "config.yaml").read_text() == "the old run's config\n"
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", "checkpoints"]


def test_train_refuses_a_directory_that_holds_a_run(make_cfg, tmp_path, capsys):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "best.ckpt").write_bytes(b"old")
    assert "already holds a run (checkpoints/best.ckpt)" in refused(make_cfg(), capsys)
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").read_bytes() == b"old"


def test_an_unwritable_run_directory(make_cfg, tmp_path, capsys):
    (tmp_path / "run").write_text("a file where the run directory should be")
    with pytest.raises(ConfigError, match="cannot write the run directory .*hydra.run.dir=DIR"):
        train(make_cfg())
    cfg = make_cfg()
    with read_write(cfg.hydra.run):
        cfg.hydra.run.dir = str(tmp_path / "run" / "sub")
    with pytest.raises(SystemExit) as exited:  # Hydra's callback, before .hydra/ is written
        RunDirGuard().on_run_start(cfg)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the run directory") and err.count("\n") == 1


# ------------------------------------------------------------------------------ data and sizes
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["data.batch_size=50"], "not a multiple of sampler.m=16"),
        (["data.batch_size=64"], "needs 4 classes but the training split has 3"),
        (["loss=proxy_anchor", "+loss.embedding_size=64"], "loss.embedding_size=64"),
        (
            ["callbacks.nonfinite_loss.policy=ignore"],
            "callbacks.nonfinite_loss.policy=ignore is not an option",
        ),
    ],
)
def test_config_mistakes(make_cfg, capsys, overrides, expected):
    assert expected in refused(make_cfg(*overrides), capsys)


def test_an_empty_dataset_root(make_cfg, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    reader = "data.reader._target_=metriclab.data.readers.read_folder"
    line = refused(make_cfg(reader, f"data.root={tmp_path / 'empty'}"), capsys)
    assert "data.root" in line and str(tmp_path / "empty") in line


# -------------------------------------------------------------------------------- checkpoints
def test_a_missing_checkpoint(make_cfg, tmp_path, capsys):
    line = refused(make_cfg(f"ckpt_path={tmp_path / 'nope.ckpt'}"), capsys)
    assert "no checkpoint at" in line and "nope.ckpt" in line
    assert "hydra.run.dir" in refused(make_cfg("ckpt_path=last"), capsys)


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_a_corrupt_checkpoint(make_cfg, trained_ckpt, tmp_path, capsys, damage):
    bad = tmp_path / "bad.ckpt"
    data = trained_ckpt.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a checkpoint\n")
    line = refused(make_cfg(f"ckpt_path={bad}"), capsys)
    assert "not a readable PyTorch checkpoint" in line and "truncated or corrupt" in line


def test_a_weights_only_file_cannot_resume(make_cfg, trained_ckpt, tmp_path, capsys):
    weights = tmp_path / "weights.ckpt"
    state = torch.load(trained_ckpt, weights_only=True)["state_dict"]
    torch.save({"state_dict": state}, weights)
    assert "holds weights only" in refused(make_cfg(f"ckpt_path={weights}"), capsys)


def test_a_checkpoint_with_another_embedding_size(make_cfg, trained_ckpt, capsys):
    line = refused(make_cfg(f"ckpt_path={trained_ckpt}", "head.embedding_size=16"), capsys)
    assert "model.head.fc.weight is [32, " in line and "set head.embedding_size=32" in line


def test_a_checkpoint_of_another_architecture(make_cfg, trained_ckpt, capsys):
    resnet = ["data=digits", "backbone=resnet18", "backbone.pretrained=false"]
    resnet += ["head.embedding_size=32"]
    cfg = make_cfg(f"ckpt_path={trained_ckpt}", *resnet, "trainer.accelerator=cpu", tiny=False)
    line = refused(cfg, capsys)
    assert "another architecture" in line and "model.backbone." in line


# ------------------------------------------------------- mistakes wherever raised, through the CLI
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # raised inside constructors that Hydra's instantiate wraps
        (["data=digits", "data.channels=3"], "data.mean / data.std need 3 value(s)"),
        (["trainer=gpu"], "needs a CUDA GPU"),
        (["backbone=resnet18", "backbone.pretrained=true"], "backbone.weights_path="),
        # settings no target takes (with +, or in a block that Hydra lets anything into)
        (["+module.speed.channel_last=true"], "did you mean channels_last?"),
        (["+module.distributed.gather_embedding=false"], "did you mean gather_embeddings?"),
        (["+module.backbone_lr_multiplyer=0.1"], "did you mean backbone_lr_multiplier?"),
        (["+loss.marginn=0.1"], "loss.marginn: metriclab.losses.CircleLoss takes no setting"),
        # a misspelled key without +: refused before Hydra composes
        (["optimizer.lrr=0.1"], "did you mean optimizer.lr?"),
        # top-level keys nothing reads, keys that moved, top-level settings of the wrong type
        (["+foo.bar=1"], "foo.bar: no part of metriclab reads the top-level key 'foo'"),
        (["+speed.channel_last=true"], "did you mean module.speed.channels_last?"),
        (["speed.channels_last=true"], "moved to module.speed.channels_last"),
        (["+optimizer.backbone_lr_multiplier=2"], "moved to module.backbone_lr_multiplier"),
        (["seed=abc"], "seed='abc' must be int (e.g. seed=42)"),
        # refused after Hydra made the run directory
        (["data=cub", "data.root=/nonexistent/cub"], "does not hold the dataset"),
        (["data=digits", "data.batch_size=50"], "not a multiple of sampler.m=16"),
        (["ckpt_path=/nonexistent/x.ckpt"], "no checkpoint at"),
    ],
)
def test_a_mistake_is_one_line_exit_2_and_writes_nothing(tmp_path, args, expected):
    """Every user mistake, wherever it is raised, ends as one line and leaves no run folder."""
    home = tmp_path / "torch-home"  # no cached weights: the download is really attempted
    result = run_train(
        *args,
        f"paths.log_dir={tmp_path / 'outputs'}",
        cwd=tmp_path,
        timeout=300,
        OMP_NUM_THREADS="1",
        TORCH_HOME=str(home),
        **OFFLINE,
    )
    line = one_error_line(result)
    assert expected in line, line
    assert not (tmp_path / "outputs").exists(), sorted((tmp_path / "outputs").rglob("*"))


BROKEN_MODULE = 'raise RuntimeError("operator torchvision::nms does not exist")\n'


@pytest.mark.slow
@pytest.mark.parametrize("where", ["hydra.callbacks.broken", "callbacks.broken"])
def test_a_target_that_cannot_be_imported_names_the_root_cause(tmp_path, where):
    """Hydra's "Error locating target" hides why; the line names the root exception (exit 1:
    the installation, not the command, is broken), for Hydra's callbacks and the task's parts."""
    (tmp_path / "broken_mod.py").write_text(BROKEN_MODULE)
    result = run_train(
        *TINY,
        f"+{where}._target_=broken_mod.Thing",
        f"paths.log_dir={tmp_path / 'outputs'}",
        cwd=tmp_path,
        timeout=300,
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(tmp_path),
    )
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot import broken_mod.Thing (the _target_ of {where}): ")
    assert "RuntimeError: operator torchvision::nms does not exist" in last
    assert "Traceback" not in result.stderr


def test_an_unknown_setting_names_the_valid_keys_and_the_closest():
    from metriclab.commands.train import unknown_setting

    configs = ROOT / "configs"
    line = unknown_setting(["optimizer.lrr=0.1"], configs)
    assert line.startswith("optimizer.lrr: no such setting in optimizer; optimizer has lr")
    assert "did you mean optimizer.lr?" in line and "+optimizer" not in line
    assert unknown_setting(["optimizer.lr=0.1", "+optimizer.foo=1", "seed=1"], configs) is None
    # the group choice comes first: callbacks.early_stopping exists with callbacks=early_stopping
    ok = ["callbacks=early_stopping", "callbacks.early_stopping.patience=3"]
    assert unknown_setting(ok, configs) is None
    assert "loss.gamma" not in (
        unknown_setting(["-m", "loss=circle,triplet", "loss.gamma=3"], configs) or "x"
    )
    assert "trainer.max_epochss" in unknown_setting(["trainer.max_epochss=3"], configs)


def test_the_command_line_checks_the_config_before_anything_is_built(make_cfg, monkeypatch, capsys):
    import metriclab.pipeline.training as training

    monkeypatch.setattr(training, "build_datamodule", lambda cfg: pytest.fail("built unchecked"))
    line = refused(make_cfg("+loss.marginn=0.1"), capsys)
    assert "loss.marginn: metriclab.losses.CircleLoss takes no setting 'marginn'" in line
    assert "loss takes m, gamma, distance" in line


def test_a_bug_keeps_its_traceback(make_cfg, monkeypatch):
    import metriclab.pipeline.training as training

    def broken(*args, **kwargs):
        raise KeyError("a bug, not a mistake")

    monkeypatch.setattr(training, "build_model", broken)
    with pytest.raises(KeyError):
        run(make_cfg())
