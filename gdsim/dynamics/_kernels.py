"""Compiled drivers of the shared dynamics layer (private; see :mod:`gdsim.dynamics`).

The model's kernels (``loss_grad``, ``hvp_prepare``/``hvp_cached``, ...) arrive as first-class function values
(``numba.types.FunctionType``, built by :func:`handles`), so a driver is compiled once per *signature* (the types
of the model's data), shared by every model with data of those types, and cached on disk: it holds no model
code, so editing a model cannot leave a stale driver behind. (Passed as plain dispatchers, each model would
compile its own copy of every driver in every process: about 30 s per model and process.) Every run is
independent and runs serially inside one ``prange`` iteration (runs outer, steps inner): a run's numbers never
depend on the thread count.

Lanczos: full reorthogonalisation (twice, "twice is enough"), convergence when every wanted Ritz value's
error bound is at most tol |theta_1|: the residual r_i = beta_n |s_n,i| itself, or r_i^2 / gap_i (gap_i the
distance to the nearest other Ritz value) once r_i <= 1e-4 |theta_1| (Parlett 1998, 11.7), restarts on a fresh deterministic vector when an invariant subspace is found early.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import prange, types

from gdsim._core.counter_rng import build_normal_pair, uniform01
from gdsim._core.codegen import function_from_source
from gdsim._core.first_class import function_value
from gdsim._core.jit import jit

# optimiser codes
GD, HEAVY_BALL, NESTEROV, RMSPROP, ADAM, LANGEVIN = 0, 1, 2, 3, 4, 5
#: XORed into a run's key for its Langevin noise, so the noise counters (step, index) never meet the
#: counters of the Lanczos start vectors drawn from the run's own key (salts 1, 2, 3, ...)
LANGEVIN_SALT = np.uint64(0x4C616E676576E31)

_normal_pair = build_normal_pair(lambda f: jit(f, inline="always"))


@jit
def _apply(hvpc, w, x, data, cache, scale, tmp, out):
    """out = H x, or D H D x with D = diag(scale) when ``scale`` is not empty (preconditioned sharpness)."""
    if scale.size == 0:
        hvpc(w, x, *data, cache, out)
    else:
        for i in range(x.size):
            tmp[i] = scale[i] * x[i]
        hvpc(w, tmp, *data, cache, out)
        for i in range(x.size):
            out[i] *= scale[i]


@jit
def _dot(a, b):
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@jit
def lanczos_orthogonalise(Q, j, beta, hv):
    """One Lanczos step on hv = H Q[j]: alpha_j = <Q[j], hv>, the three-term recurrence, then full
    reorthogonalisation against Q[0..j] (twice: "twice is enough", Parlett), in place. Returns
    (alpha_j, ||hv||) = (alpha_j, beta_j). Shared by :func:`lanczos` and the SLQ of ``_spectral``."""
    P = hv.size
    a = _dot(Q[j], hv)
    for i in range(P):
        hv[i] -= a * Q[j, i]
    if j > 0:
        for i in range(P):
            hv[i] -= beta[j - 1] * Q[j - 1, i]
    for _ in range(2):
        for q in range(j + 1):
            c = _dot(Q[q], hv)
            for i in range(P):
                hv[i] -= c * Q[q, i]
    return a, math.sqrt(_dot(hv, hv))


@jit
def _tridiagonal_eigh(alpha, beta, n):
    """Eigenvalues (ascending) and eigenvectors of the n x n Lanczos tridiagonal matrix."""
    T = np.zeros((n, n))
    for i in range(n):
        T[i, i] = alpha[i]
        if i + 1 < n:
            T[i, i + 1] = beta[i]
            T[i + 1, i] = beta[i]
    return np.linalg.eigh(T)


@jit
def fresh_vector(key, salt, out):
    """A deterministic pseudo-random unit vector keyed by (key, salt)."""
    s = 0.0
    for i in range(out.size):
        x = uniform01(key, salt, i) - 0.5
        out[i] = x
        s += x * x
    s = math.sqrt(s)
    for i in range(out.size):
        out[i] /= s


@jit(parallel=True)
def fresh_vectors(keys, salt, V):
    """V[r] = fresh_vector(keys[r], salt) for every run (one compiled call instead of R from Python)."""
    for r in prange(V.shape[0]):
        fresh_vector(keys[r], salt, V[r])


@jit
def lanczos(prep, hvpc, w, data, scale, k, v0, tol, max_iter, key, Q, evals, evecs, strict=False):
    """Top-``k`` eigenvalues (descending, into ``evals``) of H(w) (or D H D), and the top Ritz vectors.

    ``evecs`` (kv, P) receives the top ``kv`` Ritz vectors (kv <= k), descending like ``evals``; a Ritz vector
    whose residual is r is within an angle r / gap of its eigenvector (Davis-Kahan), gap its Ritz value's distance
    to the rest of the spectrum. ``strict``: accept only on the residual itself (r_i <= tol |theta_1| for every
    wanted pair), for accurate vectors; otherwise also on the value's error bound r_i^2 / gap_i.
    ``Q`` is a (max_iter + 1, P) work array. ``prep(w, *data)`` computes what every product at ``w`` shares
    (the model's forward pass), ``hvpc(w, v, *data, cache, out)`` one product. Returns the number of
    Lanczos iterations used.
    """
    P = w.size
    cache = prep(w, *data)
    m = min(max_iter, P)
    alpha = np.zeros(m)
    beta = np.zeros(m)
    hv = np.empty(P)
    tmp = np.empty(P)
    nv = math.sqrt(_dot(v0, v0))
    if not (nv > 0.0) or not math.isfinite(nv):
        fresh_vector(key, 0, Q[0])
    else:
        for i in range(P):
            Q[0, i] = v0[i] / nv
    n = 0
    S = np.zeros((1, 1))
    theta = np.zeros(1)
    restarts = 0
    for j in range(m):
        _apply(hvpc, w, Q[j], data, cache, scale, tmp, hv)
        a, b = lanczos_orthogonalise(Q, j, beta, hv)
        alpha[j] = a
        beta[j] = b
        n = j + 1
        if not math.isfinite(a) or not math.isfinite(b):
            for i in range(k):
                evals[i] = np.nan
            return n
        tnorm = 0.0
        for i in range(n):
            tnorm = max(tnorm, abs(alpha[i]) + (beta[i] if i < n - 1 else 0.0) + (beta[i - 1] if i > 0 else 0.0))
        invariant = b <= 1e-13 * max(tnorm, 1e-300)
        if n >= k and (n <= 40 or n % 4 == 0 or invariant or n == m):
            theta, S = _tridiagonal_eigh(alpha, beta, n)
            top = abs(theta[n - 1])
            for i in range(n):
                top = max(top, abs(theta[i]))
            ok = True
            for i in range(k):
                res = b * abs(S[n - 1, n - 1 - i])
                if res <= tol * max(top, 1e-300):
                    continue
                # the Ritz value's error is at most res^2 / gap (Parlett, The Symmetric Eigenvalue Problem, 11.7):
                # with the gap to the nearest other Ritz value, accept once that bound is below tol |theta_1|
                # (and the residual itself small, so that the gap estimate is meaningful)
                gap = np.inf
                for q in range(n):
                    if q != n - 1 - i:
                        gap = min(gap, abs(theta[n - 1 - i] - theta[q]))
                # (n = k leaves no other Ritz value to estimate the gap from: then only the residual counts)
                if strict or not (n > k and res <= 1e-4 * top and res * res <= tol * top * gap):
                    ok = False
                    break
            if ok and not (invariant and n < k):
                break
        if n == m:
            break
        if invariant:
            # an invariant subspace: continue on a fresh vector orthogonal to it (beta_j = 0 splits T)
            restarts += 1
            beta[j] = 0.0
            fresh_vector(key, 1 + restarts, hv)
            for _ in range(2):
                for q in range(j + 1):
                    c = _dot(Q[q], hv)
                    for i in range(P):
                        hv[i] -= c * Q[q, i]
            b = math.sqrt(_dot(hv, hv))
            for i in range(P):
                Q[j + 1, i] = hv[i] / b
        else:
            for i in range(P):
                Q[j + 1, i] = hv[i] / b
    if S.shape[0] != n:
        theta, S = _tridiagonal_eigh(alpha, beta, n)
    for i in range(k):
        evals[i] = theta[n - 1 - i] if i < n else np.nan
    for j in range(evecs.shape[0]):
        for i in range(P):
            evecs[j, i] = 0.0
        if j >= n:
            continue
        for q in range(n):
            c = S[q, n - 1 - j]
            for i in range(P):
                evecs[j, i] += c * Q[q, i]
    return n


@jit(parallel=True)
def top_eigenvalues_batch(prep, hvpc, W, data, k, tol, max_iter, keys, V, evals, iters):
    """Top-k eigenvalues of H(W[r]) for every run; V[r] is the start vector in and the top Ritz vector out."""
    R, P = W.shape
    for r in prange(R):
        Q = np.empty((min(max_iter, P) + 1, P))
        ev = np.empty((1, P))
        iters[r] = lanczos(prep, hvpc, W[r], data, np.empty(0), k, V[r], tol, max_iter, keys[r], Q, evals[r], ev)
        V[r] = ev[0]


@jit(parallel=True)
def top_eigenpairs_batch(prep, hvpc, W, data, k, tol, max_iter, keys, V, evals, evecs, iters):
    """Top-k eigenvalues and Ritz vectors (evecs[r], (k, P)) of H(W[r]) for every run; V[r] is the start vector."""
    R, P = W.shape
    for r in prange(R):
        Q = np.empty((min(max_iter, P) + 1, P))
        iters[r] = lanczos(prep, hvpc, W[r], data, np.empty(0), k, V[r], tol, max_iter, keys[r], Q, evals[r], evecs[r],
                           True)


# --------------------------------------------------------------------------------------- first-order optimisers
@jit
def draw_minibatch(key, t, batch_size, replace, perm, idx):
    """The minibatch indices of step t of the run with ``key`` into ``idx`` (batch_size,): with replacement
    floor(u N), u = uniform01(key, t, i); without, a partial Fisher-Yates shuffle of ``perm`` (N,) driven by the
    same counters. The one definition of SGD's draw (the engine's steps and the training Jacobian's replay)."""
    N = perm.size
    if replace:
        for i in range(batch_size):
            idx[i] = min(N - 1, int(uniform01(key, t, i) * N))
    else:
        for i in range(N):
            perm[i] = i
        for i in range(batch_size):
            j = i + min(N - 1 - i, int(uniform01(key, t, i) * (N - i)))
            tmp = perm[i]
            perm[i] = perm[j]
            perm[j] = tmp
            idx[i] = perm[i]


@jit
def _step_loss_grad(loss_grad, gather, w, data, g, batch_size, replace, key, t, perm):
    """The loss and gradient at w: full batch (batch_size 0) or a minibatch drawn from the run's stream."""
    if batch_size <= 0:
        return loss_grad(w, *data, g)
    idx = np.empty(batch_size, dtype=np.int64)
    draw_minibatch(key, t, batch_size, replace, perm, idx)
    return loss_grad(w, *gather(data, idx), g)


@jit(parallel=True)
def advance(loss_grad, gather, data, W, M1, M2, kind, lr, group, schedule, beta1, beta2, eps, temperature, batch_size,
            replace, n_samples, keys, k0, k1, blowup, diverged, diverged_step, last_loss, n_increases, stop_loss,
            stopped_step):
    """Steps k0 .. k1-1 of every run (state W, M1, M2 updated in place).

    ``LANGEVIN`` is Euler-Maruyama: w <- w - lr g + sqrt(2 lr temperature) xi, xi ~ N(0, I) drawn by the
    counter-based normal keyed by (the run's key ^ LANGEVIN_SALT, step t, index i).

    ``lr`` (R, G) holds each run's learning rate per parameter group and ``group`` (P,) the group of each
    parameter: parameter i of run r steps with ``lr[r, group[i]]`` (a per-parameter multiplier; one group,
    ``group`` all zero, is the scalar lr with the same bits). ``schedule`` (steps,) multiplies the lr of step t
    by ``schedule[t]``; an empty ``schedule`` is the constant lr (the same bits, no per-step work).
    ``stop_loss`` (R,) stops run r at the first step t whose full-batch loss is <= stop_loss[r] (before that
    step's update; ``stopped_step[r] = t``, its state frozen from then on); an empty one never stops.
    """
    R, P = W.shape
    stopping = stop_loss.size > 0
    for r in prange(R):
        if diverged[r] or (stopping and stopped_step[r] >= 0):
            continue
        w = W[r]
        g = np.empty(P)
        perm = np.empty(n_samples if batch_size[r] > 0 else 0, dtype=np.int64)
        m1 = M1[r]
        m2 = M2[r]
        a = np.empty(P)
        for i in range(P):
            a[i] = lr[r, group[i]]
        scheduled = schedule.size > 0
        at = np.empty(P) if scheduled else a  # this step's lr per parameter
        b1 = beta1[r]
        b2 = beta2[r]
        ep = eps[r]
        temp = temperature[r]
        nkey = keys[r] ^ LANGEVIN_SALT
        n_even = P + (P & 1)
        for t in range(k0, k1):
            if scheduled:
                st = schedule[t]
                for i in range(P):
                    at[i] = a[i] * st
            loss = _step_loss_grad(loss_grad, gather, w, data, g, batch_size[r], replace, keys[r], t, perm)
            if batch_size[r] <= 0:
                if t > 0 and loss > last_loss[r]:
                    n_increases[r] += 1
                last_loss[r] = loss
                if stopping and loss <= stop_loss[r]:
                    stopped_step[r] = t
                    break
            big = 0.0
            if kind == GD:
                for i in range(P):
                    w[i] -= at[i] * g[i]
                    big = max(big, abs(w[i]))
            elif kind == HEAVY_BALL:
                for i in range(P):
                    m1[i] = b1 * m1[i] + g[i]
                    w[i] -= at[i] * m1[i]
                    big = max(big, abs(w[i]))
            elif kind == NESTEROV:
                for i in range(P):
                    m1[i] = b1 * m1[i] + g[i]
                    w[i] -= at[i] * (g[i] + b1 * m1[i])
                    big = max(big, abs(w[i]))
            elif kind == LANGEVIN:
                for i in range(0, P, 2):
                    xi0, xi1 = _normal_pair(nkey, t, n_even, i)
                    w[i] = w[i] - at[i] * g[i] + math.sqrt(2.0 * at[i] * temp) * xi0
                    big = max(big, abs(w[i]))
                    if i + 1 < P:
                        w[i + 1] = w[i + 1] - at[i + 1] * g[i + 1] + math.sqrt(2.0 * at[i + 1] * temp) * xi1
                        big = max(big, abs(w[i + 1]))
            elif kind == RMSPROP:
                for i in range(P):
                    m2[i] = b2 * m2[i] + (1.0 - b2) * g[i] * g[i]
                    w[i] -= at[i] * g[i] / (math.sqrt(m2[i]) + ep)
                    big = max(big, abs(w[i]))
            else:  # ADAM, bias-corrected (Kingma & Ba)
                c1 = 1.0 - b1 ** (t + 1)
                c2 = 1.0 - b2 ** (t + 1)
                for i in range(P):
                    m1[i] = b1 * m1[i] + (1.0 - b1) * g[i]
                    m2[i] = b2 * m2[i] + (1.0 - b2) * g[i] * g[i]
                    w[i] -= at[i] * (m1[i] / c1) / (math.sqrt(m2[i] / c2) + ep)
                    big = max(big, abs(w[i]))
            if not (big <= blowup) or not math.isfinite(loss):
                diverged[r] = True
                diverged_step[r] = t
                for i in range(P):
                    w[i] = np.nan
                break


#: runs per block of the batched (structure-of-arrays) GD path: small enough for L1, a multiple of 8 lanes
SOA_BLOCK = 256


@jit(parallel=True)
def advance_batched(gd_step_batch, data, Wt, lr, k0, k1, blowup, diverged, diverged_step, last_loss, n_increases):
    """Full-batch GD steps k0 .. k1-1 on the (P, R) structure-of-arrays state, a block of runs per task.

    ``gd_step_batch(W, *data, lr, S, L, big)`` is the model's fused step on a block (W (P, B) in place, S a
    (P + 1, B) scratch, L the loss before the step, big the largest |w| after it): one pass over the block in L1
    instead of a gradient pass and an update pass.

    A run's numbers depend on its own column only, so not on the block or thread count (they agree with the
    per-run path to rounding: the model's batched and per-run functions may order their products differently).
    A diverged run is set to NaN once and stays NaN by itself; its first divergent step is kept in ``ds``.
    """
    P, R = Wt.shape
    nblocks = (R + SOA_BLOCK - 1) // SOA_BLOCK
    for blk in prange(nblocks):
        j0 = blk * SOA_BLOCK
        j1 = min(R, j0 + SOA_BLOCK)
        B = j1 - j0
        W = np.ascontiguousarray(Wt[:, j0:j1])  # a C-contiguous block: unit-stride rows vectorise
        S = np.empty((P + 1, B))
        L = np.empty(B)
        big = np.empty(B)
        a = lr[j0:j1].copy()
        ll = last_loss[j0:j1].copy()
        inc = n_increases[j0:j1].copy()
        ds = diverged_step[j0:j1].copy()  # >= 0 exactly for runs that diverged in an earlier call
        for t in range(k0, k1):
            gd_step_batch(W, *data, a, S, L, big)
            fresh = 0
            up = 1 if t > 0 else 0
            for j in range(B):
                # branch-free (bitwise, not short-circuit) so that this bookkeeping pass vectorises too
                bad = (not (big[j] <= blowup)) | (not (abs(L[j]) < np.inf))
                new = bad & (ds[j] < 0)
                ds[j] = t if new else ds[j]
                inc[j] += up if L[j] > ll[j] else 0
                ll[j] = L[j]
                fresh += 1 if new else 0
            if fresh > 0:
                for j in range(B):
                    if ds[j] == t:
                        for i in range(P):
                            W[i, j] = np.nan
        Wt[:, j0:j1] = W
        for j in range(B):
            last_loss[j0 + j] = ll[j]
            n_increases[j0 + j] = inc[j]
            if ds[j] >= 0 and not diverged[j0 + j]:
                diverged[j0 + j] = True
                diverged_step[j0 + j] = ds[j]


@jit
def _no_accuracy(w, *data):
    return np.nan


@jit
def _all_finite(w):
    for i in range(w.size):
        if not math.isfinite(w[i]):
            return False
    return True


@jit(parallel=True)
def observe_values(loss_grad, accuracy, test_loss_grad, test_accuracy, data, test_data, W, want, loss, grad_norm,
                   test_loss, test_acc, train_acc):
    """The first-order observables of W at one record; ``want`` = (loss, grad_norm, top_k, test_loss, test_acc,
    train_acc, precond, gradient overlap), as in :func:`observe_curvature`, which does the Lanczos ones (a
    separate driver, so that a run that records only losses never compiles Lanczos)."""
    R, P = W.shape
    for r in prange(R):
        w = W[r]
        if not _all_finite(w):
            loss[r] = np.nan
            grad_norm[r] = np.nan
            test_loss[r] = np.nan
            test_acc[r] = np.nan
            train_acc[r] = np.nan
            continue
        g = np.empty(P)
        if want[0] or want[1]:
            loss[r] = loss_grad(w, *data, g)
            grad_norm[r] = math.sqrt(_dot(g, g))
        if want[3]:
            test_loss[r] = test_loss_grad(w, *test_data, g)
        if want[4]:
            test_acc[r] = test_accuracy(w, *test_data)
        if want[5]:
            train_acc[r] = accuracy(w, *data)


@jit(parallel=True)
def observe_curvature(loss_grad, prep, hvpc, data, W, M2, kind, beta2, eps, t, want, k, k_overlap, tol, max_iter, keys,
                      V, VP, top, pre_sharp, overlap, iters):
    """The curvature observables of W at one record (``want`` as in :func:`observe_values`): the top-``k``
    Hessian eigenvalues (Lanczos warm-started from ``V``), the gradient's overlap with the top ``k_overlap``
    eigenvectors, and the preconditioned sharpness of Adam / RMSProp."""
    R, P = W.shape
    for r in prange(R):
        w = W[r]
        if not _all_finite(w):
            for i in range(top.shape[1]):
                top[r, i] = np.nan
            pre_sharp[r] = np.nan
            overlap[r] = np.nan
            continue
        if want[2]:
            Q = np.empty((min(max_iter, P) + 1, P))
            ev = np.empty((max(1, k_overlap if want[7] else 1), P))
            iters[r] += lanczos(prep, hvpc, w, data, np.empty(0), k, V[r], tol, max_iter, keys[r], Q, top[r], ev)
            V[r] = ev[0]
            if want[7]:
                # ||P_k g||^2 / ||g||^2 with P_k the projector on the top-k Ritz vectors (orthonormal)
                g = np.empty(P)
                loss_grad(w, *data, g)
                gg = _dot(g, g)
                s = 0.0
                for j in range(k_overlap):
                    c = _dot(ev[j], g)
                    s += c * c
                overlap[r] = s / gg if gg > 0.0 else np.nan
        if want[6]:
            # Adam's preconditioner P = diag(sqrt(v_hat) + eps): the largest eigenvalue of P^-1/2 H P^-1/2
            scale = np.empty(P)
            c2 = 1.0 - beta2[r] ** max(t, 1)
            for i in range(P):
                if kind == ADAM:
                    scale[i] = 1.0 / math.sqrt(math.sqrt(M2[r, i] / c2) + eps[r])
                else:
                    scale[i] = 1.0 / math.sqrt(math.sqrt(M2[r, i]) + eps[r])
            Q = np.empty((min(max_iter, P) + 1, P))
            ev = np.empty((1, P))
            out = np.empty(1)
            # k as np.int64(1), not the literal 1, which would compile a second copy of lanczos
            lanczos(prep, hvpc, w, data, scale, np.int64(1), VP[r], tol, max_iter, keys[r], Q, out, ev)
            VP[r] = ev[0]
            pre_sharp[r] = out[0]


# --------------------------------------------------------------------------------------- gradient flow
# Dormand & Prince (1980) 5(4) tableau
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A2 = (1 / 5,)
_A3 = (3 / 40, 9 / 40)
_A4 = (44 / 45, -56 / 15, 32 / 9)
_A5 = (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729)
_A6 = (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_E = (35 / 384 - 5179 / 57600, 0.0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640,
      -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40)
#: the step is at most this over the tracked sharpness (DP5's real stability interval is about [-3.3, 0])
SHARPNESS_CAP = 2.0
#: accepted steps without a new minimum of the loss or the gradient norm after which a flow has stalled at the
#: float64 rounding floor
_STALL = 200


@jit
def _sharpness_estimate(prep, hvpc, w, data, v, key, salt):
    """A quick, warm-started estimate of lambda_max (8 Lanczos steps; it can only underestimate)."""
    P = w.size
    it = min(8, P)
    Q = np.empty((it + 1, P))
    ev = np.empty((1, P))
    out = np.empty(1)
    # (np.int64(1), not the literal 1, which would compile a second copy of lanczos)
    lanczos(prep, hvpc, w, data, np.empty(0), np.int64(1), v, 1e-3, it, key ^ np.uint64(salt), Q, out, ev)
    for i in range(P):
        v[i] = ev[0, i]
    return out[0]


@jit
def flow(loss_grad, prep, hvpc, data, w, t0, t1, rtol, atol, loss_tol, grad_tol, max_steps, key, v, state,
         xtol=-1.0):
    """Integrate dw/dt = -grad L(w) from t0 to t1 (or until converged: see below).

    Adaptive Dormand-Prince 5(4) with error control (rtol, atol) and the step capped at
    ``SHARPNESS_CAP / lambda_max``, lambda_max re-estimated (warm-started Lanczos) every 10 accepted steps
    and whenever a step is rejected. ``state`` = [h, steps_taken, lambda, status, remaining]; status 0 running,
    1 converged, 2 reached t1, 3 ran out of steps, 4 diverged, 5 stalled (neither the loss nor the gradient
    norm reached a new minimum in ``_STALL`` accepted steps: both at their float64 rounding floor before a
    convergence test passed; only when ``xtol >= 0``, i.e. when looking for the limit rather than integrating
    to t1). A flow that still creeps (the gradient of cross-entropy on separable data decays like 1/t) does
    not stall: it runs out of steps. Returns the time reached.

    Converged: loss <= loss_tol, or |grad| <= grad_tol, or (``xtol`` > 0) the predicted remaining path
    length to the limit is at most ``xtol |w|`` after two consecutive accepted steps. The prediction
    extrapolates the step geometrically: near a non-degenerate minimum (manifold) |grad| decays like
    exp(-mu t), so a step that travelled ``s`` while |grad| fell by the factor ``r < 1`` leaves
    ``s r / (1 - r)`` to go (= |grad| / mu). ``state[4]`` receives the last prediction (inf when none).
    """
    P = w.size
    K = np.empty((7, P))
    y = np.empty(P)
    wn = np.empty(P)
    loss = loss_grad(w, *data, K[0])
    if not math.isfinite(loss):
        state[3] = 4
        return t0
    h = state[0]
    lam = state[2]
    if not (lam > 0.0):
        lam = _sharpness_estimate(prep, hvpc, w, data, v, key, 11)
    t = t0
    accepted = 0
    new_loss = loss
    gn = math.sqrt(_dot(K[0], K[0]))
    passed = 0  # consecutive accepted steps whose prediction passed the xtol test
    best_loss = loss
    best_gn = gn
    since_best = 0  # accepted steps since the loss or the gradient norm last reached a new minimum
    remaining = np.inf
    while True:
        if loss <= loss_tol or gn <= grad_tol:
            state[3] = 1
            break
        if passed >= 2:
            state[3] = 1
            break
        if since_best >= _STALL and xtol >= 0.0:
            state[3] = 5
            break
        if t >= t1:
            state[3] = 2
            break
        if state[1] >= max_steps:
            state[3] = 3
            break
        cap = SHARPNESS_CAP / lam if lam > 0.0 else 1e300
        if not (h > 0.0):
            h = min(cap, 0.1 / max(gn, 1e-300))
        h = min(h, cap, t1 - t)
        # stages: k_i = -grad(w + h sum a_ij k_j); K holds +grad, so signs are folded in
        for s in range(1, 7):
            for i in range(P):
                acc = 0.0
                if s == 1:
                    acc = _A2[0] * K[0, i]
                elif s == 2:
                    acc = _A3[0] * K[0, i] + _A3[1] * K[1, i]
                elif s == 3:
                    acc = _A4[0] * K[0, i] + _A4[1] * K[1, i] + _A4[2] * K[2, i]
                elif s == 4:
                    acc = _A5[0] * K[0, i] + _A5[1] * K[1, i] + _A5[2] * K[2, i] + _A5[3] * K[3, i]
                elif s == 5:
                    acc = (_A6[0] * K[0, i] + _A6[1] * K[1, i] + _A6[2] * K[2, i] + _A6[3] * K[3, i]
                           + _A6[4] * K[4, i])
                else:
                    acc = (_B[0] * K[0, i] + _B[2] * K[2, i] + _B[3] * K[3, i] + _B[4] * K[4, i]
                           + _B[5] * K[5, i])
                y[i] = w[i] - h * acc
            if s < 6:
                loss_grad(y, *data, K[s])
            else:
                for i in range(P):
                    wn[i] = y[i]
                new_loss = loss_grad(wn, *data, K[6])
        err = 0.0
        for i in range(P):
            e = h * (_E[0] * K[0, i] + _E[2] * K[2, i] + _E[3] * K[3, i] + _E[4] * K[4, i] + _E[5] * K[5, i]
                     + _E[6] * K[6, i])
            sc = atol + rtol * max(abs(w[i]), abs(wn[i]))
            err += (e / sc) ** 2
        err = math.sqrt(err / P)
        state[1] += 1
        if math.isfinite(err) and err <= 1.0 and math.isfinite(new_loss):
            t += h
            for i in range(P):
                w[i] = wn[i]
                K[0, i] = K[6, i]
            loss = new_loss
            accepted += 1
            gn_new = math.sqrt(_dot(K[0], K[0]))
            path = 0.5 * h * (gn + gn_new)
            if gn_new < gn:
                ratio = gn_new / gn
                remaining = path * ratio / (1.0 - ratio)
            else:
                remaining = np.inf
            gn = gn_new
            if xtol > 0.0 and remaining <= xtol * math.sqrt(_dot(w, w)):
                passed += 1
            else:
                passed = 0
            if loss < best_loss or gn < best_gn:
                best_loss = min(best_loss, loss)
                best_gn = min(best_gn, gn)
                since_best = 0
            else:
                since_best += 1
            if accepted % 10 == 0:
                lam = max(lam, _sharpness_estimate(prep, hvpc, w, data, v, key, 13 + accepted)) if accepted < 20 else \
                    _sharpness_estimate(prep, hvpc, w, data, v, key, 13 + accepted)
            fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
            h = h * fac
        else:
            if not math.isfinite(err) and h < 1e-300:
                state[3] = 4
                break
            h = h * (0.2 if not math.isfinite(err) else max(0.2, 0.9 * err ** -0.2))
            lam = max(lam, _sharpness_estimate(prep, hvpc, w, data, v, key, 7))
        for i in range(P):
            if not math.isfinite(w[i]):
                state[3] = 4
                break
        if state[3] == 4:
            break
    state[0] = h
    state[2] = lam
    if state.size > 4:
        state[4] = remaining
    return t


@jit(parallel=True)
def gfs_batch(loss_grad, prep, hvpc, data, W, rtol, atol, loss_tol, grad_tol, xtol, max_steps, k, tol, max_iter, keys,
              out, w_end, status, t_end, remaining):
    """Sharpness (top-k) where gradient flow from each W[r] ends; NaN when the flow neither converged (status 1)
    nor stalled at the rounding floor (status 5)."""
    R, P = W.shape
    for r in prange(R):
        w = W[r].copy()
        v = np.empty(P)
        fresh_vector(keys[r], 3, v)
        state = np.zeros(5)
        t_end[r] = flow(loss_grad, prep, hvpc, data, w, 0.0, np.inf, rtol, atol, loss_tol, grad_tol, max_steps, keys[r],
                        v, state, xtol)
        status[r] = int(state[3])
        remaining[r] = state[4]
        w_end[r] = w
        if state[3] != 1 and state[3] != 5:
            for i in range(k):
                out[r, i] = np.nan
            continue
        Q = np.empty((min(max_iter, P) + 1, P))
        ev = np.empty((1, P))
        lanczos(prep, hvpc, w, data, np.empty(0), k, v, tol, max_iter, keys[r], Q, out[r], ev)


@jit(parallel=True)
def flow_segment(loss_grad, prep, hvpc, data, W, t0, t1, rtol, atol, max_steps, keys, V, states):
    """Advance every run's gradient flow from time t0 to t1 (states (R, 6) carry h, steps, lambda, status, the
    last remaining-distance prediction and the number of segments that ran out of ``max_steps``)."""
    R, P = W.shape
    for r in prange(R):
        if states[r, 3] == 4:
            continue
        states[r, 3] = 0
        # max_steps per segment (states[r, 1] counts every step of the run)
        flow(loss_grad, prep, hvpc, data, W[r], t0, t1, rtol, atol, -np.inf, -1.0, max_steps + states[r, 1], keys[r],
             V[r], states[r], -1.0)
        if states[r, 3] == 3:
            states[r, 5] += 1.0  # segments that ran out of steps (the run then continues from where it stopped)
        if states[r, 3] == 4:
            for i in range(P):
                W[r, i] = np.nan


@jit(parallel=True, cache=False)
def apply_user(fn, W, data, out):
    """out[i] = fn(W[i], *data) for a user observable."""
    for i in prange(W.shape[0]):
        out[i] = fn(W[i], *data)


# --------------------------------------------------------------------------------------- first-class handles
class Handles:
    """A model's kernels as first-class function values (:mod:`gdsim._core.first_class`) for the drivers above,
    each compiled when a driver first needs it.

    Attributes ``loss_grad``, ``prep``, ``hvpc``, ``accuracy`` (on the training data), ``test_loss_grad``,
    ``test_accuracy`` (on the test data, the same objects when the types agree), ``gather`` and
    ``gd_step_batch`` (None when the model has none).
    """

    def __init__(self, m):
        self._m = m
        test_data = m.test_data if m.test_data is not None else m.data
        self._w = types.Array(types.float64, 1, "C")
        self._data = tuple(numba.typeof(d) for d in m.data)
        self._test = tuple(numba.typeof(d) for d in test_data)

    @functools.cached_property
    def loss_grad(self):
        return self._m._function_value("loss_grad")  # the one Model.loss_grad uses too

    @functools.cached_property
    def prep(self):
        return function_value(self._m._hvp_prep, (self._w, *self._data))

    @functools.cached_property
    def hvpc(self):
        cache_t = self.prep.signature().return_type
        return function_value(self._m._hvp_cached, (self._w, self._w, *self._data, cache_t, self._w))

    @functools.cached_property
    def accuracy(self):
        acc = self._m._accuracy if self._m._accuracy is not None else _no_accuracy
        return function_value(acc, (self._w, *self._data))

    @functools.cached_property
    def test_loss_grad(self):
        if self._test == self._data:
            return self.loss_grad
        return function_value(self._m._loss_grad, (self._w, *self._test, self._w))

    @functools.cached_property
    def test_accuracy(self):
        if self._test == self._data:
            return self.accuracy
        acc = self._m._accuracy if self._m._accuracy is not None else _no_accuracy
        return function_value(acc, (self._w, *self._test))

    @functools.cached_property
    def gather(self):
        data_t = types.Tuple(self._data)
        fv = function_value(make_gather(self._m.per_sample), (data_t, types.Array(types.int64, 1, "C")))
        if fv.signature().return_type != data_t:  # pragma: no cover - as_data makes every array writable and C
            raise TypeError(f"minibatches of {self._m.name!r} change its data types "
                            f"({fv.signature().return_type} from {data_t})")
        return fv

    @functools.cached_property
    def gd_step_batch(self):
        if self._m._gd_step_batch is None:
            return None
        w2 = types.Array(types.float64, 2, "C")
        return function_value(self._m._gd_step_batch, (w2, *self._data, self._w, w2, self._w, self._w))


def handles(m):
    """The first-class :class:`Handles` of model ``m`` (one per model and data; see the class)."""
    test_data = m.test_data if m.test_data is not None else m.data
    key = (id(m.data), id(test_data))
    h = getattr(m, "_handles", None)
    if h is None or h[0] != key:
        h = m._handles = (key, Handles(m))
    return h[1]


def make_gather(mask):
    """``gather(data, idx)``: the per-sample arrays of ``data`` (``mask[i]`` True) indexed by rows ``idx``."""
    items = "".join(f"data[{i}][idx], " if m else f"data[{i}], " for i, m in enumerate(mask))
    # one tuple per mask, compiled once per process (function_from_source caches by the text)
    return function_from_source(f"def gather(data, idx):\n    return ({items})\n", "gather",
                                label="<gdsim gather>", jit_options={})
