"""What each file reads, writes, imports and runs: the facts the project graph is built from.

:class:`IoRecognizer` knows which calls read or write data (the ``data_io`` knowledge in
``rules/data-io.yaml``, plus the user's ``[tool.mldebt.data]`` readers and writers) and where
their location comes from (:mod:`mldebt.rules.locations`). :class:`IoFacts` is the shared
collector: it records, per file,

- ``io``: one fact per read or write (located at the call): ``op``, ``api``, the location's
  ``parts``, where it comes from (``external``: param, cli, env, config), ``anchored`` (built
  from ``__file__``), ``remote``/``hub``/``pinned`` for remote sources, ``function``;
- ``run``: one fact per call that runs a Python file or module (``subprocess``, ``os.system``,
  ``runpy``, a notebook's ``%run``): ``script`` or ``module``, ``via``;
- ``import``: the modules an import statement reads (relative imports resolved);
- ``main``: the ``if __name__ == "__main__":`` guard;
- ``stages``: a function with two or more read -> write stages in sequence, with its size
  and cyclomatic complexity (radon, on the function's own code);
- ``file``: module constants that hold locations, ``from`` imports (to follow a constant
  imported from another module), pipeline frameworks imported, ``.py`` names mentioned in a
  file that defines a pipeline with one of them, and whether the module does I/O at top level.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst
from radon.complexity import cc_visit
from radon.raw import analyze

from mldebt.rules.base import Collector, FileContext, Sink
from mldebt.rules.locations import (
    STAR,
    Choices,
    Client,
    Handle,
    Loc,
    LocationEvaluator,
    Namespace,
    concat,
    join_paths,
)
from mldebt.rules.names import dotted, import_base

_MODE_POSITION = {
    "builtins.open": 1, "io.open": 1, "codecs.open": 1, "gzip.open": 1, "bz2.open": 1,
    "lzma.open": 1, "tarfile.open": 1, "zipfile.ZipFile": 1, "fsspec.open": 1,
    "smart_open.open": 1, "tensorflow.io.gfile.GFile": 1, "tensorflow.io.gfile.GFile.open": 1,
    "h5py.File": 1,
}
_PY_STRING = re.compile(r"[\w./\\-]+\.py\b")
_MAIN_GUARD = re.compile(r"^if\s+\(?\s*__name__\s*==\s*['\"]__main__['\"]|^if\s+['\"]__main__['\"]\s*==\s*__name__",
                         re.M)
_RUN_NOTE = re.compile(r"# IPython magic: (%run|!python) (\S+)")
_PYTHON = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)?)?(?:\.exe)?$")


@dataclass(frozen=True, slots=True)
class IoEvent:
    op: str  # "read" or "write"
    api: str
    loc: Loc | None  # None: the location is not known statically
    node: cst.Call
    remote: bool = False
    hub: bool = False  # a hub dataset name, not a path
    pinned: bool = False  # a revision is pinned

    def data(self, function: str) -> dict[str, Any]:
        loc = self.loc or Loc((STAR,))
        return {
            "op": self.op, "api": self.api, "parts": [list(p) if isinstance(p, tuple) else p for p in loc.parts],
            "external": loc.external, "anchored": loc.anchored, "known": self.loc is not None,
            "remote": self.remote, "hub": self.hub, "pinned": self.pinned, "function": function,
        }


def _arg(call: cst.Call, position: int | str | None, keyword: str | None) -> cst.BaseExpression | None:
    if keyword:
        for a in call.args:
            if a.keyword is not None and a.keyword.value == keyword:
                return a.value
    if isinstance(position, str):
        for a in call.args:
            if a.keyword is not None and a.keyword.value == position:
                return a.value
        return None
    if position is None:
        return None
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[: position + 1]):
        return None
    return positional[position].value if position < len(positional) else None


def _mode(call: cst.Call, position: int) -> str | None:
    node = _arg(call, position, "mode")
    if node is None:
        return "r"
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _chain(node: cst.BaseExpression) -> list[str]:
    """Attribute names along a chain of attributes and calls, innermost first."""
    names: list[str] = []
    while True:
        if isinstance(node, cst.Attribute):
            names.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            break
    return names[::-1]


class IoRecognizer:
    """Recognises data reads, writes and program runs among a file's calls."""

    def __init__(self, ctx: FileContext, evaluator: LocationEvaluator, options: Mapping[str, Any]) -> None:
        kb = ctx.knowledge.get("data_io", {})
        self.names = ctx.names
        self.ev = evaluator
        self.calls: dict[str, tuple[str, int | str | None, str | None]] = {
            q: (v[0], v[1], v[2] if len(v) > 2 else None) for q, v in kb.get("calls", {}).items()
        }
        for key, op in (("readers", "read"), ("writers", "write")):
            for entry in options.get(key, ()) or ():
                q, pos, kw = entry
                self.calls[q] = (op, pos if pos is not None else (0 if kw is None else None), kw)
        self.fetches = {q: tuple(v) for q, v in kb.get("fetches", {}).items()}
        self.hub = {q: tuple(v) for q, v in kb.get("hub_datasets", {}).items()}
        self.local_builders = frozenset(kb.get("local_builders", ()))
        self.methods = {m: tuple(v) for m, v in kb.get("methods", {}).items()}
        self.path_methods = dict(kb.get("path_methods", {}))
        self.chains = {m: tuple(v) for m, v in kb.get("chains", {}).items()}
        self.write_chains = {m: tuple(v) for m, v in kb.get("write_chains", {}).items()}
        self.clients = {q: {m: tuple(v) for m, v in ms.items()} for q, ms in kb.get("clients", {}).items()}
        self.runners = dict(kb.get("runners", {}))
        self.bucket_methods = {m: tuple(v) for m, v in kb.get("bucket_methods", {}).items()}
        self._interesting = frozenset({
            *self.methods, *self.path_methods, *self.chains, *self.write_chains, *self.bucket_methods,
            *(m for ms in self.clients.values() for m in ms)})
        self.not_helpers = tuple(f"{r}." for r in kb.get("library_roots", ()))
        self.data_ext = tuple(kb.get("data_extensions", ()))

    # -- data -------------------------------------------------------------------------
    def events(self, call: cst.Call) -> list[IoEvent]:
        q = self.names.call_name(call)
        if q is not None:
            spec = self.calls.get(q)
            if spec is not None:
                op, pos, kw = spec
                if op == "open":
                    mode = _mode(call, _MODE_POSITION.get(q, 1))
                    if mode is None:
                        return []
                    op = "write" if any(c in mode for c in "wax") else "read"
                return self._event(op, q, call, _arg(call, pos, kw))
            spec = self.fetches.get(q)
            if spec is not None:
                ev = self._event(spec[0], q, call, _arg(call, spec[1], spec[2]), fetch=True)
                return ev
            spec = self.hub.get(q)
            if spec is not None:
                return self._hub(q, call)
            return []
        func = call.func
        if not isinstance(func, cst.Attribute):
            return []
        method = func.attr.value
        if method not in self._interesting:
            return []  # most method calls: no need to evaluate the receiver
        receiver = self.ev.value(func.value)
        if isinstance(receiver, Client):
            spec = self.clients.get(receiver.qualified, {}).get(method)
            if spec is None:
                return []
            return self._client(spec, f"{receiver.qualified}().{method}", call)
        if isinstance(receiver, Loc) and method in self.path_methods:
            op = self.path_methods[method]
            if op == "open":
                mode = _mode(call, 0)
                if mode is None:
                    return []
                op = "write" if any(c in mode for c in "wax") else "read"
            return [IoEvent(op, f"pathlib.Path.{method}", receiver, call)]
        bucket = self.bucket_methods.get(method)
        if bucket is not None and _arg(call, None, bucket[1]) is not None:
            return self._client(bucket, f".{method}", call)
        if method in self.methods and not isinstance(receiver, (Loc, Namespace, Handle)):
            op, pos, kw = self.methods[method]
            target = _arg(call, pos, kw)
            if target is None:
                return []
            return self._event(op, f".{method}", call, target)
        chain = _chain(func.value)
        for table in (self.chains, self.write_chains):
            spec = table.get(method)
            if spec is not None and spec[2] in chain and not self._module_chain(func.value):
                return self._event(spec[0], ".".join([*chain[chain.index(spec[2]):], method]), call,
                                   _arg(call, spec[1], None))
        return []

    def _module_chain(self, node: cst.BaseExpression) -> bool:
        """``pd.io.json.read...``: a chain rooted at an imported module is not Spark's reader."""
        while isinstance(node, (cst.Attribute, cst.Call)):
            node = node.value if isinstance(node, cst.Attribute) else node.func
        return isinstance(node, cst.Name) and node.value in self.names.aliases

    def _event(self, op: str, api: str, call: cst.Call, target: cst.BaseExpression | None,
               fetch: bool = False) -> list[IoEvent]:
        if target is None:
            return []
        if isinstance(target, cst.Call) and self.events(target):
            return []  # read_csv(open(p)): the open is the read
        value = self.ev.value(target)
        if isinstance(value, (Handle, Client)):
            return []
        if isinstance(value, Namespace):
            value = Loc((STAR,), value.kind)
        if isinstance(value, Choices):
            return [IoEvent(op, api, o, call) for o in value.options]
        loc = value if isinstance(value, Loc) else None
        remote = bool(loc and _remote(loc.pattern()))
        if fetch:
            text = loc.pattern().split("?", 1)[0].lower() if loc else ""
            if loc is None or not text.endswith(self.data_ext):
                return []
            remote = True
        return [IoEvent(op, api, loc, call, remote=remote)]

    def _hub(self, api: str, call: cst.Call) -> list[IoEvent]:
        name = _arg(call, 0, "path")
        loc = self.ev.loc(name) if name is not None else None
        if loc is None:
            return []
        text = loc.literal
        if text is not None and text in self.local_builders:
            out = []
            for kw in ("data_files", "data_dir"):
                node = _arg(call, None, kw)
                if node is None:
                    continue
                values = [e.value for e in node.elements] if isinstance(node, (cst.List, cst.Tuple)) else (
                    [e.value for e in node.elements if isinstance(e, cst.DictElement)]
                    if isinstance(node, cst.Dict) else [node])
                for v in values:
                    out.extend(self._event("read", api, call, v))
            return out
        if loc.external or text is None:
            return [IoEvent("read", api, loc, call)]
        if text.startswith((".", "/", "~")) or any(text.endswith(e) for e in self.data_ext):
            return [IoEvent("read", api, loc, call)]
        pinned = _arg(call, None, "revision") is not None
        return [IoEvent("read", api, Loc((f"hf://datasets/{text}",)), call, remote=True, hub=True, pinned=pinned)]

    def _client(self, spec: tuple, api: str, call: cst.Call) -> list[IoEvent]:
        op = spec[0]
        if len(spec) == 3:  # bucket, key
            bucket, key = (_arg(call, spec[1], None), _arg(call, spec[2], None))
            if bucket is None or key is None:
                return []
            b, k = self.ev.loc(bucket), self.ev.loc(key)
            if b is None or k is None:
                return [IoEvent(op, api, None, call, remote=True)]
            loc = Loc(("s3://",)) if not b.external else Loc((STAR,), b.external)
            joined = join_paths(concat(loc, b), k)
            return [IoEvent(op, api, joined, call, remote=True)]
        if op == "open":
            mode = _mode(call, 1)
            if mode is None:
                return []
            op = "write" if any(c in mode for c in "wax") else "read"
        events = self._event(op, api, call, _arg(call, spec[1], None))
        return [IoEvent(e.op, e.api, e.loc, e.node, remote=True) for e in events]

    # -- programs ---------------------------------------------------------------------
    def runs(self, call: cst.Call) -> list[tuple[str, str, str]]:
        """``(kind, target, via)``: kind "script" (a path pattern) or "module"."""
        q = self.names.call_name(call)
        via = self.runners.get(q or "")
        if via is None:
            return []
        first = _arg(call, 0, None)
        if first is None:
            return []
        if q == "runpy.run_path":
            loc = self.ev.loc(first)
            return [("script", loc.pattern(), via)] if loc is not None and loc.has_text() else []
        if q == "runpy.run_module":
            loc = self.ev.loc(first)
            return [("module", loc.literal, via)] if loc is not None and loc.literal else []
        if isinstance(first, (cst.List, cst.Tuple)):
            options: list[list[str]] = [[]]
            for e in first.elements:
                if not isinstance(e, cst.Element):
                    return []
                if self.names.qualified(e.value) == "sys.executable":
                    options = [o + ["python"] for o in options]
                    continue
                value = self.ev.value(e.value)
                if isinstance(value, Choices) and len(options) == 1:
                    options = [options[0] + [c.pattern()] for c in value.options]
                elif isinstance(value, Loc):
                    options = [o + [value.pattern()] for o in options]
                else:
                    options = [o + ["*"] for o in options]
            out = []
            for argv in options:
                out.extend(_python_target(argv, via))
            return out
        loc = self.ev.loc(first)
        if loc is None:
            return []
        try:
            argv = shlex.split(loc.pattern())
        except ValueError:
            argv = loc.pattern().split()
        out = []
        for segment in _segments(argv):
            out.extend(_python_target(segment, via))
        return out


