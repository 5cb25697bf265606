"""Sweeps on digits: a grid with a failing job, an Optuna search (resumed), submitit, reports.

The sweeps run ``train.py``'s ``@hydra.main`` in this process (``sys.argv`` patched), exactly as
``python train.py -m ...`` would, without paying a new interpreter's torch import per test.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml
from config_helpers import TINY, hydra_main
from omegaconf import open_dict

from metriclab.errors import ConfigError
from metriclab.pipeline import sweeps
from metriclab.runs import compare as report

ROOT = Path(__file__).resolve().parents[2]


def read_status(job: Path) -> dict:
    return json.loads((job / "status.json").read_text())


def jobs_of(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def hparams_of(job: Path) -> dict:
    """The hyper-parameters in the job's TensorBoard HParams view (+ ``"metrics"``: its tags)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    found = {}
    for events in (job / "tensorboard").rglob("events.out.tfevents.*"):  # fit's, then test's
        acc = EventAccumulator(str(events))
        acc.Reload()
        try:
            contents = acc.PluginTagToContent("hparams")
        except KeyError:  # this file has no HParams summary
            continue
        parse = plugin_data_pb2.HParamsPluginData.FromString
        info = parse(contents["_hparams_/session_start_info"]).session_start_info
        found.update({k: v.string_value or v.number_value for k, v in info.hparams.items()})
        experiment = parse(contents["_hparams_/experiment"]).experiment
        found["metrics"] = {m.name.tag for m in experiment.metric_infos}
    return found


