"""Curvature beyond the top eigenvalues (issue 31): trace, diagonal, SLQ spectral density, per-group blocks,
eigenvalues above a threshold, loss slices, and their observables, against dense Hessians (``Model.hessian``:
P products on unit vectors through the model's plain ``hvp``, not the cached ``hvpc`` path the drivers use)."""

import numba
import numpy as np
import pytest
from scipy.stats import wasserstein_distance

import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim._core.counter_rng import keys_from_seed, uniform01_numpy
from gdsim.dynamics import _spectral

RNG = np.random.default_rng(31)
X = RNG.standard_normal((40, 4))
Y = np.tanh(X[:, :3] - 0.2)


def _models():
    Xd = RNG.standard_normal((25, 30))
    yd = Xd[:, :3].sum(axis=1)
    return {
        "mlp_tanh": gm.mlp([4, 12, 8, 3], "tanh", data=(X, Y)),
        "mlp_relu": gm.mlp([4, 12, 8, 3], "relu", data=(X, Y)),
        "diagonal_linear": gm.diagonal_linear((Xd, yd), depth=2, init_scale=0.5),
        # a factorisation model on cached MLP kernels (matrix_factorisation's uncached kernels compile for ~40 s)
        "deep_linear": gm.deep_linear([5, 4, 6], data=(RNG.standard_normal((30, 5)), RNG.standard_normal((30, 6)))),
    }


MODELS = _models()


def _point(m, seed, batch=()):
    w = m.init(seed, batch=batch)
    return w + 0.3 * np.random.default_rng(seed + 100).standard_normal(w.shape)  # off the init's symmetries


@pytest.mark.parametrize("name", list(MODELS))
def test_slq_density_close_to_exact_spectrum_and_moments(name):
    m = MODELS[name]
    P = m.n_params
    w = _point(m, 1)
    probes, steps = 8, 40
    nodes, weights = gdyn.spectral_density(m, w, probes=probes, steps=steps, seed=0)
    assert nodes.shape == weights.shape == (probes, steps)
    H = m.hessian(w)
    ev = np.linalg.eigvalsh(H)
    a, b = ev[0], ev[-1]
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=0, atol=1e-12)
    # Wasserstein-1 to the true spectral measure (1/P) sum delta_lambda_i. Bound: the n-node Gauss quadrature of a
    # probe's measure is within pi (b - a) / (4 n) of it (exact for degree 2n - 1, Jackson: a 1-Lipschitz function
    # is within pi (b - a) / (8 n) of a polynomial of degree 2n - 1; 0 when Lanczos closes, n >= P); the probe
    # average's CDF error at x has standard deviation <= sqrt(2 min(F, 1 - F) / (P probes)) (Var z^T Pi z <=
    # 2 rank Pi), so E W1 <= (b - a) / sqrt(P probes); 3x that for the random part
    quad = 0.0 if steps >= P else np.pi * (b - a) / (4 * steps)
    bound = quad + 3 * (b - a) / np.sqrt(P * probes)
    w1 = wasserstein_distance(nodes.ravel(), ev, u_weights=weights.ravel())
    assert w1 <= bound, (name, w1 / (b - a), bound / (b - a))
    # moments: Gaussian quadrature is exact for degree <= 2 steps - 1, so sum w theta^k is exactly the Hutchinson
    # estimate (1 / probes) sum_p v_p^T H^k v_p with the same probes (rebuilt here from the counter-based stream)
    key = keys_from_seed(0, 1)[0]
    Z = np.where(uniform01_numpy(key, _spectral._SALT_SLQ, np.arange(probes * P)).reshape(probes, P) < 0.5, 1.0, -1.0)
    Hk = np.eye(P)
    for k in range(4):
        est = np.sum(weights * nodes**k)
        hutch = np.mean(np.einsum("pi,ij,pj->p", Z, Hk, Z)) / P
        # rounding: Lanczos in float64 on a matrix of norm |lambda|_max, amplified by k
        np.testing.assert_allclose(est, hutch, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(ev).max()) ** k)
        # and near tr(H^k) / P: Hutchinson's variance <= 2 ||H^k||_F^2 per probe, 4 standard deviations
        assert abs(est - np.trace(Hk) / P) <= 4 * np.sqrt(2.0 / probes) * np.linalg.norm(Hk) / P + 1e-12
        Hk = Hk @ H


