"""The per-file time budget (issue 8): one pathological file cannot stall a CI job. A file
not analysed in time is an error entry ("timed out"), the other files keep their findings,
and the scan goes on, in process (`--jobs 1`) and in the pool, where a worker stuck in native
code (simulated with SIGSTOP: it cannot run its own alarm) is killed by the watchdog."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mldebt import engine
from mldebt.scan import ScanRequest, run_scan
from test_worker_death import _kill_on_boom

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "research-scripts"

forked = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                            reason="the workers inherit the patched engine only when forked")


# findings of the file alone (no data read or written: nothing the project rules miss when it
# is not analysed)
_FINDINGS_OF_ITS_OWN = """def keep(scores):
    return [s for s in scores if s > 0.73]


if __name__ == "__main__":
    if False:
        print(keep([1]))
"""


def _tree(tmp_path: Path, names: list[str], copies: int = 3) -> Path:
    tree = tmp_path / "proj"
    for i in range(copies):  # 3 copies: enough files for the pool (16 or more)
        shutil.copytree(FIXTURE, tree / f"copy{i}", ignore=shutil.ignore_patterns(".mldebt_cache"))
    for i, name in enumerate(names):
        (tree / f"copy{i % copies}" / name).write_text(_FINDINGS_OF_ITS_OWN)
    return tree


def _misbehave(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on (and in workers forked from now on), a file named ``slow*.py`` spends a
    minute in Python code, and one named ``stuck*.py`` stops its process as a native call
    that never returns would (no signal handler of its own runs)."""
    real = engine.analyse_source

    def analyse(job, data, *args, **kwargs):
        name = Path(job.path).name
        if name.startswith("slow"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.01)
        if name.startswith("stuck"):
            os.kill(os.getpid(), signal.SIGSTOP)
        return real(job, data, *args, **kwargs)

    monkeypatch.setattr(engine, "analyse_source", analyse)


def _without(findings, prefixes: tuple[str, ...]):
    return [f for f in findings if not Path(f.path).name.startswith(prefixes)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_slow_file_times_out_and_the_rest_is_intact(tmp_path, monkeypatch, jobs):
    tree = _tree(tmp_path, ["slow_a.py", "slow_b.py"])
    calm = run_scan(ScanRequest(targets=(tree,), jobs=jobs))
    assert not calm.errors
    assert any(Path(f.path).name.startswith("slow") for f in calm.findings)
    _misbehave(monkeypatch)
    started = time.monotonic()
    report = run_scan(ScanRequest(targets=(tree,), jobs=jobs, file_timeout=0.5))
    assert time.monotonic() - started < 30  # two files of a minute each did not run to the end
    assert sorted(e.path for e in report.errors) == ["copy0/slow_a.py", "copy1/slow_b.py"]
    assert all(e.message.startswith("timed out: not analysed within the per-file time budget of 0.5 s")
               for e in report.errors)
    assert list(report.findings) == _without(calm.findings, ("slow",))


@forked
def test_the_watchdog_kills_a_worker_stuck_in_native_code(tmp_path, monkeypatch):
    tree = _tree(tmp_path, ["stuck_a.py", "stuck_b.py", "slow_c.py"])
    calm = run_scan(ScanRequest(targets=(tree,), jobs=2))
    _misbehave(monkeypatch)
    report = run_scan(ScanRequest(targets=(tree,), jobs=2, file_timeout=0.5))
    assert sorted(e.path for e in report.errors) == ["copy0/stuck_a.py", "copy1/stuck_b.py", "copy2/slow_c.py"]
    assert all(e.message.startswith("timed out") for e in report.errors)
    assert list(report.findings) == _without(calm.findings, ("stuck", "slow"))


@forked
def test_a_stuck_file_among_the_suspects_of_a_dead_worker(tmp_path, monkeypatch):
    """A worker that dies by itself sends the files in flight to be analysed one by one; a
    stuck file among them is timed out there too, and the dying one is reported as such."""
    tree = _tree(tmp_path, ["boom.py", "stuck.py"], copies=1)
    for i in range(1, 3):
        shutil.copytree(FIXTURE, tree / f"copy{i}")
    calm = run_scan(ScanRequest(targets=(tree,), jobs=2))
    _misbehave(monkeypatch)
    _kill_on_boom(monkeypatch)  # on top: boom*.py kills its worker
    report = run_scan(ScanRequest(targets=(tree,), jobs=2, file_timeout=0.5))
    errors = {e.path: e.message for e in report.errors}
    assert errors["copy0/boom.py"] == engine.WORKER_DIED
    assert errors["copy0/stuck.py"].startswith("timed out")
    assert len(errors) == 2
    assert list(report.findings) == _without(calm.findings, ("stuck", "boom"))


def test_a_timeout_is_not_cached(tmp_path, monkeypatch):
    tree = _tree(tmp_path, ["slow.py"], copies=1)
    cache = tmp_path / "cache"
    real = engine.analyse_source
    _misbehave(monkeypatch)
    first = run_scan(ScanRequest(targets=(tree,), jobs=1, cache=True, cache_dir=cache, file_timeout=0.3))
    assert [e.path for e in first.errors] == ["copy0/slow.py"]
    monkeypatch.setattr(engine, "analyse_source", real)
    second = run_scan(ScanRequest(targets=(tree,), jobs=1, cache=True, cache_dir=cache, file_timeout=0.3))
    assert not second.errors  # analysed this time, not the stored timeout
    assert any(f.path == "copy0/slow.py" for f in second.findings)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mldebt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)


