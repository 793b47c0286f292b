"""Shared helpers of the configuration-debt rules: the `config_debt` knowledge and literal tests."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst

_ALIASES = (("tensorflow.keras.", "keras."), ("tf_keras.", "keras."), ("tensorflow.python.keras.", "keras."),
            ("pytorch_lightning.", "lightning."), ("lightning.pytorch.", "lightning."))


def canonical(qualified: str) -> str:
    """One spelling per framework: ``tensorflow.keras.layers.Dense`` -> ``keras.layers.Dense``."""
    for old, new in _ALIASES:
        if qualified.startswith(old):
            return new + qualified[len(old):]
    return qualified


@dataclass(frozen=True, slots=True)
class ConfigKnowledge:
    hyperparameters: frozenset[str]
    callables: Mapping[str, tuple[str, ...]]
    params_dicts: Mapping[str, tuple[int, str]]
    keras_models: frozenset[str]
    keras_fit_keywords: frozenset[str]
    config_modules: Mapping[str, str]
    config_file: re.Pattern[str]
    config_objects: frozenset[str]
    config_classes: tuple[str, ...]
    one_off_lines: int
    architecture: tuple[str, ...]
    min_layer_width: int
    layer_training_params: frozenset[str]
    layer_training_keys: tuple[str, ...]
    training_calls: frozenset[str]
    training_functions: frozenset[str]
    illustrative_dirs: frozenset[str]
    system_prefixes: tuple[str, ...]
    path_roots: frozenset[str]
    path_extensions: tuple[str, ...]
    windows_system: frozenset[str]
    path_skip_calls: frozenset[str]
    path_skip_keywords: frozenset[str]

    @classmethod
    def of(cls, knowledge: Mapping[str, Any]) -> ConfigKnowledge:
        kb = knowledge.get("config_debt", {}) or {}
        stems = "|".join(re.escape(s) for s in kb.get("config_file_stems", ()))
        exts = "|".join(re.escape(e) for e in kb.get("config_file_extensions", ()))
        return cls(
            hyperparameters=frozenset(kb.get("hyperparameters", ())),
            callables={q: tuple(v or ()) for q, v in (kb.get("callables", {}) or {}).items()},
            params_dicts={q: (int(v[0]), str(v[1])) for q, v in (kb.get("params_dicts", {}) or {}).items()},
            keras_models=frozenset(kb.get("keras_models", ())),
            keras_fit_keywords=frozenset(kb.get("keras_fit_keywords", ())),
            config_modules=dict(kb.get("config_modules", {}) or {}),
            config_file=re.compile(rf"(?:^|[/\\_.-])(?:{stems or 'config'})[\w.-]*(?:{exts or '.yaml'})$", re.IGNORECASE),
            config_objects=frozenset(kb.get("config_objects", ())),
            config_classes=tuple(kb.get("config_classes", ())),
            one_off_lines=int(kb.get("one_off_lines", 80)),
            architecture=tuple(kb.get("architecture", ())),
            min_layer_width=int(kb.get("min_layer_width", 8)),
            layer_training_params=frozenset(kb.get("layer_training_params", ())),
            layer_training_keys=tuple(kb.get("layer_training_keys", ())),
            training_calls=frozenset(kb.get("training_calls", ())),
            training_functions=frozenset(kb.get("training_functions", ())),
            illustrative_dirs=frozenset(kb.get("illustrative_dirs", ())),
            system_prefixes=tuple(kb.get("system_prefixes", ())),
            path_roots=frozenset(kb.get("path_roots", ())),
            path_extensions=tuple(kb.get("path_extensions", ())),
            windows_system=frozenset(s.lower() for s in kb.get("windows_system", ())),
            path_skip_calls=frozenset(kb.get("path_skip_calls", ())),
            path_skip_keywords=frozenset(kb.get("path_skip_keywords", ())),
        )

    def positional(self, qualified: str) -> tuple[str, ...] | None:
        """The positional parameter names of a hyper-parameter callable, or None if it is not one."""
        q = canonical(qualified)
        found = self.callables.get(q)
        if found is not None:
            return found
        module, _, name = q.rpartition(".")
        if not name or name.startswith("_"):
            return None
        return self.callables.get(f"{module}.*")

    def is_keras_model(self, qualified: str) -> bool:
        q = canonical(qualified)
        return q in self.keras_models or f"{q.rpartition('.')[0]}.*" in self.keras_models

    def config_module(self, qualified: str) -> str | None:
        for module, label in self.config_modules.items():
            if qualified == module or qualified.startswith(module + "."):
                return label
        return None


def number(node: cst.BaseExpression) -> float | None:
    """The value of a numeric literal (``3``, ``1e-3``, ``-0.5``, ``2 ** 10``), else None."""
    if isinstance(node, (cst.Integer, cst.Float)):
        value = node.evaluated_value
        return float(value) if isinstance(value, (int, float)) else None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number(node.expression)
        return -inner if inner is not None else None
    if isinstance(node, cst.BinaryOperation):
        a, b = number(node.left), number(node.right)
        if a is None or b is None:
            return None
        op = node.operator
        try:
            if isinstance(op, cst.Multiply):
                return a * b
            if isinstance(op, cst.Divide):
                return a / b if b else None
            if isinstance(op, cst.Power) and abs(b) <= 64:
                return float(a ** b)
            if isinstance(op, cst.Add):
                return a + b
            if isinstance(op, cst.Subtract):
                return a - b
        except OverflowError:
            return None
    return None


def literal_value(node: cst.BaseExpression) -> str | None:
    """A hyper-parameter literal as a canonical text (``0.001``, ``(0.9, 0.999)``), or None
    when ``node`` is not a numeric literal, or is 0 or 1 (or a tuple of only those)."""
    if isinstance(node, (cst.Tuple, cst.List)):
        values = []
        for e in node.elements:
            if not isinstance(e, cst.Element):
                return None
            v = number(e.value)
            if v is None:
                return None
            values.append(v)
        if not values or all(v in (0.0, 1.0) for v in values):
            return None
        return "(" + ", ".join(_fmt(v) for v in values) + ")"
    v = number(node)
    if v is None or v in (0.0, 1.0):
        return None
    return _fmt(v)


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def keyword_args(call: cst.Call) -> dict[str, cst.Arg]:
    return {a.keyword.value: a for a in call.args if a.keyword is not None}


def positional_args(call: cst.Call) -> list[cst.Arg] | None:
    """The positional arguments, or None when a ``*args`` hides the positions."""
    out = []
    for a in call.args:
        if a.keyword is not None or a.star == "**":
            continue
        if a.star == "*":
            return None
        out.append(a)
    return out


def join_names(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
