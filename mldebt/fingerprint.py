"""Finding fingerprints that survive unrelated edits: no line numbers in them.

A fingerprint hashes the rule, the root-relative path, the enclosing qualified scope and
the flagged source normalised (comments dropped, whitespace collapsed), plus the occurrence
index among identical ones. ``ALGORITHM`` is bumped whenever the recipe changes.
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


def group_key(rule: str, path: str, scope: str, snippet: str) -> str:
    text = "\0".join((str(ALGORITHM), rule, path, scope, normalise(snippet)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def fingerprint(group: str, occurrence: int) -> str:
    return f"{group}:{occurrence}"
