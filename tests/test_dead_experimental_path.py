"""MLD401-MLD405 (dead-experimental-path): cases beyond the rules' own examples.

The VALID/INVALID examples run in tests/test_rule_examples.py; these add what that format
cannot say: how many findings a block gives, exact positions found without a node,
notebooks, which facts carry a location (positions cost a code-generation pass), and the
helper that finds the node of a comment.
"""

from __future__ import annotations

import json

import libcst as cst
import pytest

from mldebt.engine import FileJob, RulePlan, _positions, _scan_comments, analyse_source
from mldebt.catalog import load_catalog
from mldebt.rules.dead_experimental_path._common import CommentNodes, classify_comment_lines
from mldebt.testing import scan_snippets

CODES = ["MLD401", "MLD402", "MLD403", "MLD404", "MLD405"]


def found(files: dict[str, str], *codes: str):
    report = scan_snippets(files, select=list(codes or CODES))
    assert not report.errors, report.errors
    return [(f.rule, f.path, f.line, f.column) for f in report.findings]


def notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []}
                                 for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_commented_out_block_is_reported_once_with_its_length():
    code = ("def forward(self, x):\n"
            "    # x = self.dropout(x)\n"
            "    #\n"
            "    # x = self.se(x)\n"
            "    #     # squeeze first\n"
            "    # x = self.norm(x)\n"
            "    return x\n")
    report = scan_snippets({"m.py": code}, select=["MLD404"])
    assert [(f.line, f.column) for f in report.findings] == [(2, 5)]
    assert "(5 lines)" in report.findings[0].message


def test_unreachable_code_is_reported_once_per_block():
    code = "def f(x):\n    return x\n    x += 1\n    print(x)\n    return x\n"
    assert found({"m.py": code}, "MLD402") == [("MLD402", "m.py", 3, 5)]


def test_guards_located_from_the_text_have_exact_positions():
    code = ("DEBUG = False\n"
            "msg = 'if DEBUG is set'  # not a test\n"
            "def f(x):\n"
            "    y = DEBUG\n"
            "    if (x and\n"
            "            DEBUG):\n"
            "        print(x)\n"
            "    return 1 if not DEBUG else 2\n"
            "if bool(DEBUG):\n"  # not found in the text: located by its node instead
            "    pass\n")
    assert found({"m.py": code}, "MLD403") == [
        ("MLD403", "m.py", 6, 13), ("MLD403", "m.py", 8, 21), ("MLD403", "m.py", 9, 4)]


def test_only_candidate_findings_carry_a_node():
    """Facts without a node cost nothing; a node makes the engine locate it (codegen)."""
    catalog = load_catalog()
    plans = [RulePlan(c, catalog.by_code(c).impl, catalog.by_code(c).default_options, True,
                      c in ("MLD403", "MLD405")) for c in CODES]
    code = ("import cfg\nfrom cfg import LIMIT\nUSE_X = compute()\n"
            "def train_new_model(m):\n    if cfg.FAST and USE_X:\n        m.x = 1\n    return m\n"
            "train_new_model(1)\n")
    result = analyse_source(FileJob("/x/m.py", "m.py", "m", False, False), code.encode(), plans,
                            catalog.knowledge, debug=True)
    assert not result.findings
    assert all(f.location is None for f in result.facts), result.facts


def test_notebook_cells_are_not_one_block_of_module_code():
    nb = notebook("import sys\nraise SystemExit('stop here')\n", "x = 1\n",
                  "def f():\n    return 1\n    print('never')\n")
    assert found({"nb.ipynb": nb}, "MLD402") == [("MLD402", "nb.ipynb", 6, 5)]


def test_a_flag_toggled_only_in_a_notebook_is_live():
    files = {"cfg.py": "USE_TTA = False\n", "run.py": "import cfg\nif cfg.USE_TTA:\n    tta()\n",
             "explore.ipynb": notebook("import cfg\ncfg.USE_TTA = True\n")}
    assert found(files, "MLD403") == []


def test_findings_in_tests_are_not_reported_but_their_references_count():
    files = {"src/legacy.py": "def legacy_split(df):\n    return df\n",
             "tests/test_legacy.py": "from src.legacy import legacy_split\n\n"
                                     "def tmp_helper():\n    return 1\n\n"
                                     "def test_split():\n    assert legacy_split(1) == 1\n"}
    assert found(files, "MLD405") == []


@pytest.mark.parametrize("source", [
    "x = f(  # a\n    1,\n    # b = g(2),\n    # c = h(3),\n)\n# a\ny = [\n    # a\n]\n",
    "class A:\n    # k\n    def f(self):\n        return {\n            # k\n            'k': 1,  # k\n"
    "        }\n    # k\n\n# k\n",
    "if x:\n    pass\n# e\nelse:\n    # e\n    pass\n# e\n",
])
def test_comment_nodes_are_found_where_the_engine_lists_them(source):
    module = cst.parse_module(source)
    strings: list[cst.CSTNode] = []

    class Strings(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            strings.append(node)

    module.visit(Strings())
    comments = _scan_comments(source, strings, module)
    nodes = CommentNodes(module, comments)
    targets = [c for c in comments if c.own_line]
    found_nodes = [nodes.find(c) for c in targets]
    assert all(n is not None for n in found_nodes)
    spans = _positions(module, found_nodes)
    assert [spans[id(n)].line for n in found_nodes] == [c.line for c in targets]


@pytest.mark.parametrize(("lines", "kinds"), [
    (["model = Net()", "model.fit(x)"], [2, 2]),
    (["Compute the loss", "for each batch."], [0, 0]),
    (["pylint: disable=no-member", "type: ignore", "noqa: E501"], [0, 0, 0]),
    (["opt = SGD(", "    params,", "    lr=0.1,", ")"], [2, 2, 2, 2]),
    (["for x in xs:", "train(x)", "else:", "pass"], [1, 2, 1, 1]),
    (["outputs (B, T, 2)", "x.shape = (B, N, C)", "coef = s - t"], [0, 0, 1]),
])
def test_comment_lines_are_classified(lines, kinds):
    assert classify_comment_lines(lines) == kinds
