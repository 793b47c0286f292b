"""Data-leakage rules (MLD8xx) beyond their own examples."""

from __future__ import annotations

from pathlib import Path

from mldebt.catalog import load_catalog
from mldebt.config import Overrides, build_settings
from mldebt.testing import scan_snippets

HEAD = ("from sklearn.model_selection import train_test_split\n"
        "from sklearn.preprocessing import StandardScaler\n")


def _found(code: str, rule: str = "MLD801"):
    report = scan_snippets({"a.py": code}, select=[rule])
    assert not report.errors, report.errors
    return [(f.line, f.message) for f in report.findings if f.rule == rule]


def test_leakage_rules_are_stable_and_run_by_default():
    catalog = load_catalog()
    codes = {"MLD801", "MLD802", "MLD803", "MLD804"}
    for code in codes:
        assert catalog.by_code(code).status == "stable"  # promoted after judging on the corpora
        assert catalog.by_code(code).smell == "data-leakage"
    default = build_settings(catalog, Path("/example"), None, Overrides())
    assert codes <= set(default.enabled)


def test_split_line_is_the_split_that_follows_the_fit():
    code = HEAD + ("def f(X, y):\n"
                   "    a = train_test_split(X, y)\n"           # 4: before the fit
                   "    X = StandardScaler().fit_transform(X)\n"  # 5
                   "    b = train_test_split(X, y)\n"           # 6
                   "    return a, b\n")
    found = _found(code)
    assert [line for line, _ in found] == [5]
    assert "at line 6" in found[0][1]


def test_one_finding_per_fit_even_with_several_splits():
    code = HEAD + ("X = StandardScaler().fit_transform(X)\n"
                   "a = train_test_split(X, y)\nb = train_test_split(X, y, test_size=0.3)\n")
    assert [line for line, _ in _found(code)] == [3]


def test_scopes_are_separate_and_attributes_are_followed():
    code = HEAD + ("X = StandardScaler().fit_transform(X)\n"           # 3: module scope
                   "class T:\n"
                   "    def prep(self, X):\n"
                   "        self.scaler = StandardScaler()\n"
                   "        self.X = self.scaler.fit_transform(X)\n"    # 7
                   "        return train_test_split(self.X)\n"          # 8
                   "    def other(self, X):\n"
                   "        return train_test_split(X)\n")              # not the module's X
    assert [line for line, _ in _found(code)] == [7]


def test_transform_of_a_fitted_object_carries_the_fit():
    code = HEAD + ("def f(X, y):\n    s = StandardScaler().fit(X)\n    Z = s.transform(X)\n"
                   "    return train_test_split(Z, y)\n")
    assert [line for line, _ in _found(code)] == [4]


def test_fit_on_test_data_is_low_confidence_and_ignores_transform():
    code = ("from sklearn.preprocessing import MinMaxScaler\ns = MinMaxScaler()\n"
            "a = s.fit_transform(X_train)\nb = s.transform(X_test)\nc = s.fit(X_val)\n")
    report = scan_snippets({"a.py": code}, select=["MLD802"])
    assert [(f.line, f.confidence.value) for f in report.findings] == [(5, "low")]


def test_split_line_is_the_real_position_not_a_text_match():
    code = HEAD + ('"""train_test_split(X, y) in a docstring"""\n'  # 3: the same text, not the call
                   "# train_test_split(X, y)\n"                      # 4
                   "X = StandardScaler().fit_transform(X)\n"          # 5
                   "parts = train_test_split(\n"                    # 6: the call starts here
                   "    X, y)\n")
    found = _found(code)
    assert [line for line, _ in found] == [5]
    assert "at line 6" in found[0][1]


def test_fit_of_an_unnamed_expression_and_tuple_unpacking_are_followed():
    code = HEAD + ("import numpy as np\n"
                   "s = StandardScaler()\n"
                   "scaled = s.fit_transform(np.nan_to_num(data))\n"  # 5
                   "X, y = scaled[:, :-1], scaled[:, -1]\n"
                   "parts = train_test_split(X, y)\n")
    assert [line for line, _ in _found(code)] == [5]


# --- MLD803 preprocessing-outside-cv ---------------------------------------------------

CV_HEAD = ("from sklearn.preprocessing import StandardScaler\n"
           "from sklearn.model_selection import cross_val_score, KFold, RandomizedSearchCV\n")


def test_cv_message_names_the_cross_validation_line():
    code = CV_HEAD + ("def f(X, y, m):\n"
                      "    Xs = StandardScaler().fit_transform(X)\n"   # 4
                      "    print('scaled')\n"
                      "    return cross_val_score(m, X=Xs, y=y)\n")    # 6
    found = _found(code, "MLD803")
    assert [line for line, _ in found] == [4]
    assert "`cross_val_score` at line 6" in found[0][1]


