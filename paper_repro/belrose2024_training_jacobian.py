"""Reproduction: N. Belrose, A. Scherlis, "Understanding Gradient Descent through the Training Jacobian"
(arXiv:2412.07003; code EleutherAI/training-jacobian), on real data offline.

The Jacobian J = d w_T / d w_0 of the trained parameters with respect to the initial ones has a "chaotic" region
of singular values well above one, a "bulk" extremely close to one and a "stable" region below one; bulk left and
right singular vectors nearly coincide (u_j . v_j ~ 1), bulk subspaces overlap across seeds, and the picture
changes little when the labels are shuffled. Here J is exact in float64 (``gdsim.dynamics.training_jacobian``:
products of exact Hessian-vector products along the stored run, dense at this size).

Figures
-------
1. ``belrose2024_spectrum``: the singular values of J (net of the exactly trivial directions, see below) for
   several seeds and with shuffled labels; |sigma_j - 1| on a log scale (the authors' control plot); and the
   top singular value in three regimes: convex GD (linear regression on one-hot targets), full-batch GD on the MLP, and
   the authors' minibatch SGD with heavy-ball momentum 0.9 and a cosine learning rate.
2. ``belrose2024_alignment``: u_j . v_j against j (real and shuffled labels), and the overlap of the bulk,
   chaotic and stable right-singular subspaces across seeds and with shuffled labels, against the random
   level k / P'.

Fidelity notes (also in the sidecars):
* Setting [spec section 2]: the authors' optimiser (minibatch SGD, heavy ball 0.9, m <- g + 0.9 m,
  w <- w - lr_t m, lr_t = lr0 (1 + cos(pi t / T)) / 2) on the authors' data preprocessing (digits pixels / 16) and
  model family (one hidden GELU layer, tanh form, cross-entropy), smaller: hidden width 8 instead of 64
  (P = 610 instead of 4810), 200 training points (classes balanced, gdsim's fixed split) instead of 1600, batch
  32, 150 steps (24 epochs); float64 instead of float32.
* Minibatches: a uniformly random subset per step from the run's counter-based stream (the engine's
  ``SGD(replace=False)``), not the authors' fixed reshape of the shuffled set reused every epoch.
* Initialisation: gdsim's standard scaling, W ~ N(0, 1/fan_in), biases 0 (the authors: truncated LeCun normal
  and N(0, 1/64) biases).
* Trivial directions [spec section 7]: directions that never change the training outputs have sigma = 1
  exactly: first-layer weights along the null space of the inputs (the always-zero pixels; h (64 - rank X)
  directions) and the softmax shift (adding one vector to every class's output weights, or one constant to every
  output bias: h + 1 directions). The script builds this basis T from the data, checks ||J t - t|| and
  ||J^T t - t|| for it (both invariant), and reports the spectrum of J restricted to the complement (P' = P - dim T).
  The authors' counts include such directions.
* Regions: the authors use no thresholds; here bulk = |sigma - 1| < tau, chaotic = sigma > 1 + tau,
  stable = sigma < 1 - tau, reported for tau in {1e-2, 1e-3, 1e-6} (the headline is tau = 1e-3).
* Cross-seed overlap [GAP: the paper's metric was not found]: ||V_a^T V_b||_F^2 / k for the k right singular
  vectors closest to 1 (k = the smaller bulk count of the pair at tau = 1e-3), against k / P' for random
  subspaces; the same for the top-k (chaotic) and bottom-k (stable) vectors.
* Which regime produces the chaotic region: with full-batch GD, lr lambda_max < 2 and a PSD Hessian every factor
  I - lr H_t has norm <= 1, so sigma_1 <= 1 (the convex control shows it). On the MLP the Hessian has negative
  eigenvalues along the run (a negative Ritz value of the exact Hessian at sampled steps proves it), and
  1 - lr lambda > 1 along them: GD at lr lambda_max
  < 2 already has sigma_1 >> 1. Momentum adds transient growth in the authors' setting.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

import gdsim.data as gdata
import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim import repro

NAME = "belrose2024_training_jacobian"
TITLE = "Understanding gradient descent through the training Jacobian (Belrose & Scherlis, 2024)"
FIGURES = {
    "belrose2024_spectrum": "singular values of the training Jacobian: chaotic, bulk, stable; shuffled labels; "
                            "the regimes that produce sigma > 1",
    "belrose2024_alignment": "left/right singular-vector alignment and bulk-subspace overlap across seeds",
}
RUNTIME = {"quick": "~60-110 s on 2 shared cores (compilation included)", "full": "not measured (~30 min estimated)"}
BIBTEX = """
@article{belrose2024training,
  title   = {Understanding Gradient Descent through the Training Jacobian},
  author  = {Belrose, Nora and Scherlis, Adam},
  journal = {arXiv preprint arXiv:2412.07003},
  year    = {2024}
}
"""

QUICK = dict(n_train=200, hidden=8, steps=150, batch=32, lr0=0.1, momentum=0.9, seeds=3, gd_lr=0.2,
             convex_lr_factor=1.9, lanczos_iters=12, taus=(1e-2, 1e-3, 1e-6), tau=1e-3, curvature_samples=5, pdf=False)
FULL = dict(QUICK, n_train=800, hidden=16, steps=400, batch=64, seeds=4, curvature_samples=10, pdf=True)

#: colour-blind-safe palette (Okabe & Ito)
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def problem(cfg, seed, shuffle=False):
    """Digits (pixels / 16), the GELU MLP [64, h, 10] with cross-entropy, and its initial parameters."""
    ds = gdata.load("digits", n_samples=int(cfg["n_train"]), seed=0, standardise=False)
    X, y = ds.X / 16.0, ds.y.copy()
    if shuffle:
        y = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,))).permutation(y)
    m = gm.mlp([64, int(cfg["hidden"]), 10], "gelu", "cross_entropy", data=(X, y),
               test_data=(ds.X_test / 16.0, ds.y_test))
    w0 = m.init(np.random.SeedSequence(seed, spawn_key=(0,)))
    return ds, X, y, m, w0


def cosine(lr0, T):
    """The authors' schedule optax.cosine_decay_schedule(lr0, T) at t = 0..T-1."""
    return lr0 * 0.5 * (1.0 + np.cos(np.pi * np.arange(T) / T))


