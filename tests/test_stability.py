"""The stability family: zoo models, SGD's exact mean-square threshold, the grids and the closed forms."""

import numpy as np
import pytest

import gdsim.dynamics as gdyn
import gdsim.models as gm
import gdsim.stability as gst
from tests import naive

RNG = np.random.default_rng(20230722)


def _fd_check(m, w, eps=1e-6):
    """Central differences of the loss (gradient) and of the gradient (Hessian), against the model."""
    L, g = m.loss_grad(w)
    E = np.eye(m.n_params)
    fd_g = np.array([(m.loss(w + eps * e) - m.loss(w - eps * e)) / (2 * eps) for e in E])
    fd_H = np.array([(m.loss_grad(w + eps * e)[1] - m.loss_grad(w - eps * e)[1]) / (2 * eps) for e in E])
    return g, fd_g, m.hessian(w), fd_H


# ----------------------------------------------------------------------------------------- zoo models
def test_second_order_regression_gradient_and_hessian():
    P, D = 5, 3
    J = RNG.standard_normal((D, P))
    Q = RNG.standard_normal((D, P, P))
    Q = Q + Q.transpose(0, 2, 1)
    y = RNG.standard_normal(D)
    m = gm.second_order_regression(J, Q, y)
    w = RNG.standard_normal(P)
    # exact forms: residuals z_a = J_a w + w Q_a w / 2 - y_a, Jacobian rows J_a + Q_a w
    z = J @ w + 0.5 * np.einsum("i,aij,j->a", w, Q, w) - y
    Jw = J + np.einsum("aij,j->ai", Q, w)
    assert m.loss(w) == pytest.approx(0.5 * np.mean(z ** 2), rel=1e-13)
    g, fd_g, H, fd_H = _fd_check(m, w)
    np.testing.assert_allclose(g, Jw.T @ z / D, rtol=1e-12, atol=1e-13)
    H_exact = (Jw.T @ Jw + np.einsum("a,aij->ij", z, Q)) / D
    np.testing.assert_allclose(H, H_exact, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fd_g, g, rtol=1e-7, atol=1e-8)  # central differences: O(eps^2) + rounding/eps


def test_logistic_regression_gradient_hessian_and_lanczos():
    A, y, _ = gst.separable_data(40, 4, seed=1)
    m = gm.logistic_regression((A, y), l2=0.01)
    w = RNG.standard_normal(4)
    mg = y * (A @ w)
    s = 1 / (1 + np.exp(-mg))
    assert m.loss(w) == pytest.approx(np.mean(np.logaddexp(0, -mg)) + 0.005 * w @ w, rel=1e-13)
    g, fd_g, H, _ = _fd_check(m, w)
    np.testing.assert_allclose(g, -(A.T @ (y * (1 - s))) / len(y) + 0.01 * w, rtol=1e-12, atol=1e-14)
    H_exact = (A.T * (s * (1 - s))) @ A / len(y) + 0.01 * np.eye(4)
    np.testing.assert_allclose(H, H_exact, rtol=1e-12, atol=1e-14)
    # the acceptance: the shared layer's Lanczos sharpness equals the exact logistic Hessian's to 1e-10
    exact = np.linalg.eigvalsh(H_exact)[-1]
    assert abs(gdyn.sharpness(m, w) / exact - 1) < 1e-10
    with pytest.raises(ValueError, match="labels"):
        gm.logistic_regression((A, (y + 1) / 2))


def test_deep_matrix_factorisation_gradient_and_hessian():
    M = RNG.standard_normal((3, 4))
    m = gm.deep_matrix_factorisation(M, 3, widths=[2, 5])
    w = RNG.standard_normal(m.n_params)
    assert m.loss(w) == pytest.approx(naive.dmf_loss(w, M, m.data[1]), rel=1e-13)
    g, fd_g, H, fd_H = _fd_check(m, w, eps=1e-5)
    # degree-6 polynomial with O(10) coefficients: central differences at eps = 1e-5 are good to ~1e-8 relative
    scale = np.abs(g).max()
    np.testing.assert_allclose(g, fd_g, rtol=0, atol=1e-7 * scale)
    np.testing.assert_allclose(H, fd_H, rtol=0, atol=1e-6 * np.abs(H).max())


