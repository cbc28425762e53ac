"""Exact float64 curvature of any model: top eigenpairs by Lanczos on exact HVPs, gradient-flow solutions (GFS)."""

from __future__ import annotations

import contextlib

import numpy as np

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.first_class import kernel_errors
from gdsim._core.jit import honours_parallel
from gdsim._core.memory import keep_freed_memory
from gdsim.dynamics import _kernels as kern
from gdsim.models._model import Model


@contextlib.contextmanager
def _in_driver(m):
    """Around every driver call on model ``m``. Each run calls BLAS from its own Numba thread: BLAS must not
    start threads of its own (4x slower when it does, measured on the MLP benchmark, and its reduction order
    would depend on the thread count). Also keeps freed memory for reuse (see :mod:`gdsim._core.memory`),
    and raises what the model's kernels raised (:func:`gdsim._core.first_class.kernel_errors`)."""
    keep_freed_memory()
    try:
        from threadpoolctl import threadpool_limits

        one_blas_thread = threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        one_blas_thread = contextlib.nullcontext()
    with one_blas_thread, kernel_errors(m.name):
        yield


def _check_model(m):
    if not isinstance(m, Model):
        raise TypeError(f"m must be a gdsim.models.Model (from gdsim.models.custom, mlp, ...); got {type(m).__name__}")
    return m


def _default_max_iter(k_eig, P):
    """Lanczos iterations at most for ``k_eig`` eigenvalues of a P x P Hessian (exact at P)."""
    return min(P, max(60, 4 * k_eig + 40))


def _lanczos_args(k_eig, tol, max_iter, P):
    k_eig = v.integer(k_eig, "k", lo=1, hi=P)
    tol = v.real_scalar(tol, "tol", lo=0.0, hi=1e-1, lo_open=True)
    if max_iter is None:
        max_iter = _default_max_iter(k_eig, P)
    max_iter = v.integer(max_iter, "max_iter", lo=k_eig, hi=10**6)
    return k_eig, tol, min(max_iter, P)


def _batched(m, w, name="w"):
    w = m.weights(w, name)
    batch = w.shape[:-1]
    return w, batch, np.ascontiguousarray(w.reshape(-1, m.n_params))


# ------------------------------------------------------------------------------------------------ curvature
@honours_parallel
def top_eigenvalues(m, w, k=1, *, tol=1e-10, max_iter=None, seed=0, parallel=None):
    """The ``k`` largest Hessian eigenvalues at ``w``, by Lanczos on exact Hessian-vector products in float64.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    k : int
        How many (1 <= k <= P); ``k = 1`` is the sharpness.
    tol : float
        Stop when every wanted Ritz pair's residual is at most ``tol`` times the largest |Ritz value|
        (the eigenvalue error is at most that, typically its square over the spectral gap). The default
        1e-10 gives eigenvalues within 1e-10 |lambda|_max (tested against dense ``eigvalsh`` on MLPs of every
        activation and on zoo models).
    max_iter : int, optional
        Lanczos iterations at most (default min(P, max(60, 4k + 40))); capped at P, where Lanczos is exact.
    seed : int, SeedSequence or None
        Start vectors (one deterministic stream per run).
    parallel : bool, optional
        None/True: all Numba threads; False: one (same numbers).

    Returns
    -------
    ndarray, shape (*batch, k)
        Descending, float64 (algebraically largest: negative curvature comes last). NaN where the model's
        Hessian-vector products are not finite (its loss or gradient NaN or inf at that w), with a
        :class:`gdsim.models.NonFiniteResultWarning` naming the points: never a silent NaN.

    Notes
    -----
    Full reorthogonalisation (twice), so no ghost eigenvalues; exact when the Krylov space closes (small P).
    The stopping rule is Parlett's residual bound beta_n |s_n,i| (The Symmetric Eigenvalue Problem, 1998).
    """
    m = _check_model(m)
    w, batch, W = _batched(m, w)
    k_eig, tol, max_iter = _lanczos_args(k, tol, max_iter, m.n_params)
    R = W.shape[0]
    v.check_budget(f"batch = {batch} at n_params = {m.n_params}", bytes_needed=8.0 * (R + 1) * m.n_params * 3
                   + 8.0 * (max_iter + 1) * m.n_params * 2)
    keys = keys_from_seed(seed, R)
    V = np.empty_like(W)
    kern.fresh_vectors(keys, 1, V)
    evals = np.empty((R, k_eig))
    iters = np.zeros(R, dtype=np.int64)
    with _in_driver(m):
        h = kern.handles(m)
        kern.top_eigenvalues_batch(h.prep, h.hvpc, W, m.data, k_eig, tol, max_iter, keys, V, evals, iters)
    v.flag_nonfinite(evals, batch, "top_eigenvalues", m, W)
    return evals.reshape((*batch, k_eig))


