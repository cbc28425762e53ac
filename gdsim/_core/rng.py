"""Seeding: one convention for every public function.

``seed`` is ``int | numpy.random.SeedSequence | numpy.random.Generator | None``, or, where a function
runs a batch, a sequence of those with one seed per run (:func:`run_seeds`). Passing the same
``SeedSequence`` object twice gives the same numbers (it is copied, never spawned from in place). Independent streams
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
        # A copy with no children spawned yet: ``SeedSequence.spawn`` counts its children on the object,
        # so spawning from the caller's own object would make a second call with it give new numbers.
        return np.random.SeedSequence(entropy=seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=2, dtype=np.int64).tolist())
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an int >= 0, a numpy SeedSequence, a numpy Generator or None; got {type(seed).__name__}"
        )
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    return np.random.SeedSequence(int(seed))


def child_seed(seed, k: int) -> np.random.SeedSequence:
    """The ``k``-th child of ``seed`` (as ``as_seed_sequence(seed).spawn(k + 1)[k]``), without spawning.

    Streams derived this way depend only on the seed and ``k``, never on how many children were taken
    before, so a run's sub-streams (data, initialisation, noise, test set) are fixed by the run's own seed.
    """
    ss = as_seed_sequence(seed)
    return np.random.SeedSequence(entropy=ss.entropy, spawn_key=(*ss.spawn_key, int(k)), pool_size=ss.pool_size)


def is_seed_list(seed) -> bool:
    """True when ``seed`` is a sequence of per-run seeds (list, tuple or 1-D integer array)."""
    if isinstance(seed, np.ndarray):
        return seed.ndim == 1
    return isinstance(seed, (list, tuple))


def run_seeds(seed, runs: int, name: str = "seed") -> list[np.random.SeedSequence]:
    """One :class:`~numpy.random.SeedSequence` per run, in the runs' C order.

    ``seed`` is either one seed (int, SeedSequence, Generator or None; its ``runs`` children are used) or
    a sequence of ``runs`` seeds, one per run (e.g. a sweep chunk's per-point seeds), so that a run's
    numbers depend only on its own seed, never on which other runs share the call.
    """
    runs = int(runs)
    if is_seed_list(seed):
        if len(seed) != runs:
            raise ValueError(f"{name} as a sequence must hold one seed per run: got {len(seed)} for {runs} run(s)")
        out = []
        for i, s in enumerate(seed):
            try:
                out.append(as_seed_sequence(s.item() if isinstance(s, np.generic) else s))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{name}[{i}]: {exc}") from None
        return out
    ss = as_seed_sequence(seed)
    return [child_seed(ss, k) for k in range(runs)]


def as_generator(seed=None) -> np.random.Generator:
    """A :class:`numpy.random.Generator`; a Generator passed in is returned unchanged."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def spawn_generators(seed, n: int) -> list[np.random.Generator]:
    """``n`` independent generators, one per trajectory/chain, from ``SeedSequence.spawn``."""
    return [np.random.default_rng(s) for s in run_seeds(seed, n)]


def seed_for_key(base_seed: int, key: tuple[int, ...]) -> np.random.SeedSequence:
    """A seed that depends only on ``base_seed`` and an integer ``key`` (e.g. a grid-point index).

    Used by sweeps so that results never depend on the order in which chunks run.
    """
    return np.random.SeedSequence(entropy=int(base_seed), spawn_key=tuple(int(k) for k in key))
