"""Input validation shared by the public wrappers.

Public functions validate everything before a kernel sees it, so users get a ``ValueError`` or
``TypeError`` that names the argument and the allowed range, never a Numba typing traceback.
"""

from __future__ import annotations

import numbers

import numpy as np


def real_array(x, name: str, *, min_ndim: int = 0, allow_nonfinite: bool = False) -> np.ndarray:
    """``x`` as a C-contiguous float64 array; rejects complex, object, bool and non-finite input."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a real array; got {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a real array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real (integer or float) array; got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64, order="C")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s); got shape {arr.shape}")
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def real_scalar(x, name: str, *, lo=None, hi=None, lo_open=False, hi_open=False, nonzero=False) -> float:
    """``x`` as a finite Python float within the stated bounds."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number; got {type(x).__name__}")
    v = float(x)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    _check_range(v, name, lo, hi, lo_open, hi_open)
    if nonzero and v == 0.0:
        raise ValueError(f"{name} must be nonzero")
    return v


def integer(x, name: str, *, lo=None, hi=None) -> int:
    """``x`` as a Python int within ``[lo, hi]``."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(x).__name__}")
    v = int(x)
    _check_range(v, name, lo, hi, False, False)
    return v


def positive_array(x, name: str, shape=None) -> np.ndarray:
    """A finite float64 array with every entry > 0 (step sizes, temperatures)."""
    arr = real_array(x, name)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 everywhere; smallest value is {arr.min()}")
    return arr


def broadcast_to_batch(arr: np.ndarray, batch_shape: tuple, name: str, batch_name: str) -> np.ndarray:
    """Broadcast ``arr`` against ``batch_shape`` (it may not enlarge the batch)."""
    try:
        out = np.broadcast_to(arr, batch_shape)
    except ValueError:
        raise ValueError(
            f"{name} with shape {arr.shape} does not broadcast against the batch shape {batch_shape} of {batch_name}"
        ) from None
    return np.asarray(out, dtype=np.float64, order="C").copy()


def _check_range(v, name, lo, hi, lo_open, hi_open):
    if lo is not None and (v < lo or (lo_open and v == lo)):
        op = ">" if lo_open else ">="
        raise ValueError(f"{name} must be {op} {lo}; got {v}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        op = "<" if hi_open else "<="
        raise ValueError(f"{name} must be {op} {hi}; got {v}")
