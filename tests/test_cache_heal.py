"""A Numba disk cache that heals (issue 30 item 8): damaged entries are recompiled with a warning, and with no
usable cache location gdsim runs uncached with a warning. Each case runs in a fresh process (the cache is
read at compile time, once per process) with ``NUMBA_CACHE_DIR`` pointed at a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# a small generic GD run; prints its numbers exactly (repr of float64)
SCRIPT = """
import warnings
warnings.simplefilter("always")
import numpy as np
import gdsim.dynamics as gdyn, gdsim.models as gm
w0 = np.array([[0.9, 1.1, 1.2], [0.5, 1.4, 0.8]])
res = gdyn.gd(gm.scalar_network(3), w0, 0.1, 20, record_every=10, observe=("loss", "w"))
print("NUMBERS", repr(res.loss.tolist()), repr(res.w.ravel().tolist()))
"""


def _run(env_extra):
    env = {k: val for k, val in os.environ.items() if not k.startswith(("NUMBA_CACHE", "GDSIM_NUMBA"))}
    env.update(env_extra, PYTHONPATH=str(REPO), NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    numbers = [line for line in proc.stdout.splitlines() if line.startswith("NUMBERS")]
    assert len(numbers) == 1, proc.stdout
    return numbers[0], proc.stderr


def _damage(path: Path, how: str, rng):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":
        path.write_bytes(bytes(len(data)))
    elif path.suffix == ".nbc":  # garbage inside the LLVM bitcode, the pickle framing intact: "LLVM bitcode parsing
        k = data.find(b"BC\xc0\xde")  # error" when Numba rebuilds the library
        assert k > 0, "no LLVM bitcode in the data file"
        path.write_bytes(data[:k + 8] + rng.integers(0, 256, 512, dtype=np.uint8).tobytes() + data[k + 520:])
    else:  # garbage after the index's version header
        path.write_bytes(data[:16] + rng.integers(0, 256, len(data) - 16, dtype=np.uint8).tobytes())


def test_damaged_cache_entries_are_recompiled_and_no_cache_location_runs_uncached(tmp_path):
    # no usable location: only the NUMBA_CACHE_DIR locator allowed, and it points below a regular file
    # (running as root, permissions cannot make a directory unwritable). Formerly: "cannot cache function
    # 'splitmix64_py': no locator available" at import.
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    uncached, err = _run({"NUMBA_CACHE_DIR": str(blocker / "cache"),
                          "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"})
    assert err.count("CacheWarning") == 1 and "without the Numba disk cache" in err, err[-3000:]

    cache = tmp_path / "cache"
    env = {"NUMBA_CACHE_DIR": str(cache)}
    first, err = _run(env)  # cold: compiles and saves
    assert first == uncached and "CacheWarning" not in err, err[-3000:]
    files = {p.name: p for p in cache.rglob("*") if p.is_file()}
    # two entries the run loads from the cache: damage one's data file and the other's index
    data = next(p for n, p in files.items() if "fresh_vectors" in n and n.endswith(".nbc"))
    index = next(p for n, p in files.items() if "_no_accuracy" in n and n.endswith(".nbi"))
    rng = np.random.default_rng(30)
    for how in ("truncated", "zeroed", "garbage"):
        _damage(data, how, rng)
        _damage(index, how, rng)
        again, err = _run(env)
        # a warning per damaged entry, no exception, and the numbers of the uncached run
        assert err.count("discarded an unreadable Numba cache entry") == 2, (how, err[-3000:])
        assert how != "garbage" or "LLVM bitcode" in err, err[-3000:]  # the library rebuild itself failed
        assert again == uncached, how
        # healed: the entries were saved afresh, so the next process loads them without a warning
        assert data.exists() and index.exists()
    healed, err = _run(env)
    assert healed == uncached and "CacheWarning" not in err, err[-3000:]


VARIANTS = """
import sys
sys.path.insert(0, {folder!r})
import numpy as np
from gdsim._core.jit import serial_and_parallel
import kern
serial, parallel = serial_and_parallel(kern.total)
x = np.linspace(0.0, 1.0, 1001)
print("NUMBERS", repr(serial(x)), repr(parallel(x)), sum(serial.stats.cache_hits.values()),
      sum(parallel.stats.cache_hits.values()), len(serial._cache._cache_file._load_index()))
"""


def test_serial_and_parallel_builds_keep_their_own_cache_entries(tmp_path):
    # Numba's cache key leaves out the compile options, so the serial and parallel builds of one function
    # would load each other's machine code; gdsim's key includes them: two entries, each loaded by its own
    # build in a second process (a cache hit each), with the same numbers as compiled fresh
    (tmp_path / "kern.py").write_text("from numba import prange\n\n"
                                      "def total(x):\n    s = 0.0\n    for i in prange(x.size):\n"
                                      "        s += x[i] * x[i]\n    return s\n")
    env = {k: val for k, val in os.environ.items() if not k.startswith(("NUMBA_CACHE", "GDSIM_NUMBA"))}
    env.update(PYTHONPATH=str(REPO), NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-W", "ignore", "-c", VARIANTS.format(folder=str(tmp_path))],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append([ln for ln in proc.stdout.splitlines() if ln.startswith("NUMBERS")][0].split()[1:])
    fresh, cached = outs
    assert fresh[:2] == cached[:2]
    assert fresh[2:4] == ["0", "0"] and cached[2:4] == ["1", "1"] and int(cached[4]) == 2, (fresh, cached)
