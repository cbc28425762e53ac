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


@pytest.mark.skipif(not gdsim.cuda_available(), reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 (conftest sets it)")
@pytest.mark.parametrize("activation,loss", [("tanh", "mse"), ("relu", "cross_entropy"), ("gelu", "mse")])
def test_dynamics_gpu_gd_matches_cpu(activation, loss):
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 3))
    Y = np.tanh(X[:, :2]) if loss == "mse" else np.eye(2)[rng.integers(0, 2, 5)]
    m = gm.mlp([3, 4, 3, 2], activation, loss, data=(X, Y))
    w0 = m.init(0, batch=(3,))
    lr = np.array([0.1, 0.5, 500.0])  # the last one diverges (leaves [-1e3, 1e3])
    kw = dict(record_every=3, observe=("loss", "sharpness", "w"), blowup=1e3)
    cpu = gdyn.gd(m, w0, lr, 6, **kw)
    gpu = gdyn.gpu_gd(m, w0, lr, 6, **kw)
    np.testing.assert_array_equal(cpu.diverged, gpu.diverged)
    assert gpu.diverged[-1] and not gpu.diverged[0]
    # per-sample accumulation on the GPU against BLAS over the batch on the CPU: rounding-level differences
    # (the diverging run amplifies them by lr = 50 per step, so it is compared by its flag only)
    for name in ("w", "loss", "sharpness"):
        np.testing.assert_allclose(getattr(gpu, name)[:, :2], getattr(cpu, name)[:, :2], rtol=1e-11, atol=1e-13,
                                   err_msg=name)
    np.testing.assert_array_equal(gpu.n_loss_increases[:2], cpu.n_loss_increases[:2])
    assert gpu.meta["config"]["backend"] == "cuda"


def test_dynamics_gpu_gd_refuses_non_mlp_models():
    import gdsim.dynamics as gdyn
    import gdsim.models as gm

    with pytest.raises(ValueError, match="zoo MLP"):
        gdyn.gpu_gd(gm.scalar_network(2), np.ones(2), 0.1, 3)
