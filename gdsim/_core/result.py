"""The one result type: named arrays plus provenance, saved and loaded atomically.

A :class:`Result` holds arrays (``result.t``, ``result.w``, ...) and a ``meta`` dict with the config,
the seed, versions, git commit and wall time. Every array has named dimensions (``result.dims``), so
``result.to_xarray()`` gives an ``xarray.Dataset`` that a notebook can ``.sel()`` and ``.plot()``. The
dimension names are one vocabulary across families (the README's glossary): ``step`` is the recorded step
index (a coordinate holding the step numbers), ``time`` the physical time where a model has one,
``run`` the batch of independent runs (``run_0``, ``run_1``, ... for a batch of several dimensions). ``save(path)`` writes ``path.npz`` and a JSON sidecar
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
    dims : dict of str to tuple of str, optional
        Dimension names of each array (one per axis). Arrays not named get ``<name>_dim_<i>``. Stored in
        ``meta["dims"]``, so they survive :meth:`save`/:meth:`load`.
    coords : iterable of str, optional
        Names of the arrays that are coordinates (e.g. ``step``, the recorded step index, and ``time``);
        stored in ``meta["coords"]``.
    lazy : dict of str to callable, optional
        Outputs computed on first access (then kept), e.g. observables not requested with ``observe=``:
        they cost nothing unless read. :meth:`save` and :meth:`to_xarray` compute them all. Their dims
        go in ``dims``.
    """

    __slots__ = ("_arrays", "_lazy", "meta")

    def __init__(self, arrays: dict, meta: dict | None = None, *, dims: dict | None = None, coords=(),
                 lazy: dict | None = None):
        if not isinstance(arrays, dict):
            raise TypeError(f"arrays must be a dict of name -> array; got {type(arrays).__name__}")
        object.__setattr__(self, "_arrays", {str(k): np.asarray(v) for k, v in arrays.items()})
        object.__setattr__(self, "_lazy", {str(k): f for k, f in (lazy or {}).items() if k not in self._arrays})
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict or None; got {type(meta).__name__}")
        meta = dict(meta or {})
        meta.setdefault("provenance", {**environment(), "created": now_iso()})
        declared = {**meta.get("dims", {}), **(dims or {})}
        for name, d in declared.items():
            if name in self._arrays and len(tuple(d)) != self._arrays[name].ndim:
                raise ValueError(f"dims of {name!r} are {tuple(d)} but the array has shape {self._arrays[name].shape}")
        meta["dims"] = {k: list(declared.get(k, [f"{k}_dim_{i}" for i in range(a.ndim)]))
                        for k, a in self._arrays.items()}
        meta["dims"].update({k: list(declared[k]) for k in self._lazy if k in declared})
        meta["coords"] = sorted({*meta.get("coords", ()), *coords} & set(self._arrays))
        object.__setattr__(self, "meta", meta)

    def _get(self, name):
        arrays = object.__getattribute__(self, "_arrays")
        if name not in arrays:
            lazy = object.__getattribute__(self, "_lazy")
            if name not in lazy:
                raise KeyError(name)
            arrays[name] = np.asarray(lazy.pop(name)())
            dims = self.meta["dims"]
            if name not in dims:
                dims[name] = [f"{name}_dim_{i}" for i in range(arrays[name].ndim)]
        return arrays[name]

    def _materialise(self):
        for name in list(self._lazy):
            self._get(name)

    @property
    def dims(self) -> dict[str, tuple[str, ...]]:
        """Dimension names of every array (lazy outputs are computed to know theirs)."""
        self._materialise()
        return {k: tuple(v) for k, v in self.meta["dims"].items()}

    def to_xarray(self):
        """The arrays as an ``xarray.Dataset`` with named dims; coordinates as declared; ``meta`` in ``attrs``
        (as JSON text under ``"meta"``, so ``.to_netcdf()``/``.to_zarr()`` can write it)."""
        import xarray as xr

        dims = self.dims
        coords = {k: (dims[k], self._arrays[k]) for k in self.meta["coords"]}
        data = {k: (dims[k], a) for k, a in self._arrays.items() if k not in coords}
        try:
            ds = xr.Dataset(data, coords=coords, attrs={"meta": json.dumps(_jsonable(self.meta), sort_keys=True)})
        except ValueError as exc:
            raise ValueError(f"the result's arrays do not fit one dataset ({exc}); dims are {dims}") from None
        for name in coords:  # a 1-D coordinate on another dim (``t`` on ``step``) gets an index: .sel(t=...)
            arr = self._arrays[name]
            if arr.ndim == 1 and dims[name][0] != name and dims[name][0] not in ds.xindexes \
                    and np.unique(arr).size == arr.size:
                ds = ds.set_xindex(name)
        return ds

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._get(name)
        except KeyError:
            raise AttributeError(f"result has no output {name!r}; outputs are {sorted(self.keys())}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Result is read-only; build a new one instead")

    def __getitem__(self, name):
        try:
            return self._get(name)
        except KeyError:
            raise KeyError(f"result has no output {name!r}; outputs are {sorted(self.keys())}") from None

    def __contains__(self, name):
        return name in self._arrays or name in self._lazy

    def keys(self):
        return [*self._arrays, *self._lazy]

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.keys()))

    def __repr__(self):
        parts = ", ".join([f"{k}{tuple(v.shape)}" for k, v in self._arrays.items()] + [f"{k}(lazy)" for k in self._lazy])
        return f"Result({parts})"

    def save(self, path) -> Path:
        """Write ``path.npz`` and ``path.json`` atomically; returns the ``.npz`` path."""
        path = Path(path)
        if path.suffix in {".npz", ".json"}:
            path = path.with_suffix("")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._materialise()
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


def batch_dims(batch_shape) -> tuple[str, ...]:
    """Names of a result's leading batch dimensions: ``("run",)`` for one, ``("run_0", "run_1", ...)`` for more."""
    n = len(tuple(batch_shape))
    return ("run",) if n == 1 else tuple(f"run_{i}" for i in range(n))


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
