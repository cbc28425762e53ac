"""gdsim: exact, fast simulation of gradient-descent theory.

Each theoretical result has Numba kernels (CPU, optional CUDA), a reproduction script in
``paper_repro/`` and tests asserting the paper's numeric claims. Model families are subpackages:
:mod:`gdsim.scalar` (scalar networks, GFS sharpness), :mod:`gdsim.sweep` (labelled resumable grids).
"""

__version__ = "0.1.0"

from gdsim._core.cuda import CudaUnavailableError, cuda_available  # noqa: E402
from gdsim._core.records import linear_steps, log_steps, record_times  # noqa: E402
from gdsim._core.result import Result  # noqa: E402

__all__ = ["Result", "record_times", "log_steps", "linear_steps", "CudaUnavailableError", "cuda_available", "__version__"]
