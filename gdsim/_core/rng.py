"""Seeding: one convention for every public function.

``seed`` is ``int | numpy.random.SeedSequence | numpy.random.Generator | None``. Independent streams
per trajectory/chain/grid point come from :class:`numpy.random.SeedSequence` spawning, never from a
shared state used inside ``prange`` (NumPy's parallel random number generation guidance).
"""

from __future__ import annotations

import numbers

import numpy as np

SeedLike = "int | np.random.SeedSequence | np.random.Generator | None"


def as_seed_sequence(seed=None) -> np.random.SeedSequence:
    """Normalise ``seed`` to a :class:`numpy.random.SeedSequence`.

    A ``Generator`` is consumed once (one 128-bit draw) so that passing the same generator twice gives
    two different, reproducible streams, as QuantEcon's ``check_random_state`` does.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=2, dtype=np.int64).tolist())
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an int >= 0, a numpy SeedSequence, a numpy Generator or None; got {type(seed).__name__}"
        )
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    return np.random.SeedSequence(int(seed))


def as_generator(seed=None) -> np.random.Generator:
    """A :class:`numpy.random.Generator`; a Generator passed in is returned unchanged."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def spawn_generators(seed, n: int) -> list[np.random.Generator]:
    """``n`` independent generators, one per trajectory/chain, from ``SeedSequence.spawn``."""
    return [np.random.default_rng(s) for s in as_seed_sequence(seed).spawn(int(n))]


def seed_for_key(base_seed: int, key: tuple[int, ...]) -> np.random.SeedSequence:
    """A seed that depends only on ``base_seed`` and an integer ``key`` (e.g. a grid-point index).

    Used by sweeps so that results never depend on the order in which chunks run.
    """
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=tuple(int(k) for k in key))
