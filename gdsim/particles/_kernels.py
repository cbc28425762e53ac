"""Numba kernels for particle gradient descent (private; see :mod:`gdsim.particles`).

1-D objectives are evaluated in sorted/rank form: the particles are kept in a permutation ``perm``
that is re-sorted every step by insertion sort, which costs O(n + inversions) and is O(n) in practice
because a small step barely reorders the particles (a full sort would be O(n log n)). The objective,
its subgradient and the best iterate then cost O(n + m) per step.

Objective codes (``kind``):
  0  energy distance to a discrete target (sorted atoms ``v``)
  1  energy distance to the uniform distribution on [a, b] (``a = v[0]``, ``b = v[1]``)
  2  W_2^2 (unnormalised, sum over particles) to an n-sparse target (sorted atoms ``v``)
Every value and gradient is multiplied by ``scale`` (1/(2 pi) turns the energy distance on angles into
the two-layer network loss of Daneshmand et al., Cor. of Thm 2).

The d >= 2 example is F(w) = (1/n) sum_i (lam/2)|w_i - c|^2 + (1/(2 n^2)) sum_{i,j} |w_i - w_j|^4 / 4
(confining potential + convex interaction: lam/n-strongly convex in R^{nd}, minimum F* = 0 at
w_i = c). Its gradient is the O(n^2 d) pairwise kernel, parallel over blocks of particles with the
innermost loop running across the particles of a block (it vectorises; no reductions).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.counter_rng import build_uniform01
from gdsim._core.codegen import function_from_source
from gdsim._core.jit import jit

KIND_ENERGY, KIND_UNIFORM, KIND_W2 = 0, 1, 2
BLOCK = 128  # particles per block of the pairwise kernel (measured best of 8..128 at n = 4096, d = 2, 3)
UNROLLED_D = range(2, 9)  # particle dimensions with a generated, dimension-unrolled pairwise kernel


# ------------------------------------------------------------------------------------------- 1-D


def build_sorted_helpers(compile):
    """The rank-form helpers compiled by ``compile``: ``jit`` here, ``cuda.jit(device=True)`` in ``_cuda``.

    One source for both targets, so the CPU and GPU kernels cannot drift apart. Returns
    ``(insertion_sort, value_sorted, grad_sorted)``; none of them allocates.
    """

    def insertion_sort(w, perm):
        n = w.shape[0]
        for i in range(1, n):
            p = perm[i]
            x = w[p]
            j = i - 1
            while j >= 0 and w[perm[j]] > x:
                perm[j + 1] = perm[j]
                j -= 1
            perm[j + 1] = p

    def h_uniform_py(x, a, b):
        """E|x - V|, V ~ U[a, b]."""
        if x < a or x > b:
            return abs(x - 0.5 * (a + b))
        return ((x - a) ** 2 + (b - x) ** 2) / (2.0 * (b - a))

    def dh_uniform_py(x, a, b):
        if x < a:
            return -1.0
        if x > b:
            return 1.0
        return (2.0 * x - a - b) / (b - a)

    h_uniform = compile(h_uniform_py)
    dh_uniform = compile(dh_uniform_py)

    def value_sorted(w, perm, kind, v, scale):
        """The objective at sorted particles (``perm`` sorts ``w``)."""
        n = w.shape[0]
        if kind == 1:  # KIND_UNIFORM
            a = v[0]
            b = v[1]
            s = 0.0
            for r in range(n):
                x = w[perm[r]]
                s += (2.0 / n) * h_uniform(x, a, b) - (2.0 / (n * n)) * (2 * r - n + 1) * x
            return scale * (s - (b - a) / 3.0)
        if kind == 2:  # KIND_W2
            s = 0.0
            for r in range(n):
                d = w[perm[r]] - v[r]
                s += d * d
            return scale * s
        # energy distance to atoms: 2 * integral of (F_mu - F_nu)^2 over the merged breakpoints
        m = v.shape[0]
        i = 0
        j = 0
        s = 0.0
        x_prev = 0.0
        gap = 0.0
        started = False
        while i < n or j < m:
            if j >= m or (i < n and w[perm[i]] <= v[j]):
                x = w[perm[i]]
                step = 1.0 / n
                i += 1
            else:
                x = v[j]
                step = -1.0 / m
                j += 1
            if started:
                s += gap * gap * (x - x_prev)
            gap += step
            x_prev = x
            started = True
        return scale * 2.0 * s

    def grad_sorted(w, perm, kind, v, scale, g):
        """Subgradient (sign(0) = 0 for ties with the target) at sorted particles, into ``g``."""
        n = w.shape[0]
        if kind == 1:
            a = v[0]
            b = v[1]
            for r in range(n):
                p = perm[r]
                g[p] = scale * ((2.0 / n) * dh_uniform(w[p], a, b) - (2.0 / (n * n)) * (2 * r - n + 1))
            return
        if kind == 2:
            for r in range(n):
                p = perm[r]
                g[p] = scale * 2.0 * (w[p] - v[r])
            return
        m = v.shape[0]
        lo = 0  # #{v_j < x}
        hi = 0  # #{v_j <= x}
        for r in range(n):
            p = perm[r]
            x = w[p]
            while lo < m and v[lo] < x:
                lo += 1
            if hi < lo:
                hi = lo
            while hi < m and v[hi] <= x:
                hi += 1
            g[p] = scale * ((2.0 / n) * (lo - (m - hi)) / m - (2.0 / (n * n)) * (2 * r - n + 1))

    insertion_sort_c, value_sorted_c, grad_sorted_c = compile(insertion_sort), compile(value_sorted), compile(grad_sorted)
    uniform01_c = build_uniform01(compile)

    def advance_run(w, perm, g, gamma, k0, k1, kind, v, scale, noise, key, rec_k, rec_val, best_val, best_k,
                    best_w, r):
        """Run ``r`` from iterate k0 to k1 (rank form, ball noise in R^1); every iterate is evaluated."""
        n = w.shape[0]
        nrec = rec_k.shape[0]
        ri = 0
        while ri < nrec and rec_k[ri] < k0:
            ri += 1
        for k in range(k0, k1 + 1):
            insertion_sort_c(w, perm)
            val = value_sorted_c(w, perm, kind, v, scale)
            if ri < nrec and rec_k[ri] == k:
                rec_val[r, ri] = val
                ri += 1
            if val < best_val[r]:
                best_val[r] = val
                best_k[r] = k
                for i in range(n):
                    best_w[r, i] = w[i]
            if k == k1:
                break
            grad_sorted_c(w, perm, kind, v, scale, g)
            lr = gamma[k]
            if noise != 0.0:
                for i in range(n):
                    xi = 2.0 * uniform01_c(key, k, i) - 1.0  # the unit ball of R^1
                    w[i] -= lr * (g[i] + noise * xi)
            else:
                for i in range(n):
                    w[i] -= lr * g[i]

    def update_particle(X, G, i, lr, noise, key, k, gauss):
        """x_i <- x_i - lr (g_i + noise xi), xi uniform in the unit ball of R^d (d = X.shape[0]).

        Gaussian direction by Box-Muller from the counter generator, radius U^(1/d); ``gauss`` is a
        scratch vector of length >= d.
        """
        d = X.shape[0]
        if noise == 0.0:
            for q in range(d):
                X[q, i] -= lr * G[q, i]
            return
        for q in range(0, d, 2):
            u1 = uniform01_c(key, k, i * (d + 2) + q)
            u2 = uniform01_c(key, k, i * (d + 2) + q + 1)
            rad = math.sqrt(-2.0 * math.log(1.0 - u1))
            gauss[q] = rad * math.cos(2.0 * math.pi * u2)
            if q + 1 < d:
                gauss[q + 1] = rad * math.sin(2.0 * math.pi * u2)
        norm2 = 0.0
        for q in range(d):
            norm2 += gauss[q] * gauss[q]
        radius = uniform01_c(key, k, i * (d + 2) + d + 1) ** (1.0 / d) / math.sqrt(norm2)
        for q in range(d):
            X[q, i] -= lr * (G[q, i] + noise * radius * gauss[q])

    return (insertion_sort_c, value_sorted_c, grad_sorted_c, compile(advance_run), compile(update_particle))


_insertion_sort, _value_sorted, _grad_sorted, _advance_run, _update_particle = build_sorted_helpers(jit)


@jit(parallel=True)
def pgd_1d(W, P, gamma, k0, k1, kind, v, scale, noise, keys, rec_k, rec_val, best_val, best_k, best_W):
    """Advance every run from iterate ``k0`` to ``k1``, in place, runs in parallel.

    W (R, n) particles, P (R, n) sorting permutations; gamma[k] is the step from w_k to w_{k+1};
    ``noise`` is the amplitude (already divided by sqrt(n) for that reading); ``rec_k`` sorted record
    iterations with values written to rec_val[:, r]; best_* hold the best iterate so far.
    """
    R, n = W.shape
    for r in prange(R):
        g = np.empty(n)
        _advance_run(W[r], P[r], g, gamma, k0, k1, kind, v, scale, noise, keys[r], rec_k, rec_val, best_val, best_k,
                     best_W, r)


@jit
def value_1d_batch(W, kind, v, scale, out):
    """Objective of each row of W (R, n) (sorts a copy with argsort; O(n log n), for evaluation only)."""
    R, n = W.shape
    for r in range(R):
        perm = np.argsort(W[r], kind="mergesort")
        out[r] = _value_sorted(W[r], perm, kind, v, scale)


@jit
def grad_1d_batch(W, kind, v, scale, G):
    R, n = W.shape
    for r in range(R):
        perm = np.argsort(W[r], kind="mergesort")
        _grad_sorted(W[r], perm, kind, v, scale, G[r])


# ----------------------------------------------------------------------------------- d >= 2


@jit(parallel=True)
def _interaction_grad_generic(X, lam, c, G):
    """Gradient of the d >= 2 example at X (d, n) (structure of arrays) into G (d, n); returns F(X).

    Any d; about 10x slower than the generated kernels (the loops over d defeat vectorisation).
    """
    d, n = X.shape
    nb = (n + BLOCK - 1) // BLOCK
    partial = np.zeros(nb)
    inv_n = 1.0 / n
    inv_n2 = inv_n * inv_n
    for bi in prange(nb):
        i0 = bi * BLOCK
        i1 = min(n, i0 + BLOCK)
        nbk = i1 - i0
        acc = np.zeros((d, BLOCK))
        r4 = np.zeros(BLOCK)
        r2 = np.empty(BLOCK)
        for j in range(n):
            for ii in range(nbk):
                r2[ii] = 0.0
            for k in range(d):
                xj = X[k, j]
                for ii in range(nbk):
                    z = X[k, i0 + ii] - xj
                    r2[ii] += z * z
            for ii in range(nbk):
                r4[ii] += r2[ii] * r2[ii]
            for k in range(d):
                xj = X[k, j]
                for ii in range(nbk):
                    acc[k, ii] += r2[ii] * (X[k, i0 + ii] - xj)
        s = 0.0
        for ii in range(nbk):
            i = i0 + ii
            q = 0.0
            for k in range(d):
                z = X[k, i] - c[k]
                q += z * z
                G[k, i] = lam * inv_n * z + inv_n2 * acc[k, ii]
            s += 0.5 * lam * inv_n * q + inv_n2 * r4[ii] / 8.0
        partial[bi] = s
    return partial.sum()


@jit
def pgd_nd(X, gamma, k0, k1, lam, c, noise, key, rec_k, rec_val, best, best_X, G):
    """One run of (noisy) particle GD on the d >= 2 example, iterates k0 -> k1, in place.

    ``best`` = [best value, best k]; the value at every iterate comes with its gradient.
    """
    d, n = X.shape
    nrec = rec_k.shape[0]
    ri = 0
    while ri < nrec and rec_k[ri] < k0:
        ri += 1
    gauss = np.empty(d + 1)
    for k in range(k0, k1 + 1):
        val = interaction_grad(X, lam, c, G)
        if ri < nrec and rec_k[ri] == k:
            rec_val[ri] = val
            ri += 1
        if val < best[0]:
            best[0] = val
            best[1] = k
            best_X[:, :] = X
        if k == k1:
            break
        lr = gamma[k]
        for i in range(n):
            _update_particle(X, G, i, lr, noise, key, k, gauss)


J_UNROLL = 4  # particles j per pass over a block: 4x fewer accumulator loads/stores (measured 1.9x faster)


def _interaction_source(d: int) -> str:
    """Source of the pairwise kernel for dimension ``d``, unrolled over d and over J_UNROLL particles j.

    For each block of BLOCK particles i (one prange task) and each group of J_UNROLL particles j, the
    innermost loop runs across the i of the block: per pair d subtractions, |z|^2 by d (fused)
    multiply-adds, r2 * r2 into the value and d multiply-adds into the force accumulators. No
    reductions and no loop over d remain in the inner loop, so it vectorises, and the accumulators are
    loaded and stored once per J_UNROLL pairs. Lanes past the last particle of a partial block hold
    zeros and their results are discarded (a constant trip count vectorises better).
    """

    def body(lanes):
        b = []
        for u in range(lanes):
            b += [f"z{k}_{u} = x{k}[ii] - y{k}_{u}" for k in range(d)]
            b += [f"r2_{u} = " + " + ".join(f"z{k}_{u} * z{k}_{u}" for k in range(d))]
        b += ["r4[ii] += " + " + ".join(f"r2_{u} * r2_{u}" for u in range(lanes))]
        b += [f"a{k}[ii] += " + " + ".join(f"r2_{u} * z{k}_{u}" for u in range(lanes)) for k in range(d)]
        return b

    lines = ["def interaction_grad_d(X, lam, c, G):",
             "    n = X.shape[1]",
             "    nb = (n + BLOCK - 1) // BLOCK",
             "    partial = np.zeros(nb)",
             "    inv_n = 1.0 / n",
             "    inv_n2 = inv_n * inv_n",
             "    for bi in prange(nb):",
             "        i0 = bi * BLOCK",
             "        nbk = min(n, i0 + BLOCK) - i0",
             "        r4 = np.zeros(BLOCK)"]
    for k in range(d):
        lines += [f"        a{k} = np.zeros(BLOCK)", f"        x{k} = np.zeros(BLOCK)",
                  "        for ii in range(nbk):", f"            x{k}[ii] = X[{k}, i0 + ii]"]
    lines += [f"        nj = n - n % {J_UNROLL}", f"        for j in range(0, nj, {J_UNROLL}):"]
    lines += [f"            y{k}_{u} = X[{k}, j + {u}]" for u in range(J_UNROLL) for k in range(d)]
    lines += ["            for ii in range(BLOCK):"] + ["                " + x for x in body(J_UNROLL)]
    lines += ["        for j in range(nj, n):"] + [f"            y{k}_0 = X[{k}, j]" for k in range(d)]
    lines += ["            for ii in range(BLOCK):"] + ["                " + x for x in body(1)]
    lines += ["        s = 0.0", "        for ii in range(nbk):", "            i = i0 + ii", "            q = 0.0"]
    for k in range(d):
        lines += [f"            z = x{k}[ii] - c[{k}]", "            q += z * z",
                  f"            G[{k}, i] = lam * inv_n * z + inv_n2 * a{k}[ii]"]
    lines += ["            s += 0.5 * lam * inv_n * q + inv_n2 * r4[ii] / 8.0",
              "        partial[bi] = s", "    return partial.sum()"]
    return "\n".join(lines)


def _build_interaction_kernels():
    kernels = {}
    for d in UNROLLED_D:
        # generated code has no source file, so it is not cached on disk (function_from_source: cache=False)
        kernels[d] = function_from_source(_interaction_source(d), "interaction_grad_d",
                                          {"np": np, "prange": prange, "BLOCK": BLOCK},
                                          label=f"<gdsim pairwise interaction kernel d={d}>",
                                          jit_options={"parallel": True})
    return kernels


_INTERACTION_KERNELS = _build_interaction_kernels()
(_INTERACTION_KERNELS_2, _INTERACTION_KERNELS_3, _INTERACTION_KERNELS_4, _INTERACTION_KERNELS_5, _INTERACTION_KERNELS_6,
 _INTERACTION_KERNELS_7, _INTERACTION_KERNELS_8) = (_INTERACTION_KERNELS[d] for d in UNROLLED_D)


@jit
def interaction_grad(X, lam, c, G):
    """Gradient of the d >= 2 example at X (d, n) into G (d, n); returns F(X) (dispatches on d)."""
    d = X.shape[0]
    if d == 2:
        return _INTERACTION_KERNELS_2(X, lam, c, G)
    if d == 3:
        return _INTERACTION_KERNELS_3(X, lam, c, G)
    if d == 4:
        return _INTERACTION_KERNELS_4(X, lam, c, G)
    if d == 5:
        return _INTERACTION_KERNELS_5(X, lam, c, G)
    if d == 6:
        return _INTERACTION_KERNELS_6(X, lam, c, G)
    if d == 7:
        return _INTERACTION_KERNELS_7(X, lam, c, G)
    if d == 8:
        return _INTERACTION_KERNELS_8(X, lam, c, G)
    return _interaction_grad_generic(X, lam, c, G)
