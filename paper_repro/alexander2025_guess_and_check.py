"""Reproduction: Y. Alexander, Y. Slutzky, Y. Ran-Milo, N. Cohen, "Do neural networks need gradient descent to
generalize? A theoretical study", NeurIPS 2025 (arXiv:2506.03931).

The volume hypothesis says that drawing weights from the prior until the training data are fitted (Guess &
Check, G&C) generalises as well as gradient descent. For matrix factorisation the paper proves that G&C's
generalisation gets worse as the width grows (tending to the prior's, no better than a random draw) and better
as the depth grows, while GD generalises well in both directions.

Figures
-------
1. ``width``: generalisation loss against width (depth 2, linear): G&C (``gdsim.guess_check.guess_and_check``,
   a parallel Numba Monte Carlo over prior draws), GD (``gdsim.dynamics.run(m, GD(), ...)`` on
   ``gdsim.guess_check.sensing_model``) and the exact prior mean (``gdsim.guess_check.prior_mean``); and the
   fraction of the prior's error that G&C removes, per task.
2. ``depth``: the same against depth (width 3, output normalised for G&C), at two thresholds, with G&C's
   acceptance rate.

Fidelity notes (also in the sidecars):
* Reduced settings [spec beyond.md section 6, CI claim 2]: the paper's 5 x 5 rank-1 target with 15 measurements
  needs 1e8-1e9 prior draws per point (acceptance about 1e-6 at eps = 0.02), GPU-scale work. The width experiment
  here is the spec's reduced one: 3 x 3 rank-1 target, 3 measurements, eps = 0.02, no normalisation, Gaussian
  prior. The depth experiment is our reduction [INFERRED]: 3 x 3, 5 measurements (rank-1 3 x 3 matrices have 5
  degrees of freedom, as the paper's 15 measurements exceed the 9 of 5 x 5), width 3 (= n, as the paper's 5),
  output normalised (as the paper's depth runs), eps = 0.005 and 0.01; with 3 measurements the depth effect is
  too small to resolve at CPU sample sizes (measured: 0.187 -> 0.162 from depth 2 to 8 on one task).
* One task per seed shared by every width (or depth): common random numbers; the authors draw a new task per
  (width, seed). G&C's estimate is the mean generalisation loss of all accepted draws, as in the authors'
  ``train_gnc`` (each accepted draw is one independent G&C outcome); softening 0 instead of their 1e-6 so that
  the closed-form prior mean is exact.
* GD: plain full-batch GD on mean_i (<A_i, Y> - y_i)^2 through the shared engine, not the authors'
  "GroupRMSprop" (a step normalised by an average gradient norm) [GAP]: plain GD from their small init
  (1e-3 x PyTorch's default) at depth 2 converges in a few thousand steps; deeper factorisations start at
  sqrt(3) c^(1/d) x PyTorch's default per layer (end-to-end scale about c = 1e-3) with lr = min(0.5, 1/d), where
  the authors used init 1e-3 .. 0.2 and lr 0.01 with their normalised optimiser. GD's generalisation is the
  median over tasks and initialisations (a few runs converge to interpolants with a large unseen component).
"""

from __future__ import annotations

import numpy as np

import gdsim.guess_check as gc
from gdsim import repro

NAME = "alexander2025_guess_and_check"
TITLE = "Do neural networks need gradient descent to generalize? (Alexander, Slutzky, Ran-Milo, Cohen, NeurIPS 2025)"
FIGURES = {
    "width": "G&C generalisation worsens with width towards the prior mean; GD's does not",
    "depth": "G&C generalisation improves with depth (output normalised); GD's stays low",
}
RUNTIME = {"quick": "~70 s of CPU time (10 s of it compilation)", "full": "~13 min of CPU time (estimated)"}
BIBTEX = """
@inproceedings{alexander2025guess,
  title     = {Do Neural Networks Need Gradient Descent to Generalize? A Theoretical Study},
  author    = {Alexander, Yotam and Slutzky, Yonatan and Ran-Milo, Yuval and Cohen, Nadav},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2025},
  eprint    = {2506.03931}
}
"""

