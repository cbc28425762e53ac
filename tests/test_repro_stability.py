"""The four stability reproductions run end to end on small configs and write their figures; the data they
plot carry the papers' claims."""

import numpy as np
import pytest

from gdsim import repro
from paper_repro import agarwala2022_second_order_regression as agarwala
from paper_repro import kamber2025_dmf_sharpness as kamber
from paper_repro import large_step_logistic as logistic
from paper_repro import wu2023_sgd_stability as wu


def _load(path):
    with np.load(path) as f:
        return dict(f)


def _run(module, cfg, tmp_path):
    paths = module.main(cfg, out=tmp_path, seed=repro.DEFAULT_SEED)
    assert set(paths) == set(module.FIGURES)
    for files in paths.values():
        assert any(str(p).endswith(".png") for p in files)
        for p in files:
            assert p.stat().st_size > 0
    return paths


def test_agarwala_quick_figures(tmp_path):
    cfg = {**agarwala.QUICK, "steps": 3000, "random_P": 16, "random_lrs": [0.5, 1.0, 1.5], "map_lr": (0.5, 2.5, 24),
           "map_eps_y": (-0.4, 0.4, 16), "map_steps": 3000}
    _run(agarwala, cfg, tmp_path)
    d = _load(tmp_path / "agarwala2022_phase_map.npz")
    st, fin = d["status"], d["final_lr_ntk"]
    # every converged cell ends at eta lambda < 2 (a minimum with eta lambda > 2 is unstable for GD)
    assert np.all(fin[st == 0] < 2)
    # the map holds all four outcomes' main phases: converged, and not converged beyond the edge
    assert (st == 0).any() and (st != 0).any()
    # where gradient flow would end above 2/eta (right of the dashed line), converged GD still ends below 2
    lr, edge = d["lr"], d["gf_edge_lr"]
    beyond = (lr[:, None] > edge[None, :]) & (st == 0)
    assert beyond.any() and np.all(fin[beyond] < 2)


def test_logistic_quick_figures(tmp_path):
    cfg = {**logistic.QUICK, "gammas": (0.1, 1.0, 1e5), "curve_steps": 100, "ridge_steps": 500,
           "map_lr": (0.0, 3.0, 24), "map_l2": (-3.0, -1.0, 12), "map_steps": 500, "map_1d_steps": 3000}
    _run(logistic, cfg, tmp_path)
    d = _load(tmp_path / "large_step_logistic_phase.npz")
    # 1-D: converged cells lie below the exact threshold 2/L''(w*) (above it GD cannot converge)
    lr, thr, st = d["1d_lr"], d["1d_threshold"], d["1d_status"]
    assert st.shape == (lr.size, thr.size)
    conv = st == 0
    assert np.all(lr[np.nonzero(conv)[0]] < thr[np.nonzero(conv)[1]])
    c = _load(tmp_path / "large_step_logistic_curves.npz")
    # the loss at the largest step is non-monotone (it rises at the first steps), at small steps it only falls
    big, small = c["loss"][:, -1], c["loss"][:, 0]
    assert np.any(np.diff(big) > 0) and np.all(np.diff(small) <= 0)
    assert c["sep_steps"][-1] == c["sep_perceptron"]


def test_wu_quick_figures(tmp_path):
    cfg = {**wu.QUICK, "instances": 10, "lrs": (0.01, 0.03), "seeds": 1, "steps": 100000}
    _run(wu, cfg, tmp_path)
    d = _load(tmp_path / "wu2023_threshold.npz")
    assert np.all(d["lr_trace_B1"] <= 2 + 1e-9)
    assert d["orthogonal_lr_trace"] == pytest.approx(2.0, abs=1e-9)


def test_kamber_quick_figures(tmp_path):
    cfg = {**kamber.QUICK, "depths": (2, 3), "widths": (2, 4), "instances": 1, "imbalance": [0.5, 1.0, 2.0],
           "unbalanced": 5, "escape_steps": 2000}
    _run(kamber, cfg, tmp_path)
    d = _load(tmp_path / "kamber2025_exact_vs_lanczos.npz")
    assert np.nanmax(d["balanced_rel_diff"]) < 1e-10 and np.nanmax(d["depth2_unbalanced_rel_diff"]) < 1e-10
    assert np.all(d["depth3_ratio"] <= 1 + 1e-10)
    e = _load(tmp_path / "kamber2025_escape.npz")
    assert e["distance"][-1, 0] < 1e-6 < 1e-3 < e["distance"][-1, 1]
