"""The HTML debt report: one self-contained page, safe with hostile input, readable without JS.

Real scans of the fixtures, enriched here with what the scan does not fill yet (source
context, meta with the pipeline graph). Browser behaviour is in test_html_browser.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mldebt.model import (
    Confidence,
    Finding,
    Report,
    ReportMeta,
    RuleInfo,
    Severity,
    Status,
    Summary,
)
from mldebt.project.export import to_json
from mldebt.reporters import FORMATS, html
from mldebt.reporters import render as render_any
from mldebt.scan import ScanRequest, run_scan
from mldebt.testing import snippet_project

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
GENERATED = "2026-01-01T00:00:00+00:00"
XSS_LITERAL = "</script><script>alert(1)</script>"
XSS_FILE = "<img src=x onerror=alert(1)>.py"


# ---------------------------------------------------------------------------------------------
# Building reports


def with_context(report: Report, root: Path, around: int = 3) -> Report:
    findings = []
    for f in report.findings:
        try:
            lines = (root / f.path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        if f.cell is not None or not lines:
            findings.append(f)
            continue
        start = max(1, f.line - around)
        end = min(len(lines), f.end_line + around)
        findings.append(dataclasses.replace(f, context=tuple(lines[start - 1:end]), context_start=start))
    return dataclasses.replace(report, findings=tuple(findings))


def pipeline_of(root: Path) -> dict[str, Any]:
    files = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
             for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix in {".py", ".sh", ".yaml", ".yml", ".ipynb"} or p.name == "Makefile"}
    g = snippet_project(files, dedent=False).pipeline.to_networkx(root.name)
    return json.loads(to_json(g))


def enriched(name: str, *, commit: str | None = "0123456789abcdef", pipeline: bool = True) -> Report:
    root = FIXTURES / name
    report = with_context(run_scan(ScanRequest(targets=(root,), jobs=1)), root)
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in root.rglob("*.py"))
    meta = ReportMeta(name, GENERATED, lines, commit, "main", pipeline_of(root) if pipeline else None)
    return dataclasses.replace(report, meta=meta)


@pytest.fixture(scope="module")
def jungle() -> Report:
    return enriched("pipeline-jungle")


@pytest.fixture(scope="module")
def jungle_page(jungle: Report) -> str:
    return html.render(jungle)


def synthetic(n: int, *, path: str = "pkg/mod.py", context: tuple[str, ...] = ("x = 1",),
              message: str = "a finding", doc: str = "## What it does\nFlags things.\n") -> Report:
    rule = RuleInfo("MLD301", "hard-coded-threshold", "hard-coded-threshold", Severity.WARNING,
                    Confidence.HIGH, "summary", "hint", doc, 15)
    findings = tuple(
        Finding("MLD301", "hard-coded-threshold", "hard-coded-threshold",
                (Severity.ERROR, Severity.WARNING, Severity.INFO)[i % 3], Confidence.HIGH,
                path if n == 1 else f"pkg{i % 50}/m{i}.py", 1, 1, 1, 6, message, "use config",
                (Status.NEW, Status.KNOWN, Status.FIXME)[i % 3], f"fp{i}", 15,
                context=context, context_start=1)
        for i in range(n))
    new = sum(1 for f in findings if f.status is Status.NEW)
    summary = Summary(files=max(1, n), findings=n, new=new, known=n - new, fixme=0, ignored=0, errors=0,
                      by_smell={"hard-coded-threshold": n}, by_rule={"MLD301": n},
                      by_severity={"warning": n}, debt_minutes=15 * n)
    return Report(1, "mldebt", "0.0.0", "/example", findings, (), summary, rules=(rule,),
                  meta=ReportMeta("example", GENERATED, 1000))


# ---------------------------------------------------------------------------------------------
# Parsing the page with the standard library


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._skip = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.tags.append((tag, d))
        if d.get("id"):
            self.ids.add(str(d["id"]))
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    @property
    def body(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [d for t, d in self.tags if t == tag and all(attr in (d.get(k) or "").split() or d.get(k) == attr
                                                             for k, attr in attrs.items())]


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img", "base"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), f"inline handler {name} on <{tag}>"
            if name in ("src", "href", "action", "xlink:href", "srcset", "poster"):
                assert not re.match(r"\s*(https?:|//|javascript:)", value or "", re.IGNORECASE), (tag, name, value)
    scripts = page.find("script")
    assert len(scripts) == 1 and "src" not in scripts[0]
    styles = re.findall(r"<style>(.*?)</style>", text, re.DOTALL)
    assert len(styles) == 1 and "url(" not in styles[0] and "@import" not in styles[0]
    # any http(s) left is text (rule docs cite papers), never markup
    for m in re.finditer(r"https?://", text):
        before = text[max(0, m.start() - 8):m.start()]
        assert not re.search(r"""(=["']?|url\()\s*$""", before), before
    return page


# ---------------------------------------------------------------------------------------------
# The page


def test_html_is_a_format_and_goes_through_render(jungle: Report) -> None:
    assert "html" in FORMATS
    text = render_any(jungle, "html", color=True, include_known=False)
    assert text.startswith("<!DOCTYPE html>") and text.endswith("\n")
    assert text == html.render(jungle)


def test_page_is_self_contained_and_has_every_section(jungle: Report, jungle_page: str) -> None:
    page = assert_self_contained(jungle_page)
    assert {"header", "debt", "offenders", "pipeline", "findings"} <= page.ids
    body = page.body
    assert "pipeline-jungle" in body and "0123456789ab" in body and "main" in body and "1 Jan 2026, 00:00 UTC" in body
    assert any(d.get("datetime") == GENERATED for d in page.find("time"))
    assert f"mldebt {jungle.tool_version}" in body
    s = jungle.summary
    for label, value in [("new", s.new), ("known", s.known), ("fixed", s.fixed), ("fixme", s.fixme),
                         ("ignored", s.ignored)]:
        assert f"{value} {label}" in body
    gating = len(jungle.gating)
    assert gating > 0
    assert f"{gating} new findings fail the gate" in body
    assert html.duration(s.debt_minutes) in body
    # charts are SVG drawn from the data: one bar per smell with findings
    smells = [k for k, v in s.by_smell.items() if v]
    bars = [d for d in page.find("g") if "bar" in (d.get("class") or "").split()]
    assert len(bars) == len(smells) + len([v for v in s.by_severity.values() if v])
    # worst offenders name the file with most debt
    top = html._offenders(jungle.findings, lambda f: f.path)[0]["name"]
    assert top in body


def test_gate_passes_when_nothing_new_is_at_fail_on() -> None:
    report = synthetic(3)
    known = tuple(dataclasses.replace(f, status=Status.KNOWN) for f in report.findings)
    page = Page(html.render(dataclasses.replace(report, findings=known)))
    assert "The gate passes" in page.body
    assert Page(html.render(synthetic(1))).body.count("1 new finding fails the gate") == 1


def test_pipeline_graph_is_drawn_with_jungles_and_undeclared_reads(jungle: Report, jungle_page: str) -> None:
    assert jungle.meta is not None and jungle.meta.pipeline and jungle.meta.pipeline["jungles"]
    page = Page(jungle_page)
    nodes = [d for d in page.find("g") if "node" in (d.get("class") or "").split()]
    assert len(nodes) == len(jungle.meta.pipeline["nodes"])
    classes = [d.get("class") or "" for d in page.find("path")]
    assert any("edge" in c and "undeclared" in c for c in classes)
    assert any("edge" in c and "jungle" in c for c in classes)
    assert any("kind-artifact" in (d.get("class") or "") for d in nodes)


def test_no_pipeline_gives_a_note_not_an_empty_box() -> None:
    text = html.render(synthetic(2))
    assert 'class="pipeline"' not in text
    assert "No pipeline graph in this report" in Page(text).body


def test_large_graphs_are_reduced_with_a_note() -> None:
    nodes = [{"id": f"s{i}.py", "kind": "step", "label": f"s{i}.py"} for i in range(30)]
    nodes += [{"id": f"data:d{i % 7}/f{i}.csv", "kind": "artifact", "label": f"d{i % 7}/f{i}.csv",
               "declared": False} for i in range(300)]
    edges = [{"source": f"data:d{i % 7}/f{i}.csv", "target": f"s{i % 30}.py", "kind": "reads",
              "declared": False} for i in range(300)]
    edges += [{"source": "s1.py", "target": "s2.py", "kind": "runs"}, {"source": "s2.py", "target": "s1.py",
                                                                         "kind": "runs"}]  # a cycle
    layout = html.pipeline_layout({"nodes": nodes, "edges": edges, "jungles": []})
    assert layout is not None
    assert layout["total"] == 330 and layout["shown"] <= html.MAX_GRAPH_NODES
    assert "run `mldebt graph`" in layout["note"]
    small = html.pipeline_layout({"nodes": nodes[:5], "edges": [], "jungles": []})
    assert small is not None and small["shown"] == 5 and small["note"] == ""
    # cycles are broken: every node gets a place
    cyc = html.pipeline_layout({"nodes": nodes[:3], "jungles": [], "edges": [
        {"source": "s0.py", "target": "s1.py", "kind": "runs"}, {"source": "s1.py", "target": "s2.py", "kind": "runs"},
        {"source": "s2.py", "target": "s0.py", "kind": "runs"}]})
    assert cyc is not None and cyc["shown"] == 3 and any("back" in e["cls"] for e in cyc["edges"])


def test_findings_table_lists_every_finding_without_javascript(jungle: Report, jungle_page: str) -> None:
    page = Page(jungle_page)
    rows = page.find("tr", **{"class": "finding"})
    assert len(rows) == len(jungle.findings)
    assert {r["data-file"] for r in rows} == {f.path for f in jungle.findings}
    assert all(r.get("data-status") in {"new", "known", "fixme"} for r in rows)
    assert f"showing {len(rows)} of {len(rows)}" in page.body
    # sortable headers with aria-sort, a filter box, chips and the "only new" toggle
    assert {d.get("data-sort") for d in page.find("th") if d.get("data-sort")} == {"sev", "smell", "rule", "file",
                                                                                   "status"}
    assert all(d.get("aria-sort") == "none" for d in page.find("th") if d.get("data-sort"))
    assert page.find("input", type="search") and page.find("input", type="checkbox")
    assert {d.get("data-value") for d in page.find("button", **{"class": "chip"})} >= {"new", "undeclared-data-dependency"}
    # details: context with line numbers and the span marked, the hint, the rule docs
    assert len(page.find("details")) >= len(jungle.findings)
    assert jungle_page.count("<mark>") >= sum(1 for f in jungle.findings if f.context)
    assert {f"rule-{r.code}" for r in jungle.rules} <= page.ids


def test_context_marks_the_flagged_span() -> None:
    f = synthetic(1).findings[0]
    f = dataclasses.replace(f, line=2, column=5, end_line=3, end_column=4,
                            context=("a = 1", "b = compute(x)", "c = 2", "d = 3"), context_start=1)
    lines = html.context_lines(f)
    assert [cl.number for cl in lines] == [1, 2, 3, 4]
    assert [cl.flagged for cl in lines] == [False, True, True, False]
    assert [(s.text, s.mark) for s in lines[1].segments] == [("b = ", False), ("compute(x)", True)]
    assert [(s.text, s.mark) for s in lines[2].segments] == [("c =", True), (" 2", False)]


def test_hostile_source_names_messages_and_docs_stay_text() -> None:
    doc = "## What it does\n<script>alert(2)</script> and `<b>x</b>`\n```\n</pre><script>alert(3)</script>\n```\n"
    report = synthetic(1, path=XSS_FILE, context=(f"print({XSS_LITERAL!r})",),
                       message=f"message {XSS_LITERAL} `{XSS_FILE}`", doc=doc)
    report = dataclasses.replace(report, meta=ReportMeta(XSS_FILE, GENERATED, 10, XSS_LITERAL, XSS_FILE, {
        "nodes": [{"id": XSS_FILE, "kind": "step", "label": XSS_FILE},
                  {"id": "data:" + XSS_LITERAL, "kind": "artifact", "label": XSS_LITERAL}],
        "edges": [{"source": "data:" + XSS_LITERAL, "target": XSS_FILE, "kind": "reads", "declared": False}],
        "jungles": []}))
    for text in (html.render(report), html.render_merged([report, synthetic(2)], GENERATED)):
        assert "<script>alert" not in text and "<img" not in text and "</pre><script>" not in text
        page = assert_self_contained(text)
        assert XSS_LITERAL in page.body and XSS_FILE in page.body
        assert "<script>alert(2)</script>" in page.body
        assert not page.find("img") and not page.find("b")
    js = (ROOT / "mldebt/reporters/templates/report.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js
    assert "document.write" not in js


def test_markdown_is_minimal_and_safe() -> None:
    out = str(html.markdown(
        "## What it does\n\nFlags `x > 0.5` and **this**.\n\n- one\n- two <i>\n\n1. first\n2. second\n\n"
        "```python\nif p > 0.5:\n    go()  # <script>\n```\n\n<script>alert(1)</script>"))
    assert "<h4>What it does</h4>" in out
    assert "<code>x &gt; 0.5</code>" in out and "<strong>this</strong>" in out
    assert "<ul><li>one</li><li>two &lt;i&gt;</li></ul>" in out
    assert "<ol><li>first</li><li>second</li></ol>" in out
    assert '<pre><code class="lang-python">if p &gt; 0.5:\n    go()  # &lt;script&gt;</code></pre>' in out
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in out
    assert "<script" not in out


@pytest.mark.parametrize(("minutes", "lines", "letter"), [
    (0, 100, "A"), (150, 100, "A"), (151, 100, "B"), (300, 100, "B"), (301, 100, "C"), (600, 100, "C"),
    (601, 100, "D"), (1500, 100, "D"), (1501, 100, "E"), (10, 0, "-"),
])
def test_sqale_rating_thresholds(minutes: int, lines: int, letter: str) -> None:
    # development cost = 100 lines x 30 min = 3,000 min: A <= 5 % (150), B <= 10 %, C <= 20 %, D <= 50 %
    assert html.rating(html.debt_ratio(minutes, lines)) == letter


def test_debt_ratio_takes_minutes_per_line_and_days_have_8_hours() -> None:
    assert html.debt_ratio(60, 10, 6) == 1.0
    assert html.debt_ratio(60, 10) == pytest.approx(0.2)
    assert html.duration(45) == "45m" and html.duration(200) == "3h 20m" and html.duration(8 * 60 * 2 + 240) == "2d 4h"
    report = synthetic(10)  # 150 minutes over 1,000 lines
    assert "0.5%" in Page(html.render(report)).body
    assert "50.0%" in Page(html.render(report, minutes_per_line=0.3)).body


def test_large_report_is_capped_and_says_so() -> None:
    n = html.MAX_FINDINGS + 500
    report = synthetic(n)
    t0 = time.perf_counter()
    text = html.render(report)
    elapsed = time.perf_counter() - t0
    page = Page(text)
    assert len(page.find("tr", **{"class": "finding"})) == html.MAX_FINDINGS
    assert f"Showing the first {html.MAX_FINDINGS} of {n} findings" in page.body
    assert "500 more are in the JSON and SARIF reports" in page.body
    # new findings come first: the omitted ones are the least urgent
    statuses = [d.get("data-status") for d in page.find("tr", **{"class": "finding"})]
    assert statuses[0] == "new"
    assert len(text) < 8_000_000 and elapsed < 10, (len(text), elapsed)


def test_merged_page_has_a_row_per_repository_and_totals(jungle: Report) -> None:
    reports = [jungle, enriched("tabular-churn", commit=None, pipeline=False), synthetic(4)]
    text = html.render_merged(reports, GENERATED)
    page = assert_self_contained(text)
    rows = page.find("tr", **{"class": "repo-row"})
    assert len(rows) == 3
    # most debt first
    by_debt = sorted(reports, key=lambda r: -r.summary.debt_minutes)
    slugs = [r.get("data-repo") for r in rows]
    assert slugs == [r.meta.project for r in by_debt if r.meta]
    assert {f"repo-{s}" for s in slugs} <= page.ids
    # each repository has its own findings table, anchors prefixed by the repository
    blocks = page.find("div", **{"class": "findings-block"})
    assert {b.get("data-key") for b in blocks} == set(slugs)
    total_new = sum(r.summary.new for r in reports)
    assert f"{total_new} new" in page.body
    assert html.duration(sum(r.summary.debt_minutes for r in reports)) in page.body
    assert "Total" in page.body
    assert len(page.find("tr", **{"class": "finding"})) == sum(len(r.findings) for r in reports)
    failing = sum(1 for r in reports if r.gating)
    assert f"{failing} of 3 repositories fail the gate" in page.body
    ids = [d["id"] for _, d in page.tags if d.get("id")]
    assert len(ids) == len(set(ids)), "ids are unique across repositories"


def test_merged_slugs_are_unique_for_same_named_projects() -> None:
    a, b = synthetic(1), synthetic(2)
    page = Page(html.render_merged([a, b], GENERATED))
    assert {d.get("data-repo") for d in page.find("tr", **{"class": "repo-row"})} == {"example", "example-2"}


def test_templates_are_package_data() -> None:
    from importlib import resources

    base = resources.files("mldebt.reporters").joinpath("templates")
    for name in ("report.html.j2", "merged.html.j2", "_macros.html.j2", "report.css", "report.js"):
        assert base.joinpath(name).is_file(), name


# ---------------------------------------------------------------------------------------------
# Review fixes (screenshots in tests/artifacts)


def test_pipeline_svg_scales_to_its_box_and_has_no_empty_band(jungle_page: str) -> None:
    page = Page(jungle_page)
    svg = next(d for d in page.find("svg") if "pipeline" in (d.get("class") or "").split())
    assert "width" not in svg and "height" not in svg  # sized by CSS: width 100%, height from the viewBox
    assert svg.get("preserveaspectratio") == "xMinYMin meet"
    layout = html.pipeline_layout({"nodes": [{"id": "a.py", "kind": "step"}, {"id": "b.py", "kind": "step"}],
                                   "edges": [{"source": "a.py", "target": "b.py", "kind": "runs"}]})
    assert layout is not None
    bottom = max(n["y"] + n["h"] for n in layout["nodes"])
    assert layout["height"] - bottom <= 24, "no empty space under the last node"
    css = (ROOT / "mldebt/reporters/templates/report.css").read_text(encoding="utf-8")
    assert re.search(r"svg\.pipeline \{[^}]*width: 100%;[^}]*height: auto", css)


@pytest.mark.parametrize(("label", "short"), [
    ("short.py", "short.py"),
    ("monitoring/jobs/nightly/drift/pull_prod_scores.py", "monitoring/…/pull_prod_scores.py"),
    ("s3://acme-fraud-prod/logs/scores/dt=2026/part-0000.parquet", "acme-fraud-prod/…/part-0000.parquet"),
    ("data/some/deep/folder/with/long/names/raw/*/*", "data/…/raw/*/*"),
    ("data/some/deep/folder/with/long/names/raw/*.csv", "data/…/raw/*.csv"),
])
def test_graph_labels_keep_whole_names(label: str, short: str) -> None:
    got = html._short(label, 40)
    assert got == short
    out = html._short(label)
    assert len(out) <= html._LABEL_CHARS
    assert not out.startswith("…") or "/" in out[:3], out  # never cut a name from the left


def test_graph_label_is_never_cut_mid_word_and_full_path_is_in_the_tooltip() -> None:
    label = "monitoring/pull_prod_scores.py"
    out = html._short(label)
    assert out.endswith("pull_prod_scores.py") and "toring/" not in out
    layout = html.pipeline_layout({"nodes": [{"id": label, "kind": "step", "label": label}], "edges": []})
    report = dataclasses.replace(synthetic(1), meta=ReportMeta("x", GENERATED, 10, None, None, {
        "nodes": [{"id": label, "kind": "step", "label": label}], "edges": [], "jungles": []}))
    assert layout is not None and layout["nodes"][0]["short"] == out
    assert f"<title>{label} (step)</title>" in html.render(report)


def test_finding_detail_is_a_full_width_row_that_works_without_js(jungle: Report, jungle_page: str) -> None:
    page = Page(jungle_page)
    details = page.find("tr", **{"class": "finding-detail"})
    assert len(details) == len(jungle.findings)
    assert all(d.get("data-for") for d in details)
    assert len(page.find("td", colspan="6")) == len(jungle.findings)
    # the code is in the detail row, not in the Message cell
    msg_cells = re.findall(r'<td class="msg">(.*?)</td>', jungle_page, re.DOTALL)
    assert msg_cells and all("<pre" not in c for c in msg_cells)
    # each detail is a <details> of its own in the full-width row: it opens without JS
    detail_rows = re.findall(r'<tr class="finding-detail".*?</tr>', jungle_page, re.DOTALL)
    assert all("<details" in d and "<summary>" in d for d in detail_rows)
    assert sum("<mark>" in d for d in detail_rows) >= sum(1 for f in jungle.findings if f.context)


@pytest.mark.parametrize(("ratio", "text"), [
    (None, "–"), (0.0, "0%"), (0.0004, "<0.1%"), (0.00999, "<0.1%"[:0] + "1%"), (0.0034, "0.34%"),
    (0.5, "50.0%"), (0.039, "3.9%"),
])
def test_small_debt_ratios_are_not_zero(ratio: float | None, text: str) -> None:
    if ratio == 0.00999:
        assert html.percent(ratio) == "1%"  # two significant digits
    else:
        assert html.percent(ratio) == text


def test_timestamps_are_readable_and_keep_the_iso_value() -> None:
    assert str(html.when("2026-11-27T02:35:29Z")) == '<time datetime="2026-11-27T02:35:29Z">27 Nov 2026, 02:35 UTC</time>'
    assert "01:00 UTC" in str(html.when("2026-11-27T02:00:00+01:00"))
    assert str(html.when("<b>not a date</b>")) == "&lt;b&gt;not a date&lt;/b&gt;"


def test_paths_break_only_after_slashes_and_the_line_is_separate() -> None:
    assert str(html.path_breaks("a/<b>/c.py")) == "a/<wbr>&lt;b&gt;/<wbr>c.py"
    text = html.render(synthetic(1, path="monitoring/compute_drift.py"))
    assert '<span class="file">monitoring/<wbr>compute_drift.py</span><span class="line">line 1</span>' in text


def test_filter_searches_only_file_rule_smell_and_message() -> None:
    report = synthetic(1, path="Pkg/Mod.py", context=("secret_token_in_source = 1",), message="A Finding")
    page = Page(html.render(report))
    row = page.find("tr", **{"class": "finding"})[0]
    search = row.get("data-search") or ""
    assert "pkg/mod.py" in search and "mld301" in search and "hard-coded-threshold" in search
    assert "a finding" in search and "secret_token" not in search and search == search.lower()
    js = (ROOT / "mldebt/reporters/templates/report.js").read_text(encoding="utf-8")
    assert 'getAttribute("data-search")' in js and "r.textContent.toLowerCase()" not in js


def test_merged_page_explains_the_gate_and_scrolls_to_the_repository() -> None:
    report = synthetic(3)
    assert report.gating
    page = Page(html.render_merged([report, synthetic(2)], GENERATED))
    assert f"(new findings at or above {report.fail_on.value})" in page.body
    js = (ROOT / "mldebt/reporters/templates/report.js").read_text(encoding="utf-8")
    assert "scrollIntoView" in js


def test_findings_stack_on_narrow_screens() -> None:
    css = (ROOT / "mldebt/reporters/templates/report.css").read_text(encoding="utf-8")
    narrow = css[css.index("@media (max-width: 700px)"):]
    assert "table.findings thead { display: none; }" in narrow
    assert "table.findings tr[hidden] { display: none; }" in narrow


def test_notebook_findings_show_the_cell_and_the_line_of_the_ipynb_file() -> None:
    report = enriched("research-scripts", pipeline=False)
    nb = [f for f in report.findings if f.cell is not None]
    assert nb, "the fixture should have notebook findings"
    page = html.render(report)
    for f in nb:
        assert f.file_line is not None and f.file_line > f.line
        # the row names the notebook's own line (what an editor or grep finds) and the cell
        assert f'title="{f.path}:{f.file_line} (cell {f.cell}, line {f.cell_line})"' in page
        assert f'<span class="line">cell {f.cell}, line {f.cell_line}</span>' in page
