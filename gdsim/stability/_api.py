"""Public API of the stability family: batched grids and closed forms of the stability papers."""

from __future__ import annotations

import math

import numpy as np

from gdsim._core import validate as v
from gdsim._core.provenance import arrays_sha256
from gdsim._core.result import Result
from gdsim.dynamics._driver import drive
from gdsim.stability import _kernels as kern

__all__ = ["STATUS", "second_order_map", "second_order_flow_limit", "separable_data", "logistic_map",
           "logistic_separation_steps", "perceptron_steps", "logistic_1d_threshold", "dmf_balanced_factors",
           "dmf_sharpness", "dmf_sharpness_bound"]

#: status code -> meaning, for the grids' ``status`` output
STATUS = {kern.CONVERGED: "converged", kern.PERIODIC: "periodic (2-, 4- or 8-cycle)",
          kern.NOT_CONVERGED: "not converged (chaotic or slow)", kern.DIVERGED: "diverged"}

#: cells x steps above which a grid call is refused (hours of compute): split it over gdsim.sweep
MAX_CELL_STEPS = 1e13
#: cells of one grid call (the outputs are 4 arrays of this many entries)
MAX_CELLS = 2**27


def _grid_axes(a, a_name, b, b_name, lo_open_b=False):
    a = v.real_array(a, a_name, min_ndim=0)
    b = v.real_array(b, b_name, min_ndim=0)
    a = np.atleast_1d(a)
    b = np.atleast_1d(b)
    for arr, name in ((a, a_name), (b, b_name)):
        if arr.ndim != 1 or arr.size < 1:
            raise ValueError(f"{name} must be a scalar or a non-empty 1-D array; got shape {arr.shape}")
        if np.any(np.abs(arr) > v.MAX_REAL):
            raise ValueError(f"{name} must be at most {v.MAX_REAL:.0e} in magnitude (beyond it float64 arithmetic "
                             f"overflows); got {np.abs(arr).max():.3g}")
    if np.any(a <= 0):
        raise ValueError(f"{a_name} must be > 0")
    if float(a.size) * b.size > MAX_CELLS:
        raise ValueError(f"{a_name} x {b_name} = {a.size} x {b.size} cells exceeds {MAX_CELLS}: tile the grid "
                         "through gdsim.sweep")
    return a, b


def _whole_run(steps, kernel):
    """Run a whole-run kernel (no records between step 0 and ``steps``) through the engine's driver.

    The fused kernels run every step of every cell in one call (their stopping and periodicity tests need the
    whole trajectory), so the driver calls ``advance(0, steps)`` once. Returns the kernel's return value and
    the wall-clock seconds.
    """
    value = []

    def advance(lo, hi):
        if lo != 0 or hi != steps:  # pragma: no cover - chunk=steps gives one call over the whole run
            raise RuntimeError("a whole-run stability kernel cannot be chunked")
        value.append(kernel())

    wall = drive(np.array([0, steps]), advance, None, chunk=steps)
    return value[0], wall


def _unit_direction(angle):
    angle = v.real_scalar(angle, "angle")
    return float(np.cos(angle)), float(np.sin(angle))


