"""Every batched sweep simulation (package and paper_repro) gives the same bits whatever the chunking and
the executor: a point's seed comes from its grid index, never from the batch it runs in."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import gdsim.sweep as gsw

# name -> (simulation reference, axes, params, a second chunking that splits the first batches)
BATCHED = {
    "scalar eos_final_state": ("gdsim.scalar.sweeps:eos_final_state",
                               {"eta_D_over_2": [0.3, 0.7, 0.9], "phi0_over_D": [1.2, 2.0], "depth": [2, 3]},
                               {"steps": 300}, {"eta_D_over_2": 1, "phi0_over_D": 1, "depth": 1}),
    "dynamics mlp_gd_final_state": ("gdsim.dynamics.sweeps:mlp_gd_final_state",
                                    {"lr": [0.1, 0.5, 2.0], "init_scale": [0.5, 1.0]},
                                    {"steps": 40, "sizes": [3, 5, 1], "n": 16}, {"lr": 2, "init_scale": 1}),
    "fractal map_tile": ("gdsim.fractal.sweeps:map_tile",
                         {"log10_axis0": [-1.0, 0.0, 0.5], "log10_axis1": [-1.0, 0.3]},
                         {"n": 4, "steps": 20}, {"log10_axis0": 2, "log10_axis1": 1}),
    "daneshmand fig2_chunk": ("paper_repro.daneshmand2023_particle_gd:fig2_chunk",
                              {"reading": [0, 1], "n": [2, 3], "seed": [0, 1, 2]}, {"steps": 30},
                              {"reading": 1, "n": 1, "seed": 2}),
    "sclocchi perceptron_chunk": ("paper_repro.sclocchi2023_sgd_noise:perceptron_chunk",
                                  {"chi": [1.0], "T": [0.1, 0.5], "P": [4, 8], "seed": [0, 1, 2]}, {"d": 4},
                                  {"chi": 1, "T": 1, "P": 2, "seed": 1}),
    "sclocchi mlp_chunk": ("paper_repro.sclocchi2023_sgd_noise:mlp_chunk",
                           {"alpha": [1.0, 4.0], "T": [0.05], "P": [16, 24], "seed": [0, 1]},
                           {"d": 3, "width": 4, "batch": 4, "max_epochs": 3}, {"alpha": 1, "T": 1, "P": 2, "seed": 1}),
    "park park_chunk": ("paper_repro.park2025_sgd_phase_diagram:park_chunk",
                        {"T": [0.01, 0.1], "inv_sigma_w": [0.5, 2.0]}, {"epochs": 1},
                        {"T": 1, "inv_sigma_w": 1}),
    "lu particle_error_chunk": ("paper_repro.lu2023_mean_field_gda:particle_error_chunk",
                                {"n": [4, 6], "h": [5e-4, 1e-3], "seed": [0, 1, 2]}, {"T": 0.02},
                                {"n": 1, "h": 1, "seed": 2}),
}


def _run(name, chunks, store, **kw):
    sim, axes, params, _ = BATCHED[name]
    sw = gsw.Sweep(name.replace(" ", "_"), axes=axes, simulation=sim, params=params, chunks=chunks, seed=11)
    ds = gsw.run(sw, store, progress=False, verbose=False, **kw).dataset().load()
    ds.attrs = {}
    return ds


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_batched_simulation_is_independent_of_chunking(name, tmp_path):
    _, axes, _, split = BATCHED[name]
    whole = _run(name, {a: len(v) for a, v in axes.items()}, tmp_path / "whole.zarr")
    parts = _run(name, split, tmp_path / "parts.zarr")
    xr.testing.assert_identical(whole, parts)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["daneshmand fig2_chunk", "sclocchi perceptron_chunk", "lu particle_error_chunk"])
def test_batched_simulation_is_independent_of_executor(name, tmp_path):
    _, _, _, split = BATCHED[name]
    inproc = _run(name, split, tmp_path / "a.zarr")
    procs = _run(name, split, tmp_path / "b.zarr", executor="processes", workers=2)
    xr.testing.assert_identical(inproc, procs)


def test_run_batched_passes_per_point_seeds_and_scalars():
    sw = gsw.Sweep("probe", axes={"a": [1, 2], "b": [0.5, 0.25, 0.125]}, simulation="tests.sweep_sims:random_walk",
                   chunks={"a": 2, "b": 3})
    chunk = sw.chunk((0, 0))
    seen = []

    def call(points, seed, a):
        seen.append((a, points["b"].tolist(), len(seed)))
        return {"x": points["b"] * a}

    out = chunk.run_batched(call, by=("a",))
    assert seen == [(1, [0.5, 0.25, 0.125], 3), (2, [0.5, 0.25, 0.125], 3)]
    np.testing.assert_array_equal(out.x.ravel(), [0.5, 0.25, 0.125, 1.0, 0.5, 0.25])
    with pytest.raises(gsw.SpecError, match="unknown axis"):
        chunk.run_batched(call, by=("c",))
