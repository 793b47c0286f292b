"""The file-result cache (issue 7): warm scans parse nothing, bad entries are never trusted,
concurrent scans do not corrupt it, and a pre-commit run over a few files reports exactly
what a full scan reports for them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mldebt import cache as cache_mod
from mldebt import engine
from mldebt.cache import decode_result, encode_result
from mldebt.catalog import load_catalog
from mldebt.model import Fact, FileResult, Report
from mldebt.reporters import render
from mldebt.rules.base import ProjectRule
from mldebt.scan import ScanRequest, run_scan

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROJECT = "tabular-churn"  # project rules fire here (pipeline jungle, undeclared data)


def _json(report: Report) -> dict:
    return json.loads(render(report, "json"))


def _scan(root: Path, cache_dir: Path | None, **kw) -> Report:
    return run_scan(ScanRequest(targets=(root,), jobs=1, cache=cache_dir is not None, cache_dir=cache_dir, **kw))


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / "files").glob("*/*/*") if not p.name.startswith("."))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(FIXTURES / PROJECT, dest)
    return dest


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the file phase parses from now on (in process)."""
    seen: list[str] = []
    real = engine.load_source

    def counting(path, data):
        seen.append(path)
        return real(path, data)

    monkeypatch.setattr(engine, "load_source", counting)
    return seen


# --- the codec --------------------------------------------------------------------------

def _fixture_results() -> list[FileResult]:
    from mldebt.scan import _analyse, make_plans, prepare

    out = []
    for name in sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()):
        request = ScanRequest(targets=(FIXTURES / name,), jobs=1)
        settings, catalog = prepare(request)
        results, *_ = _analyse(request, settings, catalog, make_plans(settings, catalog), None)
        out.extend(results)
    return out


def test_every_fixture_result_survives_the_round_trip_exactly():
    """Findings, directives and every collector's facts (tuples stay tuples) come back equal,
    from the JSON text the cache writes."""
    results = _fixture_results()
    assert sum(len(r.facts) for r in results) > 500 and any(r.findings for r in results)
    for r in results:
        text = json.dumps(encode_result(r), ensure_ascii=False)
        back = decode_result(json.loads(text))
        assert back == r, r.path
        for a, b in zip(back.facts, r.facts):
            assert _shape(a.data) == _shape(b.data), (r.path, a.rule, a.kind)


