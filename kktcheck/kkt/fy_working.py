"""Working-set method for the Fenchel-Young measure with the l2, l1 and linf norms, with a certified gap.

The measure (kkt/fy.py) in scaled variables zeta in Z (kkt/fy_dual.py) is min_Z max(F(zeta), gt . zeta). Each
round solves a small restricted program (kkt/fy_restrict.py; l1 rows by HiGHS, kkt/fy_rows_lp.py): band variables
outside the working set W fixed at a side of their interval, and (l1) the dual norm kept exact only on a row set
S. linf has its own rounds (kkt/fy_linf_cuts.py: a smoothed start, then sign cuts in one HiGHS model, every
column kept), certified by the same two bounds. Then

* UPPER bound: the restricted solution mapped back to the full (lambda, mu), and its best multiple a z
  (closed form), evaluated with the full dual norm in numpy -- the value of an explicit certificate (l2: also
  the exact minimizer on the solution's face, kkt/fy_polish.py);
* LOWER bound: LB(t, v) of kkt/fy_dual.py with v = M zeta (l2: the unique gradient) or the restricted program's
  multipliers (l1, linf), t maximized; valid for any v, equal to the measure at the optimum (strong duality).

The loop stops when upper - lower <= gap (default 1e-8, ten times the conic solver tolerance; the measure lies
in [0, 1/2]): the reported value is then the measure to within ``gap`` (status "optimal"). Otherwise the reduced
costs s of the latest certificate price the band columns (a column of a sample with kappa_i(s) < 0 on the wrong
side of its interval is flipped, or joins W when it was flipped before or when more than FLIP_SHARE of the band
is wrong) and the rows (l1: rows outside S with |(M zeta)_j| above the restricted max). Each column flips at most once, so the loop is finite. When it stalls (solver
accuracy), runs out of rounds, or the next round is predicted not to fit in the time left, the status is
"optimal_inaccurate" or "time_limit" and the message states the certified gap: never a silent number.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..threads import single_threaded
from . import fy, fy_dual, fy_linf_cuts, fy_polish, fy_restrict, fy_rows_lp, solve
from .checks import family
from .combination import Combination
from .fy_l2_newton import FaceNewton
from .two_layer_gram import TwoLayerGram

PRICE_TOL = 1e-11  # reduced costs below this (in kappa units) count as zero
FLIP_SHARE = 0.25  # when more than this share of the band columns is on the wrong side, they join W at once
ROW_CAP = 16  # l1 rows added per round: at most ROW_CAP (n + |W|) + 10
# the dual norm of u / rho and the primal norm of v for the three families (flat numpy vectors)
DUAL = {"l2": lambda r: float(np.linalg.norm(r)), "l1": lambda r: float(np.abs(r).max()),
        "linf": lambda r: float(np.abs(r).sum())}
PRIMAL = {"l2": DUAL["l2"], "l1": DUAL["linf"], "linf": DUAL["l1"]}


def _initial_rows(x, m):
    """l1: the m + 2 largest |theta~_j| (where |u_j| = rho at a KKT point)."""
    return np.asarray(np.argsort(-np.abs(x))[:min(len(x), m + 2)], dtype=int)


def _price_columns(s, kap_s, n, owner, width, side, flipped, W) -> bool:
    """Flip (or, when flipped before or when many are wrong, add to W) the band columns on the wrong side for
    samples with kappa_i(s) < 0. Returns whether anything changed."""
    if not len(owner):
        return False
    sc = s[n:]
    bad_sample = kap_s[owner] < -PRICE_TOL
    inW = np.zeros(len(owner), dtype=bool)
    inW[W] = True
    wrong = bad_sample & ~inW & (width * np.abs(sc) > PRICE_TOL) & (((side == 0) & (sc < 0)) | ((side > 0) & (sc > 0)))
    if not wrong.any():
        return False
    again = wrong & (flipped | (wrong.sum() > FLIP_SHARE * len(owner)))  # many wrong: flipping is a guess
    side[wrong & ~again] = 1.0 - side[wrong & ~again]
    flipped |= wrong
    W.extend(np.flatnonzero(again).tolist())
    return True


def _price_rows(r, S, m, cap):
    """r = M zeta (P,). l1: rows outside S above max_S |r|. Returns the rows to add (at most cap m + 10)."""
    out = np.setdiff1d(np.arange(len(r)), S)
    if not out.size:
        return out
    viol = np.abs(r[out]) - np.abs(r[S]).max()
    order = np.argsort(-viol)[:cap * m + 10]
    return out[order[viol[order] > 0]]


class _Problem:
    """The data of one measure program in scaled variables (kkt/fy_dual.py) and the certificate bookkeeping."""

    def __init__(self, nrm, theta, q, L, G, owner):
        self.nrm, self.theta, self.q, self.L, self.G, self.owner = nrm, theta, q, L, G, owner
        self.fam = family(nrm)
        self.x = np.concatenate([b.reshape(-1) for b in theta])
        self.rho, self.n, self.k = PRIMAL[self.fam](self.x), G.n, G.k  # = nrm(theta) for these families
        self.scale, self.sig = self.rho / L, self.rho ** 2 / L
        self.c = G.rmatvec(self.x) / L
        self.gt = np.concatenate([q - 1.0, np.zeros(self.k)])
        self.best, self.lower, self.s, self.s_hint = None, -math.inf, None, None

    def upper(self, z) -> np.ndarray:
        """Record the certificate z (scaled, full), or its best multiple a z (a >= 0), if it beats the best one;
        return r = M z = u / rho.

        Values max(F, gt . z) in numpy (l2: F = 1/2||r - theta~ / rho||^2, no cancellation); along a z,
        F = 1/2 + a^2 N^2 / 2 - a c . z with N = ||r||_*, minimized in closed form (fy._line_min). The reported
        measure is recomputed from the returned (lambda, u) by fy.evaluate."""
        r = self.scale * (self.G @ z)
        N, cz, gz = DUAL[self.fam](r), float(self.c @ z), float(self.gt @ z)
        if self.fam == "l2":
            f = 0.5 * float(np.sum((r - self.x / self.rho) ** 2))
        else:
            f = max(0.5 + 0.5 * N ** 2 - cz, 0.0)
        self._record(max(f, gz), z, r)
        if N > 0 and self.fam != "l2":
            b, val = fy._line_min(cz / N, gz / N)
            self._record(val, (b / N) * z, (b / N) * r)
        return r

    def _record(self, val, z, r) -> None:
        if self.best is None or val < self.best["value"]:
            self.best = {"value": val, "z": z * self.sig, "u": self.rho * r}

    def bound(self, v, z, hint=None) -> None:
        """Raise the certified lower bound with LB(t, v) (t maximized). The reduced costs used for pricing are
        the latest certificate's, at its own weight t^ (``hint``, or the t with s(t) . z = 0: complementary
        slackness)."""
        lb = fy_dual.LowerBound(self.scale * self.G.rmatvec(v) - self.c, PRIMAL[self.fam](v), self.c, self.gt,
                                self.n, self.owner, self.G.width)
        t, val = lb.best(hint)
        if hint is None:
            az, gz = float(lb.a @ z), float(self.gt @ z)
            hint = min(max(az / (az - gz), 0.0), 1.0) if az - gz != 0 else t
        self.lower, self.s = max(val, self.lower), lb.slope(hint)  # price with the latest certificate

    def certify(self, z) -> None:
        """l2: the certificate z and its own dual vector v = M z (the gradient of 1/2||.||_2^2 there)."""
        self.bound(self.upper(z), z)

    def gap(self) -> float:
        return self.best["value"] - self.lower


def _l2_round(pb, Gr, ow, side, Wa, solver, gap):
    """One l2 round: the restricted Gram-split program (fy.program), then the exact polish on its face."""
    out = fy.program(pb.nrm, pb.theta, pb.q, pb.L, Gr, ow, solver)
    if "lam" not in out:
        return out
    zr = np.concatenate([out["lam"], out["mu"]]) / pb.sig
    pb.certify(fy_restrict.expand(zr, pb.n, pb.owner, pb.G.width, side, Wa))
    Hr, c_r = pb.scale ** 2 * Gr.gram(), Gr.rmatvec(pb.x) / pb.L
    g_r = np.concatenate([pb.q - 1.0, np.zeros(Gr.k)])
    # single-threaded BLAS for the small dense factorizations (kktcheck.threads: two OpenBLAS threads on a loaded
    # 2-core machine made a 400 x 400 Cholesky 250 times slower)
    with single_threaded():
        for rel in fy_polish.RELS:  # faces read at several thresholds until one certifies
            if pb.gap() <= gap or solve.remaining() <= 0:
                break
            zp = fy_polish.polish(Hr, c_r, g_r, zr, pb.n, ow, Gr.width, rel)
            if zp is not None:
                pb.certify(fy_restrict.expand(zp, pb.n, pb.owner, pb.G.width, side, Wa))
    return out


def _l2_newton(pb, lam0, gap):
    """l2: the active-set Newton solver on the n x n Schur complement (kkt/fy_l2_newton.py), certified like every
    round (upper bound = its certificate, lower bound = LB(t, M zeta)). Returns its number of face steps when the
    certified gap is <= gap, else None (the conic working set then continues from the best certificate)."""
    with single_threaded():  # small dense products: threads only add latency here
        tl = TwoLayerGram.of(pb.G, pb.owner, check=False)  # a wrong layout only fails the certificate below
        tl = tl if tl is not None or pb.k else TwoLayerGram.plain(pb.G.J0)
        if tl is None:
            return None
        newton = FaceNewton(tl, pb.c, pb.gt, pb.scale, lam0)
        z = newton.run()
        if z is None:
            return None
        pb.certify(z)
    return newton.steps if pb.gap() <= gap else None


def _rows_round(pb, Gr, ow, side, Wa, S, kc, solver):
    """One l1 round: the restricted row program (kkt/fy_rows_lp.py, a HiGHS LP) and its multipliers' bound."""
    if len(Wa) > pb.n * CLARABEL_FROM:  # many band columns: the interior-point program is faster (see there)
        out = fy_restrict.rows_program(Gr, ow, pb.scale, pb.x, pb.L, pb.q, kc, S, solver)
    else:
        c_r = fy_restrict.fold_vector(pb.c, pb.n, pb.owner, pb.G.width, side, Wa)  # = G_r^T theta~ / L
        out = fy_rows_lp.rows_program(Gr, ow, pb.scale, c_r, pb.q, kc, S, pb.s_hint)
    if "z" in out:
        pb.s_hint = out.get("s", pb.s_hint)
        z = fy_restrict.expand(out["z"], pb.n, pb.owner, pb.G.width, side, Wa)
        out["r"] = pb.upper(z)
        pb.bound(out["v"], z, out["hint"])
    return out


