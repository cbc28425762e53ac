"""Public API of :mod:`gdsim.games`: particle GDA, the entropic equilibrium, NI errors, the mean-field PDE."""

from __future__ import annotations

from gdsim._core.jit import honours_parallel
from gdsim._core.deprecation import renamed_keywords

import math
import warnings

import numpy as np

from gdsim._core import records
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.result import Result
from gdsim._core.rng import as_generator, as_seed_sequence, child_seed, is_seed_list, run_seeds
from gdsim._core.validate import check_budget, flag, integer, real_array, real_scalar
from gdsim.dynamics._driver import drive, stepped_result
from gdsim.games import _kernels as k
from gdsim.games._payoffs import Payoff

_LU = ("Lu, 'Two-Scale Gradient Descent Ascent Dynamics Finds Mixed Nash Equilibria of Continuous Games: "
       "A Mean-Field Perspective', ICML 2023, arXiv:2212.08791")
#: h * max(1, eta) * Lip(grad K) above this warns (Euler-Maruyama moment bias above ~2%; the spec's
#: rule of thumb is 0.06 for ~1%, measured here: 0.0074 max moment error at 0.06 on T3).
STABILITY_WARN = 0.1
STABILITY_ERROR = 1.0
PARALLEL_MIN_PARTICLES = 20_000


def _check_payoff(payoff):
    if not isinstance(payoff, Payoff):
        raise TypeError(f"payoff must be a gdsim.games Payoff (payoff_t1(), trig_payoff(...), user_payoff(...)); "
                        f"got {type(payoff).__name__}")


#: Grid sizes above this are refused (an M x M payoff matrix of 2^14 x 2^14 floats is 2 GiB).
MAX_GRID = 2**14


def _grid_size(M, name="M", lo=8):
    M = integer(M, name, lo=lo)
    check_budget(f"{name} = {M}", bytes_needed=8.0 * M * M * 4)
    return M


def _prob(v, name, size=None):
    v = real_array(v, name, min_ndim=1)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector; got shape {v.shape}")
    if size is not None and v.size != size:
        raise ValueError(f"{name} must have {size} entries (the grid size); got {v.size}")
    if np.any(v < 0) or not np.isclose(v.sum(), 1.0):
        raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1); sum is {v.sum():.6g}")
    return v


def _game(A, p, q):
    """Validated (A, p, q): a finite payoff matrix (or a Payoff evaluated on the grid of len(p) points) and
    two probability vectors that fit it."""
    p = _prob(p, "p")
    if isinstance(A, Payoff):
        A = A.grid(p.size)[1]
    A = real_array(A, "A")
    if A.ndim != 2:
        raise ValueError(f"A must be a payoff matrix (2-D); got shape {A.shape}")
    if A.shape[0] != p.size:
        raise ValueError(f"A has {A.shape[0]} rows but p has {p.size} entries")
    q = _prob(q, "q", A.shape[1])
    return A, p, q


def lipschitz_bound(payoff, M: int = 64) -> float:
    """Lip(grad K): the largest spectral norm of the Hessian of K over a grid (second differences)."""
    _check_payoff(payoff)
    M = _grid_size(M, lo=2)
    g = np.arange(M) / M
    hstep = 1e-4
    x, y = g[:, None], g[None, :]

    def K(a, b):
        return payoff(a, b)

    kxx = (K(x + hstep, y) - 2 * K(x, y) + K(x - hstep, y)) / hstep**2
    kyy = (K(x, y + hstep) - 2 * K(x, y) + K(x, y - hstep)) / hstep**2
    kxy = (K(x + hstep, y + hstep) - K(x + hstep, y - hstep) - K(x - hstep, y + hstep)
           + K(x - hstep, y - hstep)) / (4 * hstep**2)
    tr, det = kxx + kyy, kxx * kyy - kxy**2
    disc = np.sqrt(np.maximum(tr**2 / 4 - det, 0.0))
    return float(np.max(np.abs(tr / 2) + disc))


