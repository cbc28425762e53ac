"""Reproduction: A. Agarwala, F. Pedregosa, J. Pennington, "Second-order regression models exhibit progressive
sharpening to the edge of stability", arXiv:2210.04860 (2022).

Residuals quadratic in the parameters, z(w) = <J, w> + 0.5 w^T Q w - y, loss z^2 / 2, trained by GD. The
tracked quantity is lambda = ||J(w)||^2 (the NTK eigenvalue; the sharpness at a minimum). Gradient flow only
increases lambda here (progressive sharpening); GD ends at eta * lambda just below 2 even where gradient flow
would end above 2 (the edge of stability), and at larger eps * y stops converging.

Figures
-------
1. ``trajectories``: eta lambda_t along GD in the two-parameter model for four step sizes, with the
   gradient-flow limits (dashed) and 2 (black); |z_t|; and a random P = 64 model (random symmetric Q):
   GD's final eta lambda against eta next to gradient flow's.
2. ``phase_map``: the (eta lambda_0, eps y) plane of the two-parameter model, run on gdsim.sweep: final
   eta lambda where GD converges, and where it cycles, wanders or diverges; the line where gradient flow
   would end at exactly 2/eta.

Fidelity notes (also in the README):
* The two-parameter model is the spec's reconstruction [INFERRED]: Q = diag(eps, -eps), g = (cos 0.3,
  sin 0.3) (lambda_0 = 1), w_0 = 0, eps y = 0.1 for the trajectories (eps = 0.05, y = 2). The paper's
  closed-form limit of eta lambda [GAP] is not used; the claims are the spec's reference-run numbers
  (final eta lambda 1.9395 at eta = 1.8; gradient flow 2.107), which this code reproduces to 4 digits.
* Gradient flow's limit is exact: the flow moves along dw/ds = J(w) (time rescaled by z), solved in closed
  form and bisected for z = 0 (:func:`gdsim.stability.second_order_flow_limit`); for the random model it is
  the shared layer's Dormand-Prince flow (``gdsim.dynamics.gfs``).
* Random model [GAP: the paper's ensemble]: P = 64, D = 1, J uniform on the sphere, Q = eps (G + G^T)/sqrt(2P)
  with G Gaussian, eps = 0.05, the sign of y chosen so that gradient flow sharpens (eps y J^T Q J > 0),
  |eps y| = 0.25. What is seen: GD converges below 2/eta wherever gradient flow would end above it, but
  further below than in two dimensions (final eta lambda 1.17-1.55 at eta = 1.8-2.4), because GD's large steps lower lambda
  through Q's other directions.
* Status of a map cell after ``map_steps``: converged (|eps z| < 1e-12), periodic (the last iterates repeat
  with period 2, 4 or 8), not converged (chaotic or slow), diverged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import gdsim.dynamics as gdyn
import gdsim.models as gm
import gdsim.stability as gst
from gdsim import repro
from gdsim.sweep import Sweep
from gdsim.sweep import run as run_sweep

NAME = "agarwala2022_second_order_regression"
TITLE = "Second-order regression models exhibit progressive sharpening to the edge of stability (Agarwala et al.)"
FIGURES = {
    "trajectories": "eta lambda_t along GD against the gradient-flow limit, two-parameter and random P = 64 models",
    "phase_map": "converge below 2/eta, cycle or chaos, diverge over (eta lambda_0, eps y)",
}
RUNTIME = {"quick": "~50 s (30 s of it compilation)", "full": "~2 min"}
BIBTEX = """
@article{agarwala2022second,
  title   = {Second-order regression models exhibit progressive sharpening to the edge of stability},
  author  = {Agarwala, Atish and Pedregosa, Fabian and Pennington, Jeffrey},
  journal = {arXiv preprint arXiv:2210.04860},
  year    = {2022}
}
"""

ANGLE = 0.3
EPS = 0.05
QUICK = dict(eps_y=0.1, lrs=(1.4, 1.6, 1.8, 1.9), steps=20000, record_every=1, random_P=64, random_eps_y=0.25,
             random_lrs=np.linspace(0.2, 2.4, 12).tolist(), map_lr=(0.05, 2.6, 208), map_eps_y=(-0.6, 0.6, 192),
             map_steps=20000, pdf=False, map_store=None)
FULL = dict(eps_y=0.1, lrs=(1.2, 1.4, 1.6, 1.7, 1.8, 1.9, 1.95), steps=50000, record_every=1, random_P=128,
            random_eps_y=0.25, random_lrs=np.linspace(0.1, 2.5, 49).tolist(), map_lr=(0.05, 2.6, 1024),
            map_eps_y=(-0.6, 0.6, 1024), map_steps=50000, pdf=True,
            map_store="sweeps/agarwala2022_map_full.zarr")  # resumable: re-run to continue


def two_parameter_model(eps_y, eps=EPS, angle=ANGLE):
    """The two-parameter model as a zoo entry: J = (cos angle, sin angle), Q = diag(eps, -eps), y = eps_y / eps."""
    g = np.array([np.cos(angle), np.sin(angle)])
    return gm.second_order_regression(g, np.diag([eps, -eps]), eps_y / eps), g


def ntk_eigenvalue(m, w):
    """lambda = ||J + Q w||^2 of a one-datapoint second-order model at parameters w (..., P)."""
    J, Q = m.data[0][0], m.data[1][0]
    Jw = J + np.einsum("ij,...j->...i", Q, w)
    return np.sum(Jw * Jw, axis=-1)


def trajectories(cfg, progress=False) -> dict:
    """GD at the configured step sizes in the two-parameter model (on the shared layer), with the exact
    gradient-flow limit."""
    m, _ = two_parameter_model(cfg["eps_y"])
    lrs = np.asarray(cfg["lrs"], dtype=float)
    res = gdyn.gd(m, np.zeros((lrs.size, 2)), lrs, int(cfg["steps"]), record_every=int(cfg["record_every"]),
                  observe=("loss", "w"), progress=progress)
    lam = ntk_eigenvalue(m, res.w)
    lam_gf = gst.second_order_flow_limit(cfg["eps_y"], angle=ANGLE)
    # every step is recorded (the overshoot lasts a few steps); the plotted/saved series is thinned
    keep = np.unique(np.concatenate((np.arange(min(res.t.size, 200)),
                                     np.geomspace(1, res.t.size - 1, 600).astype(int))))
    return dict(t=res.t[keep], lr=lrs, lr_ntk=(lam * lrs)[keep], residual=np.sqrt(2 * res.loss)[keep],
                lam_gf=lam_gf, final_lr_ntk=lam[-1] * lrs, max_lr_ntk=np.max(lam * lrs, axis=0),
                gf_lr_ntk=lam_gf * lrs, final_residual=np.sqrt(2 * res.loss[-1]))


def random_model(cfg, seed):
    """The random P-dimensional model (see the module docstring) and its sharpening sign."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    P = int(cfg["random_P"])
    J = rng.standard_normal(P)
    J /= np.linalg.norm(J)
    G = rng.standard_normal((P, P))
    Q = (G + G.T) / np.sqrt(2 * P)
    sign = np.sign(J @ Q @ J)
    return gm.second_order_regression(J, EPS * Q, sign * cfg["random_eps_y"] / EPS)


