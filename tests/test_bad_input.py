"""Every public function, helpers included, fed bad input: only ValueError/TypeError naming the argument.

The harness enumerates the packages' ``__all__`` (a test fails when a public function has no entry in
``VALID`` below, so new functions join the harness). For every parameter it substitutes bad values of
the parameter's kind (curated, then random ones drawn by hypothesis) into a small valid call, and
classifies the outcome:

* a ValueError or TypeError whose message names the parameter: good;
* any other exception (AttributeError, numba's TypingError, ZeroDivisionError, ...): wrong type;
* a value that is invalid for every function (NaN, a string for a number, ...) accepted: a failure;
* a result holding NaN where the valid call has none: a silent NaN.

Absurd sizes (10^13 steps or runs) must fail fast or finish: a watchdog turns a hang into a failure
with a traceback instead of a stuck CI job.
"""

from __future__ import annotations

import faulthandler
import importlib
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdsim
import gdsim.fractal as gf
import gdsim.games as gg
import gdsim.langevin as gl
import gdsim.particles as gp
import gdsim.scalar as sc
import gdsim.sensing as gs
import gdsim.sweep as gsw
from gdsim.scalar import squared_regression as sr

import gdsim.dynamics as gdyn  # noqa: I001 - after the families, as in the README
import gdsim.models as gm
import gdsim.stability as gst
import gdsim.data as gdata
import gdsim.guess_check as ggc

PACKAGES = ["gdsim", "gdsim.scalar", "gdsim.scalar.squared_regression", "gdsim.sensing", "gdsim.games",
            "gdsim.particles", "gdsim.langevin", "gdsim.fractal", "gdsim.sweep", "gdsim.models", "gdsim.dynamics",
            "gdsim.stability", "gdsim.data", "gdsim.guess_check"]

# ----------------------------------------------------------------------------------- valid calls
_LOGISTIC = (np.array([[1.0, 0.5], [-0.3, 1.0], [-1.0, -0.2]]), np.array([1.0, 1.0, -1.0]))
_HESSIANS = np.einsum("ni,nj->nij", np.eye(3)[:2] + 0.1, np.eye(3)[:2] + 0.1)


def _sensing_problem():
    return gs.make_problem(4, 1, spectrum=[1.0], measurements=8, seed=0)


def _scalar_result():
    return sc.gd([[1.1, 0.9]], 0.1, 4, record_every=2)


def _tiny_sweep(tmp):
    return gsw.Sweep("harness", axes={"eta": [0.1, 0.2], "sigma": [0.5]}, simulation="tests.sweep_sims:random_walk",
                     params={"steps": 8})


def _tiny_store(tmp):
    store = tmp / "done.zarr"
    if not store.exists():
        gsw.run(_tiny_sweep(tmp), store, progress=False, verbose=False)
    return store


def _spec_file(tmp):
    path = tmp / "spec.toml"
    path.write_text('name = "h"\nsimulation = "tests.sweep_sims:random_walk"\n[axes]\neta = [0.1]\nsigma = [0.5]\n')
    return path


def _park_state():
    rng = np.random.default_rng(0)
    K, L = 2, 4
    return dict(W=rng.normal(size=(K, L)), M=rng.normal(size=(L, 3)), Wstar=rng.normal(size=(K, L)),
                Z=rng.normal(size=K), x_test=rng.normal(size=(5, 3)), T=0.1, sigma_w=1.0, r=2)


_X2 = np.array([[0.5, -1.0], [1.0, 0.3], [-0.2, 0.8], [0.1, 0.1]])
_Y2 = np.array([0.2, -0.1, 0.4, 0.0])
_MLP = []


def _mlp():
    if not _MLP:
        _MLP.append(gm.mlp([2, 3, 1], "tanh", "mse", data=(_X2, _Y2)))
    return _MLP[0]


def _quad_lg(w, g):
    for i in range(w.size):
        g[i] = w[i]
    return 0.5 * np.sum(w * w)


def _dyn(**extra):
    return lambda t: dict(m=_mlp(), w0=np.full(13, 0.3), lr=0.1, steps=3, record_every=1, **extra)


T1 = gg.payoff_t1()
_A = np.array([[0.0, 1.0], [1.0, 0.0]])
_P = np.array([0.5, 0.5])

