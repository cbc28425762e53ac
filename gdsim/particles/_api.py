"""Public API of :mod:`gdsim.particles`: objectives, exact optima and (noisy) particle gradient descent."""

from __future__ import annotations

from gdsim._core.jit import honours_parallel

import dataclasses
import math

import numpy as np

from gdsim._core import records
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.result import Result
from gdsim._core.validate import check_budget, integer, real_array, real_scalar
from gdsim.dynamics._driver import drive, run_dims, stepped_result
from gdsim.particles import _kernels as k

OBJECTIVES = ("energy", "energy_uniform", "nn_circle", "w2_sparse", "interaction")
STEP_SCHEDULES = ("inv_sqrt", "constant", "strongly_convex")
NOISE_SCALINGS = ("none", "sqrt_n")

_REFERENCE = ("Daneshmand, Lee, Jin, 'Efficient displacement convex optimization with particle gradient "
              "descent', ICML 2023, arXiv:2302.04753")


@dataclasses.dataclass(frozen=True)
class Objective:
    """A validated objective: kernel code, target data, scale (see ``gdsim/particles/_kernels.py``)."""

    name: str
    kind: int
    v: np.ndarray
    scale: float = 1.0
    lam: float = 0.0
    center: np.ndarray | None = None

    @property
    def dim(self) -> int | None:
        """Particle dimension: 1 for the 1-D objectives, ``None`` (any d >= 2) for ``interaction``."""
        return None if self.name == "interaction" else 1


def make_objective(objective: str, *, target=None, interval=(-1.0, 1.0), lam: float = 1.0, center=None) -> Objective:
    """Build an :class:`Objective` from its name and data.

    Parameters
    ----------
    objective : {"energy", "energy_uniform", "nn_circle", "w2_sparse", "interaction"}
        ``energy``: 1-D energy distance E(mu, nu) to the discrete target ``target`` (atoms, weights 1/m).
        ``energy_uniform``: 1-D energy distance to U[a, b], ``interval = (a, b)``.
        ``nn_circle``: the two-layer network with 2-D inputs on the circle, in angle form
        (L = E / (2 pi) on angles in [0, pi]); ``target`` angles, or ``None`` for the uniform half circle.
        ``w2_sparse``: W_2^2 (unnormalised: a sum over particles) to an n-sparse 1-D ``target``.
        ``interaction``: the d >= 2 example (1/n) sum (lam/2)|w_i - center|^2 + (1/(2n^2)) sum |w_i - w_j|^4/4.
    """
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")
    # every argument is checked, also those this objective does not use (a NaN there is still a mistake)
    lam = real_scalar(lam, "lam", lo=0.0, lo_open=True)
    c = None if center is None else real_array(center, "center", min_ndim=1)
    if c is not None and c.ndim != 1:
        raise ValueError(f"center must be a 1-D point; got shape {c.shape}")
    a, b = _interval(interval)
    if objective in ("energy", "w2_sparse") or (objective == "nn_circle" and target is not None):
        if target is None:
            raise ValueError(f"objective {objective!r} needs a target (1-D array of atoms)")
        v = real_array(target, "target")
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"target must be a non-empty 1-D array of atoms; got shape {v.shape}")
        v = np.sort(v)
        if objective == "nn_circle":
            if v[0] < 0 or v[-1] > math.pi:
                raise ValueError("nn_circle target angles must lie in [0, pi] (the upper half circle)")
            return Objective(objective, k.KIND_ENERGY, v, scale=1.0 / (2.0 * math.pi))
        return Objective(objective, k.KIND_W2 if objective == "w2_sparse" else k.KIND_ENERGY, v)
    if objective == "energy_uniform":
        return Objective(objective, k.KIND_UNIFORM, np.array([a, b]))
    if objective == "nn_circle":
        return Objective(objective, k.KIND_UNIFORM, np.array([0.0, math.pi]), scale=1.0 / (2.0 * math.pi))
    return Objective(objective, -1, np.zeros(0), lam=lam, center=c)


