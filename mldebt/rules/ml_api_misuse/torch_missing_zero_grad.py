from __future__ import annotations

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import Invalid, Valid
from mldebt.rules.ml_api_misuse._torch import TorchRule, method_name

_H = "import torch\n"


class TorchMissingZeroGrad(TorchRule):
    """
    ## What it does
    Flags `optimizer.step()` in a loop that calls `.backward()` but never clears the
    gradients: no `optimizer.zero_grad()`, `model.zero_grad()`, `p.grad = None` or
    `p.grad.zero_()` anywhere in the loop (nested blocks, closures and same-file helpers
    called from it included), nor in an enclosing loop. `scaler.step(optimizer)` (AMP) counts
    as a step. The optimizer must provably be one: built by `torch.optim.*` (however
    imported), `transformers.AdamW`, `bitsandbytes.optim.*` and the other factories of the
    `torch_misuse.optimizers` knowledge entry, annotated as a `torch.optim.Optimizer`, or
    returned by a same-file function that builds one. A learning-rate scheduler's
    `.step()` is not an optimizer step.

    Not flagged: gradient accumulation (`if (i + 1) % k == 0: opt.step(); opt.zero_grad()`),
    Lightning's `training_step` (no loop: Lightning zeroes), an optimizer whose origin is
    unknown (a parameter without annotation, a third-party wrapper).

    ## Why is this bad?
    PyTorch accumulates gradients in `.grad` across `backward()` calls. Without clearing
    them, every step applies the sum of all gradients so far: the effective learning rate
    grows with the step count and training silently diverges or stalls.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Options
    None.

    ## References
    - PyTorch, "Zeroing out gradients in PyTorch": https://pytorch.org/tutorials/recipes/recipes/zeroing_out_gradients.html
    - Catalog: `rules/ml-api-misuse-torch.yaml` (knowledge key `torch_misuse`).
    """

    VALID = [
        _H + "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x, y in loader:\n    opt.zero_grad()\n    loss_fn(model(x), y).backward()\n    opt.step()\n",
        # gradient accumulation
        ("from torch import optim\nopt = optim.Adam(params)\nfor i, b in enumerate(loader):\n"
        "    loss = model(b)\n    loss.backward()\n    if (i + 1) % 4 == 0:\n        opt.step()\n        opt.zero_grad()\n"),
        # zeroing the model's gradients, or setting them to None
        _H + "opt = torch.optim.Adam(model.parameters())\nfor b in loader:\n    model.zero_grad()\n"
        "    model(b).backward()\n    opt.step()\n",
        _H + "opt = torch.optim.Adam(ps)\nfor b in loader:\n    for p in ps:\n        p.grad = None\n"
        "    f(b).backward()\n    opt.step()\n",
        # zeroed in an enclosing loop, right before the inner loop
        _H + "opt = torch.optim.Adam(ps)\nfor epoch in range(3):\n    opt.zero_grad()\n    for b in loader:\n"
        "        f(b).backward()\n        opt.step()\n",
        # a scheduler's step; an optimizer of unknown origin
        _H + "opt = torch.optim.Adam(ps)\nsched = torch.optim.lr_scheduler.StepLR(opt, 10)\nfor e in range(9):\n"
        "    for b in loader:\n        opt.zero_grad()\n        f(b).backward()\n        opt.step()\n    sched.step()\n",
        "def train(model, opt, loader):\n    for b in loader:\n        model(b).backward()\n        opt.step()\n",
        # a same-file helper that zeroes
        _H + "def clear(o):\n    o.zero_grad(set_to_none=True)\nopt = torch.optim.Adam(ps)\nfor b in loader:\n"
        "    clear(opt)\n    f(b).backward()\n    opt.step()\n",
        # Lightning: no loop
        ("import lightning as L\nclass M(L.LightningModule):\n    def training_step(self, batch, i):\n"
        "        opt = self.optimizers()\n        loss = self(batch)\n        self.manual_backward(loss)\n        opt.step()\n"),
        # LBFGS closure that zeroes
        _H + "opt = torch.optim.LBFGS(ps)\nfor b in loader:\n    def closure():\n        opt.zero_grad()\n"
        "        loss = f(b)\n        loss.backward()\n        return loss\n    opt.step(closure)\n",
        Valid("from torch.optim import AdamW\nopt = AdamW(ps)\nfor b in loader:\n    f(b).backward()\n    opt.step()\n",
              path="tests/test_train.py"),
    ]
    INVALID = [
        Invalid(_H + "model = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                "for x, y in loader:\n    loss = ((model(x) - y) ** 2).mean()\n    loss.backward()\n    opt.step()\n",
                line=7, message_contains="zero_grad"),
        Invalid("from torch.optim import AdamW as W\n"
                "def fit(model, loader):\n    optimizer = W(model.parameters())\n    optimizer.zero_grad()\n"
                "    for epoch in range(10):\n        for b in loader:\n            model(b).backward()\n"
                "            optimizer.step()\n", line=8),
        Invalid(_H + "class Trainer:\n    def __init__(self, model):\n"
                "        self.opt = torch.optim.Adam(model.parameters())\n"
                "    def run(self, loader):\n        for b in loader:\n            self.model(b).backward()\n"
                "            self.opt.step()\n", line=8),
        Invalid(_H + "def make_opt(m):\n    return torch.optim.SGD(m.parameters(), lr=0.01)\nopt = make_opt(net)\n"
                "scaler = torch.cuda.amp.GradScaler()\nwhile True:\n    scaler.scale(net(x)).backward()\n"
                "    scaler.step(opt)\n    scaler.update()\n", line=8),
        Invalid("import torch.optim\ndef train(opt: torch.optim.Optimizer, loader):\n    for b in loader:\n"
                "        f(b).backward()\n        opt.step()\n", line=5, confidence="medium"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if method_name(node) != "step" or not self.loops[-1]:
            return
        recv = node.func.value  # type: ignore[attr-defined]
        prov = self.prov(recv)
        if prov is None or prov.kind != "optimizer":
            # AMP: `scaler.step(optimizer)`
            if len(node.args) != 1 or node.args[0].keyword is not None:
                return
            prov = self.prov(node.args[0].value)
            if prov is None or prov.kind != "optimizer":
                return
            recv = node.args[0].value
        loops = self.loops[-1]
        backward_loop = next((lp for lp in reversed(loops) if self.index.contains(lp, "backward")), None)
        if backward_loop is None:
            return
        outer = loops[0]
        if self.index.contains(outer, "zero") or self.index.helper_contains(outer, "zero", self.cls):
            return
        name = self.ctx.code_for(recv).strip()
        self.report(
            node,
            f"`{name}` ({prov.source}) steps in a loop that calls `.backward()` but never clears the "
            f"gradients: they accumulate across iterations, so each step applies the sum of all "
            f"previous gradients. Call `{name}.zero_grad()` once per step.",
            hint=f"Call `{name}.zero_grad()` (or `model.zero_grad()`) before `.backward()` in the loop.",
            confidence=Confidence(prov.confidence),
        )