# name -> (callable, kwargs builder taking tmp_path) ; kinds are inferred from the defaults and KINDS
VALID = {
    "gdsim.cuda_available": (gdsim.cuda_available, lambda t: {}),
    "gdsim.Result": (gdsim.Result, lambda t: dict(arrays={"a": np.zeros(2)}, meta={})),
    "gdsim.scalar.gd": (sc.gd, lambda t: dict(w0=[[1.1, 0.9]], lr=0.1, steps=4, record_every=2)),
    "gdsim.scalar.gpu_gd": (sc.gpu_gd, lambda t: dict(w0=[[1.1, 0.9]], lr=0.1, steps=4, record_every=2)),
    "gdsim.scalar.sharpness": (sc.sharpness, lambda t: dict(w=[1.1, 0.9])),
    "gdsim.scalar.gfs": (sc.gfs, lambda t: dict(w=[1.1, 0.9])),
    "gdsim.scalar.gfs_sharpness": (sc.gfs_sharpness, lambda t: dict(w=[1.1, 0.9])),
    "gdsim.scalar.min_gfs_sharpness": (sc.min_gfs_sharpness, lambda t: dict(depth=3)),
    "gdsim.scalar.converged": (sc.converged, lambda t: dict(result=_scalar_result())),
    "gdsim.scalar.first_converged_step": (sc.first_converged_step, lambda t: dict(result=_scalar_result())),
    "gdsim.scalar.record_times": (sc.record_times, lambda t: dict(steps=10, record_every=3)),
    "gdsim.scalar.squared_regression.gd": (sr.gd, lambda t: dict(w0=[[0.5, 0.5]], lr=0.05, steps=3, X=np.eye(2),
                                                                 y=np.ones(2))),
    "gdsim.scalar.squared_regression.sharpness": (sr.sharpness, lambda t: dict(w=[0.5, 0.5], X=np.eye(2),
                                                                               y=np.ones(2))),
    "gdsim.scalar.squared_regression.gfs": (sr.gfs, lambda t: dict(w=[0.5, 0.5], X=np.eye(2), y=np.ones(2))),
    "gdsim.scalar.squared_regression.gfs_sharpness": (sr.gfs_sharpness, lambda t: dict(w=[0.5, 0.5], X=np.eye(2),
                                                                                       y=np.ones(2))),
    "gdsim.scalar.squared_regression.reference_instance": (sr.reference_instance, lambda t: {}),
    "gdsim.sensing.make_problem": (gs.make_problem, lambda t: dict(d=4, rank=1, spectrum=[1.0], m=8, seed=0)),
    "gdsim.sensing.gd": (gs.gd, lambda t: dict(problem=_sensing_problem(), r_hat=2, init_scale=[1e-2], steps=3, lr=0.1,
                                               seed=0)),
    "gdsim.sensing.gpu_gd": (gs.gpu_gd, lambda t: dict(problem=_sensing_problem(), r_hat=2, init_scale=[1e-2], steps=3,
                                                       lr=0.1, seed=0)),
    "gdsim.sensing.scaled_gd": (gs.scaled_gd, lambda t: dict(problem=_sensing_problem(), r_hat=2, init_scale=[1e-2],
                                                             steps=3, lr=0.1, lam=1e-3, seed=0)),
    "gdsim.sensing.asymmetric_gd": (gs.asymmetric_gd, lambda t: dict(target=np.diag([1.0, 0.5, 0, 0, 0, 0]),
                                                                     k_rank=3, init_scale=[0.1], steps=3, lr=0.1, seed=0)),
    "gdsim.sensing.learning_times": (gs.learning_times, lambda t: dict(eigs=np.array([[[0.1]], [[0.6]]]),
                                                                       t=np.array([0, 1]), targets=[1.0])),
    "gdsim.sensing.initial_factors": (gs.initial_factors, lambda t: dict(problem=_sensing_problem(), r_hat=2,
                                                                         init_scale=[1e-2], seed=0)),
    "gdsim.games.payoff_t1": (gg.payoff_t1, lambda t: {}),
    "gdsim.games.payoff_t2": (gg.payoff_t2, lambda t: {}),
    "gdsim.games.payoff_t3": (gg.payoff_t3, lambda t: {}),
    "gdsim.games.random_trig_payoff": (gg.random_trig_payoff, lambda t: dict(order=2, seed=0)),
    "gdsim.games.trig_payoff": (gg.trig_payoff, lambda t: dict(coef=T1.coef)),
    "gdsim.games.particle_gda": (gg.particle_gda, lambda t: dict(payoff=T1, tau=1.0, eta=1.0, t_final=4e-4, n_x=4, dt=2e-4,
                                                                 runs=2, seed=0, n_records=2, ni_grid=4)),
    "gdsim.games.gpu_particle_gda": (gg.gpu_particle_gda, lambda t: dict(payoff=T1, tau=1.0, eta=1.0, t_final=4e-4, n_x=4,
                                                                         dt=2e-4, runs=2, seed=0, n_records=2,
                                                                         ni_grid=4)),
    "gdsim.games.entropic_equilibrium": (gg.entropic_equilibrium, lambda t: dict(payoff=T1, tau=1.0, M=16)),
    "gdsim.games.nikaido_isoda": (gg.nikaido_isoda, lambda t: dict(A=_A, p=_P, q=_P, tau=0.1)),
    "gdsim.games.mean_field_pde": (gg.mean_field_pde, lambda t: dict(payoff=T1, tau=1.0, eta=1.0, t_final=1e-3, M=8,
                                                                     n_records=2)),
    "gdsim.games.lyapunov_terms": (gg.lyapunov_terms, lambda t: dict(A=_A, p=_P, q=_P, tau=0.1, value_star=0.5)),
    "gdsim.games.regularised_value": (gg.regularised_value, lambda t: dict(A=_A, p=_P, q=_P, tau=0.1)),
    "gdsim.games.grid_moments": (gg.grid_moments, lambda t: dict(g=np.array([0.25, 0.75]), p=_P, q=_P)),
    "gdsim.games.wrapped_gaussian": (gg.wrapped_gaussian, lambda t: dict(M=8, center=0.5, sd=0.1)),
    "gdsim.games.annealing_schedule": (gg.annealing_schedule, lambda t: dict(xi=1.0, t_final=1.0, dt=0.1)),
    "gdsim.games.lipschitz_bound": (gg.lipschitz_bound, lambda t: dict(payoff=T1, M=16)),
    "gdsim.particles.energy_distance": (gp.energy_distance, lambda t: dict(w=[0.1, -0.2])),
    "gdsim.particles.particle_gd": (gp.particle_gd, lambda t: dict(w0=np.zeros((2, 3)), objective="energy_uniform",
                                                                   steps=3, seed=0)),
    "gdsim.particles.noisy_particle_gd": (gp.noisy_particle_gd, lambda t: dict(w0=np.zeros((2, 3)),
                                                                               objective="energy_uniform", steps=3,
                                                                               seed=0)),
    "gdsim.particles.gpu_particle_gd": (gp.gpu_particle_gd, lambda t: dict(w0=np.zeros((2, 3)),
                                                                           objective="energy_uniform", steps=3,
                                                                           seed=0)),
    "gdsim.particles.sparse_optimum": (gp.sparse_optimum, lambda t: dict(n=3)),
    "gdsim.particles.nn_loss": (gp.nn_loss, lambda t: dict(theta=[0.5, 2.0])),
    "gdsim.particles.objective_value": (gp.objective_value, lambda t: dict(w=[0.1, 0.2], objective="energy_uniform")),
    "gdsim.particles.objective_grad": (gp.objective_grad, lambda t: dict(w=[0.1, 0.2], objective="energy_uniform")),
    "gdsim.particles.make_objective": (gp.make_objective, lambda t: dict(objective="energy_uniform")),
    "gdsim.particles.step_sizes": (gp.step_sizes, lambda t: dict(step="inv_sqrt", steps=5)),
    "gdsim.log_steps": (gdsim.log_steps, lambda t: dict(steps=100, n_records=5)),
    "gdsim.linear_steps": (gdsim.linear_steps, lambda t: dict(steps=100, n_records=5)),
    "gdsim.record_times": (gdsim.record_times, lambda t: dict(steps=100, record_every=7)),
    "gdsim.langevin.dyson_ou": (gl.dyson_ou, lambda t: dict(d=2, sigma=1.0, runs=2, steps=2, seed=0)),
    "gdsim.langevin.teacher_student_2x2": (gl.teacher_student_2x2, lambda t: dict(lr=0.1, noise_std=0.1, batch_size=2,
                                                                                  steps=2, runs=2, seed=0)),
    "gdsim.langevin.park_network_sgd": (gl.park_network_sgd, lambda t: dict(temperature=0.1, sigma_w=1.0, epochs=1, width=2,
                                                                            n_samples=4, seed=0)),
    "gdsim.langevin.gpu_park_network_sgd": (gl.gpu_park_network_sgd, lambda t: dict(temperature=0.1, sigma_w=1.0, epochs=1,
                                                                                    width=2, n_samples=4, seed=0)),
    "gdsim.langevin.perceptron_sgd": (gl.perceptron_sgd, lambda t: dict(temperature=0.1, n_samples=4, d=3, runs=2, max_epochs=3,
                                                                        seed=0)),
    "gdsim.langevin.gpu_perceptron_sgd": (gl.gpu_perceptron_sgd, lambda t: dict(temperature=0.1, n_samples=4, d=3, runs=2,
                                                                                max_epochs=3, seed=0)),
    "gdsim.langevin.perceptron_data": (gl.perceptron_data, lambda t: dict(n_samples=4, d=3, chi=1.0,
                                                                          rng=np.random.default_rng(0))),
    "gdsim.langevin.mlp_sgd": (gl.mlp_sgd, lambda t: dict(alpha=1.0, temperature=0.1, n_samples=8, d=2, width=3, batch_size=2, runs=1,
                                                          max_epochs=2, seed=0)),
    "gdsim.langevin.ordered_by_drift_vs_coulomb": (gl.ordered_by_drift_vs_coulomb, lambda t: _park_state()),
    "gdsim.langevin.goe2_density": (gl.goe2_density, lambda t: dict(x=[0.1, 0.5])),
    "gdsim.langevin.wigner_surmise_pdf": (gl.wigner_surmise_pdf, lambda t: dict(s=[0.1, 0.5])),
    "gdsim.langevin.wigner_surmise_cdf": (gl.wigner_surmise_cdf, lambda t: dict(s=[0.1, 0.5])),
    "gdsim.langevin.semicircle_density": (gl.semicircle_density, lambda t: dict(x=[0.1, 0.5])),
    "gdsim.langevin.p_tanh": (gl.p_tanh, lambda t: dict(phi=[0.1, 0.5], sigma2=0.5)),
    "gdsim.langevin.discrete_spacing_width": (gl.discrete_spacing_width, lambda t: dict(lr=0.1, noise_std=0.1,
                                                                                        batch=4)),
    "gdsim.langevin.teacher_student_moments": (gl.teacher_student_moments, lambda t: dict(lr=0.1, noise_std=0.1,
                                                                                          batch=4)),
    "gdsim.langevin.max_stationary_lr": (gl.max_stationary_lr, lambda t: dict(batch_size=4)),
    "gdsim.langevin.dyson_ou_width": (gl.dyson_ou_width, lambda t: dict(sigma=1.0, dt=0.01)),
    "gdsim.fractal.trainability_map": (gf.trainability_map, lambda t: dict(lr0=[0.1, 1.0], lr1=[0.1], n=2, steps=2)),
    "gdsim.fractal.gpu_trainability_map": (gf.gpu_trainability_map, lambda t: dict(lr0=[0.1, 1.0], lr1=[0.1], n=2,
                                                                                   steps=2)),
    "gdsim.fractal.trainability_dataset": (gf.trainability_dataset, lambda t: dict(
        lr0=[0.1, 1.0], lr1=[0.1], n=2, steps=2, optimizer=gdyn.HeavyBall(beta=0.9))),
    "gdsim.fractal.model": (gf.model, lambda t: dict(problem=gf.problem(n=2, steps=2))),
    "gdsim.fractal.offset_map": (gf.offset_map, lambda t: dict(offset=[0.1, 1.0], lr=[0.1], n=2, steps=2)),
    "gdsim.fractal.gpu_offset_map": (gf.gpu_offset_map, lambda t: dict(offset=[0.1, 1.0], lr=[0.1], n=2, steps=2)),
    "gdsim.fractal.problem": (gf.problem, lambda t: dict(n=2, steps=2)),
    "gdsim.fractal.window_axes": (gf.window_axes, lambda t: dict(center=(0.0, 0.0), half_width=1.0, resolution=4)),
    "gdsim.fractal.window_map": (gf.window_map, lambda t: dict(center=(0.0, 0.0), half_width=1.0, resolution=4, n=2,
                                                               steps=2)),
    "gdsim.fractal.zoom_sequence": (gf.zoom_sequence, lambda t: dict(center=(0.0, 0.0), half_width=1.0, levels=2,
                                                                     resolution=4, n=2, steps=2)),
    "gdsim.fractal.boundary": (gf.boundary, lambda t: dict(score=np.array([[1.0, -1.0], [1.0, 1.0]]))),
    "gdsim.fractal.box_counts": (gf.box_counts, lambda t: dict(mask=np.eye(8, dtype=bool))),
    "gdsim.fractal.box_counting_dimension": (gf.box_counting_dimension, lambda t: dict(mask=np.eye(8, dtype=bool))),
    "gdsim.fractal.default_box_sizes": (gf.default_box_sizes, lambda t: dict(shape=(8, 8))),
    "gdsim.fractal.converged_fraction": (gf.converged_fraction, lambda t: dict(score=np.array([1.0, -1.0]))),
    "gdsim.fractal.boundary_centers": (gf.boundary_centers, lambda t: dict(
        score=np.array([[1.0, -1.0], [1.0, 1.0]]), axis0=np.array([0.1, 1.0]), axis1=np.array([0.1, 1.0]),
        count=1)),
    "gdsim.fractal.densest_boundary_center": (gf.densest_boundary_center, lambda t: dict(
        score=np.array([[1.0, -1.0], [1.0, 1.0]]), axis0=np.array([0.1, 1.0]), axis1=np.array([0.1, 1.0]),
        window=1)),
    "gdsim.sweep.Sweep": (gsw.Sweep, lambda t: dict(name="h", axes={"eta": [0.1], "sigma": [0.5]},
                                                     simulation="tests.sweep_sims:random_walk")),
    "gdsim.sweep.Output": (gsw.Output, lambda t: dict(shape=(2,))),
    "gdsim.sweep.simulation": (gsw.simulation, lambda t: dict(outputs={"a": ()})),
    "gdsim.sweep.load_spec": (gsw.load_spec, lambda t: dict(path=_spec_file(t))),
    "gdsim.sweep.run": (gsw.run, lambda t: dict(sweep=_tiny_sweep(t), store=t / "run.zarr", progress=False,
                                                verbose=False)),
    "gdsim.sweep.open_dataset": (gsw.open_dataset, lambda t: dict(store=_tiny_store(t))),
    "gdsim.sweep.status": (gsw.status, lambda t: dict(store=_tiny_store(t))),
    "gdsim.models.custom": (gm.custom, lambda t: dict(loss_grad=_quad_lg, n_params=3)),
    "gdsim.models.mlp": (gm.mlp, lambda t: dict(sizes=[2, 3, 1], data=(_X2, _Y2))),
    "gdsim.models.deep_linear": (gm.deep_linear, lambda t: dict(sizes=[2, 2, 1], data=(_X2, _Y2))),
    "gdsim.models.diagonal_linear": (gm.diagonal_linear, lambda t: dict(data=(_X2, _Y2))),
    "gdsim.models.matrix_factorisation": (gm.matrix_factorisation, lambda t: dict(target=np.eye(3), rank=2)),
    "gdsim.models.scalar_network": (gm.scalar_network, lambda t: dict(D=3)),
    "gdsim.models.squared_regression": (gm.squared_regression, lambda t: dict(X=_X2, y=_Y2)),
    "gdsim.models.matrix_sensing": (gm.matrix_sensing, lambda t: dict(problem=_sensing_problem(), r_hat=2)),
    "gdsim.dynamics.gd": (gdyn.gd, _dyn()),
    "gdsim.dynamics.run": (gdyn.run, lambda t: dict(m=_mlp(), optimiser=gdyn.HeavyBall(beta=0.5), w0=np.full(13, 0.3),
                                                    lr=0.1, steps=3, record_every=1)),
    "gdsim.dynamics.GD": (gdyn.GD, lambda t: {}),
    "gdsim.dynamics.central_flow": (gdyn.central_flow, lambda t: dict(m=_mlp(), w0=np.full(13, 0.3), lr=0.1, t_final=2.0,
                                                                       record_interval=1.0, seed=0)),
    "gdsim.guess_check.sensing_task": (ggc.sensing_task, lambda t: dict(shape=(2, 2), measurements=2, rank=1, seed=0)),
    "gdsim.guess_check.guess_and_check": (ggc.guess_and_check, lambda t: dict(
        tasks=ggc.sensing_task(2, 2, seed=0), width=2, depth=2, loss_threshold=0.5, draws=64, seed=0)),
    "gdsim.guess_check.sensing_model": (ggc.sensing_model, lambda t: dict(task=ggc.sensing_task(2, 2, seed=0), width=2)),
    "gdsim.guess_check.gd_generalisation": (ggc.gd_generalisation, lambda t: dict(
        tasks=ggc.sensing_task(2, 2, seed=0), width=2, lr=0.1, steps=3, seed=0)),
    "gdsim.guess_check.prior_mean": (ggc.prior_mean, lambda t: dict(task=ggc.sensing_task(2, 2, seed=0), width=2)),
    "gdsim.guess_check.prior_second_moment": (ggc.prior_second_moment, lambda t: dict(shape=(2, 2), width=2)),
    "gdsim.dynamics.hessian_trace": (gdyn.hessian_trace, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), method="hutchinson",
                                                                         probes=4, seed=0)),
    "gdsim.dynamics.hessian_diagonal": (gdyn.hessian_diagonal, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), probes=4,
                                                                               seed=0)),
    "gdsim.dynamics.spectral_density": (gdyn.spectral_density, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), probes=2,
                                                                               steps=5, seed=0)),
    "gdsim.dynamics.density_on_grid": (gdyn.density_on_grid, lambda t: dict(nodes=np.array([[0.0, 1.0]]),
                                                                             weights=np.array([[0.5, 0.5]]),
                                                                             grid=np.linspace(-1, 2, 5), bandwidth=0.1)),
    "gdsim.dynamics.hessian_blocks": (gdyn.hessian_blocks, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), seed=0)),
    "gdsim.dynamics.eigenvalues_above": (gdyn.eigenvalues_above, lambda t: dict(m=_mlp(), w=np.full(13, 0.3),
                                                                                 threshold=0.01, max_count=4, seed=0)),
    "gdsim.dynamics.loss_slice": (gdyn.loss_slice, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), direction="random",
                                                                   n_directions=1, span=0.5, n_points=3, seed=0)),
    "gdsim.dynamics.HeavyBall": (gdyn.HeavyBall, lambda t: dict(beta=0.9)),
    "gdsim.dynamics.Nesterov": (gdyn.Nesterov, lambda t: dict(beta=0.9)),
    "gdsim.dynamics.SGD": (gdyn.SGD, lambda t: dict(batch_size=2, replace=False, momentum=0.5, nesterov=False)),
    "gdsim.dynamics.Adam": (gdyn.Adam, lambda t: dict(beta1=0.9, beta2=0.999, eps=1e-8)),
    "gdsim.dynamics.RMSProp": (gdyn.RMSProp, lambda t: dict(beta=0.99, eps=1e-8)),
    "gdsim.dynamics.Langevin": (gdyn.Langevin, lambda t: dict(temperature=0.1)),
    "gdsim.dynamics.GDA": (gdyn.GDA, lambda t: dict(ascent=1, ratio=1.0)),
    "gdsim.dynamics.Observable": (gdyn.Observable, lambda t: dict(name="w_norm", fn=np.linalg.norm, doc="norm")),
    "gdsim.dynamics.gpu_gd": (gdyn.gpu_gd, _dyn()),
    "gdsim.dynamics.sgd": (gdyn.sgd, _dyn(batch_size=2)),
    "gdsim.dynamics.momentum": (gdyn.momentum, _dyn()),
    "gdsim.dynamics.adam": (gdyn.adam, _dyn()),
    "gdsim.dynamics.rmsprop": (gdyn.rmsprop, _dyn()),
    "gdsim.dynamics.gradient_flow": (gdyn.gradient_flow, lambda t: dict(m=_mlp(), w0=np.full(13, 0.3), t_final=0.5,
                                                                        n_records=3)),
    "gdsim.dynamics.top_eigenvalues": (gdyn.top_eigenvalues, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), k=2)),
    "gdsim.dynamics.top_eigenpairs": (gdyn.top_eigenpairs, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), k=2)),
    "gdsim.dynamics.sharpness": (gdyn.sharpness, lambda t: dict(m=_mlp(), w=np.full(13, 0.3))),
    "gdsim.dynamics.gfs_sharpness": (gdyn.gfs_sharpness, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), loss_tol=1e-6,
                                                                        grad_tol=1e-7)),
    "gdsim.dynamics.gfs": (gdyn.gfs, lambda t: dict(m=_mlp(), w=np.full(13, 0.3), loss_tol=1e-6, grad_tol=1e-7)),
    "gdsim.models.second_order_regression": (gm.second_order_regression, lambda t: dict(
        jacobian=[0.6, 0.8], quadratic=np.diag([0.1, -0.1]), target=1.0)),
    "gdsim.models.logistic_regression": (gm.logistic_regression, lambda t: dict(data=_LOGISTIC, l2=0.01)),
    "gdsim.models.deep_matrix_factorisation": (gm.deep_matrix_factorisation, lambda t: dict(target=np.eye(2), depth=3)),
    "gdsim.dynamics.sgd_stability_threshold": (gdyn.sgd_stability_threshold, lambda t: dict(hessians=_HESSIANS,
                                                                                            batch=1)),
    "gdsim.dynamics.sgd_stability_radius": (gdyn.sgd_stability_radius, lambda t: dict(hessians=_HESSIANS, lr=0.1,
                                                                                      batch=2)),
    "gdsim.stability.second_order_map": (gst.second_order_map, lambda t: dict(lr=[1.0, 1.5], eps_y=[0.1], steps=20)),
    "gdsim.stability.second_order_flow_limit": (gst.second_order_flow_limit, lambda t: dict(eps_y=[0.1, -0.1])),
    "gdsim.stability.separable_data": (gst.separable_data, lambda t: dict(n=20, d=3)),
    "gdsim.stability.logistic_map": (gst.logistic_map, lambda t: dict(data=_LOGISTIC, lr=[1.0, 2.0], l2=[0.01],
                                                                      steps=20)),
    "gdsim.stability.logistic_separation_steps": (gst.logistic_separation_steps, lambda t: dict(data=_LOGISTIC,
                                                                                                lr=1.0)),
    "gdsim.stability.perceptron_steps": (gst.perceptron_steps, lambda t: dict(data=_LOGISTIC)),
    "gdsim.stability.logistic_1d_threshold": (gst.logistic_1d_threshold, lambda t: dict(l2=0.01)),
    "gdsim.stability.dmf_balanced_factors": (gst.dmf_balanced_factors, lambda t: dict(target=np.eye(2) * 2, depth=3)),
    "gdsim.stability.dmf_sharpness": (gst.dmf_sharpness, lambda t: dict(factors=[np.eye(2), 2 * np.eye(2)])),
    "gdsim.stability.dmf_sharpness_bound": (gst.dmf_sharpness_bound, lambda t: dict(factors=[np.eye(2),
                                                                                             2 * np.eye(2)])),
    "gdsim.data.load": (gdata.load, lambda t: dict(name="wine", n=30, classes=(0, 1), seed=0)),
    "gdsim.dynamics.training_jacobian": (gdyn.training_jacobian, lambda t: dict(m=_mlp(), w0=np.full(13, 0.3),
                                                                                optimiser=gdyn.GD(), steps=3, k=2, lr=0.1)),
    "gdsim.dynamics.training_trajectory": (gdyn.training_trajectory, lambda t: dict(m=_mlp(), w0=np.full(13, 0.3),
                                                                                    optimiser=gdyn.GD(), steps=3, lr=0.1)),
    "gdsim.dynamics.eos_diagnostics": (gdyn.eos_diagnostics, lambda t: dict(t=[0, 1, 2], sharpness=[1.0, 2.0, 3.0],
                                                                            threshold=2.5)),
}

