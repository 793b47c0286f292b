#!/usr/bin/env python3
"""One command for every speed target: paired ratios to the libcst parse floor, in one run.

Usage:
    python benchmarks/bench_all.py [--size small|medium|large] [--corpus DIR] [--repeat N]
        [--skip MODE,...] [--pylint PATH] [--json OUT]

Builds the benchmark corpus with ../shared/bench/make_corpus.py unless --corpus names an
existing one (the same as bench_scan.py, whose helpers this reuses). Each repetition works on
a fresh COPY of the corpus in a temporary folder (the corpus itself is never written to), made
a git repository with one commit, as the projects pre-commit runs in are. It runs, back to
back, one process each, in this order:

    floor     libcst parses every .py file in one process (bench_scan.parse_floor)
    cold1     mldebt scan COPY --jobs 1 --no-cache
    cold      mldebt scan COPY --jobs <all cores> --no-cache
    build     mldebt scan COPY --jobs <all cores> --cache-dir D   (fills the cache; no target)
    warm      the same command again, nothing changed
    changed   one line appended to a mid-sized .py file, then, from the copy's root,
              mldebt scan <that file> --cache-dir D --jobs 1      (what the pre-commit hook runs)
    ruff      ruff check --no-cache COPY, where ruff is installed (a peer)
    pylint    pylint --recursive=y -j 1 COPY, small tier only, where pylint is installed (a peer)
    dslinter  the same with --load-plugins=dslinter, where dslinter is importable by that pylint

and prints one table of the medians: seconds, the ratio to the floor, the target, pass or
fail, and the peak resident memory of the largest process (the scan or one of its workers).
Targets: cold1 <= 2.5x the floor, cold <= 1.4x, warm <= 0.05x and faster than ruff, changed
under 1 s of wall clock, and no mldebt process above 1 GiB in cold1, cold or changed.

An mldebt without the cache (no --no-cache / --cache-dir in `mldebt scan --help`) still runs:
cold1 and cold are then plain scans (every scan is cold), build and warm are reported as not
run, and changed runs without --cache-dir, i.e. analyses the whole project again. Peers may
live in another virtual environment: pass --pylint /path/to/venv/bin/pylint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scan import PEAK, ensure_corpus, parse_floor, ruff_seconds

MODES = ("floor", "cold1", "cold", "build", "warm", "changed", "ruff", "pylint", "dslinter")
LABELS = {
    "floor": "parse floor (libcst, 1 process)",
    "cold1": "cold scan --jobs 1",
    "cold": "cold scan --jobs {cores}",
    "build": "cache build --jobs {cores}",
    "warm": "warm scan (nothing changed)",
    "changed": "one file changed (pre-commit)",
    "ruff": "ruff check --no-cache",
    "pylint": "pylint -j 1",
    "dslinter": "pylint -j 1 + dslinter",
}
GIB_MIB = 1024.0
RSS_MODES = ("cold1", "cold", "changed")  # the mldebt runs the memory target applies to
BENCH_LINE = "\nX_BENCH = 1\n"


@dataclass(frozen=True, slots=True)
class Target:
    """A mode's goal: at most ``ratio`` times the floor, or under ``seconds`` of wall clock."""

    text: str
    ratio: float | None = None
    seconds: float | None = None
    beat_ruff: bool = False


TARGETS = {
    "cold1": Target("<= 2.5x", ratio=2.5),
    "cold": Target("<= 1.4x", ratio=1.4),
    "warm": Target("<= 0.05x, < ruff", ratio=0.05, beat_ruff=True),
    "changed": Target("< 1 s wall", seconds=1.0),
}


@dataclass(frozen=True, slots=True)
class Run:
    """One process: its wall-clock seconds and the peak RSS of its largest process (MiB)."""

    seconds: float
    rss_mib: float | None = None


@dataclass(slots=True)
class Mode:
    """What one mode measured over the repetitions, or why it did not run."""

    name: str
    runs: list[Run] = field(default_factory=list)
    note: str = ""
    skipped: str = ""  # non-empty: the reason it did not run

    @property
    def seconds(self) -> float | None:
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    @property
    def rss_mib(self) -> float | None:
        peaks = [r.rss_mib for r in self.runs if r.rss_mib is not None]
        return max(peaks) if peaks else None


