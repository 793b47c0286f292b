"""Reading and decoding source files and notebooks, and parsing them once with libcst.

Every failure here is a per-file error with a reason a person can act on; nothing raises
past :func:`load_source` / :func:`parse`.
"""

from __future__ import annotations

import ast
import codecs
import io
import json
import re
import sys
import tokenize
import warnings
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from operator import sub

import libcst as cst


class SourceError(Exception):
    """A file that cannot be read, decoded or parsed. The message is user-facing."""


@dataclass(frozen=True, slots=True)
class Source:
    text: str
    lines: int
    # notebooks: (1-based cell index, first joined line of that cell), in order
    cells: tuple[tuple[int, int], ...] = ()
    # notebooks: the line of the .ipynb file that holds each joined line (index: line - 1);
    # empty when the file's layout could not be matched to its cells
    file_lines: tuple[int, ...] = ()

    @property
    def is_notebook(self) -> bool:
        return bool(self.cells)

    def cell_of(self, line: int) -> tuple[int, int] | None:
        """(cell index, line within the cell) for a joined notebook line."""
        found = None
        for index, start in self.cells:
            if start <= line:
                found = (index, line - start + 1)
            else:
                break
        return found

    def file_line_of(self, line: int) -> int | None:
        """The line of the ``.ipynb`` file where a joined notebook line is written."""
        if 1 <= line <= len(self.file_lines):
            return self.file_lines[line - 1]
        return None


_BINARY_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF", b"%PDF")
_LONE_CR_RE = re.compile(r"\r(?!\n)")


def _undecodable(data: bytes, encoding: str, exc: UnicodeDecodeError) -> SourceError:
    line = data.count(b"\n", 0, exc.start) + 1
    return SourceError(
        f"cannot decode as {encoding}: invalid byte 0x{data[exc.start]:02x} at line {line}"
        " (add a PEP 263 coding comment or re-save the file as UTF-8)"
    )


