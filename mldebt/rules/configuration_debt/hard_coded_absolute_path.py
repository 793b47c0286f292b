from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import libcst as cst

from mldebt.rules.base import (
    FileContext,
    Invalid,
    ProjectFinding,
    ProjectRule,
    ProjectView,
    Sink,
    Valid,
)
from mldebt.rules.configuration_debt._common import ConfigKnowledge

_KIND = "abspath"
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_BAD = re.compile(r"[<>|\"'\n\r\t;]")
_HOME = "a home-directory path"
_ABSOLUTE = "an absolute path"
_MLD502_REASONS = ("an absolute path", "a home-directory path")


def _last_name(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def _text(node: cst.BaseExpression) -> str | None:
    """The text of a string literal, with ``*`` for the values of an f-string; None for bytes."""
    if isinstance(node, cst.SimpleString):
        if "b" in node.prefix.lower():
            return None
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.FormattedString):
        if "b" in node.prefix.lower():
            return None
        return "".join(p.value if isinstance(p, cst.FormattedStringText) else "*" for p in node.parts)
    if isinstance(node, cst.ConcatenatedString):
        left, right = _text(node.left), _text(node.right)
        return left + right if left is not None and right is not None else None
    return None


class HardCodedAbsolutePath(ProjectRule):
    """
    ## What it does
    Flags an absolute or home-directory path written into the code: `"/home/ana/data/x.csv"`,
    `"/mnt/shared/models"`, `"~/datasets/imagenet"`, `"C:\\\\Users\\\\ana\\\\train.csv"`,
    `Path.home() / "data"`, also as the head of an f-string (`f"/home/{user}/runs"`). A POSIX
    path is reported when it has two or more segments under a root that names user or data
    storage (`/home`, `/Users`, `/mnt`, `/media`, `/data`, `/scratch`, `/nfs`, `/content`,
    `/kaggle`, ...), or names a data or model file (`/srv/x/model.pt`). At the literal's line.

    Not flagged: the machine's own locations (`/dev`, `/proc`, `/sys`, `/etc`, `/usr`,
    `/tmp`, `/var`, SageMaker's `/opt/ml`, ...), tools' folders in the home directory
    (`~/.cache`, `~/.kaggle`), URLs and web routes (`@app.route("/data/upload")`), defaults
    of argparse/click/absl options, of function parameters and of `os.getenv`/`.get` (they
    are configurable), paths in docstrings and comments, paths a check compares against
    (`p.startswith("/mnt")`, `p == "/home/x"`), and test files. A literal that is the
    location of a data read that `unstable-data-source` (MLD502) reports is left to that
    rule, so one mistake gives one finding.

    ## Why is this bad?
    The code runs on one machine only: a colleague, the CI runner, or the training cluster
    has other folders. The path is configuration buried in code (Sculley et al. 2015,
    section 6), and nothing records which data it pointed to.

    ## Example
    ```python
    CHECKPOINTS = "/mnt/shared/ana/checkpoints"
    ```

    ## Use instead
    ```python
    CHECKPOINTS = os.environ.get("CHECKPOINTS", "checkpoints")   # or a config value
    ```

    ## Options
    `report-data-reads` (default false): also report the literals MLD502 reports, one finding
    per smell. The system prefixes and storage roots are `config_debt` in
    `rules/configuration-debt.yaml`.

    ## References
    - Sculley et al. 2015, section 6, "Configuration Debt".
    - Catalog: `rules/configuration-debt.yaml` (knowledge key `config_debt`).
    """

    NEEDS = ("io_facts:IoFacts",)

    VALID = [
        "import os\nmem = open('/proc/meminfo').read()\nos.makedirs('/tmp/run', exist_ok=True)\n"
        "url = 'https://example.com/home/data/x.csv'\n",
        # configurable defaults
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--data', default='/home/ana/data')\n"
        "def train(root='/mnt/shared/data'):\n    return root\n",
        "import os\nDATA = os.environ.get('DATA_DIR', '/data/datasets/imagenet')\nOUT = os.getenv('OUT', '/mnt/out')\n",
        # docstrings, comments, checks, routes
        'def f(p):\n    """Reads /home/ana/data/train.csv by default."""\n    # /mnt/shared/x\n'
        "    if p.startswith('/mnt/nfs'):\n        return p == '/home/ana/x'\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/data/upload')\ndef up():\n    return ''\n",
        # a tool's own folder, a one-segment mount point, an API path
        "import os\ncache = os.path.expanduser('~/.cache/torch')\nroot = '/data'\napi = '/api/v1/predict'\n",
        Valid("DATA = '/home/ana/data/x.csv'\n", path="tests/test_io.py"),
        # pieces of a URL or of a path built on a configurable base; OS folders of the home
        "URL = ('https://raw.githubusercontent.com/ana'\n       '/data/master/data/air.csv')\n"
        "def f(base):\n    return base + '/data/raw/x.csv'\n",
        "from pathlib import Path\ncfg = Path.home() / 'AppData' / 'Roaming'\nmac = Path.home() / 'Library'\n",
        # a direct read that MLD502 reports
        "import pandas as pd\ndf = pd.read_csv('/home/ana/data/train.csv')\n",
    ]
    INVALID = [
        Invalid("import torch\nCKPT = '/mnt/shared/ana/checkpoints'\n", line=2, column=8,
                message_contains="/mnt/shared/ana/checkpoints"),
        Invalid("import os\ndef out(name):\n    return os.path.join('~/experiments/runs', name)\n", line=3,
                message_contains="home-directory"),
        Invalid("from pathlib import Path\nroot = Path.home() / 'datasets' / 'coco'\n", line=2,
                message_contains="Path.home()"),
        Invalid("user = 'ana'\nout = f'/home/{user}/runs/exp1'\n", line=2),
        Invalid("TRAIN = r'C:\\Users\\ana\\data\\train.csv'\n", line=1, message_contains="absolute"),
        Invalid("import pandas as pd\ndf = pd.read_csv('/home/ana/data/train.csv')\n", line=2,
                options={"report-data-reads": True}),
        Invalid("import torch\ndef save(model):\n    torch.save(model.state_dict(), '/srv/models/model.pt')\n", line=3),
    ]

    def __init__(self, ctx: FileContext, code: str, options: Mapping[str, Any], sink: Sink) -> None:
        super().__init__(ctx, code, options, sink)
        self.k = ConfigKnowledge.of(ctx.knowledge)
        self._skip = 0
        self._calls: list[bool] = []
        self._suffixes: set[int] = set()

    # -- where a literal is not a location the code uses ---------------------------
    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            self._skip += 1  # a docstring or a bare string

    def leave_Expr(self, original_node: cst.Expr) -> None:
        if isinstance(original_node.value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            self._skip -= 1

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:
            self._skip += 1

    def leave_Param(self, original_node: cst.Param) -> None:
        if original_node.default is not None:
            self._skip -= 1

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self._skip += 1

    def leave_Comparison(self, original_node: cst.Comparison) -> None:
        self._skip -= 1

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None and node.keyword.value in self.k.path_skip_keywords:
            self._skip += 1

    def leave_Arg(self, original_node: cst.Arg) -> None:
        if original_node.keyword is not None and original_node.keyword.value in self.k.path_skip_keywords:
            self._skip -= 1

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        if not self._skip:
            text = _text(node)
            if text is not None:
                self._check(node, text)
        self._skip += 1  # its pieces are not paths of their own

    def leave_ConcatenatedString(self, original_node: cst.ConcatenatedString) -> None:
        self._skip -= 1

    def visit_Call(self, node: cst.Call) -> None:
        name = _last_name(node.func) or ""
        skip = name in self.k.path_skip_calls or name.startswith("DEFINE_")
        self._calls.append(skip)
        if skip:
            self._skip += 1

    def leave_Call(self, original_node: cst.Call) -> None:
        if self._calls.pop():
            self._skip -= 1

    # -- literals ---------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if not self._skip:
            text = _text(node)
            if text is not None:
                self._check(node, text)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        if not self._skip:
            text = _text(node)
            if text is not None:
                self._check(node, text)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add):
            self._suffixes.add(id(node.right))  # `base + "/data/x.csv"`: the tail of something
        if self._skip or not isinstance(node.operator, cst.Divide) or not isinstance(node.left, cst.Call):
            return
        if self.ctx.names.call_name(node.left) not in ("pathlib.Path.home", "pathlib.PosixPath.home"):
            return
        right = node.right
        part = right.evaluated_value if isinstance(right, cst.SimpleString) else None
        if isinstance(part, str) and part and not part.startswith(".") and part.lower() not in self.k.windows_system:
            self.fact(_KIND, node, text=f"Path.home() / {part!r}", reason=_HOME, raw="Path.home()")

    def _check(self, node: cst.BaseExpression, text: str) -> None:
        if id(node) in self._suffixes:
            return
        reason = self._classify(text.strip())
        if reason is not None:
            self.fact(_KIND, node, text=text.strip(), reason=reason, raw=node.value if isinstance(
                node, cst.SimpleString) else "")



    def _classify(self, t: str) -> str | None:
        if not t or len(t) > 300 or "://" in t or _BAD.search(t):
            return None
        if t.startswith("~"):
            segs = [s for s in t[1:].split("/") if s]
            if t.startswith("~/") and segs and not segs[0].startswith((".", "*")):
                return _HOME
            return None
        if _DRIVE.match(t):
            segs = [s for s in re.split(r"[\\/]+", t[3:]) if s]
            if not segs or segs[0].lower() in self.k.windows_system or segs[0] == "*":
                return None
            return _ABSOLUTE
        if not t.startswith("/") or t.startswith("//") or any(c.isspace() for c in t):
            return None
        for p in self.k.system_prefixes:
            if t.startswith(p) if p.endswith(("/", ".")) else (t == p or t.startswith(p + "/")):
                return None
        segs = [s for s in t.split("/") if s]
        if len(segs) < 2 or segs[0] == "*":
            return None
        if segs[0] in self.k.path_roots:
            return _ABSOLUTE
        if segs[-1].lower().endswith(self.k.path_extensions):
            return _ABSOLUTE
        return None

    # -- the project phase: leave direct reads to MLD502 -----------------------------
    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        found = [(ff, fact) for ff in project.files() if not ff.is_test for fact in ff.facts
                 if fact.kind == _KIND and fact.location is not None]
        if not found:
            return
        reads: dict[str, list[Any]] = defaultdict(list)
        for v in () if options.get("report-data-reads") else project.pipeline.verdicts():
            if v.kind == "unstable" and any(r in _MLD502_REASONS for r in v.reasons):
                reads[v.read.path].append(v.read.location)
        for ff, fact in found:
            loc = fact.location
            if loc is None:
                continue
            raw = fact.data.get("raw", "")
            if any(r.line <= loc.line <= r.end_line and raw and raw in r.snippet for r in reads.get(ff.path, ())):
                continue  # MLD502 reports this read
            text = fact.data["text"]
            yield ProjectFinding(
                ff.path, loc,
                f"`{text}` is {fact.data['reason']} written into the code: it exists on one machine only.",
                hint="Pass the location in (command-line option, environment variable, config file) "
                     "or build it relative to the project root.",
            )