def _shape(value):
    """The container types, not only the values (``(1, 2) == [1, 2]`` is False, but nested
    equality of dicts would hide a list standing in for a tuple inside a set)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _shape(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_shape(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, len(value))
    return type(value).__name__


def test_tagged_containers_round_trip():
    data = {"t": (1, ("a", None)), "s": {"x", "y"}, "f": frozenset({3}), "m": {("a", 1): [True]},
            "nested": [{"k": (2.5,)}], "tag-like": {"\x00": 1}}
    r = FileResult("a.py", "a", False, 1, facts=(Fact("X", "k", data),))
    back = decode_result(json.loads(json.dumps(encode_result(r))))
    assert back.facts[0].data == data
    assert _shape(back.facts[0].data) == _shape(data)


@pytest.mark.parametrize("bad", [
    {},  # keys missing
    {"path": "a.py", "module": "a", "test": "no", "lines": 1, "error": None, "findings": [], "directives": [],
     "facts": []},  # a string for a bool
    {"path": "a.py", "module": "a", "test": False, "lines": 1, "error": None,
     "findings": [["X", None, "m", "h", None, None]], "directives": [], "facts": []},  # no location
    {"path": "a.py", "module": "a", "test": False, "lines": 1, "error": None,
     "findings": [["X", [1, 1, 1, 2, 1, "<module>", "x"], "m", "h", None, None]], "directives": [],
     "facts": []},  # a short location
    {"path": "a.py", "module": "a", "test": False, "lines": 1, "error": None, "findings": [], "directives": [],
     "facts": [["X", "k", {"\x00": ["?", []]}, None, True]]},  # an unknown tag
    {"path": "a.py", "module": "a", "test": False, "lines": 1, "error": None, "findings": [],
     "directives": [], "facts": [["X", "k", {}, None, False]], "extra": {"__class__": "os.system"}},
])
def test_malformed_entries_raise(bad):
    if "extra" in bad:  # unknown keys are ignored: nothing in an entry is ever evaluated
        assert decode_result(bad).path == "a.py"
        return
    with pytest.raises((ValueError, TypeError, KeyError)):
        decode_result(bad)


# --- warm and cold ---------------------------------------------------------------------

def test_a_warm_scan_parses_nothing_and_still_runs_the_project_phase(project, tmp_path, parses):
    cache_dir = tmp_path / "cache"
    cold = _scan(project, cache_dir)
    assert parses and len(_entries(cache_dir)) == len(parses)
    parses.clear()
    warm = _scan(project, cache_dir)
    assert parses == []
    assert _json(warm) == _json(cold) == _json(_scan(project, None))
    catalog = load_catalog()
    project_rules = {s.code for s in catalog.rules if issubclass(s.load_class(), ProjectRule)}
    assert project_rules & {f.rule for f in warm.findings}, "the project phase reported from cached facts"


def test_a_changed_file_is_analysed_again_and_only_it(project, tmp_path, parses):
    cache_dir = tmp_path / "cache"
    _scan(project, cache_dir)
    target = sorted(project.rglob("*.py"))[0]
    target.write_text(target.read_text() + "\n\ndef gate(model, X):\n    return model.predict_proba(X)[:, 1] > 0.37\n")
    parses.clear()
    warm = _scan(project, cache_dir)
    assert parses == [target.relative_to(project).as_posix()]
    assert _json(warm) == _json(_scan(project, None))
    assert any(f.path == parses[0] and "0.37" in f.snippet for f in warm.findings)


def test_settings_that_change_analysis_use_other_entries(project, tmp_path, parses):
    cache_dir = tmp_path / "cache"
    from mldebt.config import Overrides

    _scan(project, cache_dir, overrides=Overrides(select=["MLD1"]))
    parses.clear()
    full = _scan(project, cache_dir)
    assert parses, "entries made with other rules selected are not reused"
    assert _json(full) == _json(_scan(project, None))
    assert len({p.parent.parent.name for p in _entries(cache_dir)}) == 2


def test_a_rule_option_changes_the_key(project, tmp_path):
    cache_dir = tmp_path / "cache"
    _scan(project, cache_dir)
    (project / "pyproject.toml").write_text('[tool.mldebt.rules.MLD101]\nmin-packages = 9\n', encoding="utf-8")
    _scan(project, cache_dir)
    assert len({p.parent.parent.name for p in _entries(cache_dir)}) == 2


# --- never trusted ---------------------------------------------------------------------

def test_corrupt_entries_are_ignored_and_rebuilt(project, tmp_path, parses):
    cache_dir = tmp_path / "cache"
    cold = _scan(project, cache_dir)
    entries = _entries(cache_dir)
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    entries[1].write_bytes(b"\x00\xff garbage")
    sig, _, body = entries[2].read_bytes().partition(b"\n")
    entries[2].write_bytes(sig + b"\n" + body.replace(b'"findings":[', b'"findings":[["MLD101",[1,1,1,2,1,"<module>","x",null,null,null],"forged","",null,null],', 1))
    parses.clear()
    warm = _scan(project, cache_dir)
    assert len(parses) == 3
    assert _json(warm) == _json(cold)
    assert all(p.read_bytes()[:64] != b"" for p in entries) and _entries(cache_dir) == entries
    parses.clear()
    _scan(project, cache_dir)
    assert parses == [], "the rebuilt entries are good"


def test_entries_signed_elsewhere_are_not_trusted(project, tmp_path, parses, monkeypatch):
    """A cache folder committed into a pull request (or copied from another machine) is
    signed with another secret: nothing in it is used."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-home"))
    _scan(project, cache_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ci-home"))
    parses.clear()
    _scan(project, cache_dir)
    assert len(parses) == len(_entries(cache_dir)) > 0


def test_an_entry_moved_to_another_name_is_not_trusted(project, tmp_path, parses):
    """A genuine entry of a clean file, copied over another file's entry, does not hide the
    other file's findings: the signature covers the entry's name."""
    cache_dir = tmp_path / "cache"
    cold = _scan(project, cache_dir)
    entries = _entries(cache_dir)
    empty = [p for p in entries if b'"findings":[]' in p.read_bytes()]
    full = [p for p in entries if b'"findings":[]' not in p.read_bytes()]
    assert empty and full
    for p in full:
        p.write_bytes(empty[0].read_bytes())
    parses.clear()
    assert _json(_scan(project, cache_dir)) == _json(cold)
    assert len(parses) == len(full)


def test_no_secret_no_cache(project, tmp_path, monkeypatch):
    (tmp_path / "home-is-a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-is-a-file"))
    cache_dir = tmp_path / "cache"
    assert _json(_scan(project, cache_dir)) == _json(_scan(project, None))
    assert not _entries(cache_dir) if cache_dir.exists() else True