# Classes whose instances come from a factory, not from users calling the constructor, and constants.
NOT_CALLED = {"gdsim.dynamics.Optimiser", "gdsim.guess_check.SensingTask", "gdsim.guess_check.PriorMean", "gdsim.models.ParamGroup", "gdsim.particles.record_steps",  # a base class; a deprecated alias
              "gdsim.models.Model", "gdsim.dynamics.TrainingTrajectory", "gdsim.data.Dataset", "gdsim.CudaUnavailableError", "gdsim.sweep.SpecError", "gdsim.sweep.Chunk", "gdsim.sweep.SweepReport",
              "gdsim.sweep.SweepStore", "gdsim.sensing.SensingProblem", "gdsim.games.Payoff",
              "gdsim.particles.Objective", "gdsim.fractal.Problem", "gdsim.games.user_payoff"}

# Kinds of the parameters that the defaults do not tell.
KINDS = {
    "w0": "array", "w": "array", "eta": "array", "X": "array", "y": "array", "theta": "array", "alpha": "array",
    "eigs": "array", "t": "array", "targets": "array", "A": "array", "p": "array", "q": "array", "g": "array",
    "x": "array", "s": "array", "phi": "array", "W": "array", "M": "int", "Wstar": "array", "Z": "array",
    "x_test": "array", "score": "array", "axis0": "array", "axis1": "array", "mask": "array", "coef": "array",
    "lr0": "array", "lr1": "array", "offset": "array", "lr": "float", "T": "float", "t_final": "float", "sigma_w": "float",
    "center": "pair", "target": "any", "P": "int", "steps": "count", "D": "int", "d": "int", "rank": "int",
    "r_hat": "int", "k_rank": "int", "n": "int", "batch": "count", "order": "int", "levels": "int",
    "resolution": "int", "count": "count", "window": "count", "record_every": "count", "mu": "float", "lam": "float",
    "tau": "float", "h": "float", "xi": "float", "sigma": "float", "dt": "float", "noise_std": "float",
    "value_star": "float", "centre": "float", "sd": "float", "half_width": "float", "sigma2": "float",
    "chi": "float", "r": "int", "seed": "seed", "rng": "rng", "problem": "obj", "payoff": "obj",
    "result": "obj", "objective": "option", "step": "any", "sweep": "obj", "store": "path", "path": "path",
    "name": "name", "axes": "obj", "simulation": "any", "outputs": "obj", "arrays": "obj", "meta": "obj",
    "shape": "any", "equilibrium": "obj", "init": "any", "spectrum": "array", "m": "int", "U0": "array",
    "sizes": "array", "interval": "pair", "kw": "any", "kwargs": "any", "client": "any", "scheduler": "any",
    "warmup": "any", "params": "obj", "chunks": "obj", "dims": "any", "coords": "any", "lazy": "any",
    "dtype": "option", "observe": "any", "families": "any", "p0": "array", "q0": "array", "anneal_xi": "float",
    "n_y": "int", "n_data": "int", "n_samples": "int", "batch_size": "int", "store_dir": "path", "tile": "count", "factor": "float",
    "phase_space": "option", "activation": "option", "generator": "option", "drift": "option",
    "noise_scaling": "option", "executor": "option", "step_lambda": "float", "imbalance": "float",
    "tol": "float", "noise": "float", "blowup": "float", "a": "float", "b": "float", "x0": "float",
    "radius": "float", "kappa": "float", "init_std": "float", "max_iter": "count", "max_epochs": "count",
    "epochs": "count", "seeds": "int", "K": "int", "runs": "int", "n_x": "int", "n_records": "int",
    "ni_grid": "int", "workers": "int", "threads_per_worker": "int", "max_chunks": "count",
    "chunk_points": "int", "loss_grad": "any", "n_params": "int", "data": "obj", "hvp": "any", "test_data": "any",
    "per_sample": "any", "init_scale": "float", "loss": "option", "scaling": "option", "bias": "bool", "depth": "int",
    "k": "int", "lanczos_tol": "float", "loss_tol": "float", "grad_tol": "float", "rtol": "float", "atol": "float",
    "max_steps": "count", "gfs_kwargs": "any", "beta": "float", "beta1": "float", "beta2": "float", "eps": "float",
    "momentum": "float", "nesterov": "bool", "replace": "bool", "record_interval": "float", "threshold": "float",
    "sharpness": "array", "jacobian": "array", "quadratic": "array", "l2": "array", "eps_y": "array",
    "hessians": "array", "replacement": "bool", "widths": "any", "factors": "obj", "balance_tol": "float",
    "angle": "float", "margin": "float", "classes": "any", "standardise": "bool",
    "optimizer": "obj",
}

