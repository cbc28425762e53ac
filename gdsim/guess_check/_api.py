"""Public API of the Guess & Check family: the prior Monte Carlo and GD on the same tasks."""

from __future__ import annotations

import numba
import numpy as np

from gdsim._core import validate as v
from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.jit import honours_parallel
from gdsim._core.result import Result
from gdsim._core.rng import run_seeds
from gdsim.dynamics._driver import drive, stepped_result
from gdsim.guess_check import _kernels as kern
from gdsim.guess_check._model import layer_dims, sensing_model
from gdsim.guess_check._tasks import SensingTask
from gdsim.guess_check._theory import ACTIVATIONS, PRIORS, _choice, prior_mean

__all__ = ["guess_and_check", "gd_generalisation", "BLOCK"]

#: samples per block: the unit of parallel work and of the fixed-order reduction (never depends on threads)
BLOCK = 4096
#: samples x parameters above which one call is refused (about a day on two cores)
MAX_DRAWS = 1e14

_PAPER = ("Alexander, Slutzky, Ran-Milo, Cohen, 'Do neural networks need gradient descent to generalize? "
          "A theoretical study', NeurIPS 2025 (arXiv:2506.03931)")


def _tasks(tasks):
    if isinstance(tasks, SensingTask):
        return [tasks]
    if isinstance(tasks, (str, bytes, np.ndarray)) or not hasattr(tasks, "__len__") or len(tasks) == 0:
        raise TypeError("tasks must be a SensingTask (gdsim.guess_check.sensing_task) or a non-empty sequence of them; "
                        f"got {type(tasks).__name__}")
    out = list(tasks)
    for i, t in enumerate(out):
        if not isinstance(t, SensingTask):
            raise TypeError(f"tasks[{i}] must be a SensingTask; got {type(t).__name__}")
        if t.A.shape != out[0].A.shape or t.B.shape != out[0].B.shape:
            raise ValueError(f"tasks[{i}] has measurements {t.A.shape} and test set {t.B.shape}, tasks[0] "
                             f"{out[0].A.shape} and {out[0].B.shape}: the runs of one call must share them")
    return out


def _thresholds(loss_threshold):
    e = np.atleast_1d(v.real_array(loss_threshold, "loss_threshold"))
    if e.ndim != 1 or e.size < 1 or e.size > 64:
        raise ValueError(f"loss_threshold must be a threshold or a 1-D array of 1 .. 64 thresholds; got shape {e.shape}")
    if np.any(e <= 0):
        raise ValueError(f"loss_threshold must be > 0 (G&C accepts a draw when its training loss is below loss_threshold); got {e.min()}")
    return e


def _mean_se(s1, s2, n):
    """Mean and standard error of the mean from a sum, a sum of squares and a count (NaN below 2 samples)."""
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        var = np.where(n > 1, (s2 - n * mean * mean) / np.maximum(n - 1, 1), np.nan)
        se = np.sqrt(np.maximum(var, 0.0) / np.maximum(n, 1))
    return mean, np.where(n > 1, se, np.nan)


