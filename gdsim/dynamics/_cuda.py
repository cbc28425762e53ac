"""``numba.cuda`` GD for the zoo MLPs (private; imported lazily by :func:`gdsim.dynamics.gpu_gd`).

One thread per run (a reasonable start for small networks and many runs): the thread streams over the
samples, runs the forward pass of one sample at a time in its own scratch row, and accumulates the
gradient. The architecture is read from the model's ``arch`` vector, so one compiled kernel serves every
MLP. Record-point observables are computed on the host by the CPU kernels from the copied-back
parameters, so both backends report the same observables for the same parameters.
"""

from __future__ import annotations

import math
from functools import lru_cache

from numba import cuda  # module-level: the simulator patches the global name ``cuda``

from gdsim._core.cuda import cuda_module

_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


@lru_cache(maxsize=None)
def mlp_gd_kernel():
    cuda_module()  # clear error when there is neither a GPU nor the simulator

    @cuda.jit(device=True)
    def sigma(code, z, order):
        if code == 0:
            t = math.tanh(z)
            return t if order == 0 else 1.0 - t * t
        if code == 1:
            if order == 0:
                return z if z > 0.0 else 0.0
            return 1.0 if z > 0.0 else 0.0
        if code == 2:
            u = _GELU_K * (z + _GELU_C * z * z * z)
            t = math.tanh(u)
            if order == 0:
                return 0.5 * z * (1.0 + t)
            return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_K * (1.0 + 3.0 * _GELU_C * z * z)
        if code == 3:
            return z if order == 0 else 1.0
        return z * z if order == 0 else 2.0 * z

    @cuda.jit
    def gd_steps(W, G, S, X, Y, arch, lr, k0, k1, blowup, diverged, diverged_step, last_loss, n_inc):
        r = cuda.grid(1)
        R, P = W.shape
        if r >= R or diverged[r]:
            return
        N = X.shape[0]
        L = int(arch[0])
        act = int(arch[1])
        ce = arch[2] != 0.0
        bias = arch[3] != 0.0
        width = 0
        dmax = int(arch[4])
        for l in range(L):
            width += int(arch[5 + l])
            dmax = max(dmax, int(arch[5 + l]))
        dL = int(arch[4 + L])
        # scratch row: pre-activations and activations of every layer (2 * width), two delta buffers (2 * dmax)
        pre0 = 0
        act0 = width
        d0 = 2 * width
        d1 = 2 * width + dmax
        for t in range(k0, k1):
            for i in range(P):
                G[r, i] = 0.0
            loss = 0.0
            for n in range(N):
                # forward
                woff = 0
                zoff = 0
                for l in range(L):
                    din = int(arch[4 + l])
                    dout = int(arch[5 + l])
                    c = arch[5 + L + l]
                    for j in range(dout):
                        s = 0.0
                        for kk in range(din):
                            a = X[n, kk] if l == 0 else S[r, act0 + zoff - din + kk]
                            s += W[r, woff + j * din + kk] * a
                        s *= c
                        if bias:
                            s += W[r, woff + dout * din + j]
                        S[r, pre0 + zoff + j] = s
                        if l < L - 1:
                            S[r, act0 + zoff + j] = sigma(act, s, 0)
                    woff += dout * din + (dout if bias else 0)
                    zoff += dout
                # output error into the first delta buffer
                fo = zoff - dL
                inv = 1.0 / N
                if ce:
                    mx = S[r, pre0 + fo]
                    for j in range(dL):
                        mx = max(mx, S[r, pre0 + fo + j])
                    se = 0.0
                    for j in range(dL):
                        se += math.exp(S[r, pre0 + fo + j] - mx)
                    lse = mx + math.log(se)
                    for j in range(dL):
                        f = S[r, pre0 + fo + j]
                        loss += Y[n, j] * (lse - f)
                        S[r, d0 + j] = (math.exp(f - lse) - Y[n, j]) * inv
                else:
                    for j in range(dL):
                        e = S[r, pre0 + fo + j] - Y[n, j]
                        loss += 0.5 * e * e
                        S[r, d0 + j] = e * inv
                # backward, layer by layer from the top (delta alternates between the two buffers)
                cur = d0
                nxt = d1
                for l in range(L - 1, -1, -1):
                    din = int(arch[4 + l])
                    dout = int(arch[5 + l])
                    c = arch[5 + L + l]
                    woff = 0
                    zin = 0
                    for q in range(l):
                        a_in = int(arch[4 + q])
                        a_out = int(arch[5 + q])
                        woff += a_out * a_in + (a_out if bias else 0)
                        zin += a_out
                    for j in range(dout):
                        dj = S[r, cur + j]
                        for kk in range(din):
                            a = X[n, kk] if l == 0 else S[r, act0 + zin - din + kk]
                            G[r, woff + j * din + kk] += c * dj * a
                        if bias:
                            G[r, woff + dout * din + j] += dj
                    if l > 0:
                        for kk in range(din):
                            s = 0.0
                            for j in range(dout):
                                s += S[r, cur + j] * W[r, woff + j * din + kk]
                            S[r, nxt + kk] = c * s * sigma(act, S[r, pre0 + zin - din + kk], 1)
                        tmp = cur
                        cur = nxt
                        nxt = tmp
            loss = loss / N
            if t > 0 and loss > last_loss[r]:
                n_inc[r] += 1
            last_loss[r] = loss
            big = 0.0
            a = lr[r]
            for i in range(P):
                W[r, i] -= a * G[r, i]
                big = max(big, abs(W[r, i]))
            if not (big <= blowup) or not math.isfinite(loss):
                diverged[r] = True
                diverged_step[r] = t
                for i in range(P):
                    W[r, i] = math.nan
                return

    return gd_steps
