"""The standard sweep picture: one output as a heat map over two axes (other axes reduced), drawn by xarray."""

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
    """Heat map of ``output`` over axes ``x`` (horizontal) and ``y`` (vertical), drawn by xarray.

    ``sel`` (``{axis: value}``) first picks one slice of other grid axes (see :func:`select`). The axes left
    (and an output's own extra dims) are reduced with ``reduce`` (NaN-aware, so unfinished points are
    ignored), and the colour bar's label names them. The labelled result is drawn with
    ``DataArray.plot.pcolormesh`` (cells centred on the grid values, geometric midpoints on a log axis;
    unfinished points left blank). Returns the matplotlib ``Axes``.
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
    for axis, log in ((x, log_x), (y, log_y)):
        values = da[axis].values.astype(float)
        if log and (values <= 0).any():
            raise ValueError("a log axis needs positive values")
        if values.size == 1:
            da = _widen(da, axis, float(values[0]), log)
    da = da.sortby([x, y])  # xarray infers the cell edges from increasing coordinates
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.2), constrained_layout=True)
    finite = da.values[np.isfinite(da.values)]
    norm = None
    if log_color and finite.size and (finite > 0).any():
        pos = finite[finite > 0]
        norm = LogNorm(vmin=pos.min(), vmax=pos.max())
    label = output if not rest else f"{output} ({reduce} over {', '.join(rest)})"
    da.plot.pcolormesh(x=x, y=y, ax=ax, cmap=cmap, norm=norm, xscale="log" if log_x else "linear",
                       yscale="log" if log_y else "linear", cbar_kwargs={"label": label})
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fixed = ", ".join(f"{k} = {ds[k].values.item():g}" if np.issubdtype(ds[k].dtype, np.number)
                      else f"{k} = {ds[k].values.item()}" for k in sel)
    default = ds.attrs.get("name", "") + (f" ({fixed})" if fixed else "")
    ax.set_title(title if title is not None else default)
    return ax


def _widen(da, axis: str, value: float, log: bool):
    """A one-value axis as two equal cells whose inferred edges span value -/+ 0.5 (value x/÷ 1.1 on a log axis),
    so xarray draws it as one visible strip (it infers a zero-width cell from a single coordinate)."""
    if log:
        lo, hi = value / 1.1, value * 1.1
        centres = np.array([lo ** 0.75 * hi ** 0.25, lo ** 0.25 * hi ** 0.75])
    else:
        centres = np.array([value - 0.25, value + 0.25])
    return da.isel({axis: [0, 0]}).assign_coords({axis: centres})
