"""Settings: CLI flags over ``[tool.mldebt]`` in ``pyproject.toml``, into one frozen object.

Unknown keys, ill-typed values and unknown rule selectors are :class:`ConfigError`s that
name the file and the key; the CLI turns them into one line and exit code 2.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from mldebt.catalog import Catalog, RuleSpec
from mldebt.model import Confidence, Severity
from mldebt.project.declarations import DataSettings, parse_data_settings


class ConfigError(Exception):
    pass


DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".env", "env", "__pycache__", "build",
    "dist", "site-packages", "node_modules", ".tox", ".nox", ".eggs", "*.egg-info",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".mldebt_cache", ".ipynb_checkpoints",
    ".direnv", "_build", "buck-out", ".pixi", ".conda",
)

_TOP_KEYS = {
    "select": "list[str]", "extend-select": "list[str]", "ignore": "list[str]",
    "per-file-ignores": "table", "exclude": "list[str]", "extend-exclude": "list[str]",
    "preview": "bool", "fail-on": "str", "baseline": "str", "rules": "table", "data": "table",
    "min-confidence": "str", "cache-dir": "str", "file-timeout": "number",
}


@dataclass(frozen=True, slots=True)
class Settings:
    root: Path
    config_file: Path | None
    enabled: tuple[str, ...]  # rule codes, sorted
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (glob, rule codes)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    fail_on: Severity = Severity.WARNING
    min_confidence: Confidence = Confidence.LOW
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # code -> options
    data: Mapping[str, Any] = field(default_factory=dict)
    data_settings: DataSettings = field(default_factory=DataSettings)  # `data`, validated
    baseline: str | None = None
    preview: bool = False
    cache_dir: str | None = None  # relative to the root; None: `.mldebt_cache`
    file_timeout: float | None = None  # seconds per file; None: the default; 0: no budget

    def options_for(self, code: str) -> Mapping[str, Any]:
        return self.rule_options.get(code, {})

    def ignored_here(self, path: str, code: str) -> bool:
        """Per-file-ignores: is ``code`` switched off for ``path``?"""
        for pattern, codes in self.per_file_ignores:
            if code in codes and path_matches(path, pattern):
                return True
        return False

    def is_excluded(self, path: str) -> bool:
        return _matcher(tuple(self.exclude))(path)


def path_matches(path: str, pattern: str) -> bool:
    """gitignore-like matching of a root-relative POSIX path.

    A pattern without ``/`` matches any single path component (``build``, ``*.egg-info``)
    or the file name; a pattern with ``/`` matches the path from the root, and also any
    folder prefix of it (``data/raw`` excludes ``data/raw/x.py``); ``**`` spans folders.
    """
    return _matcher((pattern,))(path)


@functools.lru_cache(maxsize=256)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """One compiled test for "does any of ``patterns`` match" (see :func:`path_matches`):
    discovery asks it for every file, so the globs are translated once."""
    parts_rx: list[str] = []
    path_rx: list[str] = []
    for pattern in patterns:
        pattern = pattern.strip().rstrip("/").removeprefix("./")
        if not pattern:
            continue
        if "/" not in pattern:
            parts_rx.append(fnmatch.translate(pattern))
            continue
        pattern = pattern.lstrip("/")
        path_rx.append(fnmatch.translate(pattern))
        if "**/" in pattern:
            path_rx.append(fnmatch.translate(pattern.replace("**/", "")))
    part = re.compile("|".join(parts_rx)).match if parts_rx else None
    whole = re.compile("|".join(path_rx)).match if path_rx else None

    def match(path: str) -> bool:
        parts = PurePosixPath(path).parts
        if part is not None and any(part(p) for p in parts):
            return True
        if whole is not None:
            for i in range(1, len(parts) + 1):
                if whole("/".join(parts[:i])):
                    return True
        return False

    return match


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.mldebt]`` table, walking up."""
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = _read_toml(candidate)
            except ConfigError:
                raise
            if "mldebt" in data.get("tool", {}):
                return candidate
        if (folder / ".git").exists():
            break
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_table(path: Path) -> dict[str, Any]:
    """``[tool.mldebt]`` of a pyproject.toml, or the top level of an ``mldebt.toml``."""
    data = _read_toml(path)
    if "tool" in data and isinstance(data["tool"], dict) and "mldebt" in data["tool"]:
        table = data["tool"]["mldebt"]
    elif path.name == "pyproject.toml":
        table = {}
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mldebt] must be a table")
    return table


@dataclass(slots=True)
class Overrides:
    """What the command line says; None means "not given"."""

    select: list[str] | None = None
    extend_select: list[str] | None = None
    ignore: list[str] | None = None
    fail_on: str | None = None
    min_confidence: str | None = None
    preview: bool | None = None


