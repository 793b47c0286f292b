from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.ml_api_misuse._pandas import PANDAS_FRAMES, origin, short_code
from mldebt.rules.receivers import shared_receivers

_FLAGGED = PANDAS_FRAMES | {"pandas.Index"}
_WHAT = {"pandas.DataFrame": "DataFrame", "pandas.Series": "Series", "pandas.Index": "Index",
         "pandas.NDFrame": "DataFrame/Series"}


class PandasValuesAttribute(Rule):
    """
    ## What it does
    Flags `.values` on a pandas DataFrame, Series or Index — only when the object provably
    comes from pandas: read or built with pandas (`pd.read_csv`, `pd.DataFrame`,
    `pd.concat`...), derived from such a frame (`df[cols]`, `df["a"]`, `df.age`,
    `df.groupby(k).mean()`, `df.index`), a parameter annotated `pd.DataFrame`/`pd.Series`, or
    the result of a function of the same file that returns one. Not flagged: `d.values()`
    (a call: dicts and mappings), polars frames, xarray `DataArray.values`, NumPy arrays
    and structured arrays, and any object of unknown type (unlike linters that flag every
    `.values`).

    ## Why is this bad?
    `.values` returns a NumPy array for some dtypes and a pandas extension array (or an
    `object` array) for others — categorical, nullable integer, timezone-aware datetime
    columns — so the same line yields different types as the data changes, and model code
    downstream breaks or silently upcasts. `.to_numpy()` always returns a NumPy array and
    takes `dtype=` and `na_value=`; `.array` gives the extension array when that is wanted.

    ## Example
    ```python
    X = df[features].values
    y = df["label"].values
    ```

    ## Use instead
    ```python
    X = df[features].to_numpy(dtype="float32")
    y = df["label"].to_numpy()
    ```

    ## Options
    None.

    ## References
    - pandas, `DataFrame.values`: https://pandas.pydata.org/docs/reference/api/pandas.DataFrame.values.html
    - Catalog: `rules/ml-api-misuse.yaml` (knowledge key `api_misuse`).
    """

    VALID = [
        "d = {'a': 1}\nfor v in d.values():\n    print(v)\n",
        "import pandas as pd\ndf = pd.read_csv('a.csv')\ncounts = df['a'].value_counts().to_dict()\n"
        "for v in counts.values():\n    pass\nX = df.to_numpy()\n",
        # polars, xarray and numpy objects have their own .values
        "import polars as pl\ndf = pl.read_csv('a.csv')\nx = df['a'].values\n",
        "import xarray as xr\nds = xr.open_dataset('a.nc')\nt = ds['temp'].values\nu = ds.temp.values\n",
        "import numpy as np\narr = np.zeros(3, dtype=[('a', 'f4')])\nv = arr.values\n",
        # unknown receivers: a parameter, an attribute of an unknown object, a rebinding
        "def features(df):\n    return df.values\n",
        "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf = load_frame()\nX = df.values\n",
        "import pandas as pd\nclass Batch:\n    values = [1]\nb = Batch()\nv = b.values\n",
    ]
    INVALID = [
        Invalid("import pandas as pd\ndf = pd.read_csv('train.csv')\nX = df[['a', 'b']].values\n", line=3,
                column=5, message_contains="`df[['a', 'b']].to_numpy()`"),
        Invalid("import pandas as pandas_lib\ntrain = pandas_lib.read_parquet('t.pq')\ny = train.label.values\n", line=3),
        Invalid("from pandas import DataFrame\n\ndef to_array(frame: DataFrame):\n    return frame.values\n", line=4),
        Invalid("import pandas as pd\ndef load(p):\n    return pd.concat([pd.read_csv(p), pd.read_csv(p)])\n\n"
                "data = load('x')\nidx = data.index.values\n", line=6, message_contains="Index"),
        Invalid("import pandas as pd\ndf = pd.read_csv('a.csv')\nm = df.groupby('k')['v'].mean().values\n", line=3),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.types = shared_receivers(ctx)
        self._called: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        self._called.add(id(node.func))  # `d.values()`: a method call, not the attribute

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "values" or id(node) in self._called:
            return
        recv = self.types.type_of(node.value)
        if recv is None or recv.name not in _FLAGGED:
            return
        shown = short_code(self.ctx.code_for(node.value))
        fix = f"`{shown}.to_numpy()`" if shown else "`.to_numpy()`"
        array = "" if recv.name in ("pandas.DataFrame", "pandas.NDFrame") else ", or `.array` for the extension array"
        self.report(node, f"`.values` on a pandas {_WHAT[recv.name]}{origin(recv)} returns a NumPy array or an "
                          f"extension array depending on the dtypes. Use {fix} (with `dtype=` if needed){array}.")
