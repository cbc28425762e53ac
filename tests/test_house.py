"""House rules across the package: every model family warms up, GPU twins share their CPU twin's
signature, layers run one way."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import gdsim
from gdsim.warmup import FAMILIES, warmup

PKG = Path(gdsim.__file__).parent
PUBLIC_PACKAGES = ["gdsim.scalar", "gdsim.sensing", "gdsim.games", "gdsim.particles", "gdsim.langevin",
                   "gdsim.fractal", "gdsim.sweep", "gdsim.models", "gdsim.dynamics", "gdsim.stability"]


def _families_with_kernels():
    return sorted(p.parent.name for p in PKG.glob("*/_kernels.py"))


def test_warmup_covers_every_model_family():
    assert sorted(FAMILIES) == _families_with_kernels()
    with pytest.raises(ValueError, match="families"):
        warmup(["nope"])


def _gpu_pairs():
    for mod_name in PUBLIC_PACKAGES:
        mod = importlib.import_module(mod_name)
        for name in mod.__all__:
            if name.startswith("gpu_"):
                yield mod_name, name, name[4:]


@pytest.mark.parametrize("mod_name, gpu, cpu", list(_gpu_pairs()))
def test_gpu_twin_has_the_cpu_signature(mod_name, gpu, cpu):
    mod = importlib.import_module(mod_name)
    assert cpu in mod.__all__, f"{mod_name}.{gpu} has no CPU twin {cpu}"
    s_gpu, s_cpu = inspect.signature(getattr(mod, gpu)), inspect.signature(getattr(mod, cpu))
    public = [p for p in s_cpu.parameters.values() if not p.name.startswith("_")]
    assert list(s_gpu.parameters.values()) == public, f"{gpu}{s_gpu} != {cpu}{s_cpu}"


def test_every_public_package_has_gpu_twins_listed():
    assert len(list(_gpu_pairs())) >= 8


def test_nothing_in_gdsim_imports_paper_repro():
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "paper_repro" or n.startswith("paper_repro.") for n in names), path


def test_every_subpackage_is_importable():
    for info in pkgutil.walk_packages(gdsim.__path__, "gdsim."):
        importlib.import_module(info.name)


def test_the_same_seed_sequence_twice_gives_the_same_numbers():
    """SeedSequence.spawn counts children on the object: passing the caller's object on used to change
    the second call's numbers (noisy_particle_gd, perceptron_sgd)."""
    import numpy as np

    import gdsim.langevin as gl
    import gdsim.particles as gp

    ss = np.random.SeedSequence(12)
    a = gp.noisy_particle_gd(np.zeros((2, 4)), "energy_uniform", 20, seed=ss)
    b = gp.noisy_particle_gd(np.zeros((2, 4)), "energy_uniform", 20, seed=ss)
    np.testing.assert_array_equal(a.w, b.w)
    c = gl.perceptron_sgd(0.5, 8, d=4, runs=3, max_epochs=20, seed=ss)
    d = gl.perceptron_sgd(0.5, 8, d=4, runs=3, max_epochs=20, seed=ss)
    np.testing.assert_array_equal(c.w1, d.w1)
    np.testing.assert_array_equal(c.test_error, d.test_error)
    assert ss.n_children_spawned == 0  # the caller's object is untouched


def test_a_run_depends_on_its_own_seed_only():
    """Per-run seeds: a run gives the same numbers alone or inside a batch (perceptron and alpha-trick net,
    whose test sets were once drawn per batch)."""
    import numpy as np

    import gdsim.langevin as gl

    seeds = [np.random.SeedSequence([5, i]) for i in range(3)]
    both = gl.perceptron_sgd([0.2, 0.5, 1.0], [8, 16, 8], d=4, runs=1, max_epochs=30, seed=seeds)
    alone = gl.perceptron_sgd(0.5, 16, d=4, runs=1, max_epochs=30, seed=seeds[1:2])
    np.testing.assert_array_equal(both.w1[1], alone.w1[0])
    np.testing.assert_array_equal(both.test_error[1], alone.test_error[0])
    m_both = gl.mlp_sgd([1.0, 2.0, 4.0], 0.01, n_samples=16, d=3, width=4, batch_size=4, runs=1, max_epochs=3, seed=seeds)
    m_alone = gl.mlp_sgd(2.0, 0.01, n_samples=16, d=3, width=4, batch_size=4, runs=1, max_epochs=3, seed=seeds[1:2])
    np.testing.assert_array_equal(m_both.test_error[1], m_alone.test_error[0])
    np.testing.assert_array_equal(m_both.rel_weight_change[1], m_alone.rel_weight_change[0])


