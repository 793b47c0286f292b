"""GitHub Actions (``--format github``): workflow-command annotations, and a step summary.

``render`` prints one ``::error`` / ``::warning`` / ``::notice`` command per new finding
(error, warning, info), which the runner turns into annotations on the pull request:

    ::warning file=src/predict.py,line=53,endLine=53,col=24,endColumn=27,title=MLD301 hard-coded-threshold::Hard-coded threshold 0.7 ...

Sources:

- GitHub Docs, "Workflow commands for GitHub Actions": the command syntax, and the escaping
  that ``@actions/core`` applies (``toolkit/packages/core/src/command.ts``): in the message,
  ``%`` -> ``%25``, CR -> ``%0D``, LF -> ``%0A``; in property values also ``:`` -> ``%3A`` and
  ``,`` -> ``%2C``. So no file name or message can end the command line, start a new command,
  or add a property.
- Annotation limits (actions/toolkit ``docs/problem-matchers.md``): 10 warning and 10 error
  annotations per step, 50 per job; the rest are dropped silently. This reporter emits the
  most severe first, at most :data:`MAX_PER_LEVEL` per level, and then one notice saying how
  many findings were not annotated (the notices leave a place for it).
- Checks API annotation object: message and raw details up to 64 KB, title up to 255
  characters; ``start_column``/``end_column`` only when the annotation starts and ends on the
  same line. Columns are given 1-based and inclusive (``endColumn`` is the last character).

``step_summary`` is the Markdown for ``$GITHUB_STEP_SUMMARY`` (GitHub Docs, "Adding a job
summary": GitHub-flavoured Markdown, at most 1 MiB per step): the verdict, the counts, tables by
smell and by rule, and the first :data:`SUMMARY_FINDINGS` new findings. Text from the scanned
repository (paths, messages) is escaped, so it cannot add Markdown structure or HTML.

A notebook finding is annotated on the line of the ``.ipynb`` file that holds the flagged source
line (its ``file_line``; line 1 when unknown), with its cell and line in the title: its
``line`` counts through the joined code cells, not through the file.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence

from mldebt.model import LONE_SURROGATE, Finding, Report, Severity, Status
from mldebt.reporters.sarif import priority, selected
from mldebt.reporters.text import duration, visible

MAX_PER_LEVEL = 10  # annotations GitHub shows per level and step
MAX_TITLE_CHARS = 255
MAX_MESSAGE_CHARS = 16_000  # 64 KB even at four UTF-8 bytes a character
SUMMARY_FINDINGS = 20
SUMMARY_MESSAGE_CHARS = 500  # keeps the summary far below GitHub's 1 MiB a step

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")  # and <, >, & as HTML entities


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded."""
    return _clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as the message, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **props: str | int | None) -> str:
    given = [(k, v) for k, v in props.items() if v is not None and v != ""]
    head = f"::{name}"
    if given:
        head += " " + ",".join(f"{k}={escape_property(str(v))}" for k, v in given)
    return f"{head}::{escape_data(message)}"


def render(report: Report, *, include_known: bool = False) -> str:
    findings = sorted(selected(report, include_known), key=priority)
    by_level: dict[Severity, list[Finding]] = {s: [] for s in COMMANDS}
    for f in findings:
        by_level[f.severity].append(f)
    caps = {s: MAX_PER_LEVEL for s in COMMANDS}
    overflow = sum(max(len(v) - MAX_PER_LEVEL, 0) for v in by_level.values())
    if overflow:
        caps[Severity.INFO] = MAX_PER_LEVEL - 1  # keep a notice for the overflow message
    shown = {s: by_level[s][:caps[s]] for s in COMMANDS}
    left = len(findings) - sum(len(v) for v in shown.values())
    out = [annotation(f) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO) for f in shown[s]]
    if left:
        noun = "finding" if left == 1 else "findings"
        out.append(command(
            "notice",
            f"{left} more {noun} not annotated here: GitHub shows at most {MAX_PER_LEVEL} annotations of "
            f"each level per step. The SARIF report (--format sarif, uploaded to code scanning) or the "
            f"JSON report (--format json) lists them all.",
            title="mldebt: more findings",
        ))
    return "".join(line + "\n" for line in out)


def annotation(f: Finding) -> str:
    title = f"{f.rule} {f.name}"
    if f.status is Status.KNOWN:
        title += " (known)"
    elif f.status is Status.FIXME:
        title += " (fixme)"
    message = f.message
    if f.hint:
        message += f"\n\nHint: {f.hint}"
    props: dict[str, str | int | None] = {"file": f.path}
    if f.cell is not None:
        title += f" [cell {f.cell}, line {f.cell_line}]"
        props["line"] = f.file_line or 1
    else:
        line = max(f.line, 1)
        end_line = max(f.end_line, line)
        props["line"] = line
        props["endLine"] = end_line
        if end_line == line and f.end_column > f.column >= 1:
            props["col"] = f.column
            props["endColumn"] = f.end_column - 1  # last character; ours is exclusive
    props["title"] = _cut(title, MAX_TITLE_CHARS)
    return command(COMMANDS[f.severity], _cut(message, MAX_MESSAGE_CHARS), **props)


