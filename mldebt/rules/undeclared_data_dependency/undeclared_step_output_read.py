from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView, Valid


class UndeclaredStepOutputRead(ProjectRule):
    """
    ## What it does
    Flags an undeclared data read (see `undeclared-data-read`) of a file that another part of
    the repository writes: one step's output consumed by another step with no declared
    contract between them. The message names the writer.

    Matching is on the location keys both sides compute statically (literals, constants,
    f-strings and path joins; unknown parts match anything), so `data/part_*.csv` written in a
    loop matches `data/part_0.csv` read elsewhere. Hand-offs a `dvc.yaml`, Makefile or other
    declaration lists are not flagged.

    ## Why is this bad?
    The consumer silently depends on the producer's output format, location and freshness:
    change the writer, or forget to rerun it, and the reader trains on stale or broken data.
    Sculley et al. call these "undeclared consumers" (section 2.3); chains of them become
    pipeline jungles (section 5).

    ## Example
    ```python
    # prepare.py
    clean.to_parquet("data/clean.parquet")
    # train.py
    df = pd.read_parquet("data/clean.parquet")
    ```

    ## Use instead
    Declare the hand-off: a `dvc.yaml` stage (or Makefile rule) whose `outs` is the
    producer's file and a second stage whose `deps` lists it; or pass the file between the two
    functions in one process.

    ## Options
    None. Declare hand-offs in `dvc.yaml`, a Makefile or `[tool.mldebt.data] declared`.

    ## References
    - Sculley et al. 2015, section 2.3 "Undeclared Consumers" and section 5 "Pipeline Jungles".
    """

    NEEDS = ("io_facts:IoFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        for v in project.pipeline.verdicts():
            if v.kind != "consumer":
                continue
            r = v.read
            w = v.producers[0]
            more = f" (and {len(v.producers) - 1} more writers)" if len(v.producers) > 1 else ""
            yield ProjectFinding(
                r.path, r.location,
                f"`{r.api}` reads `{r.key}`, which `{w.path}` writes (line {w.line}){more}, with no "
                "declared contract between the two steps.",
                hint="Declare the hand-off: a dvc.yaml stage with the file as the writer's `outs` and "
                     "the reader's `deps`, or a Makefile rule.",
            )

    VALID = [
        # one file both writes and reads its own cache
        """
        import os
        import pandas as pd

        def features(df):
            if os.path.exists("cache/features.parquet"):
                return pd.read_parquet(os.environ["FEATURES"])
            df.to_parquet("cache/features.parquet")
            return df
        """,
        # the hand-off is declared in dvc.yaml
        Valid(files={
            "dvc.yaml": """
                stages:
                  prepare:
                    cmd: python prepare.py
                    outs: [data/clean.parquet]
                  train:
                    cmd: python train.py
                    deps: [data/clean.parquet]
                """,
            "prepare.py": """
                import pandas as pd

                pd.read_json("raw.json").to_parquet("data/clean.parquet")
                """,
            "train.py": """
                import pandas as pd

                df = pd.read_parquet("data/clean.parquet")
                """,
        }, path="train.py"),
    ]
    INVALID = [
        Invalid(files={
            "prepare.py": """
                import pandas as pd

                def main(raw):
                    clean = pd.read_json(raw).dropna()
                    clean.to_parquet("data/clean.parquet")
                """,
            "train.py": """
                import pandas as pd

                df = pd.read_parquet("data/clean.parquet")
                """,
        }, path="train.py", line=4, message_contains="`prepare.py` writes (line 6)"),
        Invalid(files={
            "shard.py": """
                import numpy as np

                def shard(x, n):
                    for i in range(n):
                        np.save(f"shards/part_{i}.npy", x[i::n])
                """,
            "train.py": """
                import numpy as np

                first = np.load("shards/part_0.npy")
                """,
        }, path="train.py", line=4, message_contains="shards/part_0.npy"),
    ]
