"""Guess & Check (Alexander, Slutzky, Ran-Milo, Cohen, NeurIPS 2025): kernel against a NumPy oracle, the exact prior
mean against Monte Carlo, thread-count determinism, and the paper's width and depth claims at reduced settings."""

import numba
import numpy as np
import pytest

import gdsim.guess_check as gc
from gdsim.guess_check import _kernels as kern
from gdsim.guess_check._model import _sensing_loss_grad, layer_dims
from tests import naive

ACT = {"linear": kern.LINEAR, "tanh": kern.TANH, "leaky_relu": kern.LEAKY_RELU}


# ------------------------------------------------------------------------------------------ oracle
def oracle_sample(key, s, task, width, depth, activation, prior="gaussian", normalise=False, soft=0.0, slope=0.2):
    """One prior draw in NumPy, written from the paper's code (``train_gnc``): Y = I; for each hidden layer
    Y = act(Y @ xi / sqrt(width)); Y = Y @ xi / sqrt(n_cols); the draws from naive.normal_pair / uniform01_numpy."""
    from gdsim._core.counter_rng import uniform01_numpy

    dims = layer_dims(task.shape, width, depth)
    P = int(np.sum(dims[1:] * dims[:-1]))
    Pe = P + (P & 1)
    if prior == "gaussian":
        z = np.concatenate([naive.normal_pair(np.uint64(key), s, Pe, j) for j in range(0, Pe, 2)])
    else:
        z = 2.0 * uniform01_numpy(np.uint64(key), s, np.arange(Pe)) - 1.0
    act = {"linear": lambda x: x, "tanh": np.tanh, "leaky_relu": lambda x: np.where(x > 0, x, slope * x)}[activation]
    n_rows, n_cols = task.shape
    Y = np.eye(n_rows)
    off = 0
    for l in range(depth):
        r, c = dims[l], dims[l + 1]
        W = z[off:off + r * c].reshape(r, c)
        off += r * c
        if l < depth - 1:
            Y = act(Y @ W / np.sqrt(width))
        else:
            Y = Y @ W / np.sqrt(n_cols)
    if normalise:
        Y = Y / (np.linalg.norm(Y) + soft)
    return Y, task.train_loss(Y), task.gen_loss(Y), z[:P]


def kernel_samples(key, idx, task, width, depth, activation, prior="gaussian", normalise=False, soft=0.0, slope=0.2):
    dims = layer_dims(task.shape, width, depth)
    P = int(np.sum(dims[1:] * dims[:-1]))
    k = idx.size
    Ys, tr, ge, W = np.empty((k, *task.shape)), np.empty(k), np.empty(k), np.empty((k, P))
    m, q = task.A.shape[0], task.B.shape[0]
    kern.gc_samples(np.uint64(key), idx, task.A.reshape(m, -1), task.y, task.B.reshape(q, -1), task.b, dims, P,
                    ACT[activation], slope, 0 if prior == "gaussian" else 1, normalise, soft, Ys, tr, ge, W)
    return Ys, tr, ge, W


@pytest.mark.parametrize("activation,depth,prior,normalise", [
    ("linear", 2, "gaussian", False), ("tanh", 3, "uniform", True), ("leaky_relu", 4, "gaussian", False),
    ("linear", 1, "uniform", False)])