# ------------------------------------------------------ gdsim.tubal and gdsim.adam_sharpness (issue 30 item 6)
import gdsim.adam_sharpness as gas  # noqa: E402
import gdsim.tubal as gtu  # noqa: E402

PACKAGES += ["gdsim.tubal", "gdsim.adam_sharpness"]
_T3 = np.arange(12.0).reshape(2, 3, 2) / 10
_TP = []


def _tubal_problem():
    if not _TP:
        _TP.append(gtu.make_problem(3, 2, 1, measurements=10, seed=0))
    return _TP[0]


def _sparse():
    return gas.sparse_regression(n_samples=4, d=3, sparsity=1, seed=0)


def _fact():
    return gas.factorisation_problem(d=3, rank=1, measurements=4, seed=0)


_W_TUBAL = np.linspace(-0.5, 0.5, 12)  # U (3, 2, 2)
_W_DIAG = np.r_[np.linspace(0.2, 0.6, 6), 7.0, 0.0]  # u, v (d = 3), key, clock
_W_FACT = np.r_[0.3, -0.2, 0.5, 7.0, 0.0]  # U (3, 1), key, clock
VALID.update({
    "gdsim.tubal.t_product": (gtu.t_product, lambda t: dict(A=_T3, B=np.swapaxes(_T3, 0, 1))),
    "gdsim.tubal.t_transpose": (gtu.t_transpose, lambda t: dict(A=_T3)),
    "gdsim.tubal.t_identity": (gtu.t_identity, lambda t: dict(d=2, n_slices=3)),
    "gdsim.tubal.fourier_slices": (gtu.fourier_slices, lambda t: dict(A=_T3)),
    "gdsim.tubal.from_fourier_slices": (gtu.from_fourier_slices, lambda t: dict(Ahat=gtu.fourier_slices(_T3))),
    "gdsim.tubal.tubal_singular_values": (gtu.tubal_singular_values, lambda t: dict(A=_T3)),
    "gdsim.tubal.tubal_rank": (gtu.tubal_rank, lambda t: dict(A=_T3, tol=1e-3)),
    "gdsim.tubal.make_problem": (gtu.make_problem, lambda t: dict(d=3, n_slices=2, rank=1, measurements=10,
                                                                 singular_values=[1.0], seed=0)),
    "gdsim.tubal.default_measurements": (gtu.default_measurements, lambda t: dict(d=3, n_slices=2, rank=1)),
    "gdsim.tubal.factorisation": (gtu.factorisation, lambda t: dict(problem=_tubal_problem(), width=2,
                                                                   init_scale=1e-3)),
    "gdsim.tubal.factors": (gtu.factors, lambda t: dict(problem=_tubal_problem(), w=_W_TUBAL)),
    "gdsim.tubal.test_error": (gtu.test_error, lambda t: dict(problem=_tubal_problem(), w=_W_TUBAL)),
    "gdsim.tubal.observe": (gtu.observe, lambda t: dict(problem=_tubal_problem())),
    "gdsim.tubal.train_error": (gtu.train_error, lambda t: dict(problem=_tubal_problem(), w=_W_TUBAL)),
    "gdsim.tubal.slice_values": (gtu.slice_values, lambda t: dict(problem=_tubal_problem(), w=_W_TUBAL)),
    "gdsim.tubal.subspace_sine": (gtu.subspace_sine, lambda t: dict(problem=_tubal_problem(), w=_W_TUBAL,
                                                                   reference="truth")),
    "gdsim.tubal.power_method_tensor": (gtu.power_method_tensor, lambda t: dict(problem=_tubal_problem())),
    "gdsim.adam_sharpness.sparse_regression": (gas.sparse_regression, lambda t: dict(n_samples=4, d=3, sparsity=1,
                                                                                     nonzero_value=1.0, seed=0)),
    "gdsim.adam_sharpness.label_noise_diagonal": (gas.label_noise_diagonal, lambda t: dict(
        problem=_sparse(), noise_std=0.5, parametrisation="pm", init_scale=0.1)),
    "gdsim.adam_sharpness.split": (gas.split, lambda t: dict(w=_W_DIAG, d=3)),
    "gdsim.adam_sharpness.hessian_diagonal": (gas.hessian_diagonal, lambda t: dict(problem=_sparse(), w=_W_DIAG)),
    "gdsim.adam_sharpness.trace_hessian": (gas.trace_hessian, lambda t: dict(problem=_sparse(), w=_W_DIAG)),
    "gdsim.adam_sharpness.trace_sqrt_diag_hessian": (gas.trace_sqrt_diag_hessian, lambda t: dict(
        problem=_sparse(), w=_W_DIAG, at_interpolation=False)),
    "gdsim.adam_sharpness.fibre_minima": (gas.fibre_minima, lambda t: dict(problem=_sparse(),
                                                                          predictor=[1.0, 0.0, -0.5])),
    "gdsim.adam_sharpness.l1_norm": (gas.l1_norm, lambda t: dict(predictor=[1.0, 0.0, -0.5])),
    "gdsim.adam_sharpness.l_half_norm": (gas.l_half_norm, lambda t: dict(predictor=[1.0, 0.0, -0.5])),
    "gdsim.adam_sharpness.test_loss": (gas.test_loss, lambda t: dict(problem=_sparse(), predictor=[1.0, 0.0, -0.5])),
    "gdsim.adam_sharpness.observables": (gas.observables, lambda t: dict(problem=_sparse(), w=_W_DIAG)),
    "gdsim.adam_sharpness.observe": (gas.observe, lambda t: dict(problem=_sparse(), parametrisation="pm")),
    "gdsim.adam_sharpness.factorisation_problem": (gas.factorisation_problem, lambda t: dict(
        d=3, rank=1, measurements=4, kind="completion", seed=0)),
    "gdsim.adam_sharpness.label_noise_factorisation": (gas.label_noise_factorisation, lambda t: dict(
        problem=_fact(), width=1, noise_std=0.5, init_scale=0.1)),
    "gdsim.adam_sharpness.factorisation_traces": (gas.factorisation_traces, lambda t: dict(problem=_fact(),
                                                                                          w=_W_FACT)),
    "gdsim.adam_sharpness.factorisation_error": (gas.factorisation_error, lambda t: dict(problem=_fact(), w=_W_FACT)),
})
NOT_CALLED.update({"gdsim.tubal.TubalProblem", "gdsim.adam_sharpness.SparseRegression",  # records from factories
                   "gdsim.adam_sharpness.FactorisationProblem"})
