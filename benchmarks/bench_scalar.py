"""Batched scalar-network GD: gdsim (Numba, structure of arrays) vs NumPy and JAX jit(vmap) on the CPU."""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time

B, D, STEPS = 100_000, 4, 2000
FLOPS_PER_STEP = 5 * D + 3  # prefix D-1, coefficient 4, suffix pass 4 per weight


def _inputs():
    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.7, 1.3, size=(B, D))
    eta = rng.uniform(0.01, 0.1, size=B)
    return w0, eta


def numpy_gd(w0, eta, steps):
    """The same computation vectorised across trajectories in NumPy (structure of arrays)."""
    W = w0.T.copy()
    for _ in range(steps):
        pre = np.ones_like(W)
        for i in range(1, D):
            pre[i] = pre[i - 1] * W[i - 1]
        coef = eta * (pre[-1] * W[-1] - 1.0)
        suf = np.ones(W.shape[1])
        for i in range(D - 1, -1, -1):
            wi = W[i].copy()
            W[i] = wi - coef * pre[i] * suf
            suf *= wi
    return W.T


def jax_gd():
    """jax.jit(jax.vmap(one trajectory)) with lax.fori_loop, float64; None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def one(w, lr):
        def body(_, w):
            p = jnp.prod(w)
            g = jnp.array([jnp.prod(jnp.delete(w, i, assume_unique_indices=True)) for i in range(D)])
            return w - lr * (p - 1.0) * g

        return jax.lax.fori_loop(0, STEPS, body, w)

    fn = jax.jit(jax.vmap(one))
    return lambda w0, eta: fn(w0, eta).block_until_ready()


def run(quick=False):
    from gdsim.scalar import _kernels as k
    from gdsim.scalar import gd

    rows, compile_times = [], {}
    w0, eta = _inputs()
    t0 = time.perf_counter()
    gd(w0[:8], eta[:8], 2, parallel=True)
    compile_times["scalar gd (parallel + observables)"] = time.perf_counter() - t0

    steps = STEPS // 10 if quick else STEPS
    W = np.ascontiguousarray(w0.T)

    def kernel_only():
        k.gd_advance(W.copy(), eta, 1.0, 1.0, steps, 1e6, parallel=True)

    def generic_kernel():
        k.gd_advance(W.copy(), eta, 1.0, 1.0, steps, 1e6, parallel=True, unrolled=False)

    t_kernel = best_time(kernel_only, repeat=3)
    t_generic = best_time(generic_kernel, repeat=1)
    t_api = best_time(lambda: gd(w0, eta, steps, record_every=steps), repeat=3)
    peers = {}
    t_np = best_time(lambda: numpy_gd(w0, eta, steps // 10), repeat=1, warmup=0) * 10
    peers["numpy (SoA)"] = t_np
    jfn = jax_gd() if not quick else None
    if jfn is not None:
        t_c = time.perf_counter()
        jfn(w0, eta)
        compile_times["jax jit(vmap) scalar gd"] = time.perf_counter() - t_c
        peers["jax jit+vmap"] = best_time(lambda: jfn(w0, eta), repeat=2, warmup=0)
    else:
        peers["jax jit+vmap"] = None
    flops = float(B) * steps * FLOPS_PER_STEP
    rows.append(Row("scalar.gd kernel (gd_advance)", f"B={B:.0e} D={D} steps={steps}", t_kernel, peers, flops=flops,
                    note="depth-unrolled kernel; numpy time extrapolated from steps/10 (linear in steps)"))
    rows.append(Row("scalar.gd generic loop kernel", f"B={B:.0e} D={D} steps={steps}", t_generic, {}, flops=flops,
                    note="the D-generic kernel used for D > 8 (same bits as the unrolled one)"))
    rows.append(Row("scalar.gd (public, 2 records)", f"B={B:.0e} D={D} steps={steps}", t_api,
                    {"jax jit+vmap": peers["jax jit+vmap"]}, flops=flops, kernel_s=t_kernel,
                    note="per-trajectory eta; the public call as users make it (validation, SoA copies, records, "
                         "the loss at both records; sharpness on request)"))
    return rows, compile_times


def check_agreement():
    """The peers compute the same thing (checked on a small batch before timing)."""
    from gdsim.scalar import gd

    w0, eta = _inputs()
    ref = gd(w0[:64], eta[:64], 50, record_every=50).w[-1]
    np.testing.assert_allclose(numpy_gd(w0[:64], eta[:64], 50), ref, rtol=1e-12)
