"""Reproduction: J. M. Cohen, A. Damian, A. Talwalkar, J. Z. Kolter, J. D. Lee, "Understanding Optimization in
Deep Learning with Central Flows", ICLR 2025 (arXiv:2410.24206), on digits offline.

Full-batch GD, gradient flow and the GD central flow (:func:`gdsim.dynamics.central_flow`) from one start at
several learning rates, on the Cohen et al. (2021) digits setup (tanh MLP, MSE on one-hot targets; see
``cohen2021_edge_of_stability``). The central flow predicts GD's time-averaged loss, L(w(t)) + tr Sigma / lr,
while its sharpness is pinned at 2/lr; GD stays close to the central flow while gradient flow, from the same
start, departs.

Figure ``central_flow_digits`` (one row per learning rate): (a) GD's loss, its sliding-window average, the
central flow's predicted time-averaged loss and its own loss, and gradient flow's loss; (b) sharpness of
GD, central flow and gradient flow with 2/lr; (c) distance from GD's iterates to the central flow and to
gradient flow.

Figure ``spectrum_digits`` (the largest learning rate, same GD run): the Hessian's spectrum at initialisation, at
the onset of the edge of stability (the first step with S >= 2/lr) and at the end: the stochastic Lanczos
quadrature (SLQ) density (:func:`gdsim.dynamics.spectral_density`, smoothed by
:func:`gdsim.dynamics.density_on_grid`) against the exact spectrum (eigenvalues of the dense Hessian, smoothed
by the same kernel), with the outliers above the bulk and 2/lr marked; titles give the outlier counts (dense and
SLQ) and the Wasserstein-1 distance between the SLQ quadrature measure and the exact spectral measure.

Fidelity notes:
* [PAPER] the flow, Sigma, the complementarity problem, the predicted loss and the comparisons (a)-(c);
  [CODE] the discretisation: Euler, 4 substeps per step, thresholds 1.95/lr (SDCP) and 1.5/lr (tracking).
* Differs: digits instead of a CIFAR-10 subset (no download); a small MLP (quick: n = 128, [64, 8, 8, 10],
  P = 682; full: n = 256, [64, 16, 16, 10], P = 1482) instead of the paper's nets, initial weights scaled by 0.3
  (Cohen 2021's script: 0.5) so that lr S starts further below 2; float64; eigenpairs by a
  block Krylov solver every substep; a projection back onto the edge at every whole step (gdsim's addition,
  see central_flow's Notes); the stable phases integrated adaptively (Dormand-Prince).
* GD's loss is averaged over a centred sliding window of ``window`` steps (the code smooths with a
  Gaussian); the comparison excludes the first ``transient`` steps after the flow reaches the edge (GD's
  oscillation must first grow) and the last half window.
* Spectrum figure (gdsim's addition; the paper shows no spectra): "outliers above the bulk" are the dense
  eigenvalues above tau, the midpoint of the widest gap between consecutive eigenvalues among the top 2C + 2
  (C = number of classes); SLQ's count is the median over probes of its Ritz values above the same tau (by
  Cauchy interlacing never more than the dense count). After initialisation the top of the spectrum is close to
  a continuum, so the count depends on this rule. The onset step is refined from GD's sharpness, recorded every
  5 steps, by evaluating the sharpness at the steps in between.
"""

from __future__ import annotations

import numpy as np

import gdsim.dynamics as gdyn
from gdsim import repro
from paper_repro import cohen2021_edge_of_stability as cohen2021

NAME = "cohen2025_central_flows"
TITLE = "Understanding optimization in deep learning with central flows (Cohen, Damian et al., ICLR 2025)"
FIGURES = {"central_flow_digits": "GD vs its central flow and gradient flow on digits at three learning rates: "
                                  "time-averaged loss, sharpness pinned at 2/lr, distances",
           "spectrum_digits": "Hessian spectrum at init, EoS onset and end of GD: SLQ density vs the exact dense "
                              "spectrum, outliers above the bulk, 2/lr"}
RUNTIME = {"quick": "~70 s CPU, 120 s wall measured on a loaded 2-core machine",
           "full": "not measured (~15 min estimated)"}
BIBTEX = """
@inproceedings{cohen2025central,
  title     = {Understanding Optimization in Deep Learning with Central Flows},
  author    = {Cohen, Jeremy M. and Damian, Alex and Talwalkar, Ameet and Kolter, J. Zico and Lee, Jason D.},
  booktitle = {International Conference on Learning Representations},
  year      = {2025},
  eprint    = {2410.24206}
}
"""

