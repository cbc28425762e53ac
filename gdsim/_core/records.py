"""The one record schedule of every stepped simulation.

Every simulation that advances in steps records at the step indices returned by :func:`record_times`, and
takes them from one keyword, ``record_every``:

- an integer k >= 1: linear spacing, steps 0, k, 2k, ..., always ending with ``steps``;
- an array of step indices, e.g. :func:`log_steps` (log spacing) or :func:`linear_steps` (a given number
  of evenly spaced records); 0 and ``steps`` are always added, so the initial and the final state are
  always recorded.

Families whose papers count records rather than steps (``particles``: log spacing; ``games``: linear
spacing in time) also accept ``n_records=n``, a shorthand for ``record_every=log_steps(steps, n)`` or
``record_every=linear_steps(steps, n)``; giving both is an error.
"""

from __future__ import annotations

import numbers

import numpy as np

from gdsim._core import validate as v


def record_times(steps: int, record_every=1) -> np.ndarray:
    """The recorded step indices of a run of ``steps`` steps.

    Parameters
    ----------
    steps : int
        Number of steps (>= 0).
    record_every : int or array_like of int
        An integer k >= 1 records steps 0, k, 2k, ... and ``steps``. An array gives the step indices
        themselves (integers in [0, steps]; sorted and deduplicated here); 0 and ``steps`` are added.

    Returns
    -------
    numpy.ndarray
        Strictly increasing int64 step indices, starting with 0 and ending with ``steps``.

    Examples
    --------
    >>> record_times(10, 4)
    array([ 0,  4,  8, 10])
    >>> record_times(1000, log_steps(1000, 4))
    array([   0,    1,   10,  100, 1000])
    """
    steps = v.integer(steps, "steps", lo=0)
    if isinstance(record_every, bool) or not isinstance(record_every, (numbers.Integral, np.integer)):
        return _explicit_times(steps, record_every)
    record_every = v.integer(record_every, "record_every", lo=1)
    v.check_budget(f"steps = {steps} and record_every = {record_every}", bytes_needed=8.0 * (steps / record_every + 2))
    t = np.arange(0, steps + 1, record_every, dtype=np.int64)
    if t[-1] != steps:
        t = np.append(t, np.int64(steps))
    return t


def _explicit_times(steps: int, record_every) -> np.ndarray:
    if isinstance(record_every, (str, bytes, float, complex, np.floating)) or record_every is None:
        raise TypeError("record_every must be an integer >= 1 or an array of step indices (e.g. gdsim.log_steps); "
                        f"got {type(record_every).__name__}")
    try:
        arr = np.asarray(record_every)
    except Exception as exc:  # ragged input
        raise TypeError(f"record_every must be an integer >= 1 or an array of step indices: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise TypeError("record_every must be an integer >= 1 or a 1-D array of integer step indices; "
                        f"got dtype {arr.dtype}, shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise ValueError("record_every as an array must hold whole step indices")
    if arr.size and (arr.min() < 0 or arr.max() > steps):
        raise ValueError(f"record_every as an array must hold step indices in [0, steps = {steps}]; "
                         f"got values in [{arr.min()}, {arr.max()}]")
    return np.unique(np.concatenate([[0], arr.astype(np.int64), [steps]])).astype(np.int64)


def log_steps(steps: int, n_records: int) -> np.ndarray:
    """Step 0, then about ``n_records - 1`` log-spaced steps from 1 to ``steps`` (rounded, deduplicated).

    With ``n_records > steps`` every step is returned. Pass the result as ``record_every=``.

    Examples
    --------
    >>> log_steps(1000, 5)
    array([   0,    1,   10,  100, 1000])
    """
    steps = v.integer(steps, "steps", lo=0)
    n_records = v.integer(n_records, "n_records", lo=2)
    v.check_budget(f"steps = {steps} and n_records = {n_records}", bytes_needed=16.0 * min(n_records, steps + 1))
    if n_records > steps:
        return np.arange(steps + 1, dtype=np.int64)
    ks = np.unique(np.round(np.geomspace(1, steps, n_records - 1)).astype(np.int64))
    return np.concatenate([[0], ks]).astype(np.int64)


def linear_steps(steps: int, n_records: int) -> np.ndarray:
    """``n_records`` evenly spaced steps from 0 to ``steps`` (rounded, deduplicated).

    With ``n_records > steps`` every step is returned. Pass the result as ``record_every=``.

    Examples
    --------
    >>> linear_steps(10, 4)
    array([ 0,  3,  7, 10])
    """
    steps = v.integer(steps, "steps", lo=0)
    n_records = v.integer(n_records, "n_records", lo=2)
    v.check_budget(f"steps = {steps} and n_records = {n_records}", bytes_needed=16.0 * min(n_records, steps + 1))
    if n_records > steps:
        return np.arange(steps + 1, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, steps, n_records)).astype(np.int64))


def resolve(steps: int, record_every, n_records, spacing: str) -> np.ndarray:
    """The schedule of a family that takes either ``record_every`` or its ``n_records`` shorthand."""
    # each argument is validated on its own first, so a bad value is named even when both are given
    shorthand = None if n_records is None else (log_steps if spacing == "log" else linear_steps)(steps, n_records)
    t = None if record_every is None else record_times(steps, record_every)
    if t is not None and shorthand is not None:
        raise ValueError("give record_every or n_records, not both (n_records = n is a shorthand for "
                         f"record_every=gdsim.{spacing}_steps(steps, n))")
    return t if t is not None else record_times(steps, shorthand)


def meta(record_every):
    """``record_every`` as it goes into a result's config (an int, or the list of steps)."""
    if isinstance(record_every, (numbers.Integral, np.integer)) and not isinstance(record_every, bool):
        return int(record_every)
    return np.asarray(record_every).astype(np.int64).tolist()
