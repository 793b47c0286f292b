"""The findings model: what the engine produces and reporters consume.

Everything here is immutable and picklable, so it crosses process boundaries and is
safe to hand to reporters.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Confidence(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


class Status(enum.Enum):
    NEW = "new"
    KNOWN = "known"
    FIXME = "fixme"


SMELLS: tuple[str, ...] = (
    "glue-code",
    "pipeline-jungle",
    "dead-experimental-path",
    "hard-coded-threshold",
    "undeclared-data-dependency",
    "configuration-debt",
    "unseeded-randomness",
    "data-leakage",
    "ml-api-misuse",
    "analysis",
)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding (or a fact) sits in a file. Lines and columns are 1-based."""

    line: int
    column: int
    end_line: int
    end_column: int
    anchor_line: int  # first line of the enclosing statement (suppression comments)
    scope: str  # enclosing qualified scope: "Trainer.fit" or "<module>"
    snippet: str  # source of the flagged node, used for fingerprints
    cell: int | None = None  # notebooks: 1-based cell index
    cell_line: int | None = None  # notebooks: line within that cell
    file_line: int | None = None  # notebooks: the line of the .ipynb file holding that line


@dataclass(frozen=True, slots=True)
class RawFinding:
    """A finding as a rule produced it, before suppression, baseline and policy."""

    rule: str
    location: Location
    message: str
    hint: str = ""
    confidence: Confidence | None = None  # None: the rule's default
    severity: Severity | None = None  # None: the rule's default


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    name: str
    smell: str
    severity: Severity
    confidence: Confidence
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    hint: str
    status: Status
    fingerprint: str
    remediation_minutes: int
    scope: str = "<module>"
    cell: int | None = None  # notebooks: 1-based cell index among all cells
    cell_line: int | None = None  # notebooks: line within that cell
    file_line: int | None = None  # notebooks: the line of the .ipynb file holding that line
    # the source lines around the finding (for the HTML report): line ``context_start`` first
    context: tuple[str, ...] = ()
    context_start: int = 0
    # identity for baseline matching (not reported): the flagged source and two looser keys
    snippet: str = ""
    content_key: str = ""
    literal_key: str = ""

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.line, self.column, self.rule, self.message)


@dataclass(frozen=True, slots=True)
class FileError:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class Directive:
    """A `# mldebt: ignore[...]` / `fixme[...]` / `ignore-file[...]` comment."""

    kind: str  # "ignore" | "fixme" | "ignore-file"
    codes: tuple[str, ...]  # empty: all rules
    reason: str
    line: int
    column: int
    end_column: int
    malformed: str = ""  # non-empty: why the directive could not be understood
    cell: int | None = None  # notebooks: 1-based cell index
    cell_start: int = 0  # notebooks: first joined line of that cell
    file_line: int | None = None  # notebooks: the line of the .ipynb file holding the comment


@dataclass(frozen=True, slots=True)
class Fact:
    """Something a project rule collected in the file phase."""

    rule: str
    kind: str
    data: Mapping[str, Any]
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str  # POSIX, relative to the root
    module: str  # dotted module name ("" when unknown)
    is_test: bool
    lines: int
    findings: tuple[RawFinding, ...] = ()
    directives: tuple[Directive, ...] = ()
    facts: tuple[Fact, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    findings: int
    new: int
    known: int
    fixme: int
    ignored: int
    errors: int
    by_smell: Mapping[str, int]
    by_rule: Mapping[str, int]
    by_severity: Mapping[str, int]
    debt_minutes: int
    fixed: int = 0  # baseline entries (counted one per finding) no longer found
    stale: int = 0  # baseline groups with fixed findings (`baseline prune` removes them)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a report says about a rule that has findings in it (for SARIF, HTML, GitHub)."""

    code: str
    name: str
    smell: str
    severity: Severity
    confidence: Confidence
    summary: str
    hint: str
    doc: str  # the rule's Markdown documentation (what `mldebt explain` prints)
    remediation_minutes: int


@dataclass(frozen=True, slots=True)
class ReportMeta:
    """What a report page says about the scan besides its findings."""

    project: str  # the project's name (its folder)
    generated: str  # ISO 8601 date and time of the scan (UTC)
    lines: int  # lines of code analysed (the size the debt ratio is measured against)
    commit: str | None = None
    branch: str | None = None
    pipeline: Mapping[str, Any] | None = None  # the pipeline graph as `mldebt graph --format json` gives it


@dataclass(frozen=True, slots=True)
class Report:
    version: int
    tool_name: str
    tool_version: str
    root: str
    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    summary: Summary
    fail_on: Severity = Severity.WARNING
    rules: tuple[RuleInfo, ...] = ()  # the rules that have findings here, by code
    baseline: str | None = None  # the baseline file the statuses were matched against
    meta: ReportMeta | None = None  # where and when (for the HTML report); None when not asked for

    @property
    def gating(self) -> tuple[Finding, ...]:
        """New findings at or above the fail-on severity: the ones that fail the run."""
        return tuple(
            f
            for f in self.findings
            if f.status is Status.NEW and f.severity.rank >= self.fail_on.rank
        )


# how a file name whose bytes were not UTF-8 is held (``surrogateescape``): every output
# must turn these into something valid (an escape, or U+FFFD where display is all that counts)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(data: Any) -> str:
    """``data`` as the JSON of a report or baseline: indented, non-ASCII text as is, and valid
    UTF-8 whatever a repository's file names are. A name whose bytes were not UTF-8 is held as
    lone surrogates (Python's ``surrogateescape``); written raw they would make the document
    invalid UTF-8, so they become ``\\udcXX`` escapes, which ``json.loads`` reads back as the
    same name (a baseline written today still matches that file tomorrow)."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
