"""Writing files whole or not at all: reports, baselines and cache entries.

The bytes go to a temporary file in the target's folder, which is then renamed over the
target: a reader (or a scan running at the same time) sees the old file or the whole new one,
and an interrupt (Ctrl-C, SIGTERM) leaves the old file and no partial one.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path


def write_atomic(path: str | Path, data: bytes, private: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; raises OSError. The file gets the usual
    permissions of a new file (the umask's), or owner-only ones when ``private``."""
    path = os.path.abspath(path)
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name[:40]}.", suffix=".tmp", dir=folder)  # mode 0600
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
