"""Numba kernels of the Guess & Check Monte Carlo (private; see :mod:`gdsim.guess_check`).

One sample = one draw of every weight of the factorisation from the prior, the end-to-end matrix Y, and its
training and generalisation losses. Sample s of a run with key k draws its P weights from the counter-based
generator (:mod:`gdsim._core.counter_rng`) at step s, items 0 .. P-1, so a sample's numbers depend on (k, s)
alone. Samples are grouped in fixed blocks of ``block`` consecutive indices; a block's sums are taken
serially in sample order and written to its own slot, and the blocks are reduced afterwards in block order:
the results are the same bits whatever the thread count or the chunking of kernel calls.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.counter_rng import _S11, _TWO_M53, splitmix64_py
from gdsim._core.jit import jit

_mix = jit(splitmix64_py, inline="always")

LINEAR, TANH, LEAKY_RELU = 0, 1, 2
GAUSSIAN, UNIFORM = 0, 1
#: float statistics per block, before the per-threshold ones: sum gen, sum gen^2, sum train, sum train^2, min train
N_PRIOR_STATS = 5


@jit(inline="always")
def _act(x, code, slope):
    if code == TANH:
        return math.tanh(x)
    if code == LEAKY_RELU:
        return x if x > 0.0 else slope * x
    return x


@jit(inline="always")
def _u01(base, c):
    """uniform01(key, s, c) of :mod:`gdsim._core.counter_rng` given base = mix(key ^ mix(s)) (the same bits)."""
    return np.float64(_mix(base ^ np.uint64(c)) >> _S11) * _TWO_M53


@jit
def draw_weights(key, s, prior, z):
    """The prior draws of sample s into z (standard normal, or uniform on [-1, 1]): item j of z.size (even: the
    parameter count rounded up, so that normals come in pairs) at step s of the run's key.

    The same bits as ``counter_rng``'s ``normal_pair(key, s, z.size, j)`` (Marsaglia's polar method) and
    ``uniform01(key, s, j)``, with the per-sample part of the hash, mix(key ^ mix(s)), computed once per sample
    instead of once per uniform (1.6x faster, measured).
    """
    P = z.size
    base = _mix(key ^ _mix(np.uint64(s)))
    if prior == GAUSSIAN:
        for j in range(0, P, 2):
            a = 0
            while True:
                c = 2 * (a * P + j)
                v1 = 2.0 * _u01(base, c) - 1.0
                v2 = 2.0 * _u01(base, c + 1) - 1.0
                q = v1 * v1 + v2 * v2
                if 0.0 < q < 1.0:
                    break
                a += 1
            f = math.sqrt(-2.0 * math.log(q) / q)
            z[j] = f * v1
            z[j + 1] = f * v2
    else:
        for j in range(P):
            z[j] = 2.0 * _u01(base, j) - 1.0


@jit
def forward(z, dims, act, slope, normalise, soft, H, T, Y):
    """End-to-end matrix of one sample: Y = act(... act(I W_1) W_2 ...) W_d with W_l = z-block / sqrt(d_l), the
    hidden layers scaled by 1/sqrt(width) and the last by 1/sqrt(n_cols) (the authors' ``train_gnc``).

    ``dims`` = [n_rows, width, ..., width, n_cols] (d + 1 entries); H, T scratch (n_rows, max dim); Y (n_rows, n_cols).
    """
    d = dims.size - 1
    n_rows = dims[0]
    n_cols = dims[d]
    off = 0
    # layer 1 acts on the identity: its output is W_1 itself
    c0 = dims[1]
    sc = 1.0 / math.sqrt(c0 if d > 1 else n_cols)
    for i in range(n_rows):
        for c in range(c0):
            x = z[off + i * c0 + c] * sc
            H[i, c] = _act(x, act, slope) if d > 1 else x
    off += n_rows * c0
    for l in range(1, d):
        din = dims[l]
        dout = dims[l + 1]
        last = l == d - 1
        sc = 1.0 / math.sqrt(n_cols if last else dout)
        for i in range(n_rows):
            for c in range(dout):
                T[i, c] = 0.0
            for a in range(din):
                h = H[i, a] * sc
                base = off + a * dout
                for c in range(dout):
                    T[i, c] += h * z[base + c]
            for c in range(dout):
                H[i, c] = T[i, c] if last else _act(T[i, c], act, slope)
        off += din * dout
    nrm2 = 0.0
    for i in range(n_rows):
        for c in range(n_cols):
            Y[i, c] = H[i, c]
            nrm2 += H[i, c] * H[i, c]
    if normalise:
        f = 1.0 / (math.sqrt(nrm2) + soft)
        for i in range(n_rows):
            for c in range(n_cols):
                Y[i, c] *= f


@jit
def losses(Y, A, y, B, b):
    """(train, gen): mean_i (<A_i, Y> - y_i)^2 and mean_j (<B_j, Y> - b_j)^2 with A (m, n_rows n_cols), B (q, ...)."""
    flat = Y.ravel()
    tr = 0.0
    for i in range(A.shape[0]):
        p = 0.0
        for k in range(flat.size):
            p += A[i, k] * flat[k]
        r = p - y[i]
        tr += r * r
    ge = 0.0
    for j in range(B.shape[0]):
        p = 0.0
        for k in range(flat.size):
            p += B[j, k] * flat[k]
        r = p - b[j]
        ge += r * r
    return tr / A.shape[0], ge / max(B.shape[0], 1)


@jit
def _scratch(dims, n_params):
    wmax = 0
    for k in range(dims.size):
        wmax = max(wmax, dims[k])
    n_rows = dims[0]
    n_cols = dims[dims.size - 1]
    z = np.empty(n_params + (n_params & 1))
    return z, np.empty((n_rows, wmax)), np.empty((n_rows, wmax)), np.empty((n_rows, n_cols))


@jit(parallel=True)
def gc_blocks(keys, A, y, B, b, dims, n_params, act, slope, prior, normalise, soft, eps, samples, block, t0, t1,
              stats, counts):
    """Blocks t0 .. t1-1 of the flattened (run, block) grid: per block the prior statistics and, per threshold,
    the accepted count and the sum and sum of squares of the accepted samples' generalisation losses.

    stats (R, n_blocks, 5 + 2 E) float: sum gen, sum gen^2, sum train, sum train^2, min train, then per threshold
    e: sum gen and sum gen^2 over samples with train < eps[e]; counts (R, n_blocks, 1 + E) int: non-finite
    samples (excluded from every sum), then accepted per threshold.
    """
    n_blocks = stats.shape[1]
    E = eps.size
    for t in prange(t0, t1):
        r = t // n_blocks
        blk = t - r * n_blocks
        z, H, T, Y = _scratch(dims, n_params)
        sg = 0.0
        sg2 = 0.0
        st = 0.0
        st2 = 0.0
        mt = np.inf
        acc = np.zeros(2 * E)
        cnt = np.zeros(1 + E, dtype=np.int64)
        s1 = min(samples, (blk + 1) * block)
        for s in range(blk * block, s1):
            draw_weights(keys[r], s, prior, z)
            forward(z, dims, act, slope, normalise, soft, H, T, Y)
            tr, ge = losses(Y, A[r], y[r], B[r], b[r])
            if not (np.isfinite(tr) and np.isfinite(ge)):
                cnt[0] += 1
                continue
            sg += ge
            sg2 += ge * ge
            st += tr
            st2 += tr * tr
            mt = min(mt, tr)
            for e in range(E):
                if tr < eps[e]:
                    acc[2 * e] += ge
                    acc[2 * e + 1] += ge * ge
                    cnt[1 + e] += 1
        stats[r, blk, 0] = sg
        stats[r, blk, 1] = sg2
        stats[r, blk, 2] = st
        stats[r, blk, 3] = st2
        stats[r, blk, 4] = mt
        for e in range(2 * E):
            stats[r, blk, N_PRIOR_STATS + e] = acc[e]
        for e in range(1 + E):
            counts[r, blk, e] = cnt[e]


@jit
def gc_samples(key, idx, A, y, B, b, dims, n_params, act, slope, prior, normalise, soft, Ys, train, gen, W):
    """The samples ``idx`` of one run one by one: their end-to-end matrices, losses and raw draws (the kernel's
    per-sample path, exposed for oracles and peers)."""
    z, H, T, Y = _scratch(dims, n_params)
    for i in range(idx.size):
        draw_weights(key, idx[i], prior, z)
        forward(z, dims, act, slope, normalise, soft, H, T, Y)
        train[i], gen[i] = losses(Y, A, y, B, b)
        Ys[i] = Y
        W[i] = z[:n_params]
