"""Reproduction: J. Sohl-Dickstein, "The boundary of neural network trainability is fractal",
arXiv:2402.06184 (2024), with the author's notebook ``Sohl-Dickstein/fractal``.

Figures
-------
1. ``conditions``: the six maps of the paper (tanh, ReLU, identity, minibatch, single datapoint,
   offset-vs-learning-rate) over the notebook's first view, 10^-3..10^6 on both axes.
2. ``zoom``: a zoom sequence into the tanh boundary, 7 windows, each 10x narrower (the last is 1e-6 of
   the first window's width).
3. ``dimension``: box-counting dimension per condition, two estimators side by side with the paper's
   Table 1: porespy-compatible (the paper's: median of porespy's local slopes over scales and over the
   zoomed windows whose converged fraction lies in [0.2, 0.8]) and calibrated (gdsim's default: the
   median over those windows of a least-squares slope over box sizes that divide the mask, 2..side/16,
   counting boxes that hold any boundary cell), with the box counts of every window.

Tiers: ``--quick`` (n = 8, 100 steps, 256^2; CI), ``--full`` (n = 16, 1000 steps, 1024^2),
``--tier paper`` (n = 16, N = 272 data for tanh/ReLU, 1000 steps, 4096^2 windows, every window a
resumable tiled sweep on the GPU; re-run the command to resume) and ``--tier reduced`` (the paper
tier's n, data and steps at 32^2 first views and 49^2 dimension windows: minutes on 2 CPU cores; its
outputs are the committed ``figures/sohldickstein2024_*_reduced.*``).

Fidelity notes (also in the README):
* Model, data sizes, per-layer learning rates, loss (mean squared error, no 1/2) and the convergence
  score are the notebook's. The weights and data are drawn with NumPy (``gdsim.fractal.problem``,
  seed 0), not JAX's generator, so the maps differ in detail from the paper's. At seed 0 the 64^2 first
  view has converged fraction 0.453, as the spec's reference run. ``gdsim.fractal.Problem`` takes
  explicit weights and data, so a map drawn elsewhere (the notebook's JAX draw) can be recomputed exactly.
* The offset of the "offset vs LR" phase space is added to W0 at every step, as the notebook's code
  does (not only at initialisation); the offset axis is log-spaced like the notebook's.
* Minibatch: 16 indices drawn with replacement per step, the same for every cell; the score tracks the
  full-batch loss, as in the notebook.
* Dimension, porespy-compatible: porespy's ``metrics.boxcount`` as the notebook calls it (10 log-spaced
  box sizes from 10 cells, boxes holding both boundary and non-boundary cells, local slopes by
  ``numpy.gradient``), the median over scales and windows. Equal to porespy's counts and slopes (tested
  against a transcription). On sets of known dimension this estimator is off by up to 0.16 (gasket
  1024^2: 1.72 for 1.585; Cantor dust 729^2: 1.43 for 1.26), so the calibrated estimate is reported
  next to it; the calibrated one is within 0.05 on six known sets.
* The paper's per-condition values (deep linear 1.17, ReLU 1.20, tanh single datapoint 1.41, tanh
  minibatch 1.55, tanh full batch 1.66, offset vs lr 1.98) are quoted from issue 30, which took them
  from secondary sources; they could not be checked against the paper's PDF here [GAP]. The paper's
  step count per condition is not stated beyond "500 or 1000" (the notebook); 1000 is used [GAP].
* Windows: the paper's dimension comes from the images of a zoom sequence per condition; here from
  windows one or more zoom levels (x10 each) around random boundary cells of the first view, filtered
  by phase fraction and saturation (see ``condition_dimension``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import gdsim.fractal as gf
from gdsim import repro

NAME = "sohldickstein2024_fractal"
TITLE = "The boundary of neural network trainability is fractal (Sohl-Dickstein, 2024)"
FIGURES = {
    "conditions": "trainability maps of six conditions over (lr0, lr1) or (offset, lr)",
    "zoom": "a zoom sequence into the tanh boundary over 6 decades (7 windows, x10 each)",
    "dimension": "box-counting dimension of the boundary per condition",
}
RUNTIME = {"quick": "~90 s (93 s measured on 2 Zen 5 cores; 643 s on 2 cores shared with other jobs, load 13)",
           "full": "hours on 2 cores; minutes on one GPU",
           "paper": "days per 4096^2 window on 2 cores; a GPU job (about 7e15 flops per window), resumable",
           "reduced": "1019 s measured on 2 cores shared with other jobs (load average 15); about 10 min alone "
                      "(estimated from the per-cell costs)"}
BIBTEX = """
@article{sohldickstein2024boundary,
  title   = {The boundary of neural network trainability is fractal},
  author  = {Sohl-Dickstein, Jascha},
  journal = {arXiv preprint arXiv:2402.06184},
  year    = {2024}
}
"""

#: The six conditions: label -> keyword arguments of gdsim.fractal.window_map.
CONDITIONS = {
    "tanh": dict(activation="tanh"),
    "relu": dict(activation="relu"),
    "identity": dict(activation="identity"),
    "minibatch": dict(activation="tanh", batch_size=16),
    "single datapoint": dict(activation="tanh", n_samples=1),
    "offset vs lr": dict(activation="tanh", phase_space="offset_vs_lr"),
}
#: First views (log10 centre, half-width in decades): the notebook's [-3, 6]^2 for learning rates; for
#: the offset phase space offsets 10^-5..10^1 against learning rates 10^-3..10^6 [chosen here: the
#: notebook leaves the window to the user].
FIRST_VIEW = {"lr_vs_lr": ((1.5, 1.5), 4.5), "offset_vs_lr": ((-2.0, 1.5), 4.5)}

QUICK = dict(n=8, steps=100, resolution=256, problem_seed=0, zoom_levels=7, zoom_factor=10.0,
             dim_levels=3, dim_resolution=192, dim_windows=3, pdf=False, store_dir=None)
FULL = dict(n=16, steps=1000, resolution=1024, problem_seed=0, zoom_levels=11, zoom_factor=10.0,
            dim_levels=4, dim_resolution=512, dim_windows=4, pdf=True,
            store_dir="sweeps/sohldickstein2024")  # resumable: re-run to continue
#: ``--tier paper``: the paper's settings, n = 16 (N = P = 272 data for tanh and relu), 1000 steps
#: (the notebook: "500 or 1000"), 4096^2 windows, every window a resumable tiled sweep under
#: ``store_dir`` (re-run the same command to continue; ``gdsim sweep run --scheduler`` can spread the
#: tiles over a Dask cluster). About 7e15 flops per 4096^2 map: a GPU job (``gpu=True``, one CUDA
#: thread per cell); on 2 CPU cores one 4096^2 map takes days. Not run in CI.
PAPER = dict(n=16, steps=1000, resolution=4096, problem_seed=0, zoom_levels=11, zoom_factor=10.0,
             dim_levels=3, dim_resolution=4096, dim_windows=2, pdf=True, gpu=True,
             store_dir="sweeps/sohldickstein2024_paper", stem="_paper")
#: ``--tier reduced``: the paper tier's n and steps at a resolution 2 CPU cores finish in minutes (the
#: committed ``figures/sohldickstein2024_*_reduced`` files): first views at 32^2, a 2-level tanh zoom,
#: and per condition two windows one zoom level (10x) in, at 49^2 cells (48^2 boundary masks). At n = 16
#: and 1000 steps one cell costs 11-32 ms on 2 cores (measured: tanh 17, ReLU 32, identity 21,
#: minibatch 11, single datapoint 0.1), so each 49^2 window of all six conditions costs about 4 minutes.
PAPER_REDUCED = dict(PAPER, resolution=32, zoom_levels=2, dim_levels=1, dim_resolution=49, dim_windows=2,
                     pdf=False, gpu=False, store_dir=None, stem="_reduced")
TIERS = {"quick": QUICK, "full": FULL, "paper": PAPER, "reduced": PAPER_REDUCED}

#: Table 1 of the paper as quoted in issue 30 (from secondary sources; the PDF was not available here, so
#: these are unchecked [GAP]): median porespy box-count slope per condition, 4096^2 images, n = 16.
PAPER_TABLE = {"tanh": 1.66, "relu": 1.20, "identity": 1.17, "minibatch": 1.55, "single datapoint": 1.41,
               "offset vs lr": 1.98}
PAPER_LABELS = {"tanh": "tanh, full batch", "relu": "ReLU", "identity": "deep linear", "minibatch": "tanh, minibatch",
                "single datapoint": "tanh, single datapoint", "offset vs lr": "offset vs lr"}


def _stem(cfg, name):
    return f"sohldickstein2024_{name}{cfg.get('stem', '')}"


#: Colour-blind-safe palette (Okabe-Ito) for the six conditions.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]


def color_values(score):
    """The notebook's ``cdf_img``: rank-based values in [-1, -0.25] (converged) and [0.25, 1] (diverged),
    so that both phases show their structure and the boundary is where blue meets red."""
    s = np.asarray(score, float)
    u = np.sort(s.ravel())
    neg = int(np.sum(u < 0))
    v = np.concatenate((np.linspace(-1, -0.25, neg), np.linspace(0.25, 1, u.size - neg)))
    return np.interp(s, u, v)


def _imshow(ax, a0, a1, score, title, xlabel, ylabel):
    l0, l1 = np.log10(a0), np.log10(a1)
    ax.imshow(color_values(score).T, origin="lower", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
              extent=(l0[0], l0[-1], l1[0], l1[-1]), aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)


def _labels(phase_space):
    if phase_space == "offset_vs_lr":
        return r"$\log_{10}$ offset added to $W_0$", r"$\log_{10}\eta$ (both layers)"
    return r"$\log_{10}\eta_0$ (input layer)", r"$\log_{10}\eta_1$ (output layer)"


def _condition(label):
    """(phase space, keyword arguments of gdsim.fractal.window_map) of one condition."""
    kw = dict(CONDITIONS[label])
    return kw.pop("phase_space", "lr_vs_lr"), kw


def _store(cfg, name):
    return None if cfg.get("store_dir") is None else Path(cfg["store_dir"]) / name


def _conditions(cfg, out, meta, progress):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    data, fractions = {}, {}
    for ax, label in zip(axes.ravel(), CONDITIONS):
        ps, kw = _condition(label)
        center, hw = FIRST_VIEW[ps]
        key = label.replace(" ", "_")
        a0, a1, score = gf.window_map(center, hw, cfg["resolution"], phase_space=ps, n=cfg["n"], steps=cfg["steps"],
                                      seed=cfg["problem_seed"], store=_store(cfg, f"conditions_{key}.zarr"),
                                      progress=progress, gpu=cfg.get("gpu", False), **kw)
        fractions[label] = gf.converged_fraction(score)
        _imshow(ax, a0, a1, score, f"{label}: {100 * fractions[label]:.0f}% trained", *_labels(ps))
        data[f"score_{key}"], data[f"axis0_{key}"], data[f"axis1_{key}"] = score, a0, a1
    fig.suptitle(f"Trainability of a one-hidden-layer net ($n = {cfg['n']}$, {cfg['steps']} GD steps): "
                 "blue trains, red diverges", fontsize=11)
    fig.tight_layout()
    m = dict(meta, converged_fraction=fractions)
    return repro.save_figure(fig, out, _stem(cfg, "conditions"), data, m, pdf=cfg["pdf"]), data


def saturated(shape, sizes, counts) -> bool:
    """True when every box of the smallest size (10 cells) of a ``shape`` mask holds boundary cells
    (``sizes, counts`` from ``gdsim.fractal.box_counts``): the boundary fills the window at every resolved
    scale (deep tanh zooms are speckled: 75-82% of their cells are boundary cells), so the box counts are
    those of the box grid itself (ceil(255 / d)^2) and the slope is the grid's, not a measured dimension."""
    return bool(counts[0] == np.ceil(shape[0] / sizes[0]) * np.ceil(shape[1] / sizes[0]))


