"""Sweep simulations of the shared dynamics layer (usable from a TOML spec as ``gdsim.dynamics.sweeps:NAME``).

The model is built from the sweep's parameters (a zoo MLP on synthetic teacher data drawn from
``data_seed``), so a spec file fully describes it; every grid point's initialisation comes from the
point's own seed.
"""

from __future__ import annotations

import numpy as np

from gdsim.sweep.spec import simulation


def teacher_mlp(sizes, activation="tanh", n=64, data_seed=0, init_scale=1.0):
    """A zoo MLP on synthetic regression data: X ~ N(0, I) (n x d_in), Y = tanh(X T) with T ~ N(0, I / d_in).

    Parameters
    ----------
    sizes : sequence of int
        ``[d_in, ..., d_out]``.
    activation : str
        As in :func:`gdsim.models.mlp`.
    n : int
        Number of samples (>= 1).
    data_seed : int
        Seed of the data (>= 0).
    init_scale : float
        Passed to :func:`gdsim.models.mlp`.

    Returns
    -------
    gdsim.models.Model
    """
    import gdsim.models as gm
    from gdsim._core import validate as v

    sizes = [v.integer(s, "sizes", lo=1, hi=10**5) for s in sizes]
    n = v.integer(n, "n", lo=1, hi=10**7)
    rng = np.random.default_rng(np.random.SeedSequence(v.integer(data_seed, "data_seed", lo=0)))
    X = rng.standard_normal((n, sizes[0]))
    T = rng.standard_normal((sizes[0], sizes[-1])) / np.sqrt(sizes[0])
    return gm.mlp(sizes, activation, "mse", data=(X, np.tanh(X @ T)), init_scale=init_scale)


def _warm(steps, sizes=(4, 8, 1), activation="tanh", n=64, data_seed=0, **_):
    import gdsim.dynamics as gdyn

    m = teacher_mlp(sizes, activation, n, data_seed)
    gdyn.gd(m, m.init(0, batch=(2,)), 0.1, 2, record_every=1, observe=("loss", "sharpness"))


@simulation(outputs={"final_loss": (), "final_sharpness": (), "eos_ratio": (), "n_loss_increases": {"dtype": "int64"},
                     "diverged": {"dtype": "int8"}}, warmup=_warm)
def mlp_gd_final_state(chunk, steps: int, sizes=(4, 8, 1), activation: str = "tanh", n: int = 64, data_seed: int = 0,
                       record_every: int | None = None):
    """Full-batch GD of a teacher MLP (:func:`teacher_mlp`) at each grid point's ``lr``: the end state.

    Axes: ``lr`` (required) and optionally ``init_scale``. Outputs: final loss and sharpness, eos_ratio
    (mean lr S / 2 over the last half of the records), the number of loss increases, and the divergence flag.
    """
    import gdsim.dynamics as gdyn

    if "lr" not in chunk.points:
        raise ValueError("mlp_gd_final_state needs an 'lr' axis")
    every = max(1, int(steps) // 20) if record_every is None else int(record_every)

    def batch(points, seed, init_scale=1.0):
        m = teacher_mlp(sizes, activation, n, data_seed, init_scale)
        res = gdyn.gd(m, m.init(seed, batch=(len(seed),)), points["lr"], int(steps), record_every=every,
                      observe=("loss", "sharpness"), seed=seed)
        return {"final_loss": res.loss[-1], "final_sharpness": res.sharpness[-1], "eos_ratio": res.eos_ratio,
                "n_loss_increases": res.n_loss_increases, "diverged": res.diverged.astype(np.int8)}

    return chunk.run_batched(batch, by=("init_scale",) if "init_scale" in chunk.points else ())