# ---------------------------------------------------------------------------------- grid solver


def _gibbs_log(v):
    v = v - v.max()
    return v - np.log(np.exp(v).sum())


def entropic_equilibrium(payoff, tau, *, M: int = 256, tol: float = 1e-13, max_iter: int = 200_000) -> Result:
    """The MNE of the entropy-regularised game on a midpoint grid (extragradient multiplicative weights).

    min_p max_q p^T A q + tau sum p log p - tau sum q log q, A[i, j] = K(g_i, g_j): the discrete Gibbs
    fixed point p ~ exp(-A q / tau), q ~ exp(A^T p / tau). Plain best-response iteration can cycle
    (spec pitfall 8), hence extragradient steps in log space (Cen, Wei, Chi 2021).

    Returns
    -------
    Result
        ``grid`` (M,), ``p``, ``q`` (probability vectors; densities are M p), ``residual`` (fixed-point
        residual of the log-Gibbs maps), ``iterations``, ``ni_tau``, ``ni0``, ``value`` = E_tau(p, q),
        ``moments`` (2, 4): (c1, s1, c2, s2) of mu* and nu*.
    """
    _check_payoff(payoff)
    tau = real_scalar(tau, "tau", lo=0.0, lo_open=True)
    M = _grid_size(M)
    tol = real_scalar(tol, "tol", lo=0.0, lo_open=True)
    max_iter = integer(max_iter, "max_iter", lo=1)
    check_budget(f"M = {M} and max_iter = {max_iter}", updates=8.0 * M * M * max_iter)
    g, A = payoff.grid(M)
    if not np.all(np.isfinite(A)):
        raise ValueError("the payoff has non-finite values on the grid")
    lr = 0.5 / (tau + np.abs(A).max())
    lp = np.full(M, -np.log(M))
    lq = lp.copy()
    it = 0
    for it in range(1, max_iter + 1):
        p, q = np.exp(lp), np.exp(lq)
        lpt = _gibbs_log((1 - lr * tau) * lp - lr * (A @ q))
        lqt = _gibbs_log((1 - lr * tau) * lq + lr * (A.T @ p))
        lpn = _gibbs_log((1 - lr * tau) * lp - lr * (A @ np.exp(lqt)))
        lqn = _gibbs_log((1 - lr * tau) * lq + lr * (A.T @ np.exp(lpt)))
        delta = max(np.abs(lpn - lp).max(), np.abs(lqn - lq).max())
        lp, lq = lpn, lqn
        if delta < tol:
            break
    p, q = np.exp(lp), np.exp(lq)
    residual = max(np.abs(lp - _gibbs_log(-(A @ q) / tau)).max(), np.abs(lq - _gibbs_log((A.T @ p) / tau)).max())
    return Result(dict(grid=g, p=p, q=q, residual=np.float64(residual), iterations=np.int64(it),
                       ni_tau=np.float64(nikaido_isoda(A, p, q, tau)), ni0=np.float64(nikaido_isoda(A, p, q, 0.0)),
                       value=np.float64(regularised_value(A, p, q, tau)), moments=grid_moments(g, p, q)),
                  dict(config=dict(payoff=payoff.name, tau=tau, M=M, tol=tol, reference=_LU)),
                  dims=dict(grid=("grid",), p=("grid",), q=("grid",), moments=("player", "moment")), coords=("grid",))


def grid_moments(g, p, q) -> np.ndarray:
    """(c1, s1, c2, s2) = E cos/sin(2 pi k Z), k = 1, 2, for the grid laws p and q: shape (2, 4)."""
    g = real_array(g, "g", min_ndim=1)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"g must be a non-empty 1-D grid; got shape {g.shape}")
    p, q = _prob(p, "p", g.size), _prob(q, "q", g.size)
    out = np.empty((2, 4))
    for r, w in enumerate((p, q)):
        for m in (1, 2):
            out[r, 2 * m - 2] = w @ np.cos(2 * np.pi * m * g)
            out[r, 2 * m - 1] = w @ np.sin(2 * np.pi * m * g)
    return out


