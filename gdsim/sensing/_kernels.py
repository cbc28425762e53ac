"""Numba kernels for matrix sensing (private; see :mod:`gdsim.sensing`).

The hot loop is the sensing operator: for a batch of B symmetric matrices W_b (packed upper triangles
z_b, P = d(d+1)/2 entries) compute the residuals r_bi = <A_i, W_b> - y_i and the packed gradient
matrices g_b = (1/m) sum_i r_bi A_i. It is memory-bound (2 m P multiply-adds per matrix, m P values of
A streamed), so:

* A is stored as the packed symmetrised rows ``Ap[i] = c * sym(A_i)[upper]`` with c = 1 on the diagonal
  and 2 off it (so <A_i, W> = Ap[i] . z), optionally in float32 (accumulation is float64 either way);
* both products use **one pass** over A: row i is loaded once, its dot products with every z_b give
  r_bi, and the same row (now in L1) is added into every g_b, so a batch of U's shares the pass;
* rows are split into a fixed number of chunks (not one per thread), each accumulating its own partial
  g, summed in a fixed order afterwards: the result does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gdsim._core.jit import jit

N_CHUNKS = 16  # fixed partition of the rows of A (thread-count independent reduction order)


def pack_sensing_matrices(A: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(m, d, d) sensing matrices -> (m, d(d+1)/2) packed rows c * sym(A_i)[upper] (c = 1 diag, 2 off)."""
    m, d, _ = A.shape
    iu = np.triu_indices(d)
    S = 0.5 * (A + np.swapaxes(A, 1, 2))
    weights = np.where(iu[0] == iu[1], 1.0, 2.0)
    return np.ascontiguousarray(S[:, iu[0], iu[1]] * weights, dtype=dtype)


@jit(reassoc=True)
def _row_dot(row, z):
    """row . z with float64 accumulation; ``reassoc`` lets LLVM vectorise the sum (see ``gdsim._core.jit``).

    Measured at d = 50, m = 1000: the one-pass operator takes 0.12 ms with it and 0.25 ms without
    (8 hand-split partial sums), 0.71 ms with one scalar accumulator.
    """
    s = 0.0
    for p in range(row.shape[0]):
        s += np.float64(row[p]) * z[p]
    return s


@jit(parallel=True)
def sensing_pass(Ap, Z, y, R, Gp):
    """R[b, i] = Ap[i] . Z[b] - y[i]; Gp[b] = (1/m) sum_i R[b, i] Ap[i]. One pass over Ap."""
    m, P = Ap.shape
    B = Z.shape[0]
    partial = np.zeros((N_CHUNKS, B, P))
    per = (m + N_CHUNKS - 1) // N_CHUNKS
    for c in prange(N_CHUNKS):
        i0 = c * per
        i1 = min(m, i0 + per)
        for i in range(i0, i1):
            row = Ap[i]
            for b in range(B):
                R[b, i] = _row_dot(row, Z[b]) - y[i]
            for b in range(B):
                r = R[b, i]
                acc = partial[c, b]
                for p in range(P):
                    acc[p] += r * row[p]
    inv_m = 1.0 / m
    for b in range(B):
        for p in range(P):
            s = 0.0
            for c in range(N_CHUNKS):
                s += partial[c, b, p]
            Gp[b, p] = s * inv_m


@jit
def pack_gram(U, Z):
    """Z[b] = upper triangle of U_b U_b^T, row-major packed (U is (B, d, r)); the product by BLAS."""
    B, d, r = U.shape
    for b in range(B):
        u = np.ascontiguousarray(U[b])
        W = np.dot(u, u.T)
        k = 0
        for p in range(d):
            for q in range(p, d):
                Z[b, k] = W[p, q]
                k += 1


@jit(parallel=True)
def unpack_sym(Gp, G):
    """Packed upper-triangle sums (off-diagonals carry weight 2) -> symmetric matrices G[b] (B, d, d).

    Gp[pq] = (1/m) sum r_i c_pq S_i[p, q], so G[p, q] = Gp[pq] / c_pq.
    """
    B, d, _ = G.shape
    for b in prange(B):
        k = 0
        for p in range(d):
            G[b, p, p] = Gp[b, k]
            k += 1
            for q in range(p + 1, d):
                v = 0.5 * Gp[b, k]
                G[b, p, q] = v
                G[b, q, p] = v
                k += 1
