"""Declarations outside the code: DVC, Kedro, Hydra configs, Makefiles, shell drivers..."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mldebt.config import DEFAULT_EXCLUDE, path_matches
from mldebt.discovery import non_source_files
from mldebt.project.declarations import (
    DataSettings,
    Declarations,
    DeclaredLocation,
    DeclaredStage,
    EntryPoint,
    ScriptRun,
    declaration_files,
    declaration_kind,
    load_declarations,
    looks_like_location,
    normalize_location,
    parse_data_settings,
    read_declaration_files,
)

NO_DATA = DataSettings()


def _load(texts, python_files=(), data=NO_DATA):
    return load_declarations(texts, list(python_files), data)


def _locs(decl, source=None):
    return {(loc.pattern, loc.line, loc.kind) for loc in decl.locations
            if source is None or loc.source == source}


def _stage(decl, name, source=None):
    hits = [s for s in decl.stages if s.name == name and (source is None or s.source == source)]
    assert len(hits) == 1, decl.stages
    return hits[0]


# --------------------------------------------------------------------------------------------
# DVC
# --------------------------------------------------------------------------------------------

DVC_YAML = """\
vars:
  - data_dir: data
  - models:
      - small
      - large

stages:
  prepare:
    cmd: python src/prepare.py ${data_dir}/raw ${data_dir}/prepared
    deps:
      - src/prepare.py
      - ${data_dir}/raw
    params:
      - prepare.seed
      - prepare.split
    outs:
      - ${data_dir}/prepared

  featurize:
    cmd:
      - python -m pipeline.featurize data/prepared data/features
      - python src/check.py
    deps:
      - data/prepared
      - pipeline/featurize.py
    params:
      - configs/features.yaml:
          - max_features
    outs:
      - data/features:
          persist: true

  train:
    foreach: ${models}
    do:
      cmd: python -m pipeline.train --size ${item} --seed ${train.seed}
      deps:
        - data/features/${item}.parquet
        - pipeline
      outs:
        - models/${item}.pkl:
            cache: false
      metrics:
        - eval/${item}/metrics.json:
            cache: false

  evaluate:
    wdir: reports
    cmd: bash run_eval.sh
    deps:
      - ../models
    plots:
      - figures/roc.csv:
          x: fpr
          y: tpr

  sweep:
    matrix:
      model: [lr, xgb]
      fold: [0, 1]
    cmd: python src/cv.py ${item.model} ${item.fold}
    outs:
      - cv/${item.model}-${item.fold}.json

metrics:
  - eval/summary.json
plots:
  - train_vs_test:
      x: step
      y:
        eval/train.csv: loss
        eval/test.csv: loss
artifacts:
  churn-model:
    path: models/large.pkl
    type: model
"""

PARAMS_YAML = """\
prepare:
  seed: 20170428
  split: 0.2
  input: data/raw/data.xml
train:
  seed: 7
  lr: 0.01
  scheduler: cosine
  output_dir: outputs/train
"""

RUN_EVAL_SH = """\
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
CUDA_VISIBLE_DEVICES=0 python3 -u ../src/evaluate.py --models ../models && echo done
"""

DVC_PY = ["src/prepare.py", "src/check.py", "src/evaluate.py", "src/cv.py",
          "pipeline/__init__.py", "pipeline/featurize.py", "pipeline/train.py"]


def _dvc():
    return _load({"dvc.yaml": DVC_YAML, "params.yaml": PARAMS_YAML,
                  "reports/run_eval.sh": RUN_EVAL_SH}, DVC_PY)


def test_dvc_stage_deps_outs_and_templated_parts():
    d = _dvc()
    assert d.errors == ()
    locs = _locs(d, "dvc.yaml")
    # vars resolve; code deps (scripts, the `pipeline` package) are not data locations
    assert ("data/raw", 12, "dvc-dep") in locs
    assert ("data/prepared", 17, "dvc-out") in locs
    assert ("params.yaml", 14, "dvc-dep") in locs  # the params file the stage reads
    assert ("configs/features.yaml", 27, "dvc-dep") in locs
    assert ("data/features", 30, "dvc-out") in locs
    # foreach: ${item} becomes a wildcard
    assert ("data/features/*.parquet", 38, "dvc-dep") in locs
    assert ("models/*.pkl", 41, "dvc-out") in locs
    assert ("eval/*/metrics.json", 44, "dvc-out") in locs
    # wdir: paths are relative to it
    assert ("models", 51, "dvc-dep") in locs
    assert ("reports/figures/roc.csv", 53, "dvc-out") in locs
    # matrix
    assert ("cv/*-*.json", 63, "dvc-out") in locs
    # top-level metrics, plots and artifacts
    assert {("eval/summary.json", 66, "dvc-out"), ("eval/train.csv", 71, "dvc-out"),
            ("eval/test.csv", 72, "dvc-out"), ("models/large.pkl", 75, "dvc-out")} <= locs
    assert not any(p.endswith(".py") or p == "pipeline" for p, _, _ in locs)


def test_dvc_stages_resolve_the_scripts_their_commands_run():
    d = _dvc()
    assert _stage(d, "prepare") == DeclaredStage(
        "prepare", "dvc.yaml", 8, "dvc", ("src/prepare.py",), ("data/raw", "params.yaml"),
        ("data/prepared",))
    assert _stage(d, "featurize").scripts == ("pipeline/featurize.py", "src/check.py")
    assert _stage(d, "train").scripts == ("pipeline/train.py",)
    # the stage runs a shell script, which runs evaluate.py (cd "$(dirname "$0")" first)
    assert _stage(d, "evaluate").scripts == ("src/evaluate.py",)
    assert _stage(d, "sweep").scripts == ("src/cv.py",)
    assert d.staged_scripts() == frozenset(DVC_PY) - {"pipeline/__init__.py"}
    # the shell script is a hand-rolled driver: a run, not a stage
    assert ScriptRun("reports/run_eval.sh", 4, "src/evaluate.py", "shell") in d.runs
    assert not any(s.source.endswith(".sh") for s in d.stages)


def test_params_yaml_values_that_are_locations():
    d = _dvc()
    assert _locs(d, "params.yaml") == {("data/raw/data.xml", 4, "params"),
                                       ("outputs/train", 9, "params")}


def test_nested_dvc_yaml_and_dvc_files_are_relative_to_their_folder():
    d = _load({
        "projects/nlp/dvc.yaml": "stages:\n  tok:\n    cmd: python tok.py\n    deps: [corpus]\n"
                                 "    outs: [tokens.jsonl]\n",
        "data/raw.dvc": "outs:\n- md5: 22a1a2931c8370d3aeedd7183606fd7f\n  size: 14445097\n"
                        "  path: raw\n",
        "data/ext.dvc": "deps:\n- path: s3://bucket/exports/2024\nouts:\n- path: ext\n",
    }, ["projects/nlp/tok.py"])
    assert _locs(d) == {
        ("projects/nlp/corpus", 4, "dvc-dep"), ("projects/nlp/tokens.jsonl", 5, "dvc-out"),
        ("data/raw", 4, "dvc-out"), ("s3://bucket/exports/2024", 2, "dvc-dep"),
        ("data/ext", 4, "dvc-out")}
    assert _stage(d, "tok").scripts == ("projects/nlp/tok.py",)


def test_dvc_0x_stage_files():
    prepare_dvc = """\