def decode(data: bytes) -> str:
    """Decode Python source bytes honouring a BOM or a PEP 263 coding cookie."""
    if data.startswith(_BINARY_SIGNATURES):
        raise SourceError("binary file (not Python source)")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SourceError("UTF-16 encoded: Python source must be UTF-8 (or declare an 8-bit"
                          " encoding); re-save it as UTF-8")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise SourceError(f"null byte at line {line}: binary file or corrupt source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if data.startswith(codecs.BOM_UTF8) and "encoding problem" in str(exc):
            raise SourceError("the UTF-8 byte-order mark contradicts the coding cookie") from None
        # it also fails when line 1 or 2 is not UTF-8 and there is no cookie: then say
        # which byte and where, as for a bad byte further down
        if "unknown encoding" not in str(exc):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise _undecodable(data, "utf-8", bad) from None
        raise SourceError(f"bad encoding declaration: {exc}") from None
    try:
        text = data.decode(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} in coding cookie") from None
    except UnicodeDecodeError as exc:
        raise _undecodable(data, encoding, exc) from None
    text = text.removeprefix("\ufeff")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        # a lone CR ends a line for Python and libcst; make it LF so that line numbers
        # found from the text (comments, positions) agree with them
        text = _LONE_CR_RE.sub("\n", text)
    return text


# IPython escapes (``%magic``, ``!shell``, ``?obj``, ``obj?``), recognised as IPython does:
# only where a logical line starts, never inside brackets, strings or after a backslash.
_MAGIC_RE = re.compile(r"^(\s*)([%!]|\?|[\w.]+\?\??\s*$)")
# ``x = %time f()``, ``files = !ls``: the target stays, the magic goes
_MAGIC_ASSIGN_RE = re.compile(r"^(\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=)\s*(?:%\w|!)")
_RUN_MAGIC_RE = re.compile(
    r"^\s*(?:%run\s+(?:-\w+\s+)*|!\s*python3?\s+(?:-\w+\s+)*)([^\s#;&|]+\.(?:py|ipynb))")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_LEX_RE = re.compile(r"""#|[()\[\]{}]|'''|\"\"\"|['"]""")
_STRING_END_RE = {q: re.compile(r"\\.|\\$|" + re.escape(q)) for q in ("'", '"', "'''", '"""')}


def _after_line(line: str, depth: int, quote: str) -> tuple[int, str, bool]:
    """Bracket depth, open string delimiter ('' if none) and backslash continuation after ``line``."""
    pos, n = 0, len(line)
    m: re.Match[str] | None
    while pos < n:
        if quote:
            for m in _STRING_END_RE[quote].finditer(line, pos):
                if m.group() == quote:
                    pos, quote = m.end(), ""
                    break
            else:
                if len(quote) == 1 and not line.endswith("\\"):
                    quote = ""  # unterminated one-line string: a syntax error, the parser will say
                return depth, quote, False
            continue
        m = _LEX_RE.search(line, pos)
        if m is None:
            break
        tok, pos = m.group(), m.end()
        if tok == "#":
            return depth, "", False
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth = max(0, depth - 1)
        else:
            quote = tok
    return depth, quote, line.endswith("\\")


def _convert_cell(lines: list[str]) -> list[str]:
    """One code cell with its IPython syntax blanked out, line for line."""
    first = lines[0].lstrip()
    if first.startswith("%%"):
        if first.split()[0] not in ("%%time", "%%timeit", "%%capture"):
            return [""] * len(lines)  # %%bash, %%writefile...: not Python
        lines = ["", *lines[1:]]
    converted = []
    depth, quote, continued, in_magic = 0, "", False, False
    for line in lines:
        if in_magic:  # a magic continued with a backslash
            converted.append("")
            in_magic = line.endswith("\\")
            continue
        if depth == 0 and not quote and not continued:
            m = _MAGIC_ASSIGN_RE.match(line)
            if m is not None:
                converted.append(f"{m.group(1)} None  # IPython magic")
                in_magic = line.endswith("\\")
                continue
            if _MAGIC_RE.match(line):
                indent = line[: len(line) - len(line.lstrip())]
                run = _RUN_MAGIC_RE.match(line)
                # `%run step.py`, `!python step.py` are kept in the comment: the project graph
                # sees who runs whom
                via = "%run" if run and line.lstrip().startswith("%") else "!python"
                note = f": {via} {run.group(1)}" if run else ""
                converted.append(f"{indent}pass  # IPython magic{note}")
                in_magic = line.endswith("\\")
                continue
        converted.append(line)
        depth, quote, continued = _after_line(line, depth, quote)
    return converted


def notebook_source(data: bytes) -> Source:
    """Join a notebook's code cells; IPython magics become ``pass`` so lines stay put."""
    try:
        raw = data.decode("utf-8-sig")
        nb = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"broken notebook: not valid JSON ({exc})") from None
    except RecursionError:  # ``[[[[...`` thousands deep: json's decoder recurses
        raise SourceError("broken notebook: JSON nested too deeply to read") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SourceError("broken notebook: no 'cells' list (nbformat 4 expected)")
    out: list[str] = []
    cells: list[tuple[int, int]] = []
    raw_lines = _source_file_lines(raw, nb["cells"])
    file_lines: list[int] = []
    line_no = 1
    for index, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            raise SourceError(f"broken notebook: cell {index} has no text source")
        if "\x00" in src:  # written ``\u0000`` in the JSON; libcst takes it in a string literal
            line = len(_NEWLINE_RE.findall(src, 0, src.index("\x00"))) + 1
            raise SourceError(f"broken notebook: null character at cell {index}, line {line}: not Python source")
        # Python's line ends only: ``str.splitlines`` would also split on \f, \x1c, \u2028...
        lines = _NEWLINE_RE.split(src)
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        converted = _convert_cell(lines)
        cells.append((index, line_no))
        if raw_lines is not None:
            at = raw_lines[index - 1]
            file_lines.extend(at[i] if i < len(at) else at[-1] if at else 1 for i in range(len(converted)))
        out.extend(converted)
        line_no += len(converted)
    text = "\n".join(out) + ("\n" if out else "")
    return Source(text=text, lines=line_no - 1, cells=tuple(cells),
                  file_lines=tuple(file_lines) if raw_lines is not None else ())


_SOURCE_KEY_RE = re.compile(r'"source"\s*:\s*')
_JSON = json.JSONDecoder()


def _source_file_lines(raw: str, cells: list[object]) -> list[list[int]] | None:
    """For every cell, the ``.ipynb`` line on which each of its source lines is written.

    Cells are matched in order to the ``"source"`` keys of the file; each value is decoded
    again at its position (a list is decoded element by element) and must equal the parsed
    source, so a layout this cannot follow gives ``None`` (no file lines), never wrong ones.
    """
    result: list[list[int]] = []
    pos = 0
    for cell in cells:
        src = cell.get("source", "") if isinstance(cell, dict) else None
        if src is None:
            result.append([])
            continue
        m = _SOURCE_KEY_RE.search(raw, pos)
        if m is None:
            return None
        chunks: list[tuple[int, str]] = []  # (index in raw, decoded text)
        at = m.end()
        try:
            if raw.startswith("[", at):
                at += 1
                while True:
                    while at < len(raw) and raw[at] in " \t\r\n,":
                        at += 1
                    if raw.startswith("]", at):
                        at += 1
                        break
                    value, end = _JSON.raw_decode(raw, at)
                    chunks.append((at, value))
                    at = end
                decoded: object = [c for _, c in chunks]
            else:
                decoded, end = _JSON.raw_decode(raw, at)
                chunks.append((at, decoded if isinstance(decoded, str) else ""))
                at = end
        except (ValueError, RecursionError):
            return None
        if decoded != src or not all(isinstance(c, str) for _, c in chunks):
            return None
        pos = at
        result.append(_line_starts(raw, chunks))
    return result


