"""Reproduction: S. Karnik, A. Veselovska, M. Iwen, F. Krahmer, "Implicit Regularization for Tubal Tensor
Factorizations via Gradient Descent", ICML 2025 (PMLR 267:29148-29204), arXiv:2410.16247.

Gradient descent on the over-parametrised symmetric tubal factorisation X = U * U^T (t-product: FFT along the
tubes), fitted to Gaussian linear measurements of a low-tubal-rank X*, from a small random U_0, learns low
tubal rank: in every Fourier slice the top r* eigenvalues of Xhat_t rise to those of X* while the others stay
small. Two phases: a spectral (power-method) phase in which U_t, still small, aligns with the top eigenvectors
of the slices of S = A*(y) + A*(y)^T, then a local convergence phase. The model is
:func:`gdsim.tubal.factorisation` run by :func:`gdsim.dynamics.gd` (exact float64).

Figures
-------
1. ``alpha``: test error against steps for alpha in {1e-2, 1e-4, 1e-6, 1e-8} (the paper's Figure 4 setting),
   and the final test error against alpha over a grid down to alpha = 1 (the spec's CI setting, several
   seeds): smaller initialisation, smaller test error.
2. ``slices``: the paper's Figure 2 setting (alpha = 1e-7): the eigenvalues of every Fourier slice of
   X_t = U_t * U_t^T over training, the sine of the largest principal angle to the power-method subspace and
   to X*'s subspace per slice, and test/train error, with the two phases marked from the data.
3. ``width``: test error against steps for widths R in {10, 50, 100, 200, 400} (the paper's Figure 3).

Fidelity notes (also in the sidecars):
* Settings from the authors' MATLAB code via the spec (section 7 [CODE]): n = 10, k = 4, r* = 2, R = 100,
  m = ceil(1.2 (n + 1) r* k ln(n + 1)) = 254 measurements with i.i.d. N(0, 1) entries, lr 1e-5 on the
  un-averaged sum of squares, U_0 = alpha N(0, 1)/sqrt(R), 1e4 iterations, "norm" ground truth (all tubal
  singular values 1). gdsim's loss is the average (1/2m) sum_j (<G_j, X> - y_j)^2, so lr = 1e-5 m here: the
  same iterates.
* [GAP] The paper's text says G_j ~ N(0, 1/m) while the code uses N(0, 1); the code's choice is used (with the
  averaged loss it makes E L = 0.5 ||X - X*||_F^2).
* [GAP] The orthonormal factor of X* is the QR factor of every Fourier slice of a Gaussian U* (the same
  subspaces as the t-SVD's left factor, so the same X*).
* The test-error-against-alpha grid uses the spec's CI setting (n = 6, k = 3, r* = 1, R = 12, m = 50,
  lr 0.05 on the averaged loss, 4000 steps), not a paper figure; its claim (error at alpha = 1e-6 below 1e-4,
  at alpha = 1 more than 100 times larger) is the spec's [REF-RUN] claim.
* Phase boundaries are read off the data: the end of the spectral phase is the step at which the power-method
  sine (largest over slices) is smallest; local convergence is the first step with test error below 1e-3.
* For alpha = 1e-8 the iterates need longer to leave the spectral phase; the horizon is the paper's 1e4 steps
  in both tiers, so the smallest alphas are still converging at its end (their curves say so).
"""

from __future__ import annotations

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.tubal as gt
from gdsim import repro

NAME = "karnik2025_tubal"
TITLE = "Implicit regularization for tubal tensor factorizations via gradient descent (Karnik et al., ICML 2025)"
FIGURES = {
    "alpha": "test error against steps and against the initialisation scale alpha",
    "slices": "Fourier-slice eigenvalues of U*U^T, alignment with the power-method subspace, and the two phases",
    "width": "test error against steps for over-parametrisation widths R",
}
RUNTIME = {"quick": "~60-90 s on 2 cores (about 30 s of it compilation)", "full": "~5 min"}
BIBTEX = """
@inproceedings{karnik2025implicit,
  title     = {Implicit Regularization for Tubal Tensor Factorizations via Gradient Descent},
  author    = {Karnik, Santhosh and Veselovska, Anna and Iwen, Mark and Krahmer, Felix},
  booktitle = {Proceedings of the 42nd International Conference on Machine Learning},
  series    = {PMLR},
  volume    = {267},
  pages     = {29148--29204},
  year      = {2025},
  eprint    = {2410.16247}
}
"""

