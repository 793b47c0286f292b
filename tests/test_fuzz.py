"""Property tests on generated programs (issue 8, part 1).

Two sources of input:

* ``hypothesmith`` programs: valid Python from the grammar (``from_grammar``; some of these
  libcst or CPython still reject, and those must come out as ``errors``) and from libcst's node
  types (``from_node``); also wrapped as notebook cells.
* real files of ``fixtures/`` (Python and notebooks) mutated: truncated, bytes flipped,
  replaced or inserted (NUL, invalid UTF-8, ``\\r``, tabs, non-ASCII, coding cookies,
  suppression comments), lines deleted, duplicated or swapped, lines of another fixture file
  spliced in, indentation changed; notebooks also mutated in their JSON structure (cells
  dropped, retyped, sources of the wrong type, nested thousands deep).

The properties: the file phase never raises (``debug=True``, so an internal error *does*
raise and hypothesis shrinks it) nor warns, every input is either analysed or gets a clear
one-line error that is not an internal one, findings, facts and directives lie within the
file (a notebook's name their cell), the same bytes give the same result, and the project
phase over several such files (and over whole fixture projects with mutated sources and
declarations, scanned in process) does not raise either and gives the same JSON twice.
Through the real CLI, a batch of 53+ such files gives identical JSON with ``--jobs 1`` and
``--jobs 2`` (twice), exit code 0 or 1, and every file written is counted.

The quick profile runs in the normal test run (derandomized, so CI is stable; about 30 s:
300 generated programs, 300 mutated files, 30 small projects, 20 mutated fixture projects,
one CLI batch). The long profile, 10,000 programs (5,000 generated, 5,000 mutated files; plus
100 small projects, 300 mutated fixture projects, 3 CLI batches of 125 files) with a fixed
seed, about 12 minutes, is marked
``fuzz_long`` and runs only when asked for: ``python -m pytest -m fuzz_long tests/test_fuzz.py``
(or ``MLDEBT_FUZZ_LONG=1``); ``--hypothesis-show-statistics`` prints how many ran.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import hypothesmith
import pytest
from hypothesis import HealthCheck, Phase, event, given, seed, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from mldebt.catalog import load_catalog
from mldebt.config import Overrides, build_settings
from mldebt.engine import FileJob, RulePlan, analyse_source
from mldebt.model import FileResult
from mldebt.project.declarations import load_declarations
from mldebt.reporters.json import render
from mldebt.scan import ScanRequest, build_report, make_plans, run_scan

# hypothesmith compiles the programs it generates, and CPython warns about some of them
# (``1j()``, ``"\+"``: a DeprecationWarning before 3.12); mldebt's own warnings are caught
# and checked in ``check_file``
pytestmark = [pytest.mark.filterwarnings("ignore::SyntaxWarning"),
              pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SEED = 20261127  # the long profile's seed: a failure it finds reproduces with the same seed


def _fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*")
                  if p.suffix in (".py", ".ipynb") and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(FIXTURES).parts))


FIXTURE_FILES = _fixture_files()
FIXTURE_NAMES = [p.relative_to(FIXTURES).as_posix() for p in FIXTURE_FILES]


@functools.cache
def _fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@functools.cache
def _setup() -> tuple[Any, Any, list[RulePlan]]:
    """Every rule of the catalog, preview ones included, as a scan selects them."""
    catalog = load_catalog()
    cfg = build_settings(catalog, Path("/fuzz"), None, Overrides(preview=True))
    return catalog, cfg, make_plans(cfg, catalog)


@pytest.fixture(scope="module", autouse=True)
def _worker_recursion_limit() -> Iterator[None]:
    """The recursion limit of a worker process (``engine.init_worker``)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    yield
    sys.setrecursionlimit(limit)


# --- mutations ---------------------------------------------------------------------------

