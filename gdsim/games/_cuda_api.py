"""``gpu_particle_gda``: the CUDA twin of :func:`gdsim.games.particle_gda`."""

from __future__ import annotations

from gdsim._core.jit import honours_parallel
from gdsim._core.deprecation import renamed_keywords

import math

import numpy as np

from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, Timer
from gdsim.games._api import _prepare, gda_result


@renamed_keywords(T="t_final", h="dt")
@honours_parallel
def gpu_particle_gda(payoff, tau, eta, t_final, *, n_x: int = 1000, n_y: int | None = None, dt: float = 2.5e-4,
                     runs: int = 1, anneal_xi=None, init="uniform", drift: str = "feature", seed=None,
                     n_records: int | None = None, record_every=None, ni_grid: int = 1024, progress=False,
                     parallel=None) -> Result:
    """CUDA variant of :func:`gdsim.games.particle_gda`: same signature, same results (to rounding).

    The noise comes from the same counter-based normal pairs as on the CPU, so a seed gives the same
    noise on both devices; only the order of the moment sums differs.

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.
    """
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.games import _cuda

    n_y = n_x if n_y is None else n_y
    taus, steps, keys, X0, Y0, rec, grid, config = _prepare(payoff, tau, eta, t_final, n_x, n_y, dt, runs, anneal_xi, init,
                                                            drift, seed, n_records, ni_grid,
                                                            record_every)
    cuda = cuda_module()
    nrec = rec.size
    mom = np.full((runs, nrec, 2, 4), np.nan)
    ni0 = np.full((runs, nrec), np.nan)
    X, Y = X0.copy(), Y0.copy()
    rec_index = {int(s): i for i, s in enumerate(rec)}
    with Timer() as timer, progress_bar(runs * max(steps, 1), enabled=progress, desc="particle GDA (CUDA)") as bar:
        for r in range(runs):
            dX, dY = cuda.to_device(X[r]), cuda.to_device(Y[r])
            d_mom, d_ni0 = cuda.to_device(mom[r]), cuda.to_device(ni0[r])
            if drift == "feature":
                moments, combine, update = _cuda.feature_kernels()
                L = payoff.order
                if L > _cuda.MAX_L:
                    raise ValueError(f"payoff order L = {L} exceeds the GPU kernel's limit of {_cuda.MAX_L}")
                Lm = max(L, 2)
                nb = max(1, min(64, -(-max(n_x, n_y) // _cuda.THREADS)))
                px = cuda.device_array((nb, 2, Lm + 1))
                py = cuda.device_array((nb, 2, Lm + 1))
                w = cuda.device_array((4, 2 * L + 1))
                d_C, d_g = cuda.to_device(payoff.coef), cuda.to_device(grid if grid.size else np.zeros(0))
                bx, tx = launch_config((n_x + 1) // 2)
                by, ty = launch_config((n_y + 1) // 2)
                for kk in range(steps + 1):
                    moments[nb, _cuda.THREADS](dX, Lm, px)
                    moments[nb, _cuda.THREADS](dY, Lm, py)
                    combine[1, 1](px, py, n_x, n_y, d_C, L, Lm, w, rec_index.get(kk, -1), d_mom, d_ni0, d_g, 2)
                    if kk == steps:
                        break
                    tau_k = float(taus[kk])
                    update[bx, tx](dX, w, 0, L, -dt, math.sqrt(2 * tau_k * dt), keys[r, 0], kk)
                    update[by, ty](dY, w, 2, L, eta * dt, math.sqrt(2 * eta * tau_k * dt), keys[r, 1], kk)
                    if progress and kk % 1000 == 0:
                        bar.update(min(1000, steps - kk))
            else:
                drift_k, move = _cuda.pairwise_kernels(payoff.grad_x, payoff.grad_y)
                moments, _, _ = _cuda.feature_kernels()
                d_p = cuda.to_device(payoff.params)
                dDx, dDy = cuda.device_array(n_x), cuda.device_array(n_y)
                bd, td = launch_config(max(n_x, n_y))
                bx, tx = launch_config((n_x + 1) // 2)
                by, ty = launch_config((n_y + 1) // 2)
                part = cuda.device_array((1, 2, 3))
                for kk in range(steps + 1):
                    if kk in rec_index:
                        ri = rec_index[kk]
                        for pl, dZ, n in ((0, dX, n_x), (1, dY, n_y)):
                            moments[1, _cuda.THREADS](dZ, 2, part)
                            s = part.copy_to_host()[0] / n
                            d_mom[ri, pl, :] = np.array([s[0, 1], s[1, 1], s[0, 2], s[1, 2]])
                    if kk == steps:
                        break
                    drift_k[bd, td](dX, dY, d_p, dDx, dDy)
                    tau_k = float(taus[kk])
                    move[bx, tx](dX, dDx, -dt, math.sqrt(2 * tau_k * dt), keys[r, 0], kk)
                    move[by, ty](dY, dDy, eta * dt, math.sqrt(2 * eta * tau_k * dt), keys[r, 1], kk)
            X[r], Y[r] = dX.copy_to_host(), dY.copy_to_host()
            mom[r], ni0[r] = d_mom.copy_to_host(), d_ni0.copy_to_host()
    tau_t = np.append(taus, taus[-1] if taus.size else np.nan)[rec] if taus.size else np.full(nrec, np.nan)
    return gda_result(rec, dt, mom, ni0, tau_t, X, Y, config, "cuda", timer.seconds)
