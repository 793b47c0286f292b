"""The file-result cache: a file whose bytes were analysed before is not parsed again.

Each file's :class:`~mldebt.model.FileResult` (findings before suppression and baseline,
directives, facts) is stored as one JSON entry named by a hash of

- the *settings key*: the mldebt version, a fingerprint of the installed package's code and
  catalog (so an edited rule in a development install invalidates it), the selected rules with
  their options, and the shared API knowledge;
- the file's identity as the analysis sees it: path, module name, test file or not, package;
- the SHA-256 of the file's bytes.

Entries live in ``<cache dir>/files/<settings key>/``; the default cache dir is
``.mldebt_cache/`` at the project root, with its own ``.gitignore``. Every write goes to a
temporary file in the same folder and is renamed into place, so concurrent scans and
interrupted ones leave either the old entry or the whole new one.

A cache folder inside a repository is writable by whoever sends a pull request, so an entry
is never trusted for what it says: each is signed with HMAC-SHA256 under a per-user secret
kept outside the project (``$XDG_CACHE_HOME/mldebt/secret``, else ``~/.cache/mldebt/secret``,
mode 0600). An entry that is unsigned, signed with another secret, written for another key,
truncated or malformed is ignored and rebuilt. Without a usable secret there is no cache.
JSON, never pickle: decoding an entry cannot run code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mldebt import __version__
from mldebt.fileio import write_atomic
from mldebt.model import Confidence, Directive, Fact, FileResult, Location, RawFinding, Severity

FORMAT = 2  # bump when the entry layout changes
_SECRET_BYTES = 32
# results that say nothing lasting about the file's bytes are never stored
_TRANSIENT_ERRORS = ("internal error", "cannot read", "timed out", "the analysis process died")
STALE_AFTER = 7 * 24 * 3600  # seconds: entries and settings folders unused this long are removed


def is_transient(error: str) -> bool:
    """Does this error entry say something about this run only (a timeout, a dead worker,
    an unreadable file), not about the file's bytes? Such results are never cached."""
    return error.startswith(_TRANSIENT_ERRORS)


