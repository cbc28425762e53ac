"""Run every gdsim benchmark and print one table.

Usage: ``python -m benchmarks [--quick] [--json PATH]`` (``--quick`` shrinks sizes and skips JAX; for smoke
tests; ``--json`` also writes the machine (CPU, measured peak and bandwidth, date) and every row to PATH, the
file format the docs' benchmark page renders: ``docs/benchmarks/<machine>.json``).
Rows report the gdsim time, peer times measured in the same run (NumPy; JAX jit+vmap when installed:
``pip install 'gdsim[bench]'``), speed-ups, and achieved GFLOP/s or GB/s against the machine's FP64
peak (DGEMM) and copy bandwidth, both measured by this harness in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import platform

from benchmarks._harness import measure_bandwidth, measure_fma_peak, measure_fp64_peak, print_table

MODULES = ["benchmarks.bench_scalar", "benchmarks.bench_sweep", "benchmarks.bench_particles", "benchmarks.bench_sensing", "benchmarks.bench_games", "benchmarks.bench_langevin", "benchmarks.bench_fractal", "benchmarks.bench_dynamics", "benchmarks.bench_stability", "benchmarks.bench_spectral", "benchmarks.bench_guess_check", "benchmarks.bench_training_jacobian", "benchmarks.bench_central_flow"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, no JAX (smoke test)")
    parser.add_argument("--only", default=None, help="substring of the benchmark module names to run")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the machine and the rows as JSON to PATH (the docs' benchmark page)")
    args = parser.parse_args(argv)
    import numba

    print(f"numba threads: {numba.get_num_threads()}")
    dgemm = measure_fp64_peak(1024 if args.quick else 2048)
    fma = measure_fma_peak()
    print(f"FP64: DGEMM {dgemm:.1f} GFLOP/s, FMA chains {fma:.1f} GFLOP/s")
    peak = max(dgemm, fma)
    bw = measure_bandwidth(64 * 2**20 if args.quick else 512 * 2**20)
    rows, compile_times = [], {}
    for name in MODULES:
        if args.only and args.only not in name:
            continue
        mod = importlib.import_module(name)
        if hasattr(mod, "check_agreement"):
            mod.check_agreement()
        r, c = mod.run(quick=args.quick)
        rows += r
        compile_times.update(c)
    print_table(rows, peak, bw, compile_times)
    if args.json:
        write_json(args.json, rows, peak=peak, dgemm=dgemm, fma=fma, bandwidth=bw, compile_times=compile_times,
                   quick=args.quick, only=args.only)
    return 0


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_json(path, rows, *, peak, dgemm, fma, bandwidth, compile_times, quick, only) -> None:
    """One machine's run: its CPU, measured peak and bandwidth, date, and every row (times in seconds)."""
    import numba
    import numpy

    machine = {
        "cpu": cpu_name(), "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
        "fp64_peak_gflops": round(peak, 1), "dgemm_gflops": round(dgemm, 1), "fma_gflops": round(fma, 1),
        "copy_bandwidth_gbs": round(bandwidth, 1), "python": platform.python_version(),
        "numpy": numpy.__version__, "numba": numba.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    }
    out = {"machine": machine, "quick": bool(quick), "only": only, "compile_s": compile_times,
           "rows": [dataclasses.asdict(r) for r in rows]}
    with open(path, "w") as f:
        json.dump(out, f, indent=2, default=float)
