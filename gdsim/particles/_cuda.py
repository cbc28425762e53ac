"""``numba.cuda`` kernels for particle GD (private; imported lazily by :func:`gpu_particle_gd`).

1-D: one thread per run, running the very same rank-form helpers as the CPU kernel (compiled from one
source by ``build_sorted_helpers``). The device arrays are transposed, (n, runs), so that the threads
of a warp touch consecutive addresses (coalesced). d >= 2: per step, one block per particle i whose
threads split the j sum (shared-memory tree reduction), one block reduces the objective and tracks
the best iterate, and one thread per particle applies the (noisy) update.
"""

from __future__ import annotations

from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module, is_cudasim
from gdsim._core.cuda_device import block_tree_sum
from gdsim.particles._kernels import build_sorted_helpers

#: Largest particle dimension of the d >= 2 GPU kernel (per-thread scratch needs a compile-time size).
MAX_D = 16
#: Threads per block of the pairwise and reduction kernels (a power of two, for the tree reductions);
#: 4 under the simulator, which runs every thread as a Python thread.
REDUCE_THREADS = 4 if is_cudasim() else 128
_SHARED_SIZE = (MAX_D + 1) * REDUCE_THREADS  # a compile-time constant for cuda.shared.array


@lru_cache(maxsize=None)
def kernels():
    cuda_module()  # clear error when there is no GPU and no simulator
    _, _, _, advance_run, update_particle = build_sorted_helpers(cuda.jit(device=True))

    @cuda.jit
    def pgd_1d(WT, PT, GT, gamma, k0, k1, kind, v, scale, noise, keys, rec_k, rec_val, best_val, best_k, best_W):
        r = cuda.grid(1)
        if r < WT.shape[1]:
            advance_run(WT[:, r], PT[:, r], GT[:, r], gamma, k0, k1, kind, v, scale, noise, keys[r], rec_k, rec_val,
                        best_val, best_k, best_W, r)

    @cuda.jit
    def interaction_forces(X, lam, c, G, partial):
        # one block per particle i; thread t sums the pairs j = t, t + T, ...; then a tree reduction
        i = cuda.blockIdx.x
        t = cuda.threadIdx.x
        d, n = X.shape
        sh = cuda.shared.array(_SHARED_SIZE, float64)  # sh[q * T + t]
        acc = cuda.local.array(MAX_D, float64)
        for q in range(d):
            acc[q] = 0.0
        r4 = 0.0
        for j in range(t, n, REDUCE_THREADS):
            r2 = 0.0
            for q in range(d):
                z = X[q, i] - X[q, j]
                r2 += z * z
            r4 += r2 * r2
            for q in range(d):
                acc[q] += r2 * (X[q, i] - X[q, j])
        T = REDUCE_THREADS
        for q in range(d):
            sh[q * T + t] = acc[q]
        sh[d * T + t] = r4
        cuda.syncthreads()
        block_tree_sum(sh, t, T, d + 1)
        if t == 0:
            inv_n = 1.0 / n
            qn = 0.0
            for q in range(d):
                z = X[q, i] - c[q]
                qn += z * z
                G[q, i] = lam * inv_n * z + inv_n * inv_n * sh[q * T]
            partial[i] = 0.5 * lam * inv_n * qn + inv_n * inv_n * sh[d * T] / 8.0

    @cuda.jit
    def track(partial, k, rec_k, rec_val, state, best, improved):
        # one block: strided partial sums, tree reduction, then thread 0 records and tracks the best
        t = cuda.threadIdx.x
        sh = cuda.shared.array(REDUCE_THREADS, float64)
        s = 0.0
        for i in range(t, partial.shape[0], REDUCE_THREADS):
            s += partial[i]
        sh[t] = s
        cuda.syncthreads()
        block_tree_sum(sh, t, REDUCE_THREADS, 1)
        if t == 0:
            s = sh[0]
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
