"""Public API of the shared dynamics layer: validation, batching, records, results."""

from __future__ import annotations

import contextlib
import re

import numpy as np

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.first_class import kernel_errors
from gdsim._core.jit import honours_parallel
from gdsim._core.memory import keep_freed_memory
from gdsim._core.records import meta as records_meta, record_times
from gdsim._core.result import Result, batch_dims, labelled_batch_dims
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics import _spectral
from gdsim.dynamics._driver import drive, stepped_result
from gdsim.models._model import Model

#: named observables (``observe=``); ``"top_k:K"``, ``"gradient_overlap:K"`` and user callables are accepted too
OBSERVABLES = ("loss", "grad_norm", "w", "sharpness", "gfs_sharpness", "test_loss", "test_accuracy", "accuracy",
               "preconditioned_sharpness")
#: a run whose parameters leave [-BLOWUP, BLOWUP] (or stop being finite) has diverged
BLOWUP = 1e8


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


# ------------------------------------------------------------------------------------------------ observables
class _Observe:
    """Parsed ``observe=``: which in-kernel observables, top-k, and post-hoc ones (gfs, user callables)."""

    def __init__(self, observe, m, kind):
        if isinstance(observe, str) or callable(observe):
            observe = (observe,)
        try:
            items = list(observe)
        except TypeError:
            raise TypeError(f"observe must be a sequence of observable names or functions; got {observe!r}") from None
        self.names, self.user, self.top_k, self.overlap_k = [], [], 0, 0
        self.spectral = {}  # the observables of gdsim.dynamics._spectral (trace, spectral_density, ...)
        for it in items:
            if callable(it):
                name = getattr(it, "__name__", f"user_{len(self.user)}")
                from gdsim.models._model import as_kernel

                self.user.append((name, as_kernel(it, f"observe[{name}]")))
                continue
            if not isinstance(it, str):
                raise TypeError(f"observe entries must be names from {OBSERVABLES}, 'top_k:K', 'gradient_overlap:K' "
                                f"or functions; got {it!r}")
            if _spectral.parse_observable(self, it, m):
                continue
            mt = re.fullmatch(r"(top_k|gradient_overlap):(\d+)", it)
            if mt:
                kk = v.integer(int(mt.group(2)), f"observe {mt.group(1)}:K", lo=1, hi=m.n_params)
                if mt.group(1) == "top_k":
                    self.top_k = max(self.top_k, kk)
                elif self.overlap_k and kk != self.overlap_k:
                    raise ValueError(f"observe may hold one 'gradient_overlap:K'; got K = {self.overlap_k} and {kk}")
                else:
                    self.overlap_k = kk
                continue
            if it not in OBSERVABLES:
                raise ValueError(f"observe must name observables from {OBSERVABLES + _spectral.OBSERVABLES}, "
                                 f"'top_k:K', 'gradient_overlap:K', 'eigenvalues_above:X[:K]', "
                                 f"'spectral_density[:PROBES:STEPS]' or functions; got {it!r}")
            self.names.append(it)
        if ("test_loss" in self.names or "test_accuracy" in self.names) and m.test_data is None:
            raise ValueError("observe asks for test_loss/test_accuracy but the model has no test_data")
        if ("accuracy" in self.names or "test_accuracy" in self.names) and not m.has_accuracy:
            raise ValueError(f"observe asks for an accuracy but model {m.name!r} defines none")
        if "preconditioned_sharpness" in self.names and kind not in (kern.ADAM, kern.RMSPROP):
            raise ValueError("observe='preconditioned_sharpness' needs an adaptive optimiser (adam or rmsprop)")
        self.n_eig = max(self.top_k, self.overlap_k, 1 if "sharpness" in self.names else 0)
        self.want = np.array(["loss" in self.names, "grad_norm" in self.names, self.n_eig > 0,
                              "test_loss" in self.names, "test_accuracy" in self.names, "accuracy" in self.names,
                              "preconditioned_sharpness" in self.names, self.overlap_k > 0], dtype=np.bool_)
        self.keep_w = "w" in self.names or "gfs_sharpness" in self.names or bool(self.user)
        self.listed = [*self.names, *([f"top_k:{self.top_k}"] if self.top_k else []),
                       *([f"gradient_overlap:{self.overlap_k}"] if self.overlap_k else []), *(n for n, _ in self.user),
                       *_spectral.listed(self)]




def _check_record_budget(batch, P, n_rec, obs, updates=0.0):
    """Refuse a run whose records would not fit in memory (before anything is allocated)."""
    R = int(np.prod(batch, dtype=np.int64)) if batch else 1
    v.check_budget(f"batch = {batch}, n_params = {P} and {n_rec} records",
                   bytes_needed=8.0 * R * P * (4 + (n_rec if obs.keep_w else 0)) + 8.0 * n_rec * R * (obs.n_eig + 8)
                   + 8.0 * n_rec * R * _spectral.record_width(obs.spectral, P),
                   updates=updates)


