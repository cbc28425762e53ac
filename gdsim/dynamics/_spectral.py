"""Curvature beyond the top eigenvalues: trace, diagonal, spectral density, per-block curvature, eigenvalues above a
threshold, loss slices (issue 31). Private; the public names are re-exported by :mod:`gdsim.dynamics`.

Every driver here takes the model's first-class kernels (``prep``, ``hvpc``: :func:`gdsim.dynamics._kernels.handles`),
so it is compiled once per data signature and cached, like the drivers of :mod:`gdsim.dynamics._kernels`. Work is
split into independent tasks (a run and a block of probe vectors, or a run and a probe); each task runs serially
and writes only its own slots, and every reduction over tasks happens afterwards in a fixed order, so the numbers
never depend on the thread count. Random probes are Rademacher vectors from the counter-based generator
(:mod:`gdsim._core.counter_rng`): entry i of probe p of a run with key k is sign(uniform01(k, salt, p P + i) - 1/2),
keys from :func:`gdsim._core.counter_rng.keys_from_seed` (numpy SeedSequence, one stream per run).
"""

from __future__ import annotations

import math
import re

import numba
import numpy as np
from numba import prange

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed, uniform01
from gdsim._core.jit import honours_parallel, jit
from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, batch_dims
from gdsim.dynamics import _kernels as kern
from gdsim.dynamics._kernels import _dot, _tridiagonal_eigh, fresh_vector, lanczos

#: "auto" computes the trace and diagonal exactly (P Hessian-vector products) when P <= max(probes, EXACT_MAX_P)
EXACT_MAX_P = 1000
#: HVPs per parallel task (a run and a block of this many probe or unit vectors share one forward pass)
_BLOCK = 16
#: max count of ``"eigenvalues_above:X"`` when the observable does not name one (``"eigenvalues_above:X:K"``)
EIGENVALUES_ABOVE_MAX = 32
#: the observables this module adds to ``observe=`` (besides ``"eigenvalues_above:X[:K]"`` and
#: ``"spectral_density[:PROBES:STEPS]"``)
OBSERVABLES = ("trace", "diag", "spectral_density", "block_sharpness")
#: counter-RNG salts (the "step" argument of uniform01); 0-3 and small restarts belong to _kernels' Lanczos
_SALT_TRACE, _SALT_SKETCH, _SALT_SLQ, _SALT_BLOCK, _SALT_ABOVE = 1001, 1002, 1003, 1100, 1004


# ----------------------------------------------------------------------------------------------- kernels
@jit
def _rademacher(key, salt, p, out):
    """Probe ``p`` of the run with key ``key``: entries +-1."""
    P = out.size
    for i in range(P):
        out[i] = 1.0 if uniform01(key, salt, p * P + i) < 0.5 else -1.0


