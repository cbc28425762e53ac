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
        top = subprocess.run(["git", "-C", str(here), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        if not top or Path(top).resolve() != here:  # an installed copy inside some other repository
            return None
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None


def installed_version() -> str | None:
    """The installed distribution's version (``importlib.metadata``), or ``None`` when gdsim is not installed."""
    import importlib.metadata

    try:
        return importlib.metadata.version("gdsim")
    except importlib.metadata.PackageNotFoundError:
        return None


def source() -> str:
    """Where this gdsim comes from: ``git <commit>`` in a checkout, else ``gdsim <version> (installed)``."""
    commit = git_commit()
    if commit:
        return f"git {commit}"
    from gdsim import __version__

    return f"gdsim {installed_version() or __version__} (installed, no git checkout)"


def environment() -> dict:
    """Versions and threading facts that can change a floating-point result."""
    import numba
    import numpy

    from gdsim import __version__

    info = {
        "gdsim": __version__,
        "gdsim_installed": installed_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numba_threads": numba.get_num_threads(),
        "git_commit": git_commit(),
        "source": source(),
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
