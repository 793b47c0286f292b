"""Test-wide settings: no test touches the user's real cache or writes a cache into the
project's own fixtures."""

from __future__ import annotations

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
