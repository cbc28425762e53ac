"""Reproduction: G. Gur-Ari, D. A. Roberts, E. Dyer, "Gradient descent happens in a tiny subspace"
(arXiv:1812.04754), on real data offline.

Along SGD on an MLP classifier, the Hessian of the training loss has as many large outlier eigenvalues as the
data has classes, above a bulk, and after a short initial phase the full-batch gradient lies mostly in the span
of those top eigenvectors: f_k(t) = ||P_k g_t||^2 / ||g_t||^2 with k = the number of classes is close to 1,
where a random k-dimensional subspace would hold k / P of it. The top subspace itself changes little after the
initial phase.

Figures
-------
1. ``tiny_subspace_spectrum``: the top 2k Hessian eigenvalues along SGD (outliers coloured, the next k grey)
   for digits (k = 10) and wine (k = 3), and the whole spectrum at the end of training (dense Hessian), with
   the k outliers marked.
2. ``tiny_subspace_overlap``: f_k(t) along SGD at two learning rates and along full-batch GD, with the
   random-subspace level k / P; and the persistence of the top subspace, (1/k) ||V_t^T V_t'||_F^2 against
   t for t' at the end of the initial phase.

Fidelity notes (also in the README):
* Data substitution [spec: real_data.md, section 3]: scikit-learn's digits (the first 1000 training points,
  10 classes) and wine (133 training points, 3 classes), for the paper's MNIST and CIFAR-10; mnist1d is in the
  full tier. Features are scaled to [0, 1] with the training minimum and maximum (as MNIST pixels), not
  standardised: the outliers come from the mean of the last hidden layer's features (for MSE the last layer's
  Gauss-Newton block is I_k (x) E[h h^T], whose top eigenvalue |E h|^2 appears k times). Standardised digits
  give the same 10 outliers but a weaker overlap (0.56-0.59 instead of 0.87-0.91, measured once).
* Model [GAP: the paper's architectures and settings are not confirmed]: one-hidden-layer ReLU MLPs with biases
  ([64, 32, 10] for digits, [13, 32, 3] for wine), standard scaling, MSE on one-hot targets; SGD with
  replacement, batch 32 (digits) or 16 (wine), at two learning rates.
* The gradient in f_k is the full-batch gradient at the iterate (for SGD as for GD); the eigenvectors are
  Lanczos Ritz vectors on exact Hessian-vector products (``gdsim.dynamics.top_eigenpairs``, and the
  ``observe="gradient_overlap:K"`` observable), warm-started from record to record.
* Outlier count: the position of the largest ratio lambda_i / lambda_{i+1} among the top 2k eigenvalues.
* What does not hold as the abstract states it: full-batch GD at a small learning rate does *not* stay in the
  top subspace. The gradient's top components decay fastest (as (1 - lr lambda_i)^t), and f_k falls to about
  1e-3 within a few hundred steps. f_k stays high for SGD, whose noise refills the top directions, and for GD
  at the edge of stability (wine at lr = 0.2, where lr lambda_max / 2 approaches 1), as Song, Ahn and Yun
  (2024, "Does SGD really happen in tiny subspaces?") also report.
* Cross-entropy (measured once on digits, not in the figures): the count is k - 1 = 9 early in training (the
  softmax output Hessian has rank k - 1) and 10 later; SGD overlaps 0.66-0.94.
* Full tier, measured once (154 s): SGD overlaps 0.85-0.96 on digits, mnist1d and wine; GD at lr = 0.2 reaches
  the edge of stability (lr S/2 = 0.99-1.18) with overlaps 0.86-1.00. On mnist1d the largest-gap count becomes
  1-2 after step 2700 (the top one or two eigenvalues move further out; lambda_10 / lambda_11 = 1.16).
"""

from __future__ import annotations

import numpy as np

import gdsim.data as gdata
import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim import repro

NAME = "gurari2018_tiny_subspace"
TITLE = "Gradient descent happens in a tiny subspace (Gur-Ari, Roberts & Dyer, 2018)"
FIGURES = {
    "tiny_subspace_spectrum": "top Hessian eigenvalues along SGD (k outliers above a bulk) and the final spectrum",
    "tiny_subspace_overlap": "fraction of the gradient in the top-k eigenspace along SGD and GD; persistence",
}
RUNTIME = {"quick": "~40 s (25 s of it compilation)", "full": "~3 min"}
BIBTEX = """
@article{gurari2018gradient,
  title   = {Gradient Descent Happens in a Tiny Subspace},
  author  = {Gur-Ari, Guy and Roberts, Daniel A. and Dyer, Ethan},
  journal = {arXiv preprint arXiv:1812.04754},
  year    = {2018}
}
"""

