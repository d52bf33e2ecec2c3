"""Static checks of runtime/'s shape (read with `ast`, nothing imported; well under a second):

(a) no import cycles among runtime's modules: every import statement counts, at module level, inside functions,
    under `if TYPE_CHECKING:` or `try:`, relative or absolute; a package's `__init__` is a module of its own
    (`runtime.inference` is runtime/inference/__init__.py); `from P import x` imports the module `P.x` when x is a
    submodule of P, else the module P (so `from . import x` in a package's module imports x, not the package).
    Importing `P.x` is counted as an import of `P.x` alone, not of its parent packages' `__init__`s.
(b) no source file under runtime/ (.py, and the static .js/.css/.html) over MAX_LINES lines, and config code
    (runtime/config*.py, any runtime/config/ package) under CONFIG_LINES lines a file; data (model configs, the
    TOML catalogs, notices) is not code.
(c) no comparison of a task name outside runtime/tasks/: `==`, `!=`, `in`, `not in` (and `match`/`case`) against
    the literals in TASK_NAMES or a name/attribute `ASR`, and any `.task ==` / `.task !=`.

On failure each check prints what it found (each cycle with the import lines that close it, each oversized file,
each comparison with its file and line).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime"
PACKAGE = "runtime"

MAX_LINES = 400
CONFIG_LINES = 300  # config code stays under this: at most CONFIG_LINES - 1 lines a file
SOURCE_SUFFIXES = {".py", ".js", ".css", ".html"}
TASK_NAMES = {"object-detection", "image-classification", "automatic-speech-recognition"}
TASK_CONSTANT_NAMES = {"ASR"}
MAX_CYCLES_SHOWN = 200


# --- the modules and their imports ------------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> list[Path]:
    return sorted(p for p in RUNTIME.rglob("*.py") if "__pycache__" not in p.parts)


MODULES: dict[str, Path] = {module_name(p): p for p in python_files()}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({MODULES[self.source].relative_to(ROOT)}:{self.line})"


def package_of(module: str) -> str:
    """The package a module's relative imports start from (a package's __init__ is its own package)."""
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def existing(name: str) -> str | None:
    """`name` if it is a runtime module, else the deepest runtime module it lies in (import a.b.c of a non-module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    for node in ast.walk(tree):  # every statement: module level, functions, TYPE_CHECKING blocks, try blocks
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    target = existing(alias.name)
                    if target is not None:
                        yield Import(module, target, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(module)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            if origin != PACKAGE and not origin.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                target = submodule if submodule in MODULES else existing(origin)
                if target is not None:
                    yield Import(module, target, node.lineno)


def import_graph() -> dict[str, dict[str, Import]]:
    """module -> {imported module -> the first import of it (for the report)}; self-imports left out."""
    graph: dict[str, dict[str, Import]] = {m: {} for m in MODULES}
    for module in MODULES:
        for imp in imports_of(module):
            if imp.target != module:
                graph[module].setdefault(imp.target, imp)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (each one holds at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def elementary_cycles(graph: dict[str, dict[str, Import]], component: list[str], limit: int) -> list[list[str]]:
    """The simple cycles inside one component, each once (starting from its smallest module), up to `limit`."""
    cycles: list[list[str]] = []
    for start in sorted(component):
        # the cycles whose smallest module is `start` pass only through modules greater than it
        allowed = {m for m in component if m > start}
        _extend(graph, [start], allowed, cycles, limit)
        if len(cycles) >= limit:
            break
    return cycles


def _extend(graph: dict[str, dict[str, Import]], path: list[str], allowed: set[str], cycles: list, limit: int) -> None:
    """Depth-first: each way `path` goes on (through `allowed`, never twice through one module) back to its start."""
    for w in sorted(graph[path[-1]]):
        if len(cycles) >= limit:
            return
        if w == path[0]:
            cycles.append([*path, w])
        elif w in allowed and w not in path:
            _extend(graph, [*path, w], allowed, cycles, limit)


def cycle_report(graph: dict[str, dict[str, Import]]) -> list[str]:
    lines = []
    for component in strongly_connected(graph):
        lines.append(f"modules importing each other in a circle: {', '.join(component)}")
        cycles = elementary_cycles(graph, component, MAX_CYCLES_SHOWN)
        for cycle in cycles:
            lines.append("  cycle: " + " -> ".join(cycle))
            lines += [f"    {graph[a][b]}" for a, b in zip(cycle, cycle[1:])]
        if len(cycles) >= MAX_CYCLES_SHOWN:
            lines.append(f"  (the first {MAX_CYCLES_SHOWN} cycles shown)")
    return lines


def test_no_import_cycles_among_runtime_modules() -> None:
    report = cycle_report(import_graph())
    assert not report, "import cycles under runtime/:\n" + "\n".join(report)


# --- file sizes -------------------------------------------------------------------------------------------------


def is_config_code(path: Path) -> bool:
    rel = path.relative_to(RUNTIME)
    return path.suffix == ".py" and (
        (len(rel.parts) == 1 and rel.name.startswith("config")) or (len(rel.parts) > 1 and rel.parts[0] == "config")
    )


def oversized_files() -> list[str]:
    found = []
    for path in sorted(RUNTIME.rglob("*")):
        if not path.is_file() or path.suffix not in SOURCE_SUFFIXES or "__pycache__" in path.parts:
            continue
        lines = len(path.read_text().splitlines())
        rel = path.relative_to(ROOT)
        if is_config_code(path) and lines >= CONFIG_LINES:
            found.append(f"{rel}: {lines} lines (config code: under {CONFIG_LINES})")
        elif lines > MAX_LINES:
            found.append(f"{rel}: {lines} lines (at most {MAX_LINES})")
    return found


def test_no_runtime_file_is_too_long() -> None:
    found = oversized_files()
    assert not found, "files too long under runtime/:\n" + "\n".join(found)


# --- task names compared outside runtime/tasks/ ------------------------------------------------------------------


def names_a_task(node: ast.expr) -> bool:
    """A task name literal, the ASR constant (bare or as an attribute), or a literal collection holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in TASK_NAMES
    if isinstance(node, ast.Name):
        return node.id in TASK_CONSTANT_NAMES
    if isinstance(node, ast.Attribute) and node.attr in TASK_CONSTANT_NAMES:
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(names_a_task(e) for e in node.elts)
    return False


def is_task_attribute(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "task"


def task_comparisons_in(source: str, where: str) -> list[str]:
    """Each comparison of a task name in `source` (the file `where`), as "where:line: the code", in line order."""
    return [text for _, text in sorted(_task_comparisons(source, where))]


def _task_comparisons(source: str, where: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:]):
                membership = isinstance(op, (ast.In, ast.NotIn))
                equality = isinstance(op, (ast.Eq, ast.NotEq))
                if (
                    (membership or equality)
                    and (names_a_task(left) or names_a_task(right))
                    or (equality and (is_task_attribute(left) or is_task_attribute(right)))
                ):
                    yield node.lineno, f"{where}:{node.lineno}: {ast.get_source_segment(source, node)}"
                    break
        elif isinstance(node, ast.Match):
            for case in node.cases:
                values = [p.value for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue)]
                if any(names_a_task(v) for v in values):
                    line = case.pattern.lineno
                    yield line, f"{where}:{line}: case {ast.get_source_segment(source, case.pattern)}"


def task_comparisons() -> list[str]:
    tasks = RUNTIME / "tasks"
    return [
        found
        for path in python_files()
        if tasks not in path.parents
        for found in task_comparisons_in(path.read_text(), str(path.relative_to(ROOT)))
    ]


def test_no_task_name_is_compared_outside_runtime_tasks() -> None:
    found = task_comparisons()
    assert not found, "task names compared outside runtime/tasks/ (ask the task instead):\n" + "\n".join(found)


# --- the checks themselves (these must pass: they keep the three above honest) -----------------------------------


def test_the_import_reader_resolves_every_kind_of_import() -> None:
    graph = import_graph()
    assert set(graph) == set(MODULES) and "runtime" in MODULES and "runtime.inference" in MODULES
    # relative, from a package's module: `from ..entry import ModelEntry` in runtime/inference/pool.py
    assert "runtime.entry" in graph["runtime.inference.pool"]
    # `from . import x` with x a submodule: runtime/http/cloudflare.py's `from . import wire`
    assert "runtime.http.wire" in graph["runtime.http.cloudflare"]
    assert "runtime.http" not in graph["runtime.http.cloudflare"]
    # imports inside functions count: runtime/cli.py imports its commands in build_parser()
    assert "runtime.commands.run" in graph["runtime.cli"]
    # imports under TYPE_CHECKING count: runtime/pytest_plugin.py's `from .service import InferenceService`
    assert "runtime.service" in graph["runtime.pytest_plugin"]


def test_the_cycle_finder_finds_cycles() -> None:
    def imp(a: str, b: str) -> Import:
        return Import(a, b, 1)

    graph = {
        "runtime.x": {"runtime.y": imp("runtime.x", "runtime.y")},
        "runtime.y": {"runtime.x": imp("runtime.y", "runtime.x"), "runtime.z": imp("runtime.y", "runtime.z")},
        "runtime.z": {"runtime.x": imp("runtime.z", "runtime.x")},
        "runtime.w": {"runtime.x": imp("runtime.w", "runtime.x")},
    }
    assert strongly_connected(graph) == [["runtime.x", "runtime.y", "runtime.z"]]
    cycles = elementary_cycles(graph, ["runtime.x", "runtime.y", "runtime.z"], 10)
    assert sorted(cycles) == [
        ["runtime.x", "runtime.y", "runtime.x"],
        ["runtime.x", "runtime.y", "runtime.z", "runtime.x"],
    ]


def test_the_task_comparison_finder_finds_each_kind() -> None:
    code = (
        'if entry.task == "object-detection": pass\n'
        "if task != ASR: pass\n"
        "if kind in ('image-classification', 'x'): pass\n"
        "if entry.task != other: pass\n"
        "if name == catalog.ASR: pass\n"
        "match task:\n"
        "    case 'automatic-speech-recognition':\n"
        "        pass\n"
        'if label == "cat" or entry.schema == "whisper" or entry.task is None: pass\n'
        'TASKS = {"object-detection": 1}\n'
    )
    found = task_comparisons_in(code, "sample.py")
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "4", "5", "7"], found
