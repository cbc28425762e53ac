"""The one code-generation helper: Python source text -> function (optionally Numba-compiled), one cache.

Some kernels are generated from source text (a depth-unrolled step, a tuple split of a given length, a
trampoline of a given arity): straight-line code that Numba compiles into registers. Every such site
compiles its text here, so that the same text is compiled once per process whoever asks for it, and so
that generated code is named, compiled and cached the same way everywhere.

* The cache is keyed by the source text, the function's name, the names and identities of the global
  objects it sees (a generated function refers to them by name), and the compile options. It keeps the
  function alive, so identities in a key are never reused while the key is present.
* Generated code has no source file, so Numba cannot cache it on disk: ``jit(..., cache=False)`` always.
* Compiling the same text with the same options gives the same machine code, hence the same bits: a site
  that switches to this helper changes nothing in its numbers as long as its text does not change.
"""

from __future__ import annotations

import threading

__all__ = ["function_from_source", "clear"]

_CACHE: dict = {}
_LOCK = threading.Lock()
_VALUE_TYPES = (bool, int, float, str, bytes, type(None))


def _global_key(namespace: dict) -> tuple:
    """A hashable key of the globals a generated function sees: plain values by value, objects by identity."""
    items = []
    for name in sorted(namespace):
        obj = namespace[name]
        items.append((name, (type(obj).__name__, obj) if isinstance(obj, _VALUE_TYPES) else id(obj)))
    return tuple(items)


def function_from_source(source: str, name: str, namespace: dict | None = None, *, label: str | None = None,
                         jit_options: dict | None = None):
    """The function ``name`` defined by ``source``, compiled once per process (and jitted when asked).

    Parameters
    ----------
    source : str
        Python source text that defines ``name`` (a ``def``).
    name : str
        The function to return.
    namespace : dict, optional
        The globals the source refers to (``np``, ``prange``, constants, other jitted functions); copied,
        never modified.
    label : str, optional
        The pseudo file name in tracebacks (``"<gdsim scalar GD kernel D=4>"``); default ``"<gdsim generated>"``.
    jit_options : dict, optional
        When given, the function is compiled by :func:`gdsim._core.jit.jit` with these options (``cache`` is
        always False: generated code has no file to cache from). When None, the plain Python function is
        returned (for Numba ``overload`` implementations).

    Returns
    -------
    function or numba dispatcher
        The same object for the same (source, name, globals, options) in this process.
    """
    namespace = dict(namespace or {})
    opts = None if jit_options is None else dict(jit_options, cache=False)
    key = (source, name, _global_key(namespace), None if opts is None else tuple(sorted(opts.items())))
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    exec(compile(source, label or "<gdsim generated>", "exec"), namespace)  # noqa: S102 - gdsim's own generated text
    fn = namespace[name]
    if opts is not None:
        from gdsim._core.jit import jit

        fn = jit(fn, **opts)
    with _LOCK:
        return _CACHE.setdefault(key, fn)


def clear() -> None:
    """Forget every generated function (tests only; compiled dispatchers stay valid where held)."""
    with _LOCK:
        _CACHE.clear()
