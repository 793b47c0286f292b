"""Suppression comments.

``# mldebt: ignore[MLD301] -- reason`` hides a finding on its line (or on the first line of
its statement); ``# mldebt: fixme[...] -- reason`` keeps it in the report as known debt
that does not fail the run; ``# mldebt: ignore-file[...] -- reason`` hides the rule in the
whole file. Codes may be rule codes or rule names; no brackets means every rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from mldebt.model import Directive, RawFinding
from mldebt.rules.base import Comment

KINDS = ("ignore", "fixme", "ignore-file")
_DIRECTIVE_RE = re.compile(
    r"mldebt\s*:\s*(?P<kind>[A-Za-z][\w-]*)\s*(?P<bracket>\[(?P<codes>[^\]]*)\]?)?(?P<rest>.*)$"
)
_REASON_LEAD = re.compile(r"^\s*(--|—|–|:|-)?\s*")


def parse_directives(comments: Iterable[Comment]) -> list[Directive]:
    out: list[Directive] = []
    for c in comments:
        idx = c.text.find("mldebt")
        if idx < 0:
            continue
        m = _DIRECTIVE_RE.search(c.text, idx)
        if m is None:
            continue
        kind = m.group("kind").lower()
        bracket = m.group("bracket") or ""
        codes = tuple(
            s.strip() for s in (m.group("codes") or "").split(",") if s.strip()
        )
        reason = _REASON_LEAD.sub("", m.group("rest") or "", count=1).strip()
        malformed = ""
        if kind not in KINDS:
            malformed = f"unknown directive {kind!r} (expected ignore, fixme or ignore-file)"
        elif bracket and not bracket.endswith("]"):
            malformed = "unclosed '[' in directive"
        elif bracket and not codes:
            malformed = "empty rule list '[]'"
        out.append(Directive(kind, codes, reason, c.line, c.column, c.column + len(c.text), malformed))
    return out


@dataclass(slots=True)
class FileSuppressions:
    """Matches one file's findings against its directives, remembering which were used."""

    directives: Sequence[Directive]
    matches: Callable[[str, str], bool]  # (directive code, finding rule code) -> bool
    used: set[int] = field(default_factory=set)

    def status_of(self, finding: RawFinding) -> str | None:
        """'ignore', 'fixme' or None (not suppressed). Marks the directive used."""
        loc = finding.location
        lines = {loc.line, loc.anchor_line}
        for i, d in enumerate(self.directives):
            if d.malformed:
                continue
            if d.kind == "ignore-file" or d.line in lines:
                if not d.codes or any(self.matches(code, finding.rule) for code in d.codes):
                    self.used.add(i)
                    return "fixme" if d.kind == "fixme" else "ignore"
        return None