# ----------------------------------------------------------------------------- Kamber-Parhi exact sharpness
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 3)])
def test_depth_two_sharpness_is_the_sum_of_squared_spectral_norms(shape):
    M = RNG.standard_normal(shape)
    Ws = gst.dmf_balanced_factors(M, 2)
    A = np.eye(Ws[0].shape[0]) + 0.4 * RNG.standard_normal((Ws[0].shape[0],) * 2)
    Wu = [A @ Ws[0], Ws[1] @ np.linalg.inv(A)]
    m = gm.deep_matrix_factorisation(M, 2)
    for W in (Ws, Wu):
        w = np.concatenate([x.ravel() for x in W])
        assert m.loss(w) < 1e-25  # a minimiser
        exact = np.linalg.norm(W[0], 2) ** 2 + np.linalg.norm(W[1], 2) ** 2
        assert gst.dmf_sharpness(W) == exact
        # Kamber-Parhi: lambda_max = ||W1||^2 + ||W2||^2 at every minimiser, to 1e-10 (dense J for d <= 4)
        assert abs(np.linalg.eigvalsh(m.hessian(w))[-1] / exact - 1) < 1e-10
        assert abs(gdyn.sharpness(m, w, tol=1e-12) / exact - 1) < 1e-10
    # the flattest minimiser is balanced: 2 sigma_1(M)
    assert gst.dmf_sharpness(Ws) == pytest.approx(2 * np.linalg.norm(M, 2), rel=1e-12)


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_balanced_depth_L_sharpness(depth):
    M = RNG.standard_normal((3, 3))
    Ws = gst.dmf_balanced_factors(M, depth)
    m = gm.deep_matrix_factorisation(M, depth)
    w = np.concatenate([x.ravel() for x in Ws])
    formula = depth * np.linalg.norm(M, 2) ** (2 * (depth - 1) / depth)  # Mulayoff-Michaeli's flattest value
    assert gst.dmf_sharpness(Ws) == pytest.approx(formula, rel=1e-12)
    assert abs(np.linalg.eigvalsh(m.hessian(w))[-1] / formula - 1) < 1e-10
    assert abs(gdyn.sharpness(m, w, tol=1e-12) / formula - 1) < 1e-10
    assert gst.dmf_sharpness_bound(Ws) == pytest.approx(formula, rel=1e-10)  # the bound is tight when balanced


def test_the_general_bound_holds_and_is_strict_at_unbalanced_minimisers():
    M = RNG.standard_normal((3, 3))
    W = gst.dmf_balanced_factors(M, 3)
    m = gm.deep_matrix_factorisation(M, 3)
    ratios = []
    for _ in range(10):
        A = np.eye(3) + 0.5 * RNG.standard_normal((3, 3))
        B = np.eye(3) + 0.5 * RNG.standard_normal((3, 3))
        Wu = [A @ W[0], B @ W[1] @ np.linalg.inv(A), W[2] @ np.linalg.inv(B)]
        w = np.concatenate([x.ravel() for x in Wu])
        ratios.append(np.linalg.eigvalsh(m.hessian(w))[-1] / gst.dmf_sharpness_bound(Wu))
        with pytest.raises(ValueError, match="balanced"):
            gst.dmf_sharpness(Wu)
    assert max(ratios) <= 1 + 1e-12
    assert min(ratios) < 0.999  # strict in general (spec: 117.550 against 117.617)


def test_gd_escapes_a_minimiser_sharper_than_two_over_eta():
    M = RNG.standard_normal((3, 3))
    Ws = gst.dmf_balanced_factors(M, 3)
    w_star = np.concatenate([x.ravel() for x in Ws])
    s = gst.dmf_sharpness(Ws)
    m = gm.deep_matrix_factorisation(M, 3)
    w0 = w_star + 1e-8 * RNG.standard_normal(w_star.size)
    res = gdyn.gd(m, np.tile(w0, (2, 1)), np.array([0.95, 1.05]) * 2 / s, 2000, record_every=2000,
                  observe=("w",))
    dist = np.linalg.norm(res.w[-1] - w_star, axis=-1)
    assert dist[0] < 1e-7  # stays (the flat directions keep the perturbation, the sharp ones contract)
    assert dist[1] > 1e-3  # leaves: the unstable direction grows by (1.05 * 2 - 1) = 1.1 per step


# ----------------------------------------------------------------------------- SGD's exact threshold (Wu-Su)
def _random_hessians(rng, n, d):
    g = rng.standard_normal((n, d))
    return np.einsum("ni,nj->nij", g, g)


