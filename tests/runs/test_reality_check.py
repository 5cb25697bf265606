"""The reality-check report: statistics against scipy and loops, views recomputed from the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from config_helpers import hydra_main
from scipy import stats

from metriclab.errors import ConfigError
from metriclab.metrics import retrieval_metrics
from metriclab.runs import reality_check as rc


# ----------------------------------------------------------------------------- statistics
def test_mean_interval_is_scipys_student_t():
    x = [0.51, 0.49, 0.55, 0.47, 0.52]
    mean, low, high = rc.mean_interval(x)
    want = stats.t.interval(0.95, 4, loc=np.mean(x), scale=stats.sem(x))
    assert mean == pytest.approx(np.mean(x)) and (low, high) == pytest.approx(want)
    half = stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / math.sqrt(5)  # the formula by hand
    assert high - mean == pytest.approx(half)
    assert rc.mean_interval([0.7]) == (0.7, None, None)  # n=1: no interval, never a made-up one


def test_paired_test_is_scipys_ttest_rel():
    a = np.array([0.50, 0.52, 0.48, 0.55, 0.51, 0.53])
    b = np.array([0.47, 0.50, 0.49, 0.50, 0.46, 0.50])
    diff, low, high, p = rc.paired_test(a, b)
    assert diff == pytest.approx(np.mean(a - b))
    assert p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert (low, high) == pytest.approx(
        stats.t.interval(0.95, 5, loc=np.mean(a - b), scale=stats.sem(a - b))
    )
    assert rc.paired_test([0.5], [0.4])[1:] == (None, None, None)


def test_class_bootstrap_equals_a_plain_loop():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), [3, 5, 2, 4, 4, 6])
    method = [(rng.random(len(labels)), labels) for _ in range(2)]
    best = [(rng.random(len(labels)), labels) for _ in range(2)]
    obs, low, high = rc.class_bootstrap(method, best, samples=200, seed=5)

    draws = np.random.default_rng(5).integers(0, 6, size=(200, 6))
    boot = []
    for drawn in draws:  # resample classes, then average the drawn classes' queries
        diffs = []
        for (mv, _), (bv, _) in zip(method, best, strict=True):
            rows = np.concatenate([np.flatnonzero(labels == c) for c in drawn])
            diffs.append(mv[rows].mean() - bv[rows].mean())
        boot.append(np.mean(diffs))
    assert obs == pytest.approx(
        np.mean([m.mean() - b.mean() for (m, _), (b, _) in zip(method, best, strict=True)])
    )
    assert (low, high) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])))


def test_per_query_metrics_average_to_retrieval_metrics():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(12), 5)
    labels[-1] = 99  # a class with one image: left out, as retrieval_metrics does
    emb = rng.normal(size=(60, 8)) + labels[:, None] % 3
    per = rc.per_query_metrics(emb, labels)
    found = retrieval_metrics(emb, labels)
    for metric in rc.METRICS:
        assert per[metric].mean() == pytest.approx(found[metric], abs=1e-12)
    assert len(per["labels"]) == 59
    gallery, gallery_labels = emb[:30] + 0.1, labels[:30]  # query -> gallery (In-Shop)
    per = rc.per_query_metrics(emb, labels, gallery, gallery_labels)
    found = retrieval_metrics(emb, labels, gallery, gallery_labels)
    for metric in rc.METRICS:
        assert per[metric].mean() == pytest.approx(found[metric], abs=1e-12)


# ----------------------------------------------------------------------------- a made-up sweep
def write_run(
    path, overrides, seed, fold, emb, labels, data="glyphs", status="completed", tested=True
):
    (path / ".hydra").mkdir(parents=True)
    config = {"seed": seed, "data": {"name": data, "root": None}}
    config["protocol"] = {"name": "kfold", "folds": 2, "fold": fold}
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    all_overrides = ["protocol=kfold", f"protocol.fold={fold}", f"seed={seed}", *overrides]
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(all_overrides))
    record = {"status": status}
    if status == "completed":  # the value the run was chosen on, as sweeps.recorded writes it
        record |= {"optimized_metric": "val/map@r", "value": 0.5 + 0.1 * fold + 0.01 * seed}
    (path / "status.json").write_text(json.dumps(record))
    if status != "completed" or not tested:  # test=false: a search on the folds
        return
    metrics = {f"test/{k}": v for k, v in retrieval_metrics(emb, labels).items()}
    (path / "metrics.json").write_text(json.dumps(metrics))
    untrained = {"test/precision@1": 0.1, "test/r_precision": 0.05, "test/map@r": 0.02}
    (path / "metrics_untrained.json").write_text(json.dumps(untrained))
    np.save(path / "test_embeddings.npy", emb.astype(np.float32))
    np.save(path / "test_labels.npy", labels)
    split = {"train": [0, 1], "val": [2, 3], "test": sorted(set(labels.tolist()))}
    (path / "split.json").write_text(json.dumps(split))


def fake_sweep(root: Path, skip=(), running=()) -> dict:
    """2 losses x 2 seeds x 2 folds; ``loss=b`` embeds better than ``loss=a``."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(100, 110), 4)
    saved, job = {}, 0
    for loss, noise in (("a", 3.0), ("b", 1.0)):
        for seed in (0, 1):
            for fold in (0, 1):
                emb = np.eye(16)[labels - 100] + noise * rng.normal(size=(40, 16))
                key = (loss, seed, fold)
                if key not in skip:
                    status = "running" if key in running else "completed"
                    write_run(
                        root / str(job), [f"loss={loss}"], seed, fold, emb, labels, status=status
                    )
                    saved[key] = emb.astype(np.float32)
                job += 1
    return {"labels": labels, "emb": saved}


