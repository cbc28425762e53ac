"""Tubal tensor factorisation: small-initialisation GD on U * U^T learns low tubal rank.

Karnik, Veselovska, Iwen, Krahmer, "Implicit Regularization for Tubal Tensor Factorizations via Gradient
Descent", ICML 2025 (PMLR 267:29148-29204), arXiv:2410.16247; t-product algebra after Kilmer and Martin (2011).

* algebra (NumPy, FFT along the tubes): :func:`t_product`, :func:`t_transpose`, :func:`t_identity`,
  :func:`fourier_slices`, :func:`from_fourier_slices`, :func:`tubal_singular_values`, :func:`tubal_rank`;
* the problem and the model: :func:`make_problem` (:class:`TubalProblem`, Gaussian measurements or entry
  completion), :func:`factorisation` (a :class:`gdsim.models.Model` with Numba loss, gradient and exact
  Hessian-vector products: run it with :func:`gdsim.dynamics.gd` or ``gdsim.dynamics.run(m, GD(), ...)``);
* observables and theory: :func:`observe` (the test and training errors recorded during a run),
  :func:`test_error`, :func:`train_error`, :func:`slice_values` (tubal singular
  values of U * U^T per Fourier slice), :func:`subspace_sine` (principal angles to the power-method or
  true subspace), :func:`power_method_tensor`, :func:`default_measurements`.

Examples
--------
>>> import gdsim.tubal as gt, gdsim.dynamics as gdyn
>>> p = gt.make_problem(6, 3, 1, measurements=50, seed=0)
>>> m = gt.factorisation(p, 12, init_scale=1e-6)
>>> res = gdyn.gd(m, m.init(seed=0), lr=0.05, steps=4000, record_every=4000)
>>> bool(gt.test_error(p, res.w_final) < 1e-4)
True
>>> U = gt.factors(p, res.w_final)
>>> gt.tubal_rank(gt.t_product(U, gt.t_transpose(U)), tol=1e-3)
1
"""

from gdsim.tubal._algebra import (fourier_slices, from_fourier_slices, t_identity, t_product, t_transpose,
                                  tubal_rank, tubal_singular_values)
from gdsim.tubal._api import (KINDS, TubalProblem, default_measurements, factorisation, factors, make_problem,
                              observe, power_method_tensor, slice_values, subspace_sine, test_error, train_error)

__all__ = ["t_product", "t_transpose", "t_identity", "fourier_slices", "from_fourier_slices",
           "tubal_singular_values", "tubal_rank", "TubalProblem", "KINDS", "make_problem", "default_measurements",
           "factorisation", "factors", "test_error", "train_error", "slice_values", "subspace_sine",
           "power_method_tensor", "observe"]
