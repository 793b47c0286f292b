"""What a repository *declares* about its data and pipelines, outside its Python code.

The project phase asks two questions of this module:

* **Is this data location declared?** A read of ``data/raw/users.csv`` is an *undeclared data
  dependency* only when nothing outside the code names it: no DVC ``deps``/``outs``, no Kedro
  catalog ``filepath``, no config value, no Makefile rule, no ``[tool.mldebt.data] declared``
  entry. :meth:`Declarations.declaring` answers with the declaration that covers a location.
* **Is this script part of a declared pipeline?** Scripts run by a DVC stage, a Makefile
  target, an MLflow ``MLproject`` entry point or a Snakemake rule are declared pipeline steps
  (:meth:`Declarations.staged_scripts`); scripts run only by hand-rolled shell drivers
  (:class:`ScriptRun` with ``via="shell"``) are the stuff of pipeline jungles.

Contract
--------
* :func:`declaration_files` picks, from a listing of the repository, the files worth reading;
  :func:`read_declaration_files` reads them (the only I/O here); :func:`load_declarations` is
  a pure function of their texts, the project's Python files and the ``[tool.mldebt.data]``
  settings (:func:`parse_data_settings`).
* Paths are root-relative POSIX. Paths in a ``dvc.yaml`` (and its ``wdir``), a ``.dvc`` file,
  an ``MLproject`` and a Makefile's commands are taken relative to that file's folder; Kedro
  ``filepath``s relative to the Kedro project (the folder above ``conf/``); values in generic
  YAML configs and Snakemake ``input``/``output`` are kept as written (relative to the folder
  the code runs from, the root in practice), like the literals in code they are compared to.
* Templated parts that cannot be resolved statically become wildcards: a DVC ``${item}``, an
  unresolved Hydra/OmegaConf ``${...}``, a Kedro ``{name}`` placeholder, a Make ``%``. A
  wildcard inside a path segment is ``*`` (one segment); an unknown *leading* segment (the root
  in ``${paths.data_dir}/train.csv``, ``$DATA/x.csv``) is ``**`` (any depth). Same-file
  interpolations (``${data.root}/train.csv``, ``${.root}``) and DVC ``vars``/``params.yaml``
  values are resolved. A location that is nothing but wildcards is dropped (it would declare
  everything).
* YAML is composed with the safe loader and walked as a node tree (line numbers come from the
  nodes); nothing is constructed. A ``!!python/...`` tag anywhere refuses the whole file with
  an error entry ("refused a !!python tag").
* Errors: a declaration the project relies on (``dvc.yaml``, ``*.dvc``, ``params.yaml``, a Kedro
  catalog, ``MLproject``, ``pyproject.toml``, ``setup.cfg``) that does not parse gives an
  ``errors`` entry (path, one line with the line number) and loading goes on. Other YAML that
  does not parse (Helm templates with ``{{ }}``, Jinja-templated configs) is skipped silently:
  it is not a declaration mldebt relies on, and reporting it would be noise.
* CI workflows, docker-compose, pre-commit, mkdocs, conda environments, Helm charts and
  Kubernetes manifests are not data configs and are not read (by path, and for manifests and
  API specs also by their top-level keys).
* Output tuples are sorted (by source, line, ...) and free of duplicates.
"""

from __future__ import annotations

import configparser
import difflib
import functools
import json
import posixpath
import re
import shlex
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeclaredLocation:
    """A data location named outside the code.

    ``pattern`` is a normalised root-relative POSIX path, a glob (``*`` within a segment,
    ``**`` across segments) or a URL. ``kind`` is one of ``dvc-dep``, ``dvc-out``, ``params``,
    ``kedro``, ``config``, ``make``, ``mlproject``, ``snakemake``, ``mldebt``.
    """

    pattern: str
    source: str
    line: int
    kind: str


@dataclass(frozen=True, slots=True)
class DeclaredStage:
    """A declared pipeline step: a DVC stage, a Makefile target, an MLproject entry point, a
    Snakemake rule. ``scripts`` are the project's ``.py``/``.ipynb`` files its command runs
    (also through a shell script it calls); ``deps``/``outs`` its data (code left out)."""

    name: str
    source: str
    line: int
    kind: str  # "dvc" | "make" | "mlproject" | "snakemake"
    scripts: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """A line outside Python that runs one of the project's Python files."""

    source: str
    line: int
    script: str  # root-relative path of the .py (or .ipynb, run by papermill/jupyter)
    via: str  # "shell" | "make" | "docker"


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A console script: ``name = "pkg.cli:main"``. ``path`` is the module's file, if found."""

    name: str
    target: str
    module: str
    source: str
    line: int
    path: str | None = None


@dataclass(frozen=True, slots=True)
class DataSettings:
    """The validated ``[tool.mldebt.data]`` table (see :func:`parse_data_settings`)."""

    declared: tuple[str, ...] = ()
    # (qualified name, position of the location argument or None, keyword or None)
    readers: tuple[tuple[str, int | None, str | None], ...] = ()
    writers: tuple[tuple[str, int | None, str | None], ...] = ()


@dataclass(frozen=True)
class Declarations:
    """Everything declared, plus lookups. Build it with :func:`load_declarations`."""

    locations: tuple[DeclaredLocation, ...] = ()
    stages: tuple[DeclaredStage, ...] = ()
    runs: tuple[ScriptRun, ...] = ()
    entry_points: tuple[EntryPoint, ...] = ()
    files: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    # lookup indexes, built once (see __post_init__); not part of the value
    _index: dict[str, Any] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        best: dict[tuple[str, ...], DeclaredLocation] = {}
        for loc in sorted(self.locations, key=lambda x: (x.source, x.line, x.kind)):
            segs = _segments(normalize_location(loc.pattern), key=False)
            if _has_literal(segs):
                best.setdefault(segs, loc)
        literal = {segs: loc for segs, loc in best.items() if not any(map(_is_wild, segs))}
        by_head: dict[str, list[tuple[str, ...]]] = {}
        other: list[tuple[str, ...]] = []
        for segs in best:
            if segs in literal:
                continue
            if _is_wild(segs[0]):
                other.append(segs)
            else:
                by_head.setdefault(segs[0], []).append(segs)
        self._index.update(best=best, literal=literal, by_head=by_head, other=other, cache={})

    def declaring(self, key: str) -> DeclaredLocation | None:
        """The declaration that covers the artifact ``key``, or None.

        ``key`` is a root-relative POSIX path or a URL; ``*`` stands for a part unknown
        statically (one segment; a leading ``*`` segment, an unknown root, any depth).
        ``./`` prefixes, ``..``, backslashes and trailing ``/`` are normalised on both sides.

        * A declared folder covers everything below it: ``data/raw`` covers
          ``data/raw/x.csv`` but not ``data/raw2/x.csv``.
        * Globs match both ways, as "could be the same file": a declared ``data/*.csv``
          covers ``data/train.csv``, and a key ``data/*.csv`` (a name computed at run time) is
          covered by a declared ``data/train.csv``. Failing to find a declaration makes a
          finding, so the doubt goes to "declared".
        * A key with nothing but wildcards is covered by nothing (it says nothing).

        The most specific declaration wins: an exact match, then the longest pattern, then
        the first by (source, line).
        """
        cache: dict[str, DeclaredLocation | None] = self._index["cache"]
        if key in cache:
            return cache[key]
        segs = _segments(normalize_location(key), key=True)
        found: list[tuple[str, ...]] = []
        if _has_literal(segs):
            best, literal = self._index["best"], self._index["literal"]
            if any(map(_is_wild, segs)):
                found = [p for p in best if _covers(p, segs)]
            else:
                found = [segs[:i] for i in range(len(segs), 0, -1) if segs[:i] in literal]
                found.extend(p for p in self._index["by_head"].get(segs[0], ())
                             if _covers(p, segs))
            found.extend(p for p in self._index["other"] if _covers(p, segs))
        hit = None
        if found:
            locs = self._index["best"]
            hit = locs[min(found, key=lambda p: (p != segs, -_specificity(locs[p].pattern),
                                                 locs[p].source, locs[p].line,
                                                 locs[p].pattern))]
        if len(cache) < 100_000:
            cache[key] = hit
        return hit

    def staged_scripts(self) -> frozenset[str]:
        """The Python files run by any declared stage."""
        return frozenset(s for stage in self.stages for s in stage.scripts)


# --------------------------------------------------------------------------------------------
# [tool.mldebt.data]
# --------------------------------------------------------------------------------------------

_DATA_KEYS = ("declared", "readers", "writers")
_QUALNAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")