def second_order_map(lr, eps_y, steps, *, angle=0.3, tol=1e-12):
    """GD on the two-parameter second-order regression model over a grid of (lr, eps * y).

    Parameters
    ----------
    lr : array_like, shape (a,)
        Learning rates eta (> 0). lambda_0 = 1, so eta is also eta * lambda_0.
    eps_y : array_like, shape (b,)
        The product eps * y, the model's only other parameter.
    steps : int
        GD steps (1 .. 10^9).
    angle : float
        g = (cos angle, sin angle), the Jacobian at the start (unit norm).
    tol : float
        A run has converged when |eps z| < tol at the end (> 0). The default 1e-12 is about 1e4 ulps of the
        O(1) terms of z: GD's fixed point reached to rounding, so ``final_lr_ntk`` of a converged run is the
        limit's to within O(eta tol). Periodic: the last iterates repeat with period 2, 4 or 8 to 1e-9
        relative; everything else that stays bounded is "not converged".

    Returns
    -------
    Result
        Arrays of dims (lr, eps_y): ``final_lr_ntk`` (eta lambda at the end; NaN when diverged),
        ``max_lr_ntk`` (its maximum over the run), ``final_residual`` (|eps z|), ``status`` (see
        :data:`STATUS`); coordinates ``lr`` and ``eps_y``.

    Notes
    -----
    The model of Agarwala, Pedregosa, Pennington (arXiv:2210.04860), reduced to P = 2, D = 1:
    z(t) = 0.5 t^T Q t + g^T t - y with Q = diag(eps, -eps), lambda = ||g + Q t||^2, t_0 = 0, loss z^2 / 2.
    With phi = eps t the GD map depends on (eps, y) only through eps * y, so the kernel runs eps = 1 and
    reports |eps z|. A structure-of-arrays kernel, one block of 64 cells per thread.
    """
    lr, eps_y = _grid_axes(lr, "lr", eps_y, "eps_y")
    steps = v.integer(steps, "steps", lo=1, hi=10**9)
    tol = v.real_scalar(tol, "tol", lo=0.0, lo_open=True)
    g0, g1 = _unit_direction(angle)
    n = lr.size * eps_y.size
    if float(n) * steps > MAX_CELL_STEPS:
        raise ValueError(f"cells x steps = {float(n) * steps:.2e} exceeds {MAX_CELL_STEPS:.0e}: reduce the grid or "
                         "the steps")
    L, E = np.meshgrid(lr, eps_y, indexing="ij")
    out = {k: np.empty(n) for k in ("final_lr_ntk", "max_lr_ntk", "final_residual")}
    status = np.empty(n, np.int8)
    _, wall = _whole_run(steps, lambda: kern.second_order_grid(L.ravel(), E.ravel(), g0, g1, steps, tol,
                                                            out["final_lr_ntk"], out["max_lr_ntk"],
                                                            out["final_residual"], status))
    arrays = {k: a.reshape(L.shape) for k, a in out.items()}
    arrays.update(status=status.reshape(L.shape), lr=lr, eps_y=eps_y)
    dims = {k: ("lr", "eps_y") for k in (*out, "status")}
    dims.update(lr=("lr",), eps_y=("eps_y",))
    meta = dict(model="second_order_regression (P = 2, D = 1)", steps=steps, angle=float(angle), tol=tol,
                status_codes={str(k): s for k, s in STATUS.items()}, wall_s=wall)
    return Result(arrays, meta, dims=dims, coords=("lr", "eps_y"))


def second_order_flow_limit(eps_y, *, angle=0.3):
    """lambda at the end of gradient flow of the two-parameter second-order model, per eps * y.

    Parameters
    ----------
    eps_y : array_like
        eps * y values (any shape).
    angle : float
        As in :func:`second_order_map`.

    Returns
    -------
    ndarray
        lambda_inf = ||g + Q t_inf||^2 (eps = 1), the same shape as ``eps_y``; NaN where the flow does not
        reach a zero of z.

    Notes
    -----
    Gradient flow keeps t on the curve t(s) solving dt/ds = J(t) = g + Q t (it only rescales time by z), so
    it ends at the first zero of z along that curve: t0(s) = (g0 + 0)(e^s - 1), t1(s) = g1 (1 - e^-s), with
    z(s) = 0.5 (t0^2 - t1^2) + g0 t0 + g1 t1 - eps y, solved by bisection in s (exact to rounding).
    """
    e = v.real_array(eps_y, "eps_y")
    g0, g1 = _unit_direction(angle)
    flat = np.atleast_1d(e).ravel()
    out = np.full(flat.shape, np.nan)

    def path(s, sign):
        # d t/ds = sign * (g + Q t): t0 = g0 (e^{sign s} - 1), t1 = g1 (1 - e^{-sign s})
        t0 = g0 * np.expm1(sign * s)
        t1 = -g1 * np.expm1(-sign * s)
        z = 0.5 * (t0 * t0 - t1 * t1) + g0 * t0 + g1 * t1
        return t0, t1, z

    for i, target in enumerate(flat):
        if target == 0:
            out[i] = 1.0
            continue
        # z(t_0) = -target; the flow moves along -z J, i.e. along +J when target > 0, -J otherwise
        sign = 1.0 if target > 0 else -1.0
        lo, hi = 0.0, 1.0
        while hi < 700 and sign * (path(hi, sign)[2] - target) < 0:
            lo, hi = hi, 2 * hi
        if sign * (path(hi, sign)[2] - target) < 0:
            continue
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if sign * (path(mid, sign)[2] - target) < 0:
                lo = mid
            else:
                hi = mid
        t0, t1, _ = path(0.5 * (lo + hi), sign)
        out[i] = (g0 + t0) ** 2 + (g1 - t1) ** 2
    return out.reshape(np.shape(e)) if np.ndim(e) else float(out[0])


