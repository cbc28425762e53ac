"""Reproduction: Park, Lucini, Aarts, "Phase diagram and eigenvalue dynamics of stochastic gradient descent in
multilayer neural networks" (arXiv:2509.01349), with its predecessor Aarts, Lucini, Park, "Stochastic weight
matrix dynamics during learning and Dyson Brownian motion" (arXiv:2407.16427, Phys. Rev. E 2025).

Figures
-------
1. ``phase``: fraction of seeds "ordered" by the authors' drift-vs-Coulomb criterion over the 12 x 12 grid
   (T in [1/32, 64], 1/sigma_W in [1/256, 8], log) with the 0.68/0.95/0.997 contours and 1/sigma_W = sqrt(2).
2. ``maps``: test MSE, feature overlap q and the largest squared singular value x_max over the grid.
3. ``spectra``: singular-value (x = s^2) histograms at a ferro, a para and a spin-glass point.
4. ``tanh``: p(tanh z) for sigma_z^2 = 0.1, 0.5, 2 (bimodal above 1/2).
5. ``dyson``: the predecessor's 2x2 model: mean spacing and fitted GOE width against sqrt(lr A^2/|B|) over
   the A, lr and |B| sweeps, and the Wigner-surmise histogram.

Tiers: quick (50 epochs, 3 seeds: a minute on 2 cores), medium (1000 epochs, 10 seeds) and the paper's
full protocol (1e5 epochs, 100 seeds; about 2e3 core-hours: a GPU or a cluster). The grid always runs
on the sweep engine; with ``store`` set it is resumable.

Fidelity notes (also in the README):
* The model, data (4000 points, fixed batch order), T = lr/|B| and the phase criterion follow the
  authors' code (chanjure/phase_ml) as transcribed in the spec; the test set is the notebook's 128
  points (numpy seed 42); seeds are ours.
* The quick tier (50 epochs instead of 1e5) shows the three phases but not the paper's t_f values:
  the criterion's ordered fraction at high T stays above the paper's (spec A.6.7), and x_max in the
  para phase is ~1e4 instead of 1e5-1e6.
* The ferro/spin-glass line is drawn at 1/sigma_W = sqrt(2) as in the paper (it identifies sigma_z^2 with
  sigma_W^2; the actual pre-activation variance is ~0.39 sigma_W^2).
* The predecessor's model is run with fresh inputs and noise per step (the spec's CI variant), not the
  quenched per-sample noise of the authors' data release.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gdsim import repro
from gdsim.langevin import (discrete_spacing_width, goe2_density, gpu_park_network_sgd, p_tanh, park_network_sgd,
                            teacher_student_2x2)
from gdsim.langevin import wigner_surmise_pdf
from gdsim.sweep import Sweep, simulation
from gdsim.sweep import run as run_sweep

NAME = "park2025_sgd_phase_diagram"
TITLE = "SGD phase diagram and Dyson Brownian motion of weight spectra (Park, Lucini, Aarts 2025)"
FIGURES = {
    "phase": "ordered fraction (drift vs Coulomb) over (1/sigma_W, T) with 68/95/99.7% contours and sqrt(2)",
    "maps": "test MSE, overlap q and x_max over the 12 x 12 grid",
    "spectra": "singular-value histograms in the ferro, para and spin-glass phases",
    "tanh": "p(tanh z): unimodal below sigma_z^2 = 1/2, bimodal above",
    "dyson": "predecessor: mean spacing and GOE width vs sqrt(lr A^2/|B|); Wigner surmise",
}
RUNTIME = {"quick": "~25 s", "full": "~2e3 core-hours (GPU or cluster)"}
BIBTEX = """
@article{park2025phase,
  title   = {Phase diagram and eigenvalue dynamics of stochastic gradient descent in multilayer neural networks},
  author  = {Park, Chanju and Lucini, Biagio and Aarts, Gert},
  journal = {arXiv preprint arXiv:2509.01349},
  year    = {2025}
}
"""

QUICK = dict(epochs=50, seeds=3, dyson_chains=2000, dyson_steps=300, pdf=False, store=None, backend="cpu")
MEDIUM = dict(epochs=1000, seeds=10, dyson_chains=3000, dyson_steps=3000, pdf=True,
              store="sweeps/park2025_medium.zarr", backend="auto")
FULL = dict(epochs=100_000, seeds=100, dyson_chains=3000, dyson_steps=3000, pdf=True,
            store="sweeps/park2025_full.zarr", backend="auto")
TS = 2.0 ** np.arange(-5, 7)  # T = lr / |B|
INV_SIGMA = 2.0 ** np.arange(-8, 4)  # 1/sigma_W
K = 16


@simulation(outputs={"test_mse": (), "q": (), "x_max": (), "ordered": {"dtype": "int8"},
                     "phase": {"dtype": "int8"}, "x": {"shape": (K,), "dims": ("sv",)}})
def park_chunk(chunk, epochs: int, backend: str = "cpu"):
    """Sweep simulation: the chunk's runs (one per grid point, seeded from the point) trained in one batched
    call, on the CPU's cores or, with ``backend="cuda"``, on the GPU."""
    train = gpu_park_network_sgd if backend == "cuda" else park_network_sgd
    return chunk.run_batched(lambda points, seed: train(points["T"], 1.0 / points["inv_sigma_w"], epochs=epochs,
                                                        runs=1, seed=seed))