def _interval(interval):
    if isinstance(interval, (str, bytes)) or not hasattr(interval, "__len__") or len(interval) != 2:
        raise TypeError(f"interval must be a pair (a, b) of real numbers; got {interval!r}")
    try:
        a, b = (real_scalar(x, "interval") for x in interval)
    except TypeError:
        raise TypeError(f"interval must be a pair (a, b) of real numbers; got {interval!r}") from None
    if not a < b:
        raise ValueError(f"interval must have a < b; got {interval!r}")
    return a, b


# ------------------------------------------------------------------------------------ evaluation


def _as_objective(objective, **kw) -> Objective:
    return objective if isinstance(objective, Objective) else make_objective(objective, **kw)


def _particles_1d(w, obj, name="w"):
    w = real_array(w, name, min_ndim=1)
    if w.shape[-1] < 1:
        raise ValueError(f"{name} must hold at least one particle (n >= 1)")
    if obj.name == "nn_circle" and (w.min() < 0 or w.max() > math.pi):
        # outside [0, pi] the energy form is not the network loss (the angle form needs the upper half circle)
        raise ValueError(f"{name}: nn_circle angles must lie in [0, pi]; got values in [{w.min():.6g}, {w.max():.6g}]")
    if obj.kind == k.KIND_W2 and w.shape[-1] != obj.v.size:
        raise ValueError(f"w2_sparse needs as many particles as target atoms: n = {w.shape[-1]}, "
                         f"m = {obj.v.size}")
    return w


def _particles_nd(w, obj):
    w = real_array(w, "w", min_ndim=2)
    n, d = w.shape[-2:]
    if n < 1:
        raise ValueError("w must hold at least one particle (n >= 1)")
    if d < 2:
        raise ValueError(f"the interaction objective is the d >= 2 example; got particles of dimension {d}")
    if obj.center is not None and obj.center.shape != (d,):
        raise ValueError(f"center must have shape ({d},); got {obj.center.shape}")
    return w


def objective_value(w, objective, **kw) -> np.ndarray:
    """Exact objective of particles ``w`` (shape (..., n) in 1-D, (..., n, d) for ``interaction``).

    Keyword arguments are those of :func:`make_objective`. Returns an array of shape ``w.shape[:-1]``
    (1-D) or ``w.shape[:-2]`` (``interaction``).
    """
    obj = _as_objective(objective, **kw)
    if obj.name == "interaction":
        w = _particles_nd(w, obj)
        batch = w.shape[:-2]
        flat = w.reshape(-1, *w.shape[-2:])
        out = np.empty(flat.shape[0])
        for r, x in enumerate(flat):
            X = np.ascontiguousarray(x.T)
            out[r] = k.interaction_grad(X, obj.lam, _center(obj, X.shape[0]), np.empty_like(X))
        return out.reshape(batch)
    w = _particles_1d(w, obj)
    flat = w.reshape(-1, w.shape[-1])
    out = np.empty(flat.shape[0])
    k.value_1d_batch(flat, obj.kind, obj.v, obj.scale, out)
    return out.reshape(w.shape[:-1])


def objective_grad(w, objective, **kw) -> np.ndarray:
    """(Sub)gradient with respect to every particle (same shape as ``w``); sign(0) = 0 at ties."""
    obj = _as_objective(objective, **kw)
    if obj.name == "interaction":
        w = _particles_nd(w, obj)
        flat = w.reshape(-1, *w.shape[-2:])
        out = np.empty_like(flat)
        for r, x in enumerate(flat):
            X = np.ascontiguousarray(x.T)
            G = np.empty_like(X)
            k.interaction_grad(X, obj.lam, _center(obj, X.shape[0]), G)
            out[r] = G.T
        return out.reshape(w.shape)
    w = _particles_1d(w, obj)
    flat = w.reshape(-1, w.shape[-1])
    G = np.empty_like(flat)
    k.grad_1d_batch(flat, obj.kind, obj.v, obj.scale, G)
    return G.reshape(w.shape)


def _center(obj, d):
    return np.zeros(d) if obj.center is None else obj.center


