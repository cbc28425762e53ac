"""Central flows (gdsim.dynamics.central_flow) and the third-derivative contractions they need.

Oracles: finite differences of exact Hessian-vector products (Richardson-extrapolated, written here), an
analytic third derivative of a custom model, the closed-form one-eigenvalue SDCP, planted SDCP solutions,
and gdsim.dynamics.gradient_flow below the edge of stability.
"""

import numpy as np
import pytest

import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim.dynamics import _central as central
from gdsim.models import _mlp


def _fd_third(m, w, u, v, e):
    """Oracle: D_u (H(w) v) by Richardson-extrapolated central differences of the exact HVP (error O(e^4))."""
    def d(h):
        return (m.hvp(w + h * u, v) - m.hvp(w - h * u, v)) / (2 * h)
    return (4 * d(e / 2) - d(e)) / 3


def _random_point(m, rng, seed):
    # biases and weights all non-zero (no ReLU pre-activation sits exactly on its kink)
    return m.init(seed) + 0.3 * rng.standard_normal(m.n_params)


@pytest.mark.parametrize("activation", _mlp.ACTIVATIONS)
def test_third_derivative_exact_for_every_zoo_activation(activation):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 3))
    Y = rng.standard_normal((12, 2))
    m = gm.mlp([3, 5, 4, 2], activation, "mse", data=(X, Y))
    for k in range(2):
        w = _random_point(m, rng, k)
        u, v = rng.standard_normal((2, m.n_params))
        u /= np.linalg.norm(u)
        v /= np.linalg.norm(v)
        g = central.third_derivative(m, w, u, v)
        oracle = _fd_third(m, w, u, v, 1e-4)
        # the complex step of the R-op is exact to rounding; the oracle's error is O(e^4) + O(eps / e): ~1e-12
        # (e = 1e-4 along a unit u moves no ReLU pre-activation across its kink at these points)
        assert np.abs(g - oracle).max() <= 1e-8 * np.abs(oracle).max()
        # symmetric in (u, v) (the third derivative is totally symmetric)
        g2 = central.third_derivative(m, w, v, u)
        assert np.abs(g - g2).max() <= 1e-10 * np.abs(g).max()
        # the documented approximation (fourth-order differences of HVPs) agrees too
        fd = central.third_derivative(m, w, u, v, method="finite_difference")
        assert np.abs(fd - g).max() <= 1e-8 * np.abs(g).max()


def test_sharpness_gradient_against_differences_of_the_sharpness():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((16, 3))
    Y = np.tanh(X[:, :2])
    m = gm.mlp([3, 6, 2], "tanh", "cross_entropy", data=(X, np.eye(2)[(X[:, 0] > 0).astype(int)]))
    w = _random_point(m, rng, 0)
    grad_s = central.sharpness_gradient(m, w)
    d = rng.standard_normal(m.n_params)
    d /= np.linalg.norm(d)
    e = 1e-3
    lam = [gdyn.sharpness(m, w + s * e * d, tol=1e-14) for s in (2, 1, -1, -2)]
    # four-point derivative of lambda_1 along d: truncation ~e^4, eigenvalue error ~1e-14 / e
    slope = (-lam[0] + 8 * lam[1] - 8 * lam[2] + lam[3]) / (12 * e)
    assert abs(grad_s @ d - slope) <= 1e-8 * np.linalg.norm(grad_s)
    del Y


def test_third_derivative_of_a_custom_model_by_differences():
    def quartic(w, a, c, g):
        r = w * w - a
        s = np.sum(c * w)
        for i in range(w.size):
            g[i] = 4.0 * r[i] * w[i] + s ** 3 * c[i]
        return np.sum(r * r) + 0.25 * s ** 4

    rng = np.random.default_rng(1)
    P = 6
    a, c = rng.standard_normal(P), rng.standard_normal(P)
    m = gm.custom(quartic, P, data=(a, c))
    w, u, v = rng.standard_normal((3, P))
    # analytic: D^3 [sum (w^2 - a)^2 + (c.w)^4 / 4][u, v, .] = 24 w u v + 6 (c.w)(c.u)(c.v) c
    exact = 24 * w * u * v + 6 * (c @ w) * (c @ u) * (c @ v) * c
    g = central.third_derivative(m, w, u, v)
    assert np.abs(g - exact).max() <= 1e-8 * np.abs(exact).max()
    with pytest.raises(ValueError, match="complex"):
        central.third_derivative(m, w, u, v, method="complex_step")