def _backend(cfg) -> str:
    """``cfg['backend']``: "cpu", "cuda", or "auto" (the GPU when one is usable)."""
    b = cfg.get("backend", "cpu")
    if b == "auto":
        from gdsim._core.cuda import gpu_available

        return "cuda" if gpu_available() else "cpu"
    if b not in ("cpu", "cuda"):
        raise ValueError(f"backend must be 'cpu', 'cuda' or 'auto'; got {b!r}")
    return b


def grid_sweep(cfg, seed) -> Sweep:
    """The 12 x 12 x seeds grid as a sweep: 36 chunks of 4 temperatures on the CPU, 3 chunks of 4 x 12
    points on a GPU (which needs thousands of runs per launch to be busy). Results do not depend on the
    chunking (per-point seeds); a store is tied to its chunking, so resume on the backend that began it."""
    backend = _backend(cfg)
    chunks = {"inv_sigma_w": 4, "T": 12} if backend == "cuda" else {"inv_sigma_w": 1, "T": 4}
    return Sweep("park2025_grid", axes={"inv_sigma_w": INV_SIGMA, "T": TS, "seed": np.arange(cfg["seeds"])},
                 simulation=park_chunk, params={"epochs": int(cfg["epochs"]), "backend": backend}, chunks=chunks,
                 seed=seed)


def grid_data(cfg, seed, progress=False) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ds = run_sweep(grid_sweep(cfg, seed), cfg.get("store") or Path(tmp) / "grid.zarr", progress=progress,
                       verbose=progress).dataset()
    return {name: ds[name].values for name in ("test_mse", "q", "x_max", "ordered", "phase", "x")} | dict(
        inv_sigma_w=ds["inv_sigma_w"].values, T=ds["T"].values, epochs=cfg["epochs"])


def _log_edges(v):
    lv = np.log2(v)
    return 2.0 ** np.concatenate([[lv[0] - 0.5], (lv[1:] + lv[:-1]) / 2, [lv[-1] + 0.5]])


def _map(ax, d, z, title, norm=None, cmap="viridis", label=""):
    import matplotlib.pyplot as plt

    m = ax.pcolormesh(_log_edges(d["inv_sigma_w"]), _log_edges(d["T"]), z.T, norm=norm, cmap=cmap, shading="flat")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.axvline(math.sqrt(2), color="w", ls="--", lw=1.2)
    ax.set_xlabel(r"$1/\sigma_W$")
    ax.set_ylabel(r"$T = \epsilon/|B|$")
    ax.set_title(title, fontsize=10)
    plt.colorbar(m, ax=ax, label=label)


def _phase(cfg, out, meta, d):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    frac = d["ordered"].mean(axis=-1)
    counts = np.stack([(d["phase"] == p).sum(axis=-1) for p in range(3)], axis=-1)
    majority = counts.argmax(axis=-1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.9), constrained_layout=True)
    cmap = ListedColormap([repro.OKABE_ITO[0], repro.OKABE_ITO[3], "0.6"])  # blue, vermillion, grey
    m = a1.pcolormesh(_log_edges(d["inv_sigma_w"]), _log_edges(d["T"]), majority.T, cmap=cmap, vmin=-0.5, vmax=2.5,
                      shading="flat")
    cb = plt.colorbar(m, ax=a1, ticks=[0, 1, 2])
    cb.ax.set_yticklabels(["ferro\n(test MSE $< 10^{-3}$)", "para", "spin glass\n($q > 0.5$)"])
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.axvline(math.sqrt(2), color="w", ls="--", lw=1.2)
        ax.set_xlabel(r"$1/\sigma_W$")
        ax.set_ylabel(r"$T = \epsilon/|B|$")
    a1.set_title(f"phase from the observables (majority of {d['ordered'].shape[-1]} seeds), {d['epochs']} epochs",
                 fontsize=10)
    m2 = a2.pcolormesh(_log_edges(d["inv_sigma_w"]), _log_edges(d["T"]), frac.T, cmap="cividis", vmin=0, vmax=1,
                       shading="flat")
    plt.colorbar(m2, ax=a2, label="fraction ordered")
    X, Y = np.meshgrid(d["inv_sigma_w"], d["T"], indexing="ij")
    n_seeds = d["ordered"].shape[-1]
    if n_seeds >= 10:  # with few seeds the fraction takes a few values only: contours would trace noise
        cs = a2.contour(X, Y, frac, levels=[0.68, 0.95, 0.997], colors=["w", "0.75", repro.OKABE_ITO[3]],
                        linewidths=1.2)
        a2.clabel(cs, fmt={0.68: "68%", 0.95: "95%", 0.997: "99.7%"}, fontsize=7)
    a2.set_title(f"authors' drift-vs-Coulomb criterion over {n_seeds} seeds (needs $t_f \\sim 10^5$ epochs;\n"
                 f"{d['epochs']} here: noisy" + ("" if n_seeds >= 10 else "; 68/95/99.7% contours from 10 seeds on")
                 + ")", fontsize=10)
    fig.suptitle(r"Park et al. phase diagram over $(1/\sigma_W, T)$; white dashed: $1/\sigma_W = \sqrt{2}$")
    return repro.save_figure(fig, out, "park2025_phase", {k: v for k, v in d.items() if k != "x"}, meta,
                             pdf=cfg["pdf"])


