"""Numba kernels for the Langevin / Dyson-Brownian-motion checks (private; see :mod:`gdsim.langevin`).

Randomness: counter-based normal pairs keyed per chain (identical for any thread count).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gdsim._core.counter_rng import build_normal_pair
from gdsim._core.jit import jit

_normal_pair = build_normal_pair(jit)


@jit(parallel=True)
def matrix_ou(Mats, kappa, sigma, dt, steps, keys, k0):
    """dM = -(M - kappa I) dt + sqrt(2 dt) G per chain, G GOE (off-diagonal variance sigma^2/2, diagonal sigma^2).

    The matrix SDE is integrated (not the eigenvalue SDE, whose Euler step blows up at near-collisions).
    Exact in distribution for the stationary law: M ~ kappa I + sigma GOE, whose eigenvalues are a
    beta = 1 Coulomb gas.
    """
    R, n, _ = Mats.shape
    npair = n * (n + 1) // 2
    nn = npair + (npair & 1)
    decay = 1.0 - dt
    amp = math.sqrt(2.0 * dt) * sigma
    for r in prange(R):
        M = Mats[r]
        z = np.empty(nn)
        for k in range(k0, k0 + steps):  # k0: the first step's index (chunked calls draw the same noise)
            for j in range(0, nn, 2):
                z[j], z[j + 1] = _normal_pair(keys[r], k, nn, j)
            idx = 0
            for a in range(n):
                for b in range(a, n):
                    g = z[idx] * (1.0 if a == b else 1.0 / math.sqrt(2.0))
                    idx += 1
                    target = kappa if a == b else 0.0
                    v = M[a, b] + (target - M[a, b]) * (1.0 - decay) + amp * g
                    M[a, b] = v
                    M[b, a] = v


@jit(parallel=True)
def teacher_student_2x2(W, wstar, lr, noise_std, batch, steps, keys, k0):
    """Aarts-Lucini-Park 2x2 linear teacher-student SGD, batched over chains (rows of W, shape (R, 2, 2)).

    Per step: |B| fresh inputs x ~ N(0, I_2) and per-sample symmetric noise a_n (off-diagonal std A,
    diagonal std sqrt(2) A); W <- W + lr mean_n[(W* - W) x_n x_n^T + a_n].
    """
    R = W.shape[0]
    for r in prange(R):
        w = W[r]
        z = np.empty(6)
        for k in range(k0, k0 + steps):
            c00 = 0.0
            c01 = 0.0
            c11 = 0.0
            a00 = 0.0
            a01 = 0.0
            a11 = 0.0
            for b in range(batch):
                for j in range(0, 6, 2):
                    z[j], z[j + 1] = _normal_pair(keys[r], k, 6 * batch, 6 * b + j)
                c00 += z[0] * z[0]
                c01 += z[0] * z[1]
                c11 += z[1] * z[1]
                a00 += math.sqrt(2.0) * noise_std * z[2]
                a11 += math.sqrt(2.0) * noise_std * z[3]
                a01 += noise_std * z[4]
            c00 /= batch
            c01 /= batch
            c11 /= batch
            d00 = wstar[0, 0] - w[0, 0]
            d01 = wstar[0, 1] - w[0, 1]
            d10 = wstar[1, 0] - w[1, 0]
            d11 = wstar[1, 1] - w[1, 1]
            # (W* - W) C with C = [[c00, c01], [c01, c11]]
            g00 = d00 * c00 + d01 * c01
            g01 = d00 * c01 + d01 * c11
            g10 = d10 * c00 + d11 * c01
            g11 = d10 * c01 + d11 * c11
            w[0, 0] += lr * (g00 + a00 / batch)
            w[0, 1] += lr * (g01 + a01 / batch)
            w[1, 0] += lr * (g10 + a01 / batch)
            w[1, 1] += lr * (g11 + a11 / batch)