def _zoom(cfg, out, meta, progress):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    center, hw = FIRST_VIEW["lr_vs_lr"]
    seq = gf.zoom_sequence(center, hw, cfg["zoom_levels"], factor=cfg["zoom_factor"], resolution=cfg["resolution"],
                           n=cfg["n"], steps=cfg["steps"], seed=cfg["problem_seed"],
                           store_dir=_store(cfg, "zoom"), progress=progress, gpu=cfg.get("gpu", False))
    ncol = min(4, len(seq) + 1)
    nrow = -(-(len(seq) + 1) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.5 * nrow))
    axes = axes.ravel()
    data, dims, cal, sat, masks, curves = {}, [], [], [], [], []
    for lvl, (ax, e) in enumerate(zip(axes, seq)):
        frac = gf.converged_fraction(e["score"])
        masks.append(gf.boundary(e["score"]))
        curves.append(gf.box_counts(masks[-1], count="mixed"))
        dims.append(gf.box_counting_dimension(masks[-1], method="porespy"))
        cal.append(gf.box_counting_dimension(masks[-1]))
        sat.append(saturated(masks[-1].shape, *curves[-1][:2]))
        slope = "every box mixed" if sat[-1] else f"dim {dims[-1]:.2f} / {cal[-1]:.2f}"
        mant, ex = f"{e['half_width']:.1e}".split("e")
        _imshow(ax, e["axis0"], e["axis1"], e["score"],
                f"level {lvl}: half-width ${mant}\\times 10^{{{int(ex)}}}$ decades\n{100 * frac:.0f}% trained, {slope}",
                r"$\log_{10}\eta_0$", r"$\log_{10}\eta_1$")
        ax.ticklabel_format(useOffset=True, style="plain")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        if lvl + 1 < len(seq):  # where the next level sits (a square, or a cross when too small to see)
            nc, nh = seq[lvl + 1]["center"], seq[lvl + 1]["half_width"]
            lims = ax.get_xlim(), ax.get_ylim()  # the square may reach past the window: keep the window's limits
            ax.add_patch(Rectangle((nc[0] - nh, nc[1] - nh), 2 * nh, 2 * nh, fill=False, ec="k", lw=1.4))
            ax.add_patch(Rectangle((nc[0] - nh, nc[1] - nh), 2 * nh, 2 * nh, fill=False, ec="w", lw=0.6))
            ax.plot(nc[0], nc[1], "+", color="k", ms=10, mew=1.6)
            ax.plot(nc[0], nc[1], "+", color="w", ms=8, mew=0.7)
            ax.set_xlim(lims[0])
            ax.set_ylim(lims[1])
        data[f"score_{lvl}"], data[f"center_{lvl}"] = e["score"], e["center"]
        data[f"half_width_{lvl}"] = e["half_width"]
    ax = axes[len(seq)]
    for lvl, (sizes, counts, _) in enumerate(curves):
        ax.loglog(sizes, counts, "o-", ms=3, color=f"C{lvl % 8}", label=f"level {lvl}")
    ax.set_xlabel("box edge $s$ (cells)", fontsize=8)
    ax.set_ylabel("boxes on the boundary $N(s)$", fontsize=8)
    ax.set_title("box counts per level", fontsize=9)
    repro.legend_outside(ax, fontsize=7)
    for extra in axes[len(seq) + 1:]:
        extra.axis("off")
    kept = [m for m, s in zip(masks, sat) if not s]
    pooled = gf.box_counting_dimension(kept, method="porespy") if kept else float("nan")
    pooled_cal = gf.box_counting_dimension(kept) if kept else float("nan")
    fig.suptitle(f"Zooming into the tanh boundary ({len(seq)} levels, $\\times{cfg['zoom_factor']:g}$ each; the square "
                 f"and cross mark where the next level sits): both phases stay interleaved\nbox-counting dimension "
                 f"(porespy / calibrated) of the unsaturated levels pooled: {pooled:.2f} / {pooled_cal:.2f}",
                 fontsize=10)
    fig.tight_layout()
    m = dict(meta, zoom_dimension_per_level=dims, zoom_dimension_calibrated_per_level=cal, zoom_saturated=sat,
             zoom_dimension_pooled=pooled, zoom_dimension_calibrated_pooled=pooled_cal, zoom_levels=len(seq))
    return repro.save_figure(fig, out, _stem(cfg, "zoom"), data, m, pdf=cfg["pdf"])