def _xlogx(p):
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


def regularised_value(A, p, q, tau) -> float:
    """E_tau(p, q) = p^T A q + tau sum p log p - tau sum q log q (entropy of the probability vectors)."""
    A, p, q = _game(A, p, q)
    tau = real_scalar(tau, "tau", lo=0.0)
    return float(p @ A @ q + tau * _xlogx(p).sum() - tau * _xlogx(q).sum())


def _logsumexp(v):
    m = v.max()
    return m + np.log(np.exp(v - m).sum())


def nikaido_isoda(A, p, q, tau=0.0) -> float:
    """Nikaido-Isoda error on the grid.

    tau = 0: NI_0 = max_j (A^T p)_j - min_i (A q)_i (exploitability of the unregularised game).
    tau > 0: NI_tau = max_q' E_tau(p, q') - min_p' E_tau(p', q), in closed form through log-sum-exp;
    it equals tau [KL(p || p_hat(q)) + KL(q || q_hat(p))] (tested).

    ``A`` may be a :class:`Payoff` evaluated on the midpoint grid of len(p) points.
    """
    A, p, q = _game(A, p, q)
    tau = real_scalar(tau, "tau", lo=0.0)
    psi, phi = A.T @ p, A @ q
    if tau == 0:
        return float(psi.max() - phi.min())
    up = tau * _xlogx(p).sum() + tau * _logsumexp(psi / tau)
    down = -tau * _xlogx(q).sum() - tau * _logsumexp(-phi / tau)
    return float(up - down)


def lyapunov_terms(A, p, q, tau, value_star) -> np.ndarray:
    """(L1, L2, L3, L4) of Lu's fast-ascent (L1 + gamma L2) and fast-descent (L3 + gamma L4) functions.

    L1 = max_q' E(p, q') - E*, L2 = max_q' E(p, q') - E(p, q), L3 = E* - min_p' E(p', q),
    L4 = E(p, q) - min_p' E(p', q); ``value_star`` = E_tau at the MNE.
    """
    A, p, q = _game(A, p, q)
    tau = real_scalar(tau, "tau", lo=0.0, lo_open=True)
    value_star = real_scalar(value_star, "value_star")
    psi, phi = A.T @ p, A @ q
    e = regularised_value(A, p, q, tau)
    up = tau * _xlogx(p).sum() + tau * _logsumexp(psi / tau)
    down = -tau * _xlogx(q).sum() - tau * _logsumexp(-phi / tau)
    return np.array([up - value_star, up - e, value_star - down, e - down])


# ---------------------------------------------------------------------------------- mean-field PDE


@renamed_keywords(centre="center")
def wrapped_gaussian(M: int, center: float, sd: float) -> np.ndarray:
    """A wrapped Gaussian on the midpoint grid of [0, 1), as a probability vector."""
    M = _grid_size(M, lo=1)
    center = real_scalar(center, "center")
    sd = real_scalar(sd, "sd", lo=0.0, lo_open=True)
    g = (np.arange(M) + 0.5) / M
    d = (g - center + 0.5) % 1.0 - 0.5
    w = sum(np.exp(-0.5 * ((d + s) / sd) ** 2) for s in (-2, -1, 0, 1, 2))
    return w / w.sum()


