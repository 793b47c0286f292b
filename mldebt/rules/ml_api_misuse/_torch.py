"""What the torch rules of ml-api-misuse share: is this receiver provably a torch optimizer or
an ``nn.Module`` instance?

The answer comes from the file only: imports (``ctx.names``), assignments in the enclosing
function and module scopes, ``self.<attr>`` assignments anywhere in the enclosing class,
annotations, same-file classes that subclass ``nn.Module`` (directly or through a same-file
base) and same-file functions whose return value is one of those. Binding is
flow-insensitive per scope (any assignment counts), like :mod:`mldebt.rules.flow`.

Everything is computed lazily, once per file, the first time a rule has a candidate
(``opt.step()``, ``m.forward(x)``, a call under ``torch.no_grad()``), so files without
torch pay nothing. Which APIs build optimizers and modules is data: the ``torch_misuse``
knowledge entry of ``rules/ml-api-misuse-torch.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import translate
from typing import Any, TypeVar

import libcst as cst

from mldebt.rules.base import FileContext, Rule, Sink, compiled
from mldebt.rules.names import NameResolver, dotted

Scope = cst.FunctionDef | cst.Module
T = TypeVar("T")
_MODULE_ONLY = frozenset({"load_state_dict", "named_parameters", "named_modules", "named_children", "parameters",
                          "register_forward_hook", "register_forward_pre_hook", "requires_grad_"})
_SAME = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval",
                   "requires_grad_", "share_memory", "to_empty", "type", "apply"})


def _patterns(items: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{translate(p)})" for p in items)) if items else None


@dataclass(frozen=True, slots=True)
class TorchKnowledge:
    optimizers: re.Pattern[str] | None
    not_optimizers: re.Pattern[str] | None
    modules: re.Pattern[str] | None
    not_modules: re.Pattern[str] | None
    eval_mode_factories: re.Pattern[str] | None  # models that come back in eval mode
    module_bases: re.Pattern[str] | None
    passthrough: frozenset[str]  # `torch.compile(m)`, `copy.deepcopy(m)`: the first argument
    no_grad: frozenset[str]
    mode_sensitive: tuple[str, ...]  # spellings of layers whose behaviour depends on train/eval
    eval_words: frozenset[str]
    concat: Mapping[str, str]  # qualified -> "list" (inputs in the first argument) | "args"

    @classmethod
    def of(cls, knowledge: Mapping[str, Any]) -> TorchKnowledge:
        # compiling the glob patterns for every rule of every file cost more than the rules' work
        return compiled(knowledge, cls._compile)

    @classmethod
    def _compile(cls, knowledge: Mapping[str, Any]) -> TorchKnowledge:
        kb = knowledge.get("torch_misuse", {}) or {}
        return cls(
            optimizers=_patterns(kb.get("optimizers", ())),
            not_optimizers=_patterns(kb.get("not_optimizers", ())),
            modules=_patterns(kb.get("modules", ())),
            not_modules=_patterns(kb.get("not_modules", ())),
            eval_mode_factories=_patterns(kb.get("eval_mode_factories", ())),
            module_bases=_patterns(kb.get("module_bases", ())),
            passthrough=frozenset(kb.get("passthrough", ())),
            no_grad=frozenset(kb.get("no_grad", ())),
            mode_sensitive=tuple(s.lower() for s in kb.get("mode_sensitive", ())),
            eval_words=frozenset(kb.get("eval_function_words", ())),
            concat=dict(kb.get("concat", {}) or {}),
        )

    def is_optimizer(self, q: str) -> bool:
        return bool(self.optimizers and self.optimizers.fullmatch(q)
                    and not (self.not_optimizers and self.not_optimizers.fullmatch(q)))

    def is_module(self, q: str) -> bool:
        return bool(self.modules and self.modules.fullmatch(q)
                    and not (self.not_modules and self.not_modules.fullmatch(q)))


@dataclass(frozen=True, slots=True)
class Prov:
    """Where a value provably comes from."""

    kind: str  # "optimizer" | "module"
    source: str  # the API or same-file class/function, for messages
    confidence: str = "high"
    evaled: bool = False  # known to be in eval mode already (`.eval()` in its chain, from_pretrained)
    param: bool = False  # an annotated parameter: the caller built it
    cls: str = ""  # same-file class it is an instance of
    sensitive: bool = True  # may contain dropout / batch-norm (train/eval changes its output)


@dataclass(slots=True)
class _ScopeInfo:
    assigns: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    params: dict[str, cst.Param] = field(default_factory=dict)
    loop_bound: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _ClassInfo:
    node: cst.ClassDef
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    attrs: dict[str, list[tuple[cst.BaseExpression, cst.FunctionDef | None]]] = field(default_factory=dict)
    annotations: dict[str, cst.BaseExpression] = field(default_factory=dict)
    scanned: bool = False  # self.<attr> assignments of the methods collected


_SKIP = frozenset({"lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer",
                   "trailing_whitespace", "newline", "comma", "semicolon", "equal", "colon", "dot", "star",
                   "asynchronous", "first_line", "empty_lines", "last_line", "indent", "relative", "star_tok",
                   "walrus", "arrow", "operator", "whitespace_before", "whitespace_after",
                   "whitespace_before_colon", "whitespace_after_colon", "whitespace_after_star",
                   "whitespace_before_params", "whitespace_after_def", "whitespace_after_class",
                   "whitespace_before_args", "whitespace_after_arg", "whitespace_after_for",
                   "whitespace_before_in", "whitespace_after_in", "whitespace_after_with",
                   "whitespace_after_await", "whitespace_before_indicator", "whitespace_after_indicator",
                   "whitespace_after_cases", "whitespace_after_match", "whitespace_after_as",
                   "whitespace_before_as", "whitespace_after_import", "whitespace_before_import",
                   "whitespace_after_from", "whitespace_before_expression", "whitespace_after_del",
                   "whitespace_after_assert", "whitespace_after_return", "whitespace_before_value",
                   "whitespace_after_lambda", "whitespace_after_yield", "whitespace_after_raise",
                   "whitespace_after_if", "whitespace_before_if", "whitespace_before_else",
                   "whitespace_after_else", "whitespace_after_while", "whitespace_after_except",
                   "whitespace_after_global", "whitespace_after_nonlocal"})
# Dataclass field order is not always source order; these are.
_ORDER: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Arg: ("keyword", "value"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    got = _FIELDS.get(cls)
    if got is None:
        from dataclasses import fields

        got = _ORDER.get(cls) or tuple(f.name for f in fields(cls) if f.name not in _SKIP
                                       and not f.name.startswith("whitespace"))
        _FIELDS[cls] = got
    return got


# What a field's value is, per type (isinstance against libcst's ABCs costs a Python call)
_NODE, _SEQUENCE, _OTHER = 1, 2, 3
_KIND: dict[type, int] = {}


def _kind(t: type) -> int:
    k = _KIND[t] = _NODE if issubclass(t, cst.CSTNode) else _SEQUENCE if t is tuple or t is list else _OTHER
    return k


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes of ``node`` in source order, whitespace skipped (fast: no visitor)."""
    out: list[cst.CSTNode] = []
    kinds = _KIND
    cls = type(node)
    for name in _FIELDS.get(cls) or _fields_of(cls):
        value = getattr(node, name, None)
        k = kinds.get(type(value)) or _kind(type(value))
        if k == _NODE:
            out.append(value)  # type: ignore[arg-type]
        elif k == _SEQUENCE:
            for v in value:  # type: ignore[union-attr]
                if (kinds.get(type(v)) or _kind(type(v))) == _NODE:
                    out.append(v)
    return out