# bytes that hurt a decoder, a tokenizer or a parser, and the comments mldebt reads itself
PAYLOADS: tuple[bytes, ...] = (
    b"\x00", b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\r", b"\r\n", b"\n",
    b"\t", b"\x0c", b"\x0b", b"\xef\xbb\xbf", "é".encode(), "λ".encode(), "😀".encode(),
    "\u2028".encode(), "\u00a0".encode(), b"\\", b"\\\n", b'"', b"'", b"'''", b'"""', b"(", b")",
    b"[", b"]", b"{", b"}", b":", b",", b";", b"#", b"@", b"=", b":=", b"*", b"**", b"->", b"...",
    b"f'{", b"f\"{x!r:>{w}}\"", b"lambda: ", b"async ", b"await ", b"yield ", b"global x\n",
    b"if 0:\n", b"if True:\n    pass\n", b"else:\n", b"    ", b"\n\n\n", b"return\n", b"del ",
    b"# mldebt: ignore[MLD301] why", b"# mldebt: ignore", b"# mldebt: fixme[MLD", b"# mldebt: ignore-file",
    b"# mldebt: ignore[", b"# mldebt: ignore[,,] -- ", b"# mldebt: fixme[MLD999, hard-coded-threshold]",
    b"# -*- coding: latin-1 -*-\n", b"# coding: utf-16\n", b"# coding: nope\n", b"# vim: set fileencoding=cp1252 :\n",
    b"# @generated\n", b"%matplotlib inline\n", b"!pip install x\n", b"%%time\n", b"?x\n",
    b"0.5", b"1e309", b"0x_1", b"1_000", b"-0.0", b"nan", b"> 0.73", b"import torch\n", b"import numpy as np\n",
    b"pd.read_csv('/data/x.csv')\n", b"open('out.pkl', 'wb')\n", b"np.random.seed()\n",
    b"subprocess.run(['python', 'x.py'])\n", b"train_test_split(X, y)\n",
)

Op = tuple[Any, ...]

# mostly the bytes above; a random byte string (mostly invalid UTF-8, which stops a file at
# decoding) now and then
_payload = st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(PAYLOADS), st.sampled_from(PAYLOADS),
                     st.binary(min_size=1, max_size=6))

_op_strategy = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("delete_lines"), st.integers(0, 1 << 20), st.integers(1, 3)),
    st.tuples(st.just("replace"), st.integers(0, 1 << 20), _payload),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), _payload),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), _payload),
    st.tuples(st.just("delete_lines"), st.integers(0, 1 << 20), st.integers(1, 8)),
    st.tuples(st.just("duplicate_line"), st.integers(0, 1 << 20)),
    st.tuples(st.just("swap_lines"), st.integers(0, 1 << 20), st.integers(0, 1 << 20)),
    st.tuples(st.just("indent"), st.integers(0, 1 << 20), st.sampled_from(["tab", "untab", "in", "out"])),
    # lines of another fixture file: real ML code in a place it was not written for
    st.tuples(st.just("splice"), st.integers(0, 1 << 20), st.sampled_from(FIXTURE_NAMES), st.integers(0, 1 << 20),
              st.integers(1, 12)),
)


def mutate(data: bytes, ops: Sequence[Op]) -> bytes:
    """``data`` with ``ops`` applied in turn; offsets and line numbers wrap around the size."""
    for op in ops:
        kind = op[0]
        if kind in ("truncate", "flip", "replace", "insert"):
            at = op[1] % (len(data) + 1)
            if kind == "truncate":
                data = data[:at]
            elif kind == "flip":
                if at < len(data):
                    data = data[:at] + bytes([data[at] ^ op[2]]) + data[at + 1:]
            elif kind == "replace":
                data = data[:at] + op[2] + data[at + len(op[2]):]
            else:
                data = data[:at] + op[2] + data[at:]
            continue
        lines = data.splitlines(keepends=True)
        if not lines:
            continue
        i = op[1] % len(lines)
        if kind == "delete_lines":
            del lines[i:i + op[2]]
        elif kind == "duplicate_line":
            lines.insert(i, lines[i])
        elif kind == "splice":
            donor = _fixture_bytes(op[2]).splitlines(keepends=True)
            j = op[3] % max(len(donor), 1)
            lines[i:i] = donor[j:j + op[4]]
        elif kind == "swap_lines":
            j = op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "indent":
            line = lines[i]
            body = line.lstrip(b" \t")
            lead = line[:len(line) - len(body)]
            how = op[2]
            if how == "tab":
                lead = lead.replace(b"    ", b"\t")
            elif how == "untab":
                lead = lead.replace(b"\t", b"        ")
            elif how == "in":
                lead = b"    " + lead
            else:
                lead = lead[4:] if lead.startswith(b"    ") else lead[1:]
            lines[i] = lead + body
        data = b"".join(lines)
    return data


