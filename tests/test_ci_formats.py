"""The CI report formats: SARIF 2.1.0, GitHub workflow annotations and step summary, GitLab Code Quality."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from mldebt.model import Confidence, FileError, Finding, Report, Severity, Status
from mldebt.reporters import FORMATS, render, sarif
from mldebt.reporters import github as gh
from mldebt.reporters import gitlab as gl
from mldebt.scan import ScanRequest, run_scan

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def torch_report() -> Report:
    return run_scan(ScanRequest(targets=(FIXTURES / "torch-classifier",), jobs=1))


@pytest.fixture(scope="module")
def notebook_report() -> Report:
    report = run_scan(ScanRequest(targets=(FIXTURES / "research-scripts",), jobs=1))
    assert any(f.cell is not None for f in report.findings), "the fixture should have notebook findings"
    return report


def notebook_line(f) -> str:
    """The line of the research-scripts notebook file a finding points at."""
    lines = (FIXTURES / "research-scripts" / f.path).read_text(encoding="utf-8").splitlines()
    return lines[f.file_line - 1]


def with_statuses(report: Report, baseline: str | None = "baseline.json") -> Report:
    """Every third finding known, every third+1 fixme, the rest new; a baseline was used."""
    statuses = (Status.KNOWN, Status.FIXME, Status.NEW)
    findings = tuple(dataclasses.replace(f, status=statuses[i % 3]) for i, f in enumerate(report.findings))
    return dataclasses.replace(report, findings=findings, baseline=baseline)


def hostile_finding(base: Finding, **changes: object) -> Finding:
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def sarif_doc(report: Report, **kw: bool) -> dict:
    text = render(report, "sarif", **kw)
    assert text.endswith("}\n")
    return json.loads(text)


# --------------------------------------------------------------------------- SARIF


def _validator():
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF schema is not at {SARIF_SCHEMA}")
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)  # draft-04, from the schema's $schema
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_sarif_validates_against_the_official_schema(torch_report, notebook_report, tmp_path):
    validator = _validator()
    errors_report = dataclasses.replace(
        with_statuses(notebook_report),
        errors=(FileError("broken nb.ipynb", "not JSON: Expecting value: line 1 column 1"),),
    )
    for report, kw in [(torch_report, {}), (notebook_report, {}), (errors_report, {"include_known": True}),
                       (errors_report, {})]:
        doc = sarif_doc(report, **kw)
        problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not problems, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in problems[:5])


def test_sarif_has_one_run_with_the_driver_and_its_rules(torch_report):
    doc = sarif_doc(torch_report)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mldebt" and driver["version"] == torch_report.tool_version
    assert driver["informationUri"] == "https://github.com/mldebt/mldebt"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(ids) == sorted({r.code for r in torch_report.rules})
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for rule, info in zip(driver["rules"], sorted(torch_report.rules, key=lambda r: r.code)):
        assert rule["name"] == info.name
        assert rule["shortDescription"]["text"] == info.summary
        assert rule["help"]["markdown"] == info.doc.strip() and "## What it does" in rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] == levels[info.severity.value]
        assert rule["properties"]["smell"] == info.smell and info.smell in rule["properties"]["tags"]
        assert rule["properties"]["confidence"] == info.confidence.value
        full = rule["fullDescription"]["text"]
        assert full and "\n" not in full and not full.startswith("#")
        assert full.split()[0] in info.doc.split("## What it does", 1)[1]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == Path(torch_report.root).as_uri() + "/"
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_every_result_points_at_its_rule_with_a_1_based_region_and_a_fingerprint(torch_report):
    doc = sarif_doc(torch_report)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    new = [f for f in torch_report.findings if f.status is Status.NEW]
    assert len(results) == len(new) > 10
    for res, f in zip(results, new):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == f.rule
        assert res["partialFingerprints"] == {"mldebt/v1": f.fingerprint}
        assert res["message"]["text"] == f.message
        assert res["properties"]["hint"] == f.hint
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"] == {"uri": f.path, "uriBaseId": "%SRCROOT%"}
        region = loc["region"]
        assert region["startLine"] == f.line >= 1
        if "startColumn" in region:
            assert region["startColumn"] == f.column >= 1
            assert region["endLine"] == f.end_line
            assert region["endColumn"] == f.end_column  # exclusive, as SARIF's
            if region["endLine"] == region["startLine"]:
                assert region["endColumn"] > region["startColumn"]
        assert "baselineState" not in res and "suppressions" not in res  # no baseline was used
    # the exclusive end column covers exactly the flagged source: check one against the file
    f = next(f for f in new if f.line == f.end_line and f.cell is None)
    source = (Path(torch_report.root) / f.path).read_text(encoding="utf-8").splitlines()[f.line - 1]
    assert source[f.column - 1:f.end_column - 1].strip() == source[f.column - 1:f.end_column - 1]


def test_known_and_fixme_results_are_left_out_unless_asked_for(torch_report):
    report = with_statuses(torch_report)
    by_status = {s: [f for f in report.findings if f.status is s] for s in Status}
    assert all(by_status.values())

    default = sarif_doc(report)["runs"][0]
    assert [r["partialFingerprints"]["mldebt/v1"] for r in default["results"]] == \
        [f.fingerprint for f in by_status[Status.NEW]]
    assert {r["baselineState"] for r in default["results"]} == {"new"}  # a baseline was used
    assert default["properties"]["mldebt/include_known"] is False

    everything = sarif_doc(report, include_known=True)["runs"][0]["results"]
    assert len(everything) == len(report.findings)
    for res, f in zip(everything, report.findings):
        if f.status is Status.KNOWN:
            assert res["baselineState"] == "unchanged" and "suppressions" not in res
        elif f.status is Status.FIXME:
            assert res["suppressions"] == [{"kind": "inSource", "status": "accepted",
                                            "justification": sarif.FIXME_JUSTIFICATION}]
        else:
            assert res["baselineState"] == "new" and "suppressions" not in res

    no_baseline = sarif_doc(dataclasses.replace(report, baseline=None))["runs"][0]["results"]
    assert no_baseline and all("baselineState" not in r for r in no_baseline)


def test_the_result_cap_keeps_the_most_severe_and_says_so(torch_report, monkeypatch):
    base = torch_report.findings[0]
    severities = [Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.INFO, Severity.ERROR, Severity.WARNING]
    confidences = [Confidence.HIGH, Confidence.LOW, Confidence.HIGH, Confidence.HIGH, Confidence.LOW, Confidence.HIGH]
    findings = tuple(
        dataclasses.replace(base, line=i + 1, end_line=i + 1, severity=sev, fingerprint=f"g{i}:0", confidence=conf)
        for i, (sev, conf) in enumerate(zip(severities, confidences))
    )
    report = dataclasses.replace(torch_report, findings=findings)
    monkeypatch.setattr(sarif, "MAX_RESULTS", 3)
    run = sarif_doc(report)["runs"][0]
    kept = [r["partialFingerprints"]["mldebt/v1"] for r in run["results"]]
    assert kept == ["g2:0", "g4:0", "g5:0"]  # both errors, then the high-confidence warning; in file order
    assert run["properties"]["mldebt/truncated"] is True
    assert run["properties"]["mldebt/omitted_results"] == 3
    assert "3 of 6" in run["properties"]["mldebt/truncation"]
    monkeypatch.setattr(sarif, "MAX_RESULTS", 6)
    run = sarif_doc(report)["runs"][0]
    assert len(run["results"]) == 6 and run["properties"]["mldebt/truncated"] is False
    assert "mldebt/omitted_results" not in run["properties"]


def test_a_report_too_big_for_github_is_cut_to_fit(torch_report, monkeypatch):
    base = torch_report.findings[0]
    # incompressible messages: 2,560 hex digits of hashes each, about 330 KB compressed in all
    findings = tuple(
        dataclasses.replace(base, line=i + 1, end_line=i + 1, fingerprint=f"g{i}:0",
                            severity=Severity.ERROR if i >= 100 else Severity.INFO,
                            message="".join(hashlib.sha512(f"{i}-{j}".encode()).hexdigest() for j in range(20)))
        for i in range(200)
    )
    report = dataclasses.replace(torch_report, findings=findings)
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", 60_000)
    text = render(report, "sarif")
    assert len(gzip.compress(text.encode("utf-8"))) <= 60_000
    run = json.loads(text)["runs"][0]
    assert 0 < len(run["results"]) < 100
    assert {r["level"] for r in run["results"]} == {"error"}  # the least severe went first
    assert run["properties"]["mldebt/truncated"] is True


def test_notebook_results_sit_on_the_notebook_with_their_cell(notebook_report):
    results = sarif_doc(notebook_report)["runs"][0]["results"]
    nb = [(r, f) for r, f in zip(results, [f for f in notebook_report.findings if f.status is Status.NEW])
          if f.cell is not None]
    assert nb
    for res, f in nb:
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith(".ipynb")
        assert loc["region"] == {"startLine": f.file_line}
        assert f.snippet.splitlines()[0].strip() in json.loads(notebook_line(f).rstrip().rstrip(","))
        assert res["properties"]["cell"] == f.cell and res["properties"]["cell_line"] == f.cell_line
        assert res["properties"]["line"] == f.line
        assert res["message"]["text"].endswith(f"(notebook cell {f.cell}, line {f.cell_line})")


def test_files_that_could_not_be_analysed_are_tool_notifications(torch_report):
    report = dataclasses.replace(torch_report, errors=(FileError("bad dir/x#1.py", "cannot decode: invalid byte"),))
    run = sarif_doc(report)["runs"][0]
    (inv,) = run["invocations"]
    assert inv["executionSuccessful"] is True
    (note,) = inv["toolExecutionNotifications"]
    assert note["level"] == "error" and "cannot decode" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bad%20dir/x%231.py"


def test_hostile_paths_become_relative_uri_references(torch_report):
    base = next(f for f in torch_report.findings if f.status is Status.NEW)
    paths = ["a b/c.py", "x:y.py", "q?#%.py", "new\nline.py", "é/ü.py", "bad\udcff.py", "::error::x,y.py"]
    findings = tuple(dataclasses.replace(base, path=p, fingerprint=f"g{i}:0") for i, p in enumerate(paths))
    text = render(dataclasses.replace(torch_report, findings=findings), "sarif")
    text.encode("utf-8")  # valid UTF-8 even for a name that was not
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in json.loads(text)["runs"][0]["results"]]
    for uri, path in zip(uris, paths):
        assert re.fullmatch(r"[A-Za-z0-9\-._~/%]+", uri), uri  # nothing a URI parser could misread
        if "\udcff" not in path:
            assert unquote(uri) == path
    assert uris[1] == "x%3Ay.py" and uris[5] == "bad%FF.py"


def test_sarif_root_uri():
    assert sarif.root_uri("/work/my repo") == "file:///work/my%20repo/"
    assert sarif.root_uri("/") == "file:///"
    assert sarif.root_uri("C:\\src\\proj") == "file:///C:/src/proj/"
    assert sarif.root_uri("relative/dir") is None


def test_sarif_is_deterministic(notebook_report):
    report = with_statuses(notebook_report)
    assert render(report, "sarif", include_known=True) == render(report, "sarif", include_known=True)


# --------------------------------------------------------------------------- GitHub annotations

_DECODE = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it: ``::name k=v,k=v::message``."""
    assert line.startswith("::") and "\n" not in line and "\r" not in line
    head, message = line[2:].split("::", 1)
    name, _, props_text = head.partition(" ")
    props = {}
    for item in filter(None, props_text.split(",")):
        key, value = item.split("=", 1)
        props[key] = re.sub(r"%(25|0D|0A|3A|2C)", lambda m: _DECODE[m.group(0)], value)
    return name, props, re.sub(r"%(25|0D|0A)", lambda m: _DECODE[m.group(0)], message)


