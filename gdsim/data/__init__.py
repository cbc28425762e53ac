"""Small real data sets, offline: fixed splits, documented preprocessing and a checksum of the arrays.

The arrays come from files that ship inside PyPI packages (scikit-learn's bundled data sets) or are generated
locally (``mnist1d.data.make_dataset``); no loader touches the network. Install the extra with
``pip install -e ".[data]"``.

==================  =====================  ============  ========================================
name                samples (train/test)   features      targets
==================  =====================  ============  ========================================
``digits``          1347 / 450             64            10 classes (sklearn ``load_digits``)
``mnist1d``         4000 / 1000            40            10 classes (``mnist1d`` ``make_dataset``)
``wine``            133 / 45               13            3 classes
``breast_cancer``   427 / 142              30            2 classes
``diabetes``        332 / 110              10            regression (float)
==================  =====================  ============  ========================================

Examples
--------
>>> import gdsim.data as gdata                                         # doctest: +SKIP
>>> ds = gdata.load("digits", n_samples=500, classes=None, seed=0)             # doctest: +SKIP
>>> ds.X.shape, ds.one_hot().shape                                     # doctest: +SKIP
((500, 64), (500, 10))
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gdsim._core.deprecation import renamed_keywords
from gdsim._core import validate as v
from gdsim._core.provenance import arrays_sha256

__all__ = ["NAMES", "Dataset", "load"]

#: The data sets :func:`load` knows, with the package each needs.
NAMES = {"digits": "scikit-learn", "mnist1d": "mnist1d", "wine": "scikit-learn", "breast_cancer": "scikit-learn",
         "diabetes": "scikit-learn"}
#: Share of the samples held out for testing (scikit-learn sets; mnist1d keeps its own 4000/1000 split).
TEST_FRACTION = 0.25
#: Seed of the fixed train/test split (independent of the ``seed`` of :func:`load`, which only subsamples).
SPLIT_SEED = 0


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A loaded data set (see :func:`load`).

    Attributes
    ----------
    name : str
    X, X_test : ndarray (n, d), (n_test, d)
        Float64 features, standardised with the training statistics.
    y, y_test : ndarray
        Integer labels 0..K-1 (classification; ``classes`` maps them back to the original labels) or float
        targets (regression).
    classes : tuple of int or None
        The original labels of 0..K-1; None for regression.
    checksum : str
        SHA-256 of X, y, X_test, y_test (in that order, C-contiguous bytes): in every result's provenance.
    preprocessing : dict
        What was done, for the record.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple | None
    checksum: str
    preprocessing: dict

    @property
    def n_classes(self) -> int | None:
        """K, or None for regression."""
        return None if self.classes is None else len(self.classes)

    def one_hot(self, test: bool = False) -> np.ndarray:
        """One-hot targets (n, K) float64 for MSE training (``test=True``: of the test split)."""
        if self.classes is None:
            raise ValueError(f"one_hot: {self.name!r} is a regression data set (float targets)")
        y = self.y_test if v.flag(test, "test") else self.y
        out = np.zeros((y.size, len(self.classes)))
        out[np.arange(y.size), y] = 1.0
        return out

    def signs(self, test: bool = False) -> np.ndarray:
        """+-1 targets of a two-class data set (label 0 -> -1, label 1 -> +1)."""
        if self.classes is None or len(self.classes) != 2:
            raise ValueError(f"signs: {self.name!r} has {self.n_classes} classes; pass two classes (classes=(a, b))")
        y = self.y_test if v.flag(test, "test") else self.y
        return 2.0 * y - 1.0


def _need(package, name):
    raise ImportError(f"gdsim.data.load({name!r}) needs the {package} package: install the data extra "
                      f'(pip install -e ".[data]" or pip install {package})')


def _raw(name):
    """(X, y, X_test or None, y_test or None, is_regression) from the package, offline."""
    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError:
            _need("mnist1d", name)
        # make_dataset generates the data locally (get_dataset would download a pickle: never used here)
        d = make_dataset(get_dataset_args())
        return d["x"], d["y"], d["x_test"], d["y_test"], False
    try:
        from sklearn import datasets
    except ImportError:
        _need("scikit-learn", name)
    loader = {"digits": datasets.load_digits, "wine": datasets.load_wine,
              "breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)  # load_* read files bundled in the wheel; fetch_* (downloads) never used
    return X, y, None, None, name == "diabetes"


def _split(y, regression):
    """Fixed, stratified (classification) train/test indices."""
    rng = np.random.default_rng(np.random.SeedSequence(SPLIT_SEED))
    groups = [np.arange(y.size)] if regression else [np.flatnonzero(y == c) for c in np.unique(y)]
    train, test = [], []
    for g in groups:
        g = rng.permutation(g)
        k = int(round(TEST_FRACTION * g.size))
        test.append(g[:k])
        train.append(g[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _balanced_subset(y, n, seed):
    """n indices, classes interleaved round-robin from seeded per-class permutations (balanced within 1)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    per = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    order = []
    for i in range(max(p.size for p in per)):
        order.extend(p[i] for p in per if i < p.size)
    return np.sort(np.array(order[:n], dtype=np.int64))


