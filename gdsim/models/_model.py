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
as ``model.hvp_method`` and in every result's metadata, and the fallback emits :class:`HVPFallbackWarning`.

Memory safety: every array handed to a compiled kernel is checked against the model's shapes first
(:meth:`Model.with_data`, test data, every constructor), and a user's ``loss_grad``/``hvp`` is called through
a wrapper that zeroes its output buffer first, so an entry it skips is 0, never uninitialised memory.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections import namedtuple

import numba
import numpy as np
from numba.core.errors import NumbaError

from gdsim._core import validate as v
from gdsim._core.codegen import function_from_source
from gdsim._core.first_class import function_value, kernel_errors
from gdsim._core.jit import jit
from gdsim._core.memory import keep_freed_memory
from gdsim._core.result import seeded
from gdsim._core.rng import run_seeds

__all__ = ["Model", "ParamGroup", "custom", "HVPFallbackWarning"]


class HVPFallbackWarning(UserWarning):
    """:func:`custom` computes Hessian-vector products by central differences (about 1e-10 relative, not exact)
    because ``loss_grad`` is not complex-step safe. Emitted once per model built; ``model.hvp_method`` and every
    result's ``meta["hvp_method"]`` record it as ``"central_difference"``."""

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
    """A Numba dispatcher for ``fn``: jitted functions are used as given, plain Python ones compiled here.

    Dispatchers that cannot run inside gdsim's compiled drivers are recompiled from their Python source with
    gdsim's options (lazy, nopython): those with eager signatures (compilation disabled for other types, such
    as the complex step's) and ``forceobj``/object-mode ones.
    """
    if isinstance(fn, numba.core.registry.CPUDispatcher):
        opts = fn.targetoptions
        if opts.get("forceobj") or opts.get("nopython") is False or not getattr(fn, "_can_compile", True):
            return _memo(("rejit", fn), lambda: jit(fn.py_func, cache=False))
        return fn
    if isinstance(fn, numba.core.dispatcher.Dispatcher) or not callable(fn):
        raise TypeError(f"{name} must be a function (a plain Python one or a CPU @numba.njit one); got "
                        f"{type(fn).__name__}")
    if isinstance(fn, type) or not hasattr(fn, "__code__"):
        raise TypeError(f"{name} must be a plain Python function or a Numba-jitted one; got {fn!r}")
    return _memo(("kernel", fn), lambda: jit(fn, cache=False))


def _check_arity(kern, n_args: int, name: str, call: str):
    """``kern`` must take ``n_args`` positional arguments (the call ``call``)."""
    try:
        sig = inspect.signature(kern.py_func)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return
    params = list(sig.parameters.values())
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    if any(p.kind == p.KEYWORD_ONLY and p.default is p.empty for p in params):
        raise TypeError(f"{name} must not have required keyword-only arguments: gdsim calls {call}")
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in pos)
    if not required <= n_args <= len(pos):
        raise TypeError(f"{name} ({getattr(kern, '__name__', '?')}) takes {len(pos)} positional argument(s) but gdsim "
                        f"calls {call}, {n_args} arguments: give it the signature {call}")


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
        # a plain Python function (Numba compiles an overload's implementation itself)
        return function_from_source(src, "f", label=f"<gdsim tuple split n={n} skip={skip}>")

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
    gp = np.zeros(w.size)
    gm = np.zeros(w.size)
    loss_grad(w + e * vec, *data, gp)
    loss_grad(w - e * vec, *data, gm)
    for i in range(w.size):
        out[i] = (gp[i] - gm[i]) / (2.0 * e)


def _zeroing_loss_grad(loss_grad):
    """``loss_grad`` behind a wrapper that zeroes ``g`` first (an entry the user's kernel skips is 0, never the
    uninitialised memory of the drivers' buffers) and returns the loss as a float (or complex) scalar."""
    @jit(cache=False)
    def zeroed_loss_grad(w, *data_and_g):
        data, g = _split(data_and_g)
        g[:] = 0.0
        return loss_grad(w, *data, g) + 0.0

    return zeroed_loss_grad


