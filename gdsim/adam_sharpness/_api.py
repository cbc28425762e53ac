"""Public API of :mod:`gdsim.adam_sharpness`: sparse regression, the label-noise diagonal net, closed forms."""

from __future__ import annotations

import dataclasses

import numpy as np

from gdsim._core import validate as v
from gdsim._core.rng import child_seed
from gdsim.dynamics import Observable
from gdsim.adam_sharpness import _kernels as kern
from gdsim.models import Model

__all__ = ["SparseRegression", "PARAMETRISATIONS", "sparse_regression", "label_noise_diagonal", "split",
           "hessian_diagonal", "trace_hessian", "trace_sqrt_diag_hessian", "fibre_minima", "l1_norm",
           "l_half_norm", "test_loss", "observables", "FactorisationProblem", "FACTORISATION_KINDS",
           "factorisation_problem", "label_noise_factorisation", "factorisation_traces", "factorisation_error"]

PARAMETRISATIONS = ("pm", "product")
_PAPER = "Li, Wen, Lyu, 'Adam Reduces a Unique Form of Sharpness', NeurIPS 2025, arXiv:2511.02773"


@dataclasses.dataclass(frozen=True)
class SparseRegression:
    """A sparse linear regression instance: X (N, d) with i.i.d. N(0, 1) entries, y = X beta*.

    Attributes
    ----------
    X : ndarray (N, d)
    y : ndarray (N,)
    beta_star : ndarray (d,)
        k-sparse ground truth.
    """

    X: np.ndarray
    y: np.ndarray
    beta_star: np.ndarray

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def n(self) -> int:
        return self.X.shape[0]


def sparse_regression(n_samples=50, d=100, sparsity=5, *, nonzero_value=1.0, seed=0) -> SparseRegression:
    """The paper's sparse regression: N(0, 1) inputs, a sparse beta* (``sparsity`` nonzeros) with entries ``nonzero_value``, y = X beta*.

    Parameters
    ----------
    n_samples : int
        Number of samples (>= 1).
    d : int
        Dimension (>= 1).
    sparsity : int
        Sparsity of beta* (1 <= sparsity <= d); its support is the first sparsity coordinates.
    nonzero_value : float
        The nonzero entries of beta* (!= 0).
    seed : int, SeedSequence or None
        Child 0 draws X.

    Returns
    -------
    SparseRegression

    Notes
    -----
    Defaults d = 100, sparsity = 5, n_samples = 50 from the spec's reading of the authors' script (section 8 [CODE, repository
    unidentified]); the input distribution and the values of beta* are not in the spec [GAP]: isotropic
    Gaussian inputs and unit entries here, so the population test loss is 0.5 ||beta - beta*||^2.
    """
    n_samples = v.integer(n_samples, "n_samples", lo=1, hi=10**6)
    d = v.integer(d, "d", lo=1, hi=10**6)
    sparsity = v.integer(sparsity, "sparsity", lo=1, hi=d)
    nonzero_value = v.real_scalar(nonzero_value, "nonzero_value", nonzero=True)
    v.check_budget(f"n_samples = {n_samples}, d = {d}", bytes_needed=8.0 * n_samples * d * 2)
    X = np.random.default_rng(child_seed(seed, 0)).standard_normal((n_samples, d))
    beta = np.zeros(d)
    beta[:sparsity] = nonzero_value
    return SparseRegression(X=X, y=X @ beta, beta_star=beta)


def _problem(problem):
    if not isinstance(problem, SparseRegression):
        raise TypeError(f"problem must be a gdsim.adam_sharpness.SparseRegression (from sparse_regression); "
                        f"got {type(problem).__name__}")
    return problem


def _param(parametrisation):
    if not isinstance(parametrisation, str) or parametrisation not in PARAMETRISATIONS:
        raise ValueError(f"parametrisation must be one of {PARAMETRISATIONS}; got {parametrisation!r}")
    return parametrisation


