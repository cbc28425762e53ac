"""The sweep engine: resume after SIGKILL, executor equivalence, spec errors, seeds, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import gdsim.sweep as gs
from gdsim.cli import main as cli_main
from tests.sweep_sims import make_sweep, random_walk

REPO = Path(__file__).resolve().parents[1]


def _data(ds):
    """The dataset without run-dependent attributes (provenance holds creation time and pid)."""
    out = ds.copy()
    out.attrs = {}
    return out


def _run(sweep, store, **kw):
    return gs.run(sweep, store, progress=False, verbose=False, **kw)


# --------------------------------------------------------------------------------------- basics


def test_dataset_layout_and_values_match_direct_calls(tmp_path):
    sw = make_sweep()
    rep = _run(sw, tmp_path / "s.zarr")
    assert (rep.chunks_computed, rep.chunks_skipped, rep.complete) == (sw.n_chunks, 0, True)
    ds = rep.dataset()
    assert list(ds["final"].dims) == ["eta", "sigma", "seed"]
    assert list(ds["path"].dims) == ["eta", "sigma", "seed", "record"]
    np.testing.assert_array_equal(ds["eta"].values, sw.axes["eta"])
    assert bool(ds["done"].all())
    # Oracle: each point run alone with its own derived seed gives the same numbers as its chunk.
    for idx in [(0, 0, 0), (3, 2, 1), (5, 4, 1)]:
        g = np.random.default_rng(np.random.SeedSequence(7, spawn_key=idx))
        eta, sigma = sw.axes["eta"][idx[0]], sw.axes["sigma"][idx[1]]
        x = 1.0
        for z in g.standard_normal(64):
            x = (1 - eta) * x + sigma * z
        assert ds["final"].values[idx] == pytest.approx(x, rel=1e-12)
    assert json.loads(ds.attrs["gdsim_sweep"])["simulation"] == "tests.sweep_sims:random_walk"


def test_results_do_not_depend_on_chunking(tmp_path):
    a = _run(make_sweep(chunks={"eta": 1, "sigma": 1}), tmp_path / "a.zarr").dataset()
    b = _run(make_sweep(chunks={"eta": 4, "sigma": 5, "seed": 1}), tmp_path / "b.zarr").dataset()
    xr.testing.assert_identical(_data(a), _data(b))


def test_rerun_of_finished_sweep_does_nothing_and_says_so(tmp_path, capsys):
    sw = make_sweep(n_eta=2, n_sigma=2)
    _run(sw, tmp_path / "s.zarr")
    rep = gs.run(sw, tmp_path / "s.zarr", progress=False, verbose=True)
    assert rep.chunks_computed == 0 and rep.chunks_skipped == sw.n_chunks
    assert "already complete" in capsys.readouterr().err


def test_partial_store_masks_unfinished_chunks_and_status_counts_them(tmp_path):
    sw = make_sweep()
    rep = _run(sw, tmp_path / "s.zarr", max_chunks=7)
    assert rep.chunks_computed == 7 and not rep.complete
    st = gs.status(tmp_path / "s.zarr")
    assert (st["chunks_done"], st["chunks_total"], st["complete"]) == (7, 30, False)
    assert st["points_done"] == 7 * 2
    ds = gs.open_dataset(tmp_path / "s.zarr")
    assert int(ds["done"].sum()) == 14
    assert np.isnan(ds["final"].values[~ds["done"].values]).all()
    assert np.isfinite(ds["final"].values[ds["done"].values]).all()


# ------------------------------------------------------------------------------- resume (SIGKILL)

_CHILD = """
import gdsim.sweep as gs
from tests.sweep_sims import make_sweep
gs.run(make_sweep(), {store!r}, progress=False, verbose=False)
"""


def test_sigkill_then_resume_is_bit_identical_and_computes_each_chunk_once(tmp_path):
    store = tmp_path / "killed.zarr"
    log = tmp_path / "log.txt"
    env = dict(os.environ, GDSIM_TEST_SWEEP_LOG=str(log), GDSIM_TEST_SWEEP_SLEEP="0.08", PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(store=str(store))], cwd=REPO, env=env)
    done_dir = store / "_gdsim_done"
    deadline = time.time() + 120
    while time.time() < deadline:
        if done_dir.is_dir() and len([p for p in done_dir.iterdir() if p.name[0].isdigit()]) >= 6:
            break
        if child.poll() is not None:
            pytest.fail("the sweep finished before it could be killed")
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = gs.status(store)
    done_before = {p.name for p in done_dir.iterdir() if p.name[0].isdigit()}
    assert 6 <= before["chunks_done"] < before["chunks_total"]
    started_before = [c for c in (ln.split()[1] for ln in log.read_text().splitlines()) if c != "probe"]
    in_flight = set(started_before) - done_before
    assert len(in_flight) <= 1  # in-process: at most the chunk being computed when killed

    # resume in a fresh process too (the lock left by the killed one must be taken over)
    log.write_text("")
    env["GDSIM_TEST_SWEEP_SLEEP"] = "0"
    subprocess.run([sys.executable, "-c", _CHILD.format(store=str(store))], cwd=REPO, env=env, check=True)
    # (the one-point probe that checks outputs and compiles before work starts is not a chunk)
    resumed = [c for c in (ln.split()[1] for ln in log.read_text().splitlines()) if c != "probe"]
    assert len(resumed) == len(set(resumed))  # no chunk twice
    assert not set(resumed) & done_before  # nothing finished before the kill is computed again
    assert len(resumed) == before["chunks_total"] - len(done_before)

    whole = _run(make_sweep(), tmp_path / "whole.zarr").dataset()
    xr.testing.assert_identical(_data(gs.open_dataset(store)), _data(whole))


# ------------------------------------------------------------------------------ executors


@pytest.mark.slow
def test_inprocess_processes_and_dask_give_identical_datasets(tmp_path, monkeypatch):
    # 50 ms per chunk so that both workers get work even though one starts before the other
    monkeypatch.setenv("GDSIM_TEST_SWEEP_SLEEP", "0.05")
    sw = make_sweep(n_eta=4, n_sigma=3)
    ref = _run(sw, tmp_path / "inproc.zarr", executor="inprocess").dataset()
    procs = _run(sw, tmp_path / "procs.zarr", executor="processes", workers=2).dataset()
    dask = _run(sw, tmp_path / "dask.zarr", scheduler="local", workers=2).dataset()
    xr.testing.assert_identical(_data(ref), _data(procs))
    xr.testing.assert_identical(_data(ref), _data(dask))
    for store in ("procs.zarr", "dask.zarr"):
        workers = {v.get("worker") for v in gs.SweepStore(tmp_path / store).chunk_info().values()}
        assert len(workers) == 2, store  # both workers did work, none of it in this process
        assert not any(w.endswith(f":{os.getpid()}") for w in workers)


@pytest.mark.slow
def test_dask_scheduler_address_on_loopback(tmp_path):
    """The README's 'Scaling out' recipe: start a cluster, point the same run at its address."""
    from dask.distributed import LocalCluster

    sw = make_sweep(n_eta=3, n_sigma=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        rep = _run(sw, tmp_path / "addr.zarr", scheduler=cluster.scheduler_address)
    assert rep.executor == "dask" and rep.complete
    ref = _run(sw, tmp_path / "ref.zarr").dataset()
    xr.testing.assert_identical(_data(rep.dataset()), _data(ref))


def test_thread_count_does_not_change_scalar_sweep(tmp_path):
    sw = gs.Sweep("eos", axes={"eta_D_over_2": np.linspace(0.2, 1.1, 6), "phi0_over_D": [1.2, 1.8, 2.5],
                               "depth": [2, 3]},
                  simulation="gdsim.scalar.sweeps:eos_final_state", params={"steps": 3000}, chunks={"eta_D_over_2": 3})
    a = _run(sw, tmp_path / "a.zarr", threads_per_worker=1).dataset()
    b = _run(sw, tmp_path / "b.zarr", threads_per_worker=2).dataset()
    xr.testing.assert_identical(_data(a), _data(b))
    # Kreisler et al.: a converged run ends with sharpness <= 2/eta (plus float slack) and at most phi0.
    conv = a["status"].values == 0
    eta = 2 * a["eta_D_over_2"].values[:, None, None] / a["depth"].values[None, None, :]
    phi0 = a["phi0_over_D"].values[None, :, None] * a["depth"].values[None, None, :]
    S = a["final_sharpness"].values
    assert conv.sum() > 10
    assert (S[conv] <= (2 / np.broadcast_to(eta, S.shape))[conv] * (1 + 1e-6)).all()
    assert (S[conv] <= np.broadcast_to(phi0, S.shape)[conv] * (1 + 1e-9)).all()
    # where 2/eta < D no minimum is stable: never converged
    assert (a["status"].values[a["eta_D_over_2"].values > 1.0] != 0).all()


# ------------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize("kwargs, match", [
    (dict(axes={}), "at least one axis"),
    (dict(axes={"eta": []}), "axis 'eta' is empty"),
    (dict(axes={"eta": [0.1, 0.2, 0.1]}), "duplicate values"),
    (dict(axes={"eta": [[0.1, 0.2]]}), "one-dimensional"),
    (dict(axes={"eta": ["a", "b"]}), "must hold numbers"),
    (dict(axes={"eta": [0.1, float("nan")]}), "NaN"),
    (dict(chunks={"temperature": 2}), "unknown axis"),
    (dict(chunks={"eta": 0}), "positive integer"),
    (dict(simulation="tests.sweep_sims:nope"), "has no attribute"),
    (dict(simulation="no_such_module_xyz:f"), "cannot import"),
    (dict(simulation="justaname"), "module:function"),
    (dict(seed=-1), "seed"),
    (dict(params={"f": object()}), "JSON-serialisable"),
    (dict(outputs={"eta": ()}), "same name as an axis"),
    (dict(outputs={"final": {"shape": (0,)}}), "positive entries"),
    (dict(outputs={"final": {"dtype": "complex128"}}), "float, integer or bool"),
])
def test_bad_specs_raise_clear_errors(kwargs, match):
    base = dict(name="s", axes={"eta": [0.1, 0.2]}, simulation=random_walk, outputs=None)
    base.update(kwargs)
    if "axes" in kwargs and "chunks" not in kwargs:
        pass
    with pytest.raises(gs.SpecError, match=match):
        gs.Sweep(**base)


