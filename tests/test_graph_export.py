"""Exporting the pipeline graph: JSON, DOT and Mermaid from hand-built graphs.

The graphs follow the schema the project phase builds (see ``mldebt.project.export``): a
3-step jungle glued by a shell script, a declared DVC pipeline, and a hostile one whose paths
hold quotes, newlines, backslashes, markup and unicode.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess
import time
import unicodedata
from collections import Counter

import networkx as nx
import pytest

from mldebt.project.export import (
    FORMATS,
    pipeline_view,
    render,
    to_dot,
    to_json,
    to_mermaid,
)

# ---------------------------------------------------------------------------------------------
# Graphs


def step(path: str, *, entry: bool = False, declared: bool = False, line: int = 0) -> tuple[str, dict]:
    return path, {"kind": "step", "label": path, "line": line, "declared": declared, "entry": entry}


def module(path: str) -> tuple[str, dict]:
    return path, {"kind": "module", "label": path, "line": 0, "declared": False, "entry": False}


def runner(path: str, *, declared: bool) -> tuple[str, dict]:
    return path, {"kind": "runner", "label": path, "declared": declared}


def artifact(key: str, *, declared: bool = False, remote: bool = False, unstable: str = "",
             declared_by: str = "") -> tuple[str, dict]:
    return "data:" + key, {"kind": "artifact", "label": key, "declared": declared, "remote": remote,
                           "unstable": unstable, "declared_by": declared_by}


def build(nodes, edges, *, root: str, jungles=(), seed: int | None = None) -> nx.MultiDiGraph:
    """A graph of ``nodes`` and ``edges``, inserted in an order shuffled by ``seed``."""
    nodes, edges, jungles = list(nodes), list(edges), [dict(j) for j in jungles]
    if seed is not None:
        rnd = random.Random(seed)
        rnd.shuffle(nodes)
        rnd.shuffle(edges)
        rnd.shuffle(jungles)
    g = nx.MultiDiGraph(root=root)
    if jungles:
        g.graph["jungles"] = jungles
    for n, d in nodes:
        g.add_node(n, **d)
    for u, v, d in edges:
        g.add_edge(u, v, **d)
    return g


JUNGLE_CHAIN = ["src/prep.py", "data:data/clean.csv", "src/features.py", "data:data/feat.parquet", "src/train.py"]


def jungle_graph(seed: int | None = None, *, chain=JUNGLE_CHAIN) -> nx.MultiDiGraph:
    nodes = [
        runner("run_all.sh", declared=False),
        step("src/prep.py", entry=True), step("src/features.py", entry=True), step("src/train.py", entry=True),
        module("src/utils.py"), module("src/loaders.py"),
        artifact("data/raw.csv"), artifact("data/clean.csv"), artifact("data/feat.parquet"),
        artifact("models/model_*.pkl", unstable="path built from a timestamp"),
    ]
    edges = [
        ("run_all.sh", "src/prep.py", {"kind": "runs", "line": 2, "via": "shell"}),
        ("run_all.sh", "src/features.py", {"kind": "runs", "line": 3, "via": "shell"}),
        ("run_all.sh", "src/train.py", {"kind": "runs", "line": 4, "via": "shell"}),
        ("data:data/raw.csv", "src/loaders.py", {"kind": "reads", "line": 5, "api": "pandas.read_csv", "declared": False}),
        ("data:data/raw.csv", "src/prep.py", {"kind": "reads", "line": 9, "api": "pandas.read_csv", "declared": False}),
        ("data:data/raw.csv", "src/prep.py", {"kind": "reads", "line": 3, "api": "pandas.read_csv", "declared": False}),
        ("src/prep.py", "data:data/clean.csv", {"kind": "writes", "line": 20, "api": "pandas.DataFrame.to_csv"}),
        ("data:data/clean.csv", "src/features.py", {"kind": "reads", "line": 4, "api": "pandas.read_csv", "declared": False}),
        ("src/features.py", "data:data/feat.parquet", {"kind": "writes", "line": 30, "api": "pandas.DataFrame.to_parquet"}),
        ("data:data/feat.parquet", "src/train.py", {"kind": "reads", "line": 6, "api": "pandas.read_parquet", "declared": False}),
        ("src/train.py", "data:models/model_*.pkl", {"kind": "writes", "line": 50, "api": "joblib.dump"}),
        ("src/prep.py", "src/utils.py", {"kind": "imports", "line": 1}),
        ("src/features.py", "src/loaders.py", {"kind": "imports", "line": 1}),
        ("src/loaders.py", "src/utils.py", {"kind": "imports", "line": 2}),
    ]
    return build(nodes, edges, root="churn", seed=seed,
                 jungles=[{"entry": "run_all.sh", "chain": list(chain), "cycle": False}])


def dvc_graph() -> nx.MultiDiGraph:
    nodes = [
        runner("dvc.yaml", declared=True),
        step("prepare.py", declared=True), step("train.py", declared=True),
        artifact("data/raw.csv", declared=True, declared_by="dvc.yaml:4"),
        artifact("data/prepared.csv", declared=True, declared_by="dvc.yaml:6"),
        artifact("model.pkl", declared=True, declared_by="dvc.yaml:12"),
    ]
    edges = [
        ("dvc.yaml", "prepare.py", {"kind": "runs", "line": 3, "via": "dvc"}),
        ("dvc.yaml", "train.py", {"kind": "runs", "line": 9, "via": "dvc"}),
        ("data:data/raw.csv", "prepare.py", {"kind": "reads", "line": 8, "api": "pandas.read_csv", "declared": True}),
        ("prepare.py", "data:data/prepared.csv", {"kind": "writes", "line": 15, "api": "pandas.DataFrame.to_csv"}),
        ("data:data/prepared.csv", "train.py", {"kind": "reads", "line": 7, "api": "pandas.read_csv", "declared": True}),
        ("train.py", "data:model.pkl", {"kind": "writes", "line": 40, "api": "pickle.dump"}),
    ]
    return build(nodes, edges, root="dvc-demo")


QUOTE = 'src/say "hi".py'
NEWLINE = "src/new\nline.py"
LITERAL_BACKSLASH_N = "src/new\\nline.py"  # must not collide with NEWLINE in DOT
SCRIPT = "src/</script><script>alert(1)</script>.py"
UNICODE = "src/ünïcødé ✓ 数据.py"
SPACES = "my dir/step one.py"
BACKSLASH_QUOTE = 'win\\"odd\\.py'
CONTROL = "src/bell\x07\ttab.py"
BIDI = "src/evil\u202eyp.txt"
UNDECODABLE = "data/caf\udce9\u2028.csv"  # os.fsdecode of a Latin-1 name, and a line separator
REMOTE = 's3://bucket/"x" & <y>.parquet'
HOSTILE_ROOT = 'my "proj"\n</script>\\'


def hostile_graph(seed: int | None = None) -> nx.MultiDiGraph:
    nodes = [
        runner("run me.sh", declared=False),
        step(QUOTE, entry=True), step(NEWLINE), step(LITERAL_BACKSLASH_N), step(SCRIPT), step(UNICODE),
        step(SPACES), step(BACKSLASH_QUOTE), step(CONTROL), step(BIDI),
        artifact(REMOTE, remote=True), artifact('data/"q".csv'), artifact("data/part_*.csv", unstable="glob"),
        artifact("data/<b>x</b>.csv", declared=True, declared_by="dvc.yaml:1"),
        artifact(UNDECODABLE),
    ]
    edges = [
        ("run me.sh", QUOTE, {"kind": "runs", "line": 1, "via": "shell"}),
        ("run me.sh", NEWLINE, {"kind": "runs", "line": 2, "via": "shell"}),
        (QUOTE, SCRIPT, {"kind": "runs", "line": 3, "via": "subprocess"}),
        (SCRIPT, UNICODE, {"kind": "runs", "line": 4, "via": "os.system"}),
        ("data:" + REMOTE, QUOTE, {"kind": "reads", "line": 5, "api": "pandas.read_parquet", "declared": False}),
        (QUOTE, 'data:data/"q".csv', {"kind": "writes", "line": 6, "api": "pandas.DataFrame.to_csv"}),
        ('data:data/"q".csv', NEWLINE, {"kind": "reads", "line": 7, "api": 'open("x")', "declared": False}),
        ('data:data/"q".csv', LITERAL_BACKSLASH_N, {"kind": "reads", "line": 7, "api": "open", "declared": False}),
        (NEWLINE, "data:data/part_*.csv", {"kind": "writes", "line": 8, "api": "pandas.DataFrame.to_csv"}),
        ("data:data/part_*.csv", SPACES, {"kind": "reads", "line": 9, "api": "glob.glob", "declared": False}),
        ("data:data/<b>x</b>.csv", BACKSLASH_QUOTE, {"kind": "reads", "line": 1, "api": "np.load", "declared": True}),
        (CONTROL, "data:data/<b>x</b>.csv", {"kind": "writes", "line": 2, "api": "np.save"}),
        (BIDI, CONTROL, {"kind": "runs", "line": 3, "via": "%run"}),
        ("data:" + UNDECODABLE, BIDI, {"kind": "reads", "line": 1, "api": "open", "declared": False}),
    ]
    return build(nodes, edges, root=HOSTILE_ROOT, seed=seed,
                 jungles=[{"entry": "run me.sh", "chain": [QUOTE, 'data:data/"q".csv', NEWLINE], "cycle": False}])


def shown(text: str, *, keep: str) -> str:
    """``text`` with the invisible characters not in ``keep`` shown as U+FFFD, as labels show them."""
    return "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") and c not in keep else c
                   for c in text)


GRAPHS = {"jungle": jungle_graph, "dvc": lambda seed=None: dvc_graph(), "hostile": hostile_graph}


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_has_the_documented_fields_sorted():
    g = jungle_graph()
    text = to_json(g)
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert list(doc) == ["version", "root", "nodes", "edges", "jungles"]
    assert doc["version"] == 1 and doc["root"] == "churn"
    ids = [n["id"] for n in doc["nodes"]]
    assert ids == sorted(g.nodes) and len(ids) == g.number_of_nodes()
    for n in doc["nodes"]:
        assert list(n)[:3] == ["id", "kind", "label"]
        assert list(n)[3:] == sorted(list(n)[3:])
        assert {k: v for k, v in n.items() if k != "id"} == g.nodes[n["id"]]
    keys = [(e["source"], e["target"], e["kind"], e["line"]) for e in doc["edges"]]
    assert keys == sorted(keys) and len(keys) == g.number_of_edges()
    for e in doc["edges"]:
        assert list(e)[:3] == ["source", "target", "kind"]
        assert list(e)[3:] == sorted(list(e)[3:])
    raw = next(n for n in doc["nodes"] if n["id"] == "data:data/raw.csv")
    assert raw == {"id": "data:data/raw.csv", "kind": "artifact", "label": "data/raw.csv",
                   "declared": False, "declared_by": "", "remote": False, "unstable": ""}
    # Parallel edges each appear, ordered by line.
    prep_reads = [e["line"] for e in doc["edges"] if (e["source"], e["target"]) == ("data:data/raw.csv", "src/prep.py")]
    assert prep_reads == [3, 9]
    assert doc["jungles"] == [{"entry": "run_all.sh", "chain": JUNGLE_CHAIN, "cycle": False}]


def test_json_without_jungles_or_root():
    g = nx.MultiDiGraph()
    g.add_node("a.py", kind="step", label="a.py", line=0, declared=False, entry=True, tags={"b", "a"},
               span=(1, 2), score=float("nan"))
    doc = json.loads(to_json(g))
    assert doc["root"] == "" and doc["jungles"] == [] and doc["edges"] == []
    node = doc["nodes"][0]
    assert node["tags"] == ["a", "b"] and node["span"] == [1, 2] and node["score"] is None


@pytest.mark.parametrize("name", sorted(GRAPHS))
@pytest.mark.parametrize("fmt", ["json", "dot", "mermaid"])
def test_output_does_not_depend_on_insertion_order(name, fmt):
    exporter = {"json": to_json, "dot": to_dot, "mermaid": to_mermaid}[fmt]
    outputs = {exporter(GRAPHS[name](seed=seed)) for seed in (None, 1, 2, 3, 4)}
    assert len(outputs) == 1
    assert render(GRAPHS[name](seed=7), fmt) == render(GRAPHS[name](), fmt)


def test_hostile_json_round_trips():
    g = hostile_graph()
    text = to_json(g)
    text.encode("utf-8")  # a lone surrogate would not encode
    doc = json.loads(text)
    assert doc["root"] == HOSTILE_ROOT
    assert {n["id"] for n in doc["nodes"]} == set(g.nodes)
    assert Counter((e["source"], e["target"]) for e in doc["edges"]) == Counter((u, v) for u, v in g.edges())
    assert doc["jungles"][0]["chain"] == [QUOTE, 'data:data/"q".csv', NEWLINE]


# ---------------------------------------------------------------------------------------------
# DOT: a small reader that follows Graphviz's lexer (in a quoted string only \" and \\ are
# escapes), enough to check the structure and get every id back.

_DOT_TOKEN = re.compile(r'\s+|//[^\n]*|"(?:[^"\\]|\\.)*"|->|[{}\[\];,=]|[A-Za-z_][A-Za-z0-9_.]*|-?[0-9.]+', re.DOTALL)


def dot_tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _DOT_TOKEN.match(text, pos)
        assert m, f"unexpected DOT text at {pos}: {text[pos:pos + 40]!r}"
        if not m.group().isspace() and not m.group().startswith("//"):
            out.append(m.group())
        pos = m.end()
    return out


def dot_unquote(tok: str) -> str:
    """The original string of one of our quoted DOT ids (the inverse of the exporter's escaping)."""
    assert tok.startswith('"') and tok.endswith('"'), tok
    body = tok[1:-1]
    assert not any(c != "\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in body), tok
    escapes = {"\\": "\\", '"': '"', "n": "\n", "r": "\r"}
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            width = {"x": 2, "u": 4, "U": 8}.get(nxt)
            if width:
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
                continue
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]], dict[str, str]]:
    """Nodes {id: attrs}, edges [(u, v, attrs)] and graph attributes of our DOT output."""
    toks = dot_tokens(text)
    assert toks[:3] == ["digraph", "pipeline", "{"] and toks[-1] == "}", toks[:3]
    i, nodes, edges, graph = 3, {}, [], {}

    def attr_list(i):
        attrs = {}
        assert toks[i] == "["
        i += 1
        while toks[i] != "]":
            key, eq, value = toks[i:i + 3]
            assert eq == "=" and re.fullmatch(r"[a-z]+", key), toks[i:i + 3]
            assert value.startswith('"'), f"unquoted attribute value {value!r}"
            attrs[key] = dot_unquote(value)
            i += 3
            if toks[i] == ",":
                i += 1
        return attrs, i + 1

    while toks[i] != "}":
        tok = toks[i]
        if tok in ("node", "edge", "graph"):
            _, i = attr_list(i + 1)
        elif not tok.startswith('"'):
            key, eq, value = toks[i:i + 3]
            assert eq == "=", toks[i:i + 3]
            graph[key] = dot_unquote(value) if value.startswith('"') else value
            i += 3
        elif toks[i + 1] == "->":
            assert toks[i + 2].startswith('"')
            attrs, i2 = attr_list(i + 3)
            edges.append((dot_unquote(tok), dot_unquote(toks[i + 2]), attrs))
            i = i2
        else:
            attrs, i = attr_list(i + 1)
            nid = dot_unquote(tok)
            assert nid not in nodes, f"node {nid!r} declared twice"
            nodes[nid] = attrs
        assert toks[i] == ";", toks[i - 2:i + 2]
        i += 1
    assert i == len(toks) - 1
    return nodes, edges, graph


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_dot_structure_holds_every_node_and_edge(name):
    g = GRAPHS[name]()
    text = to_dot(g)
    assert text.startswith("digraph pipeline {\n  rankdir=LR;\n") and text.endswith("}\n")
    nodes, edges, graph = parse_dot(text)
    assert graph["rankdir"] == "LR" and graph["label"] == g.graph["root"]
    assert set(nodes) == set(g.nodes)
    assert Counter((u, v) for u, v, _ in edges) == Counter((u, v) for u, v in g.edges())
    assert list(nodes) == sorted(nodes)
    for n, attrs in nodes.items():
        assert attrs["label"] == shown(g.nodes[n]["label"], keep="\t\n")


