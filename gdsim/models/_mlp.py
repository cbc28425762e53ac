"""Multi-layer perceptrons with hand-written backward passes and exact Hessian-vector products (private).

The kernels are generated per architecture (sizes, activation, loss, scaling, bias are compile-time
constants of a closure) and cached, so two models of one architecture share their machine code.

Everything is type-generic: the same ``loss_grad`` runs on complex parameters, which is how the tests
check the R-op HVP against the complex step of the gradient. Matrix products go through ``np.dot``
(BLAS) with preallocated outputs; activations are scalar loops that LLVM vectorises (tanh is the
libm-free Padé form of :mod:`gdsim._core.elementary` for real input).

Forward pass (layer l = 0..L-1, sizes d_0 .. d_L, A_0 = X):
    Z_{l+1} = c_l A_l W_l^T + b_l,  A_{l+1} = sigma(Z_{l+1}) (l < L-1),  F = Z_L.
Backward: delta_L = dLoss/dF; gW_l = c_l delta_{l+1}^T A_l; gb_l = sum_n delta_{l+1};
    delta_l = c_l (delta_{l+1} W_l) * sigma'(Z_l).
R-op (Pearlmutter 1994) with direction (V_l, vb_l):
    R Z_{l+1} = c_l (R A_l W_l^T + A_l V_l^T) + vb_l, R A = sigma'(Z) R Z,
    R delta_l = c_l [(R delta_{l+1} W_l + delta_{l+1} V_l) sigma'(Z_l) + (delta_{l+1} W_l) sigma''(Z_l) R Z_l],
    H v = (c_l (R delta_{l+1}^T A_l + delta_{l+1}^T R A_l), sum_n R delta_{l+1}).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import types
from numba.extending import overload

from gdsim._core.elementary import tanh_pade_py
from gdsim._core.jit import jit

ACTIVATIONS = ("tanh", "relu", "gelu", "linear", "quadratic")
LOSSES = ("mse", "cross_entropy")
SCALINGS = ("standard", "ntk", "mean_field")

_tanh_real = jit(tanh_pade_py, inline="always")
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def like(x, w):  # pragma: no cover - replaced by the overload in compiled code
    return x.astype(w.dtype)


@overload(like)
def _like_ol(x, w):
    """``x`` in ``w``'s dtype: the data itself for real w, a complex copy for the complex step."""
    if x.dtype == w.dtype:
        return lambda x, w: x
    return lambda x, w: x.astype(w.dtype)


def tanh_any(z):  # pragma: no cover - replaced by the overload
    return np.tanh(z)


@overload(tanh_any)
def _tanh_any_ol(z):
    if isinstance(z, types.Complex):
        return lambda z: cmath.tanh(z)
    return lambda z: _tanh_real(z)


#: activation codes (runtime: one compiled kernel serves every architecture)
ACT_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}


@jit(inline="always")
def act_d(code, z, order):
    """sigma (order 0), sigma' (1) or sigma'' (2) of activation ``code`` at z (type-generic)."""
    if code == 0:  # tanh
        t = tanh_any(z)
        if order == 0:
            return t
        if order == 1:
            return 1.0 - t * t
        return -2.0 * t * (1.0 - t * t)
    if code == 1:  # relu
        if order == 0:
            return z if z.real > 0.0 else 0.0 * z
        if order == 1:
            return 1.0 + 0.0 * z if z.real > 0.0 else 0.0 * z
        return 0.0 * z
    if code == 2:  # gelu, the tanh form (jax.nn.gelu's default): analytic, so the complex step is exact
        u = _GELU_K * (z + _GELU_C * z * z * z)
        t = tanh_any(u)
        if order == 0:
            return 0.5 * z * (1.0 + t)
        u1 = _GELU_K * (1.0 + 3.0 * _GELU_C * z * z)
        if order == 1:
            return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * u1
        u2 = 6.0 * _GELU_K * _GELU_C * z
        return (1.0 - t * t) * (u1 - z * t * u1 * u1 + 0.5 * z * u2)
    if code == 3:  # linear
        if order == 0:
            return z
        if order == 1:
            return 1.0 + 0.0 * z
        return 0.0 * z
    # quadratic
    if order == 0:
        return z * z
    if order == 1:
        return 2.0 * z
    return 2.0 + 0.0 * z