def parse_data_settings(table: Mapping[str, Any]) -> DataSettings:
    """Validate ``[tool.mldebt.data]``; raise ``ValueError`` with one line naming the key.

    * ``declared``: list of paths, globs or URLs the project declares as its data.
    * ``readers`` / ``writers``: list of the project's own I/O functions, each
      ``"pkg.io.load_table"`` (location = first positional argument: ``(name, 0, None)``),
      ``"pkg.io.load_table:path"`` (keyword ``path``, also accepted positionally at 0:
      ``(name, 0, "path")``) or ``"pkg.io.save_table:1"`` (position 1: ``(name, 1, None)``).

    Indexes in messages count from 0, as TOML arrays do in Python. Unknown keys are errors,
    with a did-you-mean.
    """
    where = "tool.mldebt.data"
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table, got {type(table).__name__}")
    for key in table:
        if key not in _DATA_KEYS:
            close = difflib.get_close_matches(str(key).replace("_", "-"), _DATA_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}.{key}: unknown key{hint}; expected one of "
                             f"{', '.join(_DATA_KEYS)}")

    def strings(key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise ValueError(f"{where}.{key}: expected a list of strings, got "
                             f"{type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"{where}.{key}[{i}]: expected a string, got "
                                 f"{type(item).__name__} {item!r}")
            if not item.strip():
                raise ValueError(f"{where}.{key}[{i}]: empty string")
        return value

    declared: list[str] = []
    for i, item in enumerate(strings("declared")):
        norm = normalize_location(item)
        if not _has_literal(_segments(norm, key=False)):
            raise ValueError(f"{where}.declared[{i}]: {item!r} would declare everything; "
                             "name a folder, a file, a glob or a URL")
        if norm not in declared:
            declared.append(norm)

    def functions(key: str) -> tuple[tuple[str, int | None, str | None], ...]:
        out: list[tuple[str, int | None, str | None]] = []
        for i, item in enumerate(strings(key)):
            name, sep, arg = item.strip().partition(":")
            name, arg = name.strip(), arg.strip()
            if not _QUALNAME.match(name):
                raise ValueError(f"{where}.{key}[{i}]: {item!r}: expected a qualified function "
                                 "name such as 'pkg.io.load_table', optionally ':<keyword>' or "
                                 "':<position>'")
            spec: tuple[str, int | None, str | None]
            if not sep:
                spec = (name, 0, None)
            elif arg.isdigit():
                spec = (name, int(arg), None)
            elif _IDENT.match(arg):
                spec = (name, 0, arg)
            else:
                raise ValueError(f"{where}.{key}[{i}]: {item!r}: after ':' expected a keyword "
                                 "name or a position (0, 1, ...)")
            if spec not in out:
                out.append(spec)
        return tuple(out)

    return DataSettings(tuple(declared), functions("readers"), functions("writers"))


# --------------------------------------------------------------------------------------------
# Which files are declarations
# --------------------------------------------------------------------------------------------

# YAML that is about CI, packaging, docs or deployment, not data.
_SKIP_YAML_DIRS = frozenset({
    ".github", ".gitlab", ".circleci", ".buildkite", ".azure-pipelines", ".devcontainer",
    ".vscode", ".idea", "charts", "helm", "k8s", "kubernetes", "kustomize", ".dvc", ".tekton",
    ".woodpecker", ".gitea", ".forgejo",
})
_SKIP_YAML_NAMES = frozenset({
    ".gitlab-ci.yml", ".gitlab-ci.yaml", ".travis.yml", ".travis.yaml", "appveyor.yml",
    "azure-pipelines.yml", "azure-pipelines.yaml", "bitbucket-pipelines.yml", "cloudbuild.yaml",
    "cloudbuild.yml", "buildspec.yml", "codecov.yml", ".codecov.yml", "codecov.yaml",
    ".readthedocs.yml", ".readthedocs.yaml", "readthedocs.yml", "mkdocs.yml", "mkdocs.yaml",
    ".pre-commit-config.yaml", ".pre-commit-config.yml", ".pre-commit-hooks.yaml",
    "compose.yml", "compose.yaml", "meta.yaml", ".condarc", "conda-lock.yml", "pnpm-lock.yaml",
    "_config.yml", "_toc.yml", "chart.yaml", "dependabot.yml", ".mergify.yml", ".golangci.yml",
    ".gitpod.yml", ".cirrus.yml", ".drone.yml", "serverless.yml", "serverless.yaml",
    "python_env.yaml", "citation.yaml", ".yamllint", ".yamllint.yml", ".yamllint.yaml",
    ".markdownlint.yaml", ".markdownlint.yml", "skaffold.yaml", "kustomization.yaml",
    "devfile.yaml", "taskfile.yml", "taskfile.yaml", ".clang-format", "credentials.yml",
    "credentials.yaml", "dvc.lock",
})
_SKIP_YAML_PREFIXES = ("docker-compose", "compose.", "environment", "conda", "openapi",
                       "swagger", "requirements", "credentials")
_WELL_KNOWN = frozenset({"dvc", "dvcfile", "params", "kedro", "make", "mlproject", "snakemake",
                         "pyproject", "setupcfg"})


def declaration_kind(path: str) -> str | None:
    """What sort of declaration file ``path`` (root-relative POSIX) is, or None.

    ``dvc`` (dvc.yaml), ``dvcfile`` (``*.dvc``), ``params`` (params.yaml), ``kedro``
    (``catalog*.yml`` or ``catalog/*.yml``), ``config`` (other YAML that may hold data
    locations), ``make``, ``shell``, ``docker``, ``mlproject``, ``snakemake``, ``pyproject``,
    ``setupcfg``.
    """
    parts = path.split("/")
    name = parts[-1]
    low = name.lower()
    if low in ("dvc.yaml", "dvc.yml"):
        return "dvc"
    if low.endswith(".dvc") and len(low) > 4:
        return "dvcfile"
    if name in ("Makefile", "makefile", "GNUmakefile") or low.endswith((".mk", ".mak")):
        return "make"
    if low.endswith((".sh", ".bash", ".zsh")):
        return "shell"
    if (low in ("dockerfile", "containerfile") or low.startswith("dockerfile.")
            or low.endswith(".dockerfile")):
        return "docker"
    if low == "mlproject":
        return "mlproject"
    if name == "Snakefile" or low.endswith((".smk", ".snakefile")):
        return "snakemake"
    if low == "pyproject.toml":
        return "pyproject"
    if low == "setup.cfg":
        return "setupcfg"
    if not low.endswith((".yaml", ".yml")):
        return None
    if low in ("params.yaml", "params.yml"):
        return "params"
    if low.startswith("catalog") or (len(parts) > 1 and parts[-2] == "catalog"):
        return "kedro"
    if low in _SKIP_YAML_NAMES or low.startswith(_SKIP_YAML_PREFIXES):
        return None
    if any(p.lower() in _SKIP_YAML_DIRS for p in parts[:-1]):
        return None
    if "templates" in parts[:-1] and any(p in ("charts", "helm", "chart") for p in parts):
        return None
    return "config"


def declaration_files(paths: Iterable[str]) -> list[str]:
    """The declaration files among ``paths`` (root-relative POSIX), sorted, without repeats."""
    return sorted({p for p in paths if declaration_kind(p) is not None})


def read_declaration_files(root: Path, paths: Iterable[str], max_bytes: int = 1_000_000
                           ) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Read ``paths`` (root-relative) under ``root``: (texts, errors).

    UTF-8 (a BOM is dropped). A file larger than ``max_bytes`` is an error when it is a
    well-known declaration (dvc.yaml, a Kedro catalog, a Makefile, ``pyproject.toml``...) and
    skipped silently otherwise (a big YAML file is usually data). Unreadable files and bad
    encodings are errors; a symlink that leaves the root is an error and is not read.
    """
    texts: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    top = root.resolve()
    for rel in sorted(set(paths)):
        p = root / rel
        well_known = declaration_kind(rel) in _WELL_KNOWN
        try:
            if p.is_symlink() and not p.resolve().is_relative_to(top):
                errors.append((rel, "symlink to a file outside the project root: not read"))
                continue
            size = p.stat().st_size
            if size > max_bytes:
                if well_known:
                    errors.append((rel, f"too big to read ({size} bytes > {max_bytes})"))
                continue
            data = p.read_bytes()
        except OSError as exc:
            errors.append((rel, f"cannot read: {exc.strerror or exc}"))
            continue
        try:
            texts[rel] = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors.append((rel, f"not UTF-8 text (byte {exc.start})"))
    return texts, sorted(errors)


# --------------------------------------------------------------------------------------------
# Locations: normalising, matching
# --------------------------------------------------------------------------------------------

_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_SCHEME_ALIASES = {"gcs": "gs", "s3a": "s3", "s3n": "s3"}
_DATA_SCHEMES = frozenset({
    "s3", "s3a", "s3n", "gs", "gcs", "az", "abfs", "abfss", "adl", "wasb", "wasbs", "hdfs",
    "http", "https", "ftp", "sftp", "file", "hf", "dbfs", "oss", "webhdfs", "postgresql",
    "postgres", "mysql", "sqlite", "mongodb", "redshift", "snowflake", "bigquery",
})


def normalize_location(text: str) -> str:
    """One spelling per location: URLs keep their scheme (lower-cased; ``gcs``->``gs``,
    ``s3a``/``s3n``->``s3``) and lose repeated and trailing ``/``; paths lose ``./``, ``.``
    segments, resolvable ``..``, trailing ``/``, and use ``/`` for ``\\``. The root is ``.``."""
    s = text.strip()
    m = _URL_RE.match(s)
    if m:
        scheme = m.group(1).lower()
        scheme = _SCHEME_ALIASES.get(scheme, scheme)
        rest = re.sub(r"/{2,}", "/", m.group(2)).rstrip("/")
        return f"{scheme}://{rest}"
    s = s.replace("\\", "/")
    absolute = s.startswith("/")
    parts: list[str] = []
    for seg in s.split("/"):
        if seg in ("", "."):
            continue
        if seg == ".." and parts and parts[-1] != "..":
            parts.pop()
            continue
        if seg == ".." and absolute:
            continue
        parts.append(seg)
    out = "/".join(parts)
    if absolute:
        return "/" + out
    return out or "."


def _segments(norm: str, key: bool) -> tuple[str, ...]:
    m = _URL_RE.match(norm)
    if m:
        rest = m.group(2)
        return (m.group(1) + "://", *(rest.split("/") if rest else ()))
    if norm in (".", ""):
        return ()
    if norm.startswith("/"):
        return ("/", *norm[1:].split("/")) if norm != "/" else ("/",)
    segs = [re.sub(r"\*{2,}", "*", s) if s != "**" else s for s in norm.split("/")]
    if key and segs and segs[0] == "*":
        segs[0] = "**"  # an unknown root: any depth
    return tuple(segs)


def _is_wild(seg: str) -> bool:
    return "*" in seg or "?" in seg or "[" in seg


def _has_literal(segs: Sequence[str]) -> bool:
    for seg in segs:
        if seg in ("/", "**") or seg.endswith("://"):
            continue
        if re.sub(r"\[[^\]]*\]|[*?.]", "", seg):
            return True
    return False


def _specificity(pattern: str) -> int:
    return len(re.sub(r"[*?]", "", pattern))


_STAR = None  # in a tokenised segment: any run of characters; "" is any one character


@functools.lru_cache(maxsize=8192)
def _seg_tokens(seg: str) -> tuple[str | None, ...]:
    out: list[str | None] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            if not out or out[-1] is not _STAR:
                out.append(_STAR)
        elif c == "?":
            out.append("")
        elif c == "[" and seg.find("]", i + 2) > 0:
            out.append("")
            i = seg.find("]", i + 2)
        else:
            out.append(c)
        i += 1
    return tuple(out)


@functools.lru_cache(maxsize=65536)
def _seg_meet(a: str, b: str) -> bool:
    """Can glob segments ``a`` and ``b`` match one same name?"""
    if a == b:
        return True
    if not _is_wild(a) and not _is_wild(b):
        return False
    ta, tb = _seg_tokens(a), _seg_tokens(b)
    la, lb = len(ta), len(tb)
    memo: dict[tuple[int, int], bool] = {}
    stack = [(0, 0, False)]
    # iterative DFS with memo (segments can be long: no recursion)
    while stack:
        i, j, expanded = stack.pop()
        if (i, j) in memo:
            continue
        if i < la and ta[i] is _STAR:
            nxt = [(i + 1, j)] + ([(i, j + 1)] if j < lb else [])
        elif j < lb and tb[j] is _STAR:
            nxt = [(i, j + 1)] + ([(i + 1, j)] if i < la else [])
        elif i == la or j == lb:
            memo[(i, j)] = i == la and j == lb
            continue
        elif ta[i] == "" or tb[j] == "" or ta[i] == tb[j]:
            nxt = [(i + 1, j + 1)]
        else:
            memo[(i, j)] = False
            continue
        if not expanded:
            stack.append((i, j, True))
            stack.extend((x, y, False) for x, y in nxt if (x, y) not in memo)
        else:
            memo[(i, j)] = any(memo.get(n, False) for n in nxt)
    return memo.get((0, 0), False)


_FILE_LIKE = re.compile(r"[^.*]\.[A-Za-z0-9]{1,8}$")


def _covers(p: tuple[str, ...], k: tuple[str, ...]) -> bool:
    """Does declared pattern ``p`` cover key ``k`` (at it or below it, maybe via globs)?"""
    memo: dict[tuple[int, int], bool] = {}

    def g(i: int, j: int) -> bool:
        hit = memo.get((i, j))
        if hit is not None:
            return hit
        if i == len(p):
            # at P or below it; below only through a key's unknown part if P is a folder
            r = j == len(k) or k[j] != "**" or not _FILE_LIKE.search(p[-1])
        elif p[i] == "**":
            r = g(i + 1, j) or (j < len(k) and g(i, j + 1))
        elif j == len(k):
            r = False
        elif k[j] == "**":
            r = g(i, j + 1) or g(i + 1, j)
        else:
            r = _seg_meet(p[i], k[j]) and g(i + 1, j + 1)
        memo[(i, j)] = r
        return r

    if len(p) + len(k) > 200:  # absurd depth: compare literally
        return k[:len(p)] == p
    return g(0, 0)


# --------------------------------------------------------------------------------------------
# What a data location looks like
# --------------------------------------------------------------------------------------------

DATA_EXTENSIONS: tuple[str, ...] = (
    ".csv", ".tsv", ".parquet", ".pq", ".feather", ".json", ".jsonl", ".ndjson", ".pkl",
    ".pickle", ".joblib", ".npy", ".npz", ".h5", ".hdf5", ".h5ad", ".pt", ".pth", ".ckpt",
    ".onnx", ".tfrecord", ".tfrecords", ".txt", ".zip", ".gz", ".bz2", ".xz", ".tgz", ".tar",
    ".zst", ".arrow", ".db", ".sqlite", ".sqlite3", ".xlsx", ".xls", ".avro", ".orc",
    ".safetensors", ".mat", ".lmdb", ".msgpack", ".bin", ".xml",
)
_CODE_EXTENSIONS = (".py", ".pyc", ".pyi", ".pyx", ".ipynb", ".sh", ".bash", ".zsh", ".js",
                    ".ts", ".c", ".cc", ".cpp", ".h", ".so", ".dll", ".exe", ".md", ".rst")
_MIME = re.compile(r"^(?:application|text|image|audio|video|multipart|font|message)/[\w.+-]+$")
_PATH_CHARS = re.compile(r"^[\w.\-/*~@+=,]+$")
_WILD = "\x00"  # an unresolved part, before it becomes * or **
_ROOT = "\x02"  # ${hydra:runtime.cwd}: the project root


def looks_like_location(value: str) -> bool:
    """Is this (interpolated, ``*``-wildcarded) string value a data location?

    A URL with a data scheme (s3, gs, az, hdfs, http(s), file, database URLs...), or a path
    made of path characters that contains ``/`` or ends with a data-file extension. Not:
    anything with whitespace, a MIME type, a code file, a date or ratio, a flag.
    """
    s = value.strip()
    if not s or len(s) > 500 or any(c.isspace() for c in s):
        return False
    m = _URL_RE.match(s)
    if m:
        return m.group(1).lower() in _DATA_SCHEMES and bool(m.group(2).strip("/"))
    if s.startswith("-") or not _PATH_CHARS.match(s):
        return False
    if not re.search(r"[A-Za-z]", s.replace("*", "")):
        return False
    low = s.lower()
    if low.endswith(_CODE_EXTENSIONS):
        return False
    if low.endswith(DATA_EXTENSIONS):
        return bool(low.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    if "/" not in s or _MIME.match(s):
        return False
    return bool(re.sub(r"[*/.~]", "", s))


def _finish(text: str, braces: bool = True) -> str:
    """Interpolated text -> pattern: ``{name}``/``$VAR`` holes become wildcards; a leading
    unknown segment is ``**``, any other unknown part ``*``."""
    s = text.replace(_ROOT + "/", "").replace(_ROOT, "")
    if braces:
        s = re.sub(r"\{[^{}/]*\}", _WILD, s)
    s = re.sub(r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_]\w*", _WILD, s)
    if _URL_RE.match(s):
        return s.replace(_WILD, "*")
    segs = s.split("/")
    out = []
    for i, seg in enumerate(segs):
        if i == 0 and seg and set(seg) == {_WILD}:
            out.append("**")
        else:
            out.append(re.sub(r"\*{2,}", "*", seg.replace(_WILD, "*")) if seg != "**" else seg)
    return "/".join(out)


def _join(base: str, path: str) -> str:
    """``path`` from folder ``base`` (root-relative), normalised; URLs, absolute and home
    paths, and paths with an unknown root stay as they are."""
    if _URL_RE.match(path) or path.startswith(("/", "~", "**")) or not base:
        return normalize_location(path)
    return normalize_location(f"{base}/{path}")


# --------------------------------------------------------------------------------------------
# YAML: safe composition, python-tag refusal, node walks, interpolation
# --------------------------------------------------------------------------------------------


class _DeclError(Exception):
    """A one-line problem with a declaration file."""


def _compose(text: str) -> list[yaml.Node]:
    try:
        docs = [d for d in yaml.compose_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "syntax error"
        raise _DeclError(f"invalid YAML{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise _DeclError(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None
    except RecursionError:
        raise _DeclError("invalid YAML: nested too deeply") from None
    for doc in docs:
        for node in _nodes(doc):
            if node.tag.startswith("tag:yaml.org,2002:python/"):
                tag = "!!" + node.tag[len("tag:yaml.org,2002:"):]
                raise _DeclError(f"refused a !!python tag ({tag}) at line "
                                 f"{node.start_mark.line + 1}: mldebt never constructs Python "
                                 "objects from YAML")
    return docs


def _nodes(root: yaml.Node) -> Iterator[yaml.Node]:
    """Every node once (aliases are shared nodes: a billion laughs stays small)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append(v)
                stack.append(k)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _items(node: yaml.Node | None) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _is_str(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


_Found = tuple["yaml.Node", "_Tree", tuple[str, ...]]


class _Tree:
    """Dotted-key lookups in YAML roots, for ``${a.b}`` interpolation (first root wins).

    ``fallback`` looks elsewhere when the roots do not have the key (Hydra config groups:
    ``${paths.data_dir}`` in ``configs/train.yaml`` is ``data_dir`` in
    ``configs/paths/default.yaml``); it returns the node, the tree of its file and the key
    path there.
    """

    def __init__(self, roots: Sequence[yaml.Node],
                 fallback: Callable[[tuple[str, ...]], _Found | None] | None = None) -> None:
        self.roots = [r for r in roots if isinstance(r, yaml.MappingNode)]
        self.fallback = fallback

    def lookup(self, parts: tuple[str, ...]) -> _Found | None:
        node = self.get(parts)
        if node is not None:
            return node, self, parts
        return self.fallback(parts) if self.fallback is not None else None

    def get(self, parts: Sequence[str]) -> yaml.Node | None:
        for root in self.roots:
            node: yaml.Node | None = root
            for part in parts:
                if isinstance(node, yaml.MappingNode):
                    node = _get(node, part)
                elif isinstance(node, yaml.SequenceNode) and part.isdigit():
                    idx = int(part)
                    node = node.value[idx] if idx < len(node.value) else None
                else:
                    node = None
                if node is None:
                    break
            if node is not None:
                return node
        return None


_INTERP_PARTS = re.compile(r"[^.\[\]]+")


def _interpolate(text: str, tree: _Tree | None, here: tuple[str, ...] = (), depth: int = 0) -> str:
    """Replace ``${...}`` by the value it names in ``tree`` or by the unknown marker."""
    if "${" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        if start > 0 and text[start - 1] == "\\":
            out.append(text[i:start - 1] + "${")
            i = start + 2
            continue
        out.append(text[i:start])
        level, j = 0, start + 1
        while j < len(text):
            if text[j] == "{":
                level += 1
            elif text[j] == "}":
                level -= 1
                if level == 0:
                    break
            j += 1
        if j >= len(text):
            out.append(_WILD)
            break
        out.append(_resolve(text[start + 2:j].strip(), tree, here, depth))
        i = j + 1
    return "".join(out)


def _resolve(expr: str, tree: _Tree | None, here: tuple[str, ...], depth: int) -> str:
    if "${" in expr or tree is None or depth > 8 or not expr:
        return _WILD
    if ":" in expr:
        name, _, arg = expr.partition(":")
        if name.strip() == "hydra" and arg.strip() in ("runtime.cwd", "runtime.cwd/"):
            return _ROOT
        return _WILD
    dots = len(expr) - len(expr.lstrip("."))
    parts = tuple(_INTERP_PARTS.findall(expr[dots:]))
    if not parts:
        return _WILD
    if dots:
        up = dots - 1
        if up > len(here):
            return _WILD
        parts = (*here[:len(here) - up], *parts)
    found = tree.lookup(parts)
    if found is None:
        return _WILD
    node, owner, where = found
    if not isinstance(node, yaml.ScalarNode) or node.value is None or \
            node.tag == "tag:yaml.org,2002:null":
        return _WILD
    return _interpolate(str(node.value), owner, where[:-1], depth + 1)


_SKIP_VALUE_KEYS = frozenset({
    "_target_", "_partial_", "_convert_", "class_path", "_class_", "target", "description",
    "help", "doc", "docs", "comment", "summary", "title", "author", "email", "license",
    "version", "format", "pattern", "regex", "type", "dtype", "activation", "metric",
})


def _string_values(root: yaml.Node) -> Iterator[tuple[tuple[str, ...], yaml.ScalarNode]]:
    """(key path of the parent mapping, node) for string values (not keys) of a config.

    Skips Hydra's top-level ``defaults`` list (config groups, not files) and values of keys
    that name classes or describe things (``_target_``, ``class_path``, ``description``...).
    """
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            if id(node) in seen:
                continue
            seen.add(id(node))
            for k, v in reversed(node.value):
                key = k.value if isinstance(k, yaml.ScalarNode) else None
                if key is None or key in _SKIP_VALUE_KEYS or key == "<<":
                    continue
                if key == "defaults" and not path:
                    continue
                if _is_str(v):
                    yield path, v  # type: ignore[misc]
                else:
                    stack.append((v, (*path, str(key))))
        elif isinstance(node, yaml.SequenceNode):
            if id(node) in seen:
                continue
            seen.add(id(node))
            for idx in range(len(node.value) - 1, -1, -1):
                item = node.value[idx]
                if _is_str(item):
                    yield path, item  # type: ignore[misc]
                else:
                    stack.append((item, (*path, str(idx))))


# --------------------------------------------------------------------------------------------
# Commands: which project Python files does a command line run?
# --------------------------------------------------------------------------------------------

_PYTHON_RE = re.compile(r"^(?:python(?:\d+(?:\.\d+)?)?w?|pypy\d*(?:\.\d+)?|py)$")
_WRAPPERS = frozenset({
    "nohup", "time", "env", "exec", "nice", "sudo", "command", "builtin", "stdbuf", "taskset",
    "numactl", "xvfb-run", "timeout", "srun", "mpirun", "mpiexec", "horovodrun", "uv", "poetry",
    "pipenv", "pdm", "hatch", "conda", "mamba", "micromamba", "pixi", "rye", "accelerate",
    "torchrun", "deepspeed", "streamlit", "kernprof", "coverage", "py-spy", "scalene", "memray",
    "ipython", "papermill", "jupyter", "catchsegv", "chronic", "ts", "unbuffer", "caffeinate",
    "ddp", "lightning", "wandb", "dvc", "mlflow", "submitit", "parallel", "xargs", "watch",
})
_MODULE_LAUNCHERS = frozenset({
    "torch.distributed.launch", "torch.distributed.run", "accelerate.commands.launch",
    "deepspeed", "cProfile", "profile", "pdb", "trace", "streamlit", "memray", "scalene",
    "debugpy", "line_profiler", "kernprof", "papermill", "jupyter", "nbconvert",
})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}",
                       "fi", "done", "esac"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "source", "."})
