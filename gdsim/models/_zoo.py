"""The model zoo: hand-written gradients and exact (R-op) Hessian-vector products.

Every constructor documents its flat parameter layout (part of the contract): the order of the blocks,
their storage order (row-major), the scaling and the loss normalisation.
"""

from __future__ import annotations

import math

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v
from gdsim._core.jit import jit
from gdsim.models import _mlp, _scalar_codegen
from gdsim.models._model import Model, as_data

__all__ = ["mlp", "deep_linear", "diagonal_linear", "matrix_factorisation", "scalar_network",
           "squared_regression", "matrix_sensing"]


def _choice(x, name, allowed):
    if not isinstance(x, str):
        raise TypeError(f"{name} must be one of {allowed}; got {type(x).__name__}")
    if x not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {x!r}")
    return x


def _xy(data, name="data"):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, Y) of arrays; got {type(data).__name__}"
                        + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    X, Y = as_data(data, name)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name}[0] (X) must have shape (N, d_in) with N, d_in >= 1; got {X.shape}")
    if Y.ndim == 1:
        Y = Y[:, None].copy()
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"{name}[1] (Y) must have shape (N,) or (N, d_out) with N = {X.shape[0]}; got {Y.shape}")
    return X, Y


# --------------------------------------------------------------------------------------------- MLPs
def mlp(sizes, activation="tanh", loss="mse", data=None, *, scaling="standard", bias=True, test_data=None,
        init_scale=1.0):
    """A fully connected network of any depth with exact gradient and Hessian-vector products.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[d_in, h_1, ..., d_out]`` (at least two entries, each >= 1).
    activation : {"tanh", "relu", "gelu", "linear", "quadratic"}
        Hidden-layer nonlinearity sigma (the output layer is linear). ``gelu`` is the tanh form
        0.5 z (1 + tanh(sqrt(2/pi)(z + 0.044715 z^3))); ``quadratic`` is z^2.
    loss : {"mse", "cross_entropy"}
        ``mse``: (1/N) sum_n 0.5 ||f(x_n) - y_n||^2. ``cross_entropy``: (1/N) sum_n [logsumexp f(x_n) - <y_n, f(x_n)>]
        with one-hot (or probability) rows y_n. For either loss, integer class labels (N,) in [0, d_out - 1] with
        d_out = sizes[-1] > 1 are one-hot encoded (for ``mse`` that is the squared loss against one-hot targets of
        Cohen et al.'s CIFAR-10 runs); a (N,) target with d_out = 1 is a regression target.
    data : tuple (X, Y)
        Training inputs X (N, d_in) and targets Y (N, d_out) (or (N,) labels / targets).
    scaling : {"standard", "ntk", "mean_field"}
        The forward multipliers c_l and initialisation: ``standard`` c_l = 1, W ~ N(0, 1/d_l);
        ``ntk`` c_l = 1/sqrt(d_l), W ~ N(0, 1); ``mean_field`` as ntk but c_{L-1} = 1/d_{L-1} on the last layer.
        Biases start at 0.
    bias : bool
        Whether each layer has a bias.
    test_data : tuple (X, Y), optional
        Held-out data (``test_loss``, ``test_accuracy`` observables).
    init_scale : float
        Multiplies the initial weights (> 0).

    Returns
    -------
    Model
        ``name="mlp"``; ``hvp_method="exact"`` (Pearlmutter's R-op). Its ``data`` are (X, Y, arch): ``arch``
        encodes the architecture for the compiled kernels (one compiled kernel serves every MLP).

    Notes
    -----
    Flat layout (the contract): for l = 0 .. L-1 in order, W_l of shape (d_{l+1}, d_l) row-major (row j holds
    the weights into unit j), then b_l (d_{l+1},) when ``bias``. The layer computes
    Z_{l+1} = c_l A_l W_l^T + b_l with A_0 = X and A_{l+1} = sigma(Z_{l+1}); the output is Z_L.
    P = sum_l d_{l+1} (d_l + bias).

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm
    >>> X = np.random.default_rng(0).standard_normal((20, 3)); Y = np.sin(X[:, :1])
    >>> m = gm.mlp([3, 8, 1], activation="tanh", data=(X, Y))
    >>> m.n_params
    41
    """
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of ints [d_in, ..., d_out]; got {type(sizes).__name__}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least two entries [d_in, d_out]; got {list(sizes)}")
    sizes = tuple(v.integer(s, f"sizes[{i}]", lo=1, hi=10**6) for i, s in enumerate(sizes))
    activation = _choice(activation, "activation", _mlp.ACTIVATIONS)
    loss = _choice(loss, "loss", _mlp.LOSSES)
    scaling = _choice(scaling, "scaling", _mlp.SCALINGS)
    bias = v.flag(bias, "bias")
    init_scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    if data is None:
        raise TypeError("data must be given as (X, Y)")
    X, Y = _mlp_data(data, sizes, loss, "data")
    test = None if test_data is None else _mlp_data(test_data, sizes, loss, "test_data")
    P = sum(sizes[l + 1] * (sizes[l] + bias) for l in range(len(sizes) - 1))
    v.check_budget(f"sizes = {list(sizes)}", bytes_needed=8.0 * P * 4)
    arch = _mlp.arch_vector(sizes, activation, loss, scaling, bias)
    woff = _mlp.offsets(arch)[6]  # the kernels' own layout
    std = tuple((1.0 / math.sqrt(sizes[l])) if scaling == "standard" else 1.0 for l in range(len(sizes) - 1))

    def draw(rng):
        w = np.zeros(P)
        for l in range(len(sizes) - 1):
            n = sizes[l + 1] * sizes[l]
            w[woff[l]:woff[l] + n] = init_scale * std[l] * rng.standard_normal(n)
        return w

    def check(d, name):
        d = _as_tuple(d, name, "(X, Y) or (X, Y, arch)")
        if len(d) not in (2, 3):
            raise ValueError(f"{name} for model 'mlp' must be (X, Y) (or (X, Y, arch) as in model.data); got "
                             f"{len(d)} arrays")
        return (*_mlp_data(d[:2], sizes, loss, name), *d[2:])

    return Model("mlp", P, _mlp.loss_grad, (X, Y, arch), hvp=_mlp.hvp, hvp_method="exact", init=draw,
                 data_check=check, fixed=(2,),
                 test_data=None if test is None else (*test, arch), accuracy=_mlp.accuracy, per_sample=(True, True, False),
                 hvp_prepare=_mlp.hvp_prepare, hvp_cached=_mlp.hvp_cached,
                 layout="per layer l: W_l (d_{l+1}, d_l) row-major, then b_l (d_{l+1},)" + ("" if bias else " [no bias]"),
                 config=dict(sizes=list(sizes), activation=activation, loss=loss, scaling=scaling, bias=bias,
                             init_scale=init_scale),
                 groups=[(f"layer_{l}", int(woff[l]), int(woff[l]) + sizes[l + 1] * (sizes[l] + bias), sizes[l],
                          sizes[l + 1]) for l in range(len(sizes) - 1)])


