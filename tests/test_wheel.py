"""The built wheel carries the rule catalog: install it in a fresh venv outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_the_catalog_and_runs_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel = next(dist.glob("mldebt-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    catalog_files = sorted(n for n in names if n.startswith("mldebt/_catalog/"))
    expected = sorted(f"mldebt/_catalog/{p.name}" for p in (ROOT / "rules").glob("*.yaml"))
    assert catalog_files == expected
    assert "mldebt/schemas/report-v1.schema.json" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run([str(env_dir / "bin" / "mldebt"), "rules"], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env=clean_env)
    for path in (ROOT / "rules").glob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("- code:"):
                assert line.split(":", 1)[1].strip() in out.stdout
    where = subprocess.run([str(py), "-c", "from mldebt.catalog import catalog_dir; print(catalog_dir())"],
                           check=True, capture_output=True, text=True, cwd=tmp_path, env=clean_env).stdout.strip()
    assert str(env_dir) in where and where.endswith("_catalog")
    assert not where.startswith(str(ROOT))
