"""The shared dynamics layer: optimisers and exact float64 curvature for any :class:`gdsim.models.Model`.

Batched over runs (initial parameters (*batch, P); learning rates and other hyper-parameters broadcast
against the batch), parallel over runs with numbers independent of the thread count, observables computed
only when asked for, divergence recorded (never raised), results labelled (:class:`gdsim.Result`).

* the engine's entry point :func:`run` with optimiser values :class:`GD`, :class:`HeavyBall`, :class:`Nesterov`,
  :class:`SGD`, :class:`Adam`, :class:`RMSProp`, :class:`Langevin`, :class:`GDA`;
* optimisers as functions: :func:`gd`, :func:`sgd`, :func:`momentum`, :func:`adam`, :func:`rmsprop`, :func:`gradient_flow`
  (and :func:`gpu_gd`, the CUDA twin of :func:`gd` for the zoo MLPs);
* curvature: :func:`top_eigenvalues`, :func:`top_eigenpairs`, :func:`sharpness` (Lanczos on exact Hessian-vector products),
  :func:`gfs_sharpness`, :func:`gfs` (gradient-flow solutions);
* diagnostics: :func:`eos_diagnostics`;
* the training Jacobian d w_T / d w_0 of a whole run: :func:`training_jacobian` (singular values, alignment),
  :func:`training_trajectory` (J v and J^T u over the stored run);
* curvature beyond the top: :func:`hessian_trace`, :func:`hessian_diagonal` (exact or Hutch++),
  :func:`spectral_density` (stochastic Lanczos quadrature) and :func:`density_on_grid`, :func:`hessian_blocks`
  (per parameter group), :func:`eigenvalues_above`, :func:`loss_slice` (Li et al. 2018);
* linear stability of SGD at a minimum: :func:`sgd_stability_threshold`, :func:`sgd_stability_radius` (the exact
  mean-square operator).

Examples
--------
>>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
>>> X = np.random.default_rng(0).standard_normal((40, 3)); Y = np.tanh(X[:, :1])
>>> m = gm.mlp([3, 8, 1], "tanh", data=(X, Y))
>>> res = gdyn.gd(m, m.init(0, batch=(4,)), lr=[[0.1], [0.5]], steps=100, record_every=50,
...               observe=("loss", "sharpness"))
>>> res.loss.shape
(3, 2, 4)
"""

from gdsim.dynamics._api import adam, gd, gpu_gd, gradient_flow, momentum, rmsprop, sgd
from gdsim.dynamics._curvature import GFS_STATUS, gfs, gfs_sharpness, sharpness, top_eigenpairs, top_eigenvalues
from gdsim.dynamics._driver import Observable, eos_diagnostics
from gdsim.dynamics._jacobian import TrainingTrajectory, training_jacobian, training_trajectory
from gdsim.dynamics._central import central_flow
from gdsim.dynamics._optimisers import GD, GDA, SGD, Adam, HeavyBall, Langevin, Nesterov, Optimiser, RMSProp, run
from gdsim.dynamics._spectral import (density_on_grid, eigenvalues_above, hessian_blocks, hessian_diagonal, hessian_trace,
                                      loss_slice, spectral_density)
from gdsim.dynamics._stability import sgd_stability_radius, sgd_stability_threshold

__all__ = ["run", "Optimiser", "GD", "HeavyBall", "Nesterov", "SGD", "Adam", "RMSProp", "Langevin", "GDA", "Observable", "gd", "sgd", "momentum", "adam", "rmsprop", "gradient_flow", "gpu_gd", "top_eigenvalues", "top_eigenpairs", "sharpness",
           "gfs_sharpness", "gfs", "eos_diagnostics", "sgd_stability_threshold", "sgd_stability_radius",
           "hessian_trace", "hessian_diagonal", "spectral_density", "density_on_grid", "hessian_blocks",
           "eigenvalues_above", "loss_slice",
           "training_jacobian", "training_trajectory", "TrainingTrajectory", "central_flow"]

__all__ += ["GFS_STATUS"]  # per-run status codes of gfs / gfs_sharpness (issue 30)
