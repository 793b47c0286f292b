"""Seeding reachable across files: what MLD702 and MLD703 share in the project phase.

In the file phase a :class:`SeedFeed` (one per file, shared by MLD702 and MLD703) records one
``seeding:file`` fact:
the modules it imports, the frameworks it seeds anywhere (``*`` for a seed of unknown scope,
such as a project's ``set_seed(...)``), the project functions it calls, the functions it
defines that seed (and what those call), and whether it is an entry point (a ``__main__``
guard outside a package ``__init__``, a ``__main__.py``, a notebook; or a module outside a
package, imported by no other, that calls functions at module level). In the project phase
:class:`Seeding` answers "is a draw in module M seeded": M seeds itself, or every entry
point that imports M (transitively) seeds, directly or through a helper function of the
project it calls. An unseeded entry point raises the finding's confidence only when its
import chain to M is direct: it imports M, or imports by name a module that imports M, and
never goes through a package's ``__init__`` re-exports (a command-line utility of a library
reaches most of the library through long chains of imports it does not run).

Classes: for each top-level class the fact keeps its bases (qualified through the file's
imports) and what its ``__init__`` seeds and calls. A draw in a method of a class whose
``__init__``, or the ``__init__`` of a base class of the project (in any file), seeds,
directly or through a helper, is seeded: the object cannot exist before the seed.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import libcst as cst

from mldebt.rules.base import (
    FileContext,
    FileFacts,
    ProjectRule,
    ProjectView,
    Sink,
    per_project,
)
from mldebt.rules.names import dotted, import_base
from mldebt.rules.unseeded_randomness._common import RandomnessKnowledge

ANY = "*"
FILE = "seeding:file"  # the fact of each file (see SeedFeed)
# the fact kinds of this folder's rules: indexed once per project (see facts_of_kind)
KINDS = frozenset({FILE, "mld702:draws", "mld702:draw", "mld702:generator",
                   "mld703:shuffle", "mld703:shuffle-of", "mld703:datasets"})
_HELPER_DEPTH = 4  # helpers calling helpers that seed
_DIRECT_DEPTH = 2  # import edges from an entry point to a module it runs directly
def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    left, right = test.left, test.comparisons[0].comparator
    names = {n.value for n in (left, right) if isinstance(n, cst.Name)}
    strings = {n.evaluated_value for n in (left, right) if isinstance(n, cst.SimpleString)}
    return names == {"__name__"} and strings == {"__main__"}


class SeedFeed:
    """File phase: seeds, imports, calls and entry point of the file (see the module docstring).

    One per file, shared by MLD702 and MLD703 (``ctx.shared``): the walk calls its visitors
    before the rules', and the first of the rules to finish records its ``seeding:file`` fact,
    so the file has one such fact whichever of the two rules are selected.
    """

    def __init__(self, ctx: FileContext, k: RandomnessKnowledge) -> None:
        self.ctx = ctx
        self.k = k
        self._imports: set[str] = set()
        self._seeds: set[str] = set()
        self._calls: set[str] = set()
        self._helpers: dict[str, set[str]] = {}  # top-level function -> frameworks it seeds
        self._helper_calls: dict[str, set[str]] = {}  # top-level function -> callees
        self._entry = ctx.path.endswith((".ipynb", "__main__.py"))
        self._runs = False  # calls at module level: a script without a guard, if nothing imports it
        self._outer: list[str] = []  # the enclosing top-level function (one entry at most)
        self._depth = 0
        self._classes: dict[str, dict[str, Any]] = {}  # top-level class -> bases, seeds/calls of __init__
        self.cls: str | None = None  # the enclosing top-level class
        self._init: cst.FunctionDef | None = None  # its `__init__`, while inside it
        self.recorded = False  # the file's fact is recorded (by the first rule to finish)

    # -- classes ---------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self.cls is None and self.ctx.scope == "<module>":
            self.cls = node.name.value
            bases = []
            for a in node.bases:
                q = self.ctx.names.qualified(a.value)
                if q is None and isinstance(a.value, cst.Name) and a.value.value in self.ctx.names.local_defs:
                    q = f"{self.ctx.module}.{a.value.value}"
                if q is not None:
                    bases.append(q)
            self._classes[node.name.value] = {"bases": bases, "seeds": set(), "calls": set()}

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        if self.cls == node.name.value and self.ctx.scope == "<module>":
            self.cls = None

    # -- structure -------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._depth == 0 and self.ctx.scope == "<module>":
            self._outer.append(node.name.value)
        if self.cls is not None and self.ctx.scope == self.cls and node.name.value == "__init__":
            self._init = node
        self._depth += 1

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth -= 1
        if self._depth == 0 and self._outer:
            self._outer.pop()
        if node is self._init:
            self._init = None

    def visit_If(self, node: cst.If) -> None:
        # a package's `__init__` is imported, not run (`python -m pkg` runs `__main__.py`)
        if self.ctx.function is None and _is_main_guard(node.test) and not self.ctx.path.endswith("__init__.py"):
            self._entry = True

    def visit_Expr(self, node: cst.Expr) -> None:
        if self.ctx.function is None and self.ctx.scope == "<module>" and isinstance(node.value, cst.Call):
            self._runs = True

    def visit_Import(self, node: cst.Import) -> None:
        self._imports.update(d for a in node.names if (d := dotted(a.name)) is not None)  # type: ignore[arg-type]

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = import_base(self.ctx.module, self.ctx.names.is_package, node)
        if base is None:
            return
        self._imports.add(base)
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name)
                if name is not None:
                    self._imports.add(f"{base}.{name}" if base else name)

    # -- seeds -----------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        """Record ``node`` when it seeds, or calls a project function."""
        q = self.ctx.names.call_name(node)
        if self.k.is_seeding(q, node.func):
            frameworks = self.k.seeded_frameworks(q)
            self._seeds.update(frameworks)
            if self._outer:
                self._helpers.setdefault(self._outer[-1], set()).update(frameworks)
            if self._init is not None and self.cls is not None:
                self._classes[self.cls]["seeds"].update(frameworks)
            return
        callee = q
        if callee is None and isinstance(node.func, cst.Name) and node.func.value in self.ctx.names.local_defs:
            callee = f"{self.ctx.module}.{node.func.value}"
        if callee is not None and callee.split(".", 1)[0] not in self.k.ml_packages:
            if self._outer:
                self._helper_calls.setdefault(self._outer[-1], set()).add(callee)
            if self._init is not None and self.cls is not None:
                self._classes[self.cls]["calls"].add(callee)
            self._calls.add(callee)

    def data(self) -> dict[str, Any]:
        """The ``seeding:file`` fact's data. Empty fields are left out, and the callees of
        helpers and constructors are indices into ``calls`` (every callee is in it)."""
        calls = sorted(self._calls)
        index = {c: i for i, c in enumerate(calls)}
        out: dict[str, Any] = {
            "imports": sorted(self._imports), "seeds": sorted(self._seeds), "calls": calls, "entry": self._entry,
            "runs": self._runs and not self.ctx.path.endswith("__init__.py"),
            "helpers": {f: sorted(s) for f, s in self._helpers.items()},
            "helper_calls": {f: sorted(index[c] for c in s) for f, s in self._helper_calls.items()},
            "classes": {c: {k: v for k, v in (("bases", d["bases"]), ("seeds", sorted(d["seeds"])),
                                             ("calls", sorted(index[x] for x in d["calls"]))) if v}
                        for c, d in self._classes.items()},
        }
        return {k: v for k, v in out.items() if v}


class SeedTracking(ProjectRule):
    """A rule judged by :class:`Seeding`: the file's :class:`SeedFeed` records what it needs."""

    KIND: ClassVar[str] = ""

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = RandomnessKnowledge.of(ctx.knowledge)
        self.feed: SeedFeed = ctx.shared(SeedFeed, lambda: SeedFeed(ctx, self.k))

    @property
    def cls(self) -> str | None:
        """The enclosing top-level class."""
        return self.feed.cls

    def seeding(self, node: cst.Call, q: str | None) -> bool:
        """Does ``node`` seed (the feed has recorded it)?"""
        return self.k.is_seeding(q, node.func)

    def is_ml(self) -> bool:
        heads = {q.split(".", 1)[0] for q in self.ctx.names.aliases.values()}
        return bool(heads & self.k.ml_packages)

    def finish(self) -> None:
        if not self.feed.recorded:
            self.feed.recorded = True
            self.fact(FILE, None, **self.feed.data())


