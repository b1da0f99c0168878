"""The house rules that the import graph and the file sizes must keep.

Inside the processor, rooms follow the path of a request. ``state`` is the core every other room
builds on; ``receive`` (the wire in) and ``evaluate`` hand data to it or read it and never import
each other; ``export`` (the wire out) reads evaluations; ``api`` serves all of it; the service
sits on top. ``config``, ``configload``, ``security`` and ``telemetry`` are leaves any room may
use. No module imports one of a room above its own, and no two modules import each other, even
lazily.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PROCESSOR = "otelml.processor"

# A room may import its own modules and those of the rooms listed for it.
ALLOWED: dict[str, set[str]] = {
    "leaf": set(),
    "state": {"leaf"},
    "receive": {"leaf", "state"},
    "evaluate": {"leaf", "state"},
    "export": {"leaf", "state", "evaluate"},
    "api": {"leaf", "state", "evaluate", "export"},
    "top": {"leaf", "state", "receive", "evaluate", "export", "api"},
}
LEAVES = {"config", "configload", "inflight", "security", "telemetry"}
TOP = {"service", "__init__"}
WIRE_MODULES = ("google.protobuf", "opentelemetry.proto", "grpc")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    root = SRC.joinpath(*package.split("."))
    return {_module_name(p): p for p in sorted(root.rglob("*.py"))}


def _nodes(tree: ast.AST, *, runtime: bool) -> Iterator[ast.AST]:
    """Yield every node, without ``if TYPE_CHECKING:`` blocks when ``runtime``."""
    for node in ast.iter_child_nodes(tree):
        test = node.test if isinstance(node, ast.If) else None
        if runtime and test is not None and "TYPE_CHECKING" in ast.unparse(test):
            continue
        yield node
        yield from _nodes(node, runtime=runtime)


def _imports(name: str, path: Path, *, runtime: bool = False) -> Iterator[str]:
    """Yield every module ``name`` imports, lazily or not; type-only ones unless ``runtime``."""
    is_pkg = path.name == "__init__.py"
    for node in _nodes(ast.parse(path.read_text("utf-8")), runtime=runtime):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module
            # ``from pkg import mod`` imports a module when ``mod`` is one.
            yield from (f"{module}.{a.name}" for a in node.names)


def _room(module: str) -> str | None:
    if not module.startswith(PROCESSOR + "."):
        return None
    rest = module[len(PROCESSOR) + 1 :].split(".")
    if rest[0] in LEAVES:
        return "leaf"
    if rest[0] in TOP or (len(rest) == 1 and rest[0] not in ALLOWED):
        return "top"
    return rest[0]


def _graph(package: str, *, runtime: bool = False) -> dict[str, set[str]]:
    mods = _modules(package)
    return {
        name: {m for m in _imports(name, path, runtime=runtime) if m in mods and m != name}
        for name, path in mods.items()
    }


def test_every_processor_module_is_in_a_room() -> None:
    for name in _modules(PROCESSOR):
        room = _room(name)
        assert room in ALLOWED, f"{name} is in no room of {sorted(ALLOWED)}"


def test_processor_rooms_import_only_downwards() -> None:
    wrong = []
    for name, deps in _graph(PROCESSOR).items():
        room = _room(name)
        assert room is not None
        for dep in deps:
            other = _room(dep)
            if other is not None and other != room and other not in ALLOWED[room]:
                wrong.append(f"{name} ({room}) imports {dep} ({other})")
    assert not wrong, "\n".join(sorted(wrong))


def test_wire_formats_stay_in_receive_and_export() -> None:
    wrong = []
    for name, path in _modules(PROCESSOR).items():
        if _room(name) in ("receive", "export"):
            continue
        wrong.extend(
            f"{name} imports {d}" for d in _imports(name, path) if d.startswith(WIRE_MODULES)
        )
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("package", ["otelml"])
def test_no_import_cycles(package: str) -> None:
    # Type-only imports never run, so only runtime imports (lazy ones too) can form a cycle.
    graph = _graph(package, runtime=True)
    # A package's __init__ importing its own modules is how re-exports work, not a cycle.
    for name in graph:
        if name.endswith("__init__"):
            pkg = name.removesuffix(".__init__")
            graph[name] = {d for d in graph[name] if not d.startswith(pkg + ".")}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if seen.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in seen:
                visit(dep)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


def test_modules_stay_small() -> None:
    big: dict[str, int] = {}
    for name, path in _modules("otelml").items():
        n = len(path.read_text("utf-8").splitlines())
        if n > MAX_LINES:
            big[name] = n
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_the_architecture_page_names_only_modules_that_exist() -> None:
    repo = SRC.parent
    page = (repo / "docs" / "architecture.md").read_text("utf-8")
    named = set(re.findall(r"`([\w./]+\.(?:py|yaml))`", page))
    assert len(named) > 20
    missing = []
    for path in sorted(named):
        candidates = [repo / path, SRC / "otelml" / "processor" / path]
        if not any(c.is_file() for c in candidates):
            missing.append(path)
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
