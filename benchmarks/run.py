"""Run every gdsim benchmark and print one table.

Usage: ``python -m benchmarks [--quick]`` (``--quick`` shrinks sizes and skips JAX; for smoke tests).
Rows report the gdsim time, peer times measured in the same run (NumPy; JAX jit+vmap when installed:
``pip install 'gdsim[bench]'``), speed-ups, and achieved GFLOP/s or GB/s against the machine's FP64
peak (DGEMM) and copy bandwidth, both measured by this harness in the same run.
"""

from __future__ import annotations

import argparse
import importlib

from benchmarks._harness import measure_bandwidth, measure_fma_peak, measure_fp64_peak, print_table

MODULES = ["benchmarks.bench_scalar", "benchmarks.bench_sweep", "benchmarks.bench_particles", "benchmarks.bench_sensing", "benchmarks.bench_games", "benchmarks.bench_langevin", "benchmarks.bench_fractal", "benchmarks.bench_dynamics", "benchmarks.bench_stability", "benchmarks.bench_spectral", "benchmarks.bench_guess_check", "benchmarks.bench_training_jacobian"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, no JAX (smoke test)")
    parser.add_argument("--only", default=None, help="substring of the benchmark module names to run")
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
    return 0
