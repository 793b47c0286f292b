from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.data_leakage._common import Leakage, data_key, fitted_class, short


class FitOnTestData(Rule):
    """
    ## What it does
    Flags `fit`, `fit_transform` or `fit_resample` of a transformer, feature selector or
    resampler (the classes of the `leakage` knowledge in `rules/data-leakage.yaml`, resolved
    through imports) called on a variable named like test or validation data: `X_test`,
    `x_val`, `test_X`, `test_df`, `df_valid`. The evidence is the name only, so findings are
    low confidence. Not flagged: `transform(X_test)`; a model's or a Pipeline's fit; training
    data; stateless transformers and label encoders.

    ## Why is this bad?
    Refitting a scaler, vocabulary or feature selector on the test data makes the test
    features use statistics the model never saw in training, and lets the test set shape the
    preprocessing: the evaluation no longer measures the deployed pipeline (data leakage,
    Sculley et al. 2015, section 3). Resampling test data changes the class balance the
    score is measured on.

    ## Example
    ```python
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.fit_transform(X_test)
    ```

    ## Use instead
    ```python
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.transform(X_test)
    ```

    ## Options
    None.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015, §3.
    - Catalog: `rules/data-leakage.yaml`.
    """

    VALID = [
        "from sklearn.preprocessing import StandardScaler\ndef f(X_train, X_test):\n    s = StandardScaler()\n"
        "    return s.fit_transform(X_train), s.transform(X_test)\n",
        "from sklearn.linear_model import LogisticRegression\ndef f(X_test, y_test):\n"
        "    return LogisticRegression().fit(X_test, y_test)\n",
        "from sklearn.preprocessing import LabelEncoder\ndef f(y_test):\n    return LabelEncoder().fit_transform(y_test)\n",
        "def f(scaler, X_test):\n    return scaler.fit_transform(X_test)\n",  # unknown class: not judged
        "from sklearn.preprocessing import StandardScaler\ndef f(X_test, latest_df):\n"
        "    s = StandardScaler()\n    s = make_model()\n    return s.fit(X_test), StandardScaler().fit(latest_df)\n",
    ]
    INVALID = [
        Invalid("from sklearn.preprocessing import StandardScaler\ndef f(X_train, X_test):\n    scaler = StandardScaler()\n"
                "    X_train = scaler.fit_transform(X_train)\n    X_test = scaler.fit_transform(X_test)\n",
                line=5, column=14, confidence="low", message_contains="`X_test`"),
        Invalid("from sklearn.feature_extraction.text import TfidfVectorizer\n"
                "vec = TfidfVectorizer().fit(train_df.text)\nXt = vec.fit_transform(test_df['text'])\n",
                line=3, message_contains="TfidfVectorizer.fit_transform"),
        Invalid("from imblearn.under_sampling import RandomUnderSampler as RUS\n"
                "def f(x_val, y_val):\n    return RUS().fit_resample(x_val, y_val)\n", line=3),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.know = Leakage.from_knowledge(ctx.knowledge)
        self.scopes: list[dict[str, str]] = [{}]  # per function: name -> transformer class

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def leave_Assign(self, node: cst.Assign) -> None:
        objects, value = self.scopes[-1], node.value
        q = self.ctx.names.call_name(value)
        if not self.know.is_transformer(q) and isinstance(value, cst.Call):
            hit = fitted_class(value, self.ctx.names, self.know, objects)  # `s = Scaler().fit(X)`
            q = hit[0] if hit is not None and hit[1] == "fit" else None
        for t in node.targets:
            if isinstance(t.target, (cst.Name, cst.Attribute)) and (key := data_key(t.target)) is not None:
                objects.pop(key[0], None)
                if q is not None:
                    objects[key[0]] = q

    def visit_Call(self, node: cst.Call) -> None:
        hit = fitted_class(node, self.ctx.names, self.know, self.scopes[-1])
        if hit is None:
            return
        arg = node.args[0]
        key = data_key(arg.value) if arg.keyword is None and not arg.star else None
        if key is None or not self.know.test_names.match(key[0].rpartition(".")[2]):
            return
        self.report(node, f"`{short(hit[0])}.{hit[1]}` is fitted on `{key[0]}`, named like test or validation "
                          "data: the test set shapes the preprocessing the model is evaluated with.")