def test_kernel_draws_match_numpy_oracle(activation, depth, prior, normalise):
    task = gc.sensing_task((3, 4), 5, seed=3)
    idx = np.array([0, 1, 7, 4095, 123456789], dtype=np.int64)
    Ys, tr, ge, W = kernel_samples(2024, idx, task, 5, depth, activation, prior, normalise, 1e-6 * normalise)
    for i, s in enumerate(idx):
        Y0, tr0, ge0, W0 = oracle_sample(2024, int(s), task, 5, depth, activation, prior, normalise, 1e-6 * normalise)
        # the draws agree to rounding: the kernel's fused multiply-add in v1^2 + v2^2 can move the last bit
        np.testing.assert_allclose(W[i], W0, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(Ys[i], Y0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose([tr[i], ge[i]], [tr0, ge0], rtol=1e-12)


def test_block_reduction_matches_per_sample_values():
    """The parallel block kernel's sums equal those of the per-sample path (2 blocks, 3 thresholds)."""
    task = gc.sensing_task(3, 3, seed=1)
    N = gc.BLOCK + 517
    eps = np.array([0.01, 0.05, 0.2])
    res = gc.guess_and_check([task, task], 4, loss_threshold=eps, draws=N, seed=[11, 12])
    from gdsim._core.counter_rng import keys_from_seed

    for r, key in enumerate(keys_from_seed([11, 12], 2)):
        _, tr, ge, _ = kernel_samples(key, np.arange(N, dtype=np.int64), task, 4, 2, "linear")
        np.testing.assert_allclose(res.prior_gen[r], ge.mean(), rtol=1e-13)
        np.testing.assert_allclose(res.prior_train[r], tr.mean(), rtol=1e-13)
        np.testing.assert_allclose(res.prior_gen_se[r], ge.std(ddof=1) / np.sqrt(N), rtol=1e-9)
        assert res.min_train[r] == tr.min()
        for j, e in enumerate(eps):
            acc = tr < e
            assert res.accepted[r, j] == acc.sum()
            np.testing.assert_allclose(res.gen[r, j], ge[acc].mean(), rtol=1e-13)
    assert not np.array_equal(res.prior_gen[0], res.prior_gen[1])  # one stream per run


def test_same_numbers_for_any_thread_count_and_chunking():
    tasks = [gc.sensing_task(3, 3, seed=s) for s in range(2)]
    kw = dict(loss_threshold=[0.02, 0.1], draws=5 * gc.BLOCK + 9, seed=5)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = gc.guess_and_check(tasks, 6, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = gc.guess_and_check(tasks, 6, **kw)
        chunked = gc.guess_and_check(tasks, 6, progress=True, **kw)  # progress splits the kernel calls
    finally:
        numba.set_num_threads(old)
    for name in ("gen", "gen_se", "accepted", "prior_gen", "prior_gen_se", "prior_train", "min_train"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        np.testing.assert_array_equal(getattr(one, name), getattr(chunked, name))


# -------------------------------------------------------------------------------------- exact theory
@pytest.mark.parametrize("width,depth,activation,prior,normalise", [
    (3, 2, "linear", "gaussian", False),   # the spec's CI claim 1: 1/n_cols + mean <B, W*>^2
    (8, 3, "linear", "uniform", False),
    (6, 2, "tanh", "gaussian", False),
    (6, 2, "leaky_relu", "uniform", False),
    (3, 5, "linear", "gaussian", True),
    (4, 3, "tanh", "uniform", True)])
def test_exact_prior_mean_within_three_standard_errors(width, depth, activation, prior, normalise):
    task = gc.sensing_task(3, 3, seed=0)
    res = gc.guess_and_check(task, width, depth=depth, activation=activation, prior=prior, normalise=normalise,
                             draws=60_000, seed=1)
    exact = gc.prior_mean(task, width, depth=depth, activation=activation, prior=prior, normalise=normalise)
    # a mean of 6e4 i.i.d. draws: |MC - exact| < 3 SE unless the closed form is wrong (or a 0.3% fluke; the
    # seed is fixed, so the check is deterministic)
    assert abs(res.prior_gen[0] - exact.gen) < 3 * res.prior_gen_se[0], (res.prior_gen[0], exact.gen)
    assert abs(res.prior_train[0] - exact.train) < 3 * res.prior_train_se[0], (res.prior_train[0], exact.train)
    assert res.prior_gen_exact[0] == exact.gen


def test_prior_mean_closed_forms():
    task = gc.sensing_task(4, 6, seed=2)
    n = 4
    # spec section 6 claim 1 (linear, Gaussian, no normalisation): every entry of Y has variance 1/n_cols
    for depth in (1, 2, 5):
        assert gc.prior_mean(task, 7, depth=depth).gen == pytest.approx(1 / n + np.mean(task.b ** 2), rel=1e-14)
    assert gc.prior_mean(task, 7, depth=3, normalise=True).gen == pytest.approx(1 / n**2 + np.mean(task.b ** 2),
                                                                                rel=1e-14)
    assert gc.prior_mean(task, 7, depth=3, prior="uniform").train == pytest.approx(
        1 / 27 / n + np.mean(task.y ** 2), rel=1e-14)
    # tanh at depth 2: Gauss-Hermite E tanh(x)^2 against a fine Simpson rule
    x = np.linspace(-12, 12, 40001) / np.sqrt(6)
    dens = np.exp(-0.5 * 6 * x * x) * np.sqrt(6 / (2 * np.pi))
    from scipy.integrate import simpson

    mu2 = simpson(np.tanh(x) ** 2 * dens, x=x)
    G = gc.prior_second_moment((4, 4), 6, activation="tanh")
    np.testing.assert_allclose(G, np.eye(4) * 6 * mu2 / 4, rtol=1e-10)
    with pytest.raises(ValueError, match="no closed form"):
        gc.prior_mean(task, 3, depth=3, activation="tanh")
    with pytest.raises(ValueError, match="leaky-ReLU"):
        gc.prior_mean(task, 3, activation="leaky_relu", normalise=True)


# ------------------------------------------------------------------------------------ paper's claims
def test_width_trend_gc_generalisation_worsens_with_width():
    """Spec section 6, CI claim 2: 3 x 3 target, 3 measurements, eps = 0.02, widths {3, 48}, 2 seeds, 2e5 samples."""
    tasks = [gc.sensing_task(3, 3, seed=s) for s in range(2)]
    narrow = gc.guess_and_check(tasks, 3, loss_threshold=0.02, draws=200_000)
    wide = gc.guess_and_check(tasks, 48, loss_threshold=0.02, draws=200_000)
    gap = wide.gen[:, 0] - narrow.gen[:, 0]
    se = np.sqrt(wide.gen_se[:, 0] ** 2 + narrow.gen_se[:, 0] ** 2)
    # the spec's threshold 0.05 (its reference run: 0.337 -> 0.424); measured 0.076 and 0.142 with standard errors
    # 0.007 and 0.005, so the test fails only if the trend is gone, not by Monte Carlo noise
    assert gap.mean() > 0.05, (gap, se)
    assert (gap > 3 * se).all(), (gap, se)
    # and the wide network approaches the prior (the paper: as width -> infinity G&C is no better than the prior)
    assert (np.abs(wide.gen[:, 0] - wide.prior_gen_exact) < np.abs(narrow.gen[:, 0] - narrow.prior_gen_exact)).all()


def test_depth_trend_gc_generalisation_improves_with_depth():
    """Reduced depth experiment: 3 x 3, 5 measurements, width 3, output normalised, eps = 0.005, depths 2 and 8."""
    tasks = [gc.sensing_task(3, 5, seed=s) for s in range(4)]
    kw = dict(loss_threshold=0.005, draws=500_000, normalise=True)
    shallow = gc.guess_and_check(tasks, 3, depth=2, **kw)
    deep = gc.guess_and_check(tasks, 3, depth=8, **kw)
    drop = shallow.gen[:, 0].mean() - deep.gen[:, 0].mean()
    se = np.sqrt(np.sum(shallow.gen_se[:, 0] ** 2 + deep.gen_se[:, 0] ** 2)) / 4
    # measured here: mean G&C generalisation 0.213 at depth 2, 0.153 at depth 8 (drop 0.060, Monte Carlo standard
    # error 0.007; 1e6 samples gave 0.208 -> 0.155): 0.02 leaves > 5 standard errors of room
    assert drop > 0.02, (drop, se)
    assert drop > 3 * se, (drop, se)
    assert deep.gen[:, 0].mean() < deep.prior_gen_exact.mean() - 0.02


# ------------------------------------------------------------------------------------------- GD model
@pytest.mark.parametrize("activation", ["linear", "tanh", "leaky_relu"])
def test_sensing_model_gradient_against_central_differences(activation):
    task = gc.sensing_task((3, 2), 4, seed=4)
    dims = layer_dims(task.shape, 3, 3)
    P = int(np.sum(dims[1:] * dims[:-1]))
    w = np.random.default_rng(0).uniform(-1, 1, P)
    code = {"linear": 0.0, "tanh": 1.0, "leaky_relu": 2.0}[activation]
    args = (task.A.reshape(4, -1), task.y, dims.astype(float), np.array([code, 0.2]))
    g = np.empty(P)
    loss = _sensing_loss_grad(w, *args, g)

    def oracle_loss(w):
        W1 = w[:9].reshape(3, 3)
        W2 = w[9:18].reshape(3, 3)
        W3 = w[18:].reshape(3, 2)
        act = {"linear": lambda x: x, "tanh": np.tanh, "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x)}[activation]
        return task.train_loss(act(act(W1) @ W2) @ W3)

    assert loss == pytest.approx(oracle_loss(w), rel=1e-13)
    h = 1e-6
    fd = np.array([(oracle_loss(w + h * e) - oracle_loss(w - h * e)) / (2 * h) for e in np.eye(P)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)  # central differences: O(h^2) + rounding / h


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_is_refused_with_clear_errors():
    task = gc.sensing_task(3, 3, seed=0)
    with pytest.raises(TypeError, match="tasks must be a SensingTask"):
        gc.guess_and_check(np.eye(3), 3)
    with pytest.raises(ValueError, match="loss_threshold must be > 0"):
        gc.guess_and_check(task, 3, loss_threshold=[0.1, -1.0])
    with pytest.raises(ValueError, match="activation must be one of"):
        gc.guess_and_check(task, 3, activation="relu")
    with pytest.raises(ValueError, match="width must be >= 1"):
        gc.guess_and_check(task, 0)
    with pytest.raises(ValueError, match="share them"):
        gc.guess_and_check([task, gc.sensing_task(3, 4)], 3)
    with pytest.raises(ValueError, match="measurements must be <= 8"):
        gc.sensing_task(3, 9)
    with pytest.raises(TypeError, match="shape must be"):
        gc.sensing_task("3")
    with pytest.raises(TypeError, match="task must be a SensingTask"):
        gc.prior_mean(None, 3)
