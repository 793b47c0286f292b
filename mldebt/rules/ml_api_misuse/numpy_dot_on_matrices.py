from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import FileContext, Invalid, Rule, Sink
from mldebt.rules.ml_api_misuse._pandas import short_code
from mldebt.rules.receivers import TypeInfo, shared_receivers


def _is_matrix(t: TypeInfo | None) -> bool:
    return t is not None and t.name == "numpy.ndarray" and t.ndim == 2


class NumpyDotOnMatrices(Rule):
    """
    ## What it does
    Flags `np.dot(A, B)` and `A.dot(B)` when both operands are provably 2-D NumPy arrays:
    built with a shape of two dimensions (`np.zeros((n, m))`, `np.ones((n, m))`,
    `np.random.rand(a, b)`, `np.random.normal(size=(a, b))`, `np.eye(n)`, a nested list
    literal in `np.array`), reshaped to two dimensions (`.reshape(a, b)`), a DataFrame's
    `.to_numpy()`/`.values`, or the matrix product of two such arrays. 1-D dot products
    (`np.dot(u, v)` of vectors), scalars, and operands of unknown shape are not flagged.

    ## Why is this bad?
    `np.dot` means a different operation for each combination of dimensions (an inner
    product of vectors, a matrix product, a sum over the last and second-to-last axes for
    N-D arrays, a scaling with scalars). On two matrices it is a matrix product that does
    not say so, and it keeps silently "working" when a refactoring adds a batch dimension,
    where `@` broadcasts over batches as intended and `np.matmul` rejects scalars.

    ## Example
    ```python
    W = np.random.randn(n_in, n_out)
    X = df[features].to_numpy()
    H = np.dot(X, W)
    ```

    ## Use instead
    ```python
    H = X @ W
    ```

    ## Options
    None.

    ## References
    - NumPy, `numpy.dot` and `numpy.matmul`:
      https://numpy.org/doc/stable/reference/generated/numpy.matmul.html
    - PEP 465, "A dedicated infix operator for matrix multiplication".
    - Catalog: `rules/ml-api-misuse.yaml` (knowledge key `api_misuse`).
    """

    VALID = [
        # vectors: an inner product
        "import numpy as np\nu = np.zeros(3)\nv = np.arange(3)\ns = np.dot(u, v)\n",
        # a matrix and a vector, a scalar, unknown shapes
        "import numpy as np\nA = np.eye(3)\nv = np.ones(3)\nw = np.dot(A, v)\nz = np.dot(A, 2.0)\n",
        "import numpy as np\ndef f(A, B):\n    return np.dot(A, B)\n",
        "import numpy as np\nA = np.zeros(shape)\nB = np.eye(3)\nC = np.dot(A, B)\n",
        # already `@`; a function named dot of another library
        "import numpy as np\nA = np.eye(3)\nB = A @ A\nimport torch\nt = torch.dot(x, y)\n",
        # a rebinding to an unknown value forgets the shape
        "import numpy as np\nA = np.eye(3)\nA = load()\nB = np.dot(A, A)\n",
    ]
    INVALID = [
        Invalid("import numpy as np\nA = np.zeros((4, 3))\nB = np.random.rand(3, 2)\nC = np.dot(A, B)\n",
                line=4, column=5, message_contains="`A @ B`"),
        Invalid("import numpy\nW = numpy.arange(12).reshape(3, 4)\nX = numpy.eye(3)\nH = X.dot(W)\n", line=4,
                message_contains="`X @ W`"),
        Invalid("import numpy as np\nimport pandas as pd\ndf = pd.read_csv('a.csv')\nX = df[['a', 'b']].to_numpy()\n"
                "P = np.array([[1, 0], [0, 1]])\nY = np.dot(X, P)\n", line=6),
        Invalid("from numpy import dot, ones\ndef proj(n):\n    M = ones((n, n))\n    return dot(M, M.T)\n", line=4),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.types = shared_receivers(ctx)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        pos = [a.value for a in node.args if a.keyword is None and not a.star]
        if len(pos) != len(node.args):
            return
        if len(pos) == 2 and self.ctx.names.call_name(node) == "numpy.dot":
            a, b = pos
            call = "np.dot"
        elif len(pos) == 1 and isinstance(func, cst.Attribute) and func.attr.value == "dot":
            a, b = func.value, pos[0]
            call = ".dot"
        else:
            return
        if not (_is_matrix(self.types.type_of(a)) and _is_matrix(self.types.type_of(b))):
            return
        sa, sb = short_code(self.ctx.code_for(a), 30), short_code(self.ctx.code_for(b), 30)
        fix = f"`{sa} @ {sb}`" if sa and sb else "`A @ B`"
        self.report(node, f"`{call}` on two 2-D arrays is a matrix product that does not say so (and changes "
                          f"meaning with the operands' dimensions). Write {fix} (or `np.matmul`).")