def commands(report: Report, **kw: bool) -> list[tuple[str, dict[str, str], str]]:
    text = render(report, "github", **kw)
    assert text == "" or text.endswith("\n")
    return [parse_command(line) for line in text.splitlines()]


def test_escaping_follows_the_actions_toolkit():
    assert gh.escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert gh.escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert gh.escape_data("%0A") == "%250A"


def test_annotations_are_capped_per_level_most_severe_first(torch_report):
    base = next(f for f in torch_report.findings if f.status is Status.NEW)
    sevs = [Severity.INFO] * 14 + [Severity.WARNING] * 12 + [Severity.ERROR] * 3
    findings = tuple(dataclasses.replace(base, line=i + 1, end_line=i + 1, severity=s, fingerprint=f"g{i}:0")
                     for i, s in enumerate(sevs))
    cmds = commands(dataclasses.replace(torch_report, findings=findings))
    names = [c[0] for c in cmds]
    assert names == ["error"] * 3 + ["warning"] * 10 + ["notice"] * 9 + ["notice"]
    for level in ("error", "warning", "notice"):
        assert names.count(level) <= gh.MAX_PER_LEVEL
    _name, props, message = cmds[-1]
    assert props == {"title": "mldebt: more findings"}
    assert message.startswith("7 more findings not annotated") and "SARIF" in message and "JSON" in message
    # warnings in file order within their level
    lines = [int(p["line"]) for n, p, _ in cmds if n == "warning"]
    assert lines == sorted(lines)


