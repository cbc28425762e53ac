"""Public API of :mod:`gdsim.sensing`: problems, GD / asymmetric GD / ScaledGD(lambda), learning times."""

from __future__ import annotations

from gdsim._core.deprecation import renamed_keywords
from gdsim._core.jit import honours_parallel

import dataclasses

import numpy as np

from gdsim._core.records import record_times
from gdsim._core.result import Result
from gdsim._core.rng import as_generator, as_seed_sequence
from gdsim._core.validate import check_budget, flag, integer, real_array, real_scalar
from gdsim.dynamics._driver import drive, stepped_result
from gdsim.sensing import _kernels as k

GENERATORS = ("spectrum", "gaussian_text", "uniform_fig")
INITS = ("gaussian", "gaussian_scaled", "unit_norm")
_JIN = ("Jin, Li, Lyu, Du, Lee, 'Understanding Incremental Learning of Gradient Descent: A Fine-grained "
        "Analysis of Matrix Sensing', ICML 2023, arXiv:2301.11500")
_PACK_ROWS = 256  # sensing matrices are drawn and packed this many at a time (bounded memory)
BLOWUP = 1e8


@dataclasses.dataclass
class SensingProblem:
    """A symmetric matrix-sensing instance: ground truth Z* = X X^T and (optionally) Gaussian measurements.

    Attributes
    ----------
    zstar : (d, d) ground truth; ``eigvals`` (r*,) its nonzero eigenvalues, descending (sigma_i^2 of X);
    eigvecs : (d, r*) the matching eigenvectors; ``x`` = eigvecs * sqrt(eigvals), the orthogonal factor;
    a_packed : (m, d(d+1)/2) packed symmetrised sensing matrices (see ``_kernels``), or None for full
        observation (A*A = I); ``y`` the m measurements <A_i, Z*>.
    """

    zstar: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray
    generator: str
    a_packed: np.ndarray | None = None
    y: np.ndarray | None = None

    @property
    def d(self) -> int:
        return self.zstar.shape[0]

    @property
    def rank(self) -> int:
        return self.eigvals.size

    @property
    def m(self) -> int | None:
        return None if self.a_packed is None else self.a_packed.shape[0]

    @property
    def x(self) -> np.ndarray:
        return self.eigvecs * np.sqrt(self.eigvals)

    def best_rank(self, s: int) -> np.ndarray:
        """X_s X_s^T: the best rank-s approximation of Z* (the reference of the paper's E_s)."""
        xs = self.x[:, :s]
        return xs @ xs.T

    def operator(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A*A(W) for a batch of symmetric W (B, d, d), and the residuals A(W) - y (B, m) or W - Z*)."""
        W = np.asarray(W, dtype=np.float64)
        if self.a_packed is None:
            return W.copy(), W - self.zstar
        iu = np.triu_indices(self.d)
        Zp = np.ascontiguousarray(W[:, iu[0], iu[1]])
        R = np.empty((W.shape[0], self.m))
        Gp = np.empty_like(Zp)
        k.sensing_pass(self.a_packed, Zp, np.zeros(self.m), R, Gp)
        G = np.empty_like(W)
        k.unpack_sym(Gp, G)
        return G, R

    def top_operator_eigenvalue(self) -> float:
        """Largest eigenvalue of A*A(Z*): the rate of the first (spectral) phase (spec pitfall 8)."""
        M, _ = self.operator(self.zstar[None])
        return float(np.linalg.eigvalsh(M[0])[-1])


@renamed_keywords(m="measurements")
def make_problem(d: int, rank: int, *, spectrum=None, generator: str = "spectrum", measurements: int | None = None,
                 dtype="float64", seed=0) -> SensingProblem:
    """Build a matrix-sensing problem.

    Parameters
    ----------
    d, rank : int
        Dimension and rank r* of Z* (1 <= rank <= d).
    spectrum : array_like, optional
        With ``generator="spectrum"``: the r* positive eigenvalues of Z* (sigma_i^2 in the paper's
        notation), Z* = Q diag(spectrum) Q^T with Q Haar-orthogonal.
    generator : {"spectrum", "gaussian_text", "uniform_fig"}
        ``gaussian_text``: X with N(0, 1) entries as the paper's text says; ``uniform_fig``: X with
        U[0, 1] entries, which reproduces the published curves (spec section 2.6).
    measurements : int, optional
        Number of Gaussian measurements A_i (d x d, i.i.d. N(0, 1) entries, not symmetric; the loss
        f(U) = (1/(4m)) sum_i (y_i - <A_i, U U^T>)^2). ``None``: full observation (A*A = I).
    dtype : {"float64", "float32"}
        Storage of the packed sensing matrices (accumulation is float64 either way).
    seed : int, SeedSequence, Generator or None
        Default 0 (reproducible by default; ``None`` draws fresh entropy).

    Notes
    -----
    Jin et al., ICML 2023 (arXiv:2301.11500), section 6. The gradient uses sym(A_i) (the paper's A_i
    are not symmetric; spec pitfall 2).
    """
    d = integer(d, "d", lo=1)
    rank = integer(rank, "rank", lo=1)
    if rank > d:
        raise ValueError(f"rank must be <= d; got rank = {rank} > d = {d}")
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}; got {generator!r}")
    if measurements is not None:
        measurements = integer(measurements, "measurements", lo=1)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32; got {dtype!r}") from None
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32; got {dtype!r}")
    if measurements is not None:
        check_budget(f"measurements = {measurements} at d = {d}", bytes_needed=float(measurements) * d * (d + 1) / 2 * dt.itemsize)
    ss = as_seed_sequence(seed)
    truth_ss, a_ss = ss.spawn(2)
    rng = np.random.default_rng(truth_ss)
    if generator == "spectrum":
        if spectrum is None:
            raise ValueError("generator='spectrum' needs spectrum (the rank positive eigenvalues of Z*)")
        lam = real_array(spectrum, "spectrum")
        if lam.shape != (rank,):
            raise ValueError(f"spectrum must have shape ({rank},); got {lam.shape}")
        if np.any(lam <= 0):
            raise ValueError("spectrum must be positive: Z* = X X^T is PSD of the given rank (a non-PSD or "
                             f"rank-deficient spectrum was given: {lam.tolist()})")
        lam = np.sort(lam)[::-1].copy()
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        vecs = Q[:, :rank]
    else:
        if spectrum is not None:
            raise ValueError(f"spectrum is only used with generator='spectrum' (got generator={generator!r})")
        X = rng.standard_normal((d, rank)) if generator == "gaussian_text" else rng.uniform(size=(d, rank))
        w, V = np.linalg.eigh(X @ X.T)
        lam, vecs = w[::-1][:rank].copy(), V[:, ::-1][:, :rank].copy()
        if lam[-1] <= 0:
            raise ValueError("the drawn X is rank deficient; use another seed")
    zstar = (vecs * lam) @ vecs.T
    prob = SensingProblem(zstar=zstar, eigvals=lam, eigvecs=vecs, generator=generator)
    if measurements is not None:
        arng = np.random.default_rng(a_ss)
        P = d * (d + 1) // 2
        Ap = np.empty((measurements, P), dtype=dtype)
        for i0 in range(0, measurements, _PACK_ROWS):
            i1 = min(measurements, i0 + _PACK_ROWS)
            Ap[i0:i1] = k.pack_sensing_matrices(arng.standard_normal((i1 - i0, d, d)), dtype)
        iu = np.triu_indices(d)
        zp = np.ascontiguousarray(zstar[iu][None])
        R = np.empty((1, measurements))
        k.sensing_pass(Ap, zp, np.zeros(measurements), R, np.empty((1, P)))
        prob.a_packed, prob.y = Ap, R[0].copy()
    return prob


def _check_problem(problem):
    if not isinstance(problem, SensingProblem):
        raise TypeError(f"problem must be a SensingProblem from make_problem(); got {type(problem).__name__}")


@renamed_keywords(alpha="init_scale")
def initial_factors(problem, r_hat, init_scale, *, init="gaussian", shared_init=True, seed=0) -> np.ndarray:
    """U_0 = init_scale * U_bar for each init_scale: (B, d, r_hat).

    ``init``: ``"gaussian"`` (N(0, 1) entries, the experiments), ``"gaussian_scaled"`` (N(0, 1/d) entries,
    Xu et al.), ``"unit_norm"`` (normalised to operator norm 1, the theory). ``shared_init``: the same
    U_bar for every init_scale (an init_scale scan then changes only the scale). ``seed`` defaults to 0
    (reproducible by default; ``None`` draws fresh entropy).
    """
    _check_problem(problem)
    r_hat = integer(r_hat, "r_hat", lo=1)
    init_scale = np.atleast_1d(real_array(init_scale, "init_scale"))
    if init_scale.ndim != 1:
        raise ValueError(f"init_scale must be a scalar or a 1-D array; got shape {init_scale.shape}")
    if np.any(init_scale <= 0):
        raise ValueError(f"init_scale must be > 0 (the initialisation scale); got {init_scale.tolist()}")
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    shared_init = flag(shared_init, "shared_init")
    check_budget(f"r_hat = {r_hat} with {init_scale.size} init_scale(s) at d = {problem.d}",
                 bytes_needed=8.0 * init_scale.size * problem.d * r_hat * 4)
    rng = as_generator(seed)
    B, d = init_scale.size, problem.d
    Ub = rng.standard_normal((1 if shared_init else B, d, r_hat))
    if init == "gaussian_scaled":
        Ub /= np.sqrt(d)
    elif init == "unit_norm":
        Ub /= np.linalg.norm(Ub, ord=2, axis=(1, 2))[:, None, None]
    return np.ascontiguousarray(np.broadcast_to(Ub, (B, d, r_hat)) * init_scale[:, None, None])


def learning_times(eigs, t, targets) -> np.ndarray:
    """tau_k: the first recorded t with eigs[..., k] >= targets[k] / 2 (-1 if never).

    ``eigs`` (n_rec, *batch, K) eigenvalues of U U^T in descending order at times ``t`` (n_rec,);
    ``targets`` (>= K,) eigenvalues of Z*.
    """
    eigs = real_array(eigs, "eigs", min_ndim=2, allow_nonfinite=True)
    if eigs.shape[0] == 0 or eigs.shape[-1] == 0:
        raise ValueError(f"eigs must have shape (n_rec, *batch, K) with n_rec, K >= 1; got {eigs.shape}")
    if np.isnan(eigs).any():
        raise ValueError("eigs must not hold NaN (a diverged run has no learning times)")
    t = real_array(t, "t", min_ndim=1)
    if t.shape != (eigs.shape[0],):
        raise ValueError(f"t must have one time per record, shape ({eigs.shape[0]},); got {t.shape}")
    K = eigs.shape[-1]
    targets = real_array(targets, "targets", min_ndim=1)
    if targets.ndim != 1 or targets.size < K:
        raise ValueError(f"targets must be a 1-D array of at least K = {K} eigenvalues; got shape {targets.shape}")
    thr = 0.5 * targets[:K]
    hit = eigs >= thr
    first = np.argmax(hit, axis=0)
    return np.where(hit.any(axis=0), t[first], -1)


# --------------------------------------------------------------------------------------------- GD


def _grad_matrix(problem, U, Zp, R, Gp, G):
    """M = A*A(Z* - U U^T) for the batch (into G, as -(A*A(U U^T) - A*A(Z*))), and the loss."""
    if problem.a_packed is None:
        W = U @ np.swapaxes(U, 1, 2)
        np.subtract(problem.zstar, W, out=G)
        return G, 0.25 * (G**2).sum(axis=(1, 2))
    k.pack_gram(U, Zp)
    k.sensing_pass(problem.a_packed, Zp, problem.y, R, Gp)
    k.unpack_sym(Gp, G)
    np.negative(G, out=G)
    return G, (R**2).sum(axis=1) / (4 * problem.m)


def _run_args(problem, shape, steps, record_every, track_tau, progress):
    """The run arguments, validated (and the run's size checked) before any allocation or device check."""
    steps = integer(steps, "steps", lo=0)
    records = record_times(steps, record_every).size  # validates record_every (either form)
    track_tau = flag(track_tau, "track_tau")
    progress = flag(progress, "progress")
    B, d, r_hat = shape
    check_budget(f"steps = {steps} and {records} records for {B} run(s) at d = {d}",
                 bytes_needed=8.0 * records * (1 + B * (problem.rank + d + 2)),
                 updates=float(steps) * B * d * d * max(problem.m or 0, r_hat))
    return steps, record_every, track_tau, progress


def _cpu_operator(problem, shape):
    """The CPU stepper's operator: U -> (M = A*A(Z* - U U^T), loss), the fused sensing pass on the host."""
    B, d, _ = shape
    P = d * (d + 1) // 2
    Zp, Gp = np.empty((B, P)), np.empty((B, P))
    R = np.empty((B, problem.m or 1))
    G = np.empty((B, d, d))
    return lambda U_: _grad_matrix(problem, U_, Zp, R, Gp, G)


def _run(problem, U, steps, record_every, update, progress, desc, config, track_tau=False, backend="cpu",
         operator=None):
    """The family's stepper on the engine's driver: per step, M = A*A(Z* - U U^T) (``operator``: the CPU
    fused sensing pass, or the GPU one) and ``update(U, M)``; records, learning times and the Result.

    ``advance(lo, hi)`` runs steps lo .. hi-1 (the operator once per step, cached so that a record at step t
    and the step from t share it); ``record(i)`` stores record i.
    """
    steps, record_every, track_tau, progress = _run_args(problem, U.shape, steps, record_every, track_tau, progress)
    B, d, r_hat = U.shape
    rs = problem.rank
    refs = np.stack([problem.best_rank(s) for s in range(1, rs + 1)])
    ref_norm2 = (refs**2).sum(axis=(1, 2))
    t_rec = record_times(steps, record_every)
    K = min(r_hat, d)
    E = np.full((t_rec.size, B, rs), np.nan)
    eigs = np.full((t_rec.size, B, K), np.nan)
    loss = np.full((t_rec.size, B), np.nan)
    error = np.full((t_rec.size, B), np.nan)
    n_tau = min(K, rs)
    tau = np.full((B, n_tau), -1, dtype=np.int64)
    diverged = np.zeros(B, dtype=bool)
    grad = operator or _cpu_operator(problem, U.shape)
    cur = dict(t=-1, M=None, f=None, tau_t=-1)  # the operator at step cur["t"]; the last step tau was checked at

    def at(t):
        if cur["t"] != t:
            cur["M"], cur["f"] = grad(U)
            cur["t"] = t
        return cur["M"], cur["f"]

    def spectrum():
        ev = np.linalg.eigvalsh(np.swapaxes(U, 1, 2) @ U) if np.all(np.isfinite(U)) else np.full((B, r_hat), np.nan)
        return ev[:, ::-1][:, :K]

    def learn(t, ev):
        if cur["tau_t"] == t:
            return
        cur["tau_t"] = t
        thr = 0.5 * problem.eigvals[:n_tau]
        newly = (tau < 0) & (ev[:, :n_tau] >= thr)
        tau[newly] = t

    def advance(lo, hi):
        for t in range(lo, hi):
            M, _ = at(t)
            if track_tau and cur["tau_t"] != t and (tau < 0).any():
                learn(t, spectrum())
            update(U, M)
            bad = ~np.isfinite(U).all(axis=(1, 2)) | (np.abs(U).max(axis=(1, 2)) > BLOWUP)
            if bad.any():
                diverged[bad] = True
                U[bad] = np.nan

    def record(ri):
        t = int(t_rec[ri])
        _, f = at(t)
        ev = spectrum()
        if track_tau and (tau < 0).any():
            learn(t, ev)
        W = U @ np.swapaxes(U, 1, 2)
        E[ri] = ((W[:, None] - refs[None]) ** 2).sum(axis=(2, 3)) / ref_norm2
        error[ri] = ((W - problem.zstar) ** 2).sum(axis=(1, 2))
        eigs[ri], loss[ri] = ev, f

    with np.errstate(over="ignore", invalid="ignore"):
        wall = drive(t_rec, advance, record, progress=progress, desc=desc)
    arrays = dict(t=t_rec, errors=E, eigenvalues=eigs, loss=loss, error=error, diverged=diverged, U=U)
    if track_tau:  # an observable on request: it needs the eigenvalues of U^T U at every step
        arrays["tau"] = tau
    dims = dict(t=("step",), errors=("step", "run", "component"), eigenvalues=("step", "run", "eigenvalue"),
                loss=("step", "run"), error=("step", "run"), tau=("run", "component_learned"), diverged=("run",),
                U=("run", "row", "factor_col"))
    hints = {} if track_tau else {"tau": "pass track_tau=True (off by default since 0.2: it needs an eigen-decomposition per step)"}
    return stepped_result(arrays, dims, meta=dict(config={**config, "backend": backend}, wall_time_s=wall),
                          batch=(B,), hints=hints)


def _common_config(problem, r_hat, init_scale, steps, extra):
    return dict(model="matrix_sensing", d=problem.d, rank=problem.rank, m=problem.m, r_hat=r_hat,
                init_scale=np.atleast_1d(init_scale).tolist(), steps=steps, generator=problem.generator,
                eigvals=problem.eigvals.tolist(), reference=_JIN, **extra)


@renamed_keywords(mu="lr", alpha="init_scale")
@honours_parallel
def gd(problem, r_hat, init_scale, steps, *, lr, init="gaussian", shared_init=True, record_every=1, track_tau=False,
       seed=0, progress=False, U0=None, parallel=None) -> Result:
    """Gradient descent U <- (I + lr M_t) U, M_t = A*A(Z* - U U^T), from U_0 = init_scale U_bar, batched over init_scale.

    Parameters
    ----------
    problem : SensingProblem
    r_hat : int
        Width of the factor U (d x r_hat): under- (r_hat < r*), exactly (=) or over-parameterised (>).
    init_scale : float or array_like
        Initialisation scale(s) (> 0); one trajectory per value, all sharing the problem.
    steps : int
    lr : float
        Step size (> 0). Stability needs lr * lambda_1(A*A(Z*)) below about 1; larger steps diverge and
        are recorded in ``diverged``, not raised.
    init, shared_init, seed
        See :func:`initial_factors`. ``U0`` (B, d, r_hat) overrides them. ``seed`` defaults to 0 (reproducible
        by default; ``None`` draws fresh entropy).
    record_every : int or array_like of int
        The record schedule shared by every family (:func:`gdsim.record_times`): an integer k records every
        k-th step; an array gives the step indices (e.g. ``gdsim.log_steps(steps, 40)`` for log spacing).
        Step 0 and the last step are always recorded.
    track_tau : bool
        Compute the learning times ``tau`` exactly (the eigenvalues of U^T U at every step until every
        one is found; about 35% more time at d = 50, m = 1000). Off by default: observables cost only when
        asked for; ``learning_times(res.eigenvalues, res.t, ...)`` gives them at the record resolution.
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``t`` (n_rec,); ``errors`` (n_rec, B, r*): E_s = ||U U^T - X_s X_s^T||_F^2 / ||X_s X_s^T||_F^2 (the
        paper's metric, s = 1..r*); ``eigenvalues`` (n_rec, B, min(r_hat, d)) of U U^T, descending;
        ``loss`` (n_rec, B); ``error`` (n_rec, B) = ||U U^T - Z*||_F^2; with ``track_tau=True``, ``tau`` (B, min(r_hat, r*)) the
        learning times (first t with lambda_k(U U^T) >= lambda_k(Z*) / 2, -1 if never); ``diverged``
        (B,); ``U`` the final factors.

    Notes
    -----
    Jin et al. (ICML 2023, arXiv:2301.11500), eq. (3); incremental learning: tau_k ~ ln(1/init_scale) /
    ln(1 + lr lambda_k). The paper prints the gradient without its minus sign; the update is the one
    implemented (spec pitfall 13).
    """
    return _gd(problem, r_hat, init_scale, steps, lr, init, shared_init, record_every, track_tau, seed, progress, U0,
               "cpu")


def _gd(problem, r_hat, init_scale, steps, lr, init, shared_init, record_every, track_tau, seed, progress, U0, backend):
    """The one host function of :func:`gd` and its twin :func:`gpu_gd`: they differ only in the stepper's
    operator (the CPU fused sensing pass, or the GPU one with A resident on the device)."""
    _check_problem(problem)
    lr = real_scalar(lr, "lr", lo=0.0, lo_open=True)
    U = _initial(problem, r_hat, init_scale, init, shared_init, seed, U0)
    operator, desc = None, "matrix sensing GD"
    if backend == "cuda":
        from gdsim.sensing import _cuda

        _run_args(problem, U.shape, steps, record_every, track_tau, progress)  # every argument before the device
        operator, backend = _cuda.operator(problem, U.shape)
        desc = "matrix sensing GD (CUDA)" if operator is not None else desc
    config = _common_config(problem, U.shape[2], init_scale, steps, dict(method="gd", lr=lr, init=init))

    def update(U_, M):
        U_ += lr * (M @ U_)

    return _run(problem, U, steps, record_every, update, progress, desc, config, track_tau=track_tau, backend=backend,
                operator=operator)


def _initial(problem, r_hat, init_scale, init, shared_init, seed, U0):
    if U0 is not None:
        U = real_array(U0, "U0")
        if U.ndim == 2:
            U = U[None]
        if U.ndim != 3 or U.shape[1] != problem.d:
            raise ValueError(f"U0 must have shape (B, d={problem.d}, r_hat); got {U.shape}")
        return np.ascontiguousarray(U).copy()
    return initial_factors(problem, r_hat, init_scale, init=init, shared_init=shared_init, seed=seed)


@renamed_keywords(eta="lr", alpha="init_scale")
@honours_parallel
def scaled_gd(problem, r_hat, init_scale, steps, *, lr, lam, init="gaussian_scaled", shared_init=True, record_every=1,
              track_tau=False, seed=0, progress=False, U0=None, parallel=None) -> Result:
    """ScaledGD(lambda): U <- U + lr M_t U (U^T U + lambda I)^(-1) (Xu, Shen, Chi, Ma, ICML 2023).

    Same results as :func:`gd`. Preconditioning makes the rate independent of the condition number
    (arXiv:2302.01186, Thm 2); ``lam`` ~ 0.1 sigma_min^2(X*) in the paper's range. ``seed`` defaults to 0
    (reproducible by default; ``None`` draws fresh entropy).
    """
    _check_problem(problem)
    lr = real_scalar(lr, "lr", lo=0.0, lo_open=True)
    lam = real_scalar(lam, "lam", lo=0.0)
    U = _initial(problem, r_hat, init_scale, init, shared_init, seed, U0)
    eye = np.eye(U.shape[2])

    def update(U_, M):
        pre = np.linalg.inv(np.swapaxes(U_, 1, 2) @ U_ + lam * eye)
        U_ += lr * (M @ U_) @ pre

    return _run(problem, U, steps, record_every, update, progress, "ScaledGD(lambda)",
                _common_config(problem, U.shape[2], init_scale, steps, dict(method="scaled_gd", lr=lr, lam=lam,
                                                                         init=init)), track_tau=track_tau)


@renamed_keywords(eta="lr", alpha="init_scale")
@honours_parallel
def asymmetric_gd(target, k_rank, init_scale, steps, *, lr, imbalance=1 / 3, init="orthonormal", record_every=1,
                  seed=0, progress=False, parallel=None) -> Result:
    """GD on F G^T with loss (1/2)||F G^T - M||_F^2 (full observation), batched over init_scale.

    F <- F - lr R G, G <- G - lr R^T F with R = F G^T - M (simultaneous updates).

    Parameters
    ----------
    target : (n1, n2) array or SensingProblem (its Z*)
    k_rank : int
        Width k of F (n1 x k) and G (n2 x k).
    init_scale : float or array_like
        Scale of F_0; G_0 has scale ``imbalance * init_scale``.
    init : {"orthonormal", "gaussian"}
        ``orthonormal``: F_0 = init_scale P_1, G_0 = imbalance init_scale P_2 with [P_1 P_2] orthonormal columns, so
        F_0^T F_0 - G_0^T G_0 = (1 - imbalance^2) init_scale^2 I exactly (spec C8); ``gaussian``: N(0, init_scale^2)
        entries (and imbalance init_scale for G).
    seed : int, SeedSequence, Generator or None
        Draws the initial factors; default 0 (reproducible by default; ``None`` draws fresh entropy).
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``t``, ``error`` (n_rec, B) = ||F G^T - M||_F^2, ``diverged``, ``F``, ``G``.

    Notes
    -----
    Xiong, Ding, Du (ICLR 2024, arXiv:2310.01769): with k > r and an imbalanced start the error
    converges linearly at rate ~ 2 lr (1 - imbalance^2) init_scale^2 (the symmetric parameterisation is
    Omega(1/T^2)).
    """
    M = target.zstar if isinstance(target, SensingProblem) else real_array(target, "target")
    if M.ndim != 2:
        raise ValueError(f"target must be a matrix; got shape {M.shape}")
    n1, n2 = M.shape
    k_rank = integer(k_rank, "k_rank", lo=1)
    lr = real_scalar(lr, "lr", lo=0.0, lo_open=True)
    imbalance = real_scalar(imbalance, "imbalance", lo=0.0)
    init_scale = np.atleast_1d(real_array(init_scale, "init_scale"))
    if np.any(init_scale <= 0):
        raise ValueError(f"init_scale must be > 0; got {init_scale.tolist()}")
    steps = integer(steps, "steps", lo=0)
    n_rec = record_times(steps, record_every).size  # validates record_every (either form)
    progress = flag(progress, "progress")
    check_budget(f"k_rank = {k_rank}, steps = {steps} and {n_rec} records for {init_scale.size} init_scale(s)",
                 bytes_needed=8.0 * (init_scale.size * (n1 + n2) * k_rank * 3 + n_rec * (init_scale.size + 1)),
                 updates=float(steps) * init_scale.size * n1 * n2 * k_rank)
    if not isinstance(init, str) or init not in ("orthonormal", "gaussian"):
        raise ValueError(f"init must be 'orthonormal' or 'gaussian'; got {init!r}")
    rng = as_generator(seed)
    if init == "orthonormal":
        if 2 * k_rank > max(n1, n2) or k_rank > min(n1, n2):
            raise ValueError(f"k_rank = {k_rank} does not fit init='orthonormal': it needs 2 k_rank <= max(n1, n2) and "
                             f"k_rank <= min(n1, n2), with (n1, n2) = {(n1, n2)}")
        n = max(n1, n2)
        Qm, _ = np.linalg.qr(rng.standard_normal((n, 2 * k_rank)))
        F0, G0 = Qm[:n1, :k_rank], Qm[:n2, k_rank:]
        if n1 != n2:
            F0, _ = np.linalg.qr(F0)
            G0, _ = np.linalg.qr(G0)
    elif init == "gaussian":
        F0, G0 = rng.standard_normal((n1, k_rank)), rng.standard_normal((n2, k_rank))
    else:
        raise ValueError(f"init must be 'orthonormal' or 'gaussian'; got {init!r}")
    F = init_scale[:, None, None] * F0[None]
    G = (imbalance * init_scale)[:, None, None] * G0[None]
    t_rec = record_times(steps, record_every)
    err = np.full((t_rec.size, init_scale.size), np.nan)
    diverged = np.zeros(init_scale.size, dtype=bool)
    st = dict(F=F, G=G, t=-1, R=None)  # the factors, and the residual R = F G^T - M at step st["t"]

    def residual(t):
        if st["t"] != t:
            st["R"], st["t"] = st["F"] @ np.swapaxes(st["G"], 1, 2) - M, t
        return st["R"]

    def advance(lo, hi):
        for t in range(lo, hi):
            R = residual(t)
            F, G = st["F"], st["G"]
            F, G = F - lr * (R @ G), G - lr * (np.swapaxes(R, 1, 2) @ F)
            bad = ~(np.isfinite(F).all(axis=(1, 2)) & np.isfinite(G).all(axis=(1, 2)))
            bad |= (np.abs(F).max(axis=(1, 2)) > BLOWUP) | (np.abs(G).max(axis=(1, 2)) > BLOWUP)
            if bad.any():
                diverged[bad] = True
                F[bad], G[bad] = np.nan, np.nan
            st["F"], st["G"] = F, G

    def record(i):
        err[i] = (residual(int(t_rec[i])) ** 2).sum(axis=(1, 2))

    with np.errstate(over="ignore", invalid="ignore"):
        wall = drive(t_rec, advance, record, progress=progress, desc="asymmetric GD")
    return stepped_result(dict(t=t_rec, error=err, diverged=diverged, F=st["F"], G=st["G"]),
                          dict(error=("step", "run"), diverged=("run",), F=("run", "row", "factor_col"),
                               G=("run", "col", "factor_col")),
                          meta=dict(config=dict(model="asymmetric_factorisation", n1=n1, n2=n2, k=k_rank, lr=lr,
                                                imbalance=imbalance, init_scale=init_scale.tolist(), init=init,
                                                steps=steps, reference="Xiong, Ding, Du, ICLR 2024, arXiv:2310.01769"),
                                    wall_time_s=wall), batch=(init_scale.size,))


@renamed_keywords(mu="lr", alpha="init_scale")
@honours_parallel
def gpu_gd(problem, r_hat, init_scale, steps, *, lr, init="gaussian", shared_init=True, record_every=1, track_tau=False,
           seed=0, progress=False, U0=None, parallel=None) -> Result:
    """CUDA variant of :func:`gd`: same signature, same results (to rounding).

    The sensing operator (the memory-bound hot loop) runs on the GPU with A resident in device memory;
    the small d x d x r_hat products and the records stay on the host. Under full observation there is
    no operator to offload and the run is the CPU one (``backend`` says which). The same host function as
    :func:`gd` with the GPU operator swapped in. ``seed`` defaults to 0 (``None`` draws fresh entropy).

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.
    """
    return _gd(problem, r_hat, init_scale, steps, lr, init, shared_init, record_every, track_tau, seed, progress, U0,
               "cuda")