def trivial_basis(X, h, n_out=10):
    """Orthonormal basis (P, r) of the directions that never change the training outputs (see module notes)."""
    d = X.shape[1]
    P = h * d + h + n_out * h + n_out
    _, s, Vt = np.linalg.svd(X, full_matrices=True)
    rank = int(np.sum(s > 1e-10 * s[0]))
    null = Vt[rank:]  # (d - rank, d)
    cols = []
    for z in null:
        for j in range(h):
            e = np.zeros(P)
            e[j * d:(j + 1) * d] = z
            cols.append(e)
    w1 = h * d + h  # W_1 (n_out, h) row-major, then b_1
    for i in range(h):
        e = np.zeros(P)
        e[w1 + np.arange(n_out) * h + i] = 1.0 / np.sqrt(n_out)
        cols.append(e)
    e = np.zeros(P)
    e[w1 + n_out * h:] = 1.0 / np.sqrt(n_out)
    cols.append(e)
    return np.array(cols).T, d - rank


def complement(B):
    """Orthonormal basis (P, P - r) of the orthogonal complement of the orthonormal columns B (P, r)."""
    Q, _ = np.linalg.qr(np.concatenate([B, np.eye(B.shape[0])], axis=1))
    return Q[:, B.shape[1]:B.shape[0]]


def regions(s, taus):
    """{tau: (chaotic, bulk, stable)} counts of singular values s."""
    return {float(t): (int(np.sum(s > 1 + t)), int(np.sum(np.abs(s - 1) <= t)), int(np.sum(s < 1 - t))) for t in taus}


def jacobian_run(cfg, seed, shuffle=False, progress=False):
    """The authors' optimiser from seed ``seed``: J restricted to the non-trivial complement, its SVD."""
    ds, X, y, m, w0 = problem(cfg, seed, shuffle)
    T = int(cfg["steps"])
    opt = gdyn.SGD(int(cfg["batch"]), replace=False, momentum=float(cfg["momentum"]))
    lr = cosine(float(cfg["lr0"]), T)
    tr = gdyn.training_trajectory(m, w0, opt, T, lr=lr, seed=np.random.SeedSequence(seed, spawn_key=(1,)))
    J = tr.dense(progress=progress)
    B, null_dim = trivial_basis(X, int(cfg["hidden"]))
    triv_err = max(np.abs(J @ B - B).max(), np.abs(J.T @ B - B).max())
    Q = complement(B)
    Jc = Q.T @ J @ Q
    U, s, Vt = np.linalg.svd(Jc)
    align = np.einsum("ij,ji->j", U, Vt)
    s_full = np.linalg.svd(J, compute_uv=False)
    acc = float(m.accuracy(tr.w_final))
    test_acc = float(m.accuracy(tr.w_final, m.test_data))
    return dict(seed=seed, shuffle=shuffle, s=s, align=align, V=Vt, s_full=s_full, P=m.n_params, P_net=Q.shape[1],
                trivial_dim=B.shape[1], null_dim=null_dim, trivial_err=float(triv_err), loss=tr.loss,
                train_acc=acc, test_acc=test_acc, checksum=ds.checksum, hvps=tr.hvps)