def separable_data(n, d, *, margin=0.05, seed=0):
    """Linearly separable data: Gaussian points labelled by a random unit w*, those within ``margin`` dropped.

    Parameters
    ----------
    n : int
        Points drawn before the margin filter (1 .. 10^7).
    d : int
        Dimension (1 .. 10^4).
    margin : float
        Points with |<a, w*>| <= margin are dropped (>= 0).
    seed : int or SeedSequence

    Returns
    -------
    A : ndarray (n_kept, d)
    y : ndarray (n_kept,)
        Labels sign(<a, w*>) in {-1, +1}.
    w_star : ndarray (d,)

    Notes
    -----
    The data of the large-step logistic regression checks (spec: d = 10, margin 0.05, about 190 of 200
    points kept).
    """
    n = v.integer(n, "n", lo=1, hi=10**7)
    d = v.integer(d, "d", lo=1, hi=10**4)
    v.check_budget(f"n = {n} and d = {d}", bytes_needed=8.0 * n * d)
    margin = v.real_scalar(margin, "margin", lo=0.0)
    from gdsim._core.rng import as_generator

    rng = as_generator(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    A = rng.standard_normal((n, d))
    s = A @ w
    keep = np.abs(s) > margin
    if not keep.any():
        raise ValueError(f"margin = {margin} drops every point; use a smaller margin")
    return np.ascontiguousarray(A[keep]), np.sign(s[keep]), w


def _logistic_data(data):
    from gdsim.models._tractable import _features_labels

    return _features_labels(data)


def logistic_map(data, lr, l2, steps, *, tol=1e-8):
    """Full-batch GD on l2-regularised logistic regression over a grid of (lr, l2), from w = 0.

    Parameters
    ----------
    data : tuple (A, y)
        Features (n, d) and labels in {-1, +1}.
    lr : array_like, shape (a,)
        Learning rates (> 0).
    l2 : array_like, shape (b,)
        Ridge coefficients lambda (>= 0).
    steps : int
        GD steps (1 .. 10^9).
    tol : float
        Converged when the gradient norm is below ``tol`` (> 0). The objective is lambda-strongly convex, so a
        converged run is within tol / lambda of the minimiser and its ``final_loss`` within tol^2 / (2 lambda)
        of the minimum (default 1e-8: 5e-17 / lambda; tested against a Newton solve). Periodic: the last
        iterates repeat with period 2, 4 or 8 to 1e-9 relative.

    Returns
    -------
    Result
        Arrays of dims (lr, l2): ``final_loss`` (the objective), ``grad_norm``, ``converged_step`` (first
        step with gradient norm < tol; -1 if never), ``status`` (see :data:`STATUS`); coordinates ``lr``, ``l2``.

    Notes
    -----
    The phase diagram of J. Wu, P. Marion, P. Bartlett, "Large stepsizes accelerate gradient descent for
    regularized logistic regression" (arXiv:2506.02336, Figure 1): GD converges below a critical step size
    of order 1/(lambda ln(1/lambda)). Structure-of-arrays kernel, one block of 64 cells per thread.
    """
    A, y = _logistic_data(data)
    lr, l2 = _grid_axes(lr, "lr", l2, "l2")
    if np.any(l2 < 0):
        raise ValueError("l2 must be >= 0")
    steps = v.integer(steps, "steps", lo=1, hi=10**9)
    tol = v.real_scalar(tol, "tol", lo=0.0, lo_open=True)
    n_cells = lr.size * l2.size
    if float(n_cells) * steps * A.size > MAX_CELL_STEPS * 10:
        raise ValueError(f"cells x steps x n d = {float(n_cells) * steps * A.size:.2e} exceeds "
                         f"{MAX_CELL_STEPS * 10:.0e}: reduce the grid, the steps or the data")
    L, R = np.meshgrid(lr, l2, indexing="ij")
    loss, gn = np.empty(n_cells), np.empty(n_cells)
    status = np.empty(n_cells, np.int8)
    conv = np.empty(n_cells, np.int64)
    _, wall = _whole_run(steps, lambda: kern.logistic_grid(A, y, L.ravel(), R.ravel(), steps, tol, loss, gn, status,
                                                        conv))
    shape = L.shape
    arrays = dict(final_loss=loss.reshape(shape), grad_norm=gn.reshape(shape), converged_step=conv.reshape(shape),
                  status=status.reshape(shape), lr=lr, l2=l2)
    dims = {k: ("lr", "l2") for k in ("final_loss", "grad_norm", "converged_step", "status")}
    dims.update(lr=("lr",), l2=("l2",))
    meta = dict(model="logistic_regression", n=A.shape[0], d=A.shape[1], steps=steps, tol=tol,
                data_sha256=arrays_sha256(A, y), status_codes={str(k): s for k, s in STATUS.items()},
                wall_s=wall)
    return Result(arrays, meta, dims=dims, coords=("lr", "l2"))


def logistic_separation_steps(data, lr, *, max_steps=10**6):
    """GD steps on the unregularised logistic loss, from w = 0, until the data are separated.

    Parameters
    ----------
    data : tuple (A, y)
        Separable data, labels in {-1, +1}.
    lr : float or array_like
        Step sizes gamma (> 0).
    max_steps : int
        Give up after this many steps (the result is then -1).

    Returns
    -------
    int or ndarray of int
        The first t >= 1 with y_k <a_k, w_t> > 0 for every k.

    Notes
    -----
    A. Tyurin (arXiv:2412.08424): as gamma -> infinity, w_t / gamma follows the batch perceptron
    (:func:`perceptron_steps`), so the counts become equal; at small gamma they grow as 1/gamma.
    """
    A, y = _logistic_data(data)
    lr_arr = v.real_array(lr, "lr")
    if lr_arr.size < 1 or np.any(lr_arr <= 0):
        raise ValueError("lr must hold values > 0")
    max_steps = v.integer(max_steps, "max_steps", lo=1, hi=10**9)
    # one run per step size, each to separation (or max_steps) in one kernel call
    out = np.array([_whole_run(max_steps, lambda g=g: kern.steps_to_separate(A, y, float(g), max_steps, False))[0]
                    for g in lr_arr.ravel()])
    return out.reshape(lr_arr.shape) if lr_arr.ndim else int(out[0])


def perceptron_steps(data, *, max_steps=10**6):
    """Steps of the batch perceptron (ties weighted 1/2), from z = 0, until the data are separated.

    Parameters
    ----------
    data : tuple (A, y)
    max_steps : int

    Returns
    -------
    int
        The first t >= 1 with every margin > 0; -1 if not within ``max_steps``.

    Notes
    -----
    z <- z + (1/n) sum_k c_k y_k a_k with c_k = 1 if y_k <a_k, z> < 0, 1/2 if it is 0, else 0: the gamma ->
    infinity limit of w_t / gamma of GD on the logistic loss (Tyurin, arXiv:2412.08424).
    """
    A, y = _logistic_data(data)
    max_steps = v.integer(max_steps, "max_steps", lo=1, hi=10**9)
    return int(_whole_run(max_steps, lambda: kern.steps_to_separate(A, y, 1.0, max_steps, True))[0])


def _sigmoid_neg(w):
    """sigmoid(-w) = 1 / (1 + e^w) for w >= 0, to relative rounding (no cancellation however large w is)."""
    return math.exp(-w) / (1.0 + math.exp(-w))


def logistic_1d_threshold(l2):
    """The exact critical step of GD on the 1-D regularised logistic loss log(1 + e^-w) + (l2/2) w^2.

    Parameters
    ----------
    l2 : float
        lambda, in (0, 1).

    Returns
    -------
    threshold : float
        2 / L''(w*), with w* the minimiser (the root of sigmoid(-w) = lambda w). GD from w = 0 converges for
        step sizes below it and does not above it. Accurate to a few ulps (tested to 1e-12 relative against a
        60-digit root, for lambda from 1e-14 to 0.9).
    w_star : float
        Same accuracy.

    Notes
    -----
    Wu, Marion, Bartlett (arXiv:2506.02336) characterise global convergence in 1-D exactly; the threshold
    scales as 1/(lambda ln(1/lambda)) (about 2.2 times it at lambda = 1e-2 and 1e-3).

    Numerics: w* > 0, where sigmoid(-w) = e^-w / (1 + e^-w) and L''(w) = sigmoid(w) sigmoid(-w) + lambda =
    e^-w / (1 + e^-w)^2 + lambda keep full relative accuracy in the tail (the form (1 + tanh(-w/2)) / 2 loses
    it by cancellation: 1e-4 relative at lambda = 1e-14). f(w) = sigmoid(-w) - lambda w is bisected to
    adjacent floats; its rounding error, eps lambda w*, moves the root by about eps w* / (1 + w*) relative.
    """
    lam = v.real_scalar(l2, "l2", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    lo, hi = 0.0, 1.0 / lam  # f(w) = sig(-w) - lam w: f(0) = 1/2 > 0, f(1/lam) < 0
    for _ in range(2100):  # bisection to adjacent floats (at most ~1100 halvings from [0, 1e308])
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _sigmoid_neg(mid) - lam * mid > 0:
            lo = mid
        else:
            hi = mid
    w = lo if abs(_sigmoid_neg(lo) - lam * lo) <= abs(_sigmoid_neg(hi) - lam * hi) else hi
    e = math.exp(-w)
    return 2.0 / (e / (1.0 + e) ** 2 + lam), w


# ------------------------------------------------------------------------------ deep matrix factorisation
def _factors(factors):
    if isinstance(factors, np.ndarray) or not isinstance(factors, (list, tuple)) or len(factors) < 1:
        raise TypeError("factors must be a non-empty list [W_1, ..., W_L] of matrices (W_1 applied first)")
    Ws = []
    for i, W in enumerate(factors):
        W = v.real_array(W, f"factors[{i}]", min_ndim=2)
        if W.ndim != 2:
            raise ValueError(f"factors[{i}] must be a matrix; got shape {W.shape}")
        if i and W.shape[1] != Ws[-1].shape[0]:
            raise ValueError(f"factors[{i}] has {W.shape[1]} columns; factors[{i - 1}] has {Ws[-1].shape[0]} rows")
        Ws.append(W)
    return Ws


def dmf_balanced_factors(target, depth):
    """The balanced minimiser of deep matrix factorisation: W_l from the shared SVD roots of M.

    Parameters
    ----------
    target : array_like, shape (d_out, d_in)
        M = U diag(s) V^T (thin SVD, r = min(d_out, d_in)).
    depth : int
        L (1..32).

    Returns
    -------
    list of ndarray
        [W_1, ..., W_L]: W_1 = diag(s)^(1/L) V^T, W_l = diag(s)^(1/L) (1 < l < L), W_L = U diag(s)^(1/L), so
        W_L ... W_1 = M and W_{l+1}^T W_{l+1} = W_l W_l^T. Hidden widths r; flatten with ``np.concatenate([W.ravel()
        for W in Ws])`` for :func:`gdsim.models.deep_matrix_factorisation`.
    """
    M = v.real_array(target, "target", min_ndim=2)
    if M.ndim != 2:
        raise ValueError(f"target must be a matrix; got shape {M.shape}")
    depth = v.integer(depth, "depth", lo=1, hi=32)
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    root = s ** (1.0 / depth)
    if depth == 1:
        return [M.copy()]
    return [root[:, None] * Vt] + [np.diag(root) for _ in range(depth - 2)] + [U * root[None, :]]


def _chain(Ws):
    out = np.eye(Ws[0].shape[1])
    for W in Ws:
        out = W @ out
    return out


def dmf_sharpness(factors, *, balance_tol=1e-8):
    """The exact sharpness lambda_max of 0.5 ||W_L ... W_1 - M||_F^2 at a minimiser (W_L ... W_1 = M).

    Parameters
    ----------
    factors : list of array_like
        [W_1, ..., W_L] at a minimiser.
    balance_tol : float
        Relative tolerance of the balance test W_{l+1}^T W_{l+1} = W_l W_l^T (depth >= 3).

    Returns
    -------
    float
        depth 1: 1; depth 2: ||W_1||_2^2 + ||W_2||_2^2; balanced depth L: L sigma_1(M)^(2 (L - 1) / L).

    Notes
    -----
    A. Kamber, R. Parhi, "Sharpness of minima in deep matrix factorization: exact expressions"
    (arXiv:2509.25783). At a minimiser the Hessian is the Gauss-Newton J^T J; at depth 2 rank-one
    perturbations along the top singular vectors attain the Cauchy-Schwarz bound. The balanced value is
    Mulayoff and Michaeli's flattest one. The paper's exact expression for unbalanced minimisers of depth
    >= 3 is not reconstructed here [GAP]: this raises a ValueError for them; :func:`dmf_sharpness_bound`
    gives an upper bound.
    """
    Ws = _factors(factors)
    tol = v.real_scalar(balance_tol, "balance_tol", lo=0.0, lo_open=True, hi=1.0)
    L = len(Ws)
    if L == 1:
        return 1.0
    if L == 2:
        return float(np.linalg.norm(Ws[0], 2) ** 2 + np.linalg.norm(Ws[1], 2) ** 2)
    for l in range(L - 1):
        a, b = Ws[l + 1].T @ Ws[l + 1], Ws[l] @ Ws[l].T
        if a.shape != b.shape or np.abs(a - b).max() > tol * max(1.0, np.abs(b).max()):
            raise ValueError(f"factors: depth {L} >= 3 and not balanced at layer {l + 1} (W_(l+1)^T W_(l+1) != "
                             "W_l W_l^T); the exact expression is known here for balanced factors only [GAP]: "
                             "use dmf_sharpness_bound")
    s1 = np.linalg.norm(_chain(Ws), 2)
    return float(L * s1 ** (2.0 * (L - 1) / L))


def dmf_sharpness_bound(factors):
    """Upper bound sum_l ||W_{>l}||_2^2 ||W_{<l}||_2^2 on the sharpness at a minimiser of deep matrix factorisation.

    Parameters
    ----------
    factors : list of array_like
        [W_1, ..., W_L] at a minimiser.

    Returns
    -------
    float
        Equal to :func:`dmf_sharpness` at depth <= 2 and for balanced factors; strict in general.
    """
    Ws = _factors(factors)
    L = len(Ws)
    total = 0.0
    for l in range(L):
        below = _chain(Ws[:l]) if l else None
        above = _chain(Ws[l + 1:]) if l < L - 1 else None
        a = np.linalg.norm(above, 2) ** 2 if above is not None else 1.0
        b = np.linalg.norm(below, 2) ** 2 if below is not None else 1.0
        total += a * b
    return float(total)