def label_noise_diagonal(problem, *, noise_std=0.5, parametrisation="pm", init_scale=0.1) -> Model:
    """The diagonal net with label noise as a :class:`gdsim.models.Model` (run it with any gdsim optimiser).

    Parameters
    ----------
    problem : SparseRegression
    noise_std : float
        Label-noise amplitude (>= 0): every step sees y_i + noise_std s_i with fresh Rademacher signs s_i.
    parametrisation : {"pm", "product"}
        ``"pm"``: beta = u*u - v*v (the paper's); ``"product"``: beta = u*v (the layout of
        :func:`gdsim.models.diagonal_linear` at depth 2).
    init_scale : float
        ``"pm"``: u_0 = v_0 = init_scale g with g ~ N(0, I) (so beta_0 = 0, the authors' script);
        ``"product"``: u_0 = init_scale g, v_0 = 0 (beta_0 = 0).

    Returns
    -------
    Model
        ``name="label_noise_diagonal"``. Flat layout ``[u (d), v (d), key, clock]`` (P = 2d + 2): ``key`` (an
        integer below 2^26, drawn by ``init``) and ``clock`` (starts at 0) drive the noise. ``hvp`` is the exact
        Hessian of the noise-free loss (the expectation of the noisy Hessian over the signs).

    Notes
    -----
    Li, Wen, Lyu (NeurIPS 2025, arXiv:2511.02773): near the interpolation manifold, label-noise SGD follows a
    slow flow that reduces tr(H), Adam one that reduces tr(Diag(H)^{1/2}). The loss at step t is

        L_t(u, v) = (1/2N) sum_i (<beta(u, v), x_i> - y_i - noise_std s_{t,i})^2,  s_{t,i} = +-1,

    with s_{t,i} = sign(1/2 - uniform01(key, bits(clock_t), i)) from gdsim's counter-based generator. The clock
    coordinate has gradient -1, so GD moves it by lr and Adam by lr / (1 + eps) every step (a new bit
    pattern, a new draw); the key has gradient 0 and stays put. Runs differ in their keys, so a batch of runs
    sees independent noise, the same whatever the thread count. Observables that call the loss (``observe=
    ("loss",)``) see the noisy loss at the current clock; use :func:`observables` on recorded ``w`` instead.

    Examples
    --------
    >>> import gdsim.adam_sharpness as gas, gdsim.dynamics as gdyn
    >>> p = gas.sparse_regression(seed=0)
    >>> m = gas.label_noise_diagonal(p)
    >>> res = gdyn.gd(m, m.init(seed=0), lr=0.01, steps=100, record_every=100)
    >>> res.w_final.shape
    (202,)
    """
    p = _problem(problem)
    noise_std = v.real_scalar(noise_std, "noise_std", lo=0.0)
    parametrisation = _param(parametrisation)
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    d = p.d
    P = 2 * d + 2
    product = parametrisation == "product"

    def draw(rng):
        w = np.zeros(P)
        g = rng.standard_normal(d)
        w[:d] = scale * g
        w[d:2 * d] = 0.0 if product else scale * g
        w[2 * d] = float(rng.integers(0, 2**26))
        return w

    cfg = np.array([noise_std, 1.0 if product else 0.0])
    return Model("label_noise_diagonal", P, kern.loss_grad, (p.X, p.y, cfg), hvp=kern.hvp, hvp_method="exact",
                 init=draw, per_sample=(True, True, False), layout="u (d,), v (d,), key, clock",
                 config=dict(d=d, n=p.n, noise_std=noise_std, parametrisation=parametrisation, init_scale=scale))


def split(w, d):
    """(u, v) of flat parameters w (..., 2d + 2) (or (..., 2d)).

    Parameters
    ----------
    w : array_like, shape (..., 2d + 2) or (..., 2d)
    d : int

    Returns
    -------
    u, v : ndarray, shape (..., d)
    """
    d = v.integer(d, "d", lo=1)
    w = v.real_array(w, "w", min_ndim=1, allow_nonfinite=True)
    if w.shape[-1] not in (2 * d, 2 * d + 2):
        raise ValueError(f"w must have last dimension 2d + 2 = {2 * d + 2} (or 2d) for d = {d}; got {w.shape[-1]}")
    return w[..., :d], w[..., d:2 * d]


