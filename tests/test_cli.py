"""The command line as users and CI run it: a real subprocess, real exit codes."""

from __future__ import annotations

import json
from collections import Counter
import os
import pty
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mldebt import cli

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "mldebt" / "schemas" / "report-v1.schema.json").read_text(encoding="utf-8"))
TYPO = "x = 1  # mldebt: ignore[MLD999] -- typo\n"  # a malformed-suppression (MLD003) warning


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "mldebt", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=120)


def project(tmp_path: Path, files: dict[str, str], config: str = "") -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    if config:
        (tmp_path / "pyproject.toml").write_text("[tool.mldebt]\n" + config, encoding="utf-8")
    return tmp_path


def test_clean_project_exits_0(tmp_path):
    project(tmp_path, {"a.py": "x = 1\n"})
    r = run("scan", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "No findings in 1 files" in r.stdout


def test_findings_exit_1_and_text_lines_have_the_documented_shape(tmp_path):
    project(tmp_path, {"pkg/a.py": "y = 2\n" + TYPO})
    r = run("scan", str(tmp_path))
    assert r.returncode == 1
    first = r.stdout.splitlines()[0]
    assert first.startswith("pkg/a.py:2:8: MLD003 [analysis] Suppression comment not understood")
    assert r.stdout.splitlines()[1].startswith("    hint: ")
    assert "analysis" in r.stdout.split("Found 1 finding", 1)[1]
    assert "\x1b[" not in r.stdout  # piped: no colour


def test_exit_zero_and_fail_on(tmp_path):
    project(tmp_path, {"a.py": TYPO})
    assert run("scan", str(tmp_path), "--exit-zero").returncode == 0
    assert run("scan", str(tmp_path), "--fail-on", "error").returncode == 0  # the finding is a warning
    assert run("scan", str(tmp_path), "--fail-on", "info").returncode == 1


def test_fail_on_from_configuration(tmp_path):
    project(tmp_path, {"a.py": TYPO}, config="fail-on = 'error'\n")
    assert run("scan", str(tmp_path)).returncode == 0


def test_json_output_matches_the_schema_and_is_written_to_a_file(tmp_path):
    project(tmp_path, {"a.py": TYPO, "b.py": "print 'py2'\n", "c.py": "z = 3\n"})
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    r = run("scan", str(tmp_path), "--format", "json", "-o", str(out))
    assert r.returncode == 1
    assert r.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    assert data["root"] == str(tmp_path.resolve())
    assert [f["path"] for f in data["findings"]] == ["a.py"]
    assert data["errors"][0]["path"] == "b.py" and "syntax error" in data["errors"][0]["message"]
    assert data["summary"]["files"] == 3 and data["summary"]["new"] == 1


def test_errors_do_not_change_the_exit_code_unless_strict(tmp_path):
    project(tmp_path, {"bad.py": "def (:\n", "good.py": "x = 1\n"})
    r = run("scan", str(tmp_path))
    assert r.returncode == 0
    assert "bad.py: syntax error at line 1" in r.stdout
    assert run("scan", str(tmp_path), "--strict").returncode == 1


def test_select_and_ignore_flags(tmp_path):
    project(tmp_path, {"a.py": TYPO})
    assert run("scan", str(tmp_path), "--ignore", "MLD003").returncode == 0
    assert run("scan", str(tmp_path), "--select", "MLD001,MLD002").returncode == 0
    assert run("scan", str(tmp_path), "--select", "analysis").returncode == 1


@pytest.mark.parametrize("args", [
    ("scan", "--jobs", "0"),
    ("scan", "--format", "xml"),
    ("scan", "--select", "MLD999"),
    ("scan", "does-not-exist"),
    ("explain", "no-such-rule"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "error" in r.stderr


def test_bad_config_is_one_line_exit_2(tmp_path):
    project(tmp_path, {"a.py": ""}, config="unknown-key = 1\n")
    r = run("scan", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"mldebt: error: {tmp_path / 'pyproject.toml'}: [tool.mldebt] unknown-key: unknown key"]


def test_internal_error_exits_2_with_one_line_and_debug_shows_traceback(tmp_path, monkeypatch, capsys):
    def boom(*a, **k):
        raise RuntimeError("engine exploded\nsecond line")

    monkeypatch.setattr(cli, "scan_with_baseline", boom)
    with pytest.raises(SystemExit) as info:
        cli.main(["scan", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == ("mldebt: internal error: RuntimeError: engine exploded "
                           "(run with --debug for the traceback)")
    with pytest.raises(SystemExit) as info:
        cli.main(["scan", str(tmp_path), "--debug"])
    assert info.value.code == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_color_only_on_a_terminal_and_no_color_wins(tmp_path):
    project(tmp_path, {"a.py": TYPO})
    colored = subprocess.run([sys.executable, "-m", "mldebt", "scan", str(tmp_path)], capture_output=True,
                             text=True, env={**os.environ, "FORCE_COLOR": "1"})
    assert "\x1b[" in colored.stdout
    for extra_env, flag in (({"FORCE_COLOR": "1", "NO_COLOR": "1"}, ()), ({"FORCE_COLOR": "1"}, ("--no-color",))):
        r = subprocess.run([sys.executable, "-m", "mldebt", "scan", str(tmp_path), *flag], capture_output=True,
                           text=True, env={**os.environ, **extra_env})
        assert "\x1b[" not in r.stdout


def test_colour_by_default_on_a_terminal(tmp_path):
    project(tmp_path, {"a.py": TYPO})
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "mldebt", "scan", str(tmp_path)], stdout=slave,
                            stderr=subprocess.PIPE, env=env)
    os.close(slave)
    proc.wait(timeout=120)
    data = _drain(master)
    assert proc.returncode == 1
    assert b"\x1b[" in data and b"MLD003" in data


def _drain(master: int) -> bytes:
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks)


def _many_files(tmp_path: Path, n: int) -> Path:
    return project(tmp_path, {f"m{i:03d}.py": f"x{i} = {i}\n" for i in range(n)})


def test_progress_bar_only_on_a_terminal(tmp_path):
    root = _many_files(tmp_path, 210)
    piped = run("scan", str(root), "--jobs", "1")
    assert piped.returncode == 0
    assert piped.stderr == ""
    # stderr on a pseudo-terminal: the bar is drawn there, stdout stays clean
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen([sys.executable, "-m", "mldebt", "scan", str(root), "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=slave, text=True, env=env)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    drawn = _drain(master)
    assert proc.returncode == 0
    assert b"Scanning 210 files" in drawn
    assert "Scanning" not in out


def test_rules_explain_and_version():
    r = run("rules")
    assert r.returncode == 0
    header = r.stdout.splitlines()[0].split()
    assert header == ["CODE", "NAME", "SMELL", "STATUS", "SEVERITY"]
    assert any(line.startswith("MLD001  unused-suppression") for line in r.stdout.splitlines())
    e = run("explain", "unused-suppression")
    assert e.returncode == 0 and e.stdout.startswith("# MLD001 unused-suppression")
    assert "## What it does" in e.stdout
    assert run("explain", "mld001").stdout == e.stdout
    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip().startswith("mldebt ")


def test_no_path_scans_the_current_directory(tmp_path):
    project(tmp_path, {"a.py": TYPO})
    r = run("scan", "--format", "json", cwd=tmp_path)
    assert json.loads(r.stdout)["findings"][0]["path"] == "a.py"


def test_per_file_ignores_from_configuration(tmp_path):
    project(tmp_path, {"scripts/a.py": TYPO, "src/b.py": TYPO},
            config="[tool.mldebt.per-file-ignores]\n'scripts/*' = ['malformed-suppression']\n")
    r = run("scan", str(tmp_path), "--format", "json")
    assert [f["path"] for f in json.loads(r.stdout)["findings"]] == ["src/b.py"]


@pytest.mark.parametrize("fixture", sorted(p.name for p in (ROOT / "fixtures").iterdir() if p.is_dir()))
def test_fixture_reports_match_the_schema(fixture, tmp_path):
    out = tmp_path / "r.json"
    r = run("scan", str(ROOT / "fixtures" / fixture), "--format", "json", "-o", str(out), "--jobs", "2")
    assert r.returncode == 1, r.stderr  # every fixture carries debt
    data = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["findings"] == len(data["findings"]) > 0
    by_smell = Counter(f["smell"] for f in data["findings"])
    assert data["summary"]["by_smell"] == dict(by_smell)
    keys = [(f["path"], f["line"], f["column"], f["rule"]) for f in data["findings"]]
    assert keys == sorted(keys)  # deterministic order
    assert len({f["fingerprint"] for f in data["findings"]}) == len(data["findings"])
    if fixture == "research-scripts":
        cells = [f for f in data["findings"] if f["path"].endswith(".ipynb")]
        assert cells and all(f["cell"] >= 1 and f["cell_line"] >= 1 for f in cells)
        text = run("scan", str(ROOT / "fixtures" / fixture), "--no-color").stdout
        f = cells[0]
        # the text report points at the line of the .ipynb file, which editors and grep find
        assert f["file_line"] > f["line"]
        assert f"{f['path']}:{f['file_line']} [cell {f['cell']}, line {f['cell_line']}]: {f['rule']}" in text


def test_one_scan_writes_several_formats(tmp_path):
    project(tmp_path, {"a.py": "def f(m, X):\n    return m.predict_proba(X)[:, 1] > 0.73\n"})
    summary = tmp_path / "summary.md"
    r = subprocess.run([sys.executable, "-m", "mldebt", "scan", str(tmp_path), "-o", f"json:{tmp_path / 'r.json'}",
                        "-o", f"sarif:{tmp_path / 'r.sarif'}", "-o", f"github:{tmp_path / 'gh.txt'}", "--no-color"],
                       capture_output=True, text=True, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 1
    assert "MLD301" in r.stdout  # text still on the terminal
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["new"] == 1
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "gh.txt").read_text().startswith("::warning")
    assert "MLD301" in summary.read_text()


def test_reports_are_written_with_the_usual_permissions(tmp_path):
    project(tmp_path, {"a.py": "x = 1\n"})
    old = os.umask(0o022)
    try:
        r = run("scan", str(tmp_path), "-o", str(tmp_path / "r.json"), "--format", "json")
    finally:
        os.umask(old)
    assert r.returncode == 0
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644