md5: 645d5baf13fb4404e17d77a2cf7461c4
cmd: python src/prepare.py data/data.xml
wdir: .
deps:
- md5: 1a18704abffac804adf2d5c4549f00f7
  path: src/prepare.py
- md5: a304afb96060aad90176268345e10355
  path: data/data.xml
outs:
- md5: 6836f797f3924fb46fcfd6b9f6aa6416.dir
  path: data/prepared
  cache: true
"""
    d = _load({"prepare.dvc": prepare_dvc}, ["src/prepare.py"])
    assert d.stages == (DeclaredStage("prepare", "prepare.dvc", 1, "dvc", ("src/prepare.py",),
                                      ("data/data.xml",), ("data/prepared",)),)


def test_broken_dvc_yaml_is_an_error_with_its_line_and_loading_goes_on():
    broken = "stages:\n  train:\n    cmd: python train.py\n    deps: [data\n    outs: [m.pkl]\n"
    d = _load({"dvc.yaml": broken, "conf/base/catalog.yml": "x:\n  filepath: data/x.csv\n"},
              ["train.py"])
    [(path, message)] = d.errors
    assert path == "dvc.yaml"
    assert message.startswith("invalid YAML at line ")
    assert "\n" not in message
    assert d.stages == ()
    assert _locs(d) == {("data/x.csv", 2, "kedro")}
    assert "dvc.yaml" in d.files


@pytest.mark.parametrize("path,text,needle", [
    ("params.yaml", "train: {lr: 0.1\n", "invalid YAML at line 2"),
    ("conf/base/catalog.yml", "companies:\n  type: pandas.CSVDataset\n filepath: x\n",
     "invalid YAML at line 3"),
    ("MLproject", "name: x\nentry_points:\n  main: [\n", "invalid YAML at line"),
    ("pyproject.toml", "[project]\nname = 'x'\nscripts = {\n", "invalid TOML"),
    ("dvc.yaml", "- just\n- a list\n", "line 1: expected a mapping with 'stages'"),
    ("dvc.yaml", "stages:\n  a: python x.py\n", "line 2: stage 'a' is not a mapping"),
])
def test_declarations_we_rely_on_report_parse_errors(path, text, needle):
    d = _load({path: text})
    [(where, message)] = d.errors
    assert where == path and needle in message, message


# --------------------------------------------------------------------------------------------
# YAML safety
# --------------------------------------------------------------------------------------------


def test_python_tags_are_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    evil = (f"data:\n  train: data/train.csv\n  hook: !!python/object/apply:os.system\n"
            f"    - touch {marker}\n")
    d = _load({"configs/evil.yaml": evil,
               "dvc.yaml": "stages:\n  a:\n    cmd: !!python/name:os.getcwd ''\n",
               "params.yaml": "p: !!python/object/new:builtins.exec ['import os']\n"})
    assert not marker.exists()
    errors = dict(d.errors)
    assert set(errors) == {"configs/evil.yaml", "dvc.yaml", "params.yaml"}
    assert errors["configs/evil.yaml"].startswith(
        "refused a !!python tag (!!python/object/apply:os.system) at line 3")
    assert "refused a !!python tag" in errors["dvc.yaml"]
    assert d.locations == () and d.stages == ()  # nothing read from a refused file


def test_alias_bombs_stay_cheap():
    lines = ["a0: &a0 [data/x.csv, data/y.csv]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]")
    start = time.perf_counter()
    d = _load({"configs/bomb.yaml": "\n".join(lines) + "\n"})
    assert time.perf_counter() - start < 2
    assert {p for p, _, _ in _locs(d)} == {"data/x.csv", "data/y.csv"}


# --------------------------------------------------------------------------------------------
# Kedro
# --------------------------------------------------------------------------------------------

KEDRO_CATALOG = """\
_base: data
_csv: &csv
  type: pandas.CSVDataset
  load_args:
    sep: ","

