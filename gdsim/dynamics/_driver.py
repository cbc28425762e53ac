"""The engine's driver: the one record loop and the one stepped-result builder of gdsim.

Every stepped run in the package, whatever its family, goes through :func:`drive` (advance a batch of runs
between record points, record, move the progress bar, time it) and becomes a :class:`gdsim.Result` through
:func:`stepped_result` (an integer ``step`` coordinate ``t``, physical ``time`` where there is one, labelled
batch dimensions, the run's configuration and the hints for outputs that were not asked for).

What a family brings is a *stepper*: ``advance(lo, hi)`` runs steps ``lo .. hi-1`` of every run in place
(its fused kernel, or the engine's generic optimiser kernel), ``sync()`` makes the host copy current (a GPU
stepper copies back; a CPU stepper needs none), and ``record(i)`` stores record ``i``. Kernels take the
index of their first step, so counter-based noise and schedules are keyed by the step, and the chunking
of a run (progress-bar updates) never changes its numbers.

This module imports no family: families import it.
"""

from __future__ import annotations

import time as _time
from typing import Callable

import numpy as np

from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, batch_dims

import re

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.records import meta as records_meta, record_times
from gdsim._core.result import labelled_batch_dims
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics import _spectral
from gdsim.dynamics._curvature import _check_model, _default_max_iter, _in_driver, gfs_sharpness

__all__ = ["drive", "chunks", "stepped_result", "Observable"]


def chunks(lo: int, hi: int, size: int):
    """(a, b) pairs covering ``lo .. hi`` in pieces of at most ``size`` steps."""
    size = max(1, int(size))
    while lo < hi:
        nxt = min(hi, lo + size)
        yield lo, nxt
        lo = nxt


