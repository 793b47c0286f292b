"""The layers of the design: rules and reporters import only what they may."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "mldebt"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return {m for m in out if m.split(".")[0] == "mldebt" or m.split(".")[0] == "libcst"}


def test_rules_import_only_the_rule_base_the_model_and_libcst():
    for path in (PKG / "rules").rglob("*.py"):
        for mod in _imports(path):
            assert mod.startswith(("mldebt.rules", "mldebt.model", "libcst")), f"{path}: imports {mod}"


def test_reporters_import_only_the_model():
    for path in (PKG / "reporters").rglob("*.py"):
        for mod in _imports(path):
            assert mod.startswith(("mldebt.model", "mldebt.reporters")), f"{path}: imports {mod}"


def test_only_the_cli_wires_reporters():
    for path in PKG.rglob("*.py"):
        if path.name == "cli.py" or "reporters" in path.parts:
            continue
        assert not any(m.startswith("mldebt.reporters") for m in _imports(path)), path


def test_the_package_type_checks():
    """The style guide asks for mypy-clean code; this keeps it so (settings in pyproject.toml)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mypy", str(PKG)], capture_output=True, text=True,
                          cwd=PKG.parent, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

