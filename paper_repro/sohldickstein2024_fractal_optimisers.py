"""Beyond the paper: the fractal trainability boundary of Sohl-Dickstein (2024), arXiv:2402.06184, under
gradient descent, heavy-ball momentum and Adam (issue 28, item 4).

The net, data, per-layer learning rates and convergence score are those of
``paper_repro/sohldickstein2024_fractal.py`` (the author's notebook ``Sohl-Dickstein/fractal``): one hidden
layer, f(x) = tanh(sqrt(2) x W0 / sqrt(n)) W1 / n, loss (1/N) sum (f - y)^2, N = n^2 + n data, every cell
starting from the same weights. Only the optimiser changes, one line each:
``gdsim.fractal.trainability_map(lr0, lr1, ..., optimizer=gdsim.dynamics.HeavyBall(beta=0.9))``; the
per-layer learning rates become the optimiser's learning rate per parameter group (W0, W1).

Figure ``boundaries`` (one figure, 2 x 4 panels):

* top row: the three maps on the same grid (the notebook's first view, 10^-3..10^6 on both axes) from the
  same start, each with its trained fraction; and a 1-D slice at lr0 -> 0 (1e-6) across the boundary;
* bottom row: a window of the same width and resolution centred on each optimiser's densest boundary
  region of its first view, with its box-counting dimension, and the box counts of the three windows.

Claims (computed, in the sidecar's ``claims``): at lr0 -> 0 only the output layer trains, the loss is the
quadratic (1/N) |H W1 / n - y|^2 in W1 with H = tanh(sqrt(2) X W0 / sqrt(n)) fixed, whose top Hessian
eigenvalue lambda = 2 sigma_max(H)^2 / (N n^2) gives the linear-stability thresholds lr1 = 2 / lambda (GD) and
2 (1 + beta) / lambda (heavy ball, b <- beta b + g, w <- w - lr b). The measured first diverged lr1 of the
slice must lie within ``EDGE_TOL`` (relative) of each threshold: at 100 steps a cell within ~1% of its
threshold has neither decayed nor grown enough for the score to tell (measured: GD 1.010, heavy ball 0.995 of
their thresholds at n = 4 and 8). Adam has no such threshold (its step is normalised by sqrt(v_hat)); its
slice edge is reported, not claimed. Past its first diverged cell the GD slice has a converged island
(chaotic cells near the edge), hence "first diverged". The thresholds hold for the 100-step tiers: over longer
runs the edge moves out (measured at n = 4, 300 steps: heavy ball 1.03 of its threshold; Nesterov at 1000
steps 1.17), because a run that starts to diverge in W1 drives W0 through its large gradient (even at
lr0 = 1e-6), which can lower the output layer's curvature and catch the run, a catapult through W0.

Fidelity notes:
* All three run on the fused SIMD kernel of the map (its heavy-ball and Adam variants: the layer gradients
  as in the GD kernel, then the engine's update formulas), 1.0x (heavy ball) and 1.5x (Adam) GD's time. The
  engine (``gdsim.dynamics.run`` with per-group learning rates on ``gdsim.fractal.model``) computes the
  same maps to rounding, not to the bit (the fused kernel uses FMAs), so chaotic boundary cells can change
  phase between them (tested on a 16^2 map at n = 4: >= 97% of signs agree, median relative difference
  < 1e-12).
* Heavy ball and Adam use the engine's conventions (docstrings of ``gdsim.dynamics.HeavyBall`` and
  ``Adam``): b starts at 0; Adam bias-corrected with eps added to sqrt(v_hat). beta = 0.9 and Adam's
  defaults (0.9, 0.999, 1e-8) [chosen here: the paper uses GD only].
* Both tiers use the notebook's width n = 8 (N = 72 data) and 100 steps (the claims are tied to 100 steps);
  the full tier at 4x the resolution. The same grid for every optimiser (the issue's "same grid, same
  seed"); the zoom windows are centred per optimiser, since each boundary lies elsewhere.
"""

from __future__ import annotations

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.fractal as gf
from gdsim import repro
from paper_repro import sohldickstein2024_fractal as sohldickstein2024

