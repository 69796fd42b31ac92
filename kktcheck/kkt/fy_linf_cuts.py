"""linf measure (dual norm l1): a smoothed start, then sign cuts and kink rows in one warm-started HiGHS model.

Scaled variables as in kkt/fy_dual.py (zeta = (lambda, mu) in Z, A = (rho / L) G so A zeta = u / rho,
c = G^T theta~ / L, gt = q - 1 on lambda):

    M = min over zeta in Z of max( F(zeta), gt . zeta ),   F = 1/2 + 1/2 ||A zeta||_1^2 - c . zeta.

Relaxation. For every sign vector sigma and row set S_k, ||r||_1 >= sum_{j in S_k} |r_j| + sum_{j not in S_k}
sigma_j r_j. The linear program keeps every column; it bounds s >= ||A zeta||_1 from below by SIGN CUTS
s >= sum_{j in S_k} e_j + (A^T sigma_k off S_k) . zeta and KINK ROWS e_j >= |A_j zeta| (j in S; S only grows,
so S_k lies in S). Its optimum lies below M.

Two forms of the program:
* "direction" (when the F term dominates at the start): F is homogeneous along rays, min over a >= 0 of
  1/2 + a^2 s^2 / 2 - a c . w = 1/2 - (c . w)^2 / (2 s^2), so min over Z of F = 1/2 - V^2 / 2 with the linear
  program V = max c . w over w in Z, s = 1 (every sign cut <= 1): no tangent cuts;
* "tangent": min t, t >= gt . zeta, kappa(c) . lambda <= 2 and the tangent cuts of 1/2 s^2 of kkt/fy_rows_lp.py.

The start (kkt/fy_linf_smooth.py) seeds S (the rows with the smallest |r_j|, where r* = A zeta* has its kinks),
sigma (the signs of the other rows) and a crash basis: the positive entries of zeta, e and s basic, the sign cut
and the kink rows of the smallest rows tight. Then each round solves, certifies through kkt/fy_working.py
(upper bound: the LP's point of Z, or its best multiple, with the full l1 norm; lower bound: LB(t, v) of
kkt/fy_dual.py with v = sum_k nu_k sigma_k off S_k + (pi+ - pi-) on S, over alpha = the sum of the tangent cuts'
duals in the tangent form, or 1 with t = 0 in the direction form: valid for any v), and adds the sign cut of
its solution (Kelley's cutting plane for the polyhedral ||A zeta||_1) and the rows whose sign changed.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .._quiet import silence_highs_banner
from ..threads import single_threaded
from . import fy_dual, fy_linf_smooth, fy_rows_lp

START_ROWS = 1.5  # kink rows at the start: START_ROWS x (variables a vertex would hold basic) + 10, at most
START_CAP = 4.0   # START_CAP n + 10; smallest |r_j| first
KINK_ROWS = 1.0   # rows moved into S per later round: at most KINK_ROWS n + 10
SMALL = 2e5  # P n at most this: all P rows are kink rows from the start (the LP is then the program itself;
# smoothing cost more than it saved: 0.1-0.3 s against 13-130 ms for the whole measure on the test nets)
MAX_ROUNDS = 200  # each round is one warm-started simplex and two products with G; time_limit bounds them


class SignCutLP:
    """The relaxed program of the module docstring as one HiGHS model: columns (zeta (n + k), s, t, e_S)."""

    def __init__(self, pb, direction: bool):
        import highspy
        silence_highs_banner()
        G, self.pb, self.direction = pb.G, pb, direction
        self.nz = G.n + G.k
        self.s_col, self.t_col = self.nz, self.nz + 1
        hs = self.hs = highspy.Highs()
        hs.setOptionValue("output_flag", False)
        for key in ("primal_feasibility_tolerance", "dual_feasibility_tolerance"):
            hs.setOptionValue(key, fy_rows_lp.FEAS_TOL)
        inf = self.inf = highspy.kHighsInf
        lower, upper = np.zeros(self.nz + 2), np.full(self.nz + 2, inf)
        lower[self.t_col] = -inf
        if direction:  # s = 1, no t
            lower[self.s_col] = upper[self.s_col] = 1.0
            lower[self.t_col] = upper[self.t_col] = 0.0
        hs.addVars(self.nz + 2, lower, upper)
        self.tangent_rows, self.tangents, self.S, self.sign_rows, self.signs, self.kink_rows = [], [], [], [], [], []
        if direction:
            hs.changeColsCost(self.nz, np.arange(self.nz, dtype=np.int32), -pb.c)
        else:
            hs.changeColCost(self.t_col, 1.0)
            self._add(np.concatenate([-pb.gt, [0.0, 1.0]]), 0.0, inf)  # t >= gt . zeta
            self._add(np.concatenate([fy_dual.kappa(pb.c, G.n, pb.owner, G.width), np.zeros(G.k + 2)]), -inf, 2.0)
        if G.k:  # width_c lambda_owner(c) - mu_c >= 0
            r = np.arange(G.k)
            band = sparse.csr_matrix((np.concatenate([G.width, -np.ones(G.k)]),
                                      (np.concatenate([r, r]), np.concatenate([pb.owner, G.n + r]))),
                                     shape=(G.k, self.nz + 2))
            self.band_first = hs.getNumRow()
            fy_rows_lp._add_rows(hs, band, np.zeros(G.k), np.full(G.k, inf))

    def _add(self, row, lo, hi) -> int:
        """Append one dense row over the current columns; returns its index."""
        full = np.zeros(self.hs.getNumCol())
        full[:row.size] = row
        fy_rows_lp._add_rows(self.hs, sparse.csr_matrix(full[None, :]), np.array([lo]), np.array([hi]))
        return self.hs.getNumRow() - 1

    def add_tangent(self, sk: float) -> None:
        """t >= 1/2 + sk s - sk^2 / 2 - c . zeta (the tangent of 1/2 s^2 at sk)."""
        row = np.concatenate([self.pb.c, [-sk, 1.0]])
        self.tangent_rows.append(self._add(row, 0.5 - 0.5 * sk * sk, self.inf))
        self.tangents.append(sk)

    def add_kink_rows(self, rows) -> None:
        """Move rows j into S: a column e_j >= 0 and e_j -+ A_j zeta >= 0."""
        rows = np.asarray(rows, dtype=int)
        if not rows.size:
            return
        hs, m = self.hs, rows.size
        first_e = hs.getNumCol()
        hs.addVars(m, np.zeros(m), np.full(m, self.inf))
        A = self.pb.scale * self.pb.G.rows_sparse(rows)
        width = hs.getNumCol()
        eye = sparse.csr_matrix((np.ones(m), (np.arange(m), first_e + np.arange(m))), shape=(m, width))
        pad = sparse.csr_matrix((m, width - self.nz))
        for sign in (-1.0, 1.0):
            first = hs.getNumRow()
            fy_rows_lp._add_rows(hs, sparse.hstack([sign * A, pad]) + eye, np.zeros(m), np.full(m, self.inf))
            self.kink_rows.append((rows, first, sign))
        self.S.extend(rows.tolist())

    def add_sign_cut(self, sigma: np.ndarray) -> None:
        """s - sum_{j in S} e_j - (A^T sigma off S) . zeta >= 0."""
        sig = np.sign(sigma).astype(np.int8)
        sig[self.S] = 0
        a = self.pb.scale * self.pb.G.rmatvec(sig.astype(np.float64))
        row = np.zeros(self.hs.getNumCol())
        row[:self.nz], row[self.s_col] = -a, 1.0
        row[self.nz + 2:] = -1.0  # every e column (all of S)
        self.sign_rows.append(self._add(row, 0.0, self.inf))
        self.signs.append(sig)

    def solve(self) -> dict:
        """Run HiGHS (tangent form: with the tangent-cut loop of kkt/fy_rows_lp.py). Returns dict(status,
        message, z, v, hint)."""
        if self.direction:
            status, msg = fy_rows_lp.solve_once(self.hs)
        else:
            status, msg = fy_rows_lp._run_cuts(self.hs, self.add_tangent, self.tangents, self.pb.c, self.s_col)
        if status != "optimal":
            return {"status": status, "message": msg}
        sol = self.hs.getSolution()
        col, dual = np.asarray(sol.col_value), np.abs(np.asarray(sol.row_dual))
        alpha = 1.0 if self.direction else float(dual[self.tangent_rows].sum())
        v = np.zeros(self.pb.G.J0.shape[1])
        if alpha > 1e-12:
            for row, sig in zip(self.sign_rows, self.signs):
                if dual[row] > 0:
                    v += dual[row] * sig
            for rows, first, sign in self.kink_rows:  # the dual of e_j + sign A_j zeta >= 0 weighs -sign r_j
                v[rows] -= sign * dual[first:first + rows.size]
            v /= alpha
        return {"status": "optimal", "message": "", "z": np.maximum(col[:self.nz], 0.0), "v": v,
                "hint": 0.0 if self.direction else 1.0 - alpha}

    def crash(self, z: np.ndarray, r: np.ndarray) -> bool:
        """Install the basis guessed from the start z (module docstring): positive zeta entries, s, t and e basic;
        band rows basic unless mu is at the top; the nearest tangent cut, the sign cut and both kink rows of the
        smallest |r_j| (as many as the basis needs) tight, one of the two for the others. False when the count
        does not fit (HiGHS then starts from its own basis)."""
        import highspy
        BS, hs, pb = highspy.HighsBasisStatus, self.hs, self.pb
        nc, nr, n = hs.getNumCol(), hs.getNumRow(), pb.n
        col = np.full(nc, int(BS.kLower.value))
        row = np.full(nr, int(BS.kBasic.value))
        basic, lower = int(BS.kBasic.value), int(BS.kLower.value)
        col[:self.nz][z > 0] = basic
        col[self.nz + 2:] = basic
        if not self.direction:
            col[[self.s_col, self.t_col]] = basic
            row[self.tangent_rows[int(np.argmin(np.abs(np.asarray(self.tangents) - np.abs(r).sum())))]] = lower
        if pb.k:
            top = z[n:] >= pb.G.width * z[:n][pb.owner] * (1 - 1e-9)
            row[self.band_first + np.flatnonzero(top & (z[n:] > 0))] = lower
        row[self.sign_rows[-1]] = lower
        kink_first = {sign: (rows, first) for rows, first, sign in self.kink_rows}
        rows = kink_first[-1.0][0]
        n_zero = int((col == basic).sum() + (row == basic).sum()) - nr - rows.size
        if not 0 <= n_zero <= rows.size:
            return False
        order = np.argsort(np.abs(r[rows]))
        zero = np.zeros(rows.size, dtype=bool)
        zero[order[:n_zero]] = True
        for sign, (rows_s, first) in kink_first.items():  # e_j + sign A_j zeta >= 0 is tight when sign r_j < 0
            row[first + np.flatnonzero(zero | (sign * r[rows_s] < 0))] = lower
        basis = hs.getBasis()
        basis.col_status = [BS(int(v)) for v in col]
        basis.row_status = [BS(int(v)) for v in row]
        return hs.setBasis(basis) == highspy.HighsStatus.kOk


def _face_variables(pb, z) -> np.ndarray:
    """Mask of the variables of z that a vertex would hold basic: positive multipliers, band variables strictly
    inside (0, width_c lambda_i) (relative margin 1e-6)."""
    out = z > 0
    if pb.k:
        top = pb.G.width * z[:pb.n][pb.owner]
        out[pb.n:] &= z[pb.n:] < top * (1 - 1e-6)
    return out


def new_kink_rows(r: np.ndarray, last_sigma: np.ndarray, S, cap: int) -> np.ndarray:
    """Rows outside S whose sign at r differs from the last sign cut's (r_j != 0), smallest |r_j| first, at most cap."""
    flip = (np.sign(r) != np.sign(last_sigma)) & (r != 0)
    flip[np.asarray(S, dtype=int)] = False
    idx = np.flatnonzero(flip)
    return idx[np.argsort(np.abs(r[idx]))[:cap]]


