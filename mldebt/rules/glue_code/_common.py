"""Glue code: which statements convert data formats and which call an ML API, per function.

A :class:`GlueTracker`, driven in source order by the rules' ``visit_*``/``leave_*``
methods (inherit :class:`TracksGlue`), splits a file into *units* (each function, and the
module's top level) and counts, per unit, its statements (each small statement, and the
header of each ``if``/``for``/``while``/``with``/``match``; docstrings, ``pass``, imports
and nested definitions excluded) and which of them

- call an ML API (``fit``, ``predict``, ``transform``, ``forward``, ``compile``, a model
  object, ``xgboost.train``, ...): *ML statements*;
- convert data from one format to another (``.values``, ``.to_numpy()``, ``.tolist()``,
  ``np.array(...)``, ``pd.DataFrame(...)``, ``torch.tensor(...)``, ``.numpy()``, JSON round
  trips, row-by-row loops over a DataFrame) and call no ML API: *conversion statements*.

A conversion counts only with evidence of what it converts: a qualified call resolved
through imports (``onp.asarray``, ``from torch import tensor``), or a method whose
receiver is followed to a value of the right package (bound from a pandas call, annotated
``pd.DataFrame``, reached through ``.cpu()``/``.detach()``, named ``df`` in a file importing
pandas), or, for the few method names no other library uses (``.numpy()``,
``.to_numpy()``), a file that imports the package. Calls whose first argument is a literal
(``np.array([1, 2])``) create data; they convert nothing.

What converts, what is an ML call and which packages are ML frameworks is data: the
``glue`` entry of the knowledge section of ``rules/glue-code.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Rule, Sink, compiled
from mldebt.rules.flow import Knowledge, name_tokens
from mldebt.rules.names import dotted, import_base

PYTHON = "python"  # the package label of Python lists, dicts and JSON text
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)
_CONSTANTS = frozenset({"True", "False", "None"})
_HEADERS = (cst.If, cst.For, cst.While, cst.With, cst.Match)
_UNCOUNTED = (cst.Pass, cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)
_BUILDERS = frozenset({"append", "extend", "add", "update", "setdefault", "insert", "appendleft"})
_MODEL_ORIGINS = frozenset({"scikit-learn", "xgboost", "lightgbm", "catboost"})
_SELF = frozenset({"self", "cls"})  # a class's own `.to_numpy()` is not pandas'
_DATA_RECEIVERS = frozenset({"pandas", "numpy", "polars", "pyarrow", PYTHON})


@dataclass(frozen=True, slots=True)
class MethodConversion:
    sources: tuple[str, ...]  # packages of the receiver it converts
    target: str
    attribute: bool  # `.values`, not called
    by_name: bool  # an import of a source package is evidence enough


class GlueKnowledge:
    """The ``glue`` knowledge compiled once per process."""

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> GlueKnowledge:
        return compiled(raw, cls)

    def __init__(self, knowledge: Mapping[str, Any]) -> None:
        g: Mapping[str, Any] = knowledge.get("glue") or {}

        def s(key: str) -> frozenset[str]:
            return frozenset(g.get(key) or ())

        self.packages: dict[str, str] = dict(g.get("packages") or {})
        self.frameworks = s("frameworks")
        self.conversion_functions: dict[str, str] = dict(g.get("conversion_functions") or {})
        self.conversion_methods = {
            name: MethodConversion(tuple(spec.get("from") or ()), str(spec["to"]),
                                   bool(spec.get("attribute")), bool(spec.get("by_name")))
            for name, spec in (g.get("conversion_methods") or {}).items()
        }
        json_fns = tuple(g.get("json_round_trip") or ())
        self.json_dumps, self.json_loads = (json_fns + ("", ""))[:2]
        self.package_methods: dict[str, str] = dict(g.get("package_methods") or {})
        self.df_tokens = s("dataframe_name_tokens")
        self.non_value_attributes, self.non_value_methods = s("non_value_attributes"), s("non_value_methods")
        self.row_iterators = s("row_iterators")
        self.ml_methods, self.ml_functions = s("ml_methods"), s("ml_functions")
        self.ml_call_modules = s("ml_call_modules")
        self.numpy_result_methods = s("numpy_result_methods")
        self.interface_methods = s("interface_methods")
        self.model_tokens = s("model_call_tokens")
        self.factory_words = s("factory_words")
        self.flow = Knowledge.of(knowledge)  # `modelish` names, model base classes

    def label(self, qualified: str) -> str | None:
        """The package label of a qualified name (``pandas.read_csv`` -> ``pandas``)."""
        return self.packages.get(qualified.partition(".")[0])


@dataclass(slots=True)
class Unit:
    """A function (or the module's top level) and what its statements do."""

    node: cst.FunctionDef | None
    name: str
    interface: bool = False  # a method implementing an estimator or model interface (an adapter)
    statements: int = 0
    conversions: int = 0  # statements that convert formats and call no ML API
    ml: int = 0  # statements that call an ML API
    ml_names: dict[str, None] = field(default_factory=dict)  # ordered set: `fit`, `xgboost.train`
    packages: dict[str, None] = field(default_factory=dict)  # packages the conversions involve
    frameworks: dict[str, None] = field(default_factory=dict)  # ML frameworks converted from or to
    ml_frameworks: dict[str, None] = field(default_factory=dict)  # ML frameworks called
    spellings: dict[str, None] = field(default_factory=dict)  # `.values`, `torch.tensor()`
    vars: dict[str, str | None] = field(default_factory=dict)  # local name -> package label

    @property
    def ratio(self) -> float:
        return self.conversions / self.statements if self.statements else 0.0


@dataclass(slots=True)
class _Stmt:
    conv: bool = False
    ml: bool = False


class GlueTracker:
    """Counts conversion and ML statements per unit; see the module docstring."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.k = GlueKnowledge.of(ctx.knowledge)
        self.module_unit = Unit(None, "<module>")
        self.units: list[Unit] = [self.module_unit]
        self.closed: list[Unit] = []  # every function unit, in the order they end
        self._stmts: list[_Stmt | None] = []
        self._containers: list[str] = []  # "class" | "function"
        self._self_attrs: list[dict[str, str | None]] = []  # per class: `self.x` -> package
        self._skip_attrs: set[int] = set()  # `.values` that are called (`d.values()`)
        self._row_loop_body: dict[int, str] = {}  # statement id -> package of the loop
        self.imports: dict[str, cst.CSTNode] = {}  # package label -> its first import
        self.own = ctx.module.partition(".")[0]

    # -- driving -------------------------------------------------------------------
    def enter_small(self, node: cst.BaseSmallStatement) -> None:
        t = type(node)
        if t is cst.Import or t is cst.ImportFrom:
            self._note_import(node)  # type: ignore[arg-type]
        counted = not (t in _UNCOUNTED or (t is cst.Expr and _is_noop(node.value)))  # type: ignore[attr-defined]
        self._stmts.append(_Stmt() if counted else None)

    def leave_small(self, node: cst.BaseSmallStatement) -> None:
        st = self._stmts.pop()
        t = type(node)
        if t is cst.Assign:
            pkg = self.package_of(node.value)  # type: ignore[attr-defined]
            for target in node.targets:  # type: ignore[attr-defined]
                self._bind(target.target, pkg, node.value)  # type: ignore[attr-defined]
        elif t is cst.AnnAssign and node.value is not None:  # type: ignore[attr-defined]
            self._bind(node.target, self.package_of(node.value) or self._annotation(node.annotation.annotation))  # type: ignore[attr-defined]
        if st is not None:
            loop = self._row_loop_body.pop(id(node), None)
            if loop is not None and not st.ml:
                st.conv = True
                self._conversion(loop, PYTHON, "a row-by-row loop")
            self._count(st)

    def enter_compound(self, node: cst.BaseCompoundStatement) -> None:
        t = type(node)
        if t is cst.FunctionDef:
            self._enter_function(node)  # type: ignore[arg-type]
        elif t is cst.ClassDef:
            self._containers.append("class")
            self._self_attrs.append({})
        self._stmts.append(_Stmt() if t in _HEADERS else None)
        if t is cst.For:
            self._row_loop(node)  # type: ignore[arg-type]

    def leave_compound(self, node: cst.BaseCompoundStatement) -> Unit | None:
        """Returns the unit of a function that ends here."""
        st = self._stmts.pop()
        if st is not None:
            self._count(st)
        t = type(node)
        if t is cst.FunctionDef:
            self._containers.pop()
            unit = self.units.pop()
            self.closed.append(unit)
            return unit
        if t is cst.ClassDef:
            self._containers.pop()
            self._self_attrs.pop()
        return None

    def call(self, node: cst.Call) -> None:
        st = self._stmts[-1] if self._stmts else None
        if st is None:
            return
        func = node.func
        t = type(func)
        if t is cst.Attribute:
            name = func.attr.value  # type: ignore[attr-defined]
            spec = self.k.conversion_methods.get(name)
            if spec is not None:
                if spec.attribute:
                    self._skip_attrs.add(id(func))  # `d.values()` is a dict's
                    return
                src = self._method_source(spec, func.value)  # type: ignore[attr-defined]
                if src is not None:
                    st.conv = True
                    self._conversion(src, spec.target, f".{name}()")
                return
        elif t is not cst.Name:
            return
        q = self._imported(func)
        if q is not None:  # an imported function or class, not a method or a model object
            k = self.k
            if q in k.ml_functions:
                self._ml(st, q, k.label(q))
            elif q in k.conversion_functions:
                self._function_conversion(st, node, q, k.conversion_functions[q])
            elif q == k.json_loads:
                self._json_round_trip(st, node)
            elif self._ml_module_function(q):
                self._ml(st, q, k.label(q))  # `sklearn.metrics.roc_auc_score(...)`
            return
        if t is cst.Attribute and func.attr.value in self.k.ml_methods:  # type: ignore[attr-defined]
            recv = self.package_of(func.value)  # type: ignore[attr-defined]
            if recv not in _DATA_RECEIVERS:  # not `df.transform(...)`
                self._ml(st, func.attr.value, recv)  # type: ignore[attr-defined]
        elif self._is_model_call(func):
            self._ml(st, f"{dotted(func)}()", None)

    def attribute(self, node: cst.Attribute) -> None:
        st = self._stmts[-1] if self._stmts else None
        if st is None or id(node) in self._skip_attrs:
            return
        spec = self.k.conversion_methods.get(node.attr.value)
        if spec is not None and spec.attribute:
            src = self.package_of(node.value)
            if src in spec.sources:
                st.conv = True
                self._conversion(src, spec.target, f".{node.attr.value}")

    # -- what a value is -----------------------------------------------------------
    def package_of(self, e: cst.BaseExpression, depth: int = 0) -> str | None:
        """The package label of the value ``e`` holds, when there is evidence; else None."""
        if depth > 20:
            return None
        t = type(e)
        k = self.k
        if t is cst.Name:
            name = e.value  # type: ignore[attr-defined]
            for unit in reversed(self.units):
                if name in unit.vars:
                    v = unit.vars[name]
                    return v if v is not None else self._named_frame(name)
            return self._named_frame(name)
        if t is cst.Attribute:
            attr = e.attr.value  # type: ignore[attr-defined]
            if attr in k.non_value_attributes:
                return None
            spec = k.conversion_methods.get(attr)
            if spec is not None and spec.attribute:
                return spec.target if self.package_of(e.value, depth + 1) in spec.sources else None  # type: ignore[attr-defined,operator]
            pm = k.package_methods.get(attr)
            if pm is not None and pm in self.imports:
                return pm
            d = dotted(e)
            if d is not None:
                if d.startswith("self.") and self._self_attrs:
                    v = self._self_attrs[-1].get(d)
                    if v is not None:
                        return v
                    return self._named_frame(attr)
                if d.partition(".")[0] in self.ctx.names.aliases:
                    return None  # a module attribute (`np.pi`, `torch.float32`), not data
            return self.package_of(e.value, depth + 1)  # type: ignore[attr-defined]
        if t is cst.Call:
            func = e.func  # type: ignore[attr-defined]
            if type(func) is cst.Attribute:
                head = dotted(func)
                if head is None or head.partition(".")[0] not in self.ctx.names.aliases:
                    return self._method_result(func, depth)
            q = self.ctx.names.qualified(func)
            if q is None or q.startswith("builtins."):
                return None
            return k.conversion_functions.get(q) or k.label(q)
        if t is cst.Subscript:
            return self.package_of(e.value, depth + 1)  # type: ignore[attr-defined]
        if t is cst.BinaryOperation:
            return self.package_of(e.left, depth + 1) or self.package_of(e.right, depth + 1)  # type: ignore[attr-defined]
        if t is cst.UnaryOperation:
            return self.package_of(e.expression, depth + 1)  # type: ignore[attr-defined]
        return None

    def _method_result(self, func: cst.Attribute, depth: int) -> str | None:
        k = self.k
        m = func.attr.value
        spec = k.conversion_methods.get(m)
        if spec is not None and not spec.attribute:
            return spec.target if self._method_source(spec, func.value, depth + 1) is not None else None
        pm = k.package_methods.get(m)
        if pm is not None and pm in self.imports:
            return pm
        if m in k.non_value_methods:
            return None
        src = self.package_of(func.value, depth + 1)
        if src in _MODEL_ORIGINS and m in k.numpy_result_methods:
            return "numpy"
        return src

    def _method_source(self, spec: MethodConversion, receiver: cst.BaseExpression, depth: int = 0) -> str | None:
        src = self.package_of(receiver, depth)
        if src in spec.sources:
            return src
        if src is None and spec.by_name and not (type(receiver) is cst.Name and receiver.value in _SELF):  # type: ignore[attr-defined]
            for p in spec.sources:
                if p in self.imports:
                    return p
        return None

    def _named_frame(self, name: str) -> str | None:
        """`df`, `train_df`: a DataFrame by name, in a file that imports pandas."""
        if "pandas" in self.imports and any(t in self.k.df_tokens for t in name_tokens(name)):
            return "pandas"
        return None

    def _annotation(self, node: cst.BaseExpression) -> str | None:
        stack = [node]
        while stack:
            e = stack.pop()
            if type(e) in (cst.Name, cst.Attribute):
                q = self.ctx.names.qualified(e)
                label = self.k.label(q) if q is not None else None
                if label is not None:
                    return label
            elif type(e) is cst.Subscript:
                stack.append(e.value)  # type: ignore[attr-defined]
                for el in e.slice:  # type: ignore[attr-defined]
                    if isinstance(el.slice, cst.Index):
                        stack.append(el.slice.value)
            elif type(e) is cst.BinaryOperation:
                stack += (e.left, e.right)  # type: ignore[attr-defined]
        return None

    # -- internals -----------------------------------------------------------------
    def _enter_function(self, node: cst.FunctionDef) -> None:
        in_class = bool(self._containers) and self._containers[-1] == "class"
        self._containers.append("function")
        unit = Unit(node, node.name.value, interface=in_class and node.name.value in self.k.interface_methods)
        self.units[-1].vars[node.name.value] = None
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            ann = param.annotation
            unit.vars[param.name.value] = self._annotation(ann.annotation) if ann is not None else None
        self.units.append(unit)

    def _bind(self, target: cst.BaseExpression, pkg: str | None, value: cst.BaseExpression | None = None) -> None:
        t = type(target)
        if t is cst.Name:
            self.units[-1].vars[target.value] = pkg  # type: ignore[attr-defined]
        elif t is cst.Attribute:
            d = dotted(target)
            if d is not None and d.startswith("self.") and self._self_attrs:
                self._self_attrs[-1][d] = pkg
        elif t is cst.Tuple or t is cst.List:
            elts = target.elements  # type: ignore[attr-defined]
            values = value.elements if type(value) in (cst.Tuple, cst.List) else None  # type: ignore[union-attr]
            for i, el in enumerate(elts):
                sub = None
                if values is not None and len(values) == len(elts) and isinstance(values[i], cst.Element):
                    sub = self.package_of(values[i].value)
                self._bind(el.value, sub)

    def _count(self, st: _Stmt) -> None:
        unit = self.units[-1]
        unit.statements += 1
        if st.ml:
            unit.ml += 1
        elif st.conv:
            unit.conversions += 1

    def _conversion(self, source: str | None, target: str, spelling: str) -> None:
        unit = self.units[-1]
        for p in (source, target):
            if p is not None and p != PYTHON:
                unit.packages.setdefault(p)
                if p in self.k.frameworks:
                    unit.frameworks.setdefault(p)
        unit.spellings.setdefault(spelling)

    def _ml(self, st: _Stmt, name: str, framework: str | None) -> None:
        st.ml = True
        unit = self.units[-1]
        unit.ml_names.setdefault(name)
        if framework is not None and framework in self.k.frameworks:
            unit.ml_frameworks.setdefault(framework)

    def _function_conversion(self, st: _Stmt, node: cst.Call, q: str, target: str) -> None:
        args = [a for a in node.args if a.keyword is None and not a.star]
        if not args or _is_literal(args[0].value):
            return  # `np.array([1, 2])`, `torch.tensor(0.0)`: data created, not converted
        src = self.package_of(args[0].value)
        if src == target:
            return  # `np.asarray(np.zeros(3))`: nothing changes format
        st.conv = True
        short = q.rpartition(".")[2]
        alias = {"numpy": "np", "pandas": "pd", "tensorflow": "tf", "xgboost": "xgb", "lightgbm": "lgb"}
        top, _, rest = q.partition(".")
        self._conversion(src, target, f"{alias.get(top, top)}.{rest}()" if rest else f"{short}()")

    def _json_round_trip(self, st: _Stmt, node: cst.Call) -> None:
        """`json.loads(json.dumps(x))`."""
        inner = node.args[0].value if node.args else None
        if type(inner) is cst.Call and self._imported(inner.func) == self.k.json_dumps:
            st.conv = True
            args = inner.args  # type: ignore[attr-defined]
            self._conversion(self.package_of(args[0].value) if args else None, PYTHON, "a JSON round trip")

    def _ml_module_function(self, q: str) -> bool:
        mod, _, fn = q.rpartition(".")
        if not fn[:1].islower() or q.partition(".")[0] == self.own:
            return False
        while mod:
            if mod in self.k.ml_call_modules:
                return True
            mod = mod.rpartition(".")[0]
        return False

    def _imported(self, func: cst.BaseExpression) -> str | None:
        """The qualified name of a callee reached through an import (not a builtin)."""
        d = dotted(func)
        if d is None or d.partition(".")[0] not in self.ctx.names.aliases:
            return None
        return self.ctx.names.qualified(func)

    def _row_loop(self, node: cst.For) -> None:
        """`for _, row in df.iterrows(): xs.append(row.a)`: reshaping data row by row."""
        it = node.iter
        if type(it) is not cst.Call or type(it.func) is not cst.Attribute:
            return
        if it.func.attr.value not in self.k.row_iterators or self.package_of(it.func.value) != "pandas":
            return
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        smalls: list[cst.BaseSmallStatement] = []
        for stmt in body:
            if type(stmt) is not cst.SimpleStatementLine:
                return
            smalls.extend(stmt.body)
        if not smalls or not all(_builds(s) for s in smalls):
            return
        st = self._stmts[-1]
        if st is not None:
            st.conv = True
        for s in smalls:
            self._row_loop_body[id(s)] = "pandas"

    def _is_model_call(self, func: cst.BaseExpression) -> bool:
        """`model(x)`, `self.net(batch)`: a forward pass of a model object held in a parameter,
        a variable or an attribute (not `build_model()`, `self.add_module()`, `Model()`)."""
        if type(func) is cst.Name:
            name = func.value  # type: ignore[attr-defined]
            if name in self.ctx.names.local_defs or not any(name in u.vars for u in self.units):
                return False  # a function or class, defined here or imported
        elif type(func) is cst.Attribute:
            name = func.attr.value  # type: ignore[attr-defined]
        else:
            return False
        if not name[:1].islower() and name[:1] != "_":
            return False
        toks = name_tokens(name)
        if not toks or not (toks[-1] in self.k.model_tokens or self.k.flow.modelish(name)):
            return False
        return len(toks) == 1 or toks[0] not in self.k.factory_words

    def _note_import(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            mods = [dotted(a.name) for a in node.names]  # type: ignore[arg-type]
        else:
            mods = [import_base(self.ctx.names.module, self.ctx.names.is_package, node)]
        for mod in mods:
            if not mod:
                continue
            top = mod.partition(".")[0]
            label = self.k.packages.get(top)
            if label is not None and top != self.own:
                self.imports.setdefault(label, node)


def _is_noop(e: cst.BaseExpression) -> bool:
    return type(e) in (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis, cst.FormattedString)


def _is_literal(e: cst.BaseExpression) -> bool:
    t = type(e)
    if t in _LITERALS:
        return True
    if t is cst.Name:
        return e.value in _CONSTANTS  # type: ignore[attr-defined]
    if t is cst.UnaryOperation:
        return _is_literal(e.expression)  # type: ignore[attr-defined]
    if t in (cst.List, cst.Tuple, cst.Set):
        return all(isinstance(el, cst.Element) and _is_literal(el.value) for el in e.elements)  # type: ignore[attr-defined]
    return False


def _builds(s: cst.BaseSmallStatement) -> bool:
    """An assignment, or a call of a collection builder (`rows.append(...)`)."""
    t = type(s)
    if t in (cst.Assign, cst.AugAssign, cst.AnnAssign):
        return True
    if t is cst.Expr and type(s.value) is cst.Call:  # type: ignore[attr-defined]
        func = s.value.func  # type: ignore[attr-defined]
        return type(func) is cst.Attribute and func.attr.value in _BUILDERS
    return False


class _GlueFeed:
    """Drives the file's one :class:`GlueTracker`, before the rules (see ``FileContext.shared``)."""

    def __init__(self, ctx: FileContext) -> None:
        self.glue = GlueTracker(ctx)

    def visit_BaseSmallStatement(self, node: cst.BaseSmallStatement) -> None:
        self.glue.enter_small(node)

    def leave_BaseSmallStatement(self, node: cst.BaseSmallStatement) -> None:
        self.glue.leave_small(node)

    def visit_BaseCompoundStatement(self, node: cst.BaseCompoundStatement) -> None:
        self.glue.enter_compound(node)

    def leave_BaseCompoundStatement(self, node: cst.BaseCompoundStatement) -> None:
        self.glue.leave_compound(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.glue.call(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.glue.attribute(node)


class TracksGlue(Rule):
    """Reads the file's :class:`GlueTracker` (``self.glue``, one for all glue rules, fed by the
    walk before any rule sees a node); subclasses judge in :meth:`judge_function`."""

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.glue = ctx.shared(_GlueFeed, lambda: _GlueFeed(ctx)).glue

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        # the tracker closed this function's unit just before (GlueTracker.leave_compound)
        self.judge_function(self.glue.closed[-1])

    def judge_function(self, unit: Unit) -> None:
        """Called when a function ends, with what its statements do."""


def packages_text(packages: Mapping[str, None] | list[str]) -> str:
    items = list(packages)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def code_list(items: Mapping[str, None] | list[str], limit: int = 4) -> str:
    """`a`, `b`, `c` and 2 more (code in backticks, descriptions such as "row-by-row loop" not)."""
    names = list(items)
    shown = ", ".join(n if " " in n else f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
