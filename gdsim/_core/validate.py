"""Input validation shared by the public wrappers.

Public functions validate everything before a kernel sees it, so users get a ``ValueError`` or
``TypeError`` that names the argument and the allowed range, never a Numba typing traceback.
"""

from __future__ import annotations

import numbers
import os
import warnings

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
    if abs(v) > MAX_REAL:
        raise ValueError(f"{name} must be at most {MAX_REAL:.0e} in magnitude (beyond it float64 arithmetic overflows: "
                         f"its square is inf); got {v:g}")
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
    if abs(v) > MAX_INT:
        raise ValueError(f"{name} must be at most 2^62 in magnitude (int64 arithmetic); got {v}")
    return v


def positive_array(x, name: str, shape=None) -> np.ndarray:
    """A finite float64 array with every entry > 0 and at most ``MAX_REAL`` (step sizes, temperatures)."""
    arr = real_array(x, name)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 everywhere; smallest value is {arr.min()}")
    if np.any(arr > MAX_REAL):
        raise ValueError(f"{name} must be at most {MAX_REAL:.0e} (beyond it float64 arithmetic overflows); largest "
                         f"value is {arr.max():.3g}")
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


#: Parameter updates (runs x steps x parameters, or the like) above which a single call is refused: at
#: ~1e9 updates per second per core that is decades of compute, a typo rather than a plan (the full tiers'
#: largest calls are ~1e17). Split such work over a sweep (gdsim.sweep) instead.
MAX_UPDATES = 1e18
#: Real parameters beyond this magnitude are refused: their squares and products overflow float64 (1.8e308), which
#: used to surface as OverflowError or a silent NaN deep inside a formula.
MAX_REAL = 1e150
#: Integers beyond this are refused: they overflow int64 arithmetic (step counters, sizes) in the kernels.
MAX_INT = 2**62


def physical_memory_bytes() -> int:
    """Total physical memory of this machine (bytes); 64 GiB when the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 64 * 2**30


def check_budget(what: str, *, bytes_needed: float = 0.0, updates: float = 0.0) -> None:
    """Refuse absurd sizes before anything is allocated.

    Parameters
    ----------
    what : str
        The arguments that set the size, with their values (``"runs = 1e+12 and n_x = 1000"``): the
        error names them.
    bytes_needed : float
        Memory the call would allocate (estimate, float to avoid integer overflow).
    updates : float
        Elementary updates the call would run (runs x steps x parameters, or the like).
    """
    mem = physical_memory_bytes()
    if bytes_needed > mem:
        raise ValueError(f"{what} need about {bytes_needed / 2**30:.3g} GiB of memory, more than this machine's "
                         f"{mem / 2**30:.3g} GiB: reduce them, or split the work over a sweep (gdsim.sweep)")
    if updates > MAX_UPDATES:
        raise ValueError(f"{what} mean about {updates:.3g} updates, more than {MAX_UPDATES:.0e} (decades of compute "
                         "in one call): reduce them, or split the work over a sweep (gdsim.sweep)")


def flag(x, name: str, *, allow_none: bool = False):
    """A bool argument (True/False, numpy bools accepted); None too when ``allow_none``."""
    if x is None and allow_none:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    allowed = "True, False or None" if allow_none else "True or False"
    raise TypeError(f"{name} must be {allowed}; got {x!r}")


def path_like(x, name: str, *, allow_none: bool = True):
    """A filesystem path argument (str or os.PathLike); None too when ``allow_none``."""
    if x is None and allow_none:
        return None
    if isinstance(x, (str, os.PathLike)) and str(x):
        return x
    raise TypeError(f"{name} must be a path (str or os.PathLike){' or None' if allow_none else ''}; got {x!r}")


class NonFiniteResultWarning(RuntimeWarning):
    """A result is NaN where its inputs were finite: the model's loss, gradient or Hessian-vector products are not
    finite there (see :func:`flag_nonfinite`)."""


def flag_nonfinite(values: np.ndarray, batch: tuple, what: str, model, W: np.ndarray) -> np.ndarray:
    """Curvature at points where the model is not finite: set to NaN there and say so, never a silent NaN or 0.

    ``values`` (runs, ...) were computed from ``model``'s Hessian-vector products at the rows of ``W`` (runs, P).
    A run whose values are not finite, or where the model's loss or gradient is not finite (the Hessian is
    undefined there, whatever the complex step returned), becomes NaN (in place), and one
    :class:`NonFiniteResultWarning` names the points and the cause. Returns the boolean mask of those runs.
    """
    loss, g = model.loss_grad(W)
    model_bad = ~(np.isfinite(loss) & np.isfinite(g).all(axis=1))
    bad = model_bad | ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
    if bad.any():
        values[bad] = np.nan
        idx = np.flatnonzero(bad)
        where = ""
        if batch:
            pts = [str(tuple(int(i) for i in np.unravel_index(j, batch))) for j in idx[:3]]
            where = f" (batch indices {', '.join(pts)}{', ...' if idx.size > 3 else ''})"
        cause = ("its loss or gradient is NaN or inf there, so the Hessian is undefined" if model_bad[idx[0]] else
                 "its Hessian-vector products are NaN or inf there")
        warnings.warn(f"{what}: model {model.name!r} is not finite at {idx.size} of {bad.size} points w{where}: {cause}"
                      "; the result is NaN there. Check the model at those w (model.loss_grad(w), model.hvp(w, v)).",
                      NonFiniteResultWarning, stacklevel=4)
    return bad
