"""Shared machinery: Numba options, seeding, validation, results, CUDA helpers, progress."""
