"""The house rules, checked on the source: import layers, declared dependencies, no private
attributes of other libraries, and run-folder paths spelled only by the Run object."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Repository folder -> the import name it installs as (pyproject [tool.setuptools.package-dir]).
PACKAGES = {"dataigm": "dataigm", "detectors": "dataigm.detectors", "pipelines": "dataigm.pipelines",
            "cards": "dataigm.cards"}

# Lowest first. A module may import its own layer and the layers below it, never one above
# (ARCHITECTURE.md, "Layers"). The CLI is the top layer; every module must be placed.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("dataigm", "dataigm.errors", "dataigm.config", "dataigm.io", "dataigm.resources",
              "dataigm.registry", "dataigm.graph", "dataigm.devices", "dataigm.background", "dataigm.testing")),
    ("model", ("dataigm.taxonomy", "dataigm.prompts", "dataigm.manifest", "dataigm.imageio",
               "dataigm.nudenet_rule", "dataigm.splits", "dataigm.judging", "dataigm.tiny_vocab",
               "dataigm.cards")),
    ("run", ("dataigm.run", "dataigm.store", "dataigm.judge_folder")),
    ("steps", ("dataigm.generators", "dataigm.toyworld", "dataigm.generate", "dataigm.ingest",
               "dataigm.ingest_inputs", "dataigm.curation", "dataigm.export", "dataigm.export_card",
               "dataigm.contact_sheet", "dataigm.publish",
               "dataigm.detectors", "dataigm.preset", "dataigm.evaluation")),
    ("pipelines", ("dataigm.pipelines",)),
    ("cli", ("dataigm.cli", "dataigm.__main__")),
]


def library_modules() -> dict[str, Path]:
    """Every library module by its installed dotted name."""
    out = {}
    for folder, name in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([name, *parts])] = path
    return out


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # The root package places only itself; every other module must be listed.
            if module == prefix or (prefix != "dataigm" and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), index)
    return None if best is None else best[1]


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, lazy ones inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from dataigm import cards` imports the submodule dataigm.cards
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names
                      if f"{target}.{a.name}" in library_modules()]
    return found


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def layer_violations(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        mine = layer_of(module)
        if mine is None:
            problems.append(f"{module}: not placed in any layer (add it to LAYERS and ARCHITECTURE.md)")
            continue
        for line, target in imports_of(path, module):
            if not target.startswith("dataigm"):
                continue
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                problems.append(f"{_shown(path)}:{line}: {module} ({LAYERS[mine][0]}) imports "
                                f"{target} ({LAYERS[theirs][0]}), a higher layer")
    return problems


def test_no_lower_layer_imports_a_higher_one() -> None:
    assert layer_violations(library_modules()) == []


def test_every_module_must_be_placed_in_a_layer(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("import os\n")
    assert layer_violations({"dataigm.stray": stray}) == [
        "dataigm.stray: not placed in any layer (add it to LAYERS and ARCHITECTURE.md)"]


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "io.py"
    bad.write_text("def f():\n    from dataigm.pipelines.build import build\n")
    problems = layer_violations({"dataigm.io": bad})
    assert len(problems) == 1 and "dataigm.io (core) imports dataigm.pipelines.build (pipelines)" in problems[0]
    fine = tmp_path / "build.py"
    fine.write_text("from dataigm.io import atomic_path\n")
    assert layer_violations({"dataigm.pipelines.build": fine}) == []


def test_no_old_top_level_names_are_imported() -> None:
    """`detectors`, `pipelines` and `cards` are installed under dataigm only."""
    pattern = re.compile(r"^\s*(from|import)\s+(detectors|pipelines|cards)\b", re.M)
    offenders = [str(p.relative_to(REPO)) for p in [*library_modules().values(), *REPO.glob("tests/*.py"),
                                                     *REPO.glob("benchmarks/*.py")]
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def _declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    names = {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0] for spec in specs}
    return {n.lower().replace("_", "-") for n in names}


def test_every_direct_import_is_declared_in_pyproject() -> None:
    declared = _declared_distributions()
    providers = metadata.packages_distributions()
    missing = set()
    for module, path in library_modules().items():
        for _, target in imports_of(path, module):
            top = target.split(".")[0]
            if not top or top == "dataigm" or top in sys.stdlib_module_names:
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(top, [])}
            assert dists, f"{path.relative_to(REPO)}: imports '{top}', which no installed distribution provides"
            if not dists & declared:
                missing.add(f"{top} ({', '.join(sorted(dists))}) in {path.relative_to(REPO)}")
    assert not missing, "undeclared direct imports: " + "; ".join(sorted(missing))


def _names_we_define(trees: list[ast.AST]) -> set[str]:
    """Every private name the library itself defines (functions, classes, attributes, globals)."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def test_no_private_attribute_of_another_library() -> None:
    problems = []
    trees = {module: ast.parse(path.read_text(encoding="utf-8")) for module, path in library_modules().items()}
    ours = _names_we_define(list(trees.values()))
    for module, path in library_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                foreign |= {(a.asname or a.name).split(".")[0] for a in node.names if not a.name.startswith("dataigm")}
            elif isinstance(node, ast.ImportFrom) and not node.level and not (node.module or "").startswith("dataigm"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        problems.append(f"{path.relative_to(REPO)}:{node.lineno}: from {node.module} import {a.name}")
                    foreign.add(a.asname or a.name)
                if any(part.startswith("_") and not part.startswith("__")
                       for part in (node.module or "").split(".")):
                    problems.append(f"{path.relative_to(REPO)}:{node.lineno}: imports private module {node.module}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            on_module = isinstance(node.value, ast.Name) and node.value.id in foreign
            # Any other object: a private name the library never defines belongs to someone else
            # (e.g. a datasets.Dataset's `_fingerprint`).
            if on_module or node.attr not in ours:
                problems.append(f"{path.relative_to(REPO)}:{node.lineno}: .{node.attr}")
    assert problems == []


# What the Run object (dataigm/run.py) alone may spell: the names of the files and folders of a
# RUN folder, as path literals (an operand of `/`, a part of a string with `/`, or a file name);
# a preset section named `curation` is not a path.
RUN_LAYOUT = ("run.json", "manifest.parquet", "prompts.parquet", "shards", "images", "curation",
              "kept.parquet", "dropped.parquet", "judges", "unlearned", "scores", "forgetting.json",
              "report.html")


@pytest.mark.parametrize("literal", RUN_LAYOUT)
def test_run_folder_paths_are_spelled_only_by_the_run_object(literal: str) -> None:
    offenders = []
    for module, path in library_modules().items():
        if module == "dataigm.run" or module.startswith("dataigm.testing"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        divided = {id(c) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
                   for c in (n.left, n.right)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            value = node.value
            if any(ch.isspace() for ch in value):
                continue  # prose: docstrings and help texts may name files for the reader
            as_path = "/" in value and literal in value.split("/")
            if (value == literal and ("." in literal or id(node) in divided)) or as_path:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {value!r}")
    assert offenders == []
