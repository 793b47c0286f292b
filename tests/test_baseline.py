"""The baseline: accept today's debt once, then fail on new findings only — on real git repos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mldebt import baseline as baselines
from mldebt.model import Status
from mldebt.scan import ScanRequest, run_scan, scan_with_baseline

ROOT = Path(__file__).resolve().parents[1]

SCORE = '''\
import numpy as np
from sklearn.linear_model import LogisticRegression


def flag_risky(model: LogisticRegression, X: np.ndarray) -> np.ndarray:
    """Customers likely to churn."""
    probs = model.predict_proba(X)[:, 1]
    return probs > 0.73


def report(model, X):
    scores = model.predict_proba(X)[:, 1]
    return int((scores >= 0.9).sum())
''' + "".join(f'''

def feature_{i}(frame):
    """Derived column {i}."""
    return frame["amount"].rolling({i + 2}).mean() * {i + 1}
''' for i in range(30))


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "churn").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD301"]\nbaseline = ".mldebt-baseline.json"\n')
    (root / "churn" / "__init__.py").write_text("")
    (root / "churn" / "score.py").write_text(SCORE)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


def mldebt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mldebt", *args], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False)


def scan(root: Path):
    report, found, _ = scan_with_baseline(ScanRequest(targets=(root,), jobs=1))
    return report


def counts(report) -> tuple[int, int, int]:
    return report.summary.new, report.summary.known, report.summary.fixed


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path)
    done = mldebt(root, "baseline", "create")
    assert done.returncode == 0, done.stderr
    git(root, "add", "-A")
    git(root, "commit", "-qm", "baseline")
    return root


def test_a_fresh_baseline_accepts_everything(repo):
    report = scan(repo)
    assert counts(report) == (0, 2, 0)
    assert all(f.status is Status.KNOWN for f in report.findings)
    done = mldebt(repo, "scan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new, 2 known, 0 fixed" in done.stdout


def test_regenerating_on_an_unchanged_tree_is_byte_identical(repo):
    first = (repo / ".mldebt-baseline.json").read_bytes()
    assert mldebt(repo, "baseline", "create").returncode == 0
    assert (repo / ".mldebt-baseline.json").read_bytes() == first
    data = json.loads(first)
    assert data["version"] == 1 and [e["count"] for e in data["entries"]] == [1, 1]
    assert "line" not in first.decode() and "0.1.0" not in first.decode()


def test_moved_rewrapped_commented_and_renamed_code_stays_known(repo):
    path = repo / "churn" / "score.py"
    text = path.read_text()
    filler = "".join(f"CONSTANT_{i} = {i}\n" for i in range(50))
    text = text.replace("from sklearn.linear_model import LogisticRegression\n",
                        "from sklearn.linear_model import LogisticRegression\n\n" + filler)
    text = text.replace("    return probs > 0.73\n", "    return (probs  # the risky ones\n            > 0.73)\n")
    path.write_text(text)
    (repo / "churn" / "scoring").mkdir()
    git(repo, "mv", "churn/score.py", "churn/scoring/score.py")
    report = scan(repo)
    assert counts(report) == (0, 2, 0), [(f.path, f.line, f.status) for f in report.findings]
    assert {f.path for f in report.findings} == {"churn/scoring/score.py"}


def test_a_renamed_function_keeps_its_findings_known(repo):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text().replace("def flag_risky(", "def flag_customers_at_risk("))
    assert counts(scan(repo)) == (0, 2, 0)


def test_a_second_identical_threshold_is_exactly_one_new(repo):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text().replace("    return probs > 0.73\n",
                                             "    early = probs > 0.73\n    return probs > 0.73\n"))
    report = scan(repo)
    assert counts(report) == (1, 2, 0)
    done = mldebt(repo, "scan")
    assert done.returncode == 1 and "1 new, 2 known, 0 fixed" in done.stdout


def test_a_changed_value_is_one_new_and_one_fixed(repo):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text().replace("probs > 0.73", "probs > 0.8"))
    report = scan(repo)
    assert counts(report) == (1, 1, 1)
    [new] = [f for f in report.findings if f.status is Status.NEW]
    assert "0.8" in new.message


def test_a_variable_renamed_around_the_same_value_is_an_edit_in_place(repo):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text().replace("probs", "p_churn"))
    assert counts(scan(repo)) == (0, 2, 0)


def test_a_deleted_finding_is_fixed_and_prune_removes_it_but_never_adds(repo):
    path = repo / "churn" / "score.py"
    text = path.read_text().replace("    return int((scores >= 0.9).sum())\n", "    return int(scores.argmax())\n")
    path.write_text(text)
    assert counts(scan(repo)) == (0, 1, 1)
    assert mldebt(repo, "scan").returncode == 0  # fixed debt never fails the plain gate
    strict = mldebt(repo, "scan", "--strict-baseline")
    assert strict.returncode == 1 and "baseline prune" in strict.stderr
    text += "\n\ndef gate(model, X):\n    return model.predict_proba(X)[:, 1] > 0.42\n"  # a new one
    path.write_text(text)
    report = scan(repo)
    assert counts(report) == (1, 1, 1)
    before = json.loads((repo / ".mldebt-baseline.json").read_text())
    done = mldebt(repo, "baseline", "prune")
    assert done.returncode == 0, done.stderr
    after = json.loads((repo / ".mldebt-baseline.json").read_text())
    assert len(after["entries"]) == len(before["entries"]) - 1
    assert counts(scan(repo)) == (1, 1, 0)  # the new finding stays new: prune never adds


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "corrupt or truncated"),
    ('{"version": 1, "fingerprint_algorithm": 1, "entries": [{"rule": "MLD301"', "corrupt or truncated"),
    ('{"version": 99, "fingerprint_algorithm": 1, "entries": []}', "version 99"),
    ('{"version": 1, "fingerprint_algorithm": 1, "entries": [{"rule": "MLD301"}]}', "entry 1"),
    ("[]", "not an mldebt baseline"),
])
def test_a_bad_baseline_is_a_one_line_error_never_a_guess(repo, content, says):
    (repo / ".mldebt-baseline.json").write_text(content)
    done = mldebt(repo, "scan")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert says in line and ".mldebt-baseline.json" in line


def test_a_missing_baseline_named_on_the_command_line_is_an_error(repo):
    done = mldebt(repo, "scan", "--baseline", "nope.json")
    assert done.returncode == 2 and "no such baseline" in done.stderr


def test_the_json_report_says_known_and_fixed(repo):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text().replace("probs > 0.73", "probs > 0.8"))
    done = mldebt(repo, "scan", "--format", "json", "--exit-zero")
    data = json.loads(done.stdout)
    assert data["summary"]["fixed"] == 1 and data["summary"]["baseline"] == ".mldebt-baseline.json"
    assert sorted(f["status"] for f in data["findings"]) == ["known", "new"]


def test_matching_is_count_aware_across_tiers():
    report = run_scan(ScanRequest(targets=(ROOT / "fixtures" / "tabular-churn",), jobs=1))
    made = baselines.from_findings(report.findings)
    assert made.total == len(report.findings)
    doubled = baselines.Baseline(tuple(e for e in made.entries))
    m = baselines.match(report.findings + report.findings, doubled)
    assert sum(f.status is Status.KNOWN for f in m.findings) == len(report.findings)
    assert m.fixed == 0


def test_baseline_create_without_git(tmp_path):
    shutil.copytree(ROOT / "fixtures" / "tabular-churn", tmp_path / "churn")
    done = mldebt(tmp_path / "churn", "baseline", "create", "--baseline", "debt.json")
    assert done.returncode == 0, done.stderr
    again = mldebt(tmp_path / "churn", "scan", "--baseline", "debt.json")
    assert again.returncode == 0 and " 0 new" in again.stdout.replace("(0 new", " 0 new")


# --- diff mode ------------------------------------------------------------------------

def test_diff_reports_only_what_the_change_adds(repo, monkeypatch):
    monkeypatch.delenv("MLDEBT_CACHE_DIR")  # the default cache folder, at the project root
    (repo / ".mldebt-baseline.json").unlink()
    (repo / "pyproject.toml").write_text('[tool.mldebt]\nselect = ["MLD301", "MLD5"]\n')
    (repo / "churn" / "load.py").write_text("import pandas as pd\n\ndef load():\n    return pd.read_csv('data/clean.csv')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "loader")
    base = scan(repo)
    git(repo, "checkout", "-qb", "feature")
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text() + "\n\ndef gate(model, X):\n    return model.predict_proba(X)[:, 1] > 0.42\n")
    # a new step writing the file the untouched loader reads: debt appears in load.py
    (repo / "churn" / "prepare.py").write_text(
        "import sys\n\nimport pandas as pd\n\nif __name__ == '__main__':\n"
        "    pd.read_json(sys.argv[1]).to_csv('data/clean.csv')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")
    done = mldebt(repo, "scan", "--diff", "main" if "main" in git(repo, "branch") else "master", "--format", "json")
    data = json.loads(done.stdout)
    new = sorted((f["path"], f["rule"]) for f in data["findings"] if f["status"] == "new")
    assert new == [("churn/load.py", "MLD503"), ("churn/score.py", "MLD301")], new
    assert data["summary"]["fixed"] == 1  # the loader's MLD501 became an MLD503
    assert data["summary"]["known"] == len(base.findings) - 1
    assert data["summary"]["baseline"].startswith("diff:")
    assert done.returncode == 1
    assert (repo / ".mldebt_cache" / "diff").is_dir() and "worktrees" not in git(repo, "worktree", "list")
    assert list((repo / ".mldebt_cache" / "files").glob("*/*/*"))  # file results, reused by the base's scan
    again = mldebt(repo, "scan", "--diff", "HEAD~1", "--format", "json")
    assert json.loads(again.stdout)["summary"]["new"] == 2  # the cached base gives the same answer
    assert git(repo, "status", "--porcelain") == ""  # nothing written into the tree but ignored cache


def test_a_base_scan_that_missed_a_file_is_not_kept(repo, monkeypatch, tmp_path):
    """A file of the merge base that timed out (or whose worker died) has no findings in that
    scan; kept as the base, it would make that file's old debt look new on every later run."""
    import time

    from mldebt import engine

    (repo / ".mldebt-baseline.json").unlink()
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text() + "\n\ndef gate(model, X):\n    return model.predict_proba(X)[:, 1] > 0.42\n")
    real = engine.analyse_source

    def slow_base(job, data, *args, **kwargs):
        if "worktrees" in job.abspath:  # only the merge base's copy
            time.sleep(5)
        return real(job, data, *args, **kwargs)

    monkeypatch.setattr(engine, "analyse_source", slow_base)
    cache = tmp_path / "cache"
    request = ScanRequest(targets=(repo,), jobs=1, diff="HEAD", cache=True, cache_dir=cache, file_timeout=0.5)
    report, _, _ = scan_with_baseline(request)
    assert {f.status for f in report.findings} == {Status.NEW}  # nothing at the base: all new, this time
    assert not list((cache / "diff").glob("*"))  # but that base is not kept
    monkeypatch.setattr(engine, "analyse_source", real)
    report, _, _ = scan_with_baseline(request)
    assert sorted(f.status.value for f in report.findings) == ["known", "known", "new"]
    assert list((cache / "diff").glob("*"))


def test_diff_in_a_shallow_clone_says_how_to_fetch_the_base(repo, tmp_path):
    path = repo / "churn" / "score.py"
    path.write_text(path.read_text() + "\nX = 1\n")
    git(repo, "commit", "-qam", "more")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True)
    done = mldebt(clone, "scan", "--diff", "HEAD~1")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "shallow" in line


def test_diff_outside_git_is_a_clear_error(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    done = mldebt(tmp_path, "scan", "--diff", "HEAD")
    assert done.returncode == 2 and "git" in done.stderr
