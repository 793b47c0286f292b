"""The file phase: one parse, one walk, positions only for what is reported.

``analyse_file`` is a pure function (picklable in, picklable out) run in a process pool.
It parses a file once with libcst and walks the tree once, calling every selected rule's
``visit_<Node>``/``leave_<Node>`` methods (a batched traversal).

Why our own walk instead of libcst's ``visit_batched`` and metadata providers: on the
benchmark corpus a plain libcst visit costs 0.7x the parse, ``PositionProvider`` 2x and
``QualifiedNameProvider`` several times more; this walk skips whitespace nodes, costs about
0.05x the parse, and positions are computed in one code-generation pass only for files that
have something to report (see ``_PositionState``). Imports and aliases are resolved by the
light :class:`~mldebt.rules.names.NameResolver` fed during the walk.
"""

from __future__ import annotations

import bisect
import dataclasses
import gc
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState

from mldebt.cache import FileCache
from mldebt.model import Confidence, Fact, FileResult, Location, RawFinding, Severity
from mldebt.parsing import Source, SourceError, load_source, parse
from mldebt.rules.base import Comment, ProjectRule, Rule
from mldebt.rules.names import NameResolver
from mldebt.suppression import parse_directives

# --- the walk ----------------------------------------------------------------------

# Fields that hold only whitespace and punctuation: the walk does not descend into them.
# Comments are found from the source text instead (see ``_scan_comments``).
_SKIP_FIELDS = frozenset(
    {
        "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer",
        "trailing_whitespace", "newline", "comma", "semicolon", "equal", "colon", "dot",
        "star", "asynchronous", "first_line", "empty_lines", "last_line", "indent",
        "relative", "star_tok", "walrus", "arrow", "operator",
    }
)
# Dataclass field order is not always source order; these are (and must be, for the
# comment scan and for rules that follow values in order).
_FIELD_ORDER: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Arg: ("keyword", "value"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.TypeAlias: ("name", "type_parameters", "value"),
}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    order = _FIELD_ORDER.get(cls)
    if order is None:
        order = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace")
        )
    else:
        names = {f.name for f in dataclasses.fields(cls)}
        order = tuple(n for n in order if n in names)
    _FIELDS[cls] = order
    return order


_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
# f-strings and, where libcst has them, PEP 750 t-strings: located as a whole
_FSTRINGS = frozenset(t for t in (cst.FormattedString, getattr(cst, "TemplatedString", None)) if t)

# What the walk does at a node, per node class (computed once; ``isinstance`` against
# libcst's abstract classes goes through ``ABCMeta`` and costs a Python call each time).
_K_IMPORT, _K_IMPORT_FROM, _K_STRING, _K_FSTRING, _K_FUNCTION, _K_CLASS, _K_LAMBDA = range(1, 8)
_KINDS: dict[type, int] = {
    cst.Import: _K_IMPORT, cst.ImportFrom: _K_IMPORT_FROM, cst.SimpleString: _K_STRING,
    **{t: _K_FSTRING for t in _FSTRINGS},
    cst.FunctionDef: _K_FUNCTION, cst.ClassDef: _K_CLASS, cst.Lambda: _K_LAMBDA,
}
_INFO: dict[type, tuple[tuple[str, ...], bool, int]] = {}  # class -> (fields, is a statement, kind)


def _info(cls: type) -> tuple[tuple[str, ...], bool, int]:
    hit = _INFO[cls] = (_FIELDS.get(cls) or _fields(cls), issubclass(cls, _STATEMENTS), _KINDS.get(cls, 0))
    return hit


# What a field's value is, per value type: a node, a sequence (of nodes), or anything else.
_V_OTHER, _V_NODE, _V_SEQUENCE = 3, 1, 2  # all true: `kinds.get(t) or compute`
_VALUE_KINDS: dict[type, int] = {}


def _value_kind(t: type) -> int:
    kind = _VALUE_KINDS[t] = (
        _V_NODE if issubclass(t, cst.CSTNode) else _V_SEQUENCE if t is tuple or t is list else _V_OTHER
    )
    return kind


@dataclass(slots=True)
class _Pending:
    code: str
    node: cst.CSTNode
    anchor: cst.CSTNode | None
    scope: str
    message: str = ""
    hint: str = ""
    confidence: Confidence | None = None
    severity: Severity | None = None
    kind: str = ""  # facts only
    data: Mapping[str, Any] | None = None


