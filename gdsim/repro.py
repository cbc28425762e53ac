"""Reproduction registry and helpers shared by every ``paper_repro/<paper>.py`` script.

Each reproduction module defines ``NAME``, ``TITLE``, ``BIBTEX``, ``FIGURES`` (id -> caption),
``RUNTIME`` ({"quick": ..., "full": ...}), ``QUICK`` and ``FULL`` config dicts, and
``main(config, *, out, seed, progress) -> dict`` (figure id -> written paths). Every figure is saved as
PNG (plus PDF in full mode) next to the numbers behind it (``.npz``) and a JSON provenance sidecar.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gdsim._core.atomic import atomic_write
from gdsim._core.result import Result

DEFAULT_SEED = 20230722  # ICML 2023 opening day: the embedded default seed of every quick run


#: Entry-point group under which reproduction modules register (``pyproject.toml``). gdsim finds them
#: there and never imports the ``paper_repro`` package by name, so the layers run one way.
ENTRY_POINT_GROUP = "gdsim.reproductions"


def _registry() -> dict:
    registry = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if not registry:
        raise RuntimeError(f"no reproductions are registered under the entry-point group {ENTRY_POINT_GROUP!r}: "
                           "install gdsim first (python -m pip install -e .)")
    return registry


def names() -> list[str]:
    """Names of all registered reproductions (the ``gdsim.reproductions`` entry points)."""
    return sorted(_registry())


def load(name: str):
    """Import the reproduction module ``name`` (clear error listing the valid names)."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown reproduction {name!r}; choose one of: {', '.join(sorted(registry))}")
    return registry[name].load()


def tiers(module) -> dict:
    """``{tier: config}`` of a reproduction module: ``quick`` and ``full``, plus any named in its ``TIERS``."""
    return {"quick": module.QUICK, "full": module.FULL, **getattr(module, "TIERS", {})}


def config_for(module, mode: str) -> dict:
    """The config of tier ``mode`` (``quick``, ``full`` or one of the module's ``TIERS``), with ``mode`` set."""
    known = tiers(module)
    if mode not in known:
        raise ValueError(f"mode must be one of {', '.join(repr(t) for t in known)} for {module.NAME}; got {mode!r}")
    cfg = dict(known[mode])
    cfg["mode"] = mode
    return cfg