#: per data set: (name, n training points or None for all, hidden width, SGD batch, SGD lrs, GD lrs)
QUICK = dict(datasets=(("digits", 1000, 32, 32, (0.05, 0.2), (0.05,)),
                       ("wine", None, 32, 16, (0.05, 0.2), (0.05, 0.2))),
             steps=1000, record_every=40, initial_fraction=0.2, pdf=False)
# (full tier: widths of 64 keep P <= 4810, where the dense final spectrum takes under a minute)
FULL = dict(QUICK, datasets=(("digits", None, 64, 32, (0.05, 0.2), (0.05, 0.2)),
                             ("mnist1d", 4000, 64, 32, (0.05, 0.2), (0.05, 0.2)),
                             ("wine", None, 64, 16, (0.05, 0.2), (0.05, 0.2))),
            steps=5000, record_every=100, pdf=True)


def unit_interval(ds):
    """Training and test features scaled to [0, 1] by the training minimum and maximum (constant features: 0)."""
    lo, hi = ds.X.min(axis=0), ds.X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (ds.X - lo) / span, (ds.X_test - lo) / span


def problem(name, n, width, seed=repro.DEFAULT_SEED):
    """The data set, the ReLU MLP with MSE on one-hot targets, and its initial parameters."""
    ds = gdata.load(name, n_samples=n, seed=0, standardise=False)
    X, _ = unit_interval(ds)
    k = len(ds.classes)
    m = gm.mlp([X.shape[1], int(width), k], "relu", "mse", data=(X, ds.one_hot()))
    return ds, m, m.init(np.random.SeedSequence(seed, spawn_key=(0,)))


def outlier_count(top):
    """Outliers above the bulk: the position of the largest ratio lambda_i / lambda_{i+1} (top (..., 2k) descending)."""
    top = np.asarray(top, dtype=float)
    return np.argmax(top[..., :-1] / top[..., 1:], axis=-1) + 1


def subspace_persistence(V, ref):
    """(1/k) ||V_t^T V_ref||_F^2 for every record t: 1 when the top-k spaces agree, k/P for random ones."""
    k = V.shape[-2]
    return (np.einsum("tip,jp->tij", V, ref) ** 2).sum(axis=(1, 2)) / k


def run(cfg, name, n, width, batch, sgd_lrs, gd_lrs, seed=repro.DEFAULT_SEED, seeds=1, progress=False) -> dict:
    """SGD at ``sgd_lrs`` and full-batch GD at ``gd_lrs`` from the same start(s); top 2k eigenvalues and f_k.

    With ``seeds`` > 1 the initialisations (and SGD streams) of several seeds run in one batch: arrays then have
    a leading seed axis after the record axis, (n_records, seeds, lrs).
    """
    ds, m, _ = problem(name, n, width, seed)
    k = len(ds.classes)
    w0 = np.stack([m.init(np.random.SeedSequence(seed + s, spawn_key=(0,))) for s in range(int(seeds))])
    obs = ("loss", "w", f"top_k:{2 * k}", f"gradient_overlap:{k}")
    steps, every = int(cfg["steps"]), int(cfg["record_every"])
    out = dict(name=name, k=k, n_params=m.n_params, n_train=ds.X.shape[0], checksum=ds.checksum)
    for opt, lrs in (("sgd", sgd_lrs), ("gd", gd_lrs)):
        lrs = np.asarray(lrs, dtype=float)
        W = np.repeat(w0[:, None, :], lrs.size, axis=1)
        if opt == "sgd":
            res = gdyn.sgd(m, W, lrs, steps, batch_size=int(batch), record_every=every, observe=obs,
                           seed=np.random.SeedSequence(seed, spawn_key=(1,)), progress=progress)
        else:
            res = gdyn.gd(m, W, lrs, steps, record_every=every, observe=obs, seed=seed, progress=progress)
        out[opt] = dict(lr=lrs, t=res.t, loss=res.loss, top=res.top_k, overlap=res.gradient_overlap, w=res.w,
                        diverged=res.diverged)
    return out, m


def after_initial_phase(cfg, t):
    """Records after the initial phase (the first ``initial_fraction`` of the steps)."""
    return t >= cfg["initial_fraction"] * cfg["steps"]


