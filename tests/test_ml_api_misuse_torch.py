"""MLD901/902/903/909 (ml-api-misuse, torch side): cases beyond the rules' own examples.

The rules' VALID/INVALID examples also run here (and in tests/test_rule_examples.py): receivers
resolved through aliases, helpers, annotations and same-file classes, and the look-alikes
each rule must leave alone.
"""

from __future__ import annotations

import pytest

from mldebt.catalog import load_catalog
from mldebt.rules.base import Invalid, Valid
from mldebt.rules.ml_api_misuse.tensor_concat_in_loop import TensorConcatInLoop
from mldebt.rules.ml_api_misuse.torch_direct_forward_call import TorchDirectForwardCall
from mldebt.rules.ml_api_misuse.torch_eval_mode_missing import TorchEvalModeMissing
from mldebt.rules.ml_api_misuse.torch_missing_zero_grad import TorchMissingZeroGrad
from mldebt.testing import scan_snippets

RULES = {"MLD901": TorchMissingZeroGrad, "MLD902": TorchDirectForwardCall,
         "MLD903": TorchEvalModeMissing, "MLD909": TensorConcatInLoop}


def findings(code: str, rule: str, path: str = "src/train.py"):
    report = scan_snippets({path: code}, select=[rule])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def lines(code: str, rule: str, path: str = "src/train.py") -> list[int]:
    return [f.line for f in findings(code, rule, path)]


def test_catalog_entries_are_stable_ml_api_misuse():
    specs = {s.code: s for s in load_catalog().rules if s.code in RULES}
    assert set(specs) == set(RULES)
    for code, spec in specs.items():
        assert spec.status == "stable"  # promoted after judging findings on the corpora
        assert spec.smell == "ml-api-misuse"
        assert spec.load_class() is RULES[code]
        assert spec.tests is False
    assert "torch_misuse" in load_catalog().knowledge


def test_the_rules_run_by_default():
    code = "import torch\nx = torch.zeros(0)\nfor b in loader:\n    x = torch.cat([x, b])\n"
    report = scan_snippets({"src/train.py": code})
    assert [f.rule for f in report.findings if f.rule in RULES] == ["MLD909"]


def _examples():
    for code, cls in RULES.items():
        for i, ex in enumerate(cls.VALID):
            yield pytest.param(code, ex, id=f"{code}-valid-{i}")
        for i, ex in enumerate(cls.INVALID):
            yield pytest.param(code, ex, id=f"{code}-invalid-{i}")


@pytest.mark.parametrize(("rule", "example"), list(_examples()))
def test_own_examples(rule, example):
    if isinstance(example, str):
        example = Valid(example)
    report = scan_snippets({example.path: example.code}, select=[rule])
    assert not report.errors, report.errors
    found = [f for f in report.findings if f.rule == rule]
    if isinstance(example, Invalid):
        here = [f for f in found if f.line == example.line]
        assert here, [(f.line, f.message) for f in found]
        if example.column is not None:
            assert any(f.column == example.column for f in here)
        if example.message_contains:
            assert any(example.message_contains in f.message for f in here), [f.message for f in here]
        if example.confidence:
            assert any(f.confidence.value == example.confidence for f in here)
    else:
        assert found == [], [(f.line, f.message) for f in found]


# -- MLD901 missing-zero-grad -----------------------------------------------------------

ZERO_GRAD = [
    pytest.param("""\
        import torch.optim as O
        opt = O.SGD(ps, lr=0.1)
        for b in loader:
            f(b).backward()
            opt.step()
        """, [5], id="module-alias"),
    pytest.param("""\
        import transformers
        import bitsandbytes as bnb
        o1 = transformers.AdamW(ps)
        o2 = bnb.optim.Adam8bit(ps)
        for b in loader:
            f(b).backward()
            o1.step()
            o2.step()
        """, [7, 8], id="transformers-and-bnb"),
    pytest.param("""\
        import torch
        def build(m):
            opt = torch.optim.Adam(m.parameters())
            return opt
        opt = build(model)
        for b in loader:
            loss = model(b)
            loss.backward()
            opt.step()
        """, [9], id="same-file-factory"),
    pytest.param("""\
        import torch
        from accelerate import Accelerator
        acc = Accelerator()
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.AdamW(model.parameters())
        model, opt = acc.prepare(model, opt)
        for b in loader:
            acc.backward(model(b).sum())
            opt.step()
        """, [9], id="accelerate-prepare"),
    pytest.param("""\
        import torch
        opt = torch.optim.Adam(ps)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10)
        for b in loader:
            f(b).backward()
            sched.step()
        """, [], id="scheduler-is-not-an-optimizer"),
    pytest.param("""\
        import torch
        opt = torch.optim.Adam(ps)
        for b in loader:
            f(b).backward()
            train_helper(opt)
        opt.step()
        """, [], id="step-outside-the-loop"),
    pytest.param("""\
        import torch
        class T:
            def __init__(self):
                self.opt = torch.optim.Adam(self.model.parameters())
            def zero(self):
                self.opt.zero_grad()
            def fit(self):
                for b in self.loader:
                    self.zero()
                    self.model(b).backward()
                    self.opt.step()
        """, [], id="zeroing-method-helper"),
    pytest.param("""\
        import torch
        opt = torch.optim.Adam(ps)
        for b in loader:
            f(b).backward()
            opt.step()
            for p in ps:
                p.grad.zero_()
        """, [], id="grad-zero-in-place"),
    pytest.param("""\
        import torch
        opt = getattr(torch.optim, name)(ps, lr=lr)
        for b in loader:
            f(b).backward()
            opt.step()
        """, [5], id="getattr-optimizer"),
]