class FileContextImpl:
    """The engine's side of :class:`mldebt.rules.base.FileContext`."""

    def __init__(self, path: str, module: str, is_test: bool, source: Source,
                 module_node: cst.Module, knowledge: Mapping[str, Any], is_package: bool) -> None:
        self.path = path
        self.module = module
        self.is_test = is_test
        self.source = source.text
        self._parsed = source  # notebooks: its cells
        self._cell_ends: frozenset[int] | None = None
        self.knowledge = knowledge
        self.names = NameResolver(module, is_package)
        self._module = module_node
        self._scopes: list[str] = []
        self._functions: list[cst.CSTNode] = []
        self._statements: list[cst.CSTNode] = []
        self._strings: list[cst.CSTNode] = []
        self._comments: list[Comment] | None = None
        self.masked: list[tuple[int, int]] = []  # strings and comments: (start, end) offsets
        self.pending: list[_Pending] = []
        self._shared: dict[Any, Any] = {}
        self._helpers: list[Any] = []  # shared helpers, walked before the rules
        # reported node -> its top-level statement, for _positions (see _TOPS)
        self._tops: dict[int, cst.CSTNode] = {}
        _TOPS[:] = [module_node, self._tops, self.source]

    # -- FileContext ---------------------------------------------------------------
    @property
    def scope(self) -> str:
        return ".".join(self._scopes) if self._scopes else "<module>"

    @property
    def function(self) -> Any:
        return self._functions[-1] if self._functions else None

    def comments(self) -> Sequence[Comment]:
        if self._comments is None:
            self.masked = []
            self._comments = _scan_comments(self.source, self._strings, self._module, self.masked)
        return self._comments

    def code_for(self, node: cst.CSTNode) -> str:
        plain = _plain_code(node)  # a name or dotted name as written: no code generation
        return plain if plain is not None else self._module.code_for_node(node)

    def shared(self, key: Any, make: Callable[[], Any]) -> Any:
        hit = self._shared.get(key)
        if hit is None:
            hit = self._shared[key] = make()
            self._helpers.append(hit)
        return hit

    def ends_cell(self, stmt: cst.CSTNode) -> bool:
        if not self._parsed.is_notebook:
            return False
        if self._cell_ends is None:
            self._cell_ends = _cell_ends(self._module, self._parsed)
        return id(stmt) in self._cell_ends

    # -- Sink ----------------------------------------------------------------------
    def report(self, code: str, node: cst.CSTNode, message: str, hint: str,
               confidence: Confidence | None, severity: Severity | None) -> None:
        anchor = node if isinstance(node, _STATEMENTS) else (self._statements[-1] if self._statements else None)
        self._note_top(node, anchor)
        self.pending.append(_Pending(code, node, anchor, self.scope, message, hint, confidence, severity))

    def fact(self, code: str, kind: str, node: cst.CSTNode | None, data: Mapping[str, Any]) -> None:
        anchor = None
        if node is not None:
            anchor = node if isinstance(node, _STATEMENTS) else (self._statements[-1] if self._statements else None)
            self._note_top(node, anchor)
        self.pending.append(_Pending(code, node, anchor, self.scope, kind=kind, data=dict(data)))  # type: ignore[arg-type]

    def _note_top(self, node: cst.CSTNode, anchor: cst.CSTNode | None) -> None:
        """The top-level statement being walked, presumably holding ``node`` (_positions checks)."""
        if self._statements:
            top = self._statements[0]
            self._tops[id(node)] = top
            if anchor is not None:
                self._tops[id(anchor)] = top

    # -- the walk ------------------------------------------------------------------
    def walk(self, rules: Sequence[Rule]) -> None:
        visits: dict[type, list[Callable[[Any], Any]]] = {}
        leaves: dict[type, list[Callable[[Any], Any]]] = {}
        for rule in (*self._helpers, *rules):  # shared helpers (their visit_/leave_) first
            for attr, classes in _handlers_of(type(rule)):
                target = visits if attr[0] == "v" else leaves
                method = getattr(rule, attr)
                for cls in classes:
                    target.setdefault(cls, []).append(method)
        self._visits = visits
        self._leaves = leaves
        self._walk(self._module)

    def _walk(self, node: cst.CSTNode) -> None:
        cls = type(node)
        info = _INFO.get(cls) or _info(cls)
        fields, is_stmt, kind = info
        if is_stmt:
            self._statements.append(node)
        if kind:
            if kind == _K_IMPORT:
                self.names.add_import(node)  # type: ignore[arg-type]
            elif kind == _K_IMPORT_FROM:
                self.names.add_import_from(node)  # type: ignore[arg-type]
            elif kind == _K_STRING or kind == _K_FSTRING:
                self._strings.append(node)
        fns = self._visits.get(cls)
        if fns:
            for fn in fns:
                fn(node)
        scope_pushed = fn_pushed = False
        if kind == _K_FUNCTION or kind == _K_CLASS:
            self._scopes.append(node.name.value)  # type: ignore[attr-defined]
            self.names.add_local_def(node.name.value)  # type: ignore[attr-defined]
            scope_pushed = True
            if kind == _K_FUNCTION:
                self._functions.append(node)
                fn_pushed = True
        elif kind == _K_LAMBDA:
            self._functions.append(node)
            fn_pushed = True
        walk = self._walk
        kinds = _VALUE_KINDS
        if kind == _K_FSTRING:
            # its parts are located with the f-string as a whole: only its sequences are walked
            for name in fields:
                value = getattr(node, name)
                if (kinds.get(type(value)) or _value_kind(type(value))) == _V_SEQUENCE:
                    for child in value:
                        if (kinds.get(type(child)) or _value_kind(type(child))) == _V_NODE:
                            self._walk_fstring_part(child)
        else:
            for name in fields:
                value = getattr(node, name)
                vk = kinds.get(type(value)) or _value_kind(type(value))
                if vk == _V_NODE:
                    walk(value)
                elif vk == _V_SEQUENCE:
                    for child in value:
                        if (kinds.get(type(child)) or _value_kind(type(child))) == _V_NODE:
                            walk(child)
        if scope_pushed:
            self._scopes.pop()
        if fn_pushed:
            self._functions.pop()
        fns = self._leaves.get(cls)
        if fns:
            for fn in fns:
                fn(node)
        if is_stmt:
            self._statements.pop()

    def _walk_fstring_part(self, part: cst.CSTNode) -> None:
        # Walk the expressions inside an f-string for rules, but do not record their
        # strings for the comment scan (the enclosing f-string covers them).
        saved = self._strings
        self._strings = []
        try:
            self._walk(part)
        finally:
            self._strings = saved


def _plain_code(node: cst.CSTNode) -> str | None:
    """``code_for_node`` of a name or a dotted name without parentheses or spaces, else None."""
    if type(node) is cst.Name:
        return None if node.lpar or node.rpar else node.value
    parts: list[str] = []
    while type(node) is cst.Attribute:
        dot, attr = node.dot, node.attr
        if node.lpar or node.rpar or type(dot) is not cst.Dot or attr.lpar or attr.rpar \
                or type(dot.whitespace_before) is not cst.SimpleWhitespace or dot.whitespace_before.value \
                or type(dot.whitespace_after) is not cst.SimpleWhitespace or dot.whitespace_after.value:
            return None
        parts.append(attr.value)
        node = node.value
    if type(node) is not cst.Name or not parts or node.lpar or node.rpar:
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


