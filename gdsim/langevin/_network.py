"""Numba kernels for the Park-Lucini-Aarts teacher-student network and the Sclocchi et al. perceptron.

Park et al. (arXiv:2509.01349): y = Z tanh(W tanh(M x)), only W (K x L) is trained by SGD with batch
|B| in a fixed batch order (no reshuffling), loss (1/2) mean_B (y - y_hat)^2, T = lr / |B|. One run per
prange iteration (structure: runs are independent; their data and shared matrices differ). On the CPU the
step runs in explicit 8-lane SIMD (``gdsim._core.simd``), generated per (batch, K / 8), with a scalar
fallback for tiles too large for the registers; the CUDA kernels are in ``_cuda.py``.

Sclocchi, Geiger, Wyart (arXiv:2301.13703): perceptron f = w.x/sqrt(d), hinge loss, batch 1, eta = T B,
w0 = 0, stop when every training point has margin y f >= 1 (checked once per epoch of P steps).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import prange

from gdsim._core import simd
from gdsim._core.codegen import function_from_source
from gdsim._core.elementary import LN2_HI, LN2_LO, LOG2E
from gdsim._core.counter_rng import build_uniform01, uniform01
from gdsim._core.jit import jit

def _dot_py(a, b, n):
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


_POW2_NEG = np.array([2.0 ** -i for i in range(64)])  # a global array is a compile-time constant in Numba
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(1, 14))


def _tanh_poly_py(a):
    """tanh(a) within 3 ulp (measured over [-25, 25]) in branch-free arithmetic that LLVM vectorises; the one
    tanh of every Park kernel (SIMD, scalar, CUDA), so that saturated units round alike on all of them.

    tanh|a| = -m / (2 + m) with m = expm1(-2|a|) = 2^-n (q + 1) - 1, where -2|a| = -n ln 2 + r,
    |r| <= ln(2) / 2 and q = expm1(r) is its degree-13 Taylor polynomial (remainder < 2e-17 |r|). No libm
    call, one table load (2^-n, a gather in vector code) and one division; NaN propagates (the index is
    taken from a NaN-free copy, so the table load stays in range) and |a| > 20 gives +-1 exactly.
    """
    x = -2.0 * abs(a)
    x = x if not (x < -40.0) else -40.0  # keeps NaN; tanh(20) is 1 to double precision
    xi = x if x >= -40.0 else -40.0  # NaN -> -40: a safe table index
    n = int(-xi * LOG2E + 0.5)
    r = x + n * LN2_HI + n * LN2_LO
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = _EXPM1_TAYLOR
    q = r * (c1 + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * (c6 + r * (c7 + r * (c8 + r * (c9 + r * (
        c10 + r * (c11 + r * (c12 + r * c13))))))))))))
    s = _POW2_NEG[n]
    m = s * q + (s - 1.0)
    t = abs(m / (2.0 + m))
    return t if a >= 0 else -t


def build_network_helpers(compile, dot_compile=None):
    """The per-run SGD loop, compiled for the CPU (``jit``) or as a CUDA device function.

    ``dot_compile`` compiles the length-L dot products of the forward pass; on the CPU it is
    ``jit(reassoc=True)`` so that they vectorise (the one documented use of reassoc besides the sensing
    operator: the summation order depends on the vector width, never on the thread count).
    """
    dot = (dot_compile or compile)(_dot_py)
    tanh = compile(_tanh_poly_py)

    def park_run(W, S0, y, Z, lr, batch, epochs, grad):
        """Train W (K, L) in place: epochs x (N / batch) steps over S0 (N, L) = tanh(M x), labels y (N,)."""
        K, L = W.shape
        N = S0.shape[0]
        nb = N // batch
        for _ in range(epochs):
            for b in range(nb):
                for k in range(K):
                    for l in range(L):
                        grad[k, l] = 0.0
                for n in range(b * batch, (b + 1) * batch):
                    yhat = 0.0
                    for k in range(K):
                        grad[k, L] = tanh(dot(W[k], S0[n], L))  # column L holds phi_k (scratch)
                        yhat += Z[k] * grad[k, L]
                    err = y[n] - yhat
                    for k in range(K):
                        c = err * Z[k] * (1.0 - grad[k, L] * grad[k, L]) / batch
                        for l in range(L):
                            grad[k, l] += c * S0[n, l]
                for k in range(K):
                    for l in range(L):
                        W[k, l] += lr * grad[k, l]  # descent: grad holds -dL/dW

    u01 = build_uniform01(compile)

    def perceptron_run(w, X, Y, eta, max_epochs, key):
        """Hinge perceptron from w: batch 1 with replacement until min margin >= 1; returns the steps."""
        P, d = X.shape
        isd = 1.0 / math.sqrt(d)
        step = 0
        for _ in range(max_epochs):
            ok = True
            for mu in range(P):
                m = 0.0
                for i in range(d):
                    m += w[i] * X[mu, i]
                if Y[mu] * m * isd < 1.0:
                    ok = False
                    break
            if ok:
                break
            for _ in range(P):
                mu = min(int(u01(key, step, 0) * P), P - 1)
                m = 0.0
                for i in range(d):
                    m += w[i] * X[mu, i]
                if Y[mu] * m * isd < 1.0:
                    c = eta * Y[mu] * isd
                    for i in range(d):
                        w[i] += c * X[mu, i]
                step += 1
        return step

    return compile(park_run), compile(perceptron_run)


_park_run, _perceptron_run = build_network_helpers(jit, dot_compile=lambda f: jit(f, reassoc=True))


@jit(parallel=True)
def _park_sgd_generic(W, S0, Y, Z, lrs, batch, epochs):
    """Runs in parallel: W (R, K, L), S0 (R, N, L), Y (R, N), Z (R, K), lrs (R,)."""
    R, K, L = W.shape
    for r in prange(R):
        grad = np.empty((K, L + 1))
        _park_run(W[r], S0[r], Y[r], Z[r], lrs[r], batch, epochs, grad)


# --------------------------------------------------------------- explicit-SIMD CPU path of the Park step

_tanh_poly = jit(_tanh_poly_py, inline="always")

#: Largest batch x (K / 8) tile kept in vector registers (AVX-512 has 32; the rest hold W and the inputs).
_SIMD_MAX_TILE = 16


def _park_simd_source(batch: int, blocks: int) -> str:
    """Python source of one run's SGD for a given batch and K = 8 * blocks, unrolled over both.

    W is stored transposed and flattened, WT[l * K + k] = W[k, l], so that a row of W^T is ``blocks``
    vectors. Per step: z_t = W s_t accumulated over l in registers (one FMA chain per (t, block), in the
    order of the scalar reference), tanh and the output error in a vectorisable scalar loop, then
    W^T[l] += sum_t s_t[l] c_t with the c_t in registers. The gradient uses the pre-step W for the whole
    batch, as in the reference.
    """
    K = 8 * blocks
    tb = [(t, j) for t in range(batch) for j in range(blocks)]
    lines = [
        "def park_run_simd(WT, S0, y, Z, lr, epochs, zb):",
        f"    L = WT.shape[0] // {K}",
        f"    steps = S0.shape[0] // {batch}",
        f"    scale = lr / {batch}",
        "    for _ in range(epochs):",
        "        for b in range(steps):",
        f"            n0 = b * {batch}",
        *[f"            s{t} = S0[n0 + {t}]" for t in range(batch)],
        *[f"            z{t}_{j} = vzero()" for t, j in tb],
        "            for l in range(L):",
        *[f"                w{j} = vload(WT, l * {K} + {8 * j})" for j in range(blocks)],
        *[f"                v{t} = vsplat(s{t}[l])" for t in range(batch)],
        *[f"                z{t}_{j} = vfma(v{t}, w{j}, z{t}_{j})" for t, j in tb],
        *[f"            vstore(zb, {8 * (t * blocks + j)}, z{t}_{j})" for t, j in tb],
        f"            for i in range({batch * K}):",
        "                zb[i] = tanh(zb[i])",
        f"            for t in range({batch}):",
        "                yhat = 0.0",
        f"                for k in range({K}):",
        f"                    yhat += Z[k] * zb[t * {K} + k]",
        "                c = scale * (y[n0 + t] - yhat)",
        f"                for k in range({K}):",
        f"                    phi = zb[t * {K} + k]",
        f"                    zb[t * {K} + k] = c * Z[k] * (1.0 - phi * phi)",
        *[f"            c{t}_{j} = vload(zb, {8 * (t * blocks + j)})" for t, j in tb],
        "            for l in range(L):",
        *[f"                v{t} = vsplat(s{t}[l])" for t in range(batch)],
    ]
    for j in range(blocks):
        lines.append(f"                w = vload(WT, l * {K} + {8 * j})")
        lines += [f"                w = vfma(v{t}, c{t}_{j}, w)" for t in range(batch)]
        lines.append(f"                vstore(WT, l * {K} + {8 * j}, w)")
    return "\n".join(lines) + "\n"


# This lru_cache keeps the parallel driver closure below (not generated text); the generated per-run kernel
# itself comes from the process-wide cache of function_from_source.
@lru_cache(maxsize=None)
def _park_simd_kernel(batch: int, blocks: int):
    """The parallel SIMD driver for one (batch, K / 8); compiled on first use (not cached on disk: the
    source is generated)."""
    namespace = dict(vzero=simd.vzero, vsplat=simd.vsplat, vload=simd.vload, vstore=simd.vstore, vfma=simd.vfma,
                     tanh=_tanh_poly)
    run = function_from_source(_park_simd_source(batch, blocks), "park_run_simd", namespace,
                               label=f"<gdsim.langevin park_run_simd batch={batch} K={8 * blocks}>",
                               jit_options={"boundscheck": False})

    def park_sgd_simd(WT, S0, Y, Z, lrs, epochs):
        for r in prange(WT.shape[0]):
            run(WT[r], S0[r], Y[r], Z[r], lrs[r], epochs, np.empty(batch * Z.shape[1]))

    return jit(park_sgd_simd, parallel=True, cache=False)


def park_sgd(W, S0, Y, Z, lrs, batch, epochs):
    """Train the runs' W (R, K, L) in place: S0 (R, N, L) = tanh(M x), Y (R, N) labels, Z (R, K), lrs (R,).

    Uses the explicit-SIMD kernel (K padded to a multiple of 8 with zero rows and zero output weights,
    which stay exactly zero) when the batch x K / 8 tile fits the vector registers, else the scalar one.
    Both agree with the NumPy reference to rounding; neither depends on the thread count.
    """
    R, K, L = W.shape
    blocks = -(-K // simd.LANES)
    if batch * blocks > _SIMD_MAX_TILE or R == 0:
        _park_sgd_generic(W, S0, Y, Z, lrs, batch, epochs)
        return
    Kp = simd.LANES * blocks
    WT = np.zeros((R, L, Kp))
    WT[:, :, :K] = W.transpose(0, 2, 1)
    Zp = np.zeros((R, Kp))
    Zp[:, :K] = Z
    _park_simd_kernel(batch, blocks)(WT.reshape(R, L * Kp), np.ascontiguousarray(S0, dtype=float),
                                     np.ascontiguousarray(Y, dtype=float), Zp, np.ascontiguousarray(lrs, dtype=float),
                                     epochs)
    W[:] = WT[:, :, :K].transpose(0, 2, 1)


@jit(parallel=True)
def perceptron_sgd(Xs, Ys, etas, max_epochs, keys, W, steps_out):
    """Runs in parallel: Xs (R, P, d), Ys (R, P), W (R, d) in place, steps_out (R,)."""
    for r in prange(Xs.shape[0]):
        steps_out[r] = _perceptron_run(W[r], Xs[r], Ys[r], etas[r], max_epochs, keys[r])


@jit(inline="always")
def _mlp_output(w, b, x, z):
    """f(w, x) = (1/h) sum_i b_i sqrt(2) relu(w_i . x / sqrt(d)); the pre-activations go to ``z``."""
    h, d = w.shape
    isd = 1.0 / math.sqrt(d)
    s = 0.0
    for i in range(h):
        zi = 0.0
        for j in range(d):
            zi += w[i, j] * x[j]
        z[i] = zi * isd
        s += b[i] * math.sqrt(2.0) * max(z[i], 0.0)
    return s / h


@jit(parallel=True)
def mlp_hinge_sgd(W, beta, W0, beta0, Xs, Ys, etas, alphas, batch, epochs, keys, steps_out):
    """Sclocchi et al.'s alpha-trick on a one-hidden-layer net, batched over runs (prange).

    f(w, x) = (1/h) sum_i beta_i sigma(z_i), z = W x / sqrt(d), sigma = sqrt(2) ReLU (E sigma^2 = 1);
    F = f(w) - f(w0); loss hinge(alpha y F) / alpha per sample; SGD with batches of ``batch`` indices
    drawn with replacement (counter RNG); stop when alpha min_mu y_mu F(x_mu) >= 1 (checked every epoch).
    W (R, h, d), beta (R, h) in place; Xs (R, P, d), Ys (R, P). Runs ``epochs`` more epochs from the step
    count in ``steps_out`` (0 at the start; the counter noise is keyed by it): a run split into several calls
    gives the numbers of one call, and a run that has stopped stays stopped (its check is repeated).
    """
    R, h, d = W.shape
    P = Xs.shape[1]
    isd = 1.0 / math.sqrt(d)
    r2 = math.sqrt(2.0)
    for r in prange(R):
        w, b, w0, b0, X, Y = W[r], beta[r], W0[r], beta0[r], Xs[r], Ys[r]
        a = alphas[r]
        lr = etas[r] / batch
        z = np.empty(h)
        gw = np.empty((h, d))
        gb = np.empty(h)
        f0 = np.empty(P)
        for mu in range(P):  # f(w0, x_mu)
            f0[mu] = _mlp_output(w0, b0, X[mu], z)
        step = steps_out[r]
        per_epoch = max(1, P // batch)
        for _ in range(epochs):
            m = 1e300
            for mu in range(P):
                m = min(m, a * Y[mu] * (_mlp_output(w, b, X[mu], z) - f0[mu]))
            if m >= 1.0:
                break
            for _ in range(per_epoch):
                gw[:, :] = 0.0
                gb[:] = 0.0
                for t in range(batch):
                    mu = min(int(uniform01(keys[r], step, t) * P), P - 1)
                    if a * Y[mu] * (_mlp_output(w, b, X[mu], z) - f0[mu]) < 1.0:  # hinge active: descend along y grad F
                        for i in range(h):
                            act = r2 * max(z[i], 0.0)
                            gb[i] += Y[mu] * act / h
                            if z[i] > 0.0:
                                c = Y[mu] * b[i] * r2 * isd / h
                                for j in range(d):
                                    gw[i, j] += c * X[mu, j]
                for i in range(h):
                    b[i] += lr * gb[i]
                    for j in range(d):
                        w[i, j] += lr * gw[i, j]
                step += 1
        steps_out[r] = step