QUICK = dict(data="digits", n=128, sizes=(64, 8, 8, 10), init_scale=0.3, lrs=(0.8, 0.9, 1.0), steps=250,
             window=20, transient=20, probes=8, lanczos_steps=60, pdf=False)
FULL = dict(QUICK, n=256, sizes=(64, 16, 16, 10), steps=800, window=40, transient=40, pdf=True)


def window_average(x, window):
    """Centred moving average of x (n, ...) over ``window`` records; NaN where the window is incomplete."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    half = window // 2
    out = np.full_like(x, np.nan)
    c = np.cumsum(np.concatenate([np.zeros((1, *x.shape[1:])), x]), axis=0)
    for i in range(half, n - half):
        out[i] = (c[i + half + 1] - c[i - half]) / (2 * half + 1)
    return out


def simulate(cfg, seed=repro.DEFAULT_SEED, progress=False) -> dict:
    """GD, gradient flow and the central flow from one start at every learning rate, and the comparisons."""
    ds, m, w0 = cohen2021.problem(cfg, "tanh", "mse", seed)
    lrs = np.asarray(cfg["lrs"], dtype=float)
    steps = int(cfg["steps"])
    R = lrs.size
    gd = gdyn.gd(m, np.tile(w0, (R, 1)), lrs, steps, record_every=1, observe=("loss", "w"), progress=progress)
    cf = gdyn.central_flow(m, np.tile(w0, (R, 1)), lrs, float(steps), record_interval=1.0,
                           observe=("loss", "sharpness", "w"), progress=progress, seed=seed)
    every = 5
    gd_sharp = gdyn.sharpness(m, gd.w[::every].reshape(-1, m.n_params), seed=seed).reshape(-1, R)
    gf_loss, gf_sharp, gf_dist = (np.full((steps + 1, R), np.nan) for _ in range(3))
    for j, lr in enumerate(lrs):
        gf = gdyn.gradient_flow(m, w0, lr * steps, record_interval=lr, observe=("loss", "w"), progress=progress)
        gf_loss[:, j] = gf.loss
        gf_dist[:, j] = np.linalg.norm(gd.w[:, j] - gf.w, axis=-1)
        gf_sharp[::every, j] = gdyn.sharpness(m, gf.w[::every], seed=seed)
    cf_dist = np.linalg.norm(gd.w - cf.w, axis=-1)
    window, transient = int(cfg["window"]), int(cfg["transient"])
    gd_avg = window_average(gd.loss, window)
    t = np.arange(steps + 1)
    rel_pred, rel_flow, eos_mask = [], [], np.zeros((steps + 1, R), dtype=bool)
    for j in range(R):
        t_edge = cf.first_edge_time[j]
        mask = (t >= t_edge + transient) & np.isfinite(gd_avg[:, j]) if t_edge >= 0 else np.zeros(steps + 1, bool)
        eos_mask[:, j] = mask
        rel_pred.append(np.abs(cf.predicted_loss[mask, j] - gd_avg[mask, j]) / gd_avg[mask, j])
        rel_flow.append(np.abs(cf.loss[mask, j] - gd_avg[mask, j]) / gd_avg[mask, j])
    edge = cf.n_edge > 0
    edge[np.argmax(edge, axis=0), np.arange(R)] = False  # the record at which the flow enters the edge
    pin = np.where(edge, np.abs(cf.sharpness * lrs / 2 - 1), np.nan)
    return dict(t=t, lr=lrs, n_params=m.n_params, checksum=ds.checksum, gd_loss=gd.loss, gd_loss_avg=gd_avg,
                gd_sharpness=gd_sharp, gd_sharpness_t=t[::every], cf_loss=cf.loss, cf_predicted_loss=cf.predicted_loss,
                cf_sharpness=cf.sharpness, cf_oscillation=cf.oscillation, cf_n_edge=cf.n_edge,
                cf_first_edge=cf.first_edge_time, gf_loss=gf_loss, gf_sharpness=gf_sharp, cf_distance=cf_dist,
                gf_distance=gf_dist, eos_mask=eos_mask,
                median_rel_err_predicted=np.array([np.median(r) if r.size else np.nan for r in rel_pred]),
                max_rel_err_predicted=np.array([r.max() if r.size else np.nan for r in rel_pred]),
                median_rel_err_flow_loss=np.array([np.median(r) if r.size else np.nan for r in rel_flow]),
                max_pin_error=np.array([np.nanmax(pin[:, j]) if edge[:, j].any() else np.nan for j in range(R)]),
                final_distance_ratio=gf_dist[-1] / cf_dist[-1],
                final_cf_distance=cf_dist[-1], final_gf_distance=gf_dist[-1], gd_w=gd.w)


def claims(d) -> list[str]:
    out = []
    for j, lr in enumerate(d["lr"]):
        out.append(f"lr = {lr:g}: central flow at the edge from t = {d['cf_first_edge'][j]:g}; over the EoS phase "
                   f"|L + tr Sigma/lr - GD window-avg| / GD window-avg: median {d['median_rel_err_predicted'][j]:.3f}, "
                   f"max {d['max_rel_err_predicted'][j]:.3f} (the flow's own loss L(w(t)): median "
                   f"{d['median_rel_err_flow_loss'][j]:.3f}); |lr S/2 - 1| <= {d['max_pin_error'][j]:.1e} "
                   f"at the edge (after entry); at t = {d['t'][-1]}: |w_GD - w_CF| = "
                   f"{d['final_cf_distance'][j]:.3g}, |w_GD - w_GF| = {d['final_gf_distance'][j]:.3g} "
                   f"({d['final_distance_ratio'][j]:.1f}x)")
    return out


def spectrum_compare(m, w, n_classes, probes=8, steps=60, seed=repro.DEFAULT_SEED) -> dict:
    """SLQ spectral density vs the exact spectrum of the dense Hessian at one ``w`` (P,) (small P only).

    Parameters
    ----------
    m : gdsim.models.Model
    w : array_like, shape (P,)
    n_classes : int
        C; the outliers are sought among the top 2C + 2 eigenvalues.
    probes, steps : int
        SLQ probes and Lanczos steps (:func:`gdsim.dynamics.spectral_density`).
    seed : int

    Returns
    -------
    dict
        ``eigs`` (P,) ascending, ``nodes``/``weights`` (probes, steps), ``tau`` (the bulk edge: midpoint of the
        widest gap among the top 2C + 2 eigenvalues), ``n_out_dense``, ``n_out_slq`` (median over probes of the
        Ritz values above tau), ``slq_mass_above`` (P times the SLQ weight above tau) and ``w1`` (the
        Wasserstein-1 distance between the SLQ quadrature measure and the exact spectral measure).

    Notes
    -----
    Ghorbani, Krishnan & Xiao (ICML 2019); Papyan (2019) for the C outliers of a C-class net's Hessian.
    """
    from scipy.stats import wasserstein_distance

    n_classes = int(n_classes)
    if n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer; got {n_classes}")
    eigs = np.linalg.eigvalsh(m.hessian(w))
    nodes, weights = gdyn.spectral_density(m, w, probes=probes, steps=steps, seed=seed)
    top = eigs[::-1][:min(2 * n_classes + 2, eigs.size)]
    k = int(np.argmax(top[:-1] - top[1:]))
    tau = 0.5 * (top[k] + top[k + 1])
    fin = np.isfinite(nodes)
    x, wt = nodes[fin], weights[fin]
    return dict(eigs=eigs, nodes=nodes, weights=weights, tau=tau, n_out_dense=int(k + 1),
                n_out_slq=int(np.median(np.sum(np.where(fin, nodes, -np.inf) > tau, axis=-1))),
                slq_mass_above=float(eigs.size * wt[x > tau].sum()),
                w1=float(wasserstein_distance(x, eigs, u_weights=wt)), range=float(eigs[-1] - eigs[0]))


def spectrum_simulate(cfg, d, seed=repro.DEFAULT_SEED) -> dict:
    """Spectra at initialisation, EoS onset and the end of the GD run of ``simulate`` at the largest lr."""
    _, m, _ = cohen2021.problem(cfg, "tanh", "mse", seed)
    j = int(np.argmax(d["lr"]))
    lr = float(d["lr"][j])
    W = d["gd_w"][:, j]
    ts, S = d["gd_sharpness_t"], d["gd_sharpness"][:, j]
    hit = np.flatnonzero(S >= 2 / lr)
    if hit.size == 0:
        onset = -1
    elif hit[0] == 0:
        onset = 0
    else:  # refine between the grid points
        between = np.arange(ts[hit[0] - 1] + 1, ts[hit[0]])
        s_b = gdyn.sharpness(m, W[between], seed=seed) if between.size else np.zeros(0)
        onset = int(between[np.argmax(s_b >= 2 / lr)]) if np.any(s_b >= 2 / lr) else int(ts[hit[0]])
    times = [0] + ([onset] if onset > 0 else []) + [int(d["t"][-1])]
    names = ["init"] + (["EoS onset"] if onset > 0 else []) + ["end"]
    out = dict(lr=lr, onset=onset, times=np.array(times), names=names, n_params=m.n_params,
               n_classes=int(cfg["sizes"][-1]), spectra=[])
    for t in times:
        out["spectra"].append(spectrum_compare(m, W[t], out["n_classes"], int(cfg.get("probes", 8)),
                                               int(cfg.get("lanczos_steps", 60)), seed))
    return out


def spectrum_claims(s) -> list[str]:
    out = []
    for name, t, sp in zip(s["names"], s["times"], s["spectra"]):
        out.append(f"lr = {s['lr']:g}, {name} (t = {t}): {sp['n_out_dense']} dense eigenvalues above the bulk edge "
                   f"tau = {sp['tau']:.3f} (SLQ, median over probes: {sp['n_out_slq']}; P x SLQ weight above tau "
                   f"{sp['slq_mass_above']:.1f}); lambda_max = {sp['eigs'][-1]:.3f} (2/lr = {2 / s['lr']:g}); "
                   f"W1(SLQ, exact) = {sp['w1']:.2e} ({sp['w1'] / sp['range']:.1e} of the spectral range)")
    return out


def _spectrum_figure(cfg, d, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    s = spectrum_simulate(cfg, d, seed)
    K = len(s["times"])
    fig, axes = plt.subplots(1, K, figsize=(5.2 * K, 3.8), constrained_layout=True, squeeze=False)
    c_slq, c_ex, c_out = "#0072B2", "#000000", "#D55E00"
    data = dict(times=s["times"], lr=s["lr"], onset=s["onset"])
    for i, (name, t, sp) in enumerate(zip(s["names"], s["times"], s["spectra"])):
        ax = axes[0, i]
        e = sp["eigs"]
        hi = max(e[-1], 2 / s["lr"])
        pad = 0.05 * (hi - e[0])
        grid = np.linspace(e[0] - pad, hi + pad, 800)
        bw = (e[-1] - e[0]) / 100
        rho = gdyn.density_on_grid(sp["nodes"], sp["weights"], grid, bandwidth=bw)
        rho_ex = gdyn.density_on_grid(e[None, :], np.full((1, e.size), 1 / e.size), grid, bandwidth=bw)
        ax.plot(grid, rho_ex, color=c_ex, lw=1.6, label="exact (dense Hessian), smoothed")
        ax.plot(grid, rho, color=c_slq, lw=1.2, ls="--", label=f"SLQ ({cfg['probes']} probes, "
                                                                 f"{cfg['lanczos_steps']} steps)")
        out_e = e[e > sp["tau"]]
        ax.plot(out_e, np.full(out_e.size, 2e-4), ls="none", marker="|", ms=12, color=c_out,
                label="exact outliers")
        ax.axvline(sp["tau"], color=c_out, lw=0.8, ls=":", label=r"bulk edge $\tau$")
        ax.axvline(2 / s["lr"], color="0.4", lw=1.0, ls="-.", label=r"$2/\eta$")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 3 * max(rho.max(), rho_ex.max()))
        ax.set_xlabel(r"eigenvalue $\lambda$")
        ax.set_ylabel(r"spectral density $\rho(\lambda)$")
        nd = int(sp["n_out_dense"])
        ax.set_title(f"{name} ($t$ = {t})\n{nd} outlier{'' if nd == 1 else 's'} above the bulk "
                     f"(SLQ {sp['n_out_slq']}), "
                     f"$W_1$ = {sp['w1']:.1e}", fontsize=10)
        data.update({f"eigs_{i}": e, f"nodes_{i}": sp["nodes"], f"weights_{i}": sp["weights"], f"grid_{i}": grid,
                     f"rho_slq_{i}": rho, f"rho_exact_{i}": rho_ex, f"tau_{i}": sp["tau"], f"w1_{i}": sp["w1"],
                     f"n_out_dense_{i}": sp["n_out_dense"], f"n_out_slq_{i}": sp["n_out_slq"]})
    repro.legend_outside(axes[0, -1], loc="right", fontsize=8)
    fig.suptitle(f"Hessian spectrum along GD at $\\eta$ = {s['lr']:g} (digits, MLP {list(cfg['sizes'])} tanh, "
                 f"$P$ = {s['n_params']}): SLQ against exact")
    lines = spectrum_claims(s)
    if progress:
        print("\n".join(lines))
    paths = repro.save_figure(fig, out, "cohen2025_spectrum_digits", data,
                              {**meta, "summary": lines, "claims": lines, "data_checksum": d["checksum"],
                               "fidelity": __doc__.split("Fidelity notes:")[1].strip()}, pdf=cfg["pdf"], dpi=160)
    return paths


def _figure(cfg, out, meta, seed, progress, d=None):
    import matplotlib.pyplot as plt

    d = simulate(cfg, seed, progress) if d is None else d
    d = {k: val for k, val in d.items() if k != "gd_w"}
    R = d["lr"].size
    fig, axes = plt.subplots(R, 3, figsize=(16, 3.6 * R), constrained_layout=True, squeeze=False)
    c_gd, c_avg, c_cf, c_pred, c_gf = "#999999", "#000000", "#0072B2", "#D55E00", "#009E73"
    t = d["t"]
    for j, lr in enumerate(d["lr"]):
        ax = axes[j, 0]
        ax.plot(t, d["gd_loss"][:, j], color=c_gd, lw=0.7, label="GD")
        ax.plot(t, d["gd_loss_avg"][:, j], color=c_avg, lw=1.4, label=f"GD, {cfg['window']}-step average")
        ax.plot(t, d["cf_predicted_loss"][:, j], color=c_pred, lw=1.4, ls="--",
                label=r"central flow: $L(w) + \mathrm{tr}\,\Sigma/\eta$")
        ax.plot(t, d["cf_loss"][:, j], color=c_cf, lw=1.0, label=r"central flow: $L(w)$")
        ax.plot(t, d["gf_loss"][:, j], color=c_gf, lw=1.0, ls=":", label="gradient flow")
        if d["cf_first_edge"][j] >= 0:
            ax.axvline(d["cf_first_edge"][j], color="0.6", lw=0.6, ls="-.")
        ax.set_yscale("log")
        ax.set_xlabel("step $t$")
        ax.set_ylabel("train loss (MSE)")
        edge = d["cf_first_edge"][j]
        ax.set_title(f"$\\eta$ = {lr:g}: median rel. error {d['median_rel_err_predicted'][j]:.3f} over the EoS "
                     "phase" + (f"\n(from $t$ = {edge:g}, dash-dot, where the central flow reaches $2/\\eta$)"
                                if edge >= 0 else ""), fontsize=10)
        ax = axes[j, 1]
        ax.plot(d["gd_sharpness_t"], d["gd_sharpness"][:, j], color=c_gd, lw=1.0, marker=".", ms=3, label="GD")
        ax.plot(t, d["cf_sharpness"][:, j], color=c_cf, lw=1.4, label="central flow")
        ok = np.isfinite(d["gf_sharpness"][:, j])
        ax.plot(t[ok], d["gf_sharpness"][ok, j], color=c_gf, lw=1.0, ls=":", label="gradient flow")
        ax.axhline(2 / lr, color="k", lw=0.8, ls="--", label=r"$2/\eta$")
        ax.set_xlabel("step $t$")
        ax.set_ylabel(r"sharpness $\lambda_1$")
        ax.set_title(f"central flow pinned at $2/\\eta$ to {d['max_pin_error'][j]:.0e}", fontsize=10)
        ax = axes[j, 2]
        ax.plot(t, d["cf_distance"][:, j], color=c_cf, lw=1.4, label=r"$\|w_{GD} - w_{CF}\|$")
        ax.plot(t, d["gf_distance"][:, j], color=c_gf, lw=1.4, ls=":", label=r"$\|w_{GD} - w_{GF}\|$")
        ax.plot(t, d["cf_oscillation"][:, j], color=c_pred, lw=1.0, ls="--",
                label=r"predicted oscillation $\sqrt{\mathrm{tr}\,\Sigma}$")
        ax.set_xlabel("step $t$")
        ax.set_ylabel("distance in weight space")
        ax.set_title(f"at $t$ = {t[-1]}: GF {d['final_distance_ratio'][j]:.1f}$\\times$ farther from GD than the "
                     "central flow", fontsize=10)
    for k in range(3):  # one legend per column, under its bottom panel
        h, lab = axes[0, k].get_legend_handles_labels()
        repro.legend_outside(axes[-1, k], loc="below", ncol=2, fontsize=7, handles=h, labels=lab)
    fig.suptitle(f"GD and its central flow on digits ($n$ = {cfg['n']}, MLP {list(cfg['sizes'])} tanh, "
                 f"$P$ = {d['n_params']}, MSE)")
    lines = claims(d)
    if progress:
        print("\n".join(lines))
    paths = repro.save_figure(fig, out, "cohen2025_central_flow_digits", d,
                              {**meta, "summary": lines, "claims": lines, "data_checksum": d["checksum"],
                               "fidelity": __doc__.split("Fidelity notes:")[1].strip()}, pdf=cfg["pdf"], dpi=160)
    return paths


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the figure into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    d = simulate(config, seed, progress)
    return {"central_flow_digits": _figure(config, out, meta, seed, progress, d),
            "spectrum_digits": _spectrum_figure(dict(QUICK, **config), d, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