QUICK = dict(
    width=dict(shape=3, measurements=3, widths=(3, 6, 12, 24, 48), eps=0.02, samples=400_000, seeds=4,
               gd_lr=0.5, gd_steps=5000, gd_init=1e-3, gd_inits=2),
    depth=dict(shape=3, measurements=5, width=3, depths=(2, 3, 4, 6, 8), eps=(0.005, 0.01), samples=1_000_000,
               seeds=4, gd_steps=20000, gd_end_to_end=1e-3, gd_inits=2),
    pdf=False)
FULL = dict(
    width=dict(QUICK["width"], widths=(3, 6, 12, 24, 48, 96, 192), samples=2_000_000, seeds=8, gd_inits=4),
    depth=dict(QUICK["depth"], depths=(2, 3, 4, 5, 6, 7, 8, 9, 10), samples=4_000_000, seeds=8, gd_inits=4),
    pdf=True)

#: Okabe-Ito colours (colour-blind safe)
C_GC, C_GC2, C_GD, C_PRIOR = "#D55E00", "#E69F00", "#0072B2", "#000000"
TASK_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DPI = 160


def _tasks(cfg, seed, which):
    return [gc.sensing_task(int(cfg["shape"]), int(cfg["measurements"]),
                            seed=np.random.SeedSequence(seed, spawn_key=(which, s))) for s in range(int(cfg["seeds"]))]


def gd_depth_init(depth, end_to_end):
    """Per-layer init scale (x PyTorch's default) giving an end-to-end scale of about ``end_to_end``; GD's lr."""
    return float(np.sqrt(3.0) * end_to_end ** (1.0 / depth)), float(min(0.5, 1.0 / depth))


def width_sweep(cfg, seed, progress=False) -> dict:
    """G&C, GD and the exact prior mean at every width (depth 2, linear, no normalisation)."""
    tasks = _tasks(cfg, seed, 0)
    widths = [int(w) for w in cfg["widths"]]
    S = len(tasks)
    out = {k: np.full((len(widths), S), np.nan) for k in ("gc", "gc_se", "prior_mc", "prior_se", "acceptance")}
    out["gd"] = np.full((len(widths), S, int(cfg["gd_inits"])), np.nan)
    prior = np.array([gc.prior_mean(t, 1).gen for t in tasks])  # width-independent (linear, Gaussian)
    gc_seed = np.random.SeedSequence(seed, spawn_key=(2,))
    for i, w in enumerate(widths):
        r = gc.guess_and_check(tasks, w, loss_threshold=float(cfg["eps"]), draws=int(cfg["samples"]), seed=gc_seed,
                               progress=progress)
        out["gc"][i], out["gc_se"][i] = r.gen[:, 0], r.gen_se[:, 0]
        out["prior_mc"][i], out["prior_se"][i] = r.prior_gen, r.prior_gen_se
        out["acceptance"][i] = r.acceptance[:, 0]
        g = gc.gd_generalisation(tasks, w, lr=float(cfg["gd_lr"]), steps=int(cfg["gd_steps"]),
                                 init_scale=float(cfg["gd_init"]), inits=int(cfg["gd_inits"]),
                                 seed=np.random.SeedSequence(seed, spawn_key=(3, i)))
        out["gd"][i] = g.gen
        out.setdefault("gd_train_max", []).append(float(np.nanmax(g.train)))
    out["gd_train_max"] = np.array(out["gd_train_max"])
    return dict(widths=np.array(widths), prior_exact=prior, **out)


