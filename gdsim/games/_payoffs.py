"""Payoffs K(x, y) on the torus T^1 x T^1 = [0, 1)^2 for mean-field games (Lu, ICML 2023).

A trigonometric payoff is K(x, y) = Re sum_{k, l = -L..L} C[k, l] e^{2 pi i (k x + l y)}, stored as the
complex matrix ``coef`` (index [k + L, l + L]). Its interaction reduces to Fourier moments of the other
player's particles (the O(N) "feature" path); the generic O(N_x N_y) pairwise path evaluates jitted
gradient functions ``grad_x(x, y, params)``, ``grad_y(x, y, params)``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from gdsim._core.jit import jit
from gdsim._core.rng import as_generator
from gdsim._core.validate import integer, real_scalar

TWO_PI = 2.0 * math.pi


@dataclasses.dataclass(frozen=True)
class Payoff:
    """A payoff on [0, 1)^2: Fourier coefficients (``coef``, order ``L``) and/or a pairwise gradient pair.

    Attributes
    ----------
    name : str
    coef : complex ndarray (2L+1, 2L+1) or None
        K(x, y) = Re sum C[k, l] e^{2 pi i (k x + l y)} (the feature path needs it).
    value, grad_x, grad_y : Numba functions ``f(x, y, params)`` (the pairwise path needs them)
    params : float64 ndarray passed to them
    """

    name: str
    coef: np.ndarray | None
    value: object = None
    grad_x: object = None
    grad_y: object = None
    params: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))

    @property
    def order(self) -> int:
        return (self.coef.shape[0] - 1) // 2

    def __call__(self, x, y) -> np.ndarray:
        """K(x, y), broadcasting x against y."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.coef is not None:
            L = self.order
            ks = np.arange(-L, L + 1)
            ex = np.exp(2j * np.pi * np.multiply.outer(x, ks))
            ey = np.exp(2j * np.pi * np.multiply.outer(y, ks))
            return np.real(np.einsum("...k,kl,...l->...", ex, self.coef, ey))
        xb, yb = np.broadcast_arrays(x, y)
        out = np.empty(xb.shape)
        flat = out.reshape(-1)
        for i, (a, b) in enumerate(zip(xb.reshape(-1), yb.reshape(-1))):
            flat[i] = self.value(a, b, self.params)
        return out

    def grid(self, M: int) -> tuple[np.ndarray, np.ndarray]:
        """Midpoints g_i = (i + 1/2)/M and A[i, j] = K(g_i, g_j)."""
        g = (np.arange(M) + 0.5) / M
        return g, self(g[:, None], g[None, :])


def _trig(name, terms):
    """Build ``coef`` from real terms (amp, kind, k, l): kind 'cc' cos(2pi(kx+ly)), 'sc' sin(...)."""
    L = max(max(abs(k), abs(l)) for _, _, k, l in terms)
    C = np.zeros((2 * L + 1, 2 * L + 1), dtype=np.complex128)
    for amp, kind, k, l in terms:
        # cos(theta) = Re e^{i theta}; sin(theta) = Re(-i e^{i theta})
        C[k + L, l + L] += amp if kind == "cos" else -1j * amp
    return C


# ----------------------------------------------------------------------------------- test payoffs
# Pairwise-path functions (jitted, params = the constants of each payoff).


@jit
def _t1_value(x, y, p):
    return math.cos(TWO_PI * (x - y)) + p[0] * math.cos(2 * TWO_PI * x) - p[1] * math.cos(2 * TWO_PI * y)


@jit
def _t1_gx(x, y, p):
    return -TWO_PI * math.sin(TWO_PI * (x - y)) - 2 * TWO_PI * p[0] * math.sin(2 * TWO_PI * x)


@jit
def _t1_gy(x, y, p):
    return TWO_PI * math.sin(TWO_PI * (x - y)) + 2 * TWO_PI * p[1] * math.sin(2 * TWO_PI * y)


@jit
def _t3_value(x, y, p):
    return (2 * math.cos(TWO_PI * (x + y)) + math.sin(2 * TWO_PI * x) + math.sin(2 * TWO_PI * y)
            + p[0] * math.cos(TWO_PI * x) + p[1] * math.sin(TWO_PI * y))


@jit
def _t3_gx(x, y, p):
    return (-2 * TWO_PI * math.sin(TWO_PI * (x + y)) + 2 * TWO_PI * math.cos(2 * TWO_PI * x)
            - p[0] * TWO_PI * math.sin(TWO_PI * x))


@jit
def _t3_gy(x, y, p):
    return (-2 * TWO_PI * math.sin(TWO_PI * (x + y)) + 2 * TWO_PI * math.cos(2 * TWO_PI * y)
            + p[1] * TWO_PI * math.cos(TWO_PI * y))


def payoff_t1(a: float = 1.0, b: float = 1.0) -> Payoff:
    """T1: K = cos(2 pi (x - y)) + a cos(4 pi x) - b cos(4 pi y); closed-form MNE (von Mises in 4 pi x)."""
    a, b = real_scalar(a, "a"), real_scalar(b, "b")
    C = _trig("T1", [(1.0, "cos", 1, -1), (a, "cos", 2, 0), (-b, "cos", 0, 2)])
    return Payoff("T1", C, _t1_value, _t1_gx, _t1_gy, np.array([a, b]))


