"""The command line. Only this module wires settings, engine and reporters together.

Exit codes: 0 no new findings at or above ``--fail-on``; 1 new findings; 2 usage,
configuration or internal error (``--debug`` shows the traceback).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mldebt import __version__, fileio
from mldebt.catalog import CatalogError, load_catalog
from mldebt.config import ConfigError, Overrides, rule_spec_options_doc
from mldebt.engine import DEFAULT_FILE_TIMEOUT, default_jobs, tune_gc
from mldebt.reporters import FORMATS, render
from mldebt.reporters.text import visible
from mldebt import baseline as baselines
from mldebt.baseline import BaselineError
from mldebt.gitinfo import GitError
from mldebt.reportio import ReportFileError
from mldebt.scan import ScanRequest, run_scan, scan_with_baseline

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split(values: tuple[str, ...]) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _use_color(no_color: bool, stream: Any) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def _outputs(fmt: str, outputs: tuple[str, ...]) -> list[tuple[str, Path | None]]:
    """Where each report goes: ``-o FILE`` takes ``--format``; ``-o FORMAT:FILE`` adds that
    format; ``--format`` goes to standard output unless some ``-o`` took it."""
    out: list[tuple[str, Path | None]] = []
    plain = False
    for spec in outputs:
        head, sep, tail = spec.partition(":")
        if sep and head in FORMATS and tail:
            out.append((head, Path(tail)))
        else:
            out.append((fmt, Path(spec)))
            plain = True
    if not plain:
        out.insert(0, (fmt, None))
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    fileio.write_atomic(path, text.encode("utf-8"))


class _Progress:
    """A progress bar on stderr, only for a terminal and a scan long enough to need one."""

    MIN_FILES = 200

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __call__(self, total: int, jobs: int) -> Callable[[int], None] | None:
        if not self.enabled or total < self.MIN_FILES:
            return None
        self.bar = click.progressbar(length=total, label=f"Scanning {total} files", file=sys.stderr,
                                     show_eta=True, show_pos=True)
        self.bar.__enter__()
        return self.bar.update

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _analysis_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--no-cache``, ``--cache-dir`` and ``--file-timeout``, shared by the commands that
    analyse files."""
    fn = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                      envvar="MLDEBT_CACHE_DIR", show_envvar=True,
                      help="Keep the file cache here (default: `cache-dir` in the config, else "
                           ".mldebt_cache at the project root).")(fn)
    fn = click.option("--no-cache", is_flag=True, envvar="MLDEBT_NO_CACHE", show_envvar=True,
                      help="Analyse every file again; read and write no cache.")(fn)
    return click.option("--file-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                        envvar="MLDEBT_FILE_TIMEOUT", show_envvar=True,
                        help="A file not analysed within SECONDS is reported as timed out and the scan goes "
                             f"on (default: `file-timeout` in the config, else {DEFAULT_FILE_TIMEOUT:g}; "
                             "0: no limit).")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="mldebt", message="%(prog)s %(version)s")
def cli() -> None:
    """mldebt finds the hidden technical debt of machine-learning code.

    It reports the smells of Sculley et al., "Hidden Technical Debt in Machine Learning
    Systems" (NeurIPS 2015): hard-coded thresholds, dead experimental code paths, and more.
    """
    tune_gc()


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="[FORMAT:]FILE",
              help="Write the report to FILE instead of standard output; FORMAT:FILE (e.g. sarif:mldebt.sarif) "
                   "writes that format too. Repeat it to write several in one scan.")
@click.option("--with-source", is_flag=True,
              help="Put the source lines around each finding and the project's meta into the JSON report "
                   "(for `mldebt merge`); HTML output always has them.")
@click.option("--include-known", is_flag=True,
              help="SARIF, GitHub, GitLab: also list baselined and fixme findings (default: new ones only).")
@click.option("--select", multiple=True, metavar="RULES",
              help="Run only these rules: codes, code prefixes (MLD4), names or smells; comma-separated.")
@click.option("--extend-select", multiple=True, metavar="RULES", help="Run these rules too.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Do not run these rules.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores; 1 runs in process).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity of a new finding that fails the run (default: warning).")
@click.option("--min-confidence", type=click.Choice(["high", "medium", "low"]), default=None,
              help="Hide findings below this confidence (default: low, i.e. show all).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings fail the run.")
