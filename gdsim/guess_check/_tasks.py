"""The paper's matrix-sensing tasks: a low-rank target, unit-norm measurements and the complement test set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdsim._core import validate as v
from gdsim._core.rng import as_seed_sequence, child_seed

__all__ = ["SensingTask", "sensing_task"]


@dataclass(frozen=True)
class SensingTask:
    """One matrix-sensing task of Alexander et al. (2025).

    Attributes
    ----------
    target : ndarray, shape (n_rows, n_cols)
        W*, rank ``rank``, Frobenius norm ``norm``.
    A : ndarray, shape (m, n_rows, n_cols)
        Training measurement matrices (unit Frobenius norm; one-hot for matrix completion).
    y : ndarray, shape (m,)
        y_i = <A_i, W*>.
    B : ndarray, shape (q, n_rows, n_cols)
        The test set: an orthonormal basis of span{A_i}^perp (q = n_rows n_cols - rank of the A_i), or the
        unobserved one-hot entries for matrix completion.
    b : ndarray, shape (q,)
        b_j = <B_j, W*>.
    completion : bool
        True for matrix completion (one-hot measurements).
    """

    target: np.ndarray
    A: np.ndarray
    y: np.ndarray
    B: np.ndarray
    b: np.ndarray
    completion: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """(n_rows, n_cols) of the target."""
        return tuple(int(s) for s in self.target.shape)

    @property
    def n_measurements(self) -> int:
        return int(self.A.shape[0])

    def train_loss(self, Y) -> np.ndarray:
        """mean_i (<A_i, Y> - y_i)^2 for Y of shape (..., n_rows, n_cols)."""
        Y = np.asarray(Y, dtype=np.float64)
        return np.mean((np.tensordot(Y, self.A, axes=([-2, -1], [1, 2])) - self.y) ** 2, axis=-1)

    def gen_loss(self, Y) -> np.ndarray:
        """mean_{B_j} (<B_j, Y> - <B_j, W*>)^2 for Y of shape (..., n_rows, n_cols): the generalisation loss."""
        Y = np.asarray(Y, dtype=np.float64)
        return np.mean((np.tensordot(Y, self.B, axes=([-2, -1], [1, 2])) - self.b) ** 2, axis=-1)


def sensing_task(shape=(5, 5), measurements=15, *, rank=1, norm=1.0, completion=False, seed=0) -> SensingTask:
    """A matrix-sensing task as in Alexander, Slutzky, Ran-Milo, Cohen (NeurIPS 2025).

    Parameters
    ----------
    shape : int or (int, int)
        (n_rows, n_cols) of the target; an int n means (n, n). The paper uses 5 x 5.
    measurements : int
        m, the number of training measurements (1 .. n_rows n_cols - 1); the paper uses 15.
    rank : int
        Rank of the target (1 or 2 in the paper).
    norm : float
        Frobenius norm of the target (> 0; 1 in the paper).
    completion : bool
        Matrix completion: one-hot measurements of ``measurements`` random entries, the test set the other entries.
    seed : int, SeedSequence, Generator or None
        The task's randomness (target, measurements, completion mask), from this seed alone.

    Returns
    -------
    SensingTask

    Notes
    -----
    The authors' ``generate_data`` (code ``YoniSlutzky98/nn-gd-gen-mf``): W* = U V with U (n_rows, r), V (r, n_cols)
    standard Gaussian, scaled to ||W*||_F = ``norm``; A_i standard Gaussian matrices normalised to unit Frobenius
    norm, y_i = <A_i, W*>; the test matrices B_j an orthonormal basis of the orthogonal complement of span{A_i}
    (from a complete QR factorisation), so the generalisation loss mean_j (<B_j, Y> - <B_j, W*>)^2 measures the
    error in exactly the directions the measurements do not see. Draws here use NumPy's Generator (children 0, 1, 2
    of ``seed`` for the target, the measurements and the completion mask), not PyTorch's, so the tasks are the
    same in distribution, not in bits.

    Examples
    --------
    >>> import gdsim.guess_check as gc
    >>> t = gc.sensing_task(3, 3, seed=0)
    >>> t.A.shape, t.B.shape
    ((3, 3, 3), (6, 3, 3))
    """
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape), int(shape))
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise TypeError(f"shape must be an int n or a pair (n_rows, n_cols); got {shape!r}")
    n_rows = v.integer(shape[0], "shape[0]", lo=1, hi=64)
    n_cols = v.integer(shape[1], "shape[1]", lo=1, hi=64)
    dim = n_rows * n_cols
    if dim < 2:
        raise ValueError(f"shape {shape} leaves no room for a test set: use at least 2 entries")
    m = v.integer(measurements, "measurements", lo=1, hi=dim - 1)
    rank = v.integer(rank, "rank", lo=1, hi=min(n_rows, n_cols))
    norm = v.real_scalar(norm, "norm", lo=0.0, lo_open=True)
    completion = v.flag(completion, "completion")
    ss = as_seed_sequence(seed)
    rng_t, rng_a, rng_c = (np.random.default_rng(child_seed(ss, k)) for k in range(3))
    target = rng_t.standard_normal((n_rows, rank)) @ rng_t.standard_normal((rank, n_cols))
    target *= norm / np.linalg.norm(target)
    if completion:
        perm = rng_c.permutation(dim)
        eye = np.eye(dim).reshape(dim, n_rows, n_cols)
        A, B = eye[perm[:m]], eye[perm[m:]]
    else:
        A = rng_a.standard_normal((m, n_rows, n_cols))
        A /= np.linalg.norm(A, axis=(1, 2), keepdims=True)
        flat = A.reshape(m, dim)
        Q, _ = np.linalg.qr(flat.T, mode="complete")
        r = int(np.linalg.matrix_rank(flat))
        B = np.ascontiguousarray(Q[:, r:].T).reshape(dim - r, n_rows, n_cols)
    y = np.tensordot(A, target, axes=([1, 2], [0, 1]))
    b = np.tensordot(B, target, axes=([1, 2], [0, 1]))
    return SensingTask(target=target, A=np.ascontiguousarray(A), y=y, B=np.ascontiguousarray(B), b=b,
                       completion=completion)
