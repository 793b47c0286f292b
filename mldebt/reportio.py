"""Reading JSON reports back (for ``mldebt merge``): the JSON contract, version 1, to a Report.

A report that is not JSON, not an mldebt report, of another version or missing fields is a
:class:`ReportFileError` with the file and the reason — never a half-read report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mldebt.model import (
    Confidence, FileError, Finding, Report, ReportMeta, RuleInfo, Severity, Status, Summary,
)

VERSION = 1


class ReportFileError(Exception):
    pass


def load_report(path: Path) -> Report:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such report") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"{path}: cannot read the report: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{path}: not JSON (line {exc.lineno}): write it with `mldebt scan --format json`") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) or data["tool"].get("name") != "mldebt":
        raise ReportFileError(f"{path}: not an mldebt JSON report")
    if data.get("version") != VERSION:
        raise ReportFileError(f"{path}: report version {data.get('version')!r}; this mldebt reads version {VERSION}")
    try:
        return _report(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportFileError(f"{path}: malformed report ({type(exc).__name__}: {exc})") from None


def _report(d: dict[str, Any]) -> Report:
    s = d["summary"]
    summary = Summary(
        files=int(s["files"]), findings=int(s["findings"]), new=int(s["new"]), known=int(s.get("known", 0)),
        fixme=int(s.get("fixme", 0)), ignored=int(s.get("ignored", 0)), errors=int(s.get("errors", 0)),
        by_smell=dict(s["by_smell"]), by_rule=dict(s.get("by_rule", {})), by_severity=dict(s.get("by_severity", {})),
        debt_minutes=int(s["debt_minutes"]), fixed=int(s.get("fixed", 0)), stale=int(s.get("stale", 0)),
    )
    meta = None
    if isinstance(d.get("meta"), dict):
        m = d["meta"]
        meta = ReportMeta(str(m["project"]), str(m["generated"]), int(m["lines"]), m.get("commit"), m.get("branch"),
                          m.get("pipeline"))
    return Report(
        version=int(d["version"]), tool_name=str(d["tool"]["name"]), tool_version=str(d["tool"]["version"]),
        root=str(d["root"]), findings=tuple(_finding(f) for f in d["findings"]),
        errors=tuple(FileError(str(e["path"]), str(e["message"])) for e in d["errors"]), summary=summary,
        fail_on=Severity(s.get("fail_on", "warning")), rules=tuple(_rule(r) for r in d.get("rules", ())),
        baseline=s.get("baseline"), meta=meta,
    )


def _finding(f: dict[str, Any]) -> Finding:
    return Finding(
        rule=str(f["rule"]), name=str(f["name"]), smell=str(f["smell"]), severity=Severity(f["severity"]),
        confidence=Confidence(f["confidence"]), path=str(f["path"]), line=int(f["line"]), column=int(f["column"]),
        end_line=int(f["end_line"]), end_column=int(f["end_column"]), message=str(f["message"]),
        hint=str(f.get("hint", "")), status=Status(f["status"]), fingerprint=str(f["fingerprint"]),
        remediation_minutes=int(f["remediation_minutes"]), scope=str(f.get("scope", "<module>")),
        cell=f.get("cell"), cell_line=f.get("cell_line"),
        file_line=f.get("file_line"), context=tuple(str(x) for x in f.get("context", ())),
        context_start=int(f.get("context_start", 0)),
    )


def _rule(r: dict[str, Any]) -> RuleInfo:
    return RuleInfo(str(r["code"]), str(r["name"]), str(r["smell"]), Severity(r["severity"]),
                    Confidence(r.get("confidence", "high")), str(r.get("summary", "")), str(r.get("hint", "")),
                    str(r.get("doc", "")), int(r.get("remediation_minutes", 0)))
