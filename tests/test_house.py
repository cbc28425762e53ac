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
                   "gdsim.fractal", "gdsim.sweep"]


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
