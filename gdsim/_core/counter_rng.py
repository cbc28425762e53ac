"""Counter-based random numbers: u = hash(key, step, index), identical on CPU threads, GPU and NumPy.

Why not draw outside the kernel (QuantEcon's habit)? Noisy particle GD needs n draws per step for
10^5-10^6 steps; pre-drawing would be gigabytes. A counter-based generator keyed per trajectory
keeps the rule that matters (no shared RNG state inside ``prange``; same seed, same numbers, whatever
the thread count or device) with no memory traffic. The mixer is SplitMix64 (Steele, Lea, Flood,
OOPSLA 2014) applied in a chain; its output passes BigCrush as a counter-based generator.
Keys come from ``numpy.random.SeedSequence`` (:func:`keys_from_seed`).

The functions are plain Python on ``numpy.uint64`` so that they compile for the CPU (``jit``), for
CUDA (``cuda.jit(device=True)``), and run vectorised in NumPy for the test oracles.
"""

from __future__ import annotations

import math

import numpy as np

from gdsim._core.jit import jit
from gdsim._core.rng import child_seed, is_seed_list, run_seeds

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53


def splitmix64_py(x):
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def build_uniform01(compile):
    """``uniform01`` compiled by ``compile`` (``jit`` for CPU kernels, ``cuda.jit(device=True)`` for GPU)."""
    mix = compile(splitmix64_py)

    def uniform01(key, step, index):
        h = mix(mix(key ^ mix(np.uint64(step))) ^ np.uint64(index))
        return np.float64(h >> _S11) * _TWO_M53

    return compile(uniform01)


uniform01 = build_uniform01(lambda f: jit(f, inline="always"))


def build_normal_pair(compile):
    """``normal_pair(key, step, n, j)``: two independent N(0, 1) for items j, j+1 of n (j even).

    Marsaglia's polar method (no trigonometric call); attempt a uses the counters 2(a n + j) and
    2(a n + j) + 1, so the draw is deterministic and identical on every device.
    """
    u01 = build_uniform01(compile)

    def normal_pair(key, k, n, j):
        a = 0
        while True:
            v1 = 2.0 * u01(key, k, 2 * (a * n + j)) - 1.0
            v2 = 2.0 * u01(key, k, 2 * (a * n + j) + 1) - 1.0
            q = v1 * v1 + v2 * v2
            if 0.0 < q < 1.0:
                break
            a += 1
        f = math.sqrt(-2.0 * math.log(q) / q)
        return f * v1, f * v2

    return compile(normal_pair)


def keys_from_seed(seed, n: int) -> np.ndarray:
    """``n`` independent uint64 keys (one per trajectory) from one seed or a sequence of ``n`` per-run seeds.

    For one seed, key i comes from its i-th child; for a sequence, key i from seed i's first child (so
    that a run's key depends on its own seed alone).
    """
    if is_seed_list(seed):
        return np.array([child_seed(s, 0).generate_state(1, np.uint64)[0] for s in run_seeds(seed, n)],
                        dtype=np.uint64)
    return np.array([c.generate_state(1, np.uint64)[0] for c in run_seeds(seed, n)], dtype=np.uint64)


def uniform01_numpy(key, step, index) -> np.ndarray:
    """Vectorised NumPy version (the oracle for the kernels); broadcasts its arguments."""
    with np.errstate(over="ignore"):
        key = np.asarray(key, dtype=np.uint64)
        step = np.asarray(step, dtype=np.uint64)
        index = np.asarray(index, dtype=np.uint64)
        h = splitmix64_py(splitmix64_py(key ^ splitmix64_py(step)) ^ index)
    return (h >> _S11).astype(np.float64) * _TWO_M53
