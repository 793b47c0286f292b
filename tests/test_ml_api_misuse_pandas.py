"""MLD904-MLD908 (pandas and NumPy API misuse) and the receiver tracker they share.

The rules' VALID/INVALID examples run in tests/test_rule_examples.py; these add the
receiver resolution (aliases, helpers, annotations, branches), look-alikes from other
libraries, notebooks, default selection (preview) and the knowledge entry.
"""

from __future__ import annotations

import json
import textwrap

import libcst as cst
import pytest

from mldebt.catalog import load_catalog
from mldebt.rules.names import NameResolver
from mldebt.rules.receivers import ReceiverTracker, TracksReceivers, TypeInfo
from mldebt.testing import scan_snippets

CODES = ["MLD904", "MLD905", "MLD906", "MLD907", "MLD908"]


def findings(code: str, rule: str, path: str = "src/prep.py"):
    report = scan_snippets({path: code}, select=[rule])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def lines(code: str, rule: str, path: str = "src/prep.py") -> list[int]:
    return [f.line for f in findings(code, rule, path)]


# --- the receiver tracker ---------------------------------------------------------------


class _Probe(TracksReceivers):
    """Feeds a tracker the way the engine does, recording ``type_of`` of every bare expression."""

    def __init__(self, names: NameResolver) -> None:
        self.types = ReceiverTracker(names, load_catalog().knowledge)


def types_of(code: str) -> dict[str, TypeInfo | None]:
    module = cst.parse_module(textwrap.dedent(code))
    names = NameResolver("m")
    probe = _Probe(names)
    seen: dict[str, TypeInfo | None] = {}

    def handler(prefix: str, node: cst.CSTNode):
        for base in type(node).__mro__:
            fn = getattr(probe, f"{prefix}_{base.__name__}", None)
            if fn is not None:
                return fn
        return None

    class Walk(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Import):
                names.add_import(node)
            elif isinstance(node, cst.ImportFrom):
                names.add_import_from(node)
            fn = handler("visit", node)
            if fn is not None:
                fn(node)
            if isinstance(node, cst.Expr):
                seen[module.code_for_node(node.value)] = probe.types.type_of(node.value)
            return True

        def on_leave(self, node: cst.CSTNode) -> None:
            fn = handler("leave", node)
            if fn is not None:
                fn(node)

    module.visit(Walk())
    return seen


def test_tracker_resolves_pandas_through_imports_calls_and_methods():
    t = types_of("""\
        import pandas as pandas_lib
        from pandas import DataFrame, read_parquet
        df = pandas_lib.read_csv("a.csv")
        df
        df["a"]
        df[["a", "b"]]
        df.age
        df.groupby("k").agg("sum")
        df.to_numpy()
        DataFrame({"a": [1]}).merge(df).assign(x=1)
        read_parquet("p").copy()
        df.index
        """)
    assert t["df"] == TypeInfo("pandas.DataFrame", None, "pandas.read_csv")
    assert t['df["a"]'].name == "pandas.Series"
    assert t['df[["a", "b"]]'].name == "pandas.DataFrame"
    assert t["df.age"].name == "pandas.Series"
    assert t['df.groupby("k").agg("sum")'].name == "pandas.NDFrame"
    assert (t["df.to_numpy()"].name, t["df.to_numpy()"].ndim) == ("numpy.ndarray", 2)
    assert t['DataFrame({"a": [1]}).merge(df).assign(x=1)'].name == "pandas.DataFrame"
    assert t['read_parquet("p").copy()'].name == "pandas.DataFrame"
    assert t["df.index"].name == "pandas.Index"