companies:
  <<: *csv
  filepath: ${_base}/01_raw/companies.csv

reviews:
  type: pandas.CSVDataset
  filepath: data/01_raw/reviews.csv
  credentials: dev_s3

shuttles:
  type: pandas.ExcelDataset
  filepath: s3://spaceflights-bucket/01_raw/shuttles.xlsx

model_input_table:
  type: pandas.ParquetDataset
  filepath: data/03_primary/model_input_table.parquet
  versioned: true

"{namespace}.regressor":
  type: pickle.PickleDataset
  filepath: data/06_models/{namespace}/regressor.pickle

partitions:
  type: partitions.PartitionedDataset
  path: data/02_intermediate/partitions
  dataset:
    type: pandas.CSVDataset
    filepath: ignored-by-kedro.csv
"""


def test_kedro_catalog_filepaths_relative_to_the_kedro_project():
    d = _load({"spaceflights/conf/base/catalog.yml": KEDRO_CATALOG,
               "spaceflights/conf/base/parameters.yml":
                   "model_options:\n  test_size: 0.2\n  random_state: 3\n"})
    assert _locs(d, "spaceflights/conf/base/catalog.yml") == {
        ("spaceflights/data/01_raw/companies.csv", 9, "kedro"),
        ("spaceflights/data/01_raw/reviews.csv", 13, "kedro"),
        ("s3://spaceflights-bucket/01_raw/shuttles.xlsx", 18, "kedro"),
        ("spaceflights/data/03_primary/model_input_table.parquet", 22, "kedro"),
        ("spaceflights/data/06_models/*/regressor.pickle", 27, "kedro"),
        ("spaceflights/data/02_intermediate/partitions", 31, "kedro"),
        ("spaceflights/ignored-by-kedro.csv", 34, "kedro"),
    }
    assert d.errors == ()
    assert declaration_kind("conf/base/catalog/reviews.yml") == "kedro"
    assert declaration_kind("conf/local/catalog_dev.yaml") == "kedro"


# --------------------------------------------------------------------------------------------
# Hydra / OmegaConf / plain YAML configs
# --------------------------------------------------------------------------------------------

HYDRA_CONFIG = """\
# @package _global_
defaults:
  - data: mnist
  - model: resnet
  - override hydra/launcher: joblib
  - _self_

paths:
  root_dir: ${oc.env:PROJECT_ROOT}
  data_dir: ${paths.root_dir}/data/
  log_dir: logs/
  cache: ${hydra:runtime.cwd}/cache/features.npz

data:
  root: data/mnist
  train_file: ${data.root}/train.csv
  test_file: ${.root}/test.csv
  val_file: ${paths.data_dir}/val.csv
  splits_dir: ${data.root}/splits/${data.fold}
  fold: 3
  extra: ${oc.env:EXTRA_DATA}

optimizer:
  _target_: torch.optim.Adam
  lr: 0.001
  betas: [0.9, 0.999]

trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 10
  accelerator: gpu
  precision: bf16-mixed
  default_root_dir: ${paths.log_dir}

meta:
  version: 1.2.3
  description: Train on data/mnist with augmentations
  content_type: application/json
  date: 2024/01/31
  url: https://github.com/acme/mnist
  ratio: 16/9
  pretrained: s3://acme-models/resnet50/weights.pt
  tokenizer: tokenizer.json
  notes: "see docs/index.md"
  script: src/train.py
  run_name: ${now:%Y-%m-%d}