# kinds per function, where a parameter's name means something else elsewhere (``width`` of guess_check)
FUNCTION_KINDS = {
    **{(f"gdsim.tubal.{f}", "A"): "array" for f in ("t_product", "t_transpose", "fourier_slices",
                                                     "tubal_singular_values", "tubal_rank")},
    ("gdsim.tubal.t_product", "B"): "array", ("gdsim.tubal.from_fourier_slices", "Ahat"): "array",
    ("gdsim.tubal.t_identity", "n_slices"): "int", ("gdsim.tubal.make_problem", "n_slices"): "int",
    ("gdsim.tubal.default_measurements", "n_slices"): "int", ("gdsim.tubal.make_problem", "measurements"): "int",
    ("gdsim.tubal.make_problem", "singular_values"): "array", ("gdsim.tubal.factorisation", "width"): "int",
    ("gdsim.adam_sharpness.label_noise_factorisation", "width"): "int",
    ("gdsim.adam_sharpness.factorisation_problem", "measurements"): "int",
    ("gdsim.adam_sharpness.sparse_regression", "sparsity"): "int",
    ("gdsim.dynamics.GDA", "ascent"): "any",
    ("gdsim.dynamics.Observable", "doc"): "name", ("gdsim.dynamics.Observable", "fn"): "any",
    **{(f"gdsim.adam_sharpness.{f}", "predictor"): "array" for f in ("fibre_minima", "l1_norm", "l_half_norm",
                                                                       "test_loss")},
}

