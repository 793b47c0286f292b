#!/usr/bin/env python3
"""Draw a random sample of findings per rule from a JSON report, with their source, to judge.

Usage:
    mldebt scan CORPUS --preview --select MLD6,MLD7,MLD8,MLD9 --format json -o report.json
    python benchmarks/sample_findings.py report.json [--per-rule 20] [--seed 6] [--context 4]
        [--rules MLD601,MLD702] [-o sample.md]

Prints, per rule, how many findings the report has and up to ``--per-rule`` of them drawn
at random (a fixed seed, so the sample can be re-drawn and re-judged), each with the
message and the source lines around it, read from the scanned tree (the report's ``root``).
Each entry ends with a ``verdict:`` line for the judge to fill in (``right`` / ``wrong`` and
why); ``--tally FILE`` reads a judged sample back and prints judged precision per rule.
Notebook findings show the joined code cells' lines, as the rules saw them.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from mldebt.parsing import SourceError, load_source

_HEADER_RE = re.compile(r"^### (MLD\d{3}) ")
_VERDICT_RE = re.compile(r"^verdict:\s*(right|wrong)\b", re.IGNORECASE)


def source_lines(root: Path, path: str) -> list[str]:
    try:
        return load_source(path, (root / path).read_bytes()).text.splitlines()
    except (OSError, SourceError):
        return []


def render_sample(report: dict[str, Any], per_rule: int, seed: int, context: int,
                  rules: set[str] | None) -> str:
    root = Path(report["root"])
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in report["findings"]:
        if rules is None or f["rule"] in rules:
            by_rule[f["rule"]].append(f)
    out = [f"# Findings to judge ({report['root']})", ""]
    out.append("| rule | findings | sampled |")
    out.append("|---|---:|---:|")
    for rule in sorted(by_rule):
        out.append(f"| {rule} | {len(by_rule[rule])} | {min(per_rule, len(by_rule[rule]))} |")
    out.append("")
    for rule in sorted(by_rule):
        found = sorted(by_rule[rule], key=lambda f: (f["path"], f["line"], f["column"]))
        sample = random.Random(f"{seed}:{rule}").sample(found, min(per_rule, len(found)))
        for i, f in enumerate(sample, 1):
            where = f"{f['path']}:{f['line']}" + (f" [cell {f['cell']}, line {f['cell_line']}]" if "cell" in f else "")
            out.append(f"### {rule} {f['name']} {i}/{len(sample)} — {where} ({f['confidence']})")
            out.append("")
            out.append(f"> {f['message']}")
            out.append("")
            lines = source_lines(root, f["path"])
            lo, hi = max(1, f["line"] - context), min(len(lines), f["end_line"] + context)
            out.append("```python")
            out.extend(f"{'>' if f['line'] <= n <= f['end_line'] else ' '}{n:5d}  {lines[n - 1]}"
                       for n in range(lo, hi + 1))
            out.append("```")
            out.append("verdict: ")
            out.append("")
    return "\n".join(out) + "\n"


def tally(text: str) -> str:
    judged: dict[str, list[bool]] = defaultdict(list)
    rule = None
    for line in text.splitlines():
        if m := _HEADER_RE.match(line):
            rule = m.group(1)
        elif (v := _VERDICT_RE.match(line)) and rule is not None:
            judged[rule].append(v.group(1).lower() == "right")
            rule = None
    out = ["| rule | judged | right | precision |", "|---|---:|---:|---:|"]
    for r in sorted(judged):
        n, ok = len(judged[r]), sum(judged[r])
        out.append(f"| {r} | {n} | {ok} | {ok / n:.2f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path, nargs="?")
    ap.add_argument("--per-rule", type=int, default=20)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--context", type=int, default=4)
    ap.add_argument("--rules", help="comma-separated rule codes (default: every rule in the report)")
    ap.add_argument("--tally", type=Path, help="a judged sample: print judged precision per rule")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    if args.tally is not None:
        print(tally(args.tally.read_text(encoding="utf-8")))
        return 0
    if args.report is None:
        ap.error("a JSON report is required")
    report = json.loads(args.report.read_text(encoding="utf-8"))
    rules = set(args.rules.split(",")) if args.rules else None
    text = render_sample(report, args.per_rule, args.seed, args.context, rules)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
