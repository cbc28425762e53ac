"""Particle gradient descent for displacement-convex functions of measures.

Reference: Daneshmand, Lee, Jin, "Efficient displacement convex optimization with particle gradient
descent", ICML 2023, arXiv:2302.04753.

Public (contract) names: :func:`energy_distance`, :func:`particle_gd`, :func:`noisy_particle_gd`,
:func:`sparse_optimum`, :func:`gpu_particle_gd`; also :func:`nn_loss`, :func:`objective_value`,
:func:`objective_grad`, :func:`make_objective`, :func:`step_sizes`. The record schedule is the package's one
(``record_every=``, or the ``n_records`` shorthand for :func:`gdsim.log_steps`).
"""

from gdsim.particles._api import (
    NOISE_SCALINGS,
    OBJECTIVES,
    STEP_SCHEDULES,
    Objective,
    energy_distance,
    gpu_particle_gd,
    make_objective,
    nn_loss,
    noisy_particle_gd,
    objective_grad,
    objective_value,
    particle_gd,
    sparse_optimum,
    step_sizes,
)
from gdsim._core.deprecation import deprecated_function as _deprecated_function
from gdsim._core.records import log_steps as _log_steps


@_deprecated_function("gdsim.log_steps(steps, n_records) (the same numbers), passed as record_every=")
def record_steps(steps: int, n_records: int):
    """Deprecated alias of :func:`gdsim.log_steps` (removed from gdsim.particles in 0.2; gone in 0.3)."""
    return _log_steps(steps, n_records)


__all__ = ["energy_distance", "particle_gd", "noisy_particle_gd", "sparse_optimum", "gpu_particle_gd", "nn_loss",
           "objective_value", "objective_grad", "make_objective", "step_sizes", "Objective",
           "OBJECTIVES", "STEP_SCHEDULES", "NOISE_SCALINGS", "record_steps"]