@honours_parallel
def top_eigenpairs(m, w, k=1, *, tol=1e-10, max_iter=None, seed=0, parallel=None):
    """The ``k`` largest Hessian eigenvalues at ``w`` and their eigenvectors (Lanczos Ritz pairs, float64).

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    k : int
        How many pairs (1 <= k <= P).
    tol : float
        Stop when every wanted Ritz pair's residual ||H u - theta u|| is at most ``tol`` times the largest |Ritz
        value| (stricter than :func:`top_eigenvalues`, which also accepts on the value's error bound r^2 / gap).
    max_iter : int, optional
        Lanczos iterations at most (default min(P, max(60, 4k + 40))); capped at P.
    seed, parallel
        As in :func:`top_eigenvalues`.

    Returns
    -------
    values : ndarray, shape (*batch, k)
        Descending.
    vectors : ndarray, shape (*batch, k, P)
        Orthonormal rows; ``vectors[..., i, :]`` belongs to ``values[..., i]`` (its sign is arbitrary).

    Notes
    -----
    A Ritz vector whose residual is r lies within an angle r / gap of the true eigenvector, gap being its value's
    distance to the rest of the spectrum (Davis-Kahan; Parlett, The Symmetric Eigenvalue Problem, 1998, 11.7).
    Well-separated outliers (Gur-Ari, Roberts & Dyer 2018: one per class above the bulk) are therefore
    accurate to about tol |lambda_1| / gap; the values to its square. When ``max_iter`` stops Lanczos first,
    the best pairs found are returned. Vectors inside a cluster of nearly equal eigenvalues are determined only as a
    basis of the cluster's span. The ``observe="gradient_overlap:K"`` observable of :func:`gd`, :func:`sgd`, ...
    projects on the same Ritz vectors, computed under :func:`top_eigenvalues`' (looser) stopping rule: its error is
    at most about 2 sqrt(tol |lambda_1| / gap).
    """
    m = _check_model(m)
    w, batch, W = _batched(m, w)
    k_eig, tol, max_iter = _lanczos_args(k, tol, max_iter, m.n_params)
    R, P = W.shape
    v.check_budget(f"batch = {batch}, k = {k_eig} at n_params = {P}",
                   bytes_needed=8.0 * R * P * (3 + k_eig) + 8.0 * (max_iter + 1) * P * 2)
    keys = keys_from_seed(seed, R)
    V = np.empty_like(W)
    kern.fresh_vectors(keys, 1, V)
    evals = np.empty((R, k_eig))
    evecs = np.empty((R, k_eig, P))
    iters = np.zeros(R, dtype=np.int64)
    with _in_driver(m):
        h = kern.handles(m)
        kern.top_eigenpairs_batch(h.prep, h.hvpc, W, m.data, k_eig, tol, max_iter, keys, V, evals, evecs,
                                  iters)
    evecs[v.flag_nonfinite(evals, batch, "top_eigenpairs", m, W)] = np.nan
    return evals.reshape((*batch, k_eig)), evecs.reshape((*batch, k_eig, P))


def sharpness(m, w, *, tol=1e-10, seed=0, parallel=None):
    """The largest Hessian eigenvalue at ``w`` (*batch,): ``top_eigenvalues(m, w, 1)[..., 0]``.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    tol, seed, parallel
        As in :func:`top_eigenvalues` (default ``tol = 1e-10``: within 1e-10 |lambda|_max of the exact value,
        tested against dense ``eigvalsh``).

    Returns
    -------
    ndarray or float
    """
    out = top_eigenvalues(m, w, 1, tol=tol, seed=seed, parallel=parallel)[..., 0]
    return float(out) if out.ndim == 0 else out


def _flow_args(rtol, atol, loss_tol, grad_tol, max_steps):
    rtol = v.real_scalar(rtol, "rtol", lo=1e-15, hi=1e-1)
    atol = v.real_scalar(atol, "atol", lo=0.0, hi=1.0, lo_open=True)
    loss_tol = -np.inf if loss_tol is None else v.real_scalar(loss_tol, "loss_tol")
    grad_tol = v.real_scalar(grad_tol, "grad_tol", lo=0.0)
    max_steps = v.integer(max_steps, "max_steps", lo=1, hi=10**9)
    return rtol, atol, loss_tol, grad_tol, max_steps


