"""The configuration files the code loads, parsed, and who reads which key.

:func:`analyse` joins the facts of :mod:`mldebt.rules.config_keys._facts` with the files
they name (read under the project root, never outside it): YAML (``yaml.safe_load`` only,
``yaml.compose`` for line numbers), JSON and TOML; Hydra configurations composed from
``config_path``/``config_name`` and the groups of their ``defaults:`` list. A file that is
missing, too big or broken is skipped silently (the scan's errors are not these rules').
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mldebt.model import Fact, Location
from mldebt.rules.base import FileFacts, ProjectView, per_project

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # pragma: no cover
    _toml = None  # type: ignore[assignment]

FACTS = "facts:config_keys"
_MAX_BYTES = 1_000_000
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INTERP = re.compile(r"\$\{([^{}]*)\}")
_IDENT = re.compile(r"[A-Za-z_]\w*")
# keys that belong to Hydra/instantiate, not to the code
RESERVED = frozenset({"defaults", "hydra"})


@dataclass
class Config:
    """One configuration as the code sees it: nested dicts; ``lines`` maps a key path to
    ``(file, line)``; ``complete`` is False when composition could not be followed fully."""

    key: str  # what identifies it: the file, or "hydra:<dir>/<name>"
    tree: dict[str, Any]
    lines: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=dict)
    complete: bool = True
    groups: frozenset[str] = frozenset()  # Hydra config groups (can be added from the CLI)
    texts: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    configs: dict[str, Config]
    # (file facts, load fact) -> the config key it resolves to
    loads: dict[tuple[str, int], str]
    reads: list[tuple[FileFacts, Fact]]
    writes: list[tuple[FileFacts, Fact]]
    mutated: set[tuple[str, int]]
    files: dict[str, Mapping[str, Any]]  # path -> the `file` fact's data
    options: list[tuple[FileFacts, Fact]]
    reader: _Files
    defs: dict[str, list[str]]  # "module.function" -> its parameter names
    imported: set[str] = field(default_factory=set)  # names some file imports
    loader_functions: dict[str, str] = field(default_factory=dict)  # "module.fn" -> config key
    passed: set[tuple[str, str, int]] = field(default_factory=set)  # (path, target, load) handed on
    loaders_called: set[str] = field(default_factory=set)  # loader functions some code calls (no args)
    tests: set[str] = field(default_factory=set)  # test files


def _safe_rel(path: str) -> str | None:
    p = posixpath.normpath(path)
    if p.startswith(("/", "..")) or p == ".":
        return None
    return p


class _Files:
    """Reads files under the root (cached; never outside it)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        try:
            self.top = self.root.resolve()
        except OSError:
            self.top = self.root
        self._cache: dict[str, str | None] = {}

    def text(self, rel: str) -> str | None:
        if rel in self._cache:
            return self._cache[rel]
        out: str | None = None
        p = self.root / rel
        try:
            if p.is_file() and p.resolve().is_relative_to(self.top) and p.stat().st_size <= _MAX_BYTES:
                out = p.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError, ValueError):
            out = None
        self._cache[rel] = out
        return out

    def is_dir(self, rel: str) -> bool:
        try:
            p = self.root / rel
            return p.is_dir() and p.resolve().is_relative_to(self.top)
        except OSError:
            return False

    def subdirs(self, rel: str) -> frozenset[str]:
        try:
            return frozenset(c.name for c in (self.root / rel).iterdir() if c.is_dir())
        except OSError:
            return frozenset()


# -- parsing --------------------------------------------------------------------------
def _yaml_lines(text: str, rel: str) -> dict[tuple[str, ...], tuple[str, int]]:
    out: dict[tuple[str, ...], tuple[str, int]] = {}
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return out

    def walk(node: yaml.Node, path: tuple[str, ...], depth: int) -> None:
        if depth > 50 or not isinstance(node, yaml.MappingNode):
            return
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                p = (*path, k.value)
                out.setdefault(p, (rel, k.start_mark.line + 1))
                walk(v, p, depth + 1)

    if root is not None:
        walk(root, (), 0)
    return out