"""


def test_hydra_config_locations_with_interpolation_and_targets():
    d = _load({"configs/config.yaml": HYDRA_CONFIG,
               "configs/data/mnist.yaml": "data_dir: ${paths.data_dir}\nbatch_size: 64\n"})
    locs = _locs(d)
    assert locs == {
        ("**/data", 10, "config"),  # under an unknown root (an environment variable)
        ("logs", 11, "config"),
        ("cache/features.npz", 12, "config"),  # ${hydra:runtime.cwd} is the project root
        ("data/mnist", 15, "config"),
        ("data/mnist/train.csv", 16, "config"),
        ("data/mnist/test.csv", 17, "config"),  # relative interpolation
        ("**/data/val.csv", 18, "config"),
        ("data/mnist/splits/3", 19, "config"),
        ("logs", 33, "config"),
        ("https://github.com/acme/mnist", 40, "config"),
        ("s3://acme-models/resnet50/weights.pt", 42, "config"),
        ("tokenizer.json", 43, "config"),
    }
    assert d.errors == ()


def test_hydra_config_groups_resolve_across_files():
    texts = {
        "configs/train.yaml": "defaults:\n  - _self_\n  - data: mnist\n  - paths: default\n"
                              "task_name: train\nckpt_path: null\n",
        "configs/eval.yaml": "task_name: eval\nckpt_path: ???\n",
        "configs/paths/default.yaml": "root_dir: ${oc.env:PROJECT_ROOT}\n"
                                      "data_dir: ${paths.root_dir}/data/\n"
                                      "log_dir: ${paths.root_dir}/logs/\n"
                                      "output_dir: ${hydra:runtime.output_dir}\n"
                                      "work_dir: ${hydra:runtime.cwd}\n",
        "configs/paths/cluster.yaml": "data_dir: /scratch/data/\nlog_dir: /scratch/logs/\n",
        "configs/data/mnist.yaml": "_target_: src.data.mnist_datamodule.MNISTDataModule\n"
                                   "data_dir: ${paths.data_dir}\n"
                                   "raw: ${paths.data_dir}/MNIST/raw\nbatch_size: 128\n",
        "configs/hydra/default.yaml": "run:\n  dir: ${paths.log_dir}/${task_name}/runs/"
                                      "${now:%Y-%m-%d}_${now:%H-%M-%S}\n",
        "configs/model/net.yaml": "ckpt: ${paths.model_dir}/net.ckpt\nvocab: ${data.vocab}\n",
    }
    d = _load(texts)
    assert _locs(d, "configs/data/mnist.yaml") == {("**/data", 2, "config"),
                                                   ("**/data/MNIST/raw", 3, "config")}
    # `task_name` differs between train.yaml and eval.yaml: a wildcard
    assert _locs(d, "configs/hydra/default.yaml") == {("**/logs/*/runs/*_*", 2, "config")}
    assert _locs(d, "configs/model/net.yaml") == {("**/net.ckpt", 1, "config")}
    assert d.declaring("data/MNIST/raw/train-images.gz").source == "configs/data/mnist.yaml"


def test_location_heuristics():
    yes = ["data/train.csv", "train.parquet", "s3://bucket/key", "gs://b/x", "hdfs://nn/x",
           "models/", "~/datasets/imagenet", "/mnt/data/x.h5", "data/*.csv", "**/val.csv",
           "https://example.com/data.zip", "data\\raw\\x.csv".replace("\\", "/"), "*.csv"]
    no = ["", "torch.optim.Adam", "1.2.3", "application/json", "2024/01/31", "16/9",
          "see docs/index.md", "src/train.py", "--data/x", "tcp://host:1", "relu", "a b/c",
          "s3://", "${x}", "data/{split}.csv", "%Y/%m/%d", "notebooks/eda.ipynb", ".csv"]
    assert [v for v in yes if not looks_like_location(v)] == []
    assert [v for v in no if looks_like_location(v)] == []


def test_non_data_yaml_is_not_read():
    listing = [
        ".github/workflows/ci.yml", ".gitlab-ci.yml", "docker-compose.yml", "compose.yaml",
        "environment.yml", "conda.yaml", ".pre-commit-config.yaml", "mkdocs.yml",
        "charts/api/templates/deployment.yaml", "charts/api/values.yaml", ".readthedocs.yaml",
        "k8s/job.yaml", "dvc.lock", "README.md", "train.py", "data/train.csv",
        "api/openapi_spec.yaml",
        # read:
        "configs/train.yaml", "deploy/job.yaml", "api/spec.yaml", "dvc.yaml",
        "params.yaml", "conf/base/catalog.yml", "Makefile", "scripts/run.sh", "Dockerfile",
        "MLproject", "workflow/Snakefile", "pyproject.toml", "setup.cfg", "data/raw.dvc",
        "rules/prep.smk", "docker/train.Dockerfile", "tools/common.mk",
    ]
    assert declaration_files(listing) == sorted([
        "Dockerfile", "MLproject", "Makefile", "api/spec.yaml", "conf/base/catalog.yml",
        "configs/train.yaml", "data/raw.dvc", "deploy/job.yaml", "docker/train.Dockerfile",
        "dvc.yaml", "params.yaml", "pyproject.toml", "rules/prep.smk", "scripts/run.sh",
        "setup.cfg", "tools/common.mk", "workflow/Snakefile"])
    # content says what a file is: a Kubernetes manifest, an API spec, a conda env
    d = _load({
        "deploy/job.yaml": "apiVersion: batch/v1\nkind: Job\nspec:\n  image: acme/train:1\n"
                           "  volume: /mnt/data/train.csv\n",
        "api/spec.yaml": "openapi: 3.0.0\npaths:\n  /predict/{id}:\n    get: {}\n"
                                 "  ref: schemas/pred.json\n",
        "configs/env.yaml": "channels: [conda-forge]\ndependencies: [python=3.11, pip/x]\n",
        "configs/stack.yaml": "services:\n  db:\n    image: postgres\n    volumes: [./pg/data]\n",
        # a Helm-style template that is not valid YAML: skipped silently, no error
        "ops/values.yaml": "image: {{ .Values.image }}\n  data: data/x.csv\n bad",
    })
    assert d.locations == () and d.errors == ()
    assert d.files == ()


# --------------------------------------------------------------------------------------------
# Makefiles
# --------------------------------------------------------------------------------------------

MAKEFILE = """\
.PHONY: all clean data features train lint

PROJECT_DIR := $(shell dirname $(realpath $(lastword $(MAKEFILE_LIST))))
PYTHON_INTERPRETER = python3
DATA = data
RAW := $(DATA)/raw
MODEL_DIR ?= models
FLAGS = --seed 1
FLAGS += --verbose

all: train

## Make dataset
data: requirements.txt $(RAW)/users.csv
\t@echo "building data"
\t@$(PYTHON_INTERPRETER) src/data/make_dataset.py \\
\t\t$(RAW) $(DATA)/processed \\
\t\t--log $(PROJECT_DIR)/logs/make.log

