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

import contextlib
import inspect
import sys

from gdsim._core.codegen import function_from_source


def _fixed_arity(disp, n):
    """``disp`` behind a jitted trampoline of exactly ``n`` positional arguments (a function value needs a
    flat signature; a ``*args`` function compiles with its extra arguments folded into one tuple)."""
    names = ", ".join(f"a{i}" for i in range(n))
    # one trampoline per (disp, arity): the cache keys on the text and on the identity of ``disp``
    return function_from_source(f"def fixed({names}):\n    return disp({names})\n", "fixed", {"disp": disp},
                                label=f"<gdsim trampoline n={n}>", jit_options={})


def function_value(disp, argtys):
    """The overload of the dispatcher ``disp`` for the Numba types ``argtys``, compiled if needed, as a
    first-class function value (its return type is inferred)."""
    from numba.core.types.function_type import CompileResultWAP

    argtys = tuple(argtys)
    if inspect.getfullargspec(disp.py_func).varargs is not None:
        disp = _fixed_arity(disp, len(argtys))
    disp.compile(argtys)
    return CompileResultWAP(disp.overloads[argtys])


class ModelKernelError(RuntimeError, ValueError):
    """A model's own kernel raised inside a compiled driver (chained to the kernel's exception). A ValueError too:
    the kernel refused the values it was given (a user's range check); a RuntimeError as before."""


@contextlib.contextmanager
def kernel_errors(owner: str):
    """Raise, once the enclosed driver call returns, what a kernel called through a function value raised.

    A function value calls the kernel's C wrapper, which cannot pass an exception up: Numba reports it to
    ``sys.unraisablehook`` (with the GIL) and returns 0 to the driver. This catches that report and raises
    a :class:`ModelKernelError` (a RuntimeError and a ValueError) naming ``owner`` (the model) from the kernel's
    own exception, so the call's results,
    computed from the zeros, are never returned.
    """
    caught = []
    previous = sys.unraisablehook

    def hook(report):
        if report.exc_value is not None and "numba" in repr(report.object):
            caught.append(report.exc_value)
        else:  # pragma: no cover - not ours
            previous(report)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
    if caught:
        exc = caught[0]
        raise ModelKernelError(f"the kernel of model {owner!r} raised {type(exc).__name__}: {exc} (inside a compiled "
                           "driver; the call's results were discarded)") from exc
