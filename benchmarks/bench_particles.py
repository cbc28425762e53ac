"""Particle GD (Daneshmand et al.): the full Fig. 2 workload and the d >= 2 pairwise kernel.

1. Fig. 2 at the paper's size: n in {4, ..., 256} (7 values) x 10 runs x 3e5 noisy PGD steps on the
   uniform target (rank form, O(n) per step). Peer: the same algorithm in NumPy (argsort per step,
   vectorised over runs), timed on fewer steps and scaled linearly. Target: < 2 minutes on 2 cores.
2. The pairwise interaction gradient (confinement + |z|^4/4) at n = 4096, d = 3: (5d + 2) n^2 flops
   (d subtractions, d FMAs for |z|^2, d FMAs into the forces, r2 * r2 into the value). Peer: NumPy
   broadcasting in row blocks. Target: within 2x of the peak-bound time flops / FP64 peak.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time

NS = (4, 8, 16, 32, 64, 128, 256)


def numpy_pgd_uniform(w0, steps, noise, rng):
    """Noisy PGD on E(., U[-1, 1]) in NumPy, vectorised over runs: argsort for ranks each step."""
    w = w0.copy()
    R, n = w.shape
    lr = 1.0 / np.sqrt(3e5)
    for _ in range(steps):
        ranks = np.argsort(np.argsort(w, axis=1), axis=1)
        dh = np.clip(w, -1.0, 1.0)
        g = (2.0 / n) * dh - (2.0 / n**2) * (2 * ranks - (n - 1))
        w -= lr * (g + noise * rng.uniform(-1, 1, size=w.shape))
    return w


def numpy_interaction_grad(X, lam=1.0, block=256):
    """The pairwise gradient by broadcasting, in row blocks (X is (n, d))."""
    n, d = X.shape
    G = lam * X / n
    F = 0.5 * lam * (X**2).sum() / n
    for i0 in range(0, n, block):
        z = X[i0:i0 + block, None, :] - X[None, :, :]
        r2 = (z * z).sum(-1)
        G[i0:i0 + block] += (r2[:, :, None] * z).sum(1) / n**2
        F += (r2 * r2).sum() / (8 * n**2)
    return F, G


def run(quick=False):
    from gdsim.particles import _kernels as k
    from gdsim.particles import noisy_particle_gd

    rows, compile_times = [], {}
    t0 = time.perf_counter()
    noisy_particle_gd(np.random.default_rng(0).uniform(-1, 1, (2, 4)), "energy_uniform", 5, seed=0)
    compile_times["particles.pgd_1d"] = time.perf_counter() - t0

    steps = 30_000 if quick else 300_000
    runs = 10
    rng = np.random.default_rng(1)
    starts = {n: rng.uniform(-1, 1, size=(runs, n)) for n in NS}

    def fig2():
        for n in NS:
            noisy_particle_gd(starts[n], "energy_uniform", steps, step="constant", noise=0.05, seed=n, n_records=4)

    t_fig2 = best_time(fig2, repeat=1, warmup=0)

    from gdsim.particles._api import _prepare

    prepared = {n: _prepare(starts[n], "energy_uniform", steps, None, (-1.0, 1.0), 1.0, None, "constant", None, 0.05,
                            "none", 4, n) for n in NS}

    def kernel_only():  # the same work as fig2(), without validation, seeding and result assembly
        for n in NS:
            obj, w0, _, nn, R, st, amp, gamma, rec, keys, _ = prepared[n]
            W = np.ascontiguousarray(w0.reshape(R, nn)).copy()
            k.pgd_1d(W, np.tile(np.arange(nn, dtype=np.int64), (R, 1)), gamma, 0, st, obj.kind, obj.v, obj.scale, amp,
                     keys, rec, np.full((R, rec.size), np.nan), np.full(R, np.inf), np.full(R, -1, dtype=np.int64),
                     W.copy())

    t_kernel = best_time(kernel_only, repeat=1, warmup=0)
    np_steps = 300 if quick else 2000
    t_np = best_time(lambda: [numpy_pgd_uniform(starts[n], np_steps, 0.05, np.random.default_rng(n)) for n in NS],
                     repeat=1, warmup=0) * steps / np_steps
    particle_steps = runs * steps * sum(NS)
    rows.append(Row("particles.noisy_particle_gd (Fig. 2)", f"n=4..256 x {runs} runs x {steps:.0e} steps", t_fig2,
                    {"numpy (argsort/step)": t_np}, kernel_s=t_kernel,
                    note=f"{particle_steps / t_fig2 / 1e6:.0f} M particle-steps/s (evaluation of E at every "
                         f"iterate included); NumPy extrapolated from {np_steps} steps; target < 120 s"))
    print(f"[particles] full Fig. 2 workload: {t_fig2:.1f} s")

    n, d = (1024, 3) if quick else (4096, 3)
    X = np.random.default_rng(2).normal(size=(d, n))
    G = np.empty_like(X)
    c = np.zeros(d)
    t0 = time.perf_counter()
    k.interaction_grad(X, 1.0, c, G)
    compile_times["particles.interaction_grad (d=3)"] = time.perf_counter() - t0
    t_pair = best_time(lambda: k.interaction_grad(X, 1.0, c, G), repeat=30)
    t_np_pair = best_time(lambda: numpy_interaction_grad(X.T.copy()), repeat=2)
    flops = float(n) * n * (5 * d + 2)
    rows.append(Row("particles pairwise gradient (d>=2)", f"n={n} d={d}", t_pair, {"numpy (broadcast)": t_np_pair},
                    flops=flops, note="d-unrolled generated kernel; flops = (5d + 2) n^2; target within 2x of "
                                      "the peak-bound time"))
    return rows, compile_times
