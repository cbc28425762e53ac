"""Explicit starts (gdsim.fractal.Problem): passing the default problem gives the default call's bits,
through every public path (maps, offset maps, minibatch, tiled stored windows, zooms); a different
start gives a different map; contradicting arguments are refused."""

import numpy as np
import pytest

import gdsim.fractal as gf

LR = np.logspace(-1, 4, 20)


def _copy(p):
    # the same numbers through fresh arrays (as a user would load a published start)
    return gf.Problem(p.W0.copy(), p.W1.copy(), p.X.copy(), p.Y.copy(), p.rows.copy(), p.activation)


def test_default_problem_given_explicitly_gives_identical_bits():
    ref = gf.trainability_map(LR, LR, n=8, steps=30, seed=4)
    p = gf.problem(8, "tanh", 30, 4)
    np.testing.assert_array_equal(gf.trainability_map(LR, LR, steps=30, problem=p), ref)
    np.testing.assert_array_equal(gf.trainability_map(LR, LR, n=8, activation="tanh", steps=30, problem=_copy(p)), ref)
    # built from the arrays alone (rows and activation at their defaults: full batch, tanh)
    np.testing.assert_array_equal(gf.trainability_map(LR, LR, steps=30, problem=gf.Problem(p.W0, p.W1, p.X, p.Y)),
                                  ref)


def test_minibatch_and_offset_problems_give_identical_bits():
    # n = 8, tanh: the kernels test_fractal.py compiles too (the kernels are compiled per process)
    mb = gf.trainability_map(LR, LR, n=8, steps=25, seed=2, batch_size=4)
    p = gf.problem(8, "tanh", 25, 2, batch_size=4)
    assert p.rows.shape == (25, 4) and not p.full_batch
    np.testing.assert_array_equal(gf.trainability_map(LR, LR, steps=25, problem=_copy(p)), mb)
    off, lr = np.array([1e-4, 1e-2, 0.3]), np.array([0.1, 3.0, 100.0])
    ref = gf.offset_map(off, lr, n=8, steps=30, seed=2)
    np.testing.assert_array_equal(gf.offset_map(off, lr, steps=30, problem=_copy(gf.problem(8, "tanh", 30, 2))), ref)


def test_windows_stored_tiles_and_zooms_accept_a_problem(tmp_path):
    p = _copy(gf.problem(8, "tanh", 30, 0))
    direct = gf.window_map((1.0, 1.0), 2.0, 40, steps=30)
    given = gf.window_map((1.0, 1.0), 2.0, 40, steps=30, problem=p)
    tiled = gf.window_map((1.0, 1.0), 2.0, 40, steps=30, problem=p, store=tmp_path / "w.zarr", tile=16)
    for a, b, c in zip(direct, given, tiled):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    z0 = gf.zoom_sequence((1.5, 1.5), 4.5, 2, factor=10, resolution=32, steps=30)
    z1 = gf.zoom_sequence((1.5, 1.5), 4.5, 2, factor=10, resolution=32, steps=30, problem=p)
    for e0, e1 in zip(z0, z1):
        np.testing.assert_array_equal(e0["score"], e1["score"])


def test_another_start_gives_another_map():
    p = gf.problem(8, "tanh", 30, 4)
    ref = gf.trainability_map(LR, LR, steps=30, problem=p)
    moved = gf.Problem(p.W0 * 1.5, p.W1, p.X, p.Y)
    assert not np.array_equal(gf.trainability_map(LR, LR, steps=30, problem=moved), ref)


def test_problem_arrays_are_copied_and_checked():
    p = gf.problem(3, "relu", 5, 1)
    W0 = p.W0.copy()
    q = gf.Problem(W0, p.W1, p.X, p.Y, activation="relu")
    W0[0, 0] = 99.0  # the problem holds its own copy
    assert q.W0[0, 0] == p.W0[0, 0] and q.activation == "relu" and q.full_batch
    assert q.to_dict()["W0"] == p.W0.tolist()
    np.testing.assert_array_equal(gf.Problem(**q.to_dict()).X, p.X)


@pytest.mark.parametrize("call, match", [
    (lambda p: gf.trainability_map(LR, LR, problem="abc"), "problem"),
    (lambda p: gf.trainability_map(LR, LR, n=5, problem=p), "n = 5"),
    (lambda p: gf.trainability_map(LR, LR, activation="relu", problem=p), "activation"),
    (lambda p: gf.trainability_map(LR, LR, seed=3, problem=p), "seed"),
    (lambda p: gf.trainability_map(LR, LR, n_data=4, problem=p), "n_data"),
    (lambda p: gf.window_map((1.0, 1.0), 1.0, 8, batch_size=2, problem=p), "batch_size"),
    (lambda p: gf.Problem(p.W0[:2], p.W1, p.X, p.Y), "W0"),
    (lambda p: gf.Problem(p.W0, p.W1[:2], p.X, p.Y), "W1"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X[:, :2], p.Y), "X"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X, p.Y[:2]), "Y"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X, np.full_like(p.Y, np.nan)), "Y"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X, p.Y, rows=[[0, 99]]), "rows"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X, p.Y, rows=[0.5]), "rows"),
    (lambda p: gf.Problem(p.W0, p.W1, p.X, p.Y, activation="sigmoid"), "activation"),
])
def test_bad_problems_get_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(gf.problem(8, "tanh", 10, 0))
