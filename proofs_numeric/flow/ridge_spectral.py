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

The program is a second-order/semidefinite cone program (sigma_max(X) <= 1 is [[I, X], [X^T, I]] PSD) over each
block compressed to the spans of its rows' matrices (exact; a (100, 50) layer became a 150 x 150 PSD cone that took
Clarabel about 2 minutes per solve, its compression at most n x n), built once per (n, compressed block shapes) with cvxpy Parameters q (n,) and J_b (n, size_b) (disciplined parametrized programming: the
canonicalization is cached and a new (q, J) only refills the numbers) and solved by Clarabel. ``flow.ridge`` scales
the program to entries <= 1 and r = 1 before calling it, as for the other norms.
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

import kktcheck as kc

SPECTRAL = kc.norm("spectral")   # the one implementation of the norm and its dual (sum of nuclear norms)

# The largest compressed program solved: n sum_b a_b c_b entries of J (a_b x c_b the compressed block b). cvxpy's
# parametrized canonicalization grows with it: 0.5 s per solve at 8,000 entries, 2.7 s at 27,000, 7.6 s at 64,000
# (random full-rank blocks, 2 shared cores), and the late-phase benchmark's net (n = 64, a (100, 50) layer compressed
# to 64 x 50) asked for 25 GB. Larger programs raise RuntimeError, on which RidgeStep falls back to explicit steps.
MAX_ENTRIES = 20_000


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
    """sum_b ||J_ib||_nuc for every row i of J (n, P): the dual norm of the layer-wise spectral norm, per row, from
    ``kc.norm("spectral").dual`` on the row split into the parameter blocks."""
    sizes = [math.prod(tuple(int(s) for s in sh)) for sh in shapes]
    ends = np.cumsum(sizes)
    return np.array([SPECTRAL.dual([row[e - k:e].reshape(tuple(sh)) for e, k, sh in zip(ends, sizes, shapes)])
                     for row in np.asarray(J, dtype=np.float64)])


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


def _spans(Jb, tol=1e-12):
    """Orthonormal bases U (m, a) of the column space and V (k, c) of the row space of the n matrices J_ib (Jb: (n, m,
    k)): singular values above tol times the largest. Every <J_ib, D> depends on D only through U^T D V, and
    sigma_max(U Z V^T) = sigma_max(Z), so (R) restricted to D_b = U Z V^T has the same optimum."""
    n, m, k = Jb.shape
    U, su, _ = np.linalg.svd(Jb.transpose(1, 0, 2).reshape(m, n * k), full_matrices=False)
    _, sv, Vt = np.linalg.svd(Jb.reshape(n * m, k), full_matrices=False)
    a = int((su > tol * su[0]).sum()) if su.size and su[0] > 0 else 0
    c = int((sv > tol * sv[0]).sum()) if sv.size and sv[0] > 0 else 0
    return U[:, :a], Vt[:c].T


def solve_spectral(q, J, r, shapes):
    """(D, w, dual_norm) for (R) with ||.|| = max_b sigma_max(D_b): D (P,) the optimal step (clipped blockwise into
    the ball against solver tolerance), w the margin constraints' dual weights (>= 0, sum 1 at optimality) and
    dual_norm = sum_b ||(J^T w)_b||_nuc. Each block is first compressed to the spans of its rows' matrices (``_spans``:
    a (100, 50) layer of a two-layer ReLU net whose n rows J_ib are rank one becomes at most n x n, so the semidefinite
    cone is small); blocks with J_b = 0 get D_b = 0. Solved for r = 1 and scaled (the program is homogeneous)."""
    import cvxpy as cp
    q, J = np.asarray(q, dtype=np.float64), np.asarray(J, dtype=np.float64)
    _check_shapes(J, shapes)
    n = q.size
    spans = [(sl, *_spans(J[:, sl].reshape(n, m, k))) for sl, (m, k) in block_slices(shapes)]
    spans = [(sl, U, V) for sl, U, V in spans if U.shape[1] and V.shape[1]]
    entries = n * sum(U.shape[1] * V.shape[1] for _, U, V in spans)
    if entries > MAX_ENTRIES:
        raise RuntimeError(f"the spectral ridge program is too large ({entries} entries of the compressed J > "
                           f"{MAX_ENTRIES}); RidgeStep takes explicit steps instead")
    D = np.zeros(J.shape[1])
    if not spans:                                   # no block moves any margin: D = 0, the weight on the minimum
        w = np.zeros(n)
        w[int(np.argmin(q))] = 1.0
        return D, w, 0.0
    prob, qp, Js, ds, margin = _program(n, tuple((U.shape[1], V.shape[1]) for _, U, V in spans))
    qp.value = q
    for Jp, (sl, U, V) in zip(Js, spans):
        Jb = J[:, sl].reshape(n, U.shape[0], V.shape[0])
        Jp.value = np.einsum("ma,nmk,kc->nac", U, Jb, V).reshape(n, -1) * float(r)
    try:
        with warnings.catch_warnings():      # "may be inaccurate": the caller's duality gap measures it
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=cp.CLARABEL)
    except cp.SolverError as err:
        raise RuntimeError(f"Clarabel failed on the spectral ridge program: {err}") from err
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or ds[0].value is None:
        raise RuntimeError(f"the spectral ridge program ended with status {prob.status!r}")
    for db, (sl, U, V) in zip(ds, spans):
        Z = np.asarray(db.value, dtype=np.float64).reshape(U.shape[1], V.shape[1])
        Z = Z / max(float(np.linalg.norm(Z, 2)), 1.0)       # feasible: sigma_max(D_b) <= r despite tolerances
        D[sl] = (U @ Z @ V.T).ravel() * float(r)
    w = np.clip(np.asarray(margin.dual_value, dtype=np.float64).ravel(), 0.0, None)
    return D, w, nuclear_dual_norm(J.T @ w, shapes)


__all__ = ["MAX_ENTRIES", "matrix_shape", "block_slices", "nuclear_row_norms", "nuclear_dual_norm", "solve_spectral"]
