"""Exact linear (mean-square) stability of SGD at a minimum: the second-moment operator and its threshold.

Linearised SGD at a minimum moves the error e by e <- (I - lr H_B) e, with H_B the average of the per-sample
Hessians in the batch. The second moment S = E[e e^T] then evolves by the linear map

    T(S) = E[(I - lr H_B) S (I - lr H_B)] = S - lr (H S + S H) + lr^2 E[H_B S H_B],

and the minimum is mean-square stable when the spectral radius of T on symmetric matrices is <= 1.
"""

from __future__ import annotations

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v

__all__ = ["sgd_stability_radius", "sgd_stability_threshold"]

#: P above which the (P(P+1)/2)^2 operator is too large to build densely (P = 64: 2080^2 doubles, 35 MB)
MAX_PARAMS = 64


def _hessians(hessians):
    H = v.real_array(hessians, "hessians", min_ndim=3)
    if H.ndim != 3 or H.shape[1] != H.shape[2] or H.shape[0] < 1 or H.shape[1] < 1:
        raise ValueError(f"hessians must have shape (n, P, P) with n, P >= 1; got {H.shape}")
    if H.shape[1] > MAX_PARAMS:
        raise ValueError(f"hessians: P = {H.shape[1]} exceeds {MAX_PARAMS} (the exact operator has "
                         f"(P(P+1)/2)^2 entries); project onto the directions of interest first")
    scale = max(1.0, float(np.abs(H).max()))
    if not np.allclose(H, np.swapaxes(H, 1, 2), rtol=0, atol=1e-12 * scale):
        raise ValueError("hessians must be symmetric in their last two axes")
    return 0.5 * (H + np.swapaxes(H, 1, 2))


def _batch(batch, n, replacement):
    replacement = v.flag(replacement, "replace")
    hi = None if replacement else n
    b = v.integer(batch, "batch_size", lo=1, hi=hi if hi is not None else 10**12)
    return b, replacement


def _reduced(H):
    """Per-sample Hessians restricted to the span of their ranges (where the dynamics is not the identity)."""
    G = np.einsum("nij,njk->ik", H, H) / H.shape[0]
    lam, U = np.linalg.eigh(G)
    keep = lam > 1e-13 * max(lam[-1], 1e-300)
    if not keep.any():
        return H[:, :0, :0]
    U = U[:, keep]
    return np.einsum("ai,nab,bj->nij", U, H, U)


class _Operator:
    """T(lr) = I - lr Lin + lr^2 Quad on the symmetric matrices, in an orthonormal basis of them."""

    def __init__(self, H, batch, replacement):
        n, P, _ = H.shape
        if P == 0:  # every direction is neutral (all H_i annihilate it): the radius is exactly 1
            self.lin = self.quad = np.zeros((0, 0))
            self.lam_max = 0.0
            return
        Hm = H.mean(axis=0)
        eye = np.eye(P)
        lin = np.kron(eye, Hm) + np.kron(Hm, eye)
        diag = np.einsum("nij,nkl->ikjl", H, H).reshape(P * P, P * P) / n   # mean_i H_i (x) H_i
        full = np.kron(Hm, Hm)
        if replacement:
            quad = diag / batch + (1 - 1 / batch) * full
        elif n == 1:
            quad = diag
        else:
            # distinct pairs: E[H_i S H_j | i != j] = (n H S H - mean_i H_i S H_i) / (n - 1)
            quad = diag / batch + (batch - 1) / batch * (n * full - diag) / (n - 1)
        # orthonormal basis of the symmetric P x P matrices (vec, row-major)
        cols = []
        for i in range(P):
            for j in range(i, P):
                e = np.zeros((P, P))
                if i == j:
                    e[i, i] = 1.0
                else:
                    e[i, j] = e[j, i] = np.sqrt(0.5)
                cols.append(e.ravel())
        B = np.array(cols).T
        self.lin = B.T @ lin @ B
        self.quad = B.T @ quad @ B
        self.quad = 0.5 * (self.quad + self.quad.T)
        self.lam_max = float(np.linalg.eigvalsh(Hm)[-1]) if P else 0.0

    def radius(self, lr):
        if self.lin.size == 0:
            return 1.0
        T = np.eye(self.lin.shape[0]) - lr * self.lin + lr * lr * self.quad
        e = np.linalg.eigvalsh(0.5 * (T + T.T))
        return float(max(abs(e[0]), abs(e[-1])))


