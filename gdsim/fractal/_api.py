"""Public API of the trainability maps (Sohl-Dickstein 2024): maps, windows, boundaries, box counting."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v
from gdsim._core.progress import progress_bar
from gdsim._core.rng import as_generator, as_seed_sequence, child_seed
from gdsim.fractal import _kernels as k

#: Largest width n: the generated step unrolls n accumulators (registers spill beyond ~24).
MAX_WIDTH = 64
#: Largest map (cells): 2^28 cells are 2 GiB of float64 scores.
MAX_CELLS = 2**28
#: Largest amount of work accepted in one call, counted as the spec does (6 N P flops per cell-step):
#: 1e18 flops are weeks of one CPU and hours of a GPU cluster; anything larger is a typo.
MAX_FLOPS = 1e18
#: Cells per kernel call (one progress-bar tick); a multiple of the 8 SIMD lanes.
CELLS_PER_CALL = 8 * 2048


def _frozen(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy (writeable: the kernels are compiled for writeable arrays)."""
    return np.array(a, order="C", copy=True)


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """The shared start of every cell: weights, data and (minibatch runs) the per-step rows.

    Build one with :func:`problem` (a seeded draw) or directly from arrays, e.g. the weights and data of
    a published map, and pass it as ``problem=`` to :func:`trainability_map`, :func:`offset_map`,
    :func:`window_map` or :func:`zoom_sequence`: every cell then starts from exactly these numbers.

    Attributes
    ----------
    W0 : ndarray, shape (n, n)
        Input-layer weights at t = 0 (:func:`problem` draws them i.i.d. N(0, 1)).
    W1 : ndarray, shape (n,)
        Output weights at t = 0.
    X : ndarray, shape (N, n)
        Inputs.
    Y : ndarray, shape (N,)
        Targets.
    rows : ndarray of int64, shape (S, M), optional
        Gradient rows of step t: ``rows[t % S]``. Default (None): full batch, one row ``0..N-1``. Minibatch:
        one row of ``batch_size`` indices per step (shared by every cell, as in the notebook).
    activation : str
        ``"tanh"`` (default), ``"relu"`` or ``"identity"``.

    Notes
    -----
    The arrays are copied to C-contiguous float64 (int64 for ``rows``) on construction and checked: finite,
    1 <= n <= 64, matching shapes, row indices within 0..N-1.

    Examples
    --------
    >>> import numpy as np, gdsim.fractal as gf
    >>> p = gf.problem(n=4, steps=10, seed=3)                      # the default draw of seed 3
    >>> q = gf.Problem(p.W0, p.W1, p.X, p.Y)                      # the same start, from its arrays
    >>> lr = np.logspace(-1, 3, 8)
    >>> bool(np.array_equal(gf.trainability_map(lr, lr, n=4, steps=10, seed=3),
    ...                     gf.trainability_map(lr, lr, steps=10, problem=q)))
    True
    """

    W0: np.ndarray
    W1: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    rows: np.ndarray | None = None
    activation: str = "tanh"

    def __post_init__(self):
        W0 = _frozen(v.real_array(self.W0, "W0"))
        if W0.ndim != 2 or W0.shape[0] != W0.shape[1] or not 1 <= W0.shape[0] <= MAX_WIDTH:
            raise ValueError(f"W0 must be a square (n, n) array with 1 <= n <= {MAX_WIDTH}; got shape {W0.shape}")
        n = W0.shape[0]
        W1 = _frozen(v.real_array(self.W1, "W1"))
        if W1.shape not in ((n,), (n, 1)):
            raise ValueError(f"W1 must have shape ({n},) to match W0; got {W1.shape}")
        X = _frozen(v.real_array(self.X, "X"))
        if X.ndim != 2 or X.shape[1] != n or not 1 <= X.shape[0] <= 10**6:
            raise ValueError(f"X must have shape (N, {n}) with 1 <= N <= 1e6 to match W0; got {X.shape}")
        N = X.shape[0]
        Y = _frozen(v.real_array(self.Y, "Y"))
        if Y.shape not in ((N,), (N, 1)):
            raise ValueError(f"Y must have shape ({N},) to match X; got {Y.shape}")
        if self.rows is None:
            rows = np.arange(N, dtype=np.int64)[None, :]
        else:
            if isinstance(self.rows, (str, bytes)):
                raise TypeError(f"rows must be a 2-D integer array; got {type(self.rows).__name__}")
            try:
                rows = np.asarray(self.rows)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"rows must be a 2-D integer array: {exc}") from None
            if rows.dtype.kind not in "iu" or rows.ndim != 2 or rows.size == 0:
                raise ValueError(f"rows must be a non-empty 2-D integer array (steps, batch); got dtype {rows.dtype}, "
                                 f"shape {rows.shape}")
            if rows.min() < 0 or rows.max() >= N:
                raise ValueError(f"rows must index the data, within 0..{N - 1}; got {rows.min()}..{rows.max()}")
            if rows.size > 10**9:
                raise ValueError(f"rows has {rows.size} indices; at most 1e9")
        object.__setattr__(self, "W0", W0)
        object.__setattr__(self, "W1", W1.reshape(n))
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y.reshape(N))
        object.__setattr__(self, "rows", _frozen(rows.astype(np.int64)))
        object.__setattr__(self, "activation", _activation(self.activation))

    def to_dict(self) -> dict:
        """JSON-ready lists (float64 round-trips exactly through Python's ``repr``): ``Problem(**d)`` rebuilds it."""
        return dict(W0=self.W0.tolist(), W1=self.W1.tolist(), X=self.X.tolist(), Y=self.Y.tolist(),
                    rows=self.rows.tolist(), activation=self.activation)

    @property
    def n(self) -> int:
        """Width (= input dimension)."""
        return self.W0.shape[0]

    @property
    def n_params(self) -> int:
        """P = n^2 + n."""
        return self.n * self.n + self.n

    @property
    def full_batch(self) -> bool:
        """Whether every step's gradient uses all N rows in order (no minibatch)."""
        N = self.X.shape[0]
        return self.rows.shape == (1, N) and bool(np.all(self.rows[0] == np.arange(N)))

    @property
    def flops_per_cell_step(self) -> float:
        """6 N P, the spec's count of one forward and backward pass."""
        return 6.0 * self.X.shape[0] * self.n_params


def _width(n):
    return v.integer(n, "n", lo=1, hi=MAX_WIDTH)


def _activation(activation):
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a str, one of {k.ACTIVATIONS}; got {type(activation).__name__}")
    if activation not in k.ACTIVATIONS:
        raise ValueError(f"activation must be one of {k.ACTIVATIONS}; got {activation!r}")
    return activation


def _optional_int(x, name, lo, hi):
    return None if x is None else v.integer(x, name, lo=lo, hi=hi)