def test_tracker_follows_functions_annotations_and_attributes():
    t = types_of("""\
        import pandas as pd
        from typing import Optional
        def main():
            later()
        def later() -> pd.DataFrame:
            return make()
        def helper(p):
            return pd.read_csv(p)
        def mixed(p):
            if p:
                return pd.read_csv(p)
            return p
        def f(frame: "pd.DataFrame", s: Optional[pd.Series], other, t: pd.Series | None = None):
            frame
            s
            other
            t
        helper("x")
        mixed("x")
        class Model:
            def fit(self):
                self.data = pd.read_csv("x")
            def score(self):
                self.data
        """)
    assert t["later()"].name == "pandas.DataFrame"  # annotated, called before its def
    assert t['helper("x")'] == TypeInfo("pandas.DataFrame", None, "helper()")
    assert t['mixed("x")'] is None  # returns disagree
    assert t["frame"].name == "pandas.DataFrame"
    assert t["s"].name == "pandas.Series"
    assert t["t"].name == "pandas.Series"
    assert t["other"] is None
    assert t["self.data"].name == "pandas.DataFrame"


def test_tracker_keeps_unknown_unknown_and_joins_branches():
    t = types_of("""\
        import pandas as pd
        import numpy as np
        import polars as pl
        import xarray as xr
        a = pd.read_csv("a")
        a = {"k": 1}
        a
        b = pl.read_csv("b")
        b["x"]
        c = xr.open_dataset("c")
        c.temp
        if p.endswith("csv"):
            d = pd.read_csv(p)
        else:
            d = pd.read_parquet(p)
        d
        e = None
        if p:
            e = pd.read_csv(p)
        e
        X = load()
        if X.ndim == 1:
            X = X.reshape(1, -1)
        X
        for k, g in d.groupby("k"):
            g
        g
        def f(param):
            param
        """)
    assert t["a"] is None
    assert t['b["x"]'].name == "polars.Series"
    assert t["c.temp"].name == "xarray.DataArray"
    assert t["d"].name == "pandas.DataFrame"
    assert t["e"].name == "pandas.DataFrame"
    assert t["X"] is None
    assert t["g"] is None  # after the loop: it may not have run
    assert t["param"] is None


def test_tracker_ignores_arms_that_leave():
    t = types_of("""\
        import pandas as pd
        import numpy as np
        def load(path):
            if path.endswith(".csv"):
                df = pd.read_csv(path)
            elif path.endswith(".pq"):
                df = pd.read_parquet(path)
            else:
                raise ValueError(path)
            df
            X = np.eye(3)
            if X.ndim == 1:
                return None
            X
            chunks = pd.read_csv(path, chunksize=100)
            chunks
            kept = pd.read_csv(path).dropna(inplace=True)
            kept
            for chunk in pd.read_csv(path, chunksize=100):
                chunk
            for part in (df, pd.read_csv(path)):
                part
            for item in (df, 3):
                item
        """)
    assert t["df"].name == "pandas.DataFrame"
    assert t["X"].ndim == 2
    assert t["chunks"] is None and t["kept"] is None
    assert t["chunk"].name == t["part"].name == "pandas.DataFrame"
    assert t["item"] is None


def test_tracker_knows_numpy_dimensions():
    t = types_of("""\
        import numpy as np
        A = np.zeros((3, 4))
        v = np.zeros(3)
        R = np.random.rand(4, 5)
        N = np.random.normal(size=(2, 2))
        M = np.arange(12).reshape(3, 4)
        L = np.array([[1, 2], [3, 4]])
        A
        v
        R
        N
        M
        L
        A.T
        A[0]
        A[:, 1:]
        A @ R
        A.mean(axis=0)
        np.eye(3)
        np.zeros(shape)
        """)
    dims = {k: (v.ndim if v is not None else "?") for k, v in t.items()}
    assert dims == {"A": 2, "v": 1, "R": 2, "N": 2, "M": 2, "L": 2, "A.T": 2, "A[0]": 1, "A[:, 1:]": 2,
                    "A @ R": 2, "A.mean(axis=0)": 1, "np.eye(3)": 2, "np.zeros(shape)": None}


def test_type_info_parse_and_framework():
    t = TypeInfo.parse("numpy.ndarray[2]", "x")
    assert (t.name, t.ndim, t.source, t.framework) == ("numpy.ndarray", 2, "x", "numpy")
    assert TypeInfo("pandas.DataFrame").short == "pandas DataFrame"


# --- the rules --------------------------------------------------------------------------------


