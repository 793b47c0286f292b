"""[tool.mldebt]: strict validation, selection, per-file ignores, rule options."""

from __future__ import annotations

from pathlib import Path

import pytest

from mldebt.catalog import load_catalog
from mldebt.config import ConfigError, Overrides, build_settings, find_config, path_matches

CATALOG = load_catalog()


def _settings(tmp_path: Path, body: str, overrides: Overrides | None = None):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text("[project]\nname = 'x'\n\n[tool.mldebt]\n" + body, encoding="utf-8")
    return build_settings(CATALOG, tmp_path, cfg, overrides)


@pytest.mark.parametrize(("body", "expected"), [
    ("selct = ['MLD3']\n", "selct: unknown key (did you mean 'select'?)"),
    ("select = 'MLD3'\n", "select: expected list[str], got str"),
    ("select = ['MLD999']\n", "select: unknown rule code, name or smell 'MLD999'"),
    ("fail-on = 'fatal'\n", "fail-on: expected error, warning or info"),
    ("[tool.mldebt.rules.no-such-rule]\nx = 1\n", "rules.no-such-rule: unknown rule code or name"),
    ("[tool.mldebt.rules.MLD001]\nbogus = 1\n", "rules.MLD001.bogus: unknown option"),
    ("[tool.mldebt.per-file-ignores]\n'tests/*' = 'MLD3'\n", "per-file-ignores.tests/*: expected list[str]"),
])
def test_bad_configuration_is_one_error_naming_file_and_key(tmp_path, body, expected):
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, body)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "pyproject.toml") in message
    assert expected in message


def test_invalid_toml_is_a_config_error(tmp_path):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text("[tool.mldebt\nselect = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        build_settings(CATALOG, tmp_path, cfg)


def test_select_by_prefix_name_and_smell_then_ignore(tmp_path):
    s = _settings(tmp_path, "select = ['MLD0', 'analysis']\nignore = ['unused-suppression']\n")
    assert s.enabled == ("MLD002", "MLD003")


def test_cli_overrides_configuration(tmp_path):
    s = _settings(tmp_path, "select = ['MLD001']\nfail-on = 'error'\n",
                  Overrides(select=["MLD002"], extend_select=["MLD003"], fail_on="info"))
    assert s.enabled == ("MLD002", "MLD003")
    assert s.fail_on.value == "info"


def test_unknown_cli_selector_names_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="^--ignore: unknown rule"):
        _settings(tmp_path, "", Overrides(ignore=["MLD777"]))


def test_per_file_ignores_resolve_names_to_codes(tmp_path):
    s = _settings(tmp_path, "[tool.mldebt.per-file-ignores]\n'scripts/*.py' = ['malformed-suppression']\n")
    assert s.ignored_here("scripts/run.py", "MLD003")
    assert not s.ignored_here("src/run.py", "MLD003")
    assert not s.ignored_here("scripts/run.py", "MLD001")


def test_find_config_walks_up_and_stops_at_the_repository(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.mldebt]\n", encoding="utf-8")
    inner = tmp_path / "repo" / "src" / "pkg"
    inner.mkdir(parents=True)
    assert find_config(inner) == tmp_path / "pyproject.toml"
    (tmp_path / "repo" / ".git").mkdir()
    assert find_config(inner) is None  # a pyproject above the repository is not ours
    (tmp_path / "repo" / "pyproject.toml").write_text("[project]\nname='x'\n", encoding="utf-8")
    assert find_config(inner) is None  # no [tool.mldebt] table


@pytest.mark.parametrize(("path", "pattern", "hit"), [
    ("build/x.py", "build", True),
    ("src/build/x.py", "build", True),
    ("src/builder.py", "build", False),
    ("pkg.egg-info/x.py", "*.egg-info", True),
    ("data/raw/x.py", "data/raw", True),
    ("other/data/raw/x.py", "data/raw", False),
    ("src/a/b/gen_pb2.py", "src/**/*_pb2.py", True),
    ("notebooks/x.ipynb", "*.ipynb", True),
])
def test_path_patterns(path, pattern, hit):
    assert path_matches(path, pattern) is hit