def condition_dimension(label, cfg, seed, coarse, progress=False):
    """Box-counting dimensions of one condition's boundary, porespy-compatible and calibrated.

    Zoom windows of decreasing width around boundary cells of the condition's first view; only windows
    whose converged fraction lies in [0.2, 0.8] count (the spec's filter: a window that is almost one
    phase has a boundary of slope ~1), and not saturated ones (every box mixed: the slope would be the box
    grid's, see :func:`saturated`). Returns ``(porespy, calibrated, curves, used)``: the median of porespy's
    local slopes pooled over the windows (the paper's estimator) and the median of the windows'
    calibrated least-squares slopes (``gdsim.fractal.box_counting_dimension`` defaults).
    """
    ps, kw = _condition(label)
    a0, a1, score = coarse
    centers = gf.boundary_centers(score, a0, a1, cfg["dim_windows"], seed=seed)
    hw0 = FIRST_VIEW[ps][1]
    key = label.replace(" ", "_")
    masks, curves, used = [], [], []
    for q, c in enumerate(centers):
        for lvl in range(1, cfg["dim_levels"] + 1):
            hw = hw0 / 10.0**lvl
            w0, w1, s = gf.window_map(c, hw, cfg["dim_resolution"], phase_space=ps, n=cfg["n"], steps=cfg["steps"],
                                      seed=cfg["problem_seed"], store=_store(cfg, f"dimension_{key}_{q}_{lvl}.zarr"),
                                      progress=progress, gpu=cfg.get("gpu", False), **kw)
            frac = gf.converged_fraction(s)
            if not 0.2 <= frac <= 0.8:
                continue
            mask = gf.boundary(s)
            curve = gf.box_counts(mask, count="mixed")
            if not saturated(mask.shape, *curve[:2]):
                masks.append(mask)
                curves.append(curve)
                used.append((float(c[0]), float(c[1]), hw, frac))
    if not masks:
        return float("nan"), float("nan"), curves, used
    return gf.box_counting_dimension(masks, method="porespy"), gf.box_counting_dimension(masks), curves, used