def _scan_lines(text: str, rel: str, data: Mapping[str, Any], toml: bool) -> dict[tuple[str, ...], tuple[str, int]]:
    """JSON/TOML: each key's line, found by scanning the text in order (first match after
    its parent's line)."""
    out: dict[tuple[str, ...], tuple[str, int]] = {}
    lines = text.split("\n")

    def find(key: str, start: int) -> int | None:
        pats = ([f'"{key}"'] if not toml else [f"{key} =", f"{key}=", f'"{key}" =', f"[{key}]", f".{key}]"])
        for i in range(start, len(lines)):
            if any(p in lines[i] for p in pats):
                return i
        return None

    def walk(d: Mapping[str, Any], path: tuple[str, ...], start: int, depth: int) -> None:
        if depth > 50:
            return
        for k, v in d.items():
            i = find(str(k), start)
            if i is None:
                continue
            here = (*path, str(k))
            out[here] = (rel, i + 1)
            if isinstance(v, Mapping):
                walk(v, (*path, str(k)), i if not toml else 0, depth + 1)

    walk(data, (), 0, 0)
    return out


def _parse(files: _Files, rel: str) -> tuple[dict[str, Any], dict[tuple[str, ...], tuple[str, int]], str] | None:
    text = files.text(rel)
    if text is None:
        return None
    low = rel.lower()
    try:
        if low.endswith((".yaml", ".yml")):
            data = yaml.load(text, Loader=_Loader)  # the safe loader: nothing is constructed
            lines = _yaml_lines(text, rel) if isinstance(data, dict) else {}
        elif low.endswith(".json"):
            data = json.loads(text)
            lines = _scan_lines(text, rel, data, toml=False) if isinstance(data, dict) and not _too_big(data, 2_000) else {}
        elif low.endswith(".toml") and _toml is not None:
            data = _toml.loads(text)
            lines = _scan_lines(text, rel, data, toml=True) if not _too_big(data, 2_000) else {}
        else:
            return None
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data) or _too_big(data):
        return None
    return data, lines, text