@pytest.mark.parametrize("sim, match", [("tests.sweep_sims:wrong_shape", "shape"),
                                        ("tests.sweep_sims:wrong_name", "missing")])
def test_output_mismatch_is_caught_before_any_store_is_written(tmp_path, sim, match):
    sw = gs.Sweep("s", axes={"eta": [0.1, 0.2]}, simulation=sim)
    with pytest.raises(gs.SpecError, match=match):
        _run(sw, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_store_from_a_different_spec_is_refused_before_work(tmp_path, monkeypatch):
    _run(make_sweep(n_eta=2, n_sigma=2), tmp_path / "s.zarr")
    log = tmp_path / "log.txt"
    monkeypatch.setenv("GDSIM_TEST_SWEEP_LOG", str(log))
    with pytest.raises(gs.SpecError, match="different sweep spec.*axes"):
        _run(make_sweep(n_eta=3, n_sigma=2), tmp_path / "s.zarr")
    with pytest.raises(gs.SpecError, match="different sweep spec.*params"):
        _run(make_sweep(n_eta=2, n_sigma=2, params={"steps": 32}), tmp_path / "s.zarr")
    assert not log.exists()  # the simulation never ran


def test_non_store_directory_and_bad_run_arguments(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(gs.SpecError, match="not a sweep store"):
        _run(make_sweep(n_eta=2, n_sigma=2), tmp_path / "junk")
    with pytest.raises(ValueError, match="executor"):
        _run(make_sweep(), tmp_path / "x.zarr", executor="mpi")
    with pytest.raises(ValueError, match="workers"):
        _run(make_sweep(), tmp_path / "x.zarr", workers=0)
    with pytest.raises(FileNotFoundError):
        gs.status(tmp_path / "nothing.zarr")


def test_automatic_chunking_targets_chunk_points():
    sw = gs.Sweep("s", axes={"a": np.arange(10), "b": np.arange(100), "c": np.arange(7)},
                  simulation=random_walk, chunk_points=256)
    assert sw.chunks == {"a": 1, "b": 36, "c": 7}
    assert sum(sw.chunk(i).size for i in sw.chunk_indices()) == sw.n_points


# ------------------------------------------------------------------------------------- CLI

SPEC = """
name = "walk_cli"
simulation = "tests.sweep_sims:random_walk"
seed = 7
[axes]
eta = {linspace = [0.05, 0.5, 6]}
sigma = {geomspace = [0.01, 1, 5]}
seed = {range = 2}
[chunks]
eta = 1
sigma = 1
"""


def test_cli_run_status_plot(tmp_path, capsys):
    spec = tmp_path / "walk.toml"
    spec.write_text(SPEC)
    store = tmp_path / "walk.zarr"
    assert cli_main(["sweep", "run", str(spec), "--store", str(store), "--no-progress", "--max-chunks", "4"]) == 0
    assert cli_main(["sweep", "status", str(store)]) == 0
    out = capsys.readouterr().out
    assert "4/30 chunks" in out and "incomplete" in out
    assert cli_main(["sweep", "run", str(spec), "--store", str(store), "--no-progress"]) == 0
    assert cli_main(["sweep", "status", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is True
    # same numbers as the Python API (TOML linspace/geomspace/range give the same axes)
    ref = _run(make_sweep(), tmp_path / "api.zarr").dataset()
    ds = gs.open_dataset(store)
    np.testing.assert_array_equal(ds["final"].values, ref["final"].values)
    png = tmp_path / "final.png"
    assert cli_main(["sweep", "plot", str(store), "--output", "final", "--x", "eta", "--y", "sigma", "--log-y",
                     "--out", str(png)]) == 0
    assert png.stat().st_size > 5000
    assert cli_main(["sweep", "plot", str(store), "--output", "nope", "--x", "eta", "--y", "sigma"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("[chunks]", "[chunkz]"))
    assert cli_main(["sweep", "run", str(bad), "--store", str(tmp_path / "b.zarr")]) == 2
    assert "unknown key" in capsys.readouterr().err
