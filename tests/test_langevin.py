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
    res = gl.teacher_student_2x2(0.1, 0.1, batch, steps=300, runs=3000, seed=batch)
    s = res.spacing
    sd = gl.discrete_spacing_width(0.1, 0.1, batch)
    assert 0.95 <= s.mean() / (math.sqrt(math.pi) * sd) <= 1.06  # spec band (reference 1.009 / 1.013)
    assert abs((s**2).mean() / s.mean() ** 2 - 4 / math.pi) < 0.03
    assert stats.kstest(s / s.mean(), gl.wigner_surmise_cdf).pvalue > 0.01


def test_2x2_singular_values_follow_the_goe_one_point_density():
    res = gl.teacher_student_2x2(0.1, 0.1, 16, steps=300, runs=4000, seed=3)
    sd = gl.discrete_spacing_width(0.1, 0.1, 16)
    x = res.singular_values.ravel()
    hist, edges = np.histogram(x, bins=40, density=True)
    mid = 0.5 * (edges[1:] + edges[:-1])
    rho = gl.goe2_density(mid, 2.0, sd)
    assert np.abs(hist - rho).max() < 0.1 * rho.max()  # spec check 2 (about 40 bins)


def test_dyson_ou_is_a_beta1_coulomb_gas():
    res = gl.dyson_ou(2, 0.3, runs=20000, dt=0.01, steps=600, seed=1)
    s = res.spacings[:, 0]
    assert s.mean() == pytest.approx(math.sqrt(math.pi) * 0.3, rel=0.03)  # spec: +-3%
    assert (s**2).mean() / s.mean() ** 2 == pytest.approx(4 / math.pi, abs=0.03)
    # the eigenvalue density is the exact 2x2 GOE one-point density
    hist, edges = np.histogram(res.eigenvalues.ravel(), bins=40, density=True)
    mid = 0.5 * (edges[1:] + edges[:-1])
    assert np.abs(hist - gl.goe2_density(mid, 0.0, 0.3)).max() < 0.1 * gl.goe2_density(0.3, 0, 0.3)


def test_dyson_ou_bulk_follows_the_semicircle():
    n, sigma = 20, 1.0
    res = gl.dyson_ou(n, sigma, runs=300, dt=0.02, steps=400, seed=2)
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
    from gdsim._core.counter_rng import keys_from_seed
    from tests.naive import normal_pair

    lr, A, B, steps = 0.2, 0.3, 3, 7
    res = gl.teacher_student_2x2(lr, A, B, steps=steps, runs=2, seed=9)
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
        one = gl.teacher_student_2x2(0.1, 0.1, 4, steps=50, runs=64, seed=4)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    two = gl.teacher_student_2x2(0.1, 0.1, 4, steps=50, runs=64, seed=4)
    np.testing.assert_array_equal(one.W, two.W)


