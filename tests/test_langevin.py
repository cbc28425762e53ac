"""Langevin / Dyson-Brownian-motion foundations (issue 6, in progress): the spec's cheap checks A.6 1-5."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import integrate, stats

import gdsim.langevin as gl


@pytest.mark.parametrize("batch", [4, 16])
def test_2x2_teacher_student_spacing_follows_the_discrete_width_and_the_surmise(batch):
    res = gl.teacher_student_2x2(0.1, 0.1, batch, steps=300, chains=3000, seed=batch)
    s = res.spacing
    sd = gl.discrete_spacing_width(0.1, 0.1, batch)
    assert 0.95 <= s.mean() / (math.sqrt(math.pi) * sd) <= 1.06  # spec band (reference 1.009 / 1.013)
    assert abs((s**2).mean() / s.mean() ** 2 - 4 / math.pi) < 0.03
    assert stats.kstest(s / s.mean(), gl.wigner_surmise_cdf).pvalue > 0.01


def test_2x2_singular_values_follow_the_goe_one_point_density():
    res = gl.teacher_student_2x2(0.1, 0.1, 16, steps=300, chains=4000, seed=3)
    sd = gl.discrete_spacing_width(0.1, 0.1, 16)
    x = res.singular_values.ravel()
    hist, edges = np.histogram(x, bins=40, density=True)
    mid = 0.5 * (edges[1:] + edges[:-1])
    rho = gl.goe2_density(mid, 2.0, sd)
    assert np.abs(hist - rho).max() < 0.1 * rho.max()  # spec check 2 (about 40 bins)


def test_dyson_ou_is_a_beta1_coulomb_gas():
    res = gl.dyson_ou(2, 0.3, chains=20000, dt=0.01, steps=600, seed=1)
    s = res.spacings[:, 0]
    assert s.mean() == pytest.approx(math.sqrt(math.pi) * 0.3, rel=0.03)  # spec: +-3%
    assert (s**2).mean() / s.mean() ** 2 == pytest.approx(4 / math.pi, abs=0.03)
    # the eigenvalue density is the exact 2x2 GOE one-point density
    hist, edges = np.histogram(res.eigenvalues.ravel(), bins=40, density=True)
    mid = 0.5 * (edges[1:] + edges[:-1])
    assert np.abs(hist - gl.goe2_density(mid, 0.0, 0.3)).max() < 0.1 * gl.goe2_density(0.3, 0, 0.3)


def test_dyson_ou_bulk_follows_the_semicircle():
    n, sigma = 20, 1.0
    res = gl.dyson_ou(n, sigma, chains=300, dt=0.02, steps=400, seed=2)
    # GOE with off-diagonal variance sigma^2/2: semicircle radius sqrt(2 n) sigma
    R = math.sqrt(2 * n) * sigma
    x = res.eigenvalues.ravel() / R
    hist, edges = np.histogram(x, bins=20, range=(-1, 1), density=True)
    mid = 0.5 * (edges[1:] + edges[:-1])
    inner = np.abs(mid) < 0.8
    np.testing.assert_allclose(hist[inner], gl.semicircle_density(mid[inner], 1.0), atol=0.06)


def test_p_tanh_is_normalised_and_turns_bimodal_at_one_half():
    for s2 in (0.1, 0.5, 2.0):
        total = integrate.quad(lambda p: gl.p_tanh(p, s2), -1, 1, limit=200)[0]
        assert total == pytest.approx(1.0, abs=1e-6)
    h = 1e-4

    def curvature(s2):
        return (np.log(gl.p_tanh(h, s2)) - 2 * np.log(gl.p_tanh(0.0, s2)) + np.log(gl.p_tanh(-h, s2))) / h**2

    assert curvature(0.49) < 0 < curvature(0.51)  # 1 - 1/(2 sigma^2) changes sign at sigma^2 = 1/2
    assert gl.p_tanh(0.0, 0.1) == pytest.approx(1 / math.sqrt(2 * math.pi * 0.1))  # Fig. 1: 1.26


def test_initial_marchenko_pastur_scale():
    K, L, sw = 16, 32, 3.0
    rng = np.random.default_rng(5)
    ev = np.array([np.linalg.eigvalsh(W @ W.T) for W in rng.normal(0, sw / math.sqrt(L), size=(50, K, L))])
    assert ev.mean() == pytest.approx(sw**2, rel=0.05)
    r = L / K
    assert ev.max(axis=1).mean() == pytest.approx(sw**2 * (1 + 1 / math.sqrt(r)) ** 2, rel=0.15)


def test_2x2_kernel_matches_numpy_and_is_thread_count_independent():
    from gdsim._core.counter_rng import keys_from_seed, uniform01_numpy

    def normal_pair(key, k, n, j):
        a = 0
        while True:
            v1 = 2 * uniform01_numpy(key, k, 2 * (a * n + j)) - 1
            v2 = 2 * uniform01_numpy(key, k, 2 * (a * n + j) + 1) - 1
            q = v1 * v1 + v2 * v2
            if 0 < q < 1:
                break
            a += 1
        f = math.sqrt(-2 * math.log(q) / q)
        return f * v1, f * v2

    lr, A, B, steps = 0.2, 0.3, 3, 7
    res = gl.teacher_student_2x2(lr, A, B, steps=steps, chains=2, seed=9)
    ss = np.random.SeedSequence(9).spawn(2)
    W = 0.1 * np.random.default_rng(ss[0]).standard_normal((2, 2, 2))
    keys = keys_from_seed(ss[1], 2)
    for r in range(2):
        w = W[r].copy()
        for k in range(steps):
            C = np.zeros((2, 2))
            a = np.zeros((2, 2))
            for b in range(B):
                z = sum((normal_pair(keys[r], k, 6 * B, 6 * b + j) for j in (0, 2, 4)), ())
                x = np.array(z[:2])
                C += np.outer(x, x) / B
                a += np.array([[math.sqrt(2) * A * z[2], A * z[4]], [A * z[4], math.sqrt(2) * A * z[3]]]) / B
            w = w + lr * ((2 * np.eye(2) - w) @ C + a)
        np.testing.assert_allclose(res.W[r], w, rtol=1e-12, atol=1e-14)
    numba.set_num_threads(1)
    try:
        one = gl.teacher_student_2x2(0.1, 0.1, 4, steps=50, chains=64, seed=4)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    two = gl.teacher_student_2x2(0.1, 0.1, 4, steps=50, chains=64, seed=4)
    np.testing.assert_array_equal(one.W, two.W)


@pytest.mark.parametrize("call, match", [
    (lambda: gl.teacher_student_2x2(0.0, 0.1, 4), "lr"),
    (lambda: gl.teacher_student_2x2(0.1, 0.1, 0), "batch"),
    (lambda: gl.dyson_ou(1, 0.3), "n"),
    (lambda: gl.dyson_ou(2, -0.3), "sigma"),
    (lambda: gl.p_tanh(0.0, 0.0), "sigma2"),
    (lambda: gl.discrete_spacing_width(2.5, 0.1, 4), "lr"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
