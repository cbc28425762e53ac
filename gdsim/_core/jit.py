"""The one place where Numba compile options are decided.

Every CPU kernel in gdsim is compiled through :func:`jit`, so the cache policy, the error model and
the fastmath flags are set here and nowhere else (numba-stats ``_jit``, sgkit ``DEFAULT_NUMBA_ARGS``).

* ``fastmath`` never contains ``nnan`` or ``ninf``: those flags let LLVM delete the ``isnan``/``isfinite``
  tests that gdsim uses to record divergence (numba#2919, stumpy#708).
* ``cache`` defaults to on, for ``parallel=True`` kernels too: their compile (1-20 s each) dwarfs a cache
  load, and a process (a sweep worker, a test worker, a second notebook session) that finds them on disk
  starts at once. No kernel prints (a cached parallel kernel that prints can hang, numba#9233), and the
  thread count is not baked into cached parallel code (fixed by numba#7625). Kernels generated from
  source strings have no file to cache into and stay uncached. ``GDSIM_NUMBA_CACHE=0`` turns caching
  off everywhere (it overrides an explicit ``cache=True``).
* The disk cache heals (:class:`HealingCache`): an entry that cannot be loaded (a truncated, zeroed or garbage
  index or data file) is discarded with a :class:`CacheWarning` and the kernel recompiled (and re-saved), never
  an exception; a cache that cannot be written is skipped with a warning. With no usable cache location at
  all (Numba: "cannot cache function ...: no locator available"), gdsim runs uncached, with one warning per
  process, instead of failing at import.
* ``error_model="numpy"``: division by zero gives inf/NaN, as in NumPy, instead of raising inside a kernel.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings

import numba

#: fastmath flags used by every kernel. Deliberately without ``nnan``/``ninf`` (divergence checks),
#: ``reassoc`` (it would make results depend on vector width; see ``reassoc=`` below for the one
#: documented exception) and ``afn`` (approximate log/exp in the GFS root finder).
FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract"})

_FORBIDDEN = {"nnan", "ninf", "fast"}


def _cache_enabled() -> bool:
    """False when ``GDSIM_NUMBA_CACHE`` turns the disk cache off."""
    return os.environ.get("GDSIM_NUMBA_CACHE", "").strip().lower() not in {"0", "false", "no", "off"}


class CacheWarning(RuntimeWarning):
    """gdsim's Numba disk cache could not be used as it is (an unreadable entry discarded and recompiled, an
    entry not saved, or no cache location at all): the results are unaffected, only compile time."""


_HEALING_CLASS = None
_NO_LOCATOR_WARNED = threading.Event()


def _healing_cache_class():
    """:class:`HealingCache` (built on first use: it subclasses Numba's ``FunctionCache``)."""
    global _HEALING_CLASS
    if _HEALING_CLASS is None:
        from numba.core.caching import FunctionCache

        class HealingCache(FunctionCache):
            """Numba's per-function disk cache (index ``*.nbi`` + data ``*.nbc`` files, ``IndexDataCacheFile``)
            whose failures are never fatal: ``load_overload`` that raises (unpickling a truncated or zeroed
            file: EOFError/UnpicklingError; garbage bitcode: an LLVM parsing error) removes the function's
            index, so that every entry of the function is rebuilt, warns, and returns None: Numba then compiles
            and saves a fresh entry. ``save_overload`` that raises (an unwritable or full disk) warns."""

            def load_overload(self, sig, target_context):
                try:
                    return super().load_overload(sig, target_context)
                except Exception as exc:  # noqa: BLE001 - any unreadable entry is discarded, never fatal
                    index = self._cache_file._index_path
                    try:
                        os.remove(index)
                    except OSError:
                        pass
                    warnings.warn(f"gdsim: discarded an unreadable Numba cache entry of {self._py_func.__qualname__} "
                                  f"({type(exc).__name__}: {str(exc)[:120]}; index {index}); recompiling",
                                  CacheWarning, stacklevel=2)
                    return None

            #: the dispatcher's compile options (set by _enable_cache): part of every index key
            gdsim_options = ()

            def _index_key(self, sig, codegen):
                """Numba's key (signature, machine, the function's bytecode) plus the compile options: Numba's
                own key leaves them out, so the serial and parallel builds of one function (or a build under
                older fastmath flags) would share, and load, each other's machine code, whose last bits can
                differ (FMA contraction)."""
                return (*super()._index_key(sig, codegen), self.gdsim_options)

            def save_overload(self, sig, data):
                try:
                    super().save_overload(sig, data)
                except Exception as exc:  # noqa: BLE001 - a cache that cannot be written only costs compile time
                    warnings.warn(f"gdsim: could not save {self._py_func.__qualname__} to the Numba cache in "
                                  f"{self.cache_path} ({type(exc).__name__}: {str(exc)[:120]}); it stays compiled "
                                  "in this process only", CacheWarning, stacklevel=2)

        HealingCache.__qualname__ = "HealingCache"
        _HEALING_CLASS = HealingCache
    return _HEALING_CLASS


def _options_key(options) -> tuple:
    """A stable, picklable description of a dispatcher's target options (sets sorted, values as text)."""
    out = []
    for k in sorted(options):
        val = options[k]
        if isinstance(val, (set, frozenset)):
            val = sorted(str(x) for x in val)
        elif hasattr(val, "flags"):  # numba's FastMathOptions
            val = sorted(str(x) for x in val.flags)
        out.append((k, str(val)))
    # what the environment decides at compile time: bounds checks when the option is left to
    # NUMBA_BOUNDSCHECK (a memory-safety run must not leave its checked builds for later runs), and LLVM's level
    out.append(("env", f"boundscheck={numba.config.BOUNDSCHECK} opt={numba.config.OPT}"))
    return tuple(out)


def _enable_cache(disp):
    """Give the dispatcher ``disp`` a :class:`HealingCache` (Numba's ``enable_caching`` with healing); with no
    usable cache location, leave it uncached and warn once per process."""
    try:
        disp._cache = _healing_cache_class()(disp.py_func)
        disp._cache.gdsim_options = _options_key(disp.targetoptions)
    except (RuntimeError, OSError) as exc:  # "cannot cache function ...: no locator available for file ..."
        if not _NO_LOCATOR_WARNED.is_set():
            _NO_LOCATOR_WARNED.set()
            warnings.warn(f"gdsim runs without the Numba disk cache ({exc}); every process compiles its kernels "
                          "anew. Set NUMBA_CACHE_DIR to a writable directory to cache them, or "
                          "GDSIM_NUMBA_CACHE=0 to silence this.", CacheWarning, stacklevel=3)
    return disp


def jit(func=None, *, parallel: bool = False, cache: bool | None = None, inline: str = "never",
        boundscheck: bool | None = None, reassoc: bool = False):
    """Compile ``func`` with gdsim's Numba options (lazy compilation, nopython).

    Parameters
    ----------
    func : callable, optional
        The function to compile; when omitted a decorator is returned.
    parallel : bool
        Compile with ``parallel=True`` (``numba.prange`` loops run on threads).
    cache : bool, optional
        False keeps this kernel out of the disk cache (see module docstring); default on.
    inline : {"never", "always"}
        Numba IR inlining; ``"always"`` for tiny helpers called inside ``prange`` loops.
    boundscheck : bool, optional
        Passed through to Numba (``None`` follows ``NUMBA_BOUNDSCHECK``).
    reassoc : bool
        Add the ``reassoc`` fastmath flag, which lets LLVM vectorise a floating-point reduction. Only
        for small serial leaf functions (a dot product) whose summation order then depends on the
        machine's vector width alone: results stay identical for any thread count and run to run on
        one machine, and agree with NumPy to rounding. Used by the matrix-sensing row dot product
        (measured 2.1x: the loop otherwise runs as scalar FMAs).
    """
    flags = set(FASTMATH_FLAGS) | ({"reassoc"} if reassoc else set())
    if flags & _FORBIDDEN:  # pragma: no cover - guards against a bad edit of FASTMATH_FLAGS
        raise RuntimeError("gdsim must never compile with nnan/ninf fastmath flags")
    # cache=False stays off (generated source, function arguments); GDSIM_NUMBA_CACHE=0 turns every kernel off
    cached = _cache_enabled() and (cache is None or bool(cache))
    options = dict(
        nogil=True,
        parallel=parallel,
        cache=False,  # the disk cache is attached below: a HealingCache instead of Numba's FunctionCache
        error_model="numpy",
        fastmath=flags,
        inline=inline,
    )
    if boundscheck is not None:
        options["boundscheck"] = boundscheck

    def decorate(f):
        disp = numba.njit(**options)(f)
        if cached and not numba.config.DISABLE_JIT:
            _enable_cache(disp)
        return disp

    return decorate if func is None else decorate(func)


def serial_and_parallel(func):
    """Compile ``func`` twice: returns ``(serial, parallel)`` dispatchers (umap's layouts.py pattern).

    The serial build is the reference for the parallel one in tests, and the fallback for tiny batches
    where thread start-up costs more than the work.
    """
    return jit(func, parallel=False), jit(func, parallel=True)


@contextlib.contextmanager
def threads(parallel):
    """Run the enclosed kernels on all Numba threads (``parallel`` True or None) or on one (False).

    The public functions' ``parallel`` argument: results are identical either way (every kernel's
    numbers are independent of the thread count), so this only trades speed for a free core.
    """
    from gdsim._core.validate import flag

    parallel = flag(parallel, "parallel", allow_none=True)
    if parallel is not False:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def honours_parallel(fn):
    """Decorator for public simulations with a ``parallel`` argument: the call runs inside
    :func:`threads` (all Numba threads, or one with ``parallel=False``); the body need not look at it."""
    import functools
    import inspect

    sig = inspect.signature(fn)
    if "parallel" not in sig.parameters:  # pragma: no cover - a wiring mistake
        raise TypeError(f"{fn.__qualname__} has no parallel argument")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return fn(*args, **kwargs)  # let Python report the bad call as usual
        with threads(bound.arguments.get("parallel", sig.parameters["parallel"].default)):
            return fn(*args, **kwargs)

    return wrapper
