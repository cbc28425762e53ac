"""The fractal boundary of trainability (Sohl-Dickstein 2024): learning-rate maps, zooms, box counting.

Reference: J. Sohl-Dickstein, "The boundary of neural network trainability is fractal",
arXiv:2402.06184 (2024); the author's notebook ``Sohl-Dickstein/fractal``.

Public (contract) names: :func:`trainability_map`, :func:`gpu_trainability_map` (same signature and
results to rounding) and :func:`box_counting_dimension`. Also :func:`offset_map` / :func:`gpu_offset_map`
(the paper's offset-vs-learning-rate phase space), :func:`problem`, :func:`window_axes`,
:func:`window_map` (tiled and resumable through :mod:`gdsim.sweep`), :func:`zoom_sequence`,
:func:`boundary`, :func:`box_counts`, :func:`converged_fraction` and the boundary-window helpers.

:class:`Problem` is the shared start of a map (weights, data, minibatch rows); every map function takes
one as ``problem=`` so that a published map can be recomputed from its exact numbers.
:func:`box_counting_dimension` defaults to a calibrated least-squares estimator (within 0.05 on sets of
known dimension); ``method="porespy"`` is the paper's (porespy's ``boxcount``, median of local slopes).
"""

from gdsim.fractal._api import (
    Problem,
    boundary,
    boundary_centers,
    box_counting_dimension,
    box_counts,
    converged_fraction,
    default_box_sizes,
    gpu_offset_map,
    gpu_trainability_map,
    densest_boundary_center,
    model,
    offset_map,
    problem,
    trainability_dataset,
    trainability_map,
    window_axes,
    window_map,
    zoom_sequence,
)

__all__ = [
    "trainability_map",
    "trainability_dataset",
    "model",
    "gpu_trainability_map",
    "offset_map",
    "gpu_offset_map",
    "problem",
    "Problem",
    "window_axes",
    "window_map",
    "zoom_sequence",
    "boundary",
    "box_counts",
    "box_counting_dimension",
    "default_box_sizes",
    "converged_fraction",
    "boundary_centers",
    "densest_boundary_center",
]
