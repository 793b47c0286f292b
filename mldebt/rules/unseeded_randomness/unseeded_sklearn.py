from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.unseeded_randomness._common import (
    RandomnessKnowledge,
    has_star_kwargs,
    is_true,
    keyword,
)

_ARRAY_FUNCTIONS = frozenset({"train_test_split", "shuffle", "resample"})  # take *arrays positionally
_SPLITTERS_WITH_POSITIONAL_SHUFFLE = frozenset({"KFold", "StratifiedKFold"})  # KFold(5, True, 0) in old code

_SEEDABLE_INIT = frozenset({"KMeans", "MiniBatchKMeans"})  # init= an array is deterministic


class UnseededSklearn(Rule):
    """
    ## What it does
    Flags a scikit-learn splitter or estimator that draws randomness, called without
    `random_state`: `train_test_split(X, y)` (it shuffles unless `shuffle=False`),
    `KFold(shuffle=True)` / `StratifiedKFold(shuffle=True)`, `ShuffleSplit`,
    `StratifiedShuffleSplit`, `RepeatedKFold`, `RandomizedSearchCV`, random forests, extra
    trees, gradient boosting, bagging, `IsolationForest`, `MLPClassifier`, `SGDClassifier`,
    `KMeans`, `TSNE`, `GaussianMixture`, `sklearn.utils.shuffle` and `resample`. Names are
    resolved through imports (`from sklearn.model_selection import train_test_split as tts`).

    Not flagged: a call that passes `random_state` (any value, also a variable or `None`
    written out), a call with `**kwargs` (the seed may be in there), `KFold` without
    `shuffle=True` (it does not shuffle), `KMeans(init=centers)` (a given start),
    `train_test_split(..., shuffle=False)`, estimators
    that are deterministic (`LogisticRegression`, `LinearRegression`, ...), and calls whose
    arguments are passed positionally past the point where the seed could be. Test files are
    skipped by default. The list of callables is the `randomness.sklearn` knowledge entry.

    ## Why is this bad?
    Without a seed every run splits the data differently and fits a different model, so a
    metric change between two runs mixes the effect of a code change with sampling noise,
    and a reported result cannot be reproduced.

    ## Example
    ```python
    from sklearn.model_selection import train_test_split
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    ```

    ## Use instead
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=config.seed)
    ```

    ## Options
    None.

    ## References
    - scikit-learn, "Controlling randomness": https://scikit-learn.org/stable/common_pitfalls.html#controlling-randomness
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015.
    - Catalog: `rules/unseeded-randomness.yaml` (knowledge key `randomness`).
    """

    VALID = [
        "from sklearn.model_selection import train_test_split\n"
        "a, b = train_test_split(X, test_size=0.2, random_state=42)\n",
        "from sklearn.model_selection import train_test_split\n"
        "def f(X, seed):\n    return train_test_split(X, random_state=seed)\n",
        "from sklearn.model_selection import train_test_split\na, b = train_test_split(X, shuffle=False)\n",
        "from sklearn.model_selection import KFold, StratifiedKFold\ncv = KFold(5)\ncv2 = StratifiedKFold(n_splits=5, shuffle=False)\n",
        "from sklearn.ensemble import RandomForestClassifier\n"
        "def f(params):\n    return RandomForestClassifier(**params)\n",
        "from sklearn.linear_model import LogisticRegression, LinearRegression\n"
        "m = LogisticRegression(C=1.0)\nr = LinearRegression()\n",
        "from mylib import train_test_split, KMeans\na, b = train_test_split(X)\nk = KMeans(3)\n",
        "from sklearn.model_selection import KFold\ncv = KFold(5, True, 0)\n",
        "from sklearn.cluster import KMeans\nkm = KMeans(n_clusters=3, init=centers, n_init=1)\n",
        "import torch\nfrom torch.utils.data import random_split\ndef shuffle(x):\n    return x\nshuffle([1, 2])\n",
    ]
    INVALID = [
        Invalid("from sklearn.model_selection import train_test_split\n"
                "X_tr, X_te = train_test_split(X, test_size=0.2)\n", line=2, column=14,
                message_contains="train_test_split"),
        Invalid("from sklearn.model_selection import train_test_split as tts\n"
                "def split(df):\n    return tts(df, stratify=df.y)\n", line=3, message_contains="shuffles"),
        Invalid("import sklearn.model_selection as ms\ncv = ms.StratifiedKFold(n_splits=5, shuffle=True)\n",
                line=2, message_contains="StratifiedKFold"),
        Invalid("from sklearn.ensemble import RandomForestClassifier\nfrom sklearn.cluster import KMeans\n"
                "clf = RandomForestClassifier(n_estimators=100, random_state=0)\nkm = KMeans(n_clusters=8)\n",
                line=4, message_contains="KMeans"),
        Invalid("import sklearn\ncv = sklearn.model_selection.ShuffleSplit(n_splits=3, test_size=0.25)\n", line=2),
        Invalid("from sklearn.utils import shuffle\nX, y = shuffle(X, y)\n", line=2),
        Invalid("from sklearn.neural_network import MLPClassifier\n"
                "def build(hidden):\n    return MLPClassifier(hidden_layer_sizes=hidden, max_iter=200)\n", line=3),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = RandomnessKnowledge.of(ctx.knowledge)

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        if q is None or not q.startswith("sklearn."):
            return
        name = q.rpartition(".")[2]
        mode = self.k.sklearn.get(name)
        if mode is None or keyword(node, "random_state") is not None or has_star_kwargs(node):
            return
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if any(a.star == "*" for a in node.args) and name not in _ARRAY_FUNCTIONS:
            return  # `KFold(*args)`: unknown
        init = keyword(node, "init")
        if name in _SEEDABLE_INIT and init is not None and not isinstance(init.value, cst.SimpleString):
            return  # `KMeans(init=centers)`: deterministic start
        shuffle_arg = keyword(node, "shuffle")
        shuffle = shuffle_arg.value if shuffle_arg is not None else None
        if name in _SPLITTERS_WITH_POSITIONAL_SHUFFLE:
            if len(positional) >= 3:
                return  # `KFold(5, True, 0)`: the seed is the third argument
            if shuffle is None and len(positional) == 2:
                shuffle = positional[1].value
        elif name not in _ARRAY_FUNCTIONS and len(positional) >= 3:
            return  # old positional style: the seed may be among them
        if mode == "shuffle-default-true":
            if shuffle is not None and not is_true(shuffle):
                return  # `shuffle=False`, or a value we cannot read
            what = f"`{name}()` shuffles the data"
        elif mode == "shuffle-default-false":
            if shuffle is None or not is_true(shuffle):
                return
            what = f"`{name}(shuffle=True)` shuffles the data"
        else:
            what = f"`{name}()` draws random numbers"
        self.report(node, f"{what} without `random_state` (`{q}`): every run gives a different "
                          "result. Pass a named seed.")
