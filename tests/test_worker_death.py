"""A worker process that dies (a crash in native code, the out-of-memory killer) costs the
file it was analysing, reported in `errors`, not the scan (issue 8)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from mldebt import engine
from mldebt.scan import ScanRequest, run_scan

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "research-scripts"

pytestmark = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                                reason="the workers inherit the patched engine only when forked")


def _kill_on_boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers forked from now on die (SIGKILL) when they reach a file named ``boom*.py``."""
    real = engine.analyse_source

    def analyse(job, data, *args, **kwargs):
        if Path(job.path).name.startswith("boom"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(job, data, *args, **kwargs)

    monkeypatch.setattr(engine, "analyse_source", analyse)


def _tree(tmp_path: Path, booms: int) -> Path:
    import shutil

    tree = tmp_path / "proj"
    for i in range(3):  # enough files for the pool (16 or more)
        shutil.copytree(FIXTURE, tree / f"copy{i}", ignore=shutil.ignore_patterns(".mldebt_cache"))
    for i in range(booms):
        (tree / f"copy{i % 3}" / f"boom{i}.py").write_text("THRESHOLD = 0.5\n")
    return tree


@pytest.mark.parametrize("booms", [1, 3])
def test_a_dying_worker_costs_one_file(tmp_path, monkeypatch, booms):
    tree = _tree(tmp_path, booms)
    calm = run_scan(ScanRequest(targets=(tree,), jobs=2))
    assert not calm.errors
    _kill_on_boom(monkeypatch)  # only pool workers reach the patched code (jobs=2)
    report = run_scan(ScanRequest(targets=(tree,), jobs=2))
    dead = sorted(e.path for e in report.errors)
    assert dead == sorted(str(p.relative_to(tree)) for p in tree.rglob("boom*.py"))
    assert all(e.message == engine.WORKER_DIED for e in report.errors)
    others = [f for f in calm.findings if not Path(f.path).name.startswith("boom")]
    assert list(report.findings) == others