def _maps(cfg, out, meta, d):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    _map(axes[0], d, d["test_mse"].mean(-1), "test MSE (128 points)", LogNorm(1e-7, 1.0), "inferno", "test MSE")
    _map(axes[1], d, d["q"].mean(-1), "overlap $q$ of initial and final features", None, "viridis", "overlap $q$")
    _map(axes[2], d, d["x_max"].mean(-1), r"largest squared singular value $x_{\max}$ of $W$", LogNorm(), "magma",
         r"$x_{\max}$")
    fig.suptitle(f"Park et al. maps after {d['epochs']} epochs (paper: $10^5$), mean over "
                 f"{d['q'].shape[-1]} seeds")
    return repro.save_figure(fig, out, "park2025_maps", {k: d[k] for k in ("inv_sigma_w", "T", "test_mse", "q", "x_max")},
                             meta, pdf=cfg["pdf"])


def _spectra(cfg, out, meta, d):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    inv, Ts = d["inv_sigma_w"], d["T"]
    i_hi, i_lo, t_lo = int(np.argmax(inv)), int(np.argmin(inv)), int(np.argmin(Ts))
    t_para = int(np.argmin(np.abs(np.log(Ts / 4.0))))
    points = {f"ferro ($T = {Ts[t_lo]:g}$, $1/\\sigma_W = {inv[i_hi]:g}$)": (i_hi, t_lo),
              f"para ($T = {Ts[t_para]:g}$, $1/\\sigma_W = {inv[i_hi]:g}$)": (i_hi, t_para),
              f"spin glass ($T = {Ts[t_lo]:g}$, $1/\\sigma_W = {inv[i_lo]:g}$)": (i_lo, t_lo)}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
    data = {}
    for ax, (label, (i, j)) in zip(axes, points.items()):
        x = d["x"][i, j].ravel()
        ax.hist(np.log10(x), bins=30, color="C0")
        ax.set_xlabel(r"$\log_{10} x$ (squared singular values of $W$)")
        ax.set_ylabel("count (all seeds)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(label, fontsize=10)
        data[label.split(" (")[0].replace(" ", "_")] = x
    axes[0].axvspan(np.log10(0.086), np.log10(2.91), color="C1", alpha=0.2, label="teacher range (MP)")
    repro.legend_outside(axes[0], loc="below")
    fig.suptitle("singular-value spectra per phase: ordered, blown up, frozen at initialisation")
    return repro.save_figure(fig, out, "park2025_spectra", data, meta,
                             pdf=cfg["pdf"])


def _tanh(cfg, out, meta):
    import matplotlib.pyplot as plt

    phi = np.linspace(-0.999, 0.999, 801)
    fig, ax = plt.subplots(figsize=(8.6, 3.8), constrained_layout=True)
    data = {"phi": phi}
    for s2 in (0.1, 0.5, 2.0):
        p = p_tanh(phi, s2)
        top = 1.6  # the y range shown; a taller peak (near phi = +-1 for large s2) is named in the legend
        far = p.max() > top
        ax.plot(phi, p, lw=2, label=rf"$\sigma_z^2 = {s2:g}$"
                + (f" (above {top:g} for $|\\phi| > {np.abs(phi[p > top]).min():.2f}$)" if far else ""))
        data[f"p_{s2:g}"] = p
    ax.set_ylim(0, top)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1])
    ax.set_xlabel(r"$\phi = \tanh z$")
    ax.set_ylabel(r"$p(\phi)$")
    ax.set_title(r"Fig. 1: soft spins turn bimodal at $\sigma_z^2 = 1/2$", fontsize=10)
    repro.legend_outside(ax)
    return repro.save_figure(fig, out, "park2025_tanh", data, meta, pdf=cfg["pdf"])


