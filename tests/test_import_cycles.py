"""No import cycle among asr2emo's modules, deferred (function-level) imports included.

A cycle that a deferred import hides still ties two modules into one unit: neither can be read,
tested or moved alone, and the first module-level import added on either side breaks at import
time. The walk is static (ast), so it covers every module of every subpackage without running
torch, k2 or lhotse.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "pysrc"


def module_files(src: Path, package: str) -> Dict[str, Path]:
    """Every module of ``package`` under ``src``: dotted name -> file (a package's
    ``__init__.py`` under the package's own name)."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(src: Path, package: str) -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports anywhere in its file. Importing ``a.b.c``
    also runs the packages ``a.b``'s ``__init__``: an edge, unless the importer is inside it
    (a submodule importing a sibling re-enters its own package, which is no cycle). The
    top-level package runs for every module and is left out."""
    files = module_files(src, package)
    graph: Dict[str, Set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != package:
                    continue
                for i in range(2, len(parts) + 1):
                    target = ".".join(parts[:i])
                    if target in files and not f"{mod}.".startswith(f"{target}."):
                        graph[mod].add(target)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[Set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[Set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_walk_covers_every_subpackage() -> None:
    graph = import_graph(SRC, "asr2emo")
    packages = {
        ".".join(p.parent.relative_to(SRC).parts) for p in (SRC / "asr2emo").rglob("__init__.py")
    }
    assert packages <= set(graph)
    # every subpackage of the layout is there, nested ones included
    assert {"asr2emo.bin", "asr2emo.emotion", "asr2emo.data.demo", "asr2emo.utils"} <= packages
    assert len(graph) == len(list((SRC / "asr2emo").rglob("*.py")))


def test_no_import_cycle() -> None:
    found = cycles(import_graph(SRC, "asr2emo"))
    assert found == [], f"import cycles: {[sorted(c) for c in found]}"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_walk_finds_planted_cycles_and_only_those(tmp_path: Path) -> None:
    # pkg.a -> pkg.b (deferred) -> pkg.sub (its __init__) -> pkg.sub.c -> pkg.a: one cycle of 4;
    # pkg.sub.d importing its sibling pkg.sub.c re-enters pkg.sub: no edge to pkg.sub, no cycle.
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "a.py", "def f():\n    from pkg import b\n")
    write(tmp_path / "pkg" / "b.py", "import os\nfrom pkg.sub import h\n")
    write(tmp_path / "pkg" / "sub" / "__init__.py", "from pkg.sub.c import h\n")
    write(tmp_path / "pkg" / "sub" / "c.py", "import pkg.a\nh = 1\n")
    write(tmp_path / "pkg" / "sub" / "d.py", "from pkg.sub import c\ng = 2\n")
    write(tmp_path / "pkg" / "e.py", "from pkg.b import g\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.d"] == {"pkg.sub.c"}
    assert cycles(graph) == [{"pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}]
    write(tmp_path / "pkg" / "a.py", "")
    assert cycles(import_graph(tmp_path, "pkg")) == []
