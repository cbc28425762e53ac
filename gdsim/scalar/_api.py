"""Public API of the scalar-network model: validation, allocation, chunked kernel calls, results.

Reference: I. Kreisler, M. Shpigel Nacson, D. Soudry, Y. Carmon, "Gradient Descent Monotonically
Decreases the Sharpness of Gradient Flow Solutions in Scalar Networks and Beyond", ICML 2023,
arXiv:2305.13064.
"""

from __future__ import annotations

import warnings

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v
from gdsim._core.records import meta as records_meta, record_times
from gdsim._core.result import Result, labelled_batch_dims
from gdsim.dynamics._driver import drive, run_dims, stepped_result
from gdsim.scalar import _kernels as k

#: Batches smaller than this run the serial kernels: thread start-up costs more than the work.
PARALLEL_MIN_BATCH = 4 * k.BLOCK


# ----------------------------------------------------------------------------------------------- inputs
def _weights(w, name="w0"):
    arr = v.real_array(w, name, min_ndim=1)
    if arr.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (*batch, D) with depth D >= 2; got shape {arr.shape}")
    return arr


def _loss_constants(a, b):
    a = v.real_scalar(a, "a", lo=0.0, lo_open=True)
    b = v.real_scalar(b, "b", nonzero=True)
    return a, b


def _soa(w, parallel=None):
    """(*batch, D) -> C-contiguous (D, B) structure-of-arrays copy."""
    D = w.shape[-1]
    rows = w.reshape(-1, D)
    W = np.empty((D, rows.shape[0]))
    (k.to_soa_parallel if _use_parallel(parallel, rows.shape[0]) else k.to_soa_serial)(rows, W)
    return W


def _use_parallel(parallel, B):
    parallel = v.flag(parallel, "parallel", allow_none=True)
    if parallel is None:
        return B >= PARALLEL_MIN_BATCH
    return parallel




def validate_gd_args(w0, lr, steps, a, b, record_every, blowup):
    """Validate the shared arguments of :func:`gd` and :func:`gpu_gd`; returns normalised values."""
    w0 = _weights(w0)
    batch = w0.shape[:-1]
    lr = v.broadcast_to_batch(v.positive_array(lr, "lr"), batch, "lr", "w0")
    steps = v.integer(steps, "steps", lo=0)
    a, b = _loss_constants(a, b)
    blowup = v.real_scalar(blowup, "blowup", lo=0.0, lo_open=True)
    check_gd_budget(w0.shape, steps, record_every)
    return w0, lr, steps, a, b, record_every, blowup


def check_gd_budget(shape, steps, record_every):
    """Refuse absurd record arrays or step counts before allocating (records x batch x (D + 3) floats)."""
    B, D = float(np.prod(shape[:-1])), shape[-1]
    records = record_times(steps, record_every).size  # validates record_every (either form)
    v.check_budget(f"w0 of shape {tuple(shape)}, steps = {steps} and {records} records",
                   bytes_needed=8.0 * records * B * (D + 3), updates=B * D * steps)


