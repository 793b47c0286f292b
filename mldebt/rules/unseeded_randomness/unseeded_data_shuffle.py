from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import (
    FileContext,
    Invalid,
    ProjectFinding,
    ProjectView,
    Sink,
    Valid,
)
from mldebt.rules.names import dotted
from mldebt.rules.unseeded_randomness._common import (
    has_star_kwargs,
    is_none,
    is_true,
    keyword,
)
from mldebt.rules.unseeded_randomness._project import (
    Seeding,
    SeedTracking,
    facts_of_kind,
)

_SEED_NAMES = {"torch": "`torch.manual_seed`", "tensorflow": "`tf.random.set_seed`"}


class UnseededDataShuffle(SeedTracking):
    """
    ## What it does
    Flags a data pipeline that shuffles with an unseeded random generator:
    `torch.utils.data.DataLoader(..., shuffle=True)` without `generator=`, a `RandomSampler`,
    `SubsetRandomSampler` or `random_split` without `generator=`, and `.shuffle(buffer)`
    without `seed=` on a `tf.data` dataset (a value built from `tf.data.Dataset.from_tensor_slices`,
    `list_files`, `TFRecordDataset`, `tf.keras.utils.image_dataset_from_directory`, ...,
    followed through assignments and method chains such as `.map(...).batch(...)`, or
    returned by a function of the project: `window_dataset(df).shuffle(256)` where
    `window_dataset` returns such a value). Names are resolved through imports, never
    guessed from a variable's name.

    Not flagged when the framework's global seed is reachable: `torch.manual_seed`
    (for torch), `tf.random.set_seed` (for tf.data), or a seed of everything
    (`seed_everything`, `keras.utils.set_random_seed`, `transformers.set_seed`, a project's
    `set_seed(...)`), called in the same file, or in every entry point (a script with a
    `__main__` guard, a notebook, or a module outside a package with calls at module level
    that no other module imports) that imports the module,
    directly or through a helper function of the project they call. When no entry point
    imports the module and the shuffle is inside a function (library code), it is not
    flagged: a library that shuffles with the global generator lets its user seed it (Keras'
    and Lightning's own loaders do so on purpose). `random.seed`/`np.random.seed` alone do
    not seed torch or TensorFlow. A shuffle in a method of a class whose `__init__` (or the
    `__init__` of a base class of the project, in any file) seeds the framework is seeded
    too (`class Trainer(BaseTrainer)` where `BaseTrainer.__init__` calls `init_seeds(...)`).
    Test files are skipped.

    ## Why is this bad?
    The order of the training examples changes on every run, and with it the trained model
    and its metrics: two runs cannot be compared and a result cannot be reproduced.

    ## Example
    ```python
    from torch.utils.data import DataLoader
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    ```

    ## Use instead
    ```python
    torch.manual_seed(cfg.seed)  # once, at the entry point
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    # or: DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(cfg.seed))
    ```

    ## Options
    None.

    ## References
    - PyTorch, "Reproducibility", DataLoader: https://pytorch.org/docs/stable/notes/randomness.html#dataloader
    - TensorFlow, `tf.random.set_seed`: https://www.tensorflow.org/api_docs/python/tf/random/set_seed
    - Catalog: `rules/unseeded-randomness.yaml` (knowledge `randomness.shuffles`).
    """

    VALID = [
        # library code (no entry point reaches it): shuffling with the global generator lets
        # the library's user seed it
        "from torch.utils.data import DataLoader\nclass DM:\n    def train_dataloader(self):\n"
        "        return DataLoader(self.train, shuffle=True)\n",
        "import torch\nfrom torch.utils.data import DataLoader\ntorch.manual_seed(0)\n"
        "dl = DataLoader(ds, batch_size=8, shuffle=True)\n",
        "import torch\nfrom torch.utils.data import DataLoader\ng = torch.Generator().manual_seed(0)\n"
        "dl = DataLoader(ds, shuffle=True, generator=g)\nev = DataLoader(ds, shuffle=False)\n",
        "from torch.utils.data import DataLoader\nfrom lightning import seed_everything\nseed_everything(1)\n"
        "dl = DataLoader(ds, shuffle=True)\n",
        "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000, seed=42).batch(32)\n",
        "import tensorflow as tf\ntf.random.set_seed(0)\nds = tf.data.Dataset.list_files('*.png').map(f)\nds = ds.shuffle(100)\n",
        "import tensorflow as tf\nimport random\nrows = load()\nrandom.seed(0)\nrows.shuffle(10)\n",  # not a tf dataset
        "from mylib import DataLoader\nimport torch\ndl = DataLoader(ds, shuffle=True)\n",
        "from torch.utils.data import DataLoader\nimport torch\ndef f(ds, **kw):\n    return DataLoader(ds, shuffle=True, **kw)\n",
        Valid("from torch.utils.data import DataLoader\ndl = DataLoader(ds, shuffle=True)\n", path="tests/test_loader.py"),
        # the entry point seeds; the helper module shuffles
        Valid(files={
            "train.py": "import torch\nfrom data import make_loader\nif __name__ == '__main__':\n"
                        "    torch.manual_seed(0)\n    make_loader()\n",
            "data.py": "from torch.utils.data import DataLoader\ndef make_loader():\n"
                       "    return DataLoader(ds, shuffle=True)\n",
        }, path="data.py"),
        # the base class seeds the trainer in `__init__`
        Valid(files={
            "base.py": "import torch\nclass BaseTrainer:\n    def __init__(self, seed):\n        torch.manual_seed(seed)\n",
            "trainer.py": "from torch.utils.data import DataLoader\nfrom base import BaseTrainer\n"
                          "class Trainer(BaseTrainer):\n    def loader(self, ds):\n"
                          "        return DataLoader(ds, shuffle=True)\nif __name__ == '__main__':\n    Trainer(0).fit()\n",
        }, path="trainer.py"),
    ]
    INVALID = [
        Invalid("import torch.utils.data as tud\nimport numpy as np\nnp.random.seed(0)\n"
                "dl = tud.DataLoader(ds, batch_size=8, shuffle=True)\n", line=4, column=6,
                confidence="medium", message_contains="torch.manual_seed"),
        Invalid("import torch\nfrom torch.utils.data import DataLoader, RandomSampler\n"
                "sampler = RandomSampler(ds)\ndl = DataLoader(ds, sampler=sampler)\n", line=3,
                message_contains="RandomSampler"),
        Invalid("import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices((x, y))\n"
                "ds = ds.map(parse)\nds = ds.shuffle(buffer_size=1000).batch(32)\n", line=4,
                message_contains="tf.random.set_seed"),
        Invalid("from tensorflow import keras\ntrain = keras.utils.image_dataset_from_directory(d, seed=1)\n"
                "train = train.prefetch(2).shuffle(64)\n", line=3),
        # a dataset made by a function of the project
        Invalid(files={
            "data.py": "import tensorflow as tf\ndef windows(x):\n    return tf.data.Dataset.from_tensor_slices(x).batch(8)\n",
            "train.py": "from data import windows\nimport tensorflow as tf\nif __name__ == '__main__':\n"
                        "    ds = windows(x).shuffle(64)\n",
        }, path="train.py", line=4, message_contains="`windows()` returns"),
        # the entry point does not seed: the finding is in the module that shuffles
        Invalid(files={
            "train.py": "import numpy as np\nfrom data import make_loader\nif __name__ == '__main__':\n"
                        "    np.random.seed(0)\n    make_loader()\n",
            "data.py": "from torch.utils.data import DataLoader\ndef make_loader():\n"
                       "    return DataLoader(ds, shuffle=True)\n",
        }, path="data.py", line=3, message_contains="`train.py`"),
    ]

    KIND = "mld703"

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        sh = self.k.shuffles
        self.loaders = frozenset(sh.get("torch_loaders", ()))
        self.samplers = frozenset(sh.get("torch_samplers", ()))
        self.sources = frozenset(sh.get("tf_sources", ()))
        self.methods = frozenset(sh.get("tf_methods", ()))
        self.scopes: list[dict[str, bool]] = [{}]  # name -> bound to a tf.data dataset, per function
        self._returns_dataset: set[str] = set()  # top-level functions returning a tf.data dataset

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        returns = node.returns.annotation if node.returns is not None else None
        if returns is not None and self.ctx.scope == "<module>" \
                and self.ctx.names.qualified(returns) == "tensorflow.data.Dataset":  # `-> tf.data.Dataset`
            self._returns_dataset.add(node.name.value)
        params = node.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
        self.scopes.append({p.name.value: False for p in every})  # parameters shadow module names

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def leave_Assign(self, node: cst.Assign) -> None:
        is_ds = self._dataset(node.value)
        for t in node.targets:
            key = dotted(t.target)
            if key is None:
                continue
            self.scopes[-1][key] = is_ds

    def _dataset(self, expr: cst.BaseExpression) -> bool:
        return self._source(expr) is True

    def _source(self, expr: cst.BaseExpression) -> bool | str:
        """True: a tf.data dataset; a qualified name: the result of that function of the
        project (a dataset if it returns one, judged in the project phase); False: unknown."""
        while True:
            if isinstance(expr, cst.Call):
                q = self.ctx.names.call_name(expr)
                if q is None and isinstance(expr.func, cst.Name) and expr.func.value in self.ctx.names.local_defs:
                    q = f"{self.ctx.module}.{expr.func.value}"
                if q is not None:
                    if q in self.sources:
                        return True
                    return q if q.split(".", 1)[0] not in self.k.ml_packages else False
                func = expr.func
                if isinstance(func, cst.Attribute) and func.attr.value in self.methods:
                    expr = func.value
                    continue
                return False
            key = dotted(expr)
            if key is None:
                return False
            return self.scopes[-1][key] if key in self.scopes[-1] else self.scopes[0].get(key, False)

    def visit_Return(self, node: cst.Return) -> None:
        fn = self.ctx.function
        if node.value is not None and isinstance(fn, cst.FunctionDef) and "." not in self.ctx.scope \
                and self._dataset(node.value):
            self._returns_dataset.add(fn.name.value)

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        if self.seeding(node, q) or has_star_kwargs(node):
            return
        top = self.ctx.function is None
        if q in self.loaders:
            shuffle = keyword(node, "shuffle")
            positional = [a for a in node.args if a.keyword is None]
            if len(positional) >= 3 and shuffle is None:
                shuffle = positional[2]  # DataLoader(ds, 32, True)
            if shuffle is not None and is_true(shuffle.value) and not _given(node, "generator"):
                self._shuffle(node, "torch", "`DataLoader(shuffle=True)` without `generator=`", top)
        elif q is not None and q in self.samplers:
            if not _given(node, "generator"):
                self._shuffle(node, "torch", f"`{q.rpartition('.')[2]}` without `generator=`", top)
        elif q is None and isinstance(node.func, cst.Attribute) and node.func.attr.value == "shuffle":
            positional = [a for a in node.args if a.keyword is None]
            if node.args and len(positional) < 2 and not _given(node, "seed"):
                source = self._source(node.func.value)
                if source is True:
                    self._shuffle(node, "tensorflow", "`tf.data.Dataset.shuffle` without `seed=`", top)
                elif isinstance(source, str) and not self.ctx.is_test and self.is_ml():
                    self.fact(f"{self.KIND}:shuffle-of", node, callee=source, top=top, script=self._script(),
                              cls=None if top else self.cls)

    def _script(self) -> bool:
        return self.ctx.path.endswith(".ipynb") or "__main__" in self.ctx.source

    def _shuffle(self, node: cst.Call, framework: str, what: str, top: bool) -> None:
        if not self.ctx.is_test:
            self.fact(f"{self.KIND}:shuffle", node, framework=framework, what=what, top=top, script=self._script(),
                      cls=None if top else self.cls)

    def finish(self) -> None:
        super().finish()
        if self._returns_dataset:
            self.fact(f"{self.KIND}:datasets", None, functions=sorted(self._returns_dataset))

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        seeding = Seeding.of(project)
        returning = {f"{ff.module}.{fn}" for ff, fact in facts_of_kind(project, f"{cls.KIND}:datasets")
                     for fn in fact.data["functions"]}
        found = list(facts_of_kind(project, f"{cls.KIND}:shuffle"))
        for ff, fact in facts_of_kind(project, f"{cls.KIND}:shuffle-of"):  # `make_dataset(...).shuffle(n)`
            if fact.data["callee"] in returning:
                found.append((ff, dataclasses.replace(fact, data={
                    **fact.data, "framework": "tensorflow",
                    "what": "`tf.data.Dataset.shuffle` without `seed=` (on the dataset "
                            f"`{fact.data['callee'].rpartition('.')[2]}()` returns)"})))
        for ff, fact in found:
            fw = fact.data["framework"]
            top = fact.data["top"]
            v = seeding.verdict(ff.module, fw, False)
            if v.seeded:
                continue
            owner = fact.data.get("cls")
            if owner is not None and seeding.class_covers(f"{ff.module}.{owner}", fw):
                continue  # the class, or a base class of the project, seeds in `__init__`
            if not (top or fact.data["script"] or v.has_entries):
                continue  # library code: shuffling with the global generator lets its user seed it
            where = (f" `{v.unseeded_entry}`, which imports this module, runs as a script and does not seed it either."
                     if v.unseeded_entry is not None else "")
            yield ProjectFinding(
                ff.path, fact.location,
                f"{fact.data['what']} shuffles the data differently on every run, and nothing in this file "
                f"seeds the global generator ({_SEED_NAMES.get(fw, fw)}).{where} Seed it once at the "
                "entry point or pass a seeded generator.")


def _given(node: cst.Call, name: str) -> bool:
    arg = keyword(node, name)
    return arg is not None and not is_none(arg.value)
