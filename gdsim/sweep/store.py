"""The zarr store of a sweep: one region per chunk, completion markers, resume and read-back.

Layout (zarr v3 directory store, readable by ``xarray.open_zarr``):

* one array per axis (the coordinates) and one per output, with ``dimension_names`` set and zarr chunks
  aligned to the sweep's chunks, so a sweep chunk owns its zarr chunk files;
* group attributes ``gdsim_sweep`` (the spec), ``gdsim_fingerprint`` and ``gdsim_provenance``;
* ``_gdsim_done/<chunk id>``: a small JSON marker per finished chunk, written (atomically, by rename)
  only after every output of the chunk is on disk. A chunk without a marker is not done: it is
  recomputed on resume and masked (NaN / fill value) when the store is read.

zarr's local store writes every chunk file through a temporary file and a rename, so a killed writer
never leaves a torn chunk file; the marker makes the multi-output chunk write all-or-nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import numpy as np

from gdsim._core.atomic import atomic_directory, atomic_write
from gdsim._core.provenance import environment, now_iso
from gdsim.sweep.spec import SpecError, Sweep

DONE_DIR = "_gdsim_done"
LOCK_FILE = "_gdsim_lock"


class SweepStore:
    """A sweep's zarr store on local disk (or a shared filesystem)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._arrays = None  # async output arrays opened for writing, cached across chunks
        self._loop = None  # the driver's own event loop for zarr's async API

    # --------------------------------------------------------------------------------- basics
    @property
    def done_dir(self) -> Path:
        return self.path / DONE_DIR

    def exists(self) -> bool:
        return (self.path / "zarr.json").is_file()

    def _group(self, mode="r"):
        import zarr

        return zarr.open_group(str(self.path), mode=mode, zarr_format=3)

    def stored_spec(self) -> dict:
        if not self.exists():
            raise FileNotFoundError(f"{str(self.path)!r} is not a gdsim sweep store (no zarr.json)")
        attrs = dict(self._group("r").attrs)
        if "gdsim_sweep" not in attrs:
            raise SpecError(f"{str(self.path)!r} is a zarr store but not a gdsim sweep store")
        return attrs

    # ---------------------------------------------------------------------------- create/open
    def create_or_check(self, sweep: Sweep) -> bool:
        """Create the store for ``sweep``, or check an existing one belongs to it. True if created."""
        if self.exists():
            attrs = self.stored_spec()
            if attrs.get("gdsim_fingerprint") != sweep.fingerprint():
                old = attrs["gdsim_sweep"]
                diff = sorted(k for k in set(old) | set(sweep.to_dict()) if old.get(k) != sweep.to_dict().get(k))
                raise SpecError(f"store {str(self.path)!r} was written by a different sweep spec (fingerprint "
                                f"{attrs.get('gdsim_fingerprint')} != {sweep.fingerprint()}; differing fields: "
                                f"{diff}). Use a new --store path, or delete the old store.")
            return False
        if self.path.exists() and any(self.path.iterdir()):
            raise SpecError(f"{str(self.path)!r} exists, is not empty and is not a sweep store; refusing to "
                            "write into it")
        import zarr

        # Build in a sibling temporary directory and rename, so a half-created store is never seen.
        with atomic_directory(self.path) as tmp:
            self._create(zarr.open_group(str(tmp), mode="w", zarr_format=3), sweep)
        return True

    @staticmethod
    def _create(g, sweep: Sweep) -> None:
        """Write the coordinate arrays, the empty outputs, the attributes and the markers' group into ``g``."""
        axes = list(sweep.axes)
        for k, v in sweep.axes.items():
            a = g.create_array(k, shape=v.shape, dtype=v.dtype, chunks=v.shape, dimension_names=[k])
            a[...] = v
        for name, o in sweep.outputs.items():
            dims = axes + list(o.dim_names(name))
            g.create_array(name, shape=sweep.shape + o.shape, dtype=o.dtype,
                           chunks=tuple(sweep.chunks[k] for k in axes) + o.shape,
                           fill_value=o.fill_value, dimension_names=dims,
                           # flat chunk files (c.i.j): one directory, no mkdir per chunk written
                           chunk_key_encoding={"name": "default", "separator": "."})
        g.attrs.update({"gdsim_sweep": sweep.to_dict(), "gdsim_fingerprint": sweep.fingerprint(),
                        "gdsim_provenance": {**environment(), "created": now_iso()}})
        # The markers live in a (zarr) subgroup so zarr and xarray see a valid hierarchy.
        g.create_group(DONE_DIR, attributes={"about": "one marker file per finished sweep chunk"})

    # ---------------------------------------------------------------------------------- chunks
    def done_ids(self) -> set[str]:
        if not self.done_dir.is_dir():
            return set()
        return {p.name for p in self.done_dir.iterdir() if not p.name.startswith(".") and p.name != "zarr.json"}

    def write_chunk(self, sweep: Sweep, chunk, outputs: dict[str, np.ndarray], info: dict | None = None) -> None:
        """Write every output of ``chunk`` to its region, then mark the chunk done (atomically)."""
        # All outputs are written concurrently through zarr's public async API on a private event loop:
        # measured 1.9 ms vs 2.9 ms per chunk for three outputs written one by one (2 cores).
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._arrays = self._loop.run_until_complete(self._open_async(list(sweep.outputs)))
        self._loop.run_until_complete(self._write_async(chunk.slices, outputs))
        # No fsync: like zarr's own chunk writes, a marker survives a killed process (the page cache is the
        # kernel's); a power cut may lose one, and then that chunk is recomputed.
        atomic_write(self.done_dir / chunk.id, json.dumps({"finished": now_iso(), **(info or {})}), fsync=False)

    async def _open_async(self, names):
        import zarr.api.asynchronous as za

        g = await za.open_group(str(self.path), mode="r+", zarr_format=3)
        return {name: await g.getitem(name) for name in names}

    async def _write_async(self, slices, outputs):
        await asyncio.gather(*(self._arrays[name].setitem(slices, block) for name, block in outputs.items()))

    def close(self) -> None:
        """Close the writer's event loop (reopened on the next write)."""
        if self._loop is not None:
            self._loop.close()
        self._loop, self._arrays = None, None

    def chunk_info(self) -> dict[str, dict]:
        out = {}
        for cid in self.done_ids():
            try:
                out[cid] = json.loads((self.done_dir / cid).read_text())
            except (OSError, json.JSONDecodeError):
                out[cid] = {}
        return out

    # ------------------------------------------------------------------------------------ lock
    def acquire(self) -> None:
        """Refuse two live runners on one store (a lock left by a killed runner is taken over)."""
        lock = self.path / LOCK_FILE
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        if lock.exists():
            try:
                other = json.loads(lock.read_text())
            except (OSError, json.JSONDecodeError):
                other = {}
            if other.get("host") == me["host"] and _pid_alive(other.get("pid")) and other.get("pid") != me["pid"]:
                raise SpecError(f"store {str(self.path)!r} is being written by process {other['pid']} on this "
                                "machine; wait for it or stop it first")
        atomic_write(lock, json.dumps(me), fsync=False)

    def release(self) -> None:
        try:
            (self.path / LOCK_FILE).unlink()
        except FileNotFoundError:
            pass

    # ----------------------------------------------------------------------------------- read
    def status(self) -> dict:
        """What a store holds: name, fingerprint, chunks done/total, grid points done/total."""
        attrs = self.stored_spec()
        spec = attrs["gdsim_sweep"]
        grid = [len(v) for v in spec["axes"].values()]
        chunk_grid = [-(-n // spec["chunks"][k]) for n, k in zip(grid, spec["axes"])]
        done = self.done_ids()
        points_done = 0
        for cid in done:
            idx = [int(i) for i in cid.split("_")]
            points_done += int(np.prod([min((i + 1) * spec["chunks"][k], n) - i * spec["chunks"][k]
                                        for i, k, n in zip(idx, spec["axes"], grid)]))
        info = self.chunk_info()
        secs = [v["seconds"] for v in info.values() if "seconds" in v]
        n_chunks = int(np.prod(chunk_grid))
        return {"name": spec["name"], "fingerprint": attrs["gdsim_fingerprint"], "simulation": spec["simulation"],
                "axes": {k: len(v) for k, v in spec["axes"].items()}, "outputs": list(spec["outputs"]),
                "chunks_done": len(done), "chunks_total": n_chunks,
                "points_done": points_done, "points_total": int(np.prod(grid)),
                "complete": len(done) == n_chunks,
                "chunk_seconds_mean": float(np.mean(secs)) if secs else None,
                "created": attrs.get("gdsim_provenance", {}).get("created")}

    def done_mask(self) -> np.ndarray:
        """Boolean array over the grid: True where the point's chunk is done."""
        spec = self.stored_spec()["gdsim_sweep"]
        grid = [len(v) for v in spec["axes"].values()]
        mask = np.zeros(grid, dtype=bool)
        for cid in self.done_ids():
            idx = [int(i) for i in cid.split("_")]
            sl = tuple(slice(i * spec["chunks"][k], (i + 1) * spec["chunks"][k]) for i, k in zip(idx, spec["axes"]))
            mask[sl] = True
        return mask

    def open_dataset(self, *, load: bool = True):
        """The sweep's results as an ``xarray.Dataset`` (axes as coordinates, spec and provenance in attrs).

        Points of unfinished chunks read as NaN (float outputs) or the fill value, and the dataset has a
        boolean ``done`` variable over the grid.
        """
        import xarray as xr

        attrs = self.stored_spec()
        ds = xr.open_zarr(str(self.path), consolidated=False, zarr_format=3, chunks=None)  # no dask needed
        if load:
            ds = ds.load()
        spec = attrs["gdsim_sweep"]
        axes = list(spec["axes"])
        mask = self.done_mask()
        done = xr.DataArray(mask, dims=axes, coords={k: ds[k] for k in axes})
        for name, o in spec["outputs"].items():
            if not mask.all():
                fill = np.nan if np.dtype(o["dtype"]).kind == "f" else (False if o["dtype"] == "bool" else 0)
                ds[name] = ds[name].where(done, fill) if np.dtype(o["dtype"]).kind == "f" else \
                    ds[name].where(done, fill).astype(o["dtype"])
        ds["done"] = done
        ds.attrs = {"gdsim_sweep": json.dumps(spec), "gdsim_fingerprint": attrs["gdsim_fingerprint"],
                    "gdsim_provenance": json.dumps(attrs.get("gdsim_provenance", {})),
                    "name": spec["name"], "complete": int(mask.all())}
        return ds


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) still answers kill(0): treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