def _as_tuple(d, name, form):
    if isinstance(d, np.ndarray) or not isinstance(d, (tuple, list)):
        raise TypeError(f"{name} must be a tuple {form} of arrays; got {type(d).__name__}")
    return tuple(d)


def _mlp_data(data, sizes, loss, name):
    X, Y = _xy(data, name)
    if X.shape[1] != sizes[0]:
        raise ValueError(f"{name}[0] (X) has {X.shape[1]} features but sizes[0] = {sizes[0]}: give X one column "
                         f"per input (shape (N, {sizes[0]}))")
    if Y.shape[1] == 1 and sizes[-1] > 1:
        labels = Y[:, 0]
        if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= sizes[-1]:
            raise ValueError(f"{name}[1] (Y) of shape (N,) is read as class labels, which must be integers in "
                             f"[0, {sizes[-1] - 1}] (sizes[-1] = {sizes[-1]} outputs); for other targets give Y "
                             f"shape (N, {sizes[-1]}) (one-hot encode labels with np.eye({sizes[-1]})[labels])")
        Y = np.eye(sizes[-1])[labels.astype(np.int64)]
    if Y.shape[1] != sizes[-1]:
        raise ValueError(f"{name}[1] (Y) has {Y.shape[1]} columns but sizes[-1] = {sizes[-1]} outputs: give Y shape "
                         f"(N, {sizes[-1]}) (one-hot encode class labels with np.eye({sizes[-1]})[labels])")
    if loss == "cross_entropy":
        if np.any(Y < 0) or not np.allclose(Y.sum(axis=1), 1.0, atol=1e-12):
            raise ValueError(f"{name}[1] for cross_entropy must hold one-hot or probability rows (>= 0, summing to 1)")
    return X, np.ascontiguousarray(Y)


