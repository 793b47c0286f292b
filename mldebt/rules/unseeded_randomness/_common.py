"""Shared helpers of the unseeded-randomness rules: the `randomness` knowledge and call tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst


@dataclass(frozen=True, slots=True)
class RandomnessKnowledge:
    ml_packages: frozenset[str]
    sklearn: Mapping[str, str]
    global_draws: Mapping[str, frozenset[str]]  # module -> excluded function names
    global_draw_functions: frozenset[str]
    seeding: frozenset[str]
    generators: Mapping[str, str]  # qualified constructor -> seed keyword
    seeding_scope: Mapping[str, frozenset[str]]  # seeding call -> frameworks it seeds
    shuffles: Mapping[str, Any]  # the `shuffles` entry (MLD703)

    @classmethod
    def of(cls, knowledge: Mapping[str, Any]) -> RandomnessKnowledge:
        kb = knowledge.get("randomness", {}) or {}
        return cls(
            ml_packages=frozenset(kb.get("ml_packages", ())),
            sklearn=dict(kb.get("sklearn", {}) or {}),
            global_draws={m: frozenset((v or {}).get("not", ())) for m, v in (kb.get("global_draws", {}) or {}).items()},
            global_draw_functions=frozenset(kb.get("global_draw_functions", ())),
            seeding=frozenset(kb.get("seeding", ())),
            generators=dict(kb.get("generators", {}) or {}),
            seeding_scope={q: frozenset(v) for q, v in (kb.get("seeding_scope", {}) or {}).items()},
            shuffles=dict(kb.get("shuffles", {}) or {}),
        )

    def seeded_frameworks(self, qualified: str | None) -> frozenset[str]:
        """What a seeding call seeds: its `seeding_scope`, else everything (``*``)."""
        if qualified is not None and qualified in self.seeding_scope:
            return self.seeding_scope[qualified]
        return frozenset({"*"})

    def is_global_draw(self, qualified: str) -> bool:
        if qualified in self.global_draw_functions:
            return True
        module, _, fn = qualified.rpartition(".")
        excluded = self.global_draws.get(module)
        return excluded is not None and not fn.startswith(("_", "stateless")) and fn not in excluded

    def is_seeding(self, qualified: str | None, func: cst.BaseExpression) -> bool:
        if qualified is not None and qualified in self.seeding:
            return True
        name = last_name(func)
        return name is not None and "seed" in name.lower()


def last_name(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def keyword(node: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in node.args if a.keyword is not None and a.keyword.value == name), None)


def has_star_kwargs(node: cst.Call) -> bool:
    return any(a.star == "**" for a in node.args)


def seeded_call(node: cst.Call) -> bool:
    """A call given its own seed or generator (`tf.random.normal(s, seed=1)`,
    `torch.randn(3, generator=g)`), or `**kwargs` that may hold one."""
    if has_star_kwargs(node):
        return True
    return any(a.keyword is not None and a.keyword.value in ("seed", "generator", "rng", "random_state")
               and not is_none(a.value) for a in node.args)


def is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def is_true(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"
