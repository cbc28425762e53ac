"""Reproduction: Kreisler, Shpigel Nacson, Soudry, Carmon, "Gradient Descent Monotonically Decreases the
Sharpness of Gradient Flow Solutions in Scalar Networks and Beyond", ICML 2023 (arXiv:2305.13064).

Figures
-------
1. ``teaser``: loss (non-monotone), sharpness S(w_t) rising to / oscillating around 2/eta, GFS sharpness
   phi(w_t) decreasing monotonically, for depth D = 2, 3, 4 and for the squared regression model.
2. ``eos_map``: final sharpness x eta/2 over a grid of (step size, initial GFS sharpness), D = 2..6.
3. ``one_step``: fraction of random states whose phi increases after one GD step vs r = eta phi / 2.
4. ``momentum`` (an extension, not a figure of the paper): the teaser's D = 2 and D = 3 runs with GD, heavy
   ball and Nesterov (beta = 0.9), at the teaser's eta and at eta (1 - beta) (so that the momentum runs'
   effective step lr / (1 - beta) equals GD's eta); loss and phi(w_t) per step, with the rises of phi counted.

Fidelity notes (the spec's [GAP]s and the choices made here; also in the README):
* The paper's own figure settings are not confirmed. The teaser uses the spec's deterministic runs
  (table C8 rows D = 2, 3, 4: w0 = (0.5, 1.6), (0.5, 1.5, 1.2), (0.4, 0.9, 1.3, 1.8) with
  r = eta phi0 / 2 = 1.2, 1.2, 1.1) and the spec's squared-regression instance (section 5.1, r = 1.2).
* The squared regression model is the spec's reconstruction f(x; w) = <w*w, x> (variant A) [GAP].
* EoS map starts: for each target phi0, a minimiser with one small weight (s_1^2 = x, the other
  squares x^(-1/(D-1))) is shifted down by a common delta = x/2 on every square, which keeps every
  w_i^2 - w_j^2 and so phi(w0) = phi0 exactly, with prod(w0) < 1 (chosen here, not the paper's).
* One-step states: prod(w) ~ U(0, 2), log-normal imbalance (sigma = 0.6), all weights positive (the spec's
  one-step scan region; the D = 2 threshold r = sqrt(2) holds exactly there).
* Convergence means |prod(w) - 1| < 1e-12 at the last step (spec pitfall: the float floor is ~1e-15 D).
* Momentum figure (extension; the theorem is about GD only): beta = 0.9 (chosen here, the common default),
  momentum buffer starting at 0; phi(w_t) is the engine's numerical GFS sharpness
  (:func:`gdsim.dynamics.gfs_sharpness`, ~1e-10 relative), checked against the closed form of
  :func:`gdsim.scalar.gfs_sharpness`; a rise counts above 1e-9 relative. Quadratic stability thresholds shown:
  GD 2/eta, heavy ball (2 + 2 beta)/eta, Nesterov (2 + 2 beta)/((1 + 2 beta) eta).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gdsim import repro
from gdsim._core.rng import as_generator
from gdsim.scalar import gd, gfs_sharpness
from gdsim.scalar import squared_regression as sr
from gdsim.scalar.sweeps import start_with_gfs_sharpness
from gdsim.sweep import Sweep
from gdsim.sweep import run as run_sweep

NAME = "kreisler2023_gfs_sharpness"
TITLE = "GD monotonically decreases the sharpness of gradient flow solutions (Kreisler et al., ICML 2023)"
FIGURES = {
    "teaser": "loss, sharpness and GFS sharpness along GD (D = 2, 3, 4; squared regression)",
    "eos_map": "final sharpness x eta/2 over (step size, initial GFS sharpness), D = 2..6",
    "one_step": "fraction of random states whose GFS sharpness rises after one step vs eta phi / 2",
    "momentum": "GD vs heavy ball vs Nesterov (beta = 0.9) on the teaser's runs: does phi still never rise? "
                "(extension)",
}
RUNTIME = {"quick": "~40 s", "full": "~10 min"}
BIBTEX = """
@inproceedings{kreisler2023gradient,
  title     = {Gradient Descent Monotonically Decreases the Sharpness of Gradient Flow Solutions in Scalar Networks and Beyond},
  author    = {Kreisler, Itai and Shpigel Nacson, Mor and Soudry, Daniel and Carmon, Yair},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {202},
  pages     = {17684--17744},
  year      = {2023},
  eprint    = {2305.13064},
  archivePrefix = {arXiv}
}
"""

#: Teaser runs: (w0, r = eta phi0 / 2, steps) from the spec's table C8.
TEASER_RUNS = (((0.5, 1.6), 1.2, 160), ((0.5, 1.5, 1.2), 1.2, 360), ((0.4, 0.9, 1.3, 1.8), 1.1, 380))

QUICK = dict(depths=(2, 3, 4, 5, 6), map_n_eta=40, map_n_phi=40, map_steps=20_000,
             one_step_states=3_000, one_step_n_r=49, momentum_depths=(2, 3), momentum_beta=0.9,
             momentum_steps=400, pdf=False)
FULL = dict(depths=(2, 3, 4, 5, 6), map_n_eta=160, map_n_phi=160, map_steps=200_000,
            one_step_states=100_000, one_step_n_r=99, momentum_depths=(2, 3), momentum_beta=0.9,
            momentum_steps=1_000, pdf=True,
            map_store="sweeps/kreisler2023_eos_map_full.zarr")  # resumable: re-run to continue

MAP_X = (0.1, 1.3)  # eta D / 2: beyond 1, 2/eta < D = phi_min and no minimum is stable
MAP_Y = (1.0, 4.0)  # phi0 / D
ONE_STEP_R = (0.05, 2.5)


def eos_start(phi0: float, D: int) -> np.ndarray:
    """A start with GFS sharpness exactly ``phi0`` (canonical loss; see the module's fidelity notes)."""
    return start_with_gfs_sharpness(phi0, D)


def _teaser(cfg, out, meta, progress):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 6.4), sharex="col", gridspec_kw=dict(height_ratios=(2, 1)),
                             layout="constrained")
    data = {}
    runs, rises, n_steps = [], [], []
    for w0, r, steps in TEASER_RUNS:
        phi0 = float(gfs_sharpness(w0))
        eta = 2 * r / phi0
        runs.append((f"D = {len(w0)}", eta, gd(w0, eta, steps, progress=False)))
    X, y, w0 = sr.reference_instance()
    phi0 = float(sr.gfs_sharpness(w0, X=X, y=y))
    eta = 2 * 1.2 / phi0
    runs.append(("squared regression", eta, sr.gd(w0, eta, 260, X=X, y=y)))
    for col, (label, eta, res) in enumerate(runs):
        key = label.replace(" ", "").replace("=", "")
        top, bottom = axes[0, col], axes[1, col]
        top.plot(res.t, res.sharpness, color="C0", lw=1.0, label=r"sharpness $S(w_t)$")
        top.plot(res.t, res.gfs_sharpness, color="C3", lw=2.0, label=r"GFS sharpness $\phi(w_t)$")
        top.axhline(2 / eta, color="k", ls="--", lw=1.0, label=r"$2/\eta$")
        name = f"scalar network ${label}$" if label.startswith("D") else label
        top.set_title(f"{name}, $\\eta\\phi_0/2$ = {eta * res.gfs_sharpness[0] / 2:.2f}")
        bottom.semilogy(res.t, res.loss, color="C7", lw=1.0)  # flattens at float64 round-off (~1e-32)
        bottom.set_xlabel("GD iteration $t$")
        phi = np.asarray(res.gfs_sharpness, dtype=float)
        rises.append(int(np.sum(phi[1:] > phi[:-1] * (1 + 1e-12))))
        n_steps.append(phi.size - 1)
        data.update({f"{key}_t": res.t, f"{key}_loss": res.loss, f"{key}_sharpness": res.sharpness,
                     f"{key}_gfs_sharpness": res.gfs_sharpness, f"{key}_eta": eta})
    axes[0, 0].set_ylabel("sharpness")
    axes[1, 0].set_ylabel("loss $L(w_t)$\n(flat at the end:\nfloat64 round-off)")
    repro.legend_outside(axes[0, -1])
    verdict = ("never rises" if sum(rises) == 0 else
               f"rises (by more than 1e-12 relative) at {sum(rises)} of {sum(n_steps)} steps")
    fig.suptitle(f"GD at the edge of stability: the loss and $S(w_t)$ oscillate; the GFS sharpness $\\phi(w_t)$ "
                 f"{verdict} (all four runs)")
    data["phi_rises"] = np.array(rises)
    return repro.save_figure(fig, out, "kreisler2023_teaser", data, meta, pdf=cfg["pdf"])


