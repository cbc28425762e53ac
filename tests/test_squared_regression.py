"""Squared regression model f(x; w) = <w*w, x> (spec gfs_sharpness.md section 5.1, check C13)."""

import numpy as np
import pytest

from gdsim.scalar import squared_regression as sr
from tests import naive


@pytest.fixture(scope="module")
def instance():
    return sr.reference_instance()


def test_c13_reference_instance(instance):
    X, y, w0 = instance
    phi0 = sr.gfs_sharpness(w0, X=X, y=y)
    assert phi0 == pytest.approx(4.805524, rel=1e-5)
    eta = 2 * 1.2 / phi0
    res = sr.gd(w0, eta, 400, X=X, y=y)
    phi = res.gfs_sharpness
    assert np.all(phi[1:] <= phi[:-1] * (1 + 1e-9))  # dual Newton noise ~1e-13 (spec: slack 1e-9)
    assert np.sum(np.diff(res.loss[:150]) > 0) >= 1  # the loss is not monotone
    assert res.sharpness[-1] == pytest.approx(3.709428, rel=1e-5)
    assert res.sharpness[-1] <= 2 / eta


def test_gfs_matches_integrated_gradient_flow(instance):
    X, y, w0 = instance
    rng = np.random.default_rng(3)
    for w in (w0, rng.uniform(0.3, 1.2, size=12)):
        end = naive.sqreg_gradient_flow(w, X, y)
        np.testing.assert_allclose(sr.gfs(w, X=X, y=y), end, rtol=1e-6, atol=1e-7)
        expected = np.linalg.eigvalsh(naive.sqreg_hessian(end, X, y))[-1]
        assert sr.gfs_sharpness(w, X=X, y=y) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("parallel", [False, True])
def test_gd_matches_oracle(instance, parallel):
    X, y, _ = instance
    rng = np.random.default_rng(4)
    w0 = rng.uniform(0.4, 1.0, size=(5, 12))
    eta = rng.uniform(0.05, 0.2, size=5)
    res = sr.gd(w0, eta, 30, X=X, y=y, record_every=10, parallel=parallel)
    for j in range(5):
        traj = naive.sqreg_gd(w0[j], eta[j], 30, X, y)[::10]
        np.testing.assert_allclose(res.w[:, j], traj, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.sharpness[:, j], [np.linalg.eigvalsh(naive.sqreg_hessian(x, X, y))[-1]
                                                         for x in traj], rtol=1e-10)


def test_divergence_recorded(instance):
    X, y, w0 = instance
    res = sr.gd(np.stack([w0, w0]), [5.0, 0.1], 100, X=X, y=y, record_every=50)
    np.testing.assert_array_equal(res.diverged, [True, False])


def test_bad_input(instance):
    X, y, w0 = instance
    with pytest.raises(ValueError, match="y"):
        sr.gd(w0, 0.1, 1, X=X, y=y[:-1])
    with pytest.raises(ValueError, match="w0"):
        sr.gd(w0[:-1], 0.1, 1, X=X, y=y)
    with pytest.raises(ValueError, match="X"):
        sr.gd(w0, 0.1, 1, X=X[0], y=y)
    with pytest.raises(ValueError, match="lr"):
        sr.gd(w0, 0.0, 1, X=X, y=y)
