"""Trainability maps (Sohl-Dickstein 2024): exact checks against the notebook's update, box counting on
sets of known dimension, determinism, tiling, validation, the zoomed-slope claim of the spec, explicit
starts (Problem) and the reproduction's tiers."""

import inspect
import json

import numba
import numpy as np
import pytest

import gdsim
import gdsim.fractal as gf
from gdsim.fractal import _api
from tests import naive


def _oracle_map(lr0, lr1, steps, off=None, **kw):
    """Scores of cells (lr0[c], lr1[c]) (or offset cells) from the NumPy oracle."""
    act = kw.get("activation", "tanh")
    p = gf.problem(kw.get("n", 8), act, steps, kw.get("seed", 0), n_samples=kw.get("n_samples"),
                   batch_size=kw.get("batch_size"))
    rows = None if kw.get("batch_size") is None else p.rows
    offs = np.zeros(len(lr0)) if off is None else off
    return np.array([naive.trainability_score(p.W0, p.W1, p.X, p.Y, a, b, steps, act, offset=o, rows=rows)
                     for a, b, o in zip(lr0, lr1, offs)])


def test_phase_corners():
    # spec section 1, CI claim 1 (exact boolean): n = 8, tanh, 100 steps
    s = gf.trainability_map([1e-3, 1e6], [1e-3, 1e6], n=8, activation="tanh", steps=100, seed=0)
    assert s[0, 0] < 0  # (1e-3, 1e-3) trains
    assert s[1, 1] > 0  # (1e6, 1e6) diverges


def test_coarse_map_converged_fraction():
    # spec CI claim 2: the 64^2 first view [-3, 6]^2 at n = 8, 100 steps. The spec's reference run gave
    # 0.453 with its own draw; the fraction depends on the draw, so the spec asks for the band [0.3, 0.6].
    lr = np.logspace(-3, 6, 64)
    frac = gf.converged_fraction(gf.trainability_map(lr, lr, n=8, steps=100, seed=0))
    assert 0.3 <= frac <= 0.6


@pytest.mark.parametrize("kw", [
    dict(activation="tanh", n=8),
    dict(activation="relu", n=5),
    dict(activation="identity", n=9),
    dict(activation="tanh", n=3, batch_size=4),
    dict(activation="tanh", n=4, n_samples=1),
])
@pytest.mark.parametrize("parallel", [False, True])
def test_kernel_matches_notebook_oracle(kw, parallel):
    # Random cells over 10 decades, 19 of them (not a multiple of the 8 SIMD lanes), with diverging ones
    # (their NaN tails are fast-forwarded by the kernel). The CPU tanh is a 3-ulp polynomial and sums run in
    # another order than NumPy's; a diverging, chaotic cell amplifies those ulps (measured: 1e-9 relative
    # after 30 steps), so rtol 1e-8, still far below any difference that could change a cell's phase.
    rng = np.random.default_rng(1)
    lr0, lr1 = 10 ** rng.uniform(-3, 6, 19), 10 ** rng.uniform(-3, 6, 19)
    steps = 30
    ref = _oracle_map(lr0, lr1, steps, seed=3, **kw)
    p = gf.problem(kw["n"], kw["activation"], steps, 3, n_samples=kw.get("n_samples"), batch_size=kw.get("batch_size"))
    got = _api._score_cells(p, lr0, lr1, np.zeros(19), steps, offset_mode=False, parallel=parallel, progress=False,
                            desc="")
    assert (ref > 0).any() and (ref < 0).any()  # both phases are exercised
    np.testing.assert_allclose(got, ref, rtol=1e-8)


