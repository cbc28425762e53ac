"""Numba kernels for noisy particle GDA on T^1 x T^1 and the mean-field PDE (private; see gdsim.games).

Feature path (trigonometric payoffs): the other player enters only through its Fourier moments
nu_hat_l = mean_j e^{2 pi i l Y_j}, so a step costs O((N_x + N_y) L): one reduction over particles
(fixed chunks, fixed summation order: thread-count independent) and one parallel update. Pairwise
path (any payoff with jitted gradients): O(N_x N_y) per step, parallel over particles.

Euler-Maruyama, simultaneous updates, periodic wrap:
    X <- X - h dPhi_nu(X) + sqrt(2 tau h) xi,   Y <- Y + eta h dPsi_mu(Y) + sqrt(2 eta tau h) xi'
(eta scales both the drift and the noise of the ascent player; spec pitfall 1). Noise comes from the
counter-based generator keyed per particle system and player.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.counter_rng import build_normal_pair
from gdsim._core.jit import jit

N_CHUNKS = 32
TWO_PI = 2.0 * math.pi


_HALF_PI = 0.5 * math.pi


def sincos_2pi_py(z):
    """(cos 2 pi z, sin 2 pi z) without libm: quadrant reduction to |phi| <= pi/4, then Taylor series.

    Accurate to a few ulp for any finite z (tested against math.cos/math.sin to 5e-16); about 4x
    cheaper than the two libm calls it replaces in the particle update (transcendental-bound loop).
    """
    t = 4.0 * (z - math.floor(z))
    q = math.floor(t + 0.5)
    phi = (t - q) * _HALF_PI
    p2 = phi * phi
    sn = phi * (1.0 + p2 * (-1.0 / 6 + p2 * (1.0 / 120 + p2 * (-1.0 / 5040 + p2 * (1.0 / 362880 + p2 * (
        -1.0 / 39916800 + p2 * (1.0 / 6227020800 + p2 * (-1.0 / 1307674368000))))))))
    cs = 1.0 + p2 * (-0.5 + p2 * (1.0 / 24 + p2 * (-1.0 / 720 + p2 * (1.0 / 40320 + p2 * (
        -1.0 / 3628800 + p2 * (1.0 / 479001600 + p2 * (-1.0 / 87178291200 + p2 / 20922789888000)))))))
    quadrant = int(q) & 3
    if quadrant == 0:
        return cs, sn
    if quadrant == 1:
        return -sn, cs
    if quadrant == 2:
        return -cs, -sn
    return sn, -cs


_sincos_2pi = jit(sincos_2pi_py, inline="always")


def build_helpers(compile):
    """Helpers shared by the CPU and CUDA kernels (compiled by ``jit`` or ``cuda.jit(device=True)``)."""
    normal_pair = build_normal_pair(compile)

    def trig_field(x, wr, wi, L, derivative):
        """Re sum_{k=-L..L} w_k e^{2 pi i k x} (or its x-derivative); w stored at index k + L."""
        c1 = math.cos(TWO_PI * x)
        s1 = math.sin(TWO_PI * x)
        c = 1.0
        s = 0.0
        out = wr[L] if not derivative else 0.0  # k = 0
        for k in range(1, L + 1):
            c, s = c * c1 - s * s1, s * c1 + c * s1  # cos, sin of 2 pi k x by rotation
            if derivative:
                # k: -2 pi k (c wi_k + s wr_k); -k: +2 pi k (c wi_-k - s wr_-k)
                out += -TWO_PI * k * (c * wi[L + k] + s * wr[L + k]) + TWO_PI * k * (c * wi[L - k] - s * wr[L - k])
            else:
                out += (c * wr[L + k] - s * wi[L + k]) + (c * wr[L - k] + s * wi[L - k])
        return out

    def field_cs(c1, s1, wr, wi, L, derivative):
        """As ``trig_field`` but from c1 = cos(2 pi x), s1 = sin(2 pi x) (already known)."""
        c = 1.0
        s = 0.0
        out = wr[L] if not derivative else 0.0
        for k in range(1, L + 1):
            c, s = c * c1 - s * s1, s * c1 + c * s1
            if derivative:
                out += -TWO_PI * k * (c * wi[L + k] + s * wr[L + k]) + TWO_PI * k * (c * wi[L - k] - s * wr[L - k])
            else:
                out += (c * wr[L + k] - s * wi[L + k]) + (c * wr[L - k] + s * wi[L - k])
        return out

    def weights(C, mxr, mxi, myr, myi, L, wr_x, wi_x, wr_y, wi_y):
        """w_k = sum_l C[k, l] nu_hat_l (x-player) and u_l = sum_k C[k, l] mu_hat_k (y-player), m_{-l} = conj(m_l)."""
        n = 2 * L + 1
        for a in range(n):
            sxr = 0.0
            sxi = 0.0
            syr = 0.0
            syi = 0.0
            for b in range(n):
                l = b - L
                r, i = (myr[l], myi[l]) if l >= 0 else (myr[-l], -myi[-l])
                cr, ci = C[a, b].real, C[a, b].imag
                sxr += cr * r - ci * i
                sxi += cr * i + ci * r
                r, i = (mxr[l], mxi[l]) if l >= 0 else (mxr[-l], -mxi[-l])
                cr, ci = C[b, a].real, C[b, a].imag
                syr += cr * r - ci * i
                syi += cr * i + ci * r
            wr_x[a] = sxr
            wi_x[a] = sxi
            wr_y[a] = syr
            wi_y[a] = syi

    def reduce_moments(part, n, out):
        """out[0 | 1, l] = (sum over chunks/blocks of part[c, 0 | 1, l]) / n, in a fixed order."""
        for l in range(part.shape[2]):
            a = 0.0
            b = 0.0
            for c in range(part.shape[0]):
                a += part[c, 0, l]
                b += part[c, 1, l]
            out[0, l] = a / n
            out[1, l] = b / n

    trig_field_c = compile(trig_field)

    def grid_ni0(g, wr_x, wi_x, wr_y, wi_y, L):
        """NI_0 = max_y Psi_mu(y) - min_x Phi_nu(x) on the grid g."""
        mx = -np.inf
        mn = np.inf
        for i in range(g.shape[0]):
            phi = trig_field_c(g[i], wr_x, wi_x, L, False)
            psi = trig_field_c(g[i], wr_y, wi_y, L, False)
            mn = min(mn, phi)
            mx = max(mx, psi)
        return mx - mn

    return (normal_pair, trig_field_c, compile(field_cs), compile(weights), compile(grid_ni0),
            compile(reduce_moments))


_normal_pair, _trig_field, _field_cs, _weights, grid_ni0, _reduce = build_helpers(jit)


def _build_feature_kernels(parallel: bool):
    """The feature-path kernels, compiled serial (many small systems: runs in parallel) or parallel
    (one large system: particles in parallel). Same code, same summation order, same bits.

    One fused pass per player and step: drift from the stored cos/sin of 2 pi Z (no recomputation),
    Gaussian noise (Box-Muller pairs shared by particles 2j and 2j + 1), the new position, its cos/sin,
    and the Fourier-moment partial sums for the next step (fixed chunks, fixed order).
    """

    @jit(parallel=parallel)
    def start(Z, cs, sn, L, part):
        n = Z.shape[0]
        per = (n + N_CHUNKS - 1) // N_CHUNKS
        for c in prange(N_CHUNKS):
            part[c, :, :] = 0.0
            for j in range(c * per, min(n, (c + 1) * per)):
                c1, s1 = _sincos_2pi(Z[j])
                cs[j] = c1
                sn[j] = s1
                _accumulate(part, c, c1, s1, L)

    @jit(parallel=parallel)
    def step(Z, cs, sn, wr, wi, L, Lm, sign, lr, sd, key, k, part):
        n = Z.shape[0]
        per = 2 * ((n + 2 * N_CHUNKS - 1) // (2 * N_CHUNKS))  # even chunks: normal pairs stay together
        for c in prange(N_CHUNKS):
            part[c, :, :] = 0.0
            # moments up to order 2 in registers (the common case), higher orders through ``part``
            a0 = 0.0
            a1 = 0.0
            b1 = 0.0
            a2 = 0.0
            b2 = 0.0
            for j in range(c * per, min(n, (c + 1) * per), 2):
                xi0, xi1 = _normal_pair(key, k, n, j)
                for t in range(2):
                    i = j + t
                    if i >= n:
                        break
                    xi = xi0 if t == 0 else xi1
                    z = Z[i] + sign * lr * _field_cs(cs[i], sn[i], wr, wi, L, True) + sd * xi
                    z -= math.floor(z)
                    Z[i] = z
                    c1, s1 = _sincos_2pi(z)
                    cs[i] = c1
                    sn[i] = s1
                    a0 += 1.0
                    a1 += c1
                    b1 += s1
                    c2 = c1 * c1 - s1 * s1
                    s2 = 2.0 * s1 * c1
                    a2 += c2
                    b2 += s2
                    if Lm > 2:
                        cc = c2
                        ss = s2
                        for l in range(3, Lm + 1):
                            cc, ss = cc * c1 - ss * s1, ss * c1 + cc * s1
                            part[c, 0, l] += cc
                            part[c, 1, l] += ss
            part[c, 0, 0] = a0
            part[c, 0, 1] = a1
            part[c, 1, 1] = b1
            if Lm >= 2:
                part[c, 0, 2] = a2
                part[c, 1, 2] = b2

    @jit
    def gda_feature(X, Y, C, taus, eta, h, k0, k1, keyx, keyy, rec_k, rec_mom, rec_ni0, g, n_mom):
        """Advance one particle system from step k0 to k1 (simultaneous updates); record moments, NI_0."""
        L = (C.shape[0] - 1) // 2
        Lm = max(L, n_mom)
        cx, sx = np.empty_like(X), np.empty_like(X)
        cy, sy = np.empty_like(Y), np.empty_like(Y)
        px = np.zeros((N_CHUNKS, 2, Lm + 1))
        py = np.zeros((N_CHUNKS, 2, Lm + 1))
        mx = np.empty((2, Lm + 1))
        my = np.empty((2, Lm + 1))
        wr_x, wi_x = np.empty(2 * L + 1), np.empty(2 * L + 1)
        wr_y, wi_y = np.empty(2 * L + 1), np.empty(2 * L + 1)
        start(X, cx, sx, Lm, px)
        start(Y, cy, sy, Lm, py)
        nrec = rec_k.shape[0]
        ri = 0
        while ri < nrec and rec_k[ri] < k0:
            ri += 1
        for k in range(k0, k1 + 1):
            _reduce(px, X.shape[0], mx)
            _reduce(py, Y.shape[0], my)
            _weights(C, mx[0], mx[1], my[0], my[1], L, wr_x, wi_x, wr_y, wi_y)
            if ri < nrec and rec_k[ri] == k:
                for m in range(n_mom):
                    rec_mom[ri, 0, 2 * m] = mx[0, m + 1]
                    rec_mom[ri, 0, 2 * m + 1] = mx[1, m + 1]
                    rec_mom[ri, 1, 2 * m] = my[0, m + 1]
                    rec_mom[ri, 1, 2 * m + 1] = my[1, m + 1]
                if g.shape[0] > 0:
                    rec_ni0[ri] = grid_ni0(g, wr_x, wi_x, wr_y, wi_y, L)
                ri += 1
            if k == k1:
                break
            tau = taus[k]
            step(X, cx, sx, wr_x, wi_x, L, Lm, -1.0, h, math.sqrt(2.0 * tau * h), keyx, k, px)
            step(Y, cy, sy, wr_y, wi_y, L, Lm, 1.0, eta * h, math.sqrt(2.0 * eta * tau * h), keyy, k, py)

    return start, gda_feature


@jit(inline="always")
def _accumulate(part, c, c1, s1, L):
    cc = 1.0
    ss = 0.0
    part[c, 0, 0] += 1.0
    for l in range(1, L + 1):
        cc, ss = cc * c1 - ss * s1, ss * c1 + cc * s1
        part[c, 0, l] += cc
        part[c, 1, l] += ss


@jit(parallel=True)
def fourier_moments(Z, L, out_re, out_im):
    """out[l] = mean_j e^{2 pi i l Z_j}, l = 0..L (fixed chunks, fixed order)."""
    part = np.zeros((N_CHUNKS, 2, L + 1))
    cs, sn = np.empty_like(Z), np.empty_like(Z)
    _start_parallel(Z, cs, sn, L, part)
    out = np.empty((2, L + 1))
    _reduce(part, Z.shape[0], out)
    out_re[:] = out[0]
    out_im[:] = out[1]


_start_serial, _gda_feature_serial = _build_feature_kernels(False)
_start_parallel, gda_feature = _build_feature_kernels(True)


@jit(parallel=True)
def gda_feature_runs(X, Y, C, taus, eta, h, k0, k1, keys, rec_k, rec_mom, rec_ni0, g, n_mom):
    """Many independent small systems: one serial system per thread (rows of X, Y)."""
    for r in prange(X.shape[0]):
        _gda_feature_serial(X[r], Y[r], C, taus, eta, h, k0, k1, keys[r, 0], keys[r, 1], rec_k, rec_mom[r],
                            rec_ni0[r], g, n_mom)


@jit(parallel=True)
def pairwise_drift(X, Y, gx, gy, params, dX, dY):
    """dX_i = (1/N_y) sum_j grad_x K(X_i, Y_j), dY_j = (1/N_x) sum_i grad_y K(X_i, Y_j): O(N_x N_y)."""
    nx, ny = X.shape[0], Y.shape[0]
    for i in prange(nx):
        s = 0.0
        for j in range(ny):
            s += gx(X[i], Y[j], params)
        dX[i] = s / ny
    for j in prange(ny):
        s = 0.0
        for i in range(nx):
            s += gy(X[i], Y[j], params)
        dY[j] = s / nx


@jit
def _noisy_move(Z, D, lr, sd, key, k):
    """Z <- Z + lr D + sd xi (mod 1), with the same normal pairs as the feature path."""
    n = Z.shape[0]
    for j in range(0, n, 2):
        xi0, xi1 = _normal_pair(key, k, n, j)
        z = Z[j] + lr * D[j] + sd * xi0
        Z[j] = z - math.floor(z)
        if j + 1 < n:
            z = Z[j + 1] + lr * D[j + 1] + sd * xi1
            Z[j + 1] = z - math.floor(z)


@jit
def gda_pairwise(X, Y, gx, gy, params, taus, eta, h, k0, k1, keyx, keyy, rec_k, rec_mom, n_mom):
    """Advance one particle system from k0 to k1 with the pairwise drift; record moments."""
    dX = np.empty_like(X)
    dY = np.empty_like(Y)
    mre = np.empty(n_mom + 1)
    mim = np.empty(n_mom + 1)
    nrec = rec_k.shape[0]
    ri = 0
    while ri < nrec and rec_k[ri] < k0:
        ri += 1
    for k in range(k0, k1 + 1):
        if ri < nrec and rec_k[ri] == k:
            for p, Z in enumerate((X, Y)):
                fourier_moments(Z, n_mom, mre, mim)
                for m in range(n_mom):
                    rec_mom[ri, p, 2 * m] = mre[m + 1]
                    rec_mom[ri, p, 2 * m + 1] = mim[m + 1]
            ri += 1
        if k == k1:
            break
        pairwise_drift(X, Y, gx, gy, params, dX, dY)
        tau = taus[k]
        sdx = math.sqrt(2.0 * tau * h)
        sdy = math.sqrt(2.0 * eta * tau * h)
        _noisy_move(X, dX, -h, sdx, keyx, k)
        _noisy_move(Y, dY, eta * h, sdy, keyy, k)


# ------------------------------------------------------------------------------------------- PDE


@jit(inline="always")
def _bern(z):
    """B(z) = z / (e^z - 1), B(0) = 1."""
    if abs(z) < 1e-12:
        return 1.0 - 0.5 * z
    return z / math.expm1(z)


@jit
def _sg_rhs(p, V, tau, dx, out):
    """d p_i/dt for d_t m = d_x(m d_x V) + tau d_xx m (masses p, periodic), Scharfetter-Gummel flux.

    J_{i+1/2} = -(tau/dx^2)[B(-z) p_{i+1} - B(z) p_i], z = (V_{i+1} - V_i)/tau: the discrete Gibbs
    state p ~ exp(-V/tau) has J = 0 exactly (B(z)/B(-z) = e^{-z}).
    """
    M = p.shape[0]
    c = tau / (dx * dx)
    for i in range(M):
        ip = i + 1 if i + 1 < M else 0
        z = (V[ip] - V[i]) / tau
        J = -c * (_bern(-z) * p[ip] - _bern(z) * p[i])
        out[i] -= J
        out[ip] += J


@jit
def sg_advance(p, q, A, tau, eta, dt, nsteps):
    """Explicit Euler for the two-scale mean-field GDA PDE on the grid (A[i, j] = K(g_i, g_j))."""
    M = p.shape[0]
    dx = 1.0 / M
    dp = np.empty(M)
    dq = np.empty(M)
    V = np.empty(M)
    W = np.empty(M)
    for _ in range(nsteps):
        for i in range(M):  # V = Phi_nu = A q; W = -Psi_mu = -A^T p
            s = 0.0
            for j in range(M):
                s += A[i, j] * q[j]
            V[i] = s
        for j in range(M):
            W[j] = 0.0
        for i in range(M):
            pi = p[i]
            for j in range(M):
                W[j] -= A[i, j] * pi
        dp[:] = 0.0
        dq[:] = 0.0
        _sg_rhs(p, V, tau, dx, dp)
        _sg_rhs(q, W, tau, dx, dq)
        for i in range(M):
            p[i] += dt * dp[i]
            q[i] += dt * eta * dq[i]
