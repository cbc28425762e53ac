"""The one result type: named arrays plus provenance, saved and loaded atomically.

A :class:`Result` holds arrays (``result.t``, ``result.w``, ...) and a ``meta`` dict with the config,
the seed, versions, git commit and wall time. ``save(path)`` writes ``path.npz`` and a JSON sidecar
``path.json``; each is written to a temporary file in the same folder and moved into place with
``os.replace`` (atomic on POSIX), the JSON last, so a reader never sees a half-written result.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from gdsim._core.provenance import environment, now_iso


class Result:
    """Arrays with provenance.

    Parameters
    ----------
    arrays : dict of str to array_like
        The named outputs; each becomes an attribute (``result.loss``).
    meta : dict, optional
        JSON-serialisable metadata (config, seed, ...). Versions, git commit and the time of creation are
        added under ``meta["provenance"]`` when not already present.
    """

    __slots__ = ("_arrays", "meta")

    def __init__(self, arrays: dict, meta: dict | None = None):
        object.__setattr__(self, "_arrays", {k: np.asarray(v) for k, v in arrays.items()})
        meta = dict(meta or {})
        meta.setdefault("provenance", {**environment(), "created": now_iso()})
        object.__setattr__(self, "meta", meta)

    def __getattr__(self, name):
        arrays = object.__getattribute__(self, "_arrays")
        try:
            return arrays[name]
        except KeyError:
            raise AttributeError(f"result has no output {name!r}; outputs are {sorted(arrays)}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Result is read-only; build a new one instead")

    def __getitem__(self, name):
        return self._arrays[name]

    def __contains__(self, name):
        return name in self._arrays

    def keys(self):
        return self._arrays.keys()

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._arrays))

    def __repr__(self):
        parts = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self._arrays.items())
        return f"Result({parts})"

    def save(self, path) -> Path:
        """Write ``path.npz`` and ``path.json`` atomically; returns the ``.npz`` path."""
        path = Path(path)
        if path.suffix in {".npz", ".json"}:
            path = path.with_suffix("")
        path.parent.mkdir(parents=True, exist_ok=True)
        npz = path.with_suffix(".npz")
        sidecar = path.with_suffix(".json")
        _atomic_write(npz, lambda fh: np.savez_compressed(fh, **self._arrays), binary=True)
        text = json.dumps(_jsonable(self.meta), indent=2, sort_keys=True)
        _atomic_write(sidecar, lambda fh: fh.write(text), binary=False)
        return npz

    @classmethod
    def load(cls, path) -> "Result":
        """Read a result written by :meth:`save` (``path`` with or without suffix)."""
        path = Path(path)
        if path.suffix in {".npz", ".json"}:
            path = path.with_suffix("")
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(arrays, meta)


def _atomic_write(target: Path, write, *, binary: bool):
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)
    return obj


class Timer:
    """Context manager measuring wall time in seconds (``.seconds``)."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False