# ----------------------------------------------------------------------------------------------- GD
@renamed_keywords(eta="lr")
def gd(w0, lr, steps, *, a=1.0, b=1.0, record_every=1, blowup=1e6, parallel=None, progress=False,
       observe=("loss",)):
    """Full-batch gradient descent on a batch of depth-D scalar linear networks.

    Loss L(w) = (a/2)(prod_i w_i - b)^2, update w <- w - lr * grad L(w). Every trajectory is
    independent; ``w0`` holds any batch shape of initialisations.

    Parameters
    ----------
    w0 : array_like, shape (*batch, D)
        Initial weights, finite, depth D >= 2.
    lr : float or array_like
        Step sizes (> 0), broadcast against ``batch``.
    steps : int
        Number of GD steps (>= 0).
    a, b : float
        Loss constants: curvature a > 0 and target b != 0 (a dataset reduces to a = mean(x^2),
        b = mean(x y) / mean(x^2)). Default a = b = 1.
    record_every : int or array_like of int
        The record schedule shared by every family (:func:`gdsim.record_times`): an integer k records every
        k-th step; an array gives the step indices (e.g. ``gdsim.log_steps(steps, 40)`` for log spacing).
        Step 0 and the last step are always recorded.
    blowup : float
        A trajectory whose weights leave [-blowup, blowup] or stop being finite is diverged; from then
        on its weights are NaN (spec pitfall: check finiteness and |w| < 1e6 every step).
    parallel : bool, optional
        Use the multi-threaded kernels; default: only for batches of at least 256 trajectories.
    progress : bool
        Show a ``tqdm`` progress bar over the recorded chunks.
    observe : sequence of {"loss", "sharpness", "gfs_sharpness"}
        Observables computed at the record points during the run (default: the loss only). The others
        are still available as ``result.sharpness`` etc.: computed from the recorded weights on first
        access (same numbers), so they cost nothing unless read.

    Returns
    -------
    Result
        ``t`` (n_records,) recorded step indices starting at 0 and including ``steps`` (dim ``step``);
        ``w`` (n_records, *batch, D); ``loss``, ``sharpness`` (largest Hessian eigenvalue),
        ``gfs_sharpness`` (sharpness of the gradient-flow solution), each (n_records, *batch);
        ``diverged`` (*batch,) bool. ``meta`` holds the config and provenance. Dims: ``step``, ``run``
        (``run_0``, ... for several batch dims), ``param``.

    Notes
    -----
    Kreisler et al. (ICML 2023, arXiv:2305.13064) prove that ``gfs_sharpness`` is non-increasing along
    GD in scalar networks (under their step-size hypothesis) even while ``loss`` and ``sharpness``
    oscillate at the edge of stability. Divergence is recorded, never raised.

    Examples
    --------
    >>> import gdsim.scalar as sc
    >>> r = sc.gd([0.5, 1.5, 1.2], lr=0.531742, steps=400)
    >>> bool(r.gfs_sharpness[-1] <= r.gfs_sharpness[0])
    True
    """
    return _gd(w0, lr, steps, a, b, record_every, blowup, parallel, progress, observe, backend="cpu")


def _gd(w0, lr, steps, a, b, record_every, blowup, parallel, progress, observe, *, backend):
    """The one host function of :func:`gd` and :func:`gpu_gd`: validate, pick the stepper, drive, record.

    ``backend="cpu"`` advances with the fused (depth-unrolled) Numba kernel on the host state; ``"cuda"`` swaps
    in the device stepper (one GPU thread per trajectory, a copy back before each record). Everything else,
    records and the result included, is shared.
    """
    lr_given = lr
    w0, lr, steps, a, b, record_every, blowup = validate_gd_args(w0, lr, steps, a, b, record_every, blowup)
    labels = labelled_batch_dims(w0.shape[:-1], {"lr": v.positive_array(lr_given, "lr")})
    observe = validate_observe(observe)
    progress = v.flag(progress, "progress")
    batch, D = w0.shape[:-1], w0.shape[-1]
    if backend == "cuda":
        from gdsim.scalar import _cuda

        if D > _cuda.MAX_D:
            raise ValueError(f"w0 depth D = {D} exceeds the GPU kernel's limit of {_cuda.MAX_D}; use gd()")
    W = _soa(w0)
    eta_flat = lr.reshape(-1).copy()
    use_par = _use_parallel(parallel, W.shape[1])
    if backend == "cuda":
        advance, sync = _cuda_stepper(W, eta_flat, a, b, blowup)
    else:
        advance, sync = _cpu_stepper(W, eta_flat, a, b, blowup, use_par)
    return _run_recorded(W, batch, steps, record_every, advance, _scalar_observer(a, b, use_par), progress,
                         config=dict(model="scalar_network", D=D, batch=list(batch), steps=steps, a=a, b=b,
                                     record_every=records_meta(record_every), blowup=blowup, lr=eta_meta(lr),
                                     backend="cuda" if backend == "cuda" else
                                     "cpu-parallel" if use_par else "cpu-serial"),
                         sync=sync, desc="scalar GD (CUDA)" if backend == "cuda" else "GD", observe=observe,
                         labels=labels)


