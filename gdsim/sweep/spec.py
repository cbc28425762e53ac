"""What a sweep is: named axes, a simulation, declared outputs, chunking and a base seed.

A :class:`Sweep` is pure data plus a reference to a simulation; everything about it is checked in
:meth:`Sweep.validate` before any work starts, and its :meth:`Sweep.fingerprint` (a hash of everything
that changes a result) is written into the store so that a store can never be resumed by another spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gdsim._core.deprecation import deprecated_function
from gdsim._core.rng import seed_for_key


#: Chunks per sweep above which a spec is refused (each has a done marker and a task; 10^7 is ~1 GB of
#: bookkeeping and hours of scheduling before any work).
MAX_CHUNKS = 10**7


class SpecError(ValueError):
    """A sweep specification (or a store) that cannot be run; raised before any work starts."""


# ----------------------------------------------------------------------------------------- outputs


@dataclasses.dataclass(frozen=True)
class Output:
    """One named output of a simulation: its per-point ``shape``, ``dtype`` and names of the extra dims.

    A simulation returns, for a chunk of ``n`` grid points, an array of shape ``(n, *shape)``.
    """

    shape: tuple[int, ...] = ()
    dtype: str = "float64"
    dims: tuple[str, ...] | None = None

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if any(s < 1 for s in shape):
            raise SpecError(f"output shape must have positive entries, got {self.shape}")
        object.__setattr__(self, "shape", shape)
        try:
            if isinstance(self.dtype, str) and (not self.dtype.strip() or self.dtype != self.dtype.strip()):
                raise ValueError("blank or padded name")
            dt = np.dtype(self.dtype)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"unknown output dtype {self.dtype!r}") from exc
        if dt.kind not in "fiub":
            raise SpecError(f"output dtype must be a float, integer or bool type, got {dt}")
        object.__setattr__(self, "dtype", dt.name)
        if self.dims is not None:
            dims = tuple(str(d) for d in self.dims)
            if len(dims) != len(shape):
                raise SpecError(f"output dims {dims} do not match its shape {shape}")
            object.__setattr__(self, "dims", dims)

    def dim_names(self, name: str) -> tuple[str, ...]:
        return self.dims if self.dims is not None else tuple(f"{name}_dim{i}" for i in range(len(self.shape)))

    @property
    def fill_value(self):
        dt = np.dtype(self.dtype)
        return np.nan if dt.kind == "f" else (False if dt.kind == "b" else 0)

    @classmethod
    def coerce(cls, value) -> "Output":
        if isinstance(value, Output):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"shape", "dtype", "dims"}
            if unknown:
                raise SpecError(f"unknown output field(s) {sorted(unknown)}; allowed: shape, dtype, dims")
            return cls(shape=tuple(value.get("shape", ())), dtype=value.get("dtype", "float64"),
                       dims=value.get("dims"))
        if isinstance(value, (tuple, list)):
            return cls(shape=tuple(value))
        raise SpecError(f"an output is declared by Output, a shape tuple or a mapping, got {value!r}")


# -------------------------------------------------------------------------------------- simulation


def simulation(outputs: Mapping[str, Any], *, warmup: Callable | None = None):
    """Decorator declaring a function as a sweep simulation with default ``outputs``.

    The function is called as ``fn(chunk, **params)`` with a :class:`Chunk` and returns a mapping from
    output name to an array of shape ``(chunk.size, *output.shape)``.
    """

    if not isinstance(outputs, Mapping) or not outputs:
        raise SpecError(f"outputs must be a non-empty mapping of output name -> Output (or shape); got {outputs!r}")
    declared = {k: Output.coerce(v) for k, v in outputs.items()}
    if warmup is not None and not callable(warmup):
        raise TypeError(f"warmup must be callable or None; got {type(warmup).__name__}")

    def wrap(fn):
        fn.sweep_outputs = dict(declared)
        if warmup is not None:
            fn.sweep_warmup = warmup
        return fn

    return wrap


def resolve_simulation(ref: str | Callable) -> tuple[Callable, str]:
    """The simulation callable and its importable reference ``"module:qualname"``."""
    if callable(ref):
        mod, qual = getattr(ref, "__module__", None), getattr(ref, "__qualname__", None)
        if not mod or not qual:
            raise SpecError(f"simulation {ref!r} has no module/qualname; give a 'module:function' string")
        return ref, f"{mod}:{qual}"
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise SpecError(f"simulation must be a callable or a 'package.module:function' string, got {ref!r}")
    mod_name, qual = ref.split(":")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as exc:
        raise SpecError(f"cannot import the simulation's module {mod_name!r}: {exc}") from exc
    for part in qual.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"module {mod_name!r} has no attribute {qual!r} (simulation {ref!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"simulation {ref!r} is not callable")
    return obj, ref


# ------------------------------------------------------------------------------------------ chunks


def chunk_id(index) -> str:
    """The store's name for the chunk at ``index`` of the chunk grid (its done marker)."""
    return "_".join(str(int(i)) for i in index)


