"""Particle GD for displacement-convex functions (Daneshmand, Lee, Jin, ICML 2023): the spec's checks 1-8,
kernels against NumPy oracles, CUDA simulator, determinism and input validation."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

import gdsim.particles as gp
from gdsim._core.counter_rng import keys_from_seed
from tests import naive


def _loglog_slope(k, e, kmin):
    sel = k >= kmin
    return np.polyfit(np.log(k[sel]), np.log(e[sel]), 1)[0]


# ------------------------------------------------------------------ check 1: exact evaluator


@pytest.mark.parametrize("n, m", [(5, 7), (30, 30), (1, 3)])
def test_energy_distance_matches_pairwise_definition(n, m):
    rng = np.random.default_rng(n * 100 + m)
    w, v = rng.normal(size=n), rng.uniform(size=m)
    assert gp.energy_distance(w, v) == pytest.approx(naive.energy_distance_pairwise(w, v), rel=1e-10, abs=1e-15)
    W = rng.normal(size=(3, 2, n))  # batched evaluation
    ref = np.array([[naive.energy_distance_pairwise(x, v) for x in row] for row in W])
    np.testing.assert_allclose(gp.energy_distance(W, v), ref, rtol=1e-10)


def test_uniform_target_matches_quadrature_inside_and_outside_the_support():
    rng = np.random.default_rng(1)
    w = np.concatenate([rng.uniform(-1, 1, 9), [-1.7, 2.3]])  # particles can leave [-1, 1] (pitfall 2)
    assert gp.energy_distance(w) == pytest.approx(naive.energy_distance_uniform_quad(w), rel=1e-10)
    w2 = rng.uniform(0, 3, 6)
    assert gp.energy_distance(w2, interval=(0.5, 2.5)) == pytest.approx(
        naive.energy_distance_uniform_quad(w2, 0.5, 2.5), rel=1e-10)


# ------------------------------------------------------------------ check 2: subgradient


@pytest.mark.parametrize("objective, kw", [
    ("energy", dict(target=np.linspace(0.05, 0.95, 7))),
    ("energy_uniform", {}),
    ("nn_circle", {}),
    ("nn_circle", dict(target=[0.3, 1.0, 2.0])),
    ("w2_sparse", dict(target=np.linspace(-1, 1, 9))),
])
def test_subgradient_matches_central_differences(objective, kw):
    rng = np.random.default_rng(2)
    w = rng.uniform(0.01, 1.0, 9) if objective != "nn_circle" else rng.uniform(0.1, 3.0, 9)
    g = gp.objective_grad(w, objective, **kw)
    h = 1e-7
    fd = np.array([(gp.objective_value(w + h * e, objective, **kw) - gp.objective_value(w - h * e, objective, **kw))
                   / (2 * h) for e in np.eye(w.size)])
    np.testing.assert_allclose(g, fd, atol=1e-8)  # spec: atol 1e-8 (observed ~2e-10)


def test_rank_gradient_matches_pairwise_sign_formula():
    rng = np.random.default_rng(3)
    w, v = rng.normal(size=40), rng.normal(size=25)
    np.testing.assert_allclose(gp.objective_grad(w, "energy", target=v), naive.energy_grad_pairwise(w, v),
                               atol=1e-15)
    np.testing.assert_allclose(gp.objective_grad(w, "energy_uniform"), naive.energy_uniform_grad_pairwise(w),
                               atol=1e-15)


def test_interaction_value_and_gradient_match_broadcast_oracle():
    rng = np.random.default_rng(4)
    for n, d in [(5, 2), (70, 3), (33, 5)]:
        x, c = rng.normal(size=(n, d)), rng.normal(size=d)
        F, G = naive.interaction_value_grad(x, lam=0.7, c=c)
        assert gp.objective_value(x, "interaction", lam=0.7, center=c) == pytest.approx(F, rel=1e-12)
        np.testing.assert_allclose(gp.objective_grad(x, "interaction", lam=0.7, center=c), G, rtol=1e-11, atol=1e-14)
    x = rng.normal(size=(6, 3))
    h = 1e-6
    fd = np.array([[(gp.objective_value(x + h * E, "interaction") - gp.objective_value(x - h * E, "interaction"))
                    / (2 * h) for E in np.eye(18).reshape(18, 6, 3)]]).reshape(6, 3)
    np.testing.assert_allclose(gp.objective_grad(x, "interaction"), fd, atol=1e-8)


# ------------------------------------------------------------------ check 3: exact optimum, closed form


@pytest.mark.parametrize("n", [4, 16, 64, 256])
def test_uniform_sparse_optimum_and_closed_form(n):
    q, fstar = gp.sparse_optimum(n)
    assert fstar == pytest.approx(1 / (3 * n * n), rel=1e-15)
    assert gp.energy_distance(q) == pytest.approx(fstar, rel=1e-9)
    assert np.abs(gp.objective_grad(q, "energy_uniform")).max() <= 1e-15  # exactly 0 up to rounding
    rng = np.random.default_rng(n)
    for _ in range(5):  # E(w) = F*_n + (1/n) sum (w_(i) - q_i)^2 on [-1, 1]^n
        w = rng.uniform(-1, 1, n)
        closed = fstar + ((np.sort(w) - q) ** 2).sum() / n
        assert gp.energy_distance(w) == pytest.approx(closed, rel=1e-9)
        assert gp.energy_distance(w) >= fstar  # invariant (check 8)


# ------------------------------------------------------------------ check 4: network <-> energy distance


def _nn_loss_quadrature(theta, target_angles, N=200_000):
    """E_x (f_n(x) - f(x))^2, x uniform on the circle, zero-one units, by a midpoint grid of N angles."""
    x = (np.arange(N) + 0.5) * 2 * np.pi / N

    def f(angles):
        # 1[cos(x - a) > 0] counts the units whose angle lies in the open arc (x - pi/2, x + pi/2)
        # (mod 2 pi); counted with searchsorted on the angles shifted by 0, +-2 pi.
        a = np.sort(np.asarray(angles, float))
        ext = np.concatenate([a - 2 * np.pi, a, a + 2 * np.pi])
        inside = np.searchsorted(ext, x + np.pi / 2, side="left") - np.searchsorted(ext, x - np.pi / 2, side="right")
        return inside / a.size

    return np.mean((f(theta) - f(target_angles)) ** 2)


def test_network_loss_equals_energy_distance_over_2pi():
    rng = np.random.default_rng(5)
    theta, target = rng.uniform(0, np.pi, 7), rng.uniform(0, np.pi, 5)
    assert gp.nn_loss(theta, target) == pytest.approx(_nn_loss_quadrature(theta, target), rel=1e-3)
    assert gp.nn_loss(theta, target) == pytest.approx(gp.energy_distance(theta, target) / (2 * np.pi), rel=1e-12)


def test_half_circle_optimum_is_one_over_12_n_squared():
    n = 6
    theta, lstar = gp.sparse_optimum(n, "half_circle")
    assert lstar == pytest.approx(1 / (12 * n * n))
    # the uniform half-circle target, approximated by 4000 evenly spaced atoms, in the quadrature
    fine = (np.arange(4000) + 0.5) * np.pi / 4000
    assert _nn_loss_quadrature(theta, fine) == pytest.approx(lstar, rel=1e-3)
    assert gp.nn_loss(theta) == pytest.approx(lstar, rel=1e-12)


# ------------------------------------------------------------------ check 5: smooth linear rate (Thm 1a)


def test_noise_free_gd_contracts_exactly_at_the_theorem_1a_rate():
    n, gamma, K = 20, 0.5, 200
    w0 = np.random.default_rng(6).uniform(-1, 1, n)
    res = gp.particle_gd(w0, "energy_uniform", K, step=gamma, n_records=K + 1)
    q, fstar = gp.sparse_optimum(n)
    k = res.k
    assert k.size == K + 1
    exact = (1 - 2 * gamma / n) ** (2 * k) * (res.value[0] - fstar)
    np.testing.assert_allclose(res.value - fstar, exact, rtol=1e-4)  # spec: rtol 1e-4
    # Thm 1(a) bound with lambda = ell = 2/n (unnormalised W_2): Delta_{k+1} <= ell (1 - 2 gamma / n)^k W_0^2
    W0 = ((np.sort(w0) - q) ** 2).sum()
    bound = (2 / n) * (1 - 2 * gamma / n) ** (k[1:] - 1) * W0
    assert np.all(res.value[1:] - fstar <= bound * (1 + 1e-12))


def test_interaction_example_converges_linearly_at_the_strong_convexity_rate():
    """d >= 2: F is lam/n-strongly convex in R^{nd}; near w_i = c the rate is (1 - gamma lam / n)^2 per step."""
    n, d, lam, gamma = 16, 3, 1.0, 2.0
    x0 = 0.3 * np.random.default_rng(7).normal(size=(n, d))
    res = gp.particle_gd(x0, "interaction", 600, step=gamma, lam=lam, n_records=80)
    late = res.k >= 300
    slope = np.polyfit(res.k[late], np.log(res.value[late]), 1)[0]
    assert slope == pytest.approx(2 * math.log(1 - gamma * lam / n), rel=0.02)
    assert np.all(np.diff(res.value) <= 0)  # gamma below 1/ell: plain GD decreases F monotonically


# ------------------------------------------------------------------ check 6: Fig. 1 mini (Thm 2b rate)


def _fig1_mini(scaling, seeds=5, n=100, K=5000):
    vals = []
    bounds = []
    for s in range(seeds):
        rng = np.random.default_rng([11, s])
        v, w0 = rng.uniform(size=n), rng.uniform(size=n)
        res = gp.noisy_particle_gd(w0, "energy", K, target=v, noise=0.05, noise_scaling=scaling, seed=np.random.SeedSequence([12, s]),
                                   n_records=40)
        vals.append(res.value)
        W0 = ((np.sort(w0) - np.sort(v)) ** 2).sum()
        bounds.append((W0 + 16 / n + 1) / math.sqrt(K))  # Thm 2(b) with the proof's L^2 + 1, L^2 = 16/n
    return res.k, np.mean(vals, axis=0), np.mean(bounds)


def test_fig1_mini_unscaled_noise_slope_minus_half_and_under_the_bound():
    k, e, bound = _fig1_mini("none")
    assert e[-1] / e[1] < 0.1  # spec: observed 0.03-0.06
    assert -0.8 <= _loglog_slope(k, e, 10) <= -0.3  # spec band (observed -0.44 ... -0.59)
    assert e[-1] <= bound


def test_fig1_mini_sqrt_n_scaled_noise_is_faster():
    k, e, bound = _fig1_mini("sqrt_n")
    assert e[-1] / e[1] < 0.1
    assert -1.2 <= _loglog_slope(k, e, 10) <= -0.6  # spec band (observed -0.83 ... -0.90)
    assert e[-1] <= bound


# ------------------------------------------------------------------ check 7: Fig. 2 mini (approximation)


@pytest.mark.parametrize("scaling, ratio_hi, slope_band", [("sqrt_n", 1.02, (-2.05, -1.95)),
                                                             ("none", 1.2, (-2.05, -1.85))])
def test_fig2_mini_error_tracks_the_exact_sparse_optimum(scaling, ratio_hi, slope_band):
    ns, K = np.array([4, 8, 16, 32]), 20_000
    errs = []
    for n in ns:
        w0 = np.random.default_rng([21, n]).uniform(-1, 1, size=(2, n))
        res = gp.noisy_particle_gd(w0, "energy_uniform", K, step="constant", noise=0.05, noise_scaling=scaling,
                                   seed=np.random.SeedSequence([22, int(n)]), n_records=10)
        errs.append(res.value[-1].mean())
    errs = np.array(errs)
    fstar = 1 / (3 * ns.astype(float) ** 2)
    ratio = errs / fstar
    assert np.all(ratio >= 1 - 1e-12) and np.all(ratio <= ratio_hi)
    slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert slope_band[0] <= slope <= slope_band[1]
    assert slope <= -1  # the paper's claim: at least as good as O(1/n)


# ------------------------------------------------------------------ check 8: invariants


def test_permutation_invariance_and_order_preservation():
    rng = np.random.default_rng(8)
    w, v = rng.normal(size=50), rng.normal(size=30)
    perm = rng.permutation(50)
    assert gp.energy_distance(w[perm], v) == gp.energy_distance(w, v)
    np.testing.assert_array_equal(gp.objective_grad(w[perm], "energy", target=v),
                                  gp.objective_grad(w, "energy", target=v)[perm])
    # noise-free GD with gamma * 2/n < 1 never reorders the particles
    n = 40
    w0 = rng.uniform(-1, 1, n)
    res = gp.particle_gd(w0, "energy_uniform", 500, step=0.9 * n / 2)
    np.testing.assert_array_equal(np.argsort(res.w), np.argsort(w0))
    assert np.all(res.value >= 1 / (3 * n * n) * (1 - 1e-12))


def test_best_iterate_is_the_minimum_over_all_iterates():
    rng = np.random.default_rng(9)
    n, K = 30, 300
    w0, v = rng.uniform(size=n), rng.uniform(size=n)
    res = gp.noisy_particle_gd(w0, "energy", K, target=v, noise=0.2, seed=1, n_records=K + 1)
    assert res.k.size == K + 1  # every iterate recorded
    assert res.best_value == res.value.min()
    assert res.best_k == int(np.argmin(res.value))
    assert gp.energy_distance(res.best_w, v) == pytest.approx(res.best_value, rel=1e-13)


# ------------------------------------------------------------------ kernels vs NumPy oracles, devices


@pytest.mark.parametrize("objective", ["energy", "energy_uniform"])
def test_noisy_kernel_matches_numpy_oracle(objective):
    rng = np.random.default_rng(10)
    n, K = 25, 200
    w0, v = rng.uniform(size=n), rng.uniform(size=n)
    kw = dict(target=v) if objective == "energy" else {}
    res = gp.noisy_particle_gd(w0, objective, K, noise=0.05, seed=5, n_records=K + 1, **kw)
    key = keys_from_seed(5, 1)[0]
    if objective == "energy":
        grad, value = (lambda w: naive.energy_grad_pairwise(w, v)), (lambda w: naive.energy_distance_pairwise(w, v))
    else:
        grad, value = naive.energy_uniform_grad_pairwise, naive.energy_distance_uniform_quad
        K = 40  # quadrature oracle is slow
        res = gp.noisy_particle_gd(w0, objective, K, noise=0.05, seed=5, n_records=K + 1)
    vals, w = naive.particle_gd_1d(w0, grad, value, 1 / np.sqrt(np.arange(1, K + 1)), 0.05, key)
    np.testing.assert_allclose(res.value, vals, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(res.w, w, rtol=1e-10, atol=1e-14)


def test_interaction_kernel_matches_numpy_gd():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(10, 2))
    res = gp.particle_gd(x, "interaction", 30, step=1.5, lam=0.5, n_records=31)
    vals = []
    for _ in range(31):
        F, G = naive.interaction_value_grad(x, lam=0.5)
        vals.append(F)
        x = x - 1.5 * G
    np.testing.assert_allclose(res.value, vals, rtol=1e-11)


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(13)
    w0, v = rng.uniform(size=(4, 50)), rng.uniform(size=50)
    x0 = rng.normal(size=(2, 40, 3))
    out = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            a = gp.noisy_particle_gd(w0, "energy", 500, target=v, seed=3)
            b = gp.noisy_particle_gd(x0, "interaction", 20, step=1.0, seed=3)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        out.append((a, b))
    for name in ("value", "w", "best_value", "best_k"):
        np.testing.assert_array_equal(out[0][0][name], out[1][0][name])
        np.testing.assert_array_equal(out[0][1][name], out[1][1][name])


def test_runs_get_independent_noise_and_seeds_reproduce():
    w0 = np.tile(np.linspace(0, 1, 20), (3, 1))
    v = np.linspace(0.02, 0.98, 20)
    a = gp.noisy_particle_gd(w0, "energy", 100, target=v, seed=7)
    b = gp.noisy_particle_gd(w0, "energy", 100, target=v, seed=7)
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.w[0], a.w[1])  # same start, different noise streams


@pytest.mark.cudasim
@pytest.mark.parametrize("objective, shape, kw", [
    ("energy", (3, 12), dict(target=np.linspace(0.1, 0.9, 12))),
    ("energy_uniform", (2, 9), {}),
    ("w2_sparse", (2, 9), dict(target=np.linspace(-1, 1, 9))),
    ("interaction", (2, 7, 3), dict(step=0.5)),
])
def test_gpu_particle_gd_matches_cpu(monkeypatch, objective, shape, kw):
    from gdsim._core import cuda as gcuda

    monkeypatch.setattr(gcuda, "THREADS_PER_BLOCK", 4)
    w0 = np.random.default_rng(14).uniform(size=shape)
    steps = 25 if objective != "interaction" else 8
    a = gp.noisy_particle_gd(w0, objective, steps, seed=9, n_records=10, **kw)
    b = gp.gpu_particle_gd(w0, objective, steps, seed=9, noise=0.05, n_records=10, **kw)
    for name in ("value", "w", "best_w", "best_value"):
        np.testing.assert_allclose(b[name], a[name], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(a.best_k, b.best_k)
    assert b.meta["config"]["backend"] == "cuda"


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call, exc, match", [
    (lambda: gp.particle_gd(np.zeros((2, 0)), "energy_uniform", 10), ValueError, "at least one particle"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy", 10, target=[]), ValueError, "non-empty"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy", 10), ValueError, "needs a target"),
    (lambda: gp.particle_gd([0.1, np.nan], "energy_uniform", 10), ValueError, "finite"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, step=0.0), ValueError, "step"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, step=-1.0), ValueError, "step"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, step="cosine"), ValueError, "step must be one of"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, step="strongly_convex"), ValueError, "step_lambda"),
    (lambda: gp.particle_gd([0.1, 0.2], "wasserstein", 10), ValueError, "objective must be one of"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", -1), ValueError, "steps"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, noise=-0.1), ValueError, "noise"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, noise_scaling="n"), ValueError, "noise_scaling"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 10, interval=(1, -1)), ValueError, "a < b"),
    (lambda: gp.particle_gd([0.1, 0.2], "w2_sparse", 10, target=[0.0]), ValueError, "as many particles"),
    (lambda: gp.particle_gd([0.1, 0.2], "interaction", 10), ValueError, "at least 2"),
    (lambda: gp.particle_gd(np.zeros((3, 1)), "interaction", 10), ValueError, "d >= 2"),
    (lambda: gp.particle_gd("abc", "energy_uniform", 10), TypeError, "real"),
    (lambda: gp.particle_gd([0.1, 0.2], "energy_uniform", 2.5), TypeError, "steps"),
    (lambda: gp.sparse_optimum(0), ValueError, "n"),
    (lambda: gp.sparse_optimum(4, "circle"), ValueError, "half_circle"),
    (lambda: gp.nn_loss([0.1], target=[4.0]), ValueError, r"\[0, pi\]"),
])
def test_bad_input_raises_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_divergence_is_recorded_not_raised():
    res = gp.particle_gd(np.array([0.1, 1.0]), "w2_sparse", 2000, target=[0.0, 1.0], step=1.5, n_records=20)
    # gradient 2 (w - v): gamma = 1.5 multiplies the error by -2 per step until it overflows to inf/NaN
    assert not np.isfinite(res.value[-1]) and np.isnan(res.w).all()
    assert res.best_value == pytest.approx(0.01) and res.best_k == 0


@pytest.mark.parametrize("d", range(2, 10))
def test_generated_pairwise_kernels_match_the_generic_kernel(d):
    from gdsim.particles import _kernels as kern

    rng = np.random.default_rng(d)
    for n in (5, 130, 300):  # one partial block; full + partial blocks
        X, c = rng.normal(size=(d, n)), rng.normal(size=d)
        G1, G2 = np.empty_like(X), np.empty_like(X)
        v1 = kern.interaction_grad(X, 0.7, c, G1)
        v2 = kern._interaction_grad_generic(X, 0.7, c, G2)
        assert v1 == pytest.approx(v2, rel=1e-13)
        np.testing.assert_allclose(G1, G2, rtol=1e-12, atol=1e-15)


def test_nn_circle_angles_outside_the_half_circle_are_refused():
    """Outside [0, pi] the energy form is not the network loss: nn_loss([0.1, 4.0]) used to return a number."""
    for bad in ([0.1, 4.0], [-0.1, 1.0]):
        with pytest.raises(ValueError, match=r"theta: nn_circle angles must lie in \[0, pi\]"):
            gp.nn_loss(bad)
        with pytest.raises(ValueError, match="w0"):
            gp.particle_gd(np.array(bad), "nn_circle", 3, seed=0)
    assert np.isfinite(gp.nn_loss([0.0, np.pi]))
