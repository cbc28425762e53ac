"""Bad input raises ValueError/TypeError naming the argument (never a Numba traceback or a silent NaN)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdsim.scalar as sc

GOOD = dict(w0=np.ones((3, 2)), lr=0.1, steps=5)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(w0=np.ones(1)), ValueError, "D >= 2"),
    (dict(w0=np.ones((3, 1))), ValueError, "D >= 2"),
    (dict(w0=5.0), ValueError, "w0"),
    (dict(w0=[[1.0, np.nan]] * 3), ValueError, "w0"),
    (dict(w0=[[1.0, np.inf]] * 3), ValueError, "w0"),
    (dict(w0="abc"), TypeError, "w0"),
    (dict(w0=np.ones((3, 2), dtype=complex)), TypeError, "w0"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=np.nan), ValueError, "lr"),
    (dict(lr=np.ones(4)), ValueError, "lr"),
    (dict(steps=-1), ValueError, "steps"),
    (dict(steps=2.5), TypeError, "steps"),
    (dict(a=0.0), ValueError, "a"),
    (dict(b=0.0), ValueError, "b"),
    (dict(record_every=0), ValueError, "record_every"),
    (dict(blowup=-1.0), ValueError, "blowup"),
    (dict(parallel="yes"), TypeError, "parallel"),
])
@pytest.mark.parametrize("fn", [sc.gd, sc.gpu_gd])
def test_bad_gd_input(fn, kwargs, exc, word):
    args = {**GOOD, **kwargs}
    with pytest.raises(exc, match=word):
        fn(args.pop("w0"), args.pop("lr"), args.pop("steps"), **args)


@pytest.mark.parametrize("fn", [sc.sharpness, sc.gfs, sc.gfs_sharpness])
def test_bad_observable_input(fn):
    with pytest.raises(ValueError, match="w"):
        fn([1.0])
    with pytest.raises(ValueError, match="b"):
        fn([1.0, 2.0], b=0.0)
    with pytest.raises(ValueError, match="a"):
        fn([1.0, 2.0], a=-1.0)


bad_floats = st.one_of(st.just(np.nan), st.just(np.inf), st.just(-np.inf), st.floats(max_value=0.0))


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 4), D=st.integers(-1, 6), eta=st.one_of(bad_floats, st.floats(1e-3, 1.0)),
       steps=st.integers(-3, 3), poison=st.booleans())
def test_random_inputs_either_run_or_raise_clearly(batch, D, eta, steps, poison):
    w0 = np.ones((batch, max(D, 0)))
    if poison and w0.size:
        w0.flat[0] = np.nan
    valid = D >= 2 and np.isfinite(eta) and eta > 0 and steps >= 0 and not (poison and w0.size)
    if valid:
        res = sc.gd(w0, eta, steps)
        assert res.w.shape == (res.t.size, batch, D)
    else:
        with pytest.raises((ValueError, TypeError)) as info:
            sc.gd(w0, eta, steps)
        assert any(name in str(info.value) for name in ("w0", "lr", "steps"))


@settings(max_examples=40, deadline=None)
@given(shape_w=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       shape_eta=st.lists(st.integers(1, 4), min_size=0, max_size=3))
def test_mismatched_batch_shapes(shape_w, shape_eta):
    w0 = np.ones((*shape_w, 2))
    eta = np.full(shape_eta, 0.1)
    try:
        np.broadcast_to(eta, tuple(shape_w))
        fits = True
    except ValueError:
        fits = False
    if fits:
        assert sc.gd(w0, eta, 1).diverged.shape == tuple(shape_w)
    else:
        with pytest.raises(ValueError, match="lr"):
            sc.gd(w0, eta, 1)
