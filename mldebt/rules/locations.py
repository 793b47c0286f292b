"""Where a data location comes from, evaluated without running the code.

``pd.read_csv(os.path.join(DATA_DIR, f"{split}.csv"))`` reads ``data/raw/*.csv`` when
``DATA_DIR = "data/raw"``; ``pd.read_csv(args.train)`` reads whatever the command line says.
A :class:`LocationEvaluator` answers both kinds of question for the expressions a rule asks
about. It knows:

- literals, f-strings (unknown parts become a ``*`` wildcard), ``+``, ``%`` and ``.format``;
- ``os.path.join``/``dirname``/``abspath``/``expanduser``, ``pathlib.Path(...)``, ``/``,
  ``.parent``/``.parents[n]``, ``.joinpath``, ``.with_suffix``/``.with_name``, ``str()``;
- ``__file__``, resolved to the file's own root-relative path (so
  ``Path(__file__).parents[1] / "data"`` is a project-relative location);
- names bound by assignments in the current function and at module level (in source order,
  the last binding so far wins), module constants imported from other modules of the project
  (kept as a reference the project phase resolves);
- *external* sources, which make a location declared rather than buried: function
  parameters, ``argparse``/``click`` options (``args.x`` after ``parse_args()``), environment
  variables, ``sys.argv``, and configuration objects (loaded with ``yaml``/``json``/
  ``OmegaConf``/``hydra``, or named like one: ``cfg.data.path``, ``self.hparams.root``).

A location is a tuple of parts: strings, :data:`STAR` for a part unknown statically, and
``("ref", "pkg.mod.NAME")`` for an imported constant. Everything is picklable.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import libcst as cst

from mldebt.rules.names import NameResolver, dotted

STAR = ("*",)
Part = Union[str, tuple]


@dataclass(frozen=True, slots=True)
class Loc:
    """A location: parts joined, and the external source it comes from, if any."""

    parts: tuple[Part, ...]
    external: str = ""  # "param", "cli", "env", "config" (declared outside the code) or ""
    anchored: bool = False  # built from __file__: relative to the project root, not the cwd

    @property
    def literal(self) -> str | None:
        """The whole location when every part is a known string."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(self.parts)  # type: ignore[arg-type]
        return None

    def pattern(self) -> str:
        """The parts with unknown pieces as ``*`` (references shown as ``{NAME}``)."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            elif p == STAR or p[0] == "param":
                out.append("*")
            else:
                out.append("{" + str(p[1]).rsplit(".", 1)[-1] + "}")
        return "".join(out)

    def has_text(self) -> bool:
        return any(isinstance(p, str) and p.strip("/.") for p in self.parts)


@dataclass(frozen=True, slots=True)
class Handle:
    """An open file object (``with open(p) as f``): reading it is the ``open``'s read."""


@dataclass(frozen=True, slots=True)
class Client:
    """An object from a known constructor (``boto3.client("s3")``)."""

    qualified: str


@dataclass(frozen=True, slots=True)
class Namespace:
    """Parsed options or a configuration object: everything read from it is external."""

    kind: str  # "cli" or "config"


@dataclass(frozen=True, slots=True)
class Choices:
    """A loop variable over a literal sequence: one of several locations."""

    options: tuple[Loc, ...]


@dataclass(frozen=True, slots=True)
class Glob:
    """The files a glob or a folder listing yields: iterating gives locations like ``pattern``."""

    pattern: Loc


@dataclass(frozen=True, slots=True)
class Unknown:
    """A name rebound to something not followed: it hides outer bindings of the name."""


Value = Union[Loc, Handle, Client, Namespace, Choices, Glob, Unknown]

_PATH_CTORS = frozenset({
    "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath",
    "pathlib.WindowsPath", "upath.UPath", "cloudpathlib.CloudPath", "cloudpathlib.S3Path",
    "cloudpathlib.GSPath", "cloudpathlib.AnyPath",
})
_SAME = frozenset({
    "builtins.str", "os.fspath", "os.path.abspath", "os.path.realpath", "os.path.normpath",
    "os.path.expanduser", "os.path.expandvars", "builtins.repr",
})
_SAME_METHODS = frozenset({"resolve", "absolute", "expanduser", "as_posix", "strip", "rstrip"})
# methods whose result depends on their receiver's value (a location, a config, a glob)
_RECEIVER_METHODS = _SAME_METHODS | frozenset({
    "format", "joinpath", "with_suffix", "with_name", "glob", "rglob", "iterdir", "get", "__getitem__",
    "getenv", "setdefault", "pop"})
