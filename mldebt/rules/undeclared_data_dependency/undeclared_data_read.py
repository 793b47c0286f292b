from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.model import Confidence
from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView, Valid


class UndeclaredDataRead(ProjectRule):
    """
    ## What it does
    Flags a data read whose location is written into the code — a string literal, or a
    constant built from literals (`DATA_DIR / "train.csv"`, `os.path.join(ROOT, "raw",
    f"{split}.csv")`, also a constant imported from another module) — and declared nowhere
    outside it.

    A read is a call the knowledge base (`rules/data-io.yaml`) or `[tool.mldebt.data]
    readers` names, or a call of a project helper that reads a location built from its
    parameter (`load_lookup("teams")` of `def load_lookup(name): return
    pd.read_csv(f"data/lookups/{name}.csv")`: the finding is at the call, which names the
    file; at the helper only when no call passes a literal). Reads are: pandas `read_*`, `np.load`, `joblib.load`, `torch.load`, `open(...)` in a
    read mode, `Path.read_text`, `h5py`, pyarrow and polars readers, Spark readers,
    `tf.data`, `PIL.Image.open`, `cv2.imread`, database connections, storage clients.
    A location is *declared* when it comes into the code from outside (a function parameter,
    an argparse/click option, a Hydra or OmegaConf config, an environment variable, a config
    object), or when `dvc.yaml`, `params.yaml`, a Kedro catalog, a Makefile, a YAML config of
    the repository or `[tool.mldebt.data] declared` lists it (a declared folder covers its
    files). Not flagged either: reads of code, configuration and documentation files
    (`.py`, `.yaml`, `.toml`, `.md`, ...), files shipped next to the code
    (`Path(__file__).parent / "vocab.json"` inside a package), and test files.

    Reads from a remote, absolute, home, temporary or "latest" location are reported by
    `unstable-data-source` instead, and reads of a file another step writes by
    `undeclared-step-output-read`; each read gets one finding.

    ## Why is this bad?
    A data dependency nobody declared is invisible: nothing records which data a model was
    trained on, nothing reruns the step when the file changes, and moving the data breaks the
    code far from where anyone looks (Sculley et al. 2015, section 4, "Data Dependencies Cost
    More than Code Dependencies").

    ## Example
    ```python
    train = pd.read_csv("data/processed/train.csv")
    ```

    ## Use instead
    ```python
    def main(train_path: str) -> None:   # passed in by the CLI or a config
        train = pd.read_csv(train_path)
    ```
    or declare the file as a dependency of the step (`deps:` in `dvc.yaml`).

    ## Options
    None. What counts as a read is `[tool.mldebt.data] readers` (your own loaders); what is
    declared, `[tool.mldebt.data] declared` (globs, folders, URLs).

    ## References
    - Sculley et al. 2015, "Hidden Technical Debt in Machine Learning Systems", section 4.
    """

    NEEDS = ("io_facts:IoFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        for v in project.pipeline.verdicts():
            if v.kind != "undeclared":
                continue
            r = v.read
            yield ProjectFinding(
                r.path, r.location,
                f"`{r.api}` reads `{r.key}`, a location written into the code and declared nowhere.",
                hint=f"Pass `{r.key}` in (a CLI option or a config key), or declare it "
                     "(`deps:` in dvc.yaml, a Kedro catalog entry, `[tool.mldebt.data] declared`).",
                confidence=Confidence.MEDIUM if "*" in (r.key or "") else None,
            )

    VALID = [
        # the location arrives from outside: parameter, argparse, env, config
        """
        import pandas as pd

        def load(path):
            return pd.read_csv(path)
        """,
        """
        import argparse
        import pandas as pd

        parser = argparse.ArgumentParser()
        parser.add_argument("--train", default="data/train.csv")
        args = parser.parse_args()
        df = pd.read_csv(args.train)
        """,
        """
        import os
        import numpy as np

        features = np.load(os.path.join(os.environ["DATA_DIR"], "features.npy"))
        """,
        """
        import yaml
        import joblib

        with open("config.yaml") as f:
            cfg = yaml.safe_load(f)
        model = joblib.load(cfg["model"]["path"])
        """,
        """
        import torch

        class Trainer:
            def __init__(self, cfg):
                self.cfg = cfg

            def resume(self):
                return torch.load(self.cfg.checkpoint)
        """,
        # a package resource shipped next to the code
        Valid(files={
            "tok/__init__.py": "",
            "tok/vocab.py": """
                import json
                from pathlib import Path

                def vocab():
                    with open(Path(__file__).parent / "assets" / "vocab.json") as f:
                        return json.load(f)
                """,
        }, path="tok/vocab.py"),
        # writes are not reads; a file handle is the open's read, not another one
        """
        import pandas as pd

        def export(df):
            df.to_csv("out/predictions.csv", index=False)
        """,
        # declared in dvc.yaml (a folder covers its files)
        Valid(files={
            "dvc.yaml": """
                stages:
                  train:
                    cmd: python train.py
                    deps:
                      - data/processed
                      - train.py
                    outs:
                      - models/model.pkl
                """,
            "train.py": """
                import pandas as pd

                df = pd.read_parquet("data/processed/train.parquet")
                """,
        }, path="train.py"),
        # configuration and code files are not data
        """
        import yaml

        with open("configs/train.yaml") as f:
            cfg = yaml.safe_load(f)
        """,
        # a local variable bound to something unknown
        """
        import pandas as pd

        def load_all(paths):
            frames = []
            for p in paths:
                frames.append(pd.read_csv(p))
            return frames
        """,
        # in-memory data: a buffer, an in-memory database, standard input
        """
        import io
        import sqlite3
        import sys

        import pandas as pd

        def parse(text):
            return pd.read_csv(io.StringIO(text))

        con = sqlite3.connect(":memory:")
        rows = pd.read_csv(sys.stdin)
        """,
        # `read_csv` of an unrelated object: not pandas
        """
        from mylib import reader

        table = reader.read_csv("data/x.csv")
        """,
    ]
    INVALID = [
        Invalid("""
            import pandas as pd

            train = pd.read_csv("data/processed/train.csv")
            """, line=4, message_contains="data/processed/train.csv", confidence="high"),
        Invalid("""
            import os
            from pathlib import Path

            import numpy as onp

            DATA_DIR = Path("data") / "features"

            def load(split):
                return onp.load(os.path.join(DATA_DIR, f"{split}.npy"))
            """, line=10, message_contains="data/features/*.npy", confidence="medium"),
        Invalid(files={
            "project/__init__.py": "",
            "project/paths.py": """
                from pathlib import Path

                ROOT = Path(__file__).resolve().parents[1]
                RAW = ROOT / "data" / "raw"
                """,
            "project/ingest.py": """
                import pandas as pd
                from .paths import RAW

                def ingest():
                    return pd.read_csv(RAW / "events.csv")
                """,
        }, path="project/ingest.py", line=6, message_contains="data/raw/events.csv"),
        # a helper reading under a literal folder: each call naming a file is a read
        Invalid(files={
            "lookups.py": """
                import pandas as pd

                def load_lookup(name):
                    return pd.read_csv(f"data/lookups/{name}.csv")
                """,
            "report.py": """
                from lookups import load_lookup

                teams = load_lookup("agent_teams")
                """,
        }, path="report.py", line=4, message_contains="data/lookups/agent_teams.csv"),
        Invalid("""
            import json

            def labels():
                with open("data/labels.json") as fh:
                    return json.load(fh)
            """, line=5, message_contains="data/labels.json"),
        Invalid("""
            import joblib

            model = joblib.load("models/churn.pkl")
            """, line=4, message_contains="`joblib.load`"),
    ]
