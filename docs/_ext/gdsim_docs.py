"""Generate the data-driven pages of the docs at build time (a Sphinx extension; also importable alone).

* ``generated/reproductions/<name>.md``: one gallery page per reproduction, discovered from the registry
  (the ``gdsim.reproductions`` entry points) and from the JSON sidecars in ``figures/`` (so a reproduction
  merged on another branch appears as soon as its module and figures are there). Each figure's caption is
  :data:`CAPTION_TEMPLATE` filled from the reproduction module's figure description and from its sidecar and
  ``.npz`` scalars: no number is typed here (``tests/test_docs_blocks.py`` traces every number).
* ``generated/glossary.md`` from :func:`gdsim._core.glossary.table`.
* ``generated/benchmarks.md``: one table per machine from ``docs/benchmarks/*.json`` (``python -m benchmarks
  --json PATH``), each with its CPU, measured peak and date.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent
FIGURES = REPO / "figures"
GENERATED = DOCS / "generated"

#: The only text of a caption besides values read from the data. Fields: ``description`` (the reproduction
#: module's ``FIGURES[id]``), ``measured`` (the sidecar's ``summary`` lines and other top-level values, and the
#: ``.npz`` file's scalars), ``run`` (mode, seed, wall time, config) and ``provenance``.
CAPTION_TEMPLATE = "**{figure_id}**: {description}\n\n{measured}\n\n*Run:* {run}\n\n*Provenance:* {provenance}"

_SKIP = {"config", "coords", "dims", "provenance", "reproduction", "seed", "summary", "figure_id", "wall_time_s", "mode"}


def fmt(value) -> str:
    """A value as it appears in a caption: numbers to 4 significant digits, lists shortened."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return f"[{fmt(value[0])}, {fmt(value[1])}, ..., {fmt(value[-1])}] ({len(value)} values)"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if len(text) <= 32 else text[:12] + "..."


def npz_scalars(stem: str, figures: Path = FIGURES) -> dict:
    """The 0-d entries of ``figures/<stem>.npz`` (numbers and short strings)."""
    path = figures / f"{stem}.npz"
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as d:
        return {k: d[k].item() for k in d.files if d[k].ndim == 0}


def caption_fields(figure_id: str, description: str, sidecar: dict, scalars: dict) -> dict:
    """The fields of :data:`CAPTION_TEMPLATE`, every value read from ``sidecar`` and ``scalars``."""
    lines = [f"- {line}" for line in sidecar.get("summary") or []] if isinstance(sidecar.get("summary"), list) else (
        [f"- {sidecar['summary']}"] if sidecar.get("summary") else [])
    extra = {k: v for k, v in sidecar.items() if k not in _SKIP}
    lines += [f"- `{k}` = {fmt(v)}" for k, v in extra.items()]
    lines += [f"- `{k}` = {fmt(v)}" for k, v in scalars.items()]
    measured = "*Measured* (from the figure's data):\n\n" + "\n".join(lines) if lines else \
        "*Measured:* no scalar summary recorded for this figure (the arrays are in its `.npz`)."
    run = f"{sidecar.get('mode', (sidecar.get('config') or {}).get('mode', '?'))} mode, seed {fmt(sidecar.get('seed'))}"
    if "wall_time_s" in sidecar:
        run += f", whole reproduction {fmt(sidecar['wall_time_s'])} s"
    config = {k: v for k, v in (sidecar.get("config") or {}).items() if k != "mode"}
    if config:
        run += "; config " + ", ".join(f"`{k}` = {fmt(v)}" for k, v in config.items())
    prov = sidecar.get("provenance") or {}
    provenance = ", ".join(f"{k} {fmt(prov[k])}" for k in ("created", "gdsim", "git_commit", "numba_threads",
                                                           "numba_threading_layer") if k in prov)
    return dict(figure_id=figure_id, description=description, measured=measured, run=run,
                provenance=provenance or "not recorded")


def caption(figure_id: str, description: str, sidecar: dict, scalars: dict) -> str:
    return CAPTION_TEMPLATE.format(**caption_fields(figure_id, description, sidecar, scalars))


def _load_module(name: str):
    try:
        from gdsim import repro

        return repro.load(name)
    except (ValueError, RuntimeError, ImportError):
        pass
    try:
        return importlib.import_module(f"paper_repro.{name}")
    except ImportError:
        return None


