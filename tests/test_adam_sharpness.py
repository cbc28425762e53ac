"""gdsim.adam_sharpness: closed forms against dense Hessians, the label noise against a NumPy oracle of the
counter-based generator, and the quick tier's claim of Li, Wen, Lyu (NeurIPS 2025)."""

import numpy as np
import pytest

import gdsim.adam_sharpness as gas
import gdsim.dynamics as gdyn
from gdsim._core.counter_rng import uniform01_numpy


def _interpolating(parametrisation, seed=0, n=7, d=5):
    """A problem whose labels are fitted exactly by a random (u, v): y = X beta(u, v)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    u, v = rng.standard_normal(d), rng.standard_normal(d)
    beta = u * v if parametrisation == "product" else u * u - v * v
    p = gas.SparseRegression(X=X, y=X @ beta, beta_star=np.zeros(d))
    return p, np.concatenate([u, v, [12345.0, 0.0]])


def oracle_hessian(p, w, parametrisation):
    """The (u, v) Hessian of (1/2N) sum_i (<beta, x_i> - y_i)^2 from the Jacobian and the second derivatives."""
    d = p.d
    u, v = w[:d], w[d:2 * d]
    if parametrisation == "product":
        J = np.hstack([p.X * v, p.X * u])
        beta = u * v
    else:
        J = np.hstack([2 * p.X * u, -2 * p.X * v])
        beta = u * u - v * v
    r = p.X @ beta - p.y
    c = p.X.T @ r / p.n
    H = J.T @ J / p.n
    if parametrisation == "product":
        H[np.arange(d), d + np.arange(d)] += c
        H[d + np.arange(d), np.arange(d)] += c
    else:
        H[np.arange(d), np.arange(d)] += 2 * c
        H[d + np.arange(d), d + np.arange(d)] -= 2 * c
    return H


@pytest.mark.parametrize("parametrisation", gas.PARAMETRISATIONS)
def test_closed_forms_match_dense_hessians(parametrisation):
    p, w = _interpolating(parametrisation)
    m = gas.label_noise_diagonal(p, parametrisation=parametrisation)
    H_engine = m.hessian(w)[:2 * p.d, :2 * p.d]  # P exact Hessian-vector products (the key and clock rows are 0)
    H = oracle_hessian(p, w, parametrisation)
    np.testing.assert_allclose(H_engine, H, rtol=0, atol=1e-12 * np.abs(H).max())
    d = np.diag(H)
    assert gas.trace_hessian(p, w, parametrisation) == pytest.approx(d.sum(), rel=1e-12)
    assert gas.trace_sqrt_diag_hessian(p, w, parametrisation) == pytest.approx(np.sqrt(d).sum(), rel=1e-12)
    assert gas.trace_sqrt_diag_hessian(p, w, parametrisation, at_interpolation=False) == pytest.approx(
        np.sqrt(d).sum(), rel=1e-12)
    # the spec's interpolating-point formulas, written out
    u, v = w[:p.d], w[p.d:2 * p.d]
    mj = np.mean(p.X ** 2, axis=0)
    c = 4.0 if parametrisation == "pm" else 1.0
    assert d.sum() == pytest.approx(c * np.sum((u * u + v * v) * mj), rel=1e-12)
    assert np.sqrt(d).sum() == pytest.approx(np.sqrt(c) * np.sum((np.abs(u) + np.abs(v)) * np.sqrt(mj)), rel=1e-12)
    # away from interpolation the diagonal keeps the residual terms
    w2 = w + 0.3 * np.r_[np.random.default_rng(1).standard_normal(2 * p.d), 0, 0]
    np.testing.assert_allclose(gas.hessian_diagonal(p, w2, parametrisation),
                               np.diag(oracle_hessian(p, w2, parametrisation)), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("parametrisation", gas.PARAMETRISATIONS)
def test_fibre_minima(parametrisation):
    rng = np.random.default_rng(4)
    p = gas.sparse_regression(n_samples=10, d=6, sparsity=2, seed=3)
    beta = rng.standard_normal(6)
    tr_min, sq_min = gas.fibre_minima(p, beta, parametrisation)
    for _ in range(20):  # random points of the fibre {beta(u, v) = beta}: never below the minima
        a = rng.uniform(0, 2, 6)
        if parametrisation == "pm":
            u, v = np.sqrt(np.maximum(beta, 0) + a), np.sqrt(np.maximum(-beta, 0) + a)
        else:
            u = np.sign(beta) * np.sqrt(np.abs(beta)) * (1 + a)
            v = np.sqrt(np.abs(beta)) / (1 + a)
        w = np.r_[u, v]
        assert gas.trace_hessian(p, w, parametrisation) >= tr_min * (1 - 1e-12)
        assert gas.trace_sqrt_diag_hessian(p, w, parametrisation) >= sq_min * (1 - 1e-12)
    # the minimisers: u v = 0 (pm) and |u| = |v| (product); there the closed forms are equalities
    if parametrisation == "pm":
        w = np.r_[np.sqrt(np.maximum(beta, 0)), np.sqrt(np.maximum(-beta, 0))]
    else:
        w = np.r_[np.sign(beta) * np.sqrt(np.abs(beta)), np.sqrt(np.abs(beta))]
    q = gas.SparseRegression(X=p.X, y=p.X @ beta, beta_star=beta)  # so that w interpolates
    assert gas.trace_hessian(q, w, parametrisation) == pytest.approx(tr_min, rel=1e-12)
    assert gas.trace_sqrt_diag_hessian(q, w, parametrisation) == pytest.approx(sq_min, rel=1e-12)


def test_label_noise_is_the_counter_generator_keyed_by_the_clock():
    p = gas.sparse_regression(n_samples=9, d=4, sparsity=1, seed=0)
    m = gas.label_noise_diagonal(p, noise_std=0.5)
    w = np.r_[np.linspace(0.1, 0.4, 4), np.linspace(-0.2, 0.3, 4), 777.0, 0.0]
    clean = gas.label_noise_diagonal(p, noise_std=0.0)
    beta = w[:4] ** 2 - w[4:8] ** 2
    losses = []
    for clock in (0.0, 0.01, 0.02):
        w[-1] = clock
        bits = np.array([clock]).view(np.uint64)[0]
        s = np.where(uniform01_numpy(np.uint64(777), bits, np.arange(9)) < 0.5, 1.0, -1.0)
        r = p.X @ beta - p.y - 0.5 * s
        loss, g = m.loss_grad(w)
        assert loss == pytest.approx(0.5 * np.mean(r * r), rel=1e-13)
        np.testing.assert_allclose(g[:4], 2 * w[:4] * (p.X.T @ r) / 9, rtol=1e-12, atol=1e-15)
        assert g[-2] == 0.0 and g[-1] == -1.0  # the key stays, the clock advances
        losses.append(loss)
    assert len(set(losses)) == 3  # a new clock value, new signs
    # the noise-free model's Hessian is the noisy model's (the noise enters the loss linearly in r)
    np.testing.assert_allclose(m.hvp(w, np.ones(10)), clean.hvp(w, np.ones(10)), rtol=1e-14)


def test_runs_are_reproducible_and_clocks_advance():
    p = gas.sparse_regression(n_samples=20, d=10, sparsity=2, seed=1)
    m = gas.label_noise_diagonal(p)
    w0 = m.init(seed=5, batch=(2,))
    assert w0[0, -2] != w0[1, -2] and np.all(w0[:, -1] == 0)  # one key per run
    a = gdyn.gd(m, w0, lr=0.05, steps=300, record_every=300)
    b = gdyn.gd(m, w0[::-1].copy(), lr=0.05, steps=300, record_every=300, parallel=False)
    np.testing.assert_array_equal(a.w_final, b.w_final[::-1])  # a run's noise is its own, whatever the batch
    np.testing.assert_allclose(a.w_final[:, -1], 300 * 0.05, rtol=1e-12)
    c = gdyn.adam(m, w0, lr=1e-3, steps=300, eps=1e-6, record_every=300)
    np.testing.assert_allclose(c.w_final[:, -1], 300 * 1e-3 / (1 + 1e-6), rtol=1e-9)
    np.testing.assert_array_equal(c.w_final[:, -2], w0[:, -2])


def test_quick_tier_claim():
    """Li, Wen, Lyu (NeurIPS 2025): with label noise SGD reduces tr(H), Adam tr(Diag(H)^{1/2}). The issue asks
    whether at the quick tier Adam ends with the smaller tr(Diag(H)^{1/2}) and SGD with the smaller tr(H) on at
    least 4 of 5 seeds ("end": mean over the last 10 % of the steps). Measured: the tr(H) half holds (5/5), the
    Adam half does not (0/5), because on this problem both optimisers end next to beta*, where the minima of
    both regularisers over the interpolating fibre are attained by the same point, and 2e5 steps (the paper
    runs 1e6-1e7) only shows how far each has drifted (see the reproduction's notes). Asserted: what holds."""
    from gdsim import repro
    from paper_repro import li2025_adam_sharpness as li

    data = li.runs(li.QUICK, repro.DEFAULT_SEED)
    c = li.claims(data, li.QUICK["window"])
    assert c["seeds"] == 5
    assert c["sgd_smaller_trace"] >= 4  # measured 5/5
    # both reach the interpolation manifold: the noise-free training loss is at the label-noise floor
    assert np.all(data["sgd_train_loss"][-1] < 0.02) and np.all(data["adam_train_loss"][-1] < 0.02)
    # ... next to beta*: tr(H) within 5 % of its fibre minimum there (measured <= 0.8 %), tr(Diag(H)^{1/2})
    # within 25 % (measured: SGD <= 5.2 %, Adam <= 13.5 %: Adam's off-support coordinates shrink more slowly)
    assert abs(c["trace_excess_max"]) < 0.05
    assert c["sqrt_excess_sgd_max"] < 0.25 and c["sqrt_excess_adam_max"] < 0.25
    # Adam generalises better on >= 4 of 5 seeds at this horizon (measured 5/5)
    assert c["adam_smaller_test_loss"] >= 4


def test_bad_input():
    with pytest.raises(ValueError, match="sparsity"):
        gas.sparse_regression(n_samples=5, d=3, sparsity=4)
    p = gas.sparse_regression(n_samples=5, d=3, sparsity=1)
    with pytest.raises(ValueError, match="parametrisation"):
        gas.label_noise_diagonal(p, parametrisation="uv")
    with pytest.raises(ValueError, match="noise_std"):
        gas.label_noise_diagonal(p, noise_std=-1.0)
    with pytest.raises(TypeError, match="SparseRegression"):
        gas.trace_hessian("p", np.ones(8))
    with pytest.raises(ValueError, match="last dimension"):
        gas.trace_hessian(p, np.ones(7))
    with pytest.raises(ValueError, match="last dimension"):
        gas.fibre_minima(p, np.ones(4))


@pytest.mark.parametrize("kind", ["completion", "gaussian"])
def test_factorisation_closed_forms_and_derivatives(kind):
    p0 = gas.factorisation_problem(d=4, rank=1, measurements=9, kind=kind, seed=2)
    rng = np.random.default_rng(8)
    U = rng.standard_normal((4, 3))
    p = gas.FactorisationProblem(A=p0.A, y=np.einsum("iab,ab->i", p0.A, U @ U.T), mstar=p0.mstar, kind=kind)
    m = gas.label_noise_factorisation(p, 3, noise_std=0.0)
    w = np.r_[U.ravel(), 5.0, 0.0]
    H = m.hessian(w)[:12, :12]
    # the oracle: J^T J / n at an interpolating point, J_i = vec((A_i + A_i^T) U)
    J = np.stack([((A + A.T) @ U).ravel() for A in p.A])
    Ho = J.T @ J / p.n
    np.testing.assert_allclose(H, Ho, rtol=0, atol=1e-12 * np.abs(Ho).max())
    tr, sq = gas.factorisation_traces(p, w)
    assert tr == pytest.approx(np.trace(Ho), rel=1e-12)
    assert sq == pytest.approx(np.sqrt(np.diag(Ho)).sum(), rel=1e-12)
    # the gradient of the noisy model against central differences (error O(e^2) ~ 1e-10 at e = 1e-5)
    mn = gas.label_noise_factorisation(p, 3, noise_std=0.5)
    w2 = w + np.r_[0.2 * rng.standard_normal(12), 0, 0]
    g = mn.loss_grad(w2)[1]
    e = 1e-5
    fd = [(mn.loss(w2 + e * dv) - mn.loss(w2 - e * dv)) / (2 * e) for dv in np.eye(14)[:12]]
    np.testing.assert_allclose(g[:12], fd, rtol=0, atol=1e-7 * np.abs(g).max())
    assert gas.factorisation_error(p, w) == pytest.approx(np.linalg.norm(U @ U.T - p.mstar) / np.linalg.norm(p.mstar))


def test_reproduction_writes_its_figures(tmp_path):
    from gdsim import repro
    from paper_repro import li2025_adam_sharpness as li

    cfg = dict(li.QUICK, n=10, d=12, k=2, seeds=2, steps=2000, records=20,
               mf=dict(li.QUICK["mf"], d=4, width=4, n=dict(completion=8, gaussian=6), steps=500, project_steps=200,
                       seeds=2))
    paths = li.main(cfg, out=tmp_path, seed=repro.DEFAULT_SEED)
    assert set(paths) == set(li.FIGURES)
    for files in paths.values():
        assert {p.suffix for p in files} >= {".png", ".npz", ".json"}
    d = np.load(tmp_path / "li2025_factorisation.npz")
    assert d["gaussian_sgd_error"].shape == (2,)


def test_observables_recorded_by_the_engine_equal_the_functions_on_the_recorded_iterates():
    # the engine evaluates gas.observe(p) at each record point; the functions applied afterwards to the
    # recorded iterates must agree exactly, for both problem kinds
    p = gas.sparse_regression(n_samples=12, d=16, sparsity=2, seed=0)
    m = gas.label_noise_diagonal(p, noise_std=0.5)
    res = gdyn.adam(m, m.init(seed=np.arange(2)), 1e-3, 60, record_every=20, observe=("loss", "w", *gas.observe(p)))
    post = gas.observables(p, res.w)
    for key, val in post.items():
        np.testing.assert_array_equal(getattr(res, key), val)
    fp = gas.factorisation_problem(d=5, rank=1, measurements=20, seed=0)
    fm = gas.label_noise_factorisation(fp, 2)
    res = gdyn.gd(fm, fm.init(seed=0), 0.01, 40, record_every=20, observe=("w", *gas.observe(fp)))
    th, ts = gas.factorisation_traces(fp, res.w)
    np.testing.assert_array_equal(res.trace_hessian, th)
    np.testing.assert_array_equal(res.trace_sqrt_diag_hessian, ts)
    np.testing.assert_array_equal(res.factorisation_error, gas.factorisation_error(fp, res.w))
    # the problem's population loss and the engine's held-out loss cannot share a name in one run
    with pytest.raises(ValueError, match="both as a built-in"):
        gdyn.adam(m, m.init(seed=0), 1e-3, 2, observe=("test_loss", *gas.observe(p)))
