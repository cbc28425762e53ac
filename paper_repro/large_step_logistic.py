"""Reproduction: gradient descent with large step sizes on logistic regression.

* A. Tyurin, "From logistic regression to the perceptron algorithm: exploring gradient descent with large
  step sizes", arXiv:2412.08424 (2024): on separable data, GD on the logistic loss with step gamma -> infinity
  follows the batch perceptron, so it separates the data in the perceptron's number of steps, and at small
  gamma the count grows as 1/gamma; the loss on the way is non-monotone.
* J. Wu, P. Marion, P. Bartlett, "Large stepsizes accelerate gradient descent for regularized logistic
  regression", arXiv:2506.02336 (NeurIPS 2025): with an l2 penalty lambda, GD converges below a critical
  step of order 1/(lambda ln(1/lambda)) (exactly 2 / L''(w*) in one dimension), and large steps (a
  non-monotone objective) converge faster than the classical ones.

Figures
-------
1. ``curves``: the logistic loss along GD at small and huge steps (non-monotone at large gamma); the
   steps to separate the data against gamma, with the batch perceptron's count and the 1/gamma line; the
   regularised objective's suboptimality at small and large steps.
2. ``phase``: the (eta, lambda) plane, converge / cycle / diverge, on gdsim.sweep: one data point
   (1-D, with the exact threshold 2 / L''(w*)) and separable data in 4 dimensions (with the local threshold
   2 / lambda_max(H(w*)) and the scaling 1/(lambda ln(1/lambda))).

Fidelity notes (also in the README):
* Data [INFERRED from the spec]: d = 10 Gaussian points, labels by a random unit w*, points within margin
  0.05 dropped (191 of 200 kept at seed 0). The spec's step counts (5392, 538, 51, 7) come from a different
  draw; what is asserted is their pattern: equal to the perceptron at gamma = 1e5 and x10 per decade of
  gamma at small gamma (+-10 %).
* The batch perceptron weights a tie (margin exactly 0) by 1/2, the gamma -> infinity limit of the sigmoid
  at 0 (every margin is 0 at the first step from w = 0) [INFERRED form].
* Wu-Marion-Bartlett's Figure 1 data are not in the spec [GAP]: the phase diagram uses 64 Gaussian points
  in 4 dimensions (margin 0.05) and the one-point problem. A cell converged when the gradient norm is below
  1e-8 after ``map_steps`` steps; near the boundary, convergence is slow, so cells just below it may show as
  "not converged" at the quick tier.
* The optimum L* of the suboptimality curves is Newton's method on the zoo model's exact Hessian.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.models as gm
import gdsim.stability as gst
from gdsim import repro
from gdsim.sweep import Sweep
from gdsim.sweep import run as run_sweep

NAME = "large_step_logistic"
TITLE = "Large step sizes for logistic regression: the perceptron limit and the critical step (Tyurin; Wu et al.)"
FIGURES = {
    "curves": "loss at small and huge steps, steps to separate vs gamma (perceptron match), acceleration",
    "phase": "converge / cycle / diverge over (eta, lambda) for 1-D and 4-D data, with thresholds",
}
RUNTIME = {"quick": "~35 s (25 s of it compilation)", "full": "~5 min"}
BIBTEX = """
@article{tyurin2024logistic,
  title   = {From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent with Large Step Sizes},
  author  = {Tyurin, Alexander},
  journal = {arXiv preprint arXiv:2412.08424},
  year    = {2024}
}
@inproceedings{wu2025large,
  title     = {Large Stepsizes Accelerate Gradient Descent for Regularized Logistic Regression},
  author    = {Wu, Jingfeng and Marion, Pierre and Bartlett, Peter},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2025},
  eprint    = {2506.02336}
}
"""

QUICK = dict(n=200, d=10, margin=0.05, gammas=(0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5),
             curve_gammas=(0.1, 1.0, 10.0, 1000.0), curve_steps=400, ridge=1e-3, ridge_lrs=(1.0, 10.0, 25.0, 100.0),
             ridge_steps=3000, map_n=64, map_d=4, map_lr=(-1.0, 4.0, 100), map_l2=(-4.0, -0.5, 64), map_steps=4000,
             map_1d_steps=20000, pdf=False, map_store=None)
FULL = dict(QUICK, map_lr=(-1.0, 4.0, 400), map_l2=(-5.0, -0.5, 256), map_steps=40000, map_1d_steps=100000,
            ridge_steps=20000, pdf=True, map_store="sweeps/large_step_logistic_full")


def data(cfg, seed):
    """The separable data of the perceptron check."""
    A, y, _ = gst.separable_data(int(cfg["n"]), int(cfg["d"]), margin=cfg["margin"], seed=seed)
    return A, y


def separation(cfg, seed) -> dict:
    """Steps to separate against gamma, and the batch perceptron's count."""
    A, y = data(cfg, seed)
    g = np.asarray(cfg["gammas"], dtype=float)
    return dict(gamma=g, steps=gst.logistic_separation_steps((A, y), g), perceptron=gst.perceptron_steps((A, y)),
                n_points=A.shape[0])


