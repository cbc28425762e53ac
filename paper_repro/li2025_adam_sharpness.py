"""Reproduction: X. Li, H. Wen, K. Lyu, "Adam Reduces a Unique Form of Sharpness: Theoretical Insights Near
the Minimizer Manifold", NeurIPS 2025 (arXiv:2511.02773).

With label noise, SGD near the interpolation manifold drifts to reduce tr(H), Adam to reduce
tr(Diag(H)^{1/2}). On the diagonal net beta = u*u - v*v these are a weighted l1 norm and a weighted l_{1/2}
quasi-norm of beta over the interpolating fibre (closed forms: :mod:`gdsim.adam_sharpness`), so Adam is biased
towards sparser solutions. The model is :func:`gdsim.adam_sharpness.label_noise_diagonal` (fresh Rademacher
label noise at every step from gdsim's counter-based generator) run by :func:`gdsim.dynamics.gd` (label-noise
GD, the paper's "SGD" with full batches) and :func:`gdsim.dynamics.adam`.

Figures
-------
1. ``trajectories``: tr(H), tr(Diag(H)^{1/2}), ||beta||_1, ||beta||_{1/2} and the test loss along training for
   label-noise SGD and Adam (median and range over seeds), with the fibre minima at beta* for reference.
2. ``seeds``: the end values (mean over the last ``window`` of the records) of tr(H) and tr(Diag(H)^{1/2})
   per seed, SGD against Adam, and the claim counts.
3. ``factorisation``: symmetric matrix factorisation with label noise (entry completion, and Gaussian sensing
   as the contrast): per seed, the test error and the two traces of SGD's and Adam's solutions.

Fidelity notes (also in the sidecars):
* Settings from the spec's reading of the authors' script (section 8 [CODE, repository unidentified]):
  d = 100, k = 5, n = 50, delta = 0.5, beta1 = 0.9, eps = 1e-6, u_0 = v_0 = 0.1 g (beta_0 = 0).
* [GAP] Inputs N(0, I) and unit nonzero entries of beta* (not in the spec).
* [GAP] gdsim's Adam is bias-corrected (Kingma and Ba); the script has no bias correction. With
  beta2 = 0.999 the correction is below 1e-3 after 7000 steps, so only the first few thousand of the
  2e5 steps differ. The exponent is e = 0.5 (plain Adam, not "AdamE").
* [GAP] beta2 = 0.999 and the learning rates (SGD 0.08, Adam 5e-3) are chosen here, not the paper's sweep
  lr in logspace(-3, -1, 10) with beta2 = 1 - C lr^s.
* "SGD" is full-batch GD on the label-noise loss (the noise is the only stochasticity), as in the script.
* End values: the mean over the records in the last 10 % of the steps (records evenly spaced there).
* tr(Diag(H)^{1/2}) along training is the closed form at the recorded (u, v) (the value on the interpolation
  manifold). The square roots of the exact diagonal away from interpolation are dominated by the label-noise
  residual terms (sqrt(2 |c_j|) on every off-support coordinate) and gave the opposite, artefactual, ordering.
* Time scale: the paper runs 1e6-1e7 steps; the quick tier runs 2e5 (the full tier 2e6). Both optimisers
  reach the interpolation manifold within ~2e4 steps and then drift slowly.
* What the quick tier shows (measured, seed 20230722): SGD ends with the smaller tr(H) on 5/5 seeds (by
  +0.3 % median: both are within ~1 % of the fibre minimum 4 sum_j m_j |beta*_j|), but Adam does NOT end with
  the smaller tr(Diag(H)^{1/2}) (0/5; Adam 11.2 against SGD 9.9, fibre minimum at beta* about 10); Adam ends
  with the smaller test loss on 5/5. Here (n = 50 >> 2 k ln(d/k)) the weighted-l1 minimiser over the
  interpolating betas is already beta*, where both regularisers' minima sit at the same point (u v = 0), so at
  this horizon what differs is how far each optimiser has drifted along the manifold, which depends on the
  learning-rate pairing: a probe on 3 seeds with SGD at lr 0.03 instead of 0.08 ends with tr(Diag(H)^{1/2})
  17-21 against Adam's 10.6-11.3 (Adam smaller, as the paper says), but then also with the larger tr(H).
* Full tier (2e6 steps, measured once): SGD smaller tr(H) 5/5, Adam smaller tr(Diag(H)^{1/2}) still 0/5 (Adam
  11.2 against SGD 9.8, Adam 12.8 % above the fibre minimum). A probe on 3 seeds at 2e6 steps with Adam at
  lr 1e-3 and 2e-3 ended at 11.1-12.3 (1e-3 highest), so the gap is not a step-size floor that a smaller lr
  removes; Adam's drift on the ~95 off-support coordinates is slower than label-noise SGD's at these learning
  rates, and whether it overtakes on the paper's schedule (beta2 = 1 - C lr^s, 1e6-1e7 steps) is not settled
  here. A check that separates the two biases needs a problem where the l1 and l_{1/2} minimisers differ
  (fewer samples or correlated inputs) and the paper's horizon (GPU-scale).
* [GAP] The matrix-factorisation case in which the same bias hurts: its setting is not in the spec.
  Reconstructed as symmetric factorisation U U^T (d = 8, width 8) of a rank-1 PSD M* = 2 z z^T / d, observed
  through n = 40 scaled entries (completion) or n = 20 Gaussian measurements (sensing), label noise 0.5, SGD at
  a stable lr, Adam at 2e-3; after 1e5 steps both end points are moved onto the interpolation manifold by 2e4
  noise-free GD steps, so the test errors compare solutions, not label-noise fluctuations. Measured (quick
  tier): Gaussian sensing: Adam smaller tr(Diag(H)^{1/2}) 5/5, SGD smaller tr(H) 5/5 (by < 1 %), Adam's test
  error larger 5/5 (the bias hurts); completion: Adam smaller tr(Diag(H)^{1/2}) 4/5, SGD smaller tr(H) 2/5,
  Adam's error larger 2/5 (no clear effect). Before the projection the errors are dominated by the fluctuations.
"""

