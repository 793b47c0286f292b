"""MLD701/MLD702 unseeded-randomness: cases beyond the rules' own examples.

The rules' VALID/INVALID examples run in tests/test_rule_examples.py; these add test paths,
default selection (preview), counts per file, messages and the knowledge entry.
"""

from __future__ import annotations

import pytest

from mldebt.catalog import load_catalog
from mldebt.rules.unseeded_randomness._common import RandomnessKnowledge
from mldebt.testing import scan_snippets


def findings(code: str, rule: str, path: str = "src/train.py"):
    report = scan_snippets({path: code}, select=[rule])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def lines(code: str, rule: str, path: str = "src/train.py") -> list[int]:
    return [f.line for f in findings(code, rule, path)]


def test_both_rules_are_preview_and_in_the_unseeded_randomness_family():
    specs = {s.code: s for s in load_catalog().rules if s.code.startswith("MLD7")}
    assert set(specs) == {"MLD701", "MLD702"}
    for spec in specs.values():
        assert spec.status == "preview"
        assert spec.smell == "unseeded-randomness"
        assert spec.tests is False


def test_preview_rules_do_not_run_by_default():
    code = "from sklearn.model_selection import train_test_split\na, b = train_test_split(X)\n"
    report = scan_snippets({"src/train.py": code})
    assert not [f for f in report.findings if f.rule.startswith("MLD7")]


SKLEARN = [
    pytest.param("""\
        from sklearn.model_selection import train_test_split, KFold, StratifiedKFold
        a, b = train_test_split(X, shuffle=True)
        cv = KFold(5, True)
        cv2 = KFold(n_splits=5, shuffle=flag)
        cv3 = StratifiedKFold(5, shuffle=True, random_state=None)
        a, b = train_test_split(X, shuffle=args.shuffle)
        """, [2, 3], id="shuffle-forms"),
    pytest.param("""\
        from sklearn import ensemble, cluster
        from sklearn.ensemble import ExtraTreesRegressor as ETR
        m1 = ensemble.GradientBoostingClassifier(n_estimators=10)
        m2 = ETR()
        m3 = cluster.KMeans(n_clusters=3, random_state=seed)
        m4 = ensemble.RandomForestRegressor(100, "squared_error", 5)
        """, [3, 4], id="estimators"),
    pytest.param("""\
        from sklearn.model_selection import RandomizedSearchCV, GridSearchCV
        s = RandomizedSearchCV(est, dist, n_iter=20)
        g = GridSearchCV(est, grid)
        t = RandomizedSearchCV(est, dist, **kw)
        """, [2], id="search"),
    pytest.param("""\
        import sklearn.model_selection
        def split(X, y, *arrays):
            return sklearn.model_selection.train_test_split(X, y, *arrays, test_size=0.1)
        """, [3], id="star-arrays"),
]


@pytest.mark.parametrize(("code", "expected"), SKLEARN)
def test_sklearn_randomness(code, expected):
    assert lines(code, "MLD701") == expected


def test_sklearn_skips_test_files():
    code = "from sklearn.model_selection import train_test_split\na, b = train_test_split(X)\n"
    assert lines(code, "MLD701", path="tests/test_split.py") == []
    assert lines(code, "MLD701") == [2]


GLOBAL = [
    pytest.param("""\
        import random
        import numpy as np
        import torch
        def augment(x):
            if random.random() < 0.5:
                x = np.flip(x)
            return x + np.random.normal(0, 0.1, x.shape)
        def main():
            torch.randperm(10)
        if __name__ == "__main__":
            main()
        """, [5], id="one-per-file"),
    pytest.param("""\
        import numpy as np
        import torch
        import lightning as L
        L.seed_everything(7)
        x = np.random.rand(3)
        """, [], id="lightning-seed"),
    pytest.param("""\
        import torch
        from numpy import random as npr
        def f():
            torch.cuda.manual_seed_all(0)
        y = npr.choice([1, 2])
        """, [], id="cuda-seed-anywhere"),
    pytest.param("""\
        import torch
        from numpy import random as npr
        y = npr.choice([1, 2])
        z = npr.get_state()
        """, [3], id="from-import-alias"),
    pytest.param("""\
        import torch
        import numpy as np
        a = np.random.default_rng()
        b = np.random.default_rng(None)
        c = np.random.default_rng(seed=None)
        d = np.random.default_rng(**cfg)
        e = np.random.RandomState(3)
        """, [3, 4, 5], id="generators"),
    pytest.param("""\
        import torch
        import numpy as np
        np.random.seed(0)
        rng = np.random.default_rng()
        """, [4], id="generator-ignores-global-seed"),
]


@pytest.mark.parametrize(("code", "expected"), GLOBAL)
def test_global_rng(code, expected):
    assert lines(code, "MLD702") == expected


def test_global_rng_message_names_calls_and_confidence():
    code = """\
        import numpy as np
        import torch.nn as nn
        def init(m):
            nn.init.kaiming_normal_(m.weight)
            m.bias.data = np.random.randn(3)
            nn.init.kaiming_normal_(m.other)
        """
    (f,) = findings(code, "MLD702")
    assert "torch.nn.init.kaiming_normal_, numpy.random.randn; 3 calls" in f.message
    assert "caller in another file" in f.message
    assert f.confidence.value == "low" and f.severity.value == "info"


def test_knowledge_loads_from_catalog():
    k = RandomnessKnowledge.of(load_catalog().knowledge)
    assert k.is_global_draw("numpy.random.permutation")
    assert not k.is_global_draw("numpy.random.seed")
    assert not k.is_global_draw("numpy.random.default_rng")
    assert k.is_global_draw("torch.randn")
    assert not k.is_global_draw("torch.nn.init.zeros_")
    assert k.sklearn["train_test_split"] == "shuffle-default-true"
    assert "torch.manual_seed" in k.seeding


def test_kmeans_with_given_centres_is_deterministic():
    code = """\
        from sklearn.cluster import KMeans, MiniBatchKMeans
        a = KMeans(n_clusters=3, init=centers, n_init=1)
        b = KMeans(n_clusters=3, init="k-means++")
        c = MiniBatchKMeans(3, init=np.zeros((3, 2)))
        """
    assert lines(code, "MLD701") == [3]


def test_generator_recreated_with_a_seed_is_not_reported():
    code = """\
        import random
        import torch
        class Reader:
            def __init__(self):
                self.rng = random.Random()
            def set_epoch(self, epoch):
                self.rng = random.Random(epoch)
        """
    assert lines(code, "MLD702") == []