def eos_map_sweep(cfg, seed=repro.DEFAULT_SEED) -> Sweep:
    """The EoS map as a :class:`gdsim.sweep.Sweep` over (depth, phi0 / D, eta D / 2)."""
    return Sweep("kreisler2023_eos_map", axes={"depth": np.array(cfg["depths"]),
                                                "phi0_over_D": np.linspace(*MAP_Y, cfg["map_n_phi"]),
                                                "eta_D_over_2": np.linspace(*MAP_X, cfg["map_n_eta"])},
                 simulation="gdsim.scalar.sweeps:eos_final_state", params={"steps": int(cfg["map_steps"])},
                 chunks={"depth": 1, "phi0_over_D": max(1, 4096 // cfg["map_n_eta"])}, seed=seed)


def eos_map_data(cfg, progress=False, store=None) -> dict:
    """Final sharpness x eta/2 (NaN where not converged) and a status code per grid cell and depth.

    Runs on the sweep engine: with ``store`` (or ``cfg["map_store"]``) the grid is written there and a
    killed run resumes; otherwise a temporary store is used. status: 0 converged, 1 diverged, 2 still
    running at ``map_steps`` (no convergence; includes every cell with 2/eta < D, where no minimum is
    stable).
    """
    import tempfile

    sw = eos_map_sweep(cfg)
    store = store or cfg.get("map_store")
    with tempfile.TemporaryDirectory() as tmp:
        path = store or Path(tmp) / "eos_map.zarr"
        ds = run_sweep(sw, path, progress=progress, verbose=progress).dataset()
    xs, ys = ds["eta_D_over_2"].values, ds["phi0_over_D"].values
    depths = ds["depth"].values
    eta = 2 * xs[None, None, :] / depths[:, None, None]
    status = ds["status"].values.astype(np.int8)
    final = np.where(status == 0, ds["final_sharpness"].values * eta / 2, np.nan)
    return dict(eta_D_over_2=xs, phi0_over_D=ys, depths=depths, final_sharpness_eta_over_2=final, status=status)


def _eos_map(cfg, out, meta, progress):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    data = eos_map_data(cfg, progress)
    xs, ys = data["eta_D_over_2"], data["phi0_over_D"]
    depths = data["depths"]
    fig, axes = plt.subplots(1, len(depths), figsize=(3.6 * len(depths), 3.8), sharey=True, constrained_layout=True)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    status_cmap = ListedColormap(["white", "black", "0.75"])
    for ax, D, final, status in zip(axes, depths, data["final_sharpness_eta_over_2"], data["status"]):
        ax.imshow(np.where(status == 0, np.nan, status), origin="lower", extent=extent, aspect="auto",
                  cmap=status_cmap, vmin=0, vmax=2, interpolation="nearest")
        im = ax.imshow(final, origin="lower", extent=extent, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       interpolation="nearest")
        xx = np.linspace(max(xs[0], 1 / ys[-1]), min(xs[-1], 1 / ys[0]), 200)
        ax.plot(xx, 1 / xx, "w--", lw=1.5)  # phi0 = 2/eta: GF tracking below-left, EoS above-right
        ax.axvline(1.0, color="C3", lw=1.5)  # 2/eta = D: no stable minimum to the right
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_title(f"$D = {D}$")
        ax.set_xlabel(r"$\eta D/2$  (= $D/(2/\eta)$)")
    axes[0].set_ylabel(r"initial GFS sharpness $\phi_0 / D$")
    fig.colorbar(im, ax=axes, label=r"final sharpness $\times\ \eta/2$", shrink=0.9)
    fig.legend(handles=[Patch(color="black", label="diverged"), Patch(color="0.75", label="not converged"),
                        plt.Line2D([], [], color="w", ls="--", label=r"$\phi_0 = 2/\eta$"),
                        plt.Line2D([], [], color="C3", lw=1.5, label=r"$2/\eta = D$")],
               loc="outside lower center", ncol=4, frameon=True, facecolor="0.55")
    fig.suptitle(r"Where GD tracks gradient flow (final $S = \phi_0$), ends at the edge of stability "
                 r"(final $S\,\eta/2 \approx 1$), or fails")
    return repro.save_figure(fig, out, "kreisler2023_eos_map", data, meta, pdf=cfg["pdf"])


def random_states(rng, n: int, D: int) -> np.ndarray:
    """n positive states with prod(w) ~ U(0, 2) and log-normal imbalance (sigma 0.6)."""
    logw = rng.normal(0.0, 0.6, size=(n, D))
    target = rng.uniform(1e-3, 2.0, size=n)
    logw += (np.log(target) - logw.sum(axis=1))[:, None] / D
    return np.exp(logw)


def one_step_data(cfg, seed, progress=False) -> dict:
    """Fraction of states whose phi rises (beyond 1e-12 relative) after one GD step, per (D, r)."""
    rs = np.linspace(*ONE_STEP_R, cfg["one_step_n_r"])
    depths = tuple(cfg["depths"])
    frac = np.zeros((len(depths), rs.size))
    rng = as_generator(seed)
    for d_idx, D in enumerate(depths):
        w = random_states(rng, cfg["one_step_states"], D)
        phi = gfs_sharpness(w)
        eta = 2 * rs[:, None] / phi[None, :]
        res = gd(np.broadcast_to(w, (rs.size, *w.shape)), eta, 1, progress=progress)
        rose = res.gfs_sharpness[1] > res.gfs_sharpness[0] * (1 + 1e-12)
        frac[d_idx] = rose.mean(axis=1)
    return dict(r=rs, depths=np.array(depths), fraction_increased=frac)


def _one_step(cfg, out, seed, meta, progress):
    import matplotlib.pyplot as plt

    data = one_step_data(cfg, seed, progress)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for D, frac in zip(data["depths"], data["fraction_increased"]):
        ax.plot(data["r"], frac, marker="o", ms=3, label=f"$D = {D}$")
    ax.axvline(math.sqrt(2), color="k", ls="--", lw=1, label=r"$\sqrt{2}$ (exact for $D = 2$)")
    ax.set_xlabel(r"$r = \eta\,\phi(w)/2$")
    ax.set_ylabel(r"fraction with $\phi(w_{t+1}) > \phi(w_t)$")
    ax.set_title(f"One GD step from {cfg['one_step_states']} random states per depth, "
                 r"product of the $w_i$ in $(0, 2)$")
    repro.legend_outside(ax)
    ax.grid(alpha=0.3)
    return repro.save_figure(fig, out, "kreisler2023_one_step", data, meta, pdf=cfg["pdf"])


#: Relative rise of phi counted as a rise in the momentum figure (the engine's phi is accurate to ~1e-10).
MOMENTUM_RISE_TOL = 1e-9


def _momentum_runs(beta):
    """(key, legend label, optimiser, lr factor, threshold factor c: the quadratic stability limit is c / lr)."""
    import gdsim.dynamics as gdyn

    return (("gd", "GD", gdyn.GD(), 1.0, 2.0),
            ("heavy_ball", rf"heavy ball $\beta={beta:g}$", gdyn.HeavyBall(beta=beta), 1.0, 2 + 2 * beta),
            ("nesterov", rf"Nesterov $\beta={beta:g}$", gdyn.Nesterov(beta=beta), 1.0, (2 + 2 * beta) / (1 + 2 * beta)),
            ("heavy_ball_scaled", rf"heavy ball, $\eta(1-\beta)$", gdyn.HeavyBall(beta=beta), 1 - beta, 2 + 2 * beta),
            ("nesterov_scaled", rf"Nesterov, $\eta(1-\beta)$", gdyn.Nesterov(beta=beta), 1 - beta,
             (2 + 2 * beta) / (1 + 2 * beta)))


def momentum_data(cfg, progress=False) -> dict:
    """GD, heavy ball and Nesterov from the teaser's starts: loss, phi(w_t) and per-run summaries.

    For each depth in ``cfg["momentum_depths"]`` (a teaser run: its w0 and eta = 2 r / phi0) and each optimiser
    of :func:`_momentum_runs` (lr = eta, or eta (1 - beta) for the ``_scaled`` runs), ``gdsim.dynamics.run``
    for ``cfg["momentum_steps"]`` steps, recording loss, sharpness, phi (numerical GFS sharpness) and w at every
    step. Summaries per (depth, optimiser): number of steps whose phi rose by more than
    :data:`MOMENTUM_RISE_TOL` relative (over finite records), the largest relative change, divergence step,
    convergence (|prod(w) - 1| < 1e-12 at the end), final phi and final phi x lr / c (c / lr the quadratic
    stability threshold), and the largest relative gap between the engine's phi and the closed form.
    """
    import warnings

    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    beta = float(cfg["momentum_beta"])
    steps = int(cfg["momentum_steps"])
    starts = {len(w0): (np.array(w0, dtype=float), r) for w0, r, _ in TEASER_RUNS}
    runs = _momentum_runs(beta)
    data = {"beta": beta, "depths": np.array(cfg["momentum_depths"]), "runs": np.array([k for k, *_ in runs])}
    gfs_warnings = []
    for D in data["depths"]:
        w0, r = starts[int(D)]
        eta = 2 * r / float(gfs_sharpness(w0))
        m = gm.scalar_network(int(D))
        data[f"D{D}_eta"] = eta
        for key, _, opt, lr_factor, c in runs:
            lr = eta * lr_factor
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = gdyn.run(m, opt, w0, lr=lr, steps=steps, record_every=1, progress=progress,
                               observe=("loss", "sharpness", "gfs_sharpness", "w"))
            gfs_warnings += [f"D = {D}, {key}: {w.message}" for w in caught]
            phi = np.asarray(res.gfs_sharpness, dtype=float)
            w = np.asarray(res.w, dtype=float)
            ok = np.isfinite(phi[1:]) & np.isfinite(phi[:-1])
            rel = np.where(ok, (phi[1:] - phi[:-1]) / np.where(ok, phi[:-1], 1.0), np.nan)
            w_end = w[-1]
            diverged = bool(np.asarray(res.diverged).any() or not np.all(np.isfinite(w_end)))
            fin = np.isfinite(phi)
            exact = np.full_like(phi, np.nan)
            with warnings.catch_warnings(record=True):  # a run blowing up may pass a saddle: NaN there
                warnings.simplefilter("always")
                exact[fin] = gfs_sharpness(w[fin])
            both = fin & np.isfinite(exact)
            last = np.nan if diverged else phi[-1]
            pre = f"D{D}_{key}_"
            data.update({pre + "t": np.asarray(res.t), pre + "loss": np.asarray(res.loss, dtype=float),
                         pre + "sharpness": np.asarray(res.sharpness, dtype=float), pre + "gfs_sharpness": phi,
                         pre + "lr": lr, pre + "threshold": c / lr,
                         pre + "rises": int(np.sum(rel[ok] > MOMENTUM_RISE_TOL)),
                         pre + "max_rel_change": float(np.max(rel[ok])) if ok.any() else np.nan,
                         pre + "rise_from_min": (float(np.max(phi[fin] / np.minimum.accumulate(phi[fin]) - 1))
                                                 if fin.any() else np.nan),
                         pre + "diverged": diverged,
                         pre + "diverged_step": int(np.asarray(res.diverged_step).max()),
                         pre + "converged": bool(np.all(np.isfinite(w_end)) and abs(np.prod(w_end) - 1) < 1e-12),
                         pre + "final_phi": float(last), pre + "final_phi_over_threshold": float(last * lr / c),
                         pre + "phi_vs_closed_form": float(np.max(np.abs(phi[both] - exact[both]) / exact[both]))})
    data["gfs_warnings"] = np.array(gfs_warnings, dtype=str)
    return data


def momentum_claims(d) -> list[str]:
    """One sentence per (depth, optimiser), every number from ``d`` (:func:`momentum_data`)."""
    b = f"beta = {d['beta']:g}"
    names = {"gd": "GD", "heavy_ball": f"heavy ball {b}", "nesterov": f"Nesterov {b}",
             "heavy_ball_scaled": f"heavy ball {b}, lr = eta (1 - beta)",
             "nesterov_scaled": f"Nesterov {b}, lr = eta (1 - beta)"}
    out = []
    for D in d["depths"]:
        for key in d["runs"]:
            p = f"D{D}_{key}_"
            fate = (f"diverged at step {d[p + 'diverged_step']} (final phi: none)" if d[p + "diverged"] else
                    ("converged" if d[p + "converged"] else "not converged") +
                    f"; final phi = {d[p + 'final_phi']:.4f} = {d[p + 'final_phi_over_threshold']:.3f} x threshold "
                    f"{d[p + 'threshold']:.4f}")
            out.append(f"D = {D}, {names[str(key)]} (lr = {d[p + 'lr']:.4g}): phi rose at "
                       f"{d[p + 'rises']} of {d[p + 't'].size - 1} steps (> {MOMENTUM_RISE_TOL:g} relative), largest "
                       f"relative change {d[p + 'max_rel_change']:+.2e}, largest rise above its running minimum "
                       f"{d[p + 'rise_from_min']:.2e} relative; {fate}; engine phi vs "
                       f"closed form {d[p + 'phi_vs_closed_form']:.1e} relative")
    return out


def _momentum(cfg, out, meta, progress):
    import matplotlib.pyplot as plt

    d = momentum_data(cfg, progress)
    runs = _momentum_runs(d["beta"])
    styles = {"gd": ("C0", "-", 2.0), "heavy_ball": ("C1", "-", 1.3), "nesterov": ("C2", "-", 1.3),
              "heavy_ball_scaled": ("C1", ":", 1.6), "nesterov_scaled": ("C2", ":", 1.6)}
    short = {"gd": "GD", "heavy_ball": "HB", "nesterov": "NAG", "heavy_ball_scaled": r"HB$_s$",
             "nesterov_scaled": r"NAG$_s$"}
    nD = len(d["depths"])
    fig, axes = plt.subplots(nD, 2, figsize=(14, 3.9 * nD), squeeze=False, layout="constrained")
    for row, D in enumerate(d["depths"]):
        eta = d[f"D{D}_eta"]
        ax_l, ax_p = axes[row]
        for key, label, *_ in runs:
            p = f"D{D}_{key}_"
            col, ls, lw = styles[key]
            fate = (f", diverged at {d[p + 'diverged_step']}" if d[p + "diverged"] else
                    ", converged" if d[p + "converged"] else ", not converged")
            ax_l.semilogy(d[p + "t"], d[p + "loss"], color=col, ls=ls, lw=lw, label=label + fate)
            ax_p.plot(d[p + "t"] + 1, d[p + "gfs_sharpness"], color=col, ls=ls, lw=lw, label=label + fate)
        for key, lab, c in (("gd", r"$2/\eta$ (GD)", "C0"), ("heavy_ball", r"$(2+2\beta)/\eta$ (HB)", "C1"),
                            ("nesterov", r"$(2+2\beta)/((1+2\beta)\eta)$ (NAG)", "C2")):
            ax_p.axhline(d[f"D{D}_{key}_threshold"], color=c, ls="--", lw=0.9, label=lab)
        phi0 = d[f"D{D}_gd_gfs_sharpness"][0]
        ax_p.set_ylim(0.3 * phi0, 1.75 * phi0)
        ax_p.set_xscale("log")  # the first steps, where phi moves, stretched
        ax_l.set_ylabel(r"loss $L(w_t)$")
        ax_p.set_ylabel(r"GFS sharpness $\phi(w_t)$")
        ax_l.set_title(f"scalar network $D = {D}$, $\\eta = {eta:.4f}$ ($\\eta\\phi_0/2$ = {eta * phi0 / 2:.2f}), "
                       f"$\\beta = {d['beta']:g}$")
        rises = ", ".join(f"{short[str(k)]} {d[f'D{D}_{k}_rises']}" for k in d["runs"])
        ax_p.set_title(f"$D = {D}$: steps where $\\phi$ rises (> {MOMENTUM_RISE_TOL:g} rel.): {rises}")
        ax_l.set_xlabel("iteration $t$")
        ax_p.set_xlabel("iteration $t + 1$")
        repro.legend_outside(ax_p, fontsize="x-small")
    claims = momentum_claims(d)
    fig.suptitle("Kreisler et al.'s monotone decrease of $\\phi$ is a theorem about GD; with momentum it is measured "
                 "here (extension, not in the paper).\nHB$_s$, NAG$_s$: lr $=\\eta(1-\\beta)$, effective step "
                 "$\\mathrm{lr}/(1-\\beta) = \\eta$. Final $\\phi$ / stability threshold: " +
                 "; ".join(f"D = {D}: " + ", ".join(
                     f"{short[str(k)]} " + ("diverged" if d[f"D{D}_{k}_diverged"] else
                                            f"{d[f'D{D}_{k}_final_phi_over_threshold']:.2f}") for k in d["runs"])
                     for D in d["depths"]))
    return repro.save_figure(fig, out, "kreisler2023_momentum", d, {**meta, "claims": claims}, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the four figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy).
    out : path
        Output folder.
    seed : int
        Seed for the random states of the one-step figure (the other figures are deterministic).
    progress : bool
        Progress bars for the long kernels.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    return {
        "teaser": _teaser(config, out, meta, progress),
        "eos_map": _eos_map(config, out, meta, progress),
        "one_step": _one_step(config, out, seed, meta, progress),
        "momentum": _momentum(config, out, meta, progress),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
