"""Compile the kernels once (before forking sweep workers, or to measure compile time)."""

from __future__ import annotations

import time

import numpy as np


def warmup() -> float:
    """Compile the CPU kernels of every model on tiny inputs; returns the seconds spent."""
    t0 = time.perf_counter()
    import gdsim.scalar as sc
    from gdsim.scalar import squared_regression as sr

    w = np.array([[0.5, 1.5], [0.7, 1.1]])
    for parallel in (False, True):
        sc.gd(w, 0.1, 2, parallel=parallel)
    sc.sharpness(w)
    sc.gfs(w)
    X, y, w0 = sr.reference_instance()
    for parallel in (False, True):
        sr.gd(w0, 0.1, 1, X=X, y=y, parallel=parallel)
    import gdsim.fractal as gf

    gf.trainability_map([0.1], [0.1], n=8, steps=1)  # the quick tier's width; other widths compile on use
    return time.perf_counter() - t0
