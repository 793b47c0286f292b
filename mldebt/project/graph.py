"""The project graph: modules, steps, data artifacts, who reads and writes what, who runs whom.

Built once per scan from the facts the file phase returned (the ``facts:io`` collector,
:mod:`mldebt.rules.io_facts`) and the declarations read from the repository's non-Python
files (:mod:`mldebt.project.declarations`); nothing is parsed again. It answers the
questions the cross-file rules ask:

- where each read and write goes: a location *key* (root-relative path, URL, or a pattern
  with ``*`` for parts unknown statically), with module constants followed across imports;
- which reads are *undeclared* (a literal location buried in code that no ``dvc.yaml``,
  Kedro catalog, Makefile, config file or ``[tool.mldebt.data]`` declares), which of those are
  *unstable* (remote, absolute, home, temporary, "latest") and which read another step's
  output (an undeclared consumer);
- which groups of steps form a *pipeline jungle*: chains of three or more steps handing files
  to each other, cycles, a script running other scripts through ``subprocess``, numbered
  scripts, when no declared pipeline covers them.

:meth:`PipelineGraph.to_networkx` gives the graph in the schema of
:mod:`mldebt.project.export` (``mldebt graph``).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mldebt.model import Fact, Location

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from mldebt.project import Project
    from mldebt.project.declarations import Declarations

COLLECTOR = "facts:io"
_NUMBERED = re.compile(r"^(?:(\d{1,3})[_\-.]|(?:step|stage|part|phase)[_\-]?(\d{1,3})(?:[_\-.]|$))", re.IGNORECASE)
_WORDS = re.compile(r"[A-Za-z]+")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_LOCAL_URL = re.compile(r"^(?:file|sqlite|duckdb)://(?=/)/?")  # the file of a local URL
_IN_MEMORY = frozenset({":memory:", "sqlite://", "sqlite:///:memory:", "duckdb:///:memory:"})


@dataclass(frozen=True, slots=True)
class IoRecord:
    path: str  # the file doing the read or write
    op: str  # "read" or "write"
    api: str
    key: str | None  # None: the location is unknown
    external: str  # "param", "cli", "env", "config" or ""
    remote: bool
    hub: bool
    pinned: bool
    anchored: bool
    function: str
    location: Location

    @property
    def line(self) -> int:
        return self.location.line


@dataclass(frozen=True, slots=True)
class RunRecord:
    path: str  # the file that runs
    target: str  # the root-relative .py file it runs
    via: str
    location: Location | None
    line: int


@dataclass(frozen=True, slots=True)
class ReadVerdict:
    read: IoRecord
    kind: str  # "unstable", "consumer" or "undeclared"
    reasons: tuple[str, ...] = ()
    producers: tuple[IoRecord, ...] = ()


@dataclass
class Jungle:
    entry: str  # the file the finding is anchored in
    anchor: Location
    steps: list[str]
    chain: list[str]  # file, artifact key, file, ... along the longest hand-off chain
    cycle: list[str] = field(default_factory=list)
    drivers: dict[str, list[str]] = field(default_factory=dict)  # runner -> scripts it runs
    numbered: list[str] = field(default_factory=list)
    fan_in: dict[str, int] = field(default_factory=dict)  # step -> intermediates it joins


def _fake_location(line: int, text: str) -> Location:
    return Location(line=line, column=1, end_line=line, end_column=1, anchor_line=line,
                    scope="<module>", snippet=text)


class PipelineGraph:
    def __init__(self, project: Project, declarations: Declarations, knowledge: Mapping[str, Any]) -> None:
        self.project = project
        self.decl = declarations
        kb = knowledge.get("data_io", {})
        self._non_data_ext = tuple(kb.get("non_data_extensions", ()))
        self._non_data_names = frozenset(kb.get("non_data_names", ()))
        self._unstable_words = frozenset(kb.get("unstable_words", ()))
        self._unstable_url_words = frozenset(kb.get("unstable_url_words", ()))
        self._system = tuple(kb.get("system_prefixes", ()))
        self._files: dict[str, Any] = {}  # path -> "file" fact data
        self._main: dict[str, Location] = {}
        self._imports: list[tuple[str, str, int]] = []
        self.reads: list[IoRecord] = []
        self.writes: list[IoRecord] = []
        self.runs: list[RunRecord] = []
        self._modules: dict[str, str] = {}
        self._wrappers: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self._served: set[tuple[str, int]] = set()  # helpers' own reads that their callers report
        self._python = {f.path for f in project.files()}
        self._code_dirs = {posixpath.dirname(p) for p in self._python if p.endswith(".py")}
        self._build()
        self._verdicts: list[ReadVerdict] | None = None
        self._jungles: list[Jungle] | None = None

    # -- building ---------------------------------------------------------------------
    def _build(self) -> None:
        io_facts: list[tuple[str, str, Fact]] = []
        for ff in self.project.files():
            if ff.is_test:
                continue
            self._modules[ff.module] = ff.path
            for fact in ff.facts:
                if fact.rule != COLLECTOR:
                    continue
                if fact.kind == "file":
                    self._files[ff.path] = fact.data
                elif fact.kind == "main":
                    line = int(fact.data.get("line", 1))
                    self._main[ff.path] = _fake_location(line, 'if __name__ == "__main__":')
                elif fact.kind == "import":
                    for m in fact.data["modules"]:
                        self._imports.append((ff.path, m, 0))
                elif fact.kind in ("io", "run", "call"):
                    io_facts.append((ff.path, ff.module, fact))
                elif fact.kind == "wrapper" and fact.location is not None:
                    self._wrappers[f"{ff.module}.{fact.data['function']}"].append(
                        {**fact.data, "path": ff.path, "line": fact.location.line})
        for path, module, fact in io_facts:
            if fact.kind == "io" and fact.location is not None:
                d = fact.data
                key, anchored = self._key(path, d["parts"], d["anchored"]) if d["known"] else (None, False)
                external = d["external"] or self._external(d["parts"])
                rec = IoRecord(path, d["op"], d["api"], key, external, d["remote"], d["hub"],
                               d["pinned"], anchored, d["function"], fact.location)
                (self.reads if d["op"] == "read" else self.writes).append(rec)
            elif fact.kind == "call" and fact.location is not None:
                self._wrapped_reads(path, module, fact)
            elif fact.kind == "run":
                target = self._run_target(path, fact.data)
                if target is not None:
                    line = fact.location.line if fact.location else int(fact.data.get("line", 1))
                    self.runs.append(RunRecord(path, target, fact.data["via"], fact.location, line))
        for run in self.decl.runs:
            target = run.script if run.script in self._python else None
            if target is not None:
                self.runs.append(RunRecord(run.source, target, run.via, None, run.line))
        self._run_targets = {r.target for r in self.runs}
        self._console = {e.path for e in self.decl.entry_points if e.path}

    def _wrapped_reads(self, path: str, module: str, fact: Fact) -> None:
        """A call of a helper that reads or writes the location it is given."""
        assert fact.location is not None
        name = self._function(fact.data["callee"])
        for w in self._wrappers.get(name or "", ()):
            for where, parts, anchored in fact.data["args"]:
                if where != w["index"] and where != w["param"]:
                    continue
                whole = [*w["prefix"], *parts, *w["rest"]]
                key, anchored = self._key(path, whole, anchored)
                rec = IoRecord(path, w["op"], name or "", key, self._external(w["prefix"] or parts), False, False,
                               False, anchored, fact.data["function"], fact.location)
                (self.reads if w["op"] == "read" else self.writes).append(rec)
                self._served.add((w["path"], w["line"]))

    def _function(self, qualified: str, depth: int = 0) -> str | None:
        """A function's defining ``module.name``, following re-exports."""
        if qualified in self._wrappers or depth > 8:
            return qualified
        mod, _, name = qualified.rpartition(".")
        data = self._files.get(self._modules.get(mod, ""))
        if data is None:
            return None
        alias = data["aliases"].get(name)
        return self._function(alias, depth + 1) if alias and alias != qualified else None

    def _resolve(self, parts: Sequence[Any], depth: int = 0) -> tuple[list[str], bool, str]:
        """Parts with references to module constants replaced: (parts, anchored, external).

        The location is external (configurable) when its head is: a constant read from the
        environment (``DATA_DIR = Path(os.getenv("DATA", "data"))``) heads it."""
        out: list[str] = []
        anchored = False
        external = ""
        for i, p in enumerate(parts):
            if isinstance(p, str):
                out.append(p)
            elif p[0] == "ref" and depth < 8:
                const = self._constant(p[1], depth)
                if const is None:
                    out.append("*")
                else:
                    text, anch, ext = const
                    out.append(text)
                    anchored = anchored or anch
                    if i == 0:
                        external = ext
            else:
                out.append("*")
        return out, anchored, external

    def _constant(self, qualified: str, depth: int) -> tuple[str, bool, str] | None:
        parts = qualified.split(".")
        for i in range(len(parts) - 1, 0, -1):  # `pkg.config.CFG.train`: module pkg.config
            mod, name = ".".join(parts[:i]), ".".join(parts[i:])
            path = self._modules.get(mod)
            if path is not None:
                break
        else:
            return None
        data = self._files.get(path)
        if data is None:
            return None
        const = data["constants"].get(name)
        if const is not None:
            parts, anch, ext = self._resolve(const["parts"], depth + 1)
            return "".join(parts), anch or const["anchored"], const.get("external") or ext
        alias = data["aliases"].get(name)
        if alias is not None and alias != qualified:
            return self._constant(alias, depth + 1)
        return None

    def _external(self, parts: Sequence[Any]) -> str:
        return self._resolve(parts)[2] if parts else ""

    def _key(self, path: str, parts: Sequence[Any], anchored: bool) -> tuple[str | None, bool]:
        """The location key of ``parts`` read or written in ``path``, and whether it is
        anchored to the project (built from ``__file__``)."""
        resolved, anch, _ = self._resolve(parts)
        anchored = anchored or anch
        text = _LOCAL_URL.sub("", "".join(resolved).replace("\\", "/"))  # sqlite:///data/x.db
        if not text or text == "*":
            return None, anchored
        if "://" in text or text.startswith(("~", "/", "*")) or _DRIVE.match(text):
            return re.sub(r"\*+", "*", text), anchored
        if anchored:
            base = ""
        elif path.endswith(".ipynb") or text.startswith("../"):
            base = posixpath.dirname(path)  # a notebook runs in its folder
        else:
            base = ""
        key = posixpath.normpath(posixpath.join(base, text))
        key = re.sub(r"\*+", "*", key)
        return (None if key in (".", "*") else key), anchored

    def _run_target(self, path: str, data: Mapping[str, Any]) -> str | None:
        if data["target_kind"] == "module":
            return self._modules.get(data["target"]) or self._modules.get(f"{data['target']}.__main__")
        target = str(data["target"]).replace("\\", "/")
        candidates = [posixpath.normpath(target), posixpath.normpath(posixpath.join(posixpath.dirname(path), target))]
        for c in candidates:
            if "*" in c:
                hits = sorted(p for p in self._python if fnmatch.fnmatchcase(p, c))
                if len(hits) == 1:
                    return hits[0]
            elif c in self._python:
                return c
        return None

    # -- classification ---------------------------------------------------------------
    def is_data(self, key: str) -> bool:
        """Not code, configuration, documentation, the machine (``/proc``), or a tool's own
        folder in the home directory (``~/.cache/...``, ``~/.kaggle/kaggle.json``)."""
        if key.startswith(self._system) or key.startswith("~/.") or key in _IN_MEMORY:
            return False
        name = key.rsplit("/", 1)[-1].split("?", 1)[0]
        if name in self._non_data_names or name.lower().startswith(("requirements", "readme", "license")):
            return False
        return not name.lower().endswith(self._non_data_ext)

    def is_resource(self, rec: IoRecord) -> bool:
        """A file shipped with the code: built from ``__file__`` inside a folder of code."""
        if not rec.anchored or rec.key is None:
            return False
        folder = posixpath.dirname(rec.key)
        while folder:
            if folder in self._code_dirs:
                return True
            folder = posixpath.dirname(folder)
        return False

    def is_step(self, path: str) -> bool:
        """Code that runs as a step (a script, a notebook, top-level I/O, run by another),
        as opposed to a library module that only defines functions."""
        data = self._files.get(path, {})
        return (path in self._main or path.endswith(".ipynb") or bool(data.get("module_io"))
                or path in self._run_targets or path in self._console)

    def unstable(self, rec: IoRecord) -> tuple[str, ...]:
        """Why a read's location can change under the code. A remote location counts in a
        step (read at training time); in a library module only when it names a moving target
        (a branch head, "latest"): a library downloading a released file is its feature."""
        key = rec.key or ""
        reasons = []
        remote = rec.remote or "://" in key
        if rec.hub:
            if not rec.pinned and self.is_step(rec.path):
                reasons.append("a hub dataset without a pinned revision")
        elif remote:
            words = {w.lower() for w in _WORDS.findall(key.split("://", 1)[-1])}
            branch = sorted(words & self._unstable_url_words)
            if branch:
                reasons.append(f"a remote location at a moving branch ('{branch[0]}')")
            elif self.is_step(rec.path):
                reasons.append("a remote location")
        if key.startswith("~"):
            reasons.append("a home-directory path")
        elif (key.startswith("/") or _DRIVE.match(key)) and not rec.anchored:
            reasons.append("an absolute path")
        words = {w.lower() for w in _WORDS.findall(key.split("://", 1)[-1])}
        moving = sorted(words & self._unstable_words)
        if remote and not reasons:
            return ()
        if moving:
            reasons.append(f"a moving target ('{moving[0]}')")
        return tuple(reasons)

    def declared(self, key: str) -> Any:
        return self.decl.declaring(key)

    def buried(self, rec: IoRecord) -> bool:
        """A location written into the code: literals or constants of literals, headed by a
        literal (``os.path.join(unknown, "meta.pt")`` could be anywhere: not buried)."""
        if rec.external or rec.key is None or rec.key.startswith("*"):
            return False
        return any(ch.isalnum() for ch in rec.key.replace("*", ""))

    def verdicts(self) -> list[ReadVerdict]:
        """Every undeclared read, once, with its kind."""
        if self._verdicts is not None:
            return self._verdicts
        out = []
        for r in self.reads:
            if not self.buried(r) or r.key is None or not self.is_data(r.key) or self.is_resource(r):
                continue
            if (r.path, r.line) in self._served:
                continue  # a helper reading under a literal folder: its calls are the reads
            if self.declared(r.key) is not None:
                continue
            if any(w.path == r.path and w.function == r.function and w.key and keys_match(w.key, r.key)
                   for w in self.writes):
                continue  # the function makes it itself: a cache or a download, not a dependency
            reasons = self.unstable(r)
            if not reasons and (r.remote or r.hub or "://" in r.key):
                continue  # a library fetching a released file: its feature, not a buried dependency
            producers = tuple(w for w in self.writes
                              if w.path != r.path and self.buried(w) and keys_match(w.key or "", r.key))
            if reasons:
                out.append(ReadVerdict(r, "unstable", reasons, producers))
            elif producers:
                out.append(ReadVerdict(r, "consumer", (), producers))
            else:
                out.append(ReadVerdict(r, "undeclared"))
        self._verdicts = out
        return out

    # -- jungles ----------------------------------------------------------------------
    def staged(self) -> frozenset[str]:
        """Python files a declared pipeline runs (dvc, make, MLproject, or a framework's DAG)."""
        staged = set(self.decl.staged_scripts())
        for path, data in self._files.items():
            for mention in data.get("mentions", ()):
                for cand in (posixpath.normpath(mention), posixpath.normpath(posixpath.join(posixpath.dirname(path), mention))):
                    if cand in self._python:
                        staged.add(cand)
            if data.get("frameworks"):
                staged.add(path)
        return frozenset(staged)

    def handoffs(self) -> list[tuple[IoRecord, IoRecord]]:
        """(write, read) pairs in different files through an undeclared artifact."""
        by_name: dict[str, list[IoRecord]] = defaultdict(list)
        wild: list[IoRecord] = []
        for w in self.writes:
            if w.key is None or not self.buried(w):
                continue
            name = w.key.rsplit("/", 1)[-1]
            (wild if "*" in name else by_name[name]).append(w)
        out = []
        for r in self.reads:
            if r.key is None or not self.buried(r):
                continue
            name = r.key.rsplit("/", 1)[-1]
            cands = wild + (by_name.get(name, []) if "*" not in name else [w for ws in by_name.values() for w in ws])
            for w in cands:
                if w.path != r.path and keys_match(w.key or "", r.key) and self.declared(r.key) is None:
                    out.append((w, r))
        return out

    def jungles(self, min_chain: int = 3, min_numbered: int = 3, min_fan_in: int = 3) -> list[Jungle]:
        if self._jungles is not None:
            return self._jungles
        staged = self.staged()
        handoffs = [(w, r) for w, r in self.handoffs() if not (w.path in staged and r.path in staged)]
        runs: dict[str, list[RunRecord]] = defaultdict(list)
        for run in self.runs:
            if run.via in ("make", "dvc", "mlproject") or run.target in staged or run.target == run.path:
                continue
            runs[run.path].append(run)
        groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for p in self._python:
            if p in staged or not p.endswith((".py", ".ipynb")):
                continue
            m = _NUMBERED.match(posixpath.basename(p))
            if m is not None:
                groups[posixpath.dirname(p)].append((int(m.group(1) or m.group(2)), p))
        if not handoffs and not runs and not any(len({n for n, _ in items}) >= min_numbered
                                                 for items in groups.values()):
            self._jungles = []  # nothing links two steps (and networkx, slow to import, is not needed)
            return self._jungles
        import networkx as nx

        flow = nx.DiGraph()
        first_write: dict[tuple[str, str], IoRecord] = {}
        for w, r in handoffs:
            data = flow.get_edge_data(w.path, r.path)
            if data is None:
                flow.add_edge(w.path, r.path, keys=[r.key])
            elif r.key not in data["keys"]:
                data["keys"].append(r.key)
            k = (w.path, r.path)
            if k not in first_write or w.line < first_write[k].line:
                first_write[k] = w
        links = nx.Graph()
        links.add_edges_from(flow.edges())
        drivers = {}
        for path, rs in runs.items():
            targets = sorted({r.target for r in rs})
            shell = path not in self._python
            if len(targets) >= (3 if shell else 2) or (shell and len(targets) >= 2 and any(
                    flow.has_edge(a, b) for a in targets for b in targets)):
                drivers[path] = targets
                for t in targets:
                    links.add_edge(path, t)
        numbered_of: dict[str, list[str]] = {}
        for folder, items in groups.items():
            if len({n for n, _ in items}) >= min_numbered:
                ordered = [p for _, p in sorted(items)]
                for a, b in zip(ordered, ordered[1:]):
                    links.add_edge(a, b)
                for p in ordered:
                    numbered_of[p] = ordered
        found = []
        for comp in nx.connected_components(links):
            sub = flow.subgraph(comp)
            cycle: list[str] = []
            try:
                cyc = nx.find_cycle(sub)
                cycle = [u for u, _ in cyc]
            except nx.NetworkXNoCycle:
                pass
            chain = _longest_chain(sub)
            comp_drivers = {d: t for d, t in drivers.items() if d in comp}
            numbered = sorted({p for p in comp if p in numbered_of}, key=lambda p: numbered_of[p].index(p))
            fan_in = {n: len({k for _, _, d in sub.in_edges(n, data=True) for k in d["keys"]})
                      for n in sub.nodes if sub.in_degree(n) >= 2}
            joins = {n: k for n, k in fan_in.items() if k >= min_fan_in}
            if not (len(chain) >= min_chain or cycle or comp_drivers or len(numbered) >= min_numbered or joins):
                continue
            steps = sorted(p for p in comp if p in self._python)
            anchor_path, anchor = self._anchor(sub, chain, comp_drivers, numbered, first_write)
            if anchor is None:
                continue
            chain_text: list[str] = []
            for a, b in zip(chain, chain[1:]):
                if not chain_text:
                    chain_text.append(a)
                chain_text += [sorted(flow[a][b]["keys"])[0], b]
            found.append(Jungle(anchor_path, anchor, steps, chain_text or chain, cycle, comp_drivers,
                                numbered, joins))
        found.sort(key=lambda j: (j.entry, j.anchor.line))
        self._jungles = found
        return found

    def _anchor(self, flow: nx.DiGraph, chain: list[str], drivers: Mapping[str, list[str]],
                numbered: list[str], first_write: Mapping[tuple[str, str], IoRecord]) -> tuple[str, Location | None]:
        py_drivers = sorted(d for d in drivers if d in self._python)
        if py_drivers:
            run_by_others = {r.target for r in self.runs}
            driver = next((d for d in py_drivers if d not in run_by_others), py_drivers[0])
            first = min((r for r in self.runs if r.path == driver and r.target in drivers[driver]),
                        key=lambda r: r.line)
            return driver, first.location or _fake_location(first.line, f"runs {first.target}")
        if chain:
            entry = chain[0]
            writes = [first_write[(entry, b)] for b in flow.successors(entry) if (entry, b) in first_write]
            if writes:
                w = min(writes, key=lambda x: x.line)
                return entry, w.location
        if not numbered and drivers:  # a shell script runs the steps: the first one it runs
            runner = sorted(drivers)[0]
            first_run = min((r for r in self.runs if r.path == runner and r.target in self._python),
                            key=lambda r: r.line)
            numbered = [first_run.target]
        if numbered:
            entry = numbered[0]
            outs = [first_write[k] for k in first_write if k[0] == entry]
            if outs:
                w = min(outs, key=lambda x: x.line)
                return entry, w.location
            if entry in self._main:
                return entry, self._main[entry]
            return entry, _fake_location(1, f"pipeline step {entry}")
        return "", None

    # -- export -----------------------------------------------------------------------
    def to_networkx(self, root_name: str = "") -> nx.MultiDiGraph:
        import networkx as nx

        g = nx.MultiDiGraph(root=root_name)
        staged = self.staged()
        undeclared = {(v.read.path, v.read.line) for v in self.verdicts()}
        for path in sorted(self._python):
            entry = path in self._main or path.endswith(".ipynb") or path in self._console
            kind = "step" if self.is_step(path) else "module"
            line = self._main[path].line if path in self._main else 0
            g.add_node(path, kind=kind, label=path, line=line, declared=path in staged, entry=entry)
        for stage in self.decl.stages:
            if stage.source not in g:
                g.add_node(stage.source, kind="runner", label=stage.source, declared=True)
        for run in self.runs:
            if run.path not in g:
                g.add_node(run.path, kind="runner", label=run.path, declared=run.via in ("make", "dvc", "mlproject"))
            g.add_edge(run.path, run.target, kind="runs", line=run.line, via=run.via)
        for stage in self.decl.stages:
            for script in stage.scripts:
                if script in g:
                    g.add_edge(stage.source, script, kind="runs", line=stage.line, via=stage.kind)
        by_key: dict[str, list[IoRecord]] = defaultdict(list)
        for rec in [*self.reads, *self.writes]:
            if rec.key is not None:
                by_key[rec.key].append(rec)
        for rec in [*self.reads, *self.writes]:
            if rec.key is None:
                continue
            node = "data:" + rec.key
            if node not in g:
                decl = self.declared(rec.key)
                reasons = self.unstable(rec)
                # declared by a file, or configurable: no read or write of it writes its location into code
                configurable = not any(self.buried(r) for r in by_key.get(rec.key, ()))
                g.add_node(node, kind="artifact", label=rec.key, declared=decl is not None or configurable,
                           remote="://" in rec.key, unstable=", ".join(reasons),
                           declared_by=f"{decl.source}:{decl.line}" if decl is not None else "")
            if rec.op == "read":
                g.add_edge(node, rec.path, kind="reads", line=rec.line, api=rec.api,
                           declared=(rec.path, rec.line) not in undeclared)
            else:
                g.add_edge(rec.path, node, kind="writes", line=rec.line, api=rec.api)
        for src, mod, line in self._imports:
            target = self._modules.get(mod)
            if target is not None and target != src:
                g.add_edge(src, target, kind="imports", line=line)
        g.graph["jungles"] = [{"entry": j.entry, "chain": [c if c in g else "data:" + c for c in j.chain],
                               "cycle": bool(j.cycle)} for j in self.jungles()]
        return g