def random_sweep(cfg, seed, progress=False) -> dict:
    """Final eta lambda of GD over eta in the random model, and gradient flow's limit (shared layer)."""
    m = random_model(cfg, seed)
    P = m.n_params
    w_gf = gdyn.gfs(m, np.zeros(P), loss_tol=1e-28)
    lam_gf = float(ntk_eigenvalue(m, w_gf))
    lrs = np.asarray(cfg["random_lrs"], dtype=float)
    res = gdyn.gd(m, np.zeros((lrs.size, P)), lrs, int(cfg["steps"]), record_every=int(cfg["steps"]),
                  observe=("loss", "w"), progress=progress)
    lam = ntk_eigenvalue(m, res.w[-1])
    converged = res.loss[-1] < 1e-24
    return dict(lr=lrs, final_lr_ntk=np.where(converged, lam * lrs, np.nan), gf_lr_ntk=lam_gf * lrs,
                lam_gf=lam_gf, converged=converged, P=P)


def map_sweep(cfg, seed=repro.DEFAULT_SEED) -> Sweep:
    """The phase map as a :class:`gdsim.sweep.Sweep` over (lr, eps_y) (lambda_0 = 1: lr is eta lambda_0)."""
    return Sweep("agarwala2022_phase_map", axes={"lr": np.linspace(*cfg["map_lr"][:2], int(cfg["map_lr"][2])),
                                                 "eps_y": np.linspace(*cfg["map_eps_y"][:2], int(cfg["map_eps_y"][2]))},
                 simulation="gdsim.stability.sweeps:second_order_cells",
                 params={"steps": int(cfg["map_steps"]), "angle": ANGLE}, chunk_points=8192, seed=seed)


