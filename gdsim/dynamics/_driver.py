"""The engine's driver: the one record loop and the one stepped-result builder of gdsim.

Every stepped run in the package, whatever its family, goes through :func:`drive` (advance a batch of runs
between record points, record, move the progress bar, time it) and becomes a :class:`gdsim.Result` through
:func:`stepped_result` (an integer ``step`` coordinate ``t``, physical ``time`` where there is one, labelled
batch dimensions, the run's configuration and the hints for outputs that were not asked for).

What a family brings is a *stepper*: ``advance(lo, hi)`` runs steps ``lo .. hi-1`` of every run in place
(its fused kernel, or the engine's generic optimiser kernel), ``sync()`` makes the host copy current (a GPU
stepper copies back; a CPU stepper needs none), and ``record(i)`` stores record ``i``. Kernels take the
index of their first step, so counter-based noise and schedules are keyed by the step, and the chunking
of a run (progress-bar updates) never changes its numbers.

This module imports no family: families import it.
"""

from __future__ import annotations

import time as _time
from typing import Callable

import numpy as np

from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, batch_dims

__all__ = ["drive", "chunks", "stepped_result"]


def chunks(lo: int, hi: int, size: int):
    """(a, b) pairs covering ``lo .. hi`` in pieces of at most ``size`` steps."""
    size = max(1, int(size))
    while lo < hi:
        nxt = min(hi, lo + size)
        yield lo, nxt
        lo = nxt


def drive(times, advance: Callable[[int, int], None], record: Callable[[int], None] | None, *,
          sync: Callable[[], None] | None = None, progress: bool = False, desc: str = "GD", unit: str = "step",
          chunk: int | None = None, n_chunks: int = 100, bar_scale: float = 1.0) -> float:
    """Advance a batch of runs through the record points ``times`` and record at each: the engine's record loop.

    Parameters
    ----------
    times : array_like of int, shape (n_records,)
        Increasing step indices of the records (the first is taken before any step from ``times[0]``).
    advance : callable
        ``advance(lo, hi)`` runs steps ``lo .. hi-1`` of every run in place.
    record : callable or None
        ``record(i)`` stores record ``i`` (after ``sync``).
    sync : callable, optional
        Makes the host state current before each record (a GPU stepper's copy back).
    progress : bool
        Show a progress bar over the steps.
    desc, unit : str
        The bar's label and unit.
    chunk : int, optional
        Steps per ``advance`` call between two records; default: the whole interval without a bar, about
        ``1/n_chunks`` of the run with one (the numbers do not depend on it).
    n_chunks : int
        Bar updates per run when ``chunk`` is not given.
    bar_scale : float
        Bar units per step (a bar in physical time moves by ``dt`` per step).

    Returns
    -------
    float
        Wall-clock seconds spent advancing and recording.
    """
    t = np.asarray(times, dtype=np.int64).reshape(-1)
    total = int(t[-1] - t[0]) if t.size else 0
    if chunk is None:
        chunk = max(1, total // n_chunks) if progress else max(1, total)
    t0 = _time.perf_counter()
    with progress_bar(total * bar_scale if bar_scale != 1.0 else total, enabled=progress, desc=desc,
                      unit=unit) as bar:
        for i in range(t.size):
            if i > 0:
                for lo, hi in chunks(int(t[i - 1]), int(t[i]), chunk):
                    advance(lo, hi)
                    bar.update((hi - lo) * bar_scale if bar_scale != 1.0 else hi - lo)
                if sync is not None:
                    sync()
            elif sync is not None and record is not None:
                sync()
            if record is not None:
                record(i)
    return _time.perf_counter() - t0


def stepped_result(arrays: dict, dims: dict, *, meta: dict, batch=None, labels=None, record_dim: str = "step",
                   time=None, lazy: dict | None = None, coords=(), hints: dict | None = None) -> Result:
    """The :class:`gdsim.Result` of a stepped run: every family's runs come out the same way.

    Parameters
    ----------
    arrays, dims : dict
        The outputs and their dimension names. ``arrays["t"]`` holds the recorded step indices (dim
        ``record_dim``); it becomes the integer ``step`` coordinate.
    meta : dict
        ``config`` and anything else to keep; ``labels`` and ``hints`` are added here.
    batch : tuple of int, optional
        The run-batch shape; with ``labels`` None its axes are named ``run``/``run_i``.
    labels : (dims, coords), optional
        From :func:`gdsim._core.result.labelled_batch_dims`: named batch axes and their coordinate values.
    time : array_like, optional
        Physical time of each record (``step * dt``); added as the ``time`` coordinate on ``record_dim``.
    lazy, coords, hints
        Outputs computed on first access; further coordinate names; a message per missing output saying
        how to get it (``{"tau": "pass track_tau=True"}``).
    """
    arrays = dict(arrays)
    dims = dict(dims)
    meta = dict(meta)
    extra = list(coords)
    if "t" in arrays:
        arrays["t"] = np.asarray(arrays["t"])
        dims.setdefault("t", (record_dim,))
        extra.append("t")
    if time is not None:
        arrays["time"] = np.asarray(time, dtype=np.float64)
        dims["time"] = (record_dim,)
        extra.append("time")
    if labels is not None:
        meta["labels"] = labels[1]
    elif batch is not None:
        meta.setdefault("labels", {})
    if hints:
        meta["hints"] = {**meta.get("hints", {}), **hints}
    return Result(arrays, meta, dims=dims, coords=tuple(extra), lazy=lazy)


def run_dims(batch, labels=None) -> tuple[str, ...]:
    """The batch dimension names of a result: labelled ones where given, else ``run``/``run_i``."""
    return tuple(labels[0]) if labels is not None else batch_dims(batch)
