"""Stability and the edge of stability in tractable models: batched grids and exact closed forms.

* second-order regression (Agarwala, Pedregosa, Pennington 2022): :func:`second_order_map` (GD over a grid
  of (lr, eps * y)), :func:`second_order_flow_limit` (where gradient flow ends);
* large-step logistic regression (Wu, Marion, Bartlett 2025; Tyurin 2024): :func:`separable_data`,
  :func:`logistic_map` (GD over a grid of (lr, l2)), :func:`logistic_separation_steps`,
  :func:`perceptron_steps`, :func:`logistic_1d_threshold`;
* deep matrix factorisation (Kamber, Parhi 2025): :func:`dmf_balanced_factors`, :func:`dmf_sharpness`,
  :func:`dmf_sharpness_bound`.

The models themselves are zoo entries (:func:`gdsim.models.second_order_regression`,
:func:`gdsim.models.logistic_regression`, :func:`gdsim.models.deep_matrix_factorisation`) that run on
:mod:`gdsim.dynamics`; SGD's exact mean-square threshold is :func:`gdsim.dynamics.sgd_stability_threshold`.

Examples
--------
>>> import numpy as np, gdsim.stability as gst
>>> res = gst.second_order_map(lr=[1.6, 1.8], eps_y=[0.1], steps=20000)
>>> np.round(res.final_lr_ntk[:, 0], 4)
array([1.8424, 1.9395])
"""

from gdsim.stability._api import (STATUS, dmf_balanced_factors, dmf_sharpness, dmf_sharpness_bound,
                                  logistic_1d_threshold, logistic_map, logistic_separation_steps, perceptron_steps,
                                  second_order_flow_limit, second_order_map, separable_data)

__all__ = ["STATUS", "second_order_map", "second_order_flow_limit", "separable_data", "logistic_map",
           "logistic_separation_steps", "perceptron_steps", "logistic_1d_threshold", "dmf_balanced_factors",
           "dmf_sharpness", "dmf_sharpness_bound"]
