"""The squared regression model f(x; w) = <w * w, x> of Kreisler et al. (ICML 2023), same verbs as
:mod:`gdsim.scalar`.

Data X (N, d) and targets y (N,); loss L(w) = (1/2N) ||X (w*w) - y||^2. Gradient flow on w*w is mirror
descent with the entropy potential, so the gradient-flow solution is exact through a convex dual:
beta_inf = w0^2 exp(X^T nu) with X beta_inf = y.

Fidelity: the paper's abstract names a "squared regression model" without its definition here; this is
the spec's reconstruction (``shared/specs/gfs_sharpness.md`` section 5.1, variant A) [GAP].
"""

from __future__ import annotations

import warnings

import numpy as np

from gdsim._core.validate import NonFiniteResultWarning
from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v
from gdsim._core.records import meta as records_meta
from gdsim.scalar import _sqreg_kernels as k
from gdsim._core.result import labelled_batch_dims
from gdsim.scalar._api import _run_recorded, _soa, _use_parallel, check_gd_budget, eta_meta, validate_observe

__all__ = ["gd", "sharpness", "gfs", "gfs_sharpness", "reference_instance"]


def _data(X, y):
    X = v.real_array(X, "X", min_ndim=2)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a 2-D array (N, d) with N, d >= 1; got shape {X.shape}")
    y = v.real_array(y, "y", min_ndim=1)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({X.shape[0]},) to match X; got {y.shape}")
    return X, y


def _weights(w, X, name):
    w = v.real_array(w, name, min_ndim=1)
    if w.shape[-1] != X.shape[1]:
        raise ValueError(f"{name} must have shape (*batch, d) with d = X.shape[1] = {X.shape[1]}; got {w.shape}")
    return w


def reference_instance():
    """The spec's deterministic instance (no RNG): N = 4, d = 12, X[n, k] = cos(0.7 n k) + 0.3 sin(1.3 k)
    (n = 1..4, k = 1..12), beta* = (1, 0.5, 0.8, 0, ..., 0), y = X beta*, w0 = 0.8 * ones(12).

    Returns
    -------
    X, y, w0 : ndarray
    """
    n = np.arange(1, 5)[:, None]
    kk = np.arange(1, 13)[None, :]
    X = np.cos(0.7 * n * kk) + 0.3 * np.sin(1.3 * kk)
    beta = np.zeros(12)
    beta[:3] = (1.0, 0.5, 0.8)
    return X, X @ beta, np.full(12, 0.8)


@renamed_keywords(eta="lr")
def gd(w0, lr, steps, *, X, y, record_every=1, blowup=1e6, parallel=None, progress=False, observe=("loss",)):
    """Full-batch GD on the squared regression model for a batch of initialisations.

    Parameters
    ----------
    w0 : array_like, shape (*batch, d)
    lr : float or array_like
        Step sizes > 0, broadcast against ``batch``.
    steps : int
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
    record_every, blowup, parallel, progress, observe
        As in :func:`gdsim.scalar.gd`.

    Returns
    -------
    Result
        ``t``, ``w``, ``loss``, ``sharpness``, ``gfs_sharpness``, ``diverged`` as in :func:`gdsim.scalar.gd`.

    Notes
    -----
    Kreisler et al., ICML 2023 (arXiv:2305.13064): GFS sharpness decreases monotonically along GD for
    this model too (an empirical claim of the paper; checked in the tests on the spec's instance).
    """
    X, y = _data(X, y)
    w0 = _weights(w0, X, "w0")
    batch = w0.shape[:-1]
    lr_given = v.positive_array(lr, "lr")
    lr = v.broadcast_to_batch(lr_given, batch, "lr", "w0")
    steps = v.integer(steps, "steps", lo=0)
    blowup = v.real_scalar(blowup, "blowup", lo=0.0, lo_open=True)
    observe = validate_observe(observe)
    progress = v.flag(progress, "progress")
    check_gd_budget(w0.shape, steps, record_every)
    W = _soa(w0)
    eta_flat = lr.reshape(-1).copy()
    use_par = _use_parallel(parallel, W.shape[1])
    kernel = k.gd_advance_parallel if use_par else k.gd_advance_serial
    obs = k.observables_parallel if use_par else k.observables_serial

    def advance(lo, hi):
        kernel(W, eta_flat, X, y, int(hi - lo), blowup)

    return _run_recorded(
        W, batch, steps, record_every, advance,
        lambda Wh, want, loss, sharp, phi: obs(Wh, X, y, *want, loss, sharp, phi),
        progress,
        config=dict(model="squared_regression", N=X.shape[0], d=X.shape[1], batch=list(batch), steps=steps,
                    record_every=records_meta(record_every), blowup=blowup, lr=eta_meta(lr),
                    backend="cpu-parallel" if use_par else "cpu-serial"),
        desc="squared regression GD",
        observe=observe,
        labels=labelled_batch_dims(batch, {"lr": lr_given}),
    )


def _per_trajectory(w, X, y, fn):
    X, y = _data(X, y)
    w = _weights(w, X, "w")
    flat = w.reshape(-1, w.shape[-1])
    return np.array([fn(row, X, y) for row in flat]).reshape(w.shape[:-1])


def sharpness(w, *, X, y):
    """Largest eigenvalue of the full Hessian of L at ``w`` (shape (*batch, d) -> batch)."""
    return _per_trajectory(w, X, y, k.sharpness_one)


def gfs_sharpness(w, *, X, y):
    """Sharpness at the gradient-flow solution: (4/N) lambda_max(X diag(beta_inf) X^T); NaN when no
    interpolating solution is reachable (with a warning)."""
    out = _per_trajectory(w, X, y, k.gfs_sharpness_one)
    _warn_unreachable(np.isnan(out))
    return out


def _warn_unreachable(nan_mask):
    """NaN where no interpolating solution is reachable from the start: an answer, said out loud."""
    n_bad = int(np.count_nonzero(nan_mask))
    if n_bad:
        warnings.warn(f"{n_bad} of {np.size(nan_mask)} start(s) reach no interpolating solution (fewer nonzero "
                      "weights than data points, or y outside the cone the flow can reach): NaN there",
                      NonFiniteResultWarning, stacklevel=3)


def gfs(w, *, X, y):
    """The gradient-flow solution w_inf = sign(w) sqrt(beta_inf) (shape (*batch, d))."""
    X, y = _data(X, y)
    w = _weights(w, X, "w")
    W = _soa(w)
    out = np.empty_like(W)
    k.batch_gfs(W, X, y, out)
    _warn_unreachable(np.isnan(out).any(axis=0))
    return np.ascontiguousarray(out.T).reshape(w.shape)
