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


def _numpy_steps(m, w, opt, lr, steps):
    """The update rules as written in the optimisers' docstrings, in plain NumPy (full batch)."""
    w = w.copy()
    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    for t in range(steps):
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
