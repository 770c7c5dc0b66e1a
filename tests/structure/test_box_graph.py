"""No import cycle between the package's parts (its sub-packages, the boxes, and its leaf modules): each box can be
read, tested and replaced with only what it imports below it.

The graph comes from the code itself: every import statement at any depth (inside functions too), relative ones
resolved, and every string literal that names a module of the package in full (what ``importlib.import_module``
is given)."""
from __future__ import annotations

import ast
from pathlib import Path

import osm_l2sm

PACKAGE = Path(osm_l2sm.__file__).resolve().parent
Graph = dict[str, dict[str, list[str]]]  # part -> part it uses -> the files of the first part that use it


def _part(root: Path, dotted: str) -> str | None:
    """The top-level part of the package ``dotted`` lies in (``osm_l2sm.k8s.target`` -> ``k8s``), or None when it
    names nothing in the package."""
    names = dotted.split(".")
    if names[0] != "osm_l2sm" or len(names) < 2:
        return None
    part = names[1]
    return part if (root / f"{part}.py").is_file() or (root / part / "__init__.py").is_file() else None


def _referenced(tree: ast.AST, package: str) -> set[str]:
    """Dotted names of what a module imports or names as a module in a string (``package``: its own package)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from osm_l2sm import data` names a part
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("osm_l2sm."):
            found.add(node.value)
    return found


def box_graph(root: Path = PACKAGE) -> Graph:
    graph: Graph = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if len(relative.parts) == 1 and relative.name in ("__init__.py", "__main__.py"):
            continue  # the package itself and `python -m osm_l2sm`: above every part
        part = relative.parts[0].removesuffix(".py")
        package = ".".join(("osm_l2sm", *relative.parts[:-1]))
        uses = graph.setdefault(part, {})
        for dotted in _referenced(ast.parse(path.read_text(encoding="utf-8"), str(path)), package):
            other = _part(root, dotted)
            if other and other != part and str(relative) not in uses.setdefault(other, []):
                uses[other].append(str(relative))
    return graph


def tangles(graph: Graph) -> list[list[str]]:
    """The groups of parts that import each other, directly or round a loop (strongly connected, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def describe(graph: Graph, group: list[str]) -> str:
    """The group and every import inside it: the ones to cut are among these."""
    edges = [f"{a} -> {b} ({', '.join(sorted(files))})" for a in group for b, files in sorted(graph[a].items())
             if b in group]
    return f"{', '.join(group)} import each other:\n    " + "\n    ".join(edges)


def test_no_import_cycle_between_the_parts_of_the_package():
    graph = box_graph()
    assert {"controller", "switch", "cni", "k8s", "osm", "sandbox"} <= set(graph), "the package's parts were not found"
    found = tangles(graph)
    assert not found, "import cycles between the package's parts:\n" + "\n".join(describe(graph, g) for g in found)


def test_the_graph_sees_imports_in_functions_relative_imports_and_module_names_in_strings(tmp_path):
    """The checker itself, on a made-up package: a cycle made only of hidden imports is found."""
    root = tmp_path / "osm_l2sm"
    for part in ("a", "b", "c", "d"):
        (root / part).mkdir(parents=True)
        (root / part / "__init__.py").write_text("")
    (root / "leaf.py").write_text("")
    (root / "a" / "x.py").write_text("def late():\n    from osm_l2sm.b import y\n")
    (root / "b" / "y.py").write_text("from .. import c\nfrom . import y\n")
    (root / "c" / "z.py").write_text("import importlib\nMODULE = 'osm_l2sm.a.x'\nimportlib.import_module(MODULE)\n"
                                     "from osm_l2sm import leaf\n")
    (root / "d" / "w.py").write_text("import osm_l2sm.a\n")
    graph = box_graph(root)
    assert tangles(graph) == [["a", "b", "c"]]
    assert graph["c"] == {"a": ["c/z.py"], "leaf": ["c/z.py"]} and graph["d"] == {"a": ["d/w.py"]}
    assert "a -> b (a/x.py)" in describe(graph, ["a", "b", "c"])
