"""A light import-and-alias pass: qualified names without libcst's heavy providers.

The engine feeds every ``import``/``from ... import`` to a :class:`NameResolver` as it walks
the file (before any rule sees the statement), so by the time a rule looks at
``tts(X, y)`` the resolver knows that ``tts`` is
``sklearn.model_selection.train_test_split``. Imports anywhere in the file count (a
function-level import is rare enough that scoping it is not worth its cost).
"""

from __future__ import annotations

import builtins

import libcst as cst

_BUILTINS = frozenset(dir(builtins))


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def import_base(module: str, is_package: bool, node: cst.ImportFrom) -> str | None:
    """The module a ``from ... import`` in ``module`` reads from, relative imports resolved."""
    mod = dotted(node.module) if node.module is not None else ""
    if mod is None:
        return None
    level = len(node.relative)
    if level == 0:
        return mod
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: max(0, len(parts) - (level - 1))]
    base = ".".join(parts)
    return f"{base}.{mod}" if base and mod else (base or mod)


class NameResolver:
    def __init__(self, module: str = "", is_package: bool = False) -> None:
        self.module = module
        self.is_package = is_package
        self.aliases: dict[str, str] = {}  # local name -> qualified name
        self.local_defs: set[str] = set()  # names defined (def/class) in this file

    # -- feeding -------------------------------------------------------------------
    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)  # type: ignore[arg-type]
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:
                # `import a.b.c` binds `a`
                head = full.split(".", 1)[0]
                self.aliases[head] = head

    def add_import_from(self, node: cst.ImportFrom) -> None:
        base = self._from_base(node)
        if base is None or isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.aliases[local] = f"{base}.{name}" if base else name

    def _from_base(self, node: cst.ImportFrom) -> str | None:
        return import_base(self.module, self.is_package, node)

    # -- querying ------------------------------------------------------------------
    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The qualified name an expression refers to, through imports; None if unknown.

        Builtins resolve to ``builtins.<name>`` unless the file defines or imports that name.
        """
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self.aliases.get(head)
        if target is None:
            if head in _BUILTINS and head not in self.local_defs:
                target = f"builtins.{head}"
            else:
                return None
        return f"{target}.{rest}" if rest else target

    def call_name(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of the callee when ``node`` is a call, else None."""
        if isinstance(node, cst.Call):
            return self.qualified(node.func)
        return None