def phase_map(cfg, progress=False, store=None) -> dict:
    """The map's outputs (sweep engine; a temporary store unless ``store`` / ``cfg["map_store"]``)."""
    sw = map_sweep(cfg)
    store = store or cfg.get("map_store")
    with tempfile.TemporaryDirectory() as tmp:
        ds = run_sweep(sw, store or Path(tmp) / "map.zarr", progress=progress, verbose=progress).dataset()
        out = {k: ds[k].values for k in ("final_lr_ntk", "max_lr_ntk", "final_residual", "status")}
        out.update(lr=ds["lr"].values, eps_y=ds["eps_y"].values)
    out["status"] = out["status"].astype(np.int8)
    # where gradient flow ends at 2/eta: eta = 2 / lambda_inf(eps_y)
    out["gf_edge_lr"] = 2.0 / gst.second_order_flow_limit(out["eps_y"], angle=ANGLE)
    return out


def _trajectories_figure(cfg, out, meta, seed, progress):
    import matplotlib.pyplot as plt

    tr = trajectories(cfg, progress)
    rs = random_sweep(cfg, seed, progress)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, tr["lr"].size))
    for j, c in enumerate(colors):
        axes[0].plot(tr["t"], tr["lr_ntk"][:, j], color=c, lw=1.0, label=f"$\\eta$ = {tr['lr'][j]:.2f}")
        axes[0].axhline(tr["gf_lr_ntk"][j], color=c, ls="--", lw=1.0)
        axes[1].semilogy(tr["t"], np.maximum(tr["residual"][:, j], 1e-17), color=c, lw=1.0,
                         label=f"$\\eta$ = {tr['lr'][j]:.2f}")
    axes[0].axhline(2.0, color="k", lw=1.2, label=r"$\eta\lambda = 2$")
    axes[0].set_xscale("symlog", linthresh=10)
    axes[0].set_xlim(0, tr["t"][-1])
    axes[0].set_xlabel("GD step $t$")
    axes[0].set_ylabel(r"$\eta\lambda_t$")
    axes[0].set_title(f"two-parameter model, $\\epsilon y$ = {cfg['eps_y']}: GD (solid), gradient-flow limit "
                      "(dashed)", fontsize=9)
    repro.legend_outside(axes[0], loc="below", ncol=3)
    axes[1].set_xscale("symlog", linthresh=10)
    axes[1].set_xlim(0, tr["t"][-1])
    axes[1].set_xlabel("GD step $t$")
    axes[1].set_ylabel(r"residual $|z_t|$")
    # the flat tails are float64 round-off: GD has converged to |z| ~ eps * (size of the terms summed)
    floor = tr["final_residual"]
    axes[1].set_title(f"residual; the flat tails ({floor.min():.0e} to {floor.max():.0e}) are float64 round-off",
                      fontsize=9)
    repro.legend_outside(axes[1], loc="below", ncol=2)
    axes[2].plot(rs["lr"], rs["gf_lr_ntk"], "k--", label=r"gradient flow $\eta\lambda_\infty$")
    axes[2].plot(rs["lr"], rs["final_lr_ntk"], "o-", color="C3", ms=3, label=r"GD final $\eta\lambda$")
    axes[2].axhline(2.0, color="k", lw=1.2, label=r"$\eta\lambda = 2$")
    axes[2].set_xlabel(r"$\eta$ ($\lambda_0 = 1$)")
    axes[2].set_ylabel(r"$\eta\lambda$ at the end")
    n_div = int(np.sum(~rs["converged"]))
    axes[2].set_title(f"random model $P$ = {rs['P']}: GD converged at {rs['lr'].size - n_div} of {rs['lr'].size} "
                      f"step sizes" + (" (missing points: not converged)" if n_div else ""), fontsize=9)
    repro.legend_outside(axes[2], loc="below", ncol=2)
    # the claim, read off the data: where gradient flow would end above 2, GD's final eta*lambda (both models)
    above_tr, above_rs = tr["gf_lr_ntk"] > 2, (rs["gf_lr_ntk"] > 2) & rs["converged"]
    parts = [f"{name}: final $\\eta\\lambda$ {v.min():.3f} to {v.max():.3f}" for name, v in
             (("two-parameter model", tr["final_lr_ntk"][above_tr]), ("random model", rs["final_lr_ntk"][above_rs]))
             if v.size]
    fig.suptitle(r"Progressive sharpening: where gradient flow would end above $2/\eta$, GD ends below it"
                 + (f" ({'; '.join(parts)})" if parts else ""), fontsize=11)
    lines = [f"eta = {e:.2f}: GD final eta*lambda {f:.4f} (max {mx:.4f}), gradient flow {g:.4f}"
             for e, f, mx, g in zip(tr["lr"], tr["final_lr_ntk"], tr["max_lr_ntk"], tr["gf_lr_ntk"])]
    if progress:
        print("\n".join(lines))
    data = {**tr, **{f"random_{k}": v for k, v in rs.items()}}
    return repro.save_figure(fig, out, "agarwala2022_trajectories", data, {**meta, "summary": lines}, pdf=cfg["pdf"])


