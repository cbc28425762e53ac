"""Tractable models of the stability papers: second-order regression, l2-regularised logistic regression and
deep matrix factorisation, each with a hand-written gradient and an exact (R-op) Hessian-vector product.

Their closed forms (thresholds, exact sharpness at minima) are in :mod:`gdsim.stability`.
"""

from __future__ import annotations

import numpy as np

from gdsim._core import validate as v
from gdsim._core.elementary import softplus_py
from gdsim._core.jit import jit
from gdsim.models._model import Model, as_data

__all__ = ["second_order_regression", "logistic_regression", "deep_matrix_factorisation"]

#: Largest parameter count of the dense tractable models (their data hold P x P blocks per sample).
_MAX_DENSE = 4096


# ------------------------------------------------------------------------------ second-order regression
@jit(cache=False)
def _sor_loss_grad(w, J, Q, y, g):
    D, P = J.shape
    g[:] = 0.0
    loss = 0.0
    for a in range(D):
        # Jacobian row of residual a at w: J_a + Q_a w; residual z_a = J_a.w + 0.5 w.Q_a.w - y_a
        z = -y[a]
        for i in range(P):
            qi = 0.0
            for j in range(P):
                qi += Q[a, i, j] * w[j]
            z += (J[a, i] + 0.5 * qi) * w[i]
        loss += 0.5 * z * z
        for i in range(P):
            qi = 0.0
            for j in range(P):
                qi += Q[a, i, j] * w[j]
            g[i] += z * (J[a, i] + qi)
    for i in range(P):
        g[i] /= D
    return loss / D


@jit(cache=False)
def _sor_hvp(w, vv, J, Q, y, out):
    D, P = J.shape
    out[:] = 0.0
    jrow = np.empty(P)
    for a in range(D):
        z = -y[a]
        jv = 0.0
        for i in range(P):
            qi = 0.0
            for j in range(P):
                qi += Q[a, i, j] * w[j]
            jrow[i] = J[a, i] + qi
            z += (J[a, i] + 0.5 * qi) * w[i]
            jv += jrow[i] * vv[i]
        for i in range(P):
            qv = 0.0
            for j in range(P):
                qv += Q[a, i, j] * vv[j]
            out[i] += jv * jrow[i] + z * qv
    for i in range(P):
        out[i] /= D


def second_order_regression(jacobian, quadratic, target, *, init_scale=0.0):
    """Second-order regression: residuals quadratic in the parameters (Agarwala, Pedregosa, Pennington).

    z_a(w) = <J_a, w> + 0.5 w^T Q_a w - y_a for data points a = 1..D, loss L(w) = (1/D) sum_a 0.5 z_a^2.

    Parameters
    ----------
    jacobian : array_like, shape (D, P) or (P,)
        J_a, the residuals' Jacobian at w = 0 (one row per data point).
    quadratic : array_like, shape (D, P, P) or (P, P)
        Q_a, symmetric (the symmetric part is used; a non-symmetric Q is a ValueError).
    target : array_like, shape (D,) or scalar
        y_a.
    init_scale : float
        ``init`` draws w_0 = init_scale N(0, I); 0 (the default) starts at w_0 = 0 as the paper.

    Returns
    -------
    Model
        ``name="second_order_regression"``; per-sample data (J, Q, y) for SGD.

    Notes
    -----
    The Jacobian at w is J_a + Q_a w and the neural tangent kernel is K_ab = <J_a + Q_a w, J_b + Q_b w>;
    the loss Hessian is (1/D) sum_a [(J_a + Q_a w)(J_a + Q_a w)^T + z_a Q_a], which at a zero of every
    residual is K's nonzero spectrum divided by D. For one data point (D = 1) the tracked quantity of the
    paper, lambda = ||J(w)||^2, is the sharpness at the minimum.

    Flat layout: w (P,). Reference: A. Agarwala, F. Pedregosa, J. Pennington, "Second-order regression
    models exhibit progressive sharpening to the edge of stability", arXiv:2210.04860 (ICML 2023).
    """
    J = v.real_array(jacobian, "jacobian", min_ndim=1)
    if J.ndim == 1:
        J = J[None, :]
    if J.ndim != 2 or J.shape[1] < 1:
        raise ValueError(f"jacobian must have shape (D, P) or (P,) with P >= 1; got {np.shape(jacobian)}")
    D, P = J.shape
    if P > _MAX_DENSE:
        raise ValueError(f"jacobian: P = {P} parameters exceeds {_MAX_DENSE} for this dense model")
    Q = v.real_array(quadratic, "quadratic", min_ndim=2)
    if Q.ndim == 2:
        Q = Q[None]
    if Q.shape != (D, P, P):
        raise ValueError(f"quadratic must have shape (D, P, P) = {(D, P, P)} (or (P, P) for D = 1) to match jacobian "
                         f"(D, P) = {(D, P)}; got {Q.shape}")
    if not np.allclose(Q, np.swapaxes(Q, 1, 2), rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(Q).max()))):
        raise ValueError("quadratic must be symmetric in its last two axes (Q_a = Q_a^T)")
    Q = np.ascontiguousarray(0.5 * (Q + np.swapaxes(Q, 1, 2)))
    y = v.real_array(target, "target")
    y = np.atleast_1d(y).astype(np.float64)
    if y.shape != (D,):
        raise ValueError(f"target must have shape (D,) = ({D},); got {np.shape(target)}")
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0)

    def draw(rng):
        return scale * rng.standard_normal(P)

    def check(data, name):
        if isinstance(data, (tuple, list)) and len(data) == 3:
            Qn = v.real_array(data[1], f"{name}[1]")
            if Qn.ndim == 3 and Qn.size and Qn.shape[1:] == (P, P) and not np.allclose(Qn, np.swapaxes(Qn, 1, 2), rtol=1e-12,
                                                                           atol=1e-12 * max(1.0, float(np.abs(Qn).max()))):
                raise ValueError(f"{name}[1] (Q) must be symmetric in its last two axes (Q_a = Q_a^T)")
        return data

    return Model("second_order_regression", P, _sor_loss_grad, (np.ascontiguousarray(J), Q, y), hvp=_sor_hvp,
                 data_check=check,
                 init=draw, per_sample=(True, True, True), layout="w (P,)",
                 config=dict(D=D, P=P, init_scale=scale))


