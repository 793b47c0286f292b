"""The git side of the CI gate: where the repository is, the merge base, renames, old checkouts.

Every call runs ``git`` in a subprocess with ``cwd`` set, ``GIT_TERMINAL_PROMPT=0``,
``LC_ALL=C``, a timeout and no network. Variables that point git at another repository or
index (``GIT_DIR``, ``GIT_INDEX_FILE``... as set inside a git hook) are dropped, so a call
always acts on the repository found from ``cwd`` and never writes the user's index.
Failures the user can fix raise :class:`GitError` with a one-line message.

Renames (:func:`renames`) are git's own similarity detection (``-M``, 50 %) between a commit
and the *working tree*. Staged moves (``git mv``, ``mv`` + ``git add -A``) are visible to a
plain ``git diff``; a move nobody staged shows up as a deleted tracked file plus an untracked
one, so when something was deleted, the untracked files with a deleted file's suffix are
added *intent-to-add* to a throw-away copy of the index (``GIT_INDEX_FILE``) and the diff is
run again. The user's index is never modified. Limits: git skips inexact detection past
``diff.renameLimit`` files (exact moves are always found), and a file edited beyond 50 % is a
delete plus an add, not a rename.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

from mldebt.cache import ignore_all, seal, unseal, user_secret
from mldebt.fileio import write_atomic

_TIMEOUT = 120.0
_CHECKOUT_TIMEOUT = 900.0
# Variables that make git use another repository, work tree or index than cwd's.
_REPO_ENV = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX", "GIT_IMPLICIT_WORK_TREE",
    "GIT_SHALLOW_FILE", "GIT_GRAFT_FILE", "GIT_NAMESPACE",
})
# A repository's own .git/config can name programs for git to run (a repository unpacked
# from an archive brings its .git/config along): the file-system monitor runs on ls-files,
# status, diff and checkout, hooks on checkout. Every git command mldebt runs switches them off.
NO_PROGRAMS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_FETCH_HINT = "`git fetch --deepen=50` or actions/checkout with fetch-depth: 0"


class GitError(Exception):
    """A git problem the user can act on; ``str()`` is one line."""


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_LFS_SKIP_SMUDGE="1",
               GIT_OPTIONAL_LOCKS="0")
    env.update(extra or {})
    return env


def _git(root: Path, args: Sequence[str], *, timeout: float = _TIMEOUT, stdin: str | None = None,
         env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``git args`` in ``root``; the result whatever its exit status. Paths decode as UTF-8
    with ``surrogateescape`` so that any file name round-trips."""
    if not Path(root).is_dir():
        raise GitError(f"{root} is not a directory")
    try:
        return subprocess.run(
            ["git", *NO_PROGRAMS, *args], cwd=root, capture_output=True, text=True, check=False,
            encoding="utf-8", errors="surrogateescape", input=stdin, timeout=timeout,
            env=_env(env),
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), "")
        raise GitError(f"git {verb} timed out after {timeout:.0f} s") from None


def _why(out: subprocess.CompletedProcess[str]) -> str:
    """The first meaningful line of git's complaint."""
    for line in out.stderr.splitlines():
        line = line.strip()
        if line and not line.startswith(("hint:", "warning:")):
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return f"git exited with status {out.returncode}"


def _check(out: subprocess.CompletedProcess[str], what: str) -> str:
    if out.returncode != 0:
        raise GitError(f"{what}: {_why(out)}")
    return out.stdout


