from __future__ import annotations

import libcst as cst

from mldebt.rules.base import Invalid, Rule
from mldebt.rules.dead_experimental_path._common import (
    is_forced, is_noop_stmt, is_yield_stmt, small_statements, truth,
)

_HINT = "Delete the dead branch; if the switch matters, make it a configuration option."


class ConstantCondition(Rule):
    """
    ## What it does
    Flags a branch whose condition is a literal, so one arm can never run: `if False:`,
    `if 0:`, `if 1 == 0:`, `while False:`, `elif None:`, `if True:` with an `else` (the
    `else` arm is dead), a ternary on a literal, `if x and False:` / `if x or True:` (a
    real condition switched off or forced on by hand), and a comprehension filter that is
    always false. The finding is on the condition.

    Not flagged: `while True:` / `while 1:` (a loop that ends with `break`), `if True:`
    without an `else` (nothing is dead), `if __debug__:`, `if TYPE_CHECKING:`,
    comparisons such as `0 < x`, and two idioms: `if False:` holding only imports (the
    pre-`TYPE_CHECKING` way to import for type checkers) or only `yield` (to make a
    function a generator).

    ## Why is this bad?
    A branch disabled with `if False:` or enabled with `or True` is an experiment that was
    switched by editing code. The dead arm still has to be read, kept compiling and kept
    in step with the rest of the system; nobody knows whether it still works or whether
    it may be deleted. Sculley et al. call these dead experimental codepaths: each one
    adds to the combinatorial space of behaviours the system could take.

    ## Example
    ```python
    if False:
        loss = focal_loss(logits, y)
    else:
        loss = cross_entropy(logits, y)
    ```

    ## Use instead
    ```python
    loss = cross_entropy(logits, y)  # the focal-loss experiment lives in git history
    ```
    or, if both must stay available, choose with a configuration value
    (`if cfg.loss == "focal":`).

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §5 "ML-System Anti-Patterns", *Dead Experimental Codepaths*.
    - pylint `using-constant-test` (W0125).
    """

    VALID = [
        "while True:\n    line = read()\n    if not line:\n        break\n",
        "while 1:\n    step()\n",
        "if True:\n    run()\n",
        "if __debug__:\n    check_invariants()\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
        "def f(x):\n    if 0 < x:\n        return x\n",
        "def f(x):\n    if 0 < x < 1:\n        return x\n",
        "DEBUG = False\nif DEBUG:\n    print('x')\n",
        # the pre-TYPE_CHECKING idiom: imports only for the type checker
        "if False:  # for mypy\n    from typing import List\n",
        # makes the function a generator without yielding anything
        "def empty():\n    if False:\n        yield\n",
        "def f(x, y):\n    return x if x is not None else y\n",
        "ok = flag and False\n",  # not a condition
        "items = [x for x in xs if x]\n",
        "if not x:\n    pass\n",
        "def f(s):\n    if s == '' or s is None:\n        return 0\n",
    ]
    INVALID = [
        Invalid("if False:\n    train_with_mixup()\n", line=1, message_contains="always false"),
        Invalid("def f():\n    if 0:\n        old_path()\n    return 1\n", line=2),
        Invalid("while False:\n    step()\n", line=1),
        Invalid("if True:\n    new_loss()\nelse:\n    old_loss()\n", line=1, message_contains="`else` arm"),
        Invalid("if x > 1:\n    a()\nelif False:\n    b()\n", line=3),
        Invalid("def f(use_amp):\n    if use_amp and False:\n        scaler.step()\n", line=2),
        Invalid("def f(cfg):\n    if cfg.augment or True:\n        augment()\n", line=2,
                message_contains="always true"),
        Invalid("y = old(x) if False else new(x)\n", line=1),
        Invalid("y = [f(x) for x in xs if False]\n", line=1),
        Invalid("if not True:\n    legacy()\n", line=1),
        Invalid("if (None):\n    legacy()\n", line=1),
        Invalid("def f(x):\n    if 1 == 0:\n        x = old(x)\n    return x\n", line=2),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._elifs: set[int] = set()

    def visit_If(self, node: cst.If) -> None:
        orelse = node.orelse
        if type(orelse) is cst.If:
            self._elifs.add(id(orelse))
        value = truth(node.test)
        if value is None:
            return
        keyword = "elif" if id(node) in self._elifs else "if"
        if value is False:
            if _idiom(node.body):
                return
            self._false(node.test, keyword, "body never runs")
        elif orelse is not None:
            arm = "elif" if type(orelse) is cst.If else "else"
            self.report(
                node.test,
                f"`{keyword} {self._src(node.test)}:` is always true, so its `{arm}` arm never runs: "
                "a dead experimental path.",
                hint=_HINT,
            )
        elif is_forced(node.test):
            self.report(
                node.test,
                f"Condition `{self._src(node.test)}` is always true: a literal overrides the real "
                "test, so the check is dead.",
                hint="Remove the literal (`or True`) to restore the check, or remove the check.",
            )

    def visit_While(self, node: cst.While) -> None:
        if truth(node.test) is False and not _idiom(node.body):
            self._false(node.test, "while", "loop body never runs")

    def visit_IfExp(self, node: cst.IfExp) -> None:
        value = truth(node.test)
        if value is not None:
            dead = "`else` value" if value else "value before `if`"
            self.report(
                node.test,
                f"Conditional expression on `{self._src(node.test)}`, which is always "
                f"{'true' if value else 'false'}: its {dead} is never used.",
                hint=_HINT,
            )

    def visit_CompIf(self, node: cst.CompIf) -> None:
        if truth(node.test) is False:
            self.report(
                node.test,
                f"Comprehension filter `if {self._src(node.test)}` is always false, so the "
                "comprehension never produces an element: a dead experimental path.",
                hint=_HINT,
            )

    def _false(self, test: cst.BaseExpression, keyword: str, what: str) -> None:
        self.report(
            test,
            f"`{keyword} {self._src(test)}:` is always false, so its {what}: a dead experimental path.",
            hint=_HINT,
        )

    def _src(self, node: cst.CSTNode) -> str:
        text = " ".join(self.ctx.code_for(node).split())
        return text if len(text) <= 60 else text[:57] + "..."


def _idiom(suite: cst.BaseSuite) -> bool:
    """Only imports (for type checkers) or only ``yield`` (a generator marker)."""
    if type(suite) is cst.SimpleStatementSuite:
        smalls: list[cst.BaseSmallStatement | None] = list(suite.body)  # type: ignore[attr-defined]
    else:
        smalls = list(small_statements(suite.body))  # type: ignore[arg-type]
    if not smalls or any(s is None for s in smalls):
        return False
    if all(type(s) in (cst.Import, cst.ImportFrom) or type(s) is cst.Pass for s in smalls):
        return True
    return any(is_yield_stmt(s) for s in smalls) and all(is_yield_stmt(s) or is_noop_stmt(s) for s in smalls)