def deep_linear(sizes, data=None, *, scaling="standard", test_data=None, init_scale=1.0):
    """A deep linear network f(x) = W_{L-1} ... W_0 x with the MSE loss: :func:`mlp` with ``activation="linear"``
    and no biases (same layout: W_0, W_1, ... each (d_{l+1}, d_l) row-major).

    Parameters
    ----------
    sizes : sequence of int
        ``[d_in, h_1, ..., d_out]``.
    data : tuple (X, Y)
    scaling : {"standard", "ntk", "mean_field"}
    test_data : tuple, optional
    init_scale : float

    Returns
    -------
    Model
        ``name="deep_linear"``.
    """
    m = mlp(sizes, "linear", "mse", data, scaling=scaling, bias=False, test_data=test_data, init_scale=init_scale)
    m.name = "deep_linear"
    return m


# --------------------------------------------------------------------------------------------- small models
@jit(cache=False)
def _diag_loss_grad(w, X, y, g):
    N, d = X.shape
    depth = w.size // d
    beta = np.ones(d, dtype=w.dtype)
    for l in range(depth):
        for i in range(d):
            beta[i] *= w[l * d + i]
    r = np.dot(_mlp.like(X, w), beta) - y
    gb = np.zeros(d, dtype=w.dtype)
    loss = 0.0 * w[0]
    for n in range(N):
        loss += 0.5 * r[n] * r[n]
        for i in range(d):
            gb[i] += X[n, i] * r[n]
    for l in range(depth):
        for i in range(d):
            p = 1.0 + 0.0 * w[0]
            for k in range(depth):
                if k != l:
                    p *= w[k * d + i]
            g[l * d + i] = gb[i] * p / N
    return loss / N


@jit(cache=False)
def _diag_hvp(w, vv, X, y, out):
    N, d = X.shape
    depth = w.size // d
    beta = np.ones(d)
    dbeta = np.zeros(d)
    for i in range(d):
        for l in range(depth):
            beta[i] *= w[l * d + i]
            p = 1.0
            for k in range(depth):
                if k != l:
                    p *= w[k * d + i]
            dbeta[i] += vv[l * d + i] * p
    r = np.dot(X, beta) - y
    rr = np.dot(X, dbeta)
    gb = np.dot(X.T, r) / N
    hb = np.dot(X.T, rr) / N
    for l in range(depth):
        for i in range(d):
            p = 1.0
            q = 0.0
            for k in range(depth):
                if k != l:
                    p *= w[k * d + i]
                    pk = vv[k * d + i]
                    for m in range(depth):
                        if m != l and m != k:
                            pk *= w[m * d + i]
                    q += pk
            out[l * d + i] = hb[i] * p + gb[i] * q