def test_dot_shapes_and_styles_for_a_jungle():
    nodes, edges, _ = parse_dot(to_dot(jungle_graph()))
    assert nodes["src/prep.py"]["shape"] == "box"
    assert nodes["run_all.sh"]["shape"] == "component"
    assert nodes["data:data/raw.csv"]["shape"] == "cylinder"
    assert "rounded" in nodes["src/utils.py"]["style"]
    raw = nodes["data:data/raw.csv"]
    assert "dashed" in raw["style"] and raw["color"] == "#d33c3c"
    assert "filled" in nodes["data:models/model_*.pkl"]["style"]
    assert "path built from a timestamp" in nodes["data:models/model_*.pkl"]["tooltip"]
    bold_nodes = {n for n, a in nodes.items() if "bold" in a.get("style", "")}
    assert bold_nodes == set(JUNGLE_CHAIN) | {"run_all.sh"}
    bold_edges = {(u, v) for u, v, a in edges if "bold" in a.get("style", "")}
    assert bold_edges == set(itertools.pairwise(JUNGLE_CHAIN))
    undeclared_reads = [(u, v) for u, v, a in edges if a["label"] == "reads"]
    assert undeclared_reads and all(
        "dashed" in a["style"] and a["color"] == "#d33c3c" for _, _, a in edges if a["label"] == "reads")
    assert {a["label"] for _, _, a in edges} == {"reads", "writes", "runs (shell)", "imports"}