def _model(pb, direction: bool, z, r, rows, sigma, crash: bool = True) -> SignCutLP:
    """A new model in the given form with kink rows ``rows``, the sign cut of sigma and (``crash``) the crash basis
    of (z, r); without it (small programs) HiGHS's dual simplex starts from its own basis."""
    lp = SignCutLP(pb, direction)
    if not direction:
        for sk in fy_rows_lp.first_cuts(float(np.abs(r).sum())):
            lp.add_tangent(sk)
    lp.add_kink_rows(rows)
    lp.add_sign_cut(sigma)
    if crash and not lp.crash(z, r):  # no basis to start from: the interior-point method (crossover gives the next rounds
        lp.hs.setOptionValue("solver", "ipm")  # a basis; kkt/fy_linf_cuts.run switches back to the simplex)
    return lp


def _g_binds(pb, z, r) -> bool:
    """Whether the complementarity term gt . zeta is the larger one at the best multiple a z of z (r = A z; the
    direction form, which drops that term, cannot certify then)."""
    N = float(np.abs(r).sum())
    if N <= 0:
        return False
    beta, slope = float(pb.c @ z) / N, float(pb.gt @ z) / N  # fy._line_min: F's own minimizer a = beta is
    return beta > 0 and 0.5 * (1.0 - beta * beta) < slope * beta  # kept unless the g term is larger there


