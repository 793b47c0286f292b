#!/usr/bin/env python3
"""Time `mldebt scan` against the libcst parse-only floor, in one run.

Usage:
    python benchmarks/bench_scan.py [--size small|medium|large] [--corpus DIR] [--repeat N]
        [--jobs N] [--no-phases]

Builds the benchmark corpus with ../shared/bench/make_corpus.py unless --corpus names an
existing one (or DIR already holds a corpus-manifest.json). Each repetition times, back to
back, (a) parsing every .py file with libcst alone in one process (the floor, as
../shared/bench/parse_floor.py --mode cst does) and (b) a full `mldebt scan --jobs 1` of the
same tree as a subprocess (JSON to a temporary file), with the peak resident memory of its
largest process (the scan or one of its workers), and (c) `ruff check` of the same tree, cold,
when ruff is installed: the peer users compare with. Prints the medians, the ratios, and the
scan's file, error and per-rule finding counts.

It then times the phases of one scan in process (``--jobs 1``): the file phase, the
declarations read from the repository's non-Python files, the project graph and the project
rules, and the policy step, so the project phase's share of the total is measured on its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"


def ensure_corpus(size: str, corpus: Path | None) -> Path:
    dest = corpus or HERE / "results" / f"corpus-{size}"
    if (dest / "corpus-manifest.json").exists():
        return dest
    make = SHARED / "bench" / "make_corpus.py"
    if not make.exists():
        sys.exit(f"no corpus at {dest} and no {make} to build one")
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(make), str(dest), "--size", size], check=True)
    return dest


def parse_floor(root: Path) -> tuple[float, int]:
    code = r"""
import os, sys, time, libcst
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs if f.endswith('.py'))
t = time.perf_counter()
for p in paths:
    with open(p, 'rb') as fh:
        data = fh.read()
    try:
        libcst.parse_module(data)
    except Exception:
        pass
print(time.perf_counter() - t, len(paths))
"""
    out = subprocess.run([sys.executable, "-c", code, str(root)], check=True, capture_output=True, text=True)
    seconds, files = out.stdout.split()
    return float(seconds), int(files)


# runs a command and prints the peak resident set size of its largest process (the scan or
# one of its workers: RUSAGE_CHILDREN covers descendants that were waited for), in KiB
PEAK = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def scan(root: Path, jobs: int, out: Path) -> tuple[float, float]:
    """Seconds of one `mldebt scan` and the peak RSS of its largest process, in MiB."""
    cmd = [sys.executable, "-m", "mldebt", "scan", str(root), "--jobs", str(jobs), "--format", "json",
           "-o", str(out), "--exit-zero", "--no-color"]
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    return seconds, int(done.stdout.split()[-1]) / 1024


def ruff_seconds(root: Path) -> float | None:
    """A peer for scale: `ruff check` of the same tree, cold (no cache), when ruff is installed."""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        return None
    t = time.perf_counter()
    subprocess.run([ruff, "check", "--no-cache", "--exit-zero", "--quiet", "--isolated", str(root)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


PHASES = r"""
import sys, time
from pathlib import Path
from mldebt import scan as s
from mldebt.project import Project, run_project_rules
from mldebt.rules.base import ProjectRule
req = s.ScanRequest(targets=(Path(sys.argv[1]),), jobs=1)
t0 = time.perf_counter()
settings, catalog = s.prepare(req)
plans = s.make_plans(settings, catalog)
t1 = time.perf_counter()
results, errors, decl, only = s._analyse(req, settings, catalog, plans, None)
t2 = time.perf_counter()
project = Project(str(settings.root), results, decl, catalog.knowledge)
graph = project.pipeline
t3 = time.perf_counter()
classes = [(c, catalog.by_code(c).load_class()) for c in settings.enabled]
run_project_rules(project, [(c, cls, settings.options_for(c)) for c, cls in classes
                            if isinstance(cls, type) and issubclass(cls, ProjectRule)])
t4 = time.perf_counter()
report = s.build_report(settings, catalog, results, errors, decl, only)
t5 = time.perf_counter()
print(t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0, len(graph.reads), len(graph.writes), len(graph.runs))
"""


def phases(root: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PHASES, str(root)], check=True, capture_output=True, text=True)
    files, graph, rules, report, total, reads, writes, runs = out.stdout.split()
    f, g, r, b, t = (float(x) for x in (files, graph, rules, report, total))
    project = g + r
    print(f"\nphases (in process, --jobs 1): file phase {f:.2f}s (with declarations), project graph "
          f"{g:.3f}s ({reads} reads, {writes} writes, {runs} runs), project rules {r:.3f}s, "
          f"report with project phase and policy {b:.3f}s, total {t:.2f}s")
    print(f"project phase (graph + project rules) {project:.3f}s = {100 * project / t:.2f}% of the scan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("small", "medium", "large"), default="small")
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-phases", action="store_true", help="skip the in-process phase timing")
    args = ap.parse_args()
    root = ensure_corpus(args.size, args.corpus)
    floors, scans, peaks, ruffs = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        for i in range(args.repeat):
            f, n_files = parse_floor(root)
            s, peak = scan(root, args.jobs, out)
            r = ruff_seconds(root)
            floors.append(f)
            scans.append(s)
            peaks.append(peak)
            line = f"run {i + 1}: parse floor {f:.2f}s  scan --jobs {args.jobs} {s:.2f}s  ratio {s / f:.2f}x"
            line += f"  peak RSS {peak:.0f} MiB"
            if r is not None:
                ruffs.append(r)
                line += f"  ruff {r:.2f}s ({r / f:.3f}x)"
            print(line, flush=True)
        report = json.loads(out.read_text(encoding="utf-8"))
    floor, total = statistics.median(floors), statistics.median(scans)
    print(f"\ncorpus {root} ({n_files} .py files)")
    print(f"median parse floor {floor:.2f}s, median scan --jobs {args.jobs} {total:.2f}s, "
          f"ratio {total / floor:.2f}x (target <= 2.5x), peak RSS of the largest process {max(peaks):.0f} MiB")
    if ruffs:
        r = statistics.median(ruffs)
        print(f"peer: ruff check (cold, default rules) {r:.2f}s = {r / floor:.3f}x the floor")
    s = report["summary"]
    print(f"files {s['files']}, findings {s['findings']}, errors {s['errors']}")
    for rule, n in sorted(s["by_rule"].items()):
        print(f"  {rule}: {n}")
    reasons = Counter(e["message"].split(":")[0] for e in report["errors"])
    for reason, n in reasons.most_common():
        print(f"  error: {reason}: {n}")
    if not args.no_phases:
        phases(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
