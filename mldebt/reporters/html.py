"""A self-contained HTML debt report: one file, no network, readable without JavaScript.

``render(report)`` gives one page for one scan; ``render_merged(reports, generated)`` one
overview of several repositories (``mldebt merge``). Templates, CSS and JS live in
``mldebt/reporters/templates`` and are inlined at render time.

Everything that comes from the scanned project (source lines, file names, messages, rule
docs) is untrusted: it goes through jinja2's autoescape, rule docs are escaped *before* the
little Markdown converter below adds its tags, and the page's JS reads its data from the
pre-rendered DOM (``data-*`` attributes, ``textContent``), never from ``innerHTML``.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import networkx as nx
from markupsafe import Markup, escape

from mldebt.model import LONE_SURROGATE, SMELLS, Finding, Report, Severity, Status

# At most this many findings are pre-rendered (with their details) on one page; the rest are
# counted and left to the JSON/SARIF report. Measured on 2 shared cores (synthetic findings with
# 7 context lines; render / size / headless Chromium until the script runs / filter / sort):
#   1k: 0.26 s, 1.7 MB, 0.9 s, 28 ms, 150 ms     2k: 0.41 s, 3.4 MB, 0.85 s, 17 ms, 110 ms
#   5k: 0.99 s, 8.5 MB, 2.8 s, 28 ms, 320 ms    20k: 5.2 s, 34 MB, 23.6 s, 84 ms, 1.1 s
MAX_FINDINGS = 2000
# Beyond this many nodes the pipeline graph is reduced (artifacts by folder, then the jungle
# and undeclared part only).
MAX_GRAPH_NODES = 60
MINUTES_PER_LINE = 30  # SQALE: development cost of one line of code
HOURS_PER_DAY = 8
RATINGS = (("A", 0.05), ("B", 0.10), ("C", 0.20), ("D", 0.50))  # E above

_SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)


# ---------------------------------------------------------------------------------------------
# Debt arithmetic


def duration(minutes: int) -> str:
    """Remediation time with an 8-hour day: 45m, 3h 20m, 2d 4h."""
    hours, mins = divmod(max(0, int(minutes)), 60)
    if hours >= HOURS_PER_DAY:
        days, hours = divmod(hours, HOURS_PER_DAY)
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def debt_ratio(debt_minutes: int, lines: int, minutes_per_line: float = MINUTES_PER_LINE) -> float | None:
    """SQALE debt ratio: remediation cost / development cost (lines x minutes per line)."""
    cost = lines * minutes_per_line
    return debt_minutes / cost if cost > 0 else None


def rating(ratio: float | None) -> str:
    """SQALE rating: A <= 5 %, B <= 10 %, C <= 20 %, D <= 50 %, E above ("-" when unknown)."""
    if ratio is None:
        return "-"
    for letter, bound in RATINGS:
        if ratio <= bound:
            return letter
    return "E"


# ---------------------------------------------------------------------------------------------
# Minimal, safe Markdown (rule docs): escape first, then add our own tags


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")


def _inline(text: str) -> str:
    out = str(escape(text))
    out = _INLINE_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", out)


def markdown(text: str) -> Markup:
    """Headings, fenced code, `code`, **bold**, lists and paragraphs; everything else text.

    Every piece of input goes through ``escape`` before any tag is added around it, so the
    result is safe whatever the input holds."""
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()
        if items:
            out.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            lang = stripped[3:].strip()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            cls = f' class="lang-{escape(re.sub(r"[^A-Za-z0-9_-]", "", lang))}"' if lang else ""
            out.append(f"<pre><code{cls}>{escape(chr(10).join(code))}</code></pre>")
            i += 1
            continue
        heading = _HEADING.match(stripped)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = min(6, len(heading.group(1)) + 2)  # the page owns h1-h2
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if para or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1))  # type: ignore[union-attr]
        elif items and line[:1].isspace():
            items[-1] += " " + stripped  # a continued list item
        else:
            if items:
                flush()
            para.append(stripped)
        i += 1
    flush()
    return Markup("\n".join(out))


# ---------------------------------------------------------------------------------------------
# Findings: context lines with the flagged span


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    mark: bool


@dataclass(frozen=True, slots=True)
class ContextLine:
    number: int
    flagged: bool
    segments: tuple[Segment, ...]


def context_lines(f: Finding) -> list[ContextLine]:
    """The finding's context, the flagged span (line..end_line, columns at the ends) marked."""
    out = []
    for i, text in enumerate(f.context):
        n = f.context_start + i
        text = text.rstrip("\r\n")
        if not f.line <= n <= f.end_line:
            out.append(ContextLine(n, False, (Segment(text, False),)))
            continue
        start = f.column - 1 if n == f.line else 0
        end = f.end_column - 1 if n == f.end_line else len(text)
        start = max(0, min(start, len(text)))
        end = max(start, min(end, len(text)))
        if end == start:  # an empty or unknown span: mark the whole line
            start, end = 0, len(text)
        segs = [Segment(text[:start], False), Segment(text[start:end], True), Segment(text[end:], False)]
        out.append(ContextLine(n, True, tuple(s for s in segs if s.text)))
    return out