def _cpu_stepper(W, eta, a, b, blowup, use_par):
    """(advance, sync) of the host: the fused GD kernel over whole record intervals; no copy back."""
    def advance(lo, hi):
        k.gd_advance(W, eta, a, b, int(hi - lo), blowup, parallel=use_par)

    return advance, None


def _cuda_stepper(W, eta, a, b, blowup):
    """(advance, sync) on the GPU: the CUDA kernel advances the device copy of ``W``; ``sync`` copies it back."""
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.scalar import _cuda

    cuda = cuda_module()
    kernel = _cuda.gd_advance_kernel()
    d_W = cuda.to_device(W)
    d_eta = cuda.to_device(eta)
    blocks, tpb = launch_config(W.shape[1])

    def advance(lo, hi):
        kernel[blocks, tpb](d_W, d_eta, a, b, int(hi - lo), blowup)
        cuda.synchronize()

    def sync():
        d_W.copy_to_host(W)

    return advance, sync


def eta_meta(eta):
    return float(eta.flat[0]) if eta.size and np.all(eta == eta.flat[0]) else "per-trajectory (see arrays)"


def _scalar_observer(a, b, use_par):
    obs = k.observables_parallel if use_par else k.observables_serial
    return lambda W, want, loss, sharp, phi: obs(W, a, b, *want, loss, sharp, phi)


#: Observables a GD run can record; ``w`` and ``diverged`` are always kept.
OBSERVABLES = ("loss", "sharpness", "gfs_sharpness")


def validate_observe(observe, allowed=OBSERVABLES) -> tuple[str, ...]:
    """``observe`` as a tuple of known observable names (a single name is accepted)."""
    if isinstance(observe, str):
        observe = (observe,)
    try:
        names = tuple(observe)
    except TypeError:
        raise TypeError(f"observe must be a name or a sequence of names from {allowed}; "
                        f"got {type(observe).__name__}") from None
    bad = [o for o in names if not isinstance(o, str) or o not in allowed]
    if bad:
        raise ValueError(f"observe must name observables from {allowed}; got {bad}")
    return names


def _run_recorded(W, batch, steps, record_every, advance, observer, progress, config, *, sync=None, desc="GD",
                  observe=("loss",), labels=None):
    """The scalar family's adapter onto the engine's driver (:func:`gdsim.dynamics._driver.drive`): records and result.

    ``W`` is the host (D, B) structure-of-arrays state; ``advance(lo, hi)`` runs steps ``lo .. hi-1`` of every
    trajectory (the family's fused kernel, on the host or on the GPU), ``sync()`` makes ``W`` current (a GPU
    stepper's copy back); ``observer(W, want, loss, sharp, phi)`` fills the wanted observables (``want`` = three
    flags) of one record. The observables named in ``observe`` are computed during the run; the others are lazy
    outputs of the result, computed from the recorded weights on first access by the same kernel (same bits).
    """
    t = record_times(steps, record_every)
    D, B = W.shape
    R = t.size
    w_rec = np.empty((R, B, D))  # the result's layout, written by a parallel transposing copy per record
    to_soa = k.to_soa_parallel if B >= PARALLEL_MIN_BATCH else k.to_soa_serial
    want = tuple(name in observe for name in OBSERVABLES)
    loss, sharp, phi = (np.empty((R, B)) if w else np.empty((0, 0)) for w in want)

    def record(r):
        to_soa(W.T, w_rec[r].T)  # (D, B) state -> (B, D) record
        if any(want):
            observer(W, want, loss[r] if want[0] else loss, sharp[r] if want[1] else sharp,
                     phi[r] if want[2] else phi)

    wall = drive(t, advance, record, sync=sync, progress=progress, desc=desc)
    diverged = ~np.all(np.isfinite(W), axis=0)
    eager = {name: arr.reshape((R, *batch)) for name, arr, w in zip(OBSERVABLES, (loss, sharp, phi), want) if w}

    def later(i):
        def compute():
            out = np.empty((R, B))
            flags = tuple(j == i for j in range(3))
            empty = np.empty((0, 0))
            for r in range(R):
                observer(_soa(w_rec[r]), flags, *(out[r] if j == i else empty for j in range(3)))
            return out.reshape((R, *batch))
        return compute

    bdims = run_dims(batch, labels)
    dims = dict(w=("step", *bdims, "param"), diverged=bdims, **{name: ("step", *bdims) for name in OBSERVABLES})
    arrays = dict(t=t, w=w_rec.reshape((R, *batch, D)), **eager, diverged=diverged.reshape(batch))
    lazy = {name: later(i) for i, name in enumerate(OBSERVABLES) if not want[i]}
    return stepped_result(arrays, dims, meta=dict(config={**config, "observe": list(observe)}, wall_time_s=wall),
                          batch=batch, labels=labels, lazy=lazy)