def scalars_of(job: Path, tag: str) -> list[float]:
    """The values of scalar ``tag`` in the job's TensorBoard events, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = []
    for events in (job / "tensorboard").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            found += [(e.step, e.value) for e in acc.Scalars(tag)]
    return [value for _, value in sorted(found)]


# ---------------------------------------------------------------------------- unit: recorded
def test_single_run_failure_is_recorded_and_raised(make_cfg):
    cfg = make_cfg("data.batch_size=48")
    with pytest.raises(ConfigError), sweeps.recorded(cfg):
        raise ConfigError("data.batch_size=50 is not a multiple of sampler.m=16")
    status = read_status(Path(cfg.paths.output_dir))
    assert status["status"] == "failed" and "ConfigError: data.batch_size=50" in status["error"]
    assert "data.batch_size=48" in status["overrides"] and "Traceback" in status["traceback"]


def test_sweep_job_failure_returns_no_metric_and_diverged_runs_fail(make_cfg, monkeypatch, capsys):
    cfg = make_cfg()
    monkeypatch.setattr(sweeps, "is_multirun", lambda: True)
    with sweeps.recorded(cfg) as metrics:
        metrics |= {"val/recall@1": float("nan")}
    assert metrics.get("val/recall@1") is None  # the value train.py returns to the sweeper
    status = read_status(Path(cfg.paths.output_dir))
    assert status["status"] == "failed" and "diverged" in status["error"]
    assert capsys.readouterr().err.count("error: job") == 1
    with sweeps.recorded(cfg) as metrics:  # a sweep job's error: recorded, the sweep goes on
        raise ConfigError("data.batch_size=50 is not a multiple of sampler.m=16")
    assert metrics == {} and read_status(Path(cfg.paths.output_dir))["status"] == "failed"
    with sweeps.recorded(cfg) as metrics:
        metrics |= {"val/recall@1": 0.5}
    assert metrics == {"val/recall@1": 0.5}
    status = read_status(Path(cfg.paths.output_dir))
    assert status["status"] == "completed" and status["value"] == 0.5 and "error" not in status
    assert (
        status["optimized_metric"] == "val/recall@1" and "backbone.width=16" in status["overrides"]
    )


def test_ddp_ranks_rerun_the_job_not_the_sweep(make_cfg, monkeypatch, tmp_path):
    make_cfg("loss=circle", "loss.m=0.3")  # sets the Hydra run config the context edits
    monkeypatch.setattr(sweeps, "is_multirun", lambda: True)
    monkeypatch.setattr(sys, "argv", ["train.py", "-m", "hparams_search=optuna"])
    from hydra.core.hydra_config import HydraConfig

    before = HydraConfig.get().run.dir
    with sweeps.ddp_ranks_rerun_this_job(tmp_path / "job"):
        assert sys.argv == ["train.py", *sweeps.job_overrides()]
        assert "loss.m=0.3" in sys.argv and "-m" not in sys.argv
        assert HydraConfig.get().run.dir == str(tmp_path / "job")
    assert sys.argv == ["train.py", "-m", "hparams_search=optuna"]
    assert HydraConfig.get().run.dir == before


def test_early_stopping_stops_when_the_metric_stalls(make_cfg):
    from pytorch_lightning.callbacks import EarlyStopping

    from metriclab.pipeline.training import train

    cfg = make_cfg(
        "callbacks=early_stopping",
        "callbacks.early_stopping.patience=1",
        "trainer.max_epochs=6",
        "callbacks.early_stopping.min_delta=1.0",  # no later validation counts as better
    )
    with open_dict(cfg):
        cfg.logger = None
    _, objects = train(cfg)
    stopper = next(c for c in objects["trainer"].callbacks if isinstance(c, EarlyStopping))
    assert stopper.monitor == "val/recall@1" and stopper.patience == 1
    assert objects["trainer"].current_epoch == 2 and stopper.stopped_epoch == 1


def test_search_configs_compose(make_cfg):
    for name, loss in [("optuna", "CircleLoss"), ("optuna_proxy", "ProxyAnchorLoss")]:
        cfg = make_cfg(f"hparams_search={name}")
        sweeper = cfg.hydra.sweeper
        assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
        assert sweeper.sampler.seed == cfg.seed and "TPE" in sweeper.sampler._target_
        assert set(sweeper.params) >= {"optimizer.lr"} and cfg.loss._target_.endswith(loss)
        for key in sweeper.params:
            assert cfg.get(key.split(".")[0]).get(key.split(".")[1]) is not None, key


# ------------------------------------------------------------------------ end to end (slow)
@pytest.mark.slow
def test_grid_sweep_goes_on_past_a_failing_job_and_reports(monkeypatch, tmp_path, capsys):
    sweep_dir = tmp_path / "grid"
    grid = ["data.batch_size=50,48", "loss=contrastive,triplet"]  # jobs 0, 1 fail (50 % 16)
    with pytest.raises(SystemExit) as exited:  # the sweep ends non-zero, after every job ran
        hydra_main(monkeypatch, "-m", *grid, *TINY, f"hydra.sweep.dir={sweep_dir}")
    assert exited.value.code == sweeps.EXIT_SWEEP_FAILED != 0
    out, err = capsys.readouterr()
    assert f"sweep: 2 completed, 2 failed, in {sweep_dir}" in out
    summary = [line for line in out.splitlines() if line[:1].isdigit() and " | " in line]
    assert [line.split(" | ")[2].strip() for line in summary] == ["failed"] * 2 + ["completed"] * 2
    assert f"python scripts/report.py {sweep_dir}" in out
    causes = [line for line in err.splitlines() if line.startswith("error: job 0 failed:")]
    assert len(causes) == 1 and "data.batch_size=50 is not a multiple of sampler.m=16" in causes[0]
    jobs = jobs_of(sweep_dir)
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]
    for job in jobs[:2]:
        status = read_status(job)
        assert status["status"] == "failed" and "data.batch_size=50" in status["error"]
        assert not (job / "metrics.json").exists()
    for job, loss in zip(jobs[2:], ["contrastive", "triplet"], strict=True):
        status = read_status(job)
        saved = json.loads((job / "metrics.json").read_text())
        assert status["status"] == "completed" and status["optimized_metric"] == "val/recall@1"
        logged = scalars_of(job, "val/recall@1")  # the job's own metric, as the Trainer logged it
        assert status["value"] == pytest.approx(logged[saved["best_epoch"]]) == max(logged)
        assert f"loss={loss}" in status["overrides"]
        hparams = hparams_of(job)
        assert hparams["loss"] == loss and hparams["data.batch_size"] == "48"  # an integer
        assert {"test/recall@1", "test/map@r", "val/best_recall@1"} <= hparams["metrics"]

    rows = report.report(sweep_dir)
    assert [r["status"] for r in rows] == ["completed", "completed", "failed", "failed"]
    text = (sweep_dir / "report.md").read_text()
    body = [line for line in text.splitlines() if line.startswith("| ") and "run" not in line]
    assert len(body) == 4 and sum("| failed |" in line for line in body) == 2
    assert "| contrastive |" in text and "| triplet |" in text and "test/map@r" in text
    assert (sweep_dir / "report.png").stat().st_size > 1000


@pytest.mark.slow
def test_optuna_search_samples_trials_resumes_and_reports(monkeypatch, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = ["hparams_search=optuna", f"hydra.sweeper.storage={storage}", *TINY]
    first, resumed = tmp_path / "search", tmp_path / "resumed"
    hydra_main(monkeypatch, "-m", *search, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={first}")
    jobs = jobs_of(first)
    assert len(jobs) == 3
    sampled = [yaml.safe_load((j / ".hydra" / "config.yaml").read_text())["loss"] for j in jobs]
    assert all(0.1 <= s["m"] <= 0.5 and s["gamma"] in (32, 64, 128, 256) for s in sampled)
    assert len({s["m"] for s in sampled}) == 3  # three different trials
    values = [read_status(j)["value"] for j in jobs]
    best = yaml.safe_load((first / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(values)
    assert set(best["best_params"]) == {"loss.m", "loss.gamma", "optimizer.lr"}

    # the same study, one more trial; a failing one (batch 50 % m 16 != 0) ends the search cleanly
    with pytest.raises(SystemExit, match=str(sweeps.EXIT_SWEEP_FAILED)):
        hydra_main(
            monkeypatch, "-m", *search, "hydra.sweeper.n_trials=1", "data.batch_size=50",
            f"hydra.sweep.dir={resumed}",
        )  # fmt: skip
    import optuna

    study = optuna.load_study(study_name="circle_m_gamma_lr", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    assert [t.value for t in study.trials[:3]] == values

    for sweep_dir, n_rows in [(first, 3), (tmp_path, 4)]:
        report.report(sweep_dir)
        with (sweep_dir / "report.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n_rows and all(r["test/recall@1"] for r in rows[:3])
    assert rows[-1]["status"] == "failed" and rows[-1]["data.batch_size"] == "50"
    assert "Optuna's best trial" in (first / "report.md").read_text()


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_two_job_sweep(monkeypatch, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "cluster"
    hydra_main(
        monkeypatch, "-m", "hydra/launcher=local", "hydra.launcher.timeout_min=10",
        "loss=contrastive,triplet", *TINY, f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    jobs = jobs_of(sweep_dir)
    assert [j.name for j in jobs] == ["0", "1"]
    assert all(read_status(j)["status"] == "completed" for j in jobs)
    assert all((j / "metrics.json").is_file() for j in jobs)
    assert list((sweep_dir / ".submitit").glob("*/*_log.out"))  # each job ran as its own process


def test_slurm_launcher_config_makes_an_sbatch_script(make_cfg, monkeypatch, tmp_path):
    submitit = pytest.importorskip("submitit")
    from hydra.utils import instantiate
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf
    from submitit.slurm.slurm import SlurmExecutor

    cfg = make_cfg(
        "hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "hydra.launcher.partition=gpu",
        f"paths.log_dir={tmp_path}",
    )  # fmt: skip
    params = dict(instantiate(cfg.hydra.launcher).params)  # resolved as the launcher sees them
    assert params["tasks_per_node"] == params["gpus_per_node"] == 4 and params["nodes"] == 1
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # no srun here
    executor = submitit.AutoExecutor(
        cluster="slurm",
        folder=params.pop("submitit_folder"),
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("python train.py", "uid")
    for line in ["--ntasks-per-node=4", "--gpus-per-node=4", "--partition=gpu", "--time=240"]:
        assert f"#SBATCH {line}" in script
    assert str(tmp_path / "multirun") in script  # logs beside the sweep's jobs
