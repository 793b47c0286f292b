"""SARIF 2.1.0 (``--format sarif``): the report GitHub code scanning and SARIF viewers read.

One run, ``tool.driver`` = mldebt with the rules that have findings (each with its Markdown
documentation as ``help``), one result per finding. Sources:

- OASIS SARIF 2.1.0 (errata 01) and its JSON schema
  (https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json):
  ``region.endColumn`` is "the column number of the character following the end of the
  region", i.e. exclusive and 1-based, which is what :class:`~mldebt.model.Finding` holds; an
  artifact ``uri`` is a URI reference (so a relative path is percent-encoded), resolved against
  ``uriBaseId`` whose ``originalUriBaseIds`` entry must end with a slash; ``columnKind`` says
  columns count Unicode code points (libcst's unit), not UTF-16 code units.
- GitHub, "SARIF support for code scanning" and "SARIF results exceed one or more limits"
  (docs.github.com/en/code-security/code-scanning/...): a file is rejected above 20 runs,
  25,000 results per run, 25,000 rules per run, 1,000 locations per result, 20 tags per rule,
  or 10 MB gzip-compressed; of the results only the top 5,000 are stored and shown. GitHub
  states that it keeps the most severe 5,000, but github/docs#38085 reports that it does not,
  so this reporter keeps the most severe :data:`MAX_RESULTS` itself (new before known, error
  before warning before info, high confidence first) and says so in the run's properties
  (``mldebt/truncated``). GitHub documents no limit on message length.
- GitHub matches a result across runs with ``partialFingerprints``; mldebt's own fingerprint
  (rule, path, scope, normalised source, occurrence; never the line) goes in ``mldebt/v1``,
  and ``upload-sarif`` adds its ``primaryLocationLineHash``. GitHub needs a ``region`` with at
  least ``startLine`` (sarif-sdk rule GH1003).

Results are the *new* findings only, unless ``include_known``: then known findings (matched
by the baseline) come with ``baselineState: "unchanged"`` and ``# mldebt: fixme`` ones with an
in-source, accepted ``suppression`` (GitHub shows those as dismissed). New results carry
``baselineState: "new"`` only when a baseline was used. Files that could not be analysed are
``toolExecutionNotifications`` of the one invocation, which still succeeded.

A notebook finding's ``line`` counts through the code cells joined (as in the JSON report),
which is not a line of the ``.ipynb`` file; its region is the line of the ``.ipynb`` file that
holds that source line (``file_line``; line 1 when the file's layout could not be followed),
and the cell and the line in it are in the message and in the result's properties.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from mldebt.model import LONE_SURROGATE, Finding, Report, RuleInfo, Severity, Status

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/mldebt/mldebt"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "mldebt/v1"

MAX_RESULTS = 5_000  # GitHub stores at most 5,000 results of a run (and rejects more than 25,000)
MAX_NOTIFICATIONS = 1_000  # files that could not be analysed, listed one notification each
MAX_GZIP_BYTES = 10 * 1024 * 1024  # GitHub rejects a SARIF file above 10 MB gzip-compressed

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
PRECISION = {"high": "high", "medium": "medium", "low": "low"}  # GitHub's rule `precision`
FIXME_JUSTIFICATION = "Marked `# mldebt: fixme`: known debt, counted in reports, does not fail the run."

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def render(report: Report, *, include_known: bool = False) -> str:
    findings = selected(report, include_known)
    kept = most_severe(findings, MAX_RESULTS)
    text = _dump(sarif_log(report, findings, kept, include_known))
    # The cap on results is what keeps real reports small; this guard is for pathological
    # messages: drop the least severe results until the compressed file fits.
    while kept and len(text.encode("utf-8")) > MAX_GZIP_BYTES:
        size = len(gzip.compress(text.encode("utf-8"), mtime=0))
        if size <= MAX_GZIP_BYTES:
            break
        kept = most_severe(findings, min(len(kept) - 1, int(len(kept) * MAX_GZIP_BYTES / size * 0.9)))
        text = _dump(sarif_log(report, findings, kept, include_known))
    return text


def selected(report: Report, include_known: bool) -> list[Finding]:
    """The findings a CI report shows: new ones, or all of them with ``include_known``."""
    return [f for f in report.findings if include_known or f.status is Status.NEW]


def priority(f: Finding) -> tuple[Any, ...]:
    """Most important first: new, then by severity and confidence, then by place."""
    return (f.status is not Status.NEW, -f.severity.rank, -f.confidence.rank, *f.sort_key())


def most_severe(findings: Sequence[Finding], limit: int) -> list[Finding]:
    """The ``limit`` most important findings, back in the report's order."""
    if len(findings) <= limit:
        return list(findings)
    order = sorted(range(len(findings)), key=lambda i: priority(findings[i]))
    keep = set(order[:max(limit, 0)])
    return [f for i, f in enumerate(findings) if i in keep]


