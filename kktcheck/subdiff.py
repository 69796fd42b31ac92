"""The subdifferential of 1/2||theta||^2 as cvxpy constraints (paper Lemma A.4), with near-tie tolerance.

    d(1/2||x||^2) = ||x|| * d||x|| = { h : ||h||_* = ||x||, <h, x> = ||x||^2 }.

``norm_subdifferential_constraints(norm, theta, h, tol)`` returns constraints saying h lies in
``t * d||theta||`` with t = ||theta|| (the general helper ``scaled_constraints`` takes any t >= 0,
a number or an affine cvxpy expression; every parametrization below is linear in t).

Finite-time iterates never hit exact ties or zeros, so the exact set is almost always a singleton far
from the limit's. ``tol`` (relative, default ``DEFAULT_TOL``) enlarges the set to the one of the nearest
point with exact ties (sets A_tau and Z_tau below):

* l2:       h = t * theta / ||theta||_2 (unique; no tolerance).
* l1:       Z = {j : |theta_j| <= tol * ||theta||_inf}; h_j = t sign(theta_j) off Z, |h_j| <= t on Z.
* linf:     A = {j : |theta_j| >= (1 - tol) ||theta||_inf}; h = t * sum_{j in A} w_j sign(theta_j) e_j,
            w >= 0, sum w = 1 (convex hull of the near-maximal signed coordinates); h_j = 0 off A.
* lp:       h = t * sign(theta)|theta|^{p-1} / ||theta||_p^{p-1} (unique for 1 < p < inf).
* spectral matrix: theta = U S V^T, r = #{sigma_i >= (1 - tol) sigma_1};
            h = U_r M V_r^T with M PSD, tr M = t.
* nuclear matrix: r = #{sigma_i > tol sigma_1}; h = t U_r V_r^T + U_perp M V_perp^T, ||M||_2 <= t.
* BlockNorm "max" (e.g. kc.norm("spectral")): only blocks l with ||theta_l||_(l)/c_l >= (1 - tol)||theta||
            take part; h_l in (t w_l / c_l) d||theta_l||_(l), w >= 0, sum w = 1, h_l = 0 elsewhere.
* BlockNorm "sum" (e.g. kc.norm("nuclear")): h_l in (t c_l) d||theta_l||_(l) in every block; a block with
            ||theta_l|| <= tol * max_k ||theta_k|| counts as zero (its set is the dual ball of radius t c_l).
* any other Norm: the exact description {||h||_* <= t, <h, theta> = t ||theta||} (no tolerance).

At theta = 0 the set d(1/2||.||^2)(0) = {0}.
Blocks: h[l] is a cvxpy expression with the block's shape (blocks of more than 2 dimensions, e.g. conv
kernels, use the (out, rest) matrix shape); flattening is row-major like ``params.flatten``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .norms import norm as make_norm

DEFAULT_TOL = 1e-6


def block_shape(b) -> tuple:
    """Shape used for the cvxpy variable of a block: the block's shape, or (out, rest) for >2-D blocks."""
    shape = tuple(b.shape)
    return shape if len(shape) <= 2 else (shape[0], int(np.prod(shape[1:])))


def _np(b) -> np.ndarray:
    a = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return np.asarray(a, dtype=np.float64).reshape(block_shape(a))


def _vec(e):
    import cvxpy as cp
    if len(e.shape) == 0:
        return cp.reshape(e, (1,), order="C")
    return cp.vec(e, order="C") if len(e.shape) >= 2 else e


def _flat(theta):
    return np.concatenate([_np(b).reshape(-1) for b in theta])


def _mat(b: np.ndarray) -> np.ndarray:
    return b if b.ndim == 2 else b.reshape(1, -1)


def _mat_expr(e, shape2):
    import cvxpy as cp
    return e if tuple(e.shape) == tuple(shape2) else cp.reshape(e, shape2, order="C")


