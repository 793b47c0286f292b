"""Helpers shared by the dead-experimental-path rules (MLD401-MLD405).

- constant truth values of conditions (MLD401) and statements that do nothing (MLD402);
- experiment-like names: snake-case normalisation, patterns, versions, wrapper decorators
  (MLD405);
- comments: which comment lines are code (MLD404), and the ``cst.Comment`` node of a
  comment the engine listed, so that it can be reported;
- flags: the bindings of every name per scope, writes with computed names, the tests on
  names, and where a test is in the text (MLD403).

The per-node helpers are cheap (the rules call them from hot ``visit_*`` methods); the
costly ones (finding a comment's node, locating a test in the text) run only for findings
or candidates.
"""

from __future__ import annotations

import ast
import bisect
import fnmatch
import functools
import keyword
import re
import sys
import warnings
from typing import Any, Iterable, Mapping, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState  # as mldebt.engine does: comment order

from mldebt.rules.names import dotted

# --- constant truth values ------------------------------------------------------------


def truth(expr: cst.BaseExpression) -> bool | None:
    """The truth value of a condition built only from literals, else None.

    ``False``, ``None``, ``0``, ``not True``, ``x and False`` (always falsy, whatever ``x``
    is) and ``x or True`` (always truthy) are constant; names, calls and comparisons are not.
    """
    t = type(expr)
    if t is cst.Name:
        v = expr.value  # type: ignore[attr-defined]
        if v == "True":
            return True
        if v == "False" or v == "None":
            return False
        return None
    if t is cst.Integer or t is cst.Float:
        try:
            return bool(expr.evaluated_value)  # type: ignore[attr-defined]
        except (ValueError, SyntaxError):  # pragma: no cover - libcst already parsed it
            return None
    if t is cst.UnaryOperation and type(expr.operator) is cst.Not:  # type: ignore[attr-defined]
        inner = truth(expr.expression)  # type: ignore[attr-defined]
        return None if inner is None else not inner
    if t is cst.Comparison:
        return _literal_comparison(expr)  # type: ignore[arg-type]
    if t is cst.BooleanOperation:
        left = truth(expr.left)  # type: ignore[attr-defined]
        right = truth(expr.right)  # type: ignore[attr-defined]
        if type(expr.operator) is cst.And:  # type: ignore[attr-defined]
            if left is False or right is False:
                return False
            return True if left is True and right is True else None
        if left is True or right is True:
            return True
        return False if left is False and right is False else None
    return None


_COMPARE = {
    cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b,
    cst.LessThan: lambda a, b: a < b, cst.LessThanEqual: lambda a, b: a <= b,
    cst.GreaterThan: lambda a, b: a > b, cst.GreaterThanEqual: lambda a, b: a >= b,
}


def _literal_comparison(expr: cst.Comparison) -> bool | None:
    """``1 == 0``, ``0 > 1``: numbers compared with numbers (a hand-made switch)."""
    if type(expr.left) not in (cst.Integer, cst.Float):
        return None
    left = expr.left.evaluated_value  # type: ignore[attr-defined]
    for comp in expr.comparisons:
        op = _COMPARE.get(type(comp.operator))
        if op is None or type(comp.comparator) not in (cst.Integer, cst.Float):
            return None
        right = comp.comparator.evaluated_value  # type: ignore[attr-defined]
        if not op(left, right):
            return False
        left = right
    return True


def is_forced(expr: cst.BaseExpression) -> bool:
    """``x or True`` / ``x and False``: a real condition overridden by a literal."""
    return type(expr) is cst.BooleanOperation


# --- statements -----------------------------------------------------------------------

def small_statements(body: Sequence[cst.BaseStatement]) -> Iterable[cst.BaseSmallStatement | None]:
    """Each small statement of a block; None for a compound statement."""
    for stmt in body:
        if type(stmt) is cst.SimpleStatementLine:
            yield from stmt.body  # type: ignore[attr-defined]
        else:
            yield None


def is_yield_stmt(small: cst.BaseSmallStatement | None) -> bool:
    return type(small) is cst.Expr and type(small.value) is cst.Yield  # type: ignore[union-attr]


def is_noop_stmt(small: cst.BaseSmallStatement | None) -> bool:
    """``pass``, ``...`` or a bare string: statements that do nothing."""
    if type(small) is cst.Pass:
        return True
    if type(small) is cst.Expr:
        v = small.value  # type: ignore[union-attr]
        return type(v) in (cst.Ellipsis, cst.SimpleString, cst.ConcatenatedString)
    return False


# --- names ----------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.lru_cache(maxsize=65536)
def normalize_name(name: str) -> str:
    """``_LegacyResNetV2`` -> ``legacy_res_net_v2``: snake case, no leading underscores."""
    bare = name.lstrip("_")
    if not bare.islower():
        bare = _CAMEL.sub("_", bare).lower()
    return bare


@functools.lru_cache(maxsize=64)
def compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns))


@functools.lru_cache(maxsize=64)
def glob_keywords(patterns: tuple[str, ...], versioned: bool = False) -> re.Pattern[str] | None:
    """A cheap prefilter for raw identifiers: the literal words of the patterns (``*_old`` ->
    ``old``, any case) and, for versioned names, ``_v2`` / ``V2``."""
    words = sorted({w for p in patterns for w in re.split(r"[^a-z0-9]+", p.lower()) if w})
    parts = [f"(?i:{'|'.join(re.escape(w) for w in words)})"] if words else []
    if versioned:
        parts.append(r"_[vV]\d|[a-z0-9]V\d")
    return re.compile("|".join(parts)) if parts else None


