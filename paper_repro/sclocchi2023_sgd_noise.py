"""Reproduction: Sclocchi, Geiger, Wyart, "Dissecting the effects of SGD noise in distinct regimes of deep
learning", ICML 2023 (arXiv:2301.13703), perceptron part (with the PNAS follow-up's gamma = 1/(1 + chi)).

Figures
-------
1. ``signal``: the signal w_1 (weight along the teacher) at zero training hinge loss against P, for
   T in {1, 4, 16} and chi in {0, 1}, with the fitted exponents and gamma = 1/(1 + chi).
2. ``noise_time``: the noise ||w_perp|| against T (it saturates in P) and the training time t* = eta x steps
   against P.
3. ``test_error``: the test error over the (P, T) plane (chi = 1) and the crossover temperature T_c(P),
   defined here as the smallest T whose median w_1 exceeds twice its value at the lowest T (the weight
   change leaves the GD-dominated regime).

Fidelity notes (also in the README):
* Perceptron f = w.x/sqrt(d), hinge loss, batch 1, eta = T, w0 = 0, stop when every training point has
  margin >= 1, checked once per epoch of P steps (spec B.2; w0 = 0 is the spec's choice).
* Data density |x_1|^chi e^{-x_1^2/2} along the teacher; d = 32 (quick) or 128 (full).
* The deep-net part is represented by a one-hidden-layer net (h = 64, sqrt(2) ReLU, mean-field output
  1/h, the alpha-trick, eta = T alpha h B) on the code's synthetic 'stripe' task (d = 10), not MNIST/CIFAR;
  batches are drawn with replacement. Runs that do not reach zero hinge loss within the epoch cap are
  marked; diverged runs (too large eta) are white. Exponents for MNIST/CIFAR are unknown and not invented.
* T_c is an operational definition made here (the paper's T_c is where the test error of deep nets
  departs from its T -> 0 value).
"""

from __future__ import annotations

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
    "test_error": "test error over (P, T) for chi = 1 and the crossover temperature T_c(P)",
    "mlp_map": "one-hidden-layer net, stripe task: test error and weight change over the (alpha, T) plane",
}
RUNTIME = {"quick": "~60 s", "full": "~1 h"}
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
             mlp_Ts=(1e-3, 1e-2, 1e-1, 1.0), mlp_P=256, mlp_seeds=2, mlp_epochs=500, pdf=False, store=None)
FULL = dict(d=128, seeds=16, Ps_chi1=tuple(2 ** np.arange(7, 13)), Ps_chi0=tuple(2 ** np.arange(7, 12)),
            Ts=(1.0, 4.0, 16.0), map_Ts=tuple(2.0 ** np.arange(-2, 6)), mlp_alphas=tuple(10.0 ** np.arange(-2, 4)),
            mlp_Ts=tuple(10.0 ** np.arange(-4.0, 1.0)), mlp_P=1024, mlp_seeds=5, mlp_epochs=5000, pdf=True,
            store="sweeps/sclocchi2023_full.zarr")


@simulation(outputs={"w1": (), "w_perp": (), "t_star": (), "test_error": (), "converged": {"dtype": "int8"}})
def perceptron_chunk(chunk, d: int):
    """Sweep simulation: perceptron runs; the points of a chunk that share (chi, T, P) run as one batch of
    seeds, seeded from the chunk's first point (so results depend on the fixed chunking, not on order)."""
    out = {name: np.empty(chunk.size) for name in ("w1", "w_perp", "t_star", "test_error")}
    out["converged"] = np.empty(chunk.size, dtype=np.int8)
    key = np.stack([chunk.points["chi"], chunk.points["T"], chunk.points["P"]], axis=1)
    for chi, T, P in np.unique(key, axis=0):
        sel = np.flatnonzero((key == (chi, T, P)).all(axis=1))
        r = perceptron_sgd(T, np.array([int(P)]), d=d, chi=chi, seeds=sel.size, seed=chunk.seeds[sel[0]])
        for name in out:
            out[name][sel] = r[name].ravel()
    return out