@pytest.mark.parametrize(("code", "expected"), ZERO_GRAD)
def test_missing_zero_grad(code, expected):
    assert lines(code, "MLD901") == expected


# -- MLD902 direct-forward-call ---------------------------------------------------------

FORWARD = [
    pytest.param("""\
        from torch.nn import Sequential, Linear
        net = Sequential(Linear(2, 2))
        net.cuda().forward(x)
        y = net.forward(x)
        """, [4], id="from-import-and-chain-call-receiver"),
    pytest.param("""\
        import torch.nn as nn
        class A(nn.Module):
            pass
        class B(A):
            def forward(self, x):
                return A.forward(self, x)
        class C:
            def __init__(self):
                self.b = B()
            def run(self, x):
                return self.b.forward(x)
        """, [11], id="same-file-base-and-attribute"),
    pytest.param("""\
        from transformers import AutoModelForCausalLM
        m = AutoModelForCausalLM.from_pretrained("gpt2")
        out = m.forward(input_ids=ids)
        """, [3], id="transformers"),
    pytest.param("""\
        import torch
        class Env:
            def forward(self, a):
                return a
        env = Env()
        env.forward(1)
        model = torch.jit.load("m.pt")
        model.forward(x)
        """, [], id="not-modules"),
]


@pytest.mark.parametrize(("code", "expected"), FORWARD)
def test_direct_forward_call(code, expected):
    assert lines(code, "MLD902") == expected


def test_direct_forward_message_names_hooks():
    code = "import torch\nm = torch.nn.Linear(1, 1)\nm.forward(x)\n"
    (f,) = findings(code, "MLD902")
    assert "hooks" in f.message and "m(...)" in f.message


# -- MLD903 eval-mode-missing -----------------------------------------------------------

NET = """\
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
    def forward(self, x):
        return self.bn(x)
"""

EVAL = [
    pytest.param(NET + """\
def validate(loader):
    model = Net()
    model.load_state_dict(torch.load("w.pt"))
    with torch.no_grad():
        for x in loader:
            out = model(x)
            out2 = model(x * 2)
""", [14], id="once-per-function"),
    pytest.param(NET + """\
class Runner:
    def __init__(self):
        self.net = Net()
    def predict(self, x):
        with torch.no_grad():
            return self.net(x)
""", [14], id="self-attribute-never-evaled"),
    pytest.param(NET + """\
class Runner:
    def __init__(self):
        self.net = Net()
    def set_mode(self):
        self.net.eval()
    def predict(self, x):
        with torch.no_grad():
            return self.net(x)
""", [], id="self-attribute-evaled-in-another-method"),
    pytest.param(NET + """\
def evaluate(loader):
    model = Net()
    model.eval()
    with torch.no_grad():
        return [model(x) for x in loader]
""", [], id="evaled"),
    pytest.param(NET + """\
class Big(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = Net()
    def forward(self, x):
        with torch.no_grad():
            return self.body(x)
""", [], id="child-inside-a-module"),
    pytest.param("""\
import torch
import torch.nn as nn
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
    def forward(self, x):
        return self.fc(x)
model = Tiny()
with torch.no_grad():
    y = model(x)
""", [], id="mode-insensitive-same-file-module"),
    pytest.param(NET + """\
def predict(x):
    model = Net()
    model.eval()
    with torch.no_grad():
        return model(x)
def serve(x):
    model = Net()
    model.eval()
    return model(x)
""", [17], id="second-form-only-without-no-grad"),
    pytest.param(NET + """\
def predict(model: Net, x):
    with torch.no_grad():
        return model(x)
""", [11], id="annotated-parameter-in-evaluation-function"),
    pytest.param(NET + """\
model = Net()
with torch.no_grad():
    warm = model(x)
model.eval()
with torch.no_grad():
    y = model(x)
""", [11], id="eval-only-after-the-call"),
    pytest.param(NET + """\
@torch.no_grad()
def evaluate_old(model, loader):
    return sum(model(x).sum() for x in loader)
def validate(net, loader, loss_fn):
    with torch.no_grad():
        return [loss_fn(net(x)) for x in loader]
def main():
    net = Net()
    net.eval()
    validate(net, loader, None)
""", [11], id="unannotated-parameter-of-evaluation-function"),
    pytest.param(NET + """\
import torch
def evaluate(model: nn.Module, loader, criterion: nn.Module):
    to_eval(model)
    with torch.no_grad():
        return [criterion(model(x)) for x in loader]
def to_eval(m):
    m.eval()
""", [], id="criterion-and-helper"),
    pytest.param("""\
import torch
from mypkg import build_model
model = build_model("r50")
model.load_state_dict(torch.load("w.pt"))
with torch.no_grad():
    y = model(x)
""", [6], id="usage-evidence-load-state-dict"),
    pytest.param(NET + """\
class MyTrainer:
    def prediction_step(self, model: nn.Module, inputs):
        with torch.no_grad():
            return model(**inputs)
    def predict_all(self, model: nn.Module, batches):
        with torch.no_grad():
            return [model(b) for b in batches]
    def evaluation_loop(self, model: nn.Module, batches):
        model.eval()
        out = [self.prediction_step(model, b) for b in batches]
        return out + self.predict_all(model, batches)
""", [], id="framework-step-and-method-caller"),
    pytest.param(NET + """\
def train(model: Net, loader, opt):
    model.train()
    for x in loader:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
""", [], id="training-loop"),
]