def diagonal_linear(data=None, *, depth=2, init_scale=0.1, test_data=None):
    """A diagonal linear network f(x) = <beta, x>, beta = u_1 * u_2 * ... * u_depth (elementwise), MSE loss.

    Parameters
    ----------
    data : tuple (X, y)
        X (N, d), y (N,).
    depth : int
        Number of factors (>= 1; depth 2 is the u * v network).
    init_scale : float
        Every factor starts at ``init_scale`` times (1 + 0.01 N(0, 1)) (small scale: the rich regime).
    test_data : tuple, optional

    Returns
    -------
    Model
        ``name="diagonal_linear"``; loss (1/N) sum_n 0.5 (<beta, x_n> - y_n)^2.

    Notes
    -----
    Flat layout: u_1 (d,), u_2 (d,), ..., u_depth (d,) concatenated (P = depth d). See Woodworth et al.
    (COLT 2020) for the u * v network and its implicit bias.
    """
    if data is None:
        raise TypeError("data must be given as (X, y) for diagonal_linear")
    X, y = _vector_target(data, "data")
    depth = v.integer(depth, "depth", lo=1, hi=64)
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    d = X.shape[1]
    P = depth * d

    def draw(rng):
        return scale * (1.0 + 0.01 * rng.standard_normal(P))

    def check(data, name):
        Xn, yn = _vector_target(data, name)
        if Xn.shape[1] != d:
            raise ValueError(f"{name}[0] (X) has {Xn.shape[1]} features but this diagonal_linear model has d = {d} "
                             f"(from its data): give X shape (N, {d})")
        return Xn, yn

    test = None if test_data is None else check(test_data, "test_data")
    return Model("diagonal_linear", P, _diag_loss_grad, (X, y), hvp=_diag_hvp, init=draw, test_data=test,
                 per_sample=(True, True), data_check=check,
                 layout="u_1 (d,), ..., u_depth (d,) concatenated", config=dict(depth=depth, d=d, init_scale=scale),
                 groups=[(f"u_{i + 1}", i * d, (i + 1) * d) for i in range(depth)])


def _vector_target(data, name="test_data"):
    X, y = _xy(data, name)
    if y.shape[1] != 1:
        raise ValueError(f"{name}[1] (y) must have shape (N,); got {y.shape}")
    return X, y[:, 0].copy()


@jit(cache=False)
def _mf_loss_grad(w, M, rank, g):
    n1, n2 = M.shape
    r = int(rank[0])
    U = w[:n1 * r].reshape(n1, r)
    V = w[n1 * r:].reshape(n2, r)
    R = np.dot(U, V.T) - _mlp.like(M, w)
    np.dot(R, V, g[:n1 * r].reshape(n1, r))
    np.dot(R.T, U, g[n1 * r:].reshape(n2, r))
    return 0.5 * np.sum(R * R)


@jit(cache=False)
def _mf_hvp(w, vv, M, rank, out):
    n1, n2 = M.shape
    r = int(rank[0])
    U = w[:n1 * r].reshape(n1, r)
    V = w[n1 * r:].reshape(n2, r)
    dU = vv[:n1 * r].reshape(n1, r)
    dV = vv[n1 * r:].reshape(n2, r)
    R = np.dot(U, V.T) - M
    dR = np.dot(dU, V.T) + np.dot(U, dV.T)
    out[:n1 * r] = (np.dot(dR, V) + np.dot(R, dV)).ravel()
    out[n1 * r:] = (np.dot(dR.T, U) + np.dot(R.T, dU)).ravel()


def matrix_factorisation(target, rank, *, init_scale=0.1):
    """Asymmetric matrix factorisation L(U, V) = 0.5 ||U V^T - M||_F^2 (a sum, not a mean).

    Parameters
    ----------
    target : array_like, shape (n1, n2)
        M.
    rank : int
        Inner dimension r (>= 1).
    init_scale : float
        Entries start N(0, init_scale^2).

    Returns
    -------
    Model
        ``name="matrix_factorisation"``; its data are (M, [r]).

    Notes
    -----
    Flat layout: U (n1, r) row-major, then V (n2, r) row-major (P = (n1 + n2) r).
    """
    M = v.real_array(target, "target", min_ndim=2)
    if M.ndim != 2:
        raise ValueError(f"target must be a matrix (n1, n2); got shape {M.shape}")
    rank = v.integer(rank, "rank", lo=1, hi=10**6)
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    n1, n2 = M.shape
    P = (n1 + n2) * rank

    def draw(rng):
        return scale * rng.standard_normal(P)

    return Model("matrix_factorisation", P, _mf_loss_grad, (M, np.array([float(rank)])), hvp=_mf_hvp, init=draw,
                 fixed=(1,),
                 layout="U (n1, r) row-major, then V (n2, r) row-major",
                 config=dict(shape=[n1, n2], rank=rank, init_scale=scale),
                 groups=[("U", 0, n1 * rank, rank, n1), ("V", n1 * rank, P, rank, n2)])


