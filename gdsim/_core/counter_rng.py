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
from gdsim._core.rng import as_seed_sequence, child_seed, is_seed_list, run_seeds

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


# numpy.random.SeedSequence's hashing constants (numpy/random/bit_generator.pyx, after M. E. O'Neill's seed_seq)
_SS_INIT_A, _SS_MULT_A = 0x43B0D7E5, 0x931E8875
_SS_INIT_B, _SS_MULT_B = 0x8B51F9DD, 0x58F38DED
_SS_MIX_L, _SS_MIX_R = 0xCA01F9DD, 0x4973F715
_MASK32 = 0xFFFFFFFF


def _uint32_words(x) -> list[int]:
    """SeedSequence's coercion of an int (>= 0) or a sequence of ints to little-endian 32-bit words."""
    if isinstance(x, (int, np.integer)):
        x = int(x)
        if x == 0:
            return [0]
        out = []
        while x > 0:
            out.append(x & _MASK32)
            x >>= 32
        return out
    return [w for v in x for w in _uint32_words(v)]


@jit(inline="always")
def _hashmix(value, hc, mult):
    """SeedSequence's hashmix step (mod 2^32): value ^= hc; hc *= mult; value *= hc; value ^= value >> 16.
    Returns (value, the next hash constant)."""
    m32 = np.uint64(_MASK32)
    v = (value ^ hc) & m32
    hc = (hc * mult) & m32
    v = (v * hc) & m32
    return v ^ (v >> np.uint64(16)), hc


@jit(inline="always")
def _mix(x, y):
    """SeedSequence's mix of two 32-bit words."""
    r = (np.uint64(_SS_MIX_L) * x - np.uint64(_SS_MIX_R) * y) & np.uint64(_MASK32)
    return r ^ (r >> np.uint64(16))


@jit
def _child_keys(prefix, pool_size, n, out):
    """out[k] = SeedSequence(entropy, spawn_key=(*spawn_key, k)).generate_state(1, uint64)[0] for k < n, with
    ``prefix`` the assembled entropy words before k's own: NumPy's algorithm in uint32 arithmetic."""
    m32 = np.uint64(_MASK32)
    for k in range(n):
        ent = np.empty(prefix.size + 2, dtype=np.uint64)
        for i in range(prefix.size):
            ent[i] = prefix[i]
        ne = prefix.size
        kk = np.uint64(k)
        if k == 0:
            ent[ne] = np.uint64(0)
            ne += 1
        while kk > np.uint64(0):
            ent[ne] = kk & m32
            kk = kk >> np.uint64(32)
            ne += 1
        pool = np.zeros(pool_size, dtype=np.uint64)
        hc = np.uint64(_SS_INIT_A)
        mult_a = np.uint64(_SS_MULT_A)
        for i in range(pool_size):
            pool[i], hc = _hashmix(ent[i] if i < ne else np.uint64(0), hc, mult_a)
        for i_src in range(pool_size):
            for i_dst in range(pool_size):
                if i_src != i_dst:
                    v, hc = _hashmix(pool[i_src], hc, mult_a)
                    pool[i_dst] = _mix(pool[i_dst], v)
        for i_src in range(pool_size, ne):
            for i_dst in range(pool_size):
                v, hc = _hashmix(ent[i_src], hc, mult_a)
                pool[i_dst] = _mix(pool[i_dst], v)
        # generate_state(1, uint64): two 32-bit words cycling over the pool, low word first
        hb = np.uint64(_SS_INIT_B)
        mult_b = np.uint64(_SS_MULT_B)
        lo, hb = _hashmix(pool[0], hb, mult_b)
        hi, hb = _hashmix(pool[1 % pool_size], hb, mult_b)
        out[k] = lo | (hi << np.uint64(32))


def _fast_child_keys(ss: np.random.SeedSequence, n: int):
    """The keys of ``ss``'s first ``n`` children, compiled; None where NumPy's own result differs (checked on the
    first and last child, so a change of NumPy's algorithm falls back to the slow path instead of new numbers)."""
    if not isinstance(ss.entropy, (int, np.integer)) or n < 1:
        return None
    run = _uint32_words(int(ss.entropy))
    if len(run) < ss.pool_size:  # spawn keys present (the child's own index at least): pad to the pool size
        run = run + [0] * (ss.pool_size - len(run))
    prefix = np.array(run + _uint32_words(tuple(ss.spawn_key)), dtype=np.uint64)
    out = np.empty(n, dtype=np.uint64)
    _child_keys(prefix, int(ss.pool_size), int(n), out)
    for k in {0, n - 1}:
        if out[k] != child_seed(ss, k).generate_state(1, np.uint64)[0]:
            return None
    return out


def keys_from_seed(seed, n: int) -> np.ndarray:
    """``n`` independent uint64 keys (one per trajectory) from one seed or a sequence of ``n`` per-run seeds.

    For one seed, key i comes from its i-th child; for a sequence, key i from seed i's first child (so
    that a run's key depends on its own seed alone). For one seed the children's keys are computed by a
    compiled copy of NumPy's SeedSequence hashing (the same bits; 1e5 keys in milliseconds instead of 1.3 s of
    Python objects).
    """
    if is_seed_list(seed):
        return np.array([child_seed(s, 0).generate_state(1, np.uint64)[0] for s in run_seeds(seed, n)],
                        dtype=np.uint64)
    ss = as_seed_sequence(seed)
    fast = _fast_child_keys(ss, int(n)) if n > 16 else None
    if fast is not None:
        return fast
    return np.array([c.generate_state(1, np.uint64)[0] for c in run_seeds(ss, n)], dtype=np.uint64)


def uniform01_numpy(key, step, index) -> np.ndarray:
    """Vectorised NumPy version (the oracle for the kernels); broadcasts its arguments."""
    with np.errstate(over="ignore"):
        key = np.asarray(key, dtype=np.uint64)
        step = np.asarray(step, dtype=np.uint64)
        index = np.asarray(index, dtype=np.uint64)
        h = splitmix64_py(splitmix64_py(key ^ splitmix64_py(step)) ^ index)
    return (h >> _S11).astype(np.float64) * _TWO_M53
