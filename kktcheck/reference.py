"""Reference problems for the KKT residual (cvxpy-test habit): factories returning the problem and its answer.

Each factory returns a ``ReferenceProblem`` with the point to test (``theta`` + ``model``), the data, the
norm, the known KKT point ``theta_star`` with multipliers ``lambda_star`` (None where no KKT point is
claimed) and ``is_kkt`` (whether ``theta`` itself is a KKT point of (MM) up to scale).

* ``linear_max_margin(norm)``: separable data, a bias-free linear model f(x) = <w, x> (degree 1).
  theta_star solves min 1/2||w||^2 s.t. y_i <w, x_i> >= 1 (cvxpy), lambda_star are its dual variables.
  ``kc.max_margin_linear`` (if present) gives the same direction; ``perturbed=True`` moves w off it.
* ``two_layer_dead_neuron()``: Vardi-Shamir-Srebro case C3. Width 3, x1 = e1, x2 = e2, y = +1; a = (1, 1, 0), w1 = e1,
  w2 = e2, neuron 3 zero. KKT for the l2 norm with lambda = (1, 1) (hand derivation: dq_i/dw_i = a_i e_i = e_i,
  dq_i/da_i = relu(w_i . e_i) = 1, so theta = sum_i lambda_i grad q_i and q_i = 1).
* ``two_layer_clarke_needed()``: x_A = (1, -1), x_B = (0, 1), y = +1; w1 = c(1, -1), a1 = sqrt(2) c,
  w2 = t(1, 1), a2 = sqrt(2) t with c^2 = 1/(2 sqrt 2), t^2 = 1/sqrt 2 (so q_A = q_B = 1). Neuron 2 has zero
  pre-activation on x_A. KKT with lambda = (1/sqrt 2, sqrt 2) only with the one-sided derivative relu'(0+) = 1
  for the pair (A, 2) (w2 = lambda_B a2 x_B + lambda_A s a2 x_A needs s = 1); the autodiff element
  relu'(0) = 0 is not stationary. Hand derivation in docs/kkt.md.
* ``two_layer_unbalanced()``: the same net with a = (2, 1, 0): feasible after rescaling (q = (2, 1)), not KKT
  (the first neuron has ||w_1|| != |a_1| while every KKT point of a two-layer ReLU net is balanced).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .norms import norm as make_norm


@dataclass
class ReferenceProblem:
    name: str
    theta: list
    model: torch.nn.Module
    data: tuple
    norm: str
    is_kkt: bool
    theta_star: list | None = None
    lambda_star: np.ndarray | None = None


def _linear_module(w: np.ndarray) -> torch.nn.Module:
    net = torch.nn.Linear(len(w), 1, bias=False).double()
    with torch.no_grad():
        net.weight[:] = torch.as_tensor(w, dtype=torch.float64).reshape(1, -1)
    return net


def separable_data(n: int = 12, d: int = 4, seed: int = 0, gap: float = 0.2):
    """Linearly separable (X, y) through the origin with a margin gap around a random direction."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    X = rng.standard_normal((n, d))
    s = X @ w
    y = np.where(s >= 0, 1.0, -1.0)
    X = X + gap * y[:, None] * w[None, :]
    return X, y


def solve_mm_linear(X, y, norm="l2"):
    """(w*, lambda*) of min 1/2||w||^2 s.t. y_i <w, x_i> >= 1 (cvxpy; lambda* are the constraint duals)."""
    import cvxpy as cp
    nrm = make_norm(norm)
    w = cp.Variable(X.shape[1])
    con = cp.multiply(y, X @ w) >= 1
    prob = cp.Problem(cp.Minimize(0.5 * cp.square(nrm.cvxpy([w]))), [con])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"reference SVM failed: {prob.status}")
    w_star, lam = np.asarray(w.value), np.maximum(np.asarray(con.dual_value), 0.0)
    if nrm.name == "l2":  # polish: on the support A, w = Z_A^T lam_A with Z_A w = 1 (exact linear algebra)
        A = np.flatnonzero(lam > 1e-6 * lam.max())
        Z = y[A, None] * X[A]
        lam_A = np.linalg.solve(Z @ Z.T, np.ones(len(A)))
        w_pol = Z.T @ lam_A
        if lam_A.min() > 0 and (y * (X @ w_pol)).min() >= 1 - 1e-12:
            w_star, lam = w_pol, np.zeros_like(lam)
            lam[A] = lam_A
    return w_star, lam


def linear_max_margin(norm="l2", n: int = 12, d: int = 4, seed: int = 0, perturbed: bool = False,
                      perturbation: float = 0.3) -> ReferenceProblem:
    X, y = separable_data(n, d, seed)
    w_star, lam = solve_mm_linear(X, y, norm)
    w = w_star.copy()
    if perturbed:
        rng = np.random.default_rng(seed + 1)
        w = w + perturbation * np.linalg.norm(w) * rng.standard_normal(d) / np.sqrt(d)
        if (y * (X @ w)).min() <= 0:
            raise RuntimeError("perturbation broke separability; use a smaller perturbation")
    net = _linear_module(w)
    return ReferenceProblem(f"linear-{make_norm(norm).name}{'-perturbed' if perturbed else ''}",
                            [p.detach().clone() for p in net.parameters()], net, (X, y), make_norm(norm).name,
                            not perturbed, [torch.as_tensor(w_star).reshape(1, -1)], lam)


def _two_layer(a, W=((1.0, 0.0), (0.0, 1.0), (0.0, 0.0))) -> torch.nn.Module:
    W = torch.tensor(W, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(2, W.shape[0], bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(W.shape[0], 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight[:] = W
        net[2].weight[:] = torch.tensor([a], dtype=torch.float64)
    return net


def _c3_data():
    return np.eye(2), np.ones(2)


def two_layer_dead_neuron() -> ReferenceProblem:
    net = _two_layer([1.0, 1.0, 0.0])
    theta = [p.detach().clone() for p in net.parameters()]
    return ReferenceProblem("two-layer-C3", theta, net, _c3_data(), "l2", True, theta, np.array([1.0, 1.0]))


def two_layer_unbalanced() -> ReferenceProblem:
    net = _two_layer([2.0, 1.0, 0.0])
    return ReferenceProblem("two-layer-unbalanced", [p.detach().clone() for p in net.parameters()], net,
                            _c3_data(), "l2", False)


def two_layer_clarke_needed() -> ReferenceProblem:
    c, t = (2 * np.sqrt(2)) ** -0.5, 2 ** -0.25
    net = _two_layer([np.sqrt(2) * c, np.sqrt(2) * t], W=((c, -c), (t, t)))
    X, y = np.array([[1.0, -1.0], [0.0, 1.0]]), np.ones(2)
    theta = [p.detach().clone() for p in net.parameters()]
    return ReferenceProblem("two-layer-clarke-needed", theta, net, (X, y), "l2", True, theta,
                            np.array([2 ** -0.5, 2 ** 0.5]))
