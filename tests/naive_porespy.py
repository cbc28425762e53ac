"""A transcription of porespy's ``metrics.boxcount`` (the estimator of Sohl-Dickstein's notebook), 2-D part.

Source: PMEAL/porespy, ``src/porespy/metrics/_funcs.py``, function ``boxcount(im, bins=10)`` (read at
commit 12cb4f0f; the box-size line and the count loop are the same in every stored version of the
file). Only the progress bar (``tqdm``) and the 3-D branch are left out. Note the box sizes:
``np.logspace(1, ...)`` starts at 10 cells for every image, although porespy's docstring says 1.
The Sohl-Dickstein notebook calls ``ps.metrics.boxcount(edges)`` on each image's boundary mask and
takes ``np.median`` of all the images' ``slope`` arrays concatenated.
"""

from __future__ import annotations

import numpy as np


def boxcount(im, bins=10):
    """(size, count, slope) exactly as porespy computes them for a 2-D image."""
    im = np.array(im, dtype=bool)
    if len(im.shape) != 2:
        raise ValueError("this transcription covers 2-D images only")
    if isinstance(bins, int):
        Ds = box_sizes(im.shape, bins)
    else:
        Ds = np.array(bins).astype(int)
    N = []
    for d in Ds:
        result = 0
        for i in range(0, im.shape[0], d):
            for j in range(0, im.shape[1], d):
                temp = im[i:i + d, j:j + d]
                result += np.any(temp)
                result -= np.all(temp)
        N.append(result)
    slope = -1 * np.gradient(np.log(np.array(N)), np.log(Ds))
    return Ds, N, slope


def box_sizes(shape, bins=10):
    """porespy's default box sizes (its line, verbatim, for an image of ``shape``)."""
    return np.unique(np.logspace(1, np.log10(min(shape)), bins).astype(int))


def notebook_dimension(edges):
    """The notebook's ``estimate_fractal_dimension``: median of all images' porespy slopes."""
    return float(np.median(np.concatenate([boxcount(e)[2] for e in edges])))
