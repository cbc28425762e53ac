"""Central flows for gradient descent (Cohen, Damian, Talwalkar, Kolter, Lee, ICLR 2025): the time-averaged
trajectory of GD at the edge of stability, and the third-derivative contractions it needs.

Public: :func:`central_flow` (exported by :mod:`gdsim.dynamics`), and here :func:`third_derivative`
(nabla_w (u^T H(w) v) = D^3 L(w)[u, v, .]) and :func:`sharpness_gradient` (nabla lambda_1 at a simple top
eigenvalue).

Third derivatives. D^3 L[u, v, .] is the directional derivative of the Hessian-vector product H(w) v along u
(the third derivative is totally symmetric), so:

* ``"complex_step"`` (exact to rounding): Im[H(w + i h u) v] / h, h = 1e-20 / max|u|, with the model's own
  Hessian-vector kernel run on complex parameters. This is forward-mode differentiation of the R-op (a
  second R-op), with no subtraction and hence no cancellation. It is available when the model's ``hvp``
  kernel compiles for complex input: the zoo MLPs (:func:`gdsim.models.mlp`, every activation; ReLU's
  third derivative is taken away from its kinks, where it is defined) and any custom ``hvp`` written
  type-generically;
* ``"finite_difference"`` (every model, custom ones included): fourth-order central differences of
  Hessian-vector products along u,
  [-H(w + 2e u) v + 8 H(w + e u) v - 8 H(w - e u) v + H(w - 2e u) v] / (12 e), e = 1e-3 max(1, |w|_inf) / |u|,
  error O(e^4 |D^5 L|) + O(eps / e |H v|): about 1e-11 relative on the zoo MLPs (measured in the tests
  against the complex step), on top of the HVP's own accuracy (exact for the complex-step HVPs of
  custom models).
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from numba import prange

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.first_class import function_value
from gdsim._core.jit import jit
from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, batch_dims
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics._curvature import _check_model, _in_driver
from gdsim.dynamics._driver import BLOWUP, _seed_meta
from gdsim.models._model import _batch_hvp

__all__ = ["central_flow", "third_derivative", "sharpness_gradient"]

THIRD_METHODS = ("auto", "complex_step", "finite_difference")


# ------------------------------------------------------------------------------------------ third derivatives
@jit(parallel=True)
def _third_cs(hvp_c, W, U, run, ii, jj, data, out):
    """out[p] = Im[H(W[run[p]] + i h U[run[p], ii[p]]) U[run[p], jj[p]]] / h for every triple p."""
    P = W.shape[1]
    for p in prange(run.size):
        r = run[p]
        u = U[r, ii[p]]
        scale = 0.0
        for i in range(P):
            scale = max(scale, abs(u[i]))
        if scale == 0.0:
            out[p, :] = 0.0
            continue
        h = 1e-20 / scale
        wc = np.empty(P, dtype=np.complex128)
        vc = np.empty(P, dtype=np.complex128)
        for i in range(P):
            wc[i] = W[r, i] + 1j * h * u[i]
            vc[i] = U[r, jj[p], i]
        oc = np.zeros(P, dtype=np.complex128)
        hvp_c(wc, vc, *data, oc)
        for i in range(P):
            out[p, i] = oc[i].imag / h


_COMPLEX_HVP: dict = {}


def _complex_hvp(m):
    """The model's ``hvp`` kernel as a function value on complex parameters, or None when it does not compile
    (or gives non-finite values) for complex input."""
    key = (m._hvp, m.hvp_method, tuple(numba.typeof(d) for d in m.data))
    if key not in _COMPLEX_HVP:
        fv = None
        # (only a hand-written HVP kernel: the derived ones of custom models already use the complex step or
        # differences inside, and a complex step on top of them would be wrong)
        if m.hvp_method == "exact" and isinstance(m._hvp, numba.core.registry.CPUDispatcher):
            c1 = numba.types.Array(numba.types.complex128, 1, "C")
            try:
                cand = function_value(m._hvp, (c1, c1, *key[1], c1))
                P = m.n_params
                out = np.empty((1, P))
                _third_cs(cand, np.full((1, P), 0.1), np.ones((1, 1, P)), np.zeros(1, np.int64),
                          np.zeros(1, np.int64), np.zeros(1, np.int64), m.data, out)
                fv = cand if np.all(np.isfinite(out)) else None
            except Exception:  # noqa: BLE001 - any failure to compile or run means: no complex step
                fv = None
        _COMPLEX_HVP[key] = fv
    return _COMPLEX_HVP[key]


def _third_method(m, method):
    if method not in THIRD_METHODS:
        raise ValueError(f"third_derivative method must be one of {THIRD_METHODS}; got {method!r}")
    if method == "finite_difference":
        return method
    cs = _complex_hvp(m)
    if cs is None:
        if method == "complex_step":
            raise ValueError(f"model {m.name!r}: its hvp kernel does not run on complex parameters, so the complex "
                             "step is not available; use third_derivative='finite_difference' (or 'auto')")
        return "finite_difference"
    return "complex_step"


@jit(parallel=True)
def _block_hvp_kernel(prep, hvpc, W, V, data, out):
    """out[r, c] = H(W[r]) V[r, c]: one forward pass (``prep``) per run, then one product per column."""
    for r in prange(W.shape[0]):
        cache = prep(W[r], *data)
        for c in range(V.shape[1]):
            hvpc(W[r], V[r, c], *data, cache, out[r, c])


def _block_hvp(m, W, V):
    """H(W[r]) V[r, c] for runs r and columns c (V (R, b, P))."""
    out = np.empty_like(V)
    if V.size:
        h = kern.handles(m)
        _block_hvp_kernel(h.prep, h.hvpc, np.ascontiguousarray(W), np.ascontiguousarray(V), m.data, out)
    return out


def _hvp_rows(m, W, V):
    """H(W[r]) V[r] for rows r (W, V (n, P)), through the model's exact (or complex-step) HVP kernel."""
    out = np.empty_like(W)
    if W.shape[0]:
        _batch_hvp(m._function_value("hvp"), np.ascontiguousarray(W), np.ascontiguousarray(V), m.data, out)
    return out