@pytest.mark.parametrize("name", list(MODELS))
def test_trace_and_diagonal_exact_against_dense_hessian(name):
    m = MODELS[name]
    w = _point(m, 2, batch=(2,))
    tr, se = gdyn.hessian_trace(m, w, return_stderr=True)  # "auto": exact at this P
    d = gdyn.hessian_diagonal(m, w)
    assert tr.shape == (2,) and d.shape == (2, m.n_params)
    np.testing.assert_array_equal(se, 0.0)
    for r in range(2):
        H = m.hessian(w[r])
        # acceptance: 1e-10 relative (to the largest |diagonal entry| / |tr| and the sum of |H_ii| respectively)
        np.testing.assert_allclose(d[r], np.diag(H), rtol=0, atol=1e-10 * np.abs(np.diag(H)).max())
        assert abs(tr[r] - np.trace(H)) <= 1e-10 * np.abs(np.diag(H)).sum()
    assert isinstance(gdyn.hessian_trace(m, w[0]), float)


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_stochastic_trace_within_three_standard_errors(method):
    m = MODELS["mlp_tanh"]
    w = _point(m, 3)
    exact = np.trace(m.hessian(w))
    # 20 runs of the same point: 20 independent probe streams (one per run)
    W = np.broadcast_to(w, (20, m.n_params))
    tr, se = gdyn.hessian_trace(m, W, method=method, probes=60, seed=5, return_stderr=True)
    z = (tr - exact) / se
    # the estimate is a mean of >= 20 independent terms with a sample standard error: about t-distributed, so
    # P(|z| > 3) is about 0.005 per seed and P(two or more of 20 outside) about 0.005: at least 19 of 20 inside
    assert np.sum(np.abs(z) <= 3) >= 19, z
    assert len(set(np.round(tr, 12))) == 20  # the runs' streams differ
    # the diagonal estimator: per-entry standard errors, at least 95% of entries within 3 of them
    d, dse = gdyn.hessian_diagonal(m, w, method=method, probes=60, seed=5, return_stderr=True)
    assert np.mean(np.abs(d - np.diag(m.hessian(w))) <= 3 * dse) >= 0.95


def test_blocks_equal_dense_hessian_blocks():
    m = MODELS["mlp_tanh"]
    assert [g.name for g in m.groups] == ["layer_0", "layer_1", "layer_2"]
    w = _point(m, 4, batch=(2,))
    res = gdyn.hessian_blocks(m, w)
    assert res.sharpness.shape == (2, 3) and list(res.group) == ["layer_0", "layer_1", "layer_2"]
    for r in range(2):
        H = m.hessian(w[r])
        for j, g in enumerate(m.groups):
            B = H[g.start:g.stop, g.start:g.stop]
            lam = np.linalg.eigvalsh(B)
            scale = np.abs(lam).max()
            # acceptance: 1e-10 (relative to the block's spectral radius)
            assert abs(res.sharpness[r, j] - lam[-1]) <= 1e-10 * scale
            assert abs(res.trace[r, j] - np.trace(B)) <= 1e-10 * np.abs(np.diag(B)).sum()
    # a model without groups is one block: the whole Hessian
    one = gm.Model("q", m.n_params, m._loss_grad, m.data, hvp=m._hvp, hvp_prepare=m._hvp_prep,
                   hvp_cached=m._hvp_cached)
    r1 = gdyn.hessian_blocks(one, w[0])
    assert r1.sharpness.shape == (1,)
    np.testing.assert_allclose(r1.sharpness[0], gdyn.sharpness(m, w[0]), rtol=1e-10)