# ------------------------------------------------------------------------------ house-keeping (issue 28, item 9)
def test_numba_is_within_the_declared_range_and_first_class_hooks_exist():
    """gdsim/_core/first_class.py relies on Numba internals, so pyproject.toml bounds numba above; this fails,
    saying what to do, when the installed Numba leaves that range or the internals it uses are gone."""
    import tomllib

    import numba
    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = tomllib.loads((PKG.parent / "pyproject.toml").read_text())
    req = [Requirement(r) for r in pyproject["project"]["dependencies"] if Requirement(r).name == "numba"]
    assert len(req) == 1, "pyproject.toml must list numba once among the dependencies"
    spec = req[0].specifier
    assert any(s.operator in ("<", "<=") for s in spec), (
        f"pyproject.toml's numba requirement {spec} has no upper bound; gdsim/_core/first_class.py relies on Numba "
        "internals, so bound it at the next minor release after the one it was checked against")
    hint = (f"re-check gdsim/_core/first_class.py (it relies on Numba internals: CompileResultWAP, "
            f"Dispatcher.overloads, unraisable reports from C wrappers) against numba {numba.__version__}, then move "
            f"the bound in pyproject.toml")
    assert spec.contains(Version(numba.__version__), prereleases=True), (
        f"the installed numba {numba.__version__} is outside the range {spec} declared in pyproject.toml: {hint}")
    # the internals first_class.py uses are still there
    from numba.core.types.function_type import CompileResultWAP

    from gdsim._core.first_class import function_value, kernel_errors
    from gdsim._core.jit import jit

    @jit(cache=False)
    def plus_one(x):
        if x < 0:
            raise ValueError("negative")
        return x + 1.0

    @jit(cache=False)
    def call(f, x):
        return f(x)

    assert hasattr(plus_one, "overloads") and hasattr(plus_one, "py_func"), hint
    fv = function_value(plus_one, (numba.float64,))
    assert isinstance(fv, CompileResultWAP), hint
    assert call(fv, 2.0) == 3.0, hint
    # an exception inside a function value is reported to sys.unraisablehook, which kernel_errors turns into an error
    with pytest.raises(RuntimeError, match="negative"), kernel_errors("plus_one"):
        call(fv, -1.0)


def test_chunk_seed_ints_is_deprecated_with_the_same_numbers():
    import numpy as np

    import gdsim.sweep as gs
    from gdsim._core.deprecation import REMOVAL, GdsimDeprecationWarning

    sw = gs.Sweep("s", axes={"a": [0.1, 0.2, 0.3]}, simulation="tests.sweep_sims:random_walk", seed=3)
    chunk = sw.chunk((0,))
    with pytest.warns(GdsimDeprecationWarning, match=f"Chunk.seed_ints.*removed in {REMOVAL}.*chunk.seeds"):
        old = chunk.seed_ints()
    new = np.array([s.generate_state(1, np.uint64)[0] for s in chunk.seeds], dtype=np.uint64)
    np.testing.assert_array_equal(old, new)
    assert old.dtype == np.uint64 and old.size == chunk.size


def test_one_atomic_writer():
    """Every temp-then-rename write in the package goes through gdsim._core.atomic (one helper, one behaviour)."""
    import re

    pattern = re.compile(r"os\.replace\(|os\.rename\(|\.rename\(|mkstemp\(|NamedTemporaryFile\(")  # a rename is the tell
    offenders = [f"{p.relative_to(PKG.parent)}:{i}" for p in PKG.rglob("*.py") if p.name != "atomic.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, f"write atomically through gdsim._core.atomic instead: {offenders}"


def test_exec_is_called_only_in_the_codegen_helper():
    """Generated source is compiled in one place, gdsim._core.codegen.function_from_source (one cache, one way
    of naming and jitting generated code); any other ``exec``/``compile(..., "exec")`` site is a regression."""
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name == "exec" and rel != "gdsim/_core/codegen.py":
                    offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"compile generated source through gdsim._core.codegen.function_from_source: {offenders}"
    # the check can fail: the helper itself is seen
    tree = ast.parse((PKG / "_core" / "codegen.py").read_text())
    assert any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "exec" for n in ast.walk(tree))


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path):
    import os

    from gdsim._core.atomic import atomic_directory, atomic_write

    target = tmp_path / "f.json"
    atomic_write(target, "old")
    def torn(fh):  # a writer that dies half-way
        fh.write("half")
        raise RuntimeError("boom")

    for fsync in (True, False):
        with pytest.raises(RuntimeError):
            atomic_write(target, torn, fsync=fsync)
        assert target.read_text() == "old"
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "d") as d:
        (d / "x").write_text("x")
        raise RuntimeError("boom")
    assert not (tmp_path / "d").exists()
    assert sorted(os.listdir(tmp_path)) == ["f.json"]  # no temporary left behind


def test_gdsim_repro_and_the_scripts_take_the_same_flags():
    """`gdsim repro X ...` and `python paper_repro/X.py ...` parse their flags with one builder (gdsim.repro.arg_parser)."""
    from gdsim import repro
    from gdsim.cli import build_parser

    def flags(parser):
        return {s for a in parser._actions for s in a.option_strings}

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["repro"]
    for name in ("kreisler2023_gfs_sharpness", "sohldickstein2024_fractal"):
        module = repro.load(name)
        script = repro.arg_parser(f"python paper_repro/{name}.py", tier_choices=repro.tiers(module))
        assert flags(sub) == flags(script) >= {"--quick", "--full", "--tier", "--out", "--seed", "--no-progress"}
        for argv in (["--full", "--seed", "3"], ["--tier", "quick", "--no-progress"], []):
            a, b = sub.parse_args([name, *argv]), script.parse_args(argv)
            assert (a.mode, a.seed, a.no_progress, a.out) == (b.mode, b.seed, b.no_progress, b.out)
    with pytest.raises(ValueError, match="'quick', 'full'"):
        repro.config_for(repro.load("kreisler2023_gfs_sharpness"), "paper")
    assert repro.config_for(repro.load("sohldickstein2024_fractal"), "reduced")["mode"] == "reduced"
