"""Reporters turn an immutable :class:`~mldebt.model.Report` into text. They see nothing else."""

from __future__ import annotations

from collections.abc import Callable

from mldebt.model import Report

FORMATS = ("text", "json", "sarif", "github", "gitlab", "html")


def render(report: Report, fmt: str, *, color: bool = False, include_known: bool = False) -> str:
    """``report`` as ``fmt``. ``include_known``: the CI formats (sarif, github, gitlab) list
    only new findings unless it is set; text and JSON always list every finding."""
    renderer: Callable[..., str]
    if fmt == "json":
        from mldebt.reporters.json import render as renderer
        return renderer(report)
    if fmt == "sarif":
        from mldebt.reporters.sarif import render as renderer
        return renderer(report, include_known=include_known)
    if fmt == "github":
        from mldebt.reporters.github import render as renderer
        return renderer(report, include_known=include_known)
    if fmt == "html":  # colour and include_known do not apply: the page lists every finding
        from mldebt.reporters.html import render as renderer
        return renderer(report)
    if fmt == "gitlab":
        from mldebt.reporters.gitlab import render as renderer
        return renderer(report, include_known=include_known)
    from mldebt.reporters.text import render as renderer
    return renderer(report, color=color)