@renamed_keywords(batch="batch_size", replacement="replace")
def sgd_stability_radius(hessians, lr, batch_size, *, replace=True):
    """Spectral radius of SGD's exact second-moment operator at a minimum.

    Parameters
    ----------
    hessians : array_like, shape (n, P, P)
        Per-sample Hessians H_i at the minimum (the loss Hessian is their mean), symmetric. For the square
        loss at an interpolating minimum H_i = g_i g_i^T with g_i the gradient of the model's output.
    lr : float
        Learning rate (> 0).
    batch_size : int
        Batch size B (1 <= B, and B <= n without replacement).
    replace : bool
        Batches drawn i.i.d. with replacement (True) or as B distinct samples (False).

    Returns
    -------
    float
        The spectral radius of S -> E[(I - lr H_B) S (I - lr H_B)] on symmetric matrices, restricted to the
        span of the Hessians' ranges (directions every H_i annihilates are neutral, radius exactly 1, and are
        left out). <= 1 means mean-square stable.

    Notes
    -----
    With replacement E[H_B S H_B] = (1/B) mean_i H_i S H_i + (1 - 1/B) H S H; without replacement the
    off-diagonal pairs are distinct samples, E = (1/B) A + ((B - 1)/B) (n H S H - A)/(n - 1) with
    A = mean_i H_i S H_i (B = n gives GD's H S H). The operator is built densely, (P(P+1)/2)^2 entries, so
    P <= 64. Reference: L. Wu, W. J. Su, "The implicit regularization of dynamical stability in stochastic
    gradient descent", ICML 2023 (arXiv:2305.17490); L. Wu, C. Ma, W. E, NeurIPS 2018.
    """
    H = _hessians(hessians)
    lr = v.real_scalar(lr, "lr", lo=0.0, lo_open=True)
    b, rep = _batch(batch_size, H.shape[0], replace)
    return _Operator(_reduced(H), b, rep).radius(lr)


@renamed_keywords(batch="batch_size", replacement="replace")
def sgd_stability_threshold(hessians, batch_size, replace=True, *, rtol=1e-13):
    """The largest learning rate at which a minimum is mean-square stable for SGD (exact, by bisection).

    Parameters
    ----------
    hessians : array_like, shape (n, P, P)
        Per-sample Hessians at the minimum (see :func:`sgd_stability_radius`).
    batch_size : int
        Batch size B.
    replace : bool
        With (True) or without (False) replacement.
    rtol : float
        Relative width of the final bisection bracket (1e-15 .. 1e-2).

    Returns
    -------
    float
        lr* = sup{lr : radius(lr) <= 1}, bisected on [0, 2 / lambda_max(H)] (mean-square stability implies
        stability of the mean, so lr* <= 2/lambda_max; equality for GD, B = n without replacement). inf when
        every Hessian is zero.

    Notes
    -----
    For B = 1, lr* tr(H) <= 2 (Wu and Su, ICML 2023: SGD's linear stability bounds the trace of the Hessian),
    with equality when the per-sample gradients are orthogonal and of equal norm. The bisection assumes the
    stable set is the interval [0, lr*]; for PSD Hessians radius(lr) is a maximum of convex quadratics in lr
    over PSD directions, so it is.

    Examples
    --------
    >>> import numpy as np, gdsim.dynamics as gdyn
    >>> g = np.eye(3)                                  # orthogonal per-sample gradients
    >>> H = np.einsum("ni,nj->nij", g, g)
    >>> round(gdyn.sgd_stability_threshold(H, batch_size=1) * np.trace(H.mean(0)), 9)
    2.0
    """
    H = _hessians(hessians)
    b, rep = _batch(batch_size, H.shape[0], replace)
    rtol = v.real_scalar(rtol, "rtol", lo=1e-15, hi=1e-2)
    op = _Operator(_reduced(H), b, rep)
    if op.lam_max <= 0.0:
        if op.lin.size == 0:
            return float("inf")
        raise ValueError("hessians: the mean Hessian has no positive eigenvalue (not a minimum)")
    hi = 2.0 / op.lam_max
    if op.radius(hi) <= 1.0 + 1e-12:
        return hi
    lo = 0.0
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if op.radius(mid) <= 1.0:
            lo = mid
        else:
            hi = mid
    return lo
