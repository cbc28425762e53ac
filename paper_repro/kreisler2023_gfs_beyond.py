"""Reproduction (extension): does GD decrease the GFS sharpness beyond scalar networks?

Kreisler, Shpigel Nacson, Soudry, Carmon, "Gradient Descent Monotonically Decreases the Sharpness of Gradient
Flow Solutions in Scalar Networks and Beyond", ICML 2023 (arXiv:2305.13064), prove that the GFS sharpness
phi(w_t) (the sharpness of the minimum that gradient flow from w_t reaches) is non-increasing along GD in
scalar networks, and the title says "and beyond". This script tracks phi(w_t) along GD at the edge of
stability on the shared dynamics layer (gdsim.models / gdsim.dynamics) for
* a two-layer tanh MLP [d, h, 1] on synthetic regression data (N points, tanh teacher), and
* a deep linear network [d, d, d, 1] on a linear teacher,
at several step sizes r = eta phi(w_0) / 2, and reports where phi is monotone and where it is not.

Figures
-------
1. ``beyond_mlp``: sharpness S(w_t), GFS sharpness phi(w_t) and 2/eta (top), loss (bottom), per step size.
2. ``beyond_dln``: the same for the deep linear network.

Fidelity notes (not a figure of the paper: the paper proves the scalar case; this is the "beyond" question):
* Data: X ~ N(0, I) (N x d), teacher y = tanh(X t) (MLP) or y = X t / 2 (DLN), t ~ N(0, I / d). N = 16 and
  d = 8 so that gradient flow converges fast (the smallest nonzero Hessian eigenvalue at the flow's end is
  about 0.03): phi is then computable to about 1e-8 relative.
* phi(w_t): gradient flow from w_t by the layer's Dormand-Prince 5(4) (rtol 1e-10) until the loss is
  <= 1e-16, then Lanczos (tolerance 1e-10). An "increase" of phi counts only above 1e-6 relative, 100 times
  the integration error measured by tightening the flow's loss tolerance to 1e-20 (reported in the data).
* MSE loss (1/N) sum 0.5 (f - y)^2, standard scaling, biases; the zoo's initialisation scaled by 0.3, so that
  the sharpness starts below 2/eta and rises to it (progressive sharpening, then the edge of stability),
  the scenario of the paper's scalar-network theorem (eta phi(w_0) / 2 > 1 > eta S(w_0) / 2).
"""

from __future__ import annotations

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.models as gm
from gdsim import repro

NAME = "kreisler2023_gfs_beyond"
TITLE = "GFS sharpness along GD beyond scalar networks: a tanh MLP and a deep linear network"
FIGURES = {
    "beyond_mlp": "sharpness, GFS sharpness and loss along GD for a two-layer tanh MLP at four step sizes",
    "beyond_dln": "the same for a depth-3 deep linear network",
}
RUNTIME = {"quick": "~90 s (40 s of it compilation)", "full": "~15 min"}
BIBTEX = """
@inproceedings{kreisler2023gradient,
  title     = {Gradient Descent Monotonically Decreases the Sharpness of Gradient Flow Solutions in Scalar Networks and Beyond},
  author    = {Kreisler, Itai and Shpigel Nacson, Mor and Soudry, Daniel and Carmon, Yair},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  year      = {2023},
  eprint    = {2305.13064},
  archivePrefix = {arXiv}
}
"""

QUICK = dict(n=16, d=8, width=32, init_scale=0.3, steps=800, record_every=10, r=(0.9, 1.05, 1.2, 1.5),
             loss_tol=1e-16, pdf=False)
FULL = dict(n=16, d=8, width=32, init_scale=0.3, steps=4000, record_every=2,
            r=(0.8, 0.9, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5), loss_tol=1e-16, pdf=True)

#: an increase of phi smaller than this (relative) is not counted: 100x the measured integration error
INCREASE_TOL = 1e-6


