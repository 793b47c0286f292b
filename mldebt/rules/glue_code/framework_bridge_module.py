from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mldebt.rules.base import FileContext, Invalid, Sink, Valid
from mldebt.rules.glue_code._common import TracksGlue, code_list, packages_text


class FrameworkBridgeModule(TracksGlue):
    """
    ## What it does
    Flags a module that moves data between two or more ML frameworks (torch, TensorFlow,
    JAX, scikit-learn, XGBoost, LightGBM, CatBoost, ...) by format conversions spread over
    its code: many statements that convert data (`.numpy()`, `torch.tensor(...)`,
    `xgb.DMatrix(...)`, `.values`, ...; counted as in `glue-code-function`), in several
    functions that also call an ML API. A framework counts as bridged when the module
    imports it and converts data into or out of its types, or calls it from a function
    that converts data. The message names the frameworks, the number and share of
    conversion statements and the functions they sit in.

    Not flagged: a module that converts a lot but uses one framework (a torch training
    loop with its `.numpy()` calls); a module that imports two frameworks but converts
    little; the module's own package (scikit-learn's code importing `sklearn`); conversions
    inside the interface methods of adapter classes (`fit`, `predict`, `transform`,
    `forward`, ...), which are the cure. Test files are skipped by default.

    The finding is reported on the line of the first import of one of the bridged
    frameworks.

    ## Why is this bad?
    When two general-purpose packages meet through hand-written conversions scattered over
    a module, every function depends on both packages' data formats, and replacing either
    one means rewriting all of them. Sculley et al. recommend wrapping black-box packages
    into common APIs, so that the rest of the system sees one interface.

    ## Example
    ```python
    import numpy as np
    import pandas as pd
    import torch
    import xgboost as xgb

    def embed(tower, df):
        ids = torch.tensor(df["user_idx"].values)
        vectors = tower(ids)
        return vectors.detach().cpu().numpy()

    def train(tower, df):
        X = np.hstack([embed(tower, df), df[FEATURES].to_numpy()])
        dtrain = xgb.DMatrix(X, label=df["label"].values)
        return xgb.train(PARAMS, dtrain)

    def score(tower, booster, df):
        dtest = xgb.DMatrix(np.hstack([embed(tower, df), df[FEATURES].to_numpy()]))
        scores = booster.predict(dtest)
        return pd.Series(torch.from_numpy(scores).tolist(), index=df.index)
    ```

    ## Use instead
    ```python
    class Embedder:  # the only place that knows torch's formats
        def transform(self, df: pd.DataFrame) -> pd.DataFrame: ...

    class Ranker:  # the only place that knows xgboost's formats
        def fit(self, features: pd.DataFrame, labels: pd.Series) -> "Ranker": ...
        def predict(self, features: pd.DataFrame) -> pd.Series: ...
    ```

    ## Options
    - `min-conversions` (int, default `10`): fewest conversion statements in the module.
    - `min-frameworks` (int, default `2`): fewest ML frameworks bridged.
    - `min-functions` (int, default `3`): fewest functions (or the top level) that both
      convert data and call an ML API.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §3 "Glue Code".
    - Catalog: `rules/glue-code.yaml` (the `glue` knowledge lists the ML frameworks).
    """

    VALID = [
        # one framework, however much it converts
        "import numpy as np\nimport torch\n"
        "def a(model, x):\n    y = model(torch.tensor(x))\n    return y.numpy()\n"
        "def b(model, x):\n    t = torch.from_numpy(np.asarray(x))\n    o = model(t)\n    return o.numpy().tolist()\n"
        "def c(model, x):\n    t = torch.as_tensor(np.asarray(x))\n    o = model(t)\n    return o.detach().numpy()\n",
        # two frameworks imported, little conversion
        "import torch\nfrom sklearn.metrics import roc_auc_score\n"
        "def evaluate(model, x, y):\n    p = model(x).sigmoid().detach().numpy()\n    return roc_auc_score(y, p)\n",
        # the module's own package is not a framework it bridges
        Valid(files={"sklearn/__init__.py": "", "sklearn/glue.py":
                     "import numpy as np\nimport torch\nfrom sklearn.linear_model import Ridge\n"
                     "def a(model, x):\n    t = torch.tensor(np.asarray(x))\n    return Ridge().fit(t.numpy(), x)\n"
                     "def b(model, x):\n    t = torch.tensor(np.asarray(x))\n    return Ridge().fit(t.numpy(), x)\n"
                     "def c(model, x):\n    t = torch.tensor(np.asarray(x))\n    return Ridge().fit(t.numpy(), x)\n"},
              options={"min-conversions": 3}),
        # adapters: each framework behind fit/predict, conversions inside the interface methods
        Valid("import numpy as np\nimport pandas as pd\nimport torch\nimport xgboost as xgb\n"
              "class Embedder:\n    def transform(self, df):\n        t = torch.tensor(df['user'].values)\n"
              "        return self.net(t).detach().numpy()\n"
              "    def predict(self, df):\n        t = torch.tensor(df['user'].to_numpy())\n"
              "        return pd.Series(self.net(t).detach().numpy().tolist())\n"
              "class Ranker:\n    def fit(self, X, df):\n"
              "        self.b = xgb.train({}, xgb.DMatrix(np.asarray(X), df['y'].values))\n"
              "        return self\n    def predict(self, X, df):\n        d = xgb.DMatrix(np.asarray(X))\n"
              "        return pd.Series(self.b.predict(d), index=df.index).to_dict()\n",
              options={"min-conversions": 3, "min-functions": 1}),
    ]
    INVALID = [
        Invalid(
            "import numpy as np\n"
            "import pandas as pd\n"
            "import xgboost as xgb\n"
            "import torch\n\n"
            "def embed(user_model, df):\n"
            "    ids = torch.tensor(df['user'].values)\n"
            "    emb = user_model(ids)\n"
            "    return emb.detach().numpy()\n\n"
            "def train(tower, df, params):\n"
            "    X = np.hstack([embed(tower, df), df[['age', 'clicks']].to_numpy()])\n"
            "    y = df['label'].values\n"
            "    dm = xgb.DMatrix(X, label=y)\n"
            "    return xgb.train(params, dm)\n\n"
            "def score(tower, booster, df):\n"
            "    X = np.hstack([embed(tower, df), df[['age', 'clicks']].to_numpy()])\n"
            "    dm = xgb.DMatrix(X)\n"
            "    p = booster.predict(dm)\n"
            "    out = torch.from_numpy(p)\n"
            "    return pd.Series(out.tolist(), index=df.index)\n",
            line=3, message_contains="xgboost and torch", options={"min-conversions": 6},
        ),
        Invalid(  # `from torch import ...` is the first bridged import
            "import pandas as pd\n"
            "from torch import as_tensor\n"
            "from sklearn.linear_model import LogisticRegression\n\n"
            "def fit_probe(encoder, df):\n"
            "    x = as_tensor(df[['a', 'b']].to_numpy())\n"
            "    feats = encoder(x).detach().numpy()\n"
            "    y = df['y'].values\n"
            "    return LogisticRegression().fit(feats, y)\n\n"
            "def probe(encoder, clf, df):\n"
            "    x = as_tensor(df[['a', 'b']].to_numpy())\n"
            "    feats = encoder(x).detach().numpy()\n"
            "    p = clf.predict_proba(feats)\n"
            "    return pd.DataFrame(p).to_dict()\n\n"
            "def sweep(encoder, clf, df):\n"
            "    x = as_tensor(df[['a', 'b']].values)\n"
            "    feats = encoder(x).detach().numpy()\n"
            "    return clf.score(feats, df['y'].to_numpy())\n",
            line=2, message_contains="torch and scikit-learn", options={"min-conversions": 5},
        ),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self._min_conversions = int(options.get("min-conversions", 10))
        self._min_frameworks = int(options.get("min-frameworks", 2))
        self._min_functions = int(options.get("min-functions", 3))

    def finish(self) -> None:
        g = self.glue
        units = [u for u in (g.module_unit, *g.closed) if not u.interface]  # adapters are the cure
        conversions = sum(u.conversions for u in units)
        if conversions < self._min_conversions:
            return
        glue_units = [u for u in units if u.conversions and u.ml]
        if len(glue_units) < self._min_functions:
            return
        touched: dict[str, None] = {}
        for u in units:
            touched.update(u.frameworks)
        for u in glue_units:
            touched.update(u.ml_frameworks)
        bridged = [label for label in g.imports if label in touched and label in g.k.frameworks]
        if len(bridged) < self._min_frameworks:
            return
        statements = sum(u.statements for u in units)
        packages: dict[str, None] = {}
        for u in units:
            packages.update(u.packages)
        names = [u.name if u.node is not None else "the top level" for u in glue_units]
        self.report(
            g.imports[bridged[0]],
            f"This module moves data between {packages_text(bridged)}: {conversions} of its "
            f"{statements} statements ({conversions / statements:.0%}) convert data formats "
            f"({packages_text(packages)}) in {len(glue_units)} places that also call ML APIs "
            f"({code_list(names)}). Glue code bridging frameworks: put each framework behind one "
            "interface so data crosses a framework boundary in one place.",
        )