def _finding_rows(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    rows = []
    for i, f in enumerate(findings):
        where = f"{f.path}:{f.line}"
        line = f"line {f.line}"
        if f.cell is not None:  # the .ipynb file's own line, then the cell and the line in it
            where = f"{f.path}:{f.file_line or 1} (cell {f.cell}, line {f.cell_line})"
            line = f"cell {f.cell}, line {f.cell_line}"
        rows.append({
            "f": f,
            "index": i,
            "where": where,
            "line": line,
            "search": f"{f.path} {f.rule} {f.name} {f.smell} {f.message}".lower(),
            "sev": f.severity.value,
            "sev_rank": f.severity.rank,
            "status": f.status.value,
            "context": context_lines(f),
        })
    return rows


def _sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most urgent first: new before fixme before known, then severity, then place."""
    order = {Status.NEW: 0, Status.FIXME: 1, Status.KNOWN: 2}
    return sorted(findings, key=lambda f: (order[f.status], -f.severity.rank, f.path, f.line, f.column, f.rule))


# ---------------------------------------------------------------------------------------------
# Charts and offenders (drawn in the template from these numbers)


def _bars(counts: Mapping[str, int], order: Sequence[str] = ()) -> list[dict[str, Any]]:
    keys = [k for k in order if counts.get(k)] + sorted(k for k in counts if k not in order and counts[k])
    top = max((counts[k] for k in keys), default=0) or 1
    return [{"label": k, "value": counts[k], "frac": counts[k] / top} for k in keys]


def _offenders(findings: Sequence[Finding], key: Any, limit: int = 10) -> list[dict[str, Any]]:
    minutes: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for f in findings:
        k = key(f)
        minutes[k] += f.remediation_minutes
        count[k] += 1
    ranked = sorted(minutes, key=lambda k: (-minutes[k], -count[k], k))[:limit]
    top = max((minutes[k] for k in ranked), default=0) or 1
    return [{"name": k, "minutes": minutes[k], "time": duration(minutes[k]), "count": count[k],
             "frac": minutes[k] / top} for k in ranked]


# ---------------------------------------------------------------------------------------------
# The pipeline graph: a layered layout computed here, drawn as SVG in the template

_COL_W = 230
_ROW_H = 50
_NODE_W = 190
_NODE_H = 34
_LABEL_CHARS = 26


def _clip_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[-(limit - 1 - head):]


def _short(label: str, limit: int = _LABEL_CHARS) -> str:
    """A node label that fits ``limit`` characters without cutting a name mid-word: the
    basename, with as much of the folder as fits (``monitoring/…/pull_prod_scores.py``);
    remote URLs as host + basename; a trailing wildcard run (``raw/*/*``) is kept whole."""
    text = label.strip()
    remote = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/]*)(/.*)?$", text)
    if remote:
        host, rest = remote.group(1), (remote.group(2) or "").rstrip("/")
        base = posixpath.basename(rest)
        out = f"{host}/…/{base}" if base and rest.count("/") > 1 else f"{host}{rest}"
        return out if len(out) <= limit else _clip_middle(base or host, limit)
    if len(text) <= limit:
        return text
    trailing = text.endswith("/")
    parts = [p for p in text.split("/") if p]
    if not parts:
        return _clip_middle(text, limit)
    tail_n = 1
    while tail_n < len(parts) and "*" in parts[-tail_n] and "*" in parts[-tail_n - 1]:
        tail_n += 1  # keep "*/*" together
    if tail_n < len(parts) and parts[-tail_n].startswith("*"):
        tail_n += 1  # "raw/*.csv" reads better than "*.csv"
    tail = "/".join(parts[-tail_n:]) + ("/" if trailing else "")
    head = parts[:-tail_n]
    if head:
        for cand in (f"{head[0]}/…/{tail}", f"…/{tail}"):
            if len(cand) <= limit:
                return cand
    return _clip_middle(tail, limit)


def _acyclic(g: nx.DiGraph) -> tuple[nx.DiGraph, set[tuple[str, str]]]:
    """``g`` without its DFS back edges (cycles broken), and the edges removed."""
    dag = nx.DiGraph(g)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in sorted(g.nodes, key=lambda n: (g.in_degree(n) > 0, n)):
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(g.successors(root))))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(g.successors(nxt)))))
    dag.remove_edges_from(back)
    return dag, back


