from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import FileContext, Invalid, Rule, Sink, Valid
from mldebt.rules.data_leakage._encodings import derived_from_target, encoder_params, is_target_key
from mldebt.rules.names import dotted
from mldebt.rules.receivers import ReceiverTracker, TracksReceivers

# a target Series reduced to one number is the same on every row: no row's label leaks
_REDUCTIONS = frozenset({"mean", "sum", "median", "std", "var", "min", "max", "count", "nunique", "mode",
                         "value_counts", "unique", "quantile", "describe", "idxmax", "idxmin", "any", "all"})
# methods of a frame that return a frame with the same columns (or fewer)
_FRAME_METHODS = frozenset({"copy", "dropna", "fillna", "reset_index", "sort_values", "drop_duplicates",
                            "sample", "query", "merge", "join", "assign", "astype", "replace", "rename",
                            "set_index", "head", "tail", "iloc", "loc"})
_FRAME_BUILDERS = frozenset({"DataFrame", "concat", "merge", "get_dummies"})


@dataclass(slots=True)
class _Scope:
    frames: set[str] = field(default_factory=set)  # names bound to pandas DataFrames
    # frame, column, the columns it is computed from, its statement, its order
    derived: list[tuple[str, str, frozenset[str], cst.SimpleStatementLine, int]] = field(default_factory=list)
    y_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # y -> (frame, column)
    features: dict[str, tuple[str, str, frozenset[str], int]] = field(default_factory=dict)  # X -> frame, mode, cols, order
    # the second form: frame -> encodings of the target by name (statement, column, how)
    encoded: dict[str, list[tuple[cst.SimpleStatementLine, str, str]]] = field(default_factory=dict)


