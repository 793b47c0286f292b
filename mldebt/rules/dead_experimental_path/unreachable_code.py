from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

import libcst as cst

from mldebt.rules.base import Invalid, Rule
from mldebt.rules.dead_experimental_path._common import is_noop_stmt, is_yield_stmt

_JUMPS = {cst.Return: "return", cst.Raise: "raise", cst.Break: "break", cst.Continue: "continue"}
# calls that never return (they exit or raise)
_EXITS = {"sys.exit": "sys.exit()", "builtins.exit": "exit()", "builtins.quit": "quit()",
          "os._exit": "os._exit()", "os.abort": "os.abort()", "pytest.skip": "pytest.skip()",
          "pytest.fail": "pytest.fail()", "pytest.exit": "pytest.exit()"}
_EXIT_NAMES = frozenset(q.rsplit(".", 1)[1] for q in _EXITS)


class UnreachableCode(Rule):
    """
    ## What it does
    Flags statements that follow a `return`, `raise`, `break`, `continue` or a call that
    never returns (`sys.exit()`, `exit()`, `os._exit()`, `pytest.skip()`, `pytest.fail()`)
    in the same block: they can never run. The first unreachable
    statement of a block is reported, once.

    Not flagged: the empty-generator idiom (`return` followed by `yield`); `pass`, `...`
    and bare strings after the jump (they do nothing); code after a `return` inside a
    different branch (`if x: return` is followed by reachable code); module-level code in
    notebooks (each cell runs on its own).

    ## Why is this bad?
    Code left behind an early `return` or a `raise NotImplementedError` is usually an
    experiment switched off by inserting a jump above it. It still has to be read,
    type-checked and kept in step with the code around it, yet nobody knows whether it
    works. Sculley et al. list such dead experimental codepaths among the anti-patterns
    that make ML systems hard to change.

    ## Example
    ```python
    def compute_loss(logits, y):
        return cross_entropy(logits, y)
        loss = focal_loss(logits, y, gamma=2.0)
        return loss
    ```

    ## Use instead
    ```python
    def compute_loss(logits, y):
        return cross_entropy(logits, y)
    ```
    (git keeps the focal-loss experiment.)

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §5 "ML-System Anti-Patterns", *Dead Experimental Codepaths*.
    - pylint `unreachable` (W0101).
    """

    VALID = [
        "def empty():\n    return\n    yield\n",
        "def empty():\n    return iter(())\n    yield from ()\n",
        "def f(x):\n    if x:\n        return 1\n    return 2\n",
        "def f(x):\n    raise NotImplementedError\n    pass\n",
        "def f(x):\n    raise NotImplementedError\n    ...\n",
        "for x in xs:\n    if x:\n        continue\n    use(x)\n",
        "def f(x):\n    try:\n        return g(x)\n    except KeyError:\n        return None\n",
        "def f(x):\n    while True:\n        if x():\n            break\n    return 1\n",
        "def f():\n    return 1\n    # old: return 2\n",
        "def main():\n    run()\n    sys.exit(0)\n",
        "def f(exit):\n    exit()\n    cleanup()\n",  # a parameter, not the builtin
    ]
    INVALID = [
        Invalid("def f(x):\n    return x\n    x = x * 2\n    return x\n", line=3, message_contains="return"),
        Invalid("def f():\n    raise NotImplementedError\n    return old_impl()\n", line=3),
        Invalid("for x in xs:\n    break\n    use(x)\n", line=3),
        Invalid("for x in xs:\n    continue\n    use(x)\n", line=3),
        Invalid("def f(x):\n    if x:\n        return 1; print('never')\n", line=3),
        Invalid("import sys\nrun()\nsys.exit(0)\nevaluate()\n", line=4, message_contains="sys.exit()"),
        Invalid("from sys import exit as stop\ndef f():\n    stop(1)\n    g()\n", line=4),
        Invalid("import pytest\ndef test_old():\n    pytest.skip('flaky')\n    assert run() == 1\n", line=4),
        Invalid("def f():\n    return 1\n    \"\"\"old version\"\"\"\n    legacy()\n", line=4),
        Invalid("def f():\n    return 1\n    def helper():\n        pass\n", line=3),
        Invalid("def f():\n    try:\n        g()\n    except E:\n        raise\n        log()\n", line=6),
    ]

    # on leave: every import of the block has been seen by the name resolver
    def leave_Module(self, node: cst.Module) -> None:
        if not self.ctx.path.endswith(".ipynb"):
            self._block(node.body)

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._block(node.body)

    def leave_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._line(node.body, ())

    def _block(self, body: Sequence[cst.BaseStatement]) -> None:
        for i, stmt in enumerate(body):
            # what follows is read only after a jump: a lazy view, not a copy per statement
            # (copying made a 40,000-statement module quadratic)
            if type(stmt) is cst.SimpleStatementLine and self._line(stmt.body, islice(body, i + 1, None)):
                return

    def _line(self, smalls: Sequence[cst.BaseSmallStatement], after: Iterable[cst.BaseStatement]) -> bool:
        """Report what follows a jump in this line or block; True when a jump was found."""
        for j, small in enumerate(smalls):
            kind = self._jump(small)
            if kind is None:
                continue
            rest: list[tuple[cst.CSTNode, cst.BaseSmallStatement | None]] = [(s, s) for s in smalls[j + 1:]]
            for stmt in after:
                if type(stmt) is cst.SimpleStatementLine:
                    rest.extend((stmt if k == 0 else s, s) for k, s in enumerate(stmt.body))
                else:
                    rest.append((stmt, None))
            live = [node for node, s in rest if not (is_noop_stmt(s) or is_yield_stmt(s))]
            if live:
                self.report(
                    live[0],
                    f"Unreachable code: it follows `{kind}` in the same block and can never run, "
                    "a dead experimental path.",
                    hint="Delete the unreachable code (version control keeps it), or move the jump.",
                )
            return True
        return False

    def _jump(self, small: cst.BaseSmallStatement) -> str | None:
        kind = _JUMPS.get(type(small))
        if kind is not None:
            return kind
        if type(small) is cst.Expr and type(small.value) is cst.Call:  # type: ignore[attr-defined]
            func = small.value.func  # type: ignore[attr-defined]
            last = func.value if type(func) is cst.Name else func.attr.value if type(func) is cst.Attribute else ""
            if last not in _EXIT_NAMES and not (type(func) is cst.Name and func.value in self.ctx.names.aliases):
                return None
            name = self.ctx.names.qualified(func)
            kind = _EXITS.get(name) if name is not None else None
            if kind is not None and name is not None and name.startswith("builtins.") and _is_param(
                    self.ctx.function, name[9:]):
                return None
            return kind
        return None


def _is_param(fn: cst.CSTNode | None, name: str) -> bool:
    """``exit`` is a parameter of the enclosing function, not the builtin."""
    if fn is None:
        return False
    params: cst.Parameters = fn.params  # type: ignore[attr-defined]
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return any(p.name.value == name for p in every)
