from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping

import libcst as cst

from mldebt.model import Confidence, Fact
from mldebt.rules.base import FileFacts, Invalid, ProjectFinding, ProjectRule, ProjectView, Valid
from mldebt.rules.dead_experimental_path._common import (
    compile_globs, glob_keywords, normalize_name, registers, string_fragments, version_base,
)

# Fact kinds; namespaced because ``check`` is not told the rule's code (see the report).
_DEF, _REFS = "unused-experimental-definition:def", "unused-experimental-definition:refs"
_WORD = re.compile(r"\w+")


class UnusedExperimentalDefinition(ProjectRule):
    """
    ## What it does
    Flags a function or class whose name marks it as an experiment or a leftover
    (`train_old`, `loss_backup`, `experimental_head`, `legacy_loader`, `tmp_fix`,
    `ModelOld`, ...) that nothing in the repository references: no call, attribute, import
    or string (`__all__`, `getattr(model, "forward_old")`, a registry key). Versioned names
    (`train_v2`, `ResNetV3`) are reported only when the repository also defines the
    unversioned name or another version, at medium confidence: `mobilenet_v2` or
    `inception_v3` alone are architecture names, not leftovers.

    Counted as used: definitions under a decorator that may register them
    (`@register_model`, `@app.route`, `@pytest.fixture`; not wrappers such as
    `@torch.no_grad()`, `@lru_cache` or `@staticmethod`), pytest tests (`test_*`,
    `Test*`), names built at run time from a string fragment
    (`getattr(self, "forward_" + version)`), and everything in a module read through
    `globals()`, `vars()`, `eval` or a `getattr` with a computed name. Mentions in
    comments are not references; tests and notebooks count.

    ## Why is this bad?
    A `*_old` or `*_v2` function nobody calls is an experiment that lost (or won, and its
    rival was never deleted). It is still read, searched, refactored and type-checked,
    and it invites someone to call the wrong version. Sculley et al. name these dead
    experimental codepaths: cheap to add, expensive to keep.

    ## Example
    ```python
    def train_old(model, data):
        ...

    def train(model, data):
        ...
    ```

    ## Use instead
    Delete `train_old`; version control keeps it. If both versions must stay
    available, select one with a configuration value and name them by what they do.

    ## Options
    - `patterns` (list[str], default `*_old`, `old_*`, `*_bak`, `*_backup`,
      `experimental_*`, `*_experimental`, `legacy_*`, `*_legacy`, `tmp_*`, `*_tmp`,
      `temp_*`, `unused_*`, `*_unused`, `*_wip`, `wip_*`, `*_new`): shell-style patterns
      matched against the snake-case name without leading underscores (`LegacyHead` is
      `legacy_head`; `temperature_scale` is not `temp_*`). `backup_*` (a verb) and
      `*_deprecated` (kept on purpose for users) are left out.
    - `versioned` (bool, default `true`): also report unreferenced `name_vN` when the
      repository defines `name` or another `name_vM`.

    ## References
    - Sculley et al., "Hidden Technical Debt in Machine Learning Systems", NeurIPS 2015,
      §5 "ML-System Anti-Patterns", *Dead Experimental Codepaths*.
    - vulture (dead code finder for Python).
    """

    VALID = [
        "def train_old(m):\n    pass\n\ntrain_old(1)\n",
        "from registry import register_model\n@register_model\ndef resnet_v2():\n    pass\n",
        "def mobilenet_v2():\n    pass\n",  # an architecture name, no sibling
        "__all__ = ['legacy_loader']\ndef legacy_loader():\n    pass\n",
        "class Net:\n    def forward_old(self, x):\n        return x\n\ndef run(n, x):\n"
        "    return getattr(n, 'forward_old')(x)\n",
        "class Net:\n    def forward_v1(self, x):\n        return x\n    def forward_v2(self, x):\n"
        "        return x\n    def forward(self, x, v):\n        return getattr(self, 'forward_v' + v)(x)\n",
        "def test_loss_old():\n    assert True\n",
        "def threshold(x):\n    return x\n",  # `_old` is not a suffix here
        "def handler_new():\n    pass\nHANDLERS = {'new': handler_new}\n",
        "import sys\ndef tmp_a():\n    pass\ndef run(name):\n    return globals()[name]()\n",
        Valid(files={"models.py": "def net_v1():\n    pass\ndef net_v2():\n    pass\n",
                     "train.py": "import models\ndef build(name):\n    return getattr(models, name)()\n"}),
        Valid(files={"a.py": "def old_collate(b):\n    return b\n",
                     "tests/test_a.py": "from a import old_collate\ndef test_it():\n    old_collate([])\n"}),
        "def train_old(m):\n    pass\n# train_old is kept for the paper\nx = train_old\n",
    ]
    INVALID = [
        Invalid("def train_old(model):\n    pass\n\ndef train(model):\n    pass\n\ntrain(1)\n", line=1,
                column=5, message_contains="train_old"),
        Invalid("class LegacyHead:\n    pass\n", line=1),
        Invalid("def _tmp_fix(x):\n    return x + 1\n", line=1),
        Invalid("import torch\n\n@torch.no_grad()\ndef evaluate_old(model, x):\n    return model(x)\n", line=4),
        Invalid("class Net:\n    def forward_backup(self, x):\n        return x\n", line=2),
        Invalid("def loss(y, p):\n    return 0\n\ndef loss_v2(y, p):\n    return 1\n\nloss(1, 2)\n", line=4,
                confidence="medium"),
        Invalid(files={"a.py": "def experimental_mixup(x):\n    return x\n# experimental_mixup(x)\n",
                       "b.py": "from c import something\n"}, path="a.py", line=1),
        Invalid("def train(m):\n    # the old loop: see train_old below\n    pass\n\ndef train_old(m):\n    pass\n",
                line=5),
        Invalid("def collate_new(b):\n    return b\n", line=1,
                options={"patterns": ["*_new"]}),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        patterns = tuple(self.options.get("patterns", ()))  # defaults: the catalog
        self._globs = compile_globs(patterns)
        self._versioned = bool(self.options.get("versioned", True))
        # cheap test on every identifier of the file: the words of the patterns, `_v2`, `V2`
        self._prefilter = glob_keywords(patterns, self._versioned)
        self._defs: list[str] = []
        self._candidates: list[tuple[str, cst.FunctionDef | cst.ClassDef, str, bool]] = []
        self._fragments: set[str] = set()
        self._dyn_modules: set[str] = set()
        self._dynamic = False

    def _matches(self, normalized: str) -> bool:
        return self._globs is not None and self._globs.match(normalized) is not None

    def _definition(self, node: cst.FunctionDef | cst.ClassDef, kind: str) -> None:
        name = node.name.value
        self._defs.append(name)
        if name.startswith(("__", "test", "Test")) or any(registers(self.ctx.names, d) for d in node.decorators):
            return  # registered by a decorator (`@register_model`, `@app.route`): a use
        norm = normalize_name(name)
        if self._matches(norm):
            self._candidates.append((name, node, kind, False))
        elif self._versioned and version_base(norm) is not None:
            self._candidates.append((name, node, kind, True))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._definition(node, "function")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._definition(node, "class")

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        if type(f) is not cst.Name:
            return
        name = f.value
        if name in ("globals", "locals", "eval", "exec") or (name == "vars" and not node.args):
            self._dynamic = True
        elif name in ("getattr", "hasattr") and len(node.args) >= 2:
            arg = node.args[1].value
            if type(arg) is cst.SimpleString:
                return  # a literal: the text scan counts it
            frags = string_fragments(arg)
            if frags:
                self._fragments.update(frags)
                return
            owner = self.ctx.names.qualified(node.args[0].value)
            if owner is not None and not owner.startswith("builtins."):
                self._dyn_modules.add(owner)
            else:
                self._dynamic = True
        elif name == "vars" and node.args:
            owner = self.ctx.names.qualified(node.args[0].value)
            if owner is not None:
                self._dyn_modules.add(owner)

    def finish(self) -> None:
        source = self.ctx.source
        prefilter = self._prefilter
        hits: dict[str, int] = {}
        tokens = _WORD.findall(source)
        for w in set(tokens):
            if prefilter is not None and prefilter.search(w):
                norm = normalize_name(w)
                if self._matches(norm) or (self._versioned and version_base(norm) is not None):
                    hits[w] = 0
        if hits:
            # occurrences in code and strings; mentions in comments are not references
            counts = Counter(t for t in tokens if t in hits)
            counts.subtract(t for c in self.ctx.comments() for t in _WORD.findall(c.text) if t in hits)
            for w in hits:
                hits[w] = counts[w]
            for name, _, _, _ in self._candidates:
                hits[name] = hits.get(name, 1) - 1  # the definition itself
            # only a definition nothing in this file references needs a location
            for name, node, kind, versioned in self._candidates:
                if hits.get(name, 0) <= 0:
                    self.fact(_DEF, node.name, name=name, what=kind, versioned=versioned)
        defs = sorted({normalize_name(d) for d in self._defs}) if self._versioned else []
        refs = {k: v for k, v in hits.items() if v > 0}
        if refs or defs or self._fragments or self._dyn_modules or self._dynamic:
            self.fact(_REFS, None, refs=refs, defs=defs, fragments=sorted(self._fragments),
                      modules=sorted(self._dyn_modules), dynamic=self._dynamic)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        defs: list[tuple[FileFacts, Fact]] = []
        refs: Counter[str] = Counter()
        names: set[str] = set()
        fragments: set[str] = set()
        dynamic: set[str] = set()
        for ff in project.files():
            for fact in ff.facts:
                if fact.kind == _DEF:
                    defs.append((ff, fact))
                elif fact.kind == _REFS:
                    d = fact.data
                    refs.update(d["refs"])
                    names.update(d["defs"])
                    fragments.update(d["fragments"])
                    dynamic.update(d["modules"])
                    if d["dynamic"]:
                        dynamic.add(ff.module)
        if not defs:
            return
        versions: dict[str, set[str]] = {}
        for _, fact in defs:
            norm = normalize_name(fact.data["name"])
            base = version_base(norm)
            if base is not None:
                versions.setdefault(base, set()).add(norm)
        for ff, fact in defs:
            d = fact.data
            name = d["name"]
            if fact.location is None or ff.module in dynamic:
                continue
            if refs[name] > 0 or any(name.startswith(f) or name.endswith(f) for f in fragments):
                continue
            confidence = None
            if d["versioned"]:
                norm = normalize_name(name)
                base = version_base(norm) or ""
                if base not in names and len(versions.get(base, ())) < 2:
                    continue
                confidence = Confidence.MEDIUM
            kind = "Class" if d["what"] == "class" else "Function"
            yield ProjectFinding(
                ff.path, fact.location,
                f"{kind} `{name}` is named like a leftover experiment and nothing in the repository "
                "references it (no call, attribute, import or string): a dead experimental path.",
                hint="Delete it (version control keeps it); if it must stay, wire it in through "
                     "configuration and give it a name that says what it does.",
                confidence=confidence,
            )