def _big_module(lines: int) -> str:
    out = ["import numpy as np", ""]
    for i in range(lines // 5):
        out.append(f"def f{i}(x):\n    if x > {i}.5:\n        return np.random.rand({i})\n    return x * 0.{i + 1}\n")
    return "\n".join(out)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_real_file_over_a_tight_budget_from_the_cli(tmp_path, jobs):
    """No patching: a 30,000-line module takes seconds, a budget of a fraction of one second
    times it out; the small files of the project are analysed; exit code 1 (findings)."""
    tree = _tree(tmp_path, [])
    (tree / "huge.py").write_text(_big_module(30_000) + "\n\n" + _FINDINGS_OF_ITS_OWN)
    out = tmp_path / "report.json"
    done = _cli(["scan", str(tree), "--no-cache", "--jobs", jobs, "--file-timeout", "0.2",
                 "--format", "json", "-o", str(out)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""  # no worker traceback when the watchdog ends a pool
    report = json.loads(out.read_text())
    assert [(e["path"], e["message"][:10]) for e in report["errors"]] == [("huge.py", "timed out:")]
    assert {f["path"].split("/")[0] for f in report["findings"]} == {"copy0", "copy1", "copy2"}
    unlimited = _cli(["scan", str(tree), "--no-cache", "--jobs", jobs, "--file-timeout", "0",
                      "--format", "json", "-o", str(out)], tmp_path)
    assert unlimited.returncode == 1, unlimited.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert any(f["path"] == "huge.py" for f in report["findings"])


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("file-timeout = -1\n", [], "file-timeout"),
        ('file-timeout = "fast"\n', [], "file-timeout"),
        ("", ["--file-timeout", "-1"], "--file-timeout"),
        ("", ["--file-timeout", "soon"], "--file-timeout"),
    ],
)
def test_a_bad_budget_is_a_one_line_error(tmp_path, config, args, message):
    (tmp_path / "pyproject.toml").write_text("[tool.mldebt]\n" + config)
    (tmp_path / "a.py").write_text("x = 1\n")
    done = _cli(["scan", str(tmp_path), *args], tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_budget_comes_from_the_config(tmp_path, monkeypatch):
    tree = _tree(tmp_path, ["slow.py"], copies=1)
    (tree / "pyproject.toml").write_text("[tool.mldebt]\nfile-timeout = 0.3\n")
    _misbehave(monkeypatch)
    report = run_scan(ScanRequest(targets=(tree,), jobs=1))
    assert [e.message for e in report.errors] == [
        ("timed out: not analysed within the per-file time budget of 0.3 s"
         " (raise it with --file-timeout or `file-timeout` in the config)")]
