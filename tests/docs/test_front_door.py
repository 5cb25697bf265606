"""README.md is a front door: at most 200 lines, the two commands, and a link to every page."""

from __future__ import annotations

import re

from config_helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_at_most_200_lines() -> None:
    assert len(README.splitlines()) <= 200


def test_readme_shows_the_two_commands() -> None:
    assert "pip install -e . && python train.py" in README
    assert 'pip install -e ".[dev]" && pytest -q' in README


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)", README))
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from README.md: {sorted(pages - linked)}"
    assert all((ROOT / page).is_file() for page in linked)
