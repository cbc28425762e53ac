"""Public API of :mod:`gdsim.langevin` (Dyson Brownian motion of weight spectra; the 2x2 SGD model)."""

from __future__ import annotations

import numpy as np

from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.result import Result, Timer
from gdsim._core.validate import integer, real_scalar
from gdsim.langevin import _kernels as k

_A0 = ("Aarts, Lucini, Park, 'Stochastic weight matrix dynamics during learning and Dyson Brownian motion', "
       "arXiv:2407.16427")


def dyson_ou(n: int, sigma: float, *, chains: int = 1000, kappa: float = 0.0, dt: float = 0.01,
             steps: int = 2000, seed=None) -> Result:
    """Sample the beta = 1 Coulomb gas as the stationary law of a GOE matrix Ornstein-Uhlenbeck process.

    dM = -(M - kappa I) dt + sqrt(2 dt) G, G GOE with off-diagonal variance sigma^2/2 and diagonal sigma^2;
    the eigenvalues then perform Dyson Brownian motion (beta = 1) in a quadratic potential. The matrix
    SDE is integrated, which never blows up at near-collisions (the eigenvalue SDE's Euler step does).

    Returns
    -------
    Result
        ``eigenvalues`` (chains, n) ascending; ``spacings`` (chains, n - 1).

    Notes
    -----
    Aarts, Lucini, Park (arXiv:2407.16427): for n = 2 the mean spacing is sqrt(pi) sigma and the spacing
    law is the Wigner surmise.
    """
    n = integer(n, "n", lo=2)
    chains = integer(chains, "chains", lo=1)
    steps = integer(steps, "steps", lo=1)
    sigma = real_scalar(sigma, "sigma", lo=0.0, lo_open=True)
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    kappa = real_scalar(kappa, "kappa")
    M = np.zeros((chains, n, n)) + kappa * np.eye(n)
    with Timer() as timer:
        k.matrix_ou(M, kappa, sigma, dt, steps, keys_from_seed(seed, chains))
    ev = np.linalg.eigvalsh(M)
    return Result(dict(eigenvalues=ev, spacings=np.diff(ev, axis=1), matrices=M),
                  dict(config=dict(n=n, sigma=sigma, chains=chains, kappa=kappa, dt=dt, steps=steps,
                                   reference=_A0), wall_time_s=timer.seconds))


def teacher_student_2x2(lr: float, noise_std: float, batch: int, *, steps: int = 3000, chains: int = 3000,
                        target: float = 2.0, init_std: float = 0.1, seed=None) -> Result:
    """The 2x2 linear teacher-student SGD of Aarts, Lucini, Park (degenerate target W* = target I).

    Per step, |B| fresh inputs x ~ N(0, I_2) and per-sample GOE-shaped noise (off-diagonal std A,
    diagonal sqrt(2) A); W <- W + lr mean_n[(W* - W) x x^T + a_n]. Temperature ~ lr / |B|.

    Returns
    -------
    Result
        ``W`` (chains, 2, 2), ``singular_values`` (chains, 2) descending, ``spacing`` (chains,).

    Notes
    -----
    The stationary width is sigma_d with sigma_d^2 = 2 lr A^2 / (|B| (2 - lr)) (discrete time) and the
    mean spacing sqrt(pi) sigma_d (tested); continuous time gives lr A^2 / |B|.
    """
    lr = real_scalar(lr, "lr", lo=0.0, lo_open=True, hi=2.0, hi_open=True)
    noise_std = real_scalar(noise_std, "noise_std", lo=0.0)
    batch = integer(batch, "batch", lo=1)
    steps = integer(steps, "steps", lo=1)
    chains = integer(chains, "chains", lo=1)
    init_std = real_scalar(init_std, "init_std", lo=0.0)
    ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) else seed
    init_ss, noise_ss = ss.spawn(2)
    W = init_std * np.random.default_rng(init_ss).standard_normal((chains, 2, 2))
    with Timer() as timer:
        k.teacher_student_2x2(W, target * np.eye(2), lr, noise_std, batch, steps, keys_from_seed(noise_ss, chains))
    sv = np.linalg.svd(W, compute_uv=False)
    return Result(dict(W=W, singular_values=sv, spacing=sv[:, 0] - sv[:, 1]),
                  dict(config=dict(lr=lr, noise_std=noise_std, batch=batch, steps=steps, chains=chains,
                                   target=target, init_std=init_std, reference=_A0), wall_time_s=timer.seconds))
