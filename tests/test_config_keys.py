"""MLD603 undefined-config-key and MLD604 unused-config-key.

The rules' own examples run here too (the in-memory harness has no configuration files on
disk, so cases with YAML/JSON/TOML files are projects written to ``tmp_path``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mldebt.catalog import load_catalog
from mldebt.config import Overrides
from mldebt.project import Project
from mldebt.rules.base import Invalid, Valid
from mldebt.rules.config_keys.undefined_config_key import UndefinedConfigKey
from mldebt.rules.config_keys.unused_config_key import UnusedConfigKey
from mldebt.scan import ScanRequest, _analyse, make_plans, prepare, run_scan
from mldebt.testing import scan_snippets

RULES = {"MLD603": UndefinedConfigKey, "MLD604": UnusedConfigKey}


def _examples(kind: str):
    for code, cls in RULES.items():
        for i, ex in enumerate(getattr(cls, kind)):
            yield pytest.param(code, ex, id=f"{code}-{kind.lower()}-{i}")


def _snippet(code: str, ex):
    if isinstance(ex, str):
        ex = Valid(ex)
    files = dict(ex.files) if ex.files else {ex.path: ex.code}
    report = scan_snippets(files, select=[code])
    assert not report.errors, report.errors
    return ex, [f for f in report.findings if f.rule == code]


@pytest.mark.parametrize(("code", "example"), list(_examples("VALID")))
def test_valid_examples(code, example):
    _, found = _snippet(code, example)
    assert found == [], [(f.path, f.line, f.message) for f in found]


@pytest.mark.parametrize(("code", "example"), list(_examples("INVALID")))
def test_invalid_examples(code, example):
    ex, found = _snippet(code, example)
    assert isinstance(ex, Invalid)
    here = [f for f in found if f.path == ex.path and f.line == ex.line]
    assert here, [(f.path, f.line, f.message) for f in found]
    if ex.message_contains:
        assert any(ex.message_contains in f.message for f in here)


def test_catalog_entries():
    specs = {s.code: s for s in load_catalog().rules if s.code in RULES}
    assert set(specs) == set(RULES)
    for spec in specs.values():
        assert spec.status == "stable" and spec.smell == "configuration-debt" and spec.tests is False


# -- projects on disk ---------------------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def _scan(root: Path, code: str):
    report = run_scan(ScanRequest(targets=(root,), jobs=1, debug=True,
                                  overrides=Overrides(select=[code], preview=True)))
    return [(f.path, f.line, f.message) for f in report.findings if f.rule == code]


def _check(root: Path, code: str):
    """The rule's own findings, wherever they point (configuration files included)."""
    request = ScanRequest(targets=(root,), jobs=1, debug=True, overrides=Overrides(select=[code], preview=True))
    settings, catalog = prepare(request)
    plans = make_plans(settings, catalog)
    results, _, declarations, _ = _analyse(request, settings, catalog, plans, None)
    project = Project(str(settings.root), results, declarations, catalog.knowledge)
    return sorted((f.path, f.location.line, f.message) for f in RULES[code].check(project, {}))


def test_yaml_undefined_key_through_names(tmp_path):
    _write(tmp_path, {
        "config.yaml": """
            train:
              lr: 0.1
              epochs: 3
            model:
              depth: 4
            """,
        "train.py": """
            import yaml

            with open("config.yaml") as f:
                cfg = yaml.safe_load(f)
            train_cfg = cfg["train"]
            print(train_cfg["lr"], train_cfg["epochs"], cfg["model"]["depth"])
            print(train_cfg["learning_rate"])
            print(cfg["optim"]["name"], cfg.get("seed", 0), train_cfg.get("momentum", 0.9))
            if "warmup" in cfg:
                print(cfg["warmup"])
            """,
    })
    found = _scan(tmp_path, "MLD603")
    assert [(p, line) for p, line, _ in found] == [("train.py", 7), ("train.py", 8)]
    assert "`train.learning_rate`" in found[0][2] and "`config.yaml`" in found[0][2]
    assert "`optim`" in found[1][2]