$(DATA)/features/%.parquet: $(DATA)/processed/%.csv src/features/build.py
\tcd src && $(PYTHON_INTERPRETER) -m features.build $< $@

train: $(DATA)/features/users.parquet
\t-$(PYTHON) -m src.models.train_model $(FLAGS) --out=$(MODEL_DIR)/model.pkl
\tbash scripts/report.sh

lint:
\tflake8 src  # not a pipeline step
\tpython -m pytest tests

clean:
\tfind . -type f -name "*.py[co]" -delete
\trm -rf $(DATA)/processed
"""

MAKE_PY = ["src/data/make_dataset.py", "src/features/__init__.py", "src/features/build.py",
           "src/models/train_model.py", "src/report.py", "tests/test_x.py"]


def test_makefile_targets_are_stages_with_variables_and_continuations():
    d = _load({"Makefile": MAKEFILE, "scripts/report.sh": "python src/report.py\n"}, MAKE_PY)
    assert d.errors == ()
    data = _stage(d, "data")
    assert data == DeclaredStage("data", "Makefile", 14, "make", ("src/data/make_dataset.py",),
                                 ("requirements.txt", "data/raw/users.csv"), ())
    features = _stage(d, "data/features/%.parquet")
    assert features.scripts == ("src/features/build.py",)  # `cd src && python -m features.build`
    assert features.deps == ("data/processed/*.csv",)
    assert features.outs == ("data/features/*.parquet",)
    train = _stage(d, "train")
    # $(PYTHON) is undefined: still an interpreter; the shell script it calls is followed
    assert train.scripts == ("src/models/train_model.py", "src/report.py")
    assert {s.name for s in d.stages} == {"data", "data/features/%.parquet", "train"}
    assert [(r.line, r.script, r.via) for r in d.runs if r.source == "Makefile"] == [
        (16, "src/data/make_dataset.py", "make"), (21, "src/features/build.py", "make"),
        (24, "src/models/train_model.py", "make")]
    locs = _locs(d, "Makefile")
    assert {("data/raw", 16, "make"), ("data/processed", 16, "make"),
            ("logs/make.log", 16, "make"),  # $(PROJECT_DIR) is the Makefile's folder
            ("models/model.pkl", 24, "make"), ("data/features/users.parquet", 23, "make"),
            ("data/processed/*.csv", 20, "make")} <= locs
    assert not any(p.endswith(".py") or p in ("train", "all", "clean") for p, _, _ in locs)


def test_makefile_in_a_subfolder_runs_from_that_folder():
    mk = "PY=python\nrun:\n\t$(PY) train.py data/in.csv\n\t$(PY) missing.py\n"
    d = _load({"ml/Makefile": mk}, ["ml/train.py", "train.py"])
    assert _stage(d, "run").scripts == ("ml/train.py",)
    assert ("ml/data/in.csv", 3, "make") in _locs(d)


# --------------------------------------------------------------------------------------------
# Shell scripts and Dockerfiles: runs, not stages
# --------------------------------------------------------------------------------------------

RUN_ALL_SH = """\
#!/bin/bash
# python src/commented_out.py
set -e
SCRIPT_DIR="$( cd "$( dirname "${BASH_SOURCE[0]}" )" &> /dev/null && pwd )"
ROOT=$SCRIPT_DIR/..
PY=${PYTHON:-python3}

export CUDA_VISIBLE_DEVICES=0,1
CUDA_VISIBLE_DEVICES=0 nohup python -u src/prepare.py --in data/raw > logs/prep.log 2>&1 &
time python3 src/featurize.py && python src/train.py --epochs 3; echo "trained"
for seed in 1 2 3; do
  $PY $ROOT/src/evaluate.py --seed $seed
done
python -m src.report \\
    --out reports/
torchrun --nproc_per_node=4 src/train.py --ddp
accelerate launch --config_file configs/accel.yaml src/finetune.py
echo python src/not_run.py
python -c "import src.prepare"
python -m pip install -r requirements.txt
python - <<EOF
import subprocess
subprocess.run(["python", "src/heredoc_body.py"])
EOF
cd notebooks && papermill eda.ipynb out.ipynb
"""

SHELL_PY = ["src/prepare.py", "src/featurize.py", "src/train.py", "src/evaluate.py",
            "src/report.py", "src/finetune.py", "src/not_run.py", "src/heredoc_body.py",
            "src/commented_out.py", "notebooks/eda.ipynb", "scripts/src/evaluate.py"]


def test_shell_scripts_record_runs_with_env_prefixes_and_wrappers():
    d = _load({"scripts/run_all.sh": RUN_ALL_SH}, SHELL_PY)
    assert [(r.line, r.script) for r in d.runs] == [
        (9, "src/prepare.py"), (10, "src/featurize.py"), (10, "src/train.py"),
        (12, "src/evaluate.py"),  # $ROOT is the script's folder's parent
        (14, "src/report.py"), (16, "src/train.py"), (17, "src/finetune.py"),
        (25, "notebooks/eda.ipynb"),
    ]
    assert {r.via for r in d.runs} == {"shell"}
    assert d.stages == () and d.locations == ()  # a shell driver declares nothing
    assert d.files == ("scripts/run_all.sh",)


def test_dockerfile_runs():
    dockerfile = """\
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install -r requirements.txt && \\
    python scripts/download_weights.py --out /app/weights
