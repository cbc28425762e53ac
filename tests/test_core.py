"""Shared machinery: results with provenance, atomic saves, seeding, jit options."""

import json
import os

import numpy as np
import pytest

import gdsim
import gdsim.scalar as sc
from gdsim._core import jit as gjit
from gdsim._core.rng import as_generator, as_seed_sequence, seed_for_key, spawn_generators


def test_result_roundtrip_and_provenance(tmp_path):
    res = sc.gd([[0.5, 1.5], [0.7, 1.2]], 0.3, 10, record_every=5)
    path = res.save(tmp_path / "run")
    assert path.name == "run.npz" and (tmp_path / "run.json").exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temporary left behind
    back = gdsim.Result.load(tmp_path / "run.npz")
    for name in res.keys():
        np.testing.assert_array_equal(back[name], res[name])
    prov = back.meta["provenance"]
    for key in ("gdsim", "numpy", "numba", "numba_threads", "git_commit", "created"):
        assert key in prov
    assert back.meta["config"]["steps"] == 10 and back.meta["wall_time_s"] >= 0
    json.loads((tmp_path / "run.json").read_text())


def test_result_is_read_only_and_names_missing_outputs():
    res = gdsim.Result({"x": [1, 2]})
    with pytest.raises(AttributeError, match="outputs are"):
        res.y
    with pytest.raises(AttributeError):
        res.x = 3


def test_failed_save_leaves_previous_file_intact(tmp_path):
    good = gdsim.Result({"x": np.arange(3)})
    good.save(tmp_path / "r")

    class Boom:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("boom")

    bad = gdsim.Result({"x": np.arange(3)})
    bad._arrays["y"] = Boom()  # an output that fails while being written
    with pytest.raises(Exception):
        bad.save(tmp_path / "r")
    np.testing.assert_array_equal(gdsim.Result.load(tmp_path / "r").x, np.arange(3))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_seeding_conventions():
    a = as_generator(7).normal(size=3)
    np.testing.assert_array_equal(a, as_generator(7).normal(size=3))
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    streams = [s.normal() for s in spawn_generators(3, 4)]
    assert len(set(streams)) == 4
    np.testing.assert_array_equal(streams, [s.normal() for s in spawn_generators(3, 4)])
    assert seed_for_key(5, (1, 2)).generate_state(2).tolist() == seed_for_key(5, (1, 2)).generate_state(2).tolist()
    assert seed_for_key(5, (1, 2)).generate_state(2).tolist() != seed_for_key(5, (2, 1)).generate_state(2).tolist()
    with pytest.raises(TypeError, match="seed"):
        as_seed_sequence(1.5)
    with pytest.raises(ValueError, match="seed"):
        as_seed_sequence(-1)


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**100 + 3, "fresh", "spawned"])
def test_compiled_child_keys_equal_numpy_seedsequence(seed):
    from gdsim._core.counter_rng import _fast_child_keys, keys_from_seed

    if seed == "fresh":
        seed = np.random.SeedSequence()  # 128-bit OS entropy
    elif seed == "spawned":
        seed = np.random.SeedSequence(5, spawn_key=(3, 2**40))
    n = 200
    # the oracle: NumPy's own SeedSequence children, one Python object each
    ref = np.array([np.random.SeedSequence(entropy=as_seed_sequence(seed).entropy,
                                           spawn_key=(*as_seed_sequence(seed).spawn_key, k)).generate_state(1, np.uint64)[0]
                    for k in range(n)], dtype=np.uint64)
    fast = _fast_child_keys(as_seed_sequence(seed), n)
    assert fast is not None  # the compiled path was taken (it falls back to NumPy on any disagreement)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(keys_from_seed(seed, n), ref)
    np.testing.assert_array_equal(keys_from_seed(seed, 7), ref[:7])  # the small-n NumPy path gives the same keys


def test_fastmath_never_drops_nan_checks():
    assert not ({"nnan", "ninf", "fast"} & gjit.FASTMATH_FLAGS)
    src_root = os.path.dirname(gdsim.__file__)
    for folder, _, files in os.walk(src_root):
        for name in files:
            if name.endswith(".py") and name != "jit.py":
                with open(os.path.join(folder, name)) as fh:
                    text = fh.read()
                assert "fastmath=" not in text and "numba.njit(" not in text, f"{name}: use gdsim._core.jit"