@honours_parallel
def guess_and_check(tasks, width, *, depth=2, activation="linear", loss_threshold=0.02, draws=200_000, prior="gaussian",
                    normalise=False, softening=0.0, negative_slope=0.2, seed=0, progress=False, parallel=None):
    """Guess & Check: draw every weight from the prior, keep the draws whose training loss is below loss_threshold.

    Parameters
    ----------
    tasks : SensingTask or sequence of SensingTask
        One run per task (same shapes); from :func:`sensing_task`.
    width : int
        Hidden width h (1 .. 4096).
    depth : int
        Number of factors d (1 .. 32).
    activation : {"linear", "tanh", "leaky_relu"}
        Applied after every factor but the last.
    loss_threshold : float or array_like
        Training-loss thresholds (> 0); all are evaluated on the same draws.
    draws : int
        Prior draws per run (1 .. 10^12).
    prior : {"gaussian", "uniform"}
        Entries xi ~ N(0, 1) or U(-1, 1), divided by sqrt(h) (hidden factors) or sqrt(n_cols) (the last).
    normalise : bool
        Divide Y by ||Y||_F + softening (the paper's depth experiment).
    softening : float
        Added to the norm when normalising (the authors use 1e-6; 0 keeps the closed-form prior mean exact).
    negative_slope : float
        Leaky ReLU slope (0.2 in the paper).
    seed : int, SeedSequence, sequence of seeds or None
        One counter-based stream per run, keyed by the run's index (:func:`gdsim._core.counter_rng.keys_from_seed`).
    progress : bool
        Show a progress bar over blocks of draws.
    parallel : bool, optional
        None/True: blocks in parallel on all Numba threads; False: one thread. The numbers are the same.

    Returns
    -------
    Result
        Dims ``run`` and ``loss_threshold``. ``gen`` (run, loss_threshold): the G&C generalisation loss, the mean generalisation
        loss of the accepted draws (NaN where none), ``gen_se`` its standard error, ``accepted`` the number of
        accepted draws and ``acceptance`` their fraction; ``prior_gen``, ``prior_gen_se``, ``prior_train``,
        ``prior_train_se`` (run): Monte Carlo means over every draw; ``prior_gen_exact``, ``prior_train_exact``:
        the closed forms of :func:`prior_mean` (NaN where there is none); ``min_train`` the smallest training
        loss drawn; ``nonfinite`` draws with a non-finite loss (excluded); coordinate ``loss_threshold``.

    Notes
    -----
    Alexander, Slutzky, Ran-Milo, Cohen (NeurIPS 2025, arXiv:2506.03931): G&C draws weights from the prior until
    the training loss L_train(Y) = mean_i (<A_i, Y> - y_i)^2 falls below loss_threshold and returns that draw; its
    generalisation loss is L_gen(Y) = mean_j (<B_j, Y> - <B_j, W*>)^2 over an orthonormal basis of the complement
    of the measurements. The first accepted draw of a fresh stream has the law of Y given L_train < loss_threshold, so every
    accepted draw here is one independent G&C outcome, and ``gen`` estimates E[L_gen | L_train < loss_threshold] (the
    authors' ``train_gnc`` averages the accepted draws of 10^8-10^9 draws the same way). The paper proves that
    this gets worse with width (tending to the prior mean) and better with depth.

    Draw s of run r takes its weights from the counter-based generator at (key_r, s), Marsaglia's polar method for
    Gaussian entries; the kernel runs blocks of :data:`BLOCK` draws in parallel and reduces the per-block sums in
    block order, so results do not depend on the thread count or on the progress chunks.

    Examples
    --------
    >>> import gdsim.guess_check as gc
    >>> t = gc.sensing_task(3, 3, seed=0)
    >>> res = gc.guess_and_check(t, 3, loss_threshold=0.02, draws=20_000)
    >>> res.gen.shape, bool(res.gen[0, 0] < res.prior_gen[0])
    ((1, 1), True)
    """
    tl = _tasks(tasks)
    width = v.integer(width, "width", lo=1, hi=4096)
    depth = v.integer(depth, "depth", lo=1, hi=32)
    activation = _choice(activation, "activation", ACTIVATIONS)
    prior = _choice(prior, "prior", PRIORS)
    e = _thresholds(loss_threshold)
    draws = v.integer(draws, "draws", lo=1, hi=10**12)
    normalise = v.flag(normalise, "normalise")
    softening = v.real_scalar(softening, "softening", lo=0.0)
    slope = v.real_scalar(negative_slope, "negative_slope")
    progress = v.flag(progress, "progress")
    R = len(tl)
    dims = layer_dims(tl[0].shape, width, depth)
    P = int(np.sum(dims[1:] * dims[:-1]))
    v.check_budget(f"draws = {draws}, width = {width}, depth = {depth} and {R} run(s)",
                   updates=float(R) * draws * P)
    if float(R) * draws * P > MAX_DRAWS:
        raise ValueError(f"draws x parameters x runs = {float(R) * draws * P:.2e} exceeds {MAX_DRAWS:.0e} "
                         "(about a day on two cores): reduce draws, or split the runs over gdsim.sweep")
    n_blocks = -(-draws // BLOCK)
    E = e.size
    v.check_budget(f"draws = {draws} and {R} run(s)", bytes_needed=8.0 * R * n_blocks * (2 * kern.N_PRIOR_STATS
                                                                                             + 3 * E + 1))
    keys = keys_from_seed(seed, R)
    n = tl[0].A.shape[0]
    A = np.ascontiguousarray(np.stack([t.A.reshape(n, -1) for t in tl]))
    y = np.ascontiguousarray(np.stack([t.y for t in tl]))
    q = tl[0].B.shape[0]
    B = np.ascontiguousarray(np.stack([t.B.reshape(q, -1) for t in tl]))
    b = np.ascontiguousarray(np.stack([t.b for t in tl]))
    stats = np.empty((R, n_blocks, kern.N_PRIOR_STATS + 2 * E))
    counts = np.empty((R, n_blocks, 1 + E), dtype=np.int64)
    act = {"linear": kern.LINEAR, "tanh": kern.TANH, "leaky_relu": kern.LEAKY_RELU}[activation]
    pr = kern.GAUSSIAN if prior == "gaussian" else kern.UNIFORM
    total = R * n_blocks
    step = total if not progress else max(2 * numba.get_num_threads(), -(-total // 50))

    def advance(lo, hi):  # blocks lo .. hi-1 (of every run) in one parallel kernel call
        kern.gc_blocks(keys, A, y, B, b, dims, P, act, slope, pr, normalise, softening, e, draws, BLOCK, lo, hi,
                       stats, counts)

    # the engine's driver walks the blocks (its "steps") in chunks of ``step`` with the progress bar
    wall = drive(np.array([0, total]), advance, None, progress=progress, desc=f"G&C ({BLOCK} draws per block)",
                 unit="block", chunk=step)
    S = stats.sum(axis=1)
    C = counts.sum(axis=1)
    ok = draws - C[:, 0]
    prior_gen, prior_gen_se = _mean_se(S[:, 0], S[:, 1], ok)
    prior_train, prior_train_se = _mean_se(S[:, 2], S[:, 3], ok)
    acc = C[:, 1:]
    gen, gen_se = _mean_se(S[:, kern.N_PRIOR_STATS::2], S[:, kern.N_PRIOR_STATS + 1::2], acc)
    exact = np.full((R, 2), np.nan)
    for r, t in enumerate(tl):
        try:
            exact[r] = prior_mean(t, width, depth=depth, activation=activation, prior=prior, normalise=normalise,
                                  negative_slope=slope, softening=softening)
        except ValueError:
            pass
    arrays = dict(loss_threshold=e, gen=gen, gen_se=gen_se, accepted=acc, acceptance=acc / draws, prior_gen=prior_gen,
                  prior_gen_se=prior_gen_se, prior_train=prior_train, prior_train_se=prior_train_se,
                  prior_gen_exact=exact[:, 0], prior_train_exact=exact[:, 1], min_train=stats[:, :, 4].min(axis=1),
                  nonfinite=C[:, 0])
    dims_out = {k: ("run", "loss_threshold") for k in ("gen", "gen_se", "accepted", "acceptance")}
    dims_out.update({k: ("run",) for k in ("prior_gen", "prior_gen_se", "prior_train", "prior_train_se",
                                           "prior_gen_exact", "prior_train_exact", "min_train", "nonfinite")})
    dims_out["loss_threshold"] = ("loss_threshold",)
    meta = dict(config=dict(shape=list(tl[0].shape), measurements=int(n), width=width, depth=depth,
                            activation=activation, prior=prior, normalise=normalise, softening=softening,
                            negative_slope=slope, draws=draws, block=BLOCK, n_params=P, runs=R),
                seed=seed if seed is None or isinstance(seed, (int, np.integer)) else repr(seed)[:200],
                wall_time_s=wall, paper=_PAPER)
    if isinstance(meta["seed"], np.integer):
        meta["seed"] = int(meta["seed"])
    return Result(arrays, meta, dims=dims_out, coords=("loss_threshold",))


def gd_generalisation(tasks, width, *, depth=2, activation="linear", lr=0.1, steps=10_000, init_scale=1e-3, inits=1,
                      negative_slope=0.2, record_every=None, seed=0, progress=False):
    """GD on each task's sensing loss from a small initialisation: final training and generalisation losses.

    Parameters
    ----------
    tasks : SensingTask or sequence of SensingTask
        One model per task (:func:`sensing_model`).
    width, depth, activation, negative_slope
        The factorisation, as in :func:`guess_and_check`.
    lr : float
        Step size (> 0) of plain GD on L_train = mean_i (<A_i, Y> - y_i)^2.
    steps : int
    init_scale : float
        Multiplies PyTorch's default ``nn.Linear`` initialisation (the authors' ``near_zero_init``).
    inits : int
        Initialisations per task.
    record_every : int, optional
        Record schedule of the curves (default: 100 records).
    seed : int, SeedSequence, sequence of seeds or None
        Task r's initialisations come from the r-th child of ``seed`` (one stream per run).
    progress : bool
        A progress bar over tasks.

    Returns
    -------
    Result
        ``train`` and ``gen`` (run, init): losses at the last step (NaN when diverged); ``train_curve`` and
        ``gen_curve`` (step, run, init) at the steps ``t``; ``diverged`` (run, init).

    Notes
    -----
    Runs ``gdsim.dynamics.run(m, gdsim.dynamics.GD(), w0, lr=lr, steps=steps, observe=("loss", "test_loss"))``:
    w <- w - lr grad L_train(w), the generalisation loss being the model's test loss. The paper trains with
    "GroupRMSprop" (the step divided by the root of an average of squared gradient norms) [CODE]; plain GD is
    the gradient method whose implicit bias the theory contrasts with G&C. Alexander et al., NeurIPS 2025.
    """
    import gdsim.dynamics as gdyn

    tl = _tasks(tasks)
    lr = v.real_scalar(lr, "lr", lo=0.0, lo_open=True)
    steps = v.integer(steps, "steps", lo=1, hi=10**9)
    inits = v.integer(inits, "inits", lo=1, hi=10**6)
    progress = v.flag(progress, "progress")
    every = max(1, steps // 100) if record_every is None else record_every
    seeds = run_seeds(seed, len(tl))
    tr, ge, tc, gc_, dv = [], [], [], [], []
    t = []

    def advance(lo, hi):  # tasks lo .. hi-1, each a batch of ``inits`` GD runs on the engine
        for task, s in zip(tl[lo:hi], seeds[lo:hi]):
            m = sensing_model(task, width, depth=depth, activation=activation, negative_slope=negative_slope,
                              init_scale=init_scale)
            res = gdyn.run(m, gdyn.GD(), m.init(seed=s, batch=(inits,)), lr=lr, steps=steps, record_every=every,
                           observe=("loss", "test_loss"))
            t[:] = [res.t]
            tc.append(res.loss)
            gc_.append(res.test_loss)
            tr.append(res.loss[-1])
            ge.append(res.test_loss[-1])
            dv.append(res.diverged)

    # each task is its own model (its own engine run); the driver walks the tasks one by one with the bar
    wall = drive(np.array([0, len(tl)]), advance, None, progress=progress, desc="GD", unit="task", chunk=1)
    arrays = dict(t=t[0], train=np.array(tr), gen=np.array(ge), train_curve=np.stack(tc, axis=1),
                  gen_curve=np.stack(gc_, axis=1), diverged=np.array(dv))
    dims_out = dict(train=("run", "init"), gen=("run", "init"), train_curve=("step", "run", "init"),
                    gen_curve=("step", "run", "init"), diverged=("run", "init"))
    meta = dict(config=dict(shape=list(tl[0].shape), width=width, depth=depth, activation=activation, lr=lr,
                            steps=steps, init_scale=float(init_scale), inits=inits, optimiser="gd"),
                wall_time_s=wall, paper=_PAPER)
    return stepped_result(arrays, dims_out, meta=meta)
