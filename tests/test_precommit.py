"""The pre-commit hooks, run for real: pre-commit installs this checkout into its own virtual
environment and runs it on a repository's staged files.

pre-commit installs the hook with pip. Tests never download, so pip is pointed at a local
wheelhouse of mldebt's dependencies (and its build backend), which `.ci/run` builds while it
installs the project:

    python -m pip wheel --wheel-dir .wheelhouse . hatchling
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".wheelhouse"

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def git(cwd: Path, *args: str) -> str:
    done = _run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """This checkout as pre-commit sees a hook repository: a git repo whose HEAD has the code."""
    if not WHEELHOUSE.is_dir():
        pytest.skip("no .wheelhouse: run `python -m pip wheel --wheel-dir .wheelhouse . hatchling` (.ci/run does)")
    src = tmp_path_factory.mktemp("hooks") / "mldebt"
    ignore = shutil.ignore_patterns(".venv", ".wheelhouse", ".git", ".mldebt_cache", "__pycache__", "*.egg-info",
                                    ".mypy_cache", ".pytest_cache")
    shutil.copytree(ROOT, src, ignore=ignore)
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "hooks")
    return src


@pytest.fixture
def project(tmp_path, hook_repo) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "proj"
    root.mkdir()
    rev = git(hook_repo, "rev-parse", "HEAD").strip()
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: mldebt\n      - id: mldebt-diff\n")
    (root / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD301", "MLD5"]\n')
    (root / "score.py").write_text(
        "THRESHOLD = 0.5\n\n\ndef decide(model, X, threshold=THRESHOLD):\n"
        "    return model.predict_proba(X)[:, 1] > threshold\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(WHEELHOUSE), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    return root, env


def pre_commit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "pre-commit"
    return _run([str(exe) if exe.exists() else "pre-commit", "run", *args], root, env)


def _entries(root: Path) -> set[str]:
    return {p.name for p in (root / ".mldebt_cache" / "files").glob("*/*/*") if not p.name.startswith(".")}


def test_the_hooks_pass_on_clean_code_and_fail_on_a_staged_threshold(project):
    root, env = project
    env = {k: v for k, v in env.items() if k != "MLDEBT_CACHE_DIR"}  # the default: the project's own
    clean = pre_commit(root, env, "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    built = _entries(root)
    assert built and git(root, "status", "--porcelain") == ""  # the cache ignores itself
    (root / "review.py").write_text(
        "def flag(model, X):\n    probs = model.predict_proba(X)[:, 1]\n    return probs > 0.73\n")
    git(root, "add", "review.py")
    staged = pre_commit(root, env)
    assert staged.returncode == 1, staged.stdout + staged.stderr
    assert "review.py:3:12: MLD301" in staged.stdout
    assert staged.stdout.count("MLD301 [hard-coded-threshold]") == 2  # once per hook: files, then diff
    # the unchanged files' entries were reused: one new entry, for the new file
    assert built < _entries(root) and len(_entries(root) - built) == 1


def test_the_files_hook_reports_only_the_files_passed_but_analyses_the_project(project):
    root, env = project
    # an untouched loader reads what a new script writes: a cross-file finding in loader.py
    (root / "loader.py").write_text("import pandas as pd\n\ndef load():\n    return pd.read_csv('data/x.csv')\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "loader", "--no-verify")
    (root / "make_x.py").write_text(
        "import sys\n\nimport pandas as pd\n\nif __name__ == '__main__':\n"
        "    pd.read_json(sys.argv[1]).to_csv('data/x.csv')\n")
    git(root, "add", "make_x.py")
    files_hook = pre_commit(root, env, "mldebt")
    assert files_hook.returncode == 0, files_hook.stdout  # make_x.py itself is clean
    diff_hook = pre_commit(root, env, "mldebt-diff")
    assert diff_hook.returncode == 1 and "loader.py:4:12: MLD503" in diff_hook.stdout, diff_hook.stdout
