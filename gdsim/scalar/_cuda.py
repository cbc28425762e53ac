"""``numba.cuda`` variant of scalar-network GD (private; imported lazily by :func:`gpu_gd`).

One thread per trajectory; weights stay structure-of-arrays ``W[i, j]`` in device memory so that the
threads of a warp read consecutive addresses (coalesced). Record-point observables (Hessian eigenvalue,
GFS root) are computed on the host by the same kernels as the CPU path, so both report identical
observables for identical weights.
"""

from __future__ import annotations

import math
from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module

#: Largest depth the GPU kernel supports (per-thread local arrays need a compile-time size).
MAX_D = 64


@lru_cache(maxsize=None)
def gd_advance_kernel():
    cuda_module()  # clear error when no GPU / simulator

    @cuda.jit
    def _gd_advance(W, eta, a, b, nsteps, blowup):
        j = cuda.grid(1)
        D = W.shape[0]
        B = W.shape[1]
        if j >= B:
            return
        w = cuda.local.array(MAX_D, float64)
        pre = cuda.local.array(MAX_D, float64)
        for i in range(D):
            w[i] = W[i, j]
        lr = eta[j]
        for _ in range(nsteps):
            pre[0] = 1.0
            for i in range(1, D):
                pre[i] = pre[i - 1] * w[i - 1]
            coef = lr * a * (pre[D - 1] * w[D - 1] - b)
            suf = 1.0
            for i in range(D - 1, -1, -1):
                wi = w[i]
                wn = wi - coef * (pre[i] * suf)
                suf *= wi
                w[i] = wn if abs(wn) <= blowup else math.nan
        for i in range(D):
            W[i, j] = w[i]

    return _gd_advance