def dyson_data(cfg, seed) -> dict:
    from scipy.optimize import curve_fit

    sweeps = {"A": [(0.1, a, 16) for a in (0.05, 0.06, 0.07, 0.08, 0.09, 0.10)],
              "lr": [(lr, 0.1, 16) for lr in (0.1, 0.2, 0.3, 0.4, 0.5)],
              "B": [(0.1, 0.1, b) for b in (4, 8, 16, 32, 64)]}
    out = {}
    ss = np.random.SeedSequence([seed, 6])
    for name, settings in sweeps.items():
        xs, mean_s, fit_w, pred_d = [], [], [], []
        for (lr, A, B), child in zip(settings, ss.spawn(len(settings))):
            r = teacher_student_2x2(lr, A, B, steps=cfg["dyson_steps"], runs=cfg["dyson_chains"], seed=child)
            sv = r.singular_values.ravel()
            hist, edges = np.histogram(sv, bins=60, density=True)
            mid = 0.5 * (edges[1:] + edges[:-1])
            (x0, sig), _ = curve_fit(goe2_density, mid, hist, p0=(2.0, sv.std()))
            xs.append(math.sqrt(lr * A * A / B))
            mean_s.append(r.spacing.mean())
            fit_w.append(abs(sig))
            pred_d.append(discrete_spacing_width(lr, A, B))
            if name == "A" and A == 0.1:
                out["surmise_s"] = r.spacing / r.spacing.mean()
        out[f"x_{name}"], out[f"S_{name}"] = np.array(xs), np.array(mean_s)
        out[f"sigma_fit_{name}"], out[f"sigma_d_{name}"] = np.array(fit_w), np.array(pred_d)
    return out


def _dyson(cfg, out, meta, seed):
    import matplotlib.pyplot as plt

    d = dyson_data(cfg, seed)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.2), constrained_layout=True)
    for name, mk in (("A", "o"), ("lr", "s"), ("B", "^")):
        a1.plot(d[f"x_{name}"], d[f"S_{name}"], mk, label=rf"$\langle S\rangle$, {name} sweep")
        a1.plot(d[f"x_{name}"], math.sqrt(math.pi) * d[f"sigma_fit_{name}"], mk, mfc="none",
                label=rf"$\sqrt{{\pi}}\sigma_{{fit}}$, {name} sweep")
    xx = np.linspace(0, max(d["x_lr"].max(), d["x_B"].max()) * 1.05, 50)
    a1.plot(xx, math.sqrt(math.pi) * xx, "k:", label=r"$\sqrt{\pi}\sqrt{lr A^2/|B|}$ (continuum)")
    a1.plot(d["x_lr"], math.sqrt(math.pi) * d["sigma_d_lr"], "k--", lw=1, label=r"$\sqrt{\pi}\sigma_d$ (exact discrete second moments, lr sweep)")
    a1.set_xlabel(r"$\sqrt{lr\,A^2/|B|}$")
    a1.set_ylabel("mean spacing / width")
    a1.set_title(r"linear scaling: the spectrum depends on $lr/|B|$", fontsize=10)
    repro.legend_outside(a1, loc="below", ncol=2, fontsize=7)
    s = d["surmise_s"]
    a2.hist(s, bins=40, density=True, color="C0", alpha=0.7, label=r"$2\times 2$ SGD spacings (normalised)")
    u = np.linspace(0, s.max(), 200)
    a2.plot(u, wigner_surmise_pdf(u), "k-", lw=2, label="Wigner surmise (GOE)")
    a2.set_xlabel(r"$s/\langle s\rangle$")
    a2.set_ylabel("probability density")
    a2.set_title(r"level repulsion: $\langle s^2\rangle/\langle s\rangle^2$ = "
                 f"{(s**2).mean():.3f} ($4/\\pi$ = {4 / math.pi:.3f})", fontsize=10)
    repro.legend_outside(a2, loc="below", ncol=2)
    fig.suptitle(r"Aarts, Lucini, Park: Dyson Brownian motion of the $2\times 2$ teacher-student weights")
    return repro.save_figure(fig, out, "park2025_dyson", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the five figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK``, ``MEDIUM`` or ``FULL`` (or a modified copy); ``store`` makes the grid resumable.
    out : path
        Output folder.
    seed : int
        Base seed (per grid point and seed index through the sweep engine).
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    d = grid_data(config, seed, progress)
    return {
        "phase": _phase(config, out, meta, d),
        "maps": _maps(config, out, meta, d),
        "spectra": _spectra(config, out, meta, d),
        "tanh": _tanh(config, out, meta),
        "dyson": _dyson(config, out, meta, seed),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