# --------------------------------------------------------------------------- step summary


def step_summary(report: Report) -> str:
    s = report.summary
    gating = report.gating
    fail_on = report.fail_on.value
    out: list[str] = []
    if gating:
        noun = "finding" if len(gating) == 1 else "findings"
        out.append(f"## mldebt: ❌ {len(gating)} new {noun} at or above `{fail_on}` fail the run")
    else:
        out.append(f"## mldebt: ✅ no new findings at or above `{fail_on}`")
    out.append("")
    out.append("| | findings |")
    out.append("|---|---:|")
    out.append(f"| new | {s.new} |")
    out.append(f"| known (in the baseline) | {s.known} |")
    out.append(f"| fixed (in the baseline, gone) | {s.fixed} |")
    out.append(f"| fixme (known debt, marked in the code) | {s.fixme} |")
    out.append(f"| ignored | {s.ignored} |")
    out.append("")
    extra = []
    if report.baseline is not None:
        extra.append(f"baseline {md_text(report.baseline)}")
        if s.stale:
            extra.append(f"{s.stale} stale baseline {'entry' if s.stale == 1 else 'entries'} "
                         f"(`mldebt baseline prune` removes them)")
    out.append(f"{s.files} files scanned, about {duration(s.debt_minutes)} of debt"
               + (f"; {'; '.join(extra)}" if extra else "") + ".")
    if report.errors:
        n = len(report.errors)
        out.append("")
        out.append(f"**{n} {'file' if n == 1 else 'files'} could not be analysed:**")
        out.append("")
        for e in report.errors[:SUMMARY_FINDINGS]:
            out.append(f"- {md_text(e.path)}: {md_text(_cut(e.message, SUMMARY_MESSAGE_CHARS))}")
        if n > SUMMARY_FINDINGS:
            out.append(f"- … and {n - SUMMARY_FINDINGS} more")
    if report.findings:
        out.extend(["", "### By smell", ""])
        out.extend(_count_table("smell", [(f.smell, f) for f in report.findings]))
        out.extend(["", "### By rule", ""])
        names = {f.rule: f"{f.rule} {f.name}" for f in report.findings}
        out.extend(_count_table("rule", [(names[f.rule], f) for f in report.findings]))
    new = sorted((f for f in report.findings if f.status is Status.NEW), key=priority)
    if new:
        shown = new[:SUMMARY_FINDINGS]
        head = "New findings" if len(new) == len(shown) else f"New findings (the {len(shown)} most severe of {len(new)})"
        out.extend(["", f"### {head}", "", "| where | rule | severity | message |", "|---|---|---|---|"])
        for f in shown:
            out.append(f"| {md_text(_where(f))} | {md_text(f.rule)} {md_text(f.name)} | {f.severity.value} "
                       f"| {md_message(_cut(f.message, SUMMARY_MESSAGE_CHARS))} |")
    return "\n".join(out) + "\n"


def _count_table(label: str, rows: Sequence[tuple[str, Finding]]) -> list[str]:
    counts: dict[str, Counter[Status]] = {}
    for key, f in rows:
        counts.setdefault(key, Counter())[f.status] += 1
    out = [f"| {label} | new | known | fixme | total |", "|---|---:|---:|---:|---:|"]
    for key, c in sorted(counts.items(), key=lambda kv: (-kv[1][Status.NEW], -sum(kv[1].values()), kv[0])):
        out.append(f"| {md_text(key)} | {c[Status.NEW]} | {c[Status.KNOWN]} | {c[Status.FIXME]} "
                   f"| {sum(c.values())} |")
    return out


def md_text(text: str) -> str:
    """Text from the scanned repository as inert Markdown: one line, no markup, no HTML."""
    one_line = " ".join(_clean(text).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def md_message(text: str) -> str:
    """A finding's message for a table cell: its `code` spans kept, everything else inert.

    Inside a code span nothing is markup except the ``|`` that would end the table cell
    (escaped as GFM says); with an odd number of backticks the whole text is escaped."""
    one_line = " ".join(_clean(text).split())
    parts = one_line.split("`")
    if len(parts) % 2 == 0:
        return md_text(one_line)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(md_text(part))
        elif part.strip():
            out.append("`" + part.replace("|", "\\|") + "`")
        else:
            out.append(md_text("`" + part + "`"))
    return "".join(out)


def _where(f: Finding) -> str:
    if f.cell is not None:
        return f"{f.path} cell {f.cell}, line {f.cell_line}"
    return f"{f.path}:{f.line}:{f.column}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(text: str) -> str:
    """No lone surrogates, and no control character but line ends (which the callers encode):
    the Actions log renders ANSI escapes, which would let a file name restyle or hide lines."""
    return visible(LONE_SURROGATE.sub("\ufffd", text), keep="\r\n")
