"""The baseline: accepted debt, so that CI fails on new findings only.

A baseline file holds one entry per fingerprint *group* (rule, path, scope and normalised
source of the flagged node) with how many findings it accepts — no line numbers, no
timestamps, no tool version, sorted — so regenerating it on an unchanged tree gives the same
bytes, and a diff of it reviews like code.

Matching a scan against it is count-aware and tiered. Each tier only uses what the tiers
before it left over, and a group accepts at most its count, so when identical findings grow
from two to three exactly one is new:

1. the same group (the finding did not change, wherever its lines moved);
2. the same group in the file's old path, for files git says were renamed or moved;
3. the same rule and normalised source in the same file under another scope (a renamed
   function or class);
4. edited in place: the same rule, file and scope and the same literal values (a threshold
   re-expressed around the same number); a finding whose values changed is new, and the
   entry it replaced is fixed.

What no finding matched is *fixed*; `baseline prune` removes it (and never adds).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from mldebt.fingerprint import ALGORITHM, group_key, normalise
from mldebt.model import Finding, Report, Status, json_text

VERSION = 1
DEFAULT_NAME = ".mldebt-baseline.json"


class BaselineError(Exception):
    """A baseline that cannot be trusted: the message says which file and why."""


@dataclass(frozen=True, slots=True)
class Entry:
    rule: str
    path: str
    scope: str
    group: str  # the fingerprint group (without the occurrence index)
    content: str  # rule + normalised source: the same finding under another scope
    literals: str  # rule + literal values: the same finding edited in place
    count: int
    snippet: str  # for people reviewing the file

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "path": self.path, "scope": self.scope, "group": self.group,
                "content": self.content, "literals": self.literals, "count": self.count,
                "snippet": self.snippet}


@dataclass(frozen=True, slots=True)
class Baseline:
    entries: tuple[Entry, ...]

    @property
    def total(self) -> int:
        return sum(e.count for e in self.entries)


@dataclass(frozen=True, slots=True)
class Match:
    findings: tuple[Finding, ...]  # with status KNOWN where the baseline accepts them
    fixed: int  # baseline findings no scan finding matched
    stale: tuple[Entry, ...]  # entries with fixed findings, their count reduced to what remains fixed


def from_findings(findings: Iterable[Finding]) -> Baseline:
    """The baseline accepting these findings (fixme findings too: they are known debt)."""
    counts: Counter[tuple[str, str, str, str, str, str]] = Counter()
    snippets: dict[str, str] = {}
    for f in findings:
        group = f.fingerprint.rsplit(":", 1)[0]
        counts[(f.rule, f.path, f.scope, group, f.content_key, f.literal_key)] += 1
        snippets.setdefault(group, normalise(f.snippet))
    entries = [Entry(rule, path, scope, group, content, literals, n, snippets[group][:120])
               for (rule, path, scope, group, content, literals), n in counts.items()]
    entries.sort(key=lambda e: (e.path, e.rule, e.scope, e.group))
    return Baseline(tuple(entries))


def dumps(baseline: Baseline) -> str:
    data = {
        "version": VERSION,
        "fingerprint_algorithm": ALGORITHM,
        "entries": [e.as_json() for e in baseline.entries],
    }
    return json_text(data)


def load(path: Path) -> Baseline:
    """Read and check a baseline; anything off is a :class:`BaselineError`, never a guess."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (create one with `mldebt baseline create`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from None
    return loads(text, str(path))


