"""The standard sweep picture: one output as a heat map over two axes (other axes reduced)."""

from __future__ import annotations

import numpy as np

REDUCERS = ("mean", "median", "min", "max", "first")


def select(ds, sel: dict):
    """``ds`` at one value of each axis in ``sel`` (``{axis: value}``; strings are parsed as numbers).

    A numeric value matches a grid value to a relative 1e-9 (grid values from ``linspace`` need not be typed
    to the last digit); a ValueError lists the axis's values otherwise.
    """
    idx = {}
    for axis, value in sel.items():
        if axis not in ds.dims:
            raise ValueError(f"--sel axis {axis!r} is not a dimension of the sweep; dims: {list(ds.dims)}")
        values = ds[axis].values
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if np.issubdtype(values.dtype, np.number) and isinstance(value, (int, float, np.number)):
            hits = np.flatnonzero(np.isclose(values.astype(float), float(value), rtol=1e-9, atol=1e-12))
        else:
            hits = np.flatnonzero(values.astype(str) == str(value))
        if hits.size != 1:
            raise ValueError(f"--sel {axis}={value!r} matches no grid value; {axis} takes the values {values.tolist()}")
        idx[axis] = int(hits[0])
    return ds.isel(idx)


def heatmap(ds, output: str, x: str, y: str, *, reduce: str = "mean", log_x: bool = False, log_y: bool = False,
            log_color: bool = False, ax=None, cmap: str = "viridis", title: str | None = None,
            sel: dict | None = None):
    """Heat map of ``output`` over axes ``x`` (horizontal) and ``y`` (vertical).

    ``sel`` (``{axis: value}``) first picks one slice of other grid axes (see :func:`select`). The axes left
    (and an output's own extra dims) are reduced with ``reduce`` (NaN-aware, so unfinished points are
    ignored), and the colour bar's label names them. Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if output not in ds.data_vars or output == "done":
        raise ValueError(f"output must be one of {[v for v in ds.data_vars if v != 'done']}, got {output!r}")
    for name, axis in (("x", x), ("y", y)):
        if axis not in ds.dims:
            raise ValueError(f"{name} axis {axis!r} is not a dimension of the sweep; dims: {list(ds.dims)}")
    if x == y:
        raise ValueError("x and y must be different axes")
    if reduce not in REDUCERS:
        raise ValueError(f"reduce must be one of {REDUCERS}, got {reduce!r}")
    sel = dict(sel or {})
    if x in sel or y in sel:
        raise ValueError("sel must not fix the plotted axes x or y")
    ds = select(ds, sel)
    da = ds[output].astype(float)
    rest = [d for d in da.dims if d not in (x, y)]
    if rest:
        if reduce == "first":
            da = da.isel({d: 0 for d in rest})
        else:
            da = getattr(da, reduce)(dim=rest, skipna=True)
    z = da.transpose(y, x).values
    xs, ys = ds[x].values.astype(float), ds[y].values.astype(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.2), constrained_layout=True)
    finite = z[np.isfinite(z)]
    norm = None
    if log_color and finite.size and (finite > 0).any():
        pos = finite[finite > 0]
        norm = LogNorm(vmin=pos.min(), vmax=pos.max())
    mesh = ax.pcolormesh(_edges(xs, log_x), _edges(ys, log_y), np.ma.masked_invalid(z), cmap=cmap, norm=norm,
                         shading="flat")
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    label = output if not rest else f"{output} ({reduce} over {', '.join(rest)})"
    ax.figure.colorbar(mesh, ax=ax, label=label)
    fixed = ", ".join(f"{k} = {ds[k].values.item():g}" if np.issubdtype(ds[k].dtype, np.number)
                      else f"{k} = {ds[k].values.item()}" for k in sel)
    default = ds.attrs.get("name", "") + (f" ({fixed})" if fixed else "")
    ax.set_title(title if title is not None else default)
    return ax


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted-or-not axis values (midpoints; geometric midpoints on a log axis)."""
    if v.size == 1:
        return np.array([v[0] * 0.9, v[0] * 1.1]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    if log:
        if (v <= 0).any():
            raise ValueError("a log axis needs positive values")
        lv = np.log(v)
        mid = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])
