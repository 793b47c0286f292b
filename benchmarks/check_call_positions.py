#!/usr/bin/env python3
"""Check, on a real corpus, that locating calls by searching the source agrees with libcst.

The engine locates facts whose nodes are all calls by searching the source text
(``engine._search_positions``) instead of a code-generation pass over the whole file. This
script walks every ``.py`` file of a corpus the way the engine does, locates every call both
ways, and counts the files where searching gave up (falling back is correct, only slower) and
the calls where the two disagree (a wrong line: must be 0).

    python benchmarks/check_call_positions.py /work/corpus/medium
"""

from __future__ import annotations

import sys
from pathlib import Path

from mldebt import engine
from mldebt.parsing import SourceError, load_source, parse
from mldebt.testing import calls_in_walk_order


def main(root: Path) -> int:
    files = fallback = calls = wrong = 0
    for path in sorted(root.rglob("*.py")):
        try:
            source = load_source(path.name, path.read_bytes())
            module = parse(source)
        except SourceError:
            continue
        found, ctx = calls_in_walk_order(path.name, source, module)
        if not found:
            continue
        files += 1
        searched = engine._search_positions(source.text, module, found, ctx.masked)
        if searched is None:
            fallback += 1
            continue
        generated = engine._positions(module, found)
        for call in found:
            calls += 1
            a, b = searched[id(call)], generated[id(call)]
            if (a.line, a.column, a.end_line, a.end_column) != (b.line, b.column, b.end_line, b.end_column):
                wrong += 1
                print(f"{path}:{b.line}: searched {a.line}:{a.column}, libcst {b.line}:{b.column}")
    print(f"{files} files with calls, {fallback} fell back to code generation, "
          f"{calls} calls compared, {wrong} located differently")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/corpus-small")))