NAME = "sohldickstein2024_fractal_optimisers"
TITLE = "The fractal trainability boundary under GD, heavy-ball momentum and Adam (beyond Sohl-Dickstein, 2024)"
FIGURES = {"boundaries": "trainability maps, zoomed boundaries and their box-counting dimensions under GD, "
                         "heavy ball and Adam; the lr0 -> 0 edge against the linear-stability thresholds"}
RUNTIME = {"quick": "~35 s (35 s measured on 2 cores shared with other jobs, load 4.4, compilation included)",
           "full": "~5 min on 2 cores (estimated: 1.6e6 cells at 0.12-0.18 ms each, n = 8, 100 steps)"}
BIBTEX = sohldickstein2024.BIBTEX  # the same paper

#: Heavy-ball coefficient of the figure.
BETA = 0.9
#: The optimisers, by label.
OPTIMISERS = {"GD": None, "heavy ball": gdyn.HeavyBall(beta=BETA), "Adam": gdyn.Adam()}
#: First view (log10 centre, half-width in decades): the notebook's 10^-3..10^6 on both axes.
FIRST_VIEW = ((1.5, 1.5), 4.5)
#: lr0 of the 1-D slice (the output layer alone trains).
SLICE_LR0 = 1e-6
#: Relative tolerance of the slice edges against the linear-stability thresholds (see the module docstring).
EDGE_TOL = 0.02

#: Zoom resolutions are 16 k + 1 cells, so that the boundary masks (one cell fewer per side) have side 16 k and
#: the calibrated box-counting fit has several box sizes dividing it (2..k).
QUICK = dict(n=8, steps=100, problem_seed=0, resolution=128, zoom_half_width=0.15, zoom_resolution=129,
             slice_points=900, pdf=False)
FULL = dict(n=8, steps=100, problem_seed=0, resolution=512, zoom_half_width=0.15, zoom_resolution=513,
            slice_points=3000, pdf=True)

#: Okabe-Ito colours per optimiser (colour-blind safe).
COLORS = {"GD": "#0072B2", "heavy ball": "#E69F00", "Adam": "#009E73"}


def output_layer_sharpness(prob) -> float:
    """Top eigenvalue of the loss's Hessian in W1 at the start: 2 sigma_max(H)^2 / (N n^2), H = phi(X W0 / sqrt n)."""
    n, N = prob.n, prob.X.shape[0]
    H = np.tanh(np.sqrt(2.0) * (prob.X @ prob.W0) / np.sqrt(n))
    return float(2.0 * np.linalg.norm(H, 2) ** 2 / (N * n * n))


def saturated(mask) -> bool:
    """True when every 10-cell box of ``mask`` holds both boundary and non-boundary cells (porespy's "mixed"
    count, as :func:`sohldickstein2024_fractal.saturated`): the boundary fills the window at every resolved
    scale (a speckled, chaotic region), so its box counts are the box grid's and the slope approaches 2."""
    sizes, counts, _ = gf.box_counts(mask, [10, 20], count="mixed")
    return bool(counts[0] == np.ceil(mask.shape[0] / 10) * np.ceil(mask.shape[1] / 10))


def slice_edge(lr1, score) -> float:
    """The first diverged lr1 of a slice (NaN when every cell converges or the first one diverges)."""
    bad = np.flatnonzero(score > 0)
    return float(lr1[bad[0]]) if bad.size and bad[0] > 0 else float("nan")


