"""The house by stage: every module's imports (at its top and inside functions) go to its own
stage or the stages below it, none runs in a circle, and no file grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: a module may import from its own stage and those before it.
STAGES = ["indexer", "indexer.reading", "indexer.analysis", "indexer.embedding",
          "indexer.storage", "indexer.retrieval", "indexer.building", "indexer.search",
          "indexer.features", "indexer.__init__", "webapp"]
MAX_LINES = 400
MAX_FUNCTION_LINES = 60
DATA_LITERALS = {"webapp/openapi.py"}  # the OpenAPI document: one data literal, kept whole


def modules() -> dict[str, Path]:
    """Every module of the two packages by its dotted name (a package's __init__ by
    "package.__init__")."""
    found = {}
    for path in sorted([*ROOT.glob("indexer/**/*.py"), *ROOT.glob("webapp/**/*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts)] = path
    return found


def stage(module: str) -> int:
    """The rank of the stage a module stands on."""
    if module == "indexer.__init__":
        return STAGES.index("indexer.__init__")
    best = 0
    for rank, name in enumerate(STAGES):
        if module == name or module.startswith(name + "."):
            best = rank if name != "indexer.__init__" else best
    return best


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the two packages that module imports, anywhere in its file."""
    package = module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            target = name if name in known else f"{name}.__init__" if f"{name}.__init__" in \
                known else None
            if target and target != module:
                found.add(target)
    return found


def test_no_import_runs_up_a_stage():
    known = modules()
    wrong = []
    for module, path in known.items():
        for target in imports(module, path, known):
            if target.endswith(".__init__") and target != "indexer.__init__":
                continue  # a stage's package (its docstring): imported for its modules
            if stage(target) > stage(module):
                wrong.append(f"{module} ({STAGES[stage(module)]}) imports {target} "
                             f"({STAGES[stage(target)]})")
    assert not wrong, "\n".join(wrong)


def test_no_circle_of_imports():
    known = modules()
    graph = {m: {t for t in imports(m, p, known) if not t.endswith(".__init__")}
             for m, p in known.items()}
    circles = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt], done)
        done.add(node)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module], done)
    assert not circles, "\n".join(sorted(set(circles)))


def test_every_file_is_under_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES
            and str(p.relative_to(ROOT)) not in DATA_LITERALS]
    assert not long, "\n".join(long)


def test_every_function_is_under_60_lines():
    """Functions of the packages, the benchmarks and the tests' helpers: one screen each."""
    paths = [*modules().values(), *ROOT.glob("bench/*.py"), *ROOT.glob("tests/*.py")]
    long = [f"{path.relative_to(ROOT)}: {node.name}, {length} lines"
            for path in paths if str(path.relative_to(ROOT)) not in DATA_LITERALS
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES]
    assert not long, "\n".join(long)