@renamed_keywords(n="n_samples")
def load(name, n_samples=None, classes=None, seed=0, *, standardise=True):
    """Load a small real data set offline, with a fixed split and documented preprocessing.

    Parameters
    ----------
    name : {"digits", "mnist1d", "wine", "breast_cancer", "diabetes"}
    n_samples : int, optional
        Subsample the training split to n_samples points, classes balanced within one point (round-robin over
        seeded per-class permutations); regression sets take n_samples seeded random points. Default: all.
    classes : sequence of int, optional
        Keep only these original labels (e.g. ``(0, 1)``), relabelled 0..K-1 in the given order, in both
        splits. Default: all classes.
    seed : int
        Seed of the subsampling (the train/test split itself is fixed).
    standardise : bool
        Centre and scale each feature by the training split's mean and standard deviation (features that
        are constant in the training split, such as three of the digits' pixels, are only centred).

    Returns
    -------
    Dataset

    Notes
    -----
    Splits: scikit-learn sets are split 75/25, stratified by class, with a fixed seed; mnist1d keeps
    ``make_dataset``'s own 4000/1000 split (its default arguments, seed 42). Regression targets (diabetes)
    are standardised too. Nothing is downloaded: scikit-learn's ``load_*`` read files inside the wheel and
    mnist1d's ``make_dataset`` generates the data.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be one of {sorted(NAMES)}; got {type(name).__name__}")
    if name not in NAMES:
        raise ValueError(f"name must be one of {sorted(NAMES)}; got {name!r}")
    standardise = v.flag(standardise, "standardise")
    seed = v.integer(seed, "seed", lo=0, hi=2**63 - 1)
    if n_samples is not None:
        n_samples = v.integer(n_samples, "n_samples", lo=1, hi=10**7)
    X, y, Xt, yt, regression = _raw(name)
    X = np.asarray(X, dtype=np.float64)
    if Xt is None:
        tr, te = _split(np.asarray(y), regression)
        X, Xt, y, yt = X[tr], X[te], np.asarray(y)[tr], np.asarray(y)[te]
    Xt = np.asarray(Xt, dtype=np.float64)
    prep = {"split": "fixed (mnist1d: make_dataset's own)" if name == "mnist1d" else
            f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {SPLIT_SEED}"}
    if regression:
        if classes is not None:
            raise ValueError(f"classes: {name!r} is a regression data set; leave classes=None")
        y, yt = np.asarray(y, dtype=np.float64), np.asarray(yt, dtype=np.float64)
        labels = None
    else:
        y, yt = np.asarray(y).astype(np.int64), np.asarray(yt).astype(np.int64)
        present = [int(c) for c in np.unique(y)]
        if classes is None:
            labels = tuple(present)
        else:
            if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
                raise TypeError(f"classes must be a sequence of labels from {present}; got {type(classes).__name__}")
            labels = tuple(v.integer(c, "classes", lo=min(present), hi=max(present)) for c in classes)
            if len(labels) < 2 or len(set(labels)) != len(labels) or any(c not in present for c in labels):
                raise ValueError(f"classes must be at least two distinct labels from {present}; got {classes!r}")
        remap = {c: i for i, c in enumerate(labels)}
        keep, keep_t = np.isin(y, labels), np.isin(yt, labels)
        X, y, Xt, yt = X[keep], np.array([remap[c] for c in y[keep]]), Xt[keep_t], np.array([remap[c] for c in yt[keep_t]])
        prep["classes"] = list(labels)
    if n_samples is not None:
        if n_samples > y.size:
            raise ValueError(f"n_samples = {n_samples} exceeds the {y.size} training points of {name!r}")
        idx = (np.sort(np.random.default_rng(np.random.SeedSequence(seed)).choice(y.size, n_samples, replace=False))
               if regression else _balanced_subset(y, n_samples, seed))
        X, y = X[idx], y[idx]
        prep["subsample"] = f"n = {n_samples}, seed {seed}" + ("" if regression else ", classes balanced")
    if standardise:
        mu, sd = X.mean(axis=0), X.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        X, Xt = (X - mu) / sd, (Xt - mu) / sd
        if regression:
            m, s = y.mean(), y.std()
            y, yt = (y - m) / s, (yt - m) / s
        prep["standardise"] = "features by the training mean and std" + (" (and targets)" if regression else "")
    arrays = [np.ascontiguousarray(a) for a in (X, y, Xt, yt)]
    return Dataset(name, *arrays, classes=labels, checksum=arrays_sha256(*arrays), preprocessing=prep)
