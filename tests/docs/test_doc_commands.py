"""Every ``python train.py ...`` line in README.md and docs/ composes with Hydra, and every key
in it is one that some part of the program reads (``settings.check_arguments``).

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

from metriclab.commands.arguments import check_arguments
from metriclab.commands.train import null_groups_deleted, unknown_group_option, unknown_setting

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"(?:python3? |torchrun [^`]*?)train\.py(?P<args>[^`\n#|]*)")


def documented_commands() -> list[tuple[str, list[str]]]:
    """``(where, args)`` of every ``train.py`` command on the pages (continuation lines joined)."""
    found = []
    for page in PAGES:
        text = page.read_text().replace("\\\n", " ")
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith("$ "):  # a shown mistake, with its error line below it
                continue
            for match in COMMAND.finditer(line):
                try:
                    args = shlex.split(match["args"])
                except ValueError:
                    continue
                found.append((f"{page.name}:{number}", args))
    return found


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
