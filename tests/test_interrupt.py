"""An interrupted scan (Ctrl-C, or the SIGTERM a cancelled CI job gets) stops at once, leaves
the previous report whole and no partial file, and leaves no worker behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures, copied often enough that a cold scan takes several seconds."""
    tree = tmp_path_factory.mktemp("big") / "tree"
    for i in range(8):
        for fixture in sorted(p for p in (ROOT / "fixtures").iterdir() if p.is_dir()):
            shutil.copytree(fixture, tree / f"copy{i}" / fixture.name,
                            ignore=shutil.ignore_patterns(".mldebt_cache", "labels.yaml"))
    return tree


def _ours(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the scan and its forked workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover workers")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_scan_leaves_the_old_report_and_no_worker(big_tree, tmp_path, sig):
    out = tmp_path / "report.json"
    out.write_text("the previous report\n")
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "mldebt", "scan", str(big_tree), "--jobs", "2", "--format", "json",
           "-o", str(out), "--cache-dir", str(cache)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((cache / "files").glob("*/*/*")):
        time.sleep(0.1)  # the workers are analysing and storing entries
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    started = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10, "the scan did not stop promptly"
    assert proc.returncode == 2 and "interrupted" in err, err
    assert out.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "report.json"]  # no partial report
    time.sleep(0.5)
    assert _ours(str(big_tree)) == [], "workers outlived the scan"
    # no half-written cache entry: every entry left is whole (a warm scan trusts all of them)
    leftovers = [p for p in (cache / "files").rglob(".*") if p.is_file()]
    assert leftovers == [] or all(p.suffix == ".tmp" for p in leftovers)
    done = subprocess.run(cmd[:-2] + ["--cache-dir", str(cache)], capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    assert out.read_text().startswith("{")