@renamed_keywords(T="t_final")
def mean_field_pde(payoff, tau, eta, t_final, *, M: int = 128, p0=None, q0=None, dt=None, n_records: int | None = None,
                   record_every=None, equilibrium=None, progress=False) -> Result:
    """Two-scale mean-field GDA PDE on the grid (finite volumes, Scharfetter-Gummel flux, explicit Euler).

    d_t mu = d_x(mu d_x Phi_nu) + tau d_xx mu,  d_t nu = eta [-d_y(nu d_y Psi_mu) + tau d_yy nu].

    Parameters
    ----------
    payoff : Payoff
    tau, eta : float
        Temperature (> 0) and time-scale ratio of the ascent player (> 0).
    t_final : float
        Final time (min player's clock).
    M : int
        Grid points per axis.
    p0, q0 : array_like, optional
        Initial probability vectors (default: uniform).
    dt : float, optional
        Default 0.2 dx^2 / (tau max(1, eta)) (stable); larger values raise a ValueError naming the bound.
    equilibrium : Result, optional
        :func:`entropic_equilibrium` at the same (tau, M); computed when omitted (needed for L1, L3).
    n_records : int, optional
        This many records evenly spaced in time (with 0 and ``t_final``): a shorthand for
        ``record_every=gdsim.linear_steps(steps, n_records)``; 101 when neither is given.
    record_every : int or array_like of int, optional
        The record schedule shared by every family (see :func:`gdsim.record_times`), in steps of ``dt``: every
        k-th step, or the given step indices. Give this or ``n_records``, not both.

    Returns
    -------
    Result
        ``t``, ``ni_tau``, ``ni0``, ``lyapunov`` (n_rec, 4) = (L1, L2, L3, L4), ``moments`` (n_rec, 2, 4),
        ``p``, ``q`` (final).

    Notes
    -----
    Lu (ICML 2023, arXiv:2212.08791): exponential convergence of NI_tau for a suitable finite eta; the
    discrete Gibbs state is exactly stationary for this scheme (tested).
    """
    _check_payoff(payoff)
    tau = real_scalar(tau, "tau", lo=0.0, lo_open=True)
    eta = real_scalar(eta, "eta", lo=0.0, lo_open=True)
    t_final = real_scalar(t_final, "t_final", lo=0.0)
    M = _grid_size(M)
    if n_records is None and record_every is None:
        n_records = 101
    n_records = None if n_records is None else integer(n_records, "n_records", lo=2)
    progress = flag(progress, "progress")
    if equilibrium is not None and not (isinstance(equilibrium, Result) and "value" in equilibrium):
        raise TypeError(f"equilibrium must be the Result of entropic_equilibrium (same tau and M); "
                        f"got {type(equilibrium).__name__}")
    g, A = payoff.grid(M)
    dx = 1.0 / M
    bound = 0.5 * dx * dx / (tau * max(1.0, eta))
    if dt is None:
        dt = 0.4 * bound
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True)
    if dt > bound:
        raise ValueError(f"dt = {dt:.3g} exceeds the explicit stability bound dx^2/(2 tau max(1, eta)) = {bound:.3g}")
    p = _prob_vector(p0, M, "p0")
    q = _prob_vector(q0, M, "q0")
    n_rec_est = _records_estimate(t_final / dt, record_every, n_records)
    check_budget(f"t_final = {t_final:g}, dt = {dt:.3g}, M = {M} and {n_rec_est:.0f} records (n_records, record_every)",
                 updates=t_final / dt * M * M,
                  bytes_needed=8.0 * n_rec_est * 20)
    eq = equilibrium if equilibrium is not None else entropic_equilibrium(payoff, tau, M=M)
    nsteps = int(math.ceil(t_final / dt - 1e-9))
    dt = t_final / nsteps if nsteps else dt
    rec_steps = records.resolve(nsteps, record_every, n_records, "linear")
    n_rec = rec_steps.size
    ni_tau, ni0, lyap, mom = np.empty(n_rec), np.empty(n_rec), np.empty((n_rec, 4)), np.empty((n_rec, 2, 4))
    value_star = float(eq.value)

    def advance(lo, hi):  # explicit Euler steps lo .. hi-1 (the kernel is stateless between calls: same bits)
        k.sg_advance(p, q, A, tau, eta, dt, hi - lo)

    def record(i):
        ni_tau[i] = nikaido_isoda(A, p, q, tau)
        ni0[i] = nikaido_isoda(A, p, q, 0.0)
        lyap[i] = lyapunov_terms(A, p, q, tau, value_star)
        mom[i] = grid_moments(g, p, q)

    wall = drive(rec_steps, advance, record, progress=progress, desc="mean-field PDE")
    t = rec_steps * dt
    return stepped_result(dict(t=t, step=rec_steps, ni_tau=ni_tau, ni0=ni0, lyapunov=lyap, moments=mom, p=p, q=q,
                               grid=g),
                          dict(t=("step",), step=("step",), ni_tau=("step",), ni0=("step",),
                               lyapunov=("step", "lyapunov_term"), moments=("step", "player", "moment"), p=("grid",),
                               q=("grid",), grid=("grid",)),
                          meta=dict(config=dict(payoff=payoff.name, tau=tau, eta=eta, t_final=t_final, M=M, dt=dt,
                                                reference=_LU), wall_time_s=wall),
                          time=t, coords=("step", "grid"))


