"""The command line. Only this module wires settings, engine and reporters together.

Exit codes: 0 no new findings at or above ``--fail-on``; 1 new findings; 2 usage,
configuration or internal error (``--debug`` shows the traceback).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mldebt import __version__
from mldebt.catalog import CatalogError, load_catalog
from mldebt.config import ConfigError, Overrides, rule_spec_options_doc
from mldebt.engine import default_jobs
from mldebt.reporters import FORMATS, render
from mldebt.scan import ScanRequest, run_scan

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


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = path.absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="mldebt", message="%(prog)s %(version)s")
def cli() -> None:
    """mldebt finds the hidden technical debt of machine-learning code.

    It reports the smells of Sculley et al., "Hidden Technical Debt in Machine Learning
    Systems" (NeurIPS 2015): hard-coded thresholds, dead experimental code paths, and more.
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE instead of standard output.")
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
@click.option("--no-color", is_flag=True, help="Never colour the output (NO_COLOR is honoured too).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def scan(paths: tuple[Path, ...], fmt: str, output: Path | None, select: tuple[str, ...],
         extend_select: tuple[str, ...], ignore: tuple[str, ...], jobs: int | None,
         fail_on: str | None, min_confidence: str | None, exit_zero: bool, strict: bool,
         preview: bool | None, config_file: Path | None, no_color: bool, debug: bool) -> None:
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
    )
    progress = _Progress(fmt == "text" and sys.stderr.isatty() and not os.environ.get("CI"))
    try:
        report = run_scan(request, progress=progress)
    finally:
        progress.close()
    color = output is None and fmt == "text" and _use_color(no_color, sys.stdout)
    text = render(report, fmt, color=color)
    if output is not None:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False, color=color)
    code = EXIT_OK
    if report.gating:
        code = EXIT_FINDINGS
    if strict and report.errors:
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
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def graph(paths: tuple[Path, ...], fmt: str, output: Path | None, imports: bool, jobs: int | None,
          config_file: Path | None, debug: bool) -> None:
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
                          overrides=Overrides(), jobs=jobs or default_jobs(), debug=debug)
    g, errors = run_graph(request)
    text = render_graph(g, fmt, imports=imports)
    for path, message in errors:
        click.echo(f"mldebt graph: {path}: {message}", err=True)
    if output is not None:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


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


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's exit codes, except that an internal error exits 2, not 1."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="mldebt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = f"mldebt {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "mldebt"
        click.echo(f"{where}: error: {exc.format_message()} (see --help)", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        click.echo(f"mldebt: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        click.echo("mldebt: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except (ConfigError, CatalogError) as exc:
        click.echo(f"mldebt: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("mldebt: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # an internal error: one line, or the traceback with --debug
        if debug:
            traceback.print_exc()
        else:
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(f"mldebt: internal error: {type(exc).__name__}: {first} (run with --debug for the traceback)",
                       err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)