def program(nrm, theta, q, L, G: Combination, owner, solver=None, start=None, gap: float = 1e-8,
            max_rounds: int = 40, newton: bool = True) -> dict:
    """Same contract as fy.program (dict lam, mu, u, status, message) plus ``certified_lower`` and ``rounds``;
    nrm must be in the l2, l1 or linf family. l2 tries the active-set Newton solver first (``newton``)."""
    return _program(nrm, theta, q, L, G, owner, solver, start, gap, max_rounds, newton)


# Rounds with more than CLARABEL_FROM n band columns in W go to the cvxpy/Clarabel program (fy_restrict.rows_program),
# the others to the HiGHS LP (fy_rows_lp). Measured: a teacher-student net (P = 3100, 661 band columns) whose W grew
# to 628 took 4-8 s per HiGHS round (the simplex re-solves after each cut) and 0.7 s per Clarabel round; the
# n = 256, P = 50,100 benchmark (W <= 10) took 16 s per Clarabel round and 0.7 s per HiGHS round.
CLARABEL_FROM = 0.5
CUBIC_FROM = 500   # columns below which a round's time is fixed overhead (cvxpy set-up), not factorization


def _predicted(last, size) -> float:
    """Seconds the next round should take: the last round's time scaled by (columns ratio)^3 (dense
    factorizations) times the rows ratio, with both column counts floored at CUBIC_FROM (a small round's time is
    set-up overhead: without the floor a 40-column first round that took 2 s, most of it cvxpy's first-call
    compilation, predicted 2000 s for 400 columns and stopped a 0.4 s problem at once); 0 before the first round.
    Used so that time_limit is not overshot by a round that cannot finish (a round's set-up is not interruptible)."""
    if last is None or len(last) < 3:
        return 0.0
    (c0, r0, sec), (c1, r1) = last, size
    return sec * (max(c1, CUBIC_FROM) / max(c0, CUBIC_FROM)) ** 3 * max(r1, 1) / max(r0, 1)


