"""SGD noise as a temperature: Dyson Brownian motion of weight spectra (work in progress, issue 6).

References: Aarts, Lucini, Park, arXiv:2407.16427; Park, Lucini, Aarts, arXiv:2509.01349.

Available now: exact reference laws (:func:`goe2_density`, :func:`wigner_surmise_pdf`,
:func:`semicircle_density`, :func:`p_tanh`, :func:`discrete_spacing_width`), the beta = 1 Coulomb-gas
sampler :func:`dyson_ou`, and the 2x2 teacher-student SGD model :func:`teacher_student_2x2`. The Park
network, the phase criterion and the Sclocchi et al. perceptron are not implemented yet.
"""

from gdsim.langevin._api import dyson_ou, teacher_student_2x2
from gdsim.langevin._reference import (
    discrete_spacing_width,
    goe2_density,
    p_tanh,
    semicircle_density,
    wigner_surmise_cdf,
    wigner_surmise_pdf,
)

__all__ = ["dyson_ou", "teacher_student_2x2", "goe2_density", "wigner_surmise_pdf", "wigner_surmise_cdf",
           "semicircle_density", "p_tanh", "discrete_spacing_width"]
