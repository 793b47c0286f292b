"""MLD101 glue-code-function and MLD102 framework-bridge-module: cases beyond the rules' examples.

The rules' VALID/INVALID examples run in tests/test_rule_examples.py; these add options,
messages and ratios, evidence for conversions, anchors, test paths, suppression, the
statement counting of the shared tracker, and the fixture project.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mldebt.catalog import load_catalog
from mldebt.engine import FileContextImpl
from mldebt.parsing import load_source, parse
from mldebt.rules.glue_code._common import TracksGlue, Unit
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import scan_snippets

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recommender-glue"


def findings(code: str, rule: str = "MLD101", path: str = "src/example.py", **options):
    report = scan_snippets({path: code}, select=[rule], options={rule: options} if options else None)
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def units(code: str, module: str = "example") -> dict[str, Unit]:
    """What the shared tracker counts, per function (and `<module>`)."""
    source = load_source("example.py", textwrap.dedent(code).encode())
    tree = parse(source)
    ctx = FileContextImpl("example.py", module, False, source, tree, load_catalog().knowledge, False)
    rule = TracksGlue(ctx, "MLD100", {}, ctx)
    ctx.walk([rule])
    return {u.name: u for u in (rule.glue.module_unit, *rule.glue.closed)}


GLUE = """\
    import numpy as np
    import pandas as pd
    import torch

    def score_users(model, df):
        users = df["user_id"].values
        items = df["item_id"].to_numpy()
        u = torch.tensor(users)
        i = torch.tensor(items)
        preds = model(u, i)
        scores = preds.detach().cpu().numpy()
        out = pd.DataFrame({"user": users, "score": scores})
        return out
    """


# -- MLD101: message, ratio, options ------------------------------------------------------


def test_message_reports_ratio_packages_and_ml_calls():
    [f] = findings(GLUE)
    assert (f.line, f.column) == (5, 5)
    assert "`score_users` spends 6 of its 8 statements (75%)" in f.message
    assert "between pandas, numpy and torch" in f.message
    assert "`.values`, `.to_numpy()`, `torch.tensor()`, `.numpy()` and 1 more" in f.message
    assert "around 1 ML call (`model()`)" in f.message
    assert "one interface" in f.message and "interface" in f.hint
    assert f.smell == "glue-code" and f.severity.value == "warning" and f.confidence.value == "medium"
    assert f.scope == "<module>"


@pytest.mark.parametrize(("options", "flagged"), [
    ({}, True),
    ({"min-conversions": 7}, False),
    ({"min-conversions": 6}, True),
    ({"min-ratio": 0.8}, False),
    ({"min-ratio": 0.75}, True),
    ({"min-packages": 4}, False),
    ({"min-packages": 3}, True),
])
def test_options_change_what_is_reported(options, flagged):
    assert bool(findings(GLUE, **options)) is flagged


def test_a_function_without_ml_calls_is_never_glue():
    code = GLUE.replace("preds = model(u, i)", "preds = u * i")
    assert findings(code, **{"min-conversions": 1, "min-ratio": 0.0, "min-packages": 1}) == []


def test_interface_methods_are_the_adapter_and_not_reported():
    body = textwrap.indent(textwrap.dedent(GLUE.split("def score_users(model, df):\n", 1)[1]), " " * 8)
    header = "import numpy as np\nimport pandas as pd\nimport torch\n\nclass Scorer:\n"
    adapter = header + "    def predict(self, model, df):\n" + body
    helper = header + "    def score_users(self, model, df):\n" + body
    assert findings(adapter) == []
    assert [f.line for f in findings(helper)] == [6]


def test_decorated_function_is_reported_on_its_def_line():
    code = GLUE.replace("def score_users", "@torch.no_grad()\n    @functools.lru_cache(maxsize=None)\n    def score_users")
    code = "import functools\n" + textwrap.dedent(code)
    assert [f.line for f in findings(code)] == [8]


def test_test_files_are_skipped_by_default():
    assert findings(GLUE, path="tests/test_scoring.py") == []
    assert findings(GLUE, path="src/scoring_test.py") == []


def test_suppression_on_the_def_line():
    code = GLUE.replace("def score_users(model, df):",
                        "def score_users(model, df):  # mldebt: ignore[glue-code-function] -- legacy endpoint")
    report = scan_snippets({"src/example.py": code}, select=["MLD101"])
    assert not report.findings
    assert report.summary.ignored == 1


# -- evidence for conversions -----------------------------------------------------------------


def test_values_and_tolist_need_a_known_receiver():
    u = units("""\
        import pandas as pd
        def f(d, frame: pd.DataFrame, things):
            a = d.values
            b = list(d.values())
            c = things.tolist()
            e = frame.values
            g = frame["x"].tolist()
        """)["f"]
    assert (u.statements, u.conversions) == (5, 2)
    assert list(u.spellings) == [".values", ".tolist()"]


def test_numpy_by_name_only_in_a_torch_module_and_never_on_self():
    without = units("def f(t):\n    return t.numpy()\n")["f"]
    with_torch = units("import torch\ndef f(t):\n    return t.numpy()\n")["f"]
    own = units("import torch\nclass A:\n    def g(self):\n        return self.numpy()\n")["g"]
    assert (without.conversions, with_torch.conversions, own.conversions) == (0, 1, 0)


def test_dataframe_names_in_a_pandas_module():
    assert units("import pandas as pd\ndef f(train_df):\n    return train_df.values\n")["f"].conversions == 1
    assert units("def f(train_df):\n    return train_df.values\n")["f"].conversions == 0


def test_values_followed_through_assignments_and_self_attributes():
    u = units("""\
        import pandas
        from torch import tensor
        class Store:
            def load(self, path):
                self.table = pandas.read_parquet(path)
            def ids(self):
                rows = self.table.dropna()
                arr = rows["id"].values
                return tensor(arr)
        """)["ids"]
    assert (u.statements, u.conversions) == (3, 2)
    assert list(u.packages) == ["pandas", "numpy", "torch"]


def test_literal_arguments_create_data_and_same_package_is_no_conversion():
    u = units("""\
        import numpy as onp
        import torch
        def f(x):
            a = onp.array([1, 2, 3])
            b = torch.tensor(0.0)
            c = onp.asarray(onp.zeros(3))
            e = torch.tensor(x)
        """)["f"]
    assert (u.statements, u.conversions) == (4, 1)


def test_json_round_trip_and_row_loops_count_as_conversions():
    u = units("""\
        import json
        import pandas as pd
        def f(df: pd.DataFrame, cfg):
            rows = []
            for _, r in df.iterrows():
                rows.append(r.a)
                total = r.b
            same = json.loads(json.dumps(cfg))
            text = json.dumps(cfg)
        """)["f"]
    assert (u.statements, u.conversions) == (6, 4)
    assert list(u.spellings) == ["a row-by-row loop", "a JSON round trip"]


def test_dict_items_loops_are_not_row_loops():
    u = units("def f(d):\n    out = []\n    for k, v in d.items():\n        out.append(v)\n")["f"]
    assert u.conversions == 0


# -- what is an ML call ----------------------------------------------------------------------


def test_ml_calls():
    u = units("""\
        import re
        import pandas as pd
        import xgboost as xgb
        from sklearn.metrics import roc_auc_score
        def f(model, clf, df: pd.DataFrame, X, y, dm, params):
            a = clf.fit(X, y)
            b = model(X)
            c = xgb.train(params, dm)
            e = roc_auc_score(y, b)
            g = re.compile("x")
            h = df.transform(len)
            i = build_model()
            j = self.add_module("x", b)
        """)["f"]
    assert list(u.ml_names) == ["fit", "model()", "xgboost.train", "sklearn.metrics.roc_auc_score"]
    assert u.ml == 4


def test_a_statement_that_calls_ml_is_not_a_conversion_statement():
    u = units("import pandas as pd\ndef f(clf, df: pd.DataFrame):\n    clf.fit(df.values, df['y'].values)\n")["f"]
    assert (u.statements, u.conversions, u.ml) == (1, 0, 1)
    assert list(u.packages) == ["pandas", "numpy"]


# -- statement counting ----------------------------------------------------------------------


def test_docstrings_pass_imports_and_nested_functions_are_not_counted():
    got = units('''\
        import numpy as np
        def outer(x):
            """Docstring."""
            import torch
            pass
            def inner(y):
                return np.asarray(y)
            if x:
                return inner(x)
        ''')
    assert (got["outer"].statements, got["outer"].conversions) == (2, 0)
    assert (got["inner"].statements, got["inner"].conversions) == (1, 1)


# -- MLD102 ----------------------------------------------------------------------------------

BRIDGE = """\
    import json
    import numpy as np
    from torch import as_tensor
    import xgboost as xgb

    def embed(user_model, ids):
        t = as_tensor(np.asarray(ids))
        return user_model(t).detach().numpy()

    def train(user_model, ids, y, params):
        X = embed(user_model, ids)
        dm = xgb.DMatrix(X, label=np.asarray(y))
        return xgb.train(params, dm)

    def score(user_model, booster: xgb.Booster, ids):
        dm = xgb.DMatrix(embed(user_model, ids))
        p = booster.predict(dm)
        return json.dumps(p.tolist())
    """


def test_bridge_module_anchor_message_and_options():
    [f] = findings(BRIDGE, "MLD102", **{"min-conversions": 4})
    assert f.line == 3  # `from torch import as_tensor`: the first bridged framework's import
    assert "between torch and xgboost" in f.message
    assert "4 of its 8 statements (50%)" in f.message
    assert "in 3 places that also call ML APIs (`embed`, `train`, `score`)" in f.message
    assert findings(BRIDGE, "MLD102", **{"min-conversions": 5}) == []
    assert findings(BRIDGE, "MLD102", **{"min-conversions": 4, "min-functions": 4}) == []
    assert findings(BRIDGE, "MLD102", **{"min-conversions": 4, "min-frameworks": 3}) == []
    assert findings(BRIDGE, "MLD102") == []  # the default wants 10 conversion statements


def test_bridge_module_ignores_the_package_it_belongs_to():
    files = {"xgboost/__init__.py": "", "xgboost/bridge.py": textwrap.dedent(BRIDGE)}
    report = scan_snippets(files, select=["MLD102"], options={"MLD102": {"min-conversions": 4}})
    assert [f for f in report.findings if f.rule == "MLD102"] == []


def test_bridge_module_skips_test_files():
    assert findings(BRIDGE, "MLD102", path="tests/test_bridge.py", **{"min-conversions": 4}) == []


# -- the fixture -----------------------------------------------------------------------------


def test_fixture_project_findings_are_the_labelled_ones():
    report = run_scan(ScanRequest(targets=(FIXTURE,), jobs=1))
    got = sorted((f.path, f.line, f.rule) for f in report.findings if f.smell == "glue-code")
    assert got == [
        ("recsys/candidates.py", 13, "MLD101"),
        ("recsys/features.py", 27, "MLD101"),
        ("recsys/ranker.py", 7, "MLD102"),
        ("recsys/ranker.py", 23, "MLD101"),
        ("recsys/serve.py", 37, "MLD101"),
    ]


# -- the documentation's examples are what the rules flag ------------------------------------


def _doc_block(cls: type, heading: str) -> str:
    doc = textwrap.dedent(cls.__doc__ or "")
    return doc.split(heading, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_documented_examples_are_flagged_and_their_fixes_are_not():
    from mldebt.rules.glue_code.framework_bridge_module import FrameworkBridgeModule
    from mldebt.rules.glue_code.glue_code_function import GlueCodeFunction

    imports = "import numpy as np\nimport pandas as pd\nimport torch\nimport xgboost as xgb\n"
    example = imports + _doc_block(GlueCodeFunction, "## Example")
    assert [f.line for f in findings(example)] == [5]
    assert findings(imports + _doc_block(GlueCodeFunction, "## Use instead")) == []
    bridge = _doc_block(FrameworkBridgeModule, "## Example")
    assert [f.line for f in findings(bridge, "MLD102", **{"min-conversions": 6})] == [3]
    fixed = "import pandas as pd\n" + _doc_block(FrameworkBridgeModule, "## Use instead")
    assert findings(fixed, "MLD102", **{"min-conversions": 1, "min-functions": 1}) == []
