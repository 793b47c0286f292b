"""The HTML report in a real browser: headless Chromium (Debian's package) driven by Playwright.

Reports come from real scans of the fixture projects, enriched as ``mldebt scan --format html``
enriches them (source context, meta with the pipeline graph), rendered by the reporter, written
to a temporary folder and opened as ``file://``. Skipped, with the reason, where Playwright or
Chromium is missing. Full-page screenshots go to ``tests/artifacts/`` (not in git).

``MLDEBT_REQUIRE_BROWSER=1`` (CI) turns the skip into an error. ``MLDEBT_CHROMIUM`` names another
Chromium executable. ``MLDEBT_MEDIUM_REPORT=/path/to/medium.json`` also measures the medium benchmark corpus's page
(size, time to ``load`` and to an interactive table); it prints the figures (``-s``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import VISIBLE_ROWS_JS, chromium_path, enriched_scan, skip_reason

_REASON = skip_reason()
if _REASON and os.environ.get("MLDEBT_REQUIRE_BROWSER"):  # CI sets it: a missing browser fails, not skips
    raise RuntimeError(f"MLDEBT_REQUIRE_BROWSER is set, but {_REASON}")
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
GENERATED = "2026-01-01T00:00:00+00:00"

html = pytest.importorskip("mldebt.reporters.html", reason="the HTML reporter is not there yet")


# ---------------------------------------------------------------------------------------------
# Browser fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@dataclasses.dataclass
class Opened:
    page: Any
    errors: list[str]


def open_page(browser: Any, path: Path, *, javascript: bool = True, width: int = 1280) -> Opened:
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": width, "height": 900},
                                  offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:"))
            else errors.append(f"network request: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    return Opened(page, errors)


# ---------------------------------------------------------------------------------------------
# Reports


_REPORTS: dict[str, Any] = {}


def fixture_report(name: str) -> Any:
    if name not in _REPORTS:
        _REPORTS[name] = enriched_scan(FIXTURES / name, generated=GENERATED)
    return _REPORTS[name]


def write_page(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(text, encoding="utf-8")
    return path


# What the page is made of, found by role rather than by class name where possible.
SORT_HEADERS = "table thead th[data-sort], table thead th[aria-sort]"
FILTER_INPUT = "input[type=search], input[type=text]"
CHIPS = "[data-chip], .chip, button[aria-pressed], input[type=checkbox][data-filter]"
SHOWING = re.compile(r"(?i)showing\s+(\d[\d,]*)\s+of\s+(\d[\d,]*)")


def visible_rows(page: Any, scope: str | None = None) -> list[str]:
    return list(page.evaluate(VISIBLE_ROWS_JS, scope))


def showing(page: Any, scope: str = "body") -> tuple[int, int]:
    m = SHOWING.search(page.inner_text(scope))
    assert m, "the page says 'showing N of M' findings"
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


# ---------------------------------------------------------------------------------------------
# Every fixture: loads without errors, lists its findings; screenshot for review


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_page_loads_clean_and_lists_findings(browser: Any, tmp_path: Path, name: str) -> None:
    report = fixture_report(name)
    path = write_page(tmp_path, name, html.render(report))
    opened = open_page(browser, path)
    page = opened.page
    page.wait_for_timeout(100)
    assert opened.errors == [], opened.errors
    rows = visible_rows(page)
    assert len(rows) == len(report.findings)
    if report.findings:
        shown, total = showing(page)
        assert (shown, total) == (len(report.findings), len(report.findings))
    # nothing wider than the window: no horizontal scrolling of the whole page
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.context.close()


# ---------------------------------------------------------------------------------------------
# Sorting and filtering


@pytest.fixture(scope="module")
def jungle_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = fixture_report("pipeline-jungle")
    assert len(report.findings) >= 10
    return write_page(tmp_path_factory.mktemp("jungle"), "pipeline-jungle", html.render(report))


def test_clicking_a_column_header_reorders_rows(browser: Any, jungle_page: Path) -> None:
    opened = open_page(browser, jungle_page)
    page = opened.page
    before = visible_rows(page)
    headers = page.locator(SORT_HEADERS)
    assert headers.count() >= 3, "the findings table has sortable column headers"
    changed = []
    for i in range(headers.count()):
        header = headers.nth(i)
        label = header.inner_text().strip()
        for _ in range(2):  # the first click may sort the way it already is
            header.click()
            after = visible_rows(page)
            assert sorted(after) == sorted(before), "sorting keeps the same rows"
            if after != before:
                changed.append(label)
                break
        before = visible_rows(page)
    assert len(changed) >= 2, f"only {changed} changed the order"
    # the order is kept in the fragment too
    page.reload(wait_until="load")
    page.wait_for_timeout(200)
    assert visible_rows(page) == before, "reload keeps the sort order"
    assert opened.errors == []


def test_text_filter_and_chip_narrow_rows_and_survive_reload(browser: Any, jungle_page: Path) -> None:
    report = fixture_report("pipeline-jungle")
    opened = open_page(browser, jungle_page)
    page = opened.page
    total = len(visible_rows(page))
    assert showing(page) == (total, total)

    # text: a file that has some findings, not all
    paths = sorted({f.path for f in report.findings}, key=lambda p: sum(f.path == p for f in report.findings))
    target = Path(paths[-1]).name
    expected = sum(1 for f in report.findings if target in f.path)
    assert 0 < expected < total
    box = page.locator(FILTER_INPUT).first
    box.fill(target)
    page.wait_for_timeout(400)  # any debounce
    rows = visible_rows(page)
    assert 0 < len(rows) < total
    assert all(target in r for r in rows), rows
    assert showing(page) == (len(rows), total)
    assert "#" in page.url and len(page.url.split("#", 1)[1]) > 0, "the filter is kept in the URL fragment"

    # a chip narrows further (or at least changes the count)
    chips = page.locator(CHIPS)
    assert chips.count() >= 2, "there are filter chips"
    text_only = len(rows)
    box.fill("")
    page.wait_for_timeout(400)
    assert len(visible_rows(page)) == total
    counts = set()
    for i in range(chips.count()):
        chip = chips.nth(i)
        if not chip.is_visible():
            continue
        chip.click()
        page.wait_for_timeout(100)
        n = len(visible_rows(page))
        assert showing(page) == (n, total)
        counts.add(n)
        chip.click()  # off again
        page.wait_for_timeout(100)
        assert len(visible_rows(page)) == total
    assert counts - {total}, "some chip changes what is shown"

    # the fragment restores text + chip on reload
    box.fill(target)
    page.wait_for_timeout(400)
    chip_changed = None
    for i in range(chips.count()):
        chip = chips.nth(i)
        if not chip.is_visible():
            continue
        chip.click()
        page.wait_for_timeout(100)
        if len(visible_rows(page)) != text_only:
            chip_changed = i
            break
        chip.click()
        page.wait_for_timeout(100)
    state = visible_rows(page)
    url = page.url
    page.reload(wait_until="load")
    page.wait_for_timeout(200)
    assert page.url == url
    assert page.locator(FILTER_INPUT).first.input_value() == target
    assert visible_rows(page) == state, f"reload restores the filter (chip {chip_changed})"
    assert showing(page) == (len(state), total)
    assert opened.errors == []


# ---------------------------------------------------------------------------------------------
# The pipeline graph


def test_pipeline_graph_svg_for_the_jungle(browser: Any, jungle_page: Path) -> None:
    report = fixture_report("pipeline-jungle")
    assert report.meta is not None and report.meta.pipeline, "the scan gives a pipeline graph"
    opened = open_page(browser, jungle_page)
    page = opened.page
    svgs = page.locator("svg").filter(has=page.locator("path, line"))
    assert svgs.count() >= 1
    graph = max((svgs.nth(i) for i in range(svgs.count())),
                key=lambda s: s.locator("path, line").count())
    assert graph.is_visible()
    box = graph.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    text = graph.text_content() or ""
    steps = [n["label"] for n in report.meta.pipeline["nodes"] if n.get("kind") == "step"]
    assert steps and all(Path(s).name in text for s in steps), text
    # a jungle's chain is drawn as such
    assert graph.locator(".jungle").count() > 0
    assert opened.errors == []


# ---------------------------------------------------------------------------------------------
# Hostile content: nothing from the scanned project runs


XSS_LITERAL = "</script><script>window.__pwned=1</script>"
XSS_FILE = '<img src=x onerror="window.__pwned=2">.py'


def test_hostile_source_and_file_names_stay_text(browser: Any, tmp_path: Path) -> None:
    project = tmp_path / "evil"
    project.mkdir()
    source = (
        "import numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n\n"
        "def decide(model: LogisticRegression, x: np.ndarray) -> bool:\n"
        f"    print({json.dumps(XSS_LITERAL)})\n"
        "    return model.predict_proba(x)[:, 1] > 0.73\n"
    )
    (project / "train.py").write_text(source, encoding="utf-8")
    hostile_name = True
    try:
        (project / XSS_FILE).write_text(source, encoding="utf-8")
    except OSError:
        hostile_name = False
    report = enriched_scan(project, generated=GENERATED)
    assert any(f.rule == "MLD301" or f.smell == "hard-coded-threshold" for f in report.findings)
    assert any(XSS_LITERAL in line for f in report.findings for line in f.context)
    if hostile_name:
        assert any(f.path == XSS_FILE for f in report.findings)
    page_path = write_page(tmp_path, "evil", html.render(report))

    for javascript in (True, False):
        opened = open_page(browser, page_path, javascript=javascript)
        page = opened.page
        # open every details element so the context is rendered, then poke the rows
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)") if javascript else None
        for summary in page.locator("table tbody tr summary").all()[:5]:
            if javascript and summary.is_visible():
                summary.click()
        page.wait_for_timeout(200)
        if javascript:
            assert page.evaluate("() => window.__pwned") is None
            assert page.evaluate("() => typeof window.__pwned") == "undefined"
        assert page.locator("img[src=x]").count() == 0
        body = page.text_content("body") or ""
        assert XSS_LITERAL in body, "the literal is shown as text"
        if hostile_name:
            assert XSS_FILE in body, "the file name is shown as text"
        assert opened.errors == [], opened.errors
        page.context.close()

    # and in the merged overview
    merged = write_page(tmp_path, "evil-merged", html.render_merged([report, fixture_report("pipeline-jungle")],
                                                                     GENERATED))
    opened = open_page(browser, merged)
    assert opened.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert opened.errors == [], opened.errors
    opened.page.context.close()


# ---------------------------------------------------------------------------------------------
# Without JavaScript


def test_page_lists_findings_without_javascript(browser: Any, jungle_page: Path) -> None:
    report = fixture_report("pipeline-jungle")
    opened = open_page(browser, jungle_page, javascript=False)
    page = opened.page
    assert len(visible_rows(page)) == len(report.findings)
    body = page.text_content("body") or ""
    for f in report.findings:
        assert f.message[:60] in body or f.path in body
    # the graph is drawn on the server: no script needed
    assert page.locator("svg path").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pipeline-jungle-nojs.png"), full_page=True)
    assert opened.errors == []
    page.context.close()


# ---------------------------------------------------------------------------------------------
# The merged overview


def test_merged_overview_opens_a_repository_and_keeps_its_filter(browser: Any, tmp_path: Path) -> None:
    names = ("pipeline-jungle", "tabular-churn", "torch-classifier")
    reports = [fixture_report(n) for n in names]
    path = write_page(tmp_path, "org", html.render_merged(reports, GENERATED))
    opened = open_page(browser, path)
    page = opened.page
    body = page.inner_text("body")
    for r in reports:
        assert r.meta.project in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "merged.png"), full_page=True)

    # the repository's row opens its findings
    churn = reports[1]
    link = page.get_by_role("link", name="tabular-churn", exact=True).first
    href = link.get_attribute("href")
    assert href and href.startswith("#")
    scope = href
    assert visible_rows(page, scope) == []
    link.click()
    page.wait_for_timeout(200)
    rows = visible_rows(page, scope)
    assert len(rows) == len(churn.findings)
    assert showing(page, scope) == (len(rows), len(rows))
    # its own filter narrows its own table only, and survives a reload
    rule = churn.findings[0].rule
    expected = sum(1 for f in churn.findings if f.rule == rule)
    page.locator(f"{scope} {FILTER_INPUT}").first.fill(rule)
    page.wait_for_timeout(300)
    assert len(visible_rows(page, scope)) == expected < len(churn.findings)
    assert showing(page, scope) == (expected, len(churn.findings))
    state = visible_rows(page, scope)
    page.reload(wait_until="load")
    page.wait_for_timeout(200)
    assert visible_rows(page, scope) == state, "reload reopens the repository with its filter"
    page.screenshot(path=str(ARTIFACTS / "merged-open.png"), full_page=True)
    assert opened.errors == [], opened.errors
    page.context.close()


# ---------------------------------------------------------------------------------------------
# A finding's detail, and the table's layout


def test_opening_a_finding_shows_its_marked_source(browser: Any, jungle_page: Path) -> None:
    report = fixture_report("pipeline-jungle")
    opened = open_page(browser, jungle_page)
    page = opened.page
    row = page.locator("table tbody tr:has(details)").first
    row.locator("summary").first.click()
    page.wait_for_timeout(200)
    detail = row.inner_text()
    first = min(report.findings, key=lambda f: (-f.severity.rank, f.path, f.line))
    assert first.path in detail
    marked = row.locator("mark")
    assert marked.count() >= 1 and marked.first.is_visible()
    assert marked.first.inner_text().strip() in "\n".join(first.context)
    assert str(first.line) in row.locator("pre").first.inner_text()
    assert opened.errors == []
    page.context.close()


CELL_OVERFLOW_JS = """() => [...document.querySelectorAll('table tbody td, table thead th')]
  .filter(td => td.offsetParent && !td.querySelector('pre') && td.scrollWidth > td.clientWidth + 1)
  .map(td => `${td.closest('table').className} column ${td.cellIndex + 1}: ${td.textContent.trim().slice(0, 60)}`)"""


@pytest.mark.parametrize("name", ["pipeline-jungle", "research-scripts", "tabular-churn"])
def test_table_cells_do_not_spill_into_their_neighbours(browser: Any, tmp_path: Path, name: str) -> None:
    path = write_page(tmp_path, name, html.render(fixture_report(name)))
    opened = open_page(browser, path)
    spilled = opened.page.evaluate(CELL_OVERFLOW_JS)
    assert spilled == [], spilled
    opened.page.context.close()


# ---------------------------------------------------------------------------------------------
# Scale


def _load_timings(browser: Any, path: Path) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    loaded = time.perf_counter() - start
    nav = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }")
    # interactive: a filter typed now is applied and painted
    t0 = time.perf_counter()
    box = page.locator(FILTER_INPUT).first
    box.fill("zzzz-no-such-finding")
    page.wait_for_function("() => /showing\\s+0\\s+of/i.test(document.body.innerText)", timeout=30_000)
    filtered = time.perf_counter() - t0
    t0 = time.perf_counter()
    box.fill("")
    page.wait_for_function("() => !/showing\\s+0\\s+of/i.test(document.body.innerText)", timeout=30_000)
    unfiltered = time.perf_counter() - t0
    headers = page.locator(SORT_HEADERS)
    t0 = time.perf_counter()
    headers.first.click()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(0)))")
    sorted_s = time.perf_counter() - t0
    context.close()
    assert errors == [], errors
    return {"size_mb": path.stat().st_size / 1e6, "load_s": loaded, "dcl_ms": nav["dcl"], "load_ms": nav["load"],
            "interactive_s": loaded + filtered, "filter_s": filtered, "unfilter_s": unfiltered, "sort_s": sorted_s}


def test_large_report_stays_responsive(browser: Any, tmp_path: Path) -> None:
    """A synthetic report at the reporter's cap (its findings repeated over many files)."""
    base = fixture_report("pipeline-jungle")
    findings = []
    for i in range(html.MAX_FINDINGS // len(base.findings) + 1):
        for f in base.findings:
            findings.append(dataclasses.replace(f, path=f"pkg{i:03d}/{f.path}", fingerprint=f"{f.fingerprint}{i}"))
    report = dataclasses.replace(base, findings=tuple(findings))
    path = write_page(tmp_path, "large", html.render(report))
    t = _load_timings(browser, path)
    print(f"\nsynthetic {len(findings)} findings: {json.dumps({k: round(v, 3) for k, v in t.items()})}")
    assert t["load_s"] < 15 and t["filter_s"] < 5 and t["sort_s"] < 5, t


@pytest.mark.skipif(not os.environ.get("MLDEBT_MEDIUM_REPORT"), reason="set MLDEBT_MEDIUM_REPORT=medium.json")
def test_medium_corpus_report_timings(browser: Any, tmp_path: Path) -> None:
    from mldebt.reportio import load_report

    report = load_report(Path(os.environ["MLDEBT_MEDIUM_REPORT"]))
    t0 = time.perf_counter()
    text = html.render(report)
    render_s = time.perf_counter() - t0
    path = write_page(tmp_path, "medium", text)
    t = _load_timings(browser, path)
    print(f"\nmedium corpus ({len(report.findings)} findings), render {render_s:.2f} s: "
          f"{json.dumps({k: round(v, 3) for k, v in t.items()})}")
    opened = open_page(browser, path)
    ARTIFACTS.mkdir(exist_ok=True)
    opened.page.screenshot(path=str(ARTIFACTS / "medium.png"), full_page=True)
    assert opened.errors == [], opened.errors
    opened.page.context.close()
