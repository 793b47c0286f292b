"""The git plumbing of the CI gate, on real repositories made in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mldebt import gitinfo
from mldebt.gitinfo import GitError

BODY = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(12))


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
                         cwd=root, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _commit(root: Path, message: str, files: dict[str, str] | None = None) -> str:
    _write(root, files or {})
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--allow-empty", "-m", message)
    return _git(root, "rev-parse", "HEAD")


def _repo(root: Path, files: dict[str, str]) -> str:
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    return _commit(root, "first", files)


def _state(root: Path) -> tuple[str, str, str]:
    """What the user sees: status, the index, the branches."""
    return (_git(root, "status", "--porcelain=v1", "-uall"), _git(root, "ls-files", "-s"),
            _git(root, "for-each-ref", "--format=%(refname) %(objectname)"))


# -- where am I ---------------------------------------------------------------------------

def test_outside_git_there_is_no_root_and_no_head(tmp_path):
    (tmp_path / "a.py").write_text("", encoding="utf-8")
    assert gitinfo.repo_root(tmp_path) is None
    assert gitinfo.repo_root(tmp_path / "a.py") is None
    assert gitinfo.repo_root(tmp_path / "missing" / "x.py") is None
    assert gitinfo.head_commit(tmp_path) is None
    with pytest.raises(GitError, match="not in a git work tree"):
        gitinfo.renames(tmp_path, None)


def test_root_head_and_resolve(tmp_path):
    sha = _repo(tmp_path / "r", {"pkg/a.py": "x = 1\n"})
    root = tmp_path / "r"
    assert gitinfo.repo_root(root / "pkg") == root.resolve()
    assert gitinfo.repo_root(root / "pkg" / "a.py") == root.resolve()
    assert gitinfo.head_commit(root / "pkg") == sha
    assert gitinfo.resolve(root, "main") == sha
    assert gitinfo.resolve(root, sha[:7]) == sha
    for bad in ("nope", "--output=/tmp/x", ""):
        with pytest.raises(GitError, match="unknown revision"):
            gitinfo.resolve(root, bad)


def test_before_the_first_commit(tmp_path):
    _git(tmp_path, "init", "-q")
    assert gitinfo.repo_root(tmp_path) == tmp_path.resolve()
    assert gitinfo.head_commit(tmp_path) is None
    assert gitinfo.renames(tmp_path, None) == {}
    assert gitinfo.last_commit_touching(tmp_path, Path("a.py")) is None
    with pytest.raises(GitError, match="no commit"):
        gitinfo.merge_base(tmp_path, "main")


def test_git_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="^git is not installed$"):
        gitinfo.repo_root(tmp_path)


def test_a_hook_environment_does_not_redirect_git(tmp_path, monkeypatch):
    sha = _repo(tmp_path / "r", {"a.py": "x = 1\n"})
    _repo(tmp_path / "other", {"b.py": ""})
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "other" / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "other" / ".git" / "index"))
    assert gitinfo.head_commit(tmp_path / "r") == sha


# -- renames ------------------------------------------------------------------------------

def test_staged_git_mv(tmp_path):
    _repo(tmp_path, {"a.py": BODY, "keep.py": "y = 2\n"})
    odd = "dir with space/é\nnewline.py"
    (tmp_path / "dir with space").mkdir()
    _git(tmp_path, "mv", "a.py", odd)
    assert gitinfo.renames(tmp_path, None) == {"a.py": odd}


def test_plain_mv_then_add_all_with_an_edit(tmp_path):
    _repo(tmp_path, {"src/train.py": BODY})
    (tmp_path / "src/train.py").rename(tmp_path / "train_model.py")
    with (tmp_path / "train_model.py").open("a", encoding="utf-8") as f:
        f.write("def extra():\n    return 0\n")
    _git(tmp_path, "add", "-A")
    assert gitinfo.renames(tmp_path, None) == {"src/train.py": "train_model.py"}


def test_unstaged_move_counts_and_the_index_is_left_alone(tmp_path):
    """A plain `mv` nobody staged: a deleted tracked file plus an untracked one. It counts as a
    rename (git's similarity on a throw-away index); untracked files that are ignored, or
    unrelated, do not."""
    _repo(tmp_path, {"a.py": BODY, "b.py": BODY.replace("x", "y"), ".gitignore": "out/\n"})
    (tmp_path / "a.py").rename(tmp_path / "moved.py")
    (tmp_path / "out").mkdir()
    (tmp_path / "b.py").rename(tmp_path / "out" / "b.py")
    _write(tmp_path, {"new.py": "print('unrelated')\n"})
    before = _state(tmp_path)
    assert gitinfo.renames(tmp_path, None) == {"a.py": "moved.py"}
    assert _state(tmp_path) == before


def test_renames_since_an_older_commit_include_committed_ones(tmp_path):
    base = _repo(tmp_path, {"a.py": BODY, "b.py": BODY.replace("x", "z")})
    _git(tmp_path, "mv", "a.py", "a2.py")
    _commit(tmp_path, "move a")
    _git(tmp_path, "mv", "b.py", "b2.py")
    assert gitinfo.renames(tmp_path, base) == {"a.py": "a2.py", "b.py": "b2.py"}
    assert gitinfo.renames(tmp_path, None) == {"b.py": "b2.py"}


def test_renames_are_relative_to_a_project_subfolder(tmp_path):
    _repo(tmp_path, {"proj/src/a.py": BODY, "proj/b.py": BODY.replace("x", "w"),
                     "other/c.py": BODY.replace("x", "v")})
    _git(tmp_path, "mv", "proj/src/a.py", "proj/a.py")       # inside: kept
    _git(tmp_path, "mv", "proj/b.py", "other/b.py")          # leaves the project: dropped
    _git(tmp_path, "mv", "other/c.py", "other/c2.py")        # outside: dropped
    assert gitinfo.renames(tmp_path / "proj", None) == {"src/a.py": "a.py"}
    assert gitinfo.renames(tmp_path, None) == {
        "proj/src/a.py": "proj/a.py", "proj/b.py": "other/b.py", "other/c.py": "other/c2.py"}


def test_last_commit_touching(tmp_path):
    first = _repo(tmp_path, {"a.py": "x = 1\n", "b[1].py": ""})
    second = _commit(tmp_path, "edit a", {"a.py": "x = 2\n"})
    assert gitinfo.last_commit_touching(tmp_path, Path("a.py")) == second
    assert gitinfo.last_commit_touching(tmp_path, tmp_path / "b[1].py") == first
    assert gitinfo.last_commit_touching(tmp_path, Path("never.py")) is None


# -- merge base ---------------------------------------------------------------------------

def _forked(root: Path) -> tuple[str, str]:
    """main: c1 - c2 - c3; feature: from c2, one commit; HEAD on feature."""
    _repo(root, {"a.py": "x = 1\n"})
    fork = _commit(root, "c2", {"a.py": "x = 2\n"})
    _git(root, "checkout", "-q", "-b", "feature")
    _commit(root, "f1", {"b.py": "y = 1\n"})
    _git(root, "checkout", "-q", "main")
    main_tip = _commit(root, "c3", {"a.py": "x = 3\n"})
    _git(root, "checkout", "-q", "feature")
    return fork, main_tip


def test_merge_base_of_a_branch(tmp_path):
    fork, _ = _forked(tmp_path)
    assert gitinfo.merge_base(tmp_path, "main") == fork
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        gitinfo.merge_base(tmp_path, "nope")


def test_merge_base_without_common_history(tmp_path):
    _repo(tmp_path, {"a.py": ""})
    _git(tmp_path, "checkout", "-q", "--orphan", "other")
    _commit(tmp_path, "unrelated", {"b.py": ""})
    with pytest.raises(GitError, match="no common history"):
        gitinfo.merge_base(tmp_path, "main")


def test_merge_base_in_a_shallow_clone_says_how_to_fetch_more(tmp_path):
    upstream = tmp_path / "up"
    _forked(upstream)
    old = _git(upstream, "rev-parse", "main~2")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", upstream.as_uri(),
         str(clone))
    # both tips are here, their history is not
    with pytest.raises(GitError, match=r"^the merge base of HEAD and origin/main is not in this "
                                       r"shallow clone: fetch more history, e\.g\. `git fetch "
                                       r"--deepen=50` or actions/checkout with fetch-depth: 0$"):
        gitinfo.merge_base(clone, "origin/main")
    # an old commit, or a branch never fetched
    narrow = tmp_path / "narrow"
    _git(tmp_path, "clone", "-q", "--depth", "1", "-b", "feature", upstream.as_uri(), str(narrow))
    for rev in (old, "origin/main"):
        with pytest.raises(GitError, match=f"unknown revision '{rev}' in this shallow clone"
                                           ".*fetch-depth: 0"):
            gitinfo.merge_base(narrow, rev)
    # after fetching the history the same call works
    _git(clone, "fetch", "-q", "--unshallow")
    assert gitinfo.merge_base(clone, "origin/main") == _git(upstream, "rev-parse", "main~1")


# -- worktree -----------------------------------------------------------------------------

def test_worktree_of_an_older_commit(tmp_path):
    root, cache = tmp_path / "r", tmp_path / "r" / ".cache"
    old = _repo(root, {"a.py": "x = 1\n", ".gitignore": ""})
    _commit(root, "c2", {"a.py": "x = 2\n", "b.py": ""})
    _write(root, {"a.py": "x = 'uncommitted'\n", "untracked.py": ""})
    _git(root, "add", "untracked.py")
    before = _state(root)
    with gitinfo.worktree(root, old, cache) as wt:
        assert wt.is_dir() and wt.is_relative_to(cache.resolve())
        assert (wt / "a.py").read_text(encoding="utf-8") == "x = 1\n"
        assert not (wt / "b.py").exists() and not (wt / "untracked.py").exists()
        assert gitinfo.head_commit(wt) == old
        assert _state(root) == before  # the cache folder stays out of `git status`
    assert not wt.exists()
    assert _git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert _state(root) == before
    assert (root / "a.py").read_text(encoding="utf-8") == "x = 'uncommitted'\n"


def test_worktree_is_removed_on_error_and_runs_no_hook(tmp_path):
    root, cache = tmp_path / "r", tmp_path / "cache"
    sha = _repo(root, {"a.py": ""})
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch '{tmp_path / 'hook-ran'}'\n", encoding="utf-8")
    hook.chmod(0o755)
    with pytest.raises(RuntimeError), gitinfo.worktree(root, sha, cache) as wt:
        with gitinfo.worktree(root, sha, cache) as wt2:  # two at once: distinct folders
            assert wt2 != wt and wt2.is_dir()
        raise RuntimeError("scan failed")
    assert not wt.exists() and not wt2.exists()
    assert not (tmp_path / "hook-ran").exists()
    assert _git(root, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_worktree_of_an_unknown_commit(tmp_path):
    root, cache = tmp_path / "r", tmp_path / "cache"
    _repo(root, {"a.py": ""})
    with pytest.raises(GitError, match="cannot check out"), gitinfo.worktree(root, "0" * 40, cache):
        pass
    assert list((cache / "worktrees").iterdir()) == [cache / "worktrees" / ".gitignore"]
    assert _git(root, "worktree", "list", "--porcelain").count("worktree ") == 1


# -- cache ----------------------------------------------------------------------------------

def test_cache_round_trip_and_corrupt_entries(tmp_path):
    assert gitinfo.cached_json(tmp_path, "abc123") is None
    gitinfo.store_json(tmp_path, "abc123", {"findings": [{"path": "é.py"}]})
    assert gitinfo.cached_json(tmp_path, "abc123") == {"findings": [{"path": "é.py"}]}
    assert [p.name for p in (tmp_path / "diff").iterdir()] == [".gitignore", "abc123.json"]
    for junk in (b'{"findings": [', b"\xff\xfe", b"[1, 2]"):
        (tmp_path / "diff" / "abc123.json").write_bytes(junk)
        assert gitinfo.cached_json(tmp_path, "abc123") is None
        assert not (tmp_path / "diff" / "abc123.json").exists()
    with pytest.raises(ValueError):
        gitinfo.cached_json(tmp_path, "../escape")


def test_cache_entries_not_signed_here_are_not_trusted(tmp_path, monkeypatch):
    """A --diff entry planted in the cache folder (by a pull request, or copied from another
    machine) would decide which findings count as new: it is ignored and deleted."""
    gitinfo.store_json(tmp_path, "abc123", {"baseline": "mine"})
    entry = tmp_path / "diff" / "abc123.json"
    entry.write_bytes(b'{"baseline": "accepts everything"}')  # plain JSON, as an attacker writes it
    assert gitinfo.cached_json(tmp_path, "abc123") is None and not entry.exists()
    gitinfo.store_json(tmp_path, "abc123", {"baseline": "mine"})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    assert gitinfo.cached_json(tmp_path, "abc123") is None