_HERE = "__MLDEBT_HERE__"
_HERE_SUBS = (
    (re.compile(r"\$\(\s*dirname\s+[\"']?(?:\$0|\$\{0\}|\$\{BASH_SOURCE(?:\[0\])?\}|"
                r"\$BASH_SOURCE|\$\{\(%\):-%x\})[\"']?\s*\)|`\s*dirname\s+[\"']?\$0[\"']?\s*`"),
     _HERE),
    (re.compile(r"\$\(\s*cd\s+[\"']?" + _HERE + r"(/\.\.)?[\"']?[^()]*?pwd(?:\s+-P)?\s*\)"),
     _HERE + r"\1"),
    (re.compile(r"\$\(\s*(?:realpath|readlink\s+-f)\s+[\"']?" + _HERE + r"(/\.\.)?[\"']?\s*\)"),
     _HERE + r"\1"),
)
_ASSIGN_WORD = re.compile(r"^[A-Za-z_]\w*=")


def _is_python(tok: str) -> bool:
    base = tok.rsplit("/", 1)[-1]
    if _PYTHON_RE.match(base):
        return True
    return tok.startswith("$") and "PY" in tok.upper() and "/" not in tok


def _split_commands(line: str) -> list[str]:
    """Split a shell line into simple commands (``&&``, ``||``, ``;``, ``|``, ``&``,
    subshells, command substitutions, newlines), dropping comments; quotes respected."""
    out: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote:
            buf.append(c)
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < n:
                buf.append(line[i + 1])
                i += 1
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c == "\\" and i + 1 < n:
            buf.append(c + line[i + 1])
            i += 1
        elif c in ";&|()`\n":
            if c == "(" and buf and buf[-1] == "$":
                buf.pop()
            if c == "&" and buf and buf[-1] in "<>":  # 2>&1, &>
                buf.append(c)
            else:
                out.append("".join(buf))
                buf = []
        elif c == "#" and (not buf or buf[-1].isspace()):
            j = line.find("\n", i)
            if j < 0:
                break
            i = j
            continue
        else:
            buf.append(c)
        i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, posix=True)
    except ValueError:
        return command.split()