def test_no_overflow_notice_when_everything_fits(torch_report):
    base = next(f for f in torch_report.findings if f.status is Status.NEW)
    findings = tuple(dataclasses.replace(base, line=i + 1, end_line=i + 1, severity=Severity.INFO, fingerprint=f"g{i}:0")
                     for i in range(10))
    cmds = commands(dataclasses.replace(torch_report, findings=findings))
    assert [c[0] for c in cmds] == ["notice"] * 10 and all("title" in c[1] for c in cmds)
    assert commands(dataclasses.replace(torch_report, findings=())) == []


def test_annotation_fields(torch_report, notebook_report):
    f = next(f for f in torch_report.findings if f.status is Status.NEW and f.line == f.end_line)
    name, props, message = parse_command(gh.annotation(f))
    assert name == {"error": "error", "warning": "warning", "info": "notice"}[f.severity.value]
    assert props == {"file": f.path, "line": str(f.line), "endLine": str(f.end_line), "col": str(f.column),
                     "endColumn": str(f.end_column - 1), "title": f"{f.rule} {f.name}"}
    assert message == f"{f.message}\n\nHint: {f.hint}"
    multi = dataclasses.replace(f, end_line=f.line + 2)
    assert set(parse_command(gh.annotation(multi))[1]) == {"file", "line", "endLine", "title"}
    nb = next(f for f in notebook_report.findings if f.cell is not None)
    _, props, _ = parse_command(gh.annotation(nb))
    assert props["line"] == str(nb.file_line) and nb.file_line > 1 and "endLine" not in props
    assert props["title"].endswith(f"[cell {nb.cell}, line {nb.cell_line}]")


