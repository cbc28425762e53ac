"""Reproduction: Sclocchi, Geiger, Wyart, "Dissecting the effects of SGD noise in distinct regimes of deep
learning", ICML 2023 (arXiv:2301.13703), perceptron part (with the PNAS follow-up's gamma = 1/(1 + chi)).

Figures
-------
1. ``signal``: the signal w_1 (weight along the teacher) at zero training hinge loss against P, for
   T in {1, 4, 16} and chi in {0, 1}, with the fitted exponents and gamma = 1/(1 + chi).
2. ``noise_time``: the noise ||w_perp|| against T (it saturates in P) and the training time t* = eta x steps
   against P.
3. ``test_error``: the perceptron's test error over the (P, T) plane (chi = 1), and its cuts at fixed P.
4. ``mlp_map``: a one-hidden-layer net on a synthetic task: test error and relative weight change over the
   (alpha, T) plane.
5. ``crossover``: the same net in the lazy regime (alpha = 100): relative weight change against T for
   several P, and the crossover temperature T_c(P) on log-log axes with its fitted exponent a
   (T_c ~ P^-a), compared with gamma / delta from a fit of the noise-driven change ~ T^delta P^gamma.
6. ``crossover_digits``: the same crossover on real data, offline: digits parity (odd vs even) from
   ``gdsim.data``, d = 64; each run draws its P training points from the fixed training split.

Fidelity notes (also in the README):
* Perceptron f = w.x/sqrt(d), hinge loss, batch 1, eta = T, w0 = 0, stop when every training point has
  margin >= 1, checked once per epoch of P steps (spec B.2; w0 = 0 is the spec's choice).
* Data density |x_1|^chi e^{-x_1^2/2} along the teacher; d = 32 (quick) or 128 (full).
* The deep-net part is represented by a one-hidden-layer net (h = 64, sqrt(2) ReLU, mean-field output
  1/h, the alpha-trick, eta = T alpha h B) on the code's synthetic 'stripe' task (d = 10), not MNIST/CIFAR;
  batches are drawn with replacement. Runs that do not reach zero hinge loss within the epoch cap are
  marked; diverged runs (too large eta) are white. Exponents for MNIST/CIFAR are unknown and not invented.
* T_c is an operational definition made here [GAP: the paper's exact criterion is not in the spec]: the
  temperature at which the median relative weight change ||w - w0|| / ||w0|| of the lazy net crosses 0.5
  (interpolated on log-log axes), i.e. where SGD noise takes the net out of the kernel regime. This is
  the criterion behind the spec's inferred a = gamma / delta. "Doubling of the T -> 0 value" instead gives
  a T_c that hardly moves with P here, because the T -> 0 change itself grows with P.
* The perceptron has no P-dependent crossover in these units (w_1 ~ T P^gamma above T ~ 1 and ~ P^gamma
  below, spec B.3), so T_c(P) is measured on the net only.
* Real data: digits parity stands in for the paper's MNIST parity (no download at run time). Measured at the
  quick tier: T_c = 3.8e-3 .. 1.6e-3 for P = 64 .. 1024, a = 0.33 (the stripe task: 0.83).
"""

from __future__ import annotations

import functools

from pathlib import Path

import numpy as np

from gdsim import repro
from gdsim.langevin import mlp_sgd, perceptron_sgd
from gdsim.sweep import Sweep, simulation
from gdsim.sweep import run as run_sweep