@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_operator_radius_matches_batch_enumeration(batch, replacement):
    rng = np.random.default_rng(batch)
    Hi = _random_hessians(rng, 4, 3)  # n >= d: no direction annihilated by every H_i
    for lr in (0.05, 0.3):
        r = gdyn.sgd_stability_radius(Hi, lr, batch, replace=replacement)
        assert r == pytest.approx(naive.sgd_second_moment_radius(Hi, lr, batch, replacement), rel=1e-12)


def test_trace_bound_at_batch_one_and_equality_for_orthogonal_gradients():
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(20):
        n, d = int(rng.integers(2, 8)), int(rng.integers(2, 6))
        Hi = _random_hessians(rng, n, d)
        H = Hi.mean(axis=0)
        eta = gdyn.sgd_stability_threshold(Hi, 1)
        worst = max(worst, eta * np.trace(H))
        lmax = np.linalg.eigvalsh(H)[-1]
        assert eta <= 2 / lmax * (1 + 1e-12)  # mean-square stability implies stability of the mean
        # GD = batches of n drawn without replacement: the threshold is exactly 2 / lambda_max
        assert gdyn.sgd_stability_threshold(Hi, n, replace=False) == pytest.approx(2 / lmax, rel=1e-12)
        # the radius is <= 1 below the threshold and > 1 above it (the bisection's interval assumption)
        for f in (0.2, 0.6, 0.999):
            assert gdyn.sgd_stability_radius(Hi, f * eta, 1) <= 1 + 1e-12
        assert gdyn.sgd_stability_radius(Hi, 1.001 * eta, 1) > 1
    # Wu & Su: eta*_1 tr(H) <= 2 (spec reference run: largest 1.877 over 20 instances)
    assert worst <= 2 + 1e-9
    g = 1.3 * np.eye(5)[:3]
    Hi = np.einsum("ni,nj->nij", g, g)
    assert gdyn.sgd_stability_threshold(Hi, 1) * np.trace(Hi.mean(axis=0)) == pytest.approx(2.0, abs=1e-9)


def test_trace_bound_fails_for_large_batches_with_replacement():
    # tr(H) <= 2/eta is a B = 1 statement: spec's reference run reached eta* tr(H) = 3.80 at B = n
    rng = np.random.default_rng(3)
    vals = [gdyn.sgd_stability_threshold(Hi, Hi.shape[0]) * np.trace(Hi.mean(axis=0))
            for Hi in (_random_hessians(rng, 6, 5) for _ in range(10))]
    assert max(vals) > 2.5


def test_threshold_input_errors():
    Hi = _random_hessians(RNG, 3, 2)
    with pytest.raises(ValueError, match="batch"):
        gdyn.sgd_stability_threshold(Hi, 4, replace=False)
    with pytest.raises(ValueError, match="symmetric"):
        gdyn.sgd_stability_threshold(RNG.standard_normal((3, 2, 2)) + np.array([[0, 1], [0, 0]]), 1)
    with pytest.raises(ValueError, match="hessians"):
        gdyn.sgd_stability_threshold(np.zeros((2, 70, 70)), 1)


@pytest.mark.slow
def test_sgd_on_a_diagonal_net_ends_where_trace_is_bounded():
    from paper_repro import wu2023_sgd_stability as wu

    cfg = {**wu.QUICK, "lrs": (0.01, 0.03, 0.05, 0.06), "seeds": 3}
    e = wu.end_points(cfg, seed=20230722)
    conv = e["sgd_converged"]
    assert conv.sum() >= 9  # spec: every eta up to 0.05 converges; at 0.06 two of three seeds diverged
    # Wu & Su's claim, per converged run: eta tr(H_final) <= 2 (+1e-6 for the rounding of the Hessian)
    assert np.nanmax(e["sgd_lr_trace"]) <= 2 + 1e-6
    # ... and the exact operator agrees: each end point is mean-square stable at its own eta
    assert np.nanmax(e["sgd_lr_over_threshold"]) <= 1 + 1e-9
    # GD is only held by lambda_max: its eta tr(H) passes 2 at eta = 0.05 and 0.06 (spec: lambda_max far from binding)
    assert np.nanmax(e["gd_lr_trace"]) > 2.5
    assert np.nanmax(e["gd_lr_lam_max"]) < 2