@click.option("--strict", is_flag=True, help="Files that cannot be analysed fail the run too.")
@click.option("--preview", is_flag=True, default=None, help="Also run rules in preview.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read settings from this TOML file instead of the nearest pyproject.toml.")
@click.option("--baseline", "baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Only findings this baseline does not accept are new (default: `baseline` in the config).")
@click.option("--diff", "diff", metavar="REV", default=None,
              help="Only findings that do not exist at the merge base of REV (e.g. origin/main) are new.")
@click.option("--strict-baseline", is_flag=True,
              help="Fail when the baseline accepts findings that are fixed (run `mldebt baseline prune`).")
@click.option("--no-color", is_flag=True, help="Never colour the output (NO_COLOR is honoured too).")
@_analysis_options
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def scan(paths: tuple[Path, ...], fmt: str, outputs: tuple[str, ...], with_source: bool, include_known: bool,
         select: tuple[str, ...],
         extend_select: tuple[str, ...], ignore: tuple[str, ...], jobs: int | None,
         fail_on: str | None, min_confidence: str | None, exit_zero: bool, strict: bool,
         preview: bool | None, config_file: Path | None, diff: str | None, baseline: Path | None,
         strict_baseline: bool, no_color: bool, no_cache: bool, cache_dir: Path | None,
         file_timeout: float | None, debug: bool) -> None:
    """Scan PATHS (default: the current directory) for ML technical debt."""
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise click.BadParameter(f"{p}: no such file or directory", param_hint="PATHS")
    request = ScanRequest(
        targets=tuple(paths) or (Path.cwd(),),
        config_file=config_file,
        overrides=Overrides(select=_split(select), extend_select=_split(extend_select),
                            ignore=_split(ignore), fail_on=fail_on, min_confidence=min_confidence,
                            preview=preview),
        jobs=jobs or default_jobs(),
        debug=debug,
        baseline=baseline,
        diff=diff,
        with_source=with_source or any(f == "html" for f, _ in _outputs(fmt, outputs)),
        cache=not no_cache,
        cache_dir=cache_dir,
        file_timeout=file_timeout,
    )
    if diff is not None and baseline is not None:
        raise click.UsageError("--diff and --baseline are alternatives: the merge base is the baseline")
    progress = _Progress(fmt == "text" and sys.stderr.isatty() and not os.environ.get("CI"))
    try:
        report, _, _ = scan_with_baseline(request, progress=progress)
    finally:
        progress.close()
    targets = _outputs(fmt, outputs)
    for out_fmt, out_path in targets:
        if out_path is None:
            color = out_fmt == "text" and _use_color(no_color, sys.stdout)
            click.echo(render(report, out_fmt, color=color, include_known=include_known), nl=False, color=color)
        else:
            write_atomic(out_path, render(report, out_fmt, include_known=include_known))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file and any(f == "github" for f, _ in targets):
        from mldebt.reporters.github import step_summary

        with open(summary_file, "a", encoding="utf-8") as fh:  # GitHub's job summary: appended
            fh.write(step_summary(report))
    code = EXIT_OK
    if report.gating:
        code = EXIT_FINDINGS
    if strict and report.errors:
        code = EXIT_FINDINGS
    if strict_baseline and report.summary.stale:
        click.echo(f"mldebt: the baseline accepts {report.summary.fixed} fixed findings in {report.summary.stale} "
                   "entries: run `mldebt baseline prune` and commit it", err=True)
        code = EXIT_FINDINGS
    if exit_zero:
        code = EXIT_OK
    sys.exit(code)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "json", "mermaid"]), default="dot", show_default=True,
              help="Graph format: Graphviz DOT, JSON, or a Mermaid flowchart.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the graph to FILE instead of standard output.")