def test_rules_are_stable_in_the_ml_api_misuse_family():
    specs = {s.code: s for s in load_catalog().rules if s.code in CODES}
    assert set(specs) == set(CODES)
    for spec in specs.values():
        assert spec.status == "stable"  # promoted after judging findings on the corpora
        assert spec.smell == "ml-api-misuse"
    assert specs["MLD907"].severity.value == "info"
    assert "api_misuse" in load_catalog().knowledge


def test_the_rules_run_by_default():
    code = "import pandas as pd\ndf = pd.read_csv('a.csv')\nx = df.values\ndf.dropna()\n"
    report = scan_snippets({"src/prep.py": code})
    assert sorted(f.rule for f in report.findings if f.rule in CODES) == ["MLD906", "MLD907"]


CHAINED = [
    pytest.param("""\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["a"]["b"] = 1
        df.loc[df.a > 0]["c"] = 2
        df.iloc[0]["c"] = 3
        df["a"].loc[0] = 4
        df.loc[df.a > 0, "c"] = 5
        df["c"] = df["a"]
        """, [3, 4, 5, 6], id="forms"),
    pytest.param("""\
        import pandas as pd
        def load(p):
            return pd.read_csv(p)
        def prep(p):
            frame = load(p)
            frame[frame.x < 0]["x"] = 0
            data = {"a": {}}
            data["a"]["b"] = 1
        """, [6], id="helper-and-dict"),
    pytest.param("""\
        import numpy as np
        import polars as pl
        grid = np.zeros((3, 3))
        grid[0][1] = 1
        pf = pl.DataFrame({"a": [1]})
        pf["a"][0] = 2
        """, [], id="numpy-polars"),
]


@pytest.mark.parametrize(("code", "expected"), CHAINED)
def test_chained_assignment(code, expected):
    assert lines(code, "MLD904") == expected


NAN = [
    pytest.param("""\
        import numpy as np
        import math
        import pandas as pd
        a = x == np.nan
        b = x != math.nan
        c = np.nan == x
        d = x == float("nan")
        e = x == pd.NA
        f = x == pd.NaT
        g = x == np.float64("NaN")
        h = x is np.nan
        i = x == float("inf")
        """, [4, 5, 6, 7, 8, 9, 10], id="constants"),
    pytest.param("""\
        from numpy import nan as NaN, isnan
        def f(values, nan):
            return [v for v in values if v == nan]
        ok = y != NaN
        """, [4], id="aliases-and-shadowing"),
    pytest.param("""\
        import numpy as np
        def nan():
            return 0
        class C:
            nan = 1
        x = 3 == C.nan
        """, [], id="local-names"),
]


@pytest.mark.parametrize(("code", "expected"), NAN)
def test_nan_equality(code, expected):
    assert lines(code, "MLD905") == expected


def test_nan_message_names_the_fix_for_the_receiver():
    code = "import numpy as np\nimport pandas as pd\ndf = pd.read_csv('a')\nm = df.a != np.nan\nk = 1.0 == np.nan\n"
    msgs = [f.message for f in findings(code, "MLD905")]
    assert "`df.a.notna()`" in msgs[0] and "always True" in msgs[0]
    assert "math.isnan" in msgs[1]


DISCARDED = [
    pytest.param("""\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df.dropna()
        df.fillna(0, inplace=True)
        df["a"].replace({1: 2})
        df.drop(columns=["a"], inplace=False)
        df = df.sort_values("a")
        df.update(df)
        df.head()
        """, [3, 5, 6], id="forms"),
    pytest.param("""\
        import pandas as pd
        class Cleaner:
            def __init__(self, path):
                self.frame = pd.read_csv(path)
            def run(self):
                self.frame.drop_duplicates()
                self.frame.rename(columns={"a": "b"}, **self.opts)
        """, [6], id="attribute"),
    pytest.param("""\
        import polars as pl
        items = [1, 2]
        items.sort()
        d = {}
        d.pop("a")
        pf = pl.read_csv("a")
        pf.drop_nulls()
        pf.drop("a")
        """, [], id="look-alikes"),
]