@jit(cache=False)
def _scalar_loss_grad(w, ab, g):
    a = ab[0]
    b = ab[1]
    D = w.size
    p = 1.0 + 0.0 * w[0]
    for i in range(D):
        p *= w[i]
    r = p - b
    for i in range(D):
        q = 1.0 + 0.0 * w[0]
        for j in range(D):
            if j != i:
                q *= w[j]
        g[i] = a * r * q
    return 0.5 * a * r * r


@jit(cache=False)
def _scalar_gd_step_batch(W, ab, lr, S, L, big):
    """One fused GD step on a block of runs, structure of arrays: W (D, B) in place, S (D + 1, B) scratch, L the
    loss before the step, big the largest |w| after it. The run index is the innermost loop, so LLVM vectorises
    across runs (as in :mod:`gdsim.scalar`'s kernels); the gradient r prod_{l != i} w_l is the prefix product
    (rows of S) times the suffix product (row D, which starts at r), updated as the backward pass goes."""
    D, B = W.shape
    a = ab[0]
    b = ab[1]
    for j in range(B):
        S[0, j] = 1.0
    for i in range(1, D):
        for j in range(B):
            S[i, j] = S[i - 1, j] * W[i - 1, j]
    for j in range(B):
        e = S[D - 1, j] * W[D - 1, j] - b
        L[j] = 0.5 * a * e * e
        S[D, j] = a * e
        big[j] = 0.0
    for i in range(D - 1, -1, -1):
        for j in range(B):
            w = W[i, j]
            x = w - lr[j] * (S[i, j] * S[D, j])
            W[i, j] = x
            big[j] = max(big[j], abs(x))
            S[D, j] *= w


def _scalar_gd_step(D: int):
    """The fused structure-of-arrays GD step of the depth-D scalar network: generated and unrolled for small depths by
    :mod:`gdsim.models._scalar_codegen` (the generator shared with :mod:`gdsim.scalar`'s kernels, measured 7x faster
    than the loop form at D = 4), the loop form :func:`_scalar_gd_step_batch` otherwise."""
    if D not in _scalar_codegen.UNROLLED_DEPTHS:
        return _scalar_gd_step_batch
    return _scalar_codegen.fused_step(D)


@jit(cache=False)
def _scalar_hvp(w, vv, ab, out):
    a = ab[0]
    b = ab[1]
    D = w.size
    p = 1.0
    for i in range(D):
        p *= w[i]
    r = p - b
    q = np.ones(D)
    for i in range(D):
        for j in range(D):
            if j != i:
                q[i] *= w[j]
    qv = 0.0
    for j in range(D):
        qv += q[j] * vv[j]
    for i in range(D):
        s = 0.0
        for j in range(D):
            if j != i:
                qq = 1.0
                for k in range(D):
                    if k != i and k != j:
                        qq *= w[k]
                s += qq * vv[j]
        out[i] = a * (q[i] * qv + r * s)


@renamed_keywords(D="depth")
def scalar_network(depth, *, a=1.0, b=1.0):
    """The depth-D scalar linear network of Kreisler et al.: L(w) = (a/2)(prod_i w_i - b)^2.

    Parameters
    ----------
    depth : int
        Depth (>= 2).
    a, b : float
        Curvature a > 0 and target b != 0, as in :func:`gdsim.scalar.gd`.

    Returns
    -------
    Model
        ``name="scalar_network"``; its data are ([a, b],). The generic twin of :mod:`gdsim.scalar`.

    Notes
    -----
    Flat layout: w_1, ..., w_D. Kreisler, Shpigel Nacson, Soudry, Carmon (ICML 2023).
    """
    depth = v.integer(depth, "depth", lo=2, hi=10**4)
    a = v.real_scalar(a, "a", lo=0.0, lo_open=True)
    b = v.real_scalar(b, "b", nonzero=True)

    def draw(rng):
        return 1.0 + 0.5 * rng.standard_normal(depth)

    def check(data, name):
        data = _as_tuple(data, name, "([a, b],)")
        if len(data) != 1:
            raise ValueError(f"{name} for model 'scalar_network' must be one array ([a, b],); got {len(data)} arrays")
        ab = v.real_array(data[0], f"{name}[0]")
        if ab.shape != (2,) or not ab[0] > 0 or ab[1] == 0:
            raise ValueError(f"{name}[0] must be [a, b] with a > 0 and b != 0; got {ab.tolist()}")
        return (ab,)

    return Model("scalar_network", depth, _scalar_loss_grad, (np.array([a, b]),), hvp=_scalar_hvp, init=draw,
                 data_check=check,
                 layout="w_1, ..., w_D", config=dict(depth=depth, a=a, b=b), gd_step_batch=_scalar_gd_step(depth))


