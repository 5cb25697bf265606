"""Every ``python train.py ...`` line in README.md and docs/ composes with Hydra, and every key
in it is one that some part of the program reads (``settings.check_arguments``); every
``python scripts/NAME.py ...`` line of a command (eval, export, retrieve, predict, enroll, frontier,
serve) composes against its primary config ``configs/NAME.yaml`` the way the script does
(:mod:`metriclab.commands.app`): known keys, values of the defaults' types, and the overrides of a
reopened run's config composing with ``configs/train.yaml``.

A documented command that names a missing option or key, or a value Hydra cannot take, fails
here the day it breaks. Sweep values (``loss=a,b``) are checked one by one; ``hydra.*`` and
``hydra/*`` settings are Hydra's own and left to it.
"""

from __future__ import annotations

import os
import re
import shlex

import pytest
from config_helpers import CONFIGS, ROOT, compose_config

from metriclab.commands import app
from metriclab.commands.arguments import check_arguments
from metriclab.commands.train import null_groups_deleted, unknown_group_option, unknown_setting

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"(?:python3? |torchrun [^`]*?)train\.py(?P<args>[^`\n#|]*)")


def documented_lines() -> list[tuple[str, str]]:
    """``(where, line)`` of every line on the pages (continuation lines joined), leaving out the
    shown mistakes (``$ ...``, with the error line below them)."""
    found = []
    for page in PAGES:
        text = page.read_text().replace("\\\n", " ")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.startswith("$ "):
                found.append((f"{page.name}:{number}", line))
    return found


def split_args(text: str) -> list[str] | None:
    """``text`` split as the shell would, or ``None`` when it is not a whole command."""
    try:
        return shlex.split(text)
    except ValueError:
        return None


def documented_commands() -> list[tuple[str, list[str]]]:
    """``(where, args)`` of every ``train.py`` command on the pages."""
    return [
        (where, args)
        for where, line in documented_lines()
        for match in COMMAND.finditer(line)
        if (args := split_args(match["args"])) is not None
    ]


COMMANDS = documented_commands()


def test_the_pages_document_commands():
    assert len(COMMANDS) >= 20


def shell_expanded(arg: str) -> str:
    """``arg`` as bash passes it: ``key=~/x`` and ``$VAR`` expanded."""
    key, sep, value = arg.partition("=")
    if sep and value.startswith("~"):
        value = os.path.expanduser(value)
    return os.path.expandvars(f"{key}{sep}{value}")


def expand(args: list[str]) -> list[list[str]]:
    """One argument list per value of each sweep (``loss=a,b`` -> ``loss=a`` and ``loss=b``)."""
    plain = [shell_expanded(a) for a in args if not a.startswith(("-", "hydra"))]
    runs: list[list[str]] = [[]]
    for arg in plain:
        key, _, value = arg.partition("=")
        values = value.split(",") if "," in value and "[" not in value else [value]
        runs = [[*run, f"{key}={v}"] for run in runs for v in values]
    return runs


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_composes(where, args):
    for run in expand(args):
        run = null_groups_deleted(run, CONFIGS)
        assert unknown_group_option(run, CONFIGS) is None, (where, run)
        assert unknown_setting(run, CONFIGS) is None, (where, run)
        cfg = compose_config(run)  # Hydra itself: types, interpolations, group packages
        check_arguments(cfg)  # every key read by some part (+keys, moved keys, types)


SCRIPT = re.compile(
    r"python3? scripts/(?P<name>eval|export|retrieve|predict|enroll|frontier|serve)\.py"
    r"(?P<args>[^`\n#|]*)"
)
#: ``[key=a|b]`` in a usage line: an optional setting, shown with its alternatives.
OPTIONAL = re.compile(r"(?<![=\w])\[([^\[\]]*)\]")


def documented_script_commands() -> list[tuple[str, str, list[str]]]:
    """``(where, command, args)`` of every ``python scripts/<command>.py`` line on the pages
    (``[key=a|b]`` read as ``key=a``)."""
    found = []
    for where, line in documented_lines():
        line = OPTIONAL.sub(lambda m: m[1].split("|")[0], line)
        for match in SCRIPT.finditer(line):
            args = split_args(match["args"])
            if args is not None:
                args = [shell_expanded(a) for a in args if not a.startswith("-")]
                found.append((where, match["name"], args))
    return found


SCRIPT_COMMANDS = documented_script_commands()


def test_the_pages_document_the_other_commands():
    assert {name for _, name, _ in SCRIPT_COMMANDS} == {
        "eval",
        "export",
        "retrieve",
        "predict",
        "enroll",
        "frontier",
        "serve",
    }


@pytest.mark.parametrize(
    ("where", "name", "args"), SCRIPT_COMMANDS, ids=[w for w, _, _ in SCRIPT_COMMANDS]
)
def test_documented_script_command_composes(where, name, args):
    assert app.unknown_setting(name, args) is None, (where, args)
    cfg = app.compose(name, app.gather_run_overrides(name, args))  # Hydra, as the script runs
    options = app.options(cfg, name)  # every value of its default's type
    if options.get(app.RUN_OVERRIDES):  # data.root=DIR: composes with train.py's config
        overrides = null_groups_deleted(list(options[app.RUN_OVERRIDES]), CONFIGS)
        assert unknown_group_option(overrides, CONFIGS) is None, (where, overrides)
        compose_config(overrides)
