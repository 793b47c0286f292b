"""Target encodings written by hand: which expressions compute a column from the target.

Used by MLD804's second form (a feature-building function or a notebook encoding the target
by name): the target is a column keyed by a target-named key (``df[target]``,
``df[settings.TARGET]``, ``df["label"]``), and an expression is *derived from it row by row*
when it is

- a group statistic of it: ``df.groupby(k)[target].transform("mean")``,
  ``df[k].map(df.groupby(k)[target].mean())``, ``y.groupby(col).agg(...)`` with ``y`` the target;
- a window over it that includes the current row: ``df[target].rolling(24).mean()``,
  ``.expanding()``, ``.ewm()`` — but not after ``.shift(k)`` with ``k >= 1`` (lags: past values
  known at prediction time);
- a call of a same-file *encoder* function (one that groups by, or groups, one of its
  parameters) given the target at that parameter: ``target_mean(df, "city", target)``.

The target itself reduced to one number (``df[target].mean()``) is not row by row.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from mldebt.rules.names import dotted

TARGET_NAMES = frozenset({
    "target", "label", "labels", "target_col", "target_column", "label_col", "label_column", "target_name",
    "label_name", "target_key", "label_key", "y_col", "y_column", "target_var", "target_variable",
})
_WINDOWS = frozenset({"rolling", "expanding", "ewm"})


def is_target_key(expr: cst.BaseExpression) -> bool:
    """A subscript key that names the target: a target-named variable, attribute or literal."""
    if isinstance(expr, cst.Name):
        return expr.value.lower() in TARGET_NAMES
    if isinstance(expr, cst.Attribute):
        return expr.attr.value.lower() in TARGET_NAMES
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return isinstance(value, str) and value.lower() in TARGET_NAMES
    return False


def _key(sub: cst.Subscript) -> cst.BaseExpression | None:
    if len(sub.slice) == 1 and isinstance(sub.slice[0].slice, cst.Index):
        return sub.slice[0].slice.value
    return None


def _is_groupby(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "groupby"


def _positive_int(call: cst.Call) -> bool:
    arg = call.args[0].value if call.args else None
    return isinstance(arg, cst.Integer) and int(arg.value) >= 1


def encoder_params(fn: cst.FunctionDef) -> frozenset[int]:
    """Positions of the parameters a function groups by or groups (``p.groupby(...)``,
    ``df.groupby(...)[p]``): given the target there, it returns a target encoding."""
    names = [p.name.value for p in fn.params.params]
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Subscript(self, node: cst.Subscript) -> None:
            key = _key(node)
            if _is_groupby(node.value) and isinstance(key, cst.Name) and key.value in names:
                found.add(key.value)

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "groupby" \
                    and isinstance(func.value, cst.Name) and func.value.value in names:
                found.add(func.value.value)

    fn.body.visit(_V())
    return frozenset(i for i, n in enumerate(names) if n in found)


def derived_from_target(expr: cst.BaseExpression, encoders: Mapping[str, frozenset[int]]) -> str | None:
    """How ``expr`` computes each row from the target (for the message), or None."""
    found: list[str] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> bool:
            func = node.func
            if isinstance(func, cst.Attribute):
                recv, method = func.value, func.attr.value
                if method in _WINDOWS and _target_series(recv):
                    found.append(f"a `{method}` window over the target, which includes the row's own label")
                    return False
                if method == "shift" and _target_series(recv) and _positive_int(node):
                    return False  # a lag: past values only
            if isinstance(func, cst.Name) and func.value in encoders:
                positional = [a for a in node.args if a.keyword is None and not a.star]
                for i in encoders[func.value]:
                    if i < len(positional) and _is_target(positional[i].value):
                        found.append(f"`{func.value}(...)`, which groups the target")
                        return False
            return True

        def visit_Subscript(self, node: cst.Subscript) -> bool:
            key = _key(node)
            if key is not None and is_target_key(key) and _is_groupby(node.value):
                found.append("a group statistic of the target (target encoding)")
                return False
            return True

    expr.visit(_V())
    return found[0] if found else None


def _target_series(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Subscript):
        key = _key(expr)
        return key is not None and is_target_key(key) and dotted(expr.value) is not None
    return False


def _is_target(expr: cst.BaseExpression) -> bool:
    """The target column (``df[target]``) or the target's key (``target``) passed on."""
    return _target_series(expr) or (isinstance(expr, (cst.Name, cst.Attribute)) and is_target_key(expr))
