"""A smoothed quasi-Newton start for the linf measure (dual norm l1), for kkt/fy_linf_cuts.py.

Scaled variables as in kkt/fy_dual.py: zeta in Z, r = A zeta = (rho / L) G zeta = u / rho, c = G^T theta~ / L,
gt = q - 1 on lambda; the measure is min over Z of max(F, gt . zeta), F = 1/2 + 1/2 ||r||_1^2 - c . zeta.

L-BFGS-B minimizes the smoothed objective

    max_s( 1/2 + 1/2 N_s(r)^2 - c . zeta , gt . zeta ),   N_s(r) = sum_j (sqrt(r_j^2 + s^2) - s),
    max_s(a, b) = (a + b + sqrt((a - b)^2 + (P s)^2)) / 2,

(N_s <= ||r||_1 <= N_s + P s) for s = SMOOTHING x mean |r_j| at the start, each stage warm-started from the last,
in the reference-slope box variables of kkt/spectral_param.py (mu_c = lambda_i v_c / ref_i, the reference reset
from lambda at each stage; the band 0 <= mu_c <= width_c lambda_i holds at every point).
Nothing here is certified: the caller evaluates every point with the exact l1 norm (upper bound) and uses the
last point's small rows and signs to seed the linear program whose multipliers give the lower bound.

Products with G use the two-layer layout when it is there (kkt/two_layer_gram.py: the W_j block of G zeta is
X^T alpha_j, so both products are n x d x m matrix products instead of passes over the n x P Jacobian: 3 ms
instead of 50 ms at n = 256, d = 500, m = 100); a wrong layout only makes the start worse.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ..threads import single_threaded
from . import solve
from .spectral_param import SlopeParam
from .two_layer_gram import TwoLayerGram

SMOOTHING = (1e-2, 1e-3, 1e-4)  # s / mean |r_j| of the stages (with 1e-4 the benchmark LP needs 73-117 simplex
# iterations from the crash basis, 613 without that stage)
MAXITER = 200


class ProductMap:
    """zeta -> G zeta and w -> G^T w, through the two-layer factors when G has that layout, else G itself."""

    def __init__(self, G, owner):
        self.G, self.tl = G, TwoLayerGram.of(G, owner, check=False) if G.rank_one is not None else None

    def __matmul__(self, z):
        tl = self.tl
        if tl is None:
            return self.G @ z
        alpha = tl.alpha(z[:tl.n], z[tl.n:])
        return np.concatenate([(alpha.T @ tl.X).reshape(-1), tl.Rst.T @ z[:tl.n]])

    def rmatvec(self, w):
        tl = self.tl
        if tl is None:
            return self.G.rmatvec(w)
        md = tl.m * tl.X.shape[1]
        XW = tl.X @ w[:md].reshape(tl.m, -1).T
        lam = np.einsum("ij,ij->i", tl.B, XW) + tl.Rst @ w[md:]
        return np.concatenate([lam, tl.beta * XW[tl.owner, tl.neuron]])


class _OutOfTime(Exception):
    pass


def _objective(op, pb, z, s):
    """(value, gradient in zeta) of the smoothed objective of the module docstring at smoothing s."""
    r = pb.scale * (op @ z)
    sq = np.sqrt(r * r + s * s)
    N = float(sq.sum()) - s * r.size
    F = 0.5 + 0.5 * N * N - float(pb.c @ z)
    grad_F = N * pb.scale * op.rmatvec(r / sq) - pb.c
    gz = float(pb.gt @ z)
    diff = F - gz
    h = float(np.sqrt(diff * diff + (s * r.size) ** 2))
    weight = 0.5 * (1.0 + diff / h) if h > 0 else 0.5
    return 0.5 * (F + gz + h), weight * grad_F + (1.0 - weight) * pb.gt


def smoothed_start(pb, z0) -> np.ndarray:
    """The last point of the smoothing stages from z0 (full scaled (lambda, mu)); every stage's point is recorded
    as a certificate with pb.upper. Stops early at the deadline. Single-threaded BLAS (kktcheck.threads): on the
    shared 2-core machine two threads made one objective evaluation 30 ms instead of 2 ms."""
    with single_threaded():
        return _stages(pb, z0)


def _stages(pb, z0) -> np.ndarray:
    op = ProductMap(pb.G, pb.owner)
    mean = float(np.abs(pb.scale * (op @ z0)).mean()) or 1.0
    z = z0
    for rel in SMOOTHING:
        s = rel * mean
        par = SlopeParam(pb.n, pb.owner, pb.G.width, z[:pb.n])  # reference slopes reset from the current lambda
        last = {"x": par.x_of(z)}

        def fun(x):
            if solve.remaining() <= 0:
                raise _OutOfTime
            last["x"] = x
            val, g = _objective(op, pb, par.zeta(x), s)
            return val, par.grad(x, g)
        try:
            out = minimize(fun, last["x"], jac=True, method="L-BFGS-B", bounds=par.bounds(),
                           options={"maxiter": MAXITER, "maxcor": 30, "ftol": 1e-16, "gtol": 1e-14})
            z = par.zeta(out.x)
        except _OutOfTime:
            z = par.zeta(last["x"])
            pb.upper(z)
            break
        pb.upper(z)
    return z