_SUBCLASSES: dict[type, tuple[type, ...]] = {}
_HANDLERS: dict[type, tuple[tuple[str, tuple[type, ...]], ...]] = {}


def _handlers_of(rule_cls: type) -> tuple[tuple[str, tuple[type, ...]], ...]:
    """A rule class's ``visit_X``/``leave_X`` methods and the node classes each one covers."""
    hit = _HANDLERS.get(rule_cls)
    if hit is None:
        found = []
        for attr in dir(rule_cls):
            if attr.startswith(("visit_", "leave_")):
                node_cls = getattr(cst, attr[6:], None)
                if isinstance(node_cls, type) and issubclass(node_cls, cst.CSTNode):
                    found.append((attr, _concrete_subclasses(node_cls)))
        hit = _HANDLERS[rule_cls] = tuple(found)
    return hit


def _concrete_subclasses(base: type) -> tuple[type, ...]:
    """``visit_BaseCompoundStatement`` fires for every concrete node class below it."""
    hit = _SUBCLASSES.get(base)
    if hit is None:
        out: list[type] = []
        stack = [base]
        while stack:
            c = stack.pop()
            if not getattr(c, "__abstractmethods__", None) and dataclasses.is_dataclass(c):
                out.append(c)
            stack.extend(c.__subclasses__())
        hit = _SUBCLASSES[base] = tuple(dict.fromkeys(out))
    return hit


# --- comments from source text -----------------------------------------------------


def _scan_comments(text: str, strings: Sequence[cst.CSTNode], module: cst.Module,
                   masked: list[tuple[int, int]] | None = None) -> list[Comment]:
    """Every comment with its position, found without tokenizing the file.

    A ``#`` outside a string literal starts a comment. String literals are located in
    order with ``str.find`` from a cursor (the walk records them in source order), and a
    ``#`` that comes before the next string starts a comment running to the end of its
    line. If a string cannot be located (should not happen), fall back to ``tokenize``.
    ``masked`` receives the (start, end) offsets of every string literal (of an f-string, its
    text parts) and comment, in order (it is left empty after the fallback).
    """
    out: list[Comment] = []
    cursor = 0
    line = 1
    line_start = 0
    n = len(text)

    def advance(to: int) -> None:
        nonlocal line, line_start
        count = text.count("\n", cursor, to)
        if count:
            line += count
            line_start = text.rfind("\n", cursor, to) + 1

    for node in strings:
        if isinstance(node, cst.SimpleString):
            value = node.value
        else:
            # an f-string's own parentheses may hold comments: locate the string alone
            if node.lpar:  # type: ignore[attr-defined]
                node = node.with_changes(lpar=(), rpar=())
            value = module.code_for_node(node)
        while True:
            q = text.find(value, cursor)
            if q < 0:
                if masked is not None:
                    masked.clear()
                return _tokenize_comments(text)
            p = text.find("#", cursor, q)
            if p < 0:
                break
            end = text.find("\n", p)
            end = n if end < 0 else end
            advance(p)
            out.append(_comment(text, p, end, line, line_start))
            if masked is not None:
                masked.append((p, end))
            cursor = p
            advance(end)
            cursor = end
        advance(q)
        cursor = q
        advance(q + len(value))
        cursor = q + len(value)
        if masked is None:
            continue
        if isinstance(node, cst.FormattedString):  # its text parts only: the {fields} hold code
            at = q + len(node.start)  # `start` is the prefix and the quote: f"
            for part in node.parts:
                size = len(part.value) if isinstance(part, cst.FormattedStringText) else len(module.code_for_node(part))
                if isinstance(part, cst.FormattedStringText):
                    masked.append((at, at + size))
                at += size
        else:
            masked.append((q, cursor))
    while True:
        p = text.find("#", cursor)
        if p < 0:
            break
        end = text.find("\n", p)
        end = n if end < 0 else end
        advance(p)
        cursor = p
        out.append(_comment(text, p, end, line, line_start))
        if masked is not None:
            masked.append((p, end))
        advance(end)
        cursor = end
    return out


def _comment(text: str, start: int, end: int, line: int, line_start: int) -> Comment:
    body = text[start:end].rstrip("\r")
    return Comment(line, start - line_start + 1, body, not text[line_start:start].strip())


def _tokenize_comments(text: str) -> list[Comment]:
    import io
    import tokenize

    out = []
    lines = text.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                before = lines[row - 1][:col] if row - 1 < len(lines) else ""
                out.append(Comment(row, col + 1, tok.string, not before.strip()))
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


# --- positions -----------------------------------------------------------------------


class _PositionState(CodegenState):
    """Code generation that notes where chosen nodes start and end (token indices).

    libcst nodes call ``record_syntactic_position`` around their syntactic extent (an
    expression without its parentheses, an element without its comma, a statement from
    its keyword to the end of its body, without leading lines, decorators or a trailing
    comment). We record that extent for every node, as token indices (cheap), because a
    node may hoist its start or end from a child (``start_node``/``end_node``); this is
    what ``PositionProvider`` reports, at a fraction of its cost. ``spans`` keeps the
    whitespace-inclusive extent of the targets, for the few nodes without a syntactic one.
    """

    def __init__(self, targets: set[int], **kw: Any) -> None:
        super().__init__(**kw)
        self.targets = targets
        self.spans: dict[int, list[int]] = {}
        self.syntactic: dict[int, tuple[int, int]] = {}
        self._open: list[tuple[int, cst.CSTNode | None, cst.CSTNode | None, int]] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.targets:
            self.spans[id(node)] = [len(self.tokens), -1]

    def after_codegen(self, node: cst.CSTNode) -> None:
        span = self.spans.get(id(node))
        if span is not None and span[1] < 0:
            span[1] = len(self.tokens)

    # A plain object as its own context manager: cheaper than ``@contextmanager``.
    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                  end_node: cst.CSTNode | None = None) -> Any:
        self._open.append((id(node), start_node, end_node, len(self.tokens)))
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        key, start_node, end_node, start = self._open.pop()
        syntactic = self.syntactic
        end = len(self.tokens)
        # a child without a syntactic extent is the first (start) or last (end) thing
        # generated inside this block, so the block's own bounds are its bounds
        if start_node is not None:
            hoist = syntactic.get(id(start_node))
            if hoist is not None:
                start = hoist[0]
        if end_node is not None:
            hoist = syntactic.get(id(end_node))
            if hoist is not None:
                end = hoist[1]
        syntactic[key] = (start, end)


