"""The fractal trainability map under optimiser values (issue 28): ``gdsim.fractal.trainability_map(...,
optimizer=gdsim.dynamics.HeavyBall(beta=0.9))`` and friends, the labelled map, the net as an engine model,
and the reproduction ``sohldickstein2024_fractal_optimisers``.

Width n = 4 throughout (N = 20 data): the engine's cost per cell grows with n^2 N, and n = 4 keeps every
test here under a few seconds."""

import json

import numpy as np
import pytest

import gdsim.dynamics as gdyn
import gdsim.fractal as gf
from tests import naive

N_WIDTH = 4
STEPS = 60


def _problem():
    return gf.problem(N_WIDTH, "tanh", STEPS, 0)


def test_gd_value_takes_the_fused_path_bit_for_bit():
    lr = np.logspace(-1, 3, 12)
    ref = gf.trainability_map(lr, lr, n=N_WIDTH, steps=STEPS)
    np.testing.assert_array_equal(gf.trainability_map(lr, lr, n=N_WIDTH, steps=STEPS, optimizer=gdyn.GD()), ref)


# cells deep inside either phase (both layers slow; a fast output layer; both fast; a faster input layer;
# lr0 = 100 with momentum is already chaotic: 0.2-2% apart after 60 steps),
# so that the oracle's np.tanh and the engine's Pade tanh (within 4 ulp) cannot flip a phase
CELLS = [(0.1, 0.1), (1.0, 1.0), (0.3, 3.0), (0.1, 3e3), (3e3, 3e3), (10.0, 0.3)]


@pytest.mark.parametrize("opt, name", [(gdyn.HeavyBall(beta=0.9), "heavy_ball"), (gdyn.Nesterov(beta=0.5), "nesterov"),
                                       (gdyn.Adam(), "adam"), (gdyn.RMSProp(), "rmsprop")])
def test_optimiser_map_matches_a_numpy_oracle(opt, name):
    p = _problem()
    kw = dict(beta=opt.beta) if name in ("heavy_ball", "nesterov", "rmsprop") else {}
    got = np.array([gf.trainability_map([a], [b], steps=STEPS, problem=p, optimizer=opt)[0, 0] for a, b in CELLS])
    want = np.array([naive.trainability_score_optimiser(p.W0, p.W1, p.X, p.Y, a, b, STEPS, name, **kw)
                     for a, b in CELLS])
    assert np.all(np.sign(got) == np.sign(want)), (got, want)
    # same operations up to summation order and the tanh's last bits, over 60 non-chaotic steps
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert (got < 0).any() and (got > 0).any()  # both phases are exercised


@pytest.mark.parametrize("opt", [gdyn.GD(), gdyn.HeavyBall(beta=0.9), gdyn.Nesterov(beta=0.5), gdyn.Adam(),
                                 gdyn.RMSProp()])
def test_engine_on_the_net_model_agrees_with_the_fused_kernel(opt):
    # GD, heavy ball, Nesterov, Adam and RMSProp map on the fused kernel; the same optimiser on the engine (the
    # net as a Model, per-group lr) computes the same map up to rounding: the fused kernel rounds each
    # multiply-add once (FMA), the engine twice. Away from the boundary the scores agree to rounding; at the
    # boundary a chaotic cell may change phase, so only most signs must agree
    p = _problem()
    lr = np.logspace(-1, 3, 16)
    ref = gf.trainability_map(lr, lr, steps=STEPS, problem=p, optimizer=opt)
    m = gf.model(p)
    A, B = np.meshgrid(lr, lr, indexing="ij")
    res = gdyn.run(m, opt, m.init(), lr={"W0": A.ravel(), "W1": B.ravel()}, steps=STEPS - 1, record_every=1,
                   blowup=1e150)
    v = np.where(np.isfinite(res.loss), res.loss, 1e6)
    v = np.minimum(v / v[0], 1e6)
    score = np.where(v[-20:].mean(axis=0) < 1, -v.sum(axis=0), (1 / v).sum(axis=0)).reshape(A.shape)
    assert np.mean(np.sign(score) == np.sign(ref)) >= 0.97
    rel = np.abs(score - ref) / np.abs(ref)
    assert np.median(rel) < 1e-12


def test_array_hyper_parameters_run_on_the_engine_with_the_fused_numbers():
    # an array of betas cannot take the fused path (one beta per kernel): the engine runs it, to rounding
    lr = np.array([0.1, 1.0, 3e3])
    for opt, arr in [(gdyn.HeavyBall(beta=0.9), gdyn.HeavyBall(beta=np.array([0.9]))),
                     (gdyn.Adam(), gdyn.Adam(beta2=np.array([0.999])))]:
        fused = gf.trainability_map(lr, lr, n=N_WIDTH, steps=STEPS, optimizer=opt)
        engine = gf.trainability_map(lr, lr, n=N_WIDTH, steps=STEPS, optimizer=arr)
        np.testing.assert_allclose(engine, fused, rtol=1e-9)