# sizes: 10^12 (memory-absurd: must fail fast, before allocating) and 10^19 (past int64) for every
# integer; step counts may legitimately be large (a long run), so they get only 10^19
ABSURD, BEYOND_INT64 = 10**12, 10**19
BAD = {
    "array": [None, "abc", object(), [[1.0, 2.0], [3.0]], np.array([]), [np.nan], [1j], {"a": 1}],
    "float": ["abc", object(), np.nan, np.inf, -np.inf, 1j, [[1.0], [2.0, 3.0]]],
    "int": ["3", 2.5, np.nan, object(), True, -ABSURD, ABSURD, BEYOND_INT64],
    "count": ["3", 2.5, np.nan, object(), True, -ABSURD, BEYOND_INT64],
    "bool": ["yes", 2, 0.5, object()],
    "option": ["nope_xyz", 3, object()],
    "seed": [-1, "abc", 1.5, object(), [-1]],
    "path": [object(), 3],
    "obj": ["abc", 3, object()],
    "pair": ["abc", 3, object(), (np.nan, 0.0), (0.0,)],
    "name": [3, object()],
    "rng": ["abc", object()],
}
# values no parameter of any kind may accept (the rest may happen to be valid for a parameter)
ALWAYS_INVALID_REPRS = {"'abc'", "nan", "inf", "-inf", "1j", "'yes'", "'nope_xyz'", "'3'", "<object>", "[nan]",
                        "[1j]", "ragged", "(nan, 0.0)", "[-1]", "-1 seed", "1.5 seed", "True int", "2.5 int",
                        repr(BEYOND_INT64)}


