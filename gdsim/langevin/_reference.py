"""Exact reference laws for SGD-noise / Dyson-Brownian-motion checks (Park, Lucini, Aarts; Aarts et al.)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf


def goe2_density(x, x0: float = 0.0, sigma: float = 1.0):
    """One-point density of the eigenvalues of a 2x2 GOE matrix x0 I + sigma G (GOE: off-diagonal variance
    1/2, diagonal variance 1, in units of sigma):

    rho(x) = e^{-u^2/2} / (4 sqrt(pi) sigma) [2 e^{-u^2/2} + sqrt(2 pi) u erf(u / sqrt 2)], u = (x - x0)/sigma.

    (The fit function of Aarts, Lucini, Park, arXiv:2407.16427; normalised.)
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    u = (np.asarray(x, float) - x0) / sigma
    return np.exp(-u**2 / 2) / (4 * math.sqrt(math.pi) * sigma) * (
        2 * np.exp(-u**2 / 2) + math.sqrt(2 * math.pi) * u * erf(u / math.sqrt(2)))


def wigner_surmise_pdf(s):
    """P(s) = (pi s / 2) exp(-pi s^2 / 4): GOE (beta = 1) spacing law, s in units of the mean spacing."""
    s = np.asarray(s, float)
    return np.where(s >= 0, 0.5 * np.pi * s * np.exp(-np.pi * s**2 / 4), 0.0)


def wigner_surmise_cdf(s):
    s = np.asarray(s, float)
    return np.where(s >= 0, 1 - np.exp(-np.pi * s**2 / 4), 0.0)


def semicircle_density(x, radius: float = 2.0):
    """Wigner semicircle on [-R, R]: 2 sqrt(R^2 - x^2) / (pi R^2)."""
    x = np.asarray(x, float)
    return np.where(np.abs(x) < radius, 2 * np.sqrt(np.maximum(radius**2 - x**2, 0)) / (np.pi * radius**2), 0.0)


def p_tanh(phi, sigma2: float):
    """Density of phi = tanh z, z ~ N(0, sigma2): exp(-artanh^2 phi / (2 sigma2)) / ((1 - phi^2) sqrt(2 pi sigma2)).

    Unimodal for sigma2 < 1/2 and bimodal above (Park, Lucini, Aarts, Fig. 1).
    """
    if sigma2 <= 0:
        raise ValueError(f"sigma2 must be > 0; got {sigma2}")
    phi = np.asarray(phi, float)
    inside = np.abs(phi) < 1
    a = np.arctanh(np.where(inside, phi, 0.0))
    return np.where(inside, np.exp(-a**2 / (2 * sigma2)) / ((1 - phi**2) * math.sqrt(2 * math.pi * sigma2)), 0.0)


def discrete_spacing_width(lr: float, noise_std: float, batch: int) -> float:
    """sigma_d with sigma_d^2 = 2 lr A^2 / (|B| (2 - lr)): the exact stationary width of the discrete-time
    2x2 teacher-student SGD (continuous time: lr A^2 / |B|); mean spacing = sqrt(pi) sigma_d."""
    if not 0 < lr < 2:
        raise ValueError(f"lr must be in (0, 2) for a stationary law; got {lr}")
    return math.sqrt(2 * lr * noise_std**2 / (batch * (2 - lr)))
