"""Public API of :mod:`gdsim.tubal`: problems, the factorisation model, and its observables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from gdsim._core import validate as v
from gdsim._core.rng import child_seed
from gdsim.dynamics import Observable
from gdsim.models import Model
from gdsim.tubal import _kernels as kern
from gdsim.tubal._algebra import fourier_slices, t_product, t_transpose, tubal_singular_values

__all__ = ["TubalProblem", "KINDS", "default_measurements", "make_problem", "factorisation", "factors",
           "test_error", "train_error", "slice_values", "subspace_sine", "power_method_tensor"]

KINDS = ("measurement", "completion")
_PAPER = ("Karnik, Veselovska, Iwen, Krahmer, 'Implicit Regularization for Tubal Tensor Factorizations via "
          "Gradient Descent', ICML 2025 (PMLR 267:29148-29204), arXiv:2410.16247")


@dataclasses.dataclass(frozen=True)
class TubalProblem:
    """A low-tubal-rank recovery instance: ground truth X* = V * V^T and its linear measurements.

    Attributes
    ----------
    xstar : ndarray (n, n, k)
        The ground truth, tubal rank ``rank``.
    v : ndarray (n, rank, k)
        Its orthonormal factor scaled by the singular tubes' square roots: X* = v * v^T.
    kind : {"measurement", "completion"}
    G : ndarray (m, n, n, k) or None
        Gaussian measurement tensors (kind "measurement").
    idx : ndarray (m,) of int or None
        Observed entries (kind "completion"), flat indices into X stored slice-major (k, n, n):
        ``idx = (t * n + a) * n + b`` for X[a, b, t].
    y : ndarray (m,)
        Measurements <G_j, X*>, or the observed entries X*[idx_j].
    """

    xstar: np.ndarray
    v: np.ndarray
    kind: str
    y: np.ndarray
    G: np.ndarray | None = None
    idx: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.xstar.shape[0]

    @property
    def k(self) -> int:
        return self.xstar.shape[2]

    @property
    def rank(self) -> int:
        return self.v.shape[1]

    @property
    def m(self) -> int:
        return self.y.size

    def kernel_data(self) -> tuple:
        """The model's data tuple: (Gm (m, k n n) slice-major, y, dims) or (idx as float, y, dims)."""
        dims = np.array([float(self.n), 0.0, float(self.k)])
        if self.kind == "measurement":
            Gm = np.ascontiguousarray(self.G.transpose(0, 3, 1, 2).reshape(self.m, -1))
            return Gm, self.y.copy(), dims
        return self.idx.astype(np.float64), self.y.copy(), dims

    def operator(self, X):
        """A(X) for tensors X (..., n, n, k): (..., m)."""
        X = np.asarray(X, dtype=np.float64)
        if self.kind == "measurement":
            return np.einsum("jabt,...abt->...j", self.G, X)
        flat = np.moveaxis(X, -1, -3).reshape(*X.shape[:-3], -1)
        return flat[..., self.idx]

    def adjoint(self, r):
        """A*(r) for residuals r (m,), scaled as the loss's gradient: (1/m) sum_j r_j G_j (n, n, k)."""
        r = np.asarray(r, dtype=np.float64)
        if self.kind == "measurement":
            return np.einsum("j,jabt->abt", r, self.G) / self.m
        flat = np.zeros(self.k * self.n * self.n)
        np.add.at(flat, self.idx, r * (self.n * self.n * self.k / self.m))
        return np.moveaxis(flat.reshape(self.k, self.n, self.n), 0, -1)


def default_measurements(d, n_slices, rank) -> int:
    """The paper's number of measurements m = ceil(1.2 (d + 1) r n_slices ln(d + 1)).

    Parameters
    ----------
    d, n_slices, rank : int
        Tensor size d x d x n_slices and tubal rank r of the ground truth.

    Returns
    -------
    int

    Notes
    -----
    From the authors' MATLAB code (``AnnaVeselovskaUA/tubal-tensor-implicit-reg-GD``, spec section 7 [CODE]).
    """
    d = v.integer(d, "d", lo=1, hi=10**4)
    n_slices = v.integer(n_slices, "n_slices", lo=1, hi=10**4)
    rank = v.integer(rank, "rank", lo=1, hi=d)
    return int(math.ceil(1.2 * (d + 1) * rank * n_slices * math.log(d + 1)))