@dataclass(slots=True)
class _Invocation:
    kind: str  # "script" | "module" | "shell"
    target: str
    args: list[str]
    cwds: tuple[str, ...] | None  # candidate folders the command runs in; None: unknown


class _Shell:
    """Follows one shell-ish text: ``cd``, simple variables, heredocs; yields invocations."""

    def __init__(self, base: str, cwds: tuple[str, ...] | None,
                 variables: dict[str, str] | None = None) -> None:
        self.base = base
        self.cwds = cwds
        self.vars: dict[str, str] = dict(variables or {})

    def here(self, s: str) -> str:
        for rx, repl in _HERE_SUBS:
            s = rx.sub(repl, s)
        return s

    def expand(self, s: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(3)
            default = m.group(2)
            if name in self.vars:
                return self.vars[name]
            if default is not None and not default.startswith("$"):
                return default
            return m.group(0)
        return re.sub(r"\$\{([A-Za-z_]\w*)(?::?[-=]([^}]*))?\}|\$([A-Za-z_]\w*)", sub, s)

    def line(self, text: str) -> list[_Invocation]:
        out: list[_Invocation] = []
        for command in _split_commands(self.here(text)):
            words = _words(self.expand(command))
            while words and words[0] in _KEYWORDS:
                words = words[1:]
            if not words:
                continue
            if all(_ASSIGN_WORD.match(w) for w in words) or (
                    words[0] in ("export", "local", "declare", "readonly") and len(words) > 1):
                for w in words:
                    if _ASSIGN_WORD.match(w):
                        name, _, value = w.partition("=")
                        self.vars[name] = value
                continue
            head = words[0]
            if head in ("cd", "pushd"):
                self._cd(words[1] if len(words) > 1 else "")
                continue
            if head in ("for", "case", "function", "echo", "printf", "cat", "test", "["):
                continue
            inv = _invocation(words)
            if inv is not None:
                kind, target, args = inv
                out.append(_Invocation(kind, target, args, self.cwds))
        return out

    def _cd(self, target: str) -> None:
        if target.startswith(_HERE):
            rest = target[len(_HERE):].lstrip("/")
            self.cwds = (_folder(f"{self.base}/{rest}" if self.base else rest),)
            return
        if target == "-":
            return
        if not target or target == "~" or "$" in target or "*" in target or \
                target.startswith(("/", "~")):
            self.cwds = None
            return
        if self.cwds is not None:
            self.cwds = tuple(dict.fromkeys(_folder(f"{c}/{target}" if c else target)
                                            for c in self.cwds))


def _folder(path: str) -> str:
    norm = normalize_location(path)
    return "" if norm == "." else norm


def _invocation(words: list[str]) -> tuple[str, str, list[str]] | None:
    """(kind, target, args) of the Python file, module or shell script a command runs."""
    i = 0
    while i < len(words) and _ASSIGN_WORD.match(words[i]):
        i += 1
    if i >= len(words):
        return None
    head = words[i]
    name = head.rsplit("/", 1)[-1]
    if _is_python(head):
        return _python_args(words, i)
    if name in _SHELLS:
        for j in range(i + 1, len(words)):
            if words[j].endswith((".sh", ".bash", ".zsh")):
                return ("shell", words[j], words[j + 1:])
            if not words[j].startswith("-"):
                break
        return None
    if head.endswith((".py", ".pyw")):
        return ("script", head, words[i + 1:])
    if head.endswith((".sh", ".bash", ".zsh")):
        return ("shell", head, words[i + 1:])
    if name in _WRAPPERS:
        notebooks = name in ("papermill", "jupyter")
        for j in range(i + 1, len(words)):
            w = words[j]
            if w.startswith("-"):
                continue
            if _is_python(w):
                return _python_args(words, j)
            if w.endswith((".py", ".pyw")) or (notebooks and w.endswith(".ipynb")):
                return ("script", w, words[j + 1:])
    return None


def _python_args(words: list[str], k: int) -> tuple[str, str, list[str]] | None:
    i = k + 1
    while i < len(words):
        w = words[i]
        if w == "-m" or re.match(r"^-[bBdEhiIOPqsSuvx]+m$", w):
            if i + 1 >= len(words):
                return None
            mod = words[i + 1]
            if mod in _MODULE_LAUNCHERS or mod.split(".")[0] in ("torch", "accelerate"):
                for j in range(i + 2, len(words)):
                    if words[j].endswith((".py", ".ipynb")) and not words[j].startswith("-"):
                        return ("script", words[j], words[j + 1:])
                return None
            return ("module", mod, words[i + 2:])
        if w.startswith("-m") and len(w) > 2 and not w.startswith("--"):
            return ("module", w[2:], words[i + 1:])
        if w.startswith("-c") or w == "-":
            return None
        if w in ("-W", "-X", "-Q"):
            i += 2
            continue
        if w.startswith(("-", "<", ">")):
            i += 1
            continue
        return ("script", w, words[i + 1:])
    return None


class _Files:
    """The project's Python files, and resolution of command arguments to them."""

    def __init__(self, python_files: Collection[str], shell_files: Collection[str]) -> None:
        self.py = frozenset(normalize_location(p) for p in python_files)
        self.shell = frozenset(shell_files)
        self.sorted_py = sorted(self.py)
        self.by_name: dict[str, list[str]] = {}
        for p in self.sorted_py:
            self.by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)

    def script(self, token: str, cwds: tuple[str, ...] | None, base: str,
               pool: frozenset[str] | None = None) -> tuple[str, ...]:
        """The project files a path token names (several when it is a glob)."""
        pool = self.py if pool is None else pool
        tok = token.replace("\\", "/")
        if _HERE in tok:
            tok = tok.replace(_HERE, base or ".")
        tok = _finish(tok, braces=True)
        if not tok or tok.endswith("/"):
            return ()
        cands = list(cwds) if cwds is not None else []
        for extra in (base, ""):
            if extra not in cands:
                cands.append(extra)
        if tok.startswith(("/", "~", "**")):
            return self._by_suffix(tok.lstrip("~/*").lstrip("/"), pool, cands, strip=True)
        if "*" in tok:
            found: list[str] = []
            for c in cands:
                rx = _glob_regex(normalize_location(f"{c}/{tok}" if c else tok))
                found.extend(p for p in (self.sorted_py if pool is self.py else sorted(pool))
                             if rx.match(p))
                if found:
                    break
            return tuple(dict.fromkeys(found))[:50]
        for c in cands:
            p = normalize_location(f"{c}/{tok}" if c else tok)
            if p in pool:
                return (p,)
        if cwds is None:
            return self._by_suffix(normalize_location(tok), pool, cands, strip=False)
        return ()

    def _by_suffix(self, tail: str, pool: frozenset[str], cands: list[str],
                   strip: bool) -> tuple[str, ...]:
        parts = [p for p in tail.split("/") if p not in ("", ".", "..")]
        while parts:
            suffix = "/".join(parts)
            among = self.by_name.get(parts[-1], []) if pool is self.py else sorted(pool)
            hits = [p for p in among if p == suffix or p.endswith("/" + suffix)]
            if len(hits) == 1:
                return (hits[0],)
            if len(hits) > 1:
                near = [h for h in hits if any(c and h.startswith(c + "/") for c in cands)]
                return (near[0],) if len(near) == 1 else ()
            if not strip:
                return ()
            parts = parts[1:]
        return ()

    def module(self, mod: str, cwds: tuple[str, ...] | None, base: str) -> tuple[str, ...]:
        if not re.match(r"^[A-Za-z_][\w.]*$", mod):
            return ()
        rel = mod.replace(".", "/")
        cands = list(cwds) if cwds is not None else []
        for extra in (base, "", "src"):
            if extra not in cands:
                cands.append(extra)
        for c in cands:
            for p in (f"{rel}.py", f"{rel}/__main__.py"):
                full = normalize_location(f"{c}/{p}" if c else p)
                if full in self.py:
                    return (full,)
        if cwds is not None and "." not in mod:
            return ()  # `python -m train` from a known folder: no guessing
        hits = [p for p in self.sorted_py if p.endswith(("/" + rel + ".py",
                                                         "/" + rel + "/__main__.py"))]
        return (hits[0],) if len(hits) == 1 else ()

    def runs(self, inv: _Invocation, base: str) -> tuple[str, ...]:
        if inv.kind == "module":
            return self.module(inv.target, inv.cwds, base)
        if inv.kind == "script":
            return self.script(inv.target, inv.cwds, base)
        return ()