def read_csv(path: Path) -> list[dict]:
    import csv

    with path.open() as f:
        return list(csv.DictReader(f))


def test_report_recomputes_views_from_the_saved_files(tmp_path):
    made = fake_sweep(tmp_path)
    rc.write_reality_check(tmp_path)
    rows = read_csv(tmp_path / "reality_check.csv")
    assert list(rows[0]) == ["method", "view", "metric", "mean", "ci_low", "ci_high", "n"]
    got = {(r["method"], r["view"], r["metric"]): r for r in rows}
    labels = made["labels"]
    concat_means = {}
    for loss in ("a", "b"):
        concat = []
        for seed in (0, 1):  # the concatenated view, recomputed here from the embeddings
            parts = [made["emb"][(loss, seed, f)] for f in (0, 1)]
            parts = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts]
            concat.append(retrieval_metrics(np.concatenate(parts, axis=1), labels)["map@r"])
        row = got[(f"loss={loss}", "concatenated", "map@r")]
        assert float(row["mean"]) == pytest.approx(np.mean(concat)) and row["n"] == "2"
        concat_means[loss] = np.mean(concat)
        low, high = stats.t.interval(0.95, 1, loc=np.mean(concat), scale=stats.sem(concat))
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high))
        separated = [
            retrieval_metrics(made["emb"][(loss, s, f)], labels)["map@r"]
            for s in (0, 1)
            for f in (0, 1)
        ]
        row = got[(f"loss={loss}", "separated", "map@r")]
        assert float(row["mean"]) == pytest.approx(np.mean(separated)) and row["n"] == "4"
    assert got[("untrained", "separated", "map@r")]["n"] == "2"  # one per seed

    paired = read_csv(tmp_path / "paired.csv")
    assert list(paired[0]) == [
        "method",
        "baseline",
        "view",
        "metric",
        "mean_diff",
        "ci_low",
        "ci_high",
        "p_value",
        "n",
    ]
    sep = next(r for r in paired if r["view"] == "separated" and r["metric"] == "map@r")
    assert sep["method"] == "loss=a" and sep["baseline"] == "loss=b" and sep["n"] == "4"
    a = [
        retrieval_metrics(made["emb"][("a", s, f)], labels)["map@r"] for s in (0, 1) for f in (0, 1)
    ]
    b = [
        retrieval_metrics(made["emb"][("b", s, f)], labels)["map@r"] for s in (0, 1) for f in (0, 1)
    ]
    assert float(sep["p_value"]) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    boot = next(
        r for r in paired if r["view"] == "concatenated_class_bootstrap" and r["metric"] == "map@r"
    )
    assert boot["n"] == "10"  # test classes resampled
    diff = concat_means["a"] - concat_means["b"]
    assert float(boot["mean_diff"]) == pytest.approx(diff)
    assert float(boot["ci_low"]) < diff < float(boot["ci_high"])
    md = (tmp_path / "reality_check.md").read_text()
    assert "**" in md and "n=2" in md
    for suffix in (".tex", ".png"):
        assert (tmp_path / f"reality_check{suffix}").stat().st_size > 0


