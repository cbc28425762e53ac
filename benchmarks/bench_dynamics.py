"""The shared dynamics layer: GD on an MLP 64-32-10 (tanh, MSE) over 1,000 samples, 64 runs x 1,000 steps,
sharpness every 20 steps by Lanczos, against JAX jit(vmap) doing the same in float64 on the same CPU.
Also the generic scalar-network path against the hand-tuned kernel.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time, jax_tanh_mlp_mse, mlp_flops_per_gradient

N, SIZES, RUNS, STEPS, EVERY = 1000, (64, 32, 10), 64, 1000, 20
LR = 0.05
LANCZOS_JAX = 20  # fixed Lanczos iterations per record in the JAX peer (full reorthogonalisation)
_COMPILE = {}  # compile times measured by check_agreement, which runs first in a fresh process


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, SIZES[0]))
    T = rng.standard_normal((SIZES[0], SIZES[-1])) / np.sqrt(SIZES[0])
    Y = np.tanh(X @ T)
    return X, Y


def flops_per_gradient():
    """Multiply-adds x 2 of one forward + backward pass over the N samples (no input gradient)."""
    return mlp_flops_per_gradient(N, SIZES)


def jax_peer(X, Y, steps, every, iters=LANCZOS_JAX):
    """jax.jit(jax.vmap(run)): GD with lax.scan, sharpness by fixed-length Lanczos (full reorthogonalisation)
    on jvp-of-grad HVPs every ``every`` steps; float64. None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    loss = jax_tanh_mlp_mse(jnp, Xj, Yj, SIZES)

    grad = jax.grad(loss)

    def hvp(w, v):
        return jax.jvp(grad, (w,), (v,))[1]

    def lanczos_top(w, v0):
        P = w.size
        Q = jnp.zeros((iters + 1, P)).at[0].set(v0 / jnp.linalg.norm(v0))

        def body(j, carry):
            Q, al, be = carry
            z = hvp(w, Q[j])
            a = Q[j] @ z
            z = z - Q.T @ (Q @ z)
            z = z - Q.T @ (Q @ z)
            b = jnp.linalg.norm(z)
            return Q.at[j + 1].set(z / b), al.at[j].set(a), be.at[j].set(b)

        Q, al, be = jax.lax.fori_loop(0, iters, body, (Q, jnp.zeros(iters), jnp.zeros(iters)))
        T = jnp.diag(al) + jnp.diag(be[:-1], 1) + jnp.diag(be[:-1], -1)
        return jnp.linalg.eigvalsh(T)[-1]

    def run(w, v0):
        def seg(w, _):
            lam = lanczos_top(w, v0)
            w = jax.lax.fori_loop(0, every, lambda i, w: w - LR * grad(w), w)
            return w, (loss(w), lam)

        return jax.lax.scan(seg, w, None, length=steps // every)

    fn = jax.jit(jax.vmap(run))
    return lambda W, V: jax.block_until_ready(fn(W, V))


def run(quick=False):
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    rows, compile_times = [], {}
    X, Y = _problem()
    m = gm.mlp(list(SIZES), "tanh", "mse", data=(X, Y))
    runs = 8 if quick else RUNS
    steps = 100 if quick else STEPS
    W0 = m.init(0, batch=(runs,))
    t0 = time.perf_counter()
    gdyn.gd(m, W0[:2], LR, 2, record_every=1, observe=("loss", "sharpness"))
    compile_times["dynamics.gd on an MLP (driver + observables)"] = _COMPILE.get("mlp", time.perf_counter() - t0)

    res = {}

    def ours():
        res["r"] = gdyn.gd(m, W0, LR, steps, record_every=EVERY, observe=("loss", "sharpness"))

    t_ours = best_time(ours, repeat=1, warmup=0)
    n_rec = steps // EVERY + 1
    lanczos_its = res["r"].meta["lanczos_iterations_mean"]
    # GD and loss only: the cost of the dynamics without curvature
    t_plain = best_time(lambda: gdyn.gd(m, W0, LR, steps, record_every=steps), repeat=1, warmup=0)
    fl_grad = flops_per_gradient()
    flops = float(runs) * (steps * fl_grad + n_rec * lanczos_its * 2.0 * fl_grad)
    peers = {}
    jfn = jax_peer(X, Y, steps, EVERY)
    if jfn is not None:
        V0 = np.random.default_rng(1).standard_normal(W0.shape)
        t_c = time.perf_counter()
        jfn(W0, V0)
        compile_times["jax jit(vmap) MLP GD + Lanczos"] = time.perf_counter() - t_c
        peers["jax jit+vmap"] = best_time(lambda: jfn(W0, V0), repeat=1, warmup=0)
    rows.append(Row("dynamics.gd MLP 64-32-10 tanh + sharpness", f"N={N} runs={runs} steps={steps} every={EVERY}",
                    t_ours, peers, flops=flops,
                    note=f"public call; Lanczos warm-started from the previous record, {lanczos_its:.1f} iterations "
                         f"per record on average (JAX: {LANCZOS_JAX} fixed); FLOPs count GD + HVPs at 2 gradients each"))
    rows.append(Row("dynamics.gd MLP 64-32-10 tanh, loss only", f"N={N} runs={runs} steps={steps}", t_plain, {},
                    flops=float(runs) * steps * fl_grad, note="the same GD without curvature"))

    # the edge-of-stability reproduction's core on real data: digits (64 features, 10 classes, one-hot MSE)
    try:
        import gdsim.data as gdata

        ds = gdata.load("digits", n_samples=N, seed=0)
    except ImportError:
        ds = None
    if ds is not None:
        Xd, Yd = ds.X, ds.one_hot()
        md = gm.mlp(list(SIZES), "tanh", "mse", data=(Xd, Yd))
        runs_d = 4 if quick else 16
        Wd = md.init(0, batch=(runs_d,))
        rd = {}

        def ours_digits():
            rd["r"] = gdyn.gd(md, Wd, LR, steps, record_every=EVERY, observe=("loss", "sharpness"))

        t_d = best_time(ours_digits, repeat=1, warmup=0)
        its = rd["r"].meta["lanczos_iterations_mean"]
        peers_d = {}
        jfd = jax_peer(Xd, Yd, steps, EVERY)
        if jfd is not None:
            Vd = np.random.default_rng(1).standard_normal(Wd.shape)
            jfd(Wd, Vd)
            peers_d["jax jit+vmap"] = best_time(lambda: jfd(Wd, Vd), repeat=1, warmup=0)
        rows.append(Row("dynamics.gd MLP 64-32-10 tanh + sharpness, digits (EoS core)",
                        f"N={N} runs={runs_d} steps={steps} every={EVERY}", t_d, peers_d,
                        flops=float(runs_d) * (steps * fl_grad + n_rec * its * 2.0 * fl_grad),
                        note=f"real data (gdsim.data digits, one-hot MSE); {its:.1f} Lanczos iterations per record"))

    # the generic scalar-network path against the hand-tuned structure-of-arrays kernel
    import gdsim.scalar as sc

    B, D, st = (20_000, 4, 200) if quick else (100_000, 4, 2000)
    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.7, 1.3, size=(B, D))
    ms = gm.scalar_network(D)
    gdyn.gd(ms, w0[:2], 0.05, 2)
    sc.gd(w0[:8], 0.05, 2)
    # both timed the same way (best of 3 after a full-size warm-up call): a single cold call of either
    # includes first-touch page faults of its 1e5-run buffers, and this CI VM is noisy
    t_gen = best_time(lambda: gdyn.gd(ms, w0, 0.05, st, record_every=st), repeat=3)
    t_bespoke = best_time(lambda: sc.gd(w0, 0.05, st, record_every=st), repeat=3)
    rows.append(Row("dynamics.gd scalar network (generic path)", f"B={B:.0e} D={D} steps={st}", t_gen,
                    {"gdsim.scalar.gd (hand-tuned)": t_bespoke}, flops=float(B) * st * (5 * D + 3),
                    note="the shared driver on gm.scalar_network (its fused structure-of-arrays GD step) against the bespoke kernel"))
    return rows, compile_times


def check_agreement():
    """The JAX peer computes the same GD trajectory and sharpness (small case)."""
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    X, Y = _problem()
    m = gm.mlp(list(SIZES), "tanh", "mse", data=(X, Y))
    W0 = m.init(0, batch=(2,))
    t0 = time.perf_counter()
    r = gdyn.gd(m, W0, LR, 40, record_every=EVERY, observe=("loss", "sharpness"))
    _COMPILE["mlp"] = time.perf_counter() - t0  # almost all compilation (2 runs x 40 steps)
    jfn = jax_peer(X, Y, 40, EVERY, iters=60)
    if jfn is None:
        return
    losses, lams = jfn(W0, np.random.default_rng(1).standard_normal(W0.shape))[1]
    np.testing.assert_allclose(np.asarray(losses).T, r.loss[1:], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(lams).T, r.sharpness[:-1], rtol=1e-6)
