"""``numba.cuda`` kernels for the batched SGD models (private): one run per thread, same per-run code as
the CPU (compiled from one source by ``build_network_helpers``)."""

from __future__ import annotations

from functools import lru_cache

from numba import cuda  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module
from gdsim.langevin._network import build_network_helpers

@lru_cache(maxsize=None)
def kernels():
    cuda_module()
    park_run, perceptron_run = build_network_helpers(cuda.jit(device=True))

    @cuda.jit
    def park(W, S0, Y, Z, lrs, batch, epochs, G):
        r = cuda.grid(1)
        if r < W.shape[0]:
            park_run(W[r], S0[r], Y[r], Z[r], lrs[r], batch, epochs, G[r])

    @cuda.jit
    def perceptron(Xs, Ys, etas, max_epochs, keys, W, steps_out):
        r = cuda.grid(1)
        if r < Xs.shape[0]:
            steps_out[r] = perceptron_run(W[r], Xs[r], Ys[r], etas[r], max_epochs, keys[r])

    return park, perceptron

