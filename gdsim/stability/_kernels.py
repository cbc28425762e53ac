"""Numba kernels of the stability family. Grids run as structure of arrays: the innermost loop runs across
the cells of a block (independent runs), so it vectorises; one block per prange iteration, so the numbers do
not depend on the thread count. Plain NumPy references are in ``tests/naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gdsim._core.elementary import sigmoid_pade_py, softplus_py
from gdsim._core.jit import jit

#: cells per block of the structure-of-arrays grid kernels
BLOCK = 64
#: status codes of a grid cell
CONVERGED, PERIODIC, NOT_CONVERGED, DIVERGED = 0, 1, 2, 3
#: |z| (second-order model) or |w| (logistic) beyond which a run counts as diverged
BLOWUP = 1e8
#: the last iterates kept for the period test
N_TAIL = 8


# ------------------------------------------------------------------------------ second-order regression (2-D)
@jit(inline="always")
def _second_order_state(a0, a1, g0, g1, y, eta):
    """Jacobian (j0, j1), residual z and eta * lambda of the two-parameter model at (a0, a1)."""
    j0 = g0 + a0
    j1 = g1 - a1
    z = 0.5 * (a0 * a0 - a1 * a1) + g0 * a0 + g1 * a1 - y
    return j0, j1, z, eta * (j0 * j0 + j1 * j1)


@jit(parallel=True)
def second_order_grid(lr, eps_y, g0, g1, steps, tol, final_lam, max_lam, final_z, status):
    """GD on z = 0.5 (t0^2 - t1^2) + g0 t0 + g1 t1 - eps_y (epsilon = 1), t_0 = 0, per cell (lr_c, eps_y_c).

    Writes eta * lambda at the end and its maximum over the run (lambda = ||J||^2, J = (g0 + t0, g1 - t1)),
    the final |z| and a status code (converged |z| < tol; periodic: the last iterates repeat with period 2,
    4 or 8; not converged; diverged).
    """
    n = lr.size
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        m = hi - lo
        t0 = np.zeros(BLOCK)
        t1 = np.zeros(BLOCK)
        mx = np.full(BLOCK, -np.inf)
        tail0 = np.zeros((N_TAIL + 1, BLOCK))
        tail1 = np.zeros((N_TAIL + 1, BLOCK))
        eta = np.zeros(BLOCK)
        y = np.zeros(BLOCK)
        for c in range(m):
            eta[c] = lr[lo + c]
            y[c] = eps_y[lo + c]
        for t in range(steps):
            for c in range(BLOCK):
                j0, j1, z, lam = _second_order_state(t0[c], t1[c], g0, g1, y[c], eta[c])
                mx[c] = lam if lam > mx[c] else mx[c]
                s = eta[c] * z
                t0[c] -= s * j0
                t1[c] -= s * j1
            k = t - (steps - 1 - N_TAIL)
            if k >= 0:
                for c in range(BLOCK):
                    tail0[k, c] = t0[c]
                    tail1[k, c] = t1[c]
        for c in range(m):
            a0 = t0[c]
            a1 = t1[c]
            j0, j1, z, lam = _second_order_state(a0, a1, g0, g1, y[c], eta[c])
            mx[c] = lam if lam > mx[c] else mx[c]
            final_lam[lo + c] = lam
            max_lam[lo + c] = mx[c]
            final_z[lo + c] = abs(z)
            if not (np.isfinite(z) and abs(z) < BLOWUP):
                status[lo + c] = DIVERGED
                final_lam[lo + c] = np.nan
                final_z[lo + c] = np.nan
            elif abs(z) < tol:
                status[lo + c] = CONVERGED
            else:
                status[lo + c] = NOT_CONVERGED
                if steps > N_TAIL:
                    for p in (2, 4, 8):
                        d = abs(tail0[N_TAIL, c] - tail0[N_TAIL - p, c]) + abs(tail1[N_TAIL, c] - tail1[N_TAIL - p, c])
                        if d < 1e-9 * (1.0 + abs(a0) + abs(a1)):
                            status[lo + c] = PERIODIC
                            break


# ------------------------------------------------------------------------------ logistic regression
#: branch-free, no libm call: the loop across cells vectorises (measured below in benchmarks/bench_stability.py)
_sigmoid = jit(sigmoid_pade_py, inline="always")


_softplus = jit(softplus_py, inline="always")


@jit(parallel=True)
def logistic_grid(A, y, lr, l2, steps, tol, final_loss, grad_norm, status, conv_step):
    """Full-batch GD from w = 0 on (1/n) sum log(1 + exp(-y_k <a_k, w>)) + (l2/2)||w||^2, per cell (lr_c, l2_c).

    Writes the final objective, the final gradient norm, the first step at which the gradient norm fell
    below tol (-1 if never) and a status code (converged: below tol at the end; periodic: the last iterates
    repeat with period 2, 4 or 8; not converged; diverged: non-finite or ||w|| > BLOWUP).
    """
    n, d = A.shape
    ncell = lr.size
    nblocks = (ncell + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        lo = b * BLOCK
        hi = min(ncell, lo + BLOCK)
        m = hi - lo
        W = np.zeros((d, BLOCK))
        G = np.zeros((d, BLOCK))
        marg = np.zeros(BLOCK)
        eta = np.zeros(BLOCK)
        lam = np.zeros(BLOCK)
        gn = np.zeros(BLOCK)
        first = np.full(BLOCK, -1)
        tail = np.zeros((N_TAIL + 1, d, BLOCK))
        for c in range(m):
            eta[c] = lr[lo + c]
            lam[c] = l2[lo + c]
        for t in range(steps + 1):
            for i in range(d):
                for c in range(BLOCK):
                    G[i, c] = lam[c] * W[i, c]
            for k in range(n):
                for c in range(BLOCK):
                    marg[c] = 0.0
                for i in range(d):
                    a = A[k, i] * y[k]
                    for c in range(BLOCK):
                        marg[c] += a * W[i, c]
                for c in range(BLOCK):
                    marg[c] = -_sigmoid(-marg[c]) / n
                for i in range(d):
                    a = A[k, i] * y[k]
                    for c in range(BLOCK):
                        G[i, c] += marg[c] * a
            for c in range(BLOCK):
                gn[c] = 0.0
            for i in range(d):
                for c in range(BLOCK):
                    gn[c] += G[i, c] * G[i, c]
            for c in range(m):
                if first[c] < 0 and np.sqrt(gn[c]) < tol:
                    first[c] = t
            if t == steps:
                break
            for i in range(d):
                for c in range(BLOCK):
                    W[i, c] -= eta[c] * G[i, c]
            k = t - (steps - 1 - N_TAIL)
            if k >= 0:
                for i in range(d):
                    for c in range(BLOCK):
                        tail[k, i, c] = W[i, c]
        for c in range(m):
            loss = 0.0
            nw = 0.0
            for i in range(d):
                loss += 0.5 * lam[c] * W[i, c] * W[i, c]
                nw += W[i, c] * W[i, c]
            for k in range(n):
                mg = 0.0
                for i in range(d):
                    mg += A[k, i] * W[i, c]
                loss += _softplus(-y[k] * mg) / n
            final_loss[lo + c] = loss
            grad_norm[lo + c] = np.sqrt(gn[c])
            conv_step[lo + c] = first[c]
            if not (np.isfinite(loss) and np.sqrt(nw) < BLOWUP):
                status[lo + c] = DIVERGED
            elif np.sqrt(gn[c]) < tol:
                status[lo + c] = CONVERGED
            else:
                status[lo + c] = NOT_CONVERGED
                if steps > N_TAIL:
                    for p in (2, 4, 8):
                        dd = 0.0
                        sc = 1.0
                        for i in range(d):
                            dd += abs(tail[N_TAIL, i, c] - tail[N_TAIL - p, i, c])
                            sc += abs(tail[N_TAIL, i, c])
                        if dd < 1e-9 * sc:
                            status[lo + c] = PERIODIC
                            break


@jit(inline="always")
def _margin(A, y, w, k):
    mg = 0.0
    for i in range(A.shape[1]):
        mg += A[k, i] * w[i]
    return y[k] * mg


@jit
def all_separated(A, y, w):
    """Whether every margin y_k <a_k, w> is > 0."""
    for k in range(A.shape[0]):
        if _margin(A, y, w, k) <= 0.0:
            return False
    return True


@jit
def steps_to_separate(A, y, lr, max_steps, perceptron):
    """Steps from w = 0 until every margin is positive; -1 if not within max_steps.

    Both updates read w <- w + (1/n) sum_k c_k y_k a_k: logistic GD (l2 = 0) has c_k = lr sigmoid(-m_k); the
    batch perceptron has c_k = 1 (m_k < 0), 1/2 (m_k = 0), 0 (m_k > 0), the lr -> infinity limit of
    c_k / lr."""
    n, d = A.shape
    w = np.zeros(d)
    u = np.zeros(d)
    for t in range(max_steps + 1):
        if t > 0 and all_separated(A, y, w):
            return t
        if t == max_steps:
            break
        u[:] = 0.0
        for k in range(n):
            m = _margin(A, y, w, k)
            if perceptron:
                c = 1.0 if m < 0.0 else (0.5 if m == 0.0 else 0.0)
            else:
                c = lr * _sigmoid(-m)
            for i in range(d):
                u[i] += c * y[k] * A[k, i] / n
        for i in range(d):
            w[i] += u[i]
    return -1