@click.option("--imports", is_flag=True, help="Also show module imports, not only the data pipeline.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores; 1 runs in process).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read settings from this TOML file instead of the nearest pyproject.toml.")
@_analysis_options
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def graph(paths: tuple[Path, ...], fmt: str, output: Path | None, imports: bool, jobs: int | None,
          config_file: Path | None, no_cache: bool, cache_dir: Path | None, file_timeout: float | None,
          debug: bool) -> None:
    """Export the pipeline graph of PATHS: steps, data artifacts, reads, writes, runs.

    Undeclared reads and artifacts and pipeline-jungle chains are marked, so you can look at
    your jungle: `mldebt graph --format dot | dot -Tsvg > pipeline.svg`.
    """
    from mldebt.project.export import render as render_graph
    from mldebt.scan import run_graph

    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise click.BadParameter(f"{p}: no such file or directory", param_hint="PATHS")
    request = ScanRequest(targets=tuple(paths) or (Path.cwd(),), config_file=config_file,
                          overrides=Overrides(), jobs=jobs or default_jobs(), debug=debug,
                          cache=not no_cache, cache_dir=cache_dir, file_timeout=file_timeout)
    g, errors = run_graph(request)
    text = render_graph(g, fmt, imports=imports)
    for path, message in errors:
        click.echo(f"mldebt graph: {path}: {message}", err=True)
    if output is not None:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


@cli.group()
def baseline() -> None:
    """Accept today's debt once, so that CI fails only on new findings.

    The baseline (default `.mldebt-baseline.json` at the project root, or `baseline` in the
    configuration) lists each group of identical findings with a count: no line numbers, no
    timestamps, sorted, so it reviews like code and regenerates byte for byte.
    """


def _baseline_target(root: Path, file: Path | None, configured: str | None) -> Path:
    if file is not None:
        return file.resolve()
    return (root / (configured or baselines.DEFAULT_NAME)).resolve()


@baseline.command("create")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--baseline", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write it (default: `baseline` in the config, else .mldebt-baseline.json at the root).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None)
@_analysis_options
@click.option("--debug", is_flag=True)
def baseline_create(paths: tuple[Path, ...], file: Path | None, config_file: Path | None, jobs: int | None,
                    no_cache: bool, cache_dir: Path | None, file_timeout: float | None, debug: bool) -> None:
    """Write a baseline accepting every finding of PATHS now (overwrites the file)."""
    from mldebt.scan import prepare

    request = ScanRequest(targets=tuple(paths) or (Path.cwd(),), config_file=config_file,
                          overrides=Overrides(), jobs=jobs or default_jobs(), debug=debug, use_baseline=False,
                          cache=not no_cache, cache_dir=cache_dir, file_timeout=file_timeout)
    settings, _ = prepare(request)
    target = _baseline_target(settings.root, file, settings.baseline)
    report = run_scan(request)
    made = baselines.from_findings(report.findings)
    write_atomic(target, baselines.dumps(made))
    click.echo(f"mldebt: wrote {target} ({len(made.entries)} entries accepting {made.total} findings)", err=True)


