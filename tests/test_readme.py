"""The README stays true: the rule table matches the catalog, CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from mldebt.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_rules_table_lists_every_rule_with_its_smell_and_severity():
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `?(MLD\d{3})`? \|.*$", README, re.M)}
    catalog = load_catalog()
    assert set(rows) == {r.code for r in catalog.rules}
    for spec in catalog.rules:
        row = rows[spec.code]
        assert spec.name in row and spec.smell in row and spec.severity.value in row, row


def test_rules_table_is_what_mldebt_rules_prints_in_markdown():
    from click.testing import CliRunner

    from mldebt.cli import cli

    table = CliRunner().invoke(cli, ["rules", "--format", "markdown"]).output
    assert table.strip() in README, "regenerate the README table with `mldebt rules --format markdown`"


def test_setup_is_two_commands_and_ci_runs_the_readme_test_command():
    blocks = _sh_blocks()
    assert len(blocks) >= 2
    install, test = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in install and "\n" not in test
    assert "pip install" in install and "mldebt scan fixtures/" in install
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()