@jit
def apply_act(code, Z, out, order):
    """out = sigma^(order)(Z) elementwise over 1-D buffers; the branch is outside the loop so that each loop vectorises."""
    a = Z
    b = out
    if code == 0:
        for i in range(a.size):
            b[i] = act_d(0, a[i], order)
    elif code == 1:
        for i in range(a.size):
            b[i] = act_d(1, a[i], order)
    elif code == 2:
        for i in range(a.size):
            b[i] = act_d(2, a[i], order)
    elif code == 3:
        for i in range(a.size):
            b[i] = act_d(3, a[i], order)
    else:
        for i in range(a.size):
            b[i] = act_d(4, a[i], order)


@jit
def act_derivative(code, Z, A, out, order):
    """out = sigma^(order)(Z) for order 1 or 2, given A = sigma(Z) from the forward pass: for tanh from A itself
    (1 - A^2, -2 A (1 - A^2): the same bits as from Z, since A is tanh(Z), without a second tanh), otherwise
    from Z."""
    if code == 0:
        if order == 1:
            for i in range(A.size):
                out[i] = 1.0 - A[i] * A[i]
        else:
            for i in range(A.size):
                out[i] = -2.0 * A[i] * (1.0 - A[i] * A[i])
    else:
        apply_act(code, Z, out, order)


def scales(sizes, scaling):
    """The per-layer multipliers c_l of the forward pass."""
    L = len(sizes) - 1
    if scaling == "standard":
        return tuple(1.0 for _ in range(L))
    if scaling == "ntk":
        return tuple(1.0 / math.sqrt(sizes[l]) for l in range(L))
    return tuple((1.0 / sizes[l]) if l == L - 1 else 1.0 / math.sqrt(sizes[l]) for l in range(L))


def arch_vector(sizes, activation, loss, scaling, bias):
    """The architecture as the float64 array the kernels read (the model's ``data[2]``):
    [L, activation code, loss code (0 mse, 1 cross-entropy), bias, d_0..d_L, c_0..c_{L-1}]."""
    L = len(sizes) - 1
    return np.array([L, ACT_CODES[activation], LOSSES.index(loss), float(bool(bias)), *sizes,
                     *scales(sizes, scaling)], dtype=np.float64)


@jit
def offsets(arch):
    """(L, activation code, loss code, bias, sizes, c_l, offsets of W_l, of b_l, of Z_{l+1} per sample row)."""
    L = int(arch[0])
    sizes = np.empty(L + 1, dtype=np.int64)
    for i in range(L + 1):
        sizes[i] = int(arch[4 + i])
    cs = arch[5 + L:5 + 2 * L]
    bias = arch[3] != 0.0
    woff = np.empty(L, dtype=np.int64)
    boff = np.empty(L, dtype=np.int64)
    zoff = np.empty(L + 1, dtype=np.int64)
    o = 0
    zoff[0] = 0
    for l in range(L):
        woff[l] = o
        o += sizes[l + 1] * sizes[l]
        boff[l] = o
        if bias:
            o += sizes[l + 1]
        zoff[l + 1] = zoff[l] + sizes[l + 1]
    return L, int(arch[1]), int(arch[2]), bias, sizes, cs, woff, boff, zoff


