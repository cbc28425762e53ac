"""Matrix sensing: one GD step (Jin et al.) against a straightforward NumPy/BLAS implementation.

The NumPy peer stores A as an m x d^2 float64 matrix and does two GEMVs per step (r = A vec(UU^T) - y,
g = A^T r / m), plus the small d x d x r_hat products. gdsim streams the packed symmetrised rows once
(both products in one pass). Achieved GB/s = bytes of A read per step / time, against the copy bandwidth.
"""

from __future__ import annotations

import numpy as np

from benchmarks._harness import Row, best_time

CASES = ((50, 1000, 50), (100, 5000, 50))


def numpy_step(Afull, y, U, mu):
    m = Afull.shape[0]
    r = Afull @ (U @ U.T).ravel() - y
    G = (Afull.T @ r).reshape(U.shape[0], U.shape[0]) / m
    return U - mu * (0.5 * (G + G.T)) @ U


def run(quick=False):
    import time

    from gdsim.sensing import _kernels as k
    from gdsim.sensing import make_problem

    rows, compile_times = [], {}
    for d, m, r_hat in (CASES[:1] if quick else CASES):
        rng = np.random.default_rng(0)
        A = rng.standard_normal((m, d, d))
        Afull = A.reshape(m, d * d)
        prob = make_problem(d, 5, spectrum=np.linspace(5, 1, 5), seed=0)
        Ap = k.pack_sensing_matrices(A)
        Ap32 = k.pack_sensing_matrices(A, np.float32)
        iu = np.triu_indices(d)
        y = Ap @ prob.zstar[iu]
        U = 0.1 * rng.standard_normal((1, d, r_hat))
        P = d * (d + 1) // 2
        Zp, R, Gp, G = np.empty((1, P)), np.empty((1, m)), np.empty((1, P)), np.empty((1, d, d))

        def step(Ap_):
            k.pack_gram(U, Zp)
            k.sensing_pass(Ap_, Zp, y, R, Gp)
            k.unpack_sym(Gp, G)
            return U[0] - 0.005 * G[0] @ U[0]

        t0 = time.perf_counter()
        step(Ap)
        step(Ap32)
        compile_times.setdefault("sensing step (pack_gram + sensing_pass + unpack_sym)", time.perf_counter() - t0)
        t64 = best_time(lambda: step(Ap), repeat=20)
        t32 = best_time(lambda: step(Ap32), repeat=20)
        t_np = best_time(lambda: numpy_step(Afull, y, U[0], 0.005), repeat=10)
        size = f"d={d} m={m} r_hat={r_hat}"
        rows.append(Row("sensing.gd step (packed float64)", size, t64, {"numpy 2x GEMV (m x d^2)": t_np},
                        bytes=Ap.nbytes, note="one streaming pass over the packed symmetric A; target >= 2x numpy"))
        rows.append(Row("sensing.gd step (packed float32)", size, t32, {"numpy 2x GEMV (m x d^2)": t_np},
                        bytes=Ap32.nbytes, note="float32 storage, float64 accumulation"))
        if d == CASES[0][0]:
            from gdsim.sensing import gd

            full = make_problem(d, 5, spectrum=np.linspace(5, 1, 5), measurements=m, seed=0)
            steps = 200
            gd(full, r_hat, [1e-3], 2, lr=0.005, seed=1)
            for track in (True, False):
                t_api = best_time(lambda: gd(full, r_hat, [1e-3], steps, lr=0.005, seed=1, record_every=steps,
                                             track_tau=track), repeat=3)
                rows.append(Row(f"sensing.gd (public, track_tau={track})", f"{size}, {steps} steps, 1 run", t_api, {},
                                bytes=Ap.nbytes * steps, kernel_s=t64 * steps,
                                note="kernel = the step above x steps; track_tau computes the eigenvalues of "
                                     "U^T U every step until every learning time is found"))
        print(f"[sensing] {size}: gdsim {t64 * 1e3:.3f} ms (float32 {t32 * 1e3:.3f} ms), numpy {t_np * 1e3:.3f} ms, "
              f"{t_np / t64:.2f}x")
    return rows, compile_times
