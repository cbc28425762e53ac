"""Stochastic Lanczos quadrature (:func:`gdsim.dynamics.spectral_density`) on an MLP 64-32-10 (tanh, MSE) over
1,000 samples (P = 2,410): 8 runs x 8 probes x 60 Lanczos steps with full reorthogonalisation, against the same
computation in JAX float64 (jit(vmap) over runs and probes, jvp-of-grad HVPs) on the same CPU, with the same
Rademacher probes.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time, jax_tanh_mlp_mse, mlp_flops_per_gradient

N, SIZES, RUNS, PROBES, STEPS = 1000, (64, 32, 10), 8, 8, 60
_COMPILE = {}


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, SIZES[0]))
    T = rng.standard_normal((SIZES[0], SIZES[-1])) / np.sqrt(SIZES[0])
    return X, np.tanh(X @ T)


def probes(P, runs, n_probes, seed=0):
    """gdsim's probe vectors (v = z / sqrt(P), z Rademacher from the counter-based stream of each run)."""
    from gdsim._core.counter_rng import keys_from_seed, uniform01_numpy
    from gdsim.dynamics._spectral import _SALT_SLQ

    keys = keys_from_seed(seed, runs)
    idx = np.arange(n_probes * P)
    Z = np.stack([np.where(uniform01_numpy(k, _SALT_SLQ, idx) < 0.5, 1.0, -1.0) for k in keys])
    return Z.reshape(runs, n_probes, P) / np.sqrt(P)


def flops_per_gradient():
    return mlp_flops_per_gradient(N, SIZES)


def jax_peer(X, Y, steps=STEPS):
    """jax.jit(vmap(vmap(slq))): Lanczos with full reorthogonalisation (twice) on jvp-of-grad HVPs, then the
    tridiagonal's eigh; returns (nodes, weights) like gdsim. None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    loss = jax_tanh_mlp_mse(jnp, Xj, Yj, SIZES)

    grad = jax.grad(loss)

    def slq_one(w, v0):
        P = w.size
        # the forward pass shared by every product of this probe (linearize: jvp's primal computed once)
        _, hvp = jax.linearize(grad, w)
        Q = jnp.zeros((steps + 1, P)).at[0].set(v0)

        def body(j, carry):
            Q, al, be = carry
            z = hvp(Q[j])
            a = Q[j] @ z
            z = z - Q.T @ (Q @ z)
            z = z - Q.T @ (Q @ z)
            b = jnp.linalg.norm(z)
            return Q.at[j + 1].set(z / b), al.at[j].set(a), be.at[j].set(b)

        Q, al, be = jax.lax.fori_loop(0, steps, body, (Q, jnp.zeros(steps), jnp.zeros(steps)))
        T = jnp.diag(al) + jnp.diag(be[:-1], 1) + jnp.diag(be[:-1], -1)
        theta, S = jnp.linalg.eigh(T)
        return theta, S[0] ** 2

    fn = jax.jit(jax.vmap(jax.vmap(slq_one, in_axes=(None, 0)), in_axes=(0, 0)))

    def call(W, V):
        nodes, w = jax.block_until_ready(fn(W, V))
        return np.asarray(nodes), np.asarray(w) / V.shape[1]

    return call


def run(quick=False):
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    rows, compile_times = [], {}
    X, Y = _problem()
    m = gm.mlp(list(SIZES), "tanh", "mse", data=(X, Y))
    runs = 2 if quick else RUNS
    W = m.init(0, batch=(runs,))
    t0 = time.perf_counter()
    gdyn.spectral_density(m, W[:1], probes=1, steps=2)
    compile_times["dynamics.spectral_density (SLQ driver)"] = _COMPILE.get("slq", time.perf_counter() - t0)
    t_ours = best_time(lambda: gdyn.spectral_density(m, W, probes=PROBES, steps=STEPS), repeat=1 if quick else 3)
    peers = {}
    if not quick:
        jfn = jax_peer(X, Y)
        if jfn is not None:
            V = probes(m.n_params, runs, PROBES)
            t_c = time.perf_counter()
            jfn(W, V)
            compile_times["jax jit(vmap) SLQ"] = time.perf_counter() - t_c
            peers["jax jit+vmap"] = best_time(lambda: jfn(W, V), repeat=3)
    P = m.n_params
    # HVP ~ 2 gradients; full reorthogonalisation twice: 4 j P flops at step j
    flops = float(runs) * PROBES * (STEPS * 2.0 * flops_per_gradient() + 2.0 * STEPS**2 * P)
    rows.append(Row("dynamics.spectral_density MLP 64-32-10", f"N={N} P={P} runs={runs} probes={PROBES} "
                    f"steps={STEPS}", t_ours, peers, flops=flops,
                    note="SLQ, full reorthogonalisation; one task per (run, probe)"))
    return rows, compile_times


def check_agreement():
    """The JAX peer computes the same quadrature: moments sum w theta^k (k <= 3) to 1e-9 relative."""
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    X, Y = _problem()
    m = gm.mlp(list(SIZES), "tanh", "mse", data=(X, Y))
    W = m.init(0, batch=(2,))
    t0 = time.perf_counter()
    nodes, weights = gdyn.spectral_density(m, W, probes=2, steps=STEPS)
    _COMPILE["slq"] = time.perf_counter() - t0
    jfn = jax_peer(X, Y)
    if jfn is None:
        return
    jn, jw = jfn(W, probes(m.n_params, 2, 2))
    for k in range(4):
        a = np.sum(weights * nodes**k, axis=(-1, -2))
        b = np.sum(jw * jn**k, axis=(-1, -2))
        np.testing.assert_allclose(a, b, rtol=1e-9)