def build_settings(catalog: Catalog, root: Path, config_file: Path | None,
                   overrides: Overrides | None = None) -> Settings:
    overrides = overrides or Overrides()
    table: dict[str, Any] = load_table(config_file) if config_file else {}
    where = str(config_file) if config_file else "<defaults>"

    def err(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{where}: [tool.mldebt] {key}: {msg}")

    for key, value in table.items():
        kind = _TOP_KEYS.get(key)
        if kind is None:
            close = difflib.get_close_matches(key.replace("_", "-"), list(_TOP_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise err(key, f"unknown key{hint}")
        if not _type_ok(value, kind):
            raise err(key, f"expected {kind}, got {type(value).__name__}")

    def selectors(key: str, values: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for v in values:
            hits = catalog.match(v)
            if not hits:
                raise err(key, f"unknown rule code, name or smell {v!r}")
            codes.update(r.code for r in hits)
        return codes

    def cli_selectors(flag: str, values: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for v in values:
            hits = catalog.match(v)
            if not hits:
                raise ConfigError(f"{flag}: unknown rule code, name or smell {v!r}")
            codes.update(r.code for r in hits)
        return codes

    preview = bool(overrides.preview if overrides.preview is not None else table.get("preview", False))
    if overrides.select is not None:
        selected = cli_selectors("--select", overrides.select)
    elif "select" in table:
        selected = selectors("select", table["select"])
    else:
        selected = {r.code for r in catalog.rules if r.status == "stable" or (preview and r.status == "preview")}
    selected |= selectors("extend-select", table.get("extend-select", []))
    selected |= cli_selectors("--extend-select", overrides.extend_select or [])
    selected -= selectors("ignore", table.get("ignore", []))
    selected -= cli_selectors("--ignore", overrides.ignore or [])
    selected = {c for c in selected if (catalog.by_code(c) or _NONE).status not in ("deprecated", "removed")
                or c in _explicit(catalog, overrides.select or table.get("select", []))}

    pfi: list[tuple[str, tuple[str, ...]]] = []
    for pattern, values in sorted(table.get("per-file-ignores", {}).items()):
        if not _type_ok(values, "list[str]"):
            raise err(f"per-file-ignores.{pattern}", "expected list[str]")
        pfi.append((pattern, tuple(sorted(selectors(f"per-file-ignores.{pattern}", values)))))

    exclude = tuple(table.get("exclude", DEFAULT_EXCLUDE)) + tuple(table.get("extend-exclude", []))

    fail_on_raw = overrides.fail_on or table.get("fail-on", "warning")
    try:
        fail_on = Severity(fail_on_raw)
    except ValueError:
        raise (ConfigError(f"--fail-on: expected error, warning or info, got {fail_on_raw!r}")
               if overrides.fail_on else err("fail-on", f"expected error, warning or info, got {fail_on_raw!r}")) from None
    conf_raw = overrides.min_confidence or table.get("min-confidence", "low")
    try:
        min_conf = Confidence(conf_raw)
    except ValueError:
        raise err("min-confidence", f"expected high, medium or low, got {conf_raw!r}") from None

    rule_options: dict[str, dict[str, Any]] = {}
    for rule in catalog.rules:
        rule_options[rule.code] = dict(rule.default_options)
    for key, opts in table.get("rules", {}).items():
        spec = catalog.lookup(key)
        if spec is None:
            raise err(f"rules.{key}", "unknown rule code or name")
        if not isinstance(opts, dict):
            raise err(f"rules.{key}", "expected a table of options")
        known = {o.name: o for o in spec.options}
        for name, value in opts.items():
            if name not in known:
                names = ", ".join(sorted(known)) or "none"
                raise err(f"rules.{key}.{name}", f"unknown option (options of {spec.name}: {names})")
            if not _type_ok(value, known[name].type):
                raise err(f"rules.{key}.{name}", f"expected {known[name].type}, got {value!r}")
            rule_options[spec.code][name] = value

    file_timeout = table.get("file-timeout")
    if file_timeout is not None and file_timeout < 0:
        raise err("file-timeout", f"expected seconds >= 0 (0: no budget), got {file_timeout!r}")

    try:
        data_settings = parse_data_settings(table.get("data", {}))
    except ValueError as exc:
        raise ConfigError(f"{where}: [tool.mldebt] {exc}") from None

    return Settings(
        root=root,
        config_file=config_file,
        enabled=tuple(sorted(selected)),
        per_file_ignores=tuple(pfi),
        exclude=exclude,
        fail_on=fail_on,
        min_confidence=min_conf,
        rule_options=rule_options,
        data=table.get("data", {}),
        data_settings=data_settings,
        baseline=table.get("baseline"),
        cache_dir=table.get("cache-dir"),
        file_timeout=float(file_timeout) if file_timeout is not None else None,
        preview=preview,
    )


class _NoSpec:
    status = "stable"


_NONE: Any = _NoSpec()


def _explicit(catalog: Catalog, values: Iterable[str]) -> set[str]:
    """Codes named exactly (not by prefix): deprecated rules run only when named so."""
    out: set[str] = set()
    for v in values:
        spec = catalog.lookup(v)
        if spec is not None:
            out.add(spec.code)
    return out


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "table":
        return isinstance(value, dict)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "list[number]":
        return isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return False


def rule_spec_options_doc(spec: RuleSpec) -> str:
    if not spec.options:
        return "This rule has no options."
    rows = [f"- `{o.name}` ({o.type}, default `{o.default!r}`): {o.doc}" for o in spec.options]
    return "\n".join(rows)