def newton_minimum(m, w0, iters=100):
    """The minimiser of a strictly convex zoo model by Newton's method on its exact Hessian."""
    w = np.array(w0, dtype=float)
    for _ in range(iters):
        _, g = m.loss_grad(w)
        step = np.linalg.solve(m.hessian(w), g)
        w -= step
        if np.linalg.norm(step) < 1e-15 * (1 + np.linalg.norm(w)):
            break
    return w


def curves(cfg, seed, progress=False) -> dict:
    """Loss along GD (l2 = 0) at several gamma, and the regularised objective's suboptimality (shared layer)."""
    A, y = data(cfg, seed)
    m = gm.logistic_regression((A, y))
    g = np.asarray(cfg["curve_gammas"], dtype=float)
    res = gdyn.gd(m, np.zeros((g.size, A.shape[1])), g, int(cfg["curve_steps"]), observe=("loss",), progress=progress)
    mr = gm.logistic_regression((A, y), l2=cfg["ridge"])
    w_star = newton_minimum(mr, np.zeros(A.shape[1]))
    l_star = mr.loss(w_star)
    lrs = np.asarray(cfg["ridge_lrs"], dtype=float)
    rr = gdyn.gd(mr, np.zeros((lrs.size, A.shape[1])), lrs, int(cfg["ridge_steps"]), observe=("loss",),
                 progress=progress)
    sharp = float(gdyn.sharpness(mr, w_star))
    return dict(t=res.t, gamma=g, loss=res.loss, ridge_t=rr.t, ridge_lr=lrs, suboptimality=rr.loss - l_star,
                ridge_l_star=l_star, ridge_local_threshold=2 / sharp)


def map_sweep(cfg, one_point, seed=repro.DEFAULT_SEED) -> Sweep:
    """The (log10 lr, log10 l2) phase diagram as a :class:`gdsim.sweep.Sweep`."""
    axes = {"log10_lr": np.linspace(*cfg["map_lr"][:2], int(cfg["map_lr"][2])),
            "log10_l2": np.linspace(*cfg["map_l2"][:2], int(cfg["map_l2"][2]))}
    params = dict(steps=int(cfg["map_1d_steps"] if one_point else cfg["map_steps"]),
                  n=0 if one_point else int(cfg["map_n"]), d=int(cfg["map_d"]), margin=float(cfg["margin"]),
                  data_seed=int(seed))
    return Sweep(f"large_step_logistic_{'1d' if one_point else 'separable'}", axes=axes,
                 simulation="gdsim.stability.sweeps:logistic_cells", params=params, chunk_points=2048, seed=seed)