def _lp_constraints(nrm, theta, h, t, tol):
    import cvxpy as cp
    x = _flat(theta)
    hv = cp.hstack([_vec(e) for e in h]) if len(h) > 1 else _vec(h[0])
    amax = np.abs(x).max()
    if nrm.p == 1:
        zero = np.abs(x) <= tol * amax
        cons = []
        if (~zero).any():
            idx = np.flatnonzero(~zero)
            cons.append(hv[idx] == t * np.sign(x[idx]))
        if zero.any():
            idx = np.flatnonzero(zero)
            cons += [hv[idx] <= t, hv[idx] >= -t]
        return cons
    if math.isinf(nrm.p):
        act = np.abs(x) >= (1.0 - tol) * amax
        ia, io = np.flatnonzero(act), np.flatnonzero(~act)
        s = np.sign(x[ia])
        cons = [cp.multiply(s, hv[ia]) >= 0, s @ hv[ia] == t]
        if io.size:
            cons.append(hv[io] == 0)
        return cons
    v = _flat(nrm.subgradient([torch.from_numpy(x)]))
    return [hv == t * v]


def _spectral_constraints(theta_l: np.ndarray, h_l, t, tol):
    import cvxpy as cp
    A = _mat(theta_l)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = int((s >= (1.0 - tol) * s[0]).sum())
    H = _mat_expr(h_l, A.shape)
    if r == 1:
        return [H == t * np.outer(U[:, 0], Vt[0])]
    M = cp.Variable((r, r), PSD=True)
    return [H == U[:, :r] @ M @ Vt[:r], cp.trace(M) == t]


def _nuclear_constraints(theta_l: np.ndarray, h_l, t, tol):
    import cvxpy as cp
    A = _mat(theta_l)
    U, s, Vt = np.linalg.svd(A, full_matrices=True)
    r = int((s > tol * s[0]).sum())
    H = _mat_expr(h_l, A.shape)
    base = U[:, :r] @ Vt[:r]
    m, n = A.shape
    if r == min(m, n):
        return [H == t * base]
    M = cp.Variable((m - r, n - r))
    return [H == t * base + U[:, r:] @ M @ Vt[r:], cp.sigma_max(M) <= t if min(m - r, n - r) > 1
            else cp.norm(cp.vec(M, order="C"), 2) <= t]


def _ball_constraints(nrm, h_l, t):
    """h in t * (dual unit ball) = d||.||(0) scaled by t."""
    return [nrm.dual_cvxpy([h_l]) <= t]


def scaled_constraints(nrm, theta, h, t, tol: float = DEFAULT_TOL) -> list:
    """Constraints for h in t * d||theta|| (tolerance-enlarged as in the module docstring); theta != 0. The norm
    builds them (``Norm.subdifferential_cvxpy``: one method per operation, no dispatch on the norm's type here)."""
    return nrm.subdifferential_cvxpy([_np(b) for b in theta], h, t, tol)


def lp_constraints(nrm, theta, h, t, tol) -> list:
    """l1 / linf / lp: the sets Z_tau, A_tau of the module docstring (theta: numpy blocks)."""
    return _lp_constraints(nrm, theta, h, t, tol)


def spectral_constraints(theta, h, t, tol) -> list:
    """Spectral norm of one matrix block: h = U_r M V_r^T, M PSD, tr M = t (r near-top singular values)."""
    return _spectral_constraints(theta[0], h[0], t, tol)


def nuclear_constraints(theta, h, t, tol) -> list:
    """Nuclear norm of one matrix block: h = t U_r V_r^T + U_perp M V_perp^T, ||M||_2 <= t."""
    return _nuclear_constraints(theta[0], h[0], t, tol)


