"""Exact GFS and sharpness of scalar networks (spec gfs_sharpness.md sections 3.3, 4.3 item 1, checks C1-C4, C11)."""

import numpy as np
import pytest

import gdsim.scalar as sc
from gdsim.scalar import _kernels
from tests import naive

# C1 reference values [REF-RUN, spec table C1]; asserted to 1e-6 absolute as the spec states.
C1_VALUES = [
    ((1.5, 0.4), 2.892767),
    ((-1.0, 0.5, 2.0), 5.25),
    ((0.5, 1.5, 1.2), 4.513471),
    ((1.0, 1.0, 1.0, 1.0), 4.0),
    ((0.4, 0.9, 1.3, 1.8), 6.924638),
    ((0.6, 0.7, 1.0, 1.6, 1.9), 7.584753),
]


@pytest.mark.parametrize("w, phi", C1_VALUES)
def test_c1_reference_values(w, phi):
    assert sc.gfs_sharpness(w) == pytest.approx(phi, abs=1e-6)


def test_c1_sign_flip_point():
    # (-1, 0.5, 2): prod < 0, so gradient flow sends the smallest weight (0.5) through zero; c = 0.
    np.testing.assert_allclose(sc.gfs([-1.0, 0.5, 2.0]), [-1.0, -0.5, 2.0], rtol=1e-14)


@pytest.mark.parametrize("D", [2, 3, 4, 5, 6])
def test_gfs_matches_integrated_gradient_flow(D):
    """Closed form vs DOP853 (rtol 1e-11): the spec asks 1e-8 relative on phi."""
    rng = np.random.default_rng(100 + D)
    for _ in range(4):
        w = rng.uniform(0.3, 1.8, size=D) * rng.choice([-1.0, 1.0], size=D)
        w_end = naive.scalar_gradient_flow(w)
        assert abs(np.prod(w_end) - 1) < 1e-9, "ODE did not reach a minimiser"
        np.testing.assert_allclose(sc.gfs(w), w_end, rtol=1e-8, atol=1e-9)
        assert sc.gfs_sharpness(w) == pytest.approx(naive.scalar_sharpness(w_end), rel=1e-8)


def test_c2_d2_formula_general_ab():
    w = (1.5, 0.4)
    a, b = 2.0, 3.0
    closed = a * np.sqrt((w[0] ** 2 - w[1] ** 2) ** 2 + 4 * b * b)
    assert closed == pytest.approx(12.707179, abs=1e-6)
    assert sc.gfs_sharpness(w, a=a, b=b) == pytest.approx(closed, rel=1e-12)


def test_c3_general_ab_vs_ode():
    w, a, b = (0.5, 1.5, 1.2), 2.0, 3.0
    w_end = naive.scalar_gradient_flow(w, a=a, b=b, T=200.0)
    phi = sc.gfs_sharpness(w, a=a, b=b)
    assert phi == pytest.approx(28.374943, abs=1e-6)
    assert phi == pytest.approx(naive.scalar_sharpness(w_end, a, b), rel=1e-8)


@pytest.mark.parametrize("D", [2, 3, 4, 7])
def test_c4_balanced_minimum_is_lower_bound(D):
    a, b = 1.7, -0.8
    bound = sc.min_gfs_sharpness(D, a=a, b=b)
    assert bound == pytest.approx(a * D * abs(b) ** (2 - 2 / D), rel=1e-15)
    balanced = np.full(D, abs(b) ** (1 / D))
    balanced[0] *= np.sign(b)
    assert sc.gfs_sharpness(balanced, a=a, b=b) == pytest.approx(bound, rel=1e-12)
    rng = np.random.default_rng(D)
    w = rng.normal(size=(500, D))
    phi = sc.gfs_sharpness(w, a=a, b=b)
    assert np.all(phi[np.isfinite(phi)] >= bound * (1 - 1e-12))


def test_c11_minimiser_is_its_own_gfs():
    rng = np.random.default_rng(11)
    s = np.exp(rng.normal(0, 0.5, size=(50, 4)))
    s /= np.prod(s, axis=1, keepdims=True) ** 0.25  # prod = 1: global minimisers
    np.testing.assert_allclose(sc.gfs_sharpness(s), sc.sharpness(s), rtol=1e-8)
    np.testing.assert_allclose(sc.gfs(s), s, rtol=1e-12)


def test_log_form_root_stays_exact_for_strong_imbalance():
    """The spec's trap: the shift form loses ~7 digits at phi ~ 1e4; the log form must not.
    D = 2 has the exact formula sqrt(Delta^2 + 4)."""
    for big in (1e2, 1e4, 1e7):
        w = (np.sqrt(big), 1e-3)
        exact = np.sqrt((w[0] ** 2 - w[1] ** 2) ** 2 + 4)
        assert sc.gfs_sharpness(w) == pytest.approx(exact, rel=1e-13)


def test_degenerate_starts_return_nan():
    from gdsim._core.validate import NonFiniteResultWarning

    with pytest.warns(NonFiniteResultWarning, match="saddle"):
        assert np.isnan(sc.gfs_sharpness([0.0, 0.0, 1.0]))  # two zeros: gradient flow sits on a saddle
    with pytest.warns(NonFiniteResultWarning, match="1 of 1"):
        assert np.isnan(sc.gfs_sharpness([-1.0, 1.0]))  # tie for smallest |w| with prod < 0
    with pytest.warns(NonFiniteResultWarning, match="saddle"):
        assert np.all(np.isnan(sc.gfs([-1.0, 1.0, 2.0])))
    # a single zero weight is not degenerate: the flow moves it away with the sign that makes prod > 0
    g = sc.gfs([0.0, -1.0, 2.0])
    assert np.prod(g) == pytest.approx(1.0, rel=1e-12) and g[1] < 0 and g[2] > 0


def test_sharpness_matches_naive_hessian():
    rng = np.random.default_rng(5)
    for D in (2, 3, 5, 8):
        w = rng.normal(size=(20, D))
        expected = np.array([naive.scalar_sharpness(x, 1.3, -0.7) for x in w])
        np.testing.assert_allclose(sc.sharpness(w, a=1.3, b=-0.7), expected, rtol=1e-12, atol=1e-12)


def test_jacobi_eigenvalue_matches_lapack():
    rng = np.random.default_rng(6)
    for n in (1, 2, 3, 6, 12, 30):
        A = rng.normal(size=(n, n))
        A = A + A.T
        assert _kernels.symmetric_max_eigenvalue(A.copy()) == pytest.approx(np.linalg.eigvalsh(A)[-1],
                                                                              rel=1e-12, abs=1e-12)