@renamed_keywords(n_data="n_samples")
def problem(n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *, n_samples: int | None = None,
            batch_size: int | None = None) -> Problem:
    """Draw the shared start of a trainability map: weights, data and minibatch rows.

    Parameters
    ----------
    n : int
        Width n = input dimension, 1 <= n <= 64 (the paper uses 16, the notebook's default is 8).
    activation : {"tanh", "relu", "identity"}
        Hidden activation: tanh(sqrt(2) z), sqrt(2) relu(z) or z.
    steps : int
        Number of GD steps (only used to draw the minibatch rows).
    seed : int, SeedSequence, Generator or None
        Seed of the draw. The same int or SeedSequence gives the same problem.
    n_samples : int, optional
        Number of training points N. Default as in the notebook: P = n^2 + n for tanh and relu, n for
        identity. ``n_samples=1`` is the paper's "single datapoint" condition.
    batch_size : int, optional
        Minibatch size (indices drawn with replacement at every step, shared by all cells); ``None``
        (default) is full-batch GD.

    Returns
    -------
    Problem

    Notes
    -----
    Draw order from ``numpy.random.default_rng(seed)``: W0 (n, n), W1 (n,), X (N, n), Y (N,), then the
    minibatch rows (steps, batch_size). The notebook draws the same distributions with JAX's generator,
    so its maps and these differ in detail (see the README's Fidelity notes).
    """
    n = _width(n)
    activation = _activation(activation)
    steps = v.integer(steps, "steps", lo=1, hi=10**8)
    n_samples = _optional_int(n_samples, "n_samples", 1, 10**6)
    batch_size = _optional_int(batch_size, "batch_size", 1, 10**6)
    if n_samples is None:
        n_samples = n if activation == "identity" else n * n + n
    if batch_size is not None and steps * batch_size > 10**9:
        raise ValueError(f"steps x batch_size = {steps * batch_size} minibatch indices exceed 1e9; use fewer steps")
    rng = as_generator(seed)
    W0 = rng.standard_normal((n, n))
    W1 = rng.standard_normal(n)
    X = rng.standard_normal((n_samples, n))
    Y = rng.standard_normal(n_samples)
    if batch_size is None:
        rows = np.arange(n_samples, dtype=np.int64)[None, :]
    else:
        rows = rng.integers(0, n_samples, size=(steps, batch_size), dtype=np.int64)
    return Problem(W0, W1, X, Y, rows, activation)


def model(problem: Problem):
    """The fractal net of a :class:`Problem` as a :class:`gdsim.models.Model`, to run on the engine.

    Parameters
    ----------
    problem : Problem
        The shared start (:func:`problem`): weights, data (full batch) and activation.

    Returns
    -------
    gdsim.models.Model
        P = n^2 + n parameters, ``w[i * n + j] = W0[i, j]`` then ``w[n^2 + j] = W1[j]``; parameter groups
        ``"W0"`` and ``"W1"`` (so ``lr={"W0": lr0, "W1": lr1}`` gives per-layer learning rates); data
        ``(X, Y)``; ``m.init()`` returns the problem's start for every seed; exact Hessian-vector products
        (complex step), so every observable of :func:`gdsim.dynamics.run` applies.

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184: f(x) = phi(x W0 / sqrt(n)) W1 / n, loss (1/N) sum (f - y)^2;
    the loss and gradient follow the fused map kernel operation by operation (its Padé tanh and summation
    orders) without its fused multiply-adds, so they agree with it to rounding.

    Examples
    --------
    >>> import numpy as np, gdsim.fractal as gf, gdsim.dynamics as gdyn
    >>> m = gf.model(gf.problem(n=4, seed=0))
    >>> res = gdyn.run(m, gdyn.HeavyBall(beta=0.9), m.init(), lr={"W0": 0.5, "W1": np.array([1.0, 2.0])},
    ...                steps=10)
    >>> res.loss.shape
    (11, 2)
    """
    from gdsim.fractal._model import net_model

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gdsim.fractal.Problem (gdsim.fractal.problem(...)); got {problem!r}")
    if not problem.full_batch:
        raise ValueError("model() takes a full-batch problem (its minibatch rows are the fused kernel's): draw it "
                         "with batch_size=None and use gdsim.dynamics.SGD(batch_size) for minibatches")
    return net_model(problem)


def _axis(x, name, *, positive=True):
    """A non-empty 1-D finite float64 axis (> 0 everywhere unless ``positive=False``)."""
    arr = v.positive_array(x, name) if positive else v.real_array(x, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}")
    return arr


def _check_size(n_cells, prob: Problem, steps):
    if n_cells > MAX_CELLS:
        raise ValueError(f"the map has {n_cells} cells; at most {MAX_CELLS} (2 GiB of scores) per call: tile it "
                         "with gdsim.fractal.window_map(..., store=...)")
    flops = float(n_cells) * steps * prob.flops_per_cell_step
    if flops > MAX_FLOPS:
        raise ValueError(f"cells x steps x 6 N P = {flops:.2e} flops exceeds {MAX_FLOPS:.0e}; reduce the map, "
                         "the steps or n")


#: Cells per CUDA launch (one thread each).
GPU_CELLS_PER_CALL = 2**20


def _score_cells_gpu(prob: Problem, lr0, lr1, off, steps, *, offset_mode, progress, desc):
    """Scores of flat cell lists on the GPU (one thread per cell), in launches of GPU_CELLS_PER_CALL."""
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.fractal import _cuda

    cuda = cuda_module()
    kern = _cuda.map_kernel(prob.n, prob.rows.shape[1], prob.activation, bool(offset_mode), prob.full_batch)
    dW0, dW1, dX, dY, drows = (cuda.to_device(np.ascontiguousarray(a)) for a in
                               (prob.W0, prob.W1, prob.X, prob.Y, prob.rows))
    C = lr0.size
    out = np.empty(C)
    # the simulator runs the kernel on NumPy scalars (divergence is a result, not a warning)
    with progress_bar(C, enabled=progress, desc=desc + " (CUDA)", unit="cell") as bar, np.errstate(all="ignore"):
        for c0 in range(0, C, GPU_CELLS_PER_CALL):
            c1 = min(C, c0 + GPU_CELLS_PER_CALL)
            blocks, tpb = launch_config(c1 - c0)
            dout = cuda.device_array(c1 - c0)
            kern[blocks, tpb](dW0, dW1, dX, dY, drows, cuda.to_device(lr0[c0:c1]), cuda.to_device(lr1[c0:c1]),
                              cuda.to_device(off[c0:c1]), steps, dout)
            out[c0:c1] = dout.copy_to_host()
            bar.update(c1 - c0)
    return out


def _score_cells(prob: Problem, lr0, lr1, off, steps, *, offset_mode, parallel, progress, desc, gpu=False,
                 momentum=k.PLAIN, beta=0.0):
    """Scores of flat cell lists on the CPU, in calls of CELLS_PER_CALL cells (or on the GPU); ``momentum``
    (``k.HEAVY_BALL`` or ``k.NESTEROV`` with the float ``beta``; ``k.ADAM`` or ``k.RMSPROP`` with the
    hyper-parameter array ``beta``) picks the fused optimiser step."""
    if gpu:
        return _score_cells_gpu(prob, lr0, lr1, off, steps, offset_mode=offset_mode, progress=progress, desc=desc)
    C = lr0.size
    out = np.empty(C)
    kern = k.block_kernel(prob.n, prob.activation, bool(offset_mode), bool(parallel), momentum)
    args = (beta,) if momentum else ()
    with progress_bar(C, enabled=progress, desc=desc, unit="cell") as bar:
        for c0 in range(0, C, CELLS_PER_CALL):
            c1 = min(C, c0 + CELLS_PER_CALL)
            m = c1 - c0
            pad = -(-m // k.LANES) * k.LANES
            a = np.full(pad, lr0[c1 - 1])
            b = np.full(pad, lr1[c1 - 1])
            o = np.full(pad, off[c1 - 1])
            a[:m], b[:m], o[:m] = lr0[c0:c1], lr1[c0:c1], off[c0:c1]
            res = np.empty(pad)
            kern(prob.W0, prob.W1, prob.X, prob.Y, prob.rows, a, b, o, steps, res, *args)
            out[c0:c1] = res[:m]
            bar.update(m)
    return out


#: Defaults of the map functions' start arguments (a given ``problem`` must not contradict a changed one).
_START_DEFAULTS = dict(n=8, activation="tanh", seed=0)


def _given_problem(given, n, activation, seed, n_samples, batch_size) -> Problem:
    """A user's :class:`Problem`, checked against the start arguments it replaces."""
    if not isinstance(given, Problem):
        raise TypeError("problem must be a gdsim.fractal.Problem (gdsim.fractal.problem(...) or "
                        f"gdsim.fractal.Problem(W0, W1, X, Y, rows, activation)); got {type(given).__name__}")
    if n_samples is not None or batch_size is not None:
        raise TypeError("n_samples and batch_size cannot be combined with problem: the problem's X and rows fix them")
    if _width(n) not in (_START_DEFAULTS["n"], given.n):
        raise ValueError(f"n = {n} contradicts the problem's width {given.n}: leave n at its default or pass "
                         f"n={given.n}")
    if _activation(activation) not in (_START_DEFAULTS["activation"], given.activation):
        raise ValueError(f"activation = {activation!r} contradicts the problem's {given.activation!r}")
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed == _START_DEFAULTS["seed"]):
        raise ValueError(f"seed must be left at 0 with problem= (the problem fixes weights and data); got {seed!r}")
    return given


