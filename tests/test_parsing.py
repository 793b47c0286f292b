"""Reading, decoding and parsing: every bad file is one error entry, and the scan goes on.

Scans run on real files in a temporary folder (the file phase reads from disk) with only
the meta rule MLD003 selected: ``x = 1  # mldebt: ignore[MLD999] -- typo`` gives one
``malformed-suppression`` finding on its line, so each tree also proves that the good
files' findings survive the bad ones.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from mldebt.config import Overrides
from mldebt.parsing import Source, SourceError, decode, load_source, notebook_source, parse
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import scan_snippets

TYPO = "# mldebt: ignore[MLD999] -- typo"
OK_LINE = f"x = 1  {TYPO}\n"  # the finding is at column 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def scan(root: Path):
    return run_scan(ScanRequest(targets=(root,), jobs=1, overrides=Overrides(select=["MLD003"])))


def notebook(*cells, as_lists: bool = True) -> str:
    """An nbformat 4 notebook; a cell is ("code" | "markdown", source)."""
    out = []
    for kind, src in cells:
        cell = {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True) if as_lists else src}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        out.append(cell)
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": out}, indent=1)


def joined(nb: str) -> str:
    source = notebook_source(nb.encode("utf-8"))
    parse(source)  # must parse
    return source.text


# --- one tree with every kind of bad file ------------------------------------------------


@pytest.fixture(scope="module")
def bad_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "ok.py").write_text(OK_LINE)
    (root / "py2.py").write_text('import os\nprint "x"\n')
    (root / "nul.py").write_bytes(b"x = 1\ny = 2\x00\n")
    (root / "image.py").write_bytes(PNG)
    (root / "latin_no_cookie.py").write_bytes(b"x = 1\ns = 'caf\xe9'\n")
    (root / "latin_first_line.py").write_bytes(b"s = 'caf\xe9'\n")
    (root / "latin_cookie.py").write_bytes(
        b"# -*- coding: latin-1 -*-\ns = 'caf\xe9'  " + TYPO.encode() + b"\n")
    (root / "bom.py").write_bytes(codecs.BOM_UTF8 + OK_LINE.encode())
    (root / "utf16.py").write_bytes(OK_LINE.encode("utf-16"))
    (root / "klingon.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    (root / "bom_and_cookie.py").write_bytes(codecs.BOM_UTF8 + b"# coding: latin-1\nx = 1\n")
    (root / "x.py").mkdir()
    (root / "x.py" / "inner.py").write_text(OK_LINE)
    os.symlink("missing.py", root / "y.py")
    (root / "broken.ipynb").write_text('{"cells": [')
    (root / "old.ipynb").write_text(json.dumps({"worksheets": [], "nbformat": 3}))
    (root / "markdown.ipynb").write_text(notebook(("markdown", "# Only words\n"), ("markdown", "More.\n")))
    (root / "magics.ipynb").write_text(notebook(
        ("markdown", "# Setup\n"),
        ("code", "%matplotlib inline\n!pip install x\nimport numpy as np\n"),
        ("code", "%%bash\necho 'not python ('\n"),
        ("markdown", "Some text\n"),
        ("code", f"files = !ls data\nfor f in files:\n    %time print(f)\nok = (np.nan\n      != 1)\ny = 2  {TYPO}\n"),
    ))
    (root / "nb_syntax_error.ipynb").write_text(notebook(("code", "x = 1\n"), ("code", "y = 2\nz = (\n")))
    report = scan(root)
    return report, {e.path: e.message for e in report.errors}


def test_good_files_keep_their_findings_next_to_bad_ones(bad_tree):
    report, _ = bad_tree
    found = sorted((f.path, f.line, f.column) for f in report.findings)
    assert found == [
        ("bom.py", 1, 8),  # the byte-order mark is not a column
        ("latin_cookie.py", 2, 13),  # `s = 'café'  #`: é is one character
        # joined code cells: cell 2 is lines 1-3, cell 3 lines 4-5, cell 5 lines 6-11
        ("magics.ipynb", 11, 8),
        ("ok.py", 1, 8),
        ("x.py/inner.py", 1, 8),  # a folder named like a module is a folder
    ]


def test_suppression_findings_in_a_notebook_carry_their_cell(bad_tree):
    report, _ = bad_tree
    assert [f.cell for f in report.findings if f.path == "magics.ipynb"] == [5]


@pytest.mark.parametrize(("path", "expected"), [
    ("py2.py", ["syntax error at line 2", "Missing parentheses in call to 'print'", "looks like Python 2"]),
    ("nul.py", ["null byte at line 2"]),
    ("image.py", ["binary file"]),
    ("latin_no_cookie.py", ["invalid byte 0xe9 at line 2", "coding"]),
    ("latin_first_line.py", ["invalid byte 0xe9 at line 1", "coding"]),
    ("utf16.py", ["UTF-16"]),
    ("klingon.py", ["unknown encoding", "klingon"]),
    ("bom_and_cookie.py", ["byte-order mark", "cookie"]),
    ("y.py", ["cannot read", "No such file"]),
    ("broken.ipynb", ["broken notebook", "JSON"]),
    ("old.ipynb", ["broken notebook", "cells"]),
    ("nb_syntax_error.ipynb", ["syntax error at cell 2, line 2", "never closed"]),
])
def test_each_bad_file_is_one_clear_error(bad_tree, path, expected):
    _, errors = bad_tree
    assert path in errors, errors
    for part in expected:
        assert part in errors[path], errors[path]


def test_only_the_bad_files_are_errors(bad_tree):
    report, errors = bad_tree
    assert sorted(errors) == sorted([
        "bom_and_cookie.py", "broken.ipynb", "image.py", "klingon.py", "latin_first_line.py",
        "latin_no_cookie.py", "nb_syntax_error.ipynb", "nul.py", "old.ipynb", "py2.py",
        "utf16.py", "y.py",
    ])
    assert len(report.errors) == len(errors)  # one entry per file


# --- in memory, through the whole pipeline ------------------------------------------------------


def test_snippets_report_parse_errors_instead_of_raising():
    report = scan_snippets({"a.py": 'print "x"\n', "b.py": OK_LINE, "c.ipynb": "{nope"}, select=["MLD003"])
    assert [(f.path, f.line) for f in report.findings] == [("b.py", 1)]
    errors = {e.path: e.message for e in report.errors}
    assert "looks like Python 2" in errors["a.py"]
    assert "broken notebook" in errors["c.ipynb"]


def test_a_notebook_line_counts_through_the_joined_code_cells():
    nb = notebook(("code", "a = 1\nb = 2\n"), ("markdown", "text\n"), ("code", f"c = 3\n{OK_LINE}"),
                  as_lists=False)
    report = scan_snippets({"n.ipynb": nb}, select=["MLD003"], dedent=False)
    # cell 1 holds lines 1-2, cell 3 (the markdown cell is cell 2) lines 3-4
    assert [(f.line, f.column) for f in report.findings] == [(4, 8)]


# --- decoding ---------------------------------------------------------------------------------


def test_decode_honours_bom_and_cookies():
    assert decode(codecs.BOM_UTF8 + b"x = 1\n") == "x = 1\n"
    assert decode(b"# -*- coding: latin-1 -*-\ns = '\xe9'\n") == "# -*- coding: latin-1 -*-\ns = 'é'\n"
    vim = b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\x80'\n"
    assert decode(vim).endswith("s = '€'\n")


def test_decode_keeps_crlf_but_makes_a_lone_cr_a_newline():
    assert decode(b"x = 1\r\ny = 2\r\n") == "x = 1\r\ny = 2\r\n"
    # Python and libcst end a line at a lone CR; so must the text the engine counts lines in
    assert decode(b"x = 1\ry = 2\r\nz = 3\r") == "x = 1\ny = 2\r\nz = 3\n"


@pytest.mark.parametrize(("data", "expected"), [
    (b"\x00", "null byte at line 1"),
    (b"a = 1\n\n\nb = '\xff'\n", "invalid byte 0xff at line 4"),
    (b"\xef\xbb\xbfs = '\xe9'\n", "invalid byte 0xe9 at line 1"),
    (b"%PDF-1.4\n", "binary file"),
    (b"# coding: nope\n", "unknown encoding: nope"),
])
def test_decode_errors_say_what_and_where(data, expected):
    with pytest.raises(SourceError, match=expected):
        decode(data)


# --- parse errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "expected"), [
    ("x = 1\ny = 'abc\n", "syntax error at line 2, column 5: unterminated string literal"),
    ("def f():\n    x\n        y\n", "syntax error at line 3, column"),
    ("def f():\n    x\n        y\n", "unexpected indent"),
    ("a = 1\nb = (\n", "syntax error at line 2, column 5: '(' was never closed"),
    ("import os\nexec \"code\"\n", "syntax error at line 2"),
    ("import os\nexec \"code\"\n", "looks like Python 2"),
])
def test_syntax_errors_point_at_the_right_line(code, expected):
    with pytest.raises(SourceError) as info:
        parse(load_source("m.py", code.encode()))
    assert expected in str(info.value)


def test_newer_syntax_than_the_running_python_still_parses():
    # libcst knows the grammar of newer Pythons: PEP 695 and PEP 701 parse everywhere
    parse(load_source("m.py", b'type Alias[T] = list[T]\nx = f"{d["k"]}"\n'))


@pytest.mark.parametrize(("depth", "ok"), [(200, True), (201, False), (1000, False)])
def test_bracket_nesting_is_limited_like_python(depth, ok):
    code = "x = " + "f(" * depth + ")" * depth + "\n"
    if ok:
        parse(load_source("m.py", code.encode()))
    else:
        with pytest.raises(SourceError, match="too deeply nested"):
            parse(load_source("m.py", code.encode()))


def test_brackets_inside_strings_do_not_count_as_nesting():
    code = "x = [" + "'((((((((((', " * 100 + "]\ny = '" + ")" * 500 + "'\nz = (((1)))\n"
    parse(load_source("m.py", code.encode()))


# --- notebooks --------------------------------------------------------------------------------


def test_a_markdown_only_notebook_is_an_empty_module():
    source = notebook_source(notebook(("markdown", "# Hi\n")).encode())
    assert (source.text, source.cells) == ("", ())
    parse(source)


def test_magics_become_pass_and_lines_stay_put():
    text = joined(notebook(
        ("code", "%matplotlib inline\n!pip install x\n?np.sum\nnp.mean?\nimport numpy as np\n"),
        ("code", "%%bash\necho hi\n"),
        ("code", "for i in range(3):\n    %time f(i)\n"),
        ("code", "%%time\nx = 1\n"),
    ))
    assert text.splitlines() == [
        "pass  # IPython magic", "pass  # IPython magic", "pass  # IPython magic",
        "pass  # IPython magic", "import numpy as np",
        "", "",  # a %%bash cell is not Python
        "for i in range(3):", "    pass  # IPython magic",
        "", "x = 1",  # %%time runs its body as Python
    ]


def test_magic_assignments_keep_their_target():
    text = joined(notebook(("code", "files = !ls *.csv\nt = %timeit -o f()\na, b = !echo 1 2\nprint(files, t)\n")))
    assert text.splitlines() == [
        "files = None  # IPython magic", "t = None  # IPython magic", "a, b = None  # IPython magic",
        "print(files, t)",
    ]


def test_a_magic_continued_with_a_backslash_is_blanked_whole():
    text = joined(notebook(("code", "!pip install numpy \\\n    pandas \\\n    scipy\nx = 1\n")))
    assert text.splitlines() == ["pass  # IPython magic", "", "", "x = 1"]


def test_code_that_only_looks_like_a_magic_is_kept():
    code = (
        "ok = (a\n"
        "      != b)\n"  # an operator at the start of a continuation line
        "msg = ('%s'\n"
        "       % x)\n"
        "s = '''\n"
        "!important\n"  # text inside a string
        "%d items\n"
        "What?\n"
        "'''\n"
        "t = 1 + \\\n"
        "    2\n"
    )
    assert joined(notebook(("code", code))) == code


def test_cells_split_at_python_line_ends_only():
    # str.splitlines would also split at \x0c, \x1c, \u2028... and cut these strings in two
    code = 's = "a\x0cb"\nt = "c\u2028d"\nu = "e\x1cf"\r\nv = 1\r'
    assert joined(notebook(("code", code), as_lists=False)) == 's = "a\x0cb"\nt = "c\u2028d"\nu = "e\x1cf"\nv = 1\n'


def test_cell_of_maps_joined_lines_back_to_cells():
    source = notebook_source(notebook(
        ("markdown", "x\n"), ("code", "a = 1\nb = 2\n"), ("code", ""), ("code", "c = 3\n")).encode())
    # cell 2: lines 1-2; cell 3 (empty): line 3; cell 4: line 4
    assert source.cells == ((2, 1), (3, 3), (4, 4))
    assert [source.cell_of(n) for n in (1, 2, 3, 4)] == [(2, 1), (2, 2), (3, 1), (4, 1)]
    assert source.lines == 4


def test_source_line_count():
    assert load_source("m.py", b"a\nb\n").lines == 2
    assert load_source("m.py", b"a\nb").lines == 2
    assert load_source("m.py", b"").lines == 0
    assert isinstance(load_source("m.py", b"a\n"), Source)


# --- notebook lines in the .ipynb file ----------------------------------------------------


@pytest.mark.parametrize("indent", [1, 2, None])
@pytest.mark.parametrize("as_lists", [True, False])
def test_each_joined_notebook_line_knows_its_line_in_the_ipynb_file(indent, as_lists):
    cells = [("markdown", "# Title\nsource: words\n"), ("code", "import numpy as np\n%matplotlib inline\n\nx = 'a\\\\nb'\n"),
             ("code", "y = x  # café\nz = [\n  1,\n]\n")]
    raw = json.dumps(json.loads(notebook(*cells, as_lists=as_lists)), indent=indent, ensure_ascii=indent is None)
    source = notebook_source(raw.encode("utf-8"))
    file_lines = raw.split("\n")
    joined = source.text.split("\n")
    assert len(source.file_lines) == source.lines == 8
    for n in range(1, source.lines + 1):
        at = source.file_line_of(n)
        assert at is not None
        if indent is None or not as_lists:  # the whole source is one line of the file
            assert len({source.file_line_of(m) for m in range(1, 5)}) == 1
        elif not joined[n - 1].startswith("pass  # IPython"):
            assert json.loads(file_lines[at - 1].strip().rstrip(",")).rstrip("\n") == joined[n - 1]
    assert source.file_line_of(0) is None and source.file_line_of(9) is None


def test_a_notebook_layout_that_cannot_be_followed_gives_no_file_lines():
    # a "source" key inside a cell's metadata comes first in the file: the match fails its check
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {"source": "x"}, "outputs": [], "execution_count": None,
                     "source": ["a = 1\n"]}]}
    source = notebook_source(json.dumps(nb, indent=1).encode())
    assert source.text == "a = 1\n"
    assert source.file_lines == () and source.file_line_of(1) is None


def test_suppression_findings_in_a_notebook_point_at_the_ipynb_line(bad_tree):
    report, _ = bad_tree
    (f,) = [f for f in report.findings if f.path == "magics.ipynb"]
    line = (Path(report.root) / "magics.ipynb").read_text().splitlines()[f.file_line - 1]
    assert "mldebt" in line


@pytest.mark.parametrize("make", [
    lambda n: "x = a" + ".b" * n + "\n",
    lambda n: "x = f" + "()" * n + "\n",
    lambda n: "x = " + "+".join(["a"] * n) + "\n",
])
def test_expression_chains_have_one_bound_on_every_python(make):
    """CPython 3.12+ parses chains far longer than 3.11 did; libcst's time grows with the
    square of their length, so the bound is the tree's depth, not what CPython accepts."""
    assert parse(load_source("chain.py", make(1_000).encode())) is not None
    with pytest.raises(SourceError, match="expression chain too long to analyse"):
        parse(load_source("chain.py", make(3_500).encode()))