def energy_distance(w, target="uniform", *, interval=(-1.0, 1.0)) -> np.ndarray:
    """Exact 1-D energy distance E(mu_w, nu) in O((n + m) log(n + m)).

    E(mu, nu) = 2 E|X - Y| - E|X - X'| - E|Y - Y'| = 2 * integral (F_mu - F_nu)^2 dx, with mu the empirical
    measure of the particles ``w`` (shape (..., n)) and nu the atoms ``target`` (weights 1/m) or, for
    ``target="uniform"``, U[a, b] with ``interval = (a, b)``.

    Notes
    -----
    Daneshmand, Lee, Jin (ICML 2023, arXiv:2302.04753), Fig. 1 (discrete target) and Fig. 2 (U[-1, 1]).
    For U[a, b], E|w - V| = ((w - a)^2 + (b - w)^2) / (2 (b - a)) inside and |w - (a + b)/2| outside
    (the paper prints w^2 + 1 for [-1, 1], which drops the 1/2; see the README's fidelity notes).
    """
    if isinstance(target, str):
        if target != "uniform":
            raise ValueError(f"target must be 'uniform' or an array of atoms; got {target!r}")
        return objective_value(w, "energy_uniform", interval=interval)
    return objective_value(w, "energy", target=target)


def nn_loss(theta, target=None) -> np.ndarray:
    """The two-layer network loss E_x (f_n(x) - f(x))^2 with inputs uniform on the circle, in angle form.

    f_n(x) = (1/n) sum_i 1[x . w_i > 0] with w_i = (cos theta_i, sin theta_i), theta_i in [0, pi]; the
    target network has angles ``target`` (or the uniform half circle when ``None``). Equals
    E(mu_theta, nu_theta) / (2 pi) (Daneshmand et al., corollary of Thm 2; checked by quadrature in tests).
    """
    obj = make_objective("nn_circle", target=target)
    return objective_value(_particles_1d(theta, obj, "theta"), obj)


def sparse_optimum(n: int, target: str = "uniform", *, interval=(-1.0, 1.0)) -> tuple[np.ndarray, float]:
    """The best n-sparse measure and its value, exactly.

    ``target="uniform"``: nu = U[a, b]; q_i = a + (b - a)(2i - 1)/(2n) and F*_n = (b - a)/(6 n^2)
    (= 1/(3 n^2) on [-1, 1]). ``target="half_circle"``: the network loss with the uniform half-circle
    target; theta*_i = pi (2i - 1)/(2n) and L* = 1/(12 n^2).

    Returns
    -------
    (particles, value)
    """
    n = integer(n, "n", lo=1)
    check_budget(f"n = {n}", bytes_needed=24.0 * n)
    if target == "uniform":
        a, b = _interval(interval)
        return a + (b - a) * (2 * np.arange(1, n + 1) - 1) / (2 * n), (b - a) / (6.0 * n * n)
    if target == "half_circle":
        return math.pi * (2 * np.arange(1, n + 1) - 1) / (2 * n), 1.0 / (12.0 * n * n)
    raise ValueError(f"target must be 'uniform' or 'half_circle'; got {target!r}")


# ------------------------------------------------------------------------------------ schedules