def compute(cfg, progress=False) -> dict:
    """Every number of the figure and the claims."""
    n, steps = cfg["n"], cfg["steps"]
    prob = gf.problem(n, "tanh", steps, cfg["problem_seed"])
    lam = output_layer_sharpness(prob)
    thr = {"GD": 2.0 / lam, "heavy ball": 2.0 * (1.0 + BETA) / lam}
    a0, a1 = gf.window_axes(*FIRST_VIEW, cfg["resolution"])
    lr1_slice = np.logspace(np.log10(0.3 * thr["GD"]), np.log10(30.0 * thr["GD"]), cfg["slice_points"])
    d = dict(lam=lam, thresholds=thr, axis0=a0, axis1=a1, slice_lr1=lr1_slice, maps={}, zooms={}, slices={})
    for label, opt in OPTIMISERS.items():
        kw = dict(steps=steps, problem=prob, optimizer=opt, progress=progress)
        score = gf.trainability_map(a0, a1, **kw)
        c = gf.densest_boundary_center(score, a0, a1, max(2, cfg["resolution"] // 16))
        z0, z1 = gf.window_axes(c, cfg["zoom_half_width"], cfg["zoom_resolution"])
        zs = gf.trainability_map(z0, z1, **kw)
        mask = gf.boundary(zs)
        sl = gf.trainability_map([SLICE_LR0], lr1_slice, **kw)[0]
        d["maps"][label] = dict(score=score, fraction=gf.converged_fraction(score))
        side = min(mask.shape)
        sizes = [q for q in range(2, side // 16 + 1) if side % q == 0]  # the calibrated estimator's sizes
        sizes = sizes if len(sizes) >= 2 else None  # (a tiny window: box_counts' default sizes)
        d["zooms"][label] = dict(score=zs, axis0=z0, axis1=z1, center=np.asarray(c), fraction=gf.converged_fraction(zs),
                                 dimension=gf.box_counting_dimension(mask), curve=gf.box_counts(mask, sizes),
                                 saturated=saturated(mask), boundary_cells=int(mask.sum()))
        d["slices"][label] = dict(score=sl, edge=slice_edge(lr1_slice, sl))
    return d


def claims(d) -> dict:
    """The linear-stability edges (claimed within EDGE_TOL) and the reported fractions and dimensions."""
    out = {}
    step = float(d["slice_lr1"][1] / d["slice_lr1"][0] - 1.0)  # relative spacing of the slice
    for label in ("GD", "heavy ball"):
        ratio = d["slices"][label]["edge"] / d["thresholds"][label]
        tol = EDGE_TOL + step
        out[f"{label} edge / threshold"] = dict(value=ratio, threshold=d["thresholds"][label], tolerance=tol,
                                                holds=bool(abs(ratio - 1.0) <= tol))
    out["heavy ball / GD edge (1 + beta)"] = dict(value=d["slices"]["heavy ball"]["edge"] / d["slices"]["GD"]["edge"],
                                                   predicted=1.0 + BETA)
    out["Adam edge"] = dict(value=d["slices"]["Adam"]["edge"], holds=None)
    for label in OPTIMISERS:
        out[f"{label} trained fraction"] = d["maps"][label]["fraction"]
        out[f"{label} zoom dimension"] = d["zooms"][label]["dimension"]
        out[f"{label} zoom saturated"] = d["zooms"][label]["saturated"]
    return out


def color_values(score):
    """Rank-based colours (the notebook's ``cdf_img``, as in sohldickstein2024_fractal): converged in
    [-1, -0.25], diverged in [0.25, 1]."""
    s = np.asarray(score, float)
    u = np.sort(s.ravel())
    neg = int(np.sum(u < 0))
    v = np.concatenate((np.linspace(-1, -0.25, neg), np.linspace(0.25, 1, u.size - neg)))
    return np.interp(s, u, v)


def _imshow(ax, a0, a1, score, title):
    a0, a1 = np.log10(a0), np.log10(a1)
    ax.imshow(color_values(score).T, origin="lower", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
              extent=(a0[0], a0[-1], a1[0], a1[-1]), aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(r"$\log_{10}\,\eta_0$ (input layer)", fontsize=8)
    ax.set_ylabel(r"$\log_{10}\,\eta_1$ (output layer)", fontsize=8)
    ax.tick_params(labelsize=7)


def _figure(cfg, d, cl):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(17, 8.4))
    for q, label in enumerate(OPTIMISERS):
        m, z = d["maps"][label], d["zooms"][label]
        _imshow(axes[0, q], d["axis0"], d["axis1"], m["score"], f"{label}: {100 * m['fraction']:.1f}% trained")
        axes[0, q].plot(*z["center"], "k+", ms=9, mew=1.5)
        sat = " (every 10-cell box mixed)" if z["saturated"] else ""
        _imshow(axes[1, q], z["axis0"], z["axis1"], z["score"],
                f"{label}, zoom at +: {100 * z['fraction']:.0f}% trained,\n"
                f"box-counting dimension {z['dimension']:.2f}{sat}")
        axes[1, q].ticklabel_format(useOffset=False)
    ax = axes[0, 3]
    x = d["slice_lr1"] * d["lam"] / 2.0
    for q, label in enumerate(OPTIMISERS):
        conv = (d["slices"][label]["score"] < 0).astype(float)
        ax.step(x, conv + 1.5 * (2 - q), where="mid", color=COLORS[label], label=label)
    ax.axvline(1.0, color="k", ls="--", lw=0.8, label=r"$2/\lambda$ (GD)")
    ax.axvline(1.0 + BETA, color="k", ls=":", lw=0.8, label=rf"$2(1+\beta)/\lambda$, $\beta={BETA:g}$")
    ax.set_xscale("log")
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([0, 1, 1.5, 2.5, 3, 4], ["div.", "conv.", "div.", "conv.", "div.", "conv."], fontsize=7)
    ax.set_xlabel(r"$\eta_1 \lambda / 2$ at $\eta_0 = 10^{-6}$", fontsize=8)
    ax.set_ylabel("outcome (Adam, heavy ball, GD from bottom)", fontsize=8)
    e_gd, e_hb = cl["GD edge / threshold"]["value"], cl["heavy ball edge / threshold"]["value"]
    e_ad = cl["Adam edge"]["value"] * d["lam"] / 2.0
    ax.set_title(f"first diverged $\\eta_1$: GD {e_gd:.3f} $\\times 2/\\lambda$, heavy ball {e_hb:.3f} "
                 f"$\\times 2(1+\\beta)/\\lambda$,\nAdam {e_ad:.2f} $\\times 2/\\lambda$ (no linear threshold)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax = axes[1, 3]
    for label in OPTIMISERS:
        sizes, counts, _ = d["zooms"][label]["curve"]
        ax.loglog(sizes, counts, "o-", ms=3, color=COLORS[label],
                  label=f"{label}: {d['zooms'][label]['dimension']:.2f}")
    ax.set_xlabel("box edge $s$ (cells)", fontsize=8)
    ax.set_ylabel("boxes holding boundary cells $N(s)$", fontsize=8)
    ax.set_title("box counts of the zoomed boundaries (legend:\nleast-squares slope, the calibrated dimension)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"One net (n = {cfg['n']}, tanh, {cfg['steps']} steps, same start and grid), three optimisers: "
                 "blue trains, red diverges; zoom windows "
                 f"{2 * cfg['zoom_half_width']:g} decades wide", fontsize=11)
    fig.tight_layout()
    return fig


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the figure into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
        Output folder.
    seed : int
        Recorded only: the maps are deterministic given ``config["problem_seed"]`` (the draw of weights and data).
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    d = compute(config, progress)
    cl = claims(d)
    fig = _figure(config, d, cl)
    data = dict(axis0=d["axis0"], axis1=d["axis1"], slice_lr1=d["slice_lr1"], lam=d["lam"])
    for label in OPTIMISERS:
        key = label.replace(" ", "_")
        data[f"score_{key}"] = d["maps"][label]["score"]
        data[f"zoom_score_{key}"] = d["zooms"][label]["score"]
        data[f"zoom_axis0_{key}"] = d["zooms"][label]["axis0"]
        data[f"zoom_axis1_{key}"] = d["zooms"][label]["axis1"]
        data[f"slice_score_{key}"] = d["slices"][label]["score"]
    m = dict(meta, claims=cl, optimisers={k: repr(v) if v is not None else "None (fused GD kernel)"
                                          for k, v in OPTIMISERS.items()},
             thresholds=d["thresholds"], output_layer_sharpness=d["lam"], edge_tol=EDGE_TOL)
    return {"boundaries": repro.save_figure(fig, out, f"{NAME}_boundaries", data, m, pdf=config["pdf"], dpi=160)}


def cli(argv=None) -> dict:
    """``python paper_repro/sohldickstein2024_fractal_optimisers.py [--quick | --full]``."""
    import sys

    return repro.script_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    cli()
