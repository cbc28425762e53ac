"""Reproduction: L. Wu, W. J. Su, "The implicit regularization of dynamical stability in stochastic gradient
descent", ICML 2023 (arXiv:2305.17490).

Linear (mean-square) stability of SGD at an interpolating minimum bounds the trace of the Hessian,
tr(H) <= 2/eta at batch size 1, where GD's stability bounds only lambda_max(H) <= 2/eta. Here the exact
mean-square operator S -> E[(I - eta H_B) S (I - eta H_B)] (:func:`gdsim.dynamics.sgd_stability_threshold`)
gives the exact threshold eta*_B, and SGD on a diagonal linear network ends where the bound says.

Figures
-------
1. ``threshold``: eta*_1 tr(H) over random instances (<= 2, equal to 2 for orthogonal equal-norm per-sample
   gradients); eta*_B lambda_max against B with and without replacement (GD's 2 at B = n without
   replacement); the interpolating combination eta*_B (tr(H)/B + (1 - 1/B) lambda_max) against 2 (an
   observation, not a bound: the panel counts the measured counter-examples).
2. ``diagonal_net``: eta tr(H) and eta lambda_max at the end of SGD (B = 1) and GD on a diagonal linear network
   f(x) = <u*u - v*v, x>, against eta; and eta / eta*_1(w_end), the end point's exact threshold.

Fidelity notes (also in the README):
* Random instances [INFERRED, the spec's reference run]: n in 2..7 samples, d in 2..5, per-sample gradients
  g_i ~ N(0, I), H_i = g_i g_i^T (square loss at interpolation), loss the mean of per-sample losses.
* The general-B statement of the paper is a [GAP]. The spec observed eta*_B (tr(H)/B + (1 - 1/B) lambda_max)
  <= 2 for B in {2, 4}. It is not a bound: it fails near or above B = n with replacement, and also at B <= n/2
  on some instances (the threshold figure counts them on 325 random n = 6, d = 5, B = 2 instances with
  replacement; an outside check found 2.108). An observation, with counter-examples, not a bound.
* Diagonal net (spec): n = 10, d = 30, standardised Gaussian columns, beta* = (1, -1, 0, ...), u = v = 0.5 at
  the start, B = 1 with replacement, 2e5 steps, 3 seeds per eta; a run converged when its loss is < 1e-12.
  The model is a ``gdsim.models.custom`` model (a plain Python loss_grad, complex-step Hessians).
* "A precise characterization of SGD stability using loss surface geometry" (seed list): its sufficient
  condition is not in the spec [GAP]; the exact spectral radius (:func:`gdsim.dynamics.sgd_stability_radius`)
  is what it would be compared against.
"""

from __future__ import annotations

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim import repro

NAME = "wu2023_sgd_stability"
TITLE = "The implicit regularization of dynamical stability in SGD (Wu & Su, ICML 2023)"
FIGURES = {
    "threshold": "exact mean-square threshold eta*_B against tr(H) and lambda_max over random instances",
    "diagonal_net": "eta tr(H) at the end of SGD (B = 1) and GD on a diagonal linear network",
}
RUNTIME = {"quick": "~30 s (25 s of it compilation)", "full": "~3 min"}
BIBTEX = """
@inproceedings{wu2023implicit,
  title     = {The Implicit Regularization of Dynamical Stability in Stochastic Gradient Descent},
  author    = {Wu, Lei and Su, Weijie J.},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  pages     = {37656--37684},
  year      = {2023},
  eprint    = {2305.17490}
}
"""

QUICK = dict(instances=100, batches=(1, 2, 4), n=10, d=30, lrs=(0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06),
             seeds=3, steps=200000, converged_loss=1e-12, pdf=False)
FULL = dict(QUICK, instances=1000, lrs=tuple(np.round(np.linspace(0.005, 0.07, 14), 4).tolist()), seeds=10,
            steps=500000, pdf=True)