# Decorators that wrap a function without recording it anywhere: a definition under them
# is used only if something references its name.
WRAPPERS = frozenset({
    "torch.no_grad", "torch.inference_mode", "torch.enable_grad", "torch.jit.script",
    "torch.jit.unused", "torch.jit.ignore", "torch.jit.export", "torch.compile",
    "torch.autocast", "torch.cuda.amp.autocast", "torch.amp.autocast", "functools.lru_cache",
    "functools.cache", "functools.wraps", "functools.cached_property", "contextlib.contextmanager",
    "contextlib.asynccontextmanager", "builtins.staticmethod", "builtins.classmethod",
    "builtins.property", "abc.abstractmethod", "typing.final", "dataclasses.dataclass",
    "numba.jit", "numba.njit", "tensorflow.function", "jax.jit", "typing_extensions.final",
})
WRAPPER_NAMES = frozenset({
    "no_grad", "inference_mode", "lru_cache", "cache", "cached_property", "contextmanager",
    "staticmethod", "classmethod", "property", "abstractmethod", "jit", "njit", "wraps",
    "dataclass", "timer", "timeit", "profile", "retry",
})

def registers(names: Any, decorator: cst.Decorator) -> bool:
    """A decorator that may record the function somewhere (`@register_model`), unlike a
    wrapper (`@torch.no_grad()`); ``names`` is the file's name resolver."""
    expr = decorator.decorator
    if type(expr) is cst.Call:
        expr = expr.func  # type: ignore[attr-defined]
    qualified = names.qualified(expr) or dotted(expr) or ""
    return qualified not in WRAPPERS and qualified.rsplit(".", 1)[-1] not in WRAPPER_NAMES


VERSIONED = re.compile(r"^(.+?)_v(\d+)$")


def version_base(normalized: str) -> str | None:
    """``mobilenet_v2`` -> ``mobilenet``; ``res_net_v2`` -> ``res_net``; else None."""
    m = VERSIONED.match(normalized)
    return m.group(1) if m is not None else None


# --- modules --------------------------------------------------------------------------

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__", "builtins"}


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain (non-f, non-bytes) string literal, else None."""
    if type(node) is cst.SimpleString:
        try:
            v = node.evaluated_value  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover - malformed escapes
            return None
        return v if isinstance(v, str) else None
    return None


def target_names(target: cst.BaseExpression, names: list[str], attrs: list[cst.Attribute],
                 subscripts: list[cst.Subscript]) -> None:
    """Split an assignment target into bound names, attribute stores and subscript stores."""
    t = type(target)
    if t is cst.Name:
        names.append(target.value)  # type: ignore[attr-defined]
    elif t is cst.Attribute:
        attrs.append(target)  # type: ignore[arg-type]
    elif t is cst.Tuple or t is cst.List:
        for el in target.elements:  # type: ignore[attr-defined]
            target_names(el.value, names, attrs, subscripts)
    elif t is cst.StarredElement:
        target_names(target.value, names, attrs, subscripts)  # type: ignore[attr-defined]
    elif t is cst.Subscript:
        subscripts.append(target)  # type: ignore[arg-type]


# --- comments as nodes ------------------------------------------------------------------


class CommentNodes:
    """Finds the ``cst.Comment`` node of a comment the engine listed (so it can be reported).

    Own-line comments between statements sit in ``leading_lines`` and block footers, which
    a walk over statements finds cheaply; one whose text is unique in the file is matched
    by its text. Any other comment (inside brackets, or a repeated text) is looked for by a
    walk over every node of the top-level statements between the nearest matched comments
    around it, by text and by its rank among the comments with that text in the window.
    """

    def __init__(self, module: cst.Module, comments: Sequence[Any]) -> None:
        self.module = module
        self.comments = comments
        self._index = {id(c): i for i, c in enumerate(comments)}
        self._matched: list[tuple[int, cst.Comment, int]] | None = None  # (index, node, top)
        self._by_id: dict[int, cst.Comment] = {}
        self._walked: dict[tuple[int, int], list[cst.Comment]] = {}

    def find(self, target: Any) -> cst.Comment | None:
        if self._matched is None:
            # anchors: comments between statements whose text appears once in the file
            where: dict[str, int] = {}
            for i, c in enumerate(self.comments):
                text = c.text.rstrip()
                where[text] = -1 if text in where else i
            self._matched = []
            for comment, top in _statement_comments(self.module):
                i = where.get(comment.value.rstrip(), -1)
                if i >= 0:
                    self._matched.append((i, comment, top))
                    self._by_id[id(self.comments[i])] = comment
            self._matched.sort(key=lambda m: m[0])
        node = self._by_id.get(id(target))
        if node is not None:
            return node
        t = self._index[id(target)]
        before = after = None
        for m in self._matched:
            if m[0] < t:
                before = m
            else:
                after = m
                break
        span = (before[2] if before else -1, after[2] if after else len(self.module.body))
        walked = self._walked.get(span)
        if walked is None:
            walked = self._walked[span] = []
            if span[0] < 0:
                walked.extend(el.comment for el in self.module.header if el.comment is not None)
            for stmt in self.module.body[max(0, span[0]): span[1] + 1]:
                _all_comments(stmt, walked)
            if span[1] >= len(self.module.body):
                walked.extend(el.comment for el in self.module.footer if el.comment is not None)
        ids = [id(n) for n in walked]
        lo = ids.index(id(before[1])) + 1 if before and id(before[1]) in ids else 0
        hi = ids.index(id(after[1])) if after and id(after[1]) in ids else len(walked)
        window = self.comments[(before[0] + 1 if before else 0): (after[0] if after else len(self.comments))]
        text = target.text.rstrip()
        rank = [c for c in window if c.text.rstrip() == text].index(target)
        same = [n for n in walked[lo:hi] if n.value.rstrip() == text]
        return same[rank] if rank < len(same) else None


def _statement_comments(module: cst.Module) -> list[tuple[cst.Comment, int]]:
    """Own-line comments between statements, in order, with the top-level statement index."""
    out: list[tuple[cst.Comment, int]] = []
    top = -1  # the module header; then the index of the top-level statement; then the footer

    def lines(seq: Sequence[cst.EmptyLine]) -> None:
        for el in seq:
            if el.comment is not None:
                out.append((el.comment, top))

    def suite(node: cst.BaseSuite) -> None:
        if type(node) is cst.IndentedBlock:
            for s in node.body:  # type: ignore[attr-defined]
                stmt(s)
            lines(node.footer)  # type: ignore[attr-defined]

    def stmt(s: cst.CSTNode) -> None:
        lines(getattr(s, "leading_lines", ()))
        if type(s) is cst.SimpleStatementLine:
            return
        for d in getattr(s, "decorators", ()):
            lines(d.leading_lines)
        lines(getattr(s, "lines_after_decorators", ()))
        body = getattr(s, "body", None)
        if isinstance(body, cst.BaseSuite):
            suite(body)
        for case in getattr(s, "cases", ()):
            stmt(case)
        for handler in getattr(s, "handlers", ()):
            stmt(handler)
        orelse = getattr(s, "orelse", None)
        if orelse is not None:
            stmt(orelse)
        final = getattr(s, "finalbody", None)
        if final is not None:
            stmt(final)

    lines(module.header)
    for top, s in enumerate(module.body):
        stmt(s)
    top = len(module.body)
    lines(module.footer)
    return out


class _CommentOrder(CodegenState):
    """Code generation that keeps only the ``cst.Comment`` nodes, in exact source order
    (a plain walk over dataclass fields does not visit whitespace in source order)."""

    def __init__(self, out: list[cst.Comment], **kw: Any) -> None:
        super().__init__(**kw)
        self.out = out

    def before_codegen(self, node: cst.CSTNode) -> None:
        if type(node) is cst.Comment:
            self.out.append(node)  # type: ignore[arg-type]


def _all_comments(root: cst.CSTNode, out: list[cst.Comment]) -> None:
    """Every ``cst.Comment`` under ``root``, in source order."""
    root._codegen(_CommentOrder(out, default_indent="    ", default_newline="\n"))


# --- comments that are code ----------------------------------------------------------

# Tool directives and tags that look like `name: value` (an annotated assignment to ast).
_TAGS = re.compile(
    r"(?i)^(type|noqa|pylint|pyright|mypy|fmt|isort|pragma|mldebt|flake8|nosec|ruff|yapf|"
    r"coverage|pyre(-\w+)?|pytype|cython|nolint|nosonar|codespell|black|autopep8|lint|"
    r"skipcq|todo|fixme|note|nb|xxx|hack|bug|warning|see|ref|deprecated|vim|pydocstyle|"
    r"bandit|spellchecker|cspell|sourcery|language|noinspection|region|endregion)\b"
)
_NOT_CODE_START = (">>>", "...", "$", "!", "%", "-", "*", "=", "+", "|", "~", "^", "`", "/", ">", "<", ":")
_CONNECTOR = re.compile(r"^(?:(?:else|try|finally)\s*:|(?:elif|except)\b.*:|@[\w.]+(?:\(.*\))?)$")
_STRINGS = re.compile(r"""'[^'\\]*(?:\\.[^'\\]*)*'|"[^"\\]*(?:\\.[^"\\]*)*\"""")
_WORD_PAIR = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?=\s+([A-Za-z_]\w*))")
_INTRO = re.compile(
    r"(?i)(?<!\w)(examples?|usage|e\.g\.|i\.e\.|for instance|such as|like so|like this|as follows|"
    r"snippet|equivalent|same as|similar to|you can|you may|can be used|to use|implementation of|"
    r"corresponds to|stands for|is computed as|is defined as)(?!\w)|"
    r"^(returns?|outputs?|yields?|raises?|args|arguments|parameters|params|notes?)\s*:"
)
# R (`library(x)`, `y <- f(x)`, `c(1, 2)`) parses as Python calls: a group with R in it is R.
_R_CODE = re.compile(
    r"<-|^(?:library|require|source)\(|(?<![\w.])c\(|\$\w"
    # BibTeX (`@article{key,`, `journal={Combinatorica},`) is not Python either
    r"|^@\w+\{|^(?i:author|title|journal|year|volume|pages|doi|issn|publisher|booktitle)\s*=\s*\{"
)
# `outputs (B, T, 2)`: a word, a space, then brackets is prose or a shape, not a call
_SPACED_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s+\(")
_OPEN = str.maketrans("", "", ")]}")
_CLOSE = str.maketrans("", "", "([{")
_MAX_CHUNK = 25

NOT_CODE, CODE, STRONG_CODE = 0, 1, 2  # neutral code: imports, `else:`, `lr = 0.1`


def is_r_code(texts: Sequence[str]) -> bool:
    return any(_R_CODE.search(t) for t in texts)


_KEPT = re.compile(r"(?i)\b(alternat\w*|old|older|previous|original|legacy|uncomment\w*|disabled?|"
                   r"slower|faster|instead|backup|experiment\w*)\b")
_DOC_COLON = re.compile(
    r"(?i)\b(via|following|obtained|computed|derived|generated|produced|using|given by|like|as in|we do not|instead of|"
    r"would|could|should|might)\b.*:$|\b(is|are)\s*:$"
)


def introduces_example(texts: Sequence[str], indents: Sequence[int], start: int) -> bool:
    """Documentation: the prose line above the code says it is an example ("Example:",
    "e.g.", "computed via:"), or the code is indented under it like a quoted snippet, or
    a less indented line higher in the comment says "Examples:"."""
    k = start - 1
    while k >= 0 and not texts[k]:
        k -= 1
    if k < 0:
        return False
    above = texts[k]
    if _INTRO.search(above):
        return True
    paragraph = [t for t in texts[max(0, k - 2): k + 1] if t]
    if any(_KEPT.search(t) for t in paragraph):
        return False  # "Alternate implementation:", "old version:": code kept, not documentation
    if _DOC_COLON.search(above):
        return True
    if indents[start] >= indents[k] + 2 and (above.endswith(":") or _is_prose(above)):
        return True
    return any(texts[j] and indents[j] < indents[start] and (_INTRO.search(texts[j]) or _DOC_COLON.search(texts[j]))
               for j in range(k))


def _is_prose(text: str) -> bool:
    """Two plain words in a row (not keywords, not in a string)."""
    bare = _STRINGS.sub("''", text) if ("'" in text or '"' in text) else text
    return any(not keyword.iskeyword(m.group(1)) and not keyword.iskeyword(m.group(2))
               for m in _WORD_PAIR.finditer(bare))


def code_blocks(texts: Sequence[str], indents: Sequence[int], kinds: Sequence[int]) -> list[tuple[int, int, int, bool]]:
    """Blocks of commented-out code in a group of comment lines: (first, last, code lines,
    has a call or assignment). Bare ``#`` lines do not end a block, nor do a few prose
    lines indented under its first line (a docstring or a comment inside the old code)."""
    blocks: list[list[Any]] = []
    i, n = 0, len(texts)
    while i < n:
        if kinds[i] == NOT_CODE:
            i += 1
            continue
        j = last = i
        count = 0
        while j < n and (kinds[j] != NOT_CODE or not texts[j]):
            if kinds[j] != NOT_CODE:
                last = j
                count += 1
            j += 1
        strong = STRONG_CODE in kinds[i:last + 1]
        prev = blocks[-1] if blocks else None
        if prev is not None and i - prev[1] <= 6 and all(
                not texts[g] or indents[g] > indents[prev[0]] for g in range(prev[1] + 1, i)):
            prev[1], prev[2], prev[3] = last, prev[2] + count, prev[3] or strong
        else:
            blocks.append([i, last, count, strong])
        i = last + 1
    return [(b[0], b[1], b[2], b[3]) for b in blocks]


def _prefilter(s: str) -> bool:
    """Cheap test that a comment line may be code (most comments are prose)."""
    if not s or s.startswith(_NOT_CODE_START) or _TAGS.match(s):
        return False
    if _is_prose(s):
        return False
    bare = _STRINGS.sub("''", s) if ("'" in s or '"' in s) else s
    for m in _SPACED_CALL.finditer(bare):
        if not keyword.iskeyword(m.group(1)):
            return False
    return True


def classify_comment_lines(texts: Sequence[str]) -> list[int]:
    """NOT_CODE, CODE or STRONG_CODE (a call or an assignment) per comment text (no ``#``)."""
    n = len(texts)
    kinds = [NOT_CODE] * n
    i = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while i < n:
            s = texts[i]
            if not _prefilter(s):
                i += 1
                continue
            if _CONNECTOR.match(s):
                kinds[i] = CODE
                i += 1
                continue
            # a logical line may span comment lines while brackets are open
            j, depth = i, 0
            while True:
                bare = _STRINGS.sub("''", texts[j])
                depth += len(bare) - len(bare.translate(_CLOSE)) - (len(bare) - len(bare.translate(_OPEN)))
                j += 1
                if depth <= 0 or j >= n or j - i >= _MAX_CHUNK:
                    break
            kind = _parse_kind("\n".join(texts[i:j]))
            if kind == NOT_CODE and j > i + 1:
                i += 1  # not a multi-line statement after all
                continue
            for k in range(i, j):
                kinds[k] = kind
            i = j
    return kinds


_ACTIVE = (ast.Call, ast.Attribute, ast.Subscript, ast.Lambda, ast.comprehension, ast.Dict, ast.JoinedStr)
_CALLS = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)
_DOC_ATTRS = frozenset({"shape", "dtype", "size", "ndim"})


def _is_ellipsis(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is Ellipsis


def _is_setting(stmt: ast.Assign | ast.AugAssign) -> bool:
    """`lr = 0.001`: one name set to a number or string (not `a = b = 0.5`, `tp = [0, 1]`,
    nor a maths symbol such as `V = 41.5`)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if len(targets) != 1 or (isinstance(targets[0], ast.Name) and targets[0].id.isupper() and len(targets[0].id) <= 2):
        return False
    value = stmt.value.operand if isinstance(stmt.value, ast.UnaryOp) else stmt.value
    return isinstance(value, ast.Constant)


def _parse_kind(text: str) -> int:
    if text.endswith(":"):
        text += "\n pass"
    item = text.endswith(",")
    if item:
        text = text[:-1]  # an argument or list item: `foo(1),`, `lr=0.1,`
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return NOT_CODE
    if not tree.body:
        return NOT_CODE
    kind = CODE
    for stmt in tree.body:
        if any(isinstance(n, ast.Call) and any(_is_ellipsis(a) for a in (*n.args, *(k.value for k in n.keywords)))
               for n in ast.walk(stmt)):
            return NOT_CODE  # `plot(...)`, `f(x, ...)`: pseudo-code in an explanation
        if isinstance(stmt, ast.Expr):
            if not isinstance(stmt.value, _CALLS):
                return NOT_CODE  # `foo`, `a.b`, `(B, C * prod(s))`, `x - y`: words, shapes, maths
            func = getattr(stmt.value, "func", None)
            if isinstance(func, ast.Name) and func.id.isupper() and len(func.id) > 1:
                return NOT_CODE  # `ALIAS(value)`: a grammar or a token list, not a call
            kind = STRONG_CODE
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return NOT_CODE  # `Note: foo`, `x: (B, C)`
            kind = STRONG_CODE
        elif isinstance(stmt, (ast.Assign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Attribute) and t.attr in _DOC_ATTRS for t in targets):
                return NOT_CODE  # `x.shape = (B, N, C)`: documentation
            if item or _is_setting(stmt) or any(isinstance(n, _ACTIVE) for n in ast.walk(stmt)):
                kind = STRONG_CODE  # `x = f(y)`, `lr = 0.001` (a setting switched off)
            # else `coef = s - t`, `p = n_features`: maths, or code only next to code
        elif any(isinstance(n, _ACTIVE) for n in ast.walk(stmt)):
            kind = STRONG_CODE
    return kind


def string_fragments(expr: cst.BaseExpression, limit: int = 40) -> list[str]:
    """Identifier-like pieces of the strings a computed name is built from.

    ``"forward_" + version`` -> ``["forward_"]``; ``f"_{mode}_old"`` -> ``["_old"]``.
    """
    out: list[str] = []
    stack: list[cst.CSTNode] = [expr]
    while stack and limit > 0:
        limit -= 1
        node = stack.pop()
        t = type(node)
        if t is cst.SimpleString:
            text = string_value(node)  # type: ignore[arg-type]
        elif t is cst.FormattedStringText:
            text = node.value  # type: ignore[attr-defined]
        else:
            text = None
            if t is cst.BinaryOperation:
                stack.extend((node.left, node.right))  # type: ignore[attr-defined]
            elif t is cst.FormattedString:
                stack.extend(node.parts)  # type: ignore[attr-defined]
            elif t is cst.ConcatenatedString:
                stack.extend((node.left, node.right))  # type: ignore[attr-defined]
            elif t is cst.Call:
                stack.append(node.func)  # type: ignore[attr-defined]  # "fmt_{}".format(x)
                stack.extend(a.value for a in node.args)  # type: ignore[attr-defined]
            elif t is cst.Attribute:
                stack.append(node.value)  # type: ignore[attr-defined]
        if text:
            out.extend(w for w in re.findall(r"\w+", text) if len(w.strip("_")) >= 2)
    return out


# --- module-level flags and the tests on them -------------------------------------------

_COMPARE_TO_LITERAL = (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)


def flag_refs(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Names and attributes a condition tests as flags.

    ``FLAG``, ``not FLAG``, ``FLAG and x``, ``FLAG is None``, ``FLAG == True``,
    ``bool(FLAG)``; not ``x > FLAG`` or ``f(FLAG)``.
    """
    out: list[cst.BaseExpression] = []
    stack = [test]
    while stack:
        e = stack.pop()
        t = type(e)
        if t is cst.Name or t is cst.Attribute:
            out.append(e)
        elif t is cst.UnaryOperation:
            if type(e.operator) is cst.Not:  # type: ignore[attr-defined]
                stack.append(e.expression)  # type: ignore[attr-defined]
        elif t is cst.BooleanOperation:
            stack.append(e.right)  # type: ignore[attr-defined]
            stack.append(e.left)  # type: ignore[attr-defined]
        elif t is cst.Comparison:
            comps = e.comparisons  # type: ignore[attr-defined]
            if len(comps) == 1 and type(comps[0].operator) in _COMPARE_TO_LITERAL:
                other = comps[0].comparator
                if type(other) is cst.Name and other.value in ("True", "False", "None"):
                    stack.append(e.left)  # type: ignore[attr-defined]
        elif t is cst.Call:
            f = e.func  # type: ignore[attr-defined]
            if type(f) is cst.Name and f.value == "bool" and len(e.args) == 1:  # type: ignore[attr-defined]
                stack.append(e.args[0].value)  # type: ignore[attr-defined]
    return out


class _Scope:
    __slots__ = ("kind", "counts", "literals", "globs", "rebound", "guards")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "module" | "function" | "class" | "comprehension"
        self.counts: dict[str, int] = {}  # bindings per name
        self.literals: dict[str, str] = {}  # names bound to True / False / None
        self.globs: set[str] = set()  # `global` declarations
        self.rebound: set[str] = set()  # names an inner function rebinds (`nonlocal`)
        self.guards: list[tuple[Any, ...]] = []  # (name, ...) tests not yet resolved


class FlagScopes:
    """Which names each scope binds, and how often.

    A test on ``FLAG`` inside a function that binds its own ``FLAG`` (a parameter, a
    local) is not a test on the module-level flag; a local bound once to a literal and
    tested in its function is a function-level flag.
    """

    __slots__ = ("stack", "module", "global_rebinds", "imported", "stars", "local_flags")

    def __init__(self) -> None:
        self.module = _Scope("module")
        self.stack: list[_Scope] = [self.module]
        self.global_rebinds: set[str] = set()  # `global X` + a binding of X in a function
        self.imported: set[str] = set()  # module-level names bound by an import
        self.stars: list[cst.ImportFrom] = []
        self.local_flags: list[tuple[tuple[Any, ...], str]] = []  # (guard, literal)

    @property
    def at_module(self) -> bool:
        return len(self.stack) == 1

    def push(self, kind: str) -> None:
        self.stack.append(_Scope(kind))

    def pop(self) -> _Scope:
        scope = self.stack.pop()
        keep = []
        for g in scope.guards:
            name = g[0]
            if name not in scope.counts or name in scope.globs:
                keep.append(g)
            elif (scope.kind == "function" and scope.counts[name] == 1 and name in scope.literals
                  and name not in scope.rebound):
                self.local_flags.append((g, scope.literals[name]))
        if keep:
            # functions do not see the names of an enclosing class body
            for outer in reversed(self.stack):
                if scope.kind != "function" or outer.kind != "class":
                    outer.guards.extend(keep)
                    break
        return scope

    def bind(self, name: str, imported: bool = False, literal: str | None = None, walrus: bool = False) -> None:
        scope = self.stack[-1]
        if walrus:  # `(x := ...)` in a comprehension binds in the enclosing function
            scope = next(s for s in reversed(self.stack) if s.kind != "comprehension")
        if name in scope.globs:
            self.global_rebinds.add(name)
            return
        scope.counts[name] = scope.counts.get(name, 0) + 1
        if literal is not None:
            scope.literals[name] = literal
        if imported and scope is self.module:
            self.imported.add(name)

    def declare_global(self, names: Iterable[str]) -> None:
        if not self.at_module:
            self.stack[-1].globs.update(names)

    def declare_nonlocal(self, names: Iterable[str]) -> None:
        names = list(names)
        for outer in self.stack[1:-1]:
            outer.rebound.update(names)
        for n in names:
            self.bind(n)

    def guard(self, item: tuple[Any, ...]) -> None:
        """A test on the name ``item[0]``."""
        self.stack[-1].guards.append(item)


_LITERALS = frozenset({"True", "False", "None"})
_NEVER = frozenset({"TYPE_CHECKING", "__debug__"})
_SETTERS = frozenset({"setattr", "delattr", "patch", "object", "setitem", "setenv", "dict"})


class FlagCollector:
    """Mixin for a rule: the bindings of every name, attribute stores and ``setattr``
    strings anywhere, and the tests on names (``if FLAG``, ``not cfg.FLAG``...).

    Guards are tuples ``(name, test node, dotted text, qualified name or None, order,
    scope)``; those not shadowed by a local end in ``self.scopes.module.guards``.
    """

    ctx: Any

    def _init_collector(self) -> None:
        self.scopes = FlagScopes()
        self.attr_stores: set[str] = set()
        self.set_strings: set[str] = set()
        self.class_names: set[str] = set()  # plain module-level classes
        self.class_flags: dict[str, str] = {}  # "CFG.debug" -> literal
        # modules whose globals are written with computed names ("" this one, "*" unknown)
        self.dynamic: set[str] = set()
        self._order = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.bind(node.name.value)
        self.scopes.push("function")

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.bind(node.name.value)
        self.scopes.push("class")

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        scope = self.scopes.pop()
        plain = not node.decorators and not node.keywords and all(
            type(b.value) is cst.Name and b.value.value == "object" for b in node.bases)  # type: ignore[attr-defined]
        if plain and self.scopes.at_module:
            # `class CFG: debug = False` (a settings holder): its literals are flags too
            cls = node.name.value
            self.class_names.add(cls)
            for attr, value in scope.literals.items():
                if scope.counts.get(attr) == 1:
                    self.class_flags[f"{cls}.{attr}"] = value

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.push("function")

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.pop()

    def visit_BaseComp(self, node: cst.BaseComp) -> None:
        self.scopes.push("comprehension")

    def leave_BaseComp(self, node: cst.BaseComp) -> None:
        self.scopes.pop()

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)

    def visit_Param(self, node: cst.Param) -> None:
        self.scopes.bind(node.name.value)

    def visit_Global(self, node: cst.Global) -> None:
        self.scopes.declare_global(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.scopes.declare_nonlocal(n.name.value for n in node.names)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            local: cst.BaseExpression = alias.asname.name if alias.asname is not None else alias.name
            while type(local) is cst.Attribute:
                local = local.value  # `import a.b` binds `a`
            if type(local) is cst.Name:
                self.scopes.bind(local.value, imported=True)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            if self.scopes.at_module:
                self.scopes.stars.append(node)
            return
        for alias in node.names:
            local = alias.asname.name if alias.asname is not None else alias.name
            if type(local) is cst.Name:
                self.scopes.bind(local.value, imported=True)

    def visit_Assign(self, node: cst.Assign) -> None:
        v = node.value
        literal = v.value if type(v) is cst.Name and v.value in _LITERALS else None
        for t in node.targets:
            self._target(t.target, literal)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        v = node.value
        if v is not None:
            self._target(node.target, v.value if type(v) is cst.Name and v.value in _LITERALS else None)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._target(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._target(node.name.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if type(node.target) is cst.Name:
            self.scopes.bind(node.target.value, walrus=True)

    def visit_Del(self, node: cst.Del) -> None:
        self._target(node.target)

    def _target(self, target: cst.BaseExpression, literal: str | None = None) -> None:
        if type(target) is cst.Name:
            self.scopes.bind(target.value, literal=literal)  # type: ignore[attr-defined]
            return
        names: list[str] = []
        attrs: list[cst.Attribute] = []
        subs: list[cst.Subscript] = []
        target_names(target, names, attrs, subs)
        for n in names:
            self.scopes.bind(n)
        for a in attrs:
            base = a.value
            if not (type(base) is cst.Name and base.value == "self"):  # type: ignore[attr-defined]
                self.attr_stores.add(a.attr.value)
        for sub in subs:  # globals()["FLAG"] = ..., vars(cfg)["FLAG"] = ..., cfg.__dict__[k] = ...
            namespace = self._namespace(sub.value)
            if namespace is None:
                continue
            for el in sub.slice:
                key = string_value(el.slice.value) if isinstance(el.slice, cst.Index) else None
                if key:
                    self.set_strings.add(key.rsplit(".", 1)[-1])
                else:
                    self.dynamic.add(namespace)

    def _namespace(self, expr: cst.BaseExpression) -> str | None:
        """The module whose globals ``expr`` is: ``globals()`` ("" for this module),
        ``vars(cfg)``, ``cfg.__dict__``; None when it is not (known to be) a module."""
        t = type(expr)
        if t is cst.Call:
            f = expr.func  # type: ignore[attr-defined]
            if type(f) is cst.Name and f.value == "globals":
                return ""
            if type(f) is cst.Name and f.value == "vars":
                args = expr.args  # type: ignore[attr-defined]
                return self._module_of(args[0].value) if args else ""
        elif t is cst.Attribute and expr.attr.value == "__dict__":  # type: ignore[attr-defined]
            return self._module_of(expr.value)  # type: ignore[attr-defined]
        return None

    def _module_of(self, expr: cst.BaseExpression) -> str | None:
        """An imported name (``cfg``, maybe a module), ``sys.modules[...]`` ("" for
        ``__name__``, "*" for any module), or None (``self``, a local: not a module)."""
        if type(expr) is cst.Subscript:
            if self.ctx.names.qualified(expr.value) == "sys.modules":  # type: ignore[attr-defined]
                key = expr.slice[0].slice  # type: ignore[attr-defined]
                inner = key.value if isinstance(key, cst.Index) else None
                return "" if type(inner) is cst.Name and inner.value == "__name__" else "*"
            return None
        qual = self.ctx.names.qualified(expr)
        if qual is None and type(expr) is cst.Name and expr.value not in ("self", "cls"):
            return "=" + expr.value  # a name of this module (a settings class)
        return qual if qual is not None and not qual.startswith("builtins.") else None

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        t = type(f)
        name = f.value if t is cst.Name else f.attr.value if t is cst.Attribute else None  # type: ignore[attr-defined]
        if name in _SETTERS:
            args = node.args
            for arg in args[:2]:
                key = string_value(arg.value)
                if key:
                    self.set_strings.add(key.rsplit(".", 1)[-1])
            if name == "setattr" and len(args) >= 2 and string_value(args[1].value) is None:
                # setattr(cfg, key, value) with a computed key: any flag of cfg may change
                module = self._module_of(args[0].value)
                if module is not None:
                    self.dynamic.add(module)
        elif name == "update" and type(f) is cst.Attribute:
            namespace = self._namespace(f.value)  # type: ignore[attr-defined]
            if namespace is not None:
                self.dynamic.add(namespace)
        elif name == "exec" and self.scopes.at_module:
            self.dynamic.add("")

    def visit_If(self, node: cst.If) -> None:
        self._guard(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._guard(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._guard(node.test)

    def visit_CompIf(self, node: cst.CompIf) -> None:
        self._guard(node.test)

    def _guard(self, test: cst.BaseExpression) -> None:
        for ref in flag_refs(test):
            text = dotted(ref)
            if text is None:
                continue  # `f().x`, `a[0].x`
            name = text.split(".", 1)[0]
            if name in _NEVER or name in _LITERALS or name in ("self", "cls"):
                continue
            qual = None
            if "." in text:
                qual = self.ctx.names.qualified(ref)
                if qual is None:
                    if text.count(".") != 1:
                        continue
                    qual = "=" + text  # `CFG.debug` on a class of this module, maybe
            self.scopes.guard((name, test, text, qual, self._order, self.ctx.scope))
            self._order += 1


def line_of_binding(source: str, name: str) -> int:
    """The line of the module-level assignment to ``name`` (unindented first), or of
    ``attr`` in the body of ``class CFG`` for ``CFG.attr``."""
    start = 0
    if "." in name:
        cls, name = name.split(".", 1)
        m = re.search(rf"^class\s+{re.escape(cls)}\b", source, re.M)
        start = m.end() if m else 0
    pattern = re.compile(rf"^([ \t]*)(?:[\w.]+\s*=\s*)*{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)", re.M)
    first = None
    for m in pattern.finditer(source, start):
        if start:
            first = m
            break
        if not m.group(1):
            first = m
            break
        first = first or m
    return source.count("\n", 0, first.start()) + 1 if first else 0


class GuardLines:
    """Finds tests on flags in the source text, in order (``if FLAG``, ``not cfg.FLAG``,
    ``and FLAG``...), from a cursor that only moves forward, skipping strings and
    comments: a node location would cost a code-generation pass over the file, and most
    tests on flags are not findings."""

    _BEFORE = re.compile(r"\b(?:if|elif|while|and|or|not)[\s(\\]*$")
    _OPAQUE = re.compile(
        r"#[^\n]*"
        r'|"""(?:\\.|[^\\])*?"""'
        r"|'''(?:\\.|[^\\])*?'''"
        r'|"(?:\\.|[^"\\\n])*"'
        r"|'(?:\\.|[^'\\\n])*'"
    )

    def __init__(self, source: str) -> None:
        self.source = source
        self.cursor = 0
        self._starts: list[int] | None = None
        self._ends: list[int] = []

    def _opaque(self, pos: int) -> bool:
        """Is ``pos`` inside a string or a comment?"""
        if self._starts is None:
            self._starts = []
            for m in self._OPAQUE.finditer(self.source):
                self._starts.append(m.start())
                self._ends.append(m.end())
        i = bisect.bisect_right(self._starts, pos) - 1
        return i >= 0 and pos < self._ends[i]

    def find(self, text: str) -> tuple[int, int, int] | None:
        """(line, 1-based column, 1-based end column) of the next test on ``text``."""
        src = self.source
        pattern = re.compile(r"(?<![\w.])" + re.escape(text).replace(r"\.", r"\s*\.\s*") + r"(?!\w)")
        for m in pattern.finditer(src, self.cursor):
            if self._BEFORE.search(src, max(0, m.start() - 60), m.start()) and not self._opaque(m.start()):
                self.cursor = m.end()
                line_start = src.rfind("\n", 0, m.start()) + 1
                line = src.count("\n", 0, m.start()) + 1
                return line, m.start() - line_start + 1, m.end() - line_start + 1
        return None


_THIRD_PARTY = frozenset({
    "torch", "torchvision", "torchaudio", "numpy", "scipy", "pandas", "sklearn", "tensorflow",
    "keras", "jax", "jaxlib", "flax", "optax", "transformers", "datasets", "accelerate", "timm",
    "lightning", "pytorch_lightning", "lightning_utilities", "torchmetrics", "matplotlib",
    "seaborn", "cv2", "PIL", "tqdm", "yaml", "packaging", "typing_extensions", "attr",
    "attrs", "pydantic", "requests", "mlflow", "wandb", "hydra", "omegaconf", "xgboost",
    "lightgbm", "catboost", "onnx", "onnxruntime", "triton", "apex", "deepspeed", "horovod",
    "ray", "dask", "pyarrow", "polars", "h5py", "boto3", "google", "fsspec", "huggingface_hub",
    "safetensors", "einops", "gluonts", "mxnet", "fastai", "fastcore", "ultralytics",
})


def is_external(qualified: str, own_top: str) -> bool:
    """A name from the standard library or a well-known third-party package (not this one)."""
    top = qualified.split(".", 1)[0]
    return top != own_top and (top in _STDLIB or top in _THIRD_PARTY)


def follow_imports(name: str, known: Mapping[str, Any], links: Mapping[str, Sequence[str]]) -> str | None:
    """``pkg.FAST`` -> ``pkg.flags.FAST`` through ``from .flags import FAST`` in ``pkg``
    (``links``: "module.local" -> imported qualified names, "module.*" -> star imports)."""
    seen: set[str] = set()
    todo = [name]
    while todo and len(seen) < 200:
        q = todo.pop(0)
        if q in known:
            return q
        if q in seen:
            continue
        seen.add(q)
        todo.extend(links.get(q, ()))
        mod, _, local = q.rpartition(".")
        todo.extend(f"{base}.{local}" for base in links.get(f"{mod}.*", ()))
    return None
