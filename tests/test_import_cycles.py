"""No import cycle among lottery_lab's modules at module level (imports run when a module is
imported: top-level statements, including those under ``try``/``if``, less ``if TYPE_CHECKING``),
found by parsing every file with ``ast`` and looking for strongly connected components."""

import ast
from pathlib import Path

import lottery_lab

ROOT = Path(lottery_lab.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for f in ROOT.rglob("*.py"):
        parts = ["lottery_lab", *f.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _top_level(body):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _top_level(node.orelse)
        elif isinstance(node, (ast.If, ast.Try)):
            for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", []),
                          *[h.body for h in getattr(node, "handlers", [])]):
                yield from _top_level(block)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def _imported(node, pkg: str) -> tuple[str | None, list[str]]:
    """``import a.b`` -> ``(None, ["a.b"])``; ``from .x import y`` inside ``pkg`` -> ``("pkg.x", ["y"])``."""
    if isinstance(node, ast.Import):
        return None, [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
        base = ".".join(up + ([node.module] if node.module else []))
    return base, [a.name for a in node.names]


def _graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in _top_level(ast.parse(f.read_text()).body):
            base, names = _imported(node, pkg)
            deps.update(names if base is None else
                        (f"{base}.{a}" if f"{base}.{a}" in mods else base for a in names))
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(n):
        index[n] = low[n] = len(index)
        stack.append(n)
        on.add(n)
        for w in graph.get(n, ()):
            if w not in index:
                visit(w)
                low[n] = min(low[n], low[w])
            elif w in on:
                low[n] = min(low[n], index[w])
        if low[n] == index[n]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == n:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for n in graph:
        if n not in index:
            visit(n)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_known_edges():
    graph = _graph(_modules())
    assert "lottery_lab.runs" in graph["lottery_lab.lottery"]
    assert "lottery_lab.methods.base" in graph["lottery_lab.methods"]


def test_no_module_level_import_cycle():
    assert _cycles(_graph(_modules())) == []


def _all_imports(f: Path) -> list:
    return [n for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _package_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Every import (deferred ones inside functions too), each module collapsed to its top-level unit
    of lottery_lab (``lottery_lab.convex.bounds`` -> ``lottery_lab.convex``)."""
    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in _all_imports(f):
            base, names = _imported(node, pkg)
            deps.update(names if base is None else [base, *(f"{base}.{a}" for a in names)])
        graph.setdefault(unit(name), set()).update(
            unit(d) for d in deps if d.startswith("lottery_lab.") and unit(d) != unit(name))
    return graph


def test_the_package_graph_sees_deferred_imports():
    graph = _package_graph(_modules())
    assert "lottery_lab.plots" in graph["lottery_lab.cli"]  # imported inside a function


def test_no_lottery_runs_or_convex_plots_cycle_even_through_deferred_imports():
    graph = _package_graph(_modules())
    assert "lottery_lab.lottery" not in graph["lottery_lab.runs"]
    assert "lottery_lab.plots" not in graph["lottery_lab.convex"]


def test_no_package_level_cycle_even_through_deferred_imports():
    assert _cycles(_package_graph(_modules())) == []


def test_every_public_module_is_an_attribute_of_the_package():
    import subprocess
    import sys

    names = sorted({n.split(".")[1] for n in _modules() if n.count(".") >= 1 and not n.split(".")[1].startswith("_")
                    and n.split(".")[1] not in {"__main__"}})
    code = f"import lottery_lab\nfor n in {names!r}:\n    assert getattr(lottery_lab, n).__name__ == 'lottery_lab.' + n, n\n"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "compare" in names
