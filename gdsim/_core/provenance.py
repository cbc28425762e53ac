"""Provenance recorded with every result: versions, threads, git commit, wall time."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The git commit of the gdsim checkout, if gdsim runs from one (``+dirty`` when modified)."""
    here = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None


def environment() -> dict:
    """Versions and threading facts that can change a floating-point result."""
    import numba
    import numpy

    from gdsim import __version__

    info = {
        "gdsim": __version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numba_threads": numba.get_num_threads(),
        "git_commit": git_commit(),
    }
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        info["numba_threading_layer"] = os.environ.get("NUMBA_THREADING_LAYER", "not initialised")
    return info


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def arrays_sha256(*arrays) -> str:
    """SHA-256 (hex) of the arrays' C-contiguous bytes, in order: the data checksum of results."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
