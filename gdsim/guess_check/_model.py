"""The authors' (non-)linear matrix factorisation with a matrix-sensing loss, as a :class:`gdsim.models.Model`.

The zoo's :func:`gdsim.models.matrix_factorisation` and :func:`gdsim.models.deep_matrix_factorisation` fit a
fully observed target with 0.5 ||Y - M||_F^2 and no activation; the paper trains on measurements
mean_i (<A_i, Y> - y_i)^2 with activations between the factors, so the model is built here with
:func:`gdsim.models.custom` (type-generic, so its Hessian-vector products are exact complex steps).
"""

from __future__ import annotations

import numpy as np

import gdsim.models as gm
from gdsim._core import validate as v
from gdsim._core.jit import jit
from gdsim.guess_check._theory import ACTIVATIONS, _choice

__all__ = ["sensing_model", "layer_dims"]

_ACT_CODE = {"linear": 0, "tanh": 1, "leaky_relu": 2}


def layer_dims(shape, width, depth) -> np.ndarray:
    """[n_rows, width, ..., width, n_cols] (depth + 1 entries; [n_rows, n_cols] at depth 1)."""
    return np.array([shape[0], *([width] * (depth - 1)), shape[1]], dtype=np.int64)


@jit(cache=False, inline="always")
def _act(x, code, slope):
    if code == 1:
        return np.tanh(x)
    if code == 2:
        return x if x.real > 0.0 else slope * x
    return x


@jit(cache=False, inline="always")
def _act_grad(z, h, code, slope):
    """act'(z) given z and h = act(z)."""
    if code == 1:
        return 1.0 - h * h
    if code == 2:
        return 1.0 if z.real > 0.0 else slope
    return 1.0


@jit(cache=False)
def _sensing_loss_grad(w, A, y, dims, actp, g):
    """mean_i (<A_i, Y> - y_i)^2 with Y = act(... act(I W_1) W_2 ...) W_d, and its gradient (backpropagation).

    Scalar loops over preallocated buffers of w's dtype (type-generic: complex w gives the complex step)."""
    d = dims.size - 1
    code = int(actp[0])
    slope = actp[1]
    n_rows = int(dims[0])
    n_cols = int(dims[d])
    offs = np.zeros(d + 1, dtype=np.int64)
    wmax = n_cols
    for l in range(d):
        offs[l + 1] = offs[l] + int(dims[l]) * int(dims[l + 1])
        wmax = max(wmax, int(dims[l]))
    nh = max(d - 1, 1)
    Z = np.zeros((nh, n_rows, wmax), w.dtype)  # pre-activations of the hidden layers
    H = np.zeros((nh, n_rows, wmax), w.dtype)  # their activations
    Y = np.zeros((n_rows, n_cols), w.dtype)
    # forward: Z_0 = I W_1 = W_1, H_l = act(Z_l), Z_l = H_{l-1} W_{l+1}, Y = H_{d-2} W_d
    if d == 1:
        for i in range(n_rows):
            for c in range(n_cols):
                Y[i, c] = w[i * n_cols + c]
    else:
        h = int(dims[1])
        for i in range(n_rows):
            for c in range(h):
                Z[0, i, c] = w[i * h + c]
                H[0, i, c] = _act(Z[0, i, c], code, slope)
        for l in range(1, d):
            din = int(dims[l])
            dout = int(dims[l + 1])
            o = offs[l]
            for i in range(n_rows):
                for c in range(dout):
                    acc = 0.0 * w[0]
                    for a in range(din):
                        acc += H[l - 1, i, a] * w[o + a * dout + c]
                    if l < d - 1:
                        Z[l, i, c] = acc
                        H[l, i, c] = _act(acc, code, slope)
                    else:
                        Y[i, c] = acc
    # loss and R = dL/dY = (2/m) sum_i r_i A_i
    m = A.shape[0]
    R = np.zeros((n_rows, n_cols), w.dtype)
    loss = 0.0 * w[0]
    for k in range(m):
        p = 0.0 * w[0]
        for i in range(n_rows):
            for c in range(n_cols):
                p += A[k, i * n_cols + c] * Y[i, c]
        r = p - y[k]
        loss += r * r
        for i in range(n_rows):
            for c in range(n_cols):
                R[i, c] += (2.0 / m) * r * A[k, i * n_cols + c]
    if d == 1:
        for i in range(n_rows):
            for c in range(n_cols):
                g[i * n_cols + c] = R[i, c]
        return (loss / m).real
    # backward: dL/dW_d = H_{d-2}^T R, dL/dH_{d-2} = R W_d^T, then through each hidden layer
    dH = np.zeros((n_rows, wmax), w.dtype)
    dZ = np.zeros((n_rows, wmax), w.dtype)
    din = int(dims[d - 1])
    o = offs[d - 1]
    for a in range(din):
        for c in range(n_cols):
            acc = 0.0 * w[0]
            for i in range(n_rows):
                acc += H[d - 2, i, a] * R[i, c]
            g[o + a * n_cols + c] = acc
    for i in range(n_rows):
        for a in range(din):
            acc = 0.0 * w[0]
            for c in range(n_cols):
                acc += R[i, c] * w[o + a * n_cols + c]
            dH[i, a] = acc
    for l in range(d - 2, -1, -1):
        dout = int(dims[l + 1])
        for i in range(n_rows):
            for c in range(dout):
                dZ[i, c] = dH[i, c] * _act_grad(Z[l, i, c], H[l, i, c], code, slope)
        if l == 0:
            for i in range(n_rows):
                for c in range(dout):
                    g[i * dout + c] = dZ[i, c]
            break
        din = int(dims[l])
        o = offs[l]
        for a in range(din):
            for c in range(dout):
                acc = 0.0 * w[0]
                for i in range(n_rows):
                    acc += H[l - 1, i, a] * dZ[i, c]
                g[o + a * dout + c] = acc
        for i in range(n_rows):
            for a in range(din):
                acc = 0.0 * w[0]
                for c in range(dout):
                    acc += dZ[i, c] * w[o + a * dout + c]
                dH[i, a] = acc
    return (loss / m).real


