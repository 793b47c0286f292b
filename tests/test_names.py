"""mldebt/rules/names.py: dotted names and the resolver's memo of ``qualified``."""

from __future__ import annotations

import libcst as cst

from mldebt.rules.names import NameResolver, dotted


def test_dotted():
    for code, expected in [("a", "a"), ("a.b.c", "a.b.c"), ("(a).b", "a.b"), ("f().b", None),
                           ("a[1].c", None), ("1", None)]:
        assert dotted(cst.parse_expression(code)) == expected, code


def test_qualified_follows_imports_and_definitions_seen_later():
    # the same node asked again after an import or a def that changes its meaning
    names = NameResolver("m")
    frame = cst.parse_expression("pd.DataFrame")
    call = cst.parse_expression("len(x)")
    assert names.qualified(frame) is None
    assert names.call_name(call) == "builtins.len"
    names.add_import(cst.parse_statement("import pandas as pd").body[0])  # type: ignore[attr-defined]
    assert names.qualified(frame) == "pandas.DataFrame"
    names.add_local_def("helper")  # not a builtin: changes nothing
    assert names.call_name(call) == "builtins.len"
    names.add_local_def("len")  # the file defines its own len
    assert names.call_name(call) is None
    names.add_import_from(cst.parse_statement("from pandas import DataFrame as len").body[0])  # type: ignore[attr-defined]
    assert names.call_name(call) == "pandas.DataFrame"
    assert names.qualified(frame) == "pandas.DataFrame"
