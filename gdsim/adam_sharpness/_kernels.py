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
