"""The optimisers as functions (gd, sgd, momentum, adam, rmsprop, gradient_flow, gpu_gd) and the names the rest of
the package imports from here; the machinery lives in :mod:`gdsim.dynamics._driver` (the record loop, records,
results) and :mod:`gdsim.dynamics._curvature` (Lanczos, GFS)."""

from __future__ import annotations


import numpy as np

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.jit import honours_parallel
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics._driver import drive
from gdsim.dynamics._curvature import _check_model, _flow_args, _in_driver
from gdsim.dynamics._driver import BLOWUP, _Observe, _Records, _check_record_budget, _hyper, _lr_arg, _result, _run


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
    lr_schedule : array_like or callable, optional
        A learning-rate schedule: the lr of step t is ``lr * lr_schedule[t]``, for every run and parameter group
        (``lr`` stays the per-run, per-group base). An array of ``steps`` multipliers in [0, 1e150], or a
        function called once on ``numpy.arange(steps)`` that returns them (``lambda t: 1 / np.sqrt(1 + t)``;
        Daneshmand et al.'s gamma_k, an annealing). None (default): constant lr. ``res.lr`` and
        ``res.threshold`` refer to the base lr; ``meta["config"]["lr_schedule"]`` summarises the schedule.
    stop_loss : float or array_like, optional
        Stop condition, per run (broadcast against the batch): a run stops at the first step whose full-batch
        loss is <= stop_loss (before that step's update) and keeps its parameters from then on, while the
        other runs go on with the same numbers as without it (e.g. the perceptron at zero hinge loss).
        ``res.stopped_step`` (-1: never) and ``res.stopped``. Full-batch optimisers only (a ValueError for
        ``sgd``); the GPU refuses it. None (default): no stopping.

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
       blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """Full-batch gradient descent w <- w - lr grad L(w), batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
        Initial parameters (e.g. ``m.init(seed, batch=(8,))``).
    lr : float, array_like or dict
        Learning rates (> 0), broadcast against the batch (an lr x seed grid: ``lr[:, None]`` with w0 (S, P)),
        or one per parameter group: ``{group name: lr}`` with every group of ``m.groups`` named once, each
        entry broadcast against the batch like a scalar lr (e.g. ``{"W0": lr0[:, None], "W1": lr1}`` for an
        lr0 x lr1 grid, whose dims are then labelled ``lr_W0``, ``lr_W1``). Parameter i steps with the lr
        of its group; ``res.lr`` and the threshold use the largest group lr, ``res.lr_<group>`` holds each.
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
    hyper = dict(lr=_lr_arg(lr))
    return _run(m, w0, steps, kern.GD, hyper, record_every=record_every, observe=observe, seed=seed, progress=progress,
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss, desc="GD", name="gd")


@_doc
@honours_parallel
def sgd(m, w0, lr, steps, *, batch_size, replace=True, momentum=0.0, nesterov=False, record_every=1,
        observe=("loss",), seed=0, progress=False, parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None,
        lr_schedule=None, stop_loss=None):
    """Minibatch SGD (optionally with momentum), batched over runs, one counter-based stream per run.

    Parameters
    ----------
    m : gdsim.models.Model
        With per-sample data (``m.per_sample``).
    w0 : array_like, shape (*batch, P)
    lr : float, array_like or dict
        Learning rates (> 0), broadcast against the batch, or ``{group name: lr}`` per parameter group (as in
        :func:`gd`).
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
    hyper = dict(lr=_lr_arg(lr), beta1=mom)
    return _run(m, w0, steps, kind, hyper, batch_size=bs, replace=replace, record_every=record_every, observe=observe,
                seed=seed, progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss,
                desc="SGD", name="sgd", public_names={"beta1": "momentum"})


@_doc
@honours_parallel
def momentum(m, w0, lr, steps, *, beta=0.9, nesterov=False, record_every=1, observe=("loss",), seed=0, progress=False,
             parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """Full-batch heavy-ball (m <- beta m + g, w <- w - lr m) or Nesterov (w <- w - lr (g + beta m)) momentum.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float, array_like or dict
        (> 0), broadcast against the batch, or ``{group name: lr}`` per parameter group (as in :func:`gd`).
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
    hyper = dict(lr=_lr_arg(lr), beta1=_hyper(beta, "beta", lo=0.0, lo_open=False, hi=1.0, hi_open=True))
    return _run(m, w0, steps, kern.NESTEROV if nesterov else kern.HEAVY_BALL, hyper, record_every=record_every,
                observe=observe, seed=seed, progress=progress, blowup=blowup, lanczos_tol=lanczos_tol,
                gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss,
                desc="momentum", name="nesterov" if nesterov else "heavy_ball",
                public_names={"beta1": "beta"})


@_doc
@honours_parallel
def adam(m, w0, lr, steps, *, beta1=0.9, beta2=0.999, eps=1e-8, record_every=1, observe=("loss",), seed=0,
         progress=False, parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None,
         lr_schedule=None, stop_loss=None):
    """Full-batch Adam (bias-corrected, Kingma & Ba 2015), batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float, array_like or dict
        (> 0), broadcast against the batch, or ``{group name: lr}`` per parameter group (as in :func:`gd`).
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
    hyper = dict(lr=_lr_arg(lr), beta1=_hyper(beta1, "beta1", lo=0.0, lo_open=False, hi=1.0, hi_open=True),
                 beta2=_hyper(beta2, "beta2", lo=0.0, lo_open=False, hi=1.0, hi_open=True), eps=_hyper(eps, "eps"))
    return _run(m, w0, steps, kern.ADAM, hyper, record_every=record_every, observe=observe, seed=seed, progress=progress,
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss, desc="Adam", name="adam")


@_doc
@honours_parallel
def rmsprop(m, w0, lr, steps, *, beta=0.99, eps=1e-8, record_every=1, observe=("loss",), seed=0, progress=False,
            parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """Full-batch RMSProp: s <- beta s + (1 - beta) g^2, w <- w - lr g / (sqrt(s) + eps).

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
    lr : float, array_like or dict
        (> 0), broadcast against the batch, or ``{group name: lr}`` per parameter group (as in :func:`gd`).
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
    hyper = dict(lr=_lr_arg(lr), beta2=_hyper(beta, "beta", lo=0.0, lo_open=False, hi=1.0, hi_open=True),
                 eps=_hyper(eps, "eps"))
    return _run(m, w0, steps, kern.RMSPROP, hyper, record_every=record_every, observe=observe, seed=seed,
                progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss,
                desc="RMSProp", name="rmsprop", public_names={"beta2": "beta"})


@honours_parallel
def _langevin(m, w0, lr, steps, *, temperature, record_every=1, observe=("loss",), seed=0, progress=False,
              parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """Euler-Maruyama Langevin dynamics (run it as ``run(m, Langevin(temperature), ...)``)."""
    hyper = dict(lr=_lr_arg(lr), temperature=_hyper(temperature, "temperature", lo=0.0, lo_open=False, hi=1e150))
    return _run(m, w0, steps, kern.LANGEVIN, hyper, record_every=record_every, observe=observe, seed=seed,
                progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss,
                desc="Langevin", name="langevin")


def ascent_mask(m, ascent) -> np.ndarray:
    """The (P,) mask of the parameters that ascend: ``ascent`` names groups of ``m.groups`` (a str or a tuple of
    them), or is an int k (parameters k .. P-1, the second player of a custom model)."""
    P = m.n_params
    mask = np.zeros(P, dtype=np.bool_)
    if isinstance(ascent, (int, np.integer)) and not isinstance(ascent, bool):
        k = v.integer(int(ascent), "ascent", lo=1, hi=P - 1)
        mask[k:] = True
        return mask
    names = (ascent,) if isinstance(ascent, str) else ascent
    if not isinstance(names, (tuple, list)) or not names or not all(isinstance(g, str) for g in names):
        raise TypeError(f"ascent must name parameter groups (a str or a tuple of str from m.groups) or be an int k "
                        f"(parameters k.. ascend); got {ascent!r}")
    groups = {g.name: g for g in m.groups}
    unknown = [g for g in names if g not in groups]
    if unknown:
        raise ValueError(f"ascent names unknown group(s) {unknown}; model {m.name!r} has groups {list(groups)} "
                         f"(or give an int k: parameters k.. ascend)")
    for g in names:
        mask[groups[g].start:groups[g].stop] = True
    if mask.all():
        raise ValueError(f"ascent covers every parameter of model {m.name!r}: a descent-ascent needs both players")
    return mask


@honours_parallel
def _gda(m, w0, lr, steps, *, ascent, ratio=1.0, record_every=1, observe=("loss",), seed=0, progress=False,
         parallel=None, blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """Gradient descent-ascent (run it as ``run(m, GDA(ascent, ratio), ...)``)."""
    m = _check_model(m)
    mask = ascent_mask(m, ascent)
    hyper = dict(lr=_lr_arg(lr), ratio=_hyper(ratio, "ratio", hi=1e150))
    return _run(m, w0, steps, kern.GD, hyper, record_every=record_every, observe=observe, seed=seed,
                progress=progress, blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss, desc="GDA", name="gda", ascent=mask)


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
           blowup=BLOWUP, lanczos_tol=1e-10, gfs_kwargs=None, lr_schedule=None, stop_loss=None):
    """:func:`gd` on a CUDA GPU for the zoo MLPs (:func:`gdsim.models.mlp`, :func:`gdsim.models.deep_linear`).

    Same signature and result as :func:`gd`. One GPU thread per run; the record-point observables are
    computed on the host by the CPU kernels from the copied-back parameters.

    Parameters
    ----------
    m : gdsim.models.Model
        A zoo MLP.
    w0 : array_like, shape (*batch, P)
    lr : float or array_like
        (> 0), broadcast against the batch (a per-group dict runs on the CPU engine only: ValueError here).
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
                blowup=blowup, lanczos_tol=lanczos_tol, gfs_kwargs=gfs_kwargs or {},
                lr_schedule=lr_schedule, stop_loss=stop_loss, desc="GD (cuda)", name="gd",
                backend="cuda")