from __future__ import annotations

import numpy as np

import gdsim
import gdsim.adam_sharpness as gas
import gdsim.dynamics as gdyn
from gdsim import repro

NAME = "li2025_adam_sharpness"
TITLE = "Adam reduces a unique form of sharpness (Li, Wen, Lyu, NeurIPS 2025)"
FIGURES = {
    "trajectories": "tr(H), tr(Diag(H)^1/2), l1, l1/2 and test loss along label-noise SGD and Adam",
    "seeds": "end values of tr(H) and tr(Diag(H)^1/2) per seed: SGD against Adam",
    "factorisation": "matrix factorisation (completion, Gaussian sensing): test error and both traces, SGD vs Adam",
}
RUNTIME = {"quick": "~60-90 s on 2 cores (about 25 s of it compilation)",
           "full": "~20 min (the factorisation at 1e6 steps)"}
BIBTEX = """
@inproceedings{li2025adam,
  title     = {Adam Reduces a Unique Form of Sharpness: Theoretical Insights Near the Minimizer Manifold},
  author    = {Li, Xinghan and Wen, Haodong and Lyu, Kaifeng},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2025},
  eprint    = {2511.02773}
}
"""

#: Okabe-Ito colour-blind-safe palette (SGD, Adam, reference)
COLOURS = {"sgd": "#0072B2", "adam": "#D55E00", "ref": "#000000"}

QUICK = dict(n=50, d=100, k=5, delta=0.5, init_scale=0.1, seeds=5, steps=200_000, records=100,
             sgd_lr=0.08, adam_lr=5e-3, beta1=0.9, beta2=0.999, eps=1e-6, window=0.1, pdf=False)
QUICK["mf"] = dict(d=8, rank=1, width=8, n=dict(completion=40, gaussian=20),
                  sgd_lr=dict(completion=2.5e-3, gaussian=0.025), adam_lr=2e-3, steps=100_000, project_steps=20_000,
                  seeds=5)
FULL = dict(QUICK, steps=2_000_000, records=400, pdf=True, mf=dict(QUICK["mf"], steps=1_000_000))

KEYS = ("trace_hessian", "trace_sqrt_diag_hessian", "l1", "l_half", "test_loss", "train_loss")


