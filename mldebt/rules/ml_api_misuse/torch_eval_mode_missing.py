from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import FileContext, Invalid, Sink
from mldebt.rules.ml_api_misuse._torch import (
    Prov,
    Scope,
    TorchRule,
    call_last_name,
    is_eval_switch,
    walk,
)
from mldebt.rules.names import dotted

_H = "import torch\nfrom torch import nn\n"
_NET = "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
       "        self.drop = nn.Dropout(0.5)\n    def forward(self, x):\n        return self.drop(x)\n"
_DUMMY = frozenset({"zeros", "ones", "randn", "rand", "empty", "zeros_like", "ones_like", "randn_like"})
_MODEL_WORDS = ("model", "net", "encoder", "backbone", "tower", "classifier", "module")
_GRAD_WORDS = ("no_grad", "inference_mode", "set_grad_enabled", "enable_grad", "requires_grad",
               "autograd", ".grad", "backward", "onnx", "jit.trace", "jit.script", "torch.export")


class TorchEvalModeMissing(TorchRule):
    """
    ## What it does
    Flags a torch model run for evaluation or inference while still in training mode:
    a call `model(x)` under `torch.no_grad()`/`torch.inference_mode()` (a `with` block or a
    decorator), or in a function named like an evaluation (`evaluate`, `validate`, `test`,
    `predict`, `infer`, ...), with no `model.eval()` / `model.train(False)` on that model in
    the same function (for `self.model`: anywhere in the class; for a module-level model:
    anywhere in the file), and no helper called with the model that switches it. A second,
    low-confidence form flags `model.eval()` followed by model calls in a function that never
    turns autograd off (`no_grad`, `inference_mode`, `set_grad_enabled`) nor uses gradients,
    and that no same-file caller runs under `no_grad`.

    The model must be an `nn.Module` (see `direct-forward-call`; a name the function also
    calls `.load_state_dict()`/`.parameters()`/`.eval()` on counts, at low confidence) whose output
    depends on the mode: torch containers and layers with dropout or batch-norm,
    torchvision/timm models, same-file modules that mention dropout/normalisation or build
    submodules the file does not define. Not flagged: `transformers` models from
    `from_pretrained` (they come back in eval mode), a model created with `.eval()` in its
    chain, dummy-input shape probes (`backbone(torch.zeros(1, 3, 224, 224))`), calls inside
    a loop that also calls `.backward()` (a target or teacher computed during training),
    `self.<child>(x)` inside an `nn.Module` (the owner's mode propagates), Lightning
    modules and `*_step` hooks (Lightning and the HF `Trainer` switch modes around them),
    losses and metrics (`criterion(...)`). A model that is a parameter of the function
    (annotated `nn.Module`, or unannotated but called under `no_grad` and named like a
    model) is reported only in a function named like an evaluation that calls neither
    `.eval()` nor `.train()` (nor a same-file helper that does), when no same-file caller
    passes it in eval mode, and, with no caller at all, when the file does not load its
    models in eval mode elsewhere; at low confidence.

    ## Why is this bad?
    `torch.no_grad()` only turns autograd off. In training mode dropout still drops units
    and batch-norm normalises with the batch statistics (and updates its running stats), so
    the reported metrics are noisy, depend on the batch size, and the model changes while
    being evaluated. Conversely, inference in eval mode without `no_grad` builds the
    autograd graph for nothing, wasting memory and time.

    ## Example
    ```python
    model.train()
    ...
    with torch.no_grad():
        for x, y in val_loader:
            correct += (model(x).argmax(1) == y).sum()
    ```

    ## Use instead
    ```python
    model.eval()
    with torch.no_grad():
        for x, y in val_loader:
            correct += (model(x).argmax(1) == y).sum()
    model.train()
    ```

    ## Options
    None.

    ## References
    - PyTorch, `Module.eval` and "Autograd mechanics: evaluation mode is not a mechanism to
      locally disable gradient computation": https://pytorch.org/docs/stable/notes/autograd.html#evaluation-mode-nn-module-eval
    - Catalog: `rules/ml-api-misuse-torch.yaml` (knowledge key `torch_misuse`).
    """

    VALID = [
        _H + _NET + "model = Net()\nmodel.eval()\nwith torch.no_grad():\n    out = model(x)\n",
        _H + _NET + "def evaluate(loader):\n    model = Net()\n    model.train(False)\n"
        "    with torch.no_grad():\n        return [model(x) for x in loader]\n",
        # a helper switches the mode
        _H + _NET + "def to_eval(m):\n    m.eval()\n    return m\ndef run(xs):\n    model = Net()\n    to_eval(model)\n"
        "    with torch.no_grad():\n        return model(xs)\n",
        # a model created in eval mode; an HF model (from_pretrained is in eval mode)
        _H + _NET + "model = Net().eval()\nwith torch.inference_mode():\n    y = model(x)\n",
        ("import torch\nfrom transformers import AutoModel\nm = AutoModel.from_pretrained('bert-base-uncased')\n"
        "with torch.no_grad():\n    h = m(**batch)\n"),
        # a layer without dropout or batch-norm
        _H + "lin = nn.Linear(3, 1)\nwith torch.no_grad():\n    y = lin(x)\n",
        # a teacher / target network inside a training loop
        _H + _NET + "teacher = Net()\nfor x in loader:\n    with torch.no_grad():\n        t = teacher(x)\n"
        "    loss = crit(student(x), t)\n    loss.backward()\n",
        # Lightning handles the mode
        ("import torch\nimport lightning as L\nfrom torch import nn\nclass M(L.LightningModule):\n"
        "    def __init__(self):\n        super().__init__()\n        self.net = nn.Sequential(nn.Dropout())\n"
        "    def validation_step(self, batch, i):\n        with torch.no_grad():\n            return self.net(batch)\n"),
        # eval in another method of the class
        _H + _NET + "class Predictor:\n    def __init__(self):\n        self.model = Net()\n        self.model.eval()\n"
        "    def __call__(self, x):\n        with torch.no_grad():\n            return self.model(x)\n",
        # shape probe with a dummy input
        _H + "import torchvision\nbackbone = torchvision.models.resnet18()\nwith torch.no_grad():\n"
        "    dim = backbone(torch.zeros(1, 3, 224, 224)).shape[1]\n",
        # eval mode, then gradients on purpose (saliency)
        _H + _NET + "def saliency(x):\n    model = Net()\n    model.eval()\n    x.requires_grad_(True)\n"
        "    model(x).sum().backward()\n    return x.grad\n",
        # eval then inference in a function its caller runs under no_grad
        _H + _NET + "def predict(model: Net, x):\n    model.eval()\n    return model(x)\n"
        "with torch.no_grad():\n    y = predict(Net(), x)\n",
        # a parameter: the caller may have switched it
        _H + _NET + "def score(model: Net, x):\n    with torch.no_grad():\n        return model(x)\n",
        _H + _NET + "def evaluate(model: nn.Module, loader):\n    with torch.no_grad():\n        return [model(x) for x in loader]\n"
        "def main():\n    net = Net()\n    net.eval()\n    evaluate(net, loader)\n",
    ]
    INVALID = [
        Invalid(_H + _NET + "model = Net()\nfor epoch in range(3):\n    model.train()\n    for x, y in train:\n"
                "        crit(model(x), y).backward()\n    with torch.no_grad():\n        for x, y in val:\n"
                "            acc = (model(x).argmax(1) == y).float().mean()\n", line=16, message_contains="eval()"),
        Invalid("import torch\nimport torchvision.models as tvm\ndef predict(images):\n    net = tvm.resnet50(weights='DEFAULT')\n"
                "    return net(images).softmax(-1)\n", line=5, message_contains="net.eval()"),
        Invalid(_H + _NET + "@torch.inference_mode()\ndef infer(x):\n    m = Net().to('cuda')\n    return m(x)\n",
                line=12),
        Invalid(_H + _NET + "def evaluate(model: nn.Module, loader):\n    with torch.no_grad():\n"
                "        return [model(x) for x in loader]\n", line=11, confidence="low"),
        Invalid(_H + _NET + "def predict(xs):\n    model = Net()\n    model.eval()\n    return [model(x) for x in xs]\n",
                line=12, confidence="low", message_contains="no_grad"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.nograd: list[int] = [0]  # no_grad blocks open, per scope
        self.reported: set[tuple[int, str]] = set()
        self._nograd_callees: frozenset[str] | None = None
        self._order: dict[int, dict[int, int]] = {}
        self._first_switch: dict[tuple[int, frozenset[str]], int] = {}
        self._functions: list[cst.FunctionDef] | None = None
        self._file_switches: bool | None = None

    # -- walk state -------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.nograd.append(1 if any(self._is_no_grad(d.decorator) for d in node.decorators) else 0)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(node)
        self.nograd.pop()

    def visit_With(self, node: cst.With) -> None:
        if any(self._is_no_grad(i.item) for i in node.items):
            self.nograd[-1] += 1

    def leave_With(self, node: cst.With) -> None:
        if any(self._is_no_grad(i.item) for i in node.items):
            self.nograd[-1] -= 1

    def _is_no_grad(self, expr: cst.BaseExpression) -> bool:
        call = expr if isinstance(expr, cst.Call) else None
        q = self.ctx.names.qualified(call.func if call is not None else expr)
        if q is None:
            return False
        if q in self.k.no_grad:
            return True
        return q == "torch.set_grad_enabled" and call is not None and bool(call.args) \
            and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False"

    # -- the check --------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            if func.value in ("self", "cls") or func.value[:1].isupper():
                return
        elif not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"):
            return
        scope = self.scopes[-1]
        fn_name = scope.name.value if isinstance(scope, cst.FunctionDef) else ""
        in_nograd = self.nograd[-1] > 0
        # `*_step` methods are framework hooks (Lightning, HF Trainer): the framework switches modes
        eval_named = bool(set(fn_name.lower().split("_")) & self.k.eval_words) and not fn_name.endswith("_step")
        if not in_nograd and not eval_named and not self._has_eval_switch_text(scope):
            return
        if not self.uses_torch() or self._lightning():
            return
        name = dotted(func) or ""
        if any(w in name.lower() for w in ("loss", "criterion", "metric")):
            return  # a loss or metric module: mode-independent, typically
        prov = self.prov(func)
        if prov is None and in_nograd and eval_named and isinstance(func, cst.Name) \
                and isinstance(scope, cst.FunctionDef) and func.value in self.index.scope(scope).params \
                and any(w in func.value.lower() for w in _MODEL_WORDS):
            prov = Prov("module", "a parameter", "low", param=True)  # `def evaluate(model, ...)` under no_grad
        if prov is None or prov.kind != "module":
            return
        aliases = self._aliases(func, scope)
        if any(a.startswith("self.") for a in aliases) and self.cls and self.index.is_module_class(self.cls):
            return  # a child of a module: the owner's mode propagates
        if (in_nograd or eval_named) and self._missing_eval(node, prov, name, aliases, scope, eval_named):
            return
        if not in_nograd:
            self._missing_no_grad(node, name, aliases, scope)

    def _missing_eval(self, node: cst.Call, prov: Prov, name: str, aliases: set[str], scope: Scope,
                      eval_named: bool) -> bool:
        """Report a missing `.eval()`; False when the model was switched (look for the second form)."""
        if prov.evaled or not prov.sensitive or self._dummy_input(node) or self._in_training(scope):
            return True
        if self._switched(aliases, scope, node):
            return False
        if prov.param:
            if not eval_named or self._any_mode_call(scope) or self._callers_switch(scope, name):
                return True
            confidence = Confidence.LOW
        else:
            confidence = Confidence.LOW if prov.confidence == "low" else Confidence.MEDIUM
        key = (id(scope), name)
        if key in self.reported:
            return True
        self.reported.add(key)
        where = "under `torch.no_grad()`" if self.nograd[-1] > 0 else "in an evaluation function"
        self.report(
            node,
            f"`{name}` ({prov.source}) is run {where} but never put in eval mode with `{name}.eval()`: "
            f"dropout and batch-norm still behave as in training, so outputs and metrics are wrong "
            f"and batch-norm statistics change.",
            hint=f"Call `{name}.eval()` before evaluating (and `{name}.train()` when training resumes).",
            confidence=confidence,
        )
        return True

    def _missing_no_grad(self, node: cst.Call, name: str, aliases: set[str], scope: Scope) -> None:
        if not isinstance(scope, cst.FunctionDef) or scope.decorators:
            return
        text = self.ctx.code_for(scope)
        if any(w in text for w in _GRAD_WORDS) or scope.name.value in self._nograd_callers() \
                or "set_grad_enabled(False)" in self.ctx.source:
            return
        order = self._orders(scope)
        at = order.get(id(node))
        switches = [order[id(n)] for n in walk(scope.body) if is_eval_switch(n)
                    and dotted(n.func.value) in aliases]  # type: ignore[attr-defined,operator]
        if at is None or not switches or min(switches) > at:
            return
        if any(isinstance(n, cst.Call) and call_last_name(n) == "train" and not is_eval_switch(n)
               and dotted(n.func.value) in aliases for n in walk(scope.body)):  # type: ignore[attr-defined,operator]
            return
        key = (id(scope), name)
        if key in self.reported:
            return
        self.reported.add(key)
        self.report(
            node,
            f"`{name}` is in eval mode but runs outside `torch.no_grad()`/`torch.inference_mode()`: "
            f"autograd records the graph of every call for nothing, wasting memory and time.",
            hint="Wrap inference in `with torch.inference_mode():` (or `torch.no_grad()`), or decorate the function.",
            confidence=Confidence.LOW,
        )

    # -- evidence ---------------------------------------------------------------------
    def _has_eval_switch_text(self, scope: Scope) -> bool:
        if self._file_switches is None:
            src = self.ctx.source
            self._file_switches = ".eval()" in src or "train(False" in src or "train(mode=False" in src
        return self._file_switches and isinstance(scope, cst.FunctionDef) and self.index.contains(scope, "eval")

    def _lightning(self) -> bool:
        for c in self._cls_defs:
            for base in c.bases:
                q = self.ctx.names.qualified(base.value) or ""
                if "lightning" in q.lower() or q.endswith("LightningModule"):
                    return True
        return False

    def _aliases(self, func: cst.BaseExpression, scope: Scope) -> set[str]:
        """The model's dotted name and what it was assigned from (`model = self.model`)."""
        out: set[str] = set()
        todo = [dotted(func)]
        while todo:
            d = todo.pop()
            if d is None or d in out or len(out) > 6:
                continue
            out.add(d)
            if "." not in d:
                for v in self.index.scope(scope).assigns.get(d, ()):
                    while isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute) and not v.args:
                        v = v.func.value  # `model.cuda()`
                    if isinstance(v, (cst.Name, cst.Attribute)):
                        todo.append(dotted(v))
        return out

    def _switched(self, aliases: set[str], scope: Scope, at: cst.Call) -> bool:
        """An eval switch (or a helper that may switch) on the model, where it can be seen:
        before ``at`` in its scope; anywhere in the class for `self.<attr>`; anywhere in the
        file for a module-level model used in a function."""
        if self._switched_in(aliases, scope, at):
            return True
        places: list[cst.CSTNode] = []
        if any(a.startswith("self.") for a in aliases) and self._cls_defs:
            places.append(self._cls_defs[-1])
            aliases = aliases | {"self"}
        info = self.index.scope(scope)
        if isinstance(scope, cst.FunctionDef) and any(
                "." not in a and a not in info.assigns and a not in info.params for a in aliases):
            places.append(self.index.module)
        return any(self._switches(n, aliases) for place in places for n in walk(place))

    def _switched_in(self, aliases: set[str], scope: Scope, at: cst.Call) -> bool:
        order = self._orders(scope)
        key = (id(scope), frozenset(aliases))
        first = self._first_switch.get(key)
        if first is None:
            root = scope.body if isinstance(scope, cst.FunctionDef) else scope
            first = next((i for i, n in enumerate(walk(root)) if self._switches(n, aliases)), len(order) + 1)
            self._first_switch[key] = first
        return first < order.get(id(at), len(order))

    def _switches(self, n: cst.CSTNode, aliases: set[str]) -> bool:
        if not isinstance(n, cst.Call):
            return False
        f = n.func
        if isinstance(f, cst.Attribute):
            recv = dotted(f.value)
            if recv is not None and _related(recv, aliases):
                m = f.attr.value
                if is_eval_switch(n) or "eval" in m.lower() or (m == "train" and n.args and not _is_true(n.args[0].value)):
                    return True
        if any(dotted(a.value) in aliases for a in n.args):
            last = (call_last_name(n) or "").lower()
            if "eval" in last or "infer" in last:
                return True
            callee = self.index.callee(n, self.cls)
            if callee is not None and self.index.contains(callee, "eval"):
                return True
        return False

    def _in_training(self, scope: Scope) -> bool:
        loops = self.loops[-1]
        if loops:
            return self.index.contains(loops[-1], "backward")
        return isinstance(scope, cst.FunctionDef) and self.index.contains(scope, "backward")

    @staticmethod
    def _dummy_input(node: cst.Call) -> bool:
        return bool(node.args) and all(isinstance(a.value, cst.Call) and call_last_name(a.value) in _DUMMY
                                       for a in node.args)

    def _any_mode_call(self, scope: Scope) -> bool:
        return any(isinstance(n, cst.Call) and call_last_name(n) in ("eval", "train") for n in walk(scope)) \
            or (isinstance(scope, cst.FunctionDef) and self._evals(scope))

    def _callers_switch(self, scope: Scope, param: str) -> bool:
        """A same-file caller of ``scope`` passes a model in eval mode (switched before the
        call, or built in eval mode); with no caller, whether the file's convention is to
        switch at load time (a function returns a model it put in eval mode)."""
        if not isinstance(scope, cst.FunctionDef):
            return False
        me = scope.name.value
        params = [p.name.value for p in (*scope.params.posonly_params, *scope.params.params)]
        if params and params[0] in ("self", "cls"):
            params = params[1:]  # called as `self.method(model, ...)`
        index = params.index(param) if param in params else -1
        found = False
        for fn in [*self._all_functions(), self.index.module]:
            if fn is scope:
                continue
            root = fn.body if isinstance(fn, cst.FunctionDef) else fn
            nodes = list(walk(root, into_defs=isinstance(fn, cst.FunctionDef)))
            for i, n in enumerate(nodes):
                if not (isinstance(n, cst.Call) and call_last_name(n) == me):
                    continue
                positional = [a for a in n.args if a.keyword is None and not a.star]
                arg = next((a.value for a in n.args if a.keyword is not None and a.keyword.value == param), None)
                if arg is None and 0 <= index < len(positional):
                    arg = positional[index].value
                if arg is None:
                    continue
                found = True
                scopes: list[Scope] = [self.index.module] + ([fn] if isinstance(fn, cst.FunctionDef) else [])
                prov = self.index.provenance(arg, scopes, None)
                if prov is not None and prov.evaled:
                    return True
                d = dotted(arg)
                if d is not None and any(self._switches(m, {d}) for m in nodes[:i]):
                    return True
        return not found and self._eval_loader()

    def _eval_loader(self) -> bool:
        for fn in self._all_functions():
            switched = {dotted(n.func.value) for n in walk(fn.body, into_defs=False)  # type: ignore[attr-defined]
                        if is_eval_switch(n)}
            if not switched:
                continue
            for n in walk(fn.body, into_defs=False):
                if isinstance(n, cst.Return) and n.value is not None and (
                        dotted(n.value) in switched or any(is_eval_switch(m) for m in walk(n.value))
                        or is_eval_switch(n.value)):
                    return True
        return False

    def _evals(self, fn: cst.FunctionDef) -> bool:
        """``fn`` switches something to eval mode, itself or through a same-file helper."""
        return self.index.contains(fn, "eval") or self.index.helper_contains(fn, "eval", self.cls)

    def _all_functions(self) -> list[cst.FunctionDef]:
        if self._functions is None:
            self._functions = [n for n in walk(self.index.module) if isinstance(n, cst.FunctionDef)]
        return self._functions

    def _nograd_callers(self) -> frozenset[str]:
        """Names of functions called (anywhere) inside a no_grad block or function."""
        if self._nograd_callees is None:
            names: set[str] = set()
            for n in walk(self.index.module):
                body: cst.CSTNode | None = None
                if (isinstance(n, cst.With) and any(self._is_no_grad(i.item) for i in n.items)) or (
                        isinstance(n, cst.FunctionDef) and any(self._is_no_grad(d.decorator) for d in n.decorators)):
                    body = n.body
                if body is not None:
                    names.update(call_last_name(c) or "" for c in walk(body) if isinstance(c, cst.Call))
            self._nograd_callees = frozenset(names)
        return self._nograd_callees

    def _orders(self, scope: Scope) -> dict[int, int]:
        got = self._order.get(id(scope))
        if got is None:
            got = {id(n): i for i, n in enumerate(walk(scope.body if isinstance(scope, cst.FunctionDef) else scope))}
            self._order[id(scope)] = got
        return got


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _related(recv: str, aliases: set[str]) -> bool:
    return any(recv == a or recv.startswith(a + ".") or a.startswith(recv + ".") for a in aliases)

