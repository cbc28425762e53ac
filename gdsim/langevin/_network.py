"""Numba kernels for the Park-Lucini-Aarts teacher-student network and the Sclocchi et al. perceptron.

Park et al. (arXiv:2509.01349): y = Z tanh(W tanh(M x)), only W (K x L) is trained by SGD with batch
|B| in a fixed batch order (no reshuffling), loss (1/2) mean_B (y - y_hat)^2, T = lr / |B|. One run per
prange iteration (structure: runs are independent; their data and shared matrices differ).

Sclocchi, Geiger, Wyart (arXiv:2301.13703): perceptron f = w.x/sqrt(d), hinge loss, batch 1, eta = T B,
w0 = 0, stop when every training point has margin y f >= 1 (checked once per epoch of P steps).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.counter_rng import build_uniform01
from gdsim._core.jit import jit

def _dot_py(a, b, n):
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


def _tanh_exp_py(x):
    """tanh through one exp call (about 4x cheaper than libm tanh here; agrees to a few ulp)."""
    e = math.exp(-2.0 * abs(x))
    t = (1.0 - e) / (1.0 + e)
    return t if x >= 0 else -t


def build_network_helpers(compile, dot_compile=None):
    """The per-run SGD loop, compiled for the CPU (``jit``) or as a CUDA device function.

    ``dot_compile`` compiles the length-L dot products of the forward pass; on the CPU it is
    ``jit(reassoc=True)`` so that they vectorise (the one documented use of reassoc besides the sensing
    operator: the summation order depends on the vector width, never on the thread count).
    """
    dot = (dot_compile or compile)(_dot_py)
    tanh_exp = compile(_tanh_exp_py)

    def park_run(W, S0, y, Z, lr, batch, epochs, grad):
        """Train W (K, L) in place: epochs x (N / batch) steps over S0 (N, L) = tanh(M x), labels y (N,)."""
        K, L = W.shape
        N = S0.shape[0]
        nb = N // batch
        for _ in range(epochs):
            for b in range(nb):
                for k in range(K):
                    for l in range(L):
                        grad[k, l] = 0.0
                for n in range(b * batch, (b + 1) * batch):
                    yhat = 0.0
                    for k in range(K):
                        grad[k, L] = tanh_exp(dot(W[k], S0[n], L))  # column L holds phi_k (scratch)
                        yhat += Z[k] * grad[k, L]
                    err = y[n] - yhat
                    for k in range(K):
                        c = err * Z[k] * (1.0 - grad[k, L] * grad[k, L]) / batch
                        for l in range(L):
                            grad[k, l] += c * S0[n, l]
                for k in range(K):
                    for l in range(L):
                        W[k, l] += lr * grad[k, l]  # descent: grad holds -dL/dW

    u01 = build_uniform01(compile)

    def perceptron_run(w, X, Y, eta, max_epochs, key):
        """Hinge perceptron from w: batch 1 with replacement until min margin >= 1; returns the steps."""
        P, d = X.shape
        isd = 1.0 / math.sqrt(d)
        step = 0
        for _ in range(max_epochs):
            ok = True
            for mu in range(P):
                m = 0.0
                for i in range(d):
                    m += w[i] * X[mu, i]
                if Y[mu] * m * isd < 1.0:
                    ok = False
                    break
            if ok:
                break
            for _ in range(P):
                mu = min(int(u01(key, step, 0) * P), P - 1)
                m = 0.0
                for i in range(d):
                    m += w[i] * X[mu, i]
                if Y[mu] * m * isd < 1.0:
                    c = eta * Y[mu] * isd
                    for i in range(d):
                        w[i] += c * X[mu, i]
                step += 1
        return step

    return compile(park_run), compile(perceptron_run)


_park_run, _perceptron_run = build_network_helpers(jit, dot_compile=lambda f: jit(f, reassoc=True))


@jit(parallel=True)
def park_sgd(W, S0, Y, Z, lrs, batch, epochs):
    """Runs in parallel: W (R, K, L), S0 (R, N, L), Y (R, N), Z (R, K), lrs (R,)."""
    R, K, L = W.shape
    for r in prange(R):
        grad = np.empty((K, L + 1))
        _park_run(W[r], S0[r], Y[r], Z[r], lrs[r], batch, epochs, grad)


@jit(parallel=True)
def perceptron_sgd(Xs, Ys, etas, max_epochs, keys, W, steps_out):
    """Runs in parallel: Xs (R, P, d), Ys (R, P), W (R, d) in place, steps_out (R,)."""
    for r in prange(Xs.shape[0]):
        steps_out[r] = _perceptron_run(W[r], Xs[r], Ys[r], etas[r], max_epochs, keys[r])