@pytest.mark.parametrize(("code", "expected"), EVAL)
def test_eval_mode_missing(code, expected):
    assert lines(code, "MLD903") == expected


def test_eval_mode_confidence():
    code = NET + "def predict(model: Net, x):\n    with torch.no_grad():\n        return model(x)\n"
    (f,) = findings(code, "MLD903")
    assert f.confidence.value == "low"
    code = NET + "m = Net()\nwith torch.no_grad():\n    y = m(x)\n"
    (f,) = findings(code, "MLD903")
    assert f.confidence.value == "medium" and "m.eval()" in f.message


# -- MLD909 tensor-concat-in-loop -------------------------------------------------------

CONCAT = [
    pytest.param("""\
        from torch import cat
        import numpy as xp
        import pandas
        for b in loader:
            acc = cat((acc, b), dim=0)
            arr = xp.concatenate([arr, b])
            frame = pandas.concat(objs=[frame, b])
        """, [5, 6, 7], id="aliases"),
    pytest.param("""\
        import torch
        for b in loader:
            a = torch.cat([x, b])
            out = torch.cat([b, b])
        chunks = []
        for b in loader:
            chunks.append(b)
        out = torch.cat(chunks)
        """, [], id="look-alikes"),
    pytest.param("""\
        import numpy as np
        buf = np.zeros(0)
        for b in loader:
            buf = np.append(buf, b)
            if len(buf) > 100:
                flush(buf)
                buf = np.zeros(0)
        """, [], id="reset-buffer-bounded"),
    pytest.param("""\
        import torch
        while not done:
            tokens = torch.cat([tokens, next_token(tokens)], dim=-1)
        """, [], id="generation-loop-reads-it"),
    pytest.param("""\
        import torch
        def f(xs):
            for x in xs:
                def g(acc):
                    acc = torch.cat([acc, x])
                    return acc
        """, [], id="function-inside-loop"),
]


@pytest.mark.parametrize(("code", "expected"), CONCAT)
def test_tensor_concat_in_loop(code, expected):
    assert lines(code, "MLD909") == expected


def test_rules_skip_test_files():
    code = "import torch\nx = torch.zeros(0)\nfor b in loader:\n    x = torch.cat([x, b])\n"
    assert lines(code, "MLD909", path="tests/test_x.py") == []
    assert lines(code, "MLD909") == [4]


def test_reassignment_chains_stay_fast_and_resolved():
    body = "import torch\nmodel = torch.nn.Sequential(torch.nn.Dropout())\n"
    body += "model = model.to(d) if c else model.cuda()\n" * 40
    body += "opt = torch.optim.Adam(model.parameters())\n" + "opt = wrap(opt) if c else opt\n" * 40
    body += "for b in loader:\n    model.forward(b).backward()\n    opt.step()\n    x = torch.cat([x, b])\n"
    report = scan_snippets({"src/a.py": body}, select=["MLD901", "MLD902", "MLD909"], dedent=False)
    assert sorted((f.rule, f.line) for f in report.findings) == [("MLD901", 86), ("MLD902", 85), ("MLD909", 87)]


def test_concat_read_in_the_loop_is_not_flagged_an_accumulator_is():
    # decoding feeds the sequence so far to the model each step: judged not worth a finding
    code = "import torch\nwhile not done:\n    tokens = torch.cat([tokens, next_token(tokens)], dim=-1)\n"
    assert findings(code, "MLD909") == []
    code = "import torch\nfor b in loader:\n    preds = torch.cat([preds, model(b)])\n"
    (f,) = findings(code, "MLD909")
    assert f.confidence.value == "high" and "list" in f.message