def _zeroing_hvp(hvp):
    """A user's ``hvp`` behind a wrapper that zeroes ``out`` first."""
    @jit(cache=False)
    def zeroed_hvp(w, vec, *data_and_out):
        data, out = _split(data_and_out)
        out[:] = 0.0
        hvp(w, vec, *data, out)

    return zeroed_hvp


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
                 hvp_prepare=None, hvp_cached=None, gd_step_batch=None, groups=None, data_check=None,
                 fixed=()):
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
        # data_check(data, name) -> validated data tuple: the model's own rules (label encoding, the shapes its
        # constructor fixed) before the generic shape check of :meth:`conform`
        self._data_check = data_check
        #: indices of the data arrays that encode the architecture (other data must repeat them exactly)
        self.fixed = tuple(int(i) for i in fixed)
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
        if arr.size == 0:
            raise ValueError(f"{name} holds no parameter vector (shape {arr.shape}): give at least one run")
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
        data = self.data if data is None else self.conform(data, "data")
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

    def conform(self, data, name: str = "data") -> tuple:
        """``data`` checked against this model's kernels, ready to pass to them (see :meth:`with_data`).

        Raises
        ------
        TypeError, ValueError
            Naming ``name`` and the model, when an array has the wrong number of dimensions, a shape that does
            not match the model's (only the sample count of per-sample arrays may differ), or is not finite.
        """
        if self._data_check is not None:
            data = self._data_check(data, name)
        return _conform(self.name, self.data, self.per_sample, data, name, self.fixed)

    def with_data(self, data, test_data=None) -> "Model":
        """The same model on other data (same kernels, so nothing recompiles).

        Parameters
        ----------
        data : tuple of array_like
            Arrays of the same form as ``model.data``: same count and dimensions, and the same shape except the
            number of samples (rows) of the per-sample arrays (``model.per_sample``). Trailing arrays that are
            not per-sample (the zoo's architecture codes, ranks, ...) may be left out: the model's own are kept.
            The zoo models also accept their constructor's forms (``mlp``: (X, Y) with Y (N,) or class labels).
        test_data : tuple of array_like, optional
            Held-out data of the same form.

        Returns
        -------
        Model

        Raises
        ------
        TypeError, ValueError
            When the data do not fit the model's kernels (checked before any kernel sees them).
        """
        m = Model(self.name, self.n_params, self._loss_grad, self.conform(data, "data"), hvp=self._hvp,
                  hvp_method=self.hvp_method, init=self._init,
                  test_data=None if test_data is None else self.conform(test_data, "test_data"),
                  accuracy=self._accuracy, layout=self.layout, config=self.config,
                  per_sample=self.per_sample, hvp_prepare=self._hvp_prep, hvp_cached=self._hvp_cached,
                  gd_step_batch=self._gd_step_batch, groups=self.groups, data_check=self._data_check,
                  fixed=self.fixed)
        return m


def _conform(model_name, ref, per_sample, data, name, fixed=()):
    """``data`` in the form of the reference data ``ref``: the generic memory-safety check of every model."""
    if isinstance(data, np.ndarray) or not isinstance(data, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of arrays like model {model_name!r}'s data "
                        f"(shapes {[r.shape for r in ref]}); got {type(data).__name__}")
    data = tuple(data)
    if len(data) > len(ref) or any(per_sample[i] for i in range(len(data), len(ref))):
        raise ValueError(f"{name} must hold {len(ref)} arrays like model {model_name!r}'s data (shapes "
                         f"{[r.shape for r in ref]}, per-sample {list(per_sample)}); got {len(data)}")
    out = []
    n_rows = None
    for i, r in enumerate(ref):
        if i >= len(data):
            out.append(r)  # structural arrays the caller left out: the model's own
            continue
        d = data[i]
        label = f"{name}[{i}]"
        if r.dtype.kind in "iu" or i in fixed:  # an architecture code: fixed by the constructor
            arr = v.real_array(d, label)
            if arr.shape != r.shape or not np.array_equal(arr, r):
                raise ValueError(f"{label} encodes model {model_name!r}'s architecture and must equal its data[{i}]"
                                 f" = {r.tolist()}; leave it out to keep the model's own")
            out.append(r)
            continue
        arr = v.real_array(d, label, allow_nonfinite=True)
        if not arr.flags.writeable:
            arr = arr.copy()
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{label} contains NaN or inf: a model's data must be finite")
        if per_sample[i]:
            ok = arr.ndim == r.ndim and arr.ndim >= 1 and arr.shape[1:] == r.shape[1:] and arr.shape[0] >= 1
            want = f"(n_samples, {', '.join(map(str, r.shape[1:]))})" if r.ndim > 1 else "(n_samples,)"
            if ok and n_rows is not None and arr.shape[0] != n_rows:
                raise ValueError(f"{label} has {arr.shape[0]} samples but the earlier per-sample arrays of {name} have "
                                 f"{n_rows}: every per-sample array needs one row per sample")
            if ok:
                n_rows = arr.shape[0]
        else:
            ok = arr.shape == r.shape
            want = str(r.shape)
        if not ok:
            raise ValueError(f"{label} has shape {arr.shape} but model {model_name!r} (n_params fixed by its "
                             f"constructor) needs shape {want}, like its data[{i}] {r.shape}")
        out.append(arr)
    return tuple(out)


