"""Optimisers as values: one object says *how* a run is advanced; :func:`run` advances any model with it.

The classes hold hyper-parameters only (validated on construction); the numbers come from the same compiled
drivers as :func:`gdsim.dynamics.gd`, :func:`~gdsim.dynamics.momentum`, :func:`~gdsim.dynamics.sgd`,
:func:`~gdsim.dynamics.adam` and :func:`~gdsim.dynamics.rmsprop`, so ``run(m, GD(), w0, lr=..., steps=...)``
and ``gd(m, w0, lr, steps)`` give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from gdsim._core import validate as v

__all__ = ["Optimiser", "GD", "HeavyBall", "Nesterov", "SGD", "Adam", "RMSProp", "Langevin", "GDA", "run"]


def _unit_interval(x, name):
    """A hyper-parameter in [0, 1), scalar or array (broadcast against the run batch)."""
    arr = v.real_array(x, name)
    if np.any(arr < 0.0) or np.any(arr >= 1.0):
        raise ValueError(f"{name} must lie in [0, 1) everywhere; got {x!r}")
    return x


def _positive(x, name):
    arr = v.real_array(x, name)
    if np.any(arr <= 0.0):
        raise ValueError(f"{name} must be > 0 everywhere; got {x!r}")
    return x


class Optimiser:
    """Base class of the optimiser values accepted by :func:`run` (and by ``optimizer=`` arguments)."""

    name = "optimiser"

    def _call(self, m, w0, lr, steps, **kw):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def hyper(self) -> dict:
        """The hyper-parameters as a dict (for provenance and labels)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class GD(Optimiser):
    """Full-batch gradient descent: w <- w - lr grad L(w).

    Examples
    --------
    >>> import gdsim.dynamics as gdyn
    >>> gdyn.GD()
    GD()
    """

    name = "gd"

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import gd
        return gd(m, w0, lr, steps, **kw)


@dataclass(frozen=True)
class HeavyBall(Optimiser):
    """Heavy-ball momentum: b <- beta b + grad L(w), w <- w - lr b (b starts at 0).

    Parameters
    ----------
    beta : float or array_like
        Momentum coefficient in [0, 1); an array broadcasts against the run batch.
    """

    beta: float = 0.9
    name = "heavy_ball"

    def __post_init__(self):
        _unit_interval(self.beta, "beta")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import momentum
        return momentum(m, w0, lr, steps, beta=self.beta, nesterov=False, **kw)


@dataclass(frozen=True)
class Nesterov(Optimiser):
    """Nesterov momentum: b <- beta b + g, w <- w - lr (g + beta b), g = grad L(w) (b starts at 0).

    Parameters
    ----------
    beta : float or array_like
        Momentum coefficient in [0, 1).
    """

    beta: float = 0.9
    name = "nesterov"

    def __post_init__(self):
        _unit_interval(self.beta, "beta")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import momentum
        return momentum(m, w0, lr, steps, beta=self.beta, nesterov=True, **kw)


@dataclass(frozen=True)
class SGD(Optimiser):
    """Minibatch SGD, optionally with heavy-ball or Nesterov momentum.

    Parameters
    ----------
    batch_size : int or array_like of int
        Minibatch size B, 1 <= B <= N (checked against the model when the run starts).
    replace : bool
        True: B indices drawn independently (with replacement); False: a uniformly random B-subset per step.
    momentum : float or array_like
        Momentum coefficient in [0, 1) (0: plain SGD, w <- w - lr g_B).
    nesterov : bool
        Nesterov instead of heavy-ball momentum.

    Notes
    -----
    Minibatch index i of step t of a run with key k is floor(u N), u = uniform01(k, t, i) (counter-based: a
    run's minibatches depend on its own seed only); see :func:`gdsim.dynamics.sgd`.
    """

    batch_size: int = 1
    replace: bool = True
    momentum: float = 0.0
    nesterov: bool = False
    name = "sgd"

    def __post_init__(self):
        bs = np.asarray(self.batch_size)
        if bs.dtype.kind not in "iu" or isinstance(self.batch_size, bool):
            raise TypeError(f"batch_size must be an integer or an array of integers; got {self.batch_size!r}")
        if bs.size == 0 or np.any(bs < 1) or np.any(bs > 2**40):  # (> 1e12 samples per step is no batch size)
            raise ValueError(f"batch_size must be integers in [1, 2^40] (and <= the model's n_samples); got "
                             f"{self.batch_size!r}")
        v.flag(self.replace, "replace")
        v.flag(self.nesterov, "nesterov")
        _unit_interval(self.momentum, "momentum")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import sgd
        return sgd(m, w0, lr, steps, batch_size=self.batch_size, replace=self.replace, momentum=self.momentum,
                   nesterov=self.nesterov, **kw)


