"""Run a sweep into its store: check, probe, skip what is done, compute the rest, write as it finishes."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from gdsim._core.progress import progress_bar
from gdsim.sweep.executors import EXECUTORS, RUNNERS
from gdsim.sweep.spec import Sweep, chunk_id, load_spec
from gdsim.sweep.store import SweepStore


@dataclasses.dataclass
class SweepReport:
    """What a call to :func:`run` did."""

    store: Path
    name: str
    chunks_total: int
    chunks_skipped: int
    chunks_computed: int
    seconds: float
    executor: str

    @property
    def complete(self) -> bool:
        return self.chunks_skipped + self.chunks_computed == self.chunks_total

    def dataset(self, **kw):
        """The results as an ``xarray.Dataset`` (see :func:`open_dataset`)."""
        return SweepStore(self.store).open_dataset(**kw)


def _say(verbose, msg):
    if verbose:
        print(f"gdsim sweep: {msg}", file=sys.stderr, flush=True)


def run(sweep: Sweep | str | Path, store: str | Path, *, executor: str | None = None, workers: int | None = None,
        threads_per_worker: int | None = None, scheduler: str | None = None, client=None,
        progress: bool = True, verbose: bool = True, max_chunks: int | None = None) -> SweepReport:
    """Run (or resume) ``sweep`` into the zarr store at ``store``.

    Parameters
    ----------
    sweep : Sweep or path to a TOML spec
    store : path
        Created if absent. An existing store must have been written by the same spec (same
        fingerprint); its finished chunks are skipped.
    executor : {"inprocess", "processes", "dask"}, optional
        Default: ``"dask"`` if ``scheduler`` or ``client`` is given, ``"processes"`` if ``workers > 1``,
        else ``"inprocess"`` (Numba kernels run their own threads inside each call).
    workers : int, optional
        Processes (process pool) or LocalCluster workers; default the CPU count.
    threads_per_worker : int, optional
        Numba threads per worker; default 1 for pools and clusters (so workers do not oversubscribe) and
        all cores in-process.
    scheduler : str, optional
        ``"local"`` for a loopback ``LocalCluster``, or a scheduler address (``tcp://host:8786``).
    client : dask.distributed.Client, optional
        Use an existing client instead of creating one.
    progress, verbose : bool
        tqdm bar over chunks (with ETA); one-line messages on stderr.
    max_chunks : int, optional
        Compute at most this many chunks, then return (the store stays resumable).

    Returns
    -------
    SweepReport
        ``report.dataset()`` gives the ``xarray.Dataset``.
    """
    from gdsim._core.validate import MAX_INT, flag, path_like

    if not isinstance(sweep, Sweep):
        if not isinstance(sweep, (str, os.PathLike)):
            raise TypeError(f"sweep must be a Sweep or the path of a TOML spec; got {type(sweep).__name__}")
        if not Path(sweep).is_file():
            raise ValueError(f"sweep: the spec file {str(sweep)!r} does not exist")
        sweep = load_spec(sweep)
    path_like(store, "store", allow_none=False)
    progress, verbose = flag(progress, "progress"), flag(verbose, "verbose")
    for arg, val in (("workers", workers), ("threads_per_worker", threads_per_worker), ("max_chunks", max_chunks)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, int)):
            raise TypeError(f"{arg} must be a positive integer or None, got {val!r}")
        if val is not None and not 1 <= val <= (MAX_INT if arg == "max_chunks" else 4096):
            raise ValueError(f"{arg} must be between 1 and {MAX_INT if arg == 'max_chunks' else 4096}, got {val!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        raise TypeError(f"scheduler must be 'local' or a scheduler address such as 'tcp://host:8786', or None; "
                        f"got {scheduler!r}")
    if client is not None and not all(callable(getattr(client, a, None)) for a in ("map", "scatter", "run", "cancel")):
        raise TypeError(f"client must be a dask.distributed.Client (with map, scatter, run, cancel) or None; got "
                        f"{type(client).__name__}")
    if executor is None:
        executor = "dask" if (scheduler is not None or client is not None) else (
            "processes" if workers and workers > 1 else "inprocess")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    threads = threads_per_worker if threads_per_worker is not None else (None if executor == "inprocess" else 1)

    st = SweepStore(store)
    t0 = time.perf_counter()
    total = sweep.n_chunks
    # 1. an existing store must belong to this spec; a finished one means nothing to do
    if st.exists():
        st.create_or_check(sweep)
        done = st.done_ids()
        if len(done) == total:
            _say(verbose, f"{sweep.name!r} is already complete in {st.path} ({total}/{total} chunks); "
                          "nothing to do")
            return SweepReport(st.path, sweep.name, total, total, 0, time.perf_counter() - t0, executor)
    # 2. probe one grid point: checks the outputs' names/shapes/dtypes and compiles the kernels
    sweep.call(sweep.probe_chunk())
    created = st.create_or_check(sweep)
    st.acquire()
    try:
        done = st.done_ids()
        todo = [idx for idx in sweep.chunk_indices() if chunk_id(idx) not in done]
        if max_chunks is not None:
            todo = todo[:max_chunks]
        _say(verbose, f"{'created' if created else 'resuming'} {st.path}: {sweep.n_points} points in {total} chunks, "
                      f"{len(done)} done, {len(todo)} to run ({executor})")
        with progress_bar(total, enabled=progress, desc=sweep.name, unit="chunk", initial=len(done)) as bar:
            # The driver is the only writer: workers return arrays, so they need no access to the store.
            # Writes are synchronous: a writer thread would fight the kernels' threads for the GIL and
            # the cores (measured: +38% vs +12% in-process on 2 cores); pool/cluster workers keep
            # computing while the driver writes anyway.
            runner = RUNNERS[executor](sweep, todo, workers=workers, threads=threads, scheduler=scheduler,
                                       client=client)
            computed = 0
            for chunk, outputs, info in runner:
                st.write_chunk(sweep, chunk, outputs, info)
                computed += 1
                bar.update(1)
    finally:
        st.close()
        st.release()
    report = SweepReport(st.path, sweep.name, total, len(done), computed, time.perf_counter() - t0, executor)
    _say(verbose, f"{computed} chunks computed in {report.seconds:.1f} s; "
                  f"{len(done) + computed}/{total} done")
    return report


def open_dataset(store: str | Path, **kw):
    """Read a sweep store as an ``xarray.Dataset`` (unfinished points masked, ``done`` variable added)."""
    from gdsim._core.validate import path_like

    path_like(store, "store", allow_none=False)
    return SweepStore(store).open_dataset(**kw)


def status(store: str | Path) -> dict:
    """Chunks and points done/total of a store, its spec's name and fingerprint."""
    from gdsim._core.validate import path_like

    path_like(store, "store", allow_none=False)
    return SweepStore(store).status()