def drive(times, advance: Callable[[int, int], None], record: Callable[[int], None] | None, *,
          sync: Callable[[], None] | None = None, progress: bool = False, desc: str = "GD", unit: str = "step",
          chunk: int | None = None, n_chunks: int = 100, bar_scale: float = 1.0) -> float:
    """Advance a batch of runs through the record points ``times`` and record at each: the engine's record loop.

    Parameters
    ----------
    times : array_like of int, shape (n_records,)
        Increasing step indices of the records (the first is taken before any step from ``times[0]``).
    advance : callable
        ``advance(lo, hi)`` runs steps ``lo .. hi-1`` of every run in place.
    record : callable or None
        ``record(i)`` stores record ``i`` (after ``sync``).
    sync : callable, optional
        Makes the host state current before each record (a GPU stepper's copy back).
    progress : bool
        Show a progress bar over the steps.
    desc, unit : str
        The bar's label and unit.
    chunk : int, optional
        Steps per ``advance`` call between two records; default: the whole interval without a bar, about
        ``1/n_chunks`` of the run with one (the numbers do not depend on it).
    n_chunks : int
        Bar updates per run when ``chunk`` is not given.
    bar_scale : float
        Bar units per step (a bar in physical time moves by ``dt`` per step).

    Returns
    -------
    float
        Wall-clock seconds spent advancing and recording.
    """
    t = np.asarray(times, dtype=np.int64).reshape(-1)
    total = int(t[-1] - t[0]) if t.size else 0
    if chunk is None:
        chunk = max(1, total // n_chunks) if progress else max(1, total)
    t0 = _time.perf_counter()
    with progress_bar(total * bar_scale if bar_scale != 1.0 else total, enabled=progress, desc=desc,
                      unit=unit) as bar:
        for i in range(t.size):
            if i > 0:
                for lo, hi in chunks(int(t[i - 1]), int(t[i]), chunk):
                    advance(lo, hi)
                    bar.update((hi - lo) * bar_scale if bar_scale != 1.0 else hi - lo)
                if sync is not None:
                    sync()
            elif sync is not None and record is not None:
                sync()
            if record is not None:
                record(i)
    return _time.perf_counter() - t0


def stepped_result(arrays: dict, dims: dict, *, meta: dict, batch=None, labels=None, record_dim: str = "step",
                   time=None, lazy: dict | None = None, coords=(), hints: dict | None = None) -> Result:
    """The :class:`gdsim.Result` of a stepped run: every family's runs come out the same way.

    Parameters
    ----------
    arrays, dims : dict
        The outputs and their dimension names. ``arrays["t"]`` holds the recorded step indices (dim
        ``record_dim``); it becomes the integer ``step`` coordinate.
    meta : dict
        ``config`` and anything else to keep; ``labels`` and ``hints`` are added here.
    batch : tuple of int, optional
        The run-batch shape; with ``labels`` None its axes are named ``run``/``run_i``.
    labels : (dims, coords), optional
        From :func:`gdsim._core.result.labelled_batch_dims`: named batch axes and their coordinate values.
    time : array_like, optional
        Physical time of each record (``step * dt``); added as the ``time`` coordinate on ``record_dim``.
    lazy, coords, hints
        Outputs computed on first access; further coordinate names; a message per missing output saying
        how to get it (``{"tau": "pass track_tau=True"}``).
    """
    arrays = dict(arrays)
    dims = dict(dims)
    meta = dict(meta)
    extra = list(coords)
    if "t" in arrays:
        arrays["t"] = np.asarray(arrays["t"])
        dims.setdefault("t", (record_dim,))
        extra.append("t")
    if time is not None:
        arrays["time"] = np.asarray(time, dtype=np.float64)
        dims["time"] = (record_dim,)
        extra.append("time")
    if labels is not None:
        meta["labels"] = labels[1]
    elif batch is not None:
        meta.setdefault("labels", {})
    if hints:
        meta["hints"] = {**meta.get("hints", {}), **hints}
    return Result(arrays, meta, dims=dims, coords=tuple(extra), lazy=lazy)


def run_dims(batch, labels=None) -> tuple[str, ...]:
    """The batch dimension names of a result: labelled ones where given, else ``run``/``run_i``."""
    return tuple(labels[0]) if labels is not None else batch_dims(batch)


# ============================================================================ the generic optimiser run
#: named observables (``observe=``); ``"top_k:K"``, ``"gradient_overlap:K"`` and user callables are accepted too
OBSERVABLES = ("loss", "grad_norm", "w", "sharpness", "gfs_sharpness", "test_loss", "test_accuracy", "accuracy",
               "preconditioned_sharpness")
#: a run whose parameters leave [-BLOWUP, BLOWUP] (or stop being finite) has diverged
BLOWUP = 1e8



# ------------------------------------------------------------------------------------------------ observables
class Observable:
    """A named observable that a family (or a user) declares to the engine: recorded at every record point.

    Parameters
    ----------
    name : str
        The result's key (``res.<name>``); a Python identifier not used by the built-in observables.
    fn : callable
        ``fn(W) -> values``: W (R, P) the parameters of the R runs at a record point (host float64; rows of
        diverged runs are NaN), returning R values, or (R, *shape) arrays (recorded as
        (n_records, *batch, *shape), extra dims ``<name>_0``, ...). Plain NumPy: it runs on the host between the
        kernels' record intervals, so it may use anything the family knows (a ground truth, a closed form).
    doc : str
        One line saying what it measures (shown in ``meta["config"]["observe"]`` listings and the docs).

    Notes
    -----
    The family packages build these for their problems (``gdsim.tubal.observe(problem)``,
    ``gdsim.adam_sharpness.observe(problem)``, ...), so a run records the paper's quantities directly,
    ``gdyn.gd(model, w0, lr, steps, observe=("loss", *gt.observe(p)))``, without keeping every iterate.

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
    >>> X = np.random.default_rng(0).standard_normal((40, 3)); Y = np.tanh(X[:, :1])
    >>> m = gm.mlp([3, 8, 1], "tanh", data=(X, Y))
    >>> norm = gdyn.Observable("w_norm", lambda W: np.linalg.norm(W, axis=1), doc="parameter norm ||w||")
    >>> res = gdyn.gd(m, m.init(seed=np.arange(2)), lr=0.1, steps=20, record_every=10, observe=("loss", norm))
    >>> res.w_norm.shape
    (3, 2)
    """

    __slots__ = ("name", "fn", "doc")

    def __init__(self, name, fn, doc=""):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Observable name must be a Python identifier (the result key); got {name!r}")
        if name in _RESERVED:
            raise ValueError(f"Observable name {name!r} is taken by a run's own output; choose another")
        if not callable(fn):
            raise TypeError(f"Observable fn must be a function fn(W (R, P)) -> (R,) values; got {fn!r}")
        if not isinstance(doc, str):
            raise TypeError(f"Observable doc must be a str; got {type(doc).__name__}")
        self.name, self.fn, self.doc = name, fn, doc

    def __repr__(self):
        return f"Observable({self.name!r}{', ' + repr(self.doc) if self.doc else ''})"

    def evaluate(self, W) -> np.ndarray:
        """``fn(W)`` checked: an array with R rows (a clear error naming the observable otherwise)."""
        try:
            out = np.asarray(self.fn(W), dtype=np.float64)
        except Exception as exc:
            raise TypeError(f"Observable {self.name!r}: fn(W) with W of shape {W.shape} raised "
                            f"{type(exc).__name__}: {exc}") from exc
        if out.ndim == 0 or out.shape[0] != W.shape[0]:
            raise ValueError(f"Observable {self.name!r}: fn(W) must return one value (or array) per run, shape "
                             f"({W.shape[0]}, ...); got shape {out.shape}")
        return out


#: result keys an Observable may not take
_RESERVED = ("t", "time", "step", "w_final", "diverged", "diverged_step", "lr", "threshold", "n_loss_increases",
             "temperature", "stopped", "stopped_step", "first_eos_step", "eos_ratio")


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
        self.host = []  # Observable values (family or user observables evaluated on the host at record points)
        self.spectral = {}  # the observables of gdsim.dynamics._spectral (trace, spectral_density, ...)
        for it in items:
            if isinstance(it, Observable):
                if any(o.name == it.name for o in self.host):
                    raise ValueError(f"observe holds two Observables named {it.name!r}")
                self.host.append(it)
                continue
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
        taken = {*self.names, *(n for n, _ in self.user), *_spectral.listed(self)}
        clash = [o.name for o in self.host if o.name in taken]
        if clash:
            raise ValueError(f"observe asks for {clash} both as a built-in observable and as an Observable; "
                             f"rename the Observable")
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
                       *(o.name for o in self.host), *_spectral.listed(self)]




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
        self.n_rec = n_rec
        self.host = {}  # name -> (n_rec, R, *shape), allocated at the first record

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
        for o in self.obs.host:
            val = o.evaluate(W)
            if o.name not in self.host:
                self.host[o.name] = np.full((self.n_rec, *val.shape), np.nan)
            elif self.host[o.name].shape[1:] != val.shape:
                raise ValueError(f"Observable {o.name!r} changed its shape between records: "
                                 f"{self.host[o.name].shape[1:]} then {val.shape}")
            self.host[o.name][i] = val


