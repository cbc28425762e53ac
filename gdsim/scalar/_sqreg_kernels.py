"""Numba kernels of the squared regression model f(x; w) = <w * w, x> (private).

State is structure-of-arrays ``W[k, j]`` (coordinate k of trajectory j), as for scalar networks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.jit import jit, serial_and_parallel


def _gd_advance(W, eta, X, y, nsteps, blowup):
    """``nsteps`` GD steps of L(w) = (1/2N) ||X (w*w) - y||^2 for every trajectory, in place.

    w <- w * (1 - (2 eta / N) X^T r) with r = X (w*w) - y; weights leaving [-blowup, blowup] become NaN.
    """
    d, B = W.shape
    N = X.shape[0]
    for j in prange(B):
        w = W[:, j].copy()
        r = np.empty(N)
        lr = 2.0 * eta[j] / N
        for _ in range(nsteps):
            for n in range(N):
                acc = -y[n]
                for kk in range(d):
                    acc += X[n, kk] * w[kk] * w[kk]
                r[n] = acc
            for kk in range(d):
                gk = 0.0
                for n in range(N):
                    gk += X[n, kk] * r[n]
                wn = w[kk] * (1.0 - lr * gk)
                w[kk] = wn if abs(wn) <= blowup else np.nan
        for kk in range(d):
            W[kk, j] = w[kk]


gd_advance_serial, gd_advance_parallel = serial_and_parallel(_gd_advance)


@jit
def loss_one(w, X, y):
    N = X.shape[0]
    r = X @ (w * w) - y
    return 0.5 * np.dot(r, r) / N


@jit
def sharpness_one(w, X, y):
    """lambda_max of the full Hessian (4/N) diag(w) X^T X diag(w) + (2/N) diag(X^T r)."""
    if not np.all(np.isfinite(w)):
        return np.nan
    N = X.shape[0]
    r = X @ (w * w) - y
    Xw = X * w.reshape(1, -1)
    H = (4.0 / N) * (Xw.T @ Xw)
    g = X.T @ r
    for kk in range(w.shape[0]):
        H[kk, kk] += 2.0 / N * g[kk]
    return np.linalg.eigvalsh(H)[-1]


@jit
def gfs_beta(w, X, y, max_iter=200):
    """beta_inf = w0^2 exp(X^T nu) with X beta_inf = y, by damped Newton on the convex dual
    G(nu) = sum_k beta0_k exp((X^T nu)_k) - y^T nu (GF on w*w is mirror descent with the entropy
    potential). Returns NaN when the dual has no minimiser within ``max_iter`` iterations (y outside
    the cone spanned by the columns with w0_k != 0)."""
    N = X.shape[0]
    d = w.shape[0]
    beta0 = w * w
    if np.count_nonzero(beta0) < N:
        # X diag(beta) X^T has rank <= #nonzero beta < N: the dual Hessian is singular, no finite GFS (the flow
        # cannot fit y with fewer active coordinates than data points); NaN, never a failing solve
        return np.full(d, np.nan)
    nu = np.zeros(N)
    ynorm = max(1.0, math.sqrt(np.dot(y, y)))
    beta = beta0.copy()
    for _ in range(max_iter):
        z = X.T @ nu
        for kk in range(d):
            beta[kk] = beta0[kk] * math.exp(z[kk])
        grad = X @ beta - y
        if math.sqrt(np.dot(grad, grad)) <= 1e-14 * ynorm:
            return beta
        Hm = (X * beta.reshape(1, -1)) @ X.T
        step = np.linalg.solve(Hm, grad)
        G0 = np.sum(beta) - np.dot(y, nu)
        slope = np.dot(grad, step)
        t = 1.0
        while t > 1e-12:
            trial = nu - t * step
            zt = X.T @ trial
            Gt = -np.dot(y, trial)
            for kk in range(d):
                Gt += beta0[kk] * math.exp(zt[kk])
            if Gt <= G0 - 0.25 * t * slope:
                break
            t *= 0.5
        nu = nu - t * step
    grad = X @ beta - y
    if math.sqrt(np.dot(grad, grad)) <= 1e-10 * ynorm:
        return beta
    beta[:] = np.nan
    return beta


@jit
def gfs_sharpness_one(w, X, y):
    """phi = (4/N) lambda_max(X diag(beta_inf) X^T): the Hessian at a minimiser is
    (4/N) diag(w) X^T X diag(w), whose non-zero spectrum is that of the N x N matrix."""
    if not np.all(np.isfinite(w)):
        return np.nan
    beta = gfs_beta(w, X, y)
    if np.isnan(beta[0]):
        return np.nan
    N = X.shape[0]
    M = (X * beta.reshape(1, -1)) @ X.T
    return 4.0 / N * np.linalg.eigvalsh(M)[-1]


def _observables(W, X, y, want_loss, want_sharp, want_phi, loss, sharp, phi):
    """The requested observables (``want_*``) of every trajectory of ``W`` (d, B)."""
    d, B = W.shape
    for j in prange(B):
        w = W[:, j].copy()
        if want_loss:
            loss[j] = loss_one(w, X, y)
        if want_sharp:
            sharp[j] = sharpness_one(w, X, y)
        if want_phi:
            phi[j] = gfs_sharpness_one(w, X, y)


observables_serial, observables_parallel = serial_and_parallel(_observables)


def _batch_gfs(W, X, y, out):
    d, B = W.shape
    for j in prange(B):
        w = W[:, j].copy()
        if not np.all(np.isfinite(w)):
            out[:, j] = np.nan
            continue
        beta = gfs_beta(w, X, y)
        for kk in range(d):
            out[kk, j] = math.copysign(math.sqrt(beta[kk]), w[kk])


batch_gfs = jit(_batch_gfs, parallel=True)