def overlap(Va, Vb):
    """||Va Vb^T||_F^2 / k for row bases (k, P') of two k-dimensional subspaces: 1 equal, k/P' random."""
    k = Va.shape[0]
    return float(np.sum((Va @ Vb.T) ** 2) / k)


def subspace_overlaps(ra, rb, tau):
    """Bulk (k closest to 1), chaotic (top k) and stable (bottom k) overlaps of two runs, k from the bulk counts."""
    ka = int(np.sum(np.abs(ra["s"] - 1) <= tau))
    kb = int(np.sum(np.abs(rb["s"] - 1) <= tau))
    k = max(1, min(ka, kb))
    ia = np.argsort(np.abs(ra["s"] - 1))[:k]
    ib = np.argsort(np.abs(rb["s"] - 1))[:k]
    return dict(k=k, random=k / ra["P_net"], bulk=overlap(ra["V"][ia], rb["V"][ib]),
                chaotic=overlap(ra["V"][:k], rb["V"][:k]), stable=overlap(ra["V"][-k:], rb["V"][-k:]))


def lowest_ritz_value(m, w, iters, seed):
    """The smallest Ritz value of ``iters`` Lanczos steps on the exact Hessian at w: an upper bound on lambda_min
    (a Rayleigh quotient), so a negative value proves negative curvature."""
    P = m.n_params
    q = np.random.default_rng(seed).standard_normal(P)
    Q = [q / np.linalg.norm(q)]
    a, b = [], []
    for j in range(min(iters, P)):
        z = m.hvp(w, Q[j])
        a.append(float(Q[j] @ z))
        Qm = np.array(Q)
        for _ in range(2):
            z = z - Qm.T @ (Qm @ z)
        b.append(float(np.linalg.norm(z)))
        if b[-1] <= 1e-12 * max(abs(a[-1]), 1e-300):
            break
        Q.append(z / b[-1])
    n = len(a)
    T = np.diag(a) + np.diag(b[:n - 1], 1) + np.diag(b[:n - 1], -1)
    return float(np.linalg.eigvalsh(T)[0])


def curvature_along(m, W, lr, n, seed):
    """lambda_max (gdsim Lanczos) and an upper bound on lambda_min (smallest Ritz value) of the full-batch
    Hessian at n evenly spaced iterates W[t]."""
    idx = np.unique(np.linspace(0, W.shape[0] - 2, int(n)).round().astype(int))
    lam_max = gdyn.top_eigenvalues(m, W[idx], 1, tol=1e-8, seed=seed)[:, 0]
    lam_min = np.array([lowest_ritz_value(m, W[t], 40, np.random.SeedSequence(seed, spawn_key=(3, i)))
                        for i, t in enumerate(idx)])
    return dict(t=idx, lam_min=lam_min, lam_max=lam_max, lr_lam_max=float(np.max(lr * lam_max)))


