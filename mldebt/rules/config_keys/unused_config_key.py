from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.model import Confidence
from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView, Valid
from mldebt.rules.config_keys._configs import (
    RESERVED,
    Analysis,
    escapes,
    interpolated_names,
    leaves,
    location,
)

_WORDS = re.compile(r"[A-Za-z_][\w-]*")
_MAX_KEYS = 300  # more keys than a person tunes: data, not configuration
_CONFIG_WORDS = ("conf", "param", "setting", "hparam", "hyper", "option", "args")


class UnusedConfigKey(ProjectRule):
    """
    ## What it does
    Flags a leaf key of a configuration file the code loads (YAML, JSON, TOML, a Hydra
    configuration with its `defaults:` groups) that no code of the project reads, and an
    `argparse` option (`add_argument("--foo")`) whose value `args.foo` is never read in the
    file that parses it.

    A key counts as read when any file reads it on that configuration (`cfg.a.b`,
    `cfg["a"]["b"]`, `.get("b")`, through names it flows to), when a configuration-like
    object anywhere reads an attribute of that name (`self.hparams.b`, a parameter named
    `cfg`, `config`, `params`...), when a string literal equal to the key appears in the
    code, or when the configuration interpolates it (`${a.b}`) or `dvc.yaml` names it.
    Nothing is reported for a configuration (or section) that escapes whole: passed to a
    call the scan cannot follow, `**`-unpacked, `instantiate`d, iterated, `.items()`,
    converted, returned, or stored on an object. Keys reserved by Hydra (`defaults`,
    `hydra`, `_target_`...) and sections with a `_target_` are skipped, and so are options
    unread on purpose: hidden (`help=argparse.SUPPRESS`) or whose help says so (ignored,
    unused, deprecated, a no-op, kept for compatibility: `ignored_option_help` in
    `rules/config-keys.yaml`).

    The finding is at the key's line in the configuration file (`# mldebt: ignore`
    comments are not read from configuration files), or at the `add_argument` call.

    ## Why is this bad?
    Unused settings are configuration debt: people tune a value that changes nothing, and
    the configuration stops describing what the code does (Sculley et al. 2015, section 7).

    ## Example
    ```yaml
    # config.yaml
    train:
      lr: 0.001
      warmup_steps: 500   # nothing reads it
    ```
    ```python
    cfg = yaml.safe_load(open("config.yaml"))
    optimizer = Adam(params, lr=cfg["train"]["lr"])
    ```

    ## Use instead
    Delete the key, or wire it to the code that should use it.

    ## Options
    None.

    ## References
    - Sculley et al. 2015, "Hidden Technical Debt in Machine Learning Systems", section 7.
    """

    NEEDS = ("config_keys._facts:ConfigKeyFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        from mldebt.rules.config_keys._configs import analyse

        a = analyse(project)
        yield from _unused_options(a)
        if not a.configs:
            return
        names: set[str] = set()
        escaped_names: set[str] = set()
        for data in a.files.values():
            names.update(data.get("strings", ()))
            names.update(data.get("attrs", ()))
        dvc = a.reader.text("dvc.yaml")
        if dvc is not None:
            names.update(_WORDS.findall(dvc))
        for config in a.configs.values():
            names |= interpolated_names(config.texts)
        exact: dict[str, set[tuple[str, ...]]] = {}
        whole: dict[str, set[tuple[str, ...]]] = {}
        blocked: set[str] = set()
        for ff, fact in a.reads:
            d = fact.data
            path = tuple(d["path"])
            if d["target"] == "param":
                if d["whole"] and path:
                    escaped_names.add(path[-1])
                continue
            if d["target"] != "config":
                continue
            key = a.loads.get((ff.path, d["load"]))
            if key is None:
                continue
            exact.setdefault(key, set()).add(path)
            if d["whole"]:
                if escapes(a, ff.path, ff.module, d):
                    blocked.add(key)
                whole.setdefault(key, set()).add(path)
        loaded = {key for (path, _), key in a.loads.items() if path not in a.tests}  # not test fixtures
        for key, config in sorted(a.configs.items()):
            if key not in loaded or key in blocked or not _config_like(key) or len(config.lines) > _MAX_KEYS:
                continue
            reads = exact.get(key, set())
            wholes = whole.get(key, set()) - {()}
            for leaf in leaves(config.tree):
                if leaf[0] in RESERVED or any(k.startswith("_") for k in leaf):
                    continue
                if _has_target(config.tree, leaf) or leaf[-1] in names or escaped_names.intersection(leaf):
                    continue
                if any(r == leaf[:len(r)] and (r in wholes or len(r) == len(leaf)) or leaf == r[:len(leaf)]
                       for r in reads):
                    continue
                where = config.lines.get(leaf)
                if where is None:
                    continue
                file, line = where
                yield ProjectFinding(
                    file, location(line, leaf),
                    f"Configuration key `{'.'.join(leaf)}` is never read by the code.",
                    hint="Delete the key, or wire it to the code that should use it.",
                    confidence=Confidence.MEDIUM,
                )

    VALID = [
        # every option is read
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--out", dest="output_dir")
        parser.add_argument("--seed", type=int)
        args = parser.parse_args()
        print(args.learning_rate, args.output_dir, getattr(args, "seed"))
        """,
        # the namespace escapes: a function of another module reads it
        """
        import argparse
        from trainer import train

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--warmup", type=int)
        args = parser.parse_args()
        train(args)
        """,
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        args = parser.parse_args()
        config = vars(args)
        """,
        # a read in a function of the same file, through the parameter
        """
        import argparse

        def train(opts):
            return opts.epochs

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--version", action="version", version="1.0")
        args = parser.parse_args()
        train(args)
        """,
        # options unread on purpose: the help says so, or hides them
        """
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("infile")
        parser.add_argument("-i", "--ignore", help=("An ignored input - may be useful to add a "
                                                    "dependency between custom targets"))
        parser.add_argument("--fp16", action="store_true", help="Deprecated: has no effect.")
        parser.add_argument("--local_rank", type=int, help="Unused, kept for compatibility with torchrun")
        parser.add_argument("--legacy", help=argparse.SUPPRESS)
        args = parser.parse_args()
        print(args.infile)
        """,
        # a YAML configuration read whole (the file is read from disk in real scans)
        Valid(files={
            "config.yaml": "model:\n  depth: 4\n  width: 8\n",
            "train.py": """
                import yaml

                cfg = yaml.safe_load(open("config.yaml"))
                model = build(**cfg["model"])
                """,
        }, path="train.py"),
    ]
    INVALID = [
        Invalid("""
            import argparse

            parser = argparse.ArgumentParser()
            parser.add_argument("--epochs", type=int, default=10)
            parser.add_argument("--warmup-steps", type=int, default=500)
            args = parser.parse_args()
            for epoch in range(args.epochs):
                pass
            """, line=6, message_contains="--warmup-steps"),
        # "ignore" as a verb says what the option does: unread, it is debt
        Invalid("""
            import argparse

            parser = argparse.ArgumentParser()
            parser.add_argument("src")
            parser.add_argument("--exclude", help="Ignore files matching this pattern; ignored files are not scanned.")
            args = parser.parse_args()
            print(args.src)
            """, line=6, message_contains="--exclude"),
    ]


def _config_like(key: str) -> bool:
    """YAML and TOML files, and JSON files named like configuration (a JSON file is often data:
    a vocabulary, class names, metadata)."""
    low = key.lower()
    if not low.endswith(".json"):
        return True
    return any(w in low for w in _CONFIG_WORDS)


def _has_target(tree: Mapping[str, Any], leaf: tuple[str, ...]) -> bool:
    """Is the leaf inside a section meant for `instantiate` (one with a `_target_`)?"""
    node: Any = tree
    for k in leaf[:-1]:
        node = node.get(k) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and "_target_" in node:
            return True
    return isinstance(tree, Mapping) and "_target_" in tree


def _unused_options(a: Analysis) -> Iterable[ProjectFinding]:
    by_file: dict[str, list[Any]] = {}
    for ff, fact in a.options:
        by_file.setdefault(ff.path, []).append(fact)
    modules = {ff.path: ff.module for ff, _ in a.options}
    for path, facts in sorted(by_file.items()):
        info = a.files.get(path, {})
        if info.get("dynamic") or path in a.tests:
            continue
        reads = [f.data for ff, f in a.reads if ff.path == path and f.data["target"] == "args"]
        fns = info.get("args_functions", ())
        if not any(d["path"] for d in reads) or any(escapes(a, path, modules[path], d, fns) for d in reads):
            continue
        used = {d["path"][0] for d in reads if d["path"]}
        used |= set(info.get("all_attrs", ())) | set(info.get("strings", ()))
        for fact in facts:
            d = fact.data
            if d["ignorable"] or d["dest"] in used or fact.location is None:
                continue
            longs = [f for f in d["flags"] if f.startswith("--")]
            flag = longs[0] if longs else (d["flags"][0] if d["flags"] else d["dest"])
            yield ProjectFinding(
                path, fact.location,
                f"Command-line option `{flag}` is parsed but `args.{d['dest']}` is never read.",
                hint="Delete the option, or use its value where it was meant to go.",
                confidence=Confidence.MEDIUM,
            )