def runs(cfg, seed, progress=False) -> dict:
    """Label-noise SGD and Adam from the same start on each seed's problem; observables at every record."""
    S, steps = int(cfg["seeds"]), int(cfg["steps"])
    # log-spaced records for the early phase, evenly spaced ones for the slow drift (and the end window)
    every = np.union1d(gdsim.log_steps(steps, 40), np.linspace(0, steps, int(cfg["records"]) + 1).round().astype(int))
    out = {f"{o}_{k}": [] for o in ("sgd", "adam") for k in KEYS}
    fib = []
    for s in range(S):
        p = gas.sparse_regression(int(cfg["n"]), int(cfg["d"]), int(cfg["k"]),
                                  seed=np.random.SeedSequence(seed, spawn_key=(s,)))
        m = gas.label_noise_diagonal(p, noise_std=float(cfg["delta"]), init_scale=float(cfg["init_scale"]))
        w0 = m.init(np.random.SeedSequence(seed, spawn_key=(s, 1)))
        rs = gdyn.gd(m, w0, lr=float(cfg["sgd_lr"]), steps=steps, record_every=every, observe=("w",),
                     progress=progress)
        ra = gdyn.adam(m, w0, lr=float(cfg["adam_lr"]), steps=steps, beta1=float(cfg["beta1"]),
                       beta2=float(cfg["beta2"]), eps=float(cfg["eps"]), record_every=every, observe=("w",),
                       progress=progress)
        for o, r in (("sgd", rs), ("adam", ra)):
            obs = gas.observables(p, r.w)
            for k in KEYS:
                out[f"{o}_{k}"].append(obs[k])
        fib.append(gas.fibre_minima(p, p.beta_star))
    data = {k: np.stack(v_, axis=-1) for k, v_ in out.items()}  # (records, seeds)
    data["t"] = rs.t
    data["fibre_min_trace_hessian"] = np.array([f[0] for f in fib])
    data["fibre_min_trace_sqrt_diag"] = np.array([f[1] for f in fib])
    return data


def end_values(data, window) -> dict:
    """Mean over the records in the last ``window`` fraction of the steps (the label noise keeps the values
    fluctuating)."""
    t = data["t"]
    keep = t >= (1.0 - window) * t[-1]
    return {k: data[k][keep].mean(axis=0) for k in data if k.startswith(("sgd_", "adam_"))}


def claims(data, window) -> dict:
    """The issue's claim: Adam ends with smaller tr(Diag(H)^{1/2}) and SGD with smaller tr(H) on >= 4 of 5 seeds."""
    e = end_values(data, window)
    adam_sqrt = e["adam_trace_sqrt_diag_hessian"] < e["sgd_trace_sqrt_diag_hessian"]
    sgd_tr = e["sgd_trace_hessian"] < e["adam_trace_hessian"]
    last_sqrt = data["adam_trace_sqrt_diag_hessian"][-1] < data["sgd_trace_sqrt_diag_hessian"][-1]
    last_tr = data["sgd_trace_hessian"][-1] < data["adam_trace_hessian"][-1]
    S = adam_sqrt.size
    fib_sq = data["fibre_min_trace_sqrt_diag"]
    need = int(np.ceil(0.8 * S))
    return dict(seeds=S, adam_smaller_sqrt_diag=int(adam_sqrt.sum()), sgd_smaller_trace=int(sgd_tr.sum()),
                adam_smaller_sqrt_diag_last=int(last_sqrt.sum()), sgd_smaller_trace_last=int(last_tr.sum()),
                adam_smaller_l_half=int((e["adam_l_half"] < e["sgd_l_half"]).sum()),
                adam_smaller_test_loss=int((e["adam_test_loss"] < e["sgd_test_loss"]).sum()),
                trace_rel_diff_median=float(np.median(e["adam_trace_hessian"] / e["sgd_trace_hessian"] - 1)),
                sqrt_rel_diff_median=float(np.median(e["adam_trace_sqrt_diag_hessian"]
                                                     / e["sgd_trace_sqrt_diag_hessian"] - 1)),
                holds=bool(adam_sqrt.sum() >= need and sgd_tr.sum() >= need),
                trace_excess_max=float(max((e[f"{o}_trace_hessian"] / data["fibre_min_trace_hessian"]).max()
                                           for o in ("sgd", "adam")) - 1),
                sqrt_excess_sgd_max=float((e["sgd_trace_sqrt_diag_hessian"] / fib_sq).max() - 1),
                sqrt_excess_adam_max=float((e["adam_trace_sqrt_diag_hessian"] / fib_sq).max() - 1))


