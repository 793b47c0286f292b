"""The pure helpers of benchmarks/bench_all.py: mode names, targets, the changed file, the table."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_all.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_all", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_all"] = module
    spec.loader.exec_module(module)
    return module


ba = _load()


def test_skip_names_modes_and_rejects_unknown_ones():
    assert ba.parse_skip("") == frozenset()
    assert ba.parse_skip("ruff, pylint,") == {"ruff", "pylint"}
    with pytest.raises(ValueError, match="unknown mode"):
        ba.parse_skip("cold1,hot")


def test_cache_options_are_detected_from_the_help():
    assert ba.cache_flags("  --no-cache  Analyse every file again\n  --cache-dir DIRECTORY  Keep")
    assert not ba.cache_flags("  --jobs INTEGER  Worker processes")


def test_the_changed_file_is_a_non_empty_py_file_of_median_size():
    sizes = [("a/__init__.py", 0), ("a/big.py", 9000), ("a/mid.py", 500), ("a/small.py", 100),
             ("a/data.json", 700), ("a/other.py", 600)]
    assert ba.pick_changed_file(sizes) == "a/other.py"  # 100, 500, [600], 9000
    assert ba.pick_changed_file(sizes) == ba.pick_changed_file(list(reversed(sizes)))  # order-free
    with pytest.raises(ValueError):
        ba.pick_changed_file([("a/__init__.py", 0), ("b.txt", 10)])


def test_targets_are_ratios_to_the_floor_or_wall_clock():
    assert ba.judge("cold1", 25.0, 10.0, None) is True
    assert ba.judge("cold1", 25.1, 10.0, None) is False
    assert ba.judge("cold", 14.0, 10.0, None) is True
    assert ba.judge("warm", 0.4, 10.0, 0.5) is True
    assert ba.judge("warm", 0.4, 10.0, 0.3) is False  # slower than ruff
    assert ba.judge("warm", 0.6, 10.0, None) is False  # over 0.05x
    assert ba.judge("changed", 0.99, 100.0, None) is True
    assert ba.judge("changed", 1.0, 100.0, None) is False
    assert ba.judge("build", 5.0, 10.0, None) is None  # printed, no target
    assert ba.judge("cold1", None, 10.0, None) is None  # not run
    assert ba.judge("cold1", 5.0, None, None) is None  # no floor


def test_memory_target_is_one_gib_for_the_largest_process():
    assert ba.judge_rss([200.0, None, 1023.0]) is True
    assert ba.judge_rss([200.0, 1024.0]) is False
    assert ba.judge_rss([None]) is None
    assert [ba.verdict(v) for v in (True, False, None)] == ["pass", "FAIL", ""]


def test_table_aligns_columns():
    text = ba.table([["mode", "seconds"], ["floor", "1.00"], ["cold scan", "12.50"]])
    lines = text.splitlines()
    assert lines[0] == "mode       seconds"
    assert lines[1] == "---------  -------"
    assert lines[2] == "floor         1.00"
    assert lines[3] == "cold scan    12.50"


def test_interpreter_of_a_console_script_is_its_shebang(tmp_path):
    script = tmp_path / "pylint"
    script.write_text("#!/opt/peers/bin/python3\nimport sys\n", encoding="utf-8")
    assert ba.interpreter_of(str(script)) == "/opt/peers/bin/python3"
    binary = tmp_path / "bin" / "pylint"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF")
    assert ba.interpreter_of(str(binary)) == str(tmp_path / "bin" / "python")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_copy_is_a_committed_git_repository_and_the_corpus_is_untouched(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "pkg").mkdir(parents=True)
    (corpus / "pkg" / "m.py").write_text("X = 1\n", encoding="utf-8")
    (corpus / ".mldebt_cache").mkdir()
    copy = tmp_path / "copy"
    ba.make_copy(corpus, copy)
    assert not (corpus / ".git").exists()
    assert not (copy / ".mldebt_cache").exists()
    tracked = subprocess.run(["git", "ls-files"], cwd=copy, capture_output=True, text=True, check=True).stdout
    assert tracked.split() == ["pkg/m.py"]
    assert ba.file_sizes(copy) == [("pkg/m.py", 6)]
