"""The fractal net as a :class:`gdsim.models.Model` (private; see :func:`gdsim.fractal.model`), so that the
trainability map runs on the engine (:func:`gdsim.dynamics.run`) under any optimiser value.

Flat layout: ``w[i * n + j] = W0[i, j]`` (row-major, n^2 entries, group ``"W0"``) then ``w[n^2 + j] = W1[j]``
(n entries, group ``"W1"``). Data: ``X`` (N, n), ``Y`` (N,).

The loss and gradient follow the fused map kernel (:mod:`gdsim.fractal._kernels`) operation by operation,
with the same Padé tanh (:func:`gdsim._core.elementary.tanh_neg_half`) and the same summation orders, but
separate multiplies and adds where the fused kernel uses fused multiply-adds (FMA), so the two agree to
rounding, not to the bit. The Hessian-vector products are the complex step of a twin written with
``np.tanh`` (exact to rounding; the Padé tanh is within 4 ulp of it).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from gdsim._core.elementary import tanh_neg_half
from gdsim._core.jit import jit
from gdsim.models import Model, ParamGroup

SQRT2 = math.sqrt(2.0)


@jit(inline="always")
def _tanh_fast(a, isn):
    """(h, phi'(z)) of phi(z) = tanh(sqrt(2) z), z = a / sqrt(n), as the fused kernel forms h (Padé)."""
    return tanh_neg_half(a * (-2.0 * SQRT2 * isn)), 0.0


@jit(inline="always")
def _tanh_exact(a, isn):
    return np.tanh(SQRT2 * (a * isn)), 0.0


@jit(inline="always")
def _relu(a, isn):
    z = a * isn
    if z.real > 0.0:
        return SQRT2 * z, SQRT2
    if z.real != z.real:
        return SQRT2 * z, 0.0  # a NaN stays NaN, as in the fused kernel
    return 0.0, 0.0


@jit(inline="always")
def _identity(a, isn):
    return a * isn, 1.0


@jit(inline="always")
def _delta_tanh(r, s, h, dp):
    """r W1_j phi'_j / n with phi' = sqrt(2) (1 - h^2) and s = sqrt(2) W1_j / n: rs - (rs h) h (the fused order)."""
    rs = r * s
    return rs - (rs * h) * h


@jit(inline="always")
def _delta_dp(r, s, h, dp):
    """r (W1_j / n) phi'_j for relu and identity (s = W1_j / n)."""
    return (r * s) * dp


def _make_loss_grad(phi, delta, tanh):
    """``loss_grad(w, X, Y, g)`` of the fractal net for one activation (``phi``, ``delta`` compiled in)."""
    s_scale = SQRT2 if tanh else 1.0

    def loss_grad(w, X, Y, g):
        N, n = X.shape
        nn = n * n
        isn = 1.0 / math.sqrt(n)
        inv_n = 1.0 / n
        for q in range(g.size):
            g[q] = 0.0
        ab = w[:n] * 0.0  # one row's pre-activations (w's type: real, or complex under the complex step)
        hb = w[:n] * 0.0  # and activations
        db = np.zeros(n)  # and phi' (relu, identity)
        dlb = w[:n] * 0.0  # and the back-propagated deltas
        sj = w[:n] * 0.0  # W1_j / n (times sqrt(2) for tanh)
        for j in range(n):
            sj[j] = w[nn + j] * (s_scale * inv_n)
        lsum = 0.0 * w[0]
        for d in range(N):
            # a_j = sum_i X[d, i] W0[i, j], summed over i in order (the fused kernel's order); j innermost
            x0 = X[d, 0]
            for j in range(n):
                ab[j] = x0 * w[j]
            for i in range(1, n):
                xi = X[d, i]
                row = i * n
                for j in range(n):
                    ab[j] = xi * w[row + j] + ab[j]
            f = 0.0 * w[0]
            for j in range(n):
                h, dp = phi(ab[j], isn)
                hb[j] = h
                db[j] = dp
                f = h * w[nn + j] + f
            r = f * inv_n - Y[d]
            lsum = r * r + lsum
            for j in range(n):
                h = hb[j]
                g[nn + j] = r * h + g[nn + j]
                dlb[j] = delta(r, sj[j], h, db[j])
            for i in range(n):
                xi = X[d, i]
                row = i * n
                for j in range(n):
                    g[row + j] = xi * dlb[j] + g[row + j]
        c1 = 2.0 / N * inv_n
        c0 = 2.0 / N * isn
        for j in range(n):
            g[nn + j] = c1 * g[nn + j]
        for q in range(nn):
            g[q] = c0 * g[q]
        return lsum / N

    return loss_grad


@lru_cache(maxsize=None)
def kernels(activation: str):
    """(loss_grad, complex-step-safe twin) for ``activation``, compiled on first use (one pair per activation)."""
    if activation == "tanh":
        fast, exact, delta, tanh = _tanh_fast, _tanh_exact, _delta_tanh, True
    elif activation == "relu":
        fast, exact, delta, tanh = _relu, _relu, _delta_dp, False
    else:
        fast, exact, delta, tanh = _identity, _identity, _delta_dp, False
    return (jit(_make_loss_grad(fast, delta, tanh), cache=False),
            jit(_make_loss_grad(exact, delta, tanh), cache=False))


def net_model(prob) -> Model:
    """The :class:`Model` of a :class:`gdsim.fractal.Problem` (see :func:`gdsim.fractal.model`)."""
    from gdsim.models._model import _complex_step_hvp

    n, N = prob.n, prob.X.shape[0]
    lg, twin = kernels(prob.activation)
    start = np.concatenate((prob.W0.ravel(), prob.W1))

    def init(rng):
        return start.copy()

    return Model("fractal_net", n * n + n, lg, (prob.X.copy(), prob.Y.copy()), hvp=_complex_step_hvp(twin),
                 hvp_method="complex_step", init=init, per_sample=(True, True),
                 layout="w[i * n + j] = W0[i, j] (n^2, row-major), then w[n^2 + j] = W1[j] (n)",
                 config=dict(n=n, activation=prob.activation, n_samples=N),
                 groups=(ParamGroup("W0", 0, n * n), ParamGroup("W1", n * n, n * n + n)))
