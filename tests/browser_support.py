"""Helpers for the HTML report's browser tests: a headless Chromium through Playwright, and
reports enriched the way ``mldebt scan --format html`` enriches them (source context, meta).

Playwright's own browser download is not used: the tests drive the system Chromium
(Debian's ``chromium`` package, ``/usr/bin/chromium``, or ``$MLDEBT_CHROMIUM``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mldebt.model import Finding, Report, ReportMeta
from mldebt.parsing import load_source
from mldebt.project.export import to_json
from mldebt.scan import ScanRequest, run_graph, run_scan

CONTEXT = 3  # lines each side of a finding


def chromium_path() -> str | None:
    """The system Chromium to drive, or None when there is none."""
    env = os.environ.get("MLDEBT_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; the browser is Debian's chromium)"
    if chromium_path() is None:
        return "no chromium executable (apt-get install chromium, or set MLDEBT_CHROMIUM)"
    return None


def with_context(report: Report, root: Path, around: int = CONTEXT) -> Report:
    """The report with each finding's source lines around it, as the CLI adds them."""
    cache: dict[str, list[str] | None] = {}

    def lines_of(path: str) -> list[str] | None:
        if path not in cache:
            try:
                cache[path] = load_source(path, (root / path).read_bytes()).text.splitlines()
            except (OSError, ValueError):
                cache[path] = None
        return cache[path]

    out: list[Finding] = []
    for f in report.findings:
        lines = lines_of(f.path)
        if not lines or f.line < 1:
            out.append(f)
            continue
        start = max(1, f.line - around)
        end = min(len(lines), max(f.end_line, f.line) + around)
        out.append(dataclasses.replace(f, context=tuple(lines[start - 1:end]), context_start=start))
    return dataclasses.replace(report, findings=tuple(out))


def enriched_scan(path: Path, generated: str | None = None) -> Report:
    """A real scan of ``path`` with context and meta (project, generated, lines, pipeline)."""
    request = ScanRequest(targets=(path,), jobs=1)
    report = run_scan(request)
    if not any(f.context for f in report.findings):
        report = with_context(report, Path(report.root))
    graph, _ = run_graph(request)
    pipeline: Any = json.loads(to_json(graph))
    if report.meta is None:
        lines = 0  # the CLI counts the analysed lines; every source file's lines are close enough
        for p in [*Path(report.root).rglob("*.py"), *Path(report.root).rglob("*.ipynb")]:
            try:
                lines += len(p.read_bytes().splitlines())
            except OSError:
                pass
        meta = ReportMeta(
            project=Path(report.root).name,
            generated=generated or datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            lines=max(lines, 1),
            commit=None,
            branch=None,
            pipeline=pipeline,
        )
        report = dataclasses.replace(report, meta=meta)
    elif report.meta.pipeline is None and pipeline is not None:
        report = dataclasses.replace(report, meta=dataclasses.replace(report.meta, pipeline=pipeline))
    return report


# JavaScript evaluated in the page (argument: a CSS selector to look under, or null): the text of
# the visible rows of the largest table with a head and a body, the findings table.
VISIBLE_ROWS_JS = """
(scope) => {
  const base = scope ? document.querySelector(scope) : document;
  if (!base) return [];
  const visible = (el) => {
    if (!el.isConnected) return false;
    // content in a closed <details> keeps a box in Chromium; checkVisibility knows better
    if (el.checkVisibility && !el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) return false;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden') return false;
    if (el.hidden || el.closest('[hidden]')) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const tables = [...base.querySelectorAll('table')]
    .filter(t => t.tBodies.length && t.tHead)
    .sort((a, b) => b.querySelectorAll('tbody tr').length - a.querySelectorAll('tbody tr').length);
  if (!tables.length) return [];
  return [...tables[0].querySelectorAll('tbody tr')].filter(visible)
    .map(tr => tr.innerText.replace(/\\s+/g, ' ').trim());
}
"""
