"""Losses in log space: log L(theta) and the inverse loss used by the soft margin: log L = logsumexp_i log l(q_i), soft margin l^{-1}(L) / ||theta||^L.

L is a SUM over samples (not a mean).  Binary, with q_i = y_i f(x_i):
* "exp":       L = sum_i exp(-q_i),               log L = logsumexp(-q).
* "logistic":  L = sum_i log(1 + exp(-q_i)),      log L = logsumexp_i log softplus(-q_i).
Multi-class (outputs f in R^C, label y):
* "exp":       L = sum_i sum_{j != y_i} exp(f_j - f_{y_i})   (pairwise exponential loss).
* "ce"/"logistic": L = sum_i log(1 + sum_{j != y_i} exp(f_j - f_{y_i}))   (cross-entropy).

Inverse loss (the numerator of the soft margin): exp: log(1/L); logistic/ce: l^{-1}(L) = -log(e^L - 1).
Every quantity is computed from log L, so nothing underflows even when log L = -1e6.
"""
from __future__ import annotations

import math

import torch

LOSSES = ("exp", "logistic", "ce")


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid losses: {', '.join(LOSSES)}")
    return loss


def log_softplus(z: torch.Tensor) -> torch.Tensor:
    """log(log(1 + e^z)), stable for all z (for z < -20: z - e^z / 2, error below e^{2z}).

    Elsewhere softplus(z) = max(z, 0) + log1p(e^{-|z|}) exactly; torch's softplus is NOT used, since for z > 20
    it returns z itself (threshold=20), an absolute error of e^{-z} that made the logistic soft margin exceed
    the hard margin (l^{-1}(L) <= q_min fails by up to 2e-9)."""
    small = z < -20.0
    zs = torch.where(small, torch.zeros_like(z), z)
    big = torch.log(torch.clamp(zs, min=0.0) + torch.log1p(torch.exp(-zs.abs())))
    return torch.where(small, z - 0.5 * torch.exp(torch.minimum(z, torch.zeros_like(z))), big)


def pair_gaps(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multi-class: f_j - f_{y_i} for j != y_i, shape (n, C-1)."""
    n, C = outputs.shape
    fy = outputs.gather(1, y.view(-1, 1))
    mask = torch.ones_like(outputs, dtype=torch.bool)
    mask[torch.arange(n), y] = False
    return (outputs - fy)[mask].view(n, C - 1)


def per_sample_log_loss(outputs: torch.Tensor, y: torch.Tensor, loss: str = "exp") -> torch.Tensor:
    """log l_i for each sample (differentiable)."""
    check_loss(loss)
    if outputs.dim() == 1:
        q = y * outputs
        return -q if loss == "exp" else log_softplus(-q)
    s = torch.logsumexp(pair_gaps(outputs, y), dim=1)
    return s if loss == "exp" else log_softplus(s)


def log_loss(outputs: torch.Tensor, y: torch.Tensor, loss: str = "exp") -> torch.Tensor:
    """log L = logsumexp_i log l_i (a differentiable scalar; its gradient is grad L / L).

    Exact for outputs of any finite size (|q| up to 1.8e308: log l_i = -q_i needs no exponential). A hot-path
    primitive: non-finite outputs propagate (the flow's step controller rejects a step on a non-finite log L);
    the public margins validate outputs before calling it (kktcheck.model.model_outputs)."""
    return torch.logsumexp(per_sample_log_loss(outputs, y, loss), dim=0)


def inverse_loss(log_L: float | torch.Tensor, loss: str = "exp") -> float:
    """l^{-1}(L) computed from log L: exp: -log L;  logistic/ce: -log(expm1(L)).

    For log L < -20, -log(expm1(L)) = -log L - log(1 + L/2 + ...) is evaluated without forming L;
    for L > 30 it is -L - log1p(-e^{-L}) (no overflow of e^L; a very negative soft margin).
    """
    check_loss(loss)
    lL = float(log_L)
    if not math.isfinite(lL):
        raise ValueError(f"log_L = {lL}: the inverse loss needs a finite log L (L = 0 or L = inf carry no margin); "
                         "compute log L in log space (kc.log_loss) instead of log(L)")
    if loss == "exp":
        return -lL
    if lL > 709.0:   # l^{-1}(L) = -L - log1p(-e^-L) = -e^{log L}: beyond float64 for log L > 709.78
        raise ValueError(f"log_L = {lL:.6g} with loss {loss!r}: l^-1(L) = -e^(log L) is beyond float64 "
                         f"(about -10^{lL / math.log(10):.0f}); the soft margin of such an unseparated model is "
                         "not a float64. Use the exp loss (l^-1 = -log L) or reduce the scale of theta")
    if lL < -20.0:
        L = math.exp(lL)
        return -lL - math.log1p(L / 2.0 + L * L / 6.0)
    L = math.exp(lL)  # finite here: lL < 709 or exp raises, handled below
    if L > 30.0:      # -log(e^L - 1) = -L - log1p(-e^{-L}); expm1(L) would overflow for L > 709
        return -L - math.log1p(-math.exp(-L))
    return -math.log(math.expm1(L))


def separation_threshold(loss: str = "exp") -> float:
    """log of l(0): the soft margin is positive exactly when log L is below it (assumption A3)."""
    check_loss(loss)
    return 0.0 if loss == "exp" else math.log(math.log(2.0))
