"""The public API's signatures, for the committed snapshot ``tests/data/public_signatures.json``.

Every callable a public module lists in ``__all__`` (functions, and classes by their constructor), as the
string ``inspect.signature`` gives. A deliberate change to the API updates the snapshot with

    python -m tests.signatures --write

and records the change in CHANGELOG.md (``tests/test_api_snapshot.py`` fails until both are done).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "data" / "public_signatures.json"


def public_modules() -> list[str]:
    import gdsim

    names = ["gdsim"]
    for info in pkgutil.iter_modules(gdsim.__path__, "gdsim."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        names.append(info.name)
        if info.ispkg:
            mod = importlib.import_module(info.name)
            names += [sub.name for sub in pkgutil.iter_modules(mod.__path__, info.name + ".")
                      if not sub.name.rsplit(".", 1)[-1].startswith("_")]
    return sorted(names)


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "<no signature>"


def collect() -> dict[str, str]:
    out = {}
    for name in public_modules():
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj) or callable(obj) and hasattr(obj, "__wrapped__"):
                out[f"{name}.{attr}"] = _signature(obj)
    return out


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    if "--write" not in sys.argv:
        sys.exit("usage: python -m tests.signatures --write   (then record the change in CHANGELOG.md)")
    SNAPSHOT.write_text(json.dumps(collect(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
