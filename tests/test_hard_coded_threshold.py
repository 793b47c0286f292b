"""MLD301 hard-coded-threshold: cases beyond the rule's own examples, and the flow helper.

The rule's VALID/INVALID examples run in tests/test_rule_examples.py; these add the cases
that need more than one file, options, a test path, or assertions on the message, the
severity or the number of findings.
"""

from __future__ import annotations

import libcst as cst
import pytest

from mldebt.catalog import load_catalog
from mldebt.rules.flow import KILLED, Knowledge, ValueTracker, name_tokens
from mldebt.rules.names import NameResolver
from mldebt.testing import scan_snippets


def findings(code: str, path: str = "src/example.py", **options):
    report = scan_snippets({path: code}, select=["MLD301"], options={"MLD301": options} if options else None)
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == "MLD301"]


def lines(code: str, **options) -> list[tuple[int, str]]:
    return [(f.line, f.confidence.value) for f in findings(code, **options)]


FLAGGED = [
    pytest.param("""\
        from tensorflow import keras
        model = keras.models.load_model("m.keras")
        history = model.fit(x, y)
        if history.history["val_accuracy"][-1] < 0.8:
            print("underfit")
        labels = (model.predict(x) > 0.5).astype("int32")
        loss, acc = model.evaluate(x, y)
        if acc >= 0.9:
            model.save("m.keras")
        """, [(4, "low"), (6, "medium"), (8, "medium")], id="keras"),
    pytest.param("""\
        import torch
        import lightning as L
        from torchmetrics.classification import BinaryAUROC
        class Lit(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.auroc = BinaryAUROC()
            def on_validation_epoch_end(self):
                auc = self.auroc.compute()
                if auc < 0.6:
                    self.print("bad")
        """, [(10, "high")], id="torchmetrics-object"),
    pytest.param("""\
        import torch
        class Net(torch.nn.Module):
            pass
        class Wrapper:
            def __init__(self):
                self.model = Net()
            def flags(self, x):
                return self.model(x) > 0.4
        """, [(8, "high")], id="model-on-self"),
    pytest.param("""\
        from sklearn.metrics import roc_auc_score, f1_score
        def report(y, p):
            metrics = {"auc": roc_auc_score(y, p), "f1": f1_score(y, p > 0.5)}
            return metrics["auc"] > 0.9
        """, [(4, "high")], id="dict-of-metrics"),
    pytest.param("""\
        import numpy as np
        def ensemble(ps, weights):
            return np.average(np.vstack(ps), axis=0, weights=weights)
        def run(lr, nb, X):
            p = ensemble([lr.predict_proba(X)[:, 1], nb.predict_proba(X)[:, 1]], [1, 2])
            return np.where(p > 0.47, 1, 0)
        """, [(6, "high")], id="through-a-local-function"),
    pytest.param("""\
        import torch.nn.functional as F
        def evaluate(model, batches):
            losses, probs = [], []
            for x, y in batches:
                logits = model(x)
                losses.append(F.cross_entropy(logits, y).item())
                probs.append(F.softmax(logits, -1)[:, 1])
            return sum(losses) / len(losses), probs
        def main(model, batches):
            val_loss, val_probs = evaluate(model, batches)
            if val_loss < 0.1:
                return [p for p in val_probs if p > 0.55]
        """, [(11, "high"), (12, "high")], id="tuple-return"),
    pytest.param("""\
        from sklearn.model_selection import GridSearchCV
        def f(clf, grid, X, y):
            gs = GridSearchCV(clf, grid).fit(X, y)
            return gs.best_score_ > 0.9 or clf.score(X, y) < 0.8
        """, [(4, "medium"), (4, "medium")], id="fitted-attribute-and-score"),
    pytest.param("""\
        import torch
        def f(logits):
            probs = torch.sigmoid(logits)
            return torch.gt(probs, 0.3), probs.ge(0.6), (m := probs.mean()) > 0.2
        """, [(4, "high")] * 3, id="function-forms-and-walrus"),
    pytest.param("""\
        import numpy as np
        import pandas as pd
        def segments(model, X):
            p = model.predict_proba(X)[:, 1]
            return pd.cut(p, bins=[0, 0.3, 0.7, 1.0]), np.digitize(p, [0.5]), pd.cut(X[:, 0], [0, 0.5, 1])
        """, [(5, "high"), (5, "high")], id="binning"),
]


@pytest.mark.parametrize(("code", "expected"), FLAGGED)
def test_flagged(code, expected):
    assert lines(code) == expected