def keys_match(a: str, b: str) -> bool:
    """Two location keys (patterns with ``*``) can name the same file."""
    if a == b:
        return True
    if "*" not in a and "*" not in b:
        return False
    return fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)


def _longest_chain(flow: nx.DiGraph) -> list[str]:
    """The longest path of hand-offs; a cycle is broken at the edges that close it."""
    if flow.number_of_nodes() == 0:
        return []
    import networkx as nx

    dag = nx.DiGraph(flow)
    # each round removes an edge: at most as many rounds as edges (a cap of 100 left cycles in
    # a big tree of copied pipelines, and the topological sort below raised)
    for _ in range(dag.number_of_edges()):
        try:
            u, v = nx.find_cycle(dag)[-1][:2]
        except nx.NetworkXNoCycle:
            break
        dag.remove_edge(u, v)
    # longest path starting at each node; ties go to the first path name, so the chain (and
    # the entry it anchors at) does not depend on the order facts arrived in
    best: dict[str, tuple[int, str | None]] = {}
    for node in reversed(list(nx.lexicographical_topological_sort(dag))):
        succ = sorted(dag.successors(node), key=lambda n: (-best[n][0], n))
        best[node] = (1 + best[succ[0]][0], succ[0]) if succ else (1, None)
    start = min(best, key=lambda n: (-best[n][0], n))
    chain = [start]
    while best[chain[-1]][1] is not None:
        chain.append(best[chain[-1]][1])  # type: ignore[arg-type]
    return chain
