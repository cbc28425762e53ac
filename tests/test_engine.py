"""The engine's contract: optimisers as values, run() == the optimiser functions (same bits), a NumPy oracle
of every optimiser's update, every optimiser on every zoo model, labelled grids, and deprecation shims."""

import warnings

import numpy as np
import pytest

import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim._core.deprecation import GdsimDeprecationWarning

RNG = np.random.default_rng(11)
X = RNG.standard_normal((24, 4))
Y = np.tanh(X[:, :2])


def _mlp():
    return gm.mlp([4, 5, 2], "tanh", data=(X, Y))


OPTIMISERS = [
    (gdyn.GD(), lambda m, w0, lr, n: gdyn.gd(m, w0, lr, n)),
    (gdyn.HeavyBall(beta=0.7), lambda m, w0, lr, n: gdyn.momentum(m, w0, lr, n, beta=0.7)),
    (gdyn.Nesterov(beta=0.6), lambda m, w0, lr, n: gdyn.momentum(m, w0, lr, n, beta=0.6, nesterov=True)),
    (gdyn.SGD(batch_size=5, replace=False, momentum=0.3),
     lambda m, w0, lr, n: gdyn.sgd(m, w0, lr, n, batch_size=5, replace=False, momentum=0.3)),
    (gdyn.Adam(beta1=0.8, beta2=0.99, eps=1e-6), lambda m, w0, lr, n: gdyn.adam(m, w0, lr, n, beta1=0.8, beta2=0.99,
                                                                                 eps=1e-6)),
    (gdyn.RMSProp(beta=0.9, eps=1e-7), lambda m, w0, lr, n: gdyn.rmsprop(m, w0, lr, n, beta=0.9, eps=1e-7)),
]


@pytest.mark.parametrize("opt,fn", OPTIMISERS, ids=lambda o: getattr(o, "name", ""))
def test_run_with_an_optimiser_value_gives_the_functions_bits(opt, fn):
    m = _mlp()
    w0 = m.init(seed=np.arange(3))
    a = gdyn.run(m, opt, w0, lr=0.05, steps=12, record_every=4, observe=("loss", "w"), seed=2)
    b = fn(m, w0, 0.05, 12) if not isinstance(opt, gdyn.SGD) else gdyn.sgd(
        m, w0, 0.05, 12, batch_size=5, replace=False, momentum=0.3, record_every=4, observe=("loss", "w"), seed=2)
    if not isinstance(opt, gdyn.SGD):
        b = gdyn.run(m, opt, w0, lr=0.05, steps=12, record_every=4, observe=("loss", "w"), seed=2)
        c = fn(m, w0, 0.05, 12)
        np.testing.assert_array_equal(a.w_final, c.w_final)
    np.testing.assert_array_equal(a.w, b.w)
    assert a.meta["config"]["optimiser"] == opt.name


def _numpy_steps(m, w, opt, lr0, steps, schedule=None):
    """The update rules as written in the optimisers' docstrings, in plain NumPy (full batch); the lr of step t
    is lr0 * schedule[t] with a schedule."""
    w = w.copy()
    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    for t in range(steps):
        lr = lr0 if schedule is None else lr0 * schedule[t]
        _, g = m.loss_grad(w)
        if isinstance(opt, gdyn.GD):
            w = w - lr * g
        elif isinstance(opt, gdyn.HeavyBall):
            m1 = opt.beta * m1 + g
            w = w - lr * m1
        elif isinstance(opt, gdyn.Nesterov):
            m1 = opt.beta * m1 + g
            w = w - lr * (g + opt.beta * m1)
        elif isinstance(opt, gdyn.RMSProp):
            m2 = opt.beta * m2 + (1 - opt.beta) * g * g
            w = w - lr * g / (np.sqrt(m2) + opt.eps)
        elif isinstance(opt, gdyn.Adam):
            m1 = opt.beta1 * m1 + (1 - opt.beta1) * g
            m2 = opt.beta2 * m2 + (1 - opt.beta2) * g * g
            mh = m1 / (1 - opt.beta1 ** (t + 1))
            vh = m2 / (1 - opt.beta2 ** (t + 1))
            w = w - lr * mh / (np.sqrt(vh) + opt.eps)
    return w


