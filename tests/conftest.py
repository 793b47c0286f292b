"""Test-wide settings: no test touches the user's real cache or writes a cache into the
project's own fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _user_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
                    _user_cache_home: Path) -> None:
    """The signing secret lives in a test-only home; each test's CLI scans get a fresh file
    cache outside the scanned tree (tests of the cache itself set their own)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_user_cache_home))
    monkeypatch.setenv("MLDEBT_CACHE_DIR", str(tmp_path_factory.mktemp("mldebt-cache")))
    monkeypatch.delenv("MLDEBT_NO_CACHE", raising=False)


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis (the property tests of test_fuzz.py) keeps its caches (``constants``,
    ``unicode_data``, failure ``patches``) outside the checkout, not in ``./.hypothesis``."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mldebt-hypothesis")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long fuzzing profile (``fuzz_long``) runs only when selected: ``-m fuzz_long`` (or
    any ``-m`` expression naming it) or ``MLDEBT_FUZZ_LONG=1``; a plain run skips it."""
    if "fuzz_long" in (config.getoption("markexpr", "") or "") or os.environ.get("MLDEBT_FUZZ_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long fuzzing profile: run with -m fuzz_long or MLDEBT_FUZZ_LONG=1")
    for item in items:
        if item.get_closest_marker("fuzz_long") is not None:
            item.add_marker(skip)
