"""Progress bars live in Python around chunked kernel calls (umap's habit)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_bar(total: int, *, enabled: bool, desc: str = "", unit: str = "it", initial: int = 0):
    """A ``tqdm.auto`` bar when ``enabled``; otherwise an object whose ``update`` does nothing.

    ``enabled`` is the public functions' ``progress`` argument: anything but True/False is refused.
    """
    if not isinstance(enabled, bool) and type(enabled).__name__ != "bool_":
        raise TypeError(f"progress must be True or False; got {enabled!r}")
    if not enabled:
        yield _NullBar()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False, initial=initial)
    try:
        yield bar
    finally:
        bar.close()


class _NullBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass


def step_chunks(steps: int, progress: bool, n: int = 50) -> list[tuple[int, int]]:
    """(k0, k1) pairs covering 0..steps: one pair, or about ``n`` when a progress bar needs updates.

    The kernels take the first step's index (counter-based noise is keyed by it), so a chunked run gives
    the same numbers as one call.
    """
    import numpy as np

    if not progress or steps < n:
        return [(0, steps)]
    e = np.unique(np.linspace(0, steps, n + 1).astype(np.int64))
    return list(zip(e[:-1].tolist(), e[1:].tolist()))