@dataclass(frozen=True, slots=True)
class _Span:
    line: int
    column: int  # 0-based
    end_line: int
    end_column: int  # 0-based, exclusive
    text: str


def _positions(module: cst.Module, nodes: Sequence[cst.CSTNode]) -> dict[int, _Span]:
    """Where ``nodes`` are: the same ranges as libcst's ``PositionProvider``.

    So a decorated definition starts at ``def``/``class``, a statement ends before its
    semicolon or trailing comment, an expression excludes its parentheses. The few nodes
    libcst gives only a whitespace-inclusive extent (``ComparisonTarget``, ``CompFor``,
    ``AsName``, unary operators, whitespace...) are trimmed of leading blank and comment
    lines, indentation and trailing whitespace instead.
    """
    by_statement = _positions_by_statement(module, nodes)
    if by_statement is not None:
        return by_statement
    targets = {id(n) for n in nodes}
    state = _PositionState(targets, default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    return _spans(state, 1, 0)


# The file being analysed: its module, reported node -> top-level statement, and text. One
# slot (files are analysed one after another in a process), filled by FileContextImpl.
_TOPS: list[Any] = [None, None, None]


def _positions_by_statement(module: cst.Module, nodes: Sequence[cst.CSTNode]) -> dict[int, _Span] | None:
    """``_positions`` generating only the top-level statements that hold ``nodes``.

    libcst writes a top-level statement back exactly as it was read, so where its code is
    found in the file's text is where it is, when it is found there once only. None when
    that does not hold for some statement, or a node was reported outside the walk's
    statements (the caller then generates the whole module).
    """
    if _TOPS[0] is not module or not module.has_trailing_newline:  # else the code is the text
        return None
    tops: dict[int, cst.CSTNode] = _TOPS[1]
    text: str = _TOPS[2]
    groups: dict[int, tuple[cst.CSTNode, set[int]]] = {}
    missing = {id(n) for n in nodes if id(n) not in tops}
    if missing:  # reported after the walk (``finish``): look for them statement by statement
        tops = dict(tops)
        for stmt in module.body:
            for key in _ids_below(stmt, missing):
                tops[key] = stmt
                missing.discard(key)
            if not missing:
                break
    for n in nodes:
        top = tops.get(id(n))
        if top is None:
            return None
        group = groups.get(id(top))
        if group is None:
            group = groups[id(top)] = (top, set())
        group[1].add(id(n))
    out: dict[int, _Span] = {}
    for top, targets in groups.values():
        state = _PositionState(targets, default_indent=module.default_indent, default_newline=module.default_newline)
        top._codegen(state)
        if len(state.spans) != len(targets):  # a node reported while walking another statement
            return None
        code = "".join(state.tokens)
        at = text.find(code)
        if not code or at < 0 or text.find(code, at + 1) >= 0:
            return None
        line_start = text.rfind("\n", 0, at) + 1
        out.update(_spans(state, text.count("\n", 0, at) + 1, at - line_start))
    return out


_ALL_FIELDS: dict[type, tuple[str, ...]] = {}


def _ids_below(node: cst.CSTNode, wanted: set[int]) -> list[int]:
    """Which of the ``wanted`` node ids are ``node`` or below it (whitespace and comments too)."""
    out = []
    stack = [node]
    kinds = _VALUE_KINDS
    while stack:
        n = stack.pop()
        if id(n) in wanted:
            out.append(id(n))
        cls = type(n)
        fields = _ALL_FIELDS.get(cls)
        if fields is None:
            fields = _ALL_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        for name in fields:
            value = getattr(n, name)
            vk = kinds.get(type(value)) or _value_kind(type(value))
            if vk == _V_NODE:
                stack.append(value)
            elif vk == _V_SEQUENCE:
                stack.extend(c for c in value if (kinds.get(type(c)) or _value_kind(type(c))) == _V_NODE)
    return out


def _spans(state: _PositionState, first_line: int, first_column: int) -> dict[int, _Span]:
    """The spans of ``state``'s targets, its first token being at ``first_line``/``first_column``."""
    tokens = state.tokens
    # ``Module`` pops the file's last newline after its statements recorded their ends
    size = len(tokens)
    bounds: dict[int, tuple[int, int, bool]] = {}
    for key, (start, end) in state.spans.items():
        syn = state.syntactic.get(key)
        if syn is not None:
            bounds[key] = (min(syn[0], size), min(syn[1], size), True)
        else:
            bounds[key] = (min(start, size), min(end, size), False)
    # token index -> (line, col) for every boundary we need, in one pass
    wanted = sorted({i for b in bounds.values() for i in b[:2]})
    where: dict[int, tuple[int, int]] = {}
    line, col, idx = first_line, first_column, 0
    for target in wanted:
        while idx < target:
            tok = tokens[idx]
            nl = tok.count("\n")
            if nl:
                line += nl
                col = len(tok) - tok.rfind("\n") - 1
            else:
                col += len(tok)
            idx += 1
        where[target] = (line, col)
    out: dict[int, _Span] = {}
    for key, (start, end, syntactic) in bounds.items():
        text = "".join(tokens[start:end])
        line, col = where[start]
        if syntactic:
            end_line, end_col = where[end]
            out[key] = _Span(line, col, end_line, end_col, text)
            continue
        # skip leading blank and comment-only lines and indentation
        pos = 0
        while True:
            nl = text.find("\n", pos)
            seg = text[pos: nl if nl >= 0 else len(text)]
            stripped = seg.strip()
            if nl >= 0 and (not stripped or stripped.startswith("#")):
                pos = nl + 1
                line += 1
                col = 0
                continue
            lead = len(seg) - len(seg.lstrip())
            col += lead
            pos += lead
            break
        body = text[pos:].rstrip()
        nls = body.count("\n")
        if nls:
            end_line = line + nls
            end_col = len(body) - body.rfind("\n") - 1
        else:
            end_line = line
            end_col = col + len(body)
        out[key] = _Span(line, col, end_line, end_col, body)
    return out


def _search_positions(text: str, module: cst.Module, nodes: Sequence[cst.CSTNode],
                      masked: Sequence[tuple[int, int]]) -> dict[int, _Span] | None:
    """Where call ``nodes`` (given in source order) are, found by searching ``text``.

    libcst writes every node back exactly as it was read, except that a node generated on its
    own lacks the indentation of the block around it on its continuation lines; and the engine
    walks in source order, so each node starts at or after the previous one. So the first line
    of a call's code is searched from where the previous one was found, skipping matches that
    start inside a string or a comment (``masked``, sorted offsets), and each further line is
    checked, indentation aside, against the source lines that follow. Returns None when a node is not a call or is not found that way (the caller
    then generates positions the full way).
    """
    out: dict[int, _Span] = {}
    lines = text.split("\n")
    starts = [0]
    for ln in lines[:-1]:
        starts.append(starts[-1] + len(ln) + 1)
    masked_starts = [a for a, _ in masked]
    found: set[tuple[int, int]] = set()
    cursor = 0
    for node in nodes:
        if not isinstance(node, cst.Call):  # a bare name could match anywhere: not worth it
            return None
        bare = node.with_changes(lpar=[], rpar=[]) if node.lpar else node
        code = module.code_for_node(bare)
        code_lines = code.split("\n")
        first = code_lines[0]
        idx = text.find(first, cursor)
        while idx >= 0:
            line_no = bisect.bisect_right(starts, idx)  # 1-based
            col = idx - starts[line_no - 1]
            m = bisect.bisect_right(masked_starts, idx) - 1
            a, b = masked[m] if m >= 0 else (0, 0)
            # inside a string or comment, unless the call starts with that literal: `", ".join(x)`
            inside = idx < b and not (idx == a and code.startswith(text[a:b]))
            taken = (idx, len(code)) in found  # an identical call found already
            # `parse_args(argv)` must not match the tail of `p.parse_args(argv)`
            before = lines[line_no - 1][:col]
            glued = first[:1].isidentifier() and (
                (before[-1:].isalnum() or before[-1:] in ("_", ".")) or _DEFINES.search(before) is not None)
            # a call spanning lines ends its first line: `f(a)` earlier on that line is another
            whole = len(code_lines) == 1 or lines[line_no - 1][col:] == first
            if not inside and not taken and not glued and whole and _continues(lines, line_no, code_lines):
                break
            idx = text.find(first, idx + 1)
        if idx < 0:
            return None
        end_line = line_no + len(code_lines) - 1
        if len(code_lines) == 1:
            end_col = col + len(first)
        else:
            last = lines[end_line - 1]
            end_col = len(last) - len(last.lstrip()) + len(code_lines[-1].lstrip())
        body = text[idx: starts[end_line - 1] + end_col]
        out[id(node)] = _Span(line_no, col, end_line, end_col, body)
        found.add((idx, len(code)))
        cursor = idx
    return out


_DEFINES = re.compile(r"\b(?:def|class)\s+$")  # `def doc(elt):` is not a call of doc


def _continues(lines: Sequence[str], line_no: int, code_lines: Sequence[str]) -> bool:
    """Do the source lines after ``line_no`` carry ``code_lines[1:]`` (indentation aside)?"""
    if line_no - 1 + len(code_lines) > len(lines):
        return False
    last = len(code_lines) - 1
    for k in range(1, len(code_lines)):
        have, want = lines[line_no - 1 + k].strip(), code_lines[k].strip()
        if not (have == want or (k == last and have.startswith(want))):  # `) as f:` ends the call
            return False
    return True


# --- one file ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A selected rule as the file phase needs it (picklable)."""

    code: str
    impl: str
    options: Mapping[str, Any]
    tests: bool  # runs on test files
    project: bool  # a ProjectRule (collects facts even where it does not report)


@dataclass(frozen=True, slots=True)
class FileJob:
    abspath: str
    path: str
    module: str
    is_test: bool
    is_package: bool


def analyse_source(job: FileJob, data: bytes, plans: Sequence[RulePlan],
                   knowledge: Mapping[str, Any], debug: bool = False) -> FileResult:
    """The file phase on bytes already read: decode, parse, walk, locate.

    Python's warnings about the scanned code are silenced: evaluating a literal (libcst's
    ``evaluated_value``, CPython's parser behind it) warns about ``"\\d"`` and the like, a
    SyntaxWarning printed once per place from Python 3.12, in the middle of the report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # the same warning before 3.12
        return _analyse_source(job, data, plans, knowledge, debug)


def _analyse_source(job: FileJob, data: bytes, plans: Sequence[RulePlan],
                    knowledge: Mapping[str, Any], debug: bool) -> FileResult:
    lines = data.count(b"\n")
    if is_generated(data):
        return FileResult(job.path, job.module, job.is_test, lines)
    try:
        source = load_source(job.path, data)
        lines = source.lines
        module = parse(source)
    except SourceError as exc:
        return FileResult(job.path, job.module, job.is_test, lines, error=str(exc))
    ctx = FileContextImpl(job.path, job.module, job.is_test, source, module, knowledge, job.is_package)
    from mldebt.catalog import _load_class

    rules: list[Rule] = []
    for plan in plans:
        if job.is_test and not plan.tests and not plan.project:
            continue
        cls = _load_class(plan.impl)
        if isinstance(cls, type) and issubclass(cls, Rule):
            rules.append(cls(ctx, plan.code, plan.options, ctx))
    try:
        ctx.walk(rules)
        for rule in rules:
            rule.finish()
        directives = parse_directives(ctx.comments())
        if source.is_notebook:
            directives = [_in_cell(d, source) for d in directives]
        findings, facts = _locate(ctx, module, source)
    except RecursionError:
        return FileResult(job.path, job.module, job.is_test, lines, error="too deeply nested to analyse")
    except Exception as exc:
        if debug:
            raise
        return FileResult(job.path, job.module, job.is_test, lines,
                          error=f"internal error (please report): {type(exc).__name__}: {exc}")
    finally:
        _release(ctx, rules)
    return FileResult(job.path, job.module, job.is_test, lines, tuple(findings), tuple(directives), tuple(facts))


def _release(ctx: FileContextImpl, rules: Sequence[Rule]) -> None:
    """Drop what the context and the rules hold. They refer to each other (the walk's handler
    table holds the rules' methods, the rules hold the context), and through that cycle to the
    whole tree; broken here, the tree is freed by reference counting when the file is done
    instead of waiting for the cyclic garbage collector."""
    for obj in (ctx, *rules):
        state = getattr(obj, "__dict__", None)
        if state is not None:
            state.clear()


def _cell_ends(module: cst.Module, source: Source) -> frozenset[int]:
    """ids of the top-level statements that are the last statement of their notebook cell.

    A statement's code (``code_for_node``) holds its leading blank and comment lines and ends
    with a newline, so counting newlines through the module body gives each statement's
    first and last line without position metadata.
    """
    line = len(module.header)  # header comment and blank lines come first
    spans: list[tuple[int, int, int]] = []  # (id, first code line, last line)
    for stmt in module.body:
        leading = len(getattr(stmt, "leading_lines", ()))
        lines = module.code_for_node(stmt).count("\n")
        spans.append((id(stmt), line + leading + 1, line + lines))
        line += lines
    ends = set()
    for i, (key, _, last) in enumerate(spans):
        here = source.cell_of(last)
        nxt = source.cell_of(spans[i + 1][1]) if i + 1 < len(spans) else None
        if nxt is None or here is None or nxt[0] != here[0]:
            ends.add(key)
    return frozenset(ends)


def _in_cell(d: Any, source: Source) -> Any:
    """A notebook directive with its cell and the cell's first joined line."""
    cell = source.cell_of(d.line)
    if cell is None:
        return d
    return dataclasses.replace(d, cell=cell[0], cell_start=d.line - cell[1] + 1, file_line=source.file_line_of(d.line))


_GENERATED_MARKERS = (b"@generated", b"DO NOT EDIT", b"Generated by the protocol buffer compiler")


def is_generated(data: bytes) -> bool:
    """A generated file says so in a comment in its first five lines; it is not analysed."""
    for line in data[:2048].splitlines()[:5]:
        stripped = line.strip()
        if stripped.startswith(b"#") and any(m in stripped for m in _GENERATED_MARKERS):
            return True
    return False


def _locate(ctx: FileContextImpl, module: cst.Module, source: Source) -> tuple[list[RawFinding], list[Fact]]:
    if not ctx.pending:
        return [], []
    nodes: list[cst.CSTNode] = []
    for p in ctx.pending:
        if p.node is not None:
            nodes.append(p.node)
        if p.anchor is not None:
            nodes.append(p.anchor)
    # facts without nodes need no positions: code generation runs only for located items,
    # and a file with only located facts (the project graph's reads and writes) finds them
    # by searching the source, which costs a fraction of a full code generation
    spans: dict[int, _Span] | None = None
    if nodes and all(p.data is not None for p in ctx.pending):
        ctx.comments()  # locates the strings and comments a match must not fall in
        if ctx.masked:
            spans = _search_positions(source.text, module, [p.node for p in ctx.pending if p.node is not None],
                                      ctx.masked)
    if spans is None:
        spans = _positions(module, nodes) if nodes else {}
    findings: list[RawFinding] = []
    facts: list[Fact] = []
    for p in ctx.pending:
        loc = None
        if p.node is not None and id(p.node) in spans:
            s = spans[id(p.node)]
            anchor = spans.get(id(p.anchor)) if p.anchor is not None else None
            anchor = anchor if anchor is not None else s
            cell = source.cell_of(s.line) if source.is_notebook else None
            loc = Location(
                line=s.line, column=s.column + 1, end_line=s.end_line, end_column=s.end_column + 1,
                anchor_line=anchor.line if anchor else s.line, scope=p.scope, snippet=s.text,
                cell=cell[0] if cell else None, cell_line=cell[1] if cell else None,
                file_line=source.file_line_of(s.line) if cell else None,
            )
        if p.data is None:
            if loc is not None:
                findings.append(RawFinding(p.code, loc, p.message, p.hint, p.confidence, p.severity))
        else:
            facts.append(Fact(p.code, p.kind, p.data, loc))
    return findings, facts


# --- worker entry points -------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def init_worker(plans: Sequence[RulePlan], knowledge: Mapping[str, Any], debug: bool,
                cache: FileCache | None = None, timeout: float | None = None,
                board: _Board | None = None) -> None:
    _WORKER["plans"] = plans
    _WORKER["knowledge"] = knowledge
    _WORKER["debug"] = debug
    _WORKER["cache"] = cache
    _WORKER["timeout"] = timeout
    _WORKER["slot"] = board.claim() if board is not None else None
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    tune_gc()


def tune_gc() -> None:
    """Collect cycles far less often than Python's default (every 700 net allocations), as
    mypy does: a parse allocates millions of acyclic nodes (freed by reference counting, see
    :func:`_release`), and each default collection rescans every live object; on a warm scan
    of the medium corpus collections cost 30 % of the run."""
    gc.set_threshold(200_000, 30, 30)


def _init_pool_worker(*args: Any) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, the workers do not print
    # a traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # and the parent's SIGTERM handler (see cli) is not theirs: ``_stop`` ends them with it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    init_worker(*args)
    gc.freeze()  # what the worker holds from now on (modules, catalog) is never rescanned


def _read(job: FileJob) -> bytes | FileResult:
    try:
        with open(job.abspath, "rb") as fh:
            return fh.read()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return FileResult(job.path, job.module, job.is_test, 0, error=f"cannot read: {reason}")


def analyse_file(job: FileJob, index: int = -1) -> FileResult:
    data = _read(job)
    if isinstance(data, FileResult):
        return data
    slot: _Slot | None = _WORKER.get("slot")
    if slot is not None:
        slot.starts(index)
    try:
        result = _within_budget(job, data, _WORKER.get("timeout"))
    finally:
        if slot is not None:
            slot.ends()
    cache: FileCache | None = _WORKER.get("cache")
    if cache is not None:
        cache.store(cache.name(job.path, job.module, job.is_test, job.is_package, data), result)
    return result


# --- the per-file time budget ---------------------------------------------------------
#
# One pathological file must not stall a CI job. Two guards, both ending in the same error
# entry: an alarm (SIGALRM) interrupts the file's Python code, in every process; the native
# libcst parser does not return to Python until it is done, so in the pool the main process
# also watches each worker's current file on a shared board and kills a worker that overruns
# the budget by a margin; the other files of the pool are then analysed again (see
# ``_in_pool``).

DEFAULT_FILE_TIMEOUT = 60.0


class FileTimeout(BaseException):
    """Raised by the alarm in the middle of a file's analysis: a BaseException, so that no
    ``except Exception`` in a rule swallows it."""


def timed_out(job: FileJob, budget: float) -> FileResult:
    return FileResult(job.path, job.module, job.is_test, 0,
                      error=f"timed out: not analysed within the per-file time budget of {budget:g} s"
                            " (raise it with --file-timeout or `file-timeout` in the config)")


def _ring(signum: int, frame: Any) -> None:
    raise FileTimeout


def _within_budget(job: FileJob, data: bytes, budget: float | None) -> FileResult:
    """``analyse_source`` under an alarm of ``budget`` seconds (none: no budget, or not on
    the main thread, where signals cannot be handled)."""
    plans, knowledge, debug = _WORKER["plans"], _WORKER["knowledge"], _WORKER.get("debug", False)
    if not budget or threading.current_thread() is not threading.main_thread():
        return analyse_source(job, data, plans, knowledge, debug)
    previous = signal.signal(signal.SIGALRM, _ring)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, budget)
            return analyse_source(job, data, plans, knowledge, debug)
        finally:  # an alarm that rings in here is still caught below: the file did overrun
            signal.setitimer(signal.ITIMER_REAL, 0)
    except FileTimeout:
        return timed_out(job, budget)
    finally:
        signal.signal(signal.SIGALRM, previous)


