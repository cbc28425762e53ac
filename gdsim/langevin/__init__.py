"""SGD noise as a temperature: Dyson Brownian motion of weight spectra and SGD-noise regimes.

References: Aarts, Lucini, Park, arXiv:2407.16427; Park, Lucini, Aarts, arXiv:2509.01349; Sclocchi,
Geiger, Wyart, ICML 2023, arXiv:2301.13703.

Exact reference laws (:func:`goe2_density`, :func:`wigner_surmise_pdf`, :func:`semicircle_density`,
:func:`p_tanh`, :func:`discrete_spacing_width` with :func:`teacher_student_moments`, :func:`dyson_ou_width`), the beta = 1 Coulomb-gas sampler :func:`dyson_ou`, the
2x2 teacher-student model :func:`teacher_student_2x2`, the Park et al. network :func:`park_network_sgd`
(with the authors' phase criterion :func:`ordered_by_drift_vs_coulomb`), and the Sclocchi et al.
perceptron :func:`perceptron_sgd`; ``gpu_`` variants of the two batched SGD models.
"""

from gdsim.langevin._api import (
    dyson_ou,
    gpu_park_network_sgd,
    gpu_perceptron_sgd,
    mlp_sgd,
    ordered_by_drift_vs_coulomb,
    park_network_sgd,
    perceptron_data,
    perceptron_sgd,
    teacher_student_2x2,
)
from gdsim.langevin._reference import (
    discrete_spacing_width,
    dyson_ou_width,
    max_stationary_lr,
    teacher_student_moments,
    goe2_density,
    p_tanh,
    semicircle_density,
    wigner_surmise_cdf,
    wigner_surmise_pdf,
)

__all__ = ["dyson_ou", "teacher_student_2x2", "park_network_sgd", "gpu_park_network_sgd", "perceptron_sgd",
           "gpu_perceptron_sgd", "perceptron_data", "mlp_sgd", "ordered_by_drift_vs_coulomb", "goe2_density", "wigner_surmise_pdf", "wigner_surmise_cdf",
           "semicircle_density", "p_tanh", "discrete_spacing_width", "teacher_student_moments", "max_stationary_lr",
           "dyson_ou_width"]
