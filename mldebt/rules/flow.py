"""Following values within a function and a module: which expressions hold a model score.

A :class:`ValueTracker` answers "is this expression derived from a model score, a
probability, a loss or a metric; from where; how sure are we?" It is rule-agnostic and
cheap: no libcst metadata, a dict lookup per name, and an expression is evaluated only as
far as its outer operations allow (``probs[:, 1].item()`` -> ``probs`` -> the
``predict_proba`` call it was bound from).

A rule drives it in source order. The simplest way is to inherit :class:`FollowsValues`
(its ``visit_*``/``leave_*`` methods feed the tracker) and set ``self.flow`` in
``__init__``; a rule that defines one of those methods itself calls ``super()``.

What it knows about values:

- an :class:`Origin` of kind ``probability``, ``decision``, ``log_probability``,
  ``prediction``, ``model_output``, ``metric`` or ``loss``, with a confidence (``high``
  when an API says so, ``medium`` when a method or callee *name* does: ``.predict()``,
  ``model(x)``, ``criterion(...)``);
- an :class:`Origin` of kind ``name`` (confidence ``low``): nothing but a name or key reads
  like a score (``val_loss``, ``df["churn_proba"]``), followed through assignments;
- an :class:`Origin` of kind ``param``: derived from a parameter of the current function,
  so that ``def ensemble(ps): return np.mean(ps, 0)`` passes its argument's origin on;
- ``KILLED``: known not to be a score (an index, a size, a boolean mask, a literal);
- ``None``: nothing known.

What produces a score, and which operations keep or destroy score-ness, is data: the
``knowledge:`` section of ``rules/knowledge.yaml``. Binding is flow-insensitive within a
block (the last assignment in source order wins), and the analysis is intra-file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fnmatch import translate
from functools import lru_cache
from typing import Any, Mapping, Union

import libcst as cst

from mldebt.rules.base import compiled
from mldebt.rules.names import NameResolver, dotted

SCORE_KINDS = frozenset(
    {"probability", "decision", "log_probability", "prediction", "model_output", "metric", "loss"}
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a score-derived value (or a score-producing object) comes from."""

    kind: str  # one of SCORE_KINDS, or "name" (spelling only) or "param" (a parameter)
    source: str  # the producing API or expression, e.g. "clf.predict_proba"
    confidence: str  # "high" | "medium" | "low"
    detail: str = ""  # e.g. "a torch.nn.CrossEntropyLoss" for a call of a loss object
    obj: bool = False  # a callable object (model, loss, metric); calling it yields ``kind``
    pair: bool = False  # a (values, indices) result: only the values stay score-derived
    parts: tuple[Any, ...] | None = None  # a tuple of values: Origin | KILLED | None each
    param: int = -1  # derived from this positional parameter of the enclosing function

    @property
    def is_value(self) -> bool:
        return not self.obj and self.parts is None

    @property
    def rank(self) -> int:
        """2 for API evidence, 1 for a name, 0 for a parameter pass-through."""
        return 0 if self.kind == "param" else 1 if self.kind == "name" else 2


