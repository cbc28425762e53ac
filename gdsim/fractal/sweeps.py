"""Sweep simulation of trainability-map tiles (``gdsim.fractal.sweeps:map_tile`` in a TOML spec).

Reference: Sohl-Dickstein, "The boundary of neural network trainability is fractal", arXiv:2402.06184.
"""

from __future__ import annotations

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim.fractal._api import PHASE_SPACES, Problem, _check_size, _score_pairs, problem as draw_problem
from gdsim.sweep.spec import simulation


@renamed_keywords(n_data="n_samples")
@simulation(outputs={"score": ()})
def map_tile(chunk, phase_space="lr_vs_lr", n=8, activation="tanh", steps=100, seed=0, n_samples=None,
             batch_size=None, problem=None, gpu=False):
    """Scores of a chunk of cells with axes ``log10_axis0`` and ``log10_axis1`` (log10 of the map's axes).

    Every cell starts from the same shared problem (drawn from ``seed``, or given as ``problem``, the
    dict of :meth:`gdsim.fractal.Problem.to_dict`), so a cell's score does not depend on the tiling, the
    executor or the order of the tiles. The chunk's per-point seeds are unused. ``gpu=True`` scores the
    tile with the CUDA kernel.
    """
    a0 = 10.0 ** np.asarray(chunk.points["log10_axis0"], dtype=np.float64)
    a1 = 10.0 ** np.asarray(chunk.points["log10_axis1"], dtype=np.float64)
    if phase_space not in PHASE_SPACES:
        raise ValueError(f"phase_space must be one of {PHASE_SPACES}; got {phase_space!r}")
    if problem is None:
        prob = draw_problem(n, activation, steps, seed, n_samples=n_samples, batch_size=batch_size)
    else:
        prob = Problem(**problem)
    _check_size(a0.size, prob, steps)
    return {"score": _score_pairs(prob, a0, a1, steps, offset_mode=phase_space == "offset_vs_lr", parallel=True,
                                  progress=False, gpu=bool(gpu))}