def _repr(v, kind):
    if isinstance(v, str):
        return repr(v)
    if type(v) is object:
        return "<object>"
    if isinstance(v, list) and v and isinstance(v[0], list):
        return "ragged"
    if kind == "seed" and v in (-1, 1.5):
        return f"{v} seed"
    if kind in ("int", "count") and (v is True or v == 2.5):
        return f"{v} int"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], float) and math.isnan(v[0]):
        return "(nan, 0.0)"
    return repr(v)


def _kind(name, param, fname=None):
    if (fname, name) in FUNCTION_KINDS:
        kind = FUNCTION_KINDS[fname, name]
    elif name in KINDS:
        kind = KINDS[name]
    else:
        d = param.default
        kind = ("bool" if isinstance(d, bool) else "int" if isinstance(d, int) else "float" if isinstance(d, float)
                else "option" if isinstance(d, str) else "any")
    if name in ("progress", "parallel", "shared_init", "track_tau", "check_periodic", "verbose", "nesterov", "replace",
                "bias", "replacement", "standardise"):
        kind = "bool"
    return kind


def _public_callables():
    out = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            full = f"{pkg}.{name}"
            if inspect.ismodule(obj) or not callable(obj) or full in NOT_CALLED:
                continue
            out.append(full)
    return out


def test_every_public_function_is_in_the_harness():
    missing = [f for f in _public_callables() if f not in VALID]
    assert not missing, f"add a valid call to VALID for {missing}"


