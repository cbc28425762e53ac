"""Sweep simulations for scalar networks (usable from a TOML spec as ``gdsim.scalar.sweeps:NAME``).

Reference: Kreisler et al., ICML 2023, arXiv:2305.13064 (the edge-of-stability map of
``paper_repro/kreisler2023_gfs_sharpness.py``).
"""

from __future__ import annotations

import numpy as np

from gdsim.scalar._api import gd
from gdsim.sweep.spec import simulation

CONVERGED_TOL = 1e-12  # |prod(w) - 1| at the last step (the float floor is ~1e-15 D)


def start_with_gfs_sharpness(phi0, D: int) -> np.ndarray:
    """Positive starts whose gradient-flow solution has sharpness exactly ``phi0`` (loss a = b = 1).

    A minimiser with one small weight (s_1^2 = x, the other squares x^(-1/(D-1))) is shifted down by a
    common delta = x/2 on every square; gradient flow conserves every w_i^2 - w_j^2, so the GFS is the
    unshifted minimiser and phi(w0) = sum_i prod_{j != i} s_j^2 = 1/x + (D - 1) x^(1/(D-1)) = phi0.
    ``phi0 <= D`` (the minimum over minimisers) gives the balanced start.

    Parameters
    ----------
    phi0 : float or array_like
        Target GFS sharpness (> 0).
    D : int
        Depth (>= 2).

    Returns
    -------
    ndarray, shape (*phi0.shape, D)
    """
    if isinstance(D, bool) or not isinstance(D, (int, np.integer)) or D < 2:
        raise ValueError(f"D must be an integer >= 2, got {D!r}")
    phi0 = np.asarray(phi0, dtype=np.float64)
    if not np.all(np.isfinite(phi0)) or np.any(phi0 <= 0):
        raise ValueError("phi0 must be positive and finite")
    # Solve g(u) = e^{-u} + (D-1) e^{u/(D-1)} = phi0 for u = ln x <= 0. g is convex and decreasing on
    # u <= 0 and g(-ln phi0) >= phi0, so Newton from u0 = -ln phi0 increases monotonically to the root.
    target = np.maximum(phi0, float(D))
    u = -np.log(target)
    for _ in range(200):
        g = np.exp(-u) + (D - 1) * np.exp(u / (D - 1)) - target
        dg = -np.exp(-u) + np.exp(u / (D - 1))
        step = np.where(dg < 0, -g / np.where(dg < 0, dg, -1.0), 0.0)
        u = np.minimum(u + step, 0.0)
        if np.all(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(u))):
            break
    x = np.where(phi0 <= D * (1 + 1e-12), 1.0, np.exp(u))
    squares = np.concatenate([x[..., None], np.repeat((x ** (-1.0 / (D - 1)))[..., None], D - 1, axis=-1)], axis=-1)
    return np.sqrt(squares - 0.5 * x[..., None])


def _warm(steps, depth=None, **_):
    gd(np.full((2, depth or 2), 1.1), 0.1, 2, record_every=2, parallel=False)
    gd(np.full((2, depth or 2), 1.1), 0.1, 2, record_every=2, parallel=True)


@simulation(outputs={"final_sharpness": (), "final_loss": (), "status": {"dtype": "int8"}}, warmup=_warm)
def eos_final_state(chunk, steps: int, depth: int | None = None):
    """GD from a start of given GFS sharpness: final sharpness, final loss and a status code.

    Axes (normalised, as in the paper's maps): ``eta_D_over_2`` (eta D / 2) and ``phi0_over_D``
    (phi0 / D), plus ``depth`` unless given as a parameter. status: 0 converged, 1 diverged, 2 still
    running after ``steps`` (this includes every point with 2/eta < D, where no minimum is stable).
    """
    if "depth" not in chunk.points and depth is None:
        raise ValueError("eos_final_state needs a 'depth' axis or a depth parameter")

    def batch(points, seed, depth=depth):
        D = int(depth)
        phi0 = points["phi0_over_D"] * D
        eta = 2.0 * points["eta_D_over_2"] / D
        res = gd(start_with_gfs_sharpness(phi0, D), eta, steps, record_every=steps, observe=("loss", "sharpness"))
        conv = np.sqrt(2 * res.loss[-1]) < CONVERGED_TOL
        return {"final_sharpness": res.sharpness[-1], "final_loss": res.loss[-1],
                "status": np.where(conv, 0, np.where(res.diverged, 1, 2)).astype(np.int8)}

    return chunk.run_batched(batch, by=("depth",) if "depth" in chunk.points else ())