# --- pure helpers (unit-tested in tests/test_bench_all.py) --------------------------------------

def parse_skip(text: str) -> frozenset[str]:
    """``--skip cold1,ruff`` as a set of mode names; an unknown name is an error."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - set(MODES))
    if unknown:
        raise ValueError(f"unknown mode(s) {', '.join(unknown)}; modes are {', '.join(MODES)}")
    return names


def cache_flags(help_text: str) -> bool:
    """Whether this mldebt's `scan --help` offers the cache options the harness drives."""
    return "--no-cache" in help_text and "--cache-dir" in help_text


def pick_changed_file(sizes: Iterable[tuple[str, int]]) -> str:
    """The .py file of median size (ties broken by path): a typical file, neither an empty
    ``__init__.py`` nor the largest module. ``sizes`` holds (relative path, bytes)."""
    ranked = sorted(((n, p) for p, n in sizes if p.endswith(".py") and n > 0), key=lambda t: (t[0], t[1]))
    if not ranked:
        raise ValueError("no non-empty .py file to change")
    return ranked[len(ranked) // 2][1]


def judge(name: str, seconds: float | None, floor: float | None, ruff: float | None) -> bool | None:
    """Pass (True), fail (False) or no target / not measured (None) for a mode's median."""
    target = TARGETS.get(name)
    if target is None or seconds is None:
        return None
    if target.seconds is not None:
        return seconds < target.seconds
    if floor is None or floor <= 0:
        return None
    ok = target.ratio is None or seconds / floor <= target.ratio
    if target.beat_ruff and ruff is not None:
        ok = ok and seconds < ruff
    return ok


def judge_rss(peaks: Sequence[float | None]) -> bool | None:
    measured = [p for p in peaks if p is not None]
    return max(measured) < GIB_MIB if measured else None


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("pass" if ok else "FAIL")


def table(rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with a header rule; the first column left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        cells = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)]
        return "  ".join(cells).rstrip()

    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths), *(line(r) for r in rows[1:])])


# --- running the modes --------------------------------------------------------------------------

def timed(cmd: Sequence[str], cwd: Path | None = None, rss: bool = False) -> Run:
    """Wall clock of one command; with ``rss``, through bench_scan's RUSAGE_CHILDREN wrapper,
    which adds one small Python start-up to the wall clock. Raises RuntimeError on failure."""
    full = [sys.executable, "-c", PEAK, *cmd] if rss else list(cmd)
    t = time.perf_counter()
    done = subprocess.run(full, check=False, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"exit {done.returncode}: {tail}")
    return Run(seconds, int(done.stdout.split()[-1]) / 1024 if rss else None)


def mldebt(targets: Sequence[str], jobs: int, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mldebt", "scan", *targets, "--jobs", str(jobs), *extra,
            "--format", "json", "-o", str(out), "--exit-zero", "--no-color"]


def find_tool(name: str, given: str | None) -> str | None:
    if given:
        return given if Path(given).exists() else shutil.which(given)
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


def interpreter_of(script: str) -> str:
    """The Python that runs a console script: its shebang, else the python beside it."""
    try:
        first = Path(script).read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    except OSError:
        first = ""
    if first.startswith("#!") and "python" in first:
        return first[2:].strip().split()[0]
    return str(Path(script).parent / "python")


def peer_versions(pylint: str) -> dict[str, str | None]:
    code = ("import importlib.metadata as m\n"
            "for n in ('pylint', 'astroid', 'dslinter'):\n"
            "    try: print(n, m.version(n))\n"
            "    except m.PackageNotFoundError: print(n, '-')\n")
    out = subprocess.run([interpreter_of(pylint), "-c", code], check=False, capture_output=True, text=True)
    found: dict[str, str | None] = {"pylint": None, "astroid": None, "dslinter": None}
    for line in out.stdout.splitlines():
        name, _, version = line.partition(" ")
        if name in found and version != "-":
            found[name] = version
    return found


def make_copy(root: Path, dest: Path) -> None:
    """A copy of the corpus, committed to a fresh git repository (the root pre-commit runs
    from), so that a scan of one named file finds the whole project around it."""
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".mldebt_cache", ".ruff_cache", ".git"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false",
           "-c", "core.hooksPath=/dev/null"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "corpus"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)