def sarif_log(report: Report, findings: Sequence[Finding], kept: Sequence[Finding],
              include_known: bool = False) -> dict[str, Any]:
    rules = _rules(report, findings)
    index = {r.code: i for i, r in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {"driver": _driver(report, rules)},
        "invocations": [_invocation(report)],
    }
    base = root_uri(report.root)
    if base is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base}}
    run["results"] = [_result(f, index[f.rule], report) for f in kept]
    run["columnKind"] = "unicodeCodePoints"
    run["properties"] = _run_properties(report, findings, kept, include_known)
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rules(report: Report, findings: Iterable[Finding]) -> list[RuleInfo]:
    """The report's rules by code, plus a plain entry for any finding whose rule it lacks."""
    by_code = {r.code: r for r in report.rules}
    for f in findings:
        if f.rule not in by_code:
            by_code[f.rule] = RuleInfo(f.rule, f.name, f.smell, f.severity, f.confidence, "", f.hint, "",
                                       f.remediation_minutes)
    return [by_code[c] for c in sorted(by_code)]


def _driver(report: Report, rules: Sequence[RuleInfo]) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": report.tool_name or "mldebt", "version": report.tool_version}
    if _SEMVER.match(report.tool_version):
        driver["semanticVersion"] = report.tool_version
    driver["informationUri"] = INFORMATION_URI
    driver["rules"] = [_rule(r) for r in rules]
    return driver


def _rule(r: RuleInfo) -> dict[str, Any]:
    short = _one_line(r.summary) or r.name or r.code
    full = first_paragraph(r.doc, "What it does") or short
    rule: dict[str, Any] = {
        "id": r.code,
        "name": r.name or r.code,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full, "markdown": full},
    }
    doc = r.doc.strip()
    if doc:
        rule["help"] = {"text": doc, "markdown": doc}
    elif r.hint:
        rule["help"] = {"text": r.hint}
    rule["defaultConfiguration"] = {"level": LEVELS[r.severity]}
    rule["properties"] = {
        "smell": r.smell,
        "confidence": r.confidence.value,
        "precision": PRECISION[r.confidence.value],
        "remediation_minutes": r.remediation_minutes,
        "tags": _unique(["maintainability", "ml-technical-debt", r.smell]),
    }
    return rule


def first_paragraph(doc: str, heading: str) -> str:
    """The first paragraph under ``## <heading>`` of a rule's Markdown, on one line."""
    pattern = re.compile(rf"^##\s+{re.escape(heading)}\s*$", re.MULTILINE)
    m = pattern.search(doc)
    if m is None:
        return ""
    lines: list[str] = []
    for line in doc[m.end():].splitlines():
        if not line.strip():
            if lines:
                break
            continue
        if line.lstrip().startswith(("#", "```")):
            break
        lines.append(line.strip())
    return " ".join(lines)


def _invocation(report: Report) -> dict[str, Any]:
    inv: dict[str, Any] = {"executionSuccessful": True}
    notes = []
    for e in report.errors[:MAX_NOTIFICATIONS]:
        notes.append({
            "descriptor": {"id": "file-not-analysed"},
            "level": "error",
            "message": {"text": f"{e.path}: {e.message}"},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(e.path)}}],
        })
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv


def _result(f: Finding, rule_index: int, report: Report) -> dict[str, Any]:
    text = f.message.strip() or f"{f.rule} {f.name}"
    if f.cell is not None:
        text += f" (notebook cell {f.cell}, line {f.cell_line})"
    res: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(f.path), "region": region(f)}}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
    }
    if f.status is Status.KNOWN:
        res["baselineState"] = "unchanged"
    elif f.status is Status.NEW and report.baseline is not None:
        res["baselineState"] = "new"
    elif f.status is Status.FIXME:
        res["suppressions"] = [{"kind": "inSource", "status": "accepted", "justification": FIXME_JUSTIFICATION}]
    props: dict[str, Any] = {
        "smell": f.smell,
        "confidence": f.confidence.value,
        "status": f.status.value,
        "scope": f.scope,
        "remediation_minutes": f.remediation_minutes,
    }
    if f.hint:
        props["hint"] = f.hint
    if f.cell is not None:
        props["cell"] = f.cell
        props["cell_line"] = f.cell_line
        props["line"] = f.line  # through the joined code cells, as in the JSON report
    res["properties"] = props
    return res


def region(f: Finding) -> dict[str, int]:
    """1-based lines and columns; ``endColumn`` exclusive. Notebooks: the line in the file."""
    if f.cell is not None:
        return {"startLine": f.file_line or 1}
    line = max(f.line, 1)
    end_line = max(f.end_line, line)
    col = max(f.column, 1)
    end_col = max(f.end_column, 1)
    if end_line == line and end_col <= col:
        return {"startLine": line}  # no extent known: the whole line
    return {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col}


def _artifact(path: str) -> dict[str, str]:
    return {"uri": path_uri(path), "uriBaseId": SRCROOT}


def path_uri(path: str) -> str:
    """A root-relative POSIX path as a relative URI reference (``my file.py`` -> ``my%20file.py``).

    Everything but unreserved characters and ``/`` is percent-encoded, so a ``:`` cannot read
    as a scheme and ``#``/``?`` cannot start a fragment or a query; bytes that were not UTF-8
    (surrogate escapes) are encoded as the bytes they were.
    """
    return quote(path.lstrip("/"), safe="/", errors="surrogateescape")


def root_uri(root: str) -> str | None:
    """The scanned root as an absolute ``file://`` URI ending in ``/``; None if it is relative."""
    for flavour in (PurePosixPath, PureWindowsPath):
        p = flavour(root)
        if p.is_absolute():
            try:
                uri = p.as_uri()
            except ValueError:
                return None
            return uri if uri.endswith("/") else uri + "/"
    return None


def _run_properties(report: Report, findings: Sequence[Finding], kept: Sequence[Finding],
                    include_known: bool) -> dict[str, Any]:
    s = report.summary
    omitted = len(findings) - len(kept)
    props: dict[str, Any] = {
        "mldebt/report_version": report.version,
        "mldebt/fail_on": report.fail_on.value,
        "mldebt/gating": len(report.gating),
        "mldebt/summary": {
            "files": s.files, "findings": s.findings, "new": s.new, "known": s.known, "fixme": s.fixme,
            "ignored": s.ignored, "errors": s.errors, "fixed": s.fixed, "stale": s.stale,
            "debt_minutes": s.debt_minutes,
        },
        "mldebt/include_known": include_known,
        "mldebt/truncated": omitted > 0,
    }
    if report.baseline is not None:
        props["mldebt/baseline"] = report.baseline
    if omitted:
        props["mldebt/omitted_results"] = omitted
        props["mldebt/truncation"] = (
            f"{omitted} of {len(findings)} results left out: GitHub code scanning keeps at most "
            f"{MAX_RESULTS} results of a run (and files under 10 MB compressed), so the most severe "
            f"were kept. `mldebt scan --format json` lists them all.")
    if len(report.errors) > MAX_NOTIFICATIONS:
        props["mldebt/omitted_notifications"] = len(report.errors) - MAX_NOTIFICATIONS
    return props


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _dump(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return LONE_SURROGATE.sub("\ufffd", text)  # undecodable bytes in a name: keep the file valid UTF-8
