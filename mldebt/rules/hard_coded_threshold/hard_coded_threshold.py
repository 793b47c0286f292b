from __future__ import annotations

from typing import Any, Mapping

import libcst as cst

from mldebt.model import Confidence, Severity
from mldebt.rules.base import FileContext, Invalid, Rule, Sink, Valid
from mldebt.rules.flow import FollowsValues, Literal, Origin, ValueTracker, raises_argument_error

_ORDERING = (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual)
_LITERALISH = (cst.Integer, cst.Float, cst.UnaryOperation, cst.Name)
_KINDS = {
    "probability": "predicted probabilities", "decision": "decision scores",
    "log_probability": "log-probabilities", "prediction": "predictions",
    "model_output": "model output", "metric": "a metric", "loss": "a loss",
}


class HardCodedThreshold(FollowsValues, Rule):
    """
    ## What it does
    Flags a numeric literal used as a decision boundary on a model output, a score, a
    probability, a loss or a metric: `probs > 0.73`, `if val_auc >= 0.91`,
    `np.where(p > 0.8, 1, 0)`, `if val_loss < 0.02: break`, `probs.gt(0.5)`, and literal
    cut points (`pd.cut(p, bins=[0, 0.3, 0.7, 1])`, `np.digitize(p, [0.5])`).

    The value is followed within the function and the module from where it is produced
    (`predict_proba`, `decision_function`, `predict`, `sigmoid`/`softmax`, a model or loss
    object call, an `sklearn.metrics` or `torchmetrics` function), resolved through imports,
    through assignments, `[:, 1]`, `.item()`, arithmetic, loops, comprehensions and lambdas.
    A value known only by its name (`val_loss`, `metrics["auc"]`) gives a low-confidence
    finding (severity info). Not flagged: 0, 1 and -1; named constants and parameter
    defaults; indices, counts, sizes and random draws (`argmax`, `len`, `.shape`,
    `random()`); `assert`s; epsilons such as `1e-8`; for raw `model(x)` or `.predict()`
    output, literals outside (0, 1) (labels, box sizes); name-only evidence in
    `if ...: raise ValueError(...)` argument checks. Test files are skipped by default.

    ## Why is this bad?
    A threshold chosen once by hand silently goes stale when the model is retrained, the
    data drift or the class balance change, and nobody can tune it without a code change
    (Sculley et al. 2015, section 7, "Fixed Thresholds in Dynamic Systems").

    ## Example
    ```python
    probs = clf.predict_proba(X)[:, 1]
    flagged = probs > 0.73
    ```

    ## Use instead
    ```python
    flagged = probs > config.decision_threshold  # chosen on a validation curve
    ```

    ## Options
    - `ignore-values` (list[number], default `[0, 1, -1]`): literals never reported.
    - `name-heuristics` (bool, default `true`): also report low-confidence findings on
      values whose origin is unknown but whose name reads like a score or metric.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015, §7.
    - Catalog: `rules/hard-coded-threshold.yaml`; API knowledge: `rules/knowledge.yaml`.
    """

    VALID = [
        "def f(xs, x, epoch):\n    return len(xs) > 100 or x.shape[0] > 3 or epoch > 10\n",
        "def f(lr, dropout):\n    if dropout > 0.5:\n        raise ValueError(dropout)\n    return lr > 0.01\n",
        "THRESHOLD = 0.73\ndef f(clf, X):\n    return clf.predict_proba(X)[:, 1] > THRESHOLD\n",
        "def f(p, threshold=0.5):\n    return p > threshold\n",
        "def f(clf, X):\n    preds = clf.predict(X)\n    return (preds == 1).sum(), (preds > 2).mean()\n",
        "import numpy as np\ndef f(clf, X):\n    return np.argmax(clf.predict_proba(X), axis=1) > 2\n",
        "import numpy as np\ndef f(clf, X):\n    return np.clip(clf.predict_proba(X), 0.01, 0.99)\n",
        "import random, time\ndef f(t0, version):\n"
        "    return random.random() < 0.5 or time.time() - t0 > 5.0 or version > 2.0\n",
        "def f(clf, a, b):\n    return abs(clf.predict_proba(a) - clf.predict_proba(b)).max() < 1e-6\n",
        "def f(model):\n    return [p for p in model.parameters() if p.grad.norm() > 5.0]\n",
        "def f(clf, X):\n    p = clf.predict_proba(X)\n    assert 0.0 <= p.min() and p.max() <= 1.0 and p.mean() > 0.2\n",
        "import torch\ndef f(model, x):\n    _, preds = torch.max(model(x), 1)\n    return preds >= 2\n",
        "def f(model, x):\n    out = model(x)\n    return out.size(0) > 8 or out[..., 2:4] > 2\n",
        "def f(clf, X):\n    probs = clf.predict_proba(X)\n    return [probs[:, 1] > t for t in (0.3, 0.5)]\n",
        "def f(args, loss_weight, n_preds):\n    return args.conf > 0.5 or loss_weight > 0.5 or n_preds > 10\n",
        "def f(clf, X):\n    return clf.predict_proba(X) >= 0.0\n",
        "import numpy as np\ndef f(aug_prob):\n    prob = np.random.rand()\n    return prob < 0.5\n",
        Valid("def f(val_loss):\n    return val_loss < 0.02\n", options={"name-heuristics": False}),
    ]
    INVALID = [
        Invalid("def f(clf, X):\n    probs = clf.predict_proba(X)\n    return probs > 0.73\n",
                line=3, column=12, confidence="high", message_contains="clf.predict_proba"),
        Invalid("import numpy as np\ndef f(clf, X):\n    p = clf.predict_proba(X)[:, 1]\n"
                "    return np.where(p >= 0.8, 'fraud', 'ok')\n", line=4, confidence="high"),
        Invalid("from sklearn.metrics import roc_auc_score as auc\ndef f(y, p):\n    val_auc = auc(y, p)\n"
                "    if val_auc >= 0.91:\n        print('ship it')\n", line=4, message_contains="roc_auc_score"),
        Invalid("import torch\nimport torch.nn.functional as F\ndef f(model, x):\n"
                "    probs = F.softmax(model(x), dim=1)\n    return torch.where(probs.max(dim=1).values > 0.9)\n",
                line=5, confidence="high"),
        Invalid("import torch.nn as nn\ndef train(model, loader):\n    criterion = nn.CrossEntropyLoss()\n"
                "    for x, y in loader:\n        loss = criterion(model(x), y)\n        if loss.item() < 0.02:\n"
                "            break\n", line=6, confidence="high", message_contains="a loss"),
        Invalid("def f(clf, X):\n    t = 0.35\n    scores = clf.decision_function(X)\n    return scores < t\n",
                line=4, message_contains="via local `t`"),
        Invalid("def f(clf, X):\n    probs = clf.predict_proba(X)[:, 1].tolist()\n"
                "    return list(filter(lambda p: p > 0.8, probs))\n", line=3),
        Invalid("def f(clf, X):\n    probs = clf.predict_proba(X)[:, 1]\n"
                "    return [i for i, p in enumerate(probs) if p > 0.65]\n", line=3),
        Invalid("def f(clf, X, df):\n    df['proba'] = clf.predict_proba(X)[:, 1]\n    return df[df['proba'] > 0.8]\n",
                line=3, confidence="high"),
        Invalid("def f(df, history, logs):\n    return (df[df['proba'] > 0.8],\n"
                "            history.history['val_loss'][-1] < 0.05)\n", line=2, confidence="low"),
        Invalid("def f(val_loss):\n    if val_loss < 0.02:\n        return True\n", line=2, confidence="low"),
        Invalid("from scipy.special import expit\ndef f(z):\n    return 0.2 < expit(z) < 0.8\n",
                line=3, message_contains="0.2, 0.8"),
        Invalid("import torch\nclass Net(torch.nn.Module):\n    pass\nnet = Net()\ny = net(torch.ones(3))\n"
                "mask = y.sigmoid().gt(0.7)\n", line=6, confidence="high"),
        Invalid("def f(model, X):\n    preds = model.predict(X)\n    return (preds > 0.5).astype(int)\n",
                line=3, confidence="medium"),
        Invalid("from sklearn.metrics import f1_score\ndef evaluate(y, p):\n    return f1_score(y, p)\n"
                "def main(y, p):\n    if evaluate(y, p) * 100 < 85:\n        raise SystemExit(1)\n",
                line=5, message_contains="evaluate()"),
        Invalid("from sklearn.metrics import roc_auc_score\ndef f(folds):\n    aucs = []\n"
                "    for y, p in folds:\n        aucs.append(roc_auc_score(y, p))\n"
                "    if sum(aucs) / len(aucs) < 0.72:\n        raise ValueError('below the release bar')\n",
                line=6, confidence="high"),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.flow = ValueTracker(ctx.names, ctx.knowledge)
        self._ignore = {float(v) for v in options.get("ignore-values", (0, 1, -1))}
        self._names = bool(options.get("name-heuristics", True))
        self._asserts = 0
        self._guarded: set[int] = set()  # comparisons in `if ...: raise` (argument checks)
        self._guard = False

    def visit_Assert(self, node: cst.Assert) -> None:
        self._asserts += 1

    def leave_Assert(self, node: cst.Assert) -> None:
        self._asserts -= 1

    def visit_If(self, node: cst.If) -> None:
        body = node.body.body
        if body and raises_argument_error(body[0]):
            stack: list[cst.BaseExpression] = [node.test]
            while stack:
                e = stack.pop()
                if isinstance(e, cst.BooleanOperation):
                    stack += (e.left, e.right)
                elif isinstance(e, cst.UnaryOperation):
                    stack.append(e.expression)
                elif isinstance(e, cst.Comparison):
                    self._guarded.add(id(e))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if self._asserts:
            return
        self._guard = id(node) in self._guarded
        left, hits, found = node.left, [], None
        for target in node.comparisons:
            right = target.comparator
            if isinstance(target.operator, _ORDERING):
                for lit_side, other in ((right, left), (left, right)):
                    if type(lit_side) in _LITERALISH:
                        hit = self._judge(lit_side, other)
                        if hit is not None:
                            hits.append(hit[0])
                            found = found or hit
                            break
            left = right
        if found is not None:
            self._report(node, hits, found[1], found[2])

    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        func, args, k = node.func, node.args, self.flow.k
        self._guard = False
        if self._asserts or not args:
            return
        if len(args) == 1 and type(func) is cst.Attribute and func.attr.value in k.comparison_methods:
            hits = [self._judge(args[0].value, func.value)]
        elif len(args) >= 2 and _last_name(func) in k.checked_call_names and (q := self.ctx.names.qualified(func)):
            if q in k.comparison_functions and len(args) == 2:
                hits = [self._judge(args[1].value, args[0].value) or self._judge(args[0].value, args[1].value)]
            elif q in k.binning_functions:  # `pd.cut(p, bins=[0, 0.3, 0.7, 1])`
                kw = k.binning_functions[q]
                bins = next((a.value for a in args if a.keyword is not None and a.keyword.value == kw),
                            args[1].value if args[1].keyword is None else None)
                if not isinstance(bins, (cst.List, cst.Tuple)):
                    return
                hits = [self._judge(e.value, args[0].value) for e in bins.elements]
            else:
                return
        else:
            return
        found = [h for h in hits if h is not None]
        if found:
            self._report(node, [h[0] for h in found], found[0][1], found[0][2])

    def _judge(self, lit_side: cst.BaseExpression, other: cst.BaseExpression) -> tuple[Literal, Origin, cst.BaseExpression] | None:
        lit = self.flow.literal(lit_side)
        if lit is None or lit.value in self._ignore:
            return None
        origin = self.flow.evidence(other)
        if origin is None:
            return None
        if "e" in lit.text.lower() and abs(lit.value) < 0.01 and origin.kind not in ("loss", "metric"):
            return None  # `p > 1e-8`: a numerical epsilon, not a decision
        if origin.kind == "name":
            if not self._names or lit.is_int or self._guard:
                return None
        elif origin.kind in ("prediction", "model_output") and (lit.is_int or not 0 < lit.value < 1):
            return None  # `preds > 2` compares labels, `out[..., 2:4] > 2` box sizes
        return lit, origin, other

    def _report(self, node: cst.CSTNode, lits: list[Literal], origin: Origin, other: cst.BaseExpression) -> None:
        expr = " ".join(self.ctx.code_for(other).split())
        expr = expr if len(expr) <= 40 else expr[:37] + "..."
        values = ", ".join(lit.text for lit in lits)
        via = "".join(f" (via local `{lit.via}`)" for lit in lits if lit.via)
        head = "Hard-coded threshold" if len(lits) == 1 else "Hard-coded thresholds"
        if origin.kind == "name":
            where = f"named like a score or metric: `{origin.source}`; where the value comes from is not known"
            head = "Possible " + head.lower()
        else:
            where = f"{_KINDS.get(origin.kind, origin.kind)} from `{origin.source}`"
            where += f", {origin.detail}" if origin.detail else ""
        it = "it" if len(lits) == 1 else "them"
        if origin.kind in ("metric", "loss"):
            fix = f"Move {it} to a named, configurable target (config or CLI) so {it} can change without a code edit."
        else:
            fix = f"Move {it} to a named, configurable threshold (config or CLI), or learn {it} from a validation curve."
        confidence = Confidence(origin.confidence)
        self.report(node, f"{head} {values}{via} on `{expr}` ({where}). {fix}",
                    confidence=confidence, severity=Severity.INFO if confidence is Confidence.LOW else None)


def _last_name(func: cst.BaseExpression) -> str | None:
    if type(func) is cst.Attribute:
        return func.attr.value  # type: ignore[attr-defined]
    return func.value if type(func) is cst.Name else None  # type: ignore[attr-defined]