def test_output_layer_edge_is_the_linear_stability_threshold():
    """At lr0 -> 0 only W1 trains on a quadratic with top curvature lambda = 2 sigma_max(H)^2 / (N n^2): the
    first diverged lr1 is GD's 2 / lambda, heavy ball's 2 (1 + beta) / lambda and Nesterov's
    2 (1 + beta) / ((1 + 2 beta) lambda). Tolerance 1.5% plus the scan's spacing: within ~1% of a threshold
    100 steps cannot tell slow decay from slow growth (measured 0.3-1.0%); the optimisers differ by >= 36%."""
    p = gf.problem(N_WIDTH, "tanh", 100, 0)
    H = np.tanh(np.sqrt(2.0) * (p.X @ p.W0) / np.sqrt(N_WIDTH))
    lam = 2.0 * np.linalg.norm(H, 2) ** 2 / (p.X.shape[0] * N_WIDTH**2)
    beta = 0.9
    lr1 = np.logspace(np.log10(0.5 / lam), np.log10(5.0 / lam), 400)
    spacing = lr1[1] / lr1[0] - 1.0
    for opt, thr in [(None, 2.0), (gdyn.HeavyBall(beta=beta), 2.0 * (1 + beta)),
                     (gdyn.Nesterov(beta=beta), 2.0 * (1 + beta) / (1 + 2 * beta))]:
        s = gf.trainability_map([1e-6], lr1, steps=100, problem=p, optimizer=opt)[0]
        first = np.flatnonzero(s > 0)[0]
        assert first > 0
        assert abs(lr1[first] * lam / thr - 1.0) <= 0.015 + spacing, (opt, lr1[first] * lam / thr)


def test_stochastic_cells_are_keyed_by_their_index():
    lr = np.logspace(-1, 2, 6)
    opt = gdyn.SGD(batch_size=5)
    a = gf.trainability_map(lr, lr, n=N_WIDTH, steps=30, optimizer=opt)
    np.testing.assert_array_equal(a, gf.trainability_map(lr, lr, n=N_WIDTH, steps=30, optimizer=opt))
    # a cell's stream does not depend on the map around it (block or grid)
    sub = gf.trainability_map(lr[:1], lr, n=N_WIDTH, steps=30, optimizer=opt)
    np.testing.assert_array_equal(sub[0], a[0])


def test_labelled_map():
    lr0, lr1 = np.logspace(-1, 2, 5), np.logspace(-1, 2, 4)
    res = gf.trainability_dataset(lr0, lr1, n=N_WIDTH, steps=STEPS, optimizer=gdyn.HeavyBall(beta=0.9))
    np.testing.assert_array_equal(res.score, gf.trainability_map(lr0, lr1, n=N_WIDTH, steps=STEPS,
                                                                 optimizer=gdyn.HeavyBall(beta=0.9)))
    ds = res.to_xarray()
    assert ds.score.dims == ("lr0", "lr1")
    assert float(ds.score.sel(lr0=lr0[2], lr1=lr1[1])) == res.score[2, 1]
    assert bool(ds.converged.sel(lr0=lr0[0], lr1=lr1[0])) == (res.score[0, 0] < 0)


def test_bad_optimizer_values_are_refused_clearly():
    with pytest.raises(TypeError, match="optimizer"):
        gf.trainability_map([1.0], [1.0], n=N_WIDTH, steps=5, optimizer="adam")
    with pytest.raises(TypeError, match="optimizer"):
        gf.trainability_map([1.0], [1.0], n=N_WIDTH, steps=5, optimizer=gdyn.Adam)  # the class, not a value
    with pytest.raises(ValueError, match="optimizer"):
        gf.trainability_map([1.0], [1.0], n=N_WIDTH, steps=5, batch_size=4, optimizer=gdyn.HeavyBall())
    with pytest.raises(NotImplementedError, match="optimizer"):
        gf.gpu_trainability_map([1.0], [1.0], n=N_WIDTH, steps=5, optimizer=gdyn.Adam())
    with pytest.raises(TypeError, match="problem"):
        gf.model("not a problem")
    with pytest.raises(ValueError, match="full-batch"):
        gf.model(gf.problem(N_WIDTH, "tanh", 5, 0, batch_size=4))


def test_reproduction_tiny_config(tmp_path):
    from paper_repro import sohldickstein2024_fractal_optimisers as mod

    # n = 4: the kernels the tests above compiled
    cfg = dict(mod.QUICK, n=N_WIDTH, resolution=12, zoom_resolution=17, slice_points=150, mode="quick")
    paths = mod.main(cfg, out=tmp_path)
    assert set(paths) == set(mod.FIGURES)
    assert all(p.exists() for p in paths["boundaries"])
    side = json.loads((tmp_path / f"{mod.NAME}_boundaries.json").read_text())
    cl = side["claims"]
    assert cl["GD edge / threshold"]["holds"] and cl["heavy ball edge / threshold"]["holds"]
    assert abs(cl["heavy ball / GD edge (1 + beta)"]["value"] - 1.9) < 0.1
