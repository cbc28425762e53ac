"""Stability grids: the Agarwala second-order phase map and the regularised-logistic (eta, lambda) map, gdsim's
structure-of-arrays CPU kernels (through the public calls) vs ``jax.jit(jax.vmap(...))`` in float64.

The peers run the same GD per cell with the steps inside ``lax.scan`` (one compiled call per map) and return
the same final quantity; agreement is checked on a corner before timing. Flops are counted per cell-step:
16 for the two-parameter model (residual, Jacobian, lambda, update), 4 n d + 2 d for logistic GD (margins and
gradient, plus the update; the n exponentials are not counted).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time

SO_STEPS, LOG_STEPS = 5000, 1000


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def jax_second_order(steps, angle=0.3):
    """Final eta * lambda per (lr, eps_y) cell by jax.jit(jax.vmap(lax.scan)); None without JAX."""
    jax, jnp = _jax()
    if jax is None:
        return None
    g0, g1 = np.cos(angle), np.sin(angle)

    def cell(lr, ey):
        def step(t, _):
            z = 0.5 * (t[0] ** 2 - t[1] ** 2) + g0 * t[0] + g1 * t[1] - ey
            J = jnp.stack([g0 + t[0], g1 - t[1]])
            return t - lr * z * J, None

        t, _ = jax.lax.scan(step, jnp.zeros(2), None, length=steps)
        J = jnp.stack([g0 + t[0], g1 - t[1]])
        return lr * (J @ J)

    fn = jax.jit(jax.vmap(cell))

    def run(lr, ey):
        L, E = np.meshgrid(lr, ey, indexing="ij")
        return np.asarray(fn(jnp.asarray(L.ravel()), jnp.asarray(E.ravel())).block_until_ready()).reshape(L.shape)

    return run


def jax_logistic(A, y, steps):
    """Final objective per (lr, l2) cell of GD on the regularised logistic loss; None without JAX."""
    jax, jnp = _jax()
    if jax is None:
        return None
    A, y = jnp.asarray(A), jnp.asarray(y)

    def objective(w, lam):
        return jnp.mean(jnp.logaddexp(0.0, -y * (A @ w))) + 0.5 * lam * w @ w

    grad = jax.grad(objective)

    def cell(lr, lam):
        def step(w, _):
            return w - lr * grad(w, lam), None

        w, _ = jax.lax.scan(step, jnp.zeros(A.shape[1]), None, length=steps)
        return objective(w, lam)

    fn = jax.jit(jax.vmap(cell))

    def run(lr, l2):
        L, R = np.meshgrid(lr, l2, indexing="ij")
        return np.asarray(fn(jnp.asarray(L.ravel()), jnp.asarray(R.ravel())).block_until_ready()).reshape(L.shape)

    return run


def run(quick=False):
    import gdsim.stability as gst
    from gdsim.stability import _kernels as k

    rows, compile_times = [], {}
    # ---------------------------------------------------------------- second-order phase map
    res = 64 if quick else 256
    lr, ey = np.linspace(0.05, 2.6, res), np.linspace(-0.6, 0.6, res)
    t0 = time.perf_counter()
    gst.second_order_map(lr[:2], ey[:2], 2)
    compile_times["stability second_order_map"] = time.perf_counter() - t0
    L, E = np.meshgrid(lr, ey, indexing="ij")
    n = L.size
    bufs = [np.empty(n) for _ in range(3)] + [np.empty(n, np.int8)]
    Lr, Er = L.ravel().copy(), E.ravel().copy()
    t_kernel = best_time(lambda: k.second_order_grid(Lr, Er, np.cos(0.3), np.sin(0.3), SO_STEPS, 1e-12, *bufs),
                         repeat=3)
    t_api = best_time(lambda: gst.second_order_map(lr, ey, SO_STEPS), repeat=3)
    jfn = jax_second_order(SO_STEPS)
    peers, note = {"jax jit+vmap": None}, "JAX not installed (pip install -e '.[bench]')"
    if jfn is not None:
        t_c = time.perf_counter()
        corner = jfn(lr[:8], ey[:8])
        compile_times["jax jit(vmap) second-order map"] = time.perf_counter() - t_c
        mine = gst.second_order_map(lr[:8], ey[:8], SO_STEPS)
        ok = mine.status == 0  # converged cells agree to rounding (cycling ones are chaotic)
        err = float(np.max(np.abs(corner[ok] - mine.final_lr_ntk[ok]))) if ok.any() else float("nan")
        peers["jax jit+vmap"] = best_time(lambda: jfn(lr, ey), repeat=2, warmup=1)
        note = f"converged corner cells agree with JAX to {err:.1e}"
    size = f"{res}^2 cells, {SO_STEPS} steps"
    flops = float(n) * SO_STEPS * 16
    rows.append(Row("second-order map kernel (SoA, 64 cells/block)", size, t_kernel, peers, flops=flops,
                    note="flops = 16 per cell-step; " + note))
    rows.append(Row("stability.second_order_map (public)", size, t_api, {}, flops=flops, kernel_s=t_kernel))

    # ---------------------------------------------------------------- logistic (eta, lambda) map
    A, y, _ = gst.separable_data(64, 4, seed=0)
    res = 32 if quick else 64
    lr, l2 = np.logspace(-1, 3, res), np.logspace(-4, -1, res)
    t0 = time.perf_counter()
    gst.logistic_map((A, y), lr[:2], l2[:2], 2)
    compile_times["stability logistic_map"] = time.perf_counter() - t0
    t_api = best_time(lambda: gst.logistic_map((A, y), lr, l2, LOG_STEPS), repeat=3)
    jfn = jax_logistic(A, y, LOG_STEPS)
    peers, note = {"jax jit+vmap": None}, "JAX not installed (pip install -e '.[bench]')"
    if jfn is not None:
        t_c = time.perf_counter()
        corner = jfn(lr[:8], l2[:8])
        compile_times["jax jit(vmap) logistic map"] = time.perf_counter() - t_c
        mine = gst.logistic_map((A, y), lr[:8], l2[:8], LOG_STEPS).final_loss
        ok = np.isfinite(corner) & np.isfinite(mine) & (lr[:8, None] < 10)
        err = float(np.max(np.abs(corner[ok] / mine[ok] - 1)))
        peers["jax jit+vmap"] = best_time(lambda: jfn(lr, l2), repeat=2, warmup=1)
        note = f"stable corner cells agree with JAX to {err:.1e} relative"
    n_, d_ = A.shape
    flops = float(res * res) * LOG_STEPS * (4 * n_ * d_ + 2 * d_)
    rows.append(Row("stability.logistic_map (public, SoA)", f"{res}^2 cells, n={n_} d={d_}, {LOG_STEPS} steps",
                    t_api, peers, flops=flops, note="flops = 4 n d + 2 d per cell-step (exp not counted); " + note))
    return rows, compile_times