def phase_map(cfg, one_point, seed=repro.DEFAULT_SEED, progress=False) -> dict:
    """Status per (lr, l2) cell, with the thresholds to compare against."""
    sw = map_sweep(cfg, one_point, seed)
    base = cfg.get("map_store")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(base or tmp) / f"{sw.name}.zarr"
        ds = run_sweep(sw, store, progress=progress, verbose=progress).dataset()
        out = dict(lr=10 ** ds["log10_lr"].values, l2=10 ** ds["log10_l2"].values,
                   status=ds["status"].values.astype(np.int8), grad_norm=ds["grad_norm"].values)
    l2 = out["l2"]
    if one_point:
        out["threshold"] = np.array([gst.logistic_1d_threshold(lam)[0] for lam in l2])
    else:
        A, y, _ = gst.separable_data(int(cfg["map_n"]), int(cfg["map_d"]), margin=cfg["margin"], seed=seed)
        thr = []
        for lam in l2:
            m = gm.logistic_regression((A, y), l2=lam)
            w = newton_minimum(m, np.zeros(A.shape[1]))
            thr.append(2 / np.linalg.eigvalsh(m.hessian(w))[-1])
        out["threshold"] = np.array(thr)
    out["scaling"] = 1 / (l2 * np.log(1 / l2))
    # the largest step of each l2 column that converged
    conv = out["status"] == 0
    out["largest_converged_lr"] = np.array([out["lr"][np.flatnonzero(c)[-1]] if c.any() else np.nan for c in conv.T])
    return out


def _curves_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    c = curves(cfg, seed, progress)
    s = separation(cfg, seed)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.85, c["gamma"].size))
    settle = 10  # from this step on, the largest gamma's loss barely moves: say by how much, from the data
    for j, col in enumerate(colors):
        lab = f"$\\gamma = {c['gamma'][j]:g}$"
        if j == c["gamma"].size - 1:
            drop = 1 - c["loss"][-1, j] / c["loss"][settle, j]
            lab += f" (falls {100 * drop:.2g}% from step {settle} to {int(c['t'][-1])})"
        axes[0].semilogy(c["t"], np.maximum(c["loss"][:, j], 1e-300), color=col, lw=1.0, label=lab)
    axes[0].set_ylim(1e-12, None)
    axes[0].set_xlabel("GD step $t$")
    axes[0].set_ylabel(r"logistic loss $L(w_t)$ ($\lambda = 0$)")
    axes[0].set_title(f"separable data, $n = {s['n_points']}$, $d = {cfg['d']}$: huge steps, non-monotone loss",
                      fontsize=9)
    repro.legend_outside(axes[0], loc="below", ncol=2)
    ok = s["steps"] > 0
    axes[1].loglog(s["gamma"][ok], s["steps"][ok], "o-", label="logistic GD: steps to separate")
    axes[1].axhline(s["perceptron"], color="k", ls="--", label=f"batch perceptron: {s['perceptron']} steps")
    g0 = s["gamma"][0]
    axes[1].loglog(s["gamma"][:3], s["steps"][0] * g0 / s["gamma"][:3], "-", color="0.6", lw=4, alpha=0.6, zorder=1,
                   label=r"$\propto 1/\gamma$ (through the first point)")
    axes[1].set_xlabel(r"step size $\gamma$")
    axes[1].set_ylabel("steps until every margin > 0")
    repro.legend_outside(axes[1], loc="below", ncol=2)
    axes[1].set_title(r"the $\gamma \to \infty$ limit is the batch perceptron", fontsize=9)
    floor = np.finfo(float).eps * abs(float(c["ridge_l_star"]))  # round-off of L*: no smaller gap is resolved
    thr = float(c["ridge_local_threshold"])
    reach = []
    for j, lr in enumerate(c["ridge_lr"]):
        sub = c["suboptimality"][:, j]
        hit = np.flatnonzero(sub <= 1e-12)
        reach.append(int(c["ridge_t"][hit[0]]) if hit.size else -1)
        when = (f"gap $\\leq 10^{{-12}}$ at step {reach[-1]}" if hit.size else
                f"gap at the end {sub[-1]:.1e}")
        axes[2].semilogy(c["ridge_t"], np.maximum(sub, floor), lw=1.0, label=f"$\\eta = {lr:g}$: {when}")
    axes[2].axhline(floor, color="0.5", ls=":", lw=1.0, label=r"float64 round-off of $L^*$")
    axes[2].set_xlabel("GD step $t$")
    axes[2].set_ylabel(r"$L(w_t) - L^*$")
    faster = [lr for lr, n in zip(c["ridge_lr"], reach) if n > 0]
    final_gap = c["suboptimality"][-1]
    stuck = [f"{lr:g}" for lr, g in zip(c["ridge_lr"], final_gap) if lr > thr and not g < 1e-6]
    fastest = (f"fastest $\\eta = {faster[int(np.argmin([n for n in reach if n > 0]))]:g}$" if faster else
               f"no $\\eta$ reaches a gap of $10^{{-12}}$ in {int(c['ridge_t'][-1])} steps")
    axes[2].set_title(f"$\\lambda = {cfg['ridge']:g}$: local threshold $2/L''(w^*) = {thr:.1f}$; {fastest}"
                      + (f"; $\\eta = {', '.join(stuck)}$ above it does not converge" if stuck else ""),
                      fontsize=9)
    repro.legend_outside(axes[2], loc="below", ncol=2)
    c = {**c, "ridge_steps_to_1e-12": np.array(reach)}
    fig.suptitle("Gradient descent with large step sizes on logistic regression")
    lines = [f"gamma = {g:g}: {n} steps to separate" for g, n in zip(s["gamma"], s["steps"])]
    lines.append(f"batch perceptron: {s['perceptron']} steps")
    if progress:
        print("\n".join(lines))
    return repro.save_figure(fig, out, "large_step_logistic_curves", {**c, **{f"sep_{k}": v for k, v in s.items()}},
                             {**meta, "summary": lines}, pdf=cfg["pdf"])