def _hyper(x, name, *, lo=0.0, lo_open=True, hi=None, hi_open=False):
    arr = v.real_array(x, name)
    if np.any(arr < lo) or (lo_open and np.any(arr == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo} everywhere; smallest value is {arr.min()}")
    if hi is not None and (np.any(arr > hi) or (hi_open and np.any(arr == hi))):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi} everywhere; largest value is {arr.max()}")
    return arr


def _run(m, w0, steps, kind, hyper, *, batch_size=None, replace=True, record_every, observe, seed, progress,
         blowup, lanczos_tol, gfs_kwargs, desc, name, backend="cpu", public_names=None, lr_schedule=None,
         stop_loss=None, ascent=None):
    m = _check_model(m)
    w0_given = w0
    w0 = m.weights(w0, "w0")
    t = record_times(steps, record_every)  # validates both
    steps = int(steps)
    schedule = lr_schedule_array(lr_schedule, steps)
    if schedule.size and backend == "cuda":
        raise ValueError("lr_schedule runs on the CPU engine only (gdsim.dynamics.gd); give lr_schedule=None on "
                         "the GPU")
    if stop_loss is not None:
        if backend == "cuda":
            raise ValueError("stop_loss runs on the CPU engine only (gdsim.dynamics.gd); give stop_loss=None on "
                             "the GPU")
        if batch_size is not None:
            raise ValueError("stop_loss needs the full-batch loss at every step: give it to a full-batch optimiser "
                             "(gd, momentum, adam, rmsprop, Langevin), not sgd")
        stop_loss = v.real_array(stop_loss, "stop_loss", allow_nonfinite=True)  # -inf: that run never stops
        if np.any(np.isnan(stop_loss)):
            raise ValueError("stop_loss must not be NaN (give -inf for a run that should never stop)")
    progress = v.flag(progress, "progress")
    blowup = v.real_scalar(blowup, "blowup", lo=0.0, lo_open=True)
    lanczos_tol = v.real_scalar(lanczos_tol, "lanczos_tol", lo=0.0, hi=1e-1, lo_open=True)
    obs = _Observe(observe, m, kind)
    hyper = dict(hyper)
    groups = None
    if isinstance(hyper["lr"], dict):  # one learning rate per parameter group (see _lr_arg)
        if backend != "cpu":
            raise ValueError("a per-group lr (a dict) runs on the CPU engine only; give one lr")
        groups = _group_lrs(m, hyper.pop("lr"))
        hyper = {**{f"lr_{g}": a for g, a in groups.items()}, **hyper}
    try:
        batch = np.broadcast_shapes(w0.shape[:-1], *(h.shape for h in hyper.values()),
                                    *(() if batch_size is None else (np.shape(batch_size),)),
                                    *(() if stop_loss is None else (stop_loss.shape,)))
    except ValueError:
        shapes = {"w0 batch": w0.shape[:-1], **{n: h.shape for n, h in hyper.items()}}
        raise ValueError(f"the batch shapes do not broadcast: {shapes}") from None
    R = int(np.prod(batch, dtype=np.int64)) if batch else 1
    P = m.n_params
    _check_record_budget(batch, P, t.size, obs, updates=float(R) * steps * P)
    W = np.ascontiguousarray(np.broadcast_to(w0, (*batch, P)).reshape(R, P)).copy()
    per_run = {n: np.ascontiguousarray(np.broadcast_to(h, batch).reshape(R)).astype(np.float64) for n, h in hyper.items()}
    if groups is None:
        lr = per_run["lr"]
        LR = lr.reshape(R, 1)
        gid = np.zeros(P, dtype=np.int64)
    else:
        LR = np.ascontiguousarray(np.stack([per_run[f"lr_{g}"] for g in groups], axis=1))
        gid = np.empty(P, dtype=np.int64)
        for q, grp in enumerate(m.groups):
            gid[grp.start:grp.stop] = q
        # the diagnostics (threshold, eos ratio, res.lr) use the largest group lr: the first group to leave
        # its stable range along a direction inside one group
        lr = per_run["lr"] = LR.max(axis=1)
    if ascent is not None:  # descent-ascent: the ascent parameters step with -ratio x their group's lr
        G = LR.shape[1]
        LR = np.ascontiguousarray(np.concatenate([LR, -per_run["ratio"][:, None] * LR], axis=1))
        gid = gid + G * ascent.astype(np.int64)
    beta1 = per_run.get("beta1", np.zeros(R))
    beta2 = per_run.get("beta2", np.zeros(R))
    eps = per_run.get("eps", np.zeros(R))
    temperature = per_run.get("temperature", np.zeros(R))
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
    stop = (np.zeros(0) if stop_loss is None
            # a writable copy: a read-only view would compile a second specialisation of the kernel, whose
            # machine code (and so its last bits) may differ from the one runs without stop_loss use
            else np.ascontiguousarray(np.broadcast_to(stop_loss, batch).reshape(R)).astype(np.float64))
    stopped_step = np.full(R, -1, dtype=np.int64)
    records = _Records(m, obs, t.size, keys)
    chunk = max(1, steps // 100) if progress else max(1, steps)
    names = public_names or {}
    label_src = {names.get(k, k): h for k, h in hyper.items()}
    if batch_size is not None:
        label_src["batch_size"] = np.asarray(batch_size)
    labels = labelled_batch_dims(batch, label_src, w0_given)

    def advance(lo, hi):
        kern.advance(h.loss_grad, h.gather, m.data, W, M1, M2, kind, LR, gid, schedule, beta1, beta2, eps,
                     temperature, bs, bool(replace), m.n_samples, keys, lo, hi, blowup, diverged, diverged_step,
                     last_loss, n_inc, stop, stopped_step)

    def sync():
        pass

    if backend == "cuda":
        advance, sync = _cuda_stepper(m, W, lr, blowup, diverged, diverged_step, last_loss, n_inc)
    elif (m._gd_step_batch is not None and kind == kern.GD and batch_size is None and groups is None
          and not schedule.size and not stop.size and ascent is None):
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
                                                batch_size=None if batch_size is None else np.unique(bs).tolist(),
                                                **({} if groups is None else {"lr_groups": list(groups)}),
                                                **({} if not schedule.size else {"lr_schedule": dict(
                                                    first=float(schedule[0]), last=float(schedule[-1]),
                                                    min=float(schedule.min()), max=float(schedule.max()))}),
                                                **({} if not stop.size else {"stop_loss": stop_loss.tolist()
                                                                             if stop_loss.size <= 16 else "array"})),
                   stopped_step=stopped_step if stop.size else None)


