"""Reporters turn an immutable :class:`~mldebt.model.Report` into text. They see nothing else."""

from __future__ import annotations

from typing import Callable

from mldebt.model import Report

FORMATS = ("text", "json")


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    renderer: Callable[..., str]
    if fmt == "json":
        from mldebt.reporters.json import render as renderer
        return renderer(report)
    from mldebt.reporters.text import render as renderer
    return renderer(report, color=color)