@jit(parallel=True)
def rademacher_fill(keys, salt, V):
    """V[r, j] = probe j of run r (V (R, K, P))."""
    R, K, _ = V.shape
    for t in prange(R * K):
        _rademacher(keys[t // K], salt, t % K, V[t // K, t % K])


@jit(parallel=True)
def diag_exact(prep, hvpc, W, data, block, out):
    """out[r, i] = e_i^T H(W[r]) e_i for every i: P products on unit vectors, ``block`` of them per task."""
    R, P = W.shape
    nb = (P + block - 1) // block
    for t in prange(R * nb):
        r = t // nb
        lo = (t % nb) * block
        w = W[r]
        cache = prep(w, *data)
        e = np.zeros(P)
        hv = np.empty(P)
        for i in range(lo, min(P, lo + block)):
            e[i] = 1.0
            hvpc(w, e, *data, cache, hv)
            e[i] = 0.0
            out[r, i] = hv[i]


@jit(parallel=True)
def hvp_many(prep, hvpc, W, data, V, out, block):
    """out[r, j] = H(W[r]) V[r, j] (V, out (R, K, P)), ``block`` products per task."""
    R, K, P = V.shape
    nb = (K + block - 1) // block
    for t in prange(R * nb):
        r = t // nb
        lo = (t % nb) * block
        w = W[r]
        cache = prep(w, *data)
        for j in range(lo, min(K, lo + block)):
            hvpc(w, V[r, j], *data, cache, out[r, j])


@jit(parallel=True)
def hutchinson(prep, hvpc, W, data, keys, salt, Q, n_probes, block, want_diag, tsamp, dsum, dsq):
    """Hutchinson samples with deflation by the orthonormal rows of Q[r] (k = Q.shape[1], 0 for none).

    Probe g (Rademacher), y = (I - Q^T Q) g: ``tsamp[r, p] = y . H y`` (mean: tr((I - QQ^T) H)), and with
    ``want_diag`` the sums over the task's probes of s = g * (H y) and s^2 into ``dsum``/``dsq`` (R, n_tasks_per_run,
    P) (mean of s: diag(H (I - QQ^T))). One task per run and block of ``block`` probes.
    """
    R, P = W.shape
    k = Q.shape[1]
    nb = (n_probes + block - 1) // block
    for t in prange(R * nb):
        r = t // nb
        b = t % nb
        w = W[r]
        cache = prep(w, *data)
        g = np.empty(P)
        y = np.empty(P)
        hy = np.empty(P)
        for p in range(b * block, min(n_probes, (b + 1) * block)):
            _rademacher(keys[r], salt, p, g)
            for i in range(P):
                y[i] = g[i]
            for j in range(k):
                c = _dot(Q[r, j], g)
                for i in range(P):
                    y[i] -= c * Q[r, j, i]
            hvpc(w, y, *data, cache, hy)
            tsamp[r, p] = _dot(y, hy)
            if want_diag:
                for i in range(P):
                    s = g[i] * hy[i]
                    dsum[r, b, i] += s
                    dsq[r, b, i] += s * s


@jit(parallel=True)
def slq(prep, hvpc, W, data, keys, salt, steps, p0, total, nodes, weights):
    """Stochastic Lanczos quadrature: for run r and probe p (Rademacher / sqrt(P)), ``steps`` Lanczos steps with
    full reorthogonalisation (twice); nodes[r, p] = Ritz values (ascending), weights[r, p] = squared first
    components of the tridiagonal's eigenvectors / total, for probes p0 .. p0 + nodes.shape[1] - 1 (a chunk of the
    ``total``; nodes[r, j] is probe p0 + j). Stops early on an invariant subspace (the quadrature
    is then exact); unused slots repeat the last node with weight 0."""
    R, n_probes, S = nodes.shape
    P = W.shape[1]
    for t in prange(R * n_probes):
        r = t // n_probes
        p = t % n_probes
        pid = p0 + p
        w = W[r]
        cache = prep(w, *data)
        it = min(steps, P)
        Q = np.empty((it + 1, P))
        alpha = np.zeros(it)
        beta = np.zeros(it)
        hv = np.empty(P)
        _rademacher(keys[r], salt, pid, Q[0])
        sc = 1.0 / math.sqrt(P)
        for i in range(P):
            Q[0, i] *= sc
        n = 0
        bad = False
        tnorm = 0.0
        for j in range(it):
            hvpc(w, Q[j], *data, cache, hv)
            a, b = kern.lanczos_orthogonalise(Q, j, beta, hv)
            alpha[j] = a
            beta[j] = b
            n = j + 1
            if not (math.isfinite(a) and math.isfinite(b)):
                bad = True
                break
            tnorm = max(tnorm, abs(a) + b + (beta[j - 1] if j > 0 else 0.0))
            if b <= 1e-12 * tnorm or j == it - 1:
                break
            for i in range(P):
                Q[j + 1, i] = hv[i] / b
        if bad:
            for i in range(S):
                nodes[r, p, i] = np.nan
                weights[r, p, i] = np.nan
            continue
        theta, Z = _tridiagonal_eigh(alpha, beta, n)
        for i in range(S):
            if i < n:
                nodes[r, p, i] = theta[i]
                weights[r, p, i] = Z[0, i] * Z[0, i] / total
            else:
                nodes[r, p, i] = theta[n - 1]
                weights[r, p, i] = 0.0


@jit(parallel=True)
def block_top(prep, hvpc, W, data, starts, stops, keys, tol, max_iter, out):
    """out[r, g] = the largest eigenvalue of the diagonal block H[s:e, s:e] of H(W[r]), (s, e) = group g:
    Lanczos (full reorthogonalisation) on D H D, D the block's 0/1 mask, from a start vector inside the block and
    with at most (e - s) steps, so the Krylov space never leaves the block."""
    R, P = W.shape
    G = starts.size
    for t in prange(R * G):
        r = t // G
        g = t % G
        lo = starts[g]
        hi = stops[g]
        scale = np.zeros(P)
        v0 = np.empty(P)
        fresh_vector(keys[r], _SALT_BLOCK + g, v0)
        for i in range(P):
            if lo <= i < hi:
                scale[i] = 1.0
            else:
                v0[i] = 0.0
        it = min(max_iter, hi - lo)
        Q = np.empty((it + 1, P))
        ev = np.empty((1, P))
        val = np.empty(1)
        lanczos(prep, hvpc, W[r], data, scale, np.int64(1), v0, tol, it, keys[r], Q, val, ev)
        out[r, g] = val[0]


@jit(parallel=True)
def above_batch(prep, hvpc, W, data, thr, kmax, tol, keys, salt, V, counts, out):
    """Every eigenvalue of H(W[r]) above ``thr`` (at most ``kmax``, descending, NaN-padded) into out[r].

    Lanczos for the top k with k = counts[r] + 1 (the previous record's count: warm start), doubled while the k-th
    Ritz value is still above ``thr``. The start vector is V[r] (the previous record's Ritz vectors above the
    threshold, summed) plus a fresh random unit vector, so that an eigenvalue that has just crossed the threshold
    is not missed. V[r] and counts[r] are updated for the next record."""
    R, P = W.shape
    for r in prange(R):
        w = W[r]
        kcap = min(kmax, P)
        k = min(kcap, counts[r] + 1)
        v0 = np.empty(P)
        fresh_vector(keys[r], salt, v0)
        for i in range(P):
            v0[i] += V[r, i]
        while True:
            mi = min(P, max(60, 4 * k + 40))
            Q = np.empty((mi + 1, P))
            ev = np.empty((k, P))
            vals = np.empty(k)
            lanczos(prep, hvpc, w, data, np.empty(0), k, v0, tol, mi, keys[r], Q, vals, ev)
            if vals[k - 1] > thr and k < kcap:
                k = min(kcap, 2 * k)
                continue
            break
        c = 0
        for j in range(k):
            if vals[j] > thr:
                c += 1
        for j in range(out.shape[1]):
            out[r, j] = vals[j] if j < c else np.nan
        counts[r] = c
        s = 0.0
        for i in range(P):
            x = 0.0
            for j in range(max(c, 1)):
                x += ev[j, i]
            V[r, i] = x
            s += x * x
        s = math.sqrt(s)
        for i in range(P):
            V[r, i] = V[r, i] / s if s > 0.0 else 0.0


# ----------------------------------------------------------------------------------------------- helpers
def _api():
    from gdsim.dynamics import _curvature as api  # imported late: the driver imports this module

    return api


def _method(method, probes, P, name="method"):
    if not isinstance(method, str) or method not in ("auto", "exact", "hutchinson", "hutch++"):
        raise ValueError(f"{name} must be 'auto', 'exact', 'hutchinson' or 'hutch++'; got {method!r}")
    if method == "auto":
        return "exact" if P <= max(probes, EXACT_MAX_P) else "hutch++"
    if method == "hutch++" and probes < 3:
        raise ValueError(f"method='hutch++' needs probes >= 3 (a third sketches, a third projects); got {probes}")
    return method


def _finite_rows(W):
    return np.all(np.isfinite(W), axis=1)


def _trace_diag(m, W, method, probes, keys, want_diag):
    """(trace, trace_se, diag, diag_se) of H at the rows of W (R, P); NaN rows where W is not finite."""
    R, P = W.shape
    tr = np.full(R, np.nan)
    tr_se = np.full(R, np.nan)
    dg = np.full((R, P), np.nan) if want_diag else None
    dg_se = np.full((R, P), np.nan) if want_diag else None
    ok = _finite_rows(W)
    if not ok.any():
        return tr, tr_se, dg, dg_se
    Wk, kk = np.ascontiguousarray(W[ok]), keys[ok]
    Rk = Wk.shape[0]
    h = kern.handles(m)
    if method == "exact":
        d = np.empty((Rk, P))
        diag_exact(h.prep, h.hvpc, Wk, m.data, _BLOCK, d)
        tr[ok] = d.sum(axis=1)
        tr_se[ok] = 0.0
        if want_diag:
            dg[ok] = d
            dg_se[ok] = 0.0
        return tr, tr_se, dg, dg_se
    base_t = np.zeros(Rk)
    base_d = np.zeros((Rk, P))
    if method == "hutch++":
        # Meyer, Musco, Musco, Woodruff (SOSA 2021), Algorithm 1: a third of the products sketch the range
        # (Q = orth(H S)), a third give tr(Q^T H Q) exactly, the rest estimate the deflated remainder
        k = probes // 3
        n_g = probes - 2 * k
        S = np.empty((Rk, k, P))
        rademacher_fill(kk, _SALT_SKETCH, S)
        Y = np.empty_like(S)
        hvp_many(h.prep, h.hvpc, Wk, m.data, S, Y, _BLOCK)
        Q = np.ascontiguousarray(np.stack([np.linalg.qr(Y[r].T)[0].T for r in range(Rk)]))
        HQ = np.empty_like(Q)
        hvp_many(h.prep, h.hvpc, Wk, m.data, Q, HQ, _BLOCK)
        base_t = np.einsum("rkp,rkp->r", Q, HQ)
        base_d = np.einsum("rkp,rkp->rp", Q, HQ)  # diag(Q Q^T H), H symmetric
    else:
        n_g = probes
        Q = np.empty((Rk, 0, P))
    nb = (n_g + _BLOCK - 1) // _BLOCK
    tsamp = np.empty((Rk, n_g))
    dsum = np.zeros((Rk, nb, P) if want_diag else (Rk, nb, 0))
    dsq = np.zeros_like(dsum)
    hutchinson(h.prep, h.hvpc, Wk, m.data, kk, _SALT_TRACE, Q, n_g, _BLOCK, want_diag, tsamp, dsum, dsq)
    tr[ok] = base_t + tsamp.mean(axis=1)
    tr_se[ok] = tsamp.std(axis=1, ddof=1) / np.sqrt(n_g) if n_g > 1 else np.inf
    if want_diag:
        mean = dsum.sum(axis=1) / n_g
        dg[ok] = base_d + mean
        var = np.maximum(dsq.sum(axis=1) / n_g - mean**2, 0.0) * (n_g / max(n_g - 1, 1))
        dg_se[ok] = np.sqrt(var / n_g) if n_g > 1 else np.inf
    return tr, tr_se, dg, dg_se


# ----------------------------------------------------------------------------------------------- public
@honours_parallel
def hessian_trace(m, w, method="auto", probes=100, seed=0, *, return_stderr=False, parallel=None):
    """The trace of the Hessian at ``w``: exact (P Hessian-vector products) for small P, Hutch++ otherwise.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    method : {"auto", "exact", "hutchinson", "hutch++"}
        ``"exact"``: sum_i e_i^T H e_i (P products, exact in float64). ``"hutchinson"``: the mean of
        z^T H z over ``probes`` Rademacher vectors z. ``"hutch++"``: Meyer et al.'s variance-reduced estimator
        with ``probes`` products. ``"auto"``: exact when P <= max(probes, EXACT_MAX_P = 1000), else hutch++
        (see Notes).
    probes : int
        Hessian-vector products of a stochastic estimate (>= 1; >= 3 for hutch++).
    seed : int, SeedSequence, sequence of seeds or None
        Probe vectors: one stream per run, keyed by the run's index.
    return_stderr : bool
        Also return the standard error (0 for the exact method).
    parallel : bool, optional
        None/True: all Numba threads; False: one (same numbers).

    Returns
    -------
    trace : ndarray or float, shape (*batch,)
    stderr : ndarray or float, shape (*batch,)
        Only with ``return_stderr``: the sample standard deviation of the (deflated) Hutchinson terms over
        sqrt(their number). For hutch++ it is conditional on the sketch, on which the estimator is unbiased.

    Notes
    -----
    Hutchinson (1990): E[z^T H z] = tr H for Rademacher z, with variance 2 (||H||_F^2 - sum_i H_ii^2).
    Hutch++ (Meyer, Musco, Musco & Woodruff, SOSA 2021): with S a P x (probes/3) Rademacher sketch and
    Q = orth(H S), tr H = tr(Q^T H Q) + tr((I - QQ^T) H (I - QQ^T)), the first exact and the second by Hutchinson
    on the remaining probes; its error falls like 1/probes instead of 1/sqrt(probes) when the spectrum has a few
    outliers, as trained networks' Hessians do (Papyan 2020). The "auto" threshold: the exact trace costs P
    products against ``probes``; up to P = 1000 that is at most 10x the default 100-probe estimate (well under a
    second for the zoo models at that size) and removes an error of relative size about sqrt(2 / probes)
    ||H||_F / |tr H|, which is above 10% at 100 probes whenever one outlier dominates the trace.
    Wu & Su (2023) state SGD's linear stability as eta tr H <= 2 (roughly); this is the quantity.
    """
    return_stderr = v.flag(return_stderr, "return_stderr")
    out, se, _, _ = _trace_diag_public(m, w, method, probes, seed, want_diag=False)
    if return_stderr:
        return out, se
    return out


@honours_parallel
def hessian_diagonal(m, w, method="auto", probes=100, seed=0, *, return_stderr=False, parallel=None):
    """The diagonal of the Hessian at ``w``: exact (P products on unit vectors) for small P, Hutch++-style otherwise.

    Parameters
    ----------
    m, w, method, probes, seed, return_stderr, parallel
        As in :func:`hessian_trace`.

    Returns
    -------
    diag : ndarray, shape (*batch, P)
    stderr : ndarray, shape (*batch, P)
        Only with ``return_stderr``: per entry (0 for the exact method).

    Notes
    -----
    Hutchinson's diagonal estimator (Bekas, Kokiopoulou & Saad 2007): E[z * (H z)] = diag H. The "hutch++"
    variant deflates the sketched range Q = orth(H S) as in :func:`hessian_trace`:
    diag H = diag(Q Q^T H) + diag(H (I - QQ^T)), the first exact, the second the mean of g * (H (I - QQ^T) g)
    (unbiased since E[(I - QQ^T) g g^T] = I - QQ^T). Li, Wen & Lyu's Adam analysis is about tr(Diag(H)^(1/2)).
    """
    return_stderr = v.flag(return_stderr, "return_stderr")
    _, _, out, se = _trace_diag_public(m, w, method, probes, seed, want_diag=True)
    if return_stderr:
        return out, se
    return out


def _trace_diag_public(m, w, method, probes, seed, want_diag):
    api = _api()
    m = api._check_model(m)
    w, batch, W = api._batched(m, w)
    R, P = W.shape
    probes = v.integer(probes, "probes", lo=1, hi=10**7)
    method = _method(method, probes, P)
    v.check_budget(f"batch = {batch} at n_params = {P}", bytes_needed=8.0 * R * P * (4 + (probes if method ==
                                                                                               "hutch++" else 0)))
    keys = keys_from_seed(seed, R)
    with api._in_driver(m):
        tr, tr_se, dg, dg_se = _trace_diag(m, W, method, probes, keys, want_diag)
    if want_diag:
        return None, None, dg.reshape((*batch, P)), dg_se.reshape((*batch, P))
    if batch == ():
        return float(tr[0]), float(tr_se[0]), None, None
    return tr.reshape(batch), tr_se.reshape(batch), None, None


def _slq_args(probes, steps):
    probes = v.integer(probes, "probes", lo=1, hi=10**6)
    steps = v.integer(steps, "steps", lo=1, hi=10**5)
    return probes, steps


def _slq(m, W, probes, steps, keys, progress=False):
    R, P = W.shape
    nodes = np.full((R, probes, steps), np.nan)
    weights = np.full((R, probes, steps), np.nan)
    ok = _finite_rows(W)
    if ok.any():
        h = kern.handles(m)
        Wk, kk = np.ascontiguousarray(W[ok]), keys[ok]
        Rk = Wk.shape[0]
        # chunks of probes for the progress bar, each with at least 4 tasks per thread (or all probes)
        per = probes if not progress else min(probes, max(1, -(-4 * numba.get_num_threads() // Rk)))
        with progress_bar(-(-probes // per), enabled=progress, desc="spectral density", unit="chunk") as bar:
            for p0 in range(0, probes, per):
                n = min(per, probes - p0)
                nk = np.empty((Rk, n, steps))
                wk = np.empty_like(nk)
                slq(h.prep, h.hvpc, Wk, m.data, kk, _SALT_SLQ, steps, p0, probes, nk, wk)
                nodes[ok, p0:p0 + n] = nk
                weights[ok, p0:p0 + n] = wk
                bar.update(1)
    return nodes, weights


@honours_parallel
def spectral_density(m, w, probes=8, steps=60, seed=0, *, progress=False, parallel=None):
    """The Hessian's spectral density at ``w`` by stochastic Lanczos quadrature (SLQ), in float64.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    probes : int
        Random probe vectors (>= 1).
    steps : int
        Lanczos steps per probe (the quadrature's nodes; >= 1). Lanczos stops early when the Krylov space
        closes (at most P steps), where the quadrature is exact.
    seed : int, SeedSequence, sequence of seeds or None
        Probe vectors: one stream per run.
    progress : bool
        Show a progress bar over chunks of probes (the same numbers).
    parallel : bool, optional

    Returns
    -------
    nodes : ndarray, shape (*batch, probes, steps)
        Gaussian-quadrature nodes (Ritz values), ascending per probe.
    weights : ndarray, shape (*batch, probes, steps)
        Summing to 1 over (probes, steps): ``sum(weights * nodes**k)`` estimates tr(H^k) / P, and the measure
        sum_j weights_j delta(x - nodes_j) estimates the spectral measure (1/P) sum_i delta(x - lambda_i).
        Unused slots (Lanczos stopped early) repeat the probe's last node with weight 0.

    Notes
    -----
    Golub & Meurant (1994); Ubaru, Chen & Saad (SIMAX 2017); Ghorbani, Krishnan & Xiao (ICML 2019) and PyHessian
    (Yao et al. 2020) for neural-network Hessians. For a probe v = z / sqrt(P), z Rademacher, Lanczos with full
    reorthogonalisation (twice) builds the tridiagonal T_n; its eigenvalues theta_j and the first components
    s_1j of its eigenvectors give the n-point Gaussian quadrature of v's spectral measure
    mu_v = sum_i (v . u_i)^2 delta_lambda_i, exact for polynomials of degree <= 2n - 1. E[mu_v] is the spectral
    measure (E[(z . u_i)^2] = 1), so the average over probes is unbiased. Error: the quadrature's Wasserstein-1
    distance to mu_v is at most pi (b - a) / (4 n) on a spectrum in [a, b] (Jackson's theorem for degree 2n - 1),
    and the probe average's expected distance to the spectral measure at most (b - a) / sqrt(P probes)
    (the variance of z^T Pi z is at most 2 rank(Pi) for a spectral projector Pi). Smooth it with
    :func:`density_on_grid`.
    """
    api = _api()
    m = api._check_model(m)
    w, batch, W = api._batched(m, w)
    probes, steps = _slq_args(probes, steps)
    R, P = W.shape
    v.check_budget(f"batch = {batch}, probes = {probes}, steps = {steps} at n_params = {P}",
                   bytes_needed=8.0 * R * probes * steps * 2 + 8.0 * (min(steps, P) + 2) * P * 4)
    keys = keys_from_seed(seed, R)
    with api._in_driver(m):
        nodes, weights = _slq(m, W, probes, steps, keys, v.flag(progress, "progress"))
    return nodes.reshape((*batch, probes, steps)), weights.reshape((*batch, probes, steps))


def density_on_grid(nodes, weights, grid, bandwidth=None):
    """The SLQ quadrature measure smoothed by a Gaussian kernel on a grid.

    Parameters
    ----------
    nodes, weights : array_like, shape (*batch, probes, steps)
        From :func:`spectral_density` (NaN nodes are ignored).
    grid : array_like, shape (G,)
        Where to evaluate the density.
    bandwidth : float, optional
        The kernel's standard deviation sigma (> 0). Default, per run: (b - a) / 100 with [a, b] the range of its
        finite nodes (a choice made here: it merges the nodes of a few probes into a smooth bulk and keeps an
        outlier more than a few percent of the range away from the bulk visibly separate).

    Returns
    -------
    ndarray, shape (*batch, G)
        rho(x) = sum_j weights_j N(x; nodes_j, sigma^2); integrates to 1 over the real line.
    """
    nodes = v.real_array(nodes, "nodes", min_ndim=2, allow_nonfinite=True)
    weights = v.real_array(weights, "weights", min_ndim=2, allow_nonfinite=True)
    if nodes.shape != weights.shape:
        raise ValueError(f"nodes and weights must have the same shape; got {nodes.shape} and {weights.shape}")
    grid = v.real_array(grid, "grid", min_ndim=1)
    if grid.ndim != 1:
        raise ValueError(f"grid must be one-dimensional; got shape {grid.shape}")
    batch = nodes.shape[:-2]
    X = nodes.reshape(-1, nodes.shape[-2] * nodes.shape[-1])
    Wt = np.where(np.isfinite(X), np.nan_to_num(weights.reshape(X.shape)), 0.0)
    X = np.where(np.isfinite(X), X, 0.0)
    if bandwidth is None:
        fin = np.isfinite(nodes.reshape(X.shape))
        lo = np.where(fin, nodes.reshape(X.shape), np.inf).min(axis=1)
        hi = np.where(fin, nodes.reshape(X.shape), -np.inf).max(axis=1)
        sig = np.where(hi > lo, (hi - lo) / 100.0, 1.0)
    else:
        sig = np.full(X.shape[0], v.real_scalar(bandwidth, "bandwidth", lo=0.0, lo_open=True))
    z = (grid[None, :, None] - X[:, None, :]) / sig[:, None, None]
    dens = (Wt[:, None, :] * np.exp(-0.5 * z * z)).sum(axis=2) / (sig[:, None] * math.sqrt(2 * math.pi))
    return dens.reshape((*batch, grid.size))


def _blocks(m, W, method, probes, tol, keys):
    R, P = W.shape
    G = len(m.groups)
    starts = np.array([g.start for g in m.groups], dtype=np.int64)
    stops = np.array([g.stop for g in m.groups], dtype=np.int64)
    sharp = np.full((R, G), np.nan)
    trace = np.full((R, G), np.nan)
    ok = _finite_rows(W)
    if ok.any():
        h = kern.handles(m)
        Wk = np.ascontiguousarray(W[ok])
        out = np.empty((Wk.shape[0], G))
        max_iter = int(min(P, 200))
        block_top(h.prep, h.hvpc, Wk, m.data, starts, stops, keys[ok], tol, max_iter, out)
        sharp[ok] = out
        _, _, d, _ = _trace_diag(m, Wk, method, probes, keys[ok], True)
        trace[ok] = np.stack([d[:, s:e].sum(axis=1) for s, e in zip(starts, stops)], axis=1)
    return sharp, trace


@honours_parallel
def hessian_blocks(m, w, *, method="auto", probes=100, tol=1e-10, seed=0, parallel=None):
    """Sharpness and trace of each parameter group's diagonal Hessian block (each layer of the zoo MLP).

    Parameters
    ----------
    m : gdsim.models.Model
        Its blocks are ``m.groups`` (:class:`gdsim.models.ParamGroup`; one block ``"all"`` unless the model
        defines them).
    w : array_like, shape (P,) or (*batch, P)
    method, probes
        How the block traces are computed, as in :func:`hessian_diagonal` (a block's trace is the sum of its
        diagonal entries).
    tol : float
        Lanczos residual tolerance of the block sharpness (see :func:`top_eigenvalues`).
    seed : int, SeedSequence, sequence of seeds or None
    parallel : bool, optional

    Returns
    -------
    Result
        ``sharpness`` and ``trace`` (*batch, group): the largest eigenvalue and the trace of H[s:e, s:e] for each
        group [s, e); ``group`` (the coordinate: the groups' names), ``start``, ``stop``.

    Notes
    -----
    Asked for in PyHessian#10. The block's top eigenvalue is Lanczos (full reorthogonalisation) on D H D with D
    the block's 0/1 mask, started inside the block and run for at most the block's size, so the Krylov space stays
    in the block: the same exact float64 products as :func:`top_eigenvalues`.
    """
    api = _api()
    m = api._check_model(m)
    w, batch, W = api._batched(m, w)
    R, P = W.shape
    probes = v.integer(probes, "probes", lo=1, hi=10**7)
    method = _method(method, probes, P)
    tol = v.real_scalar(tol, "tol", lo=0.0, hi=1e-1, lo_open=True)
    keys = keys_from_seed(seed, R)
    with api._in_driver(m):
        sharp, trace = _blocks(m, W, method, probes, tol, keys)
    G = len(m.groups)
    bd = batch_dims(batch)
    arrays = dict(sharpness=sharp.reshape((*batch, G)), trace=trace.reshape((*batch, G)),
                  group=np.array([g.name for g in m.groups]), start=np.array([g.start for g in m.groups]),
                  stop=np.array([g.stop for g in m.groups]))
    dims = dict(sharpness=(*bd, "group"), trace=(*bd, "group"), group=("group",), start=("group",), stop=("group",))
    return Result(arrays, dict(config=dict(method=method, probes=probes, tol=tol, batch=list(batch)),
                               model=m.provenance()), dims=dims, coords=("group",))


def _above(m, W, thr, kmax, tol, keys, V, counts, salt):
    R, P = W.shape
    out = np.full((R, kmax), np.nan)
    ok = _finite_rows(W)
    if ok.any():
        h = kern.handles(m)
        Vk = np.ascontiguousarray(V[ok])
        ck = np.ascontiguousarray(counts[ok])
        ok_out = np.empty((int(ok.sum()), kmax))
        above_batch(h.prep, h.hvpc, np.ascontiguousarray(W[ok]), m.data, float(thr), np.int64(kmax), tol, keys[ok],
                    salt, Vk, ck, ok_out)
        out[ok] = ok_out
        V[ok] = Vk
        counts[ok] = ck
    return out


@honours_parallel
def eigenvalues_above(m, w, threshold, *, max_count=EIGENVALUES_ABOVE_MAX, tol=1e-10, seed=0, parallel=None):
    """Every Hessian eigenvalue above ``threshold`` (at most ``max_count`` of them), by Lanczos in float64.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
    threshold : float
    max_count : int
        The output's fixed length (1 <= max_count <= P): when more eigenvalues lie above the threshold, the
        largest ``max_count`` are returned.
    tol : float
        Lanczos residual tolerance (see :func:`top_eigenvalues`).
    seed : int, SeedSequence, sequence of seeds or None
    parallel : bool, optional

    Returns
    -------
    ndarray, shape (*batch, max_count)
        Descending, padded with NaN after the last eigenvalue above the threshold.

    Notes
    -----
    Lanczos for the top k eigenvalues, k doubled (from 1, or from the previous record's count + 1 when used as the
    ``"eigenvalues_above:X"`` observable) until the k-th is below the threshold. As an observable, each record
    starts Lanczos from the sum of the previous record's Ritz vectors above the threshold plus a fresh random
    vector: the warm start of the central-flows code (Cohen et al. 2025 follow every eigenvalue above 1.5/eta by
    warm-started LOBPCG), with the random part so that an eigenvalue that has just crossed is not missed.
    """
    api = _api()
    m = api._check_model(m)
    w, batch, W = api._batched(m, w)
    R, P = W.shape
    thr = v.real_scalar(threshold, "threshold")
    kmax = v.integer(max_count, "max_count", lo=1, hi=P)
    tol = v.real_scalar(tol, "tol", lo=0.0, hi=1e-1, lo_open=True)
    keys = keys_from_seed(seed, R)
    V = np.zeros((R, P))
    counts = np.zeros(R, dtype=np.int64)
    with api._in_driver(m):
        out = _above(m, W, thr, kmax, tol, keys, V, counts, _SALT_ABOVE)
    return out.reshape((*batch, kmax))


# ----------------------------------------------------------------------------------------------- loss slices
def _filter_normalise(m, d, w):
    """Li et al. (2018) filter normalisation of direction d (R, P) at w (R, P): each filter of d rescaled to the
    norm of the same filter of w; entries outside filters (biases) set to 0 (their ``ignore='biasbn'``)."""
    out = np.zeros_like(d)
    for g in m.groups:
        if g.n_filters == 0:
            sl = slice(g.start, g.stop)
            nd = np.linalg.norm(d[:, sl], axis=1, keepdims=True)
            nw = np.linalg.norm(w[:, sl], axis=1, keepdims=True)
            out[:, sl] = d[:, sl] * np.where(nd > 0, nw / np.where(nd > 0, nd, 1.0), 0.0)
            continue
        e = g.start + g.n_filters * g.filter_size
        D = d[:, g.start:e].reshape(d.shape[0], g.n_filters, g.filter_size)
        Wf = w[:, g.start:e].reshape(w.shape[0], g.n_filters, g.filter_size)
        nd = np.linalg.norm(D, axis=2, keepdims=True)
        nw = np.linalg.norm(Wf, axis=2, keepdims=True)
        out[:, g.start:e] = (D * np.where(nd > 0, nw / np.where(nd > 0, nd, 1.0), 0.0)).reshape(d.shape[0], -1)
    return out


@honours_parallel
def loss_slice(m, w, direction="random", *, n_directions=1, span=1.0, n_points=21, w_end=None, seed=0, progress=False,
               parallel=None):
    """The loss along one or two directions through ``w``: L(w + a d_1) or L(w + a d_1 + b d_2), batched over runs.

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,) or (*batch, P)
        The centre(s).
    direction : {"random", "eigenvectors", "path"} or array_like
        ``"random"``: Gaussian directions, filter-normalised (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018:
        each filter of d, a row of a weight matrix (``m.groups``), rescaled to the norm of the same filter of w;
        biases 0). ``"eigenvectors"``: the top ``n_directions`` Hessian eigenvectors at w (unit norm, the sign making the
        first nonzero entry positive). ``"path"``: d_1 = w_end - w (n_directions = 1): a = 0 is w, a = 1 is ``w_end``.
        An array of shape (*batch, n_directions, P) or (n_directions, P): those directions, as given.
    n_directions : {1, 2}
    span : float or (float, float)
        The offsets run over [-span, span] (or [lo, hi]) in ``n_points`` equal steps, on each axis.
    n_points : int
        Points per axis (>= 2).
    w_end : array_like, shape like w
        The other end of the path (``direction="path"``).
    seed : int, SeedSequence, sequence of seeds or None
        Random directions (one stream per run).
    progress : bool
    parallel : bool, optional

    Returns
    -------
    Result
        ``loss`` (*batch, alpha) or (*batch, alpha, beta); coordinates ``alpha`` (and ``beta``): the offsets;
        ``directions`` (*batch, n_directions, P); ``w`` (*batch, P); ``loss_center`` (*batch,).

    Notes
    -----
    Li et al. (2018) and their code (tomgoldstein/loss-landscape, ``normalize_directions_for_weights``) rescale
    each filter d_ij <- d_ij ||w_ij|| / ||d_ij|| and, by default (``ignore='biasbn'``), zero the directions of
    one-dimensional parameters (biases, batch norm). Here a filter is a row of a weight matrix as declared by
    ``m.groups`` (:class:`gdsim.models.ParamGroup`); entries of a group after its filters (the zoo MLP's biases)
    get 0; a group without filters (``n_filters = 0``: a diagonal network's factor, a custom model) is one
    filter, where Li et al. would zero a one-dimensional parameter (which would leave a diagonal network no
    direction at all). The Gaussian draws come from ``numpy.random.default_rng`` seeded by the run's key.
    """
    api = _api()
    m = api._check_model(m)
    w, batch, W = api._batched(m, w)
    R, P = W.shape
    n_directions = v.integer(n_directions, "n_directions", lo=1, hi=2)
    n_points = v.integer(n_points, "n_points", lo=2, hi=10**4)
    progress = v.flag(progress, "progress")
    try:
        sp = np.asarray(span, dtype=float) if not isinstance(span, (str, complex, np.complexfloating)) else None
    except (TypeError, ValueError):
        sp = None
    if sp is None or sp.shape not in ((), (2,)) or not np.all(np.isfinite(sp)) or np.any(np.abs(sp) > v.MAX_REAL):
        raise ValueError(f"span must be a finite number (|span| <= {v.MAX_REAL:.0e}) or a pair (lo, hi); got {span!r}")
    lo, hi = (-abs(float(sp)), abs(float(sp))) if sp.shape == () else (float(sp[0]), float(sp[1]))
    if not hi > lo:
        raise ValueError(f"span must give lo < hi; got {span!r}")
    if isinstance(direction, str):
        if direction == "random":
            keys = keys_from_seed(seed, R)
            D = np.empty((R, n_directions, P))
            for r in range(R):  # a Gaussian per run from its own stream
                g = np.random.default_rng(int(keys[r])).standard_normal((n_directions, P))
                D[r] = g
            D = np.stack([_filter_normalise(m, D[:, j], W) for j in range(n_directions)], axis=1)
        elif direction == "eigenvectors":
            _, vecs = api.top_eigenpairs(m, W, n_directions, seed=seed)
            idx = np.argmax(np.abs(vecs) > 1e-12 * np.abs(vecs).max(axis=-1, keepdims=True), axis=-1)
            sgn = np.sign(np.take_along_axis(vecs, idx[..., None], axis=-1))
            D = vecs * np.where(sgn == 0, 1.0, sgn)
        elif direction == "path":
            if n_directions != 1:
                raise ValueError("direction='path' is one-dimensional: pass n_directions=1")
            if w_end is None:
                raise ValueError("direction='path' needs w_end (the other iterate)")
            we = np.broadcast_to(m.weights(w_end, "w_end"), w.shape).reshape(R, P)
            D = (we - W)[:, None, :]
        else:
            raise ValueError(f"direction must be 'random', 'eigenvectors', 'path' or an array; got {direction!r}")
    else:
        d = v.real_array(direction, "direction", min_ndim=2)
        if d.shape[-1] != P or d.shape[-2] != n_directions:
            raise ValueError(f"direction must have shape (*batch, n_directions = {n_directions}, P = {P}); got {d.shape}")
        try:
            D = np.broadcast_to(d, (*batch, n_directions, P)).reshape(R, n_directions, P)
        except ValueError:
            raise ValueError(f"direction with shape {d.shape} does not broadcast against w's batch {batch}") from None
    D = np.ascontiguousarray(D, dtype=float)
    alpha = np.linspace(lo, hi, n_points)
    grids = [alpha] * n_directions
    offs = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, n_directions)  # (n^n_directions, n_directions)
    npts = offs.shape[0]
    v.check_budget(f"batch = {batch}, {npts} points at n_params = {P}", bytes_needed=8.0 * R * P * (n_directions + 2))
    loss = np.empty((R, npts))
    chunk = max(1, int(2**24 // max(P, 1)))  # points per call (at most 128 MB of parameters)
    flat_idx = [(r, j) for r in range(R) for j in range(0, npts, chunk)]
    with progress_bar(len(flat_idx), enabled=progress, desc="loss slice", unit="chunk") as bar:
        for r, j in flat_idx:
            o = offs[j:j + chunk]
            pts = W[r][None, :] + o @ D[r]
            loss[r, j:j + chunk] = np.asarray(m.loss(pts)).reshape(-1)
            bar.update(1)
    bd = batch_dims(batch)
    ax = ("alpha", "beta")[:n_directions]
    arrays = dict(alpha=alpha, loss=loss.reshape((*batch, *([n_points] * n_directions))),
                  directions=D.reshape((*batch, n_directions, P)), w=W.reshape((*batch, P)),
                  loss_center=np.asarray(m.loss(W)).reshape(batch))
    dd = dict(alpha=("alpha",), loss=(*bd, *ax), directions=(*bd, "direction", "param"), w=(*bd, "param"),
              loss_center=bd)
    if n_directions == 2:
        arrays["beta"] = alpha.copy()
        dd["beta"] = ("beta",)
    meta = dict(config=dict(direction=direction if isinstance(direction, str) else "given", n_directions=n_directions,
                            span=[lo, hi], n_points=n_points, batch=list(batch),
                            filter_normalised=direction == "random"), model=m.provenance())
    return Result(arrays, meta, dims=dd, coords=("alpha", "beta") if n_directions == 2 else ("alpha",))


# ----------------------------------------------------------------------------------------------- observe registry
def parse_observable(obs, it, m):
    """Register ``it`` on the parsed ``observe=`` ``obs`` when it names one of this module's observables;
    returns whether it did. ``obs.spectral`` collects them."""
    spec = obs.spectral
    if it in ("trace", "diag", "block_sharpness"):
        spec[it] = True
        return True
    mt = re.fullmatch(r"spectral_density(?::(\d+):(\d+))?", it)
    if mt:
        probes, steps = (8, 60) if mt.group(1) is None else _slq_args(int(mt.group(1)), int(mt.group(2)))
        if "spectral_density" in spec and spec["spectral_density"] != (probes, steps):
            raise ValueError(f"observe may hold one spectral_density; got {spec['spectral_density']} and "
                             f"{(probes, steps)}")
        spec["spectral_density"] = (probes, steps)
        return True
    if it.startswith("eigenvalues_above:"):
        mt = re.fullmatch(r"eigenvalues_above:([^:]+)(?::(\d+))?", it)
        try:
            thr = float(mt.group(1)) if mt else float("nan")
        except ValueError:
            thr = float("nan")
        if not math.isfinite(thr):
            raise ValueError(f"observe 'eigenvalues_above:X[:K]' needs a finite number X (and optionally the max "
                             f"count K); got {it!r}")
        k = v.integer(int(mt.group(2)) if mt.group(2) else min(EIGENVALUES_ABOVE_MAX, m.n_params),
                      "observe eigenvalues_above:X:K", lo=1, hi=m.n_params)
        if "eigenvalues_above" in spec and spec["eigenvalues_above"] != (thr, k):
            raise ValueError(f"observe may hold one 'eigenvalues_above:X'; got {spec['eigenvalues_above']} and "
                             f"{(thr, k)}")
        spec["eigenvalues_above"] = (thr, k)
        return True
    return False


def record_width(spec, P):
    """Float64 values per run and record that the observables in ``spec`` store (for the memory budget)."""
    pr, st = spec.get("spectral_density", (0, 0))
    return (2 if "trace" in spec or "diag" in spec else 0) + (P if "diag" in spec else 0) + 2 * pr * st + \
        spec.get("eigenvalues_above", (0, 0))[1] + (128 if "block_sharpness" in spec else 0)


def listed(obs):
    out = []
    for name, val in obs.spectral.items():
        if name == "spectral_density":
            out.append(f"spectral_density:{val[0]}:{val[1]}")
        elif name == "eigenvalues_above":
            out.append(f"eigenvalues_above:{val[0]!r}:{val[1]}")
        else:
            out.append(name)
    return out


class Records:
    """Buffers and per-record calls of this module's observables inside a batched run (see ``_api._Records``).

    Probe vectors are the same at every record (common random numbers: a change between records is the
    Hessian's, not the probes'); the trace and diagonal use ``method="auto"`` with 100 probes, block curvature
    Lanczos tolerance 1e-10.
    """

    PROBES = 100

    def __init__(self, m, spec, n_rec, keys):
        R, P = keys.size, m.n_params
        self.m, self.spec, self.keys = m, spec, keys
        self.method = _method("auto", self.PROBES, P)
        self.vals = {}
        if "trace" in spec or "diag" in spec:
            self.vals["trace"] = np.full((n_rec, R), np.nan)
            self.vals["trace_stderr"] = np.full((n_rec, R), np.nan)
        if "diag" in spec:
            self.vals["diag"] = np.full((n_rec, R, P), np.nan)
        if "spectral_density" in spec:
            pr, st = spec["spectral_density"]
            self.vals["spectral_density_nodes"] = np.full((n_rec, R, pr, st), np.nan)
            self.vals["spectral_density_weights"] = np.full((n_rec, R, pr, st), np.nan)
        if "block_sharpness" in spec:
            G = len(m.groups)
            self.vals["block_sharpness"] = np.full((n_rec, R, G), np.nan)
            self.vals["block_trace"] = np.full((n_rec, R, G), np.nan)
        if "eigenvalues_above" in spec:
            self.vals["eigenvalues_above"] = np.full((n_rec, R, spec["eigenvalues_above"][1]), np.nan)
            self.V = np.zeros((R, P))
            self.counts = np.zeros(R, dtype=np.int64)

    def take(self, i, W):
        m, spec, keys = self.m, self.spec, self.keys
        if "trace" in self.vals:
            tr, se, d, _ = _trace_diag(m, W, self.method, self.PROBES, keys, "diag" in spec)
            self.vals["trace"][i] = tr
            self.vals["trace_stderr"][i] = se
            if d is not None:
                self.vals["diag"][i] = d
        if "spectral_density" in spec:
            pr, st = spec["spectral_density"]
            self.vals["spectral_density_nodes"][i], self.vals["spectral_density_weights"][i] = \
                _slq(m, W, pr, st, keys)
        if "block_sharpness" in spec:
            self.vals["block_sharpness"][i], self.vals["block_trace"][i] = \
                _blocks(m, W, self.method, self.PROBES, 1e-10, keys)
        if "eigenvalues_above" in spec:
            thr, k = spec["eigenvalues_above"]
            # a fresh random component per record (salt), added to the warm start
            self.vals["eigenvalues_above"][i] = _above(m, W, thr, k, 1e-10, keys, self.V, self.counts,
                                                       _SALT_ABOVE + 1 + i)

    def add_to(self, arrays, dims, batch, bd, record_dim):
        """Put the recorded arrays into a result's ``arrays``/``dims``; returns the extra coordinate names."""
        n_rec = next(iter(self.vals.values())).shape[0]
        tail = {"trace": (), "trace_stderr": (), "diag": ("param",), "spectral_density_nodes": ("probe", "node"),
                "spectral_density_weights": ("probe", "node"), "block_sharpness": ("group",),
                "block_trace": ("group",), "eigenvalues_above": ("eig",)}
        for name, a in self.vals.items():
            if name in ("trace", "trace_stderr") and "trace" not in self.spec:
                continue
            arrays[name] = a.reshape((n_rec, *batch, *a.shape[2:]))
            dims[name] = (record_dim, *bd, *tail[name])
        if "block_sharpness" in self.spec:
            arrays["group"] = np.array([g.name for g in self.m.groups])
            dims["group"] = ("group",)
            return ("group",)
        return ()
