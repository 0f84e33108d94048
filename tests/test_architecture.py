"""The layers stay visible: no import circle inside `playground/` (lazy imports inside functions count too),
the library never imports Gradio, and pages hold layout and wiring only (no Plotly figures, no torch maths, no
module-level store of what a user made)."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY, PAGES = ROOT / "playground", ROOT / "pages"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every playground module a file imports, anywhere in the file (top level or inside a function)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("playground"):
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("playground"))
    return found


def test_no_import_circle_in_the_library():
    modules = {_module_name(p): p for p in LIBRARY.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how packages work; a submodule importing its package
    # back (or any longer loop) is a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for name in sorted(graph):
        visit(name)
    assert cycles == [], cycles


def test_the_library_never_imports_gradio():
    for path in LIBRARY.rglob("*.py"):
        assert not re.search(r"^\s*(import gradio|from gradio)(\s|\.|$)", path.read_text(), re.M), path


def _page_files():
    return [p for p in PAGES.rglob("*.py") if "common" not in p.parts]


def test_pages_build_no_plotly_figures():
    for path in _page_files():
        text = path.read_text()
        assert "plotly" not in text and "go.Figure" not in text and "make_subplots" not in text, path


TORCH_MATH = re.compile(r"torch\.(randn|rand|randint|cat|stack|linspace|arange|zeros|ones|full|sigmoid|softmax|"
                        r"no_grad|nonzero|where|einsum|matmul|exp|log|sqrt|nn\.)")


def test_pages_do_no_torch_maths():
    for path in _page_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not TORCH_MATH.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_pages_keep_no_module_level_store_of_user_state():
    for path in PAGES.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) and not (getattr(value, "keys", None) or
                                                                                 getattr(value, "elts", None))
            mutable |= (isinstance(value, ast.Call) and not value.args and not value.keywords
                        and getattr(value.func, "id", getattr(value.func, "attr", "")) in ("dict", "OrderedDict", "list", "set"))
            mutable |= isinstance(value, ast.Call) and getattr(value.func, "id", "") == "defaultdict"
            assert not mutable, f"{path.relative_to(ROOT)}: {[ast.unparse(t) for t in targets]} is an empty store"
