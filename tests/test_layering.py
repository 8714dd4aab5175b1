"""The package's one-way layering (README "Layout", superpose/__init__.py):
every module of superpose imports only modules of its own layer or below, at
any depth, the same-layer imports form no cycle, and no import sits inside a
function except the few listed in FUNCTION_IMPORTS, each with its reason.

Imports are read from the source (ast), so a module that is never imported by
a test is checked too. Importing `superpose.compiler.ir` also runs the
`__init__` of `superpose` and `superpose.compiler`: those edges count, which
is why every package `__init__` is a lazy table (superpose/_lazy.py) in the
bottom layer. Imports under `if TYPE_CHECKING:` run only for type checkers and
do not count.
"""
from __future__ import annotations

import ast
import fnmatch
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the repository's top level is the package `superpose`
NOT_PACKAGE = {"tests", "bench", "examples", "programs", "build", "dist"}

# Bottom to top. A module's layer is the first entry that names it exactly,
# else the first whose pattern matches it.
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["superpose", "superpose._lazy", "superpose.errors", "superpose.compiler", "superpose.runtime",
              "superpose.compiler.netlists", "superpose.compiler.generators", "superpose.sweep"]),
    ("ir", ["superpose.compiler.ir"]),
    ("semantics", ["superpose.compiler.errors", "superpose.compiler.interpret", "superpose.compiler.multilinear",
                   "superpose.compiler.limits"]),
    ("analyses", ["superpose.compiler.co_activity", "superpose.compiler.sampling", "superpose.compiler.sparsity",
                  "superpose.compiler.constant_gates", "superpose.compiler.packed_truth"]),
    ("network", ["superpose.metadata", "superpose.network", "superpose.neurons"]),
    ("front ends", ["superpose.compiler.source", "superpose.compiler.parse", "superpose.compiler.check",
                    "superpose.compiler.frontend", "superpose.compiler.emit_dsl", "superpose.compiler.netlists.*",
                    "superpose.compiler.generators.*"]),
    ("lowerings", ["superpose.compiler.lowering", "superpose.compiler.hub_packing", "superpose.compiler.hub_confirm",
                   "superpose.compiler.light_hub",
                   "superpose.compiler.embeddings",
                   "superpose.compiler.lower_*", "superpose.compiler.deep_*", "superpose.compiler.plan",
                   "superpose.compiler.strategies"]),
    ("pipeline", ["superpose.compiler.pipeline"]),
    ("runtime", ["superpose.runtime.*"]),
    ("sweep", ["superpose.sweep.*"]),
    ("interfaces", ["superpose.runtime.cli", "superpose.runtime.pytest_plugin"]),
]

# module -> {imported module: why it is imported inside a function}
FUNCTION_IMPORTS: dict[str, dict[str, str]] = {
    "superpose.runtime.pytest_plugin": {
        # pytest loads the plugin in every run of every project with superpose installed
        "superpose.runtime.verify": "loaded only when a circuit is checked",
        "superpose.compiler.pipeline": "loaded only when a .sbp file is compiled",
        "superpose.compiler.interpret": "loaded only when an expectation is checked",
        "superpose.network": "loaded only when an expectation is checked",
        "numpy": "loaded only when an expectation is checked",
    },
    "superpose.runtime.depth_report": {
        "matplotlib": "heavy (~0.5 s), needed only for --plot",
        "matplotlib.pyplot": "heavy (~0.5 s), needed only for --plot",
    },
    "superpose.sweep.frontier": {
        "matplotlib": "heavy (~0.5 s), needed only for sweep --plot",
        "matplotlib.pyplot": "heavy (~0.5 s), needed only for sweep --plot",
    },
    "superpose.sweep.executors": {
        "ray": "an optional extra (superpose[ray]) needed only for --ray; its absence is a clear UserError",
    },
}

HEAVY = ("numpy", "scipy", "torch", "lark", "rich", "safetensors", "matplotlib")


def _module_files() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_PACKAGE or parts[0].startswith("."):
            continue
        names = ["superpose", *parts[:-1]] + ([] if parts[-1] == "__init__.py" else [parts[-1][:-3]])
        modules[".".join(names)] = path
    return modules


MODULES = _module_files()


