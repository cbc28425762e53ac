"""Reproduction: Jin, Li, Lyu, Du, Lee, "Understanding Incremental Learning of Gradient Descent: A
Fine-grained Analysis of Matrix Sensing", ICML 2023 (arXiv:2301.11500), with two companions:
Xiong, Ding, Du, ICLR 2024 (arXiv:2310.01769) and Xu, Shen, Chi, Ma, ICML 2023 (arXiv:2302.01186).

Figures
-------
1. ``fig1``: Jin Fig. 1 (a)-(f): r_hat = 50, d = 50, r* = 5, mu = 0.005; alpha in {1, 0.1, 0.01, 0.001}
   at m = 1000, and alpha = 0.001 at m = 1500, 2000. E_1..E_5 on a log scale.
2. ``fig2``: Jin Fig. 2 (a)-(c): r_hat = r* = 5, m = 1000, T = 500, alpha in {0.1, 0.01, 0.001}.
3. ``plateaus``: learning times tau_k and plateau lengths against ln(1/alpha), with the predicted
   slopes 1/ln(1 + mu lambda_k) (full observation) and 1/ln(1 + mu lambda_1(A*A(Z*))) (sensing).
4. ``xiong``: symmetric over-parameterisation: t^2 E(t) -> (k - r)/(4 eta^2); asymmetric imbalanced
   start: linear rate against 2 eta (8/9) alpha^2.
5. ``xu``: Xu Fig. 1: GD vs ScaledGD(lambda) for kappa in {3, 5, 7}, and iterations to 1e-6 against kappa.

Fidelity notes (the spec's [GAP]s and the choices made here; also in the README):
* Ground truth: the text says X has N(0, 1) entries, but the published curves match X with U[0, 1]
  entries (spec section 2.6): ``ground_truth="uniform_fig"`` is the default, ``"gaussian_text"`` the switch.
* E_s is measured against the best rank-s approximation of Z* (X_s X_s^T for an orthogonal X, the
  paper's assumption); the A_i are non-symmetric Gaussian and the gradient uses sym(A_i); U_bar has
  N(0, 1) entries (the experiments, not the theory's normalisation).
* The m values are the figure captions' (1000, 1500, 2000), not the text's; the x-ranges are the
  figures' (200/300/600), not the text's T = 1e4.
* Xiong et al.: only the abstract and reviews are available; the settings are the spec's C7/C8
  (n = 20, r = 2, lambda = (1, 0.5), eta = 0.1; imbalance 1/3 with orthonormal starts).
* Xu et al. Fig. 1 at the paper's size (n = 150, m = 4500, packed float32 A) in full mode; quick mode
  uses n = 60, m = 1800 (the same m = 10 n r*). GD's step is 0.3/||M*|| (the paper tunes it per kappa);
  alpha = 1e-8, lambda = sigma_min^2(X*) (the top of the paper's range; lambda = 0.1 sigma_min^2 stalls
  higher). Under sensing the over-parameterised runs stall at a floor (2e-7 to 1e-5 relative at n = 60,
  m = 1800): the surplus directions, excited by the RIP error during the burn-in, then decay only
  sublinearly; with full observation (the iterations-vs-kappa panel) ScaledGD(lambda) reaches 1e-6 in
  about 22 iterations for every kappa.
"""

from __future__ import annotations


import numpy as np

from gdsim import repro
from gdsim.sensing import asymmetric_gd, gd, make_problem, scaled_gd

