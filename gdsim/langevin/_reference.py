"""Exact reference laws for SGD-noise / Dyson-Brownian-motion checks (Park, Lucini, Aarts; Aarts et al.)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from gdsim._core.deprecation import renamed_keywords
from gdsim._core.validate import integer, real_array, real_scalar


def goe2_density(x, x0: float = 0.0, sigma: float = 1.0):
    """One-point density of the eigenvalues of a 2x2 GOE matrix x0 I + sigma G (GOE: off-diagonal variance
    1/2, diagonal variance 1, in units of sigma):

    rho(x) = e^{-u^2/2} / (4 sqrt(pi) sigma) [2 e^{-u^2/2} + sqrt(2 pi) u erf(u / sqrt 2)], u = (x - x0)/sigma.

    (The fit function of Aarts, Lucini, Park, arXiv:2407.16427; normalised.)
    """
    sigma = real_scalar(sigma, "sigma", lo=0.0, lo_open=True)
    x0 = real_scalar(x0, "x0")
    u = (real_array(x, "x") - x0) / sigma
    return np.exp(-u**2 / 2) / (4 * math.sqrt(math.pi) * sigma) * (
        2 * np.exp(-u**2 / 2) + math.sqrt(2 * math.pi) * u * erf(u / math.sqrt(2)))


def wigner_surmise_pdf(s):
    """P(s) = (pi s / 2) exp(-pi s^2 / 4): GOE (beta = 1) spacing law, s in units of the mean spacing."""
    s = real_array(s, "s")
    return np.where(s >= 0, 0.5 * np.pi * s * np.exp(-np.pi * s**2 / 4), 0.0)


def wigner_surmise_cdf(s):
    """1 - exp(-pi s^2 / 4): the cumulative Wigner surmise (GOE spacings in units of the mean spacing)."""
    s = real_array(s, "s")
    return np.where(s >= 0, 1 - np.exp(-np.pi * s**2 / 4), 0.0)


def semicircle_density(x, radius: float = 2.0):
    """Wigner semicircle on [-R, R]: 2 sqrt(R^2 - x^2) / (pi R^2)."""
    x = real_array(x, "x")
    radius = real_scalar(radius, "radius", lo=0.0, lo_open=True)
    return np.where(np.abs(x) < radius, 2 * np.sqrt(np.maximum(radius**2 - x**2, 0)) / (np.pi * radius**2), 0.0)


def p_tanh(phi, sigma2: float):
    """Density of phi = tanh z, z ~ N(0, sigma2): exp(-artanh^2 phi / (2 sigma2)) / ((1 - phi^2) sqrt(2 pi sigma2)).

    Unimodal for sigma2 < 1/2 and bimodal above (Park, Lucini, Aarts, Fig. 1).
    """
    sigma2 = real_scalar(sigma2, "sigma2", lo=0.0, lo_open=True)
    phi = real_array(phi, "phi")
    inside = np.abs(phi) < 1
    a = np.arctanh(np.where(inside, phi, 0.0))
    return np.where(inside, np.exp(-a**2 / (2 * sigma2)) / ((1 - phi**2) * math.sqrt(2 * math.pi * sigma2)), 0.0)


@renamed_keywords(batch="batch_size")
def max_stationary_lr(batch_size: int) -> float:
    """The largest learning rate at which the 2x2 teacher-student SGD has a stationary second moment:
    lr < 2 |B| / (|B| + 3) (the spectral radius of the second-moment map of :func:`teacher_student_moments`
    reaches 1 there; above it the weights' variance grows without bound although their mean converges)."""
    batch_size = _batch(batch_size)
    return 2.0 * batch_size / (batch_size + 3.0)


def _batch(batch):
    return integer(batch, "batch_size", lo=1)


def _second_moment_map(lr: float, batch: int) -> np.ndarray:
    """The 16 x 16 map M -> E[(I - lr C) ...] on E[D_ij D_kl] (D = W - W*, C = mean_n x_n x_n^T).

    Isserlis: E[(d_pj - lr C_pj)(d_ql - lr C_ql)] = (1 - lr)^2 d_pj d_ql + lr^2 (d_pq d_jl + d_pl d_jq) / |B|.
    """
    T = np.zeros((16, 16))
    r = range(2)
    for i in r:
        for j in r:
            for k in r:
                for l in r:
                    for p in r:
                        for q in r:
                            e = (1 - lr) ** 2 * (p == j) * (q == l) + lr**2 / batch * ((p == q) * (j == l)
                                                                                      + (p == l) * (j == q))
                            T[(2 * i + j) * 4 + 2 * k + l, (2 * i + p) * 4 + 2 * k + q] += e
    return T


@renamed_keywords(batch="batch_size")
def teacher_student_moments(lr: float, noise_std: float, batch_size: int) -> np.ndarray:
    """Exact stationary covariance of D = W - W* in the 2x2 teacher-student SGD, shape (4, 4) over
    vec(D) = (D00, D01, D10, D11).

    D' = D (I - lr C) + lr a_bar with C = mean_n x_n x_n^T (x ~ N(0, I_2)) and a_bar the mean of |B|
    symmetric noises (diagonal variance 2 A^2, off-diagonal A^2): a linear system for the second
    moments, M = T M + lr^2 N, which keeps the noise of the random batch covariance C (the continuous-
    time or additive-noise approximation drops it). Solvable for lr < :func:`max_stationary_lr`.
    """
    lr = real_scalar(lr, "lr")
    noise_std = real_scalar(noise_std, "noise_std", lo=0.0)
    batch_size = _batch(batch_size)
    if not 0 < lr < max_stationary_lr(batch_size):
        raise ValueError(f"lr must be in (0, 2|B|/(|B|+3)) = (0, {max_stationary_lr(batch_size):.6g}) for a stationary "
                         f"second moment at batch_size {batch_size}; got {lr}")
    N = np.zeros((4, 4))
    N[0, 0] = N[3, 3] = 2 * noise_std**2 / batch_size
    N[1, 1] = N[2, 2] = N[1, 2] = N[2, 1] = noise_std**2 / batch_size
    M = np.linalg.solve(np.eye(16) - _second_moment_map(lr, batch_size), lr**2 * N.reshape(16))
    return M.reshape(4, 4)


@renamed_keywords(batch="batch_size")
def discrete_spacing_width(lr: float, noise_std: float, batch_size: int) -> float:
    """sigma_d, the exact stationary GOE width of the 2x2 teacher-student SGD: the level spacing s of the
    symmetric part of D = W - W* has E[s^2] = 4 sigma_d^2, with sigma_d^2 = 2 Var(sym(D)_01)
    (= Var(D00) - Cov(D00, D11)), from :func:`teacher_student_moments`.

    The singular values of W = target I + D equal target + the eigenvalues of sym(D) to first order in
    |D| / target, so the spacing of the singular values has mean ~ sqrt(pi) sigma_d (Wigner surmise;
    D is not exactly Gaussian: its noise is multiplicative through the batch covariance).

    Notes
    -----
    Aarts, Lucini, Park (arXiv:2407.16427) give sigma_d^2 ~ lr A^2 / |B| in continuous time; the
    additive-noise discrete form 2 lr A^2 / (|B| (2 - lr)) used before drops the noise of the random
    batch covariance and is 10.9% low at lr = 0.4, |B| = 3 (1.1% at lr = 0.12, |B| = 6). The
    stationary law exists only for lr < 2 |B| / (|B| + 3) (:func:`max_stationary_lr`).
    """
    M = teacher_student_moments(lr, noise_std, batch_size)
    return math.sqrt((M[1, 1] + 2 * M[1, 2] + M[2, 2]) / 2)


def dyson_ou_width(sigma: float, dt: float) -> float:
    """The exact stationary GOE width of :func:`gdsim.langevin.dyson_ou`'s Euler scheme: sigma sqrt(2 / (2 - dt)).

    M' = (1 - dt) M + dt kappa I + sqrt(2 dt) sigma G is a linear Gaussian recursion; its stationary
    diagonal variance v solves v = (1 - dt)^2 v + 2 dt sigma^2. The scheme samples kappa I + sigma_dt GOE
    exactly, with sigma_dt -> sigma as dt -> 0 (0.25% wide at dt = 0.01).
    """
    sigma = real_scalar(sigma, "sigma", lo=0.0, lo_open=True)
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    return sigma * math.sqrt(2.0 / (2.0 - dt))