def test_a_chain_of_steps_only_is_drawn_through_its_artifacts():
    assert to_dot(jungle_graph(chain=["src/prep.py", "src/features.py", "src/train.py"])) == to_dot(jungle_graph())


def test_a_cycle_closes_its_chain():
    nodes = [step("a.py"), step("b.py"), artifact("x.csv"), artifact("y.csv")]
    edges = [
        ("a.py", "data:x.csv", {"kind": "writes", "line": 1, "api": "open"}),
        ("data:x.csv", "b.py", {"kind": "reads", "line": 1, "api": "open", "declared": False}),
        ("b.py", "data:y.csv", {"kind": "writes", "line": 2, "api": "open"}),
        ("data:y.csv", "a.py", {"kind": "reads", "line": 2, "api": "open", "declared": False}),
    ]
    g = build(nodes, edges, root="r", jungles=[{"entry": "a.py", "chain": ["a.py", "b.py"], "cycle": True}])
    _, dot_edges, _ = parse_dot(to_dot(g))
    assert all("bold" in a["style"] for _, _, a in dot_edges)
    assert all(line.startswith("  n") and "==>" in line for line in to_mermaid(g).splitlines() if "|" in line)


def test_declared_dvc_pipeline_is_grey_not_red():
    nodes, edges, _ = parse_dot(to_dot(dvc_graph()))
    assert "#d33c3c" not in to_dot(dvc_graph())
    assert all(a.get("color") == "#888888" for a in nodes.values())
    assert all(a["color"] == "#888888" for _, _, a in edges if a["label"] == "reads")
    assert "dvc.yaml:12" in nodes["data:model.pkl"]["tooltip"]
    assert {a["label"] for _, _, a in edges} == {"reads", "writes", "runs (dvc)"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_output_is_utf8_text_without_invisible_characters(fmt):
    text = render(hostile_graph(), fmt)
    text.encode("utf-8")
    assert not any(c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in text
                   if not (fmt == "dot" and c == "\t"))


def test_hostile_dot_ids_are_escaped_and_distinct():
    text = to_dot(hostile_graph())
    assert "\x07" not in text and "\r" not in text
    assert text.count("\n") == len(text.splitlines())  # no id or label breaks a line
    nodes, _, graph = parse_dot(text)
    assert {NEWLINE, LITERAL_BACKSLASH_N, BACKSLASH_QUOTE, CONTROL, BIDI, "data:" + UNDECODABLE} <= set(nodes)
    assert nodes[BIDI]["label"] == "src/evil\ufffdyp.txt"
    assert graph["label"] == HOSTILE_ROOT
    assert nodes["data:" + REMOTE]["shape"] == "note"
    assert nodes[UNICODE]["label"] == UNICODE


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graphviz_accepts_the_dot(name):
    proc = subprocess.run(["dot", "-Tsvg"], input=to_dot(GRAPHS[name]()), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "<script>" not in proc.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graphviz_reads_every_node_and_edge_back(name):
    proc = subprocess.run(["dot", "-Tjson0"], input=to_dot(GRAPHS[name]()), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    parsed = json.loads(proc.stdout)
    g = GRAPHS[name]()
    names = [o["name"] for o in parsed.get("objects", []) if "nodes" not in o]
    assert len(set(names)) == len(names) == g.number_of_nodes()
    if name != "hostile":  # there invisible characters are escaped in ids (tested above)
        assert sorted(names) == sorted(g.nodes)
    assert len(parsed.get("edges", [])) == g.number_of_edges()


# ---------------------------------------------------------------------------------------------
# Mermaid

_NODE_LINE = re.compile(r'^  (\w+)(\[\(|\[\[|\[|\(|>)(".*")(\)\]|\]\]|\]|\))$')
_EDGE_LINE = re.compile(r"^  (\w+) (-->|==>|-\.->)\|(\w+)\| (\w+)$")


def mermaid_decode(label: str) -> str:
    named = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}
    body = label[1:-1].replace("↵", "\n")
    return re.sub(r"#(\w+);", lambda m: named.get(m.group(1)) or chr(int(m.group(1))), body)


def parse_mermaid(text: str):
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges, other = {}, [], []
    for line in lines[1:]:
        if m := _NODE_LINE.match(line):
            nodes[m.group(1)] = (m.group(2), m.group(3))
        elif m := _EDGE_LINE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3), m.group(4)))
        else:
            other.append(line)
    return nodes, edges, other


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_mermaid_ids_are_safe_and_labels_escaped(name):
    g = GRAPHS[name]()
    text = to_mermaid(g)
    nodes, edges, other = parse_mermaid(text)
    assert list(nodes) == [f"n{i}" for i in range(g.number_of_nodes())]
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", nid) for nid in nodes)
    for nid, (_, label) in nodes.items():
        body = re.sub(r"#\w+;", "", label[1:-1])  # what is left once entity codes are out
        assert not set(body) & set('"<>`#;&\\\n\r\t\x07\u202e\u2028\udce9'), label
    # n0, n1, ... follow the sorted ids, and each label decodes back to its node's label.
    for nid, n in zip(nodes, sorted(g.nodes)):
        want = g.nodes[n]["label"]
        assert mermaid_decode(nodes[nid][1]) == shown(want, keep="\n")
    assert len(edges) == g.number_of_edges()
    assert {e[2] for e in edges} <= {"reads", "writes", "runs", "imports"}
    assert all(u in nodes and v in nodes for u, _, _, v in edges)
    for line in other:
        assert line.strip().startswith(("%%", "classDef ", "class ", "linkStyle ")), line
    assert "<script" not in text.lower() and "</script" not in text.lower()