def test_omegaconf_attribute_reads_anchored_path(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/conf/base.yaml": "model:\n  lr: 0.1\n",
        "pkg/run.py": """
            from pathlib import Path
            from omegaconf import OmegaConf

            cfg = OmegaConf.load(Path(__file__).parent / "conf" / "base.yaml")
            print(cfg.model.lr)
            print(cfg.model.dropout)
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("pkg/run.py", 6)]


def test_json_and_toml(tmp_path):
    _write(tmp_path, {
        "params.json": '{\n  "alpha": 1,\n  "beta": {"gamma": 2}\n}\n',
        "settings.toml": "[train]\nlr = 0.1\nunused = 3\n",
        "a.py": """
            import json
            import tomllib

            params = json.load(open("params.json"))
            print(params["alpha"], params["beta"]["delta"])
            with open("settings.toml", "rb") as fh:
                conf = tomllib.load(fh)
            print(conf["train"]["lr"], conf["train"]["momentum"])
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("a.py", 5), ("a.py", 8)]
    assert _check(tmp_path, "MLD604") == [
        ("params.json", 3, "Configuration key `beta.gamma` is never read by the code."),
        ("settings.toml", 3, "Configuration key `train.unused` is never read by the code."),
    ]


def test_hydra_composition_and_groups(tmp_path):
    _write(tmp_path, {
        "conf/config.yaml": """
            defaults:
              - model: resnet
              - _self_
            train:
              epochs: 3
              unused_knob: 1
            """,
        "conf/model/resnet.yaml": "depth: 50\nwidth: 64\n",
        "conf/model/vit.yaml": "depth: 12\n",
        "conf/experiment/a.yaml": "foo: 1\n",
        "main.py": """
            import hydra

            @hydra.main(config_path="conf", config_name="config", version_base=None)
            def main(cfg):
                print(cfg.model.depth, cfg.model.width, cfg.train.epochs)
                print(cfg.model.heads)
                print(cfg.experiment.foo)

            if __name__ == "__main__":
                main()
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("main.py", 6)]
    assert _check(tmp_path, "MLD604") == [
        ("conf/config.yaml", 6, "Configuration key `train.unused_knob` is never read by the code.")]


def test_hydra_unresolved_composition_is_not_judged(tmp_path):
    _write(tmp_path, {
        "conf/config.yaml": "defaults:\n  - model: ${oc.env:MODEL}\ntrain:\n  epochs: 3\n",
        "main.py": """
            import hydra

            @hydra.main(config_path="conf", config_name="config")
            def main(cfg):
                print(cfg.model.heads, cfg.train.epochs)
            """,
    })
    assert _scan(tmp_path, "MLD603") == []


def test_unused_keys_escape_and_names(tmp_path):
    _write(tmp_path, {
        "config.yaml": """
            model:
              depth: 4
              width: 8
            data:
              path: x.csv
              batch: 32
            train:
              lr: 0.1
              note: hi
            """,
        "train.py": """
            import yaml

            cfg = yaml.safe_load(open("config.yaml"))
            model = build(**cfg["model"])
            print(cfg["train"]["lr"])
            load(cfg["data"]["path"])
            """,
        "other.py": """
            def setup(config):
                return config.batch
            """,
    })
    assert _check(tmp_path, "MLD604") == [
        ("config.yaml", 9, "Configuration key `train.note` is never read by the code.")]


def test_unused_keys_not_reported_when_config_escapes(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\n",
        "train.py": """
            import yaml
            from lib import run

            cfg = yaml.safe_load(open("config.yaml"))
            print(cfg["a"])
            run(cfg)
            """,
    })
    assert _check(tmp_path, "MLD604") == []


def test_unused_keys_followed_into_a_project_function(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\nc: 3\n",
        "lib.py": """
            def run(cfg):
                return cfg["b"]
            """,
        "train.py": """
            import yaml
            from lib import run

            cfg = yaml.safe_load(open("config.yaml"))
            print(cfg["a"])
            run(cfg)
            """,
    })
    assert _check(tmp_path, "MLD604") == [("config.yaml", 3, "Configuration key `c` is never read by the code.")]


def test_mutated_or_passed_config_is_not_judged_for_undefined_keys(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\n",
        "train.py": """
            import yaml
            from lib import add_defaults

            cfg = yaml.safe_load(open("config.yaml"))
            cfg.update({"b": 2})
            print(cfg["b"])
            """,
        "eval.py": """
            import yaml
            from lib import add_defaults

            cfg = yaml.safe_load(open("config.yaml"))
            add_defaults(cfg)
            cfg["c"] = 1
            print(cfg["d"], cfg["c"])
            """,
    })
    assert _scan(tmp_path, "MLD603") == []


def test_broken_and_outside_files_are_skipped(tmp_path):
    _write(tmp_path, {
        "bad.yaml": "a: [1,\n",
        "train.py": """
            import yaml

            cfg = yaml.safe_load(open("bad.yaml"))
            other = yaml.safe_load(open("../outside.yaml"))
            print(cfg["x"], other["y"])
            """,
    })
    (tmp_path.parent / "outside.yaml").write_text("z: 1\n")
    assert _scan(tmp_path, "MLD603") == []
    assert _check(tmp_path, "MLD604") == []


def test_yaml_findings_carry_a_snippet(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\n",
        "train.py": 'import yaml\ncfg = yaml.safe_load(open("config.yaml"))\nprint(cfg["a"])\n',
    })
    request = ScanRequest(targets=(tmp_path,), jobs=1, debug=True,
                          overrides=Overrides(select=["MLD604"], preview=True))
    settings, catalog = prepare(request)
    results, _, declarations, _ = _analyse(request, settings, catalog, make_plans(settings, catalog), None)
    project = Project(str(settings.root), results, declarations, catalog.knowledge)
    (finding,) = UnusedConfigKey.check(project, {})
    assert finding.path == "config.yaml" and finding.location.line == 2
    assert finding.location.snippet == "b"  # the key path: stable when the value changes


def test_a_load_or_a_parse_handed_on_escapes(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\n",
        "train.py": """
            import argparse
            import yaml
            from lib import run

            def options():
                parser = argparse.ArgumentParser()
                parser.add_argument("--epochs", type=int)
                return parser.parse_args()

            run(yaml.safe_load(open("config.yaml")) or {})
            """,
    })
    assert _check(tmp_path, "MLD604") == []


def test_or_default_keeps_following(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\n",
        "train.py": """
            import yaml

            cfg = yaml.safe_load(open("config.yaml")) or {}
            print(cfg["a"], cfg["c"])
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("train.py", 4)]
    assert _check(tmp_path, "MLD604") == [("config.yaml", 2, "Configuration key `b` is never read by the code.")]


def test_data_json_is_not_judged_for_unused_keys(tmp_path):
    _write(tmp_path, {
        "meta.json": '{"n_classes": 3, "created": "2020"}\n',
        "train.py": 'import json\nmeta = json.load(open("meta.json"))\nprint(meta["n_classes"])\n',
    })
    assert _check(tmp_path, "MLD604") == []


def test_loader_function_with_a_default_path_and_tuple_unpacking(tmp_path):
    _write(tmp_path, {
        "params.yaml": "data:\n  path: x.csv\n  cache: c\ntrain:\n  lr: 0.1\n",
        "proj/__init__.py": "",
        "proj/config.py": """
            import yaml

            PARAMS = "params.yaml"

            def load_params(path=PARAMS):
                with open(path) as fh:
                    return yaml.safe_load(fh)
            """,
        "proj/train.py": """
            from proj.config import load_params

            def main():
                params = load_params()
                data_cfg, train_cfg = params["data"], params["train"]
                print(data_cfg["path"], train_cfg["lr"], train_cfg["epochs"])
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("proj/train.py", 6)]
    assert _check(tmp_path, "MLD604") == [
        ("params.yaml", 3, "Configuration key `data.cache` is never read by the code.")]


def test_loader_function_called_with_another_path_is_not_followed(tmp_path):
    _write(tmp_path, {
        "params.yaml": "a: 1\n",
        "cfg.py": """
            import yaml

            def load_params(path="params.yaml"):
                with open(path) as fh:
                    return yaml.safe_load(fh)

            other = load_params("other.yaml")
            print(other["zzz"])
            """,
    })
    assert _scan(tmp_path, "MLD603") == []
    assert _check(tmp_path, "MLD604") == []


def test_parse_args_function_in_the_same_file(tmp_path):
    _write(tmp_path, {
        "train.py": """
            import argparse

            def parse_args():
                p = argparse.ArgumentParser()
                p.add_argument("--lr", type=float)
                p.add_argument("--seed", type=int)
                return p.parse_args()

            def main():
                args = parse_args()
                print(args.lr, args.epochs)
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("train.py", 11)]
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD604")] == [("train.py", 6)]


def test_parse_args_function_imported_elsewhere_escapes(tmp_path):
    _write(tmp_path, {
        "opts.py": """
            import argparse

            def parse_args():
                p = argparse.ArgumentParser()
                p.add_argument("--lr", type=float)
                p.add_argument("--seed", type=int)
                return p.parse_args()

            if __name__ == "__main__":
                print(parse_args().lr)
            """,
        "train.py": "from opts import parse_args\nprint(parse_args().seed)\n",
    })
    assert _scan(tmp_path, "MLD604") == []


def test_yaml_bomb_and_hydra_plugins(tmp_path):
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    _write(tmp_path, {
        "bomb.yaml": bomb,
        "conf/config.yaml": "defaults:\n  - override hydra/launcher: joblib\nx: 1\n",
        "a.py": """
            import hydra
            import yaml

            cfg = yaml.safe_load(open("bomb.yaml"))
            print(cfg["nope"])

            @hydra.main(config_path="conf", config_name="config", version_base=None)
            def main(cfg):
                print(cfg.x, cfg.y)
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("a.py", 9)]


def test_a_parameter_default_alone_is_not_the_file_read(tmp_path):
    _write(tmp_path, {
        "config.yaml": "a: 1\nb: 2\n",
        "train.py": """
            import yaml

            def main(config_path="config.yaml"):
                with open(config_path) as f:
                    cfg = yaml.safe_load(f)
                print(cfg["a"], cfg["zzz"])

            if __name__ == "__main__":
                main(sys.argv[1])
            """,
    })
    assert _scan(tmp_path, "MLD603") == []
    assert _check(tmp_path, "MLD604") == []


def test_look_alikes(tmp_path):
    _write(tmp_path, {
        "a.yaml": "train:\n  lr: 0.1\nonly_a: 1\n",
        "b.yaml": "train:\n  lr: 0.2\nonly_b: 1\n",
        "branch.py": """
            import sys
            import yaml

            if sys.argv[1] == "a":
                cfg = yaml.safe_load(open("a.yaml"))
            else:
                cfg = yaml.safe_load(open("b.yaml"))
            print(cfg["only_a"])
            """,
        "omega.py": """
            from omegaconf import OmegaConf, open_dict

            cfg = OmegaConf.load("a.yaml")
            with open_dict(cfg):
                cfg.extra = 1
            print(cfg.extra, cfg.derived)
            """,
        "section.py": """
            import yaml
            from easydict import EasyDict

            train = yaml.safe_load(open("a.yaml"))["train"]
            print(train["lr"], train["missing_in_train"])
            e = EasyDict(yaml.safe_load(open("b.yaml")))
            print(e.train.lr, e.trian)
            """,
        "dyn.py": """
            import yaml

            cfg = yaml.safe_load(open("a.yaml"))
            for key in ("x", "y"):
                print(cfg[key])
            print(cfg["train"][0], cfg["only_a"].upper(), cfg.get("nope"))
            try:
                print(cfg["maybe"])
            except KeyError:
                pass
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD603")] == [("section.py", 5), ("section.py", 7)]


def test_configs_loaded_only_by_tests_are_not_judged(tmp_path):
    _write(tmp_path, {
        "tests/data/config.yaml": "a: 1\nb: 2\n",
        "tests/test_x.py": 'import yaml\ncfg = yaml.safe_load(open("tests/data/config.yaml"))\nprint(cfg["a"])\n',
    })
    assert _check(tmp_path, "MLD604") == []


def test_options_unread_on_purpose_are_not_reported(tmp_path):
    _write(tmp_path, {
        "tempita.py": """
            import argparse
            from argparse import SUPPRESS

            def main():
                parser = argparse.ArgumentParser()
                parser.add_argument("infile", type=str, help="Path to the input file")
                parser.add_argument(
                    "-i",
                    "--ignore",
                    type=str,
                    help=(
                        "An ignored input - may be useful to add a "
                        "dependency between custom targets"
                    ),
                )
                parser.add_argument("--hidden", help=SUPPRESS)
                parser.add_argument("--old", help=f"Obsolete, see {parser.prog} --new")
                parser.add_argument("--compat", help="Accepted for backwards compatibility (%(default)s)")
                parser.add_argument("--noop", help="This flag is a no-op.".format())
                parser.add_argument("--local-rank", type=int, help="Currently unused.")
                args = parser.parse_args()
                print(args.infile)
            """,
        # look-alikes: the help describes what a used option does, and says nothing of itself
        "lookalike.py": """
            import argparse

            parser = argparse.ArgumentParser()
            parser.add_argument("src")
            parser.add_argument("--skip", help="Directories to be ignored when scanning")
            parser.add_argument("--no-cache", action="store_true", help="If set, the cache is not used")
            parser.add_argument("--ignore-errors", action="store_true", help="Ignore decoding errors")
            parser.add_argument("--help-text", help="Used for the help screen")
            args = parser.parse_args()
            print(args.src)
            """,
    })
    assert [(p, line) for p, line, _ in _scan(tmp_path, "MLD604")] == [
        ("lookalike.py", 5), ("lookalike.py", 6), ("lookalike.py", 7), ("lookalike.py", 8)]
