from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink, Valid
from mldebt.rules.ml_api_misuse._pandas import (
    ApiMisuseKnowledge,
    is_false,
    is_frame,
    keyword,
    short_code,
)
from mldebt.rules.names import dotted
from mldebt.rules.receivers import shared_receivers


class DiscardedPandasResult(Rule):
    """
    ## What it does
    Flags a pandas DataFrame or Series method that returns a new object — `dropna`,
    `fillna`, `drop`, `rename`, `reset_index`, `set_index`, `sort_values`, `replace`,
    `astype`, `drop_duplicates`, `merge`, `assign`, ... (the `api_misuse.returns_new_object`
    knowledge entry) — called as a bare statement, without `inplace=True`, so that its
    result is thrown away. The receiver must provably be a pandas object (read, built or
    derived through pandas, an annotated parameter, a function of the same file returning
    one). Methods that do change the frame (`update`, `insert`, `pop`, `to_csv`, `plot`),
    calls with `inplace=True` (or `**kwargs`) and objects of unknown type are not flagged.
    In notebooks the last statement of a cell is displayed by Jupyter, so an expression
    there is the cell's output, not discarded; it is not flagged (mid-cell it is).

    ## Why is this bad?
    The statement does nothing: the missing values are still there, the column is not
    renamed, the frame is not sorted. Training then runs on data that the code claims to
    have cleaned — a silent data bug rather than an error.

    ## Example
    ```python
    df = pd.read_csv("train.csv")
    df.dropna(subset=["label"])
    df.rename(columns={"y": "label"})
    ```

    ## Use instead
    ```python
    df = df.dropna(subset=["label"])
    df = df.rename(columns={"y": "label"})
    ```

    ## Options
    None.

    ## References
    - pandas, "Copy-on-Write" and the deprecation of `inplace`:
      https://pandas.pydata.org/docs/user_guide/copy_on_write.html
    - Catalog: `rules/ml-api-misuse.yaml` (knowledge key `api_misuse`).
    """

    VALID = [
        "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf = df.dropna()\ndf.fillna(0, inplace=True)\n"
        "df.update(other)\ndf.insert(0, 'a', 1)\ndf.pop('a')\ndf.to_csv('b.csv')\n",
        # inplace from a variable or kwargs: may be in place
        "import pandas as pd\ndef clean(df: pd.DataFrame, inplace, **kw):\n    df.dropna(inplace=inplace)\n"
        "    df.drop(columns=['a'], **kw)\n",
        # not pandas: a list, a set, a polars frame, an unknown object
        "items = [3, 1]\nitems.sort()\ns = set()\ns.discard(1)\n",
        "import polars as pl\ndf = pl.read_csv('a.csv')\ndf.drop('a')\n",
        "def f(df):\n    df.dropna()\n",
        # a notebook cell ending with an expression displays it
        Valid(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                     "source": "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.sort_values('a')"}],
                          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), path="explore.ipynb"),
    ]
    INVALID = [
        # mid-cell, the value is not displayed: thrown away (line 3 of the joined cells)
        Invalid(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                       "source": "import pandas as pd\ndf = pd.read_csv('a.csv')\n"
                                                 "df.dropna()\ndf.head()"}],
                            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), path="explore.ipynb", line=3),
        Invalid("import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.dropna(subset=['label'])\n", line=3,
                column=1, message_contains="df = df.dropna(...)"),
        Invalid("from pandas import DataFrame\n\ndef prepare(rows):\n    frame = DataFrame(rows)\n"
                "    frame.rename(columns={'y': 'label'})\n    return frame\n", line=5),
        Invalid("import pandas as pd\n\ndef fix(df: pd.DataFrame) -> pd.DataFrame:\n"
                "    df['a'].fillna(0, inplace=False)\n    return df\n", line=4),
        Invalid("import pandas as pandas_lib\ndef load():\n    return pandas_lib.read_parquet('x')\n\n"
                "data = load()\ndata.reset_index(drop=True)\n", line=6, message_contains="DataFrame"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.types = shared_receivers(ctx)
        self.k = ApiMisuseKnowledge.of(ctx.knowledge)
        self._line: cst.SimpleStatementLine | None = None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._line = node

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
            return
        method = call.func.attr.value
        if method not in self.k.returns_new_object:
            return
        line = self._line
        if line is not None and line.body[-1] is node and self.ctx.ends_cell(line):
            return  # the last line of a notebook cell: displayed, not discarded
        inplace = keyword(call, "inplace")
        if (inplace is not None and not is_false(inplace.value)) or any(a.star == "**" for a in call.args):
            return
        recv = self.types.type_of(call.func.value)
        if not is_frame(recv):
            return
        assert recv is not None
        what = {"pandas.DataFrame": "DataFrame", "pandas.Series": "Series"}.get(recv.name, "DataFrame/Series")
        recv_code = dotted(call.func.value)
        fix = (f"`{recv_code} = {recv_code}.{method}(...)`" if recv_code is not None and short_code(recv_code)
               else f"`result = ....{method}(...)`")
        shown = short_code(self.ctx.code_for(call), 50) or f"....{method}(...)"
        self.report(call, f"`{shown}` returns a new {what} and the result is discarded: this statement changes "
                          f"nothing. Assign the result: {fix}.")
