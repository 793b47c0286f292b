"""Suppression comments, through the real pipeline, on a real rule (MLD301)."""

from __future__ import annotations

from mldebt.model import Status
from mldebt.testing import scan_snippets

HEAD = "import numpy as np\n\n\ndef f(clf, X):\n    probs = clf.predict_proba(X)[:, 1]\n"  # lines 1-5


def scan(body: str, select=None):
    report = scan_snippets({"m.py": HEAD + body}, select=select)
    assert not report.errors
    return report


def rules_at(report):
    return sorted((f.rule, f.line, f.status.value) for f in report.findings)


def test_unsuppressed_baseline():
    assert rules_at(scan("    return probs > 0.73\n")) == [("MLD301", 6, "new")]


def test_ignore_on_the_flagged_line_hides_and_counts():
    r = scan("    return probs > 0.73  # mldebt: ignore[MLD301] -- agreed with product\n")
    assert rules_at(r) == []
    assert r.summary.ignored == 1


def test_ignore_by_rule_name_and_bare_ignore():
    assert rules_at(scan("    return probs > 0.73  # mldebt: ignore[hard-coded-threshold] -- ok\n")) == []
    assert rules_at(scan("    return probs > 0.73  # mldebt: ignore -- everything here is fine\n")) == []


def test_ignore_on_the_first_line_of_a_multiline_statement():
    body = ("    mask = np.where(  # mldebt: ignore[MLD301] -- calibrated\n"
            "        probs > 0.73,\n"
            "        1, 0)\n"
            "    return mask\n")
    r = scan(body)
    assert rules_at(r) == [] and r.summary.ignored == 1


def test_ignore_on_another_line_of_the_statement_does_not_apply():
    body = ("    mask = np.where(\n"
            "        probs > 0.73,\n"
            "        1, 0)  # mldebt: ignore[MLD301] -- wrong line\n")
    r = scan(body)
    assert ("MLD301", 7, "new") in rules_at(r)
    assert ("MLD001", 8, "new") in rules_at(r)  # and the stray directive is reported


def test_fixme_keeps_the_finding_as_known_debt_that_does_not_gate():
    r = scan("    return probs > 0.73  # mldebt: fixme[MLD301] -- JIRA-123\n")
    assert rules_at(r) == [("MLD301", 6, "fixme")]
    assert r.summary.fixme == 1 and r.summary.new == 0
    assert r.gating == ()


def test_ignore_file():
    r = scan_snippets({"m.py": "# mldebt: ignore-file[MLD301] -- legacy notebook export\n" + HEAD
                       + "    return probs > 0.73\n"})
    assert rules_at(r) == [] and r.summary.ignored == 1


def test_wrong_code_leaves_the_finding_and_reports_the_unused_directive():
    r = scan("    return probs > 0.73  # mldebt: ignore[MLD402] -- wrong code\n")
    assert rules_at(r) == [("MLD001", 6, "new"), ("MLD301", 6, "new")]


def test_directive_for_a_rule_that_did_not_run_is_not_called_unused():
    r = scan("    return probs > 0.73  # mldebt: ignore[MLD402] -- for another rule\n",
             select=["MLD301", "MLD001"])
    assert rules_at(r) == [("MLD301", 6, "new")]


def test_missing_reason_still_suppresses_but_is_reported():
    r = scan("    return probs > 0.73  # mldebt: ignore[MLD301]\n")
    assert rules_at(r) == [("MLD002", 6, "new")]
    assert r.summary.ignored == 1


def test_directive_text_inside_a_string_is_not_a_directive():
    r = scan('    note = "# mldebt: ignore[MLD301] -- not a comment"\n    return probs > 0.73, note\n')
    assert rules_at(r) == [("MLD301", 7, "new")]


def test_statuses_are_enum_values():
    r = scan("    return probs > 0.73\n")
    assert r.findings[0].status is Status.NEW
