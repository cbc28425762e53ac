"""Reproduction: Daneshmand, Lee, Jin, "Efficient displacement convex optimization with particle gradient
descent", ICML 2023 (arXiv:2302.04753).

Figures
-------
1. ``fig1``: log E(mu_k) vs log k for noisy particle GD on the 1-D energy distance to 100 atoms ~ U[0, 1],
   n = 100, gamma_k = 1/sqrt(k), mean of 10 runs, both noise readings, with the slope -1/2 line and the
   Thm 2(b) bound.
2. ``fig2``: E(mu_K) vs n for the uniform target U[-1, 1] after K PGD steps (gamma = 1/sqrt(K)), with the
   paper's O(1/n) bound and the exact n-sparse optimum 1/(3 n^2); runs on the sweep engine over
   (noise reading, n, seed).
3. ``nn``: the two-layer network corollary: E[L] over (n, k) against n/sqrt(k) + 1/n and the exact
   floor 1/(12 n^2) (uniform half-circle target, angle form).
4. ``smooth``: Thm 1(a) linear rates: the quadratic chamber of the uniform target (exact contraction
   (1 - 2 gamma/n)^(2k)) and the d = 3 confinement + quartic-interaction example.

Fidelity notes (the spec's [GAP]s and the choices made here; also in the README):
* h(w) = E|w - V| for V ~ U[-1, 1] is (1 + w^2)/2 inside and |w| outside (the paper prints w^2 + 1,
  which moves the optimum; spec pitfall 1).
* The experiments' noise U[-0.05, 0.05] is ambiguous about the extra 1/sqrt(n) of the theorem's PGD:
  both readings are drawn ("none" = as printed in the experiments, "sqrt_n" = the theorem's scaling).
* Not given by the paper, chosen as the spec suggests: w_0 ~ U[0, 1] (Fig. 1; target redrawn per run),
  w_0 ~ U[-1, 1] (Fig. 2), K = 10^4 (quick) / 10^5 (full) for Fig. 1, gamma = 1/sqrt(K) constant for
  Fig. 2 (the "step size of Thm 2(b)"), seeds from the embedded default.
* Thm 2(b) bound drawn with the proof's (W_0^2 + L^2 + 1)/sqrt(k) (the statement prints L + 1),
  L^2 = 16/n; it bounds the *best* iterate in expectation, the curves are last iterates (as in the paper).
* Fig. 2 plots the total error E(mu_K, nu) against the continuum optimum 0; the exact n-sparse optimum
  is 1/(3 n^2), so slopes steeper than -1 are expected (spec pitfall 7).
* The d >= 2 example (confining quadratic + |z|^4/4 interaction) is this project's choice (the paper
  has no d > 1 experiment).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gdsim import repro
from gdsim.particles import noisy_particle_gd, particle_gd, sparse_optimum
from gdsim.sweep import Sweep, simulation
from gdsim.sweep import run as run_sweep

NAME = "daneshmand2023_particle_gd"
TITLE = "Particle gradient descent for displacement-convex functions of measures (Daneshmand et al., ICML 2023)"
FIGURES = {
    "fig1": "Fig. 1: log E vs log k, n = 100, gamma_k = 1/sqrt(k), both noise readings, Thm 2(b) bound",
    "fig2": "Fig. 2: E vs n for U[-1, 1] after K steps, O(1/n) bound and the exact 1/(3 n^2)",
    "nn": "network corollary: E[L] over (n, k) vs n/sqrt(k) + 1/n and the floor 1/(12 n^2)",
    "smooth": "Thm 1(a): exact linear rates (quadratic chamber; d = 3 interaction example)",
}
RUNTIME = {"quick": "~75 s", "full": "~3 min"}
BIBTEX = """
@inproceedings{daneshmand2023efficient,
  title     = {Efficient displacement convex optimization with particle gradient descent},
  author    = {Daneshmand, Hadi and Lee, Jason D. and Jin, Chi},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {202},
  pages     = {6836--6854},
  year      = {2023},
  eprint    = {2302.04753},
  archivePrefix = {arXiv}
}
"""

QUICK = dict(fig1_steps=10_000, fig1_runs=10, fig2_ns=(4, 8, 16, 32, 64, 128, 256), fig2_steps=300_000, fig2_runs=10,
             nn_ns=(4, 8, 16, 32, 64), nn_steps=100_000, nn_runs=4, smooth_steps=400, pdf=False, fig2_store=None)
FULL = dict(fig1_steps=100_000, fig1_runs=10, fig2_ns=(4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
            fig2_steps=300_000, fig2_runs=10, nn_ns=(4, 8, 16, 32, 64, 128, 256), nn_steps=1_000_000, nn_runs=10,
            smooth_steps=2000, pdf=True, fig2_store="sweeps/daneshmand2023_fig2_full.zarr")
NOISE = 0.05  # xi ~ U[-0.05, 0.05] in the paper's experiments
READINGS = ("none", "sqrt_n")
READING_LABEL = {"none": "noise U[-0.05, 0.05]", "sqrt_n": r"noise U[-0.05, 0.05]$/\sqrt{n}$"}


def _runs(r) -> str:
    """``"1 run"`` / ``"10 runs"``."""
    return f"{int(r)} run" + ("" if int(r) == 1 else "s")


def _sci(x) -> str:
    """``x`` as mathtext scientific notation: 3e+05 -> $3\\times10^{5}$, 1e+05 -> $10^{5}$."""
    e = int(np.floor(np.log10(abs(x))))
    m = x / 10.0 ** e
    return f"$10^{{{e}}}$" if np.isclose(m, 1.0) else f"${m:g}\\times10^{{{e}}}$"


# ----------------------------------------------------------------------------------------- Fig. 1


FIG1_N = 100  # particles and target atoms of Fig. 1


def fig1_data(cfg, seed, progress=False) -> dict:
    n, K, runs = FIG1_N, cfg["fig1_steps"], cfg["fig1_runs"]
    ss = np.random.SeedSequence(seed)
    data_rng = np.random.default_rng(ss.spawn(1)[0])
    v = data_rng.uniform(size=(runs, n))  # target redrawn per run
    w0 = data_rng.uniform(size=(runs, n))
    out = {}
    for reading, child in zip(READINGS, ss.spawn(3)[1:]):
        vals = []
        for r in range(runs):  # each run has its own target, so one call per run
            res = noisy_particle_gd(w0[r], "energy", K, target=v[r], noise=NOISE, noise_scaling=reading,
                                    seed=child.spawn(runs)[r], n_records=80, progress=progress and r == 0)
            vals.append(res.value)
        out[f"E_{reading}"] = np.array(vals)  # (runs, n_rec)
        out["k"] = res.k
    W0 = ((np.sort(w0, axis=1) - np.sort(v, axis=1)) ** 2).sum(axis=1)
    out["bound"] = (W0.mean() + 16 / n + 1) / np.sqrt(np.maximum(out["k"], 1))
    return out


def _fig1(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = fig1_data(cfg, seed, progress)
    k = d["k"]
    fig, ax = plt.subplots(figsize=(6.2, 4.4), constrained_layout=True)
    sel = k >= 1
    for reading, color in zip(READINGS, ("C0", "C2")):
        mean = d[f"E_{reading}"].mean(axis=0)
        slope = np.polyfit(np.log(k[k >= 10]), np.log(mean[k >= 10]), 1)[0]
        ax.loglog(k[sel], mean[sel], color=color, lw=2,
                  label=f"mean of {_runs(cfg['fig1_runs'])}, {READING_LABEL[reading]}: fitted slope {slope:.2f} "
                        r"($k \geq 10$)")
    i10 = int(np.argmin(np.abs(k - 10)))
    anchor = d["E_none"].mean(axis=0)[i10] * 1.5
    ax.loglog(k[sel], anchor * np.sqrt(k[i10] / k[sel]), "--", color="C3", label="slope $-1/2$ (Thm 2(b) rate)")
    ax.loglog(k[sel], d["bound"][sel], "k:", label=r"Thm 2(b): $(W_0^2 + L^2 + 1)/\sqrt{k}$")
    ax.set_xlabel("iteration $k$")
    ax.set_ylabel(rf"$E(\mu_k, \nu) - E(\hat\mu, \nu)$  ($= E$, target {FIG1_N} atoms)")
    ax.set_title(f"Fig. 1: noisy particle GD on the energy distance, $n$ = {FIG1_N}, $\\gamma_k = 1/\\sqrt{{k}}$")
    repro.legend_outside(ax, loc="below", ncol=1, fontsize=8)
    return repro.save_figure(fig, out, "daneshmand2023_fig1", d, meta, pdf=cfg["pdf"])


# ----------------------------------------------------------------------------------------- Fig. 2


@simulation(outputs={"final_error": (), "best_error": ()})
def fig2_chunk(chunk, steps: int, runs_per_point: int = 1):
    """Sweep simulation for Fig. 2: one PGD run (uniform target on [-1, 1], gamma = 1/sqrt(K)) per grid point.

    Axes ``reading`` (0: unscaled noise, 1: noise / sqrt(n)), ``n`` and ``seed``; points of one chunk that
    share (reading, n) run as one batched call; each point is seeded from its own grid index.
    """
    def batch(points, seed, reading, n):
        # each point's start and noise stream come from its own seed only (the noise key from its child 0)
        w0 = np.stack([np.random.default_rng(s).uniform(-1, 1, int(n)) for s in seed])
        res = noisy_particle_gd(w0, "energy_uniform", steps, step="constant", noise=NOISE,
                                noise_scaling=READINGS[int(reading)], seed=seed, n_records=4)
        return {"final_error": res.value[-1], "best_error": res.best_value}

    return chunk.run_batched(batch, by=("reading", "n"))


def fig2_sweep(cfg, seed) -> Sweep:
    return Sweep("daneshmand2023_fig2", axes={"reading": [0, 1], "n": list(cfg["fig2_ns"]),
                                               "seed": np.arange(cfg["fig2_runs"])},
                 simulation=fig2_chunk, params={"steps": int(cfg["fig2_steps"])},
                 chunks={"reading": 1, "n": 1, "seed": cfg["fig2_runs"]}, seed=seed)


def fig2_data(cfg, seed, progress=False) -> dict:
    import tempfile

    sw = fig2_sweep(cfg, seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = cfg.get("fig2_store") or Path(tmp) / "fig2.zarr"
        ds = run_sweep(sw, store, progress=progress, verbose=progress).dataset()
    return dict(n=ds["n"].values, final_error=ds["final_error"].values, best_error=ds["best_error"].values,
                exact=1 / (3 * ds["n"].values.astype(float) ** 2), steps=cfg["fig2_steps"])


def _fig2(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = fig2_data(cfg, seed, progress)
    ns = d["n"].astype(float)
    fig, ax = plt.subplots(figsize=(6.2, 4.4), constrained_layout=True)
    for i, (reading, color) in enumerate(zip(READINGS, ("C0", "C2"))):
        mean = d["final_error"][i].mean(axis=-1)
        slope = np.polyfit(np.log(ns), np.log(mean), 1)[0]
        ax.loglog(ns, mean, "o-", color=color, label=f"mean of {_runs(d['final_error'].shape[-1])}, "
                                                      f"{READING_LABEL[reading]} (slope {slope:.2f})")
    ax.loglog(ns, d["exact"], "k-", lw=1, label=r"exact $n$-sparse optimum $1/(3n^2)$")
    ax.loglog(ns, d["final_error"][0].mean(axis=-1)[0] * ns[0] / ns, "--", color="C3",
              label=r"$O(1/n)$ bound (slope $-1$, through the first point)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of particles $n$")
    ax.set_ylabel(r"energy distance $E(\mu_K, \nu)$, $\nu = U[-1, 1]$")
    ax.set_title(f"Fig. 2: approximation error after $K$ = {_sci(d['steps'])} PGD steps, $\\gamma = 1/\\sqrt{{K}}$")
    repro.legend_outside(ax, loc="below", ncol=1, fontsize=8)
    return repro.save_figure(fig, out, "daneshmand2023_fig2", d, meta, pdf=cfg["pdf"])


# ------------------------------------------------------------------------------------ network corollary


def nn_data(cfg, seed, progress=False) -> dict:
    K, runs = cfg["nn_steps"], cfg["nn_runs"]
    ss = np.random.SeedSequence([seed, 3])
    out = {"n": np.array(cfg["nn_ns"])}
    curves = []
    for n, child in zip(cfg["nn_ns"], ss.spawn(len(cfg["nn_ns"]))):
        theta0 = np.random.default_rng(child).uniform(0, np.pi, size=(runs, n))
        res = noisy_particle_gd(theta0, "nn_circle", K, noise=NOISE, seed=child.spawn(1)[0], n_records=60,
                                progress=progress)
        curves.append(res.value.mean(axis=1))
        out["k"] = res.k
    out["loss"] = np.array(curves)  # (len(ns), n_rec)
    out["floor"] = 1 / (12 * out["n"].astype(float) ** 2)
    return out


def _nn(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = nn_data(cfg, seed, progress)
    k = d["k"]
    sel = k >= 1
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(d["n"])))
    for n, loss, floor, c in zip(d["n"], d["loss"], d["floor"], colors):
        a1.loglog(k[sel], loss[sel], color=c, lw=2, label=f"$n$ = {n}")
        a1.axhline(floor, color=c, ls=":", lw=1)
    a1.set_xlabel("iteration $k$")
    a1.set_ylabel(rf"$E[L(\theta_k)]$ (mean over {_runs(cfg['nn_runs'])})")
    a1.set_title(r"network loss against $k$; dotted: exact floor $1/(12n^2)$")
    repro.legend_outside(a1, loc="below", ncol=len(d["n"]), fontsize=8)
    ns = d["n"].astype(float)
    final = d["loss"][:, -1]
    a2.loglog(ns, final, "o-", lw=2, label=f"$E[L]$ after $k$ = {_sci(k[-1])}")
    a2.loglog(ns, d["floor"], "k-", lw=1, label=r"floor $L^* = 1/(12 n^2)$")
    a2.loglog(ns, ns / math.sqrt(k[-1]) + 1 / ns, "--", color="C3",
              label=r"$n/\sqrt{k} + 1/n$ (the corollary's rate, constant 1)")
    a2.set_xscale("log", base=2)
    a2.set_xlabel("number of neurons $n$")
    a2.set_ylabel(f"$E[L]$ at the end ($k$ = {_sci(k[-1])})")
    a2.set_title(f"corollary: $E[L] = O(n/\\sqrt{{k}} + 1/n)$, $\\gamma_k = 1/\\sqrt{{k}}$, "
                 f"noise $U[-{NOISE:g}, {NOISE:g}]$")
    repro.legend_outside(a2, loc="below", ncol=1, fontsize=8)
    return repro.save_figure(fig, out, "daneshmand2023_nn", d, meta, pdf=cfg["pdf"])


# ------------------------------------------------------------------------------------ smooth (Thm 1a)


def smooth_data(cfg, seed) -> dict:
    K = cfg["smooth_steps"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    n, gamma = 20, 0.5
    w0 = rng.uniform(-1, 1, n)
    res = particle_gd(w0, "energy_uniform", K, step=gamma, n_records=100)
    q, fstar = sparse_optimum(n)
    W0 = ((np.sort(w0) - q) ** 2).sum()
    out = dict(k_chamber=res.k, gap_chamber=res.value - fstar,
               exact_chamber=(1 - 2 * gamma / n) ** (2 * res.k) * (res.value[0] - fstar),
               bound_chamber=(2 / n) * (1 - 2 * gamma / n) ** np.maximum(res.k - 1, 0) * W0)
    nd, dd, lam, gd_step = 32, 3, 1.0, 4.0
    x0 = 0.5 * rng.normal(size=(nd, dd))
    r2 = particle_gd(x0, "interaction", K, step=gd_step, lam=lam, n_records=100)
    out.update(k_interaction=r2.k, value_interaction=r2.value,
               rate_interaction=(1 - gd_step * lam / nd) ** (2 * r2.k))
    return out


def _smooth(cfg, out, meta, seed):
    import matplotlib.pyplot as plt

    d = smooth_data(cfg, seed)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    gap = d["gap_chamber"]
    floor = 1e3 * np.finfo(float).eps * (1 / (3 * 20**2))  # E is computed to ~eps F*: hide the rounding floor
    k_floor = int(d["k_chamber"][gap > floor][-1])
    a1.semilogy(d["k_chamber"], np.where(gap > floor, gap, np.nan), "C0", lw=3,
                label=rf"GD: $E_k - F^*_n$ (drawn until it reaches the float64 round-off floor, $k$ = {k_floor})")
    a1.semilogy(d["k_chamber"], d["exact_chamber"], "k--", label=r"exact $(1 - 2\gamma/n)^{2k}(E_0 - F^*_n)$")
    a1.semilogy(d["k_chamber"], d["bound_chamber"], ":", color="C3", label=r"Thm 1(a) bound, $\lambda = \ell = 2/n$")
    a1.set_xlabel("iteration $k$")
    a1.set_ylabel(r"optimality gap $E_k - F^*_n$")
    a1.set_title(r"uniform target, $n$ = 20, $\gamma = 0.5$ (quadratic chamber)")
    repro.legend_outside(a1, loc="below", ncol=1, fontsize=8)
    v = d["value_interaction"]
    a2.semilogy(d["k_interaction"], v, "C2", lw=3, label=r"GD: $F(\mu_k)$, $F^* = 0$")
    late = d["k_interaction"] >= d["k_interaction"][-1] // 2
    ref = d["rate_interaction"] * v[late][-1] / d["rate_interaction"][late][-1]
    a2.semilogy(d["k_interaction"], ref, "k--", label=r"rate $(1 - \gamma\lambda/n)^{2k}$")
    a2.set_xlabel("iteration $k$")
    a2.set_ylabel(r"objective $F(\mu_k)$")
    a2.set_title(r"$d$ = 3: confinement $\lambda|x|^2/2$ + interaction $|x-y|^4/4$, $n$ = 32")
    repro.legend_outside(a2, loc="below", ncol=1, fontsize=8)
    fig.suptitle(r"Thm 1(a): plain particle GD converges linearly on $\lambda$-displacement-convex objectives")
    return repro.save_figure(fig, out, "daneshmand2023_smooth", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the four figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy). ``fig2_store`` makes Fig. 2's grid a resumable store.
    out : path
        Output folder.
    seed : int
        Base seed (targets, initialisations and noise streams derive from it).
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {
        "fig1": _fig1(config, out, meta, seed, progress),
        "fig2": _fig2(config, out, meta, seed, progress),
        "nn": _nn(config, out, meta, seed, progress),
        "smooth": _smooth(config, out, meta, seed),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
