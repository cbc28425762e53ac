"""Reproduction: J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on neural networks
typically occurs at the edge of stability", ICLR 2021 (arXiv:2103.00065), on real data offline.

Full-batch GD on an MLP over scikit-learn's digits: the sharpness (largest Hessian eigenvalue of the
training loss) rises (progressive sharpening) until it reaches 2/lr, then hovers there, while the loss keeps
falling over long times but not monotonically. Gradient flow from the same start keeps sharpening past every
2/lr. Along the GD run the GFS sharpness phi(w_t) (the sharpness where gradient flow from w_t ends,
Kreisler et al.'s quantity) is reported next to the sharpness.

Figures
-------
1. ``eos_digits``: sharpness x lr / 2 and train loss against steps at four learning rates (tanh MLP, MSE on
   one-hot targets), with gradient flow from the same start (against time / lr) and phi(w_t) along the
   largest-lr run.
2. ``eos_variants``: the same measurement for ReLU and GELU MLPs with MSE, and a tanh MLP with cross-entropy
   (where the sharpness falls instead: digits are separated within a few hundred steps and the cross-entropy
   Hessian shrinks as the margins grow).

Fidelity notes (also in the README):
* Data substitution [spec: real_data.md]: scikit-learn's digits (8x8 images, 10 classes, bundled in the
  wheel) instead of CIFAR-10-5k; the first 1000 training points (classes balanced), features standardised.
* Model: MLP [64, 32, 32, 10] with biases (Cohen's fc-tanh has two hidden layers of width 200), standard
  scaling, initial weights scaled by 0.5 so that the sharpness starts well below 2/lr and the sharpening is
  visible; MSE = (1/n) sum 0.5 ||f(x) - onehot||^2 as Cohen's "mse".
* Sharpness: Lanczos with full reorthogonalisation on exact Hessian-vector products, to 1e-10, every
  ``record_every`` steps (Cohen: Lanczos every 50 steps on an abridged subset).
* phi(w_t): the network does not interpolate (P = 3466 < 10 n), so gradient flow ends at a minimum with
  non-zero loss: the flow runs until the gradient norm is below ``gfs_grad_tol`` (1e-3). That takes about
  2 minutes per point on 2 cores, so phi is computed in the full tier only (6 points). Measured once: at
  step 200 of lr = 0.5 (sharpness 5.9, above 2/lr = 4), phi = 8.83: the minimum gradient flow would reach
  is more than twice as sharp as GD's stability allows.
* Cross-entropy: with this small net digits are separated quickly and the sharpness falls long before it
  reaches 2/lr (at lr = 4, which starts above 2/lr, after one catapult); the edge of stability is not
  seen there, as Cohen et al. also note for cross-entropy late in training.
"""

from __future__ import annotations

import numpy as np

import gdsim.data as gdata
import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim import repro

NAME = "cohen2021_edge_of_stability"
TITLE = "Gradient descent on neural networks typically occurs at the edge of stability (Cohen et al., ICLR 2021)"
FIGURES = {
    "eos_digits": "sharpness x lr/2 and loss along full-batch GD on digits at four lrs, with gradient flow and phi",
    "eos_variants": "the same for ReLU and GELU MLPs (MSE) and a tanh MLP (cross-entropy)",
}
RUNTIME = {"quick": "~115 s (25-40 s of it compilation)", "full": "~15 min"}
BIBTEX = """
@inproceedings{cohen2021gradient,
  title     = {Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability},
  author    = {Cohen, Jeremy and Kaur, Simran and Li, Yuanzhi and Kolter, J. Zico and Talwalkar, Ameet},
  booktitle = {International Conference on Learning Representations},
  year      = {2021},
  eprint    = {2103.00065}
}
"""

QUICK = dict(data="digits", n=1000, sizes=(64, 32, 32, 10), init_scale=0.5, lrs=(0.2, 0.3, 0.4, 0.5), steps=2000,
             record_every=20, flow_time=150.0, flow_records=31, n_phi=0, gfs_grad_tol=1e-3,
             variants=(("relu", "mse", (0.6, 0.8)), ("gelu", "mse", (0.5, 0.7)), ("tanh", "cross_entropy", (1.0, 4.0))),
             variant_steps=1000,
             pdf=False)
FULL = dict(QUICK, n=1347, sizes=(64, 200, 200, 10), steps=10000, record_every=5, flow_time=1000.0,
            flow_records=101, n_phi=6, variant_steps=6000, pdf=True)


def problem(cfg, activation="tanh", loss="mse", seed=repro.DEFAULT_SEED):
    """The data set, the model and its initial parameters (deterministic in ``seed``)."""
    ds = gdata.load(cfg["data"], n_samples=int(cfg["n"]), seed=0)
    targets = ds.one_hot() if loss == "mse" else ds.y
    m = gm.mlp(list(cfg["sizes"]), activation, loss, data=(ds.X, targets), init_scale=cfg["init_scale"])
    return ds, m, m.init(np.random.SeedSequence(seed, spawn_key=(0,)))


