"""gdsim.dynamics.training_jacobian: J = d w_T / d w_0 against oracles written here.

Oracles:
* the product formula with dense Hessians (``Model.hessian``: P Hessian-vector products on unit vectors,
  symmetrised) multiplied in NumPy along a trajectory recorded by the engine (``gdsim.dynamics.gd`` /
  ``sgd``), and for momentum the 2P x 2P block maps [[I - lr H, -lr beta I], [H, beta I]];
* central finite differences of whole training runs computed by the engine (an independent, looser check);
* the convex case (linear regression, constant PSD Hessian H): J = (I - lr H)^T exactly, so the singular values
  are |1 - lr lambda_i|^T, all <= 1 when lr lambda_max < 2.
"""

import numpy as np
import pytest

import gdsim.dynamics as gdyn
import gdsim.models as gm


def _classifier(n=20, d=3, h=4, c=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    return gm.mlp([d, h, c], "tanh", "cross_entropy", data=(X, y))


def _cosine(lr0, T):
    return lr0 * 0.5 * (1.0 + np.cos(np.pi * np.arange(T) / T))


def _sv(J):
    return np.linalg.svd(J, compute_uv=False)


def test_gd_matches_the_product_of_dense_hessians():
    m = _classifier()
    P, T, lr = m.n_params, 40, 0.5
    w0 = m.init(0)
    # the trajectory from the engine (its own batched GD path), the Hessians dense from unit-vector HVPs
    W = gdyn.gd(m, w0, lr, T, record_every=1, observe=("w",)).w
    J_oracle = np.eye(P)
    for t in range(T):
        J_oracle = (np.eye(P) - lr * m.hessian(W[t])) @ J_oracle  # latest step on the left
    s_oracle = _sv(J_oracle)
    res = gdyn.training_jacobian(m, w0, gdyn.GD(), T, k=4, lr=lr)
    # the two trajectories agree to rounding (1e-16 relative), amplified by at most sigma_1 ~ 10 along the run:
    # measured: max relative error 2.8e-10 over all 31 values (sigma_min ~ 6e-8), 5e-16 sigma_1 in absolute terms
    np.testing.assert_allclose(res.singular_values, s_oracle, rtol=1e-8, atol=1e-12 * s_oracle[0])
    assert s_oracle[0] > 1.0  # non-convex: the tanh net's negative curvature gives a chaotic direction
    U, s, Vt = np.linalg.svd(J_oracle)
    np.testing.assert_allclose(res.alignment, np.einsum("ij,ji->j", U, Vt), atol=1e-7)
    # Lanczos on J^T J (forward tangents and a reverse pass): the top values to 1e-8 relative; the smallest is
    # accurate to tol * sigma_1^2 in sigma^2 only (Ritz values below that resolution merge), so it is compared
    # in sigma^2, absolutely (here sigma_min^2 ~ 3e-15, below the resolution 1e-10 sigma_1^2)
    lz = gdyn.training_jacobian(m, w0, gdyn.GD(), T, k=3, lr=lr, method="lanczos", max_iter=P)
    assert lz.meta["converged"]
    np.testing.assert_allclose(lz.top, s_oracle[:3], rtol=1e-8)
    assert abs(lz.bottom[0] ** 2 - s_oracle[-1] ** 2) <= 1e-8 * s_oracle[0] ** 2
    np.testing.assert_allclose(np.abs(lz.top_alignment), np.abs(res.top_alignment[:3]), atol=1e-6)


def test_sgd_momentum_schedule_matches_the_block_product():
    """The authors' setting: minibatch SGD, heavy ball 0.9, cosine-decaying lr; minibatch Hessians at w_t."""
    m = _classifier()
    P, T, beta, B = m.n_params, 30, 0.9, 5
    lr = _cosine(0.3, T)
    w0 = m.init(1)
    opt = gdyn.SGD(B, replace=False, momentum=beta)
    tr = gdyn.training_trajectory(m, w0, opt, T, lr=lr, seed=7)
    # the oracle recomputes the run in NumPy from the stored minibatch indices: w, b, the update, the Hessians
    X, Y, arch = m.data
    w, b = w0.copy(), np.zeros(P)
    M = np.eye(2 * P)[:, :P]
    for t in range(T):
        idx = tr.batches[t]
        assert np.unique(idx).size == B  # without replacement
        mb = m.with_data((X[idx], Y[idx], arch))
        H = mb.hessian(w)
        M = np.block([[np.eye(P) - lr[t] * H, -lr[t] * beta * np.eye(P)], [H, beta * np.eye(P)]]) @ M
        _, g = mb.loss_grad(w)
        b = beta * b + g
        w = w - lr[t] * b
    np.testing.assert_allclose(tr.w_final, w, rtol=1e-12, atol=1e-12)
    s_oracle = _sv(M[:P])
    res = gdyn.training_jacobian(m, w0, opt, T, k=3, lr=lr, seed=7)
    np.testing.assert_allclose(res.singular_values, s_oracle, rtol=1e-8, atol=1e-12 * s_oracle[0])
    assert s_oracle[0] > 1.0


def test_sgd_momentum_matches_finite_differences_of_whole_runs():
    """Central differences of whole SGD runs computed by the engine (gdsim.dynamics.sgd), same minibatches."""
    m = _classifier()
    P, T, lr, B = m.n_params, 30, 0.2, 5
    w0 = m.init(2)
    opt = gdyn.SGD(B, momentum=0.9)
    eps = 1e-5
    W0 = np.concatenate([w0 + eps * np.eye(P), w0 - eps * np.eye(P), w0[None]])
    # a list of equal seeds gives every run the same minibatch stream (key = the seed's first child)
    r = gdyn.sgd(m, W0, lr, T, batch_size=B, momentum=0.9, seed=[11] * (2 * P + 1), record_every=T, observe=("w",))
    wT = r.w[-1]
    tr = gdyn.training_trajectory(m, w0, opt, T, lr=lr, seed=11)
    assert np.array_equal(tr.w_final, wT[-1])  # the same stream and arithmetic: the same bits
    J_fd = (wT[:P] - wT[P:2 * P]).T / (2 * eps)
    J = tr.dense()
    # central differences: truncation eps^2 |w_T'''| / 6 and rounding ~1e-16 |w_T| / eps ~ 1e-11 (times the
    # growth sigma_1 = 24); measured max |J - J_fd| = 3.8e-9 max |J| and singular values within 1.6e-9 sigma_1
    # (9.5e-8 relative, at sigma_min = 0.0085), so 1e-6 is a loose bound that still fails for any wrong factor (a
    # single step off by one changes J by O(lr |H|) ~ 1e-2)
    scale = np.abs(J).max()
    assert np.abs(J - J_fd).max() < 1e-6 * scale
    np.testing.assert_allclose(_sv(J), _sv(J_fd), rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("opt", [gdyn.HeavyBall(0.8), gdyn.Nesterov(0.8), gdyn.SGD(4, momentum=0.5, nesterov=True)])
def test_trajectory_bits_and_transpose(opt):
    m = _classifier()
    w0 = m.init(3)
    T, lr = 25, 0.1
    tr = gdyn.training_trajectory(m, w0, opt, T, lr=lr, seed=5)
    ref = gdyn.run(m, opt, w0, lr=lr, steps=T, seed=5, record_every=T, observe=("w",))
    assert np.array_equal(tr.w_final, ref.w[-1])
    rng = np.random.default_rng(0)
    u, x = rng.standard_normal((2, m.n_params))
    lhs, rhs = tr.vjp(u) @ x, u @ tr.jvp(x)
    # the transpose pass is the exact adjoint of the forward pass: equal to rounding
    assert abs(lhs - rhs) <= 1e-12 * abs(rhs)
    # J v row by row equals J v of the stacked rows, and the dense J
    V = rng.standard_normal((3, m.n_params))
    np.testing.assert_allclose(tr.jvp(V), (tr.dense() @ V.T).T, rtol=1e-12, atol=1e-13)


def test_convex_gd_never_exceeds_one_and_equals_the_closed_form():
    """Linear regression (H = X^T X / N, PSD and constant): J = (I - lr H)^T, sigma_i = |1 - lr lambda_i|^T."""
    rng = np.random.default_rng(4)
    N, d, T = 30, 8, 60
    X = rng.standard_normal((N, d)) * np.linspace(0.2, 2.0, d)
    y = rng.standard_normal((N, 1))
    m = gm.mlp([d, 1], "linear", "mse", data=(X, y))
    lam_full = np.linalg.eigvalsh(m.hessian(m.init(0)))
    assert lam_full.min() > -1e-12  # PSD
    for factor in (1.0, 1.9):
        lr = factor / lam_full.max()
        res = gdyn.training_jacobian(m, m.init(0), gdyn.GD(), T, k=2, lr=lr)
        s = res.singular_values
        # the bound of the spec: lr lambda < 2 and H PSD give ||I - lr H|| <= 1 at every step
        assert s.max() <= 1.0 + 1e-12
        np.testing.assert_allclose(s, np.sort(np.abs(1.0 - lr * lam_full) ** T)[::-1], rtol=1e-8, atol=1e-14)
    # beyond lr lambda_max = 2 (the edge of stability) the top factor |1 - lr lambda_max| exceeds 1: sigma_1 > 1
    lr = 2.05 / lam_full.max()
    res = gdyn.training_jacobian(m, m.init(0), gdyn.GD(), T, k=1, lr=lr)
    np.testing.assert_allclose(res.top[0], (lr * lam_full.max() - 1.0) ** T, rtol=1e-8)
    assert res.top[0] > 1.0


def test_divergence_is_recorded_and_bad_input_is_refused():
    m = _classifier()
    w0 = m.init(0)
    res = gdyn.training_jacobian(m, w0, gdyn.GD(), 50, k=2, lr=1e9)
    assert res.meta["diverged_step"] >= 0 and np.all(np.isnan(res.top))
    with pytest.raises(ValueError, match="Adam"):
        gdyn.training_jacobian(m, w0, gdyn.Adam(), 5, lr=0.1)
    with pytest.raises(TypeError, match="optimiser"):
        gdyn.training_jacobian(m, w0, "gd", 5, lr=0.1)
    with pytest.raises(ValueError, match="schedule"):
        gdyn.training_jacobian(m, w0, gdyn.GD(), 5, lr=np.ones(4))
    with pytest.raises(ValueError, match="one parameter vector"):
        gdyn.training_jacobian(m, m.init(0, batch=(2,)), gdyn.GD(), 5, lr=0.1)
    with pytest.raises(ValueError, match="method"):
        gdyn.training_jacobian(m, w0, gdyn.GD(), 5, lr=0.1, method="svd")
    with pytest.raises(ValueError, match="batch_size"):
        gdyn.training_jacobian(m, w0, gdyn.SGD(1000), 5, lr=0.1)