def per_sample_hessians(g):
    """H_i = g_i g_i^T for per-sample gradients g (n, P)."""
    return np.einsum("ni,nj->nij", g, g)


def random_instances(cfg, seed) -> dict:
    """eta*_B on random instances, with tr(H) and lambda_max."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    batches = tuple(int(b) for b in cfg["batches"])
    rows = []
    for _ in range(int(cfg["instances"])):
        n, d = int(rng.integers(2, 8)), int(rng.integers(2, 6))
        Hi = per_sample_hessians(rng.standard_normal((n, d)))
        H = Hi.mean(axis=0)
        tr, lmax = np.trace(H), np.linalg.eigvalsh(H)[-1]
        thr = [gdyn.sgd_stability_threshold(Hi, b) for b in batches]
        full_rep = gdyn.sgd_stability_threshold(Hi, n)
        rows.append((n, d, tr, lmax, *thr, full_rep))
    a = np.array(rows)
    out = dict(n=a[:, 0], d=a[:, 1], trace=a[:, 2], lam_max=a[:, 3], batches=np.array(batches),
               threshold=a[:, 4:4 + len(batches)], threshold_B_n=a[:, -1])
    out["lr_trace_B1"] = out["threshold"][:, batches.index(1)] * out["trace"] if 1 in batches else None
    B = out["batches"][None, :]
    out["combination"] = out["threshold"] * (out["trace"][:, None] / B + (1 - 1 / B) * out["lam_max"][:, None])
    # orthogonal, equal-norm per-sample gradients: eta*_1 tr(H) = 2 exactly
    g = 1.7 * np.eye(5)[:4]
    Hi = per_sample_hessians(g)
    out["orthogonal_lr_trace"] = gdyn.sgd_stability_threshold(Hi, 1) * np.trace(Hi.mean(axis=0))
    return out


def counter_examples(seed, n=6, d=5, batch_size=2, instances=325) -> dict:
    """The spec's interpolation eta*_B (tr H / B + (1 - 1/B) lambda_max) <= 2 at B <= n/2, checked on random
    instances with n = 6, d = 5, B = 2 with replacement: it is not a bound (some instances exceed 2)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    comb = np.empty(instances)
    for i in range(instances):
        Hi = per_sample_hessians(rng.standard_normal((n, d)))
        H = Hi.mean(axis=0)
        eta = gdyn.sgd_stability_threshold(Hi, batch_size, True)
        comb[i] = eta * (np.trace(H) / batch_size + (1 - 1 / batch_size) * np.linalg.eigvalsh(H)[-1])
    return dict(n=n, d=d, batch_size=batch_size, combination=comb, exceed=int(np.sum(comb > 2.0)))


def batch_curve(seed, n=6, d=4) -> dict:
    """eta*_B lambda_max against B = 1..n for one instance, with and without replacement."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    Hi = per_sample_hessians(rng.standard_normal((n, d)))
    H = Hi.mean(axis=0)
    lmax, tr = np.linalg.eigvalsh(H)[-1], np.trace(H)
    B = np.arange(1, n + 1)
    rep = np.array([gdyn.sgd_stability_threshold(Hi, b, True) for b in B])
    norep = np.array([gdyn.sgd_stability_threshold(Hi, b, False) for b in B])
    return dict(B=B, with_replacement=rep * lmax, without_replacement=norep * lmax,
                trace_bound=2 / (tr / B + (1 - 1 / B) * lmax) * lmax, lam_max=lmax, trace=tr)


def uv_loss_grad(w, X, y, g):
    """Diagonal linear network f(x) = <u*u - v*v, x>, loss (1/2n) sum (f(x_i) - y_i)^2; w = (u, v).

    Written type-generically (``0.0 * w[0]`` zeros), so gdsim gets exact Hessians by the complex step."""
    n, d = X.shape
    loss = 0.0 * w[0]
    for j in range(2 * d):
        g[j] = 0.0 * w[0]
    for i in range(n):
        r = -y[i] + 0.0 * w[0]
        for j in range(d):
            r += (w[j] * w[j] - w[d + j] * w[d + j]) * X[i, j]
        loss += 0.5 * r * r / n
        for j in range(d):
            g[j] += 2.0 * w[j] * X[i, j] * r / n
            g[d + j] -= 2.0 * w[d + j] * X[i, j] * r / n
    return loss


def diagonal_net(cfg, seed):
    """The spec's diagonal-net problem as a custom model."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    n, d = int(cfg["n"]), int(cfg["d"])
    X = rng.standard_normal((n, d))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    beta = np.zeros(d)
    beta[:2] = (1.0, -1.0)
    return gm.custom(uv_loss_grad, 2 * d, data=(X, X @ beta), name="uv_diagonal_net")