#: per-run status of :func:`gfs` / :func:`gfs_sharpness` (``return_status=True``), by code
GFS_STATUS = {1: "converged", 3: "max_steps", 4: "diverged", 5: "stalled"}
_GFS_WHY = {3: "ran out of max_steps before converging (raise max_steps; a minimum approached slower than "
               "exponentially, e.g. cross-entropy on separable data, never converges)",
            4: "diverged (the loss or the parameters stopped being finite)",
            5: "stalled: the loss and the gradient norm stopped decreasing at their float64 rounding floor before "
               "the predicted distance to the limit fell below xtol |w| (their values are returned, accurate to what "
               "float64 allows at the run's conditioning)"}


def _gfs(m, w, k_eig, loss_tol, grad_tol, xtol, rtol, atol, max_steps, tol, seed, owner):
    m = _check_model(m)
    w, batch, W = _batched(m, w)
    rtol, atol, loss_tol, grad_tol, max_steps = _flow_args(rtol, atol, loss_tol, grad_tol, max_steps)
    xtol = v.real_scalar(xtol, "xtol", lo=0.0, hi=1e-1)
    k_eig, tol, max_iter = _lanczos_args(k_eig, tol, None, m.n_params)
    R = W.shape[0]
    v.check_budget(f"batch = {batch} at n_params = {m.n_params}", bytes_needed=8.0 * R * m.n_params * 4,
                   updates=float(R) * max_steps * m.n_params)
    keys = keys_from_seed(seed, R)
    out = np.empty((R, k_eig))
    w_end = np.empty_like(W)
    status = np.zeros(R, dtype=np.int64)
    t_end = np.empty(R)
    remaining = np.empty(R)
    with _in_driver(m):
        h = kern.handles(m)
        kern.gfs_batch(h.loss_grad, h.prep, h.hvpc, m.data, W, rtol, atol, loss_tol, grad_tol, xtol, max_steps, k_eig,
                       tol, max_iter, keys, out, w_end, status, t_end, remaining)
    bad = status != 1
    if bad.any():
        import warnings

        parts = [f"{int(np.sum(status == c))} {_GFS_WHY[c]}" for c in (3, 4, 5) if np.any(status == c)]
        warnings.warn(f"{owner}: {int(bad.sum())} of {R} runs did not converge: " + "; ".join(parts)
                      + ("" if not np.any(np.isin(status, (3, 4))) else "; those that ran out or diverged are NaN")
                      + ". Pass return_status=True for the per-run status.", RuntimeWarning, stacklevel=3)
    return batch, out, w_end, status, t_end


_STATUS_DOC = """status : ndarray of int, shape (*batch,)
        Only with ``return_status=True``: 1 converged, 3 ran out of ``max_steps`` (NaN), 4 diverged (NaN),
        5 stalled at the float64 rounding floor (value returned, accuracy limited by that floor); names in
        :data:`GFS_STATUS`. Any run with status other than 1 also raises one RuntimeWarning naming how many and why."""


