"""CUDA device helpers shared by the ``gpu_*`` kernels (imported only by the ``_cuda`` modules).

``numba.cuda`` is imported at module level on purpose: the CUDA simulator patches the module global
``cuda`` of the functions it runs, so device helpers must look ``cuda`` up there, not in a closure.
"""

from __future__ import annotations

from numba import cuda


@cuda.jit(device=True)
def block_tree_sum(sh, t, width, rows):
    """Sum ``rows`` rows of shared memory across a block, in place: row q of thread t is sh[q width + t];
    afterwards sh[q width] holds row q's total. ``width`` (the threads taking part) is a power of two;
    call after a ``cuda.syncthreads()`` that makes every thread's entries visible. Fixed summation order."""
    stride = width // 2
    while stride > 0:
        if t < stride:
            for q in range(rows):
                sh[q * width + t] += sh[q * width + t + stride]
        cuda.syncthreads()
        stride //= 2
