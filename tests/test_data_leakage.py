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


def test_leakage_rules_are_preview_and_not_run_by_default():
    catalog = load_catalog()
    for code in ("MLD801", "MLD802"):
        assert catalog.by_code(code).status == "preview"
    default = build_settings(catalog, Path("/example"), None, Overrides())
    assert not {"MLD801", "MLD802"} & set(default.enabled)
    preview = build_settings(catalog, Path("/example"), None, Overrides(preview=True))
    assert {"MLD801", "MLD802"} <= set(preview.enabled)


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