def test_eigenvalues_above_match_dense_eigvalsh():
    m = MODELS["mlp_tanh"]
    w = _point(m, 5, batch=(2,))
    for r in range(2):
        ev = np.linalg.eigvalsh(m.hessian(w[r]))[::-1]
        thr = 0.5 * (ev[4] + ev[5])  # between the 5th and 6th: five above
        got = gdyn.eigenvalues_above(m, w[r], thr, max_count=8)
        assert got.shape == (8,) and np.all(np.isnan(got[5:]))
        np.testing.assert_allclose(got[:5], ev[:5], rtol=0, atol=1e-9 * abs(ev[0]))
        # more above than max_count: the largest max_count
        np.testing.assert_allclose(gdyn.eigenvalues_above(m, w[r], ev[-1] - 1.0, max_count=3), ev[:3], rtol=0,
                                   atol=1e-9 * abs(ev[0]))


def test_numbers_independent_of_thread_count():
    m = MODELS["mlp_tanh"]
    w = _point(m, 6, batch=(3,))
    ev = np.linalg.eigvalsh(m.hessian(w[0]))

    def compute():
        return [*gdyn.spectral_density(m, w, probes=4, steps=20),
                gdyn.hessian_trace(m, w, method="hutch++", probes=30),
                gdyn.hessian_diagonal(m, w, method="hutchinson", probes=20),
                gdyn.hessian_diagonal(m, w), gdyn.hessian_blocks(m, w).sharpness,
                gdyn.eigenvalues_above(m, w, ev[-4], max_count=5)]

    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = compute()
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = compute()
    finally:
        numba.set_num_threads(old)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    # the progress bar's chunks of probes change nothing
    chunked = gdyn.spectral_density(m, w, probes=4, steps=20, progress=True)
    np.testing.assert_array_equal(chunked[0], one[0])
    np.testing.assert_array_equal(chunked[1], one[1])


def test_observables_in_every_optimiser():
    m = MODELS["mlp_tanh"]
    w0 = _point(m, 7, batch=(2,))
    ev0 = np.linalg.eigvalsh(m.hessian(w0[0]))[::-1]
    thr = float(0.5 * (ev0[2] + ev0[3]))  # three above at the start of run 0
    obs = ("loss", "w", "trace", "diag", "spectral_density:4:20", "block_sharpness", f"eigenvalues_above:{thr!r}:6")
    res = gdyn.gd(m, w0, lr=0.05, steps=6, record_every=3, observe=obs)
    assert res.trace.shape == (3, 2) and res.diag.shape == (3, 2, m.n_params)
    assert res.spectral_density_nodes.shape == res.spectral_density_weights.shape == (3, 2, 4, 20)
    assert res.block_sharpness.shape == res.block_trace.shape == (3, 2, 3)
    assert res.eigenvalues_above.shape == (3, 2, 6)
    assert res.dims["block_sharpness"] == ("step", "run", "group")
    wf = res.w_final
    # the records are the standalone functions at the recorded points (same probes, same keys)
    np.testing.assert_array_equal(res.trace[-1], gdyn.hessian_trace(m, wf))
    np.testing.assert_array_equal(res.diag[-1], gdyn.hessian_diagonal(m, wf))
    np.testing.assert_array_equal(res.spectral_density_nodes[-1], gdyn.spectral_density(m, wf, 4, 20)[0])
    blocks = gdyn.hessian_blocks(m, wf)
    np.testing.assert_allclose(res.block_sharpness[-1], blocks.sharpness, rtol=1e-10)
    np.testing.assert_allclose(res.block_trace[-1], blocks.trace, rtol=1e-12)
    counts = set()
    for i in range(3):  # every record (warm-started from the previous one) against the dense spectrum
        for r in range(2):
            ev = np.linalg.eigvalsh(m.hessian(res.w[i, r]))[::-1]
            above = ev[ev > thr][:6]
            counts.add(above.size)
            got = res.eigenvalues_above[i, r]
            np.testing.assert_allclose(got[:above.size], above, rtol=0, atol=1e-9 * ev[0])
            assert np.all(np.isnan(got[above.size:]))
    assert 0 < min(counts) and max(counts) < 6, counts
    ds = res.to_xarray()
    assert list(ds["group"].values) == ["layer_0", "layer_1", "layer_2"]
    # the other optimisers and the engine's entry point accept them too
    for r2 in (gdyn.adam(m, w0, 1e-3, 2, observe=("trace", "block_sharpness")),
               gdyn.momentum(m, w0, 1e-2, 2, observe=("trace", "block_sharpness")),
               gdyn.run(m, gdyn.RMSProp(), w0, lr=1e-3, steps=2, observe=("trace", "block_sharpness")),
               gdyn.gradient_flow(m, w0, 0.1, n_records=2, observe=("trace", "block_sharpness"))):
        assert r2.trace.shape == (r2.t.size, 2) and np.all(np.isfinite(r2.trace))
        assert r2.block_sharpness.shape == (r2.t.size, 2, 3)