def _trajectory_figure(cfg, out, meta, data):
    import matplotlib.pyplot as plt

    t = np.maximum(data["t"], 1)
    panels = [("trace_hessian", r"$\mathrm{tr}(H)$", "fibre_min_trace_hessian"),
              ("trace_sqrt_diag_hessian", r"$\mathrm{tr}(\mathrm{Diag}(H)^{1/2})$", "fibre_min_trace_sqrt_diag"),
              ("l1", r"$\|\beta\|_1$", None), ("l_half", r"$\|\beta\|_{1/2}$", None),
              ("test_loss", r"test loss $\frac{1}{2}\|\beta - \beta^\star\|^2$", None)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 4.0), constrained_layout=True)
    S = data["sgd_l1"].shape[1]
    for ax, (key, label, ref) in zip(axes, panels):
        for o, name in (("sgd", f"label-noise SGD, $\\eta = {cfg['sgd_lr']:g}$"),
                        ("adam", f"Adam, $\\eta = {cfg['adam_lr']:g}$")):
            y = data[f"{o}_{key}"]
            ax.plot(t, np.median(y, axis=1), color=COLOURS[o], label=f"{name} (median of {S})")
            ax.fill_between(t, y.min(axis=1), y.max(axis=1), color=COLOURS[o], alpha=0.2, lw=0)
        if ref is not None:
            ax.axhline(np.median(data[ref]), color=COLOURS["ref"], ls="--", lw=1.0,
                       label=r"fibre minimum at $\beta^\star$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step $t$")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        e_s = np.median(data[f"sgd_{key}"][-1])
        e_a = np.median(data[f"adam_{key}"][-1])
        ax.set_title(f"final median: SGD {e_s:.3g}, Adam {e_a:.3g}", fontsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(rf"Diagonal net $\beta = u^2 - v^2$, $d = {cfg['d']}$, $n = {cfg['n']}$, $k = {cfg['k']}$, "
                 rf"label noise $\delta = {cfg['delta']}$, {_sci(cfg['steps'])} steps (band: range over seeds)")
    lines = [f"{k}: final median SGD {np.median(data[f'sgd_{k}'][-1]):.4g}, Adam {np.median(data[f'adam_{k}'][-1]):.4g}"
             for k, _, _ in panels]
    return _save(fig, out, "li2025_trajectories", data, {**meta, "summary": lines}, cfg)


def _seeds_figure(cfg, out, meta, data):
    import matplotlib.pyplot as plt

    w = float(cfg["window"])
    e = end_values(data, w)
    c = claims(data, w)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), constrained_layout=True)
    for ax, key, label, won, who in ((axes[0], "trace_hessian", r"$\mathrm{tr}(H)$", c["sgd_smaller_trace"], "SGD"),
                                     (axes[1], "trace_sqrt_diag_hessian", r"$\mathrm{tr}(\mathrm{Diag}(H)^{1/2})$",
                                      c["adam_smaller_sqrt_diag"], "Adam")):
        xs, ya = e[f"sgd_{key}"], e[f"adam_{key}"]
        ax.plot(xs, ya, "o", color=COLOURS["adam" if who == "Adam" else "sgd"], ms=7)
        for i, (a, b) in enumerate(zip(xs, ya)):
            ax.annotate(f"seed {i}", (a, b), textcoords="offset points", xytext=(4, 4), fontsize=7)
        lo, hi = min(xs.min(), ya.min()), max(xs.max(), ya.max())
        pad = 0.05 * (hi - lo)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=COLOURS["ref"], lw=0.8, label="equal")
        ax.set_xlabel(f"label-noise SGD: end {label}")
        ax.set_ylabel(f"Adam: end {label}")
        ax.set_title(f"{who} smaller on {won} of {c['seeds']} seeds (median Adam/SGD - 1 = "
                     f"{c['trace_rel_diff_median' if who == 'SGD' else 'sqrt_rel_diff_median']:+.3f})", fontsize=9)
        repro.legend_outside(ax, loc="below")
        ax.grid(alpha=0.3)
    fig.suptitle(_tex(f"End values (mean over the last {w:.0%} of {_sci(cfg['steps'])} steps): the paper's claim "
                      f"(Adam smaller tr(Diag(H)^1/2) and SGD smaller tr(H) on at least 80% of seeds) holds: "
                      f"{'yes' if c['holds'] else 'no'}\n"
                      f"end / fibre minimum at beta* - 1: tr(H) <= {c['trace_excess_max']:+.3f}; tr(Diag(H)^1/2): "
                      f"SGD <= {c['sqrt_excess_sgd_max']:+.3f}, Adam <= {c['sqrt_excess_adam_max']:+.3f}"),
                 fontsize=10)
    lines = [f"Adam smaller tr(Diag(H)^1/2) on {c['adam_smaller_sqrt_diag']}/{c['seeds']} seeds "
             f"(last record: {c['adam_smaller_sqrt_diag_last']}), SGD smaller tr(H) on {c['sgd_smaller_trace']}/"
             f"{c['seeds']} (last record: {c['sgd_smaller_trace_last']}); claim holds: {c['holds']}",
             f"median relative differences Adam/SGD - 1: tr(H) {c['trace_rel_diff_median']:+.4f}, "
             f"tr(Diag(H)^1/2) {c['sqrt_rel_diff_median']:+.4f}",
             f"Adam smaller ||beta||_1/2 on {c['adam_smaller_l_half']}/{c['seeds']}, smaller test loss on "
             f"{c['adam_smaller_test_loss']}/{c['seeds']}",
             f"end / fibre minimum at beta* - 1: tr(H) <= {c['trace_excess_max']:+.4f}; tr(Diag(H)^1/2) SGD <= "
             f"{c['sqrt_excess_sgd_max']:+.4f}, Adam <= {c['sqrt_excess_adam_max']:+.4f}"]
    d = {**{f"end_{k}": v_ for k, v_ in e.items()}, **{f"claim_{k}": v_ for k, v_ in c.items()}}
    return _save(fig, out, "li2025_seeds", d, {**meta, "summary": lines}, cfg)