def repo_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``; None outside git (or in a bare repo)."""
    where = path if path.is_dir() else path.parent
    if not where.is_dir():
        return None
    out = _git(where, ["rev-parse", "--show-toplevel"])
    if out.returncode != 0:
        if "dubious ownership" in out.stderr:
            raise GitError(f"git refuses to read {where} (owned by another user): run "
                           f"`git config --global --add safe.directory '{where.resolve()}'`")
        return None
    top = out.stdout.strip()
    return Path(top).resolve() if top else None


def head_commit(root: Path) -> str | None:
    """The full sha of HEAD; None before the first commit or outside git."""
    out = _git(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def current_branch(root: Path) -> str | None:
    """The checked-out branch's short name; None on a detached HEAD or outside git. In CI
    (a detached checkout) ``GITHUB_HEAD_REF``/``GITHUB_REF_NAME``/``CI_COMMIT_REF_NAME`` name it."""
    out = _git(root, ["symbolic-ref", "--quiet", "--short", "HEAD"])
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    for var in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        if os.environ.get(var):
            return os.environ[var]
    return None


def resolve(root: Path, rev: str) -> str:
    """The full sha of the commit ``rev`` names (a branch, tag, sha, ``HEAD~2``...)."""
    out = None if rev.startswith("-") or not rev else \
        _git(root, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
    if out is None or out.returncode != 0 or not out.stdout.strip():
        raise GitError(f"unknown revision '{rev}': no such commit, branch or tag in {root}")
    return out.stdout.strip()


def is_shallow(root: Path) -> bool:
    out = _git(root, ["rev-parse", "--is-shallow-repository"])
    return out.returncode == 0 and out.stdout.strip() == "true"


def merge_base(root: Path, rev: str) -> str:
    """The best common ancestor of HEAD and ``rev`` (what a pull request is compared with).
    A shallow clone that lacks ``rev`` or the history down to the merge base is an error that
    says how to fetch more."""
    head = head_commit(root)
    if head is None:
        raise GitError(f"HEAD has no commit yet in {root}")
    try:
        target = resolve(root, rev)
    except GitError:
        if is_shallow(root):
            raise GitError(f"unknown revision '{rev}' in this shallow clone: fetch it with its "
                           f"history, e.g. `git fetch --deepen=50 origin <branch>` or "
                           f"actions/checkout with fetch-depth: 0") from None
        raise
    out = _git(root, ["merge-base", head, target])
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    if out.returncode == 1 and is_shallow(root):
        raise GitError(f"the merge base of HEAD and {rev} is not in this shallow clone: "
                       f"fetch more history, e.g. {_FETCH_HINT}")
    if out.returncode == 1:
        raise GitError(f"HEAD and {rev} have no common history")
    raise GitError(f"cannot find the merge base of HEAD and {rev}: {_why(out)}")


def _name_status(root: Path, base: str, env: Mapping[str, str] | None = None
                 ) -> list[tuple[str, str, str | None]]:
    """``git diff -M --name-status`` of ``base`` against the work tree, below ``root``:
    ``(status letter, repo-relative path, new path for renames)``."""
    args = ["-c", "diff.relative=false", "diff", "--no-ext-diff", "--no-textconv", "-M",
            "--name-status", "-z", base, "--", "."]
    tokens = _check(_git(root, args, env=env), "git diff failed").split("\0")
    rows: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(tokens) and tokens[i]:
        status = tokens[i][:1]
        if status in ("R", "C"):
            rows.append((status, tokens[i + 1], tokens[i + 2]))
            i += 3
        else:
            rows.append((status, tokens[i + 1], None))
            i += 2
    return rows


def _with_untracked(root: Path, base: str, deleted: list[str]
                    ) -> list[tuple[str, str, str | None]] | None:
    """The diff again with the candidate untracked files intent-to-add in a copy of the
    index; None when there is no candidate or git could not do it."""
    suffixes = {PurePosixPath(p).suffix for p in deleted}
    listed = _check(_git(root, ["ls-files", "-z", "--others", "--exclude-standard", "--", "."]),
                    "git ls-files failed")
    candidates = [p for p in listed.split("\0") if p and PurePosixPath(p).suffix in suffixes]
    if not candidates:
        return None
    index = _git(root, ["rev-parse", "--git-path", "index"]).stdout.strip()
    fd, tmp = tempfile.mkstemp(prefix="mldebt-index-")
    os.close(fd)
    try:
        src = root / index if index else None
        if src is not None and src.is_file():
            shutil.copyfile(src, tmp)
        else:
            os.unlink(tmp)  # git starts from an empty index
        env = {"GIT_INDEX_FILE": tmp, "GIT_LITERAL_PATHSPECS": "1"}
        added = _git(root, ["add", "--intent-to-add", "--pathspec-from-file=-",
                            "--pathspec-file-nul"], stdin="\0".join(candidates), env=env)
        if added.returncode != 0:
            return None  # e.g. a split index, an old git: fall back to the staged view
        try:
            return _name_status(root, base, env)
        except GitError:
            return None
    finally:
        with suppress(OSError):
            os.unlink(tmp)


def renames(root: Path, base: str | None) -> dict[str, str]:
    """Old -> new root-relative POSIX path of each file git sees as renamed or moved between
    ``base`` (a commit; None means HEAD) and the work tree, staged or not. Files that are not
    below ``root`` on both sides are left out. Empty before the first commit."""
    prefix = _check(_git(root, ["rev-parse", "--show-prefix"]), f"{root} is not in a git work tree")
    prefix = prefix.rstrip("\n")
    if base is None:
        base = head_commit(root)
        if base is None:
            return {}
    rows = _name_status(root, base)
    deleted = [path for status, path, _ in rows if status == "D"]
    if deleted:
        rows = _with_untracked(root, base, deleted) or rows
    moved: dict[str, str] = {}
    for status, old, new in rows:
        if status == "R" and new is not None and old.startswith(prefix) and new.startswith(prefix):
            moved[old[len(prefix):]] = new[len(prefix):]
    return moved


def last_commit_touching(root: Path, path: Path) -> str | None:
    """The sha of the newest commit that changed ``path`` (absolute or relative to ``root``)."""
    out = _git(root, ["--literal-pathspecs", "-c", "log.showSignature=false", "log", "-1",
                      "--format=%H", "--", str(path)])
    return (out.stdout.strip() or None) if out.returncode == 0 else None


@contextmanager
def worktree(root: Path, commit: str, cache_dir: Path) -> Iterator[Path]:
    """A clean checkout of ``commit`` in a temporary detached worktree under
    ``<cache_dir>/worktrees``, removed on exit even on error. The user's work tree, index and
    branches are left alone (git only records the worktree under ``.git/worktrees`` while it
    exists); hooks, LFS downloads and submodules are skipped. Each call gets its own folder, so
    concurrent scans do not collide."""
    if commit.startswith("-") or not commit:
        raise GitError(f"unknown revision '{commit}'")
    parent = cache_dir / "worktrees"
    parent.mkdir(parents=True, exist_ok=True)
    ignore_all(parent)
    label = re.sub(r"[^A-Za-z0-9]", "_", commit)[:12]
    path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=parent)).resolve()
    try:
        out = _git(root, ["-c", "submodule.recurse=false", "worktree", "add",
                          "--detach", "--quiet", str(path), commit], timeout=_CHECKOUT_TIMEOUT)
        if out.returncode != 0:
            raise GitError(f"cannot check out {commit} into a temporary worktree: {_why(out)}")
        yield path
    finally:
        _remove_worktree(root, path)


def _remove_worktree(root: Path, path: Path) -> None:
    removed = _git(root, ["worktree", "remove", "--force", str(path)])
    if removed.returncode != 0 or path.exists():
        # Not registered (add failed) or half removed: delete the folder, then let git forget
        # it. `prune` only runs here because it also forgets the user's worktrees whose folders
        # are missing at the moment (say, on an unmounted disk).
        shutil.rmtree(path, ignore_errors=True)
        if removed.returncode != 0 and "is not a working tree" not in removed.stderr:
            _git(root, ["worktree", "prune"])


def _entry(cache_dir: Path, key: str) -> Path:
    if not _KEY.fullmatch(key):
        raise ValueError(f"bad cache key {key!r}")
    return cache_dir / "diff" / f"{key}.json"


def cached_json(cache_dir: Path, key: str) -> dict | None:
    """The object stored under ``key`` (e.g. a commit sha), or None. An entry that is corrupt,
    unreadable or not signed with this user's secret (one a pull request planted in the cache
    folder: it would decide which findings count as new) is treated as missing and deleted."""
    entry = _entry(cache_dir, key)
    secret = user_secret()
    try:
        blob = entry.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        blob = b""
    body = unseal(secret, key, blob) if secret is not None else None
    data = None
    if body is not None:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            pass
    if isinstance(data, dict):
        return data
    with suppress(OSError):
        entry.unlink()
    return None


def store_json(cache_dir: Path, key: str, data: dict) -> None:
    """Store ``data`` under ``key`` atomically and signed (see :mod:`mldebt.cache`): readers see
    the old entry or the whole new one. A cache that cannot be written (or signed) is skipped
    silently (it only saves time)."""
    entry = _entry(cache_dir, key)
    secret = user_secret()
    if secret is None:
        return
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        ignore_all(entry.parent)
        write_atomic(entry, seal(secret, key, body), private=True)
    except OSError:
        pass