@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for seg in pattern.split("/"):
        if seg == "**":
            parts.append(".*")
        else:
            parts.append("".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
                                 for c in seg))
    return re.compile("^" + "/".join(parts) + "$")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Acc:
    """What the parsers collect."""

    files: _Files
    texts: Mapping[str, str]
    locations: list[DeclaredLocation] = field(default_factory=list)
    stages: list[DeclaredStage] = field(default_factory=list)
    runs: list[ScriptRun] = field(default_factory=list)
    entry_points: list[EntryPoint] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    yaml_roots: dict[str, list[yaml.Node]] = field(default_factory=dict)
    shell_runs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    shell_calls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    config_dirs: dict[str, list[str]] = field(default_factory=dict)  # folder -> config files
    trees: dict[str, _Tree] = field(default_factory=dict)

    def location(self, pattern: str, source: str, line: int, kind: str) -> str | None:
        norm = normalize_location(pattern)
        if not _has_literal(_segments(norm, key=False)):
            return None
        self.locations.append(DeclaredLocation(norm, source, line, kind))
        return norm

    def commands(self, text: str, cwds: tuple[str, ...] | None, base: str,
                 shell: _Shell | None = None) -> list[tuple[_Invocation, tuple[str, ...]]]:
        """Each invocation in ``text`` and the project files it runs (following shell
        scripts one level at a time, see :meth:`scripts_of`)."""
        sh = shell or _Shell(base, cwds)
        out = []
        for inv in sh.line(text):
            if inv.kind == "shell":
                hit = self.files.script(inv.target, inv.cwds, base, pool=self.files.shell)
                out.append((inv, hit))
            else:
                out.append((inv, self.files.runs(inv, base)))
        return out

    def scripts_of(self, pairs: list[tuple[_Invocation, tuple[str, ...]]]) -> list[str]:
        """Python files run, directly or by the shell scripts called (transitively)."""
        out: list[str] = []
        todo: list[str] = []
        for inv, hit in pairs:
            if inv.kind == "shell":
                todo.extend(hit)
            else:
                out.extend(hit)
        seen: set[str] = set()
        while todo:
            sh = todo.pop()
            if sh in seen:
                continue
            seen.add(sh)
            out.extend(self.shell_runs.get(sh, ()))
            todo.extend(self.shell_calls.get(sh, ()))
        return list(dict.fromkeys(out))


def load_declarations(texts: Mapping[str, str], python_files: Collection[str],
                      data: DataSettings,
                      read_errors: Iterable[tuple[str, str]] = ()) -> Declarations:
    """All declarations in ``texts`` (root-relative path -> text) as one :class:`Declarations`.

    Files are classified by :func:`declaration_kind`; texts of other files are ignored.
    ``python_files`` (root-relative ``.py``/``.ipynb``) resolve the scripts and modules that
    commands run; runs of files not in the project are dropped. ``data.declared`` entries are
    locations of kind ``mldebt`` (source ``pyproject.toml``, line 0). ``read_errors`` (from
    :func:`read_declaration_files`) are carried into ``errors``. Pure: no I/O.
    """
    kinds = {p: declaration_kind(p) for p in texts}
    shell_files = [p for p, k in kinds.items() if k == "shell"]
    acc = _Acc(_Files(python_files, shell_files), texts)
    acc.errors.extend(read_errors)
    read: list[str] = []

    # YAML first (dvc.yaml interpolates params.yaml), shell scripts before what calls them.
    for path in sorted(texts):
        kind = kinds[path]
        if kind in ("dvc", "dvcfile", "params", "kedro", "config", "mlproject"):
            try:
                acc.yaml_roots[path] = _compose(texts[path])
            except _DeclError as exc:
                if kind != "config" or str(exc).startswith("refused"):
                    acc.errors.append((path, str(exc)))
                acc.yaml_roots[path] = []
                if kind != "config":
                    read.append(path)
                continue
    for path in sorted(texts):
        if kinds[path] in ("config", "params") and acc.yaml_roots.get(path):
            acc.config_dirs.setdefault(_dir(path), []).append(path)
    for path in sorted(shell_files):
        _parse_shell(acc, path)
    parsers = {
        "dvc": _parse_dvc, "dvcfile": _parse_dvcfile, "params": _parse_config,
        "config": _parse_config, "kedro": _parse_kedro, "mlproject": _parse_mlproject,
        "make": _parse_make, "docker": _parse_docker, "snakemake": _parse_snakemake,
        "pyproject": _parse_pyproject, "setupcfg": _parse_setupcfg,
    }
    for path in sorted(texts):
        kind = kinds[path]
        if kind is None:
            continue
        if kind == "shell":
            read.append(path)
            continue
        roots = acc.yaml_roots.get(path)
        if roots is not None and not roots:
            continue  # empty or refused (error recorded where it matters)
        if kind == "config" and roots and _not_a_data_config(path, roots[0]):
            continue
        read.append(path)
        parsers[kind](acc, path)
    for pattern in data.declared:
        acc.location(pattern, "pyproject.toml", 0, "mldebt")
    return Declarations(
        locations=tuple(sorted(set(acc.locations),
                               key=lambda x: (x.source, x.line, x.pattern, x.kind))),
        stages=tuple(sorted(set(acc.stages), key=lambda s: (s.source, s.line, s.name))),
        runs=tuple(sorted(set(acc.runs), key=lambda r: (r.source, r.line, r.script, r.via))),
        entry_points=tuple(sorted(set(acc.entry_points),
                                  key=lambda e: (e.source, e.line, e.name))),
        files=tuple(sorted(set(read))),
        errors=tuple(sorted(set(acc.errors))),
    )


