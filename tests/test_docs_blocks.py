"""Documentation that runs (issue 29): every ```python block of the README and of the docs' pages executes as
written, and the gallery captions' numbers all come from the figures' data.

Blocks of one page share a namespace and run in order, in a temporary working directory (so files they
write land there). A block that needs a cluster is written as a ``{code-block} python`` directive instead of
a ```python fence, and the page says it is not executed (docs/guides/dask.md, the SLURM example).
"""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def _pages():
    pages = [REPO / "README.md"]
    for p in sorted(DOCS.rglob("*.md")):
        rel = p.relative_to(DOCS).parts
        if rel[0] in {"_build", "generated", "auto_examples"}:
            continue
        pages.append(p)
    return [p for p in pages if FENCE.search(p.read_text())]


def blocks(page: Path) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(page.read_text())]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    try:
        for i, code in enumerate(blocks(page)):
            try:
                exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
            except Exception as exc:  # say which block failed
                raise AssertionError(f"{page.relative_to(REPO)}, python block {i} failed: {exc!r}\n{code}") from exc
    finally:
        plt.close("all")


def test_readme_and_guides_have_blocks():
    names = {p.name for p in _pages()}
    assert {"README.md", "quickstart.md", "byom.md", "grid.md", "dask.md", "claims.md"} <= names


# ---- gallery captions: generated from the data, never typed -------------------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("gdsim_docs", DOCS / "_ext" / "gdsim_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# a number not glued to a name (``phi0``, ``D2_eta`` and hashes are names, not numbers)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?", re.I)


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        yield len(value)
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _allowed(gen, sidecar, scalars) -> list[str]:
    tokens = []
    for leaf in list(_leaves(sidecar)) + list(_leaves(scalars)):
        tokens += NUMBER.findall(str(leaf)) + NUMBER.findall(gen.fmt(leaf))
    return tokens


def _traced(token: str, allowed: list[str]) -> bool:
    if token in allowed:
        return True
    x = float(token)
    return any(abs(x - float(a)) <= 5e-4 * abs(float(a)) for a in allowed)  # fmt keeps 4 significant digits


def _untraced(gen, fig) -> list[str]:
    fields = gen.caption_fields(fig["id"], fig["description"], fig["sidecar"], fig["scalars"])
    allowed = _allowed(gen, fig["sidecar"], fig["scalars"])
    text = " ".join(fields[k] for k in ("measured", "run", "provenance"))
    return [t for t in NUMBER.findall(text) if not _traced(t, allowed)]


def test_every_caption_number_comes_from_the_data():
    gen = _generator()
    reps = gen.reproductions()
    assert reps, "no reproduction found"
    checked = 0
    for rep in reps:
        for fig in rep["figures"]:
            text = gen.caption(fig["id"], fig["description"], fig["sidecar"], fig["scalars"])
            fields = gen.caption_fields(fig["id"], fig["description"], fig["sidecar"], fig["scalars"])
            # the caption is the template filled with these fields and nothing else ...
            assert text == gen.CAPTION_TEMPLATE.format(**fields)
            # ... the description is the reproduction module's own, and every number elsewhere is in the data
            assert fields["description"] == getattr(rep["module"], "FIGURES", {}).get(fig["id"], fields["description"])
            assert _untraced(gen, fig) == [], (rep["name"], fig["stem"])
            checked += 1
    assert checked >= 40


def test_the_tracer_catches_a_typed_number():
    # the check above could pass vacuously; a number that is not in the data must be reported
    gen = _generator()
    fig = dict(id="x", description="d", sidecar={"summary": ["final ratio 0.875"], "seed": 3, "config": {}},
               scalars={"phi0": 1.8443809139512115})
    assert _untraced(gen, fig) == []
    fig["sidecar"]["summary"] = ["final ratio 0.875"]
    fields = gen.caption_fields("x", "d", fig["sidecar"], fig["scalars"])
    assert "1.844" in fields["measured"] and "0.875" in fields["measured"]
    assert _untraced(gen, dict(fig, scalars={})) == [] and not _traced("1.5", _allowed(gen, fig["sidecar"], {}))


def test_every_reproduction_with_figures_gets_a_gallery_page(tmp_path):
    gen = _generator()
    figures = REPO / "figures"
    names = {json.loads(f.read_text()).get("reproduction") for f in figures.glob("*.json")} - {None}
    docs = tmp_path / "docs"
    (docs / "benchmarks").mkdir(parents=True)
    gen.generate(docs, figures)
    pages = {p.stem for p in (docs / "generated" / "reproductions").glob("*.md")} - {"index"}
    assert names <= pages
    index = (docs / "generated" / "reproductions" / "index.md").read_text()
    for name in names:
        page = (docs / "generated" / "reproductions" / f"{name}.md").read_text()
        stems = [f.stem for f in figures.glob("*.json") if json.loads(f.read_text()).get("reproduction") == name]
        for stem in stems:  # every figure of the reproduction is shown on its page
            if (figures / f"{stem}.png").exists():
                assert f"../figures/{stem}.png" in page
        assert f"({name}.md)" in index


def test_benchmark_page_has_cpu_peak_and_date(tmp_path):
    gen = _generator()
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    row = dict(kernel="k", size="s", gdsim_s=0.5, peers={"numpy": 2.0}, flops=1e9, bytes=None, note="", kernel_s=None)
    machine = dict(cpu="Some CPU", cores=2, numba_threads=2, fp64_peak_gflops=123.4, dgemm_gflops=100.0,
                   fma_gflops=123.4, copy_bandwidth_gbs=20.0, date="2026-12-07", numpy="2", numba="0.6")
    (bench / "m1.json").write_text(json.dumps(dict(machine=machine, quick=False, only=None, rows=[row])))
    page = gen._benchmark_page(bench)
    assert "## m1" in page and "Some CPU" in page and "123.4 GFLOP/s" in page and "2026-12-07" in page
    assert "| k | s | 0.5 | numpy 2 (4x) | 2 (1.621%) |" in page
    assert np.isclose(100 * 1e9 / 0.5 / 1e9 / 123.4, 1.621, atol=5e-4)


def test_readme_gallery_shows_every_reproduction():
    gen = _generator()
    text = (REPO / "README.md").read_text()
    block = text[text.index(gen.README_BEGIN):text.index(gen.README_END)]
    for rep in gen.reproductions():
        if any(f["png"] is not None for f in rep["figures"]):
            assert f"<code>{rep['name']}</code>" in block, \
                f"{rep['name']} is missing from the README gallery: run python docs/_ext/gdsim_docs.py"
    for src in re.findall(r'src="([^"]+)"', block):
        assert (REPO / src).exists(), src
