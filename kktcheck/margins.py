"""Per-sample margins, hard and soft normalized margins (hard: min_i q_i / ||theta||^L; soft: l^{-1}(L(theta)) / ||theta||^L).

q_i = y_i f(x_i; theta) (binary) or f_{y_i}(x_i) - max_{j != y_i} f_j(x_i) (multi-class).
Hard margin, in the norm ||.|| given:  gamma_bar = min_i q_i / ||theta||^L.
Soft margin:                           gamma_tilde = l^{-1}(L(theta)) / ||theta||^L
(exp loss: log(1/L) / ||theta||^L), computed from log L so it stays finite at any loss level.

Scale: f is L-homogeneous, q(c theta) = c^L q(theta), so both margins are evaluated at the unit direction
u = theta / ||theta|| (computed on theta / 2^e, kktcheck.scale) and never form ||theta||^L: the hard
margin is min_i q_i(u) exactly, and the soft margin holds C = ||theta||^L as m 2^E (``PowerScale``, see
``soft_margin_at_unit``). Nothing overflows for ||theta|| anywhere in float64's range. A model whose declared
degree fails q(2 theta) = 2^L q(theta) is evaluated by the literal definition at theta instead.
"""
from __future__ import annotations

import math

import torch

from .data import check_inputs, check_labels
from .losses import check_loss, inverse_loss, log_loss, log_softplus, pair_gaps
from .model import ModuleModel, as_model, is_homogeneous, model_outputs
from .norms import norm as make_norm
from .scale import LOG2, scaled_float, times_pow2, unit_scale