def _run(cfg, seed, chi, Ps, Ts, progress, tag):
    import tempfile

    sw = Sweep(f"sclocchi2023_{tag}", axes={"chi": [chi], "T": list(Ts), "P": list(Ps), "seed": np.arange(cfg["seeds"])},
               simulation=perceptron_chunk, params={"d": int(cfg["d"])}, chunks={"T": 1, "P": 1}, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(cfg["store"]).with_name(f"{Path(cfg['store']).stem}_{tag}.zarr") if cfg.get("store") else \
            Path(tmp) / f"{tag}.zarr"
        ds = run_sweep(sw, store, progress=progress, verbose=progress).dataset()
    return {name: ds[name].values[0] for name in ("w1", "w_perp", "t_star", "test_error", "converged")}


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

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    for ax, chi in zip(axes, (1.0, 0.0)):
        tag = f"chi{int(chi)}"
        Ps = d[f"P_{tag}"]
        for i, T in enumerate(d["T"]):
            ax.loglog(Ps, d[f"w1_{tag}"][i], "o-", label=f"T = {T:g}: fitted gamma {d[f'gamma_{tag}'][i]:.2f}")
        g = 1 / (1 + chi)
        ax.loglog(Ps, d[f"w1_{tag}"][0, 0] * (Ps / Ps[0]) ** g, "k:", label=f"P^(1/(1+chi)) = P^{g:g}")
        ax.set_xlabel("training-set size P")
        ax.set_ylabel(r"signal $w_1$ at zero hinge loss (median)")
        ax.set_title(f"chi = {chi:g}: gamma = 1/(1 + chi) = {g:g}", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"Perceptron (d = {cfg['d']}, batch 1, eta = T): w_1 ~ T^delta P^gamma")
    return repro.save_figure(fig, out, "sclocchi2023_signal", d, meta, pdf=cfg["pdf"])


def _noise_time(cfg, out, meta, d):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    Ps = d["P_chi1"]
    for j, P in enumerate(Ps):
        a1.loglog(d["T"], d["w_perp_chi1"][:, j], "o-", label=f"P = {P}")
    a1.loglog(d["T"], d["w_perp_chi1"][0, 0] * d["T"] / d["T"][0], "k:", label="~ T")
    a1.set_xlabel("T")
    a1.set_ylabel(r"noise $\|w_\perp\|$")
    a1.set_title("chi = 1: the noise grows with T and saturates in P", fontsize=10)
    a1.legend(fontsize=8)
    for i, T in enumerate(d["T"]):
        b = np.polyfit(np.log(Ps), np.log(d["t_star_chi1"][i]), 1)[0]
        a2.loglog(Ps, d["t_star_chi1"][i], "s-", label=f"T = {T:g} (slope {b:.2f})")
    a2.set_xlabel("P")
    a2.set_ylabel(r"$t^* = \eta \times$ steps")
    a2.set_title("training time to zero hinge loss (chi = 1)", fontsize=10)
    a2.legend(fontsize=8)
    return repro.save_figure(fig, out, "sclocchi2023_noise_time", d, meta, pdf=cfg["pdf"])


def test_error_data(cfg, seed, progress=False) -> dict:
    Ps, Ts = cfg["Ps_chi1"], cfg["map_Ts"]
    r = _run(cfg, seed + 1, 1.0, Ps, Ts, progress, "map")
    err = np.median(r["test_error"], axis=-1)  # (T, P)
    w1 = np.median(r["w1"], axis=-1)
    Tc = []
    for j in range(len(Ps)):
        above = np.flatnonzero(w1[:, j] > 2 * w1[0, j])
        Tc.append(Ts[above[0]] if above.size else np.nan)
    return dict(P=np.array(Ps), T=np.array(Ts), test_error=err, w1=w1, T_c=np.array(Tc))


def _test_error(cfg, out, meta, d):
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.3), constrained_layout=True)
    m = a1.pcolormesh(np.arange(d["P"].size + 1), np.arange(d["T"].size + 1), d["test_error"], cmap="viridis",
                      shading="flat")
    a1.set_xticks(np.arange(d["P"].size) + 0.5, [str(p) for p in d["P"]])
    a1.set_yticks(np.arange(d["T"].size) + 0.5, [f"{t:g}" for t in d["T"]])
    a1.set_xlabel("P")
    a1.set_ylabel("T")
    a1.set_title("test error (median over seeds), chi = 1", fontsize=10)
    plt.colorbar(m, ax=a1, label="test error")
    ok = np.isfinite(d["T_c"])
    a2.loglog(d["P"][ok], d["T_c"][ok], "o-", label="T_c: w_1 doubles its low-T value")
    if ok.sum() >= 2:
        a = np.polyfit(np.log(d["P"][ok]), np.log(d["T_c"][ok]), 1)[0]
        a2.set_title(f"crossover temperature vs P: fitted exponent {a:.2f}", fontsize=10)
    a2.set_xlabel("P")
    a2.set_ylabel(r"$T_c$")
    a2.legend(fontsize=8)
    return repro.save_figure(fig, out, "sclocchi2023_test_error", d, meta, pdf=cfg["pdf"])