_DEFS = frozenset((cst.FunctionDef, cst.ClassDef, cst.Lambda))  # concrete: no subclasses


def walk(node: cst.CSTNode, into_defs: bool = True) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (pre-order); nested defs and classes only if ``into_defs``."""
    stack = children(node)
    stack.reverse()
    while stack:
        n = stack.pop()
        yield n
        if not into_defs and type(n) in _DEFS:
            continue
        below = children(n)
        if below:
            below.reverse()
            stack.extend(below)


def method_name(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def call_last_name(call: cst.Call) -> str | None:
    f = call.func
    if isinstance(f, cst.Attribute):
        return f.attr.value
    return f.value if isinstance(f, cst.Name) else None


def _strip_annotation(node: cst.BaseExpression) -> cst.BaseExpression:
    # Optional[X] / X | None -> X
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index) \
            and (dotted(node.value) or "").rpartition(".")[2] == "Optional":
        return node.slice[0].slice.value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr) \
            and isinstance(node.right, cst.Name) and node.right.value == "None":
        return node.left
    return node


def is_zeroing(node: cst.CSTNode) -> bool:
    """`opt.zero_grad()`, `model.zero_grad()`, `p.grad = None`, `p.grad.zero_()`, a helper
    named like `zero_grad`/`reset_grad`/`clear_grad`."""
    if isinstance(node, cst.Call):
        name = call_last_name(node) or ""
        low = name.lower()
        if "zero_grad" in low or "reset_grad" in low or "clear_grad" in low or "zerograd" in low:
            return True
        if name in ("zero_", "fill_", "detach_") and "grad" in (dotted(node.func) or "").split("."):
            return True
        return any(a.keyword is not None and a.keyword.value == "set_to_none" for a in node.args)
    if isinstance(node, (cst.Assign, cst.AugAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        return any(isinstance(t, cst.Attribute) and t.attr.value == "grad" for t in targets)
    if isinstance(node, cst.Del):
        return isinstance(node.target, cst.Attribute) and node.target.attr.value == "grad"
    return False


def is_backward(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and (call_last_name(node) == "backward")


class TorchIndex:
    """The file's scopes, classes and functions, for :meth:`provenance`."""

    def __init__(self, module: cst.Module, names: NameResolver, k: TorchKnowledge,
                 syntax: TorchIndex | None = None) -> None:
        """``syntax``: another index of the same file, whose purely syntactic tables (classes
        and their ``self.<attr>`` assignments, functions, scopes, subtree searches) this one
        shares. What depends on the imports seen so far stays per index (per rule)."""
        self.names = names
        self.k = k
        self.module = module
        self._module_class: dict[str, bool] = {}
        self._sensitive: dict[str, bool] = {}
        self._returns: dict[int, Prov | None] = {}
        self._names: dict[tuple[int, str, str | None], Prov | None] = {}
        self.classes: dict[str, _ClassInfo] = syntax.classes if syntax is not None else {}
        self.functions: dict[str, cst.FunctionDef] = syntax.functions if syntax is not None else {}
        self._scopes: dict[int, _ScopeInfo] = syntax._scopes if syntax is not None else {}
        self._contains: dict[tuple[int, str], bool] = syntax._contains if syntax is not None else {}
        self._usage: dict[tuple[int, str], set[str]] = syntax._usage if syntax is not None else {}
        if syntax is None:
            self._collect(module.body, None)

    # -- indexing --------------------------------------------------------------------
    def _collect(self, body: Sequence[cst.CSTNode], cls: _ClassInfo | None) -> None:
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef):
                if cls is None:
                    self.functions.setdefault(stmt.name.value, stmt)
                else:
                    cls.methods.setdefault(stmt.name.value, stmt)
            elif isinstance(stmt, cst.ClassDef):
                info = _ClassInfo(stmt)
                self.classes.setdefault(stmt.name.value, info)
                self._collect(stmt.body.body, info)
            elif cls is not None and isinstance(stmt, cst.SimpleStatementLine):
                for s in stmt.body:
                    if isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name):
                        cls.annotations[s.target.value] = s.annotation.annotation
                        if s.value is not None:
                            cls.attrs.setdefault(s.target.value, []).append((s.value, None))
                    elif isinstance(s, cst.Assign):
                        for t in s.targets:
                            if isinstance(t.target, cst.Name):
                                cls.attrs.setdefault(t.target.value, []).append((s.value, None))
            elif isinstance(stmt, (cst.If, cst.Try, cst.With)) and cls is None:
                self._collect(list(_blocks(stmt)), None)

    def _collect_self_attrs(self, info: _ClassInfo, fn: cst.FunctionDef) -> None:
        params = fn.params.params
        if not params:
            return
        me = params[0].name.value
        for n in walk(fn.body, into_defs=False):
            if isinstance(n, cst.Assign):
                for t in n.targets:
                    self._self_target(info, me, t.target, n.value, fn)
            elif isinstance(n, cst.AnnAssign) and isinstance(n.target, cst.Attribute) \
                    and isinstance(n.target.value, cst.Name) and n.target.value.value == me:
                info.annotations.setdefault(n.target.attr.value, n.annotation.annotation)
                if n.value is not None:
                    info.attrs.setdefault(n.target.attr.value, []).append((n.value, fn))

    def _self_target(self, info: _ClassInfo, me: str, target: cst.BaseExpression,
                     value: cst.BaseExpression, fn: cst.FunctionDef) -> None:
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == me:
            info.attrs.setdefault(target.attr.value, []).append((value, fn))
        elif isinstance(target, (cst.Tuple, cst.List)):
            vals = _unpacked(value, len(target.elements))
            for el, v in zip(target.elements, vals):
                if v is not None:
                    self._self_target(info, me, el.value, v, fn)

    def scope(self, node: Scope) -> _ScopeInfo:
        got = self._scopes.get(id(node))
        if got is not None:
            return got
        info = _ScopeInfo()
        if isinstance(node, cst.FunctionDef):
            p = node.params
            for param in (*p.posonly_params, *p.params, *p.kwonly_params):
                info.params[param.name.value] = param
            root: cst.CSTNode = node.body
        else:
            root = node
        for n in walk(root, into_defs=False):
            if isinstance(n, cst.Assign):
                for t in n.targets:
                    _bind(info, t.target, n.value)
            elif isinstance(n, cst.AnnAssign) and isinstance(n.target, cst.Name):
                if n.value is not None:
                    _bind(info, n.target, n.value)
                else:
                    info.params.setdefault(n.target.value, cst.Param(cst.Name(n.target.value), n.annotation))
            elif isinstance(n, cst.NamedExpr) and isinstance(n.target, cst.Name):
                _bind(info, n.target, n.value)
            elif isinstance(n, (cst.For, cst.CompFor)):
                info.loop_bound.update(_names_in(n.target))
            elif isinstance(n, cst.WithItem) and n.asname is not None:
                _bind(info, n.asname.name, n.item)
        self._scopes[id(node)] = info
        return info

    # -- questions -----------------------------------------------------------------
    def is_module_class(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        got = self._module_class.get(name)
        if got is not None:
            return got
        info = self.classes.get(name)
        result = False
        if info is not None and name not in seen:
            for base in info.node.bases:
                q = self.names.qualified(base.value)
                if q is not None and (self.k.is_module(q) or (self.k.module_bases is not None
                                                              and self.k.module_bases.fullmatch(q))):
                    result = True
                    break
                local = dotted(base.value)
                if local is not None and local in self.classes and self.is_module_class(local, seen | {name}):
                    result = True
                    break
        if not seen:
            self._module_class[name] = result
        return result

    def class_is_sensitive(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether a same-file module class may behave differently in train and eval mode:
        it mentions dropout/batch-norm/`self.training`, or builds submodules the file does
        not define (they may)."""
        got = self._sensitive.get(name)
        if got is not None:
            return got
        info = self.classes.get(name)
        if info is None or name in seen:
            return True
        text = self.module.code_for_node(info.node).lower()
        result = any(s in text for s in self.k.mode_sensitive)
        if not result:
            for base in info.node.bases:
                local = dotted(base.value)
                if local in self.classes and self.class_is_sensitive(local, seen | {name}):  # type: ignore[operator]
                    result = True
            for n in walk(info.node.body):
                if result:
                    break
                if isinstance(n, cst.Call):
                    last = call_last_name(n) or ""
                    if not last[:1].isupper():
                        continue
                    q = self.names.qualified(n.func)
                    if q is not None and q.startswith("torch.nn."):
                        continue
                    if isinstance(n.func, cst.Name) and n.func.value in self.classes:
                        result = self.class_is_sensitive(n.func.value, seen | {name}) if \
                            self.is_module_class(n.func.value) else False
                        continue
                    if q is None or self.k.is_module(q):
                        result = True
        if not seen:
            self._sensitive[name] = result
        return result

    def contains(self, node: cst.CSTNode, what: str) -> bool:
        """Whether a subtree (nested defs included) has a zeroing (`zero`), a backward
        (`backward`) or an eval-mode switch (`eval`)."""
        key = (id(node), what)
        got = self._contains.get(key)
        if got is None:
            test = {"zero": is_zeroing, "backward": is_backward, "eval": is_eval_switch}[what]
            got = any(test(n) for n in walk(node))
            self._contains[key] = got
        return got

    def helper_contains(self, node: cst.CSTNode, what: str, cls: str | None) -> bool:
        """Whether a same-file function or method called under ``node`` does ``what``."""
        for n in walk(node):
            if not isinstance(n, cst.Call):
                continue
            fn = self.callee(n, cls)
            if fn is not None and fn is not node and self.contains(fn, what):
                return True
        return False

    def callee(self, call: cst.Call, cls: str | None) -> cst.FunctionDef | None:
        f = call.func
        if isinstance(f, cst.Name):
            return self.functions.get(f.value)
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" and cls:
            return self.method(cls, f.attr.value)
        return None

    def _in_hierarchy(self, cls: str, find: Callable[[_ClassInfo], T | None],
                      seen: frozenset[str] = frozenset()) -> T | None:
        """What ``find`` answers for the same-file class ``cls``, else for its same-file bases."""
        info = self.classes.get(cls)
        if info is None or cls in seen:
            return None
        got = find(info)
        if got is not None:
            return got
        for base in info.node.bases:
            local = dotted(base.value)
            if local is not None and local in self.classes:
                got = self._in_hierarchy(local, find, seen | {cls})
                if got is not None:
                    return got
        return None

    def method(self, cls: str, name: str) -> cst.FunctionDef | None:
        return self._in_hierarchy(cls, lambda info: info.methods.get(name))

    def class_attr(self, cls: str, attr: str) -> _ClassInfo | None:
        """The same-file class (``cls`` or a base) that assigns or annotates ``self.attr``."""
        def sets_it(info: _ClassInfo) -> _ClassInfo | None:
            if not info.scanned:
                info.scanned = True
                for m in info.methods.values():
                    self._collect_self_attrs(info, m)
            return info if attr in info.attrs or attr in info.annotations else None

        return self._in_hierarchy(cls, sets_it)

    def used_as_module(self, name: str, scope: Scope) -> bool:
        """Whether the scope calls a method only torch modules have on ``name``
        (`.load_state_dict()`, `.parameters()`, `.eval()`, ...): usage evidence, low confidence."""
        key = (id(scope), "usage")
        got: Any = self._usage.get(key)
        if got is None:
            got = set()
            root = scope.body if isinstance(scope, cst.FunctionDef) else scope
            for n in walk(root, into_defs=False):
                if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Name):
                    m = n.func.attr.value
                    if m in _MODULE_ONLY or (m == "eval" and not n.args):
                        got.add(n.func.value.value)
            self._usage[key] = got
        return name in got

    # -- provenance ----------------------------------------------------------------
    def provenance(self, expr: cst.BaseExpression, scopes: Sequence[Scope], cls: str | None,
                   depth: int = 0) -> Prov | None:
        """What ``expr`` provably is, seen from the innermost of ``scopes`` (module first)
        inside class ``cls`` (for ``self.<attr>``)."""
        if depth > 8:
            return None
        if isinstance(expr, cst.Name):
            return self._name(expr.value, scopes, cls, depth)
        if isinstance(expr, cst.Attribute):
            if isinstance(expr.value, cst.Name) and expr.value.value == "self" and cls:
                return self._self_attr(cls, expr.attr.value, depth)
            return None
        if isinstance(expr, cst.Call):
            return self._call(expr, scopes, cls, depth)
        if isinstance(expr, cst.Await):
            return None
        return None

    def _name(self, name: str, scopes: Sequence[Scope], cls: str | None, depth: int) -> Prov | None:
        for i in range(len(scopes) - 1, -1, -1):
            info = self.scope(scopes[i])
            if name in info.loop_bound:
                return None
            values = info.assigns.get(name)
            param = info.params.get(name)
            if values is None and param is None:
                continue
            key = (id(scopes[i]), name, cls)
            if key in self._names:
                return self._names[key]  # None while being resolved: a cycle (`x = x.to(d)`)
            self._names[key] = None
            inner = scopes[: i + 1]
            best: Prov | None = None
            for v in values or ():
                p = self.provenance(v, inner, cls, depth + 1)
                if p is not None:
                    best = p if best is None else replace(best, evaled=best.evaled or p.evaled)
            is_param = param is not None and isinstance(scopes[i], cst.FunctionDef)
            if best is None and param is not None and param.annotation is not None:
                best = self.annotation(param.annotation.annotation)
                if best is not None:
                    best = replace(best, param=is_param)
            if best is None and self.used_as_module(name, scopes[i]):
                best = Prov("module", "used as an nn.Module", "low", param=is_param)
            self._names[key] = best
            return best
        return None

    def _self_attr(self, cls: str, attr: str, depth: int) -> Prov | None:
        info = self.class_attr(cls, attr)
        if info is None:
            return None
        best: Prov | None = None
        for value, fn in info.attrs.get(attr, ()):
            scopes: list[Scope] = [self.module] + ([fn] if fn is not None else [])
            p = self.provenance(value, scopes, info.node.name.value, depth + 1)
            if p is not None:
                best = p if best is None else replace(best, evaled=best.evaled or p.evaled)
        if best is None and attr in info.annotations:
            best = self.annotation(info.annotations[attr])
        return best

    def annotation(self, node: cst.BaseExpression) -> Prov | None:
        node = _strip_annotation(node)
        q = self.names.qualified(node)
        if q is not None:
            last = q.rpartition(".")[2]
            if q.startswith("torch.optim.") and last == "Optimizer" or self.k.is_optimizer(q):
                return Prov("optimizer", q, "medium", param=True)
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module") or self.k.is_module(q):
                return Prov("module", q, "medium", param=True)
            return None
        local = dotted(node)
        if local is not None and local in self.classes and self.is_module_class(local):
            return Prov("module", local, "medium", param=True, cls=local,
                        sensitive=self.class_is_sensitive(local))
        return None

    def _call(self, call: cst.Call, scopes: Sequence[Scope], cls: str | None, depth: int) -> Prov | None:
        func = call.func
        q = self.names.qualified(func)
        if q is not None:
            if self.k.is_optimizer(q):
                return Prov("optimizer", q)
            if self.k.is_module(q):
                evaled = bool(self.k.eval_mode_factories and self.k.eval_mode_factories.fullmatch(q))
                return Prov("module", q, evaled=evaled, sensitive=evaled or _sensitive_nn(q, self.k))
            if q in self.k.passthrough and call.args and call.args[0].keyword is None:
                return self.provenance(call.args[0].value, scopes, cls, depth + 1)
            if q == "builtins.getattr" and len(call.args) >= 2:
                base = self.names.qualified(call.args[0].value)
                if base == "torch.optim":
                    return None  # getattr(torch.optim, "Adam") is the class, not an instance
            return None
        if isinstance(func, cst.Call):  # getattr(torch.optim, name)(params)
            inner_q = self.names.call_name(func)
            if inner_q == "builtins.getattr" and func.args and self.names.qualified(func.args[0].value) == "torch.optim":
                return Prov("optimizer", "getattr(torch.optim, ...)")
            return None
        if isinstance(func, cst.Attribute):
            m = func.attr.value
            if m in _SAME:
                inner = self.provenance(func.value, scopes, cls, depth + 1)
                if inner is not None and inner.kind == "module":
                    if m == "eval" or (m == "train" and call.args and _is_false(call.args[0].value)):
                        return replace(inner, evaled=True)
                    if m == "train":
                        return replace(inner, evaled=False)
                return inner if inner is not None and inner.kind == "module" else None
            if isinstance(func.value, cst.Name) and func.value.value == "self" and cls:
                fn = self.method(cls, m)
                return self._returned(fn, cls, depth) if fn is not None else None
            return None
        if isinstance(func, cst.Name):
            name = func.value
            if name in self.classes and self._not_shadowed(name, scopes):
                if self.is_module_class(name):
                    return Prov("module", name, "medium", cls=name, sensitive=self.class_is_sensitive(name))
                return None
            fn = self.functions.get(name)
            if fn is not None and self._not_shadowed(name, scopes):
                return self._returned(fn, None, depth)
        return None

    def _not_shadowed(self, name: str, scopes: Sequence[Scope]) -> bool:
        for s in scopes[1:]:
            info = self.scope(s)
            if name in info.assigns or name in info.params:
                return False
        return True

    def _returned(self, fn: cst.FunctionDef, cls: str | None, depth: int) -> Prov | None:
        key = id(fn)
        if key in self._returns:
            return self._returns[key]
        self._returns[key] = None  # recursion guard
        best: Prov | None = None
        for n in walk(fn.body, into_defs=False):
            if isinstance(n, cst.Return) and n.value is not None:
                p = self.provenance(n.value, [self.module, fn], cls, depth + 1)
                if p is not None:
                    best = p if best is None else best
        if best is not None and best.kind == "module":
            evaled = best.evaled or self.contains(fn, "eval")
            best = replace(best, evaled=evaled, source=f"{fn.name.value}()", confidence="medium"
                           if best.confidence == "high" else best.confidence)
        elif best is not None:
            best = replace(best, source=f"{fn.name.value}()")
        self._returns[key] = best
        return best


def is_eval_switch(node: cst.CSTNode) -> bool:
    """`x.eval()`, `x.train(False)`, `x.train(mode=False)`."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    m = node.func.attr.value
    if m == "eval" and not node.args:
        return True
    return m == "train" and len(node.args) == 1 and _is_false(node.args[0].value)


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _sensitive_nn(q: str, k: TorchKnowledge) -> bool:
    if not q.startswith("torch.nn."):
        return True
    last = q.rpartition(".")[2].lower()
    return any(s in last for s in k.mode_sensitive) or last in (
        "sequential", "modulelist", "moduledict", "dataparallel", "distributeddataparallel",
        "transformer", "transformerencoder", "transformerdecoder", "transformerencoderlayer",
        "transformerdecoderlayer", "multiheadattention", "lstm", "gru", "rnn", "module")


def _blocks(stmt: cst.CSTNode) -> Iterator[cst.CSTNode]:
    if isinstance(stmt, cst.If):
        yield from stmt.body.body
        if stmt.orelse is not None:
            yield from _blocks(stmt.orelse) if isinstance(stmt.orelse, cst.If) else stmt.orelse.body.body
    elif isinstance(stmt, cst.Else):
        yield from stmt.body.body
    elif isinstance(stmt, cst.Try):
        yield from stmt.body.body
        for h in stmt.handlers:
            yield from h.body.body
        if stmt.orelse is not None:
            yield from stmt.orelse.body.body
    elif isinstance(stmt, cst.With):
        yield from stmt.body.body


def _names_in(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _names_in(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names_in(target.value)


def _unpacked(value: cst.BaseExpression, n: int) -> list[cst.BaseExpression | None]:
    """The values a tuple target of length ``n`` gets: `a, b = x, y`, and
    `model, opt = accelerator.prepare(model, opt)` (each result is its wrapped argument)."""
    if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == n:
        return [None if isinstance(e, cst.StarredElement) else e.value for e in value.elements]
    if isinstance(value, cst.Call) and method_name(value) in ("prepare", "initialize") and len(value.args) == n \
            and all(a.keyword is None and not a.star for a in value.args):
        return [a.value for a in value.args]
    return [None] * n


def _bind(info: _ScopeInfo, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
    if isinstance(target, cst.Name):
        info.assigns.setdefault(target.value, []).append(value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        vals = _unpacked(value, len(target.elements))
        for el, v in zip(target.elements, vals):
            if v is not None:
                _bind(info, el.value, v)
            else:
                for name in _names_in(el.value):
                    info.loop_bound.add(name)  # bound to something we cannot follow


class TorchRule(Rule):
    """Base of the torch rules: keeps the enclosing classes, functions and loops, and builds
    the file's :class:`TorchIndex` on first use."""

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = TorchKnowledge.of(ctx.knowledge)
        self._module: cst.Module | None = None
        self._index: TorchIndex | None = None
        self.scopes: list[Scope] = []
        self.classes: list[cst.ClassDef | None] = []  # the class a scope is a method of
        self.loops: list[list[cst.For | cst.While]] = [[]]  # per scope
        self._cls_defs: list[cst.ClassDef] = []

    @property
    def index(self) -> TorchIndex:
        if self._index is None:
            assert self._module is not None
            module, names, k = self._module, self.ctx.names, self.k
            syntax = self.ctx.shared(TorchIndex, lambda: TorchIndex(module, names, k))  # one per file
            self._index = TorchIndex(module, names, k, syntax)
        return self._index

    def uses_torch(self) -> bool:
        return any(q == "torch" or q.startswith(("torch.", "transformers", "timm", "torchvision", "lightning",
                                                  "pytorch_lightning", "bitsandbytes", "accelerate"))
                   for q in self.ctx.names.aliases.values())

    @property
    def cls(self) -> str | None:
        c = self.classes[-1] if self.classes else None
        return c.name.value if c is not None else None

    def prov(self, expr: cst.BaseExpression) -> Prov | None:
        return self.index.provenance(expr, self.scopes, self.cls)

    def visit_Module(self, node: cst.Module) -> None:
        self._module = node
        self.scopes = [node]
        self.classes = [None]

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._class_stack().append(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._class_stack().pop()

    def _class_stack(self) -> list[cst.ClassDef]:
        return self._cls_defs

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        defs = self._class_stack()
        # a method when the class is the nearest enclosing definition
        owner = defs[-1] if defs and self._direct_method(defs[-1], node) else None
        self.scopes.append(node)
        self.classes.append(owner if owner is not None else (self.classes[-1] if self.classes else None))
        self.loops.append([])

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()
        self.classes.pop()
        self.loops.pop()

    @staticmethod
    def _direct_method(owner: cst.ClassDef, fn: cst.FunctionDef) -> bool:
        return any(s is fn for s in owner.body.body)

    def visit_For(self, node: cst.For) -> None:
        self.loops[-1].append(node)

    def leave_For(self, node: cst.For) -> None:
        self.loops[-1].pop()

    def visit_While(self, node: cst.While) -> None:
        self.loops[-1].append(node)

    def leave_While(self, node: cst.While) -> None:
        self.loops[-1].pop()
