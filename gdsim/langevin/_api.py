"""Public API of :mod:`gdsim.langevin` (Dyson Brownian motion of weight spectra; the 2x2 SGD model)."""

from __future__ import annotations

import numpy as np

from gdsim._core.counter_rng import keys_from_seed
from gdsim._core.deprecation import renamed_keywords
from gdsim._core.result import Result, labelled_batch_dims
from gdsim._core.rng import as_seed_sequence, child_seed, run_seeds
from gdsim._core.jit import honours_parallel
from gdsim._core.validate import check_budget, flag, integer, real_array, real_scalar
from gdsim.dynamics._driver import drive, stepped_result
from gdsim.langevin import _kernels as k
from gdsim.langevin import _network as kn
from gdsim.langevin._reference import dyson_ou_width


def _grid(values, **names):
    """Positive hyper-parameter arrays broadcast together into the grid points (each named in errors)."""
    arrays = []
    for (name, meaning), value in zip(names.items(), values):
        a = real_array(value, name)
        if a.size == 0:
            raise ValueError(f"{name} ({meaning}) must not be empty")
        if np.any(a <= 0):
            raise ValueError(f"{name} ({meaning}) must be > 0; smallest value is {a.min()}")
        arrays.append(a)
    try:
        return np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError(f"{' and '.join(names)} must broadcast together; got shapes "
                         f"{[a.shape for a in arrays]}") from None


def grid_dims(grid) -> tuple[str, ...]:
    """Names of the broadcast hyper-parameter grid's dims: ``point`` (one), ``point_0``, ... (several)."""
    return ("point",) if len(grid) == 1 else tuple(f"point_{i}" for i in range(len(grid)))


def _run_labels(grid, **hyper):
    """Dims and coordinates of a (*grid, runs) result (:func:`gdsim._core.result.labelled_batch_dims`): a grid
    axis along which one hyper-parameter alone varies (with distinct values) is named after it, with its values
    as coordinate (``temperature=[0.1, 0.2]`` gives the dim ``temperature``, so ``ds.sel(temperature=0.1)``
    works); other grid axes keep their :func:`grid_dims` name; the runs of a grid point are ``run``.
    ``hyper`` holds the validated, not yet broadcast, values."""
    dims, coords = labelled_batch_dims(grid, {name: np.asarray(h) for name, h in hyper.items()})
    old = grid_dims(grid)
    return (*(d if d in coords else old[i] for i, d in enumerate(dims)), "run"), coords


