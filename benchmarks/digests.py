"""Bit digests of every public call and of the quick reproductions' data, for refactors that must not move numbers.

    python -m benchmarks.digests --out before.json                 # every public callable (tests/test_bad_input VALID)
    python -m benchmarks.digests --out before.json --repro DIR     # also hash DIR/*.npz (gdsim repro all --quick --out DIR)
    python -m benchmarks.digests --compare before.json after.json  # which digests differ

A digest is the SHA-256 of an output's arrays: every array of a :class:`gdsim.Result` (lazy ones materialised),
ndarrays, scalars and tuples of them, in a fixed order. Wall times and other metadata are left out, so two
runs of an unchanged build give identical digests. The calls are the valid calls of the bad-input harness
(``tests/test_bad_input.VALID``), plus larger family runs below, on fixed seeds; ``gpu_*`` twins run under
the CUDA simulator only when ``NUMBA_ENABLE_CUDASIM=1`` is set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np


#: dict keys that hold timings, dates or temporary paths (not numbers of the simulation)
_VOLATILE = ("second", "created", "wall", "path", "store", "time_s")


def _feed(h, obj, depth=0):
    from gdsim import Result

    if depth > 6:
        return
    if isinstance(obj, Result):
        for k in sorted(obj.keys()):
            h.update(k.encode())
            _feed(h, np.asarray(obj[k]), depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biufcm":
            h.update(str(obj.shape).encode())
            h.update(np.ascontiguousarray(obj).tobytes())
        elif obj.dtype.kind in "US":
            h.update(repr(obj.tolist()).encode())
    elif isinstance(obj, (bool, int, float, complex, np.generic)):
        h.update(np.asarray(obj).tobytes())
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            _feed(h, x, depth + 1)
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            if any(w in str(k) for w in _VOLATILE):
                continue
            h.update(str(k).encode())
            _feed(h, obj[k], depth + 1)
    elif hasattr(obj, "__dataclass_fields__"):
        for k in sorted(obj.__dataclass_fields__):
            if any(w in k for w in _VOLATILE + ("elapsed",)):
                continue
            h.update(k.encode())
            _feed(h, getattr(obj, k), depth + 1)


def digest(obj) -> str:
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()[:16]


def _larger_calls():
    """Runs with several records and a batch, one or more per family (the VALID calls are tiny)."""
    import gdsim.dynamics as gdyn
    import gdsim.fractal as gf
    import gdsim.games as gg
    import gdsim.langevin as gl
    import gdsim.models as gm
    import gdsim.particles as gp
    import gdsim.scalar as sc
    import gdsim.sensing as gs
    import gdsim.stability as gst

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    Y = np.tanh(X[:, :1])
    mlp = gm.mlp([3, 6, 1], "tanh", data=(X, Y))
    prob = gs.make_problem(8, 2, spectrum=[1.0, 0.5], measurements=60, seed=1)
    return {
        "scalar.gd(batch)": lambda: sc.gd(np.random.default_rng(1).uniform(0.5, 1.5, (16, 4)), 0.1, 200,
                                          record_every=20, observe=("loss", "sharpness")),
        "sensing.gd(records)": lambda: gs.gd(prob, 3, [1e-3, 1e-2], 300, lr=0.05, record_every=30, seed=2,
                                             track_tau=True),
        "sensing.scaled_gd": lambda: gs.scaled_gd(prob, 3, [1e-3], 200, lr=0.2, lam=1e-3, record_every=25, seed=3),
        "games.particle_gda": lambda: gg.particle_gda(gg.payoff_t1(), 0.1, 1.0, 0.05, n_x=40, dt=1e-3, runs=2,
                                                      seed=4),
        "particles.particle_gd": lambda: gp.particle_gd(np.random.default_rng(5).uniform(-1, 1, (3, 12)),
                                                        "energy_uniform", 300, record_every=50),
        "langevin.dyson_ou": lambda: gl.dyson_ou(4, 0.3, runs=20, dt=0.01, steps=200, seed=6)
        if "steps" in __import__("inspect").signature(gl.dyson_ou).parameters else gl.dyson_ou(4, 0.3, runs=20, seed=6),
        "langevin.park_network_sgd": lambda: gl.park_network_sgd(temperature=0.05, sigma_w=1.0, epochs=40, width=3,
                                                                  n_samples=6, seed=1),
        "langevin.perceptron_sgd": lambda: gl.perceptron_sgd(temperature=0.05, n_samples=20, d=5, runs=4,
                                                             max_epochs=50, seed=2),
        "langevin.mlp_sgd": lambda: gl.mlp_sgd(alpha=1.0, temperature=0.05, n_samples=16, d=3, width=4, batch_size=4,
                                               runs=2, max_epochs=20, seed=3),
        "stability.second_order_map": lambda: gst.second_order_map(lr=np.linspace(0.5, 2.5, 9),
                                                                   eps_y=[0.1, -0.2, 0.3], steps=200),
        "games.mean_field_pde": lambda: gg.mean_field_pde(gg.payoff_t1(), 0.3, 1.0, 0.05, M=32),
        "fractal.trainability_map": lambda: gf.trainability_map(np.geomspace(0.1, 10, 12), np.geomspace(0.1, 10, 10),
                                                                n=4, steps=60, seed=7),
        "dynamics.run(Adam)": lambda: gdyn.run(mlp, gdyn.Adam(), mlp.init(seed=np.arange(3)), lr=0.01, steps=100,
                                               record_every=10, observe=("loss", "sharpness")),
        "dynamics.sgd": lambda: gdyn.sgd(mlp, mlp.init(seed=8, batch=(2,)), 0.05, 100, batch_size=5, record_every=25,
                                         seed=8),
    }


def public_digests() -> dict[str, str]:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests import test_bad_input as tb

    out = {}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(tb.VALID):
            fn, build = tb.VALID[name]
            try:
                out[name] = digest(fn(**build(Path(tmp))))
            except Exception as exc:  # recorded, so a refactor that starts raising shows up as a difference
                out[name] = f"raised {type(exc).__name__}: {str(exc)[:120]}"
        for name, call in _larger_calls().items():
            try:
                out["larger:" + name] = digest(call())
            except Exception as exc:
                out["larger:" + name] = f"raised {type(exc).__name__}: {str(exc)[:120]}"
    return out


def repro_digests(folder) -> dict[str, str]:
    out = {}
    for npz in sorted(Path(folder).glob("*.npz")):
        with np.load(npz, allow_pickle=False) as data:
            out["repro:" + npz.stem] = digest({k: data[k] for k in data.files})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.digests", description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the digests as JSON here")
    ap.add_argument("--repro", help="also hash the .npz files of this folder")
    ap.add_argument("--no-public", action="store_true", help="only the --repro folder")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        print(f"{len(set(a) & set(b))} common digests, {len(diff)} differ")
        for k in diff:
            print(f"  {k}: {a.get(k)} -> {b.get(k)}")
        return 1 if diff else 0
    out = {} if args.no_public else public_digests()
    if args.repro:
        out.update(repro_digests(args.repro))
    text = json.dumps(out, indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text)
    print(f"{len(out)} digests" + (f" -> {args.out}" if args.out else ""))
    raised = [k for k, d in out.items() if d.startswith("raised")]
    if raised:
        print("raised:", *raised, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
