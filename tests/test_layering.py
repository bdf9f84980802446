"""The engine's imports, read from the source (static, so an import inside a function counts too).

Touches only the files under corpuslake/.
"""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "corpuslake"
OUTER_ROOMS = ("orchestration", "assets", "quality_checks", "dagster")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_engine_never_imports_the_outer_rooms() -> None:
    offenders = {
        _module_name(path): sorted(n for n in _imports(path, top_level_only=False) if n.split(".")[0] in OUTER_ROOMS)
        for path in ENGINE.rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_engine_modules_import_each_other_without_a_cycle() -> None:
    modules = {_module_name(path): path for path in ENGINE.rglob("*.py")}
    graph = {
        name: {n for n in _imports(path, top_level_only=True) if n in modules} - {name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for upstream in sorted(graph[name]):
            if state.get(upstream) == "open":
                cycles.append([*trail[trail.index(upstream) :], upstream])
            elif upstream not in state:
                visit(upstream, [*trail, upstream])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
    # The store, the lakeFS backend and the catalog in particular: pins live in their own module.
    assert "corpuslake.store" not in graph["corpuslake.lakefs_store"]
    assert "corpuslake.catalog" not in graph["corpuslake.lakefs_store"]
