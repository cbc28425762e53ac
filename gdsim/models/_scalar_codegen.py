"""The one code generator of depth-unrolled GD steps of the scalar network L(w) = (a/2)(prod_i w_i - b)^2 (private).

With the depth D a compile-time constant, one GD step of one run is straight-line code whose prefix and suffix
products live in registers, and the single loop over runs vectorises (AVX-512: 8 runs per instruction; measured
7x faster than the loop form at D = 4). Two kernels are generated from the same step:

* :func:`advance_kernel` ``(W, eta, a, b, nsteps, blowup)``: ``nsteps`` steps of every run of ``W`` (D, B) in
  blocks of :data:`BLOCK` runs, weights leaving ``[-blowup, blowup]`` become NaN: the advance step of
  :func:`gdsim.scalar.gd` (same operations, in the same order, as ``gdsim.scalar._kernels._gd_advance``);
* :func:`fused_step` ``(W, ab, lr, S, L, big)``: one step of every run, with the loss before the step and the
  largest |w| after it: the fused step of the model ``gdsim.models.scalar_network`` (same operations as
  ``gdsim.models._zoo._scalar_gd_step_batch``).

Both are compiled through :func:`gdsim._core.codegen.function_from_source` (one cache for all generated code).
The two keep their own arithmetic (the family's coefficient ``(eta a)(p - b)`` times ``p_i s``, the model's
``lr`` times ``p_i (a e s)``): each gives the bits it always gave.

This module imports no family; :mod:`gdsim.scalar` imports it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gdsim._core.codegen import function_from_source

#: Runs per block of the family's structure-of-arrays kernels (one AVX-512 register holds 8 doubles; 64 lanes keep
#: the block's working set of (2D + 2) x 64 doubles inside L1).
BLOCK = 64

#: Depths with a generated, fully unrolled kernel (larger depths use the loop kernels).
UNROLLED_DEPTHS = range(2, 9)


def _step_lines(D: int, ind: str, load: str, head: list[str], coef: str) -> list[str]:
    """One GD step of one run as straight-line code: ``x_i`` loaded by ``load.format(i=i)``, prefix products
    ``p_i = x_0 ... x_{i-1}``, the caller's ``head`` (which sets the suffix seed ``s``), then the backward pass
    ``n_i = x_i - coef * (p_i * s)``, ``s *= x_i`` that never divides by a weight."""
    lines = [f"{ind}x{i} = {load.format(i=i)}" for i in range(D)]
    lines += [f"{ind}p1 = 1.0 * x0"]
    lines += [f"{ind}p{i} = p{i - 1} * x{i - 1}" for i in range(2, D)]
    lines += [f"{ind}{h}" for h in head]
    for i in range(D - 1, 0, -1):
        lines += [f"{ind}n{i} = x{i} - {coef} * (p{i} * s)", f"{ind}s *= x{i}"]
    lines += [f"{ind}n0 = x0 - {coef} * (1.0 * s)"]
    return lines


def advance_source(D: int) -> str:
    """Source of the family's ``nsteps``-step kernel specialised to depth ``D`` (function ``_gd_advance_d{D}``)."""
    ind = " " * 16
    lines = [f"def _gd_advance_d{D}(W, eta, a, b, nsteps, blowup):",
             "    B = W.shape[1]",
             "    nblocks = (B + BLOCK - 1) // BLOCK",
             "    for kb in prange(nblocks):",
             "        j0 = kb * BLOCK",
             "        n = min(B, j0 + BLOCK) - j0",
             "        coef_eta = np.empty(BLOCK)"]
    lines += [f"        w{i} = np.empty(BLOCK)" for i in range(D)]
    lines += ["        for lane in range(n):",
              "            coef_eta[lane] = eta[j0 + lane] * a"]
    lines += [f"            w{i}[lane] = W[{i}, j0 + lane]" for i in range(D)]
    lines += ["        for _ in range(nsteps):",
              "            for lane in range(n):"]
    lines += _step_lines(D, ind, "w{i}[lane]", [f"c = coef_eta[lane] * (p{D - 1} * x{D - 1} - b)", "s = 1.0"], "c")
    lines += [f"{ind}w{i}[lane] = n{i} if abs(n{i}) <= blowup else np.nan" for i in range(D)]
    lines += ["        for lane in range(n):"]
    lines += [f"            W[{i}, j0 + lane] = w{i}[lane]" for i in range(D)]
    return "\n".join(lines) + "\n"


def fused_step_source(D: int) -> str:
    """Source of the model's fused one-step kernel specialised to depth ``D`` (function ``_scalar_gd_step_d{D}``)."""
    ind = " " * 8
    lines = [f"def _scalar_gd_step_d{D}(W, ab, lr, S, L, big):",
             "    a = ab[0]",
             "    b = ab[1]",
             "    for j in range(W.shape[1]):"]
    lines += _step_lines(D, ind, "W[{i}, j]", [f"e = p{D - 1} * x{D - 1} - b", "L[j] = 0.5 * a * e * e", "s = a * e"],
                         "lr[j]")
    lines += [f"{ind}W[{i}, j] = n{i}" for i in range(D)]
    lines += [f"{ind}big[j] = max(" + ", ".join(f"abs(n{i})" for i in range(D)) + ")"]
    return "\n".join(lines) + "\n"


def advance_kernel(D: int, parallel: bool):
    """The compiled depth-``D`` advance kernel (``D`` in :data:`UNROLLED_DEPTHS`), serial or multi-threaded."""
    return function_from_source(advance_source(D), f"_gd_advance_d{D}", {"np": np, "prange": prange, "BLOCK": BLOCK},
                                label=f"<gdsim scalar GD kernel D={D}>", jit_options={"parallel": bool(parallel)})


def fused_step(D: int):
    """The compiled depth-``D`` fused step of the model (``D`` in :data:`UNROLLED_DEPTHS`)."""
    return function_from_source(fused_step_source(D), f"_scalar_gd_step_d{D}", {"np": np},
                                label=f"<gdsim scalar_network GD step D={D}>", jit_options={})