def run(pb, z0, gap: float) -> tuple[str, str, int]:
    """Rounds for the kkt/fy_working.py problem ``pb`` (linf family) from the scaled start z0: the smoothed start,
    then the linear program of the module docstring until the certified gap pb.gap() <= gap. Returns (status,
    message, rounds)."""
    with single_threaded():  # BLAS single-threaded for the products with G (see kkt/fy_linf_smooth.py)
        return _rounds(pb, z0, gap)


def _rounds(pb, z0, gap):
    small = pb.G.J0.shape[1] * pb.n <= SMALL  # every row in the first program: no smoothed start, no crash basis
    z = z0 if small else fy_linf_smooth.smoothed_start(pb, z0)
    r = pb.scale * (pb.G @ z)
    start = r.size if small else int(min(START_ROWS * np.count_nonzero(_face_variables(pb, z)), START_CAP * pb.n)) + 10
    sigma = np.sign(r)
    direction = not small and not _g_binds(pb, z, r)  # small: the tangent form, exact in one round
    lp = _model(pb, direction, z, r, np.argsort(np.abs(r))[:min(r.size, start)], sigma, not small)
    for rnd in range(1, MAX_ROUNDS + 1):
        out = lp.solve()
        lp.hs.setOptionValue("solver", "simplex")
        if out["status"] != "optimal":
            return out["status"], out["message"], rnd
        z, r = out["z"], pb.upper(out["z"])
        pb.bound(out["v"], out["z"], out["hint"])
        if pb.gap() <= gap:
            return "optimal", f"linf sign cuts: {rnd} rounds, {len(lp.S)} kink rows", rnd
        add = new_kink_rows(r, sigma, lp.S, int(KINK_ROWS * pb.n) + 10)
        new_sigma = np.where(r != 0, np.sign(r), sigma)
        if lp.direction and _g_binds(pb, z, r):  # the complementarity term matters: the tangent form from here on
            sigma = new_sigma
            lp = _model(pb, False, z, r, np.concatenate([lp.S, add]).astype(int), sigma)
            continue
        if not add.size and np.array_equal(new_sigma, sigma):  # the same program again: solver accuracy
            return "optimal_inaccurate", f"linf sign cuts stalled after {rnd} rounds (solver accuracy)", rnd
        sigma = new_sigma
        lp.add_kink_rows(add)
        lp.add_sign_cut(sigma)
    return "optimal_inaccurate", f"linf sign cuts did not close the gap in {MAX_ROUNDS} rounds", MAX_ROUNDS
