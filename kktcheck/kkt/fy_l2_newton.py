"""Primal-dual active-set (semismooth Newton) solver for the l2 KKT measure of two-layer ReLU nets.

Scaled program (kkt/fy_dual.py): zeta = (lambda, mu) in Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner(c)},

    min_Z max( F(zeta), gt . zeta ),   F = 1/2 + 1/2 zeta^T H zeta - c . zeta,   H = (rho / L)^2 G^T G.

A FACE of Z fixes which samples carry a multiplier (set A; lambda_i = 0 and its mu = 0 otherwise) and, for each
band column of a sample in A, whether mu_c sits at 0 (bottom), at width_c lambda_i (top) or strictly between
(free, set I). On a face zeta = E y, y = (lambda_A, mu_I) (a top column adds width_c beta_c to the coefficient
B_ij of sample i in neuron j), and the minimizer of max(F, gt . zeta) is y(tau) = y0 - tau y1 with
H_E y0 = c_E, H_E y1 = g_E and tau >= 0 the root of F = gt . zeta (tau = 0 if F >= gt . zeta there): with
H_E y0 = c_E and H_E y1 = g_E, F(y(tau)) - g_E . y(tau) = d0 + g_E . y1 (tau + tau^2 / 2),
d0 = 1/2 - 1/2 c_E . y0 - g_E . y0, so tau = sqrt(1 - 2 d0 / g_E . y1) - 1.

H_E is solved through the n x n Schur complement: band columns of different neurons are orthogonal, so the
I-block of H_E is block diagonal, beta beta' K[o, o] per neuron (kkt/two_layer_gram.py); with L_j the Cholesky
factor of K[o_j, o_j] and V_j = diag(B_Aj) K[A, o_j] L_j^{-T},

    S = G_A^T G_A - sum_j V_j V_j^T,  y_A = S^{-1} (r_A - sum_j V_j w_j),  mu_Ij = beta^{-1} L_j^{-T} (w_j - V_j^T y_A),

w_j = L_j^{-1} (r_Ij / beta) (unscaled; divide by (rho / L)^2): n^2 |I| flops instead of (n + |I|)^3.

Active-set update (primal-dual, many changes per step), with the reduced costs s = H zeta - c + tau gt, the
optimality conditions of the face (s in the dual cone of Z: kappa_i(s) = s_i + sum_c width_c min(s_c, 0) >= 0,
complementary): a sample with lambda_i < 0 leaves A, one outside A with kappa_i(s) < 0 enters (its columns at the
top where s_c < 0); a free column with mu_c < 0 goes to the bottom, above width_c lambda_i to the top; a bottom
column with s_c < 0 or a top one with s_c > 0 becomes free. When nothing changes, zeta is feasible and satisfies
the optimality conditions: it is the minimizer. The caller certifies it anyway (upper bound = its value, lower
bound = the weak-duality bound of kkt/fy_dual.py, both recomputed from G), so a wrong answer (a cycle, a
singular face) costs only time: the caller then falls back to the conic working set.
"""
from __future__ import annotations

import math

import numpy as np

from . import fy_dual, solve
from .fy_l2_face import FaceSolver
from .two_layer_gram import TwoLayerGram

BOTTOM, TOP, FREE = 0, 1, 2
PRICE_RTOL = 1e-11  # reduced costs below this (relative to max |c|) count as zero
MAX_STEPS = 200
BLOCK_TRIES = 3  # steps without fewer violations before single changes


def _tau(c_E, g_E, y0, y1) -> float:
    """tau >= 0 with F = gt . zeta on the face (module docstring); NaN when no finite root exists."""
    d0 = 0.5 - 0.5 * float(c_E @ y0) - float(g_E @ y0)
    if d0 >= 0:
        return 0.0
    gy1 = float(g_E @ y1)
    return math.sqrt(1.0 - 2.0 * d0 / gy1) - 1.0 if gy1 > 0 else math.nan