def problem(kind, cfg, seed):
    """The model and its initial parameters (deterministic in ``seed``)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    n, d = int(cfg["n"]), int(cfg["d"])
    X = rng.standard_normal((n, d))
    t = rng.standard_normal(d) / np.sqrt(d)
    if kind == "mlp":
        m = gm.mlp([d, int(cfg["width"]), 1], "tanh", "mse", data=(X, np.tanh(X @ t)), init_scale=cfg["init_scale"])
    else:
        m = gm.deep_linear([d, d, d, 1], data=(X, X @ t / 2), init_scale=cfg["init_scale"])
    return m, m.init(np.random.SeedSequence(seed, spawn_key=(1,)))


def track(kind, cfg, seed, progress=False) -> dict:
    """GD at the step sizes eta = 2 r / phi(w_0) from one start, with S(w_t), phi(w_t) and the loss recorded."""
    m, w0 = problem(kind, cfg, seed)
    tol = float(cfg["loss_tol"])
    phi0 = gdyn.gfs_sharpness(m, w0, loss_tol=tol)
    r = np.asarray(cfg["r"], dtype=float)
    lr = 2 * r / phi0
    res = gdyn.gd(m, w0, lr, int(cfg["steps"]), record_every=int(cfg["record_every"]),
                  observe=("loss", "sharpness", "gfs_sharpness", "w"), gfs_kwargs=dict(loss_tol=tol),
                  progress=progress, seed=seed)
    phi = res.gfs_sharpness
    # integration error of phi, measured: tighten the flow's tolerance on a few records
    idx = np.linspace(0, res.t.size - 1, 4).astype(int)
    sample = res.w[idx, 0]
    tight = gdyn.gfs_sharpness(m, sample, loss_tol=tol * 1e-4)
    err = float(np.nanmax(np.abs(phi[idx, 0] / tight - 1)))
    rel_step = np.diff(phi, axis=0) / phi[:-1]
    n_inc = np.sum(rel_step > INCREASE_TOL, axis=0)
    max_inc = np.nanmax(np.where(np.isfinite(rel_step), rel_step, -np.inf), axis=0)
    return dict(t=res.t, loss=res.loss, sharpness=res.sharpness, gfs_sharpness=phi, lr=lr, r=r, phi0=phi0,
                n_increases=n_inc, max_relative_increase=max_inc, phi_error=err, diverged=res.diverged,
                final_ratio=res.sharpness[-1] * lr / 2, n_params=m.n_params)


def summary_lines(kind, data) -> list[str]:
    """One line per step size: monotone or not, by how much."""
    out = []
    for j, r in enumerate(data["r"]):
        if data["diverged"][j]:
            out.append(f"{kind} r = {r:.2f}: diverged")
            continue
        verdict = "monotone" if data["n_increases"][j] == 0 else (
            f"NOT monotone: {data['n_increases'][j]} increases, largest {data['max_relative_increase'][j]:.2e}")
        out.append(f"{kind} r = {r:.2f}: phi {data['gfs_sharpness'][0, j]:.4f} -> {data['gfs_sharpness'][-1, j]:.4f}, "
                   f"{verdict}; final eta S / 2 = {data['final_ratio'][j]:.3f}")
    return out


def _figure(kind, label, cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    data = track(kind, cfg, seed, progress)
    r = data["r"]
    fig, axes = plt.subplots(2, r.size, figsize=(3.6 * r.size, 5.6), sharex=True, squeeze=False,
                             gridspec_kw=dict(height_ratios=(2, 1)))
    for j in range(r.size):
        top, bottom = axes[0, j], axes[1, j]
        top.plot(data["t"], data["sharpness"][:, j], color="tab:blue", lw=0.9, label=r"sharpness $S(w_t)$")
        top.plot(data["t"], data["gfs_sharpness"][:, j], color="tab:red", lw=2.0, label=r"GFS sharpness $\phi(w_t)$")
        top.axhline(2 / data["lr"][j], color="k", ls="--", lw=1.0, label=r"$2/\eta$")
        state = "diverged" if data["diverged"][j] else (
            "phi monotone" if data["n_increases"][j] == 0 else f"phi rises {data['n_increases'][j]}x")
        top.set_title(f"$\\eta\\phi_0/2$ = {r[j]:.1f}: {state}", fontsize=10)
        bottom.semilogy(data["t"], np.maximum(data["loss"][:, j], 1e-32), color="tab:gray", lw=0.9)
        bottom.set_xlabel("GD step t")
    axes[0, 0].set_ylabel("sharpness")
    axes[1, 0].set_ylabel("loss")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{label} (P = {data['n_params']}): GFS sharpness along GD at the edge of stability "
                 f"(phi accurate to {data['phi_error']:.0e})")
    lines = summary_lines(kind, data)
    if progress:
        print("\n".join(lines))
    meta = {**meta, "summary": lines}
    return repro.save_figure(fig, out, f"kreisler2023_beyond_{kind}", data, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
        Output folder.
    seed : int
        Seed of the data and the initialisation.
    progress : bool
        Progress bars, and the monotonicity summary printed.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {
        "beyond_mlp": _figure("mlp", "two-layer tanh MLP", config, out, meta, seed, progress),
        "beyond_dln": _figure("dln", "deep linear network (depth 3)", config, out, meta, seed, progress),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