def _batch_shape(batch):
    if isinstance(batch, (numbers.Integral, np.integer)) and not isinstance(batch, bool):
        batch = (int(batch),)
    if not isinstance(batch, (tuple, list)):
        raise TypeError(f"batch must be a tuple of ints; got {type(batch).__name__}")
    out = tuple(v.integer(b, "batch", lo=1) for b in batch)
    return out


def _checked(kern):
    """A bounds-checked twin of the dispatcher ``kern`` (its Python source compiled with ``boundscheck=True``)."""
    try:
        return _memo(("checked", kern), lambda: jit(kern.py_func, boundscheck=True, cache=False))
    except AttributeError:  # pragma: no cover - not a dispatcher
        return kern


def _call_failed(exc, name, kern, call, n_params, data):
    """The clear error for a kernel that failed on the probe call."""
    fname = getattr(kern, "__name__", "?")
    shapes = [d.shape for d in data]
    if isinstance(exc, NumbaError):
        return TypeError(f"{name} ({fname}) could not be compiled by Numba for {call} with w float64 of shape "
                         f"({n_params},) and data shapes {shapes}: {_first_line_of(exc)}")
    if isinstance(exc, IndexError):
        return ValueError(f"{name} ({fname}) indexed outside its arrays ({exc}) with n_params = {n_params} and data "
                          f"shapes {shapes}: its output has shape ({n_params},); check n_params and the layout")
    text = str(exc).splitlines()[0] if str(exc) else ""
    hint = "check n_params and the data's shapes"
    if "broadcast" in text or "shape" in text:
        hint = (f"shapes inside {name} do not match (data shapes {shapes}, n_params = {n_params}). If a target "
                "holds integer class labels (N,) for a squared loss on k outputs, one-hot encode it first "
                "(np.eye(k)[labels]); else check n_params and the data's shapes")
    return ValueError(f"{name} ({fname}) failed on a test call {call} at w = 0.1 ({type(exc).__name__}: {text}): "
                      f"{hint}")


def _probe(loss_grad, n_params, data, name):
    """Call ``loss_grad`` once (bounds-checked) so that a wrong function fails here with a clear message."""
    w = np.full(n_params, 0.1)
    g = np.full(n_params, np.nan)
    try:
        loss = _checked(loss_grad)(w, *data, g)
    except Exception as exc:  # noqa: BLE001 - every failure of a user's kernel becomes a clear error
        raise _call_failed(exc, name, loss_grad, "loss_grad(w, *data, g)", n_params, data) from None
    if isinstance(loss, (complex, np.complexfloating)) or not isinstance(loss, (numbers.Real, np.floating)):
        raise TypeError(f"{name} must return the loss as a real scalar; it returned {type(loss).__name__}")
    if not np.isfinite(loss):
        raise ValueError(f"{name} returned the loss {float(loss)} at w = 0.1 (all entries): a model's loss must be "
                         "finite where it is probed; check the loss expression (a log of 0, a division by 0?)")
    if np.isnan(g).any():
        raise ValueError(f"{name} left {int(np.isnan(g).sum())} of the {n_params} gradient entries unwritten (or NaN) "
                         "at w = 0.1: it must write the whole gradient into g (a gradient of the wrong shape?)")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} wrote an infinite gradient at w = 0.1: a model's gradient must be finite where it "
                         "is probed")


#: complex step and central differences must agree to this (relative to the product's size) at the probe point;
#: central differences are accurate to about 1e-10 there, a complex step broken by abs() or a real cast is off by O(1)
_CS_AGREEMENT = 1e-6