def factorisation_runs(cfg, seed, progress=False) -> dict:
    """Label-noise SGD and Adam on symmetric matrix completion and Gaussian sensing, per seed; then noise-free GD
    from both end points onto the interpolation manifold (so that the label-noise fluctuation is removed)."""
    c = cfg["mf"]
    kinds = ("completion", "gaussian")
    S = int(c["seeds"])
    out = {f"{k}_{o}_{q}": np.empty(S) for k in kinds for o in ("sgd", "adam")
           for q in ("error_raw", "error", "trace_hessian", "trace_sqrt_diag_hessian", "projected_loss")}
    for kind in kinds:
        for s in range(S):
            p = gas.factorisation_problem(int(c["d"]), int(c["rank"]), int(c["n"][kind]), kind=kind,
                                          seed=np.random.SeedSequence(seed, spawn_key=(200 + s,)))
            m = gas.label_noise_factorisation(p, int(c["width"]), noise_std=float(cfg["delta"]))
            clean = gas.label_noise_factorisation(p, int(c["width"]), noise_std=0.0)
            w0 = m.init(np.random.SeedSequence(seed, spawn_key=(200 + s, 1)))
            lr = float(c["sgd_lr"][kind])
            rs = gdyn.gd(m, w0, lr=lr, steps=int(c["steps"]), record_every=int(c["steps"]), progress=progress)
            ra = gdyn.adam(m, w0, lr=float(c["adam_lr"]), steps=int(c["steps"]), beta1=float(cfg["beta1"]),
                           beta2=float(cfg["beta2"]), eps=float(cfg["eps"]), record_every=int(c["steps"]),
                           progress=progress)
            W = np.stack([rs.w_final, ra.w_final])
            pr = gdyn.gd(clean, W, lr=lr, steps=int(c["project_steps"]), record_every=int(c["project_steps"]),
                         observe=("loss",))
            tr, sq = gas.factorisation_traces(p, pr.w_final)
            for j, o in enumerate(("sgd", "adam")):
                out[f"{kind}_{o}_error_raw"][s] = gas.factorisation_error(p, W[j])
                out[f"{kind}_{o}_error"][s] = gas.factorisation_error(p, pr.w_final[j])
                out[f"{kind}_{o}_trace_hessian"][s] = tr[j]
                out[f"{kind}_{o}_trace_sqrt_diag_hessian"][s] = sq[j]
                out[f"{kind}_{o}_projected_loss"][s] = pr.loss[-1, j]
    return out


