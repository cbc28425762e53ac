"""The Lu (2023) reproduction on a tiny config: every figure written, the numbers behind them sane."""

import numpy as np
import pytest

from paper_repro import lu2023_mean_field_gda as lu

TINY = dict(a_M=32, a_T=3.0, b_M=16, b_T=1.0, b_etas=(0.01, 10.0), c_ns=(100, 300), c_hs=(5e-4, 2.5e-4),
            c_seeds=2, c_T=0.5, d_T=1.0, d_n=300, e_taus=(1.0, 0.5), pdf=False, c_store=None)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    return out, lu.main(TINY, out=out, seed=2)


def test_every_figure_written_with_its_data(outputs):
    out, paths = outputs
    assert set(paths) == set(lu.FIGURES)
    for files in paths.values():
        assert {".png", ".npz", ".json"} <= {p.suffix for p in files}


def test_numbers_behind_the_figures(outputs):
    out, _ = outputs
    a = np.load(out / "lu2023_two_scale.npz")
    assert a["ni_tau_eta10"][-1] < a["ni_tau_eta1"][-1] < a["ni_tau_eta0.1"][-1]  # larger eta, faster
    b = np.load(out / "lu2023_lyapunov.npz")
    assert b["monotone"][0, -1].all() and b["monotone"][1, 0].all()  # eta = 10: L; eta = 0.01: L'
    c = np.load(out / "lu2023_particles.npz")
    assert c["error"].shape == (2, 2, 2) and np.all(c["ni0"] > c["ni0_star"] - 0.3)
    e = np.load(out / "lu2023_bias.npz")
    assert np.all(np.diff(e["ni0_t1"]) < 0) and np.all(e["ni0_t3"] > 0)
