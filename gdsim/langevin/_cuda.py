"""``numba.cuda`` kernels for the batched SGD models (private).

* Perceptron: one run per thread, the CPU's per-run code compiled from one source
  (``build_network_helpers``).
* Park network: one run per group of G = min(32, next power of two >= K) threads, thread j of a group
  holding rows k = j, j + G, ... of W (K x L) in registers. The forward pass and the update are then
  row-local (sequential FMAs over l, the CPU's order); only y_hat = sum_k Z_k phi_k crosses threads: the
  phi_k go through shared memory (double-buffered, one barrier per step) and every thread of the group
  sums them in k order.
  The runs' inputs are read as broadcasts (all threads of a group read the same s_t[l]). The first design,
  one run per thread with W in local memory, ran at 0.1x a 16-core CPU on an H100.
"""

from __future__ import annotations

from functools import lru_cache

from numba import cuda  # module-level: the simulator patches the global name ``cuda``
from numba import float64

from gdsim._core.cuda import cuda_module
from gdsim.langevin._network import _tanh_poly_py, build_network_helpers

#: Static shared memory the group kernel may use (2 x batch x rows per thread x threads per block doubles).
PARK_GROUP_SHARED_BYTES = 32 * 1024


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


def park_group_size(K: int) -> int:
    """Threads per run: the smallest power of two >= K, at most a warp."""
    return min(32, 1 << max(0, (K - 1).bit_length()))


def park_group_launch(K: int, batch: int, threads_per_block: int):
    """(group size, threads per block) for the group kernel, or None when its shared memory would not fit
    (then the one-run-per-thread kernel runs)."""
    G = park_group_size(K)
    tpb = max(G, threads_per_block // G * G)
    fits = 2 * batch * -(-K // G) * tpb * 8 <= PARK_GROUP_SHARED_BYTES
    return (G, tpb) if fits else None


@lru_cache(maxsize=None)
def park_group_kernel(K: int, L: int, batch: int, tpb: int):
    """The Park SGD kernel for one (K, L, batch, threads per block); ``tpb`` is a multiple of the group size.

    Launch with ``ceil(R G / tpb)`` blocks of ``tpb`` threads: ``kernel(W, S0, Y, Z, lrs, epochs)`` trains
    W (R, K, L) in place.
    """
    cuda_module()
    G = park_group_size(K)
    RL = -(-K // G)  # rows per thread
    NW = RL * L
    NC = batch * RL
    tanh = cuda.jit(device=True)(_tanh_poly_py)  # the CPU kernel's tanh: saturated units round alike

    @cuda.jit
    def park_group(W, S0, Y, Z, lrs, epochs):
        R = W.shape[0]
        tid = cuda.threadIdx.x
        g = cuda.grid(1) // G
        j = cuda.grid(1) % G
        r = min(g, R - 1)  # idle groups of the last block shadow the last run and never write
        w = cuda.local.array(NW, dtype=float64)
        zk = cuda.local.array(RL, dtype=float64)
        c = cuda.local.array(NC, dtype=float64)
        part = cuda.shared.array((2, batch, RL, tpb), dtype=float64)
        base = tid - j
        for i in range(RL):
            k = j + i * G
            zk[i] = Z[r, k] if k < K else 0.0
            for l in range(L):
                w[i * L + l] = W[r, k, l] if k < K else 0.0
        scale = lrs[r] / batch
        steps = S0.shape[1] // batch
        buf = 0
        for _ in range(epochs):
            for b in range(steps):
                n0 = b * batch
                for t in range(batch):
                    for i in range(RL):
                        acc = 0.0
                        for l in range(L):
                            acc = cuda.fma(S0[r, n0 + t, l], w[i * L + l], acc)
                        c[t * RL + i] = tanh(acc)
                        part[buf, t, i, tid] = c[t * RL + i]
                cuda.syncthreads()
                for t in range(batch):
                    yhat = 0.0
                    for k in range(K):  # in k order with FMAs, as the CPU kernel
                        yhat = cuda.fma(Z[r, k], part[buf, t, k // G, base + k % G], yhat)
                    e = scale * (Y[r, n0 + t] - yhat)
                    for i in range(RL):
                        f = c[t * RL + i]
                        c[t * RL + i] = e * zk[i] * (1.0 - f * f)
                for i in range(RL):
                    for l in range(L):
                        acc = w[i * L + l]
                        for t in range(batch):
                            acc = cuda.fma(S0[r, n0 + t, l], c[t * RL + i], acc)
                        w[i * L + l] = acc
                buf = 1 - buf
        if g < R:
            for i in range(RL):
                k = j + i * G
                if k < K:
                    for l in range(L):
                        W[r, k, l] = w[i * L + l]

    return park_group