def _pick_hvp(loss_grad, n_params, data, name):
    """Complex step when ``loss_grad`` compiles for complex input and agrees with central differences at a probe
    point, else central differences (with an :class:`HVPFallbackWarning` saying why)."""
    cs = _memo(("cs", loss_grad), lambda: _complex_step_hvp(loss_grad))
    w = np.full(n_params, 0.1)
    w += 0.01 * np.sin(np.arange(n_params))  # off the symmetric point w = 0.1 (1,...,1)
    vec = np.cos(np.arange(n_params) + 0.5)
    out = np.full(n_params, np.nan)
    reason = None
    try:
        cs(w, vec, *data, out)
    except Exception as exc:  # noqa: BLE001 - any failure means: no complex step
        why = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.startswith(("Failed in", "- ", "During",
                                                                                                "File ", "\x1b"))]
        reason = f"it does not compile for complex w ({(why[0] if why else type(exc).__name__)[:160]})"
    if reason is None:
        # central differences of the (already compiled, real) gradient, in Python: an independent check
        e = 6.0e-6 * max(1.0, float(np.linalg.norm(w))) / float(np.linalg.norm(vec))
        gp, gm = np.zeros(n_params), np.zeros(n_params)
        try:
            loss_grad(w + e * vec, *data, gp)
            loss_grad(w - e * vec, *data, gm)
        except Exception:  # noqa: BLE001 - no check possible; the probe already ran the kernel once
            gp[:] = gm[:] = np.nan
        cd = (gp - gm) / (2.0 * e)
        scale = max(float(np.max(np.abs(cd))), float(np.max(np.abs(np.nan_to_num(out)))), 1e-300)
        if not np.all(np.isfinite(out)):
            reason = "its complex step is not finite at the probe point"
        elif np.all(np.isfinite(cd)) and np.max(np.abs(out - cd)) > _CS_AGREEMENT * scale:
            reason = ("its complex step disagrees with central differences at the probe point (abs(), a real cast or "
                      "a comparison on a w-dependent value drops the imaginary part)")
    if reason is None:
        return cs, "complex_step"
    warnings.warn(f"{name} ({getattr(loss_grad, '__name__', '?')}) is not complex-step safe: {reason}. Its Hessian-"
                  "vector products use central differences (about 1e-10 relative, not exact; recorded as "
                  "hvp_method='central_difference'). For exact ones write it type-generically (buffers from "
                  "np.zeros_like(w); ReLU as z * (z.real > 0); max via .real comparisons) or pass hvp=.",
                  HVPFallbackWarning, stacklevel=3)
    return _memo(("cd", loss_grad), lambda: _central_hvp(loss_grad)), "central_difference"


