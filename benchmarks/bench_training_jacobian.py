"""The training-Jacobian product: J V for a block of vectors over a stored full-batch GD trajectory of an MLP
64-32-10 (GELU, cross-entropy) on digits, J = (I - lr H_{T-1}) ... (I - lr H_0), against JAX float64 on the same
CPU: jit(vmap) of the same product of jvp-of-grad HVPs over the stored trajectory (lax.scan), and jit(vmap) of
forward-mode AD through the unrolled training loop (the authors' approach, jacfwd of the training run).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time

N, SIZES, STEPS, LR, NVEC = 500, (64, 32, 10), 200, 0.5, 16
_COMPILE = {}


def _problem(quick=False):
    import gdsim.models as gm

    try:
        import gdsim.data as gdata

        ds = gdata.load("digits", n_samples=N, seed=0, standardise=False)
        X, y = ds.X / 16.0, ds.y
    except ImportError:  # pragma: no cover - the data extra is missing: synthetic inputs of the same shape
        rng = np.random.default_rng(0)
        X, y = rng.random((N, SIZES[0])), rng.integers(0, SIZES[-1], N)
    m = gm.mlp(list(SIZES), "gelu", "cross_entropy", data=(X, y))
    return m, X, y


def flops_per_hvp():
    """Multiply-adds x 2 of one exact HVP (R-op forward + backward: about twice a gradient)."""
    d0, d1, d2 = SIZES
    fwd = 2 * N * (d0 * d1 + d1 * d2)
    bwd = 2 * N * (d1 * d2 + d2 * d1 + d1 * d0)
    return 2.0 * (fwd + bwd)


def jax_peers(X, y, W, steps):
    """(product over the stored trajectory, jvp through the unrolled loop) as jitted callables of V (n, P);
    None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    d0, d1, d2 = SIZES
    Xj = jnp.asarray(X)
    Yj = jnp.asarray(np.eye(d2)[y])
    Wj = jnp.asarray(W[:steps])
    w0 = jnp.asarray(W[0])

    def loss(w):
        o = 0
        W1 = w[o:o + d1 * d0].reshape(d1, d0)
        o += d1 * d0
        b1 = w[o:o + d1]
        o += d1
        W2 = w[o:o + d2 * d1].reshape(d2, d1)
        o += d2 * d1
        b2 = w[o:o + d2]
        F = jax.nn.gelu(Xj @ W1.T + b1, approximate=True) @ W2.T + b2
        return jnp.mean(jax.nn.logsumexp(F, axis=1) - jnp.sum(Yj * F, axis=1))

    grad = jax.grad(loss)

    def product(v):
        def step(v, w):
            return v - LR * jax.jvp(grad, (w,), (v,))[1], None

        return jax.lax.scan(step, v, Wj)[0]

    def unrolled(v):
        def train(w):
            return jax.lax.fori_loop(0, steps, lambda i, w: w - LR * grad(w), w)

        return jax.jvp(train, (w0,), (v,))[1]

    fp = jax.jit(jax.vmap(product))
    fu = jax.jit(jax.vmap(unrolled))
    return (lambda V: np.asarray(jax.block_until_ready(fp(V))), lambda V: np.asarray(jax.block_until_ready(fu(V))))


def run(quick=False):
    import gdsim.dynamics as gdyn

    m, X, y = _problem()
    steps = 20 if quick else STEPS
    nvec = 4 if quick else NVEC
    w0 = m.init(0)
    compile_times = {}
    t0 = time.perf_counter()
    tr = gdyn.training_trajectory(m, w0, gdyn.GD(), steps, lr=LR)
    tr.jvp(np.ones((2, m.n_params)))
    compile_times["training_trajectory + jvp (MLP)"] = _COMPILE.get("jac", time.perf_counter() - t0)
    V = np.random.default_rng(1).standard_normal((nvec, m.n_params))
    t_ours = best_time(lambda: tr.jvp(V), repeat=1 if not quick else 1, warmup=0)
    t_traj = best_time(lambda: gdyn.training_trajectory(m, w0, gdyn.GD(), steps, lr=LR), repeat=1, warmup=0)
    peers = {}
    if not quick:
        pe = jax_peers(X, y, tr.w, steps)
        if pe is not None:
            fp, fu = pe
            t_c = time.perf_counter()
            fp(V)
            compile_times["jax jit(vmap) HVP product"] = time.perf_counter() - t_c
            t_c = time.perf_counter()
            fu(V)
            compile_times["jax jit(vmap) jvp through the unrolled loop"] = time.perf_counter() - t_c
            peers["jax HVP product"] = best_time(lambda: fp(V), repeat=1, warmup=0)
            peers["jax jvp(train)"] = best_time(lambda: fu(V), repeat=1, warmup=0)
    rows = [Row("training Jacobian J V (stored GD run)", f"N={N} P={m.n_params} T={steps} n_vec={nvec}", t_ours, peers,
                flops=float(nvec) * steps * flops_per_hvp(),
                note=f"public TrainingTrajectory.jvp: {steps} exact HVPs per vector, the model's forward pass shared "
                     f"across the block at each step; storing the run (T gradient steps) took {t_traj:.3f} s more")]
    return rows, compile_times


def check_agreement():
    """The JAX peers compute the same J v (small case)."""
    import gdsim.dynamics as gdyn

    m, X, y = _problem()
    w0 = m.init(0)
    t0 = time.perf_counter()
    tr = gdyn.training_trajectory(m, w0, gdyn.GD(), 30, lr=LR)
    V = np.random.default_rng(2).standard_normal((2, m.n_params))
    JV = tr.jvp(V)
    _COMPILE["jac"] = time.perf_counter() - t0
    pe = jax_peers(X, y, tr.w, 30)
    if pe is None:
        return
    for f in pe:
        np.testing.assert_allclose(f(V), JV, rtol=1e-9, atol=1e-9 * np.abs(JV).max())