def sensing_model(task, width, *, depth=2, activation="linear", negative_slope=0.2, init_scale=1e-3):
    """The paper's factorisation Y = act(... act(I W_1) W_2 ...) W_d trained on a task's measurements.

    Parameters
    ----------
    task : SensingTask
        From :func:`sensing_task`.
    width : int
        Hidden width h (>= 1).
    depth : int
        Number of factors d (1 .. 32).
    activation : {"linear", "tanh", "leaky_relu"}
    negative_slope : float
        Leaky ReLU slope (0.2 in the paper).
    init_scale : float
        Initialisation: PyTorch's default ``nn.Linear`` draw U(-1/sqrt(fan_in), 1/sqrt(fan_in)) times
        ``init_scale`` (the authors' ``near_zero_init``; 1e-3 in the width experiment).

    Returns
    -------
    gdsim.models.Model
        ``loss`` = mean_i (<A_i, Y> - y_i)^2 (the paper's training loss, a mean, not halved); ``test_data`` the
        complement basis, so the ``test_loss`` observable is the generalisation loss. Run it with
        ``gdsim.dynamics.run(m, gdsim.dynamics.GD(), w0, lr=..., steps=..., observe=("loss", "test_loss"))``.

    Notes
    -----
    Flat layout: W_1 (n_rows, h), W_2 (h, h), ..., W_d (h, n_cols), each row-major, in order; at depth 1, W_1
    (n_rows, n_cols). Gradient by backpropagation: with R = (2/m) sum_i (<A_i, Y> - y_i) A_i,
    dL/dW_d = H_{d-1}^T R, dL/dZ_l = (dL/dH_l) * act'(Z_l), dL/dW_l = H_{l-1}^T dL/dZ_l (H_0 = I).
    Alexander, Slutzky, Ran-Milo, Cohen, NeurIPS 2025 (arXiv:2506.03931); code ``YoniSlutzky98/nn-gd-gen-mf``
    (there Y is the transpose, ``net(I).t()``: the same model up to relabelling the Gaussian measurements).

    Examples
    --------
    >>> import gdsim.guess_check as gc, gdsim.dynamics as gdyn
    >>> t = gc.sensing_task(3, 3, seed=0)
    >>> m = gc.sensing_model(t, 4, init_scale=0.1)
    >>> res = gdyn.run(m, gdyn.GD(), m.init(seed=0), lr=0.5, steps=200, record_every=200,
    ...                observe=("loss", "test_loss"))
    >>> bool(res.loss[-1] < res.loss[0])
    True
    """
    from gdsim.guess_check._tasks import SensingTask

    if not isinstance(task, SensingTask):
        raise TypeError(f"task must be a SensingTask (gdsim.guess_check.sensing_task); got {type(task).__name__}")
    width = v.integer(width, "width", lo=1, hi=4096)
    depth = v.integer(depth, "depth", lo=1, hi=32)
    activation = _choice(activation, "activation", ACTIVATIONS)
    slope = v.real_scalar(negative_slope, "negative_slope")
    scale = v.real_scalar(init_scale, "init_scale", lo=0.0, lo_open=True)
    dims = layer_dims(task.shape, width, depth)
    P = int(np.sum(dims[1:] * dims[:-1]))
    dims_f = dims.astype(np.float64)
    actp = np.array([float(_ACT_CODE[activation]), slope])
    m = task.n_measurements
    A = task.A.reshape(m, -1)
    B = task.B.reshape(task.B.shape[0], -1)
    bounds = np.concatenate([np.full(int(r * c), 1.0 / np.sqrt(r)) for r, c in zip(dims[:-1], dims[1:])])

    def draw(rng):
        return scale * bounds * rng.uniform(-1.0, 1.0, P)

    model = gm.custom(_sensing_loss_grad, P, data=(A, task.y, dims_f, actp), init=draw,
                      test_data=(B, task.b, dims_f, actp), name="sensing_factorisation",
                      per_sample=(True, True, False, False))
    model.layout = "W_1 (n_rows, h), W_2 (h, h), ..., W_d (h, n_cols), each row-major, in order"
    model.config.update(shape=list(task.shape), width=width, depth=depth, activation=activation,
                        negative_slope=slope, init_scale=scale, measurements=m, completion=task.completion)
    return model