def test_mermaid_shapes_classes_and_links_for_a_jungle():
    g = jungle_graph()
    ids = {n: f"n{i}" for i, n in enumerate(sorted(g.nodes))}
    nodes, edges, other = parse_mermaid(to_mermaid(g))
    assert nodes[ids["src/prep.py"]][0] == "["
    assert nodes[ids["run_all.sh"]][0] == "[["
    assert nodes[ids["data:data/raw.csv"]][0] == "[("
    assert nodes[ids["src/utils.py"]][0] == "("
    classes = {line.split()[2]: set(line.split()[1].split(",")) for line in other if line.startswith("  class ")}
    artifacts = {ids[n] for n in g if n.startswith("data:")}
    assert classes["undeclared"] == artifacts
    assert classes["unstable"] == {ids["data:models/model_*.pkl"]}
    assert classes["jungle"] == {ids[n] for n in JUNGLE_CHAIN} | {ids["run_all.sh"]}
    assert any(line.startswith("  classDef undeclared ") for line in other)
    thick = {(u, v) for u, arrow, _, v in edges if arrow == "==>"}
    assert thick == {(ids[a], ids[b]) for a, b in itertools.pairwise(JUNGLE_CHAIN)}
    (red,) = [line for line in other if line.startswith("  linkStyle ") and "#d33c3c" in line]
    red_idx = [int(i) for i in red.split()[1].split(",")]
    assert [edges[i][2] for i in red_idx] == ["reads"] * len(red_idx)
    assert len(red_idx) == sum(1 for _, _, d in g.edges(data=True) if d["kind"] == "reads")