def _prob_vector(v, M, name):
    return np.full(M, 1.0 / M) if v is None else _prob(v, name, M).copy()


# ---------------------------------------------------------------------------------- particle GDA


@renamed_keywords(T="t_final", h="dt")
def annealing_schedule(xi, t_final, dt):
    """tau_t = xi / log(e + t) at t = k dt, k = 0..T/dt - 1."""
    xi = real_scalar(xi, "xi", lo=0.0, lo_open=True)
    t_final = real_scalar(t_final, "t_final", lo=0.0)
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True)
    check_budget(f"t_final = {t_final:g} and dt = {dt:g}", bytes_needed=8.0 * t_final / dt)
    n = int(round(t_final / dt))
    return xi / np.log(np.e + dt * np.arange(n))


def _records_estimate(steps: float, record_every, n_records=None) -> float:
    """How many records a schedule holds over ``steps`` steps (for the memory estimate only).

    At most one per step: the schedule is deduplicated, so ``n_records`` above ``steps + 1`` records every step.
    """
    if n_records is not None:
        return min(float(n_records), steps + 2)
    if isinstance(record_every, (int, np.integer)) and not isinstance(record_every, bool) and record_every >= 1:
        return steps / record_every + 2
    return float(np.size(record_every)) + 2 if not isinstance(record_every, (str, bytes)) else 2.0