def reproductions(figures: Path = FIGURES) -> list[dict]:
    """Every reproduction (registered, or with sidecars in ``figures``) with its figures and their data."""
    sidecars: dict[str, dict] = {}
    for f in sorted(figures.glob("*.json")):
        try:
            meta = json.loads(f.read_text())
        except ValueError:
            continue
        if isinstance(meta, dict) and meta.get("reproduction"):
            sidecars.setdefault(meta["reproduction"], {})[f.stem] = meta
    try:
        from gdsim import repro

        registered = set(repro.names())
    except RuntimeError:
        registered = set()
    out = []
    for name in sorted(registered | set(sidecars)):
        module = _load_module(name)
        described = dict(getattr(module, "FIGURES", {}) or {})
        cars = sidecars.get(name, {})
        figs = []
        for stem, meta in cars.items():
            fig_id = meta.get("figure_id") or next((k for k in described if stem == k or stem.endswith("_" + k)), None) or \
                next((k for k in described if f"_{k}_" in stem), stem)  # e.g. a tier's <prefix>_<id>_reduced
            figs.append(dict(id=fig_id, stem=stem, sidecar=meta, scalars=npz_scalars(stem, figures),
                             description=described.get(fig_id, "(no description in the reproduction module)"),
                             png=(figures / f"{stem}.png") if (figures / f"{stem}.png").exists() else None))
        order = list(described)
        figs.sort(key=lambda g: (order.index(g["id"]) if g["id"] in order else len(order), g["stem"]))
        out.append(dict(name=name, module=module, title=getattr(module, "TITLE", name),
                        bibtex=(getattr(module, "BIBTEX", "") or "").strip(), figures=figs,
                        missing=[k for k in described if k not in {g["id"] for g in figs}]))
    return out


def _reproduction_page(rep: dict) -> str:
    name = rep["name"]
    lines = [f"({name})=", f"# {rep['title']}", "",
             f"`paper_repro/{name}.py`; regenerate with `gdsim repro {name} --quick` (or `--full`).", ""]
    for fig in rep["figures"]:
        variant = fig["stem"].split(f"_{fig['id']}_", 1)[1] if f"_{fig['id']}_" in fig["stem"] else ""
        lines += [f"## {fig['id']}" + (f" ({variant})" if variant else ""), ""]
        if fig["png"] is not None:
            lines += [f"```{{image}} ../figures/{fig['stem']}.png", f":alt: {name} {fig['id']}", ":width: 100%",
                      "```", ""]
        lines += [caption(fig["id"], fig["description"], fig["sidecar"], fig["scalars"]), ""]
    if rep["missing"]:
        lines += ["## Not yet generated", "", "Figures described by the module with no sidecar in `figures/`: "
                  + ", ".join(f"`{m}`" for m in rep["missing"]) + ".", ""]
    if rep["bibtex"]:
        lines += ["## Cite", "", "```bibtex", rep["bibtex"], "```", ""]
    return "\n".join(lines)


def _gallery_index(reps: list[dict]) -> str:
    lines = ["# Reproductions", "",
             "One page per reproduction, generated when the docs build from the figures that "
             "`gdsim repro all --quick` writes to `figures/` and their JSON sidecars. The captions' numbers are "
             "read from those files.", "", "| reproduction | figures | |", "|---|---|---|"]
    for rep in reps:
        thumb = next((f for f in rep["figures"] if f["png"] is not None), None)
        img = f"![{rep['name']}](../figures/{thumb['stem']}.png)" if thumb else ""
        lines.append(f"| [{rep['title']}]({rep['name']}.md) | {len(rep['figures'])} | {img} |")
    lines += ["", "```{toctree}", ":hidden:", ""] + [rep["name"] for rep in reps] + ["```", ""]
    return "\n".join(lines)


README_BEGIN = "<!-- gallery: generated by docs/_ext/gdsim_docs.py readme_gallery(); tests/test_docs_blocks.py checks it -->"
README_END = "<!-- end of gallery -->"


