"""The Jin et al. reproduction on a tiny config: every figure written, the numbers behind them sane."""

import numpy as np
import pytest

from paper_repro import jin2023_incremental_learning as jn

TINY = dict(ground_truth="uniform_fig", fig1_steps=(20, 20, 20, 60, 60, 60), fig2_steps=60,
            plateau_alphas=(1e-2, 1e-4, 1e-6), xiong_steps=2000, xu_n=12, xu_m=200, xu_steps=60,
            xu_dtype="float64", xu_kappas=(3, 5), pdf=False)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    return out, jn.main(TINY, out=out, seed=3)


def test_every_figure_written_with_its_data(outputs):
    out, paths = outputs
    assert set(paths) == set(jn.FIGURES)
    for files in paths.values():
        assert {".png", ".npz", ".json"} <= {p.suffix for p in files}


def test_numbers_behind_the_figures(outputs):
    out, _ = outputs
    f1 = np.load(out / "jin2023_fig1.npz")
    assert np.all(np.diff(f1["eigvals_m1000"]) <= 0) and f1["eigvals_m1000"][0] > 5 * f1["eigvals_m1000"][1]
    assert f1["errors_0"][-1].max() < f1["errors_0"][0].min()  # alpha = 1: all errors fall together
    pl = np.load(out / "jin2023_plateaus.npz")
    x = np.log(1 / pl["alphas"])
    slope = np.polyfit(x, pl["tau_full"][:, 0], 1)[0]
    assert abs(slope * np.log(1 + 0.05 * pl["lam_full"][0]) - 1) < 0.03
    xu = np.load(out / "jin2023_xu.npz")
    assert np.nanmax(xu["iterations_scaled"]) / np.nanmin(xu["iterations_scaled"]) <= 1.3
