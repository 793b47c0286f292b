from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.model import Confidence
from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView, Valid
from mldebt.rules.config_keys._configs import RESERVED, analyse, walk_path

_NAMESPACE = frozenset({"__dict__", "_get_kwargs", "_get_args", "__class__", "__contains__"})


class UndefinedConfigKey(ProjectRule):
    """
    ## What it does
    Flags a read of a configuration key that the configuration file does not define: a
    `cfg.model.lr`, `cfg["train"]["epochs"]` or `train_cfg["lr"]` (after
    `train_cfg = cfg["train"]`) on a configuration loaded from a file the scan can name
    (`yaml.safe_load(open("config.yaml"))`, `with open(p) as f: cfg = yaml.safe_load(f)`,
    `json.load`, TOML, `OmegaConf.load(Path(__file__).parent / "conf/x.yaml")`,
    `@hydra.main(config_path="conf", config_name="config")`, `hydra.compose`, or a project
    function returning such a load, called without arguments: `params = load_params()` for
    `def load_params(path="params.yaml"): return yaml.safe_load(open(path))`), when the file
    (for Hydra: the primary file composed with the groups of its `defaults:` list) has no
    such key. Also `args.x` after `args = parser.parse_args()` when no `add_argument` of the
    file's parser defines `x`.

    Not flagged: reads with a default (`cfg.get("k", 3)`, `getattr(cfg, "k", None)`), keys
    tested first (`"k" in cfg`, `hasattr`), reads inside `try`, keys the code sets itself
    (`cfg["k"] = ...`), a configuration updated, merged or handed to another function
    before (it may gain keys), a Hydra configuration whose composition cannot be followed
    (package directives, interpolated or overridden defaults) or a key named like one of
    its config groups (addable from the command line), and command lines built elsewhere
    (a parser passed to a function, `parents=`, sub-commands, `set_defaults(**d)`). A path
    that is only a parameter's default (`def main(config="config.yaml")`) is not trusted
    outside a loader function, and a name bound to different files by branch is not followed.

    ## Why is this bad?
    The code and its configuration have drifted apart: the read fails at run time (`KeyError`,
    `ConfigAttributeError`, `AttributeError`), often late in a long run, or a renamed key is
    silently read from somewhere else (Sculley et al. 2015, section 7, "Configuration Debt").

    ## Example
    ```yaml
    # config.yaml
    train:
      lr: 0.001
    ```
    ```python
    cfg = yaml.safe_load(open("config.yaml"))
    optimizer = Adam(params, lr=cfg["train"]["learning_rate"])
    ```

    ## Use instead
    ```python
    optimizer = Adam(params, lr=cfg["train"]["lr"])
    ```
    or add the key to the configuration (or read it with a default if it is optional).

    ## Options
    None.

    ## References
    - Sculley et al. 2015, "Hidden Technical Debt in Machine Learning Systems", section 7.
    """

    NEEDS = ("config_keys._facts:ConfigKeyFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        a = analyse(project)
        passed = a.passed
        written: dict[tuple[str, str, int], list[tuple[str, ...]]] = {}
        for ff, fact in a.writes:
            d = fact.data
            written.setdefault((ff.path, d["target"], d["load"]), []).append(tuple(d["path"]))
        seen: set[tuple[str, int, str]] = set()
        for ff, fact in a.reads:
            d = fact.data
            path = tuple(d["path"])
            if not path or d["default"] or d["guarded"] or fact.location is None:
                continue
            target = d["target"]
            info = a.files.get(ff.path, {})
            guarded = set(info.get("guarded", ()))
            if (ff.path, target, d["load"]) in passed:
                continue
            if target == "config":
                key = a.loads.get((ff.path, d["load"]))
                config = a.configs.get(key) if key else None
                if config is None or not config.complete or (ff.path, d["load"]) in a.mutated:
                    continue
                if path[0] in RESERVED or path[0] in config.groups:
                    continue
                i = walk_path(config.tree, path)
                source = config.key.removeprefix("hydra:")
            elif target == "args":
                if info.get("dynamic") or path[0] in _NAMESPACE:
                    continue
                dests = {o.data["dest"] for f2, o in a.options if f2.path == ff.path}
                if not dests:
                    continue
                dests |= set(info.get("defaults", ()))
                i = None if path[0] in dests else 0
                source = "the command line (`add_argument`)"
            else:
                continue
            if i is None:
                continue
            missing = path[i]
            if missing in guarded or missing.startswith("_"):
                continue
            done = written.get((ff.path, target, d["load"]), [])
            if any(w == path[:len(w)] or path[:i + 1] == w[:i + 1] for w in done):
                continue
            dotted = ".".join(path[:i + 1])
            if (ff.path, fact.location.line, dotted) in seen:
                continue
            seen.add((ff.path, fact.location.line, dotted))
            yield ProjectFinding(
                ff.path, fact.location,
                f"Reads configuration key `{dotted}`, which {_where(source)} does not define.",
                hint="Fix the key's name, add it to the configuration, or read it with a default "
                     "(`cfg.get(\"key\", default)`) if it is optional.",
                confidence=Confidence.HIGH if target == "args" else None,
            )

    VALID = [
        # every read names an option the parser defines (dest= and dashes become underscores)
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--learning-rate", type=float, default=1e-3)
        parser.add_argument("-e", "--epochs", type=int, default=10)
        parser.add_argument("--out", dest="output_dir")
        parser.add_argument("data")
        args = parser.parse_args()
        print(args.learning_rate, args.epochs, args.output_dir, args.data)
        """,
        # options added by a helper or another parser: the file cannot know them all
        """
        import argparse
        from mylib import add_model_args

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        add_model_args(parser)
        args = parser.parse_args()
        print(args.hidden_size)
        """,
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        parser.set_defaults(device="cpu")
        args = parser.parse_args()
        args.run_name = "baseline"
        print(args.device, args.run_name, getattr(args, "seed", 0))
        if hasattr(args, "resume"):
            print(args.resume)
        """,
        # the namespace is handed to a function that may add attributes
        """
        import argparse
        from setup import finalize

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        args = parser.parse_args()
        finalize(args)
        print(args.device)
        """,
        # `args` here is a parameter: whatever the caller passes
        """
        import argparse

        def train(args):
            return args.lr

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        """,
        # a configuration whose file is not in the project (or not known statically)
        """
        import sys
        import yaml

        cfg = yaml.safe_load(open(sys.argv[1]))
        print(cfg["train"]["lr"])
        """,
        Valid(files={
            "config.yaml": "train:\n  lr: 0.1\n",
            "train.py": """
                import yaml

                with open("config.yaml") as f:
                    cfg = yaml.safe_load(f)
                print(cfg["train"]["lr"], cfg.get("seed", 0), cfg["train"].get("momentum", 0.9))
                """,
        }, path="train.py"),
    ]
    INVALID = [
        Invalid("""
            import argparse

            parser = argparse.ArgumentParser()
            parser.add_argument("--learning-rate", type=float, default=1e-3)
            parser.add_argument("--epochs", type=int, default=10)
            args = parser.parse_args()
            for epoch in range(args.epochs):
                step(lr=args.lr)
            """, line=9, message_contains="`lr`", confidence="high"),
        Invalid("""
            import argparse

            def main():
                p = argparse.ArgumentParser()
                p.add_argument("--batch-size", type=int)
                opts = p.parse_args()
                return opts.batchsize
            """, line=8, message_contains="`batchsize`"),
    ]


def _where(source: str) -> str:
    return source if source.startswith("the ") else f"`{source}`"
