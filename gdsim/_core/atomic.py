"""The package's one atomic writer: write to a temporary sibling, then ``os.replace`` it into place.

Every file gdsim writes for others to read (a :class:`gdsim.Result`'s ``.npz`` and JSON sidecar, a sweep
store's completion markers and lock, a reproduction's sidecar updates) goes through :func:`atomic_write`,
and a directory built in one go (a new sweep store) through :func:`atomic_directory`. ``os.replace`` is
atomic on POSIX within one filesystem, and the temporary sits in the target's own folder, so a reader sees
the old file or the new one, never a torn one; a writer that fails removes its temporary.

Temporary names start with ``.`` (``.NAME.XXXX.tmp``) so folder scans that skip dot files (the sweep
store's markers) never mistake one for a finished file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write", "atomic_directory"]


def atomic_write(target, write: Callable | str | bytes, *, binary: bool = False, fsync: bool = True) -> Path:
    """Write ``target`` atomically: into a temporary file in its folder, then ``os.replace`` it into place.

    Parameters
    ----------
    target : str or path-like
        The file to write (its folder must exist).
    write : callable, str or bytes
        ``write(fh)`` writes the content to the open temporary file; a str or bytes is written as is.
    binary : bool
        Open the temporary in binary mode (implied by bytes content).
    fsync : bool
        Flush the file to disk before the rename (durable across a power cut). ``False`` keeps only the
        atomicity (a killed process never leaves a torn file; the page cache is the kernel's): for small,
        frequent, recomputable files such as the sweep store's chunk markers.

    Returns
    -------
    Path
        ``target``.
    """
    target = Path(target)
    if isinstance(write, (str, bytes)):
        content = write
        binary = binary or isinstance(content, bytes)

        def write(fh):
            fh.write(content)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


@contextlib.contextmanager
def atomic_directory(target):
    """Build a directory in a temporary sibling and move it to ``target`` when the block ends without error.

    ``target`` must not exist or be an empty directory (it is replaced). On an error the temporary
    directory is removed and ``target`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "store") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "store").iterdir())
    ['a.txt']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        yield tmp
        if target.exists():
            target.rmdir()  # an empty directory (a non-empty one raises OSError: never overwritten)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