def _beta(u, v_, parametrisation):
    return u * v_ if parametrisation == "product" else u * u - v_ * v_


def hessian_diagonal(problem, w, parametrisation="pm"):
    """The exact diagonal of the noise-free loss's Hessian with respect to (u, v).

    Parameters
    ----------
    problem : SparseRegression
    w : array_like, shape (..., 2d + 2) or (..., 2d)
    parametrisation : {"pm", "product"}

    Returns
    -------
    ndarray, shape (..., 2d)
        ``pm``: H_uu,j = 4 u_j^2 m_j + 2 c_j, H_vv,j = 4 v_j^2 m_j - 2 c_j; ``product``: v_j^2 m_j and u_j^2 m_j,
        with m_j = mean_i x_ij^2 and c_j = mean_i r_i x_ij (r the residual; c = 0 at interpolating points).
        NaN where w is not finite (a diverged run's recorded weights).
    """
    p = _problem(problem)
    parametrisation = _param(parametrisation)
    u, vv = split(w, p.d)
    m = np.mean(p.X ** 2, axis=0)
    if parametrisation == "product":
        return np.concatenate([vv * vv * m, u * u * m], axis=-1)
    r = _beta(u, vv, parametrisation) @ p.X.T - p.y
    c = r @ p.X / p.n
    return np.concatenate([4 * u * u * m + 2 * c, 4 * vv * vv * m - 2 * c], axis=-1)