NOT_FLAGGED = [
    pytest.param("""\
        import torch
        def nms(prediction, conf_thres=0.25):
            xc = prediction[..., 4] > conf_thres
            for x in prediction:
                wh = x[:, 2:4] - x[:, 0:2]
                keep = ((x[..., 2:4] > 2) & (x[..., 2:4] < 4096)).all(1) & (wh[:, 0] > 0.5)
            return xc
        def run(model, img):
            pred = model(img)
            area = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
            return area > 0.25, pred.max(1)[1] > 3
        """, id="box-geometry-and-indices"),
    pytest.param("""\
        import numpy as np
        import torch
        def augment(img, p=0.5, rng=np.random.default_rng(0)):
            prob = rng.random()
            if prob < 0.5:
                img = img[:, ::-1]
            if torch.rand(1) < 0.3:
                img = img * 0.9
            return img
        """, id="randomness"),
    pytest.param("""\
        import torch
        def clip(model, max_norm=1.0):
            for p in model.parameters():
                if p.grad is not None and p.grad.abs().max() > 1e3:
                    p.grad.zero_()
            total = sum(p.numel() for p in model.parameters())
            return total > 1e6
        """, id="gradients-and-sizes"),
    pytest.param("""\
        def f(clf, X):
            probs = clf.predict_proba(X)
            if abs(probs.sum(axis=1).mean() - 1.0) > 1e-4:
                raise ValueError("not normalised")
            return probs > 1e-9
        """, id="epsilons"),
    pytest.param("""\
        from sklearn.metrics import confusion_matrix, pairwise_distances
        def f(y, p, a, b):
            cm = confusion_matrix(y, p)
            return cm[0, 0] > 100, pairwise_distances(a, b) < 0.2
        """, id="counts-and-distances"),
    pytest.param("""\
        from sklearn.metrics import roc_auc_score
        def report(trainer, y, p):
            stats = {"auc": roc_auc_score(y, p), "n": len(y)}
            metrics = trainer.evaluate()
            return stats["n"] > 100.5, metrics["eval_runtime"] > 3.5, metrics["epoch"] > 2
        """, id="non-score-keys-of-a-metrics-dict"),
]


@pytest.mark.parametrize("code", NOT_FLAGGED)
def test_not_flagged(code):
    assert lines(code) == []


def test_message_names_value_origin_and_fix():
    (f,) = findings("def f(clf, X):\n    probs = clf.predict_proba(X)[:, 1]\n    return probs > 0.73\n")
    assert f.message.startswith("Hard-coded threshold 0.73 on `probs` (predicted probabilities from `clf.predict_proba`)")
    assert "configurable threshold" in f.message and "validation curve" in f.message
    assert f.hint and f.severity.value == "warning" and f.remediation_minutes == 15


def test_name_only_findings_are_low_confidence_and_info():
    (f,) = findings("def f(val_loss):\n    return val_loss < 0.02\n")
    assert (f.confidence.value, f.severity.value) == ("low", "info")
    assert f.message.startswith("Possible hard-coded threshold 0.02")


def test_chained_comparison_is_one_finding():
    found = findings("from scipy.special import expit\ndef f(z):\n    return 0.2 < expit(z) < 0.8\n")
    assert len(found) == 1 and "0.2, 0.8" in found[0].message


def test_ignore_values_option():
    code = "def f(clf, X):\n    return clf.predict_proba(X) > 0.5, clf.predict_proba(X) > 0.7\n"
    assert len(findings(code)) == 2
    assert [f.message.split()[2] for f in findings(code, **{"ignore-values": [0, 1, -1, 0.5]})] == ["0.7"]


def test_off_in_tests_by_default():
    code = "def test_f(clf, X):\n    assert (clf.predict_proba(X) > 0.5).all()\n    ok = clf.predict_proba(X) > 0.5\n"
    assert findings(code, path="tests/test_model.py") == []
    assert len(findings(code, path="src/model.py")) == 1


def test_module_level_constant_and_parameter_default_are_named():
    code = (
        "DECISION = 0.6\n"
        "def f(clf, X, cut=0.4):\n"
        "    p = clf.predict_proba(X)[:, 1]\n"
        "    return (p > DECISION) | (p < cut)\n"
    )
    assert findings(code) == []


# -- the flow helper ------------------------------------------------------------------


def test_name_tokens():
    assert name_tokens("val_AUC") == ("val", "auc")
    assert name_tokens("F1Score") == ("f1", "score")


@pytest.mark.parametrize(("name", "scoreish"), [
    ("val_auc", True), ("churn_proba", True), ("obj_scores_global", True), ("macro_f1", True),
    ("iou_sim", True), ("pred_areas", False), ("loss_weight", False), ("n_preds", False),
    ("conf_thres", False), ("pred_len", False), ("conf_mat", False), ("lr", False),
])
def test_scoreish(name, scoreish):
    assert Knowledge.of(load_catalog().knowledge).scoreish(name) is scoreish


def _tracker(code: str) -> tuple[ValueTracker, cst.Module]:
    module = cst.parse_module(code)
    names = NameResolver()
    tracker = ValueTracker(names, load_catalog().knowledge)
    for stmt in module.body:
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
        if isinstance(small, cst.Import):
            names.add_import(small)
        elif isinstance(small, cst.ImportFrom):
            names.add_import_from(small)
        elif isinstance(small, cst.Assign):
            tracker.assign(small)
    return tracker, module


def test_tracker_follows_and_kills():
    tracker, _ = _tracker(
        "import torch\n"
        "out = torch.softmax(z, 1)\n"
        "vals, idx = torch.max(out, 1)\n"
        "n = len(out)\n"
    )
    assert tracker.lookup("out").kind == "probability"
    assert tracker.lookup("vals").source == "torch.softmax"
    assert tracker.lookup("idx") is KILLED and tracker.lookup("n") is KILLED
    expr = cst.parse_expression("out[:, 1].detach().cpu().numpy() * 100")
    assert tracker.origin(expr).kind == "probability"
    assert tracker.origin(cst.parse_expression("out.argmax(1)")) is None
