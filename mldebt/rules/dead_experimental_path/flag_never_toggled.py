from __future__ import annotations

from typing import Any, Iterable, Mapping

from mldebt.model import Confidence, Fact, Location
from mldebt.rules.base import FileFacts, Invalid, ProjectFinding, ProjectRule, ProjectView, Valid
from mldebt.rules.dead_experimental_path._common import (
    FlagCollector, GuardLines, follow_imports, is_external, line_of_binding,
)
from mldebt.rules.names import import_base

# Fact kinds; namespaced because ``check`` is not told the rule's code (see the report).
_FLAG, _GUARD, _WRITES = "flag-never-toggled:flag", "flag-never-toggled:guard", "flag-never-toggled:writes"
_HINT = ("Delete the branch that never runs (and the flag), or promote the flag to configuration "
         "(a CLI argument, config file or environment variable).")


def _message(name: str, value: str, where: str, scope: str = "anywhere in the repository") -> str:
    return (f"Flag `{name}` is bound once to `{value}` {where} and never changed {scope}: this test "
            "on it switches nothing, and the code it keeps off is a dead experimental path.")


def _confidence(value: str) -> Confidence | None:  # `X = None` is often a placeholder
    return Confidence.MEDIUM if value == "None" else None


class FlagNeverToggled(FlagCollector, ProjectRule):
    """
    ## What it does
    Flags a test on a module-level flag that is bound once to `True`, `False` or `None`
    and never changed anywhere in the repository: `USE_NEW_LOSS = False` ...
    `if USE_NEW_LOSS:`. Tests count in any form (`if not FLAG`, `FLAG and x`, ternaries,
    `if FLAG is None`, comprehension filters) and in any module (`from cfg import FLAG`,
    `import cfg; if cfg.FLAG:`, `from cfg import *`, re-exports). Attributes of a plain
    settings class (`class CFG: debug = False` ... `if CFG.debug:`) and a local bound once
    to a literal and tested in its own function are reported the same way.

    The flag is live, and not reported, when anything in the repository (tests included)
    may change it: a second module-level binding (`try: import apex; HAS_APEX = True`
    `except ImportError: HAS_APEX = False`), `global FLAG` and an assignment in a function,
    `cfg.FLAG = True` or `setattr(cfg, "FLAG", ...)` / `monkeypatch.setattr(...)` /
    `mock.patch("cfg.FLAG", ...)` anywhere, augmented assignment, a `for` target, `del`,
    writes with computed names (`globals().update(...)`, `vars(cfg).update(...)`,
    `setattr(cfg, key, value)`). Flags read from the environment, argparse or
    a config file are live by construction (they are not bound to a literal).
    `TYPE_CHECKING` is never reported.

    ## Why is this bad?
    A flag that nobody ever flips is a switch welded in place: the branch it turns off is
    a dead experimental codepath, and the branch it turns on is the only behaviour the
    system has. Both still cost reading, testing and maintenance, and flipping the flag
    years later runs code that nobody has exercised (Knight Capital lost $465 million in 45
    minutes that way, as Sculley et al. recount).

    ## Example
    ```python
    # cfg.py
    USE_NEW_LOSS = False

    # train.py
    from cfg import USE_NEW_LOSS
    loss = new_loss(y, p) if USE_NEW_LOSS else old_loss(y, p)
    ```

    ## Use instead
    Delete the branch that never runs (and the flag), or promote the flag to
    configuration so that it really is switched:
    ```python
    loss = new_loss(y, p) if cfg.training.use_new_loss else old_loss(y, p)
    ```

    ## Options
    This rule has no options.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §5 "ML-System Anti-Patterns", *Dead Experimental Codepaths*.
    """

    VALID = [
        "import os\nUSE_AMP = os.environ.get('USE_AMP') == '1'\nif USE_AMP:\n    enable()\n",
        "try:\n    import apex\n    HAS_APEX = True\nexcept ImportError:\n    HAS_APEX = False\n"
        "if HAS_APEX:\n    use_apex()\n",
        "VERBOSE = False\ndef set_verbose(v):\n    global VERBOSE\n    VERBOSE = v\n"
        "def log(m):\n    if VERBOSE:\n        print(m)\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
        "DEBUG = False\ndef f(DEBUG=True):\n    if DEBUG:\n        print('x')\n",  # a parameter
        "FAST = False\ndef f():\n    FAST = compute()\n    if FAST:\n        go()\n",  # a local
        "_cache = None\ndef get():\n    global _cache\n    if _cache is None:\n        _cache = load()\n"
        "    return _cache\n",
        "LIMIT = 10\nif LIMIT:\n    go()\n",  # not a bool or None literal
        "FLAG = False\nprint(FLAG)\n",  # never tested
        Valid(files={"cfg.py": "USE_EMA = False\n",
                     "train.py": "import cfg\nif cfg.USE_EMA:\n    ema()\n",
                     "tests/test_train.py": "import cfg\ndef test_ema():\n    cfg.USE_EMA = True\n"}),
        Valid(files={"cfg.py": "USE_EMA = False\n",
                     "train.py": "from cfg import USE_EMA\nif USE_EMA:\n    ema()\n",
                     "tests/test_train.py": "def test_ema(monkeypatch):\n"
                                            "    monkeypatch.setattr('cfg.USE_EMA', True)\n"}),
        Valid(files={"cfg.py": "DEBUG = False\nglobals().update(load_overrides())\n",
                     "run.py": "from cfg import DEBUG\nif DEBUG:\n    dump()\n"}),
        Valid(files={"cfg.py": "USE_AMP = False\n",
                     "main.py": "import cfg\ndef main(args):\n    for k, v in vars(args).items():\n"
                                "        setattr(cfg, k.upper(), v)\n    if cfg.USE_AMP:\n        amp()\n"}),
        "MODE = False\nfor MODE in (False, True):\n    if MODE:\n        run()\n",
        "def f(xs):\n    found = False\n    for x in xs:\n        if x:\n            found = True\n"
        "    if not found:\n        raise KeyError\n",
        "def f():\n    done = False\n    def cb():\n        nonlocal done\n        done = True\n"
        "    run(cb)\n    if done:\n        print(1)\n",
        "flag = False\nys = [x for flag in flags if flag]\n",  # the comprehension's own `flag`
        "def f(xs):\n    hit = None\n    ys = [y for x in xs if (hit := g(x))]\n    if hit is None:\n"
        "        return ys\n",
        "import sys\nFAST = False\ndef configure(**kw):\n    for k, v in kw.items():\n"
        "        setattr(sys.modules[__name__], k, v)\nif FAST:\n    go()\n",
        "class CFG:\n    debug = False\ndef main(args):\n    for k, v in vars(args).items():\n"
        "        setattr(CFG, k, v)\n    if CFG.debug:\n        print(1)\n",
        "class Settings(BaseSettings):\n    debug = False\nif Settings.debug:\n    print(1)\n",
    ]
    INVALID = [
        Invalid("USE_NEW_LOSS = False\n\ndef loss(y, p):\n    if USE_NEW_LOSS:\n        return new(y, p)\n"
                "    return old(y, p)\n", line=4, message_contains="never changed"),
        Invalid("DEBUG = False\nif not DEBUG:\n    fast()\n", line=2, column=8),
        Invalid("class CFG:\n    debug = False\n    seed = 42\n\ndef load(df):\n    if CFG.debug:\n"
                "        df = df.sample(100)\n    return df\n", line=6, message_contains="`CFG.debug`"),
        Invalid("USE_EMA = False\nclass Cfg:\n    def __init__(self, **kw):\n        for k, v in kw.items():\n"
                "            setattr(self, k, v)\nif USE_EMA:\n    ema()\n", line=6),
        Invalid("def train(data):\n    use_mixup = False\n    for x in data:\n        if use_mixup:\n"
                "            x = mixup(x)\n", line=4, message_contains="in `train`"),
        Invalid("USE_EMA: bool = True\nm = ema(m) if USE_EMA else m\n", line=2),
        Invalid("CACHE = None\ndef f(x):\n    return x if CACHE is None else CACHE[x]\n", line=3,
                confidence="medium"),
        Invalid("A = B = False\ndef f(x):\n    return [y for y in x if B and y]\n", line=3),
        Invalid(files={"pkg/__init__.py": "", "pkg/cfg.py": "USE_MIXUP = False\n",
                       "pkg/train.py": "from .cfg import USE_MIXUP as mix\n\ndef step(x):\n"
                                       "    if mix:\n        x = mixup(x)\n    return x\n"},
                path="pkg/train.py", line=4, message_contains="pkg/cfg.py:1"),
        Invalid(files={"cfg.py": "USE_TTA = False\n",
                       "evaluate.py": "import cfg as C\n\nwhile C.USE_TTA:\n    tta()\n"},
                path="evaluate.py", line=3),
        Invalid(files={"settings.py": "LEGACY = True\n", "common.py": "from settings import *\n",
                       "run.py": "from common import *\nif LEGACY:\n    old()\n"}, path="run.py", line=2),
        Invalid(files={"pkg/__init__.py": "from .flags import FAST\n", "pkg/flags.py": "FAST = False\n",
                       "main.py": "from pkg import FAST\nif FAST:\n    go()\n"}, path="main.py", line=2),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_collector()

    def finish(self) -> None:
        sc = self.scopes
        module = self.ctx.module
        aliases = self.ctx.names.aliases
        own_top = module.split(".", 1)[0]
        for (_, test, text, _, _, scope), value in sc.local_flags:
            self.report(test, _message(text, value, f"in `{scope}`", "in that function"),
                        hint=_HINT, confidence=_confidence(value))
        counts, literals = sc.module.counts, sc.module.literals
        flags = {n: v for n, v in literals.items() if counts.get(n) == 1 and not n.startswith("__")}
        flags.update((n, v) for n, v in self.class_flags.items() if counts.get(n.split(".")[0]) == 1)
        for name, value in flags.items():
            # no node: a location would cost a code-generation pass over the file
            self.fact(_FLAG, None, name=name, value=value, line=line_of_binding(self.ctx.source, name))
        stars = [b for b in (import_base(module, self.ctx.names.is_package, n) for n in sc.stars) if b]
        finder = GuardLines(self.ctx.source)
        for name, test, text, qual, _, scope in sorted(sc.module.guards, key=lambda g: g[4]):
            count = counts.get(name, 0)
            imported = count == 1 and name in sc.imported
            if qual is None:  # a bare name
                if count == 1 and name in literals:
                    targets = [f"{module}.{name}"]
                elif imported and name in aliases:
                    targets = [aliases[name]]
                elif count == 0 and stars:
                    targets = [f"{b}.{name}" for b in stars]
                else:
                    continue
            elif qual.startswith("="):  # `CFG.debug`
                if text not in flags:
                    continue
                targets = [f"{module}.{text}"]
            elif imported or count == 0:  # module.attr through an import
                targets = [qual]
            else:
                continue
            targets = [t for t in targets if not is_external(t, own_top)]
            if targets:
                at = finder.find(text)
                self.fact(_GUARD, test if at is None else None, targets=targets,
                          at=None if at is None else (*at, scope, text))
        imports = {k: v for k, v in aliases.items() if k in sc.imported and "." in v}
        if self.attr_stores or self.set_strings or sc.global_rebinds or self.dynamic or imports or stars:
            dynamic = sorted(module if d == "" else f"{module}.{d[1:]}" if d[0] == "=" else d for d in self.dynamic)
            self.fact(_WRITES, None, changed=sorted(self.attr_stores | self.set_strings),
                      rebinds=sorted(sc.global_rebinds), dynamic=dynamic, imports=imports, stars=stars)

    # -- the project phase -------------------------------------------------------------
    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        facts: dict[str, list[tuple[FileFacts, Fact]]] = {_FLAG: [], _GUARD: [], _WRITES: []}
        for ff in project.files():
            for fact in ff.facts:
                if fact.kind in facts:
                    facts[fact.kind].append((ff, fact))
        flags: dict[str, tuple[FileFacts, Fact]] = {}
        live: set[str] = set()
        for ff, fact in facts[_FLAG]:
            q = f"{ff.module}.{fact.data['name']}"
            if q in flags:
                live.add(q)  # two files claim the module: cannot tell
            flags[q] = (ff, fact)
        if not flags or not facts[_GUARD]:
            return
        changed: set[str] = set()  # attribute names and strings stored anywhere
        dynamic: set[str] = set()
        links: dict[str, list[str]] = {}
        for ff, fact in facts[_WRITES]:
            d = fact.data
            changed.update(d["changed"])
            live.update(f"{ff.module}.{n}" for n in d["rebinds"])
            dynamic.update(d["dynamic"])
            for local, target in d["imports"].items():
                links.setdefault(f"{ff.module}.{local}", []).append(target)
            for base in d["stars"]:
                links.setdefault(f"{ff.module}.*", []).append(base)

        for ff, fact in facts[_GUARD]:
            where_at = fact.data["at"]
            if where_at is not None:
                line, col, end_col, scope, text = where_at
                location = Location(line, col, line, end_col, line, scope, text)
            elif fact.location is not None:
                location = fact.location
            else:
                continue
            for target in fact.data["targets"]:
                found = follow_imports(target, flags, links)
                if found is None:
                    continue
                name = found.rpartition(".")[2]
                if found in live or name in changed or "*" in dynamic or any(found.startswith(d + ".") for d in dynamic):
                    break
                where, flag = flags[found]
                value = flag.data["value"]
                yield ProjectFinding(ff.path, location,
                                     _message(flag.data["name"], value, f"at {where.path}:{flag.data['line']}"),
                                     hint=_HINT, confidence=_confidence(value))
                break

