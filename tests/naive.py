"""Slow, obviously-correct NumPy/SciPy oracles (STUMPY's tests/naive.py habit). Tiny sizes only."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


# ------------------------------------------------------------------------------------ scalar networks
def grad_factors(w):
    """g_i = prod_{j != i} w_j by explicit products."""
    w = np.asarray(w, float)
    return np.array([np.prod(np.delete(w, i)) for i in range(w.size)])


def scalar_gd(w0, eta, steps, a=1.0, b=1.0):
    """Trajectory (steps + 1, D) of GD on L = (a/2)(prod w - b)^2, one weight vector."""
    w = np.array(w0, float)
    out = [w.copy()]
    for _ in range(steps):
        w = w - eta * a * (np.prod(w) - b) * grad_factors(w)
        out.append(w.copy())
    return np.array(out)


def scalar_hessian(w, a=1.0, b=1.0):
    w = np.asarray(w, float)
    D = w.size
    g = grad_factors(w)
    e = np.prod(w) - b
    H = a * np.outer(g, g)
    for i in range(D):
        for j in range(D):
            if i != j:
                H[i, j] += a * e * np.prod(np.delete(w, [i, j]))
    return H


def scalar_sharpness(w, a=1.0, b=1.0):
    return np.linalg.eigvalsh(scalar_hessian(w, a, b))[-1]


def scalar_gradient_flow(w0, a=1.0, b=1.0, T=400.0):
    """End point of gradient flow dw/dt = -grad L integrated by DOP853 (rtol 1e-11)."""
    def rhs(_t, w):
        return -a * (np.prod(w) - b) * grad_factors(w)

    sol = solve_ivp(rhs, (0.0, T), np.array(w0, float), method="DOP853", rtol=1e-11, atol=1e-13)
    return sol.y[:, -1]


# ------------------------------------------------------------------------------------ squared regression
def sqreg_gd(w0, eta, steps, X, y):
    w = np.array(w0, float)
    N = X.shape[0]
    out = [w.copy()]
    for _ in range(steps):
        r = X @ (w * w) - y
        w = w - eta * (2.0 / N) * w * (X.T @ r)
        out.append(w.copy())
    return np.array(out)


def sqreg_hessian(w, X, y):
    N = X.shape[0]
    r = X @ (w * w) - y
    return (4.0 / N) * np.diag(w) @ X.T @ X @ np.diag(w) + (2.0 / N) * np.diag(X.T @ r)


def sqreg_gradient_flow(w0, X, y, T=2000.0):
    N = X.shape[0]

    def rhs(_t, w):
        return -(2.0 / N) * w * (X.T @ (X @ (w * w) - y))

    sol = solve_ivp(rhs, (0.0, T), np.array(w0, float), method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]
