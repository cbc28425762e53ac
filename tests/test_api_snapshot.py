"""The public API is deliberate: every public signature matches the committed snapshot, and every CPU/GPU
pair (``f`` and ``gpu_f``) has the identical signature."""

import importlib
import inspect
import json

from tests.signatures import SNAPSHOT, collect, public_modules


def test_public_signatures_match_the_committed_snapshot():
    now = collect()
    was = json.loads(SNAPSHOT.read_text())
    added = sorted(set(now) - set(was))
    removed = sorted(set(was) - set(now))
    changed = sorted(k for k in set(now) & set(was) if now[k] != was[k])
    assert not (added or removed or changed), (
        "the public API changed; if deliberate, run `python -m tests.signatures --write` and record it in "
        "CHANGELOG.md (a removal or rename needs a deprecation shim first)\n"
        f"added: {added}\nremoved: {removed}\nchanged: " + "\n".join(f"{k}: {was[k]} -> {now[k]}" for k in changed))


def test_every_gpu_twin_has_its_cpu_functions_signature():
    pairs = 0
    for name in public_modules():
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", ()):
            if attr.startswith("gpu_"):
                cpu = getattr(mod, attr[4:], None)
                assert cpu is not None, f"{name}.{attr} has no CPU twin {attr[4:]}"
                assert inspect.signature(getattr(mod, attr)) == inspect.signature(cpu), f"{name}.{attr}"
                assert not any(p.startswith("_") for p in inspect.signature(cpu).parameters), \
                    f"{name}.{attr[4:]} has a private parameter in its public signature"
                pairs += 1
    assert pairs >= 9  # scalar, sensing, dynamics gd; particles; games; langevin x2; fractal x2
