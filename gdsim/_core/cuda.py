"""CUDA helpers: availability, the simulator, and the launch configuration.

``numba.cuda`` is imported lazily (only by the ``gpu_*`` functions), so importing gdsim never pays
for it and never fails on a machine without CUDA. Without a GPU the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, set before numba is first imported) runs the same kernels in Python.
"""

from __future__ import annotations

import os

#: Threads per block for every gdsim CUDA kernel; tests patch this to a tiny value so that small
#: inputs span several blocks (STUMPY's ``STUMPY_THREADS_PER_BLOCK``).
THREADS_PER_BLOCK = int(os.environ.get("GDSIM_THREADS_PER_BLOCK", "128"))


class CudaUnavailableError(RuntimeError):
    """Raised by ``gpu_*`` functions when neither a CUDA GPU nor the CUDA simulator is usable."""


def is_cudasim() -> bool:
    """True when numba's CUDA simulator is enabled for this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def cuda_module():
    """Import and return ``numba.cuda`` or raise :class:`CudaUnavailableError` with the fix."""
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CudaUnavailableError(
            "gdsim's gpu_* functions need numba's CUDA target: pip install 'gdsim[cuda]' "
            f"(numba-cuda); import failed with: {exc}"
        ) from None
    if not cuda.is_available():
        raise CudaUnavailableError(
            "no CUDA GPU is usable here (numba.cuda.is_available() is False). Use the CPU function, "
            "or set NUMBA_ENABLE_CUDASIM=1 before importing numba to run the CUDA simulator."
        )
    return cuda


def cuda_available() -> bool:
    """Whether ``gpu_*`` functions can run (a real GPU or the simulator)."""
    try:
        cuda_module()
    except CudaUnavailableError:
        return False
    return True


def gpu_available() -> bool:
    """Whether a real CUDA GPU (not the simulator) can run ``gpu_*`` functions."""
    return not is_cudasim() and cuda_available()


def launch_config(n: int) -> tuple[int, int]:
    """(blocks, threads per block) covering ``n`` independent work items, one per thread."""
    tpb = max(1, int(THREADS_PER_BLOCK))
    return max(1, (n + tpb - 1) // tpb), tpb
