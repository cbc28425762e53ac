"""Closed forms under the prior: the second moment of the end-to-end matrix and the expected losses."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from gdsim._core import validate as v

__all__ = ["PriorMean", "prior_second_moment", "prior_mean", "ACTIVATIONS", "PRIORS"]

ACTIVATIONS = ("linear", "tanh", "leaky_relu")
PRIORS = ("gaussian", "uniform")
#: Gauss-Hermite nodes for E tanh(sigma xi)^2, xi ~ N(0, 1): tanh is analytic in |Im x| < pi/2, so the rule
#: converges geometrically; 160 nodes reach the float64 rounding floor for sigma <= 1 (checked against 320)
_GH_NODES = 160


class PriorMean(NamedTuple):
    """Expected losses of one prior draw: ``gen`` = E[generalisation loss], ``train`` = E[training loss]."""

    gen: float
    train: float


def _choice(x, name, allowed):
    if not isinstance(x, str):
        raise TypeError(f"{name} must be one of {allowed}; got {type(x).__name__}")
    if x not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {x!r}")
    return x


def _hidden_moments(activation, prior, width, slope):
    """(E act(x), E act(x)^2) for one first-layer entry x = xi / sqrt(width), xi ~ N(0, 1) or U(-1, 1)."""
    a = 1.0 / math.sqrt(width)
    if activation == "linear":
        return 0.0, a * a * (1.0 if prior == "gaussian" else 1.0 / 3.0)
    if activation == "tanh":
        if prior == "uniform":  # (1 / 2a) int_{-a}^{a} tanh^2 = 1 - tanh(a) / a
            return 0.0, 1.0 - math.tanh(a) / a
        x, wts = np.polynomial.hermite_e.hermegauss(_GH_NODES)
        return 0.0, float(np.sum(wts * np.tanh(a * x) ** 2) / math.sqrt(2.0 * math.pi))
    if prior == "gaussian":  # leaky ReLU on N(0, a^2)
        return (1.0 - slope) * a / math.sqrt(2.0 * math.pi), (1.0 + slope * slope) * a * a / 2.0
    return (1.0 - slope) * a / 4.0, (1.0 + slope * slope) * a * a / 6.0  # on U(-a, a)


def prior_second_moment(shape, width, *, depth=2, activation="linear", prior="gaussian", normalise=False,
                        negative_slope=0.2, softening=0.0):
    """G with E[Y_ij Y_kl] = G_ik delta_jl for the end-to-end matrix Y of one prior draw (and E[Y] = 0).

    Parameters
    ----------
    shape : (int, int)
        (n_rows, n_cols) of Y.
    width : int
        Hidden width h (>= 1).
    depth : int
        Number of layers d (>= 1).
    activation : {"linear", "tanh", "leaky_relu"}
    prior : {"gaussian", "uniform"}
        Entries xi ~ N(0, 1) or U(-1, 1), scaled by 1/sqrt(h) (hidden layers) or 1/sqrt(n_cols) (the last).
    normalise : bool
        Y / ||Y||_F (the depth experiment).
    negative_slope : float
        Leaky ReLU slope alpha.
    softening : float
        Y / (||Y||_F + softening) when normalising; the closed form needs 0.

    Returns
    -------
    ndarray, shape (n_rows, n_rows)

    Raises
    ------
    ValueError
        For the cases without a closed form: a non-linear activation at depth >= 3 without normalisation,
        leaky ReLU with normalisation, or normalisation with a softening > 0.

    Notes
    -----
    Y = act(... act(I W_1) W_2 ...) W_d with W_l entries s xi / sqrt(h) for l < d and s xi / sqrt(n_cols) for
    l = d (s^2 = 1 Gaussian, 1/3 uniform). E[Y] = 0 because W_d is centred and independent of the rest, and
    E[Y_ij Y_kl] = delta_jl (s^2 / n_cols) E[(H H^T)_ik] with H the last hidden layer. [INFERRED]

    * Linear, any depth: E[Z_ia Z_kb] = delta_ik delta_ab c_l with c_{l+1} = c_l s^2 (each hidden layer: h
      terms of variance s^2 / h), c_1 = s^2 / h, so G = (s^(2d) / n_cols) I. With s = 1 every entry has variance
      1/n_cols and E[gen] = 1/n_cols + mean_j <B_j, W*>^2, the spec's CI claim 1 (beyond.md section 6).
    * Depth 2, any activation: H = act(W_1), so E[(H H^T)_ik] = h (delta_ik mu_2 + (1 - delta_ik) mu_1^2) with
      mu_k = E act(x)^k for one entry x: tanh: mu_1 = 0, mu_2 by Gauss-Hermite quadrature (Gaussian prior) or
      1 - tanh(a)/a, a = h^(-1/2) (uniform); leaky ReLU: mu_1 = (1 - alpha) a / sqrt(2 pi), mu_2 = (1 + alpha^2) a^2 / 2
      (Gaussian), mu_1 = (1 - alpha) a / 4, mu_2 = (1 + alpha^2) a^2 / 6 (uniform).
    * Normalised, odd activation (linear, tanh), any depth and prior with i.i.d. symmetric entries: the law of Y
      is invariant under Y -> P Y Q for signed permutations P, Q (orthogonal ones for the Gaussian prior and a
      linear network), a group acting irreducibly on R^(n_rows) (x) R^(n_cols); by Schur's lemma
      E[vec Y vec Y^T / ||Y||^2] is a multiple of the identity, of trace 1: G = I / (n_rows n_cols).

    Paper: Alexander, Slutzky, Ran-Milo, Cohen, "Do neural networks need gradient descent to generalize?",
    NeurIPS 2025 (arXiv:2506.03931).
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise TypeError(f"shape must be a pair (n_rows, n_cols); got {shape!r}")
    n_rows = v.integer(shape[0], "shape[0]", lo=1)
    n_cols = v.integer(shape[1], "shape[1]", lo=1)
    width = v.integer(width, "width", lo=1, hi=10**6)
    depth = v.integer(depth, "depth", lo=1, hi=64)
    activation = _choice(activation, "activation", ACTIVATIONS)
    prior = _choice(prior, "prior", PRIORS)
    normalise = v.flag(normalise, "normalise")
    slope = v.real_scalar(negative_slope, "negative_slope")
    softening = v.real_scalar(softening, "softening", lo=0.0)
    s2 = 1.0 if prior == "gaussian" else 1.0 / 3.0
    if normalise:
        if softening != 0.0:
            raise ValueError("the closed form with normalise=True needs softening=0 (Y / (||Y|| + s) has no "
                             "closed-form second moment); use the Monte Carlo prior_gen of guess_and_check")
        if activation == "leaky_relu" and depth > 1:
            raise ValueError("no closed form for a normalised leaky-ReLU network (not odd, so not sign-symmetric); "
                             "use the Monte Carlo prior_gen of guess_and_check")
        return np.eye(n_rows) / (n_rows * n_cols)
    if depth == 1 or activation == "linear":
        return np.eye(n_rows) * s2**depth / n_cols
    if depth > 2:
        raise ValueError(f"no closed form for a {activation} network of depth {depth} > 2 without normalisation "
                         "(the hidden Gram matrix is random); use the Monte Carlo prior_gen of guess_and_check")
    mu1, mu2 = _hidden_moments(activation, prior, width, slope)
    K = width * ((mu2 - mu1 * mu1) * np.eye(n_rows) + mu1 * mu1 * np.ones((n_rows, n_rows)))
    return K * s2 / n_cols