def _map_args(n, activation, steps, start, n_samples, batch_size, parallel, progress):
    """(problem, steps) of a map call; ``start`` is ``(seed, problem)``."""
    seed, given = start
    steps = v.integer(steps, "steps", lo=1, hi=10**8)
    if given is None:
        prob = problem(n, activation, steps, seed, n_samples=n_samples, batch_size=batch_size)
    else:
        prob = _given_problem(given, n, activation, seed, n_samples, batch_size)
    if not isinstance(parallel, (bool, np.bool_)):
        raise TypeError(f"parallel must be a bool; got {type(parallel).__name__}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool; got {type(progress).__name__}")
    return prob, steps


@renamed_keywords(n_data="n_samples")
def trainability_map(lr0, lr1, n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *,
                     n_samples: int | None = None, batch_size: int | None = None, parallel: bool = True,
                     progress: bool = False, problem: Problem | None = None, optimizer=None) -> np.ndarray:
    """Convergence score of GD (or of an optimiser value) for every pair of per-layer learning rates (lr0[i], lr1[j]).

    Parameters
    ----------
    lr0 : array_like, shape (a,)
        Learning rates of the input layer W0 (> 0).
    lr1 : array_like, shape (b,)
        Learning rates of the output layer W1 (> 0).
    n : int
        Width = input dimension (1..64). The paper uses 16, the notebook's default is 8.
    activation : {"tanh", "relu", "identity"}
        Hidden activation (tanh(sqrt(2) z), sqrt(2) relu(z), z).
    steps : int
        GD steps per cell (the notebook's default 100; the paper's images 500-1000).
    seed : int, SeedSequence, Generator or None
        Seed of the shared start (weights, data, minibatch rows); every cell starts from it.
    n_samples : int, optional
        Training points N (default P = n^2 + n, or n for identity; 1 = "single datapoint").
    batch_size : int, optional
        Minibatch size (with replacement, shared by all cells); ``None`` = full batch.
    parallel : bool
        Run blocks of cells on all Numba threads (results do not depend on the thread count).
    progress : bool
        Show a progress bar.
    problem : Problem, optional
        The shared start (weights, data, minibatch rows) given explicitly, e.g. to recompute a published
        map exactly. It replaces ``seed``, ``n_samples`` and ``batch_size`` (leave those at their defaults);
        ``n`` and ``activation`` may be left at their defaults or must agree with it. Passing
        ``problem(n, activation, steps, seed, ...)`` gives the same bits as the call with those arguments.
    optimizer : gdsim.dynamics optimiser value, optional
        ``None`` (default) or ``gdsim.dynamics.GD()``: plain GD on the fused SIMD kernel (the paper's map,
        unchanged bits; the engine's fast path for GD). ``HeavyBall(beta)``, ``Nesterov(beta)``,
        ``Adam(beta1, beta2, eps)`` and ``RMSProp(beta, eps)`` with scalar hyper-parameters run on the fused
        kernel's optimiser variants (at n = 8: 1.0x GD's time for momentum, 1.5x for Adam and RMSProp). Any
        other optimiser value (``SGD(batch_size)``, arrays of hyper-parameters) runs every cell on the
        engine: the net as :func:`model` with parameter groups ``"W0"`` and ``"W1"``,
        ``gdsim.dynamics.run(m, optimizer, w0, lr={"W0": lr0, "W1": lr1}, steps=steps - 1, record_every=1,
        observe=("loss",))`` in blocks of ``ENGINE_VALUES_PER_CALL // steps`` cells, the same score from the
        recorded losses v_0 .. v_{steps-1} (about 20x slower per cell than the fused kernel at n = 8). Full
        batch only (``batch_size`` must be None); ``SGD(batch_size)`` draws its own minibatches, cell c
        (row-major in (lr0, lr1)) from the stream ``child_seed(seed, c)``.

    Returns
    -------
    score : ndarray, shape (a, b), float64
        The author's convergence measure: with v_t the loss before step t, made finite (non-finite ->
        1e6), divided by v_0 and clipped at 1e6, ``-sum_t v_t`` if the mean of the last 20 v_t is < 1
        (converged) and ``+sum_t 1 / v_t`` otherwise. ``score < 0`` converged, ``score > 0`` diverged.

    Notes
    -----
    J. Sohl-Dickstein, "The boundary of neural network trainability is fractal", arXiv:2402.06184
    (2024), and the author's notebook ``Sohl-Dickstein/fractal``. One hidden layer, mean-field
    scaling f(x) = phi(x W0 / sqrt(n)) W1 / n, loss mean (f - y)^2, W0 <- W0 - lr0 dL/dW0 and
    W1 <- W1 - lr1 dL/dW1. The tracked loss is the full-batch loss even for minibatch runs.

    Under an optimiser value the per-layer learning rates are the optimiser's lr per parameter group:
    heavy ball b <- beta b + g, W <- W - lr_l b; Adam W <- W - lr_l m_hat / (sqrt(v_hat) + eps) (moments per
    parameter, bias-corrected; :class:`gdsim.dynamics.Adam`). The fused momentum step forms the layer's
    gradient G, then b <- fma(beta, b, G) and w <- w - lr b (heavy ball) or w <- w - lr fma(beta, b, G)
    (Nesterov), b = 0 at the start: the engine's formulas, rounded with FMAs; Adam and RMSProp update each
    parameter with the engine's formulas operation by operation, from the fused gradient. On the engine
    (``gdsim.fractal.model`` with ``gdsim.dynamics.run``) every optimiser agrees with the fused
    kernel to rounding, not to the bit (the fused kernel rounds its multiply-adds once, FMA; the engine's
    gradient and update round twice): converged and diverged cells agree to about 1e-12 relative except at
    the boundary, where the dynamics are chaotic and a rounding difference can decide the phase of a cell
    (tested). On the engine, runs that leave |w| <= 1e150 or whose loss stops being finite are NaN from then
    on (the sentinel 1e6 enters the score, as in the fused kernel). For ``lr0 x lr1`` labelled, see
    :func:`trainability_dataset`.

    Examples
    --------
    >>> import numpy as np, gdsim.fractal as gf
    >>> lr = np.logspace(-3, 6, 64)
    >>> score = gf.trainability_map(lr, lr, n=8, steps=100, seed=0)   # (64, 64)
    >>> converged = score < 0
    """
    return _trainability_map(lr0, lr1, n, activation, steps, (seed, problem), n_samples, batch_size, parallel, progress,
                             False, optimizer)


