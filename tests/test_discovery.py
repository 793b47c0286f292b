"""Which files a scan sees: git's view inside a work tree, a pruned walk elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mldebt.config import DEFAULT_EXCLUDE, path_matches
from mldebt.discovery import discover, is_test_path, module_name


def _excluded(patterns=DEFAULT_EXCLUDE):
    return lambda rel: any(path_matches(rel, p) for p in patterns)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _rels(found):
    return [rel for _, rel in found.files]


def test_git_work_tree_uses_what_git_would_track(tmp_path):
    _write(tmp_path, {
        "train.py": "", "src/pkg/__init__.py": "", "src/pkg/model.py": "",
        ".gitignore": "outputs/\n", "outputs/gen.py": "",
        "data/.gitignore": "scratch_*.py\n", "data/scratch_1.py": "", "data/load.py": "",
        "private.py": "", "notes.ipynb": "{}", "README.md": "",
    })
    _git(tmp_path, "init", "-q")
    (tmp_path / ".git" / "info" / "exclude").write_text("private.py\n", encoding="utf-8")
    _git(tmp_path, "add", "train.py")  # tracked; the rest untracked but not ignored
    found = discover([tmp_path], tmp_path, _excluded())
    assert _rels(found) == ["data/load.py", "notes.ipynb", "src/pkg/__init__.py", "src/pkg/model.py", "train.py"]
    assert found.errors == ()


def test_tracked_file_deleted_from_the_work_tree_is_not_scanned(tmp_path):
    _write(tmp_path, {"a.py": "", "b.py": ""})
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    (tmp_path / "b.py").unlink()
    assert _rels(discover([tmp_path], tmp_path, _excluded())) == ["a.py"]


def test_walk_outside_git_skips_environments_builds_and_caches(tmp_path):
    _write(tmp_path, {
        "a.py": "", "pkg/b.py": "", ".venv/lib/x.py": "", "venv/y.py": "", "build/z.py": "",
        "pkg/__pycache__/c.py": "", "myenv/pyvenv.cfg": "", "myenv/lib/site.py": "",
        "x.egg-info/d.py": "", "nb/.ipynb_checkpoints/e.ipynb": "{}", "nb/e.ipynb": "{}",
    })
    found = discover([tmp_path], tmp_path, _excluded())
    assert _rels(found) == ["a.py", "nb/e.ipynb", "pkg/b.py"]


def test_exclude_applies_to_files_named_on_the_command_line(tmp_path):
    _write(tmp_path, {"gen/out_pb2.py": "", "src/a.py": "", "script": "#!/usr/bin/env python\n"})
    excluded = _excluded(DEFAULT_EXCLUDE + ("*_pb2.py",))
    found = discover([tmp_path / "gen/out_pb2.py", tmp_path / "src/a.py", tmp_path / "script"],
                     tmp_path, excluded)
    # an explicitly named extension-less script is analysed (pre-commit passes those)
    assert _rels(found) == ["script", "src/a.py"]


def test_order_is_deterministic_and_duplicates_collapse(tmp_path):
    _write(tmp_path, {f"m{i}.py": "" for i in (3, 1, 2)})
    a = discover([tmp_path / "m3.py", tmp_path, tmp_path / "m1.py"], tmp_path, _excluded())
    b = discover([tmp_path], tmp_path, _excluded())
    assert _rels(a) == _rels(b) == ["m1.py", "m2.py", "m3.py"]


def test_missing_path_and_symlink_outside_root_are_errors_not_silence(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n", encoding="utf-8")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "link.py").symlink_to(outside)
    (root / "ok.py").write_text("", encoding="utf-8")
    found = discover([root, root / "nope.py"], root, _excluded())
    assert _rels(found) == ["ok.py"]
    messages = dict(found.errors)
    assert "outside the project root" in messages["link.py"]
    assert "no such file" in messages[str(root / "nope.py")]


def test_symlink_loop_does_not_hang(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "x.py").write_text("", encoding="utf-8")
    assert _rels(discover([tmp_path], tmp_path, _excluded())) == ["a/x.py"]


def test_module_names_follow_packages(tmp_path):
    _write(tmp_path, {"src/pkg/__init__.py": "", "src/pkg/sub/__init__.py": "", "src/pkg/sub/m.py": "",
                      "scripts/run.py": ""})
    assert module_name(tmp_path / "src/pkg/sub/m.py", tmp_path) == ("pkg.sub.m", False)
    assert module_name(tmp_path / "src/pkg/__init__.py", tmp_path) == ("pkg", True)
    assert module_name(tmp_path / "scripts/run.py", tmp_path) == ("run", False)


def test_test_paths():
    assert is_test_path("tests/test_model.py")
    assert is_test_path("pkg/tests/helpers.py")
    assert is_test_path("conftest.py")
    assert is_test_path("model_test.py")
    assert not is_test_path("src/testing_data.py")
    assert not is_test_path("latest.py")