def depth_sweep(cfg, seed, progress=False) -> dict:
    """G&C (normalised output), GD and the exact prior mean at every depth (width fixed, linear)."""
    tasks = _tasks(cfg, seed, 1)
    depths = [int(d) for d in cfg["depths"]]
    eps = np.atleast_1d(np.asarray(cfg["eps"], dtype=float))
    S, E = len(tasks), eps.size
    width = int(cfg["width"])
    out = {k: np.full((len(depths), S, E), np.nan) for k in ("gc", "gc_se", "acceptance")}
    out["prior_mc"] = np.full((len(depths), S), np.nan)
    out["gd"] = np.full((len(depths), S, int(cfg["gd_inits"])), np.nan)
    out["gd_train_max"] = np.full(len(depths), np.nan)
    prior = np.array([gc.prior_mean(t, width, normalise=True).gen for t in tasks])  # depth-independent
    gc_seed = np.random.SeedSequence(seed, spawn_key=(4,))
    for i, d in enumerate(depths):
        r = gc.guess_and_check(tasks, width, depth=d, loss_threshold=eps, draws=int(cfg["samples"]), normalise=True,
                               seed=gc_seed, progress=progress)
        out["gc"][i], out["gc_se"][i], out["acceptance"][i] = r.gen, r.gen_se, r.acceptance
        out["prior_mc"][i] = r.prior_gen
        init, lr = gd_depth_init(d, float(cfg["gd_end_to_end"]))
        g = gc.gd_generalisation(tasks, width, depth=d, lr=lr, steps=int(cfg["gd_steps"]), init_scale=init,
                                 inits=int(cfg["gd_inits"]), seed=np.random.SeedSequence(seed, spawn_key=(5, i)))
        out["gd"][i] = g.gen
        out["gd_train_max"][i] = np.nanmax(g.train)
    return dict(depths=np.array(depths), eps=eps, prior_exact=prior, **out)


def _mean_se(x, se):
    """Mean over tasks (last axis) and the Monte Carlo standard error of that mean."""
    return np.nanmean(x, axis=-1), np.sqrt(np.nansum(se**2, axis=-1)) / x.shape[-1]


def width_claims(d) -> dict:
    g, _ = _mean_se(d["gc"], d["gc_se"])
    gap = d["gc"][-1] - d["gc"][0]
    gap_se = np.sqrt(d["gc_se"][-1] ** 2 + d["gc_se"][0] ** 2)
    removed = (d["prior_exact"] - d["gc"]) / d["prior_exact"]
    return dict(widths=[int(d["widths"][0]), int(d["widths"][-1])], gc_first=float(g[0]), gc_last=float(g[-1]),
                prior=float(d["prior_exact"].mean()), gd_median=float(np.nanmedian(d["gd"])),
                gap_per_task=gap.tolist(), gap_se_per_task=gap_se.tolist(), gap_mean=float(gap.mean()),
                gap_above_0p05=bool(gap.mean() > 0.05), monotone_mean=bool(np.all(np.diff(g) > 0)),
                removed_first=float(removed[0].mean()), removed_last=float(removed[-1].mean()),
                prior_mc_max_dev_se=float(np.max(np.abs(d["prior_mc"] - d["prior_exact"]) / d["prior_se"])),
                gd_train_max=float(np.max(d["gd_train_max"])))


def depth_claims(d) -> dict:
    g, se = _mean_se(np.moveaxis(d["gc"], 1, -1), np.moveaxis(d["gc_se"], 1, -1))  # (depth, eps)
    drop = g[0] - g[-1]
    drop_se = np.sqrt(se[0] ** 2 + se[-1] ** 2)
    return dict(depths=[int(d["depths"][0]), int(d["depths"][-1])], eps=d["eps"].tolist(),
                gc_first=g[0].tolist(), gc_last=g[-1].tolist(), drop=drop.tolist(), drop_se=drop_se.tolist(),
                prior=float(d["prior_exact"].mean()), gd_median=np.nanmedian(d["gd"], axis=(1, 2)).tolist(),
                gd_fraction_below_0p01=float(np.mean(d["gd"] < 0.01)),
                monotone_mean=[bool(np.all(np.diff(g[:, e]) < 0)) for e in range(g.shape[1])],
                gd_train_max=float(np.nanmax(d["gd_train_max"])))


