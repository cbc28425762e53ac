"""Sphinx configuration of the gdsim documentation (``python -m sphinx -W -b html docs docs/_build/html``)."""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # paper_repro (gallery pages) and gdsim from this checkout

os.environ.setdefault("MPLBACKEND", "Agg")

import gdsim  # noqa: E402
import gdsim_docs  # noqa: E402

# the data-driven pages (gallery, glossary, benchmarks, API list) are written before Sphinx looks for sources
gdsim_docs.generate(DOCS)

project = "gdsim"
author = "the gdsim authors"
copyright = "2026, the gdsim authors"
release = gdsim.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "gdsim_docs",  # docs/_ext/gdsim_docs.py: reproduction pages, glossary, benchmark tables from data
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples/README.rst", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json", "benchmarks/*.json",
                    "**/*.codeobj.json"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = ["generated/api.rst"]
autosummary_imported_members = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "pydata_sphinx_theme"
html_title = "gdsim"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# the docstrings are written for numpydoc and help(); these two are cosmetic, not errors
suppress_warnings = ["myst.header", "autosummary.import_cycle"]
nitpicky = False
