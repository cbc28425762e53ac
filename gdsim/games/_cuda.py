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