@dataclass(frozen=True, slots=True)
class FileCache:
    """Where a scan's entries go and how they are signed (picklable: workers store entries)."""

    folder: str  # <cache dir>/files/<settings key>
    settings_key: str
    secret: bytes
    looked_up: set[str] = field(default_factory=set, repr=False, compare=False)  # names asked for

    def name(self, path: str, module: str, is_test: bool, is_package: bool, data: bytes) -> str:
        ident = "\0".join((self.settings_key, path, module, str(int(is_test)), str(int(is_package))))
        h = hashlib.sha256(ident.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def load(self, name: str) -> FileResult | None:
        """The result stored under ``name``, or None when absent, foreign or corrupt (a bad
        entry is deleted so that it is rebuilt)."""
        self.looked_up.add(name)
        entry = os.path.join(self.folder, name[:2], name)
        try:
            with open(entry, "rb") as fh:
                blob = fh.read()
        except OSError:
            return None
        result = self._verify(name, blob)
        if result is None:
            with suppress(OSError):
                os.unlink(entry)
        return result

    def _verify(self, name: str, blob: bytes) -> FileResult | None:
        body = unseal(self.secret, name, blob)
        if body is None:
            return None
        try:
            return decode_result(json.loads(body))
        except (ValueError, TypeError, KeyError, IndexError):
            return None

    def store(self, name: str, result: FileResult) -> None:
        """Store ``result`` atomically. A cache that cannot be written only costs time."""
        if result.error is not None and is_transient(result.error):
            return
        try:
            body = json.dumps(encode_result(result), ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "surrogatepass")
        except (TypeError, ValueError, UnicodeEncodeError):
            return  # a fact the codec does not know: not cached, analysed again next time
        folder = os.path.join(self.folder, name[:2])
        try:
            os.makedirs(folder, exist_ok=True)
            write_atomic(os.path.join(folder, name), seal(self.secret, name, body), private=True)
        except OSError:
            pass


    def prune(self, now: float | None = None) -> int:
        """After a scan of the whole project: remove the entries it did not look up (files
        since edited or deleted) and other settings' folders, once unused for
        :data:`STALE_AFTER`. Returns how many entries and folders were removed."""
        now = time.time() if now is None else now
        removed = 0
        with suppress(OSError):
            os.utime(self.folder)  # this settings folder was used now
        for sub in _scandir(self.folder):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for entry in _scandir(sub.path):
                if entry.name in self.looked_up:
                    continue
                # a temporary file an interrupted scan left: an hour is long past any write
                limit = 3600 if entry.name.startswith(".") else STALE_AFTER
                with suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > limit:
                        os.unlink(entry.path)
                        removed += 1
        for other in _scandir(os.path.dirname(self.folder)):
            if other.path == self.folder or not other.is_dir(follow_symlinks=False):
                continue
            with suppress(OSError):
                if now - other.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    shutil.rmtree(other.path, ignore_errors=True)
                    removed += 1
        return removed


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def seal(secret: bytes, name: str, body: bytes) -> bytes:
    """``body`` signed for the entry ``name``: an HMAC-SHA256 line, then the body. The name is
    signed too, so an entry copied under another name does not verify."""
    return _signature(secret, name, body) + b"\n" + body


def unseal(secret: bytes, name: str, blob: bytes) -> bytes | None:
    """The body of a :func:`seal`-ed ``blob`` for ``name``, or None when it does not verify."""
    sig, _, body = blob.partition(b"\n")
    return body if hmac.compare_digest(sig, _signature(secret, name, body)) else None


def _signature(secret: bytes, name: str, body: bytes) -> bytes:
    return hmac.new(secret, name.encode() + b"\0" + body, hashlib.sha256).hexdigest().encode()


def open_cache(cache_dir: Path, plans: Sequence[Any], knowledge: Mapping[str, Any]) -> FileCache | None:
    """The cache for a scan with ``plans`` (the engine's RulePlans), or None when it cannot be
    used (no secret, or the folder cannot be created)."""
    secret = user_secret()
    if secret is None:
        return None
    key = settings_key(plans, knowledge)
    folder = cache_dir / "files" / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore_all(cache_dir)
    except OSError:
        return None
    return FileCache(str(folder), key, secret)


def ignore_all(folder: Path) -> None:
    """A ``.gitignore`` that keeps the cache folder out of ``git status``."""
    marker = folder / ".gitignore"
    if not marker.exists():
        with suppress(OSError):
            marker.write_text("# created by mldebt\n*\n", encoding="utf-8")


def settings_key(plans: Sequence[Any], knowledge: Mapping[str, Any]) -> str:
    """What changes a file's analysis besides its bytes and name."""
    text = json.dumps(
        [FORMAT, __version__, code_fingerprint(),
         [[p.code, p.impl, p.options, p.tests, p.project] for p in plans], knowledge],
        sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_CODE: list[str] = []


def code_fingerprint() -> str:
    """Name, size and modification time of every module and catalog file of the installed
    package: a rule edited in a development install changes it (stat calls only)."""
    if not _CODE:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(p for p in here.rglob("*") if p.suffix in (".py", ".yaml", ".yml")):
            with suppress(OSError):
                st = path.stat()
                h.update(f"{path.relative_to(here)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        _CODE.append(h.hexdigest())
    return _CODE[0]


def user_secret() -> bytes | None:
    """The per-user key that signs cache entries, created on first use (None if impossible)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "mldebt"
    path = folder / "secret"
    for _ in range(2):
        with suppress(OSError):
            data = path.read_bytes()
            if len(data) == _SECRET_BYTES:
                return data
            path.unlink()  # damaged: replace it (entries signed with it are rebuilt)
        tmp: str | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=folder)  # mode 0600
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(_SECRET_BYTES))
            os.link(tmp, path)  # fails if another scan created it first: then read theirs
        except FileExistsError:
            pass
        except OSError:
            return None
        finally:
            if tmp is not None:
                with suppress(OSError):
                    os.unlink(tmp)
    return None


# --- the codec: FileResult <-> JSON ---------------------------------------------------------
# Fact data is JSON-shaped except for tuples, sets and non-string keys, which are tagged; the
# decoder checks every field's type and raises on anything else.

_TAG = "\x00"


def _enc(value: Any, tags: list[str]) -> Any:
    """``value`` as JSON; each tag written is noted in ``tags`` (a fact without any is read
    back without a second pass)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if t is list:
        return [_enc(v, tags) for v in value]
    if t is dict:
        if all(type(k) is str and k != _TAG for k in value):
            return {k: _enc(v, tags) for k, v in value.items()}
        tags.append("m")
        return {_TAG: ["m", [[_enc(k, tags), _enc(v, tags)] for k, v in value.items()]]}
    if t is tuple:
        tags.append("t")
        return {_TAG: ["t", [_enc(v, tags) for v in value]]}
    if t is set or t is frozenset:
        tags.append("s")
        return {_TAG: ["s" if t is set else "f", [_enc(v, tags) for v in value]]}
    raise TypeError(f"cannot cache a {t.__name__} in a fact")


def _fact(f: Fact) -> list[Any]:
    tags: list[str] = []
    data = _enc(dict(f.data), tags)
    return [f.rule, f.kind, data, _loc(f.location), bool(tags)]


def _loc(loc: Location | None) -> list[Any] | None:
    if loc is None:
        return None
    return [loc.line, loc.column, loc.end_line, loc.end_column, loc.anchor_line, loc.scope, loc.snippet,
            loc.cell, loc.cell_line, loc.file_line]


def encode_result(r: FileResult) -> dict[str, Any]:
    return {
        "path": r.path, "module": r.module, "test": r.is_test, "lines": r.lines, "error": r.error,
        "findings": [[f.rule, _loc(f.location), f.message, f.hint,
                      f.confidence.value if f.confidence else None, f.severity.value if f.severity else None]
                     for f in r.findings],
        "directives": [[d.kind, list(d.codes), d.reason, d.line, d.column, d.end_column, d.malformed, d.cell,
                        d.cell_start, d.file_line] for d in r.directives],
        "facts": [_fact(f) for f in r.facts],
    }


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TypeError(f"expected {kind}, got {type(value).__name__}")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else _typed(value, int)


def _dec_loc(v: Any) -> Location | None:
    if v is None:
        return None
    line, col, end_line, end_col, anchor, scope, snippet, cell, cell_line, file_line = v
    return Location(_typed(line, int), _typed(col, int), _typed(end_line, int), _typed(end_col, int),
                    _typed(anchor, int), _typed(scope, str), _typed(snippet, str), _opt_int(cell),
                    _opt_int(cell_line), _opt_int(file_line))


def decode_result(obj: Any) -> FileResult:
    """A FileResult from :func:`encode_result`'s JSON; raises ValueError/TypeError/KeyError on
    anything malformed."""
    obj = _typed(obj, dict)
    findings = []
    for rule, loc, message, hint, conf, sev in _typed(obj["findings"], list):
        location = _dec_loc(loc)
        if location is None:
            raise ValueError("a finding without a location")
        findings.append(RawFinding(_typed(rule, str), location, _typed(message, str), _typed(hint, str),
                                   None if conf is None else Confidence(conf),
                                   None if sev is None else Severity(sev)))
    directives = []
    for kind, codes, reason, line, col, end_col, malformed, cell, cell_start, file_line in _typed(obj["directives"], list):
        directives.append(Directive(_typed(kind, str), tuple(_typed(c, str) for c in _typed(codes, list)),
                                    _typed(reason, str), _typed(line, int), _typed(col, int), _typed(end_col, int),
                                    _typed(malformed, str), _opt_int(cell), _typed(cell_start, int),
                                    _opt_int(file_line)))
    # facts are most of an entry and the entry is signed: their shape is checked by unpacking
    # (a wrong arity raises), not field by field
    facts = [Fact(rule, kind, _untag(data) if tagged else data, None if loc is None else Location(*loc))
             for rule, kind, data, loc, tagged in _typed(obj["facts"], list)]
    error = obj["error"]
    return FileResult(_typed(obj["path"], str), _typed(obj["module"], str), _typed(obj["test"], bool),
                      _typed(obj["lines"], int), tuple(findings), tuple(directives), tuple(facts),
                      None if error is None else _typed(error, str))


def _untag(value: Any) -> Any:
    """Undo :func:`_enc`'s tags, depth first (done here rather than in a ``json`` object
    hook so that only fact data pays for it)."""
    t = type(value)
    if t is list:
        return [_untag(v) for v in value]
    if t is not dict:
        return value
    tagged = value.get(_TAG)
    if tagged is None:
        return {k: _untag(v) for k, v in value.items()}
    kind, items = tagged
    items = [_untag(v) for v in _typed(items, list)]
    if kind == "t":
        return tuple(items)
    if kind == "s":
        return set(items)
    if kind == "f":
        return frozenset(items)
    if kind == "m":
        return {k: v for k, v in items}
    raise ValueError(f"unknown tag {kind!r}")
