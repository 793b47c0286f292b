"""What the data-leakage rules share: which objects are fitted transformers or resamplers.

The knowledge (classes, split functions, test-data names) is ``leakage`` in
``rules/data-leakage.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from mldebt.rules.names import NameResolver, dotted

FIT_METHODS = frozenset({"fit", "fit_transform", "fit_resample", "fit_sample"})
# fitting methods only transformers and resamplers have, whatever their class
LEARNT_OUTPUT_METHODS = frozenset({"fit_transform", "fit_resample"})


@dataclass(frozen=True, slots=True)
class Leakage:
    prefixes: tuple[str, ...]
    classes: frozenset[str]
    stateless: frozenset[str]
    splitters: frozenset[str]
    wrappers: frozenset[str]
    test_names: re.Pattern[str]

    @classmethod
    def from_knowledge(cls, knowledge: Mapping[str, Any]) -> Leakage:
        k = knowledge.get("leakage", {}) or {}
        return cls(tuple(k.get("transformer_prefixes", ())), frozenset(k.get("transformers", ())),
                   frozenset(k.get("stateless", ())), frozenset(k.get("split_functions", ())),
                   frozenset(k.get("wrappers", ())), re.compile(k.get("test_data_names", r"(?!)")))

    @property
    def library_roots(self) -> frozenset[str]:
        """Top-level packages the knowledge lists transformers of (sklearn, imblearn...)."""
        return frozenset(q.partition(".")[0] for q in (*self.prefixes, *self.classes, *self.stateless))

    def is_transformer(self, qualified: str | None) -> bool:
        if qualified is None or qualified in self.stateless:
            return False
        if qualified in self.classes:
            return True
        module, _, name = qualified.rpartition(".")
        return module + "." in self.prefixes and name[:1].isupper()


def short(qualified: str) -> str:
    return qualified.rpartition(".")[2]


def fitted_class(call: cst.Call, names: NameResolver, know: Leakage,
                 objects: Mapping[str, str]) -> tuple[str, str] | None:
    """``(class, method)`` when ``call`` is ``<transformer>.fit*(...)``, else None.

    The receiver is a constructor call (``StandardScaler().fit(X)``) or a name bound to one
    in ``objects`` (local name -> qualified class)."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in FIT_METHODS or not call.args:
        return None
    receiver = func.value
    method = func.attr.value
    if isinstance(receiver, cst.Call):
        q = names.call_name(receiver)
        if q is not None and know.is_transformer(q):
            return q, method
        # only transformers and resamplers have these: a project helper's pipeline, say
        # (``make_preprocessor(cols).fit_transform(X)``)
        if q is None or method not in LEARNT_OUTPUT_METHODS or q.partition(".")[0] in know.library_roots:
            return None  # a library's own classes are judged by the lists above
        return f"{q}()", method
    key = dotted(receiver)
    q = objects.get(key) if key is not None else None
    return (q, method) if q is not None else None


def data_key(expr: cst.BaseExpression) -> tuple[str, bool] | None:
    """The variable an argument names: ``X`` -> ("X", exact), ``df[cols]`` -> ("df", not exact)."""
    exact = True
    while isinstance(expr, cst.Subscript):
        expr, exact = expr.value, False
    key = dotted(expr)
    return (key, exact) if key is not None else None



class Lines:
    """Lines of nodes other than the reported one, to name them in a message.

    The engine locates only reported nodes; this resolves libcst positions for the whole
    module once, the first time a rule asks (a rule asks only when it reports)."""

    def __init__(self) -> None:
        self.module: cst.Module | None = None
        self._positions: Mapping[cst.CSTNode, Any] | None = None

    def line(self, node: cst.CSTNode) -> int | None:
        if self.module is None:
            return None
        if self._positions is None:
            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        pos = self._positions.get(node)
        return pos.start.line if pos is not None else None