def _third_triples(m, W, U, run, ii, jj, method):
    """D^3 L(W[run])[U[run, ii], U[run, jj], .] for every triple, (n_triples, P)."""
    n, P = run.size, W.shape[1]
    out = np.empty((n, P))
    if n == 0:
        return out
    if method == "complex_step":
        _third_cs(_complex_hvp(m), W, U, run, ii, jj, m.data, out)
        return out
    # fourth-order central differences of HVPs along u (see the module docstring)
    u = U[run, ii]
    vv = U[run, jj]
    wr = W[run]
    un = np.sqrt(np.sum(u * u, axis=1))
    e = 1e-3 * np.maximum(1.0, np.abs(wr).max(axis=1)) / np.where(un > 0, un, 1.0)
    shifts = np.array([2.0, 1.0, -1.0, -2.0])
    Ws = wr[:, None, :] + shifts[None, :, None] * e[:, None, None] * u[:, None, :]
    Hs = _hvp_rows(m, Ws.reshape(-1, P), np.repeat(vv, 4, axis=0)).reshape(n, 4, P)
    out[:] = (-Hs[:, 0] + 8.0 * Hs[:, 1] - 8.0 * Hs[:, 2] + Hs[:, 3]) / (12.0 * e[:, None])
    out[un == 0] = 0.0
    return out


def third_derivative(m, w, u, v_, *, method="auto"):
    """The third-derivative contraction nabla_w (u^T H(w) v) = D^3 L(w)[u, v, .], batched.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    u, v_ : array_like, broadcast against ``w``
        The two directions (any scale; the result is bilinear in them).
    method : {"auto", "complex_step", "finite_difference"}
        "auto": the complex step of the model's Hessian-vector kernel when it runs on complex parameters
        (exact to rounding: the zoo MLPs), otherwise fourth-order central differences of Hessian-vector
        products (see the module docstring for their error).

    Returns
    -------
    ndarray, same shape as ``w``
    """
    m = _check_model(m)
    w = m.weights(w)
    arrs = []
    for name, x in (("u", u), ("v", v_)):
        x = v.real_array(x, name, min_ndim=1)
        try:
            arrs.append(np.broadcast_to(x, w.shape))
        except ValueError:
            raise ValueError(f"{name} with shape {x.shape} does not broadcast against w with shape {w.shape}") from None
    method = _third_method(m, method)
    P = m.n_params
    W = np.ascontiguousarray(w.reshape(-1, P))
    R = W.shape[0]
    U = np.ascontiguousarray(np.stack([arrs[0].reshape(-1, P), arrs[1].reshape(-1, P)], axis=1))
    with _in_driver(m):
        out = _third_triples(m, W, U, np.arange(R), np.zeros(R, np.int64), np.ones(R, np.int64), method)
    return out.reshape(w.shape)


def sharpness_gradient(m, w, *, method="auto", tol=1e-10, seed=0):
    """The gradient of the sharpness, nabla lambda_1(w) = D^3 L(w)[u, u, .] with u the unit top eigenvector.

    Valid where lambda_1 is a simple eigenvalue (elsewhere lambda_1 is not differentiable; the central flow
    uses the basis-invariant pairwise contractions of :func:`third_derivative` instead).

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    method : {"auto", "complex_step", "finite_difference"}
        As in :func:`third_derivative`.
    tol, seed
        Lanczos tolerance and start vectors of :func:`gdsim.dynamics.top_eigenpairs`.

    Returns
    -------
    ndarray, same shape as ``w``
    """
    from gdsim.dynamics._curvature import top_eigenpairs

    m = _check_model(m)
    w = m.weights(w)
    _, vecs = top_eigenpairs(m, w, 1, tol=tol, seed=seed)
    u = vecs[..., 0, :]
    return third_derivative(m, w, u, u, method=method)