def test_disk_cache_policy(monkeypatch):
    """Serial and parallel kernels are cached on disk by default; cache=False (generated source, function
    arguments) stays off; GDSIM_NUMBA_CACHE=0 turns every kernel off, an explicit cache=True included."""
    from numba.core.caching import FunctionCache, NullCache

    from gdsim.dynamics import _kernels as dyn_kernels

    def f(x):
        return x

    monkeypatch.delenv("GDSIM_NUMBA_CACHE", raising=False)
    assert isinstance(gjit.jit(f)._cache, FunctionCache)
    assert isinstance(gjit.jit(f, parallel=True)._cache, FunctionCache)
    assert isinstance(gjit.jit(f, parallel=True, cache=False)._cache, NullCache)
    assert isinstance(dyn_kernels.apply_user._cache, NullCache)  # takes a user function: never cached
    monkeypatch.setenv("GDSIM_NUMBA_CACHE", "0")
    assert isinstance(gjit.jit(f, parallel=True)._cache, NullCache)
    assert isinstance(gjit.jit(f, cache=True)._cache, NullCache)


def test_simd_vectors_load_store_splat_and_fuse_exactly():
    from fractions import Fraction

    from gdsim._core import simd

    @gjit.jit(cache=False)
    def kernel(a, b, c, x, out):
        simd.vstore(out, 0, simd.vfma(simd.vload(a, 1), simd.vload(b, 0), simd.vload(c, 2)))
        simd.vstore(out, 8, simd.vfma(simd.vsplat(x), simd.vload(b, 0), simd.vzero()))
        simd.vstore(out, 17, simd.vfnma(simd.vload(a, 1), simd.vload(b, 0), simd.vload(c, 2)))

    rng = np.random.default_rng(5)
    a, b, c = rng.normal(size=9), rng.normal(size=8), rng.normal(size=10)
    out = np.full(25, -7.0)
    kernel(a, b, c, 0.3, out)
    # vfma rounds once: the correctly rounded a*b + c, computed in exact rational arithmetic
    exact = [float(Fraction(a[1 + i]) * Fraction(b[i]) + Fraction(c[2 + i])) for i in range(8)]
    np.testing.assert_array_equal(out[:8], exact)
    np.testing.assert_array_equal(out[8:16], 0.3 * b)
    assert out[16] == -7.0  # an 8-lane store writes exactly eight elements
    # vfnma: the correctly rounded c - a*b
    exact = [float(Fraction(c[2 + i]) - Fraction(a[1 + i]) * Fraction(b[i])) for i in range(8)]
    np.testing.assert_array_equal(out[17:], exact)


def test_vectorisable_tanh_forms_are_within_4_ulp_of_numpy():
    from gdsim._core.elementary import tanh_neg_half_py, tanh_pade_py

    tanh_a = gjit.jit(tanh_pade_py, cache=False)
    tanh_b = gjit.jit(tanh_neg_half_py, cache=False)

    @gjit.jit(cache=False)
    def both(x, out_a, out_b):
        for i in range(x.size):
            out_a[i] = tanh_a(x[i])
            out_b[i] = tanh_b(-2.0 * x[i])  # tanh(-b / 2) with b = -2 x

    x = np.concatenate([np.linspace(-25.0, 25.0, 200_001), np.logspace(-300, 1.4, 20_001),
                        -np.logspace(-300, 1.4, 20_001), [0.0, 40.0, -1e300]])
    ref = np.tanh(x)
    ulp = np.spacing(np.maximum(np.abs(ref), 1e-300))
    out_a, out_b = np.empty_like(x), np.empty_like(x)
    both(x, out_a, out_b)
    # 4 ulp: the Padé [6/6] core is exact to 2e-19; the rest is the rounding of about a dozen operations
    # (measured maximum 4.0 ulp for both forms over these points)
    assert np.max(np.abs(out_a - ref) / ulp) <= 4.0
    assert np.max(np.abs(out_b - ref) / ulp) <= 4.0
    out_a, out_b = np.empty(3), np.empty(3)
    both(np.array([np.nan, np.inf, -np.inf]), out_a, out_b)
    for out in (out_a, out_b):
        assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == -1.0
