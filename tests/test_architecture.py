"""The core is Qt-free: a checked rule, not a convention."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import inspection_station.core as core

ROOT = Path(__file__).resolve().parents[1]

# Import every core module with Qt made unimportable: any Qt import in the core fails here.
PROBE = r"""
import importlib, pkgutil, sys
class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6") or name.startswith("inspection_station.gui"):
            raise ImportError(f"core imported {name}")
sys.meta_path.insert(0, NoQt())
import inspection_station.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "inspection_station.core.")]
for name in names:
    importlib.import_module(name)
print("ok", len(names))
"""


def test_every_core_module_imports_without_qt():
    prefix = "inspection_station.core."
    modules = [m.name.removeprefix(prefix) for m in pkgutil.walk_packages(core.__path__, prefix)]
    assert {"settings.model", "detect.detector", "camera.worker"} <= set(modules)
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def test_import_linter_contracts_hold():
    """The core never imports Qt, and its sub-packages are layered (pyproject.toml)."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The core never imports Qt KEPT" in proc.stdout and "The core is layered KEPT" in proc.stdout
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


# Windows needs onnxruntime's DLLs initialised before Qt's: the gui package does it, once.
ORDER_PROBE = r"""
import sys
seen = []
class Order:
    def find_spec(self, name, path=None, target=None):
        if name in ("onnxruntime", "PySide6") and name not in seen:
            seen.append(name)
sys.meta_path.insert(0, Order())
import inspection_station.gui.operator.image_view
print(",".join(seen))
"""


@pytest.mark.qt
def test_any_gui_module_loads_onnxruntime_before_qt():
    proc = subprocess.run(
        [sys.executable, "-c", ORDER_PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "onnxruntime,PySide6"


QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6", "pytestqt", "inspection_station.gui", "tests.gui_station")
QT_FIXTURES = {"qtbot", "qapp", "qtmodeltester"}


def _needs_qt(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in QT_MODULES)


def test_every_test_that_needs_qt_is_known_to_the_no_qt_run():
    """.ci/core_tests_without_qt leaves out conftest.QT_TEST_FILES and `qt`-marked tests:
    a Qt test anywhere else would fail there, so this keeps the list honest."""
    import ast

    from tests.conftest import QT_TEST_FILES

    unlisted = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name in QT_TEST_FILES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level: the whole file needs Qt
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            unlisted += [f"{path.name}: imports {n} at module level" for n in names if _needs_qt(n)]
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
            marked = any("mark.qt" in ast.unparse(d) for d in fn.decorator_list)
            uses_qt = {a.arg for a in fn.args.args} & QT_FIXTURES or any(
                _needs_qt(n.module or "") for n in ast.walk(fn) if isinstance(n, ast.ImportFrom)
            )
            if uses_qt and not marked:
                unlisted.append(f"{path.name}::{fn.name} needs Qt but is not marked qt")
    assert unlisted == []


def test_no_backticks_in_text_the_windows_show():
    """Markdown's `code` quotes read as stray marks on a screen: the GUI's strings (not its
    docstrings) and the account errors it shows use plain quotes."""
    import ast

    files = [*(ROOT / "inspection_station" / "gui").rglob("*.py"),
             ROOT / "inspection_station" / "core" / "settings" / "accounts.py"]
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and "`" in node.value
                  and id(node) not in docstrings]
    assert not found, found
def test_every_core_module_sits_in_a_layer():
    """The layers contract checks only the modules it names: a new core module must join a layer."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    named = {m.strip() for layer in contract["layers"] for m in layer.replace("|", ":").split(":")}
    core = Path(__file__).resolve().parent.parent / "inspection_station" / "core"
    present = {p.stem for p in core.iterdir() if (p.suffix == ".py" and p.stem != "__init__") or
               (p.is_dir() and any(p.glob("*.py")))}
    assert present <= named, f"core modules in no layer of pyproject.toml: {sorted(present - named)}"


def test_every_folder_of_code_is_a_package():
    """A folder of modules without __init__.py imports from a checkout (a namespace package) but
    is left out of the wheel and the frozen build (find_packages): core/recipes/ once was."""
    package = Path(__file__).resolve().parent.parent / "inspection_station"
    folders = {p.parent for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(package)) for f in folders if not (f / "__init__.py").exists()) == []
