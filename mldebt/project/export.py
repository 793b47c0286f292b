"""Export the pipeline graph so people can look at their jungle: DOT, JSON and Mermaid.

Pure functions over the project graph (a ``networkx.MultiDiGraph``, see
``mldebt.project.graph``): nothing here reads files or runs anything. Every output is
sorted (nodes by id, edges by source, target, kind, line), so the same graph gives the same
text whatever order it was built in, and linear apart from the sorting, so a repository of
thousands of files still exports in milliseconds.

The graph (built by ``mldebt.project.graph``), a ``networkx.MultiDiGraph``:

- ``g.graph["root"]``: the project folder name; ``g.graph["jungles"]`` (optional): a list of
  ``{"entry": node id, "chain": [node ids in order], "cycle": bool}`` to highlight.
- Nodes, by their ``kind``: ``step`` and ``module`` (code files; id the root-relative POSIX
  path; ``label``, ``line``, ``declared``, ``entry``), ``runner`` (a shell script, Makefile,
  ``dvc.yaml`` or ``MLproject``; ``label``, ``declared``) and ``artifact`` (id
  ``"data:" + key``, the key a path, URL or pattern with ``*``; ``label`` the key,
  ``declared``, ``remote``, ``unstable`` (a reason or ``""``), ``declared_by``
  (``"dvc.yaml:12"`` or ``""``)). A missing attribute is tolerated: ``label`` falls back to
  the id, booleans to false, ``kind`` to ``""`` (drawn as a plain node).
- Edges, by their ``kind``: ``reads`` (artifact -> code; ``line``, ``api``, ``declared``),
  ``writes`` (code -> artifact; ``line``, ``api``), ``runs`` (runner or code -> code;
  ``line``, ``via``) and ``imports`` (code -> module; ``line``).

Styling is the same in every visual format:

- steps are boxes, imported modules rounded, runners (shell scripts, Makefiles, ``dvc.yaml``,
  ``MLproject``) components, data artifacts cylinders (remote ones notes);
- undeclared artifacts and undeclared reads are red and dashed: nothing but code says they exist;
- declared nodes and edges (a DVC stage, a Makefile target) are grey and solid;
- unstable artifacts (a path built from a timestamp, a glob) are filled pale yellow;
- the chains in ``g.graph["jungles"]`` are bold.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import networkx as nx

FORMATS = ("dot", "json", "mermaid")
JSON_VERSION = 1

_NODE_FIRST = ("id", "kind", "label")
_EDGE_FIRST = ("source", "target", "kind")
_JUNGLE_FIRST = ("entry", "chain", "cycle")

# ---------------------------------------------------------------------------------------------
# The view


def pipeline_view(g: nx.MultiDiGraph, *, imports: bool = False) -> nx.MultiDiGraph:
    """The part of ``g`` people want to see, as a new graph (``g`` is not changed).

    Kept: artifacts, steps, runners and anything else that is not a ``module``; the modules
    that touch data (read or write an artifact), run or are run, or lie on a jungle chain; every
    edge between kept nodes except ``imports``. With ``imports=True`` the whole graph is kept,
    ``imports`` edges and modules that touch no data included. Graph attributes (``root``,
    ``jungles``) are copied.
    """
    view = nx.MultiDiGraph()
    view.graph.update(copy.deepcopy(g.graph))
    if imports:
        keep = set(g.nodes)
    else:
        on_chain = {n for j in _jungles(g) for n in j["chain"]} | {j["entry"] for j in _jungles(g)}
        keep = {n for n, d in g.nodes(data=True) if d.get("kind") != "module" or n in on_chain}
        for u, v, d in g.edges(data=True):
            kind = d.get("kind")
            if kind == "runs":
                keep.update((u, v))
            elif kind == "reads" and g.nodes[u].get("kind") == "artifact":
                keep.add(v)
            elif kind == "writes" and g.nodes[v].get("kind") == "artifact":
                keep.add(u)
    for n, d in g.nodes(data=True):
        if n in keep:
            view.add_node(n, **copy.deepcopy(d))
    for u, v, k, d in g.edges(keys=True, data=True):
        if u in keep and v in keep and (imports or d.get("kind") != "imports"):
            view.add_edge(u, v, key=k, **copy.deepcopy(d))
    return view


def render(g: nx.MultiDiGraph, fmt: str, *, imports: bool = False) -> str:
    """``g``'s pipeline view (:func:`pipeline_view`) in ``fmt``: one of :data:`FORMATS`."""
    exporters: dict[str, Callable[[nx.MultiDiGraph], str]] = {
        "dot": to_dot,
        "json": to_json,
        "mermaid": to_mermaid,
    }
    if fmt not in exporters:
        raise ValueError(f"unknown graph format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return exporters[fmt](pipeline_view(g, imports=imports))


# ---------------------------------------------------------------------------------------------
# JSON


def to_json(g: nx.MultiDiGraph) -> str:
    """The whole graph ``g`` as versioned JSON (indent 2, UTF-8 text, trailing newline).

    ```
    {"version": 1,
     "root": "<project folder name>",
     "nodes": [{"id": "src/prep.py", "kind": "step", "label": "src/prep.py",
                "declared": false, "entry": true, "line": 0},
               {"id": "data:data/raw.csv", "kind": "artifact", "label": "data/raw.csv",
                "declared": true, "declared_by": "dvc.yaml:3", "remote": false, "unstable": ""},
               ...],
     "edges": [{"source": "data:data/raw.csv", "target": "src/prep.py", "kind": "reads",
                "api": "pandas.read_csv", "declared": true, "line": 7},
               ...],
     "jungles": [{"entry": "run_all.sh", "chain": ["src/prep.py", ...], "cycle": false}]}
    ```

    - ``nodes``: one object per node, sorted by ``id``; ``id``, ``kind`` and ``label`` come
      first (``label`` defaults to the id, ``kind`` to ``""``), then every other node
      attribute in alphabetical order. ``kind`` is ``step``, ``module``, ``runner`` or
      ``artifact``; artifact ids are ``"data:" + key``.
    - ``edges``: one object per edge (parallel edges each appear), sorted by ``source``,
      ``target``, ``kind``, ``line``, then the remaining attributes; ``source``, ``target``
      and ``kind`` first, then the other attributes alphabetically. ``kind`` is ``reads``
      (artifact -> code, with ``api``, ``declared``, ``line``), ``writes`` (code -> artifact,
      with ``api``, ``line``), ``runs`` (runner or code -> code, with ``via``, ``line``) or
      ``imports`` (code -> module, with ``line``).
    - ``jungles``: ``g.graph["jungles"]`` (``[]`` when absent), sorted by entry then chain;
      ``entry``, ``chain`` (node ids in pipeline order) and ``cycle`` first.

    Attribute values that JSON cannot hold become JSON that can: tuples and sets become lists
    (sets sorted), other objects their ``str``, non-finite floats ``null``. Strings keep their
    unicode except invisible characters (controls, bidi overrides, line separators, lone
    surrogates), which are ``\\u`` escapes.
    """
    doc = {
        "version": JSON_VERSION,
        "root": str(g.graph.get("root", "")),
        "nodes": [_node_json(n, d) for n, d in _sorted_nodes(g)],
        "edges": [e for _, e in _sorted_edges(g)],
        "jungles": sorted(
            (_ordered(j, _JUNGLE_FIRST, {}) for j in _jungles(g)),
            key=lambda j: (j["entry"], j["chain"], _canonical(j)),
        ),
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    # Non-ASCII characters only occur inside strings, where a \\u escape reads back the same.
    return _NON_ASCII.sub(_json_escape_invisible, text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _json_escape_invisible(m: re.Match[str]) -> str:
    """Escape what would hide in a text editor or break a UTF-8 write: bidi overrides, line
    separators, C1 controls, lone surrogates (from file names that are not UTF-8)."""
    ch = m.group()
    if not _invisible(ch):
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=_canonical)
    return str(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _ordered(data: Mapping[str, Any], first: Iterable[str], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """``fixed`` and the ``first`` keys in that order, then the other keys alphabetically."""
    first = tuple(first)
    out: dict[str, Any] = {}
    for key in first:
        out[key] = fixed[key] if key in fixed else _jsonable(data.get(key))
    for key in sorted(data, key=str):
        if str(key) not in first:
            out[str(key)] = _jsonable(data[key])
    return out


def _node_json(n: str, d: Mapping[str, Any]) -> dict[str, Any]:
    fixed = {"id": n, "kind": str(d.get("kind", "")), "label": str(d.get("label", n))}
    return _ordered(d, _NODE_FIRST, fixed)


# ---------------------------------------------------------------------------------------------
# What every format shares: order, jungle highlighting, the style of a node and an edge


def _sorted_nodes(g: nx.MultiDiGraph) -> list[tuple[str, Mapping[str, Any]]]:
    return sorted(((str(n), d) for n, d in g.nodes(data=True)), key=lambda nd: nd[0])


def _sorted_edges(g: nx.MultiDiGraph) -> list[tuple[tuple[Any, Any], dict[str, Any]]]:
    """Each edge as ((u, v) as in ``g``, its JSON object), in the documented order."""
    rows = []
    for u, v, d in g.edges(data=True):
        fixed = {"source": str(u), "target": str(v), "kind": str(d.get("kind", ""))}
        obj = _ordered(d, _EDGE_FIRST, fixed)
        line = d.get("line")
        line_key = line if isinstance(line, int) and not isinstance(line, bool) else -1
        rows.append(((fixed["source"], fixed["target"], fixed["kind"], line_key, _canonical(obj)), (u, v), obj))
    rows.sort(key=lambda r: r[0])
    return [(uv, obj) for _, uv, obj in rows]


def _jungles(g: nx.MultiDiGraph) -> Iterator[dict[str, Any]]:
    for j in g.graph.get("jungles") or ():
        yield {**j, "entry": str(j.get("entry", "")), "chain": [str(n) for n in j.get("chain", ())],
               "cycle": bool(j.get("cycle", False))}


def _jungle_marks(g: nx.MultiDiGraph) -> tuple[set[str], set[tuple[str, str]]]:
    """Nodes and (source, target) pairs to draw bold.

    A chain may list every node (step, artifact, step, ...) or only the steps: each
    consecutive pair is joined by its direct edges, or else through the artifacts the first
    writes and the second reads. A cycle also joins its last node to its first.
    """
    nodes: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for j in _jungles(g):
        chain = [n for n in j["chain"] if n in g]
        nodes.update(chain)
        if j["entry"] in g:
            nodes.add(j["entry"])
        links = list(itertools.pairwise(chain))
        if j["cycle"] and len(chain) > 1:
            links.append((chain[-1], chain[0]))
        for a, b in links:
            if g.has_edge(a, b):
                pairs.add((a, b))
                continue
            for _, x, d in g.out_edges(a, data=True):
                if d.get("kind") == "writes" and g.has_edge(x, b):
                    nodes.add(x)
                    pairs.update(((a, x), (x, b)))
    return nodes, pairs


_DOT_SHAPES = {"step": "box", "module": "box", "runner": "component", "artifact": "cylinder"}
_UNDECLARED = "#d33c3c"
_DECLARED = "#888888"
_UNSTABLE_FILL = "#fff3cd"


def _is_remote(d: Mapping[str, Any]) -> bool:
    return bool(d.get("remote", False))


def _undeclared_artifact(d: Mapping[str, Any]) -> bool:
    return d.get("kind") == "artifact" and not d.get("declared", False)


def _undeclared_read(d: Mapping[str, Any]) -> bool:
    return d.get("kind") == "reads" and not d.get("declared", False)


# ---------------------------------------------------------------------------------------------
# DOT


def _invisible(ch: str) -> bool:
    """A control, format (bidi overrides, zero-width), line-separator or surrogate character."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def _visible(text: str, keep: str) -> str:
    """``text`` for display: invisible characters other than ``keep`` shown as U+FFFD."""

    def show(m: re.Match[str]) -> str:
        ch = m.group()
        return "\ufffd" if ch not in keep and _invisible(ch) else ch

    return _MAYBE_INVISIBLE.sub(show, text)


# The characters worth a look: DOT's own escapes, ASCII controls, and anything not ASCII.
_MAYBE_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\U0010ffff]")
_DOT_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f-\U0010ffff]')
_DOT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\t"}


def _dot_escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _DOT_ESCAPES:
        return _DOT_ESCAPES[ch]
    if not _invisible(ch):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _dot_str(text: str) -> str:
    """``text`` as a DOT quoted string, one to one (two ids never quote the same).

    Backslash, quote, newline and carriage return are escaped; other invisible characters
    (controls, bidi overrides, lone surrogates from undecodable file names) become
    ``\\xHH`` or ``\\uHHHH`` text, unambiguous since a real backslash is doubled. In a label
    Graphviz shows ``\\\\`` as a backslash and ``\\n`` as a line break; labels go through
    :func:`_dot_label`.
    """
    return '"' + _DOT_SPECIAL.sub(_dot_escape, text) + '"'


def _dot_label(text: str) -> str:
    """A DOT quoted label: as :func:`_dot_str`, invisible characters shown as U+FFFD."""
    return _dot_str(_visible(text, "\t\n"))


def _dot_attrs(attrs: Mapping[str, str]) -> str:
    return "[" + ", ".join(f"{k}={_dot_label(v)}" for k, v in attrs.items()) + "]"


def _node_tooltip(n: str, d: Mapping[str, Any]) -> str:
    parts = [f"{d.get('kind', '')}: {n}"]
    if d.get("line"):
        parts.append(f"line {d['line']}")
    if d.get("declared_by"):
        parts.append(f"declared by {d['declared_by']}")
    elif d.get("kind") == "artifact" and not d.get("declared", False):
        parts.append("undeclared")
    if d.get("unstable"):
        parts.append(f"unstable: {d['unstable']}")
    return "\n".join(parts)


def to_dot(g: nx.MultiDiGraph) -> str:
    """Graphviz DOT text of ``g``: ``digraph pipeline { rankdir=LR; ... }``.

    Every id, label and attribute value is a quoted, escaped string, so paths with quotes,
    backslashes, newlines, markup or any unicode cannot break the file or collide.
    """
    jungle_nodes, jungle_pairs = _jungle_marks(g)
    lines = [
        "digraph pipeline {",
        "  rankdir=LR;",
        f"  label={_dot_label(str(g.graph.get('root', '')))};",
        '  labelloc="t";',
        '  fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize="10"];',
        '  edge [fontname="Helvetica", fontsize="9"];',
    ]
    for n, d in _sorted_nodes(g):
        kind = str(d.get("kind", ""))
        attrs = {"label": str(d.get("label", n)), "shape": _DOT_SHAPES.get(kind, "ellipse")}
        if kind == "artifact" and _is_remote(d):
            attrs["shape"] = "note"
        styles = ["rounded"] if kind == "module" else []
        if _undeclared_artifact(d):
            styles.append("dashed")
            attrs["color"] = attrs["fontcolor"] = _UNDECLARED
        elif d.get("declared", False):
            attrs["color"] = _DECLARED
        if kind == "artifact" and d.get("unstable"):
            styles.append("filled")
            attrs["fillcolor"] = _UNSTABLE_FILL
        if n in jungle_nodes:
            styles.append("bold")
            attrs["penwidth"] = "2.5"
        if styles:
            attrs["style"] = ",".join(styles)
        attrs["tooltip"] = _node_tooltip(n, d)
        lines.append(f"  {_dot_str(n)} {_dot_attrs(attrs)};")
    for (u, v), e in _sorted_edges(g):
        kind = e["kind"]
        label = f"runs ({e['via']})" if kind == "runs" and e.get("via") else kind
        attrs = {"label": label}
        styles = []
        if kind == "imports":
            styles.append("dotted")
            attrs["color"] = _DECLARED
        elif _undeclared_read(e):
            styles.append("dashed")
            attrs["color"] = attrs["fontcolor"] = _UNDECLARED
        elif e.get("declared", False):
            attrs["color"] = _DECLARED
        if (str(u), str(v)) in jungle_pairs:
            styles.append("bold")
            attrs["penwidth"] = "2.5"
        if styles:
            attrs["style"] = ",".join(styles)
        tip = [f"{kind}: {e['source']} -> {e['target']}"]
        if e.get("api"):
            tip.append(str(e["api"]))
        if e.get("line"):
            tip.append(f"line {e['line']}")
        attrs["tooltip"] = "\n".join(tip)
        lines.append(f"  {_dot_str(e['source'])} -> {_dot_str(e['target'])} {_dot_attrs(attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Mermaid

# Characters left as they are in a Mermaid label; everything else is an entity (#NNN;).
_MERMAID_PLAIN = frozenset(" ._-/:@+=,~*!$'()[]{}?^|")
_MERMAID_NAMED = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "#": "#35;"}


def _mermaid_label(text: str) -> str:
    """``text`` for a quoted Mermaid label: no raw quote, markup, backtick, ``#`` or ``;``.

    Letters and digits (any script), other visible unicode and a few harmless punctuation
    marks stay; a line break shows as ``↵``, other invisible characters (controls, bidi
    overrides) as U+FFFD; the rest of ASCII becomes entity codes (``#quot;``, ``#92;``).
    """
    out = []
    for ch in _visible(text, "\n"):
        if ch.isalnum() or ch in _MERMAID_PLAIN or ord(ch) >= 0x80:
            out.append(ch)
        elif ch in _MERMAID_NAMED:
            out.append(_MERMAID_NAMED[ch])
        elif ch == "\n":
            out.append("↵")
        else:
            out.append(f"#{ord(ch)};")
    return '"' + "".join(out) + '"'


def _mermaid_shape(d: Mapping[str, Any], label: str) -> str:
    kind = d.get("kind")
    if kind == "artifact":
        return f">{label}]" if _is_remote(d) else f"[({label})]"
    if kind == "runner":
        return f"[[{label}]]"
    if kind == "module":
        return f"({label})"
    return f"[{label}]"


def to_mermaid(g: nx.MultiDiGraph) -> str:
    """A Mermaid ``flowchart LR`` of ``g``.

    Node ids are ``n0``, ``n1``, ... in order of the graph's sorted ids; labels carry the real
    text, entity-encoded. Undeclared, declared, unstable and jungle nodes get a ``classDef``;
    edges are labelled by kind, jungle edges thick, undeclared reads dotted and red.

    Mermaid itself refuses diagrams over 50,000 characters or 500 edges unless the page
    embedding it raises ``maxTextSize``/``maxEdges`` (a few hundred nodes and edges): past
    that, DOT is the format to use.
    """
    jungle_nodes, jungle_pairs = _jungle_marks(g)
    nodes = _sorted_nodes(g)
    ids = {n: f"n{i}" for i, (n, _) in enumerate(nodes)}
    lines = ["flowchart LR", f"  %% mldebt pipeline of {_mermaid_label(str(g.graph.get('root', '')))}"]
    classes: dict[str, list[str]] = {"undeclared": [], "declared": [], "unstable": [], "jungle": []}
    for n, d in nodes:
        nid = ids[n]
        lines.append(f"  {nid}{_mermaid_shape(d, _mermaid_label(str(d.get('label', n))))}")
        if _undeclared_artifact(d):
            classes["undeclared"].append(nid)
        elif d.get("declared", False):
            classes["declared"].append(nid)
        if d.get("kind") == "artifact" and d.get("unstable"):
            classes["unstable"].append(nid)
        if n in jungle_nodes:
            classes["jungle"].append(nid)
    red: list[str] = []
    grey: list[str] = []
    for i, ((u, v), e) in enumerate(_sorted_edges(g)):
        kind = e["kind"]
        label = kind if kind.isalpha() and kind.isascii() else _mermaid_label(kind)
        if (str(u), str(v)) in jungle_pairs:
            arrow = "==>"
        elif _undeclared_read(e) or kind == "imports":
            arrow = "-.->"
        else:
            arrow = "-->"
        if _undeclared_read(e):
            red.append(str(i))
        elif e.get("declared", False) or kind == "imports":
            grey.append(str(i))
        lines.append(f"  {ids[str(u)]} {arrow}|{label}| {ids[str(v)]}")
    lines += [
        f"  classDef undeclared stroke:{_UNDECLARED},color:{_UNDECLARED},stroke-dasharray:5 5",
        f"  classDef declared stroke:{_DECLARED}",
        f"  classDef unstable fill:{_UNSTABLE_FILL}",
        "  classDef jungle stroke-width:3px",
    ]
    for name, members in classes.items():
        if members:
            lines.append(f"  class {','.join(members)} {name}")
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:{_UNDECLARED},color:{_UNDECLARED}")
    if grey:
        lines.append(f"  linkStyle {','.join(grey)} stroke:{_DECLARED}")
    return "\n".join(lines) + "\n"