def regimes(cfg, seed, progress=False):
    """sigma_1 of convex GD (linear regression on one-hot targets) and of full-batch GD on the MLP, with the
    curvature along each run. sigma_1 here is a Lanczos Ritz value on J^T J after ``lanczos_iters`` steps: a lower
    bound, so a value above 1 proves a chaotic direction; for the convex model the closed form
    max_i |1 - lr lambda_i|^T (constant Hessian) is the exact value."""
    T = int(cfg["steps"])
    out = {}
    ds, X, y, m, w0 = problem(cfg, seed)
    lin = gm.mlp([64, 10], "linear", "mse", data=(X, np.eye(10)[y]))
    wl0 = lin.init(np.random.SeedSequence(seed, spawn_key=(0,)))
    lam_lin = np.linalg.eigvalsh(lin.hessian(wl0))
    lr_lin = float(cfg["convex_lr_factor"]) / lam_lin[-1]
    for name, model, w_init, lr in (("convex GD (linear regression)", lin, wl0, lr_lin),
                                    ("MLP, full-batch GD", m, w0, float(cfg["gd_lr"]))):
        res = gdyn.training_jacobian(model, w_init, gdyn.GD(), T, k=1, lr=lr, method="lanczos", tol=1e-8,
                                     max_iter=int(cfg["lanczos_iters"]), seed=seed, progress=progress)
        tr = gdyn.training_trajectory(model, w_init, gdyn.GD(), T, lr=lr)
        curv = curvature_along(model, tr.w, lr, cfg["curvature_samples"], seed)
        out[name] = dict(lr=lr, top=res.top, P=model.n_params, **curv)
    out["convex GD (linear regression)"]["exact_sigma_1"] = float(np.max(np.abs(1.0 - lr_lin * lam_lin)) ** T)
    out["convex GD (linear regression)"]["lam_min_exact"] = float(lam_lin[0])
    return out


