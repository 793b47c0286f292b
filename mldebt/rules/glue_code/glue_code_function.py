from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mldebt.rules.base import FileContext, Invalid, Sink
from mldebt.rules.glue_code._common import TracksGlue, Unit, code_list, packages_text


class GlueCodeFunction(TracksGlue):
    """
    ## What it does
    Flags a function whose statements mostly convert data from one format to another —
    `.values`, `.to_numpy()`, `.tolist()`, `.numpy()`, `np.array(...)`, `pd.DataFrame(...)`,
    `torch.tensor(...)`, `xgb.DMatrix(...)`, JSON round trips, row-by-row loops over a
    DataFrame — around the few ML calls they serve (`fit`, `predict`, `transform`,
    `forward`, `compile`, a model call, `xgboost.train`). The message gives the share of
    statements that convert, the packages the conversions involve, and the ML calls.

    Statements are counted, not nodes: each simple statement and the header of each
    `if`/`for`/`while`/`with`; docstrings, `pass`, imports and nested functions are left
    out. A statement that calls an ML API counts as an ML statement even when it converts
    its arguments. A conversion counts only with evidence of what it converts: a call
    resolved through imports (`onp.asarray`, `from torch import tensor`), or a receiver
    followed to a value of the right package (bound from a pandas call, annotated
    `pd.DataFrame`, reached through `.cpu()`/`.detach()`, named `df` in a file that
    imports pandas); `.values` on a dict or an unknown object never counts. A call whose
    first argument is a literal (`np.array([0.5, 0.5])`) creates data and is not counted.

    Not flagged: functions with no ML call (data loaders, `collate_fn`s and converters
    that build tensors are what an interface looks like); methods of a class that
    implement an estimator or model interface (`fit`, `predict`, `transform`, `forward`,
    `__call__`, ...: the `interface_methods` knowledge), because such an adapter is the
    cure; test files (by default).

    The finding is reported on the line of the `def` keyword (for a decorated function,
    the `def` line, not the decorator).

    ## Why is this bad?
    Sculley et al. observe that a system built around general-purpose ML packages often
    ends up with "a massive amount of supporting code ... written to get data into and out
    of" them. Each hand-written conversion fixes a column order, a dtype or a shape in
    one more place; they drift apart, and the system is frozen to the package's quirks,
    so trying another package costs a rewrite.

    ## Example
    ```python
    def train_ranker(interactions: pd.DataFrame, user_emb: torch.Tensor):
        users = interactions["user_id"].values
        feats = user_emb[torch.tensor(users)].detach().cpu().numpy()
        X = np.hstack([feats, interactions[FEATURES].to_numpy()])
        y = interactions["clicked"].values.astype("float32")
        groups = interactions.groupby("user_id").size().tolist()
        dtrain = xgb.DMatrix(X, label=y)
        dtrain.set_group(groups)
        return xgb.train(PARAMS, dtrain)
    ```

    ## Use instead
    ```python
    class RankerModel:  # one interface: the only place that knows xgboost's formats
        def fit(self, frame: InteractionFrame) -> "RankerModel": ...
        def predict(self, frame: InteractionFrame) -> pd.Series: ...
    ```

    ## Options
    - `min-conversions` (int, default `5`): fewest conversion statements to report.
    - `min-ratio` (float, default `0.5`): smallest share of the function's statements that
      convert data formats.
    - `min-packages` (int, default `2`): fewest distinct packages the conversions involve
      (Python lists and dicts do not count).

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §3 "Glue Code".
    - Catalog: `rules/glue-code.yaml` (the `glue` knowledge lists conversions and ML calls).
    """

    VALID = [
        # `.values` of a dict (no pandas), `.tolist()` of a list-like of unknown origin
        "def f(model, d, xs):\n    a = list(d.values())\n    b = d.values\n    c = xs.tolist()\n"
        "    e = xs.values\n    g = sorted(b)\n    return model.fit(a, b, c, e, g)\n",
        # one conversion before `fit` is not glue
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "def train(df: pd.DataFrame):\n    X = df[['a', 'b']].values\n    y = df['y'].values\n"
        "    clf = LogisticRegression(max_iter=200)\n    clf.fit(X, y)\n    return clf\n",
        # a model class's forward: reshaping is computation, not format conversion
        "import torch\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        x = x.view(x.size(0), -1)\n"
        "        h = torch.relu(self.fc1(x))\n        return self.fc2(h).squeeze(-1)\n",
        # a data loader legitimately builds tensors (no ML call)
        "import numpy as np\nimport pandas as pd\nimport torch\n"
        "class Ratings(torch.utils.data.Dataset):\n    def __init__(self, df: pd.DataFrame):\n"
        "        self.users = torch.tensor(df['user'].values)\n        self.items = torch.tensor(df['item'].values)\n"
        "        self.y = torch.tensor(df['rating'].to_numpy(), dtype=torch.float32)\n"
        "        self.w = torch.from_numpy(np.asarray(df['weight']))\n"
        "        self.t = torch.tensor(df['ts'].values)\n"
        "    def __getitem__(self, i):\n        return self.users[i], self.items[i], self.y[i]\n",
        # literals create data; they convert nothing
        "import numpy as np\nimport torch\ndef f(model):\n    a = np.array([1, 2, 3])\n"
        "    b = torch.tensor([0.5, 0.5])\n    c = torch.tensor(0.0)\n    d = np.asarray((1, 2))\n"
        "    e = np.array([[1.0, 0.0], [0.0, 1.0]])\n    return model.predict(a, b, c, d, e)\n",
        # an adapter's `predict` is the cure: conversions in one place
        "import numpy as np\nimport pandas as pd\nimport torch\nclass Scorer:\n    def predict(self, df: pd.DataFrame):\n"
        "        x = torch.tensor(df[self.cols].to_numpy(), dtype=torch.float32)\n"
        "        u = torch.tensor(df['user'].values)\n        out = self.net(x, u)\n"
        "        p = out.detach().cpu().numpy()\n        s = pd.Series(p.ravel(), index=df.index)\n"
        "        return pd.DataFrame({'score': s, 'rank': s.rank().to_numpy()})\n",
        # conversions that stay inside one package plus Python lists
        "import torch\ndef f(model, batch):\n    out = model(batch)\n    a = out.logits.detach().cpu().tolist()\n"
        "    b = out.labels.cpu().tolist()\n    c = out.mask.cpu().tolist()\n    d = out.ids.cpu().tolist()\n"
        "    e = out.extra.cpu().tolist()\n    return a, b, c, d, e\n",
    ]
    INVALID = [
        Invalid(
            "import numpy as np\nimport pandas as pd\nimport torch\n\n"
            "def score_users(model, df):\n"
            "    users = df['user_id'].values\n"
            "    items = df['item_id'].to_numpy()\n"
            "    u = torch.tensor(users)\n"
            "    i = torch.tensor(items)\n"
            "    preds = model(u, i)\n"
            "    scores = preds.detach().cpu().numpy()\n"
            "    out = pd.DataFrame({'user': users, 'score': scores})\n"
            "    return out\n",
            line=5, message_contains="6 of its 8 statements",
        ),
        Invalid(  # aliases, `from torch import tensor`, a decorator, values passed through variables
            "import functools\nimport numpy as onp\nimport pandas\nfrom torch import tensor\n\n"
            "@functools.lru_cache(maxsize=1)\n"
            "def embed(encoder, frame: pandas.DataFrame):\n"
            "    cols = frame[['a', 'b', 'c']]\n"
            "    arr = onp.asarray(cols)\n"
            "    t = tensor(arr)\n"
            "    emb = encoder(t)\n"
            "    host = emb.cpu()\n"
            "    result = host.numpy()\n"
            "    listed = result.tolist()\n"
            "    return pandas.Series(listed)\n",
            line=7, message_contains="pandas, numpy and torch",
        ),
        Invalid(  # row-by-row reshaping around an xgboost call
            "import pandas as pd\nimport xgboost as xgb\n\n"
            "def rank(booster, df):\n"
            "    rows, keys = [], []\n"
            "    for _, r in df.iterrows():\n"
            "        rows.append([r.age, r.clicks])\n"
            "        keys.append(r.user_id)\n"
            "    dm = xgb.DMatrix(rows)\n"
            "    pred = booster.predict(dm)\n"
            "    return pd.Series(pred).to_dict()\n",
            line=4, message_contains="5 of its 7 statements (71%) converting data between pandas and xgboost",
        ),
        Invalid(  # a method that is not an interface method
            "import numpy as np\nimport torch\n\nclass Pipeline:\n"
            "    def run_batch(self, batch):\n"
            "        x = torch.from_numpy(np.asarray(batch['x']))\n"
            "        y = torch.as_tensor(batch['y'])\n"
            "        logits = self.model(x)\n"
            "        probs = logits.softmax(-1).detach().numpy()\n"
            "        labels = np.asarray(y).tolist()\n"
            "        return probs.tolist(), labels\n",
            line=5, message_contains="around 1 ML call",
        ),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self._min_conversions = int(options.get("min-conversions", 5))
        self._min_ratio = float(options.get("min-ratio", 0.5))
        self._min_packages = int(options.get("min-packages", 2))

    def judge_function(self, unit: Unit) -> None:
        if unit.node is None or not unit.ml or unit.interface:
            return
        if (unit.conversions < self._min_conversions or unit.ratio < self._min_ratio
                or len(unit.packages) < self._min_packages):
            return
        calls = "ML call" if unit.ml == 1 else "ML calls"
        self.report(
            unit.node.name,
            f"`{unit.name}` spends {unit.conversions} of its {unit.statements} statements "
            f"({unit.ratio:.0%}) converting data between {packages_text(unit.packages)} "
            f"({code_list(unit.spellings)}) around {unit.ml} {calls} ({code_list(unit.ml_names)}). "
            "Glue code: wrap the package behind one interface so the conversions live in one place.",
        )