def test_loss_slices():
    m = MODELS["mlp_tanh"]
    w = _point(m, 8, batch=(2,))
    res = gdyn.loss_slice(m, w, "random", n_points=11, span=0.5)
    assert res.loss.shape == (2, 11) and res.alpha[5] == 0.0
    np.testing.assert_allclose(res.loss[:, 5], m.loss(w), rtol=1e-14)
    # filter normalisation (Li et al. 2018): each row of each weight matrix has the norm of the same row of w;
    # biases are not moved
    D = res.directions[:, 0]
    for g in m.groups:
        e = g.start + g.n_filters * g.filter_size
        dn = np.linalg.norm(D[:, g.start:e].reshape(2, g.n_filters, -1), axis=2)
        wn = np.linalg.norm(w[:, g.start:e].reshape(2, g.n_filters, -1), axis=2)
        np.testing.assert_allclose(dn, wn, rtol=1e-12)
        np.testing.assert_array_equal(D[:, e:g.stop], 0.0)
    np.testing.assert_allclose(res.loss[:, 8], m.loss(w + res.alpha[8] * D), rtol=1e-14)
    # along the top eigenvector the second difference is the top eigenvalue (to O(h^2))
    h = 1e-3
    ev = gdyn.loss_slice(m, w, "eigenvectors", n_directions=2, n_points=3, span=h)
    assert ev.loss.shape == (2, 3, 3) and ev.dims["loss"] == ("run", "alpha", "beta")
    curv = (ev.loss[:, 0, 1] - 2 * ev.loss[:, 1, 1] + ev.loss[:, 2, 1]) / h**2
    np.testing.assert_allclose(curv, gdyn.sharpness(m, w), rtol=1e-5)
    # the path between two iterates: a = 0 and a = 1 are its ends
    w1 = w + 0.1
    path = gdyn.loss_slice(m, w, "path", w_end=w1, span=(0.0, 1.0), n_points=5)
    np.testing.assert_allclose(path.loss[:, [0, -1]], np.stack([m.loss(w), m.loss(w1)], axis=1), rtol=1e-12)


def test_density_on_grid_is_a_density():
    m = MODELS["diagonal_linear"]
    nodes, weights = gdyn.spectral_density(m, _point(m, 9, batch=(2,)), probes=4, steps=30)
    lo, hi = np.nanmin(nodes), np.nanmax(nodes)
    grid = np.linspace(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo), 4001)
    rho = gdyn.density_on_grid(nodes, weights, grid)
    assert rho.shape == (2, grid.size) and np.all(rho >= 0)
    np.testing.assert_allclose(np.trapezoid(rho, grid, axis=-1), 1.0, atol=1e-6)


def test_bad_arguments():
    m = MODELS["mlp_tanh"]
    w = m.init(0)
    with pytest.raises(ValueError, match="method"):
        gdyn.hessian_trace(m, w, method="lanczos")
    with pytest.raises(ValueError, match="probes >= 3"):
        gdyn.hessian_trace(m, w, method="hutch++", probes=2)
    with pytest.raises(ValueError, match="probes"):
        gdyn.spectral_density(m, w, probes=0)
    with pytest.raises(ValueError, match="eigenvalues_above"):
        gdyn.gd(m, w, 0.1, 1, observe=("eigenvalues_above:big",))
    with pytest.raises(ValueError, match="path"):
        gdyn.loss_slice(m, w, "path")
    with pytest.raises(ValueError, match="direction"):
        gdyn.loss_slice(m, w, np.ones((3, m.n_params)))
    with pytest.raises(ValueError, match="groups"):
        gm.Model("bad", 4, m._loss_grad, groups=[("a", 0, 2), ("b", 3, 4)])
    with pytest.raises(TypeError, match="Model"):
        gdyn.hessian_diagonal("m", w)