def payoff_t2() -> Payoff:
    """T2 (Wang & Chizat's 'bad case'): K = sin(4 pi x) + sin(4 pi y) + 2 cos(2 pi (x + y))."""
    C = _trig("T2", [(1.0, "sin", 2, 0), (1.0, "sin", 0, 2), (2.0, "cos", 1, 1)])
    return Payoff("T2", C, _t3_value, _t3_gx, _t3_gy, np.array([0.0, 0.0]))


def payoff_t3() -> Payoff:
    """T3 (no symmetry): K = 2 cos(2 pi (x + y)) + sin(4 pi x) + sin(4 pi y) + 0.5 cos(2 pi x) - 0.3 sin(2 pi y)."""
    C = _trig("T3", [(2.0, "cos", 1, 1), (1.0, "sin", 2, 0), (1.0, "sin", 0, 2), (0.5, "cos", 1, 0),
                     (-0.3, "sin", 0, 1)])
    return Payoff("T3", C, _t3_value, _t3_gx, _t3_gy, np.array([0.5, -0.3]))


@jit
def _trig_eval(x, y, p, mode):
    """K (mode 0), dK/dx (1) or dK/dy (2) from the packed coefficients p = [L, Re C, Im C]."""
    L = int(p[0])
    n = 2 * L + 1
    s = 0.0
    for a in range(n):
        for b in range(n):
            th = TWO_PI * ((a - L) * x + (b - L) * y)
            re, im = p[1 + a * n + b], p[1 + n * n + a * n + b]
            if mode == 0:
                s += re * math.cos(th) - im * math.sin(th)
            else:
                s -= TWO_PI * (a - L if mode == 1 else b - L) * (re * math.sin(th) + im * math.cos(th))
    return s


@jit
def _trig_value(x, y, p):
    return _trig_eval(x, y, p, 0)


@jit
def _trig_gx(x, y, p):
    return _trig_eval(x, y, p, 1)


@jit
def _trig_gy(x, y, p):
    return _trig_eval(x, y, p, 2)


def trig_payoff(coef, name: str = "trig") -> Payoff:
    """A payoff from Fourier coefficients C[k + L, l + L] (complex, shape (2L+1, 2L+1)); both paths."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    try:
        C = np.asarray(coef)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"coef must be a numeric matrix: {exc}") from None
    if C.dtype.kind not in "iufc":
        raise TypeError(f"coef must be a real or complex matrix; got dtype {C.dtype}")
    if C.ndim != 2 or C.shape[0] != C.shape[1] or C.shape[0] % 2 != 1:
        raise ValueError(f"coef must be a square (2L+1) x (2L+1) matrix; got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError("coef must be finite (no NaN or inf)")
    C = C.astype(np.complex128)
    L = (C.shape[0] - 1) // 2
    params = np.concatenate([[float(L)], C.real.ravel(), C.imag.ravel()])
    return Payoff(name, C, _trig_value, _trig_gx, _trig_gy, params)


def random_trig_payoff(order: int = 3, seed=0) -> Payoff:
    """Wang & Chizat's random Fourier payoff: C[k, l] i.i.d. complex standard normal, |k|, |l| <= order.

    ``seed`` defaults to 0 (reproducible by default; ``None`` draws fresh entropy).
    """
    order = integer(order, "order", lo=1, hi=1024)  # 2049^2 coefficients: far beyond any use
    rng = as_generator(seed)
    n = 2 * order + 1
    C = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / math.sqrt(2)
    return trig_payoff(C, name=f"random_trig(order={order})")


def user_payoff(value, grad_x, grad_y, params=(), *, name: str = "user", check_periodic: bool = True) -> Payoff:
    """A payoff from Numba-jitted ``value(x, y, params)``, ``grad_x``, ``grad_y`` (pairwise path only).

    With ``check_periodic`` the payoff is evaluated on the edges of [0, 1]^2 and must be 1-periodic in
    both arguments and finite, else a ValueError names the problem.
    """
    p = np.asarray(params, dtype=np.float64)
    pay = Payoff(name, None, value, grad_x, grad_y, p)
    t = np.linspace(0, 1, 17)
    try:
        vals = np.array([[value(a, b, p) for b in t] for a in t])
    except Exception as exc:  # a non-jitted or wrongly typed function
        raise TypeError(f"value(x, y, params) could not be evaluated: {exc}") from None
    if not np.all(np.isfinite(vals)):
        raise ValueError("the payoff returned non-finite values on [0, 1]^2")
    if check_periodic:
        gap = max(np.abs(vals[0] - vals[-1]).max(), np.abs(vals[:, 0] - vals[:, -1]).max())
        if gap > 1e-9 * max(1.0, np.abs(vals).max()):
            raise ValueError(f"the payoff is not 1-periodic on the torus (K(0, y) vs K(1, y) differ by {gap:.3g}); "
                             "pass check_periodic=False only if that is intended")
    return pay