def _map_figure(cfg, out, meta, progress):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    d = phase_map(cfg, progress)
    lr, ey, st = d["lr"], d["eps_y"], d["status"]
    extent = (lr[0], lr[-1], ey[0], ey[-1])
    fig, ax = plt.subplots(figsize=(7.5, 5.5), constrained_layout=True)
    other = np.where(st == 0, np.nan, st).astype(float)
    ax.imshow(other.T, origin="lower", extent=extent, aspect="auto", interpolation="nearest",
              cmap=ListedColormap(["C1", "C4", "0.15"]), vmin=0.5, vmax=3.5)
    conv = np.where(st == 0, d["final_lr_ntk"], np.nan)
    im = ax.imshow(conv.T, origin="lower", extent=extent, aspect="auto", interpolation="nearest", cmap="viridis",
                   vmin=0, vmax=2)
    edge = d["gf_edge_lr"]
    ok = (edge > lr[0]) & (edge < lr[-1])
    ax.plot(edge[ok], ey[ok], "w--", lw=1.5)
    ax.axvline(2.0, color="w", lw=1.0)
    ax.set_xlabel(r"$\eta\lambda_0$")
    ax.set_ylabel(r"$\epsilon y$")
    fig.colorbar(im, ax=ax, label=r"final $\eta\lambda$ (converged)")
    counts = {c: int(np.sum(st == c)) for c in (0, 1, 2, 3)}
    repro.legend_outside(ax, loc="below", ncol=3, fontsize=8, facecolor="0.6", frameon=True,
                         handles=[Patch(color="C1", label=f"2-, 4- or 8-cycle ({counts[1]} cells)"),
                                  Patch(color="C4", label=f"not converged, chaos ({counts[2]})"),
                                  Patch(color="0.15", label=f"diverged ({counts[3]})"),
                                  plt.Line2D([], [], color="w", ls="--", label=r"gradient flow ends at $2/\eta$"),
                                  plt.Line2D([], [], color="w", label=r"$\eta\lambda_0 = 2$")])
    ax.set_title(f"GD on the two-parameter second-order model ({cfg['map_steps']} steps; grid on gdsim.sweep)",
                 fontsize=10)
    return repro.save_figure(fig, out, "agarwala2022_phase_map", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate both figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
    seed : int
        Seed of the random model.
    progress : bool
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {"trajectories": _trajectories_figure(config, out, meta, seed, progress),
            "phase_map": _map_figure(config, out, meta, progress)}


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