@jit(cache=False)
def _sqreg_loss_grad(w, X, y, g):
    N, d = X.shape
    beta = w * w
    r = np.dot(_mlp.like(X, w), beta) - y
    loss = 0.0 * w[0]
    for n in range(N):
        loss += r[n] * r[n]
    for i in range(d):
        s = 0.0 * w[0]
        for n in range(N):
            s += X[n, i] * r[n]
        g[i] = 2.0 * w[i] * s / N
    return 0.5 * loss / N


@jit(cache=False)
def _sqreg_hvp(w, vv, X, y, out):
    N, d = X.shape
    r = np.dot(X, w * w) - y
    rr = np.dot(X, 2.0 * w * vv)
    gb = np.dot(X.T, r) / N
    hb = np.dot(X.T, rr) / N
    for i in range(d):
        out[i] = 2.0 * vv[i] * gb[i] + 2.0 * w[i] * hb[i]


def squared_regression(X, y):
    """The squared regression model f(x; w) = <w * w, x> of Kreisler et al., L(w) = (1/2N) ||X (w * w) - y||^2.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)

    Returns
    -------
    Model
        ``name="squared_regression"``, the generic twin of :mod:`gdsim.scalar.squared_regression`.

    Notes
    -----
    Flat layout: w (d,).
    """
    X, y = _xy((X, y), "(X, y)")
    if y.shape[1] != 1:
        raise ValueError(f"y must have shape (N,); got {y.shape}")
    y = y[:, 0].copy()
    d = X.shape[1]

    def draw(rng):
        return 1.0 + 0.1 * rng.standard_normal(d)

    def check(data, name):
        Xn, yn = _vector_target(data, name)
        if Xn.shape[1] != d:
            raise ValueError(f"{name}[0] (X) has {Xn.shape[1]} features but this squared_regression model has d = {d}")
        return Xn, yn

    return Model("squared_regression", d, _sqreg_loss_grad, (X, y), hvp=_sqreg_hvp, init=draw, layout="w (d,)",
                 per_sample=(True, True), data_check=check,
                 config=dict(N=X.shape[0], d=d))


@jit(cache=False)
def _sym_full_loss_grad(w, Zs, g):
    d = Zs.shape[0]
    r = w.size // d
    U = w.reshape(d, r)
    R = np.dot(U, U.T) - _mlp.like(Zs, w)
    np.dot(R, U, g.reshape(d, r))
    return 0.25 * np.sum(R * R)


@jit(cache=False)
def _sym_full_hvp(w, vv, Zs, out):
    d = Zs.shape[0]
    r = w.size // d
    U = w.reshape(d, r)
    V = vv.reshape(d, r)
    R = np.dot(U, U.T) - Zs
    UV = np.dot(V, U.T)
    out[:] = (np.dot(UV + UV.T, U) + np.dot(R, V)).ravel()


@jit(cache=False)
def _packed_residuals(Ap, Z, y):
    """r_i = <S_i, Z> - y_i from the packed rows (off-diagonal weight 2), and G = sum_i r_i S_i / m."""
    m = Ap.shape[0]
    d = Z.shape[0]
    r = np.empty(m, dtype=Z.dtype)
    G = np.zeros((d, d), dtype=Z.dtype)
    for i in range(m):
        s = 0.0 * Z[0, 0]
        k = 0
        for p in range(d):
            for q in range(p, d):
                s += Ap[i, k] * Z[p, q]
                k += 1
        r[i] = s - y[i]
    for i in range(m):
        k = 0
        for p in range(d):
            G[p, p] += r[i] * Ap[i, k]
            k += 1
            for q in range(p + 1, d):
                c = 0.5 * r[i] * Ap[i, k]
                G[p, q] += c
                G[q, p] += c
                k += 1
    return r, G / m


