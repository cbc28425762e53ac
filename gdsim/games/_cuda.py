"""``numba.cuda`` kernels for particle GDA (private; used by :func:`gdsim.games.gpu_particle_gda`).

Per step: Fourier moments by block-wise tree reductions (fixed order) into per-block partials, one
thread that combines them (moments, payoff weights, records, NI_0 on the grid), and one thread per
pair of particles for the update (the same counter-based normal pairs as the CPU). The pairwise path
compiles the payoff's own gradient functions as device functions.
"""

from __future__ import annotations

import math
from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module, is_cudasim
from gdsim._core.cuda_device import block_tree_sum
from gdsim.games._kernels import build_helpers

THREADS = 4 if is_cudasim() else 128  # power of two (tree reductions)
MAX_L = 8  # largest Fourier order (moments and weights live in per-thread / shared arrays)
TWO_PI = 2.0 * math.pi
MOM = 2 * (MAX_L + 1)  # compile-time sizes for cuda.local.array / cuda.shared.array
MOM_SHAPE = (2, MAX_L + 1)
SHARED = MOM * THREADS


@lru_cache(maxsize=None)
def feature_kernels():
    cuda_module()
    normal_pair, trig_field, _, weights, grid_ni0, reduce_moments = build_helpers(cuda.jit(device=True))

    @cuda.jit
    def moments(Z, L, part):
        t = cuda.threadIdx.x
        b = cuda.blockIdx.x
        n = Z.shape[0]
        acc = cuda.local.array(MOM, float64)
        for q in range(2 * (L + 1)):
            acc[q] = 0.0
        for j in range(b * THREADS + t, n, cuda.gridDim.x * THREADS):
            c1 = math.cos(TWO_PI * Z[j])
            s1 = math.sin(TWO_PI * Z[j])
            cc = 1.0
            ss = 0.0
            acc[0] += 1.0
            for l in range(1, L + 1):
                cc, ss = cc * c1 - ss * s1, ss * c1 + cc * s1
                acc[l] += cc
                acc[L + 1 + l] += ss
        sh = cuda.shared.array(SHARED, float64)
        for q in range(2 * (L + 1)):
            sh[q * THREADS + t] = acc[q]
        cuda.syncthreads()
        block_tree_sum(sh, t, THREADS, 2 * (L + 1))
        if t == 0:
            for q in range(2 * (L + 1)):
                part[b, q // (L + 1), q % (L + 1)] = sh[q * THREADS]

    @cuda.jit
    def combine(px, py, nx, ny, C, L, Lm, w, ri, rec_mom, rec_ni0, g, n_mom):
        # single thread: moments m = (re, im) for l = 0..Lm, weights w[0..3] = wr_x, wi_x, wr_y, wi_y
        if cuda.grid(1) != 0:
            return
        mx = cuda.local.array(MOM_SHAPE, float64)  # rows: real and imaginary parts, l = 0..Lm
        my = cuda.local.array(MOM_SHAPE, float64)
        reduce_moments(px, nx, mx)
        reduce_moments(py, ny, my)
        weights(C, mx[0], mx[1], my[0], my[1], L, w[0], w[1], w[2], w[3])
        if ri >= 0:
            for m in range(n_mom):
                rec_mom[ri, 0, 2 * m] = mx[0, m + 1]
                rec_mom[ri, 0, 2 * m + 1] = mx[1, m + 1]
                rec_mom[ri, 1, 2 * m] = my[0, m + 1]
                rec_mom[ri, 1, 2 * m + 1] = my[1, m + 1]
            if g.shape[0] > 0:
                rec_ni0[ri] = grid_ni0(g, w[0], w[1], w[2], w[3], L)

    @cuda.jit
    def update(Z, w, row, L, lr, sd, key, k):
        p = cuda.grid(1)
        n = Z.shape[0]
        j = 2 * p
        if j >= n:
            return
        xi0, xi1 = normal_pair(key, k, n, j)
        z = Z[j] + lr * trig_field(Z[j], w[row], w[row + 1], L, True) + sd * xi0
        if j + 1 < n:
            z1 = Z[j + 1] + lr * trig_field(Z[j + 1], w[row], w[row + 1], L, True) + sd * xi1
            Z[j + 1] = z1 - math.floor(z1)
        Z[j] = z - math.floor(z)

    return moments, combine, update


@lru_cache(maxsize=None)
def pairwise_kernels(grad_x, grad_y):
    cuda_module()
    normal_pair, _, _, _, _, _ = build_helpers(cuda.jit(device=True))
    gx = cuda.jit(device=True)(grad_x.py_func)
    gy = cuda.jit(device=True)(grad_y.py_func)

    @cuda.jit
    def drift(X, Y, params, dX, dY):
        i = cuda.grid(1)
        nx, ny = X.shape[0], Y.shape[0]
        if i < nx:
            s = 0.0
            for j in range(ny):
                s += gx(X[i], Y[j], params)
            dX[i] = s / ny
        if i < ny:
            s = 0.0
            for q in range(nx):
                s += gy(X[q], Y[i], params)
            dY[i] = s / nx

    @cuda.jit
    def move(Z, D, lr, sd, key, k):
        p = cuda.grid(1)
        n = Z.shape[0]
        j = 2 * p
        if j >= n:
            return
        xi0, xi1 = normal_pair(key, k, n, j)
        z = Z[j] + lr * D[j] + sd * xi0
        Z[j] = z - math.floor(z)
        if j + 1 < n:
            z = Z[j + 1] + lr * D[j + 1] + sd * xi1
            Z[j + 1] = z - math.floor(z)

    return drift, move


def stepper(payoff, taus, eta, dt, steps, drift, keys, rec, grid, X, Y, mom, ni0):
    """(advance, sync) of :func:`gdsim.games.gpu_particle_gda`: the engine's injected device stepper.

    ``advance(k0, k1)`` runs steps k0 .. k1-1 of every particle system on the device, recording (moments,
    NI_0) at the record steps among them, and the last record when k1 is the final step; ``sync()`` copies
    the particles and records back into the host arrays ``X, Y, mom, ni0``. The state of each run stays on
    the device between calls. Raises :class:`gdsim.CudaUnavailableError` without a usable device.
    """
    import numpy as np

    from gdsim._core.cuda import launch_config

    cu = cuda_module()
    runs, n_x = X.shape
    n_y = Y.shape[1]
    rec_index = {int(s): i for i, s in enumerate(rec)}
    dev = [dict(X=cu.to_device(X[r]), Y=cu.to_device(Y[r]), mom=cu.to_device(mom[r]), ni0=cu.to_device(ni0[r]))
           for r in range(runs)]
    bx, tx = launch_config((n_x + 1) // 2)
    by, ty = launch_config((n_y + 1) // 2)
    if drift == "feature":
        moments, combine, update = feature_kernels()
        L = payoff.order
        if L > MAX_L:
            raise ValueError(f"payoff order L = {L} exceeds the GPU kernel's limit of {MAX_L}")
        Lm = max(L, 2)
        nb = max(1, min(64, -(-max(n_x, n_y) // THREADS)))
        px, py = cu.device_array((nb, 2, Lm + 1)), cu.device_array((nb, 2, Lm + 1))
        w = cu.device_array((4, 2 * L + 1))
        d_C, d_g = cu.to_device(payoff.coef), cu.to_device(grid if grid.size else np.zeros(0))

        def combine_at(s, kk):  # moments, payoff weights and (at a record step) the records of step kk
            moments[nb, THREADS](s["X"], Lm, px)
            moments[nb, THREADS](s["Y"], Lm, py)
            combine[1, 1](px, py, n_x, n_y, d_C, L, Lm, w, rec_index.get(kk, -1), s["mom"], s["ni0"], d_g, 2)

        def advance(k0, k1):
            for r, s in enumerate(dev):
                for kk in range(k0, k1):
                    combine_at(s, kk)
                    tau_k = float(taus[kk])
                    update[bx, tx](s["X"], w, 0, L, -dt, math.sqrt(2 * tau_k * dt), keys[r, 0], kk)
                    update[by, ty](s["Y"], w, 2, L, eta * dt, math.sqrt(2 * eta * tau_k * dt), keys[r, 1], kk)
                if k1 == steps:
                    combine_at(s, steps)
    else:
        drift_k, move = pairwise_kernels(payoff.grad_x, payoff.grad_y)
        moments, _, _ = feature_kernels()
        d_p = cu.to_device(payoff.params)
        dDx, dDy = cu.device_array(n_x), cu.device_array(n_y)
        bd, td = launch_config(max(n_x, n_y))
        part = cu.device_array((1, 2, 3))

        def record_at(s, kk):
            if kk in rec_index:
                ri = rec_index[kk]
                for pl, dZ, n in ((0, s["X"], n_x), (1, s["Y"], n_y)):
                    moments[1, THREADS](dZ, 2, part)
                    q = part.copy_to_host()[0] / n
                    s["mom"][ri, pl, :] = np.array([q[0, 1], q[1, 1], q[0, 2], q[1, 2]])

        def advance(k0, k1):
            for r, s in enumerate(dev):
                for kk in range(k0, k1):
                    record_at(s, kk)
                    drift_k[bd, td](s["X"], s["Y"], d_p, dDx, dDy)
                    tau_k = float(taus[kk])
                    move[bx, tx](s["X"], dDx, -dt, math.sqrt(2 * tau_k * dt), keys[r, 0], kk)
                    move[by, ty](s["Y"], dDy, eta * dt, math.sqrt(2 * eta * tau_k * dt), keys[r, 1], kk)
                if k1 == steps:
                    record_at(s, steps)

    def sync():
        for r, s in enumerate(dev):
            X[r], Y[r] = s["X"].copy_to_host(), s["Y"].copy_to_host()
            mom[r], ni0[r] = s["mom"].copy_to_host(), s["ni0"].copy_to_host()

    return advance, sync
