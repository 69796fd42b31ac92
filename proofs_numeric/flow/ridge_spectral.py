"""The ridge step (R) for the layer-wise spectral norm ||theta|| = max_b sigma_max(theta_b) (``kc.norm("spectral")``).

    (R)   maximize t  s.t.  t <= q_i + sum_b <J_ib, D_b>  (i = 1..n),   sigma_max(D_b) <= r  for every block b,

with J_ib the block-b part of grad q_i reshaped like the block (a matrix block (out, in); a vector block is read as a
1 x m row, so its constraint is the l2 ball ||D_b||_2 <= r; a conv kernel (out, in, kh, kw) as (out, in kh kw), as
kktcheck's SpectralMatrix does). The dual is

    min_{w in simplex}  <w, q> + r sum_b ||(J^T w)_b||_nuc       (sum_b of nuclear norms: the dual of the max),

and the dual weights w of the n margin constraints are the end-of-step softmax weights of the sharp limit. At an
optimum D_b = r U_b V_b^T on the top singular space of (J^T w)_b only when that space is one-dimensional or the
block's (J^T w)_b has full rank; in general D_b is r times any element of the spectral norm's subdifferential at
(J^T w)_b, so the solver returns the program's own D, not a polar factor.

The program is a second-order/semidefinite cone program (sigma_max(X) <= 1 is [[I, X], [X^T, I]] PSD), built once
per (n, block shapes) with cvxpy Parameters q (n,) and J_b (n, size_b) (disciplined parametrized programming: the
canonicalization is cached and a new (q, J) only refills the numbers) and solved by Clarabel. ``flow.ridge`` scales
the program to entries <= 1 and r = 1 before calling it, as for the other norms.
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np


def matrix_shape(shape) -> tuple[int, int]:
    """How the spectral norm reads a parameter block: 0-/1-D as a 1 x m row, 2-D as is, k-D as (out, rest)."""
    shape = tuple(int(s) for s in shape)
    size = math.prod(shape)
    if len(shape) <= 1:
        return 1, size
    return shape[0], size // shape[0] if shape[0] else 0


def block_slices(shapes) -> list[tuple[slice, tuple[int, int]]]:
    """(columns of the flattened parameters, matrix shape) per block, blocks flattened row-major in order."""
    out, start = [], 0
    for sh in shapes:
        m, k = matrix_shape(sh)
        out.append((slice(start, start + m * k), (m, k)))
        start += m * k
    return out


def nuclear_row_norms(J, shapes) -> np.ndarray:
    """sum_b ||J_ib||_nuc for every row i of J (n, P): the dual norm of the layer-wise spectral norm, per row."""
    total = np.zeros(J.shape[0])
    for sl, (m, k) in block_slices(shapes):
        if m * k:
            total += np.linalg.svd(J[:, sl].reshape(-1, m, k), compute_uv=False).sum(axis=1)
    return total


def nuclear_dual_norm(g, shapes) -> float:
    """sum_b ||g_b||_nuc for one flattened vector g (P,)."""
    return float(nuclear_row_norms(np.asarray(g, dtype=np.float64)[None, :], shapes)[0])


def _check_shapes(J, shapes):
    total = sum(m * k for _, (m, k) in block_slices(shapes))
    if total != J.shape[1]:
        raise ValueError(f"ridge_spectral: the block shapes {list(shapes)} hold {total} parameters but J has "
                         f"{J.shape[1]} columns; pass shapes=[tuple(p.shape) for p in params]")


@lru_cache(maxsize=64)
def _program(n: int, mats: tuple):
    """The parametrized program (R) with r = 1 for n rows and blocks of matrix shapes ``mats``; compiled on first
    solve, then reused (cvxpy caches the canonicalization of a DPP program)."""
    import cvxpy as cp
    q = cp.Parameter(n)
    Js = [cp.Parameter((n, m * k)) for m, k in mats]
    ds = [cp.Variable(m * k) for m, k in mats]
    t = cp.Variable()
    gain = sum(Jb @ db for Jb, db in zip(Js, ds))
    margin = t <= q + gain
    balls = [cp.norm(db, 2) <= 1 if m == 1 or k == 1 else cp.sigma_max(cp.reshape(db, (m, k), order="C")) <= 1
             for db, (m, k) in zip(ds, mats)]
    return cp.Problem(cp.Maximize(t), [margin] + balls), q, Js, ds, margin


def solve_spectral(q, J, r, shapes):
    """(D, w, dual_norm) for (R) with ||.|| = max_b sigma_max(D_b): D (P,) the optimal step (clipped blockwise into
    the ball against solver tolerance), w the margin constraints' dual weights (>= 0, sum 1 at optimality) and
    dual_norm = sum_b ||(J^T w)_b||_nuc. Solved for r = 1 and scaled (the program is homogeneous in (J, r))."""
    import cvxpy as cp
    q, J = np.asarray(q, dtype=np.float64), np.asarray(J, dtype=np.float64)
    _check_shapes(J, shapes)
    blocks = block_slices(shapes)
    mats = tuple(mk for _, mk in blocks)
    prob, qp, Js, ds, margin = _program(q.size, mats)
    qp.value = q
    for Jb, (sl, _) in zip(Js, blocks):
        Jb.value = J[:, sl] * float(r)
    try:
        with warnings.catch_warnings():      # "may be inaccurate": the caller's duality gap measures it
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=cp.CLARABEL)
    except cp.SolverError as err:
        raise RuntimeError(f"Clarabel failed on the spectral ridge program: {err}") from err
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or ds[0].value is None:
        raise RuntimeError(f"the spectral ridge program ended with status {prob.status!r}")
    D = np.zeros(J.shape[1])
    for db, (sl, (m, k)) in zip(ds, blocks):
        Db = np.asarray(db.value, dtype=np.float64).reshape(m, k)
        top = float(np.linalg.norm(Db, 2)) if Db.size else 0.0
        D[sl] = (Db / max(top, 1.0)).ravel() * float(r)     # feasible: sigma_max(D_b) <= r despite tolerances
    w = np.clip(np.asarray(margin.dual_value, dtype=np.float64).ravel(), 0.0, None)
    return D, w, nuclear_dual_norm(J.T @ w, shapes)


__all__ = ["matrix_shape", "block_slices", "nuclear_row_norms", "nuclear_dual_norm", "solve_spectral"]