def _segments(argv: list[str]) -> Iterator[list[str]]:
    current: list[str] = []
    for tok in argv:
        if tok in ("&&", ";", "||", "|"):
            yield current
            current = []
        else:
            current.append(tok)
    yield current


def _python_target(argv: list[str], via: str) -> list[tuple[str, str, str]]:
    i = 0
    while i < len(argv) and ("=" in argv[i] and not argv[i].startswith("-") or argv[i] in ("nohup", "time", "exec")):
        i += 1
    if i >= len(argv) or not _PYTHON.match(argv[i]):
        return []
    i += 1
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-m":
        i += 2 if argv[i] in ("-W", "-X") else 1
    if i >= len(argv):
        return []
    if argv[i] == "-m":
        return [("module", argv[i + 1], via)] if i + 1 < len(argv) else []
    if argv[i].endswith(".py"):
        return [("script", argv[i], via)]
    return []


_PATHISH = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString, cst.Name, cst.Attribute,
            cst.BinaryOperation, cst.Call)
def _remote(text: str) -> bool:
    return "://" in text and not text.startswith(_LOCAL_SCHEMES)


_LOCAL_SCHEMES = ("file://", "sqlite://", "duckdb://")


class TracksLocations:
    """Feeds a :class:`LocationEvaluator` (``self.ev``) as the engine walks a file.

    A rule mixes it in before its base class and sets ``self.ev`` and ``self.io`` with
    :meth:`start_tracking`; a rule that defines one of these methods itself calls ``super()``.
    """

    ev: LocationEvaluator
    io: IoRecognizer

    def start_tracking(self, ctx: FileContext, options: Mapping[str, Any]) -> None:
        self.ev = LocationEvaluator(ctx.names, ctx.path, ctx.knowledge)
        self.io = IoRecognizer(ctx, self.ev, options)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.ev.enter_class(node.name.value)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.ev.leave_class()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ev.enter_function(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.ev.leave_function()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.ev.enter_function(node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.ev.leave_function()

    def leave_Assign(self, node: cst.Assign) -> None:
        self.ev.assign([t.target for t in node.targets], node.value)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.ev.assign([node.target], node.value)

    def visit_For(self, node: cst.For) -> None:
        self.ev.bind_loop(node)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is None or not isinstance(node.asname.name, cst.Name):
            return
        item = node.item
        value = self.ev.value(item)
        if isinstance(item, cst.Call) and self.io.events(item):
            value = Handle()
        self.ev.bind(node.asname.name.value, value if isinstance(value, (Handle, Client, Namespace)) else None)


class IoFacts(TracksLocations, Collector):
    """The project graph's collector (see the module docstring). Reports nothing."""

    CODE = "facts:io"

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.start_tracking(ctx, options)
        kb = ctx.knowledge.get("data_io", {})
        self._frameworks = tuple(kb.get("pipeline_frameworks", ()))
        self._found_frameworks: set[str] = set()
        self._py_strings: set[str] = set()
        self._aliases: dict[str, str] = {}
        self._module_io = False
        self._main = False
        self._ops: list[list[str]] = []  # the read/write sequence of each enclosing function

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._ops.append([])

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        stages = count_stages(self._ops.pop())
        if stages < 2:
            return
        code = textwrap.dedent(self.ctx.code_for(node).strip("\n"))
        try:
            sloc = analyze(code).sloc
            blocks = cc_visit(code)
        except (SyntaxError, ValueError):
            return
        self.fact("stages", node.name, function=node.name.value, stages=stages, sloc=sloc,
                  complexity=blocks[0].complexity if blocks else 1)

    def visit_Call(self, node: cst.Call) -> None:
        function = self.ctx.scope
        events = self.io.events(node)
        if events and self._ops:
            self._ops[-1].extend(e.op for e in events)
        for event in events:
            self.fact("io", node, **event.data(function))
            if self.ctx.function is None:
                self._module_io = True
            self._note_wrapper(event)
        runs = self.io.runs(node)
        for kind, target, via in runs:
            self.fact("run", node, target_kind=kind, target=target, via=via)
        if not events and not runs:
            self._note_call(node)

    def _note_wrapper(self, event: IoEvent) -> None:
        """``def load_table(name): return pd.read_csv(f"data/{name}.csv")``: a helper that
        reads a location built from its parameter; its callers' arguments are the reads."""
        loc = event.loc
        fn = self.ctx.function
        if loc is None or not loc.parts or not isinstance(fn, cst.FunctionDef) or "." in self.ctx.scope:
            return
        at = [i for i, p in enumerate(loc.parts) if isinstance(p, tuple) and p[0] == "param"]
        if len(at) != 1:
            return
        name = loc.parts[at[0]][1]
        index = self.ev.own_parameter(name)
        if index is None:
            return

        def plain(parts: Sequence[Any]) -> list[Any]:
            return [list(p) if isinstance(p, tuple) else p for p in parts]

        self.fact("wrapper", event.node, function=self.ctx.scope, param=name, index=index, op=event.op,
                  api=event.api, prefix=plain(loc.parts[:at[0]]), rest=plain(loc.parts[at[0] + 1:]))

    def _note_call(self, node: cst.Call) -> None:
        """A call passing a literal (a file name, a table name) to a function of the project:
        maybe such a helper."""
        func = node.func
        if isinstance(func, cst.Name) and func.value in self.ctx.names.local_defs:
            callee: str | None = f"{self.ctx.module}.{func.value}"
        else:
            callee = self.ctx.names.qualified(func)
        if callee is None or callee.startswith(self.io.not_helpers):
            return
        args = []
        for i, a in enumerate(node.args):
            if a.star or not isinstance(a.value, _PATHISH):
                continue
            loc = self.ev.loc(a.value)
            if loc is None or loc.external or not loc.has_text():
                continue
            where: int | str = a.keyword.value if a.keyword is not None else i
            args.append([where, [list(p) if isinstance(p, tuple) else p for p in loc.parts], loc.anchored])
        if args:
            self.fact("call", node, callee=callee, args=args, function=self.ctx.scope)

    def visit_If(self, node: cst.If) -> None:
        if self.ctx.function is None and _is_main_guard(node.test):
            self._main = True

    def visit_Import(self, node: cst.Import) -> None:
        mods = [d for a in node.names if (d := dotted(a.name)) is not None]  # type: ignore[arg-type]
        self._note_frameworks(mods)
        if mods:
            self.fact("import", None, modules=mods)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = import_base(self.ctx.module, self.ctx.names.is_package, node)
        if base is None:
            return
        mods = [base]
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name)
                if name is None:
                    continue
                mods.append(f"{base}.{name}" if base else name)
                local = alias.asname.name.value if (alias.asname is not None and isinstance(
                    alias.asname.name, cst.Name)) else name
                self._aliases[local] = f"{base}.{name}" if base else name
        self._note_frameworks(mods)
        self.fact("import", None, modules=mods)

    def _note_frameworks(self, mods: Sequence[str]) -> None:
        for m in mods:
            for fw in self._frameworks:
                if m == fw or m.startswith(fw + "."):
                    self._found_frameworks.add(fw)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if ".py" in node.value:
            self._py_strings.update(_PY_STRING.findall(node.value))

    def finish(self) -> None:
        if self._main:  # its line, without locating a statement (that needs code generation)
            m = _MAIN_GUARD.search(self.ctx.source)
            self.fact("main", None, line=self.ctx.source.count("\n", 0, m.start()) + 1 if m else 1)
        if self.ctx.path.endswith(".ipynb"):
            for m in _RUN_NOTE.finditer(self.ctx.source):
                line = self.ctx.source.count("\n", 0, m.start()) + 1
                self.fact("run", None, target_kind="script", target=m.group(2), via=m.group(1), line=line)
        constants = {}
        for name, value in self.ev.module_bindings.items():
            if isinstance(value, Loc) and (value.parts != (STAR,) or value.external):
                constants[name] = {"parts": [list(p) if isinstance(p, tuple) else p for p in value.parts],
                                   "anchored": value.anchored, "external": value.external}
        self.fact("file", None, constants=constants, aliases=self._aliases,
                  frameworks=sorted(self._found_frameworks),
                  mentions=sorted(self._py_strings) if self._found_frameworks else [],
                  module_io=self._module_io, notebook=self.ctx.path.endswith(".ipynb"))


def count_stages(ops: Sequence[str]) -> int:
    """Read -> write stages in a sequence of operations: writes preceded by a read since the
    previous stage."""
    stages, read = 0, False
    for op in ops:
        if op == "read":
            read = True
        elif read:
            stages += 1
            read = False
    return stages


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    left, right = test.left, test.comparisons[0].comparator
    names = {n.value for n in (left, right) if isinstance(n, cst.Name)}
    strings = {n.evaluated_value for n in (left, right) if isinstance(n, cst.SimpleString)}
    return names == {"__name__"} and strings == {"__main__"}