def _dimension(cfg, out, seed, meta, cond_data, progress):
    import matplotlib.pyplot as plt

    fig, (ax, axt) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw=dict(width_ratios=[1, 1]))
    rows, data, top = [], {}, 1.0
    for q, label in enumerate(CONDITIONS):
        key = label.replace(" ", "_")
        coarse = (cond_data[f"axis0_{key}"], cond_data[f"axis1_{key}"], cond_data[f"score_{key}"])
        dim, cal, curves, used = condition_dimension(label, cfg, seed + q, coarse, progress)
        rows.append((label, dim, cal, len(curves)))
        data[f"dimension_{key}"] = dim
        data[f"dimension_calibrated_{key}"] = cal
        data[f"windows_{key}"] = np.array(used).reshape(-1, 4)
        for j, (sizes, counts, _) in enumerate(curves):
            top = max(top, float(counts[0]))
            ax.loglog(sizes, counts, "-", color=PALETTE[q], alpha=0.7, lw=1, label=label if j == 0 else None)
    ax.set_xlabel("box edge $s$ (cells)")
    ax.set_ylabel("mixed boxes $N(s)$ (porespy's count)")
    ref = np.array([10.0, cfg["dim_resolution"] / 2])
    for d, ls in ((1, ":"), (2, "--")):  # guides through the largest count at the smallest box
        ax.loglog(ref, top * (ref / 10) ** -d, "k" + ls, lw=0.8, label=f"slope $-{d}$")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("box counts of the zoomed mixed-phase windows", fontsize=10)
    axt.axis("off")

    def fmt(x):
        return "n/a" if not np.isfinite(x) else f"{x:.2f}"

    cell = [[PAPER_LABELS[lab], f"{PAPER_TABLE[lab]:.2f}", fmt(d), fmt(c), str(k)] for lab, d, c, k in rows]
    tab = axt.table(cellText=cell, colLabels=["condition", "paper", "porespy-\ncompatible", "calibrated", "windows"],
                    loc="center", colWidths=[0.34, 0.13, 0.2, 0.17, 0.14])
    tab.scale(1, 1.9)
    tab.set_fontsize(9)
    win = cfg["dim_resolution"]
    axt.set_title(f"box-counting dimension per condition: n = {cfg['n']}, {cfg['steps']} steps, {win}$^2$ windows\n"
                  "(paper: 4096$^2$ images, porespy's estimator; values as quoted in issue 30)", fontsize=10)
    fig.tight_layout()
    gap = {lab: (None if not np.isfinite(d) else round(d - PAPER_TABLE[lab], 4)) for lab, d, _, _ in rows}
    m = dict(meta, dimension={lab: d for lab, d, _, _ in rows}, dimension_calibrated={lab: c for lab, _, c, _ in rows},
             windows={lab: k for lab, _, _, k in rows}, paper_table=PAPER_TABLE, porespy_minus_paper=gap,
             window_resolution=win, n=cfg["n"], steps=cfg["steps"])
    return repro.save_figure(fig, out, _stem(cfg, "dimension"), data, m, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the three figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK``, ``FULL``, ``PAPER`` or ``PAPER_REDUCED`` (or a modified copy).
    out : path
        Output folder.
    seed : int
        Picks the boundary windows of the dimension estimates (the maps themselves use
        ``config["problem_seed"]``, the draw of weights and data).
    progress : bool
        Progress bars (on in the command line; ``--no-progress`` hides them).
    """
    out, meta = repro.begin(NAME, config, out, seed)
    paths, cond_data = _conditions(config, out, meta, progress)
    return {
        "conditions": paths,
        "zoom": _zoom(config, out, meta, progress),
        "dimension": _dimension(config, out, seed, meta, cond_data, progress),
    }


def cli(argv=None) -> dict:
    """``python paper_repro/sohldickstein2024_fractal.py [--quick | --full | --tier {quick,full,paper,reduced}]``.

    The flags are every reproduction's (:func:`gdsim.repro.arg_parser`; ``gdsim repro
    sohldickstein2024_fractal --tier paper`` is the same run) and every tier goes through
    :func:`gdsim.repro.run`: ``--tier paper`` runs the paper's settings as resumable tiled sweeps (a GPU job;
    re-run to resume) and ``--tier reduced`` the same n and steps at a CPU-feasible resolution.
    """
    import sys

    return repro.script_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli()
