"""JSON reports read back for `mldebt merge`: the contract round-trips, bad files are errors."""

from __future__ import annotations

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


def _mldebt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mldebt", *args], capture_output=True, text=True, check=False,
                          timeout=300)


def test_scan_writes_an_html_page_and_merge_combines_repositories(tmp_path):
    page = tmp_path / "jungle.html"
    done = _mldebt("scan", str(ROOT / "fixtures" / "pipeline-jungle"), "--jobs", "1", "-o", f"html:{page}",
                   "-o", f"json:{tmp_path / 'jungle.json'}")
    assert done.returncode == 1, done.stderr
    html = page.read_text()
    assert "pipeline-jungle" in html and "fail the gate" in html and "<svg" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # self-contained
    reports = []
    for name in ("pipeline-jungle", "torch-classifier"):
        out = tmp_path / f"{name}.json"
        assert _mldebt("scan", str(ROOT / "fixtures" / name), "--jobs", "1", "--format", "json", "--with-source",
                       "-o", str(out), "--exit-zero").returncode == 0
        reports.append(str(out))
    org = tmp_path / "org.html"
    merged = _mldebt("merge", *reports, "-o", str(org))
    assert merged.returncode == 0, merged.stderr
    text = org.read_text()
    assert "pipeline-jungle" in text and "torch-classifier" in text and "2 repositories" in merged.stderr