@pytest.mark.parametrize("call, match", [
    (lambda: gl.teacher_student_2x2(0.0, 0.1, 4), "lr"),
    (lambda: gl.teacher_student_2x2(0.1, 0.1, 0), "batch"),
    (lambda: gl.dyson_ou(1, 0.3), "d"),
    (lambda: gl.dyson_ou(2, -0.3), "sigma"),
    (lambda: gl.p_tanh(0.0, 0.0), "sigma2"),
    (lambda: gl.discrete_spacing_width(2.5, 0.1, 4), "lr"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ Park et al. network (spec A.6 checks 6, 7)


@pytest.fixture(scope="module")
def three_phases():
    """30 epochs, 3 seeds at the spec's three grid points: ferro (T 1/32, sigma_W 1/8), para (4, 1/8), SG (1/32, 256)."""
    return gl.park_network_sgd([1 / 32, 4.0, 1 / 32], [1 / 8, 1 / 8, 256.0], epochs=30, runs=3, seed=1)


def test_three_phases_are_separated_on_a_short_run(three_phases):
    r = three_phases
    ferro, para, sg = 0, 1, 2
    assert np.all(r.test_mse[ferro] < 1e-3) and np.all(r.x_max[ferro] < 3)
    assert np.all(r.x_max[para] > 1e3) and np.all(r.test_mse[para] > 3e-3)
    assert np.all(r.q[sg] > 0.7) and np.all(r.x_max[sg] > 5e4) and np.all(r.test_mse[sg] > 0.05)
    np.testing.assert_array_equal(r.phase, np.repeat([[0], [1], [2]], 3, axis=1))


def test_drift_vs_coulomb_criterion_smoke(three_phases):
    assert three_phases.ordered[0].all()  # spec: ordered fraction 1.0 at T = 1/32, sigma_W = 1/8 (high T not asserted)


def _numpy_park_run(inst, lr, batch, epochs):
    from gdsim.langevin._api import _forward

    M, Ws, Z, X, W0 = inst
    W = W0.copy()
    s0 = np.tanh(X @ M.T)
    y = _forward(Ws, M, Z, X)[2]
    for _ in range(epochs):
        for b in range(X.shape[0] // batch):  # fixed batch order, as in the authors' code
            sl = slice(b * batch, (b + 1) * batch)
            phi = np.tanh(s0[sl] @ W.T)
            err = y[sl] - phi @ Z
            W = W + lr * np.einsum("n,nk,nl->kl", err, Z * (1 - phi**2), s0[sl]) / batch
    return W


def test_park_run_seeds_make_a_run_independent_of_its_batch():
    ss = [np.random.SeedSequence([9, i]) for i in range(3)]
    both = gl.park_network_sgd([0.1, 0.5, 2.0], [1.0, 2.0, 0.5], epochs=2, n_samples=40, width=4, seed=ss)
    alone = gl.park_network_sgd(0.5, 2.0, epochs=2, n_samples=40, width=4, seed=ss[1:2])
    np.testing.assert_array_equal(both.x[1, 0], alone.x[0])  # bitwise: per-run work, per-run seeds
    np.testing.assert_array_equal(both.test_mse[1, 0], alone.test_mse[0])
    with pytest.raises(ValueError, match="one seed per run"):
        gl.park_network_sgd([0.1, 0.5], 1.0, epochs=1, n_samples=8, width=4, seed=ss)


def test_vectorisable_tanh_is_within_3_ulp_and_keeps_divergence():
    from gdsim.langevin import _network as kn

    @numba.njit
    def apply(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = kn._tanh_poly(a[i])
        return out

    a = np.concatenate([np.linspace(-25, 25, 100_001), np.geomspace(1e-300, 30, 2001)])
    a = np.concatenate([a, -a])
    ref = np.tanh(a)
    ulp = np.abs(apply(a) - ref) / np.spacing(np.abs(ref))
    assert ulp.max() <= 3  # docstring's bound; np.tanh is itself within 1 ulp
    special = apply(np.array([np.inf, -np.inf, np.nan, 0.0, 1e3]))
    np.testing.assert_array_equal(special[[0, 1, 3, 4]], [1.0, -1.0, 0.0, 1.0])
    assert np.isnan(special[2])  # a diverged pre-activation stays NaN, never a silent +-1


@pytest.mark.parametrize("K, batch", [(16, 4), (4, 1), (12, 3), (24, 5), (8, 20)])
def test_park_simd_and_scalar_kernels_match_numpy(K, batch):
    """(16, 4) is the paper's; K = 4, 12 exercise the zero padding to a multiple of 8; (8, 20) is past
    the register tile, so the scalar kernel runs."""
    from gdsim.langevin import _network as kn
    from gdsim.langevin._api import _park_arrays, _park_instance

    insts = [_park_instance(np.random.SeedSequence([K, batch, i]), K, 2 * K, 10 * batch, 1.5) for i in range(3)]
    lrs = np.array([0.05, 0.2, 0.5])
    W, S0, Y, Zs = _park_arrays(insts)
    fast, scalar = W.copy(), W.copy()
    kn.park_sgd(fast, S0, Y, Zs, lrs, batch, 4)
    kn._park_sgd_generic(scalar, S0, Y, Zs, lrs, batch, 4)
    for r in range(3):
        ref = _numpy_park_run(insts[r], lrs[r], batch, 4)
        assert np.abs(ref - W[r]).max() > 1e-3  # training moved W, so the comparison means something
        np.testing.assert_allclose(fast[r], ref, rtol=1e-11, atol=1e-13)  # 40 steps of rounding only
        np.testing.assert_allclose(scalar[r], ref, rtol=1e-11, atol=1e-13)


def test_park_kernel_matches_numpy_reference_and_thread_counts():
    from gdsim._core.rng import as_seed_sequence
    from gdsim.langevin._api import _park_instance

    res = gl.park_network_sgd(0.25, 2.0, epochs=3, runs=2, width=4, r=2, n_samples=40, seed=7)
    children = as_seed_sequence(7).spawn(2)
    for i in range(2):
        W = _numpy_park_run(_park_instance(children[i], 4, 8, 40, 2.0), 0.25 * 4, 4, 3)
        np.testing.assert_allclose(res.x[i], np.linalg.svd(W, compute_uv=False) ** 2, rtol=1e-10)
    numba.set_num_threads(1)
    try:
        one = gl.park_network_sgd([0.1, 1.0], [1.0, 4.0], epochs=2, runs=2, n_samples=80, seed=3)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    two = gl.park_network_sgd([0.1, 1.0], [1.0, 4.0], epochs=2, runs=2, n_samples=80, seed=3)
    np.testing.assert_array_equal(one.x, two.x)
    np.testing.assert_array_equal(one.test_mse, two.test_mse)


# ------------------------------------------------------------------ Sclocchi et al. perceptron (spec B.5)


@pytest.mark.parametrize("chi, Ps, band", [(1.0, [128, 256, 512, 1024], (0.38, 0.62)),
                                           (0.0, [32, 64, 128, 256], (0.85, 1.15))])
def test_perceptron_gamma_is_one_over_one_plus_chi(chi, Ps, band):
    r = gl.perceptron_sgd(4.0, np.array(Ps), d=32, chi=chi, runs=6, seed=3)
    assert r.converged.all()
    slope = np.polyfit(np.log(Ps), np.log(np.median(r.w1, axis=-1)), 1)[0]
    assert band[0] <= slope <= band[1]  # spec: 0.5 +- 0.12 (chi = 1), 1.0 +- 0.15 (chi = 0)
    assert abs(slope - 1 / (1 + chi)) <= 0.1  # the acceptance: within 0.1 of 1/(1 + chi)


def test_perceptron_weight_change_and_training_time_grow_with_temperature():
    r = gl.perceptron_sgd(np.array([1.0, 4.0, 16.0])[:, None], np.array([[256, 1024]]), d=32, chi=1.0, runs=5,
                          seed=4)
    w1, ts, wp = (np.median(r[name], axis=-1) for name in ("w1", "t_star", "w_perp"))
    assert np.all(np.diff(w1, axis=0) > 0) and np.all(np.diff(ts, axis=0) > 0)  # strictly increasing in T
    assert np.all(np.abs(wp[:, 1] / wp[:, 0] - 1) < 0.25)  # noise saturates: ||w_perp|| flat across P
    assert np.all(np.diff(wp[:, 0]) > 0)  # and grows with T


@pytest.mark.cudasim
def test_gpu_variants_match_cpu(monkeypatch):
    from gdsim._core import cuda as gcuda

    monkeypatch.setattr(gcuda, "THREADS_PER_BLOCK", 4)
    a = gl.park_network_sgd([1 / 32, 4.0], [1 / 8, 8.0], epochs=1, runs=3, n_samples=16, width=4, r=2, seed=1)
    b = gl.gpu_park_network_sgd([1 / 32, 4.0], [1 / 8, 8.0], epochs=1, runs=3, n_samples=16, width=4, r=2, seed=1)
    np.testing.assert_allclose(b.x, a.x, rtol=1e-11)
    np.testing.assert_allclose(b.test_mse, a.test_mse, rtol=1e-11)
    a = gl.perceptron_sgd(4.0, np.array([8, 16]), d=4, runs=3, seed=3, max_epochs=50)
    b = gl.gpu_perceptron_sgd(4.0, np.array([8, 16]), d=4, runs=3, seed=3, max_epochs=50)
    np.testing.assert_allclose(b.w1, a.w1, rtol=1e-12)
    np.testing.assert_array_equal(b.steps, a.steps)


@pytest.mark.cudasim
@pytest.mark.parametrize("K, batch, tpb, seeds", [(4, 4, 8, 3), (6, 2, 8, 2), (40, 1, 32, 1), (4, 600, 4, 2)])
def test_gpu_park_groups_match_cpu(monkeypatch, K, batch, tpb, seeds):
    """Group kernel: an idle group in the last block (3 runs, 2 per block), idle threads in a group (K = 6,
    G = 8), two rows per thread (K = 40, G = 32); batch 600 needs 38 kB of shared memory, so it takes the
    one-run-per-thread kernel."""
    from gdsim._core import cuda as gcuda

    monkeypatch.setattr(gcuda, "THREADS_PER_BLOCK", tpb)
    kw = dict(epochs=1, runs=seeds, n_samples=2 * batch if K > 8 or batch > 100 else 4 * batch, width=K, r=2, batch_size=batch,
              seed=K)
    a = gl.park_network_sgd(0.5, 2.0, **kw)
    b = gl.gpu_park_network_sgd(0.5, 2.0, **kw)
    np.testing.assert_allclose(b.x, a.x, rtol=1e-11)
    np.testing.assert_allclose(b.train_loss, a.train_loss, rtol=1e-10)


@pytest.mark.parametrize("call, match", [
    (lambda: gl.park_network_sgd(0.0, 1.0), "temperature"),
    (lambda: gl.park_network_sgd(1.0, -1.0), "sigma_w"),
    (lambda: gl.park_network_sgd(1.0, 1.0, batch_size=0), "batch"),
    (lambda: gl.park_network_sgd(1.0, 1.0, batch_size=50, n_samples=40), "batch_size must be between"),
    (lambda: gl.park_network_sgd([1.0, 2.0], [1.0, 2.0, 3.0]), "broadcast"),
    (lambda: gl.perceptron_sgd(-1.0, 100), "temperature"),
    (lambda: gl.perceptron_sgd(1.0, 0), "n_samples"),
])
def test_network_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mlp_temperature_normalisation_makes_batch_size_irrelevant():
    """Spec B.5.4: with eta = T alpha h B, doubling B at fixed T leaves the mean weight change unchanged.

    Same number of epochs, so the same SGD time eta x steps (most runs have not reached zero hinge loss
    yet: the comparison is at equal time, which is what the linear scaling rule speaks to).
    """
    kw = dict(n_samples=128, d=5, width=16, runs=12, max_epochs=400, seed=5)
    a = gl.mlp_sgd(10.0, 0.01, batch_size=4, **kw)
    b = gl.mlp_sgd(10.0, 0.01, batch_size=8, **kw)
    np.testing.assert_allclose(a.t_star[~a.converged], 0.01 * 10 * 16 * 4 * 400 * 128 // 4, rtol=1e-12)
    ma, mb = a.rel_weight_change.mean(), b.rel_weight_change.mean()
    sem = np.hypot(a.rel_weight_change.std(), b.rel_weight_change.std()) / np.sqrt(12)
    assert abs(ma - mb) <= 3 * sem + 0.05 * ma  # equal within the ensemble noise


def test_mlp_divergence_is_recorded_and_noise_moves_weights():
    r = gl.mlp_sgd(np.array([1.0, 1.0, 100.0]), np.array([0.01, 0.1, 1.0]), n_samples=64, d=5, width=16, runs=2,
                   max_epochs=300, seed=6)
    assert r.diverged[2].all() and np.isnan(r.test_error[2]).all()  # eta = 1e5: diverges, recorded
    assert np.all(r.rel_weight_change[1] > r.rel_weight_change[0])  # larger T, larger weight change


def test_exact_2x2_second_moments_match_the_simulated_chains():
    """teacher_student_moments solves the second-moment recursion; the kernel's chains are an
    independent check. At lr = 0.4, |B| = 3 the additive-noise width was 10.9% off."""
    lr, A, B = 0.4, 0.1, 3
    res = gl.teacher_student_2x2(lr, A, B, steps=400, runs=20000, seed=21)
    D = (res.W - 2.0 * np.eye(2)).reshape(-1, 4)
    emp = D.T @ D / D.shape[0]
    M = gl.teacher_student_moments(lr, A, B)
    # 20000 chains: relative standard error of a variance ~ sqrt(2/20000) = 1%, of the spread of
    # heavier-tailed entries a little more; 5% of the largest entry bounds every entry's error
    np.testing.assert_allclose(emp, M, atol=0.05 * M.max())
    sd = gl.discrete_spacing_width(lr, A, B)
    # E[s^2] = 4 sigma_d^2 for the symmetric part; singular values add O(|D|/target) ~ 1%
    assert (res.spacing**2).mean() / (4 * sd**2) == pytest.approx(1.0, abs=0.03)
    old = math.sqrt(2 * lr * A**2 / (B * (2 - lr)))
    assert old / sd < 0.92  # the additive-noise form is about 10% low here


def test_stationary_lr_range_is_where_the_second_moment_map_contracts():
    for B in (1, 3, 6, 16):
        lo = gl.max_stationary_lr(B)
        assert lo == pytest.approx(2 * B / (B + 3))
        from gdsim.langevin._reference import _second_moment_map

        rho = [max(abs(np.linalg.eigvals(_second_moment_map(lr, B)))) for lr in (0.98 * lo, 1.02 * lo)]
        assert rho[0] < 1 < rho[1]
        with pytest.raises(ValueError, match="lr"):
            gl.discrete_spacing_width(1.01 * lo, 0.1, B)


def test_dyson_ou_samples_the_discrete_width_exactly():
    """The Euler scheme's stationary GOE width is sigma sqrt(2/(2 - dt)); at dt = 0.2 that is 5.4% wide,
    far outside the 1% statistical error of 40000 chains."""
    sigma, dt = 0.3, 0.2
    res = gl.dyson_ou(2, sigma, runs=40000, dt=dt, steps=150, seed=5)
    w = gl.dyson_ou_width(sigma, dt)
    assert res.meta["stationary_sigma"] == pytest.approx(w)
    diag_var = res.matrices[:, 0, 0].var()
    assert diag_var == pytest.approx(w**2, rel=0.03)  # var of a variance estimate: sqrt(2/40000) = 0.7%
    assert abs(diag_var / sigma**2 - 1) > 0.07