def _reduce(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]],
            jungle_nodes: set[str], bound: int) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], str]:
    """Fewer than ``bound`` nodes: artifacts by folder first, then only the jungle and
    undeclared part, then the first ``bound``. Returns the nodes, edges and a note."""
    total = len(nodes)
    if total <= bound:
        return nodes, edges, ""
    # 1. artifacts off the jungle chains, grouped by folder
    alias: dict[str, str] = {}
    grouped: dict[str, list[str]] = defaultdict(list)
    for n, d in nodes.items():
        if d.get("kind") == "artifact" and n not in jungle_nodes:
            folder = posixpath.dirname(str(d.get("label") or n).rstrip("/")) or "."
            grouped[folder].append(n)
    new_nodes = {n: d for n, d in nodes.items() if n not in {m for ms in grouped.values() for m in ms}}
    for folder, members in grouped.items():
        if len(members) == 1:
            new_nodes[members[0]] = nodes[members[0]]
            continue
        gid = f"folder:{folder}"
        new_nodes[gid] = {"id": gid, "kind": "artifact", "label": f"{folder}/ ({len(members)} files)",
                          "declared": all(nodes[m].get("declared") for m in members), "group": True}
        for m in members:
            alias[m] = gid
    new_edges = []
    seen = set()
    for e in edges:
        s, t = alias.get(e["source"], e["source"]), alias.get(e["target"], e["target"])
        key = (s, t, e.get("kind"), bool(e.get("declared", True)))
        if s != t and key not in seen:
            seen.add(key)
            new_edges.append({**e, "source": s, "target": t})
    nodes, edges = new_nodes, new_edges
    if len(nodes) > bound:
        # 2. only what matters: jungle chains and undeclared reads with their ends
        keep = set(jungle_nodes)
        for e in edges:
            if e.get("kind") == "reads" and not e.get("declared", True):
                keep.update((e["source"], e["target"]))
        keep |= {n for n, d in nodes.items() if d.get("kind") == "artifact" and not d.get("declared")
                 and len(keep) < bound}
        keep = set(sorted(keep, key=lambda n: (n not in jungle_nodes, n))[:bound])
        nodes = {n: d for n, d in nodes.items() if n in keep}
        edges = [e for e in edges if e["source"] in keep and e["target"] in keep]
    hidden = total - len(nodes)
    note = (f"{hidden} more nodes are folded into folders or left out: run `mldebt graph` for the whole graph."
            if hidden > 0 else "")
    return nodes, edges, note


