"""Text for the terminal: ``path:line:col: CODE [smell] message``, a hint, and a summary."""

from __future__ import annotations

import re
from typing import Any

import click

from mldebt.model import Finding, Report, Severity, Status

_SEVERITY_COLOR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


# control and format characters: C0/C1 controls (an escape sequence in a file name or a
# string literal would drive the user's terminal), bidirectional overrides ("Trojan Source"),
# line and paragraph separators, lone surrogates
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control or format character (but those in ``keep``) written as an
    escape (``\\x1b``, ``\\n``, ``\\u202e``): whatever a scanned repository names or writes
    stays one line of plain text on the terminal."""
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
    if named:
        return named
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def _style(text: str, color: bool, **kw: Any) -> str:
    return click.style(text, **kw) if color else text


def _where(f: Finding) -> str:
    if f.cell is not None:  # the line in the .ipynb file, which editors and grep can find
        return f"{visible(f.path)}:{f.file_line or 1} [cell {f.cell}, line {f.cell_line}]"
    return f"{visible(f.path)}:{f.line}:{f.column}"


def duration(minutes: int) -> str:
    """Remediation time as people say it: 45m, 3h 20m, 2d 4h (a day is 8 hours)."""
    hours, mins = divmod(minutes, 60)
    if hours >= 8:
        days, hours = divmod(hours, 8)
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def render(report: Report, *, color: bool = False) -> str:
    out: list[str] = []
    for f in report.findings:
        code = _style(f.rule, color, fg=_SEVERITY_COLOR[f.severity], bold=True)
        tags = [f.smell]
        if f.status is Status.FIXME:
            tags.append("fixme")
        elif f.status is Status.KNOWN:
            tags.append("known")
        if f.confidence.value != "high":
            tags.append(f"{f.confidence.value} confidence")
        out.append(f"{_style(_where(f), color, bold=True)}: {code} [{', '.join(tags)}] {visible(f.message)}")
        if f.hint:
            out.append(_style(f"    hint: {visible(f.hint)}", color, dim=True))
    s = report.summary
    if report.findings:
        out.append("")
    if s.findings:
        parts = [f"{s.new} new"]
        if s.known or report.baseline:
            parts.append(f"{s.known} known")
        if report.baseline:
            parts.append(f"{s.fixed} fixed")
        if s.fixme:
            parts.append(f"{s.fixme} fixme")
        if s.ignored:
            parts.append(f"{s.ignored} ignored")
        noun = "finding" if s.findings == 1 else "findings"
        out.append(f"Found {s.findings} {noun} ({', '.join(parts)}) in {s.files} files, "
                   f"about {duration(s.debt_minutes)} of debt to pay down:")
        width = max(len(k) for k in s.by_smell)
        for smell, n in sorted(s.by_smell.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {smell.ljust(width)}  {n:>5}")
    else:
        extra = f" ({s.ignored} ignored)" if s.ignored else ""
        if report.baseline:
            extra += f" ({s.fixed} fixed since the baseline)" if s.fixed else ""
        out.append(_style(f"No findings in {s.files} files{extra}.", color, fg="green"))
    if report.errors:
        n = len(report.errors)
        out.append(_style(f"{n} {'path' if n == 1 else 'paths'} could not be analysed:", color, fg="red"))
        for e in report.errors:
            out.append(f"  {visible(e.path)}: {visible(e.message)}")
    gating = report.gating
    if gating:
        out.append(_style(f"{len(gating)} new {'finding' if len(gating) == 1 else 'findings'} at or above "
                          f"'{report.fail_on.value}' fail the run.", color, fg="red", bold=True))
    return "\n".join(out) + "\n"