def _line_starts(raw: str, chunks: list[tuple[int, str]]) -> list[int]:
    """The raw line of each line of the text the chunks join to (a chunk sits on one line)."""
    starts: list[int] = []  # offset of each non-empty chunk in the joined text
    rows: list[int] = []  # and the raw line it is written on
    offset, row, scanned = 0, 1, 0
    for index, text in chunks:
        row += raw.count("\n", scanned, index)
        scanned = index
        if text:
            starts.append(offset)
            rows.append(row)
            offset += len(text)
    joined = "".join(text for _, text in chunks)
    line_offsets = [0, *(m.end() for m in _NEWLINE_RE.finditer(joined))]
    return [rows[max(bisect_right(starts, o) - 1, 0)] for o in line_offsets] if rows else []


# libcst needs about 500 bytes of memory per byte of source (a 50 MB file took more than
# 24 GB), and the largest file of the large benchmark corpus (6,102 files) is 450 KB: a file
# with more code than this is generated or hostile, and is reported instead of analysed.
MAX_SOURCE_BYTES = 2 * 1024 * 1024


def _too_large(size: int, what: str) -> SourceError:
    return SourceError(f"too large to analyse: {size / 1024 / 1024:.1f} MB of {what} (the limit is"
                       f" {MAX_SOURCE_BYTES // 1024 // 1024} MB); not analysed")


def load_source(path: str, data: bytes) -> Source:
    if path.endswith(".ipynb"):
        # the outputs of a notebook do not count: only its code is parsed
        source = notebook_source(data)
        if len(source.text) > MAX_SOURCE_BYTES:
            raise _too_large(len(source.text.encode("utf-8", "surrogatepass")), "code cells")
        return source
    if len(data) > MAX_SOURCE_BYTES:
        raise _too_large(len(data), "source")
    text = decode(data)
    return Source(text=text, lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1))


# CPython refuses more than 200 nested brackets ("too many nested parentheses"); libcst's
# native parser takes seconds on a few hundred and overflows its stack (SIGSEGV, killing
# the whole scan) past about a thousand, so such a file is refused before parsing.
_MAX_NESTING = 200
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"()[]{}")
_BRACKET_STEP = [1 if c in b"([{" else -1 for c in range(256)]


def _nesting_bound(text: str) -> int:
    """At least the bracket nesting depth of ``text`` (brackets in strings count too), cheaply.

    Drops matched innermost pairs a few times over (C speed), each pass lowering the depth
    by at most one, then measures the highest climb left on what remains.
    """
    seq = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    passes = 0
    while seq and passes < 32:
        shorter = seq.replace(b"()", b"").replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(seq):
            break
        seq, passes = shorter, passes + 1
    if not seq:
        return passes
    levels = list(accumulate(map(_BRACKET_STEP.__getitem__, seq), initial=0))
    return max(map(sub, levels, accumulate(levels, min))) + passes


def _nesting(text: str) -> int:
    """The bracket nesting depth of ``text``, from its tokens (slow; for the rare deep file)."""
    depth = deepest = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP:
                if tok.string in ("(", "[", "{"):
                    depth += 1
                    deepest = max(deepest, depth)
                elif tok.string in (")", "]", "}"):
                    depth -= 1
    except (SyntaxError, tokenize.TokenError) as exc:
        # Python 3.12+ tokenizes in C and stops at its own limit ("too many nested
        # parentheses", a TokenError)
        if "nested" in str(exc):
            return _MAX_NESTING + 1
    return deepest