# ----------------------------------------------------------------------------- Agarwala second-order model
def test_second_order_claims():
    res = gst.second_order_map([1.6, 1.8], [0.1, 0.25], 20000)
    fin, mx, st = res.final_lr_ntk, res.max_lr_ntk, res.status
    # spec (reference run): eta = 1.8, eps y = 0.1: GD overshoots to 2.393 and converges at 1.9395
    assert 1.90 < fin[1, 0] < 2.00 and mx[1, 0] > 2.2 and st[1, 0] == 0
    assert fin[1, 0] == pytest.approx(1.9395, abs=5e-5)
    assert fin[0, 0] == pytest.approx(1.8424, abs=5e-5)
    # gradient flow ends above 2 at eta = 1.8 (2.107) and below at 1.6 (1.873): GD ends lower in both cases
    lam_inf = gst.second_order_flow_limit(0.1)
    assert 1.8 * lam_inf == pytest.approx(2.107, abs=5e-4) and 1.6 * lam_inf == pytest.approx(1.873, abs=5e-4)
    assert fin[0, 0] < 1.6 * lam_inf and fin[1, 0] < 2 < 1.8 * lam_inf
    # non-convergent regime: eps y = 0.25, eta = 1.6 ends in a cycle with eta lambda 2.55 on odd steps
    assert st[0, 1] != 0 and res.final_residual[0, 1] > 0.1
    assert gst.second_order_map(1.6, 0.25, 20001).final_lr_ntk[0, 0] == pytest.approx(2.555, abs=5e-3)


def test_second_order_grid_matches_numpy_and_the_zoo_model():
    lrs, eys = np.array([0.7, 1.3, 1.9]), np.array([-0.3, 0.05, 0.2])
    res = gst.second_order_map(lrs, eys, 300)
    for i, lr in enumerate(lrs):
        for j, ey in enumerate(eys):
            fin, mx, z = naive.second_order_gd(lr, ey, 300)
            assert res.final_lr_ntk[i, j] == pytest.approx(fin, rel=1e-9)
            assert res.max_lr_ntk[i, j] == pytest.approx(mx, rel=1e-12)
    # the zoo model on the shared layer runs the same dynamics; (eps, y) enter only through eps * y
    from paper_repro.agarwala2022_second_order_regression import ntk_eigenvalue, two_parameter_model

    traj = []
    for eps in (0.05, 0.02):
        m, _ = two_parameter_model(0.1, eps=eps)
        r = gdyn.gd(m, np.zeros((1, 2)), 1.8, 3000, record_every=100, observe=("w",))
        traj.append(1.8 * ntk_eigenvalue(m, r.w[:, 0]))
    np.testing.assert_allclose(traj[0], traj[1], rtol=1e-10)  # spec [REF-RUN]: identical trajectories
    assert traj[0][-1] == pytest.approx(gst.second_order_map(1.8, 0.1, 3000).final_lr_ntk[0, 0], rel=1e-10)


def test_flow_limit_matches_the_shared_layers_gradient_flow():
    from paper_repro.agarwala2022_second_order_regression import ntk_eigenvalue, two_parameter_model

    for ey in (0.1, -0.2):
        m, _ = two_parameter_model(ey, eps=1.0)
        w_inf = gdyn.gfs(m, np.zeros(2), loss_tol=1e-28)
        assert float(ntk_eigenvalue(m, w_inf)) == pytest.approx(gst.second_order_flow_limit(ey), rel=1e-8)


def test_second_order_map_on_the_sweep_engine_is_chunking_invariant(tmp_path):
    from gdsim.sweep import Sweep, run

    axes = {"lr": np.linspace(0.5, 2.5, 9), "eps_y": np.linspace(-0.4, 0.4, 7)}
    outs = []
    for k, chunks in enumerate(({"lr": 2, "eps_y": 3}, {"lr": 9, "eps_y": 7})):
        sw = Sweep("t", axes=axes, simulation="gdsim.stability.sweeps:second_order_cells", params={"steps": 500},
                   chunks=chunks)
        outs.append(run(sw, tmp_path / f"s{k}.zarr", progress=False, verbose=False).dataset())
    direct = gst.second_order_map(axes["lr"], axes["eps_y"], 500)
    for ds in outs:
        np.testing.assert_array_equal(ds["final_lr_ntk"].values, direct.final_lr_ntk)
        np.testing.assert_array_equal(ds["status"].values, direct.status)


