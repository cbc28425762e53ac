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

Every statement in the titles and the ``summary`` lines of the sidecars is read off the data: whether phi
ever rises, the maximum of S / (2 / eta) and its range over the second half of the run (a period-2 orbit
shows as a wide range, e.g. the deep linear network at eta phi0 / 2 = 1.5, where S alternates between two
values on either side of 2 / eta while the loss alternates too and never converges).

Fidelity notes (not a figure of the paper: the paper proves the scalar case; this is the "beyond" question):
* Data: X ~ N(0, I) (N x d), teacher y = tanh(X t) (MLP) or y = X t / 2 (DLN), t ~ N(0, I / d). N = 16 and
  d = 8 so that gradient flow converges fast (the smallest nonzero Hessian eigenvalue at the flow's end is
  about 0.03): phi is then computable to about 1e-8 relative.
* phi(w_t): gradient flow from w_t by the layer's Dormand-Prince 5(4) (rtol 1e-10) until the loss is
  <= 1e-16, then Lanczos (tolerance 1e-10). An "increase" of phi counts only above 1e-6 relative, 100 times
  the integration error measured by tightening the flow's loss tolerance to 1e-20 (reported in the data).
* Records: S(w_t) and the loss at every step; phi(w_t) at the steps t = k * record_every and t + 1 (both
  phases of a period-2 orbit: sampling every 10th step alone showed one phase of the orbit, a flat S far
  below 2 / eta).
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
RUNTIME = {"quick": "480 s measured on 2 cores shared with other jobs (load 6-8; phi at 161 records x 4 step sizes)",
           "full": "~30 min (estimated: phi now at every step, twice the records of the 15 min measured before)"}
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


def phi_steps(steps: int, every: int) -> np.ndarray:
    """The GD steps at which phi is computed: every ``every``-th step t AND t + 1, so that both phases of a
    period-2 orbit are seen (sampling every 10th step alone shows one phase only)."""
    base = np.arange(0, steps + 1, every)
    return np.unique(np.concatenate([base, base + 1, [steps]]).clip(0, steps))