def test_the_secret_is_private_and_replaced_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = cache_mod.user_secret()
    path = tmp_path / "mldebt" / "secret"
    assert first is not None and len(first) == 32 and path.stat().st_mode & 0o077 == 0
    assert cache_mod.user_secret() == first
    path.write_bytes(b"short")
    second = cache_mod.user_secret()
    assert second is not None and second != first and len(second) == 32


# --- where it lives ----------------------------------------------------------------------

def _cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mldebt", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False, timeout=300)


def test_default_folder_ignores_itself_and_no_cache_writes_nothing(project, monkeypatch):
    monkeypatch.delenv("MLDEBT_CACHE_DIR")
    done = _cli(project, "scan", "--no-cache", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    assert not (project / ".mldebt_cache").exists()
    done = _cli(project, "scan", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    assert (project / ".mldebt_cache" / ".gitignore").read_text().strip().endswith("*")
    assert _entries(project / ".mldebt_cache")
    again = _cli(project, "scan", "--format", "json")
    assert json.loads(again.stdout) == json.loads(done.stdout)


def test_cache_dir_option_and_configuration(project, tmp_path, monkeypatch):
    monkeypatch.delenv("MLDEBT_CACHE_DIR")
    done = _cli(project, "scan", "--cache-dir", str(tmp_path / "elsewhere"))
    assert done.returncode in (0, 1), done.stderr
    assert _entries(tmp_path / "elsewhere") and not (project / ".mldebt_cache").exists()
    (project / "pyproject.toml").write_text('[tool.mldebt]\ncache-dir = "build/lint-cache"\n', encoding="utf-8")
    done = _cli(project, "scan")
    assert done.returncode in (0, 1), done.stderr
    assert _entries(project / "build" / "lint-cache")


def test_a_symlinked_default_folder_is_not_followed(project, tmp_path, monkeypatch):
    """A repository cannot steer the scan's writes elsewhere with a `.mldebt_cache` link."""
    monkeypatch.delenv("MLDEBT_CACHE_DIR")
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / ".mldebt_cache").symlink_to(outside, target_is_directory=True)
    done = _cli(project, "scan", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    assert list(outside.iterdir()) == []


def test_concurrent_scans_share_the_cache_safely(project, tmp_path):
    """Four scans at once (two workers each) into one empty cache: every report equals the
    uncached one, no temporary file is left, and the cache they built is complete."""
    cache_dir = tmp_path / "cache"
    expected = _json(_scan(project, None))
    procs = [subprocess.Popen([sys.executable, "-m", "mldebt", "scan", str(project), "--format", "json",
                               "--jobs", "2", "--cache-dir", str(cache_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for (out, err), p in zip(outs, procs):
        assert p.returncode in (0, 1), err
        assert json.loads(out)["findings"] == expected["findings"]
    assert not [p for p in (cache_dir / "files").rglob(".*") if p.is_file()], "temporary files left"
    assert _json(_scan(project, cache_dir)) == expected


# --- pre-commit: a few files, the rest from the cache -----------------------------------

def _subset(report: Report, paths: set[str]) -> list[dict]:
    data = _json(report)
    return [f for f in data["findings"] if f["path"] in paths]


@pytest.mark.parametrize("name", ["tabular-churn", "vision-trainer-hydra", "credit-risk-sklearn"])
def test_named_files_report_what_a_full_scan_reports_for_them(name, tmp_path, parses, monkeypatch):
    """What pre-commit does: the changed files are named. Only they are parsed once the
    cache holds the rest, and their findings (project rules' included) equal a full scan's."""
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    monkeypatch.chdir(dest)
    cache_dir = tmp_path / "cache"
    sources = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py"))
    _scan(dest, cache_dir)  # the first run builds the cache
    changed = sources[:: max(1, len(sources) // 3)][:3]
    for rel in changed:
        path = dest / rel
        path.write_text(path.read_text() + "\n\nimport random\nJITTER = random.random() * 0.05\n")
    parses.clear()
    named = run_scan(ScanRequest(targets=tuple(Path(rel) for rel in changed), jobs=1, cache=True,
                                 cache_dir=cache_dir))
    assert sorted(parses) == sorted(changed)
    full = _scan(dest, None)
    assert _subset(named, set(changed)) == _subset(full, set(changed))
    assert {f.path for f in named.findings} <= set(changed) | {p for p in {f.path for f in full.findings}
                                                               if not p.endswith(".py")}
    # and cold (no cache yet): the same answer
    cold = run_scan(ScanRequest(targets=tuple(Path(rel) for rel in changed), jobs=1, cache=True,
                                cache_dir=tmp_path / "cold"))
    assert _subset(cold, set(changed)) == _subset(full, set(changed))


def test_result_order_is_kept_with_hits_and_misses(tmp_path):
    """analyse_files returns results in the order of its jobs, hits and misses mixed."""
    from mldebt.cache import open_cache

    jobs = [engine.FileJob(str(p), p.relative_to(FIXTURES).as_posix(), p.stem, False, False)
            for p in sorted((FIXTURES / PROJECT).rglob("*.py"))]
    cache = open_cache(tmp_path / "cache", [], {})
    assert cache is not None and len(jobs) > 4
    first = engine.analyse_files(jobs[::2], [], {}, 1, cache=cache)
    results = engine.analyse_files(jobs, [], {}, 1, cache=cache)
    assert [r.path for r in results] == [j.path for j in jobs]
    assert results[::2] == first


# --- housekeeping ------------------------------------------------------------------------

def test_a_full_scan_prunes_what_stayed_unused(project, tmp_path):
    """Entries of edited or deleted files and folders of old settings go once unused for a
    week; entries still current and recent ones stay."""
    from mldebt.cache import STALE_AFTER

    cache_dir = tmp_path / "cache"
    _scan(project, cache_dir)
    current = _entries(cache_dir)
    key_folder = current[0].parent.parent
    old = os.path.getmtime(current[0]) - STALE_AFTER - 60
    stale = key_folder / "ab" / ("ab" + "0" * 62)
    recent = key_folder / "cd" / ("cd" + "0" * 62)
    for p in (stale, recent):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    other = cache_dir / "files" / ("0" * 24)
    other.mkdir()
    leftover = key_folder / "ab" / ".abcd1234-x.tmp"  # what a killed scan leaves
    leftover.write_bytes(b"half an entry")
    hour_ago = os.path.getmtime(current[0]) - 3700
    os.utime(leftover, (hour_ago, hour_ago))
    for p in (*current, stale, other):
        os.utime(p, (old, old))  # every entry looks a week old, the current ones too
    _scan(project, cache_dir)
    assert not stale.exists() and not other.exists() and not leftover.exists()
    assert recent.exists() and all(p.exists() for p in current)
    # a scan of some files only prunes nothing
    os.utime(recent, (old, old))
    _scan(project / sorted(p.name for p in project.iterdir() if p.is_dir() and not p.name.startswith("."))[0],
          cache_dir)
    assert recent.exists()


def test_clean_removes_the_cache_and_only_ours(project, tmp_path, monkeypatch):
    monkeypatch.delenv("MLDEBT_CACHE_DIR")
    assert _cli(project, "scan").returncode in (0, 1)
    assert (project / ".mldebt_cache").is_dir()
    done = _cli(project, "clean")
    assert done.returncode == 0 and not (project / ".mldebt_cache").exists(), done.stderr
    assert "no cache" in _cli(project, "clean").stderr
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    done = _cli(project, "clean", "--cache-dir", str(precious))
    assert done.returncode == 2 and (precious / "thesis.tex").exists()