@pytest.mark.parametrize("opt", [o for o, _ in OPTIMISERS if not isinstance(o, gdyn.SGD)], ids=lambda o: o.name)
def test_each_optimiser_matches_a_numpy_oracle_of_its_update(opt):
    m = _mlp()
    w0 = m.init(seed=5)
    got = gdyn.run(m, opt, w0, lr=0.03, steps=6, record_every=6).w_final
    want = _numpy_steps(m, w0, opt, 0.03, 6)
    # same operations in the same order except the kernels' fused loops: agreement to a few ulp of |w| ~ 1
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("opt", [o for o, _ in OPTIMISERS if not isinstance(o, gdyn.SGD)], ids=lambda o: o.name)
def test_each_optimiser_follows_an_lr_schedule_like_a_numpy_oracle(opt):
    m = _mlp()
    w0 = m.init(seed=5)
    sched = 1.0 / np.sqrt(1.0 + np.arange(6))  # Daneshmand et al.'s gamma_k shape
    got = gdyn.run(m, opt, w0, lr=0.03, steps=6, record_every=6, lr_schedule=sched).w_final
    want = _numpy_steps(m, w0, opt, 0.03, 6, schedule=sched)
    # the kernel multiplies lr by the schedule once per step, as the oracle does: a few ulp of |w| ~ 1
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    # a function of the step index is the same schedule; all ones is the constant lr, bit for bit
    fn = gdyn.run(m, opt, w0, lr=0.03, steps=6, record_every=6, lr_schedule=lambda t: 1.0 / np.sqrt(1.0 + t))
    np.testing.assert_array_equal(fn.w_final, got)
    ones = gdyn.run(m, opt, w0, lr=0.03, steps=6, record_every=6, lr_schedule=np.ones(6))
    np.testing.assert_array_equal(ones.w_final, gdyn.run(m, opt, w0, lr=0.03, steps=6, record_every=6).w_final)


def test_lr_schedule_refuses_bad_input_by_name():
    m = _mlp()
    w0 = m.init(seed=0)
    for bad, err in [(np.ones(5), ValueError), (-np.ones(6), ValueError), (np.full(6, np.nan), ValueError),
                     (lambda t: t.undefined, TypeError), ("fast", TypeError)]:
        with pytest.raises(err, match="lr_schedule"):
            gdyn.gd(m, w0, 0.1, 6, lr_schedule=bad)
    # a zero multiplier freezes a step (a legitimate schedule, e.g. a warm-up from 0)
    frozen = gdyn.gd(m, w0, 0.1, 3, record_every=3, lr_schedule=np.zeros(3))
    np.testing.assert_array_equal(frozen.w_final, w0)


def test_sgd_with_the_whole_set_without_replacement_is_full_batch_gd():
    # a batch of all N samples drawn without replacement is a permutation: the same gradient up to the order
    # of summation (rounding only)
    m = _mlp()
    w0 = m.init(seed=1)
    a = gdyn.run(m, gdyn.SGD(batch_size=X.shape[0], replace=False), w0, lr=0.05, steps=10, record_every=10)
    b = gdyn.run(m, gdyn.GD(), w0, lr=0.05, steps=10, record_every=10)
    np.testing.assert_allclose(a.w_final, b.w_final, rtol=0, atol=1e-13)


def _zoo():
    rng = np.random.default_rng(3)
    Xs = rng.standard_normal((10, 3))
    M = rng.standard_normal((3, 3))
    J, Q, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3, 3)), rng.standard_normal(4)
    A, lab = rng.standard_normal((8, 3)), np.sign(rng.standard_normal(8))
    return [gm.mlp([3, 4, 1], "relu", data=(Xs, Xs[:, :1])), gm.deep_linear([3, 2, 1], data=(Xs, Xs[:, :1])),
            gm.diagonal_linear((Xs, Xs[:, 0]), depth=2), gm.matrix_factorisation(M, 2), gm.scalar_network(3),
            gm.squared_regression(Xs, Xs[:, 0]), gm.second_order_regression(J, Q + Q.transpose(0, 2, 1), y),
            gm.logistic_regression((A, lab), l2=0.01), gm.deep_matrix_factorisation(M, 3)]


