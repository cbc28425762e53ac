"""Tubal (t-product) algebra in NumPy: products, transposes, Fourier slices, tubal singular values and rank.

Tensors are third-order arrays (n1, n2, k) with the tubes along the last axis (Kilmer and Martin's frontal
slices A[:, :, t]); every function here also takes leading batch axes (..., n1, n2, k).
"""

from __future__ import annotations

import numpy as np

from gdsim._core import validate as v

__all__ = ["t_product", "t_transpose", "t_identity", "fourier_slices", "from_fourier_slices",
           "tubal_singular_values", "tubal_rank"]

_KILMER = ("Kilmer, Martin, 'Factorization strategies for third-order tensors', Linear Algebra Appl. 435 (2011); "
           "Karnik, Veselovska, Iwen, Krahmer, 'Implicit Regularization for Tubal Tensor Factorizations via "
           "Gradient Descent', ICML 2025, arXiv:2410.16247")


def _tensor(x, name, *, complex_ok=False):
    if complex_ok:
        if isinstance(x, (str, bytes)):
            raise TypeError(f"{name} must be a real or complex array of shape (..., n1, n2, k); got {type(x).__name__}")
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a real or complex array of shape (..., n1, n2, k): {exc}") from None
        if arr.dtype.kind not in "iufc":
            raise TypeError(f"{name} must be a real or complex array; got dtype {arr.dtype}")
        arr = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
    else:
        arr = v.real_array(x, name)
    if arr.ndim < 3:
        raise ValueError(f"{name} must be a third-order tensor of shape (..., n1, n2, k) (tubes along the last "
                         f"axis); got shape {arr.shape}")
    if min(arr.shape[-3:]) < 1:
        raise ValueError(f"{name} must have n1, n2, k >= 1; got shape {arr.shape}")
    return arr


def fourier_slices(A):
    """The Fourier-domain frontal slices of a tensor: the FFT along the tubes, slice index first.

    Parameters
    ----------
    A : array_like, shape (..., n1, n2, k)
        Real tensor(s), tubes along the last axis.

    Returns
    -------
    ndarray, complex, shape (..., k, n1, n2)
        ``Ahat[..., i, :, :] = sum_t A[..., :, :, t] exp(-2 pi 1j i t / k)`` (unnormalised DFT, so the
        identity tensor has the identity matrix in every slice).

    Notes
    -----
    The DFT block-diagonalises the block-circulant matrix bcirc(A) (Kilmer and Martin 2011): the t-product
    becomes one matrix product per Fourier slice, and the slices of a real tensor satisfy
    ``Ahat[k - i] = conj(Ahat[i])``.
    """
    A = _tensor(A, "A")
    return np.moveaxis(np.fft.fft(A, axis=-1), -1, -3)


def from_fourier_slices(Ahat):
    """Inverse of :func:`fourier_slices`: (..., k, n1, n2) Fourier slices -> real tensor (..., n1, n2, k).

    Parameters
    ----------
    Ahat : array_like, complex, shape (..., k, n1, n2)
        Fourier slices with the conjugate symmetry ``Ahat[k - i] = conj(Ahat[i])`` of a real tensor.

    Returns
    -------
    ndarray, shape (..., n1, n2, k)
        The real part of the inverse DFT along the slice axis (the imaginary part is rounding when the
        slices are conjugate-symmetric).
    """
    Ahat = _tensor(Ahat, "Ahat", complex_ok=True)
    return np.ascontiguousarray(np.fft.ifft(np.moveaxis(Ahat, -3, -1), axis=-1).real)


def t_product(A, B):
    """The t-product A * B of third-order tensors, by the FFT along the tubes.

    Parameters
    ----------
    A : array_like, shape (..., n1, n2, k)
    B : array_like, shape (..., n2, n3, k)
        Same tube length k; leading batch axes broadcast.

    Returns
    -------
    ndarray, shape (..., n1, n3, k)

    Raises
    ------
    ValueError
        When the inner dimensions or the tube lengths differ.

    Notes
    -----
    Kilmer and Martin (2011): A * B = fold(bcirc(A) unfold(B)), i.e. the frontal slices are circular
    convolutions ``C[:, :, t] = sum_s A[:, :, (t - s) mod k] B[:, :, s]``. Computed as
    ``ifft_3(fft_3(A) . fft_3(B))`` with one matrix product per Fourier slice, O(n1 n2 n3 k + (n1 n2 + n2 n3) k log k).
    Used by Karnik, Veselovska, Iwen, Krahmer (ICML 2025, arXiv:2410.16247) for the factorisation U * U^T.

    Examples
    --------
    >>> import numpy as np, gdsim.tubal as gt
    >>> A = np.random.default_rng(0).standard_normal((3, 2, 4))
    >>> np.allclose(gt.t_product(A, gt.t_identity(2, 4)), A)
    True
    """
    A = _tensor(A, "A")
    B = _tensor(B, "B")
    if A.shape[-1] != B.shape[-1]:
        raise ValueError(f"A and B must have the same tube length k (last axis); got {A.shape[-1]} and {B.shape[-1]}")
    if A.shape[-2] != B.shape[-3]:
        raise ValueError(f"the t-product needs A (..., n1, n2, k) and B (..., n2, n3, k); got inner dimensions "
                         f"{A.shape[-2]} and {B.shape[-3]}")
    try:
        np.broadcast_shapes(A.shape[:-3], B.shape[:-3])
    except ValueError:
        raise ValueError(f"the batch axes of A {A.shape[:-3]} and B {B.shape[:-3]} do not broadcast") from None
    C = np.matmul(fourier_slices(A), fourier_slices(B))
    return np.ascontiguousarray(np.fft.ifft(np.moveaxis(C, -3, -1), axis=-1).real)


