from __future__ import annotations

from typing import Sequence

import libcst as cst

from mldebt.rules.base import Comment, Invalid, Rule, Valid
from mldebt.rules.dead_experimental_path._common import (
    CommentNodes, classify_comment_lines, code_blocks, introduces_example, is_r_code,
)


class CommentedOutCode(Rule):
    """
    ## What it does
    Flags blocks of own-line comments (at least `min-lines` consecutive lines) that are
    Python statements and contain a call or an assignment: code switched off by
    commenting it out. A call spread over several comment lines counts as one statement.
    The block is reported once, at its first line.

    Not flagged: prose, URLs, shell commands (`pip install x`, `python train.py --lr 0.1`),
    doctest lines (`>>>`), tool directives (`# type: ignore`, `# noqa: E501`,
    `# pylint: disable=...`, `# fmt: off`, `# pragma: no cover`), license headers, a single
    commented line, maths and shape notes (`coef = s - t`, `x.shape = (B, N, C)`,
    `outputs (B, T, 2)`), R snippets (`fit <- glmnet(x, y)`), pseudo-code (`plot(...)`),
    and documentation examples: introduced by a line such as `Example:`, `Usage:`, `e.g.`
    or `computed via:`, or indented under the prose that quotes them.

    ## Why is this bad?
    Commented-out code is an experimental path kept "just in case": the old loss, the
    disabled augmentation, the other optimizer. It rots silently (nothing compiles or tests
    it), readers cannot tell whether it is a fix to restore or a failure to forget, and it
    hides the real comments. Version control keeps the history; the code base should not.

    ## Example
    ```python
    # loss = focal_loss(logits, y, gamma=2.0)
    # loss = loss * weights
    loss = cross_entropy(logits, y)
    ```

    ## Use instead
    ```python
    loss = cross_entropy(logits, y)
    ```
    If both variants must stay available, choose between them with a configuration value.

    ## Options
    - `min-lines` (int, default `2`): the smallest block of consecutive commented-out lines
      that is reported.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §5 "ML-System Anti-Patterns", *Dead Experimental Codepaths*.
    - eradicate / ruff `ERA001` (commented-out code); SonarQube S125.
    """

    VALID = [
        "# Compute the loss for each batch and\n# average it over the epoch.\nx = 1\n",
        "# x = 1\nx = 2\n",  # a single line
        "# Install with:\n# pip install torch torchvision\n# python train.py --lr 0.1 --epochs 10\n",
        "# >>> model = Net()\n# >>> model.fit(x)\n",
        "# pylint: disable=no-member\n# pylint: disable=invalid-name\nimport torch\n",
        "# type: ignore\n# noqa: E501\n# fmt: off\n# isort: skip\n# pragma: no cover\nx = 1\n",
        "# Licensed under the Apache License, Version 2.0 (the \"License\");\n"
        "# you may not use this file except in compliance with the License.\n"
        "# http://www.apache.org/licenses/LICENSE-2.0\n",
        "# Example:\n#     model = build_model(cfg)\n#     model.fit(train_loader)\n",
        "# Usage:\n#\n#   trainer = Trainer(max_epochs=3)\n#   trainer.fit(model)\n",
        "# e.g.\n# opt = SGD(params, lr=0.1)\n# opt.step()\n",
        "x = 1  # y = f(x)\ny = 2  # z = g(y)\n",  # trailing comments
        "# Shapes:\n# x: (B, C, H, W)\n# y: (B, K)\n",
        "# TODO: remove\n# NOTE: slow\n",
        "# See https://arxiv.org/abs/1512.03385\n# for details.\n",
        "# x = f(x)\n\n# y = g(y)\n",  # not consecutive
        Valid("# a = f(x)\n# b = g(a)\n", options={"min-lines": 3}),
        "# ------------------------------\n# Section\n# ==============================\n",
        "# Examples:\n#\n#     pytest.param(1, 2, 3)\n#     # ParameterSet(values=(1, 2, 3))\n#\n"
        "#     pytest.param('a', id='x')\n#     # ParameterSet(values=('a',))\n",
        "# Tokens:\n# STREAM-START\n# ALIAS(value)\n# ANCHOR(value)\n",  # a grammar
        "# @article{edmonds1967,\n#    journal={Combinatorica},\n#    volume={6},\n# }\n",  # BibTeX
        "# Linear program:\n# intercept = s0 - t0\n# coef = s - t\n",  # maths, not code
        "# tp = [0, 1, 1, 0]\n# fn = [1, 0, 0, 1]\n# b1 = d11 = 0.01667\n",  # expected values
        "# u.shape = (num_samples, *batch_shape)\n# gamma.shape = (1, *batch_shape)\n",  # shapes
        "# outputs (num_samples, batch_size, 2)\n# valid_length (num_samples, batch_size)\n",
        "# Solution from R:\n# library(glmnet)\n# options(digits=10)\n# fit <- glmnet(x, y)\n",
        "# Dtype promotion differs across versions:\n#\n#   beta = np.float64(0)\n"
        "#   result = beta * np.array([1, 2])\n",  # an indented example under a colon
        "# which is cheaper than computing\n#    sqrtWX = sqrt(W)[:, None] * X\n#    return sqrtWX.T @ sqrtWX\n",
        "# Pass the axes into the second call\n# disp1 = plot(...)\n# disp2 = plot(..., ax=disp1.axes_)\n",
        "# The coefficients are obtained via:\n# x = np.array([0, 0.6, 2])\n# coefs = lstsq(erf(x), b)[0]\n",
    ]
    INVALID = [
        Invalid("# loss = focal_loss(logits, y)\n# loss.backward()\nloss = ce(logits, y)\n", line=1,
                message_contains="2 lines"),
        Invalid("def f(x):\n    # x = self.dropout(x)\n    # x = self.norm(x)\n    return x\n", line=2),
        Invalid("import torch\n# Old approach:\n# model = torch.nn.Sequential(\n#     torch.nn.Linear(10, 10),\n"
                "#     torch.nn.ReLU(),\n# )\nmodel = None\n", line=3, message_contains="4 lines"),
        Invalid("# for epoch in range(10):\n#     train(model)\n", line=1),
        Invalid("# class OldHead:\n#     \"\"\"\n#     FIXME WIP\n#     \"\"\"\n#     def f(self):\n"
                "#         return g(self)\nx = 1\n", line=1, message_contains="6 lines"),
        Invalid("model = Net(\n    depth=12,\n    # drop_rate=0.1,\n    # drop_path_rate=0.2,\n)\n", line=3),
        Invalid("#import pdb\n#pdb.set_trace()\n", line=1),
        Invalid("# warmup: int = 1000\n# use_ema: bool = True\n", line=1),
        Invalid("lr = 0.01\n# lr = 0.001\n# batch_size = 64\n", line=2),
        Invalid("# Alternate implementation, slower:\n#\n#     aff = build(partition)\n#     return count(aff)\n",
                line=3),
        Invalid("x = 1\n# if args.mixup:\n#     x, y = mixup(x, y)\n# else:\n#     pass\n", line=2),
        Invalid("class A:\n    def f(self):\n        return 1\n    # def g(self):\n    #     return self.f() + 1\n",
                line=4),
        Invalid("# a = f(x)\n# b = g(a)\n# c = h(b)\n", line=1, options={"min-lines": 3}),
        Invalid("# def forward_old(self, x):\n#     x = self.fc(x)\n#\n#     return self.act(x)\nx = 1\n", line=1,
                message_contains="4 lines"),
    ]

    def visit_Module(self, node: cst.Module) -> None:
        self._module = node
        self._nodes: CommentNodes | None = None

    def finish(self) -> None:
        min_lines = max(1, int(self.options.get("min-lines", 2)))
        group: list[Comment] = []
        for c in self.ctx.comments():
            if c.own_line and group and c.line == group[-1].line + 1:
                group.append(c)
                continue
            if len(group) >= min_lines:
                self._group(group, min_lines)
            group = [c] if c.own_line else []
        if len(group) >= min_lines:
            self._group(group, min_lines)

    def _group(self, group: Sequence[Comment], min_lines: int) -> None:
        bodies = [c.text.lstrip("#") for c in group]
        texts = [b.strip() for b in bodies]
        indents = [len(b) - len(b.lstrip()) for b in bodies]
        if is_r_code(texts):
            return
        kinds = classify_comment_lines(texts)
        for first, last, code_lines, strong in code_blocks(texts, indents, kinds):
            if code_lines >= min_lines and strong and not introduces_example(texts, indents, first):
                self._report(group[first], last - first + 1)

    def _report(self, first: Comment, count: int) -> None:
        if self._nodes is None:
            self._nodes = CommentNodes(self._module, self.ctx.comments())
        node = self._nodes.find(first)
        if node is None:  # pragma: no cover - every comment is in the tree
            return
        self.report(
            node,
            f"Commented-out code ({count} lines): an experimental path kept as a comment. "
            "Delete it (version control keeps it) or restore it behind a configuration option.",
            hint="Delete the commented-out code; git history keeps it.",
        )