NAME = "jin2023_incremental_learning"
TITLE = "Incremental learning of small-init GD in matrix sensing (Jin et al., ICML 2023) + Xiong, Xu"
FIGURES = {
    "fig1": "Jin Fig. 1 (a)-(f): over-parameterised r_hat = 50, alpha and m scans, E_1..E_5",
    "fig2": "Jin Fig. 2 (a)-(c): exact parameterisation r_hat = r* = 5, alpha scan",
    "plateaus": "learning times and plateau lengths vs ln(1/alpha) with the predicted slopes",
    "xiong": "Xiong et al.: t^2 E(t) -> (k - r)/(4 eta^2); asymmetric linear rate ~ alpha^2",
    "xu": "Xu et al. Fig. 1: GD vs ScaledGD(lambda) for kappa in {3, 5, 7}; iterations vs kappa",
}
RUNTIME = {"quick": "~40 s", "full": "~15 min"}
BIBTEX = """
@inproceedings{jin2023understanding,
  title     = {Understanding Incremental Learning of Gradient Descent: A Fine-grained Analysis of Matrix Sensing},
  author    = {Jin, Jikai and Li, Zhiyuan and Lyu, Kaifeng and Du, Simon S. and Lee, Jason D.},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {202},
  pages     = {15200--15238},
  year      = {2023},
  eprint    = {2301.11500},
  archivePrefix = {arXiv}
}
"""

QUICK = dict(ground_truth="uniform_fig", fig1_steps=(200, 300, 300, 600, 600, 600), fig2_steps=500,
             plateau_alphas=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8), xiong_steps=40_000,
             xu_n=60, xu_m=1800, xu_steps=2500, xu_dtype="float64", pdf=False)
FULL = dict(ground_truth="uniform_fig", fig1_steps=(200, 300, 300, 600, 600, 600), fig2_steps=500,
            plateau_alphas=tuple(10.0 ** -np.arange(2, 13)), xiong_steps=160_000,
            xu_n=150, xu_m=4500, xu_steps=2500, xu_dtype="float32", pdf=True)

D, R_STAR, MU = 50, 5, 0.005
FIG1_PANELS = ((1.0, 1000), (0.1, 1000), (0.01, 1000), (0.001, 1000), (0.001, 1500), (0.001, 2000))
RANK_COLORS = ("C0", "C1", "C2", "C3", "C4")


def _errors_panel(ax, res, b, title):
    for s in range(res.errors.shape[-1]):
        ax.semilogy(res.t, res.errors[:, b, s], color=RANK_COLORS[s], lw=1.6, label=f"rank {s + 1}")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("GD iteration $t$")
    ax.grid(alpha=0.3, which="both", lw=0.4)


def fig1_data(cfg, seed, progress=False) -> dict:
    """One shared ground truth (the paper's single fixed draw); one run per panel."""
    ss = np.random.SeedSequence(seed)
    truth_seed, init_seed = ss.spawn(2)
    out = {}
    problems = {}
    for m in sorted({m for _, m in FIG1_PANELS}):
        problems[m] = make_problem(D, R_STAR, generator=cfg["ground_truth"], measurements=m,
                                   seed=np.random.SeedSequence(truth_seed.entropy, spawn_key=(0, m)))
    for i, ((alpha, m), T) in enumerate(zip(FIG1_PANELS, cfg["fig1_steps"])):
        res = gd(problems[m], D, alpha, T, lr=MU, seed=np.random.SeedSequence(init_seed.entropy, spawn_key=(1,)),
                 track_tau=False, progress=progress)
        out[f"t_{i}"], out[f"errors_{i}"] = res.t, res.errors[:, 0]
    out["eigvals_m1000"] = problems[1000].eigvals
    return out