#: Okabe-Ito colour-blind-safe palette
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000")

QUICK = dict(n=10, k=4, rank=2, width=100, lr_sum=1e-5, steps=10_000, record_every=50, alpha_fig2=1e-7,
             alphas=(1e-2, 1e-4, 1e-6, 1e-8), widths=(10, 50, 100, 200), seeds=1,
             ci=dict(n=6, k=3, rank=1, width=12, m=50, lr=0.05, steps=4000, alphas=(1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
                                                                                   1e-3, 1e-2, 1e-1, 0.3, 1.0),
                     seeds=3),
             pdf=False)
FULL = dict(QUICK, widths=(10, 50, 100, 200, 400), seeds=5, record_every=20,
            ci=dict(QUICK["ci"], alphas=tuple(np.geomspace(1e-8, 1.0, 17).tolist()), seeds=10), pdf=True)


def _problem(cfg, seed, s=0):
    return gt.make_problem(int(cfg["n"]), int(cfg["k"]), int(cfg["rank"]),
                           seed=np.random.SeedSequence(seed, spawn_key=(s,)))


def _base_init(p, width, seed, s=0):
    """One standard draw N(0, 1)/sqrt(R) (alpha = 1), scaled by each alpha: common random numbers across alphas."""
    return gt.factorisation(p, width, init_scale=1.0).init(np.random.SeedSequence(seed, spawn_key=(s, 1)))


def alpha_runs(cfg, seed, progress=False) -> dict:
    """Test error along GD for each alpha (paper setting), per seed."""
    alphas = np.asarray(cfg["alphas"], dtype=float)
    S = int(cfg["seeds"])
    out = []
    for s in range(S):
        p = _problem(cfg, seed, s)
        model = gt.factorisation(p, int(cfg["width"]))
        w0 = alphas[:, None] * _base_init(p, int(cfg["width"]), seed, s)
        res = gdyn.gd(model, w0, lr=float(cfg["lr_sum"]) * p.m, steps=int(cfg["steps"]),
                      record_every=int(cfg["record_every"]), observe=("w",), progress=progress)
        out.append(gt.test_error(p, res.w))
    return dict(t=res.t, alphas=alphas, test_error=np.stack(out, axis=-1))  # (records, alphas, seeds)


def alpha_grid(cfg, seed, progress=False) -> dict:
    """Final test error against alpha in the spec's CI setting, several seeds (problem and init per seed)."""
    c = cfg["ci"]
    alphas = np.asarray(c["alphas"], dtype=float)
    err = np.empty((alphas.size, int(c["seeds"])))
    for s in range(int(c["seeds"])):
        p = gt.make_problem(int(c["n"]), int(c["k"]), int(c["rank"]), measurements=int(c["m"]),
                            seed=np.random.SeedSequence(seed, spawn_key=(100 + s,)))
        model = gt.factorisation(p, int(c["width"]))
        base = gt.factorisation(p, int(c["width"]), init_scale=1.0).init(
            np.random.SeedSequence(seed, spawn_key=(100 + s, 1)))
        res = gdyn.gd(model, alphas[:, None] * base, lr=float(c["lr"]), steps=int(c["steps"]),
                      record_every=int(c["steps"]), progress=progress)
        err[:, s] = gt.test_error(p, res.w_final)
    return dict(alphas=alphas, test_error=err)