# ----------------------------------------------------------------------------- large-step logistic regression
def test_perceptron_limit_and_one_over_gamma_scaling():
    A, y, _ = gst.separable_data(200, 10, seed=0)
    steps = gst.logistic_separation_steps((A, y), [0.01, 0.1, 1e5])
    p = gst.perceptron_steps((A, y))
    assert p == naive.perceptron(A, y, 10**4)
    # Tyurin: at gamma -> infinity, w_t / gamma is the batch perceptron (no ties in Gaussian data)
    assert steps[2] == p
    # at small gamma, steps ~ 1/gamma (spec: ratios 10.0 and 10.5 per decade; +-10 %)
    assert steps[0] / steps[1] == pytest.approx(10.0, rel=0.1)


def test_one_dimensional_logistic_threshold():
    thr, w = gst.logistic_1d_threshold(1e-2)
    assert w == pytest.approx(3.3593, abs=1e-4) and thr == pytest.approx(47.098, abs=1e-3)  # spec values
    thr3, w3 = gst.logistic_1d_threshold(1e-3)
    assert w3 == pytest.approx(5.2452, abs=1e-4) and thr3 == pytest.approx(321.66, abs=1e-2)
    # the 1/(lambda ln(1/lambda)) scaling, with the ratio about 2.2 (spec)
    for lam, t in ((1e-2, thr), (1e-3, thr3)):
        assert 2.0 < t * lam * np.log(1 / lam) < 2.4
    # GD from 0 converges at 0.99x the threshold and does not at 1.01x, on the grid kernel and the shared layer
    one = (np.ones((1, 1)), np.ones(1))
    for lam, t in ((1e-2, thr), (1e-3, thr3)):
        st = gst.logistic_map(one, [0.99 * t, 1.01 * t], lam, 100000).status[:, 0]
        assert st[0] == 0 and st[1] != 0
    m = gm.logistic_regression(one, l2=1e-2)
    r = gdyn.gd(m, np.zeros((2, 1)), np.array([0.99, 1.01]) * thr, 20000, record_every=20000, observe=("grad_norm",))
    assert r.grad_norm[-1, 0] < 1e-10 and r.grad_norm[-1, 1] > 1e-4


def test_logistic_grid_matches_numpy():
    A, y, _ = gst.separable_data(30, 3, seed=2)
    lrs, l2s = np.array([0.5, 5.0, 60.0]), np.array([1e-3, 3e-2])
    res = gst.logistic_map((A, y), lrs, l2s, 200)
    for i, lr in enumerate(lrs):
        for j, lam in enumerate(l2s):
            loss, gn = naive.logistic_gd(A, y, lr, lam, 200)
            assert res.final_loss[i, j] == pytest.approx(loss, rel=1e-10)
            assert res.grad_norm[i, j] == pytest.approx(gn, rel=1e-6, abs=1e-14)


def test_grids_do_not_depend_on_the_thread_count():
    import numba

    A, y, _ = gst.separable_data(30, 3, seed=2)
    lrs, l2s = np.geomspace(0.1, 100, 70), np.geomspace(1e-4, 1e-1, 3)
    before = numba.get_num_threads()
    out = []
    try:
        for t in (1, before):
            numba.set_num_threads(t)
            out.append((gst.logistic_map((A, y), lrs, l2s, 100).final_loss,
                        gst.second_order_map(lrs, l2s, 100).final_lr_ntk))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_grid_input_errors():
    with pytest.raises(ValueError, match="lr"):
        gst.second_order_map([-1.0], [0.1], 10)
    with pytest.raises(ValueError, match="steps"):
        gst.second_order_map([1.0], [0.1], 0)
    with pytest.raises(ValueError, match="cells"):
        gst.second_order_map(np.ones(2**14), np.ones(2**14), 10)
    with pytest.raises(ValueError, match="l2"):
        gst.logistic_map((np.ones((1, 1)), np.ones(1)), [1.0], [-1.0], 10)
    with pytest.raises(ValueError, match="l2"):
        gst.logistic_1d_threshold(0.0)


def test_vectorisable_sigmoid_matches_numpy():
    from gdsim._core.elementary import sigmoid_pade_py
    from gdsim._core.jit import jit

    f = jit(sigmoid_pade_py)
    x = np.concatenate([np.linspace(-700, 700, 20001), np.linspace(-5, 5, 10001), [0.0, 1e-300, -1e-300]])
    ref = 1 / (1 + np.exp(-x))
    got = np.array([f(v) for v in x])
    assert np.max(np.abs(got / ref - 1)) < 2e-15  # a few ulp (measured 4.9e-16)
    assert np.isnan(f(np.nan)) and f(np.inf) == 1.0 and 0 <= f(-np.inf) < 1e-300
