"""The reality-check report of a sweep over folds and seeds (``python scripts/report.py DIR``).

"A Metric Learning Reality Check" (Musgrave, Belongie & Lim, ECCV 2020) compares methods over
class-disjoint folds and seeds, with an interval on every number. Under ``DIR`` each run directory
holds ``metrics.json`` and ``metrics_untrained.json``, and (``callbacks.test_outputs``)
``test_embeddings.npy``, ``test_labels.npy`` and ``split.json``. Runs are grouped into *methods*
by every command-line override except ``protocol.fold`` and ``seed``. Two views:

- ``separated``: each run's own test metrics (``metrics.json``); one value per (seed, fold);
- ``concatenated``: for one seed, the L2-normalised test embeddings of its ``k`` fold models
  concatenated into one ``k * D`` vector, and the metrics recomputed with
  :func:`metriclab.metrics.retrieval_metrics` (test classes as queries and gallery, each query's
  own image excluded); one value per seed, only for seeds with every fold.

Metrics: ``precision@1`` (= R@1), ``r_precision``, ``map@r`` (the headline); ``untrained`` is the
untrained model's ``metrics_untrained.json``, one value per seed (separated view only: its
embeddings are not saved). Statistics, with ``n`` values ``x_i``:

- mean and 95 % Student-t interval ``mean +- t_{0.975, n-1} * s / sqrt(n)``
  (``scipy.stats.t.interval``); ``n = 1``: no interval (shown ``n=1``);
- every method against the best one (highest mean) of the same view and metric, paired by
  (seed, fold) (by seed for ``concatenated``): ``d_i = method_i - best_i``, its mean, 95 % t
  interval and the paired t-test p-value (``scipy.stats.ttest_rel``);
- for ``concatenated`` also a bootstrap interval over **test classes** (view
  ``concatenated_class_bootstrap``): the test classes are resampled with replacement (images of one
  class are not independent), the per-query metrics of the drawn classes averaged (each with its
  multiplicity; the neighbours stay those of the full test set) for each seed, the difference
  averaged over seeds; 2.5 / 97.5 percentiles of :data:`BOOTSTRAP_SAMPLES` resamples
  (``numpy.random.default_rng(0)``).

A method is *not significantly worse* than the best (marked ``†``) when the paired test has
``p >= 0.05`` or cannot be made (fewer than 2 pairs), and, for ``concatenated``, the class
bootstrap interval also contains 0.

What to choose on: ``validation.csv`` (``method,metric,mean,ci_low,ci_high,n``) and the first
table of ``reality_check.md`` hold each method's validation score, the value every run was chosen
on (``status.json``: its ``optimized_metric`` at the best epoch, ``val/map@r`` under
``protocol=kfold``), mean and 95 % t interval over (seed, fold). A recipe is chosen there; the
test tables are read once, for the chosen method.

Written into ``DIR``: ``reality_check.md``, ``.csv`` (``method,view,metric,mean,ci_low,ci_high,n``),
``.tex``, ``.png`` (MAP@R and P@1 per method with interval whiskers) and ``paired.csv``
(``method,baseline,view,metric,mean_diff,ci_low,ci_high,p_value,n``).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metriclab.errors import ConfigError
from metriclab.metrics import retrieval_metrics
from metriclab.metrics.formulas import (
    average_precision_at_r,
    neighbour_hits,
    r_precision,
    relevant_counts,
)
from metriclab.pictures.report_charts import interval_chart
from metriclab.runs.found import SKIPPED, find_runs, load
from metriclab.search.knn import nearest_neighbors

METRICS = ("precision@1", "r_precision", "map@r")
NAMES = {"precision@1": "P@1", "r_precision": "R-precision", "map@r": "MAP@R"}
VIEWS = ("separated", "concatenated")
GROUPING_EXCLUDED = ("protocol.fold", "seed")
BOOTSTRAP_SAMPLES = 1000
ALPHA = 0.05
SUMMARY_COLUMNS = ["method", "view", "metric", "mean", "ci_low", "ci_high", "n"]
VALIDATION_COLUMNS = ["method", "metric", "mean", "ci_low", "ci_high", "n"]
PAIRED_COLUMNS = [
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


# ---------------------------------------------------------------------------- statistics
def mean_interval(values: list[float] | np.ndarray) -> tuple[float, float | None, float | None]:
    """``(mean, ci_low, ci_high)``: the 95 % Student-t interval of the mean of ``values``
    (``scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=s / sqrt(n))``); ``n = 1`` gives no
    interval (``None``), equal values a zero-width one."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, None, None
    sem = float(x.std(ddof=1) / math.sqrt(len(x)))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(1 - ALPHA, len(x) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def paired_test(
    method: list[float] | np.ndarray, best: list[float] | np.ndarray
) -> tuple[float, float | None, float | None, float | None]:
    """``(mean_diff, ci_low, ci_high, p_value)`` of ``d = method - best`` (pairs in order): the
    t interval of the mean difference and ``scipy.stats.ttest_rel``'s two-sided p (``None``
    with fewer than 2 pairs; ``1.0`` when every difference is 0)."""
    from scipy import stats

    a, b = np.asarray(method, dtype=np.float64), np.asarray(best, dtype=np.float64)
    mean, low, high = mean_interval(a - b)
    if len(a) < 2:
        return mean, None, None, None
    if np.all(a - b == 0):
        return mean, low, high, 1.0
    return mean, low, high, float(stats.ttest_rel(a, b).pvalue)


def interval_row(by_key: dict[Any, float], **ids: Any) -> dict[str, Any]:
    """``ids`` with the mean, 95 % t interval and count of ``by_key``'s values: a summary or
    validation row."""
    mean, low, high = mean_interval(list(by_key.values()))
    return {**ids, "mean": mean, "ci_low": low, "ci_high": high, "n": len(by_key)}


def paired_row(mine: dict[Any, float], best: dict[Any, float], **ids: Any) -> dict[str, Any] | None:
    """``ids`` with :func:`paired_test` of ``mine - best`` over the keys ((seed, fold), or
    (seed,)) both have: a ``paired.csv`` row; ``None`` when they share none."""
    keys = sorted(set(mine) & set(best), key=str)
    if not keys:
        return None
    diff, low, high, p = paired_test([mine[k] for k in keys], [best[k] for k in keys])
    return {**ids, "mean_diff": diff, "ci_low": low, "ci_high": high, "p_value": p, "n": len(keys)}


def class_sums(values: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``[C, 2]``: per class of ``classes``, the sum of ``values`` over its queries and their
    count."""
    pos = np.searchsorted(classes, labels)
    sums = np.bincount(pos, weights=values, minlength=len(classes))
    counts = np.bincount(pos, minlength=len(classes)).astype(np.float64)
    return np.stack([sums, counts], axis=1)


def class_bootstrap(
    method: list[tuple[np.ndarray, np.ndarray]],
    best: list[tuple[np.ndarray, np.ndarray]],
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(observed_diff, ci_low, ci_high)`` of the mean over seeds of ``metric(method) -
    metric(best)``, test classes resampled with replacement.

    Args:
        method, best: one ``(per_query_values [Q], query_labels [Q])`` per seed, the same seeds in
            the same order (the labels of a seed equal in both).
        samples: bootstrap resamples ``B``; ``seed`` seeds ``numpy.random.default_rng``.

    A resample draws ``C`` classes uniformly with replacement; with ``m_c`` the times class ``c``
    was drawn, a seed's metric is ``sum_c m_c S_c / sum_c m_c n_c`` (``S_c``: the sum of the
    class's per-query values, ``n_c``: its queries). The interval is the 2.5 / 97.5 percentiles.
    """
    classes = np.unique(np.concatenate([labels for _, labels in method]))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(classes), size=(samples, len(classes)))
    multiplicity = np.stack([np.bincount(d, minlength=len(classes)) for d in draws])
    observed, boot = 0.0, np.zeros(samples)
    for (mv, ml), (bv, bl) in zip(method, best, strict=True):
        m, b = class_sums(mv, ml, classes), class_sums(bv, bl, classes)
        observed += m[:, 0].sum() / m[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum()
        boot += (multiplicity @ m[:, 0]) / (multiplicity @ m[:, 1])
        boot -= (multiplicity @ b[:, 0]) / (multiplicity @ b[:, 1])
    observed, boot = observed / len(method), boot / len(method)
    low, high = np.percentile(boot, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(observed), float(low), float(high)


# ---------------------------------------------------------------------------- embeddings
def per_query_metrics(
    embeddings: np.ndarray,
    labels: np.ndarray,
    gallery: np.ndarray | None = None,
    gallery_labels: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-query ``precision@1``, ``r_precision`` and ``map@r`` (``[Q]`` each, queries with
    ``R_i > 0`` only) and their ``labels``, computed exactly as
    :func:`metriclab.metrics.retrieval_metrics` does (the query set as gallery, each query's
    own item excluded, unless ``gallery`` is given); their means are its values."""
    import torch

    from metriclab.distances.base import l2_normalize
    from metriclab.search.inputs import as_embeddings, as_labels

    x = as_embeddings(embeddings, "embeddings")
    y = as_labels(labels, x.shape[0], "labels")
    self_mode = gallery is None
    g, gy = x, y
    if not self_mode:
        g = as_embeddings(gallery, "gallery")
        gy = as_labels(gallery_labels, g.shape[0], "gallery_labels")
    r = relevant_counts(y, gy, exclude_self=self_mode)
    rows = np.flatnonzero(r > 0)
    k = max(1, int(r[rows].max()))
    g = l2_normalize(torch.as_tensor(g))
    x = g if self_mode else l2_normalize(torch.as_tensor(x))
    found: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    for start, idx in nearest_neighbors(x, g, k, query_rows=rows, exclude_self=self_mode):
        chunk = rows[start : start + len(idx)]
        hits = neighbour_hits(gy[idx], y[chunk])
        found["precision@1"].append(hits[:, 0].astype(np.float64))
        found["r_precision"].append(r_precision(hits, r[chunk]))
        found["map@r"].append(average_precision_at_r(hits, r[chunk]))
    out = {m: np.concatenate(v) for m, v in found.items()}
    out["labels"] = y[rows]
    return out


def concatenated(runs: list[Run], name: str = "test") -> tuple[np.ndarray, np.ndarray] | None:
    """``([N, k*D], [N])``: the L2-normalised ``<name>_embeddings.npy`` of ``runs`` (one seed's
    folds, in fold order) side by side, and the shared labels (``None``: no such files; ``name``
    ``test_gallery`` for query/gallery data sets). Refuses runs whose test rows differ."""
    parts, labels = [], None
    for run in sorted(runs, key=lambda r: r.fold or 0):
        if not (run.path / f"{name}_embeddings.npy").is_file():
            return None
        emb = np.load(run.path / f"{name}_embeddings.npy").astype(np.float32)
        lab = np.load(run.path / f"{name}_labels.npy")
        if labels is not None and not np.array_equal(lab, labels):
            raise ConfigError(
                f"error: {run.path} has other test rows than its seed's other folds; "
                "the concatenated view needs the same test split in every fold"
            )
        labels = lab
        parts.append(emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12))
    return np.concatenate(parts, axis=1), labels


# ---------------------------------------------------------------------------- runs
@dataclass
class Run:
    """One run directory of the sweep."""

    path: Path
    method: tuple[tuple[str, str], ...]
    seed: int
    fold: int | None
    folds: int | None
    status: str
    metrics: dict[str, float]
    untrained: dict[str, float]
    data: tuple[Any, ...]
    test_classes: tuple[int, ...] | None = None
    has_embeddings: bool = False
    validation: tuple[str, float] | None = None  # (optimized_metric, its best value)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        """Tested, or untested with the validation score it was chosen on (a search on the
        folds, ``test=false``)."""
        return bool(self.metrics) or self.validation is not None


def read_runs(root: Path) -> list[Run]:
    """Every run under ``root`` with its method (overrides but ``protocol.fold`` and ``seed``),
    seed, fold and files."""
    runs = []
    for path in find_runs(root):
        config = load(path / ".hydra" / "config.yaml", {}) or {}
        overrides = []
        for text in load(path / ".hydra" / "overrides.yaml", []) or []:
            key, _, value = str(text).lstrip("+~").partition("=")
            if not key.startswith(SKIPPED) and key not in GROUPING_EXCLUDED:
                overrides.append((key, value))
        protocol = config.get("protocol") or {}
        kfold = protocol.get("name") == "kfold"
        if kfold and not str(protocol.get("fold")).isdigit():
            continue  # protocol.fold=all: a search job; its folds are runs of their own
        record = load(path / "status.json", {}) or {}
        status = record.get("status")
        chosen_on = record.get("optimized_metric"), record.get("value")
        metrics = load(path / "metrics.json", {}) or {}
        split = load(path / "split.json", {}) or {}
        data = config.get("data") or {}
        test = split.get("test")
        runs.append(
            Run(
                path=path,
                method=tuple(sorted(overrides)),
                seed=int(config.get("seed", 0)),
                fold=int(protocol.get("fold", 0)) if kfold else None,
                folds=int(protocol.get("folds", 0)) if kfold else None,
                status=status or ("completed" if metrics else "unknown"),
                metrics={k[5:]: float(v) for k, v in metrics.items() if k.startswith("test/")},
                untrained={
                    k[5:]: float(v)
                    for k, v in (load(path / "metrics_untrained.json", {}) or {}).items()
                    if k.startswith("test/")
                },
                data=(data.get("name"), str(data.get("root"))),
                test_classes=tuple(test) if test is not None else None,
                has_embeddings=(path / "test_embeddings.npy").is_file(),
                validation=chosen_on if isinstance(chosen_on[1], int | float) else None,
            )
        )
    return runs


def applies(root: Path) -> bool:
    """Whether ``root`` holds runs of ``protocol=kfold`` or several seeds of one method (tested,
    or untested with the validation score they were chosen on: a search on the folds)."""
    runs = [r for r in read_runs(root) if r.scored]
    if any(r.fold is not None for r in runs):
        return True
    seeds = defaultdict(set)
    for run in runs:
        seeds[run.method].add(run.seed)
    return any(len(s) > 1 for s in seeds.values())


def check_comparable(runs: list[Run]) -> None:
    """Refuse runs of different data sets or test splits (one line)."""
    data = {r.data for r in runs}
    if len(data) > 1:
        seen = ", ".join(f"data={d[0]} root={d[1]}" for d in sorted(data, key=str))
        raise ConfigError(
            f"error: the runs use different data sets ({seen}); a reality check compares "
            "methods on one data set: report each sweep directory on its own"
        )
    tests = {r.test_classes for r in runs if r.test_classes is not None}
    if len(tests) > 1:
        raise ConfigError(
            f"error: the runs test on {len(tests)} different test splits (split.json 'test'); "
            "methods are compared on one test split: report each sweep directory on its own"
        )


def method_labels(methods: list[tuple]) -> dict[tuple, str]:
    """A short label per method: the overrides that differ between methods; a method with none
    of its own (the baseline the others override) reads ``(shared overrides only)``."""
    shared = set.intersection(*(set(m) for m in methods)) if methods else set()
    alone = "(all runs)" if len(methods) == 1 else "(shared overrides only)"
    labels = {}
    for m in methods:
        own = [f"{k}={v}" for k, v in m if (k, v) not in shared] or [alone]
        labels[m] = " ".join(own)
    return labels


# ---------------------------------------------------------------------------- the report
@dataclass
class Report:
    """What the files show: summary rows, paired rows, notes."""

    summary: list[dict[str, Any]]
    paired: list[dict[str, Any]]
    notes: list[str]
    best: dict[tuple[str, str], str]
    not_worse: set[tuple[str, str, str]]
    validation: list[dict[str, Any]] = field(default_factory=list)


def validation_scores(runs: list[Run], labels: dict[tuple, str]) -> dict[str, dict[str, dict]]:
    """``{metric: {method: {(seed, fold): value}}}``: the validation score each run was chosen
    on (``status.json``)."""
    scores: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for run in runs:
        if run.validation is not None:
            metric, value = run.validation
            scores[str(metric)][labels[run.method]][(run.seed, run.fold)] = float(value)
    return scores


def validation_rows(scores: dict[str, dict[str, dict]]) -> list[dict[str, Any]]:
    """Per method: the mean and 95 % t interval over (seed, fold) of the validation score each
    run was chosen on, highest first: what a recipe is chosen on."""
    rows = [
        interval_row(found, method=name, metric=metric)
        for metric, by_method in scores.items()
        for name, found in by_method.items()
    ]
    return sorted(rows, key=lambda r: (r["metric"], -r["mean"]))


def validation_paired(
    scores: dict[str, dict[str, dict]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per validation metric: each method against the one with the highest mean (``rows``,
    :func:`validation_rows`), a paired t-test over the (seed, fold) pairs both have (view
    ``validation``)."""
    paired = []
    for metric, by_method in scores.items():
        top = next(r["method"] for r in rows if r["metric"] == metric)
        best = by_method[top]
        for name, mine in by_method.items():
            if name == top:
                continue
            ids = dict(method=name, baseline=top, view="validation", metric=metric)
            row = paired_row(mine, best, **ids)
            if row is not None:
                paired.append(row)
    return paired


def build_report(root: Path) -> Report:
    """Read the runs under ``root`` and compute every row (see the module docstring)."""
    all_runs = read_runs(root)
    if not all_runs:
        raise ConfigError(f"error: no run under {root} (a run has .hydra/config.yaml)")
    check_comparable(all_runs)
    notes: list[str] = []
    unfinished = [r for r in all_runs if r.status != "completed" or not r.scored]
    if unfinished:
        states = ", ".join(f"{r.path.relative_to(root)} ({r.status})" for r in unfinished)
        notes.append(
            f"PARTIAL: {len(all_runs) - len(unfinished)} of {len(all_runs)} runs finished; "
            f"left out: {states}"
        )
    runs = [r for r in all_runs if r not in unfinished]
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in all_runs:
        groups.setdefault(run.method, [])
    for run in runs:
        groups[run.method].append(run)
    labels = method_labels(list(groups))
    shared = set.intersection(*(set(m) for m in groups))
    if shared:
        notes.append("shared overrides: " + " ".join(f"`{k}={v}`" for k, v in sorted(shared)))
    values: dict[tuple[str, str, str], dict[tuple, float]] = defaultdict(dict)
    per_query: dict[tuple[str, str], dict[int, dict[str, np.ndarray]]] = defaultdict(dict)
    for method, members in groups.items():
        name = labels[method]
        folds = {r.folds for r in all_runs if r.method == method and r.folds}
        seeds = sorted({r.seed for r in all_runs if r.method == method})
        if not any(r.metrics for r in members):
            continue  # not tested (test=false: a search on the validation folds)
        for run in members:
            for metric in METRICS:
                if metric in run.metrics:
                    values[(name, "separated", metric)][(run.seed, run.fold)] = run.metrics[metric]
        for k in folds:
            for seed in seeds:
                have = {r.fold: r for r in members if r.seed == seed}
                missing = [p for p in range(k) if p not in have]
                if missing:
                    notes.append(
                        f"{name}: seed {seed} misses fold(s) {', '.join(map(str, missing))} "
                        f"of {k}; its concatenated view is left out"
                    )
                    continue
                if not all(r.has_embeddings for r in have.values()):
                    notes.append(
                        f"{name}: seed {seed} has no test_embeddings.npy in every fold; "
                        "its concatenated view is left out"
                    )
                    continue
                emb, lab = concatenated(list(have.values()))
                gallery = concatenated(list(have.values()), "test_gallery") or (None, None)
                found = retrieval_metrics(emb, lab, *gallery, ks=(1,))
                for metric in METRICS:
                    values[(name, "concatenated", metric)][(seed,)] = found[metric]
                per_query[(name, "concatenated")][seed] = per_query_metrics(emb, lab, *gallery)
    untrained: dict[int, dict[str, float]] = {}
    for run in runs:
        if run.untrained and run.seed not in untrained:
            untrained[run.seed] = run.untrained
    for seed, found in untrained.items():
        for metric in METRICS:
            if metric in found:
                values[("untrained", "separated", metric)][(seed,)] = found[metric]

    summary = [
        interval_row(by_key, method=name, view=view, metric=metric)
        for (name, view, metric), by_key in values.items()
    ]
    best: dict[tuple[str, str], str] = {}
    for view in VIEWS:
        for metric in METRICS:
            rows = [
                r
                for r in summary
                if r["view"] == view and r["metric"] == metric and r["method"] != "untrained"
            ]
            if rows:
                best[(view, metric)] = max(rows, key=lambda r: r["mean"])["method"]
    paired, not_worse = [], set()
    for (view, metric), top in best.items():
        reference = values[(top, view, metric)]
        for name in dict.fromkeys(labels.values()):
            if name == top or (name, view, metric) not in values:
                continue
            mine = values[(name, view, metric)]
            ids = dict(method=name, baseline=top, view=view, metric=metric)
            row = paired_row(mine, reference, **ids)
            if row is None:
                continue
            paired.append(row)
            p, diff = row["p_value"], row["mean_diff"]
            worse = p is not None and p < ALPHA and diff < 0
            if view == "concatenated":
                seeds = sorted(k[0] for k in mine if k in reference)
                pq_m, pq_b = per_query[(name, view)], per_query[(top, view)]
                obs, blow, bhigh = class_bootstrap(
                    [(pq_m[s][metric], pq_m[s]["labels"]) for s in seeds],
                    [(pq_b[s][metric], pq_b[s]["labels"]) for s in seeds],
                )
                classes = len(np.unique(pq_m[seeds[0]]["labels"]))
                paired.append(
                    dict(method=name, baseline=top, view="concatenated_class_bootstrap")
                    | dict(metric=metric, mean_diff=obs, ci_low=blow, ci_high=bhigh)
                    | dict(p_value=None, n=classes)
                )
                worse = worse or bhigh < 0
            if not worse:
                not_worse.add((name, view, metric))
    order = {name: i for i, name in enumerate(dict.fromkeys(labels.values()))}
    order["untrained"] = len(order)
    summary.sort(key=lambda r: (VIEWS.index(r["view"]), order[r["method"]], r["metric"]))
    scores = validation_scores(runs, labels)
    validation = validation_rows(scores)
    paired += validation_paired(scores, validation)
    return Report(summary, paired, notes, best, not_worse, validation)


def fmt(value: float | None, digits: int = 4) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def cell(row: dict[str, Any]) -> str:
    """``0.5123 [0.5011, 0.5235] (n=8)``, or ``0.5123 (n=1)``."""
    if row["ci_low"] is None:
        return f"{row['mean']:.4f} (n={row['n']})"
    return f"{row['mean']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}] (n={row['n']})"


def markdown(root: Path, report: Report) -> str:
    lines = [f"# Reality check of `{root}`", ""]
    lines += [f"- {note}" for note in report.notes]
    lines += [
        "",
        "Mean and 95 % Student-t interval over runs (separated: one value per seed and fold; "
        "concatenated: one per seed). **Bold**: the best method; † : not significantly worse "
        "than it (paired t-test p >= 0.05, and for concatenated the class-bootstrap interval "
        "of the difference contains 0).",
    ]
    if report.validation:
        lines += ["", "## validation: what to choose on", ""]
        lines += ["| method | chosen on | mean [95 % interval] (n) |", "|---|---|---|"]
        lines += [f"| {r['method']} | {r['metric']} | {cell(r)} |" for r in report.validation]
    for view in VIEWS:
        rows = [r for r in report.summary if r["view"] == view]
        if not rows:
            continue
        lines += ["", f"## {view}", "", "| method | " + " | ".join(NAMES.values()) + " |"]
        lines.append("|---" * (len(METRICS) + 1) + "|")
        for name in dict.fromkeys(r["method"] for r in rows):
            cells = []
            for metric in METRICS:
                row = next((r for r in rows if r["method"] == name and r["metric"] == metric), None)
                text = cell(row) if row else ""
                if row and report.best.get((view, metric)) == name:
                    text = f"**{text}**"
                elif (name, view, metric) in report.not_worse:
                    text += " †"
                cells.append(text)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if report.paired:
        lines += ["", "## Against the best (method - best)", ""]
        lines.append("| method | best | view | metric | mean diff | 95 % interval | p | n |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in report.paired:
            interval = "" if r["ci_low"] is None else f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
            lines.append(
                f"| {r['method']} | {r['baseline']} | {r['view']} | "
                f"{NAMES.get(r['metric'], r['metric'])} | "
                f"{r['mean_diff']:+.4f} | {interval} | {fmt(r['p_value'], 3)} | {r['n']} |"
            )
    return "\n".join(lines) + "\n"


def latex(report: Report) -> str:
    """A ``tabular`` per view: mean with its interval half-width, best bold, † not worse."""
    out = []
    for view in VIEWS:
        rows = [r for r in report.summary if r["view"] == view]
        if not rows:
            continue
        out += [f"% {view}", "\\begin{tabular}{l" + "c" * len(METRICS) + "}", "\\hline"]
        out.append("method & " + " & ".join(NAMES.values()) + " \\\\ \\hline")
        for name in dict.fromkeys(r["method"] for r in rows):
            cells = []
            for metric in METRICS:
                row = next((r for r in rows if r["method"] == name and r["metric"] == metric), None)
                if row is None:
                    cells.append("")
                    continue
                text = f"{100 * row['mean']:.2f}"
                if row["ci_low"] is not None:
                    text += f" $\\pm$ {100 * (row['ci_high'] - row['mean']):.2f}"
                else:
                    text += f" (n={row['n']})"
                if report.best.get((view, metric)) == name:
                    text = f"\\textbf{{{text}}}"
                elif (name, view, metric) in report.not_worse:
                    text += "$^\\dagger$"
                cells.append(text)
            escaped = name.replace("_", "\\_")
            out.append(f"{escaped} & " + " & ".join(cells) + " \\\\")
        out += ["\\hline", "\\end{tabular}", ""]
    return "\n".join(out)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in columns])


def write_png(path: Path, report: Report) -> None:
    """MAP@R and P@1 per method (a panel per view and metric), 95 % whiskers; n=1 a bare dot
    (:func:`metriclab.pictures.report_charts.interval_chart`)."""
    panels = [(v, m) for v in VIEWS for m in ("map@r", "precision@1")]
    panels = [p for p in panels if any((r["view"], r["metric"]) == p for r in report.summary)]
    titled = [(v, m, f"{v}: test {NAMES[m]} (95 % interval)") for v, m in panels]
    if titled:  # none when no run was tested (a search on the validation folds)
        interval_chart(path, report.summary, titled, report.best)


def write_reality_check(root: Path, report: Report | None = None) -> Report:
    """Compute (unless ``report`` is given) and write ``reality_check.{md,csv,tex,png}``,
    ``paired.csv`` and ``validation.csv`` into ``root`` (nothing is written when the runs are
    refused)."""
    report = report or build_report(root)
    (root / "reality_check.md").write_text(markdown(root, report), encoding="utf-8")
    write_csv(root / "reality_check.csv", SUMMARY_COLUMNS, report.summary)
    write_csv(root / "paired.csv", PAIRED_COLUMNS, report.paired)
    write_csv(root / "validation.csv", VALIDATION_COLUMNS, report.validation)
    (root / "reality_check.tex").write_text(latex(report), encoding="utf-8")
    write_png(root / "reality_check.png", report)
    return report
