"""JSON reports read back for `mldebt merge`: the contract round-trips, bad files are errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mldebt.reporters import render
from mldebt.reportio import ReportFileError, load_report
from mldebt.scan import ScanRequest, run_scan

ROOT = Path(__file__).resolve().parents[1]


def test_a_json_report_with_source_round_trips(tmp_path):
    report = run_scan(ScanRequest(targets=(ROOT / "fixtures" / "pipeline-jungle",), jobs=1, with_source=True))
    assert report.meta is not None and report.meta.pipeline and report.meta.lines > 100
    assert all(f.context and f.context_start >= 1 for f in report.findings)
    first = report.findings[0]
    assert first.context[first.line - first.context_start].strip()  # the flagged line is in the context
    path = tmp_path / "r.json"
    path.write_text(render(report, "json"))
    back = load_report(path)
    assert render(back, "json") == path.read_text()
    assert back.meta == report.meta and back.rules == report.rules


@pytest.mark.parametrize(("text", "says"), [
    ("{", "not JSON"),
    ('{"version": 1}', "not an mldebt JSON report"),
    ('{"version": 2, "tool": {"name": "mldebt", "version": "9"}}', "report version 2"),
    ('{"version": 1, "tool": {"name": "mldebt", "version": "9"}, "summary": {}}', "malformed report"),
])
def test_a_bad_report_is_a_clear_error(tmp_path, text, says):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(ReportFileError, match=says):
        load_report(path)
    done = subprocess.run([sys.executable, "-m", "mldebt", "merge", str(path), "-o", str(tmp_path / "o.html")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.html").exists()
