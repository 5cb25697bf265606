"""``python train.py``'s front-end: check the config, then train (:mod:`metriclab.pipeline`).

:func:`run` (what ``train.py``'s ``@hydra.main`` calls) checks the composed config
(:func:`metriclab.commands.arguments.check_arguments`: no key its target would not take), then
trains inside :func:`metriclab.pipeline.sweeps.recorded` (``status.json``; a failing sweep job
fails alone), every fold of ``protocol.fold=all`` in turn.

A user mistake (:class:`~metriclab.errors.ConfigError`, wherever it is raised: in the pipeline, or
inside a constructor that Hydra's ``instantiate`` wraps) is printed as one line
``error: <what was wrong, the value seen, the fix>`` on stderr and the process exits with
status 2; the run directory Hydra made for the refused run is removed, so a refused command
writes nothing. A real bug keeps its traceback (exit status 1). Lightning's start-up chatter is
kept to warnings.

Before Hydra composes anything, :func:`check_command_line` refuses (one line, exit 2) an unknown
``group=option`` and a ``key=value`` whose key the composed config does not have (with the
group's valid keys and the closest one), and turns ``group=null`` into Hydra's ``~group``.

Exit statuses: 0 done; 2 a user mistake (config, data, checkpoint, run directory);
3 a NaN/Inf training loss (``callbacks.nonfinite_loss.policy=stop``); 130 Ctrl-C (SIGINT) and
143 SIGTERM, each with one line naming the last checkpoint and the command that resumes
(``python train.py ckpt_path=RUN_DIR``, :mod:`metriclab.runs.resume`).

A target that cannot be imported (a broken install: ``operator torchvision::nms does not exist``)
is reported by Hydra as ``Error locating target 'X'``; :func:`explain_import_failures` makes that
report one line naming the root cause (exit status 1).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from metriclab.console import quiet_third_party
from metriclab.errors import ConfigError, import_failure_line, user_mistake

EXIT_CONFIG, EXIT_NONFINITE, EXIT_SIGINT, EXIT_SIGTERM = 2, 3, 130, 143
EXIT_BROKEN_IMPORT = 1  # not the user's command: the installation or a module is broken
GROUP_OVERRIDE = re.compile(r"^[+~]{0,2}(?P<group>[\w/]+)(?:@[\w.]+)?=(?P<value>[\w.,-]*)$")
NULL_GROUP = re.compile(r"^(?P<group>[\w/]+)=(?:null|none|None)$")
#: Flags after which Hydra does not run the task (help, config printing, shell completion).
NO_TASK_FLAGS = ("-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "-sc", "--version")


def unknown_group_option(argv: list[str], config_dir: Path) -> str | None:
    """The error line for the first ``group=option`` (or sweep ``group=a,b``) naming no
    ``configs/<group>/<option>.yaml``, listing the available options; ``None`` if all exist."""
    for arg in argv:
        match = GROUP_OVERRIDE.match(arg)
        group_dir = config_dir / match["group"] if match else None
        if group_dir is None or not group_dir.is_dir() or match["group"].startswith("hydra"):
            continue  # hydra/<group> options also come from Hydra's plugins
        for option in match["value"].split(","):
            if option in ("", "null") or (group_dir / f"{option}.yaml").is_file():
                continue
            available = sorted(p.stem for p in group_dir.glob("*.yaml"))
            return (
                f"{match['group']}={option}: no such option in {group_dir}; available: "
                f"{', '.join(available) or '(none)'}"
            )
    return None


def null_groups_deleted(argv: list[str], config_dir: Path) -> list[str]:
    """``group=null`` -> ``~group`` (Hydra itself refuses ``null`` for a defaults-list group)."""
    out = []
    for arg in argv:
        match = NULL_GROUP.match(arg)
        if match and (config_dir / match["group"]).is_dir():
            arg = f"~{match['group']}"
        out.append(arg)
    return out


def unknown_setting(argv: list[str], config_dir: Path) -> str | None:
    """The error line for the first ``key=value`` whose key the composed config lacks.

    Composes ``train.yaml`` with the command line's group choices (a sweep's first value) and
    looks up every plain ``key=value``; ``+key`` (add), ``~key``, ``hydra.*`` and group choices
    are left to Hydra. ``None`` if every key exists.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException

    try:
        overrides = OverridesParser.create().parse_overrides(
            [a for a in argv if not a.startswith("-")]
        )
    except HydraException:
        return None  # Hydra reports its own syntax errors
    groups, keys = [], []
    for override in overrides:
        name = override.key_or_group
        if name.startswith("hydra"):
            continue
        if (config_dir / name).is_dir():
            if override.is_sweep_override():
                first = next(override.sweep_string_iterator(), None)
                if first is None:
                    continue
                groups.append(f"{override.get_key_element()}={first}")
            else:
                groups.append(override.input_line)
        elif override.type == OverrideType.CHANGE:
            keys.append(name)
    if not keys:
        return None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = compose("train", overrides=groups)
    except HydraException:
        return None  # Hydra reports it
    finally:
        GlobalHydra.instance().clear()
    for key in keys:
        found = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=False)
        if found is _ABSENT:  # (an interpolation that cannot resolve yet still exists)
            return missing_key_line(cfg, key)
    return None


_ABSENT = object()