# ----------------------------------------------------------------------------------------------- observables
def _batched(w, kernel, *args):
    w = _weights(w, "w")
    batch = w.shape[:-1]
    W = _soa(w)
    out = np.empty(W.shape[1])
    kernel(W, *args, out)
    return out.reshape(batch)


def sharpness(w, *, a=1.0, b=1.0):
    """Largest eigenvalue of the Hessian of L(w) = (a/2)(prod_i w_i - b)^2.

    Parameters
    ----------
    w : array_like, shape (*batch, D)
        Weights, finite, D >= 2.
    a, b : float
        Loss constants (a > 0, b != 0).

    Returns
    -------
    ndarray, shape batch
        S(w) = lambda_max(Hessian); at a global minimiser S = a b^2 sum_i 1 / w_i^2.

    Notes
    -----
    Kreisler et al., ICML 2023 (arXiv:2305.13064): classical stability of GD needs S <= 2 / eta.
    """
    a, b = _loss_constants(a, b)
    return _batched(w, k.batch_sharpness, a, b)


def gfs_sharpness(w, *, a=1.0, b=1.0):
    """Sharpness of the gradient-flow solution (GFS) reached from ``w``, exactly.

    All w_i^2 - w_j^2 are conserved by gradient flow, so the GFS has squares w_i^2 + c with one shift c
    fixed by prod_i (w_i^2 + c) = b^2; then phi(w) = a b^2 sum_i 1 / (w_i^2 + c). The root is found in
    log form for the smallest GFS square (no cancellation, monotone Newton).

    Parameters
    ----------
    w : array_like, shape (*batch, D)
    a, b : float
        Loss constants (a > 0, b != 0).

    Returns
    -------
    ndarray, shape batch
        phi(w); NaN for degenerate starts from which gradient flow ends on a saddle (two or more zero
        weights, or a tie for the smallest |w_i| when sign(prod w) != sign(b)).

    Notes
    -----
    Kreisler et al., ICML 2023 (arXiv:2305.13064), prove phi(w_t) is non-increasing along GD.
    phi >= a D |b|^(2 - 2/D), with equality at the balanced minimiser.
    """
    a, b = _loss_constants(a, b)
    out = _batched(w, k.batch_gfs_sharpness, a, b)
    _warn_saddles(np.isnan(out))
    return out


def _warn_saddles(nan_mask):
    """A NaN GFS is an answer (gradient flow ends on a saddle, not a minimum), never a silent one: say so."""
    n_bad = int(np.count_nonzero(nan_mask))
    if n_bad:
        warnings.warn(f"{n_bad} of {np.size(nan_mask)} start(s) flow to a saddle (two or more zero weights, or a tie "
                      "for the smallest |w_i| with sign(prod w) != sign(b)): no gradient-flow solution, NaN there",
                      v.NonFiniteResultWarning, stacklevel=3)


