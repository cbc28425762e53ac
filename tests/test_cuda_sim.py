"""gpu_* variants under the CUDA simulator (tiny sizes, few threads per block so inputs span blocks)."""

import numpy as np
import pytest

import gdsim
import gdsim.scalar as sc
from gdsim._core import cuda as gcuda

pytestmark = pytest.mark.cudasim


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(gcuda, "THREADS_PER_BLOCK", 4)


@pytest.mark.skipif(not gdsim.cuda_available(), reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 (conftest sets it)")
def test_gpu_gd_matches_cpu_and_oracle():
    from tests import naive

    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.4, 1.6, size=(2, 5, 3))
    eta = np.array([0.05, 0.2, 0.4, 0.6, 3.0])  # the last one diverges
    cpu = sc.gd(w0, eta, 24, record_every=8)
    gpu = sc.gpu_gd(w0, eta, 24, record_every=8)
    np.testing.assert_array_equal(cpu.diverged, gpu.diverged)
    assert gpu.diverged[:, -1].all()
    for name in ("w", "loss", "sharpness", "gfs_sharpness"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=1e-12, atol=1e-14, err_msg=name)
    traj = naive.scalar_gd(w0[1, 2], eta[2], 24)[::8]
    np.testing.assert_allclose(gpu.w[:, 1, 2], traj, rtol=1e-12)
    assert gpu.meta["config"]["backend"] == "cuda"


def test_gpu_gd_without_cuda_raises_clear_error(monkeypatch):
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    with pytest.raises(gdsim.CudaUnavailableError, match="NUMBA_ENABLE_CUDASIM"):
        sc.gpu_gd([1.0, 1.0], 0.1, 1)


def test_gpu_and_cpu_signatures_identical():
    import inspect

    assert inspect.signature(sc.gd) == inspect.signature(sc.gpu_gd)