def test_mermaid_remote_artifacts_and_hostile_root():
    text = to_mermaid(hostile_graph())
    nodes, _, other = parse_mermaid(text)
    remote = sorted(hostile_graph().nodes).index("data:" + REMOTE)
    assert nodes[f"n{remote}"][0] == ">"
    comment = [line for line in other if line.startswith("  %%")]
    assert len(comment) == 1 and "<" not in comment[0]


def test_nodes_without_attributes_still_export():
    """networkx adds a bare node for an edge to an id never added (a script a Makefile runs)."""
    g = build([runner("Makefile", declared=True)], [("Makefile", "scripts/fit.sh", {"kind": "runs", "line": 3, "via": "make"})],
              root="r", jungles=[{"entry": "gone.py", "chain": ["gone.py", "data:x"], "cycle": True}])
    doc = json.loads(render(g, "json"))
    assert doc["nodes"][1] == {"id": "scripts/fit.sh", "kind": "", "label": "scripts/fit.sh"}
    nodes, edges, _ = parse_dot(render(g, "dot"))
    assert set(nodes) == {"Makefile", "scripts/fit.sh"} and len(edges) == 1
    mm_nodes, mm_edges, _ = parse_mermaid(render(g, "mermaid"))
    assert len(mm_nodes) == 2 and mm_edges == [("n0", "-->", "runs", "n1")]


