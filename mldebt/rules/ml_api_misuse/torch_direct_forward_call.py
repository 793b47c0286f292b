from __future__ import annotations

import libcst as cst

from mldebt.model import Confidence
from mldebt.rules.base import Invalid
from mldebt.rules.ml_api_misuse._torch import TorchRule, method_name

_H = "import torch\nimport torch.nn as nn\n"


class TorchDirectForwardCall(TorchRule):
    """
    ## What it does
    Flags `module.forward(x)` where `module` is provably a torch `nn.Module` instance: built
    from a `torch.nn` class (however imported), from a same-file class that subclasses
    `nn.Module` (directly or through a same-file base), by `torchvision.models.*`,
    `timm.create_model` or `transformers.AutoModel*.from_pretrained`, annotated as
    `nn.Module`, or returned by a same-file function that builds one; followed through
    assignments, `self.<attr>` and `.to(device)`/`.cuda()`/`.eval()` chains.

    Not flagged: `self.forward(...)` and `super().forward(...)` inside the class,
    `Base.forward(self, x)` (an explicit base-class call), `m.forward(x)` inside `m`'s own
    class, and objects whose origin is unknown.

    ## Why is this bad?
    `nn.Module.__call__` runs the forward pre-hooks, the forward hooks and the backward
    hooks registered on the module around `forward`; calling `forward` directly skips them.
    Whatever relies on hooks (feature extraction, pruning, quantization observers,
    `torch.utils.checkpoint`, FSDP/DDP bookkeeping, profilers) silently stops working.

    ## Example
    ```python
    encoder = nn.TransformerEncoder(layer, num_layers=6)
    h = encoder.forward(x)
    ```

    ## Use instead
    ```python
    h = encoder(x)
    ```

    ## Options
    None.

    ## References
    - PyTorch, `torch.nn.Module.forward`: "one should call the Module instance afterwards
      instead of this since the former takes care of running the registered hooks":
      https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.forward
    - Catalog: `rules/ml-api-misuse-torch.yaml` (knowledge key `torch_misuse`).
    """

    VALID = [
        _H + "m = nn.Linear(3, 2)\ny = m(x)\n",
        _H + "class Net(nn.Module):\n    def forward(self, x):\n        return x\n"
        "    def predict(self, x):\n        return self.forward(x)\n",
        _H + "class Net(nn.Linear):\n    def forward(self, x):\n        return super().forward(x) * 2\n",
        _H + "class Net(nn.Linear):\n    def forward(self, x):\n        return nn.Linear.forward(self, x)\n",
        # unknown origin: a parameter without annotation, a third-party object
        "def run(model, x):\n    return model.forward(x)\n",
        "from mylib import Thing\nt = Thing()\nt.forward(1)\n",
        # a same-file class that is not a module
        _H + "class Walker:\n    def forward(self, n):\n        return n\nw = Walker()\nw.forward(3)\n",
        # inside the module's own class
        _H + "class Net(nn.Module):\n    def forward(self, x):\n        return x\n"
        "    def twice(self, x):\n        other = Net()\n        return other.forward(x)\n",
    ]
    INVALID = [
        Invalid(_H + "enc = nn.TransformerEncoder(layer, 6)\nh = enc.forward(x)\n", line=4,
                message_contains="hooks"),
        Invalid("import torch\nfrom torch import nn\nclass Block(nn.Module):\n    def forward(self, x):\n        return x\n"
                "class Net(Block):\n    pass\nnet = Net().to('cuda')\nout = net.forward(x)\n", line=9,
                confidence="medium"),
        Invalid("import torchvision\ndef feats(x):\n    backbone = torchvision.models.resnet18(weights=None)\n"
                "    return backbone.forward(x)\n", line=4),
        Invalid(_H + "class Head(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.proj = nn.Linear(4, 2)\n    def forward(self, x):\n        return self.proj.forward(x)\n",
                line=8),
        Invalid("import timm\nfrom torch import nn\ndef build():\n    return timm.create_model('resnet50')\n"
                "def run(m: nn.Module, x):\n    return m.forward(x)\nmodel = build()\ny = model.forward(x)\n",
                line=6),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if method_name(node) != "forward":
            return
        recv = node.func.value  # type: ignore[attr-defined]
        if isinstance(recv, cst.Name) and recv.value in ("self", "cls"):
            return
        if isinstance(recv, (cst.Call, cst.Subscript)):
            return  # `super().forward(x)`, `self.layers[i].forward(x)` (unknown element)
        prov = self.prov(recv)
        if prov is None or prov.kind != "module":
            return
        if prov.cls and self._inside(prov.cls):
            return
        name = self.ctx.code_for(recv).strip()
        self.report(
            node,
            f"`{name}.forward(...)` calls the forward method of a torch module ({prov.source}) directly: "
            f"the module's forward/backward hooks and pre-hooks do not run. Call `{name}(...)` instead.",
            hint=f"Replace `{name}.forward(...)` with `{name}(...)`.",
            confidence=Confidence(prov.confidence),
        )

    def _inside(self, cls: str) -> bool:
        return any(c.name.value == cls for c in self._cls_defs)
