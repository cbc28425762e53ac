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
            one_step_n_r=25, momentum_depths=(2,), momentum_beta=0.9, momentum_steps=150, pdf=False, mode="quick")


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


def test_momentum_figure_gd_phi_never_rises_and_runs_share_steps(outputs):
    """Kreisler et al.'s theorem on the GD run of the momentum figure; the momentum runs are only measured."""
    from gdsim.scalar import gd, gfs_sharpness

    out, _ = outputs
    d = np.load(out / "kreisler2023_momentum.npz")
    w0, r, _ = next(run for run in kr.TEASER_RUNS if len(run[0]) == 2)
    eta = 2 * r / float(gfs_sharpness(w0))
    phi = d["D2_gd_gfs_sharpness"]
    assert phi.size == TINY["momentum_steps"] + 1 and np.all(np.isfinite(phi))
    # GD's phi is non-increasing (the theorem); 1e-9: the engine's numerical GFS is ~1e-10 relative
    assert np.all(phi[1:] <= phi[:-1] * (1 + 1e-9))
    assert int(d["D2_gd_rises"]) == 0
    # the same GD run by the scalar package's closed-form GFS (an independent path)
    ref = gd(w0, eta, TINY["momentum_steps"], progress=False)
    np.testing.assert_allclose(phi, ref.gfs_sharpness, rtol=1e-8)
    assert phi[-1] < 2 / eta  # the run ends below the GD stability threshold
    for key in ("heavy_ball", "nesterov", "heavy_ball_scaled", "nesterov_scaled"):
        np.testing.assert_array_equal(d[f"D2_{key}_t"], d["D2_gd_t"])  # recorded at the same steps
        loss, p = d[f"D2_{key}_loss"], d[f"D2_{key}_gfs_sharpness"]
        if bool(d[f"D2_{key}_diverged"]):
            k = int(d[f"D2_{key}_diverged_step"])
            assert 0 < k <= TINY["momentum_steps"] and np.all(np.isfinite(p[:k]))
        else:
            assert np.all(np.isfinite(loss)) and np.all(np.isfinite(p)) and np.all(p > 0)
            assert int(d[f"D2_{key}_rises"]) == int(np.sum(p[1:] > p[:-1] * (1 + kr.MOMENTUM_RISE_TOL)))


def test_cli_list_cite_info(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "kreisler2023_gfs_sharpness" in out
    # the total is the sum of the per-reproduction runtimes it lists (none typed by hand)
    import re
    listed = [float(x) for x in re.findall(r"runtime: ([0-9.]+) s measured", out)]
    total = re.search(r"total measured: ([0-9.]+) min for (\d+) of", out)
    assert total and int(total.group(2)) == len(listed)
    assert abs(float(total.group(1)) - sum(listed) / 60) <= 0.05 + 0.5 * len(listed) / 60  # rounding of each
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
