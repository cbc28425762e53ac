"""Sweep engine overhead and scale-out (issue 3).

1. Overhead: a sweep of 240 chunks (256 scalar-network GD runs each) through ``gdsim.sweep.run``
   in-process (store writes included), against calling the same simulation on the same chunks directly
   in one process with no store. Target: < 10% overhead.
2. Scale-out: the same kind of sweep on a Dask ``LocalCluster`` with 1 worker vs 2 workers (1 Numba
   thread each; workers warmed up before timing). Target: >= 1.7x on 2 cores.
"""

from __future__ import annotations

import shutil
import tempfile
import time

import numpy as np

from benchmarks._harness import Row

FLOPS_PER_STEP = 5 * 4 + 3  # depth-4 GD step (see bench_scalar)


def _sweep(n_eta, steps, name="bench"):
    import gdsim.sweep as gs

    return gs.Sweep(name, axes={"eta_D_over_2": np.linspace(0.1, 0.95, n_eta), "phi0_over_D": np.linspace(1.0, 3.0, 256)},
                    simulation="gdsim.scalar.sweeps:eos_final_state", params={"steps": steps, "depth": 4},
                    chunks={"eta_D_over_2": 1})


def overhead(n_chunks=240, steps=1_000_000):
    import gdsim.sweep as gs

    sw = _sweep(n_chunks, steps)
    sw.warmup()
    idx = sw.chunk_indices()
    t0 = time.perf_counter()
    for i in idx:
        sw.call(sw.chunk(i))
    direct = time.perf_counter() - t0
    tmp = tempfile.mkdtemp()
    try:
        t0 = time.perf_counter()
        gs.run(sw, f"{tmp}/s.zarr", progress=False, verbose=False)
        swept = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp)
    return sw, direct, swept


def dask_scaling(n_chunks=200, steps=1_000_000):
    import gdsim.sweep as gs
    from gdsim.sweep.executors import dask_client

    times = {}
    for workers in (1, 2):
        client, cluster = dask_client("local", workers=workers, threads=1)
        tmp = tempfile.mkdtemp()
        try:
            gs.run(_sweep(4, 10, "warm"), f"{tmp}/warm.zarr", client=client, progress=False, verbose=False)
            sw = _sweep(n_chunks, steps)
            t0 = time.perf_counter()
            gs.run(sw, f"{tmp}/s.zarr", client=client, threads_per_worker=1, progress=False, verbose=False)
            times[workers] = time.perf_counter() - t0
        finally:
            client.close()
            cluster.close()
            shutil.rmtree(tmp)
    return sw, times


def run(quick=False):
    rows, compile_times = [], {}
    import gdsim.sweep as gs

    t0 = time.perf_counter()
    _sweep(2, 10).warmup()
    compile_times["sweep eos_final_state (probe + kernels)"] = time.perf_counter() - t0

    n, steps = (40, 20_000) if quick else (240, 1_000_000)
    sw, direct, swept = overhead(n, steps)
    flops = float(sw.n_points) * steps * FLOPS_PER_STEP
    over = 100 * (swept / direct - 1)
    rows.append(Row("sweep.run in-process (zarr store)", f"{sw.n_chunks} chunks x 256 runs, {steps} steps", swept,
                    {"direct calls, no store": direct}, flops=flops,
                    note=f"overhead {over:+.1f}% ({1e3 * (swept - direct) / sw.n_chunks:.2f} ms/chunk; "
                         f"chunk {1e3 * direct / sw.n_chunks:.1f} ms); target < 10%"))
    print(f"[sweep] in-process overhead: {over:+.1f}% over {sw.n_chunks} chunks")
    if not quick:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            print("[sweep] dask.distributed not installed: skipping the scale-out benchmark")
            return rows, compile_times
        sw, times = dask_scaling()
        flops = float(sw.n_points) * 1_000_000 * FLOPS_PER_STEP
        rows.append(Row("sweep.run Dask LocalCluster 2x1 thr", f"{sw.n_chunks} chunks x 256 runs, 1e6 steps",
                        times[2], {"Dask 1 worker x 1 thr": times[1]}, flops=flops,
                        note=f"scale-out {times[1] / times[2]:.2f}x on 2 workers; target >= 1.7x"))
        print(f"[sweep] Dask scale-out: 1 worker {times[1]:.2f} s, 2 workers {times[2]:.2f} s, "
              f"{times[1] / times[2]:.2f}x")
    del gs
    return rows, compile_times
