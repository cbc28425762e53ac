"""Labelled, resumable parameter sweeps: xarray + zarr, in-process, process pool or Dask.

A :class:`Sweep` names its axes, a simulation (a function of a :class:`Chunk` of grid points) and its
outputs; :func:`run` writes each finished chunk to its own region of a zarr store, so a killed sweep
resumes where it stopped, and :func:`open_dataset` reads it back as an ``xarray.Dataset``.

Examples
--------
>>> import numpy as np, tempfile, gdsim.sweep as gs
>>> sw = gs.Sweep("eos", axes={"eta_D_over_2": np.linspace(0.2, 0.9, 4), "phi0_over_D": [1.5, 2.0]},
...               simulation="gdsim.scalar.sweeps:eos_final_state", params={"steps": 2000, "depth": 3})
>>> rep = gs.run(sw, tempfile.mkdtemp() + "/eos.zarr", progress=False, verbose=False)
>>> ds = rep.dataset()
>>> ds["status"].shape
(4, 2)
"""

from gdsim.sweep.engine import SweepReport, open_dataset, run, status
from gdsim.sweep.spec import Chunk, Output, SpecError, Sweep, load_spec, simulation
from gdsim.sweep.store import SweepStore

__all__ = ["Sweep", "Output", "Chunk", "SpecError", "simulation", "load_spec", "run", "open_dataset", "status",
           "SweepReport", "SweepStore"]
