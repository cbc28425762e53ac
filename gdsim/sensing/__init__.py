"""Matrix sensing with small-initialisation GD: incremental (rank-by-rank) learning, over-parameterisation,
ScaledGD(lambda).

References: Jin, Li, Lyu, Du, Lee, ICML 2023 (arXiv:2301.11500); Xiong, Ding, Du, ICLR 2024
(arXiv:2310.01769); Xu, Shen, Chi, Ma, ICML 2023 (arXiv:2302.01186).

Public (contract) names: :func:`make_problem`, :func:`gd`, :func:`asymmetric_gd`, :func:`scaled_gd`,
:func:`learning_times`, :func:`gpu_gd`; also :func:`initial_factors` and :class:`SensingProblem`.
"""

from gdsim.sensing._api import (
    GENERATORS,
    INITS,
    SensingProblem,
    asymmetric_gd,
    gd,
    gpu_gd,
    initial_factors,
    learning_times,
    make_problem,
    scaled_gd,
)

__all__ = ["make_problem", "gd", "asymmetric_gd", "scaled_gd", "learning_times", "gpu_gd", "initial_factors",
           "SensingProblem", "GENERATORS", "INITS"]