# ------------------------------------------------------------------------------------------ SDCP
@jit
def _sdcp(A, Gm, max_iter, tol):
    """X solving SDCP(A, B): X >= 0, A + B[X] >= 0, <X, A + B[X]> = 0 (PSD orders), B[X] = reshape(Gm vec X).

    ``Gm`` (k^2, k^2) is symmetric PSD on symmetric matrices (a Gram matrix), so the SDCP is the optimality
    condition of the convex program min_{X >= 0} 1/2 <X, B[X]> + <A, X>, solved by accelerated projected
    gradient (FISTA with adaptive restart; projection = eigenvalue clipping). k = 1: X = max(0, -A / B).
    Returns (X, the complementarity residual |<X, A + B[X]>| + |min(0, eig(A + B[X]))|, iterations).
    """
    k = A.shape[0]
    X = np.zeros((k, k))
    if k == 0:
        return X, 0.0, 0
    ea = np.linalg.eigvalsh(A)
    if ea[0] >= 0.0:
        return X, 0.0, 0
    if k == 1:
        X[0, 0] = max(0.0, -A[0, 0] / Gm[0, 0]) if Gm[0, 0] > 0.0 else 0.0
        return X, 0.0, 0
    Lip = np.linalg.eigvalsh(Gm)[-1]
    if not (Lip > 0.0):
        return X, np.inf, 0
    Y = X.copy()
    t = 1.0
    obj_prev = np.inf
    it = 0
    res = np.inf
    scale = max(np.abs(ea).max(), 1e-300)
    for it in range(max_iter):
        grad = (Gm @ Y.reshape(k * k)).reshape(k, k) + A
        Z = Y - grad / Lip
        Z = 0.5 * (Z + Z.T)
        ev, Q = np.linalg.eigh(Z)
        Xn = (Q * np.maximum(ev, 0.0)) @ Q.T
        Xn = 0.5 * (Xn + Xn.T)
        BX = (Gm @ Xn.reshape(k * k)).reshape(k, k)
        obj = 0.5 * np.sum(Xn * BX) + np.sum(A * Xn)
        tn = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        if obj > obj_prev:  # adaptive restart (O'Donoghue & Candes 2015)
            tn = 1.0
            Y = Xn.copy()
        else:
            Y = Xn + ((t - 1.0) / tn) * (Xn - X)
        t = tn
        X = Xn
        obj_prev = obj
        if it % 10 == 9:
            S = A + BX
            S = 0.5 * (S + S.T)
            res = abs(np.sum(X * S)) / scale + max(0.0, -np.linalg.eigvalsh(S)[0]) / scale
            if res <= tol:
                break
    return X, res, it + 1


def solve_sdcp(A, Gm, *, max_iter=20000, tol=1e-12):
    """Solve SDCP(A, B) (see :func:`_sdcp`); A (k, k), Gm (k^2, k^2). Returns (X, relative residual)."""
    A = np.ascontiguousarray(np.asarray(A, dtype=np.float64))
    Gm = np.ascontiguousarray(np.asarray(Gm, dtype=np.float64))
    X, res, _ = _sdcp(0.5 * (A + A.T), 0.5 * (Gm + Gm.T), int(max_iter), float(tol))
    return X, float(res)


# ------------------------------------------------------------------------------------------ eigenpairs
def _orth_block(Bk, basis, keys, salt0):
    """Columns of Bk (R, b, P) orthonormalised against ``basis`` (R, n, P, orthonormal rows) and each other
    (Gram-Schmidt twice); a column that vanishes is replaced by a fresh deterministic vector."""
    R, b, P = Bk.shape
    out = np.empty_like(Bk)
    for c in range(b):
        x = Bk[:, c].copy()
        n0 = np.sqrt(np.sum(x * x, axis=1))
        for _ in range(2):
            if basis.shape[1]:
                x -= np.einsum("rn,rnp->rp", np.einsum("rnp,rp->rn", basis, x), basis)
            if c:
                x -= np.einsum("rn,rnp->rp", np.einsum("rnp,rp->rn", out[:, :c], x), out[:, :c])
        n1 = np.sqrt(np.sum(x * x, axis=1))
        bad = ~(n1 > 1e-10 * np.maximum(n0, 1e-300))
        if bad.any():
            fresh = np.empty((int(bad.sum()), P))
            kern.fresh_vectors(keys[bad], salt0 + c, fresh)
            x[bad] = fresh
            for _ in range(2):
                if basis.shape[1]:
                    x -= np.einsum("rn,rnp->rp", np.einsum("rnp,rp->rn", basis, x), basis)
                if c:
                    x -= np.einsum("rn,rnp->rp", np.einsum("rnp,rp->rn", out[:, :c], x), out[:, :c])
            n1 = np.sqrt(np.sum(x * x, axis=1))
        out[:, c] = x / n1[:, None]
    return out


