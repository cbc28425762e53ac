"""``gpu_particle_gd``: the CUDA twin of :func:`gdsim.particles.particle_gd`."""

from __future__ import annotations

from gdsim._core.jit import honours_parallel

import numpy as np

from gdsim._core.progress import progress_bar
from gdsim._core.result import Result, Timer
from gdsim.particles._api import _center, _chunks, _prepare, particle_result


@honours_parallel
def gpu_particle_gd(w0, objective, steps, *, target=None, interval=(-1.0, 1.0), lam=1.0, center=None,
                    step="inv_sqrt", step_lambda=None, noise=0.0, noise_scaling="none", n_records=None,
                    record_every=None, seed=None, progress=False, parallel=None) -> Result:
    """CUDA variant of :func:`gdsim.particles.particle_gd`: same signature, same result (to rounding).

    The noise comes from the same counter-based generator as on the CPU, so a seed gives the same
    noise on both devices. 1-D objectives run one GPU thread per run (the batch of runs is the
    parallelism); ``interaction`` runs one thread per particle, three launches per step.

    Raises
    ------
    gdsim.CudaUnavailableError
        When neither a CUDA GPU nor the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) is usable.

    Notes
    -----
    Daneshmand, Lee, Jin, ICML 2023 (arXiv:2302.04753). ``interaction`` needs d <= 16 on the GPU.
    """
    from gdsim._core.cuda import cuda_module, launch_config
    from gdsim.particles import _cuda

    obj, w0, batch, n, R, steps, amp, gamma, rec, keys, config = _prepare(
        w0, objective, steps, target, interval, lam, center, step, step_lambda, noise, noise_scaling, n_records, seed,
        record_every)
    cuda = cuda_module()
    pgd_1d, forces, track, update = _cuda.kernels()
    nrec = rec.size
    d_gamma, d_rec = cuda.to_device(gamma if gamma.size else np.zeros(1)), cuda.to_device(rec)
    with Timer() as timer:
        if obj.name == "interaction":
            d = w0.shape[-1]
            if d > _cuda.MAX_D:
                raise ValueError(f"particle dimension d = {d} exceeds the GPU kernel's limit of {_cuda.MAX_D}")
            c = cuda.to_device(_center(obj, d))
            blocks, tpb = launch_config(n)
            rec_val = np.full((R, nrec), np.nan)
            best = np.empty((R, 2))
            Xs = np.ascontiguousarray(np.swapaxes(w0.reshape(R, n, d), 1, 2))
            best_X = Xs.copy()
            with progress_bar(R * max(steps, 1), enabled=progress, desc="particle GD (d>=2, CUDA)") as bar:
                for r in range(R):
                    dX, dG = cuda.to_device(Xs[r]), cuda.device_array((d, n))
                    dbX = cuda.to_device(best_X[r])
                    dpart = cuda.device_array(n)
                    drv = cuda.to_device(rec_val[r])
                    dbest = cuda.to_device(np.array([np.inf, -1.0]))
                    dstate = cuda.to_device(np.zeros(1))
                    dimp = cuda.device_array(1, dtype=np.int64)
                    for kk in range(steps + 1):
                        forces[n, _cuda.REDUCE_THREADS](dX, obj.lam, c, dG, dpart)
                        track[1, _cuda.REDUCE_THREADS](dpart, kk, d_rec, drv, dstate, dbest, dimp)
                        lr = float(gamma[kk]) if kk < steps else 0.0
                        update[blocks, tpb](dX, dG, lr, amp, keys[r], kk, dimp, dbX, kk < steps)
                        if progress and kk % 1000 == 0:
                            bar.update(min(1000, steps - kk) if steps else 1)
                    Xs[r], best_X[r] = dX.copy_to_host(), dbX.copy_to_host()
                    rec_val[r], best[r] = drv.copy_to_host(), dbest.copy_to_host()
            w_final = np.swapaxes(Xs, 1, 2).reshape(*batch, n, d)
            best_w = np.swapaxes(best_X, 1, 2).reshape(*batch, n, d)
            best_val, best_k = best[:, 0], best[:, 1].astype(np.int64)
        else:
            # (n, runs) layout: thread r reads column r, so a warp's accesses are contiguous (coalesced)
            W = cuda.to_device(np.ascontiguousarray(w0.reshape(R, n).T))
            P = cuda.to_device(np.ascontiguousarray(np.tile(np.arange(n, dtype=np.int64), (R, 1)).T))
            G = cuda.device_array((n, R))
            rec_val = cuda.to_device(np.full((R, nrec), np.nan))
            best_val = cuda.to_device(np.full(R, np.inf))
            best_k = cuda.to_device(np.full(R, -1, dtype=np.int64))
            best_W = cuda.to_device(np.ascontiguousarray(w0.reshape(R, n)))
            v, d_keys = cuda.to_device(obj.v), cuda.to_device(keys)
            blocks, tpb = launch_config(R)
            with progress_bar(max(steps, 1), enabled=progress, desc="particle GD (CUDA)") as bar:
                for k0, k1 in _chunks(steps, progress):
                    pgd_1d[blocks, tpb](W, P, G, d_gamma, k0, k1, obj.kind, v, obj.scale, amp, d_keys, d_rec,
                                        rec_val, best_val, best_k, best_W)
                    cuda.synchronize()
                    bar.update(max(k1 - k0, 1 if steps == 0 else 0))
            w_final = W.copy_to_host().T.reshape(*batch, n)
            best_w = best_W.copy_to_host().reshape(*batch, n)
            rec_val, best_val, best_k = rec_val.copy_to_host(), best_val.copy_to_host(), best_k.copy_to_host()
    return particle_result(rec, rec_val, best_val, best_k, best_w, w_final, gamma, batch, config, "cuda",
                           timer.seconds)


