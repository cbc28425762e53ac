"""Reproduction: Yulong Lu, "Two-Scale Gradient Descent Ascent Dynamics Finds Mixed Nash Equilibria of
Continuous Games: A Mean-Field Perspective", ICML 2023 (arXiv:2212.08791).

The paper's results are theorems (no experiments are known), so the figures are the spec's proposed
Figs A-E on the torus test games T1-T3:

1. ``two_scale`` (Fig A): NI_tau(t) of the mean-field PDE on T2, tau = 0.3, for eta in {0.1, 0.3, 1, 3, 10}.
2. ``lyapunov`` (Fig B): monotonicity of Lu's fast-ascent L1 + gamma L2 and fast-descent L3 + gamma L4
   over (eta, gamma), tau = 1.
3. ``particles`` (Fig C): time-averaged particle moments against the grid-solver MNE as N and h vary
   (error ~ O(h) + O(N^-1/2)); a grid on the sweep engine. Each point is paired with a run at 2h on the
   same seed, and the Richardson-extrapolated moments 2 m(h) - m(2h) remove the O(h) bias, so the
   N^-1/2 part shows in the error-against-N panel (the raw errors are flat in N once the bias dominates).
4. ``annealing`` (Fig D): particle NI_0 under tau_t = xi / log(e + t) against NI_0*(tau_t).
5. ``bias`` (Fig E): the regularisation bias NI_0*(tau) of the exact entropic equilibrium.

Fidelity notes (the spec's [GAP]s and the choices made here; also in the README):
* eta multiplies both the drift and the noise of the ascent player (otherwise the fixed point moves;
  spec pitfall 1); entropy H = int rho log rho on [0, 1) (the COLT 2024 convention).
* Lu's eta thresholds, rates and annealing constant are unconfirmed [GAP]: the figures show trends
  (faster decay for larger eta; monotonicity of the matching Lyapunov function), not constants.
* Euler-Maruyama with simultaneous updates; normals by Marsaglia's polar method from a counter-based
  generator (same numbers on CPU and GPU).
* Particle NI_0 is biased upward by finite N (convexity), so it is time-averaged and compared with
  NI_0* of the grid solver, never with 0.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from gdsim import repro
from gdsim.games import (entropic_equilibrium, mean_field_pde, particle_gda, payoff_t1, payoff_t2, payoff_t3,
                         wrapped_gaussian)
from gdsim.sweep import Sweep, simulation
from gdsim.sweep import run as run_sweep

NAME = "lu2023_mean_field_gda"
TITLE = "Two-scale mean-field GDA finds mixed Nash equilibria (Lu, ICML 2023)"
FIGURES = {
    "two_scale": "Fig A: NI_tau(t) of the mean-field PDE (T2, tau = 0.3) for eta in {0.1, 0.3, 1, 3, 10}",
    "lyapunov": "Fig B: fast-ascent vs fast-descent Lyapunov monotonicity over (eta, gamma), tau = 1",
    "particles": "Fig C: particle moment error vs N and h (O(h) + O(N^-1/2)), T3, tau = 1",
    "annealing": "Fig D: particle NI_0 under logarithmic annealing vs NI_0*(tau_t)",
    "bias": "Fig E: regularisation bias NI_0*(tau) of the entropic equilibrium",
}
RUNTIME = {"quick": "~55 s", "full": "~30 min"}
BIBTEX = """
@inproceedings{lu2023twoscale,
  title     = {Two-Scale Gradient Descent Ascent Dynamics Finds Mixed Nash Equilibria of Continuous Games: A Mean-Field Perspective},
  author    = {Lu, Yulong},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {202},
  pages     = {22790--22811},
  year      = {2023},
  eprint    = {2212.08791},
  archivePrefix = {arXiv}
}
"""

QUICK = dict(a_M=64, a_T=10.0, b_M=32, b_T=2.0, b_etas=(0.01, 0.1, 1.0, 10.0), c_ns=(300, 1000, 3000),
             c_hs=(5e-4, 2.5e-4), c_seeds=4, c_T=3.0, d_T=8.0, d_n=1000, e_taus=(1.0, 0.5, 0.3, 0.2, 0.1),
             pdf=False, c_store=None)
FULL = dict(a_M=128, a_T=10.0, b_M=64, b_T=3.0, b_etas=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
            c_ns=(100, 300, 1000, 3000, 10000), c_hs=(1e-3, 5e-4, 2.5e-4, 1e-4), c_seeds=5, c_T=3.0, d_T=40.0,
            d_n=2000, e_taus=tuple(np.geomspace(0.05, 1.0, 10)), pdf=True,
            c_store="sweeps/lu2023_particles_full.zarr")
ETAS_A = (0.1, 0.3, 1.0, 3.0, 10.0)
GAMMAS = (0.1, 0.5, 1.0, 2.0, 5.0)


def two_scale_data(cfg, progress=False) -> dict:
    M, pay = cfg["a_M"], payoff_t2()
    p0, q0 = wrapped_gaussian(M, 0.1, 0.05), wrapped_gaussian(M, 0.6, 0.05)
    eq = entropic_equilibrium(pay, 0.3, M=M)
    out = {}
    for eta in ETAS_A:
        r = mean_field_pde(pay, 0.3, eta, cfg["a_T"], M=M, p0=p0, q0=q0, n_records=201, equilibrium=eq,
                           progress=progress)
        out["t"], out[f"ni_tau_eta{eta:g}"] = r.t, r.ni_tau
    return out


def _two_scale(cfg, out, meta, progress):
    import matplotlib.pyplot as plt

    d = two_scale_data(cfg, progress)
    fig, ax = plt.subplots(figsize=(8.4, 4.4), constrained_layout=True)
    colors = plt.cm.plasma(np.linspace(0, 0.85, len(ETAS_A)))
    for eta, c in zip(ETAS_A, colors):
        y = d[f"ni_tau_eta{eta:g}"]
        t0 = 0.3 * d["t"][-1]  # [3, 10] for T = 10, as in the spec
        sel = d["t"] >= t0
        rate = -np.polyfit(d["t"][sel], np.log(y[sel]), 1)[0]
        ax.semilogy(d["t"], y, color=c, lw=2,
                    label=f"$\\eta = {eta:g}$ (rate on $[{t0:g}, {d['t'][-1]:g}]$: {rate:.2f})")
    ax.set_xlabel("$t$ (min player's clock)")
    ax.set_ylabel(r"$NI_\tau(\mu_t, \nu_t)$")
    ax.set_title(f"Fig A: two-scale mean-field GDA (PDE, T2, $\\tau = 0.3$, $M = {cfg['a_M']}$)")
    repro.legend_outside(ax, title="fitted exponential rate")
    return repro.save_figure(fig, out, "lu2023_two_scale", d, meta, pdf=cfg["pdf"])


def lyapunov_data(cfg) -> dict:
    M, pay = cfg["b_M"], payoff_t2()
    p0, q0 = wrapped_gaussian(M, 0.1, 0.05), wrapped_gaussian(M, 0.6, 0.05)
    eq = entropic_equilibrium(pay, 1.0, M=M)
    etas = np.array(cfg["b_etas"])
    mono = np.zeros((2, etas.size, len(GAMMAS)), dtype=bool)
    curves = {}
    for i, eta in enumerate(etas):
        r = mean_field_pde(pay, 1.0, eta, cfg["b_T"], M=M, p0=p0, q0=q0, n_records=61, equilibrium=eq)
        L = r.lyapunov
        for j, gam in enumerate(GAMMAS):
            mono[0, i, j] = np.all(np.diff(L[:, 0] + gam * L[:, 1]) <= 1e-12)
            mono[1, i, j] = np.all(np.diff(L[:, 2] + gam * L[:, 3]) <= 1e-12)
        curves[f"L_ascent_eta{eta:g}"] = L[:, 0] + L[:, 1]
        curves[f"L_descent_eta{eta:g}"] = L[:, 2] + L[:, 3]
        curves["t"] = r.t
    return dict(etas=etas, gammas=np.array(GAMMAS), monotone=mono, **curves)


def _lyapunov(cfg, out, meta):
    import matplotlib.pyplot as plt

    d = lyapunov_data(cfg)
    from matplotlib.colors import ListedColormap

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    yes_no = ListedColormap([repro.OKABE_ITO[3], repro.OKABE_ITO[0]])  # vermillion: no, blue: yes
    for ax, idx, title in ((axes[0], 0, r"fast ascent: $L_1 + \gamma L_2$ non-increasing?"),
                           (axes[1], 1, r"fast descent: $L_3 + \gamma L_4$ non-increasing?")):
        mono = d["monotone"][idx]
        ax.imshow(mono.astype(float), cmap=yes_no, vmin=0, vmax=1, aspect="auto", origin="lower")
        for (i, j), v in np.ndenumerate(mono):
            ax.text(j, i, "yes" if v else "no", ha="center", va="center", color="w", fontsize=9)
        ax.set_xticks(range(len(GAMMAS)), [f"{g:g}" for g in GAMMAS])
        ax.set_yticks(range(d["etas"].size), [f"{e:g}" for e in d["etas"]])
        ax.set_xlabel(r"$\gamma$")
        ax.set_ylabel(r"timescale ratio $\eta$")
        ax.set_title(f"{title}\n(yes in {int(mono.sum())} of {mono.size} cells)", fontsize=10)
    floor = 1e-13  # below this the gap is round-off of the equilibrium solver: not drawn
    for eta in d["etas"]:
        y = d[f"L_ascent_eta{eta:g}"]
        axes[2].semilogy(d["t"], np.where(y > floor, y, np.nan), lw=1.5, label=f"$\\eta = {eta:g}$")
    axes[2].axhline(floor, color="0.5", ls=":", lw=1.0, label="round-off level\n(smaller values not drawn)")
    axes[2].set_ylim(floor / 3, None)
    axes[2].set_xlabel("$t$")
    axes[2].set_ylabel(r"$L_1 + L_2$")
    axes[2].set_title(r"$L_1 + L_2$ (an $NI_\tau$-type gap) along the flow", fontsize=10)
    repro.legend_outside(axes[2])
    fig.suptitle(f"Fig B: Lu's Lyapunov functions, PDE on T2, $\\tau = 1$, $M = {cfg['b_M']}$")
    return repro.save_figure(fig, out, "lu2023_lyapunov", d, meta, pdf=cfg["pdf"])


@functools.lru_cache(maxsize=8)
def _t3_equilibrium(tau: float):
    """The grid MNE of T3 at ``tau`` (M = 1024), computed once per process rather than once per chunk."""
    return entropic_equilibrium(payoff_t3(), tau, M=1024)


@simulation(outputs={"max_moment_error": (), "ni0_time_avg": (), "richardson_error": ()})
def particle_error_chunk(chunk, T: float, tau: float = 1.0):
    """Sweep simulation for Fig C: T3 particle GDA at (n, h, seed); errors against the grid MNE.

    Each point also runs at step 2h with the same seed (paired runs), and ``richardson_error`` is the error
    of the Richardson-extrapolated moments 2 m(h) - m(2h): the O(h) Euler-Maruyama bias cancels, so what
    is left is the finite-N part (the O(h) bias hides it at large N otherwise).
    """
    pay = payoff_t3()
    eq = _t3_equilibrium(float(tau))

    def averages(n, h, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # coarse h on purpose (the bias is measured)
            res = particle_gda(pay, tau, 1.0, T, n_x=int(n), dt=float(h), runs=len(seed), seed=seed, n_records=201)
        late = res.t >= T / 3
        # time averages with the time axis last and contiguous: each run's sum has the same order
        # whatever the number of runs in the batch (bit-identical under any chunking)
        moments = np.moveaxis(res.moments[late], 0, -1).copy().mean(axis=-1)
        return moments, np.ascontiguousarray(res.ni0[late].T).mean(axis=-1)

    def batch(points, seed, n, h):
        # points sharing (n, h) run as one batch (runs in parallel), each with its own grid-point seed
        m_h, ni0 = averages(n, h, seed)
        m_2h, _ = averages(n, 2 * h, seed)
        err = np.abs(m_h - eq.moments[None]).max(axis=(1, 2))
        rich = np.abs(2 * m_h - m_2h - eq.moments[None]).max(axis=(1, 2))
        return {"max_moment_error": err, "ni0_time_avg": ni0, "richardson_error": rich}

    return chunk.run_batched(batch, by=("n", "h"))


def particles_data(cfg, seed, progress=False) -> dict:
    import tempfile

    sw = Sweep("lu2023_particles", axes={"n": list(cfg["c_ns"]), "h": list(cfg["c_hs"]),
                                         "seed": np.arange(cfg["c_seeds"])},
               simulation=particle_error_chunk, params={"T": float(cfg["c_T"])}, chunks={"n": 1, "h": 1},
               seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = cfg.get("c_store") or Path(tmp) / "particles.zarr"
        ds = run_sweep(sw, store, progress=progress, verbose=progress).dataset()
    return dict(n=ds["n"].values, h=ds["h"].values, error=ds["max_moment_error"].values,
                richardson=ds["richardson_error"].values, ni0=ds["ni0_time_avg"].values, ni0_star=float(_t3_equilibrium(1.0).ni0))


def _particles(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = particles_data(cfg, seed, progress)
    err = d["error"].mean(axis=-1)  # (n, h)
    rich = d["richardson"].mean(axis=-1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5.0), constrained_layout=True)
    for j, h in enumerate(d["h"]):
        a1.loglog(d["n"], err[:, j], "o-", color=f"C{j}", alpha=0.6, label=f"$h = {h:g}$")
        a1.loglog(d["n"], rich[:, j], "D--", color=f"C{j}", label=f"Richardson $2m(h) - m(2h)$, $h = {h:g}$")
    a1.loglog(d["n"], rich[0, -1] * np.sqrt(d["n"][0] / d["n"]), "k:", label=r"$N^{-1/2}$")
    a1.set_xlabel("particles per player $N$")
    a1.set_ylabel("max |time-averaged moment $-$ MNE moment|")
    a1.set_title("error vs $N$ (mean over seeds); Richardson removes the $O(h)$ bias", fontsize=10)
    repro.legend_outside(a1, loc="below", ncol=2)
    for i, n in enumerate(d["n"]):
        a2.loglog(d["h"], err[i], "s-", label=f"$N = {n}$")
    a2.loglog(d["h"], err[-1, 0] * d["h"] / d["h"][0], "k:", label="$O(h)$")
    a2.set_xlabel("step $h$")
    a2.set_ylabel("max |time-averaged moment $-$ MNE moment|")
    a2.set_title("error vs $h$: the $O(h)$ bias shows once $N$ is large", fontsize=10)
    repro.legend_outside(a2, loc="below", ncol=4)
    fig.suptitle(r"Fig C: particles vs the mean-field equilibrium (T3, $\tau = 1$, $\eta = 1$; grid on gdsim.sweep)")
    return repro.save_figure(fig, out, "lu2023_particles", d, meta, pdf=cfg["pdf"])


def annealing_data(cfg, seed, progress=False) -> dict:
    from scipy.special import i0e, i1e

    res = particle_gda(payoff_t1(), None, 1.0, cfg["d_T"], n_x=cfg["d_n"], dt=2.5e-4, anneal_xi=1.0, seed=seed,
                       n_records=101, progress=progress)
    tau = res.tau_t
    ni_star = 2 * (1 - i1e(1 / tau) / i0e(1 / tau))  # T1 (a = b = 1) closed form
    return dict(t=res.t, ni0=res.ni0[:, 0], tau=tau, ni0_star=ni_star)


def _annealing(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = annealing_data(cfg, seed, progress)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    ax.plot(d["t"], d["ni0"], color="C0", lw=1.2, alpha=0.8, label=f"particles: $NI_0$ ($N = {cfg['d_n']}$)")
    k = 5
    smooth = np.convolve(d["ni0"], np.ones(k) / k, mode="same")
    ax.plot(d["t"][k:-k], smooth[k:-k], color="C1", lw=2.5, label=f"running mean of {k} records")
    ax.plot(d["t"], d["ni0_star"], "k--", lw=2, label=r"$NI_0^*(\tau_t)$ of the exact entropic MNE")
    above = float(np.mean(smooth[k:-k] >= d["ni0_star"][k:-k]))
    ax.set_xlabel("$t$")
    ax.set_ylabel(r"Nikaido-Isoda gap $NI_0$")
    ax.set_title(r"Fig D: annealing $\tau_t = 1/\log(e + t)$ on T1: running mean above $NI_0^*$ "
                 f"at {above:.0%} of records", fontsize=10)
    repro.legend_outside(ax, loc="below", ncol=2)
    return repro.save_figure(fig, out, "lu2023_annealing", d, meta, pdf=cfg["pdf"])


def bias_data(cfg) -> dict:
    from scipy.special import i0e, i1e

    taus = np.array(cfg["e_taus"])
    t3 = np.array([float(entropic_equilibrium(payoff_t3(), t, M=256).ni0) for t in taus])
    t1 = 2 * (1 - i1e(1 / taus) / i0e(1 / taus))
    return dict(tau=taus, ni0_t1=t1, ni0_t3=t3)


def _bias(cfg, out, meta):
    import matplotlib.pyplot as plt

    d = bias_data(cfg)
    fig, ax = plt.subplots(figsize=(6.0, 4.2), constrained_layout=True)
    ax.loglog(d["tau"], d["ni0_t1"], "o-", label=r"T1/T2: $2(1 - I_1(1/\tau)/I_0(1/\tau))$ (closed form)")
    ax.loglog(d["tau"], d["ni0_t3"], "s-", label="T3 (grid solver, $M = 256$)")
    ax.loglog(d["tau"], d["tau"], "k:", label=r"$c\,\tau$ with $c = 1$")
    slope = np.polyfit(np.log(d["tau"][-3:]), np.log(d["ni0_t3"][-3:]), 1)[0]
    ax.set_xlabel(r"temperature $\tau$")
    ax.set_ylabel(r"$NI_0(\mu^*_\tau, \nu^*_\tau)$")
    ax.set_title(f"Fig E: regularisation bias $\\sim c\\,\\tau$ as $\\tau \\to 0$ (T3 small-$\\tau$ slope "
                 f"{slope:.2f})", fontsize=10)
    repro.legend_outside(ax, loc="below", ncol=1)
    return repro.save_figure(fig, out, "lu2023_bias", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the five figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy); ``c_store`` makes Fig C's grid a resumable store.
    out : path
        Output folder.
    seed : int
        Base seed for the particle runs (the PDE and grid-solver figures are deterministic).
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {
        "two_scale": _two_scale(config, out, meta, progress),
        "lyapunov": _lyapunov(config, out, meta),
        "particles": _particles(config, out, meta, seed, progress),
        "annealing": _annealing(config, out, meta, seed, progress),
        "bias": _bias(config, out, meta),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
