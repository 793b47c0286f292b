from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.data_leakage._common import (
    Leakage,
    Lines,
    data_key,
    fitted_class,
    short,
)
from mldebt.rules.names import dotted


@dataclass(frozen=True, slots=True)
class _Fit:
    call: cst.Call
    cls: str
    method: str
    data: str  # the fitted argument as written


@dataclass(slots=True)
class _Scope:
    objects: dict[str, str] = field(default_factory=dict)  # name -> transformer class
    fitted: dict[str, _Fit] = field(default_factory=dict)  # transformer name -> its fit
    tainted: dict[str, tuple[_Fit, bool]] = field(default_factory=dict)  # data name -> fit, exact
    fits: dict[int, _Fit] = field(default_factory=dict)  # id(fit call) -> its fit


class PreprocessingFitBeforeSplit(Rule):
    """
    ## What it does
    Flags a transformer, feature selector or resampler fitted on data that the same function
    (or script) later splits into train and test: `scaler.fit_transform(X)`,
    `SelectKBest(k=10).fit(X, y)`, `SMOTE().fit_resample(X, y)` followed by
    `train_test_split(X, ...)` (or by a split of the fit's result, followed through simple
    assignments, `.values`, `pd.DataFrame(...)`, subscripts and the fitted object's
    `.transform(...)`). The finding sits on the fit and names the split's line.

    Classes and split functions are resolved through imports and listed in the `leakage`
    knowledge of `rules/data-leakage.yaml`. Not flagged: a fit on the training part after the
    split; a fit on the whole data with no split after it (final training); a `Pipeline`'s
    fit; a model's fit; stateless transformers (`Normalizer`, `Binarizer`,
    `FunctionTransformer`, `PolynomialFeatures`) and label encoders; other variables.
    Control flow is not followed: statements count in source order.

    ## Why is this bad?
    Statistics learnt on the whole data set (means, vocabularies, selected features,
    synthetic neighbours) carry information about the test rows into training, so the test
    score overstates how the model does on new data: data leakage, an entanglement of
    training and evaluation (Sculley et al. 2015, section 3; Kapoor & Narayanan 2023).

    ## Example
    ```python
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    ```

    ## Use instead
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    # or: make_pipeline(StandardScaler(), model).fit(X_train, y_train)
    ```

    ## Options
    None.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015, §3.
    - Kapoor & Narayanan, "Leakage and the reproducibility crisis in ML-based science", 2023.
    - Catalog: `rules/data-leakage.yaml`.
    """

    VALID = [
        # the split comes first, the scaler is fitted on the training part
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\n"
        "def f(X, y):\n    X_tr, X_te, y_tr, y_te = train_test_split(X, y)\n    s = StandardScaler().fit(X_tr)\n"
        "    return s.transform(X_tr), s.transform(X_te)\n",
        # the whole data, no split after it: final training
        "from sklearn.preprocessing import StandardScaler\ndef f(X):\n    return StandardScaler().fit_transform(X)\n",
        # a Pipeline and a model are not transformers
        "from sklearn.model_selection import train_test_split\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.linear_model import LogisticRegression\n"
        "def f(X, y):\n    pipe = make_pipeline(StandardScaler(), LogisticRegression())\n    pipe.fit(X, y)\n"
        "    clf = LogisticRegression().fit(X, y)\n    return train_test_split(X, y)\n",
        # a different variable is split
        "from sklearn.model_selection import train_test_split\nfrom sklearn.decomposition import PCA\n"
        "def f(X, Z, y):\n    emb = PCA(2).fit_transform(Z)\n    return train_test_split(X, y), emb\n",
        # the fitted name is rebound to unrelated data before the split
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import MinMaxScaler\n"
        "def f(X, y, raw):\n    X = MinMaxScaler().fit_transform(X)\n    X = raw.copy()\n    return train_test_split(X, y)\n",
        # stateless transformers learn nothing from the rows
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import Normalizer, LabelEncoder\n"
        "def f(X, y):\n    X = Normalizer().fit_transform(X)\n    y = LabelEncoder().fit_transform(y)\n"
        "    return train_test_split(X, y)\n",
        # the fit and the split are in different functions
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\n"
        "def prep(X):\n    return StandardScaler().fit_transform(X)\ndef split(X, y):\n    return train_test_split(X, y)\n",
        # a local class of the same name is not sklearn's
        "from sklearn.model_selection import train_test_split\nclass StandardScaler:\n    pass\n"
        "def f(X, y):\n    X = StandardScaler().fit_transform(X)\n    return train_test_split(X, y)\n",
    ]
    INVALID = [
        Invalid("from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\n"
                "def f(X, y):\n    scaler = StandardScaler()\n    X_scaled = scaler.fit_transform(X)\n"
                "    return train_test_split(X_scaled, y, test_size=0.2)\n",
                line=5, column=16, confidence="high", message_contains="at line 6"),
        Invalid("import sklearn.model_selection as ms\nfrom sklearn import preprocessing\n"
                "scaler = preprocessing.MinMaxScaler()\nscaler.fit(X)\nX2 = scaler.transform(X)\n"
                "X_train, X_test = ms.train_test_split(X2)\n", line=4, message_contains="MinMaxScaler.fit"),
        Invalid("from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import train_test_split as tts\n"
                "def f(X, y):\n    X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)\n"
                "    Xr = X_res\n    return tts(Xr, y_res, stratify=y_res)\n", line=4, message_contains="SMOTE"),
        Invalid("from sklearn.feature_selection import SelectKBest, chi2\nfrom sklearn.model_selection import train_test_split\n"
                "import pandas as pd\nX_new = pd.DataFrame(SelectKBest(chi2, k=20).fit_transform(X, y))\n"
                "a, b, c, d = train_test_split(X_new.values, y)\n", line=4, message_contains="SelectKBest"),
        Invalid("from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
                "def f(df, cols):\n    df[cols] = StandardScaler().fit_transform(df[cols])\n"
                "    return train_test_split(df[cols], df['y'])\n", line=4, confidence="medium"),
        Invalid("from sklearn.feature_extraction.text import TfidfVectorizer\nfrom sklearn.model_selection import train_test_split\n"
                "def f(texts, y):\n    return train_test_split(TfidfVectorizer().fit_transform(texts), y)\n",
                line=4, message_contains="TfidfVectorizer.fit_transform"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.know = Leakage.from_knowledge(ctx.knowledge)
        self.scopes = [_Scope()]
        self._reported: set[int] = set()
        self.lines = Lines()

    def visit_Module(self, node: cst.Module) -> None:
        if not self.ctx.path.endswith(".ipynb"):  # a notebook's joined lines would mislead
            self.lines.module = node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(_Scope())

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.scopes[-1]
        hit = fitted_class(node, self.ctx.names, self.know, scope.objects)
        if hit is None:
            return
        arg = node.args[0]
        if arg.star:
            return
        fit = _Fit(node, hit[0], hit[1], " ".join(self.ctx.code_for(arg.value).split()))
        scope.fits[id(node)] = fit  # its result carries the fit even when its data has no name
        key = data_key(arg.value) if arg.keyword is None else None
        if key is not None:
            scope.tainted[key[0]] = (fit, key[1])
        func = node.func
        if isinstance(func, cst.Attribute) and (name := dotted(func.value)) is not None:
            scope.fitted[name] = fit

    def leave_Call(self, node: cst.Call) -> None:
        if self.ctx.names.call_name(node) not in self.know.splitters:
            return
        for arg in node.args:
            if arg.keyword is not None:
                continue
            found = self._taint(arg.value)
            if found is not None and id(found[0].call) not in self._reported:
                self._reported.add(id(found[0].call))
                self._report(found[0], found[1], node)

    def leave_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            target, value = t.target, node.value
            if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
                    and len(target.elements) == len(value.elements) \
                    and not any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
                for te, ve in zip(target.elements, value.elements, strict=True):  # `X, y = a[:, :-1], a[:, -1]`
                    self._bind(te.value, ve.value)
            else:
                self._bind(target, value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        scope = self.scopes[-1]
        keys = _target_keys(target)
        q = self.ctx.names.call_name(value)
        fit = scope.fits.get(id(value))
        fit_obj = fit if fit is not None and fit.method == "fit" else None
        found = self._taint(value)
        for key, exact in keys:
            scope.objects.pop(key, None)
            scope.fitted.pop(key, None)
            if exact:
                scope.tainted.pop(key, None)
            if q is not None and self.know.is_transformer(q):
                scope.objects[key] = q
            elif fit_obj is not None:  # `scaler = StandardScaler().fit(X)` binds the fitted object
                scope.objects[key] = fit_obj.cls
                scope.fitted[key] = fit_obj
            elif found is not None:
                scope.tainted[key] = (found[0], found[1] and exact)

    def _taint(self, expr: cst.BaseExpression) -> tuple[_Fit, bool] | None:
        """The fit whose data ``expr`` is (and whether exactly), following simple wrappers."""
        scope, exact = self.scopes[-1], True
        while True:
            if isinstance(expr, cst.Call):
                fit = scope.fits.get(id(expr))
                if fit is not None and fit.method != "fit":
                    return fit, exact
                func = expr.func
                if isinstance(func, cst.Attribute) and func.attr.value == "transform":
                    name = dotted(func.value)
                    return (scope.fitted[name], exact) if name in scope.fitted else None
                if isinstance(func, cst.Attribute) and func.attr.value in ("copy", "to_numpy", "toarray"):
                    expr = func.value
                    continue
                if expr.args and self.ctx.names.call_name(expr) in self.know.wrappers:
                    expr = expr.args[0].value
                    continue
                return None
            if isinstance(expr, cst.Attribute) and expr.attr.value == "values":
                expr = expr.value
                continue
            if isinstance(expr, cst.Subscript):
                expr, exact = expr.value, False
                continue
            name = dotted(expr)
            hit = scope.tainted.get(name) if name is not None else None
            return (hit[0], hit[1] and exact) if hit is not None else None

    def _report(self, fit: _Fit, exact: bool, split: cst.Call) -> None:
        where = self.lines.line(split)
        at = f" at line {where}" if where else " later"
        split_name = " ".join(self.ctx.code_for(split.func).split())
        self.report(
            fit.call,
            f"`{short(fit.cls)}.{fit.method}({fit.data})` is fitted before `{split_name}`{at} splits the same "
            "data into train and test: statistics of the test rows leak into training.",
            confidence=None if exact else Confidence.MEDIUM)

def _target_keys(target: cst.BaseExpression) -> list[tuple[str, bool]]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [k for e in target.elements for k in _target_keys(e.value)]
    key = data_key(target)
    return [key] if key is not None else []
