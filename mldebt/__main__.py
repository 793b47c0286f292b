"""``python -m mldebt`` and the ``mldebt`` command.

Before anything else is imported, the entries of ``sys.path`` the scanned repository controls
are dropped: the working directory (first on the path under ``python -m``) and any entry
inside it (``PYTHONPATH=.``, common in ML repositories). Otherwise a repository's ``yaml.py``
or ``click.py`` would be imported, and run, in place of mldebt's dependencies. Entries of the
Python installation and its virtual environment (even one inside the project) and mldebt's own
location stay.
"""

from __future__ import annotations

import os
import sys


def _isolate() -> None:
    cwd = os.path.realpath(os.getcwd())
    own = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # where mldebt is imported from
    installed = {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix)}

    def under(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

    keep = []
    for entry in sys.path:
        real = os.path.realpath(entry or os.curdir)
        if under(real, cwd) and real != own and not any(under(real, p) for p in installed):
            continue  # the working directory, or a folder inside it
        keep.append(entry)
    sys.path[:] = keep


def main() -> None:
    _isolate()
    from mldebt.cli import main as run

    run()


if __name__ == "__main__":
    main()
