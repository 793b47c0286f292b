from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import FileContext, Invalid, Sink
from mldebt.rules.data_leakage._common import data_key, fitted_class, short
from mldebt.rules.data_leakage.preprocessing_fit_before_split import (
    PreprocessingFitBeforeSplit,
    _Fit,
    _target_keys,
)
from mldebt.rules.names import dotted


class PreprocessingOutsideCv(PreprocessingFitBeforeSplit):
    """
    ## What it does
    Flags a transformer, feature selector or resampler fitted on the whole data whose output
    is then cross-validated: the result of `scaler.fit_transform(X)`, `selector.transform(X)`
    after `selector.fit(X, y)`, or `SMOTE().fit_resample(X, y)` given to `cross_val_score`,
    `cross_validate`, `cross_val_predict`, `learning_curve`, `validation_curve`,
    `permutation_test_score`, the `fit` of a `GridSearchCV`/`RandomizedSearchCV`/`Halving*`
    search, a splitter's `split(X)` (`for train_idx, test_idx in KFold(5).split(X_scaled)`),
    or a function of the same file, defined before the call, that gives one of its
    parameters to one of those (`def cross_validate(kind, X, y): ... skf.split(X, y)`).
    The finding sits on the fit and names the line of the cross-validation.

    The data is followed as in `preprocessing-fit-before-split` (assignments, `.values`,
    `pd.DataFrame(...)`, subscripts, the fitted object's `.transform(...)`), in the same
    function or script, in source order. Not flagged: a transformer inside a `Pipeline`
    given to the cross-validation; data that was only the input of a fit (`scaler.fit(X)`
    then `cross_val_score(model, X, y)`); stateless transformers and label encoders; a fit
    after the split inside the fold loop.

    ## Why is this bad?
    Each fold's validation rows were part of what the preprocessing learnt (means, selected
    features, synthetic neighbours made from validation rows), so the cross-validated score
    overstates how the model does on new data, and model selection picks what fits the leak
    (Kapoor & Narayanan 2023; scikit-learn "Common pitfalls").

    ## Example
    ```python
    X_scaled = StandardScaler().fit_transform(X)
    scores = cross_val_score(SVC(), X_scaled, y, cv=5)
    ```

    ## Use instead
    ```python
    scores = cross_val_score(make_pipeline(StandardScaler(), SVC()), X, y, cv=5)
    # resampling: imblearn.pipeline.make_pipeline(SMOTE(), model)
    ```

    ## Options
    None.

    ## References
    - scikit-learn, "Common pitfalls: data leakage": https://scikit-learn.org/stable/common_pitfalls.html#data-leakage
    - Kapoor & Narayanan, "Leakage and the reproducibility crisis in ML-based science", 2023.
    - Catalog: `rules/data-leakage.yaml` (knowledge `leakage`).
    """

    VALID = [
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
        "from sklearn.model_selection import cross_val_score\nfrom sklearn.svm import SVC\n"
        "def f(X, y):\n    return cross_val_score(make_pipeline(StandardScaler(), SVC()), X, y, cv=5)\n",
        # the scaler learnt from X but the cross-validated data is the raw X
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import cross_val_score\n"
        "def f(X, y, m):\n    s = StandardScaler().fit(X)\n    return cross_val_score(m, X, y), s\n",
        # fitted inside the fold loop, on the training fold
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import KFold\n"
        "def f(X, y, m):\n    for tr, te in KFold(5).split(X):\n        s = StandardScaler().fit(X[tr])\n"
        "        m.fit(s.transform(X[tr]), y[tr])\n",
        # stateless
        "from sklearn.preprocessing import Normalizer\nfrom sklearn.model_selection import cross_validate\n"
        "def f(X, y, m):\n    return cross_validate(m, Normalizer().fit_transform(X), y)\n",
        # not sklearn's
        "from mylib import cross_val_score\nfrom sklearn.decomposition import PCA\n"
        "Z = PCA(2).fit_transform(X)\nprint(cross_val_score(m, Z, y))\n",
    ]
    INVALID = [
        Invalid("from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import cross_val_score\n"
                "from sklearn.svm import SVC\nX_scaled = StandardScaler().fit_transform(X)\n"
                "scores = cross_val_score(SVC(), X_scaled, y, cv=5)\n",
                line=4, column=12, confidence="high", message_contains="at line 5"),
        Invalid("from sklearn.feature_selection import SelectKBest\nfrom sklearn.model_selection import GridSearchCV\n"
                "def tune(X, y, est, grid):\n    sel = SelectKBest(k=10)\n    sel.fit(X, y)\n"
                "    Xs = sel.transform(X)\n    search = GridSearchCV(est, grid, cv=5)\n    search.fit(Xs, y)\n"
                "    return search\n", line=5, message_contains="GridSearchCV"),
        Invalid("from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import StratifiedKFold\n"
                "def folds(X, y):\n    X_res, y_res = SMOTE().fit_resample(X, y)\n    skf = StratifiedKFold(n_splits=5)\n"
                "    for train_idx, test_idx in skf.split(X_res, y_res):\n        yield train_idx, test_idx\n",
                line=4, message_contains="SMOTE.fit_resample"),
        Invalid("from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import StratifiedKFold\n"
                "def cv(model, X, y):\n    for tr, va in StratifiedKFold(5).split(X, y):\n        model.fit(X[tr], y[tr])\n"
                "X_res, y_res = SMOTE().fit_resample(X, y)\ncv(model, X_res, y_res)\n", line=6,
                message_contains="`cv` (through `StratifiedKFold.split`) at line 7"),
        # a chain of fits before a search: both learnt from every row
        Invalid("from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import GridSearchCV\n"
                "from sklearn.preprocessing import StandardScaler\ndef tune(est, grid, X, y):\n"
                "    Xs = StandardScaler().fit_transform(X)\n    Xr, yr = SMOTE().fit_resample(Xs, y)\n"
                "    return GridSearchCV(est, grid).fit(Xr, yr)\n", line=5, message_contains="StandardScaler"),
        # a project helper's preprocessing: only transformers have fit_transform
        Invalid("from sklearn.model_selection import cross_val_score\nfrom .features import make_preprocessor\n"
                "def score(model, X, y, cols):\n    Xt = make_preprocessor(cols).fit_transform(X)\n"
                "    return cross_val_score(model, Xt, y)\n", line=4, message_contains="make_preprocessor"),
        Invalid("import pandas as pd\nfrom sklearn import preprocessing, model_selection as ms\n"
                "df[cols] = preprocessing.MinMaxScaler().fit_transform(df[cols])\n"
                "pred = ms.cross_val_predict(model, df[cols], df['y'])\n", line=3, confidence="medium"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        k = ctx.knowledge.get("leakage", {}) or {}
        self.cv_functions = dict(k.get("cv_functions", {}) or {})  # qualified -> index of X
        self.searches = frozenset(k.get("searches", ()))
        self.splitters = frozenset(k.get("cv_splitters", ()))
        self.cv_objects: list[dict[str, str]] = [{}]  # per function: name -> search/splitter class
        # functions of this file that cross-validate a parameter: name -> (index, parameter, CV call)
        self.wrappers: dict[str, tuple[int, str, str]] = {}
        self.parents: dict[int, _Fit] = {}  # fit -> the earlier fit whose output it learnt from

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.cv_objects.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        self.cv_objects.pop()

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.scopes[-1]
        fitted = fitted_class(node, self.ctx.names, self.know, scope.objects) is not None
        arg = node.args[0] if fitted else None
        key = data_key(arg.value) if arg is not None and arg.keyword is None and not arg.star else None
        prior = scope.tainted.get(key[0]) if key is not None else None  # its data came from a fit
        super().visit_Call(node)
        if not fitted:
            return
        if prior is not None and prior[0].call is not node:
            self.parents[id(node)] = prior[0]  # `X_res = SMOTE().fit_resample(scaled)`: both fits leak
        # the data a fit learnt from is not its output: `scaler.fit(X)` leaves X as it was
        if key is not None and (t := scope.tainted.get(key[0])) is not None and t[0].call is node:
            del scope.tainted[key[0]]

    def leave_Assign(self, node: cst.Assign) -> None:
        super().leave_Assign(node)
        q = self.ctx.names.call_name(node.value)
        objects = self.cv_objects[-1]
        for key, exact in (k for t in node.targets for k in _target_keys(t.target)):
            objects.pop(key, None)
            if exact and q is not None and (q in self.searches or q in self.splitters):
                objects[key] = q

    def leave_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        data: cst.BaseExpression | None = None
        what = ""
        if q is not None and q in self.cv_functions:
            data, what = _arg(node, int(self.cv_functions[q]), "X"), f"`{short(q)}`"
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value in ("fit", "split"):
            cls = self._cv_object(node.func.value)
            method = node.func.attr.value
            if cls is not None and ((method == "fit") == (cls in self.searches)):
                data, what = _arg(node, 0, "X"), f"`{short(cls)}.{method}`"
        elif isinstance(node.func, cst.Name) and node.func.value in self.wrappers and q is None:
            index, param, inner = self.wrappers[node.func.value]
            data, what = _arg(node, index, param), f"`{node.func.value}` (through {inner})"
        if data is None:
            return
        self._note_wrapper(data, what)
        found = self._taint(data)
        if found is None or id(found[0].call) in self._reported:
            return
        self._reported.add(id(found[0].call))
        self._report_cv(found[0], found[1], node, what)
        fit = self.parents.get(id(found[0].call))
        while fit is not None and id(fit.call) not in self._reported:  # the fits before it leak too
            self._reported.add(id(fit.call))
            self._report_cv(fit, found[1], node, what)
            fit = self.parents.get(id(fit.call))

    def _note_wrapper(self, data: cst.BaseExpression, what: str) -> None:
        """``def cross_validate(kind, X, y): ... skf.split(X, y)``: calls of it cross-validate."""
        fn = self.ctx.function
        if not isinstance(data, cst.Name) or not isinstance(fn, cst.FunctionDef) or "." in self.ctx.scope:
            return
        params = [*fn.params.posonly_params, *fn.params.params]
        for i, p in enumerate(params):
            if p.name.value == data.value:
                self.wrappers[fn.name.value] = (i, p.name.value, what.split(" (through ")[0])
                return

    def _cv_object(self, expr: cst.BaseExpression) -> str | None:
        if isinstance(expr, cst.Call):
            q = self.ctx.names.call_name(expr)
            return q if q is not None and (q in self.searches or q in self.splitters) else None
        key = dotted(expr)
        if key is None:
            return None
        return self.cv_objects[-1].get(key) or self.cv_objects[0].get(key)

    def _report_cv(self, fit: _Fit, exact: bool, cv: cst.Call, what: str) -> None:
        where = self.lines.line(cv)
        at = f" at line {where}" if where else ""
        self.report(
            fit.call,
            f"`{short(fit.cls)}.{fit.method}({fit.data})` learns from all the rows that {what}{at} then "
            "cross-validates: each fold's validation rows shaped the preprocessing. Put the step in a "
            "Pipeline given to the cross-validation.",
            confidence=None if exact else Confidence.MEDIUM)


def _arg(call: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return a.value
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[: index + 1]):
        return None
    return positional[index].value if index < len(positional) else None
