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
_NAME = cst.Name
_ATTRIBUTE = cst.Attribute
_CALL = cst.Call  # no subclasses: `type(node) is`


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    # `type(...) is`, not isinstance: libcst classes are ABCs, whose isinstance costs a
    # Python-level call on every miss (Name and Attribute have no subclasses)
    kind = type(node)
    if kind is _NAME:
        return node.value  # type: ignore[attr-defined,no-any-return]
    if kind is not _ATTRIBUTE:
        return None
    parts: list[str] = []
    while kind is _ATTRIBUTE:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
        kind = type(node)
    if kind is _NAME:
        parts.append(node.value)  # type: ignore[attr-defined]
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
        self.local_defs: set[str] = set()  # names defined (def/class) in this file: add_local_def
        # qualified() of a node since the last change of the above: id -> (node, name); the
        # node is kept so that its id cannot be reused by another node while it is here
        self._memo: dict[int, tuple[cst.BaseExpression, str | None]] = {}

    # -- feeding -------------------------------------------------------------------
    def add_local_def(self, name: str) -> None:
        """A ``def``/``class`` of this file: it shadows the builtin of that name."""
        if name not in self.local_defs:
            self.local_defs.add(name)
            if name in _BUILTINS:
                self._memo.clear()

    def add_import(self, node: cst.Import) -> None:
        self._memo.clear()
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
        self._memo.clear()
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
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        name = dotted(node)
        q: str | None = None
        if name is not None:
            head, _, rest = name.partition(".")
            target = self.aliases.get(head)
            if target is None and head in _BUILTINS and head not in self.local_defs:
                target = f"builtins.{head}"
            if target is not None:
                q = f"{target}.{rest}" if rest else target
        self._memo[id(node)] = (node, q)
        return q

    def call_name(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of the callee when ``node`` is a call, else None."""
        if type(node) is _CALL:
            return self.qualified(node.func)  # type: ignore[attr-defined]
        return None
