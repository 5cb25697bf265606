"""The house rules a newcomer relies on, checked on the tree itself.

- Packages import only packages below them (:data:`LAYERS`, lowest first), so the import graph
  of ``src/metriclab`` has no upward arrow and no cycle; function-level imports count too.
- No cycle between files either: the graph of file -> the files it imports (at any depth;
  ``from metriclab.x import y`` with ``y`` a submodule imports ``x/y.py``) is acyclic.
- ``pipeline/`` holds only the training loop.
- One name end to end: each ``configs/<group>/<name>.yaml`` builds a ``_target_`` defined in
  ``src/metriclab/<package>/<name>.py`` (or in the family module its package docstring names),
  tested by ``tests/<package>/test_<module>.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "metriclab"

#: Lowest first: a module may import its own package and any package of an earlier layer.
LAYERS = [
    {"errors"},
    {"console", "tuples"},
    {"distances"},
    {"losses"},
    {"miners"},
    {"models"},
    {"data"},
    {"schedulers"},
    {"search"},
    {"metrics"},
    {"recognition"},
    {"pictures"},
    {"runs"},
    {"loggers"},
    {"callbacks"},
    {"module"},
    {"build"},
    {"deployment"},
    {"service"},
    {"pipeline"},
    {"commands"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

#: Config groups -> the package their ``_target_`` lives in.
GROUP_PACKAGES = {
    "backbone": "models",
    "head": "models",
    "data": "data",
    "sampler": "data",
    "loss": "losses",
    "miner": "miners",
    "scheduler": "schedulers",
    "callbacks": "callbacks",
    "logger": "loggers",
    "module": "module",
}

#: Config names built by a module named after their family (said in the package docstring).
FAMILIES = {
    ("backbone", "efficientnet_lite0"): "efficientnet_lite",
    ("backbone", "efficientnet_lite1"): "efficientnet_lite",
    ("backbone", "efficientnet_lite2"): "efficientnet_lite",
    ("backbone", "efficientnet_lite_concat"): "efficientnet_lite",
    **{
        ("backbone", name): "torchvision_backbones"
        for name in ("resnet18", "resnet50", "googlenet", "convnext_tiny", "vit_b_16")
    },
    ("backbone", "efficientnet_b0"): "torchvision_backbones",
    ("backbone", "small_cnn_pooled"): "small_cnn",
    ("data", "cifar10"): "cifar",
    ("data", "cifar100"): "cifar",
    ("sampler", "random"): "samplers",
    ("sampler", "m_per_class"): "samplers",
    ("head", "default"): "head",
    ("module", "default"): "settings",
}


def package_of(module: str) -> str:
    """``metriclab.callbacks.evaluator`` -> ``callbacks``; ``metriclab.build`` -> ``build``."""
    return module.split(".")[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``metriclab`` import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [node.module]
                if node.module != "metriclab"
                else [f"metriclab.{a.name}" for a in node.names]
            )
            found += [(node.lineno, n) for n in names if n.startswith("metriclab.")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("metriclab.")]
    return found


def test_every_package_has_a_layer() -> None:
    tops = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    tops |= {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert tops == set(RANK), f"unplaced: {tops - set(RANK)}, gone: {set(RANK) - tops}"


def test_no_package_imports_one_above_it() -> None:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        here = path.relative_to(SRC).parts[0].removesuffix(".py")
        if here == "__init__":
            continue
        for line, module in imports(path):
            there = package_of(module)
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(SRC)}:{line} {here} -> {there}")
    assert not upward, "\n".join(upward)


def module_file(module: str) -> Path | None:
    """``metriclab.search.knn`` -> ``src/metriclab/search/knn.py`` (a package: its
    ``__init__.py``); ``None`` for a name that is no file of ``src/metriclab``."""
    base = SRC.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def file_imports(path: Path) -> set[Path]:
    """The files of ``src/metriclab`` that ``path`` imports, at any depth (function-level
    imports too). ``from metriclab.x import y`` imports ``x/y.py`` when ``y`` is a submodule,
    else ``x``'s own file; a parent package's ``__init__.py`` is not counted (Python runs it
    first, before the importer, so it cannot close a circle through the importer)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("metriclab"):
                continue
            for alias in node.names:
                target = module_file(f"{node.module}.{alias.name}") or module_file(node.module)
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {module_file(a.name) for a in node.names if a.name.startswith("metriclab")}
    return {f for f in found if f is not None and f != path}


def import_cycle(graph: dict[Path, set[Path]]) -> list[Path]:
    """One cycle of ``graph`` (``[a, b, ..., a]``), or ``[]`` when it has none (depth-first
    search; a node met again while still on the stack closes a cycle)."""
    done: set[Path] = set()
    stack: list[Path] = []
    on_stack: set[Path] = set()

    def visit(node: Path) -> list[Path]:
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_stack:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return []

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def test_import_cycle_finder_sees_a_circle() -> None:
    a, b, c = Path("a.py"), Path("b.py"), Path("c.py")
    assert import_cycle({a: {b}, b: {c}, c: {a}}) == [a, b, c, a]
    assert import_cycle({a: {b, c}, b: {c}, c: set()}) == []


def test_no_import_cycle_between_files() -> None:
    graph = {path: file_imports(path) for path in sorted(SRC.rglob("*.py"))}
    cycle = import_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(str(p.relative_to(SRC)) for p in cycle)


def test_pipeline_holds_only_the_loop() -> None:
    files = sorted(p.name for p in (SRC / "pipeline").glob("*.py"))
    assert len(files) <= 6, files


def group_targets() -> list[tuple[str, str, str]]:
    """``(group, name, target)`` of each metriclab ``_target_`` a group config builds (for
    ``data``, the reader; for ``callbacks``, each entry)."""
    rows = []
    for group in GROUP_PACKAGES:
        for path in sorted((ROOT / "configs" / group).glob("*.yaml")):
            cfg = OmegaConf.load(path)
            if group == "data":
                nodes = {path.stem: cfg.reader}
            elif group in ("callbacks", "logger"):
                nodes = {k: v for k, v in cfg.items() if OmegaConf.is_dict(v)}
            else:
                nodes = {path.stem: cfg}
            for name, node in nodes.items():
                target = str(node.get("_target_", ""))
                if target.startswith("metriclab."):
                    rows.append((group, str(name), target))
    return rows


@pytest.mark.parametrize(("group", "name", "target"), group_targets())
def test_one_name_from_config_to_module_to_test(group: str, name: str, target: str) -> None:
    module = get_object(target).__module__
    package, stem = GROUP_PACKAGES[group], module.rsplit(".", 1)[1]
    assert package_of(module) == package, f"{group}/{name}: {module} is not in metriclab.{package}"
    assert stem == FAMILIES.get((group, name), name), f"{group}/{name} is built in {module}"
    test = ROOT / "tests" / package / f"test_{stem}.py"
    assert test.is_file(), f"{group}/{name}: no {test.relative_to(ROOT)}"