def end_points(cfg, seed, progress=False) -> dict:
    """SGD (B = 1) and GD on the diagonal net: eta tr(H), eta lambda_max and eta / eta*_1 at the end points."""
    m = diagonal_net(cfg, seed)
    X = m.data[0]
    d = X.shape[1]
    lrs = np.asarray(cfg["lrs"], dtype=float)
    S = int(cfg["seeds"])
    steps = int(cfg["steps"])
    sgd = gdyn.sgd(m, np.full((S, lrs.size, 2 * d), 0.5), lrs, steps, batch_size=1, record_every=steps,
                   observe=("loss", "w"), seed=seed, progress=progress)
    gd = gdyn.gd(m, np.full((lrs.size, 2 * d), 0.5), lrs, steps, record_every=steps, observe=("loss", "w"),
                 progress=progress)
    tol = float(cfg["converged_loss"])

    def measure(w, lr, loss):
        if not loss < tol:
            return np.nan, np.nan, np.nan
        H = m.hessian(w)
        u, v = w[:d], w[d:]
        Hi = per_sample_hessians(np.concatenate([2 * u * X, -2 * v * X], axis=1))
        return lr * np.trace(H), lr * np.linalg.eigvalsh(H)[-1], lr / gdyn.sgd_stability_threshold(Hi, 1)

    sgd_m = np.array([[measure(sgd.w[-1, s, k], lrs[k], sgd.loss[-1, s, k]) for k in range(lrs.size)]
                      for s in range(S)])
    gd_m = np.array([measure(gd.w[-1, k], lrs[k], gd.loss[-1, k]) for k in range(lrs.size)])
    X2 = (X ** 2).mean(axis=0)
    wl1 = np.array([[np.sum(X2 * np.abs(sgd.w[-1, s, k, :d] ** 2 - sgd.w[-1, s, k, d:] ** 2)) for k in range(lrs.size)]
                    for s in range(S)])
    return dict(lr=lrs, sgd_lr_trace=sgd_m[..., 0], sgd_lr_lam_max=sgd_m[..., 1], sgd_lr_over_threshold=sgd_m[..., 2],
                sgd_converged=sgd.loss[-1] < tol, gd_lr_trace=gd_m[:, 0], gd_lr_lam_max=gd_m[:, 1],
                gd_converged=gd.loss[-1] < tol, sgd_weighted_l1=np.where(sgd.loss[-1] < tol, wl1, np.nan))