# ---------------------------------------------------------------------------------------------
# The view and render


def test_pipeline_view_drops_imports_unless_asked():
    g = jungle_graph()
    before = to_json(g)
    view = pipeline_view(g)
    assert "src/utils.py" not in view  # a module touching no data
    assert "src/loaders.py" in view  # a module reading data stays
    assert not any(d["kind"] == "imports" for _, _, d in view.edges(data=True))
    assert view.graph["root"] == "churn" and view.graph["jungles"] == g.graph["jungles"]
    assert view.number_of_edges() == g.number_of_edges() - 3
    full = pipeline_view(g, imports=True)
    assert set(full) == set(g) and full.number_of_edges() == g.number_of_edges()
    assert to_json(full) == before
    assert to_json(g) == before  # the graph given is left alone
    view.graph["jungles"][0]["chain"].append("x")
    assert g.graph["jungles"][0]["chain"] == JUNGLE_CHAIN


def test_pipeline_view_keeps_modules_on_a_jungle_or_running_steps():
    g = jungle_graph()
    g.add_node("src/launch.py", kind="module", label="src/launch.py", line=0, declared=False, entry=False)
    g.add_edge("src/launch.py", "src/train.py", kind="runs", line=3, via="subprocess")
    g.graph["jungles"].append({"entry": "src/utils.py", "chain": ["src/utils.py"], "cycle": False})
    view = pipeline_view(g)
    assert "src/launch.py" in view and "src/utils.py" in view
    assert not any(d["kind"] == "imports" for _, _, d in view.edges(data=True))


