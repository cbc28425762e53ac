"""Guess & Check against gradient descent on matrix factorisation (Alexander, Slutzky, Ran-Milo, Cohen, NeurIPS 2025).

The volume hypothesis says that networks generalise because most of the prior's volume that fits the data
generalises, whatever the optimiser; Guess & Check (G&C) tests it by drawing weights from the prior until the
training loss falls below a threshold. For matrix factorisation the paper proves that G&C generalises worse as
the width grows (tending to the prior) and better as the depth grows.

* tasks: :func:`sensing_task` (:class:`SensingTask`: rank-r target, unit-norm Gaussian measurements, the
  complement basis as test set; or matrix completion);
* G&C: :func:`guess_and_check` (a parallel Numba Monte Carlo over prior draws, counter-based streams);
* GD: :func:`sensing_model` (a :class:`gdsim.models.Model` for :mod:`gdsim.dynamics`) and
  :func:`gd_generalisation`;
* theory: :func:`prior_mean` and :func:`prior_second_moment` (exact expectations under the prior).

Examples
--------
>>> import gdsim.guess_check as gc
>>> t = gc.sensing_task(3, 3, seed=0)
>>> res = gc.guess_and_check(t, 3, draws=20_000)
>>> bool(abs(res.prior_gen[0] - gc.prior_mean(t, 3).gen) < 4 * res.prior_gen_se[0])
True
"""

from gdsim.guess_check._api import BLOCK, gd_generalisation, guess_and_check
from gdsim.guess_check._model import sensing_model
from gdsim.guess_check._tasks import SensingTask, sensing_task
from gdsim.guess_check._theory import ACTIVATIONS, PRIORS, PriorMean, prior_mean, prior_second_moment

__all__ = ["SensingTask", "sensing_task", "guess_and_check", "sensing_model", "gd_generalisation", "prior_mean",
           "prior_second_moment", "PriorMean", "ACTIVATIONS", "PRIORS", "BLOCK"]