_CELL_VALUES: tuple[Any, ...] = (None, 1, 2.5, True, [], ["x = 1\n", 2], {"a": 1}, "", "\n", ["\r\n"],
                                 ["%%bash\n", "ls\n"], "x = 1\\\n", "\udcff")

_nb_op_strategy = st.one_of(
    st.tuples(st.just("text"), st.integers(0, 1 << 10), st.lists(_op_strategy, min_size=1, max_size=3)),
    st.tuples(st.just("drop_cell"), st.integers(0, 1 << 10)),
    st.tuples(st.just("cell_type"), st.integers(0, 1 << 10), st.sampled_from(["code", "markdown", "raw", "?", None, 3])),
    st.tuples(st.just("cell_source"), st.integers(0, 1 << 10), st.sampled_from(_CELL_VALUES)),
    st.tuples(st.just("source_shape"), st.integers(0, 1 << 10)),
    st.tuples(st.just("drop_key"), st.sampled_from(["cells", "nbformat", "metadata", "source", "cell_type"])),
    st.tuples(st.just("set_top"), st.sampled_from(["cells", "nbformat"]), st.sampled_from(_CELL_VALUES)),
    st.tuples(st.just("deep"), st.integers(0, 1 << 10), st.sampled_from([50, 5_000, 12_000])),
)
_DEEP = "\x00deep\x00"  # stands for a nested JSON list, written into the file after dumping


def mutate_notebook(data: bytes, ops: Sequence[Op]) -> bytes:
    """A notebook mutated in its structure (the JSON stays valid): a cell's text mutated as
    bytes (an undecodable byte becomes a lone surrogate), cells dropped or retyped, sources of
    the wrong type or shape or nested thousands deep, top-level keys dropped or replaced."""
    nb = json.loads(data)
    for op in ops:
        kind = op[0]
        cells = nb.get("cells") if isinstance(nb, dict) else None
        if kind in ("drop_key", "set_top"):
            if not isinstance(nb, dict):
                continue
            if kind == "set_top":
                nb[op[1]] = op[2]
                continue
            targets = [nb] if op[1] in nb else [c for c in (cells if isinstance(cells, list) else [])
                                                 if isinstance(c, dict)][:1]
            for t in targets:
                t.pop(op[1], None)
            continue
        if not isinstance(cells, list) or not cells:
            continue
        i = op[1] % len(cells)
        cell = cells[i]
        if kind == "drop_cell":
            del cells[i]
        elif not isinstance(cell, dict):
            continue
        elif kind == "cell_type":
            cell["cell_type"] = op[2]
        elif kind == "cell_source":
            cell["source"] = op[2]
        elif kind == "deep":
            cell["source"] = f"{_DEEP}{op[2]}"
        elif kind == "source_shape":
            src = cell.get("source")
            if isinstance(src, list) and all(isinstance(s, str) for s in src):
                cell["source"] = "".join(src)
            elif isinstance(src, str):
                cell["source"] = src.splitlines(keepends=True)
        elif kind == "text":
            src = cell.get("source")
            text = "".join(src) if isinstance(src, list) and all(isinstance(s, str) for s in src) else src
            if isinstance(text, str):
                raw = mutate(text.encode("utf-8", "surrogatepass"), op[2])
                cell["source"] = raw.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    out = json.dumps(nb, indent=1)
    for depth in (50, 5_000, 12_000):  # the engine's recursion limit is 10,000
        out = out.replace(json.dumps(f"{_DEEP}{depth}"), "[" * depth + "]" * depth)
    return out.encode("utf-8")


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(FIXTURE_NAMES))
    data = _fixture_bytes(name)
    if name.endswith(".ipynb") and draw(st.booleans()):
        data = mutate_notebook(data, draw(st.lists(_nb_op_strategy, min_size=1, max_size=4)))
        if draw(st.booleans()):
            return name, data
    return name, mutate(data, draw(st.lists(_op_strategy, min_size=1, max_size=3)))


