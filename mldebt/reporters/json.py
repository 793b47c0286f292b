"""The JSON report: a versioned contract (schema: ``mldebt/schemas/report-v1.schema.json``)."""

from __future__ import annotations

from typing import Any

from mldebt.model import Finding, Report, RuleInfo, json_text


def finding_dict(f: Finding) -> dict[str, Any]:
    d: dict[str, Any] = {
        "rule": f.rule,
        "name": f.name,
        "smell": f.smell,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "message": f.message,
        "hint": f.hint,
        "status": f.status.value,
        "fingerprint": f.fingerprint,
        "remediation_minutes": f.remediation_minutes,
        "scope": f.scope,
    }
    if f.cell is not None:
        d["cell"] = f.cell
        d["cell_line"] = f.cell_line
        if f.file_line is not None:
            d["file_line"] = f.file_line
    if f.context:
        d["context"] = list(f.context)
        d["context_start"] = f.context_start
    return d


def rule_dict(r: RuleInfo) -> dict[str, Any]:
    return {"code": r.code, "name": r.name, "smell": r.smell, "severity": r.severity.value,
            "confidence": r.confidence.value, "summary": r.summary, "hint": r.hint, "doc": r.doc,
            "remediation_minutes": r.remediation_minutes}


def report_dict(report: Report) -> dict[str, Any]:
    s = report.summary
    return {
        "version": report.version,
        "tool": {"name": report.tool_name, "version": report.tool_version},
        "root": report.root,
        "findings": [finding_dict(f) for f in report.findings],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "summary": {
            "files": s.files,
            "findings": s.findings,
            "new": s.new,
            "known": s.known,
            "fixme": s.fixme,
            "ignored": s.ignored,
            "errors": s.errors,
            "by_smell": dict(s.by_smell),
            "by_rule": dict(s.by_rule),
            "by_severity": dict(s.by_severity),
            "debt_minutes": s.debt_minutes,
            "fail_on": report.fail_on.value,
            "gating": len(report.gating),
            "fixed": s.fixed,
            "stale": s.stale,
            "baseline": report.baseline,
        },
        "rules": [rule_dict(r) for r in report.rules],
        **({"meta": {"project": report.meta.project, "generated": report.meta.generated, "lines": report.meta.lines,
                     "commit": report.meta.commit, "branch": report.meta.branch,
                     "pipeline": report.meta.pipeline}} if report.meta is not None else {}),
    }


def render(report: Report) -> str:
    return json_text(report_dict(report))