@dataclass(frozen=True)
class Adam(Optimiser):
    """Adam (Kingma & Ba 2015), bias-corrected.

    Parameters
    ----------
    beta1, beta2 : float or array_like
        Moment decay rates in [0, 1).
    eps : float or array_like
        (> 0), added to sqrt(v_hat).

    Notes
    -----
    m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2, m_hat = m / (1 - beta1^t),
    v_hat = v / (1 - beta2^t), w <- w - lr m_hat / (sqrt(v_hat) + eps), t = 1, 2, ...
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"

    def __post_init__(self):
        _unit_interval(self.beta1, "beta1")
        _unit_interval(self.beta2, "beta2")
        _positive(self.eps, "eps")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import adam
        return adam(m, w0, lr, steps, beta1=self.beta1, beta2=self.beta2, eps=self.eps, **kw)


@dataclass(frozen=True)
class RMSProp(Optimiser):
    """RMSProp: s <- beta s + (1 - beta) g^2, w <- w - lr g / (sqrt(s) + eps).

    Parameters
    ----------
    beta : float or array_like
        Decay rate in [0, 1).
    eps : float or array_like
        (> 0).
    """

    beta: float = 0.99
    eps: float = 1e-8
    name = "rmsprop"

    def __post_init__(self):
        _unit_interval(self.beta, "beta")
        _positive(self.eps, "eps")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import rmsprop
        return rmsprop(m, w0, lr, steps, beta=self.beta, eps=self.eps, **kw)


@dataclass(frozen=True)
class Langevin(Optimiser):
    """Langevin dynamics by Euler-Maruyama: w <- w - lr grad L(w) + sqrt(2 lr temperature) xi, xi ~ N(0, I).

    Parameters
    ----------
    temperature : float or array_like
        (>= 0), broadcast against the run batch like ``lr``; 0 gives gradient descent's bits.

    Notes
    -----
    The discretisation of dw = -grad L(w) dt + sqrt(2 temperature) dB with time step lr, whose stationary
    law is the Gibbs measure exp(-L / temperature) up to O(lr) (Welling & Teh 2011 call the minibatch version
    SGLD). Component i of xi at step t of a run with key k is a standard normal from gdsim's counter-based
    generator keyed by (k ^ ``LANGEVIN_SALT``, t, i) (Marsaglia's polar method), so a run's noise depends on
    its own seed only and is the same for any thread count. With per-group learning rates each parameter's
    noise uses its own group's lr. Full-batch gradients; the recorded loss is the full-batch loss.

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
    >>> def quadratic(w, h, g):  # L(w) = sum_i h_i w_i^2 / 2
    ...     for i in range(w.size):
    ...         g[i] = h[i] * w[i]
    ...     return 0.5 * (h * w * w).sum()
    >>> m = gm.custom(quadratic, 2, data=(np.array([1.0, 4.0]),))
    >>> res = gdyn.run(m, gdyn.Langevin(temperature=0.1), np.zeros((4000, 2)), lr=0.01, steps=1000,
    ...                record_every=1000)
    >>> np.round(res.w_final.var(axis=0), 2)  # Gibbs: temperature / h_i = 0.1, 0.025 (to O(lr))
    array([0.1 , 0.03])
    """

    temperature: float = 0.0
    name = "langevin"

    def __post_init__(self):
        arr = v.real_array(self.temperature, "temperature")
        if np.any(arr < 0.0):
            raise ValueError(f"temperature must be >= 0 everywhere; got {self.temperature!r}")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import _langevin
        return _langevin(m, w0, lr, steps, temperature=self.temperature, **kw)


@dataclass(frozen=True)
class GDA(Optimiser):
    """Simultaneous gradient descent-ascent on a two-player objective f(x, y), min over x, max over y.

    Parameters
    ----------
    ascent : str, tuple of str or int
        The maximising player's parameters: names of parameter groups of the model (``m.groups``), or an int k
        (parameters k .. P-1 ascend; for a custom model without groups).
    ratio : float or array_like
        Time-scale ratio (> 0) of the ascent player, broadcast against the run batch like ``lr``.

    Notes
    -----
    x <- x - lr grad_x f(x, y), y <- y + ratio lr grad_y f(x, y), both at the same (x, y): the engine's update
    with the vector field F = (grad_x f, -ratio grad_y f) (two-timescale GDA, e.g. Lu 2023's eta = 1 / ratio).
    The recorded ``loss`` is f itself; per-group learning rates and ``lr_schedule`` apply to both players.

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
    >>> def game(w, g):  # f(x, y) = x y + x^2 / 2 - y^2 / 2: a saddle at 0
    ...     g[0] = w[1] + w[0]
    ...     g[1] = w[0] - w[1]
    ...     return w[0] * w[1] + 0.5 * w[0] ** 2 - 0.5 * w[1] ** 2
    >>> m = gm.custom(game, 2)
    >>> res = gdyn.run(m, gdyn.GDA(ascent=1), np.array([1.0, 1.0]), lr=0.1, steps=200, record_every=200)
    >>> bool(np.abs(res.w_final).max() < 1e-6)
    True
    """

    ascent: object = None
    ratio: float = 1.0
    name = "gda"

    def __post_init__(self):
        a = self.ascent
        ok = (isinstance(a, (int, np.integer)) and not isinstance(a, bool)) or isinstance(a, str) or (
            isinstance(a, (tuple, list)) and len(a) > 0 and all(isinstance(g, str) for g in a))
        if not ok:
            raise TypeError("ascent must name the maximising player's parameter groups (a str or a tuple of str) "
                            f"or be an int k (parameters k.. ascend); got {a!r}")
        _positive(self.ratio, "ratio")

    def _call(self, m, w0, lr, steps, **kw):
        from gdsim.dynamics._api import _gda
        return _gda(m, w0, lr, steps, ascent=self.ascent, ratio=self.ratio, **kw)


def run(m, optimiser, w0, *, lr, steps, record_every=1, observe=("loss",), seed=0, progress=False, parallel=None,
        **kwargs):
    """Advance any model with any optimiser value, batched over runs; the engine's single entry point.

    Parameters
    ----------
    m : gdsim.models.Model
    optimiser : Optimiser
        :class:`GD`, :class:`HeavyBall`, :class:`Nesterov`, :class:`SGD`, :class:`Adam`, :class:`RMSProp`,
        :class:`Langevin` or :class:`GDA`.
    w0 : array_like, shape (*batch, P)
        Initial parameters (``m.init(seed=np.arange(S))`` gives one row per seed).
    lr : float, array_like or dict
        Learning rates (> 0), broadcast against the batch; or one per parameter group of the model,
        ``lr={"W0": lr0, "W1": lr1}``: a dict naming every group of ``m.groups`` exactly once (a ValueError
        names unknown and missing groups), each entry a float or array broadcast against the batch like a
        scalar lr. Parameter i then steps with its group's lr in every optimiser's update (a per-parameter
        multiplier of the update; one lr gives the same bits as before). A grid over group lrs is labelled
        after the groups (dims ``lr_W0``, ``lr_W1``; ``res.lr_W0``), and ``res.lr`` and ``res.threshold``
        (the stability threshold, e.g. 2 / lr for GD) use the largest group lr per run.
    steps : int
    record_every, observe, seed, progress, parallel
        As in :func:`gdsim.dynamics.gd`.
    **kwargs
        ``blowup``, ``lanczos_tol``, ``gfs_kwargs``, ``lr_schedule`` (the lr of step t is
        ``lr * lr_schedule[t]``) and ``stop_loss`` (a run stops once its loss is <= stop_loss) as in
        :func:`gdsim.dynamics.gd`.

    Returns
    -------
    Result
        As :func:`gdsim.dynamics.gd`; the same bits as the optimiser's own function.

    Examples
    --------
    >>> import numpy as np, gdsim.models as gm, gdsim.dynamics as gdyn
    >>> X = np.random.default_rng(0).standard_normal((40, 3)); Y = np.tanh(X[:, :1])
    >>> m = gm.mlp([3, 8, 1], "tanh", data=(X, Y))
    >>> res = gdyn.run(m, gdyn.Adam(), m.init(seed=0), lr=1e-2, steps=20, record_every=10)
    >>> res.loss.shape
    (3,)
    """
    if not isinstance(optimiser, Optimiser):
        raise TypeError("optimiser must be an optimiser value such as gdsim.dynamics.GD(), HeavyBall(beta=0.9), "
                        f"Nesterov(beta), SGD(batch_size), Adam(), RMSProp(), Langevin(temperature) or GDA(ascent); got {optimiser!r}")
    unknown = set(kwargs) - {"blowup", "lanczos_tol", "gfs_kwargs", "lr_schedule", "stop_loss"}
    if unknown:
        raise TypeError(f"run() got unexpected keyword argument(s) {sorted(unknown)}; optimiser hyper-parameters "
                        "belong in the optimiser value (e.g. HeavyBall(beta=0.9))")
    return optimiser._call(m, w0, lr, steps, record_every=record_every, observe=observe, seed=seed,
                           progress=progress, parallel=parallel, **kwargs)
