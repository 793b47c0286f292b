"""What framework type an expression holds: a pandas DataFrame, a NumPy array, a torch tensor...

A framework rule must fire only when its receiver provably comes from that framework:
``df.values`` is a pandas pitfall when ``df = pd.read_csv(p)``, and nothing at all when ``df``
is a dict, a polars frame or a parameter nobody annotated. A :class:`ReceiverTracker` answers
``type_of(expr) -> TypeInfo | None`` for the expression a rule is looking at, and ``None``
(unknown) whenever it cannot prove the type. It is rule-agnostic and cheap: no libcst
metadata, a dict lookup per name, and an expression is evaluated only as deep as its
outer calls, attributes and subscripts go.

Where types come from:

- calls resolved through imports (``pd.read_csv``, ``from pandas import DataFrame``,
  ``import pandas as pandas_lib``; ``np.zeros((n, m))`` with its number of dimensions);
- methods, attributes and subscripts of a typed receiver (``df.groupby(k).agg(f)``,
  ``df[["a", "b"]]``, ``df["a"]`` -> Series, ``df.loc[m]``, ``df.age`` -> Series,
  ``df.to_numpy()`` -> a 2-D array, ``a.reshape(3, 4)``);
- assignments (``x = ...``, ``a, b = x, y``, ``x: T = ...``, ``(x := ...)``, ``self.df = ...``);
  rebinding a name to something unknown forgets it, a ``for``/``with`` target too;
- annotations of function parameters (``def f(df: pd.DataFrame)``, ``Optional[...]``,
  ``"pd.DataFrame"``, ``X | None``); an unannotated parameter is unknown (it shadows any
  module-level variable of the same name);
- functions and methods of the same file: their return annotation, else what all their
  ``return`` statements agree on (``return None`` aside).

Binding follows source order within a scope, like :mod:`mldebt.rules.flow` (the last
assignment seen wins), with one refinement for "provably": a name bound inside an ``if``
branch or a loop body keeps its type after the statement only when every way through
agrees (``if p.endswith(".csv"): df = pd.read_csv(p) else: df = pd.read_parquet(p)`` is a
DataFrame; ``if X.ndim == 1: X = X.reshape(1, -1)`` is not provably 2-D). A name bound to
``None`` on one path takes the type of the other (``df = None`` then ``if p: df = ...``).
The analysis is intra-file.

Which call, method, attribute or subscript gives which type is data, not code: the
``api_misuse.receivers`` knowledge in ``rules/ml-api-misuse.yaml``. A type is a qualified
class name (``pandas.DataFrame``, ``pandas.Series``, ``pandas.Index``, ``numpy.ndarray``,
``polars.DataFrame``, ``xarray.DataArray``, ``torch.Tensor``...) plus pseudo-types for
objects that only lead to others: ``pandas.NDFrame`` (a DataFrame or a Series),
``pandas.GroupBy`` (groupby and window objects), ``pandas.Indexer`` (``df.loc``...),
``pandas.Accessor`` (``s.str``, ``s.dt``, ``s.cat``). ``numpy.ndarray`` carries ``ndim`` when
it is provable.

Use from a rule: inherit :class:`TracksReceivers` before :class:`~mldebt.rules.base.Rule`
and set ``self.types = ReceiverTracker(ctx.names, ctx.knowledge)`` in ``__init__``; its
``visit_*``/``leave_*`` methods feed the tracker in source order and call ``super()``, so a
rule that also inherits :class:`~mldebt.rules.flow.FollowsValues` (after it) gets both. A
rule that defines one of those methods itself calls ``super()``. Then, in any handler::

    t = self.types.type_of(node.value)
    if t is not None and t.framework == "pandas": ...

The tracker binds assignments when *leaving* them, so a handler that looks at the right-hand
side of ``df = df.dropna()`` sees the previous ``df``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import libcst as cst

from mldebt.rules.base import compiled
from mldebt.rules.names import NameResolver, dotted


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """The type an expression provably holds."""

    name: str  # qualified class name, e.g. "pandas.DataFrame", "numpy.ndarray"
    ndim: int | None = None  # number of dimensions (arrays), when provable
    source: str = ""  # the evidence, for messages: "pandas.read_csv", "load()", "annotation"

    @classmethod
    def parse(cls, text: str, source: str = "") -> TypeInfo:
        """``"numpy.ndarray[2]"`` -> TypeInfo("numpy.ndarray", 2)."""
        name, _, rest = text.partition("[")
        return cls(name.strip(), int(rest.rstrip("]")) if rest else None, source)

    @property
    def framework(self) -> str:
        """``pandas`` for ``pandas.DataFrame``: the top-level package of the type."""
        return self.name.partition(".")[0]

    @property
    def short(self) -> str:
        """``DataFrame``; ``2-D array`` for an array of known dimensions."""
        if self.name == "numpy.ndarray":
            return f"{self.ndim}-D NumPy array" if self.ndim is not None else "NumPy array"
        if self.name == "pandas.NDFrame":
            return "pandas DataFrame/Series"
        return self.name.replace(".", " ", 1) if self.framework != self.name else self.name


# --- the knowledge, compiled once per process -----------------------------------------------


def _flat(items: Any) -> Iterator[str]:
    """YAML lists may nest (``[*anchor, extra]``): yield the strings."""
    if isinstance(items, str):
        yield items
    elif isinstance(items, (list, tuple)):
        for x in items:
            yield from _flat(x)


def _table(raw: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """``{type: {result type: [names]}}`` -> ``{type: {name: result type}}``."""
    out: dict[str, dict[str, str]] = {}
    for typ, by_result in (raw or {}).items():
        names: dict[str, str] = {}
        for result, items in (by_result or {}).items():
            for n in _flat(items):
                names.setdefault(n, result)
        out[typ] = names
    return out


class ReceiverKnowledge:
    """The ``api_misuse.receivers`` tables as dicts and sets."""

    @classmethod
    def of(cls, knowledge: Mapping[str, Any]) -> ReceiverKnowledge:
        return compiled(knowledge, cls)

    def __init__(self, knowledge: Mapping[str, Any]) -> None:
        k = (knowledge.get("api_misuse") or {}).get("receivers") or {}
        self.calls: dict[str, str] = dict(k.get("calls") or {})
        self.unknown_keywords = frozenset(_flat(k.get("unknown_with_keywords") or ()))
        self.literal_keywords = frozenset(_flat(k.get("literal_only_keywords") or ()))
        self.numpy_arrays: dict[str, str] = dict(k.get("numpy_arrays") or {})
        self.matrix_products = frozenset(_flat(k.get("numpy_matrix_products") or ()))
        self.reductions = frozenset(_flat(k.get("numpy_reductions") or ()))
        self.methods = _table(k.get("methods"))
        self.attributes = _table(k.get("attributes"))
        self.columns: dict[str, str] = dict(k.get("column_attributes") or {})
        self.not_columns = frozenset(_flat(k.get("not_columns") or ()))
        self.subscripts: dict[str, dict[str, str]] = {t: dict(v or {}) for t, v in (k.get("subscripts") or {}).items()}
        self.annotation_aliases: dict[str, str] = dict(k.get("annotation_aliases") or {})
        known = {TypeInfo.parse(t).name for t in self.calls.values()}
        known |= set(self.methods) | set(self.attributes) | set(self.subscripts) | set(self.annotation_aliases.values())
        self.types = frozenset(known)


# --- the tracker ------------------------------------------------------------------------------

_CONFLICT = TypeInfo("<conflict>")  # a function whose returns disagree or are unknown
_LIST = TypeInfo("builtins.list")  # a list literal: as a key, selects columns
_NONE = TypeInfo("builtins.None")  # bound to the literal None: joins with any type


def _join(a: TypeInfo | None, b: TypeInfo | None) -> TypeInfo | None:
    """The type a name holds after two paths that bound it to ``a`` and ``b``."""
    if a is _NONE:
        return b
    if b is _NONE or a == b:
        return a
    if a is None or b is None:
        return None
    if a.name == b.name:
        return a if a.ndim == b.ndim else replace(a, ndim=None)
    if {a.name, b.name} <= {"pandas.DataFrame", "pandas.Series", "pandas.NDFrame"}:
        return replace(a, name="pandas.NDFrame", ndim=None)
    return None
_NUMBERS = (cst.Integer, cst.Float, cst.Imaginary)
_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
          cst.BitAnd, cst.BitOr, cst.BitXor)
_ORDER = (cst.Equal, cst.NotEqual, cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual)


class _Frame:
    __slots__ = ("funcs", "kind", "name", "pending", "vars")

    def __init__(self, kind: str, name: str = "") -> None:
        self.kind = kind  # module | class | function | lambda | comp
        self.name = name
        self.vars: dict[str, TypeInfo | None] = {}  # names and dotted keys ("self.df")
        self.funcs: dict[str, TypeInfo] = {}  # function defined here -> what it returns
        self.pending: dict[str, cst.BaseExpression] = {}  # return annotations not yet resolved


class ReceiverTracker:
    """Which expressions hold which framework type; see the module docstring."""

    def __init__(self, names: NameResolver, knowledge: Mapping[str, Any]) -> None:
        self.names = names
        self.k = ReceiverKnowledge.of(knowledge)
        self.frames: list[_Frame] = [_Frame("module")]
        self._annotated: list[bool] = []  # per open function: its return type is annotated
        # open `if`/loop statements: (node, frame, bindings before, bindings at the end of the body)
        self._branches: list[tuple[cst.CSTNode, _Frame, dict[str, TypeInfo | None], dict[str, TypeInfo | None] | None]] = []
        self._orelse: dict[int, int] = {}  # id(an `else`/`elif` node) -> index in _branches
        # a rule's query through a ReceiverView: the shared state must not change (_Diverged)
        self._querying = False

    def clone(self) -> ReceiverTracker:
        """An independent copy of the state (a rule that diverges from a shared tracker)."""
        new = ReceiverTracker.__new__(ReceiverTracker)
        new.names, new.k, new._querying = self.names, self.k, False
        dicts: dict[int, dict[Any, Any]] = {}
        frames: dict[int, _Frame] = {}

        def copy_dict(d: dict[Any, Any]) -> dict[Any, Any]:
            hit = dicts.get(id(d))
            if hit is None:
                hit = dicts[id(d)] = dict(d)
            return hit

        def copy_frame(f: _Frame) -> _Frame:
            hit = frames.get(id(f))
            if hit is None:
                hit = frames[id(f)] = _Frame(f.kind, f.name)
                hit.vars, hit.funcs, hit.pending = copy_dict(f.vars), copy_dict(f.funcs), copy_dict(f.pending)
            return hit

        new.frames = [copy_frame(f) for f in self.frames]
        new._annotated = list(self._annotated)
        new._branches = [(n, copy_frame(f), copy_dict(before), copy_dict(body) if body is not None else None)
                         for n, f, before, body in self._branches]
        new._orelse = dict(self._orelse)
        return new

    # -- driving (source order) ----------------------------------------------------------
    def enter_module(self, node: cst.Module) -> None:
        """Note the return annotations of top-level functions (callable before their def)."""
        self._note_annotations(node.body, self.frames[0])

    def enter_class(self, node: cst.ClassDef) -> None:
        self.frames[-1].vars[node.name.value] = None
        frame = _Frame("class", node.name.value)
        if isinstance(node.body, cst.IndentedBlock):
            self._note_annotations(node.body.body, frame)
        self.frames.append(frame)

    def leave_class(self) -> None:
        self.frames.pop()

    def enter_function(self, node: cst.FunctionDef | cst.Lambda) -> None:
        p = node.params
        if isinstance(node, cst.FunctionDef):
            outer, name = self.frames[-1], node.name.value
            outer.vars[name] = None
            outer.pending.pop(name, None)
            ret = self._annotation(node.returns.annotation) if node.returns is not None else None
            if ret is not None:
                outer.funcs[name] = replace(ret, source=f"{name}()")
            else:
                outer.funcs.pop(name, None)  # (re)defined: its returns decide
            self._annotated.append(ret is not None)
            frame = _Frame("function", node.name.value)
        else:
            frame = _Frame("lambda")
        for x in (*p.posonly_params, *p.params, *p.kwonly_params):
            ann = x.annotation
            frame.vars[x.name.value] = self._annotation(ann.annotation, "annotation") if ann else None
        for star in (p.star_arg, p.star_kwarg):
            if isinstance(star, cst.Param):
                frame.vars[star.name.value] = None
        self.frames.append(frame)

    def leave_function(self, node: cst.FunctionDef | cst.Lambda) -> None:
        self.frames.pop()
        if isinstance(node, cst.FunctionDef):
            self._annotated.pop()

    def enter_comprehension(self, node: cst.BaseComp) -> None:
        self.frames.append(_Frame("comp"))
        comp: cst.CompFor | None = node.for_in  # type: ignore[attr-defined]
        while comp is not None:
            self._bind_iter(comp.target, comp.iter)
            comp = comp.inner_for_in

    def leave_comprehension(self) -> None:
        self.frames.pop()

    def assign(self, node: cst.Assign | cst.AnnAssign | cst.AugAssign | cst.NamedExpr) -> None:
        """Bind the targets of an assignment; call it when *leaving* the statement."""
        if isinstance(node, cst.AugAssign):  # `df += 1` keeps a frame a frame
            self._bind(node.target, self._binary(node.target, node.value, node.operator))
            return
        if isinstance(node, cst.AnnAssign):
            declared = self._annotation(node.annotation.annotation, "annotation")
            if node.value is None:
                if declared is not None:
                    self._bind(node.target, declared)
                return
            self._bind(node.target, declared or self.type_of(node.value))
            return
        value = node.value
        if isinstance(node, cst.NamedExpr):
            self._bind(node.target, self.type_of(value))
            return
        for t in node.targets:
            self._bind_value(t.target, value)

    def bind_loop(self, node: cst.For) -> None:
        """Bind a ``for`` target before its body is walked."""
        self._bind_iter(node.target, node.iter)

    def bind_with(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                self._bind(item.asname.name, None)

    def enter_branch(self, node: cst.If | cst.For | cst.While) -> None:
        """Before an ``if``/``for``/``while``; call :meth:`enter_orelse` on its ``else``/``elif``."""
        frame = self.frames[-1]
        self._branches.append((node, frame, dict(frame.vars), None))
        if node.orelse is not None:
            self._orelse[id(node.orelse)] = len(self._branches) - 1

    def enter_orelse(self, node: cst.CSTNode) -> None:
        """At an ``else`` block or an ``elif`` (an ``If`` in ``orelse``): the body is done."""
        i = self._orelse.pop(id(node), None)
        if i is None:
            return
        stmt, frame, before, _ = self._branches[i]
        self._branches[i] = (stmt, frame, before, dict(frame.vars))
        if isinstance(stmt, cst.If):
            frame.vars = dict(before)  # the else arm starts from the state before the `if`

    def leave_branch(self, node: cst.If | cst.For | cst.While) -> None:
        if not self._branches or self._branches[-1][0] is not node:
            return
        _, frame, before, body = self._branches.pop()
        now = frame.vars
        if isinstance(node, cst.If):
            # an arm that ends in return/raise/continue/break does not reach the next statement
            if node.orelse is None:
                if _terminates(node.body):
                    frame.vars = before
                    return
            elif body is not None:
                if _terminates(node.body):
                    return  # only the else arm goes on: `now`
                if _terminates(node.orelse):
                    frame.vars = body
                    return
        # an `if` with an else: the body's end and the else's end; otherwise before and now
        other = body if body is not None and isinstance(node, cst.If) else before
        for key in set(now) | set(other):
            if other.get(key, None) is not now.get(key, None) and other.get(key) != now.get(key):
                now[key] = _join(other.get(key), now.get(key))

    def returned(self, node: cst.Return) -> None:
        if len(self.frames) < 2 or self.frames[-1].kind != "function" or self._annotated[-1]:
            return
        value = node.value
        if value is None or (isinstance(value, cst.Name) and value.value == "None"):
            return
        t = self.type_of(value)
        funcs = self.frames[-2].funcs
        name = self.frames[-1].name
        old = funcs.get(name)
        if t is None or (old is not None and (old.name, old.ndim) != (t.name, t.ndim)):
            funcs[name] = _CONFLICT
        elif old is None:
            funcs[name] = replace(t, source=f"{name}()")

    # -- querying ------------------------------------------------------------------------
    def type_of(self, node: cst.BaseExpression) -> TypeInfo | None:
        """The type ``node`` provably holds, or None when it is unknown."""
        t = type(node)
        if t is cst.Name:
            return self.lookup(node.value)  # type: ignore[attr-defined]
        if t is cst.Call:
            return self._call(node)  # type: ignore[arg-type]
        if t is cst.Attribute:
            return self._attribute(node)  # type: ignore[arg-type]
        if t is cst.Subscript:
            return self._subscript(node)  # type: ignore[arg-type]
        if t is cst.BinaryOperation:
            return self._binary(node.left, node.right, node.operator)  # type: ignore[attr-defined]
        if t is cst.Comparison:
            comps = node.comparisons  # type: ignore[attr-defined]
            if len(comps) == 1 and isinstance(comps[0].operator, _ORDER):
                left = self.type_of(node.left)  # type: ignore[attr-defined]
                if left is not None and left.framework in ("pandas", "numpy", "polars", "torch", "xarray"):
                    return left if left.name != "pandas.Index" else replace(left, name="numpy.ndarray", ndim=1)
            return None
        if t is cst.UnaryOperation:
            if isinstance(node.operator, cst.Not):  # type: ignore[attr-defined]
                return None
            return self.type_of(node.expression)  # type: ignore[attr-defined]
        if t is cst.List or t is cst.ListComp:
            return _LIST
        if t is cst.IfExp:
            a, b = self.type_of(node.body), self.type_of(node.orelse)  # type: ignore[attr-defined]
            return a if a is not None and b is not None and (a.name, a.ndim) == (b.name, b.ndim) else None
        return None

    def is_bound(self, name: str) -> bool:
        """Is ``name`` a variable or parameter in scope (bound in this file, not an import)?"""
        frames = self.frames
        last = len(frames) - 1
        return any(name in f.vars for i, f in enumerate(frames) if f.kind != "class" or i == last)

    def lookup(self, name: str) -> TypeInfo | None:
        """The type bound to a name (or a dotted key such as ``self.df``) in scope."""
        frames = self.frames
        last = len(frames) - 1
        for i in range(last, -1, -1):
            frame = frames[i]
            if frame.kind == "class" and i != last:
                continue
            if name in frame.vars:
                t = frame.vars[name]
                return None if t is _NONE else t
        return None

    # -- binding ---------------------------------------------------------------------------
    def _note_annotations(self, body: Iterable[cst.CSTNode], frame: _Frame) -> None:
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef) and stmt.returns is not None:
                frame.pending[stmt.name.value] = stmt.returns.annotation

    def _bind_value(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
                and len(target.elements) == len(value.elements) \
                and not any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
            types = [self.type_of(v.value) for v in value.elements]  # evaluate all, then bind
            for el, typ in zip(target.elements, types):
                self._bind(el.value, typ)
            return
        none = isinstance(value, cst.Name) and value.value == "None"
        self._bind(target, _NONE if none else self.type_of(value))

    def _bind(self, target: cst.BaseExpression, t: TypeInfo | None) -> None:
        kind = type(target)
        if kind is cst.Name:
            self.frames[-1].vars[target.value] = t  # type: ignore[attr-defined]
        elif kind is cst.Tuple or kind is cst.List:
            for el in target.elements:  # type: ignore[attr-defined]
                self._bind(el.value, None)
        elif kind is cst.StarredElement:
            self._bind(target.value, None)  # type: ignore[attr-defined]
        elif kind is cst.Attribute:
            key = dotted(target)
            if key is None:
                return
            frames = [self.frames[-1]]
            if key.startswith("self."):
                cls = self._class_frame()
                if cls is not None:
                    frames.append(cls)
            for frame in frames:
                if t is not None or key in frame.vars:
                    frame.vars[key] = t

    def _bind_iter(self, target: cst.BaseExpression, it: cst.BaseExpression) -> None:
        """``for key, group in df.groupby(k)`` binds a frame; ``for i, row in df.iterrows()`` a Series."""
        if isinstance(target, cst.Tuple) and len(target.elements) == 2:
            second: TypeInfo | None = None
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and not it.args:
                recv = self.type_of(it.func.value)
                if recv is not None and it.func.attr.value == "iterrows" and recv.name == "pandas.DataFrame":
                    second = TypeInfo("pandas.Series", None, "DataFrame.iterrows()")
            elif self._is_groupby(it):
                second = TypeInfo("pandas.NDFrame", None, "groupby()")
            self._bind(target.elements[0].value, None)
            self._bind(target.elements[1].value, second)
            return
        self._bind(target, self._element(it))

    def _element(self, it: cst.BaseExpression) -> TypeInfo | None:
        """``for chunk in pd.read_csv(p, chunksize=n)``: a frame; ``for a in (x, y)``: their common type."""
        if isinstance(it, cst.Call) and any(a.keyword is not None and a.keyword.value in ("chunksize", "iterator")
                                            for a in it.args):
            q = self.names.qualified(it.func)
            result = self.k.calls.get(q) if q is not None else None
            return TypeInfo.parse(result, q) if result is not None and q is not None and q.startswith("pandas.read_") else None
        if isinstance(it, (cst.List, cst.Tuple)) and it.elements \
                and not any(isinstance(e, cst.StarredElement) for e in it.elements):
            types = [self.type_of(e.value) for e in it.elements]
            first = types[0]
            if first is not None and all(t is not None and (t.name, t.ndim) == (first.name, first.ndim) for t in types):
                return first
        return None

    def _is_groupby(self, it: cst.BaseExpression) -> bool:
        if not isinstance(it, cst.Call) or not isinstance(it.func, cst.Attribute) or it.func.attr.value != "groupby":
            return False
        recv = self.type_of(it.func.value)
        return recv is not None and recv.framework == "pandas"

    def _class_frame(self) -> _Frame | None:
        for frame in reversed(self.frames):
            if frame.kind == "class":
                return frame
        return None

    # -- evaluation --------------------------------------------------------------------------
    def _annotation(self, node: cst.BaseExpression, source: str = "annotation") -> TypeInfo | None:
        """``pd.DataFrame``, ``"pd.DataFrame"``, ``Optional[pd.DataFrame]``, ``pd.Series | None``."""
        if isinstance(node, cst.SimpleString):
            text = node.evaluated_value
            if not isinstance(text, str) or len(text) > 200:
                return None
            try:
                node = cst.parse_expression(text)
            except cst.ParserSyntaxError:
                return None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            parts = [node.left, node.right]
            known = [p for p in parts if not (isinstance(p, cst.Name) and p.value == "None")]
            return self._annotation(known[0], source) if len(known) == 1 else None
        if isinstance(node, cst.Subscript):
            q = self.names.qualified(node.value)
            if q in ("typing.Optional", "typing_extensions.Optional") and len(node.slice) == 1 \
                    and isinstance(node.slice[0].slice, cst.Index):
                return self._annotation(node.slice[0].slice.value, source)
            if q in ("typing.Union", "typing_extensions.Union"):
                known = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)
                         and not (isinstance(e.slice.value, cst.Name) and e.slice.value.value == "None")]
                return self._annotation(known[0], source) if len(known) == 1 else None
            node = node.value  # `npt.NDArray[np.float64]`
        q = self.names.qualified(node)
        if q is None:
            return None
        q = self.k.annotation_aliases.get(q, q)
        if q in self.k.types:
            return TypeInfo(q, None, source)
        return None

    def _local_function(self, name: str, frames: list[_Frame]) -> TypeInfo | None:
        for frame in frames:
            node = frame.pending.get(name)
            if node is not None:
                if self._querying:  # resolving it now would change the state other rules share
                    raise _Diverged
                del frame.pending[name]
                t = self._annotation(node)
                frame.funcs[name] = replace(t, source=f"{name}()") if t is not None else _CONFLICT
            t = frame.funcs.get(name)
            if t is not None:
                return None if t is _CONFLICT else t
            if name in frame.vars and frame.kind != "class":
                return None
        return None

    def _call(self, node: cst.Call) -> TypeInfo | None:
        func = node.func
        for a in node.args:
            if a.keyword is not None:
                kw = a.keyword.value
                literal_false = isinstance(a.value, cst.Name) and a.value.value in ("False", "None")
                if kw in self.k.unknown_keywords and not literal_false:
                    return None
                if kw in self.k.literal_keywords and not isinstance(a.value, (cst.SimpleString, cst.Integer)):
                    return None
        q = self.names.qualified(func)
        if q is not None:
            got = self._qualified_call(q, node)
            if got is not None or q in self.k.calls or q in self.k.numpy_arrays:
                return got
        if isinstance(func, cst.Name):
            frames = [f for f in reversed(self.frames) if f.kind != "class" or f is self.frames[-1]]
            return self._local_function(func.value, frames)
        if isinstance(func, cst.Attribute):
            if isinstance(func.value, cst.Name) and func.value.value == "self":
                cls = self._class_frame()
                if cls is not None:
                    got = self._local_function(func.attr.value, [cls])
                    if got is not None:
                        return got
            recv = self.type_of(func.value)
            if recv is not None:
                return self._method(recv, func.attr.value, node)
        return None

    def _qualified_call(self, q: str, node: cst.Call) -> TypeInfo | None:
        k = self.k
        result = k.calls.get(q)
        if result is not None:
            return TypeInfo.parse(result, q)
        mode = k.numpy_arrays.get(q)
        if mode is not None:
            return self._numpy_array(q, mode, node)
        if q in k.matrix_products:
            a, b = self._operands(node)
            if a is not None and b is not None and a.name == b.name == "numpy.ndarray":
                return TypeInfo("numpy.ndarray", 2 if a.ndim == b.ndim == 2 else None, q)
            return None
        if q == "numpy.reshape":
            pos = [x for x in node.args if x.keyword is None]
            if len(pos) >= 2:
                return TypeInfo("numpy.ndarray", _shape_ndim(pos[1].value), q)
        return None

    def _operands(self, node: cst.Call) -> tuple[TypeInfo | None, TypeInfo | None]:
        pos = [a for a in node.args if a.keyword is None and not a.star]
        if len(pos) != 2 or len(node.args) != 2:
            return None, None
        return self.type_of(pos[0].value), self.type_of(pos[1].value)

    def _numpy_array(self, q: str, mode: str, node: cst.Call) -> TypeInfo | None:
        if any(a.star for a in node.args):
            return TypeInfo("numpy.ndarray", None, q)
        pos = [a.value for a in node.args if a.keyword is None]
        kws = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        if mode == "shape":
            shape = pos[0] if pos else kws.get("shape", kws.get("size"))
            return TypeInfo("numpy.ndarray", _shape_ndim(shape) if shape is not None else None, q)
        if mode == "dims":
            return TypeInfo("numpy.ndarray", len(pos), q) if pos and not kws else None
        if mode == "size":
            size = kws.get("size")
            return TypeInfo("numpy.ndarray", _shape_ndim(size), q) if size is not None else None
        first = pos[0] if pos else None
        if mode == "reduce":
            arg = self.type_of(first) if first is not None else None
            if arg is None or arg.name != "numpy.ndarray":
                return None
            axis = kws.get("axis", pos[1] if len(pos) > 1 else None)
            return TypeInfo("numpy.ndarray", _reduced(arg.ndim, axis, kws.get("keepdims")), q)
        if first is None:
            return TypeInfo("numpy.ndarray", None, q)
        if mode == "array" and isinstance(first, (cst.List, cst.Tuple)):
            return TypeInfo("numpy.ndarray", self._nesting(first), q)
        arg = self.type_of(first)
        if arg is not None and arg.name == "numpy.ndarray":
            return replace(arg, source=q)
        if arg is not None and mode == "like" and arg.framework == "pandas":
            return arg  # ufuncs on pandas objects return pandas objects
        if arg is not None and mode == "array":
            ndim = {"pandas.DataFrame": 2, "pandas.Series": 1, "pandas.Index": 1}.get(arg.name)
            return TypeInfo("numpy.ndarray", ndim, q)
        return TypeInfo("numpy.ndarray", None, q)

    def _nesting(self, node: cst.BaseExpression) -> int | None:
        """``[[1, 2], [3, 4]]`` -> 2; ``[a, b]`` with ``a`` of unknown shape -> None."""
        if isinstance(node, (cst.List, cst.Tuple)):
            if not node.elements or any(isinstance(e, cst.StarredElement) for e in node.elements):
                return None
            depths = {self._nesting(e.value) for e in node.elements}
            if len(depths) != 1 or None in depths:
                return None
            inner = depths.pop()
            return None if inner is None else inner + 1
        if isinstance(node, (*_NUMBERS, cst.SimpleString)):
            return 0
        if isinstance(node, cst.UnaryOperation) and isinstance(node.expression, _NUMBERS):
            return 0
        t = self.type_of(node)
        if t is not None and t.name == "numpy.ndarray":
            return t.ndim
        return None

    def _method(self, recv: TypeInfo, m: str, node: cst.Call) -> TypeInfo | None:
        if recv.name == "numpy.ndarray":
            if m == "reshape":
                pos = [a.value for a in node.args if a.keyword is None and not a.star]
                if any(a.star for a in node.args) or not pos:
                    return TypeInfo("numpy.ndarray", None, recv.source)
                ndim = _shape_ndim(pos[0]) if len(pos) == 1 else len(pos)
                return TypeInfo("numpy.ndarray", ndim, recv.source)
            if m in self.k.reductions:
                kws = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
                pos = [a.value for a in node.args if a.keyword is None]
                axis = kws.get("axis", pos[0] if pos else None)
                return TypeInfo("numpy.ndarray", _reduced(recv.ndim, axis, kws.get("keepdims")), recv.source)
            if m in ("dot", "__matmul__"):
                other = self.type_of(node.args[0].value) if len(node.args) == 1 else None
                if other is not None and other.name == "numpy.ndarray":
                    return TypeInfo("numpy.ndarray", 2 if recv.ndim == other.ndim == 2 else None, recv.source)
                return None
        if recv.name == "torch.Tensor" and m in ("reshape", "view"):
            return replace(recv, ndim=None)
        result = self.k.methods.get(recv.name, {}).get(m)
        if result is None:
            return None
        if result == "same":
            return recv
        t = TypeInfo.parse(result, recv.source)
        if t.name == "numpy.ndarray" and t.ndim is None:
            size = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "size"), None)
            if size is not None:
                return replace(t, ndim=_shape_ndim(size))
        return t

    def _attribute(self, node: cst.Attribute) -> TypeInfo | None:
        key = dotted(node)
        if key is not None:
            head = key.partition(".")[0]
            if head in self.names.aliases and head not in self._local_names(head):
                return None  # `pd.api`, `np.linalg`: a module, not a value
            t = self.lookup(key)
            if t is None and key.startswith("self."):
                cls = self._class_frame()
                if cls is not None:
                    t = cls.vars.get(key)
            if t is not None and t is not _NONE:
                return t
        recv = self.type_of(node.value)
        if recv is None:
            return None
        attr = node.attr.value
        result = self.k.attributes.get(recv.name, {}).get(attr)
        if result is not None:
            return recv if result == "same" else TypeInfo.parse(result, recv.source)
        column = self.k.columns.get(recv.name)
        if column is None or attr.startswith("_") or attr in self.k.not_columns \
                or attr in self.k.methods.get(recv.name, {}):
            return None
        return TypeInfo(column, None, recv.source)

    def _local_names(self, name: str) -> set[str]:
        return {name for f in self.frames if name in f.vars}

    def _subscript(self, node: cst.Subscript) -> TypeInfo | None:
        recv = self.type_of(node.value)
        if recv is None:
            return None
        if recv.name == "numpy.ndarray":
            return TypeInfo("numpy.ndarray", _index_ndim(recv.ndim, node.slice), recv.source)
        if recv.name == "torch.Tensor":
            return replace(recv, ndim=None)
        table = self.k.subscripts.get(recv.name)
        if not table:
            return None
        result = table.get(self._key_kind(node.slice))
        return TypeInfo.parse(result, recv.source) if result is not None else None

    def _key_kind(self, elements: Iterable[cst.SubscriptElement]) -> str:
        els = list(elements)
        if len(els) != 1:
            return "other"
        sl = els[0].slice
        if isinstance(sl, cst.Slice):
            return "slice"
        v = sl.value  # type: ignore[attr-defined]
        if isinstance(v, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return "str"
        if isinstance(v, cst.List):
            return "list"
        if isinstance(v, cst.Name):
            named = self.lookup(v.value)
            if named is not None and named.name == "builtins.list":
                return "list"
        if isinstance(v, cst.Comparison) or (isinstance(v, cst.UnaryOperation) and isinstance(v.operator, cst.BitInvert)) \
                or (isinstance(v, cst.BinaryOperation) and isinstance(v.operator, (cst.BitAnd, cst.BitOr))):
            return "mask"
        t = self.type_of(v)
        if t is not None and t.name in ("pandas.Series", "pandas.NDFrame", "numpy.ndarray"):
            return "mask"
        return "other"

    def _binary(self, left: cst.BaseExpression, right: cst.BaseExpression,
                op: cst.BaseBinaryOp | cst.BaseAugOp) -> TypeInfo | None:
        matmul = isinstance(op, (cst.MatrixMultiply, cst.MatrixMultiplyAssign))
        if not matmul and not isinstance(op, _ARITH) and not isinstance(op, cst.BaseAugOp):
            return None
        a, b = self.type_of(left), self.type_of(right)
        if matmul:
            if a is not None and b is not None and a.name == b.name == "numpy.ndarray":
                return TypeInfo("numpy.ndarray", 2 if a.ndim == b.ndim == 2 else None, a.source)
            return None
        for x, y in ((a, b), (b, a)):  # a pandas object wins: `df * weights` is a frame
            if x is not None and x.framework == "pandas" and x.name != "pandas.Index":
                if y is not None and y.name == "pandas.DataFrame":
                    return y
                return x
        if a is not None and a.name == "numpy.ndarray":
            if b is None:
                return a if _is_number(right) else None
            if b.name == "numpy.ndarray":
                ndim = max(a.ndim, b.ndim) if a.ndim is not None and b.ndim is not None else None
                return replace(a, ndim=ndim)
            return None
        if b is not None and b.name == "numpy.ndarray" and _is_number(left):
            return b
        if a is not None and b is None and _is_number(right) and a.framework in ("torch", "polars", "xarray"):
            return a
        return None


_EXITS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _terminates(block: cst.BaseSuite | cst.If | cst.Else) -> bool:
    """Does control never leave ``block`` at its end (it returns, raises, continues or breaks)?"""
    if isinstance(block, cst.If):
        return _terminates(block.body) and block.orelse is not None and _terminates(block.orelse)
    if isinstance(block, cst.Else):
        return _terminates(block.body)
    if isinstance(block, cst.SimpleStatementSuite):
        return bool(block.body) and isinstance(block.body[-1], _EXITS)
    if isinstance(block, cst.IndentedBlock) and block.body:
        last = block.body[-1]
        if isinstance(last, cst.SimpleStatementLine):
            return bool(last.body) and isinstance(last.body[-1], _EXITS)
        if isinstance(last, cst.If):
            return _terminates(last)
    return False


def _is_number(node: cst.BaseExpression) -> bool:
    if isinstance(node, _NUMBERS):
        return True
    return isinstance(node, cst.UnaryOperation) and isinstance(node.expression, _NUMBERS)


def _shape_ndim(shape: cst.BaseExpression | None) -> int | None:
    """The number of dimensions a shape argument gives: ``(n, m)`` -> 2, ``5`` -> 1."""
    if isinstance(shape, (cst.Tuple, cst.List)):
        if any(isinstance(e, cst.StarredElement) for e in shape.elements):
            return None
        return len(shape.elements)
    if isinstance(shape, cst.Integer):
        return 1
    return None


def _reduced(ndim: int | None, axis: cst.BaseExpression | None, keepdims: cst.BaseExpression | None) -> int | None:
    """Dimensions left by a reduction over ``axis`` (None: unknown or a scalar)."""
    if ndim is None or axis is None:
        return None
    if isinstance(keepdims, cst.Name) and keepdims.value == "True":
        return ndim
    if isinstance(axis, cst.Integer) or (isinstance(axis, cst.UnaryOperation) and isinstance(axis.expression, cst.Integer)):
        out = ndim - 1
    elif isinstance(axis, cst.Tuple) and all(isinstance(e.value, cst.Integer) for e in axis.elements):
        out = ndim - len(axis.elements)
    else:
        return None
    return out if out > 0 else None


def _index_ndim(ndim: int | None, elements: Iterable[cst.SubscriptElement]) -> int | None:
    """Dimensions left after indexing: slices keep one, an int literal drops one, None adds one."""
    if ndim is None:
        return None
    out = ndim
    for el in elements:
        sl = el.slice
        if isinstance(sl, cst.Slice):
            continue
        v = sl.value  # type: ignore[attr-defined]
        if isinstance(v, cst.Integer) or (isinstance(v, cst.UnaryOperation) and isinstance(v.expression, cst.Integer)):
            out -= 1
        elif isinstance(v, cst.Name) and v.value == "None":
            out += 1
        else:
            return None
    return out if out > 0 else None


class _Diverged(Exception):
    """A rule's query would change a shared tracker's state (see :class:`ReceiverView`)."""


class ReceiverFeed:
    """The walk's side of one :class:`ReceiverTracker` shared by the rules of a file.

    Made once per file by :func:`shared_receivers`; the engine calls its handlers before any
    rule's, for the same nodes and in the same order as :class:`TracksReceivers` feeds a
    rule's own tracker. It also feeds the private copies of rules that diverged.
    """

    def __init__(self, names: NameResolver, knowledge: Mapping[str, Any]) -> None:
        self.main = ReceiverTracker(names, knowledge)
        self.trackers = [self.main]

    def visit_Module(self, node: cst.Module) -> None:
        for t in self.trackers:
            t.enter_module(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for t in self.trackers:
            t.enter_function(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        for t in self.trackers:
            t.leave_function(node)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        for t in self.trackers:
            t.enter_function(node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        for t in self.trackers:
            t.leave_function(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for t in self.trackers:
            t.enter_class(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        for t in self.trackers:
            t.leave_class()

    def visit_BaseComp(self, node: cst.BaseComp) -> None:
        for t in self.trackers:
            t.enter_comprehension(node)

    def leave_BaseComp(self, node: cst.BaseComp) -> None:
        for t in self.trackers:
            t.leave_comprehension()

    def leave_Assign(self, node: cst.Assign) -> None:
        for t in self.trackers:
            t.assign(node)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        for t in self.trackers:
            t.assign(node)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        for t in self.trackers:
            t.assign(node)

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        for t in self.trackers:
            t.assign(node)

    def visit_For(self, node: cst.For) -> None:
        for t in self.trackers:
            t.enter_branch(node)
            t.bind_loop(node)

    def leave_For(self, node: cst.For) -> None:
        for t in self.trackers:
            t.leave_branch(node)

    def visit_While(self, node: cst.While) -> None:
        for t in self.trackers:
            t.enter_branch(node)

    def leave_While(self, node: cst.While) -> None:
        for t in self.trackers:
            t.leave_branch(node)

    def visit_If(self, node: cst.If) -> None:
        for t in self.trackers:
            t.enter_orelse(node)  # an `elif`
            t.enter_branch(node)

    def leave_If(self, node: cst.If) -> None:
        for t in self.trackers:
            t.leave_branch(node)

    def visit_Else(self, node: cst.Else) -> None:
        for t in self.trackers:
            t.enter_orelse(node)

    def visit_With(self, node: cst.With) -> None:
        for t in self.trackers:
            t.bind_with(node)

    def visit_Return(self, node: cst.Return) -> None:
        for t in self.trackers:
            t.returned(node)


class ReceiverView:
    """A rule's read access to the file's shared :class:`ReceiverTracker`.

    Answers exactly what a tracker of the rule's own (fed by :class:`TracksReceivers`) would:
    the shared tracker is fed the same events, and a rule's handlers never look at it at a
    node where the feed and the rule handle the same event. The one query that changes a
    tracker (the first call of a same-file function whose return annotation is not resolved
    yet, which resolves it with the imports seen so far) would differ; then the rule gets a
    private copy of the state, fed from then on with the shared one.
    """

    __slots__ = ("_feed", "_tracker")

    def __init__(self, feed: ReceiverFeed) -> None:
        self._feed = feed
        self._tracker = feed.main

    def type_of(self, node: cst.BaseExpression) -> TypeInfo | None:
        t = self._tracker
        if t is not self._feed.main:
            return t.type_of(node)
        t._querying = True
        try:
            return t.type_of(node)
        except _Diverged:
            pass
        finally:
            t._querying = False
        own = self._tracker = t.clone()
        self._feed.trackers.append(own)
        return own.type_of(node)

    def is_bound(self, name: str) -> bool:
        return self._tracker.is_bound(name)


def shared_receivers(ctx: Any) -> ReceiverView:
    """The file's shared tracker, for a rule that only queries it (``type_of``, ``is_bound``).

    Use instead of a :class:`ReceiverTracker` of the rule's own with :class:`TracksReceivers`
    when the rule's handlers never query it at a node the tracker itself handles in the same
    phase (``leave_Assign``, ``visit_If``...; see the mixin); one tracker serves all such
    rules of a file.
    """
    feed = ctx.shared(ReceiverFeed, lambda: ReceiverFeed(ctx.names, ctx.knowledge))
    return ReceiverView(feed)


class TracksReceivers:
    """Mixin for rules: feeds ``self.types`` (a :class:`ReceiverTracker`) during the walk.

    The rule sets ``self.types = ReceiverTracker(ctx.names, ctx.knowledge)`` in ``__init__``.
    Each handler calls the next class's handler of the same name (if any), so this mixin
    composes with :class:`~mldebt.rules.flow.FollowsValues` placed after it.
    """

    types: ReceiverTracker

    def _next(self, name: str, node: cst.CSTNode) -> None:
        fn = getattr(super(), name, None)
        if fn is not None:
            fn(node)

    def visit_Module(self, node: cst.Module) -> None:
        self.types.enter_module(node)
        self._next("visit_Module", node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.types.enter_function(node)
        self._next("visit_FunctionDef", node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.types.leave_function(node)
        self._next("leave_FunctionDef", node)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.types.enter_function(node)
        self._next("visit_Lambda", node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.types.leave_function(node)
        self._next("leave_Lambda", node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.types.enter_class(node)
        self._next("visit_ClassDef", node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.types.leave_class()
        self._next("leave_ClassDef", node)

    def visit_BaseComp(self, node: cst.BaseComp) -> None:
        self.types.enter_comprehension(node)
        self._next("visit_BaseComp", node)

    def leave_BaseComp(self, node: cst.BaseComp) -> None:
        self.types.leave_comprehension()
        self._next("leave_BaseComp", node)

    def leave_Assign(self, node: cst.Assign) -> None:
        self.types.assign(node)
        self._next("leave_Assign", node)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.types.assign(node)
        self._next("leave_AnnAssign", node)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        self.types.assign(node)
        self._next("leave_AugAssign", node)

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.types.assign(node)
        self._next("leave_NamedExpr", node)

    def visit_For(self, node: cst.For) -> None:
        self.types.enter_branch(node)
        self.types.bind_loop(node)
        self._next("visit_For", node)

    def leave_For(self, node: cst.For) -> None:
        self.types.leave_branch(node)
        self._next("leave_For", node)

    def visit_While(self, node: cst.While) -> None:
        self.types.enter_branch(node)
        self._next("visit_While", node)

    def leave_While(self, node: cst.While) -> None:
        self.types.leave_branch(node)
        self._next("leave_While", node)

    def visit_If(self, node: cst.If) -> None:
        self.types.enter_orelse(node)  # an `elif`
        self.types.enter_branch(node)
        self._next("visit_If", node)

    def leave_If(self, node: cst.If) -> None:
        self.types.leave_branch(node)
        self._next("leave_If", node)

    def visit_Else(self, node: cst.Else) -> None:
        self.types.enter_orelse(node)
        self._next("visit_Else", node)

    def visit_With(self, node: cst.With) -> None:
        self.types.bind_with(node)
        self._next("visit_With", node)

    def visit_Return(self, node: cst.Return) -> None:
        self.types.returned(node)
        self._next("visit_Return", node)
