"""The floor plan holds: data flows one way through the wings, the imports one reads at the top of a file are the
real ones, and the top level stays a handful of doors (DEVELOPERS.md, "Layout").

Read from the source with `ast`, nothing imported: an arrow A -> B is a `from ... import` of B in A.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "bakeoff"
READERS = ("report", "serve", "tracking")  # read the store; never train
TRAINING = ("engine", "runs")
MAX_TOP_MODULES = 8
MAX_TOP_ROOMS = 24
MAX_LATE_IMPORTS = 15


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported bakeoff module, inside a function?, line) for each own import of the file."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target == "bakeoff" or target.startswith("bakeoff."):
                    for alias in child.names:  # `from . import files` names a module
                        sub = f"{target}.{alias.name}"
                        is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file() or \
                            (PACKAGE.parent / sub.replace(".", "/")).is_dir()
                        found.append((sub if is_module else target, inner, child.lineno))
            visit(child, inner)

    visit(tree, False)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {_module(p): {t for t, late, _ in _imports(p) if not late} for p in SOURCES}


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_circles():
    """Depth-first search for a back edge among top-of-file imports (a package's __init__ counts as a module)."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if t == m or t not in GRAPH:
                continue
            if state.get(t) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in GRAPH:
        if m not in state:
            visit(m)


@pytest.mark.parametrize("wing", READERS)
def test_readers_import_nothing_that_trains(wing):
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _wing(m) == wing
                   for t in targets if _wing(t) in TRAINING)
    late = sorted(f"{_module(p)}:{line} -> {t}" for p in SOURCES if _wing(_module(p)) == wing
                  for t, inner, line in _imports(p) if inner and _wing(t) in TRAINING)
    assert not wrong + late, f"{wing}/ reads the store and must not import engine/ or runs/: {wrong + late}"


def test_config_is_pure():
    """config/ imports nothing of the project heavier than errors and files (no models, no data, no torch)."""
    heavy = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _wing(m) == "config"
                   for t in targets if _wing(t) not in ("config", "errors", "files"))
    assert not heavy


def test_the_top_level_is_a_handful_of_doors():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    rooms = modules + sorted(d.name for d in PACKAGE.iterdir() if d.is_dir() and (d / "__init__.py").is_file())
    assert len(modules) <= MAX_TOP_MODULES, modules
    assert len(rooms) <= MAX_TOP_ROOMS, rooms


def test_late_imports_are_few_and_say_why():
    """An own import inside a function hides an arrow; each one left is for a heavy library, with its reason in a
    comment on the import or on the line above it."""
    late = {}
    for p in SOURCES:
        lines = p.read_text().splitlines()
        for target, inner, line in _imports(p):
            if inner:
                above = line - 2  # a block of late imports may share the comment above its first line
                while above > 0 and lines[above].strip().startswith("from "):
                    above -= 1
                said = "#" in lines[line - 1] or lines[above].strip().startswith("#")
                late[f"{_module(p)}:{line}"] = (f"{_module(p)}:{line} -> {target}", said)
    late = list(late.values())
    assert len(late) <= MAX_LATE_IMPORTS, late
    assert all(said for _, said in late), [where for where, said in late if not said]