@pytest.mark.parametrize(("code", "expected"), DISCARDED)
def test_discarded_pandas_result(code, expected):
    assert lines(code, "MLD906") == expected


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": c} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebooks_display_top_level_expressions_but_functions_discard():
    nb = _notebook("import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.sort_values('a')",
                   "def prep(df: pd.DataFrame):\n    df.dropna()\n    return df\nx = df['a'].values\n"
                   "for c in ['a', 'b']:\n    df[c].fillna(0)")
    report = scan_snippets({"nb/explore.ipynb": nb}, select=["MLD906", "MLD907"], dedent=False)
    assert not report.errors, report.errors
    got = sorted((f.rule, f.cell, f.line) for f in report.findings)
    # notebook lines count through the joined code cells; the cell is added
    assert got == [("MLD906", 2, 5), ("MLD906", 2, 9), ("MLD907", 2, 7)], got


VALUES = [
    pytest.param("""\
        import pandas as pd
        df = pd.read_csv("a.csv")
        a = df.values
        b = df["x"].values
        c = df.index.values
        d = df.columns.values
        e = df.to_numpy()
        for v in {"a": 1}.values():
            pass
        f = df.to_dict().values()
        """, [3, 4, 5, 6], id="forms"),
    pytest.param("""\
        import xarray as xr
        import polars as pl
        import numpy as np
        ds = xr.open_dataset("a.nc")
        a = ds["t"].values
        b = ds.t.values
        pf = pl.read_csv("a")
        c = pf["x"].values
        arr = np.zeros(3, dtype=[("a", "f4")])
        d = arr.values
        def f(df):
            return df.values
        """, [], id="look-alikes"),
    pytest.param("""\
        from pandas import DataFrame
        import pandas as pd
        def build(rows) -> DataFrame:
            return DataFrame(rows)
        def use(rows):
            frame = build(rows)
            return frame.values
        def use_series(s: pd.Series):
            return s.values
        """, [7, 9], id="functions"),
]


@pytest.mark.parametrize(("code", "expected"), VALUES)
def test_pandas_values_attribute(code, expected):
    assert lines(code, "MLD907") == expected


DOT = [
    pytest.param("""\
        import numpy as np
        import pandas as pd
        A = np.zeros((3, 4))
        B = np.random.rand(4, 2)
        C = np.dot(A, B)
        D = A.dot(B)
        E = np.dot(A, np.ones(4))
        F = np.dot(np.ones(3), np.ones(3))
        G = np.dot(A, 2)
        X = pd.read_csv("a").to_numpy()
        H = np.dot(X.T, X)
        I = np.dot(np.eye(3), A)
        """, [5, 6, 11, 12], id="forms"),
    pytest.param("""\
        import numpy as np
        def f(A, B):
            return np.dot(A, B)
        def g(n):
            M = np.zeros((n, n))
            if n > 3:
                M = M.ravel()
            return np.dot(M, M)
        """, [], id="unknown-shapes"),
]


@pytest.mark.parametrize(("code", "expected"), DOT)
def test_numpy_dot_on_matrices(code, expected):
    assert lines(code, "MLD908") == expected


def test_rules_sharing_a_tracker_see_what_a_tracker_of_their_own_would():
    # MLD907's look at `load()` in `a` comes before `pandas` is imported and before any
    # assignment or return evaluates `load()`: with a tracker of its own it resolved `load`'s
    # annotation there (unknown), and MLD904's tracker only in `b`, after the import. The
    # rules share one tracker per file; MLD907 gets its own copy at that point.
    code = (
        "def a():\n    print(load().values)\n\n"
        "import pandas as pd\n\n"
        "def b():\n    df = load()\n    df['a'][df['b'] > 0] = 0\n    return df.values\n\n"
        "def load() -> pd.DataFrame:\n    return pd.read_csv('x')\n\n"
        "def d():\n    return load().values\n"
    )
    report = scan_snippets({"src/prep.py": code}, select=["MLD904", "MLD907"])
    assert [(f.rule, f.line) for f in report.findings] == [("MLD904", 8), ("MLD907", 15)]