def _prepare(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi, init, drift, seed, n_records, ni_grid,
             record_every=None):
    _check_payoff(payoff)
    eta = real_scalar(eta, "eta", lo=0.0, lo_open=True)
    t_final = real_scalar(t_final, "t_final", lo=0.0)
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True)
    n_x = integer(n_x, "n_x", lo=1)
    n_y = integer(n_y, "n_y", lo=1)
    runs = integer(runs, "runs", lo=1)
    if n_records is None and record_every is None:
        n_records = 201
    n_records = None if n_records is None else integer(n_records, "n_records", lo=2)
    ni_grid = integer(ni_grid, "ni_grid", lo=0)
    # records held per run, for the memory estimate (the schedule itself is validated once steps is known)
    n_rec_est = _records_estimate(t_final / dt, record_every, n_records)
    if not isinstance(drift, str):
        raise ValueError(f"drift must be 'feature' or 'pairwise'; got {drift!r}")
    cost = (n_x + n_y) * (n_x + n_y if drift == "pairwise" else 4)
    check_budget(f"runs = {runs}, n_x = {n_x}, n_y = {n_y}, t_final = {t_final:g}, dt = {dt:g}, {n_rec_est:.0f} records (n_records, record_every) and "
                 f"ni_grid = {ni_grid}", bytes_needed=8.0 * (runs * (2 * (n_x + n_y) + 12 * n_rec_est)
                                                         + t_final / dt + ni_grid),
                 updates=runs * (t_final / dt) * cost)
    if drift not in ("feature", "pairwise"):
        raise ValueError(f"drift must be 'feature' or 'pairwise'; got {drift!r}")
    if drift == "feature" and payoff.coef is None:
        raise ValueError("drift='feature' needs a trigonometric payoff (Fourier coefficients); use drift='pairwise'")
    if drift == "pairwise" and payoff.grad_x is None:
        raise ValueError("drift='pairwise' needs jitted gradient functions on the payoff")
    steps = int(round(t_final / dt))
    if steps < 1:
        raise ValueError(f"t_final = {t_final:g} is shorter than one step dt = {dt:g}: take t_final >= dt (steps = "
                         "round(t_final / dt) must be at least 1)")
    if anneal_xi is not None:
        taus = annealing_schedule(real_scalar(anneal_xi, "anneal_xi", lo=0.0, lo_open=True), t_final, dt)
    else:
        tau = real_scalar(tau, "tau", lo=0.0, lo_open=True)
        taus = np.full(steps, tau)
    lip = max(1.0, eta) * lipschitz_bound(payoff)
    stiff = dt * lip
    if stiff > STABILITY_ERROR:
        raise ValueError(f"dt = {dt:g} is too large for stability: dt max(1, eta) Lip(grad K) = {stiff:.3g} > "
                         f"{STABILITY_ERROR}; take dt <= {STABILITY_ERROR / lip:.3g}")
    if stiff > STABILITY_WARN:
        warnings.warn(f"dt max(1, eta) Lip(grad K) = {stiff:.3g} > {STABILITY_WARN}: expect an Euler-Maruyama bias "
                      f"above ~2% (take dt <= {STABILITY_WARN / lip:.3g})",
                      RuntimeWarning, stacklevel=3)
    if isinstance(init, str):
        if init != "uniform":
            raise ValueError(f"init must be 'uniform' or a pair (X0, Y0) of particle arrays; got {init!r}")
    elif not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise TypeError(f"init must be 'uniform' or a pair (X0, Y0) of particle arrays; got {type(init).__name__}")
    if is_seed_list(seed):  # one seed per run (e.g. the per-point seeds of a sweep chunk)
        per_run = [(child_seed(s_, 0), child_seed(s_, 1)) for s_ in run_seeds(seed, runs)]
        keys = np.stack([keys_from_seed(nss, 2) for _, nss in per_run])
        X0 = np.stack([as_generator(iss).uniform(size=n_x) for iss, _ in per_run]) if init == "uniform" else None
        Y0 = np.stack([as_generator(iss).uniform(size=n_y) for iss, _ in per_run]) if init == "uniform" else None
    else:
        init_ss, noise_ss = as_seed_sequence(seed).spawn(2)
        keys = keys_from_seed(noise_ss, 2 * runs).reshape(runs, 2)
        if init == "uniform":
            rng = as_generator(init_ss)
            X0 = rng.uniform(size=(runs, n_x))
            Y0 = rng.uniform(size=(runs, n_y))
    if not isinstance(init, str):
        X0, Y0 = (real_array(a, "init") for a in init)
        try:
            X0, Y0 = np.broadcast_to(X0 % 1.0, (runs, n_x)).copy(), np.broadcast_to(Y0 % 1.0, (runs, n_y)).copy()
        except ValueError:
            raise ValueError(f"init arrays must broadcast to (runs, n_x) = {(runs, n_x)} and (runs, n_y) = "
                             f"{(runs, n_y)}; got shapes {X0.shape} and {Y0.shape}") from None
    rec = records.resolve(steps, record_every, n_records, "linear")
    grid = (np.arange(ni_grid) + 0.5) / ni_grid if ni_grid else np.zeros(0)
    config = dict(payoff=payoff.name, tau=None if anneal_xi is not None else float(taus[0]) if steps else tau,
                  anneal_xi=anneal_xi, eta=eta, t_final=t_final, dt=dt, n_x=n_x, n_y=n_y, runs=runs, drift=drift,
                  ni_grid=ni_grid, record_every=None if record_every is None else records.meta(record_every),
                  reference=_LU)
    return taus, steps, keys, X0, Y0, rec, grid, config