def _threshold_figure(cfg, out, meta, seed):
    import matplotlib.pyplot as plt

    r = random_instances(cfg, seed)
    c = batch_curve(seed)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
    axes[0].hist(r["lr_trace_B1"], bins=30, color="C0", alpha=0.8, label="random instances, $B = 1$")
    axes[0].hist(r["threshold_B_n"] * r["trace"], bins=30, color="C3", alpha=0.5,
                 label="$B = n$, with replacement")
    axes[0].axvline(2.0, color="k", lw=1.2, label="2")
    axes[0].axvline(r["orthogonal_lr_trace"], color="C2", ls="--", lw=2,
                    label=f"orthogonal $g_i$ ($B = 1$): {r['orthogonal_lr_trace']:.9f}")
    axes[0].set_xlabel(r"$\eta^*_B\ \mathrm{tr}(H)$")
    axes[0].set_ylabel("number of instances")
    b1_max = np.max(r["lr_trace_B1"])
    bn_over = int(np.sum(r["threshold_B_n"] * r["trace"] > 2))
    axes[0].set_title(f"$\\eta^*_1\\,\\mathrm{{tr}}(H) \\leq 2$ at $B = 1$ (max {b1_max:.3f} over "
                      f"{r['trace'].size} instances);\nat $B = n$ (with replacement) {bn_over} of them exceed 2",
                      fontsize=9)
    repro.legend_outside(axes[0], loc="below", ncol=2)
    axes[1].plot(c["B"], c["with_replacement"], "o-", color="C0", label="with replacement")
    axes[1].plot(c["B"], c["without_replacement"], "s-", color="C1", label="without replacement")
    axes[1].plot(c["B"], c["trace_bound"], "k:",
                 label=r"$\lambda_{\max}\cdot 2/(\mathrm{tr}H/B + (1-1/B)\lambda_{\max})$ (interpolation)")
    axes[1].axhline(2.0, color="k", lw=1.0)
    axes[1].set_xlabel("batch size $B$")
    axes[1].set_ylabel(r"$\eta^*_B\ \lambda_{\max}(H)$")
    gd_gap = abs(c["without_replacement"][-1] - 2.0)
    axes[1].set_title(f"one instance, $n = {c['B'][-1]}$: without replacement $\\eta^*_n\\lambda_{{\\max}}$ = "
                      f"{c['without_replacement'][-1]:.6f}\n(GD's $2/\\lambda_{{\\max}}$, off by {gd_gap:.0e})",
                      fontsize=9)
    repro.legend_outside(axes[1], loc="below", ncol=1)
    for j, b in enumerate(r["batches"]):
        axes[2].hist(r["combination"][:, j], bins=30, histtype="step", lw=1.6, color=f"C{j}", label=f"$B = {b}$")
    axes[2].axvline(2.0, color="k", lw=1.2)
    axes[2].set_xlabel(r"$\eta^*_B\,(\mathrm{tr}H/B + (1-1/B)\lambda_{\max})$")
    axes[2].set_ylabel("number of instances")
    small = r["n"][:, None] >= 2 * r["batches"][None, :]
    ce = counter_examples(seed)
    axes[2].set_title(f"an observation, not a bound: max {np.max(r['combination'][small]):.4f} here for "
                      f"$B \\leq n/2$,\nbut {ce['exceed']} of {ce['combination'].size} random $n = {ce['n']}$, "
                      f"$d = {ce['d']}$, $B = {ce['batch_size']}$ instances exceed 2 (max {np.max(ce['combination']):.3f})",
                      fontsize=9)
    repro.legend_outside(axes[2], loc="below", ncol=3, bbox_to_anchor=(0.5, -0.24))
    fig.suptitle(r"Exact mean-square stability threshold $\eta^*_B$ of SGD at a minimum (the $d^2 \times d^2$ "
                 "operator)")
    lines = [f"B = 1: max eta* tr(H) = {np.max(r['lr_trace_B1']):.4f} over {r['trace'].size} instances",
             f"orthogonal case: eta* tr(H) = {r['orthogonal_lr_trace']:.12f}",
             f"B = n with replacement: max eta* tr(H) = {np.max(r['threshold_B_n'] * r['trace']):.3f}",
             f"combination: max {np.max(r['combination']):.4f} (B <= n/2: "
             f"{np.max(r['combination'][r['n'][:, None] >= 2 * r['batches'][None, :]]):.4f})",
             f"an observation, not a bound: {ce['exceed']} of {ce['combination'].size} random n = {ce['n']}, d = {ce['d']}, "
             f"B = {ce['batch_size']} instances (with replacement) exceed 2, max {np.max(ce['combination']):.4f}"]
    return repro.save_figure(fig, out, "wu2023_threshold", {**r, **{f"curve_{k}": v for k, v in c.items()},
                                                             "counter_example_combination": ce["combination"]},
                             {**meta, "summary": lines}, pdf=cfg["pdf"])


