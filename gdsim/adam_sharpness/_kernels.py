"""Numba kernels of the label-noise diagonal network (Li, Wen, Lyu, NeurIPS 2025).

Flat layout w = [u (d), v (d), key, clock]. beta = u*u - v*v (``pm``, the paper's parametrisation) or
beta = u*v (``product``, the layout of :func:`gdsim.models.diagonal_linear` at depth 2). The loss is
(1/2N) sum_i (<beta, x_i> - y_i - delta s_i)^2 with fresh Rademacher signs s_i at every step: s_i is drawn by
the counter-based generator ``uniform01(key, bits(clock), i)``. The clock's gradient is -1, so every optimiser
of :mod:`gdsim.dynamics` advances it by a positive amount each step (GD: lr; Adam: lr / (1 + eps)), and its bit
pattern keys a new draw; the key's gradient is 0, so it never moves. No loop of gdsim's is changed: the
noise lives in the model.
"""

from __future__ import annotations

import numpy as np

from gdsim._core.counter_rng import uniform01
from gdsim._core.jit import jit


@jit(cache=False)
def _beta(w, d, product):
    beta = np.empty(d)
    for j in range(d):
        beta[j] = w[j] * w[d + j] if product else w[j] * w[j] - w[d + j] * w[d + j]
    return beta


@jit(cache=False)
def clock_bits(clock):
    """The uint64 bit pattern of the float64 clock (the step counter of the noise)."""
    return np.array([clock]).view(np.uint64)[0]


@jit(cache=False)
def loss_grad(w, X, y, cfg, g):
    """cfg = [delta, product (0/1)]."""
    N, d = X.shape
    delta = cfg[0]
    product = cfg[1] > 0.5
    beta = _beta(w, d, product)
    r = np.dot(X, beta) - y
    if delta != 0.0:
        key = np.uint64(w[2 * d])
        bits = clock_bits(w[2 * d + 1])
        for i in range(N):
            r[i] -= delta if uniform01(key, bits, i) < 0.5 else -delta
    c = np.dot(X.T, r) / N
    for j in range(d):
        if product:
            g[j] = w[d + j] * c[j]
            g[d + j] = w[j] * c[j]
        else:
            g[j] = 2.0 * w[j] * c[j]
            g[d + j] = -2.0 * w[d + j] * c[j]
    g[2 * d] = 0.0
    g[2 * d + 1] = -1.0
    return 0.5 * np.dot(r, r) / N


@jit(cache=False)
def hvp(w, vv, X, y, cfg, out):
    """The Hessian of the noise-free loss (the noisy loss's Hessian averaged over the signs), times vv."""
    N, d = X.shape
    product = cfg[1] > 0.5
    beta = _beta(w, d, product)
    c = np.dot(X.T, np.dot(X, beta) - y) / N
    db = np.empty(d)
    for j in range(d):
        if product:
            db[j] = w[d + j] * vv[j] + w[j] * vv[d + j]
        else:
            db[j] = 2.0 * (w[j] * vv[j] - w[d + j] * vv[d + j])
    dc = np.dot(X.T, np.dot(X, db)) / N
    for j in range(d):
        if product:
            out[j] = w[d + j] * dc[j] + vv[d + j] * c[j]
            out[d + j] = w[j] * dc[j] + vv[j] * c[j]
        else:
            out[j] = 2.0 * (w[j] * dc[j] + vv[j] * c[j])
            out[d + j] = -2.0 * (w[d + j] * dc[j] + vv[d + j] * c[j])
    out[2 * d] = 0.0
    out[2 * d + 1] = 0.0


# --------------------------------------------------------------------------------- label-noise matrix sensing
@jit(cache=False)
def mf_loss_grad(w, A, y, cfg, g):
    """Symmetric factorisation f_i = <A_i, U U^T>, U (d, r) row-major in w[:d r], then key, clock; cfg = [delta, r]."""
    n, d, _ = A.shape
    delta = cfg[0]
    r = int(cfg[1])
    P = d * r
    U = w[:P].reshape(d, r)
    M = np.dot(U, U.T)
    res = np.empty(n)
    for i in range(n):
        res[i] = np.sum(A[i] * M) - y[i]
    if delta != 0.0:
        key = np.uint64(w[P])
        bits = clock_bits(w[P + 1])
        for i in range(n):
            res[i] -= delta if uniform01(key, bits, i) < 0.5 else -delta
    S = np.zeros((d, d))
    for i in range(n):
        S += res[i] * A[i]
    S /= n
    G = np.dot(S + S.T, U)
    g[:P] = G.ravel()
    g[P] = 0.0
    g[P + 1] = -1.0
    return 0.5 * np.dot(res, res) / n


@jit(cache=False)
def mf_hvp(w, vv, A, y, cfg, out):
    """The Hessian of the noise-free loss times vv."""
    n, d, _ = A.shape
    r = int(cfg[1])
    P = d * r
    U = w[:P].reshape(d, r)
    V = vv[:P].reshape(d, r)
    M = np.dot(U, U.T)
    dM = np.dot(V, U.T) + np.dot(U, V.T)
    S = np.zeros((d, d))
    dS = np.zeros((d, d))
    for i in range(n):
        S += (np.sum(A[i] * M) - y[i]) * A[i]
        dS += np.sum(A[i] * dM) * A[i]
    out[:P] = (np.dot((S + S.T) / n, V) + np.dot((dS + dS.T) / n, U)).ravel()
    out[P] = 0.0
    out[P + 1] = 0.0