def test_validation_table_is_what_each_run_was_chosen_on(tmp_path):
    fake_sweep(tmp_path, skip={("a", 1, 1)}, running={("b", 0, 0)})
    report = rc.write_reality_check(tmp_path)
    rows = {r["method"]: r for r in read_csv(tmp_path / "validation.csv")}
    assert list(next(iter(rows.values()))) == ["method", "metric", "mean", "ci_low", "ci_high", "n"]
    # a: (seed, fold) = (0, 0), (0, 1), (1, 0); b: its running fold left out
    want = {"loss=a": [0.5, 0.6, 0.51], "loss=b": [0.6, 0.51, 0.61]}
    for method, values in want.items():
        row = rows[method]
        assert row["metric"] == "val/map@r" and row["n"] == "3"
        assert float(row["mean"]) == pytest.approx(np.mean(values))
        low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high))
    assert [r["method"] for r in report.validation] == ["loss=b", "loss=a"]  # highest first
    assert "## validation: what to choose on" in (tmp_path / "reality_check.md").read_text()


def test_a_search_on_the_folds_alone_is_reported_on_validation(tmp_path):
    """Runs of test=false (no metrics.json): the validation table and paired t-tests against
    the best setting on the (seed, fold) pairs, no test view, no note, no chart."""
    values = {
        "a": [0.6, 0.66, 0.55, 0.62],
        "b": [0.62, 0.67, 0.58, 0.63],
        "c": [0.5, 0.6, 0.4, 0.5],
    }
    labels = np.repeat(np.arange(4), 2)
    for method, found in values.items():
        for fold, value in enumerate(found):
            run = tmp_path / f"{method}{fold}"
            write_run(run, [f"lr={method}", "test=false"], 0, fold, None, labels, tested=False)
            record = {"status": "completed", "optimized_metric": "val/map@r", "value": value}
            (run / "status.json").write_text(json.dumps(record))
    assert rc.applies(tmp_path)
    report = rc.write_reality_check(tmp_path)
    assert [r["method"] for r in report.validation] == ["lr=b", "lr=a", "lr=c"]
    assert report.summary == [] and not any("PARTIAL" in n or "misses" in n for n in report.notes)
    paired = {r["method"]: r for r in report.paired}
    assert set(paired) == {"lr=a", "lr=c"}
    for method, row in paired.items():
        assert row["baseline"] == "lr=b" and row["view"] == "validation" and row["n"] == 4
        mine = values[method.removeprefix("lr=")]
        assert row["p_value"] == pytest.approx(stats.ttest_rel(mine, values["b"]).pvalue)
        assert row["mean_diff"] == pytest.approx(np.mean(mine) - np.mean(values["b"]))
    text = (tmp_path / "reality_check.md").read_text()
    assert "## validation: what to choose on" in text and "| lr=a | lr=b | validation |" in text
    assert not (tmp_path / "reality_check.png").exists()


def test_missing_fold_is_named_and_running_sweep_is_partial(tmp_path):
    fake_sweep(tmp_path, skip={("a", 1, 1)}, running={("b", 0, 0)})
    report = rc.build_report(tmp_path)
    notes = " ".join(report.notes)
    assert "PARTIAL: 6 of 7 runs finished" in notes and "(running)" in notes
    assert "loss=a: seed 1 misses fold(s) 1 of 2" in notes
    assert "loss=b: seed 0 misses fold(s) 0 of 2" in notes
    concat = {(r["method"], r["metric"]): r for r in report.summary if r["view"] == "concatenated"}
    assert concat[("loss=a", "map@r")]["n"] == 1 and concat[("loss=a", "map@r")]["ci_low"] is None


def test_runs_of_two_data_sets_are_refused_in_one_line(tmp_path, capsys):
    fake_sweep(tmp_path)
    labels = np.repeat(np.arange(100, 110), 4)
    write_run(tmp_path / "99", ["loss=a"], 0, 0, np.eye(16)[labels - 100], labels, data="cub")
    with pytest.raises(ConfigError, match="different data sets") as info:
        rc.build_report(tmp_path)
    assert "\n" not in str(info.value)
    from metriclab.runs.compare import main

    assert main([str(tmp_path)]) == 2  # what scripts/report.py DIR exits with
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith("error: the runs use different data sets")
    )
    assert not (tmp_path / "reality_check.csv").exists()  # nothing half-written


