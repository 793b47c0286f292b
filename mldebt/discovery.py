"""Which files a scan looks at, in a deterministic order.

Inside a git work tree the files are those git would track
(``git ls-files -co --exclude-standard``: tracked plus untracked-but-not-ignored, so nested
``.gitignore`` files and ``.git/info/exclude`` are honoured). Elsewhere the tree is walked,
skipping the usual virtual-environment, build and cache folders. ``exclude`` patterns apply
in both cases, and to files named on the command line too (pre-commit passes file names).
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mldebt.gitinfo import NO_PROGRAMS

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
_TEST_DIRS = frozenset({"tests", "test", "testing_utils"})


@dataclass(frozen=True, slots=True)
class Discovered:
    files: tuple[tuple[Path, str], ...]  # (absolute path, root-relative POSIX path), sorted
    errors: tuple[tuple[str, str], ...]  # (path, message)


def is_source(name: str) -> bool:
    return name.endswith(SOURCE_SUFFIXES)


def is_test_path(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    name = parts[-1] if parts else rel
    if any(p in _TEST_DIRS for p in parts[:-1]):
        return True
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def git_toplevel(path: Path) -> Path | None:
    where = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(
            ["git", *NO_PROGRAMS, "-C", str(where), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return Path(out.stdout.strip()).resolve()


def _git_files(folder: Path) -> list[Path] | None:
    try:
        out = subprocess.run(
            ["git", *NO_PROGRAMS, "-C", str(folder), "ls-files", "-z", "-co", "--exclude-standard", "--", "."],
            capture_output=True, timeout=120, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    names = out.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [folder / n for n in names if n]


def _link_target(p: Path) -> Path | None:
    """Where a symlink finally points (a missing target included: reading it says so), or
    ``None`` for a loop. A strict ``resolve`` meets the loop: ``RuntimeError`` before Python
    3.13, ``OSError(ELOOP)`` from 3.13, where a lax one returns the path as it stands."""
    try:
        return p.resolve(strict=True)
    except RuntimeError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return None


def discover(targets: Iterable[Path], root: Path, excluded: Callable[[str], bool]) -> Discovered:
    root = root.resolve()
    found: dict[str, Path] = {}
    errors: list[tuple[str, str]] = []

    def rel_of(p: Path) -> str | None:
        try:
            return p.absolute().relative_to(root).as_posix() if p.is_symlink() else \
                p.resolve().relative_to(root).as_posix()
        except (ValueError, OSError, RuntimeError):
            try:
                return Path(os.path.relpath(p.absolute(), root)).as_posix()
            except ValueError:
                return None

    def add(p: Path, explicit: bool, rel: str | None = None, link: bool | None = None) -> None:
        rel = rel_of(p) if rel is None else rel
        if rel is None:
            errors.append((str(p), "outside the project root"))
            return
        if excluded(rel):
            return
        if p.is_symlink() if link is None else link:
            target = _link_target(p)
            if target is None:
                errors.append((rel, "symlink loop: not followed"))
                return
            if not target.is_relative_to(root):
                errors.append((rel, "symlink to a file outside the project root: not followed"))
                return
        if not explicit and not is_source(p.name):
            return
        found[rel] = p

    for target in targets:
        target = Path(target)
        if target.is_file() or (target.is_symlink() and not target.is_dir()):
            add(target.absolute(), explicit=True)
            continue
        if not target.is_dir():
            errors.append((str(target), "no such file or directory"))
            continue
        files = _git_files(target) if git_toplevel(target) is not None else None
        walked = target
        if files is None:
            walked = target.absolute()
            files = list(_walk(walked, root, excluded, errors))
        # Below a folder, git and the walk list real folders only (neither descends into a
        # linked one), so a file's root-relative path is the folder's plus the file's own
        # path under it: string work and one lstat per file instead of a full resolve.
        base = _link_target(walked)
        under = base.relative_to(root).as_posix() if base is not None and base.is_relative_to(root) else None
        cut = 0 if str(walked) == "." else len(str(walked)) + 1
        for f in files:
            if not is_source(f.name):
                continue
            try:
                mode = f.lstat().st_mode
            except OSError:
                continue
            link = stat.S_ISLNK(mode)
            if not (link or stat.S_ISREG(mode)):
                continue
            rel = None
            if under is not None:
                sub = str(f)[cut:]
                rel = f"{under}/{sub}" if under not in ("", ".") else sub
            add(f, explicit=False, rel=rel, link=link)
    ordered = tuple(sorted(((path, rel) for rel, path in found.items()), key=lambda t: t[1]))
    return Discovered(ordered, tuple(sorted(errors)))


def non_source_files(root: Path, excluded: Callable[[str], bool],
                     wanted: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """Root-relative POSIX paths of the project's files that are *not* source files, sorted.

    The same view of the project as :func:`discover`: inside a git work tree the files git
    would track (``git ls-files -co --exclude-standard``, so ``.gitignore`` is honoured),
    elsewhere a walk that prunes ``excluded`` folders and virtual environments. ``excluded``
    is applied to every path; ``wanted`` (a predicate on the root-relative path, e.g.
    "is this a declaration file?") filters before anything is stat-ed, which keeps large data
    folders cheap. Symlinks leaving the root, folders and deleted files are left out; nothing
    is read. Used by the project phase to find declaration files (dvc.yaml, Makefiles...).
    """
    root = root.resolve()
    files = _git_files(root) if git_toplevel(root) is not None else None
    if files is None:
        files = list(_walk(root, root, excluded, [], keep=lambda name: not is_source(name)))
    out: set[str] = set()
    for f in files:
        if is_source(f.name):
            continue
        try:
            rel = f.relative_to(root).as_posix()
        except ValueError:
            continue
        if excluded(rel) or (wanted is not None and not wanted(rel)):
            continue
        if f.is_symlink():
            target = _link_target(f)
            if target is None or not target.is_relative_to(root):
                continue
        if f.is_file():
            out.add(rel)
    return tuple(sorted(out))


def _walk(top: Path, root: Path, excluded: Callable[[str], bool],
          errors: list[tuple[str, str]],
          keep: Callable[[str], bool] = is_source) -> Iterable[Path]:
    def onerror(exc: OSError) -> None:
        where = Path(exc.filename or top)
        try:
            rel = where.relative_to(root).as_posix()
        except ValueError:
            rel = str(where)
        errors.append((rel, f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=False):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            try:
                rel = (here / d).relative_to(root).as_posix()
            except ValueError:
                rel = d
            if not excluded(rel) and not (here / d / "pyvenv.cfg").exists():
                kept.append(d)
        dirnames[:] = kept
        for f in sorted(filenames):
            if keep(f):
                yield here / f


def module_name(abspath: Path, root: Path,
                exists: Callable[[Path], bool] = Path.exists,
                packages: Callable[[Path], tuple[str, ...]] | None = None) -> tuple[str, bool]:
    """Dotted module name from the package folders (``__init__.py``) above the file.

    ``exists`` says whether a path exists (the disk by default; in-memory examples pass
    their own). ``packages`` may replace :func:`package_parts` for the file's folder (a
    scan passes a memoised one: files of one folder share it).
    """
    is_package = abspath.name == "__init__.py"
    folder = abspath.parent
    above = packages(folder) if packages is not None else package_parts(folder, root, exists)
    parts = list(above) if is_package else [*above, abspath.stem]
    if is_package and not parts:
        parts = [folder.name]
    return ".".join(parts), is_package


def package_parts(folder: Path, root: Path, exists: Callable[[Path], bool] = Path.exists) -> tuple[str, ...]:
    """The package names from the top package down to ``folder`` (empty outside packages);
    the walk up stops at ``root``."""
    parts = []
    while exists(folder / "__init__.py") and folder != folder.parent:
        parts.append(folder.name)
        if folder == root:
            break
        folder = folder.parent
    return tuple(reversed(parts))
