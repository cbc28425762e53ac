"""Jitted functions as first-class function values (``numba.types.FunctionType``), for compiled drivers.

A driver that receives a jitted function as a plain dispatcher is typed by that very function: it is
compiled anew for every function passed in and cannot be cached on disk (the type holds the function
object). A driver that receives a ``FunctionType`` value (a typed pointer to the function's C wrapper)
is compiled once per *signature* and can be cached, since it holds no code of the function. The price
is an indirect call (no inlining), negligible when each call does real work (a loss, a gradient, a
Hessian-vector product, a block of steps). QuantEcon's ``newton(func)`` and jax-md's
``simulate.nve(energy_fn)`` plug user functions into a shared driver the same way.
"""

from __future__ import annotations

import inspect

from gdsim._core.jit import jit

_FIXED: dict = {}


def _fixed_arity(disp, n):
    """``disp`` behind a jitted trampoline of exactly ``n`` positional arguments (a function value needs a
    flat signature; a ``*args`` function compiles with its extra arguments folded into one tuple)."""
    if (disp, n) not in _FIXED:
        names = ", ".join(f"a{i}" for i in range(n))
        ns = {"disp": disp}
        exec(f"def fixed({names}):\n    return disp({names})\n", ns)  # noqa: S102 - one trampoline per arity
        _FIXED[(disp, n)] = jit(ns["fixed"], cache=False)
    return _FIXED[(disp, n)]


def function_value(disp, argtys):
    """The overload of the dispatcher ``disp`` for the Numba types ``argtys``, compiled if needed, as a
    first-class function value (its return type is inferred)."""
    from numba.core.types.function_type import CompileResultWAP

    argtys = tuple(argtys)
    if inspect.getfullargspec(disp.py_func).varargs is not None:
        disp = _fixed_arity(disp, len(argtys))
    disp.compile(argtys)
    return CompileResultWAP(disp.overloads[argtys])
