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

from gdsim._core.counter_rng import build_uniform01, uniform01
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


@jit(inline="always")
def _mlp_output(w, b, x, z):
    """f(w, x) = (1/h) sum_i b_i sqrt(2) relu(w_i . x / sqrt(d)); the pre-activations go to ``z``."""
    h, d = w.shape
    isd = 1.0 / math.sqrt(d)
    s = 0.0
    for i in range(h):
        zi = 0.0
        for j in range(d):
            zi += w[i, j] * x[j]
        z[i] = zi * isd
        s += b[i] * math.sqrt(2.0) * max(z[i], 0.0)
    return s / h


@jit(parallel=True)
def mlp_hinge_sgd(W, beta, W0, beta0, Xs, Ys, etas, alphas, batch, max_epochs, keys, steps_out):
    """Sclocchi et al.'s alpha-trick on a one-hidden-layer net, batched over runs (prange).

    f(w, x) = (1/h) sum_i beta_i sigma(z_i), z = W x / sqrt(d), sigma = sqrt(2) ReLU (E sigma^2 = 1);
    F = f(w) - f(w0); loss hinge(alpha y F) / alpha per sample; SGD with batches of ``batch`` indices
    drawn with replacement (counter RNG); stop when alpha min_mu y_mu F(x_mu) >= 1 (checked every epoch).
    W (R, h, d), beta (R, h) in place; Xs (R, P, d), Ys (R, P).
    """
    R, h, d = W.shape
    P = Xs.shape[1]
    isd = 1.0 / math.sqrt(d)
    r2 = math.sqrt(2.0)
    for r in prange(R):
        w, b, w0, b0, X, Y = W[r], beta[r], W0[r], beta0[r], Xs[r], Ys[r]
        a = alphas[r]
        lr = etas[r] / batch
        z = np.empty(h)
        gw = np.empty((h, d))
        gb = np.empty(h)
        f0 = np.empty(P)
        for mu in range(P):  # f(w0, x_mu)
            f0[mu] = _mlp_output(w0, b0, X[mu], z)
        step = 0
        per_epoch = max(1, P // batch)
        for _ in range(max_epochs):
            m = 1e300
            for mu in range(P):
                m = min(m, a * Y[mu] * (_mlp_output(w, b, X[mu], z) - f0[mu]))
            if m >= 1.0:
                break
            for _ in range(per_epoch):
                gw[:, :] = 0.0
                gb[:] = 0.0
                for t in range(batch):
                    mu = min(int(uniform01(keys[r], step, t) * P), P - 1)
                    if a * Y[mu] * (_mlp_output(w, b, X[mu], z) - f0[mu]) < 1.0:  # hinge active: descend along y grad F
                        for i in range(h):
                            act = r2 * max(z[i], 0.0)
                            gb[i] += Y[mu] * act / h
                            if z[i] > 0.0:
                                c = Y[mu] * b[i] * r2 * isd / h
                                for j in range(d):
                                    gw[i, j] += c * X[mu, j]
                for i in range(h):
                    b[i] += lr * gb[i]
                    for j in range(d):
                        w[i, j] += lr * gw[i, j]
                step += 1
        steps_out[r] = step

