"""The one record schedule: ``record_every`` (an integer or step indices) in every stepped family.

An explicit array of step indices must record the same states as the integer form that names the same
steps (same bits: recording never changes the arithmetic of the steps), and the ``n_records`` shorthand
of ``particles`` and ``games`` must equal ``record_every=log_steps(...)`` / ``linear_steps(...)``.
"""

import numpy as np
import pytest

import gdsim
import gdsim.dynamics as gdyn
import gdsim.games as gg
import gdsim.models as gm
import gdsim.particles as gp
import gdsim.scalar as sc
import gdsim.sensing as gs


def test_schedules_against_their_definitions():
    # oracle: the definitions written out (0, k, 2k, ..., steps; geometric; evenly spaced, rounded)
    assert gdsim.record_times(10, 3).tolist() == [0, 3, 6, 9, 10]
    assert gdsim.record_times(9, 3).tolist() == [0, 3, 6, 9]
    assert gdsim.record_times(0, 5).tolist() == [0]
    steps, n = 3000, 30
    ks = sorted({int(round(x)) for x in np.geomspace(1, steps, n - 1)})
    assert gdsim.log_steps(steps, n).tolist() == [0, *ks]
    assert gdsim.log_steps(5, 10).tolist() == list(range(6))  # more records than steps: every step
    assert gdsim.linear_steps(100, 5).tolist() == [0, 25, 50, 75, 100]
    # explicit arrays: sorted, deduplicated, 0 and steps added
    assert gdsim.record_times(50, [20, 5, 20]).tolist() == [0, 5, 20, 50]
    assert gdsim.record_times(50, np.array([0.0, 10.0])).tolist() == [0, 10, 50]


@pytest.mark.parametrize("bad, err, match", [
    ([5, 60], ValueError, r"\[0, steps = 50\]"),
    ([-1], ValueError, r"\[0, steps = 50\]"),
    ([2.5], ValueError, "whole step indices"),
    ([[1, 2]], TypeError, "1-D"),
    (np.array([True]), TypeError, "record_every"),
    (2.0, TypeError, "record_every"),
    ("10", TypeError, "record_every"),
    (0, ValueError, "record_every"),
])
def test_bad_schedules_name_the_argument(bad, err, match):
    with pytest.raises(err, match=match):
        gdsim.record_times(50, bad)


def test_explicit_steps_equal_the_integer_form_in_every_stepped_family():
    steps, k = 40, 8
    explicit = np.arange(0, steps + 1, k)
    # scalar (structure-of-arrays kernel)
    w0 = np.full((3, 3), 1.2)
    a = sc.gd(w0, [0.1, 0.2, 0.3], steps, record_every=k, observe=("loss", "sharpness"))
    b = sc.gd(w0, [0.1, 0.2, 0.3], steps, record_every=explicit, observe=("loss", "sharpness"))
    for name in ("t", "w", "loss", "sharpness"):
        np.testing.assert_array_equal(a[name], b[name])
    # the generic dynamics layer
    m = gm.scalar_network(3)
    a = gdyn.gd(m, w0, 0.1, steps, record_every=k)
    b = gdyn.gd(m, w0, 0.1, steps, record_every=list(explicit))
    np.testing.assert_array_equal(a["loss"], b["loss"])
    np.testing.assert_array_equal(a["w_final"], b["w_final"])
    # matrix sensing
    prob = gs.make_problem(8, 2, spectrum=[1.0, 0.5], measurements=40, seed=0)
    a = gs.gd(prob, 3, 1e-3, steps, lr=0.05, record_every=k, seed=1)
    b = gs.gd(prob, 3, 1e-3, steps, lr=0.05, record_every=explicit, seed=1)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    # particles and games: the integer form is now available there too
    w = np.linspace(-1.0, 1.0, 8)[None].repeat(2, 0)
    a = gp.particle_gd(w, "energy_uniform", steps, record_every=k, seed=0)
    b = gp.particle_gd(w, "energy_uniform", steps, record_every=explicit, seed=0)
    assert a["k"].tolist() == explicit.tolist()
    np.testing.assert_array_equal(a["value"], b["value"])


def test_n_records_is_a_shorthand_for_the_shared_schedule():
    w = np.linspace(-1.0, 1.0, 8)[None].repeat(2, 0)
    a = gp.particle_gd(w, "energy_uniform", 500, n_records=25, seed=0)
    b = gp.particle_gd(w, "energy_uniform", 500, record_every=gdsim.log_steps(500, 25), seed=0)
    assert a["k"].tolist() == gdsim.log_steps(500, 25).tolist()
    np.testing.assert_array_equal(a["value"], b["value"])
    c = gp.particle_gd(w, "energy_uniform", 500, seed=0)  # neither: the documented default, 60 log-spaced
    assert c["k"].tolist() == gdsim.log_steps(500, 60).tolist()

    pay = gg.payoff_t1()
    kw = dict(n_x=16, dt=2.5e-4, runs=2, seed=0, ni_grid=8)  # 50 steps to t = 0.0125
    a = gg.particle_gda(pay, 1.0, 1.0, 0.0125, n_records=11, **kw)
    b = gg.particle_gda(pay, 1.0, 1.0, 0.0125, record_every=gdsim.linear_steps(50, 11), **kw)
    np.testing.assert_allclose(a["t"], np.linspace(0.0, 0.0125, 11), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(a["moments"], b["moments"])
    p1 = gg.mean_field_pde(pay, 1.0, 1.0, 0.01, M=16, n_records=3)
    p2 = gg.mean_field_pde(pay, 1.0, 1.0, 0.01, M=16, record_every=p1["step"])
    assert p1["step"].size == 3 and p1["step"][-1] == round(0.01 / p1.meta["config"]["dt"])
    np.testing.assert_array_equal(p1["ni0"], p2["ni0"])

    with pytest.raises(ValueError, match="not both"):
        gp.particle_gd(w, "energy_uniform", 500, n_records=25, record_every=10)
    with pytest.raises(ValueError, match="not both"):
        gg.particle_gda(pay, 1.0, 1.0, 0.0125, n_records=11, record_every=5, **kw)
