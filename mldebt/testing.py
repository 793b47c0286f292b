"""Run rule examples in memory: what the rule tests and rule authors use.

``scan_snippets({"a.py": code}, select=["MLD301"])`` runs the real pipeline (file phase,
project phase, suppression, policy) on in-memory files, in process, with ``debug`` on so
internal errors raise instead of becoming error entries.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

from mldebt.catalog import load_catalog
from mldebt.config import Overrides, build_settings
from mldebt.discovery import is_test_path, module_name
from mldebt.engine import FileJob, analyse_source
from mldebt.model import Report
from mldebt.scan import build_report, make_plans


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
    root = Path("/example")
    results = []
    for path in sorted(files):
        code = textwrap.dedent(files[path]) if dedent else files[path]
        module, is_package = module_name(root / path, root,
                                         exists=lambda p: p.relative_to(root).as_posix() in files)
        job = FileJob(f"/example/{path}", path, module, is_test_path(path), is_package)
        results.append(analyse_source(job, code.encode("utf-8"), plans, catalog.knowledge, debug=True))
    return build_report(settings, catalog, results)
