"""Every rule's own examples: VALID must not be flagged, INVALID must be, on the right line."""

from __future__ import annotations

import pytest

from mldebt.catalog import load_catalog
from mldebt.rules.base import Invalid, MetaRule, Valid
from mldebt.testing import scan_snippets

CATALOG = load_catalog()


def _cases(kind: str):
    for spec in CATALOG.rules:
        cls = spec.load_class()
        for i, example in enumerate(getattr(cls, kind)):
            yield pytest.param(spec, example, id=f"{spec.code}-{spec.name}-{kind.lower()}-{i}")


def _run(spec, example):
    if isinstance(example, str):
        example = Valid(example)
    files = dict(example.files) if example.files else {example.path: example.code}
    # meta rules judge other rules' findings, so every rule runs for them
    select = None if issubclass(spec.load_class(), MetaRule) else [spec.code]
    options = {spec.code: example.options} if example.options else None
    report = scan_snippets(files, select=select, options=options)
    assert not report.errors, report.errors
    return example, [f for f in report.findings if f.rule == spec.code]


@pytest.mark.parametrize(("spec", "example"), list(_cases("VALID")))
def test_valid_example_is_not_flagged(spec, example):
    _, found = _run(spec, example)
    assert found == [], "\n".join(f"{f.path}:{f.line}:{f.column} {f.message}" for f in found)


@pytest.mark.parametrize(("spec", "example"), list(_cases("INVALID")))
def test_invalid_example_is_flagged_on_its_line(spec, example):
    example, found = _run(spec, example)
    assert isinstance(example, Invalid)
    assert example.line > 0, "every invalid example pins its line"
    here = [f for f in found if f.path == example.path and f.line == example.line]
    assert here, f"expected {spec.code} at {example.path}:{example.line}, got " + repr(
        [(f.path, f.line, f.message) for f in found])
    if example.column is not None:
        assert any(f.column == example.column for f in here), [(f.line, f.column) for f in here]
    if example.message_contains:
        assert any(example.message_contains in f.message for f in here), [f.message for f in here]
    if example.confidence:
        assert any(f.confidence.value == example.confidence for f in here), [f.confidence for f in here]