class _Slot:
    """A worker's row on the board: its pid, the index of the file it is on and since when
    (``time.monotonic``, the same clock in every process; 0 when idle)."""

    __slots__ = ("cells", "row")

    def __init__(self, cells: Any, row: int) -> None:
        self.cells = cells
        self.row = row
        cells[3 * row] = os.getpid()

    def starts(self, index: int) -> None:
        self.cells[3 * self.row + 2] = 0.0  # idle while the index changes
        self.cells[3 * self.row + 1] = index
        self.cells[3 * self.row + 2] = time.monotonic()

    def ends(self) -> None:
        self.cells[3 * self.row + 2] = 0.0


class _Board:
    """Shared memory where pool workers say which file they are on, for the main process's
    watchdog (:meth:`overdue`), which enforces a time budget of ``budget`` seconds per file."""

    def __init__(self, workers: int, budget: float) -> None:
        import multiprocessing

        self.workers = workers
        self.budget = budget
        self.poll = min(1.0, budget / 4)  # seconds between two looks at the board
        # how long past the budget the watchdog waits for a worker's own alarm to end a file
        # before it kills the worker (the alarm costs less: the pool goes on)
        self.limit = budget + min(5.0, 0.5 + budget / 10)
        self.cells = multiprocessing.Array("d", 3 * workers, lock=False)
        self.next = multiprocessing.Value("i", 0)

    def claim(self) -> _Slot:
        with self.next.get_lock():
            row = self.next.value % self.workers
            self.next.value += 1
        return _Slot(self.cells, row)

    def overdue(self) -> list[tuple[int, int]]:
        """(pid, file index) of every worker on the same file past the limit."""
        now = time.monotonic()
        late = []
        for row in range(self.workers):
            start = self.cells[3 * row + 2]
            if start and now - start > self.limit:
                pid, index = int(self.cells[3 * row]), int(self.cells[3 * row + 1])
                if self.cells[3 * row + 2] == start:  # not moved on while we read
                    late.append((pid, index))
        return late


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop(pool: Any) -> None:
    """Cancel what is queued and end the workers now (``shutdown`` alone waits for them).

    SIGKILL, not SIGTERM: a worker holds nothing to save (every file it writes is written
    atomically), and a stopped or wedged process ignores SIGTERM, which would leave the pool's
    manager thread waiting for it forever."""
    kill = getattr(pool, "kill_workers", None)  # Python 3.14
    if kill is not None:
        kill()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def cached_results(jobs: Sequence[FileJob], cache: FileCache) -> dict[int, FileResult]:
    """The results the cache holds for ``jobs`` as they are on disk now, by index."""
    hits: dict[int, FileResult] = {}
    for i, job in enumerate(jobs):
        data = _read(job)
        if isinstance(data, FileResult):
            continue  # the worker reports it
        hit = cache.load(cache.name(job.path, job.module, job.is_test, job.is_package, data))
        if hit is not None and hit.path == job.path:
            hits[i] = hit
    return hits


