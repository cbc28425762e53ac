"""Timing helpers and the machine's measured roofline (FP64 peak via DGEMM, memory bandwidth via copy)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


def mlp_flops_per_gradient(n, sizes) -> float:
    """Multiply-adds x 2 of one forward + backward pass of a one-hidden-layer MLP over n samples (no input
    gradient): the unit of the MLP benchmark rows."""
    d0, d1, d2 = sizes
    return 2 * n * (d0 * d1 + d1 * d2) + 2 * n * (d1 * d2 + d2 * d1 + d1 * d0)


def jax_tanh_mlp_mse(jnp, X, Y, sizes):
    """The JAX peers' loss: gdsim's zoo MLP (tanh hidden layers, linear output, per-layer W (row-major) then b),
    MSE = mean over samples of 0.5 ||f(x) - y||^2, on the flat parameter vector."""

    def loss(w):
        o, A = 0, X
        for l in range(len(sizes) - 1):
            din, dout = sizes[l], sizes[l + 1]
            W = w[o:o + dout * din].reshape(dout, din)
            o += dout * din
            b = w[o:o + dout]
            o += dout
            Z = A @ W.T + b
            A = jnp.tanh(Z) if l < len(sizes) - 2 else Z
        return 0.5 * jnp.sum((A - Y) ** 2) / X.shape[0]

    return loss


def best_time(fn, *, repeat=3, warmup=1) -> float:
    """Best wall time of ``repeat`` calls after ``warmup`` untimed calls (POT's warmup_runs habit)."""
    for _ in range(warmup):
        fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_fp64_peak(n=2048) -> float:
    """GFLOP/s of a large float64 DGEMM (BLAS, all cores): the practical FP64 peak of this machine."""
    a = np.random.default_rng(0).random((n, n))
    b = np.random.default_rng(1).random((n, n))
    t = best_time(lambda: a @ b, repeat=3)
    return 2 * n**3 / t / 1e9


def _fma_chain_kernel(chains: int):
    """A parallel Numba kernel of ``chains`` independent 8-lane FMA chains per thread block (explicit
    ``f64x8`` values: registers, no loads or stores in the loop)."""
    import numba

    from gdsim._core import simd
    from gdsim._core.jit import jit

    acc = [f"a{c}" for c in range(chains)]
    src = "\n".join([
        "def fma_chains(x, reps):",
        f"    for kb in prange(x.shape[0] // {8 * chains}):",
        f"        o = kb * {8 * chains}",
        *[f"        {a} = vload(x, o + {8 * c})" for c, a in enumerate(acc)],
        "        m = vsplat(0.9999999)",
        "        q = vsplat(1e-7)",
        "        for _ in range(reps):",
        *[f"            {a} = vfma({a}, m, q)" for a in acc],
        *[f"        vstore(x, o + {8 * c}, {a})" for c, a in enumerate(acc)],
    ]) + "\n"
    ns = dict(prange=numba.prange, vload=simd.vload, vstore=simd.vstore, vsplat=simd.vsplat, vfma=simd.vfma)
    exec(compile(src, f"<fma chains x{chains}>", "exec"), ns)
    return jit(ns["fma_chains"], parallel=True, cache=False, boundscheck=False)


def measure_fma_peak() -> float:
    """GFLOP/s of independent 8-lane FMA chains on all threads (an FMA = 2 flops): the arithmetic peak.

    DGEMM through BLAS can sit below the arithmetic units' peak (on AMD EPYC with OpenBLAS it did), so
    the harness reports the larger of the two as the machine's FP64 peak. Keeping two FMA pipes busy
    needs latency x pipes independent chains (4 x 2 on AMD Zen 5 with AVX-512), so 8, 12 and 16 chains of
    ``f64x8`` are tried and the fastest counts (16 can spill on AVX2 machines, 8 can be too few). An
    earlier version, a scalar loop over 64 values that LLVM vectorised, reached half of this on Zen 5.
    """
    import numba

    best = 0.0
    reps = 2_000_000
    for chains in (8, 12, 16):
        kern = _fma_chain_kernel(chains)
        x = np.ones(8 * chains * numba.get_num_threads())
        kern(x.copy(), 10)
        t = best_time(lambda: kern(x.copy(), reps), repeat=3, warmup=0)
        best = max(best, 2.0 * x.size * reps / t / 1e9)
    return best


def measure_bandwidth(nbytes=512 * 2**20) -> float:
    """GB/s of a large array copy, counting read + write bytes (STREAM 'copy')."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = best_time(lambda: np.copyto(dst, src), repeat=5)
    return 2 * nbytes / t / 1e9


@dataclass
class Row:
    kernel: str
    size: str
    gdsim_s: float
    peers: dict = field(default_factory=dict)  # name -> seconds (None: not installed)
    flops: float | None = None
    bytes: float | None = None
    note: str = ""
    kernel_s: float | None = None  # for a public call: its kernel alone, same work (throughput ratio printed)


def print_table(rows, peak_gflops, bandwidth_gbs, compile_times):
    print(f"\nmachine: FP64 peak (measured, max of DGEMM and FMA chains) {peak_gflops:.1f} GFLOP/s; "
          f"memory bandwidth (copy) {bandwidth_gbs:.1f} GB/s")
    for name, seconds in compile_times.items():
        print(f"compile (first call, incl. cache load): {name}: {seconds:.2f} s")
    head = f"{'kernel':34s} {'size':28s} {'gdsim s':>9s} {'peer':>16s} {'peer s':>9s} {'speed-up':>9s} " \
           f"{'GFLOP/s':>8s} {'%peak':>6s} {'GB/s':>7s} {'%bw':>5s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        gf = r.flops / r.gdsim_s / 1e9 if r.flops else None
        gb = r.bytes / r.gdsim_s / 1e9 if r.bytes else None
        peers = list(r.peers.items()) or [("-", None)]
        for i, (peer, t) in enumerate(peers):
            first = i == 0
            print(f"{r.kernel if first else '':34s} {r.size if first else '':28s} "
                  f"{(f'{r.gdsim_s:9.4f}' if first else ' ' * 9)} {peer:>16s} "
                  f"{(f'{t:9.4f}' if t else '      n/a')} {(f'{t / r.gdsim_s:8.1f}x' if t else '      n/a')} "
                  f"{(f'{gf:8.2f}' if gf and first else ' ' * 8)} {(f'{100 * gf / peak_gflops:5.1f}%' if gf and first else ' ' * 6)} "
                  f"{(f'{gb:7.2f}' if gb and first else ' ' * 7)} {(f'{100 * gb / bandwidth_gbs:4.0f}%' if gb and first else ' ' * 5)}")
        if r.kernel_s:
            print(f"{'':34s} public call: {100 * r.kernel_s / r.gdsim_s:.0f}% of the kernel's throughput "
                  f"(kernel {r.kernel_s:.4f} s)")
        if r.note:
            print(f"{'':34s} note: {r.note}")
