"""Labelled results: every family's Result names its dims, converts to xarray, and keeps its dims on disk.

Also the lazy observables of scalar GD: computed on first access from the recorded weights, they must
equal, bit for bit, the ones computed during the run (observe=...).
"""

import numpy as np
import pytest

import gdsim.games as gg
import gdsim.langevin as gl
import gdsim.particles as gp
import gdsim.scalar as sc
import gdsim.sensing as gs
from gdsim import Result


def _prob():
    return gs.make_problem(6, 2, spectrum=[2.0, 1.0], measurements=40, seed=0)


FAMILY_CALLS = {
    "scalar.gd": lambda: sc.gd(np.full((3, 2, 4), 1.1), 0.1, 4, record_every=2),
    "scalar.squared_regression.gd": lambda: sc.squared_regression.gd(
        np.full((2, 3), 0.5), 0.05, 3, X=np.eye(3)[:2], y=np.ones(2)),
    "sensing.gd": lambda: gs.gd(_prob(), 3, [1e-3, 1e-2], 5, lr=0.1, seed=0, record_every=2),
    "sensing.scaled_gd": lambda: gs.scaled_gd(_prob(), 3, [1e-3], 4, lr=0.1, lam=1e-3, seed=0),
    "sensing.asymmetric_gd": lambda: gs.asymmetric_gd(np.diag([1.0, 0.5, 0, 0, 0, 0]), 3, [0.1, 0.2], 4,
                                                      lr=0.1, seed=0),
    "games.entropic_equilibrium": lambda: gg.entropic_equilibrium(gg.payoff_t1(), 1.0, M=16),
    "games.mean_field_pde": lambda: gg.mean_field_pde(gg.payoff_t1(), 1.0, 1.0, 0.01, M=16, n_records=3),
    "games.particle_gda": lambda: gg.particle_gda(gg.payoff_t1(), 1.0, 1.0, 0.01, n_x=8, dt=2e-4, runs=2, seed=0,
                                                  n_records=3, ni_grid=8),
    "particles.particle_gd": lambda: gp.particle_gd(np.zeros((2, 5)), "energy_uniform", 10, seed=0),
    "particles.interaction": lambda: gp.particle_gd(np.zeros((2, 4, 2)) + np.arange(4)[:, None] / 4, "interaction",
                                                    5, seed=0),
    "langevin.dyson_ou": lambda: gl.dyson_ou(2, 1.0, runs=3, steps=2, seed=0),
    "langevin.teacher_student_2x2": lambda: gl.teacher_student_2x2(0.1, 1.0, 2, steps=2, runs=3, seed=0),
    "langevin.park_network_sgd": lambda: gl.park_network_sgd([0.1, 0.2], 1.0, epochs=1, n_samples=8, width=4, seed=0),
    "langevin.perceptron_sgd": lambda: gl.perceptron_sgd([0.1, 0.2], 8, runs=2, seed=0, max_epochs=3),
    "langevin.mlp_sgd": lambda: gl.mlp_sgd([0.1, 0.2], 1.0, n_samples=16, width=4, runs=2, seed=0, max_epochs=2),
}


@pytest.mark.parametrize("name", sorted(FAMILY_CALLS))
def test_every_family_result_has_named_dims_and_converts_to_xarray(name, tmp_path):
    res = FAMILY_CALLS[name]()
    assert isinstance(res, Result)
    ds = res.to_xarray()
    unnamed = [d for d in ds.dims if "_dim_" in str(d)]
    assert not unnamed, f"{name}: dims without a name: {unnamed}"
    for key in res.keys():
        assert key in ds.variables
        np.testing.assert_array_equal(ds[key].values, res[key])
    back = Result.load(res.save(tmp_path / "r"))
    assert back.dims == res.dims
    xr_back = back.to_xarray()
    assert set(xr_back.dims) == set(ds.dims)


def test_recorded_step_is_one_dim_name_across_families():
    """The time axis has one name: every result with records has the dim ``step``."""
    for name in ("scalar.gd", "sensing.gd", "games.particle_gda", "games.mean_field_pde", "particles.particle_gd"):
        assert "step" in FAMILY_CALLS[name]().to_xarray().dims, name


def test_sel_by_recorded_step():
    ds = sc.gd(np.full((3, 4), 1.1), 0.1, 4, record_every=2).to_xarray()
    np.testing.assert_array_equal(ds.sel(t=4)["loss"].values, ds["loss"].values[-1])


@pytest.mark.parametrize("parallel", [False, True])
def test_lazy_observables_equal_eager_ones_bitwise(parallel):
    rng = np.random.default_rng(3)
    w0 = rng.uniform(0.6, 1.4, size=(300, 3))
    eta = rng.uniform(0.05, 0.6, size=300)
    lazy = sc.gd(w0, eta, 50, record_every=10, parallel=parallel)
    eager = sc.gd(w0, eta, 50, record_every=10, parallel=parallel,
                  observe=("loss", "sharpness", "gfs_sharpness"))
    assert "sharpness" in lazy and "sharpness" in lazy.keys()
    for name in ("loss", "sharpness", "gfs_sharpness"):
        np.testing.assert_array_equal(lazy[name], eager[name])
    np.testing.assert_array_equal(lazy.sharpness[0], sc.sharpness(w0))


def test_observe_is_validated():
    with pytest.raises(ValueError, match="observe"):
        sc.gd([1.0, 1.0], 0.1, 2, observe=("hessian",))
    with pytest.raises(TypeError, match="observe"):
        sc.gd([1.0, 1.0], 0.1, 2, observe=3)


def test_result_rejects_dims_of_the_wrong_length():
    with pytest.raises(ValueError, match="dims of 'a'"):
        Result({"a": np.zeros((2, 3))}, dims={"a": ("x",)})


@pytest.mark.parametrize("name", sorted(FAMILY_CALLS))
def test_same_seed_same_bits_with_one_and_two_threads(name):
    """Every family: the numbers do not depend on the Numba thread count."""
    import numba

    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = FAMILY_CALLS[name]()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = FAMILY_CALLS[name]()
    finally:
        numba.set_num_threads(old)
    assert numba.config.NUMBA_NUM_THREADS >= 2
    for key in one.keys():
        np.testing.assert_array_equal(one[key], two[key], err_msg=f"{name}: {key}")
