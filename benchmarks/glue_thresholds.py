#!/usr/bin/env python3
"""Measure what the glue-code rules see on a corpus, to choose their thresholds.

Usage:
    python benchmarks/glue_thresholds.py CORPUS [--jobs N] [--json OUT]

Runs the glue-code tracker (mldebt/rules/glue_code/_common.py) over every non-test
``.py`` file under CORPUS and prints, for functions that call an ML API and convert at
least once (the candidates of MLD101) and for modules (MLD102), the distribution of the
quantities the thresholds act on, and how many findings each combination of thresholds
would give. Nothing is reported; the rules' own options are not read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from mldebt.catalog import load_catalog
from mldebt.discovery import is_test_path, module_name
from mldebt.engine import FileContextImpl
from mldebt.parsing import SourceError, load_source, parse
from mldebt.rules.glue_code._common import TracksGlue


def analyse(args: tuple[str, str]) -> dict[str, Any] | None:
    abspath, root = args
    path = Path(abspath)
    rel = path.relative_to(root).as_posix()
    try:
        source = load_source(rel, path.read_bytes())
        tree = parse(source)
    except (SourceError, OSError):
        return None
    module, is_package = module_name(path, Path(root))
    ctx = FileContextImpl(rel, module, False, source, tree, load_catalog().knowledge, is_package)
    rule = TracksGlue(ctx, "MLD100", {}, ctx)  # type: ignore[arg-type]
    try:
        ctx.walk([rule])
    except RecursionError:
        return None
    g = rule.glue
    units = []
    for u in (g.module_unit, *g.closed):
        if not u.conversions and not u.ml:
            continue
        units.append({
            "name": u.name,
            "function": u.node is not None, "interface": u.interface,
            "S": u.statements, "C": u.conversions, "M": u.ml, "packages": list(u.packages),
            "frameworks": list(u.frameworks), "ml_frameworks": list(u.ml_frameworks),
            "ml": list(u.ml_names), "spellings": list(u.spellings),
        })
    return {"path": rel, "imports": list(g.imports), "frameworks": sorted(g.k.frameworks), "units": units}


def quantiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)) -> str:
    if not values:
        return "n/a"
    v = sorted(values)
    return ", ".join(f"p{q * 100:g}={v[min(len(v) - 1, int(q * len(v)))]:.2f}" for q in qs) + f", max={v[-1]:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the per-file measurements here")
    ns = ap.parse_args()
    root = ns.corpus.resolve()
    files = sorted(p for p in root.rglob("*.py") if not is_test_path(p.relative_to(root).as_posix()))
    with ProcessPoolExecutor(ns.jobs) as pool:
        results = [r for r in pool.map(analyse, [(str(p), str(root)) for p in files], chunksize=8) if r]
    if ns.json:
        ns.json.write_text(json.dumps(results, indent=1))
    fns = [(r["path"], u) for r in results for u in r["units"] if u["function"]]
    cands = [(p, u) for p, u in fns if u["M"] and u["C"] and not u["interface"]]
    print(f"{len(results)} files; {len(fns)} functions that convert or call ML; "
          f"{len(cands)} that do both (not interface methods)")
    print("conversion statements C:", quantiles([u["C"] for _, u in cands]))
    print("ratio C/S:               ", quantiles([u["C"] / u["S"] for _, u in cands]))
    print("packages:                ", dict(sorted(Counter(len(u["packages"]) for _, u in cands).items())))
    print("\nMLD101 findings by (min-conversions, min-ratio, min-packages):")
    for c in (2, 3, 4, 5, 6):
        row = []
        for ratio in (0.1, 0.2, 0.3, 0.5):
            for pk in (1, 2):
                n = sum(1 for _, u in cands if u["C"] >= c and u["C"] / u["S"] >= ratio and len(u["packages"]) >= pk)
                row.append(f"r{ratio}/p{pk}={n}")
        print(f"  C>={c}: " + "  ".join(row))
    print("\nMLD102 modules by (min-conversions, min-functions), min-frameworks=2:")
    mods = []
    for r in results:
        conv = sum(u["C"] for u in r["units"])
        glue = [u for u in r["units"] if u["C"] and u["M"]]
        touched = {f for u in r["units"] for f in u["frameworks"]} | {f for u in glue for f in u["ml_frameworks"]}
        bridged = [f for f in r["imports"] if f in touched and f in r["frameworks"]]
        mods.append((r["path"], conv, len(glue), bridged))
    two = [m for m in mods if len(m[3]) >= 2]
    print(f"  modules bridging >= 2 frameworks at all: {len(two)}; conversions there:",
          quantiles([m[1] for m in two]))
    for c in (2, 4, 6, 8, 10):
        print(f"  C>={c}: " + "  ".join(
            f"f{f}={sum(1 for m in two if m[1] >= c and m[2] >= f)}" for f in (1, 2, 3, 4)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
