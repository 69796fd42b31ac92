"""The explicit approximate-KKT certificate of Prop. A.13 and the Bregman identity of Prop. B.6 of the paper.

At theta with every q_i > 0 (exponential loss L = sum_i e^{-q_i}), write rho = ||theta||, q_min = min_i q_i,
theta~ = theta / q_min^{1/L}, w = softmax(-q) (so e^{-q_i} = L w_i) and g = grad L = -L * J^T w, J the
autodiff Jacobian of q (ReLU'(0) = 0). Everything is computed from log L and w (no raw exp):

* multipliers     lambda_i = e^{-q_i} q_min^{1-2/L} rho / ||g||_* = w_i q_min^{1-2/L} rho / ||J^T w||_*;
* constraint subgradients k_i = grad q_i(theta) / q_min^{(L-1)/L} in d q_i(theta~), so that
                  u = sum_i lambda_i k_i = ||theta~|| (-g^), g^ = g / ||g||_*, ||u||_* = ||theta~||;
* objective subgradient h in ||theta~|| d||theta~|| closest to u in ||.||_*, and
                  eps = ||h - u||_* = ||theta~|| dist_*(-g^, d||theta||)
  (kktcheck.subdiff.dist_to_subdifferential with its tie tolerance ``tol``);
* complementarity delta = sum_i lambda_i (q_i / q_min - 1) = (rho q_min^{-2/L} / ||J^T w||_*) sum_i w_i (q_i - q_min),
  bounded by delta_bound = m / (e L gamma_bar^{2/L} log(1/L))  (needs L < 1);
* Prop. B.6: alignment beta = <theta / rho, -g^> in (0, 1] and the Bregman value
                  D = FY gap of u at theta~ = ||theta~||^2 (1 - beta) = gamma_bar^{-2/L} (1 - beta).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .divergence import bregman, mm_point
from .norms import norm as make_norm
from .params import inner, unflatten
from .subdiff import DEFAULT_TOL, dist_to_subdifferential


@dataclass
class A13Certificate:
    norm: str
    degree: int                 # L
    m: int
    log_loss: float             # log L(theta)
    q: np.ndarray               # margins q_i(theta)
    q_min: float
    rho: float                  # ||theta||
    theta_tilde_norm: float     # ||theta~|| = gamma_bar^{-1/L}
    gamma_bar: float            # q_min / rho^L
    soft_margin: float          # log(1/L) / rho^L
    lambdas: np.ndarray
    k: torch.Tensor             # (m, P) rows k_i
    u: list                     # sum_i lambda_i k_i (blocks)
    h: list | None              # objective subgradient (blocks); None when stationarity=False
    eps: float                  # ||h - u||_*
    eps_rel: float              # eps / ||theta~|| = dist_*(-g^, d||theta||)
    delta: float
    delta_bound: float          # inf when L >= 1 (A3 fails)
    beta: float                 # alignment
    bregman: float              # D computed directly as the Fenchel-Young gap
    bregman_identity: float     # ||theta~||^2 (1 - beta)
    bregman_gamma: float        # gamma_bar^{-2/L} (1 - beta)
    info: dict = field(default_factory=dict)

    @property
    def separated(self) -> bool:
        """Assumption (A3): L(theta) < 1."""
        return self.log_loss < 0.0


def a13_certificate(theta, data, *, model=None, norm="l2", loss="exp", tol=None, stationarity=True) -> A13Certificate:
    """Prop. A.13 certificate (lambda, k, h, eps, delta, delta bound) and Prop. B.6 numbers at theta.

    ``stationarity=False`` skips the convex program for h (h = None, eps = nan), e.g. when only delta and
    the Prop. B.6 numbers are needed. ``tol``: relative near-tie tolerance of the subdifferential d||theta~|| (kktcheck.subdiff; None: its
    DEFAULT_TOL). h is the minimizer returned by ``subdiff.dist_to_subdifferential`` and eps is recomputed as
    ||h - u||_* from the returned h, so (lambda, k, h) certify the reported eps without trusting the solver.
    """
    if loss != "exp":
        raise ValueError(f"the Prop. A.13 construction and its delta bound are stated for the exponential loss; "
                         f"got loss={loss!r}. Use loss='exp' (or kc.residual for other losses)")
    nrm = make_norm(norm)
    mp = mm_point(theta, data, model)
    L, m = mp.degree, len(mp.q)
    q = torch.from_numpy(mp.q)
    log_L = float(torch.logsumexp(-q, 0))
    w = torch.softmax(-q, 0)
    Jw = unflatten(mp.J.T @ w, mp.params)                  # -g / L(theta)
    gdual = float(nrm._dual_value(Jw))                       # ||g||_* / L(theta)
    if not gdual > 0:
        raise ValueError("the loss gradient vanishes at theta (all constraint gradients cancel); "
                         "the A.13 certificate needs grad L != 0")
    rho, qmin = float(nrm(mp.params)), mp.q_min
    tt = float(nrm(mp.theta_tilde))                          # ||theta~||, theta~ = theta / q_min^{1/L}
    lam = (w * (qmin ** (1.0 - 2.0 / L) * rho / gdual)).numpy()
    k = mp.J_tilde
    u = unflatten(k.T @ torch.from_numpy(lam), mp.params)
    kw = {} if tol is None else {"tol": tol}
    h, eps = None, math.nan
    if stationarity:
        _, h = dist_to_subdifferential(nrm, mp.theta_tilde, u, **kw)
        h = [torch.as_tensor(b, dtype=torch.float64) for b in h]
        eps = float(nrm._dual_value([a - b for a, b in zip(h, u)]))   # recomputed from the certificate itself
    delta = rho * qmin ** (-2.0 / L) / gdual * float(w @ (q - qmin))
    gamma_bar = qmin / rho ** L
    bound = m / (math.e * L * gamma_bar ** (2.0 / L) * (-log_L)) if log_L < 0 else math.inf
    beta = inner(mp.params, Jw) / (rho * gdual)
    D = bregman(u, mp.theta_tilde, nrm)
    return A13Certificate(nrm.name, L, m, log_L, mp.q, qmin, rho, tt, gamma_bar, -log_L / rho ** L, lam, k, u, h,
                          eps, eps / tt, delta, bound, beta, D, tt ** 2 * (1.0 - beta),
                          gamma_bar ** (-2.0 / L) * (1.0 - beta), {"tol": tol if tol is not None else DEFAULT_TOL})


__all__ = ["a13_certificate", "A13Certificate"]
