"""Hostile repositories (issue 8, part 2): every case is built here in a temporary folder
(nothing binary is committed), scanned through the real CLI beside a few normal files, and
must get the documented behaviour: a clear entry under ``errors`` (or one line and exit 2 for
a bad configuration or baseline), the normal files' findings intact, the documented exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NORMAL = """\
import torch

probs = torch.softmax(torch.zeros(3), 0)
if probs[0] > 0.73:
    print("yes")
if False:
    print("dead")
"""
NORMAL_RULES = {("train.py", "MLD301"), ("train.py", "MLD401")}
CONSTANT = "if True:\n    a = 1\nelse:\n    a = 2\n"  # one MLD401 at line 1
XSS = "<script>alert(1)</script>"


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLDEBT_NO_CACHE": "1", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "mldebt", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def scan_json(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = run(["scan", ".", "--format", "json", *extra], root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def errors_of(report: dict[str, Any]) -> dict[str, str]:
    return {e["path"]: e["message"] for e in report["errors"]}


def rules_of(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["path"], f["rule"]) for f in report["findings"]}


def notebook(*cells: dict[str, Any]) -> str:
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def code_cell(source: str, outputs: list[Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1,
            "outputs": outputs or []}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository holding every file-level case, plus a normal training script."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "pyproject.toml").write_text("[tool.mldebt]\n")
    (root / "train.py").write_text(NORMAL)
    # symlinks: a loop, a loop reached through a .py name, a file and a folder outside
    (root / "loop_a").symlink_to("loop_b")
    (root / "loop_b").symlink_to("loop_a")
    (root / "loop.py").symlink_to("loop_a")
    (root / "self.py").symlink_to("self.py")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text(CONSTANT)
    (root / "outside.py").symlink_to(outside / "secret.py")
    (root / "outside_dir").symlink_to(outside, target_is_directory=True)
    (root / "pkg").mkdir()
    (root / "pkg" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    # contents
    (root / "huge.py").write_bytes(b"x = 1\n" * (50 * 1024 * 1024 // 6 + 1))  # 50 MB
    (root / "deep_parens.py").write_text("x = " + "(" * 1000 + "1" + ")" * 1000 + "\n")
    (root / "deep_brackets.py").write_text("x = " + "[" * 1000 + "]" * 1000 + "\n")
    (root / "deep_ifs.py").write_text("x = 1\n" + "".join(" " * i + "if x:\n" for i in range(1000))
                                      + " " * 1000 + "pass\n")
    # long chains without brackets: as deep a tree (libcst: 8 GB, then SIGSEGV on the unary one)
    (root / "chain_unary.py").write_text("x = " + "-" * 12_000 + "1\n")
    (root / "chain_attr.py").write_text("x = a" + ".b" * 5000 + "\n")
    (root / "chain_binop.py").write_text("x = " + "+".join(["a"] * 20_000) + "\n")
    (root / "chain_call.py").write_text("x = f" + "()" * 5000 + "\n")
    (root / "long_line.py").write_text("x = '" + "a" * 100_000 + "'\n" + CONSTANT)
    (root / "bad_utf8.py").write_bytes(b"x = '\xff\xfe'\n")
    (root / "nul.py").write_bytes(b"x = 1\x00\n")
    (root / "image.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    # notebooks
    (root / "broken.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    output = {"output_type": "stream", "name": "stdout", "text": ["y" * 999 + "\n"] * 20_000}
    (root / "huge_output.ipynb").write_text(notebook(code_cell(CONSTANT, [output])))
    (root / "markdown_only.ipynb").write_text(
        notebook({"cell_type": "markdown", "source": "# Notes\n", "metadata": {}}))
    # file names
    for name in ("with space.py", "new\nline.py", "ünïcødé_模型.py"):
        (root / name).write_text(CONSTANT)
    (root / "<script>alert(1)<").mkdir()
    (root / f"{XSS}.py").write_text(CONSTANT)  # a folder `<script>alert(1)<`, a file `script>.py`
    return root


@pytest.fixture(scope="module")
def reports(hostile: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    return {jobs: scan_json(hostile, "--jobs", jobs) for jobs in ("1", "2")}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_normal_findings_survive_and_exit_code_is_documented(reports, jobs: str) -> None:
    code, report = reports[jobs]
    assert NORMAL_RULES <= rules_of(report)
    assert code == 1  # new warnings fail the run; file errors alone do not (no --strict)


def test_jobs_do_not_change_the_report(reports) -> None:
    assert reports["1"][1]["findings"] == reports["2"][1]["findings"]
    assert reports["1"][1]["errors"] == reports["2"][1]["errors"]


@pytest.mark.parametrize(("path", "expected"), [
    ("loop.py", "symlink loop: not followed"),
    ("self.py", "symlink loop: not followed"),
    ("outside.py", "symlink to a file outside the project root: not followed"),
    ("huge.py", "too large to analyse: 50.0 MB of source"),
    ("deep_parens.py", "too deeply nested: more than 200 levels of brackets"),
    ("deep_brackets.py", "too deeply nested: more than 200 levels of brackets"),
    ("deep_ifs.py", "too many levels of indentation"),
    ("chain_unary.py", "too deeply nested: an expression chain too long to analyse"),
    ("chain_attr.py", "too deeply nested: an expression chain too long to analyse"),
    ("chain_binop.py", "too deeply nested: an expression chain too long to analyse"),
    ("chain_call.py", "too deeply nested: an expression chain too long to analyse"),
    ("bad_utf8.py", "cannot decode as utf-8: invalid byte 0xff at line 1"),
    ("nul.py", "null byte at line 1"),
    ("image.py", "binary file (not Python source)"),
    ("broken.ipynb", "broken notebook: not valid JSON"),
])
def test_file_error_entry(reports, path: str, expected: str) -> None:
    for jobs in ("1", "2"):
        errors = errors_of(reports[jobs][1])
        assert expected in errors.get(path, ""), (jobs, errors)


def test_nothing_outside_the_root_is_followed(reports) -> None:
    _, report = reports["1"]
    paths = {f["path"] for f in report["findings"]} | {e["path"] for e in report["errors"]}
    assert not any("secret" in p or p.startswith(("outside_dir", "pkg/up", "..")) for p in paths)
    assert "outside.py" not in {f["path"] for f in report["findings"]}


def test_odd_files_that_are_analysed(reports) -> None:
    _, report = reports["1"]
    found = rules_of(report)
    errors = errors_of(report)
    for path in ("long_line.py", "huge_output.ipynb", "with space.py", "new\nline.py",
                 "ünïcødé_模型.py", f"{XSS}.py"):
        assert (path, "MLD401") in found, path
        assert path not in errors
    assert "markdown_only.ipynb" not in errors
    assert report["summary"]["files"] == 20  # the symlinks not followed are not counted


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(NORMAL)
    secret = tmp_path / "secret.py"
    secret.write_text(CONSTANT)
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):
            pytest.skip("running as root: a chmod 000 file is still readable")
        code, report = scan_json(tmp_path)
        assert "secret.py" in errors_of(report)
        assert NORMAL_RULES <= rules_of(report) and code == 1
    finally:
        secret.chmod(0o644)


def test_hostile_names_in_other_formats(hostile: Path, tmp_path: Path) -> None:
    names = run(["scan", ".", "--jobs", "1", "--select", "MLD401", "--format", "text",
                 "-o", f"html:{tmp_path / 'r.html'}", "-o", f"sarif:{tmp_path / 'r.sarif'}"], hostile)
    assert names.returncode == 1, names.stderr
    assert f"{XSS}.py:1:" in names.stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.py" in html
    sarif = json.loads((tmp_path / "r.sarif").read_text(encoding="utf-8"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert "%3Cscript%3Ealert%281%29%3C/script%3E.py" in uris or f"{XSS}.py" in uris
    assert any("new%0Aline.py" in u or "new\nline.py" in u for u in uris)


def test_unknown_config_key_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(NORMAL)
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt]\nselct = ["ALL"]\n')
    proc = run(["scan", ".", "--format", "json"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pyproject.toml" in lines[0] and "selct" in lines[0], proc.stderr


YAML_ATTACK = '!!python/object/apply:os.system ["touch {marker}"]'


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    marker = tmp_path.parent / f"{tmp_path.name}-MARKER"
    attack = YAML_ATTACK.format(marker=marker)
    (tmp_path / "train.py").write_text(NORMAL + """