def run(name: str, *, mode: str = "quick", out="figures", seed: int | None = None, progress: bool = True) -> dict:
    """Run one reproduction; returns ``{figure_id: [paths]}``.

    Prints a start line (the first call compiles Numba kernels, which can take tens of seconds with no other
    output) and a summary line, and records the measured wall time in every JSON sidecar written (keys
    ``figure_id``, ``wall_time_s``, ``mode``): ``gdsim list`` reads the runtimes from there.
    """
    module = load(name)
    cfg = config_for(module, mode)
    print(f"{name} ({mode}): running (the first call compiles Numba kernels; cached on disk afterwards) ...",
          file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with _hide_temporary_paths():
        paths = module.main(cfg, out=Path(out), seed=DEFAULT_SEED if seed is None else int(seed),
                            progress=progress)
    seconds = time.perf_counter() - t0
    record_runtime(paths, seconds, mode)
    # the summary line is printed with or without progress bars (``--no-progress`` hides only the bars)
    print(f"{name} ({mode}): {seconds:.1f} s, wrote {sum(len(p) for p in paths.values())} files", flush=True)
    return paths


def record_runtime(paths: dict, seconds: float, mode: str) -> None:
    """Add the figure id, the reproduction's measured wall time and the mode to each written JSON sidecar."""
    for fig_id, files in paths.items():
        for f in files:
            f = Path(f)
            if f.suffix != ".json" or not f.exists():
                continue
            meta = json.loads(f.read_text())
            meta.update(figure_id=fig_id, wall_time_s=round(float(seconds), 2), mode=mode)
            atomic_write(f, json.dumps(meta, indent=2, sort_keys=True, default=str))


def sidecars(name: str, out="figures") -> dict:
    """``{stem: sidecar dict}`` of the figures reproduction ``name`` wrote into ``out`` (empty if none yet)."""
    found = {}
    for f in sorted(Path(out).glob("*.json")):
        try:
            meta = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("reproduction") == name:
            found[f.stem] = meta
    return found


def figure_stem(name: str, fig_id: str, out="figures") -> str | None:
    """The file stem written for figure ``fig_id`` of reproduction ``name`` (from the sidecars in ``out``).

    A sidecar records its ``figure_id`` once written by :func:`run`; older sidecars are matched by the
    conventions ``<fig_id>`` and ``<prefix>_<fig_id>`` (then ``<prefix>_<fig_id>_<tier>``).
    """
    cars = sidecars(name, out)
    for stem, meta in cars.items():
        if meta.get("figure_id") == fig_id:
            return stem
    for stem in cars:
        if stem == fig_id or stem.endswith("_" + fig_id):
            return stem
    for stem in cars:  # another tier's file only, e.g. <prefix>_<id>_reduced
        if f"_{fig_id}_" in stem:
            return stem
    return None


def measured_runtime(name: str, out="figures") -> tuple[float, str] | None:
    """``(seconds, mode)`` of the last measured run of ``name`` recorded in its sidecars, or ``None``."""
    times = [(m["wall_time_s"], m.get("mode", "?")) for m in sidecars(name, out).values() if "wall_time_s" in m]
    return max(times) if times else None


class _PathFilter:
    """A text stream that replaces temporary-directory paths (deleted after the run) before writing."""

    def __init__(self, stream):
        self._stream = stream
        self._pattern = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^\s,;:'\")]*")

    def write(self, text):
        return self._stream.write(self._pattern.sub("a temporary store", text))

    def __getattr__(self, attr):
        return getattr(self._stream, attr)


@contextlib.contextmanager
def _hide_temporary_paths():
    old = sys.stderr
    sys.stderr = _PathFilter(old)
    try:
        yield
    finally:
        sys.stderr = old


def begin(name: str, config: dict, out, seed) -> tuple[Path, dict]:
    """Common start of every reproduction's ``main``: headless matplotlib with the shared style
    (:func:`apply_style`), the output folder, the metadata."""
    use_headless_backend()
    apply_style()
    return Path(out), dict(reproduction=name, config=dict(config), seed=seed)


def save_figure(fig, out: Path, stem: str, data: dict, meta: dict, *, pdf: bool = False,
                dpi: float | None = None) -> list[Path]:
    """Save ``fig`` as ``out/stem.png`` (and ``.pdf``) with ``data`` in ``stem.npz`` + ``stem.json``.

    ``dpi`` of the PNG: default :data:`PNG_DPI` (160; 200 with ``pdf``); always ``bbox_inches="tight"``, so
    legends placed outside the axes (:func:`legend_outside`) are kept, not clipped."""
    import matplotlib.pyplot as plt

    apply_style()  # idempotent; the savefig defaults hold even for a figure made before begin()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Result({k: np.asarray(v) for k, v in data.items()}, meta).save(out / stem)]
    paths.append(out / f"{stem}.json")
    png = out / f"{stem}.png"
    fig.savefig(png, dpi=dpi if dpi is not None else (PNG_DPI if not pdf else 200), bbox_inches="tight")
    paths.append(png)
    if pdf:
        fig.savefig(out / f"{stem}.pdf", bbox_inches="tight")
        paths.append(out / f"{stem}.pdf")
    plt.close(fig)
    return paths


def arg_parser(prog: str = "gdsim repro", description: str | None = None, *, tier_choices=None,
               add_help: bool = True) -> argparse.ArgumentParser:
    """The one command-line parser of a reproduction run: ``--quick | --full | --tier T``, ``--out``, ``--seed``,
    ``--no-progress``.

    ``gdsim repro NAME`` (:mod:`gdsim.cli`, as a parent parser with ``add_help=False``) and ``python
    paper_repro/<name>.py`` (:func:`script_main`) both build their flags here, so the two accept the same ones.
    The parsed ``mode`` is ``"quick"`` by default; ``tier_choices`` restricts ``--tier`` to a module's tiers
    (without it an unknown tier is refused by :func:`config_for` with the list of valid ones).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description, add_help=add_help)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="mode", action="store_const", const="quick", help="small, fast run (default)")
    group.add_argument("--full", dest="mode", action="store_const", const="full", help="publication resolution")
    group.add_argument("--tier", dest="mode", metavar="TIER",
                       choices=sorted(tier_choices) if tier_choices is not None else None,
                       help=(f"a named tier: {', '.join(sorted(tier_choices))}" if tier_choices is not None else
                             "a named tier of the reproduction: quick, full, or one of its own (e.g. 'paper' and "
                             "'reduced' of sohldickstein2024_fractal)"))
    parser.set_defaults(mode="quick")
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--seed", type=int, default=None, help=f"seed (default: the embedded one, {DEFAULT_SEED})")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def script_main(module, argv=None) -> dict:
    """Command line of a reproduction script: ``python paper_repro/<name>.py [--quick|--full|--tier T] ...``."""
    parser = arg_parser(f"python paper_repro/{module.NAME}.py", module.TITLE, tier_choices=tiers(module))
    args = parser.parse_args(argv)
    return run(module.NAME, mode=args.mode, out=args.out, seed=args.seed, progress=not args.no_progress)


def use_headless_backend():
    """Select matplotlib's Agg backend (reproductions never need a display)."""
    import matplotlib

    matplotlib.use("Agg", force=True)


#: Okabe & Ito (2008) colour-blind-safe palette, in cycle order (black last; yellow late, it is faint on white).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

#: Default resolution of every reproduction PNG (the project's >= 150 dpi rule).
PNG_DPI = 160

#: The shared plotting style of every reproduction (matplotlib rcParams): mathtext in the same sans-serif face
#: as the text, the Okabe-Ito cycle, 160 dpi PNGs saved with a tight bounding box.
STYLE = {
    "mathtext.fontset": "dejavusans",
    "mathtext.default": "normal",  # letters italic, digits and operators upright (as in TeX)
    "axes.formatter.use_mathtext": True,
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "axes.grid": False,
    "legend.fontsize": "small",
    "legend.framealpha": 0.9,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "image.cmap": "viridis",
}


def apply_style() -> None:
    """Apply the one plotting style of all reproductions to matplotlib's rcParams (idempotent).

    Called by :func:`begin` (before a reproduction draws anything) and by :func:`save_figure`. Sets
    mathtext-friendly defaults (write quantities as ``r"$\\lambda_{\\max}$"``), the Okabe-Ito colour-blind-safe
    colour cycle (:data:`OKABE_ITO`, so ``"C0"``..``"C7"`` name its colours), the perceptually uniform,
    colour-blind-safe ``viridis`` as default colour map, and 160-dpi PNGs saved with
    ``bbox_inches="tight"`` (:data:`STYLE`).
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(OKABE_ITO))


def legend_outside(ax, *, loc: str = "right", **kw):
    """Put ``ax``'s legend outside its data area: ``loc="right"`` (beside the axes, the default) or
    ``"below"``/``"above"`` (centred under/over the axes, entries in up to ``ncol`` columns, default 3).

    Further keywords go to :meth:`matplotlib.axes.Axes.legend` (``handles``, ``labels``, ``title``,
    ``ncol``, ``fontsize``, ...). :func:`save_figure` saves with ``bbox_inches="tight"``, so the legend is kept
    in the PNG. Returns the legend (``None`` when ``ax`` has nothing labelled and no ``handles`` were given).
    """
    places = {"right": dict(loc="center left", bbox_to_anchor=(1.02, 0.5)),
              "below": dict(loc="upper center", bbox_to_anchor=(0.5, -0.18)),
              "above": dict(loc="lower center", bbox_to_anchor=(0.5, 1.02))}
    if loc not in places:
        raise ValueError(f"legend_outside: loc must be one of {sorted(places)}; got {loc!r}")
    handles, labels = kw.pop("handles", None), kw.pop("labels", None)
    if handles is None:
        handles, found = ax.get_legend_handles_labels()
        labels = found if labels is None else labels
    elif labels is None:
        labels = [h.get_label() for h in handles]
    if not handles:
        return None
    opts = dict(places[loc], borderaxespad=0.0, frameon=False)
    if loc != "right":
        opts["ncol"] = min(len(handles), 3)
    opts.update(kw)
    return ax.legend(handles, labels, **opts)