class _Records:
    """The record-point observables of a batched run: buffers, warm-started Lanczos vectors, the kernel call."""

    def __init__(self, m, obs, n_rec, keys):
        R, P = keys.size, m.n_params
        self.m, self.obs, self.keys = m, obs, keys
        self.k = max(obs.n_eig, 1)
        self.max_iter = _default_max_iter(obs.n_eig, P)
        self.values = {name: np.full((n_rec, R), np.nan) for name in
                       ("loss", "grad_norm", "test_loss", "test_accuracy", "accuracy", "preconditioned_sharpness",
                        "gradient_overlap")}
        self.values["top"] = np.full((n_rec, R, self.k), np.nan)
        self.w = np.empty((n_rec, R, P)) if obs.keep_w else None
        self.iters = np.zeros(R, dtype=np.int64)
        # Lanczos start vectors, warm-started from record to record (Hessian, preconditioned Hessian); only
        # the ones an observable needs are drawn (a (0, P) placeholder otherwise)
        self.V = np.empty((R if obs.n_eig else 0, P))
        self.VP = np.empty((R if obs.want[6] else 0, P))
        kern.fresh_vectors(keys[:self.V.shape[0]], 1, self.V)
        kern.fresh_vectors(keys[:self.VP.shape[0]], 2, self.VP)
        self.test_data = m.test_data if m.test_data is not None else m.data
        self.spectral = _spectral.Records(m, obs.spectral, n_rec, keys) if obs.spectral else None

    def take(self, i, W, t, lanczos_tol, kind=kern.GD, M2=None, beta2=None, eps=None):
        """Record the observables of the state W (R, P) as record ``i`` (step or time ``t``)."""
        m, R = self.m, W.shape[0]
        want = self.obs.want
        rec = self.values
        h = kern.handles(m) if want.any() else None
        if want[[0, 1, 3, 4, 5]].any():
            kern.observe_values(h.loss_grad, h.accuracy, h.test_loss_grad, h.test_accuracy, m.data, self.test_data,
                                W, want, rec["loss"][i], rec["grad_norm"][i], rec["test_loss"][i],
                                rec["test_accuracy"][i], rec["accuracy"][i])
        if want[[2, 6, 7]].any():
            kern.observe_curvature(h.loss_grad, h.prep, h.hvpc, m.data, W, M2 if M2 is not None else np.zeros((R, 0)),
                                   kind, beta2 if beta2 is not None else np.zeros(R),
                                   eps if eps is not None else np.zeros(R), t, want, self.k, self.obs.overlap_k,
                                   lanczos_tol, self.max_iter, self.keys, self.V, self.VP, rec["top"][i],
                                   rec["preconditioned_sharpness"][i], rec["gradient_overlap"][i], self.iters)
        if self.w is not None:
            self.w[i] = W
        if self.spectral is not None:
            self.spectral.take(i, W)


def _hyper(x, name, *, lo=0.0, lo_open=True, hi=None, hi_open=False):
    arr = v.real_array(x, name)
    if np.any(arr < lo) or (lo_open and np.any(arr == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo} everywhere; smallest value is {arr.min()}")
    if hi is not None and (np.any(arr > hi) or (hi_open and np.any(arr == hi))):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi} everywhere; largest value is {arr.max()}")
    return arr