import yaml
with open("config.yaml") as fh:
    cfg = yaml.safe_load(fh)
print(cfg["lr"], cfg["paths"]["train"])
""")
    (tmp_path / "config.yaml").write_text(f"lr: 0.1\npaths:\n  train: data/train.csv\nhook: {attack}\n")
    (tmp_path / "params.yaml").write_text(f"seed: 1\nevil: {attack}\n")
    (tmp_path / "dvc.yaml").write_text(
        f"stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    meta: {attack}\n")
    for jobs in ("1", "2"):
        code, report = scan_json(tmp_path, "--jobs", jobs)
        assert not marker.exists()
        assert NORMAL_RULES <= rules_of(report) and code == 1
        errors = errors_of(report)
        for name in ("config.yaml", "params.yaml", "dvc.yaml"):
            assert "refused a !!python tag (!!python/object/apply:os.system)" in errors.get(name, ""), errors
    graph = run(["graph", ".", "--format", "json"], tmp_path)
    assert graph.returncode == 0, graph.stderr
    assert not marker.exists()


def test_baseline_garbage_and_future_version(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(NORMAL)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xff{not json" + os.urandom(64))
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"version": 99, "fingerprint_algorithm": "x", "entries": []}))
    truncated = tmp_path / "truncated.json"
    made = run(["baseline", "create"], tmp_path)
    assert made.returncode == 0, made.stderr
    text = (tmp_path / ".mldebt-baseline.json").read_text()
    truncated.write_text(text[: len(text) // 2])
    for path, words in ((garbage, "baseline"), (future, "version 99"), (truncated, "corrupt or truncated")):
        for command in (["scan", ".", "--baseline", str(path)],
                        ["scan", ".", "--format", "json", "--baseline", str(path)]):
            proc = run(command, tmp_path)
            assert proc.returncode == 2, (path, proc.stdout, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and path.name in lines[0] and words in lines[0], proc.stderr
            assert "Traceback" not in proc.stderr


def test_scanned_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Escape sequences (an OSC that retitles the terminal, a colour) and a right-to-left
    override in a file name or a string literal reach the text and GitHub outputs written
    out as escapes: one finding per line, nothing the terminal or the Actions log interprets."""
    osc, rlo = "\x1b]0;pwned\x07", "\u202e"
    (tmp_path / "pyproject.toml").write_text("[tool.mldebt]\n")
    (tmp_path / "load.py").write_text(
        f'import pandas as pd\n\n\ndef load():\n    return pd.read_csv("data/{osc}{rlo}vsc.exe")\n', encoding="utf-8")
    (tmp_path / f"evil{osc}\x1b[8m\nname.py").write_text(CONSTANT)
    text = run(["scan", ".", "--format", "text"], tmp_path)
    assert text.returncode == 1, text.stderr
    for out in (text.stdout, run(["scan", ".", "--format", "github"], tmp_path).stdout):
        assert "\x1b" not in out and "\x07" not in out and rlo not in out
    lines = text.stdout.splitlines()
    assert any(line.startswith(r"evil\x1b]0;pwned\x07\x1b[8m\nname.py:1:") for line in lines)
    assert any(r"data/\x1b]0;pwned\x07\u202evsc.exe" in line and "MLD501" in line for line in lines)
    (tmp_path / "pyproject.toml").write_text('[tool.mldebt]\n"key\\u001b[2J\\nnext" = 1\n')
    bad = run(["scan", ".", "--format", "json"], tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "\x1b" not in bad.stderr
    assert r"key\x1b[2J\nnext" in bad.stderr


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Linux allows any bytes in a name. Every output stays valid UTF-8 (the HTML report used to
    fail with an internal error, the JSON report held the raw byte), the JSON report and the
    baseline name the file so that reading them back matches it again, and merge reads it."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.mldebt]\n")
    name = os.fsdecode(b"bad\xffname.py")  # 'bad\udcffname.py'
    (root / name).write_text(CONSTANT)
    outs = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "html", "sarif", "gitlab", "text", "github")}
    done = run(["scan", ".", "--with-source", *[a for fmt, out in outs.items() for a in ("-o", f"{fmt}:{out}")]],
               root)
    assert done.returncode == 1, done.stderr
    for fmt, out in outs.items():
        out.read_bytes().decode("utf-8")  # raises if not valid UTF-8
    report = json.loads(outs["json"].read_text(encoding="utf-8"))
    assert [f["path"] for f in report["findings"]] == [name]
    assert run(["baseline", "create"], root).returncode == 0
    known = run(["scan", ".", "--format", "json", "--baseline", ".mldebt-baseline.json"], root)
    assert known.returncode == 0, known.stdout
    assert [f["status"] for f in json.loads(known.stdout)["findings"]] == ["known"]
    merged = run(["merge", str(outs["json"]), "-o", str(tmp_path / "all.html")], tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "bad\ufffdname.py" in (tmp_path / "all.html").read_text(encoding="utf-8")
