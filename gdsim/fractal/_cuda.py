"""``numba.cuda`` kernel of the trainability map (private; imported lazily by the ``gpu_*`` functions).

One thread per cell. The shared start (W0, W1), the data and the minibatch rows are read-only global
arrays that every thread reads at the same address (broadcast, cached); each thread keeps its own
weights and gradients in local memory, sized at compile time per (n, rows per step). Full-batch runs
take the loss and the gradient from one forward pass; minibatch runs make a full-batch loss pass and
a gradient pass over the step's rows. The score accumulation is the CPU kernel's source; tanh is
CUDA's ``math.tanh`` (the CPU kernel uses a polynomial), so the two agree to rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

from numba import cuda, float64  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module
from gdsim.fractal._kernels import _score_final_py, _score_update_py

_SQRT2 = math.sqrt(2.0)


@lru_cache(maxsize=None)
def map_kernel(n: int, m_rows: int, activation: str, offset: bool, full_batch: bool):
    """The CUDA kernel for one (width, rows per step, activation, offset mode, full batch)."""
    cuda_module()  # clear error when there is no GPU and no simulator
    score_update = cuda.jit(device=True)(_score_update_py)
    score_final = cuda.jit(device=True)(_score_final_py)
    NN = n * n
    ACT = ("tanh", "relu", "identity").index(activation)

    @cuda.jit(device=True)
    def act(z):
        if ACT == 0:
            h = math.tanh(_SQRT2 * z)
            return h, _SQRT2 * (1.0 - h * h)
        if ACT == 1:
            if z > 0.0:
                return _SQRT2 * z, _SQRT2
            return _SQRT2 * (z if z != z else 0.0), 0.0
        return z, 1.0

    @cuda.jit(device=True)
    def forward(W0, W1, X, Y, d, h, dp):
        """Hidden activations of row d into h, dp; returns the residual f(x_d) - y_d."""
        isn = 1.0 / math.sqrt(n)
        f = 0.0
        for j in range(n):
            a = 0.0
            for i in range(n):
                a += X[d, i] * W0[i * n + j]
            h[j], dp[j] = act(a * isn)
            f += h[j] * W1[j]
        return f * (1.0 / n) - Y[d]

    @cuda.jit(device=True)
    def backward(W1, X, d, r, h, dp, g0, g1):
        for j in range(n):
            g1[j] += r * h[j]
            dp[j] = r * (W1[j] * (1.0 / n)) * dp[j]
        for i in range(n):
            x = X[d, i]
            for j in range(n):
                g0[i * n + j] += x * dp[j]

    @cuda.jit
    def kernel(W0i, W1i, X, Y, rows, lr0, lr1, off, steps, out):
        c = cuda.grid(1)
        if c >= out.shape[0]:
            return
        W0 = cuda.local.array(NN, float64)
        g0 = cuda.local.array(NN, float64)
        W1 = cuda.local.array(n, float64)
        g1 = cuda.local.array(n, float64)
        h = cuda.local.array(n, float64)
        dp = cuda.local.array(n, float64)
        acc = cuda.local.array((1, 4), float64)
        for e in range(NN):
            W0[e] = W0i[e // n, e % n]
        for j in range(n):
            W1[j] = W1i[j]
        for q in range(4):
            acc[0, q] = 0.0
        N = Y.shape[0]
        c0 = -lr0[c] * 2.0 / m_rows / math.sqrt(n)
        c1 = -lr1[c] * 2.0 / m_rows / n
        for t in range(steps):
            if offset:
                for e in range(NN):
                    W0[e] += off[c]
            for e in range(NN):
                g0[e] = 0.0
            for j in range(n):
                g1[j] = 0.0
            lsum = 0.0
            if full_batch:
                for d in range(N):
                    r = forward(W0, W1, X, Y, d, h, dp)
                    lsum += r * r
                    backward(W1, X, d, r, h, dp, g0, g1)
            else:
                for d in range(N):
                    r = forward(W0, W1, X, Y, d, h, dp)
                    lsum += r * r
                s = t % rows.shape[0]
                for k in range(m_rows):
                    d = rows[s, k]
                    r = forward(W0, W1, X, Y, d, h, dp)
                    backward(W1, X, d, r, h, dp, g0, g1)
            score_update(acc, 0, t, steps, lsum / N)
            for j in range(n):
                W1[j] += c1 * g1[j]
            for e in range(NN):
                W0[e] += c0 * g0[e]
            if math.isnan(W1[0]):  # NaN forever (see the CPU kernel): only the sentinel losses remain
                for t2 in range(t + 1, steps):
                    score_update(acc, 0, t2, steps, math.nan)
                break
        out[c] = score_final(acc, 0, steps)

    return kernel