def _too_big(data: Any, budget: int = 20_000) -> bool:
    """More than ``budget`` values, counting each alias again (a YAML "billion laughs")."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > budget:
            return True
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _file_config(files: _Files, locations: list[str]) -> Config | None:
    for loc in locations:
        rel = _safe_rel(loc)
        if rel is None:
            continue
        parsed = _parse(files, rel)
        if parsed is not None:
            data, lines, text = parsed
            return Config(rel, data, lines, texts=[text])
    return None


def _hydra_config(files: _Files, folder: str, name: str) -> Config | None:
    base = _safe_rel(folder)
    if base is None or not files.is_dir(base):
        return None
    fname = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
    primary = _safe_rel(posixpath.join(base, fname))
    parsed = _parse(files, primary) if primary else None
    if parsed is None:
        return None
    data, lines, text = parsed
    cfg = Config(f"hydra:{primary}", {}, {}, groups=files.subdirs(base), texts=[text])
    defaults = data.get("defaults")
    _merge(cfg, data, lines, ())
    if defaults is None:
        return cfg
    if not isinstance(defaults, list):
        cfg.complete = False
        return cfg
    chosen: set[str] = set()
    for entry in defaults:
        if entry == "_self_":
            continue
        if isinstance(entry, str):
            _compose_file(files, cfg, base, entry, ())
            continue
        if not isinstance(entry, dict) or len(entry) != 1:
            cfg.complete = False
            continue
        (group, option), = entry.items()
        group = str(group)
        for prefix in ("override ", "optional "):
            if group.startswith(prefix):
                group = group[len(prefix):].strip()
        if group == "hydra" or group.startswith("hydra/"):
            continue  # Hydra's own settings (launcher, sweeper, logging)
        if "@" in group or not isinstance(option, str) or "${" in option or option == "???":
            cfg.complete = False
            continue
        _compose_file(files, cfg, base, f"{group}/{option}", tuple(group.split("/")))
        chosen.add(group.split("/")[0])
    cfg.groups = cfg.groups - chosen  # groups the command line could still add (`+group=x`)
    return cfg


def _compose_file(files: _Files, cfg: Config, base: str, name: str, at: tuple[str, ...]) -> None:
    rel = _safe_rel(posixpath.join(base, name if name.endswith((".yaml", ".yml")) else name + ".yaml"))
    parsed = _parse(files, rel) if rel else None
    if parsed is None:
        cfg.complete = False
        return
    data, lines, text = parsed
    cfg.texts.append(text)
    head = text.lstrip().split("\n", 1)[0]
    if head.startswith("# @package"):
        package = head[len("# @package"):].strip()
        if package == "_global_":
            at = ()
        elif package != "_group_":
            cfg.complete = False
            return
    sub = data.get("defaults")
    if sub is not None and sub != ["_self_"]:
        cfg.complete = False
    _merge(cfg, data, lines, at)


def _merge(cfg: Config, data: Mapping[str, Any], lines: Mapping[tuple[str, ...], tuple[str, int]],
           at: tuple[str, ...]) -> None:
    node = cfg.tree
    for k in at:
        nxt = node.get(k)
        if not isinstance(nxt, dict):
            nxt = node[k] = {}
        node = nxt

    def deep(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
        for k, v in src.items():
            if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
                deep(dst[k], v)
            elif isinstance(v, Mapping):
                dst[k] = {}
                deep(dst[k], v)
            else:
                dst[k] = v

    deep(node, {k: v for k, v in data.items() if not (at == () and k == "defaults")})
    for path, where in lines.items():
        full = (*at, *path)
        cfg.lines[full] = where


# -- the analysis ---------------------------------------------------------------------
# one analysis per scanned project: MLD603 and MLD604 both ask for it


def analyse(project: ProjectView) -> Analysis:
    """The configs the project loads, compared with what its code reads (computed once)."""
    return per_project(project, _analyse)


def _analyse(project: ProjectView) -> Analysis:
    files = _Files(project.root)
    configs: dict[str, Config] = {}
    loads: dict[tuple[str, int], str] = {}
    reads, writes, options = [], [], []
    mutated: set[tuple[str, int]] = set()
    file_data: dict[str, Mapping[str, Any]] = {}
    calls: list[tuple[FileFacts, Fact]] = []
    defaulted: dict[tuple[str, int], str] = {}
    for ff, fact in project.facts(FACTS):
        if fact.kind == "load":
            d = fact.data
            if d["loader"] == "call":
                calls.append((ff, fact))
                continue
            if d["loader"] == "hydra":
                key = f"hydra:{d['locations'][0]}/{d['name']}"
                if key not in configs:
                    c = _hydra_config(files, d["locations"][0], d["name"])
                    if c is None:
                        continue
                    configs[key] = c
            else:
                c = _file_config(files, list(d["locations"]))
                if c is None:
                    continue
                key = c.key
                configs.setdefault(key, c)
            if not d["complete"]:
                configs[key].complete = False
            if d.get("via_default"):
                # a parameter's default (`def f(path="config.yaml")`): callers may pass another
                # file; only followed for a loader function called without arguments
                defaulted[(ff.path, d["index"])] = key
                continue
            loads[(ff.path, d["index"])] = key
        elif fact.kind == "read":
            reads.append((ff, fact))
        elif fact.kind == "write":
            writes.append((ff, fact))
        elif fact.kind == "mutate":
            mutated.add((ff.path, fact.data["load"]))
        elif fact.kind == "option":
            options.append((ff, fact))
        elif fact.kind == "file":
            file_data[ff.path] = fact.data
    defs: dict[str, list[str]] = {}
    imported: set[str] = set()
    modules: dict[str, str] = {}
    tests: set[str] = set()
    for ff in project.files():
        modules[ff.path] = ff.module
        if ff.is_test:
            tests.add(ff.path)
        data = file_data.get(ff.path, {})
        imported.update(data.get("imported", ()))
        for fn, params in data.get("defs", {}).items():
            defs[f"{ff.module}.{fn}"] = list(params)
    a = Analysis(configs, loads, reads, writes, mutated, file_data, options, files, defs, imported, tests=tests)
    for ff, fact in reads:
        d = fact.data
        if d["whole"] and not d["path"] and d["callee"] and not d["display"]:
            a.passed.add((ff.path, d["target"], d["load"]))
    # `def load_params(path="params.yaml"): return yaml.safe_load(open(path))`: a loader
    own: dict[str, tuple[str, int]] = {}
    for ff, fact in reads:
        d = fact.data
        where = (ff.path, d["load"])
        got = (loads.get(where) or defaulted.get(where)) if d["target"] == "config" else None
        if (got is not None and d["whole"] and not d["path"] and d.get("returned") and not d["callee"]
                and (ff.path, d["load"]) not in mutated and (ff.path, "config", d["load"]) not in a.passed):
            a.loader_functions[f"{modules.get(ff.path, '')}.{d['returned']}"] = got
            own[f"{modules.get(ff.path, '')}.{d['returned']}"] = where
    for ff, fact in calls:
        d = fact.data
        loaded = a.loader_functions.get(d["name"])
        if loaded is not None and d["complete"]:
            loads[(ff.path, d["index"])] = loaded
            a.loaders_called.add(d["name"])
            at = own[d["name"]]
            if at in defaulted:
                loads[at] = defaulted[at]
    return a


def escapes(a: Analysis, path: str, module: str, d: Mapping[str, Any], args_functions: Any = ()) -> bool:
    """Does the whole-use ``d`` (a read fact's data) hide reads the scan cannot see?"""
    if d["path"] or not d["whole"]:
        return False
    fn = d.get("returned")
    if fn and not d["callee"]:
        qualified = f"{module}.{fn}"
        if d["target"] == "config" and qualified in a.loaders_called:
            return False  # its callers' reads are followed
        # `args = parse_args()` in this file
        return not (d["target"] == "args" and fn in args_functions and qualified not in a.imported)
    return not harmless_call(a, d["callee"], d["position"], d["display"])


def harmless_call(a: Analysis, callee: str, position: Any, display: bool) -> bool:
    """Handing the object to ``callee`` hides no reads: a display call (print, log, save), or
    a project function whose parameter at ``position`` is named like a config (its reads are
    recorded; the collector blanks the other parameter names)."""
    if not callee:
        return False
    if display:
        return True
    params = a.defs.get(callee.lstrip("."))
    if params is None:
        return False
    if isinstance(position, int):
        return position < len(params) and bool(params[position])
    return isinstance(position, str) and position in params


def walk_path(tree: Mapping[str, Any], path: tuple[str, ...]) -> int | None:
    """The index of the first component of ``path`` the tree does not define, or None
    (defined, or it runs into a value that is not a mapping: no judgement)."""
    node: Any = tree
    for i, k in enumerate(path):
        if not isinstance(node, Mapping) or not all(isinstance(x, str) for x in node):
            return None  # `on:`/`yes:` are booleans to YAML 1.1: no judgement
        if k not in node:
            return i
        node = node[k]
    return None


def leaves(tree: Mapping[str, Any], path: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[str, ...]]:
    if depth > 50:
        return
    for k, v in tree.items():
        p = (*path, str(k))
        if isinstance(v, Mapping):
            if v:
                yield from leaves(v, p, depth + 1)
        else:
            yield p


def interpolated_names(texts: list[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        for m in _INTERP.finditer(t):
            out.update(_IDENT.findall(m.group(1)))
    return out


def location(line: int, key: tuple[str, ...]) -> Location:
    """A finding's place in a configuration file. Its snippet (what fingerprints it) is the
    key's dotted path: the finding survives edits of the value and moves of the line."""
    return Location(line, 1, line, 1, line, "<module>", ".".join(key))
