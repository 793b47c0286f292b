"""The catalog and the rule classes match one to one, and every rule is documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import mldebt.rules
from mldebt.catalog import CODE_RE, OPTION_TYPES, load_catalog
from mldebt.config import _type_ok
from mldebt.model import SMELLS
from mldebt.rules.base import MetaRule, Rule

CATALOG = load_catalog()
HEADINGS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Options",
            "## References"]
FAMILY = {smell: i for i, smell in enumerate(
    ["analysis", "glue-code", "pipeline-jungle", "hard-coded-threshold", "dead-experimental-path",
     "undeclared-data-dependency", "configuration-debt", "unseeded-randomness", "data-leakage",
     "ml-api-misuse"])}


def _rule_classes() -> set[type]:
    found = set()
    for info in pkgutil.walk_packages(mldebt.rules.__path__, "mldebt.rules."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__:
                continue
            if (issubclass(obj, Rule) or issubclass(obj, MetaRule)) and (obj.__doc__ or "").strip() \
                    and (obj.VALID or obj.INVALID):
                found.add(obj)
    return found


def test_catalog_and_classes_match_one_to_one():
    referenced = [spec.load_class() for spec in CATALOG.rules]
    assert len(referenced) == len(set(referenced)), "a class is named by two catalog entries"
    assert set(referenced) == _rule_classes()


def test_codes_and_names_are_unique_and_well_formed():
    codes = [r.code for r in CATALOG.rules]
    names = [r.name for r in CATALOG.rules]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))
    for spec in CATALOG.rules:
        assert CODE_RE.match(spec.code)
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", spec.name), spec.name
        assert spec.smell in SMELLS
        # the family digit selects a smell: MLD3xx are all hard-coded-threshold, ...
        assert int(spec.code[3]) == FAMILY[spec.smell], (spec.code, spec.smell)


@pytest.mark.parametrize("spec", CATALOG.rules, ids=lambda s: s.code)
def test_rule_is_documented(spec):
    cls = spec.load_class()
    doc = inspect.cleandoc(cls.__doc__ or "")
    positions = [doc.find(h) for h in HEADINGS]
    assert all(p >= 0 for p in positions), f"{spec.code} docstring lacks {[h for h, p in zip(HEADINGS, positions) if p < 0]}"
    assert positions == sorted(positions), f"{spec.code} headings out of order"
    assert spec.summary and spec.hint, f"{spec.code} needs a summary and a hint in the catalog"
    assert cls.VALID and cls.INVALID, f"{spec.code} needs VALID and INVALID examples"
    assert spec.remediation_minutes > 0


@pytest.mark.parametrize("spec", [s for s in CATALOG.rules if s.options], ids=lambda s: s.code)
def test_every_option_is_documented_and_typed(spec):
    doc = inspect.cleandoc(spec.load_class().__doc__ or "")
    options_section = doc.split("## Options", 1)[1].split("## References", 1)[0]
    for opt in spec.options:
        assert opt.type in OPTION_TYPES, (spec.code, opt.name, opt.type)
        assert opt.doc.strip(), f"{spec.code} option {opt.name} has no doc in the catalog"
        assert f"`{opt.name}`" in options_section, f"{spec.code} docstring does not document `{opt.name}`"
        assert _type_ok(opt.default, opt.type), (spec.code, opt.name, opt.default)


def test_knowledge_is_loaded_from_the_catalog():
    assert isinstance(CATALOG.knowledge, dict)


def test_compiled_knowledge_is_built_once_per_mapping_and_builder():
    from mldebt.rules.base import compiled

    calls = []

    def build(k):
        calls.append(k)
        return {"n": len(k)}

    a, b = {"x": 1}, {"x": 1, "y": 2}
    first = compiled(a, build)
    assert compiled(a, build) is first and calls == [a]  # the same mapping: built once
    assert compiled(b, build) == {"n": 2} and calls == [a, b]  # an equal-looking other one: its own
    assert compiled(a, lambda k: "other") == "other"  # another builder of the same mapping