def prior_mean(task, width, *, depth=2, activation="linear", prior="gaussian", normalise=False, negative_slope=0.2,
               softening=0.0) -> PriorMean:
    """Exact expected generalisation and training losses of one prior draw (what G&C gives with no threshold).

    Parameters
    ----------
    task : SensingTask
        From :func:`sensing_task`.
    width, depth, activation, prior, normalise, negative_slope, softening
        As in :func:`prior_second_moment` (and :func:`guess_and_check`).

    Returns
    -------
    PriorMean
        ``gen`` = E mean_j (<B_j, Y> - b_j)^2, ``train`` = E mean_i (<A_i, Y> - y_i)^2.

    Raises
    ------
    ValueError
        Where :func:`prior_second_moment` has no closed form.

    Notes
    -----
    With E[Y] = 0 and E[Y_ij Y_kl] = G_ik delta_jl (:func:`prior_second_moment`),
    E (<M, Y> - c)^2 = tr(M^T G M) + c^2, averaged over the test matrices B_j (targets b_j = <B_j, W*>) or the
    measurements A_i (targets y_i). For the spec's setting (linear, Gaussian, no normalisation) this is
    E[gen] = 1/n_cols + mean_j <B_j, W*>^2; normalised, 1/(n_rows n_cols) + mean_j <B_j, W*>^2.

    Examples
    --------
    >>> import gdsim.guess_check as gc
    >>> t = gc.sensing_task(3, 3, seed=0)
    >>> abs(gc.prior_mean(t, 3).gen - (1 / 3 + float((t.b ** 2).mean()))) < 1e-15
    True
    """
    from gdsim.guess_check._tasks import SensingTask

    if not isinstance(task, SensingTask):
        raise TypeError(f"task must be a SensingTask (gdsim.guess_check.sensing_task); got {type(task).__name__}")
    G = prior_second_moment(task.shape, width, depth=depth, activation=activation, prior=prior, normalise=normalise,
                            negative_slope=negative_slope, softening=softening)

    def expect(M, c):
        quad = np.einsum("qij,ik,qkj->q", M, G, M)
        return float(np.mean(quad + c * c)) if M.shape[0] else float("nan")

    return PriorMean(gen=expect(task.B, task.b), train=expect(task.A, task.y))