def step_sizes(step, steps: int, *, step_lambda: float | None = None) -> np.ndarray:
    """gamma[k], the step taken from w_k to w_{k+1}, k = 0..steps-1.

    ``"inv_sqrt"``: gamma_k = 1/sqrt(k) with the paper's 1-based k (Fig. 1, network corollary);
    ``"constant"``: 1/sqrt(steps) (Thm 2(b); Fig. 2); ``"strongly_convex"``: 2/(lambda (k + 1))
    (Thm 2(a); needs ``step_lambda``); a positive float: that constant; an array: used as is.
    """
    steps = integer(steps, "steps", lo=0)
    if step_lambda is not None:
        step_lambda = real_scalar(step_lambda, "step_lambda", lo=0.0, lo_open=True)
    check_budget(f"steps = {steps}", bytes_needed=16.0 * steps)
    kk = np.arange(1, steps + 1, dtype=np.float64)
    if isinstance(step, str):
        if step == "inv_sqrt":
            return 1.0 / np.sqrt(kk)
        if step == "constant":
            return np.full(steps, 1.0 / math.sqrt(max(steps, 1)))
        if step == "strongly_convex":
            if step_lambda is None:
                raise ValueError("step='strongly_convex' needs step_lambda > 0 (the displacement convexity)")
            lam = real_scalar(step_lambda, "step_lambda", lo=0.0, lo_open=True)
            return 2.0 / (lam * (kk + 1.0))
        raise ValueError(f"step must be one of {STEP_SCHEDULES}, a positive number or an array; got {step!r}")
    if np.ndim(step) == 0:
        g = real_scalar(step, "step", lo=0.0, lo_open=True)
        return np.full(steps, g)
    g = real_array(step, "step")
    if g.shape != (steps,):
        raise ValueError(f"a step array must have shape ({steps},); got {g.shape}")
    if np.any(g <= 0):
        raise ValueError("step sizes must be > 0")
    return g


# ------------------------------------------------------------------------------------ particle GD


def _prepare(w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling,
             n_records, seed, record_every=None):
    obj = _as_objective(objective, target=target, interval=interval, lam=lam, center=center)
    steps = integer(steps, "steps", lo=0)
    if obj.name == "interaction":
        w0 = _particles_nd(w0, obj)
        batch = w0.shape[:-2]
        n = w0.shape[-2]
    else:
        w0 = _particles_1d(w0, obj, "w0")
        batch = w0.shape[:-1]
        n = w0.shape[-1]
    noise = real_scalar(noise, "noise", lo=0.0)
    if not isinstance(noise_scaling, str) or noise_scaling not in NOISE_SCALINGS:
        raise ValueError(f"noise_scaling must be one of {NOISE_SCALINGS}; got {noise_scaling!r}")
    amp = noise / math.sqrt(n) if noise_scaling == "sqrt_n" else noise
    R = int(np.prod(batch)) if batch else 1
    per_step = n * n * w0.shape[-1] if obj.name == "interaction" else n * 8 + obj.v.size
    check_budget(f"w0 of shape {w0.shape} and steps = {steps}", bytes_needed=8.0 * (4 * w0.size + 2 * steps),
                 updates=float(R) * steps * per_step)
    gamma = step_sizes(step, steps, step_lambda=step_lambda)
    rec = records.resolve(steps, record_every, 60 if n_records is None and record_every is None else n_records, "log")
    keys = keys_from_seed(seed, R)
    config = dict(objective=obj.name, n=n, batch=list(batch), steps=steps, noise=noise, noise_scaling=noise_scaling,
                  step=step if isinstance(step, str) else "custom", step_lambda=step_lambda,
                  interval=list(interval) if obj.name == "energy_uniform" else None,
                  lam=obj.lam if obj.name == "interaction" else None, n_records=len(rec),
                  record_every=None if record_every is None else records.meta(record_every),
                  seed=None if seed is None or not isinstance(seed, (int, np.integer)) else int(seed),
                  reference=_REFERENCE)
    return obj, w0, batch, n, R, steps, amp, gamma, rec, keys, config