def _has_nan(x):
    if isinstance(x, gdsim.Result):
        return any(_has_nan(x[k]) for k in x.keys() if np.asarray(x[k]).dtype.kind == "f")
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, (tuple, list)):
        return any(_has_nan(v) for v in x)
    try:
        a = np.asarray(x)
    except Exception:
        return False
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def _call(fn, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(**kwargs)


def _outcome(fname, pname, kind, bad, tmp_path):
    """None when the call behaves; else a line describing the failure."""
    fn, build = VALID[fname]
    if fname not in _BASELINE_NAN:  # the valid call, once per function
        _BASELINE_NAN[fname] = fname in _BASELINE_NAN_SKIP or _has_nan(_call(fn, build(tmp_path)))
    baseline_nan = _BASELINE_NAN[fname]
    kwargs = build(tmp_path)
    kwargs[pname] = bad
    label = f"{fname}({pname}={_repr(bad, kind)})"
    try:
        out = _call(fn, kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if pname not in msg:
            return f"{label}: {type(exc).__name__} does not name {pname!r}: {msg[:160]}"
        return None
    except gdsim.CudaUnavailableError:
        return None  # validation passed; only the device is missing
    except Exception as exc:  # noqa: BLE001 - the point of the harness
        return f"{label}: wrong exception type {type(exc).__name__}: {str(exc)[:160]}"
    if _repr(bad, kind) in ALWAYS_INVALID_REPRS or (bad is None and kind in ("array", "float", "int", "count", "bool")):
        return f"{label}: accepted an invalid value"
    if not baseline_nan and _has_nan(out):
        return f"{label}: returned NaN silently"
    return None


_BASELINE_NAN_SKIP = {"gdsim.cuda_available"}
_BASELINE_NAN: dict = {}


def _cases():
    for fname in sorted(VALID):
        fn, _ = VALID[fname]
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        for pname, param in sig.parameters.items():
            if pname.startswith("_") or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            kind = _kind(pname, param, fname)
            for bad in BAD.get(kind, []):
                if bad is None and param.default is None:
                    continue
                yield fname, pname, kind, bad


CASES = list(_cases())


@pytest.fixture(scope="module")
def watchdog():
    # a hang (an absurd size accepted, a kernel spinning) must fail loudly, not stall CI
    faulthandler.dump_traceback_later(900, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("fname", sorted(VALID))
def test_bad_inputs_raise_clear_errors(fname, tmp_path, watchdog):
    failures = [f for f in (_outcome(fn_, p, k, b, tmp_path) for fn_, p, k, b in CASES if fn_ == fname) if f]
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------------- random bad input

_random_bad = st.one_of(
    st.text(max_size=4).filter(lambda s: not s.strip().lstrip("-").isdigit()),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not math.isfinite(v)),
    st.complex_numbers(allow_nan=False, allow_infinity=False).filter(lambda z: z.imag != 0),
    st.builds(object),
    st.lists(st.just(np.nan), min_size=1, max_size=3),
)


@pytest.mark.parametrize("fname", sorted(VALID))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_bad_input(fname, tmp_path, data):
    params = [(p, k) for f, p, k, _ in CASES if f == fname]
    if not params:
        return
    pname, kind = data.draw(st.sampled_from(sorted(set(params))))
    if kind in ("any", "path", "name", "rng"):
        return
    bad = data.draw(_random_bad)
    if pname == "score" and isinstance(bad, float) and math.isinf(bad):
        return  # a trainability score is +-inf for diverged cells: valid
    if (fname, pname) == ("gdsim.sweep.Output", "dtype") and isinstance(bad, str) and bad.strip() == bad:
        try:
            if np.dtype(bad).kind in "fiub":
                return  # any numpy dtype code ('B' is uint8) is a valid output dtype
        except (TypeError, ValueError):
            pass
    fn, build = VALID[fname]
    kwargs = build(tmp_path)
    kwargs[pname] = bad
    try:
        _call(fn, kwargs)
    except (ValueError, TypeError) as exc:
        assert pname in str(exc), f"{fname}({pname}={bad!r}): {exc}"
        return
    except gdsim.CudaUnavailableError:
        return
    pytest.fail(f"{fname}({pname}={bad!r}) was accepted")


# ------------------------------------------------------------------------- the newer packages (issue 30)
NOT_CALLED.update({"gdsim.models.HVPFallbackWarning", "gdsim.models.NonFiniteResultWarning"})  # warning classes
NEWER = ("gdsim.models.", "gdsim.dynamics.", "gdsim.data.", "gdsim.fractal.", "gdsim.stability.", "gdsim.tubal.",
         "gdsim.adam_sharpness.")
_SIZE_PARAMS = sorted({(f, p) for f, p, k, _ in CASES if f.startswith(NEWER) and k in ("int", "count")})


@pytest.mark.parametrize("fname", sorted({f for f, _ in _SIZE_PARAMS}))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_sizes_newer_packages(fname, tmp_path, data):
    """Zero, negative and past-int64 sizes: a ValueError/TypeError naming the argument, or a result without NaN
    (zero can be valid: a seed, an empty grid); never another exception type, never a silent NaN."""
    pname = data.draw(st.sampled_from([p for f, p in _SIZE_PARAMS if f == fname]))
    bad = data.draw(st.one_of(st.integers(min_value=-(2**70), max_value=0), st.integers(min_value=2**63,
                                                                                      max_value=2**70)))
    fn, build = VALID[fname]
    kwargs = build(tmp_path)
    kwargs[pname] = bad
    try:
        out = _call(fn, kwargs)
    except (ValueError, TypeError) as exc:
        assert pname in str(exc), f"{fname}({pname}={bad!r}): {exc}"
        return
    except gdsim.CudaUnavailableError:
        return
    assert bad == 0, f"{fname}({pname}={bad!r}) was accepted"
    if fname not in _BASELINE_NAN:
        _BASELINE_NAN[fname] = _has_nan(_call(fn, build(tmp_path)))
    assert _BASELINE_NAN[fname] or not _has_nan(out), f"{fname}({pname}=0) returned NaN silently"


def _zoo_models():
    from gdsim.sensing import make_problem

    return {
        "mlp": gm.mlp([2, 3, 2], "tanh", "mse", data=(_X2, np.c_[_Y2, _Y2])),
        "mlp_ce": gm.mlp([2, 3, 2], "tanh", "cross_entropy", data=(_X2, np.array([0, 1, 1, 0]))),
        "diagonal_linear": gm.diagonal_linear((_X2, _Y2)),
        "squared_regression": gm.squared_regression(_X2, _Y2),
        "matrix_factorisation": gm.matrix_factorisation(np.eye(3), 2),
        "scalar_network": gm.scalar_network(3),
        "matrix_sensing": gm.matrix_sensing(make_problem(3, 1, spectrum=[1.0], measurements=5, seed=0), 2),
        "second_order_regression": gm.second_order_regression([0.6, 0.8], np.diag([0.1, -0.1]), 1.0),
        "logistic_regression": gm.logistic_regression(_LOGISTIC, l2=0.01),
        "deep_matrix_factorisation": gm.deep_matrix_factorisation(np.eye(2), 3),
        "custom": gm.custom(_quad_data_lg, 2, data=(_X2, _Y2)),
    }


def _quad_data_lg(w, X, y, g):
    r = X[:, 0] * w[0] + X[:, 1] * w[1] - y
    g[0] = np.sum(r * X[:, 0]) / y.size
    g[1] = np.sum(r * X[:, 1]) / y.size
    return 0.5 * np.sum(r * r) / y.size


_ZOO: dict = {}
_shape = st.lists(st.integers(min_value=0, max_value=5), min_size=0, max_size=3).map(tuple)


@pytest.mark.parametrize("model", ["mlp", "mlp_ce", "diagonal_linear", "squared_regression", "matrix_factorisation",
                                   "scalar_network", "matrix_sensing", "second_order_regression",
                                   "logistic_regression", "deep_matrix_factorisation", "custom"])
@settings(max_examples=6, deadline=None)
@given(shapes=st.lists(_shape, min_size=0, max_size=4), which=st.sampled_from(["data", "test_data"]),
       fill=st.sampled_from([0.5, -1.0, 1.0]))
def test_random_data_shapes_never_reach_a_kernel(model, shapes, which, fill):
    """Data of random shapes for an existing model: either the form the model's kernels need (same dimensions and
    shapes but for the sample count of per-sample arrays), or a ValueError/TypeError naming the argument."""
    if not _ZOO:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _ZOO.update(_zoo_models())
    m = _ZOO[model]
    arrays = tuple(np.full(s, fill) for s in shapes)
    try:
        out = m.with_data(m.data, arrays) if which == "test_data" else m.with_data(arrays)
    except (ValueError, TypeError) as exc:
        assert which in str(exc), f"{model}.with_data {which} shapes {shapes}: {exc}"
        return
    got = out.test_data if which == "test_data" else out.data
    assert len(got) == len(m.data)
    rows = set()
    for d, r, p in zip(got, m.data, m.per_sample):
        assert d.dtype == r.dtype and d.ndim == r.ndim and d.flags.c_contiguous
        assert d.shape[1:] == r.shape[1:] if p else d.shape == r.shape, (model, shapes)
        if p:
            rows.add(d.shape[0])
    assert len(rows) <= 1 and 0 not in rows


@pytest.mark.parametrize("fname", ["gdsim.dynamics.top_eigenvalues", "gdsim.dynamics.gd", "gdsim.dynamics.sharpness",
                                   "gdsim.dynamics.gradient_flow"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.one_of(_shape, _shape.map(lambda s: s[:2] + (13,))), fill=st.sampled_from([0.3, np.nan, np.inf]))
def test_random_weight_shapes(fname, shape, fill, tmp_path):
    """Weights of random shapes: a ValueError naming the weights unless the last axis is P and all finite."""
    fn, build = VALID[fname]
    kwargs = build(tmp_path)
    key = "w" if "w" in kwargs else "w0"
    kwargs[key] = np.full(shape, fill)
    try:
        _call(fn, kwargs)
    except (ValueError, TypeError) as exc:
        assert key in str(exc), f"{fname}({key} of shape {shape} filled with {fill}): {exc}"
        return
    assert np.isfinite(fill) and len(shape) >= 1 and shape[-1] == 13
