"""``gdsim repro NAME`` works after a plain (not editable) ``pip install .`` of the tracked files.

The reproductions are found through the ``gdsim.reproductions`` entry points, so an installed copy
must carry ``paper_repro`` and find it from any working directory (no reliance on the checkout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.mark.slow
def test_plain_install_runs_a_reproduction_from_elsewhere(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    src = _tracked_copy(tmp_path / "src")
    env_dir = tmp_path / "venv"
    # system site packages give the dependencies (offline); gdsim itself comes only from the copy
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "."],
                   cwd=src, check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    where = subprocess.run([str(py), "-c", "import gdsim, paper_repro; print(gdsim.__file__, paper_repro.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in where and str(env_dir) in where  # the installed copy, not the checkout
    gdsim_cli = env_dir / "bin" / "gdsim"
    listed = subprocess.run([str(gdsim_cli), "list"], cwd=work, env=env, capture_output=True, text=True, check=True)
    assert "daneshmand2023_particle_gd" in listed.stdout and "park2025_sgd_phase_diagram" in listed.stdout
    # the cheapest quick reproduction (about 20 s): the point is the install, not the science
    run = subprocess.run([str(gdsim_cli), "repro", "park2025_sgd_phase_diagram", "--quick", "--out", "out",
                          "--no-progress"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(list((work / "out").glob("park2025_*.png"))) == 5