# ------------------------------------------------------------------------------ logistic regression
_softplus = jit(softplus_py, cache=False)


@jit(cache=False)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@jit(cache=False)
def _logreg_loss_grad(w, A, y, l2, g):
    n, d = A.shape
    lam = l2[0]
    loss = 0.0
    for i in range(d):
        g[i] = lam * w[i]
        loss += 0.5 * lam * w[i] * w[i]
    for k in range(n):
        m = 0.0
        for i in range(d):
            m += A[k, i] * w[i]
        m *= y[k]
        loss += _softplus(-m) / n
        c = -_sigmoid(-m) * y[k] / n
        for i in range(d):
            g[i] += c * A[k, i]
    return loss


@jit(cache=False)
def _logreg_hvp(w, vv, A, y, l2, out):
    n, d = A.shape
    lam = l2[0]
    for i in range(d):
        out[i] = lam * vv[i]
    for k in range(n):
        m = 0.0
        av = 0.0
        for i in range(d):
            m += A[k, i] * w[i]
            av += A[k, i] * vv[i]
        m *= y[k]
        c = _sigmoid(m) * _sigmoid(-m) * av / n
        for i in range(d):
            out[i] += c * A[k, i]


def logistic_regression(data, *, l2=0.0):
    """Logistic regression with an l2 penalty: L(w) = (1/n) sum_k log(1 + exp(-y_k <a_k, w>)) + (l2/2) ||w||^2.

    Parameters
    ----------
    data : tuple (A, y)
        Features A (n, d) and labels y (n,) in {-1, +1}.
    l2 : float
        The ridge coefficient lambda (>= 0).

    Returns
    -------
    Model
        ``name="logistic_regression"``; starts at w_0 = 0 (``init``); per-sample data for SGD.

    Notes
    -----
    Hessian: (1/n) sum_k s(m_k) s(-m_k) a_k a_k^T + lambda I with margins m_k = y_k <a_k, w> and s the
    logistic sigmoid. Flat layout: w (d,).

    References: J. Wu, P. Marion, P. Bartlett, "Large stepsizes accelerate gradient descent for regularized
    logistic regression", arXiv:2506.02336 (NeurIPS 2025); A. Tyurin, "From logistic regression to the
    perceptron algorithm: exploring gradient descent with large step sizes", arXiv:2412.08424.
    """
    A, y = _features_labels(data)
    lam = v.real_scalar(l2, "l2", lo=0.0)
    n, d = A.shape

    def draw(rng):
        return np.zeros(d)

    def check(data, name):
        if isinstance(data, (tuple, list)) and len(data) == 3:
            An, yn = _features_labels(data[:2], name)
            return An, yn, data[2]
        return _features_labels(data, name)

    return Model("logistic_regression", d, _logreg_loss_grad, (A, y, np.array([lam])), hvp=_logreg_hvp, init=draw,
                 data_check=check,
                 per_sample=(True, True, False), layout="w (d,)", config=dict(n=n, d=d, l2=lam))


def _features_labels(data, name="data"):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (A, y) of arrays; got {type(data).__name__}"
                        + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    A, y = as_data(data, name)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name}[0] (A) must have shape (n, d) with n, d >= 1; got {A.shape}")
    if y.shape != (A.shape[0],):
        raise ValueError(f"{name}[1] (y) must have shape (n,) = ({A.shape[0]},); got {y.shape}")
    if not np.all(np.abs(y) == 1.0):
        raise ValueError(f"{name}[1] (y) must hold labels -1 or +1")
    return np.ascontiguousarray(A), np.ascontiguousarray(y)


# ------------------------------------------------------------------------------ deep matrix factorisation
@jit(cache=False)
def _dmf_factors(w, dims):
    # W_l (dims[l+1], dims[l]) row-major, l = 0 .. L-1, packed in order
    L = dims.size - 1
    Ws = []
    off = 0
    for l in range(L):
        r, c = dims[l + 1], dims[l]
        Ws.append(np.ascontiguousarray(w[off:off + r * c]).reshape(r, c))
        off += r * c
    return Ws