def _factorisation_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = factorisation_runs(cfg, seed, progress)
    c = cfg["mf"]
    kinds = ("completion", "gaussian")
    qs = (("error", "test error after projection"), ("trace_hessian", r"$\mathrm{tr}(H)$"),
          ("trace_sqrt_diag_hessian", r"$\mathrm{tr}(\mathrm{Diag}(H)^{1/2})$"))
    fig, axes = plt.subplots(len(kinds), len(qs), figsize=(13, 8), constrained_layout=True)
    lines, counts = [], {}
    for i, kind in enumerate(kinds):
        for j, (q, label) in enumerate(qs):
            ax = axes[i, j]
            xs, ya = d[f"{kind}_sgd_{q}"], d[f"{kind}_adam_{q}"]
            adam_smaller = int((ya < xs).sum())
            counts[f"{kind}_{q}_adam_smaller"] = adam_smaller
            ax.plot(xs, ya, "o", color=COLOURS["adam"], ms=6)
            lo, hi = min(xs.min(), ya.min()), max(xs.max(), ya.max())
            ax.plot([lo, hi], [lo, hi], color=COLOURS["ref"], lw=0.8, label="equal")
            if q == "error":
                from matplotlib.ticker import NullFormatter

                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"label-noise SGD: {label}")
            ax.set_ylabel(f"Adam: {label}")
            ax.set_title(f"{kind}: Adam smaller on {adam_smaller} of {xs.size} seeds", fontsize=9)
            repro.legend_outside(ax, loc="below")
            ax.grid(alpha=0.3)
        raw = int((d[f"{kind}_adam_error_raw"] > d[f"{kind}_sgd_error_raw"]).sum())
        counts[f"{kind}_adam_worse_raw"] = raw
        lines.append(f"{kind} (n = {c['n'][kind]}): Adam's projected test error larger on "
                     f"{xs.size - counts[f'{kind}_error_adam_smaller']}/{xs.size} seeds (before projection: {raw}/"
                     f"{xs.size}); Adam smaller tr(Diag(H)^1/2) on "
                     f"{counts[f'{kind}_trace_sqrt_diag_hessian_adam_smaller']}/{xs.size}, SGD smaller tr(H) on "
                     f"{xs.size - counts[f'{kind}_trace_hessian_adam_smaller']}/{xs.size}")
    fig.suptitle(rf"Symmetric factorisation $UU^\top$ ($d = {c['d']}$, rank {c['rank']}, width {c['width']}), "
                 rf"label noise $\delta = {cfg['delta']}$, {_sci(c['steps'])} steps, then {_sci(c['project_steps'])} "
                 "noise-free GD steps onto the manifold\n" + "\n".join(_tex(ln) for ln in lines), fontsize=9)
    return _save(fig, out, "li2025_factorisation", {**d, **{f"count_{k}": v_ for k, v_ in counts.items()}},
                 {**meta, "summary": lines}, cfg)


def _sci(x) -> str:
    """``200000`` -> ``$2\\times 10^{5}$`` (``$10^{5}$`` for a power of ten) for titles."""
    mant, ex = f"{float(x):.0e}".split("e")
    return f"$10^{{{int(ex)}}}$" if mant == "1" else f"${mant}\\times 10^{{{int(ex)}}}$"


def _tex(line: str) -> str:
    """A summary line (plain text, for the sidecar) with its quantities as mathtext, for a title."""
    for a, b in (("tr(Diag(H)^1/2)", r"$\mathrm{tr}(\mathrm{Diag}(H)^{1/2})$"), ("tr(H)", r"$\mathrm{tr}(H)$"),
                 ("beta*", r"$\beta^\star$"), ("<=", r"$\leq$")):
        line = line.replace(a, b)
    return line


def _save(fig, out, stem, data, meta, cfg):
    # the project's >= 150 dpi (repro.PNG_DPI, also save_figure's default)
    return repro.save_figure(fig, out, stem, data, meta, pdf=cfg["pdf"], dpi=160)


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the data and the initialisations (and, through each run's key, of the label noise).
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    data = runs(config, seed, progress)
    return {"trajectories": _trajectory_figure(config, out, meta, data),
            "seeds": _seeds_figure(config, out, meta, data),
            "factorisation": _factorisation_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