@renamed_keywords(T="t_final", h="dt")
@honours_parallel
def particle_gda(payoff, tau, eta, t_final, *, n_x: int = 1000, n_y: int | None = None, dt: float = 2.5e-4, runs: int = 1,
                 anneal_xi=None, init="uniform", drift: str = "feature", seed=0, n_records: int | None = None,
                 record_every=None, ni_grid: int = 1024, progress=False, parallel=None) -> Result:
    """Noisy particle gradient descent-ascent (Euler-Maruyama) on T^1 x T^1, batched over independent runs.

    dX = -grad_x Phi_nu(X) dt + sqrt(2 tau) dW,  dY = eta grad_y Psi_mu(Y) dt + sqrt(2 eta tau) dB.

    Parameters
    ----------
    payoff : Payoff
    tau : float
        Temperature (> 0); ignored with ``anneal_xi`` (then tau_t = anneal_xi / log(e + t)).
    eta : float
        Time-scale ratio of the ascent player (> 0); scales its drift and its noise.
    t_final : float
        Final time; steps = t_final / dt.
    n_x, n_y : int
        Particles per player (n_y defaults to n_x).
    dt : float
        Step size. ``dt max(1, eta) Lip(grad K)`` above 0.06 warns (bias > ~1%), above 1 raises.
    runs : int
        Independent particle systems (each its own noise streams).
    init : "uniform" or (X0, Y0)
    drift : {"feature", "pairwise"}
        O(N) Fourier-moment path (trigonometric payoffs) or the generic O(N_x N_y) pairwise path.
    n_records : int, optional
        This many records evenly spaced in time (with 0 and ``t_final``): a shorthand for
        ``record_every=gdsim.linear_steps(steps, n_records)``; 201 when neither is given.
    record_every : int or array_like of int, optional
        The record schedule shared by every family (see :func:`gdsim.record_times`), in steps of ``dt``: every
        k-th step, or the given step indices. Give this or ``n_records``, not both.
    seed : int, SeedSequence or sequence of seeds
        Default 0 (reproducible by default; ``None`` draws fresh entropy). A sequence gives one seed per run.
    ni_grid : int
        Grid size for NI_0 at the record times (feature path; 0 disables it, and the NI_0 records are then NaN).
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``t`` (n_rec,), ``moments`` (n_rec, runs, 2, 4): (c1, s1, c2, s2) of the empirical mu and nu;
        ``ni0`` (n_rec, runs) (feature path); ``tau_t`` (n_rec,); ``X``, ``Y`` final particles.

    Notes
    -----
    Lu (ICML 2023, arXiv:2212.08791): the many-particle limit is the two-scale mean-field GDA.
    Particle NI_0 is biased upward by finite-N fluctuations (spec pitfall 6): time-average it.
    """
    return _gda(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi, init, drift, seed, n_records, record_every,
                ni_grid, progress, "cpu")


@renamed_keywords(T="t_final", h="dt")
@honours_parallel
def gpu_particle_gda(payoff, tau, eta, t_final, *, n_x: int = 1000, n_y: int | None = None, dt: float = 2.5e-4,
                     runs: int = 1, anneal_xi=None, init="uniform", drift: str = "feature", seed=0,
                     n_records: int | None = None, record_every=None, ni_grid: int = 1024, progress=False,
                     parallel=None) -> Result:
    """CUDA variant of :func:`gdsim.games.particle_gda`: same signature, same results (to rounding).

    The same host function as the CPU call with the GPU stepper (``_cuda.stepper``). The noise comes from
    the same counter-based normal pairs as on the CPU, so a seed gives the same noise on both devices; only
    the order of the moment sums differs. ``seed`` defaults to 0 (reproducible; ``None`` draws fresh entropy).

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.
    """
    return _gda(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi, init, drift, seed, n_records, record_every,
                ni_grid, progress, "cuda")


