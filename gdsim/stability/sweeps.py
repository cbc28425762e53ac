"""Sweep simulations of the stability family (``gdsim.stability.sweeps:NAME`` in a TOML spec).

Every cell is a deterministic GD run from a fixed start (no randomness per point), so a cell's numbers
depend on its coordinates only, never on the chunking or the executor.
"""

from __future__ import annotations

import numpy as np

from gdsim.stability._api import logistic_map, second_order_map, separable_data
from gdsim.sweep.spec import simulation


@simulation(outputs={"final_lr_ntk": (), "max_lr_ntk": (), "final_residual": (), "status": ()})
def second_order_cells(chunk, steps=20000, angle=0.3, tol=1e-12):
    """GD on the two-parameter second-order regression model over axes ``lr`` and ``eps_y``
    (:func:`gdsim.stability.second_order_map`, cell by cell)."""
    lr = np.asarray(chunk.points["lr"], dtype=np.float64)
    ey = np.asarray(chunk.points["eps_y"], dtype=np.float64)
    out = {k: np.empty(lr.size) for k in ("final_lr_ntk", "max_lr_ntk", "final_residual", "status")}
    # a chunk is a block of the grid: run its distinct eps_y values as columns, pick the chunk's cells
    ulr, ilr = np.unique(lr, return_inverse=True)
    uey, iey = np.unique(ey, return_inverse=True)
    res = second_order_map(ulr, uey, steps, angle=angle, tol=tol)
    for k in out:
        out[k] = np.asarray(res[k], dtype=np.float64)[ilr, iey]
    return out


@simulation(outputs={"final_loss": (), "grad_norm": (), "converged_step": (), "status": ()})
def logistic_cells(chunk, steps=2000, n=64, d=4, margin=0.05, data_seed=0, tol=1e-8):
    """GD on l2-regularised logistic regression over axes ``log10_lr`` and ``log10_l2``, on
    :func:`gdsim.stability.separable_data` ``(n, d, margin, data_seed)``, or with ``n = 0`` on the one-point
    problem a = 1, y = +1 (the 1-D loss log(1 + e^-w) + (l2/2) w^2) (:func:`gdsim.stability.logistic_map`)."""
    lr = 10.0 ** np.asarray(chunk.points["log10_lr"], dtype=np.float64)
    l2 = 10.0 ** np.asarray(chunk.points["log10_l2"], dtype=np.float64)
    if n == 0:
        A, y = np.ones((1, 1)), np.ones(1)
    else:
        A, y, _ = separable_data(n, d, margin=margin, seed=data_seed)
    ulr, ilr = np.unique(lr, return_inverse=True)
    ul2, il2 = np.unique(l2, return_inverse=True)
    res = logistic_map((A, y), ulr, ul2, steps, tol=tol)
    return {k: np.asarray(res[k], dtype=np.float64)[ilr, il2]
            for k in ("final_loss", "grad_norm", "converged_step", "status")}
