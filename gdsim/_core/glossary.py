"""The vocabulary: one name per concept, one meaning per name, across every public signature.

``CANONICAL`` holds the names every family shares (a run's step size is always ``lr``, its number of steps
``steps``, ...); ``TERMS`` the other public parameter names, each with its one meaning (paper symbols that
remain are model parameters of one family and say so). ``tests/test_vocabulary.py`` fails on a public
parameter name that is missing here, and on any old spelling (a deprecated keyword) still in a signature.
:func:`table` renders the Markdown table used by the README and the docs.
"""

from __future__ import annotations

#: Names shared by every family (the issue-28 vocabulary).
CANONICAL = {
    "lr": "step size (learning rate) of a discrete-time run; may be an array broadcast against the run batch",
    "lr_schedule": "per-step multipliers of lr (array of shape (steps,) or a function of the step index)",
    "stop_loss": "per-run stop condition: a run stops at its first step whose full-batch loss is <= stop_loss",
    "steps": "number of steps: the update steps of a run (the Lanczos steps per probe in spectral_density)",
    "runs": "number of independent runs (each with its own seed stream) per grid point",
    "seed": "the run's seed: an int, SeedSequence, sequence of per-run seeds or None (fresh entropy); one "
            "numpy.random.SeedSequence stream per run, keyed by the run's index",
    "batch_size": "minibatch size B of SGD",
    "replace": "minibatches drawn with replacement (True) or as B distinct samples (False)",
    "temperature": "the SGD or Langevin temperature (lr / B for SGD)",
    "t_final": "final physical time of a continuous-time run",
    "dt": "time step of a continuous-time integrator (physical time per step)",
    "width": "hidden width of a network (units per hidden layer)",
    "depth": "number of layers (factors) of a network",
    "n_samples": "number of training samples (data points)",
    "init_scale": "scale of the initialisation (standard deviation or multiplier of the initial weights)",
    "record_every": "record schedule: every k-th step (int) or explicit step indices (array)",
    "progress": "show a progress bar",
    "parallel": "use all Numba threads (None/True) or one (False); numbers are the same",
}

