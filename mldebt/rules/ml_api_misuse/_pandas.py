"""Shared helpers of the pandas/NumPy misuse rules (MLD904-MLD908): the `api_misuse` knowledge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mldebt.rules.receivers import TypeInfo

# Types whose API the pandas rules look at (a DataFrame, a Series, or either).
PANDAS_FRAMES = frozenset({"pandas.DataFrame", "pandas.Series", "pandas.NDFrame"})


@dataclass(frozen=True, slots=True)
class ApiMisuseKnowledge:
    nan_constants: frozenset[str]
    na_constants: frozenset[str]
    nan_from_string: frozenset[str]
    returns_new_object: frozenset[str]
    indexers: frozenset[str]

    @classmethod
    def of(cls, knowledge: Mapping[str, Any]) -> ApiMisuseKnowledge:
        kb = knowledge.get("api_misuse", {}) or {}
        return cls(
            nan_constants=frozenset(kb.get("nan_constants", ())),
            na_constants=frozenset(kb.get("na_constants", ())),
            nan_from_string=frozenset(kb.get("nan_from_string", ())),
            returns_new_object=frozenset(kb.get("returns_new_object", ())),
            indexers=frozenset(kb.get("indexers", ())),
        )


def is_frame(t: TypeInfo | None) -> bool:
    """A pandas DataFrame or Series (or provably one of the two)."""
    return t is not None and t.name in PANDAS_FRAMES


def keyword(node: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in node.args if a.keyword is not None and a.keyword.value == name), None)


def is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def short_code(text: str, limit: int = 40) -> str | None:
    """Source text short and simple enough to quote in a message, else None."""
    text = " ".join(text.split())
    return text if len(text) <= limit else None


def origin(t: TypeInfo) -> str:
    """`` (from `pandas.read_csv`)`` / `` (annotated)`` / ``""``: where a receiver's type comes from."""
    if not t.source:
        return ""
    if t.source == "annotation":
        return " (annotated)"
    return f" (from `{t.source}`)"