def measure(cfg, seed=repro.DEFAULT_SEED, progress=False) -> dict:
    """Every number in the figures and claims: spectra of several seeds and of shuffled labels, overlaps, regimes."""
    runs = [jacobian_run(cfg, seed + i, progress=progress) for i in range(int(cfg["seeds"]))]
    shuffled = jacobian_run(cfg, seed, shuffle=True, progress=progress)
    tau = float(cfg["tau"])
    taus = tuple(float(t) for t in cfg["taus"])
    pairs = {f"{a}-{b}": subspace_overlaps(runs[a], runs[b], tau)
             for a, b in itertools.combinations(range(len(runs)), 2)}
    pairs["0-shuffled"] = subspace_overlaps(runs[0], shuffled, tau)
    for r in runs + [shuffled]:
        r["regions"] = regions(r["s"], taus)
        bulk = np.abs(r["s"] - 1) <= tau
        r["bulk_alignment"] = float(np.mean(r["align"][bulk])) if bulk.any() else float("nan")
        n10 = max(1, r["s"].size // 10)
        r["stable_alignment"] = float(np.mean(r["align"][-n10:]))
        r["chaotic_alignment"] = float(np.mean(r["align"][:n10]))
        r["n_above_2"] = int(np.sum(r["s"] > 2.0))
    reg = regimes(cfg, seed, progress)
    reg["MLP, SGD + momentum 0.9, cosine lr"] = dict(lr=float(cfg["lr0"]), top=runs[0]["s"][:1], P=runs[0]["P"])
    return dict(runs=runs, shuffled=shuffled, overlaps=pairs, regimes=reg, tau=tau, taus=taus)


def summary_lines(cfg, d):
    r0 = d["runs"][0]
    lines = [f"model [64, {cfg['hidden']}, 10] GELU, cross-entropy, n = {cfg['n_train']} digits; P = {r0['P']}, "
             f"trivial directions {r0['trivial_dim']} (null(X) dim {r0['null_dim']} x h + softmax shift h + 1), "
             f"P' = {r0['P_net']}; max ||J t - t||, ||J^T t - t|| over them "
             f"{max(r['trivial_err'] for r in d['runs']):.1e}"]
    for r in d["runs"] + [d["shuffled"]]:
        lab = "shuffled labels, seed +0" if r["shuffle"] else f"seed +{r['seed'] - d['runs'][0]['seed']}"
        reg = "; ".join(f"tau {t:g}: {c}/{b}/{s}" for t, (c, b, s) in r["regions"].items())
        lines.append(f"{lab}: sigma_1 = {r['s'][0]:.3g}, sigma > 2: {r['n_above_2']}, chaotic/bulk/stable of "
                     f"P' = {r['P_net']}: {reg}; u.v mean: bulk {r['bulk_alignment']:.4f}, top 10% "
                     f"{r['chaotic_alignment']:.3f}, bottom 10% {r['stable_alignment']:.3f}; train acc "
                     f"{r['train_acc']:.3f}, test acc {r['test_acc']:.3f}")
    for key, o in d["overlaps"].items():
        lines.append(f"overlap {key} (k = {o['k']}, random {o['random']:.3f}): bulk {o['bulk']:.3f}, chaotic "
                     f"{o['chaotic']:.3f}, stable {o['stable']:.3f}")
    for name, g in d["regimes"].items():
        extra = "" if "lam_min" not in g else (f", max lr lambda_max {g['lr_lam_max']:.2f}, smallest Ritz value of H "
                                               f"{g['lam_min'].min():.3g} at {g['t'].size} sampled steps")
        if "exact_sigma_1" in g:
            extra += (f"; exact sigma_1 = max |1 - lr lambda_i|^T = {g['exact_sigma_1']:.6g} "
                      f"(lambda_min {g['lam_min_exact']:.2g})")
        what = "sigma_1 (dense)" if "lam_min" not in g else "sigma_1 >= (Lanczos Ritz value)"
        lines.append(f"{name}: lr {g['lr']:.3g}, {what} {g['top'][0]:.4g}{extra}")
    return lines


def _save(fig, out, stem, data, meta, pdf):
    """repro.save_figure at 160 dpi (the project's >= 150 dpi rule)."""
    return repro.save_figure(fig, out, stem, data, meta, pdf=pdf, dpi=160)


def _spectrum_figure(cfg, d, out, meta):
    import matplotlib.pyplot as plt

    tau = d["tau"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), constrained_layout=True)
    ax = axes[0]
    data = {}
    for i, r in enumerate(d["runs"]):
        ax.plot(r["s"], color=COLORS[i], lw=1.3, label=f"seed +{i}: $\\sigma_1$ = {r['s'][0]:.3g}")
        data[f"s_seed{i}"] = r["s"]
        data[f"s_full_seed{i}"] = r["s_full"]
    sh = d["shuffled"]
    ax.plot(sh["s"], color="k", ls="--", lw=1.0, label=f"shuffled labels: $\\sigma_1$ = {sh['s'][0]:.3g}")
    data["s_shuffled"] = sh["s"]
    ax.axhline(1.0, color="0.5", lw=0.8)
    c, b, s = d["runs"][0]["regions"][tau]
    ax.axvspan(0, c, color=COLORS[5], alpha=0.08)
    ax.axvspan(c, c + b, color=COLORS[2], alpha=0.15)
    ax.set_yscale("log")
    ax.set_xlabel(r"index $j$ (descending $\sigma_j$)")
    ax.set_ylabel(r"singular value $\sigma_j$ of $J$ (non-trivial block)")
    ax.set_title(f"seed +0, $\\tau$ = {tau:g}: chaotic {c}, bulk {b} (shaded), stable {s} of $P'$ = "
                 f"{d['runs'][0]['P_net']}", fontsize=9)
    repro.legend_outside(ax, loc="below", ncol=2, fontsize=7)
    ax = axes[1]
    r0 = d["runs"][0]
    ax.semilogy(np.abs(r0["s"] - 1), color=COLORS[0], lw=1.3,
                label=f"real labels: bulk {r0['regions'][tau][1]}")
    ax.semilogy(np.abs(sh["s"] - 1), color="k", ls="--", lw=1.0,
                label=f"shuffled labels: bulk {sh['regions'][tau][1]}")
    for t in d["taus"]:
        ax.axhline(t, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel(r"index $j$")
    ax.set_ylabel(r"$|\sigma_j - 1|$")
    ax.set_title(f"bulk: $|\\sigma_j - 1| < \\tau$ (dotted: $\\tau$ = {', '.join(f'{t:g}' for t in d['taus'])})",
                 fontsize=9)
    repro.legend_outside(ax, loc="below", ncol=2, fontsize=8)
    ax = axes[2]
    names = list(d["regimes"])
    tops = [d["regimes"][n]["top"][0] for n in names]
    ax.bar(range(len(names)), tops, color=[COLORS[2], COLORS[1], COLORS[0]])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    labels = []
    for n in names:
        g = d["regimes"][n]
        lab = n.replace(", ", ",\n")
        if "lam_min" in g:
            lab += (f"\nmax $\\eta\\lambda_{{\\max}}$ = {g['lr_lam_max']:.2f}"
                    f"\nmin Ritz $\\lambda$ = {g['lam_min'].min():.2g}"
                    + (f"\nexact $\\sigma_1$ = {g['exact_sigma_1']:.4g}" if "exact_sigma_1" in g else ""))
        labels.append(lab)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel(r"top singular value $\sigma_1$ (GD: Lanczos lower bound)")
    ax.set_title(r"$\sigma_1 \leq 1$ when $\eta\lambda_{\max} < 2$ and $H$ is PSD; negative curvature or momentum "
                 "break it", fontsize=9)
    ax.set_ylim(0.3, 3.0 * max(tops))
    for i, t in enumerate(tops):
        ax.text(i, t * 1.1, f"{t:.3g}", ha="center", fontsize=8)
    data.update({f"regime{i}_top": np.asarray(d["regimes"][n]["top"]) for i, n in enumerate(names)})
    fig.suptitle("Training Jacobian of the authors' optimiser (SGD, momentum 0.9, cosine lr) on digits: "
                 "chaotic, bulk and stable singular values", fontsize=11)
    return _save(fig, out, "belrose2024_spectrum", data, meta, cfg["pdf"])


def _alignment_figure(cfg, d, out, meta):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), constrained_layout=True)
    ax = axes[0]
    r0, sh = d["runs"][0], d["shuffled"]
    ax.plot(r0["align"], ".", ms=2.5, color=COLORS[0], label=f"real labels: bulk mean {r0['bulk_alignment']:.4f}")
    ax.plot(sh["align"], ".", ms=2.5, color=COLORS[1], label=f"shuffled labels: bulk mean {sh['bulk_alignment']:.4f}")
    c, b, _ = r0["regions"][d["tau"]]
    ax.axvspan(c, c + b, color=COLORS[2], alpha=0.15, label=f"bulk of seed +0 ($\\tau$ = {d['tau']:g})")
    ax.set_xlabel(r"index $j$ (descending $\sigma_j$)")
    ax.set_ylabel(r"$u_j \cdot v_j$")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"left/right alignment: top 10% mean {r0['chaotic_alignment']:.2f}, bottom 10% mean "
                 f"{r0['stable_alignment']:.2f}", fontsize=9)
    repro.legend_outside(ax, loc="below", ncol=3, fontsize=7)
    ax = axes[1]
    keys = list(d["overlaps"])
    x = np.arange(len(keys))
    wdt = 0.2
    for j, (kind, col) in enumerate((("bulk", COLORS[2]), ("chaotic", COLORS[5]), ("stable", COLORS[0]),
                                     ("random", "0.6"))):
        ax.bar(x + (j - 1.5) * wdt, [d["overlaps"][k][kind] for k in keys], wdt, color=col,
               label=kind if kind != "random" else "random level $k/P'$")
    ax.set_xticks(x)
    ax.set_xticklabels([f"seeds {k}\n$k$ = {d['overlaps'][k]['k']}" if "shuffled" not in k else
                        f"seed 0 vs shuffled\n$k$ = {d['overlaps'][k]['k']}" for k in keys], fontsize=8)
    ax.set_ylabel(r"subspace overlap $\|V_a^\top V_b\|_F^2 / k$")
    ax.set_ylim(0, 1.05)
    ax.set_title("overlap of right-singular subspaces ($k$ = smaller bulk count of the pair)", fontsize=9)
    ax.set_xlabel("pair of training runs")
    repro.legend_outside(ax, loc="right", fontsize=7)
    data = {"align_seed0": r0["align"], "align_shuffled": sh["align"],
            **{f"overlap_{k}_{kind}": d["overlaps"][k][kind] for k in keys for kind in ("bulk", "chaotic", "stable",
                                                                                        "random", "k")}}
    fig.suptitle("Bulk singular vectors: left = right, and the bulk subspace is shared across seeds", fontsize=11)
    return _save(fig, out, "belrose2024_alignment", data, meta, cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the initialisations (seed + i for the i-th seed), SGD streams and the label permutation.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    d = measure(config, seed, progress)
    lines = summary_lines(config, d)
    meta = {**meta, "summary": lines, "data_checksum": d["runs"][0]["checksum"],
            "regions": {("shuffled" if r["shuffle"] else f"seed+{i}"): {f"{t:g}": v for t, v in r["regions"].items()}
                        for i, r in enumerate(d["runs"] + [d["shuffled"]])},
            "overlaps": d["overlaps"], "fidelity": __doc__.split("Fidelity notes (also in the sidecars):")[1].strip()}
    meta = json.loads(json.dumps(meta, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    spectrum = _spectrum_figure(config, d, out, meta)
    alignment = _alignment_figure(config, d, out, meta)
    if progress:
        print("\n".join(lines))
    return {"belrose2024_spectrum": spectrum, "belrose2024_alignment": alignment}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