def readme_gallery(reps: list[dict] | None = None, per_row: int = 4) -> str:
    """The README's thumbnail gallery: the first figure of each reproduction, linked to its PNG (no captions:
    the numbers live on the generated docs pages)."""
    reps = reproductions() if reps is None else reps
    cells = []
    for rep in reps:
        fig = next((f for f in rep["figures"] if f["png"] is not None), None)
        if fig is None:
            continue
        cells.append(f'<a href="figures/{fig["stem"]}.png"><img src="figures/{fig["stem"]}.png" width="190" '
                     f'alt="{rep["name"]}"></a><br><sub><code>{rep["name"]}</code></sub>')
    rows = ["<table>"]
    for i in range(0, len(cells), per_row):
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells[i:i + per_row]) + "</tr>")
    rows.append("</table>")
    return "\n".join([README_BEGIN, *rows, README_END])


def _benchmark_page(bench_dir: Path) -> str:
    lines = ["# Benchmarks", "",
             "Rendered from `python -m benchmarks --json docs/benchmarks/<machine>.json`, one table per machine. "
             "Times are best-of-several wall seconds; the peak is the larger of a DGEMM and an FMA-chain kernel, "
             "measured by the same run. Earlier hand-recorded tables and the performance notes are in "
             "[the benchmark history](../benchmark_history.md).", ""]
    files = sorted(bench_dir.glob("*.json"))
    if not files:
        lines.append("No benchmark results are committed yet.")
    for f in files:
        d = json.loads(f.read_text())
        m = d["machine"]
        lines += [f"## {f.stem}", "",
                  f"CPU: {m.get('cpu')} ({m.get('cores')} cores, {m.get('numba_threads')} Numba threads); measured "
                  f"FP64 peak {fmt(m.get('fp64_peak_gflops'))} GFLOP/s (DGEMM {fmt(m.get('dgemm_gflops'))}, FMA "
                  f"chains {fmt(m.get('fma_gflops'))}), copy bandwidth {fmt(m.get('copy_bandwidth_gbs'))} GB/s; "
                  f"date {m.get('date')}; numpy {m.get('numpy')}, numba {m.get('numba')}"
                  + ("; **quick sizes** (`--quick`: a smoke run, not the published sizes)" if d.get("quick") else "")
                  + (f"; only `{d['only']}`" if d.get("only") else "") + ".", "",
                  "| kernel | size | gdsim (s) | peers (s, speed-up) | GFLOP/s (% of peak) | GB/s | note |",
                  "|---|---|---|---|---|---|---|"]
        peak = m.get("fp64_peak_gflops") or float("nan")
        for r in d["rows"]:
            t = r["gdsim_s"]
            peers = "; ".join(f"{k} {fmt(v)} ({fmt(v / t)}x)" if v else f"{k} n/a" for k, v in r["peers"].items())
            gf = f"{fmt(r['flops'] / t / 1e9)} ({fmt(100 * r['flops'] / t / 1e9 / peak)}%)" if r.get("flops") else ""
            gb = fmt(r["bytes"] / t / 1e9) if r.get("bytes") else ""
            note = r.get("note") or ""
            if r.get("kernel_s"):
                note = (note + "; " if note else "") + f"public call {fmt(100 * r['kernel_s'] / t)}% of the kernel"
            cells = [r["kernel"], r["size"], fmt(t), peers, gf, gb, note]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        if d.get("compile_s"):
            lines += ["", "First-call compile times (s): " + ", ".join(f"{k} {fmt(v)}" for k, v in d["compile_s"].items())]
        lines.append("")
    return "\n".join(lines)


def _glossary_page() -> str:
    from gdsim._core.glossary import table

    return "\n".join(["# Glossary", "",
                      "One name per concept across gdsim, rendered from `gdsim._core.glossary` (the table "
                      "`tests/test_vocabulary.py` checks every public parameter name against).", "", table(), ""])


