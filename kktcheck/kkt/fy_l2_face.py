"""Face solves of the l2 measure program of two-layer ReLU nets through the n x n Schur complement
(kkt/fy_l2_newton.py), with the per-neuron pieces kept between active-set steps.

On a face (samples A, band columns free (I) or at a side), the face Gram matrix G_E^T G_E in y = (lambda_A, mu_I)
has an I-block that is block diagonal over neurons: beta beta' K[o_j, o_j] for the free columns of neuron j
(owners o_j, coefficients beta; kkt/two_layer_gram.py). With L_j the Cholesky factor of K[o_j, o_j],
V_j = L_j^{-1} K[o_j, :] diag(Beff[:, j]) (k_j x n, every sample) and w_j = L_j^{-1} (r_Ij / beta):

    S = G_A^T G_A - (sum_j V_j^T V_j)[A, A],      y_A = S^{-1} (r_A - (sum_j V_j^T w_j)[A]),
    mu_Ij = beta^{-1} L_j^{-T} (w_j - V_j[:, A] y_A).

(Schur complement of the block-diagonal part; a singular K[o_j, o_j] gets a ridge of 1e-12 of its largest
diagonal; restricting the all-sample sums to A is exact because row i of V_j involves sample i only.)
A neuron's (V_j, w_j, L_j) depend only on its free columns and the column Beff[:, j] (a top column adds
width_c beta_c to B_ij), so a step recomputes only the neurons whose free set or Beff column changed and
updates the two sums by the difference: after the first step, n^2 (changed columns) flops instead of n^2 k.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .two_layer_gram import TwoLayerGram

# A neuron's free columns can be linearly dependent (more than dim x of them, or repeated x_i): the face minimizer
# is then not unique in mu, and the ridge picks one (a change of the face program of relative size 1e-12; the
# caller certifies the result against the exact program anyway).
RIDGE = 1e-12


class FaceSolver:
    """Unscaled solves G_E^T G_E y = r (two right-hand sides) on successive faces of one two-layer program."""

    def __init__(self, tl: TwoLayerGram, rhs_band: np.ndarray):
        """rhs_band: (k,) right-hand side of every band column (the first of the two right-hand sides; the second
        is 0 on the band)."""
        self.tl, self.rhs_band = tl, rhs_band
        self.cache: dict = {}  # neuron j -> (key, cols, V_j, w_j, L_j)
        self.SV = np.zeros((tl.n, tl.n))
        self.Vw = np.zeros(tl.n)

    def _neuron(self, j, cols, bcol):
        """(V_j, w_j, L_j) of neuron j with free columns ``cols`` and Beff column ``bcol``; None if singular."""
        tl = self.tl
        o = tl.owner[cols]
        Koo = tl.K[np.ix_(o, o)]
        L, info = lapack.dpotrf(Koo, lower=1)
        if info != 0:  # dependent free columns (more of them than dimensions of x): ridge RIDGE * max diag
            L, info = lapack.dpotrf(Koo + RIDGE * float(np.diag(Koo).max()) * np.eye(len(o)), lower=1)
            if info != 0:
                return None
        L = np.tril(L)
        V = linalg.solve_triangular(L, tl.K[o] * bcol[None, :], lower=True, check_finite=False)
        w = linalg.solve_triangular(L, self.rhs_band[cols] / tl.beta[cols], lower=True, check_finite=False)
        return V, w, L

    def _refresh(self, Beff, free) -> bool:
        """Bring the per-neuron cache and the sums SV, Vw to the face (free columns, Beff); False if singular."""
        tl = self.tl
        nb = tl.neuron[free]
        order = np.argsort(nb, kind="stable")
        groups, starts = np.unique(nb[order], return_index=True)
        bounds = list(starts[1:]) + [free.size]
        want = {int(j): free[order[s:e]] for j, s, e in zip(groups, starts, bounds)}
        gone, new = [], []
        for j in set(self.cache) | set(want):
            cols = want.get(j)
            key = None if cols is None else (cols.tobytes(), Beff[:, j].tobytes())
            old = self.cache.get(j)
            if old is not None and old[0] == key:
                continue
            if old is not None:
                gone.append(self.cache.pop(j))
            if cols is None:
                continue
            got = self._neuron(j, cols, Beff[:, j])
            if got is None:
                return False
            self.cache[j] = (key, cols, *got)
            new.append(self.cache[j])
        for entries, sign in ((gone, -1.0), (new, 1.0)):  # one product per sign: the sums change by the difference
            if entries:
                V = np.vstack([e[2] for e in entries])
                self.SV += sign * (V.T @ V)
                self.Vw += sign * (V.T @ np.concatenate([e[3] for e in entries]))
        return True

    def solve(self, A, Beff, free, rhs_lam):
        """(y_A (|A| x 2), mu_free (|free| x 2)) for right-hand sides rhs_lam (|A| x 2) on the lambda columns and
        (rhs_band[free], 0) on the free columns; None when a neuron block or S is singular."""
        if not self._refresh(Beff, free):
            return None
        S = self.tl.lam_gram(Beff, A) - self.SV[np.ix_(A, A)]
        r = rhs_lam.copy()
        r[:, 0] -= self.Vw[A]
        try:
            yA = linalg.cho_solve(linalg.cho_factor(S, check_finite=False), r, check_finite=False)
        except linalg.LinAlgError:  # redundant columns on this face: a least-squares solution
            yA = np.linalg.lstsq(S, r, rcond=None)[0]
        pos = np.zeros(self.tl.k, dtype=int)
        pos[free] = np.arange(free.size)
        mu = np.zeros((free.size, 2))
        for _, cols, V, w, L in self.cache.values():
            rhs = -(V[:, A] @ yA)
            rhs[:, 0] += w
            mu[pos[cols]] = linalg.solve_triangular(L, rhs, lower=True, trans="T", check_finite=False) \
                / self.tl.beta[cols][:, None]
        return yA, mu
