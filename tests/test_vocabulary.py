"""One vocabulary: every public parameter name is in the glossary (gdsim/_core/glossary.py) with one
meaning, the canonical names are not shadowed by synonyms, and no deprecated spelling is left in a
public signature (old spellings live only in the deprecation shims)."""

import dataclasses
import importlib
import inspect

from gdsim._core import glossary
from tests.signatures import public_modules


def _public_parameters():
    for name in public_modules():
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr)
            if dataclasses.is_dataclass(obj) or (inspect.isclass(obj) and issubclass(obj, tuple)):
                continue  # records (problem/task dataclasses, named tuples): fields, not call parameters
            try:
                sig = inspect.signature(obj)
            except (TypeError, ValueError):
                continue
            for p in sig.parameters.values():
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    yield f"{name}.{attr}", p.name, obj


def test_every_public_parameter_name_is_in_the_glossary():
    missing = sorted({f"{p} ({where})" for where, p, _ in _public_parameters() if glossary.meaning(p) is None})
    assert not missing, "add these names to gdsim/_core/glossary.py (one meaning each) or rename them: " + \
        ", ".join(missing)


def test_canonical_and_other_terms_do_not_overlap():
    assert not set(glossary.CANONICAL) & set(glossary.TERMS)


def test_no_deprecated_spelling_remains_in_a_public_signature():
    old = {}
    for where, _, obj in _public_parameters():
        for o, new in getattr(obj, "__gdsim_renamed__", {}).items():
            old[o] = new
    used = {p for _, p, _ in _public_parameters()}
    # a name retired somewhere (e.g. eta -> lr in gdsim.scalar) may live on only with another meaning that
    # the glossary lists (eta is the games' time-scale ratio); the step-size synonyms must be gone entirely
    for o in ("mu", "h", "T", "K", "P", "D", "seeds", "chains", "replacement", "init_std", "centre"):
        assert o not in used, f"{o!r} is a deprecated spelling of {old.get(o)!r} but still a public parameter"
    assert {"mu", "h", "seeds", "chains"} <= set(old)  # the shims exist (and are what old callers hit)


def test_the_glossary_renders_a_table():
    t = glossary.table()
    assert t.count("\n") == len(glossary.CANONICAL) + 1 and "`lr`" in t
