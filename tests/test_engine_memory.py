"""The file phase keeps nothing of a file's tree once the file is done (issue 7, memory)."""

from __future__ import annotations

import gc
from pathlib import Path

import libcst as cst
import pytest

from mldebt import engine
from mldebt.catalog import load_catalog
from mldebt.config import build_settings
from mldebt.scan import make_plans

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _sources() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if ".mldebt_cache" not in p.parts)[:40]


@pytest.fixture(scope="module")
def plans():
    catalog = load_catalog()
    settings = build_settings(catalog, FIXTURES, None)
    return make_plans(settings, catalog), catalog.knowledge


def _nodes() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, cst.CSTNode))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_no_tree_outlives_its_file(path: Path, plans) -> None:
    """Every rule runs, and with the cyclic collector off not one libcst node is left alive
    once ``analyse_source`` returns: nothing (the context, a rule, a fact, a finding) holds on
    to the tree, so reference counting frees it at once."""
    rel = path.relative_to(FIXTURES).as_posix()
    job = engine.FileJob(str(path), rel, path.stem, False, False)
    data = path.read_bytes()
    engine.analyse_source(job, data, plans[0], plans[1])  # first use: imports, compiled knowledge
    gc.collect()
    gc.disable()
    try:
        before = _nodes()
        result = engine.analyse_source(job, data, plans[0], plans[1])
        after = _nodes()
    finally:
        gc.enable()
    assert result.error is None
    assert after == before, f"{rel}: {after - before} nodes of its tree outlived analyse_source"


def test_the_check_sees_a_kept_tree(plans, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node count above does see a tree that something keeps."""
    kept = []
    real = engine.parse
    monkeypatch.setattr(engine, "parse", lambda source: kept.append(real(source)) or kept[-1])
    path = _sources()[0]
    job = engine.FileJob(str(path), path.name, path.stem, False, False)
    gc.collect()
    before = _nodes()
    engine.analyse_source(job, path.read_bytes(), plans[0], plans[1])
    assert _nodes() > before