def pipeline_layout(pipeline: Mapping[str, Any] | None, bound: int = MAX_GRAPH_NODES) -> dict[str, Any] | None:
    """Nodes and edges with coordinates (left to right by layer) from the graph JSON."""
    if not pipeline or not pipeline.get("nodes"):
        return None
    nodes = {str(n["id"]): dict(n) for n in pipeline.get("nodes", []) if isinstance(n, Mapping) and "id" in n}
    edges = [dict(e) for e in pipeline.get("edges", [])
             if isinstance(e, Mapping) and e.get("kind") != "imports"
             and str(e.get("source")) in nodes and str(e.get("target")) in nodes]
    for e in edges:
        e["source"], e["target"] = str(e["source"]), str(e["target"])
    jungles = [j for j in pipeline.get("jungles", []) or [] if isinstance(j, Mapping)]
    jungle_nodes = {str(n) for j in jungles for n in j.get("chain", [])}
    jungle_edges = {(str(a), str(b)) for j in jungles for a, b in zip(j.get("chain", []), j.get("chain", [])[1:])}
    total = len(nodes)
    nodes, edges, note = _reduce(nodes, edges, jungle_nodes, bound)

    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((e["source"], e["target"]) for e in edges)
    dag, back = _acyclic(g)
    layer: dict[str, int] = {}
    for n in nx.topological_sort(dag):
        layer[n] = max((layer[p] + 1 for p in dag.predecessors(n)), default=0)
    columns: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes):
        columns[layer[n]].append(n)
    # order the columns by the mean position of their neighbours (barycenter sweeps, both ways)
    pos = {n: float(i) for members in columns.values() for i, n in enumerate(members)}
    cols = sorted(columns)
    for sweep in range(4):
        forward = sweep % 2 == 0
        for col in (cols[1:] if forward else list(reversed(cols))[1:]):
            members = columns[col]
            near = dag.predecessors if forward else dag.successors

            def bary(n: str, near: Any = near) -> tuple[float, str]:
                ps = [pos[p] for p in near(n)]
                return (sum(ps) / len(ps) if ps else pos[n], n)

            members.sort(key=bary)
            for i, n in enumerate(members):
                pos[n] = float(i)
    height = max((len(m) for m in columns.values()), default=1)
    out_nodes = []
    xy: dict[str, tuple[float, float]] = {}
    for col, members in columns.items():
        offset = (height - len(members)) * _ROW_H / 2
        for i, n in enumerate(members):
            x, y = 20 + col * _COL_W, 20 + offset + i * _ROW_H
            xy[n] = (x, y)
            d = nodes[n]
            label = str(d.get("label") or n)
            kind = str(d.get("kind") or "")
            classes = ["node", f"kind-{kind or 'other'}"]
            if kind == "artifact" and not d.get("declared"):
                classes.append("undeclared")
            if d.get("unstable"):
                classes.append("unstable")
            if n in jungle_nodes:
                classes.append("jungle")
            if d.get("remote"):
                classes.append("remote")
            out_nodes.append({"id": n, "x": x, "y": y, "w": _NODE_W, "h": _NODE_H, "kind": kind,
                              "label": label, "short": _short(label), "cls": " ".join(classes),
                              "unstable": str(d.get("unstable") or "") if d.get("unstable") is not True else "unstable"})
    out_edges = []
    loops = False
    for e in edges:
        (x1, y1), (x2, y2) = xy[e["source"]], xy[e["target"]]
        sx, sy = x1 + _NODE_W, y1 + _NODE_H / 2
        tx, ty = x2, y2 + _NODE_H / 2
        if (e["source"], e["target"]) in back or tx <= sx:  # back edge: loop under the nodes
            drop = max(y1, y2) + _NODE_H + 18
            loops = True
            path = f"M{sx:.0f},{sy:.0f} C{sx + 60:.0f},{drop:.0f} {tx - 60:.0f},{drop:.0f} {tx:.0f},{ty:.0f}"
        else:
            mid = (sx + tx) / 2
            path = f"M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ty:.0f} {tx:.0f},{ty:.0f}"
        kind = str(e.get("kind") or "")
        classes = ["edge", f"edge-{kind or 'other'}"]
        if kind == "reads" and not e.get("declared", True):
            classes.append("undeclared")
        if (e["source"], e["target"]) in jungle_edges:
            classes.append("jungle")
        if (e["source"], e["target"]) in back:
            classes.append("back")
        out_edges.append({"d": path, "cls": " ".join(classes),
                          "title": f"{nodes[e['source']].get('label') or e['source']} {kind} "
                                   f"{nodes[e['target']].get('label') or e['target']}"})
    width = 40 + (max(columns, default=0) + 1) * _COL_W - (_COL_W - _NODE_W)
    bottom = max((y + _NODE_H for _, y in xy.values()), default=_NODE_H)
    if loops:
        bottom += 30  # room for the loops drawn under the nodes
    return {"nodes": out_nodes, "edges": out_edges, "width": width,
            "height": int(bottom + 20), "note": note, "total": total,
            "shown": len(out_nodes), "jungles": len(jungles),
            "undeclared": sum(1 for e in out_edges if "undeclared" in e["cls"])}


