"""The training Jacobian J = d w_T / d w_0 of a whole optimisation run, from exact Hessian-vector products.

Belrose & Scherlis, "Understanding Gradient Descent through the Training Jacobian" (arXiv:2412.07003). For
full-batch GD, w_{t+1} = w_t - lr_t grad L(w_t), so J = (I - lr_{T-1} H_{T-1}) ... (I - lr_0 H_0), H_t the
Hessian at the stored iterate w_t (the latest step on the left). J v is T Hessian-vector products along the
stored trajectory; since every H_t is symmetric, J^T u is the same products in reverse order. With momentum
the tangent state is (dw, db) (see :func:`training_jacobian`, Notes).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import prange

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.jit import honours_parallel, jit
from gdsim._core.progress import progress_bar
from gdsim._core.result import Result
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics._optimisers import GD, SGD, HeavyBall, Nesterov, Optimiser

__all__ = ["training_jacobian", "training_trajectory", "TrainingTrajectory"]

#: a run whose parameters leave [-BLOWUP, BLOWUP] (or stop being finite) has diverged (as gdsim.dynamics.gd)
BLOWUP = 1e8
#: method="auto" forms the dense Jacobian (full spectrum) up to this many parameters
DENSE_MAX = 1500


# --------------------------------------------------------------------------------------- compiled kernels
@jit
def _trajectory(loss_grad, gather, data, w0, lr, kind, beta, batch_size, replace, n_samples, key, blowup, Wt, IDX,
                losses):
    """Run the optimiser from w0, storing every iterate: Wt[t] = w_t (t = 0..T), IDX[t] the minibatch of step t
    (unused for full batch), losses[t] the (minibatch) loss at w_t. The update arithmetic is that of
    :func:`gdsim.dynamics._kernels.advance` (same bits for a constant lr). Returns the divergent step or -1."""
    T = lr.size
    P = w0.size
    w = w0.copy()
    g = np.empty(P)
    b = np.zeros(P)
    perm = np.empty(n_samples if batch_size > 0 else 0, dtype=np.int64)
    idx = np.empty(max(batch_size, 0), dtype=np.int64)
    for i in range(P):
        Wt[0, i] = w[i]
    for t in range(T):
        if batch_size > 0:
            kern.draw_minibatch(key, t, batch_size, replace, perm, idx)
            for i in range(batch_size):
                IDX[t, i] = idx[i]
            loss = loss_grad(w, *gather(data, idx), g)
        else:
            loss = loss_grad(w, *data, g)
        losses[t] = loss
        a = lr[t]
        big = 0.0
        if kind == kern.GD:
            for i in range(P):
                w[i] -= a * g[i]
                big = max(big, abs(w[i]))
        elif kind == kern.HEAVY_BALL:
            for i in range(P):
                b[i] = beta * b[i] + g[i]
                w[i] -= a * b[i]
                big = max(big, abs(w[i]))
        else:  # NESTEROV
            for i in range(P):
                b[i] = beta * b[i] + g[i]
                w[i] -= a * (g[i] + beta * b[i])
                big = max(big, abs(w[i]))
        for i in range(P):
            Wt[t + 1, i] = w[i]
        if not (big <= blowup) or not math.isfinite(loss):
            return t
    return -1


@jit(parallel=True)
def _propagate(prep, hvpc, gather, data, Wt, IDX, full, c, d, beta, forward, VW, VB, t0, t1):
    """Apply the tangent maps of steps t0..t1-1 (``forward``) or their transposes in reverse order to every row
    of the state (VW, VB) (n, P), in place.

    Step t, with H = H_t the (minibatch) Hessian at Wt[t]: forward h = H dw, dw <- dw - c_t h - d_t db,
    db <- beta db + h; transpose s = ab - c_t aw, aw <- aw + H s, ab <- beta ab - d_t aw. The model's
    forward pass at Wt[t] (``prep``) is shared by all rows; rows are independent (one per prange iteration),
    so the numbers do not depend on the thread count.
    """
    n, P = VW.shape
    T = t1 - t0
    for s in range(T):
        t = t0 + s if forward else t1 - 1 - s
        w = Wt[t]
        if full:
            bdata = data
        else:
            bdata = gather(data, IDX[t])
        cache = prep(w, *bdata)
        ct = c[t]
        dt = d[t]
        for r in prange(n):
            x = np.empty(P)
            h = np.empty(P)
            dw = VW[r]
            db = VB[r]
            if forward:
                for i in range(P):
                    x[i] = dw[i]
                hvpc(w, x, *bdata, cache, h)
                for i in range(P):
                    dbi = db[i]
                    db[i] = beta * dbi + h[i]
                    dw[i] = dw[i] - ct * h[i] - dt * dbi
            else:
                for i in range(P):
                    x[i] = db[i] - ct * dw[i]
                hvpc(w, x, *bdata, cache, h)
                for i in range(P):
                    awi = dw[i]
                    dw[i] = awi + h[i]
                    db[i] = beta * db[i] - dt * awi


# --------------------------------------------------------------------------------------- the stored trajectory
def _optimiser_kind(optimiser, m):
    """(kind, beta, batch_size, replace) of a supported optimiser value, scalars only."""
    if not isinstance(optimiser, Optimiser):
        raise TypeError("optimiser must be an optimiser value such as gdsim.dynamics.GD(), HeavyBall(beta=0.9), "
                        f"Nesterov(beta) or SGD(batch_size, momentum=...); got {optimiser!r}")

    def scalar(x, name):
        arr = np.asarray(x)
        if arr.ndim != 0:
            raise ValueError(f"training_jacobian follows one run: {type(optimiser).__name__}.{name} must be a scalar; "
                             f"got shape {arr.shape}")
        return arr.item()

    if isinstance(optimiser, GD):
        return kern.GD, 0.0, 0, True
    if isinstance(optimiser, HeavyBall):
        return kern.HEAVY_BALL, float(scalar(optimiser.beta, "beta")), 0, True
    if isinstance(optimiser, Nesterov):
        return kern.NESTEROV, float(scalar(optimiser.beta, "beta")), 0, True
    if isinstance(optimiser, SGD):
        if m.n_samples == 0:
            raise ValueError(f"model {m.name!r} has no per-sample data, so SGD has nothing to sample")
        bs = int(scalar(optimiser.batch_size, "batch_size"))
        if bs > m.n_samples:
            raise ValueError(f"SGD batch_size must be <= N = {m.n_samples}; got {bs}")
        beta = float(scalar(optimiser.momentum, "momentum"))
        kind = kern.NESTEROV if optimiser.nesterov else (kern.HEAVY_BALL if beta > 0 else kern.GD)
        return kind, beta, bs, bool(optimiser.replace)
    raise ValueError(f"training_jacobian supports GD, HeavyBall, Nesterov and SGD (with or without momentum); "
                     f"got {type(optimiser).__name__} (the Jacobian of an adaptive preconditioner is not implemented)")


def _schedule(lr, steps):
    arr = v.real_array(lr, "lr")
    if arr.ndim == 0:
        arr = np.full(steps, float(arr))
    elif arr.shape != (steps,):
        raise ValueError(f"lr must be a scalar or a schedule of shape (steps,) = ({steps},); got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"lr must be >= 0 everywhere; smallest value is {arr.min()}")
    if np.any(arr > v.MAX_REAL):
        raise ValueError(f"lr must be at most {v.MAX_REAL:.0e} (beyond it float64 arithmetic overflows); largest "
                         f"value is {arr.max():.3g}")
    return np.ascontiguousarray(arr, dtype=np.float64)


class TrainingTrajectory:
    """One stored optimisation run and the products with its training Jacobian (from
    :func:`training_trajectory`).

    Attributes
    ----------
    w : ndarray, shape (T + 1, P)
        The iterates w_0 .. w_T (NaN after a divergent step).
    loss : ndarray, shape (T,)
        The (minibatch) loss at w_t that step t descended.
    lr : ndarray, shape (T,)
        The learning rate of every step.
    batches : ndarray, shape (T, B)
        Minibatch indices of every step (B = 0 for full batch).
    diverged_step : int
        The first step whose iterate left [-1e8, 1e8] or whose loss was not finite; -1 when none.
    """

    def __init__(self, m, w, loss, lr, batches, kind, beta, diverged_step, meta):
        self.m = m
        self.w = w
        self.loss = loss
        self.lr = lr
        self.batches = batches
        self.kind = kind
        self.beta = beta
        self.diverged_step = int(diverged_step)
        self.meta = meta
        if kind == kern.NESTEROV:
            self._c, self._d = lr * (1.0 + beta), lr * beta * beta
        else:
            self._c, self._d = lr.copy(), lr * beta
        self.hvps = 0

    @property
    def steps(self) -> int:
        return int(self.lr.size)

    @property
    def w_final(self):
        return self.w[-1]

    def _apply(self, V, forward, progress=False, desc=""):
        from gdsim.dynamics._curvature import _in_driver

        if self.diverged_step >= 0:
            raise ValueError(f"the run diverged at step {self.diverged_step}: its training Jacobian is not finite")
        V = v.real_array(V, "V" if forward else "U", min_ndim=1)
        P = self.m.n_params
        if V.shape[-1] != P:
            raise ValueError(f"vectors must have shape (P,) or (n, P) with P = {P}; got shape {V.shape}")
        one = V.ndim == 1
        VW = np.array(V.reshape(-1, P), dtype=np.float64, order="C")
        VB = np.zeros_like(VW)
        T = self.steps
        chunk = max(1, T // 50) if progress else max(T, 1)
        h = kern.handles(self.m)
        full = self.batches.shape[1] == 0
        with _in_driver(self.m), progress_bar(T, enabled=progress, desc=desc, unit="step") as bar:
            for lo in range(0, T, chunk):
                hi = min(T, lo + chunk)
                a, b = (lo, hi) if forward else (T - hi, T - lo)
                _propagate(h.prep, h.hvpc, h.gather, self.m.data, self.w, self.batches, full, self._c, self._d,
                           self.beta, forward, VW, VB, a, b)
                bar.update(hi - lo)
        self.hvps += VW.shape[0] * T
        return VW[0] if one else VW

    def jvp(self, V, *, progress=False):
        """J v for one vector (P,) or J v_i for each row of V (n, P): T Hessian-vector products per vector."""
        return self._apply(V, True, progress, "J v")

    def vjp(self, U, *, progress=False):
        """J^T u for one vector (P,) or each row of U (n, P): the transposed steps in reverse order."""
        return self._apply(U, False, progress, "J^T u")

    def dense(self, *, progress=False):
        """The dense P x P training Jacobian (column j = J e_j; P Hessian-vector products per step)."""
        P = self.m.n_params
        v.check_budget(f"n_params = {P}", bytes_needed=8.0 * P * P * 3)
        return self.jvp(np.eye(P), progress=progress).T.copy()


@honours_parallel
def training_trajectory(m, w0, optimiser, steps, *, lr, seed=0, parallel=None):
    """Run an optimiser from ``w0`` and keep every iterate, for products with the training Jacobian.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (P,)
        One initial parameter vector.
    optimiser : Optimiser
        :class:`~gdsim.dynamics.GD`, :class:`~gdsim.dynamics.HeavyBall`, :class:`~gdsim.dynamics.Nesterov` or
        :class:`~gdsim.dynamics.SGD` (scalar hyper-parameters).
    steps : int
        T, the number of steps.
    lr : float or array_like, shape (steps,)
        Learning rate (>= 0): a constant, or a schedule lr_t for t = 0..T-1.
    seed : int, SeedSequence or None
        The SGD minibatch stream: the same key as ``gdsim.dynamics.sgd(m, w0, ..., seed=seed)`` for this one run.
    parallel : bool, optional
        None/True: all Numba threads for the Jacobian products; False: one (same numbers).

    Returns
    -------
    TrainingTrajectory
        With :meth:`~TrainingTrajectory.jvp`, :meth:`~TrainingTrajectory.vjp` and
        :meth:`~TrainingTrajectory.dense`.

    Notes
    -----
    For a constant lr the iterates are bit for bit those of :func:`gdsim.dynamics.sgd` /
    :func:`~gdsim.dynamics.momentum` (the same update arithmetic and the same counter-based minibatches);
    full-batch GD on a model with a fused batched step (the zoo MLPs) agrees with :func:`gdsim.dynamics.gd`
    to rounding. Memory: (T + 1) P floats.
    """
    from gdsim.dynamics._curvature import _check_model, _in_driver

    m = _check_model(m)
    w0 = m.weights(w0, "w0")
    if w0.ndim != 1:
        raise ValueError(f"w0 must be one parameter vector of shape (P,) = ({m.n_params},); got shape {w0.shape} "
                         "(call once per run)")
    steps = v.integer(steps, "steps", lo=1, hi=10**9)
    lr = _schedule(lr, steps)
    kind, beta, bs, replace = _optimiser_kind(optimiser, m)
    P = m.n_params
    v.check_budget(f"steps = {steps} at n_params = {P}", bytes_needed=8.0 * (steps + 1) * P)
    key = keys_from_seed(seed, 1)[0]
    Wt = np.full((steps + 1, P), np.nan)
    IDX = np.zeros((steps, bs), dtype=np.int64)
    losses = np.full(steps, np.nan)
    h = kern.handles(m)
    with _in_driver(m):
        ds = _trajectory(h.loss_grad, h.gather, m.data, np.ascontiguousarray(w0, dtype=np.float64), lr, kind, beta,
                         bs, replace, m.n_samples, key, BLOWUP, Wt, IDX, losses)
    hyper = {k: np.asarray(x).tolist() for k, x in optimiser.hyper().items()}
    meta = dict(optimiser=type(optimiser).__name__, hyper=hyper,
                steps=steps, lr_first=float(lr[0]), lr_last=float(lr[-1]), lr_constant=bool(np.all(lr == lr[0])),
                model=m.provenance())
    return TrainingTrajectory(m, Wt, losses, lr, IDX, kind, beta, ds, meta)


# --------------------------------------------------------------------------------------- singular values
def _lanczos_gram(tr, k, tol, max_iter, key, progress):
    """Lanczos on J^T J (each product J v then J^T (J v)) with full reorthogonalisation (twice), stopped when
    the top k and bottom k Ritz pairs have residuals <= tol theta_max, at an invariant subspace, or at max_iter.
    Returns the Ritz values (ascending) and vectors of the tridiagonal matrix, the Lanczos basis Q and J Q (so
    that J V of the Ritz vectors costs nothing more), the residuals and whether it converged."""
    P = tr.m.n_params
    Q = np.zeros((max_iter + 1, P))
    JQ = np.zeros((max_iter, P))
    q0 = np.empty(P)
    kern.fresh_vector(np.uint64(key), 1, q0)
    Q[0] = q0
    alpha, beta = [], []
    theta = S = None
    n = 0
    resid = np.full(2 * k, np.inf)
    converged = False
    with progress_bar(max_iter, enabled=progress, desc="Lanczos on J^T J", unit="it") as bar:
        for j in range(max_iter):
            jq = tr.jvp(Q[j])
            JQ[j] = jq
            z = tr.vjp(jq)
            a = float(Q[j] @ z)
            z -= a * Q[j]
            if j > 0:
                z -= beta[-1] * Q[j - 1]
            for _ in range(2):  # full reorthogonalisation, twice
                z -= Q[:j + 1].T @ (Q[:j + 1] @ z)
            b = float(np.linalg.norm(z))
            alpha.append(a)
            beta.append(b)
            n = j + 1
            bar.update(1)
            if not (math.isfinite(a) and math.isfinite(b)):
                break
            Tm = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
            theta, S = np.linalg.eigh(Tm)
            top = max(abs(theta[-1]), 1e-300)
            kk = min(k, n)
            want = np.r_[np.arange(n - kk, n), np.arange(kk)]
            resid = b * np.abs(S[n - 1, want])
            invariant = b <= 1e-13 * top
            if n >= 2 * k and np.all(resid <= tol * top) or invariant or n == P:
                converged = bool(np.all(resid <= tol * top) or invariant or n == P)
                break
            if j + 1 < max_iter:
                Q[j + 1] = z / b
    return dict(theta=theta, S=S, n=n, Q=Q[:n], JQ=JQ[:n], resid=resid, converged=converged)


def _ritz(lz, cols):
    """Singular values, right vectors, left vectors and u.v alignment of the Ritz pairs ``cols`` of J^T J."""
    theta, S = lz["theta"], lz["S"]
    sig = np.sqrt(np.maximum(theta[cols], 0.0))
    V = S[:, cols].T @ lz["Q"]
    JV = S[:, cols].T @ lz["JQ"]
    with np.errstate(divide="ignore", invalid="ignore"):
        U = JV / sig[:, None]
    align = np.einsum("ip,ip->i", U, V)
    return sig, V, U, align


@honours_parallel
def training_jacobian(m, w0, optimiser, steps, k=6, *, lr, method="auto", vectors=False, tol=1e-10, max_iter=None,
                      seed=0, progress=False, parallel=None):
    """Singular values of the training Jacobian J = d w_T / d w_0, from exact Hessian-vector products.

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (P,)
        The initial parameters (one run).
    optimiser : Optimiser
        :class:`~gdsim.dynamics.GD`, :class:`~gdsim.dynamics.HeavyBall`, :class:`~gdsim.dynamics.Nesterov`, or
        :class:`~gdsim.dynamics.SGD` with or without (heavy-ball or Nesterov) momentum; scalar hyper-parameters.
    steps : int
        T, the number of optimiser steps.
    k : int
        How many of the largest and of the smallest singular values to return (1 <= k <= P).
    lr : float or array_like, shape (steps,)
        Learning rate (>= 0): constant, or a schedule lr_t, t = 0..T-1 (e.g. the authors' cosine decay
        ``0.1 * 0.5 * (1 + cos(pi t / T))``).
    method : {"auto", "dense", "lanczos"}
        ``dense``: form J column by column (P Jacobian-vector products sharing each step's forward pass) and take
        its SVD in float64: the whole spectrum. ``lanczos``: Lanczos on J^T J, each product a forward pass
        (J v) and a reverse pass (J^T u) over the stored trajectory. ``auto``: dense when P <= 1500.
    vectors : bool
        Also return the singular vectors (dense: all, as ``left`` (P, P) columns u_j and ``right`` (P, P) rows
        v_j; Lanczos: the top and bottom k).
    tol : float
        Lanczos: stop when each wanted Ritz pair's residual is at most ``tol`` sigma_1^2.
    max_iter : int, optional
        Lanczos iterations at most (default min(P, 4k + 60)).
    seed : int, SeedSequence or None
        The SGD minibatch stream (the same as ``gdsim.dynamics.sgd(..., seed=seed)`` for this one run) and the
        Lanczos start vector.
    progress : bool
    parallel : bool, optional
        None/True: all Numba threads; False: one (same numbers).

    Returns
    -------
    Result
        ``top`` (k,) descending and ``bottom`` (k,) ascending singular values; ``top_alignment``,
        ``bottom_alignment`` (k,): u_j . v_j of the left and right singular vectors; ``w_final`` (P,);
        ``loss`` (T,) along the run. Dense also gives ``singular_values`` (P,) descending and ``alignment`` (P,)
        (u_j . v_j for every j); Lanczos gives ``residual`` (2k,) and ``meta["converged"]``. A run that diverged
        gives NaN values and ``meta["diverged_step"]`` >= 0 (recorded, not raised).

    Notes
    -----
    Belrose & Scherlis, "Understanding Gradient Descent through the Training Jacobian", arXiv:2412.07003.
    Updates (g_t the full-batch or minibatch gradient at w_t, b_0 = 0): GD w_{t+1} = w_t - lr_t g_t;
    heavy ball b_{t+1} = beta b_t + g_t, w_{t+1} = w_t - lr_t b_{t+1} (optax.sgd(momentum=beta), the authors'
    optimiser); Nesterov w_{t+1} = w_t - lr_t (g_t + beta b_{t+1}). With H_t the Hessian of step t's loss
    (its own minibatch) at w_t, the tangent map of step t is

        [dw'; db'] = [[I - c_t H_t, -d_t I], [H_t, beta I]] [dw; db],

    c_t = lr_t, d_t = lr_t beta (heavy ball; GD is beta = 0) or c_t = lr_t (1 + beta), d_t = lr_t beta^2
    (Nesterov), and J = [I 0] M_{T-1} ... M_0 [I; 0]: for GD, J = (I - lr_{T-1} H_{T-1}) ... (I - lr_0 H_0).
    J v runs the maps forward (one HVP each); J^T u runs the transposes [[I - c_t H_t, H_t], [-d_t I, beta I]]
    from t = T-1 down to 0 (H_t is symmetric). The trajectory is stored, (T + 1) P floats (no checkpointing).
    Bound: for GD with lr_t lambda_max(H_t) < 2 and H_t PSD, every factor has norm <= 1, so sigma_1 <= 1; the
    "chaotic" singular values above 1 need negative curvature, lr lambda > 2, or momentum.
    Accuracy: dense values to rounding of the float64 product and SVD (about 1e-13 relative to sigma_1 in the
    tests); Lanczos values to ``tol`` sigma_1^2 in sigma^2, so the smallest sigma are accurate only in absolute
    terms (singular values whose squares lie within that resolution of each other merge into one Ritz value:
    the bottom k are then not k distinct values), and values inside the cluster near 1 (the bulk) need the dense
    method.
    """
    from gdsim.dynamics._curvature import _check_model

    if not isinstance(method, str) or method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos'; got {method!r}")
    vectors = v.flag(vectors, "vectors")
    progress = v.flag(progress, "progress")
    tol = v.real_scalar(tol, "tol", lo=0.0, hi=1e-1, lo_open=True)
    P = _check_model(m).n_params
    k = v.integer(k, "k", lo=1, hi=P)
    if max_iter is not None:
        max_iter = v.integer(max_iter, "max_iter", lo=min(2 * k, P), hi=10**6)
    t0 = time.perf_counter()
    tr = training_trajectory(m, w0, optimiser, steps, lr=lr, seed=seed, parallel=parallel)
    if method == "auto":
        method = "dense" if P <= DENSE_MAX else "lanczos"
    meta = dict(tr.meta, method=method, k=k, diverged_step=tr.diverged_step)
    arrays = dict(w_final=tr.w_final, loss=tr.loss)
    if tr.diverged_step >= 0:
        nan = np.full(k, np.nan)
        arrays.update(top=nan, bottom=nan, top_alignment=nan, bottom_alignment=nan)
        if method == "dense":
            arrays.update(singular_values=np.full(P, np.nan), alignment=np.full(P, np.nan))
        meta["wall_s"] = time.perf_counter() - t0
        return Result(arrays, meta)
    if method == "dense":
        J = tr.dense(progress=progress)
        U, s, Vt = np.linalg.svd(J)
        align = np.einsum("ij,ji->j", U, Vt)
        arrays.update(singular_values=s, alignment=align, top=s[:k], bottom=s[::-1][:k],
                      top_alignment=align[:k], bottom_alignment=align[::-1][:k])
        if vectors:
            arrays.update(left=U, right=Vt)
    else:
        max_iter = min(P, 4 * k + 60) if max_iter is None else min(max_iter, P)
        key = keys_from_seed(seed, 2)[1]
        lz = _lanczos_gram(tr, k, tol, max_iter, key, progress)
        n = lz["n"]
        kk = min(k, n)
        top_cols = np.arange(n - 1, n - 1 - kk, -1)
        bot_cols = np.arange(kk)
        st, Vtop, Utop, at = _ritz(lz, top_cols)
        sb, Vbot, Ubot, ab = _ritz(lz, bot_cols)
        pad = lambda x: np.r_[x, np.full(k - x.size, np.nan)]  # noqa: E731
        arrays.update(top=pad(st), bottom=pad(sb), top_alignment=pad(at), bottom_alignment=pad(ab),
                      residual=lz["resid"])
        if vectors:
            arrays.update(top_right=Vtop, top_left=Utop, bottom_right=Vbot, bottom_left=Ubot)
        meta.update(converged=lz["converged"], lanczos_iterations=n)
    meta.update(hvps=tr.hvps, wall_s=time.perf_counter() - t0)
    return Result(arrays, meta)