def block_constraints(nrm, theta, h, t, tol) -> list:
    """BlockNorm "max": near-maximal blocks share t through weights w (sum 1), the others are 0; "sum": every block
    in (t c_l) d||theta_l||, near-zero blocks in the dual ball of radius t c_l."""
    import cvxpy as cp
    norms, c = nrm._layout([torch.from_numpy(b) for b in theta])
    vals = np.array([float(n([torch.from_numpy(b)])) for n, b in zip(norms, theta)])
    cons = []
    if nrm.combine == "max":
        rho = (vals / np.array(c)).max()
        act = [l for l in range(len(theta)) if vals[l] / c[l] >= (1.0 - tol) * rho]
        if len(act) == 1:
            w = {act[0]: 1.0}
        else:
            wv = cp.Variable(len(act), nonneg=True)
            cons.append(cp.sum(wv) == 1)
            w = {l: wv[k] for k, l in enumerate(act)}
        for l in range(len(theta)):
            cons += scaled_constraints(norms[l], [theta[l]], [h[l]], t * w[l] / c[l], tol) if l in w else [h[l] == 0]
        return cons
    big = vals.max()
    for l in range(len(theta)):
        if vals[l] <= tol * big:
            cons += _ball_constraints(norms[l], h[l], t * c[l])
        else:
            cons += scaled_constraints(norms[l], [theta[l]], [h[l]], t * c[l], tol)
    return cons


def exact_constraints(nrm, theta, h, t) -> list:
    """Any norm, no tolerance: {||h||_* <= t, <h, theta> = t ||theta||}."""
    import cvxpy as cp
    val = float(nrm([torch.from_numpy(b) for b in theta]))
    inner = sum(cp.sum(cp.multiply(b, e)) for b, e in zip(theta, h))
    return [nrm.dual_cvxpy(list(h)) <= t, inner == t * val]


def norm_subdifferential_constraints(norm, theta, h, tol: float = DEFAULT_TOL) -> list:
    """Constraints for h in ||theta|| * d||theta|| = d(1/2||theta||^2) (paper Lemma A.4), tolerance ``tol``.

    ``theta``: list of float64 tensors/arrays (one per layer); ``h``: list of cvxpy expressions shaped by
    ``block_shape``. At theta = 0 the set is {0}.
    """
    nrm = make_norm(norm)
    if not 0 <= tol < 1:
        raise ValueError(f"tol must lie in [0, 1) (a relative tie tolerance), got {tol}")
    if len(theta) != len(h):
        raise ValueError(f"theta has {len(theta)} blocks but h has {len(h)}")
    rho = float(nrm([torch.as_tensor(_np(b)) for b in theta]))
    if rho == 0:
        return [e == 0 for e in h]
    return scaled_constraints(nrm, theta, h, rho, tol)


def dist_to_subdifferential(norm, theta, u, tol: float = DEFAULT_TOL, solver: str | None = None):
    """min over h in ||theta|| d||theta|| of ||h - u||_* (dual norm), and the minimizing h.

    ``u`` is a dual vector shaped like theta (list of arrays/tensors). For dist(u, d||theta||) itself
    (unit scale) pass u * ||theta|| and divide the distance by ||theta||.
    Returns (distance, [h_l as numpy arrays shaped like theta_l]). Raises RuntimeError if cvxpy fails.
    """
    import cvxpy as cp
    nrm = make_norm(norm)
    theta_np = [_np(b) for b in theta]
    u_np = [_np(b) for b in u]
    if [a.shape for a in u_np] != [a.shape for a in theta_np]:
        raise ValueError("u must be shaped like theta (one array per layer)")
    h = [cp.Variable(a.shape) for a in theta_np]
    cons = norm_subdifferential_constraints(nrm, theta_np, h, tol)
    obj = nrm.dual_cvxpy([hl - ul for hl, ul in zip(h, u_np)])
    prob = cp.Problem(cp.Minimize(obj), cons)
    try:
        prob.solve(solver=solver or "CLARABEL")
    except cp.SolverError as err:
        raise RuntimeError(f"dist_to_subdifferential: cvxpy failed: {err}") from None
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"dist_to_subdifferential: cvxpy status {prob.status}")
    shapes = [tuple(b.shape) for b in theta]
    hs = [np.asarray(hl.value, dtype=np.float64).reshape(s) for hl, s in zip(h, shapes)]
    return float(prob.value), hs
