"""Scalar linear networks: GD, sharpness and the exact gradient-flow-solution (GFS) sharpness.

Reference: Kreisler, Shpigel Nacson, Soudry, Carmon, "Gradient Descent Monotonically Decreases the
Sharpness of Gradient Flow Solutions in Scalar Networks and Beyond", ICML 2023, arXiv:2305.13064.

Public (contract) names: :func:`gd`, :func:`gpu_gd`, :func:`sharpness`, :func:`gfs`,
:func:`gfs_sharpness`; the squared regression model of the same paper is
:mod:`gdsim.scalar.squared_regression`.
"""

from gdsim.scalar._api import (
    converged,
    first_converged_step,
    gd,
    gfs,
    gfs_sharpness,
    gpu_gd,
    min_gfs_sharpness,
    record_times,
    sharpness,
)

__all__ = [
    "gd",
    "gpu_gd",
    "sharpness",
    "gfs",
    "gfs_sharpness",
    "min_gfs_sharpness",
    "converged",
    "first_converged_step",
    "record_times",
    "squared_regression",
]


def __getattr__(name):
    if name == "squared_regression":
        import importlib

        return importlib.import_module("gdsim.scalar.squared_regression")
    raise AttributeError(f"module 'gdsim.scalar' has no attribute {name!r}")