@jit
def _forward(w, X, arch, Z, A):
    """Z holds Z_1..Z_L (layer l at Z[zoff[l] N : zoff[l+1] N], (N, d_{l+1}) row-major), A the hidden A_l."""
    L, act, _, bias, sizes, cs, woff, boff, zoff = offsets(arch)
    N = X.shape[0]
    Ain = like(X, w)
    for l in range(L):
        din = sizes[l]
        dout = sizes[l + 1]
        Wl = w[woff[l]:woff[l] + dout * din].reshape(dout, din)
        zf = Z[zoff[l] * N:zoff[l + 1] * N]
        Zl = zf.reshape(N, dout)
        np.dot(Ain, Wl.T, Zl)
        c = cs[l]
        if bias:
            for n in range(N):
                for j in range(dout):
                    Zl[n, j] = c * Zl[n, j] + w[boff[l] + j]
        else:
            for i in range(zf.size):
                zf[i] *= c
        if l < L - 1:
            af = A[zoff[l] * N:zoff[l + 1] * N]
            apply_act(act, zf, af, 0)
            Ain = af.reshape(N, dout)
    dL = sizes[L]
    return Z[zoff[L - 1] * N:zoff[L] * N].reshape(N, dL)


@jit
def _output_error(F, Y, E, ce):
    """Loss (mean over samples) and E = dLoss/dF."""
    N, dL = F.shape
    loss = 0.0 * F[0, 0]
    inv = 1.0 / N
    if ce:
        for n in range(N):
            m = F[n, 0].real
            for j in range(dL):
                m = max(m, F[n, j].real)
            s = 0.0 * F[n, 0]
            for j in range(dL):
                e = np.exp(F[n, j] - m)
                E[n, j] = e
                s += e
            lse = m + np.log(s)
            for j in range(dL):
                loss += Y[n, j] * (lse - F[n, j])
                E[n, j] = (E[n, j] / s - Y[n, j]) * inv
    else:
        for n in range(N):
            for j in range(dL):
                r = F[n, j] - Y[n, j]
                loss += 0.5 * r * r
                E[n, j] = r * inv
    return loss * inv


@jit
def _scale_weights_sum_bias(out, woff, boff, dout, din, c, bias, delta):
    """Finish a layer's block of a gradient (or Hessian-vector product): the weight block times c_l, the
    bias block the column sums of ``delta``."""
    for i in range(dout * din):
        out[woff + i] *= c
    if bias:
        for j in range(dout):
            out[boff + j] = 0.0
        for n in range(delta.shape[0]):
            for j in range(dout):
                out[boff + j] += delta[n, j]