class FaceNewton:
    """State of the active-set iteration; ``run()`` returns the scaled minimizer zeta (n + k,) or None."""

    def __init__(self, tl: TwoLayerGram, c, gt, scale, lam0=None):
        self.tl, self.c, self.gt, self.s2 = tl, c, gt, scale ** 2
        self.n, self.k = tl.n, tl.k
        self.inA = np.ones(self.n, dtype=bool) if lam0 is None else np.asarray(lam0) > 0
        if not self.inA.any():
            self.inA[:] = True
        self.state = np.where(tl.beta != 0, FREE, BOTTOM)
        self.tol = PRICE_RTOL * max(1.0, float(np.abs(c).max()))
        self.steps = 0
        self.faces = FaceSolver(tl, c[tl.n:])

    def _step(self):
        """Minimizer zeta (full, scaled) of the current face and its tau, or None."""
        tl, n = self.tl, self.n
        A = np.flatnonzero(self.inA)
        on = self.inA[tl.owner] & (tl.beta != 0)
        top, free = np.flatnonzero(on & (self.state == TOP)), np.flatnonzero(on & (self.state == FREE))
        Beff = tl.B.copy()
        np.add.at(Beff, (tl.owner[top], tl.neuron[top]), tl.width[top] * tl.beta[top])
        cl = self.c[:n].copy()
        np.add.at(cl, tl.owner[top], tl.width[top] * self.c[n + top])
        rhs_lam = np.column_stack([cl[A], self.gt[A]])
        out = self.faces.solve(A, Beff, free, rhs_lam)
        if out is None:
            return None
        y = np.vstack([out[0], out[1]]) / self.s2
        c_E, g_E = np.concatenate([cl[A], self.c[n + free]]), np.concatenate([self.gt[A], np.zeros(free.size)])
        tau = _tau(c_E, g_E, y[:, 0], y[:, 1])
        if not math.isfinite(tau):
            return None
        yv = y[:, 0] - tau * y[:, 1]
        lam = np.zeros(n)
        lam[A] = yv[:A.size]
        mu = np.zeros(self.k)
        mu[top] = tl.width[top] * lam[tl.owner[top]]
        mu[free] = yv[A.size:]
        return np.concatenate([lam, mu]), tau

    def _update(self, z, tau) -> bool:
        """Primal-dual active-set change (module docstring); True when the face changed. In single mode only the
        first change (samples, then columns, by index) is made (least-index rule against cycling)."""
        tl, n = self.tl, self.n
        lam, mu = z[:n], z[n:]
        s = self.s2 * tl.gram_times(lam, mu) - self.c + tau * self.gt
        sc, tol = s[n:], self.tol
        kap = fy_dual.kappa(s, n, tl.owner, tl.width)
        flip = (self.inA & (lam < 0)) | (~self.inA & (kap < -tol))  # leave / enter A
        live = self.inA[tl.owner] & (tl.beta != 0)
        st = self.state
        new = st.copy()
        new[live & (st == FREE) & (mu < 0)] = BOTTOM
        new[live & (st == FREE) & (mu > tl.width * lam[tl.owner])] = TOP
        new[live & (st == BOTTOM) & (sc < -tol)] = FREE
        new[live & (st == TOP) & (sc > tol)] = FREE
        fresh = (flip & ~self.inA)[tl.owner] & (tl.beta != 0)
        new[fresh] = np.where(sc[fresh] < 0, TOP, BOTTOM)
        moved = np.concatenate([flip, new != st])
        count = int(moved.sum())
        if count < self.fewest:  # block changes while the number of violations falls (Judice-Pires)
            self.fewest, self.fails = count, 0
        else:
            self.fails += 1
        if self.fails > BLOCK_TRIES and count:  # then one change at a time
            first = int(np.argmax(moved))
            moved[:] = False
            moved[first] = True  # (a sample that enters brings its columns, set below)
        self.inA ^= moved[:n]
        self.state = np.where(moved[n:] | fresh & moved[tl.owner], new, st)
        return count > 0

    def run(self, max_steps: int = MAX_STEPS):
        self.fewest, self.fails = math.inf, 0
        seen = set()
        for self.steps in range(1, max_steps + 1):
            if solve.remaining() <= 0:
                return None
            got = self._step()
            if got is None:
                return None
            if not self._update(*got):
                return got[0]
            key = hash((self.inA.tobytes(), self.state.tobytes()))
            if key in seen and self.fails > BLOCK_TRIES:  # cycling even one change at a time: give up
                return None
            seen.add(key)
        return None
