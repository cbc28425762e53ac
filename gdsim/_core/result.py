"""The one result type: named arrays plus provenance, saved and loaded atomically.

A :class:`Result` holds arrays (``result.t``, ``result.w``, ...) and a ``meta`` dict with the config,
the seed, versions, git commit and wall time. Every array has named dimensions (``result.dims``), so
``result.to_xarray()`` gives an ``xarray.Dataset`` that a notebook can ``.sel()`` and ``.plot()``. The
dimension names are one vocabulary across families (the README's glossary): ``step`` is the recorded step
index (a coordinate holding the step numbers), ``time`` the physical time where a model has one,
``run`` the batch of independent runs (``run_0``, ``run_1``, ... for a batch of several dimensions). ``save(path)`` writes ``path.npz`` and a JSON sidecar
``path.json``; each is written to a temporary file in the same folder and moved into place with
``os.replace`` (atomic on POSIX; :func:`gdsim._core.atomic.atomic_write`), the JSON last, so a reader never
sees a half-written result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from gdsim._core.atomic import atomic_write
from gdsim._core.provenance import environment, now_iso


# outputs computed only on request by the engine's observe= (the error for a missing one says how to ask)
_OBSERVABLE_HINTS = frozenset({"loss", "grad_norm", "sharpness", "gfs_sharpness", "test_loss", "test_accuracy",
                               "accuracy", "preconditioned_sharpness", "w"})


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
        labels = self.meta.get("labels") or {}
        coords = {k: (dims[k], self._arrays[k]) for k in self.meta["coords"]}
        # a hyper-parameter that labels a batch axis is that axis's coordinate (its broadcast copy is dropped)
        coords.update({k: (k, np.asarray(vals)) for k, vals in labels.items()})
        data = {k: (dims[k], a) for k, a in self._arrays.items() if k not in coords}
        if "step" in {d for ds_ in dims.values() for d in ds_} and "step" not in coords and "t" in self._arrays \
                and dims.get("t") == ("step",):
            # every stepped result has an integer ``step`` coordinate (``t`` is kept: it is the same numbers)
            coords["step"] = ("step", np.asarray(self._arrays["t"]).astype(np.int64))
        try:
            ds = xr.Dataset(data, coords=coords, attrs={"meta": json.dumps(_jsonable(self.meta), sort_keys=True)})
        except ValueError as exc:
            raise ValueError(f"the result's arrays do not fit one dataset ({exc}); dims are {dims}") from None
        for name in self.meta["coords"]:  # a 1-D coordinate on another dim (``t`` on ``step``) gets an index
            if name in labels:
                continue
            arr = self._arrays[name]
            if arr.ndim == 1 and dims[name][0] != name and name not in ds.xindexes \
                    and np.unique(arr).size == arr.size:
                ds = ds.set_xindex(name)
        return ds

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._get(name)
        except KeyError:
            raise AttributeError(self._missing(name)) from None

    def _missing(self, name):
        """The message for an output this result lacks, saying how to get it where that is known."""
        hint = (self.meta.get("hints") or {}).get(name) if isinstance(self.meta, dict) else None
        if hint is None and name in _OBSERVABLE_HINTS:
            hint = f"pass observe=(..., {name!r}) to the call that made it"
        how = f"; {hint}" if hint else ""
        return f"result has no output {name!r}{how}; outputs are {sorted(self.keys())}"

    def __setattr__(self, name, value):
        raise AttributeError("Result is read-only; build a new one instead")

    def __getitem__(self, name):
        try:
            return self._get(name)
        except KeyError:
            raise KeyError(self._missing(name)) from None

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
        atomic_write(npz, lambda fh: np.savez_compressed(fh, **self._arrays), binary=True)
        atomic_write(sidecar, json.dumps(_jsonable(self.meta), indent=2, sort_keys=True))
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


class SeededArray(np.ndarray):
    """Initial parameters that remember the seed of each leading axis (from ``Model.init(seed=array)``).

    Behaves as a plain ndarray; only the array ``init`` returned carries the labels (any view, slice or
    arithmetic result is unlabelled), so a label can never describe the wrong rows.
    """

    def __array_finalize__(self, obj):
        self.seed_labels = None


def seeded(arr: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """``arr`` (*seeds.shape, P) as a :class:`SeededArray` labelled by ``seeds`` (integers, one per row)."""
    out = arr.view(SeededArray)
    out.seed_labels = np.asarray(seeds)
    return out


#: longest batch axis that gets a coordinate: checking that 1e5 values are distinct (a sort) costs more than a
#: cheap kernel's whole run (scalar.gd: 4 ms of a 10 ms call), and such axes are per-run values, not a grid
MAX_LABELLED = 2**15


def labelled_batch_dims(batch, hyper: dict, w0=None):
    """Dimension names and coordinates for a broadcast run batch.

    An axis is named after the one hyper-parameter that varies along it alone (with distinct values: an
    ``lr`` column ``lr[:, None]`` labels axis 0 ``lr``), or ``seed`` where ``w0`` came from
    ``Model.init(seed=array)``; the other axes are ``run`` (one) or ``run_i``. Axes longer than
    ``MAX_LABELLED`` (32768) stay unlabelled.

    Returns
    -------
    dims : tuple of str
    coords : dict of str to list
        The coordinate values of each named axis.
    """
    batch = tuple(batch)
    n = len(batch)
    cands = [[] for _ in range(n)]
    for name, h in hyper.items():
        h = np.asarray(h)
        if h.ndim > n:
            continue
        shape = (1,) * (n - h.ndim) + h.shape
        varying = [a for a in range(n) if shape[a] > 1]
        if len(varying) != 1 or shape[varying[0]] > MAX_LABELLED:
            continue
        a = varying[0]
        vals = h.reshape(-1)
        if np.unique(vals).size == vals.size:
            cands[a].append((name, vals))
    labels = getattr(w0, "seed_labels", None)
    if labels is not None and w0.ndim - 1 == labels.ndim and labels.ndim <= n:
        off = n - labels.ndim
        for k in range(labels.ndim):
            others = [labels.shape[j] for j in range(labels.ndim) if j != k]
            if (1 < labels.shape[k] <= MAX_LABELLED and labels.shape[k] == batch[off + k]
                    and all(o == 1 for o in others)):
                vals = labels.reshape(-1)
                if np.unique(vals).size == vals.size:
                    cands[off + k].append(("seed", vals))
    names = [c[0][0] if len(c) == 1 else None for c in cands]
    # one name names one axis only
    for nm in set(x for x in names if x):
        if names.count(nm) > 1:
            names = [None if x == nm else x for x in names]
    free = [a for a in range(n) if names[a] is None]
    dims = tuple(names[a] if names[a] else ("run" if len(free) == 1 else f"run_{a}") for a in range(n))
    coords = {names[a]: cands[a][0][1].tolist() for a in range(n) if names[a]}
    return dims, coords


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
