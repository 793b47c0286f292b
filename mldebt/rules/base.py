"""The rule base: what every rule subclasses and what it may call.

A file rule is a class with libcst-style ``visit_<Node>`` / ``leave_<Node>`` methods. The
engine walks each file's tree once and calls every selected rule's methods for the node
types it names (one batched traversal). Rules report with :meth:`Rule.report`; positions
are computed by the engine only for reported nodes.

A project rule also visits files (to collect *facts*, picklable dicts, with
:meth:`ProjectRule.fact`) and then judges the whole repository in :meth:`ProjectRule.check`.

Identity and policy (code, name, smell, severity, options and their defaults) live in the
catalog (``rules/*.yaml``); a class carries detection, documentation and examples only.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Protocol,
    TypeVar,
)

import libcst as cst

from mldebt.model import Confidence, Fact, Location, Severity

if TYPE_CHECKING:  # pragma: no cover
    from mldebt.rules.names import NameResolver

T = TypeVar("T")
_COMPILED: dict[tuple[int, Any], tuple[Mapping[str, Any], Any]] = {}


def compiled(knowledge: Mapping[str, Any], build: Callable[[Mapping[str, Any]], T]) -> T:
    """``build(knowledge)``, computed once per knowledge mapping and builder.

    Rules are made per file, but the catalog's knowledge lives for the whole process: what a
    rule compiles from it (sets, dicts, regexes from globs) is kept here, with the mapping
    itself, so that an id reused by another mapping never returns a stale result.
    """
    key = (id(knowledge), build)
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not knowledge:
        hit = _COMPILED[key] = (knowledge, build(knowledge))
    return hit[1]  # type: ignore[no-any-return]


_PER_PROJECT: weakref.WeakKeyDictionary[Any, dict[Callable[[Any], Any], Any]] = weakref.WeakKeyDictionary()


def per_project(project: Any, build: Callable[[Any], T]) -> T:
    """``build(project)``, computed once per project view: for an analysis several project
    rules share (MLD603 and MLD604 the configs, MLD702 and MLD703 the seeding). A view that
    cannot be weakly referenced gets no sharing."""
    try:
        built = _PER_PROJECT.setdefault(project, {})
    except TypeError:
        return build(project)
    if build not in built:
        built[build] = build(project)
    return built[build]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Comment:
    line: int  # 1-based
    column: int  # 1-based column of '#'
    text: str  # including the leading '#'
    own_line: bool  # nothing but whitespace before it on its line


@dataclass(frozen=True)
class Valid:
    """Code a rule must not flag. ``files`` allows multi-file examples (path -> code)."""

    code: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    path: str = "example.py"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    """Code a rule must flag, at ``line`` (and ``column`` when given) in ``path``."""

    code: str = ""
    line: int = 0
    column: int | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    path: str = "example.py"
    options: Mapping[str, Any] = field(default_factory=dict)
    message_contains: str = ""
    confidence: str | None = None  # expected confidence ("high"/"medium"/"low")


class FileContext(Protocol):
    """What the engine tells a rule about the file being analysed."""

    path: str  # POSIX, relative to the project root
    module: str  # dotted module name
    is_test: bool
    source: str
    knowledge: Mapping[str, Any]  # the shared knowledge base from the catalog
    names: NameResolver  # imports and aliases seen so far

    @property
    def scope(self) -> str: ...  # "Trainer.fit" or "<module>"

    @property
    def function(self) -> cst.FunctionDef | cst.Lambda | None: ...  # innermost function

    def comments(self) -> Sequence[Comment]: ...  # every comment, in order

    def code_for(self, node: cst.CSTNode) -> str: ...

    # a per-file helper several rules share, made by ``make()`` on first use; the walk calls
    # its ``visit_<Node>``/``leave_<Node>`` methods, if any, before any rule's
    def shared(self, key: Any, make: Callable[[], T]) -> T: ...

    # notebooks: whether a top-level statement is the last of its cell (Jupyter displays the
    # value of a cell's last expression); always False outside notebooks
    def ends_cell(self, stmt: cst.CSTNode) -> bool: ...


class Rule:
    """A file rule. Subclasses define ``visit_<Node>``/``leave_<Node>`` methods.

    The class docstring is the user documentation (Markdown, ruff's headings).
    """

    VALID: ClassVar[Sequence[str | Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        self.ctx = ctx
        self.code = code
        self.options = options
        self._sink = sink

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        hint: str = "",
        confidence: Confidence | None = None,
        severity: Severity | None = None,
    ) -> None:
        """Report ``node``. The hint says how to fix it, in one line."""
        self._sink.report(self.code, node, message, hint, confidence, severity)

    def finish(self) -> None:
        """Called once after the whole file has been walked."""


class ProjectRule(Rule):
    """A rule that needs the whole repository: it collects facts per file, then checks.

    ``NEEDS`` names the shared :class:`Collector` classes (``"module:Class"`` under
    ``mldebt.rules``) whose facts :meth:`check` reads, such as the project graph's.
    """

    NEEDS: ClassVar[tuple[str, ...]] = ()

    def fact(self, kind: str, node: cst.CSTNode | None = None, **data: Any) -> None:
        """Record a fact for :meth:`check`; ``node`` gives it a location."""
        self._sink.fact(self.code, kind, node, data)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        raise NotImplementedError


class Collector(ProjectRule):
    """Collects facts several project rules share (the project graph's); reports nothing.

    A collector is not in the catalog: it runs, once, when a selected rule names it in
    ``NEEDS``. Its facts carry the collector's ``CODE`` as their rule.
    """

    CODE: ClassVar[str] = ""

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        return ()


class MetaRule:
    """A rule implemented by the engine itself (suppression checks). Documentation only."""

    VALID: ClassVar[Sequence[str | Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()


@dataclass(frozen=True, slots=True)
class ProjectFinding:
    path: str
    location: Location
    message: str
    hint: str = ""
    confidence: Confidence | None = None
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class FileFacts:
    path: str
    module: str
    is_test: bool
    facts: tuple[Fact, ...]


class ProjectView(Protocol):
    """The repository as project rules see it."""

    root: str

    def files(self) -> Iterator[FileFacts]: ...  # every analysed file, in path order

    def facts(self, rule: str, kind: str | None = None) -> Iterator[tuple[FileFacts, Fact]]: ...

    def module_path(self, module: str) -> str | None: ...  # dotted module -> path

    @property
    def pipeline(self) -> Any: ...  # the project graph (mldebt.project.graph.PipelineGraph)


class Sink(Protocol):
    def report(
        self,
        code: str,
        node: cst.CSTNode,
        message: str,
        hint: str,
        confidence: Confidence | None,
        severity: Severity | None,
    ) -> None: ...

    def fact(self, code: str, kind: str, node: cst.CSTNode | None, data: Mapping[str, Any]) -> None: ...
