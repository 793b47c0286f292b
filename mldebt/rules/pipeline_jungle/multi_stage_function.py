from __future__ import annotations

from typing import Any, Iterable, Mapping

from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView


class MultiStageFunction(ProjectRule):
    """
    ## What it does
    Flags a single function that is a whole pipeline: it reads data, transforms it, writes
    it, reads the next input, writes again — `min-stages` (3) or more read -> write stages in
    sequence — and is at least `min-lines` (20) source lines long (counted by radon, which
    also gives the cyclomatic complexity in the message). A stage is a write preceded by at
    least one read since the previous write. Reads and writes are those of `rules/data-io.yaml`
    and `[tool.mldebt.data]`, whatever their locations (parameters count too). The project
    graph's collector counts the stages as it records the reads and writes, so this rule costs
    nothing more.

    ## Why is this bad?
    Every intermediate file is a hidden contract, and no stage can be rerun, tested or cached
    on its own: a failure in the last stage means rerunning the first (Sculley et al. 2015,
    section 5, "Pipeline Jungles").

    ## Example
    ```python
    def build_dataset():
        users = pd.read_csv("raw/users.csv")
        ...
        users.to_parquet("interim/users.parquet")
        events = pd.read_json("raw/events.json")
        ...
        events.to_parquet("interim/events.parquet")
        joined = pd.read_parquet("interim/users.parquet").merge(...)
        joined.to_parquet("processed/train.parquet")
    ```

    ## Use instead
    One function per stage taking and returning data, and a declared pipeline (dvc.yaml,
    Makefile, an orchestrator) joining them through declared files.

    ## Options
    - `min-stages` (int, default 3): read -> write stages that make a function a pipeline.
    - `min-lines` (int, default 20): radon source lines below which a function is not flagged.

    ## References
    - Sculley et al. 2015, section 5, "Pipeline Jungles".
    """

    NEEDS = ("io_facts:IoFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        min_stages = int(options.get("min-stages", 3))
        min_lines = int(options.get("min-lines", 20))
        for ff, fact in project.facts("facts:io", "stages"):
            d = fact.data
            if ff.is_test or fact.location is None or d["stages"] < min_stages or d["sloc"] < min_lines:
                continue
            yield ProjectFinding(
                ff.path, fact.location,
                f"`{d['function']}` runs {d['stages']} read -> transform -> write stages in one function "
                f"({d['sloc']} lines, cyclomatic complexity {d['complexity']}): a pipeline hidden in a function.",
            )

    VALID = [
        # two stages only
        """
        import pandas as pd

        def convert(src, dst, src2, dst2):
            a = pd.read_csv(src)
            a = a.dropna()
            a = a.rename(columns=str.lower)
            a = a.drop_duplicates()
            a = a.reset_index(drop=True)
            a = a.sort_values("id")
            a = a.assign(total=a.x + a.y)
            a = a.assign(ratio=a.x / a.y)
            a = a.assign(flag=a.ratio > a.ratio.mean())
            a.to_parquet(dst)
            b = pd.read_csv(src2)
            b = b.dropna()
            b = b.rename(columns=str.lower)
            b = b.drop_duplicates()
            b = b.reset_index(drop=True)
            b = b.sort_values("id")
            b = b.assign(total=b.x + b.y)
            b = b.assign(ratio=b.x / b.y)
            b = b.assign(flag=b.ratio > b.ratio.mean())
            b = b.assign(rank=b.total.rank())
            b = b.assign(pct=b.total / b.total.sum())
            b = b.assign(cum=b.total.cumsum())
            b.to_parquet(dst2)
        """,
        # many writes after one read: an export, not a pipeline
        """
        import pandas as pd

        def export(path):
            df = pd.read_parquet(path)
            for name, part in df.groupby("region"):
                part.to_csv(f"out/{name}.csv")
            df.to_json("out/all.json")
            df.head().to_csv("out/sample.csv")
        """,
        # three short stages: below min-lines
        """
        import pandas as pd

        def shuffle_files():
            pd.read_csv("a.csv").to_csv("b.csv")
            pd.read_csv("b.csv").to_csv("c.csv")
            pd.read_csv("c.csv").to_csv("d.csv")
        """,
    ]
    INVALID = [
        Invalid("""
            import json

            import numpy as np
            import pandas as pd

            def build_dataset(raw_dir, out_dir):
                users = pd.read_csv(f"{raw_dir}/users.csv")
                users = users.dropna(subset=["user_id"])
                users["age"] = users["age"].clip(0, 100)
                users["signup"] = pd.to_datetime(users["signup"])
                users = users.drop_duplicates("user_id")
                users.to_parquet(f"{out_dir}/users.parquet")

                events = pd.read_json(f"{raw_dir}/events.json", lines=True)
                events = events[events["type"].isin(["click", "buy"])]
                events["ts"] = pd.to_datetime(events["ts"], unit="s")
                counts = events.groupby(["user_id", "type"]).size().unstack(fill_value=0)
                counts.columns = [f"n_{c}" for c in counts.columns]
                counts.to_parquet(f"{out_dir}/counts.parquet")

                joined = pd.read_parquet(f"{out_dir}/users.parquet").join(counts, on="user_id")
                joined = joined.fillna(0)
                joined["buy_rate"] = joined["n_buy"] / (joined["n_click"] + 1)
                joined["log_clicks"] = np.log1p(joined["n_click"])
                joined = joined.sample(frac=1.0, random_state=7)
                joined.to_parquet(f"{out_dir}/train.parquet")
                with open(f"{out_dir}/columns.json", "w") as fh:
                    json.dump(list(joined.columns), fh)
                return joined
            """, line=7, message_contains="runs 3 read -> transform -> write stages"),
    ]
