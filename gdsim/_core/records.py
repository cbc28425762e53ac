"""The record schedule shared by every simulation that records every ``record_every`` steps."""

from __future__ import annotations

import numpy as np

from gdsim._core import validate as v


def record_times(steps: int, record_every: int) -> np.ndarray:
    """Recorded step indices: 0, record_every, 2 record_every, ..., always ending with ``steps``."""
    steps = v.integer(steps, "steps", lo=0)
    record_every = v.integer(record_every, "record_every", lo=1)
    v.check_budget(f"steps = {steps} and record_every = {record_every}", bytes_needed=8.0 * (steps / record_every + 2))
    t = np.arange(0, steps + 1, record_every, dtype=np.int64)
    if t[-1] != steps:
        t = np.append(t, np.int64(steps))
    return t