def layer_of(module: str) -> int:
    for index, (_, names) in enumerate(LAYERS):
        if module in names:
            return index
    for index, (_, names) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, name) for name in names if "*" in name):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to the README's Layout)")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads (a `from m import x` loads m.x when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert node.level == 0, "relative imports: use the absolute superpose.… name"
    return [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
            for alias in node.names]


def _imports(tree: ast.Module) -> tuple[list[str], list[tuple[str, int]]]:
    """(modules imported when the module runs, (module, line) of imports inside functions)."""
    top: list[str] = []
    inner: list[tuple[str, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if in_function:
                inner.extend((name, node.lineno) for name in _imported(node))
            else:
                top.extend(_imported(node))
        function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, False)
    return top, inner


def _with_parents(module: str) -> list[str]:
    """A module and the packages whose __init__ importing it runs."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _edges() -> dict[str, set[str]]:
    """module -> the package modules it makes Python import at import time."""
    edges = {}
    for module, path in MODULES.items():
        top, _ = _imports(ast.parse(path.read_text(), str(path)))
        targets = {m for name in top for m in _with_parents(name) if m in MODULES}
        targets |= {m for m in _with_parents(module)[:-1] if m in MODULES}  # a module's own packages run first
        edges[module] = targets - {module}
    return edges


def test_every_import_points_down_or_sideways():
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in _edges().items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert not upward, "imports that point up the layering:\n" + "\n".join(upward)


def test_no_import_cycles():
    """Python runs a module's packages before it, so the edges to them cannot
    close a cycle (the test above keeps those packages in the bottom layer)."""
    edges = {module: targets - set(_with_parents(module)) for module, targets in _edges().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(target):] + [module, target]))
            if target not in state:
                walk(target, path + [module])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module, [])


def test_imports_inside_functions_are_only_the_listed_ones():
    found = {}
    for module, path in MODULES.items():
        for name, line in _imports(ast.parse(path.read_text(), str(path)))[1]:
            if name not in FUNCTION_IMPORTS.get(module, {}):
                found[f"{path.relative_to(ROOT)}:{line}"] = name
    assert not found, f"imports inside functions (move them to the top, or list them with a reason): {found}"
    listed = {(m, name) for m, names in FUNCTION_IMPORTS.items() for name in names}
    used = {(m, name) for m, path in MODULES.items() for name, _ in _imports(ast.parse(path.read_text()))[1]}
    assert listed <= used, f"FUNCTION_IMPORTS lists imports that no longer exist: {sorted(listed - used)}"


@pytest.mark.parametrize("package", [m for m, p in MODULES.items() if p.name == "__init__.py"])
def test_package_inits_are_lazy_tables_that_resolve(package):
    """Every exported name exists, and none is also a submodule's name: once
    the submodule is imported, Python would set the package attribute to the
    module, and the lazy function would never be reached."""
    module = importlib.import_module(package)
    exports = getattr(module, "_EXPORTS", {})
    assert sorted(module.__all__) == sorted(exports)
    clashes = [name for name in exports if f"{package}.{name}" in MODULES]
    assert not clashes, f"{package} exports names of its own submodules: {clashes}"
    for name, source in exports.items():
        assert layer_of(source) >= layer_of(package) and getattr(module, name) is not None


def _loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running `code`."""
    result = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                            capture_output=True, text=True, check=True, cwd="/")
    return set(result.stdout.split())


def test_the_pytest_plugin_loads_nothing_heavy():
    loaded = _loaded_after("import superpose.runtime.pytest_plugin")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert [m for m in loaded if m.startswith("superpose.") and m.count(".") > 1] == ["superpose.runtime.pytest_plugin"]


def test_loading_an_artifact_needs_no_front_end_or_lowering(tmp_path):
    """The runtime reads the IR, not the compiler: no lark, no lowering."""
    path = tmp_path / "a.safetensors"
    subprocess.run([sys.executable, "-m", "superpose.runtime.cli", "compile", str(ROOT / "programs/animals.sbp"),
                    "-o", str(path)], check=True, capture_output=True)
    loaded = _loaded_after(f"import superpose\ncircuit = superpose.load({str(path)!r})\ncircuit.run([[1] + [0] * (circuit.n_inputs - 1)])")
    assert "lark" not in loaded and "torch" not in loaded
    assert not [m for m in loaded if m.startswith(("superpose.compiler.lower_", "superpose.compiler.parse"))]
