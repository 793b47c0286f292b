from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView


class UnstableDataSource(ProjectRule):
    """
    ## What it does
    Flags an undeclared data read (see `undeclared-data-read`) from a location that can
    change or vanish under the code: a remote URL or bucket (`https://…/train.csv`,
    `s3://bucket/key`), a hub dataset loaded without a pinned `revision=`, an absolute or
    home-directory path (`/home/alice/data.csv`, `~/datasets/x`), a temporary folder, or a
    path naming a moving target (`models/latest/model.pt`, `data/current.parquet`).

    A URL fetch (`requests.get`, `urllib`) counts only when the URL names a data file: a call
    to a web API is not a data dependency. A location that comes in through a parameter, the
    command line, the environment or a config, or that a declaration lists, is not flagged.

    ## Why is this bad?
    The same code trains on different data from one run to the next, and nothing records
    which: "latest" moves, a bucket is overwritten, a home folder exists on one laptop only.
    These are the unstable data dependencies of Sculley et al. 2015, section 4.1.

    ## Example
    ```python
    events = pd.read_parquet("s3://analytics/exports/latest/events.parquet")
    ```

    ## Use instead
    ```python
    events = pd.read_parquet(cfg.data.events)   # a versioned snapshot, declared in config
    ```

    ## Options
    None. The words that mark a moving target (`latest`, `current`, `tmp`...) are
    `unstable_words` in `rules/data-io.yaml`.

    ## References
    - Sculley et al. 2015, section 4.1, "Unstable Data Dependencies".
    """

    NEEDS = ("io_facts:IoFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        for v in project.pipeline.verdicts():
            if v.kind != "unstable":
                continue
            r = v.read
            why = " and ".join(v.reasons)
            yield ProjectFinding(
                r.path, r.location,
                f"`{r.api}` reads `{r.key}`, {why}, written into the code and declared nowhere.",
                hint="Read a versioned snapshot (pin the revision or object version) and pass its "
                     "location in through config, or declare it (dvc.yaml deps, `[tool.mldebt.data]`).",
            )

    VALID = [
        """
        import pandas as pd

        def load(url):
            return pd.read_csv(url)
        """,
        # a web API call is not a data read
        """
        import requests

        def score(payload):
            return requests.get("https://scoring.internal/api/v1/score", params=payload).json()
        """,
        # a hub dataset pinned to a revision
        """
        from datasets import load_dataset

        ds = load_dataset("imdb", revision="e6281661ce1c48d982bc483cf8a173c1bbeb5d31")
        """,
        # `latest` inside a word is not a moving target
        """
        import pandas as pd

        df = pd.read_csv("data/greatest_hits.csv")
        """,
        # writes to a temporary folder are not reads
        """
        import numpy as np

        def dump(x):
            np.save("/tmp/debug.npy", x)
        """,
    ]
    INVALID = [
        Invalid("""
            import pandas as pd

            events = pd.read_parquet("s3://analytics/exports/latest/events.parquet")
            """, line=4, message_contains="remote location and a moving target"),
        Invalid("""
            import torch

            def resume(model):
                model.load_state_dict(torch.load("/home/alice/ckpt/best.pt"))
            """, line=5, message_contains="absolute path"),
        Invalid("""
            from datasets import load_dataset

            raw = load_dataset("glue", "mrpc")
            """, line=4, message_contains="pinned revision"),
        Invalid("""
            import urllib.request as ur

            URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data.csv"
            ur.urlretrieve(URL, "data/adult.csv")
            """, line=5, message_contains="remote location"),
        Invalid("""
            import os
            import pandas as pd

            df = pd.read_csv(os.path.expanduser("~/datasets/churn.csv"))
            """, line=5, message_contains="home-directory"),
    ]
