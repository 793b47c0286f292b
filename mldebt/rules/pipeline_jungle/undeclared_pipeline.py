from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mldebt.rules.base import Invalid, ProjectFinding, ProjectRule, ProjectView, Valid


class UndeclaredPipeline(ProjectRule):
    """
    ## What it does
    Finds data pipelines that grew as a tangle of steps with no declared pipeline — one
    finding per jungle, naming its chain (`01_clean.py -> data/clean.csv -> 02_features.py
    -> data/features.pkl -> 03_train.py`). A group of scripts, notebooks and modules is a
    jungle when it has any of:

    - a chain of `min-chain` (3) or more steps handing files to each other (one writes a file
      the next reads, matched on statically resolved locations);
    - a cycle: a step reads what a later step writes;
    - a Python script that runs two or more of the repository's scripts through
      `subprocess`/`os.system`/`runpy` (a hand-rolled orchestrator), or a shell script that
      runs three or more (or two that hand files to each other);
    - `min-numbered` (3) or more numbered scripts in one folder (`01_clean.py`, `step2.py`);
    - a fan-in join: a step reading `min-fan-in` (3) or more intermediate files other steps write.

    Nothing is reported for steps a declared pipeline runs: `dvc.yaml` stages, Makefile
    targets, MLflow `MLproject` entry points, or a file that defines a pipeline with Airflow,
    Kedro, Prefect, Luigi, ZenML, Metaflow or Dagster (and the scripts it names); hand-offs
    through a declared file do not link steps. The finding sits at the jungle's entry: a
    Python driver's first call that runs a step, else the first step's first write of a file
    the next step reads, else the first numbered script's `__main__` guard. The message adds
    cycles, fan-in joins (a step joining three or more intermediate files) and drivers.

    ## Why is this bad?
    Nobody can tell which order the steps run in, which outputs are stale, or what to rerun
    after a change; testing and recovering the pipeline needs the same expensive end-to-end
    runs every time (Sculley et al. 2015, section 5, "Pipeline Jungles").

    ## Example
    ```python
    # run_all.py
    for step in ["01_clean.py", "02_features.py", "03_train.py"]:
        subprocess.run([sys.executable, step], check=True)
    ```

    ## Use instead
    Declare the steps with their inputs and outputs, so the order and the data contracts are
    explicit and only stale steps rerun:
    ```yaml
    # dvc.yaml
    stages:
      clean: {cmd: python 01_clean.py, deps: [data/raw.csv], outs: [data/clean.csv]}
      features: {cmd: python 02_features.py, deps: [data/clean.csv], outs: [data/features.pkl]}
    ```

    ## Options
    - `min-chain` (int, default 3): steps in a hand-off chain that make a jungle.
    - `min-numbered` (int, default 3): numbered scripts in one folder that make a jungle.
    - `min-fan-in` (int, default 3): intermediate files joined by one step that make a jungle.

    ## References
    - Sculley et al. 2015, section 5, "Pipeline Jungles".
    """

    NEEDS = ("io_facts:IoFacts",)

    @classmethod
    def check(cls, project: ProjectView, options: Mapping[str, Any]) -> Iterable[ProjectFinding]:
        graph = project.pipeline
        for j in graph.jungles(int(options.get("min-chain", 3)), int(options.get("min-numbered", 3)),
                               int(options.get("min-fan-in", 3))):
            parts = []
            if len(j.chain) >= 3:
                parts.append(" -> ".join(j.chain))
            for driver, targets in sorted(j.drivers.items()):
                parts.append(f"`{driver}` runs {', '.join(f'`{t}`' for t in targets)}")
            if j.numbered and len(j.chain) < 3:
                parts.append("numbered scripts " + ", ".join(f"`{p}`" for p in j.numbered))
            if j.cycle:
                parts.append("cycle: " + " -> ".join(j.cycle + j.cycle[:1]))
            for step, n in sorted(j.fan_in.items()):
                parts.append(f"`{step}` joins {n} intermediate files")
            yield ProjectFinding(
                j.entry, j.anchor,
                f"Pipeline jungle of {len(j.steps)} steps with no declared pipeline: " + "; ".join(parts) + ".",
                hint="Declare the steps with their inputs and outputs (dvc.yaml stages, a Makefile, or "
                     "your orchestrator) so order and data contracts are explicit.",
            )

    VALID = [
        # two steps handing one file over: an undeclared consumer, not yet a jungle
        Valid(files={
            "prepare.py": """
                import pandas as pd

                if __name__ == "__main__":
                    pd.read_json("raw.json").to_csv("data/clean.csv")
                """,
            "train.py": """
                import pandas as pd

                if __name__ == "__main__":
                    df = pd.read_csv("data/clean.csv")
                """,
        }, path="prepare.py"),
        # the same three steps declared in dvc.yaml
        Valid(files={
            "dvc.yaml": """
                stages:
                  clean: {cmd: python clean.py, deps: [data/raw.csv], outs: [data/clean.csv]}
                  feats: {cmd: python feats.py, deps: [data/clean.csv], outs: [data/feats.pkl]}
                  train: {cmd: python train.py, deps: [data/feats.pkl], outs: [model.pkl]}
                """,
            "clean.py": "import pandas as pd\npd.read_csv('data/raw.csv').dropna().to_csv('data/clean.csv')\n",
            "feats.py": "import pandas as pd\npd.read_csv('data/clean.csv').to_pickle('data/feats.pkl')\n",
            "train.py": "import pandas as pd\nX = pd.read_pickle('data/feats.pkl')\n",
        }, path="clean.py"),
        # a driver running a single script, and a test runner
        """
        import subprocess
        import sys

        subprocess.run([sys.executable, "-m", "pytest", "-q"], check=True)
        """,
        # versioned modules are not numbered steps
        Valid(files={
            "models/v1_baseline.py": "x = 1\n",
            "models/v2_attention.py": "x = 2\n",
            "models/resnet50.py": "x = 3\n",
        }, path="models/v1_baseline.py"),
        # a step joining two intermediate files
        Valid(files={
            "a.py": "import pandas as pd\npd.DataFrame().to_csv('data/a.csv')\n",
            "b.py": "import pandas as pd\npd.DataFrame().to_csv('data/b.csv')\n",
            "join.py": "import pandas as pd\nx = pd.read_csv('data/a.csv').merge(pd.read_csv('data/b.csv'))\n",
        }, path="join.py"),
    ]
    INVALID = [
        Invalid(files={
            "clean.py": """
                import pandas as pd

                raw = pd.read_csv("data/raw.csv")
                raw.dropna().to_csv("data/clean.csv", index=False)
                """,
            "features.py": """
                import pandas as pd

                df = pd.read_csv("data/clean.csv")
                df.assign(n=df.x * 2).to_pickle("data/features.pkl")
                """,
            "train.py": """
                import pandas as pd

                X = pd.read_pickle("data/features.pkl")
                """,
        }, path="clean.py", line=5,
            message_contains="clean.py -> data/clean.csv -> features.py -> data/features.pkl -> train.py"),
        Invalid(files={
            "run_all.py": """
                import subprocess
                import sys

                STEPS = ["prep.py", "train.py"]

                if __name__ == "__main__":
                    for step in STEPS:
                        subprocess.run([sys.executable, step], check=True)
                """,
            "prep.py": "print('prep')\n",
            "train.py": "print('train')\n",
        }, path="run_all.py", line=9, message_contains="`run_all.py` runs `prep.py`, `train.py`"),
        Invalid(files={
            "pipeline/01_ingest.py": "if __name__ == '__main__':\n    print('ingest')\n",
            "pipeline/02_clean.py": "print('clean')\n",
            "pipeline/03_train.py": "print('train')\n",
        }, path="pipeline/01_ingest.py", line=1, message_contains="numbered scripts"),
        Invalid(files={
            "users.py": "import pandas as pd\n\npd.read_json('raw/u.json').to_parquet('stage/users.parquet')\n",
            "items.py": "import pandas as pd\n\npd.read_json('raw/i.json').to_parquet('stage/items.parquet')\n",
            "events.py": "import pandas as pd\n\npd.read_json('raw/e.json').to_parquet('stage/events.parquet')\n",
            "join.py": """
                import pandas as pd

                users = pd.read_parquet("stage/users.parquet")
                items = pd.read_parquet("stage/items.parquet")
                events = pd.read_parquet("stage/events.parquet")
                """,
        }, path="events.py", line=3, message_contains="`join.py` joins 3 intermediate files"),
    ]
