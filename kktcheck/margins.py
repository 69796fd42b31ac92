"""Per-sample margins, hard and soft normalized margins (SPEC Eq. 4, Eq. 5, section A.3).

q_i = y_i f(x_i; theta) (binary) or f_{y_i}(x_i) - max_{j != y_i} f_j(x_i) (multi-class).
Hard margin, in the norm ||.|| given:  gamma_bar = min_i q_i / ||theta||^L.
Soft margin:                           gamma_tilde = l^{-1}(L(theta)) / ||theta||^L
(exp loss: log(1/L) / ||theta||^L), computed from log L so it stays finite at any loss level.

Scale: f is L-homogeneous, q(c theta) = c^L q(theta), so both margins are evaluated at the unit direction
u = theta / ||theta|| (computed on theta / 2^e, kktcheck.scale) and never form ||theta||^L: the hard
margin is min_i q_i(u) exactly, and the soft margin uses C = ||theta||^L only through log C (see
``soft_margin_at_unit``). Nothing overflows for ||theta|| anywhere in float64's range.
"""
from __future__ import annotations

import math

import torch

from .data import check_inputs, check_labels
from .losses import check_loss, inverse_loss, log_loss, pair_gaps
from .model import ModuleModel, as_model, is_homogeneous, model_outputs
from .norms import norm as make_norm
from .scale import LOG2, unit_scale

_LOG_BIG = 690.0   # C * max|f(u)| above e^690 would come close to float64's e^709.78: use the exact limit


def sample_margins_from_outputs(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """q_i from model outputs: y_i f_i (binary, outputs (n,)) or the multi-class margin (outputs (n, C))."""
    if outputs.dim() == 1:
        return y * outputs
    return -pair_gaps(outputs, y).max(dim=1).values


def _prepare(theta, data, model):
    """The validation layer: data first (a bad X or y is never blamed on the model), then the model and its
    degree, then the labels against the model's output width. Returns (fm, params, L, X, y)."""
    X, y_raw = check_inputs(data)
    fm, params, L = as_model(theta, model, X)
    probe = model_outputs(fm, unit_scale(params)[1], X[:1])
    y = check_labels(y_raw, 1 if probe.dim() == 1 else probe.shape[1])
    return fm, params, L, X, y


def unit_direction(params, nrm) -> tuple[list[torch.Tensor], float]:
    """(u, log ||theta||) with u = theta / ||theta||, computed on theta / 2^e so neither overflows."""
    e, t = unit_scale(params)
    r = float(nrm._value(t))
    if not r > 0:
        raise ValueError("theta = 0: the normalized margin is undefined; pass non-zero parameters")
    return [b / r for b in t], math.log(r) + e * LOG2


def sample_margins(theta, data, *, model=None) -> torch.Tensor:
    """The vector q(theta) of per-sample margins (float64, shape (n,)); ValueError if it overflows float64."""
    fm, params, _, X, y = _prepare(theta, data, model)
    with torch.no_grad():
        return sample_margins_from_outputs(model_outputs(fm, params, X), y)


def _homogeneous(fm, u, X, L) -> bool:
    """A detected degree (ModuleModel) holds by construction; a declared one is verified once."""
    return isinstance(fm, ModuleModel) or is_homogeneous(fm, u, X, L)


def margin(theta, data, *, model=None, norm="l2") -> float:
    """Hard margin min_i q_i(theta) / ||theta||^L = min_i q_i(u), u = theta/||theta|| in the given norm
    (for a model that is not L-homogeneous as declared: the definition evaluated at theta itself)."""
    fm, params, L, X, y = _prepare(theta, data, model)
    nrm = make_norm(norm)
    u, _ = unit_direction(params, nrm)
    with torch.no_grad():
        if not _homogeneous(fm, u, X, L):
            return float(sample_margins_from_outputs(model_outputs(fm, params, X), y).min()) / nrm(params) ** L
        return float(sample_margins_from_outputs(model_outputs(fm, u, X), y).min())


def soft_margin(theta, data, *, model=None, norm="l2", loss="exp") -> float:
    """Soft margin l^{-1}(L(theta)) / ||theta||^L (exp loss: log(1/L)/||theta||^L) in the given norm."""
    check_loss(loss)
    fm, params, L, X, y = _prepare(theta, data, model)
    nrm = make_norm(norm)
    u, log_rho = unit_direction(params, nrm)
    with torch.no_grad():
        if not _homogeneous(fm, u, X, L):
            return inverse_loss(float(log_loss(model_outputs(fm, params, X), y, loss)), loss) / nrm(params) ** L
        f = model_outputs(fm, u, X)
    return soft_margin_at_unit(f, y, loss, L * log_rho)


def soft_margin_at_unit(f: torch.Tensor, y: torch.Tensor, loss: str, log_C: float) -> float:
    """l^{-1}(L) / C for outputs C f, given f = f(u) and log C = L log ||theta||.

    exp (any log C): with z_k the exponents of L (-q_i, or the pair gaps f_j - f_{y_i}) and q_min = -max z,
        l^{-1}(L)/C = q_min - log S / C,   S = sum_k exp(-C (z_max - z_k)) in [1, #terms],
        with C (z_max - z_k) = exp(log C + log(z_max - z_k)) and log S / C = exp(log log S - log C).
    logistic/ce: directly (outputs C f, log space) while C max|f| < e^690; beyond, the exact limit up to
        O(#terms / C): q_min if q_min > 0 (the exp formula), else -sum_i max(0, -q_i).
    A soft margin beyond float64 (C tiny: about -log(n) / C) raises ValueError.
    """
    q = sample_margins_from_outputs(f, y)
    q_min = float(q.min())
    fmax = float(f.abs().max())
    direct = loss != "exp" and log_C > -700 and (fmax == 0 or log_C + math.log(fmax) < _LOG_BIG)
    if direct:
        C = math.exp(log_C)
        out = inverse_loss(float(log_loss(C * f, y, loss)), loss) / C
    elif loss == "exp" or q_min > 0:
        z = -q if f.dim() == 1 else pair_gaps(f, y).reshape(-1)
        gap = (-q_min - z).clamp(min=0.0)
        log_S = float(torch.logsumexp(-torch.exp(log_C + torch.log(gap)), dim=0))
        corr = math.exp(math.log(log_S) - log_C) if log_S > 0 and math.log(log_S) - log_C < 709 else (
            0.0 if log_S <= 0 else math.inf)
        out = q_min - corr
    else:
        out = -float(torch.relu(-q).sum())
    if not math.isfinite(out):
        raise ValueError(f"theta is too small for a float64 soft margin (||theta||^L = e^{log_C:.4g}, so "
                         f"l^{{-1}}(L)/||theta||^L is about -log(n) e^{-log_C:.4g}); rescale theta")
    return out