@honours_parallel
def particle_gd(w0, objective, steps, *, target=None, interval=(-1.0, 1.0), lam=1.0, center=None,
                step="inv_sqrt", step_lambda=None, noise=0.0, noise_scaling="none", n_records=None, record_every=None,
                seed=0, progress=False, parallel=None) -> Result:
    """(Noisy) particle gradient descent on a function of the empirical measure of n particles.

    w_i <- w_i - gamma_k (d F / d w_i + noise_scale * xi_i), xi_i uniform in the unit ball of R^d, for a
    batch of independent runs.

    Parameters
    ----------
    w0 : array_like
        Initial particles: shape (*batch, n) for the 1-D objectives, (*batch, n, d) for ``interaction``.
        Each leading index is an independent run (its own noise stream).
    objective : str or Objective
        See :func:`make_objective` (``target``, ``interval``, ``lam``, ``center`` are passed to it).
    steps : int
        Number of iterations K.
    step : {"inv_sqrt", "constant", "strongly_convex"}, float or array
        Step-size schedule, see :func:`step_sizes`.
    noise : float
        Noise amplitude (0 for plain particle GD). The paper's experiments use xi ~ U[-0.05, 0.05].
    noise_scaling : {"none", "sqrt_n"}
        Whether the noise is also divided by sqrt(n) as in the paper's PGD (Thm 2); the experiments'
        reading is ambiguous (spec pitfall 3), so both are offered; ``"none"`` is the default.
    n_records : int, optional
        About this many log-spaced iterations (with 0 and ``steps``) are recorded: a shorthand for
        ``record_every=gdsim.log_steps(steps, n_records)``; 60 when neither is given.
    record_every : int or array_like of int, optional
        The record schedule shared by every family (see :func:`gdsim.record_times`): every k-th step, or
        the given step indices. Give this or ``n_records``, not both.
    seed : int, SeedSequence, Generator or None
        Each run gets its own counter-based noise stream keyed from ``seed``. Default 0 (reproducible, the
        package's one seed policy); ``None`` draws fresh entropy.
    progress : bool
        tqdm bar over chunks of iterations.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``k`` (n_rec,) recorded iterations (also as ``step``, the dim name); ``value`` (n_rec, *batch) objective at those iterates;
        ``best_value``, ``best_k`` (*batch) the best iterate over every k in 0..K (evaluated exactly each
        step), ``best_w`` its particles; ``w`` the final particles; ``gamma`` the step sizes.

    Notes
    -----
    Daneshmand, Lee, Jin, ICML 2023 (arXiv:2302.04753): Thm 1 (smooth, plain GD, linear rate for
    lambda-displacement convex F) and Thm 2 (Lipschitz, noisy PGD; bounds on the *best* iterate in
    expectation, min_k E[Delta_k]). 1-D objectives cost O(n + m) per step (rank form with an
    incrementally sorted permutation); ``interaction`` costs O(n^2 d) per step. The runs go through the
    engine's record loop (:func:`gdsim.dynamics._driver.drive`) with the fused kernels as the stepper.
    """
    return _particle_run(w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling,
                         n_records, record_every, seed, progress, "cpu")


@honours_parallel
def gpu_particle_gd(w0, objective, steps, *, target=None, interval=(-1.0, 1.0), lam=1.0, center=None,
                    step="inv_sqrt", step_lambda=None, noise=0.0, noise_scaling="none", n_records=None,
                    record_every=None, seed=0, progress=False, parallel=None) -> Result:
    """CUDA variant of :func:`gdsim.particles.particle_gd`: same signature, same result (to rounding).

    The noise comes from the same counter-based generator as on the CPU, so a seed gives the same
    noise on both devices. 1-D objectives run one GPU thread per run (the batch of runs is the
    parallelism); ``interaction`` runs one thread per particle, three launches per step. The host side
    is :func:`particle_gd`'s (parameters, defaults such as ``seed=0``, and result); only the stepper differs.

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.

    Notes
    -----
    Daneshmand, Lee, Jin, ICML 2023 (arXiv:2302.04753). ``interaction`` needs d <= 16 on the GPU.
    """
    return _particle_run(w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling,
                         n_records, record_every, seed, progress, "cuda")