def _save(fig, out, stem, data, meta, pdf):
    return repro.save_figure(fig, out, stem, data, meta, pdf=pdf, dpi=DPI)  # the shared style's 160 dpi


def _sci(x) -> str:
    """``x`` as mathtext scientific notation: 4e+05 -> $4\\times10^{5}$, 1e+06 -> $10^{6}$."""
    e = int(np.floor(np.log10(abs(x))))
    m = x / 10.0 ** e
    return f"$10^{{{e}}}$" if np.isclose(m, 1.0) else f"${m:g}\\times10^{{{e}}}$"


def _width_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    c = cfg["width"]
    d = width_sweep(c, seed, progress)
    cl = width_claims(d)
    w = d["widths"]
    g, gse = _mean_se(d["gc"], d["gc_se"])
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2), constrained_layout=True)
    ax = axes[0]
    for s in range(d["gc"].shape[1]):
        ax.plot(w, d["gc"][:, s], color=C_GC, alpha=0.25, lw=0.8)
    ax.errorbar(w, g, yerr=2 * gse, color=C_GC, marker="o", lw=2, capsize=3,
                label=rf"G&C, $\epsilon={c['eps']:g}$ (mean of {d['gc'].shape[1]} tasks, $\pm 2$ s.e.)")
    ax.plot(w, np.nanmedian(d["gd"], axis=(1, 2)), color=C_GD, marker="s", lw=2, label="GD (median)",
            clip_on=False)  # medians near 0 sit on the axis: draw the whole marker
    ax.axhline(cl["prior"], color=C_PRIOR, ls="--", lw=1.2, label="prior mean (exact)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(w, [str(x) for x in w])
    ax.set_xlabel("width $h$ (depth 2, linear)")
    ax.set_ylabel(r"generalisation loss $\mathcal{L}_{\mathrm{gen}}$")
    ax.set_ylim(bottom=0)
    ax.set_title(f"G&C: {cl['gc_first']:.3f} at width {w[0]} to {cl['gc_last']:.3f} at width {w[-1]} "
                 f"(prior {cl['prior']:.3f}); GD median {cl['gd_median']:.3f}", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax = axes[1]
    removed = (d["prior_exact"] - d["gc"]) / d["prior_exact"]
    for s in range(removed.shape[1]):
        ax.plot(w, removed[:, s], marker="o", ms=4, lw=1.2, color=TASK_COLOURS[s % len(TASK_COLOURS)],
                label=f"task {s}")
    ax.axhline(0.0, color=C_PRIOR, lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(w, [str(x) for x in w])
    ax.set_xlabel("width $h$")
    ax.set_ylabel(r"G&C: $1 - \mathcal{L}_{\mathrm{gen}} / \mathcal{L}_{\mathrm{prior}}$")
    ax.set_title(f"share of the prior's error G&C removes: {cl['removed_first']:.2f} at width {w[0]}, "
                 f"{cl['removed_last']:.2f} at width {w[-1]}", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False)
    fig.suptitle(f"Guess & Check against width: ${c['shape']}\\times{c['shape']}$ rank-1 target, "
                 f"{c['measurements']} measurements, {_sci(c['samples'])} prior draws per task and width", fontsize=10)
    lines = [f"G&C generalisation, mean over tasks: {cl['gc_first']:.4f} (width {w[0]}) -> {cl['gc_last']:.4f} "
             f"(width {w[-1]}); gap per task {np.round(cl['gap_per_task'], 4).tolist()} (s.e. "
             f"{np.round(cl['gap_se_per_task'], 4).tolist()})",
             f"exact prior mean {cl['prior']:.4f}; Monte Carlo prior means within {cl['prior_mc_max_dev_se']:.2f} s.e. "
             "of it", f"GD median generalisation {cl['gd_median']:.4f} (max final train loss "
             f"{cl['gd_train_max']:.1e})"]
    return _save(fig, out, "alexander2025_width", d, {**meta, "claims": cl, "summary": lines}, cfg["pdf"])


def _depth_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    c = cfg["depth"]
    d = depth_sweep(c, seed, progress)
    cl = depth_claims(d)
    dep = d["depths"]
    g, gse = _mean_se(np.moveaxis(d["gc"], 1, -1), np.moveaxis(d["gc_se"], 1, -1))
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.2), constrained_layout=True)
    ax = axes[0]
    for e, (eps, col) in enumerate(zip(d["eps"], (C_GC, C_GC2, "#CC79A7"))):
        ax.errorbar(dep, g[:, e], yerr=2 * gse[:, e], color=col, marker="o", lw=2, capsize=3,
                    label=rf"G&C, $\epsilon={eps:g}$ (mean of {d['gc'].shape[1]} tasks, $\pm 2$ s.e.)")
    ax.plot(dep, cl["gd_median"], color=C_GD, marker="s", lw=2, label="GD (median)",
            clip_on=False)  # medians near 0 sit on the axis: draw the whole marker
    ax.axhline(cl["prior"], color=C_PRIOR, ls="--", lw=1.2, label="prior mean (exact, normalised)")
    ax.set_xticks(dep)
    ax.set_xlabel(f"depth $d$ (width {c['width']}, linear)")
    ax.set_ylabel(r"generalisation loss $\mathcal{L}_{\mathrm{gen}}$")
    ax.set_ylim(bottom=0)
    ax.set_title(f"G&C ($\\epsilon={d['eps'][0]:g}$): {cl['gc_first'][0]:.3f} at depth {dep[0]} to "
                 f"{cl['gc_last'][0]:.3f} at depth {dep[-1]} (prior {cl['prior']:.3f})", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax = axes[1]
    for e, (eps, col) in enumerate(zip(d["eps"], (C_GC, C_GC2, "#CC79A7"))):
        ax.semilogy(dep, d["acceptance"][:, :, e].mean(axis=1), color=col, marker="o", lw=2,
                    label=rf"$\epsilon={eps:g}$")
    ax.set_xticks(dep)
    ax.set_xlabel("depth $d$")
    ax.set_ylabel("G&C acceptance rate (mean over tasks)")
    acc = d["acceptance"][:, :, 0].mean(axis=1)
    ax.set_title(f"acceptance at $\\epsilon={d['eps'][0]:g}$: {acc[0]:.1e} (depth {dep[0]}) to {acc[-1]:.1e} "
                 f"(depth {dep[-1]})", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    fig.suptitle(f"Guess & Check against depth: ${c['shape']}\\times{c['shape']}$ rank-1 target, "
                 f"{c['measurements']} measurements, output normalised, {_sci(c['samples'])} prior draws per task "
                 "and depth", fontsize=10)
    lines = [f"G&C generalisation (eps {e:g}), mean over tasks: {a:.4f} (depth {dep[0]}) -> {b:.4f} "
             f"(depth {dep[-1]}), drop {x:.4f} +- {s:.4f}"
             for e, a, b, x, s in zip(d["eps"], cl["gc_first"], cl["gc_last"], cl["drop"], cl["drop_se"])]
    lines.append(f"GD median generalisation per depth {np.round(cl['gd_median'], 4).tolist()}; "
                 f"{100 * cl['gd_fraction_below_0p01']:.0f}% of GD runs below 0.01")
    return _save(fig, out, "alexander2025_depth", d, {**meta, "claims": cl, "summary": lines}, cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the tasks, the G&C streams and GD's initialisations.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"width": _width_figure(config, out, meta, seed, progress),
            "depth": _depth_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