def test_cv_forms():
    code = CV_HEAD + ("def a(X, y, m, dist):\n"
                      "    s = StandardScaler().fit(X)\n"                 # 4: transform() result searched
                      "    search = RandomizedSearchCV(m, dist, random_state=0)\n"
                      "    search.fit(s.transform(X), y)\n"
                      "def b(X, y):\n"
                      "    Xs = StandardScaler().fit_transform(X)\n"      # 8: folds of Xs
                      "    return list(KFold(5).split(Xs))\n"
                      "def c(X, y, m):\n"
                      "    Xs = StandardScaler().fit_transform(X)\n"      # 11: rebound before the CV
                      "    Xs = X\n"
                      "    return cross_val_score(m, Xs, y)\n"
                      "def d(X, y, m):\n"
                      "    kf = KFold(5)\n"
                      "    Xs = StandardScaler().fit_transform(X)\n"      # 16: a splitter bound to a name
                      "    for tr, te in kf.split(Xs):\n"
                      "        m.fit(Xs[tr], y[tr])\n")
    assert [line for line, _ in _found(code, "MLD803")] == [4, 8, 16]


def test_split_rule_and_cv_rule_do_not_report_each_other():
    split = HEAD + "X = StandardScaler().fit_transform(X)\na = train_test_split(X, y)\n"
    cv = CV_HEAD + "X = StandardScaler().fit_transform(X)\ns = cross_val_score(m, X, y)\n"
    assert _found(split, "MLD803") == [] and _found(cv, "MLD801") == []
    assert [line for line, _ in _found(split, "MLD801")] == [3]
    assert [line for line, _ in _found(cv, "MLD803")] == [3]


# --- MLD804 target-derived-feature -------------------------------------------------------

TD_HEAD = ("import pandas as pd\nfrom sklearn.model_selection import train_test_split\n"
           "df = pd.read_csv('churn.csv')\n")


def test_target_encoding_kept_in_the_features():
    code = TD_HEAD + ("df['rate'] = df.groupby('city')['churned'].transform('mean')\n"   # 4
                      "df['other'] = df['a'] + 1\n"
                      "X, y = df.drop(columns=['churned']), df['churned']\n"
                      "parts = train_test_split(X, y)\n")
    found = _found(code, "MLD804")
    assert [line for line, _ in found] == [4]
    assert "`rate`" in found[0][1] and "`churned`" in found[0][1]


def test_target_encoding_cases_not_flagged():
    dropped = TD_HEAD + ("df['rate'] = df.groupby('city')['churned'].transform('mean')\n"
                         "X = df.drop(['churned', 'rate'], axis=1)\nparts = train_test_split(X, df['churned'])\n")
    not_selected = TD_HEAD + ("df['rate'] = df.groupby('city')['churned'].transform('mean')\n"
                              "X = df[['a', 'b']]\nparts = train_test_split(X, df['churned'])\n")
    after = TD_HEAD + ("X = df.drop(columns=['churned'])\n"
                       "df['rate'] = df.groupby('city')['churned'].transform('mean')\n"
                       "parts = train_test_split(X, df['churned'])\n")
    rows_not_columns = TD_HEAD + ("df = df.drop([0, 1])\n"
                                  "df['rate'] = df.groupby('city')['churned'].transform('mean')\n"
                                  "X = df.drop(['churned'])\nparts = train_test_split(X, df['churned'])\n")
    for code in (dropped, not_selected, after, rows_not_columns):
        assert _found(code, "MLD804") == [], code


def test_target_from_pop_and_fit_in_a_function():
    code = ("import pandas as pd\n"
            "def train(model):\n"
            "    df = pd.read_parquet('x.parquet').copy()\n"
            "    df['label_x2'] = df['label'] * 2\n"                   # 4
            "    y = df.pop('label')\n"
            "    X = df.drop(columns=['id'])\n"
            "    return model.fit(X, y)\n")
    assert [line for line, _ in _found(code, "MLD804")] == [4]


def test_target_named_by_a_module_constant():
    code = ("import pandas as pd\nfrom sklearn.model_selection import cross_val_score\n"
            "TARGET = 'sold'\nDROP = [TARGET, 'id']\n"
            "df = pd.concat([pd.read_csv('a.csv'), pd.read_csv('b.csv')])\n"
            "df['shop_rate'] = df['shop'].map(df.groupby('shop')[TARGET].mean())\n"   # 6
            "X = df.drop(columns=[TARGET, 'id'])\n"
            "scores = cross_val_score(model, X, df[TARGET])\n")
    assert [line for line, _ in _found(code, "MLD804")] == [6]