def public_modules() -> list[str]:
    """``gdsim`` and its public top-level modules that declare ``__all__`` (new families appear by themselves),
    and ``gdsim.repro`` (the reproduction helpers)."""
    import pkgutil

    import gdsim

    names = ["gdsim"]
    for info in pkgutil.iter_modules(gdsim.__path__, "gdsim."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        mod = importlib.import_module(info.name)
        if getattr(mod, "__all__", None) or info.name == "gdsim.repro":
            names.append(info.name)
    return names


def _api_page() -> str:
    lines = ["API reference", "=============", "",
             "Generated from each public module's ``__all__`` (autosummary).", ""]
    for name in public_modules():
        mod = importlib.import_module(name)
        members = [m for m in getattr(mod, "__all__", []) if not m.startswith("__")]
        if name == "gdsim.repro":
            members = ["run", "names", "load", "figure_stem", "measured_runtime", "save_figure"]
        lines += [name, "-" * len(name), "", f".. automodule:: {name}", "   :no-members:", "",
                  ".. autosummary::", "   :toctree: stubs", "", *[f"   {name}.{m}" for m in members], ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:  # unchanged pages keep their mtime (no rebuild)
        path.write_text(text)


def generate(docs: Path = DOCS, figures: Path = FIGURES) -> list[Path]:
    """Write every generated page under ``docs/generated``; returns the pages written."""
    gen = docs / "generated"
    reps = reproductions(figures)
    pages = []
    for rep in reps:
        for fig in rep["figures"]:
            if fig["png"] is not None:
                dest = gen / "figures" / fig["png"].name
                if not dest.exists() or dest.stat().st_mtime < fig["png"].stat().st_mtime:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(fig["png"], dest)
        page = gen / "reproductions" / f"{rep['name']}.md"
        _write(page, _reproduction_page(rep))
        pages.append(page)
    _write(gen / "reproductions" / "index.md", _gallery_index(reps))
    _write(gen / "glossary.md", _glossary_page())
    _write(gen / "benchmarks.md", _benchmark_page(docs / "benchmarks"))
    _write(gen / "api.rst", _api_page())
    return pages + [gen / "reproductions" / "index.md", gen / "glossary.md", gen / "benchmarks.md"]


_PROTECTED = re.compile(r"``.+?``|:[\w:]+:`[^`]*`|`[^`]*`_{0,2}|\*\*[^*\s][^*]*?\*\*|\\.")
_EMPHASIS = re.compile(r"(?<![\w*\\])\*[^\s*][^*]*?(?<![\s\\])\*(?![\w*])")


def _escape_free(text: str) -> str:
    if _EMPHASIS.search(text):
        return text.replace("|", "\\|")
    # a `*` followed by whitespace (a bullet, ``a * b``) cannot open emphasis: left as it is
    return re.sub(r"(?<!\*)\*(?![*\s])", r"\\*", text).replace("|", "\\|")


def escape_plain_text(lines: list[str]) -> list[str]:
    """Escape ``*`` and ``|`` in the prose of a docstring (``(*batch, P)``, ``|x|``), leaving literal blocks,
    directives, doctests, inline literals, roles and ``**bold**`` alone.

    The docstrings are written to read well in ``help()``, where ``*batch`` is a shape and ``|x|`` an absolute
    value; reStructuredText would read them as unterminated emphasis and substitutions.
    """
    out, block_indent = [], None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                out.append(line)
                continue
            block_indent = None
        if stripped.startswith((">>>", "... ")) or stripped == "...":
            out.append(line)
            continue
        if stripped.startswith(".. "):
            block_indent = indent
            out.append(line)
            continue
        parts, pos = [], 0
        for mt in _PROTECTED.finditer(line):
            parts.append(_escape_free(line[pos:mt.start()]))
            parts.append(mt.group(0))
            pos = mt.end()
        parts.append(_escape_free(line[pos:]))
        new = "".join(parts)
        out.append(new)
        if stripped.endswith("::"):
            block_indent = indent
    return out


def _on_docstring(app, what, name, obj, options, lines):
    lines[:] = escape_plain_text(lines)


def _on_builder_inited(app):
    generate(Path(app.srcdir))


def setup(app):
    app.connect("builder-inited", _on_builder_inited, priority=100)  # before autosummary reads api.rst
    app.connect("autodoc-process-docstring", _on_docstring, priority=900)  # after numpydoc's rewrite
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def update_readme(readme: Path = REPO / "README.md") -> bool:
    """Rewrite the README's gallery block from the figures; returns whether it changed."""
    text = readme.read_text()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    new = text[:start] + readme_gallery() + text[end:]
    if new != text:
        readme.write_text(new)
    return new != text


if __name__ == "__main__":  # python docs/_ext/gdsim_docs.py: regenerate the pages and the README's gallery
    generate()
    print("README gallery", "updated" if update_readme() else "unchanged")