def loads(text: str, path: str) -> Baseline:
    """A baseline from its text (``path`` names it in errors)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not a valid baseline (corrupt or truncated JSON at line {exc.lineno})") from None
    if not isinstance(data, dict) or "version" not in data:
        raise BaselineError(f"{path}: not an mldebt baseline (no version)")
    if data["version"] != VERSION:
        raise BaselineError(f"{path}: baseline version {data['version']!r}, this mldebt reads version {VERSION} "
                            "(recreate it with `mldebt baseline create`)")
    if data.get("fingerprint_algorithm") != ALGORITHM:
        raise BaselineError(f"{path}: fingerprints of algorithm {data.get('fingerprint_algorithm')!r}, this mldebt "
                            f"computes algorithm {ALGORITHM} (recreate it with `mldebt baseline create`)")
    raw = data.get("entries")
    if not isinstance(raw, list):
        raise BaselineError(f"{path}: not a valid baseline (entries must be a list)")
    entries = []
    for i, e in enumerate(raw):
        try:
            entry = Entry(str(e["rule"]), str(e["path"]), str(e["scope"]), str(e["group"]), str(e["content"]),
                          str(e["literals"]), int(e["count"]), str(e.get("snippet", "")))
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"{path}: entry {i + 1} is incomplete or malformed") from None
        if entry.count < 1:
            raise BaselineError(f"{path}: entry {i + 1} has count {entry.count}")
        entries.append(entry)
    return Baseline(tuple(entries))


def match(findings: Sequence[Finding], baseline: Baseline, renames: Mapping[str, str] | None = None) -> Match:
    """Mark the findings the baseline accepts as known (see the module docstring)."""
    renamed_from = {new: old for old, new in (renames or {}).items()}
    left: dict[int, int] = {i: e.count for i, e in enumerate(baseline.entries)}
    entries = baseline.entries

    def index(key: Any) -> dict[Any, list[int]]:
        out: dict[Any, list[int]] = defaultdict(list)
        for i, e in enumerate(entries):
            out[key(e)].append(i)
        return out

    tiers = [
        (index(lambda e: e.group), lambda f, p: f.fingerprint.rsplit(":", 1)[0]),
        (index(lambda e: (e.path, e.group)), None),  # filled below: the old path's group
        (index(lambda e: (e.rule, e.path, e.content)), lambda f, p: (f.rule, p, f.content_key)),
        (index(lambda e: (e.rule, e.path, e.scope, e.literals)), lambda f, p: (f.rule, p, f.scope, f.literal_key)),
    ]
    known = [False] * len(findings)
    for tier, (by_key, key_of) in enumerate(tiers):
        for n, f in enumerate(findings):
            if known[n]:
                continue
            old = renamed_from.get(f.path, f.path)
            if tier == 1:
                if old == f.path:
                    continue
                key: Any = (old, group_key(f.rule, old, f.scope, f.snippet))
            else:
                assert key_of is not None
                key = key_of(f, old)
            for i in by_key.get(key, ()):
                if left[i] > 0:
                    left[i] -= 1
                    known[n] = True
                    break
    out = tuple(replace(f, status=Status.KNOWN) if k and f.status is Status.NEW else f
                for f, k in zip(findings, known))
    stale = tuple(replace(e, count=left[i]) for i, e in enumerate(entries) if left[i] > 0)
    return Match(out, sum(left.values()), stale)


def prune(baseline: Baseline, stale: Sequence[Entry]) -> Baseline:
    """The baseline without its fixed findings; it never gains an entry or a count."""
    fixed = {(e.group, e.path, e.rule): e.count for e in stale}
    kept = []
    for e in baseline.entries:
        n = e.count - fixed.get((e.group, e.path, e.rule), 0)
        if n > 0:
            kept.append(replace(e, count=n))
    return Baseline(tuple(kept))


def apply(report: Report, baseline: Baseline, renames: Mapping[str, str] | None, label: str) -> tuple[Report, Match]:
    """``report`` with the findings ``baseline`` accepts marked known, and its summary updated."""
    m = match(report.findings, baseline, renames)
    status = Counter(f.status for f in m.findings)
    summary = replace(report.summary, new=status[Status.NEW], known=status[Status.KNOWN], fixed=m.fixed,
                      stale=len(m.stale))
    return replace(report, findings=m.findings, summary=summary, baseline=label), m

