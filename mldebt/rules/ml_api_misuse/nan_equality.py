from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.ml_api_misuse._pandas import ApiMisuseKnowledge, is_frame, short_code
from mldebt.rules.names import dotted
from mldebt.rules.receivers import shared_receivers

_NAN_TEXTS = frozenset({"nan", "+nan", "-nan"})


class NanEquality(Rule):
    """
    ## What it does
    Flags `==` and `!=` comparisons with NaN or a pandas missing-value marker:
    `x == np.nan`, `x != math.nan`, `x == float("nan")`, `s == pd.NA`, `t == pd.NaT`.
    The constant is resolved through imports (`from numpy import nan as NaN` is still
    `numpy.nan`); a local variable or parameter that happens to be called `nan` is not.
    Which values count is the `api_misuse.nan_constants` knowledge entry.

    ## Why is this bad?
    NaN is not equal to anything, itself included: `x == np.nan` is always False and
    `x != np.nan` always True, element-wise too (`df[df.age == np.nan]` selects no row).
    Comparing with `pd.NA` gives NA, which is not a usable boolean. Missing values are
    silently kept (or dropped) and the metric computed on them is wrong.

    ## Example
    ```python
    import numpy as np
    rows = df[df["age"] == np.nan]
    if score != float("nan"):
        ...
    ```

    ## Use instead
    ```python
    rows = df[df["age"].isna()]
    if not math.isnan(score):
        ...
    ```

    ## Options
    None.

    ## References
    - NumPy, `numpy.isnan`: https://numpy.org/doc/stable/reference/generated/numpy.isnan.html
    - pandas, "Working with missing data": https://pandas.pydata.org/docs/user_guide/missing_data.html
    - Catalog: `rules/ml-api-misuse.yaml` (knowledge key `api_misuse`).
    """

    VALID = [
        "import numpy as np\nimport math\nok = np.isnan(x)\nok2 = math.isnan(y)\nz = x != x\n",
        # a local variable or a parameter named nan is not NaN
        "nan = 0\nif x == nan:\n    pass\n",
        "from numpy import nan\ndef f(x, nan=-1):\n    return x == nan\n",
        # identity and ordering are other questions; strings are not NaN
        "import numpy as np\nif x is np.nan:\n    pass\nb = x < np.inf\nc = y == float('inf')\nd = s == 'nan'\n",
        # np.nan used as a value, not compared
        "import numpy as np\nimport pandas as pd\ndf = pd.read_csv('a.csv')\ndf = df.replace(-1, np.nan)\n",
    ]
    INVALID = [
        Invalid("import numpy as np\nimport pandas as pd\ndf = pd.read_csv('a.csv')\n"
                "rows = df[df['age'] == np.nan]\n", line=4, column=11, message_contains="`df['age'].isna()`"),
        Invalid("import math\n\ndef check(v):\n    return v != math.nan\n", line=4,
                message_contains="always True"),
        Invalid("x = compute()\nif x == float('NaN'):\n    pass\n", line=2, message_contains="always False"),
        Invalid("from numpy import nan as NaN\nok = [v for v in vals if v != NaN]\n", line=2),
        Invalid("import pandas as pd\nif value == pd.NA:\n    pass\n", line=2, message_contains="pd.isna(value)"),
        Invalid("import numpy as np\nflag = np.nan == y\n", line=2),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.types = shared_receivers(ctx)
        self.k = ApiMisuseKnowledge.of(ctx.knowledge)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            right = target.comparator
            op = target.operator
            if isinstance(op, (cst.Equal, cst.NotEqual)):
                for value, constant in ((left, right), (right, left)):
                    q = self._nan(constant)
                    if q is not None:
                        self._report(node, value, constant, q, isinstance(op, cst.Equal))
                        break
            left = right

    def _nan(self, node: cst.BaseExpression) -> str | None:
        """The NaN/NA constant ``node`` is (``numpy.nan``, ``float('nan')``), else None."""
        if isinstance(node, cst.Call):
            q = self.ctx.names.call_name(node)
            if q in self.k.nan_from_string and len(node.args) == 1 and isinstance(node.args[0].value, cst.SimpleString):
                text = node.args[0].value.evaluated_value
                if isinstance(text, str) and text.strip().lower() in _NAN_TEXTS:
                    return f"{q.rpartition('.')[2]}('nan')"  # type: ignore[union-attr]
            return None
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return None
        name = dotted(node)
        if name is None or self.types.is_bound(name.partition(".")[0]):
            return None  # a variable of this file, not the imported constant
        q = self.ctx.names.qualified(node)
        return q if q in self.k.nan_constants else None

    def _report(self, node: cst.Comparison, value: cst.BaseExpression, constant: cst.BaseExpression,
                q: str, equal: bool) -> None:
        code = self.ctx.code_for
        shown = short_code(code(value)) or "x"
        t = self.types.type_of(value)
        if is_frame(t):
            fix = f"`{shown}.isna()`" if equal else f"`{shown}.notna()`"
        elif q in self.k.na_constants or q.startswith("pandas."):
            fix = f"`pd.isna({shown})`" if equal else f"`pd.notna({shown})`"
        elif t is not None and t.name == "numpy.ndarray":
            fix = f"`np.isnan({shown})`" if equal else f"`~np.isnan({shown})`"
        else:
            neg = "" if equal else "not "
            fix = f"`{neg}math.isnan({shown})` (scalars), `{neg}np.isnan(...)` (arrays) or `{neg}pd.isna(...)`"
        if q in self.k.na_constants:
            what = "gives `pd.NA`, never True or False: a missing value is not equal to anything"
        else:
            what = (f"is always {'False' if equal else 'True'}: NaN is not equal to anything, itself included")
        self.report(node, f"`{short_code(code(node), 60) or code(constant)}` {what}. Test for missing values with {fix}.")
