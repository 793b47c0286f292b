"""MLD701/MLD702/MLD703 unseeded-randomness: cases beyond the rules' own examples.

The rules' VALID/INVALID examples run in tests/test_rule_examples.py; these add test paths,
default selection (preview), counts per file, messages and the knowledge entry.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mldebt.catalog import load_catalog
from mldebt.config import Overrides
from mldebt.rules.unseeded_randomness._common import RandomnessKnowledge
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import scan_snippets


def findings(code: str, rule: str, path: str = "src/train.py"):
    report = scan_snippets({path: code}, select=[rule])
    assert not report.errors, report.errors
    return [f for f in report.findings if f.rule == rule]


def lines(code: str, rule: str, path: str = "src/train.py") -> list[int]:
    return [f.line for f in findings(code, rule, path)]


def test_the_rules_are_stable_and_in_the_unseeded_randomness_family():
    specs = {s.code: s for s in load_catalog().rules if s.code.startswith("MLD7")}
    assert set(specs) == {"MLD701", "MLD702", "MLD703"}
    for spec in specs.values():
        assert spec.status == "stable"  # promoted after judging findings on the benchmark corpora
        assert spec.smell == "unseeded-randomness"
        assert spec.tests is False


def test_the_rules_run_by_default():
    code = "from sklearn.model_selection import train_test_split\na, b = train_test_split(X)\n"
    report = scan_snippets({"src/train.py": code})
    assert [f.rule for f in report.findings if f.rule.startswith("MLD7")] == ["MLD701"]


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
            random.shuffle([1, 2])
        if __name__ == "__main__":
            main()
        """, [5, 7, 9], id="one-per-generator"),
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
        import torch
        def jitter(m):
            m.weight.data += torch.randn(3)
            m.bias.data = np.random.randn(3)
            m.other.data += torch.randn(3)
        if __name__ == "__main__":
            jitter(build())
        """
    torch, numpy = findings(code, "MLD702")
    assert "(torch.randn; 2 calls)" in torch.message
    assert "random generator of `numpy.random` (numpy.random.randn; 1 call)" in numpy.message
    assert torch.confidence.value == "medium" and torch.severity.value == "warning"
    # the same functions in a library module no script reaches: the caller seeds, no finding
    assert findings(code.split("        if __name__")[0], "MLD702") == []


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


# --- TensorFlow draws (MLD702) -----------------------------------------------------------

TF = [
    pytest.param("""\
        import tensorflow as tf
        x = tf.random.uniform([3])
        y = tf.random.shuffle(x)
        """, [2], id="tf-random"),
    pytest.param("""\
        import tensorflow as tf
        import random
        random.seed(0)
        x = tf.random.uniform([3])
        """, [4], id="python-seed-does-not-seed-tf"),
    pytest.param("""\
        import tensorflow as tf
        import numpy as np
        random.seed(0)
        tf.random.set_seed(0)
        x = tf.random.uniform([3])
        y = np.random.rand(3)
        """, [], id="tf-seed-and-any-seed"),
    pytest.param("""\
        from tensorflow import keras
        def build():
            return keras.layers.Dense(4, kernel_initializer=keras.initializers.HeNormal())
        if __name__ == "__main__":
            build()
        """, [3], id="keras-initializer"),
    pytest.param("""        from tensorflow import keras
        def build():
            return keras.layers.Dense(4, kernel_initializer=keras.initializers.HeNormal())
        """, [], id="keras-initializer-in-a-library"),
    pytest.param("""\
        import tensorflow as tf
        g = tf.random.Generator.from_non_deterministic_state()
        h = tf.random.Generator.from_seed(1)
        """, [2], id="tf-generator"),
]


@pytest.mark.parametrize(("code", "expected"), TF)
def test_tensorflow_draws(code, expected):
    assert lines(code, "MLD702") == expected


# --- seeded at the entry point: multi-file projects on disk ------------------------------

HELPER = """\
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    def jitter(x):
        return x + np.random.normal(0, 0.1)

    def loader(ds):
        return DataLoader(ds, batch_size=4, shuffle=True)
    """
SEEDED = """\
    import torch
    from pkg import helpers

    def main():
        torch.manual_seed(0)
        helpers.jitter(1.0)

    if __name__ == "__main__":
        main()
    """
UNSEEDED = """\
    from pkg.helpers import jitter, loader

    if __name__ == "__main__":
        loader(jitter([1.0]))
    """


def scan_project(tmp_path: Path, files: dict[str, str], rules=("MLD702", "MLD703")):
    for name, code in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1, overrides=Overrides(select=list(rules))))
    assert not report.errors, report.errors
    return sorted((f.rule, f.path, f.line, f.confidence.value) for f in report.findings)


def test_seeded_entry_point_seeds_the_helper_module(tmp_path):
    found = scan_project(tmp_path, {"pkg/__init__.py": "", "pkg/helpers.py": HELPER, "train.py": SEEDED})
    assert found == []


def test_unseeded_entry_point_leaves_the_finding_in_the_helper_module(tmp_path):
    found = scan_project(tmp_path, {"pkg/__init__.py": "", "pkg/helpers.py": HELPER, "train.py": UNSEEDED})
    assert found == [("MLD702", "pkg/helpers.py", 6, "medium"), ("MLD703", "pkg/helpers.py", 9, "medium")]


def test_one_unseeded_entry_point_among_two_is_enough(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/helpers.py": HELPER, "train.py": SEEDED, "evaluate.py": UNSEEDED}
    found = scan_project(tmp_path, files)
    assert [f[:3] for f in found] == [("MLD702", "pkg/helpers.py", 6), ("MLD703", "pkg/helpers.py", 9)]


def test_transitive_import_and_imported_seed_helper(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/helpers.py": HELPER,
        "pkg/training.py": "from pkg.helpers import loader\ndef fit(ds):\n    return loader(ds)\n",
        "pkg/utils.py": "import random\nimport torch\ndef set_up(cfg):\n    torch.manual_seed(cfg.seed)\n",
        "run.py": "from pkg.utils import set_up\nfrom pkg.training import fit\nset_up(cfg)\nfit(ds)\n",
    }
    assert scan_project(tmp_path, files) == []


def test_library_module_without_entry_point_is_not_flagged(tmp_path):
    # drawing or shuffling with the global generator is how a library lets its user's seed
    # apply (judged on transformers and Keras: not worth a finding)
    found = scan_project(tmp_path, {"pkg/__init__.py": "", "pkg/helpers.py": HELPER})
    assert found == []


def test_module_level_draw_is_not_seeded_by_the_importer(tmp_path):
    files = {"pkg/__init__.py": "",
             "pkg/noise.py": "import numpy as np\nimport torch\nNOISE = np.random.rand(3)\n",
             "train.py": SEEDED.replace("helpers", "noise").replace("noise.jitter(1.0)", "print(noise.NOISE)")}
    assert scan_project(tmp_path, files, rules=("MLD702",)) == [("MLD702", "pkg/noise.py", 3, "medium")]


def test_numpy_seed_does_not_seed_a_torch_loader(tmp_path):
    entry = SEEDED.replace("torch.manual_seed(0)", "np.random.seed(0)").replace("import torch", "import numpy as np")
    found = scan_project(tmp_path, {"pkg/__init__.py": "", "pkg/helpers.py": HELPER, "train.py": entry})
    assert found == [("MLD703", "pkg/helpers.py", 9, "medium")]


# --- MLD703 forms -------------------------------------------------------------------------

SHUFFLE = [
    pytest.param("""\
        import torch
        from torch.utils import data
        a = data.DataLoader(ds, 32, True)
        b = data.DataLoader(ds, batch_size=32, shuffle=cfg.shuffle)
        c, d = data.random_split(ds, [8, 2])
        e, f = data.random_split(ds, [8, 2], generator=torch.Generator().manual_seed(0))
        """, [], id="manual-seed-of-a-generator-counts-as-a-seed"),
    pytest.param("""\
        from torch.utils import data
        a = data.DataLoader(ds, 32, True)
        b = data.DataLoader(ds, batch_size=32, shuffle=cfg.shuffle)
        c, d = data.random_split(ds, [8, 2])
        """, [2, 4], id="torch-forms"),
    pytest.param("""\
        import tensorflow as tf
        files = tf.data.Dataset.list_files("x/*.tfrecord")
        def make(files):
            return files.shuffle(10)
        ds = files.interleave(tf.data.TFRecordDataset).shuffle(100, reshuffle_each_iteration=True)
        other = load().shuffle(100)
        s = ds.shuffle(100, 3)
        """, [5], id="tf-forms"),
]


@pytest.mark.parametrize(("code", "expected"), SHUFFLE)
def test_data_shuffle_forms(code, expected):
    assert lines(code, "MLD703") == expected


def test_reexports_seed_but_do_not_raise_confidence(tmp_path):
    reexport = {"pkg/__init__.py": "from pkg.helpers import jitter\n", "pkg/helpers.py": HELPER}
    seeded = "import torch\nfrom pkg import jitter\nif __name__ == '__main__':\n    torch.manual_seed(0)\n    jitter(1.0)\n"
    unseeded = "from pkg import jitter\nif __name__ == '__main__':\n    jitter(1.0)\n"
    assert scan_project(tmp_path / "a", {**reexport, "cli.py": seeded}, rules=("MLD702",)) == []
    # a command-line tool reaching the module only through a package's re-exports: a library,
    # whose draws are its user's to seed
    assert scan_project(tmp_path / "b", {**reexport, "cli.py": unseeded}, rules=("MLD702",)) == []


# --- MLD702 false-positive patterns judged on real libraries -------------------------------

SCRIPT = "\nif __name__ == '__main__':\n    main()\n"  # a script that does not seed: draws are medium

THROWAWAY = [
    pytest.param("""\
        import torch
        def onnx_export(model, example_input=None):
            if example_input is None:
                example_input = torch.randn((1, 3, 224, 224))
            torch.onnx.export(model, example_input, "m.onnx")
        """, [], id="export-function"),
    pytest.param("""\
        import torch
        class AutoBackend(torch.nn.Module):
            def warmup(self, imgsz=(1, 3, 640, 640)):
                warmup_boxes = torch.rand(1, 84, 16)
                nms(warmup_boxes)
        """, [], id="warmup-method"),
    pytest.param("""\
        import numpy as np
        import torch
        class ProfileModels:
            def profile_onnx_model(self, sess):
                feed = {i.name: np.random.rand(*i.shape) for i in sess.get_inputs()}
                return sess.run(None, feed)
        """, [], id="profile-method"),
    pytest.param("""\
        import torch
        def main(model):
            traced = torch.jit.trace(model, torch.rand(1, 3, 32, 32))
            torch.onnx.export(model, (torch.randn(1, 8),), "m.onnx")
        """, [], id="argument-of-trace-and-export"),
    pytest.param("""\
        import torch
        def main(model):
            dummy = torch.zeros(1) + torch.randn(1, 3)
            placeholder_feats = torch.randn(1, 80, 512)
            txt_feats = torch.randn(1, 80, 512)  # features placeholder, set by set_classes()
        """, [], id="names-and-comment"),
    # look-alikes: a draw for training next to a warm-up; a comment that is not about the value
    pytest.param("""\
        import torch
        def main(model, x):
            model.warmup()
            noise = torch.randn_like(x)  # example: jitter the input
            return model(x + noise)
        """, [4], id="training-draw-next-to-warmup"),
    pytest.param("""\
        import torch
        def main(model, x):
            fake = model(torch.randn(8, 100))
            return fake
        """, [3], id="generator-noise-is-not-a-dummy"),
    pytest.param("""\
        import random
        import torch
        def warmup_epoch(model, rows):
            random.shuffle(rows)
        def read_export(rows):
            return random.sample(rows, 10)
        """, [4], id="warmup-training-and-data-export-are-real-work"),
]


@pytest.mark.parametrize(("code", "expected"), THROWAWAY)
def test_throwaway_draws(code, expected):
    found = findings(textwrap.dedent(code) + SCRIPT, "MLD702")
    assert [f.line for f in found] == expected
    assert all(f.confidence.value == "medium" for f in found)


GENERATORS = [
    pytest.param("""\
        import numpy as np
        import torch
        def fit(X, y, random_state=None):
            rng = np.random.RandomState() if random_state is None else random_state
            return rng.permutation(len(X))
        """, [], id="function-taking-random-state"),
    pytest.param("""\
        import numpy as np
        import sklearn
        def fit(self, X, y):
            cv = self.cv
            # the user asked for randomness (random_state=None): a fresh generator each fit
            cv.random_state = np.random.RandomState()
        """, [], id="random-state-attribute"),
    pytest.param("""\
        import numpy as np
        import torch
        def bootstrap(y, rounds):
            rng = np.random.default_rng()
            return [rng.choice(y) for _ in range(rounds)]
        if __name__ == "__main__":
            bootstrap([1], 3)
        """, [4], id="function-without-a-seed-parameter"),
]


@pytest.mark.parametrize(("code", "expected"), GENERATORS)
def test_generators_honouring_a_callers_random_state(code, expected):
    assert lines(textwrap.dedent(code), "MLD702") == expected


TRAINER = """\
    import torch
    from pkg.utils import init_seeds

    class BaseTrainer:
        def __init__(self, cfg):
            init_seeds(cfg.seed)
    """
UTILS = "import random\nimport torch\ndef init_seeds(seed):\n    random.seed(seed)\n    torch.manual_seed(seed)\n"
DETECT = """\
    import random
    import torch
    from torch.utils.data import DataLoader
    from pkg.engine import BaseTrainer

    class DetectionTrainer(BaseTrainer):
        def preprocess_batch(self, batch):
            return random.randrange(320, 640)

        def loader(self, ds):
            return DataLoader(ds, shuffle=True)

    def scale():
        return random.randrange(320, 640)

    if __name__ == "__main__":
        DetectionTrainer(cfg).train()
    """


def test_a_base_class_seeding_in_init_seeds_the_methods_of_subclasses(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/utils.py": UTILS, "pkg/engine.py": TRAINER, "pkg/detect.py": DETECT}
    # the method is seeded (and the loader); the module function next to it is not
    assert scan_project(tmp_path, files) == [("MLD702", "pkg/detect.py", 14, "medium")]


def test_a_base_class_imported_through_a_reexport_and_two_levels_up(tmp_path):
    files = {"pkg/__init__.py": "from pkg.engine import BaseTrainer\n", "pkg/utils.py": UTILS, "pkg/engine.py": TRAINER,
             "pkg/mid.py": "from pkg import BaseTrainer\nclass Mid(BaseTrainer):\n    pass\n",
             "pkg/detect.py": DETECT.replace("from pkg.engine import BaseTrainer", "from pkg.mid import Mid")
                                    .replace("(BaseTrainer)", "(Mid)")}
    assert scan_project(tmp_path, files, rules=("MLD702",)) == [("MLD702", "pkg/detect.py", 14, "medium")]


def test_a_base_class_seeding_outside_init_does_not_count(tmp_path):
    engine = TRAINER.replace("def __init__(self, cfg)", "def setup(self, cfg)")
    files = {"pkg/__init__.py": "", "pkg/utils.py": UTILS, "pkg/engine.py": engine, "pkg/detect.py": DETECT}
    assert [f[:3] for f in scan_project(tmp_path, files)] == [
        ("MLD702", "pkg/detect.py", 8), ("MLD703", "pkg/detect.py", 11)]


LAYER = """\
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.pos = nn.Parameter(torch.randn(1, dim))
            nn.init.trunc_normal_(self.pos, std=0.02)

        def _init_weights(self, m):
            nn.init.xavier_uniform_(m.weight)

    def init_weights_vit(module):
        nn.init.trunc_normal_(module.weight, std=0.02)
    """


def test_weight_initialisation_in_a_library_is_not_reported(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYER,
             "pkg/model.py": "import torch\nfrom pkg.layers import Block\nclass Net(Block):\n"
                             "    def __init__(self):\n        self.extra = torch.nn.Parameter(torch.randn(3))\n"}
    assert scan_project(tmp_path, files, rules=("MLD702",)) == []


def test_weight_initialisation_reached_by_an_unseeded_script_is_reported(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/layers.py": LAYER,
             "train.py": "from pkg.layers import Block\nif __name__ == '__main__':\n    Block(8)\n"}
    assert scan_project(tmp_path, files, rules=("MLD702",)) == [("MLD702", "pkg/layers.py", 7, "medium")]


def test_a_draw_in_a_constructor_of_a_plain_class_is_still_reported(tmp_path):
    files = {"pkg/__init__.py": "",
             "pkg/data.py": "import numpy as np\nimport torch\nclass Split:\n    def __init__(self, n):\n"
                            "        self.idx = np.random.permutation(n)\n",
             "run.py": "from pkg.data import Split\nif __name__ == '__main__':\n    Split(10)\n"}
    assert scan_project(tmp_path, files, rules=("MLD702",)) == [("MLD702", "pkg/data.py", 5, "medium")]


def test_an_entry_point_far_down_an_import_chain_does_not_raise_confidence(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/helpers.py": HELPER,
             "pkg/data.py": "from pkg.helpers import jitter\n",
             "pkg/utils.py": "from pkg.data import jitter\n",
             "pkg/split.py": "from pkg.utils import jitter\nif __name__ == '__main__':\n    print(jitter)\n"}
    # split.py -> utils -> data -> helpers: three imports away, a library module's utility script
    assert scan_project(tmp_path, files, rules=("MLD702",)) == []
    # two imports away (the script imports by name a module that imports it): direct
    files["pkg/split.py"] = "from pkg.data import jitter\nif __name__ == '__main__':\n    print(jitter)\n"
    assert scan_project(tmp_path / "b", files, rules=("MLD702",)) == [("MLD702", "pkg/helpers.py", 6, "medium")]


def test_a_data_export_function_is_not_a_model_export():
    code = "import random\nimport torch\ndef read_export(rows):\n    return random.sample(rows, 10)\n" + SCRIPT
    (f,) = findings(code, "MLD702")
    assert f.line == 4 and "(random.sample; 1 call)" in f.message


@pytest.mark.parametrize("entry", [SEEDED, UNSEEDED])
def test_each_rule_alone_finds_what_it_finds_beside_the_other(tmp_path, entry):
    # MLD702 and MLD703 share one `seeding:file` fact per file (whichever of them records
    # it) and one project analysis: selecting one of them alone changes nothing
    files = {"pkg/__init__.py": "", "pkg/helpers.py": HELPER, "pkg/engine.py": TRAINER, "pkg/utils.py": UTILS,
             "pkg/detect.py": DETECT, "train.py": entry}
    both = scan_project(tmp_path / "both", files)
    alone = scan_project(tmp_path / "a", files, rules=("MLD702",)) + scan_project(tmp_path / "b", files,
                                                                                 rules=("MLD703",))
    assert both == sorted(alone) and both


def test_one_seeding_fact_per_file_whichever_rules_run():
    from mldebt.catalog import load_catalog as catalog_of
    from mldebt.config import build_settings
    from mldebt.engine import FileJob, analyse_source
    from mldebt.scan import make_plans

    catalog = catalog_of()
    code = textwrap.dedent(HELPER).encode()
    for rules in (["MLD702"], ["MLD703"], ["MLD702", "MLD703"]):
        settings = build_settings(catalog, Path("/example"), None, Overrides(select=rules))
        job = FileJob("/example/pkg/helpers.py", "pkg/helpers.py", "pkg.helpers", False, False)
        result = analyse_source(job, code, make_plans(settings, catalog), catalog.knowledge, debug=True)
        facts = [f for f in result.facts if f.kind == "seeding:file"]
        assert len(facts) == 1 and facts[0].rule == rules[0], rules
        assert facts[0].data["imports"]  # empty fields are left out; helpers' callees are indices
