"""The Python layers import one way: no module of the package imports, directly or through
others, a module that imports it back (function-local imports count too)."""

import ast
import os

import pymetallic

PKG = os.path.dirname(pymetallic.__file__)


def import_graph(root):
    pkg = os.path.basename(root)
    mods = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), root)[:-3].replace(os.sep, ".")
                name = pkg if rel == "__init__" else pkg + "." + (rel[:-9] if rel.endswith(".__init__") else rel)
                mods[name] = os.path.join(d, f)
    graph = {}
    for name, path in mods.items():
        base = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        deps = set()
        with open(path) as f:
            tree = ast.parse(f.read())
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                if n.level:
                    parts = base.split(".")
                    parts = parts[: len(parts) - (n.level - 1)]
                    target = ".".join(parts + ([n.module] if n.module else []))
                else:
                    target = n.module or ""
                for a in n.names:
                    deps.add(target + "." + a.name if target + "." + a.name in mods else target)
            elif isinstance(n, ast.Import):
                deps |= {a.name for a in n.names}
        # The package's __init__ gathers everything; an edge into it is not a layer's import.
        graph[name] = {d for d in deps if d in mods and d not in (name, pkg)}
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph(PKG)) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_kernel_module_imports_only_the_extension_and_errors():
    graph = import_graph(PKG)
    assert graph["pymetallic.kernel"] <= {"pymetallic.errors"}