# ---------------------------------------------------------------------------------------------
# Formatting for the page


def percent(ratio: float | None) -> str:
    """12.3% at 1 % and above, two significant digits below (0.34%), "<0.1%" under 0.1 %."""
    if ratio is None:
        return "–"
    value = ratio * 100
    if value <= 0:
        return "0%"
    if value < 0.1:
        return "<0.1%"
    if value < 1:
        return f"{value:.2g}%"
    return f"{value:.1f}%"


def when(stamp: object) -> Markup:
    """An ISO timestamp as ``27 Nov 2026, 02:35 UTC`` in a ``<time datetime=...>``; anything
    that does not parse is shown as (escaped) text."""
    text = str(stamp or "")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return escape(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    shown = f"{moment.day} {moment:%b %Y, %H:%M} UTC"
    return Markup('<time datetime="{}">{}</time>').format(text, shown)


def path_breaks(path: object) -> Markup:
    """A path that may wrap only after "/": escaped segments joined with ``/<wbr>``."""
    return Markup("/<wbr>").join(escape(part) for part in str(path).split("/"))


# ---------------------------------------------------------------------------------------------
# Pages


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mldebt.reporters", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2", "html.j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = duration
    env.filters["markdown"] = markdown
    env.filters["inline"] = lambda text: Markup(_inline(str(text)))  # escaped first, then `code`
    env.filters["pct"] = percent
    env.filters["when"] = when
    env.filters["pathbreak"] = path_breaks
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> Markup:
    """Our own CSS/JS (package data, trusted) to inline in the page."""
    text = resources.files("mldebt.reporters").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    assert "</" + "style" not in text.lower() and "</" + "script" not in text.lower(), name
    return Markup(text)


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "repo"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


def _verdict(report: Report) -> tuple[bool, str]:
    n = len(report.gating)
    if n:
        return False, f"{n} new finding{'s' if n != 1 else ''} fail{'s' if n == 1 else ''} the gate"
    return True, "The gate passes"


def _context(report: Report, *, minutes_per_line: float, max_findings: int, key: str = "") -> dict[str, Any]:
    s = report.summary
    meta = report.meta
    lines = meta.lines if meta else 0
    ratio = debt_ratio(s.debt_minutes, lines, minutes_per_line)
    passed, verdict = _verdict(report)
    ordered = _sorted_findings(report.findings)
    shown = ordered[:max_findings]
    by_sev = {sev.value: s.by_severity.get(sev.value, 0) for sev in _SEVERITIES}
    smells = [k for k, v in sorted(s.by_smell.items(), key=lambda kv: (-kv[1], kv[0])) if v]
    rules = {r.code: r for r in report.rules}
    return {
        "key": key,
        "report": report,
        "meta": meta,
        "project": (meta.project if meta else "") or posixpath.basename(report.root.rstrip("/\\")) or report.root,
        "summary": s,
        "passed": passed,
        "verdict": verdict,
        "gating": len(report.gating),
        "debt_time": duration(s.debt_minutes),
        "debt_minutes": s.debt_minutes,
        "ratio": ratio,
        "rating": rating(ratio),
        "minutes_per_line": minutes_per_line,
        "lines": lines,
        "smell_bars": _bars(s.by_smell, SMELLS),
        "severity_bars": _bars(by_sev, [sev.value for sev in _SEVERITIES]),
        "top_files": _offenders(report.findings, lambda f: f.path),
        "top_dirs": _offenders(report.findings, lambda f: (posixpath.dirname(f.path) or ".") + "/"),
        "top_smell": smells[0] if smells else "",
        "graph": pipeline_layout(meta.pipeline if meta else None),
        "rows": _finding_rows(shown),
        "total_findings": len(ordered),
        "omitted": len(ordered) - len(shown),
        "rules": [rules[c] for c in sorted(rules)],
        "chip_smells": sorted({f.smell for f in ordered}),
        "chip_severities": [sev.value for sev in _SEVERITIES if any(f.severity is sev for f in ordered)],
        "chip_statuses": [st.value for st in Status if any(f.status is st for f in ordered)],
        "errors": report.errors,
    }


def _version(report: Report) -> str:
    return f"{report.tool_name} {report.tool_version}"


def render(report: Report, *, minutes_per_line: float = MINUTES_PER_LINE,
           max_findings: int = MAX_FINDINGS) -> str:
    """One self-contained HTML page for ``report``."""
    ctx = _context(report, minutes_per_line=minutes_per_line, max_findings=max_findings)
    template = _environment().get_template("report.html.j2")
    return _valid(template.render(r=ctx, tool=_version(report), css=_asset("report.css"), js=_asset("report.js"),
                                  max_findings=max_findings))


def render_merged(reports: Sequence[Report], generated: str, *, minutes_per_line: float = MINUTES_PER_LINE,
                  max_findings: int = MAX_FINDINGS) -> str:
    """One overview page of several repositories' reports, most debt first, each row opening
    that repository's findings table. ``max_findings`` is shared between the repositories."""
    used: set[str] = set()
    per_repo = max(100, max_findings // max(1, len(reports)))
    repos = []
    for report in reports:
        ctx = _context(report, minutes_per_line=minutes_per_line, max_findings=per_repo)
        ctx["key"] = _slug(ctx["project"], used)
        repos.append(ctx)
    repos.sort(key=lambda c: (-c["debt_minutes"], c["project"]))
    total_minutes = sum(c["debt_minutes"] for c in repos)
    total_lines = sum(c["lines"] for c in repos)
    ratio = debt_ratio(total_minutes, total_lines, minutes_per_line)
    totals = {
        "repos": len(repos),
        "failing": sum(1 for c in repos if not c["passed"]),
        "new": sum(c["summary"].new for c in repos),
        "known": sum(c["summary"].known for c in repos),
        "fixed": sum(c["summary"].fixed for c in repos),
        "fixme": sum(c["summary"].fixme for c in repos),
        "ignored": sum(c["summary"].ignored for c in repos),
        "findings": sum(c["total_findings"] for c in repos),
        "debt_time": duration(total_minutes),
        "ratio": ratio,
        "rating": rating(ratio),
        "lines": total_lines,
    }
    smell_totals: Counter[str] = Counter()
    for c in repos:
        smell_totals.update({k: v for k, v in c["summary"].by_smell.items() if v})
    top = max((c["debt_minutes"] for c in repos), default=0) or 1
    for c in repos:
        c["frac"] = c["debt_minutes"] / top
    tool = _version(reports[0]) if reports else "mldebt"
    template = _environment().get_template("merged.html.j2")
    return _valid(template.render(repos=repos, totals=totals, generated=generated, tool=tool,
                                  smell_bars=_bars(smell_totals, SMELLS), css=_asset("report.css"),
                                  js=_asset("report.js"), minutes_per_line=minutes_per_line))


def _valid(page: str) -> str:
    """The page as valid UTF-8: a file name whose bytes were not UTF-8 shows U+FFFD where the
    undecodable bytes were (writing them raw failed the whole report)."""
    return LONE_SURROGATE.sub("\ufffd", page)