def trace_hessian(problem, w, parametrisation="pm"):
    """tr(H) of the noise-free loss in closed form.

    Parameters
    ----------
    problem : SparseRegression
    w : array_like, shape (..., 2d + 2) or (..., 2d)
    parametrisation : {"pm", "product"}

    Returns
    -------
    float or ndarray, shape (...)
        ``pm``: 4 sum_j (u_j^2 + v_j^2) m_j (exact everywhere: the residual terms cancel); ``product``:
        sum_j (u_j^2 + v_j^2) m_j.

    Notes
    -----
    Spec section 8 [INFERRED] (Li, Wen, Lyu, NeurIPS 2025): the regulariser that label-noise SGD reduces.
    """
    out = hessian_diagonal(problem, w, parametrisation).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def trace_sqrt_diag_hessian(problem, w, parametrisation="pm", *, at_interpolation=True):
    """tr(Diag(H)^{1/2}) of the noise-free loss in closed form: the sum of the square roots of the diagonal.

    Parameters
    ----------
    problem : SparseRegression
    w : array_like, shape (..., 2d + 2) or (..., 2d)
    parametrisation : {"pm", "product"}
    at_interpolation : bool
        True (default): the closed form at interpolating points, 2 sum_j (|u_j| + |v_j|) sqrt(m_j) (``pm``) or
        sum_j (|u_j| + |v_j|) sqrt(m_j) (``product``), i.e. the value on the interpolation manifold at the
        same (u, v) (the paper's quantity, evaluated along training without the residual's terms). False: the
        exact diagonal of :func:`hessian_diagonal`, square roots of |H_jj| (a diagonal entry can be negative
        away from interpolation; at a zero coordinate the square root magnifies the residual's rounding).

    Returns
    -------
    float or ndarray, shape (...)

    Notes
    -----
    Spec section 8 [INFERRED] (Li, Wen, Lyu, NeurIPS 2025): the adaptive sharpness that Adam reduces. At an
    interpolating point H = J^T J / N, so H_jj = (1/N) sum_i (df_i/dw_j)^2: 4 u_j^2 m_j and 4 v_j^2 m_j (``pm``).
    """
    p = _problem(problem)
    parametrisation = _param(parametrisation)
    if v.flag(at_interpolation, "at_interpolation"):
        u, vv = split(w, p.d)
        c = 2.0 if parametrisation == "pm" else 1.0
        out = c * ((np.abs(u) + np.abs(vv)) * np.sqrt(np.mean(p.X ** 2, axis=0))).sum(axis=-1)
    else:
        out = np.sqrt(np.abs(hessian_diagonal(p, w, parametrisation))).sum(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def fibre_minima(problem, predictor, parametrisation="pm"):
    """The minima of tr(H) and tr(Diag(H)^{1/2}) over the interpolating (u, v) that give the same predictor.

    Parameters
    ----------
    problem : SparseRegression
    predictor : array_like, shape (..., d)
    parametrisation : {"pm", "product"}

    Returns
    -------
    (ndarray, ndarray)
        ``pm``: 4 sum_j m_j |beta_j| (a weighted l1 norm) and 2 sum_j sqrt(m_j |beta_j|) (a weighted l_{1/2}
        quasi-norm, un-squared); ``product``: 2 sum_j m_j |beta_j| and 2 sum_j sqrt(m_j |beta_j|).

    Notes
    -----
    Spec section 8 [INFERRED]: with u^2 - v^2 = beta_j fixed, u^2 + v^2 >= |beta_j| and |u| + |v| >= sqrt|beta_j|,
    both with equality when u v = 0 (``product``: u^2 + v^2 >= 2|u v| and |u| + |v| >= 2 sqrt|u v|, equality
    at |u| = |v|). So label-noise SGD is biased towards small l1 norm, Adam towards small l_{1/2}: sparser.
    """
    p = _problem(problem)
    parametrisation = _param(parametrisation)
    predictor = v.real_array(predictor, "predictor", min_ndim=1)
    if predictor.shape[-1] != p.d:
        raise ValueError(f"predictor must have last dimension d = {p.d}; got shape {predictor.shape}")
    m = np.mean(p.X ** 2, axis=0)
    c = 4.0 if parametrisation == "pm" else 2.0
    return c * (m * np.abs(predictor)).sum(axis=-1), 2.0 * np.sqrt(m * np.abs(predictor)).sum(axis=-1)


def _predictor(predictor):
    return v.real_array(predictor, "predictor", min_ndim=1)


def l1_norm(predictor):
    """||predictor||_1 over the last axis.

    Parameters
    ----------
    predictor : array_like, shape (..., d)
        Finite. For recorded weights of a diverged run use :func:`observables`, which returns NaN there.

    Returns
    -------
    float or ndarray, shape (...)
    """
    return _l1(_predictor(predictor))


def l_half_norm(predictor):
    """The l_{1/2} quasi-norm (sum_j |beta_j|^{1/2})^2 over the last axis.

    Parameters
    ----------
    predictor : array_like, shape (..., d)
        Finite. For recorded weights of a diverged run use :func:`observables`, which returns NaN there.

    Returns
    -------
    float or ndarray, shape (...)
    """
    return _l_half(_predictor(predictor))


def test_loss(problem, predictor):
    """Population test loss 0.5 E (<predictor - beta*, x>)^2 = 0.5 ||predictor - beta*||^2 for x ~ N(0, I).

    Parameters
    ----------
    problem : SparseRegression
    predictor : array_like, shape (..., d)
        Finite. For recorded weights of a diverged run use :func:`observables`, which returns NaN there.

    Returns
    -------
    float or ndarray, shape (...)
    """
    p = _problem(problem)
    predictor = _predictor(predictor)
    if predictor.shape[-1] != p.d:
        raise ValueError(f"predictor must have last dimension d = {p.d}; got shape {predictor.shape}")
    return _test_loss(p, predictor)


def _l1(beta):
    return np.abs(beta).sum(axis=-1)


def _l_half(beta):
    return np.sqrt(np.abs(beta)).sum(axis=-1) ** 2


def _test_loss(p, beta):
    return 0.5 * ((beta - p.beta_star) ** 2).sum(axis=-1)


test_loss.__test__ = False  # not a pytest test


def observables(problem, w, parametrisation="pm") -> dict:
    """Everything the paper tracks along training, from flat parameters w (..., 2d + 2) (e.g. ``res.w``).

    Parameters
    ----------
    problem : SparseRegression
    w : array_like, shape (..., 2d + 2)
    parametrisation : {"pm", "product"}

    Returns
    -------
    dict of ndarray, each shape (...)
        ``trace_hessian``, ``trace_sqrt_diag_hessian`` (the closed forms at interpolation, evaluated at the
        recorded (u, v)), ``l1`` (||beta||_1), ``l_half`` (||beta||_{1/2}),
        ``train_loss`` (noise-free), ``test_loss`` (population, 0.5 ||beta - beta*||^2). NaN where w is not
        finite (a diverged run's recorded weights).
    """
    p = _problem(problem)
    parametrisation = _param(parametrisation)
    u, vv = split(w, p.d)
    beta = _beta(u, vv, parametrisation)
    r = beta @ p.X.T - p.y
    return dict(trace_hessian=np.asarray(trace_hessian(p, w, parametrisation)),
                trace_sqrt_diag_hessian=np.asarray(trace_sqrt_diag_hessian(p, w, parametrisation)),
                l1=_l1(beta), l_half=_l_half(beta), train_loss=0.5 * np.mean(r * r, axis=-1),
                test_loss=_test_loss(p, beta))


# --------------------------------------------------------------------------------- matrix factorisation
FACTORISATION_KINDS = ("completion", "gaussian")


@dataclasses.dataclass(frozen=True)
class FactorisationProblem:
    """A low-rank symmetric target M* (d, d) seen through n linear measurements y_i = <A_i, M*>.

    Attributes
    ----------
    A : ndarray (n, d, d)
        ``completion``: d e_a e_b^T for n distinct entries (a, b) (so E over a uniform entry of the squared
        residual is ||M - M*||_F^2); ``gaussian``: i.i.d. N(0, 1) entries.
    y : ndarray (n,)
    mstar : ndarray (d, d)
    kind : str
    """

    A: np.ndarray
    y: np.ndarray
    mstar: np.ndarray
    kind: str

    @property
    def d(self) -> int:
        return self.mstar.shape[0]

    @property
    def n(self) -> int:
        return self.y.size


def factorisation_problem(d=8, rank=1, measurements=40, *, kind="completion", seed=0) -> FactorisationProblem:
    """A rank-``rank`` PSD target M* = 2 Z Z^T / d (Z with N(0, 1) entries) and measurements measurements of it.

    Parameters
    ----------
    d : int
        M* is d x d (>= 1).
    rank : int
        1 <= rank <= d.
    measurements : int
        Number of measurements (for ``completion`` at most d^2 distinct entries).
    kind : {"completion", "gaussian"}
    seed : int, SeedSequence or None
        Child 0 draws Z, child 1 the measurements.

    Returns
    -------
    FactorisationProblem

    Notes
    -----
    [GAP] The matrix-factorisation setting in which Adam's bias hurts (Li, Wen, Lyu, NeurIPS 2025) is not in
    the spec; this is a reconstruction: symmetric completion of a dense low-rank matrix from observed entries,
    where tr(Diag(H)^{1/2}) is not rotation invariant and prefers entry-sparse factors, against Gaussian
    sensing as the contrast.
    """
    d = v.integer(d, "d", lo=1, hi=1000)
    rank = v.integer(rank, "rank", lo=1, hi=d)
    measurements = v.integer(measurements, "measurements", lo=1, hi=10**6)
    if not isinstance(kind, str) or kind not in FACTORISATION_KINDS:
        raise ValueError(f"kind must be one of {FACTORISATION_KINDS}; got {kind!r}")
    if kind == "completion" and measurements > d * d:
        raise ValueError(f"measurements = {measurements} observed entries exceed the d^2 = {d * d} entries of M*")
    v.check_budget(f"measurements = {measurements} measurement matrices of size {d}x{d}", bytes_needed=8.0 * measurements * d * d * 2)
    Z = np.random.default_rng(child_seed(seed, 0)).standard_normal((d, rank))
    mstar = 2.0 * Z @ Z.T / d
    rng = np.random.default_rng(child_seed(seed, 1))
    if kind == "gaussian":
        A = rng.standard_normal((measurements, d, d))
    else:
        A = np.zeros((measurements, d, d))
        idx = rng.choice(d * d, size=measurements, replace=False)
        A[np.arange(measurements), idx // d, idx % d] = float(d)
    return FactorisationProblem(A=A, y=np.einsum("iab,ab->i", A, mstar), mstar=mstar, kind=kind)


def _fproblem(problem):
    if not isinstance(problem, FactorisationProblem):
        raise TypeError(f"problem must be a gdsim.adam_sharpness.FactorisationProblem (from factorisation_problem); "
                        f"got {type(problem).__name__}")
    return problem


def label_noise_factorisation(problem, width, *, noise_std=0.5, init_scale=0.1) -> Model:
    """Symmetric matrix factorisation f_i = <A_i, U U^T> with label noise, as a :class:`gdsim.models.Model`.

    Parameters
    ----------
    problem : FactorisationProblem
    width : int
        r, the factor's columns (U is d x r).
    noise_std : float
        Label-noise amplitude (>= 0), fresh Rademacher signs every step as in :func:`label_noise_diagonal`.
    init_scale : float
        U_0 = init_scale N(0, 1) / sqrt(d) entrywise (> 0).

    Returns
    -------
    Model
        ``name="label_noise_factorisation"``; flat layout ``[U (d, r) row-major, key, clock]``; ``hvp`` is the
        exact Hessian of the noise-free loss.

    Notes
    -----
    Loss (1/2n) sum_i (<A_i, U U^T> - y_i - noise_std s_i)^2, gradient (S + S^T) U with S = (1/n) sum_i r_i A_i.
    At an interpolating point H = J^T J / n with J_i = (A_i + A_i^T) U (:func:`factorisation_traces`).
    """
    p = _fproblem(problem)
    width = v.integer(width, "width", lo=1, hi=10**4)
    noise_std = v.real_scalar(noise_std, "noise_std", lo=0.0)
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    d = p.d
    P = d * width + 2

    def draw(rng):
        w = np.zeros(P)
        w[:d * width] = scale / np.sqrt(d) * rng.standard_normal(d * width)
        w[d * width] = float(rng.integers(0, 2**26))
        return w

    return Model("label_noise_factorisation", P, kern.mf_loss_grad, (p.A, p.y, np.array([noise_std, float(width)])),
                 hvp=kern.mf_hvp, hvp_method="exact", init=draw, per_sample=(True, True, False),
                 layout="U (d, r) row-major, key, clock",
                 config=dict(d=d, n=p.n, kind=p.kind, width=width, noise_std=noise_std, init_scale=scale))


def factorisation_traces(problem, w):
    """tr(H) and tr(Diag(H)^{1/2}) of the noise-free factorisation loss at interpolating points (closed forms).

    Parameters
    ----------
    problem : FactorisationProblem
    w : array_like, shape (..., d r + 2)
        Flat parameters of :func:`label_noise_factorisation` (U, then key and clock).

    Returns
    -------
    (ndarray, ndarray), each shape (...)
        tr(H) = (1/n) sum_i ||(A_i + A_i^T) U||_F^2 and tr(Diag(H)^{1/2}) = sum_{a, k} ((1/n) sum_i
        ((A_i + A_i^T) U)_{ak}^2)^{1/2}: H = J^T J / n at an interpolating point, with J_i = (A_i + A_i^T) U.
        NaN where w is not finite (a diverged run).

    Notes
    -----
    Spec section 8 [INFERRED]: the two regularisers of label-noise SGD and Adam (Li, Wen, Lyu, NeurIPS 2025).
    tr(H) depends on U only through U^T-invariant quantities for Gaussian A_i; tr(Diag(H)^{1/2}) does not.
    """
    p = _fproblem(problem)
    U = _factor(p, w)
    B = p.A + np.swapaxes(p.A, -1, -2)
    D = np.mean(np.einsum("iab,...bk->...iak", B, U) ** 2, axis=-3)  # (..., d, r)
    return D.sum(axis=(-2, -1)), np.sqrt(D).sum(axis=(-2, -1))


def factorisation_error(problem, w):
    """Relative test error ||U U^T - M*||_F / ||M*||_F of flat parameters w (..., d r + 2); NaN where w is not finite."""
    p = _fproblem(problem)
    U = _factor(p, w)
    return np.linalg.norm(U @ np.swapaxes(U, -1, -2) - p.mstar, axis=(-2, -1)) / np.linalg.norm(p.mstar)


def _factor(p, w):
    w = v.real_array(w, "w", min_ndim=1, allow_nonfinite=True)
    P, d = w.shape[-1], p.d
    if P < d + 2 or (P - 2) % d:
        raise ValueError(f"w must have last dimension d r + 2 (U, key, clock) with d = {d}; got {P}")
    r = (P - 2) // d
    return w[..., :d * r].reshape(*w.shape[:-1], d, r)


def observe(problem, parametrisation="pm"):
    """The paper's observables as engine observables, recorded at every record point of a run.

    Parameters
    ----------
    problem : SparseRegression or FactorisationProblem
    parametrisation : {"pm", "product"}
        The diagonal net's parametrisation (as in :func:`label_noise_diagonal`; ignored for factorisation).

    Returns
    -------
    tuple of gdsim.dynamics.Observable
        Sparse regression: ``trace_hessian``, ``trace_sqrt_diag_hessian``, ``l1``, ``l_half``, ``train_loss``,
        ``test_loss`` (the keys of :func:`observables`). Factorisation: ``trace_hessian``,
        ``trace_sqrt_diag_hessian`` (:func:`factorisation_traces`) and ``factorisation_error``. Each
        (n_records, *batch), NaN for a diverged run.

    Notes
    -----
    Li, Wen, Lyu (NeurIPS 2025): label-noise SGD reduces tr(H), Adam reduces tr(Diag(H)^{1/2}); recording both
    along a run shows which one the optimiser drives down. ``train_loss``/``test_loss`` here are the
    noise-free and population losses of the problem, not the engine's ``"loss"``/``"test_loss"`` (the run
    refuses both spellings at once).

    Examples
    --------
    >>> import numpy as np, gdsim.adam_sharpness as gas, gdsim.dynamics as gdyn
    >>> p = gas.sparse_regression(n_samples=20, d=30, sparsity=3, seed=0)
    >>> m = gas.label_noise_diagonal(p, noise_std=0.5)
    >>> res = gdyn.adam(m, m.init(seed=0), 1e-3, 200, record_every=100, observe=("loss", *gas.observe(p)))
    >>> res.trace_sqrt_diag_hessian.shape
    (3,)
    """
    if isinstance(problem, FactorisationProblem):
        p = problem

        def traces(W, j):
            return np.asarray(factorisation_traces(p, W)[j], dtype=np.float64).reshape(-1)

        return (Observable("trace_hessian", lambda W: traces(W, 0), doc="tr(H) at interpolation (closed form)"),
                Observable("trace_sqrt_diag_hessian", lambda W: traces(W, 1),
                           doc="tr(Diag(H)^{1/2}) at interpolation (closed form)"),
                Observable("factorisation_error",
                           lambda W: np.asarray(factorisation_error(p, W), dtype=np.float64).reshape(-1),
                           doc="relative error ||U U^T - M*||_F / ||M*||_F"))
    p = _problem(problem)
    par = _param(parametrisation)
    docs = dict(trace_hessian="tr(H) at interpolation (closed form)",
                trace_sqrt_diag_hessian="tr(Diag(H)^{1/2}) at interpolation (closed form)", l1="||beta||_1",
                l_half="||beta||_{1/2}", train_loss="noise-free training loss",
                test_loss="population loss 0.5 ||beta - beta*||^2")

    def one(key):
        return Observable(key, lambda W: np.asarray(observables(p, W, par)[key], dtype=np.float64).reshape(-1),
                          doc=docs[key])

    return tuple(one(k) for k in docs)
