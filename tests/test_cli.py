"""The command line's contract (issue 29): figure ids are the files written, runtimes are measured, a closed
pipe is quiet, no temporary path leaks, ``sweep plot --sel``, help on every option, the threading layer in
use, and provenance without a git checkout."""

import argparse
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gdsim import repro
from gdsim._core import provenance
from gdsim.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "figures"


def test_list_ids_are_the_files_written():
    # every figure id of every reproduction names a committed PNG (stem <prefix>_<id>, or the id recorded in
    # its sidecar), and every committed sidecar belongs to one id: `gdsim list` cannot name a file that
    # `gdsim repro` does not write
    claimed = set()
    for name in repro.names():
        module = repro.load(name)
        for fig_id in module.FIGURES:
            stem = repro.figure_stem(name, fig_id, FIGURES)
            if stem is None:  # a reproduction merged before its figures were committed: nothing to compare
                continue
            assert (FIGURES / f"{stem}.png").exists(), (name, fig_id, stem)
            claimed.add(stem)
    for f in FIGURES.glob("*.json"):
        meta = json.loads(f.read_text())
        if meta.get("reproduction") in repro.names():
            ids = repro.load(meta["reproduction"]).FIGURES
            # the quick file, or another tier's (<prefix>_<id>_<tier>, e.g. sohldickstein2024_zoom_reduced)
            assert f.stem in claimed or any(f"_{k}_" in f.stem for k in ids), \
                f"{f.name} is written but no figure id of {meta['reproduction']} names it"


def test_runtime_is_measured_into_the_sidecars(tmp_path, capsys):
    car = tmp_path / "toy_fig.json"
    car.write_text(json.dumps({"reproduction": "kreisler2023_gfs_sharpness", "summary": ["x"]}))
    repro.record_runtime({"teaser": [car, tmp_path / "toy_fig.png"]}, 12.345, "quick")
    meta = json.loads(car.read_text())
    assert meta["wall_time_s"] == 12.35 and meta["figure_id"] == "teaser" and meta["mode"] == "quick"
    assert repro.figure_stem("kreisler2023_gfs_sharpness", "teaser", tmp_path) == "toy_fig"
    assert main(["list", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    block = out.split("kreisler2023_gfs_sharpness\n", 1)[1].split("\n\n")[0]
    assert "12 s measured (quick mode" in block
    assert "teaser (toy_fig.png)" in block
    assert "not measured yet" in out  # the others have no sidecar in tmp_path: nothing is made up


def test_closed_pipe_is_quiet():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from gdsim.cli import main; sys.exit(main())",
                             "cite", "kreisler2023_gfs_sharpness"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO)
    proc.stdout.close()  # the reader is gone before the first write (like `| head` after its lines)
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_temporary_paths_are_not_printed(capsys):
    import tempfile

    with repro._hide_temporary_paths():
        print(f"gdsim sweep: created {tempfile.gettempdir()}/tmpab12cd/map.zarr: 12 points", file=sys.stderr)
    err = capsys.readouterr().err
    assert tempfile.gettempdir() + "/" not in err and "created a temporary store: 12 points" in err


def test_repro_prints_a_start_line_before_compiling(monkeypatch, tmp_path, capsys):
    class Fake:
        NAME, QUICK, FULL, FIGURES = "fake", {}, {}, {"a": "x"}

        @staticmethod
        def main(cfg, *, out, seed, progress):
            assert "running" in capsys.readouterr().err  # printed before any work
            car = Path(out) / "fake_a.json"
            car.write_text(json.dumps({"reproduction": "fake"}))
            return {"a": [car]}

    monkeypatch.setattr(repro, "load", lambda name: Fake)
    repro.run("fake", out=tmp_path)
    assert json.loads((tmp_path / "fake_a.json").read_text())["figure_id"] == "a"


def _walk_parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _walk_parsers(sub)


def test_every_option_has_help():
    for parser in _walk_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{parser.prog}: {action.option_strings or action.dest} has no help text"


def test_info_reports_the_threading_layer_in_use(capsys):
    import numba

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    layer = numba.threading_layer()  # initialised by `info` itself
    assert layer in {"omp", "tbb", "workqueue"}
    assert f"threading layer: {layer} (in use" in out


def test_provenance_without_a_git_checkout(monkeypatch):
    monkeypatch.setattr(provenance, "git_commit", lambda: None)
    version = importlib.metadata.version("gdsim")
    env = provenance.environment()
    assert env["git_commit"] is None
    assert env["gdsim_installed"] == version
    assert env["source"] == f"gdsim {version} (installed, no git checkout)"


def test_git_commit_of_this_checkout_only():
    # in a checkout the commit is this repository's HEAD
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    provenance.git_commit.cache_clear()
    assert provenance.git_commit().split("+")[0] == head.stdout.strip()


@pytest.fixture(scope="module")
def three_axis_store(tmp_path_factory):
    import gdsim.sweep as gs

    store = tmp_path_factory.mktemp("sweep") / "s.zarr"
    sw = gs.Sweep("walk", axes={"eta": [0.1, 0.2, 0.3], "sigma": [0.0, 0.5], "k": [1, 2]},
                  simulation="tests.sweep_sims:random_walk", params={"steps": 16})
    gs.run(sw, store, progress=False, verbose=False)
    return store


def test_sweep_plot_selects_a_slice(three_axis_store, tmp_path, capsys):
    from gdsim.sweep.engine import open_dataset
    from gdsim.sweep.plot import heatmap

    ds = open_dataset(three_axis_store)
    png = tmp_path / "p.png"
    assert main(["sweep", "plot", str(three_axis_store), "--output", "final", "--x", "eta", "--y", "sigma",
                 "--sel", "k=2", "--out", str(png)]) == 0
    assert png.exists() and "mean over" not in capsys.readouterr().err
    ax = heatmap(ds, "final", "eta", "sigma", sel={"k": "2"})
    shown = ax.collections[0].get_array().reshape(2, 3)  # (sigma, eta)
    np.testing.assert_array_equal(shown, ds["final"].sel(k=2).transpose("sigma", "eta").values)
    assert "k = 2" in ax.get_title()
    # without --sel the reduction over k is announced, not silent
    assert main(["sweep", "plot", str(three_axis_store), "--output", "final", "--x", "eta", "--y", "sigma",
                 "--out", str(png)]) == 0
    assert "mean over k" in capsys.readouterr().err


def test_sweep_plot_sel_errors(three_axis_store, capsys):
    args = ["sweep", "plot", str(three_axis_store), "--output", "final", "--x", "eta", "--y", "sigma"]
    assert main(args + ["--sel", "k=7"]) == 2
    assert "takes the values [1, 2]" in capsys.readouterr().err
    assert main(args + ["--sel", "depth=3"]) == 2
    assert "not a dimension" in capsys.readouterr().err
    assert main(args + ["--sel", "k"]) == 2
    assert "AXIS=VALUE" in capsys.readouterr().err