@honours_parallel
def gfs_sharpness(m, w, *, xtol=1e-10, loss_tol=None, grad_tol=0.0, rtol=1e-10, atol=1e-14, max_steps=200_000,
                  tol=1e-10, seed=0, parallel=None, return_status=False):
    """The GFS sharpness: the sharpness where gradient flow started at ``w`` ends.

    With the defaults the result is accurate to about 1e-9 relative or better (the tests require 1e-8 on the
    scalar network, D = 2..6, against its exact GFS; measured at most 2e-10 there), unless a warning says
    otherwise for some runs (see ``return_status``).

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    xtol : float
        The flow stops when its predicted remaining distance to the limit is at most ``xtol |w|`` (>= 0; 0 turns
        the test off; see Notes).
    loss_tol : float, optional
        ... or when the loss is at most this (default None: no loss test). A loss test alone is not
        scale-free: the old default 1e-12 left |w - w_inf| ~ 1e-6 and the sharpness 3e-6 off on the scalar network.
    grad_tol : float
        ... or when the gradient norm is at most this (>= 0; 0 stops only at an exact stationary point).
    rtol, atol : float
        Error control of the Dormand-Prince 5(4) integrator (per step, RMS norm).
    max_steps : int
        Integrator steps at most per run; a run that does not converge in as many gives NaN (status 3).
    tol : float
        Lanczos tolerance at the end point (see :func:`top_eigenvalues`: relative error at most ``tol``).
    seed : int, SeedSequence or None
        Lanczos start vectors.
    parallel : bool, optional
    return_status : bool
        Also return the per-run status.

    Returns
    -------
    phi : ndarray or float, shape (*batch,)
        NaN where the flow ran out of steps or diverged (with a RuntimeWarning saying how many and why).
    {status}

    Notes
    -----
    Kreisler, Shpigel Nacson, Soudry, Carmon (ICML 2023) prove that GD decreases this quantity in scalar
    networks and ask about "beyond". The flow's step is capped at 2 / lambda_max (lambda_max re-estimated
    along the flow), so the integration stays stable however sharp the valley.

    Stopping rule. The sharpness is Lipschitz in w, so the end point's sharpness is off by at most about
    |grad lambda| |w_end - w_inf|, and for the zoo models (polynomial in w of low degree q)
    |grad lambda| / lambda ~ q / |w|: bounding the *distance to the limit* relative to |w| bounds the relative
    error of the sharpness. Near a non-degenerate minimum (or manifold of minima) the gradient decays like
    exp(-mu t), mu the smallest non-zero curvature the flow sees, and the remaining path is |grad| / mu. The
    flow measures this decay step by step (a step that travelled s while |grad| fell by the factor r < 1 leaves
    s r / (1 - r)) and stops once two consecutive accepted steps predict at most ``xtol |w|``. The error is then
    about q ``xtol``: measured at most 2.1e-10 on the scalar network (D = 2..6, 320 random starts), against
    3e-6 for the former default ``loss_tol = 1e-12``, at the same cost. A loss tolerance is not scale-free
    (it leaves |w - w_inf| ~ sqrt(2 loss_tol / mu)) and cannot stop a flow whose minimum loss is not 0.

    When neither the loss nor the gradient norm has reached a new minimum for 200 accepted steps, both sit at
    their float64 rounding floor: the run stops there (status 5, value returned, with a warning), accurate to
    what float64 allows for its conditioning (about eps lambda_max / mu relative distance). A flow that
    approaches its limit slower than exponentially (a degenerate minimum, such as over-parameterised matrix
    sensing, or cross-entropy on separable data, whose minimum is at infinity) cannot deliver the accuracy in
    float64 time: it runs out of ``max_steps`` (status 3, NaN). The Lanczos step at the end point adds at
    most ``tol`` relative.
    """
    return_status = v.flag(return_status, "return_status")
    batch, out, _, status, _ = _gfs(m, w, 1, loss_tol, grad_tol, xtol, rtol, atol, max_steps, tol, seed,
                                    "gfs_sharpness")
    res = out[:, 0].reshape(batch)
    res = float(res) if res.ndim == 0 else res
    if return_status:
        st = status.reshape(batch)
        return res, (int(st) if st.ndim == 0 else st)
    return res


@honours_parallel
def gfs(m, w, *, xtol=1e-10, loss_tol=None, grad_tol=0.0, rtol=1e-10, atol=1e-14, max_steps=200_000, seed=0,
        parallel=None, return_status=False):
    """The gradient-flow solution from ``w``: the limit of dw/dt = -grad L(w), to about ``xtol |w|``.

    Parameters
    ----------
    m, w, xtol, loss_tol, grad_tol, rtol, atol, max_steps, seed, parallel, return_status
        As in :func:`gfs_sharpness` (the stopping rule is explained there).

    Returns
    -------
    w_inf : ndarray, shape (*batch, P)
        NaN rows where the flow ran out of steps or diverged (with a RuntimeWarning saying how many and why).
    {status}
    """
    return_status = v.flag(return_status, "return_status")
    batch, _, w_end, status, _ = _gfs(m, w, 1, loss_tol, grad_tol, xtol, rtol, atol, max_steps, 1e-6, seed, "gfs")
    w_end[(status != 1) & (status != 5)] = np.nan
    res = w_end.reshape((*batch, m.n_params))
    if return_status:
        st = status.reshape(batch)
        return res, (int(st) if st.ndim == 0 else st)
    return res


gfs_sharpness.__doc__ = gfs_sharpness.__doc__.replace("{status}", _STATUS_DOC)
gfs.__doc__ = gfs.__doc__.replace("{status}", _STATUS_DOC)