@renamed_keywords(n_data="n_samples")
def trainability_dataset(lr0, lr1, n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *,
                         n_samples: int | None = None, batch_size: int | None = None, parallel: bool = True,
                         progress: bool = False, problem: Problem | None = None, optimizer=None):
    """:func:`trainability_map` as a labelled :class:`gdsim.Result`: dims ``("lr0", "lr1")`` with coordinates.

    Parameters
    ----------
    lr0, lr1, n, activation, steps, seed, n_samples, batch_size, parallel, progress, problem, optimizer
        As in :func:`trainability_map` (the same scores, bit for bit).

    Returns
    -------
    Result
        ``score`` (lr0, lr1), ``converged`` (``score < 0``), coordinates ``lr0`` and ``lr1``;
        ``res.to_xarray().score.sel(lr0=..., lr1=..., method="nearest")``. ``meta`` records the start (n,
        activation, seed) and the optimiser.

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184. :func:`trainability_map` keeps returning the bare ndarray.

    Examples
    --------
    >>> import numpy as np, gdsim.fractal as gf
    >>> lr = np.logspace(-1, 2, 8)
    >>> ds = gf.trainability_dataset(lr, lr, n=4, steps=20).to_xarray()
    >>> ds.score.dims
    ('lr0', 'lr1')
    """
    from gdsim._core.result import Result

    score = trainability_map(lr0, lr1, n, activation, steps, seed, n_samples=n_samples, batch_size=batch_size,
                             parallel=parallel, progress=progress, problem=problem, optimizer=optimizer)
    a0, a1 = _axis(lr0, "lr0"), _axis(lr1, "lr1")
    arrays = dict(score=score, converged=score < 0, lr0=a0, lr1=a1)
    dims = dict(score=("lr0", "lr1"), converged=("lr0", "lr1"), lr0=("lr0",), lr1=("lr1",))
    config = dict(n=int(n) if problem is None else problem.n,
                  activation=activation if problem is None else problem.activation, steps=int(steps),
                  seed=seed if isinstance(seed, int) else repr(seed), n_samples=n_samples, batch_size=batch_size,
                  explicit_problem=problem is not None, optimizer=None if optimizer is None else repr(optimizer))
    meta = dict(config=config, converged_fraction=converged_fraction(score))
    return Result(arrays, meta, dims=dims, coords=("lr0", "lr1"))


#: Recorded loss values per engine call of a map under an optimiser value (cells per call x steps; 32 MB):
#: bounds the records' memory; fewer, larger calls amortise the engine's per-step parallel launches.
ENGINE_VALUES_PER_CALL = 4_000_000


def _check_optimizer(optimizer, batch_size, prob=None):
    """``optimizer``: None or an optimiser value of :mod:`gdsim.dynamics` (full batch problems only)."""
    if optimizer is None:
        return None
    from gdsim.dynamics import Optimiser

    if not isinstance(optimizer, Optimiser):
        raise TypeError("optimizer must be None (the fused GD kernel) or an optimiser value of gdsim.dynamics, e.g. "
                        f"gdsim.dynamics.HeavyBall(beta=0.9) or Adam(); got {optimizer!r}")
    if batch_size is not None or (prob is not None and not prob.full_batch):
        raise ValueError("optimizer runs full-batch maps only (the fused kernel's minibatch rows are shared by every "
                         "cell); leave batch_size=None, or use optimizer=gdsim.dynamics.SGD(batch_size=...) for "
                         "per-cell minibatches")
    return optimizer


def _fused_variant(optimizer):
    """``(variant, hyper-parameters)`` of the fused kernel for ``optimizer`` (HeavyBall, Nesterov, Adam or
    RMSProp with scalar hyper-parameters), or None (the engine runs it: SGD, arrays of hyper-parameters)."""
    from gdsim.dynamics import Adam, HeavyBall, Nesterov, RMSProp

    kind = type(optimizer)
    if kind not in (HeavyBall, Nesterov, Adam, RMSProp):
        return None
    if any(np.ndim(x) != 0 for x in optimizer.hyper().values()):
        return None
    if kind in (HeavyBall, Nesterov):
        return (k.HEAVY_BALL if kind is HeavyBall else k.NESTEROV), float(optimizer.beta)
    if kind is Adam:
        return k.ADAM, np.array([optimizer.beta1, optimizer.beta2, optimizer.eps], dtype=np.float64)
    return k.RMSPROP, np.array([optimizer.beta, optimizer.beta, optimizer.eps], dtype=np.float64)


def _scores_from_losses(loss, steps):
    """The fused kernel's convergence score (:func:`gdsim.fractal._kernels._score_update_py` and
    ``_score_final_py``) of loss traces ``loss`` (steps, C): the same operations in the same order."""
    v = np.where(np.isfinite(loss), loss, k.MAX_VAL)
    v0 = v[0].copy()
    s1 = np.zeros(v.shape[1])
    s2 = np.zeros(v.shape[1])
    s3 = np.zeros(v.shape[1])
    with np.errstate(all="ignore"):
        for t in range(steps):
            x = v[t] / v0
            x = np.where(x > k.MAX_VAL, k.MAX_VAL, x)
            s1 += x
            s2 += 1.0 / x
            if t >= steps - k.TAIL:
                s3 += x
        tail = min(k.TAIL, steps)
        return np.where(s3 / tail < 1.0, -s1, s2)