def sample_margins_from_outputs(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """q_i from model outputs: y_i f_i (binary, outputs (n,)) or the multi-class margin (outputs (n, C))."""
    if outputs.dim() == 1:
        return y * outputs
    return -pair_gaps(outputs, y).max(dim=1).values


def prepare(theta, data, model=None):
    """The public validation layer, shared by kc.margin, kc.residual and proofs_numeric's integrator: data
    first (a bad X or y is never blamed on the model), then the model and its homogeneity degree L, then the
    labels against the model's output width. ``theta``: an nn.Module, or parameters with ``model=``.
    Returns (functional model with apply_params, float64 params, L, X, y)."""
    X, y_raw = check_inputs(data)
    fm, params, L = as_model(theta, model, X)
    probe = model_outputs(fm, unit_scale(params)[1], X[:1])
    y = check_labels(y_raw, 1 if probe.dim() == 1 else probe.shape[1])
    return fm, params, L, X, y


_prepare = prepare  # the name the package's own modules use


class PowerScale:
    """C = m * 2^E (m a float, E an integer) = ||theta||^L with ||theta|| = r 2^e: m = r^L, E = e L. Products and
    quotients by C are exact power-of-two shifts of products by m, never forming C (it may lie far outside
    float64); log C = log m + E log 2 is only used where a logarithm is the natural input."""

    def __init__(self, m: float, E: int):
        self.m, self.E = float(m), int(E)
        self.log = math.log(self.m) + self.E * LOG2

    def times(self, v: torch.Tensor) -> torch.Tensor:
        return times_pow2(v * self.m, self.E)

    def over(self, v):
        if isinstance(v, torch.Tensor):
            return times_pow2(v / self.m, -self.E)
        return scaled_float(v / self.m, -self.E)


def unit_direction(params, nrm) -> tuple[list[torch.Tensor], float, int]:
    """(u, r, e): u = theta / ||theta|| and ||theta|| = r 2^e, computed on theta / 2^e so nothing overflows."""
    e, t = unit_scale(params)
    r = float(nrm._value(t))
    if not r > 0:
        raise ValueError("theta = 0: the normalized margin is undefined; pass non-zero parameters")
    return [b / r for b in t], r, e


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
    u, _, _ = unit_direction(params, nrm)
    with torch.no_grad():
        if not _homogeneous(fm, u, X, L):
            return float(sample_margins_from_outputs(model_outputs(fm, params, X), y).min()) / nrm(params) ** L
        return float(sample_margins_from_outputs(model_outputs(fm, u, X), y).min())


def soft_margin(theta, data, *, model=None, norm="l2", loss="exp") -> float:
    """Soft margin l^{-1}(L(theta)) / ||theta||^L (exp loss: log(1/L)/||theta||^L) in the given norm."""
    check_loss(loss)
    fm, params, L, X, y = _prepare(theta, data, model)
    nrm = make_norm(norm)
    u, r, e = unit_direction(params, nrm)
    with torch.no_grad():
        if not _homogeneous(fm, u, X, L):
            return inverse_loss(float(log_loss(model_outputs(fm, params, X), y, loss)), loss) / nrm(params) ** L
        f = model_outputs(fm, u, X)
    return soft_margin_at_unit(f, y, loss, PowerScale(r ** L, e * L))


def _effective_margins(f: torch.Tensor, y: torch.Tensor, C: PowerScale) -> torch.Tensor:
    """q'_i with sample i's loss a function of C q'_i: binary q_i; multi-class
    q'_i = q_i - log(S_i)/C, S_i = sum_{j != y_i} exp(-C (max_j g_ij - g_ij)), g_ij = f_j - f_{y_i}, so that
    sum_j e^{C g_ij} = e^{-C q'_i} (pairwise exp) and the CE loss is softplus(-C q'_i)."""
    q = sample_margins_from_outputs(f, y)
    if f.dim() == 1:
        return q
    g = pair_gaps(f, y)
    log_S = torch.logsumexp(-C.times(g.max(dim=1, keepdim=True).values - g), dim=1)
    return q - C.over(log_S)


def _exp_soft(qe: torch.Tensor, C: PowerScale) -> float:
    """-log(sum_i e^{-C q'_i}) / C = q'_min - log S / C, S = sum_i exp(-C (q'_i - q'_min)) in [1, n]."""
    q_min = qe.min()
    log_S = float(torch.logsumexp(-C.times(qe - q_min), dim=0))
    return float(q_min) - C.over(log_S)


def _logistic_soft(qe: torch.Tensor, C: PowerScale) -> float:
    """l^{-1}(L)/C, L = sum_i softplus(-C q'_i), l^{-1}(L) = -log(e^L - 1).

    A term with C q'_i < -1e300 makes L > 1e300, where l^{-1}(L) = -L exactly in float64:
    -L/C = -sum_i [max(0, -q'_i) + log1p(e^{-C|q'_i|})/C]. Otherwise terms with C q'_i > 1e300 (each below
    e^{-1e300}) are dropped; if none is left, log softplus(s) = s to that accuracy and the exp formula holds."""
    Q = C.times(qe)
    if bool((Q < -1e300).any()):
        return -float(torch.relu(-qe).sum()) - float(C.over(torch.log1p(torch.exp(-Q.abs()))).sum())
    keep = Q <= 1e300
    if not bool(keep.any()):
        return _exp_soft(qe, C)
    lL = float(torch.logsumexp(log_softplus(-Q[keep]), dim=0))
    if lL > 30.0:                               # l^{-1}(L) = -L - log1p(-e^{-L}) = -L to float64 accuracy
        x = lL - C.log
        return -math.exp(x) if x < 709.78 else -math.inf
    return C.over(inverse_loss(lL, "logistic"))


def soft_margin_at_unit(f: torch.Tensor, y: torch.Tensor, loss: str, C: PowerScale) -> float:
    """l^{-1}(L) / C for outputs C f, given f = f(u) and C = ||theta||^L as a PowerScale (never formed).

    Every loss is a function of C q'_i (``_effective_margins``); exp: ``_exp_soft``, exact for every log C;
    logistic/ce: ``_logistic_soft``. A soft margin beyond float64 (C tiny: about -log(n)/C) raises ValueError.
    """
    qe = _effective_margins(f, y, C)
    out = _exp_soft(qe, C) if loss == "exp" else _logistic_soft(qe, C)
    if not math.isfinite(out):
        raise ValueError(f"theta is too {'small' if C.log < 0 else 'large'} for a float64 soft margin "
                         f"(||theta||^L = e^{C.log:.4g}; l^{{-1}}(L)/||theta||^L is beyond 1.8e308 in magnitude); "
                         "rescale theta")
    return out
