"""Run rule examples in memory: what the rule tests and rule authors use.

``scan_snippets({"a.py": code}, select=["MLD301"])`` runs the real pipeline (file phase,
project phase, suppression, policy) on in-memory files, in process, with ``debug`` on so
internal errors raise instead of becoming error entries. Files that are not Python sources
(``dvc.yaml``, ``Makefile``, configs) are read as the project's declarations.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mldebt.catalog import _load_class, load_catalog
from mldebt.config import Overrides, build_settings
from mldebt.discovery import is_source, is_test_path, module_name
from mldebt.engine import FileContextImpl, FileJob, RulePlan, analyse_source
from mldebt.model import FileError, FileResult, Report
from mldebt.project import Project
from mldebt.project.declarations import load_declarations
from mldebt.scan import build_report, collector_options, make_plans


def snippet_project(files: Mapping[str, str], dedent: bool = True) -> Project:
    """The project phase's view (with its pipeline graph) of in-memory files."""
    catalog = load_catalog()
    settings = build_settings(catalog, Path("/example"), None, Overrides())
    collector: Any = _load_class("io_facts:IoFacts")
    plans = [RulePlan(collector.CODE, "io_facts:IoFacts", collector_options(settings, collector.CODE), False, False)]
    results, declarations = _run(files, settings, catalog, plans, dedent)
    return Project("/example", results, declarations, catalog.knowledge)


def _run(files: Mapping[str, str], settings: Any, catalog: Any, plans: Sequence[RulePlan],
         dedent: bool) -> tuple[list[FileResult], Any]:
    root = Path("/example")
    sources = sorted(p for p in files if is_source(p))
    texts = {p: textwrap.dedent(files[p]) if dedent else files[p] for p in files if not is_source(p)}
    declarations = load_declarations(texts, sources, settings.data_settings)
    results = []
    for path in sources:
        code = textwrap.dedent(files[path]) if dedent else files[path]
        module, is_package = module_name(root / path, root,
                                         exists=lambda p: p.relative_to(root).as_posix() in files)
        job = FileJob(f"/example/{path}", path, module, is_test_path(path), is_package)
        results.append(analyse_source(job, code.encode("utf-8"), plans, catalog.knowledge, debug=True))
    return results, declarations


def scan_snippets(files: Mapping[str, str], select: Sequence[str] | None = None,
                  options: Mapping[str, Mapping[str, Any]] | None = None,
                  dedent: bool = True) -> Report:
    catalog = load_catalog()
    settings = build_settings(catalog, Path("/example"), None, Overrides(select=list(select) if select else None))
    if options:
        merged = {code: dict(opts) for code, opts in settings.rule_options.items()}
        for key, opts in options.items():
            spec = catalog.lookup(key)
            assert spec is not None, f"unknown rule {key}"
            merged[spec.code].update(opts)
        settings = dataclasses.replace(settings, rule_options=merged)
    plans = make_plans(settings, catalog)
    results, declarations = _run(files, settings, catalog, plans, dedent)
    return build_report(settings, catalog, results, [FileError(p, m) for p, m in declarations.errors],
                        declarations)


def calls_in_walk_order(path: str, source: Any, module: Any) -> tuple[list[Any], FileContextImpl]:
    """Every call of a parsed file in the engine's walk order, and the file's context (with
    its strings and comments located): what the engine's source search is checked on."""
    import libcst as cst

    from mldebt.rules.base import Rule

    calls: list[cst.Call] = []

    class Collect(Rule):
        def visit_Call(self, node: cst.Call) -> None:
            calls.append(node)

    ctx = FileContextImpl(path, "m", False, source, module, {}, False)
    ctx.walk([Collect(ctx, "X", {}, ctx)])
    ctx.comments()
    return calls, ctx