def _dir(path: str) -> str:
    return posixpath.dirname(path)


def _not_a_data_config(path: str, root: yaml.Node) -> bool:
    """Kubernetes manifests, API specs, CloudFormation, conda envs, compose files, CI."""
    if not isinstance(root, yaml.MappingNode):
        return False
    keys = {k.value for k, _ in _items(root)}
    if {"apiVersion", "kind"} <= keys or "openapi" in keys or "swagger" in keys:
        return True
    if "AWSTemplateFormatVersion" in keys or {"channels", "dependencies"} <= keys:
        return True
    if {"on", "jobs"} <= keys or {"repos"} == keys:
        return True
    services = _get(root, "services")
    return isinstance(services, yaml.MappingNode) and any(
        _get(v, "image") is not None or _get(v, "build") is not None for _, v in _items(services))


# ---- generic YAML configs and params.yaml --------------------------------------------------


def _config_tree(acc: _Acc, path: str) -> _Tree:
    """The interpolation tree of a config file, with Hydra config groups as fallback."""
    tree = acc.trees.get(path)
    if tree is not None:
        return tree
    roots = acc.yaml_roots.get(path, [])[:1]
    folders = []
    folder = _dir(path)
    while True:
        folders.append(folder)
        if not folder:
            break
        folder = _dir(folder)

    def groups(parts: tuple[str, ...]) -> _Found | None:
        if len(parts) < 2:
            return None
        for folder in folders:
            group = f"{folder}/{parts[0]}" if folder else parts[0]
            files = list(acc.config_dirs.get(group, ()))
            files += [f for f in (group + ".yaml", group + ".yml") if f in acc.yaml_roots]
            hits = []
            for f in files:
                roots = acc.yaml_roots.get(f)
                node = _Tree(roots[:1]).get(parts[1:]) if roots else None
                if isinstance(node, yaml.ScalarNode):
                    hits.append((f, node))
            if not hits:
                continue
            if len({n.value for _, n in hits}) > 1:  # the group's default, if it has one
                hits = [h for h in hits if posixpath.basename(h[0]).startswith("default.")]
            if not hits:
                return None
            f, node = hits[0]
            return node, _config_tree(acc, f), parts[1:]
        return None

    tree = _Tree(roots, groups)
    acc.trees[path] = tree
    return tree


def _parse_config(acc: _Acc, path: str) -> None:
    kind = "params" if declaration_kind(path) == "params" else "config"
    for i, root in enumerate(acc.yaml_roots.get(path, [])):
        tree = _config_tree(acc, path) if i == 0 else _Tree([root])
        for here, node in _string_values(root):
            value = _finish(_interpolate(node.value, tree, here))
            if looks_like_location(value):
                acc.location(value, path, _line(node), kind)


# ---- Kedro ----------------------------------------------------------------------------------


def _kedro_root(path: str) -> str:
    parts = path.split("/")
    confs = [i for i, p in enumerate(parts[:-1]) if p == "conf"]
    return "/".join(parts[:confs[-1]]) if confs else _dir(path)


def _mapping_root(acc: _Acc, path: str, what: str) -> yaml.MappingNode | None:
    """The first document of a declaration file when it is a mapping; else an error entry
    ("<what> at line N: expected a mapping ...") and None (None also for an empty file)."""
    roots = acc.yaml_roots.get(path, [])
    if not roots:
        return None
    root = roots[0]
    if not isinstance(root, yaml.MappingNode):
        acc.errors.append((path, f"{what.format(line=_line(root))}"))
        return None
    return root


def _parse_kedro(acc: _Acc, path: str) -> None:
    root = _mapping_root(acc, path, "Kedro catalog at line {line}: expected a mapping of dataset names")
    if root is None:
        return
    tree = _Tree([root])
    proj = _kedro_root(path)
    for key, entry in _items(root):
        if str(key.value).startswith("_") or not isinstance(entry, yaml.MappingNode):
            continue
        stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(entry, (str(key.value),))]
        depth = 0
        while stack and depth < 50:
            node, here = stack.pop()
            depth += 1
            for k, v in _items(node):
                if k.value in ("filepath", "path", "dirpath", "filename") and _is_str(v):
                    value = _finish(_interpolate(v.value, tree, here))
                    if value and not value.isspace():
                        acc.location(_join(proj, value), path, _line(v), "kedro")
                elif isinstance(v, yaml.MappingNode) and k.value in ("dataset", "data_set"):
                    stack.append((v, (*here, str(k.value))))


# ---- DVC ------------------------------------------------------------------------------------


def _dvc_paths(node: yaml.Node | None) -> list[tuple[str, int]]:
    """Paths of a deps/outs/metrics/plots list: strings, or mappings ``{path: {...}}``."""
    out: list[tuple[str, int]] = []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node] if node else []
    for item in items:
        if isinstance(item, yaml.ScalarNode) and item.value:
            out.append((str(item.value), _line(item)))
        elif isinstance(item, yaml.MappingNode):
            path_node = _get(item, "path")
            if _is_str(path_node):
                out.append((path_node.value, _line(path_node)))  # type: ignore[union-attr,arg-type]
                continue
            for k, _v in _items(item):
                if k.value:
                    out.append((str(k.value), _line(k)))
    return out


def _parse_dvc(acc: _Acc, path: str) -> None:
    root = _mapping_root(acc, path, "dvc.yaml at line {line}: expected a mapping with 'stages'")
    if root is None:
        return
    base = _dir(path)
    context: list[yaml.Node] = []
    vars_node = _get(root, "vars")
    for item in (vars_node.value if isinstance(vars_node, yaml.SequenceNode) else [vars_node]):
        if isinstance(item, yaml.MappingNode):
            context.append(item)
    params_file = posixpath.join(base, "params.yaml") if base else "params.yaml"
    context.extend(acc.yaml_roots.get(params_file, [])[:1])
    tree = _Tree(context)

    def text(node: yaml.Node | None) -> str:
        return _finish(_interpolate(str(node.value), tree)) \
            if isinstance(node, yaml.ScalarNode) and node.value is not None else ""

    def is_code(p: str) -> bool:  # a script, or a package folder
        return p.lower().endswith(_CODE_EXTENSIONS) or f"{p}/__init__.py" in acc.files.py

    stages = _get(root, "stages")
    if stages is not None and not isinstance(stages, yaml.MappingNode):
        acc.errors.append((path, f"dvc.yaml at line {_line(stages)}: 'stages' must be a mapping"))
        stages = None
    for name_node, body in _items(stages):
        name = str(name_node.value)
        if isinstance(body, yaml.MappingNode) and _get(body, "do") is not None:
            body = _get(body, "do")  # type: ignore[assignment]  # foreach ... do: ${item} parts become wildcards
        if not isinstance(body, yaml.MappingNode):
            acc.errors.append((path, (f"dvc.yaml at line {_line(name_node)}: stage "
                                      f"{name!r} is not a mapping")))
            continue
        wdir = text(_get(body, "wdir"))
        folder = _join(base, wdir) if wdir else base
        folder = "" if folder == "." else folder
        deps: list[str] = []
        outs: list[str] = []
        for p, ln in _dvc_paths(_get(body, "deps")):
            full = _join(folder, _finish(_interpolate(p, tree)))
            if is_code(full):
                continue
            norm = acc.location(full, path, ln, "dvc-dep")
            if norm:
                deps.append(norm)
        params = _get(body, "params")
        for item in params.value if isinstance(params, yaml.SequenceNode) else []:
            files = [("params.yaml", _line(item))] if isinstance(item, yaml.ScalarNode) else \
                [(str(k.value), _line(k)) for k, _ in _items(item)]
            for f, ln in files:
                norm = acc.location(_join(folder, f), path, ln, "dvc-dep")
                if norm and norm not in deps:
                    deps.append(norm)
        for key in ("outs", "metrics", "plots"):
            for p, ln in _dvc_paths(_get(body, key)):
                norm = acc.location(_join(folder, _finish(_interpolate(p, tree))), path, ln,
                                    "dvc-out")
                if norm:
                    outs.append(norm)
        cmd = _get(body, "cmd")
        commands = [text(c) for c in cmd.value] if isinstance(cmd, yaml.SequenceNode) else \
            [text(cmd)] if cmd is not None else []
        scripts: list[str] = []
        for command in commands:
            scripts.extend(acc.scripts_of(acc.commands(command.replace(_WILD, "*"),
                                                       (folder,), folder)))
        acc.stages.append(DeclaredStage(name, path, _line(name_node), "dvc",
                                        tuple(dict.fromkeys(scripts)),
                                        tuple(dict.fromkeys(deps)), tuple(dict.fromkeys(outs))))
    for key in ("metrics", "plots"):
        node = _get(root, key)
        items = node.value if isinstance(node, yaml.SequenceNode) else []
        for item in items:
            if isinstance(item, yaml.MappingNode):
                for k, v in _items(item):
                    if looks_like_location(str(k.value)):
                        acc.location(_join(base, str(k.value)), path, _line(k), "dvc-out")
                    y = _get(v, "y")
                    for yk, _ in _items(y):
                        acc.location(_join(base, str(yk.value)), path, _line(yk), "dvc-out")
            elif isinstance(item, yaml.ScalarNode) and item.value:
                acc.location(_join(base, str(item.value)), path, _line(item), "dvc-out")
    for _name, art in _items(_get(root, "artifacts")):
        art_path = _get(art, "path")
        if _is_str(art_path):
            acc.location(_join(base, art_path.value), path, _line(art_path), "dvc-out")  # type: ignore[union-attr,arg-type]


