from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import (
    FileContext,
    Invalid,
    ProjectFinding,
    ProjectRule,
    ProjectView,
    Sink,
    Valid,
)
from mldebt.rules.configuration_debt._common import (
    ConfigKnowledge,
    canonical,
    join_names,
    keyword_args,
    literal_value,
    positional_args,
)
from mldebt.rules.names import dotted

_FILE = "hyperparameter:file"
_CALL = "hyperparameter:call"
_OPTIMIZER_ATTRS = frozenset({"param_groups", "state", "defaults"})


class HardCodedHyperparameter(ProjectRule):
    """
    ## What it does
    Flags a numeric literal hyper-parameter (learning rate, epochs, batch size, number of
    trees, depth, layer width, dropout, weight decay, momentum, warm-up steps, `C`, `alpha`,
    `num_leaves`, ...) passed, by keyword or by position, to a model, layer, optimizer,
    scheduler, trainer, `DataLoader` or estimator of a known framework (torch, lightning,
    transformers, scikit-learn, XGBoost, LightGBM, CatBoost, Keras), or written in the params
    dict of `lgb.train`/`xgb.train` (or a dict literal unpacked with `**`), or given to
    `model.fit(epochs=..., batch_size=...)` of a provably Keras model. Callees are resolved
    through the file's imports. One finding per call, at the line where the call starts,
    naming each literal.

    It fires only where a configuration could carry the value:

    - the same file already uses a configuration mechanism: argparse, click, typer, fire,
      Hydra/OmegaConf, absl flags, a YAML/TOML/config-file load, a config dataclass, or a
      `cfg`/`config`/`args`/`hparams` object whose attributes feed other calls;
    - or the same parameter of the same callable has the same literal value in two or more
      files (the value is configuration copied around); layer constructors (`torch.nn.*`,
      `keras.layers.*`) do not count here: a model zoo repeats widths by design;
    - or (low confidence) another file of the project reads a config file that is in the
      repository (`open("config.yaml")`, `OmegaConf.load("conf/train.yaml")`) or runs a
      Hydra app (`@hydra.main`), unless this file is a small one-off script that imports no
      module of the project and that none imports.

    Layer sizes (widths, heads, channels: every argument of a `torch.nn`/`keras.layers`
    constructor but its dropout rate) count only in training or experiment code: a file with
    an entry point (`if __name__ == "__main__"`, `main()`), a command line or config file of
    its own, a training loop (`loss.backward()`, `fit(...)`, `training_step`), or config
    reads all by key, like a loaded file (`cfg["units"]`). A model definition sized by the
    config object passed in (`nn.Linear(config.hidden_size, 512)` in a modeling module)
    hard-codes the constants of its published architecture by design; its dropout rates are
    still reported, with low confidence, when the config object carries dropout rates too
    (`config.hidden_dropout_prob`). Notebooks count as scripts. Illustrative code
    (`examples/`, `demos/`, `docs/`, `benchmarks/`) fires only on a configuration mechanism
    of its own.

    Not flagged: defaults of function parameters (`def train(lr=1e-3)`: that is
    configuration), names (`lr=LEARNING_RATE`, `lr=cfg.lr`), the literals 0 and 1 and
    booleans, `random_state`/`seed`, run settings (`n_jobs`, `num_workers`, `verbose`),
    layer sizes below 8 (coordinates, RGB channels: data shapes), kernel sizes, calls that
    are not hyper-parameter calls (`torch.zeros(3, 4)`, `range(10)`), a framework's own code
    (scikit-learn calling its own estimators), and test files. The callables and their
    hyper-parameters are the `config_debt` knowledge entry.

    ## Why is this bad?
    A value buried in a call cannot be changed, swept or recorded without editing code, and
    a copy of it in another file drifts. Sculley et al. call this configuration debt: the
    configuration of an ML system should be as easy to change, review and diff as code.

    ## Example
    ```python
    args = parser.parse_args()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    ```

    ## Use instead
    ```python
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    args = parser.parse_args()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    ```

    ## Options
    None. Which callables take which hyper-parameters is `config_debt` in
    `rules/configuration-debt.yaml`.

    ## References
    - Sculley et al. 2015, section 6, "Configuration Debt".
    - Catalog: `rules/configuration-debt.yaml` (knowledge key `config_debt`).
    """

    VALID = [
        # a function parameter default is configuration
        "import argparse\nimport torch\nparser = argparse.ArgumentParser()\n"
        "def make(model, lr=1e-3):\n    return torch.optim.Adam(model.parameters(), lr=lr)\n",
        # named constants, config values, 0/1/booleans, seeds, run settings
        "import argparse\nimport torch\nfrom torch.utils.data import DataLoader\nLR = 3e-4\n"
        "args = argparse.ArgumentParser().parse_args()\nopt = torch.optim.Adam(m.parameters(), lr=LR)\n"
        "dl = DataLoader(ds, batch_size=args.batch_size, num_workers=4, shuffle=True)\n"
        "sgd = torch.optim.SGD(m.parameters(), args.lr, momentum=0)\n",
        "import argparse\nfrom sklearn.ensemble import RandomForestClassifier\nargs = argparse.ArgumentParser().parse_args()\n"
        "clf = RandomForestClassifier(n_estimators=args.n, random_state=42, n_jobs=8, verbose=1)\n",
        # not hyper-parameter calls
        "import argparse\nimport torch\nargs = argparse.ArgumentParser().parse_args()\n"
        "x = torch.zeros(3, 4)\nfor i in range(10):\n    pass\nlayer = torch.nn.Linear(in_features, out_features)\n",
        # a one-off script with no configuration mechanism
        "import torch\nfrom torch import nn\nnet = nn.Linear(512, 256)\nopt = torch.optim.Adam(net.parameters(), lr=1e-3)\n",
        # a look-alike outside the frameworks
        "import argparse\nfrom mylib import Adam\nargs = argparse.ArgumentParser().parse_args()\nopt = Adam(lr=0.01)\n",
        # `fit` of something that is not provably a Keras model
        "import argparse\nargs = argparse.ArgumentParser().parse_args()\nmodel = build()\nmodel.fit(x, y, epochs=20, batch_size=32)\n",
        # tests
        Valid("import argparse\nimport torch\nargs = argparse.ArgumentParser().parse_args()\n"
              "opt = torch.optim.Adam(m.parameters(), lr=1e-3)\n", path="tests/test_train.py"),
        # another file reads a config file that is not in the project (a hub download)
        Valid(files={"src/hub.py": "import json\ncfg = json.load(open('config.json'))\n",
                     "src/model.py": "from src.hub import cfg\nfrom lightning import Trainer\nt = Trainer(max_epochs=87)\n"}),
        # the fixed sizes of a published architecture in a model definition sized by its config
        "import torch.nn as nn\nclass Embeddings(nn.Module):\n    def __init__(self, config):\n"
        "        self.xy = nn.Linear(2, 512)\n        self.proj = nn.Linear(config.hidden_size, 768)\n"
        "        self.attn = nn.MultiheadAttention(config.hidden_size, 16)\n",
        # ... and its dropout, when its config carries no dropout rate
        "import torch.nn as nn\nclass Block(nn.Module):\n    def __init__(self, config):\n"
        "        self.conv = nn.Conv1d(config.dim, config.dim, 3)\n        self.drop = nn.Dropout(0.1)\n",
        # the same width in two model files: a model zoo, not configuration
        Valid(files={"a.py": "import torch.nn as nn\nfc = nn.Linear(2048, 1000)\n",
                     "b.py": "import torch.nn as nn\nfc = nn.Linear(2048, 1000)\n"}),
        # data shapes, not widths
        "import argparse\nimport torch.nn as nn\nargs = argparse.ArgumentParser().parse_args()\n"
        "xy = nn.Linear(2, args.dim)\nrgb = nn.Conv2d(3, args.width, kernel_size=3)\n",
        # a framework's own code
        Valid(files={"sklearn/ensemble/_boost.py": "from sklearn.tree import DecisionTreeRegressor\nt = DecisionTreeRegressor(max_depth=3)\n",
                     "sklearn/ensemble/_gb.py": "from ..tree import DecisionTreeRegressor\nt = DecisionTreeRegressor(max_depth=3)\n",
                     "sklearn/__init__.py": "", "sklearn/ensemble/__init__.py": ""}),
        # the same value in two files, but different callables
        Valid(files={"a.py": "import torch\nopt = torch.optim.Adam(p, lr=0.01)\n",
                     "b.py": "import torch\nopt = torch.optim.SGD(p, lr=0.01)\n"}),
    ]
    INVALID = [
        Invalid("import argparse\nimport torch\nparser = argparse.ArgumentParser()\nargs = parser.parse_args()\n"
                "optimizer = torch.optim.Adam(\n    model.parameters(),\n    lr=1e-3,\n    weight_decay=0.01,\n)\n",
                line=5, message_contains="lr=1e-3, weight_decay=0.01"),
        Invalid("from torch.optim import AdamW\nfrom omegaconf import OmegaConf\ncfg = OmegaConf.load('conf/train.yaml')\n"
                "opt = AdamW(params, lr=cfg.lr, betas=(0.9, 0.95))\n", line=4, message_contains="OmegaConf"),
        Invalid("import torch.nn as nn\nimport yaml\ncfg = yaml.safe_load(open('config.yaml'))\n"
                "class Net(nn.Module):\n    def __init__(self):\n        self.fc = nn.Linear(512, 256)\n"
                "        self.drop = nn.Dropout(0.3)\n", line=6, message_contains="in_features=512"),
        # a model definition's dropout rate is tuned between runs, as its config's others are
        Invalid("import torch.nn as nn\nclass Head(nn.Module):\n    def __init__(self, config):\n"
                "        self.fc = nn.Linear(config.hidden_size, 256)\n        self.drop = nn.Dropout(0.3)\n"
                "        self.attn_drop = nn.Dropout(config.attention_dropout)\n",
                line=5, message_contains="p=0.3", confidence="low"),
        Invalid("import lightgbm as lgb\nimport click\n@click.command()\n@click.option('--data')\ndef main(data):\n"
                "    booster = lgb.train({'learning_rate': 0.05, 'num_leaves': 63, 'seed': 7}, lgb.Dataset(data))\n",
                line=6, message_contains="num_leaves=63"),
        Invalid("import xgboost as xgb\nimport argparse\nargs = argparse.ArgumentParser().parse_args()\n"
                "params = {'max_depth': 8, 'eta': 0.1}\nclf = xgb.XGBClassifier(**params)\n", line=5,
                message_contains="max_depth=8"),
        Invalid("import tensorflow as tf\nimport argparse\nargs = argparse.ArgumentParser().parse_args()\n"
                "model = tf.keras.Sequential([tf.keras.layers.Dense(args.units)])\n"
                "model.fit(x, y, epochs=20, batch_size=32)\n", line=5, message_contains="epochs=20"),
        Invalid(files={"src/a.py": "from sklearn.ensemble import RandomForestClassifier\n"
                                   "clf = RandomForestClassifier(n_estimators=500, max_depth=12)\n",
                       "src/b.py": "from sklearn.ensemble import RandomForestClassifier as RF\n\n"
                                   "m = RF(n_estimators=500, min_samples_leaf=3)\n"},
                path="src/b.py", line=3, message_contains="src/a.py"),
        Invalid(files={"src/train.py": "import yaml\nfrom src.model import build\n"
                                       "cfg = yaml.safe_load(open('params.yaml'))\nbuild()\n",
                       "src/model.py": "from lightning import Trainer\n\ndef build():\n"
                                       "    return Trainer(max_epochs=87)\n",
                       "params.yaml": "train:\n  lr: 0.01\n"},
                path="src/model.py", line=4, message_contains="params.yaml", confidence="low"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = ConfigKnowledge.of(ctx.knowledge)
        io = ctx.knowledge.get("data_io", {}) or {}
        self._loaders = frozenset(q for q in io.get("config_loaders", ()) if not q.startswith("json."))
        self._uses: dict[str, tuple[str, str]] = {}  # description -> kind ("file", "cli", "object"), config file
        self._dicts: dict[str, cst.Dict] = {}
        self._keras: set[str] = set()
        self._in_default = 0
        self._locals: list[dict[str, cst.BaseExpression | None]] = []  # function-local names -> value
        self._calls = 0
        self._training = ctx.path.endswith(".ipynb")  # an entry point, a training loop, a fit
        self._key_reads = False  # a config read like a loaded file: `cfg["units"]`, `cfg.get("units")`
        self._attribute_reads = False  # a config class's fields: `config.hidden_size`
        self._configured_dropout = False  # `config.hidden_dropout_prob`: the config carries dropout

    # -- configuration mechanisms ---------------------------------------------------
    def _use(self, what: str, kind: str, target: str = "") -> None:
        self._uses.setdefault(what, (kind, target))

    def visit_Decorator(self, node: cst.Decorator) -> None:
        target = node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator
        q = self.ctx.names.qualified(target)
        label = self.k.config_module(q) if q else None
        if q == "hydra.main":
            self._use("runs a Hydra app (`@hydra.main`)", "file", "@hydra.main")
        elif label is not None:
            self._use(f"uses {label}", "file" if label in ("Hydra", "gin") else "cli")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = node.name.value
        for base in node.bases:
            q = self.ctx.names.qualified(base.value)
            if q is not None and self.k.config_module(q) is not None:
                self._use(f"defines the config class `{name}`", "object")
        if name.endswith(self.k.config_classes) and any(
                "dataclass" in (dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
                for d in node.decorators):
            self._use(f"defines the config dataclass `{name}`", "object")

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:
            self._in_default += 1

    def leave_Param(self, original_node: cst.Param) -> None:
        if original_node.default is not None:
            self._in_default -= 1

    def visit_If(self, node: cst.If) -> None:
        if not self._locals and _is_main_guard(node.test):
            self._training = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value in self.k.training_functions:
            self._training = True
        p = node.params
        # a parameter re-bound in the body (`if lr is None: lr = 1e-3`) is a default in disguise
        self._locals.append({a.name.value: None for a in (*p.posonly_params, *p.params, *p.kwonly_params)})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._locals.pop()

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._locals and isinstance(node.target, cst.Name):
            self._locals[-1][node.target.value] = None

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._locals:
            scope = self._locals[-1]
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    name = t.target.value
                    scope[name] = None if name in scope or name.isupper() else node.value
        for t in node.targets:
            if not isinstance(t.target, cst.Name):
                continue
            name = t.target.value
            self._dicts.pop(name, None)
            self._keras.discard(name)
            if isinstance(node.value, cst.Dict) and not name.isupper():
                self._dicts[name] = node.value
            q = self.ctx.names.call_name(node.value)
            if q is not None and self.k.is_keras_model(q):
                self._keras.add(name)

    def _config_attribute(self, value: cst.BaseExpression) -> str | None:
        """``cfg.lr``, ``cfg["lr"]``, ``args.epochs``, ``self.hparams.lr``, ``cfg.get("lr")``:
        the config object's name."""
        names: list[str] = []
        node = value
        while True:  # `type(node) is`: isinstance on libcst's abstract classes is slow
            if type(node) is cst.Call:
                node = node.func
            elif type(node) is cst.Attribute:
                names.append(node.attr.value)
                node = node.value
            elif type(node) is cst.Subscript:
                index = node.slice[0].slice if len(node.slice) == 1 else None
                if not (isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString)):
                    return None  # `args[0]`: a sequence, not a config
                names.append("[]")
                node = node.value
            else:
                break
        if type(node) is not cst.Name or not names:
            return None
        chain = [node.value, *reversed(names)]
        if chain[0] == "self" and len(chain) > 2:
            chain = chain[1:]
        if chain[0] in self.k.config_objects and chain[0] not in self.ctx.names.aliases \
                and chain[1] not in _OPTIMIZER_ATTRS:
            if any(part in name for name in chain[1:] for part in self.k.layer_training_keys):
                self._configured_dropout = True
            if chain[1] in ("[]", "get"):
                self._key_reads = True
            else:
                self._attribute_reads = True
            return chain[0]
        return None

    def _note_config(self, node: cst.Call, q: str | None) -> None:
        if q is not None:
            label = self.k.config_module(q)
            if label is not None:
                self._use(f"uses {label}", "file" if label in ("Hydra", "OmegaConf", "yacs", "gin") else "cli")
            elif q in self._loaders:
                self._use(f"loads configuration (`{q}`)", "file")
        for a in node.args:
            v = a.value
            if isinstance(v, cst.SimpleString):
                text = v.evaluated_value
                if isinstance(text, str) and len(text) < 200 and self.k.config_file.search(text):
                    name = text.replace(chr(92), "/").rsplit("/", 1)[-1]
                    self._use(f"reads {name}", "file", name)
            else:
                root = self._config_attribute(v)
                if root is not None:
                    self._use(f"reads settings from `{root}`", "object")

    # -- hyper-parameter calls -------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.names.call_name(node)
        self._note_config(node, q)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in self.k.training_calls:
            self._training = True
        if self._in_default:
            return
        callee = canonical(q) if q else ".fit"
        if callee.split(".", 1)[0] == self.ctx.module.split(".", 1)[0]:
            return  # the framework's own code
        found = self._literals(node, q)
        if found:
            self._calls += 1
            layer = callee.startswith(self.k.architecture)
            self.fact(_CALL, node, callee=callee, literals=found, layer=layer,
                      architecture=[layer and param not in self.k.layer_training_params for param, _, _ in found])

    def _literals(self, node: cst.Call, q: str | None) -> list[list[str]]:
        """``[param, source text, canonical value]`` of each hyper-parameter literal."""
        out: list[list[str]] = []

        layer = q is not None and canonical(q).startswith(self.k.architecture)

        def add(param: str, value: cst.BaseExpression) -> None:
            text = self.ctx.code_for(value).strip()
            if isinstance(value, cst.Name) and self._locals:
                bound = self._locals[-1].get(value.value)
                if bound is None:
                    return
                text, value = f"{text} = {self.ctx.code_for(bound).strip()}", bound
            canon = literal_value(value)
            if canon is not None and not (layer and canon.isdigit() and int(canon) < self.k.min_layer_width):
                out.append([param, text, canon])

        def add_dict(d: cst.BaseExpression | None) -> None:
            if isinstance(d, cst.Name):
                d = self._dicts.get(d.value)
            if not isinstance(d, cst.Dict):
                return
            for e in d.elements:
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString):
                    key = e.key.evaluated_value
                    if isinstance(key, str) and key in self.k.hyperparameters:
                        add(key, e.value)

        if q is None:
            func = node.func
            if (isinstance(func, cst.Attribute) and func.attr.value == "fit" and isinstance(func.value, cst.Name)
                    and func.value.value in self._keras):
                for name, arg in keyword_args(node).items():
                    if name in self.k.keras_fit_keywords:
                        add(name, arg.value)
            return out
        spec = self.k.positional(q)
        dict_spec = self.k.params_dicts.get(canonical(q))
        if spec is None and dict_spec is None:
            return out
        keywords = keyword_args(node)
        positional = positional_args(node)
        if dict_spec is not None:
            position, keyword = dict_spec
            found_arg = keywords.get(keyword)
            if found_arg is None and positional is not None and position < len(positional):
                found_arg = positional[position]
            add_dict(found_arg.value if found_arg is not None else None)
        named = set(spec or ())
        if spec and positional is not None:
            for param, arg in zip(spec, positional):
                if param != "-":
                    add(param, arg.value)
        for name, arg in keywords.items():
            if name in self.k.hyperparameters or name in named:
                add(name, arg.value)
        for a in node.args:
            if a.star == "**":
                add_dict(a.value)
        return out

    def finish(self) -> None:
        imports = sorted({v for v in self.ctx.names.aliases.values()})
        folders = self.ctx.path.lower().split("/")[:-1]
        self.fact(_FILE, None, uses=[[w, k, t] for w, (k, t) in self._uses.items()], imports=imports,
                  illustrative=any(f in self.k.illustrative_dirs for f in folders),
                  notebook=self.ctx.path.endswith(".ipynb"),
                  small=self.ctx.source.count("\n") + 1 < self.k.one_off_lines,
                  calls=self._calls, training=self._training,
                  dict_config=self._key_reads and not self._attribute_reads,
                  configured_dropout=self._configured_dropout)

    # -- the project phase -----------------------------------------------------------
    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        files: dict[str, Mapping[str, Any]] = {}
        modules: dict[str, str] = {}
        calls: list[tuple[str, Any]] = []
        for ff in project.files():
            if ff.is_test:
                continue
            for fact in ff.facts:
                if fact.kind == _FILE:
                    files[ff.path] = fact.data
                    if ff.module:
                        modules[ff.path] = ff.module
                elif fact.kind == _CALL and fact.location is not None:
                    calls.append((ff.path, fact))
        if not calls:
            return
        # the same callable, parameter and value in two or more files (scripts, not notebooks)
        seen: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        def plain(path: str) -> bool:  # not an example, demo or benchmark
            return not files.get(path, {}).get("illustrative")

        for path, fact in calls:
            if plain(path) and not fact.data["layer"]:
                for param, _, canon in fact.data["literals"]:
                    seen[(fact.data["callee"], param, canon)].add(path)
        loaders: list[tuple[str, str]] | None = None
        owner = _ModuleOwner(files, modules)
        for path, fact in calls:
            data = files.get(path, {})
            uses = sorted((u[0] for u in data.get("uses", ())), key=lambda w: not w.startswith("reads "))
            literals = fact.data["literals"]
            if _model_definition(data):
                # the fixed sizes of an architecture: only its dropout rates are tuned, and beside
                # a config object only when that object carries dropout rates too
                flags = fact.data.get("architecture") or [False] * len(literals)
                literals = [lit for lit, arch in zip(literals, flags, strict=True) if not arch]
                if not literals or (fact.data["layer"] and data.get("uses") and not data.get("configured_dropout")):
                    continue
            callee = fact.data["callee"].rsplit(".", 1)[-1]
            if uses:
                named = [f"{p}={text}" for p, text, _ in literals]
                why, confidence = f"this file already {_and(uses[:2])}", None
                if fact.data["layer"] and all(u[1] == "object" for u in data.get("uses", ())):
                    confidence = Confidence.LOW  # a model file sized by `config.x`: maybe the paper's constant
            else:
                if not plain(path):
                    continue
                dups = [] if fact.data["layer"] else [(p, text, sorted(seen[(fact.data["callee"], p, canon)] - {path}))
                        for p, text, canon in literals if len(seen[(fact.data["callee"], p, canon)]) > 1]
                if dups:
                    named = [f"{p}={text}" for p, text, _ in dups]
                    others = sorted({o for _, _, os_ in dups for o in os_})
                    why, confidence = f"the same value is hard-coded in {join_names(others, 2)}", None
                elif not _one_off(path, data, modules, owner) and (
                        loaders := loaders if loaders is not None else _config_loaders(project, files)):
                    named = [f"{p}={text}" for p, text, _ in literals]
                    where, what = loaders[0]
                    why = f"the project has configuration ({where} {what})"
                    confidence = Confidence.LOW
                else:
                    continue
            yield ProjectFinding(
                path, fact.location,
                f"Hard-coded hyper-parameter{'s' if len(named) > 1 else ''} in `{callee}(...)`: "
                f"{join_names(named, 6)}; {why}.",
                hint="Move the value into that configuration and pass it in by name (`lr=cfg.lr`), "
                     "so runs can change, sweep and record it without editing code.",
                confidence=confidence,
            )


def _config_loaders(project: ProjectView, files: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Files (not examples) that read a config file present in the project
    (by a literal path) or run a Hydra app: ``(path, what)``, those naming the file first."""
    decl = getattr(project, "declarations", None)
    if decl is None:
        decl = project.pipeline.decl
    present = {p.rsplit("/", 1)[-1] for p in getattr(decl, "files", ())}
    out = []
    for path, d in files.items():
        if d.get("illustrative"):
            continue
        for what, kind, target in d.get("uses", ()):
            if kind == "file" and target and (target in present or target == "@hydra.main"):
                out.append((path, what))
    return sorted(out, key=lambda pw: (not pw[1].startswith("reads"), pw[0]))



def _is_main_guard(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.Equal)):
        return False
    sides = (test.left, test.comparisons[0].comparator)
    return (any(isinstance(x, cst.Name) and x.value == "__name__" for x in sides)
            and any(isinstance(x, cst.SimpleString) and x.evaluated_value == "__main__" for x in sides))


def _model_definition(data: Mapping[str, Any]) -> bool:
    """A module that is not training or experiment code: no entry point, training loop or
    fit, no command line or config file of its own, config reads not all by key like a loaded
    file (`cfg["units"]`). Its layer sizes are the architecture, not settings of a run."""
    if data.get("training") or data.get("dict_config") or data.get("notebook"):
        return False
    return not any(kind in ("file", "cli") for _, kind, _ in data.get("uses", ()))


def _and(items: list[str]) -> str:
    return " and ".join(items)


def _project_module(name: str, known: set[str], folders: set[str]) -> str | None:
    """The project module an imported name belongs to (``src.model.build`` -> ``model`` when
    ``src/`` is a source root, ``src.model`` when it is a package), or None."""
    parts = name.split(".")
    tries = [parts, parts[1:]] if len(parts) > 1 and parts[0] in folders else [parts]
    for p in tries:
        for i in range(len(p), 0, -1):
            head = ".".join(p[:i])
            if head in known:
                return head
    return None


class _ModuleOwner:
    """:func:`_project_module` for one project: its modules and top folders computed once,
    and each imported name looked up once (files import the same names again and again)."""

    def __init__(self, files: Mapping[str, Mapping[str, Any]], modules: Mapping[str, str]) -> None:
        self.files = files
        self.known = set(modules.values())
        self.folders = {p.split("/", 1)[0] for p in files if "/" in p}
        self._of: dict[str, str | None] = {}
        self._imported: set[str] | None = None

    def of(self, name: str) -> str | None:
        hit = self._of.get(name, _UNSEEN)
        if hit is _UNSEEN:
            hit = self._of[name] = _project_module(name, self.known, self.folders)
        return hit  # type: ignore[return-value]

    def imported(self) -> set[str]:
        """Project modules that some file imports (computed on first use)."""
        if self._imported is None:
            self._imported = {m for d in self.files.values() for n in d.get("imports", ())
                              if (m := self.of(n)) is not None}
        return self._imported


_UNSEEN = object()


def _one_off(path: str, data: Mapping[str, Any], modules: Mapping[str, str], owner: _ModuleOwner) -> bool:
    """A small script that imports no module of the project and that no module imports."""
    if not data.get("small") or modules.get(path) in owner.imported():
        return False
    return not any(owner.of(n) is not None for n in data.get("imports", ()))