def file_sizes(root: Path) -> list[tuple[str, int]]:
    """(path relative to root, bytes) of every file under root, outside .git."""
    sizes = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = os.path.join(folder, name)
            sizes.append((os.path.relpath(path, root), os.path.getsize(path)))
    return sizes


def corpus_facts(root: Path) -> dict[str, Any]:
    manifest = root / "corpus-manifest.json"
    if not manifest.exists():
        return {}
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {"size": data.get("size"), "lines": data.get("total", {}).get("lines"),
            "packages": [f"{p['package']} {p['version']}" for p in data.get("packages", [])]}


def mldebt_version() -> str:
    out = subprocess.run([sys.executable, "-m", "mldebt", "--version"], check=False, capture_output=True, text=True)
    return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout.strip() else "?"


def one_repetition(root: Path, modes: dict[str, Mode], skip: frozenset[str], cores: int, has_cache: bool,
                   pylint: str | None, dslinter: bool, small: bool) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="mldebt-bench-") as tmp:
        copy, cache, out = Path(tmp) / "corpus", Path(tmp) / "cache", Path(tmp) / "report.json"
        make_copy(root, copy)
        n_files = 0

        def attempt(name: str, action: Any) -> Run | None:
            mode = modes[name]
            if name in skip or mode.skipped:
                return None
            try:
                run = action()
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                mode.skipped = f"failed: {exc}"
                return None
            mode.runs.append(run)
            return run

        def floor() -> Run:
            nonlocal n_files
            seconds, n_files = parse_floor(copy)
            return Run(seconds)

        no_cache = ("--no-cache",) if has_cache else ()
        with_cache = ("--cache-dir", str(cache)) if has_cache else ()
        attempt("floor", floor)
        attempt("cold1", lambda: timed(mldebt([str(copy)], 1, out, *no_cache), rss=True))
        attempt("cold", lambda: timed(mldebt([str(copy)], cores, out, *no_cache), rss=True))
        if has_cache and (copy / ".mldebt_cache").exists():  # --no-cache must leave nothing behind
            modes["cold"].note = "--no-cache wrote .mldebt_cache into the project"
            shutil.rmtree(copy / ".mldebt_cache")
        if has_cache:
            if attempt("build", lambda: timed(mldebt([str(copy)], cores, out, *with_cache), rss=True)) is None:
                modes["warm"].skipped = modes["warm"].skipped or "not run: no cache was built"
                modes["changed"].note = "no cache was built"
            attempt("warm", lambda: timed(mldebt([str(copy)], cores, out, *with_cache), rss=True))
        sizes = file_sizes(copy)
        n_files = n_files or sum(1 for p, _ in sizes if p.endswith(".py"))  # the floor counts them too
        changed = pick_changed_file(sizes)
        if "changed" not in skip:
            with open(copy / changed, "a", encoding="utf-8") as fh:
                fh.write(BENCH_LINE)
        attempt("changed", lambda: timed(mldebt([changed], 1, out, *with_cache), cwd=copy, rss=True))
        attempt("ruff", lambda: _ruff(copy))
        if pylint and small:
            base = [pylint, "--recursive=y", "-j", "1", "--persistent=n", "--exit-zero", "--output-format=text"]
            attempt("pylint", lambda: timed([*base, "."], cwd=copy, rss=True))
            if dslinter:
                attempt("dslinter", lambda: timed([*base, "--load-plugins=dslinter", "."], cwd=copy, rss=True))
        return n_files, changed


