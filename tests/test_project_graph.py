"""The project graph: locations resolved statically, reads and writes, runs, jungles, export."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mldebt import parsing
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import snippet_project

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def keys(files, op="read"):
    graph = snippet_project(files).pipeline
    records = graph.reads if op == "read" else graph.writes
    return sorted((r.path, r.line, r.key, r.external) for r in records)


# -- locations -------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "key", "external"), [
    ('pd.read_csv("data/raw/a.csv")', "data/raw/a.csv", ""),
    ('pd.read_csv(f"data/{split}/a.csv")', "data/*/a.csv", ""),
    ('pd.read_csv(os.path.join(DATA, "b.csv"))', "data/raw/b.csv", ""),
    ('pd.read_csv(Path(DATA) / "c" / "d.csv")', "data/raw/c/d.csv", ""),
    ('pd.read_csv(Path(DATA).joinpath("e.csv"))', "data/raw/e.csv", ""),
    ('pd.read_csv("{}/f.csv".format(DATA))', "data/raw/f.csv", ""),
    ('pd.read_csv("%s/g.csv" % DATA)', "data/raw/g.csv", ""),
    ('pd.read_csv(DATA + "/h.csv")', "data/raw/h.csv", ""),
    ('pd.read_csv(str(Path(DATA, "i.csv").with_suffix(".parquet")))', "data/raw/i.parquet", ""),
    ('pd.read_csv(os.environ["TRAIN"])', None, "env"),
    ('pd.read_csv(os.getenv("TRAIN", "data/x.csv"))', None, "env"),
    ('pd.read_csv(f"{os.environ[\'ROOT\']}/x.csv")', "*/x.csv", "env"),
    ('pd.read_csv(sys.argv[1])', None, "cli"),
    ('pd.read_csv(cfg.data.train)', None, "config"),
    ('pd.read_csv(config["paths"]["train"])', None, "config"),
    ('pd.read_csv(os.path.expanduser("~/d.csv"))', "~/d.csv", ""),
    ('pd.read_csv("s3://bucket/x/y.parquet")', "s3://bucket/x/y.parquet", ""),
])
def test_a_location_is_evaluated_without_running_the_code(code, key, external):
    source = f"""
        import os
        import sys
        from pathlib import Path

        import pandas as pd

        DATA = "data/raw"

        def load(cfg, config):
            return {code}
        """
    [(_, line, got_key, got_external)] = keys({"job.py": source})
    assert (got_key if key is not None else None, got_external) == (key, external)
    assert line == 11


def test_a_parameter_makes_the_location_external_but_a_parameter_file_name_in_a_literal_folder_does_not():
    found = keys({"a.py": """
        import pandas as pd

        def load(root, name):
            a = pd.read_csv(root)
            b = pd.read_csv(f"{root}/train.csv")
            c = pd.read_csv(f"data/{name}.csv")
        """})
    assert [(k, e) for _, _, k, e in found] == [(None, "param"), ("*/train.csv", "param"), ("data/*.csv", "")]


def test_constants_are_followed_across_modules_and_from_file_anchors():
    found = keys({
        "src/shop/__init__.py": "",
        "src/shop/paths.py": """
            from pathlib import Path

            ROOT = Path(__file__).resolve().parents[2]
            RAW = ROOT / "data" / "raw"
            MODELS = "models"
            """,
        "src/shop/settings.py": "from .paths import RAW as RAW_DIR, MODELS\n",
        "src/shop/train.py": """
            import joblib
            import pandas as pd
            from shop import settings
            from shop.settings import RAW_DIR

            df = pd.read_csv(RAW_DIR / "orders.csv")
            model = joblib.load(f"{settings.MODELS}/latest.pkl")
            """,
    })
    assert [(k, line) for _, line, k, _ in found] == [("data/raw/orders.csv", 7), ("models/latest.pkl", 8)]


def test_class_attributes_and_instance_attributes_are_followed():
    found = keys({
        "shop/__init__.py": "",
        "shop/config.py": """
            class Paths:
                RAW = "data/raw"
                MODEL = "models/model.pkl"
            """,
        "shop/train.py": """
            import joblib
            import pandas as pd
            from shop.config import Paths

            class CFG:
                train_path = "../input/train.csv"
                seed = 42

            class Trainer:
                def __init__(self, out):
                    self.valid_path = "data/valid.csv"
                    self.out = out

                def run(self):
                    valid = pd.read_csv(self.valid_path)
                    joblib.dump(valid, self.out)

            train = pd.read_csv(CFG.train_path)
            model = joblib.load(Paths.MODEL)
            events = pd.read_parquet(f"{Paths.RAW}/events.parquet")
            """,
    })
    assert [(line, k) for _, line, k, e in found if not e] == [
        (16, "data/valid.csv"), (19, "input/train.csv"), (20, "models/model.pkl"),
        (21, "data/raw/events.parquet")]


def test_notebooks_resolve_relative_paths_from_their_own_folder():
    nb = {"cells": [{"cell_type": "code", "source": ["import pandas as pd\n", "df = pd.read_csv('../data/x.csv')\n"]},
                    {"cell_type": "code", "source": ["%run ../scripts/prep.py\n"]},
                    {"cell_type": "code", "source": ["!python ../scripts/train.py --epochs 3\n"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    project = snippet_project({"notebooks/eda.ipynb": json.dumps(nb), "scripts/prep.py": "print(1)\n",
                               "scripts/train.py": "print(2)\n"}, dedent=False)
    graph = project.pipeline
    assert [r.key for r in graph.reads] == ["data/x.csv"]
    assert [(r.path, r.target, r.via, r.line) for r in graph.runs] == [
        ("notebooks/eda.ipynb", "scripts/prep.py", "%run", 3), ("notebooks/eda.ipynb", "scripts/train.py", "!python", 4)]


def test_open_mode_decides_read_or_write_and_a_file_handle_is_not_a_second_read():
    files = {"io.py": """
        import json
        import pickle

        with open("data/a.json") as f:
            a = json.load(f)
        with open("data/b.pkl", "wb") as f:
            pickle.dump(a, f)
        with open("data/c.txt", mode="a") as f:
            f.write("x")
        """}
    assert [(k, line) for _, line, k, _ in keys(files)] == [("data/a.json", 5)]
    assert [(k, line) for _, line, k, _ in keys(files, "write")] == [("data/b.pkl", 7), ("data/c.txt", 9)]


def test_user_declared_readers_are_recognised(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mldebt]\nselect = ["MLD501"]\n[tool.mldebt.data]\nreaders = ["shop.io.load_table"]\n')
    (tmp_path / "job.py").write_text("from shop.io import load_table\n\nt = load_table('data/orders.csv')\n")
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1))
    assert [(f.rule, f.line) for f in report.findings] == [("MLD501", 3)]


def test_a_helper_reading_its_parameter_makes_its_callers_the_reads():
    found = keys({
        "shop/__init__.py": "",
        "shop/io.py": """
            import pandas as pd

            def load_table(name, folder="x"):
                return pd.read_csv(name)

            def load_raw(split):
                return pd.read_parquet(f"{split}/part-0.parquet")
            """,
        "shop/job.py": """
            from shop import io as sio
            from shop.io import load_table

            orders = load_table("data/orders.csv")
            events = sio.load_raw(split="data/events")
            other = load_table(name_from_somewhere)
            """,
    })
    assert [(p, line, k) for p, line, k, e in found if not e] == [
        ("shop/job.py", 5, "data/orders.csv"), ("shop/job.py", 6, "data/events/part-0.parquet")]


def test_runs_through_subprocess_os_system_and_runpy_are_resolved_to_files():
    project = snippet_project({
        "run.py": """
            import os
            import runpy
            import subprocess
            import sys

            subprocess.run([sys.executable, "-m", "shop.prep"], check=True)
            subprocess.check_call("python -u scripts/train.py --epochs 3", shell=True)
            os.system("CUDA_VISIBLE_DEVICES=0 python3 scripts/eval.py && echo done")
            runpy.run_path("scripts/report.py")
            subprocess.run(["git", "status"])
            """,
        "shop/__init__.py": "", "shop/prep.py": "", "scripts/train.py": "", "scripts/eval.py": "",
        "scripts/report.py": "",
    })
    runs = [(r.target, r.via, r.line) for r in project.pipeline.runs]
    assert runs == [("shop/prep.py", "subprocess", 7), ("scripts/train.py", "subprocess", 8),
                    ("scripts/eval.py", "os.system", 9), ("scripts/report.py", "runpy", 10)]


# -- jungles ---------------------------------------------------------------------------

def _chain(n: int) -> dict[str, str]:
    files = {}
    for i in range(n):
        src = f'pd.read_csv("data/s{i - 1}.csv")' if i else 'pd.read_json("raw.json")'
        files[f"s{i}.py"] = f'import pandas as pd\n\ndf = {src}\ndf.to_csv("data/s{i}.csv")\n'
    return files


def test_a_cycle_is_a_jungle_even_with_two_steps():
    project = snippet_project({
        "a.py": 'import pandas as pd\n\npd.read_csv("data/b.csv").to_csv("data/a.csv")\n',
        "b.py": 'import pandas as pd\n\npd.read_csv("data/a.csv").to_csv("data/b.csv")\n',
    })
    [j] = project.pipeline.jungles()
    assert j.cycle and sorted(j.steps) == ["a.py", "b.py"]


def test_a_makefile_declares_the_chain():
    files = _chain(3)
    files["Makefile"] = (
        "all: data/s2.csv\n\n"
        "data/s0.csv: s0.py\n\tpython s0.py\n"
        "data/s1.csv: data/s0.csv s1.py\n\tpython s1.py\n"
        "data/s2.csv: data/s1.csv s2.py\n\tpython s2.py\n")
    assert snippet_project(files).pipeline.jungles() == []
    assert len(snippet_project(_chain(3)).pipeline.jungles()) == 1


def test_a_shell_driver_links_the_steps_it_runs():
    files = {"run.sh": "#!/bin/sh\nset -e\npython prep.py\npython train.py\npython evaluate.py\n",
             "prep.py": "", "train.py": "", "evaluate.py": ""}
    [j] = snippet_project(files).pipeline.jungles()
    assert j.drivers == {"run.sh": ["evaluate.py", "prep.py", "train.py"]}


def test_the_graph_in_the_export_schema():
    g = snippet_project(_chain(3)).pipeline.to_networkx("demo")
    assert g.nodes["s0.py"]["kind"] == "step"
    assert g.nodes["data:data/s0.csv"]["kind"] == "artifact"
    edges = {(u, v, d["kind"]) for u, v, d in g.edges(data=True)}
    assert ("s0.py", "data:data/s0.csv", "writes") in edges
    assert ("data:data/s0.csv", "s1.py", "reads") in edges
    [jungle] = g.graph["jungles"]
    assert jungle["entry"] == "s0.py" and jungle["chain"][:3] == ["s0.py", "data:data/s0.csv", "s1.py"]


def test_the_project_phase_does_not_parse_again(monkeypatch):
    calls = []
    real = parsing.parse

    def counting(source):
        calls.append(1)
        return real(source)

    monkeypatch.setattr("mldebt.engine.parse", counting)
    report = run_scan(ScanRequest(targets=(FIXTURES / "pipeline-jungle",), jobs=1))
    assert len(calls) == report.summary.files - len([e for e in report.errors])


# -- the command -----------------------------------------------------------------------

def _mldebt(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("mldebt", path=str(Path(sys.executable).parent)) or "mldebt"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_graph_command_exports_the_jungle_as_json_dot_and_mermaid(tmp_path):
    out = tmp_path / "g.json"
    done = _mldebt("graph", str(FIXTURES / "pipeline-jungle"), "--format", "json", "-o", str(out), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["jungles"], "the jungle fixture has a jungle"
    kinds = {n["kind"] for n in data["nodes"]}
    assert {"step", "artifact"} <= kinds
    assert any(e["kind"] == "reads" and not e["declared"] for e in data["edges"])
    dot = _mldebt("graph", str(FIXTURES / "pipeline-jungle"), "--jobs", "1")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph")
    mermaid = _mldebt("graph", str(FIXTURES / "pipeline-dvc"), "--format", "mermaid", "--jobs", "1")
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart LR")


def test_graph_command_rejects_a_bad_format_with_exit_2():
    done = _mldebt("graph", ".", "--format", "svg")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1


def test_project_findings_honour_suppression_comments(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD5", "MLD001"]\n')
    (tmp_path / "a.py").write_text(
        "import pandas as pd\n\n"
        "x = pd.read_csv('data/x.csv')  # mldebt: ignore[undeclared-data-read] -- fixed sample for the demo\n"
        "y = pd.read_csv('data/y.csv')\n")
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1))
    assert [(f.rule, f.line) for f in report.findings] == [("MLD501", 4)]
    assert report.summary.ignored == 1


def test_a_bad_data_table_is_a_one_line_error_with_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt.data]\nreaders = "shop.io.load"\n')
    (tmp_path / "a.py").write_text("x = 1\n")
    done = _mldebt("scan", str(tmp_path))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "tool.mldebt.data.readers" in line and "pyproject.toml" in line


def test_a_broken_dvc_yaml_is_reported_and_the_scan_goes_on(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD5"]\n')
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: [unclosed\n")
    (tmp_path / "a.py").write_text("import pandas as pd\n\nx = pd.read_csv('data/x.csv')\n")
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1))
    assert [e.path for e in report.errors] == ["dvc.yaml"]
    assert [(f.rule, f.line) for f in report.findings] == [("MLD501", 3)]


def test_a_python_tag_in_a_config_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD5"]\n')
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "train.yaml").write_text(
        f"data: !!python/object/apply:os.system ['touch {marker}']\npath: data/train.csv\n")
    (tmp_path / "a.py").write_text("import pandas as pd\n\nx = pd.read_csv('data/train.csv')\n")
    report = run_scan(ScanRequest(targets=(tmp_path,), jobs=1))
    assert not marker.exists()
    assert any(e.path == "conf/train.yaml" and "python" in e.message for e in report.errors)
    assert [(f.rule, f.line) for f in report.findings] == [("MLD501", 3)]


def test_the_project_findings_and_graph_are_the_same_in_process_and_in_a_pool(tmp_path):
    from mldebt.config import Overrides
    from mldebt.reporters import render

    root = tmp_path / "jungle"
    shutil.copytree(FIXTURES / "pipeline-jungle", root)
    for i in range(20):  # enough files for the process pool to be used
        (root / f"extra_{i:02d}.py").write_text(f"import pandas as pd\n\nX{i} = pd.read_csv('data/extra_{i}.csv')\n")
    select = Overrides(select=["MLD2", "MLD5"])
    one = render(run_scan(ScanRequest(targets=(root,), jobs=1, overrides=select)), "json")
    two = render(run_scan(ScanRequest(targets=(root,), jobs=2, overrides=select)), "json")
    assert one == two
    rules = {f["rule"] for f in json.loads(one)["findings"]}
    assert {"MLD201", "MLD202", "MLD501", "MLD502", "MLD503"} <= rules
    g1 = _mldebt("graph", str(root), "--format", "json", "--jobs", "1").stdout
    g2 = _mldebt("graph", str(root), "--format", "json", "--jobs", "2").stdout
    assert g1 == g2 and json.loads(g1)["jungles"]


def test_databases_are_read_where_they_are_connected_and_local_urls_are_files():
    project = snippet_project({"job.py": """
        import sqlite3

        import pandas as pd
        from sqlalchemy import create_engine

        con = sqlite3.connect("data/shop.db")
        orders = pd.read_sql("SELECT * FROM orders", con)
        weekly = pd.read_sql_query("SELECT 1", "sqlite:///data/warehouse.db")
        scratch = sqlite3.connect(":memory:")
        prod = create_engine("postgresql://reporting@db.internal/prod")
        """})
    verdicts = {(v.read.line, v.read.key, v.kind) for v in project.pipeline.verdicts()}
    assert verdicts == {(7, "data/shop.db", "undeclared"), (9, "data/warehouse.db", "undeclared"),
                        (11, "postgresql://reporting@db.internal/prod", "unstable")}


def test_an_artifact_whose_location_is_configured_is_not_drawn_undeclared():
    g = snippet_project({
        "job.py": """
            import os

            import pandas as pd

            DATA = os.getenv("DATA_DIR", "data")
            df = pd.read_csv(os.path.join(DATA, "customers.csv"))
            raw = pd.read_csv("data/raw.csv")
            """,
    }).pipeline.to_networkx("x")
    declared = {n: d["declared"] for n, d in g.nodes(data=True) if d["kind"] == "artifact"}
    assert declared == {"data:*/customers.csv": True, "data:data/raw.csv": False}


def test_longest_chain_survives_hundreds_of_cycles():
    """Copies of one pipeline writing the same files make hundreds of cycles; the chain is
    still found (it once gave up after 100 and the topological sort crashed the scan)."""
    import networkx as nx

    from mldebt.project.graph import _longest_chain

    g = nx.DiGraph()
    for i in range(150):
        g.add_edge(f"a{i}", "data/x.csv")
        g.add_edge("data/x.csv", f"b{i}")
        g.add_edge(f"b{i}", f"a{i}")  # each copy closes a cycle through the shared file
    chain = _longest_chain(g)
    assert len(chain) >= 3 and len(set(chain)) == len(chain)
    assert all(g.has_edge(u, v) for u, v in zip(chain, chain[1:]))


def test_a_failing_project_rule_costs_its_findings_only(monkeypatch):
    """An internal error in one project rule is an error entry; the file rules and the other
    project rules still report. With --debug it raises (for the traceback)."""
    from mldebt.catalog import load_catalog

    root = Path(__file__).resolve().parent.parent / "fixtures" / "pipeline-jungle"
    whole = run_scan(ScanRequest(targets=(root,), jobs=1))
    spec = load_catalog().by_code("MLD503")
    cls = spec.load_class()
    assert any(f.rule == "MLD503" for f in whole.findings)

    def broken(cls, project, options):
        raise KeyError("a fact it did not expect")
        yield  # a generator, like the real check

    monkeypatch.setattr(cls, "check", classmethod(broken))
    report = run_scan(ScanRequest(targets=(root,), jobs=1))
    assert [f for f in whole.findings if f.rule != "MLD503"] == list(report.findings)
    assert any("project rule MLD503" in e.message and "KeyError" in e.message for e in report.errors)
    with pytest.raises(KeyError):
        run_scan(ScanRequest(targets=(root,), jobs=1, debug=True))