def _compile_quietly(text: str) -> ast.AST:
    """CPython's parser on ``text``, without the warnings it gives about the scanned code
    (``invalid escape sequence '\\d'``...): printed, they would land in the middle of a report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(text, "<source>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)


def _python_syntax_error(text: str) -> tuple[int, int, str] | None:
    """Where and why CPython rejects ``text`` (libcst's own line numbers are not reliable)."""
    try:
        _compile_quietly(text)
    except SyntaxError as exc:
        return exc.lineno or 1, exc.offset or 1, exc.msg
    except (RecursionError, MemoryError, ValueError):
        return None
    return None


# A long chain without brackets (``-`` * 6000 + ``1``, ``a.b.b.b...``, ``a+a+...+a``,
# ``f()()()...``) is as deep a tree as a long nest of brackets: libcst took 18 s and 2 GB on
# 6,000 unary minuses, and died of a stack overflow (SIGSEGV) at 12,000, while CPython's own
# parser refuses all of them in milliseconds. Asking CPython first costs an eighth of a libcst
# parse, so it is done only for files with a line long enough to hold such a chain.
_LONG_LINE = 2000
_DEFAULT_RECURSION_LIMIT = 1000


_MAX_AST_DEPTH = 3_000


def _too_complex_for_python(text: str) -> bool:
    """Is ``text`` a chain too long for CPython (its parser gives up), or for libcst, whose
    time grows with the square of a chain's length (3,000 attributes in a row: 2 s; 5,000:
    8.5 s; 12,000 unary minuses overflow its stack)?

    Up to Python 3.11 CPython's AST depth limit follows the recursion limit (the engine raises
    it for its walk: measured with Python's default, as the interpreter would run the file, it
    accepts chains of about 3,000); from 3.12 the limit is the C stack's and accepts far longer
    chains, so the depth of the tree is measured too, the same bound on every version."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(min(limit, _DEFAULT_RECURSION_LIMIT))
    except RecursionError:
        pass
    try:
        tree = _compile_quietly(text)
    except (RecursionError, MemoryError):
        return True
    except (SyntaxError, ValueError):
        return False  # libcst reports it, with its position
    finally:
        sys.setrecursionlimit(limit)
    return _deeper_than(tree, _MAX_AST_DEPTH)


def _deeper_than(tree: ast.AST, bound: int) -> bool:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > bound:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


# libcst accepts string literals that CPython refuses (``"\\xport"``, ``"\\N{nope}"``,
# ``b"é"``), and a rule reading such a literal's value (``evaluated_value``) then raised. A file
# where one may be is asked of CPython too (a regular expression rules out nearly every file).
_ESCAPE_HINT_RE = re.compile(r"\\(?:x(?![0-9a-fA-F]{2})|u(?![0-9a-fA-F]{4})|U(?![0-9a-fA-F]{8})|N)")
_BYTES_PREFIX_RE = re.compile(r"(?<![\w'\"])(?:[bB][rR]?|[rR][bB])['\"]")


def _rejected_literal(text: str) -> tuple[int, int, str] | None:
    if not (_ESCAPE_HINT_RE.search(text) or (not text.isascii() and _BYTES_PREFIX_RE.search(text))):
        return None
    error = _python_syntax_error(text)
    if error is not None and (error[2].startswith("(unicode error)") or "bytes can only contain" in error[2]):
        return error
    return None


def _syntax_error(source: Source, line: int, column: int, msg: str) -> SourceError:
    where = f"line {line}, column {column}"
    if source.is_notebook:
        cell = source.cell_of(line)
        if cell:
            where = f"cell {cell[0]}, line {cell[1]}"
    hint = ""
    if re.search(r"^\s*(print\s+[^(\s=]|exec\s+\"|except\s+\w+\s*,)", source.text, re.MULTILINE):
        hint = " (looks like Python 2)"
    return SourceError(f"syntax error at {where}: {msg}{hint}")


def parse(source: Source) -> cst.Module:
    text = source.text
    if _nesting_bound(text) > _MAX_NESTING and _nesting(text) > _MAX_NESTING:
        raise SourceError(f"too deeply nested: more than {_MAX_NESTING} levels of brackets"
                          " (Python's own limit); not analysed")
    if len(text) > _LONG_LINE and max(map(len, text.split("\n"))) > _LONG_LINE \
            and _too_complex_for_python(text):
        raise SourceError(f"too deeply nested: an expression chain too long to analyse (more than"
                          f" {_MAX_AST_DEPTH:,} operators, attributes or calls in a row); not analysed")
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line, column = exc.raw_line, exc.raw_column + 1
        msg = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        python = _python_syntax_error(text)
        if python is not None:
            line, column, msg = python
        raise _syntax_error(source, line, column, msg) from None
    except RecursionError:
        raise SourceError("too deeply nested to parse") from None
    except Exception as exc:  # libcst's native parser raises a few other types
        raise SourceError(f"cannot parse: {type(exc).__name__}: {exc}") from None
    bad = _rejected_literal(text)
    if bad is not None:
        raise _syntax_error(source, *bad)
    return module
