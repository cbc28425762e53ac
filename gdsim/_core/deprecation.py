"""Deprecation cycles (NumPy/QuantEcon style): an old spelling keeps working for a release, with a warning.

A renamed keyword is accepted under its old name, warns with :class:`GdsimDeprecationWarning` (a
``DeprecationWarning``) naming the new spelling, and is passed on under the new name, so the numbers are the
same. ``inspect.signature`` of a decorated function shows the new signature (``functools.wraps``), which is
what the committed signature snapshot records.
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["GdsimDeprecationWarning", "renamed_keywords", "deprecated_function", "REMOVAL"]

#: the release in which the old spellings deprecated in 0.2 go away
REMOVAL = "0.3"


class GdsimDeprecationWarning(DeprecationWarning):
    """An old public spelling of gdsim was used; the message names the new one."""


def renamed_keywords(since="0.2", **old_to_new):
    """Accept old keyword names of a function for one release, warning and forwarding them to the new names.

    Parameters
    ----------
    since : str
        The release that renamed them (shown in the warning).
    **old_to_new : str
        ``old="new"`` pairs.

    Examples
    --------
    >>> @renamed_keywords(T="t_final")
    ... def f(*, t_final=1.0):
    ...     return t_final
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     f(T=2.0)
    2.0
    """

    def wrap(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old!r} (deprecated) and {new!r}; pass only "
                                        f"{new!r}")
                    warnings.warn(f"{func.__module__.split('._')[0]}.{func.__name__}: the keyword {old!r} was renamed "
                                  f"{new!r} in gdsim {since}; {old!r} will be removed in {REMOVAL}",
                                  GdsimDeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        inner.__gdsim_renamed__ = dict(old_to_new)
        return inner

    return wrap


def deprecated_function(replacement, since="0.2", *, name=None):
    """Mark a public function (or method) as deprecated: calling it warns, naming ``replacement``, and still works.

    ``name`` is the public spelling shown in the warning (default: the function's public module and name;
    give it for a method, e.g. ``"gdsim.sweep.Chunk.seed_ints"``).
    """

    def wrap(func):
        shown = name or f"{func.__module__.split('._')[0]}.{func.__name__}"

        @functools.wraps(func)
        def inner(*args, **kwargs):
            warnings.warn(f"{shown} is deprecated since gdsim {since} and will be removed in {REMOVAL}; use "
                          f"{replacement}", GdsimDeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)

        inner.__gdsim_deprecated__ = replacement
        return inner

    return wrap
