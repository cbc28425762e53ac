"""Reproduction registry and helpers shared by every ``paper_repro/<paper>.py`` script.

Each reproduction module defines ``NAME``, ``TITLE``, ``BIBTEX``, ``FIGURES`` (id -> caption),
``RUNTIME`` ({"quick": ..., "full": ...}), ``QUICK`` and ``FULL`` config dicts, and
``main(config, *, out, seed, progress) -> dict`` (figure id -> written paths). Every figure is saved as
PNG (plus PDF in full mode) next to the numbers behind it (``.npz``) and a JSON provenance sidecar.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time
from pathlib import Path

import numpy as np

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


def config_for(module, mode: str) -> dict:
    if mode not in {"quick", "full"}:
        raise ValueError(f"mode must be 'quick' or 'full'; got {mode!r}")
    cfg = dict(module.QUICK if mode == "quick" else module.FULL)
    cfg["mode"] = mode
    return cfg


def run(name: str, *, mode: str = "quick", out="figures", seed: int | None = None, progress: bool = True) -> dict:
    """Run one reproduction; returns ``{figure_id: [paths]}``."""
    module = load(name)
    cfg = config_for(module, mode)
    t0 = time.perf_counter()
    paths = module.main(cfg, out=Path(out), seed=DEFAULT_SEED if seed is None else int(seed), progress=progress)
    # the summary line is printed with or without progress bars (``--no-progress`` hides only the bars)
    print(f"{name} ({mode}): {time.perf_counter() - t0:.1f} s, wrote {sum(len(p) for p in paths.values())} files",
          flush=True)
    return paths


def begin(name: str, config: dict, out, seed) -> tuple[Path, dict]:
    """Common start of every reproduction's ``main``: headless matplotlib, the output folder, the metadata."""
    use_headless_backend()
    return Path(out), dict(reproduction=name, config=dict(config), seed=seed)


def save_figure(fig, out: Path, stem: str, data: dict, meta: dict, *, pdf: bool = False) -> list[Path]:
    """Save ``fig`` as ``out/stem.png`` (and ``.pdf``) with ``data`` in ``stem.npz`` + ``stem.json``."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Result({k: np.asarray(v) for k, v in data.items()}, meta).save(out / stem)]
    paths.append(out / f"{stem}.json")
    png = out / f"{stem}.png"
    fig.savefig(png, dpi=110 if not pdf else 200, bbox_inches="tight")
    paths.append(png)
    if pdf:
        fig.savefig(out / f"{stem}.pdf", bbox_inches="tight")
        paths.append(out / f"{stem}.pdf")
    plt.close(fig)
    return paths


def script_main(module, argv=None) -> dict:
    """Command line of a reproduction script: ``python paper_repro/<name>.py [--quick|--full] ...``."""
    parser = argparse.ArgumentParser(prog=f"python paper_repro/{module.NAME}.py", description=module.TITLE)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="mode", action="store_const", const="quick", help="small, fast run (default)")
    group.add_argument("--full", dest="mode", action="store_const", const="full", help="publication resolution")
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--seed", type=int, default=None, help=f"seed (default {DEFAULT_SEED})")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    return run(module.NAME, mode=args.mode or "quick", out=args.out, seed=args.seed, progress=not args.no_progress)


def use_headless_backend():
    """Select matplotlib's Agg backend (reproductions never need a display)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
