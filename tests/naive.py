"""Slow, obviously-correct NumPy/SciPy oracles (STUMPY's tests/naive.py habit). Tiny sizes only."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


# ------------------------------------------------------------------------------------ scalar networks
def grad_factors(w):
    """g_i = prod_{j != i} w_j by explicit products."""
    w = np.asarray(w, float)
    return np.array([np.prod(np.delete(w, i)) for i in range(w.size)])


def scalar_gd(w0, eta, steps, a=1.0, b=1.0):
    """Trajectory (steps + 1, D) of GD on L = (a/2)(prod w - b)^2, one weight vector."""
    w = np.array(w0, float)
    out = [w.copy()]
    for _ in range(steps):
        w = w - eta * a * (np.prod(w) - b) * grad_factors(w)
        out.append(w.copy())
    return np.array(out)


def scalar_hessian(w, a=1.0, b=1.0):
    w = np.asarray(w, float)
    D = w.size
    g = grad_factors(w)
    e = np.prod(w) - b
    H = a * np.outer(g, g)
    for i in range(D):
        for j in range(D):
            if i != j:
                H[i, j] += a * e * np.prod(np.delete(w, [i, j]))
    return H


def scalar_sharpness(w, a=1.0, b=1.0):
    return np.linalg.eigvalsh(scalar_hessian(w, a, b))[-1]


def scalar_gradient_flow(w0, a=1.0, b=1.0, T=400.0):
    """End point of gradient flow dw/dt = -grad L integrated by DOP853 (rtol 1e-11)."""
    def rhs(_t, w):
        return -a * (np.prod(w) - b) * grad_factors(w)

    sol = solve_ivp(rhs, (0.0, T), np.array(w0, float), method="DOP853", rtol=1e-11, atol=1e-13)
    return sol.y[:, -1]


# ------------------------------------------------------------------------------------ squared regression
def sqreg_gd(w0, eta, steps, X, y):
    w = np.array(w0, float)
    N = X.shape[0]
    out = [w.copy()]
    for _ in range(steps):
        r = X @ (w * w) - y
        w = w - eta * (2.0 / N) * w * (X.T @ r)
        out.append(w.copy())
    return np.array(out)


def sqreg_hessian(w, X, y):
    N = X.shape[0]
    r = X @ (w * w) - y
    return (4.0 / N) * np.diag(w) @ X.T @ X @ np.diag(w) + (2.0 / N) * np.diag(X.T @ r)


def sqreg_gradient_flow(w0, X, y, T=2000.0):
    N = X.shape[0]

    def rhs(_t, w):
        return -(2.0 / N) * w * (X.T @ (X @ (w * w) - y))

    sol = solve_ivp(rhs, (0.0, T), np.array(w0, float), method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]


# ------------------------------------------------------------------------ particle GD (Daneshmand et al.)


def energy_distance_pairwise(w, v):
    """E(mu_w, nu_v) by its definition: O(n m) pairwise absolute differences (weights 1/n, 1/m)."""
    w, v = np.asarray(w, float), np.asarray(v, float)
    return (2 * np.abs(w[:, None] - v[None, :]).mean() - np.abs(w[:, None] - w[None, :]).mean()
            - np.abs(v[:, None] - v[None, :]).mean())


def energy_distance_uniform_quad(w, a=-1.0, b=1.0):
    """E(mu_w, U[a, b]) with E|w - V| by numerical quadrature (checks the closed form of h)."""
    from scipy.integrate import quad

    w = np.asarray(w, float)
    h = np.array([quad(lambda y, x=x: abs(x - y) / (b - a), a, b, points=[x] if a < x < b else None,
                       epsabs=1e-14, epsrel=1e-13)[0] for x in w])
    return 2 * h.mean() - np.abs(w[:, None] - w[None, :]).mean() - (b - a) / 3


def energy_grad_pairwise(w, v):
    """Subgradient of the normalised E to atoms v, from pairwise signs (no ranks): O(n (n + m))."""
    w, v = np.asarray(w, float), np.asarray(v, float)
    n, m = w.size, v.size
    return (2 / n) * np.sign(w[:, None] - v[None, :]).sum(1) / m - (2 / n**2) * np.sign(w[:, None] - w[None, :]).sum(1)


def energy_uniform_grad_pairwise(w, a=-1.0, b=1.0):
    w = np.asarray(w, float)
    n = w.size
    dh = np.where(w < a, -1.0, np.where(w > b, 1.0, (2 * w - a - b) / (b - a)))
    return (2 / n) * dh - (2 / n**2) * np.sign(w[:, None] - w[None, :]).sum(1)


def particle_gd_1d(w0, grad, value, gamma, noise, key):
    """Noisy particle GD for one run with pairwise gradients; noise from the same counter generator.

    Returns the values at every iterate 0..K and the final particles.
    """
    from gdsim._core.counter_rng import uniform01_numpy

    w = np.array(w0, float)
    vals = [value(w)]
    for k, lr in enumerate(gamma):
        xi = 2 * uniform01_numpy(key, k, np.arange(w.size)) - 1 if noise else 0.0
        w = w - lr * (grad(w) + noise * xi)
        vals.append(value(w))
    return np.array(vals), w


def interaction_value_grad(x, lam=1.0, c=None):
    """The d >= 2 example by broadcasting: F = (1/n) sum (lam/2)|x_i - c|^2 + (1/(2n^2)) sum_ij |x_i - x_j|^4 / 4."""
    x = np.asarray(x, float)
    n, d = x.shape
    c = np.zeros(d) if c is None else c
    z = x[:, None, :] - x[None, :, :]
    r2 = (z**2).sum(-1)
    F = (lam / 2) * ((x - c) ** 2).sum() / n + (r2**2).sum() / (8 * n**2)
    G = lam * (x - c) / n + (r2[:, :, None] * z).sum(1) / n**2
    return F, G


# ------------------------------------------------------------------------ matrix sensing (Jin et al.)


def sensing_gd(U0, A, zstar, mu, steps):
    """GD on f(U) = (1/(4m)) sum_i (<A_i, Z*> - <A_i, U U^T>)^2 with dense, non-symmetric A (m, d, d).

    The gradient (1/m) sum_i r_i sym(A_i) U, r_i = <A_i, U U^T - Z*>, straight from the definition.
    """
    U = np.array(U0, float)
    m = A.shape[0]
    S = 0.5 * (A + np.swapaxes(A, 1, 2))
    for _ in range(steps):
        r = np.einsum("mij,ij->m", A, U @ U.T - zstar)
        U = U - mu * np.einsum("m,mij->ij", r, S) @ U / m
    return U


def normal_pair(key, k, n, j):
    """Oracle for the kernels' counter-based normal pairs (Marsaglia's polar method on uniform01_numpy):
    items j, j+1 of n at step k; attempt a uses the counters 2(a n + j), 2(a n + j) + 1."""
    import math

    from gdsim._core.counter_rng import uniform01_numpy

    a = 0
    while True:
        v1 = 2 * uniform01_numpy(key, k, 2 * (a * n + j)) - 1
        v2 = 2 * uniform01_numpy(key, k, 2 * (a * n + j) + 1) - 1
        q = v1 * v1 + v2 * v2
        if 0 < q < 1:
            break
        a += 1
    f = math.sqrt(-2 * math.log(q) / q)
    return f * v1, f * v2


def trainability_score(W0, W1, X, Y, lr0, lr1, steps, activation="tanh", offset=0.0, rows=None):
    """Oracle of one trainability-map cell: the author's notebook step (Sohl-Dickstein/fractal), in NumPy.

    f = phi(X W0 / sqrt(n)) W1 / sqrt(n) / sqrt(n); loss mean (f - y)^2; W0 += offset before every
    step when offset != 0 (the notebook's paraminit_vs_lr); the minibatch gradient over X[rows[t]] while
    the tracked loss is the full-batch loss before the step; then the notebook's convergence_measure.
    """
    W0 = np.array(W0, float)
    W1 = np.array(W1, float).reshape(-1, 1)
    X = np.asarray(X, float)
    Y = np.asarray(Y, float).reshape(-1, 1)
    n = W0.shape[0]
    s2 = np.sqrt(2.0)

    def phi(z):
        if activation == "tanh":
            return np.tanh(s2 * z), s2 * (1 - np.tanh(s2 * z) ** 2)
        if activation == "relu":
            return s2 * np.maximum(z, 0), s2 * (z > 0)
        return z, np.ones_like(z)

    def loss_grad(W0, W1, X, Y):
        z = X @ W0 / np.sqrt(n)
        h, dh = phi(z)
        f = h @ W1 / np.sqrt(n) / np.sqrt(n)
        r = f - Y
        c = 2.0 / len(Y)
        g1 = c * h.T @ r / n
        delta = (r @ W1.T) / n * dh
        g0 = c * X.T @ delta / np.sqrt(n)
        return float(np.mean(r**2)), g0, g1

    vs = []
    with np.errstate(all="ignore"):
        for t in range(steps):
            if offset != 0.0:
                W0 = W0 + offset
            loss, g0, g1 = loss_grad(W0, W1, X, Y)
            if rows is not None:
                idx = rows[t % len(rows)]
                _, g0, g1 = loss_grad(W0, W1, X[idx], Y[idx])
            vs.append(loss)
            W0 = W0 - lr0 * g0
            W1 = W1 - lr1 * g1
        v = np.array(vs)
        v = np.where(np.isfinite(v), v, 1e6)
        v = v / v[0]
        v = np.minimum(v, 1e6)
        converged = np.mean(v[-20:]) < 1
        return float(-np.sum(v) if converged else np.sum(1 / v))


# ------------------------------------------------------------------------------- gdsim.models oracles
_GELU_K = np.sqrt(2.0 / np.pi)


def mlp_activation(z, activation):
    """sigma and sigma' for the zoo MLP's activations (gelu in its tanh form)."""
    if activation == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if activation == "relu":
        return np.where(z > 0, z, 0.0), (z > 0).astype(float)
    if activation == "gelu":
        u = _GELU_K * (z + 0.044715 * z**3)
        t = np.tanh(u)
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * _GELU_K * (1 + 3 * 0.044715 * z * z)
    if activation == "linear":
        return z, np.ones_like(z)
    if activation == "quadratic":
        return z * z, 2 * z
    raise ValueError(activation)


def mlp_loss_grad(w, X, Y, sizes, activation="tanh", loss="mse", scaling="standard", bias=True):
    """Plain NumPy forward and backward pass of gdsim.models.mlp, written from its documented layout."""
    L = len(sizes) - 1
    if scaling == "standard":
        cs = [1.0] * L
    elif scaling == "ntk":
        cs = [1 / np.sqrt(sizes[l]) for l in range(L)]
    else:
        cs = [1 / np.sqrt(sizes[l]) for l in range(L - 1)] + [1 / sizes[L - 1]]
    Ws, bs, o = [], [], 0
    for l in range(L):
        Ws.append(w[o:o + sizes[l + 1] * sizes[l]].reshape(sizes[l + 1], sizes[l]))
        o += sizes[l + 1] * sizes[l]
        if bias:
            bs.append(w[o:o + sizes[l + 1]])
            o += sizes[l + 1]
        else:
            bs.append(np.zeros(sizes[l + 1]))
    acts, pre = [X], []
    for l in range(L):
        z = cs[l] * acts[-1] @ Ws[l].T + bs[l]
        pre.append(z)
        if l < L - 1:
            acts.append(mlp_activation(z, activation)[0])
    F = pre[-1]
    N = X.shape[0]
    if loss == "mse":
        value = 0.5 * np.sum((F - Y) ** 2) / N
        delta = (F - Y) / N
    else:
        m = F.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(F - m).sum(axis=1))
        value = np.sum(Y * (lse[:, None] - F)) / N
        delta = (np.exp(F - lse[:, None]) - Y) / N
    grads = []
    for l in range(L - 1, -1, -1):
        gW = cs[l] * delta.T @ acts[l]
        gb = delta.sum(axis=0)
        grads.append((gW, gb))
        if l > 0:
            delta = cs[l] * (delta @ Ws[l]) * mlp_activation(pre[l - 1], activation)[1]
    g = []
    for gW, gb in reversed(grads):
        g.append(gW.ravel())
        if bias:
            g.append(gb)
    return value, np.concatenate(g)


# ------------------------------------------------------------------------------------ stability family
def second_order_gd(lr, eps_y, steps, angle=0.3):
    """(final eta lambda, max eta lambda, final |z|) of GD on the two-parameter second-order model (eps = 1)."""
    g = np.array([np.cos(angle), np.sin(angle)])
    Q = np.diag([1.0, -1.0])
    t = np.zeros(2)
    mx = -np.inf
    for k in range(steps + 1):
        J = g + Q @ t
        z = 0.5 * t @ Q @ t + g @ t - eps_y
        mx = max(mx, lr * J @ J)
        if k == steps:
            return lr * J @ J, mx, abs(z)
        t = t - lr * z * J


def logistic_gd(A, y, lr, l2, steps):
    """(final objective, final gradient norm) of full-batch GD from 0 on the l2-regularised logistic loss."""
    w = np.zeros(A.shape[1])

    def grad(w):
        m = y * (A @ w)
        return -(A.T @ (y / (1 + np.exp(m)))) / len(y) + l2 * w

    for _ in range(steps):
        w = w - lr * grad(w)
    loss = np.mean(np.logaddexp(0, -y * (A @ w))) + 0.5 * l2 * w @ w
    return loss, np.linalg.norm(grad(w))


def perceptron(A, y, max_steps):
    """Steps of the batch perceptron (ties 1/2) from 0 until every margin is positive."""
    z = np.zeros(A.shape[1])
    for t in range(1, max_steps + 1):
        m = y * (A @ z)
        c = np.where(m < 0, 1.0, np.where(m == 0, 0.5, 0.0))
        z = z + (c * y) @ A / len(y)
        if np.all(y * (A @ z) > 0):
            return t
    return -1


def dmf_loss(w, M, dims):
    """0.5 ||W_L ... W_1 - M||_F^2 of a flat parameter vector (the zoo's layout)."""
    P = np.eye(dims[0])
    off = 0
    for r, c in zip(dims[1:], dims[:-1]):
        P = w[off:off + r * c].reshape(r, c) @ P
        off += r * c
    return 0.5 * np.sum((P - M) ** 2)


def sgd_second_moment_radius(hessians, lr, batch, replacement):
    """Spectral radius of S -> E[(I - lr H_B) S (I - lr H_B)] by enumerating every batch (tiny n only).

    The operator is assembled column by column on the symmetric basis matrices; H_B is the mean of the
    batch's per-sample Hessians; batches are ordered B-tuples (with replacement) or B-subsets."""
    import itertools

    H = np.asarray(hessians, float)
    n, P, _ = H.shape
    if replacement:
        batches = list(itertools.product(range(n), repeat=batch))
    else:
        batches = list(itertools.combinations(range(n), batch))
    steps = [np.eye(P) - lr * H[list(b)].mean(axis=0) for b in batches]
    basis = []
    for i in range(P):
        for j in range(i, P):
            E = np.zeros((P, P))
            E[i, j] = E[j, i] = 1.0 if i == j else np.sqrt(0.5)
            basis.append(E)
    T = np.empty((len(basis), len(basis)))
    for k, E in enumerate(basis):
        out = sum(S @ E @ S for S in steps) / len(steps)
        T[:, k] = [np.sum(B * out) for B in basis]
    return float(np.max(np.abs(np.linalg.eigvals(T))))


def trainability_score_optimiser(W0, W1, X, Y, lr0, lr1, steps, optimiser, beta=0.9, beta1=0.9, beta2=0.999,
                                 eps=1e-8):
    """Oracle of one trainability-map cell under an optimiser, in NumPy (np.tanh; the loss before each step).

    ``optimiser``: "heavy_ball" (b <- beta b + g, w <- w - lr b), "nesterov" (b <- beta b + g,
    w <- w - lr (g + beta b)), "adam" (bias-corrected, w <- w - lr m_hat / (sqrt(v_hat) + eps)) or "rmsprop"
    (s <- beta s + (1 - beta) g^2, w <- w - lr g / (sqrt(s) + eps)); lr0 for W0's entries, lr1 for W1's; the
    notebook's convergence score of the full-batch losses v_0 .. v_{steps-1}.
    """
    W0 = np.array(W0, float)
    W1 = np.array(W1, float)
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    n = W0.shape[0]
    s2 = np.sqrt(2.0)
    w = np.concatenate((W0.ravel(), W1))
    lr = np.concatenate((np.full(n * n, float(lr0)), np.full(n, float(lr1))))

    def loss_grad(w):
        A, B = w[:n * n].reshape(n, n), w[n * n:]
        h = np.tanh(s2 * (X @ A) / np.sqrt(n))
        r = h @ B / n - Y
        c = 2.0 / len(Y)
        g1 = c * h.T @ r / n
        delta = np.outer(r, B) / n * s2 * (1.0 - h**2)
        g0 = c * X.T @ delta / np.sqrt(n)
        return float(np.mean(r**2)), np.concatenate((g0.ravel(), g1))

    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    vs = []
    with np.errstate(all="ignore"):
        for t in range(steps):
            loss, g = loss_grad(w)
            vs.append(loss)
            if optimiser == "heavy_ball":
                m1 = beta * m1 + g
                w = w - lr * m1
            elif optimiser == "nesterov":
                m1 = beta * m1 + g
                w = w - lr * (g + beta * m1)
            elif optimiser == "rmsprop":
                m2 = beta * m2 + (1.0 - beta) * g * g
                w = w - lr * g / (np.sqrt(m2) + eps)
            else:
                m1 = beta1 * m1 + (1.0 - beta1) * g
                m2 = beta2 * m2 + (1.0 - beta2) * g * g
                w = w - lr * (m1 / (1.0 - beta1 ** (t + 1))) / (np.sqrt(m2 / (1.0 - beta2 ** (t + 1))) + eps)
        v = np.array(vs)
        v = np.where(np.isfinite(v), v, 1e6)
        v = v / v[0]
        v = np.minimum(v, 1e6)
        converged = np.mean(v[-20:]) < 1
        return float(-np.sum(v) if converged else np.sum(1 / v))
