from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.ml_api_misuse._pandas import (
    ApiMisuseKnowledge,
    is_frame,
    origin,
    short_code,
)
from mldebt.rules.receivers import shared_receivers


class PandasChainedAssignment(Rule):
    """
    ## What it does
    Flags an assignment through two indexing steps on a pandas DataFrame or Series:
    `df["a"][mask] = v`, `df[mask]["a"] = v`, `df.loc[rows]["a"] = v`,
    `df["a"].iloc[0] = v` (also with `+=`). The object indexed must provably come from
    pandas: a `pd.read_csv(...)`/`pd.DataFrame(...)` result, a frame derived from one
    (`df.copy()`, `df.merge(...)`, `df[cols]`), a parameter annotated `pd.DataFrame`, or what
    a function of the same file returns; names are resolved through imports and assignments
    (`import pandas as pandas_lib`, `from pandas import read_parquet`). A dict of frames, a
    NumPy array, a polars frame or an unknown object is never flagged.

    ## Why is this bad?
    The first indexing step may return a copy; the assignment then writes into that
    temporary and the frame does not change. pandas warns (`SettingWithCopyWarning`) only
    sometimes, and with Copy-on-Write (the default from pandas 3.0) such an assignment
    never changes the frame: feature engineering or label fixing that silently did nothing.

    ## Example
    ```python
    import pandas as pd
    df = pd.read_csv("train.csv")
    df["age"][df["age"] < 0] = 0
    df[df.split == "test"]["label"] = -1
    ```

    ## Use instead
    ```python
    df.loc[df["age"] < 0, "age"] = 0
    df.loc[df.split == "test", "label"] = -1
    ```

    ## Options
    None.

    ## References
    - pandas, "Returning a view versus a copy" and "Copy-on-Write":
      https://pandas.pydata.org/docs/user_guide/copy_on_write.html
    - Catalog: `rules/ml-api-misuse.yaml` (knowledge key `api_misuse`).
    """

    VALID = [
        # one indexing step: writes to the frame
        "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.loc[df.a > 0, 'b'] = 1\ndf['c'] = df['a'] * 2\n"
        "df.iloc[0, 1] = 3\n",
        # a dict of frames, a nested dict, a NumPy array: not pandas chains
        "import pandas as pd\nframes = {'train': pd.read_csv('a.csv')}\nframes['train']['x'] = 1\n"
        "cfg = {}\ncfg['a']['b'] = 2\n",
        "import numpy as np\ngrid = np.zeros((3, 3))\ngrid[0][1] = 5\n",
        # unknown receivers: a parameter nobody annotated, a polars frame
        "def fix(df):\n    df['a'][df['a'] < 0] = 0\n",
        "import polars as pl\ndf = pl.read_csv('a.csv')\ndf['a'][0] = 1\n",
        # reading through a chain is fine; only writing is flagged
        "import pandas as pd\ndf = pd.read_csv('a.csv')\nx = df['a'][0]\n",
        # a name rebound to something else is no longer a frame
        "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf = {'a': {}}\ndf['a']['b'] = 1\n",
    ]
    INVALID = [
        Invalid("import pandas as pd\ndf = pd.read_csv('a.csv')\ndf['age'][df['age'] < 0] = 0\n",
                line=3, column=1, message_contains="df.loc[df['age'] < 0, 'age']"),
        Invalid("import pandas as pandas_lib\n\ndf = pandas_lib.DataFrame({'a': [1]})\n"
                "df[df.a > 0]['b'] = 1\n", line=4, message_contains="df.loc[df.a > 0, 'b']"),
        Invalid("from pandas import read_parquet\nraw = read_parquet('x')\nclean = raw.dropna()\n"
                "clean.loc[clean.a > 1]['b'] += 1\n", line=4, message_contains="clean.loc[clean.a > 1, 'b']"),
        Invalid("import pandas as pd\n\ndef fix(frame: pd.DataFrame) -> None:\n"
                "    frame['label'].iloc[0] = 1\n", line=4),
        Invalid("import pandas as pd\ndef load(p):\n    return pd.read_csv(p)\n\ndf = load('a.csv')\n"
                "df['a'][3] = None\n", line=6),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.types = shared_receivers(ctx)
        self.k = ApiMisuseKnowledge.of(ctx.knowledge)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._check(t.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check(node.target)

    def _check(self, target: cst.BaseExpression) -> None:
        if not isinstance(target, cst.Subscript):
            return
        inner = target.value
        via = ""
        if isinstance(inner, cst.Attribute) and inner.attr.value in self.k.indexers:
            via, inner = f".{inner.attr.value}", inner.value  # `df["a"].loc[m] = v`
        if not isinstance(inner, cst.Subscript):
            return
        base = self.types.type_of(inner.value)
        if not (is_frame(base) or (base is not None and base.name == "pandas.Indexer")):
            return
        code = self.ctx.code_for
        first = code(inner)
        fix = self._fix(inner, target) if not via else None
        what = "the frame" + (origin(base) if base is not None else "")
        self.report(target,
                    f"Chained assignment: `{code(target)} = ...` writes into the result of `{first}`, which may "
                    f"be a temporary copy, so {what} may not change (always, under pandas Copy-on-Write). "
                    + (f"Index once: `{fix} = ...`." if fix else "Index once with `.loc[rows, column] = ...`."))

    def _fix(self, inner: cst.Subscript, target: cst.Subscript) -> str | None:
        """``df.loc[rows, col]`` for ``df[col][rows]``, ``df[rows][col]`` or ``df.loc[rows][col]``."""
        if len(inner.slice) != 1 or len(target.slice) != 1:
            return None
        code = self.ctx.code_for
        k1, k2 = code(inner.slice[0]).strip(), code(target.slice[0]).strip()
        recv = inner.value
        owner = recv.value if isinstance(recv, cst.Attribute) else recv
        t = self.types.type_of(owner)
        if t is None or t.name != "pandas.DataFrame":
            return None  # a Series has no columns; an unsure frame gets the general advice
        if isinstance(recv, cst.Attribute) and recv.attr.value == "loc":
            frame, rows, col = code(recv.value), k1, k2
        elif isinstance(recv, cst.Attribute):
            return None
        else:
            frame = code(recv)
            kind = _key_kind(inner.slice[0])
            if kind == "columns":
                rows, col = k2, k1
            elif kind == "rows":
                rows, col = k1, k2
            else:
                return None
        if short_code(frame) is None or short_code(rows, 60) is None or short_code(col) is None:
            return None
        return f"{frame}.loc[{rows}, {col}]"


def _key_kind(el: cst.SubscriptElement) -> str | None:
    """``columns`` for ``df["a"]``/``df[["a", "b"]]``, ``rows`` for ``df[mask]``/``df[2:]``."""
    sl = el.slice
    if isinstance(sl, cst.Slice):
        return "rows"
    v = sl.value  # type: ignore[attr-defined]
    if isinstance(v, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.List)):
        return "columns"
    if isinstance(v, cst.Comparison) or (isinstance(v, cst.UnaryOperation) and isinstance(v.operator, cst.BitInvert)) \
            or (isinstance(v, cst.BinaryOperation) and isinstance(v.operator, (cst.BitAnd, cst.BitOr))):
        return "rows"
    return None