# ----------------------------------------------------------------------------- the real thing
TINY_GLYPHS = [
    "data.reader.classes=32",
    "data.reader.train_classes=16",
    "data.reader.samples_per_class=8",
    "data.batch_size=16",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "callbacks.progress_bar=null",
    "callbacks.dashboards=null",
    "callbacks.hparams=null",
    "callbacks.evaluator.nmi_on_test=false",
    "logger=csv",
]


@pytest.mark.slow
def test_kfold_sweep_runs_every_fold_with_other_sweeps_then_reports(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "sweep"
    hydra_main(
        monkeypatch,
        "-m",
        "protocol=kfold",
        "protocol.folds=2",
        "loss=circle,contrastive",
        "seed=0,1",
        *TINY_GLYPHS,
        f"hydra.sweep.dir={sweep}",
    )
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    combos = set()
    for job in jobs:
        split = json.loads((job / "split.json").read_text())
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        loss = next(o for o in overrides if o.startswith("loss="))
        seed = next(o for o in overrides if o.startswith("seed="))
        combos.add((loss, seed, split["fold"]))
        assert split["test"] == list(range(16, 32))  # the official test split, every job
    assert len(jobs) == 8 and len(combos) == 8  # 2 losses x 2 seeds x 2 folds

    from metriclab.runs.compare import main

    assert main([str(sweep)]) == 0
    rows = read_csv(sweep / "reality_check.csv")
    got = {(r["method"], r["view"], r["metric"]): r for r in rows}
    assert got[("loss=circle", "separated", "map@r")]["n"] == "4"
    assert got[("loss=contrastive", "concatenated", "map@r")]["n"] == "2"
    concat = []
    for seed in (0, 1):  # each seed's concatenated view, recomputed from the saved files
        runs = [
            j
            for j in jobs
            if {f"seed={seed}", "loss=circle"}
            <= set(yaml.safe_load((j / ".hydra" / "overrides.yaml").read_text()))
        ]
        runs.sort(key=lambda j: json.loads((j / "split.json").read_text())["fold"])
        parts = [np.load(j / "test_embeddings.npy") for j in runs]
        parts = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts]
        labels = np.load(runs[0] / "test_labels.npy")
        concat.append(retrieval_metrics(np.concatenate(parts, axis=1), labels)["map@r"])
    row = got[("loss=circle", "concatenated", "map@r")]
    assert len(runs) == 2 and float(row["mean"]) == pytest.approx(np.mean(concat))
    paired = read_csv(sweep / "paired.csv")
    assert {r["view"] for r in paired} == {
        "separated",
        "concatenated",
        "concatenated_class_bootstrap",
        "validation",  # each loss against the best on the val/map@r each run was chosen on
    }


@pytest.mark.slow
def test_optuna_search_under_kfold_optimises_the_mean_over_folds(tmp_path, monkeypatch):
    from metriclab.runs.compare import best_from_logs

    sweep = tmp_path / "search"
    hydra_main(
        monkeypatch,
        "-m",
        "hparams_search=optuna",
        "protocol=kfold",
        "protocol.folds=2",
        "hydra.sweeper.n_trials=2",
        *TINY_GLYPHS,
        f"hydra.sweep.dir={sweep}",
    )
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    assert len(jobs) == 2
    for job in jobs:
        status = json.loads((job / "status.json").read_text())
        assert "protocol.fold=all" in status["overrides"]  # a trial is not a fold
        assert status["optimized_metric"] == "val/map@r"
        folds = [best_from_logs(job / f"fold_{p}", "val/map@r") for p in (0, 1)]
        assert status["value"] == pytest.approx(np.mean(folds))
        for p in (0, 1):  # each fold a run of its own; the test classes not touched
            assert (job / f"fold_{p}" / ".hydra" / "config.yaml").is_file()
            assert not (job / f"fold_{p}" / "test_embeddings.npy").exists()
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert "protocol.fold" not in results["best_params"]
    values = [json.loads((j / "status.json").read_text())["value"] for j in jobs]
    assert results["best_value"] == pytest.approx(max(values))


def test_method_labels_name_the_baseline_without_overrides_of_its_own():
    base = (("data.root", "/d"),)
    lite1 = base + (("backbone", "efficientnet_lite1"),)
    labels = rc.method_labels([base, lite1])
    assert labels == {base: "(shared overrides only)", lite1: "backbone=efficientnet_lite1"}
    assert rc.method_labels([base]) == {base: "(all runs)"}
