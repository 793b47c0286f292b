from __future__ import annotations

import libcst as cst

from mldebt.rules.base import Invalid
from mldebt.rules.ml_api_misuse._torch import TorchRule, walk
from mldebt.rules.names import dotted

_INPUT_KEYWORDS = frozenset({"tensors", "objs", "values", "arrays", "tup", "arr", "x"})


class TensorConcatInLoop(TorchRule):
    """
    ## What it does
    Flags a tensor, array or DataFrame grown inside a `for`/`while` loop by concatenating
    it with a new piece and assigning the result back to the same variable:
    `x = torch.cat([x, y])`, `x = tf.concat([x, y], 0)`, `a = np.concatenate((a, b))`,
    `a = np.vstack([a, row])`, `a = np.append(a, v)`, `df = pd.concat([df, row])`. The
    callee is resolved through imports (`from torch import cat`, `import numpy as xp`);
    the list of concatenations is the `torch_misuse.concat` knowledge entry.

    Not flagged: concatenating different variables (`out = torch.cat([a, b])`), a list
    accumulated in the loop and concatenated once after it, a variable reset inside the
    loop (`x = batch; x = torch.cat([x, pad])`) or bound by the loop itself, a sliding
    window (`x = torch.cat([x[:, 1:], y], 1)`), loops over a module's own layers
    (`for layer in self.layers:` — DenseNet-style feature growth bounded by the
    architecture), a variable the loop also shrinks or rebinds otherwise (`np.delete`,
    `x = blk(x)`), doubling (`x = np.concatenate([x, x])`, linear in total), and test files.

    Not flagged either: a loop that also reads the grown value (autoregressive decoding feeds
    the sequence so far back to the model; a tracker tests new boxes against its stack).
    There a list does not help, the copy is small next to the model call, and such loops
    usually run a few times; judged on real libraries, 19 of 20 of those findings were not
    worth acting on.

    ## Why is this bad?
    Each concatenation allocates a new buffer and copies everything accumulated so far, so
    `n` iterations copy O(n²) elements; with pandas each `concat` also rebuilds the index.
    A loop that is fast on a sample becomes the bottleneck (or runs out of memory) on the
    full data.

    ## Example
    ```python
    preds = torch.empty(0)
    for x, _ in loader:
        preds = torch.cat([preds, model(x)])
    ```

    ## Use instead
    ```python
    chunks = []
    for x, _ in loader:
        chunks.append(model(x))
    preds = torch.cat(chunks)
    ```

    ## Options
    None.

    ## References
    - pandas, `DataFrame.append` deprecation note: "it is more performant to add rows to a
      list and then concatenate once": https://pandas.pydata.org/docs/whatsnew/v1.4.0.html
    - Catalog: `rules/ml-api-misuse-torch.yaml` (knowledge key `torch_misuse`).
    """

    VALID = [
        "import torch\nout = []\nfor b in loader:\n    out.append(model(b))\npreds = torch.cat(out)\n",
        # autoregressive decoding: the sequence so far is the model's input on every step
        "import torch\nfor _ in range(n):\n    nxt = model(ids)[:, -1:].argmax(-1)\n    ids = torch.cat([ids, nxt], dim=1)\n",
        "import torch\nfor b in loader:\n    z = torch.cat([a, b])\n",
        "import torch\nx = torch.zeros(1)\nx = torch.cat([x, y])\n",
        "import torch\nfor b in loader:\n    x = b[0]\n    x = torch.cat([x, pad], dim=1)\n",
        "import torch\nfor t in range(10):\n    x = torch.cat([x[:, 1:], step(x)], dim=1)\n",
        ("import torch\nfrom torch import nn\nclass Dense(nn.Module):\n    def forward(self, x):\n"
        "        for layer in self.layers:\n            x = torch.cat([x, layer(x)], 1)\n        return x\n"),
        "from mylib import concat\nfor b in loader:\n    acc = concat([acc, b])\n",
        "import numpy as np\nfor chunk in chunks:\n    chunk = np.concatenate([chunk, pad])\n",
        "import numpy as np\nfor i in idx:\n    s = np.delete(s, i)\n    s = np.append(s, 0.0)\n",
        "import numpy as np\nwhile a.shape[-1] < n:\n    a = np.concatenate([a, a], axis=-1)\n",
        ("import numpy as np\ndef f(rows):\n    acc = np.zeros(3)\n    def g():\n        return np.append(acc, 1)\n"
        "    for r in rows:\n        g()\n"),
    ]
    INVALID = [
        Invalid("import torch\npreds = torch.empty(0)\nfor x, _ in loader:\n    preds = torch.cat([preds, model(x)])\n",
                line=4, column=13, message_contains="preds"),
        Invalid("import pandas as pd\ndf = pd.DataFrame()\nfor f in files:\n    row = pd.read_csv(f)\n"
                "    df = pd.concat([df, row], ignore_index=True)\n", line=5, message_contains="pd.concat"),
        Invalid("import numpy as np\ndef collect(it):\n    acc = np.array([])\n    while it.more():\n"
                "        acc = np.append(acc, it.next())\n    return acc\n", line=5),
        Invalid("import tensorflow as tf\nfor b in ds:\n    if b.ok:\n        out = tf.concat([out, b.x], axis=0)\n",
                line=4, confidence="high"),
        Invalid("from numpy import vstack\nclass Buf:\n    def add_all(self, rows):\n        for r in rows:\n"
                "            self.data = vstack((self.data, r))\n", line=5, message_contains="self.data"),
    ]

    def visit_Assign(self, node: cst.Assign) -> None:
        loops = self.loops[-1]
        if not loops or len(node.targets) != 1 or not isinstance(node.value, cst.Call):
            return
        call = node.value
        q = self.ctx.names.call_name(call)
        mode = self.k.concat.get(q) if q is not None else None
        if mode is None:
            return
        target = dotted(node.targets[0].target)
        if target is None or not self._grows(call, mode, target):
            return
        loop = loops[-1]
        if isinstance(loop, cst.For):
            if target.partition(".")[0] in _bound(loop.target):
                return
            if _over_own_layers(loop.iter) and self.cls is not None and self.index.is_module_class(self.cls):
                return
        if self._reset_in(loop, node, target):
            return
        short = self.ctx.code_for(call.func).strip()
        if self._read_in(loop, target):
            # the loop consumes the grown value (autoregressive decoding, a tracker's state): a
            # list does not help, and the growth is usually bounded and cheap next to the model
            return
        self.report(
            call,
            f"`{target}` grows by `{short}(...)` on every iteration of the loop: each call copies everything "
            f"accumulated so far (quadratic time and memory). Collect the pieces in a list and "
            f"concatenate once after the loop.",
            hint=f"Append each piece to a list in the loop and call `{short}` once after it.",
        )

    def _read_in(self, loop: cst.For | cst.While, target: str) -> bool:
        """``target`` is used in the loop other than by its growing concatenations."""
        skip: set[int] = set()
        roots: list[cst.CSTNode] = [loop.body] + ([loop.test] if isinstance(loop, cst.While) else [])
        for root in roots:
            for n in walk(root):
                if isinstance(n, cst.Assign) and isinstance(n.value, cst.Call) and len(n.targets) == 1 \
                        and dotted(n.targets[0].target) == target:
                    q = self.ctx.names.call_name(n.value)
                    mode = self.k.concat.get(q) if q is not None else None
                    if mode is not None and self._grows(n.value, mode, target):
                        own = [n.targets[0].target, *_inputs(n.value, mode, target)]
                        skip.update(id(m) for o in own for m in (o, *walk(o)))
        for root in roots:
            for n in walk(root):
                if id(n) not in skip and isinstance(n, (cst.Name, cst.Attribute)) and dotted(n) == target:
                    return True
        return False

    @staticmethod
    def _grows(call: cst.Call, mode: str, target: str) -> bool:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if mode == "args":
            first = positional[0].value if positional else next(
                (a.value for a in call.args if a.keyword is not None and a.keyword.value in _INPUT_KEYWORDS), None)
            if first is None or dotted(first) != target:
                return False
            second = positional[1].value if len(positional) > 1 else None
            return second is None or dotted(second) != target
        seq = positional[0].value if positional else next(
            (a.value for a in call.args if a.keyword is not None and a.keyword.value in _INPUT_KEYWORDS), None)
        if not isinstance(seq, (cst.List, cst.Tuple)):
            return False
        same = [not isinstance(e, cst.StarredElement) and dotted(e.value) == target for e in seq.elements]
        return any(same) and not all(same)  # `x = cat([x, x])` doubles: linear in total

    def _reset_in(self, loop: cst.For | cst.While, me: cst.Assign, target: str) -> bool:
        """Another assignment in the loop rebinds ``target`` (a reset, a window, a shrink such
        as `np.delete`): its size is managed, not only grown."""
        for n in walk(loop.body, into_defs=False):
            if n is me or not isinstance(n, (cst.Assign, cst.AnnAssign, cst.AugAssign)) or n.value is None:
                continue
            targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
            if not any(dotted(t) == target or target in _bound(t) for t in targets):
                continue
            if isinstance(n, cst.Assign) and isinstance(n.value, cst.Call):
                q = self.ctx.names.call_name(n.value)
                mode = self.k.concat.get(q) if q is not None else None
                if mode is not None and self._grows(n.value, mode, target):
                    continue  # another growing concatenation
            return True
        return False


def _inputs(call: cst.Call, mode: str, target: str) -> list[cst.BaseExpression]:
    """The inputs of a growing concatenation that are ``target`` itself."""
    values = [a.value for a in call.args]
    if mode == "list":
        seqs = [v for v in values if isinstance(v, (cst.List, cst.Tuple))]
        values = [e.value for seq in seqs[:1] for e in seq.elements]
    return [v for v in values if dotted(v) == target]


def _bound(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        out: set[str] = set()
        for el in target.elements:
            out |= _bound(el.value)
        return out
    if isinstance(target, cst.StarredElement):
        return _bound(target.value)
    return set()


def _over_own_layers(it: cst.BaseExpression) -> bool:
    """`for layer in self.layers`, `enumerate(self.blocks)`, `zip(self.a, self.b)`."""
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value in ("enumerate", "zip", "reversed"):
        return any(_over_own_layers(a.value) for a in it.args)
    while isinstance(it, (cst.Attribute, cst.Subscript, cst.Call)):
        if isinstance(it, cst.Attribute) and isinstance(it.value, cst.Name) and it.value.value == "self":
            return True
        it = it.value if not isinstance(it, cst.Call) else it.func
    return False
