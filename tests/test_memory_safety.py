"""Mismatched data never reaches a compiled kernel (issue 30, item 7).

Every array handed to a kernel is checked against the model's shapes first, so a call with data of the wrong
width, a shorter target or the wrong number of dimensions fails with the same clear ValueError whether Numba
checks bounds or not. Before the checks, such calls read and wrote past their arrays: without bounds checks they
returned numbers from neighbouring memory (two identical calls gave different losses), and under
``NUMBA_BOUNDSCHECK=1`` they raised IndexError from inside the kernels. The slice below runs in this process and in
a subprocess with ``NUMBA_BOUNDSCHECK=1`` (set before numba is imported); both must give the same errors, and
each error must be a ValueError/TypeError that names the argument.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _calls():
    """name -> a zero-argument call that must fail before any kernel runs."""
    import gdsim.models as gm

    rng = np.random.default_rng(30)
    X = rng.standard_normal((12, 4))
    Y = rng.standard_normal((12, 2))
    y = Y[:, 0].copy()

    def quad(w, X, y, g):  # a plain Python loss_grad: compiled only if a call gets past the checks
        r = X @ w - y
        g[:] = X.T @ r / y.size
        return 0.5 * np.mean(r * r)

    def mlp():
        return gm.mlp([4, 3, 2], "tanh", "mse", data=(X, Y))

    def diag():
        return gm.diagonal_linear((X, y))

    return {
        "mlp.with_data narrow X": (lambda: mlp().with_data((X[:, :3], Y)), "data[0]"),
        "mlp.with_data wide X": (lambda: mlp().with_data((np.hstack([X, X]), Y)), "data[0]"),
        "mlp.with_data short Y": (lambda: mlp().with_data((X, Y[:5])), "data[1]"),
        "mlp.with_data other architecture": (lambda: mlp().with_data((X, Y, mlp().data[2][::-1].copy())), "data[2]"),
        "mlp test_data narrow X": (lambda: gm.mlp([4, 3, 2], data=(X, Y), test_data=(X[:, :2], Y)), "test_data[0]"),
        "mlp.accuracy other data": (lambda: mlp().accuracy(np.zeros(mlp().n_params), data=(X[:, :3], Y)), "data[0]"),
        "diagonal_linear test_data narrow X": (lambda: gm.diagonal_linear((X, y), test_data=(X[:, :2], y)),
                                               "test_data[0]"),
        "diagonal_linear.with_data short y": (lambda: diag().with_data((X, y[:3])), "data[1]"),
        "diagonal_linear.with_data 2-D y": (lambda: diag().with_data((X, Y)), "data[1]"),
        "squared_regression.with_data wide X": (lambda: gm.squared_regression(X, y).with_data((np.hstack([X, X]), y)),
                                                "data[0]"),
        "logistic_regression.with_data narrow A": (
            lambda: gm.logistic_regression((X, np.sign(y))).with_data((X[:, :3], np.sign(y))), "data[0]"),
        "matrix_factorisation.with_data other target": (
            lambda: gm.matrix_factorisation(np.eye(3), 2).with_data((np.eye(4),)), "data[0]"),
        "matrix_factorisation.with_data other rank": (
            lambda: gm.matrix_factorisation(np.eye(3), 2).with_data((np.eye(3), np.array([3.0]))), "data[1]"),
        "deep_matrix_factorisation.with_data other target": (
            lambda: gm.deep_matrix_factorisation(np.eye(3), 2).with_data((np.eye(2),)), "data[0]"),
        "second_order_regression.with_data wrong P": (
            lambda: gm.second_order_regression([0.6, 0.8], np.eye(2), 1.0).with_data(
                (np.ones((1, 3)), np.zeros((1, 3, 3)), np.ones(1))), "data[0]"),
        "scalar_network.with_data long ab": (lambda: gm.scalar_network(3).with_data(([1.0, 2.0, 3.0],)), "data[0]"),
        "custom test_data 2-D y": (lambda: gm.custom(quad, 4, data=(X, y), test_data=(X, Y[:, :1])), "test_data[1]"),
        "custom test_data narrow X": (lambda: gm.custom(quad, 4, data=(X, y), test_data=(X[:, :3], y)),
                                      "test_data[0]"),
        "custom test_data short y": (lambda: gm.custom(quad, 4, data=(X, y), test_data=(X, y[:4])), "test_data[1]"),
        "diagonal_linear.with_data one array": (lambda: diag().with_data((X,)), "data"),
    }


def outcomes() -> dict:
    """name -> [exception type, message, whether it names the argument] for every call of the slice."""
    out = {}
    for name, (call, arg) in _calls().items():
        try:
            call()
            out[name] = ["no error", "", False]
        except Exception as exc:  # noqa: BLE001 - what is raised is the point
            out[name] = [type(exc).__name__, str(exc), arg in str(exc)]
    return out


def test_mismatched_data_gives_the_same_clear_error_with_and_without_boundscheck():
    here = outcomes()
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import json, tests.test_memory_safety as t; print(json.dumps(t.outcomes()))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checked = json.loads(proc.stdout.strip().splitlines()[-1])
    assert checked == here
    for name, (kind, msg, names_arg) in here.items():
        assert kind in ("ValueError", "TypeError") and names_arg, f"{name}: {kind}: {msg}"
