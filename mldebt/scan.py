"""One scan, end to end: settings -> discovery -> file phase -> project phase -> policy -> Report.

The policy step applies what is not detection: which rules run on which files (tests,
per-file-ignores), suppression comments, minimum confidence, fingerprints and the summary.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mldebt import __version__
from mldebt.cache import is_transient, open_cache
from mldebt.catalog import Catalog, RuleSpec, _load_class, load_catalog
from mldebt.config import Overrides, Settings, build_settings, find_config
from mldebt.discovery import (
    discover,
    git_toplevel,
    is_test_path,
    module_name,
    package_parts,
    non_source_files,
)
from mldebt.engine import DEFAULT_FILE_TIMEOUT, FileJob, RulePlan, analyse_files
from mldebt.fingerprint import content_key, fingerprint, group_key, literal_key
from mldebt.baseline import Match as BaselineMatch
from mldebt.baseline import apply as apply_baseline
from mldebt.baseline import load as load_baseline
from mldebt.model import (
    ReportMeta,
    RuleInfo,
    Directive,
    FileError,
    FileResult,
    Finding,
    Location,
    RawFinding,
    Report,
    Status,
    Summary,
)
from mldebt.project import Project, run_project_rules
from mldebt.project.declarations import (
    Declarations,
    declaration_kind,
    load_declarations,
    read_declaration_files,
)
from mldebt.rules.base import MetaRule, ProjectRule
from mldebt.suppression import FileSuppressions

REPORT_VERSION = 1
UNUSED_SUPPRESSION = "unused-suppression"
SUPPRESSION_WITHOUT_REASON = "suppression-without-reason"
MALFORMED_SUPPRESSION = "malformed-suppression"


@dataclass(frozen=True, slots=True)
class ScanRequest:
    targets: tuple[Path, ...]
    config_file: Path | None = None
    overrides: Overrides | None = None
    jobs: int = 1
    debug: bool = False
    baseline: Path | None = None  # overrides `baseline` in the configuration
    use_baseline: bool = True  # False: ignore any configured baseline (`baseline create`)
    diff: str | None = None  # a git revision: findings that do not exist at its merge base are new
    with_source: bool = False  # attach the source lines around each finding and the report's meta
    cache: bool = False  # reuse and store file results (the CLI turns it on; `--no-cache` off)
    cache_dir: Path | None = None  # overrides `cache-dir` in the configuration
    file_timeout: float | None = None  # overrides `file-timeout`; 0: no per-file time budget


DEFAULT_CACHE_DIR = ".mldebt_cache"


def file_timeout(request: ScanRequest, settings: Settings) -> float | None:
    """Seconds one file may take: the request's, else the configuration's, else
    :data:`~mldebt.engine.DEFAULT_FILE_TIMEOUT`; None (0 given): no budget."""
    for budget in (request.file_timeout, settings.file_timeout):
        if budget is not None:
            return budget or None
    return DEFAULT_FILE_TIMEOUT


def cache_dir(request: ScanRequest, settings: Settings) -> Path | None:
    """Where this scan keeps its cache: the request's folder, else the configuration's, else
    ``.mldebt_cache`` at the root. None when that default is a symbolic link (a repository
    must not steer the scan's writes elsewhere)."""
    if request.cache_dir is not None:
        return request.cache_dir.resolve()
    if settings.cache_dir:
        return (settings.root / settings.cache_dir).resolve()
    folder = settings.root / DEFAULT_CACHE_DIR
    return None if folder.is_symlink() else folder


def resolve_root(targets: Sequence[Path]) -> Path:
    """The project root when no configuration file was found next to the code."""
    if len(targets) == 1 and targets[0].is_dir():
        return targets[0].resolve()
    top = git_toplevel(targets[0].resolve())
    if top is not None:
        return top
    parents = [t.resolve() if t.is_dir() else t.resolve().parent for t in targets]
    return Path(os.path.commonpath([str(p) for p in parents]))


def prepare(request: ScanRequest, catalog: Catalog | None = None) -> tuple[Settings, Catalog]:
    """Settings for a request. A discovered pyproject.toml makes its folder the root."""
    catalog = catalog or load_catalog()
    targets = request.targets or (Path.cwd(),)
    if request.config_file is not None:
        config_file: Path | None = request.config_file
        root = resolve_root(targets)
    else:
        config_file = find_config(targets[0].resolve())
        root = config_file.resolve().parent if config_file else resolve_root(targets)
    return build_settings(catalog, root, config_file, request.overrides), catalog


def run_scan(request: ScanRequest, progress: Callable[[int, int], Callable[[int], None] | None] | None = None) -> Report:
    return scan_with_baseline(request, progress)[0]


def scan_with_baseline(request: ScanRequest,
                       progress: Callable[[int, int], Callable[[int], None] | None] | None = None,
                       ) -> tuple[Report, BaselineMatch | None, Path | None]:
    """The scan, matched against the baseline when there is one (and the match, and its file)."""
    settings, catalog = prepare(request)
    if request.diff is not None:
        return _scan_diff(request, settings, catalog, progress)
    path = baseline_path(request, settings)
    baseline = load_baseline(path) if path is not None else None  # a bad one fails before scanning
    plans = make_plans(settings, catalog)
    results, extra_errors, declarations, report_only = _analyse(request, settings, catalog, plans, progress)
    project = Project(str(settings.root), results, declarations, catalog.knowledge)
    report = build_report(settings, catalog, results, extra_errors, report_only=report_only, project=project,
                          debug=request.debug)
    if request.with_source:
        report = with_source(report, settings, results, project if declarations is not None else None)
    if baseline is None or path is None:
        return report, None, path
    renames = baseline_renames(settings.root, path)
    label = os.path.relpath(path, settings.root) if path.is_relative_to(settings.root) else str(path)
    report, found = apply_baseline(report, baseline, renames, Path(label).as_posix())
    return report, found, path


def with_source(report: Report, settings: Settings, results: Sequence[FileResult], project: Project | None,
                radius: int = 3) -> Report:
    """``report`` with the source lines around each finding and its meta (project, commit,
    branch, size, and the pipeline graph of ``project``, the one the project rules used, when
    the scan built one): what the HTML report and ``mldebt merge`` show."""
    from datetime import datetime, timezone

    from mldebt import gitinfo
    from mldebt.parsing import SourceError, load_source
    from mldebt.project.export import to_json

    lines_of: dict[str, list[str]] = {}
    out = []
    for f in report.findings:
        if f.path not in lines_of:
            try:
                data = (settings.root / f.path).read_bytes()
                lines_of[f.path] = load_source(f.path, data).text.split("\n")
            except (OSError, SourceError):
                lines_of[f.path] = []
        text = lines_of[f.path]
        first = max(1, f.line - radius)
        last = min(len(text), f.end_line + radius)
        out.append(dataclasses.replace(f, context=tuple(text[first - 1:last]), context_start=first) if text else f)
    commit = branch = None
    try:
        if gitinfo.repo_root(settings.root) is not None:
            commit = gitinfo.head_commit(settings.root)
            branch = gitinfo.current_branch(settings.root)
    except gitinfo.GitError:
        pass
    pipeline = None
    if project is not None:
        pipeline = json.loads(to_json(project.pipeline.to_networkx(settings.root.name)))
    meta = ReportMeta(settings.root.name, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      sum(r.lines for r in results if r.error is None), commit, branch, pipeline)
    return dataclasses.replace(report, findings=tuple(out), meta=meta)


def _scan_diff(request: ScanRequest, settings: Settings, catalog: Catalog,
               progress: Callable[[int, int], Callable[[int], None] | None] | None,
               ) -> tuple[Report, BaselineMatch | None, Path | None]:
    """``--diff REV``: the findings at the merge base of REV, analysed from a temporary git
    worktree (the whole project, and cached by commit and settings), are the baseline."""
    from mldebt import gitinfo
    from mldebt.baseline import dumps, from_findings, loads

    top = gitinfo.repo_root(settings.root)
    if top is None:
        raise gitinfo.GitError(f"--diff needs a git repository; {settings.root} is not in one")
    base = gitinfo.merge_base(settings.root, request.diff or "HEAD")
    folder = cache_dir(request, settings) or settings.root / DEFAULT_CACHE_DIR
    key = f"{base}-{_settings_key(settings)}"
    cached = gitinfo.cached_json(folder, key)
    if cached is not None and isinstance(cached.get("baseline"), str):
        base_line = loads(cached["baseline"], f"diff cache {key}")
    else:
        with gitinfo.worktree(top, base, folder) as tree:
            project = tree / settings.root.relative_to(top)
            # the same file cache: files unchanged since the merge base are not parsed again
            sub = dataclasses.replace(request, targets=(project,), diff=None, use_baseline=False, config_file=None,
                                      cache_dir=folder if request.cache else None)
            then = run_scan(sub) if project.exists() else None
            base_line = from_findings(then.findings if then is not None else ())
        if then is None or not any(is_transient(e.message) for e in then.errors):
            gitinfo.store_json(folder, key, {"baseline": dumps(base_line)})  # not one missing a file by chance
    report = run_scan(dataclasses.replace(request, diff=None, use_baseline=False), progress)
    renames = gitinfo.renames(settings.root, base)
    report, found = apply_baseline(report, base_line, renames, f"diff:{base[:12]}")
    return report, found, None


def _settings_key(settings: Settings) -> str:
    """What changes a scan's findings besides the code: the version, rules and their options."""
    import hashlib

    from mldebt.cache import code_fingerprint

    # the installed code too, as the file cache's key does: an edited rule in a development
    # install must not be judged against a baseline the old rule made
    text = json.dumps([__version__, code_fingerprint(), list(settings.enabled),
                       {k: dict(v) for k, v in settings.rule_options.items()},
                       sorted(settings.exclude), str(settings.min_confidence.value)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def baseline_path(request: ScanRequest, settings: Settings) -> Path | None:
    """The baseline file to match against: the request's, else the configuration's."""
    if not request.use_baseline:
        return None
    if request.baseline is not None:
        return request.baseline.resolve()
    if settings.baseline:
        return (settings.root / settings.baseline).resolve()
    return None


def baseline_renames(root: Path, baseline: Path) -> dict[str, str]:
    """Files git says were renamed or moved since the baseline file was last committed."""
    from mldebt import gitinfo

    try:
        if gitinfo.repo_root(root) is None:
            return {}
        return gitinfo.renames(root, gitinfo.last_commit_touching(root, baseline))
    except gitinfo.GitError:
        return {}


def run_graph(request: ScanRequest) -> tuple[Any, list[tuple[str, str]]]:
    """The project graph of the request's project (networkx), and the files it could not read."""
    settings, catalog = prepare(request)
    collector: Any = _load_class("io_facts:IoFacts")
    plans = [RulePlan(collector.CODE, "io_facts:IoFacts", collector_options(settings, collector.CODE), False, False)]
    results, extra_errors, declarations, _ = _analyse(request, settings, catalog, plans, None)
    project = Project(str(settings.root), results, declarations, catalog.knowledge)
    errors = sorted([(r.path, r.error) for r in results if r.error is not None]
                    + [(e.path, e.message) for e in extra_errors])
    return project.pipeline.to_networkx(settings.root.name), errors


def _analyse(request: ScanRequest, settings: Settings, catalog: Catalog, plans: Sequence[RulePlan],
             progress: Callable[[int, int], Callable[[int], None] | None] | None,
             ) -> tuple[list[FileResult], list[FileError], Declarations | None, frozenset[str] | None]:
    """The file phase, the declarations the project phase needs (only when a rule does), and
    the files the report keeps to (None: all).

    Files named one by one (as pre-commit passes them) restrict what is *reported*, not what
    is analysed: when a project rule runs, the whole project is analysed so its facts are
    complete, and only the named files are reported.
    """
    targets = request.targets or (Path.cwd(),)
    found = discover(targets, settings.root, settings.is_excluded)
    report_only = None
    if targets and all(t.is_file() for t in targets) and any(p.project or p.code.startswith("facts:") for p in plans):
        report_only = frozenset(rel for _, rel in found.files)
        whole = discover((settings.root,), settings.root, settings.is_excluded)
        found = type(whole)(whole.files, tuple(sorted({*found.errors, *whole.errors})))
    jobs = []
    # files of one folder share their packages: worked out once per folder, not per file
    packages = functools.lru_cache(maxsize=None)(lambda folder: package_parts(folder, settings.root))
    for abspath, rel in found.files:
        module, is_package = module_name(abspath, settings.root, packages=packages)
        jobs.append(FileJob(str(abspath), rel, module, is_test_path(rel), is_package))
    tick = progress(len(jobs), request.jobs) if progress else None
    cache = None
    if request.cache:
        folder = cache_dir(request, settings)
        cache = open_cache(folder, plans, catalog.knowledge) if folder is not None else None
    results = analyse_files(jobs, plans, catalog.knowledge, request.jobs, request.debug, tick, cache,
                            file_timeout(request, settings))
    if cache is not None and report_only is None and settings.root in {t.resolve() for t in targets}:
        cache.prune()  # a scan of the whole project knows which entries are still current
    extra_errors = [FileError(p, m) for p, m in found.errors]
    declarations = None
    if any(p.code == "facts:io" for p in plans):
        paths = non_source_files(settings.root, settings.is_excluded, lambda p: declaration_kind(p) is not None)
        texts, read_errors = read_declaration_files(settings.root, paths)
        declarations = load_declarations(texts, [j.path for j in jobs], settings.data_settings, read_errors)
        extra_errors.extend(FileError(p, m) for p, m in declarations.errors)
    return results, extra_errors, declarations, report_only


def make_plans(settings: Settings, catalog: Catalog) -> list[RulePlan]:
    """The selected rules, then the collectors their project checks need (each once)."""
    plans = []
    needed: list[str] = []
    for code in settings.enabled:
        spec = catalog.by_code(code)
        if spec is None:
            continue
        cls = spec.load_class()
        if issubclass(cls, MetaRule):
            continue
        plans.append(RulePlan(code, spec.impl, dict(settings.options_for(code)), spec.tests,
                              issubclass(cls, ProjectRule)))
        for impl in getattr(cls, "NEEDS", ()):
            if impl not in needed:
                needed.append(impl)
    for impl in needed:
        collector: Any = _load_class(impl)
        plans.append(RulePlan(collector.CODE, impl, collector_options(settings, collector.CODE), False, False))
    return plans


def collector_options(settings: Settings, code: str) -> dict[str, Any]:
    """What a collector needs from the settings: the user's own data readers and writers."""
    if code == "facts:io":
        return {"readers": list(settings.data_settings.readers), "writers": list(settings.data_settings.writers)}
    return {}


def build_report(settings: Settings, catalog: Catalog, results: Sequence[FileResult],
                 extra_errors: Iterable[FileError] = (), declarations: Declarations | None = None,
                 report_only: frozenset[str] | None = None, project: Project | None = None,
                 debug: bool = True) -> Report:
    """Project phase and policy. ``report_only`` keeps the report to those files; ``project``
    is the project view to judge (built from ``results`` and ``declarations`` when absent).
    Without ``debug``, a project rule that raises becomes an entry in ``errors`` and the other
    rules still report."""
    enabled = set(settings.enabled)
    by_name = {s.name: s for s in catalog.rules}

    project_rules = []
    for code in settings.enabled:
        spec = catalog.by_code(code)
        cls = spec.load_class() if spec is not None else None
        if cls is not None and issubclass(cls, ProjectRule):
            project_rules.append((code, cls, settings.options_for(code)))
    if project is None:
        project = Project(str(settings.root), results, declarations, catalog.knowledge)
    per_path: dict[str, list[RawFinding]] = defaultdict(list)
    failures: list[tuple[str, str]] | None = None if debug else []
    for path, raw in run_project_rules(project, project_rules, failures):
        per_path[path].append(raw)

    def runs_on(spec: RuleSpec, result: FileResult) -> bool:
        if spec.code not in enabled:
            return False
        if result.is_test and not spec.tests:
            return False
        return not settings.ignored_here(result.path, spec.code)

    def code_matches(selector: str, rule_code: str) -> bool:
        spec = catalog.lookup(selector)
        return spec is not None and spec.code == rule_code

    findings: list[Finding] = []
    ignored = 0
    errors = list(extra_errors)
    errors.extend(FileError(".", f"internal error in project rule {code}, its findings are missing (please report):"
                                 f" {why}") for code, why in failures or ())
    meta = {name: by_name.get(name) for name in (UNUSED_SUPPRESSION, SUPPRESSION_WITHOUT_REASON, MALFORMED_SUPPRESSION)}
    only = report_only
    for result in sorted(results, key=lambda r: r.path):
        if only is not None and result.path not in only:
            continue
        if result.error is not None:
            errors.append(FileError(result.path, result.error))
            continue
        sup = FileSuppressions(result.directives, code_matches)
        raws = [*result.findings, *per_path.get(result.path, ())]
        kept: list[tuple[RuleSpec, RawFinding, Status]] = []
        for raw in sorted(raws, key=lambda r: (r.location.line, r.location.column, r.rule, r.message)):
            spec = catalog.by_code(raw.rule)
            if spec is None or not runs_on(spec, result):
                continue
            conf = raw.confidence or spec.confidence
            if conf.rank < settings.min_confidence.rank:
                continue
            verdict = sup.status_of(raw)
            if verdict == "ignore":
                ignored += 1
                continue
            kept.append((spec, raw, Status.FIXME if verdict == "fixme" else Status.NEW))
        for spec_meta, raw in _directive_findings(result, sup, catalog, meta,
                                                  lambda s: runs_on(s, result)):
            if runs_on(spec_meta, result):
                kept.append((spec_meta, raw, Status.NEW))
        findings.extend(_finalise(result.path, kept))
    # project findings located in files that are not analysed sources (a key's line in a
    # YAML/JSON/TOML configuration): the same policy applies; no suppression comments are
    # read there (the file is not Python), and an excluded file reports nothing
    sources = {r.path for r in results}
    for path in sorted(set(per_path) - sources):
        if (only is not None and path not in only) or settings.is_excluded(path):
            continue
        kept = []
        for raw in sorted(per_path[path], key=lambda r: (r.location.line, r.location.column, r.rule, r.message)):
            spec = catalog.by_code(raw.rule)
            if spec is None or spec.code not in enabled or settings.ignored_here(path, spec.code):
                continue
            if (raw.confidence or spec.confidence).rank < settings.min_confidence.rank:
                continue
            kept.append((spec, raw, Status.NEW))
        findings.extend(_finalise(path, kept))
    findings.sort(key=Finding.sort_key)
    errors.sort(key=lambda e: (e.path, e.message))
    return Report(
        version=REPORT_VERSION,
        tool_name="mldebt",
        tool_version=__version__,
        root=str(settings.root),
        findings=tuple(findings),
        errors=tuple(errors),
        summary=_summary(findings, ignored, len(only) if only is not None else len(results), len(errors)),
        fail_on=settings.fail_on,
        rules=rule_infos(catalog, sorted({f.rule for f in findings})),
    )


def rule_infos(catalog: Catalog, codes: Iterable[str]) -> tuple[RuleInfo, ...]:
    """What reports say about rules: identity, policy and the documentation `explain` prints."""
    out = []
    for code in codes:
        spec = catalog.by_code(code)
        if spec is None:
            continue
        doc = inspect.cleandoc(spec.load_class().__doc__ or "").strip()
        out.append(RuleInfo(spec.code, spec.name, spec.smell, spec.severity, spec.confidence, spec.summary,
                            spec.hint, doc, spec.remediation_minutes))
    return tuple(out)


def _finalise(path: str, kept: Sequence[tuple[RuleSpec, RawFinding, Status]]) -> list[Finding]:
    out = []
    seen: Counter[str] = Counter()
    for spec, raw, status in kept:
        loc = raw.location
        group = group_key(spec.code, path, loc.scope, loc.snippet)
        index = seen[group]
        seen[group] += 1
        out.append(Finding(
            rule=spec.code, name=spec.name, smell=spec.smell,
            severity=raw.severity or spec.severity, confidence=raw.confidence or spec.confidence,
            path=path, line=loc.line, column=loc.column, end_line=loc.end_line,
            end_column=loc.end_column, message=raw.message, hint=raw.hint or spec.hint,
            status=status, fingerprint=fingerprint(group, index),
            remediation_minutes=spec.remediation_minutes, scope=loc.scope, cell=loc.cell,
            cell_line=loc.cell_line, file_line=loc.file_line, snippet=loc.snippet, content_key=content_key(spec.code, loc.snippet),
            literal_key=literal_key(spec.code, loc.snippet),
        ))
    return out


def _directive_location(d: Directive) -> Location:
    text = f"# mldebt: {d.kind}[{', '.join(d.codes)}]"
    cell_line = d.line - d.cell_start + 1 if d.cell is not None else None
    return Location(d.line, d.column, d.line, d.end_column, d.line, "<module>", text, cell=d.cell,
                    cell_line=cell_line, file_line=d.file_line)


def _directive_findings(result: FileResult, sup: FileSuppressions, catalog: Catalog,
                        meta: dict[str, RuleSpec | None],
                        runs_here: Callable[[RuleSpec], bool]) -> Iterable[tuple[RuleSpec, RawFinding]]:
    for i, d in enumerate(result.directives):
        loc = _directive_location(d)
        unknown = [c for c in d.codes if catalog.lookup(c) is None]
        if d.malformed or unknown:
            spec = meta[MALFORMED_SUPPRESSION]
            if spec is not None:
                why = d.malformed or f"unknown rule {', '.join(repr(c) for c in unknown)}"
                yield spec, RawFinding(spec.code, loc, f"Suppression comment not understood: {why}.",
                                       "Use `# mldebt: ignore[CODE] -- reason`; `mldebt rules` lists the codes.")
            continue
        if not d.reason:
            spec = meta[SUPPRESSION_WITHOUT_REASON]
            if spec is not None:
                yield spec, RawFinding(spec.code, loc, f"`mldebt: {d.kind}` has no reason.",
                                       "Add why after the codes: `# mldebt: ignore[CODE] -- why this is fine`.")
        if i not in sup.used:
            named = [catalog.lookup(c) for c in d.codes]
            active = [s for s in named if s is not None and runs_here(s)]
            if d.codes and not active:
                continue  # the rules it names did not run here: cannot tell
            spec = meta[UNUSED_SUPPRESSION]
            if spec is not None:
                what = ", ".join(d.codes) if d.codes else "any rule"
                yield spec, RawFinding(spec.code, loc,
                                       f"`mldebt: {d.kind}` suppresses nothing: no finding of {what} here.",
                                       "Delete the comment (the debt it excused is gone or it is on the wrong line).")


def _summary(findings: Sequence[Finding], ignored: int, files: int, errors: int) -> Summary:
    by_smell = Counter(f.smell for f in findings)
    by_rule = Counter(f.rule for f in findings)
    by_sev = Counter(f.severity.value for f in findings)
    status = Counter(f.status for f in findings)
    return Summary(
        files=files,
        findings=len(findings),
        new=status[Status.NEW],
        known=status[Status.KNOWN],
        fixme=status[Status.FIXME],
        ignored=ignored,
        errors=errors,
        by_smell=dict(sorted(by_smell.items())),
        by_rule=dict(sorted(by_rule.items())),
        by_severity=dict(sorted(by_sev.items())),
        debt_minutes=sum(f.remediation_minutes for f in findings),
    )