@jit(cache=False)
def _sensing_loss_grad(w, Ap, y, dims, g):
    d = int(dims[0])
    rr = w.size // d
    U = w.reshape(d, rr)
    r, G = _packed_residuals(Ap, np.dot(U, U.T), y)
    np.dot(G, U, g.reshape(d, rr))
    return np.sum(r * r) / (4.0 * Ap.shape[0])


@jit(cache=False)
def _sensing_hvp(w, vv, Ap, y, dims, out):
    d = int(dims[0])
    rr = w.size // d
    U = w.reshape(d, rr)
    V = vv.reshape(d, rr)
    _, G = _packed_residuals(Ap, np.dot(U, U.T), y)
    UV = np.dot(V, U.T)
    _, RG = _packed_residuals(Ap, UV + UV.T, np.zeros_like(y))
    out[:] = (np.dot(RG, U) + np.dot(G, V)).ravel()


def matrix_sensing(problem, r_hat, *, init_scale=1e-3):
    """Symmetric matrix sensing of Jin et al. as a model: L(U) = (1/4m) sum_i (<A_i, U U^T> - y_i)^2.

    Parameters
    ----------
    problem : gdsim.sensing.SensingProblem
        With measurements (``a_packed``) or full observation (then L(U) = 0.25 ||U U^T - Z*||_F^2).
    r_hat : int
        Width of the factor U (d, r_hat).
    init_scale : float
        Entries of U start N(0, init_scale^2 / d).

    Returns
    -------
    Model
        ``name="matrix_sensing"``. GD with step ``lr`` is :func:`gdsim.sensing.gd` with ``mu = lr``.

    Notes
    -----
    Flat layout: U (d, r_hat) row-major. Jin, Li, Lyu, Du, Lee (ICML 2023, arXiv:2301.11500).
    """
    from gdsim.sensing._api import SensingProblem

    if not isinstance(problem, SensingProblem):
        raise TypeError(f"problem must be a gdsim.sensing.SensingProblem; got {type(problem).__name__}")
    r_hat = v.integer(r_hat, "r_hat", lo=1, hi=10**5)
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    zs = problem.zstar
    if not isinstance(zs, np.ndarray) or zs.ndim != 2 or zs.shape[0] != zs.shape[1] or zs.shape[0] < 1:
        raise ValueError(f"problem.zstar must be a square (d, d) array; got {getattr(zs, 'shape', type(zs).__name__)}"
                         " (build problems with gdsim.sensing.make_problem)")
    d = problem.d
    if problem.a_packed is not None:
        Ap, yy = np.asarray(problem.a_packed), np.asarray(problem.y) if problem.y is not None else None
        if Ap.ndim != 2 or Ap.shape[1] != d * (d + 1) // 2 or yy is None or yy.shape != (Ap.shape[0],):
            raise ValueError(f"problem's measurements must be a_packed (m, d(d+1)/2 = {d * (d + 1) // 2}) and y (m,); "
                             f"got {Ap.shape} and {None if yy is None else yy.shape} (build problems with "
                             "gdsim.sensing.make_problem)")
        if not (np.all(np.isfinite(Ap)) and np.all(np.isfinite(yy))):
            raise ValueError("problem's measurements (a_packed, y) must be finite")
    if not np.all(np.isfinite(zs)):
        raise ValueError("problem.zstar must be finite")
    P = d * r_hat

    def draw(rng):
        return scale / math.sqrt(d) * rng.standard_normal(P)

    if problem.a_packed is None:
        return Model("matrix_sensing", P, _sym_full_loss_grad, (np.ascontiguousarray(problem.zstar),),
                     hvp=_sym_full_hvp, init=draw, layout="U (d, r_hat) row-major",
                     config=dict(d=d, r_hat=r_hat, m=None, init_scale=scale))
    Ap = np.ascontiguousarray(problem.a_packed, dtype=np.float64)
    return Model("matrix_sensing", P, _sensing_loss_grad, (Ap, np.ascontiguousarray(problem.y), np.array([float(d)])),
                 hvp=_sensing_hvp, init=draw, layout="U (d, r_hat) row-major", per_sample=(True, True, False),
                 fixed=(2,),
                 config=dict(d=d, r_hat=r_hat, m=problem.m, init_scale=scale))