def _orthonormal(Ustar):
    """The orthonormal t-factor of Ustar (n, r, k): QR of each Fourier slice, kept conjugate-symmetric."""
    n, r, k = Ustar.shape
    Uh = fourier_slices(Ustar)
    Q = np.empty_like(Uh)
    for i in range(k // 2 + 1):
        Q[i] = np.linalg.qr(Uh[i])[0]
        if i == 0 or 2 * i == k:
            Q[i] = Q[i].real  # a real slice has a real orthonormal basis
        else:
            Q[k - i] = np.conj(Q[i])
    return np.ascontiguousarray(np.fft.ifft(np.moveaxis(Q, 0, -1), axis=-1).real)


def make_problem(d, n_slices, rank, measurements=None, *, kind="measurement", singular_values=None, seed=0) -> TubalProblem:
    """A random tubal-rank-``rank`` ground truth and its measurements (the paper's "norm" setting by default).

    Parameters
    ----------
    d : int
        The ground truth is d x d x n_slices (d >= 1).
    n_slices : int
        Tube length (>= 1).
    rank : int
        Tubal rank r* (1 <= r* <= d).
    measurements : int, optional
        Number of measurements (or observed entries); default :func:`default_measurements`.
    kind : {"measurement", "completion"}
        ``"measurement"``: G_j with i.i.d. N(0, 1) entries, y_j = <G_j, X*>. ``"completion"``: measurements distinct
        entries of X* observed uniformly at random (measurements <= d^2 n_slices).
    singular_values : array_like (rank,), optional
        The singular tubes' values, the same in every Fourier slice (> 0); default all ones (the paper's
        "norm" setting).
    seed : int, SeedSequence or None
        Child 0 draws the ground truth, child 1 the measurements.

    Returns
    -------
    TubalProblem

    Notes
    -----
    Karnik, Veselovska, Iwen, Krahmer (ICML 2025): X* = V * diag(s) * V^T where V (d, r*, n_slices) is the orthonormal
    t-factor (V^T * V = I) of a Gaussian U* (computed here as the QR factor of every Fourier slice, which spans
    the same subspaces as the t-SVD's left factor), so every Fourier slice of X* is Q_i diag(s) Q_i^H.

    Examples
    --------
    >>> import gdsim.tubal as gt
    >>> p = gt.make_problem(6, 3, 1, measurements=50, seed=0)
    >>> p.xstar.shape, p.m, gt.tubal_rank(p.xstar)
    ((6, 6, 3), 50, 1)
    """
    d = v.integer(d, "d", lo=1, hi=2000)
    n_slices = v.integer(n_slices, "n_slices", lo=1, hi=10**4)
    rank = v.integer(rank, "rank", lo=1, hi=d)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    measurements = default_measurements(d, n_slices, rank) if measurements is None else v.integer(measurements, "measurements", lo=1, hi=10**8)
    if kind == "completion" and measurements > d * d * n_slices:
        raise ValueError(f"measurements = {measurements} observed entries exceed the d^2 n_slices = {d * d * n_slices} entries of the tensor")
    v.check_budget(f"d = {d} and n_slices = {n_slices}", bytes_needed=8.0 * d * d * n_slices * 6)
    if kind == "measurement":
        v.check_budget(f"measurements = {measurements} Gaussian {d}x{d}x{n_slices} measurements", bytes_needed=8.0 * measurements * d * d * n_slices * 3)
    if singular_values is None:
        s = np.ones(rank)
    else:
        s = v.real_array(singular_values, "singular_values", min_ndim=1)
        if s.shape != (rank,) or np.any(s <= 0):
            raise ValueError(f"singular_values must be {rank} positive numbers (one per singular tube); got {s}")
    rng = np.random.default_rng(child_seed(seed, 0))
    V = _orthonormal(rng.standard_normal((d, rank, n_slices)))
    sv = np.zeros((rank, rank, n_slices))
    sv[:, :, 0] = np.diag(np.sqrt(s))
    Vs = t_product(V, sv)
    xstar = t_product(Vs, t_transpose(Vs))
    rng = np.random.default_rng(child_seed(seed, 1))
    if kind == "measurement":
        G = rng.standard_normal((measurements, d, d, n_slices))
        y = np.einsum("jabt,abt->j", G, xstar)
        return TubalProblem(xstar=xstar, v=Vs, kind=kind, y=y, G=G)
    idx = np.sort(rng.choice(d * d * n_slices, size=measurements, replace=False)).astype(np.int64)
    y = np.moveaxis(xstar, -1, 0).reshape(-1)[idx].copy()
    return TubalProblem(xstar=xstar, v=Vs, kind=kind, y=y, idx=idx)


def _problem(problem):
    if not isinstance(problem, TubalProblem):
        raise TypeError(f"problem must be a gdsim.tubal.TubalProblem (from make_problem); got {type(problem).__name__}")
    return problem


def factorisation(problem, width, *, init_scale=1e-6) -> Model:
    """The symmetric tubal factorisation X = U * U^T as a :class:`gdsim.models.Model` (run it with gdsim.dynamics).

    Parameters
    ----------
    problem : TubalProblem
        From :func:`make_problem`.
    width : int
        R, the factor's second dimension (U is n x R x k; over-parametrised when R > rank).
    init_scale : float
        Initialisation scale (> 0): U_0 = init_scale N(0, 1) / sqrt(R) entrywise (``model.init``).

    Returns
    -------
    Model
        ``name="tubal_factorisation"``, ``hvp_method="exact"``. Flat layout: U (n, R, k) row-major (tubes last).

    Notes
    -----
    Karnik, Veselovska, Iwen, Krahmer (ICML 2025, arXiv:2410.16247). Loss

        L(U) = (1/2m) sum_j (<G_j, U * U^T> - y_j)^2        (measurement)
        L(U) = (n^2 k / 2m) sum_{j} ((U * U^T)[idx_j] - y_j)^2   (completion; E L = 0.5 ||X - X*||_F^2)

    with gradient grad L(U) = (Rop + Rop^T) * U, Rop = (1/m) sum_j r_j G_j (the residuals r_j through the
    adjoint), and GD ``U <- U - lr grad L(U)`` (:func:`gdsim.dynamics.gd`). The paper's Figure 2 uses the
    un-averaged sum with lr 1e-5: that is lr = 1e-5 m here. The Hessian-vector product is exact:
    H V = (Rop + Rop^T) * V + (dRop + dRop^T) * U with dRop the adjoint of A(V * U^T + U * V^T).
    The t-products inside the kernels are direct circular sums over the k frontal slices.

    Examples
    --------
    >>> import numpy as np, gdsim.tubal as gt, gdsim.dynamics as gdyn
    >>> p = gt.make_problem(6, 3, 1, measurements=50, seed=0)
    >>> model = gt.factorisation(p, 12, init_scale=1e-6)
    >>> res = gdyn.gd(model, model.init(seed=0), lr=0.05, steps=4000, record_every=4000)
    >>> bool(gt.test_error(p, res.w_final) < 1e-4)
    True
    """
    p = _problem(problem)
    width = v.integer(width, "width", lo=1, hi=10**5)
    init_scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    n, k = p.n, p.k
    P = n * width * k
    v.check_budget(f"width = {width} at n = {n}, k = {k}", bytes_needed=8.0 * P * 8)
    data = list(p.kernel_data())
    data[2] = np.array([float(n), float(width), float(k)])
    lg, hvp = ((kern.measurement_loss_grad, kern.measurement_hvp) if p.kind == "measurement"
               else (kern.completion_loss_grad, kern.completion_hvp))
    scale = init_scale / math.sqrt(width)

    def draw(rng):
        return scale * rng.standard_normal(P)

    return Model("tubal_factorisation", P, lg, tuple(data), hvp=hvp, hvp_method="exact", init=draw,
                 per_sample=(True, True, False), layout="U (n, R, k) row-major (tubes last)",
                 config=dict(n=n, k=k, rank=p.rank, m=p.m, kind=p.kind, width=width, init_scale=init_scale))


def factors(problem, w):
    """The factor tensors U (..., n, R, k) of flat parameters w (..., n R k).

    Parameters
    ----------
    problem : TubalProblem
    w : array_like, shape (..., P)
        P = n R k for some width R (e.g. ``res.w`` or ``res.w_final`` of a run).

    Returns
    -------
    ndarray, shape (..., n, R, k)
    """
    p = _problem(problem)
    w = v.real_array(w, "w", min_ndim=1, allow_nonfinite=True)
    P = w.shape[-1]
    if P % (p.n * p.k) or P == 0:
        raise ValueError(f"w must have last dimension n R k (R >= 1) with n = {p.n}, k = {p.k}; got {P}")
    return w.reshape(*w.shape[:-1], p.n, P // (p.n * p.k), p.k)


def _product(p, w):
    U = factors(p, w)
    return t_product(U, t_transpose(U)) if np.all(np.isfinite(U)) else _nan_safe_product(U)


def _nan_safe_product(U):
    flat = U.reshape(-1, *U.shape[-3:])
    out = np.full((flat.shape[0], U.shape[-3], U.shape[-3], U.shape[-1]), np.nan)
    ok = np.all(np.isfinite(flat), axis=(1, 2, 3))
    if ok.any():
        out[ok] = t_product(flat[ok], t_transpose(flat[ok]))
    return out.reshape(*U.shape[:-3], *out.shape[1:])


def test_error(problem, w):
    """Relative test error ||U * U^T - X*||_F / ||X*||_F of flat parameters w (..., P).

    Parameters
    ----------
    problem : TubalProblem
    w : array_like, shape (..., P)

    Returns
    -------
    float or ndarray, shape (...)
        NaN where w is not finite (a diverged run).

    Notes
    -----
    The paper's test error (Karnik et al., ICML 2025, Figures 2-4).
    """
    p = _problem(problem)
    X = _product(p, w)
    out = np.sqrt(np.sum((X - p.xstar) ** 2, axis=(-3, -2, -1))) / np.linalg.norm(p.xstar)
    return float(out) if np.ndim(out) == 0 else out


test_error.__test__ = False  # not a pytest test (the name starts with "test")


def train_error(problem, w):
    """Relative training error ||A(U * U^T) - y|| / ||y|| of flat parameters w (..., P).

    Parameters
    ----------
    problem : TubalProblem
    w : array_like, shape (..., P)

    Returns
    -------
    float or ndarray, shape (...)
        NaN where w is not finite (a diverged run).
    """
    p = _problem(problem)
    r = p.operator(_product(p, w)) - p.y
    out = np.linalg.norm(r, axis=-1) / np.linalg.norm(p.y)
    return float(out) if np.ndim(out) == 0 else out


def slice_values(problem, w):
    """The tubal singular values of X = U * U^T per Fourier slice, for flat parameters w (..., P).

    Parameters
    ----------
    problem : TubalProblem
    w : array_like, shape (..., P)

    Returns
    -------
    ndarray, shape (..., k, n)
        Eigenvalues of each Hermitian PSD Fourier slice Xhat_i = Uhat_i Uhat_i^H, descending
        (:func:`tubal_singular_values` of U * U^T). Slices i and k - i coincide. NaN where w is not finite.

    Notes
    -----
    Small-initialisation GD learns low tubal rank (Karnik et al., ICML 2025): in every slice the top r*
    values rise to those of X* while the others stay at the initialisation's scale alpha^2.
    """
    p = _problem(problem)
    X = _product(p, w)
    flat = X.reshape(-1, *X.shape[-3:])
    out = np.full((flat.shape[0], p.k, p.n), np.nan)
    ok = np.all(np.isfinite(flat), axis=(1, 2, 3))
    if ok.any():
        out[ok] = tubal_singular_values(flat[ok])
    return out.reshape(*X.shape[:-3], p.k, p.n)


def power_method_tensor(problem):
    """S = M + M^T with M = A*(y): GD's linearisation at U = 0 is the power method U <- (I + lr S) * U.

    Parameters
    ----------
    problem : TubalProblem

    Returns
    -------
    ndarray (n, n, k)

    Notes
    -----
    At U ~ 0 the residual is -y, so grad L(U) = -(M + M^T) * U and GD multiplies each Fourier slice of U by
    (I + lr Shat_i): the spectral (alignment) phase of Karnik et al. (ICML 2025) in which U aligns with the
    top-r* eigenvectors of every Shat_i. E[M] = X* for Gaussian measurements.
    """
    p = _problem(problem)
    M = p.adjoint(p.y)
    return M + t_transpose(M)


def subspace_sine(problem, w, reference="power_method"):
    """Sine of the largest principal angle, per Fourier slice, between U's top-r* subspace and a reference.

    Parameters
    ----------
    problem : TubalProblem
    w : array_like, shape (..., P)
        Flat parameters (U (n, R, k)); R >= r*.
    reference : {"power_method", "truth"}
        ``"power_method"``: the top-r* eigenvectors of each slice of :func:`power_method_tensor`;
        ``"truth"``: the column space of each slice of X*.

    Returns
    -------
    ndarray, shape (..., k)
        ||(I - P_ref,i) Q_i||_2 with Q_i the top-r* left singular vectors of Uhat_i (the top-r* eigenvectors of
        Uhat_i Uhat_i^H). NaN where w is not finite.

    Notes
    -----
    The paper's principal angles to the power-method subspace (Karnik et al., ICML 2025): small after the
    alignment phase while U is still small; in the convergence phase the subspace moves on to that of X*.
    """
    p = _problem(problem)
    if reference not in ("power_method", "truth"):
        raise ValueError(f"reference must be 'power_method' or 'truth'; got {reference!r}")
    r = p.rank
    U = factors(p, w)
    if U.shape[-2] < r:
        raise ValueError(f"w must hold a factor of width R >= r* = {r} (last dimension n R k >= {p.n * r * p.k}); "
                         f"got R = {U.shape[-2]}")
    if reference == "power_method":
        ev, vec = np.linalg.eigh(fourier_slices(power_method_tensor(p)))
        ref = vec[..., ::-1][..., :r]
    else:
        ref = np.linalg.svd(fourier_slices(p.v))[0][..., :r]
    proj = np.eye(p.n) - ref @ np.conj(np.swapaxes(ref, -1, -2))  # (k, n, n)
    flat = U.reshape(-1, *U.shape[-3:])
    out = np.full((flat.shape[0], p.k), np.nan)
    ok = np.all(np.isfinite(flat), axis=(1, 2, 3))
    if ok.any():
        Uh = fourier_slices(flat[ok])  # (B, k, n, R)
        Q = np.linalg.eigh(Uh @ np.conj(np.swapaxes(Uh, -1, -2)))[1][..., ::-1][..., :r]  # (B, k, n, r)
        out[ok] = np.linalg.norm(proj @ Q, ord=2, axis=(-2, -1))
    return out.reshape(*U.shape[:-3], p.k)


def observe(problem):
    """The paper's observables as engine observables, recorded at every record point of a run.

    Parameters
    ----------
    problem : TubalProblem

    Returns
    -------
    tuple of gdsim.dynamics.Observable
        ``test_error`` (:func:`test_error`) and ``train_error`` (:func:`train_error`), each (n_records, *batch);
        NaN for a diverged run.

    Notes
    -----
    Karnik et al. (ICML 2025) plot the relative test error along GD (Figures 2-4); recording it in the run keeps
    a long run's memory at one value per record instead of every iterate.

    Examples
    --------
    >>> import gdsim.tubal as gt, gdsim.dynamics as gdyn
    >>> p = gt.make_problem(6, 3, 1, measurements=50, seed=0)
    >>> m = gt.factorisation(p, 12, init_scale=1e-6)
    >>> res = gdyn.gd(m, m.init(seed=0), lr=0.05, steps=4000, record_every=1000, observe=("loss", *gt.observe(p)))
    >>> bool(res.test_error[-1] < 1e-4 < res.test_error[0])
    True
    """
    p = _problem(problem)
    return (Observable("test_error", lambda W: np.asarray(test_error(p, W), dtype=np.float64).reshape(-1),
                       doc="relative test error ||U * U^T - X*||_F / ||X*||_F"),
            Observable("train_error", lambda W: np.asarray(train_error(p, W), dtype=np.float64).reshape(-1),
                       doc="relative training error ||A(U * U^T) - y|| / ||y||"))
