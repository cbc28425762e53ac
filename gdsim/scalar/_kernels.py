"""Numba kernels for depth-D scalar linear networks (private).

Layout: weights are stored structure-of-arrays, ``W[i, j]`` = weight ``i`` of trajectory ``j``. The GD
kernel walks fixed blocks of ``BLOCK`` trajectories; inside a block the innermost loop runs across the
trajectories, so LLVM vectorises it (style.md: a per-trajectory inner loop was 2x slower than JAX,
this layout 10-25x faster). Trajectories never interact, so the result of each one is independent of
the block partition and of the number of threads.

Every kernel keeps the loss-function constants ``a`` and ``b`` as arguments (never globals: cached
kernels freeze globals, numba#1833).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.jit import jit, serial_and_parallel

#: Trajectories per block of the structure-of-arrays GD kernel (one AVX-512 register holds 8 doubles;
#: 64 lanes keep the block's working set of (2D + 2) x 64 doubles inside L1).
BLOCK = 64


def _gd_advance(W, eta, a, b, nsteps, blowup):
    """Advance every trajectory of ``W`` (D, B) by ``nsteps`` GD steps, in place.

    A weight leaving ``[-blowup, blowup]`` (or becoming NaN/inf) is replaced by NaN; NaN then spreads to
    the whole trajectory in the next step, which is how divergence is recorded.
    """
    D, B = W.shape
    nblocks = (B + BLOCK - 1) // BLOCK
    for kb in prange(nblocks):
        j0 = kb * BLOCK
        n = min(B, j0 + BLOCK) - j0
        w = np.empty((D, BLOCK))
        pre = np.empty((D, BLOCK))
        coef = np.empty(BLOCK)
        suf = np.empty(BLOCK)
        for i in range(D):
            for lane in range(n):
                w[i, lane] = W[i, j0 + lane]
        for _ in range(nsteps):
            # prefix products pre[i] = w_0 ... w_{i-1}; g_i = pre[i] * (w_{i+1} ... w_{D-1}) never divides by w_i
            for lane in range(n):
                pre[0, lane] = 1.0
            for i in range(1, D):
                for lane in range(n):
                    pre[i, lane] = pre[i - 1, lane] * w[i - 1, lane]
            for lane in range(n):
                coef[lane] = eta[j0 + lane] * a * (pre[D - 1, lane] * w[D - 1, lane] - b)
                suf[lane] = 1.0
            # suffix pass from the last weight down: suf holds the *old* weights to the right of i
            for i in range(D - 1, -1, -1):
                for lane in range(n):
                    wi = w[i, lane]
                    wn = wi - coef[lane] * (pre[i, lane] * suf[lane])
                    suf[lane] *= wi
                    w[i, lane] = wn if abs(wn) <= blowup else np.nan
        for i in range(D):
            for lane in range(n):
                W[i, j0 + lane] = w[i, lane]


_gd_advance_generic = serial_and_parallel(_gd_advance)

#: Depths with a generated, fully unrolled kernel (larger depths use the generic loop kernel).
UNROLLED_DEPTHS = range(2, 9)


def _unrolled_source(D: int) -> str:
    """Source of a GD kernel specialised to depth ``D``.

    With D a compile-time constant, one step of one trajectory is straight-line code whose prefix and
    suffix products live in registers, and the single lane loop vectorises (AVX-512: 8 trajectories per
    instruction). The arithmetic is exactly that of :func:`_gd_advance` (same operations, same order),
    so both kernels give the same bits.
    """
    ind = " " * 16
    lines = [f"def _gd_advance_d{D}(W, eta, a, b, nsteps, blowup):",
             "    B = W.shape[1]",
             "    nblocks = (B + BLOCK - 1) // BLOCK",
             "    for kb in prange(nblocks):",
             "        j0 = kb * BLOCK",
             "        n = min(B, j0 + BLOCK) - j0",
             "        coef_eta = np.empty(BLOCK)"]
    lines += [f"        w{i} = np.empty(BLOCK)" for i in range(D)]
    lines += ["        for lane in range(n):",
              "            coef_eta[lane] = eta[j0 + lane] * a"]
    lines += [f"            w{i}[lane] = W[{i}, j0 + lane]" for i in range(D)]
    lines += ["        for _ in range(nsteps):",
              "            for lane in range(n):"]
    lines += [f"{ind}x{i} = w{i}[lane]" for i in range(D)]
    lines += [f"{ind}p1 = 1.0 * x0"]
    lines += [f"{ind}p{i} = p{i - 1} * x{i - 1}" for i in range(2, D)]
    lines += [f"{ind}c = coef_eta[lane] * (p{D - 1} * x{D - 1} - b)",
              f"{ind}s = 1.0",
              f"{ind}n{D - 1} = x{D - 1} - c * (p{D - 1} * s)",
              f"{ind}s *= x{D - 1}"]
    for i in range(D - 2, 0, -1):
        lines += [f"{ind}n{i} = x{i} - c * (p{i} * s)", f"{ind}s *= x{i}"]
    lines += [f"{ind}n0 = x0 - c * (1.0 * s)"]
    lines += [f"{ind}w{i}[lane] = n{i} if abs(n{i}) <= blowup else np.nan" for i in range(D)]
    lines += ["        for lane in range(n):"]
    lines += [f"            W[{i}, j0 + lane] = w{i}[lane]" for i in range(D)]
    return "\n".join(lines) + "\n"


_unrolled_cache = {}


def _unrolled(D: int, parallel: bool):
    key = (D, parallel)
    if key not in _unrolled_cache:
        namespace = {"np": np, "prange": prange, "BLOCK": BLOCK}
        exec(compile(_unrolled_source(D), f"<gdsim scalar GD kernel D={D}>", "exec"), namespace)
        # generated code has no source file, so it cannot be cached on disk
        _unrolled_cache[key] = jit(namespace[f"_gd_advance_d{D}"], parallel=parallel, cache=False)
    return _unrolled_cache[key]


def gd_advance(W, eta, a, b, nsteps, blowup, *, parallel: bool, unrolled: bool = True):
    """Advance ``W`` (D, B) by ``nsteps`` GD steps in place with the fastest kernel for its depth."""
    D = W.shape[0]
    if unrolled and D in UNROLLED_DEPTHS:
        kernel = _unrolled(D, parallel)
    else:
        kernel = _gd_advance_generic[1 if parallel else 0]
    kernel(W, eta, a, b, nsteps, blowup)


@jit(inline="always")
def product(w):
    """pi(w) = prod_i w_i of one trajectory."""
    p = 1.0
    for i in range(w.shape[0]):
        p *= w[i]
    return p


@jit
def gfs_smallest_square(w, b):
    """Smallest squared weight of the gradient-flow solution reached from ``w``.

    Solves sum_i log(d_i + e^s) = 2 log|b| for s, with d_i = w_i^2 - min_j w_j^2, by Newton from
    s0 = (2/D) log|b| (G(s0) >= 0, G increasing and convex: Newton decreases monotonically to the root;
    spec gfs_sharpness.md section 3.3). Returns NaN for degenerate starts (gradient flow ends on a
    saddle): two or more zero weights, or a tie for the smallest |w_i| while sign(pi) != sign(b).
    """
    D = w.shape[0]
    umin = np.inf
    nzero = 0
    for i in range(D):
        u = w[i] * w[i]
        if not math.isfinite(u):
            return np.nan
        if u < umin:
            umin = u
        if w[i] == 0.0:
            nzero += 1
    if nzero >= 2:
        return np.nan
    p = product(w)
    if not (p * b > 0.0):  # GF must send the smallest weight through zero: a tie there is a saddle
        nmin = 0
        for i in range(D):
            if w[i] * w[i] == umin:
                nmin += 1
        if nmin >= 2:
            return np.nan
    target = 2.0 * math.log(abs(b))
    s = target / D
    for _ in range(200):
        x = math.exp(s)
        G = -target
        Gp = 0.0
        for i in range(D):
            di = w[i] * w[i] - umin
            G += math.log(di + x)
            Gp += x / (di + x)
        ds = G / Gp
        s -= ds
        if abs(ds) <= 1e-15 * max(1.0, abs(s)):
            break
    return math.exp(s)


@jit
def gfs_sharpness_one(w, a, b):
    """phi(w) = a b^2 sum_i 1 / (d_i + x), the sharpness at the gradient-flow solution."""
    x = gfs_smallest_square(w, b)
    if math.isnan(x):
        return np.nan
    D = w.shape[0]
    umin = np.inf
    for i in range(D):
        umin = min(umin, w[i] * w[i])
    acc = 0.0
    for i in range(D):
        acc += 1.0 / (w[i] * w[i] - umin + x)
    return a * b * b * acc


@jit
def gfs_point_one(w, b, out):
    """The gradient-flow solution from ``w`` written into ``out`` (NaN when degenerate).

    Squares are w_i^2 + c; signs are kept, except that when sign(pi) != sign(b) the smallest-|w_i|
    coordinate takes the sign that makes pi(out) have the sign of b (GF drives it through zero).
    """
    D = w.shape[0]
    x = gfs_smallest_square(w, b)
    if math.isnan(x):
        for i in range(D):
            out[i] = np.nan
        return
    umin = np.inf
    imin = 0
    for i in range(D):
        if w[i] * w[i] < umin:
            umin = w[i] * w[i]
            imin = i
    sign_rest = 1.0
    for i in range(D):
        out[i] = math.sqrt(w[i] * w[i] - umin + x)
        if w[i] < 0.0:
            out[i] = -out[i]
        if i != imin:
            sign_rest *= 1.0 if w[i] >= 0.0 else -1.0
    if not (product(w) * b > 0.0):
        want = 1.0 if b > 0.0 else -1.0
        out[imin] = abs(out[imin]) * want * sign_rest


@jit
def hessian_one(w, a, b, H):
    """Hessian of L = (a/2)(pi - b)^2 at ``w`` into ``H`` (D, D): H_ii = a g_i^2,
    H_ij = a g_i g_j + a (pi - b) prod_{k != i, j} w_k (explicit products, no division by w_i)."""
    D = w.shape[0]
    p = product(w)
    e = p - b
    for i in range(D):
        gi = 1.0
        for k in range(D):
            if k != i:
                gi *= w[k]
        for j in range(i, D):
            gj = 1.0
            gij = 1.0
            for k in range(D):
                if k != j:
                    gj *= w[k]
                if k != i and k != j:
                    gij *= w[k]
            if i == j:
                H[i, i] = a * gi * gi
            else:
                H[i, j] = a * gi * gj + a * e * gij
                H[j, i] = H[i, j]


@jit
def symmetric_max_eigenvalue(A):
    """Largest eigenvalue of the symmetric matrix ``A`` by cyclic Jacobi rotations (destroys ``A``).

    Allocation-free and accurate to a few ulps of ||A|| for the small matrices here (D <= ~50);
    checked against ``numpy.linalg.eigvalsh`` in the tests.
    """
    n = A.shape[0]
    if n == 1:
        return A[0, 0]
    for _ in range(100):
        off = 0.0
        diag = 0.0
        for p in range(n):
            diag += A[p, p] * A[p, p]
            for q in range(p + 1, n):
                off += A[p, q] * A[p, q]
        if not math.isfinite(off + diag):
            return np.nan
        if off <= 1e-36 * diag or off == 0.0:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = A[p, q]
                if apq == 0.0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2.0 * apq)
                if abs(theta) > 1e150:
                    t = 0.5 / theta
                else:
                    t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                    if theta < 0.0:
                        t = -t
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):
                    akp = A[k, p]
                    akq = A[k, q]
                    A[k, p] = c * akp - s * akq
                    A[k, q] = s * akp + c * akq
                for k in range(n):
                    apk = A[p, k]
                    aqk = A[q, k]
                    A[p, k] = c * apk - s * aqk
                    A[q, k] = s * apk + c * aqk
    best = A[0, 0]
    for p in range(1, n):
        best = max(best, A[p, p])
    return best


@jit
def sharpness_one(w, a, b, H):
    """S(w) = lambda_max of the Hessian at ``w``; NaN for non-finite ``w``."""
    for i in range(w.shape[0]):
        if not math.isfinite(w[i]):
            return np.nan
    hessian_one(w, a, b, H)
    return symmetric_max_eigenvalue(H)


def _observables(W, a, b, want_loss, want_sharp, want_phi, loss, sharp, phi):
    """Loss, sharpness and GFS sharpness of every trajectory of ``W`` (D, B); only the ``want_*`` ones are
    computed (the others' arrays are left untouched), so observables cost only when asked for."""
    D, B = W.shape
    nblocks = (B + BLOCK - 1) // BLOCK
    for kb in prange(nblocks):
        w = np.empty(D)
        H = np.empty((D, D))
        for j in range(kb * BLOCK, min(B, (kb + 1) * BLOCK)):
            for i in range(D):
                w[i] = W[i, j]
            if want_loss:
                e = product(w) - b
                loss[j] = 0.5 * a * e * e
            if want_sharp:
                sharp[j] = sharpness_one(w, a, b, H)
            if want_phi:
                phi[j] = gfs_sharpness_one(w, a, b)


observables_serial, observables_parallel = serial_and_parallel(_observables)


def _batch_sharpness(W, a, b, out):
    D, B = W.shape
    for j in prange(B):
        w = W[:, j].copy()
        H = np.empty((D, D))
        out[j] = sharpness_one(w, a, b, H)


def _batch_gfs_sharpness(W, a, b, out):
    D, B = W.shape
    for j in prange(B):
        out[j] = gfs_sharpness_one(W[:, j].copy(), a, b)


def _batch_gfs(W, b, out):
    D, B = W.shape
    for j in prange(B):
        tmp = np.empty(D)
        gfs_point_one(W[:, j].copy(), b, tmp)
        for i in range(D):
            out[i, j] = tmp[i]


batch_sharpness = jit(_batch_sharpness, parallel=True)
batch_gfs_sharpness = jit(_batch_gfs_sharpness, parallel=True)
batch_gfs = jit(_batch_gfs, parallel=True)


def _to_soa(w, W):
    """(B, D) rows -> (D, B) structure of arrays, in blocks of trajectories (one pass, no temporaries).

    The way back is the same copy on transposed views: ``to_soa(W.T, w.T)`` writes w (B, D) from W (D, B).
    """
    B, D = w.shape
    nblocks = (B + BLOCK - 1) // BLOCK
    for kb in prange(nblocks):
        for j in range(kb * BLOCK, min(B, (kb + 1) * BLOCK)):
            for i in range(D):
                W[i, j] = w[j, i]


to_soa_serial, to_soa_parallel = serial_and_parallel(_to_soa)
