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
