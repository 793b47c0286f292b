"""Nothing scanned runs (issue 8, part 3).

Every Python file of the fixture repository (modules, ``__init__.py``, ``conftest.py``,
``setup.py``, ``sitecustomize.py``, ``usercustomize.py``, modules shadowing mldebt's own
dependencies), a ``.pth`` file and a notebook's code cell write a marker file when executed or
imported. After every command and output format mldebt offers, run with the repository as the
working directory and also on ``PYTHONPATH``, no marker exists and the tree is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MLDEBT = Path(sys.executable).parent / "mldebt"  # the console script, as CI runs it


def _payload(markers: Path, tag: str) -> str:
    return f"open({str(markers / tag)!r}, 'w').write('ran')\n"


SCRIPT = """\
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

df = pd.read_csv("data/raw/train.csv")
train, test = train_test_split(df)
probs = torch.softmax(torch.zeros(3), 0)
if probs[0] > 0.73:
    print("accept")
if False:
    print("dead")
train.to_csv("data/interim/train.csv")
"""


# modules named like mldebt's dependencies: found first on sys.path, they would be imported
# instead of the real ones
SHADOWS = ("yaml.py", "click.py", "networkx.py", "jinja2.py", "radon.py", "tomli.py")


def build_repo(root: Path, markers: Path, shadows: bool) -> None:
    def py(rel: str, extra: str = "") -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_payload(markers, rel.replace("/", "__")) + extra)

    (root / "pyproject.toml").write_text(
        '[project]\nname = "victim"\nversion = "0"\n[project.scripts]\nvictim = "victim.cli:main"\n'
        "[tool.mldebt]\n")
    for rel in ("victim/__init__.py", "victim/models/__init__.py", "victim/models/net.py",
                "victim/cli.py", "conftest.py", "tests/conftest.py", "setup.py",
                "sitecustomize.py", "usercustomize.py", "__main__.py", *(SHADOWS if shadows else ())):
        py(rel)
    py("victim/train.py", SCRIPT + "\nif __name__ == '__main__':\n    print(probs)\n")
    py("scripts/01_prepare.py", SCRIPT)
    py("tests/test_train.py", "def test_it():\n    assert 0.5 > 0.4\n")
    (root / "victim.pth").write_text("import os; " + _payload(markers, "victim.pth"))
    cell = {"cell_type": "code", "source": _payload(markers, "notebook") + SCRIPT,
            "metadata": {}, "execution_count": 1, "outputs": []}
    (root / "explore.ipynb").write_text(json.dumps(
        {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (root / "dvc.yaml").write_text("stages:\n  prepare:\n    cmd: python scripts/01_prepare.py\n"
                                   "    deps: [data/raw/train.csv]\n")


def snapshot(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".mldebt_cache")]
        for name in filenames:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).digest()
    return out


World = dict[str, tuple[Path, Path, Path]]


def _arm_git_config(root: Path, markers: Path) -> None:
    """A repository's own .git/config (one unpacked from an archive brings it along) names
    programs for git to run: a file-system monitor (ls-files, diff, checkout) and hooks
    (checkout of the --diff worktree), in the default folder and in core.hooksPath."""
    def program(path: Path, tag: str) -> str:
        path.write_text(f"#!/bin/sh\ntouch {markers / tag}\n")
        path.chmod(0o755)
        return str(path)

    hooks = root / ".git" / "hooks"
    other = root / ".git" / "other-hooks"
    other.mkdir()
    for folder in (hooks, other):
        for hook in ("post-checkout", "post-index-change", "reference-transaction"):
            program(folder / hook, f"git-{folder.name}-{hook}")
    monitor = program(root / ".git" / "monitor.sh", "git-fsmonitor")
    subprocess.run(["git", "-C", str(root), "config", "core.fsmonitor", monitor], check=True)
    subprocess.run(["git", "-C", str(root), "config", "core.hooksPath", str(other)], check=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Two repositories: one with modules shadowing mldebt's dependencies (scanned from its
    folder), one without them (also put on PYTHONPATH, where shadows would break mldebt itself:
    test_dependencies_are_not_shadowed covers that)."""
    made: World = {}
    for how in ("cwd", "pythonpath"):
        base = tmp_path_factory.mktemp(f"never-{how}")
        root, markers, out = base / "repo", base / "markers", base / "out"
        for d in (root, markers, out):
            d.mkdir()
        build_repo(root, markers, shadows=how == "cwd")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run([*git, "-C", str(root), "add", "-A"], check=True)
        subprocess.run([*git, "-C", str(root), "commit", "-qm", "victim"], check=True)
        _arm_git_config(root, markers)
        made[how] = (root, markers, out)
    return made