class TargetDerivedFeature(TracksReceivers, Rule):
    """
    ## What it does
    Flags a pandas column computed from the target column, on the whole frame, that is then
    kept among the model's features: a target (mean) encoding
    `df["city_rate"] = df.groupby("city")["churned"].transform("mean")`,
    `df["enc"] = df["city"].map(df.groupby("city")["churned"].mean())`, or arithmetic on the
    label `df["x"] = df["churned"] * 2`, followed by `X = df.drop(columns=["churned"])`
    (which keeps `city_rate`) and a split, cross-validation or fit of `X`.

    Conservative: the frame must come from pandas (`pd.read_csv(...)`, `pd.DataFrame(...)`,
    and frame methods of those); the target is known only when it is given as the `y` of
    `train_test_split`, a `fit` or a cross-validation (`y = df["churned"]`,
    `train_test_split(X, df["churned"])`); the features are known only as
    `df.drop(columns=[...])`/`df.drop([...], axis=1)` or `df[[...]]` of that frame. Not
    flagged: a derived column that is dropped too (or not selected); a target reduced to one
    number (`df["churned"].mean()`); re-encoding the target itself (`df["churned"] = ...`);
    a column derived after the features were taken. Columns derived from a derived column
    count. In the same function or script, source order.

    A second form (medium confidence) catches target encodings written by hand where the
    split is elsewhere: a column of a pandas frame computed from the target by name
    (`df[target]`, `df[settings.TARGET]`, `df["label"]`) as a group statistic
    (`df.groupby(k)[target].transform("mean")`, a same-file helper that groups the target it
    is given), or as a window that includes the row itself (`df[target].rolling(24).mean()`),
    in a function that returns that frame (a feature builder), or at the top level of a
    script or notebook that splits, fits or cross-validates. Not flagged there: frames named
    like training rows (`train_df`: an encoding learnt on the training rows), lags
    (`df[target].shift(168)`, past values known at prediction time), the target reduced to
    one number.

    ## Why is this bad?
    The feature carries each row's label (a mean over groups that include the row, a
    function of the label): the model learns to read the answer, scores very well in
    evaluation and fails on new data where the label is unknown (target leakage,
    Kaufman et al. 2012; Kapoor & Narayanan 2023).

    ## Example
    ```python
    df["city_rate"] = df.groupby("city")["churned"].transform("mean")
    X, y = df.drop(columns=["churned"]), df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    ```

    ## Use instead
    ```python
    X, y = df.drop(columns=["churned"]), df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    enc = TargetEncoder().fit(X_train[["city"]], y_train)  # learnt on the training rows only
    ```

    ## Options
    None.

    ## References
    - Kaufman, Rosset, Perlich, "Leakage in data mining", KDD 2011.
    - Kapoor & Narayanan, "Leakage and the reproducibility crisis in ML-based science", 2023.
    - Catalog: `rules/data-leakage.yaml`.
    """

    VALID = [
        # the derived column is dropped with the target
        "import pandas as pd\nfrom sklearn.model_selection import train_test_split\ndf = pd.read_csv('d.csv')\n"
        "df['rate'] = df.groupby('city')['churned'].transform('mean')\n"
        "X = df.drop(columns=['churned', 'rate'])\ny = df['churned']\na = train_test_split(X, y)\n",
        # a global rate is one number
        "import pandas as pd\nfrom sklearn.model_selection import train_test_split\ndf = pd.read_csv('d.csv')\n"
        "df['base'] = df['churned'].mean()\nX = df.drop(columns=['churned'])\na = train_test_split(X, df['churned'])\n",
        # re-encoding the target itself
        "import pandas as pd\nfrom sklearn.model_selection import train_test_split\ndf = pd.read_csv('d.csv')\n"
        "df['churned'] = df['churned'].map({'yes': 1, 'no': 0})\nX = df.drop('churned', axis=1)\n"
        "a = train_test_split(X, df['churned'])\n",
        # not the target: a derived feature of another column
        "import pandas as pd\nfrom sklearn.model_selection import train_test_split\ndf = pd.read_csv('d.csv')\n"
        "df['ratio'] = df['a'] / df['b']\nX = df.drop(columns=['churned'])\na = train_test_split(X, df['churned'])\n",
        # the target is not known: nothing is given as y
        "import pandas as pd\ndf = pd.read_csv('d.csv')\ndf['rate'] = df.groupby('city')['churned'].transform('mean')\n"
        "X = df.drop(columns=['churned'])\n",
        # not a pandas frame
        "from sklearn.model_selection import train_test_split\ndef f(df):\n"
        "    df['rate'] = df.groupby('city')['y'].transform('mean')\n"
        "    X = df.drop(columns=['y'])\n    return train_test_split(X, df['y'])\n",
        # second form look-alikes: a lag of the target; an encoding learnt on the training rows;
        # the frame is not returned; the target reduced to one number; no split or fit in the script
        "import pandas as pd\ndef add_lags(df: pd.DataFrame, target: str) -> pd.DataFrame:\n"
        "    df['lag_168'] = df[target].shift(168)\n    df['lag_roll'] = df[target].shift(1).rolling(24).mean()\n"
        "    df['base'] = df[target].mean()\n    return df\n",
        "import pandas as pd\ndef encode(train_df: pd.DataFrame, target: str) -> pd.DataFrame:\n"
        "    train_df['te'] = train_df.groupby('city')[target].transform('mean')\n    return train_df\n",
        "import pandas as pd\ndef report(df: pd.DataFrame, target: str) -> None:\n"
        "    df['rate'] = df.groupby('city')[target].transform('mean')\n    print(df['rate'].describe())\n",
        Valid("import pandas as pd\ndf = pd.read_csv('sales.csv')\n"
              "df['share'] = df.groupby('shop')['target'].transform('mean')\ndf.to_csv('report.csv')\n"),
    ]
    INVALID = [
        Invalid("import pandas as pd\nfrom sklearn.model_selection import train_test_split\n"
                "df = pd.read_csv('churn.csv')\n"
                "df['city_rate'] = df.groupby('city')['churned'].transform('mean')\n"
                "X = df.drop(columns=['churned'])\ny = df['churned']\n"
                "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n",
                line=4, column=1, message_contains="`city_rate`"),
        Invalid("import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
                "def train(path):\n    data = pd.read_parquet(path).dropna()\n"
                "    data['double'] = data['label'] * 2\n    data['flag'] = data['double'] > 3\n"
                "    feats = data.drop(['label', 'double'], axis=1)\n"
                "    return LogisticRegression().fit(feats, data['label'])\n",
                line=6, message_contains="`flag`"),
        # the second form: a feature builder encoding the target it is told about
        Invalid("import pandas as pd\n\ndef build_features(df: pd.DataFrame, target: str) -> pd.DataFrame:\n"
                "    df = df.copy()\n    df['city_rate'] = df.groupby('city')[target].transform('mean')\n"
                "    return df\n", line=5, message_contains="group statistic", confidence="medium"),
        Invalid("import pandas as pd\nimport settings\n\ndef encode(col, y):\n    return col.map(y.groupby(col).mean())\n\n"
                "def features(df: pd.DataFrame) -> pd.DataFrame:\n    out = pd.DataFrame(index=df.index)\n"
                "    out['region_te'] = encode(df['region'], df[settings.TARGET])\n    return out\n", line=9),
        Invalid("import pandas as pd\n\ndef add_features(df: pd.DataFrame, target: str) -> pd.DataFrame:\n"
                "    df['roll_24'] = df[target].rolling(24, center=True).mean()\n    return df\n", line=4),
        Invalid("import pandas as pd\nfrom sklearn.model_selection import cross_val_score\n"
                "df = pd.DataFrame(rows)\ndf['enc'] = df['shop'].map(df.groupby('shop')['sold'].mean())\n"
                "X = df[['shop_id', 'enc', 'price']]\ntarget = df['sold']\n"
                "print(cross_val_score(model, X, target))\n", line=4),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        k = ctx.knowledge.get("leakage", {}) or {}
        self.cv_functions = {q: int(i) for q, i in (k.get("cv_functions", {}) or {}).items()}
        self.splitters = frozenset(k.get("split_functions", ()))
        self.scopes = [_Scope()]
        self._count = 0
        self._line: cst.SimpleStatementLine | None = None
        self._reported: set[int] = set()
        self.constants: dict[str, str] = {}  # module-level NAME = "string"
        self.types = ReceiverTracker(ctx.names, ctx.knowledge)
        self.encoders: dict[str, frozenset[int]] = {}  # same-file functions that group a parameter
        self._fits = False  # the file splits, fits or cross-validates something

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        if "groupby" not in self.ctx.source:  # an encoder groups: most files need no look
            return
        for stmt in node.body:
            if isinstance(stmt, cst.FunctionDef) and (params := encoder_params(stmt)):
                self.encoders[stmt.name.value] = params

    def leave_Module(self, node: cst.Module) -> None:
        if self._fits:  # a script or notebook: top-level encodings of the target
            for frame, found in self.scopes[0].encoded.items():
                self._report_encoded(frame, found, "the script splits or fits")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.scopes.append(_Scope())

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        self.scopes.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._line = node

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is None or len(self.scopes) < 2:
            return
        for frame in _returned_frames(node.value):
            if frame in self.scopes[-1].encoded:
                self._report_encoded(frame, self.scopes[-1].encoded.pop(frame), "the function returns the frame")

    def _report_encoded(self, frame: str, found: list[tuple[cst.SimpleStatementLine, str, str]], why: str) -> None:
        for stmt, col, how in found:
            if id(stmt) in self._reported:
                continue
            self._reported.add(id(stmt))
            self.report(stmt, f"Column `{col}` of `{frame}` is computed from the target by {how}, on every row "
                              f"of the frame ({why}): each row's own label leaks into its features unless "
                              "this runs on training rows only. Learn the encoding on the training rows "
                              "(out of fold, e.g. sklearn's TargetEncoder inside the Pipeline) or lag it.",
                        confidence=Confidence.MEDIUM)

    def _note_encoding(self, target: cst.Subscript, value: cst.BaseExpression) -> None:
        """The second form: ``frame[col] = <target encoding by name>`` on a pandas frame."""
        frame = dotted(target.value)
        key = target.slice[0].slice.value if len(target.slice) == 1 and isinstance(
            target.slice[0].slice, cst.Index) else None
        if frame is None or key is None or is_target_key(key) or "train" in frame.lower() \
                or self._line is None:
            return
        info = self.types.type_of(target.value)
        if info is None or info.name != "pandas.DataFrame":
            return
        how = derived_from_target(value, self.encoders)
        if how is None:
            return
        col = _string(key, self.constants) or self.ctx.code_for(key)
        self.scopes[-1].encoded.setdefault(frame, []).append((self._line, col, how))

    # -- collecting ------------------------------------------------------------------
    def _frame(self, expr: cst.BaseExpression) -> str | None:
        """The pandas frame ``expr`` is (by the name it came from), or None."""
        scope = self.scopes[-1]
        while True:
            if isinstance(expr, cst.Call):
                q = self.ctx.names.call_name(expr)
                if q is not None:
                    name = q.rpartition(".")[2]
                    pandas = q.startswith("pandas.") and (name.startswith("read_") or name in _FRAME_BUILDERS)
                    return "<pandas>" if pandas else None
                if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _FRAME_METHODS:
                    expr = expr.func.value
                    continue
                return None
            if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute) \
                    and expr.value.attr.value in ("loc", "iloc"):
                expr = expr.value.value
                continue
            key = dotted(expr)
            return key if key is not None and key in scope.frames else None

    def leave_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Subscript):
            self._note_encoding(node.targets[0].target, node.value)
        super().leave_Assign(node)
        scope, value = self.scopes[-1], node.value
        self._count += 1
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if isinstance(target, cst.Name) and self.ctx.function is None and len(self.scopes) == 1:
            text = _string(value, {})
            if text is not None:
                self.constants[target.value] = text
            else:
                self.constants.pop(target.value, None)
        if isinstance(target, cst.Subscript):  # df["col"] = <expr of df>
            frame = dotted(target.value)
            col = _literal_key(target, self.constants)
            if frame is not None and frame in scope.frames and col is not None and self._line is not None:
                scope.derived.append((frame, col, _mentions(value, frame, self.constants), self._line, self._count))
            return
        key = dotted(target)
        if key is None:
            if isinstance(target, cst.Tuple) and isinstance(value, cst.Tuple) \
                    and len(target.elements) == len(value.elements):
                for t, v in zip(target.elements, value.elements, strict=True):
                    self._bind(dotted(t.value), v.value)
            return
        self._bind(key, value)

    def _bind(self, key: str | None, value: cst.BaseExpression) -> None:
        if key is None:
            return
        scope = self.scopes[-1]
        column = self._column(value)
        feats = self._features(value) if column is None else None
        is_frame = column is None and feats is None and self._frame(value) is not None
        scope.frames.discard(key)
        scope.y_names.pop(key, None)
        scope.features.pop(key, None)
        if column is not None:
            scope.y_names[key] = column
        elif feats is not None:
            scope.features[key] = (*feats, self._count)
        elif is_frame:
            scope.frames.add(key)

    def _column(self, expr: cst.BaseExpression) -> tuple[str, str] | None:
        """``df["y"]`` / ``df.pop("y")`` of a known frame: (frame, "y")."""
        scope = self.scopes[-1]
        if isinstance(expr, cst.Subscript):
            frame, col = dotted(expr.value), _literal_key(expr, self.constants)
            if frame in scope.frames and col is not None:
                return frame, col
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "pop" \
                and len(expr.args) == 1 and isinstance(expr.args[0].value, cst.SimpleString):
            name = dotted(expr.func.value)
            value = expr.args[0].value.evaluated_value
            if name is not None and name in scope.frames and isinstance(value, str):
                return name, value
        return None

    def _features(self, expr: cst.BaseExpression) -> tuple[str, str, frozenset[str]] | None:
        """``df.drop(columns=[...])`` -> (df, "drop", cols); ``df[[...]]`` -> (df, "select", cols)."""
        scope = self.scopes[-1]
        if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Name) and expr.value.value in scope.frames:
            cols = _strings(expr.slice[0].slice.value, self.constants) if len(expr.slice) == 1 and isinstance(
                expr.slice[0].slice, cst.Index) and isinstance(expr.slice[0].slice.value, cst.List) else None
            return (expr.value.value, "select", cols) if cols is not None else None
        if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "drop"):
            return None
        frame = dotted(expr.func.value)
        if frame not in scope.frames:
            return None
        cols_arg: cst.BaseExpression | None = None
        columnwise = False
        for i, a in enumerate(expr.args):
            if a.keyword is None and i == 0:
                cols_arg = a.value
            elif a.keyword is not None and a.keyword.value == "columns":
                cols_arg, columnwise = a.value, True
            elif a.keyword is not None and a.keyword.value == "labels":
                cols_arg = a.value
            elif a.keyword is not None and a.keyword.value == "axis":
                columnwise = columnwise or (isinstance(a.value, cst.Integer) and a.value.value == "1") or (
                    isinstance(a.value, cst.SimpleString) and a.value.evaluated_value == "columns")
            elif a.keyword is None and i == 1:
                columnwise = columnwise or (isinstance(a.value, cst.Integer) and a.value.value == "1")
        cols = _strings(cols_arg, self.constants) if cols_arg is not None else None
        return (frame, "drop", cols) if columnwise and cols is not None else None

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        if (q is not None and (q in self.splitters or q in self.cv_functions)) or (
                isinstance(node.func, cst.Attribute) and node.func.attr.value in ("fit", "fit_transform")):
            self._fits = True
        xi: int | None = None
        if q is not None and q in self.splitters:
            xi, yi = 0, 1
        elif q is not None and q in self.cv_functions:
            xi = self.cv_functions[q]
            yi = xi + 1
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "fit":
            xi, yi = 0, 1
        if xi is None:
            return
        positional = [a for a in node.args if a.keyword is None]
        if any(a.star for a in positional):
            return
        x = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "X"), None)
        y = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "y"), None)
        x = x if x is not None else (positional[xi].value if xi < len(positional) else None)
        y = y if y is not None else (positional[yi].value if yi < len(positional) else None)
        scope = self.scopes[-1]
        feats = scope.features.get(dotted(x) or "") if x is not None else None
        column = (self._column(y) or scope.y_names.get(dotted(y) or "")) if y is not None else None
        if feats is None or column is None or feats[0] != column[0]:
            return
        frame, target = column
        x_name = dotted(x) if x is not None else None
        tainted = {target}
        for f, col, mentions, stmt, order in scope.derived:
            if f != frame or col in tainted or not mentions & tainted:
                continue
            tainted.add(col)
            _, mode, cols, taken = feats
            kept = (mode == "drop" and col not in cols) or (mode == "select" and col in cols)
            if not kept or order > taken or id(stmt) in self._reported:
                continue
            self._reported.add(id(stmt))
            self.report(stmt, f"Column `{col}` is computed from the target `{target}` on all rows of `{frame}` "
                              f"and stays in the features `{x_name}`: each row's label leaks into its features. "
                              "Drop it, or compute the encoding on the training rows only (inside the folds).")


