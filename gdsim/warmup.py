"""Compile the kernels once (before forking sweep workers, or to measure compile time)."""

from __future__ import annotations

import time
import warnings

import numpy as np


def _scalar():
    import gdsim.scalar as sc
    from gdsim.scalar import squared_regression as sr

    w = np.array([[0.5, 1.5], [0.7, 1.1]])
    for parallel in (False, True):
        sc.gd(w, 0.1, 2, parallel=parallel, observe=("loss", "sharpness", "gfs_sharpness"))
    sc.sharpness(w)
    sc.gfs(w)
    X, y, w0 = sr.reference_instance()
    for parallel in (False, True):
        sr.gd(w0, 0.1, 1, X=X, y=y, parallel=parallel, observe=("loss", "sharpness", "gfs_sharpness"))


def _sensing():
    import gdsim.sensing as gs

    prob = gs.make_problem(4, 1, spectrum=[1.0], measurements=8, seed=0)
    gs.gd(prob, 2, [1e-2], 2, lr=0.1, seed=0)


def _games():
    import gdsim.games as gg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gg.particle_gda(gg.payoff_t1(), 1.0, 1.0, 2e-4, n_x=4, h=1e-4, runs=2, seed=0, n_records=2, ni_grid=4)
        gg.mean_field_pde(gg.payoff_t1(), 1.0, 1.0, 1e-3, M=8, n_records=2)


def _particles():
    import gdsim.particles as gp

    gp.particle_gd(np.zeros((2, 3)), "energy_uniform", 2, seed=0)
    gp.particle_gd(np.zeros((1, 3, 2)) + np.arange(3)[:, None], "interaction", 2, seed=0)


def _langevin():
    import gdsim.langevin as gl

    gl.dyson_ou(2, 1.0, runs=2, steps=1, seed=0)
    gl.teacher_student_2x2(0.1, 0.1, 1, steps=1, runs=2, seed=0)
    gl.park_network_sgd(0.1, 1.0, epochs=1, n_samples=4, width=2, seed=0)
    gl.perceptron_sgd(0.1, 2, d=2, runs=1, max_epochs=1, seed=0)
    gl.mlp_sgd(0.1, 0.1, n_samples=2, d=2, width=2, batch_size=1, runs=1, max_epochs=1, seed=0)


def _fractal():
    import gdsim.fractal as gf

    gf.trainability_map([0.1], [0.1], n=8, steps=1)  # the quick tier's width; other widths compile on use


#: Every model family, in the order :func:`warmup` compiles them.
def _dynamics():
    # the shared layer's drivers take the model's kernels as function values: compiled once per data
    # signature and cached on disk; this compiles them for the zoo MLPs' data signature
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    X = np.array([[0.5, -1.0], [1.0, 0.3], [-0.2, 0.8]])
    m = gm.mlp([2, 3, 1], "tanh", data=(X, X[:, 0]))
    gdyn.gd(m, m.init(0, batch=(2,)), 0.1, 2, observe=("loss", "sharpness"))
    gdyn.gfs_sharpness(m, m.init(0), loss_tol=1e-6, grad_tol=1e-6)


def _stability():
    import gdsim.stability as gst

    gst.second_order_map([1.0], [0.1], 2)
    gst.logistic_map((np.ones((1, 1)), np.ones(1)), [1.0], [0.1], 2)
    A, y = np.array([[1.0, 0.2], [-0.5, -1.0]]), np.array([1.0, -1.0])
    gst.logistic_separation_steps((A, y), 1.0, max_steps=2)
    gst.perceptron_steps((A, y), max_steps=2)


def _guess_check():
    import gdsim.guess_check as gc

    gc.guess_and_check(gc.sensing_task(2, 2, seed=0), 2, draws=2)


def _tubal():
    import gdsim.dynamics as gdyn
    import gdsim.tubal as gt

    p = gt.make_problem(3, 2, 1, measurements=5, seed=0)
    m = gt.factorisation(p, 2)
    gdyn.gd(m, m.init(0), 0.01, 2, observe=("w",))


def _adam_sharpness():
    import gdsim.adam_sharpness as gas
    import gdsim.dynamics as gdyn

    m = gas.label_noise_diagonal(gas.sparse_regression(n_samples=3, d=2, sparsity=1, seed=0))
    gdyn.gd(m, m.init(0), 0.01, 2, observe=("w",))
    gdyn.adam(m, m.init(0), 0.01, 2, observe=("w",))


FAMILIES = {"scalar": _scalar, "sensing": _sensing, "games": _games, "particles": _particles,
            "langevin": _langevin, "fractal": _fractal, "dynamics": _dynamics, "stability": _stability,
            "guess_check": _guess_check, "tubal": _tubal, "adam_sharpness": _adam_sharpness}


def warmup(families=None) -> float:
    """Compile the CPU kernels of every model family on tiny inputs (Numba caches them on disk).

    Parameters
    ----------
    families : iterable of str, optional
        A subset of :data:`FAMILIES` (default: all).

    Returns
    -------
    float
        The seconds spent (compiling, or loading the on-disk cache when it is warm).
    """
    names = list(FAMILIES) if families is None else ([families] if isinstance(families, str) else list(families))
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"families must be names from {list(FAMILIES)}; got {unknown}")
    t0 = time.perf_counter()
    for name in names:
        FAMILIES[name]()
    return time.perf_counter() - t0