def _program(nrm, theta, q, L, G, owner, solver, start, gap, max_rounds, newton) -> dict:
    pb = _Problem(nrm, theta, q, L, G, owner)
    n, k = pb.n, pb.k
    kc = fy_dual.kappa(pb.c, n, owner, G.width)
    side, flipped, W, fold = np.zeros(k), np.zeros(k, dtype=bool), [], {}
    lam0 = np.zeros(n) if start is None else np.asarray(start, dtype=np.float64)
    steps = _l2_newton(pb, lam0, gap) if pb.fam == "l2" and newton else None
    if steps is not None:
        return _pack(pb, "optimal", f"active-set Newton on the n x n Schur complement: {steps} face steps", 1)
    z0 = np.concatenate([lam0, np.zeros(k)]) / pb.sig
    if pb.fam != "l2" and lam0.any():  # the start's best multiple: a certificate, and where the first cuts go
        pb.upper(z0)
        pb.s_hint = DUAL[pb.fam](pb.best["u"]) / pb.rho
    if pb.fam == "linf":
        return _linf(pb, pb.best["z"] / pb.sig if pb.best else z0, gap)
    S = _initial_rows(pb.x, n)
    status, msg, rnd, last = "optimal", "", 0, None
    for rnd in range(1, max_rounds + 1):
        size = (n + len(W), len(S))
        if solve.remaining() <= _predicted(last, size):
            status, msg = solve.TIME_LIMIT, "time limit: the next round would not finish in the time left"
            break
        last, t0 = size, time.perf_counter()
        Wa = np.asarray(W, dtype=int)
        Gr, ow = fy_restrict.restrict(G, owner, side, Wa, fold)
        out = _l2_round(pb, Gr, ow, side, Wa, solver, gap) if pb.fam == "l2" else \
            _rows_round(pb, Gr, ow, side, Wa, S, kc, solver)
        status, msg = out["status"], out.get("message", "")
        last = (*last, time.perf_counter() - t0)
        if pb.best is None or ("lam" not in out and "z" not in out):
            break
        if pb.gap() <= gap:
            return _pack(pb, "optimal", msg, rnd)
        changed = _price_columns(pb.s, fy_dual.kappa(pb.s, n, owner, G.width), n, owner, G.width, side, flipped, W)
        if pb.fam != "l2" and "r" in out:
            add = _price_rows(out["r"], S, n + len(W), ROW_CAP)
            changed |= bool(add.size)
            S = np.union1d(S, add)
        if not changed:
            status, msg = "optimal_inaccurate", "working set stalled (solver accuracy)"
            break
    if pb.best is None:
        return {"status": status, "message": msg or f"cvxpy status {status}"}
    if status == "optimal":
        msg = f"working set stopped after {rnd} rounds"
    return _pack(pb, status if status == solve.TIME_LIMIT else "optimal_inaccurate",
                 f"{msg}; certified gap {pb.gap():.2e} (lower bound {pb.lower:.6g})", rnd)


def _linf(pb, z0, gap) -> dict:
    """linf: the smoothed start, then sign cuts and kink rows in one warm-started LP (kkt/fy_linf_cuts.py)."""
    status, msg, rnd = fy_linf_cuts.run(pb, z0, gap)
    if pb.best is None:
        return {"status": status, "message": msg}
    return _pack(pb, status, msg if status == "optimal" else
                 f"{msg}; certified gap {pb.gap():.2e} (lower bound {pb.lower:.6g})", rnd)


def _pack(pb, status, msg, rounds) -> dict:
    z = pb.best["z"]
    return {"lam": z[:pb.n], "mu": z[pb.n:], "u": pb.best["u"], "status": status, "message": msg,
            "lower": pb.lower, "certified_lower": pb.lower, "rounds": rounds}
