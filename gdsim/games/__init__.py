"""Mean-field two-scale gradient descent-ascent for mixed Nash equilibria of continuous games on the torus.

Reference: Yulong Lu, "Two-Scale Gradient Descent Ascent Dynamics Finds Mixed Nash Equilibria of
Continuous Games: A Mean-Field Perspective", ICML 2023, arXiv:2212.08791.

Public (contract) names: payoff constructors (:func:`payoff_t1`, :func:`payoff_t2`, :func:`payoff_t3`,
:func:`random_trig_payoff`, :func:`trig_payoff`, :func:`user_payoff`), :func:`particle_gda`,
:func:`entropic_equilibrium`, :func:`nikaido_isoda`, :func:`mean_field_pde`, :func:`gpu_particle_gda`.
"""

from gdsim.games._api import (
    annealing_schedule,
    entropic_equilibrium,
    gpu_particle_gda,
    grid_moments,
    lipschitz_bound,
    lyapunov_terms,
    mean_field_pde,
    nikaido_isoda,
    particle_gda,
    regularised_value,
    wrapped_gaussian,
)
from gdsim.games._payoffs import (
    Payoff,
    payoff_t1,
    payoff_t2,
    payoff_t3,
    random_trig_payoff,
    trig_payoff,
    user_payoff,
)

__all__ = ["Payoff", "payoff_t1", "payoff_t2", "payoff_t3", "random_trig_payoff", "trig_payoff", "user_payoff",
           "particle_gda", "entropic_equilibrium", "nikaido_isoda", "mean_field_pde", "gpu_particle_gda",
           "lyapunov_terms", "regularised_value", "grid_moments", "wrapped_gaussian", "annealing_schedule",
           "lipschitz_bound"]