def slice_run(cfg, seed, progress=False) -> dict:
    """The paper's Figure 2 run: slice eigenvalues, subspace sines, errors, and the two phases."""
    p = _problem(cfg, seed)
    width = int(cfg["width"])
    model = gt.factorisation(p, width)
    w0 = float(cfg["alpha_fig2"]) * _base_init(p, width, seed)
    res = gdyn.gd(model, w0, lr=float(cfg["lr_sum"]) * p.m, steps=int(cfg["steps"]),
                  record_every=int(cfg["record_every"]), observe=("w",), progress=progress)
    te = gt.test_error(p, res.w)
    tr = gt.train_error(p, res.w)
    sv = gt.slice_values(p, res.w)                    # (records, k, n)
    pm = gt.subspace_sine(p, res.w, "power_method")   # (records, k)
    tru = gt.subspace_sine(p, res.w, "truth")
    pm_max = pm.max(axis=1)
    i1 = int(np.argmin(pm_max))
    conv = np.flatnonzero(te < 1e-3)
    i2 = int(conv[0]) if conv.size else -1
    U = gt.factors(p, res.w_final)
    norm_rel = np.linalg.norm(sv, axis=(1, 2)) / np.linalg.norm(gt.tubal_singular_values(p.xstar))
    return dict(t=res.t, test_error=te, train_error=tr, slice_values=sv, sine_power_method=pm, sine_truth=tru,
                xstar_values=gt.tubal_singular_values(p.xstar), power_values=np.linalg.eigvalsh(
                    gt.fourier_slices(gt.power_method_tensor(p)))[:, ::-1],
                t_align=res.t[i1], sine_at_align=pm_max[i1], size_at_align=norm_rel[i1],
                t_converged=res.t[i2] if i2 >= 0 else -1, relative_size=norm_rel, m=p.m,
                lr=float(cfg["lr_sum"]) * p.m,
                final_numerical_rank=gt.tubal_rank(gt.t_product(U, gt.t_transpose(U)), tol=1e-3 * sv[-1].max()))


def width_runs(cfg, seed, progress=False) -> dict:
    """Test error along GD for each width R (paper's Figure 3 setting, alpha of Figure 2)."""
    p = _problem(cfg, seed)
    curves = []
    for R in cfg["widths"]:
        model = gt.factorisation(p, int(R))
        w0 = float(cfg["alpha_fig2"]) * _base_init(p, int(R), seed)
        res = gdyn.gd(model, w0, lr=float(cfg["lr_sum"]) * p.m, steps=int(cfg["steps"]),
                      record_every=int(cfg["record_every"]), observe=("w",), progress=progress)
        curves.append(gt.test_error(p, res.w))
    return dict(t=res.t, widths=np.asarray(cfg["widths"]), test_error=np.stack(curves, axis=1))


def claims(grid: dict) -> dict:
    """The spec's CI claim on the alpha grid: error(1e-6) < 1e-4 and error(1) > 100 x error(1e-6) (worst seed)."""
    a = grid["alphas"]
    i6 = int(np.argmin(np.abs(np.log10(a) + 6)))
    i1 = int(np.argmin(np.abs(np.log10(a))))
    e6 = grid["test_error"][i6]
    e1 = grid["test_error"][i1]
    return dict(error_alpha_1e6_max=float(e6.max()), error_alpha_1_min=float(e1.min()),
                ratio_min=float((e1 / e6).min()), holds=bool(e6.max() < 1e-4 and (e1 > 100 * e6).all()))


def _log_ax(ax):
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="major")


