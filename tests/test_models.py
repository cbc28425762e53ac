"""gdsim.models: zoo gradients against a NumPy oracle, HVPs against the complex step, custom models."""

import numba
import numpy as np
import pytest

import gdsim.models as gm
from gdsim.models._model import _complex_step_hvp
from tests import naive

RNG = np.random.default_rng(20261201)
X = RNG.standard_normal((25, 4))
Y = np.tanh(X[:, :3] + 0.3)
LABELS = np.eye(3)[RNG.integers(0, 3, 25)]
SIZES = [4, 5, 6, 3]


def _cs_hvp(m, w, vec):
    out = np.empty(m.n_params)
    _complex_step_hvp(m._loss_grad)(w, vec, *m.data, out)
    return out


def _random_point(m, scale=0.5):
    # random biases too: with zero biases a ReLU unit can sit exactly at its kink
    return scale * RNG.standard_normal(m.n_params)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "linear", "quadratic"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("scaling", ["standard", "ntk", "mean_field"])
def test_mlp_gradient_matches_numpy_oracle(activation, loss, scaling):
    target = Y if loss == "mse" else LABELS
    m = gm.mlp(SIZES, activation, loss, data=(X, target), scaling=scaling)
    w = _random_point(m)
    value, g = m.loss_grad(w)
    ref_value, ref_g = naive.mlp_loss_grad(w, X, target, SIZES, activation, loss, scaling)
    # both sum the same terms in a different order: agreement to a few ulps of the largest entry
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(g, ref_g, rtol=0, atol=1e-13 * np.abs(ref_g).max())


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "linear", "quadratic"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_mlp_hvp_matches_complex_step(activation, loss):
    target = Y if loss == "mse" else LABELS
    for scaling in ("standard", "mean_field"):
        m = gm.mlp(SIZES, activation, loss, data=(X, target), scaling=scaling)
        w = _random_point(m)
        vec = RNG.standard_normal(m.n_params)
        ref = _cs_hvp(m, w, vec)
        # the complex step has no subtraction: both are exact to rounding (acceptance: 1e-12)
        np.testing.assert_allclose(m.hvp(w, vec), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_mlp_without_bias_and_integer_labels():
    m = gm.mlp([4, 3, 3], "tanh", "cross_entropy", data=(X, LABELS.argmax(axis=1)), bias=False)
    assert m.n_params == 4 * 3 + 3 * 3
    w = _random_point(m)
    np.testing.assert_allclose(m.loss_grad(w)[1], naive.mlp_loss_grad(w, X, LABELS, [4, 3, 3], "tanh",
                                                                      "cross_entropy", bias=False)[1], atol=1e-14)
    assert 0.0 <= m.accuracy(w) <= 1.0


def test_small_zoo_models_hvp_match_complex_step():
    M = RNG.standard_normal((5, 4))
    from gdsim.sensing import make_problem

    prob = make_problem(6, 2, spectrum=[2.0, 1.0], measurements=40, seed=1)
    full = make_problem(6, 2, spectrum=[2.0, 1.0], seed=1)
    models = [gm.diagonal_linear((X, Y[:, 0]), depth=3), gm.matrix_factorisation(M, 2), gm.scalar_network(5),
              gm.squared_regression(X, Y[:, 0]), gm.matrix_sensing(prob, 3), gm.matrix_sensing(full, 3),
              gm.deep_linear([4, 3, 2, 3], data=(X, Y))]
    for m in models:
        w = _random_point(m, 0.8)
        vec = RNG.standard_normal(m.n_params)
        ref = _cs_hvp(m, w, vec)
        np.testing.assert_allclose(m.hvp(w, vec), ref, rtol=0, atol=1e-12 * np.abs(ref).max(), err_msg=m.name)
        # and the gradient against central differences of the loss (independent of the kernels' algebra)
        e = 1e-6
        fd = np.array([(m.loss(w + e * u) - m.loss(w - e * u)) / (2 * e) for u in np.eye(m.n_params)[:6]])
        np.testing.assert_allclose(m.loss_grad(w)[1][:6], fd, rtol=1e-6, atol=1e-7, err_msg=m.name)


def test_scalar_network_model_matches_oracle_hessian():
    m = gm.scalar_network(4, a=1.3, b=0.7)
    w = np.array([0.9, 1.1, 0.8, 1.2])
    np.testing.assert_allclose(m.hessian(w), naive.scalar_hessian(w, a=1.3, b=0.7), rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------------------------------ custom models
@numba.njit
def _quartic(w, a, g):
    r = w * w - a
    for i in range(w.size):
        g[i] = 4.0 * r[i] * w[i]
    return np.sum(r * r)


@numba.njit
def _quartic_not_generic(w, a, g):
    # np.empty(n) is float64 whatever w is: the complex step cannot run through it
    r = np.empty(w.size)
    for i in range(w.size):
        r[i] = w[i] * w[i] - a[i]
        g[i] = 4.0 * r[i] * w[i]
    return np.sum(r * r)


def test_custom_model_uses_the_complex_step_and_is_exact():
    a = np.array([1.0, 2.0, 0.5])
    m = gm.custom(_quartic, 3, data=(a,))
    assert m.hvp_method == "complex_step"
    w = np.array([0.3, -1.2, 0.9])
    H = np.diag(12 * w**2 - 4 * a)
    np.testing.assert_allclose(m.hessian(w), H, rtol=1e-14, atol=1e-14)
    assert m.provenance()["hvp_method"] == "complex_step"


def test_custom_model_falls_back_to_central_differences():
    a = np.array([1.0, 2.0, 0.5])
    with pytest.warns(gm.HVPFallbackWarning, match="not complex-step safe"):
        m = gm.custom(_quartic_not_generic, 3, data=(a,))
    assert m.hvp_method == "central_difference"
    w = np.array([0.3, -1.2, 0.9])
    # documented accuracy of central differences: about 1e-10 relative for O(1) third derivatives
    np.testing.assert_allclose(m.hessian(w), np.diag(12 * w**2 - 4 * a), rtol=1e-8, atol=1e-8)


def test_custom_plain_python_function_is_compiled():
    def lg(w, g):
        for i in range(w.size):
            g[i] = w[i]
        return 0.5 * np.sum(w * w)

    m = gm.custom(lg, 4)
    assert m.hvp_method == "complex_step"
    np.testing.assert_allclose(m.hessian(np.ones(4)), np.eye(4), atol=1e-15)


def _plain_python_helper(w):
    return 0.0


def test_custom_model_errors_are_clear():
    def not_numba(w, g):
        return _plain_python_helper(w)  # a call into plain Python: Numba cannot type it

    with pytest.raises(TypeError, match="loss_grad .*not_numba.* could not be compiled by Numba"):
        gm.custom(not_numba, 3)

    @numba.njit
    def short_grad(w, g):
        g[:2] = w[:2]
        return 0.0

    with pytest.raises(ValueError, match="unwritten"):
        gm.custom(short_grad, 3)

    @numba.njit
    def long_grad(w, g):
        for i in range(w.size + 2):
            g[i] = 1.0
        return 0.0

    with pytest.raises(ValueError, match="outside"):
        gm.custom(long_grad, 3)
    with pytest.raises(ValueError, match="NaN"):
        gm.custom(_quartic, 3, data=(np.array([1.0, np.nan, 0.0]),))
    with pytest.raises(TypeError, match="loss_grad must be a function"):
        gm.custom(3.0, 3)
    with pytest.raises(ValueError, match="n_params"):
        gm.custom(_quartic, 0, data=(np.ones(3),))


def test_init_is_per_run_and_reproducible():
    m = gm.mlp(SIZES, "tanh", data=(X, Y))
    a = m.init(seed=5, batch=(3, 2))
    assert a.shape == (3, 2, m.n_params)
    np.testing.assert_array_equal(a, m.init(seed=5, batch=(3, 2)))
    ss = np.random.SeedSequence(5)
    np.testing.assert_array_equal(m.init(ss, batch=(6,)), m.init(ss, batch=(6,)))
    # run i's draw depends on its own child seed only: the first runs of a bigger batch are the same
    np.testing.assert_array_equal(m.init(seed=5, batch=(6,))[:2], m.init(seed=5, batch=(2,)))
    # standard scaling: W ~ N(0, 1/fan_in)
    big = gm.mlp([400, 300, 1], "tanh", data=(np.zeros((2, 400)), np.zeros(2)))
    w = big.init(0)
    assert np.std(w[:400 * 300]) == pytest.approx(1 / np.sqrt(400), rel=0.02)


def test_mlp_layout_is_the_documented_one():
    m = gm.mlp([2, 3, 1], "linear", data=(np.array([[1.0, 2.0]]), np.array([0.0])))
    W0 = np.arange(6.0).reshape(3, 2) / 10
    b0 = np.array([0.1, -0.2, 0.3])
    W1 = np.array([[1.0, -1.0, 0.5]])
    b1 = np.array([0.25])
    w = np.concatenate([W0.ravel(), b0, W1.ravel(), b1])
    f = W1 @ (W0 @ np.array([1.0, 2.0]) + b0) + b1
    assert m.loss(w) == pytest.approx(0.5 * f[0] ** 2, rel=1e-15)


# ------------------------------------------------------------------------------------------ misuse (issue 30)
import warnings  # noqa: E402

import gdsim.dynamics as gdyn  # noqa: E402


@numba.njit("float64(float64[:], float64[:], float64[:])")
def _eager_quartic(w, a, g):
    r = w * w - a
    for i in range(w.size):
        g[i] = 4.0 * r[i] * w[i]
    return np.sum(r * r)


@numba.jit(forceobj=True)
def _forceobj_quartic(w, a, g):
    r = w * w - a
    for i in range(w.size):
        g[i] = 4.0 * r[i] * w[i]
    return np.sum(r * r)


@pytest.mark.parametrize("kernel", [_eager_quartic, _forceobj_quartic], ids=["eager", "forceobj"])
def test_eager_and_forceobj_kernels_are_recompiled_and_run(kernel):
    a = np.array([1.0, 2.0, 0.5])
    m = gm.custom(kernel, 3, data=(a,))
    w = np.array([0.3, -1.2, 0.9])
    # the same model as the lazily jitted one: loss, gradient and the exact Hessian diag(12 w^2 - 4 a)
    assert m.hvp_method == "complex_step"
    np.testing.assert_allclose(m.hessian(w), np.diag(12 * w**2 - 4 * a), rtol=1e-14, atol=1e-14)
    res = gdyn.gd(m, w, 0.01, 3, observe=("loss",))
    ref = gdyn.gd(gm.custom(_quartic, 3, data=(a,)), w, 0.01, 3, observe=("loss",))
    np.testing.assert_array_equal(res.loss, ref.loss)


def test_wrong_arity_names_the_signature():
    def one_arg(w):
        return 0.0

    with pytest.raises(TypeError, match=r"takes 1 positional.*loss_grad\(w, \*data, g\)"):
        gm.custom(one_arg, 3, data=(np.ones(3),))

    def hvp_short(w, v, out):
        out[:] = v

    with pytest.raises(TypeError, match=r"hvp .*hvp\(w, v, \*data, out\)"):
        gm.custom(_quartic, 3, data=(np.ones(3),), hvp=hvp_short)


def test_nan_loss_at_the_probe_point_is_rejected():
    @numba.njit
    def nan_loss(w, g):
        for i in range(w.size):
            g[i] = w[i]
        return np.log(-1.0 + 0.0 * w[0])

    with pytest.raises(ValueError, match="loss_grad returned the loss nan"):
        gm.custom(nan_loss, 3)


@numba.njit
def _skips_far_out(w, g):
    """0.5 |w|^2, but away from the probe point (w[0] > 0.5) it forgets g[1:]."""
    g[0] = w[0]
    if w[0].real <= 0.5:
        for i in range(1, w.size):
            g[i] = w[i]
    return 0.5 * np.sum(w * w)


def test_a_skipped_gradient_entry_is_zero_not_uninitialised_memory():
    m = gm.custom(_skips_far_out, 4)
    w = np.full((3, 4), 2.0)
    for _ in range(3):  # fresh buffers each time: without zeroing, whatever memory they reuse shows through
        _, g = m.loss_grad(w)
        np.testing.assert_array_equal(g[:, 1:], 0.0)
    a = gdyn.gd(m, w, 0.1, 5, record_every=1, observe=("loss", "grad_norm"))
    b = gdyn.gd(m, w, 0.1, 5, record_every=1, observe=("loss", "grad_norm"))
    # GD moves only w[0] (1.8, 1.62, ...); the recorded gradient norm is |w[0]|
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    np.testing.assert_allclose(a.grad_norm[:, 0], 2.0 * 0.9 ** np.arange(6), rtol=1e-14)


def test_top_eigenvalues_flags_a_nan_gradient():
    @numba.njit
    def nan_far_out(w, g):
        for i in range(w.size):
            g[i] = w[i] if w[0].real < 0.5 else np.nan
        return 0.5 * np.sum(w * w)

    m = gm.custom(nan_far_out, 3)
    with pytest.warns(gm.NonFiniteResultWarning, match=r"1 of 2 points .*loss or gradient is NaN"):
        lam = gdyn.top_eigenvalues(m, np.array([[0.1, 0.2, 0.3], [1.0, 1.0, 1.0]]))
    assert lam[0, 0] == pytest.approx(1.0, rel=1e-12) and np.isnan(lam[1, 0])


def test_fallback_is_recorded_in_result_metadata():
    a = np.array([1.0, 2.0, 0.5])
    with pytest.warns(gm.HVPFallbackWarning):
        m = gm.custom(_quartic_not_generic, 3, data=(a,))
    res = gdyn.gd(m, np.array([0.3, -1.2, 0.9]), 0.01, 2, observe=("loss", "sharpness"))
    assert res.meta["hvp_method"] == "central_difference"
    assert res.meta["model"]["hvp_method"] == "central_difference"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complex-step-safe kernel does not warn
        assert gm.custom(_quartic, 3, data=(a,)).hvp_method == "complex_step"


@numba.njit
def _relu_abs(w, x, y, g):
    """A ReLU unit written with abs(): runs on complex input but drops the imaginary part (not complex-step safe)."""
    z = w[0] * x
    a = 0.5 * (z + np.abs(z))
    r = w[1] * a - y
    g[0] = np.sum(r * w[1] * (z.real > 0) * x) / x.size
    g[1] = np.sum(r * a) / x.size
    return 0.5 * np.sum(r * r) / x.size


@numba.njit
def _relu_safe(w, x, y, g):
    z = w[0] * x
    a = np.where(z.real > 0, z, 0)
    r = w[1] * a - y
    g[0] = np.sum(r * w[1] * (z.real > 0) * x) / x.size
    g[1] = np.sum(r * a) / x.size
    return 0.5 * np.sum(r * r) / x.size


def test_a_complex_step_broken_by_abs_is_detected():
    x = np.linspace(-1.0, 1.0, 9)
    y = np.maximum(x, 0.0)
    with pytest.warns(gm.HVPFallbackWarning, match="disagrees with central differences"):
        broken = gm.custom(_relu_abs, 2, data=(x, y))
    safe = gm.custom(_relu_safe, 2, data=(x, y))
    assert (broken.hvp_method, safe.hvp_method) == ("central_difference", "complex_step")
    w = np.array([0.7, 1.3])
    # the exact Hessian of 0.5 mean (w1 relu(w0 x) - y)^2 (x > 0 part; the kink is not at a sample)
    p = x > 0
    f = w[1] * w[0] * x - y
    H = np.array([[np.sum(p * (w[1] * x) ** 2), np.sum(p * (w[0] * x * x * w[1] + f * x))],
                  [0.0, np.sum(p * (w[0] * x) ** 2)]]) / x.size
    H[1, 0] = H[0, 1]
    np.testing.assert_allclose(safe.hessian(w), H, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(broken.hessian(w), H, rtol=1e-7, atol=1e-9)  # central differences: ~1e-10


def test_mse_with_integer_labels_is_one_hot_encoded():
    labels = RNG.integers(0, 3, 25)
    m = gm.mlp([4, 5, 3], "tanh", "mse", data=(X, labels))
    np.testing.assert_array_equal(m.data[1], np.eye(3)[labels])
    with pytest.raises(ValueError, match=r"one-hot encode"):
        gm.mlp([4, 5, 3], "tanh", "mse", data=(X, labels + 0.5))

    @numba.njit
    def mse_3(w, X, Y, g):
        W = w.reshape(4, 3)
        R = X @ W - Y
        g[:] = (X.T @ R).ravel() / X.shape[0]
        return 0.5 * np.sum(R * R) / X.shape[0]

    with pytest.raises(ValueError, match=r"one-hot encode it first"):
        gm.custom(mse_3, 12, data=(X, labels))


def test_data_of_the_wrong_shape_never_reaches_a_kernel():
    m = gm.mlp([4, 5, 3], "tanh", "mse", data=(X, Y))
    w = m.init(0)
    assert m.with_data((X[:7], Y[:7])).loss(w) == pytest.approx(gm.mlp([4, 5, 3], data=(X[:7], Y[:7])).loss(w))
    with pytest.raises(ValueError, match=r"data\[0\] \(X\) has 3 features but sizes\[0\] = 4"):
        m.with_data((X[:, :3], Y))
    with pytest.raises(ValueError, match=r"data\[1\].*N = 25"):
        m.with_data((X, Y[:20]))
    with pytest.raises(ValueError, match="architecture"):
        m.with_data((X, Y, m.data[2] + 1))
    with pytest.raises(ValueError, match=r"test_data\[0\] \(X\) has 3 features"):
        gm.diagonal_linear((X, Y[:, 0]), test_data=(X[:, :3], Y[:, 0]))
    with pytest.raises(ValueError, match=r"data\[1\].*N = 25"):
        gm.diagonal_linear((X, Y[:, 0])).with_data((X, Y[:5, 0]))
    with pytest.raises(ValueError, match=r"data\[0\] has shape \(4, 4\).*needs shape \(5, 4\)"):
        gm.matrix_factorisation(RNG.standard_normal((5, 4)), 2).with_data((np.eye(4),))
    a = np.array([1.0, 2.0, 0.5])
    q = gm.custom(_quartic, 3, data=(a,), per_sample=(False,))  # a is not one row per sample: its shape is fixed
    with pytest.raises(ValueError, match=r"data\[0\] has shape \(4,\)"):
        q.with_data((np.ones(4),))

    @numba.njit
    def lin(w, X, y, g):
        r = X @ w - y
        g[:] = X.T @ r / y.size
        return 0.5 * np.mean(r * r)

    with pytest.raises(ValueError, match=r"test_data\[1\] has shape \(25, 1\).*\(n_samples,\)"):
        gm.custom(lin, 4, data=(X, Y[:, 0]), test_data=(X, Y[:, :1]))
    with pytest.raises(ValueError, match=r"test_data\[1\] has 20 samples"):
        gm.custom(lin, 4, data=(X, Y[:, 0]), test_data=(X, Y[:20, 0]))