class Chunk:
    """A hyper-rectangular block of grid points: the unit of work handed to a simulation.

    Attributes
    ----------
    index : tuple of int
        Position of the block in the chunk grid.
    slices : tuple of slice
        Where the block sits along each axis.
    shape : tuple of int
        Block shape (one entry per axis).
    points : dict of str to ndarray
        For every axis, the coordinate of each of the ``size`` points, flattened in C order.
    seeds : list of numpy.random.SeedSequence
        One per point, derived from ``(base seed, grid-point multi-index)`` only, so results never
        depend on the order in which chunks run or on the chunking (built on first use).
    is_probe : bool
        True for the one-point call made before a run to check outputs and compile kernels.
    """

    __slots__ = ("index", "slices", "shape", "points", "base_seed", "is_probe", "_seeds")

    def __init__(self, index, slices, shape, points, base_seed: int, is_probe: bool = False):
        self.index = index
        self.slices = slices
        self.shape = shape
        self.points = points
        self.base_seed = base_seed
        self.is_probe = is_probe
        self._seeds = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def id(self) -> str:
        return "probe" if self.is_probe else chunk_id(self.index)

    @property
    def seeds(self) -> list[np.random.SeedSequence]:
        if self._seeds is None:
            ranges = [range(s.start, s.stop) for s in self.slices]
            self._seeds = [seed_for_key(self.base_seed, idx) for idx in itertools.product(*ranges)]
        return self._seeds

    def generators(self) -> list[np.random.Generator]:
        """One independent ``numpy.random.Generator`` per point."""
        return [np.random.default_rng(s) for s in self.seeds]

    @deprecated_function("chunk.seeds (one SeedSequence per point; [s.generate_state(1, np.uint64)[0] for s in "
                         "chunk.seeds] gives the same integers)", name="gdsim.sweep.Chunk.seed_ints")
    def seed_ints(self) -> np.ndarray:
        """One 64-bit integer seed per point (for kernels that take integer seeds).

        .. deprecated:: 0.2
            Nothing in gdsim uses it; removed in 0.3 (:data:`gdsim._core.deprecation.REMOVAL`). Use
            :attr:`seeds` (``[s.generate_state(1, np.uint64)[0] for s in chunk.seeds]`` gives the same numbers).
        """
        return np.array([s.generate_state(1, np.uint64)[0] for s in self.seeds], dtype=np.uint64)

    def run_batched(self, call: Callable, by: tuple[str, ...] = ()):
        """Run the chunk's points as batched calls and put each run's outputs back at its point.

        Points that share the values of the axes ``by`` (axes a batched function takes as scalars, such
        as a width) form one call; the other axes arrive as per-point arrays. Each call is
        ``call(points=..., seed=...)`` plus one keyword per axis of ``by`` holding its scalar value, with
        ``points`` the group's per-point coordinates (axis -> 1-D array) and ``seed`` the group's
        per-point :class:`~numpy.random.SeedSequence` list, one per run: a point's numbers depend on its
        grid index only, never on the chunking, the executor or which points share the call.

        ``call`` returns a mapping or a :class:`~gdsim.Result` whose arrays have one leading entry per
        point of the group (any trailing shape). Returns a :class:`~gdsim.Result` of the merged arrays,
        shape ``(chunk.size, ...)``; the sweep keeps the outputs it declares and checks their shapes.
        """
        by = tuple(by)
        unknown = [a for a in by if a not in self.points]
        if unknown:
            raise SpecError(f"run_batched: by names unknown axis/axes {unknown}; axes are {list(self.points)}")
        key = np.stack([self.points[a] for a in by], axis=1) if by else np.zeros((self.size, 0))
        groups = np.unique(key, axis=0) if by else key[:1]
        seeds = self.seeds
        out: dict[str, np.ndarray] = {}
        for values in groups:
            sel = np.flatnonzero((key == values).all(axis=1)) if by else np.arange(self.size)
            scalars = {a: self.points[a][sel[0]].item() for a in by}
            res = call(points={k: v[sel] for k, v in self.points.items()}, seed=[seeds[i] for i in sel], **scalars)
            for name in res.keys():
                a = np.asarray(res[name])
                if a.size % sel.size:
                    raise SpecError(f"run_batched: output {name!r} has {a.size} values for {sel.size} points")
                a = a.reshape(sel.size, -1)
                if name not in out:
                    out[name] = np.empty((self.size, a.shape[1]), dtype=a.dtype)
                out[name][sel] = a
        from gdsim._core.result import Result

        return Result(out, {"provenance": {}})

    def __repr__(self):
        return f"Chunk(index={self.index}, shape={self.shape})"