def _seed_meta(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    return repr(seed)[:200]


_A0 = ("Aarts, Lucini, Park, 'Stochastic weight matrix dynamics during learning and Dyson Brownian motion', "
       "arXiv:2407.16427")


@renamed_keywords(chains="runs", n="d")
@honours_parallel
def dyson_ou(d: int, sigma: float, *, runs: int = 1000, kappa: float = 0.0, dt: float = 0.01,
             steps: int = 2000, seed=0, progress: bool = False, parallel=None) -> Result:
    """Sample the beta = 1 Coulomb gas as the stationary law of a GOE matrix Ornstein-Uhlenbeck process.

    dM = -(M - kappa I) dt + sqrt(2 dt) G, G GOE with off-diagonal variance sigma^2/2 and diagonal sigma^2;
    the eigenvalues then perform Dyson Brownian motion (beta = 1) in a quadratic potential. The matrix
    SDE is integrated, which never blows up at near-collisions (the eigenvalue SDE's Euler step does).

    Parameters
    ----------
    d : int
        Matrix size (>= 2).
    sigma : float
        GOE width (> 0).
    runs : int
        Independent chains (dim ``run``).
    kappa, dt, steps : float, float, int
        Centre of the potential, Euler time step in (0, 1), number of steps.
    seed : int, SeedSequence, Generator, or a sequence of them (one per run)
        Default 0 (reproducible, the package's one seed policy); ``None`` draws fresh entropy.
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``eigenvalues`` (runs, d) ascending; ``spacings`` (runs, d - 1).

    Notes
    -----
    Aarts, Lucini, Park (arXiv:2407.16427): for d = 2 the mean spacing is sqrt(pi) sigma and the spacing
    law is the Wigner surmise. The Euler scheme's stationary law is exactly kappa I + sigma_dt GOE with
    sigma_dt = sigma sqrt(2 / (2 - dt)) (:func:`dyson_ou_width`; 0.25% above sigma at dt = 0.01): it
    samples the Coulomb gas of width sigma only as dt -> 0. ``meta["stationary_sigma"]`` holds sigma_dt.
    """
    d = integer(d, "d", lo=2)
    runs = integer(runs, "runs", lo=1)
    steps = integer(steps, "steps", lo=1)
    sigma = real_scalar(sigma, "sigma", lo=0.0, lo_open=True)
    dt = real_scalar(dt, "dt", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    kappa = real_scalar(kappa, "kappa")
    check_budget(f"runs = {runs}, d = {d} and steps = {steps}", bytes_needed=8.0 * runs * d * d * 3,
                 updates=float(runs) * d * d * steps)
    M = np.zeros((runs, d, d)) + kappa * np.eye(d)
    keys = keys_from_seed(seed, runs)
    wall = drive(np.array([0, steps]), lambda lo, hi: k.matrix_ou(M, kappa, sigma, dt, hi - lo, keys, lo), None,
                 progress=progress, desc="Dyson OU", n_chunks=50)
    ev = np.linalg.eigvalsh(M)
    return stepped_result(dict(eigenvalues=ev, spacings=np.diff(ev, axis=1), matrices=M),
                          dict(eigenvalues=("run", "eigenvalue"), spacings=("run", "spacing"),
                               matrices=("run", "row", "col")), batch=(runs,),
                          meta=dict(config=dict(d=d, sigma=sigma, runs=runs, kappa=kappa, dt=dt, steps=steps,
                                                seed=_seed_meta(seed), reference=_A0), wall_time_s=wall,
                                    stationary_sigma=dyson_ou_width(sigma, dt)))


@renamed_keywords(chains="runs", batch="batch_size", init_std="init_scale")
@honours_parallel
def teacher_student_2x2(lr: float, noise_std: float, batch_size: int, *, steps: int = 3000, runs: int = 3000,
                        target: float = 2.0, init_scale: float = 0.1, seed=0, progress: bool = False,
                        parallel=None) -> Result:
    """The 2x2 linear teacher-student SGD of Aarts, Lucini, Park (degenerate target W* = target I).

    Per step, |B| fresh inputs x ~ N(0, I_2) and per-sample GOE-shaped noise (off-diagonal std A,
    diagonal sqrt(2) A); W <- W + lr mean_n[(W* - W) x x^T + a_n]. Temperature ~ lr / |B|.

    Parameters
    ----------
    lr : float
        Learning rate in (0, 2) (a stationary spread needs lr < 2 |B| / (|B| + 3)).
    noise_std : float
        A, the per-sample noise scale (>= 0).
    batch_size : int
        |B|, samples per step.
    steps, runs : int
        Steps per run and independent runs (dim ``run``).
    target, init_scale : float
        W* = target I; the initial weights are i.i.d. N(0, init_scale^2) (SGD then pulls them to W*).
    seed : int, SeedSequence or Generator
        Default 0 (reproducible, the package's one seed policy); ``None`` draws fresh entropy.
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        ``W`` (runs, 2, 2), ``singular_values`` (runs, 2) descending, ``spacing`` (runs,).

    Notes
    -----
    The exact stationary width sigma_d (:func:`discrete_spacing_width`, from the linear system of the
    second moments in :func:`teacher_student_moments`, including the noise of the random batch
    covariance) gives E[spacing^2] ~ 4 sigma_d^2 and a mean spacing ~ sqrt(pi) sigma_d (tested);
    continuous time gives sigma_d^2 ~ lr A^2 / |B|. The second moment is finite only for
    lr < 2 |B| / (|B| + 3) (:func:`max_stationary_lr`); above it the runs' spread grows without bound.
    """
    lr = real_scalar(lr, "lr", lo=0.0, lo_open=True, hi=2.0, hi_open=True)
    noise_std = real_scalar(noise_std, "noise_std", lo=0.0)
    # a minibatch of more than 10^6 samples of a 2x2 model is full-batch GD in all but name (noise ~ 1/batch_size)
    batch_size = integer(batch_size, "batch_size", lo=1, hi=10**6)
    steps = integer(steps, "steps", lo=1)
    runs = integer(runs, "runs", lo=1)
    init_scale = real_scalar(init_scale, "init_scale", lo=0.0)
    target = real_scalar(target, "target")
    check_budget(f"runs = {runs}, batch_size = {batch_size} and steps = {steps}", bytes_needed=8.0 * runs * 12,
                 updates=float(runs) * batch_size * steps * 6)
    init_ss, noise_ss = as_seed_sequence(seed).spawn(2)
    W = init_scale * np.random.default_rng(init_ss).standard_normal((runs, 2, 2))
    keys = keys_from_seed(noise_ss, runs)
    wstar = target * np.eye(2)
    wall = drive(np.array([0, steps]),
                 lambda lo, hi: k.teacher_student_2x2(W, wstar, lr, noise_std, batch_size, hi - lo, keys, lo), None,
                 progress=progress, desc="2x2 SGD", n_chunks=50)
    sv = np.linalg.svd(W, compute_uv=False)
    return stepped_result(dict(W=W, singular_values=sv, spacing=sv[:, 0] - sv[:, 1]),
                          dict(W=("run", "row", "col"), singular_values=("run", "singular_value"), spacing=("run",)),
                          batch=(runs,),
                          meta=dict(config=dict(lr=lr, noise_std=noise_std, batch_size=batch_size, steps=steps,
                                                runs=runs, target=target, init_scale=init_scale, seed=_seed_meta(seed),
                                                reference=_A0), wall_time_s=wall))


# ------------------------------------------------------------------------ Park, Lucini, Aarts network

_PARK = ("Park, Lucini, Aarts, 'Phase diagram and eigenvalue dynamics of stochastic gradient descent in "
         "multilayer neural networks', arXiv:2509.01349")
#: Fresh test points per run in the Sclocchi et al. models.
N_TEST_SCLOCCHI = 2000
#: The notebook's fixed test inputs (numpy seed 42, 128 points).
N_TEST = 128
#: Runs trained per kernel call (memory: N x L features, 1 MB per run at the paper's sizes). A GPU needs
#: thousands of runs per launch to be busy.
_RUN_CHUNK = {"cpu": 32, "cuda": 4096}


def _park_instance(ss, K, L, n_data, sigma_w, dim_in=3):
    """One seed's teacher (M, W*, Z), training set and student initialisation (the authors' distributions)."""
    rng = np.random.default_rng(ss)
    M = rng.normal(0, 1 / np.sqrt(dim_in), size=(L, dim_in))
    Wstar = rng.normal(0, 1 / np.sqrt(L), size=(K, L))
    Z = rng.normal(0, 1 / np.sqrt(K), size=K)
    X = rng.standard_normal((n_data, dim_in))
    W0 = rng.normal(0, sigma_w / np.sqrt(L), size=(K, L))
    return M, Wstar, Z, X, W0


def _head(W, Z, s0):
    """Hidden features phi = tanh(W s0) and the output phi . Z, from first-layer features s0 = tanh(M x)."""
    phi = np.tanh(s0 @ W.T)
    return phi, phi @ Z


def _forward(W, M, Z, x):
    s0 = np.tanh(x @ M.T)
    return (s0, *_head(W, Z, s0))


def _park_arrays(inst):
    """The kernels' inputs from a list of instances: W0 (R, K, L), first-layer features S0 = tanh(M x)
    (R, N, L), teacher labels Y (R, N) and output weights Z (R, K)."""
    S0 = np.stack([np.tanh(X @ M.T) for M, _, _, X, _ in inst])
    Y = np.stack([_head(Ws, Z, s0)[1] for (_, Ws, Z, _, _), s0 in zip(inst, S0)])
    return np.stack([w0 for *_, w0 in inst]), S0, Y, np.stack([Z for _, _, Z, _, _ in inst])


@renamed_keywords(T="temperature")
def ordered_by_drift_vs_coulomb(W, M, Wstar, Z, x_test, temperature, sigma_w, r) -> bool:
    """The authors' phase criterion (notebook ``limit_matrix_new``): drift of the spectral edges of X = W W^T
    against the Coulomb push, with the level spacing of the *initial* Marchenko-Pastur bulk.

    K_t / (sqrt(r) (K - 1)) >= temperature V_t / (4 sigma_W^2); see the spec (A.3) for K_t and V_t.

    Shapes: ``W`` and ``Wstar`` (K, L), ``M`` (L, 3), ``Z`` (K,), ``x_test`` (n, 3).
    """
    W, Wstar = real_array(W, "W", min_ndim=2), real_array(Wstar, "Wstar", min_ndim=2)
    M, Z, x_test = real_array(M, "M", min_ndim=2), real_array(Z, "Z", min_ndim=1), real_array(x_test, "x_test", min_ndim=2)
    if W.ndim != 2 or W.shape[0] < 2:
        raise ValueError(f"W must be a (K, L) matrix with K >= 2; got shape {W.shape}")
    K, L = W.shape
    for name, a, shape in (("Wstar", Wstar, (K, L)), ("M", M, (L, 3)), ("Z", Z, (K,))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match W {W.shape}; got {a.shape}")
    if x_test.ndim != 2 or x_test.shape[1] != 3 or x_test.shape[0] == 0:
        raise ValueError(f"x_test must have shape (n, 3) with n >= 1; got {x_test.shape}")
    temperature = real_scalar(temperature, "temperature", lo=0.0, lo_open=True)
    sigma_w = real_scalar(sigma_w, "sigma_w", lo=0.0, lo_open=True)
    r = integer(r, "r", lo=1)
    s0, phi, yhat = _forward(W, M, Z, x_test)
    y = _forward(Wstar, M, Z, x_test)[2]
    coef = (1 - phi**2) * ((y - yhat)[:, None] * Z[None, :])  # (n, K)
    g = coef[:, :, None] * s0[:, None, :]  # (n, K, L): descent directions
    dX = np.einsum("kl,njl->nkj", W, g) + np.einsum("nkl,jl->nkj", g, W)
    Km, Vm = dX.mean(0), dX.var(0)
    U = np.linalg.svd(W @ W.T)[0]
    Kt_m, Vt_m = U.T @ Km @ U, U.T @ Vm @ U
    Kt = abs(Kt_m[0, 0]) - abs(Kt_m[K - 1, K - 1])
    Vt = 2 * Vt_m[0, K - 1] / (K - 1) + sum((Vt_m[0, k] + Vt_m[K - 1, K - k]) / k for k in range(1, K - 1))
    return bool(Kt / (np.sqrt(r) * (K - 1)) >= temperature * Vt / (4 * sigma_w**2))


@renamed_keywords(seeds="runs", T="temperature", K="width", batch="batch_size", n_data="n_samples")
@honours_parallel
def park_network_sgd(temperature, sigma_w, *, epochs: int = 30, runs: int = 1, width: int = 16, r: int = 2, batch_size: int = 4,
                     n_samples: int | None = None, seed=0, progress: bool = False, parallel=None) -> Result:
    """SGD on the teacher-student network of Park, Lucini, Aarts, batched over (temperature, sigma_W, seed).

    y = Z tanh(W tanh(M x)), x in R^3, L = r width hidden features; only W (width x L) is trained, from
    W0 ~ N(0, sigma_W^2 / L), with batch |B| in a fixed batch order; temperature T = lr / |B|.

    Parameters
    ----------
    temperature, sigma_w : float or array_like
        Temperatures (> 0) and initial weight scales (> 0), broadcast together into the grid points.
    epochs : int
        Passes over the training set (n_samples / batch_size steps each; the paper uses 1e5).
    runs : int
        Independent instances (teacher, data, initialisation) per grid point.
    n_samples : int, optional
        Training-set size (default 1000 |B|, the authors').
    seed : int, SeedSequence, Generator, or a sequence of them, optional
        One seed: its children seed the runs (grid point x run). A sequence: one seed per run (length =
        grid points x ``runs``, grid in C order, runs fastest), e.g. a sweep chunk's per-point seeds, so
        that a run's result does not depend on which other runs share the call. Default 0 (reproducible,
        the package's one seed policy); ``None`` draws fresh entropy.
    progress, parallel : bool
        Progress bar over runs; ``parallel=False`` runs the kernels on one thread (same numbers).

    Returns
    -------
    Result
        Per run, shape (*grid, runs): ``test_mse`` (128 test points, no 1/2), ``train_loss``, ``q`` (overlap
        of initial and final features), ``x`` (*grid, runs, width) squared singular values of W (descending),
        ``x_max``, ``ordered`` (the authors' drift-vs-Coulomb criterion), ``phase`` (0 ferro: test < 1e-3;
        2 spin glass: q > 0.5; 1 para otherwise). A grid axis along which only ``temperature`` (or only
        ``sigma_w``) varies is the dim of that name, with its values as coordinate
        (``res.to_xarray().sel(temperature=0.1)``); other grid axes are ``point``/``point_i``; then ``run``.
    """
    return _park(temperature, sigma_w, epochs, runs, width, r, batch_size, n_samples, seed, progress, "cpu")


def _park(temperature, sigma_w, epochs, runs, width, r, batch_size, n_samples, seed, progress, backend) -> Result:
    """The one host function of :func:`park_network_sgd` and its GPU twin: ``backend`` picks the stepper
    (the fused CPU kernel :func:`gdsim.langevin._network.park_sgd` or :func:`_cuda_park`) and its run chunk."""
    grid_in = dict(temperature=temperature, sigma_w=sigma_w)
    temperature, sigma_w = _grid(temperature="the temperature lr / |B|", sigma_w="the initial weight scale", values=(temperature, sigma_w))
    progress = flag(progress, "progress")
    epochs = integer(epochs, "epochs", lo=0)
    runs = integer(runs, "runs", lo=1)
    width = integer(width, "width", lo=2)
    r = integer(r, "r", lo=1)
    batch_size = integer(batch_size, "batch_size", lo=1)
    n_samples = 1000 * batch_size if n_samples is None else integer(n_samples, "n_samples", lo=1)
    if batch_size > n_samples:
        raise ValueError(f"batch_size must be between 1 and n_samples = {n_samples}; got {batch_size}")
    L = r * width
    grid = temperature.shape
    R = temperature.size * runs
    check_budget(f"runs = {runs} per grid point ({temperature.size} points), width = {width}, r = {r}, n_samples = {n_samples} and "
                 f"epochs = {epochs}", bytes_needed=8.0 * min(R, _RUN_CHUNK[backend]) * n_samples * (L + 1) * 2
                 + 8.0 * R * (width + 8) + 200.0 * R,
                 updates=float(R) * epochs * n_samples * width * L * 3)
    train = kn.park_sgd if backend == "cpu" else _cuda_park
    Tf, sf = np.repeat(temperature.ravel(), runs), np.repeat(sigma_w.ravel(), runs)
    children = run_seeds(seed, R)
    x_test = np.random.default_rng(42).standard_normal((N_TEST, 3))
    out = {name: np.empty(R) for name in ("test_mse", "train_loss", "q", "x_max")}
    out["x"] = np.empty((R, width))
    out["ordered"] = np.empty(R, dtype=bool)

    def advance(lo, hi):
        """Runs lo..hi-1, all epochs: their instances (built per chunk of runs, for memory), training, measures."""
        idx = range(lo, hi)
        inst = [_park_instance(children[i], width, L, n_samples, sf[i]) for i in idx]
        W, S0, Y, Zs = _park_arrays(inst)
        W_init = W.copy()
        train(W, S0, Y, Zs, Tf[lo:hi] * batch_size, batch_size, epochs)
        for j, i in enumerate(idx):
            M, Ws, Z, _, _ = inst[j]
            s0t = np.tanh(x_test @ M.T)
            phi, yh = _head(W[j], Z, s0t)
            yt = _head(Ws, Z, s0t)[1]
            out["test_mse"][i] = np.mean((yt - yh) ** 2)
            out["train_loss"][i] = 0.5 * np.mean((Y[j] - _head(W[j], Z, S0[j])[1]) ** 2)
            out["q"][i] = np.mean(_head(W_init[j], Z, s0t)[0] * phi)
            sv = np.linalg.svd(W[j], compute_uv=False) ** 2
            out["x"][i], out["x_max"][i] = sv, sv[0]
            out["ordered"][i] = ordered_by_drift_vs_coulomb(W[j], M, Ws, Z, x_test, Tf[i], sf[i], r)

    # the engine's record loop over the runs (each run's epochs are one fused kernel call, no records between)
    wall = drive(np.array([0, R]), advance, None, progress=progress, desc="Park network SGD", unit="run",
                 chunk=_RUN_CHUNK[backend])
    phase = np.where(out["test_mse"] < 1e-3, 0, np.where(out["q"] > 0.5, 2, 1)).astype(np.int8)
    arrays = {name: v.reshape(*grid, runs, *v.shape[1:]) for name, v in out.items()}
    arrays["phase"] = phase.reshape(*grid, runs)
    rd, coords = _run_labels(grid, **grid_in)
    return stepped_result(arrays, {**{name: rd for name in arrays}, "x": (*rd, "singular_value")},
                          labels=(rd, coords),
                          meta=dict(config=dict(temperature=temperature.tolist(), sigma_w=sigma_w.tolist(), epochs=epochs,
                                                runs=runs, width=width, r=r, batch_size=batch_size, n_samples=n_samples,
                                                seed=_seed_meta(seed), reference=_PARK, backend=backend),
                                    wall_time_s=wall))


def _cuda_park(W, S0, Y, Z, lrs, batch, epochs):
    """The GPU stepper of :func:`gpu_park_network_sgd`: trains the runs' W (R, K, L) in place, as
    :func:`gdsim.langevin._network.park_sgd` does on the CPU."""
    from gdsim._core import cuda as gcuda
    from gdsim.langevin import _cuda

    cuda = gcuda.cuda_module()
    R, K, L = W.shape
    dW = cuda.to_device(W)
    args = (cuda.to_device(np.ascontiguousarray(S0)), cuda.to_device(np.ascontiguousarray(Y)), cuda.to_device(Z),
            cuda.to_device(np.asarray(lrs, dtype=float)))
    launch = _cuda.park_group_launch(K, batch, gcuda.THREADS_PER_BLOCK)
    if launch is not None:  # a group of threads per run (see gdsim.langevin._cuda)
        G, tpb = launch
        kernel = _cuda.park_group_kernel(K, L, batch, tpb)
        kernel[-(-R * G // tpb), tpb](dW, *args, epochs)
    else:  # one run per thread
        park, _ = _cuda.kernels()
        blocks, tpb = gcuda.launch_config(R)
        park[blocks, tpb](dW, *args, batch, epochs, cuda.device_array((R, K, L + 1)))
    W[:] = dW.copy_to_host()


@renamed_keywords(seeds="runs", T="temperature", K="width", batch="batch_size", n_data="n_samples")
@honours_parallel
def gpu_park_network_sgd(temperature, sigma_w, *, epochs: int = 30, runs: int = 1, width: int = 16, r: int = 2, batch_size: int = 4,
                         n_samples: int | None = None, seed=0, progress: bool = False, parallel=None) -> Result:
    """CUDA variant of :func:`park_network_sgd`: same signature, same results to rounding.

    The host side (validation, instances, measures, result, the default ``seed=0``) is
    :func:`park_network_sgd`'s; only the stepper differs: one run per group of min(32, next power of two
    >= width) threads, each holding rows of W in registers (while the group's shared memory fits:
    batch_size x width up to about 256 at 128 threads per block; larger ones run one run per thread).

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.
    """
    return _park(temperature, sigma_w, epochs, runs, width, r, batch_size, n_samples, seed, progress, "cuda")


# ------------------------------------------------------------------------ Sclocchi et al. perceptron

_SCLOCCHI = ("Sclocchi, Geiger, Wyart, 'Dissecting the effects of SGD noise in distinct regimes of deep learning', "
             "ICML 2023, arXiv:2301.13703")


@renamed_keywords(P="n_samples")
def perceptron_data(n_samples: int, d: int, chi: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """x in R^d with density |x_1|^chi e^{-x_1^2/2} along the teacher e_1 (|x_1| = sqrt(2 G), G ~ Gamma((1+chi)/2)),
    x_perp ~ N(0, I); labels y = sign(x_1). ``rng`` is a numpy Generator (or a seed)."""
    n_samples, d = integer(n_samples, "n_samples", lo=1), integer(d, "d", lo=1)
    chi = real_scalar(chi, "chi", lo=0.0)
    check_budget(f"n_samples = {n_samples} and d = {d}", bytes_needed=8.0 * n_samples * (d + 2))
    if not isinstance(rng, np.random.Generator):
        try:
            rng = np.random.default_rng(as_seed_sequence(rng))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"rng must be a numpy Generator or a seed: {exc}") from None
    X = rng.standard_normal((n_samples, d))
    x1 = np.sqrt(2 * rng.gamma((1 + chi) / 2, 1.0, size=n_samples)) * rng.choice([-1.0, 1.0], size=n_samples)
    X[:, 0] = x1
    return X, np.sign(x1)


@renamed_keywords(seeds="runs", T="temperature", P="n_samples")
@honours_parallel
def perceptron_sgd(temperature, n_samples, *, d: int = 32, chi: float = 1.0, runs: int = 6, max_epochs: int = 100_000,
                   seed=0, progress: bool = False, parallel=None) -> Result:
    """Hinge-loss perceptron trained by SGD (batch 1, eta = temperature) from w0 = 0 until every training point has
    margin >= 1 (Sclocchi, Geiger, Wyart; the PNAS follow-up's gamma = 1/(1 + chi)).

    Parameters
    ----------
    temperature : float or array_like
        Temperatures eta / B (> 0).
    n_samples : int or array_like
        Training-set sizes (>= 1), broadcast with temperature.
    d, chi : int, float
        Input dimension (>= 2) and the data's exponent chi (>= 0).
    runs, max_epochs : int
        Independent runs per grid point (dim ``run``) and the epoch budget.
    seed : int, SeedSequence, Generator, or a sequence of them (one per run)
        Default 0 (reproducible, the package's one seed policy); ``None`` draws fresh entropy.
    progress : bool
        Show a progress bar.
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).

    Returns
    -------
    Result
        Per run (*grid, runs): ``w1`` (signal, along the teacher), ``w_perp`` (noise norm), ``t_star``
        (eta x steps to zero hinge loss), ``steps``, ``converged``, ``test_error`` (2000 fresh points). A grid
        axis along which only ``temperature`` (or only ``n_samples``) varies is the dim of that name, with its
        values as coordinate; other grid axes are ``point``/``point_i``; then ``run``.

    Notes
    -----
    Each run stops on its own at zero hinge loss (every margin >= 1, checked at the start of each epoch);
    the other runs' numbers do not depend on it.
    """
    return _perceptron(temperature, n_samples, d, chi, runs, max_epochs, seed, progress, "cpu")


def _perceptron(temperature, n_samples, d, chi, runs, max_epochs, seed, progress, backend) -> Result:
    """The one host function of :func:`perceptron_sgd` and its GPU twin (``backend`` picks the stepper)."""
    try:
        P_in = np.asarray(n_samples)
    except (ValueError, TypeError):  # ragged nesting
        P_in = np.asarray(None)
    if isinstance(n_samples, bool) or P_in.dtype.kind not in "iu":
        raise TypeError(f"n_samples (training-set sizes) must be integers >= 1; got {n_samples!r}")
    grid_in = dict(temperature=temperature, n_samples=P_in)
    temperature, Pf_ = _grid(values=(temperature, P_in), temperature="the temperature eta / B", n_samples="the training-set size")
    n_samples = Pf_.astype(np.int64)
    d = integer(d, "d", lo=2)
    runs = integer(runs, "runs", lo=1)
    chi = real_scalar(chi, "chi", lo=0.0)
    max_epochs = integer(max_epochs, "max_epochs", lo=1)
    progress = flag(progress, "progress")
    grid = temperature.shape
    R = temperature.size * runs
    check_budget(f"runs = {runs} per grid point ({temperature.size} points), n_samples up to {n_samples.max()}, d = {d} and max_epochs = "
                 f"{max_epochs}", bytes_needed=8.0 * R * n_samples.max() * (d + 1) + 8.0 * N_TEST_SCLOCCHI * d,
                 updates=float(R) * n_samples.max() * d * max_epochs)
    train = kn.perceptron_sgd if backend == "cpu" else _cuda_perceptron
    Tf, Pf = np.repeat(temperature.ravel(), runs), np.repeat(n_samples.ravel(), runs)
    children = run_seeds(seed, R)
    w1, wp, tstar, steps_all, conv, terr = (np.empty(R) for _ in range(6))
    # runs of one n_samples share array shapes: they are advanced together, in order of n_samples
    order = np.argsort(Pf, kind="stable")
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(Pf[order])) + 1, [R]))

    def advance(lo, hi):
        """The runs order[lo:hi] (one n_samples), each until zero hinge loss or max_epochs."""
        idx = order[lo:hi]
        p_val = int(Pf[idx[0]])
        data = [perceptron_data(p_val, d, chi, np.random.default_rng(children[i])) for i in idx]
        Xs = np.stack([x for x, _ in data])
        Ys = np.stack([y for _, y in data])
        W = np.zeros((idx.size, d))
        steps = np.zeros(idx.size, dtype=np.int64)
        keys = keys_from_seed([children[i] for i in idx], idx.size)
        train(Xs, Ys, Tf[idx], max_epochs, keys, W, steps)
        for j, i in enumerate(idx):
            # each run's own test set (its seed's child 1), so a run never depends on its batch
            Xt, Yt = perceptron_data(N_TEST_SCLOCCHI, d, chi, np.random.default_rng(child_seed(children[i], 1)))
            w1[i], wp[i] = W[j, 0], np.linalg.norm(W[j, 1:])
            steps_all[i], tstar[i] = steps[j], Tf[i] * steps[j]
            conv[i] = np.min(Ys[j] * (Xs[j] @ W[j]) / np.sqrt(d)) >= 1
            terr[i] = np.mean(Yt * (Xt @ W[j]) <= 0)

    # the engine's record loop over the groups of runs (one fused kernel call each, no records in between)
    wall = drive(bounds, advance, None, progress=progress, desc="perceptron SGD", unit="run", chunk=R)
    shape = (*grid, runs)
    rd, coords = _run_labels(grid, **grid_in)
    return stepped_result(dims={name: rd for name in ("w1", "w_perp", "t_star", "steps", "converged", "test_error")},
                          arrays=dict(w1=w1.reshape(shape), w_perp=wp.reshape(shape), t_star=tstar.reshape(shape),
                                      steps=steps_all.reshape(shape), converged=conv.astype(bool).reshape(shape),
                                      test_error=terr.reshape(shape)),
                          labels=(rd, coords),
                          meta=dict(config=dict(temperature=temperature.tolist(), n_samples=n_samples.tolist(), d=d,
                                                chi=chi, runs=runs, max_epochs=max_epochs, seed=_seed_meta(seed),
                                                reference=_SCLOCCHI, backend=backend), wall_time_s=wall))


def _cuda_perceptron(Xs, Ys, etas, max_epochs, keys, W, steps_out):
    """The GPU stepper of :func:`gpu_perceptron_sgd` (one run per thread): W and steps_out in place, as
    :func:`gdsim.langevin._network.perceptron_sgd` does on the CPU."""
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.langevin import _cuda

    cuda = cuda_module()
    dW, dsteps = cuda.to_device(W), cuda.to_device(steps_out)
    blocks, tpb = launch_config(Xs.shape[0])
    _cuda.kernels()[1][blocks, tpb](cuda.to_device(Xs), cuda.to_device(Ys), cuda.to_device(etas), max_epochs,
                                    cuda.to_device(keys), dW, dsteps)
    W[...] = dW.copy_to_host()
    steps_out[...] = dsteps.copy_to_host()


@renamed_keywords(seeds="runs", T="temperature", P="n_samples")
@honours_parallel
def gpu_perceptron_sgd(temperature, n_samples, *, d: int = 32, chi: float = 1.0, runs: int = 6, max_epochs: int = 100_000,
                       seed=0, progress: bool = False, parallel=None) -> Result:
    """CUDA variant of :func:`perceptron_sgd` (one run per GPU thread): same signature, same results.

    The host side (and the default ``seed=0``) is :func:`perceptron_sgd`'s; only the stepper differs.

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.
    """
    return _perceptron(temperature, n_samples, d, chi, runs, max_epochs, seed, progress, "cuda")


def stripe_data(P: int, d: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """The 'stripe' task of Geiger et al.'s code: x ~ N(0, I_d), y = +1 iff -0.3 < x_1 < 1.18549 (balanced)."""
    X = rng.standard_normal((P, d))
    return X, np.where((X[:, 0] > -0.3) & (X[:, 0] < 1.18549), 1.0, -1.0)


#: Relative weight change beyond which an MLP run counts as diverged (no converging run comes near it: the
#: largest seen in the reproductions is about 3).
MLP_BLOWUP = 1e6


def _pm1_data(data, P, d):
    """Validated (X, y, X_test, y_test) of mlp_sgd's data= option, as float64 arrays."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise TypeError("data must be a tuple (X, y, X_test, y_test) of arrays")
    X, y, Xt, yt = (np.ascontiguousarray(np.asarray(a, dtype=np.float64)) for a in data)
    if X.ndim != 2 or Xt.ndim != 2 or X.shape[1] != d or Xt.shape[1] != d:
        raise ValueError(f"data: X and X_test must have shape (n, d) with d = {d}; got {X.shape} and {Xt.shape}")
    if y.shape != (X.shape[0],) or yt.shape != (Xt.shape[0],):
        raise ValueError("data: y and y_test must have one label per row of X and X_test")
    if not (np.all(np.abs(y) == 1) and np.all(np.abs(yt) == 1)):
        raise ValueError("data: labels must be -1 or +1")
    if not (np.isfinite(X).all() and np.isfinite(Xt).all()):
        raise ValueError("data: X and X_test must be finite")
    if P > X.shape[0]:
        raise ValueError(f"P = {P} exceeds the {X.shape[0]} points of the data pool")
    return X, y, Xt, yt


@renamed_keywords(h="width", seeds="runs", T="temperature", P="n_samples", batch="batch_size")
@honours_parallel
def mlp_sgd(alpha, temperature, *, n_samples: int = 256, d: int = 10, width: int = 64, batch_size: int = 8, runs: int = 3,
            max_epochs: int = 2000, seed=0, progress: bool = False, parallel=None, data=None) -> Result:
    """Sclocchi et al.'s alpha-trick SGD on a one-hidden-layer net (stripe task), batched over (alpha, temperature, seed).

    f = (1/width) sum_i beta_i sqrt(2) relu(w_i . x / sqrt(d)); F = f(w) - f(w0); hinge(alpha y F)/alpha;
    learning rate eta = temperature alpha width B (the code's temperature convention temperature = eta / (alpha width B)); stop when
    alpha min y F >= 1 on the training set (checked every epoch).

    Parameters
    ----------
    alpha, temperature : float or array_like
        Output scales (> 0) and temperatures (> 0), broadcast together into the grid points.
    n_samples, d, width, batch_size : int
        Training-set size, input dimension, hidden width, minibatch size (<= n_samples).
    runs, max_epochs : int
        Independent runs per grid point (dim ``run``) and the epoch budget.
    seed : int, SeedSequence, Generator, or a sequence of them (one per run)
        Default 0 (reproducible, the package's one seed policy); ``None`` draws fresh entropy.
    progress : bool
        Show a progress bar (over epochs).
    parallel : bool, optional
        None or True: the kernels use all Numba threads; False: one thread (the numbers are the same).
    data : tuple (X, y, X_test, y_test), optional
        Real data instead of the stripe task: a pool of training points X (n, d) with labels y in {-1, +1},
        from which each run draws its own n_samples points without replacement (from its seed), and a test set. ``d``
        must equal X.shape[1]. E.g. digits parity: ``ds = gdsim.data.load("digits")``, y = +1 for odd digits.

    Returns
    -------
    Result
        Per run (*grid, runs): ``test_error`` (2000 fresh points, or the given test set), ``rel_weight_change``
        ||w - w0|| / ||w0|| (all parameters), ``t_star`` = eta x steps, ``converged``, ``diverged`` (too
        large a step: non-finite weights or a relative change above ``MLP_BLOWUP`` = 1e6; recorded, NaN
        outputs). A grid axis along which only ``alpha`` (or only ``temperature``) varies is the dim of that
        name, with its values as coordinate; other grid axes are ``point``/``point_i``; then ``run``.

    Notes
    -----
    Each run stops on its own once alpha min y F >= 1 (checked at the start of each epoch); the other
    runs' numbers do not depend on it.
    """
    grid_in = dict(alpha=alpha, temperature=temperature)
    alpha, temperature = _grid(values=(alpha, temperature), alpha="the output scale of the alpha trick",
                     temperature="the temperature eta / (alpha width B)")
    n_samples, d, width = integer(n_samples, "n_samples", lo=1), integer(d, "d", lo=1), integer(width, "width", lo=1)
    batch_size = integer(batch_size, "batch_size", lo=1)
    if batch_size > n_samples:
        raise ValueError(f"batch_size must be between 1 and n_samples = {n_samples}; got {batch_size}")
    runs = integer(runs, "runs", lo=1)
    max_epochs = integer(max_epochs, "max_epochs", lo=1)
    progress = flag(progress, "progress")
    grid = alpha.shape
    R = alpha.size * runs
    pool = None if data is None else _pm1_data(data, n_samples, d)
    check_budget(f"runs = {runs} per grid point ({alpha.size} points), n_samples = {n_samples}, d = {d}, width = {width} and "
                 f"max_epochs = {max_epochs}", bytes_needed=8.0 * R * (n_samples * (d + 1) + 4 * width * (d + 1)),
                 updates=float(R) * n_samples * d * width * max_epochs)
    af, Tf = np.repeat(alpha.ravel(), runs), np.repeat(temperature.ravel(), runs)
    children = run_seeds(seed, R)
    rngs = [np.random.default_rng(c) for c in children]
    if pool is None:
        draws = [stripe_data(n_samples, d, g) for g in rngs]
    else:  # each run's own n_samples points of the pool (its seed's stream, before the weights)
        draws = [(pool[0][i], pool[1][i]) for i in (np.sort(g.choice(pool[0].shape[0], n_samples, replace=False))
                                                    for g in rngs)]
    Xs, Ys = np.stack([x for x, _ in draws]), np.stack([y for _, y in draws])
    W0 = np.stack([g.standard_normal((width, d)) for g in rngs])
    b0 = np.stack([g.standard_normal(width) for g in rngs])
    W, b = W0.copy(), b0.copy()
    steps = np.zeros(R, dtype=np.int64)
    keys = keys_from_seed(children, R)
    etas = Tf * af * width * batch_size

    def advance(lo, hi):  # epochs lo..hi-1 of every run (a run that has stopped stays stopped)
        kn.mlp_hinge_sgd(W, b, W0, b0, Xs, Ys, etas, af, batch_size, hi - lo, keys, steps)

    wall = drive(np.array([0, max_epochs]), advance, None, progress=progress, desc="alpha-trick SGD", unit="epoch")
    # each run's own test set (its seed's child 1), so a run never depends on its batch_size
    tests = ([stripe_data(N_TEST_SCLOCCHI, d, np.random.default_rng(child_seed(c, 1))) for c in children]
             if pool is None else [(pool[2], pool[3])] * R)

    def f(Wm, bm, X):
        return (np.sqrt(2) * np.maximum(X @ Wm.T / np.sqrt(d), 0)) @ bm / width

    diverged = ~(np.isfinite(W).all(axis=(1, 2)) & np.isfinite(b).all(axis=1))
    with np.errstate(over="ignore", invalid="ignore"):  # diverged runs (large eta) are recorded, not raised
        terr = np.array([np.mean(tests[i][1] * (f(W[i], b[i], tests[i][0]) - f(W0[i], b0[i], tests[i][0])) <= 0)
                         if not diverged[i] else np.nan for i in range(R)])
        margin = np.array([af[i] * np.min(Ys[i] * (f(W[i], b[i], Xs[i]) - f(W0[i], b0[i], Xs[i])))
                           if not diverged[i] else -np.inf for i in range(R)])
        change = np.sqrt(((W - W0) ** 2).sum((1, 2)) + ((b - b0) ** 2).sum(1)) / np.sqrt((W0**2).sum((1, 2))
                                                                                      + (b0**2).sum(1))
    diverged |= ~(change <= MLP_BLOWUP)  # weights grown a million-fold, or so large that their norm overflows
    change[diverged] = np.nan
    terr[diverged] = np.nan
    shape = (*grid, runs)
    rd, coords = _run_labels(grid, **grid_in)
    return stepped_result(dims={name: rd for name in ("test_error", "rel_weight_change", "t_star", "steps", "converged",
                                                       "diverged")},
                          arrays=dict(test_error=terr.reshape(shape), rel_weight_change=change.reshape(shape),
                                      t_star=(etas * steps).reshape(shape), steps=steps.reshape(shape),
                                      converged=(margin >= 1).reshape(shape), diverged=diverged.reshape(shape)),
                          labels=(rd, coords),
                          meta=dict(config=dict(alpha=alpha.tolist(), temperature=temperature.tolist(),
                                                n_samples=n_samples, d=d, width=width, batch_size=batch_size,
                                                runs=runs, max_epochs=max_epochs, seed=_seed_meta(seed),
                                                reference=_SCLOCCHI,
                                                data="stripe" if pool is None else f"given pool of {pool[0].shape[0]} points"),
                                    wall_time_s=wall))