def analyse_files(jobs: Sequence[FileJob], plans: Sequence[RulePlan], knowledge: Mapping[str, Any],
                  n_jobs: int, debug: bool = False,
                  progress: Callable[[int], None] | None = None,
                  cache: FileCache | None = None, timeout: float | None = None) -> list[FileResult]:
    """Run the file phase over ``jobs``, in-process for ``n_jobs == 1`` or small scans.

    With a ``cache``, files whose result it holds are not analysed, and every new result is
    stored (by the process that computed it). A file not analysed within ``timeout`` seconds
    gets an error entry (see :func:`timed_out`)."""
    hits = cached_results(jobs, cache) if cache is not None else {}
    if progress and hits:
        progress(len(hits))
    todo = [job for i, job in enumerate(jobs) if i not in hits]
    fresh: list[FileResult] = []
    if n_jobs <= 1 or len(todo) < 16:
        init_worker(plans, knowledge, debug, cache, timeout)
        for job in todo:
            fresh.append(analyse_file(job))
            if progress:
                progress(1)
    else:
        fresh = _in_pool(todo, n_jobs, (tuple(plans), knowledge, debug, cache, timeout), progress)
    computed = iter(fresh)
    return [hits[i] if i in hits else next(computed) for i in range(len(jobs))]


WORKER_DIED = ("the analysis process died on this file (killed by the system, out of memory, or a crash"
               " in the parser); not analysed")