def _fig1(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = fig1_data(cfg, seed, progress)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.2), constrained_layout=True)
    for i, (ax, (alpha, m)) in enumerate(zip(axes.ravel(), FIG1_PANELS)):
        E = d[f"errors_{i}"]
        for s in range(E.shape[1]):
            ax.semilogy(d[f"t_{i}"], E[:, s], color=RANK_COLORS[s], lw=1.6, label=f"rank {s + 1}")
        ax.set_title(f"({'abcdef'[i]}) $\\alpha$ = {alpha:g}, $m$ = {m}", fontsize=10)
        ax.set_xlabel("GD iteration $t$")
        ax.set_ylabel("relative error $E_s$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
    repro.legend_outside(axes[0, 2], loc="right", fontsize=8)
    lam = d["eigvals_m1000"]
    # the ground truth's meaning, not its config key (spec section 2.6)
    gt = {"uniform_fig": "U[0, 1] entries (matches the paper's curves)",
          "gaussian_text": "N(0, 1) entries (the paper's text)"}.get(cfg["ground_truth"], cfg["ground_truth"])
    fig.suptitle(f"Jin et al. Fig. 1: $\\hat r$ = {D}, $d$ = {D}, $r^*$ = {R_STAR}, $\\mu$ = {MU:g}, "
                 f"$X \\sim$ {gt} (eigenvalues of $Z^*$: {', '.join(f'{v:.1f}' for v in lam)})")
    return repro.save_figure(fig, out, "jin2023_fig1", d, meta, pdf=cfg["pdf"])


def fig2_data(cfg, seed, progress=False) -> dict:
    ss = np.random.SeedSequence(seed)
    truth_seed, init_seed = ss.spawn(2)
    prob = make_problem(D, R_STAR, generator=cfg["ground_truth"], measurements=1000,
                        seed=np.random.SeedSequence(truth_seed.entropy, spawn_key=(0, 1000)))
    alphas = np.array([0.1, 0.01, 0.001])
    res = gd(prob, R_STAR, alphas, cfg["fig2_steps"], lr=MU,
             seed=np.random.SeedSequence(init_seed.entropy, spawn_key=(2,)), track_tau=False, progress=progress)
    return dict(t=res.t, errors=res.errors, alphas=alphas)


def _fig2(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = fig2_data(cfg, seed, progress)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True, sharey=True)
    for b, ax in enumerate(axes):
        for s in range(R_STAR):
            ax.semilogy(d["t"], d["errors"][:, b, s], color=RANK_COLORS[s], lw=1.6, label=f"rank {s + 1}")
        ax.set_title(f"({'abc'[b]}) $\\alpha$ = {d['alphas'][b]:g}", fontsize=10)
        ax.set_xlabel("GD iteration $t$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
    axes[0].set_ylabel("relative error $E_s$ (shared axis)")
    repro.legend_outside(axes[-1], loc="right", fontsize=8)
    fig.suptitle(f"Jin et al. Fig. 2: exact parameterisation $\\hat r = r^*$ = {R_STAR}, $m$ = 1000: smaller "
                 "$\\alpha$, longer stays near the rank-$s$ saddles")
    return repro.save_figure(fig, out, "jin2023_fig2", d, meta, pdf=cfg["pdf"])


def plateau_data(cfg, seed) -> dict:
    alphas = np.array(cfg["plateau_alphas"])
    full = make_problem(20, 4, spectrum=[4, 2, 1, 0.5], seed=np.random.SeedSequence([seed, 5]))
    rf = gd(full, 20, alphas, 4000, lr=0.05, seed=np.random.SeedSequence([seed, 6]), record_every=4000,
            track_tau=True)
    # the spec's C3 instance (seed 0: lambda_1(A*A(Z*)) = 8.88 against lambda_1(Z*) = 8, a 10% gap)
    sens = make_problem(20, 3, spectrum=[8, 4, 2], measurements=600, seed=0)
    rs = gd(sens, 20, alphas, 2500, lr=0.02, seed=np.random.SeedSequence([seed, 8]), record_every=2500,
            track_tau=True)
    return dict(alphas=alphas, tau_full=rf.tau, lam_full=full.eigvals, tau_sens=rs.tau, lam_sens=sens.eigvals,
                lam_hat_sens=sens.top_operator_eigenvalue())


def _plateaus(cfg, out, meta, seed):
    import matplotlib.pyplot as plt

    d = plateau_data(cfg, seed)
    x = np.log(1 / d["alphas"])
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for kk in range(4):
        tau = d["tau_full"][:, kk]
        pred = 1 / np.log(1 + 0.05 * d["lam_full"][kk])
        fit = np.polyfit(x, tau, 1)
        a1.plot(x, tau, "o", color=RANK_COLORS[kk], label=f"$k$ = {kk + 1}: fitted {fit[0]:.2f}, predicted {pred:.2f}")
        a1.plot(x, pred * x + (fit[1] + (fit[0] - pred) * x.mean()), "-", color=RANK_COLORS[kk], lw=1)
    a1.set_title(r"full observation: $\tau_k$ vs $\ln(1/\alpha)$, slope $1/\ln(1+\mu\lambda_k)$", fontsize=10)
    a1.set_xlabel(r"$\ln(1/\alpha)$")
    a1.set_ylabel(r"learning time $\tau_k$")
    repro.legend_outside(a1, loc="below", ncol=1, fontsize=7)
    for kk in range(3):
        gap = d["tau_full"][:, kk + 1] - d["tau_full"][:, kk]
        pred = 1 / np.log(1 + 0.05 * d["lam_full"][kk + 1]) - 1 / np.log(1 + 0.05 * d["lam_full"][kk])
        fit = np.polyfit(x, gap, 1)
        a2.plot(x, gap, "s", color=RANK_COLORS[kk], label=f"rank {kk + 1} $\\to$ {kk + 2}: fitted {fit[0]:.2f}, "
                                                          f"predicted {pred:.2f}")
        a2.plot(x, pred * x + (fit[1] + (fit[0] - pred) * x.mean()), "-", color=RANK_COLORS[kk], lw=1)
    a2.set_title(r"plateau lengths $\tau_{k+1} - \tau_k = \Theta(\ln 1/\alpha)$", fontsize=10)
    a2.set_xlabel(r"$\ln(1/\alpha)$")
    a2.set_ylabel(r"plateau length $\tau_{k+1} - \tau_k$")
    repro.legend_outside(a2, loc="below", ncol=1, fontsize=7)
    tau = d["tau_sens"][:, 0]
    fit = np.polyfit(x, tau, 1)
    for lam, lab, style in ((d["lam_hat_sens"], r"$\lambda_1(\mathcal{A}^*\mathcal{A}(Z^*))$", "-"),
                            (d["lam_sens"][0], r"$\lambda_1(Z^*)$ (pitfall)", ":")):
        pred = 1 / np.log(1 + 0.02 * lam)
        a3.plot(x, pred * x + (fit[1] + (fit[0] - pred) * x.mean()), style, color="k", lw=1,
                label=f"slope from {lab}: {pred:.2f}")
    a3.plot(x, tau, "o", color="C0", label=f"sensing, $m$ = 600: fitted {fit[0]:.2f}")
    a3.set_title(r"sensing: the first phase follows $\mathcal{A}^*\mathcal{A}(Z^*)$, not $Z^*$", fontsize=10)
    a3.set_xlabel(r"$\ln(1/\alpha)$")
    a3.set_ylabel(r"learning time $\tau_1$")
    repro.legend_outside(a3, loc="below", ncol=1, fontsize=7)
    return repro.save_figure(fig, out, "jin2023_plateaus", d, meta, pdf=cfg["pdf"])


def xiong_data(cfg, seed) -> dict:
    prob = make_problem(20, 2, spectrum=[1.0, 0.5], seed=np.random.SeedSequence([seed, 9]))
    T = cfg["xiong_steps"]
    out = {}
    for kk in (3, 4):
        res = gd(prob, kk, 1e-2, T, lr=0.1, seed=np.random.SeedSequence([seed, 10]), record_every=max(T // 400, 1),
                 track_tau=False)
        out["t_sym"], out[f"E_sym_k{kk}"] = res.t, res.error[:, 0]
    alphas = np.array([0.1, 0.15, 0.2, 0.3])
    res = asymmetric_gd(prob, 3, alphas, 20_000, lr=0.1, seed=np.random.SeedSequence([seed, 11]), record_every=10)
    out.update(t_asym=res.t, E_asym=res.error, alphas=alphas)
    return out


def _xiong(cfg, out, meta, seed):
    import matplotlib.pyplot as plt

    d = xiong_data(cfg, seed)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    t = d["t_sym"]
    sel = t > 0
    for kk, c in ((3, "C0"), (4, "C1")):
        a1.semilogx(t[sel], t[sel] ** 2 * d[f"E_sym_k{kk}"][sel], color=c, lw=2, label=f"$k$ = {kk}")
        a1.axhline((kk - 2) / (4 * 0.1**2), color=c, ls="--", lw=1,
                   label=f"$(k - r)/(4\\eta^2)$ = {(kk - 2) / 0.04:.0f}")
    a1.set_ylim(0, 60)
    a1.set_xlim(500, t[-1])
    a1.set_xlabel("GD iteration $t$")
    a1.set_ylabel(r"$t^2\,\|XX^T - M^*\|_F^2$")
    a1.set_title(r"symmetric, over-parameterised ($r$ = 2): error $\sim (k - r)/(4\eta^2 t^2)$", fontsize=10)
    repro.legend_outside(a1, loc="below", ncol=2, fontsize=8)
    rates = []
    for b, alpha in enumerate(d["alphas"]):
        e = d["E_asym"][:, b]
        a2.semilogy(d["t_asym"], e, color=f"C{b}", lw=2, label=f"$\\alpha$ = {alpha:g}")
        win = (e < 1e-8) & (e > 1e-16)
        if win.sum() > 2:
            rates.append(-np.polyfit(d["t_asym"][win], np.log(e[win]), 1)[0])
            t0 = d["t_asym"][win][0]
            tt = d["t_asym"][d["t_asym"] >= t0]
            pred = 2 * 0.1 * (8 / 9) * alpha**2
            a2.semilogy(tt, 1e-8 * np.exp(-pred * (tt - t0)), "k:", lw=1,
                        label=r"predicted rate $2\eta\,(8/9)\,\alpha^2$" if len(rates) == 1 else None)
    a2.set_ylim(1e-20, 1e2)
    a2.set_xlabel("GD iteration $t$")
    a2.set_ylabel(r"$\|FG^T - M^*\|_F^2$")
    a2.set_title(r"asymmetric, imbalanced start ($k$ = 3): linear, rate $2\eta\,(8/9)\,\alpha^2$ (dotted)",
                 fontsize=10)
    repro.legend_outside(a2, loc="below", ncol=3, fontsize=8)
    d["fitted_rates"] = np.array(rates)
    return repro.save_figure(fig, out, "jin2023_xiong", d, meta, pdf=cfg["pdf"])


def xu_data(cfg, seed, progress=False) -> dict:
    n, m, T = cfg["xu_n"], cfg["xu_m"], cfg["xu_steps"]
    out = {}
    for kappa in (3, 5, 7):
        prob = make_problem(n, 3, spectrum=np.geomspace(1, 1 / kappa, 3) ** 2, measurements=m, dtype=cfg["xu_dtype"],
                            seed=np.random.SeedSequence([seed, 12]))
        norm = np.linalg.norm(prob.zstar)
        sg = scaled_gd(prob, 5, 1e-8, T, lr=0.3, lam=prob.eigvals[-1], seed=np.random.SeedSequence([seed, 13]),
                       record_every=10, progress=progress)
        g = gd(prob, 5, 1e-8, T, lr=0.3 / prob.eigvals[0], init="gaussian_scaled", record_every=10,
               seed=np.random.SeedSequence([seed, 13]), track_tau=False, progress=progress)
        out["t"] = sg.t
        out[f"scaled_k{kappa}"] = np.sqrt(sg.error[:, 0]) / norm
        out[f"gd_k{kappa}"] = np.sqrt(g.error[:, 0]) / norm
    kappas = np.array(cfg.get("xu_kappas", (3, 5, 7, 10, 30)))
    counts = np.zeros((2, kappas.size))
    for j, kappa in enumerate(kappas):
        prob = make_problem(30, 3, spectrum=np.geomspace(1, 1 / kappa, 3) ** 2, seed=np.random.SeedSequence([seed, 14]))
        norm = np.linalg.norm(prob.zstar)
        sg = scaled_gd(prob, 5, 1e-6, 300, lr=0.3, lam=0.1 * prob.eigvals[-1], seed=np.random.SeedSequence([seed, 15]))
        g = gd(prob, 5, 1e-6, int(100 * kappa**2) + 1000, lr=0.3 / prob.eigvals[0], init="gaussian_scaled", record_every=5,
               seed=np.random.SeedSequence([seed, 15]), track_tau=False)
        for i, r in enumerate((sg, g)):
            hit = np.flatnonzero(np.sqrt(r.error[:, 0]) / norm < 1e-6)
            counts[i, j] = r.t[hit[0]] if hit.size else np.nan
    out.update(kappas=kappas, iterations_scaled=counts[0], iterations_gd=counts[1])
    return out


def _xu(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = xu_data(cfg, seed, progress)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    for kappa, c in ((3, "C0"), (5, "C1"), (7, "C2")):
        a1.semilogy(d["t"], d[f"scaled_k{kappa}"], color=c, lw=2, label=f"ScaledGD($\\lambda$), $\\kappa$ = {kappa}")
        a1.semilogy(d["t"], d[f"gd_k{kappa}"], color=c, lw=1.2, ls="--", label=f"GD, $\\kappa$ = {kappa}")
    a1.set_xlabel("iteration $t$")
    a1.set_ylabel(r"$\|XX^T - M^*\|_F / \|M^*\|_F$")
    ends = [d[f"scaled_k{kappa}"][-1] for kappa in (3, 5, 7)]
    a1.set_title(f"Xu et al. Fig. 1: $n$ = {cfg['xu_n']}, $r^*$ = 3, $r$ = 5, $m$ = {cfg['xu_m']}\nScaledGD's floors "
                 f"({min(ends):.0e} to {max(ends):.0e}): the surplus directions,\nexcited by the sensing error "
                 "early on, decay only sublinearly", fontsize=9)
    repro.legend_outside(a1, loc="below", ncol=3, fontsize=7)
    a2.loglog(d["kappas"], d["iterations_gd"], "o-", label=r"GD (step $0.3/\|M^*\|$)")
    a2.loglog(d["kappas"], d["iterations_scaled"], "s-", label=r"ScaledGD($\lambda$), $\eta$ = 0.3")
    a2.set_xlabel(r"condition number $\kappa$ of $X^*$")
    a2.set_ylabel("iterations to relative error $10^{-6}$")
    sc = d["iterations_scaled"]
    a2.set_title(f"iterations against $\\kappa$ (full observation, $n$ = 30): ScaledGD {np.nanmin(sc):.0f} to "
                 f"{np.nanmax(sc):.0f}", fontsize=10)
    repro.legend_outside(a2, loc="below", ncol=2, fontsize=8)
    return repro.save_figure(fig, out, "jin2023_xu", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the five figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy); ``ground_truth`` switches the X generator.
    out : path
        Output folder.
    seed : int
        Base seed (ground truth, sensing matrices and initialisations derive from it).
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {
        "fig1": _fig1(config, out, meta, seed, progress),
        "fig2": _fig2(config, out, meta, seed, progress),
        "plateaus": _plateaus(config, out, meta, seed),
        "xiong": _xiong(config, out, meta, seed),
        "xu": _xu(config, out, meta, seed, progress),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