def _score_cells_engine(prob: Problem, lr0, lr1, steps, optimizer, *, parallel, progress, desc, seed=0):
    """Scores of flat cell lists on the engine (:func:`gdsim.dynamics.run` with per-group lr), in blocks.

    Cell c's stream (SGD's minibatches) is ``child_seed(seed, c)``: keyed by the cell's index, not its block."""
    import gdsim.dynamics as gdyn
    from gdsim.fractal._model import net_model

    m = net_model(prob)
    w0 = m.init()
    C = lr0.size
    out = np.empty(C)
    # records 0 .. steps-1 are the losses before steps 0 .. steps-1 (the fused kernel's v_t)
    n_steps = max(1, steps - 1)
    stochastic = isinstance(optimizer, gdyn.SGD)
    root = as_seed_sequence(seed) if stochastic else None
    with progress_bar(C, enabled=progress, desc=f"{desc} ({optimizer.name})", unit="cell") as bar:
        block = max(1, ENGINE_VALUES_PER_CALL // steps)
        for c0 in range(0, C, block):
            c1 = min(C, c0 + block)
            seeds = [child_seed(root, c) for c in range(c0, c1)] if stochastic else 0
            res = gdyn.run(m, optimizer, w0, lr={"W0": lr0[c0:c1], "W1": lr1[c0:c1]}, steps=n_steps, record_every=1,
                           observe=("loss",), parallel=parallel, blowup=1e150, seed=seeds)
            out[c0:c1] = _scores_from_losses(np.asarray(res.loss)[:steps], steps)
            bar.update(c1 - c0)
    return out


def _score_pairs(prob: Problem, c0, c1, steps, *, offset_mode, parallel, progress, gpu=False, optimizer=None,
                 seed=0):
    """Scores of the cells (c0[k], c1[k]): (lr0, lr1), or (offset, lr) with one lr for both layers."""
    fused = _fused_variant(optimizer)
    if fused is not None:
        return _score_cells(prob, c0, c1, np.zeros_like(c0), steps, offset_mode=False, parallel=parallel,
                            progress=progress, desc=f"trainability map ({optimizer.name})", momentum=fused[0],
                            beta=fused[1])
    if optimizer is not None:
        return _score_cells_engine(prob, c0, c1, steps, optimizer, parallel=parallel, progress=progress,
                                   desc="trainability map", seed=seed)
    lr0, off = (c1, c0) if offset_mode else (c0, np.zeros_like(c0))
    return _score_cells(prob, lr0, c1, off, steps, offset_mode=offset_mode, parallel=parallel, progress=progress,
                        desc="offset map" if offset_mode else "trainability map", gpu=gpu)


def _grid_map(axis0, axis1, offset_mode, n, activation, steps, start, n_samples, batch_size, parallel, progress, gpu,
              optimizer=None):
    """The (a, b) map over two validated axes: (lr0, lr1), or (offset, lr) when ``offset_mode``."""
    prob, steps = _map_args(n, activation, steps, start, n_samples, batch_size, parallel, progress)
    _check_optimizer(optimizer, batch_size, prob)
    _check_size(axis0.size * axis1.size, prob, steps)
    A, B = np.meshgrid(axis0, axis1, indexing="ij")
    s = _score_pairs(prob, A.ravel(), B.ravel(), steps, offset_mode=offset_mode, parallel=parallel, progress=progress,
                     gpu=gpu, optimizer=optimizer, seed=start[0])
    return s.reshape(A.shape)


def _trainability_map(lr0, lr1, n, activation, steps, start, n_samples, batch_size, parallel, progress, gpu,
                      optimizer=None):
    a0, a1 = _axis(lr0, "lr0"), _axis(lr1, "lr1")
    _check_optimizer(optimizer, batch_size)
    from gdsim.dynamics import GD

    if isinstance(optimizer, GD):
        optimizer = None  # the engine's fast path: plain GD is the fused kernel's GD (same bits as None)
    if gpu and optimizer is not None:
        raise NotImplementedError(f"gpu_trainability_map runs plain GD only (the fused CUDA kernel); got "
                                  f"optimizer={optimizer!r}: use trainability_map(..., optimizer=...) on the CPU")
    return _grid_map(a0, a1, False, n, activation, steps, start, n_samples, batch_size, parallel, progress, gpu,
                     optimizer)


@renamed_keywords(n_data="n_samples")
def gpu_trainability_map(lr0, lr1, n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *,
                         n_samples: int | None = None, batch_size: int | None = None, parallel: bool = True,
                         progress: bool = False, problem: Problem | None = None, optimizer=None) -> np.ndarray:
    """CUDA twin of :func:`trainability_map`: same signature, same scores to rounding.

    One GPU thread per cell; ``parallel`` is accepted for the identical signature and ignored.
    ``optimizer``: None or ``gdsim.dynamics.GD()`` (both the fused GD kernel); any other optimiser value
    raises NotImplementedError (run it with :func:`trainability_map` on the CPU engine).
    Cells whose trajectories are chaotic (at the boundary) can change phase under any change of
    rounding, so a few boundary cells may differ in sign from the CPU map.

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184; see :func:`trainability_map`.
    """
    return _trainability_map(lr0, lr1, n, activation, steps, (seed, problem), n_samples, batch_size, parallel, progress,
                             True, optimizer)


@renamed_keywords(n_data="n_samples")
def offset_map(offset, lr, n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *,
               n_samples: int | None = None, batch_size: int | None = None, parallel: bool = True,
               progress: bool = False, problem: Problem | None = None) -> np.ndarray:
    """Convergence score over (offset[i], lr[j]): the paper's "parameter initialisation vs LR" map.

    The offset is added to every entry of W0 before every step (the notebook's ``paraminit_vs_lr``
    phase space does exactly this inside its step function), and both layers use the learning rate
    ``lr[j]``. Other parameters and the score are those of :func:`trainability_map`.

    Parameters
    ----------
    offset : array_like, shape (a,)
        Offsets added to W0 (finite; the paper's axis is log-spaced and positive).
    lr : array_like, shape (b,)
        Learning rates of both layers (> 0).
    n, activation, steps, seed, n_samples, batch_size, parallel, progress, problem
        As in :func:`trainability_map`.

    Returns
    -------
    score : ndarray, shape (a, b), float64

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184. Whether the offset should act once (at initialisation)
    or at every step is a choice; the notebook's code applies it at every step and so does gdsim (see
    the README's Fidelity notes).
    """
    return _offset_map(offset, lr, n, activation, steps, (seed, problem), n_samples, batch_size, parallel, progress,
                       False)


def _offset_map(offset, lr, n, activation, steps, start, n_samples, batch_size, parallel, progress, gpu):
    return _grid_map(_axis(offset, "offset", positive=False), _axis(lr, "lr"), True, n, activation, steps, start,
                     n_samples, batch_size, parallel, progress, gpu)


@renamed_keywords(n_data="n_samples")
def gpu_offset_map(offset, lr, n: int = 8, activation: str = "tanh", steps: int = 100, seed=0, *,
                   n_samples: int | None = None, batch_size: int | None = None, parallel: bool = True,
                   progress: bool = False, problem: Problem | None = None) -> np.ndarray:
    """CUDA twin of :func:`offset_map`: same signature, same scores to rounding (``parallel`` ignored).

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator is usable.

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184; see :func:`offset_map`.
    """
    return _offset_map(offset, lr, n, activation, steps, (seed, problem), n_samples, batch_size, parallel, progress,
                       True)


# ------------------------------------------------------------------------------------------ windows


def _window_log_axes(center, half_width, resolution):
    """Validated log10 axes ``linspace(c - hw, c + hw, resolution)`` of a square window."""
    c = v.real_array(center, "center")
    if c.shape != (2,):
        raise ValueError(f"center must be two numbers (log10 of each axis); got shape {c.shape}")
    if np.any(np.abs(c) > 300):
        raise ValueError(f"center must be within [-300, 300] decades; got {c.tolist()}")
    hw = v.real_scalar(half_width, "half_width", lo=0, lo_open=True, hi=300)
    res = v.integer(resolution, "resolution", lo=2, hi=65536)
    if hw / res < 4e-16 * max(1.0, float(np.max(np.abs(c)))):
        raise ValueError(f"half_width = {hw} decades is too small for {res} distinct float64 cells around {c.tolist()}")
    return tuple(np.linspace(ci - hw, ci + hw, res) for ci in c)


def window_axes(center, half_width, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-spaced axes of a square window: ``10 ** linspace(c - hw, c + hw, resolution)`` per axis.

    Parameters
    ----------
    center : (float, float)
        log10 of the window's centre on each axis.
    half_width : float
        Half-width in decades (> 0, at least 1e-13 of |centre| so the cells stay distinct in float64).
    resolution : int
        Cells per side, 2..65536.

    Returns
    -------
    (ndarray, ndarray)
        The two axes, each of shape (resolution,).
    """
    return tuple(10.0 ** ax for ax in _window_log_axes(center, half_width, resolution))


def _score_array(score):
    s = v.real_array(score, "score", allow_nonfinite=True)
    if np.isnan(s).any():
        raise ValueError("score must not contain NaN (scores are finite or +-inf)")
    return s


def boundary(score) -> np.ndarray:
    """Cells where training changes phase: the sign changes inside a 2x2 neighbourhood.

    Parameters
    ----------
    score : array_like, shape (a, b)
        A map from :func:`trainability_map` (+-inf allowed: a run whose loss hits exactly 0 and then
        fails to converge scores +inf, as in the notebook; NaN is rejected).

    Returns
    -------
    ndarray of bool, shape (a - 1, b - 1)
        The notebook's ``extract_edges``: ``max * min < 0`` over each 2x2 block.
    """
    s = _score_array(score)
    if s.ndim != 2 or min(s.shape) < 2:
        raise ValueError(f"score must be a 2-D map with both sides >= 2; got shape {s.shape}")
    blocks = np.stack((s[1:, 1:], s[:-1, 1:], s[1:, :-1], s[:-1, :-1]), axis=-1)
    return np.sign(blocks.max(axis=-1) * blocks.min(axis=-1)) < 0


def _mask(mask, name="mask"):
    if isinstance(mask, (str, bytes)):
        raise TypeError(f"{name} must be a 2-D boolean array; got {type(mask).__name__}")
    try:
        arr = np.asarray(mask)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a 2-D boolean array: {exc}") from None
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array (e.g. gdsim.fractal.boundary(score)); got dtype {arr.dtype}")
    if arr.ndim != 2 or min(arr.shape) < 4:
        raise ValueError(f"{name} must be 2-D with both sides >= 4; got shape {arr.shape}")
    return arr


def default_box_sizes(shape) -> np.ndarray:
    """Box sizes of porespy's ``boxcount`` (the author's estimator, ``method="porespy"``).

    ``numpy.unique(numpy.logspace(1, log10(min(shape)), 10).astype(int))``: 10 log-spaced sizes from 10
    cells to the smaller side, truncated to integers, duplicates removed. porespy starts at 10 cells for
    every image (its docstring says 1, its code says 10): on a 31 x 31 mask the sizes are 10..31. Below
    10 cells the sizes run from the side up to 10 (a box larger than the image covers all of it).

    Parameters
    ----------
    shape : (int, int)
        The mask's shape (both sides >= 1).

    Returns
    -------
    ndarray of int64
    """
    try:
        side = int(min(int(s) for s in shape))
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a pair of positive ints; got {shape!r}") from None
    if side < 1:
        raise ValueError(f"shape must have positive sides; got {shape!r}")
    return np.unique(np.logspace(1, np.log10(side), 10).astype(np.int64))


#: The calibrated estimator's scaling range: box sizes from CAL_MIN_BOX cells to 1/CAL_MAX_FRACTION of the
#: image's smaller side (see :func:`box_counting_dimension`, Notes).
CAL_MIN_BOX = 2
CAL_MAX_FRACTION = 16
#: Fewest box sizes the calibrated estimator fits on an uncropped image before it crops (see Notes).
CAL_MIN_SIZES = 3


def _common_divisors(a: int, b: int, lo: float, hi: float) -> list[int]:
    g = math.gcd(a, b)
    return [d for d in range(max(1, math.ceil(lo)), int(hi) + 1) if g % d == 0]


def _calibrated_plan(shape) -> tuple[tuple[slice, slice], np.ndarray]:
    """(centred crop, box sizes) of the calibrated estimator for a mask of ``shape``.

    Sizes: the common divisors of both sides within [2, side / 16] (every box whole, no partial boxes at
    the edges). When fewer than 3 sizes divide the image (a prime side, say), the image is cropped
    centrally to multiples of the largest power of two P <= side / 16, whose sizes 2, 4, ..., P then divide
    it. Images under 64 cells use [1, side / 2] instead: too small for a scaling range, a rough estimate.
    """
    a, b = (int(s) for s in shape)
    side = min(a, b)
    lo, hi = (CAL_MIN_BOX, side / CAL_MAX_FRACTION) if side >= 4 * CAL_MAX_FRACTION else (1, side / 2)
    full = (slice(0, a), slice(0, b))
    sizes = _common_divisors(a, b, lo, hi)
    if len(sizes) >= CAL_MIN_SIZES:
        return full, np.array(sizes, dtype=np.int64)
    p = 2 ** int(math.floor(math.log2(hi)))
    ca, cb = a // p * p, b // p * p
    crop = (slice((a - ca) // 2, (a - ca) // 2 + ca), slice((b - cb) // 2, (b - cb) // 2 + cb))
    hi_c = min(ca, cb) / (CAL_MAX_FRACTION if side >= 4 * CAL_MAX_FRACTION else 2)
    cropped = _common_divisors(ca, cb, lo, max(p, hi_c))
    if len(cropped) > len(sizes):
        return crop, np.array(cropped, dtype=np.int64)
    return full, np.array(sizes, dtype=np.int64)


def _checked_sizes(sizes, shape):
    try:
        sizes = np.asarray(sizes)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"sizes must be a 1-D integer array: {exc}") from None
    if sizes.ndim != 1 or sizes.size < 2 or sizes.dtype.kind not in "iu":
        raise ValueError("sizes must be a 1-D integer array of at least 2 box sizes")
    if np.any(sizes < 1) or np.any(sizes > 2**31) or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"sizes must increase strictly, each >= 1 (a box larger than the image covers all of it); "
                         f"got {sizes.tolist()}")
    return sizes.astype(np.int64)


def _count(m, sizes, count):
    counts = np.empty(sizes.size, dtype=np.int64)
    a, b = m.shape
    for q, d in enumerate(sizes):
        pa, pb = -(-a // d) * d, -(-b // d) * d
        anyp = np.zeros((pa, pb), bool)
        anyp[:a, :b] = m
        has = anyp.reshape(pa // d, d, pb // d, d).any(axis=(1, 3))
        if count == "mixed":
            allp = np.ones((pa, pb), bool)
            allp[:a, :b] = m
            has &= ~allp.reshape(pa // d, d, pb // d, d).all(axis=(1, 3))
        counts[q] = int(has.sum())
    return counts


def _count_kind(count):
    if not isinstance(count, str) or count not in ("any", "mixed"):
        raise ValueError(f"count must be 'any' or 'mixed'; got {count!r}")
    return count


def box_counts(mask, sizes=None, *, count: str = "any") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box counts of a 2-D set at several box sizes, and the local log-log slopes.

    Parameters
    ----------
    mask : array_like of bool, shape (a, b)
        The set (for a trainability map, ``boundary(score)``).
    sizes : array_like of int, optional
        Box edge lengths in cells, strictly increasing, each >= 1. Default :func:`default_box_sizes`
        (porespy's sizes).
    count : {"any", "mixed"}
        ``"any"``: boxes containing at least one cell of the set (the textbook box count: a line gives 1,
        a filled region 2). ``"mixed"``: boxes containing cells in and out of the set, as porespy's
        ``boxcount`` (used in the author's notebook) counts them.

    Returns
    -------
    sizes : ndarray of int
    counts : ndarray of int
    slopes : ndarray of float
        ``-d log(count) / d log(size)`` by ``numpy.gradient`` (one-sided at the ends), as porespy.
        Where a count is 0 the slope is NaN (porespy takes log(0) = -inf there).

    Notes
    -----
    The tiling starts at the corner (0, 0); boxes at the far edges are truncated, and a box larger than
    the image covers all of it, as in porespy. With ``count="mixed"`` and the default sizes the sizes,
    counts and slopes equal porespy's ``metrics.boxcount(mask)`` (tested against a transcription).
    """
    m = _mask(mask)
    count = _count_kind(count)
    if sizes is None:
        sizes = default_box_sizes(m.shape)
        if sizes.size < 2:  # a side of exactly 10: porespy's 10 sizes collapse to one (and porespy fails)
            raise ValueError(f"mask of shape {m.shape}: porespy's default box sizes collapse to {sizes.tolist()}, "
                             "no slope; pass sizes (at least 2)")
    else:
        sizes = _checked_sizes(sizes, m.shape)
    counts = _count(m, sizes, count)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.where(counts > 0, np.log(np.maximum(counts, 1)), np.nan)
        slopes = -np.gradient(logc, np.log(sizes.astype(float)))
    return sizes, counts, slopes


METHODS = ("calibrated", "porespy")


def _lsq_dimension(m, sizes, count):
    """Least-squares slope of log count against log size (NaN for an empty set)."""
    if sizes is None:
        crop, sizes = _calibrated_plan(m.shape)
        m = m[crop]
    else:
        sizes = _checked_sizes(sizes, m.shape)
    counts = _count(m, sizes, count)
    if np.any(counts == 0):
        return math.nan
    x, y = np.log(sizes.astype(float)), np.log(counts.astype(float))
    x0 = x - x.mean()
    return float(-(x0 @ (y - y.mean())) / (x0 @ x0))


def box_counting_dimension(mask, sizes=None, *, method: str = "calibrated", count: str | None = None) -> float:
    """Box-counting dimension of a 2-D set: a calibrated least-squares estimate (default) or the author's.

    Parameters
    ----------
    mask : array_like of bool, shape (a, b), or a list of such images
        The set, e.g. ``boundary(score)``; a list (a zoom sequence) gives one estimate over all images.
    sizes : array_like of int, optional
        Box sizes. Default: the method's own (see Notes).
    method : {"calibrated", "porespy"}
        ``"calibrated"`` (default): the least-squares slope of log N(s) against log s over box sizes that
        divide the image, in the scaling range 2 <= s <= side / 16, counting boxes that hold any cell of the
        set; a list gives the median of the images' slopes. Within 0.05 of the true dimension on the
        Sierpinski gasket (1024^2), carpet, Vicsek fractal and Cantor dust (729^2), a filled disc and a
        circle (tested). ``"porespy"``: the estimator of the paper's notebook, porespy's
        ``metrics.boxcount`` (sizes :func:`default_box_sizes`, "mixed" boxes, local slopes by
        ``numpy.gradient``) and the median of the local slopes over scales and over all images. It is kept
        for fidelity to the paper; it is off by up to 0.16 on those sets.
    count : {"any", "mixed"}, optional
        What a counted box contains (see :func:`box_counts`). Default: ``"any"`` for ``"calibrated"``,
        ``"mixed"`` for ``"porespy"``.

    Returns
    -------
    float
        The estimate; NaN when the set is empty (at every scale, or in every image).

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184, reports the median of porespy's ``boxcount`` slopes over the
    scales and over every image of a zoom sequence. Two things bias that estimator on sets of known
    dimension. (i) Its box sizes (10 log-spaced sizes from 10 cells to the side) do not divide the image,
    so the boxes cut self-similar pieces at varying phases and the far-edge boxes are partial; and the
    largest sizes (a few boxes per side) sit beyond any scaling range. (ii) A median of noisy local slopes
    (one-sided at the ends) is not a fit. On a 1024^2 Sierpinski gasket it gives 1.72 (true 1.585); on a
    729^2 Cantor dust 1.43 (1.262); on a filled disc 1.87 (2) with the "any" count. Its "mixed" count
    measures the boundary of the set, not the set (the boundary of a filled disc has dimension 1). The one
    departure from porespy: slopes next to a zero count (NaN here, +-inf or NaN in porespy) are dropped
    before the median, where the notebook's median would be NaN or infinite.

    The calibrated estimator fits log N(s) = c - D log s by least squares, with N(s) the number of boxes of
    side s holding any cell of the set (the textbook box count), over box sizes that

    * divide both sides of the image: every box is whole, and on a self-similar set drawn at its natural
      resolution (a 3^k image of a triadic set, 2^k of a dyadic one) the counts are an exact power law;
    * lie in 2 <= s <= side / 16: single cells are excluded because a set drawn on a grid is not resolved
      at one cell (a digital circle's local slope between s = 1 and 2 is 0.65-0.8 at 729-1024 cells);
      boxes beyond 1/16 of the side are excluded because a set of finite extent leaves its scaling range
      there (a disc of radius 0.4 side: local slope 1.71 at s = side/16 -> side/8, 1.98 below side/64),
      and a saturated grid of a few boxes per side has slope 2 whatever the set.

    When fewer than 3 sizes divide the image, it is cropped centrally to multiples of the largest power
    of two P <= side / 16 (at most P - 1 cells per side), and the sizes are those dividing the cropped
    image. Images under 64 cells use [1, side / 2]: no scaling range exists there, the number is rough.
    Measured errors (tests): gasket 1024^2 0.000, carpet, Vicsek and Cantor dust 729^2 0.000, disc and
    circle (radius 0.4 side) -0.049 and -0.039 at 1024^2. On a self-similar set drawn at another
    resolution (a Cantor dust at 1024^2, boxes that cut its pieces) the error grows to 0.1-0.2: no fixed
    grid of boxes measures a lacunar set exactly off its natural resolution.
    """
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    if not masks:
        raise ValueError("mask must be a 2-D boolean array or a non-empty list of them")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    count = _count_kind(("any" if method == "calibrated" else "mixed") if count is None else count)
    if method == "porespy":
        slopes = [box_counts(m, sizes, count=count)[2] for m in masks]
        allslopes = np.concatenate(slopes)
        allslopes = allslopes[np.isfinite(allslopes)]
        return float(np.median(allslopes)) if allslopes.size else math.nan
    dims = np.array([_lsq_dimension(_mask(m), sizes, count) for m in masks])
    dims = dims[np.isfinite(dims)]
    return float(np.median(dims)) if dims.size else math.nan


def converged_fraction(score) -> float:
    """Fraction of cells with ``score < 0`` (trained)."""
    s = _score_array(score)
    if s.size == 0:
        raise ValueError("score must not be empty")
    return float(np.mean(s < 0))


def _log_axes_of(score, axis0, axis1):
    """log10 of a map's validated axes (their sizes must match the map's shape)."""
    a0, a1 = _axis(axis0, "axis0"), _axis(axis1, "axis1")
    if (a0.size, a1.size) != np.shape(score):
        raise ValueError(f"axis0, axis1 have sizes {(a0.size, a1.size)} but score has shape {np.shape(score)}")
    return np.log10(a0), np.log10(a1)


def boundary_centers(score, axis0, axis1, count: int, seed=0) -> np.ndarray:
    """log10 centres of up to ``count`` distinct boundary cells of a map, drawn at random (seeded).

    Parameters
    ----------
    score : array_like, shape (a, b)
        A map over the axes ``axis0`` (a,) and ``axis1`` (b,) (positive, log-spaced).
    axis0, axis1 : array_like
        The map's axes (e.g. from :func:`window_axes`).
    count : int
        Number of centres wanted (1..10^6).
    seed : int, SeedSequence, Generator or None
        Which boundary cells are picked.

    Returns
    -------
    ndarray, shape (k, 2), k <= count
        (log10 axis0, log10 axis1) at the centre of each picked 2x2 boundary block.
    """
    e = boundary(score)
    l0, l1 = _log_axes_of(score, axis0, axis1)
    count = v.integer(count, "count", lo=1, hi=10**6)
    idx = np.argwhere(e)
    if idx.size == 0:
        return np.empty((0, 2))
    pick = as_generator(seed).permutation(len(idx))[:count]
    i, j = idx[pick, 0], idx[pick, 1]
    return np.stack((0.5 * (l0[i] + l0[i + 1]), 0.5 * (l1[j] + l1[j + 1])), axis=1)


def densest_boundary_center(score, axis0, axis1, window: int) -> np.ndarray | None:
    """log10 centre of the ``window x window`` block of cells with the most boundary cells (ties: the
    one nearest the map's centre); None if the map has no boundary.

    A zoom centred there keeps both phases in view, where the boundary cell nearest the centre often
    sits in a thin filament inside one phase.
    """
    e = boundary(score)
    a0, a1 = _log_axes_of(score, axis0, axis1)
    w = v.integer(window, "window", lo=1, hi=max(1, min(e.shape)))
    if not e.any():
        return None
    cs = np.zeros((e.shape[0] + 1, e.shape[1] + 1))
    cs[1:, 1:] = np.cumsum(np.cumsum(e, axis=0), axis=1)
    dens = cs[w:, w:] - cs[:-w, w:] - cs[w:, :-w] + cs[:-w, :-w]  # boundary cells per w x w block
    best = np.argwhere(dens == dens.max()) + (w - 1) / 2.0  # block centres in boundary-cell coordinates
    c = (np.array(e.shape) - 1) / 2.0
    i, j = best[np.argmin(((best - c) ** 2).sum(axis=1))]
    # boundary cell (i, j) sits between map cells i and i + 1
    return np.array([np.interp(i + 0.5, np.arange(a0.size), a0), np.interp(j + 0.5, np.arange(a1.size), a1)])


# ------------------------------------------------------------------------------- tiled windows, zooms

PHASE_SPACES = ("lr_vs_lr", "offset_vs_lr")


@renamed_keywords(n_data="n_samples")
def window_map(center, half_width, resolution: int, *, phase_space: str = "lr_vs_lr", n: int = 8,
               activation: str = "tanh", steps: int = 100, seed=0, n_samples: int | None = None,
               batch_size: int | None = None, store=None, tile: int = 256, progress: bool = False,
               problem: Problem | None = None, gpu: bool = False):
    """The map of one log-spaced square window, directly or tiled and resumable through :mod:`gdsim.sweep`.

    Parameters
    ----------
    center : (float, float)
        log10 of the window's centre: (lr0, lr1) for ``"lr_vs_lr"``, (offset, lr) for ``"offset_vs_lr"``.
    half_width : float
        Half-width in decades.
    resolution : int
        Cells per side.
    phase_space : {"lr_vs_lr", "offset_vs_lr"}
        :func:`trainability_map` or :func:`offset_map`.
    n, activation, steps, seed, n_samples, batch_size
        As in :func:`trainability_map`. ``seed`` must be an int here (it identifies a stored sweep).
    store : path, optional
        A zarr store: the window runs as ``tile x tile`` chunks of a :class:`gdsim.sweep.Sweep`, so a killed
        run resumes where it stopped, and ``gdsim sweep run --scheduler`` can spread it over a Dask
        cluster. Without a store, one direct call.
    tile : int
        Tile side for the stored path (16..4096).
    progress : bool
        Progress bar (one tick per block of cells, or per stored tile).
    problem : Problem, optional
        An explicit shared start (see :func:`trainability_map`); a stored window records its arrays in the
        sweep's parameters (so the store cannot be resumed with another start).
    gpu : bool
        Score the cells with the CUDA kernel (:func:`gpu_trainability_map`; every stored tile on the GPU of
        the worker that runs it). The paper's 4096^2 windows at n = 16 and 1000 steps are a GPU job.

    Returns
    -------
    axis0, axis1 : ndarray
        The window's axes (values, not log10).
    score : ndarray, shape (resolution, resolution)

    Notes
    -----
    Sohl-Dickstein (2024), arXiv:2402.06184: the paper's images are 4096^2 windows of zoom sequences.
    Both paths compute every cell from the same shared start, so they give the same scores bit for bit.
    """
    if not isinstance(phase_space, str) or phase_space not in PHASE_SPACES:
        raise ValueError(f"phase_space must be one of {PHASE_SPACES}; got {phase_space!r}")
    log0, log1 = _window_log_axes(center, half_width, resolution)
    axis0, axis1 = 10.0 ** log0, 10.0 ** log1
    store = v.path_like(store, "store")
    tile = v.integer(tile, "tile", lo=16, hi=4096)
    if not isinstance(gpu, (bool, np.bool_)):
        raise TypeError(f"gpu must be a bool; got {type(gpu).__name__}")
    if store is None:
        fn = {(False, False): trainability_map, (False, True): gpu_trainability_map,
              (True, False): offset_map, (True, True): gpu_offset_map}[(phase_space == "offset_vs_lr", bool(gpu))]
        return axis0, axis1, fn(axis0, axis1, n, activation, steps, seed, n_samples=n_samples, batch_size=batch_size,
                                progress=progress, problem=problem)
    from gdsim.sweep import Sweep
    from gdsim.sweep import run as run_sweep

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be an int >= 0 for a stored window (it identifies the sweep); got {seed!r}")
    tile = v.integer(tile, "tile", lo=16, hi=4096)
    prob, steps = _map_args(n, activation, steps, (seed, problem), n_samples, batch_size, True, progress)  # validates
    _check_size(axis0.size * axis1.size, prob, steps)
    params = dict(phase_space=phase_space, n=int(n), activation=activation, steps=int(steps), seed=int(seed),
                  n_samples=None if n_samples is None else int(n_samples),
                  batch_size=None if batch_size is None else int(batch_size))
    if problem is not None:  # the arrays themselves (exact through JSON); absent otherwise, as in older stores
        params.update(n=prob.n, activation=prob.activation, problem=prob.to_dict())
    if gpu:
        params.update(gpu=True)
    sweep = Sweep(
        name=f"fractal_{phase_space}", axes={"log10_axis0": log0, "log10_axis1": log1},
        simulation="gdsim.fractal.sweeps:map_tile", params=params,
        chunks={"log10_axis0": tile, "log10_axis1": tile}, seed=int(seed))
    report = run_sweep(sweep, store, progress=progress, verbose=False)
    ds = report.dataset()
    return axis0, axis1, np.asarray(ds["score"].values, dtype=np.float64)


@renamed_keywords(n_data="n_samples")
def zoom_sequence(center, half_width, levels: int, *, factor: float = 10.0, resolution: int = 256,
                  phase_space: str = "lr_vs_lr", n: int = 8, activation: str = "tanh", steps: int = 100, seed=0,
                  n_samples: int | None = None, batch_size: int | None = None, store_dir=None, tile: int = 256,
                  progress: bool = False, problem: Problem | None = None, gpu: bool = False) -> list[dict]:
    """A zoom into the boundary: each window is ``factor`` times narrower, centred where the previous
    window's boundary is densest (:func:`densest_boundary_center` over blocks 1/factor of its side).

    Parameters
    ----------
    center : (float, float)
        log10 centre of the first window.
    half_width : float
        Half-width of the first window in decades.
    levels : int
        Number of windows (1..40).
    factor : float
        Zoom factor per level (> 1).
    resolution, phase_space, n, activation, steps, seed, n_samples, batch_size, tile, problem, gpu
        As in :func:`window_map`.
    progress : bool
        Progress bars: one over the levels, and each window's own.
    store_dir : path, optional
        A folder for one resumable store per level (``level_00.zarr``, ...).

    Returns
    -------
    list of dict
        Per level: ``center``, ``half_width``, ``axis0``, ``axis1``, ``score``. The sequence stops early
        (and says so in the last entry's ``stopped``) if a window has no boundary to zoom into.
    """
    levels = v.integer(levels, "levels", lo=1, hi=40)
    store_dir = v.path_like(store_dir, "store_dir")
    v.integer(tile, "tile", lo=16, hi=4096)
    factor = v.real_scalar(factor, "factor", lo=1.0, lo_open=True, hi=1e6)
    hw = v.real_scalar(half_width, "half_width", lo=0, lo_open=True, hi=300)
    c = v.real_array(center, "center")
    if c.shape != (2,):
        raise ValueError(f"center must be two numbers (log10 of each axis); got shape {c.shape}")
    from pathlib import Path

    out = []
    with progress_bar(levels, enabled=progress, desc="zoom levels", unit="window") as bar:
        for level in range(levels):
            store = None if store_dir is None else Path(store_dir) / f"level_{level:02d}.zarr"
            a0, a1, score = window_map(c, hw, resolution, phase_space=phase_space, n=n, activation=activation,
                                       steps=steps, seed=seed, n_samples=n_samples, batch_size=batch_size, store=store,
                                       tile=tile, progress=progress, problem=problem, gpu=gpu)
            entry = dict(center=c.copy(), half_width=hw, axis0=a0, axis1=a1, score=score, stopped=False)
            out.append(entry)
            bar.update(1)
            nxt = densest_boundary_center(score, a0, a1, max(1, int(round(resolution / factor))))
            if nxt is None:
                entry["stopped"] = True
                break
            c, hw = nxt, hw / factor
    return out