def _map_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    maps = {"1d": phase_map(cfg, True, seed, progress), "separable": phase_map(cfg, False, seed, progress)}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), constrained_layout=True)
    colours = (repro.OKABE_ITO[0], repro.OKABE_ITO[1], repro.OKABE_ITO[4], "0.15")
    cmap = ListedColormap(colours)
    for ax, (key, d) in zip(axes, maps.items()):
        ll, l2 = np.log10(d["lr"]), np.log10(d["l2"])
        ax.imshow(d["status"].T, origin="lower", aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5,
                  vmax=3.5, extent=(ll[0], ll[-1], l2[0], l2[-1]))
        lab = r"exact threshold $2/L''(w^*)$" if key == "1d" else r"local threshold $2/\lambda_{\max}(H(w^*))$"
        ax.plot(np.log10(d["threshold"]), l2, "w-", lw=1.5, label=lab)
        ax.plot(np.log10(d["scaling"]), l2, "w:", lw=1.5, label=r"$1/(\lambda\ln(1/\lambda))$")
        ax.set_xlim(ll[0], ll[-1])
        ax.set_xlabel(r"$\log_{10}$ step size $\eta$")
        ax.set_ylabel(r"$\log_{10}\lambda$")
        ax.set_title("one data point (1-D)" if key == "1d" else
                     f"{cfg['map_n']} Gaussian points in {cfg['map_d']} dimensions", fontsize=10)
        line_handles = ax.get_legend_handles_labels()[0]  # white lines: the legend gets a grey face
        n_steps = int(cfg["map_1d_steps"] if key == "1d" else cfg["map_steps"])
        handles = [Patch(color=colours[0], label="converged"), Patch(color=colours[1], label="2-, 4-, 8-cycle"),
                   Patch(color=colours[2], label=f"not converged in {n_steps} steps"),
                   Patch(color=colours[3], label="diverged"),
                   *line_handles]
        repro.legend_outside(ax, loc="below", handles=handles, ncol=3, frameon=True, facecolor="0.6")
    fig.suptitle(r"Regularised logistic regression: GD converges below a critical step "
                 r"$\sim 1/(\lambda\ln(1/\lambda))$ (grid on gdsim.sweep)", fontsize=11)
    data = {f"{k}_{name}": v for k, d in maps.items() for name, v in d.items()}
    return repro.save_figure(fig, out, "large_step_logistic_phase", data, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the data.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"curves": _curves_figure(config, out, meta, seed, progress),
            "phase": _map_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