def notebook_of(cells: Sequence[str]) -> bytes:
    return json.dumps({"cells": [{"cell_type": "code", "source": c.splitlines(keepends=True), "metadata": {},
                                  "execution_count": None, "outputs": []} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode("utf-8")


generated_programs = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())
# hypothesmith's targeting (towards bigger programs) works once per test case: several
# programs in one case go without it
untargeted_programs = st.one_of(hypothesmith.from_grammar(auto_target=False),
                                hypothesmith.from_node(auto_target=False))


@st.composite
def programs(draw: st.DrawFn, targeted: bool = True) -> tuple[str, bytes]:
    """A generated program, as a module, a package ``__init__``, a test, or notebook cells."""
    code = draw(generated_programs if targeted else untargeted_programs)
    where = draw(st.sampled_from(["gen.py", "gen.py", "gen.py", "pkg/__init__.py", "tests/test_gen.py",
                                  "gen.ipynb"]))
    if where.endswith(".ipynb"):
        lines = code.splitlines(keepends=True)
        cut = draw(st.integers(0, len(lines)))
        return where, notebook_of([c for c in ("".join(lines[:cut]), "".join(lines[cut:])) if c])
    return where, code.encode("utf-8", "surrogatepass")


def _job(path: str) -> FileJob:
    module = path.removesuffix(".py").removesuffix(".ipynb").removesuffix("/__init__").replace("/", ".")
    return FileJob(f"/fuzz/{path}", path, module, path.startswith("tests/"), path.endswith("__init__.py"))


def check_file(path: str, data: bytes) -> FileResult:
    """The file phase on ``data``: it must not raise nor warn, must give a clear error or an
    analysis, and must give the same result twice."""
    catalog, _, plans = _setup()
    job = _job(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = analyse_source(job, data, plans, catalog.knowledge, debug=True)
        again = analyse_source(job, data, plans, catalog.knowledge, debug=True)
    assert first == again, "the same bytes gave two different results"
    # a warning about the scanned code (an invalid escape sequence...) would be printed in
    # the middle of the report (from Python 3.12): the file phase silences them
    warned = [str(w.message) for w in caught]
    assert not warned, warned
    if currently_in_test_context():  # counted in --hypothesis-show-statistics
        event("error: " + first.error.split(":")[0][:40] if first.error is not None
              else "analysed, with findings" if first.findings else "analysed")
    if first.error is not None:
        assert "internal error" not in first.error, first.error
        assert first.error.strip() and "\n" not in first.error.strip(), repr(first.error)
        assert not first.findings and not first.facts
    last = max(first.lines, 1)
    for f in first.findings:
        loc = f.location
        assert 1 <= loc.line <= loc.end_line <= last, (f, first.lines)
        assert loc.column >= 1 and loc.end_column >= 1, f
        assert (loc.end_line, loc.end_column) >= (loc.line, loc.column), f
        assert (loc.cell is not None) == path.endswith(".ipynb"), f  # a notebook finding names its cell
    for fact in first.facts:
        assert fact.location is None or 1 <= fact.location.line <= fact.location.end_line <= last, fact
    for d in first.directives:
        assert 1 <= d.line <= last, d
    return first


def check_project(files: Sequence[tuple[str, bytes]]) -> str:
    """The project phase over ``files`` (in process, ``debug``: a project rule that raises
    fails the test) gives the same JSON twice."""
    catalog, cfg, _ = _setup()
    unique = dict(files)  # a path drawn twice: the last one
    results = [check_file(path, data) for path, data in sorted(unique.items())]
    declarations = load_declarations({}, sorted(unique), cfg.data_settings)
    out = render(build_report(cfg, catalog, results, [], declarations, debug=True))
    again = render(build_report(cfg, catalog, results, [], declarations, debug=True))
    assert out == again
    report = json.loads(out)
    assert report["summary"]["files"] == len(unique)
    errored = {e["path"] for e in report["errors"]}
    assert errored == {r.path for r in results if r.error is not None}
    return out


PROJECTS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def _project_files(project: str) -> list[str]:
    """A fixture project's files, as a scan sees them (its labels and README are the test's)."""
    root = FIXTURES / project
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
                  and p.name not in ("labels.yaml", "README.md"))


@st.composite
def mutated_projects(draw: st.DrawFn) -> dict[str, bytes]:
    """A whole fixture project (sources, ``dvc.yaml``, params, configs, scripts) with a few of
    its files mutated (not ``pyproject.toml``: a broken configuration stops the scan, by
    design), and now and then a generated program added."""
    project = draw(st.sampled_from(PROJECTS))
    files = {rel: (FIXTURES / project / rel).read_bytes() for rel in _project_files(project)}
    mutable = sorted(rel for rel in files if rel != "pyproject.toml")
    for rel in draw(st.lists(st.sampled_from(mutable), min_size=1, max_size=4, unique=True)):
        if rel.endswith(".ipynb") and draw(st.booleans()):
            files[rel] = mutate_notebook(files[rel], draw(st.lists(_nb_op_strategy, min_size=1, max_size=3)))
        else:
            files[rel] = mutate(files[rel], draw(st.lists(_op_strategy, min_size=1, max_size=3)))
    if draw(st.integers(0, 3)) == 0:
        files["generated.py"] = draw(untargeted_programs).encode("utf-8", "surrogatepass")
    return files


def scan_in_process(files: dict[str, bytes]) -> str:
    """The whole scan (file phase, declarations, project phase, suppression) of ``files`` in
    process with ``debug`` on, twice: the same JSON, every source counted, no internal error."""
    with tempfile.TemporaryDirectory(prefix="mldebt-fuzz-") as tmp:
        root = Path(tmp) / "project"
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing about the scanned code is printed
            out = render(run_scan(ScanRequest(targets=(root,), jobs=1, debug=True)))
            again = render(run_scan(ScanRequest(targets=(root,), jobs=1, debug=True)))
    assert out == again
    report = json.loads(out)
    assert report["summary"]["files"] == sum(1 for rel in files if rel.endswith((".py", ".ipynb")))
    for error in report["errors"]:
        assert "internal error" not in error["message"], error
    return out


# --- failures found, as minimal reproducers --------------------------------------------

# (path, content, a regular expression the error must start with; None: analysed; CPython's
# column for a bad literal differs between versions)
FOUND: list[tuple[str, bytes, str | None]] = [
    # json's decoder recursed past the recursion limit: a RecursionError escaped the file
    # phase and ended the whole scan ("mldebt: internal error", exit 2)
    ("deep.ipynb", b'{"cells": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
     "broken notebook: JSON nested too deeply to read"),
    ("deep_cell.ipynb", b'{"cells": [{"cell_type": "code", "source": ' + b"[" * 20_000 + b"]" * 20_000 + b"}]}",
     "broken notebook: JSON nested too deeply to read"),
    # a NUL character (``\u0000`` in the JSON) in a string literal of a notebook cell: libcst
    # took it, ``evaluated_value`` raised SyntaxError (in a ``.py`` file decoding refuses it)
    ("nul.ipynb", notebook_of(["x = 1\n", "y = 2\nfeats['\x00s_fraud']\n"]),
     "broken notebook: null character at cell 2, line 2"),
    # string literals libcst accepts and CPython refuses: a rule reading the value
    # (``evaluated_value``) raised SyntaxError, an "internal error" for the file
    ("escape.py", b'x = "\\xport"\n', r"syntax error at line 1, column \d+: \(unicode error\)"),
    ("name.py", b'"""\\N{nope}"""\n', r"syntax error at line 1, column \d+: \(unicode error\)"),
    ("bytes.py", "x = 1\ny = b'caf\u00e9'\n".encode(), r"syntax error at line 2, column \d+: bytes can only contain"),
    ("escape.ipynb", notebook_of(["x = 1\n", "y = '\\u12'\n"]), r"syntax error at cell 2, line 1: \(unicode error\)"),
    # ... and none of these is an error: valid escapes, raw strings, a non-ASCII text string
    ("fine.py", b'a = "\\x41\\u00e9\\N{DEGREE SIGN}"\nb = r"C:\\new\\x"\nc = b"\\x00"\nd = "caf\xc3\xa9"\n', None),
    # CPython's own warnings about the scanned code are not printed
    ("warns.py", b'x = "\\d"\n)\n', "syntax error at line 2"),
]


@pytest.mark.parametrize(("path", "data", "error"), FOUND, ids=[case[0] for case in FOUND])
def test_failures_found_by_fuzzing_stay_fixed(path: str, data: bytes, error: str | None) -> None:
    result = check_file(path, data)
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None and re.match(error, result.error), result.error


# --- quick profile (every test run) --------------------------------------------------------

QUICK = settings(max_examples=300, deadline=None, derandomize=True, database=None, print_blob=True,
                 phases=[p for p in Phase if p is not Phase.explain],  # explaining costs minutes
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much, HealthCheck.large_base_example])


@QUICK
@given(programs())
def test_generated_programs_are_analysed_or_reported(case: tuple[str, bytes]) -> None:
    check_file(*case)


@settings(QUICK, max_examples=300)
@given(mutated_fixtures())
def test_mutated_fixture_files_are_analysed_or_reported(case: tuple[str, bytes]) -> None:
    check_file(*case)


@settings(QUICK, max_examples=30)
@given(st.lists(st.one_of(programs(targeted=False), mutated_fixtures()), min_size=2, max_size=5))
def test_the_project_phase_over_generated_files(files: list[tuple[str, bytes]]) -> None:
    check_project(files)


@settings(QUICK, max_examples=20)
@given(mutated_projects())
def test_whole_fixture_projects_with_mutated_files(files: dict[str, bytes]) -> None:
    scan_in_process(files)


# --- the CLI: the same JSON whatever the number of processes --------------------------------


def batch(rng: random.Random, generated: Sequence[str], n_mutated: int) -> dict[str, bytes]:
    """A project of ``generated`` programs and ``n_mutated`` mutated fixture files."""
    files: dict[str, bytes] = {}
    for i, code in enumerate(generated):
        files[f"gen/prog_{i:03d}.py"] = code.encode("utf-8", "surrogatepass")
    payload = list(PAYLOADS)
    for i in range(n_mutated):
        name = rng.choice(FIXTURE_NAMES)
        data = _fixture_bytes(name)
        ops: list[Op] = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(["truncate", "flip", "replace", "insert", "delete_lines", "duplicate_line",
                               "swap_lines", "indent", "splice"])
            a, b = rng.randrange(1 << 20), rng.randrange(1 << 20)
            extra: Any = {"flip": 1 + b % 255, "replace": rng.choice(payload), "insert": rng.choice(payload),
                          "delete_lines": 1 + b % 8, "swap_lines": b,
                          "indent": rng.choice(["tab", "untab", "in", "out"])}.get(kind)
            if kind == "splice":
                ops.append((kind, a, rng.choice(FIXTURE_NAMES), b, 1 + b % 12))
            else:
                ops.append((kind, a) if extra is None else (kind, a, extra))
        stem, _, ext = Path(name).name.rpartition(".")
        files[f"mut/{i:03d}_{stem}.{ext}"] = mutate(data, ops)
    # a mutated notebook structure and a Python source wrapped as notebook cells, a few times
    notebooks = [n for n in FIXTURE_NAMES if n.endswith(".ipynb")]
    for i in range(4):
        ops = [(rng.choice(["drop_cell", "source_shape"]), rng.randrange(64)),
               ("text", rng.randrange(64), [("insert", rng.randrange(1 << 12), rng.choice(payload))])]
        files[f"nb/{i:03d}.ipynb"] = mutate_notebook(_fixture_bytes(notebooks[i % len(notebooks)]), ops)
    files["nb/wrapped.ipynb"] = notebook_of(list(generated[:3]) or ["x = 1\n"])
    return files


def cli_scan(root: Path, jobs: int) -> tuple[int, str]:
    env = {**os.environ, "MLDEBT_NO_CACHE": "1", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "mldebt", "scan", str(root), "--format", "json", "--no-cache",
                           "--jobs", str(jobs)], cwd=root.parent, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr[-4000:]
    return proc.returncode, proc.stdout


def stable(out: str) -> dict[str, Any]:
    """The report without its one volatile field (``meta.generated``, a timestamp, when a
    report carries metadata); nothing else is dropped."""
    report = json.loads(out)
    if isinstance(report.get("meta"), dict):
        report["meta"].pop("generated", None)
    return report


def check_cli(tmp: Path, files: dict[str, bytes]) -> dict[str, Any]:
    root = tmp / "project"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "pyproject.toml").write_text("[tool.mldebt]\npreview = true\n")
    code1, one = cli_scan(root, 1)
    code2, two = cli_scan(root, 2)
    code3, three = cli_scan(root, 2)
    assert code1 == code2 == code3
    assert stable(one) == stable(two), "--jobs 1 and --jobs 2 disagree"
    assert stable(two) == stable(three), "two runs with --jobs 2 disagree"
    report = stable(one)
    assert report["summary"]["files"] == len(files), "a file written was neither analysed nor reported"
    errors = {e["path"]: e["message"] for e in report["errors"]}
    assert set(errors) <= set(files)
    for path, message in errors.items():
        assert "internal error" not in message, (path, message)
        assert "process died" not in message, (path, message)
    return report


