from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.model import Confidence, Severity
from mldebt.rules.base import FileContext, Invalid, Rule, Sink, Valid
from mldebt.rules.unseeded_randomness._common import (
    RandomnessKnowledge,
    has_star_kwargs,
    is_none,
    keyword,
)

_MAX_NAMED = 4


class UnseededGlobalRng(Rule):
    """
    ## What it does
    Flags training or evaluation code (a file that imports an ML framework: scikit-learn,
    torch, TensorFlow/Keras, JAX, XGBoost, LightGBM, ...) that draws from a module-level
    random number generator while nothing in the file seeds it: `random.random()`,
    `random.shuffle(xs)`, legacy `np.random.rand/randn/randint/choice/shuffle/permutation/...`,
    `torch.rand/randn/randint/randperm/...` and the random `torch.nn.init.*` initialisers.
    One finding per file, at the first draw, naming the calls drawn. Any seeding call in the
    file counts (`random.seed`, `np.random.seed`, `torch.manual_seed`,
    `torch.cuda.manual_seed_all`, `tf.random.set_seed`, `keras.utils.set_random_seed`,
    `seed_everything`, `transformers.set_seed`, `accelerate.utils.set_seed`, or any called
    function whose name contains `seed`, such as a project's own `set_seed(...)`).

    Also flags, each time, a generator created without a seed: `np.random.default_rng()`,
    `np.random.RandomState()`, `random.Random()` (or with `None`), unless the name it is
    assigned to is assigned again in the file or seeded with `.seed(...)`.

    The finding has medium confidence when the file runs as a script (a
    `__main__` guard) or draws at module level; when the draws are all inside functions of
    a module without an entry point, a caller elsewhere may seed them, and the finding has
    low confidence (severity info). Test files are skipped by default.

    This is a file rule: a seed set once at the entry point of another file is not seen
    yet. Following the calls from the entry point across files is a project-graph
    follow-up, and the reason the rule is in preview.

    ## Why is this bad?
    Unseeded draws make every run differ (weight initialisation, augmentation, sampling,
    dropout masks), so a metric change between two runs cannot be told apart from noise and
    a reported result cannot be reproduced.

    ## Example
    ```python
    import numpy as np
    import torch

    idx = np.random.permutation(len(dataset))
    w = torch.randn(10, 10)
    ```

    ## Use instead
    ```python
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    idx = np.random.permutation(len(dataset))  # or: np.random.default_rng(config.seed)
    ```

    ## Options
    None.

    ## References
    - PyTorch, "Reproducibility": https://pytorch.org/docs/stable/notes/randomness.html
    - NumPy, "Random Generator": https://numpy.org/doc/stable/reference/random/generator.html
    - Catalog: `rules/unseeded-randomness.yaml` (knowledge key `randomness`).
    """

    VALID = [
        "import random\nimport torch\nrandom.seed(0)\nxs = list(range(10))\nrandom.shuffle(xs)\n",
        "import numpy as np\nimport torch\ndef main(cfg):\n    np.random.seed(cfg.seed)\n    torch.manual_seed(cfg.seed)\n"
        "    return np.random.rand(3), torch.randn(3)\n",
        "import torch\nfrom utils import set_seed\nset_seed(42)\nw = torch.randn(3, 3)\n",
        "import torch\nimport numpy as np\ndef seed_everything(s):\n    np.random.seed(s)\n"
        "x = np.random.randint(0, 10)\n",
        "import numpy as np\nimport random\nx = np.random.rand(3)\ny = random.choice([1, 2])\n",  # no ML framework
        "import torch\nimport numpy as np\nrng = np.random.default_rng(42)\ng = np.random.RandomState(seed=0)\n"
        "x = rng.normal(size=3)\n",
        "import torch.nn as nn\ndef init(m):\n    nn.init.zeros_(m.bias)\n    nn.init.constant_(m.weight, 1.0)\n",
        "import torch\nimport numpy as np\ndef f(seed):\n    return np.random.default_rng(seed)\n",
        Valid("import torch\nimport random\nrandom.shuffle(xs)\n", path="tests/test_data.py"),
    ]
    INVALID = [
        Invalid("import numpy as np\nimport torch\n\nidx = np.random.permutation(10)\nw = torch.randn(3)\n",
                line=4, column=7, confidence="medium", message_contains="numpy.random.permutation, torch.randn"),
        Invalid("from random import shuffle\nfrom sklearn.linear_model import LogisticRegression\n"
                "def load(rows):\n    shuffle(rows)\n    return rows\nif __name__ == '__main__':\n    load([])\n",
                line=4, confidence="medium", message_contains="random.shuffle"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def reset(self):\n"
                "        nn.init.xavier_uniform_(self.fc.weight)\n", line=4, confidence="low"),
        Invalid("import numpy as np\nimport torch\nrng = np.random.default_rng()\n", line=3,
                message_contains="default_rng"),
        Invalid("import random\nimport torch\nclass R:\n    def __init__(self):\n        self.rng = random.Random()\n"
                "        self.np = random.Random()\n    def reset(self, s):\n        self.rng = random.Random(s)\n"
                "        self.np.seed(s)\n        self.other = random.Random()\n", line=10),
        Invalid("import random\nimport tensorflow as tf\ntf.random.set_seed(1)\nr = random.Random(None)\n", line=4,
                message_contains="random.Random"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = RandomnessKnowledge.of(ctx.knowledge)
        self._seeded = False
        self._draws: list[tuple[cst.Call, str]] = []
        self._top_level_draw = False
        self._generators: list[tuple[cst.Call, str]] = []
        self._targets: dict[int, str] = {}  # id(call) -> the name it is assigned to
        self._assigned: dict[str, int] = {}  # name -> times assigned
        self._reseeded: set[str] = set()  # receivers of `x.seed(...)`

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            text = self.ctx.code_for(t.target)
            self._assigned[text] = self._assigned.get(text, 0) + 1
            self._targets[id(node.value)] = text

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        if self.k.is_seeding(q, node.func):
            self._seeded = True
            if isinstance(node.func, cst.Attribute):
                self._reseeded.add(self.ctx.code_for(node.func.value))
            return
        if q is None:
            return
        if self.k.is_global_draw(q):
            self._draws.append((node, q))
            self._top_level_draw = self._top_level_draw or self.ctx.function is None
        elif q in self.k.generators and not has_star_kwargs(node):
            seed = keyword(node, self.k.generators[q]) or keyword(node, "seed")
            if seed is None:
                seed = next((a for a in node.args if a.keyword is None), None)
            if seed is None or is_none(seed.value):
                self._generators.append((node, q))

    def finish(self) -> None:
        heads = {q.split(".", 1)[0] for q in self.ctx.names.aliases.values()}
        if not heads & self.k.ml_packages:
            return
        for node, q in self._generators:
            target = self._targets.get(id(node))
            if target is not None and (self._assigned.get(target, 0) > 1 or target in self._reseeded):
                continue  # `self.rng = random.Random()`, re-created with a seed or `.seed(...)` later
            self.report(node, f"`{q}()` creates a random generator without a seed: its draws differ on "
                              "every run. Pass a named seed.")
        if self._seeded or not self._draws:
            return
        calls = list(dict.fromkeys(q for _, q in self._draws))
        named = ", ".join(calls[:_MAX_NAMED]) + (f" and {len(calls) - _MAX_NAMED} more" if len(calls) > _MAX_NAMED else "")
        entry = self._top_level_draw or "__main__" in self.ctx.source
        where = ("" if entry else " Nothing here runs as a script, so a caller in another file may seed it.")
        self.report(self._draws[0][0],
                    f"Draws from the global random generator ({named}; {len(self._draws)} "
                    f"call{'s' if len(self._draws) != 1 else ''}) and nothing in this file seeds it.{where} "
                    "Seed once at the entry point (`set_seed(...)`) or pass a seeded generator.",
                    confidence=None if entry else Confidence.LOW,
                    severity=None if entry else Severity.INFO)
