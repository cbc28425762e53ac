"""Mean-field GDA (Lu 2023): the generic pairwise drift and the O(N) feature path.

1. Pairwise drift at N_x = N_y = 4096 for T3 (grad_x K and grad_y K per pair: sin/cos, i.e.
   transcendental-bound): kernel evaluations per second next to NumPy broadcasting.
2. Feature path: time per particle-GDA step at N = 1e6 per player (target < 50 ms), next to the same
   step in NumPy (moments by vectorised sums, drift by the Fourier weights).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time


def numpy_pairwise(X, Y):
    tp = 2 * np.pi
    x, y = X[:, None], Y[None, :]
    gx = -2 * tp * np.sin(tp * (x + y)) + 2 * tp * np.cos(2 * tp * x) - 0.5 * tp * np.sin(tp * x)
    gy = -2 * tp * np.sin(tp * (x + y)) + 2 * tp * np.cos(2 * tp * y) - 0.3 * tp * np.cos(tp * y)
    return gx.mean(1), gy.mean(0)


def numpy_feature_step(X, Y, C, tau, eta, h, rng):
    L = (C.shape[0] - 1) // 2
    ks = np.arange(-L, L + 1)
    mx = np.exp(2j * np.pi * np.multiply.outer(X, ks)).mean(0)
    my = np.exp(2j * np.pi * np.multiply.outer(Y, ks)).mean(0)
    w = C @ my
    u = C.T @ mx
    dphi = np.real((2j * np.pi * ks * w) @ np.exp(2j * np.pi * np.multiply.outer(ks, X)))
    dpsi = np.real((2j * np.pi * ks * u) @ np.exp(2j * np.pi * np.multiply.outer(ks, Y)))
    X = (X - h * dphi + np.sqrt(2 * tau * h) * rng.standard_normal(X.size)) % 1.0
    Y = (Y + eta * h * dpsi + np.sqrt(2 * eta * tau * h) * rng.standard_normal(Y.size)) % 1.0
    return X, Y


def run(quick=False):
    import gdsim.games as gg
    from gdsim.games import _kernels as k

    rows, compile_times = [], {}
    pay = gg.payoff_t3()
    n = 1024 if quick else 4096
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(size=n), rng.uniform(size=n)
    dX, dY = np.empty(n), np.empty(n)
    t0 = time.perf_counter()
    k.pairwise_drift(X, Y, pay.grad_x, pay.grad_y, pay.params, dX, dY)
    compile_times["games.pairwise_drift"] = time.perf_counter() - t0
    t_pair = best_time(lambda: k.pairwise_drift(X, Y, pay.grad_x, pay.grad_y, pay.params, dX, dY), repeat=5)
    t_np = best_time(lambda: numpy_pairwise(X, Y), repeat=2)
    evals = 2.0 * n * n
    rows.append(Row("games pairwise drift (T3, sin/cos)", f"N_x=N_y={n}", t_pair, {"numpy (broadcast)": t_np},
                    note=f"{evals / t_pair / 1e6:.0f} M kernel-gradient evaluations/s (transcendental-bound: "
                         f"each evaluation has 3 sin/cos); numpy {evals / t_np / 1e6:.0f} M/s"))

    N = 100_000 if quick else 1_000_000
    t0 = time.perf_counter()
    gg.particle_gda(pay, 1.0, 1.0, 2.5e-4 * 2, n_x=30_000, dt=2.5e-4, n_records=2, ni_grid=0)
    compile_times["games.particle_gda (feature path)"] = time.perf_counter() - t0
    steps = 20 if quick else 60

    def run_steps(s):
        gg.particle_gda(pay, 1.0, 1.0, 2.5e-4 * s, n_x=N, dt=2.5e-4, n_records=2, ni_grid=0, seed=1)

    # per-step time from the difference of two runs (start-up and the first moment pass cancel)
    t_short = best_time(lambda: run_steps(steps // 4), repeat=2, warmup=0)
    t_long = best_time(lambda: run_steps(steps), repeat=2, warmup=0)
    per_step = (t_long - t_short) / (steps - steps // 4)
    Xb, Yb = rng.uniform(size=N), rng.uniform(size=N)
    t_np_step = best_time(lambda: numpy_feature_step(Xb, Yb, pay.coef, 1.0, 1.0, 2.5e-4, rng), repeat=2)
    rows.append(Row("games particle_gda step (feature path)", f"N={N:.0e} per player", per_step,
                    {"numpy (vectorised)": t_np_step},
                    note="one fused pass per player (drift, polar-method normals, new cos/sin, moments); "
                         "target < 50 ms at N = 1e6"))
    print(f"[games] feature path: {per_step * 1e3:.1f} ms per step at N = {N:.0e} (numpy {t_np_step * 1e3:.1f} ms)")

    # the public call against its kernel alone on the same prepared start (same work, same bits)
    from gdsim.games._api import _prepare

    h = 2.5e-4
    taus, nsteps, keys, X0, Y0, rec, grid, _ = _prepare(pay, 1.0, 1.0, h * steps, N, N, h, 1, None, "uniform", "feature",
                                                         1, 2, 0)

    def kernel_only():
        X, Y = X0.copy(), Y0.copy()
        mom, ni0 = np.full((1, rec.size, 2, 4), np.nan), np.full((1, rec.size), np.nan)
        k.gda_feature(X[0], Y[0], pay.coef, taus if taus.size else np.zeros(1), 1.0, h, 0, nsteps, keys[0, 0],
                      keys[0, 1], rec, mom[0], ni0[0], grid, 2)

    t_kernel = best_time(kernel_only, repeat=2, warmup=0)
    rows.append(Row("games.particle_gda (public)", f"N={N:.0e} per player, {steps} steps", t_long, {},
                    kernel_s=t_kernel, note="the public call (start, records, labelled result) against its kernel"))
    return rows, compile_times