class _Killed:
    """A value known *not* to be a score (an index, a count, a size, a boolean mask)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KILLED"


KILLED = _Killed()
Value = Union[Origin, _Killed, None]


@dataclass(frozen=True, slots=True)
class Literal:
    value: float
    text: str  # as written, e.g. "0.73" or "-2"
    is_int: bool
    via: str | None = None  # the local variable that carried it


class _Frame:
    __slots__ = ("kind", "name", "vars", "literals", "funcs", "params")

    def __init__(self, kind: str, name: str = "") -> None:
        self.kind = kind  # module | class | function | lambda | comp
        self.name = name
        self.vars: dict[str, Value] = {}
        self.literals: dict[str, Literal] = {}
        self.funcs: dict[str, tuple[Origin, tuple[str, ...]]] = {}  # name -> (returns, params)
        self.params: tuple[str, ...] = ()


_NUMBERS = (cst.Integer, cst.Float)
_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)
_RAW = frozenset({"model_output", "param", "prediction", "name"})
_AGGREGATES = frozenset({"sum", "mean", "builtins.sum", "numpy.sum", "numpy.mean", "torch.sum", "torch.mean"})
_ARG_VALIDATION = frozenset({"ValueError", "TypeError", "ArgumentTypeError", "ArgumentError"})
_SPLIT = re.compile(r"([a-z0-9])([A-Z])")
_VERBS = frozenset(
    "build get create load make init setup wrap compile save export train fit prepare configure "
    "freeze unwrap is has set reset register update check validate convert".split()
)


@lru_cache(maxsize=8192)
def name_tokens(name: str) -> tuple[str, ...]:
    """``val_AUC`` -> ("val", "auc"); ``F1Score`` -> ("f1", "score")."""
    return tuple(t for t in _SPLIT.sub(r"\1_\2", name).lower().split("_") if t)


def raises_argument_error(stmt: cst.BaseStatement | cst.BaseSmallStatement | None) -> bool:
    """``raise ValueError(...)`` / ``raise TypeError`` — the body of an argument check."""
    if isinstance(stmt, cst.SimpleStatementLine):
        stmt = stmt.body[0]
    if not isinstance(stmt, cst.Raise) or stmt.exc is None:
        return False
    exc = stmt.exc.func if isinstance(stmt.exc, cst.Call) else stmt.exc
    name = dotted(exc)
    return name is not None and name.rpartition(".")[2] in _ARG_VALIDATION


class Knowledge:
    """The ``knowledge:`` lists compiled into sets, dicts and regexes (once per process)."""

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> "Knowledge":
        return compiled(raw, cls)

    def __init__(self, k: Mapping[str, Any]) -> None:
        def s(key: str) -> frozenset[str]:
            return frozenset(k.get(key) or ())

        def d(key: str) -> dict[str, str]:
            return dict(k.get(key) or {})

        def pat(key: str) -> re.Pattern[str] | None:
            pats = k.get(key) or ()
            return re.compile("|".join(translate(p) for p in pats)) if pats else None

        self.score_functions, self.metric_modules = d("score_functions"), d("metric_modules")
        self.metric_exclude = s("metric_modules_exclude")
        self.loss_functions = pat("loss_function_patterns")
        self.score_methods, self.weak_methods = d("score_methods"), d("weak_score_methods")
        self.score_attributes = d("score_attributes")
        self.loss_factories, self.metric_factories = pat("loss_factories"), pat("metric_factories")
        self.metric_object_methods = s("metric_object_methods")
        self.model_factories, self.model_factory_methods = s("model_factories"), s("model_factory_methods")
        self.model_bases, self.model_tokens = s("model_base_classes"), s("model_name_tokens")
        self.loss_callables = s("loss_callable_names")
        self.keep_functions, self.keep_methods = s("value_preserving_functions"), s("value_preserving_methods")
        self.keep_attributes = s("value_preserving_attributes")
        self.pair_methods, self.pair_functions = s("pair_methods"), s("pair_functions")
        self.kill_functions, self.kill_methods = s("value_killing_functions"), s("value_killing_methods")
        self.kill_modules = s("value_killing_modules")
        self.kill_attributes = s("value_killing_attributes")
        self.score_tokens, self.not_score_tokens = s("score_name_tokens"), s("not_score_name_tokens")
        self.qualifiers = s("score_name_qualifiers")
        self.config_roots = s("config_roots")
        self.element_functions, self.element_methods = s("element_functions"), s("element_methods")
        self.collect_methods = s("collecting_methods")
        self.comparison_methods, self.comparison_functions = s("comparison_methods"), s("comparison_functions")
        self.binning_functions = d("binning_functions")
        # last name parts of the two above, to skip resolving most calls
        self.checked_call_names = frozenset(
            q.rpartition(".")[2] for q in (*self.comparison_functions, *self.binning_functions))

    def function_kind(self, q: str) -> str | None:
        """The score kind a call of qualified function ``q`` produces, if any."""
        kind = self.score_functions.get(q)
        if kind is not None:
            return kind
        if self.loss_functions is not None and self.loss_functions.match(q):
            return "loss"
        mod, _, fn = q.rpartition(".")
        if not fn or fn[0] == "_" or not fn[0].islower():
            return None
        while mod:
            kind = self.metric_modules.get(mod)
            if kind is not None:
                return None if self._excluded(q) else kind
            mod = mod.rpartition(".")[0]
        return None

    def _excluded(self, q: str) -> bool:
        while q:
            if q in self.metric_exclude:
                return True
            q = q.rpartition(".")[0]
        return False

    def scoreish(self, name: str) -> bool:
        """Does an identifier or key name a score (and not a setting, a size or a part of one)?

        Its head noun, the last word once qualifiers (``val``, ``mean``, ``global``, digits)
        are dropped, must be a score word, and no word may say "setting" or "count":
        ``val_auc``, ``churn_proba``, ``obj_scores_global`` are; ``pred_areas``,
        ``loss_weight``, ``n_preds`` are not.
        """
        head = None
        for t in reversed(name_tokens(name)):
            base = t.rstrip("0123456789")
            if t in self.not_score_tokens or base in self.not_score_tokens:
                return False
            if head is None and base and base not in self.qualifiers:
                head = t
        return head is not None and (head in self.score_tokens or head.rstrip("0123456789") in self.score_tokens)

    def modelish(self, name: str) -> bool:
        toks = name_tokens(name)
        return bool(toks) and toks[-1] in self.model_tokens and (len(toks) == 1 or toks[0] not in _VERBS)


class ValueTracker:
    """Which names in the current function/module hold a score; see the module docstring."""

    def __init__(self, names: NameResolver, knowledge: Mapping[str, Any]) -> None:
        self.names = names
        self.k = Knowledge.of(knowledge)
        self.frames: list[_Frame] = [_Frame("module")]
        self.model_classes: dict[str, str] = {}  # class defined here -> what calling an instance yields
        self._element_of: dict[int, Origin] = {}  # lambda id -> origin of its first parameter
        self._composite = 0  # how many dotted/subscript keys are bound (skip work when none)

    # -- driving (source order) ------------------------------------------------------
    def enter_function(self, node: cst.FunctionDef | cst.Lambda) -> None:
        p = node.params
        params = [*p.posonly_params, *p.params, *p.kwonly_params]
        if isinstance(node, cst.FunctionDef):
            self.frames[-1].vars[node.name.value] = None
            frame = _Frame("function", node.name.value)
            frame.params = tuple(x.name.value for x in params)
            for i, x in enumerate(params):
                name = x.name.value
                frame.vars[name] = None if name in ("self", "cls") else Origin("param", name, "low", param=i)
        else:
            frame = _Frame("lambda")
            for x in params:
                frame.vars[x.name.value] = None
        for star in (p.star_arg, p.star_kwarg):
            if isinstance(star, cst.Param):
                frame.vars[star.name.value] = None
        elem = self._element_of.pop(id(node), None)
        if elem is not None and p.params:
            frame.vars[p.params[0].name.value] = elem
        self.frames.append(frame)

    def leave_function(self) -> None:
        self.frames.pop()

    def enter_class(self, node: cst.ClassDef) -> None:
        name = node.name.value
        for base in node.bases:
            q = self.names.qualified(base.value)
            local = base.value.value if isinstance(base.value, cst.Name) else None
            if (q is not None and q in self.k.model_bases) or (local is not None and local in self.model_classes):
                self.model_classes[name] = "loss" if name.endswith("Loss") else "model_output"
                break
        self.frames[-1].vars[name] = None
        self.frames.append(_Frame("class", name))

    def leave_class(self) -> None:
        self.frames.pop()

    def enter_comprehension(self, node: cst.BaseComp) -> None:
        self.frames.append(_Frame("comp"))
        comp: cst.CompFor | None = node.for_in  # type: ignore[attr-defined]
        while comp is not None:
            self._bind_loop(comp.target, comp.iter)
            comp = comp.inner_for_in

    def leave_comprehension(self) -> None:
        self.frames.pop()

    def assign(self, node: cst.Assign | cst.AnnAssign | cst.AugAssign | cst.NamedExpr) -> None:
        """Bind the targets of an assignment; call it when *leaving* the statement."""
        value = node.value
        if value is None:  # `x: int`
            return
        if isinstance(node, cst.AugAssign):
            target = node.target
            if isinstance(target, cst.Name):
                frame = self.frames[-1]
                frame.literals.pop(target.value, None)
                new, old = self.value(value), self.lookup(target.value)
                frame.vars[target.value] = _best(new, old) if isinstance(new, Origin) else (
                    old if isinstance(old, Origin) else None)
            return
        v = self._with_names(self.value(value), value)
        lit = None
        if self.frames[-1].kind == "function" and (type(value) in _NUMBERS or type(value) is cst.UnaryOperation):
            lit = self.literal(value)
        targets: list[cst.BaseExpression] = (
            [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target])
        for tgt in targets:
            self._bind(tgt, v, lit)
            if type(value) is cst.Dict and isinstance(tgt, cst.Name):
                self._bind_dict(tgt.value, value)

    def bind_loop(self, node: cst.For) -> None:
        self._bind_loop(node.target, node.iter)

    def note_call(self, node: cst.Call) -> None:
        """Before a call's arguments are walked: ``map(lambda p: ..., probs)`` binds ``p``;
        ``aucs.append(auc)`` makes ``aucs`` a list of metrics."""
        args = node.args
        if not args:
            return
        func = node.func
        if type(func) is cst.Attribute and func.attr.value in self.k.collect_methods:
            v = self.value(args[-1].value)
            if isinstance(v, Origin) and v.is_value and v.rank and type(func.value) in (cst.Name, cst.Attribute):
                old = self.value(func.value)
                if not isinstance(old, Origin) or old.rank < v.rank:
                    self._bind(func.value, v)
            return
        lam = None
        for a in args:
            if type(a.value) is cst.Lambda:
                lam = a.value
                break
        if lam is None:
            return
        elem: Value = None
        if type(func) is cst.Attribute and func.attr.value in self.k.element_methods:
            elem = self._element_of_iter(func.value)
        elif self.names.qualified(func) in self.k.element_functions:
            for a in args:
                if a.value is not lam and a.keyword is None:
                    elem = self._element_of_iter(a.value)
                    break
        if isinstance(elem, Origin) and elem.rank:
            self._element_of[id(lam)] = elem

    def returned(self, node: cst.Return) -> None:
        frame = self.frames[-1]
        if node.value is None or frame.kind != "function":
            return
        v = self.value(node.value)
        if isinstance(v, Origin) and not v.obj:
            funcs = self.frames[-2].funcs
            old = funcs.get(frame.name)
            if old is None or old[0].rank < v.rank:
                funcs[frame.name] = (v, frame.params)

    # -- binding -----------------------------------------------------------------------
    def _with_names(self, v: Value, node: cst.BaseExpression) -> Value:
        """Unknown (or parameter-derived) values fall back to what their spelling says."""
        if v is None or (isinstance(v, Origin) and v.kind == "param"):
            ev = self.name_evidence(node)
            if ev is not None:
                return replace(ev, param=v.param) if v is not None else ev
        return v

    def _bind(self, target: cst.BaseExpression, v: Value, lit: Literal | None = None) -> None:
        t = type(target)
        if t is cst.Name:
            frame = self.frames[-1]
            name = target.value  # type: ignore[attr-defined]
            frame.vars[name] = v
            if lit is not None:
                frame.literals[name] = replace(lit, via=name)
            elif frame.literals:
                frame.literals.pop(name, None)
        elif t is cst.Tuple or t is cst.List:
            elts = target.elements  # type: ignore[attr-defined]
            n = len(elts)
            for i, el in enumerate(elts):
                sub: Value = None
                if isinstance(v, Origin) and not isinstance(el, cst.StarredElement):
                    if v.parts is not None:
                        sub = v.parts[i] if len(v.parts) == n else None
                    elif v.pair:
                        sub = replace(v, pair=False) if i == 0 else KILLED
                    elif not v.obj:
                        sub = v
                elif v is KILLED:
                    sub = KILLED
                self._bind(el.value, sub)
        elif t is cst.Attribute or t is cst.Subscript:
            if not isinstance(v, Origin) and not self._composite:
                return
            key = self._key(target)
            if key is not None:
                self._bind_key(key, v, t is cst.Attribute and key.startswith("self."))

    def _bind_key(self, key: str, v: Value, on_self: bool = False) -> None:
        frames = [self.frames[-1]]
        if on_self:
            cls = self._class_frame()
            if cls is not None:
                frames.append(cls)
        for frame in frames:
            if isinstance(v, Origin):
                if key not in frame.vars:
                    self._composite += 1
                frame.vars[key] = v
            elif key in frame.vars:
                frame.vars[key] = None

    def _bind_dict(self, name: str, node: cst.Dict) -> None:
        for el in node.elements:
            if isinstance(el, cst.DictElement) and type(el.key) is cst.SimpleString:
                v = self._with_names(self.value(el.value), el.value)
                if isinstance(v, Origin) and v.rank:
                    self._bind_key(f"{name}[{el.key.evaluated_value!r}]", v)

    def _bind_loop(self, target: cst.BaseAssignTargetExpression, it: cst.BaseExpression) -> None:
        if type(it) is cst.Call:
            q = self.names.qualified(it.func)
            if q == "builtins.range":
                self._bind(target, KILLED)
                return
            if type(target) is cst.Tuple:
                elts, args, f = target.elements, it.args, it.func
                if q == "builtins.enumerate" and args and len(elts) == 2:
                    self._bind(elts[0].value, KILLED)
                    self._bind(elts[1].value, self._element_of_iter(args[0].value))
                    return
                if q == "builtins.zip" and len(args) == len(elts):
                    for el, a in zip(elts, args):
                        self._bind(el.value, self._element_of_iter(a.value))
                    return
                if type(f) is cst.Attribute and f.attr.value == "items" and len(elts) == 2:
                    self._bind(elts[0].value, KILLED)
                    self._bind(elts[1].value, self._element_of_iter(f.value))
                    return
        self._bind(target, self._element_of_iter(it))

    def _element_of_iter(self, it: cst.BaseExpression) -> Value:
        return _element(self._with_names(self.value(it), it))

    def _class_frame(self) -> _Frame | None:
        for frame in reversed(self.frames):
            if frame.kind == "class":
                return frame
        return None

    def _key(self, node: cst.BaseExpression) -> str | None:
        if type(node) is cst.Subscript:
            base = dotted(node.value)  # type: ignore[attr-defined]
            sl = node.slice  # type: ignore[attr-defined]
            if base is None or len(sl) != 1 or not isinstance(sl[0].slice, cst.Index):
                return None
            idx = sl[0].slice.value
            if type(idx) is not cst.SimpleString:
                return None
            return f"{base}[{idx.evaluated_value!r}]"
        return dotted(node)

    # -- querying ----------------------------------------------------------------------
    def lookup(self, name: str) -> Value:
        frames = self.frames
        last = len(frames) - 1
        for i in range(last, -1, -1):
            frame = frames[i]
            if frame.kind == "class" and i != last:
                continue
            if name in frame.vars:
                return frame.vars[name]
        return None

    def origin(self, node: cst.BaseExpression) -> Origin | None:
        """API evidence that ``node`` is a score value (kinds in SCORE_KINDS), else None."""
        v = self.value(node)
        if isinstance(v, Origin) and v.is_value and v.rank == 2:
            return v
        return None

    def evidence(self, node: cst.BaseExpression) -> Origin | None:
        """The best evidence that ``node`` is a score value: API evidence, else a name."""
        v = self.value(node)
        if v is KILLED:
            return None
        if isinstance(v, Origin):
            if not v.is_value:
                return None
            if v.rank == 2:
                return v
            if v.kind == "name":
                return self.name_evidence(node) or v
        return self.name_evidence(node)

    def value(self, node: cst.BaseExpression) -> Value:
        """What is known about ``node``: an :class:`Origin`, ``KILLED`` (not a score) or None."""
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
            if not isinstance(node.operator, _ARITH):  # type: ignore[attr-defined]
                return None
            a, b = self.value(node.left), self.value(node.right)  # type: ignore[attr-defined]
            a = a if isinstance(a, Origin) and a.is_value else (KILLED if a is KILLED else None)
            b = b if isinstance(b, Origin) and b.is_value else (KILLED if b is KILLED else None)
            if isinstance(a, Origin) and isinstance(b, Origin):
                # `box[:, 2] - box[:, 0]`: arithmetic between raw outputs is geometry, not a score
                if a.kind in _RAW and b.kind in _RAW and not isinstance(node.operator, cst.Add):  # type: ignore[attr-defined]
                    return None
                return _best(a, b)
            if isinstance(a, Origin) or isinstance(b, Origin):
                return _best(a, b)
            return KILLED if a is KILLED and b is KILLED else None
        if t is cst.UnaryOperation:
            if isinstance(node.operator, cst.Not):  # type: ignore[attr-defined]
                return KILLED
            return self.value(node.expression)  # type: ignore[attr-defined]
        if t in _NUMBERS or t is cst.Comparison or t is cst.BooleanOperation or t is cst.SimpleString:
            return KILLED
        if t is cst.Tuple or t is cst.List:
            parts = tuple(
                None if isinstance(e, cst.StarredElement) else self.value(e.value)
                for e in node.elements  # type: ignore[attr-defined]
            )
            best: Value = None
            for p in parts:
                if isinstance(p, Origin) and p.is_value:
                    best = _best(best, p)
            return replace(best, parts=parts) if isinstance(best, Origin) else None
        if t is cst.ListComp or t is cst.SetComp or t is cst.GeneratorExp or t is cst.DictComp:
            self.enter_comprehension(node)  # type: ignore[arg-type]
            try:
                v = self.value(node.value if t is cst.DictComp else node.elt)  # type: ignore[attr-defined]
            finally:
                self.frames.pop()
            return v if isinstance(v, Origin) and v.is_value and v.kind != "param" else None
        if t is cst.Dict:  # a dict of scores only (mixed dicts are followed key by key)
            first: Value = None
            for el in node.elements:  # type: ignore[attr-defined]
                v = self.value(el.value) if isinstance(el, cst.DictElement) else None
                if not (isinstance(v, Origin) and v.is_value and v.rank == 2):
                    return None
                first = first or v
            return first
        if t is cst.NamedExpr or t is cst.Await:
            return self.value(node.value if t is cst.NamedExpr else node.expression)  # type: ignore[attr-defined]
        if t is cst.IfExp:
            a = self.value(node.body)  # type: ignore[attr-defined]
            return a if isinstance(a, Origin) else self.value(node.orelse)  # type: ignore[attr-defined]
        return None

    def _call(self, node: cst.Call) -> Value:
        k = self.k
        func = node.func
        q = self.names.qualified(func)
        if q is not None:
            got = self._qualified_call(q, node)
            if got is not False:
                return got  # type: ignore[return-value]
        t = type(func)
        if t is cst.Attribute:
            return self._method_call(node, func)  # type: ignore[arg-type]
        if t is cst.Name:
            name = func.value  # type: ignore[attr-defined]
            v = self.lookup(name)
            if isinstance(v, Origin) and v.obj:
                return Origin(v.kind, f"{name}()", v.confidence, f"a {v.source}")
            if v is None and name in self.model_classes:
                return Origin(self.model_classes[name], name, "high", f"{name} is a model class defined here", obj=True)
            for i in range(len(self.frames) - 1, -1, -1):
                ret = self.frames[i].funcs.get(name)
                if ret is not None:
                    return self._through(ret, node, name)
            if q is None and (v is None or (isinstance(v, Origin) and v.kind == "param")):
                if name.lower() in k.loss_callables:
                    return Origin("loss", f"{name}()", "medium")
                if k.modelish(name):
                    return Origin("model_output", f"{name}()", "medium")
            return None
        if t is cst.Call:
            v = self.value(func)
            if isinstance(v, Origin) and v.obj:
                return Origin(v.kind, v.source, v.confidence, v.detail)
        return None

    def _qualified_call(self, q: str, node: cst.Call) -> Value | bool:
        """A call of an imported (or builtin) function or class; False when not known."""
        k = self.k
        kind = k.function_kind(q)
        if kind is not None:
            return Origin(kind, q, "high")
        if q in k.keep_functions:
            best: Value = None
            for a in node.args:
                if a.keyword is None or a.keyword.value in ("input", "a", "x"):
                    v = self.value(a.value)
                    if isinstance(v, Origin) and v.parts is not None:
                        v = _element(v)
                    if isinstance(v, Origin) and not v.obj:
                        best = _best(best, v) if isinstance(best, Origin) else v
                    elif v is KILLED and best is None:
                        best = None if q in _AGGREGATES else KILLED
            if isinstance(best, Origin) and q in k.pair_functions and len(node.args) > 1:
                return replace(best, pair=True)
            return best
        if q in k.kill_functions or q in k.comparison_functions:
            return KILLED
        mod = q
        while mod:
            if mod in k.kill_modules:
                return KILLED
            mod = mod.rpartition(".")[0]
        if q in k.model_factories:
            return Origin("model_output", q, "high", obj=True)
        if k.loss_factories is not None and k.loss_factories.match(q):
            return Origin("loss", q, "high", obj=True)
        if k.metric_factories is not None and k.metric_factories.match(q):
            return Origin("metric", q, "high", obj=True)
        last = q.rpartition(".")[2]
        if last.endswith("Loss") and last[0].isupper():
            return Origin("loss", q, "medium", obj=True)
        return False

    def _method_call(self, node: cst.Call, func: cst.Attribute) -> Value:
        k = self.k
        m = func.attr.value
        kind = k.score_methods.get(m)
        if kind is not None:
            return Origin(kind, _show(func), "high")
        if m in k.keep_methods:
            v = self.value(func.value)
            if isinstance(v, Origin):
                if m in k.pair_methods and node.args:
                    kw = node.args[0].keyword
                    if kw is None or kw.value == "dim":
                        return replace(v, pair=True)
                return v
            return None if v is None or m in _AGGREGATES else KILLED
        if m in k.kill_methods or m in k.comparison_methods:
            return KILLED
        kind = k.weak_methods.get(m)
        if kind is not None:
            return Origin(kind, _show(func), "medium")
        if m in k.model_factory_methods:
            return Origin("model_output", _show(func), "high", obj=True)
        recv = func.value
        if m == "get" and node.args and self._composite and type(recv) in (cst.Name, cst.Attribute):
            key, arg = dotted(recv), node.args[0].value
            if key is not None and type(arg) is cst.SimpleString:
                v = self.lookup(f"{key}[{arg.evaluated_value!r}]")
                if v is not None:
                    return v
        rv = self.value(recv)
        if isinstance(rv, Origin) and rv.obj:
            if m in k.metric_object_methods:
                return Origin(rv.kind, _show(func), rv.confidence, f"a {rv.source}")
            return None
        if type(recv) is cst.Name and recv.value == "self":
            cls = self._class_frame()
            got = cls.funcs.get(m) if cls is not None else None
            if got is not None:
                return self._through(got, node, f"self.{m}", shift=1)
        called = self.value(func) if self._composite else None
        if isinstance(called, Origin) and called.obj:
            return Origin(called.kind, f"{_show(func)}()", called.confidence, f"a {called.source}")
        if m.lower() in k.loss_callables:
            return Origin("loss", f"{_show(func)}()", "medium")
        if k.modelish(m):
            return Origin("model_output", f"{_show(func)}()", "medium")
        return None

    def _through(self, got: tuple[Origin, tuple[str, ...]], node: cst.Call, name: str, shift: int = 0) -> Value:
        """A call of a function defined in this file, from what it returns."""
        ret, params = got
        if ret.parts is None:
            return self._returned_value(ret, params, node, name, shift)
        parts = tuple(self._returned_value(p, params, node, name, shift) if isinstance(p, Origin) else p
                      for p in ret.parts)
        best = _element(replace(ret, parts=parts))
        return replace(best, parts=parts) if isinstance(best, Origin) else None

    def _returned_value(self, ret: Origin, params: tuple[str, ...], node: cst.Call, name: str, shift: int) -> Value:
        if ret.param >= 0:  # derived from a parameter: what was passed in, if it is a score
            index, pname = ret.param - shift, params[ret.param] if ret.param < len(params) else None
            for i, a in enumerate(node.args):
                if (a.keyword is None and i == index and not a.star) or (a.keyword is not None and a.keyword.value == pname):
                    v = self.value(a.value)
                    v = _element(v) if type(a.value) in (cst.List, cst.Tuple) else v
                    if isinstance(v, Origin) and v.is_value and v.rank == 2:
                        return replace(v, detail=f"through {name}()")
                    break
        if ret.kind == "param" or not ret.is_value:
            return None
        if ret.kind == "name":
            return replace(ret, param=-1)
        return Origin(ret.kind, f"{name}()", ret.confidence, f"which returns {ret.source}")

    def _attribute(self, node: cst.Attribute) -> Value:
        k = self.k
        attr = node.attr.value
        if attr in k.kill_attributes:
            return KILLED
        if self._composite:
            key = dotted(node)
            if key is not None:
                v = self.lookup(key)
                if key.startswith("self.") and v is None:
                    cls = self._class_frame()
                    if cls is not None:
                        v = cls.vars.get(key)
                if v is not None:
                    return v
        kind = k.score_attributes.get(attr)
        if kind is not None:
            return Origin(kind, _show(node), "medium")
        if attr in k.keep_attributes:
            v = self.value(node.value)
            if isinstance(v, Origin):
                if v.pair:
                    return replace(v, pair=False) if attr == "values" else None
                return v if not v.obj else None
        return None

    def _subscript(self, node: cst.Subscript) -> Value:
        if self._composite:
            key = self._key(node)
            if key is not None:
                v = self.lookup(key)
                if v is not None:
                    return v
        v = self.value(node.value)
        if not isinstance(v, Origin):
            return v
        if v.obj:
            return None
        key = _str_index(node)
        if key is not None:  # `metrics["auc"]` yes, `metrics["n_samples"]` no
            return v if self.k.scoreish(key) else None
        idx = _int_index(node)
        if v.pair:
            return replace(v, pair=False) if idx == 0 else KILLED
        if v.parts is not None:
            if idx is None or not -len(v.parts) <= idx < len(v.parts):
                return None
            return v.parts[idx]
        return v

    # -- literals and names ----------------------------------------------------------
    def literal(self, node: cst.BaseExpression) -> Literal | None:
        """A numeric literal, possibly negated, or a function-local name bound to one."""
        t = type(node)
        if t is cst.Integer or t is cst.Float:
            return Literal(float(node.evaluated_value), node.value, t is cst.Integer)  # type: ignore[attr-defined]
        if t is cst.UnaryOperation and type(node.expression) in _NUMBERS:  # type: ignore[attr-defined]
            inner, op = node.expression, node.operator  # type: ignore[attr-defined]
            if isinstance(op, (cst.Minus, cst.Plus)):
                sign = -1.0 if isinstance(op, cst.Minus) else 1.0
                text = ("-" if sign < 0 else "") + inner.value
                return Literal(sign * float(inner.evaluated_value), text, type(inner) is cst.Integer)
            return None
        if t is cst.Name:
            name = node.value  # type: ignore[attr-defined]
            for frame in reversed(self.frames):
                if frame.kind == "module" or frame.kind == "class":
                    return None
                lit = frame.literals.get(name)
                if lit is not None:
                    return lit
                if name in frame.vars:
                    return None
        return None

    def name_evidence(self, node: cst.BaseExpression) -> Origin | None:
        """Low-confidence evidence from spelling alone: ``val_auc``, ``metrics["f1"]``."""
        k = self.k
        while True:
            t = type(node)
            if t is cst.Name:
                name = node.value  # type: ignore[attr-defined]
                return Origin("name", name, "low") if k.scoreish(name) else None
            if t is cst.Subscript:
                sl = node.slice  # type: ignore[attr-defined]
                if len(sl) == 1 and isinstance(sl[0].slice, cst.Index) and type(sl[0].slice.value) is cst.SimpleString:
                    key = sl[0].slice.value.evaluated_value
                    if not isinstance(key, str) or not k.scoreish(key) or self._config_chain(node.value):  # type: ignore[attr-defined]
                        return None  # the key says what the value is: `metrics["epoch"]`
                    return Origin("name", repr(key), "low")
                node = node.value  # type: ignore[attr-defined]
            elif t is cst.Attribute:
                attr = node.attr.value  # type: ignore[attr-defined]
                if attr in k.kill_attributes or self._config_chain(node.value):  # type: ignore[attr-defined]
                    return None
                if attr in k.keep_attributes:
                    node = node.value  # type: ignore[attr-defined]
                    continue
                return Origin("name", attr, "low") if k.scoreish(attr) else None
            elif t is cst.Call:
                func = node.func  # type: ignore[attr-defined]
                if type(func) is not cst.Attribute:
                    return None
                m = func.attr.value
                if m == "get" and node.args and type(node.args[0].value) is cst.SimpleString:  # type: ignore[attr-defined]
                    key = node.args[0].value.evaluated_value  # type: ignore[attr-defined]
                    if isinstance(key, str) and k.scoreish(key) and not self._config_chain(func.value):
                        return Origin("name", repr(key), "low")
                    return None
                if m not in k.keep_methods:
                    return None
                node = func.value
            else:
                return None

    def _config_chain(self, node: cst.BaseExpression) -> bool:
        roots = self.k.config_roots
        while True:
            t = type(node)
            if t is cst.Name:
                return node.value in roots  # type: ignore[attr-defined]
            if t is cst.Attribute:
                if node.attr.value in roots:  # type: ignore[attr-defined]
                    return True
                node = node.value  # type: ignore[attr-defined]
            elif t is cst.Subscript:
                node = node.value  # type: ignore[attr-defined]
            elif t is cst.Call:
                node = node.func  # type: ignore[attr-defined]
            else:
                return False


def _best(a: Value, b: Value) -> Value:
    """The stronger of two origins (API evidence over a name over a parameter)."""
    if not isinstance(a, Origin):
        return b if isinstance(b, Origin) else a
    if not isinstance(b, Origin):
        return a
    return b if b.rank > a.rank else a


def _element(v: Value) -> Value:
    """The origin of one element of an iterable with origin ``v``."""
    if isinstance(v, Origin):
        if v.obj or v.pair:
            return None
        if v.parts is not None:
            best = None
            for p in v.parts:
                if isinstance(p, Origin) and p.is_value:
                    best = _best(best, p)
            return best
    return v


def _int_index(node: cst.Subscript) -> int | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    v = node.slice[0].slice.value
    if type(v) is cst.Integer:
        return int(v.evaluated_value)
    if type(v) is cst.UnaryOperation and isinstance(v.operator, cst.Minus) and type(v.expression) is cst.Integer:
        return -int(v.expression.evaluated_value)
    return None


def _str_index(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    v = node.slice[0].slice.value
    if type(v) is cst.SimpleString:
        key = v.evaluated_value
        return key if isinstance(key, str) else None
    return None


def _show(node: cst.BaseExpression) -> str:
    """``clf.predict_proba`` for a dotted callee, ``….predict_proba`` otherwise."""
    name = dotted(node)
    if name is not None:
        return name
    if isinstance(node, cst.Attribute):
        return f"….{node.attr.value}"
    return "…"


class FollowsValues:
    """Mixin for rules: feeds ``self.flow`` (a :class:`ValueTracker`) during the walk.

    The rule sets ``self.flow = ValueTracker(ctx.names, ctx.knowledge)`` in ``__init__``.
    """

    flow: ValueTracker

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.flow.enter_function(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.flow.leave_function()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.flow.enter_function(node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.flow.leave_function()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.flow.enter_class(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.flow.leave_class()

    def visit_BaseComp(self, node: cst.BaseComp) -> None:
        self.flow.enter_comprehension(node)

    def leave_BaseComp(self, node: cst.BaseComp) -> None:
        self.flow.leave_comprehension()

    def leave_Assign(self, node: cst.Assign) -> None:
        self.flow.assign(node)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.flow.assign(node)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        self.flow.assign(node)

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.flow.assign(node)

    def visit_For(self, node: cst.For) -> None:
        self.flow.bind_loop(node)

    def visit_Return(self, node: cst.Return) -> None:
        self.flow.returned(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.flow.note_call(node)