def test_render_applies_the_view_and_rejects_unknown_formats():
    g = jungle_graph()
    assert FORMATS == ("dot", "json", "mermaid")
    assert render(g, "json") == to_json(pipeline_view(g))
    assert render(g, "dot", imports=True) == to_dot(g)
    assert "src/utils.py" not in render(g, "mermaid")
    assert "src/utils.py" in render(g, "mermaid", imports=True)
    for bad in ("svg", "DOT", "", "json "):
        with pytest.raises(ValueError, match="unknown graph format"):
            render(g, bad)


def test_large_graphs_export_quickly():
    n = 2000
    nodes = [step(f"src/step_{i:04d}.py") for i in range(n)] + [artifact(f"data/d_{i:04d}.csv") for i in range(n)]
    edges = []
    for i in range(n):
        edges.append((f"src/step_{i:04d}.py", f"data:data/d_{i:04d}.csv", {"kind": "writes", "line": 1, "api": "open"}))
        if i + 1 < n:
            edges.append((f"data:data/d_{i:04d}.csv", f"src/step_{i + 1:04d}.py",
                          {"kind": "reads", "line": 2, "api": "open", "declared": False}))
    chain = [f"src/step_{i:04d}.py" for i in range(n)]
    g = build(nodes, edges, root="big", jungles=[{"entry": chain[0], "chain": chain, "cycle": False}])
    start = time.perf_counter()
    outputs = [render(g, fmt) for fmt in FORMATS]
    assert time.perf_counter() - start < 10
    doc = json.loads(outputs[1])
    assert len(doc["nodes"]) == 2 * n and len(doc["edges"]) == 2 * n - 1
    assert outputs[2].count("==>") == 2 * n - 2