_ITER_SAME = frozenset({"builtins.sorted", "builtins.list", "builtins.tuple", "builtins.reversed"})
_GLOBS = frozenset({"glob.glob", "glob.iglob"})
_ENV = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault", "os.getenvb"})
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[-#0 +]*\d*(?:\.\d+)?[sdrifgx]")


def join_paths(a: Loc, b: Loc) -> Loc:
    """``a / b``: an absolute or URL ``b`` replaces ``a``."""
    first = b.parts[0] if b.parts else ""
    if isinstance(first, str) and (first.startswith(("/", "~")) or "://" in first):
        return b
    if not a.parts:
        return Loc(b.parts, a.external or b.external, a.anchored or b.anchored)
    last = a.parts[-1]
    sep: tuple[Part, ...] = () if isinstance(last, str) and last.endswith("/") else ("/",)
    return concat(a, b, sep)


def concat(a: Loc, b: Loc, sep: tuple[Part, ...] = ()) -> Loc:
    """``a`` then ``b``. The result is external when its head is: a configurable folder
    makes the location configurable, a parameterised file name in a literal folder does not."""
    parts: list[Part] = []
    for p in (*a.parts, *sep, *b.parts):
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] = parts[-1] + p
        elif p != "":
            parts.append(p)
    head = a if a.parts else b
    return Loc(tuple(parts), head.external, a.anchored or b.anchored)


def _dirname(a: Loc, levels: int = 1) -> Loc | None:
    text = a.literal
    if text is not None:
        for _ in range(levels):
            text = posixpath.dirname(text.rstrip("/")) if text.strip("/") else None
            if text is None:
                return None
        return Loc((text,) if text else (), a.external, a.anchored)
    if a.external:
        return Loc((STAR,), a.external, a.anchored)
    return None