#: The other public parameter names, one meaning each.
TERMS = {
    "ascent": "the maximising player's parameters in descent-ascent (group names, or an index k: parameters k..)",
    "ratio": "time-scale ratio of the ascent player's step to the descent player's (GDA)",
    "fn": "a function: an Observable's fn(W (R, P)) -> (R,) values", "doc": "a one-line description",
    # models and data
    "m": "a gdsim.models.Model", "w": "parameters (*batch, P)", "w0": "initial parameters (*batch, P)",
    "W": "a weight matrix of the model at hand", "W0": "first-layer initial weights", "W1": "second-layer initial weights",
    "Wstar": "teacher weight matrix", "Z": "teacher read-out weights", "U0": "initial factor (*batch, d, r_hat)",
    "data": "the model's training data tuple", "test_data": "held-out data in the model's data layout",
    "X": "inputs (n_samples, d)", "Y": "targets (n_samples, outputs)", "y": "targets (n_samples,)",
    "X_test": "test inputs", "y_test": "test targets", "x_test": "test inputs",
    "x": "points at which a density is evaluated", "x0": "centre of a density", "s": "level spacing",
    "loss": "loss function name ('mse', 'cross_entropy')", "loss_grad": "compiled loss-and-gradient kernel",
    "hvp": "compiled Hessian-vector-product kernel", "hvp_method": "how curvature is computed",
    "hvp_prepare": "per-point preparation kernel of a cached HVP", "hvp_cached": "HVP kernel using the prepared state",
    "gd_step_batch": "a model's fused batched GD step", "data_check": "a model's own validation of new data",
    "fixed": "indices of data arrays that encode the architecture", "accuracy": "compiled accuracy kernel",
    "n_params": "number of parameters P", "per_sample": "whether data rows are samples (SGD can sample them)",
    "layout": "description of the flat parameter layout", "config": "constructor arguments (provenance)",
    "init": "the initialisation: a scheme name or an initialiser function", "name": "a name (model, data set, payoff, observable)",
    "activation": "hidden activation function name", "sizes": "layer sizes, or box sizes in cells (box counting)",
    "scaling": "parameterisation ('standard', 'ntk', 'mean_field')", "bias": "whether layers have biases",
    "widths": "hidden widths of a deep matrix factorisation", "rank": "rank of a target matrix", "target": "target matrix or value",
    "jacobian": "linear part J of second-order regression", "quadratic": "quadratic part Q of second-order regression",
    "l2": "l2 penalty coefficient", "classes": "labels to keep", "standardise": "centre and scale features",
    "checksum": "data checksum", "preprocessing": "preprocessing record", "d": "input (ambient) dimension",
    "n": "width n of the fractal net (the paper's symbol, kept by the issue-28 contract)", "problem": "a matrix-sensing problem",
    "a_packed": "packed sensing matrices", "eigvals": "eigenvalues of Z*", "eigvecs": "eigenvectors of Z*",
    "zstar": "ground-truth matrix Z*", "generator": "how a problem is generated", "spectrum": "eigenvalues of Z*",
    "dtype": "storage dtype", "r_hat": "factor rank of the model", "k_rank": "factor rank (asymmetric factorisation)",
    "imbalance": "scale ratio of the two initial factors", "shared_init": "one initial direction for every init_scale",
    "margin": "margin of separable data", "chi": "input-distribution exponent of the perceptron data",
    "rng": "a numpy Generator", "a": "loss scale of the scalar network (L = a/2 (prod w - b)^2); payoff parameter a",
    "b": "a constant of the model at hand (the scalar network's target, payoff t1's b, a sensing task's test targets)", "alpha": "the alpha-trick output scale (Sclocchi et al.)",
    "r": "feature multiplicity L = r width (Park et al.)", "sigma_w": "initial weight scale of Park's network",
    "sigma": "noise strength of a matrix OU process (Dyson)", "sigma2": "variance of the pre-activation",
    "phi": "argument of p_tanh", "radius": "semicircle radius", "kappa": "OU mean-reversion rate",
    "noise_std": "label-noise standard deviation", "epochs": "passes over the training set",
    "max_epochs": "most passes over the training set", "eps_y": "target offset of second-order regression",
    "angle": "angle of the second-order regression map", "factors": "factor matrices of a DMF",
    "balance_tol": "tolerance of the balancedness check",
    # optimisers and engine
    "optimiser": "an optimiser value (gdsim.dynamics.GD(), Adam(), ...)",
    "optimizer": "the contract's spelling (issue 28) of a family's optimiser argument: None (the family's own fused "
                 "kernel) or an optimiser value of gdsim.dynamics (GD(), HeavyBall(beta), Nesterov(beta), "
                 "SGD(batch_size), Adam(), RMSProp()), as for `optimiser`; the family's fused kernel runs the "
                 "values it implements, the engine the rest",
    "beta": "momentum / decay coefficient",
    "beta1": "Adam's first-moment decay", "beta2": "Adam's second-moment decay", "eps": "denominator offset of adaptive methods",
    "momentum": "SGD momentum coefficient", "nesterov": "Nesterov instead of heavy-ball momentum",
    "observe": "observables recorded at the record points", "blowup": "divergence threshold on |w|",
    "lanczos_tol": "residual tolerance of the Lanczos inside a run", "gfs_kwargs": "options of the GFS observable",
    "record_interval": "time between records of a continuous-time run", "n_records": "number of records (log-spaced shorthand)",
    "k": "number of eigenvalues", "tol": "tolerance of the function's own iteration",
    "max_iter": "most iterations of the function's own iteration", "max_steps": "most integrator/update steps",
    "rtol": "relative error tolerance", "atol": "absolute error tolerance", "loss_tol": "loss at which a flow stops",
    "grad_tol": "gradient norm at which a flow stops", "xtol": "predicted distance to the limit (relative to |w|) at which a flow stops",
    "return_status": "also return the per-run status codes",
    "substeps": "integrator substeps per unit of time (one GD step)", "n_eig": "eigenvalues tracked",
    "track_threshold": "track eigenvalues above this multiple of 1/lr", "sdcp_threshold": "eigenvalues above this multiple of 1/lr enter the projection",
    "third_derivative": "how the third derivative is computed ('auto', 'exact', 'finite_difference')",
    "eig_tol": "tolerance of the eigensolver", "max_eig": "most eigenvalues tracked", "edge_tol": "tolerance of the sharpness lock at the edge",
    "max_projections": "most corrective projections per step", "hessians": "per-sample Hessians (n, P, P)",
    "t": "record times", "sharpness": "recorded sharpness", "threshold": "stability threshold on the sharpness",
    "window": "trailing fraction of records (EoS) or window size in cells (fractal)",
    "result": "a Result of the same family", "eigs": "recorded eigenvalues", "targets": "target eigenvalues",
    "track_tau": "record learning times tau_k",
    # curvature (spectral density, trace, blocks, slices)
    "method": "algorithm choice ('auto', 'exact', 'hutchinson', 'hutch++')", "probes": "random probe vectors",
    "return_stderr": "also return the standard error", "grid": "points at which a density is evaluated",
    "bandwidth": "width of a smoothing kernel", "n_directions": "number of slice directions (1 or 2)",
    "nodes": "quadrature nodes (Ritz values)", "weights": "quadrature weights", "max_count": "most values returned",
    "direction": "slice direction(s): 'random', 'eigenvectors', 'path' or an array", "n_points": "points per slice axis",
    "span": "half-range of the slice offsets", "w_end": "end point of a path slice", "groups": "parameter groups (layers)",
    "start": "first index of a parameter group", "stop": "end index of a parameter group",
    "filter_size": "entries per filter of a group", "n_filters": "filters of a group",
    # Guess & Check (Alexander et al.)
    "tasks": "sensing tasks, one per run", "task": "a sensing task", "loss_threshold": "G&C accepts a draw whose "
    "training loss is below it (the paper's epsilon)", "draws": "prior draws per run",
    "prior": "prior of the weights ('gaussian', 'uniform')", "normalise": "normalise the end-to-end output",
    "softening": "softening of the acceptance", "negative_slope": "leaky-ReLU slope",
    "inits": "initialisations per task", "measurements": "number of measurements", "norm": "norm of the target",
    "completion": "matrix completion (entry measurements) instead of Gaussian sensing",
    "B": "test measurement matrices of a sensing task", "gen": "generalisation error", "train": "training error",
    # tubal tensors (Karnik et al.) and Adam's sharpness (Li, Wen, Lyu)
    "batches": "the minibatch indices of every step", "diverged_step": "step at which a run diverged (-1: never)",
    "vectors": "return the singular vectors too", "Ahat": "a tensor's Fourier slices", "n_slices": "number of frontal slices (tube length) of a tensor", "singular_values": "prescribed singular values",
    "reference": "reference subspace", "sparsity": "number of nonzero entries", "nonzero_value": "value of the nonzeros",
    "predictor": "a linear predictor (regression vector)", "parametrisation": "parametrisation of the diagonal net",
    "at_interpolation": "evaluate the closed form at interpolation",
    # games (Lu et al.; Domingo-Enrich et al.)
    "payoff": "a two-player payoff", "tau": "entropic regularisation strength of the game (Lu's tau)",
    "eta": "time-scale ratio of descent-ascent (Lu's eta; the y player moves eta times faster)",
    "M": "grid size of the torus discretisation", "n_x": "particles of player x", "n_y": "particles of player y",
    "anneal_xi": "annealing constant xi of tau_t = xi / log(e + t)", "xi": "annealing constant",
    "drift": "drift evaluation ('feature' or 'pairwise')", "ni_grid": "grid for the Nikaido-Isoda error",
    "p0": "initial density of x", "q0": "initial density of y", "equilibrium": "reference equilibrium",
    "A": "payoff matrix on the grid", "p": "density of x on the grid", "q": "density of y on the grid",
    "g": "grid function", "value_star": "equilibrium value", "center": "centre of a window or distribution",
    "sd": "standard deviation", "coef": "Fourier coefficients of a payoff", "order": "trigonometric order",
    "value": "payoff function", "grad_x": "payoff gradient in x", "grad_y": "payoff gradient in y",
    "params": "parameters", "check_periodic": "check that a payoff is periodic",
    # particles (Daneshmand et al.)
    "objective": "objective name or Objective", "interval": "support interval of the target measure",
    "lam": "regularisation strength lambda", "step": "step-size schedule name", "step_lambda": "lambda of the step schedule",
    "noise": "noise level", "noise_scaling": "how noise scales with iterations", "theta": "particle angles",
    "kind": "objective kind", "scale": "objective scale", "v": "objective parameter v",
    # fractal (Sohl-Dickstein)
    "lr0": "learning rates of layer 0", "lr1": "learning rates of layer 1", "offset": "offset of the offset map",
"half_width": "half width of a window",
    "resolution": "pixels per side", "phase_space": "which phase space", "tile": "tile size in cells",
    "store": "zarr store path", "store_dir": "folder of zarr stores", "levels": "zoom levels",
    "factor": "zoom factor per level", "score": "trainability score map", "mask": "boolean image",
    "count": "how many", "gpu": "compute the tiles with the CUDA twin kernels (gpu_trainability_map)", "axis0": "coordinates of axis 0", "axis1": "coordinates of axis 1",
    "shape": "array shape", "rows": "data rows",
    # sweeps and results
    "arrays": "named arrays", "meta": "metadata", "dims": "dimension names", "coords": "coordinate names",
    "lazy": "outputs computed on first access", "axes": "grid axes", "simulation": "the simulation function",
    "outputs": "declared outputs", "chunks": "chunk sizes per axis", "chunk_points": "points per chunk",
    "sweep": "a Sweep", "path": "file path", "client": "a dask client", "scheduler": "a dask scheduler address",
    "workers": "worker processes", "threads_per_worker": "Numba threads per worker", "executor": "executor name",
    "max_chunks": "most chunks to run", "verbose": "print progress lines", "warmup": "compile before the first chunk",
    "index": "chunk index", "points": "grid points", "slices": "chunk slices", "base_seed": "the sweep's seed",
    "is_probe": "whether the chunk is the validation probe", "chunks_computed": "chunks computed",
    "chunks_skipped": "chunks skipped", "chunks_total": "chunks in total", "seconds": "wall time",
}


def meaning(name: str) -> str | None:
    """The one meaning of a public parameter name, or None if it is not in the vocabulary."""
    return CANONICAL.get(name, TERMS.get(name))


def table() -> str:
    """The canonical vocabulary as a Markdown table (README and docs)."""
    rows = ["| name | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {v} |" for k, v in CANONICAL.items()]
    return "\n".join(rows)