NAME = "sclocchi2023_sgd_noise"
TITLE = "SGD noise in the perceptron: signal ~ T P^gamma, gamma = 1/(1 + chi) (Sclocchi, Geiger, Wyart, ICML 2023)"
FIGURES = {
    "signal": "w_1 vs P for T in {1, 4, 16}, chi in {0, 1}; fitted gamma vs 1/(1 + chi)",
    "noise_time": "||w_perp|| vs T (saturating in P) and t* vs P",
    "test_error": "perceptron test error over (P, T) for chi = 1, and its cuts at fixed P",
    "mlp_map": "one-hidden-layer net, stripe task: test error and weight change over the (alpha, T) plane",
    "crossover": "lazy net: weight change vs T for several P; T_c(P) on log-log with the fitted exponent",
    "crossover_digits": "the same crossover on real data: digits parity (offline, gdsim.data)",
}
RUNTIME = {"quick": "~65 s", "full": "~2 h"}
BIBTEX = """
@inproceedings{sclocchi2023dissecting,
  title     = {Dissecting the Effects of {SGD} Noise in Distinct Regimes of Deep Learning},
  author    = {Sclocchi, Antonio and Geiger, Mario and Wyart, Matthieu},
  booktitle = {Proceedings of the 40th International Conference on Machine Learning},
  series    = {Proceedings of Machine Learning Research},
  volume    = {202},
  year      = {2023},
  eprint    = {2301.13703},
  archivePrefix = {arXiv}
}
"""

QUICK = dict(d=32, seeds=6, Ps_chi1=(128, 256, 512, 1024, 2048), Ps_chi0=(32, 64, 128, 256, 512),
             Ts=(1.0, 4.0, 16.0), map_Ts=tuple(2.0 ** np.arange(-2, 5)), mlp_alphas=(0.1, 1.0, 10.0, 100.0),
             mlp_Ts=(1e-3, 1e-2, 1e-1, 1.0), mlp_P=256, mlp_seeds=2, mlp_epochs=500, cross_alpha=100.0,
             cross_Ps=(64, 128, 256, 512, 1024), cross_Ts=tuple(10.0 ** np.arange(-5.0, -2.4, 0.5)), cross_seeds=4,
             cross_epochs=3000, real_data="digits", real_Ps=(64, 128, 256, 512, 1024),
             real_Ts=tuple(10.0 ** np.arange(-3.5, -1.9, 0.25)), real_seeds=3, real_epochs=2000, pdf=False, store=None)
FULL = dict(d=128, seeds=16, Ps_chi1=tuple(2 ** np.arange(7, 13)), Ps_chi0=tuple(2 ** np.arange(7, 12)),
            Ts=(1.0, 4.0, 16.0), map_Ts=tuple(2.0 ** np.arange(-2, 6)), mlp_alphas=tuple(10.0 ** np.arange(-2, 4)),
            mlp_Ts=tuple(10.0 ** np.arange(-4.0, 1.0)), mlp_P=1024, mlp_seeds=5, mlp_epochs=5000, cross_alpha=100.0,
            cross_Ps=tuple(2 ** np.arange(6, 12)), cross_Ts=tuple(10.0 ** np.arange(-5.0, -2.4, 0.25)), cross_seeds=8,
            cross_epochs=10000, real_data="digits", real_Ps=(64, 128, 256, 512, 1024, 1347),
            real_Ts=tuple(10.0 ** np.arange(-4.0, -1.9, 0.125)), real_seeds=8, real_epochs=10000, pdf=True,
            store="sweeps/sclocchi2023_full.zarr")
#: Relative weight change that marks the exit from the lazy (kernel) regime (the T_c criterion).
CROSSOVER_CHANGE = 0.5


_FLAGS = ("converged", "diverged")  # boolean outputs, stored as int8


@simulation(outputs={"w1": (), "w_perp": (), "t_star": (), "test_error": (), "converged": {"dtype": "int8"}})
def perceptron_chunk(chunk, d: int):
    """Sweep simulation: the chunk's perceptron runs in one batched call per chi, one seed per grid point."""
    return chunk.run_batched(lambda points, seed, chi: perceptron_sgd(points["T"], points["P"].astype(np.int64), d=d,
                                                                       chi=chi, runs=1, seed=seed), by=("chi",))


@simulation(outputs={"test_error": (), "rel_weight_change": (), "t_star": (), "converged": {"dtype": "int8"},
                     "diverged": {"dtype": "int8"}})
