"""SGD-noise models: the Park et al. network (SGD steps per second per core) and the perceptron.

Peers, measured in the same run: the authors' NumPy code path for the Park network, re-implemented
faithfully (per step: forward pass of the batch from the inputs, the loss, the gradient of W, the
epoch-averaged gradient, the update), and JAX (``jit(vmap(run))`` over runs, ``lax.scan`` over the
steps, float64, on the CPU; given gdsim's precomputed first layer so that it does the same work). Also
prints a projection of the full protocol (144 grid points x 100 seeds x 1e5 epochs x 1000 steps) on this
machine. FLOPs per step: forward 2 B K L, update 2 B K L, tanh ~ 30 B K.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import Row, best_time

K, R_RATIO, B = 16, 2, 4
L = K * R_RATIO
FULL_STEPS = 144 * 100 * 100_000 * 1000


def numpy_park_epoch(W, M, Z, Wstar, X, lr, batch=B):
    """One epoch as the authors' script does it (numpy einsum, per mini-batch, fixed order): the teacher's
    labels of the batch are recomputed every step, the batch loss and the gradient each run their own
    forward pass, the gradient is the batch mean of per-sample outer products, and the epoch sums of
    loss and gradient are accumulated for the snapshots."""

    def fwd(x, Wm):
        s0 = np.tanh(np.einsum("li,ni->nl", M, x))
        pre = np.einsum("kl,nl->nk", Wm, s0)
        return s0, pre, np.einsum("ok,nk->no", Z[None, :], np.tanh(pre))

    loss_sum, grad_sum = 0.0, np.zeros_like(W)
    for b in range(X.shape[0] // batch):
        xb = X[b * batch:(b + 1) * batch]
        yb = fwd(xb, Wstar)[2]  # teacher labels, recomputed per step
        loss = 0.5 * np.mean(np.sum((yb - fwd(xb, W)[2]) ** 2, axis=1))
        s0, pre, yp = fwd(xb, W)
        zty = np.einsum("ko,no->nk", Z[:, None], yb)
        ztzh = np.einsum("ko,no->nk", Z[:, None], yp)
        grad = -np.mean(np.einsum("nk,nl->nkl", (zty - ztzh) * (1 - np.tanh(pre) ** 2), s0), axis=0)
        W -= lr * grad
        loss_sum += loss
        grad_sum += grad
    return W, grad_sum, loss_sum


def jax_park(epochs, batch=B):
    """jax.jit(vmap(one run)): lax.scan over the epoch's mini-batches, same arithmetic as gdsim's kernel."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def one(W, S0, y, Z, lr):
        Sb, yb = S0.reshape(-1, batch, S0.shape[1]), y.reshape(-1, batch)

        def step(W, sy):
            s, yy = sy
            phi = jnp.tanh(s @ W.T)
            c = (yy - phi @ Z)[:, None] * Z[None, :] * (1 - phi**2)
            return W + lr / batch * c.T @ s, None

        return jax.lax.fori_loop(0, epochs, lambda _, W: jax.lax.scan(step, W, (Sb, yb))[0], W)

    return jax.jit(jax.vmap(one))


def run(quick=False):
    import gdsim.langevin as gl
    from gdsim.langevin import _network as kn
    from gdsim.langevin._api import _park_arrays, _park_instance

    rows, compile_times = [], {}
    t0 = time.perf_counter()
    gl.park_network_sgd(0.1, 1.0, epochs=1, runs=1, n_samples=8)
    compile_times["langevin.park_sgd"] = time.perf_counter() - t0

    runs = 2  # one per core
    epochs = 2 if quick else 10
    inst = [_park_instance(np.random.SeedSequence(i), K, L, 1000 * B, 1.0) for i in range(runs)]
    W, S0, Y, Zs = _park_arrays(inst)
    lrs = np.full(runs, 0.1)

    def gdsim_run():
        kn.park_sgd(W.copy(), S0, Y, Zs, lrs, B, epochs)

    t = best_time(gdsim_run, repeat=3)
    steps = runs * epochs * 1000
    import numba

    cores = numba.get_num_threads()
    per_core = steps / t / min(cores, runs)
    M, Ws, Z, X, W0 = inst[0]
    t_np = best_time(lambda: numpy_park_epoch(W0.copy(), M, Z, Ws, X, 0.1), repeat=2, warmup=0)
    np_rate = 1000 / t_np
    peers = {"numpy (authors' loop), 1 core": t_np * steps / 1000 / min(cores, runs)}
    jfn = jax_park(epochs)
    if jfn is None:
        peers["jax jit+vmap"] = None
    else:
        t_c = time.perf_counter()
        jfn(W, S0, Y, Zs, lrs)[0].block_until_ready()
        compile_times["jax jit(vmap) Park SGD"] = time.perf_counter() - t_c
        peers["jax jit+vmap"] = best_time(lambda: jfn(W, S0, Y, Zs, lrs)[0].block_until_ready(), repeat=2, warmup=0)
    rows.append(Row("langevin Park network SGD", f"K=16 L=32 |B|=4, {runs} runs x {epochs} epochs", t, peers,
                    flops=steps * (4 * B * K * L + 30 * B * K), bytes=None,
                    note=f"{per_core:.3g} SGD steps/s per core vs numpy {np_rate:.3g}: {per_core / np_rate:.0f}x; "
                         f"full protocol (1.44e12 steps) ~ {FULL_STEPS / per_core / 3600:.3g} core-hours here"))
    print(f"[langevin] Park SGD: {per_core:.3g} steps/s/core, numpy {np_rate:.3g} steps/s ({per_core / np_rate:.0f}x); "
          f"full protocol ~ {FULL_STEPS / per_core / 3600:.3g} core-hours, {FULL_STEPS / per_core / 3600 / cores:.3g} h "
          f"on this machine's {cores} cores")
    # the public call (instances, SGD, the test error, SVDs and the phase criterion per run) against the kernel
    # alone on the same instances (the run time of tanh depends on the data, so the instances must be the same).
    # The paper runs 1e5 epochs; at 400 the call's fixed cost (drawing 4000-point instances, the criterion) is
    # already within the timing noise, at 10 it is ~10 ms against 8 ms of SGD.
    from gdsim._core.rng import run_seeds

    pub_epochs = 40 if quick else 400
    children = run_seeds(0, runs)
    W, S0, Y, Zs = _park_arrays([_park_instance(children[i], K, L, 1000 * B, 1.0) for i in range(runs)])
    t_kern = best_time(lambda: kn.park_sgd(W.copy(), S0, Y, Zs, lrs, B, pub_epochs), repeat=3)
    t_pub = best_time(lambda: gl.park_network_sgd(0.1 / B, 1.0, epochs=pub_epochs, runs=runs, seed=0), repeat=3)
    rows.append(Row("langevin.park_network_sgd (public)", f"width=16 L=32 |B|=4, {runs} runs x {pub_epochs} epochs",
                    t_pub, {}, kernel_s=t_kern,
                    note="instances drawn and the phase criterion evaluated per run, in the call"))
    from gdsim._core.cuda import gpu_available

    if gpu_available():  # the per-GPU projection (kernel rate on 6912 runs)
        from benchmarks.bench_gpu import park_kernel_rates

        park_kernel_rates()
    else:
        print("[langevin] no CUDA GPU: the per-GPU projection needs one (python -m benchmarks.bench_gpu)")
    return rows, compile_times