def sample_programs(n: int, derandomize: bool = True, at: int = SEED) -> list[str]:
    """The ``n`` longest of ``4 * n`` programs from hypothesmith (run as its own small
    property test: one program per test case is what it generates well), derandomized or from
    the seed ``at``."""
    out: list[str] = []

    @settings(QUICK, max_examples=4 * n, derandomize=derandomize, phases=[Phase.generate])
    @given(generated_programs)
    def collect(code: str) -> None:
        out.append(code)

    (collect if derandomize else seed(at)(collect))()
    return sorted(out, key=lambda code: (-len(code), code))[:n]


def test_the_cli_gives_the_same_json_with_one_or_two_processes(tmp_path: Path) -> None:
    files = batch(random.Random(SEED), sample_programs(12), 36)
    assert sum(1 for p in files if p.endswith((".py", ".ipynb"))) >= 40  # enough for the process pool
    check_cli(tmp_path, files)


# --- long profile (run once per change of the engine: -m fuzz_long) ------------------------

LONG = settings(QUICK, max_examples=5_000, derandomize=False)


@pytest.mark.fuzz_long
@seed(SEED)
@LONG
@given(programs())
def test_long_generated_programs(case: tuple[str, bytes]) -> None:
    check_file(*case)


@pytest.mark.fuzz_long
@seed(SEED)
@LONG
@given(mutated_fixtures())
def test_long_mutated_fixture_files(case: tuple[str, bytes]) -> None:
    check_file(*case)


@pytest.mark.fuzz_long
@seed(SEED)
@settings(LONG, max_examples=100)
@given(st.lists(st.one_of(programs(targeted=False), mutated_fixtures()), min_size=2, max_size=8))
def test_long_project_phase(files: list[tuple[str, bytes]]) -> None:
    check_project(files)


@pytest.mark.fuzz_long
@seed(SEED)
@settings(LONG, max_examples=300)
@given(mutated_projects())
def test_long_mutated_projects(files: dict[str, bytes]) -> None:
    scan_in_process(files)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("at", [SEED + 1, SEED + 2, SEED + 3])
def test_long_cli_determinism(tmp_path: Path, at: int) -> None:
    check_cli(tmp_path, batch(random.Random(at), sample_programs(40, derandomize=False, at=at), 80))