def mlp_chunk(chunk, d: int, width: int, batch: int, max_epochs: int, data: str = "stripe"):
    """Sweep simulation: the alpha-trick net, one batched call per training-set size P, one seed per point.
    ``data``: "stripe" (the synthetic task) or a gdsim.data classification set ("digits", "mnist1d") as a
    parity task (odd labels +1, even -1; each run draws its P training points from the training split)."""
    pool = None if data == "stripe" else parity_data(data)
    return chunk.run_batched(lambda points, seed, P: mlp_sgd(points["alpha"], points["T"], n_samples=int(P), d=d, width=width,
                                                             batch_size=batch, max_epochs=max_epochs, runs=1, seed=seed,
                                                             data=pool),
                             by=("P",))


@functools.lru_cache(maxsize=4)
def parity_data(name: str):
    """(X, y, X_test, y_test) of a gdsim.data set as a parity task: y = +1 for odd labels, -1 for even ones
    (the paper's MNIST parity, on data that ship offline)."""
    import gdsim.data as gdata

    ds = gdata.load(name)
    labels = np.array(ds.classes)
    return ds.X, np.where(labels[ds.y] % 2 == 1, 1.0, -1.0), ds.X_test, np.where(labels[ds.y_test] % 2 == 1, 1.0, -1.0)


