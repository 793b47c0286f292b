from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from mldebt.model import Fact, Location
from mldebt.rules.base import (
    FileContext,
    FileFacts,
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
    last_name,
    seeded_call,
)
from mldebt.rules.unseeded_randomness._project import (
    Seeding,
    SeedTracking,
    facts_of_kind,
    framework_of,
)

_MAX_NAMED = 4
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# a function (or class) with one of these words in its name draws throwaway inputs
_THROWAWAY_SCOPES = frozenset({"warmup", "benchmark", "benchmarks", "export", "trace", "profile", "dummy"})
# ... unless the name also says it trains or handles data (`warmup_epoch`, `read_export`)
_REAL_WORK = frozenset({"train", "training", "epoch", "epochs", "step", "fit", "lr", "loss", "data", "dataset",
                        "read", "load", "sample", "samples", "split", "batch", "augment"})
# a draw passed to one of these calls (`torch.onnx.export(m, torch.randn(...))`, `torch.jit.trace`)
_THROWAWAY_CALLS = frozenset({"export", "trace", "warmup", "benchmark", "profile"})
# a draw assigned to such a name, or on a line whose comment says so
_THROWAWAY_NAMES = frozenset({"dummy", "placeholder", "warmup", "example"})
_THROWAWAY_COMMENTS = frozenset({"dummy", "placeholder", "warmup"})
# a predicate probing what the hardware or a library supports (`is_fp16_available_on_device`)
_PROBE_PREFIXES = ("is_", "has_", "can_", "supports_", "check_")
_SEED_PARAMS = frozenset({"random_state", "seed", "rng", "random_seed"})
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
    an entry point's seed, so only the module's own seed counts for them. A draw in a method
    of a class whose `__init__` seeds, or the `__init__` of one of its base classes of the
    project (in any file: `class DetectionTrainer(BaseTrainer)` where `BaseTrainer.__init__`
    calls `init_seeds(...)`), directly or through a helper, is seeded: the object exists
    only after the seed.

    Not flagged either:
    - library code: draws inside functions of a module that no entry point of the project
      reaches directly (an installable package's internals). Drawing from the global
      generator is how a library lets its user's seed apply; judged on transformers, timm
      and Keras, none of those findings was worth acting on. Generators created inside such
      functions (a fallback when no seed is given) are not flagged either; one created at
      module level is, since no caller can seed it;
    - throwaway inputs whose values do not matter: a draw in a function (or class) whose
      name says it warms up, traces, exports, benchmarks or profiles a model, or probes what
      the hardware supports (`is_fp16_available_on_device`, `has_*`, `can_*`, `supports_*`,
      `check_*`) (`warmup`,
      `onnx_export`, `profile_onnx_model`, `benchmark`, `trace`, `dummy`; not when the name
      also says it trains or handles data: `warmup_epoch`, `read_export`), a draw passed to
      such a call (`torch.onnx.export(model, torch.randn(1, 3, 224, 224), f)`,
      `torch.jit.trace(model, torch.rand(...))`), assigned to a name saying so
      (`dummy_input`, `example_input`, `warmup_boxes`, `placeholder`), or on a line whose
      comment says it is a dummy, a placeholder or a warm-up (`# features placeholder`);

    Also flags, each time, a generator created without a seed: `np.random.default_rng()`,
    `np.random.RandomState()`, `random.Random()` (or with `None`),
    `tf.random.Generator.from_non_deterministic_state()`, unless the name it is
    assigned to is assigned again in the same function (an attribute: in the file) or
    seeded with `.seed(...)`, or it is the default of a parameter (callers can pass one), or
    it honours a caller's `random_state=None`: it is created in a function that takes
    `random_state`, `seed`, `rng` or `random_seed`, or stored in a `random_state` attribute
    (`cv.random_state = np.random.RandomState()`, scikit-learn's documented behaviour).

    So a finding is in a script (a `__main__` guard, a notebook), at module level, or in a
    module imported directly by an entry point that does not seed (the message names it):
    the entry point imports the module, or imports by name a module that imports it, not
    through a package's `__init__` re-exports (a small command-line utility of a library
    reaches most of the library through long import chains). Test files are skipped.

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
        # library code no script reaches: the global generator is its user's to seed
        "import torch\nclass Jitter:\n    def __call__(self, x):\n        return x + torch.randn_like(x)\n",
        "import numpy as np\nimport torch\ndef sample(n, seed=None):\n    rng = np.random.default_rng(seed)\n"
        "    fallback = np.random.default_rng()\n    return rng.normal(size=n), fallback\n",
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
        # throwaway inputs: exported, traced, warm-up, placeholder (in scripts, which do not seed)
        "import torch\ndef save(model, path):\n    torch.onnx.export(model, torch.randn(1, 3, 224, 224), path)\n"
        "if __name__ == '__main__':\n    save(m, 'm.onnx')\n",
        "import torch\ndef convert(model):\n    dummy_input = torch.randn(1, 3, 32, 32)\n"
        "    return torch.jit.trace(model, dummy_input)\nif __name__ == '__main__':\n    convert(m)\n",
        "import torch\ndef is_fp16_available_on_device(device):\n    x = torch.randn(3, 4, device=device)\n"
        "    return bool(torch.nn.LayerNorm(4)(x).isfinite().all())\nif __name__ == '__main__':\n"
        "    print(is_fp16_available_on_device('cpu'))\n",
        "import torch\nclass Backend:\n    def warmup(self):\n        boxes = torch.rand(1, 84, 16)\n"
        "        self.nms(boxes)\nif __name__ == '__main__':\n    Backend().warmup()\n",
        "import torch\nclass World:\n    def __init__(self):\n        self.txt = torch.randn(1, 80, 512)  # features placeholder\n"
        "if __name__ == '__main__':\n    World()\n",
        # seeded by the `__init__` of a base class of the project, in another file
        Valid(files={
            "base.py": "import torch\nfrom utils import init_seeds\nclass BaseTrainer:\n"
                       "    def __init__(self, cfg):\n        init_seeds(cfg.seed)\n",
            "train.py": "import random\nimport torch\nfrom base import BaseTrainer\nclass DetTrainer(BaseTrainer):\n"
                        "    def scale(self, b):\n        return random.randrange(320, 640)\n"
                        "if __name__ == '__main__':\n    DetTrainer(cfg).train()\n",
        }, path="train.py"),
        # a library honouring the caller's `random_state=None`
        "import numpy as np\nimport torch\ndef fit(X, random_state=None):\n"
        "    rng = np.random.RandomState() if random_state is None else random_state\n    return rng\n",
        "import numpy as np\nimport sklearn\ndef fit(cv):\n    cv.random_state = np.random.RandomState()\n",
        # weight initialisation in a library (an `nn.Module`'s constructor, an init function)
        "import torch\nimport torch.nn as nn\nclass Block(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.w = nn.Parameter(torch.randn(3, 3))\n"
        "        nn.init.xavier_uniform_(self.w)\n    def reset_parameters(self):\n"
        "        nn.init.normal_(self.w)\ndef _init_weights(m):\n    nn.init.trunc_normal_(m.weight, std=.02)\n",
        Valid(files={
            "base.py": "import torch.nn as nn\nclass Base(nn.Module):\n    pass\n",
            "layer.py": "import torch\nfrom base import Base\nclass Block(Base):\n    def __init__(self):\n"
                        "        self.w = torch.randn(3)\n",
        }, path="layer.py"),
    ]
    INVALID = [
        Invalid("import numpy as np\nimport torch\n\nidx = np.random.permutation(10)\nw = torch.randn(3)\n",
                line=4, column=7, confidence="medium", message_contains="(numpy.random.permutation; 1 call)"),
        Invalid("from random import shuffle\nfrom sklearn.linear_model import LogisticRegression\n"
                "def load(rows):\n    shuffle(rows)\n    return rows\nif __name__ == '__main__':\n    load([])\n",
                line=4, confidence="medium", message_contains="random.shuffle"),
        Invalid("import torch\nclass Jitter:\n    def __call__(self, x):\n"
                "        return x + torch.randn_like(x)\nif __name__ == '__main__':\n    Jitter()(x)\n",
                line=4, confidence="medium"),
        # weight initialisation in a script: the script builds the model and does not seed
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                "        nn.init.xavier_uniform_(self.fc.weight)\nif __name__ == '__main__':\n    Net()\n",
                line=4, confidence="medium"),
        Invalid("import numpy as np\nimport torch\nrng = np.random.default_rng()\n", line=3,
                message_contains="default_rng"),
        Invalid("import random\nimport torch\nclass R:\n    def __init__(self):\n        self.rng = random.Random()\n"
                "        self.np = random.Random()\n    def reset(self, s):\n        self.rng = random.Random(s)\n"
                "        self.np.seed(s)\n        self.other = random.Random()\nif __name__ == '__main__':\n    R()\n",
                line=10),
        Invalid("import random\nimport tensorflow as tf\ntf.random.set_seed(1)\nr = random.Random(None)\n", line=4,
                message_contains="random.Random"),
        Invalid("import tensorflow as tf\nimport numpy as np\nnp.random.seed(0)\n"
                "noise = tf.random.normal([4, 8])\nw = tf.keras.initializers.GlorotUniform()\n", line=4,
                message_contains="tensorflow.random.normal, tensorflow.keras.initializers.GlorotUniform; 2 calls"),
        # look-alikes: a draw used for training in a script, next to an export; the base
        # class seeds outside `__init__`; a random matrix in a constructor of a non-module
        Invalid("import torch\ndef step(model, x):\n    noise = torch.randn_like(x)  # augmentation\n"
                "    torch.onnx.export(model, x, 'm.onnx')\n    return model(x + noise)\n"
                "if __name__ == '__main__':\n    step(m, x)\n", line=3, confidence="medium"),
        Invalid(files={
            "base.py": "import torch\nclass BaseTrainer:\n    def setup(self, cfg):\n        torch.manual_seed(cfg.seed)\n",
            "train.py": "import random\nimport torch\nfrom base import BaseTrainer\nclass DetTrainer(BaseTrainer):\n"
                        "    def scale(self, b):\n        return random.randrange(320, 640)\n"
                        "if __name__ == '__main__':\n    DetTrainer().train()\n",
        }, path="train.py", line=6, confidence="medium"),
        Invalid("import numpy as np\nimport torch\nclass Sampler:\n    def __init__(self, n):\n"
                "        self.idx = np.random.permutation(n)\nif __name__ == '__main__':\n    Sampler(3)\n",
                line=5, confidence="medium"),
        # the helper module's entry point does not seed
        Invalid(files={
            "train.py": "from aug import jitter\nif __name__ == '__main__':\n    jitter([1.0])\n",
            "aug.py": "import numpy as np\nimport torch\ndef jitter(x):\n    return x + np.random.normal(0, 0.1)\n",
        }, path="aug.py", line=4, confidence="medium", message_contains="`train.py`"),
    ]

    KIND = "mld702"

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        # (framework, module level, enclosing class, weight init) -> calls drawn
        self._groups: dict[tuple[str, bool, str | None], list[str]] = {}
        self._generators = 0
        self._defaults: set[int] = set()  # parameter defaults
        self._skip: list[int] = []  # generators re-created with a seed later
        self._pending: list[tuple[int, str]] = []  # generator index, the name it is assigned to
        self._targets: dict[int, str] = {}  # id(call) -> the name it is assigned to
        self._assigned: dict[str, int] = {}  # name -> times assigned
        self._reseeded: set[str] = set()  # receivers of `x.seed(...)`
        self._assigning: list[list[str]] = []  # the targets of the enclosing assignments
        self._calling: list[str] = []  # the names of the enclosing calls
        self._comment: list[str] = []  # the trailing comment of the enclosing statement line

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:  # `def grow(rng=np.random.default_rng())`: the caller may pass one
            self._defaults.add(id(node.default))

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        comment = node.trailing_whitespace.comment
        self._comment.append(comment.value if comment is not None else "")

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._comment.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        names = []
        for t in node.targets:
            text = self.ctx.code_for(t.target)
            names.append(text)
            if isinstance(t.target, cst.Name):  # a local name: re-created in the same function only
                text = f"{self.ctx.scope}:{text}"
            self._assigned[text] = self._assigned.get(text, 0) + 1
            self._targets[id(node.value)] = text
        self._assigning.append(names)

    def leave_Assign(self, node: cst.Assign) -> None:
        self._assigning.pop()

    def leave_Call(self, node: cst.Call) -> None:
        self._calling.pop()

    def _throwaway(self) -> bool:
        """A draw whose values do not matter: a dummy input to warm up, trace, export,
        benchmark or profile a model, or a placeholder (see the docstring)."""
        for part in self.ctx.scope.split("."):
            words = _words(part)
            if (words & _THROWAWAY_SCOPES or "warmup" in part.lower()) and not words & _REAL_WORK:
                return True
            if part.lower().startswith(_PROBE_PREFIXES):
                return True
        if any(_words(name) & _THROWAWAY_CALLS for name in self._calling[:-1]):  # not the draw itself
            return True
        targets = [t.rpartition(".")[2] for names in self._assigning for t in names]
        if any(_words(t) & _THROWAWAY_NAMES for t in targets):
            return True
        return bool(self._comment) and bool(_words(self._comment[-1]) & _THROWAWAY_COMMENTS)

    def _generator_honours_caller(self) -> bool:
        """`np.random.RandomState()` made for a caller's `random_state=None`: in a function
        taking `random_state`/`seed`/`rng`, or stored in a `random_state` attribute."""
        if any(t.rpartition(".")[2].endswith("random_state") for names in self._assigning for t in names):
            return True
        fn = self.ctx.function
        if not isinstance(fn, cst.FunctionDef):
            return False
        p = fn.params
        params = [*p.posonly_params, *p.params, *p.kwonly_params]
        return any(x.name.value in _SEED_PARAMS for x in params)

    def visit_Call(self, node: cst.Call) -> None:
        name = last_name(node.func)
        self._calling.append(name or "")
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
            if not seeded_call(node) and not self._throwaway():
                top = self.ctx.function is None
                key = (framework_of(q), top, None if top else self.cls)
                if key not in self._groups:  # the group's first draw locates it
                    self._groups[key] = []
                    self.fact(f"{self.KIND}:draw", node, framework=key[0], top=top, index=len(self._groups) - 1)
                self._groups[key].append(q)
        elif q in self.k.generators and not has_star_kwargs(node) and id(node) not in self._defaults:
            seed = keyword(node, self.k.generators[q]) or keyword(node, "seed")
            if seed is None:
                seed = next((a for a in node.args if a.keyword is None), None)
            if (seed is None or is_none(seed.value)) and not self._generator_honours_caller():
                target = self._targets.get(id(node))
                if target is not None:
                    self._pending.append((self._generators, target))
                self.fact(f"{self.KIND}:generator", node, qualified=q, index=self._generators,
                          top=self.ctx.function is None and self.ctx.scope == "<module>")
                self._generators += 1

    def finish(self) -> None:
        super().finish()
        # `self.rng = random.Random()`, re-created with a seed or `.seed(...)` later
        skip = [i for i, target in self._pending if self._assigned.get(target, 0) > 1 or target in self._reseeded]
        script = self.ctx.path.endswith(".ipynb") or "__main__" in self.ctx.source
        self.fact(f"{self.KIND}:draws", None, ml=self.is_ml(), skip=skip, script=script,
                  groups=[[fw, top, cls, list(dict.fromkeys(calls)), len(calls)]
                          for (fw, top, cls), calls in self._groups.items()])

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        seeding = Seeding.of(project)
        summary = {ff.path: fact.data for ff, fact in facts_of_kind(project, f"{cls.KIND}:draws")}
        for ff, fact in facts_of_kind(project, f"{cls.KIND}:generator"):
            s = summary.get(ff.path)
            if s is None or not s["ml"] or fact.data["index"] in s["skip"]:
                continue
            if not (fact.data.get("top") or s["script"] or seeding.verdict(ff.module, None, False).has_entries):
                continue  # library code: a generator made in a function (a fallback) is its caller's to seed
            yield ProjectFinding(ff.path, fact.location,
                                 f"`{fact.data['qualified']}()` creates a random generator without a seed: its "
                                 "draws differ on every run. Pass a named seed.")
        draws: dict[tuple[str, str], list[tuple[FileFacts, Fact, Location]]] = {}
        for ff, fact in facts_of_kind(project, f"{cls.KIND}:draw"):
            if fact.location is not None:
                draws.setdefault((ff.path, fact.data["framework"]), []).append((ff, fact, fact.location))
        for (path, fw), found in draws.items():
            s = summary.get(path)
            if s is None or not s["ml"]:
                continue
            module = found[0][0].module
            top = any(fact.data["top"] for _, fact, _ in found)
            framework = "tensorflow" if fw == "tensorflow" else None
            v = seeding.verdict(module, framework, top)
            if v.seeded:
                continue
            entry = top or s["script"] or v.has_entries
            if not entry:
                # library code no script reaches: drawing from the global generator is how a
                # library lets its user's seed apply (judged on transformers: 0 of 20 worth acting on)
                continue
            kept = []  # (fact, location, calls, count) of the draws no object or constructor seeds
            for _, fact, location in found:
                _, _, gcls, calls, count = s["groups"][fact.data["index"]]
                if gcls is not None and seeding.class_covers(f"{module}.{gcls}", framework):
                    continue  # the class, or a base class, seeds in `__init__`
                kept.append((fact, location, calls, count))
            if not kept:
                continue
            first = next((k for k in kept if k[0].data["top"]), None) or min(
                kept, key=lambda k: (k[1].line, k[1].column))
            calls = list(dict.fromkeys(c for _, _, cs, _ in kept for c in cs))
            count = sum(n for _, _, _, n in kept)
            named = ", ".join(calls[:_MAX_NAMED]) + (f" and {len(calls) - _MAX_NAMED} more" if len(calls) > _MAX_NAMED else "")
            where = (f" `{v.unseeded_entry}`, which imports it, runs as a script and does not seed it either."
                     if v.unseeded_entry is not None else "")
            what = "TensorFlow's global seed (`tf.random.set_seed`)" if fw == "tensorflow" else "it"
            yield ProjectFinding(
                path, first[1],
                f"Draws from the global random generator of `{_LABELS.get(fw, fw)}` ({named}; {count} "
                f"call{'s' if count != 1 else ''}) and nothing in this file seeds {what}.{where} "
                "Seed once at the entry point (`set_seed(...)`) or pass a seeded generator.")


def _words(text: str) -> set[str]:
    """The lower-case words of an identifier or a comment (`dummy_input`, `exportModel`)."""
    return {w.lower() for w in _WORD.findall(text)}
