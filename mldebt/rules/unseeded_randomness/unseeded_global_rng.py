from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from mldebt.model import Confidence, Severity
from mldebt.rules.base import (
    FileContext,
    Invalid,
    ProjectFinding,
    ProjectView,
    Sink,
    Valid,
)
from mldebt.rules.unseeded_randomness._common import (
    has_star_kwargs,
    is_none,
    keyword,
    seeded_call,
)
from mldebt.rules.unseeded_randomness._project import (
    Seeding,
    SeedTracking,
    facts_of_kind,
    framework_of,
)

_MAX_NAMED = 4
_LABELS = {"random": "random", "numpy": "numpy.random", "torch": "torch", "tensorflow": "TensorFlow",
           "keras": "Keras"}


class UnseededGlobalRng(SeedTracking):
    """
    ## What it does
    Flags training or evaluation code (a file that imports an ML framework: scikit-learn,
    torch, TensorFlow/Keras, JAX, XGBoost, LightGBM, ...) that draws from a module-level
    random number generator with no seed reachable: `random.random()`,
    `random.shuffle(xs)`, legacy `np.random.rand/randn/randint/choice/shuffle/permutation/...`,
    `torch.rand/randn/randint/randperm/...`, the random `torch.nn.init.*` initialisers,
    `tf.random.normal/uniform/shuffle/...` and the random Keras initialisers
    (`tf.keras.initializers.GlorotUniform()`, ...). A draw given its own `seed=` or
    `generator=` is not a global draw. One finding per generator (`random`, `numpy.random`,
    `torch`, TensorFlow) and file, at its first unseeded draw, naming the calls drawn.

    A seed is reachable when the file itself seeds (anywhere: `random.seed`, `np.random.seed`,
    `torch.manual_seed`, `tf.random.set_seed`, `keras.utils.set_random_seed`,
    `seed_everything`, `transformers.set_seed`, or any called function whose name contains
    `seed`, such as a project's own `set_seed(...)`), or when every entry point that imports
    the module, directly or through other modules, seeds: an entry point is a script with a
    `__main__` guard, a notebook, or a module outside a package that calls functions at module
    level and that no other module of the project imports; it
    seeds when it calls a seeding function or a function of the project that seeds
    (`utils.setup(cfg)` whose body calls `torch.manual_seed`). TensorFlow draws need a
    TensorFlow seed (`tf.random.set_seed`, `keras.utils.set_random_seed`, or a seed of
    everything); any seed counts for the others. Draws at module level run on import, before
    an entry point's seed, so only the module's own seed counts for them.

    Also flags, each time, a generator created without a seed: `np.random.default_rng()`,
    `np.random.RandomState()`, `random.Random()` (or with `None`),
    `tf.random.Generator.from_non_deterministic_state()`, unless the name it is
    assigned to is assigned again in the same function (an attribute: in the file) or
    seeded with `.seed(...)`, or it is the default of a parameter (callers can pass one).

    The finding has medium confidence when the file runs as a script (a `__main__` guard),
    draws at module level, or is imported by an entry point that does not seed (the message
    names it); when the draws are all inside functions of a module no entry point imports, a
    caller elsewhere may seed them, and the finding has low confidence (severity info). Test
    files are skipped.

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
        "import tensorflow as tf\nx = tf.random.normal([3], seed=1)\ny = tf.random.stateless_uniform([3], seed=(1, 2))\n"
        "z = tf.keras.initializers.HeNormal(seed=0)\nb = tf.keras.initializers.Zeros()\n",
        "import tensorflow as tf\ntf.keras.utils.set_random_seed(7)\nx = tf.random.uniform([2])\n",
        "import torch\ng = torch.Generator().manual_seed(1)\nw = torch.randn(3, generator=g)\n",
        "import numpy as np\nimport torch\ndef grow(X, rng=np.random.default_rng()):\n    return rng.permutation(X)\n",
        # seeded once at the entry point, through a helper of the project
        Valid(files={
            "train.py": "from utils import setup\nfrom aug import jitter\nif __name__ == '__main__':\n"
                        "    setup(3)\n    jitter([1.0])\n",
            "utils.py": "import torch\ndef setup(s):\n    torch.manual_seed(s)\n",
            "aug.py": "import numpy as np\nimport torch\ndef jitter(x):\n    return x + np.random.normal(0, 0.1)\n",
        }, path="aug.py"),
    ]
    INVALID = [
        Invalid("import numpy as np\nimport torch\n\nidx = np.random.permutation(10)\nw = torch.randn(3)\n",
                line=4, column=7, confidence="medium", message_contains="(numpy.random.permutation; 1 call)"),
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
        Invalid("import tensorflow as tf\nimport numpy as np\nnp.random.seed(0)\n"
                "noise = tf.random.normal([4, 8])\nw = tf.keras.initializers.GlorotUniform()\n", line=4,
                message_contains="tensorflow.random.normal, tensorflow.keras.initializers.GlorotUniform; 2 calls"),
        # the helper module's entry point does not seed
        Invalid(files={
            "train.py": "from aug import jitter\nif __name__ == '__main__':\n    jitter([1.0])\n",
            "aug.py": "import numpy as np\nimport torch\ndef jitter(x):\n    return x + np.random.normal(0, 0.1)\n",
        }, path="aug.py", line=4, confidence="medium", message_contains="`train.py`"),
    ]

    KIND = "mld702"

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self._groups: dict[tuple[str, bool], list[str]] = {}  # (framework, module level) -> calls drawn
        self._generators = 0
        self._defaults: set[int] = set()  # parameter defaults
        self._skip: list[int] = []  # generators re-created with a seed later
        self._pending: list[tuple[int, str]] = []  # generator index, the name it is assigned to
        self._targets: dict[int, str] = {}  # id(call) -> the name it is assigned to
        self._assigned: dict[str, int] = {}  # name -> times assigned
        self._reseeded: set[str] = set()  # receivers of `x.seed(...)`

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:  # `def grow(rng=np.random.default_rng())`: the caller may pass one
            self._defaults.add(id(node.default))

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            text = self.ctx.code_for(t.target)
            if isinstance(t.target, cst.Name):  # a local name: re-created in the same function only
                text = f"{self.ctx.scope}:{text}"
            self._assigned[text] = self._assigned.get(text, 0) + 1
            self._targets[id(node.value)] = text

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        if self.seeding(node, q):
            if isinstance(node.func, cst.Attribute):
                receiver = node.func.value
                text = self.ctx.code_for(receiver)
                self._reseeded.add(f"{self.ctx.scope}:{text}" if isinstance(receiver, cst.Name) else text)
            return
        if q is None:
            return
        if self.ctx.is_test:
            return
        if self.k.is_global_draw(q):
            if not seeded_call(node):
                key = (framework_of(q), self.ctx.function is None)
                if key not in self._groups:  # the group's first draw locates its finding
                    self._groups[key] = []
                    self.fact(f"{self.KIND}:draw", node, framework=key[0], top=key[1])
                self._groups[key].append(q)
        elif q in self.k.generators and not has_star_kwargs(node) and id(node) not in self._defaults:
            seed = keyword(node, self.k.generators[q]) or keyword(node, "seed")
            if seed is None:
                seed = next((a for a in node.args if a.keyword is None), None)
            if seed is None or is_none(seed.value):
                target = self._targets.get(id(node))
                if target is not None:
                    self._pending.append((self._generators, target))
                self.fact(f"{self.KIND}:generator", node, qualified=q, index=self._generators)
                self._generators += 1

    def finish(self) -> None:
        super().finish()
        # `self.rng = random.Random()`, re-created with a seed or `.seed(...)` later
        skip = [i for i, target in self._pending if self._assigned.get(target, 0) > 1 or target in self._reseeded]
        script = self.ctx.path.endswith(".ipynb") or "__main__" in self.ctx.source
        self.fact(f"{self.KIND}:draws", None, ml=self.is_ml(), skip=skip, script=script,
                  groups=[[fw, top, list(dict.fromkeys(calls)), len(calls)]
                          for (fw, top), calls in self._groups.items()])

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        seeding = Seeding(project, f"{cls.KIND}:file")
        summary = {ff.path: fact.data for ff, fact in facts_of_kind(project, f"{cls.KIND}:draws")}
        for ff, fact in facts_of_kind(project, f"{cls.KIND}:generator"):
            s = summary.get(ff.path)
            if s is None or not s["ml"] or fact.data["index"] in s["skip"]:
                continue
            yield ProjectFinding(ff.path, fact.location,
                                 f"`{fact.data['qualified']}()` creates a random generator without a seed: its "
                                 "draws differ on every run. Pass a named seed.")
        for ff, fact in facts_of_kind(project, f"{cls.KIND}:draw"):
            s = summary.get(ff.path)
            if s is None or not s["ml"]:
                continue
            fw, top = fact.data["framework"], fact.data["top"]
            v = seeding.verdict(ff.module, "tensorflow" if fw == "tensorflow" else None, top)
            if v.seeded:
                continue
            # the draws of this generator in the file: at module level and in functions alike
            groups = [(calls, count) for gfw, _, calls, count in s["groups"] if gfw == fw]
            calls = list(dict.fromkeys(c for cs, _ in groups for c in cs))
            count = sum(n for _, n in groups)
            if not top and any(gfw == fw and gtop for gfw, gtop, _, _ in s["groups"]):
                continue  # reported once, at the module-level draw
            named = ", ".join(calls[:_MAX_NAMED]) + (f" and {len(calls) - _MAX_NAMED} more" if len(calls) > _MAX_NAMED else "")
            entry = top or s["script"] or v.has_entries
            if v.unseeded_entry is not None:
                where = f" `{v.unseeded_entry}`, which imports it, runs as a script and does not seed it either."
            elif not entry:
                where = " Nothing here runs as a script, so a caller in another file may seed it."
            else:
                where = ""
            what = "TensorFlow's global seed (`tf.random.set_seed`)" if fw == "tensorflow" else "it"
            yield ProjectFinding(
                ff.path, fact.location,
                f"Draws from the global random generator of `{_LABELS.get(fw, fw)}` ({named}; {count} "
                f"call{'s' if count != 1 else ''}) and nothing in this file seeds {what}.{where} "
                "Seed once at the entry point (`set_seed(...)`) or pass a seeded generator.",
                confidence=None if entry else Confidence.LOW,
                severity=None if entry else Severity.INFO)