ENTRYPOINT ["python", "-m", "service.serve"]
CMD ["python", "/app/src/train.py", "--config", "configs/train.yaml"]
"""
    d = _load({"docker/Dockerfile": dockerfile},
              ["scripts/download_weights.py", "service/__init__.py", "service/serve.py",
               "src/train.py"])
    assert [(r.line, r.script, r.via) for r in d.runs] == [
        (4, "scripts/download_weights.py", "docker"), (6, "service/serve.py", "docker"),
        (7, "src/train.py", "docker")]


# --------------------------------------------------------------------------------------------
# MLproject, Snakemake
# --------------------------------------------------------------------------------------------


def test_mlproject_entry_points_are_stages():
    mlproject = """\
name: churn
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      data_file: {type: path, default: data/churn.csv}
      alpha: {type: float, default: 0.5}
      l1_ratio: float
    command: "python train.py --data {data_file} --alpha {alpha} --l1 {l1_ratio}"
  validate:
    parameters:
      model_uri: {type: uri, default: "s3://models/churn/latest"}
    command: "python -m churn.validate {model_uri}"
"""
    d = _load({"examples/churn/MLproject": mlproject},
              ["examples/churn/train.py", "examples/churn/churn/__init__.py",
               "examples/churn/churn/validate.py"])
    assert d.stages == (
        DeclaredStage("main", "examples/churn/MLproject", 4, "mlproject",
                      ("examples/churn/train.py",), ("examples/churn/data/churn.csv",)),
        DeclaredStage("validate", "examples/churn/MLproject", 10, "mlproject",
                      ("examples/churn/churn/validate.py",), ("s3://models/churn/latest",)),
    )
    assert _locs(d) == {("examples/churn/data/churn.csv", 6, "mlproject"),
                        ("s3://models/churn/latest", 12, "mlproject")}


def test_snakefile_rules():
    snakefile = '''\
configfile: "config/config.yaml"
SAMPLES = ["a", "b"]

rule all:
    input: expand("results/{sample}.summary.tsv", sample=SAMPLES)

rule clean_reads:
    input:
        reads="data/raw/{sample}.fastq.gz",
        ref=config["reference"],
    output:
        "results/{sample}.clean.parquet"
    script:
        "scripts/clean.py"

rule summarize:
    input: rules.clean_reads.output
    output: "results/{sample}.summary.tsv"
    shell:
        """
        python workflow/scripts/summarize.py {input} > {output}
        """
'''
    d = _load({"workflow/Snakefile": snakefile},
              ["workflow/scripts/clean.py", "workflow/scripts/summarize.py"])
    assert [(s.name, s.line, s.scripts, s.deps, s.outs) for s in d.stages] == [
        ("all", 4, (), ("results/*.summary.tsv",), ()),
        ("clean_reads", 7, ("workflow/scripts/clean.py",), ("data/raw/*.fastq.gz",),
         ("results/*.clean.parquet",)),
        ("summarize", 16, ("workflow/scripts/summarize.py",), (), ("results/*.summary.tsv",)),
    ]
    assert ("data/raw/*.fastq.gz", 9, "snakemake") in _locs(d)


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def test_console_scripts_from_pyproject_and_setup_cfg():
    pyproject = """\
[project]
name = "churn"
dependencies = ["pandas"]

[project.scripts]
churn-train = "churn.cli:train"
"churn-serve" = "churn.serve:main [web]"

[tool.poetry.scripts]
churn-eval = "churn.evaluate:main"
churn-file = { reference = "bin/run.sh", type = "file" }

[tool.mldebt.data]
declared = ["data/raw"]
"""
    setup_cfg = """\
[metadata]
name = legacy

[options.entry_points]
console_scripts =
    legacy-train = legacy.train:main
    legacy-missing = legacy.gone:main