# ------------------------------------------------------------------------------------------- sweep


def _axis_values(name: str, values) -> np.ndarray:
    if isinstance(values, Mapping):
        # TOML conveniences: {linspace = [a, b, n]}, {logspace = [a, b, n]} (powers of 10), {range = n}
        if len(values) != 1:
            raise SpecError(f"axis {name!r}: give exactly one of linspace, logspace, geomspace, range")
        (kind, args), = values.items()
        makers = {"linspace": np.linspace, "logspace": np.logspace, "geomspace": np.geomspace,
                  "range": np.arange}
        if kind not in makers:
            raise SpecError(f"axis {name!r}: unknown generator {kind!r}; allowed: {sorted(makers)}")
        args = args if isinstance(args, (list, tuple)) else [args]
        try:
            values = makers[kind](*args)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"axis {name!r}: bad arguments {args!r} for {kind}: {exc}") from exc
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SpecError(f"axis {name!r} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise SpecError(f"axis {name!r} is empty")
    if arr.dtype.kind not in "fiub":
        raise SpecError(f"axis {name!r} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise SpecError(f"axis {name!r} holds NaN or inf")
    if np.unique(arr).size != arr.size:
        _, counts = np.unique(arr, return_counts=True)
        dup = np.unique(arr)[counts > 1]
        raise SpecError(f"axis {name!r} has duplicate values {dup[:5].tolist()}")
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr.astype(np.int64)


@dataclasses.dataclass
class Sweep:
    """A labelled grid of simulations.

    Parameters
    ----------
    name : str
        Name of the sweep (stored with the results).
    axes : mapping of str to array-like
        Axis name -> distinct numeric values. The grid is their Cartesian product, in this order.
    simulation : callable or str
        ``fn(chunk, **params) -> {output: array (chunk.size, *shape)}``, or ``"module:function"``.
        Process-pool and Dask executors import it by that reference, so it must be importable there.
    outputs : mapping, optional
        Output name -> :class:`Output` (or a shape tuple / mapping). Defaults to the ``sweep_outputs``
        declared by :func:`simulation`.
    params : mapping, optional
        Fixed keyword arguments passed to every call (JSON-serialisable: they enter the fingerprint).
    chunks : mapping of str to int, optional
        Block length along each axis. Axes not named are chunked automatically so a chunk has about
        ``chunk_points`` grid points (the last axes are kept whole first).
    chunk_points : int
        Target points per chunk for automatic chunking (a kernel call should be large enough to amortise
        its launch; 256 by default).
    seed : int
        Base seed; each grid point's seed is derived from it and the point's multi-index.
    """

    name: str
    axes: Mapping[str, Any]
    simulation: Any
    outputs: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    chunks: Mapping[str, int] | None = None
    chunk_points: int = 256
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("sweep name must be a non-empty string")
        if not isinstance(self.name, str):
            raise SpecError("name must be a non-empty string")
        if not isinstance(self.axes, Mapping) or not self.axes:
            raise SpecError("a sweep needs at least one axis (axes: a mapping of axis name -> values)")
        self.axes = {str(k): _axis_values(str(k), v) for k, v in self.axes.items()}
        self._fn, self.simulation_ref = resolve_simulation(self.simulation)
        outs = self.outputs if self.outputs is not None else getattr(self._fn, "sweep_outputs", None)
        if outs is not None and not isinstance(outs, Mapping):
            raise SpecError(f"outputs must be a mapping of output name -> Output (or shape); got {type(outs).__name__}")
        if not outs:
            raise SpecError(f"no outputs declared for simulation {self.simulation_ref!r}: pass outputs= "
                            "or decorate it with gdsim.sweep.simulation(outputs=...)")
        self.outputs = {str(k): Output.coerce(v) for k, v in outs.items()}
        for k in self.outputs:
            if k in self.axes:
                raise SpecError(f"output {k!r} has the same name as an axis")
        if self.params is not None and not isinstance(self.params, Mapping):
            raise SpecError(f"params must be a mapping of keyword -> value; got {type(self.params).__name__}")
        self.params = dict(self.params or {})
        try:
            json.dumps(self.params, sort_keys=True)
        except TypeError as exc:
            raise SpecError(f"params must be JSON-serialisable (they identify the sweep): {exc}") from exc
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise SpecError(f"seed must be a non-negative integer, got {self.seed!r}")
        self.seed = int(self.seed)
        if self.chunks is not None and not isinstance(self.chunks, Mapping):
            raise SpecError(f"chunks must be a mapping of axis -> block length; got {type(self.chunks).__name__}")
        self.chunks = self._resolve_chunks(self.chunks or {})
        if self.n_chunks > MAX_CHUNKS:
            raise SpecError(f"axes of sizes {self.shape} make {self.n_chunks:.3g} chunks (chunks = {self.chunks}), more "
                            f"than {MAX_CHUNKS:.0e}: the store's bookkeeping alone would not fit; use larger chunks "
                            "or fewer points")

    # --------------------------------------------------------------------------------- geometry
    def _resolve_chunks(self, given: Mapping[str, int]) -> dict[str, int]:
        unknown = set(given) - set(self.axes)
        if unknown:
            raise SpecError(f"chunks name unknown axis/axes {sorted(unknown)}; axes are {list(self.axes)}")
        if isinstance(self.chunk_points, bool) or not isinstance(self.chunk_points, (int, np.integer)) \
                or not 1 <= self.chunk_points <= 2**40:
            raise SpecError(f"chunk_points must be a positive integer (at most 2^40), got {self.chunk_points!r}")
        out = {}
        budget = int(self.chunk_points)
        for k in given:
            c = given[k]
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
                raise SpecError(f"chunk length for axis {k!r} must be a positive integer, got {c!r}")
            out[k] = min(int(c), self.axes[k].size)
            budget = max(1, budget // out[k])
        for k in reversed(list(self.axes)):
            if k in out:
                continue
            n = self.axes[k].size
            out[k] = max(1, min(n, budget))
            budget = max(1, budget // out[k])
        return {k: out[k] for k in self.axes}

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(v.size for v in self.axes.values())

    @property
    def chunk_grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(v.size / self.chunks[k]) for k, v in self.axes.items())

    @property
    def n_chunks(self) -> int:
        return math.prod(self.chunk_grid)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    def chunk_indices(self):
        return list(np.ndindex(*self.chunk_grid))

    def chunk(self, index) -> Chunk:
        """The :class:`Chunk` at position ``index`` of the chunk grid."""
        index = tuple(int(i) for i in index)
        slices = tuple(slice(i * self.chunks[k], min((i + 1) * self.chunks[k], v.size))
                       for i, (k, v) in zip(index, self.axes.items()))
        sub = [v[s] for v, s in zip(self.axes.values(), slices)]
        shape = tuple(len(s) for s in sub)
        mesh = np.meshgrid(*sub, indexing="ij")
        points = {k: m.ravel() for k, m in zip(self.axes, mesh)}
        return Chunk(index, slices, shape, points, self.seed)

    def probe_chunk(self) -> Chunk:
        """A one-point chunk (the first grid point), used to check outputs and compile before work starts."""
        first = {k: v[:1].copy() for k, v in self.axes.items()}
        return Chunk((0,) * len(self.axes), (slice(0, 1),) * len(self.axes), (1,) * len(self.axes), first,
                     self.seed, is_probe=True)

    # ------------------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        """JSON-ready description (axes values in full): everything that changes a result."""
        return {
            "name": self.name,
            "axes": {k: v.tolist() for k, v in self.axes.items()},
            "simulation": self.simulation_ref,
            "outputs": {k: {"shape": list(o.shape), "dtype": o.dtype, "dims": list(o.dim_names(k))}
                        for k, o in self.outputs.items()},
            "params": self.params,
            "chunks": self.chunks,
            "seed": self.seed,
        }

    def fingerprint(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def call(self, chunk: Chunk) -> dict[str, np.ndarray]:
        """Run the simulation on ``chunk`` and check what it returns against the declared outputs."""
        res = self._fn(chunk, **self.params)
        return check_outputs(self, chunk, res)

    def warmup(self) -> None:
        """Compile the simulation's kernels: its ``sweep_warmup`` hook if any, else a one-point call."""
        hook = getattr(self._fn, "sweep_warmup", None)
        if hook is not None:
            hook(**self.params)
        self.call(self.probe_chunk())


def check_outputs(sweep: Sweep, chunk: Chunk, res) -> dict[str, np.ndarray]:
    from gdsim._core.result import Result

    if isinstance(res, Result):  # a batched call's result: keep the declared outputs
        res = {k: res[k] for k in res.keys() if k in sweep.outputs}
    if not isinstance(res, Mapping):
        raise SpecError(f"simulation {sweep.simulation_ref!r} must return a mapping or a Result, "
                        f"got {type(res).__name__}")
    missing = set(sweep.outputs) - set(res)
    extra = set(res) - set(sweep.outputs)
    if missing or extra:
        raise SpecError(f"simulation {sweep.simulation_ref!r} returned outputs {sorted(res)}, "
                        f"declared {sorted(sweep.outputs)} (missing {sorted(missing)}, extra {sorted(extra)})")
    out = {}
    for k, o in sweep.outputs.items():
        a = np.asarray(res[k])
        if a.ndim >= 1 and a.shape[0] == chunk.size and a.size == chunk.size * math.prod(o.shape):
            a = a.reshape(*chunk.shape, *o.shape)  # one leading entry per point, C order
        elif a.shape != (*chunk.shape, *o.shape):
            raise SpecError(f"output {k!r}: simulation returned shape {a.shape} for a chunk of {chunk.size} "
                            f"points, declared per-point shape {o.shape} (expected {(chunk.size, *o.shape)})")
        if not np.can_cast(a.dtype, o.dtype, casting="same_kind"):
            raise SpecError(f"output {k!r}: simulation returned dtype {a.dtype}, declared {o.dtype}")
        out[k] = np.ascontiguousarray(a, dtype=o.dtype)
    return out


def load_spec(path: str | Path) -> Sweep:
    """Read a sweep from a TOML file.

    Keys: ``name``, ``simulation`` ("module:function"), ``seed``, ``chunk_points``, and tables ``[axes]``
    (lists or ``{linspace|logspace|geomspace|range = [...]}``), ``[params]``, ``[chunks]``, ``[outputs]``
    (``name = {shape = [...], dtype = "float64", dims = [...]}``; optional if the simulation declares them).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be the path of a TOML spec (str or os.PathLike); got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep spec {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    allowed = {"name", "simulation", "axes", "outputs", "params", "chunks", "chunk_points", "seed"}
    unknown = set(raw) - allowed
    if unknown:
        raise SpecError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    for key in ("simulation", "axes"):
        if key not in raw:
            raise SpecError(f"{path}: missing required key {key!r}")
    return Sweep(name=raw.get("name", path.stem), axes=raw["axes"], simulation=raw["simulation"],
                 outputs=raw.get("outputs"), params=raw.get("params", {}), chunks=raw.get("chunks"),
                 chunk_points=raw.get("chunk_points", 256), seed=raw.get("seed", 0))
