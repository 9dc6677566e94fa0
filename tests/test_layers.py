"""The layers hold: lint-imports keeps every contract in .importlinter, no import chain inside
the product packages comes back to where it started, the picture of the imports
(docs/architecture.dot) is the code's, and docs/architecture.md names every contract."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kuzet", "edge", "hub", "provisioning")


def lint_imports() -> str:
    path = Path(sys.executable).parent / "lint-imports"
    found = str(path) if path.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: scripts/bootstrap installs the dev extra "
                    "(import-linter)")
    return found


def test_import_linter_keeps_every_contract():
    out = subprocess.run([lint_imports(), "--no-cache", "--config", ".importlinter"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[out.stdout.find("Contracts"):][-8000:] + out.stderr


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) for each group of modules that import one another in a
    ring (a strongly connected component of more than one module, or a module importing
    itself), found with Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                components.append(sorted(component))
    cycles = []
    for component in sorted(components):
        first = component[0]
        if len(component) == 1:
            if graph.direct_import_exists(importer=first, imported=first):
                cycles.append([first, first])
            continue
        nxt = sorted(set(component) & graph.find_modules_directly_imported_by(first))[0]
        back = graph.find_shortest_chain(importer=nxt, imported=first)
        cycles.append([first, *back])
    return cycles


def test_no_import_cycles_in_the_product_packages():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = import_cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_ring_and_nothing_else():
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"),
                               ("p.d", "p.e"), ("p.f", "p.f"), ("p.g", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c", "p.a"], ["p.f", "p.f"]]


def test_the_picture_of_the_imports_is_the_codes():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "architecture-graph"),
                          "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr


def test_the_architecture_doc_names_every_contract():
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    contracts = [s.removeprefix("importlinter:contract:") for s in parser.sections()
                 if s.startswith("importlinter:contract:")]
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert contracts and [c for c in contracts if f"`{c}`" not in doc] == []
