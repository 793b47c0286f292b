"""Reading and decoding source files and notebooks, and parsing them once with libcst.

Every failure here is a per-file error with a reason a person can act on; nothing raises
past :func:`load_source` / :func:`parse`.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass

import libcst as cst


class SourceError(Exception):
    """A file that cannot be read, decoded or parsed. The message is user-facing."""


@dataclass(frozen=True, slots=True)
class Source:
    text: str
    lines: int
    # notebooks: (1-based cell index, first joined line of that cell), in order
    cells: tuple[tuple[int, int], ...] = ()

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


_BINARY_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF", b"%PDF")


def decode(data: bytes) -> str:
    """Decode Python source bytes honouring a BOM or a PEP 263 coding cookie."""
    if data.startswith(_BINARY_SIGNATURES):
        raise SourceError("binary file (not Python source)")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise SourceError(f"null byte at line {line}: binary file or corrupt source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"bad encoding declaration: {exc}") from None
    try:
        text = data.decode(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} in coding cookie") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"cannot decode as {encoding}: invalid byte 0x{data[exc.start]:02x} at line {line}"
            " (add a PEP 263 coding comment or re-save the file as UTF-8)"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


_MAGIC_RE = re.compile(r"^(\s*)([%!]|\?|[\w.]+\?\??\s*$)")


def notebook_source(data: bytes) -> Source:
    """Join a notebook's code cells; IPython magics become ``pass`` so lines stay put."""
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"broken notebook: not valid JSON ({exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SourceError("broken notebook: no 'cells' list (nbformat 4 expected)")
    out: list[str] = []
    cells: list[tuple[int, int]] = []
    line_no = 1
    for index, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            raise SourceError(f"broken notebook: cell {index} has no text source")
        lines = src.splitlines() or [""]
        cell_magic = lines[0].lstrip().startswith("%%")
        keep_body = cell_magic and lines[0].split()[0] in ("%%time", "%%timeit", "%%capture")
        converted = []
        for i, line in enumerate(lines):
            if cell_magic and (i == 0 or not keep_body):
                converted.append("")
            elif _MAGIC_RE.match(line):
                indent = line[: len(line) - len(line.lstrip())]
                converted.append(f"{indent}pass  # IPython magic")
            else:
                converted.append(line)
        cells.append((index, line_no))
        out.extend(converted)
        line_no += len(converted)
    text = "\n".join(out) + ("\n" if out else "")
    return Source(text=text, lines=line_no - 1, cells=tuple(cells))


def load_source(path: str, data: bytes) -> Source:
    if path.endswith(".ipynb"):
        return notebook_source(data)
    text = decode(data)
    return Source(text=text, lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1))


def parse(source: Source) -> cst.Module:
    try:
        return cst.parse_module(source.text)
    except cst.ParserSyntaxError as exc:
        msg = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        where = f"line {exc.raw_line}, column {exc.raw_column + 1}"
        if source.is_notebook:
            cell = source.cell_of(exc.raw_line)
            if cell:
                where = f"cell {cell[0]}, line {cell[1]}"
        hint = ""
        if re.search(r"^\s*(print\s+[^(\s=]|exec\s+\"|except\s+\w+\s*,)", source.text, re.M):
            hint = " (looks like Python 2)"
        raise SourceError(f"syntax error at {where}: {msg}{hint}") from None
    except RecursionError:
        raise SourceError("too deeply nested to parse") from None
    except Exception as exc:  # libcst's native parser raises a few other types
        raise SourceError(f"cannot parse: {type(exc).__name__}: {exc}") from None