def _block_eigs(m, W, V, keys, tol, strict_above, depth=3, max_cycles=60, loose=1e-2):
    """Top-b eigenpairs of H(W[r]) for every run by block Krylov Rayleigh-Ritz, warm-started from V (R, b, P).

    Each cycle builds the basis [V, R0, H R0, ..., H^(depth-1) R0] (R0 the Ritz residuals, orthonormalised),
    applies H to it and takes the Rayleigh-Ritz pairs; it stops when every Ritz pair's residual
    |H u - theta u| is at most ``tol`` times |theta_1| for the top pair and every pair whose value is above
    ``strict_above`` (R,), and ``loose`` times |theta_1| for the others (their values are then still known to
    about loose^2 |theta_1|^2 / gap: enough to decide that they are below the edge). A block method, unlike
    single-vector Lanczos, resolves
    the (nearly) repeated eigenvalues that the central flow pins at 2/lr. Returns (theta (R, b) descending,
    U (R, b, P), residuals (R, b), H applications).
    """
    R, b, P = V.shape
    Q = _orth_block(V, np.zeros((R, 0, P)), keys, 101)
    HQ = _block_hvp(m, W, Q)
    n_hvp = b
    for cycle in range(max_cycles):
        T = np.einsum("rap,rbp->rab", Q, HQ)
        T = 0.5 * (T + np.transpose(T, (0, 2, 1)))
        th, S = np.linalg.eigh(T)
        th, S = th[:, ::-1][:, :b], S[:, :, ::-1][:, :, :b]
        U = np.einsum("rnb,rnp->rbp", S, Q)
        HU = np.einsum("rnb,rnp->rbp", S, HQ)
        Res = HU - th[:, :, None] * U
        rn = np.sqrt(np.sum(Res * Res, axis=2))
        top = np.maximum(np.abs(th).max(axis=1), 1e-300)
        need = np.where((th >= strict_above[:, None]) | (np.arange(b) == 0)[None, :], tol, loose)
        if np.all(rn <= need * top[:, None]) or cycle == max_cycles - 1:
            return th, U, rn, n_hvp
        blocks = [U]
        hblocks = [HU]
        basis = U
        nxt = Res
        for d in range(depth):
            Bk = _orth_block(nxt, basis, keys, 211 + 17 * cycle + 5 * d)
            HB = _block_hvp(m, W, Bk)
            n_hvp += b
            blocks.append(Bk)
            hblocks.append(HB)
            basis = np.concatenate(blocks, axis=1)
            nxt = HB
        Q = np.concatenate(blocks, axis=1)
        HQ = np.concatenate(hblocks, axis=1)
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------------------------------ the flow
def _pairs(k):
    return [(i, j) for i in range(k) for j in range(i, k)]


def _third_for(m, W, U, runs, crit, method, stats):
    """For each run r in ``runs``: the (k^2, P) matrix of g_ij = D^3 L[u_i, u_j, .] over its k = crit[r]
    critical eigenvectors (symmetric in (i, j); the k(k+1)/2 distinct ones computed)."""
    trip_r, trip_i, trip_j = [], [], []
    for r in runs:
        for (i, j) in _pairs(int(crit[r])):
            trip_r.append(r)
            trip_i.append(i)
            trip_j.append(j)
    g = _third_triples(m, W, np.ascontiguousarray(U), np.array(trip_r, np.int64), np.array(trip_i, np.int64),
                       np.array(trip_j, np.int64), method)
    stats["third"] += len(trip_r)
    out, pos = [], 0
    P = W.shape[1]
    for r in runs:
        k = int(crit[r])
        prs = _pairs(k)
        gfull = np.empty((k, k, P))
        for q, (i, j) in enumerate(prs):
            gfull[i, j] = g[pos + q]
            gfull[j, i] = g[pos + q]
        pos += len(prs)
        out.append(gfull.reshape(k * k, P))
    return out