def eos_measure(t, sharpness, lr, loss):
    """The issue's measurements per run: mean of lr S / 2 over the last 20 % of the records, loss increases
    between consecutive records, and the first record with lr S / 2 >= 0.95."""
    ratio = sharpness * lr / 2
    tail = ratio[int(0.8 * ratio.shape[0]):]
    first = np.array([t[np.argmax(r >= 0.95)] if np.any(r >= 0.95) else -1 for r in ratio.T])
    return dict(tail_ratio=tail.mean(axis=0), loss_increases=np.sum(np.diff(loss, axis=0) > 0, axis=0),
                first_eos_step=first, initial_ratio=ratio[0], max_ratio=ratio.max(axis=0))


def run_gd(cfg, activation, loss, lrs, steps, seed, progress=False) -> dict:
    """Full-batch GD from one start at several learning rates, sharpness recorded."""
    ds, m, w0 = problem(cfg, activation, loss, seed)
    lrs = np.asarray(lrs, dtype=float)
    res = gdyn.gd(m, np.tile(w0, (lrs.size, 1)), lrs, int(steps), record_every=int(cfg["record_every"]),
                  observe=("loss", "sharpness", "w") if cfg["n_phi"] and activation == "tanh" and loss == "mse"
                  else ("loss", "sharpness"),
                  progress=progress, seed=seed)
    out = dict(t=res.t, lr=lrs, loss=res.loss, sharpness=res.sharpness, checksum=ds.checksum, n_params=m.n_params)
    out.update(eos_measure(res.t, res.sharpness, lrs, res.loss))
    return out, m, w0, res


def main_panel(cfg, seed, progress=False) -> dict:
    """GD at the four lrs, gradient flow from the same start, and phi along the largest-lr run."""
    d, m, w0, res = run_gd(cfg, "tanh", "mse", cfg["lrs"], cfg["steps"], seed, progress)
    t_final = min(float(d["lr"].max() * cfg["steps"]), float(cfg["flow_time"]))
    flow = gdyn.gradient_flow(m, w0, t_final, n_records=int(cfg["flow_records"]), observe=("loss", "sharpness"),
                              progress=progress, seed=seed)
    d.update(flow_time=flow.t, flow_loss=flow.loss, flow_sharpness=flow.sharpness)
    # phi(w_t) at n_phi records of the largest-lr run (full tier: minutes per point, see the notes)
    j = int(np.argmax(d["lr"]))
    idx = np.unique(np.linspace(0, d["t"].size - 1, int(cfg["n_phi"])).astype(int))
    phi = (gdyn.gfs_sharpness(m, res.w[idx, j], loss_tol=0.0, grad_tol=float(cfg["gfs_grad_tol"]), seed=seed)
           if idx.size else np.zeros(0))
    d.update(phi_t=d["t"][idx], phi=phi, phi_lr=d["lr"][j])
    return d


def summary_lines(label, d) -> list[str]:
    return [f"{label} lr = {lr:g}: lr S/2 {d['initial_ratio'][j]:.3f} -> max {d['max_ratio'][j]:.3f}, mean over the "
            f"last 20% {d['tail_ratio'][j]:.3f}; {d['loss_increases'][j]} loss increases between records; final "
            f"loss {d['loss'][-1, j]:.4f}" for j, lr in enumerate(d["lr"])]


