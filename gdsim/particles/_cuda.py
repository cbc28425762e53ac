"""``numba.cuda`` kernels for particle GD (private; imported lazily by :func:`gpu_particle_gd`).

1-D: one thread per run, running the very same rank-form helpers as the CPU kernel (compiled from one
source by ``build_sorted_helpers``), on rows of device arrays. d >= 2: per step, one thread per
particle sums its pairwise forces (O(n d) per thread), one block reduces the objective and tracks the
best iterate, and one thread per particle applies the (noisy) update.
"""

from __future__ import annotations

from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module
from gdsim.particles._kernels import build_sorted_helpers

#: Largest particle dimension of the d >= 2 GPU kernel (per-thread scratch needs a compile-time size).
MAX_D = 16


@lru_cache(maxsize=None)
def kernels():
    cuda_module()  # clear error when there is no GPU and no simulator
    _, _, _, advance_run, update_particle = build_sorted_helpers(cuda.jit(device=True))

    @cuda.jit
    def pgd_1d(W, P, G, gamma, k0, k1, kind, v, scale, noise, keys, rec_k, rec_val, best_val, best_k, best_W):
        r = cuda.grid(1)
        if r < W.shape[0]:
            advance_run(W[r], P[r], G[r], gamma, k0, k1, kind, v, scale, noise, keys[r], rec_k, rec_val, best_val,
                        best_k, best_W, r)

    @cuda.jit
    def interaction_forces(X, lam, c, G, partial):
        i = cuda.grid(1)
        d, n = X.shape
        if i >= n:
            return
        acc = cuda.local.array(MAX_D, float64)
        for q in range(d):
            acc[q] = 0.0
        r4 = 0.0
        for j in range(n):
            r2 = 0.0
            for q in range(d):
                z = X[q, i] - X[q, j]
                r2 += z * z
            r4 += r2 * r2
            for q in range(d):
                acc[q] += r2 * (X[q, i] - X[q, j])
        inv_n = 1.0 / n
        qn = 0.0
        for q in range(d):
            z = X[q, i] - c[q]
            qn += z * z
            G[q, i] = lam * inv_n * z + inv_n * inv_n * acc[q]
        partial[i] = 0.5 * lam * inv_n * qn + inv_n * inv_n * r4 / 8.0

    @cuda.jit
    def track(partial, k, rec_k, rec_val, state, best, improved):
        # one thread: n <= a few thousand partial sums; state[0] = next record index
        if cuda.grid(1) != 0:
            return
        s = 0.0
        for i in range(partial.shape[0]):
            s += partial[i]
        ri = int(state[0])
        if ri < rec_k.shape[0] and rec_k[ri] == k:
            rec_val[ri] = s
            state[0] = ri + 1
        improved[0] = 0
        if s < best[0]:
            best[0] = s
            best[1] = k
            improved[0] = 1

    @cuda.jit
    def update(X, G, lr, noise, key, k, improved, best_X, do_step):
        i = cuda.grid(1)
        d, n = X.shape
        if i >= n:
            return
        if improved[0] == 1:
            for q in range(d):
                best_X[q, i] = X[q, i]
        if do_step:
            gauss = cuda.local.array(MAX_D, float64)
            update_particle(X, G, i, lr, noise, key, k, gauss)

    return pgd_1d, interaction_forces, track, update
