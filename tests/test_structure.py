"""The runtime's shape, read from its own source: folders by stage, no import cycles, no torch,
modules a person reads in one sitting, and hosts that use only the engine's public names."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

SYNTH = ROOT / "synth"
MAX_LINES = 450
HOST_PACKAGES = ("synth.host", "synth.cli")
STAGES = {"midi", "engine", "notes", "plugin", "host", "cli", "default_model"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module(p): (p, ast.parse(p.read_text(), str(p))) for p in sorted(SYNTH.rglob("*.py"))}


def _imports(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """Every synth module ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_in_the_runtime():
    modules = _modules()
    known = set(modules)
    # A package's __init__ is imported with any of its modules, but ours import nothing: leave them
    # out, or every "from ..engine.synth import" would look like an edge into the package.
    graph = {name: {t for t in _imports(name, path, tree, known) if t not in _packages(modules)}
             for name, (path, tree) in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def _packages(modules) -> set[str]:
    return {name for name, (path, _) in modules.items() if path.name == "__init__.py" and name != "synth"}


def test_package_inits_import_nothing_of_their_own():
    modules = _modules()
    for name in _packages(modules) - {"synth.cli"}:  # synth.cli's __init__ is the command line itself
        path, tree = modules[name]
        assert not _imports(name, path, tree, set(modules)), f"{path} imports its modules: keep __init__ light"


def test_the_runtime_never_imports_torch():
    for path, tree in _modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            assert "torch" not in roots, f"{path}:{node.lineno} imports torch"


def test_modules_are_read_in_one_sitting():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in SYNTH.rglob("*.py")}
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_folders_follow_the_stages():
    folders = {p.name for p in SYNTH.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == STAGES, folders


def test_hosts_use_only_the_engines_public_names():
    """synth/host and synth/cli never reach into the engine's note bank or any private name of
    another object (``self._x`` is their own business), nor import a private name."""
    for name, (path, tree) in _modules().items():
        if not name.startswith(HOST_PACKAGES):
            continue
        modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}  # os._exit is the os module's business, not an object's
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                private = node.attr.startswith("_") and not node.attr.startswith("__")
                assert node.attr != "bank", f"{path}:{node.lineno} uses the note bank: use the Synth's note API"
                assert not private or owner in ("self", "cls", *modules), f"{path}:{node.lineno} uses {node.attr}"
            if isinstance(node, ast.ImportFrom) and node.level and (node.module or "").startswith(("engine", "notes")):
                bad = [a.name for a in node.names if a.name.startswith("_")]
                assert not bad, f"{path}:{node.lineno} imports private {bad}"