def _alpha_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = alpha_runs(cfg, seed, progress)
    g = alpha_grid(cfg, seed, progress)
    c = claims(g)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for j, a in enumerate(d["alphas"]):
        e = d["test_error"][:, j]
        axes[0].plot(d["t"], np.median(e, axis=-1), color=COLOURS[j], label=rf"$\alpha = 10^{{{np.log10(a):.0f}}}$")
        if e.shape[-1] > 1:
            axes[0].fill_between(d["t"], e.min(axis=-1), e.max(axis=-1), color=COLOURS[j], alpha=0.2, lw=0)
    _log_ax(axes[0])
    axes[0].set_xlabel("GD step $t$")
    axes[0].set_ylabel(r"test error $\|U_t * U_t^\top - X^\star\|_F / \|X^\star\|_F$")
    fin = np.median(d["test_error"][-1], axis=-1)
    late = np.median(d["test_error"][int(0.9 * (d["t"].size - 1))], axis=-1)
    falling = [f"{a:.0e}" for a, x, y in zip(d["alphas"], fin, late) if x < 0.8 * y]
    axes[0].set_title(f"$n$ = {cfg['n']}, $k$ = {cfg['k']}, $r^\\star$ = {cfg['rank']}, $R$ = {cfg['width']}: "
                      "final errors "
                      + ", ".join(f"{x:.1e}" for x in fin)
                      + (f"\nstill falling by > 20% over the last 10% of steps: $\\alpha$ = {', '.join(falling)}"
                         if falling else ""), fontsize=9)
    repro.legend_outside(axes[0], loc="right", fontsize=8, title="init scale")
    ci = cfg["ci"]
    med = np.median(g["test_error"], axis=1)
    axes[1].loglog(g["alphas"], med, "o-", color=COLOURS[0], label=f"median of {g['test_error'].shape[1]} seeds")
    axes[1].fill_between(g["alphas"], g["test_error"].min(axis=1), g["test_error"].max(axis=1), color=COLOURS[0],
                         alpha=0.25, lw=0, label="min-max over seeds")
    axes[1].axhline(1e-4, color=COLOURS[4], ls="--", lw=1.0, label=r"claim: error$(\alpha=10^{-6}) < 10^{-4}$")
    axes[1].grid(alpha=0.3)
    axes[1].set_xlabel(r"initialisation scale $\alpha$")
    axes[1].set_ylabel("final test error")
    axes[1].set_title(f"$n$ = {ci['n']}, $k$ = {ci['k']}, $r^\\star$ = {ci['rank']}, $R$ = {ci['width']}, "
                      f"$m$ = {ci['m']}, "
                      f"{ci['steps']} steps\nerror($\\alpha = 10^{{-6}}$) $\\leq$ {c['error_alpha_1e6_max']:.1e}, "
                      f"error($\\alpha = 1$) / error($\\alpha = 10^{{-6}}$) $\\geq$ {c['ratio_min']:.0f}", fontsize=9)
    repro.legend_outside(axes[1], loc="right", fontsize=8)
    fig.suptitle(r"Smaller initialisation, smaller test error (GD on the tubal factorisation $U * U^\top$)")
    lines = [f"alpha = 1e-6: test error <= {c['error_alpha_1e6_max']:.2e} (max over seeds); alpha = 1: >= "
             f"{c['error_alpha_1_min']:.2e}; smallest ratio {c['ratio_min']:.0f}; claim holds: {c['holds']}",
             "paper setting, final test error at 1e4 steps: "
             + ", ".join(f"alpha {a:.0e}: {x:.2e}" for a, x in zip(d["alphas"], fin))
             + (f" (still falling at the horizon: alpha = {', '.join(falling)})" if falling else "")]
    data = {**d, **{f"grid_{k}": v for k, v in g.items()}, **{f"claim_{k}": v for k, v in c.items()}}
    return _save(fig, out, "karnik2025_alpha", data, {**meta, "summary": lines}, cfg)


