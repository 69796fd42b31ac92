"""Exact linear max-margin direction by convex programming (Gunasekar et al. 2018).

For separable data {(x_i, y_i)} with a_i := y_i x_i and a norm ||.|| on R^d,

    gamma* = max_{||w|| <= 1} min_i <w, a_i>              (primal: max t  s.t.  A w >= t 1, ||w|| <= 1)
           = min_{alpha in simplex} ||A^T alpha||_*       (dual, by the minimax theorem; alpha = the
                                                            multipliers of A w >= t 1, which sum to 1).

Any unit w gives the lower bound min_i <w, a_i> <= gamma*, any alpha in the simplex the upper bound
||A^T alpha||_* >= gamma*; we report both (``margin`` and ``dual_bound``) so the answer carries its own
optimality certificate (``gap``).

Solvers: l1 and linf are LPs, solved by HiGHS (dual simplex, a vertex, feasibility tolerance 1e-9);
l2, lp:p and other norms with a cvxpy form are SOCPs, solved by Clarabel (interior point) with
tol_gap_abs = tol_gap_rel = tol_feas = 1e-10.  Polishing: w is rescaled to ||w|| = 1 exactly and the
margin recomputed from w (never taken from the solver's t); for l2 the active set {i : <w, a_i> <=
margin (1 + 1e-6)} is re-solved in closed form (least-norm w with <w, a_i> = 1 on the active set,
w = A_S^T (A_S A_S^T)^+ 1), kept only if it is feasible and has non-negative multipliers.
Scale: a_i = y_i x_i are divided by 2^e (max |a_ij| in [1/2, 1), exact) before anything else, and margin and
dual_bound are multiplied back (gamma*(c A) = c gamma*(A), w unchanged), so X anywhere in float64's range
gives the same w; a margin beyond float64 raises ValueError. Non-separable data (gamma* <= 0) raise ValueError;
a solver status other than optimal raises RuntimeError carrying cvxpy's status (``time_limit=`` seconds bound
the solver; reaching it is a RuntimeError naming time_limit, never a margin).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

import torch

from ._quiet import silence_highs_banner
from .data import check_data
from .norms import LpNorm, norm as make_norm
from .limits import check_seconds, check_size
from .scale import log_abs_scaled, scaled_float, unit_scale

_LP_OPTS = {"solver": "HIGHS", "verbose": False}
_SOCP_OPTS = {"solver": "CLARABEL", "verbose": False, "tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10,
              "max_iter": 500}
SEPARATION_TOL = 1e-9  # gamma* <= SEPARATION_TOL * max_i ||a_i||_*  is read as "not separable"


@dataclass
class LinearMaxMargin:
    """Result of ``max_margin_linear``.

    w: (d,) direction with ||w|| = 1 in ``norm``; margin: min_i y_i <w, x_i> (a certified lower bound
    on gamma*); dual_bound: ||A^T alpha||_* for the solver's multipliers alpha (an upper bound);
    gap = dual_bound - margin; alpha: (n,) multipliers (the support vectors carry alpha_i > 0).
    """

    w: np.ndarray
    margin: float
    status: str
    norm: str
    dual_bound: float
    alpha: np.ndarray
    solver: str
    polished: bool = False

    @property
    def gap(self) -> float:
        return self.dual_bound - self.margin


def _is_lp(nrm) -> bool:
    return isinstance(nrm, LpNorm) and nrm.p in (1.0, math.inf)


def _solve(A: np.ndarray, nrm, time_limit: float | None = None):
    import cvxpy as cp
    n, d = A.shape
    w, t = cp.Variable(d), cp.Variable()
    cons = [A @ w >= t, nrm.cvxpy([w]) <= 1]
    prob = cp.Problem(cp.Maximize(t), cons)
    opts = dict(_LP_OPTS if _is_lp(nrm) else _SOCP_OPTS, **({} if time_limit is None else {"time_limit": time_limit}))
    silence_highs_banner()
    try:
        with warnings.catch_warnings():  # an inaccurate solve is reported below as an error with its status
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(**opts)
    except cp.error.SolverError as err:
        raise RuntimeError(f"max_margin_linear: solver {opts['solver']} failed for norm {nrm.name!r} "
                           f"(status {prob.status!r}): {err}") from None
    if prob.status == cp.USER_LIMIT and time_limit is not None:
        raise RuntimeError(f"max_margin_linear: the solver stopped at time_limit = {time_limit:g} s before an "
                           f"optimal solution (n = {n}, d = {d}); raise time_limit or pass fewer samples")
    if prob.status != cp.OPTIMAL or w.value is None:
        raise RuntimeError(f"max_margin_linear: solver {opts['solver']} returned status {prob.status!r} for "
                           f"norm {nrm.name!r}; no margin is reported. Try rescaling X or another norm.")
    alpha = np.clip(np.asarray(cons[0].dual_value, dtype=float).reshape(-1), 0.0, None)
    return np.asarray(w.value, dtype=float), alpha, prob.status, opts["solver"]


def _polish_l2(A: np.ndarray, w: np.ndarray, margin: float):
    """Closed-form l2 solution on the active set; None if it is not a certified improvement."""
    active = A @ w <= margin * (1 + 1e-6) + 1e-12
    As = A[active]
    G = As @ As.T
    mu = np.linalg.lstsq(G, np.ones(As.shape[0]), rcond=None)[0]
    if np.any(mu < -1e-10):
        return None
    v = As.T @ mu
    nv = np.linalg.norm(v)
    if not nv > 0:
        return None
    v = v / nv
    m = float((A @ v).min())
    if m < margin:
        return None
    alpha = np.zeros(A.shape[0])
    alpha[active] = np.clip(mu, 0, None) / max(np.clip(mu, 0, None).sum(), 1e-300)
    return v, m, alpha


def max_margin_linear(X, y, norm="l1", *, time_limit: float | None = None,
                      max_size: int | None = 50_000_000) -> LinearMaxMargin:
    """gamma* = max_{||w|| <= 1} min_i y_i <w, x_i> for the linear model <w, x> (no bias), with its w.

    ``norm`` is a name accepted by ``kc.norm`` (l1, l2, linf, lp:P, ...) or a Norm with a cvxpy form.
    ``time_limit``: seconds for the solver (HiGHS / Clarabel; building the program, linear in n d, is not
    counted); None: no limit. ``max_size``: the largest n d accepted (default 5e7, 400 MB of constraint data),
    checked before the program is built. Raises ValueError for bad labels/shapes, a bad time_limit, a program
    above max_size or non-separable data, RuntimeError when the solver fails or reaches the time limit.
    """
    time_limit = check_time_limit(time_limit)
    nrm = make_norm(norm)
    Xt, yt = check_data((X, y), 1)
    if Xt.dim() != 2:
        raise ValueError(f"max_margin_linear needs X of shape (n, d); got shape {tuple(Xt.shape)} "
                         "(flatten the inputs first)")
    check_size(Xt.shape[0] * Xt.shape[1], max_size, f"max_margin_linear's program (n d = {Xt.shape[0]} x {Xt.shape[1]})")
    e, (Au,) = unit_scale([yt[:, None] * Xt])      # gamma*(2^e A) = 2^e gamma*(A): solve at unit scale
    res = _max_margin_unit(Au.numpy(), nrm, time_limit)
    res.margin, res.dual_bound = _scale_back(res.margin, e, "margin"), _scale_back(res.dual_bound, e, "dual bound")
    return res


def _scale_back(value: float, e: int, what: str) -> float:
    out = scaled_float(value, e)
    if not math.isfinite(out):
        raise ValueError(f"the max-margin {what} of X is beyond float64 (log = {log_abs_scaled(value, e):.6g}); "
                         "rescale X (gamma* scales linearly with X)")
    return out


def check_time_limit(time_limit):
    """``time_limit`` as a float > 0 (None stays None), or a ValueError/TypeError naming time_limit."""
    return check_seconds(time_limit, "time_limit")


def _max_margin_unit(A: np.ndarray, nrm, time_limit: float | None = None) -> LinearMaxMargin:
    """max_margin_linear on a_i = y_i x_i with max |A_ij| in [1/2, 1)."""
    scale = max(float(nrm._dual_value([torch.from_numpy(row)])) for row in A)
    if not scale > 0:
        raise ValueError("every x_i is 0: the data are not linearly separable (max margin is 0)")
    w, alpha, status, solver = _solve(A / scale, nrm, time_limit)          # solve on rescaled data (||a_i||_* <= 1)
    nw = nrm(w)
    if not nw > 0:
        raise ValueError("data are not linearly separable through the origin: the max margin is 0 "
                         "(the solver returned w = 0). A linear model without bias cannot reach 100% accuracy.")
    w = w / nw
    margin = float((A @ w).min())
    asum = alpha.sum()
    alpha = alpha / asum if asum > 0 else np.full(A.shape[0], 1.0 / A.shape[0])
    polished = False
    if isinstance(nrm, LpNorm) and nrm.p == 2 and margin > 0:
        pol = _polish_l2(A, w, margin)
        if pol is not None:
            w, margin, alpha = pol
            polished = True
    dual_bound = nrm.dual(A.T @ alpha)
    if dual_bound <= SEPARATION_TOL * scale or margin <= 0:
        raise ValueError(f"data are not linearly separable through the origin in norm {nrm.name!r}: "
                         f"the max margin is <= 0 (best min_i y_i <w, x_i> = {margin:.3g}, dual bound "
                         f"{dual_bound:.3g}). A linear model without bias cannot reach 100% accuracy.")
    return LinearMaxMargin(w=w, margin=margin, status=status, norm=nrm.name, dual_bound=float(dual_bound),
                           alpha=alpha, solver=solver, polished=polished)


__all__ = ["max_margin_linear", "LinearMaxMargin", "SEPARATION_TOL"]