def _diag_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    e = end_points(cfg, seed, progress)
    lr = e["lr"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    S = e["sgd_lr_trace"].shape[0]
    for s in range(S):
        kw = dict(label=rf"SGD ($B = 1$, {S} seeds): $\eta\,\mathrm{{tr}}(H)$") if s == 0 else {}
        axes[0].plot(lr, e["sgd_lr_trace"][s], "o", color="C0", ms=5, **kw)
        kw = dict(label=r"SGD: $\eta\,\lambda_{\max}(H)$") if s == 0 else {}
        axes[0].plot(lr, e["sgd_lr_lam_max"][s], "x", color="C0", ms=5, **kw)
    axes[0].plot(lr, e["gd_lr_trace"], "s-", color="C3", ms=4, label=r"GD: $\eta\,\mathrm{tr}(H)$")
    axes[0].plot(lr, e["gd_lr_lam_max"], "+-", color="C3", ms=6, label=r"GD: $\eta\,\lambda_{\max}(H)$")
    axes[0].axhline(2.0, color="k", lw=1.2, label="2")
    n_div = int(np.sum(~e["sgd_converged"]))
    n_all = e["sgd_converged"].size
    axes[0].set_xlabel(r"learning rate $\eta$")
    axes[0].set_ylabel(r"$\eta \times$ curvature at the end point")
    missing = (f"all {n_all} SGD runs converged" if n_div == 0 else
               f"{n_div} of {n_all} SGD runs did not converge: not shown")
    ex = int(np.floor(np.log10(float(cfg["converged_loss"]))))
    axes[0].set_title(f"end points (converged: loss $< 10^{{{ex}}}$; {missing})", fontsize=9)
    repro.legend_outside(axes[0], loc="below", ncol=2)
    for s in range(S):
        axes[1].plot(lr, e["sgd_lr_over_threshold"][s], "o", color="C0", ms=5,
                     label=f"SGD end points ({S} seeds)" if s == 0 else None)
    axes[1].axhline(1.0, color="k", lw=1.2, label=r"$\eta = \eta^*_1(w_{end})$")
    axes[1].set_ylim(0, 1.2)
    axes[1].set_xlabel(r"learning rate $\eta$")
    axes[1].set_ylabel(r"$\eta / \eta^*_1(w_{end})$")
    worst = np.nanmax(e["sgd_lr_over_threshold"])
    axes[1].set_title(f"SGD ends only at minima mean-square stable at its $\\eta$ (max ratio {worst:.3f})",
                      fontsize=9)
    repro.legend_outside(axes[1], loc="below", ncol=2)
    fig.suptitle(f"Diagonal linear network ($n = {cfg['n']}$, $d = {cfg['d']}$): SGD's stability bounds "
                 r"$\mathrm{tr}(H)$, GD's only $\lambda_{\max}(H)$")
    lines = [f"SGD max eta tr(H) over converged runs: {np.nanmax(e['sgd_lr_trace']):.3f}; "
             f"GD max eta tr(H): {np.nanmax(e['gd_lr_trace']):.3f}; SGD runs not converged: {n_div}"]
    if progress:
        print("\n".join(lines))
    return repro.save_figure(fig, out, "wu2023_diagonal_net", e, {**meta, "summary": lines}, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the instances, the data and SGD's streams.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"threshold": _threshold_figure(config, out, meta, seed),
            "diagonal_net": _diag_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