class LocationEvaluator:
    """Evaluates location expressions of one file, fed in source order."""

    def __init__(self, names: NameResolver, path: str, knowledge: Mapping[str, Any]) -> None:
        self.names = names
        self.path = path
        kb = knowledge.get("data_io", {})
        self._config_loaders = frozenset(kb.get("config_loaders", ()))
        self._config_names = frozenset(kb.get("config_names", ()))
        self._cli_methods = frozenset(kb.get("cli_methods", ()))
        self._clients = frozenset(kb.get("clients", {}))
        self.module_bindings: dict[str, Value] = {}
        self._frames: list[tuple[dict[str, Value], frozenset[str]]] = []
        self.positions: list[dict[str, int]] = []  # positional parameters of each frame
        self._classes: list[tuple[str, dict[str, Value], int]] = []  # name, attributes, frame depth

    # -- scopes ----------------------------------------------------------------------
    def enter_function(self, node: cst.FunctionDef | cst.Lambda) -> None:
        params = node.params
        ordered = [p.name.value for p in (*params.posonly_params, *params.params)]
        names = {*ordered, *(p.name.value for p in params.kwonly_params)}
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                names.add(star.name.value)
        self._frames.append(({}, frozenset(names)))
        self.positions.append({n: i for i, n in enumerate(ordered)})

    def leave_function(self) -> None:
        if self._frames:
            self._frames.pop()
            self.positions.pop()

    def own_parameter(self, name: str) -> int | None:
        """The position of ``name`` among the innermost function's positional parameters."""
        return self.positions[-1].get(name) if self.positions else None

    def bind(self, name: str, value: Value | None) -> None:
        if self._classes and self._classes[-1][2] == len(self._frames):
            table = self._classes[-1][1]  # a class attribute: `class CFG: train = "data/train.csv"`
        else:
            table = self._frames[-1][0] if self._frames else self.module_bindings
        table[name] = Unknown() if value is None else value

    def assign(self, targets: Iterable[cst.BaseAssignTargetExpression], value: cst.BaseExpression) -> None:
        v = self.value(value)
        for t in targets:
            if isinstance(t, cst.Name):
                self.bind(t.value, v)
            elif (isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self"
                  and self._classes):
                # `self.train_path = "data/train.csv"` in a method: an attribute of the class
                attrs = self._classes[-1][1]
                attrs[t.attr.value] = v if v is not None else Unknown()

    # -- classes -----------------------------------------------------------------------
    def enter_class(self, name: str) -> None:
        self._classes.append((name, {}, len(self._frames)))

    def leave_class(self) -> None:
        """A top-level class's attributes become module constants ``Class.attr``."""
        name, attrs, depth = self._classes.pop()
        if depth == 0 and not self._classes:
            for attr, value in attrs.items():
                self.module_bindings[f"{name}.{attr}"] = value

    def bind_loop(self, node: cst.For) -> None:
        if not isinstance(node.target, cst.Name):
            return
        v = self.value(node.iter)
        if isinstance(v, Choices):
            self.bind(node.target.value, v)
            return
        if isinstance(v, Glob):
            self.bind(node.target.value, v.pattern)  # each file the glob matches
            return
        self.bind(node.target.value, None)

    # -- questions -------------------------------------------------------------------
    def lookup(self, name: str) -> Value | None:
        found = self._lookup(name)
        return None if isinstance(found, Unknown) else found

    def _lookup(self, name: str) -> Value | None:
        for table, params in reversed(self._frames):
            if name in table:
                return table[name]
            if name in params:
                if name in self._config_names:
                    return Namespace("config")  # def train(cfg): a config object passed in
                return Loc((("param", name),), "param")
        if name in self.module_bindings:
            return self.module_bindings[name]
        if name == "__file__":
            return Loc((self.path,), anchored=True)
        q = self.names.aliases.get(name)
        if q is not None and "." in q:
            return Loc((("ref", q),))
        if name in self._config_names:
            return Namespace("config")
        return None

    def loc(self, node: cst.BaseExpression) -> Loc | None:
        v = self.value(node)
        return v if isinstance(v, Loc) else None

    def value(self, node: cst.BaseExpression, depth: int = 0) -> Value | None:
        if depth > 40:
            return None
        d = depth + 1
        # `type(node) is`: concrete node classes; isinstance on libcst's ABCs costs a Python call
        if type(node) is cst.SimpleString:
            s = node.evaluated_value
            return Loc((s if isinstance(s, str) else s.decode("latin-1"),))
        if type(node) is cst.ConcatenatedString:
            left, right = self.loc_of(node.left, d), self.loc_of(node.right, d)
            return concat(left, right) if left and right else None
        if type(node) is cst.FormattedString:
            out = Loc(())
            for p in node.parts:
                if isinstance(p, cst.FormattedStringText):
                    out = concat(out, Loc((p.value,)))
                elif isinstance(p, cst.FormattedStringExpression):
                    inner = self.loc_of(p.expression, d)
                    if inner is not None and (p.format_spec is not None or p.conversion not in (None, "s")):
                        inner = Loc((STAR,), inner.external)
                    out = concat(out, inner if inner is not None else Loc((STAR,)))
            return out
        if type(node) is cst.Name:
            return self.lookup(node.value)
        if type(node) is cst.Attribute:
            return self._attribute(node, d)
        if type(node) is cst.Subscript:
            return self._subscript(node, d)
        if type(node) is cst.BinaryOperation:
            return self._binary(node, d)
        if type(node) is cst.Call:
            return self._call(node, d)
        if (type(node) is cst.List or type(node) is cst.Tuple) and node.elements:
            opts = [self.loc_of(e.value, d) for e in node.elements if isinstance(e, cst.Element)]
            if len(opts) == len(node.elements) and all(o is not None and o.has_text() for o in opts):
                return Choices(tuple(o for o in opts if o is not None))
            return None
        if type(node) is cst.IfExp:
            a, b = self.loc_of(node.body, d), self.loc_of(node.orelse, d)
            for x in (a, b):
                if x is not None and x.external:
                    return x
            return None
        if type(node) is cst.BooleanOperation:  # `args.data or "data/x.csv"`
            first = self.value(node.left, d)
            if isinstance(first, Loc) and first.external:
                return first
            return None
        return None

    def loc_of(self, node: cst.BaseExpression, depth: int) -> Loc | None:
        v = self.value(node, depth)
        if isinstance(v, Loc):
            return v
        if isinstance(v, Namespace):
            return Loc((STAR,), v.kind)
        return None

    # -- expression kinds ------------------------------------------------------------
    def _attribute(self, node: cst.Attribute, d: int) -> Value | None:
        attr = node.attr.value
        if isinstance(node.value, cst.Name):
            owner = node.value.value
            if owner == "self" and self._classes:
                known = self._classes[-1][1].get(attr)
                if isinstance(known, (Loc, Namespace, Choices)):
                    return known
            elif not self._bound(owner):  # `CFG.train_path`: a class attribute of this module
                known = self.module_bindings.get(f"{owner}.{attr}")
                if isinstance(known, (Loc, Namespace, Choices)):
                    return known
        q = self.names.qualified(node)
        if q == "sys.executable":
            return Loc(("python",))
        head = node.value
        while isinstance(head, cst.Attribute):
            head = head.value
        if (q is not None and isinstance(head, cst.Name) and head.value in self.names.aliases
                and not self._bound(head.value)):
            return Loc((("ref", q),))  # settings.DATA_DIR: a module's constant
        base = self.value(node.value, d)
        if isinstance(base, Namespace):
            return base
        if self._configish(node.value) and not isinstance(base, Loc):
            return Namespace("config")
        if isinstance(base, Loc):
            if attr == "parent":
                return _dirname(base)
            if attr in ("name", "stem", "suffix"):
                return Loc((STAR,), base.external)
            if len(base.parts) == 1 and isinstance(base.parts[0], tuple) and base.parts[0][0] == "ref":
                return Loc((("ref", f"{base.parts[0][1]}.{attr}"),))  # module.CONSTANT
            if base.external and self._configish(node.value):
                return Namespace("config")  # self.cfg.data_path: self is a parameter
            return None
        return None

    def _bound(self, name: str) -> bool:
        """Is ``name`` bound in a function frame or at module level (shadowing an import)?"""
        return any(name in table or name in params for table, params in self._frames) or name in self.module_bindings

    def _configish(self, node: cst.BaseExpression) -> bool:
        """``cfg``, ``self.cfg``, ``self.hparams``, ``trainer.args``: named like configuration."""
        if isinstance(node, cst.Name):
            return node.value in self._config_names
        if isinstance(node, cst.Attribute):
            return node.attr.value in self._config_names or self._configish(node.value)
        return False

    def _subscript(self, node: cst.Subscript, d: int) -> Value | None:
        name = dotted(node.value)
        q = self.names.qualified(node.value) if name else None
        if q == "os.environ":
            return Loc((STAR,), "env")
        if q == "sys.argv":
            return Loc((STAR,), "cli")
        base = self.value(node.value, d)
        if isinstance(base, Namespace):
            return base
        if isinstance(base, Loc):
            if isinstance(node.value, cst.Attribute) and node.value.attr.value == "parents":
                idx = _int_index(node)
                inner = self.value(node.value.value, d)
                if idx is not None and isinstance(inner, Loc):
                    return _dirname(inner, idx + 1)
            return Loc((STAR,), base.external) if base.external else None
        if isinstance(node.value, cst.Attribute) and node.value.attr.value == "parents":
            idx = _int_index(node)
            inner = self.value(node.value.value, d)
            if idx is not None and isinstance(inner, Loc):
                return _dirname(inner, idx + 1)
        if self._configish(node.value):
            return Namespace("config")
        return None

    def _binary(self, node: cst.BinaryOperation, d: int) -> Value | None:
        op = node.operator
        if isinstance(op, cst.Divide):
            a, b = self.loc_of(node.left, d), self.loc_of(node.right, d)
            if a is not None and b is not None:
                return join_paths(a, b)
            return _external_of(a, b)
        if isinstance(op, cst.Add):
            a, b = self.loc_of(node.left, d), self.loc_of(node.right, d)
            if a is not None and b is not None:
                return concat(a, b)
            return _external_of(a, b)
        if isinstance(op, cst.Modulo) and isinstance(node.left, (cst.SimpleString, cst.FormattedString)):
            fmt = self.loc_of(node.left, d)
            if fmt is None or fmt.literal is None:
                return None
            args = node.right.elements if isinstance(node.right, cst.Tuple) else [cst.Element(node.right)]
            return self._format(fmt.literal, [a.value for a in args], d)
        return None

    def _format(self, text: str, args: list[cst.BaseExpression], d: int) -> Loc:
        out = Loc(())
        pos = 0
        for i, m in enumerate(_PLACEHOLDER.finditer(text)):
            out = concat(out, Loc((text[pos:m.start()],)))
            inner = self.loc_of(args[i], d) if i < len(args) else None
            out = concat(out, inner if inner is not None else Loc((STAR,)))
            pos = m.end()
        return concat(out, Loc((text[pos:],)))

    def _call(self, node: cst.Call, d: int) -> Value | None:
        q = self.names.call_name(node)
        args = [a for a in node.args if a.keyword is None and a.star == ""]
        if q is not None:
            if q in _PATH_CTORS:
                if not args:
                    return Loc((".",))
                return self._join_all(args, d)
            if q == "os.path.join" or q == "posixpath.join":
                return self._join_all(args, d) if args else None
            if q in _SAME and args:
                return self.loc_of(args[0].value, d)
            if q in _ITER_SAME and args:
                inner = self.value(args[0].value, d)
                return inner if isinstance(inner, (Glob, Choices)) else None
            if q in _GLOBS and args:
                pattern = self.loc_of(args[0].value, d)
                return Glob(pattern) if pattern is not None else None
            if q == "os.listdir" and args:
                folder = self.loc_of(args[0].value, d)
                return Glob(join_paths(folder, Loc((STAR,)))) if folder is not None else None
            if q == "os.path.dirname" and args:
                a = self.loc_of(args[0].value, d)
                return _dirname(a) if a is not None else None
            if q in ("pathlib.Path.home", "os.path.expanduser.__self__"):
                return Loc(("~",))
            if q in ("pathlib.Path.cwd", "os.getcwd"):
                return Loc((".",))
            if q in _ENV:
                return Loc((STAR,), "env")
            if q in self._config_loaders:
                return Namespace("config")
            if q in self._clients:
                return Client(q)
            if q.startswith(("click.", "typer.")):
                return Namespace("cli")
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in self._cli_methods:
                return Namespace("cli")
            if method not in _RECEIVER_METHODS:
                return None  # model.fit(x), torch.cat(...): no need to evaluate the receiver
            receiver = self.value(func.value, d)
            if isinstance(receiver, Namespace):
                return receiver  # cfg.get("path"), args.__dict__.get(...)
            if method == "format" and isinstance(func.value, (cst.SimpleString, cst.ConcatenatedString)):
                fmt = self.loc_of(func.value, d)
                if fmt is not None and fmt.literal is not None:
                    return self._format(fmt.literal, [a.value for a in args], d)
                return None
            if isinstance(receiver, Loc):
                if method in _SAME_METHODS:
                    return receiver
                if method in ("glob", "rglob") and args:
                    pattern = self.loc_of(args[0].value, d)
                    if pattern is not None:
                        return Glob(join_paths(receiver, pattern))
                if method == "iterdir":
                    return Glob(join_paths(receiver, Loc((STAR,))))
                if method == "joinpath":
                    return self._join_all([cst.Arg(func.value), *args], d)
                if method in ("with_suffix", "with_name") and args:
                    new = self.loc_of(args[0].value, d)
                    base = receiver.literal
                    if new is None or new.literal is None or base is None:
                        return Loc((STAR,), receiver.external) if receiver.external else None
                    if method == "with_suffix":
                        return Loc((posixpath.splitext(base)[0] + new.literal,), anchored=receiver.anchored)
                    return Loc((posixpath.join(posixpath.dirname(base), new.literal),), anchored=receiver.anchored)
                if receiver.external and method in ("get", "__getitem__"):
                    return receiver
            if method == "get" and self._configish(func.value):
                return Namespace("config")
        return None

    def _join_all(self, args: list[cst.Arg], d: int) -> Loc | None:
        out: Loc | None = None
        for a in args:
            part = self.loc_of(a.value, d)
            if part is None:
                part = Loc((STAR,))
            out = part if out is None else join_paths(out, part)
        return out


def _external_of(a: Loc | None, b: Loc | None) -> Loc | None:
    for x in (a, b):
        if x is not None and x.external:
            return Loc((STAR,), x.external)
    return None


def _int_index(node: cst.Subscript) -> int | None:
    if len(node.slice) != 1:
        return None
    s = node.slice[0].slice
    if isinstance(s, cst.Index) and isinstance(s.value, cst.Integer):
        return int(s.value.value)
    return None