def central_flow(m, w0, lr, t_final, *, record_interval=1.0, observe=("loss", "sharpness"), substeps=4, n_eig=2,
                 track_threshold=1.5, sdcp_threshold=1.95, third_derivative="auto", eig_tol=1e-5, rtol=1e-10,
                 atol=1e-14, max_eig=None, edge_tol=1e-9, max_projections=4, blowup=BLOWUP, seed=0, progress=False):
    r"""The central flow of full-batch gradient descent: the time-averaged GD trajectory, also at the edge of
    stability (Cohen, Damian, Talwalkar, Kolter & Lee, ICLR 2025).

    Parameters
    ----------
    m : gdsim.models.Model
    w0 : array_like, shape (*batch, P)
        Initial parameters (GD's initial point).
    lr : float or array_like
        GD's learning rate eta (> 0), broadcast against the batch.
    t_final : float
        Final time in units of GD steps (> 0; a multiple of 1 / ``substeps``).
    record_interval : float
        Time between records, in steps (a multiple of 1 / ``substeps``).
    observe : sequence of str
        ``"loss"``, ``"sharpness"`` (lambda_1), ``"grad_norm"``, ``"w"``, ``"eigenvalues"`` (the tracked
        top eigenvalues, (n_records, *batch, max_eig), NaN-padded). ``predicted_loss``, ``oscillation``,
        ``sigma`` and ``n_edge`` are always returned.
    substeps : int
        Euler substeps per unit of time at the edge (dt = 1 / substeps; the authors' ``nsubsteps = 4``).
    n_eig : int
        Top eigenpairs tracked at the start (grown automatically, see Notes).
    track_threshold : float
        Every eigenvalue above ``track_threshold / lr`` is tracked (the authors' 1.5).
    sdcp_threshold : float
        Tracked eigenvalues above ``sdcp_threshold / lr`` enter the complementarity problem (the authors' 1.95).
    third_derivative : {"auto", "complex_step", "finite_difference"}
        How D^3 L[u_i, u_j, .] is computed (module docstring): exact (complex step of the R-op) for the zoo,
        fourth-order differences of HVPs for custom models.
    eig_tol : float
        Residual tolerance |H u - theta u| <= eig_tol |theta_1| of the block eigensolver (the eigenvalues are
        then accurate to about eig_tol^2 |theta_1|^2 / gap).
    rtol, atol : float
        Error control of the Dormand-Prince 5(4) integration of the stable (gradient-flow) phases.
    max_eig : int, optional
        At most this many tracked eigenpairs (default min(16, P)).
    edge_tol, max_projections : float, int
        At every whole step, a run at the edge whose critical eigenvalues exceed (1 + edge_tol) 2/lr is projected
        back onto the edge (at most ``max_projections`` Newton-type corrections; see Notes).
    blowup : float
        A run whose parameters leave [-blowup, blowup] or whose loss is not finite has diverged (NaN from then on).
    seed : int, SeedSequence or None
        Deterministic start vectors of the eigensolver (one stream per run).
    progress : bool

    Returns
    -------
    Result
        ``t`` (n_records,) in steps (dim ``time``); ``loss``, ``sharpness``, ... (n_records, *batch);
        ``predicted_loss`` = L(w) + 1/2 <U^T H U, X> (the predicted time-averaged GD loss; = L + tr(Sigma)/lr
        at the edge); ``oscillation`` = sqrt(tr Sigma) (the predicted RMS distance of GD's iterates from w(t));
        ``sigma`` (n_records, *batch, max_eig): the eigenvalues of Sigma, descending (the predicted variance
        of GD's displacement along Sigma's eigenvectors); ``n_edge`` (number of eigenvalues at the edge:
        the rank of Sigma); ``w_final``; ``lr``; ``threshold`` = 2/lr; ``first_edge_time`` (first time Sigma
        is non-zero, -1 if never); ``diverged``; ``meta``.

    Notes
    -----
    Time t counts GD steps. Away from the edge (every Hessian eigenvalue below ``sdcp_threshold / lr``) the
    flow is gradient flow, dw/dt = -lr grad L(w), integrated here by adaptive Dormand-Prince 5(4) (so it equals
    :func:`gdsim.dynamics.gradient_flow` at time lr t to the integrator's tolerance). At the edge the paper's
    GD central flow is (single eigenvalue, paper eq. (4) of v1; several, eq. (9)-(10) with the SDCP)

    .. math::

        \frac{dw}{dt} = -\eta\left[\nabla L(w) + \tfrac12 \nabla_w \langle H(w), \Sigma(t)\rangle\right],
        \quad \Sigma = U X U^\top,

    U the unit eigenvectors of the critical eigenvalues and X (symmetric PSD, k x k) the solution of the
    semidefinite complementarity problem: X >= 0, (2/eta) I - U^T H U at t + dt >= 0, and complementary. For one
    eigenvalue, sigma^2 = X = max(0, 2 <-grad L, grad S> / |grad S|^2) (dS/dt = 0). The discretisation is the
    authors' code's (``minimal.py::step_central``, ``src/flows.py``): with g_ij = D^3 L[u_i, u_j, .] and
    Gram_{ij,kl} = <g_ij, g_kl>,

        A = (2/eta) I - diag(theta) - dt <g_ij, -eta grad L>,   B[X] = dt (eta / 2) Gram[X],
        X = SDCP(A, B),   w <- w + dt (-eta grad L - (eta / 2) sum_ij X_ij g_ij),

    i.e. stability is enforced at t + dt from the current eigenvalues, which pulls an eigenvalue that overshot
    back within one substep. The Euler substep's own (second-order) error leaves the eigenvalue off 2/lr by
    ~3e-6 relative on the digits net (more when a second eigenvalue comes close: the eigenvalue's curvature
    grows as 1/gap); so at every whole step the iterate is projected back onto the edge,
    W <- W - (eta/2) sum_ij X'_ij g_ij with X' = SDCP((2/eta) I - diag(theta), (eta/2) Gram), repeated until the
    overshoot is below ``edge_tol`` (a projection method for the constrained ODE; gdsim's addition, not the
    authors'). Records at whole steps therefore hold the sharpness at 2/lr to ~edge_tol. Predicted time-averaged
    loss: L + 1/2 <H, Sigma> (the brief's L + 1/2 sum_i sigma_i^2 lambda_i; the code's L + tr Sigma / eta, equal
    at the edge). Eigenvalue tracking follows the
    code: all eigenvalues above ``track_threshold / lr`` are tracked (a pair is added whenever the smallest
    tracked one exceeds it), recomputed at every substep.

    Fidelity notes: [PAPER] the flow, Sigma, the SDCP and the predictions; [CODE] the discretisation (Euler,
    4 substeps, thresholds 1.95 and 1.5, the forward-looking SDCP residual). Differs: float64 throughout
    (the torch code casts X to float32); the eigenpairs come from a block Krylov Rayleigh-Ritz solver (the code
    uses warm-started LOBPCG), recomputed every substep (the code: once per step by default); the SDCP is
    solved by accelerated projected gradient to a relative complementarity residual of 1e-12 (the code: cvxpy
    and CVXOPT); unit eigenvectors (``minimal.py``'s convention; ``src/flows.py`` uses P-orthonormal ones);
    the stable phases are integrated adaptively (the code: Euler with 4 substeps). RMSProp's central flow
    (also in the paper) is not implemented: its SDCP needs the preconditioner's time derivative inside the
    problem and its own stationary-preconditioner solve, beyond this module's scope.
    """
    m = _check_model(m)
    w0 = m.weights(w0, "w0")
    lr_arr = v.positive_array(lr, "lr")
    t_final = v.real_scalar(t_final, "t_final", lo=0.0, lo_open=True)
    substeps = v.integer(substeps, "substeps", lo=1, hi=10**4)
    n_sub_total = t_final * substeps
    if abs(n_sub_total - round(n_sub_total)) > 1e-9 * max(1.0, n_sub_total):
        raise ValueError(f"t_final must be a multiple of 1/substeps = {1 / substeps:g}; got {t_final!r}")
    n_sub_total = int(round(n_sub_total))
    if n_sub_total > 10**8:
        raise ValueError(f"t_final * substeps = {n_sub_total} substeps is too many (at most 1e8)")
    record_interval = v.real_scalar(record_interval, "record_interval", lo=0.0, lo_open=True)
    rec_sub = record_interval * substeps
    if abs(rec_sub - round(rec_sub)) > 1e-9 * max(1.0, rec_sub) or round(rec_sub) < 1:
        raise ValueError(f"record_interval must be a positive multiple of 1/substeps = {1 / substeps:g}; "
                         f"got {record_interval!r}")
    rec_sub = int(round(rec_sub))
    if isinstance(observe, str):
        observe = (observe,)
    try:
        observe = tuple(observe)
    except TypeError:
        raise TypeError(f"observe must be a sequence of names; got {observe!r}") from None
    allowed = ("loss", "sharpness", "grad_norm", "w", "eigenvalues")
    for o in observe:
        if o not in allowed:
            raise ValueError(f"observe entries must be among {allowed}; got {o!r}")
    n_eig = v.integer(n_eig, "n_eig", lo=1, hi=m.n_params)
    # the default (16) is capped at P for tiny models; an explicit value above P is an error
    max_eig = min(16, m.n_params) if max_eig is None else v.integer(max_eig, "max_eig", lo=n_eig, hi=m.n_params)
    max_eig = max(max_eig, n_eig)
    edge_tol = v.real_scalar(edge_tol, "edge_tol", lo=0.0, hi=1e-1, lo_open=True)
    max_projections = v.integer(max_projections, "max_projections", lo=0, hi=100)
    track_threshold = v.real_scalar(track_threshold, "track_threshold", lo=0.0, lo_open=True)
    sdcp_threshold = v.real_scalar(sdcp_threshold, "sdcp_threshold", lo=track_threshold, hi=2.0)
    eig_tol = v.real_scalar(eig_tol, "eig_tol", lo=1e-14, hi=1e-2)
    rtol = v.real_scalar(rtol, "rtol", lo=1e-15, hi=1e-1)
    atol = v.real_scalar(atol, "atol", lo=0.0, hi=1.0, lo_open=True)
    blowup = v.real_scalar(blowup, "blowup", lo=0.0, lo_open=True)
    progress = v.flag(progress, "progress")
    method = _third_method(m, third_derivative)
    try:
        batch = np.broadcast_shapes(w0.shape[:-1], lr_arr.shape)
    except ValueError:
        raise ValueError(f"the batch shapes do not broadcast: w0 batch {w0.shape[:-1]}, lr {lr_arr.shape}") from None
    R = int(np.prod(batch, dtype=np.int64)) if batch else 1
    P = m.n_params
    rec_idx = np.arange(0, n_sub_total + 1, rec_sub)
    if rec_idx[-1] != n_sub_total:
        rec_idx = np.append(rec_idx, n_sub_total)
    n_rec = rec_idx.size
    keep_w = "w" in observe
    v.check_budget(f"batch = {batch}, n_params = {P}, {n_rec} records",
                   bytes_needed=8.0 * R * P * (4 * max_eig + 12 + (n_rec if keep_w else 0)) + 8.0 * n_rec * R * (
                       2 * max_eig + 8))
    W = np.ascontiguousarray(np.broadcast_to(w0, (*batch, P)).reshape(R, P)).copy()
    eta = np.ascontiguousarray(np.broadcast_to(lr_arr, batch).reshape(R)).astype(np.float64)
    keys = keys_from_seed(seed, R)
    dt = 1.0 / substeps
    b = n_eig
    V = np.empty((R, b, P))
    for c in range(b):
        kern.fresh_vectors(keys, 31 + c, V[:, c])
    diverged = np.zeros(R, dtype=np.bool_)
    # records
    recs = {name: np.full((n_rec, R), np.nan) for name in ("loss", "sharpness", "grad_norm", "predicted_loss",
                                                             "oscillation")}
    n_edge = np.zeros((n_rec, R), dtype=np.int64)
    sigma = np.full((n_rec, R, max_eig), np.nan)
    eigs = np.full((n_rec, R, max_eig), np.nan)
    w_rec = np.full((n_rec, R, P), np.nan) if keep_w else None
    first_edge = np.full(R, -1.0)
    h = kern.handles(m)
    flow_states = np.zeros((R, 4))
    Vf = np.empty((R, P))
    kern.fresh_vectors(keys, 3, Vf)
    stats = dict(hvp=0, third=0, sdcp_max_residual=0.0, max_tracked=b, edge_substeps=0, projections=0)
    thr_sdcp = sdcp_threshold / eta
    thr_track = track_threshold / eta
    # far below the edge (every run's lambda_1 < far_below x sdcp_threshold / lr) the eigenpairs are refreshed once
    # per step only: the flow is then gradient flow, whose sharpness moves by far less than 10 % in one step
    far_below = 0.9
    was_edge = np.zeros(R, dtype=np.bool_)
    theta_prev = np.full((R, b), np.nan)
    U_prev = np.full((R, b, P), np.nan)
    t0 = time.perf_counter()
    ri = 0
    with _in_driver(m), progress_bar(n_sub_total, enabled=progress, desc="central flow", unit="substep") as bar:
        for s in range(n_sub_total + 1):
            alive = ~diverged
            # ---- evaluate: loss, gradient, tracked eigenpairs at W (then, at whole steps, project back onto the
            # edge: a run that was at the edge and whose critical eigenvalues overshot 2/lr is moved along the
            # span of the g_ij, by the same complementarity problem with dt = 1, until they are within edge_tol)
            for proj in range(max_projections + 1):
                L = np.full(R, np.nan)
                G = np.full((R, P), np.nan)
                if alive.any():
                    L[alive], G[alive] = m.loss_grad(W[alive])
                on_record = ri < n_rec and s == rec_idx[ri]
                far = bool(alive.any()) and s > 0 and not on_record and s % substeps != 0 and bool(
                    np.all(theta_prev[alive, 0] < far_below * thr_sdcp[alive]))
                theta = theta_prev.copy() if far else np.full((R, b), np.nan)
                U = U_prev.copy() if far else np.full((R, b, P), np.nan)
                while alive.any() and not far:
                    Wa = W[alive]
                    th, Ua, _, nh = _block_eigs(m, Wa, V[alive], keys[alive], eig_tol, far_below * thr_sdcp[alive])
                    stats["hvp"] += nh
                    theta[alive], U[alive] = th, Ua
                    V[alive] = Ua
                    grow = th[:, -1] > thr_track[alive]
                    if grow.any() and b < max_eig:
                        b += 1
                        stats["max_tracked"] = b
                        extra = np.empty((R, 1, P))
                        kern.fresh_vectors(keys, 31 + b, extra[:, 0])
                        V = np.concatenate([V, extra], axis=1)
                        theta = np.full((R, b), np.nan)
                        U = np.full((R, b, P), np.nan)
                        continue
                    break
                crit = np.zeros(R, dtype=np.int64)
                if alive.any():
                    crit[alive] = np.sum(theta[alive] > thr_sdcp[alive, None], axis=1)
                if s == 0 or s % substeps != 0 or proj == max_projections:
                    break
                over = np.flatnonzero(alive & was_edge & (crit > 0) & (theta[:, 0] > (1.0 + edge_tol) * 2.0 / eta))
                if over.size == 0:
                    break
                gflats = _third_for(m, W, U, over, crit, method, stats)
                for r, gflat in zip(over, gflats):
                    k = int(crit[r])
                    A = (2.0 / eta[r]) * np.eye(k) - np.diag(theta[r, :k])
                    Bm = 0.5 * eta[r] * (gflat @ gflat.T)
                    scale = math.sqrt(np.mean(Bm * Bm)) or 1.0
                    X, res, _ = _sdcp(A / scale, Bm / scale, 20000, 1e-12)
                    W[r] -= 0.5 * eta[r] * (X.reshape(k * k) @ gflat)  # (SDCP(A/s, B/s) = SDCP(A, B))
                stats["projections"] += int(over.size)
            theta_prev, U_prev = theta, U
            X_run = [np.zeros((0, 0)) for _ in range(R)]
            step_dir = np.zeros((R, P))
            # ---- the SDCP where eigenvalues are critical
            central = np.flatnonzero(alive & (crit > 0))
            if central.size:
                gflats = _third_for(m, W, U, central, crit, method, stats)
                for r, gflat in zip(central, gflats):
                    k = int(crit[r])
                    A = (2.0 / eta[r]) * np.eye(k) - np.diag(theta[r, :k]) \
                        + dt * eta[r] * (gflat @ G[r]).reshape(k, k)
                    A = 0.5 * (A + A.T)
                    Bm = dt * 0.5 * eta[r] * (gflat @ gflat.T)
                    scale = math.sqrt(np.mean(Bm * Bm)) or 1.0
                    X, res, _ = _sdcp(A / scale, Bm / scale, 20000, 1e-12)
                    stats["sdcp_max_residual"] = max(stats["sdcp_max_residual"], float(res))
                    X_run[r] = X  # (SDCP(A/s, B/s) has the solution of SDCP(A, B))
                    was_edge[r] = bool(np.any(X != 0.0))
                    if np.any(X != 0.0):
                        step_dir[r] = -0.5 * eta[r] * (X.reshape(k * k) @ gflat)
                        if first_edge[r] < 0:
                            first_edge[r] = s * dt
            # ---- record
            if ri < n_rec and s == rec_idx[ri]:
                recs["loss"][ri] = L
                recs["grad_norm"][ri] = np.sqrt(np.sum(G * G, axis=1))
                recs["sharpness"][ri] = theta[:, 0]
                kk = min(b, max_eig)
                eigs[ri, :, :kk] = theta[:, :kk]
                pl = L.copy()
                for r in range(R):
                    X = X_run[r]
                    k = X.shape[0]
                    sig = np.zeros(max_eig)
                    if k and not diverged[r]:
                        ev = np.linalg.eigvalsh(X)[::-1]
                        sig[:k] = ev
                        pl[r] = L[r] + 0.5 * np.sum(np.diag(theta[r, :k]) * X)
                        n_edge[ri, r] = int(np.sum(ev > 1e-12 * max(ev[0], 1e-300)))
                        recs["oscillation"][ri, r] = math.sqrt(max(0.0, np.trace(X)))
                    elif not diverged[r]:
                        recs["oscillation"][ri, r] = 0.0
                    sigma[ri, r] = sig if not diverged[r] else np.nan
                recs["predicted_loss"][ri] = pl
                if keep_w:
                    w_rec[ri] = W
                ri += 1
            if s == n_sub_total:
                break
            # ---- advance: Euler at the edge, Dormand-Prince gradient flow below it
            for r in np.flatnonzero(alive):
                if crit[r] > 0 and np.any(X_run[r] != 0.0):
                    W[r] += dt * (-eta[r] * G[r] + step_dir[r])
                    stats["edge_substeps"] += 1
                else:
                    kern.flow_segment(h.loss_grad, h.prep, h.hvpc, m.data, W[r:r + 1], eta[r] * s * dt,
                                      eta[r] * (s + 1) * dt, rtol, atol, 1_000_000, keys[r:r + 1], Vf[r:r + 1],
                                      flow_states[r:r + 1])
            bad = alive & ~(np.all(np.isfinite(W), axis=1) & (np.abs(W).max(axis=1) <= blowup))
            if bad.any():
                diverged |= bad
                W[bad] = np.nan
            bar.update(1)
    wall = time.perf_counter() - t0
    t = rec_idx * dt
    bd = batch_dims(batch)
    per = lambda a: a.reshape((n_rec, *batch))  # noqa: E731
    arrays = dict(t=t, predicted_loss=per(recs["predicted_loss"]), oscillation=per(recs["oscillation"]),
                  sigma=sigma.reshape((n_rec, *batch, max_eig)), n_edge=n_edge.reshape((n_rec, *batch)),
                  w_final=W.reshape((*batch, P)), lr=eta.reshape(batch), threshold=(2.0 / eta).reshape(batch),
                  first_edge_time=first_edge.reshape(batch), diverged=diverged.reshape(batch))
    dims = dict(t=("time",), predicted_loss=("time", *bd), oscillation=("time", *bd), sigma=("time", *bd, "eig"),
                n_edge=("time", *bd), w_final=(*bd, "param"), lr=bd, threshold=bd, first_edge_time=bd, diverged=bd)
    for name in ("loss", "sharpness", "grad_norm"):
        if name in observe:
            arrays[name] = per(recs[name])
            dims[name] = ("time", *bd)
    if "eigenvalues" in observe:
        arrays["eigenvalues"] = eigs.reshape((n_rec, *batch, max_eig))
        dims["eigenvalues"] = ("time", *bd, "eig")
    if keep_w:
        arrays["w"] = w_rec.reshape((n_rec, *batch, P))
        dims["w"] = ("time", *bd, "param")
    meta = dict(config=dict(optimiser="central_flow", t_final=t_final, record_interval=record_interval,
                            substeps=substeps, n_eig=n_eig, track_threshold=track_threshold,
                            sdcp_threshold=sdcp_threshold, third_derivative=method, eig_tol=eig_tol, rtol=rtol,
                            atol=atol, max_eig=max_eig, blowup=blowup, observe=list(observe), seed=_seed_meta(seed),
                            batch=list(batch), integrator="euler at the edge, dormand_prince_5_4 below it"),
                model=m.provenance(), hvp_method=m.hvp_method, wall_time_s=wall,
                stats={k: (float(x) if isinstance(x, float) else int(x)) for k, x in stats.items()})
    return Result(arrays, meta, dims=dims, coords=("t",))
