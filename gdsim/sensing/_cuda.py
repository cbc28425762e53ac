"""``numba.cuda`` kernels for the sensing operator (private; used by :func:`gdsim.sensing.gpu_gd`).

A stays on the device (packed rows). Per step: one block per measurement i computes the residuals
r_bi = Ap[i] . z_b - y_i (threads split the row, shared-memory tree reduction); then one thread per
packed entry p accumulates g_b[p] = (1/m) sum_i r_bi Ap[i, p] (consecutive threads read consecutive
p: coalesced). The small d x d x r_hat products stay on the host.
"""

from __future__ import annotations

from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module, is_cudasim
from gdsim._core.cuda_device import block_tree_sum

#: Threads per block of the residual kernel (a power of two); 4 under the simulator.
RESIDUAL_THREADS = 4 if is_cudasim() else 128


@lru_cache(maxsize=None)
def kernels():
    cuda_module()

    @cuda.jit
    def residuals(Ap, Z, y, R):
        i = cuda.blockIdx.x
        t = cuda.threadIdx.x
        P = Ap.shape[1]
        sh = cuda.shared.array(RESIDUAL_THREADS, float64)
        for b in range(Z.shape[0]):
            s = 0.0
            for p in range(t, P, RESIDUAL_THREADS):
                s += float64(Ap[i, p]) * Z[b, p]
            sh[t] = s
            cuda.syncthreads()
            block_tree_sum(sh, t, RESIDUAL_THREADS, 1)
            if t == 0:
                R[b, i] = sh[0] - y[i]
            cuda.syncthreads()

    @cuda.jit
    def gradient(Ap, R, Gp):
        p = cuda.grid(1)
        m, P = Ap.shape
        if p >= P:
            return
        for b in range(R.shape[0]):
            s = 0.0
            for i in range(m):
                s += R[b, i] * float64(Ap[i, p])
            Gp[b, p] = s / m

    return residuals, gradient


def operator(problem, shape):
    """The GPU stepper's operator for :func:`gdsim.sensing.gpu_gd`: ``(op, backend)``.

    ``op(U)`` returns (M = A*A(Z* - U U^T), loss) like the CPU operator, with the two passes over A on the
    device (A and y resident) and M copied back; ``op`` is None under full observation (no operator to
    offload: the run is the CPU one). Raises :class:`gdsim.CudaUnavailableError` without a usable device.
    """
    import numpy as np

    from gdsim._core.cuda import launch_config
    from gdsim.sensing import _kernels as k

    cu = cuda_module()
    if problem.a_packed is None:
        return None, "cpu (full observation: no operator to offload)"
    residuals, gradient = kernels()
    B, d = shape[:2]
    P, m = d * (d + 1) // 2, problem.m
    dA, dy = cu.to_device(problem.a_packed), cu.to_device(problem.y)
    dR, dG = cu.device_array((B, m)), cu.device_array((B, P))
    Zp = np.empty((B, P))
    Gfull = np.empty((B, d, d))
    blocks, tpb = launch_config(P)

    def op(U_):
        k.pack_gram(U_, Zp)
        residuals[m, RESIDUAL_THREADS](dA, cu.to_device(Zp), dy, dR)
        gradient[blocks, tpb](dA, dR, dG)
        R = dR.copy_to_host()
        k.unpack_sym(dG.copy_to_host(), Gfull)
        return -Gfull, (R**2).sum(axis=1) / (4 * m)

    return op, "cuda"