def mlp_data(cfg, seed) -> dict:
    al, Ts = np.array(cfg["mlp_alphas"]), np.array(cfg["mlp_Ts"])
    r = mlp_sgd(al[:, None], Ts[None, :], P=cfg["mlp_P"], seeds=cfg["mlp_seeds"], max_epochs=cfg["mlp_epochs"],
                seed=np.random.SeedSequence([seed, 9]))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-diverged cells: NaN medians on purpose
        return dict(alpha=al, T=Ts, test_error=np.nanmedian(r.test_error, axis=-1),
                    weight_change=np.nanmedian(r.rel_weight_change, axis=-1), converged=r.converged.mean(-1),
                    diverged=r.diverged.mean(-1))


def _mlp_map(cfg, out, meta, seed):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    d = mlp_data(cfg, seed)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for ax, z, title, norm in ((a1, d["test_error"], "test error (median)", None),
                               (a2, d["weight_change"], r"relative weight change $\|w - w_0\|/\|w_0\|$", LogNorm())):
        zz = np.where(d["diverged"] > 0.5, np.nan, z)
        m = ax.pcolormesh(np.arange(d["T"].size + 1), np.arange(d["alpha"].size + 1), zz, norm=norm, cmap="viridis",
                          shading="flat")
        plt.colorbar(m, ax=ax)
        for i in range(d["alpha"].size):
            for j in range(d["T"].size):
                if d["diverged"][i, j] > 0.5:
                    ax.text(j + 0.5, i + 0.5, "diverged", ha="center", va="center", fontsize=7)
                elif d["converged"][i, j] < 0.5:
                    ax.text(j + 0.5, i + 0.5, "not fit", ha="center", va="center", fontsize=7, color="w")
        ax.set_xticks(np.arange(d["T"].size) + 0.5, [f"{t:g}" for t in d["T"]])
        ax.set_yticks(np.arange(d["alpha"].size) + 0.5, [f"{a:g}" for a in d["alpha"]])
        ax.set_xlabel(r"T = $\eta/(\alpha h B)$")
        ax.set_ylabel(r"output scale $\alpha$ (large: lazy)")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"One-hidden-layer net, stripe task (P = {cfg['mlp_P']}, h = 64): SGD noise vs the lazy regime")
    return repro.save_figure(fig, out, "sclocchi2023_mlp_map", d, meta, pdf=cfg["pdf"])


def main(config: dict, *, out="figures", seed: int = repro.DEFAULT_SEED, progress: bool = False) -> dict:
    """Regenerate the four figures into ``out``; returns ``{figure_id: [paths]}``.

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
        "mlp_map": _mlp_map(config, out, meta, seed),
    }


if __name__ == "__main__":
    repro.script_main(__import__(__name__))