class _State:
    """The host arrays of a batch of particle runs (the steppers advance them; ``sync`` makes them current)."""

    def __init__(self, obj, w0, R, n, rec):
        self.nd = obj.name == "interaction"
        self.rec_val = np.full((R, rec.size), np.nan)
        if self.nd:
            d = w0.shape[-1]
            self.X = np.ascontiguousarray(np.swapaxes(w0.reshape(R, n, d), 1, 2))  # (R, d, n): structure of arrays
            self.best = np.empty((R, 2))
            self.best[:, 0], self.best[:, 1] = np.inf, -1
            self.best_X = self.X.copy()
        else:
            self.W = np.ascontiguousarray(w0.reshape(R, n)).copy()
            self.P = np.tile(np.arange(n, dtype=np.int64), (R, 1))
            self.best_val = np.full(R, np.inf)
            self.best_k = np.full(R, -1, dtype=np.int64)
            self.best_W = self.W.copy()

    def outputs(self, batch, n):
        """(best_val, best_k, best_w, w_final) in the caller's batch shape."""
        if self.nd:
            d = self.X.shape[1]
            return (self.best[:, 0], self.best[:, 1].astype(np.int64),
                    np.swapaxes(self.best_X, 1, 2).reshape(*batch, n, d), np.swapaxes(self.X, 1, 2).reshape(*batch, n, d))
        return self.best_val, self.best_k, self.best_W.reshape(*batch, n), self.W.reshape(*batch, n)


def _cpu_stepper(st, obj, gamma, amp, keys, rec, steps):
    """(advance, sync) of the fused CPU kernels: ``advance(lo, hi)`` takes steps lo..hi-1 of every run and
    evaluates iterates lo..hi exactly (records, best iterate)."""
    if st.nd:
        c = _center(obj, st.X.shape[1])
        G = np.empty(st.X.shape[1:])

        def advance(lo, hi):
            for r in range(st.X.shape[0]):
                k.pgd_nd(st.X[r], gamma, lo, hi, obj.lam, c, amp, keys[r], rec, st.rec_val[r], st.best[r],
                         st.best_X[r], G)
    else:
        def advance(lo, hi):
            k.pgd_1d(st.W, st.P, gamma, lo, hi, obj.kind, obj.v, obj.scale, amp, keys, rec, st.rec_val, st.best_val,
                     st.best_k, st.best_W)
    return advance, None


def _cuda_stepper(st, obj, gamma, amp, keys, rec, steps):
    """(advance, sync) launching the CUDA kernels (:mod:`gdsim.particles._cuda`); ``sync`` copies back."""
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.particles import _cuda

    cuda = cuda_module()
    pgd_1d, forces, track, update = _cuda.kernels()
    d_gamma, d_rec = cuda.to_device(gamma if gamma.size else np.zeros(1)), cuda.to_device(rec)
    if st.nd:
        R, d, n = st.X.shape
        if d > _cuda.MAX_D:
            raise ValueError(f"particle dimension d = {d} exceeds the GPU kernel's limit of {_cuda.MAX_D}")
        c = cuda.to_device(_center(obj, d))
        blocks, tpb = launch_config(n)
        dG, dpart, dimp = cuda.device_array((d, n)), cuda.device_array(n), cuda.device_array(1, dtype=np.int64)
        dev = [dict(X=cuda.to_device(st.X[r]), bX=cuda.to_device(st.best_X[r]), rv=cuda.to_device(st.rec_val[r]),
                    best=cuda.to_device(np.array([np.inf, -1.0])), state=cuda.to_device(np.zeros(1)))
               for r in range(R)]

        def evaluate(dv, kk, r, do_step):
            forces[n, _cuda.REDUCE_THREADS](dv["X"], obj.lam, c, dG, dpart)
            track[1, _cuda.REDUCE_THREADS](dpart, kk, d_rec, dv["rv"], dv["state"], dv["best"], dimp)
            update[blocks, tpb](dv["X"], dG, float(gamma[kk]) if do_step else 0.0, amp, keys[r], kk, dimp, dv["bX"],
                                do_step)

        def advance(lo, hi):
            for r, dv in enumerate(dev):
                for kk in range(lo, hi):
                    evaluate(dv, kk, r, True)
                if hi == steps:  # the last iterate is evaluated too (records, best iterate)
                    evaluate(dv, hi, r, False)
            cuda.synchronize()

        def sync():
            for r, dv in enumerate(dev):
                st.X[r], st.best_X[r] = dv["X"].copy_to_host(), dv["bX"].copy_to_host()
                st.rec_val[r], st.best[r] = dv["rv"].copy_to_host(), dv["best"].copy_to_host()
    else:
        # (n, runs) layout: thread r reads column r, so a warp's accesses are contiguous (coalesced)
        dev = dict(W=cuda.to_device(np.ascontiguousarray(st.W.T)), P=cuda.to_device(np.ascontiguousarray(st.P.T)),
                   G=cuda.device_array(st.W.T.shape), rv=cuda.to_device(st.rec_val), bv=cuda.to_device(st.best_val),
                   bk=cuda.to_device(st.best_k), bW=cuda.to_device(st.best_W), v=cuda.to_device(obj.v),
                   keys=cuda.to_device(keys))
        blocks, tpb = launch_config(st.W.shape[0])

        def advance(lo, hi):
            pgd_1d[blocks, tpb](dev["W"], dev["P"], dev["G"], d_gamma, lo, hi, obj.kind, dev["v"], obj.scale, amp,
                                dev["keys"], d_rec, dev["rv"], dev["bv"], dev["bk"], dev["bW"])
            cuda.synchronize()

        def sync():
            st.W[...] = dev["W"].copy_to_host().T
            st.best_W[...] = dev["bW"].copy_to_host()
            st.rec_val[...] = dev["rv"].copy_to_host()
            st.best_val[...] = dev["bv"].copy_to_host()
            st.best_k[...] = dev["bk"].copy_to_host()
    return advance, sync


