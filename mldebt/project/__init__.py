"""The project phase: one picture of the repository from every file's facts.

Project rules (flags never toggled anywhere, experiment functions nothing references, and
the cross-file smells to come) see a :class:`Project` built from the file results and
return findings located in the files their facts came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mldebt.model import Fact, FileResult, RawFinding
from mldebt.rules.base import FileFacts, ProjectRule

if TYPE_CHECKING:  # pragma: no cover
    from mldebt.project.declarations import Declarations
    from mldebt.project.graph import PipelineGraph


class Project:
    def __init__(self, root: str, results: Sequence[FileResult], declarations: Declarations | None = None,
                 knowledge: Mapping[str, Any] | None = None) -> None:
        self.root = root
        self._files = [
            FileFacts(r.path, r.module, r.is_test, r.facts) for r in results if r.error is None
        ]
        self._modules = {f.module: f.path for f in self._files if f.module}
        self._declarations = declarations
        self._knowledge = knowledge or {}
        self._pipeline: PipelineGraph | None = None

    @property
    def declarations(self) -> Declarations:
        if self._declarations is None:
            from mldebt.project.declarations import DataSettings, load_declarations
            self._declarations = load_declarations({}, (), DataSettings())
        return self._declarations

    @property
    def pipeline(self) -> PipelineGraph:
        """The project graph, built on first use (only scans with a rule that needs it pay)."""
        if self._pipeline is None:
            from mldebt.project.graph import PipelineGraph
            self._pipeline = PipelineGraph(self, self.declarations, self._knowledge)
        return self._pipeline

    def files(self) -> Iterator[FileFacts]:
        return iter(self._files)

    def facts(self, rule: str, kind: str | None = None) -> Iterator[tuple[FileFacts, Fact]]:
        for f in self._files:
            for fact in f.facts:
                if fact.rule == rule and (kind is None or fact.kind == kind):
                    yield f, fact

    def module_path(self, module: str) -> str | None:
        return self._modules.get(module)


def run_project_rules(
    project: Project, rules: Sequence[tuple[str, type[ProjectRule], Mapping[str, Any]]],
    failures: list[tuple[str, str]] | None = None,
) -> list[tuple[str, RawFinding]]:
    """Run each project rule's ``check``; findings come back with the path they belong to.

    With ``failures``, a rule that raises is noted there as (code, reason) and reports
    nothing, and the other rules still run (an internal error in one rule must not cost the
    whole report); without it, the exception propagates (``--debug``, tests)."""
    out: list[tuple[str, RawFinding]] = []
    for code, cls, options in rules:
        found: list[tuple[str, RawFinding]] = []
        try:
            for pf in cls.check(project, options):
                found.append((pf.path, RawFinding(code, pf.location, pf.message, pf.hint, pf.confidence,
                                                  pf.severity)))
        except Exception as exc:
            if failures is None:
                raise
            failures.append((code, f"{type(exc).__name__}: {exc}"))
            continue
        out.extend(found)
    return out
