"""MLD601/MLD602 configuration-debt: the rules' own examples and the project-level conditions.

The examples also run in tests/test_rule_examples.py with every other rule; they are run here
too so this family can be tested on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mldebt.catalog import load_catalog
from mldebt.config import Overrides
from mldebt.rules.base import Invalid, Valid
from mldebt.rules.configuration_debt._common import ConfigKnowledge, literal_value
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import scan_snippets

CATALOG = load_catalog()
SPECS = [s for s in CATALOG.rules if s.code in ("MLD601", "MLD602")]


def _run(code: str, example):
    if isinstance(example, str):
        example = Valid(example)
    files = dict(example.files) if example.files else {example.path: example.code}
    options = {code: example.options} if example.options else None
    report = scan_snippets(files, select=[code], options=options)
    assert not report.errors, report.errors
    return example, [f for f in report.findings if f.rule == code]


def _cases(kind: str):
    for spec in SPECS:
        for i, example in enumerate(getattr(spec.load_class(), kind)):
            yield pytest.param(spec.code, example, id=f"{spec.code}-{kind.lower()}-{i}")


@pytest.mark.parametrize(("code", "example"), list(_cases("VALID")))
def test_valid_examples(code, example):
    _, found = _run(code, example)
    assert found == [], [(f.path, f.line, f.message) for f in found]


@pytest.mark.parametrize(("code", "example"), list(_cases("INVALID")))
def test_invalid_examples(code, example):
    example, found = _run(code, example)
    assert isinstance(example, Invalid)
    here = [f for f in found if f.path == example.path and f.line == example.line]
    assert here, [(f.path, f.line, f.message) for f in found]
    if example.column is not None:
        assert any(f.column == example.column for f in here)
    if example.message_contains:
        assert any(example.message_contains in f.message for f in here), [f.message for f in here]
    if example.confidence:
        assert any(f.confidence.value == example.confidence for f in here)


def findings(files: dict[str, str], code: str):
    report = scan_snippets(files, select=[code])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == code]


def test_catalog_entries_are_stable_configuration_debt():
    for spec in SPECS:
        assert spec.status == "stable"  # promoted after judging findings on the benchmark corpora
        assert spec.smell == "configuration-debt"
        assert spec.tests is False
    assert {s.code for s in SPECS} == {"MLD601", "MLD602"}


def test_knowledge_is_data():
    k = ConfigKnowledge.of(CATALOG.knowledge)
    assert k.positional("torch.optim.Adam") == ("-", "lr")
    assert k.positional("torch.optim.SGD") == ("-", "lr", "momentum")
    assert k.positional("tensorflow.keras.layers.Dense") == ("units",)
    assert k.positional("pytorch_lightning.Trainer") == ()
    assert k.positional("torch.zeros") is None
    assert k.positional("torch.optim.lr_scheduler.StepLR") == ("-", "step_size", "gamma")
    assert "random_state" not in k.hyperparameters and "seed" not in k.hyperparameters


@pytest.mark.parametrize(("text", "expected"), [
    ("1e-3", "0.001"), ("0.001", "0.001"), ("512", "512"), ("-0.5", "-0.5"), ("2 ** 10", "1024"),
    ("(0.9, 0.999)", "(0.9, 0.999)"), ("0", None), ("1", None), ("1.0", None), ("(0, 1)", None),
    ("x", None), ("True", None), ("'adam'", None),
])
def test_literal_values(text, expected):
    import libcst as cst
    assert literal_value(cst.parse_expression(text)) == expected


ARGPARSE = "import argparse\nargs = argparse.ArgumentParser().parse_args()\n"


@pytest.mark.parametrize(("body", "expected"), [
    ("import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n", ["lr=1e-3"]),
    ("from torch.optim import AdamW as W\nopt = W(params, lr=3e-4, weight_decay=0.05)\n",
     ["lr=3e-4", "weight_decay=0.05"]),
    ("from torch import optim\nopt = optim.SGD(params, 0.01, momentum=0.9)\n", ["lr=0.01", "momentum=0.9"]),
    ("import torch.nn as nn\nl = nn.Linear(512, 256)\n", ["in_features=512", "out_features=256"]),
    ("from torch.utils.data import DataLoader\ndl = DataLoader(ds, batch_size=64, num_workers=8)\n",
     ["batch_size=64"]),
    ("import lightning as L\nt = L.Trainer(max_epochs=87, accelerator='gpu')\n", ["max_epochs=87"]),
    ("import pytorch_lightning as pl\nt = pl.Trainer(max_epochs=10)\n", ["max_epochs=10"]),
    ("from transformers import TrainingArguments\na = TrainingArguments('out', learning_rate=2e-5, "
     "num_train_epochs=3)\n", ["learning_rate=2e-5", "num_train_epochs=3"]),
    ("import xgboost as xgb\nm = xgb.XGBClassifier(n_estimators=300, max_depth=6, random_state=42)\n",
     ["n_estimators=300", "max_depth=6"]),
    ("import lightgbm as lgb\np = {'learning_rate': 0.05, 'verbose': -1}\nb = lgb.train(p, d)\n",
     ["learning_rate=0.05"]),
    ("from tensorflow import keras\nm = keras.models.Sequential()\nm.fit(x, y, epochs=20, batch_size=32)\n",
     ["epochs=20", "batch_size=32"]),
])
def test_forms_fire_with_a_config_mechanism(body, expected):
    found = findings({"src/train.py": ARGPARSE + body}, "MLD601")
    assert len(found) == 1, [(f.line, f.message) for f in found]
    assert found[0].line == ARGPARSE.count("\n") + body.count("\n")
    for text in expected:
        assert text in found[0].message
    assert "argparse" in found[0].message


@pytest.mark.parametrize("mechanism", [
    "import click\n@click.command()\ndef main():\n    pass\n",
    "import hydra\n@hydra.main(config_path='conf', config_name='config')\ndef main(cfg):\n    pass\n",
    "from dataclasses import dataclass\n@dataclass\nclass TrainConfig:\n    lr: float = 0.1\n",
    "def build(cfg):\n    return make(cfg.model.depth)\n",
    "import json\nwith open('configs/params.json') as f:\n    p = json.load(f)\n",
])
def test_config_mechanisms(mechanism):
    code = mechanism + "import torch\nopt = torch.optim.Adam(params, lr=0.01)\n"
    assert [f.line for f in findings({"src/train.py": code}, "MLD601")] == [code.count("\n")]


def test_no_mechanism_no_duplicate_no_finding():
    code = "import json\nimport torch\nd = json.load(open('data.json'))\nopt = torch.optim.Adam(params, lr=0.01)\n"
    assert findings({"src/train.py": code}, "MLD601") == []


def test_duplicates_across_files_name_only_the_repeated_literal():
    a = "import torch\nopt = torch.optim.Adam(p, lr=1e-3, weight_decay=0.1)\n"
    b = "import torch\nopt = torch.optim.Adam(p, lr=0.001, weight_decay=0.2)\n"
    found = findings({"src/a.py": a, "src/b.py": b}, "MLD601")
    assert sorted((f.path, f.line) for f in found) == [("src/a.py", 2), ("src/b.py", 2)]
    for f in found:
        assert "lr=" in f.message and "weight_decay" not in f.message


def _notebook(source: str) -> str:
    import json as _json
    return _json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                   "source": source}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebooks_count_as_scripts():
    files = {"nb/explore.ipynb": _notebook("import torch\nopt = torch.optim.Adam(p, lr=3e-3)\n"),
             "config.yaml": "lr: 0.1\n",
             "src/a.py": "import torch\nimport yaml\ncfg = yaml.safe_load(open('config.yaml'))\n"
                         "opt = torch.optim.Adam(p, lr=1e-3)\n"}
    assert [f.path for f in findings(files, "MLD601")] == ["src/a.py"]  # a one-off notebook
    files["nb/explore.ipynb"] = _notebook("from src.a import cfg\nimport torch\nopt = torch.optim.Adam(p, lr=3e-3)\n")
    found = findings(files, "MLD601")
    assert sorted((f.path, f.confidence.value) for f in found) == [("nb/explore.ipynb", "low"), ("src/a.py", "medium")]


def test_function_local_literals_and_subscript_configs():
    code = ("import torch\ndef make(cfg, p):\n    momentum = 0.9\n    opt = torch.optim.SGD(p, lr=cfg['lr'], momentum=momentum)\n"
            "    steps = 10\n    steps = steps * 2\n    return torch.optim.lr_scheduler.StepLR(opt, steps)\n")
    found = findings({"src/opt.py": code}, "MLD601")
    assert [f.line for f in found] == [4]
    assert "momentum=momentum = 0.9" in found[0].message and "cfg" in found[0].message


def test_a_parameter_rebound_to_a_literal_is_a_default():
    code = ("import torch\ndef make(cfg, p, lr=None):\n    if lr is None:\n        lr = 1e-3\n"
            "    return torch.optim.Adam(p, lr=lr, eps=cfg.eps)\n")
    assert findings({"src/opt.py": code}, "MLD601") == []


def test_sequence_arguments_are_not_configs():
    code = "import torch\ndef f(*args):\n    return torch.optim.Adam(args[0], lr=0.01)\n"
    assert findings({"src/opt.py": code}, "MLD601") == []


def test_project_config_spares_one_off_scripts():
    files = {"src/train.py": "import yaml\ncfg = yaml.safe_load(open('config.yaml'))\n",
             "config.yaml": "model:\n  depth: 3\n",
             "scripts/quick.py": "import torch\nopt = torch.optim.Adam(p, lr=0.3)\n"}
    assert findings(files, "MLD601") == []
    files["scripts/quick.py"] = "from src.train import cfg\nimport torch\nopt = torch.optim.Adam(p, lr=0.3)\n"
    found = findings(files, "MLD601")
    assert [(f.path, f.line, f.confidence.value) for f in found] == [("scripts/quick.py", 3, "low")]


def test_examples_and_demos_need_their_own_mechanism():
    a = "import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n"
    files = {"examples/a.py": a, "examples/b.py": a, "src/c.py": a}
    assert findings(files, "MLD601") == []
    files["src/d.py"] = a
    assert sorted(f.path for f in findings(files, "MLD601")) == ["src/c.py", "src/d.py"]


def test_default_selection_runs_the_rules(tmp_path: Path):
    (tmp_path / "train.py").write_text(ARGPARSE + "import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n"
                                       "ROOT = '/home/ana/data'\n")
    report = run_scan(ScanRequest((tmp_path,)))
    assert sorted((f.rule, f.line) for f in report.findings if f.rule in ("MLD601", "MLD602")) == [
        ("MLD601", 4), ("MLD602", 5)]
    report = run_scan(ScanRequest((tmp_path,), overrides=Overrides(select=["MLD601", "MLD602"])))
    assert sorted((f.rule, f.line) for f in report.findings) == [("MLD601", 4), ("MLD602", 5)]


def test_absolute_paths_in_a_project(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(
        "import pandas as pd\nimport torch\n"
        "df = pd.read_csv('/home/ana/data/train.csv')\n"     # MLD502's: not repeated here
        "OUT = '/mnt/shared/ana/models'\n"
        "torch.save(m, OUT + '/m.pt')\n"
        "LOG = '~/runs'\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("P = '/home/ana/x.csv'\n")
    report = run_scan(ScanRequest((tmp_path,), overrides=Overrides(preview=True, select=["MLD602", "MLD502"])))
    got = sorted((f.rule, f.path, f.line) for f in report.findings)
    assert got == [("MLD502", "src/train.py", 3), ("MLD602", "src/train.py", 4), ("MLD602", "src/train.py", 6)]


@pytest.mark.parametrize(("code", "lines"), [
    ("a = '/home/ana'\nb = '/home'\nc = '/Users/ana/Desktop/x'\n", [1, 3]),
    ("a = '/opt/ml/model'\nb = '/usr/share/dict/words'\nc = '/root/.cache/x'\nd = '/root/data/x'\n", [4]),
    ("a = '/static/app.js'\nb = '/predict/batch'\nc = '/srv/models/m.onnx'\n", [3]),
    ("a = 'D:\\\\datasets\\\\x'\nb = 'C:\\\\Windows\\\\System32'\nc = 'C:/Program Files/x'\n", [1]),
    ("msg = '/home/ana is missing a file'\nb = b'/home/ana/x'\nc = '//server/share/x'\n", []),
    ("import sys\nsys.path.append('/home/ana/project/src')\n", [2]),
    ("from absl import flags\nflags.DEFINE_string('data', '/data/datasets/x', 'where')\n", []),
])
def test_absolute_path_forms(code, lines):
    assert [f.line for f in findings({"src/m.py": code}, "MLD602")] == lines


def test_a_hydra_app_is_project_configuration_but_a_library_using_hydra_is_not():
    model = "from src.util import x\nimport torch\nopt = torch.optim.Adam(p, lr=0.3)\n"
    files = {"src/util.py": "x = 1\n", "src/model.py": model,
             "src/launch.py": "from hydra.core.hydra_config import HydraConfig\nok = HydraConfig.initialized()\n"}
    assert findings(files, "MLD601") == []
    files["src/app.py"] = ("import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                           "def main(cfg):\n    pass\n")
    found = findings(files, "MLD601")
    assert [(f.path, f.line) for f in found] == [("src/model.py", 3)]
    assert "@hydra.main" in found[0].message


def test_layer_widths_next_to_a_config_object_have_low_confidence():
    code = ("import torch.nn as nn\nclass Block(nn.Module):\n    def __init__(self, config):\n"
            "        self.fc = nn.Linear(config.hidden_size, 512)\n        self.opt_lr = make(config.lr)\n"
            "if __name__ == '__main__':\n    Block(load())\n")
    found = findings({"src/model.py": code}, "MLD601")
    assert [(f.line, f.confidence.value) for f in found] == [(4, "low")]
    code = "import argparse\nimport torch.nn as nn\nargs = argparse.ArgumentParser().parse_args()\nfc = nn.Linear(args.d, 512)\n"
    assert [f.confidence.value for f in findings({"src/model.py": code}, "MLD601")] == ["medium"]


MODEL = (
    "import torch\nfrom torch import nn\n\n"
    "class Encoder(nn.Module):\n"
    "    def __init__(self, config):\n"
    "        super().__init__()\n"
    "        self.pos = nn.Linear(2, 512)\n"                                   # 7
    "        self.proj = nn.Linear(config.hidden_size, 768)\n"                 # 8
    "        self.attn = nn.MultiheadAttention(config.hidden_size, 16)\n"      # 9
    "        self.conv = nn.Conv2d(config.channels, 256, kernel_size=3)\n"     # 10
    "        self.drop = nn.Dropout(0.1)\n"                                    # 11
    "        self.mix = nn.TransformerEncoderLayer(config.d, 8, 2048, dropout=0.2)\n"  # 12
    "        self.attn_drop = nn.Dropout(config.attention_dropout)\n"
)


def test_architecture_constants_of_a_model_definition_are_not_configuration():
    # a library module sized by the config object passed in: fixed widths are the architecture,
    # dropout rates are still tuned
    found = findings({"src/modeling_enc.py": MODEL}, "MLD601")
    assert [(f.line, f.confidence.value) for f in found] == [(11, "low"), (12, "low")]
    assert "dropout=0.2" in found[1].message and "2048" not in found[1].message
    # a config that carries no dropout rate: the dropouts are the architecture's too
    no_drop = MODEL.replace("config.attention_dropout", "config.attention_heads")
    assert findings({"src/modeling_enc.py": no_drop}, "MLD601") == []
    # the same module run as training code: its widths are chosen per run
    for extra in ("\nif __name__ == '__main__':\n    Encoder(load())\n",
                  "\ndef train(model, opt, loss):\n    loss.backward()\n",
                  "\ndef fit(trainer, m):\n    trainer.fit(m)\n"):
        lines = [f.line for f in findings({"src/modeling_enc.py": MODEL + extra}, "MLD601")]
        assert lines == [7, 8, 9, 10, 11, 12], extra
    # a config read like a loaded file (`cfg["units"]`) is the project's own settings
    keras = ("from tensorflow.keras import layers\n"
             "def build(cfg):\n    x = layers.LSTM(cfg['lstm_units'])\n    return layers.LSTM(32)(x)\n")
    assert [f.line for f in findings({"src/model.py": keras}, "MLD601")] == [4]
    # training-time hyper-parameters keep firing in a library module with a config object
    opt = ("import torch\nclass Module:\n    def __init__(self, config):\n        self.c = make(config.lr)\n"
           "    def optimizers(self):\n        return torch.optim.AdamW(self.parameters(), lr=3e-4, weight_decay=0.01)\n")
    assert [f.line for f in findings({"src/module.py": opt}, "MLD601")] == [6]


def test_architecture_constants_need_training_code_under_project_configuration():
    files = {"src/train.py": "import yaml\nfrom src.model import Net\ncfg = yaml.safe_load(open('config.yaml'))\n"
                             "if __name__ == '__main__':\n    Net()\n",
             "config.yaml": "model:\n  depth: 3\n",
             "src/model.py": "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                             "        self.fc = nn.Linear(512, 256)\n        self.drop = nn.Dropout(p=0.5)\n"}
    found = findings(files, "MLD601")
    assert [(f.path, f.line) for f in found] == [("src/model.py", 5)]


def test_key_reads_on_a_config_class_field_are_still_a_model_definition():
    # `conf["n_bins"]` of a list in the config class: the file also reads `config.x` fields
    code = ("import torch.nn as nn\nclass Head(nn.Module):\n    def __init__(self, config):\n"
            "        self.proj = nn.Conv2d(256, 256, kernel_size=3)\n"
            "        self.bins = [make(conf['n_bins']) for conf in config.bin_configurations]\n"
            "        self.out = nn.Conv2d(config.fusion_hidden_size, 32)\n")
    assert findings({"src/modeling_x.py": code}, "MLD601") == []
    keyed = code.replace("config.bin_configurations", "config['bins']").replace("config.fusion_hidden_size", "config['f']")
    assert [f.line for f in findings({"src/modeling_x.py": keyed}, "MLD601")] == [4, 6]