def measure(cfg, d, m, seed=repro.DEFAULT_SEED) -> dict:
    """The claims' numbers per run: outlier count at the end, mean f_k after the initial phase, persistence."""
    k = d["k"]
    late = after_initial_phase(cfg, d["sgd"]["t"])
    out = {}
    for opt in ("sgd", "gd"):
        r = d[opt]
        out[opt] = dict(lr=r["lr"], outliers_final=outlier_count(r["top"][-1]),
                        outliers_late=outlier_count(r["top"][late]),
                        gap_ratio_final=r["top"][-1][..., k - 1] / r["top"][-1][..., k],
                        overlap_late=np.nanmean(r["overlap"][late], axis=0),
                        overlap_min_late=np.nanmin(r["overlap"][late], axis=0))
    # persistence of the top-k space along the first seed's SGD run at the smaller lr, from the end of the
    # initial phase: Ritz vectors at every record (one Lanczos per record)
    r = d["sgd"]
    i0 = int(np.argmax(late))
    _, V = gdyn.top_eigenpairs(m, r["w"][:, 0, 0], k, seed=seed)
    out["persistence_t"] = r["t"]
    out["persistence"] = subspace_persistence(V, V[i0])
    out["persistence_ref"] = r["t"][i0]
    return out


def _spectrum_figure(cfg, runs, out, meta):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(runs), figsize=(6.0 * len(runs), 8.0), squeeze=False, constrained_layout=True)
    data, lines = {}, []
    for c, (d, m, mm) in enumerate(runs):
        k, r = d["k"], d["sgd"]
        ax = axes[0, c]
        top = r["top"][:, 0, 0]
        shades = plt.cm.viridis(np.linspace(0.0, 0.9, k))
        for i in range(2 * k):
            ax.plot(r["t"], top[:, i], color=shades[i] if i < k else "0.6", lw=1.2 if i < k else 0.8)
        ax.set_yscale("log")
        ax.set_xlabel("SGD step $t$")
        ax.set_ylabel(f"top {2 * k} Hessian eigenvalues $\\lambda_i$")
        ax.set_title(f"{d['name']} ({k} classes), SGD $\\eta$ = {r['lr'][0]:g}: {k} outliers (colour) above the next {k} "
                     "(grey)", fontsize=9)
        # the whole spectrum at the end of training, from the dense Hessian
        lam = np.linalg.eigvalsh(m.hessian(r["w"][-1, 0, 0]))[::-1]
        ax = axes[1, c]
        tol = 1e-12 * lam[0]  # eigenvalues within round-off of 0 are neither counted positive nor negative
        pos = lam[lam > tol]
        n_neg, n_zero = int(np.sum(lam < -tol)), int(np.sum(np.abs(lam) <= tol))
        bins = np.logspace(np.log10(pos.min()), np.log10(lam[0]) + 0.05, 60)
        ax.hist(pos, bins=bins, color="0.5",
                label=f"the {pos.size} positive of {lam.size} eigenvalues\n({n_neg} negative, {n_zero} within "
                      f"$10^{{-12}}\\lambda_1$ of 0: not shown)")
        ax.hist(lam[:k], bins=bins, color="C3", label=f"top {k}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Hessian eigenvalue $\\lambda$ at the end of SGD")
        ax.set_ylabel("number of eigenvalues per bin")
        ax.set_title(f"final spectrum: $\\lambda_{{{k}}} / \\lambda_{{{k + 1}}}$ = {lam[k - 1] / lam[k]:.2f}, "
                     f"{n_neg} negative", fontsize=9)
        repro.legend_outside(ax, loc="below", ncol=2)
        data.update({f"{d['name']}_t": r["t"], f"{d['name']}_top": top, f"{d['name']}_final_spectrum": lam})
        lines.append(f"{d['name']}: P = {d['n_params']}, n = {d['n_train']}; final lambda_k/lambda_k+1 = "
                     f"{lam[k - 1] / lam[k]:.2f}; outlier count along SGD (largest ratio): "
                     f"{np.array2string(outlier_count(r['top'][:, :, 0]).T, separator=',')}")
    fig.suptitle("Hessian outliers: one per class, above the bulk (ReLU MLP, MSE, features in [0, 1])")
    return repro.save_figure(fig, out, "gurari2018_tiny_subspace_spectrum", data, {**meta, "summary": lines},
                             pdf=cfg["pdf"]), lines


