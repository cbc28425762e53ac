"""The CLI and the reproduction of Kreisler et al. (numbers behind the figures, not pixels)."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gdsim import repro
from gdsim.cli import main
from paper_repro import kreisler2023_gfs_sharpness as kr

REPO = Path(__file__).resolve().parents[1]

TINY = dict(depths=(2, 3), map_n_eta=12, map_n_phi=10, map_steps=20_000, one_step_states=600,
            one_step_n_r=25, pdf=False, mode="quick")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    paths = kr.main(TINY, out=out, seed=1)
    return out, paths


def test_every_figure_written_with_its_data(outputs):
    out, paths = outputs
    assert set(paths) == set(kr.FIGURES)
    for files in paths.values():
        suffixes = {p.suffix for p in files}
        assert {".png", ".npz", ".json"} <= suffixes
        for p in files:
            assert p.exists() and p.stat().st_size > 0


def test_one_step_threshold_is_sqrt2_for_depth_2(outputs):
    out, _ = outputs
    data = np.load(out / "kreisler2023_one_step.npz")
    r, frac = data["r"], data["fraction_increased"][0]
    assert np.all(frac[r < math.sqrt(2)] == 0)  # exact criterion for prod(w) in (0, 2)
    assert np.all(frac[r > 1.6] > 0)


def test_eos_map_regions(outputs):
    out, _ = outputs
    d = np.load(out / "kreisler2023_eos_map.npz")
    x, y = np.meshgrid(d["eta_D_over_2"], d["phi0_over_D"])
    for final, status in zip(d["final_sharpness_eta_over_2"], d["status"]):
        assert np.all(status[x > 1] != 0)  # 2/eta < D: never converges
        conv = status == 0
        assert conv.sum() > 20
        assert np.all(final[conv] <= 1 + 1e-9)  # S_inf <= 2/eta
        gf = conv & (y < 0.8 / x)  # phi0 < 0.8 (2/eta): GD tracks gradient flow, S_inf ~ phi0
        np.testing.assert_allclose(final[gf], (y * x)[gf], rtol=0.05)
        assert np.all(final[gf] <= (y * x)[gf] * (1 + 1e-9))  # S_inf <= phi0


def test_cli_list_cite_info(capsys):
    assert main(["list"]) == 0
    assert "kreisler2023_gfs_sharpness" in capsys.readouterr().out
    assert main(["cite", "kreisler2023_gfs_sharpness"]) == 0
    assert "2305.13064" in capsys.readouterr().out
    assert main(["info"]) == 0
    assert "numba threads" in capsys.readouterr().out


def test_cli_rejects_unknown_reproduction(capsys):
    assert main(["repro", "no_such_paper"]) == 2
    assert "unknown reproduction" in capsys.readouterr().err


def test_script_entry_point_help():
    proc = subprocess.run([sys.executable, str(REPO / "paper_repro" / "kreisler2023_gfs_sharpness.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--quick" in proc.stdout


def test_every_reproduction_script_is_registered():
    # gdsim discovers reproductions through the pyproject entry points only; a script missing there would
    # silently drop out of `gdsim repro all`
    scripts = {p.stem for p in (Path(__file__).resolve().parents[1] / "paper_repro").glob("*.py")
               if not p.stem.startswith("_")}
    assert set(repro.names()) == scripts


def test_registry_modules_are_complete():
    for name in repro.names():
        m = repro.load(name)
        for attr in ("NAME", "TITLE", "BIBTEX", "FIGURES", "RUNTIME", "QUICK", "FULL", "main"):
            assert hasattr(m, attr), f"{name} lacks {attr}"
        assert m.NAME == name
