"""Simulations used by the sweep-engine tests (importable as ``tests.sweep_sims:NAME`` by workers).

``GDSIM_TEST_SWEEP_LOG`` (a file path) makes :func:`random_walk` append ``<pid> <chunk id>`` when it
starts a chunk, and ``GDSIM_TEST_SWEEP_SLEEP`` (seconds) slows every chunk down; both come from the
environment so they do not change the spec's fingerprint.
"""

from __future__ import annotations

import os
import time

import numpy as np

from gdsim.sweep import simulation


@simulation(outputs={"final": (), "path": {"shape": (8,), "dims": ("record",)}, "steps_taken": {"dtype": "int64"}})
def random_walk(chunk, steps: int = 64):
    """A noisy walk x_{t+1} = (1 - eta) x_t + sigma * N(0, 1) per grid point (uses the per-point seeds)."""
    log = os.environ.get("GDSIM_TEST_SWEEP_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {chunk.id}\n")
            f.flush()
    sleep = float(os.environ.get("GDSIM_TEST_SWEEP_SLEEP", "0"))
    if sleep:
        time.sleep(sleep)
    eta, sigma = chunk.points["eta"], chunk.points["sigma"]
    noise = np.stack([g.standard_normal(steps) for g in chunk.generators()])  # (n, steps)
    x = np.ones(chunk.size)
    path = np.empty((chunk.size, 8))
    every = steps // 8
    for t in range(steps):
        x = (1 - eta) * x + sigma * noise[:, t]
        if (t + 1) % every == 0:
            path[:, (t + 1) // every - 1] = x
    return {"final": x, "path": path, "steps_taken": np.full(chunk.size, steps)}


@simulation(outputs={"final": ()})
def wrong_shape(chunk):
    return {"final": np.zeros((chunk.size, 2))}


@simulation(outputs={"final": ()})
def wrong_name(chunk):
    return {"finale": np.zeros(chunk.size)}


def make_sweep(n_eta=6, n_sigma=5, seeds=2, chunks=None, **kw):
    from gdsim.sweep import Sweep

    return Sweep("walk", axes={"eta": np.linspace(0.05, 0.5, n_eta), "sigma": np.geomspace(0.01, 1, n_sigma),
                               "seed": np.arange(seeds)},
                 simulation=random_walk, chunks=chunks or {"eta": 1, "sigma": 1}, seed=7, **kw)