def _run(m, w0, steps, kind, hyper, *, batch_size=None, replace=True, record_every, observe, seed, progress,
         blowup, lanczos_tol, gfs_kwargs, desc, name, backend="cpu", public_names=None):
    m = _check_model(m)
    w0_given = w0
    w0 = m.weights(w0, "w0")
    t = record_times(steps, record_every)  # validates both
    steps = int(steps)
    progress = v.flag(progress, "progress")
    blowup = v.real_scalar(blowup, "blowup", lo=0.0, lo_open=True)
    lanczos_tol = v.real_scalar(lanczos_tol, "lanczos_tol", lo=0.0, hi=1e-1, lo_open=True)
    obs = _Observe(observe, m, kind)
    try:
        batch = np.broadcast_shapes(w0.shape[:-1], *(h.shape for h in hyper.values()),
                                    *(() if batch_size is None else (np.shape(batch_size),)))
    except ValueError:
        shapes = {"w0 batch": w0.shape[:-1], **{n: h.shape for n, h in hyper.items()}}
        raise ValueError(f"the batch shapes do not broadcast: {shapes}") from None
    R = int(np.prod(batch, dtype=np.int64)) if batch else 1
    P = m.n_params
    _check_record_budget(batch, P, t.size, obs, updates=float(R) * steps * P)
    W = np.ascontiguousarray(np.broadcast_to(w0, (*batch, P)).reshape(R, P)).copy()
    per_run = {n: np.ascontiguousarray(np.broadcast_to(h, batch).reshape(R)).astype(np.float64) for n, h in hyper.items()}
    lr = per_run.get("lr")
    beta1 = per_run.get("beta1", np.zeros(R))
    beta2 = per_run.get("beta2", np.zeros(R))
    eps = per_run.get("eps", np.zeros(R))
    if batch_size is None:
        bs = np.zeros(R, dtype=np.int64)
    else:
        bs = np.ascontiguousarray(np.broadcast_to(batch_size, batch).reshape(R)).astype(np.int64)
    keys = keys_from_seed(seed, R)
    # optimiser state: momentum / first moment, and second moment (empty rows when the optimiser has none)
    M1 = np.zeros((R, P) if kind in (kern.HEAVY_BALL, kern.NESTEROV, kern.ADAM) else (R, 0))
    M2 = np.zeros((R, P) if kind in (kern.RMSPROP, kern.ADAM) else (R, 0))
    h = kern.handles(m)
    # state and outputs
    diverged = np.zeros(R, dtype=np.bool_)
    diverged_step = np.full(R, -1, dtype=np.int64)
    last_loss = np.full(R, np.inf)
    n_inc = np.zeros(R, dtype=np.int64)
    records = _Records(m, obs, t.size, keys)
    chunk = max(1, steps // 100) if progress else max(1, steps)
    names = public_names or {}
    label_src = {names.get(k, k): h for k, h in hyper.items()}
    if batch_size is not None:
        label_src["batch_size"] = np.asarray(batch_size)
    labels = labelled_batch_dims(batch, label_src, w0_given)

    def advance(lo, hi):
        kern.advance(h.loss_grad, h.gather, m.data, W, M1, M2, kind, lr, beta1, beta2, eps, bs, bool(replace),
                     m.n_samples, keys, lo, hi, blowup, diverged, diverged_step, last_loss, n_inc)

    def sync():
        pass

    if backend == "cuda":
        advance, sync = _cuda_stepper(m, W, lr, blowup, diverged, diverged_step, last_loss, n_inc)
    elif m._gd_step_batch is not None and kind == kern.GD and batch_size is None:
        # the model vectorises across runs: structure-of-arrays blocks (see Model._gd_step_batch)
        Wt = np.ascontiguousarray(W.T)

        def advance(lo, hi):
            kern.advance_batched(h.gd_step_batch, m.data, Wt, lr, lo, hi, blowup, diverged, diverged_step,
                                 last_loss, n_inc)

        def sync():
            W[...] = Wt.T
    with _in_driver(m):
        wall = drive(t, advance, lambda i: records.take(i, W, int(t[i]), lanczos_tol, kind, M2, beta2, eps),
                     sync=sync, progress=progress, desc=desc, chunk=chunk)
    return _result(m, obs, t, batch, W, records, diverged, diverged_step, n_inc, per_run, kind, wall,
                   gfs_kwargs, seed, name, labels=labels, config=dict(steps=steps, record_every=records_meta(record_every), blowup=blowup,
                                                lanczos_tol=lanczos_tol, replace=bool(replace), backend=backend,
                                                batch_size=None if batch_size is None else np.unique(bs).tolist()))


def _cuda_stepper(m, W, lr, blowup, diverged, diverged_step, last_loss, n_inc):
    """(advance, sync) running the zoo MLP's GD steps on the GPU; ``sync`` copies the state back to the host."""
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.dynamics._cuda import mlp_gd_kernel

    cuda = cuda_module()
    kernel = mlp_gd_kernel()
    X, Y, arch = m.data
    L = int(arch[0])
    sizes = arch[4:5 + L].astype(int)
    scratch = 2 * int(sizes[1:].sum()) + 2 * int(sizes.max())
    R, P = W.shape
    dev = dict(W=cuda.to_device(W), G=cuda.device_array((R, P)), S=cuda.device_array((R, scratch)),
               X=cuda.to_device(X), Y=cuda.to_device(Y), arch=cuda.to_device(arch), lr=cuda.to_device(lr),
               div=cuda.to_device(diverged), ds=cuda.to_device(diverged_step), ll=cuda.to_device(last_loss),
               inc=cuda.to_device(n_inc))
    blocks, tpb = launch_config(R)

    def advance(lo, hi):
        kernel[blocks, tpb](dev["W"], dev["G"], dev["S"], dev["X"], dev["Y"], dev["arch"], dev["lr"], lo, hi, blowup,
                            dev["div"], dev["ds"], dev["ll"], dev["inc"])

    def sync():
        dev["W"].copy_to_host(W)
        dev["div"].copy_to_host(diverged)
        dev["ds"].copy_to_host(diverged_step)
        dev["inc"].copy_to_host(n_inc)

    return advance, sync


def _threshold(kind, per_run):
    """The step-size stability threshold on the (preconditioned) sharpness, per run (Cohen et al. 2021, 2022)."""
    lr = per_run["lr"]
    b1 = per_run.get("beta1", np.zeros_like(lr))
    if kind == kern.HEAVY_BALL:
        return (2.0 + 2.0 * b1) / lr
    if kind == kern.NESTEROV:
        return (2.0 + 2.0 * b1) / ((1.0 + 2.0 * b1) * lr)
    if kind == kern.ADAM:
        return (2.0 + 2.0 * b1) / ((1.0 - b1) * lr)
    return 2.0 / lr  # GD and RMSProp (on the preconditioned sharpness)


def eos_diagnostics(t, sharpness, threshold, *, window=0.5):
    """Edge-of-stability summaries of recorded sharpness.

    Parameters
    ----------
    t : array_like, shape (n_records,)
        Recorded steps.
    sharpness : array_like, shape (n_records, *batch)
    threshold : array_like, broadcast against batch
        The stability threshold (> 0, finite; 2 / lr for GD).
    window : float
        Fraction (0, 1] of the last records over which the ratio is averaged.

    Returns
    -------
    first_eos_step : ndarray of int, shape (*batch,)
        First recorded step with sharpness >= threshold (-1 if never).
    eos_ratio : ndarray, shape (*batch,)
        Mean of sharpness / threshold (lr * sharpness / 2 for GD) over the window (NaN where diverged).
    """
    t = v.real_array(t, "t", min_ndim=1)
    s = v.real_array(sharpness, "sharpness", min_ndim=1, allow_nonfinite=True)
    thr = v.positive_array(threshold, "threshold")
    window = v.real_scalar(window, "window", lo=0.0, hi=1.0, lo_open=True)
    if s.shape[0] != t.shape[0]:
        raise ValueError(f"sharpness must have shape (n_records, *batch) with n_records = {t.shape[0]}; got {s.shape}")
    if not np.isfinite(s).any():
        raise ValueError("sharpness holds no finite value (NaN marks diverged records; some must be finite)")
    return _eos(t, s, thr, window)


def _eos(t, s, thr, window=0.5):
    ratio = s / thr
    with np.errstate(invalid="ignore"):
        above = ratio >= 1.0
    first = np.where(above.any(axis=0), t[np.argmax(above, axis=0)], -1).astype(np.int64)
    n = max(1, int(round(window * t.size)))
    return first, ratio[-n:].mean(axis=0)


def _result(m, obs, t, batch, W, records, diverged, diverged_step, n_inc, per_run, kind, wall, gfs_kwargs,
            seed, name, config, record_dim="step", labels=None):
    R, P = W.shape
    n_rec = t.size
    rec, w_rec, iters = records.values, records.w, records.iters
    bd, label_coords = labels if labels is not None else (batch_dims(batch), {})
    arrays = dict(t=t, diverged=diverged.reshape(batch), diverged_step=diverged_step.reshape(batch),
                  w_final=W.reshape((*batch, P)))
    dims = dict(t=(record_dim,), diverged=bd, diverged_step=bd, w_final=(*bd, "param"))
    per_record = lambda a: a.reshape((n_rec, *batch))  # noqa: E731
    for nm in ("loss", "grad_norm", "test_loss", "test_accuracy", "accuracy", "preconditioned_sharpness"):
        if nm in obs.names:
            arrays[nm] = per_record(rec[nm])
            dims[nm] = (record_dim, *bd)
    if "sharpness" in obs.names:
        arrays["sharpness"] = per_record(rec["top"][:, :, 0])
        dims["sharpness"] = (record_dim, *bd)
    if obs.top_k:
        arrays["top_k"] = rec["top"][:, :, :obs.top_k].reshape((n_rec, *batch, obs.top_k))
        dims["top_k"] = (record_dim, *bd, "eig")
    if obs.overlap_k:
        arrays["gradient_overlap"] = per_record(rec["gradient_overlap"])
        dims["gradient_overlap"] = (record_dim, *bd)
    if kind is not None:
        arrays["lr"] = per_run["lr"].reshape(batch)
        dims["lr"] = bd
        thr = _threshold(kind, per_run)
        arrays["threshold"] = thr.reshape(batch)
        dims["threshold"] = bd
        arrays["n_loss_increases"] = n_inc.reshape(batch)
        dims["n_loss_increases"] = bd
        s = rec["preconditioned_sharpness"] if kind in (kern.ADAM, kern.RMSPROP) else rec["top"][:, :, 0]
        if ("sharpness" in obs.names or obs.top_k) and kind not in (kern.ADAM, kern.RMSPROP) or \
                "preconditioned_sharpness" in obs.names:
            first, ratio = _eos(t, s, thr)
            arrays["first_eos_step"] = first.reshape(batch)
            arrays["eos_ratio"] = ratio.reshape(batch)
            dims["first_eos_step"] = bd
            dims["eos_ratio"] = bd
    if w_rec is not None:
        if "w" in obs.names:
            arrays["w"] = w_rec.reshape((n_rec, *batch, P))
            dims["w"] = (record_dim, *bd, "param")
        if "gfs_sharpness" in obs.names:
            flat = w_rec.reshape(-1, P)
            ok = np.all(np.isfinite(flat), axis=1)
            phi = np.full(flat.shape[0], np.nan)
            if ok.any():
                phi[ok] = np.asarray(gfs_sharpness(m, flat[ok], **gfs_kwargs)).reshape(-1)
            arrays["gfs_sharpness"] = phi.reshape((n_rec, *batch))
            dims["gfs_sharpness"] = (record_dim, *bd)
        for nm, fn in obs.user:
            flat = w_rec.reshape(-1, P)
            out = np.empty(flat.shape[0])
            try:
                kern.apply_user(fn, flat, m.data, out)
            except Exception as exc:  # a user function that Numba cannot compile or that fails
                raise TypeError(f"observe function {nm!r} must be Numba-compilable as fn(w, *data) -> float: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            arrays[nm] = out.reshape((n_rec, *batch))
            dims[nm] = (record_dim, *bd)
    extra_coords = () if records.spectral is None else records.spectral.add_to(arrays, dims, batch, bd, record_dim)
    meta = dict(config={**config, "optimiser": name, "observe": obs.listed, "seed": _seed_meta(seed),
                        "batch": list(batch)},
                model=m.provenance(), hvp_method=m.hvp_method, wall_time_s=wall,
                lanczos_iterations_mean=float(iters.mean()) / max(1, n_rec) if obs.n_eig else 0.0,
                labels=label_coords)
    return stepped_result(arrays, dims, meta=meta, record_dim=record_dim, coords=extra_coords)


def _seed_meta(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    return repr(seed)[:200]


_COMMON_DOC = """
    record_every : int or array_like of int
        The record schedule shared by every family (:func:`gdsim.record_times`): an integer k records every
        k-th step; an array gives the step indices (e.g. ``gdsim.log_steps(steps, 40)`` for log spacing).
        Step 0 and the last step are always recorded.
    observe : sequence
        Observables at the record points, computed only when asked for: ``"loss"``, ``"grad_norm"``, ``"w"``,
        ``"sharpness"``, ``"top_k:K"`` (``res.top_k``, (n_records, *batch, K)), ``"gradient_overlap:K"``
        (``res.gradient_overlap``: the fraction ||P_K g||^2 / ||g||^2 of the full-batch gradient in the span of the
        top-K Hessian eigenvectors, Gur-Ari et al. 2018), ``"gfs_sharpness"``, ``"test_loss"``,
        ``"test_accuracy"``, ``"accuracy"``, and functions ``fn(w, *data) -> float`` (Numba-compilable; stored
        under their ``__name__``). Curvature beyond the top (:mod:`gdsim.dynamics._spectral`): ``"trace"``
        (``res.trace``, ``res.trace_stderr``; :func:`hessian_trace`, method "auto", 100 probes), ``"diag"``
        (``res.diag``, (n_records, *batch, P)), ``"spectral_density"`` or ``"spectral_density:PROBES:STEPS"``
        (``res.spectral_density_nodes``/``_weights``, (n_records, *batch, probes, steps); default 8 and 60),
        ``"block_sharpness"`` (``res.block_sharpness``, ``res.block_trace``, (n_records, *batch, group), one per
        ``m.groups``) and ``"eigenvalues_above:X"`` or ``"eigenvalues_above:X:K"`` (``res.eigenvalues_above``,
        (n_records, *batch, K), descending, NaN-padded, K = min(32, P) by default; warm-started across records).
    seed : int, SeedSequence, sequence of seeds or None
        One stream per run (minibatches, Lanczos start vectors), keyed by the run's own index.
    progress : bool
        Show a progress bar over steps.
    parallel : bool, optional
        None/True: runs in parallel on all Numba threads; False: one thread. The numbers are the same.
    blowup : float
        A run whose parameters leave [-blowup, blowup] or whose loss stops being finite has diverged: from
        then on it is NaN (``res.diverged``, ``res.diverged_step``). Never raised.
    lanczos_tol : float
        Residual tolerance of the sharpness/top-k Lanczos (warm-started from the previous record).
    gfs_kwargs : dict, optional
        Passed to :func:`gfs_sharpness` for the ``gfs_sharpness`` observable.

    Returns
    -------
    Result
        ``t`` (n_records,) (dim ``step``); each observable (n_records, *batch); ``diverged``,
        ``diverged_step`` (-1 if never), ``w_final`` (*batch, P), ``lr``, ``threshold`` (the stability
        threshold on the sharpness: 2/lr for GD), ``n_loss_increases`` (full-batch steps whose loss rose);
        with sharpness observed, ``first_eos_step`` (first record with sharpness >= threshold, -1 if
        never) and ``eos_ratio`` (mean sharpness / threshold over the last half of the records).
        ``meta`` holds the config, the model's provenance (data checksums) and ``hvp_method``.
"""


def _doc(f):
    f.__doc__ = f.__doc__.replace("    {common}\n", _COMMON_DOC.strip("\n") + "\n")
    return f


@_doc
@honours_parallel
def gd(m, w0, lr, steps, *, record_every=1, observe=("loss",), seed=0, progress=False, parallel=None,
       blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """Full-batch gradient descent w <- w - lr grad L(w), batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
        Initial parameters (e.g. ``m.init(seed, batch=(8,))``).
    lr : float or array_like
        Learning rates (> 0), broadcast against the batch (an lr x seed grid: ``lr[:, None]`` with w0 (S, P)).
    steps : int
    {common}

    Notes
    -----
    Cohen, Kaur, Li, Kolter, Talwalkar (ICLR 2021): at the edge of stability the sharpness rises to 2/lr and
    hovers there while the loss keeps falling non-monotonically.

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
    >>> X = np.random.default_rng(0).standard_normal((40, 3)); Y = np.tanh(X[:, :1])
    >>> m = gm.mlp([3, 8, 1], "tanh", data=(X, Y))
    >>> res = gdyn.gd(m, m.init(0, batch=(2,)), lr=0.1, steps=50, record_every=25, observe=("loss", "sharpness"))
    >>> res.sharpness.shape
    (3, 2)
    """
    hyper = dict(lr=_hyper(lr, "lr"))
    return _run(m, w0, steps, kern.GD, hyper, record_every=record_every, observe=observe, seed=seed, progress=progress,
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {}, desc="GD", name="gd")


@_doc
@honours_parallel
def sgd(m, w0, lr, steps, *, batch_size, replace=True, momentum=0.0, nesterov=False, record_every=1,
        observe=("loss",), seed=0, progress=False, parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """Minibatch SGD (optionally with momentum), batched over runs, one counter-based stream per run.

    Parameters
    ----------
    m : gdsim.models.Model
        With per-sample data (``m.per_sample``).
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        Learning rates (> 0), broadcast against the batch.
    steps : int
    batch_size : int or array_like of int
        Minibatch size B, 1 <= B <= N, broadcast against the batch.
    replace : bool
        True: B indices drawn independently (with replacement); False: a uniformly random B-subset
        (without replacement) at every step.
    momentum : float or array_like
        Heavy-ball coefficient in [0, 1) (0: plain SGD).
    nesterov : bool
        Nesterov momentum instead of heavy ball.
    {common}

    Notes
    -----
    The loss recorded is the full-batch loss at the record points. Minibatch index i of step t for a run
    with key k is floor(u N) with u = uniform01(k, t, i) (``gdsim._core.counter_rng``): a run's minibatches
    depend on its own seed only. Each step gathers its minibatch into fresh arrays (one allocation per step).
    """
    m = _check_model(m)
    if m.n_samples == 0:
        raise ValueError(f"model {m.name!r} has no per-sample data, so SGD has nothing to sample")
    bs = np.asarray(batch_size)
    if bs.dtype.kind not in "iu" or np.any(bs < 1) or np.any(bs > m.n_samples):
        raise ValueError(f"batch_size must be integers in [1, N = {m.n_samples}]; got {batch_size!r}")
    replace = v.flag(replace, "replace")
    nesterov = v.flag(nesterov, "nesterov")
    mom = _hyper(momentum, "momentum", lo=0.0, lo_open=False, hi=1.0, hi_open=True)
    kind = kern.NESTEROV if nesterov else (kern.HEAVY_BALL if np.any(mom > 0) else kern.GD)
    hyper = dict(lr=_hyper(lr, "lr"), beta1=mom)
    return _run(m, w0, steps, kind, hyper, batch_size=bs, replace=replace, record_every=record_every, observe=observe,
                seed=seed, progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                desc="SGD", name="sgd", public_names={"beta1": "momentum"})


@_doc
@honours_parallel
def momentum(m, w0, lr, steps, *, beta=0.9, nesterov=False, record_every=1, observe=("loss",), seed=0, progress=False,
             parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """Full-batch heavy-ball (m <- beta m + g, w <- w - lr m) or Nesterov (w <- w - lr (g + beta m)) momentum.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        (> 0), broadcast against the batch.
    steps : int
    beta : float or array_like
        Momentum in [0, 1).
    nesterov : bool
    {common}

    Notes
    -----
    The stability threshold on the sharpness is (2 + 2 beta) / lr for heavy ball and
    (2 + 2 beta) / ((1 + 2 beta) lr) for Nesterov (Cohen et al. 2021, appendix); ``res.threshold`` holds it.
    """
    nesterov = v.flag(nesterov, "nesterov")
    hyper = dict(lr=_hyper(lr, "lr"), beta1=_hyper(beta, "beta", lo=0.0, lo_open=False, hi=1.0, hi_open=True))
    return _run(m, w0, steps, kern.NESTEROV if nesterov else kern.HEAVY_BALL, hyper, record_every=record_every,
                observe=observe, seed=seed, progress=progress, blowup=blowup, lanczos_tol=lanczos_tol,
                gfs_kwargs=gfs_kwargs or {}, desc="momentum", name="nesterov" if nesterov else "heavy_ball",
                public_names={"beta1": "beta"})


@_doc
@honours_parallel
def adam(m, w0, lr, steps, *, beta1=0.9, beta2=0.999, eps=1e-8, record_every=1, observe=("loss",), seed=0,
         progress=False, parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """Full-batch Adam (bias-corrected, Kingma & Ba 2015), batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        (> 0), broadcast against the batch.
    steps : int
    beta1, beta2 : float or array_like
        Moment decay rates in [0, 1).
    eps : float or array_like
        (> 0).
    {common}

    Notes
    -----
    ``"preconditioned_sharpness"`` is the largest eigenvalue of P^-1/2 H P^-1/2 with P = diag(sqrt(v_hat) + eps);
    Cohen et al. ("Adaptive gradient methods at the edge of stability", 2022) find it hovers at
    (2 + 2 beta1) / ((1 - beta1) lr) (38 / lr at beta1 = 0.9), held in ``res.threshold``.
    """
    hyper = dict(lr=_hyper(lr, "lr"), beta1=_hyper(beta1, "beta1", lo=0.0, lo_open=False, hi=1.0, hi_open=True),
                 beta2=_hyper(beta2, "beta2", lo=0.0, lo_open=False, hi=1.0, hi_open=True), eps=_hyper(eps, "eps"))
    return _run(m, w0, steps, kern.ADAM, hyper, record_every=record_every, observe=observe, seed=seed, progress=progress,
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {}, desc="Adam", name="adam")


@_doc
@honours_parallel
def rmsprop(m, w0, lr, steps, *, beta=0.99, eps=1e-8, record_every=1, observe=("loss",), seed=0, progress=False,
            parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """Full-batch RMSProp: s <- beta s + (1 - beta) g^2, w <- w - lr g / (sqrt(s) + eps).

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        (> 0), broadcast against the batch.
    steps : int
    beta : float or array_like
        Decay rate in [0, 1).
    eps : float or array_like
        (> 0).
    {common}

    Notes
    -----
    Tieleman & Hinton (2012). ``"preconditioned_sharpness"`` uses P = diag(sqrt(s) + eps).
    """
    hyper = dict(lr=_hyper(lr, "lr"), beta2=_hyper(beta, "beta", lo=0.0, lo_open=False, hi=1.0, hi_open=True),
                 eps=_hyper(eps, "eps"))
    return _run(m, w0, steps, kern.RMSPROP, hyper, record_every=record_every, observe=observe, seed=seed,
                progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                desc="RMSProp", name="rmsprop", public_names={"beta2": "beta"})


@honours_parallel
def gradient_flow(m, w0, t_final, *, record_interval=None, n_records=11, observe=("loss",), rtol=1e-10, atol=1e-14,
                  max_steps=1_000_000, seed=0, progress=False, parallel=None, lanczos_tol=1e-10, gfs_kwargs=None):
    """Gradient flow dw/dt = -grad L(w) by an adaptive Dormand-Prince 5(4) integrator, batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    t_final : float
        Final time (> 0).
    record_interval : float, optional
        Time between records (> 0); default ``t_final / (n_records - 1)``.
    n_records : int
        Number of records (>= 2) when ``record_interval`` is not given.
    observe : sequence
        As in :func:`gd` (``"loss"``, ``"grad_norm"``, ``"w"``, ``"sharpness"``, ``"top_k:K"``, ...).
    rtol, atol : float
        Error control (per step, RMS norm of the local error against atol + rtol |w|). The defaults give a global
        error of about 1e-11 |w0| over a few time constants (measured <= 4.5e-12 |w0| against the matrix exponential
        on a quadratic with curvatures 0.1..5 at t = 3; tested at 1e-9).
    max_steps : int
        Integrator steps at most per run and record interval; a run that runs out is named in a RuntimeWarning
        and ``meta["runs_out_of_steps"]``.
    seed, progress, parallel, lanczos_tol, gfs_kwargs
        As in :func:`gd`.

    Returns
    -------
    Result
        ``t`` (n_records,) times (dim ``time``), observables (n_records, *batch), ``diverged``, ``w_final``.

    Notes
    -----
    The step is capped at 2 / lambda_max, lambda_max tracked by warm-started Lanczos every 10 accepted steps
    (and after every rejected step), so stiff valleys do not make the explicit integrator unstable.
    Integration lands exactly on every record time.
    """
    m = _check_model(m)
    w0 = m.weights(w0, "w0")
    t_final = v.real_scalar(t_final, "t_final", lo=0.0, lo_open=True)
    if record_interval is None:
        n_records = v.integer(n_records, "n_records", lo=2, hi=10**7)
        times = np.linspace(0.0, t_final, n_records)
    else:
        record_interval = v.real_scalar(record_interval, "record_interval", lo=0.0, lo_open=True)
        n = t_final / record_interval
        if n > 1e7:
            raise ValueError(f"t_final / record_interval = {n:.3g} records is too many (at most 1e7)")
        times = np.arange(0.0, t_final + 0.5 * record_interval, record_interval)
        times = times[times < t_final - 1e-12 * t_final]
        times = np.append(times, t_final)
    rtol, atol, _, _, max_steps = _flow_args(rtol, atol, 0.0, 0.0, max_steps)
    progress = v.flag(progress, "progress")
    lanczos_tol = v.real_scalar(lanczos_tol, "lanczos_tol", lo=0.0, hi=1e-1, lo_open=True)
    obs = _Observe(observe, m, None)
    batch = w0.shape[:-1]
    n_rec = times.size
    _check_record_budget(batch, m.n_params, n_rec, obs)
    W = np.ascontiguousarray(w0.reshape(-1, m.n_params)).copy()
    R, P = W.shape
    keys = keys_from_seed(seed, R)
    Vf = np.empty((R, P))  # the flow's own sharpness estimates (its step cap), warm-started along the flow
    kern.fresh_vectors(keys, 3, Vf)
    states = np.zeros((R, 6))
    records = _Records(m, obs, n_rec, keys)
    h = kern.handles(m)
    def integrate(lo, hi):  # record intervals lo .. hi (the driver's chunk is one interval)
        kern.flow_segment(h.loss_grad, h.prep, h.hvpc, m.data, W, float(times[lo]), float(times[hi]), rtol, atol,
                          max_steps, keys, Vf, states)

    with _in_driver(m):
        wall = drive(np.arange(n_rec), integrate, lambda i: records.take(i, W, 0, lanczos_tol), progress=progress,
                     desc="gradient flow", unit="record", chunk=1)
    diverged = states[:, 3] == 4
    res = _result(m, obs, times, batch, W, records, diverged, np.full(R, -1, dtype=np.int64),
                  np.zeros(R, dtype=np.int64), {}, None, wall, gfs_kwargs or {}, seed, "gradient_flow",
                  dict(t_final=t_final, rtol=rtol, atol=atol, max_steps=max_steps, integrator="dormand_prince_5_4",
                       step_cap="2 / lambda_max", n_records=n_rec), record_dim="time")
    res.meta["integrator_steps"] = states[:, 1].reshape(batch).tolist() if batch else float(states[0, 1])
    short = states[:, 5] > 0
    res.meta["runs_out_of_steps"] = int(short.sum())
    if short.any():
        import warnings

        warnings.warn(f"gradient_flow: {int(short.sum())} of {R} runs ran out of max_steps = {max_steps} in some "
                      "record interval and lag behind their record times from there on (raise max_steps, or loosen "
                      "rtol/atol)",
                      RuntimeWarning, stacklevel=3)
    return res


@_doc
@honours_parallel
def gpu_gd(m, w0, lr, steps, *, record_every=1, observe=("loss",), seed=0, progress=False, parallel=None,
           blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None):
    """:func:`gd` on a CUDA GPU for the zoo MLPs (:func:`gdsim.models.mlp`, :func:`gdsim.models.deep_linear`).

    Same signature and result as :func:`gd`. One GPU thread per run; the record-point observables are
    computed on the host by the CPU kernels from the copied-back parameters.

    Parameters
    ----------
    m : gdsim.models.Model
        A zoo MLP.
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        (> 0), broadcast against the batch.
    steps : int
    {common}

    Raises
    ------
    gdsim.CudaUnavailableError
        Without a GPU (or ``NUMBA_ENABLE_CUDASIM=1``), after every argument has been validated.
    """
    from gdsim.models import _mlp

    m = _check_model(m)
    if m._loss_grad is not _mlp.loss_grad:
        raise ValueError(f"m must be a zoo MLP (gdsim.models.mlp or deep_linear) for gpu_gd; got model {m.name!r}")
    hyper = dict(lr=_hyper(lr, "lr"))
    return _run(m, w0, steps, kern.GD, hyper, record_every=record_every, observe=observe, seed=seed, progress=progress,
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {}, desc="GD (cuda)", name="gd",
                backend="cuda")
