"""CPU kernels of the trainability map (private): full-batch or minibatch GD of the one-hidden-layer
net of Sohl-Dickstein (2024), one map cell per SIMD lane.

The model (the author's notebook, ``Sohl-Dickstein/fractal``): inputs x in R^n, hidden width n,
f(x) = phi(x W0 / sqrt(n)) W1 / n with phi(z) = tanh(sqrt(2) z), sqrt(2) relu(z) or z, all weights
shared by every cell at t = 0; loss (1/N) sum_d (f(x_d) - y_d)^2 (no 1/2). Each cell has its own
(lr0, lr1) (and, for the offset phase space, an offset h added to every entry of W0 before every step,
as the notebook does). The tracked value v_t is the full-batch loss *before* step t.

Layout (structure of arrays): eight cells form a block and are the eight lanes of ``f64x8`` values.
W0 of a block is stored as ``W0[(i * n + j) * 8 + lane]``. The step is generated per width n so that
the n per-column accumulators live in registers:

1. forward: A[d, j] = sum_i X[d, i] W0[i, j] (register accumulators over i; two rows d per pass share
   each vector load of W0; the first term is a product, not an FMA with zero);
2. activation (a scalar loop over all N n 8 values that LLVM vectorises): H = phi(A / sqrt(n)). tanh is
   a libm-free Padé form without table lookups, :func:`gdsim._core.elementary.tanh_neg_half_py`, fed
   b = -2 sqrt(2) A / sqrt(n) in one multiply; relu and identity also store DP = phi'(A / sqrt(n));
3. residuals r_d = H[d] . W1 / n - y_d and the loss;
4. over the gradient rows (all N, or the step's minibatch): grad W1 and delta[k, j] = r W1_j phi'_j / n
   (tanh: phi' = sqrt(2) (1 - h^2) formed here from h, delta = rs - (rs h) h with rs = r sqrt(2) W1_j / n);
5. grad W0[i, j] = sum_k X[row_k, i] delta[k, j] (register accumulators over k, two rows i per pass)
   fused with the update.

The activation is the costliest stage for tanh: about 33 vector operations per value against 2 x n FMAs
of the two matrix products. Folding the three scale multiplies into one, dropping the DP buffer and the
FMAs with zero made the tanh map 1.4x faster (0.70 s -> 0.50 s for 128^2 converging cells x 100 steps on
2 Zen 5 cores). Applying tanh to the forward pass's accumulators in registers instead (an 8-lane
intrinsic of the same operations, so the same bits, and no store and reload of A) measured the same
(0.47-0.49 s against 0.44-0.49 s, alternating runs) and was not kept.

The convergence score is accumulated on the fly (no loss trace is stored). A block whose eight lanes
all have NaN in W1 is NaN forever (every later residual, gradient and weight is NaN), so its remaining
steps only add the notebook's sentinel loss (1e6) to the score: exact, and about half the map diverges.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import prange

from gdsim._core import simd
from gdsim._core.codegen import function_from_source
from gdsim._core.jit import jit
from gdsim._core.elementary import tanh_neg_half

LANES = simd.LANES

#: The notebook's clip for non-finite and exploding normalised losses.
MAX_VAL = 1e6
#: The notebook's window of final losses that decides convergence.
TAIL = 20

ACTIVATIONS = ("tanh", "relu", "identity")


def _score_update_py(acc, lane, t, steps, loss):
    """Accumulate one loss value of one lane into ``acc[lane] = (v0, sum v, sum 1/v, tail sum)``.

    The notebook's normalisation: non-finite -> 1e6, divide by v_0, clip at 1e6.
    """
    v = loss if math.isfinite(loss) else MAX_VAL
    if t == 0:
        acc[lane, 0] = v
    v = v / acc[lane, 0]
    if v > MAX_VAL:
        v = MAX_VAL
    acc[lane, 1] += v
    acc[lane, 2] += 1.0 / v
    if t >= steps - TAIL:
        acc[lane, 3] += v


def _score_final_py(acc, lane, steps):
    """-sum v if the mean of the last 20 normalised losses is < 1 (converged), else +sum 1/v."""
    tail = min(TAIL, steps)
    if acc[lane, 3] / tail < 1.0:
        return -acc[lane, 1]
    return acc[lane, 2]


_score_update = jit(_score_update_py, inline="always")
_score_final = jit(_score_final_py, inline="always")


def _stores_dp(activation: str) -> bool:
    """Whether the step keeps phi' in a DP buffer: relu and identity do; tanh forms it from h in the
    gradient rows (phi' = sqrt(2) (1 - h^2)), which saves the buffer's store and load."""
    return activation != "tanh"


def _activation_lines(activation: str) -> list[str]:
    """Scalar loop body: H holds A = X W0 (unscaled); writes H = phi(z), z = A / sqrt(n), and for relu and
    identity DP = phi'(z). tanh stores no DP: the gradient rows form phi' = sqrt(2) (1 - h^2) from h, and
    tanh(sqrt(2) z) = tanh(-b / 2) with b = -2 sqrt(2) A / sqrt(n), one multiply (:func:`tanh_neg_half_py`)."""
    if activation == "tanh":
        return ["    for e in range(NNL):", "        H[e] = tanh_neg_half(H[e] * TANH_SCALE)"]
    head = ["    for e in range(NNL):", "        z = H[e] * isn"]
    if activation == "relu":
        body = ["        if z > 0.0:", "            H[e] = SQRT2 * z", "            DP[e] = SQRT2",
                "        else:", "            H[e] = SQRT2 * (z if z != z else 0.0)", "            DP[e] = 0.0"]
    else:
        body = ["        H[e] = z", "        DP[e] = 1.0"]
    return head + body


def _rank1_lines(indent: int, n: int, group: int, var: str, stop: str, scalar, vector, store) -> list[str]:
    """Source of ``acc[p, j] = sum over var < stop of splat(scalar(p)) * vload(vector(j))`` for p < group,
    j < n, accumulated in registers (one FMA chain per (p, j), in loop order), then ``store(p, j, acc)``.

    The first term is a plain product (``fma(x, v, 0)`` rounds as ``x * v``: the same bits, one FMA fewer
    per chain). The forward pass (rows d: X[d, :] against W0) and the backward pass (rows i: X[:, i]
    against delta) are both such rank-1 accumulations; a group of rows shares every vector load.
    """
    pad, inner = " " * indent, " " * (indent + 4)

    def terms(at, first):
        lines = [f"{at}x{p} = vsplat({scalar(p)})" for p in range(group)]
        for j in range(n):
            lines.append(f"{at}v = vload({vector(j)})")
            lines += [f"{at}a{p}_{j} = vmul(x{p}, v)" if first else f"{at}a{p}_{j} = vfma(x{p}, v, a{p}_{j})"
                      for p in range(group)]
        return lines

    lines = [f"{pad}{var} = 0", *terms(pad, True), f"{pad}for {var} in range(1, {stop}):", *terms(inner, False)]
    return lines + [f"{pad}{store(p, j, f'a{p}_{j}')}" for p in range(group) for j in range(n)]


#: Momentum variants of the fused step (``momentum`` of :func:`block_kernel`): none (plain GD), heavy ball
#: (b <- beta b + g, w <- w - lr b) and Nesterov (b <- beta b + g, w <- w - lr (g + beta b)), b starting at 0.
PLAIN, HEAVY_BALL, NESTEROV = 0, 1, 2
#: Adaptive variants: Adam (bias-corrected, w <- w - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps))
#: and RMSProp (s <- beta s + (1 - beta) G^2, w <- w - lr G / (sqrt(s) + eps)); moments start at 0. Their
#: updates run as scalar loops over the block's parameters after the backward pass (the engine's formulas,
#: operation by operation).
ADAM, RMSPROP = 3, 4


def _block_source(n: int, activation: str, offset: bool, momentum: int = PLAIN) -> str:
    """Python source of one block's training run for width ``n`` (the j loops unrolled).

    ``momentum`` (heavy ball or Nesterov) adds the buffers B0, B1 (b of W0 and W1, block layout) and the
    lane-splatted coefficient ``vbeta``; plain GD's source is unchanged."""
    J = range(n)
    L = LANES
    adaptive = momentum in (ADAM, RMSPROP)
    extra = ", M0, V0, M1, V1, GB0, GB1, LR, hyp" if adaptive else ", B0, B1, vbeta" if momentum else ""
    lines = [
        f"def run_block(W0, W1, X, Y, rows, lr0, lr1, off, steps, H, DP, DL, R, LV, acc{extra}):",
        "    N = Y.shape[0]",
        "    M = rows.shape[1]",
        "    n_rows = rows.shape[0]",
        f"    NNL = N * {n * L}",
        "    isn = 1.0 / math.sqrt(" + str(n) + ")",
        f"    inv_n = 1.0 / {n}",
        f"    c1 = vmul(lr1, vsplat(-2.0 / M * inv_n))",  # W1 -= lr1 * (2/M) (1/n) sum r h
        f"    c0 = vmul(lr0, vsplat(-2.0 / M * isn))",  # W0 -= lr0 * (2/M) (1/sqrt n) sum x delta
        "    vinv_n = vsplat(inv_n)",
    ]
    if momentum:  # the gradients' scales (the plain step folds them into c0, c1 with -lr)
        lines += ["    k1 = vsplat(2.0 / M * inv_n)", "    k0 = vsplat(2.0 / M * isn)"]
    if activation == "tanh":
        lines.append("    TANH_SCALE = -2.0 * SQRT2 * isn")  # b = TANH_SCALE * A for tanh_neg_half
    lines += [
        "    for t in range(steps):",
    ]
    if offset:  # the notebook adds the offset to W0 inside every step, before the loss and gradient
        lines += [
            f"        for e in range({n * n}):",
            f"            vstore(W0, e * {L}, vadd(vload(W0, e * {L}), off))",
        ]
    # 1. forward: two data rows per pass share each W0 load (then the odd last row)
    def forward(group):
        return _rank1_lines(12, n, group, "i", str(n), lambda p: f"X[(d + {p}) * {n} + i]",
                            lambda j: f"W0, (i * {n} + {j}) * {L}",
                            lambda p, j, acc: f"vstore(H, ((d + {p}) * {n} + {j}) * {L}, {acc})")

    lines += ["        for d2 in range(N // 2):", "            d = 2 * d2", *forward(2)]
    lines += ["        if N % 2 == 1:", "            d = N - 1", *forward(1)]
    # 2. activation
    lines += ["    " + s for s in _activation_lines(activation)]
    # 3. residuals and loss
    lines += [f"        w{j} = vload(W1, {j * L})" for j in J]
    lines += ["        lsum = vzero()", "        for d in range(N):", "            f = vzero()"]
    lines += [f"            f = vfma(vload(H, (d * {n} + {j}) * {L}), w{j}, f)" for j in J]
    lines += [
        "            r = vfma(f, vinv_n, vsplat(-Y[d]))",
        f"            vstore(R, d * {L}, r)",
        "            lsum = vfma(r, r, lsum)",
        "        vstore(LV, 0, lsum)",
        f"        for lane in range({L}):",
        "            score_update(acc, lane, t, steps, LV[lane] / N)",
    ]
    # 4. gradient rows: grad W1 and delta
    lines += [f"        g{j} = vzero()" for j in J]
    dp = _stores_dp(activation)
    # delta = r (W1_j / n) phi'_j; for tanh phi' = sqrt(2) (1 - h^2), so delta = rs - (rs h) h, rs = r s_j
    lines += [f"        s{j} = vmul(w{j}, {'vinv_n' if dp else 'vsplat(SQRT2 * inv_n)'})" for j in J]
    lines += ["        rw = rows[t % n_rows]", "        for k in range(M):", "            d = rw[k]",
              f"            r = vload(R, d * {L})"]
    for j in J:
        lines += [f"            h = vload(H, (d * {n} + {j}) * {L})", f"            g{j} = vfma(r, h, g{j})"]
        at = f"(k * {n} + {j}) * {L}"
        if dp:
            lines += [f"            vstore(DL, {at}, vmul(vmul(r, s{j}), vload(DP, (d * {n} + {j}) * {L})))"]
        else:
            lines += [f"            rs = vmul(r, s{j})", f"            vstore(DL, {at}, vfnma(vmul(rs, h), h, rs))"]
    if adaptive:
        lines += [f"        vstore(GB1, {j * L}, vmul(k1, g{j}))" for j in J]
    elif momentum:
        for j in J:
            lines += [f"        G = vmul(k1, g{j})", f"        b = vfma(vbeta, vload(B1, {j * L}), G)",
                      f"        vstore(B1, {j * L}, b)"]
            step = "b" if momentum == HEAVY_BALL else "vfma(vbeta, b, G)"
            lines += [f"        vstore(W1, {j * L}, vfnma(lr1, {step}, w{j}))"]
    else:
        lines += [f"        vstore(W1, {j * L}, vfma(c1, g{j}, w{j}))" for j in J]
    # 5. grad W0 fused with the update: two rows i per pass share each delta load (odd n: one at a time)
    group = 2 if n % 2 == 0 else 1

    def update_w0(p, j, acc):
        at = f"W0, ((i + {p}) * {n} + {j}) * {L}"
        if not momentum:
            return f"vstore({at}, vfma(c0, {acc}, vload({at})))"
        if adaptive:
            return f"vstore(GB0, ((i + {p}) * {n} + {j}) * {L}, vmul(k0, {acc}))"
        bt = f"B0, ((i + {p}) * {n} + {j}) * {L}"
        step = "b" if momentum == HEAVY_BALL else "vfma(vbeta, b, G)"
        return (f"G = vmul(k0, {acc}); b = vfma(vbeta, vload({bt}), G); vstore({bt}, b); "
                f"vstore({at}, vfnma(lr0, {step}, vload({at})))")

    lines += [f"        for ig in range({n // group}):", f"            i = {group} * ig"]
    lines += _rank1_lines(12, n, group, "k", "M", lambda p: f"X[rw[k] * {n} + i + {p}]",
                          lambda j: f"DL, (k * {n} + {j}) * {L}", update_w0)
    if adaptive:  # the engine's update, per parameter and lane (LR: lr0 lanes, then lr1 lanes)
        lines += ["        b1 = hyp[0]", "        b2 = hyp[1]", "        ep = hyp[2]"]
        if momentum == ADAM:
            lines += ["        c1t = 1.0 - b1 ** (t + 1)", "        c2t = 1.0 - b2 ** (t + 1)"]
        for W, M, V, size, base in (("W0", "M0", "V0", n * n * L, 0), ("W1", "M1", "V1", n * L, L)):
            G = "GB0" if W == "W0" else "GB1"
            lines += [f"        for e in range({size}):", f"            g = {G}[e]",
                      f"            a = LR[{base} + e % {L}]"]
            if momentum == ADAM:
                lines += [f"            {M}[e] = b1 * {M}[e] + (1.0 - b1) * g",
                          f"            {V}[e] = b2 * {V}[e] + (1.0 - b2) * g * g",
                          f"            {W}[e] -= a * ({M}[e] / c1t) / (math.sqrt({V}[e] / c2t) + ep)"]
            else:  # RMSProp: hyp = (beta, beta, eps)
                lines += [f"            {V}[e] = b2 * {V}[e] + (1.0 - b2) * g * g",
                          f"            {W}[e] -= a * g / (math.sqrt({V}[e]) + ep)"]
    # dead block: every lane NaN in W1 -> NaN forever; only the sentinel losses remain
    lines += [
        "        dead = True",
        f"        for lane in range({L}):",
        "            if not math.isnan(W1[lane]):",
        "                dead = False",
        "        if dead:",
        "            for t2 in range(t + 1, steps):",
        f"                for lane in range({L}):",
        "                    score_update(acc, lane, t2, steps, math.nan)",
        "            return",
    ]
    return "\n".join(lines) + "\n"


# This lru_cache keeps the parallel/serial driver closures (not generated text); the generated run_block
# kernels themselves come from the process-wide cache of function_from_source (shared by both drivers).
@jit(inline="always")
def _start_lanes(W0i, W1i, L):
    """The shared start ``W0i`` (n, n), ``W1i`` (n,) copied into every lane of a block, in the lane-minor
    layout of the generated kernels: W0 (n n L), W1 (n L)."""
    n = W1i.shape[0]
    W0 = np.empty(n * n * L)
    W1 = np.empty(n * L)
    for e in range(n * n):
        for lane in range(L):
            W0[e * L + lane] = W0i[e // n, e % n]
    for j in range(n):
        for lane in range(L):
            W1[j * L + lane] = W1i[j]
    return W0, W1


def _block_namespace() -> dict:
    """The globals every generated ``run_block`` source refers to (GD and the optimiser variants alike)."""
    return dict(vzero=simd.vzero, vsplat=simd.vsplat, vload=simd.vload, vstore=simd.vstore,
                vfma=simd.vfma, vfnma=simd.vfnma, vadd=simd.vadd, vmul=simd.vmul,
                tanh_neg_half=tanh_neg_half, math=math, SQRT2=math.sqrt(2.0), score_update=_score_update)


@lru_cache(maxsize=None)
def block_kernel(n: int, activation: str, offset: bool, parallel: bool, momentum: int = PLAIN):
    """The compiled driver for one (width, activation, offset mode, momentum variant); compiled on first use.

    ``drive(W0i, W1i, X, Y, rows, lr0, lr1, off, steps, out)`` trains every block of eight cells
    (``lr0``, ``lr1``, ``off`` padded to a multiple of 8) from the shared start ``W0i`` (n, n),
    ``W1i`` (n,) and writes one score per cell into ``out``. Not cached on disk: the source is generated.
    With ``momentum`` (:data:`HEAVY_BALL` or :data:`NESTEROV`) the driver takes the coefficient ``beta``
    (a float) after ``out``; with :data:`ADAM` or :data:`RMSPROP` the array ``hyp`` = (beta1, beta2, eps)
    (RMSProp: (beta, beta, eps)). Buffers and moments start at 0 in every cell.
    """
    if momentum:
        return _momentum_kernel(n, activation, offset, parallel, momentum)
    namespace = _block_namespace()
    run = function_from_source(_block_source(n, activation, offset), "run_block", namespace,
                               label=f"<gdsim.fractal run_block n={n} {activation} offset={offset}>",
                               jit_options={"boundscheck": False})
    L = LANES
    dp_lanes = n * L if _stores_dp(activation) else 0

    def drive(W0i, W1i, X, Y, rows, lr0, lr1, off, steps, out):
        N = Y.shape[0]
        M = rows.shape[1]
        nblocks = lr0.shape[0] // L
        Xf = X.ravel()
        for b in prange(nblocks):
            W0, W1 = _start_lanes(W0i, W1i, L)
            acc = np.zeros((L, 4))
            run(W0, W1, Xf, Y, rows, simd.vload(lr0, b * L), simd.vload(lr1, b * L), simd.vload(off, b * L),
                steps, np.empty(N * n * L), np.empty(N * dp_lanes), np.empty(M * n * L), np.empty(N * L),
                np.empty(L), acc)
            for lane in range(L):
                out[b * L + lane] = _score_final(acc, lane, steps)

    return jit(drive, parallel=parallel, cache=False)


def _momentum_kernel(n: int, activation: str, offset: bool, parallel: bool, momentum: int):
    """:func:`block_kernel` for heavy ball / Nesterov (the plain driver plus zeroed buffers and ``beta``) and
    Adam / RMSProp (zeroed moments, gradient buffers, the lanes' learning rates and ``hyp``)."""
    namespace = _block_namespace()
    run = function_from_source(_block_source(n, activation, offset, momentum), "run_block", namespace,
                               label=f"<gdsim.fractal run_block n={n} {activation} offset={offset} "
                                     f"momentum={momentum}>",
                               jit_options={"boundscheck": False})
    L = LANES
    nn = n * n
    dp_lanes = n * L if _stores_dp(activation) else 0

    def drive(W0i, W1i, X, Y, rows, lr0, lr1, off, steps, out, beta):
        N = Y.shape[0]
        M = rows.shape[1]
        nblocks = lr0.shape[0] // L
        Xf = X.ravel()
        for b in prange(nblocks):
            W0, W1 = _start_lanes(W0i, W1i, L)
            acc = np.zeros((L, 4))
            run(W0, W1, Xf, Y, rows, simd.vload(lr0, b * L), simd.vload(lr1, b * L), simd.vload(off, b * L),
                steps, np.empty(N * n * L), np.empty(N * dp_lanes), np.empty(M * n * L), np.empty(N * L),
                np.empty(L), acc, np.zeros(nn * L), np.zeros(n * L), simd.vsplat(beta))
            for lane in range(L):
                out[b * L + lane] = _score_final(acc, lane, steps)

    def drive_adaptive(W0i, W1i, X, Y, rows, lr0, lr1, off, steps, out, hyp):
        N = Y.shape[0]
        M = rows.shape[1]
        nblocks = lr0.shape[0] // L
        Xf = X.ravel()
        for b in prange(nblocks):
            W0, W1 = _start_lanes(W0i, W1i, L)
            LR = np.empty(2 * L)
            for lane in range(L):
                LR[lane] = lr0[b * L + lane]
                LR[L + lane] = lr1[b * L + lane]
            acc = np.zeros((L, 4))
            run(W0, W1, Xf, Y, rows, simd.vload(lr0, b * L), simd.vload(lr1, b * L), simd.vload(off, b * L),
                steps, np.empty(N * n * L), np.empty(N * dp_lanes), np.empty(M * n * L), np.empty(N * L),
                np.empty(L), acc, np.zeros(nn * L), np.zeros(nn * L), np.zeros(n * L), np.zeros(n * L),
                np.empty(nn * L), np.empty(n * L), LR, hyp)
            for lane in range(L):
                out[b * L + lane] = _score_final(acc, lane, steps)

    return jit(drive_adaptive if momentum in (ADAM, RMSPROP) else drive, parallel=parallel, cache=False)