@jit(cache=False)
def _dmf_chains(Ws, dims):
    # below[l] = W_{l-1} ... W_0 (dims[l], dims[0]); above[l] = W_{L-1} ... W_{l+1} (dims[L], dims[l+1])
    L = dims.size - 1
    below = [np.eye(dims[0])]
    for l in range(L):
        below.append(np.dot(Ws[l], below[l]))
    above = [np.eye(dims[L])] * L
    for l in range(L - 2, -1, -1):
        above[l] = np.dot(above[l + 1], Ws[l + 1])
    return below, above


@jit(cache=False)
def _dmf_loss_grad(w, M, dims, g):
    L = dims.size - 1
    Ws = _dmf_factors(w, dims)
    below, above = _dmf_chains(Ws, dims)
    R = below[L] - M
    off = 0
    for l in range(L):
        Gl = np.dot(np.dot(above[l].T, R), below[l].T)
        n = Gl.size
        g[off:off + n] = Gl.ravel()
        off += n
    return 0.5 * np.sum(R * R)


@jit(cache=False)
def _dmf_hvp(w, vv, M, dims, out):
    L = dims.size - 1
    Ws = _dmf_factors(w, dims)
    Vs = _dmf_factors(vv, dims)
    below, above = _dmf_chains(Ws, dims)
    # directional derivatives of the chains along vv
    dbelow = [np.zeros((dims[0], dims[0]))]
    for l in range(L):
        dbelow.append(np.dot(Vs[l], below[l]) + np.dot(Ws[l], dbelow[l]))
    dabove = [np.zeros((dims[L], dims[L]))] * L
    for l in range(L - 2, -1, -1):
        dabove[l] = np.dot(dabove[l + 1], Ws[l + 1]) + np.dot(above[l + 1], Vs[l + 1])
    R = below[L] - M
    dR = dbelow[L]
    off = 0
    for l in range(L):
        if l < L - 1:
            H = np.dot(np.dot(dabove[l].T, R), below[l].T)
        else:
            H = np.zeros((dims[L], dims[L - 1]))
        H += np.dot(np.dot(above[l].T, dR), below[l].T)
        if l > 0:
            H += np.dot(np.dot(above[l].T, R), dbelow[l].T)
        n = H.size
        out[off:off + n] = H.ravel()
        off += n


def deep_matrix_factorisation(target, depth=2, *, widths=None, init_scale=0.1):
    """Deep matrix factorisation L(W_1, ..., W_L) = 0.5 ||W_L ... W_1 - M||_F^2 (a sum, not a mean).

    Parameters
    ----------
    target : array_like, shape (d_out, d_in)
        M.
    depth : int
        Number of factors L (1..32).
    widths : sequence of int, optional
        The L - 1 hidden widths; default min(d_out, d_in) each.
    init_scale : float
        Entries start N(0, init_scale^2).

    Returns
    -------
    Model
        ``name="deep_matrix_factorisation"``; its data are (M, dims) with dims = [d_in, widths..., d_out].

    Notes
    -----
    Flat layout: W_1 (d_1, d_0), W_2 (d_2, d_1), ..., W_L (d_L, d_{L-1}), each row-major, in order (the factor
    applied first comes first). The exact sharpness at minima (Kamber and Parhi, "Sharpness of minima in deep
    matrix factorization", arXiv:2509.25783) is :func:`gdsim.stability.dmf_sharpness`.
    """
    M = v.real_array(target, "target", min_ndim=2)
    if M.ndim != 2:
        raise ValueError(f"target must be a matrix (d_out, d_in); got shape {M.shape}")
    depth = v.integer(depth, "depth", lo=1, hi=32)
    d_out, d_in = M.shape
    if widths is None:
        widths = [min(d_out, d_in)] * (depth - 1)
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise TypeError(f"widths must be a sequence of {depth - 1} ints; got {type(widths).__name__}")
    if len(widths) != depth - 1:
        raise ValueError(f"widths must hold depth - 1 = {depth - 1} hidden widths; got {len(widths)}")
    widths = [v.integer(h, "widths", lo=1, hi=_MAX_DENSE) for h in widths]
    dims = np.array([d_in, *widths, d_out], dtype=np.int64)
    P = int(np.sum(dims[1:] * dims[:-1]))
    if P > 10**7:
        raise ValueError(f"target/widths: {P} parameters exceeds 10^7")
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)

    def draw(rng):
        return scale * rng.standard_normal(P)

    return Model("deep_matrix_factorisation", P, _dmf_loss_grad, (np.ascontiguousarray(M), dims), hvp=_dmf_hvp,
                 fixed=(1,),
                 init=draw, layout="W_1 (d_1, d_0), ..., W_L (d_L, d_{L-1}), each row-major, in order",
                 config=dict(shape=[d_out, d_in], depth=depth, widths=widths, init_scale=scale))
