"""The rule catalog: ``rules/*.yaml`` (shipped in the wheel as ``mldebt/_catalog``).

Each YAML file holds ``rules:`` (identity and policy of each rule) and/or ``knowledge:``
(the API facts rules share). The catalog names the class that implements each rule; the
class holds detection, documentation and examples, never the rule's code or name.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

# libyaml's loader when PyYAML was built with it (5x faster on the catalog); same safe schema
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

from mldebt.model import SMELLS, Confidence, Severity

CODE_RE = re.compile(r"^MLD\d{3}$")
STATUSES = ("preview", "stable", "deprecated", "removed")
OPTION_TYPES = ("bool", "int", "float", "number", "str", "list[str]", "list[number]")


class CatalogError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    type: str
    default: Any
    doc: str


@dataclass(frozen=True, slots=True)
class RuleSpec:
    code: str
    name: str
    smell: str
    status: str
    since: str
    severity: Severity
    confidence: Confidence
    remediation_minutes: int
    impl: str  # "module.path:ClassName" under mldebt.rules
    tests: bool  # runs on test files
    summary: str
    hint: str
    options: tuple[OptionSpec, ...]

    @property
    def default_options(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def load_class(self) -> type:
        return _load_class(self.impl)


@functools.lru_cache(maxsize=None)
def _load_class(impl: str) -> type:
    module, _, cls = impl.partition(":")
    return getattr(importlib.import_module(f"mldebt.rules.{module}"), cls)


@dataclass(frozen=True, slots=True)
class Catalog:
    rules: tuple[RuleSpec, ...]
    knowledge: Mapping[str, Any]

    def by_code(self, code: str) -> RuleSpec | None:
        for r in self.rules:
            if r.code == code:
                return r
        return None

    def lookup(self, key: str) -> RuleSpec | None:
        """A rule by code (any case) or name."""
        k = key.strip()
        for r in self.rules:
            if r.code == k.upper() or r.name == k.lower():
                return r
        return None

    def match(self, selector: str) -> list[RuleSpec]:
        """Rules a selector names: a code, a code prefix, a rule name, a smell, or ALL."""
        s = selector.strip()
        if s.upper() == "ALL":
            return list(self.rules)
        hits = [r for r in self.rules if r.name == s or r.smell == s]
        if hits:
            return hits
        up = s.upper()
        if up.startswith("MLD"):
            return [r for r in self.rules if r.code.startswith(up)]
        return []


def catalog_dir() -> Any:
    """The catalog folder as an importlib.resources Traversable.

    In a built wheel the catalog is the package data ``mldebt/_catalog``; in a source
    checkout (editable install) it is the top-level ``rules/`` folder beside the package.
    """
    packaged = importlib.resources.files("mldebt") / "_catalog"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    root = catalog_dir()
    rules: list[RuleSpec] = []
    knowledge: dict[str, Any] = {}
    files = sorted((p for p in root.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    if not files:
        raise CatalogError(f"no rule catalog found in {root}")
    for entry in files:
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for raw in data.get("rules", []) or []:
            rules.append(_rule_spec(raw, entry.name))
        for key, value in (data.get("knowledge", {}) or {}).items():
            if key in knowledge:
                raise CatalogError(f"{entry.name}: knowledge key {key!r} defined twice")
            knowledge[key] = value
    rules.sort(key=lambda r: r.code)
    return Catalog(tuple(rules), knowledge)


def _rule_spec(raw: Mapping[str, Any], where: str) -> RuleSpec:
    try:
        options = tuple(
            OptionSpec(name, str(o["type"]), o.get("default"), str(o.get("doc", "")))
            for name, o in (raw.get("options") or {}).items()
        )
        spec = RuleSpec(
            code=str(raw["code"]),
            name=str(raw["name"]),
            smell=str(raw["smell"]),
            status=str(raw.get("status", "stable")),
            since=str(raw.get("since", "0.1.0")),
            severity=Severity(raw.get("severity", "warning")),
            confidence=Confidence(raw.get("confidence", "high")),
            remediation_minutes=int(raw.get("remediation_minutes", 10)),
            impl=str(raw["class"]),
            tests=bool(raw.get("tests", True)),
            summary=str(raw.get("summary", "")),
            hint=str(raw.get("hint", "")),
            options=options,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise CatalogError(f"{where}: bad rule entry {raw!r}: {exc}") from exc
    if not CODE_RE.match(spec.code):
        raise CatalogError(f"{where}: bad rule code {spec.code!r}")
    if spec.smell not in SMELLS:
        raise CatalogError(f"{where}: {spec.code} has unknown smell {spec.smell!r}")
    if spec.status not in STATUSES:
        raise CatalogError(f"{where}: {spec.code} has unknown status {spec.status!r}")
    return spec
