"""The :class:`Model` type and :func:`custom`: a flat float64 parameter vector plus compiled kernels.

A model is what :mod:`gdsim.dynamics` runs: ``loss_grad(w, *data, g) -> loss`` compiled by Numba (it
writes the gradient into ``g`` and returns the loss), optionally an exact ``hvp(w, v, *data, out)``, an
initialiser and its data arrays. The drivers receive the kernels as first-class Numba functions
(QuantEcon's ``newton(func)``, jax-md's ``simulate.nve(energy_fn)``), so a model defined in a notebook
runs in the same compiled, parallel loop as the zoo's.

When no ``hvp`` is given, the Hessian-vector product is the complex step of the gradient,
Im grad L(w + i h v) / h with h = 1e-20 / max|v|: exact to rounding (no subtraction, hence no
cancellation) when ``loss_grad`` is written type-generically (allocate with ``np.zeros_like(w)``, no
``abs``/comparisons on values that depend on w except through ``.real``). When Numba cannot compile
``loss_grad`` for complex input, central differences of the gradient are used instead:
(grad L(w + e v) - grad L(w - e v)) / 2e with e = 6e-6 max(1, |w|) / |v|, whose error is
O(e^2 |D^3 L|), about 1e-10 relative for O(1) third derivatives: not exact. The method is recorded
as ``model.hvp_method`` and in every result's metadata.
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import numba
import numpy as np
from numba.core.errors import NumbaError

from gdsim._core import validate as v
from gdsim._core.first_class import function_value, kernel_errors
from gdsim._core.jit import jit
from gdsim._core.memory import keep_freed_memory
from gdsim._core.result import seeded
from gdsim._core.rng import run_seeds

__all__ = ["Model", "ParamGroup", "custom"]

#: Largest flat parameter vector a model may declare (a dense Hessian of this size is already 8 TB).
MAX_PARAMS = 10**9


def _first_line_of(exc: BaseException, limit: int = 6) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("- Resolution", "During:", "File ", "\x1b"))][:limit]
    return " ".join(s.strip() for s in keep) or type(exc).__name__


_COMPILED: dict = {}  # plain function or dispatcher -> derived dispatchers, so a model built twice compiles once


def _memo(key, make):
    if key not in _COMPILED:
        _COMPILED[key] = make()
    return _COMPILED[key]


def as_kernel(fn, name: str):
    """A Numba dispatcher for ``fn``: jitted functions are used as given, plain Python ones compiled here."""
    if isinstance(fn, numba.core.registry.CPUDispatcher):
        return fn
    if not callable(fn):
        raise TypeError(f"{name} must be a function (ideally @numba.njit); got {type(fn).__name__}")
    if isinstance(fn, type) or not hasattr(fn, "__code__"):
        raise TypeError(f"{name} must be a plain Python function or a Numba-jitted one; got {fn!r}")
    return _memo(("kernel", fn), lambda: jit(fn, cache=False))


def as_data(data, name: str = "data") -> tuple:
    """The data tuple: float64 C-contiguous finite arrays (integers are converted)."""
    if data is None:
        return ()
    if isinstance(data, np.ndarray) or not isinstance(data, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of arrays, e.g. (X, y); got {type(data).__name__}")
    out = []
    for i, d in enumerate(data):
        arr = v.real_array(d, f"{name}[{i}]", allow_nonfinite=True)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}[{i}] contains NaN or inf: a model's data must be finite")
        if not arr.flags.writeable:
            arr = arr.copy()  # one array type for the data and their minibatches (the drivers' function types)
        out.append(arr)
    return tuple(out)


# ------------------------------------------------------------------------------------- derived HVPs
def _complex_step_hvp(loss_grad):
    @jit(cache=False)
    def hvp(w, vec, *data_and_out):
        return _cs(loss_grad, w, vec, data_and_out)

    return hvp


def _central_hvp(loss_grad):
    @jit(cache=False)
    def hvp(w, vec, *data_and_out):
        return _cd(loss_grad, w, vec, data_and_out)

    return hvp


def _tuple_splitter(skip):
    """A function ``split(t)`` -> ``((t[0], ..., t[-1-skip]), t[-1])`` for a tuple of any length, resolved at
    compile time (``skip`` = 0: (data..., out); 1: (data..., cache, out))."""
    def split(t):  # pragma: no cover - typing helper, replaced by the overload
        raise NotImplementedError

    @numba.extending.overload(split)
    def _ol(t):
        n = len(t)
        src = "def f(t):\n    return (" + "".join(f"t[{i}], " for i in range(n - 1 - skip)) + f"), t[{n - 1}]\n"
        ns = {}
        exec(src, ns)  # noqa: S102 - builds the tuple split for this length only
        return ns["f"]

    return split


_split = _tuple_splitter(0)
_split_cache = _tuple_splitter(1)


@jit(cache=False)
def _cs(loss_grad, w, vec, data_and_out):
    data, out = _split(data_and_out)
    scale = 0.0
    for i in range(vec.size):
        scale = max(scale, abs(vec[i]))
    if scale == 0.0:
        out[:] = 0.0
        return
    h = 1e-20 / scale
    wc = w + 1j * h * vec
    gc = np.zeros(w.size, dtype=np.complex128)
    loss_grad(wc, *data, gc)
    for i in range(w.size):
        out[i] = gc[i].imag / h


@jit(cache=False)
def _cd(loss_grad, w, vec, data_and_out):
    data, out = _split(data_and_out)
    vn = np.sqrt(np.sum(vec * vec))
    if vn == 0.0:
        out[:] = 0.0
        return
    wn = np.sqrt(np.sum(w * w))
    e = 6.0e-6 * max(1.0, wn) / vn  # about eps^(1/3): balances rounding against the O(e^2) truncation
    gp = np.empty(w.size)
    gm = np.empty(w.size)
    loss_grad(w + e * vec, *data, gp)
    loss_grad(w - e * vec, *data, gm)
    for i in range(w.size):
        out[i] = (gp[i] - gm[i]) / (2.0 * e)


@jit(cache=False)
def no_cache(w, *data):
    """The default ``hvp_prepare``: nothing is shared between products at one ``w``."""
    return np.empty(0)


def _uncached(hvp):
    """``hvp_cached(w, v, *data, cache, out)`` calling a plain ``hvp(w, v, *data, out)``."""
    @jit(cache=False)
    def cached(w, vec, *data_cache_out):
        data, out = _split_cache(data_cache_out)
        hvp(w, vec, *data, out)

    return cached


# ------------------------------------------------------------------------------------- batched helpers
# (the kernels arrive as first-class function values: compiled once per data signature, cached on disk)
@jit(parallel=True)
def _batch_loss_grad(loss_grad, W, data, L, G):
    for r in numba.prange(W.shape[0]):
        L[r] = loss_grad(W[r], *data, G[r])


@jit(parallel=True)
def _batch_hvp(hvp, W, V, data, out):
    for r in numba.prange(W.shape[0]):
        hvp(W[r], V[r], *data, out[r])


ParamGroup = namedtuple("ParamGroup", "name start stop filter_size n_filters", defaults=(0, 0))
ParamGroup.__doc__ = """A contiguous block ``w[start:stop]`` of a model's flat parameters (a layer), for per-block curvature.

    ``n_filters`` filters of ``filter_size`` entries each lead the block (the rows of a weight matrix, one per
    output unit: Li, Xu, Taylor, Studer, Goldstein, NeurIPS 2018, filter normalisation); the entries after them
    (biases) belong to no filter. ``n_filters = 0``: the whole block is one filter.
    """


def _check_groups(groups, P):
    if groups is None:
        return (ParamGroup("all", 0, P),)
    out, at = [], 0
    for g in groups:
        g = ParamGroup(*g)
        if g.start != at or not g.start < g.stop <= P or g.filter_size * g.n_filters > g.stop - g.start:
            raise ValueError(f"groups must split [0, n_params = {P}) into consecutive non-empty blocks "
                             f"(name, start, stop[, filter_size, n_filters]); got {tuple(groups)!r}")
        out.append(ParamGroup(str(g.name), int(g.start), int(g.stop), int(g.filter_size), int(g.n_filters)))
        at = g.stop
    if at != P:
        raise ValueError(f"groups must cover all n_params = {P} parameters; they end at {at}")
    return tuple(out)


class Model:
    """A differentiable model: flat float64 parameters and compiled loss, gradient and Hessian-vector kernels.

    Build one with :func:`custom` or a zoo constructor (:func:`gdsim.models.mlp`, ...); the drivers of
    :mod:`gdsim.dynamics` take it as their first argument.

    Attributes
    ----------
    name : str
        What the model is (``"custom"``, ``"mlp"``, ...).
    n_params : int
        P, the length of the flat parameter vector.
    data : tuple of ndarray
        The training data passed to the kernels after ``w``: ``loss_grad(w, *data, g)``.
    test_data : tuple of ndarray or None
        Held-out data of the same form (test loss and accuracy observables).
    hvp_method : {"exact", "complex_step", "central_difference"}
        How Hessian-vector products are computed (see the module docstring for the accuracy of each).
    layout : str
        The flat parameter layout (part of the zoo's contract).
    config : dict
        The constructor's arguments, recorded in every result's metadata.
    groups : tuple of ParamGroup
        The parameter blocks (the zoo MLP: one per layer, W_l and b_l); one block ``"all"`` by default.
    """

    def __init__(self, name, n_params, loss_grad, data=(), *, hvp=None, hvp_method="exact", init=None,
                 test_data=None, accuracy=None, layout="", config=None, per_sample=None,
                 hvp_prepare=None, hvp_cached=None, gd_step_batch=None, groups=None):
        self.name = str(name)
        self.n_params = int(n_params)
        self.groups = _check_groups(groups, self.n_params)
        self.data = tuple(data)
        self.test_data = None if test_data is None else tuple(test_data)
        self.hvp_method = hvp_method
        self.layout = layout
        self.config = dict(config or {})
        self._loss_grad = loss_grad
        self._hvp = hvp
        # Lanczos at one w: hvp_prepare(w, *data) computes what every product shares (the forward pass),
        # hvp_cached(w, v, *data, cache, out) one product; models without a split use hvp as it is
        if hvp_prepare is None:
            hvp_prepare, hvp_cached = no_cache, _memo(("uncached", hvp), lambda: _uncached(hvp))
        self._hvp_prep = hvp_prepare
        self._hvp_cached = hvp_cached
        # optional gd_step_batch(W, *data, lr, S, L, big): one fused full-batch GD step on a block of runs in
        # structure-of-arrays layout (W (P, B), S (P + 1, B) scratch): GD then vectorises across runs (jax.vmap's
        # role, written by hand)
        self._gd_step_batch = gd_step_batch
        self._init = init
        self._accuracy = accuracy  # jitted accuracy(w, *data) -> float, or None
        #: which data arrays hold one row per sample (minibatches index these); () for none
        self.per_sample = tuple(bool(p) for p in per_sample) if per_sample is not None else (False,) * len(self.data)
        if len(self.per_sample) != len(self.data):
            raise ValueError(f"per_sample must have one flag per data array ({len(self.data)}); got {per_sample!r}")

    @property
    def n_samples(self) -> int:
        """The number of samples (rows of the per-sample data arrays); 0 when the model has none."""
        for d, p in zip(self.data, self.per_sample):
            if p:
                return int(d.shape[0])
        return 0

    # -------------------------------------------------------------------------------------- repr
    def __repr__(self):
        return (f"Model({self.name!r}, n_params={self.n_params}, data shapes={[d.shape for d in self.data]}, "
                f"hvp={self.hvp_method})")

    @property
    def has_accuracy(self) -> bool:
        return self._accuracy is not None

    def provenance(self) -> dict:
        """What a result records about the model: name, size, config, HVP method and data checksums."""
        import hashlib

        def digest(arrays):
            h = hashlib.sha256()
            for a in arrays:
                h.update(str(a.shape).encode())
                h.update(np.ascontiguousarray(a).tobytes())
            return h.hexdigest()[:16]

        out = dict(name=self.name, n_params=self.n_params, hvp_method=self.hvp_method, config=self.config,
                   data_shapes=[list(d.shape) for d in self.data], data_sha256=digest(self.data))
        if self.test_data is not None:
            out["test_data_sha256"] = digest(self.test_data)
        return out

    # -------------------------------------------------------------------------------------- checks
    def weights(self, w, name: str = "w") -> np.ndarray:
        """``w`` validated: a finite float64 array of shape (*batch, P)."""
        arr = v.real_array(w, name, min_ndim=1)
        if arr.shape[-1] != self.n_params:
            raise ValueError(f"{name} must have shape (*batch, P) with P = n_params = {self.n_params}; "
                             f"got shape {arr.shape}")
        # writable, so that its rows have the one array type the kernels' function values take
        return arr if arr.flags.writeable else arr.copy()

    def _function_value(self, kernel):
        """``loss_grad`` or ``hvp`` as a first-class function value (:mod:`gdsim._core.first_class`), built once."""
        values = self.__dict__.setdefault("_function_values", {})
        key = (kernel, id(self.data))  # (the types are those of the data this model holds now)
        if key not in values:
            w_t = numba.types.Array(numba.types.float64, 1, "C")
            data_t = tuple(numba.typeof(d) for d in self.data)
            if kernel == "loss_grad":
                values[key] = function_value(self._loss_grad, (w_t, *data_t, w_t))
            else:
                values[key] = function_value(self._hvp, (w_t, w_t, *data_t, w_t))
        return values[key]

    # -------------------------------------------------------------------------------------- NumPy-facing
    def loss_grad(self, w):
        """Loss and gradient at ``w`` (P,) or (*batch, P): returns ``(loss, g)`` with shapes (*batch,), (*batch, P)."""
        w = self.weights(w)
        batch = w.shape[:-1]
        W = w.reshape(-1, self.n_params)
        keep_freed_memory()
        L = np.empty(W.shape[0])
        G = np.empty_like(W)
        with kernel_errors(self.name):
            _batch_loss_grad(self._function_value("loss_grad"), W, self.data, L, G)
        if batch == ():
            return float(L[0]), G[0]
        return L.reshape(batch), G.reshape(w.shape)

    def loss(self, w):
        """The loss at ``w`` (P,) or (*batch, P)."""
        return self.loss_grad(w)[0]

    def hvp(self, w, vec):
        """Hessian-vector product H(w) v, same shapes as ``w`` (``vec`` broadcasts against ``w``)."""
        w = self.weights(w)
        vec = v.real_array(vec, "v", min_ndim=1)
        try:
            vec = np.broadcast_to(vec, w.shape)
        except ValueError:
            raise ValueError(f"v with shape {vec.shape} does not broadcast against w with shape {w.shape}") from None
        W = w.reshape(-1, self.n_params)
        V = np.array(vec.reshape(-1, self.n_params), order="C")  # a writable copy (the function types)
        out = np.empty_like(W)
        with kernel_errors(self.name):
            _batch_hvp(self._function_value("hvp"), W, V, self.data, out)
        return out.reshape(w.shape)

    def hessian(self, w):
        """The dense Hessian at one ``w`` (P,) from P Hessian-vector products, symmetrised (small P only)."""
        w = self.weights(w)
        if w.ndim != 1:
            raise ValueError(f"hessian takes one parameter vector w of shape (P,); got shape {w.shape}")
        v.check_budget(f"n_params = {self.n_params}", bytes_needed=8.0 * self.n_params**2 * 2)
        H = self.hvp(np.broadcast_to(w, (self.n_params, self.n_params)), np.eye(self.n_params))
        return 0.5 * (H + H.T)

    def accuracy(self, w, data=None):
        """Classification accuracy at ``w`` on ``data`` (default: the training data); zoo classifiers only."""
        if self._accuracy is None:
            raise ValueError(f"model {self.name!r} defines no accuracy (the zoo MLPs with loss='cross_entropy' "
                             "or a one-hot MSE target do)")
        w = self.weights(w)
        data = self.data if data is None else as_data(data)
        W = w.reshape(-1, self.n_params)
        out = np.array([self._accuracy(W[i], *data) for i in range(W.shape[0])])
        return float(out[0]) if w.ndim == 1 else out.reshape(w.shape[:-1])

    def init(self, seed=0, batch=()):
        """Initial parameters.

        Parameters
        ----------
        seed : int, SeedSequence, None, or array_like of int
            One seed: run i of ``batch`` draws from the i-th child of ``seed``. An integer array (with
            ``batch`` left out): one initialisation per entry, row i equal to ``init(seed=seed[i])``, shape
            (*seed.shape, P), and the rows remember their seeds, so a run of the engine started from them
            labels that axis ``seed`` (``res.to_xarray().sel(seed=3)``).
        batch : tuple of int
            Batch shape for one seed.

        Returns
        -------
        ndarray, shape (*batch, P) or (*seed.shape, P)
        """
        if isinstance(seed, (np.ndarray, list, tuple)) and np.asarray(seed).ndim >= 1 and batch == ():
            seeds = np.asarray(seed)
            if seeds.dtype.kind not in "iu" or seeds.size == 0:
                raise TypeError(f"seed as an array must hold integers (one seed per initialisation); got {seed!r}")
            flat = np.stack([self.init(seed=int(s)) for s in seeds.reshape(-1)])  # row i is m.init(seed=seed[i])
            return seeded(flat.reshape((*seeds.shape, self.n_params)), seeds)
        batch = _batch_shape(batch)
        runs = int(np.prod(batch, dtype=np.int64)) if batch else 1
        v.check_budget(f"batch = {batch} at n_params = {self.n_params}", bytes_needed=8.0 * runs * self.n_params)
        seeds = run_seeds(seed, runs)
        out = np.empty((runs, self.n_params))
        for i, s in enumerate(seeds):
            rng = np.random.default_rng(s)
            out[i] = self._init(rng) if self._init is not None else rng.standard_normal(self.n_params)
        return out.reshape((*batch, self.n_params))

    def with_data(self, data, test_data=None) -> "Model":
        """The same model on other data (same kernels, so nothing recompiles)."""
        m = Model(self.name, self.n_params, self._loss_grad, as_data(data), hvp=self._hvp,
                  hvp_method=self.hvp_method, init=self._init,
                  test_data=None if test_data is None else as_data(test_data, "test_data"),
                  accuracy=self._accuracy, layout=self.layout, config=self.config,
                  per_sample=self.per_sample, hvp_prepare=self._hvp_prep, hvp_cached=self._hvp_cached,
                  gd_step_batch=self._gd_step_batch, groups=self.groups)
        return m


def _batch_shape(batch):
    if isinstance(batch, (numbers.Integral, np.integer)) and not isinstance(batch, bool):
        batch = (int(batch),)
    if not isinstance(batch, (tuple, list)):
        raise TypeError(f"batch must be a tuple of ints; got {type(batch).__name__}")
    out = tuple(v.integer(b, "batch", lo=1) for b in batch)
    return out


def _probe(loss_grad, n_params, data, name):
    """Call ``loss_grad`` once (bounds-checked) so that a wrong function fails here with a clear message."""
    try:
        checked = _memo(("checked", loss_grad), lambda: jit(loss_grad.py_func, boundscheck=True, cache=False))
    except AttributeError:  # pragma: no cover - not a dispatcher
        checked = loss_grad
    w = np.full(n_params, 0.1)
    g = np.full(n_params, np.nan)
    try:
        loss = checked(w, *data, g)
    except NumbaError as exc:
        raise TypeError(f"{name} ({getattr(loss_grad, '__name__', '?')}) could not be compiled by Numba for "
                        f"loss_grad(w, *data, g) with w, g float64 arrays of shape ({n_params},) and data shapes "
                        f"{[d.shape for d in data]}: {_first_line_of(exc)}") from None
    except IndexError as exc:
        raise ValueError(f"{name} indexed outside its arrays ({exc}) with n_params = {n_params}: its gradient g has "
                         f"shape ({n_params},); check n_params and the layout") from None
    except Exception as exc:
        raise ValueError(f"{name} failed on a test call with n_params = {n_params} "
                         f"({type(exc).__name__}: {exc}); a gradient of the wrong shape?") from None
    if isinstance(loss, (complex, np.complexfloating)) or not isinstance(loss, (numbers.Real, np.floating)):
        raise TypeError(f"{name} must return the loss as a real scalar; it returned {type(loss).__name__}")
    if np.isnan(g).any():
        raise ValueError(f"{name} left {int(np.isnan(g).sum())} of the {n_params} gradient entries unwritten (or NaN) "
                         "at w = 0.1: it must write the whole gradient into g (a gradient of the wrong shape?)")


def _pick_hvp(loss_grad, n_params, data, name):
    """Complex step when ``loss_grad`` compiles for complex input, else central differences."""
    cs = _memo(("cs", loss_grad), lambda: _complex_step_hvp(loss_grad))
    w = np.full(n_params, 0.1)
    vec = np.ones(n_params)
    out = np.empty(n_params)
    try:
        cs(w, vec, *data, out)
        if np.all(np.isfinite(out)):
            return cs, "complex_step"
    except (NumbaError, TypeError, ValueError):
        pass
    return _memo(("cd", loss_grad), lambda: _central_hvp(loss_grad)), "central_difference"


def custom(loss_grad, n_params, data=(), hvp=None, *, init=None, init_scale=1.0, test_data=None, name="custom",
           per_sample=None):
    """A model from a Numba-compilable ``loss_grad(w, *data, g) -> loss``.

    Parameters
    ----------
    loss_grad : function
        ``loss_grad(w, *data, g)``: writes the gradient of the loss at ``w`` (P,) into ``g`` (P,) and returns
        the loss. A plain Python function is compiled with gdsim's Numba options; an ``@numba.njit`` one is
        used as is. Written type-generically (``np.zeros_like(w)``, no ``abs`` of w-dependent values), it
        also gives exact Hessian-vector products by the complex step.
    n_params : int
        P, the length of the parameter vector (>= 1).
    data : tuple of array_like
        Arrays passed after ``w`` (converted to float64; must be finite).
    hvp : function, optional
        ``hvp(w, v, *data, out)`` writing H(w) v into ``out``. Default: complex step of ``loss_grad`` (exact
        to rounding), or central differences (about 1e-10 relative) when ``loss_grad`` is not
        type-generic; ``model.hvp_method`` says which.
    init : callable, optional
        ``init(rng) -> (P,)`` given a ``numpy.random.Generator``; default ``init_scale`` times a standard normal.
    init_scale : float
        Scale of the default initialisation (> 0).
    test_data : tuple of array_like, optional
        Held-out data of the same form (the ``test_loss`` observable).
    name : str
        Recorded in results.
    per_sample : sequence of bool, optional
        Which data arrays hold one row per sample (SGD draws minibatches of their rows). Default: the
        arrays whose first dimension equals that of ``data[0]``.

    Returns
    -------
    Model

    Raises
    ------
    TypeError
        When Numba cannot compile ``loss_grad`` (the message names the function and Numba's reason), or it
        returns a non-real loss.
    ValueError
        When ``loss_grad`` writes outside ``g`` or leaves entries unwritten (a gradient of the wrong shape),
        or the data are not finite.

    Examples
    --------
    >>> import numpy as np, numba, gdsim.models as gm
    >>> @numba.njit
    ... def quartic(w, a, g):
    ...     r = w * w - a
    ...     for i in range(w.size):
    ...         g[i] = 4.0 * r[i] * w[i]
    ...     return np.sum(r * r)
    >>> m = gm.custom(quartic, 3, data=(np.ones(3),))
    >>> m.hvp_method
    'complex_step'
    """
    n_params = v.integer(n_params, "n_params", lo=1, hi=MAX_PARAMS)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r}")
    lg = as_kernel(loss_grad, "loss_grad")
    data = as_data(data)
    test = None if test_data is None else as_data(test_data, "test_data")
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    if init is not None and not callable(init):
        raise TypeError(f"init must be a callable init(rng) -> (P,) array or None; got {type(init).__name__}")
    if per_sample is None:
        per_sample = tuple(d.ndim >= 1 and d.shape[0] == data[0].shape[0] for d in data) if data else ()
    else:
        if isinstance(per_sample, (str, bytes)) or not hasattr(per_sample, "__len__"):
            raise TypeError(f"per_sample must be a sequence of bools, one per data array; got {per_sample!r}")
        per_sample = tuple(v.flag(p, "per_sample[i]") for p in per_sample)
        if len(per_sample) != len(data):
            raise ValueError(f"per_sample must have one flag per data array ({len(data)}); got {len(per_sample)}")
        rows = {d.shape[0] for d, p in zip(data, per_sample) if p and d.ndim >= 1}
        if len(rows) > 1 or any(p and d.ndim == 0 for d, p in zip(data, per_sample)):
            raise ValueError("the per_sample data arrays must share their first dimension (the samples)")
    _probe(lg, n_params, data, "loss_grad")
    if hvp is None:
        h, method = _pick_hvp(lg, n_params, data, "loss_grad")
    else:
        h, method = as_kernel(hvp, "hvp"), "exact"
        _probe_hvp(h, n_params, data)

    def draw(rng):
        if init is None:
            return scale * rng.standard_normal(n_params)
        out = np.asarray(init(rng), dtype=np.float64)
        if out.shape != (n_params,) or not np.all(np.isfinite(out)):
            raise ValueError(f"init(rng) must return a finite array of shape ({n_params},); got shape {out.shape}")
        return out

    return Model(name, n_params, lg, data, hvp=h, hvp_method=method, init=draw, test_data=test,
                 layout="user-defined", config=dict(n_params=n_params, hvp_method=method, init_scale=scale),
                 per_sample=per_sample)


def _probe_hvp(hvp, n_params, data):
    w = np.full(n_params, 0.1)
    out = np.full(n_params, np.nan)
    try:
        hvp(w, np.ones(n_params), *data, out)
    except NumbaError as exc:
        raise TypeError(f"hvp ({getattr(hvp, '__name__', '?')}) could not be compiled by Numba for "
                        f"hvp(w, v, *data, out): {_first_line_of(exc)}") from None
    except Exception as exc:
        raise ValueError(f"hvp failed on a test call with n_params = {n_params} ({type(exc).__name__}: {exc})") from None
    if np.isnan(out).any():
        raise ValueError("hvp must write the whole product into out (shape (n_params,))")
