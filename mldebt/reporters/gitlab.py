"""GitLab Code Quality (``--format gitlab``): the JSON array a ``codequality`` report artifact holds.

GitLab Docs, "Code Quality" -> "Implement a custom tool" (doc/ci/testing/code_quality.md):
the artifact is a JSON array of objects with ``description``, ``check_name`` (the check that
emitted the issue), ``fingerprint`` (a unique string per issue; findings with the same
fingerprint show as one entry in the merge request widget), ``severity`` (``info``, ``minor``,
``major``, ``critical`` or ``blocker``), ``location.path`` (relative) and
``location.lines.begin``; the other Code Climate fields are ignored, and the file must not start
with a byte order mark. GitLab compares the fingerprints of the merge request's report with the
target branch's to tell new issues from resolved ones, so ours must not change when lines move:
it is the SHA-256 of ``"mldebt:" + finding.fingerprint``, which has no line in it.

Severity: error -> ``major``, warning -> ``minor``, info -> ``info`` (``critical`` and
``blocker`` are left for tools that find bugs and vulnerabilities, which debt is not).

Only new findings by default; ``include_known`` adds the baselined and ``fixme`` ones. A
notebook finding points at the line of the ``.ipynb`` file holding the flagged source line
(line 1 when unknown), with the cell and its line in the description (its ``line`` counts
through the joined code cells, not through the file).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mldebt.model import LONE_SURROGATE, Finding, Report, Severity
from mldebt.reporters.sarif import selected

SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def render(report: Report, *, include_known: bool = False) -> str:
    issues = []
    seen: set[str] = set()
    for f in selected(report, include_known):
        issue = issue_dict(f)
        fp = issue["fingerprint"]
        n = 1
        while fp in seen:  # only a hand-made report repeats a fingerprint; keep them apart
            fp = _hash(f"mldebt:{f.fingerprint}:{f.path}:{f.line}:{f.column}:{n}")
            n += 1
        seen.add(fp)
        issue["fingerprint"] = fp
        issues.append(issue)
    text = json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
    return LONE_SURROGATE.sub("\ufffd", text)


def issue_dict(f: Finding) -> dict[str, Any]:
    description = f.message.strip() or f"{f.rule} {f.name}"
    if f.cell is not None:
        description += f" (notebook cell {f.cell}, line {f.cell_line})"
        lines = {"begin": f.file_line or 1}
    else:
        begin = max(f.line, 1)
        lines = {"begin": begin, "end": max(f.end_line, begin)}
    return {
        "description": description,
        "check_name": f"{f.rule} {f.name}",
        "fingerprint": _hash(f"mldebt:{f.fingerprint}"),
        "severity": SEVERITY[f.severity],
        "location": {"path": f.path, "lines": lines},
    }


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