def _parse_dvcfile(acc: _Acc, path: str) -> None:
    """``data.dvc``: ``outs: [{path: data}]``, an import's ``deps`` URL; a DVC 0.x stage file
    (``train.dvc`` with ``cmd``, ``deps``, ``outs``) is also a stage named after the file."""
    roots = acc.yaml_roots.get(path, [])
    if not roots or not isinstance(roots[0], yaml.MappingNode):
        if roots:
            acc.errors.append((path, f".dvc file at line {_line(roots[0])}: expected a mapping"))
        return
    root = roots[0]
    base = _dir(path)
    cmd = _scalar(_get(root, "cmd"))
    wdir = _scalar(_get(root, "wdir"))
    folder = _folder(_join(base, wdir)) if wdir else base
    outs = [n for n in (acc.location(_join(folder, p), path, ln, "dvc-out")
                        for p, ln in _dvc_paths(_get(root, "outs"))) if n]
    deps = []
    for p, ln in _dvc_paths(_get(root, "deps")):
        if _URL_RE.match(p) or (cmd and not p.lower().endswith(_CODE_EXTENSIONS)):
            norm = acc.location(_join(folder, p), path, ln, "dvc-dep")
            if norm:
                deps.append(norm)
    if cmd:
        scripts = acc.scripts_of(acc.commands(cmd, (folder,), folder))
        name = posixpath.basename(path)[:-4]
        acc.stages.append(DeclaredStage(name, path, 1, "dvc", tuple(scripts),
                                        tuple(dict.fromkeys(deps)), tuple(dict.fromkeys(outs))))


# ---- MLflow MLproject -----------------------------------------------------------------------


def _parse_mlproject(acc: _Acc, path: str) -> None:
    roots = acc.yaml_roots.get(path, [])
    if not roots:
        return
    root = roots[0]
    entry_points = _get(root, "entry_points")
    if not isinstance(root, yaml.MappingNode) or (
            entry_points is not None and not isinstance(entry_points, yaml.MappingNode)):
        acc.errors.append((path, (f"MLproject at line {_line(root)}: expected a mapping "
                                  "with 'entry_points'")))
        return
    base = _dir(path)
    for name_node, body in _items(entry_points):
        defaults: dict[str, str] = {}
        deps: list[str] = []
        for pname, spec in _items(_get(body, "parameters")):
            # `alpha: float` names a type; `data: {type: path, default: data/x.csv}`
            default = _get(spec, "default")
            ptype = _scalar(_get(spec, "type")) if isinstance(spec, yaml.MappingNode) else \
                _scalar(spec)
            if isinstance(default, yaml.ScalarNode) and default.value not in (None, ""):
                defaults[str(pname.value)] = str(default.value)
                value = str(default.value)
                if (ptype in ("path", "uri") and value.strip()) or looks_like_location(value):
                    norm = acc.location(_join(base, value), path, _line(default), "mlproject")
                    if norm:
                        deps.append(norm)
        command = _scalar(_get(body, "command")) if isinstance(body, yaml.MappingNode) else \
            _scalar(body)
        scripts: list[str] = []
        if command:
            filled = re.sub(r"\{(\w+)\}",
                            lambda m, d=defaults: shlex.quote(d.get(m.group(1), "*")),  # type: ignore[misc]
                            command)
            scripts = acc.scripts_of(acc.commands(filled, (base,), base))
        acc.stages.append(DeclaredStage(str(name_node.value), path, _line(name_node),
                                        "mlproject", tuple(scripts), tuple(dict.fromkeys(deps))))


# ---- Makefiles ------------------------------------------------------------------------------


def _logical_lines(text: str, comment_aware: bool = False) -> list[tuple[int, str]]:
    """Lines joined across backslash continuations, with the 1-based first line number."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for no, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = no
        stripped = raw.rstrip()
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:
            buf.append(stripped[:-1])
            continue
        buf.append(raw)
        out.append((start, " ".join(b.strip() if i else b for i, b in enumerate(buf))
                    if len(buf) > 1 else buf[0]))
        buf = []
    if buf:
        out.append((start, " ".join(buf)))
    return out


_MAKE_ASSIGN = re.compile(
    r"^(?:(?:export|override|private)\s+)*([A-Za-z_][\w.\-]*)\s*(:::=|::=|:=|\?=|\+=|!=|=)\s*(.*)$")
_MAKE_DIRECTIVES = frozenset({"ifeq", "ifneq", "ifdef", "ifndef", "else", "endif", "include",
                              "-include", "sinclude", "vpath", "unexport", "undefine", "export"})


@dataclass(slots=True)
class _Rule:
    targets: list[str]
    prereqs: list[str]
    line: int
    recipe: list[tuple[int, str]]


def _balanced(s: str, i: int) -> int:
    """Index of the bracket closing the one at ``s[i]``, or -1."""
    open_, close = s[i], ")" if s[i] == "(" else "}"
    level = 0
    for j in range(i, len(s)):
        if s[j] == open_:
            level += 1
        elif s[j] == close:
            level -= 1
            if level == 0:
                return j
    return -1


class _Make:
    def __init__(self, base: str) -> None:
        self.base = base
        self.vars: dict[str, str] = {}

    def expand(self, s: str, auto: Mapping[str, str] | None = None, depth: int = 0) -> str:
        out: list[str] = []
        i = 0
        while i < len(s):
            c = s[i]
            if c != "$" or i + 1 >= len(s):
                out.append(c)
                i += 1
                continue
            n = s[i + 1]
            if n == "$":
                out.append("$")
                i += 2
            elif n in "({":
                j = _balanced(s, i + 1)
                if j < 0:
                    out.append(_WILD)
                    break
                out.append(self.ref(s[i + 2:j], auto, depth))
                i = j + 1
            else:
                out.append(self.ref(n, auto, depth))
                i += 2
        return "".join(out)

    def ref(self, name: str, auto: Mapping[str, str] | None, depth: int) -> str:
        if depth > 12:
            return _WILD
        if auto is not None and name in auto:
            return auto[name]
        if name in ("@D", "<D", "@F", "<F") and auto is not None:
            value = auto.get(name[0], _WILD)
            return (posixpath.dirname(value) or ".") if name[1] == "D" else \
                posixpath.basename(value)
        if " " in name or "\t" in name:
            fn, _, arg = name.partition(" ")
            if "MAKEFILE_LIST" in arg or (fn == "shell" and arg.strip() in ("pwd", "pwd -P")):
                return _HERE
            if fn in ("abspath", "realpath", "strip"):
                return self.expand(arg.strip(), auto, depth + 1)
            return _WILD
        if ":" in name and "=" in name:
            return _WILD
        if name in ("CURDIR", "PWD"):
            return _HERE
        if name in ("MAKE",):
            return "make"
        if name in self.vars:
            return self.expand(self.vars[name], auto, depth + 1)
        if "PY" in name.upper():
            return "python"
        return _WILD

    def here(self, s: str) -> str:
        if _HERE not in s:
            return s
        s = s.replace(_HERE + "/", (self.base + "/") if self.base else "")
        return s.replace(_HERE, self.base or ".")


def _make_comment(line: str) -> str:
    m = re.search(r"(?<!\\)#", line)
    return line[:m.start()] if m else line


def _colon(s: str) -> int:
    level = 0
    for i, c in enumerate(s):
        if c in "({":
            level += 1
        elif c in ")}":
            level -= 1
        elif c == ":" and level == 0 and s[i + 1:i + 2] != "=":
            if i + 1 < len(s) and s[i + 1] == ":" and s[i + 2:i + 3] == "=":
                return -1
            return i
    return -1


def _parse_make(acc: _Acc, path: str) -> None:
    base = _dir(path)
    mk = _Make(base)
    rules: list[_Rule] = []
    phony: set[str] = set()
    cur: _Rule | None = None
    in_define = False
    for ln, raw in _logical_lines(acc.texts[path]):
        if in_define:
            if raw.strip().startswith("endef"):
                in_define = False
            continue
        if raw.startswith("\t"):
            if cur is not None:
                cur.recipe.append((ln, raw[1:]))
            continue
        s = _make_comment(raw).strip()
        if not s:
            continue
        first = s.split(None, 1)[0]
        if first in ("define", "override") and "define" in s.split()[:2]:
            in_define = True
            continue
        m = _MAKE_ASSIGN.match(s)
        if m:
            name, op, value = m.group(1), m.group(2), m.group(3).strip()
            if op == "+=":
                mk.vars[name] = (mk.vars.get(name, "") + " " + value).strip()
            elif op == "?=":
                mk.vars.setdefault(name, value)
            elif op == "!=":
                mk.vars[name] = _WILD
            elif op in (":=", "::=", ":::="):
                mk.vars[name] = mk.expand(value).replace("$", "$$")
            else:
                mk.vars[name] = value
            cur = None
            continue
        if first in _MAKE_DIRECTIVES or first.startswith(("$(info", "$(warning", "$(error",
                                                           "$(eval")):
            continue
        i = _colon(s)
        if i <= 0:
            cur = None
            continue
        targets_raw, rest = s[:i], s[i + 1:]
        rest = rest.removeprefix(":")
        prereqs_raw, _, inline = rest.partition(";")
        if re.match(r"^\s*[A-Za-z_][\w.\-]*\s*(?::?=|\?=|\+=)", prereqs_raw):
            cur = None  # target-specific variable
            continue
        j = _colon(prereqs_raw)
        if j >= 0:  # static pattern rule: targets: target-pattern: prereq-patterns
            prereqs_raw = prereqs_raw[j + 1:]
        targets = mk.here(mk.expand(targets_raw)).split()
        prereqs = mk.here(mk.expand(prereqs_raw.replace("|", " "))).split()
        if not targets:
            cur = None
            continue
        if targets[0] == ".PHONY":
            phony.update(prereqs)
            cur = None
            continue
        if targets[0].startswith(".") and targets[0][1:2].isupper():
            cur = None
            continue
        cur = _Rule(targets, prereqs, ln, [(ln, inline)] if inline.strip() else [])
        rules.append(cur)

    def data_paths(words: list[str]) -> list[str]:
        out = []
        for w in words:
            if w in phony:
                continue
            value = _finish(w.replace("%", _WILD), braces=False)
            if looks_like_location(value):
                out.append(value)
        return out

    for rule in rules:
        target = rule.targets[0]
        outs = [n for n in (acc.location(_join(base, p), path, rule.line, "make")
                            for p in data_paths(rule.targets)) if n]
        deps = [n for n in (acc.location(_join(base, p), path, rule.line, "make")
                            for p in data_paths(rule.prereqs)) if n]
        auto = {"@": target, "<": rule.prereqs[0] if rule.prereqs else _WILD,
                "^": " ".join(dict.fromkeys(rule.prereqs)), "+": " ".join(rule.prereqs),
                "?": " ".join(rule.prereqs), "*": _WILD}
        scripts: list[str] = []
        for ln, line in rule.recipe:
            cmd = mk.here(mk.expand(line, auto)).lstrip().lstrip("@-+").lstrip()
            pairs = acc.commands(cmd.replace(_WILD, "*"), (base,), base)
            for inv, hit in pairs:
                if inv.kind != "shell":
                    for script in hit:
                        acc.runs.append(ScriptRun(path, ln, script, "make"))
                    for arg in _arg_locations(inv.args):
                        folder = inv.cwds[0] if inv.cwds else base
                        acc.location(_join(folder, arg), path, ln, "make")
            scripts.extend(acc.scripts_of(pairs))
        if scripts:
            acc.stages.append(DeclaredStage(target.replace(_WILD, "*"), path, rule.line, "make",
                                            tuple(dict.fromkeys(scripts)),
                                            tuple(dict.fromkeys(deps)),
                                            tuple(dict.fromkeys(outs))))


def _arg_locations(args: list[str]) -> list[str]:
    """Data locations among a script's arguments (``data/raw``, ``--out=models/m.pkl``)."""
    out = []
    for a in args:
        if re.match(r"^\d*[<>]", a):
            break
        value = a.split("=", 1)[1] if a.startswith("-") and "=" in a else a
        value = _finish(value.replace("*", _WILD), braces=True)
        if looks_like_location(value):
            out.append(value)
    return out