def _lr_arg(lr, name="lr"):
    """A validated ``lr``: an array (> 0) broadcast against the batch, or a dict of them, one per group."""
    if isinstance(lr, dict):
        if not lr:
            raise ValueError(f"{name} as a dict needs one entry per parameter group (m.groups); got an empty dict")
        out = {}
        for g, a in lr.items():
            if not isinstance(g, str):
                raise TypeError(f"{name} dict keys must be parameter-group names (str, from m.groups); got {g!r}")
            out[g] = _hyper(a, f"{name}[{g!r}]")
        return out
    return _hyper(lr, name)


def _group_lrs(m, lr):
    """The per-group learning rates of ``m`` in the order of ``m.groups`` (every group named exactly once)."""
    names = [g.name for g in m.groups]
    unknown = [g for g in lr if g not in names]
    missing = [g for g in names if g not in lr]
    if unknown or missing:
        raise ValueError(f"lr as a dict must give one learning rate per parameter group of model {m.name!r}, "
                         f"groups {names}: " + "; ".join(
                             ([f"unknown group(s) {unknown}"] if unknown else [])
                             + ([f"missing group(s) {missing}"] if missing else [])))
    return {g: lr[g] for g in names}


def lr_schedule_array(lr_schedule, steps):
    """The validated ``lr_schedule`` as a float64 array of shape (steps,) (empty for a constant lr).

    ``lr_schedule`` is None (constant lr), an array_like of ``steps`` finite multipliers >= 0, or a function
    of the step index called once on ``numpy.arange(steps)`` that returns them (e.g.
    ``lambda t: 1 / np.sqrt(1 + t)``). The lr of step t is ``lr * lr_schedule[t]``.
    """
    if lr_schedule is None:
        return np.zeros(0)
    if callable(lr_schedule):
        try:
            vals = lr_schedule(np.arange(steps))
        except Exception as exc:  # the user's function: say which argument failed and how it was called
            raise TypeError(f"lr_schedule must be a function of the step index, called once on numpy.arange(steps) "
                            f"(an integer array); calling it raised {type(exc).__name__}: {exc}") from exc
        vals = np.broadcast_to(np.asarray(vals, dtype=np.float64), (steps,)) if np.ndim(vals) == 0 else vals
    else:
        vals = lr_schedule
    arr = v.real_array(vals, "lr_schedule")
    if arr.shape != (steps,):
        raise ValueError(f"lr_schedule must hold one multiplier per step, shape (steps,) = ({steps},); got shape "
                         f"{arr.shape}")
    if np.any(arr < 0.0) or np.any(arr > 1e150):
        raise ValueError(f"lr_schedule must lie in [0, 1e150] (a multiplier of lr); got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return np.array(arr, dtype=np.float64, order="C") if steps else np.zeros(0)  # a writable copy, as the kernel's


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
            seed, name, config, record_dim="step", labels=None, stopped_step=None):
    R, P = W.shape
    n_rec = t.size
    rec, w_rec, iters = records.values, records.w, records.iters
    bd, label_coords = labels if labels is not None else (batch_dims(batch), {})
    arrays = dict(t=t, diverged=diverged.reshape(batch), diverged_step=diverged_step.reshape(batch),
                  w_final=W.reshape((*batch, P)))
    dims = dict(t=(record_dim,), diverged=bd, diverged_step=bd, w_final=(*bd, "param"))
    if stopped_step is not None:  # stop_loss given: the step each run stopped at (-1: ran to the end)
        arrays["stopped_step"] = stopped_step.reshape(batch)
        arrays["stopped"] = (stopped_step >= 0).reshape(batch)
        dims["stopped_step"] = dims["stopped"] = bd
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
        for g in config.get("lr_groups", ()):  # per-group learning rates (res.lr is their maximum)
            arrays[f"lr_{g}"] = per_run[f"lr_{g}"].reshape(batch)
            dims[f"lr_{g}"] = bd
        if kind == kern.LANGEVIN:
            arrays["temperature"] = per_run["temperature"].reshape(batch)
            dims["temperature"] = bd
        if "ratio" in per_run:  # descent-ascent's time-scale ratio
            arrays["ratio"] = per_run["ratio"].reshape(batch)
            dims["ratio"] = bd
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
    for o in obs.host:  # the declared observables: (n_records, *batch, *shape)
        val = records.host[o.name]
        arrays[o.name] = val.reshape((n_rec, *batch, *val.shape[2:]))
        dims[o.name] = (record_dim, *bd, *(f"{o.name}_{j}" for j in range(val.ndim - 2)))
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