"""
    py = ["src/churn/__init__.py", "src/churn/cli.py", "src/churn/serve/__init__.py",
          "src/churn/evaluate.py", "tools/legacy/__init__.py", "tools/legacy/train.py"]
    d = _load({"pyproject.toml": pyproject, "tools/setup.cfg": setup_cfg}, py)
    assert d.entry_points == (
        EntryPoint("churn-train", "churn.cli:train", "churn.cli", "pyproject.toml", 6,
                   "src/churn/cli.py"),
        EntryPoint("churn-serve", "churn.serve:main", "churn.serve", "pyproject.toml", 7,
                   "src/churn/serve/__init__.py"),
        EntryPoint("churn-eval", "churn.evaluate:main", "churn.evaluate", "pyproject.toml", 10,
                   "src/churn/evaluate.py"),
        EntryPoint("legacy-train", "legacy.train:main", "legacy.train", "tools/setup.cfg", 6,
                   "tools/legacy/train.py"),
        EntryPoint("legacy-missing", "legacy.gone:main", "legacy.gone", "tools/setup.cfg", 7,
                   None),
    )
    assert d.errors == ()


# --------------------------------------------------------------------------------------------
# declaring()
# --------------------------------------------------------------------------------------------


def _decl(*patterns):
    return Declarations(locations=tuple(
        DeclaredLocation(normalize_location(p), "dvc.yaml", i + 1, "dvc-dep")
        for i, p in enumerate(patterns)))


@pytest.mark.parametrize("declared,key,expected", [
    # a declared folder covers everything below it, and only that
    ("data/raw", "data/raw/x.csv", True),
    ("data/raw", "data/raw", True),
    ("data/raw", "data/raw/2024/01/x.csv", True),
    ("data/raw", "data/raw2/x.csv", False),
    ("data/raw", "data", False),
    ("data/raw", "other/data/raw/x.csv", False),
    ("data/raw/", "./data/raw/x.csv", True),
    ("./data//raw", "data/raw/x.csv", True),
    ("data/raw", "data/raw/../raw/x.csv", True),
    ("data/raw", "data\\raw\\x.csv", True),
    # globs on the declared side
    ("data/*.csv", "data/train.csv", True),
    ("data/*.csv", "data/train.parquet", False),
    ("data/*.csv", "data/sub/train.csv", False),
    ("data/**/*.csv", "data/sub/deep/train.csv", True),
    ("data/part_?.csv", "data/part_1.csv", True),
    ("data/[ab].csv", "data/a.csv", True),
    ("data/*", "data/raw/x.csv", True),  # a glob that matches a folder covers below it
    # globs on the key side: "could be the same file" counts as declared
    ("data/train.csv", "data/*.csv", True),
    ("data/train.csv", "data/part_*.csv", False),
    ("data/*.csv", "data/part_*.csv", True),
    ("data/raw", "data/*/x.csv", True),
    ("data/raw/x.csv", "*/x.csv", True),  # a leading unknown segment is an unknown root
    ("data/raw/x.csv", "*/raw/x.csv", True),
    ("data/raw/x.csv", "*/y.csv", False),
    ("**/val.csv", "data/val.csv", True),
    ("**/val.csv", "val.csv", True),
    # URLs
    ("s3://bucket/raw", "s3://bucket/raw/2024/x.parquet", True),
    ("s3://bucket/raw", "s3://bucket/raw2/x.parquet", False),
    ("gcs://bucket/x", "gs://bucket/x/y.csv", True),
    ("s3://bucket/raw/", "s3://bucket//raw/x", True),
    ("s3://bucket/raw", "gs://bucket/raw/x", False),
    ("s3://bucket/raw", "bucket/raw/x", False),
    ("https://example.com/data.zip", "https://example.com/data.zip", True),
    # absolute paths match only themselves
    ("/mnt/data", "/mnt/data/x.csv", True),
    ("/mnt/data", "mnt/data/x.csv", False),
    # a key that is only wildcards says nothing
    ("data/raw", "*", False),
    ("data/raw", "**/*", False),
])
def test_declaring(declared, key, expected):
    hit = _decl(declared).declaring(key)
    assert (hit is not None) is expected, (declared, key, hit)


def test_declaring_prefers_the_most_specific_declaration():
    d = _decl("data", "data/*.csv", "data/raw", "data/raw/x.csv")
    assert d.declaring("data/raw/x.csv").pattern == "data/raw/x.csv"
    assert d.declaring("data/raw/y.csv").pattern == "data/raw"
    assert d.declaring("data/y.csv").pattern == "data/*.csv"
    assert d.declaring("data/z.txt").pattern == "data"
    assert d.declaring("elsewhere/x.csv") is None


def test_whole_root_declarations_are_dropped():
    d = _load({"dvc.yaml": "stages:\n  a:\n    cmd: echo\n    deps: [., '*']\n"
                           "    outs: ['${x}']\n"})
    assert d.locations == ()
    assert d.declaring("anything.csv") is None


# --------------------------------------------------------------------------------------------
# [tool.mldebt.data]
# --------------------------------------------------------------------------------------------


def test_parse_data_settings():
    s = parse_data_settings({
        "declared": ["./data/raw/", "s3://bucket/exports", "data/*.csv"],
        "readers": ["acme.io.load_table", "acme.io.load_blob:uri", "acme.io.read_split:1"],
        "writers": ["acme.io.save_table:1"],
    })
    assert s == DataSettings(
        declared=("data/raw", "s3://bucket/exports", "data/*.csv"),
        readers=(("acme.io.load_table", 0, None), ("acme.io.load_blob", 0, "uri"),
                 ("acme.io.read_split", 1, None)),
        writers=(("acme.io.save_table", 1, None),),
    )
    assert parse_data_settings({}) == DataSettings()


@pytest.mark.parametrize("table,message", [
    ({"reader": []}, "tool.mldebt.data.reader: unknown key (did you mean 'readers'?)"),
    ({"declard": []}, "did you mean 'declared'?"),
    ({"readers": "acme.load"}, "tool.mldebt.data.readers: expected a list of strings, got str"),
    ({"readers": ["acme.load", 3]}, "tool.mldebt.data.readers[1]: expected a string, got int"),
    ({"readers": ["ok.fn", "not a name"]}, "tool.mldebt.data.readers[1]: 'not a name'"),
    ({"writers": ["acme.save:-1"]}, "tool.mldebt.data.writers[0]: 'acme.save:-1': after ':'"),
    ({"writers": ["acme.save:"]}, "tool.mldebt.data.writers[0]"),
    ({"declared": ["data", ""]}, "tool.mldebt.data.declared[1]: empty string"),
    ({"declared": ["**"]}, "tool.mldebt.data.declared[0]: '**' would declare everything"),
    ("data/raw", "tool.mldebt.data: expected a table, got str"),
])
def test_parse_data_settings_errors(table, message):
    with pytest.raises(ValueError) as info:
        parse_data_settings(table)
    text = str(info.value)
    assert message in text and "\n" not in text, text


def test_settings_declared_locations_are_declarations():
    data = parse_data_settings({"declared": ["data/external", "s3://acme/lake"]})
    d = _load({}, data=data)
    assert d.locations == (DeclaredLocation("data/external", "pyproject.toml", 0, "mldebt"),
                           DeclaredLocation("s3://acme/lake", "pyproject.toml", 0, "mldebt"))
    assert d.declaring("s3://acme/lake/events/2024.parquet").kind == "mldebt"


# --------------------------------------------------------------------------------------------
# Determinism, cost
# --------------------------------------------------------------------------------------------


def test_output_is_sorted_and_independent_of_input_order():
    texts = {"dvc.yaml": DVC_YAML, "params.yaml": PARAMS_YAML, "Makefile": MAKEFILE,
             "reports/run_eval.sh": RUN_EVAL_SH, "configs/config.yaml": HYDRA_CONFIG,
             "conf/base/catalog.yml": KEDRO_CATALOG}
    a = load_declarations(texts, DVC_PY + MAKE_PY, NO_DATA)
    b = load_declarations(dict(reversed(list(texts.items()))), list(reversed(DVC_PY + MAKE_PY)),
                          NO_DATA)
    assert a == b
    assert list(a.locations) == sorted(a.locations, key=lambda x: (x.source, x.line, x.pattern,
                                                                   x.kind))
    assert len(set(a.locations)) == len(a.locations)


def test_hundreds_of_yaml_files_load_quickly():
    texts = {f"configs/exp{i:03d}.yaml": HYDRA_CONFIG for i in range(300)}
    texts.update({f"conf/e{i}/catalog.yml": KEDRO_CATALOG for i in range(100)})
    start = time.perf_counter()
    d = load_declarations(texts, [], NO_DATA)
    elapsed = time.perf_counter() - start
    assert len(d.files) == 400
    assert elapsed < 5, elapsed
    start = time.perf_counter()
    for i in range(2000):
        d.declaring(f"data/mnist/file_{i}.csv")
        d.declaring(f"elsewhere/{i}/*.csv")
    assert time.perf_counter() - start < 5


# --------------------------------------------------------------------------------------------
# Reading files, listing them
# --------------------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")


def test_read_declaration_files_on_a_tree(tmp_path):
    root = tmp_path / "proj"
    _write(root, {
        "dvc.yaml": "\ufeffstages:\n  a:\n    cmd: python a.py\n    deps: [data/in.csv]\n",
        "a.py": "",
        "configs/big.yaml": "x: data/y.csv\n" * 100,
        "conf/base/catalog.yml": "x:\n  filepath: " + "d" * 300 + ".csv\n",
        "configs/latin1.yaml": "name: caf\xe9\n".encode("latin-1"),
    })
    (tmp_path / "secret.yaml").write_text("k: v\n", encoding="utf-8")
    (root / "configs" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    paths = ["dvc.yaml", "configs/big.yaml", "conf/base/catalog.yml", "configs/latin1.yaml",
             "configs/link.yaml", "configs/missing.yaml"]
    texts, errors = read_declaration_files(root, paths, max_bytes=200)
    assert sorted(texts) == ["dvc.yaml"]
    assert texts["dvc.yaml"].startswith("stages:")  # BOM dropped
    messages = dict(errors)
    assert set(messages) == {"conf/base/catalog.yml", "configs/latin1.yaml", "configs/link.yaml",
                             "configs/missing.yaml"}  # big generic YAML: skipped silently
    assert messages["conf/base/catalog.yml"].startswith("too big to read")
    assert "not UTF-8" in messages["configs/latin1.yaml"]
    assert "outside the project root" in messages["configs/link.yaml"]
    assert messages["configs/missing.yaml"].startswith("cannot read")
    d = load_declarations(texts, ["a.py"], NO_DATA, errors)
    assert d.errors == tuple(sorted(errors))
    assert _stage(d, "a").scripts == ("a.py",)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _excluded(patterns=DEFAULT_EXCLUDE):
    return lambda rel: any(path_matches(rel, p) for p in patterns)


def test_non_source_files_honour_gitignore_in_a_git_repo(tmp_path):
    _write(tmp_path, {
        "train.py": "", "dvc.yaml": "stages: {}\n", "params.yaml": "", "Makefile": "",
        ".gitignore": "/data/\noutputs/\n*.log\n", "data/raw/x.csv": "a\n",
        "outputs/run/config.yaml": "", "train.log": "", "conf/base/catalog.yml": "",
        "conf/local/.gitignore": "*\n!.gitignore\n", "conf/local/credentials.yml": "",
        "venv/pyvenv.cfg": "", ".venv/lib/site.yaml": "", "scripts/run.sh": "",
    })
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "train.py", "dvc.yaml")
    listing = non_source_files(tmp_path, _excluded())
    assert listing == (".gitignore", "Makefile", "conf/base/catalog.yml", "conf/local/.gitignore",
                       "dvc.yaml", "params.yaml", "scripts/run.sh")
    assert non_source_files(tmp_path, _excluded(), wanted=lambda p: declaration_kind(p)
                            is not None) == ("Makefile", "conf/base/catalog.yml", "dvc.yaml",
                                             "params.yaml", "scripts/run.sh")


def test_non_source_files_outside_git_walk_and_prune(tmp_path):
    _write(tmp_path, {"a.py": "", "dvc.yaml": "", "pkg/__pycache__/x.yaml": "",
                      "myenv/pyvenv.cfg": "", "myenv/conf.yaml": "", "data/x.csv": "",
                      "build/params.yaml": ""})
    assert non_source_files(tmp_path, _excluded()) == ("data/x.csv", "dvc.yaml")