def custom(loss_grad, n_params, data=(), hvp=None, *, init=None, init_scale=1.0, test_data=None, name="custom",
           per_sample=None):
    """A model from a Numba-compilable ``loss_grad(w, *data, g) -> loss``.

    Parameters
    ----------
    loss_grad : function
        ``loss_grad(w, *data, g)``: writes the gradient of the loss at ``w`` (P,) into ``g`` (P,) and returns
        the loss. A plain Python function is compiled with gdsim's Numba options; an ``@numba.njit`` one is
        used as is (one with eager signatures, or ``forceobj``, is recompiled from its source, lazily and in
        nopython mode). Written type-generically (see Notes), it also gives exact Hessian-vector products by
        the complex step. ``g`` is zeroed before every call, so an entry it does not write is 0.
    n_params : int
        P, the length of the parameter vector (>= 1).
    data : tuple of array_like
        Arrays passed after ``w`` (converted to float64; must be finite).
    hvp : function, optional
        ``hvp(w, v, *data, out)`` writing H(w) v into ``out`` (zeroed before every call). Default: complex step
        of ``loss_grad`` (exact to rounding), or central differences (about 1e-10 relative) when ``loss_grad``
        is not complex-step safe, with an :class:`HVPFallbackWarning`; ``model.hvp_method`` and every result's
        ``meta["hvp_method"]`` say which.
    init : callable, optional
        ``init(rng) -> (P,)`` given a ``numpy.random.Generator``; default ``init_scale`` times a standard normal.
    init_scale : float
        Scale of the default initialisation (> 0).
    test_data : tuple of array_like, optional
        Held-out data of the same form as ``data`` (the ``test_loss`` observable): same number of arrays and
        dimensions, the same shapes except the number of rows of the per-sample arrays.
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
        When Numba cannot compile ``loss_grad`` (the message names the function and Numba's reason), it takes
        the wrong number of arguments, or it returns a non-real loss.
    ValueError
        When ``loss_grad`` writes outside ``g``, leaves entries unwritten (a gradient of the wrong shape) or
        returns a non-finite loss or gradient at the probe point w = (0.1, ..., 0.1); when the data are not
        finite or ``test_data`` does not match ``data``'s shapes.

    Warns
    -----
    HVPFallbackWarning
        When the Hessian-vector products fall back to central differences.

    Notes
    -----
    Complex-step safe means: the same code runs on complex ``w`` and carries the imaginary part through.
    Allocate buffers with ``np.zeros_like(w)`` (not ``np.zeros(n)``, which is float64), and write every
    operation that is not analytic through ``.real``:

    * ReLU: ``np.where(z.real > 0, z, 0)`` or ``z * (z.real > 0)`` (not ``np.maximum(z, 0)`` on a real cast);
    * max(a, b): ``a if a.real >= b.real else b``; |z|: ``z if z.real >= 0 else -z`` (not ``abs(z)``,
      which returns the complex modulus);
    * comparisons and branches on ``z.real`` only.

    ``custom`` checks the complex step against central differences at a probe point and falls back (with the
    warning) when they disagree.

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

    A complex-step-safe ReLU network (one hidden unit per parameter pair, squared loss):

    >>> @numba.njit
    ... def relu_net(w, x, y, g):
    ...     z = w[0] * x                      # pre-activations (N,), complex under the complex step
    ...     a = np.where(z.real > 0, z, 0)    # ReLU that keeps the imaginary part
    ...     r = w[1] * a - y
    ...     g[0] = np.sum(r * w[1] * (z.real > 0) * x) / x.size
    ...     g[1] = np.sum(r * a) / x.size
    ...     return 0.5 * np.sum(r * r) / x.size
    >>> x = np.linspace(-1, 1, 8)
    >>> gm.custom(relu_net, 2, data=(x, np.maximum(x, 0))).hvp_method
    'complex_step'
    """
    n_params = v.integer(n_params, "n_params", lo=1, hi=MAX_PARAMS)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r}")
    lg = as_kernel(loss_grad, "loss_grad")
    data = as_data(data)
    _check_arity(lg, len(data) + 2, "loss_grad", "loss_grad(w, *data, g)" if data else "loss_grad(w, g)")
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
    test = None if test_data is None else _conform(name, data, per_sample, test_data, "test_data")
    _probe(lg, n_params, data, "loss_grad")
    if hvp is None:
        h, method = _pick_hvp(lg, n_params, data, "loss_grad")
    else:
        h = as_kernel(hvp, "hvp")
        _check_arity(h, len(data) + 3, "hvp", "hvp(w, v, *data, out)" if data else "hvp(w, v, out)")
        _probe_hvp(h, n_params, data)
        h, method = _memo(("zeroed_hvp", h), lambda: _zeroing_hvp(h)), "exact"

    def draw(rng):
        if init is None:
            return scale * rng.standard_normal(n_params)
        try:
            out = np.asarray(init(rng), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - a user's function: its failure names it
            raise ValueError(f"init(rng) failed ({type(exc).__name__}: {exc}); it must return a finite array of "
                             f"shape ({n_params},)") from None
        if out.shape != (n_params,) or not np.all(np.isfinite(out)):
            raise ValueError(f"init(rng) must return a finite array of shape ({n_params},); got shape {out.shape}"
                             + ("" if out.shape != (n_params,) else " with NaN or inf"))
        return out

    if init is not None:
        draw(np.random.default_rng(0))  # a wrong init fails here, naming init, not in a later m.init()
    zeroed = _memo(("zeroed", lg), lambda: _zeroing_loss_grad(lg))
    return Model(name, n_params, zeroed, data, hvp=h, hvp_method=method, init=draw, test_data=test,
                 layout="user-defined", config=dict(n_params=n_params, hvp_method=method, init_scale=scale),
                 per_sample=per_sample)


def _probe_hvp(hvp, n_params, data):
    w = np.full(n_params, 0.1)
    out = np.full(n_params, np.nan)
    try:
        _checked(hvp)(w, np.ones(n_params), *data, out)
    except Exception as exc:  # noqa: BLE001 - every failure of a user's kernel becomes a clear error
        raise _call_failed(exc, "hvp", hvp, "hvp(w, v, *data, out)", n_params, data) from None
    if np.isnan(out).any():
        raise ValueError(f"hvp left {int(np.isnan(out).sum())} of the {n_params} entries of out unwritten (or NaN) at "
                         "w = 0.1: it must write the whole product H(w) v into out (shape (n_params,))")
    if not np.all(np.isfinite(out)):
        raise ValueError("hvp wrote an infinite product at w = 0.1: it must be finite where it is probed")