def track(kind, cfg, seed, progress=False) -> dict:
    """GD at the step sizes eta = 2 r / phi(w_0) from one start.

    The loss and the sharpness S(w_t) are recorded at every step; the GFS sharpness phi(w_t) at the steps
    :func:`phi_steps` (pairs t, t + 1), so that a period-2 orbit shows both of its phases.
    """
    from gdsim._core.progress import progress_bar

    m, w0 = problem(kind, cfg, seed)
    tol = float(cfg["loss_tol"])
    phi0 = gdyn.gfs_sharpness(m, w0, loss_tol=tol)
    r = np.asarray(cfg["r"], dtype=float)
    lr = 2 * r / phi0
    steps = int(cfg["steps"])
    res = gdyn.gd(m, w0, lr, steps, record_every=1, observe=("loss", "sharpness", "w"),
                  progress=progress, seed=seed)
    t_phi = phi_steps(steps, int(cfg["record_every"]))
    w_phi = res.w[t_phi]  # (n_phi, n_r, P); res.t == arange(steps + 1)
    flat = w_phi.reshape(-1, w_phi.shape[-1])
    ok = np.flatnonzero(np.isfinite(flat).all(axis=1))  # a diverged run's parameters are NaN: no phi there
    phi = np.full(flat.shape[0], np.nan)
    chunk = 32
    with progress_bar(ok.size, enabled=progress, desc=f"{kind}: GFS sharpness", unit="point") as bar:
        for i in range(0, ok.size, chunk):
            sel = ok[i:i + chunk]
            phi[sel] = gdyn.gfs_sharpness(m, flat[sel], loss_tol=tol)
            bar.update(sel.size)
    phi = phi.reshape(w_phi.shape[:2])
    # integration error of phi, measured: tighten the flow's tolerance on a few records
    idx = np.linspace(0, t_phi.size - 1, 4).astype(int)
    tight = gdyn.gfs_sharpness(m, w_phi[idx, 0], loss_tol=tol * 1e-4)
    err = float(np.nanmax(np.abs(phi[idx, 0] / tight - 1)))
    rel_step = np.diff(phi, axis=0) / phi[:-1]
    n_inc = np.sum(rel_step > INCREASE_TOL, axis=0)
    max_inc = np.nanmax(np.where(np.isfinite(rel_step), rel_step, -np.inf), axis=0)
    ratio = res.sharpness * lr / 2  # S / (2 / eta)
    half = ratio[steps // 2:]
    return dict(t=res.t, loss=res.loss, sharpness=res.sharpness, t_phi=t_phi, gfs_sharpness=phi, lr=lr, r=r,
                phi0=phi0, n_increases=n_inc, max_relative_increase=max_inc, phi_error=err,
                diverged=res.diverged, final_ratio=ratio[-1], max_ratio=np.nanmax(ratio, axis=0),
                late_ratio_min=np.nanmin(half, axis=0), late_ratio_max=np.nanmax(half, axis=0),
                period2_amplitude=np.abs(ratio[-1] - ratio[-2]), n_params=m.n_params)


def _fmt(x: float) -> str:
    """A step-size ratio with the digits it needs (1.05, not 1.1)."""
    return f"{x:.3g}"


def state(data, j) -> str:
    """What the data say about run ``j``, in words (used in titles and in the summary)."""
    if data["diverged"][j]:
        return "diverged"
    n = int(data["n_increases"][j])
    if n == 0:
        return "$\\phi$ non-increasing"
    mant, ex = f"{data['max_relative_increase'][j]:.0e}".split("e")
    return (f"$\\phi$ rises at {n} of {data['t_phi'].size - 1} intervals,\n"
            f"by at most ${mant}\\times 10^{{{int(ex)}}}$ relative")


def summary_lines(kind, data) -> list[str]:
    """One line per step size, every number read off the data: phi's monotonicity, and where S sits against
    2 / eta (max over the run, the range over its second half: a period-2 orbit shows as a wide range)."""
    out = []
    for j, r in enumerate(data["r"]):
        if data["diverged"][j]:
            out.append(f"{kind} eta phi0 / 2 = {_fmt(r)}: diverged")
            continue
        verdict = "phi non-increasing" if data["n_increases"][j] == 0 else (
            f"phi NOT monotone: rises at {data['n_increases'][j]} of {data['t_phi'].size - 1} recorded intervals, "
            f"largest {data['max_relative_increase'][j]:.2e} relative")
        out.append(f"{kind} eta phi0 / 2 = {_fmt(r)}: phi {data['gfs_sharpness'][0, j]:.4f} -> "
                   f"{data['gfs_sharpness'][-1, j]:.4f}, {verdict}; max S / (2/eta) = {data['max_ratio'][j]:.3f}; "
                   f"S / (2/eta) over the second half in [{data['late_ratio_min'][j]:.3f}, "
                   f"{data['late_ratio_max'][j]:.3f}]; final S / (2/eta) = {data['final_ratio'][j]:.3f}")
    return out


def _figure(kind, label, cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    data = track(kind, cfg, seed, progress)
    r = data["r"]
    fig, axes = plt.subplots(2, r.size, figsize=(4.2 * r.size, 6.2), sharex=True, squeeze=False,
                             gridspec_kw=dict(height_ratios=(2, 1)), layout="constrained")
    tp = data["t_phi"]
    even = tp % 2 == 0
    for j in range(r.size):
        top, bottom = axes[0, j], axes[1, j]
        ev = data["t"] % 2 == 0  # S at even and at odd steps apart: a period-2 orbit shows as two lines, not a band
        top.plot(data["t"][ev], data["sharpness"][ev, j], color="C0", lw=0.9, label=r"sharpness $S(w_t)$, even $t$")
        top.plot(data["t"][~ev], data["sharpness"][~ev, j], color="C5", lw=0.9, label=r"sharpness $S(w_t)$, odd $t$")
        top.plot(tp[even], data["gfs_sharpness"][even, j], color="C3", lw=2.0,
                 label=r"GFS sharpness $\phi(w_t)$, even $t$")
        top.plot(tp[~even], data["gfs_sharpness"][~even, j], color="C1", lw=1.2, ls="--",
                 label=r"GFS sharpness $\phi(w_t)$, odd $t$")
        top.axhline(2 / data["lr"][j], color="k", ls=":", lw=1.2, label=r"$2/\eta$")
        top.set_title(f"$\\eta\\phi_0/2 = {_fmt(r[j])}$: {state(data, j)}\n"
                      f"max $S/(2/\\eta)$ = {data['max_ratio'][j]:.3f}; second half in "
                      f"[{data['late_ratio_min'][j]:.2f}, {data['late_ratio_max'][j]:.2f}]", fontsize=9)
        if data["loss"][-1, j] < 1e-28:  # the loss reached float64 round-off: say what the flat tail is
            bottom.text(0.97, 0.9, "flat tail: float64 round-off", transform=bottom.transAxes, ha="right",
                        va="top", fontsize=7)
        bottom.semilogy(data["t"][ev], data["loss"][ev, j], color="C7", lw=0.8, label="even $t$")
        bottom.semilogy(data["t"][~ev], data["loss"][~ev, j], color="0.6", lw=0.8, label="odd $t$")
        bottom.set_xlabel("GD step $t$")
    axes[0, 0].set_ylabel("sharpness")
    axes[1, 0].set_ylabel(r"loss $L(w_t)$")
    repro.legend_outside(axes[0, -1])
    repro.legend_outside(axes[1, -1], title="loss")
    k = int(cfg["record_every"])
    mant, ex = f"{float(data['phi_error']):.0e}".split("e")
    fig.suptitle(f"{label}, {data['n_params']} parameters: GFS sharpness along GD\n"
                 f"($\\phi$ accurate to ${mant}\\times 10^{{{int(ex)}}}$ relative; $S$ and the loss recorded every "
                 f"step, $\\phi$ at steps ${k}k$ and ${k}k+1$)")
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
