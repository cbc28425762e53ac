"""The Park et al. and Sclocchi et al. reproductions on tiny configs: figures written, numbers sane."""

import numpy as np
import pytest

from paper_repro import park2025_sgd_phase_diagram as pk
from paper_repro import sclocchi2023_sgd_noise as sc


@pytest.fixture(scope="module")
def park_outputs(tmp_path_factory, monkeypatch_module):
    out = tmp_path_factory.mktemp("park")
    cfg = dict(epochs=2, seeds=1, dyson_chains=300, dyson_steps=100, pdf=False, store=None)
    return out, pk.main(cfg, out=out, seed=5)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    # a 3 x 3 corner of the paper's grid keeps the test short (the full 12 x 12 grid is the quick tier)
    mp.setattr(pk, "TS", 2.0 ** np.array([-5, 2, 6]))
    mp.setattr(pk, "INV_SIGMA", 2.0 ** np.array([-8, 0, 3]))
    yield mp
    mp.undo()


def test_park_figures_and_numbers(park_outputs, monkeypatch_module):
    out, paths = park_outputs
    assert set(paths) == set(pk.FIGURES)
    for files in paths.values():
        assert {".png", ".npz", ".json"} <= {p.suffix for p in files}
    d = np.load(out / "park2025_maps.npz")
    assert d["test_mse"].shape == (3, 3, 1)
    assert d["x_max"][0, 0, 0] > d["x_max"][2, 0, 0]  # large sigma_W: frozen, huge initial spectrum
    dy = np.load(out / "park2025_dyson.npz")
    np.testing.assert_allclose(dy["S_A"], np.sqrt(np.pi) * dy["sigma_d_A"], rtol=0.1)


def test_sclocchi_figures_and_numbers(tmp_path):
    cfg = dict(d=16, seeds=3, Ps_chi1=(64, 128, 256), Ps_chi0=(16, 32, 64), Ts=(1.0, 4.0), map_Ts=(0.5, 2.0, 8.0),
               mlp_alphas=(1.0, 100.0), mlp_Ts=(0.01, 1.0), mlp_P=32, mlp_seeds=1, mlp_epochs=20, cross_alpha=100.0,
               cross_Ps=(64, 256), cross_Ts=(1e-4, 10**-3.5, 1e-3, 10**-2.5), cross_seeds=3, cross_epochs=1500,
               real_data="digits", real_Ps=(64, 256), real_Ts=(1e-3, 1e-2), real_seeds=1, real_epochs=200,
               pdf=False, store=None)
    paths = sc.main(cfg, out=tmp_path, seed=2)
    assert set(paths) == set(sc.FIGURES)
    d = np.load(tmp_path / "sclocchi2023_signal.npz")
    assert d["converged_chi1"] == 1.0 and d["converged_chi0"] == 1.0
    assert np.all(d["w1_chi1"][1] > d["w1_chi1"][0])  # more noise, more weight change
    m = np.load(tmp_path / "sclocchi2023_mlp_map.npz")
    assert m["diverged"][1, 1] == 1.0  # eta = T alpha h B = 6400: diverges, recorded
    c = np.load(tmp_path / "sclocchi2023_crossover.npz")
    assert np.all(np.isfinite(c["T_c"]))
    # the paper's claim T_c ~ P^-a, a > 0: the quick tier measures T_c(64) / T_c(256) = 2.5 (a = 0.86 over
    # P = 64..1024); a factor 1.3 leaves room for 3 seeds
    assert c["T_c"][0] > 1.3 * c["T_c"][1]
    lazy = c["weight_change"][0]
    assert np.all(lazy < sc.CROSSOVER_CHANGE)  # lowest T: still in the kernel regime at both P


def test_sclocchi_real_data_crossover_falls_with_P():
    # the quick tier's digits-parity grid (P = 64..1024, 7 temperatures, 3 seeds); reference run: T_c = 3.8e-3,
    # 3.1e-3, 2.6e-3, 2.0e-3, 1.6e-3 (a = 0.33)
    d = sc.crossover_data(sc.QUICK, seed=20230722, data="digits")
    ok = np.isfinite(d["T_c"])
    assert ok.sum() >= 4
    # the paper's claim on real data: T_c decreases with P over the range run (every consecutive measured pair)
    assert np.all(np.diff(d["T_c"][ok]) < 0)
    assert 0.1 < d["a"] < 1.0  # a power law with a positive exponent (measured 0.33; the stripe task gives 0.83)


def test_mlp_sgd_on_a_data_pool_is_seeded_per_run():
    import gdsim.langevin as gl

    X, y, Xt, yt = sc.parity_data("digits")
    kw = dict(n_samples=64, d=64, width=16, batch_size=8, runs=2, max_epochs=50, data=(X, y, Xt, yt))
    a = gl.mlp_sgd([1.0, 10.0], 1e-3, seed=5, **kw)
    from gdsim._core.rng import as_seed_sequence, child_seed

    b = gl.mlp_sgd([10.0], 1e-3, seed=[child_seed(as_seed_sequence(5), k) for k in (2, 3)], **kw)
    np.testing.assert_array_equal(a.rel_weight_change[1], b.rel_weight_change[0])  # a run depends on its seed only
    assert np.all(np.isfinite(a.test_error)) and np.all(a.test_error < 0.5)
    with pytest.raises(ValueError, match="data"):
        gl.mlp_sgd(1.0, 1e-3, n_samples=64, d=10, data=(X, y, Xt, yt))  # d must match the data
    with pytest.raises(ValueError, match="data"):
        gl.mlp_sgd(1.0, 1e-3, n_samples=64, d=64, data=(X, y + 1, Xt, yt))
    with pytest.raises(TypeError, match="data"):
        gl.mlp_sgd(1.0, 1e-3, n_samples=64, d=64, data=X)


def test_crossing_temperature_interpolates_in_log_log():
    T = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    assert sc.crossing_temperature(T, 10 * T, 0.05) == pytest.approx(5e-3, rel=1e-12)  # power law: exact
    assert sc.crossing_temperature(T, [np.nan, 0.01, 0.1, 1.0], 0.5) == pytest.approx(0.05, rel=1e-12)  # skips lead NaN
    assert np.isnan(sc.crossing_temperature(T, [0.6, 1, 2, 3], 0.5))  # starts above: no crossing
    assert np.isnan(sc.crossing_temperature(T, [0.1, np.nan, 2, 3], 0.5))  # a gap ends the search


def test_park_grid_resumes_an_interrupted_store(tmp_path):
    """The full tier's grid is a sweep: a store left after 2 chunks (as by a kill) is completed by the next
    call, and the result equals an uninterrupted run. (The grid is whatever this module's fixture left:
    its monkeypatch shrinks it to 3 x 3 for the other tests.)"""
    from gdsim.sweep import run as run_sweep
    from gdsim.sweep import status

    cfg = dict(epochs=1, seeds=1, store=str(tmp_path / "grid.zarr"))
    run_sweep(pk.grid_sweep(cfg, 5), cfg["store"], max_chunks=2, progress=False, verbose=False)
    before = status(cfg["store"])
    assert before["chunks_done"] == 2 and before["chunks_total"] > 2
    resumed = pk.grid_data(cfg, 5)
    assert status(cfg["store"])["complete"]
    fresh = pk.grid_data(dict(cfg, store=None), 5)
    for name in ("test_mse", "q", "x", "phase"):
        np.testing.assert_array_equal(resumed[name], fresh[name])
