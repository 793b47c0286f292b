"""Which configuration each file loads and which of its keys the code reads.

:class:`ConfigKeyFacts` is the collector the config-key rules share. Per file it records

- ``load``: a configuration loaded from a file the scan can name statically:
  ``yaml.safe_load(open("config.yaml"))``, ``with open(p) as f: cfg = yaml.safe_load(f)``,
  ``json.load``, ``toml``/``tomllib``, ``OmegaConf.load(Path(__file__).parent / "x.yaml")``,
  ``@hydra.main(config_path=..., config_name=...)`` (its function's first parameter is the
  config) and ``hydra.compose`` under ``hydra.initialize(config_path=...)``; also calls of
  functions named like loaders (``load_params()``: ``loader="call"``, resolved in the project
  phase when that function returns a load) and loads from a parameter's default path
  (``via_default``);
- ``read``: a key path read on such a config or on a name it flows to (``cfg.model.lr``,
  ``cfg["train"]["epochs"]``, ``t = cfg["train"]; t["lr"]``, ``cfg.get("k", 3)``), located at
  the read. ``whole`` means the value at the path is used as it is (passed to a call,
  ``**``-unpacked, iterated, returned, stored): when the path is a section, it escapes.
  ``target`` is ``config`` (a load), ``param`` (a parameter named like a config) or ``args``
  (parsed command-line options);
- ``option``: an ``argparse`` ``add_argument`` with its ``dest``;
- ``file``: the function definitions (their parameter names), the string literals and the
  attribute names read on config-like objects, what makes the command line dynamic.

Reads are tracked through simple assignments in source order, per function.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mldebt.rules.base import Collector, FileContext, Sink
from mldebt.rules.io_facts import TracksLocations

CONFIG = "config"
PARAM = "param"
ARGS = "args"

_PARSER_MAKERS = frozenset({"add_argument_group", "add_mutually_exclusive_group", "add_parser"})
_PARSE = frozenset({"parse_args", "parse_known_args", "parse_intermixed_args"})
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Ref:
    """A value that is (part of) a configuration: which one, and the key path to it."""

    target: str  # CONFIG, PARAM or ARGS
    load: int  # index of the load in this file (CONFIG), else -1
    path: tuple[str, ...] = ()

    def child(self, key: str) -> Ref:
        return Ref(self.target, self.load, (*self.path, key))


def _string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        v = node.evaluated_value
        return v if isinstance(v, str) else None
    return None


def _text(node: cst.BaseExpression) -> str:
    """The literal text of a help string: plain, implicitly concatenated, an f-string's
    literal parts, or the format of ``"..." % x`` / ``"...".format(x)``."""
    if isinstance(node, cst.SimpleString):
        v = node.evaluated_value
        return v if isinstance(v, str) else ""
    if isinstance(node, cst.ConcatenatedString):
        return _text(node.left) + _text(node.right)
    if isinstance(node, cst.FormattedString):
        return "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Modulo, cst.Add)):
        return _text(node.left) + " " + _text(node.right)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        return _text(node.func.value)
    return ""


def _kwarg(call: cst.Call, name: str) -> cst.Arg | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def _positional(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def _last(call: cst.Call) -> str:
    f = call.func
    if isinstance(f, cst.Attribute):
        return f.attr.value
    if isinstance(f, cst.Name):
        return f.value
    return ""


class ConfigKeyFacts(TracksLocations, Collector):
    """The config-key rules' collector (see the module docstring). Reports nothing."""

    CODE = "facts:config_keys"

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.start_tracking(ctx, options)
        self._config_names = frozenset(ctx.knowledge.get("data_io", {}).get("config_names", ()))
        kb = ctx.knowledge.get("config_keys", {})
        self._file_loaders = frozenset(kb.get("file_loaders", ()))
        self._path_loaders = frozenset(kb.get("path_loaders", ()))
        self._openers = frozenset(kb.get("openers", ()))
        self._methods = frozenset(kb.get("methods", ()))
        self._mutators = frozenset(kb.get("mutators", ()))
        self._converters = frozenset(kb.get("converters", ()))
        self._display = frozenset(kb.get("display_calls", ()))
        self._loader_name = re.compile(kb.get("loader_function_names", "(?!)"), re.IGNORECASE)
        ignored = "|".join(f"(?:{p})" for p in kb.get("ignored_option_help", ()))
        self._ignored_help = re.compile(ignored or "(?!)", re.IGNORECASE)
        self._frames: list[dict[str, Ref | None]] = [{}]
        self._classes: list[dict[str, Ref | None]] = []
        self._handles: list[dict[str, str]] = [{}]  # `with open(p) as f`: f -> p's literal
        self._loads = 0
        self._load_of: dict[int, int] = {}  # id(loader call) -> load index
        self._seen: set[int] = set()  # calls already looked at as loaders
        self._inner: set[int] = set()  # nodes that are part of a longer chain
        self._skip: set[int] = set()  # Name nodes that are not uses (keywords, targets)
        self._receivers: set[int] = set()  # values of attributes (`parser` in `parser.add_argument`)
        self._targets: set[int] = set()
        self._bound: set[int] = set()  # right-hand sides of simple bindings
        self._args: dict[int, tuple[str, Any]] = {}  # id(argument value) -> (callee, position)
        self._try = 0
        self._hydra_dir: str | None = None
        self._parsers: set[str] = set()
        self._option_strings: set[int] = set()
        self._strings: set[str] = set()
        self._attrs: set[str] = set()  # attribute names read on config-like objects
        self._all_attrs: set[str] = set()
        self._guarded: set[str] = set()  # "k" in cfg, hasattr(cfg, "k"), getattr(cfg, "k", d)
        self._defaults: set[str] = set()  # parser.set_defaults(k=...)
        self._dynamic = False  # the command line takes options this file does not name
        self._defs: dict[str, list[str]] = {}
        self._returned: set[int] = set()
        self._defaults_of: list[dict[str, str]] = [{}]  # parameters with a literal location default
        self._args_functions: set[str] = set()  # local functions returning `parser.parse_args()`

    # -- scopes -----------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        super().visit_ClassDef(node)
        self._classes.append({})
        self._skip.add(id(node.name))

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        super().leave_ClassDef(node)
        self._classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._skip.add(id(node.name))
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        frame: dict[str, Ref | None] = {}
        for p in params:
            frame[p.name.value] = Ref(PARAM, -1) if p.name.value in self._config_names else None
        for star in (node.params.star_arg, node.params.star_kwarg):
            if isinstance(star, cst.Param):
                frame[star.name.value] = None
        if len(self._frames) == 1 and not self._classes:
            # parameters named like a config keep their name: a config handed to them is followed
            self._defs[node.name.value] = [p.name.value if p.name.value in self._config_names else ""
                                           for p in params]
        self._hydra(node, params, frame)
        defaults: dict[str, str] = {}
        for p in params:
            if p.default is not None:
                where = self._literal_location(p.default)
                if where is not None:
                    defaults[p.name.value] = where
        self._frames.append(frame)
        self._handles.append({})
        self._defaults_of.append(defaults)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        self._frames.pop()
        self._handles.pop()
        self._defaults_of.pop()

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self._returned.add(id(node.value))

    def _top_function(self) -> str:
        """The name of the top-level function being walked (not a method, not nested), or ""."""
        fn = self.ctx.function
        if len(self._frames) == 2 and not self._classes and isinstance(fn, cst.FunctionDef):
            return fn.name.value
        return ""

    def visit_Lambda(self, node: cst.Lambda) -> None:
        super().visit_Lambda(node)
        self._frames.append({p.name.value: None for p in node.params.params})
        self._handles.append({})

    def leave_Lambda(self, node: cst.Lambda) -> None:
        super().leave_Lambda(node)
        self._frames.pop()
        self._handles.pop()

    def visit_Param(self, node: cst.Param) -> None:
        self._skip.add(id(node.name))

    def visit_Try(self, node: cst.Try) -> None:
        self._try += 1

    def leave_Try(self, node: cst.Try) -> None:
        self._try -= 1

    def _hydra(self, node: cst.FunctionDef, params: list[cst.Param], frame: dict[str, Ref | None]) -> None:
        for dec in node.decorators:
            call = dec.decorator
            if not isinstance(call, cst.Call) or self.ctx.names.call_name(call) != "hydra.main" or not params:
                continue
            pos = _positional(call)
            cp = _kwarg(call, "config_path")
            cn = _kwarg(call, "config_name")
            path = _string(cp.value if cp else (pos[0] if pos else None))
            name = _string(cn.value if cn else (pos[1] if len(pos) > 1 else None))
            if path is None or name is None:
                continue
            index = self._new_load(None, "hydra", [posixpath.join(posixpath.dirname(self.ctx.path), path)],
                                   name=name, complete=True, node=dec)
            frame[params[0].name.value] = Ref(CONFIG, index)

    # -- names and bindings -------------------------------------------------------------
    def _lookup(self, name: str) -> Ref | None:
        for frame in reversed(self._frames):
            if name in frame:
                return frame[name]
        return None

    def _bind(self, name: str, value: Ref | None) -> None:
        self._frames[-1][name] = value

    def leave_Assign(self, node: cst.Assign) -> None:
        super().leave_Assign(node)
        self._assign([t.target for t in node.targets], node.value)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        super().leave_AnnAssign(node)
        if node.value is not None:
            self._assign([node.target], node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._mark_target(t.target)
        if all(isinstance(t.target, (cst.Name, cst.Tuple)) for t in node.targets):
            self._bound.add(id(node.value))  # stored on an attribute: it escapes (the object goes on)
            if isinstance(node.value, cst.Tuple) and all(isinstance(t.target, cst.Tuple) for t in node.targets):
                for e in node.value.elements:  # `a, b = cfg["a"], cfg["b"]`
                    self._bound.add(id(e.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_target(node.target)
        if node.value is not None and isinstance(node.target, cst.Name):
            self._bound.add(id(node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_target(node.target)

    def visit_For(self, node: cst.For) -> None:
        super().visit_For(node)
        self._mark_target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._mark_target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._mark_target(node.name)  # type: ignore[arg-type]

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_target(node.target)

    def visit_NameItem(self, node: cst.NameItem) -> None:
        self._skip.add(id(node.name))

    def _mark_target(self, t: cst.BaseExpression) -> None:
        if isinstance(t, cst.Name):
            self._skip.add(id(t))
        elif isinstance(t, (cst.Tuple, cst.List)):
            for e in t.elements:
                self._mark_target(e.value)
        elif isinstance(t, cst.StarredElement):
            self._mark_target(t.value)
        elif isinstance(t, (cst.Attribute, cst.Subscript)):
            self._targets.add(id(t))

    def _assign(self, targets: list[cst.BaseExpression], value: cst.BaseExpression) -> None:
        ref = self._ref(value)
        if isinstance(value, cst.Call) and _last(value) in _PARSE and isinstance(value.func, cst.Attribute) \
                and isinstance(value.func.value, cst.Name) and value.func.value.value in self._parsers:
            ref = Ref(ARGS, -1)
        maker = isinstance(value, cst.Call) and self._makes_parser(value)
        for t in targets:
            if isinstance(t, cst.Name):
                if maker:
                    self._parsers.add(t.value)
                else:
                    self._parsers.discard(t.value)  # rebound: not this file's parser any more
        handle = self._opened(value)
        for t in targets:
            if isinstance(t, cst.Name):
                before = self._frames[-1].get(t.value)
                if (ref is not None and before is not None and ref.target == CONFIG == before.target
                        and ref.load != before.load):
                    # `cfg = load("a.yaml")` or `cfg = load("b.yaml")` by branch: which one is read
                    # below is not known; both escape
                    for load in (before.load, ref.load):
                        self.fact("read", None, target=CONFIG, load=load, path=[], whole=True, default=False,
                                  guarded=False, callee="?", position=None, returned="", display=False)
                    ref = None
                self._bind(t.value, ref)
                if handle is not None:
                    self._handles[-1][t.value] = handle
            elif (isinstance(t, cst.Tuple) and isinstance(value, cst.Tuple)
                  and len(t.elements) == len(value.elements)):
                for te, ve in zip(t.elements, value.elements):
                    if isinstance(te.value, cst.Name) and not isinstance(ve, cst.StarredElement):
                        self._bind(te.value.value, self._ref(ve.value))
            elif isinstance(t, cst.Tuple) and ref is not None and ref.target == ARGS and t.elements:
                first = t.elements[0].value
                if isinstance(first, cst.Name):
                    self._bind(first.value, ref)
            elif isinstance(t, cst.Tuple):
                for e in t.elements:
                    if isinstance(e.value, cst.Name):
                        self._bind(e.value.value, None)
            elif (isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self"
                  and self._classes):
                self._classes[-1][t.attr.value] = ref

    def _makes_parser(self, call: cst.Call) -> bool:
        if self.ctx.names.call_name(call) == "argparse.ArgumentParser":
            if _kwarg(call, "parents") is not None:
                self._dynamic = True
            return True
        f = call.func
        return (isinstance(f, cst.Attribute) and f.attr.value in _PARSER_MAKERS
                and isinstance(f.value, cst.Name))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        super().visit_WithItem(node)
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            handle = self._opened(node.item)
            if handle is not None:
                self._handles[-1][node.asname.name.value] = handle

    def _opened(self, node: cst.BaseExpression) -> str | None:
        """``open("config.yaml")`` / ``Path(p).open()``: the literal location opened."""
        if not isinstance(node, cst.Call):
            return None
        q = self.ctx.names.call_name(node)
        target: cst.BaseExpression | None = None
        if q in self._openers:
            pos = _positional(node)
            target = pos[0] if pos else None
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value in ("open", "read_text", "read_bytes"):
            target = node.func.value
        if target is None:
            return None
        return self._literal_location(target)

    def _literal_location(self, node: cst.BaseExpression) -> str | None:
        loc = self.ev.loc(node)
        if loc is None:
            return None
        defaults = self._defaults_of[-1]
        anchored = loc.anchored
        if loc.external == "param" and defaults:
            # `def load_params(path=PARAMS_FILE)`: the default, when callers pass nothing
            parts = []
            for p in loc.parts:
                if isinstance(p, tuple) and p[0] == "param" and p[1] in defaults:
                    anchored = anchored or defaults[p[1]].startswith("@")
                    parts.append(defaults[p[1]].lstrip("@"))
                elif isinstance(p, str):
                    parts.append(p)
                else:
                    return None
            text = "".join(parts)
            if not text or text.startswith(("/", "~")) or "://" in text:
                return None
            return "%" + ("@" if anchored else "") + text  # % marks a parameter's default
        if loc.external:
            return None
        literal = loc.literal
        if not literal or "://" in literal or literal.startswith(("/", "~")) or "*" in literal:
            return None
        return ("@" if loc.anchored else "") + literal

    # -- loads --------------------------------------------------------------------------
    def _new_load(self, call: cst.Call | None, kind: str, locations: list[str], name: str = "",
                  complete: bool = True, node: cst.CSTNode | None = None, via_default: bool = False) -> int:
        index = self._loads
        self._loads += 1
        if call is not None:
            self._load_of[id(call)] = index
        self.fact("load", node if node is not None else call, index=index, loader=kind, locations=locations,
                  name=name, complete=complete, function=self.ctx.scope, via_default=via_default)
        return index

    def _loader(self, call: cst.Call) -> None:
        if id(call) in self._load_of or id(call) in self._seen:
            return
        self._seen.add(id(call))
        q = self.ctx.names.call_name(call)
        if q is None and isinstance(call.func, cst.Name) and call.func.value in self.ctx.names.local_defs:
            q = f"{self.ctx.module}.{call.func.value}"
        if q is None:
            return
        if self._loader_name.search(q.rsplit(".", 1)[-1]) and q not in self._file_loaders:
            self._new_load(call, "call", [], name=q, complete=not call.args)
            return
        if q in ("hydra.initialize", "hydra.experimental.initialize"):
            a = _kwarg(call, "config_path")
            pos = _positional(call)
            path = _string(a.value if a else (pos[0] if pos else None))
            self._hydra_dir = posixpath.join(posixpath.dirname(self.ctx.path), path) if path is not None else None
            return
        if q in ("hydra.compose", "hydra.experimental.compose"):
            a = _kwarg(call, "config_name")
            pos = _positional(call)
            name = _string(a.value if a else (pos[0] if pos else None))
            if name is None or self._hydra_dir is None:
                return
            overrides = _kwarg(call, "overrides")
            complete = overrides is None or (isinstance(overrides.value, (cst.List, cst.Tuple))
                                             and not overrides.value.elements)
            self._new_load(call, "hydra", [self._hydra_dir], name=name, complete=complete)
            return
        if q not in self._file_loaders and q not in self._path_loaders:
            return
        pos = _positional(call)
        if not pos:
            return
        arg = pos[0]
        where: str | None = None
        if isinstance(arg, cst.Name) and not isinstance(self._lookup(arg.value), Ref):
            for handles in reversed(self._handles):
                if arg.value in handles:
                    where = handles[arg.value]
                    break
        if where is None and isinstance(arg, cst.Call):
            where = self._opened(arg)
            if where is None and isinstance(arg.func, cst.Attribute) and arg.func.attr.value == "read":
                where = self._opened(arg.func.value) if isinstance(arg.func.value, cst.Call) else None
        if where is None and q in self._path_loaders:
            where = self._literal_location(arg)
        if where is None:
            return
        via_default = where.startswith("%")
        anchored = where.lstrip("%").startswith("@")
        text = where.lstrip("%").lstrip("@")
        if anchored:
            locations = [text]
        else:
            locations = [text, posixpath.join(posixpath.dirname(self.ctx.path), text)]
        self._new_load(call, "file", [posixpath.normpath(p) for p in locations], via_default=via_default)

    # -- reads --------------------------------------------------------------------------
    def _ref(self, node: cst.BaseExpression) -> Ref | None:
        # `type(node) is`: concrete node classes; isinstance on libcst's ABCs costs a Python call
        if type(node) is cst.Name:
            return self._lookup(node.value)
        if type(node) is cst.Attribute:
            attr = node.attr.value
            if type(node.value) is cst.Name and node.value.value == "self" and self._classes:
                return self._classes[-1].get(attr)
            if attr in self._methods:
                return None
            base = self._ref(node.value)
            return base.child(attr) if base is not None else None
        if type(node) is cst.Subscript:
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
                return None
            key = _string(node.slice[0].slice.value)
            if key is None:
                return None
            base = self._ref(node.value)
            return base.child(key) if base is not None else None
        if type(node) is cst.BooleanOperation and isinstance(node.operator, cst.Or):
            return self._ref(node.left)  # `yaml.safe_load(f) or {}`
        if type(node) is cst.Call:
            self._loader(node)
            if id(node) in self._load_of:
                return Ref(CONFIG, self._load_of[id(node)])
            f = node.func
            pos = _positional(node)
            if isinstance(f, cst.Attribute) and f.attr.value in ("get", "pop", "setdefault") and pos:
                key = _string(pos[0])
                base = self._ref(f.value)
                return base.child(key) if base is not None and key is not None else None
            if _last(node) in self._converters and len(pos) == 1:
                return self._ref(pos[0])
            if (isinstance(f, cst.Attribute) and f.attr.value in _PARSE and isinstance(f.value, cst.Name)
                    and f.value.value in self._parsers):
                return Ref(ARGS, -1)
            if isinstance(f, cst.Name) and f.value in self._args_functions and not node.args:
                return Ref(ARGS, -1)
        return None

    def visit_Call(self, node: cst.Call) -> None:
        self._loader(node)
        if id(node) in self._inner:
            for a in node.args:
                if a.keyword is not None:
                    self._skip.add(id(a.keyword))
            return
        callee = self._callee(node)
        for i, a in enumerate(node.args):
            if a.keyword is not None:
                self._skip.add(id(a.keyword))
            where: Any = a.keyword.value if a.keyword is not None else (i if not a.star else "*")
            self._args[id(a.value)] = (callee, where)
        f = node.func
        pos = _positional(node)
        last = _last(node)
        if last in ("hasattr", "getattr") and len(pos) >= 2:
            key = _string(pos[1])
            if key is not None and (last == "hasattr" or len(node.args) > 2):
                self._guarded.add(key)
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in self._parsers:
            self._parser_call(node, f.attr.value)
        if isinstance(f, cst.Attribute) and f.attr.value in ("get", "pop", "setdefault") and pos:
            key = _string(pos[0])
            base = self._ref(f.value)
            if base is not None:
                self._inner.add(id(f))
                self._inner.add(id(f.value))
                if key is not None:
                    self._read(node, base.child(key), default=len(node.args) > 1 or f.attr.value == "get")
                else:
                    self._read(node, base, whole=True)
                return
        if last in self._converters and len(pos) == 1 and self._ref(pos[0]) is not None:
            self._inner.add(id(pos[0]))
            self._use(node)
        elif id(node) in self._load_of or (last in _PARSE and isinstance(f, cst.Attribute)
                                           and isinstance(f.value, cst.Name) and f.value.value in self._parsers) \
                or (isinstance(f, cst.Name) and f.value in self._args_functions and not node.args):
            self._use(node)  # `return parser.parse_args()`, `run(yaml.safe_load(f))`

    def _callee(self, node: cst.Call) -> str:
        f = node.func
        if isinstance(f, cst.Name) and f.value in self.ctx.names.local_defs:
            return f"{self.ctx.module}.{f.value}"
        q = self.ctx.names.qualified(f)
        if q is not None:
            return q
        return "." + _last(node)

    def _parser_call(self, node: cst.Call, method: str) -> None:
        if method == "add_subparsers":
            self._dynamic = True
        elif method == "set_defaults":
            for a in node.args:
                if a.keyword is not None:
                    self._defaults.add(a.keyword.value)
                else:
                    self._dynamic = True
        elif method == "add_argument":
            for a in node.args:
                if a.keyword is None or a.keyword.value == "dest":
                    self._option_strings.add(id(a.value))
            flags: list[str] = []
            for v in _positional(node):
                s = _string(v)
                if s is None:
                    self._dynamic = True
                    return
                flags.append(s)
            dest_arg = _kwarg(node, "dest")
            dest = _string(dest_arg.value) if dest_arg is not None else None
            if dest_arg is not None and dest is None:
                self._dynamic = True
                return
            if dest is None:
                longs = [f for f in flags if f.startswith("--")]
                shorts = [f for f in flags if f.startswith("-")]
                if longs:
                    dest = longs[0][2:]
                elif shorts:
                    dest = shorts[0][1:]
                elif flags:
                    dest = flags[0]
                else:
                    return
                dest = dest.replace("-", "_")
            action = _kwarg(node, "action")
            act = _string(action.value) if action is not None else None
            self.fact("option", node, dest=dest, flags=flags,
                      ignorable=act in ("help", "version") or dest == "SUPPRESS" or self._kept_unused(node))

    def _kept_unused(self, call: cst.Call) -> bool:
        """An option hidden from ``--help`` (``help=argparse.SUPPRESS``) or whose help says it is
        ignored on purpose (deprecated, a no-op, kept for compatibility): unread by design."""
        arg = _kwarg(call, "help")
        if arg is None:
            return False
        value = arg.value
        if isinstance(value, (cst.Attribute, cst.Name)):
            q = self.ctx.names.qualified(value)
            return (q or "").rsplit(".", 1)[-1] == "SUPPRESS"
        text = _text(value)
        return bool(text) and self._ignored_help.search(text) is not None

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._skip.add(id(node.attr))
        self._receivers.add(id(node.value))
        self._all_attrs.add(node.attr.value)
        if self._configish(node.value):
            self._attrs.add(node.attr.value)
        if id(node) in self._inner:
            self._inner.add(id(node.value))
            return
        if node.attr.value in self._mutators:
            base = self._ref(node.value)
            if base is not None and base.target == CONFIG:
                self.fact("mutate", None, load=base.load)
        self._use(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if id(node) in self._inner:
            self._inner.add(id(node.value))
            return
        self._use(node)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        if id(node) in self._bound and isinstance(node.operator, cst.Or):
            self._bound.add(id(node.left))

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self._inner or id(node) in self._skip:
            return
        if node.value in self._parsers and id(node) not in self._receivers:
            self._dynamic = True  # the parser itself is handed on: options may be added elsewhere
        self._use(node)

    def _use(self, node: cst.BaseExpression) -> None:
        """``node`` is the longest chain here: what is read, and is it used whole?"""
        ref = self._ref(node)
        if ref is None:
            return
        inner: cst.BaseExpression = node
        while True:  # the chain's parts are not uses of their own
            if isinstance(inner, (cst.Attribute, cst.Subscript)):
                inner = inner.value
            elif isinstance(inner, cst.BooleanOperation):
                inner = inner.left
            elif isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute):
                self._inner.add(id(inner.func))
                inner = inner.func.value
            else:
                break
            self._inner.add(id(inner))
        if isinstance(node, cst.Call):
            pos = _positional(node)
            if pos:
                self._inner.add(id(pos[0]))
        if id(node) in self._targets:
            self.fact("write", None, target=ref.target, load=ref.load, path=list(ref.path))
            return
        whole = id(node) not in self._bound
        self._read(node, ref, whole=whole)

    def _read(self, node: cst.CSTNode, ref: Ref, whole: bool = False, default: bool = False) -> None:
        callee, where = self._args.get(id(node), ("", None))
        if ref.target == PARAM and not whole:
            return  # the names go to `_attrs`
        returned = id(node) in self._returned
        function = self._top_function() if returned else ""
        if ref.target == ARGS and returned and not ref.path and function:
            self._args_functions.add(function)  # `def parse_args(): ... return p.parse_args()`
        # only a read MLD603 may report needs a place: locating the others (a config-named
        # parameter passed on whole, say) would cost a code-generation pass over the file
        located = ref.target in (CONFIG, ARGS) and bool(ref.path) and not default and self._try == 0
        self.fact("read", node if located else None, target=ref.target, load=ref.load, path=list(ref.path),
                  whole=whole,
                  default=default, guarded=self._try > 0, callee=callee, position=where, returned=function,
                  display=callee.rsplit(".", 1)[-1] in self._display)

    def _configish(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            return node.value in self._config_names or isinstance(self._lookup(node.value), Ref)
        if isinstance(node, cst.Attribute):
            return node.attr.value in self._config_names or self._configish(node.value)
        if isinstance(node, cst.Subscript):
            return self._configish(node.value)
        return False

    # -- strings ------------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if id(node) in self._option_strings:
            return  # an option's own name is no read of it
        v = node.evaluated_value
        if isinstance(v, str) and _WORD.match(v):
            self._strings.add(v)
            if "." in v:
                self._strings.update(v.split("."))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        for c in node.comparisons:
            if isinstance(c.operator, (cst.In, cst.NotIn)):
                key = _string(node.left)
                if key is not None:
                    self._guarded.add(key)

    def finish(self) -> None:
        self.fact("file", None, strings=sorted(self._strings), attrs=sorted(self._attrs),
                  all_attrs=sorted(self._all_attrs), guarded=sorted(self._guarded),
                  defaults=sorted(self._defaults), dynamic=self._dynamic, defs=self._defs,
                  args_functions=sorted(self._args_functions),
                  imported=sorted({q for q in self.ctx.names.aliases.values() if "." in q}))