def _slices_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = slice_run(cfg, seed, progress)
    k, r = int(cfg["k"]), int(cfg["rank"])
    unique = list(range(k // 2 + 1))  # slices i and k - i coincide for a real tensor
    fig, axes = plt.subplots(1, len(unique) + 1, figsize=(4.0 * (len(unique) + 1), 4.2), constrained_layout=True)
    t = d["t"]
    for ax, i in zip(axes, unique):
        sv = d["slice_values"][:, i]
        for j in range(sv.shape[1]):
            ax.plot(t, np.maximum(sv[:, j], 1e-17), color=COLOURS[0] if j < r else COLOURS[1],
                    lw=1.2 if j < r else 0.7, label=(f"top {r}" if j == 0 else "the others" if j == r else None))
        _log_ax(ax)
        ax.axvspan(0, d["t_align"], color="0.9", lw=0)
        ax.set_xlabel("GD step $t$")
        ax.set_ylabel(rf"eigenvalues of $\hat X_t^{{({i})}}$")
        mirror = f" (= slice {k - i})" if 0 < i < k - i else ""
        ax.set_ylim(1e-16, 10)  # below 1e-16 (relative to the top value 1) the values are rounding
        ax.set_title(f"Fourier slice {i}{mirror}\nfinal top {r}: "
                     + ", ".join(f"{x:.4f}" for x in sv[-1, :r]) + f"; next {sv[-1, r]:.1e}", fontsize=8)
        repro.legend_outside(ax, loc="below", ncol=2, fontsize=8)
    ax = axes[-1]
    ax.plot(t, d["test_error"], color=COLOURS[6], label="test error")
    ax.plot(t, d["train_error"], color=COLOURS[6], ls=":", label="train error")
    ax.plot(t, d["sine_power_method"].max(axis=1), color=COLOURS[2], label="sine to power-method subspace")
    ax.plot(t, d["sine_truth"].max(axis=1), color=COLOURS[3], label=r"sine to $X^\star$ subspace")
    ax.plot(t, d["relative_size"], color=COLOURS[5], ls="--", label=r"$\|X_t\|_F / \|X^\star\|_F$")
    ax.axvspan(0, d["t_align"], color="0.9", lw=0)
    ax.axvline(d["t_align"], color="k", lw=0.8)
    if d["t_converged"] >= 0:
        ax.axvline(d["t_converged"], color="k", lw=0.8, ls="--")
    _log_ax(ax)
    ax.set_ylim(max(1e-12, np.nanmin(d["train_error"]) / 10), 10)
    ax.set_xlabel("GD step $t$ (largest sine over slices)")
    ax.set_ylabel("relative error, sine, size")
    ax.set_title(f"phase 1 (grey) ends at $t$ = {d['t_align']} (solid): sine {d['sine_at_align']:.3f}, "
                 f"size {d['size_at_align']:.1e}\nphase 2: test error < $10^{{-3}}$ at $t$ = {d['t_converged']} "
                 "(dashed), "
                 f"final {d['test_error'][-1]:.1e}", fontsize=8)
    repro.legend_outside(ax, loc="right", fontsize=8)
    fig.suptitle(rf"Spectral then local phase ($n$ = {cfg['n']}, $k$ = {k}, $r^\star$ = {r}, $R$ = {cfg['width']}, "
                 rf"$m$ = {d['m']}, $\alpha$ = {cfg['alpha_fig2']:.0e}): learned tubal rank "
                 f"{d['final_numerical_rank']} "
                 r"(values above $10^{-3}$ of the top)")
    lines = [f"spectral phase ends at step {d['t_align']} with the power-method sine {d['sine_at_align']:.4f} "
             f"(largest over slices) while ||X_t||/||X*|| = {d['size_at_align']:.2e}",
             f"test error below 1e-3 from step {d['t_converged']}; final test error {d['test_error'][-1]:.2e}, "
             f"final sine to X*'s subspace {d['sine_truth'][-1].max():.1e}",
             f"final slice values: top {r} in [{d['slice_values'][-1, :, :r].min():.6f}, "
             f"{d['slice_values'][-1, :, :r].max():.6f}], largest other {d['slice_values'][-1, :, r].max():.2e}"]
    return _save(fig, out, "karnik2025_slices", d, {**meta, "summary": lines}, cfg)


def _width_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    d = width_runs(cfg, seed, progress)
    fig, ax = plt.subplots(figsize=(7.5, 4.3), constrained_layout=True)
    for j, R in enumerate(d["widths"]):
        ax.plot(d["t"], d["test_error"][:, j], color=COLOURS[j], label=f"$R$ = {R}: final {d['test_error'][-1, j]:.1e}")
    _log_ax(ax)
    ax.set_xlabel("GD step $t$")
    ax.set_ylabel(r"test error $\|U_t * U_t^\top - X^\star\|_F / \|X^\star\|_F$")
    fin = d["test_error"][-1]
    ax.set_title(rf"$n$ = {cfg['n']}, $k$ = {cfg['k']}, $r^\star$ = {cfg['rank']}, $\alpha$ = {cfg['alpha_fig2']:.0e}: "
                 f"final test errors within a factor {fin.max() / fin.min():.2f} across widths", fontsize=9)
    repro.legend_outside(ax, loc="right", fontsize=8, title="width")
    lines = ["final test error per width: " + ", ".join(f"R = {R}: {e:.2e}" for R, e in
                                                          zip(d["widths"], d["test_error"][-1]))]
    return _save(fig, out, "karnik2025_width", d, {**meta, "summary": lines}, cfg)


def _save(fig, out, stem, data, meta, cfg):
    # the project's >= 150 dpi (save_figure's default is 110 in quick mode)
    return repro.save_figure(fig, out, stem, data, meta, pdf=cfg["pdf"], dpi=160)


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the three figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the ground truths, measurements and initialisations.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"alpha": _alpha_figure(config, out, meta, seed, progress),
            "slices": _slices_figure(config, out, meta, seed, progress),
            "width": _width_figure(config, out, meta, seed, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
