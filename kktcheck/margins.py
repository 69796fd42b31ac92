"""Per-sample margins, hard and soft normalized margins (SPEC Eq. 4, Eq. 5, section A.3).

q_i = y_i f(x_i; theta) (binary) or f_{y_i}(x_i) - max_{j != y_i} f_j(x_i) (multi-class).
Hard margin, in the norm ||.|| given:  gamma_bar = min_i q_i / ||theta||^L.
Soft margin:                           gamma_tilde = l^{-1}(L(theta)) / ||theta||^L
(exp loss: log(1/L) / ||theta||^L), computed from log L so it stays finite at any loss level.
"""
from __future__ import annotations

import torch

from .data import check_data
from .losses import check_loss, log_loss, inverse_loss, pair_gaps
from .model import apply_checked, as_model
from .norms import norm as make_norm


def sample_margins_from_outputs(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """q_i from model outputs: y_i f_i (binary, outputs (n,)) or the multi-class margin (outputs (n, C))."""
    if outputs.dim() == 1:
        return y * outputs
    return -pair_gaps(outputs, y).max(dim=1).values


def _prepare(theta, data, model):
    X0, _ = data if isinstance(data, (tuple, list)) and len(data) == 2 else (None, None)
    Xt = torch.as_tensor(X0, dtype=torch.float64) if X0 is not None else None
    fm, params, L = as_model(theta, model, Xt)
    out_probe = apply_checked(fm, params, Xt[:1]) if Xt is not None and Xt.dim() >= 2 else None
    n_out = 1 if out_probe is None or out_probe.dim() == 1 else out_probe.shape[1]
    X, y = check_data(data, n_out)
    return fm, params, L, X, y


def sample_margins(theta, data, *, model=None) -> torch.Tensor:
    """The vector q(theta) of per-sample margins (float64, shape (n,))."""
    fm, params, _, X, y = _prepare(theta, data, model)
    with torch.no_grad():
        return sample_margins_from_outputs(fm.apply_params(params, X), y)


def margin(theta, data, *, model=None, norm="l2") -> float:
    """Hard margin min_i q_i(theta) / ||theta||^L, with ||.|| the given norm (the algorithm's norm)."""
    fm, params, L, X, y = _prepare(theta, data, model)
    nrm = make_norm(norm)
    with torch.no_grad():
        q = sample_margins_from_outputs(fm.apply_params(params, X), y)
    return _normalize(float(q.min()), nrm(params), L)


def soft_margin(theta, data, *, model=None, norm="l2", loss="exp") -> float:
    """Soft margin l^{-1}(L(theta)) / ||theta||^L (exp loss: log(1/L)/||theta||^L) in the given norm."""
    check_loss(loss)
    fm, params, L, X, y = _prepare(theta, data, model)
    nrm = make_norm(norm)
    with torch.no_grad():
        lL = log_loss(fm.apply_params(params, X), y, loss)
    return _normalize(inverse_loss(lL, loss), nrm(params), L)


def _normalize(value: float, theta_norm: float, degree: int) -> float:
    if not theta_norm > 0:
        raise ValueError("theta = 0: the normalized margin is undefined; pass non-zero parameters")
    return value / theta_norm ** degree
