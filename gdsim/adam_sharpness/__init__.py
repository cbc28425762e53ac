"""Adam reduces a unique form of sharpness: label-noise SGD reduces tr(H), Adam reduces tr(Diag(H)^{1/2}).

Li, Wen, Lyu, "Adam Reduces a Unique Form of Sharpness: Theoretical Insights Near the Minimizer Manifold",
NeurIPS 2025, arXiv:2511.02773.

* the problem and the model: :func:`sparse_regression` (:class:`SparseRegression`), :func:`label_noise_diagonal`
  (a :class:`gdsim.models.Model`: the diagonal net beta = u*u - v*v, or u*v, whose labels get fresh
  Rademacher noise at every step from gdsim's counter-based generator; run it with :func:`gdsim.dynamics.gd`
  (label-noise GD/SGD) or :func:`gdsim.dynamics.adam`);
* closed forms and observables: :func:`hessian_diagonal`, :func:`trace_hessian`,
  :func:`trace_sqrt_diag_hessian`, :func:`fibre_minima` (weighted l1 and l_{1/2} over the interpolating
  fibre), :func:`l1_norm`, :func:`l_half_norm`, :func:`test_loss`, :func:`observables`, :func:`split`, and
  :func:`observe` (the same, recorded during a run by the engine);
* the matrix-factorisation case where Adam's bias hurts: :func:`factorisation_problem`
  (:class:`FactorisationProblem`: entry completion or Gaussian sensing of a low-rank M*),
  :func:`label_noise_factorisation`, :func:`factorisation_traces`, :func:`factorisation_error`.

Examples
--------
>>> import numpy as np, gdsim.adam_sharpness as gas
>>> p = gas.sparse_regression(n_samples=20, d=30, sparsity=3, seed=0)
>>> w = np.concatenate([np.ones(30), np.zeros(30)])
>>> bool(np.isclose(gas.trace_hessian(p, w), 4 * np.mean(p.X ** 2, axis=0).sum()))
True
"""

from gdsim.adam_sharpness._api import (FACTORISATION_KINDS, PARAMETRISATIONS, FactorisationProblem, SparseRegression,
                                       factorisation_error, factorisation_problem, factorisation_traces, fibre_minima,
                                       hessian_diagonal, l1_norm, l_half_norm, label_noise_diagonal,
                                       label_noise_factorisation, observables, observe, sparse_regression, split,
                                       test_loss, trace_hessian, trace_sqrt_diag_hessian)

__all__ = ["SparseRegression", "PARAMETRISATIONS", "sparse_regression", "label_noise_diagonal", "split",
           "hessian_diagonal", "trace_hessian", "trace_sqrt_diag_hessian", "fibre_minima", "l1_norm",
           "l_half_norm", "test_loss", "observables", "FactorisationProblem", "FACTORISATION_KINDS",
           "factorisation_problem", "label_noise_factorisation", "factorisation_traces", "factorisation_error",
           "observe"]
