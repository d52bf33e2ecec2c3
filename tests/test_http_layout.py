"""How runtime/http is put together: no import circle among its modules (imports in functions and under
TYPE_CHECKING count), AppContext in a leaf the doors import, and the core service free of any HTTP library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTTP = ROOT / "runtime" / "http"


def imports_of(path: Path) -> set[str]:
    """The runtime.http modules a module of runtime/http imports, anywhere in it."""
    names = {p.stem for p in HTTP.glob("*.py")}
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                out |= {a.name for a in node.names if a.name in names}
            elif node.module.split(".")[0] in names:
                out.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("runtime.http."):
            out.add(node.module.split(".")[2])
    return out


def test_no_import_circle_among_the_http_modules():
    graph = {p.stem: imports_of(p) - {p.stem} for p in HTTP.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import circle: {' -> '.join((*trail[trail.index(module) :], module))}"
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*trail, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    assert graph["context"] == set(), "AppContext's module is a leaf"


def test_the_core_service_loads_no_http_library():
    code = "import sys, runtime.service; print(sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'uvicorn', 'httpx', 'h11'}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