def _ruff(copy: Path) -> Run:
    seconds = ruff_seconds(copy)
    if seconds is None:
        raise RuntimeError("ruff is not installed")
    return Run(seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("small", "medium", "large"), default="small")
    ap.add_argument("--corpus", type=Path, help="an existing corpus (with corpus-manifest.json)")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions; the table shows medians")
    ap.add_argument("--skip", default="", help=f"comma-separated modes not to run: {','.join(MODES)}")
    ap.add_argument("--pylint", help="the pylint to run as a peer (default: on PATH or beside this Python)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    try:
        skip = parse_skip(args.skip)
    except ValueError as exc:
        ap.error(str(exc))
    root = ensure_corpus(args.size, args.corpus)
    facts = corpus_facts(root)
    small = (facts.get("size") or args.size) == "small"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    help_text = subprocess.run([sys.executable, "-m", "mldebt", "scan", "--help"], capture_output=True,
                               text=True, check=True).stdout
    has_cache = cache_flags(help_text)

    modes = {name: Mode(name) for name in MODES}
    for name in skip:
        modes[name].skipped = "skipped (--skip)"
    if not has_cache:
        note = "this mldebt has no --no-cache/--cache-dir"
        for name in ("build", "warm"):
            modes[name].skipped = modes[name].skipped or f"not run: {note}"
        for name in ("cold1", "cold"):
            modes[name].note = "no cache: a plain scan"
        modes["changed"].note = "no cache: analyses the whole project"
    if find_tool("ruff", None) is None:
        modes["ruff"].skipped = modes["ruff"].skipped or "ruff not installed"
    pylint = find_tool("pylint", args.pylint)
    versions = peer_versions(pylint) if pylint else {}
    has_dslinter = bool(versions.get("dslinter"))
    for name in ("pylint", "dslinter"):
        if not small:
            modes[name].skipped = modes[name].skipped or "small tier only"
        elif pylint is None:
            modes[name].skipped = modes[name].skipped or "pylint not found (--pylint PATH)"
    if pylint and not has_dslinter:
        modes["dslinter"].skipped = modes["dslinter"].skipped or "dslinter not importable by that pylint"
    if pylint:
        modes["pylint"].note = f"pylint {versions.get('pylint')}, astroid {versions.get('astroid')}"
        modes["dslinter"].note = f"dslinter {versions.get('dslinter')}"

    n_files, changed = 0, ""
    for i in range(args.repeat):
        n_files, changed = one_repetition(root, modes, skip, cores, has_cache, pylint, has_dslinter, small)
        done = ", ".join(f"{n} {m.runs[-1].seconds:.2f}s" for n, m in modes.items() if len(m.runs) == i + 1)
        print(f"run {i + 1}: {done}", flush=True)

    floor = modes["floor"].seconds
    ruff = modes["ruff"].seconds
    rows = [["mode", "seconds", "x floor", "target", "result", "peak RSS", "note"]]
    figures: dict[str, Any] = {}
    for name, mode in modes.items():
        label = LABELS[name].format(cores=cores)
        s = mode.seconds
        ok = judge(name, s, floor, ruff)
        ratio = s / floor if s is not None and floor else None
        target = TARGETS[name].text if name in TARGETS else ""
        rss = mode.rss_mib
        note = mode.skipped or mode.note
        rows.append([label, "-" if s is None else f"{s:.2f}", "" if ratio is None else f"{ratio:.3f}x",
                     target, verdict(ok), "" if rss is None else f"{rss:.0f} MiB", note])
        figures[name] = {"label": label, "seconds": s, "runs": [r.seconds for r in mode.runs],
                         "ratio_to_floor": ratio, "target": target or None, "pass": ok,
                         "peak_rss_mib": rss, "note": note or None}
    peaks = [modes[n].rss_mib for n in RSS_MODES]
    rss_ok = judge_rss(peaks)
    measured = [p for p in peaks if p is not None]
    rows.append(["peak RSS (" + ", ".join(RSS_MODES) + ")", "", "", "< 1 GiB", verdict(rss_ok),
                 f"{max(measured):.0f} MiB" if measured else "", "largest process"])
    print(f"\ncorpus {root} ({n_files} .py files, {facts.get('lines') or '?'} lines), {cores} cores, "
          f"mldebt {mldebt_version()}, median of {args.repeat}; changed file: {changed}")
    print(table(rows))
    if args.json:
        payload = {"corpus": str(root), **facts, "py_files": n_files, "cores": cores, "repeat": args.repeat,
                   "mldebt": mldebt_version(), "cache_options": has_cache, "changed_file": changed,
                   "peers": versions, "modes": figures,
                   "peak_rss": {"modes": list(RSS_MODES), "mib": max(measured) if measured else None,
                                "target": "< 1 GiB", "pass": rss_ok}}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