def test_sdcp_closed_form_and_planted_solutions():
    # k = 1: X = max(0, -A / B)
    X, _ = central.solve_sdcp([[-0.3]], [[2.0]])
    assert abs(X[0, 0] - 0.15) <= 1e-15
    X, _ = central.solve_sdcp([[0.3]], [[2.0]])
    assert X[0, 0] == 0.0
    rng = np.random.default_rng(0)
    k = 3
    for trial in range(5):
        Gv = rng.standard_normal((k * k, 12))
        Gv = Gv.reshape(k, k, 12)
        Gv = 0.5 * (Gv + Gv.transpose(1, 0, 2)).reshape(k * k, 12)  # g_ij = g_ji
        Gm = Gv @ Gv.T
        # planted: X* = rank-2 PSD, S* = A + B[X*] PSD with S* X* = 0
        Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
        Xs = Q[:, :2] @ np.diag(rng.uniform(0.5, 2, 2)) @ Q[:, :2].T
        Ss = Q[:, 2:] @ np.diag(rng.uniform(0.5, 2, 1)) @ Q[:, 2:].T
        A = Ss - (Gm @ Xs.reshape(-1)).reshape(k, k)
        X, res = central.solve_sdcp(A, Gm)
        S = A + (Gm @ X.reshape(-1)).reshape(k, k)
        assert np.linalg.eigvalsh(X)[0] >= -1e-10
        assert np.linalg.eigvalsh(0.5 * (S + S.T))[0] >= -1e-10
        assert abs(np.sum(X * S)) <= 1e-10
        # the planted solution is the unique one when B is positive definite on Sym(k) (6 <= 12 directions)
        assert np.abs(X - Xs).max() <= 1e-8


def _small_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 4))
    Y = np.tanh(X @ rng.standard_normal((4, 2)))
    m = gm.mlp([4, 8, 2], "tanh", "mse", data=(X, Y))
    return m, m.init(0)


def test_below_the_edge_the_central_flow_is_gradient_flow():
    m, w0 = _small_problem()
    lam0 = gdyn.sharpness(m, w0)
    lr = 0.5 / lam0  # sharpness stays far below 2 / lr over this horizon
    cf = gdyn.central_flow(m, w0, lr, 20.0, record_interval=5.0, observe=("loss", "sharpness", "w"))
    assert np.all(cf.n_edge == 0) and np.all(cf.predicted_loss == cf.loss)
    assert np.all(cf.sharpness * lr < 1.9)
    gf = gdyn.gradient_flow(m, w0, lr * 20.0, record_interval=lr * 5.0, observe=("loss", "w"))
    # both integrate dw/dt = -lr grad L with Dormand-Prince 5(4) at rtol 1e-10 (restarted at every substep
    # here): agreement to the integrators' tolerance, ~1e-9 relative
    assert np.abs(cf.w - gf.w).max() <= 1e-7 * np.abs(gf.w).max()
    assert np.allclose(cf.loss, gf.loss, rtol=1e-7, atol=0)


def test_at_the_edge_the_sharpness_is_pinned_at_two_over_lr():
    import gdsim.data as gdata

    # a small digits net whose sharpness rises to 2/lr within ~15 steps (measured: edge at t = 14, then one
    # eigenvalue and later two at the edge)
    ds = gdata.load("digits", n_samples=128, seed=0)
    m = gm.mlp([64, 8, 8, 10], "tanh", "mse", data=(ds.X, ds.one_hot()), init_scale=0.5)
    w0 = m.init(np.random.SeedSequence(0, spawn_key=(0,)))
    lr = 0.8
    cf = gdyn.central_flow(m, w0, lr, 36.0, record_interval=1.0, observe=("loss", "sharpness"))
    at_edge = np.flatnonzero(cf.n_edge > 0)
    assert at_edge.size >= 15, "the flow must reach the edge"
    # from the record after the first one at the edge on (entering, the eigenvalue can still be below 2/lr)
    at_edge = at_edge[1:]
    ratio = cf.sharpness[at_edge] * lr / 2
    assert np.abs(ratio - 1).max() <= 1e-6  # measured ~1e-10 (projected at whole steps; Euler alone: ~3e-6)
    # the predicted time-averaged loss exceeds the flow's loss by the oscillation's energy tr(Sigma) / lr
    osc = cf.oscillation[at_edge]
    assert np.all(osc > 0)
    assert np.allclose(cf.predicted_loss[at_edge] - cf.loss[at_edge], osc ** 2 / lr, rtol=1e-5)
    # below the edge (before it) the flow's sharpness rises: progressive sharpening
    before = slice(0, int(cf.first_edge_time) - 1)
    assert cf.sharpness[before][-1] > 1.1 * cf.sharpness[4]  # measured 0.99 vs 0.86 x 2/lr


def test_the_central_flow_is_batched_and_deterministic_across_thread_counts():
    import numba

    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    m = gm.mlp([3, 4, 2], "tanh", "mse", data=(X, Y))
    w0 = m.init(seed=np.arange(2))
    kw = dict(record_interval=2.0, observe=("loss", "sharpness", "w"))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = gdyn.central_flow(m, w0, 0.5, 6.0, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = gdyn.central_flow(m, w0, 0.5, 6.0, **kw)
    finally:
        numba.set_num_threads(old)
    assert a.loss.shape == (4, 2)
    for name in ("loss", "sharpness", "w", "predicted_loss"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    # each run is its own flow: the batched call equals the runs one at a time
    one = gdyn.central_flow(m, w0[1], 0.5, 6.0, **kw)
    np.testing.assert_allclose(one.loss, a.loss[:, 1], rtol=1e-12, atol=0)