def _overlap_figure(cfg, runs, out, meta):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs) + 1, figsize=(5.5 * (len(runs) + 1), 4.5), constrained_layout=True)
    data, lines = {}, []
    for c, (d, m, mm) in enumerate(runs):
        ax, k = axes[c], d["k"]
        lo = 1.0
        for opt, palette, ls in (("sgd", ("C0", "C2", "C5"), "-"), ("gd", ("C3", "C1", "C4"), "--")):
            r = d[opt]
            for j, col in enumerate(palette[:r["lr"].size]):
                f = r["overlap"][:, 0, j]
                lo = min(lo, np.nanmin(f[f > 0]))
                ax.plot(r["t"], r["overlap"][:, 0, j], ls, color=col, lw=1.2,
                        label=f"{opt.upper()} $\\eta$ = {r['lr'][j]:g}: late mean {mm[opt]['overlap_late'][0, j]:.2g}, "
                              f"final $\\eta\\lambda_1/2$ = {r['lr'][j] * r['top'][-1, 0, j, 0] / 2:.2f}")
                data[f"{d['name']}_{opt}_overlap_lr{r['lr'][j]:g}"] = r["overlap"][:, 0, j]
        ax.axhline(k / d["n_params"], color="k", ls=":", lw=1.0, label=f"random {k}-dim subspace: $k/P$")
        t_init = cfg["initial_fraction"] * cfg["steps"]
        ax.axvline(t_init, color="0.7", lw=0.8, label=f"end of the initial phase ($t$ = {t_init:g}): late means from here")
        ax.set_yscale("log")
        ax.set_ylim(10 ** np.floor(np.log10(lo)), 2.0)  # every recorded value inside the axes
        ax.set_xlabel("step $t$")
        ax.set_ylabel(r"$f_k = \|P_k g\|^2 / \|g\|^2$" + f",  $k$ = {k}")
        ax.set_title(f"{d['name']}: the gradient in the top-{k} eigenspace", fontsize=10)
        repro.legend_outside(ax, loc="below", ncol=1, fontsize=7)
        data[f"{d['name']}_t"] = d["sgd"]["t"]
        for opt in ("sgd", "gd"):
            lines.append(f"{d['name']} {opt}: lr {mm[opt]['lr']}; f_k after the initial phase, mean "
                         f"{np.array2string(mm[opt]['overlap_late'][0], precision=3)}, min "
                         f"{np.array2string(mm[opt]['overlap_min_late'][0], precision=3)}; outliers at the end "
                         f"{mm[opt]['outliers_final'][0]}; final lr S/2 "
                         f"{np.array2string(mm[opt]['lr'] * d[opt]['top'][-1, 0, :, 0] / 2, precision=3)}")
        axes[-1].plot(mm["persistence_t"], mm["persistence"], "o-", ms=3, label=f"{d['name']} ($k$ = {k})")
        data[f"{d['name']}_persistence"] = mm["persistence"]
        lines.append(f"{d['name']} persistence of the top-{k} space (from step {mm['persistence_ref']:g}): min after "
                     f"it {mm['persistence'][mm['persistence_t'] >= mm['persistence_ref']].min():.3f}")
    axes[-1].set_ylim(0, 1.05)
    axes[-1].set_xlabel("SGD step $t$ (smaller $\\eta$)")
    axes[-1].set_ylabel(r"$(1/k)\,\|V_t^\top V_{t'}\|_F^2$")
    axes[-1].set_title("the top subspace persists ($t'$ = end of the initial phase)", fontsize=10)
    t_ref = float(mm["persistence_ref"])
    axes[-1].axvline(t_ref, color="0.7", lw=0.8, label=f"$t'$ = {t_ref:g}")
    repro.legend_outside(axes[-1], loc="below", ncol=1, fontsize=7)
    fig.suptitle("After a short initial phase SGD's gradient lies in the top-$k$ Hessian eigenspace "
                 "(GD at a small $\\eta$ leaves it)")
    return repro.save_figure(fig, out, "gurari2018_tiny_subspace_overlap", data, {**meta, "summary": lines},
                             pdf=cfg["pdf"]), lines


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the initialisation and of the SGD streams.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    runs = []
    for spec in config["datasets"]:
        d, m = run(config, *spec, seed=seed, progress=progress)
        runs.append((d, m, measure(config, d, m, seed)))
    meta = {**meta, "data_checksums": {d["name"]: d["checksum"] for d, _, _ in runs}}
    spectrum, l1 = _spectrum_figure(config, runs, out, meta)
    overlap, l2 = _overlap_figure(config, runs, out, meta)
    if progress:
        print("\n".join(l1 + l2))
    return {"tiny_subspace_spectrum": spectrum, "tiny_subspace_overlap": overlap}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