@baseline.command("prune")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--baseline", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The baseline to prune (default: `baseline` in the config, else .mldebt-baseline.json).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None)
@_analysis_options
@click.option("--debug", is_flag=True)
def baseline_prune(paths: tuple[Path, ...], file: Path | None, config_file: Path | None, jobs: int | None,
                   no_cache: bool, cache_dir: Path | None, file_timeout: float | None, debug: bool) -> None:
    """Remove the baseline's fixed findings. It never adds: new debt stays new."""
    from mldebt.scan import prepare

    request = ScanRequest(targets=tuple(paths) or (Path.cwd(),), config_file=config_file,
                          overrides=Overrides(), jobs=jobs or default_jobs(), debug=debug,
                          cache=not no_cache, cache_dir=cache_dir, file_timeout=file_timeout)
    settings, _ = prepare(request)
    target = _baseline_target(settings.root, file, settings.baseline)
    request = dataclasses.replace(request, baseline=target)
    report, found, _ = scan_with_baseline(request)
    assert found is not None
    before = baselines.load(target)
    after = baselines.prune(before, found.stale)
    if after != before:
        write_atomic(target, baselines.dumps(after))
    click.echo(f"mldebt: pruned {before.total - after.total} fixed findings from {target} "
               f"({len(after.entries)} entries left)", err=True)


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Write the overview page to FILE.")
def merge(reports: tuple[Path, ...], output: Path) -> None:
    """Combine JSON reports of many repositories into one HTML overview.

    Each REPORT is what `mldebt scan --format json --with-source` wrote for one repository (a CI
    matrix over an organisation's repositories); the page has a row per repository and the same
    drill-down as a single report.
    """
    from datetime import datetime, timezone

    from mldebt.reportio import load_report

    loaded = [load_report(p) for p in reports]
    from mldebt.reporters.html import render_merged

    generated = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_atomic(output, render_merged(loaded, generated))
    click.echo(f"mldebt: wrote {output} ({len(loaded)} repositories, "
               f"{sum(r.summary.findings for r in loaded)} findings)", err=True)


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="MLDEBT_CACHE_DIR", show_envvar=True, help="The cache folder to remove (default: the project's).")
def clean(path: Path | None, cache_dir: Path | None) -> None:
    """Remove the cache of the project at PATH (default: the current directory)."""
    import shutil

    from mldebt.scan import cache_dir as folder_of
    from mldebt.scan import prepare

    request = ScanRequest(targets=(path or Path.cwd(),), cache_dir=cache_dir)
    settings, _ = prepare(request)
    folder = folder_of(request, settings)
    if folder is None or not folder.exists():
        click.echo("mldebt: no cache to remove", err=True)
        return
    marker = folder / ".gitignore"
    ours = marker.is_file() and marker.read_text(encoding="utf-8", errors="replace").startswith("# created by mldebt")
    if not ours:
        raise click.UsageError(f"{folder} does not look like an mldebt cache (no .gitignore of ours): not removed")
    shutil.rmtree(folder)
    click.echo(f"mldebt: removed {folder}", err=True)


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
def rules_cmd(fmt: str) -> None:
    """List the rule catalog: code, name, smell, status, severity."""
    catalog = load_catalog()
    if fmt == "markdown":
        click.echo("| code | name | smell | status | severity | what it flags |")
        click.echo("|---|---|---|---|---|---|")
        for r in catalog.rules:
            click.echo(f"| `{r.code}` | `{r.name}` | {r.smell} | {r.status} | {r.severity.value} | {r.summary} |")
        return
    if fmt == "json":
        click.echo(json.dumps([
            {"code": r.code, "name": r.name, "smell": r.smell, "status": r.status,
             "severity": r.severity.value, "confidence": r.confidence.value,
             "remediation_minutes": r.remediation_minutes, "summary": r.summary}
            for r in catalog.rules], indent=2))
        return
    header = ("CODE", "NAME", "SMELL", "STATUS", "SEVERITY")
    rows = [(r.code, r.name, r.smell, r.status, r.severity.value) for r in catalog.rules]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@cli.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Show the documentation of RULE (a code such as MLD301, or a name)."""
    click.echo(explain_text(rule), nl=False)


def explain_text(rule: str) -> str:
    catalog = load_catalog()
    spec = catalog.lookup(rule)
    if spec is None:
        raise click.BadParameter(f"unknown rule {rule!r} (`mldebt rules` lists them)", param_hint="RULE")
    doc = inspect.cleandoc(spec.load_class().__doc__ or "").strip()
    opts = rule_spec_options_doc(spec)
    # The class documents its options in prose; the catalog's defaults are authoritative.
    head = (f"# {spec.code} {spec.name}\n\n"
            f"smell: {spec.smell} | status: {spec.status} (since {spec.since}) | "
            f"severity: {spec.severity.value} | confidence: {spec.confidence.value} | "
            f"remediation: {spec.remediation_minutes} min | "
            f"runs on tests: {'yes' if spec.tests else 'no'}\n\n")
    return f"{head}{doc}\n\n### Option defaults\n{opts}\n"


def _interrupt_on_sigterm() -> None:
    """SIGTERM (what CI sends a cancelled job) unwinds like Ctrl-C: temporary files are
    removed, workers are stopped, and every report and baseline stays the old whole file."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (mldebt called from a library): leave it
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's exit codes, except that an internal error exits 2, not 1."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    _interrupt_on_sigterm()
    try:
        cli.main(args=args, prog_name="mldebt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = f"mldebt {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "mldebt"
        click.echo(f"{where}: error: {visible(exc.format_message())} (see --help)", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        click.echo(f"mldebt: error: {visible(exc.format_message())}", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt (Ctrl-C, SIGTERM)
        click.echo("mldebt: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except (ConfigError, CatalogError, BaselineError, GitError, ReportFileError) as exc:
        click.echo(f"mldebt: error: {visible(str(exc))}", err=True)  # one line, whatever a file said
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("mldebt: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # an internal error: one line, or the traceback with --debug
        if debug:
            traceback.print_exc()
        else:
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(f"mldebt: internal error: {type(exc).__name__}: {visible(first)}"
                       " (run with --debug for the traceback)",
                       err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)
