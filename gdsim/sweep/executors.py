"""Where chunks run: in this process, in a local process pool, or on a Dask cluster.

Every executor yields ``(chunk, outputs, info)`` as chunks finish; only the driver writes to the store,
so workers need no access to it (a Dask cluster without a shared filesystem works) and a chunk is never
written twice. Workers get a fixed Numba thread count (``numba.set_num_threads`` is per calling
thread, so it is set inside every task) and compile their kernels once, before their first chunk.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

EXECUTORS = ("inprocess", "processes", "dask")


def compute_chunk(sweep, index, threads: int | None = None):
    """Run one chunk (in whatever process this is) and time it."""
    if threads:
        import numba

        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    chunk = sweep.chunk(index)
    t0 = time.perf_counter()
    outputs = sweep.call(chunk)
    info = {"seconds": time.perf_counter() - t0, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    return chunk, outputs, info


# ------------------------------------------------------------------------------------ in-process


def run_inprocess(sweep, indices, *, threads=None, **_) -> Iterator:
    for index in indices:
        yield compute_chunk(sweep, index, threads)


# --------------------------------------------------------------------------------- process pool

_WORKER_SWEEP = None


def _init_process_worker(sweep, threads):
    global _WORKER_SWEEP
    if threads:
        import numba

        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    sweep.warmup()  # compile (or load from the cache) before the first chunk
    _WORKER_SWEEP = sweep


def _process_task(index, threads):
    return compute_chunk(_WORKER_SWEEP, index, threads)


def run_processes(sweep, indices, *, workers=None, threads=1, **_) -> Iterator:
    import concurrent.futures as cf
    import multiprocessing as mp

    workers = workers or os.cpu_count() or 1
    # spawn, not fork: forking a process whose Numba/TBB/OpenMP thread pool is running can deadlock.
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                initializer=_init_process_worker, initargs=(sweep, threads)) as pool:
        futures = [pool.submit(_process_task, index, threads) for index in indices]
        try:
            for fut in cf.as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()


# ----------------------------------------------------------------------------------------- Dask


def _dask_warm(sweep, threads):
    if threads:
        import numba

        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    sweep.warmup()
    return os.getpid()


def _dask_task(index, sweep, threads):
    return compute_chunk(sweep, index, threads)


def dask_client(scheduler=None, *, workers=None, threads=1):
    """A ``dask.distributed.Client``: a loopback ``LocalCluster`` for ``None``/``"local"``, else an address.

    Returns ``(client, cluster_or_None)``; close both when done.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the Dask executor needs dask.distributed: pip install 'gdsim[dist]'") from exc
    if scheduler in (None, "local"):
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               env={"NUMBA_NUM_THREADS": str(threads or 1)})
        return Client(cluster), cluster
    return Client(scheduler), None


def run_dask(sweep, indices, *, scheduler=None, workers=None, threads=1, client=None, **_) -> Iterator:
    from dask.distributed import as_completed

    own = client is None
    cluster = None
    if own:
        client, cluster = dask_client(scheduler, workers=workers, threads=threads)
    try:
        client.run(_dask_warm, sweep, threads)  # every worker compiles before any chunk is submitted
        [sweep_future] = client.scatter([sweep], broadcast=True)
        futures = client.map(_dask_task, list(indices), sweep=sweep_future, threads=threads, pure=False)
        try:
            for fut in as_completed(futures):
                result = fut.result()
                fut.release()
                yield result
        finally:
            client.cancel(futures)
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


RUNNERS = {"inprocess": run_inprocess, "processes": run_processes, "dask": run_dask}