def _gda(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi, init, drift, seed, n_records, record_every,
         ni_grid, progress, backend):
    """The one host function of :func:`particle_gda` and :func:`gpu_particle_gda`: validate, build the stepper
    (the CPU fused kernels or the CUDA ones), run it through the engine's driver, build the Result.

    The fused kernels record the moments and NI_0 themselves at the record steps inside the range they
    advance (no host round trip per record), so the driver's record points are (0, steps): one kernel call
    for the whole run, or about 50 with a progress bar (the driver's chunks; the same bits either way).
    """
    n_y = n_x if n_y is None else n_y
    taus, steps, keys, X0, Y0, rec, grid, config = _prepare(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi,
                                                            init, drift, seed, n_records, ni_grid, record_every)
    progress = flag(progress, "progress")
    nrec = rec.size
    mom = np.full((runs, nrec, 2, 4), np.nan)
    ni0 = np.full((runs, nrec), np.nan)
    X, Y = X0.copy(), Y0.copy()
    if backend == "cuda":
        from gdsim.games import _cuda

        advance, sync = _cuda.stepper(payoff, taus, eta, dt, steps, drift, keys, rec, grid, X, Y, mom, ni0)
        desc = "particle GDA (CUDA)"
    else:
        advance, sync = _cpu_stepper(payoff, taus, eta, dt, drift, keys, rec, grid, X, Y, mom, ni0)
        desc = "particle GDA"
    # one record point pair (0, steps): the fused kernels record inside the range they advance; with a bar the
    # driver cuts the run into about 50 pieces (the kernels take their first step's index: same bits)
    wall = drive(np.array([0, steps]), advance, None, sync=sync, progress=progress, desc=desc, n_chunks=50,
                 bar_scale=float(runs) if runs > 1 else 1.0)
    tau_t = np.append(taus, taus[-1] if taus.size else np.nan)[rec] if taus.size else np.full(nrec, np.nan)
    return gda_result(rec, dt, mom, ni0, tau_t, X, Y, config, backend, wall)


def _cpu_stepper(payoff, taus, eta, dt, drift, keys, rec, grid, X, Y, mom, ni0):
    """(advance, sync) of the CPU fused kernels: ``advance(k0, k1)`` runs steps k0 .. k1-1 of every system and
    records at the record steps in k0 .. k1; the state lives on the host (no sync)."""
    runs, n_x = X.shape
    n_y = Y.shape[1]
    taus_k = taus if taus.size else np.zeros(1)
    # small systems: one serial system per thread; a large one: its particles in parallel (same bits)
    small = drift == "feature" and max(n_x, n_y) < PARALLEL_MIN_PARTICLES

    def advance(k0, k1):
        if small:
            k.gda_feature_runs(X, Y, payoff.coef, taus_k, eta, dt, k0, k1, keys, rec, mom, ni0, grid, 2)
            return
        for r in range(runs):
            if drift == "feature":
                k.gda_feature(X[r], Y[r], payoff.coef, taus_k, eta, dt, k0, k1, keys[r, 0], keys[r, 1], rec, mom[r],
                              ni0[r], grid, 2)
            else:
                k.gda_pairwise(X[r], Y[r], payoff.grad_x, payoff.grad_y, payoff.params, taus_k, eta, dt, k0, k1,
                               keys[r, 0], keys[r, 1], rec, mom[r], 2)

    return advance, None


def gda_result(rec, h, mom, ni0, tau_t, X, Y, config, backend, wall) -> Result:
    """The labelled result of a particle GDA run (shared by the CPU and CUDA steppers), built by the engine's
    :func:`~gdsim.dynamics._driver.stepped_result`: dim ``step`` with the integer step coordinate ``step`` and
    the physical time ``time`` (= ``t``, kept for existing code)."""
    t = rec * h
    return stepped_result(dict(t=t, step=rec, moments=np.swapaxes(mom, 0, 1), ni0=ni0.T, tau_t=tau_t, X=X, Y=Y),
                          dict(t=("step",), step=("step",), moments=("step", "run", "player", "moment"),
                               ni0=("step", "run"), tau_t=("step",), X=("run", "particle_x"),
                               Y=("run", "particle_y")),
                          meta=dict(config={**config, "backend": backend}, wall_time_s=wall), time=t,
                          coords=("step",))
