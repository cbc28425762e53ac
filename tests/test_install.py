"""``gdsim repro NAME`` works after a plain (not editable) ``pip install .`` of the tracked files.

The reproductions are found through the ``gdsim.reproductions`` entry points, so an installed copy
must carry ``paper_repro`` and find it from any working directory (no reliance on the checkout)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
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


def _outer_site_dirs() -> list[str]:
    """The site directories of the interpreter running the suite (a venv's, or the base one's)."""
    paths = sysconfig.get_paths()
    dirs = [paths["purelib"], paths["platlib"]]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return list(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


@pytest.mark.slow
def test_plain_install_runs_a_reproduction_from_elsewhere(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    src = _tracked_copy(tmp_path / "src")
    # A wheel of the tracked files, built offline by the suite's own interpreter: the build backend
    # (setuptools, wheel) comes with the project's test extra, never from the network.
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(wheels), str(src)], check=True, capture_output=True)
    wheel, = wheels.glob("gdsim-*.whl")
    env_dir = tmp_path / "venv"
    # The dependencies come from the environment this suite runs in, not from the base interpreter: a
    # nested venv's "system site packages" are the *base* interpreter's, which on a fresh machine has
    # nothing installed (issue 33). A .pth line adds the outer site directories *after* the venv's own;
    # it does not process the .pth files inside them, so the outer editable gdsim stays invisible and
    # gdsim can come only from the wheel.
    venv.create(env_dir, system_site_packages=False, with_pip=True)
    py = env_dir / "bin" / "python"
    inner_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    Path(inner_site, "_gdsim_test_outer_env.pth").write_text("\n".join(_outer_site_dirs()) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
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
