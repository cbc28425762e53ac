"""gdsim.data: offline loaders with fixed splits, documented preprocessing and stable checksums."""

import sys

import numpy as np
import pytest

import gdsim.data as gdata

# shapes of the fixed splits (scikit-learn: stratified 75/25 with seed 0; mnist1d: make_dataset's 4000/1000)
SHAPES = {"digits": ((1347, 64), (450, 64), 10), "mnist1d": ((4000, 40), (1000, 40), 10),
          "wine": ((133, 13), (45, 13), 3), "breast_cancer": ((427, 30), (142, 30), 2),
          "diabetes": ((332, 10), (110, 10), None)}


@pytest.mark.parametrize("name", sorted(gdata.NAMES))
def test_shapes_standardisation_and_stable_checksum(name):
    ds = gdata.load(name)
    tr, te, k = SHAPES[name]
    assert ds.X.shape == tr and ds.X_test.shape == te and ds.n_classes == k
    assert ds.X.dtype == np.float64 and np.isfinite(ds.X).all()
    # standardised with the training statistics: mean 0, std 1 (or 0 for constant features)
    np.testing.assert_allclose(ds.X.mean(axis=0), 0, atol=1e-12)
    assert np.all(np.isclose(ds.X.std(axis=0), 1) | np.isclose(ds.X.std(axis=0), 0))
    again = gdata.load(name)
    assert again.checksum == ds.checksum  # same arrays every call (generation and split are seeded)
    if k is not None:
        assert ds.y.dtype.kind == "i" and set(np.unique(ds.y)) == set(range(k))
        counts = np.bincount(ds.y) / ds.y.size
        full = np.bincount(np.concatenate([ds.y, ds.y_test])) / (ds.y.size + ds.y_test.size)
        np.testing.assert_allclose(counts, full, atol=0.01)  # stratified split keeps the class shares


def test_digits_constant_pixels_get_no_gradient():
    # spec: pixels 0, 32 and 39 are zero in every digits image, so a first-layer weight on them never moves
    import gdsim.models as gm

    ds = gdata.load("digits", n_samples=200)
    assert np.all(ds.X[:, [0, 32, 39]] == 0)
    m = gm.mlp([64, 8, 10], "tanh", data=(ds.X, ds.one_hot()))
    _, g = m.loss_grad(m.init(0))
    W0 = g[:8 * 64].reshape(8, 64)  # layout: W_0 (8, 64) row-major first
    assert np.all(W0[:, [0, 32, 39]] == 0) and np.abs(W0).max() > 0


def test_subsample_classes_and_targets():
    ds = gdata.load("digits", n_samples=500, seed=3)
    assert ds.X.shape == (500, 64) and np.bincount(ds.y).tolist() == [50] * 10
    assert not np.array_equal(ds.X, gdata.load("digits", n_samples=500, seed=4).X)
    oh = ds.one_hot()
    assert oh.shape == (500, 10) and np.all(oh.sum(axis=1) == 1) and np.all(oh.argmax(axis=1) == ds.y)
    two = gdata.load("digits", classes=(3, 8))
    assert two.classes == (3, 8) and two.n_classes == 2 and set(two.signs()) == {-1.0, 1.0}
    assert two.X.shape[0] + two.X_test.shape[0] == 183 + 174  # every 3 and 8 of load_digits, in one split or the other
    with pytest.raises(ValueError, match="signs"):
        ds.signs()
    with pytest.raises(ValueError, match="one_hot"):
        gdata.load("diabetes").one_hot()


def test_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        gdata.load("cifar10")
    with pytest.raises(TypeError, match="name"):
        gdata.load(3)
    with pytest.raises(ValueError, match="n_samples ="):
        gdata.load("wine", n_samples=10**5)
    with pytest.raises(ValueError, match="classes"):
        gdata.load("wine", classes=(0, 0))
    with pytest.raises(ValueError, match="classes"):
        gdata.load("diabetes", classes=(0, 1))


@pytest.mark.parametrize("name, package", [("digits", "sklearn"), ("mnist1d", "mnist1d")])
def test_missing_extra_gives_a_clear_error(monkeypatch, name, package):
    # a None entry in sys.modules makes "import package" raise ImportError, as without the extra
    for mod in list(sys.modules):
        if mod == package or mod.startswith(package + "."):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError, match=r"\.\[data\]"):
        gdata.load(name)


def test_no_loader_touches_the_network(monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("a loader opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in gdata.NAMES:
        gdata.load(name)
