"""The shared plotting style of the reproductions (gdsim.repro.apply_style, legend_outside, save_figure)."""

import json

import numpy as np
import pytest

from gdsim import repro


@pytest.fixture()
def plt():
    repro.use_headless_backend()
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.mark.parametrize("loc", ["right", "below", "above"])
def test_legend_outside_does_not_overlap_the_data_area(plt, loc):
    repro.apply_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    for i in range(4):
        ax.plot(np.arange(10), np.arange(10) * (i + 1), label=f"curve {i}")
    leg = repro.legend_outside(ax, loc=loc)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    a, b = ax.get_window_extent(r), leg.get_window_extent(r)
    # the legend's box and the axes' box share no area (touching edges allowed)
    overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
    overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
    assert overlap_w <= 0.5 or overlap_h <= 0.5, (a, b)


def test_legend_outside_rejects_an_unknown_place_and_skips_empty_axes(plt):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="loc"):
        repro.legend_outside(ax, loc="inside")
    assert repro.legend_outside(ax) is None


def test_save_figure_keeps_the_outside_legend_at_the_shared_resolution(plt, tmp_path):
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a long legend entry that sits to the right of the axes")
    repro.legend_outside(ax, loc="right")
    paths = repro.save_figure(fig, tmp_path, "style", {"x": np.arange(2)}, {"reproduction": "style"}, pdf=False)
    png = next(p for p in paths if str(p).endswith(".png"))
    with Image.open(png) as im:  # pillow comes with matplotlib
        dpi, width = im.info.get("dpi", (0, 0))[0], im.width
    assert round(dpi) == repro.PNG_DPI >= 150
    # the tight box grows to hold the legend: the PNG is wider than the 4-inch figure at 160 dpi
    assert width > 4 * repro.PNG_DPI
    assert json.loads((tmp_path / "style.json").read_text())["reproduction"] == "style"


def test_apply_style_sets_the_colour_blind_safe_cycle_and_upright_digits():
    import matplotlib as mpl

    repro.apply_style()
    cycle = [c.lower() for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [c.lower() for c in repro.OKABE_ITO]
    assert mpl.rcParams["mathtext.default"] == "normal"  # "it" would set the digits of $\eta = 0.5$ in italics
    assert mpl.rcParams["savefig.dpi"] == repro.PNG_DPI
