"""Numba kernels of the tubal factorisation X = U * U^T: loss, gradient and exact Hessian-vector products.

The flat parameter vector is U (n, R, k) row-major (tubes last, as in :func:`gdsim.tubal.t_product`). Inside
a kernel U is copied to its frontal slices Us (k, n, R), and the t-products are the circular sums
``(A * B)_t = sum_s A_{(t - s) mod k} B_s`` (k is small: a direct sum, no FFT). X is held slice-major
(k, n, n), flattened in that order for the measurement matrix.

Losses (m measurements):
* measurement: L = (1/2m) sum_j (<G_j, X> - y_j)^2 with the rows of ``Gm`` (m, k n n) the G_j slice-major;
* completion: L = (n^2 k / 2m) sum_j (X[idx_j] - y_j)^2 with ``idx`` the observed flat (slice-major) entries.
Gradient: (Rop + Rop^T) * U with Rop = A*(r), the adjoint applied to the residuals.
"""

from __future__ import annotations

import numpy as np

from gdsim._core.jit import jit


@jit(cache=False)
def _slices(w, n, R, k):
    """Us (k, n, R): the frontal slices of U stored (n, R, k) row-major in w."""
    Us = np.empty((k, n, R), dtype=w.dtype)
    for a in range(n):
        for c in range(R):
            base = (a * R + c) * k
            for t in range(k):
                Us[t, a, c] = w[base + t]
    return Us


@jit(cache=False)
def _sym_product(As, Bs):
    """(A * B^T) slice-major for slice stacks As, Bs (k, n, R): sum_l A_{(i + l) mod k} B_l^T."""
    k, n, _ = As.shape
    X = np.zeros((k, n, n), dtype=As.dtype)
    for i in range(k):
        for l in range(k):
            X[i] += np.dot(As[(i + l) % k], Bs[l].T)
    return X


@jit(cache=False)
def _symmetrise(Rop):
    """Rop + Rop^T (t-transpose: (Rop^T)_i = Rop_{(-i) mod k}^T), slice-major (k, n, n)."""
    k = Rop.shape[0]
    S = np.empty_like(Rop)
    for i in range(k):
        S[i] = Rop[i] + Rop[(k - i) % k].T
    return S


@jit(cache=False)
def _times(S, Us, out, n, R, k, add):
    """out (n, R, k row-major flat) (+)= (S * U): slice p is sum_i S_i Us_{(p - i) mod k}."""
    for p in range(k):
        acc = np.zeros((n, R), dtype=Us.dtype)
        for i in range(k):
            acc += np.dot(S[i], Us[(p - i) % k])
        for a in range(n):
            for c in range(R):
                if add:
                    out[(a * R + c) * k + p] += acc[a, c]
                else:
                    out[(a * R + c) * k + p] = acc[a, c]


# --------------------------------------------------------------------------------- measurement loss
@jit(cache=False)
def measurement_loss_grad(w, Gm, y, dims, g):
    n, R, k = int(dims[0]), int(dims[1]), int(dims[2])
    m = Gm.shape[0]
    Us = _slices(w, n, R, k)
    X = _sym_product(Us, Us)
    r = np.dot(Gm, X.ravel()) - y
    Rop = (np.dot(Gm.T, r) / m).reshape(k, n, n)
    _times(_symmetrise(Rop), Us, g, n, R, k, False)
    return 0.5 * np.dot(r, r) / m


@jit(cache=False)
def measurement_hvp(w, vv, Gm, y, dims, out):
    n, R, k = int(dims[0]), int(dims[1]), int(dims[2])
    m = Gm.shape[0]
    Us = _slices(w, n, R, k)
    Vs = _slices(vv, n, R, k)
    r = np.dot(Gm, _sym_product(Us, Us).ravel()) - y
    S = _symmetrise((np.dot(Gm.T, r) / m).reshape(k, n, n))
    dX = _sym_product(Vs, Us) + _sym_product(Us, Vs)
    dr = np.dot(Gm, dX.ravel())
    dS = _symmetrise((np.dot(Gm.T, dr) / m).reshape(k, n, n))
    _times(S, Vs, out, n, R, k, False)
    _times(dS, Us, out, n, R, k, True)


# --------------------------------------------------------------------------------- completion loss
@jit(cache=False)
def _completion_adjoint(r, idx, n, k, scale):
    Rop = np.zeros(k * n * n, dtype=r.dtype)
    for j in range(idx.size):
        Rop[int(idx[j])] += scale * r[j]
    return Rop.reshape(k, n, n)


@jit(cache=False)
def completion_loss_grad(w, idx, y, dims, g):
    n, R, k = int(dims[0]), int(dims[1]), int(dims[2])
    m = idx.size
    scale = n * n * k / m
    Us = _slices(w, n, R, k)
    x = _sym_product(Us, Us).ravel()
    r = np.empty(m, dtype=w.dtype)
    for j in range(m):
        r[j] = x[int(idx[j])] - y[j]
    _times(_symmetrise(_completion_adjoint(r, idx, n, k, scale)), Us, g, n, R, k, False)
    return 0.5 * scale * np.dot(r, r)


@jit(cache=False)
def completion_hvp(w, vv, idx, y, dims, out):
    n, R, k = int(dims[0]), int(dims[1]), int(dims[2])
    m = idx.size
    scale = n * n * k / m
    Us = _slices(w, n, R, k)
    Vs = _slices(vv, n, R, k)
    x = _sym_product(Us, Us).ravel()
    dx = (_sym_product(Vs, Us) + _sym_product(Us, Vs)).ravel()
    r = np.empty(m)
    dr = np.empty(m)
    for j in range(m):
        r[j] = x[int(idx[j])] - y[j]
        dr[j] = dx[int(idx[j])]
    _times(_symmetrise(_completion_adjoint(r, idx, n, k, scale)), Vs, out, n, R, k, False)
    _times(_symmetrise(_completion_adjoint(dr, idx, n, k, scale)), Us, out, n, R, k, True)


@jit(cache=False)
def factor_product(w, dims):
    """X = U * U^T slice-major (k, n, n) from the flat U (the kernels' t-product, exposed for tests)."""
    n, R, k = int(dims[0]), int(dims[1]), int(dims[2])
    Us = _slices(w, n, R, k)
    return _sym_product(Us, Us)