def missing_key_line(cfg: DictConfig, key: str) -> str:
    """``optimizer.lrr: no such setting; optimizer has lr, weight_decay...; did you mean lr?``"""
    from metriclab.commands.arguments import moved_line, moved_to
    from metriclab.errors import closest

    if moved_to(key):
        return moved_line(cfg, key)
    parts = key.split(".")
    parent_path, node = "", cfg
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, DictConfig) else None
        if not isinstance(child, DictConfig):
            parts = parts[: depth + 1]
            break
        parent_path = ".".join(parts[: depth + 1])
        node = child
    name = parts[-1] if parent_path else parts[0]
    valid = [str(k) for k in node.keys() if not str(k).startswith("_")] if node is not None else []
    where = parent_path or "the config"
    hint = closest(name, valid)
    if hint:
        hint = hint.replace(
            "did you mean ", f"did you mean {parent_path + '.' if parent_path else ''}"
        )
    return f"{key}: no such setting in {where}; {where} has {', '.join(valid) or '(nothing)'}{hint}"


def check_command_line(argv: list[str], config_dir: str | Path) -> list[str]:
    """The command line Hydra should see, or exit with one ``error:`` line (status 2) for an
    unknown ``group=option`` or setting, before Hydra prints its multi-line report."""
    from metriclab.runs.resume import resume_command_line

    config_dir = Path(config_dir)
    argv = null_groups_deleted(argv, config_dir)
    try:
        argv = resume_command_line(argv)  # ckpt_path=RUN_DIR / last: the run's own overrides
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    message = unknown_group_option(argv, config_dir)
    if message is None and not any(a in NO_TASK_FLAGS for a in argv):
        message = unknown_setting(argv, config_dir)
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    return argv


def explain_import_failures() -> None:
    """Make Hydra's report of a target that cannot be imported name the root cause.

    Hydra runs the task (and instantiates its own callbacks) inside
    ``hydra._internal.utils.run_and_report``, which prints only the message of a compact
    exception; the wrapper prints the ``error:`` line of :func:`import_failure_line` instead and
    exits with status 1. ``HYDRA_FULL_ERROR=1`` keeps Hydra's own report.
    """
    import hydra._internal.utils as hydra_utils
    from hydra.errors import InstantiationException

    original = hydra_utils.run_and_report
    if getattr(original, "explains_import_failures", False):
        return

    def run_and_report(func):  # noqa: ANN001, ANN202 - Hydra's signature
        def explained():  # noqa: ANN202
            try:
                return func()
            except InstantiationException as exc:
                line = import_failure_line(exc)
                if line is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                    raise
                print(f"error: {line}", file=sys.stderr)
                sys.exit(EXIT_BROKEN_IMPORT)

        return original(explained)

    run_and_report.explains_import_failures = True  # type: ignore[attr-defined]
    hydra_utils.run_and_report = run_and_report


def quiet_lightning() -> None:
    """Keep Lightning's informational messages and FAISS's loader lines off the console."""
    quiet_third_party()


def remove_refused_run_dir(cfg: DictConfig) -> None:
    """Delete the run directory Hydra made for this refused run (and empty parents up to
    ``paths.log_dir``); a directory that existed before (a resume) is kept."""
    from metriclab.runs.run_dir import created_by_this_run

    run_dir = Path(str(cfg.paths.output_dir))
    if not created_by_this_run(run_dir):
        return
    for handler in logging.getLogger().handlers[:]:  # Hydra's train.log handler
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(
            run_dir
        ):
            handler.close()
            logging.getLogger().removeHandler(handler)
    shutil.rmtree(run_dir, ignore_errors=True)
    stop = Path(str(OmegaConf.select(cfg, "paths.log_dir", default=run_dir.parent))).resolve()
    parent = run_dir.parent.resolve()
    while (parent == stop or stop in parent.parents) and not any(parent.iterdir()):
        parent.rmdir()
        if parent == stop:
            break
        parent = parent.parent


def refuse(cfg: DictConfig, mistake: ConfigError) -> None:
    """One ``error:`` line, no run directory left behind, exit status 2."""
    remove_refused_run_dir(cfg)
    print(f"error: {mistake}", file=sys.stderr)
    sys.exit(EXIT_CONFIG)


def run(cfg: DictConfig) -> float | None:
    """Check ``cfg``, run :func:`~metriclab.pipeline.training.train` (each fold of
    ``protocol.fold=all``) recording ``status.json``, and turn a mistake into one line; return
    the optimized metric (for Hydra sweepers such as Optuna)."""
    quiet_lightning()  # before the imports below load FAISS
    from metriclab.callbacks.nonfinite_loss import NonFiniteLossError
    from metriclab.callbacks.preemption import Preempted
    from metriclab.commands.arguments import check_arguments
    from metriclab.pipeline.sweeps import all_folds, recorded, train_every_fold
    from metriclab.pipeline.training import train

    quiet_lightning()  # again: importing Lightning set its loggers back to INFO
    try:
        with recorded(cfg) as metrics:  # status.json; a failed sweep job returns no metric
            check_arguments(cfg)  # every key is read by some part: a typo is never ignored
            if all_folds(cfg):  # protocol.fold=all: every fold, the mean of their metrics
                metrics |= train_every_fold(cfg, train)
            else:
                metrics |= train(cfg)[0]
    except NonFiniteLossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_NONFINITE)
    except Preempted as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_SIGTERM)
    except KeyboardInterrupt:  # Ctrl-C: status.json says "interrupted"; where to resume from
        from metriclab.callbacks.preemption import interrupted_message

        line = interrupted_message(Path(cfg.paths.output_dir), None, "Ctrl-C")
        print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_SIGINT)
    except Exception as exc:
        mistake = user_mistake(exc)
        if mistake is None:
            raise  # a bug: its traceback, exit status 1
        refuse(cfg, mistake)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None
