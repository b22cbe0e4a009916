"""The house has four floors, each importing only from those below: bot/ (the runtime) over
handlers/ (the domain) over storage/ over core/ (the ground). Imports inside functions count, and
no modules import each other in a circle (a local import that dodges one is still one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {"core": 0, "storage": 1, "handlers": 2, "bot": 3}


def modules() -> dict[str, Path]:
    out = {}
    for package in FLOORS:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from handlers.office import links" imports the module handlers.office.links
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]  # importlib.import_module("bot.app") counts too
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in FLOORS:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {mod: imports(path, known) - {mod} for mod, path in known.items()}


def floor(module: str) -> int:
    return FLOORS[module.split(".")[0]]


def test_no_floor_imports_a_higher_one():
    upward = sorted(f"{mod} imports {target}" for mod, targets in graph().items() for target in targets
                    if floor(target) > floor(mod))
    assert upward == []


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_modules_import_each_other_in_a_circle():
    edges = graph()
    # Each circle with the imports that make it, so the one to cut can be seen at once.
    found = [sorted(f"{a} imports {b}" for a in circle for b in edges[a] if b in circle)
             for circle in circles(edges)]
    assert found == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    fake = tmp_path / "_layer_probe.py"  # not in tests/: test runs going on at once would share it
    assert imports(Path(__file__), modules()) == set()
    fake.write_text("import importlib\n\ndef f():\n    from bot.app import App\n    importlib.import_module('bot.cli')\n",
                    encoding="utf-8")
    assert imports(fake, modules()) == {"bot.app", "bot.cli"}


def test_handlers_never_read_the_runtimes_clock_or_call_the_outbox():
    """They say what they send through their context (handlers/context.py is that context) and get
    the time from it, or from the job's or the route's `now`."""
    offenders = []
    for path in (ROOT / "handlers").rglob("*.py"):
        if path.name == "context.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("clock.now(", "storage.outbox", "from storage import outbox", "queue_to_"):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []
