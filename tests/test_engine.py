"""The engine's fast paths, checked against the references they stand in for.

* positions (``_positions``) against libcst's ``PositionProvider``;
* comments (``_scan_comments``) against Python's ``tokenize``;
* the walk visits string literals (and everything else) in source order, which the
  comment scan depends on;
* a scan gives the same JSON whether files are analysed in-process or in a process pool;
* a pathologically nested file never takes the scan down.

The reference answers come from libcst and the standard library, never from the code
under test; the few hand-written expectations are worked out in the comments next to them.
"""

from __future__ import annotations

import ast
import io
import os
import json
import re
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider, WhitespaceInclusivePositionProvider

import mldebt
import mldebt.catalog
import mldebt.engine as engine
from mldebt.config import Overrides
from mldebt.engine import FileContextImpl, FileJob, RulePlan, _positions, analyse_source
from mldebt.parsing import Source, SourceError, load_source, parse
from mldebt.reporters.json import render
from mldebt.rules.base import Rule
from mldebt.testing import calls_in_walk_order
from mldebt.scan import ScanRequest, run_scan

PACKAGE = Path(mldebt.__file__).parent
PROJECT_FILES = sorted(PACKAGE.rglob("*.py"))
TEST_FILES = sorted(Path(__file__).parent.glob("*.py"))
CORPUS = Path("/work/corpus/small")  # real ML code (fastai, ultralytics), when present

# --- tricky hand-written sources -----------------------------------------------------

KITCHEN_SINK = '''\
#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Module docstring # not a comment."""
import os, sys as system  # trailing
from . import sibling
from ..pkg.mod import (a as b,  # inside the parentheses
                       c)


# a comment before the decorators
@decorator("d1")  # after a decorator
@other.decorator(
    key="d2",  # in a decorator call
)
class K(Base, "b2", metaclass=Meta, flag="k3"):  # on the class line
    "doc"
    attr: "Ann" = "val"

    def m(self, a: "A" = "#a", /, b: "B" = "b", *args: "S", c: "C" = "c", **kw: "K") -> "R":
        return lambda x="#l1", /, y="l2", *, z="l3": (x, y, z)

    async def n(self):
        async with ctx("w1") as (p, q), ctx2("w2"):
            async for i in aiter("f1"):
                await g("aw")
        return [j async for j in agen("ag") if j != "ne"]


def f(x, *, k="kw"):
    global G
    y = "t" if x else "e"
    z = {"k": "v", **{"s": "t"}, "k2": ("p" "q")}
    s = {"s1", "s2"}; l = [*["u"], "v"]
    d = {k: v for k, v in [("a", "b")] if k != "c" for _ in "d"}
    g = (a for a in "gen" if a)
    w = x[1:"b":"c"], x["i", ...]
    x.attr = "aa"; x[0] += "ab"
    v: "T" = (yield "yv")
    yield from "yf"
    del x["dk"]
    assert x == "as", "msg"
    raise ValueError("r1") from KeyError("r2")
    if (n := "walrus") and not "u" or - 1 > "c" < "d" in "e" is not "f":
        pass
    elif x is "e2":  # on elif
        ...
    else:  # on else
        print(f"{x!r:>{width}} and {'inner'} {y=}", "after")
    while "w":
        break
    else:
        continue
    for a, *b in "fo":
        pass
    else:
        pass
    try:
        pass
    except (TypeError, "x") as e:
        pass
    finally:
        pass
    try:
        pass
    except* OSError as eg:
        pass
    with open("o1") as fh, open("o2"):
        pass
    match x:
        case {"k": "v", **rest} if rest == "gd":
            pass
        case Point(x="px", y=0) | [1, "two", *others]:
            pass
        case "lit" as name:
            pass
        case _:
            pass
    return call("c1", *"st", kw="kv", **{"dd": "de"})


type Alias[T: "#bound", *Ts, **P] = dict["k", T]
x = 1 if True else 2  # trailing
'''

DECORATED = '''\
import functools

# a comment before the decorator

@functools.lru_cache(maxsize=None)  # trailing
@other(
    "arg",
)
async def fetch(url: str, *, retries: int = 3) -> bytes:  # comment
    """Doc."""
    # a comment before a nested statement
    if (retries > 2
            and url):  # on the condition
        return await get(url)
    return b""
'''

MULTILINE = '''\
result = compute(
    alpha,  # first
    beta=[1, 2,
          3],
    gamma=(lambda q:
           q + 1),
)
total = (a
         + b
         - c)
value = data[
    "key"
]["other"]
'''

TRICKY = {
    "kitchen_sink": KITCHEN_SINK,
    "decorated": DECORATED,
    "multiline": MULTILINE,
    "nested_blocks": (
        "for i in range(3):\n"
        "    while i:\n"
        "        if i > 1:\n"
        "            try:\n"
        "                with ctx() as c:\n"
        "                    i -= c.step  # deep\n"
        "            except KeyError:\n"
        "                pass\n"
        "        else:\n"
        "            break\n"
    ),
    "crlf": "import os\r\n\r\n# lead\r\n@dec\r\ndef f(a,\r\n      b):\r\n    if a > 0.5:  # c\r\n        return b\r\n",
    "tabs": "if x:\n\tif y:\n\t\tz = (a\n\t\t\t+ b)  # tab\n\telse:\n\t\tz = [1,\t2]\n",
    "unicode": "名前 = 'é😀'; ü = f'{名前}é' + \"x\"  # ünïcode\ncall(ü,  名前)\n",
    "fstrings": (
        'a = f"{x:#x} # not a comment {y!r}"  # real\n'
        "b = f'{d[\"k\"]}' f\"{e}\"\n"
        'c = f"""\n# not a comment\n{z}\n"""\n'
        "d = rf'\\d{{2}}#' + F\"{n:{w}.{p}}\"\n"
        "e = (  # inside the parentheses of an f-string\n    f\"{a}\"\n)\n"
    ),
    "semicolons": "a = 1; b = a > 2;  # two\nif a: b = 3; c = (b\n  > 4)\n",
    "no_trailing_newline": "x = (1 +\n  2)\nif x:\n    y = x  # last",
    "comment_only": "# just a comment",
    "empty": "",
    "lone_cr": "x = 1\ry = 2  # after a lone CR\rz = 3\n",
}

COMMENT_SNIPPETS = {
    **TRICKY,
    "hash_in_strings": "a = '#'  # one\nb = \"# x\" + '''#''' + \"\"\"\n#\n\"\"\"  # two\n",
    "triple_quoted_hash_lines": 's = """\n# looks like a comment\n    # so does this\n"""\n# real\n',
    "bytes_and_raw": "a = b'#'  # c1\nb = rb\"\\#\" + Rb'x' + br'''#'''  # c2\nc = u'#'\n",
    "escaped_quotes": "a = 'it\\'s # not'  # real\nb = \"say \\\"#\\\"\"  # also real\n",
    "implicit_concatenation": "s = ('#a'  # c1\n     '#b'\n     # c2\n     \"#c\")  # c3\n",
    "comments_in_call": "f(a,  # one\n  # two\n  b,\n  c=\"#\",  # three\n)\n",
    "string_text_in_earlier_comment": "# the value is 'abc' here\nx = 'abc'  # and 'abc' again\ny = 'abc'\n",
    "string_text_in_earlier_comment_with_hash": "# see '#x'\nx = '#x'\n",
    "type_comments": "x = []  # type: list[int]\ndef f(a):  # type: (int) -> None\n    pass  # type: ignore[misc]\n",
    "posonly_defaults": "def f(a='#x', /, b='y'): pass\nz = 'y'  # real\nw = '#x'\n",
    "lambda_posonly": "g = lambda a='#', /, b='z': a  # real\n",
    "suppressions": "x = 1  # mldebt: ignore[MLD999] -- typo\n    # indented comment\n",
    "continuation": "x = 1 + \\\n    2  # after a backslash\n",
    "form_feed": "x = 1\n\x0c# after a form feed\n",
    "decorator_comment": "@dec  # on a decorator\n# between\ndef f(): pass\n",
    "string_after_comment_hash": "x = 1  # it's here: '\ny = 'z'\n",
}


def _source(text: str) -> Source:
    """What the pipeline gives the engine: the text as decoded by ``load_source``."""
    return load_source("snippet.py", text.encode("utf-8"))


# --- 1. positions agree with PositionProvider ------------------------------------------

# libcst gives these only a whitespace-inclusive range (they never record a syntactic one);
# the engine trims leading blank/comment lines and surrounding whitespace instead.
WHITESPACE_INCLUSIVE_IN_LIBCST = (
    cst.Module, cst.Parameters, cst.ParamStar, cst.ParamSlash, cst.AsName, cst.CompFor,
    cst.CompIf, cst.ComparisonTarget, cst.BaseUnaryOp, cst.FormattedStringText,
    cst.TypeParam, cst.Comment, cst.Comma, cst.Colon, cst.Semicolon, cst.Dot,
    cst.AssignEqual, cst.ImportStar, cst.BaseParenthesizableWhitespace, cst.EmptyLine,
    cst.TrailingWhitespace, cst.Newline, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace,
)


class _Collect(cst.CSTVisitor):
    def __init__(self) -> None:
        self.nodes: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.nodes.append(node)
        return True


def _all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    c = _Collect()
    module.visit(c)
    return c.nodes


def _line_starts(text: str) -> list[int]:
    """Offset of each line (libcst and Python end lines at \\r\\n, \\r or \\n)."""
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def _slice(text: str, starts: list[int], line: int, col: int, end_line: int, end_col: int) -> str:
    return text[starts[line - 1] + col: starts[end_line - 1] + end_col]


def _check_positions(text: str) -> int:
    source = _source(text)
    module = parse(source)
    reference = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = [n for n in _all_nodes(module) if n in reference]
    spans = _positions(module, nodes)
    starts = _line_starts(source.text)
    compared = 0
    for node in nodes:
        span = spans[id(node)]
        ref = reference[node]
        mine = (span.line, span.column, span.end_line, span.end_column)
        # the span's text is the source between its positions, whatever the node
        assert span.text == _slice(source.text, starts, *mine), (type(node).__name__, mine)
        if isinstance(node, WHITESPACE_INCLUSIVE_IN_LIBCST):
            # trimmed: inside libcst's range, with no whitespace around it
            assert (ref.start.line, ref.start.column) <= (span.line, span.column)
            assert (span.end_line, span.end_column) <= (ref.end.line, ref.end.column)
            assert span.text == span.text.strip() or isinstance(node, cst.Module)
            continue
        expected = (ref.start.line, ref.start.column, ref.end.line, ref.end.column)
        assert mine == expected, f"{type(node).__name__} {source.text[starts[ref.start.line - 1]:][:60]!r}"
        compared += 1
    return compared


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_positions_match_position_provider_on_tricky_code(name):
    compared = _check_positions(TRICKY[name])
    assert compared > 0 or name in ("comment_only", "empty")


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_positions_match_position_provider_on_project_files(path):
    try:
        text = load_source(str(path), path.read_bytes()).text
        parse(load_source(str(path), path.read_bytes()))
    except (OSError, SourceError) as exc:  # another engineer's file, mid-edit
        pytest.skip(f"cannot parse {path}: {exc}")
    assert _check_positions(text) > 0 or not text.strip()


def _find(module: cst.Module, kind: type, pred=lambda n: True) -> cst.CSTNode:
    found = [n for n in _all_nodes(module) if isinstance(n, kind) and pred(n)]
    assert found, kind
    return found[0]


def _span(text: str, kind: type, pred=lambda n: True):
    module = parse(_source(text))
    node = _find(module, kind, pred)
    s = _positions(module, [node])[id(node)]
    return (s.line, s.column, s.end_line, s.end_column), s.text


def test_a_decorated_function_starts_at_def_and_ends_before_the_trailing_comment():
    # Like PositionProvider (and Python's ast): the statement starts at `async def`
    # (line 9, column 0), after its leading comment lines and decorators; it ends at the
    # end of `return b""` (line 15: 4 spaces + 10 characters), not after a comment.
    pos, text = _span(DECORATED, cst.FunctionDef)
    assert pos == (9, 0, 15, 14)
    assert text.startswith("async def fetch(") and text.endswith('return b""')


def test_a_statement_starts_after_its_leading_comments_and_blank_lines():
    # `if (retries > 2` is on line 12, indented by 4, after a comment line
    pos, text = _span(DECORATED, cst.If)
    assert pos[:2] == (12, 4)
    assert text.startswith("if (retries")


def test_an_expression_excludes_its_parentheses_and_an_element_its_comma():
    # line 12 is `    if (retries > 2`; the comparison starts at `retries` (column 8)
    # and ends at line 13 after `and url` (12 spaces + 7 characters = column 19)
    pos, text = _span(DECORATED, cst.BooleanOperation)
    assert pos == (12, 8, 13, 19)
    assert text == "retries > 2\n            and url"
    # `    alpha,  # first`: the Arg is `alpha` alone (columns 4-9)
    pos, text = _span(MULTILINE, cst.Arg)
    assert (pos, text) == ((2, 4, 2, 9), "alpha")


def test_a_simple_statement_ends_before_its_semicolon_and_trailing_comment():
    # `a = 1; b = a > 2;  # two`: `b = a > 2` runs from column 7 to 16
    pos, text = _span(TRICKY["semicolons"], cst.Assign, lambda n: n.targets[0].target.value == "b")
    assert (pos, text) == ((1, 7, 1, 16), "b = a > 2")


def test_columns_count_code_points():
    # `名前 = 'é😀'; ü = ...`: 名前 are columns 0-1, `'é😀'` 5-8, `;` 9, so `ü` is column 11
    pos, _ = _span(TRICKY["unicode"], cst.Name, lambda n: n.value == "ü")
    assert pos == (1, 11, 1, 12)
    pos, text = _span(TRICKY["unicode"], cst.SimpleString)
    assert (pos, text) == ((1, 5, 1, 9), "'é😀'")


def test_tabs_count_as_one_column():
    # `\t\tz = (a`: `z` is column 2; `(a\n\t\t\t+ b)` spans to column 6 of line 4
    pos, text = _span(TRICKY["tabs"], cst.BinaryOperation)
    assert (pos, text) == ((3, 7, 4, 6), "a\n\t\t\t+ b")


def test_crlf_lines_are_counted_once():
    # line 7 of the CRLF snippet is `    if a > 0.5:  # c`
    pos, text = _span(TRICKY["crlf"], cst.Comparison)
    assert (pos, text) == ((7, 7, 7, 14), "a > 0.5")


def test_a_lone_cr_ends_a_line_as_it_does_for_python():
    # "x = 1\ry = 2 ...": Python and libcst see `y = 2` on line 2
    pos, _ = _span(TRICKY["lone_cr"], cst.Name, lambda n: n.value == "y")
    assert pos == (2, 0, 2, 1)


def test_positions_at_the_end_of_a_file_without_a_trailing_newline():
    # libcst drops the file's last newline after the last statement recorded its end:
    # the engine used to index past the end of its token list (IndexError)
    text = TRICKY["no_trailing_newline"]
    module = parse(_source(text))
    last = module.body[-1]
    inner = last.body.body[0]
    spans = _positions(module, [last, inner, module])
    assert (spans[id(inner)].line, spans[id(inner)].column, spans[id(inner)].end_line,
            spans[id(inner)].end_column) == (4, 4, 4, 9)
    assert spans[id(module)].text == text
    _check_positions(text)


# --- findings through analyse_source -------------------------------------------------------


class _ReportComparisons(Rule):
    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.report(node, "a comparison")


class _ReportIntegers(Rule):
    def visit_Integer(self, node: cst.Integer) -> None:
        self.report(node, "an integer")


_TEST_RULES = {"test:comparisons": _ReportComparisons, "test:integers": _ReportIntegers}


@pytest.fixture
def test_rules(monkeypatch):
    """Let ``analyse_source`` load the rules above by their ``impl`` strings."""
    original = mldebt.catalog._load_class

    def load(impl: str) -> type:
        return _TEST_RULES[impl] if impl in _TEST_RULES else original(impl)

    monkeypatch.setattr(mldebt.catalog, "_load_class", load)
    limit = sys.getrecursionlimit()
    engine.init_worker([], {}, True)  # as analyse_files does: the recursion limit of a worker

    def run(code: str, impl: str, path: str = "m.py"):
        plan = RulePlan("MLD999", impl, {}, True, False)
        job = FileJob(f"/x/{path}", path, "m", False, False)
        return analyse_source(job, code.encode("utf-8"), [plan], {}, debug=True)

    yield run
    sys.setrecursionlimit(limit)


def test_a_finding_on_the_last_line_of_a_file_without_a_trailing_newline(test_rules):
    result = test_rules("import os\nif (score > 0.5):  # c\n    pass", "test:comparisons")
    assert result.error is None
    (finding,) = result.findings
    loc = finding.location
    # `if (score > 0.5):` - the comparison is columns 4..15 (0-based, end exclusive):
    # reported 1-based as 5..16, with the enclosing `if` (line 2) as anchor
    assert (loc.line, loc.column, loc.end_line, loc.end_column) == (2, 5, 2, 16)
    assert loc.snippet == "score > 0.5"
    assert loc.anchor_line == 2


def test_notebook_findings_carry_their_cell_and_joined_line(test_rules):
    nb = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
             "source": ["%matplotlib inline\n", "import numpy as np\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
             "source": "x = np.zeros(3)\nok = x.sum() > 0.5\n"},
        ],
    }
    result = test_rules(json.dumps(nb), "test:comparisons", path="nb.ipynb")
    assert result.error is None
    (finding,) = result.findings
    # joined code cells: cell 2 is lines 1-2, cell 3 lines 3-4; `ok = ...` is line 4,
    # the second line of the third cell (cells count markdown too)
    assert (finding.location.line, finding.location.cell, finding.location.cell_line) == (4, 3, 2)
    assert finding.location.column == 6


# --- 2. comments agree with tokenize -------------------------------------------------------


def tokenize_comments(text: str) -> list[tuple[int, int, str, bool]]:
    """The reference: (line, 1-based column, text, own line) of every COMMENT token."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            out.append((row, col + 1, tok.string, not tok.line[:col].strip()))
    return out


@pytest.fixture
def engine_comments(monkeypatch):
    """The engine's comments, as ``analyse_source`` gets them (parse, walk, scan).

    Falling back to ``tokenize`` fails the test: the fast path must be right by itself.
    """

    def no_fallback(text: str):
        raise AssertionError("_scan_comments fell back to tokenize")

    monkeypatch.setattr(engine, "_tokenize_comments", no_fallback)

    def run(text: str) -> tuple[str, list[tuple[int, int, str, bool]]]:
        source = _source(text)
        module = parse(source)
        ctx = FileContextImpl("snippet.py", "snippet", False, source, module, {}, False)
        ctx.walk([])
        return source.text, [(c.line, c.column, c.text, c.own_line) for c in ctx.comments()]

    return run


@pytest.mark.parametrize("name", sorted(COMMENT_SNIPPETS))
def test_comments_match_tokenize_on_tricky_code(engine_comments, name):
    text, found = engine_comments(COMMENT_SNIPPETS[name])
    assert found == tokenize_comments(text)


def test_comments_snippets_do_have_comments_to_find(engine_comments):
    # guard against a vacuous comparison: the snippets hold plenty of real comments
    total = sum(len(tokenize_comments(_source(t).text)) for t in COMMENT_SNIPPETS.values())
    assert total > 40


@pytest.mark.parametrize("path", PROJECT_FILES + TEST_FILES, ids=lambda p: p.name)
def test_comments_match_tokenize_on_project_files(engine_comments, path):
    try:
        parse(load_source(str(path), path.read_bytes()))
    except (OSError, SourceError) as exc:  # another engineer's file, mid-edit
        pytest.skip(f"cannot parse {path}: {exc}")
    text, found = engine_comments(path.read_text("utf-8"))
    assert found == tokenize_comments(text)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus of real ML code here")
def test_comments_and_positions_match_on_real_ml_code(engine_comments):
    checked = 0
    for i, path in enumerate(sorted(CORPUS.rglob("*.py"))[::5]):
        try:
            source = load_source(str(path), path.read_bytes())
            parse(source)
        except (OSError, SourceError):
            continue
        text, found = engine_comments(source.text)
        assert found == tokenize_comments(text), path
        if i % 4 == 0:
            _check_positions(source.text)
        checked += 1
    assert checked > 40


def test_the_tokenize_fallback_matches_too():
    for name, text in COMMENT_SNIPPETS.items():
        text = _source(text).text
        found = [(c.line, c.column, c.text, c.own_line) for c in engine._tokenize_comments(text)]
        assert found == tokenize_comments(text), name


def test_a_string_that_cannot_be_located_falls_back_to_tokenize():
    text = "x = 'a'  # one\n# two\n"
    module = cst.parse_module(text)
    stray = cst.SimpleString("'not in the file'")
    found = engine._scan_comments(text, [stray], module)
    assert [(c.line, c.column, c.text, c.own_line) for c in found] == tokenize_comments(text)


@pytest.mark.skipif(not hasattr(cst, "TemplatedString"), reason="this libcst has no t-strings")
def test_a_hash_inside_a_template_string_is_not_a_comment(engine_comments):
    text, found = engine_comments('x = t"a # b {y}"  # real\n')
    assert found == [(1, 19, "# real", False)]


# --- 3. the walk is in source order --------------------------------------------------------


class _Strings(cst.CSTVisitor):
    """Every string literal the comment scan must know: not those inside an f-string."""

    def __init__(self) -> None:
        self.found: list[cst.CSTNode] = []

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.found.append(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> bool:
        self.found.append(node)
        return False


class _Everything(Rule):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.seen: list[cst.CSTNode] = []

    def visit_CSTNode(self, node: cst.CSTNode) -> None:
        self.seen.append(node)


_ORDERED = (
    cst.BaseExpression, cst.BaseSmallStatement, cst.SimpleStatementLine, cst.BaseCompoundStatement,
    cst.BaseSuite, cst.Arg, cst.Param, cst.BaseElement, cst.BaseDictElement, cst.Decorator,
    cst.Annotation, cst.ImportAlias, cst.WithItem, cst.ExceptHandler, cst.ExceptStarHandler,
    cst.MatchCase, cst.MatchPattern, cst.TypeParam, cst.Else, cst.Finally, cst.AssignTarget,
)


def _check_walk_order(text: str) -> int:
    source = _source(text)
    module = parse(source)
    ctx = FileContextImpl("snippet.py", "snippet", False, source, module, {}, False)
    everything = _Everything(ctx, "MLD999", {}, ctx)
    ctx.walk([everything])
    where = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    # what the comment scan relies on: every string literal, once, in source order
    expected = _Strings()
    module.visit(expected)
    starts = [(where[s].start.line, where[s].start.column) for s in ctx._strings]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert [id(s) for s in ctx._strings] == [id(s) for s in sorted(
        expected.found, key=lambda s: (where[s].start.line, where[s].start.column))]
    # and, for rules, every node is visited after the ones before it in the file
    inclusive = MetadataWrapper(module, unsafe_skip_copy=True).resolve(WhitespaceInclusivePositionProvider)
    order = [(inclusive[n].start.line, inclusive[n].start.column)
             for n in everything.seen if isinstance(n, _ORDERED)]
    assert order == sorted(order)
    return len(ctx._strings)


@pytest.mark.parametrize("name", sorted(COMMENT_SNIPPETS))
def test_the_walk_is_in_source_order_on_tricky_code(name):
    _check_walk_order(COMMENT_SNIPPETS[name])


def test_the_walk_order_covers_positional_only_defaults_and_type_aliases():
    # `def m(self, a="#a", /, b=...)` and `type Alias[T: "#bound"] = dict["k", T]`:
    # libcst lists positional-only parameters and type parameters after the rest
    assert _check_walk_order(KITCHEN_SINK) > 80


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_walk_is_in_source_order_on_project_files(path):
    try:
        text = load_source(str(path), path.read_bytes()).text
        parse(load_source(str(path), path.read_bytes()))
    except (OSError, SourceError) as exc:
        pytest.skip(f"cannot parse {path}: {exc}")
    _check_walk_order(text)


# --- 4. the same report in-process and in a process pool -----------------------------------

_MODULE_TEMPLATE = '''\
"""Generated module {i}."""
import random

import numpy as np
from sklearn.model_selection import train_test_split

THRESHOLD_{i} = 0.{i}5


def score_{i}(clf, X):
    probs = clf.predict_proba(X)[:, 1]
    if False:
        print("debug {i}")
    # old = probs.mean() * {i}
    return probs > 0.7{i}  # mldebt: ignore[MLD9{i:02d}] -- typo


def split_{i}(df):
    x = random.random()
    train, test = train_test_split(df, test_size=0.2)
    return train, test, x, np.random.rand(3)
'''


def _generated_tree(root: Path, n: int = 44) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    for i in range(n):
        folder = root / "pkg" if i % 3 else root
        (folder / f"mod_{i:02d}.py").write_text(_MODULE_TEMPLATE.format(i=i))
    (root / "broken.py").write_text('print "python 2"\n')
    (root / "latin.py").write_bytes(b"x = 1\ns = '\xe9'\n")
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "%matplotlib inline\nx = 1  # mldebt: ignore[MLD999] -- typo\n"}]}
    (root / "analysis.ipynb").write_text(json.dumps(nb))


def test_a_scan_reports_the_same_in_process_and_in_a_pool(tmp_path):
    _generated_tree(tmp_path)
    every_rule = Overrides(preview=True)
    one = render(run_scan(ScanRequest(targets=(tmp_path,), jobs=1, overrides=every_rule)))
    two = render(run_scan(ScanRequest(targets=(tmp_path,), jobs=2, overrides=every_rule)))
    assert one == two
    report = json.loads(one)
    assert report["summary"]["files"] >= 47  # enough for the pool to be used (16+)
    assert len(report["findings"]) >= 44  # at least every malformed suppression
    assert {e["path"] for e in report["errors"]} == {"broken.py", "latin.py"}


# --- 6. pathological nesting never takes the scan down -------------------------------------

_OK_LINE = "x = 1  # mldebt: ignore[MLD999] -- typo\n"


def _deep_files(root: Path, n: int) -> dict[str, str]:
    files = {
        "parens.py": "x = " + "(" * n + "1" + ")" * n + "\n",
        "lists.py": "x = " + "[" * n + "]" * n + "\n",
        "calls.py": "x = " + "f(" * n + ")" * n + "\n",
        "ifs.py": "".join(" " * i + "if x:\n" for i in range(n)) + " " * n + "pass\n",
        "ok.py": _OK_LINE,
    }
    for name, code in files.items():
        (root / name).write_text(code)
    return files


def test_a_thousand_levels_of_nesting_become_errors_or_findings(tmp_path):
    _deep_files(tmp_path, 1000)
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1))
    assert [(f.path, f.line) for f in report.findings if f.rule == "MLD003"] == [("ok.py", 1)]
    errors = {e.path: e.message for e in report.errors}
    # CPython refuses more than 200 nested brackets and 100 indentation levels, too
    for name in ("parens.py", "lists.py", "calls.py"):
        assert "too deeply nested" in errors[name]
    assert "too many levels of indentation" in errors["ifs.py"]
    assert report.summary.files == 5


def test_deep_but_legal_nesting_is_analysed(test_rules):
    # CPython allows 200 nested brackets: such a file is analysed, positions included
    result = test_rules("x = " + "[" * 199 + "1" + "]" * 199 + "\n", "test:integers")
    assert result.error is None
    (finding,) = result.findings
    assert (finding.location.line, finding.location.column) == (1, 4 + 199 + 1)


@pytest.mark.parametrize("n", [1500, 5000])
def test_nesting_that_crashes_libcst_does_not_crash_the_scan(tmp_path, n):
    # libcst's native parser overflows its stack (SIGSEGV) past about a thousand nested
    # brackets; run in a child process so that a crash fails this test, not the suite
    _deep_files(tmp_path, n)
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from mldebt.scan import ScanRequest, run_scan
        report = run_scan(ScanRequest(targets=(Path({str(tmp_path)!r}),), jobs=1))
        print(sorted(e.path for e in report.errors))
        print([(f.path, f.line) for f in report.findings if f.rule == "MLD003"])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    errors, findings = out.stdout.splitlines()[-2:]
    assert errors == "['calls.py', 'ifs.py', 'lists.py', 'parens.py']"
    assert findings == "[('ok.py', 1)]"


# --- facts located by searching the source agree with code generation ---------------------

def _has_calls(path: Path) -> bool:
    if path.suffix == ".ipynb":
        return True
    return any(isinstance(n, ast.Call) for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("path", sorted(
    p for p in (Path(__file__).resolve().parents[1] / "fixtures").rglob("*")
    if p.suffix in (".py", ".ipynb") and "tests" not in p.parts and _has_calls(p)), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_searching_the_source_finds_calls_where_code_generation_does(path):
    source = load_source(path.name, path.read_bytes())
    module = parse(source)
    calls, ctx = calls_in_walk_order(path.name, source, module)
    assert calls
    searched = engine._search_positions(source.text, module, calls, ctx.masked)
    generated = _positions(module, calls)
    assert searched is not None, "every call of the fixtures is found by searching"
    for call in calls:
        s, g = searched[id(call)], generated[id(call)]
        assert (s.line, s.column, s.end_line, s.end_column) == (g.line, g.column, g.end_line, g.end_column), \
            module.code_for_node(call)[:80]


def test_ends_cell_knows_the_last_statement_of_each_notebook_cell():
    def cell(src: str) -> dict:
        return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": src}

    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        cell("# header comment\n\nimport pandas as pd\ndf = pd.read_csv('x')\ndf.dropna()\n"),
        {"cell_type": "markdown", "metadata": {}, "source": "words"},
        cell("df.dropna()\nx = 1\n\n# a comment\nif x:\n    df.head()\n"),
        cell("%matplotlib inline\ndf.head()"),
    ]}
    source = load_source("n.ipynb", json.dumps(nb).encode())
    module = parse(source)
    ctx = FileContextImpl("n.ipynb", "n", False, source, module, {}, False)
    ends = [ctx.ends_cell(stmt) for stmt in module.body]
    assert ends == [False, False, True, False, False, True, False, True]
    plain = _source("a = 1\nb = 2\n")
    tree = parse(plain)
    assert not any(FileContextImpl("m.py", "m", False, plain, tree, {}, False).ends_cell(s) for s in tree.body)


def test_python_warnings_about_the_scanned_code_are_not_printed(tmp_path):
    """Reading a literal's value (``"\\d"``: an invalid escape) makes CPython warn; from 3.12
    that is a SyntaxWarning printed once per place, in the middle of the report."""
    import warnings

    source = tmp_path / "patterns.py"
    source.write_text('import re\nDIGITS = re.compile("\\d+")\n\n\ndef keep(scores):\n'
                      '    return [s for s in scores if s > 0.73 and re.match("\\d", str(s))]\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run_scan(ScanRequest(targets=(source,), jobs=1))
    assert [f.rule for f in report.findings] == ["MLD301"]  # the literals were read
    assert [str(w.message) for w in caught] == []
    done = subprocess.run([sys.executable, "-W", "always", "-m", "mldebt", "scan", str(source), "--no-cache"],
                          capture_output=True, text=True, cwd=tmp_path, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(mldebt.__file__).parent.parent)})
    assert "MLD301" in done.stdout and done.stderr == "", done.stderr
