"""Finding fingerprints that survive unrelated edits: no line numbers in them.

A fingerprint hashes the rule, the root-relative path, the enclosing qualified scope and
the flagged source normalised (comments dropped, whitespace collapsed), plus the occurrence
index among identical ones. ``ALGORITHM`` is bumped whenever the recipe changes. Two looser
keys serve the baseline's later matching tiers: the content alone (rule and normalised
source: the same finding in a renamed function) and the literal values (the same finding
edited in place).
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize

ALGORITHM = 1
_WS = re.compile(r"\s+")


def normalise(snippet: str) -> str:
    """Source text without comments and with whitespace collapsed to single spaces."""
    try:
        toks = [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(snippet).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                              tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
        ]
        return " ".join(toks)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return _WS.sub(" ", snippet).strip()


def _tokens(snippet: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(snippet).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join((str(ALGORITHM), *parts)).encode("utf-8", "surrogatepass")).hexdigest()[:20]


def content_key(rule: str, snippet: str) -> str:
    """The finding without its place: the same debt under another scope (a renamed function)."""
    return _hash("content", rule, normalise(snippet))


def literal_key(rule: str, snippet: str) -> str:
    """The finding's literal values (numbers, strings): the same debt edited in place keeps them."""
    toks = _tokens(snippet)
    if toks is None:
        values = sorted(re.findall(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|'[^']*'|\"[^\"]*\"", snippet))
    else:
        values = sorted(t.string for t in toks if t.type in (tokenize.NUMBER, tokenize.STRING))
    return _hash("literals", rule, "\0".join(values))


def group_key(rule: str, path: str, scope: str, snippet: str) -> str:
    text = "\0".join((str(ALGORITHM), rule, path, scope, normalise(snippet)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def fingerprint(group: str, occurrence: int) -> str:
    return f"{group}:{occurrence}"