def environments(root: Path, cache: Path) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLDEBT_NO_CACHE")}
    env["NO_COLOR"] = "1"
    env.pop("MLDEBT_CACHE_DIR", None)  # the cache goes to .mldebt_cache/ at the root, by design
    return {"cwd": env, "pythonpath": {**env, "PYTHONPATH": str(root)}}


def interpreter_markers(env: dict[str, str], root: Path, markers: Path) -> set[str]:
    """What the Python interpreter itself runs at start-up, before any mldebt code: with the
    repository on PYTHONPATH, ``site`` imports its ``sitecustomize``/``usercustomize``."""
    subprocess.run([sys.executable, "-c", "pass"], cwd=root, env=env, check=True, timeout=60)
    found = {p.name for p in markers.iterdir()}
    for p in markers.iterdir():
        p.unlink()
    return found


COMMANDS: list[tuple[int, list[str]]] = [  # (exit code, arguments)
    (1, ["scan", "--format", "text"]),
    (1, ["scan", "--format", "json", "--with-source", "-o", "{out}/a.json"]),
    (1, ["scan", "--format", "json", "--with-source", "-o", "{out}/b.json", "--jobs", "2"]),
    (1, ["scan", "--format", "sarif"]),
    (1, ["scan", "--format", "github"]),
    (1, ["scan", "--format", "gitlab"]),
    (1, ["scan", "--format", "html", "-o", "{out}/r.html"]),
    (1, ["scan", "--jobs", "2", "--no-cache"]),
    (0, ["scan", "--diff", "HEAD", "--format", "json"]),
    (0, ["graph", "--format", "dot"]),
    (0, ["graph", "--format", "json"]),
    (0, ["graph", "--format", "mermaid"]),
    (0, ["baseline", "create"]),
    (0, ["baseline", "prune"]),
    (0, ["scan", "--baseline", ".mldebt-baseline.json"]),
    (0, ["merge", "{out}/a.json", "{out}/b.json", "-o", "{out}/merged.html"]),
    (0, ["explain", "MLD301"]),
    (0, ["rules"]),
]


@pytest.mark.parametrize("how", ["cwd", "pythonpath"])
def test_no_command_runs_scanned_code(world: World, tmp_path: Path, how: str) -> None:
    root, markers, out = world[how]
    env = environments(root, tmp_path)[how]
    started = interpreter_markers(env, root, markers)
    if how == "pythonpath":
        # the interpreter's own doing, before any mldebt code runs; and shadowed dependencies
        # are test_dependencies_are_not_shadowed's business: nothing else may appear
        assert started <= {"sitecustomize.py", "usercustomize.py"}
    else:
        assert started == set()
    baseline = root / ".mldebt-baseline.json"
    before = snapshot(root)
    for code, command in COMMANDS:
        args = [a.format(out=out) for a in command]
        proc = subprocess.run([str(MLDEBT), *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=180, check=False)
        assert proc.returncode == code, (args, proc.stdout[-2000:], proc.stderr)
        ran = {p.name for p in markers.iterdir()} - started
        assert ran == set(), (args, ran)
        if command[0] != "baseline":
            after = snapshot(root)
            after.pop(".mldebt-baseline.json", None)
            expected = dict(before)
            expected.pop(".mldebt-baseline.json", None)
            assert after == expected, args
    assert baseline.exists()
    baseline.unlink()
    assert json.loads((out / "a.json").read_text())["findings"]
    for p in markers.iterdir():
        p.unlink()


@pytest.mark.parametrize("how", ["python -m, cwd", "console script, PYTHONPATH"])
def test_dependencies_are_not_shadowed(world: World, tmp_path: Path, how: str) -> None:
    """Modules of the scanned repository named like mldebt's dependencies (yaml.py, click.py...)
    are never imported, however mldebt is started inside it."""
    root, markers, _ = world["cwd"]
    envs = environments(root, tmp_path)
    if how.startswith("python -m"):
        command, env = [sys.executable, "-m", "mldebt"], envs["cwd"]
    else:
        command, env = [str(MLDEBT)], envs["pythonpath"]
    for p in markers.iterdir():
        p.unlink()
    try:
        proc = subprocess.run([*command, "scan", "--format", "json"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=180, check=False)
        ran = {p.name for p in markers.iterdir()} & set(SHADOWS)
    finally:
        for p in markers.iterdir():
            p.unlink()
    assert ran == set(), ran
    assert proc.returncode == 1, proc.stderr