def test_offset_map_matches_oracle_and_applies_offset_every_step():
    offs, lrs = np.array([1e-4, 1e-2, 0.3]), np.array([0.1, 3.0, 100.0])
    got = gf.offset_map(offs, lrs, n=4, steps=30, seed=2)
    O, L = np.meshgrid(offs, lrs, indexing="ij")
    ref = _oracle_map(L.ravel(), L.ravel(), 30, off=O.ravel(), n=4, seed=2).reshape(3, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    # an offset applied once would leave lr -> 0 untouched; applied every step it drifts W0 by steps * h,
    # so at a tiny learning rate a large offset still changes the loss trace
    tiny = gf.offset_map([1e-6, 1.0], [1e-9], n=4, steps=30, seed=2)
    assert tiny[0, 0] != tiny[1, 0]


def test_same_bits_for_threads_chunking_and_seed_objects(monkeypatch):
    lr = np.logspace(-1, 5, 24)
    ref = gf.trainability_map(lr, lr, n=8, steps=40, seed=np.random.SeedSequence(7))
    again = gf.trainability_map(lr, lr, n=8, steps=40, seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(ref, again)
    ss = np.random.SeedSequence(7)  # the same object twice
    np.testing.assert_array_equal(gf.trainability_map(lr, lr, n=8, steps=40, seed=ss),
                                  gf.trainability_map(lr, lr, n=8, steps=40, seed=ss))
    default_threads = numba.get_num_threads()
    try:
        for nthreads in (1, 2):
            numba.set_num_threads(nthreads)
            np.testing.assert_array_equal(gf.trainability_map(lr, lr, n=8, steps=40, seed=7), ref)
    finally:
        numba.set_num_threads(default_threads)
    monkeypatch.setattr(_api, "CELLS_PER_CALL", 40)  # other call boundaries, other padding
    np.testing.assert_array_equal(gf.trainability_map(lr, lr, n=8, steps=40, seed=7), ref)
    np.testing.assert_array_equal(gf.trainability_map(lr, lr, n=8, steps=40, seed=7, parallel=False), ref)


def test_tiled_sweep_equals_direct_call_and_resumes(tmp_path):
    direct = gf.window_map((1.0, 1.0), 2.0, 40, steps=30)
    store = tmp_path / "w.zarr"
    tiled = gf.window_map((1.0, 1.0), 2.0, 40, steps=30, store=store, tile=16)
    for a, b in zip(direct, tiled):
        np.testing.assert_array_equal(a, b)
    again = gf.window_map((1.0, 1.0), 2.0, 40, steps=30, store=store, tile=16)  # finished: nothing to run
    np.testing.assert_array_equal(again[2], direct[2])
    off = gf.window_map((-1.0, 0.5), 1.0, 16, steps=20, phase_space="offset_vs_lr")
    off_t = gf.window_map((-1.0, 0.5), 1.0, 16, steps=20, phase_space="offset_vs_lr", store=tmp_path / "o.zarr",
                          tile=16)
    np.testing.assert_array_equal(off[2], off_t[2])


def _sierpinski(k):
    i, j = np.indices((2**k, 2**k))
    return (i & j) == 0  # Pascal's triangle mod 2: N(2^s boxes) = 3^(k - s) exactly


def test_box_counting_on_sets_of_known_dimension():
    # the calibrated default (more sets in tests/test_fractal_boxcount.py)
    img = np.zeros((512, 512), bool)
    img[200, :] = True
    assert gf.box_counting_dimension(img) == pytest.approx(1.0, abs=1e-12)
    diag = np.eye(512, dtype=bool)
    assert gf.box_counting_dimension(diag) == pytest.approx(1.0, abs=1e-12)
    filled = np.ones((512, 512), bool)
    assert gf.box_counting_dimension(filled) == pytest.approx(2.0, abs=1e-12)
    assert gf.box_counting_dimension(_sierpinski(9)) == pytest.approx(np.log(3) / np.log(2), abs=1e-12)
    # the porespy-sized median estimator, with the textbook count
    pk = dict(method="porespy", count="any")
    assert gf.box_counting_dimension(img, **pk) == pytest.approx(1.0, abs=0.03)
    assert gf.box_counting_dimension(diag, **pk) == pytest.approx(1.0, abs=0.03)
    assert gf.box_counting_dimension(filled, 2 ** np.arange(9), **pk) == pytest.approx(2.0, rel=1e-12)
    # porespy's sizes 10..512 do not divide 512: partial boxes at the edge bias the count (within 0.1)
    assert gf.box_counting_dimension(filled, **pk) == pytest.approx(2.0, abs=0.1)
    square = np.zeros((512, 512), bool)
    square[56:456, 56:456] = True
    # porespy's "mixed" boxes of a filled square are those on its border: dimension 1
    assert gf.box_counting_dimension(square, 2 ** np.arange(1, 7), method="porespy") == pytest.approx(1.0, abs=0.1)
    tri = _sierpinski(9)
    sizes = 2 ** np.arange(0, 9)
    # exact at dyadic box sizes: every slope is log 3 / log 2
    _, counts, slopes = gf.box_counts(tri, sizes)
    np.testing.assert_array_equal(counts, 3 ** (9 - np.arange(9)))
    np.testing.assert_allclose(slopes, np.log(3) / np.log(2), rtol=1e-12)
    # porespy's default sizes 10..512 are not dyadic: boxes straddle the triangle's self-similar blocks and
    # the local slopes scatter (1.37-2.50 measured); their median lands within 0.1 (measured 1.653)
    assert gf.box_counting_dimension(tri, **pk) == pytest.approx(np.log(3) / np.log(2), abs=0.1)
    assert np.isnan(gf.box_counting_dimension(np.zeros((32, 32), bool)))
    assert np.isnan(gf.box_counting_dimension(np.zeros((32, 32), bool), method="porespy"))


def test_boundary_is_the_notebooks_sign_change():
    s = np.array([[-1.0, -1.0, 2.0], [-1.0, 3.0, 2.0], [-2.0, -2.0, -2.0]])
    e = gf.boundary(s)
    np.testing.assert_array_equal(e, [[True, True], [True, True]])
    np.testing.assert_array_equal(gf.boundary(-np.ones((3, 3))), np.zeros((2, 2), bool))
    # +inf (loss hit exactly 0, then no convergence: the notebook's sum 1/v) is a diverged cell
    np.testing.assert_array_equal(gf.boundary([[-1.0, np.inf], [-1.0, -1.0]]), [[True]])


@pytest.mark.slow
def test_zoomed_mixed_windows_are_fractal():
    # spec CI claim 3: from boundary cells of a coarse 48^2 map, windows of half-width 0.02 decades at
    # 64^2; only windows with converged fraction in [0.2, 0.8] count (a window that is almost one phase has
    # a smooth boundary of slope ~1). The spec's reference windows gave 1.25-2.00; a smooth boundary would
    # give 1.0, so a median >= 1.2 separates the two with margin. Measured here: 5 of 24 windows are mixed,
    # median slope 1.67 (and 1.47 over 24 windows of half-width 0.2).
    a0, a1 = gf.window_axes((1.5, 1.5), 4.5, 48)
    coarse = gf.trainability_map(a0, a1, n=8, steps=100, seed=0)
    masks = []
    for c in gf.boundary_centers(coarse, a0, a1, 24, seed=0):
        _, _, s = gf.window_map(c, 0.02, 64, n=8, steps=100, seed=0)
        if 0.2 <= gf.converged_fraction(s) <= 0.8:
            masks.append(gf.boundary(s))
    assert len(masks) >= 2
    assert gf.box_counting_dimension(masks, method="porespy") >= 1.2


def test_zoom_sequence_narrows_and_stays_on_the_boundary():
    seq = gf.zoom_sequence((1.5, 1.5), 4.5, 3, factor=10, resolution=48, steps=40)
    assert [e["half_width"] for e in seq] == pytest.approx([4.5, 0.45, 0.045])
    for e in seq:
        assert gf.boundary(e["score"]).any()


@pytest.mark.parametrize("call, match", [
    (lambda: gf.trainability_map([-1.0], [1.0]), "lr0"),
    (lambda: gf.trainability_map([1.0], [[1.0]]), "lr1"),
    (lambda: gf.trainability_map([1.0], [np.nan]), "lr1"),
    (lambda: gf.trainability_map([1.0], [1.0], n=0), "n"),
    (lambda: gf.trainability_map([1.0], [1.0], n=65), "n"),
    (lambda: gf.trainability_map([1.0], [1.0], activation="sigmoid"), "activation"),
    (lambda: gf.trainability_map([1.0], [1.0], steps="3"), "steps"),
    (lambda: gf.trainability_map([1.0], [1.0], steps=0), "steps"),
    (lambda: gf.trainability_map([1.0], [1.0], batch_size=0), "batch_size"),
    (lambda: gf.trainability_map([1.0], [1.0], n_samples=2.5), "n_samples"),
    (lambda: gf.trainability_map([1.0], [1.0], progress="yes"), "progress"),
    (lambda: gf.trainability_map([1.0], [1.0], seed=-1), "seed"),
    (lambda: gf.trainability_map(np.ones(2**15), np.ones(2**14)), "cells"),
    (lambda: gf.trainability_map(np.ones(4096), np.ones(4096), n=64, steps=10**8), "flops"),
    (lambda: gf.offset_map([np.inf], [1.0]), "offset"),
    (lambda: gf.window_axes((0.0,), 1.0, 8), "center"),
    (lambda: gf.window_axes((0.0, 0.0), 0.0, 8), "half_width"),
    (lambda: gf.window_axes((1.0, 1.0), 1e-17, 8), "half_width"),
    (lambda: gf.window_map((1.0, 1.0), 1.0, 8, phase_space="x"), "phase_space"),
    (lambda: gf.box_counting_dimension(np.ones((8, 8))), "mask"),
    (lambda: gf.box_counting_dimension(np.ones((2, 8), bool)), "mask"),
    (lambda: gf.box_counting_dimension(np.ones((8, 8), bool), count="all"), "count"),
    (lambda: gf.box_counts(np.ones((8, 8), bool), [4, 2]), "sizes"),
    (lambda: gf.boundary([1.0, -1.0]), "score"),
    (lambda: gf.zoom_sequence((1.0, 1.0), 1.0, 0), "levels"),
    (lambda: gf.zoom_sequence((1.0, 1.0), 1.0, 2, factor=1.0), "factor"),
])
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.cudasim
# the simulator runs threads on NumPy scalars; diverging cells overflow there on purpose (in each thread,
# so np.errstate in the caller does not reach them)
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
@pytest.mark.skipif(not gdsim.cuda_available(), reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 (conftest sets it)")
@pytest.mark.parametrize("kw", [dict(activation="tanh"), dict(activation="relu", batch_size=3),
                                dict(activation="identity", n_samples=2)])
def test_gpu_map_matches_cpu_and_oracle(monkeypatch, kw):
    from gdsim._core import cuda as gcuda

    monkeypatch.setattr(gcuda, "THREADS_PER_BLOCK", 4)  # 6 cells span two blocks
    lr0, lr1 = np.array([1e-2, 3.0, 1e5]), np.array([0.1, 30.0])
    gpu = gf.gpu_trainability_map(lr0, lr1, n=3, steps=25, seed=2, **kw)
    cpu = gf.trainability_map(lr0, lr1, n=3, steps=25, seed=2, **kw)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)  # CUDA's tanh vs the CPU polynomial: rounding only
    A, B = np.meshgrid(lr0, lr1, indexing="ij")
    ref = _oracle_map(A.ravel(), B.ravel(), 25, n=3, seed=2, **kw).reshape(3, 2)
    np.testing.assert_allclose(gpu, ref, rtol=1e-10)
    g_off = gf.gpu_offset_map([0.01, 0.1], [0.5, 5.0], n=3, steps=25, seed=2)
    np.testing.assert_allclose(g_off, gf.offset_map([0.01, 0.1], [0.5, 5.0], n=3, steps=25, seed=2), rtol=1e-10)


def test_gpu_and_cpu_signatures_identical():
    assert inspect.signature(gf.trainability_map) == inspect.signature(gf.gpu_trainability_map)
    assert inspect.signature(gf.offset_map) == inspect.signature(gf.gpu_offset_map)


def test_reproduction_runs_on_a_tiny_config(tmp_path):
    from gdsim import repro

    module = repro.load("sohldickstein2024_fractal")
    cfg = dict(module.QUICK, resolution=24, steps=30, zoom_levels=2, dim_levels=1, dim_resolution=24,
               dim_windows=1, mode="quick")
    paths = module.main(cfg, out=tmp_path, seed=1)
    assert set(paths) == set(module.FIGURES)
    for files in paths.values():
        assert all(p.exists() for p in files)


# ------------------------------------------------------------------ explicit starts (gdsim.fractal.Problem)
# Passing the default problem gives the default call's bits through every public path (maps, offset maps,
# minibatch, tiled stored windows, zooms); a different start gives a different map; contradicting
# arguments are refused. n = 8 and tanh throughout: the kernels the tests above compile.

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
    (lambda p: gf.trainability_map(LR, LR, n_samples=4, problem=p), "n_samples"),
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


@pytest.mark.cudasim
# the simulator runs threads on NumPy scalars; diverging cells overflow there on purpose
@pytest.mark.filterwarnings("ignore:.*encountered in scalar:RuntimeWarning")
def test_gpu_windows_match_cpu_direct_and_stored(tmp_path):
    import gdsim

    if not gdsim.cuda_available():
        pytest.skip("needs a GPU or NUMBA_ENABLE_CUDASIM=1 (conftest sets it)")
    kw = dict(n=3, steps=12, seed=2)
    cpu = gf.window_map((0.5, 0.5), 2.0, 4, **kw)[2]
    gpu = gf.window_map((0.5, 0.5), 2.0, 4, gpu=True, **kw)[2]
    stored = gf.window_map((0.5, 0.5), 2.0, 4, gpu=True, store=tmp_path / "g.zarr", tile=16, **kw)[2]
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10)  # CUDA's tanh vs the CPU polynomial: rounding only
    np.testing.assert_array_equal(stored, gpu)
    with pytest.raises(TypeError, match="gpu"):
        gf.window_map((0.5, 0.5), 2.0, 4, gpu="yes", **kw)


# ------------------------------------------------------------------------- the reproduction's tiers

def _module():
    from gdsim import repro

    return repro.load("sohldickstein2024_fractal")


def test_paper_tier_is_the_papers_settings():
    m = _module()
    p = m.TIERS["paper"]
    assert (p["n"], p["steps"], p["resolution"], p["dim_resolution"]) == (16, 1000, 4096, 4096)
    assert p["store_dir"] and p["gpu"]  # resumable tiles on the GPU
    # N = P = n^2 + n = 272 data for tanh and ReLU, n for the deep linear net, 1 for a single datapoint
    assert gf.problem(16, "tanh", 2).X.shape == (272, 16) and gf.problem(16, "relu", 2).X.shape == (272, 16)
    assert gf.problem(16, "identity", 2).X.shape == (16, 16)
    r = m.TIERS["reduced"]
    assert (r["n"], r["steps"]) == (p["n"], p["steps"]) and r["store_dir"] is None and not r["gpu"]
    assert set(m.PAPER_TABLE) == set(m.CONDITIONS)
    with pytest.raises(SystemExit):
        m.cli(["--tier", "huge"])


def test_tiny_stored_run_reports_both_dimensions_and_resumes(tmp_path):
    m = _module()
    # n = 8: the kernels the quick-config test above compiles (kernels are compiled once per process)
    cfg = dict(m.TIERS["paper"], n=8, steps=30, resolution=24, zoom_levels=2, dim_levels=1, dim_resolution=24,
               dim_windows=1, gpu=False, pdf=False, store_dir=str(tmp_path / "stores"), mode="paper")
    paths = m.main(cfg, out=tmp_path / "a", seed=1)
    side = json.loads((tmp_path / "a" / "sohldickstein2024_dimension_paper.json").read_text())
    meta = side.get("meta", side)
    for key in ("dimension", "dimension_calibrated", "paper_table", "porespy_minus_paper"):
        assert set(meta[key]) == set(m.CONDITIONS)
    assert meta["paper_table"]["offset vs lr"] == 1.98
    assert any((tmp_path / "stores").glob("dimension_*.zarr")) and any((tmp_path / "stores").glob("conditions_*"))
    again = m.main(cfg, out=tmp_path / "b", seed=1)  # every store finished: read back, same numbers
    for fig in paths:
        with np.load(next(p for p in paths[fig] if p.suffix == ".npz")) as a, \
                np.load(next(p for p in again[fig] if p.suffix == ".npz")) as b:  # closed: no ResourceWarning later
            for k in a.files:
                np.testing.assert_array_equal(a[k], b[k])