def _eos_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = main_panel(cfg, seed, progress)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.85, d["lr"].size))
    for j, c in enumerate(colors):
        axes[0].plot(d["t"], d["sharpness"][:, j], color=c, lw=1.0,
                     label=f"$\\eta$ = {d['lr'][j]:g}: last 20% mean $\\eta\\lambda_{{\\max}}/2$ = "
                           f"{d['tail_ratio'][j]:.2f}")
        axes[0].axhline(2 / d["lr"][j], color=c, ls=":", lw=1.0)
        axes[1].plot(d["t"], d["loss"][:, j], color=c, lw=0.8)
    axes[0].set_xlabel("GD step $t$")
    axes[0].set_ylabel(r"sharpness $\lambda_{\max}$ (dotted: $2/\eta$)")
    axes[0].set_title("progressive sharpening, then the edge of stability", fontsize=10)
    repro.legend_outside(axes[0], loc="below", ncol=1, fontsize=8)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("GD step $t$")
    axes[1].set_ylabel("train loss (MSE)")
    axes[1].set_title(f"the loss falls over long times, not monotonically\n({int(np.sum(d['loss_increases']))} "
                      "increases between records)", fontsize=10)
    j = int(np.argmax(d["lr"]))
    lr = d["lr"][j]
    axes[2].plot(d["t"] * lr, d["sharpness"][:, j], color=colors[j], lw=1.0,
                 label=f"GD, $\\eta$ = {lr:g} (time = $\\eta\\times$ step)")
    axes[2].plot(d["flow_time"], d["flow_sharpness"], "k-", lw=1.5, label="gradient flow, same start")
    if d["phi"].size:
        axes[2].plot(d["phi_t"] * lr, d["phi"], "o", color="C3", ms=5, label=r"GFS sharpness $\phi(w_t)$ along GD")
    axes[2].set_xlim(0, d["flow_time"][-1])
    axes[2].axhline(2 / lr, color=colors[j], ls=":", lw=1.0, label=f"$2/\\eta$ = {2 / lr:g}")
    axes[2].set_xlabel(r"time $t$ ($= \eta \times$ GD step)")
    axes[2].set_ylabel(r"sharpness $\lambda_{\max}$")
    end = d["flow_sharpness"][-1]
    peak = float(np.nanmax(d["sharpness"][:, j])) * lr / 2  # GD's largest eta lambda_max / 2, read off the data
    axes[2].set_title(f"gradient flow sharpens to {end:.2f} by $t$ = {d['flow_time'][-1]:g};\nGD: "
                      f"$\\eta\\lambda_{{\\max}}/2$ peaks at {peak:.2f}, last 20% mean {d['tail_ratio'][j]:.2f}",
                      fontsize=10)
    repro.legend_outside(axes[2], loc="below", ncol=1, fontsize=8)
    fig.suptitle(f"Full-batch GD on digits ($n$ = {cfg['n']}, MLP {list(cfg['sizes'])} tanh, $P$ = {d['n_params']}, "
                 "MSE)")
    lines = summary_lines("tanh/mse", d)
    if d["phi"].size:
        lines.append("phi along GD at lr = %g: %s" % (lr, np.array2string(d["phi"], precision=2)))
    if progress:
        print("\n".join(lines))
    return repro.save_figure(fig, out, "cohen2021_eos_digits", d, {**meta, "summary": lines,
                                                                   "data_checksum": d["checksum"]}, pdf=cfg["pdf"])


def _variants_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(cfg["variants"]), figsize=(6.5 * len(cfg["variants"]), 6.5), sharex=True,
                             squeeze=False, constrained_layout=True)
    data, lines = {}, []
    for k, (act, loss, lrs) in enumerate(cfg["variants"]):
        d, *_ = run_gd(cfg, act, loss, lrs, cfg["variant_steps"], seed, progress)
        colors = [f"C{i}" for i in range(d["lr"].size)]
        for j, c in enumerate(colors):
            axes[0, k].plot(d["t"], d["sharpness"][:, j], color=c, lw=1.0,
                            label=f"$\\eta$ = {d['lr'][j]:g}: last 20% mean $\\eta\\lambda_{{\\max}}/2$ = "
                                  f"{d['tail_ratio'][j]:.2f}")
            axes[0, k].axhline(2 / d["lr"][j], color=c, ls=":", lw=1.0)
            axes[1, k].plot(d["t"], d["loss"][:, j], color=c, lw=0.8)
        loss_name = "MSE" if loss == "mse" else loss.replace("_", "-")
        at_edge = int(np.sum(d["tail_ratio"] > 0.9))
        verdict = (f"late $\\eta\\lambda_{{\\max}}/2 > 0.9$ for {at_edge} of {d['lr'].size} step sizes" if at_edge
                   else "below the edge: the sharpness decays as the cross-entropy falls"
                   if loss != "mse" else "below the edge")
        axes[0, k].set_title(f"{act} MLP, {loss_name}: {verdict}", fontsize=10)
        axes[1, k].set_yscale("log")
        axes[1, k].set_xlabel("GD step $t$")
        axes[0, k].set_ylabel(r"sharpness $\lambda_{\max}$ (dotted: $2/\eta$)")
        axes[1, k].set_ylabel(f"train loss ({loss_name})")
        repro.legend_outside(axes[1, k], loc="below", ncol=1, fontsize=8,
                             handles=axes[0, k].get_legend_handles_labels()[0])
        data.update({f"{act}_{loss}_{name}": v for name, v in d.items()})
        lines += summary_lines(f"{act}/{loss}", d)
    fig.suptitle("Edge of stability for other activations and losses (digits)")
    if progress:
        print("\n".join(lines))
    return repro.save_figure(fig, out, "cohen2021_eos_variants", data, {**meta, "summary": lines}, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the initialisation.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"eos_digits": _eos_figure(config, out, meta, seed, progress),
            "eos_variants": _variants_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