def gfs(w, *, a=1.0, b=1.0):
    """The gradient-flow solution lim_{t->inf} of dw/dt = -grad L(w) started at ``w``, exactly.

    Parameters
    ----------
    w : array_like, shape (*batch, D)
    a, b : float
        Loss constants (``a`` does not move the GFS, only the speed of the flow; it is validated).

    Returns
    -------
    ndarray, shape (*batch, D)
        Squares w_i^2 + c; signs kept, except that when sign(prod w) != sign(b) gradient flow sends
        the smallest-|w_i| weight through zero, so that weight changes sign. NaN rows for degenerate
        starts (flow ends on a saddle).

    Notes
    -----
    Kreisler et al., ICML 2023 (arXiv:2305.13064), section on GF invariants of scalar networks.
    """
    _loss_constants(a, b)
    w = _weights(w, "w")
    W = _soa(w)
    out = np.empty_like(W)
    k.batch_gfs(W, b, out)
    _warn_saddles(np.isnan(out).any(axis=0))
    return np.ascontiguousarray(out.T).reshape(w.shape)


@renamed_keywords(D="depth")
def min_gfs_sharpness(depth, *, a=1.0, b=1.0):
    """Smallest possible GFS sharpness a depth |b|^(2 - 2/depth) (balanced minimiser); GD cannot converge when
    2 / eta is below it."""
    depth = v.integer(depth, "depth", lo=2)
    a, b = _loss_constants(a, b)
    return a * depth * abs(b) ** (2.0 - 2.0 / depth)


def _scalar_result_a(result):
    """The loss constant a of a scalar-network GD result (TypeError for anything else)."""
    config = result.meta.get("config", {}) if isinstance(result, Result) else {}
    if config.get("model") != "scalar_network" or "loss" not in result:
        raise TypeError(f"result must be the Result of gdsim.scalar.gd or gpu_gd; got "
                        f"{type(result).__name__}{' of model ' + repr(config.get('model')) if config else ''}")
    return config["a"]


def converged(result, *, tol=1e-12):
    """Boolean (*batch) mask of trajectories whose final |prod w - b| < ``tol`` (float floor ~1e-15 D)."""
    a = _scalar_result_a(result)
    tol = v.real_scalar(tol, "tol", lo=0.0, lo_open=True)
    return np.sqrt(2.0 * result.loss[-1] / a) < tol


def first_converged_step(result, *, tol=1e-13):
    """First recorded step with |prod w - b| < ``tol`` (-1 where never); use ``record_every=1``."""
    a = _scalar_result_a(result)
    tol = v.real_scalar(tol, "tol", lo=0.0, lo_open=True)
    ok = np.sqrt(2.0 * result.loss / a) < tol
    idx = np.where(ok.any(axis=0), ok.argmax(axis=0), -1)
    return np.where(idx >= 0, result.t[np.maximum(idx, 0)], -1)


# ----------------------------------------------------------------------------------------------- GPU
@renamed_keywords(eta="lr")
def gpu_gd(w0, lr, steps, *, a=1.0, b=1.0, record_every=1, blowup=1e6, parallel=None, progress=False,
           observe=("loss",)):
    """CUDA variant of :func:`gd`: same signature, same result (to rounding).

    One GPU thread per trajectory advances the weights between record points; the record-point
    observables are computed on the host with the CPU kernels (``parallel`` selects those).

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.

    Notes
    -----
    Kreisler et al., ICML 2023 (arXiv:2305.13064). Depth is limited to ``MAX_D = 64`` on the GPU.
    """
    return _gd(w0, lr, steps, a, b, record_every, blowup, parallel, progress, observe, backend="cuda")
