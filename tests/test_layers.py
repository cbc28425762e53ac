"""The package's layers run one way (issue 28): the engine (``gdsim.dynamics``) and the shared models
(``gdsim.models``) import no family; every family package imports the engine; nothing in ``gdsim`` imports
``paper_repro``; stepped runs are advanced and recorded by the engine's driver, not by loops of their own.

Read from the source (every import statement, function-local ones included), so a lazy import cannot hide
a dependency."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "gdsim"
FAMILIES = ["scalar", "sensing", "games", "particles", "langevin", "fractal", "stability", "tubal", "adam_sharpness",
            "guess_check"]
SHARED = ["dynamics", "models"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _package_imports(pkg: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imports(p) for p in sorted((ROOT / pkg).rglob("*.py"))}


def test_every_family_package_exists():
    for fam in FAMILIES + SHARED:
        assert (ROOT / fam / "__init__.py").is_file(), fam


@pytest.mark.parametrize("shared", SHARED)
def test_the_engine_and_the_models_import_no_family(shared):
    bad = []
    for file, names in _package_imports(shared).items():
        for name in names:
            parts = name.split(".")
            if parts[0] == "gdsim" and len(parts) > 1 and parts[1] in FAMILIES:
                bad.append(f"{file}: {name}")
    assert not bad, f"gdsim.{shared} must not import a family package: {bad}"


def test_the_models_do_not_import_the_engine():
    # models < dynamics: the engine runs models, models know nothing of how they are run
    bad = [f"{f}: {n}" for f, names in _package_imports("models").items() for n in names
           if n == "gdsim.dynamics" or n.startswith("gdsim.dynamics.")]
    assert not bad, bad


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_imports_the_engine(family):
    names = set().union(*_package_imports(family).values())
    assert any(n == "gdsim.dynamics" or n.startswith("gdsim.dynamics.") for n in names), (
        f"gdsim.{family} does not import gdsim.dynamics: its runs must go through the engine")


def test_nothing_in_gdsim_imports_paper_repro():
    bad = [f"{p.relative_to(ROOT)}: {n}" for p in ROOT.rglob("*.py") for n in _imports(p)
           if n == "paper_repro" or n.startswith("paper_repro.")]
    assert not bad, bad


def _calls(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in names:
                hits.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return hits


def test_no_record_loop_outside_the_engine():
    """Step chunking is the driver's job (gdsim.dynamics._driver.drive): a family that calls ``step_chunks``
    or opens a progress bar in steps runs a record loop of its own."""
    hits = []
    for fam in FAMILIES:
        for p in sorted((ROOT / fam).rglob("*.py")):
            hits += _calls(p, {"step_chunks"})
            tree = ast.parse(p.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == \
                        "progress_bar":
                    units = [k.value.value for k in node.keywords if k.arg == "unit" and isinstance(k.value,
                                                                                                   ast.Constant)]
                    if not units or units[0] == "step":
                        hits.append(f"{p.relative_to(ROOT)}:{node.lineno} progress_bar(unit={units or 'default'})")
    assert not hits, f"record loops outside the engine (use gdsim.dynamics._driver.drive): {hits}"