def analyse_chunk(chunk: Sequence[tuple[int, FileJob]]) -> list[FileResult]:
    return [analyse_file(job, index) for index, job in chunk]


def _in_pool(todo: Sequence[FileJob], n_jobs: int, initargs: tuple[Any, ...],
             progress: Callable[[int], None] | None) -> list[FileResult]:
    """``todo`` analysed by ``n_jobs`` worker processes, in order.

    Chunks of files go to the workers, a few at a time per worker. A worker that dies (a crash
    in native code, the kernel's out-of-memory killer) breaks the whole pool: the files of the
    chunks then in flight are analysed again one by one, each in a process of its own, so the
    file that kills its process gets an error entry and the others their results; the rest go
    on in a new pool. A worker stuck on one file past the time budget (``initargs[-1]``) is
    killed by the watchdog: that file gets its error entry, and the unfinished files of the
    chunks in flight go back in the queue of a new pool.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    budget: float | None = initargs[-1]
    size = max(1, min(16, len(todo) // (n_jobs * 8)))
    chunks = [list(range(i, min(i + size, len(todo)))) for i in range(0, len(todo), size)]
    results: list[FileResult | None] = [None] * len(todo)
    pending = list(reversed(chunks))  # popped from the end: in order
    suspects: list[int] = []
    while pending or suspects:
        if suspects:
            i = suspects.pop(0)
            results[i] = _alone(todo[i], initargs)
            if progress:
                progress(1)
            continue
        board = _Board(n_jobs, budget) if budget else None
        pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_init_pool_worker, initargs=(*initargs, board))
        running: dict[Future[list[FileResult]], list[int]] = {}
        killed = False
        try:
            while pending or running:
                while pending and len(running) < 2 * n_jobs:
                    chunk = pending[-1]  # taken off the queue once submitted: a broken pool refuses it
                    running[pool.submit(analyse_chunk, [(i, todo[i]) for i in chunk])] = chunk
                    pending.pop()
                done, _ = wait(running, timeout=board.poll if board else None, return_when=FIRST_COMPLETED)
                if board is not None:
                    for pid, i in board.overdue():
                        if 0 <= i < len(todo) and results[i] is None:
                            results[i] = timed_out(todo[i], board.budget)
                            if progress:
                                progress(1)
                        _kill(pid)
                        killed = True
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    raise BrokenProcessPool("a worker died")
                for fut in done:
                    chunk = running.pop(fut)
                    for i, result in zip(chunk, fut.result()):
                        if results[i] is None:
                            results[i] = result
                            if progress:
                                progress(1)
        except BrokenProcessPool:
            _stop(pool)
            unfinished = sorted(i for chunk in running.values() for i in chunk if results[i] is None)
            if killed:  # the watchdog's doing: the others are innocent, queue them again
                pending.extend([i] for i in reversed(unfinished))
            else:
                suspects = unfinished
            continue
        except BaseException:
            _stop(pool)  # interrupted: do not wait for the queued files
            raise
        pool.shutdown(wait=True)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _alone(job: FileJob, initargs: tuple[Any, ...]) -> FileResult:
    """``job`` in a process of its own: its result, or an error entry if the process dies or
    overruns the time budget."""
    from concurrent.futures import ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    budget: float | None = initargs[-1]
    board = _Board(1, budget) if budget else None
    pool = ProcessPoolExecutor(max_workers=1, initializer=_init_pool_worker, initargs=(*initargs, board))
    try:
        future = pool.submit(analyse_chunk, [(0, job)])
        while True:
            done, _ = wait([future], timeout=board.poll if board else None)
            if done:
                return future.result()[0]
            if board is not None:
                for pid, _ in board.overdue():
                    _kill(pid)
                    return timed_out(job, board.budget)
    except BrokenProcessPool:
        return FileResult(job.path, job.module, job.is_test, 0, error=WORKER_DIED)
    finally:
        _stop(pool)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


__all__ = [
    "FileJob",
    "ProjectRule",
    "RulePlan",
    "analyse_file",
    "analyse_files",
    "analyse_source",
    "default_jobs",
]