def test_github_lists_known_and_fixme_only_when_asked(torch_report):
    report = with_statuses(torch_report)
    new = [f for f in report.findings if f.status is Status.NEW]
    default = [c for c in commands(report) if "file" in c[1]]
    assert {c[1]["file"] for c in default} <= {f.path for f in new}
    assert not any("(known)" in c[1]["title"] or "(fixme)" in c[1]["title"] for c in default)
    everything = [c for c in commands(report, include_known=True) if "file" in c[1]]
    assert any(c[1]["title"].endswith("(known)") for c in everything)


def test_hostile_names_and_messages_cannot_break_out(torch_report):
    base = next(f for f in torch_report.findings if f.status is Status.NEW)
    nasty_path = "evil\n::error file=x.py::pwned,line=1:2%0A.py"
    nasty_message = "threshold %0A 0.5\r\n::stop-commands::token\n| <script>alert(1)</script> | `a|b` **bold**"
    f = dataclasses.replace(base, path=nasty_path, message=nasty_message, hint="")
    text = render(dataclasses.replace(torch_report, findings=(f,)), "github")
    assert text.count("\n") == 1 and text.startswith("::")  # one command, one line
    _name, props, message = parse_command(text.rstrip("\n"))
    assert props["file"] == nasty_path and message == nasty_message
    # the step summary keeps the table's shape and renders no HTML
    summary = gh.step_summary(dataclasses.replace(torch_report, findings=(f,)))
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    row = next(line for line in summary.splitlines() if "threshold" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 5  # 4 cells: the | in the text are escaped
    assert "`a\\|b`" in row  # code spans kept, their pipe escaped
    assert "\\*\\*bold\\*\\*" in row


def test_step_summary_has_the_verdict_the_counts_and_the_tables(torch_report):
    report = with_statuses(torch_report)
    report = dataclasses.replace(report, summary=dataclasses.replace(
        report.summary, new=11, known=22, fixme=33, fixed=44, stale=2, ignored=5))
    text = gh.step_summary(report)
    gating = len(report.gating)
    assert text.splitlines()[0] == f"## mldebt: ❌ {gating} new findings at or above `warning` fail the run"
    for label, n in [("new", 11), ("known (in the baseline)", 22), ("fixed (in the baseline, gone)", 44),
                     ("fixme (known debt, marked in the code)", 33), ("ignored", 5)]:
        assert f"| {label} | {n} |" in text
    assert "2 stale baseline entries" in text and "baseline baseline.json" in text
    assert "### By smell" in text and "### By rule" in text
    for f in report.findings:
        assert f"| {gh.md_text(f.smell)} |" in text and gh.md_text(f"{f.rule} {f.name}") in text
    new = [f for f in report.findings if f.status is Status.NEW]
    shown = min(len(new), gh.SUMMARY_FINDINGS)
    assert sum(1 for line in text.splitlines() if line.startswith("| ") and (":" in line.split("|")[1])) >= shown
    clean = dataclasses.replace(torch_report, findings=(), fail_on=Severity.ERROR)
    assert gh.step_summary(clean).startswith("## mldebt: ✅ no new findings at or above `error`")


# --------------------------------------------------------------------------- GitLab Code Quality


def test_gitlab_code_quality_report(torch_report, notebook_report):
    for report in (torch_report, notebook_report):
        text = render(report, "gitlab")
        assert text.startswith("[") and text.endswith("]\n")  # no BOM, a JSON array
        issues = json.loads(text)
        new = [f for f in report.findings if f.status is Status.NEW]
        assert len(issues) == len(new)
        assert len({i["fingerprint"] for i in issues}) == len(issues)
        for issue, f in zip(issues, new):
            assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
            assert issue["check_name"] == f"{f.rule} {f.name}"
            assert issue["fingerprint"] == hashlib.sha256(f"mldebt:{f.fingerprint}".encode()).hexdigest()
            assert issue["severity"] == {"error": "major", "warning": "minor", "info": "info"}[f.severity.value]
            assert issue["location"]["path"] == f.path
            if f.cell is None:
                assert issue["location"]["lines"] == {"begin": f.line, "end": f.end_line}
                assert issue["description"] == f.message
            else:
                assert issue["location"]["lines"] == {"begin": f.file_line}
                assert f"(notebook cell {f.cell}, line {f.cell_line})" in issue["description"]


def test_gitlab_known_and_fixme_only_when_asked_and_fingerprints_stay_unique(torch_report):
    report = with_statuses(torch_report)
    assert len(json.loads(render(report, "gitlab"))) == sum(f.status is Status.NEW for f in report.findings)
    assert len(json.loads(render(report, "gitlab", include_known=True))) == len(report.findings)
    twice = dataclasses.replace(report, findings=report.findings[:1] * 2)
    fps = [i["fingerprint"] for i in json.loads(render(twice, "gitlab", include_known=True))]
    assert len(set(fps)) == 2


def test_gitlab_severity_mapping():
    assert gl.SEVERITY == {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


# --------------------------------------------------------------------------- the reporters' API


def test_the_ci_formats_are_offered(torch_report):
    assert {"sarif", "github", "gitlab"} <= set(FORMATS)
    for fmt in FORMATS:
        out = render(torch_report, fmt, color=False, include_known=True)
        assert isinstance(out, str) and out.endswith("\n")