def _returned_frames(expr: cst.BaseExpression) -> list[str]:
    """The frames a ``return`` hands back: ``df``, ``df.dropna()``, ``df[cols]``, a tuple of
    them, or the frames joined by a call (``pd.concat([out, dummies], axis=1)``)."""
    while True:
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and dotted(expr.func) is None:
            expr = expr.func.value  # return df.dropna().reset_index()
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
                and isinstance(expr.func.value, cst.Name) and expr.func.attr.value not in ("concat", "merge"):
            expr = expr.func.value  # return df.copy()
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        else:
            break
    if isinstance(expr, (cst.Tuple, cst.List)):
        return [f for e in expr.elements for f in _returned_frames(e.value)]
    if isinstance(expr, cst.Call):
        return [f for a in expr.args for f in _returned_frames(a.value)]
    name = dotted(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
    return [name] if name is not None else []


def _string(expr: cst.BaseExpression, constants: Mapping[str, str]) -> str | None:
    """A string literal, or a module constant bound to one (``TARGET = "churned"``)."""
    if isinstance(expr, cst.SimpleString):
        s = expr.evaluated_value
        return s if isinstance(s, str) else None
    if isinstance(expr, cst.Name):
        return constants.get(expr.value)
    return None


def _literal_key(sub: cst.Subscript, constants: Mapping[str, str]) -> str | None:
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return None
    return _string(sub.slice[0].slice.value, constants)


def _strings(expr: cst.BaseExpression, constants: Mapping[str, str]) -> frozenset[str] | None:
    one = _string(expr, constants)
    if one is not None:
        return frozenset({one})
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        out = set()
        for e in expr.elements:
            s = _string(e.value, constants)
            if s is None:
                return None
            out.add(s)
        return frozenset(out)
    return None


def _mentions(expr: cst.BaseExpression, frame: str, constants: Mapping[str, str]) -> frozenset[str]:
    """The columns of ``frame`` (or of its groupby) read row by row in ``expr``: a column
    reduced to one number (``df["y"].mean()``) does not count."""
    out: set[str] = set()

    class _V(cst.CSTVisitor):
        def __init__(self) -> None:
            self.reduced: set[int] = set()

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _REDUCTIONS \
                    and isinstance(func.value, cst.Subscript) and dotted(func.value.value) == frame:
                self.reduced.add(id(func.value))

        def visit_Subscript(self, node: cst.Subscript) -> None:
            if id(node) in self.reduced:
                return
            col = _literal_key(node, constants)
            if col is None:
                return
            base = node.value
            if dotted(base) == frame or _groupby_of(base, frame):
                out.add(col)

    expr.visit(_V())
    return frozenset(out)


def _groupby_of(expr: cst.BaseExpression, frame: str) -> bool:
    return (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value == "groupby" and dotted(expr.func.value) == frame)