@dataclass(frozen=True, slots=True)
class Verdict:
    seeded: bool
    unseeded_entry: str | None = None  # an entry point importing the module that does not seed
    has_entries: bool = False


class Seeding:
    """Project phase: which modules are seeded, for a framework, where they run."""

    @classmethod
    def of(cls, project: ProjectView) -> Seeding:
        """The project's seeding, computed once: MLD702 and MLD703 both ask for it."""
        return per_project(project, cls)

    def __init__(self, project: ProjectView) -> None:
        self.files: dict[str, FileFacts] = {}
        self.data: dict[str, Mapping[str, Any]] = {}
        for ff, fact in facts_of_kind(project, FILE):
            self.files[ff.module] = ff
            self.data[ff.module] = fact.data
        self.importers: dict[str, set[str]] = {m: set() for m in self.data}
        for m, d in self.data.items():
            if self.files[m].is_test:
                continue
            for imp in d.get("imports", ()):
                if imp in self.data and imp != m:
                    self.importers[imp].add(m)
        helpers: dict[str, set[str]] = {}
        calls: dict[str, list[str]] = {}
        for m, d in self.data.items():
            for fn, fws in (d.get("helpers") or {}).items():
                helpers[f"{m}.{fn}"] = set(fws)
            names = d.get("calls", ())
            for fn, cs in (d.get("helper_calls") or {}).items():
                calls[f"{m}.{fn}"] = [names[i] for i in cs]
        # a callee that is neither a helper nor calls one never seeds: left out of the rounds
        known = helpers.keys() | calls.keys()
        rounds = {fn: kept for fn, cs in calls.items() if (kept := [c for c in cs if c in known])}
        for _ in range(_HELPER_DEPTH):  # a helper seeds what the helpers it calls seed
            changed = False
            for fn, cs in rounds.items():
                got = set().union(*(helpers.get(c, set()) for c in cs))
                if not got <= helpers.get(fn, set()):
                    helpers.setdefault(fn, set()).update(got)
                    changed = True
            if not changed:
                break
        self.helpers = helpers
        self.classes: dict[str, Mapping[str, Any]] = {}
        by_name: dict[str, list[str]] = {}
        for m, d in self.data.items():
            names = d.get("calls", ())
            for c, cd in (d.get("classes") or {}).items():
                self.classes[f"{m}.{c}"] = {**cd, "calls": [names[i] for i in cd.get("calls", ())]}
                by_name.setdefault(c, []).append(f"{m}.{c}")
        # a base imported through a package's re-export (`from pkg import Base`): by its name, if unique
        self._by_name = {c: qs[0] for c, qs in by_name.items() if len(qs) == 1}
        self._seeds: dict[str, set[str]] = {}
        self._entries: dict[str, list[tuple[str, bool]]] = {}
        self._ordered: dict[str, list[str]] = {}  # module -> its importers, sorted

    def _class(self, qualified: str) -> str | None:
        if qualified in self.classes:
            return qualified
        return self._by_name.get(qualified.rpartition(".")[2])

    def _ancestors(self, qualified: str) -> list[str]:
        """The project classes ``qualified`` is or derives from."""
        own: list[str] = []
        queue = deque([qualified])
        while queue and len(own) < 32:
            c = self._class(queue.popleft())
            if c is None or c in own:
                continue
            own.append(c)
            queue.extend(b for b in self.classes[c].get("bases", ()) if self._class(b) is not None)
        return own

    def class_seeds(self, qualified: str) -> set[str]:
        """What the ``__init__`` of the class, or of a base class of the project, seeds."""
        out: set[str] = set()
        for c in self._ancestors(qualified):
            cd = self.classes[c]
            out.update(cd.get("seeds", ()))
            for callee in cd.get("calls", ()):
                out |= self.helpers.get(callee, set())
        return out

    def class_covers(self, qualified: str, framework: str | None) -> bool:
        s = self.class_seeds(qualified)
        return bool(s) if framework is None else (ANY in s or framework in s)

    def seeds(self, module: str) -> set[str]:
        """What the module seeds, itself or through helpers it calls (do not change the set)."""
        out = self._seeds.get(module)
        if out is None:
            d = self.data.get(module, {})
            out = set(d.get("seeds", ()))
            for c in d.get("calls", ()):
                out |= self.helpers.get(c, set())
            self._seeds[module] = out
        return out

    def covers(self, module: str, framework: str | None) -> bool:
        """``framework`` None: any seed counts."""
        s = self.seeds(module)
        return bool(s) if framework is None else (ANY in s or framework in s)

    def entries(self, module: str) -> list[tuple[str, bool]]:
        """The entry points that import ``module`` (transitively), without it, each with
        whether the chain of imports is indirect: it passes through a package's ``__init__``
        (a re-export: in a library, every module is reachable that way from any command-line
        tool) or is longer than the entry importing, by name, a module that imports ``module``."""
        hit = self._entries.get(module)
        if hit is None:
            hit = self._entries[module] = self._find_entries(module)
        return list(hit)

    def _find_entries(self, module: str) -> list[tuple[str, bool]]:
        seen, queue, out = {module}, deque([(module, False, 0)]), []
        while queue:  # breadth first: an entry is first reached by its most direct chain
            m, via_init, depth = queue.popleft()
            ordered = self._ordered.get(m)
            if ordered is None:  # sorted once per module, not once per search reaching it
                ordered = self._ordered[m] = sorted(self.importers.get(m, ()))
            for imp in ordered:
                if imp in seen:
                    continue
                seen.add(imp)
                # indirect: through a package's `__init__`, or more than _DIRECT_DEPTH imports away
                through = via_init or self.files[imp].path.endswith("__init__.py") or depth + 1 > _DIRECT_DEPTH
                queue.append((imp, through, depth + 1))
                d = self.data[imp]
                if d.get("entry") or (d.get("runs") and not self.importers.get(imp) and not self._in_package(imp)):
                    out.append((imp, through))
        return out

    def _in_package(self, module: str) -> bool:
        """A module of a package (its ``__init__`` analysed): a library module, not a script."""
        parent = module.rpartition(".")[0]
        return bool(parent) and parent in self.data

    def verdict(self, module: str, framework: str | None, top_level: bool = False) -> Verdict:
        if self.covers(module, framework):
            return Verdict(True)
        if top_level:  # runs at import time, before any entry point's seed
            return Verdict(False)
        entries = self.entries(module)
        if not entries:
            return Verdict(False)
        unseeded = [(e, via_init) for e, via_init in entries if not self.covers(e, framework)]
        if not unseeded:
            return Verdict(True, has_entries=True)
        direct = next((e for e, via_init in unseeded if not via_init), None)
        if direct is None:  # only through re-exports: judged as a library module
            return Verdict(False)
        return Verdict(False, self.files[direct].path, has_entries=True)

_INDEXES: weakref.WeakKeyDictionary[Any, dict[str, list[tuple[FileFacts, Any]]]] = weakref.WeakKeyDictionary()


def facts_of_kind(project: ProjectView, kind: str) -> Iterable[tuple[FileFacts, Any]]:
    """The facts of ``kind``, in file order. The kinds of :data:`KINDS` come from an index
    made in one pass over the project's facts (once per project)."""
    if kind not in KINDS:
        return [(ff, fact) for ff in project.files() for fact in ff.facts if fact.kind == kind]
    try:
        index = _INDEXES.get(project)
    except TypeError:  # a project view that cannot be weakly referenced: no sharing
        index = None
    if index is None:
        index = {k: [] for k in KINDS}
        for ff in project.files():
            for fact in ff.facts:
                if fact.kind in KINDS:
                    index[fact.kind].append((ff, fact))
        try:
            _INDEXES[project] = index
        except TypeError:
            pass
    return index[kind]


def framework_of(qualified: str) -> str:
    head = qualified.split(".", 1)[0]
    return "tensorflow" if head in ("tensorflow", "keras", "tf_keras") else head