def test_every_full_batch_optimiser_runs_on_every_zoo_model():
    for m in _zoo():
        w0 = m.init(seed=np.arange(2)) * 0.5
        for opt, _ in OPTIMISERS:
            if isinstance(opt, gdyn.SGD) and m.n_samples < 5:
                continue
            res = gdyn.run(m, opt, w0, lr=1e-3, steps=3, record_every=3)
            assert res.loss.shape == (2, 2) and np.all(np.isfinite(res.loss)), (m.name, opt.name)
            # a small step of any of these optimisers from the same start does not increase the loss by much
            assert np.all(res.loss[-1] <= res.loss[0] * (1 + 1e-2) + 1e-12), (m.name, opt.name)


def test_optimiser_values_validate_their_hyper_parameters():
    with pytest.raises(ValueError, match="beta"):
        gdyn.HeavyBall(beta=1.0)
    with pytest.raises(ValueError, match="eps"):
        gdyn.Adam(eps=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        gdyn.SGD(batch_size=0)
    with pytest.raises(TypeError, match="optimiser"):
        gdyn.run(_mlp(), "adam", np.zeros(_mlp().n_params), lr=0.1, steps=1)
    with pytest.raises(TypeError, match="HeavyBall"):
        gdyn.run(_mlp(), gdyn.GD(), np.zeros(_mlp().n_params), lr=0.1, steps=1, beta=0.9)


def test_an_lr_by_seed_grid_is_labelled():
    m = _mlp()
    w0 = m.init(seed=np.arange(4))
    np.testing.assert_array_equal(w0[3], m.init(seed=3))
    res = gdyn.gd(m, w0, lr=np.array([0.1, 0.2])[:, None], steps=20, record_every=10)
    ds = res.to_xarray()
    assert ds["loss"].dims == ("step", "lr", "seed")
    assert float(ds["loss"].sel(lr=0.1, seed=3, step=20)) == res.loss[-1, 0, 3]
    assert float(ds["loss"].sel(lr=0.2, seed=0, t=10)) == res.loss[1, 1, 0]
    assert res.lr.shape == (2, 4)  # the attribute keeps its broadcast shape
    # a slice of the labelled initialisation is a plain array: its axis is "run", never a wrong seed label
    plain = gdyn.gd(m, w0[1:], lr=0.1, steps=2).to_xarray()
    assert plain["loss"].dims == ("step", "run")
    mom = gdyn.run(m, gdyn.HeavyBall(beta=np.array([0.0, 0.5])[:, None]), w0, lr=0.1, steps=2).to_xarray()
    assert mom["loss"].dims == ("step", "beta", "seed")


def test_missing_outputs_say_how_to_get_them():
    res = gdyn.gd(_mlp(), _mlp().init(seed=0), 0.1, 2)
    with pytest.raises(AttributeError, match="observe=.*sharpness"):
        res.sharpness


def _warns_and_equal(call_old, call_new, arrays):
    with pytest.warns(GdsimDeprecationWarning, match="renamed|deprecated"):
        old = call_old()
    new = call_new()
    for name in arrays:
        np.testing.assert_array_equal(np.asarray(old[name]), np.asarray(new[name]), err_msg=name)


def test_old_keywords_warn_and_give_the_same_numbers():
    import gdsim.games as gg
    import gdsim.langevin as gl
    import gdsim.particles as gp

    pay = gg.payoff_t3()
    kw = dict(n_x=40, runs=2, seed=0)
    _warns_and_equal(lambda: gg.particle_gda(pay, 1.0, 1.0, T=0.02, **kw),
                     lambda: gg.particle_gda(pay, 1.0, 1.0, t_final=0.02, **kw), ["moments", "ni0"])
    _warns_and_equal(lambda: gg.mean_field_pde(pay, 0.3, 10.0, T=0.05, M=16),
                     lambda: gg.mean_field_pde(pay, 0.3, 10.0, t_final=0.05, M=16), ["t"])
    _warns_and_equal(lambda: gl.dyson_ou(3, 0.5, chains=5, steps=10, seed=1),
                     lambda: gl.dyson_ou(3, 0.5, runs=5, steps=10, seed=1), ["eigenvalues"])
    _warns_and_equal(lambda: gl.teacher_student_2x2(0.1, 0.1, 2, steps=10, chains=4, seed=1),
                     lambda: gl.teacher_student_2x2(0.1, 0.1, 2, steps=10, runs=4, seed=1), ["W"])
    _warns_and_equal(lambda: gl.perceptron_sgd(0.1, 20, d=4, seeds=2, max_epochs=20, seed=1),
                     lambda: gl.perceptron_sgd(0.1, 20, d=4, runs=2, max_epochs=20, seed=1), ["w1", "t_star"])
    _warns_and_equal(lambda: gl.park_network_sgd(0.01, 1.0, epochs=1, seeds=1, K=4, seed=1),
                     lambda: gl.park_network_sgd(0.01, 1.0, epochs=1, runs=1, width=4, seed=1), ["test_mse"])
    _warns_and_equal(lambda: gl.mlp_sgd(1.0, 0.1, P=16, d=3, h=4, seeds=1, max_epochs=1, seed=1),
                     lambda: gl.mlp_sgd(1.0, 0.1, n_samples=16, d=3, width=4, runs=1, max_epochs=1, seed=1), ["test_error"])
    with pytest.warns(GdsimDeprecationWarning, match="log_steps"):
        old = gp.record_steps(1000, 7)
    np.testing.assert_array_equal(old, __import__("gdsim").log_steps(1000, 7))
    with pytest.raises(TypeError, match="both"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gg.particle_gda(pay, 1.0, 1.0, t_final=0.02, T=0.02, **kw)


@pytest.mark.parametrize("replace,momentum,nesterov", [(True, 0.0, False), (False, 0.5, False), (True, 0.4, True)])
def test_sgd_matches_a_numpy_oracle_of_its_draw_and_update(replace, momentum, nesterov):
    """SGD's convention as its docstring writes it: run r's key is SeedSequence(seed).spawn(R)[r]'s first
    uint64; minibatch index i of step t is floor(u N) with u = uniform01(key, t, i) (with replacement) or
    position i of a partial Fisher-Yates shuffle driven by the same counters (without); the update is
    m <- beta m + g_B, w <- w - lr m (heavy ball) or w <- w - lr (g_B + beta m) (Nesterov)."""
    from gdsim._core.counter_rng import uniform01_numpy

    m = _mlp()
    N, B, R, seed, lr, steps = X.shape[0], 5, 2, 7, 0.05, 4
    w0 = m.init(seed=np.arange(R))
    got = gdyn.run(m, gdyn.SGD(batch_size=B, replace=replace, momentum=momentum, nesterov=nesterov), w0, lr=lr,
                   steps=steps, record_every=steps, seed=seed).w_final
    keys = [np.random.SeedSequence(seed).spawn(R)[r].generate_state(1, np.uint64)[0] for r in range(R)]
    for r in range(R):
        w, mom = np.array(w0[r], dtype=float), np.zeros(m.n_params)
        for t in range(steps):
            u = uniform01_numpy(keys[r], t, np.arange(N))
            if replace:
                idx = np.minimum(N - 1, (u[:B] * N).astype(np.int64))
            else:
                perm = np.arange(N)
                for i in range(B):
                    j = i + min(N - 1 - i, int(u[i] * (N - i)))
                    perm[i], perm[j] = perm[j], perm[i]
                idx = perm[:B]
            _, g = gm.mlp([4, 5, 2], "tanh", data=(X[idx], Y[idx])).loss_grad(w)
            mom = momentum * mom + g
            w = w - lr * ((g + momentum * mom) if nesterov else mom)
        # the same operations in the same order up to the kernels' fused loops: a few ulp of |w| ~ 1
        np.testing.assert_allclose(got[r], w, rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------------------- Langevin dynamics
def _numpy_langevin(m, W, lr, temperature, steps, seed):
    """Euler-Maruyama as in Langevin's docstring, in NumPy, with the noise from the same counter-based normal
    (its plain-Python form) keyed by (run key ^ LANGEVIN_SALT, step, index)."""
    from gdsim._core.counter_rng import build_normal_pair, keys_from_seed
    from gdsim.dynamics._kernels import LANGEVIN_SALT

    normal_pair = build_normal_pair(lambda f: f)
    keys = keys_from_seed(seed, W.shape[0])
    W = W.copy()
    P = W.shape[1]
    n_even = P + P % 2
    for r in range(W.shape[0]):
        key = np.uint64(keys[r]) ^ LANGEVIN_SALT
        for t in range(steps):
            with np.errstate(over="ignore"):  # SplitMix64 multiplies modulo 2^64 on purpose
                xi = np.array([z for j in range(0, P, 2) for z in normal_pair(key, t, n_even, j)])[:P]
            _, g = m.loss_grad(W[r])
            W[r] = W[r] - lr * g + np.sqrt(2 * lr * temperature) * xi
    return W


def test_langevin_matches_a_numpy_oracle_of_its_noise_and_update():
    m = _mlp()  # P = 37 (odd: the last normal pair's second draw is unused)
    assert m.n_params % 2 == 1
    w0 = m.init(seed=np.arange(2))
    got = gdyn.run(m, gdyn.Langevin(temperature=0.3), w0, lr=0.02, steps=5, record_every=5, seed=4).w_final
    want = _numpy_langevin(m, w0, 0.02, 0.3, 5, seed=4)
    # the noise is bit-identical (same counters, same arithmetic); the gradients differ from NumPy's by a few ulp
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    # with one seed per run, a run's noise depends on its own seed only: the same run alone gives the same bits
    both = gdyn.run(m, gdyn.Langevin(temperature=0.3), w0, lr=0.02, steps=5, record_every=5, seed=[10, 11]).w_final
    alone = gdyn.run(m, gdyn.Langevin(temperature=0.3), w0[1:], lr=0.02, steps=5, record_every=5, seed=[11]).w_final
    np.testing.assert_array_equal(alone[0], both[1])


def test_langevin_at_zero_temperature_is_gd_and_its_stationary_variance_is_exact():
    m = _mlp()
    w0 = m.init(seed=np.arange(2))
    a = gdyn.run(m, gdyn.Langevin(temperature=0.0), w0, lr=0.05, steps=8, record_every=8)
    b = gdyn.gd(m, w0, 0.05, 8, record_every=8)
    np.testing.assert_array_equal(a.w_final, b.w_final)

    def quadratic(w, h, g):
        for i in range(w.size):
            g[i] = h[i] * w[i]
        return 0.5 * (h * w * w).sum()

    h = np.array([1.0, 4.0])
    q = gm.custom(quadratic, 2, data=(h,))
    R, lr, T, steps = 4000, 0.05, 0.2, 400
    res = gdyn.run(q, gdyn.Langevin(temperature=T), np.zeros((R, 2)), lr=lr, steps=steps, record_every=steps)
    # the discretised Ornstein-Uhlenbeck chain w <- (1 - lr h) w + sqrt(2 lr T) xi from 0 has variance
    # 2 lr T (1 - a^(2 steps)) / (1 - a^2), a = 1 - lr h, exactly (not just to O(lr))
    a_ = 1 - lr * h
    exact = 2 * lr * T * (1 - a_ ** (2 * steps)) / (1 - a_ ** 2)
    var = res.w_final.var(axis=0)
    # the sample variance of R Gaussian draws has relative standard error sqrt(2 / R) = 2.2 %: 5 of them
    np.testing.assert_allclose(var, exact, rtol=5 * np.sqrt(2 / R))
    assert abs(np.corrcoef(res.w_final.T)[0, 1]) < 5 / np.sqrt(R)  # independent coordinates
    assert res.temperature.shape == (R,)


def test_langevin_validates_and_runs_on_every_zoo_model():
    with pytest.raises(ValueError, match="temperature"):
        gdyn.Langevin(temperature=-1.0)
    with pytest.raises(TypeError, match="temperature"):
        gdyn.Langevin(temperature="hot")
    for m in _zoo():
        w0 = m.init(seed=np.arange(2)) * 0.5
        res = gdyn.run(m, gdyn.Langevin(temperature=1e-12), w0, lr=1e-3, steps=3, record_every=3)
        assert np.all(np.isfinite(res.loss)), m.name
        # noise of size sqrt(2 lr T) ~ 1e-7.5 per step cannot raise the loss by 1 %
        assert np.all(res.loss[-1] <= res.loss[0] * (1 + 1e-2) + 1e-12), m.name


# ------------------------------------------------------------------------------------------- stop conditions
@pytest.mark.parametrize("opt", [gdyn.GD(), gdyn.HeavyBall(beta=0.5), gdyn.Adam(), gdyn.Langevin(temperature=1e-6)],
                         ids=lambda o: o.name)
def test_a_run_stops_at_its_first_step_below_stop_loss_and_the_others_keep_their_bits(opt):
    m = _mlp()
    w0 = m.init(seed=np.arange(3))
    lr, steps = 0.05, 60
    free = gdyn.run(m, opt, w0, lr=lr, steps=steps, record_every=1, observe=("loss", "w"))
    # thresholds crossed mid-run by runs 0 and 2; run 1 never stops (-inf)
    # (a relative 1e-9 above a recorded loss, so that the first hit does not hinge on the last bit of one value)
    stop = np.array([free.loss[20, 0], -np.inf, free.loss[45, 2]]) * (1 + 1e-9)
    res = gdyn.run(m, opt, w0, lr=lr, steps=steps, record_every=1, observe=("loss", "w"), stop_loss=stop)
    for r in range(3):
        hit = np.flatnonzero(free.loss[:, r] <= stop[r])
        first = int(hit[0]) if hit.size and hit[0] < steps else -1  # the last record has no step after it
        assert res.stopped_step[r] == first and res.stopped[r] == (first >= 0)
        if first >= 0:  # frozen at the iterate that met the condition, the same bits as the free run there
            np.testing.assert_array_equal(res.w[first:, r], np.broadcast_to(free.w[first, r], res.w[first:, r].shape))
            np.testing.assert_array_equal(res.w[:first + 1, r], free.w[:first + 1, r])
        else:
            np.testing.assert_array_equal(res.w[:, r], free.w[:, r])
    assert res.stopped_step[0] <= 20 and res.stopped_step[2] <= 45


def test_stop_loss_refuses_minibatches_and_bad_values():
    m = _mlp()
    w0 = m.init(seed=0)
    with pytest.raises(ValueError, match="stop_loss"):
        gdyn.run(m, gdyn.SGD(batch_size=4), w0, lr=0.1, steps=3, stop_loss=0.1)
    with pytest.raises(TypeError, match="stop_loss"):
        gdyn.gd(m, w0, 0.1, 3, stop_loss="low")
    with pytest.raises(ValueError, match="broadcast"):
        gdyn.gd(m, m.init(seed=np.arange(2)), 0.1, 3, stop_loss=np.zeros(3))


# ---------------------------------------------------------------------------------- declared observables
def test_observables_are_recorded_at_every_record_point_with_labelled_dims():
    m = _mlp()
    w0 = m.init(seed=4)  # one start, three learning rates: the batch axis is labelled lr
    norm = gdyn.Observable("w_norm", lambda W: np.linalg.norm(W, axis=1), doc="||w||")
    head = gdyn.Observable("head", lambda W: W[:, :2] ** 2)
    res = gdyn.run(m, gdyn.HeavyBall(beta=0.5), w0, lr=np.array([0.01, 0.02, 0.03]), steps=30, record_every=10,
                   observe=("loss", "w", norm, head))
    np.testing.assert_array_equal(res.w_norm, np.linalg.norm(res.w, axis=-1))  # same W, same function
    np.testing.assert_array_equal(res.head, res.w[..., :2] ** 2)
    assert res.to_xarray()["head"].dims == ("step", "lr", "head_0")
    assert "w_norm" in res.meta["config"]["observe"]
    flow = gdyn.gradient_flow(m, w0, 0.5, observe=("w", norm))
    np.testing.assert_allclose(flow.w_norm, np.linalg.norm(flow.w, axis=-1), rtol=0, atol=0)


def test_observables_refuse_bad_definitions_by_name():
    m = _mlp()
    with pytest.raises(TypeError, match="identifier"):
        gdyn.Observable("two words", np.sum)
    with pytest.raises(ValueError, match="taken"):
        gdyn.Observable("w_final", np.sum)
    with pytest.raises(TypeError, match="fn"):
        gdyn.Observable("x", 3.0)
    bad_shape = gdyn.Observable("total", lambda W: W.sum())
    with pytest.raises(ValueError, match="total"):
        gdyn.gd(m, m.init(seed=np.arange(2)), 0.1, 2, observe=(bad_shape,))
    raises = gdyn.Observable("boom", lambda W: 1 / 0)
    with pytest.raises(TypeError, match="boom"):
        gdyn.gd(m, m.init(seed=0), 0.1, 2, observe=(raises,))
    a = gdyn.Observable("dup", lambda W: W[:, 0])
    with pytest.raises(ValueError, match="dup"):
        gdyn.gd(m, m.init(seed=0), 0.1, 2, observe=(a, a))


# ------------------------------------------------------------------------------------- descent-ascent (games)
def test_gda_matches_a_numpy_oracle_of_simultaneous_descent_ascent():
    rng = np.random.default_rng(2)
    m = gm.matrix_factorisation(rng.standard_normal((3, 3)), 2)  # groups U, V: min over U, max over V
    names = [g.name for g in m.groups]
    w0 = m.init(seed=np.arange(2)) * 0.3
    ratio = np.array([0.5, 2.0])
    res = gdyn.run(m, gdyn.GDA(ascent=names[1], ratio=ratio), w0, lr=0.01, steps=7, record_every=7)
    want = w0.copy()
    vs = slice(m.groups[1].start, m.groups[1].stop)
    for r in range(2):
        for _ in range(7):
            _, g = m.loss_grad(want[r])
            step = -0.01 * g
            step[vs] = ratio[r] * 0.01 * g[vs]  # the ascent player climbs, ratio times faster
            want[r] = want[r] + step
    # the kernel's w - (-ratio lr) g against the oracle's w + ratio lr g: a few ulp of |w| ~ 0.3
    np.testing.assert_allclose(res.w_final, want, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(res.ratio, ratio)
    # ascent by index gives the same bits as ascent by group name
    by_index = gdyn.run(m, gdyn.GDA(ascent=m.groups[1].start, ratio=ratio), w0, lr=0.01, steps=7, record_every=7)
    np.testing.assert_array_equal(by_index.w_final, res.w_final)


def test_gda_converges_to_the_saddle_of_a_strongly_convex_concave_game_and_refuses_bad_players():
    def game(w, g):  # f(x, y) = x y + x^2 / 2 - y^2 / 2: the saddle (0, 0); GDA contracts for small lr
        g[0] = w[1] + w[0]
        g[1] = w[0] - w[1]
        return w[0] * w[1] + 0.5 * w[0] ** 2 - 0.5 * w[1] ** 2

    m = gm.custom(game, 2)
    res = gdyn.run(m, gdyn.GDA(ascent=1), np.array([[1.0, 1.0], [-2.0, 0.5]]), lr=0.1, steps=300, record_every=300)
    # the linear map [[1 - lr, -lr], [lr, 1 - lr]] has spectral radius |1 - lr + i lr| = 0.906: 0.906^300 ~ 1e-13
    assert np.abs(res.w_final).max() < 1e-10
    # plain GD on the same f runs away along y (f is concave in y): the ascent sign matters
    gd = gdyn.gd(m, np.array([1.0, 1.0]), 0.1, 300, record_every=300)
    assert gd.diverged or np.abs(gd.w_final).max() > 1e3
    with pytest.raises(ValueError, match="groups"):
        gdyn.run(_mlp(), gdyn.GDA(ascent="nope"), _mlp().init(seed=0), lr=0.1, steps=2)
    with pytest.raises(ValueError, match="ascent"):
        gdyn.run(m, gdyn.GDA(ascent=2), np.zeros(2), lr=0.1, steps=2)
    with pytest.raises(TypeError, match="ascent"):
        gdyn.GDA()
    with pytest.raises(ValueError, match="ratio"):
        gdyn.GDA(ascent=1, ratio=0.0)