_STEPPERS = {"cpu": _cpu_stepper, "cuda": _cuda_stepper}


def _particle_run(w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling,
                  n_records, record_every, seed, progress, backend) -> Result:
    """The one host function of :func:`particle_gd` and :func:`gpu_particle_gd` (``backend`` picks the stepper)."""
    obj, w0, batch, n, R, steps, amp, gamma, rec, keys, config = _prepare(
        w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling, n_records, seed,
        record_every)
    st = _State(obj, w0, R, n, rec)
    advance, sync = _STEPPERS[backend](st, obj, gamma, amp, keys, rec, steps)

    def record(i):  # a run without steps: its one iterate is evaluated (recorded, best) by an empty advance
        advance(0, 0)
        if sync is not None:
            sync()

    desc = "particle GD (d>=2)" if st.nd else "particle GD"
    wall = drive(np.array([0, steps]) if steps else np.array([0]), advance, None if steps else record, sync=sync,
                 progress=progress, desc=desc + (" (CUDA)" if backend == "cuda" else ""), n_chunks=40)
    best_val, best_k, best_w, w_final = st.outputs(batch, n)
    return particle_result(rec, st.rec_val, best_val, best_k, best_w, w_final, gamma, batch, config, backend, wall)


def particle_result(rec, rec_val, best_val, best_k, best_w, w_final, gamma, batch, config, backend, wall) -> Result:
    """The labelled result of a particle GD run (shared by the CPU and CUDA steppers), built by the engine's
    :func:`gdsim.dynamics._driver.stepped_result`: the recorded iterations ``k`` are the ``step`` coordinate."""
    nrec = rec.size
    bd = run_dims(batch)
    pdims = (*bd, "particle") if w_final.ndim == len(batch) + 1 else (*bd, "particle", "coord")
    arrays = dict(k=rec, step=rec, value=rec_val.T.reshape(nrec, *batch), best_value=best_val.reshape(batch),
                  best_k=best_k.reshape(batch), best_w=best_w, w=w_final, gamma=gamma)
    dims = dict(k=("step",), step=("step",), value=("step", *bd), best_value=bd, best_k=bd, best_w=pdims, w=pdims,
                gamma=("iteration",))
    return stepped_result(arrays, dims, meta=dict(config={**config, "backend": backend}, wall_time_s=wall),
                          batch=batch, coords=("step", "k"))


def noisy_particle_gd(w0, objective, steps, *, noise=0.05, **kwargs) -> Result:
    """:func:`particle_gd` with ball noise of amplitude ``noise`` (default 0.05, the paper's experiments).

    Every other keyword is :func:`particle_gd`'s, with its defaults (``seed=0``)."""
    return particle_gd(w0, objective, steps, noise=noise, **kwargs)