@jit
def loss_grad(w, X, Y, arch, g):
    """The MLP's loss and gradient (into g); ``arch`` from :func:`arch_vector`."""
    L, act, lossc, bias, sizes, cs, woff, boff, zoff = offsets(arch)
    N = X.shape[0]
    width = zoff[L]
    dmax = 0
    for l in range(L + 1):
        dmax = max(dmax, sizes[l])
    Z = np.empty(width * N, dtype=w.dtype)
    A = np.empty(width * N, dtype=w.dtype)
    dL = sizes[L]
    E = np.empty((N, dL), dtype=w.dtype)
    D1 = np.empty(dmax * N, dtype=w.dtype)
    D2 = np.empty(dmax * N, dtype=w.dtype)
    DP = np.empty(dmax * N, dtype=w.dtype)
    F = _forward(w, X, arch, Z, A)
    loss = _output_error(F, Y, E, lossc == 1)
    delta = E
    for l in range(L - 1, -1, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        c = cs[l]
        Ain = like(X, w) if l == 0 else A[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
        gW = g[woff[l]:woff[l] + dout * din].reshape(dout, din)
        np.dot(delta.T, Ain, gW)
        _scale_weights_sum_bias(g, woff[l], boff[l], dout, din, c, bias, delta)
        if l > 0:
            Wl = w[woff[l]:woff[l] + dout * din].reshape(dout, din)
            nf = (D1 if (L - 1 - l) % 2 == 0 else D2)[:N * din]
            nxt = nf.reshape(N, din)
            np.dot(delta, Wl, nxt)
            dp = DP[:N * din]
            act_derivative(act, Z[zoff[l - 1] * N:zoff[l] * N], A[zoff[l - 1] * N:zoff[l] * N], dp, 1)
            for i in range(N * din):
                nf[i] *= c * dp[i]
            delta = nxt
    return loss


@jit
def hvp_prepare(w, X, Y, arch):
    """Everything the R-op needs at ``w``, computed once per Lanczos run: six blocks of width * N values,
    Z (pre-activations), A (activations), sigma'(Z), sigma''(Z), delta (dLoss/dZ) and back (delta W, the
    gradient with respect to each hidden layer's activations)."""
    L, act, lossc, bias, sizes, cs, woff, boff, zoff = offsets(arch)
    N = X.shape[0]
    width = zoff[L]
    dL = sizes[L]
    n = width * N
    cache = np.empty(6 * n, dtype=w.dtype)
    Z = cache[:n]
    A = cache[n:2 * n]
    F = _forward(w, X, arch, Z, A)
    # (the output layer's slots of A are not written by the forward pass: its sigma', sigma'' are never used)
    act_derivative(act, Z, A, cache[2 * n:3 * n], 1)
    act_derivative(act, Z, A, cache[3 * n:4 * n], 2)
    DEL = cache[4 * n:5 * n]
    BACK = cache[5 * n:6 * n]
    E = DEL[zoff[L - 1] * N:zoff[L] * N].reshape(N, dL)
    _output_error(F, Y, E, lossc == 1)
    for l in range(L - 1, 0, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        delta = DEL[zoff[l] * N:zoff[l + 1] * N].reshape(N, dout)
        Wl = w[woff[l]:woff[l] + dout * din].reshape(dout, din)
        back = BACK[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
        np.dot(delta, Wl, back)
        nd = DEL[zoff[l - 1] * N:zoff[l] * N]
        bf = BACK[zoff[l - 1] * N:zoff[l] * N]
        d1 = cache[2 * n + zoff[l - 1] * N:2 * n + zoff[l] * N]
        c = cs[l]
        for i in range(N * din):
            nd[i] = c * bf[i] * d1[i]
    return cache


@jit
def hvp_cached(w, v, X, Y, arch, cache, out):
    """H(w) v into ``out`` from :func:`hvp_prepare`'s cache (Pearlmutter's R-op; see the module docstring)."""
    L, act, lossc, bias, sizes, cs, woff, boff, zoff = offsets(arch)
    N = X.shape[0]
    width = zoff[L]
    dL = sizes[L]
    n = width * N
    Z = cache[:n]
    A = cache[n:2 * n]
    D1 = cache[2 * n:3 * n]
    D2 = cache[3 * n:4 * n]
    DEL = cache[4 * n:5 * n]
    BACK = cache[5 * n:6 * n]
    RZ = np.empty(n, dtype=w.dtype)
    RA = np.empty(n, dtype=w.dtype)
    Xw = like(X, w)
    for l in range(L):
        din = sizes[l]
        dout = sizes[l + 1]
        c = cs[l]
        Vl = v[woff[l]:woff[l] + dout * din].reshape(dout, din)
        rzf = RZ[zoff[l] * N:zoff[l + 1] * N]
        RZl = rzf.reshape(N, dout)
        if l == 0:
            np.dot(Xw, Vl.T, RZl)
        else:
            Ain = A[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
            RAin = RA[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
            Wl = w[woff[l]:woff[l] + dout * din].reshape(dout, din)
            np.dot(Ain, Vl.T, RZl)
            tmp = np.dot(RAin, Wl.T)
            tf = tmp.ravel()
            for i in range(N * dout):
                rzf[i] += tf[i]
        if bias:
            for nn in range(N):
                for j in range(dout):
                    RZl[nn, j] = c * RZl[nn, j] + v[boff[l] + j]
        else:
            for i in range(N * dout):
                rzf[i] *= c
        if l < L - 1:
            raf = RA[zoff[l] * N:zoff[l + 1] * N]
            d1 = D1[zoff[l] * N:zoff[l + 1] * N]
            for i in range(N * dout):
                raf[i] = d1[i] * rzf[i]
    RF = RZ[zoff[L - 1] * N:zoff[L] * N].reshape(N, dL)
    F = Z[zoff[L - 1] * N:zoff[L] * N].reshape(N, dL)
    RE = np.empty((N, dL), dtype=w.dtype)
    inv = 1.0 / N
    if lossc == 1:
        for nn in range(N):
            m = F[nn, 0].real
            for j in range(dL):
                m = max(m, F[nn, j].real)
            s = 0.0 * F[nn, 0]
            for j in range(dL):
                s += np.exp(F[nn, j] - m)
            dot = 0.0 * F[nn, 0]
            for j in range(dL):
                dot += np.exp(F[nn, j] - m) / s * RF[nn, j]
            for j in range(dL):
                RE[nn, j] = np.exp(F[nn, j] - m) / s * (RF[nn, j] - dot) * inv
    else:
        for nn in range(N):
            for j in range(dL):
                RE[nn, j] = RF[nn, j] * inv
    Rdelta = RE
    for l in range(L - 1, -1, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        c = cs[l]
        delta = DEL[zoff[l] * N:zoff[l + 1] * N].reshape(N, dout)
        Hw = out[woff[l]:woff[l] + dout * din].reshape(dout, din)
        if l == 0:
            np.dot(Rdelta.T, Xw, Hw)
        else:
            Ain = A[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
            RAin = RA[zoff[l - 1] * N:zoff[l] * N].reshape(N, din)
            np.dot(Rdelta.T, Ain, Hw)
            tmp = np.dot(delta.T, RAin)
            for i in range(dout):
                for j in range(din):
                    Hw[i, j] += tmp[i, j]
        _scale_weights_sum_bias(out, woff[l], boff[l], dout, din, c, bias, Rdelta)
        if l > 0:
            Wl = w[woff[l]:woff[l] + dout * din].reshape(dout, din)
            Vl = v[woff[l]:woff[l] + dout * din].reshape(dout, din)
            Rback = np.dot(Rdelta, Wl)
            tmp = np.dot(delta, Vl)
            rb = Rback.ravel()
            tf = tmp.ravel()
            bf = BACK[zoff[l - 1] * N:zoff[l] * N]
            d1 = D1[zoff[l - 1] * N:zoff[l] * N]
            d2 = D2[zoff[l - 1] * N:zoff[l] * N]
            rzp = RZ[zoff[l - 1] * N:zoff[l] * N]
            nR = np.empty(N * din, dtype=w.dtype)
            for i in range(N * din):
                nR[i] = c * ((rb[i] + tf[i]) * d1[i] + bf[i] * d2[i] * rzp[i])
            Rdelta = nR.reshape(N, din)


@jit
def hvp(w, v, X, Y, arch, out):
    """Exact Hessian-vector product H(w) v into ``out`` (:func:`hvp_prepare` then :func:`hvp_cached`)."""
    hvp_cached(w, v, X, Y, arch, hvp_prepare(w, X, Y, arch), out)


@jit
def predict(w, X, arch):
    """The network's outputs f(X) (N, d_out)."""
    L = int(arch[0])
    N = X.shape[0]
    width = 0
    for l in range(L):
        width += int(arch[5 + l])
    Z = np.empty(width * N, dtype=w.dtype)
    A = np.empty(width * N, dtype=w.dtype)
    return _forward(w, X, arch, Z, A).copy()


@jit
def accuracy(w, X, Y, arch):
    """Fraction of samples classified right: argmax of f against argmax of Y (sign for one output)."""
    F = predict(w, X, arch)
    N, dL = F.shape
    hits = 0
    for n in range(N):
        if dL == 1:
            hits += (F[n, 0] > 0.0) == (Y[n, 0] > 0.0)
        else:
            a = 0
            b = 0
            for j in range(1, dL):
                if F[n, j] > F[n, a]:
                    a = j
                if Y[n, j] > Y[n, b]:
                    b = j
            hits += a == b
    return hits / N
