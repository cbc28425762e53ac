"""Models for the shared dynamics layer: a flat float64 parameter vector plus compiled kernels.

A :class:`Model` carries ``loss_grad(w, *data, g) -> loss`` (Numba-compiled), an exact Hessian-vector
product, an initialiser and its data. Bring your own with :func:`custom`, or take one from the zoo
(hand-written backward passes and R-op Hessian-vector products): :func:`mlp`, :func:`deep_linear`,
:func:`diagonal_linear`, :func:`matrix_factorisation`, and the generic twins of gdsim's bespoke models
:func:`scalar_network`, :func:`squared_regression`, :func:`matrix_sensing`, and the tractable models of the
stability papers :func:`second_order_regression`, :func:`logistic_regression`, :func:`deep_matrix_factorisation`.
Run them with
:mod:`gdsim.dynamics`. Warnings: :class:`HVPFallbackWarning` (a custom model's Hessian-vector products fall back
to central differences) and :class:`NonFiniteResultWarning` (a curvature computed at a finite w is NaN because the
model's kernels are not finite there).

Examples
--------
>>> import numpy as np, gdsim.models as gm
>>> X = np.random.default_rng(0).standard_normal((50, 4)); Y = X[:, :1] ** 2
>>> m = gm.mlp([4, 16, 1], activation="tanh", loss="mse", data=(X, Y))
>>> w0 = m.init(seed=0, batch=(3,))
>>> w0.shape
(3, 97)
"""

from gdsim._core.validate import NonFiniteResultWarning
from gdsim.models._model import HVPFallbackWarning, Model, ParamGroup, custom
from gdsim.models._zoo import (deep_linear, diagonal_linear, matrix_factorisation, matrix_sensing, mlp,
                               scalar_network, squared_regression)
from gdsim.models._tractable import deep_matrix_factorisation, logistic_regression, second_order_regression

__all__ = ["Model", "ParamGroup", "custom", "mlp", "deep_linear", "diagonal_linear", "matrix_factorisation", "scalar_network",
           "squared_regression", "matrix_sensing", "second_order_regression", "logistic_regression",
           "deep_matrix_factorisation", "HVPFallbackWarning", "NonFiniteResultWarning"]