def t_transpose(A):
    """The t-transpose: transpose every frontal slice, then reverse the order of slices 2..k.

    Parameters
    ----------
    A : array_like, shape (..., n1, n2, k)

    Returns
    -------
    ndarray, shape (..., n2, n1, k)
        ``At[:, :, 0] = A[:, :, 0]^T`` and ``At[:, :, t] = A[:, :, k - t]^T`` for t = 1..k-1.

    Notes
    -----
    (A * B)^T = B^T * A^T, and the Fourier slices of A^T are the conjugate transposes of those of A
    (Kilmer and Martin 2011).
    """
    A = _tensor(A, "A")
    k = A.shape[-1]
    idx = (-np.arange(k)) % k
    return np.ascontiguousarray(np.swapaxes(A, -3, -2)[..., idx])


def t_identity(d, n_slices):
    """The identity tensor: I (d, d) in the first frontal slice, zeros elsewhere.

    Parameters
    ----------
    d : int
        >= 1.
    n_slices : int
        Tube length (>= 1).

    Returns
    -------
    ndarray, shape (d, d, n_slices)
    """
    d = v.integer(d, "d", lo=1, hi=10**5)
    n_slices = v.integer(n_slices, "n_slices", lo=1, hi=10**6)
    v.check_budget(f"d = {d} and n_slices = {n_slices}", bytes_needed=8.0 * d * d * n_slices)
    out = np.zeros((d, d, n_slices))
    out[:, :, 0] = np.eye(d)
    return out


def tubal_singular_values(A):
    """Singular values of every Fourier slice (the t-SVD's singular tubes in the Fourier domain).

    Parameters
    ----------
    A : array_like, shape (..., n1, n2, k)

    Returns
    -------
    ndarray, shape (..., k, min(n1, n2))
        ``s[..., i, :]`` are the singular values of the Fourier slice ``fourier_slices(A)[..., i]``, descending.

    Notes
    -----
    The t-SVD A = U * S * V^T (Kilmer and Martin 2011) is the slice-wise SVD in the Fourier domain:
    ``Ahat_i = Uhat_i Shat_i Vhat_i^H``. For the factorisation X = U * U^T of Karnik et al. (ICML 2025) every
    slice ``Xhat_i = Uhat_i Uhat_i^H`` is Hermitian positive semi-definite, so these are its eigenvalues and
    equal the squared singular values of ``Uhat_i``. Slices i and k - i of a real tensor have the same values.
    """
    return np.linalg.svd(fourier_slices(A), compute_uv=False)


def tubal_rank(A, tol=None):
    """The tubal rank: the number of nonzero singular tubes, i.e. the largest rank of a Fourier slice.

    Parameters
    ----------
    A : array_like, shape (..., n1, n2, k)
    tol : float, optional
        Singular values above ``tol`` count. Default: ``max(n1, n2) * k * eps * s_max`` per tensor (NumPy's
        ``matrix_rank`` rule with the slice size n k of bcirc(A)).

    Returns
    -------
    int or ndarray of int, shape (...)

    Notes
    -----
    A tensor has tubal rank r when its t-SVD has r nonzero singular tubes; since the t-SVD is the slice-wise
    SVD in the Fourier domain, this is max_i rank(Ahat_i) (Kilmer, Horesh, Avron, Newman, PNAS 2021).
    """
    A = _tensor(A, "A")
    s = tubal_singular_values(A)
    smax = s.max(axis=(-2, -1), initial=0.0)
    if tol is None:
        thr = max(A.shape[-3], A.shape[-2]) * A.shape[-1] * np.finfo(float).eps * smax
    else:
        thr = np.broadcast_to(v.real_scalar(tol, "tol", lo=0.0), smax.shape)
    r = (s > np.asarray(thr)[..., None, None]).sum(axis=-1).max(axis=-1)
    return int(r) if np.ndim(r) == 0 else r