# ---- shell scripts --------------------------------------------------------------------------


def _parse_shell(acc: _Acc, path: str) -> None:
    base = _dir(path)
    sh = _Shell(base, ("", base) if base else ("",))
    runs: list[str] = []
    calls: list[str] = []
    heredoc: str | None = None
    for ln, line in _logical_lines(acc.texts[path]):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"(?<!<)<<-?(?!<)\s*['\"]?([A-Za-z_]\w*)['\"]?", line)
        if m:
            heredoc = m.group(1)
        for inv, hit in acc.commands(line, sh.cwds, base, shell=sh):
            if inv.kind == "shell":
                calls.extend(hit)
                continue
            for script in hit:
                acc.runs.append(ScriptRun(path, ln, script, "shell"))
                runs.append(script)
    acc.shell_runs[path] = tuple(dict.fromkeys(runs))
    acc.shell_calls[path] = tuple(dict.fromkeys(calls))


# ---- Dockerfiles ----------------------------------------------------------------------------


def _parse_docker(acc: _Acc, path: str) -> None:
    cwds: tuple[str, ...] = ("",)
    for ln, line in _logical_lines(acc.texts[path]):
        s = line.strip()
        m = re.match(r"^(RUN|CMD|ENTRYPOINT|WORKDIR)\s+(.*)$", s, re.IGNORECASE)
        if not m:
            continue
        op, arg = m.group(1).upper(), m.group(2).strip()
        if op == "WORKDIR":
            parts = [p for p in arg.strip("\"'").split("/") if p and p != "."]
            cwds = tuple(dict.fromkeys(["/".join(parts[i:]) for i in range(len(parts))] + [""]))
            continue
        if arg.startswith("["):
            try:
                words = json.loads(arg)
                arg = " ".join(shlex.quote(str(w)) for w in words)
            except (ValueError, TypeError):
                pass
        for inv, hit in acc.commands(arg, cwds, _dir(path)):
            if inv.kind != "shell":
                for script in hit:
                    acc.runs.append(ScriptRun(path, ln, script, "docker"))


# ---- Snakemake ------------------------------------------------------------------------------

_SMK_RULE = re.compile(r"^(\s*)(?:rule|checkpoint)\s+(\w+)\s*:")
_SMK_DIRECTIVE = re.compile(r"^(\s+)(\w+)\s*:(.*)$")
_PY_STRING = re.compile(r"[rRfFbB]{0,2}(\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"[^\"\n]*\"|'[^'\n]*')")


def _parse_snakemake(acc: _Acc, path: str) -> None:
    base = _dir(path)
    lines = acc.texts[path].splitlines()
    i = 0
    while i < len(lines):
        m = _SMK_RULE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, name, start = len(m.group(1)), m.group(2), i + 1
        body: dict[str, list[tuple[int, str]]] = {}
        current: str | None = None
        i += 1
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            d = _SMK_DIRECTIVE.match(line)
            if d and d.group(2) in ("input", "output", "log", "params", "script", "shell",
                                    "notebook", "run", "conda", "threads", "resources",
                                    "message", "benchmark", "wrapper", "priority", "group",
                                    "container", "singularity", "envmodules", "localrule",
                                    "wildcard_constraints", "retries", "cache", "handover",
                                    "default_target", "name"):
                current = d.group(2)
                body.setdefault(current, []).append((i + 1, d.group(3)))
            elif current is not None:
                body[current].append((i + 1, line))
            i += 1

        def strings(key: str, body: dict[str, list[tuple[int, str]]] = body,
                    start: int = start) -> list[tuple[str, int]]:
            """The string literals of a directive, with their lines."""
            text = "\n".join(t for _, t in body.get(key, []))
            first = body[key][0][0] if body.get(key) else start
            out = []
            for sm in _PY_STRING.finditer(text):
                lit = sm.group(1)
                q = 3 if lit[:3] in ('"""', "'''") else 1
                out.append((lit[q:-q], first + text[:sm.start()].count("\n")))
            return out

        deps: list[str] = []
        outs: list[str] = []
        scripts: list[str] = []
        for key, kind_list in (("input", deps), ("output", outs)):
            for value, ln in strings(key):
                pattern = _finish(value, braces=True)
                if looks_like_location(pattern):
                    norm = acc.location(pattern, path, ln, "snakemake")
                    if norm:
                        kind_list.append(norm)
        for key in ("script", "notebook"):
            for value, _ln in strings(key):
                scripts.extend(acc.files.script(value, (base,), base))
        for value, _ln in strings("shell"):
            cmd = re.sub(r"\{[^{}]*\}", "*", value)
            scripts.extend(acc.scripts_of(acc.commands(cmd, (base, ""), base)))
        acc.stages.append(DeclaredStage(name, path, start, "snakemake",
                                        tuple(dict.fromkeys(scripts)), tuple(dict.fromkeys(deps)),
                                        tuple(dict.fromkeys(outs))))


# ---- pyproject.toml and setup.cfg: console scripts ------------------------------------------


def _toml_line(text: str, tables: Sequence[str], key: str) -> int:
    """Line of ``key = ...`` in one of ``tables`` (dotted names), or of the table header."""
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
    current = ""
    table_line = 0
    quoted = re.escape(key)
    key_rx = re.compile(rf"^\s*(?:\"{quoted}\"|'{quoted}'|{quoted})\s*=")
    for no, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = re.sub(r"\s*\.\s*", ".", m.group(1)).replace('"', "").replace("'", "")
            if current in tables and not table_line:
                table_line = no
            continue
        if current in tables and key_rx.match(line):
            return no
    return table_line


def _module_path(files: _Files, module: str, base: str) -> str | None:
    rel = module.replace(".", "/")
    for prefix in (base, posixpath.join(base, "src") if base else "src"):
        for p in (f"{rel}.py", f"{rel}/__init__.py"):
            full = normalize_location(f"{prefix}/{p}" if prefix else p)
            if full in files.py:
                return full
    hits = [p for p in sorted(files.py) if p.endswith(("/" + rel + ".py", "/" + rel + "/__init__.py"))]
    return hits[0] if len(hits) == 1 else None


def _entry(acc: _Acc, path: str, name: str, target: str, line: int) -> None:
    target = re.sub(r"\s*\[.*\]\s*$", "", target.strip())
    module = target.split(":", 1)[0].strip()
    if not re.match(r"^[A-Za-z_][\w.]*$", module):
        return
    acc.entry_points.append(EntryPoint(name, target, module, path, line,
                                       _module_path(acc.files, module, _dir(path))))


def _parse_pyproject(acc: _Acc, path: str) -> None:
    text = acc.texts[path]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        acc.errors.append((path, f"invalid TOML: {str(exc).splitlines()[0]}"))
        return
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    for table in ("scripts", "gui-scripts"):
        scripts = project.get(table)
        if isinstance(scripts, dict):
            for name, target in scripts.items():
                if isinstance(target, str):
                    _entry(acc, path, name, target,
                           _toml_line(text, (f"project.{table}",), name)
                           or _toml_line(text, ("project",), table))
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    scripts = poetry.get("scripts")
    if isinstance(scripts, dict):
        for name, target in scripts.items():
            if isinstance(target, dict):
                if target.get("type", "console") != "console":
                    continue
                target = target.get("callable") or target.get("reference")
            if isinstance(target, str):
                _entry(acc, path, name, target, _toml_line(text, ("tool.poetry.scripts",), name))


def _parse_setupcfg(acc: _Acc, path: str) -> None:
    text = acc.texts[path]
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        acc.errors.append((path, f"invalid setup.cfg: {str(exc).splitlines()[0]}"))
        return
    if not parser.has_section("options.entry_points"):
        return
    lines = text.splitlines()
    for group in ("console_scripts", "gui_scripts"):
        value = parser.get("options.entry_points", group, fallback="")
        for entry in value.splitlines():
            name, sep, target = entry.partition("=")
            if not sep or not name.strip():
                continue
            name = name.strip()
            ln = next((no for no, line in enumerate(lines, 1)
                       if re.match(rf"^\s*{re.escape(name)}\s*=", line) and ":" in line), 0)
            _entry(acc, path, name, target, ln)
