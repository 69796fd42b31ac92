"""Generalized Bregman divergence and KKT proximity measures for (MM).

(MM): min 1/2 ||theta||^2  s.t.  q_i(theta) >= 1, with ||.|| the algorithm's norm and ||.||_* its dual.

* ``generalized_bregman(psi, x, y, s)`` = psi(x) - psi(y) - <s, x - y>  (Def. B.4, s in d psi(y)).
* ``bregman(u, theta, norm)``: the instance psi = 1/2 ||.||_*^2, s = theta (legal since theta in
  d psi(h) for every h in d(1/2 ||theta||^2)): the Fenchel-Young gap
      D(u) = 1/2 ||u||_*^2 + 1/2 ||theta||^2 - <theta, u>
           = 1/2 (||u||_* - ||theta||)^2 + (||u||_* ||theta|| - <theta, u>)     (both terms >= 0),
  evaluated in the second form (no cancellation of the two large squares). D >= 0, and D = 0 iff
  u in d(1/2 ||theta||^2) (Lemma A.4); l2: D = 1/2 ||u - theta||_2^2.
* ``bregman_proximity``: Eq. (74) at the feasible rescaling theta~ = theta / q_min^{1/L}:
      P_D = min_{eps, lambda >= 0} eps  s.t.  D(J~^T lambda) <= eps,  sum_j lambda_j (1 - q~_j) >= -eps,
  J~ = rows grad q_j(theta~) = grad q_j(theta) / q_min^{(L-1)/L}, q~_j = q_j / q_min.
* ``dutta_proximity``: Dutta et al. (2013): min eps s.t. ||h - J~^T lambda||_*^2 <= eps,
  sum_j lambda_j (1 - q~_j) >= -eps, lambda >= 0, with h = grad(1/2 ||theta~||^2). For l2 (and every
  smooth norm) h is the gradient ||theta~|| dualize*(theta~). Our generalization for non-smooth norms
  (``subgradient="enlarged"``, the default there): h ranges over the eps-subdifferential
  d_eps(1/2||.||^2)(theta~) = {h : D(h) <= eps} (the same eps), so the measure is continuous in theta
  although the exact subdifferential of a finite-time iterate is a singleton (docs/bregman.md).

Constraint subgradients are the autodiff elements of kktcheck.jacobian (ReLU'(0) = 0). All values scale
like ||theta~||^2; ``value_rel`` divides by it (scale-free).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .jacobian import margins_and_jacobian
from .linear import check_time_limit
from .margins import _prepare
from .norms import norm as make_norm
from .limits import check_size
from .params import as_params, blocks, feasible_rescaling, flatten, inner, unflatten
from ._quiet import silence_highs_banner

_OK = ("optimal", "optimal_inaccurate")


def generalized_bregman(psi, x, y, s) -> float:
    """D_psi^s(x, y) = psi(x) - psi(y) - <s, x - y> for a convex callable psi on parameter lists, s in d psi(y)."""
    xb, yb, sb = blocks(x), blocks(y), blocks(s)
    return float(psi(xb)) - float(psi(yb)) - (inner(sb, xb) - inner(sb, yb))


def bregman(u, theta, norm) -> float:
    """Fenchel-Young gap 1/2||u||_*^2 + 1/2||theta||^2 - <theta, u> (Def. B.4 with psi = 1/2||.||_*^2, s = theta).

    ``u`` is a dual (gradient-like) object and ``theta`` a parameter list of the same shapes; ``norm`` is
    the algorithm's norm ||.|| (the dual norm is taken of u). Zero exactly on d(1/2||theta||^2).
    """
    nrm = make_norm(norm)
    ub, tb = blocks(u), blocks(theta)
    if [tuple(a.shape) for a in ub] != [tuple(b.shape) for b in tb]:
        raise ValueError(f"u has shapes {[tuple(a.shape) for a in ub]} but theta has {[tuple(b.shape) for b in tb]}")
    a, b = float(nrm._dual_value(ub)), float(nrm._value(tb))
    return 0.5 * (a - b) ** 2 + (a * b - inner(tb, ub))


@dataclass
class MMPoint:
    """theta rescaled onto the (MM) feasible set: theta~ = theta / q_min^{1/L}, its margins and Jacobian."""
    params: list            # theta (float64 tensors)
    degree: int             # L
    q: np.ndarray           # q_i(theta)
    J: torch.Tensor         # (m, P) rows grad q_i(theta)
    q_min: float
    theta_tilde: list       # theta~ blocks
    q_tilde: np.ndarray     # q_i(theta~) = q_i / q_min
    J_tilde: torch.Tensor   # grad q_i(theta~) = grad q_i(theta) / q_min^{(L-1)/L}


def mm_point(theta, data, model=None) -> MMPoint:
    """Resolve (theta, model, data), check separation (every q_i > 0) and rescale to theta~."""
    fm, params, L, X, y = _prepare(theta, data, model)
    if not any(bool(p.any()) for p in params):
        raise ValueError("theta = 0: (MM) needs a non-zero parameter vector that separates the data")
    q, J = margins_and_jacobian(fm, params, X, y)
    bad = int((q <= 0).sum())
    if bad:
        raise ValueError(f"{bad} of {q.numel()} training points are misclassified or on the boundary "
                         "(q_i <= 0), so theta cannot be rescaled onto the (MM) feasible set q_i >= 1; "
                         "train until 100% training accuracy first")
    qmin = float(q.min())
    return MMPoint(params, L, q.numpy().copy(), J, qmin, feasible_rescaling(params, qmin, L)[0], (q / qmin).numpy(),
                   J * qmin ** (-(L - 1.0) / L))


def _blocks_expr(vec, like):
    """Split a cvxpy vector into cvxpy expressions shaped like the parameter blocks (row-major)."""
    import cvxpy as cp
    out, s = [], 0
    for b in like:
        n = b.numel()
        piece = vec[s:s + n]
        shape = tuple(b.shape) if b.dim() == 2 else (b.shape[0], n // b.shape[0])  # conv: (out, rest)
        out.append(piece if b.dim() <= 1 else cp.reshape(piece, shape, order="C"))
        s += n
    return out


@dataclass
class ProximityResult:
    """Optimal value of a proximity program, its parts and multipliers (value is nan unless status is optimal)."""
    measure: str
    value: float
    value_rel: float            # value / ||theta~||^2
    stationarity: float         # Bregman: D(J~^T lambda); Dutta: ||h - J~^T lambda||_*^2
    complementarity: float      # sum_j lambda_j (q~_j - 1) (>= 0)
    lambdas: np.ndarray
    theta_tilde_norm: float
    status: str
    message: str = ""
    h: list | None = None       # Dutta: the objective subgradient used
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in _OK


def _solve(prob, measure, lam, mp, nrm, h_of=None, info=None, time_limit=None):
    """Solve ``prob`` (Clarabel with its ``time_limit`` when one is given; a status other than optimal is
    returned as a result with NaN values and the status, never a number)."""
    import cvxpy as cp
    t0 = time.perf_counter()
    tt = float(nrm(mp.theta_tilde))
    silence_highs_banner()
    try:
        prob.solve(verbose=False, **({} if time_limit is None else {"solver": "CLARABEL", "time_limit": time_limit}))
        status, msg = prob.status, ""
        if status == cp.USER_LIMIT and time_limit is not None:
            msg = f"the solver stopped at time_limit = {time_limit:g} s before an optimal solution"
    except (cp.error.SolverError, cp.error.DCPError, ValueError) as err:
        status, msg = "solver_error", f"cvxpy: {err}"
    secs = time.perf_counter() - t0
    if status not in _OK or lam.value is None:
        return ProximityResult(measure, float("nan"), float("nan"), float("nan"), float("nan"),
                               np.full(len(mp.q), np.nan), tt, status, msg or f"cvxpy status {status}",
                               seconds=secs, info=info or {})
    lv = np.maximum(np.asarray(lam.value, dtype=np.float64), 0.0)
    u = unflatten(mp.J_tilde.T @ torch.from_numpy(lv), mp.theta_tilde)
    comp = float(lv @ (mp.q_tilde - 1.0))
    if h_of is None:
        stat, h = bregman(u, mp.theta_tilde, nrm), None
    else:
        h = h_of()
        stat = float(nrm._dual_value([a - b for a, b in zip(h, u)])) ** 2
    val = float(prob.value)
    return ProximityResult(measure, val, val / tt ** 2, stat, comp, lv, tt, status, msg, h, secs, info or {})


def _check_program_size(theta, data, max_size, what):
    """n P (samples x parameters) against max_size, from the shapes alone (before the Jacobian is formed)."""
    X = data[0] if isinstance(data, (tuple, list)) and data else None
    n = int(getattr(X, "shape", (0,))[0]) if X is not None and hasattr(X, "shape") else 0
    P = sum(int(p.numel()) for p in (theta.parameters() if isinstance(theta, torch.nn.Module) else as_params(theta)))
    check_size(n * P, max_size, f"{what}'s program (n P = {n} x {P}, the constraint Jacobian)")


def bregman_proximity(theta, data, *, model=None, norm="l2", time_limit=None, max_size=20_000_000) -> ProximityResult:
    """Bregman proximity measure P_D (the paper's Eq. 74: min over u and lambda of the generalized Bregman divergence) of the normalized point theta~ = theta / q_min^{1/L}.

    ``time_limit``: seconds for the solver (None: no limit); reaching it gives status "user_limit" and NaN values.
    ``max_size``: the largest n P (samples x parameters, the constraint Jacobian) accepted, checked before the
    Jacobian is formed (None: no limit)."""
    import cvxpy as cp
    time_limit = check_time_limit(time_limit)
    _check_program_size(theta, data, max_size, "bregman_proximity")
    nrm = make_norm(norm)
    mp = mm_point(theta, data, model)
    m = len(mp.q)
    lam, eps = cp.Variable(m, nonneg=True), cp.Variable(nonneg=True)
    Jt = mp.J_tilde.numpy()
    th = flatten(mp.theta_tilde).numpy()
    u = _blocks_expr(Jt.T @ lam, mp.theta_tilde)
    tt = float(nrm(mp.theta_tilde))
    fy = 0.5 * cp.square(nrm.dual_cvxpy(u)) + 0.5 * tt ** 2 - (Jt @ th) @ lam
    cons = [fy <= eps, (1.0 - mp.q_tilde) @ lam >= -eps]
    return _solve(cp.Problem(cp.Minimize(eps), cons), "bregman", lam, mp, nrm, time_limit=time_limit)


def dutta_proximity(theta, data, *, model=None, norm="l2", subgradient="auto", time_limit=None,
                    max_size=20_000_000) -> ProximityResult:
    """Dutta et al. KKT proximity measure of theta~ (Dutta et al. 2013), stationarity in the dual norm, squared.

    ``subgradient``: "exact" uses h = ||theta~|| * nrm.subgradient(theta~) (the gradient when the norm is
    smooth; a fixed selection otherwise); "enlarged" lets h range over {h : D(h) <= eps}; "auto" picks
    "exact" for l2 / smooth norms and "enlarged" for the rest. ``time_limit`` and ``max_size`` as in
    ``bregman_proximity``.
    """
    import cvxpy as cp
    time_limit = check_time_limit(time_limit)
    _check_program_size(theta, data, max_size, "dutta_proximity")
    nrm = make_norm(norm)
    if subgradient == "auto":
        subgradient = "exact" if (nrm.smooth or getattr(nrm, "p", None) == 2.0) else "enlarged"
    if subgradient not in ("exact", "enlarged"):
        raise ValueError(f"subgradient must be 'auto', 'exact' or 'enlarged', got {subgradient!r}")
    mp = mm_point(theta, data, model)
    m = len(mp.q)
    lam, eps = cp.Variable(m, nonneg=True), cp.Variable(nonneg=True)
    Jt = mp.J_tilde.numpy()
    tt = float(nrm(mp.theta_tilde))
    cons = [(1.0 - mp.q_tilde) @ lam >= -eps]
    if subgradient == "exact":
        h0 = flatten([tt * v for v in nrm.subgradient(mp.theta_tilde)]).numpy()
        r = _blocks_expr(h0 - Jt.T @ lam, mp.theta_tilde)
        h_of = lambda: unflatten(torch.from_numpy(h0), mp.theta_tilde)  # noqa: E731
    else:
        hv = cp.Variable(Jt.shape[1])
        th = flatten(mp.theta_tilde).numpy()
        cons.append(0.5 * cp.square(nrm.dual_cvxpy(_blocks_expr(hv, mp.theta_tilde))) + 0.5 * tt ** 2 - th @ hv <= eps)
        r = _blocks_expr(hv - Jt.T @ lam, mp.theta_tilde)
        h_of = lambda: unflatten(torch.from_numpy(np.asarray(hv.value, dtype=np.float64)), mp.theta_tilde)  # noqa: E731
    cons.append(cp.square(nrm.dual_cvxpy(r)) <= eps)
    return _solve(cp.Problem(cp.Minimize(eps), cons), "dutta", lam, mp, nrm, h_of, {"subgradient": subgradient},
                  time_limit)


__all__ = ["bregman", "generalized_bregman", "bregman_proximity", "dutta_proximity", "ProximityResult",
           "MMPoint", "mm_point"]