def _sweep(cfg, seed, tag, axes, sim, params, progress):
    """Run one grid through the sweep engine: a resumable store under ``cfg['store']`` (full tier) or a
    temporary one; returns the dataset, loaded."""
    import tempfile

    sw = Sweep(f"sclocchi2023_{tag}", axes=axes, simulation=sim, params=params,
               chunks={name: 1 for name in axes if name != "seed"}, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(cfg["store"]).with_name(f"{Path(cfg['store']).stem}_{tag}.zarr") if cfg.get("store") else \
            Path(tmp) / f"{tag}.zarr"
        return run_sweep(sw, store, progress=progress, verbose=progress).dataset().load()


def _run(cfg, seed, chi, Ps, Ts, progress, tag):
    axes = {"chi": [chi], "T": list(Ts), "P": list(Ps), "seed": np.arange(cfg["seeds"])}
    ds = _sweep(cfg, seed, tag, axes, perceptron_chunk, {"d": int(cfg["d"])}, progress)
    return {name: ds[name].values[0] for name in ("w1", "w_perp", "t_star", "test_error", "converged")}


def _mlp_grid(cfg, seed, tag, alphas, Ts, Ps, seeds, epochs, progress, data="stripe"):
    """Per (alpha, T, P): medians over seeds of the non-diverged runs (NaN where most diverged), and the
    fractions converged / diverged."""
    axes = {"alpha": list(alphas), "T": list(Ts), "P": list(Ps), "seed": np.arange(seeds)}
    d = 10 if data == "stripe" else parity_data(data)[0].shape[1]
    params = dict(d=d, width=64, batch=8, max_epochs=int(epochs))
    if data != "stripe":
        params["data"] = data
    ds = _sweep(cfg, seed, tag, axes, mlp_chunk, params, progress)
    div = ds["diverged"].values.mean(-1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-diverged cells: NaN medians on purpose
        med = {name: np.nanmedian(ds[name].values, axis=-1) for name in ("test_error", "rel_weight_change", "t_star")}
    for v in med.values():
        v[div > 0.5] = np.nan
    return dict(**med, converged=ds["converged"].values.mean(-1), diverged=div)


def crossing_temperature(T, y, level):
    """The first T at which ``y`` rises through ``level``, interpolated linearly in (log T, log y).

    Leading NaNs (low-T runs that did not finish) are skipped; after the first finite value a NaN ends the
    search. NaN when ``y`` starts above ``level`` or never reaches it."""
    T, y = np.asarray(T, float), np.asarray(y, float)
    finite = np.flatnonzero(np.isfinite(y))
    if finite.size == 0 or y[finite[0]] >= level:
        return np.nan
    for j in range(finite[0] + 1, y.size):
        if not np.isfinite(y[j]):
            return np.nan
        if y[j] >= level:
            f = (np.log(level) - np.log(y[j - 1])) / (np.log(y[j]) - np.log(y[j - 1]))
            return float(np.exp(np.log(T[j - 1]) + f * (np.log(T[j]) - np.log(T[j - 1]))))
    return np.nan


def signal_data(cfg, seed, progress=False) -> dict:
    out = {}
    for chi, Ps in ((1.0, cfg["Ps_chi1"]), (0.0, cfg["Ps_chi0"])):
        r = _run(cfg, seed, chi, Ps, cfg["Ts"], progress, f"chi{int(chi)}")
        tag = f"chi{int(chi)}"
        out[f"P_{tag}"] = np.array(Ps)
        for name in ("w1", "w_perp", "t_star"):
            out[f"{name}_{tag}"] = np.median(r[name], axis=-1)  # (T, P)
        out[f"converged_{tag}"] = r["converged"].mean()
        out[f"gamma_{tag}"] = np.array([np.polyfit(np.log(Ps), np.log(w), 1)[0] for w in out[f"w1_{tag}"]])
    out["T"] = np.array(cfg["Ts"])
    return out


def _signal(cfg, out, meta, d):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    for ax, chi in zip(axes, (1.0, 0.0)):
        tag = f"chi{int(chi)}"
        Ps = d[f"P_{tag}"]
        for i, T in enumerate(d["T"]):
            ax.loglog(Ps, d[f"w1_{tag}"][i], "o-",
                      label=f"$T = {T:g}$: fitted $\\gamma$ = {d[f'gamma_{tag}'][i]:.2f}")
        g = 1 / (1 + chi)
        ax.loglog(Ps, d[f"w1_{tag}"][0, 0] * (Ps / Ps[0]) ** g, "k:", label=f"$P^{{1/(1+\\chi)}} = P^{{{g:g}}}$")
        ax.set_xlabel("training-set size $P$")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels (3x10^2, 4x10^2) collide: label the P run
        ax.set_xticks(Ps, [f"{p:g}" for p in Ps])
        ax.set_ylabel(r"signal $w_1$ at zero hinge loss (median)")
        ax.set_title(f"$\\chi = {chi:g}$: $\\gamma = 1/(1 + \\chi) = {g:g}$", fontsize=10)
        repro.legend_outside(ax, loc="below", ncol=2)
    fig.suptitle(f"Perceptron ($d = {cfg['d']}$, batch 1, $\\eta = T$): $w_1 \\sim T^\\delta P^\\gamma$")
    return repro.save_figure(fig, out, "sclocchi2023_signal", d, meta, pdf=cfg["pdf"])


def _noise_time(cfg, out, meta, d):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    Ps = d["P_chi1"]
    for j, P in enumerate(Ps):
        a1.loglog(d["T"], d["w_perp_chi1"][:, j], "o-", label=f"$P = {P}$")
    a1.loglog(d["T"], d["w_perp_chi1"][0, 0] * d["T"] / d["T"][0], "k:", label=r"$\propto T$")
    a1.set_xlabel("temperature $T$")
    a1.set_ylabel(r"noise $\|w_\perp\|$ (median)")
    a1.set_title(r"$\chi = 1$: the noise grows with $T$ and saturates in $P$", fontsize=10)
    repro.legend_outside(a1)
    for i, T in enumerate(d["T"]):
        b = np.polyfit(np.log(Ps), np.log(d["t_star_chi1"][i]), 1)[0]
        a2.loglog(Ps, d["t_star_chi1"][i], "s-", label=f"$T = {T:g}$ (slope {b:.2f})")
    a2.set_xlabel("training-set size $P$")
    a2.xaxis.set_minor_formatter(NullFormatter())  # minor labels (3x10^2, 4x10^2) collide: label the P run
    a2.set_xticks(Ps, [f"{p:g}" for p in Ps])
    a2.set_ylabel(r"$t^* = \eta \times$ steps (median)")
    a2.set_title(r"training time to zero hinge loss ($\chi = 1$)", fontsize=10)
    repro.legend_outside(a2)
    return repro.save_figure(fig, out, "sclocchi2023_noise_time", d, meta, pdf=cfg["pdf"])


def test_error_data(cfg, seed, progress=False) -> dict:
    Ps, Ts = cfg["Ps_chi1"], cfg["map_Ts"]
    r = _run(cfg, seed + 1, 1.0, Ps, Ts, progress, "map")
    err = np.median(r["test_error"], axis=-1)  # (T, P)
    return dict(P=np.array(Ps), T=np.array(Ts), test_error=err, w1=np.median(r["w1"], axis=-1))


def _test_error(cfg, out, meta, d):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    m = a1.pcolormesh(np.arange(d["P"].size + 1), np.arange(d["T"].size + 1), d["test_error"], cmap="viridis",
                      shading="flat")
    a1.set_xticks(np.arange(d["P"].size) + 0.5, [str(p) for p in d["P"]])
    a1.set_yticks(np.arange(d["T"].size) + 0.5, [f"{t:g}" for t in d["T"]])
    a1.set_xlabel("training-set size $P$")
    a1.set_ylabel("temperature $T$")
    a1.set_title(r"test error (median over seeds), $\chi = 1$", fontsize=10)
    plt.colorbar(m, ax=a1, label="test error")
    for j, P in enumerate(d["P"]):
        a2.semilogx(d["T"], d["test_error"][:, j], "o-", label=f"$P = {P}$")
    a2.set_xlabel("temperature $T$")
    a2.set_ylabel("test error (median)")
    a2.set_title("cuts at fixed $P$: noise costs most at small $P$", fontsize=10)
    repro.legend_outside(a2)
    return repro.save_figure(fig, out, "sclocchi2023_test_error", d, meta, pdf=cfg["pdf"])


def mlp_data(cfg, seed, progress=False) -> dict:
    al, Ts = np.array(cfg["mlp_alphas"]), np.array(cfg["mlp_Ts"])
    g = _mlp_grid(cfg, seed + 9, "mlp_map", al, Ts, [cfg["mlp_P"]], cfg["mlp_seeds"], cfg["mlp_epochs"], progress)
    return dict(alpha=al, T=Ts, test_error=g["test_error"][..., 0], weight_change=g["rel_weight_change"][..., 0],
                converged=g["converged"][..., 0], diverged=g["diverged"][..., 0])


def crossover_data(cfg, seed, progress=False, data="stripe") -> dict:
    """Lazy net: median relative weight change (T, P), T_c(P) at CROSSOVER_CHANGE and the fits.

    Only cells where more than half the runs reached zero training hinge loss count: at high T the step is unstable and
    the weights blow up (finite but huge: not a crossover), at the lowest T and largest P the epoch cap may
    stop a run early. ``a``: slope of -log T_c against log P. ``gamma``, ``delta``: least squares of
    log change = delta log T + gamma log P + c over the noise-driven cells (change at least twice the
    lowest-T value of its P).
    """
    key = "cross" if data == "stripe" else "real"
    Ts, Ps = np.array(cfg[f"{key}_Ts"]), np.array(cfg[f"{key}_Ps"])
    g = _mlp_grid(cfg, seed + 11, "crossover" if data == "stripe" else f"crossover_{data}", [cfg["cross_alpha"]], Ts,
                  Ps, cfg[f"{key}_seeds"], cfg[f"{key}_epochs"], progress, data=data)
    raw = g["rel_weight_change"][0]  # (T, P)
    ch = np.where(g["converged"][0] > 0.5, raw, np.nan)
    Tc = np.array([crossing_temperature(Ts, ch[:, j], CROSSOVER_CHANGE) for j in range(Ps.size)])
    ok = np.isfinite(Tc)
    a = -np.polyfit(np.log(Ps[ok]), np.log(Tc[ok]), 1)[0] if ok.sum() >= 2 else np.nan
    TT, PP = np.meshgrid(Ts, Ps, indexing="ij")
    with np.errstate(invalid="ignore"):
        base = np.array([ch[np.isfinite(ch[:, j]), j][0] if np.isfinite(ch[:, j]).any() else np.nan
                         for j in range(Ps.size)])
        noisy = np.isfinite(ch) & (ch >= 2 * base)
    if noisy.sum() >= 3:
        A = np.stack([np.log(TT[noisy]), np.log(PP[noisy]), np.ones(noisy.sum())], axis=1)
        delta, gamma, _ = np.linalg.lstsq(A, np.log(ch[noisy]), rcond=None)[0]
    else:
        delta = gamma = np.nan
    return dict(T=Ts, P=Ps, alpha=cfg["cross_alpha"], data=data, weight_change=ch, weight_change_all=raw, test_error=g["test_error"][0],
                converged=g["converged"][0], diverged=g["diverged"][0], T_c=Tc, a=a, gamma=gamma, delta=delta,
                noise_driven=noisy)


def _crossover(cfg, out, meta, d, stem="sclocchi2023_crossover"):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    top = 20.0  # the panel's upper edge: larger (blown-up) changes are drawn at it, as triangles
    n_open = n_clipped = 0
    for j, P in enumerate(d["P"]):
        y = d["weight_change"][:, j]
        (line,) = a1.loglog(d["T"], np.minimum(y, top), "o-", label=f"$P = {P}$")
        over = np.isfinite(y) & (y > top)
        n_clipped += int(over.sum())
        a1.loglog(d["T"][over], np.full(over.sum(), top), "^", ms=8, color=line.get_color())
        bad = ~np.isfinite(y) & (d["diverged"][:, j] < 1) & np.isfinite(d["weight_change_all"][:, j])
        n_open += int(bad.sum())
        a1.loglog(d["T"][bad], np.clip(d["weight_change_all"][bad, j], None, top), "o", mfc="none",
                  color=line.get_color())
        if np.isfinite(d["T_c"][j]):
            a1.plot(d["T_c"][j], CROSSOVER_CHANGE, "*", ms=12, color=line.get_color())
    a1.axhline(CROSSOVER_CHANGE, color="k", ls=":", lw=1, label=f"$T_c$ criterion: change = {CROSSOVER_CHANGE:g}")
    a1.plot([], [], "k*", ms=10, ls="none", label="$T_c(P)$ (interpolated crossing)")
    if n_clipped:  # legend entries only for markers that are drawn
        a1.plot([], [], "k^", ls="none", label=f"change > {top:g}, drawn at {top:g} ({n_clipped} point{'s' if n_clipped > 1 else ''})")
    if n_open:
        a1.plot([], [], "ko", mfc="none", ls="none", label=f"open: most runs did not fit ({n_open} point{'s' if n_open > 1 else ''})")
    a1.set_ylim(None, 1.25 * top)
    a1.set_xlim(d["T"][0] / 1.3, d["T"][-1] * 1.3)  # markers at the end points stay inside the axes
    a1.set_xlabel(r"temperature $T = \eta/(\alpha h B)$")
    a1.set_ylabel(r"relative weight change $\|w - w_0\|/\|w_0\|$ (median)")
    a1.set_title(f"$\\alpha = {d['alpha']:g}$ (lazy): noise takes the net out of the kernel regime", fontsize=10)
    repro.legend_outside(a1)
    ok = np.isfinite(d["T_c"])
    a2.loglog(d["P"][ok], d["T_c"][ok], "o", color="C0", label="measured $T_c$")
    if np.isfinite(d["a"]):
        c = np.exp(np.mean(np.log(d["T_c"][ok]) + d["a"] * np.log(d["P"][ok])))
        a2.loglog(d["P"], c * d["P"] ** -d["a"], "k-", lw=1, label=f"fit: $T_c \\propto P^{{-{d['a']:.2f}}}$")
    if np.isfinite(d["gamma"]) and np.isfinite(d["a"]):
        ga = d["gamma"] / d["delta"]
        c2 = np.exp(np.mean(np.log(d["T_c"][ok]) + ga * np.log(d["P"][ok])))
        a2.loglog(d["P"], c2 * d["P"] ** -ga, "k:", lw=1,
                  label=f"$\\gamma/\\delta$ = {d['gamma']:.2f}/{d['delta']:.2f} = {ga:.2f}\n"
                        r"(fit of change $\propto T^\delta P^\gamma$)")
    a2.set_xlabel("training-set size $P$")
    a2.set_ylabel(r"crossover temperature $T_c$")
    a2.set_title(f"$T_c \\propto P^{{-a}}$: fitted $a$ = {d['a']:.2f} ({int(ok.sum())} of {ok.size} $P$ "
                 "with a crossing)", fontsize=10)
    repro.legend_outside(a2)
    task = "stripe task ($d = 10$)" if d["data"] == "stripe" else f"{d['data']} parity (real data, offline)"
    fig.suptitle(f"One-hidden-layer net, {task}, $h = 64$, batch 8: crossover temperature $T_c(P)$")
    return repro.save_figure(fig, out, stem, d, meta, pdf=cfg["pdf"])


def _mlp_map(cfg, out, meta, seed, progress=False):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    d = mlp_data(cfg, seed, progress)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for ax, z, title, norm in ((a1, d["test_error"], "test error (median)", None),
                               (a2, d["weight_change"], r"relative weight change $\|w - w_0\|/\|w_0\|$", LogNorm())):
        zz = np.where(d["diverged"] > 0.5, np.nan, z)
        m = ax.pcolormesh(np.arange(d["T"].size + 1), np.arange(d["alpha"].size + 1), zz, norm=norm, cmap="viridis",
                          shading="flat")
        plt.colorbar(m, ax=ax, label=title)
        for i in range(d["alpha"].size):
            for j in range(d["T"].size):
                if d["diverged"][i, j] > 0.5:
                    ax.text(j + 0.5, i + 0.5, "diverged", ha="center", va="center", fontsize=7)
                elif d["converged"][i, j] < 0.5:
                    ax.text(j + 0.5, i + 0.5, "not fit", ha="center", va="center", fontsize=7, color="w")
        ax.set_xticks(np.arange(d["T"].size) + 0.5, [f"{t:g}" for t in d["T"]])
        ax.set_yticks(np.arange(d["alpha"].size) + 0.5, [f"{a:g}" for a in d["alpha"]])
        ax.set_xlabel(r"temperature $T = \eta/(\alpha h B)$")
        ax.set_ylabel(r"output scale $\alpha$ (large: lazy)")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"One-hidden-layer net, stripe task ($P = {cfg['mlp_P']}$, $h = 64$): SGD noise vs the lazy regime")
    return repro.save_figure(fig, out, "sclocchi2023_mlp_map", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the five figures into ``out``; returns ``{figure_id: [paths]}``.

    Parameters
    ----------
    config : dict
        ``QUICK`` or ``FULL`` (or a modified copy); ``store`` makes the grids resumable.
    out : path
        Output folder.
    seed : int
        Base seed.
    progress : bool
        Progress bars.
    """
    out, meta = repro.begin(NAME, config, out, seed)
    d = signal_data(config, seed, progress)
    return {
        "signal": _signal(config, out, meta, d),
        "noise_time": _noise_time(config, out, meta, d),
        "test_error": _test_error(config, out, meta, test_error_data(config, seed, progress)),
        "mlp_map": _mlp_map(config, out, meta, seed, progress),
        "crossover": _crossover(config, out, meta, crossover_data(config, seed, progress)),
        f"crossover_{config['real_data']}": _crossover(config, out, meta, crossover_data(config, seed, progress, data=config["real_data"]),
                                     stem=f"sclocchi2023_crossover_{config['real_data']}"),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
