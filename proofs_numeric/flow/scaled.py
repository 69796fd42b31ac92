"""The late phase's log-scale frame: theta = e^kappa P, so that a run continues past ||theta|| = 1e308 and
log(1/L) = 1e308 with every recorded number finite.

An L-homogeneous model has f(x; e^kappa P) = e^(L kappa) f(x; P), so the margins are q_i(theta) = e^(L kappa) q_i(P)
and grad q_i(theta) = e^((L-1) kappa) grad q_i(P). For the exponential loss L(theta) = sum_i exp(-q_i(theta)), with
m = min_i q_i(P) > 0 and t_i = e^(L kappa) (q_i(P) - m) >= 0 (computed as exp(L kappa + log(q_i(P) - m))):

    log(1/L) = e^(L kappa) m - lse,   lse = log sum_i exp(-t_i)  in [0, log n],
    log log(1/L) = L kappa + log m + log1p(-lse e^-(L kappa + log m))                 (finite at every depth),
    G = grad log L = e^((L-1) kappa) G_P,   G_P = -sum_i w_i grad q_i(P),   w = softmax(-t).

The direction dualize(G) = dualize(G_P) and every normalized quantity (margins q_i / ||theta||^L, the ridge
program's rows) are the same in the frame; only log L, ||G||_* and the time increments carry the scale, in logs.
The loop keeps kappa = e ln 2 with an integer e: ``renormalize`` moves P's size into e by an exact power of two (no rounding of the direction), so P's entries
stay in float64's comfortable range; a run with kappa = 0 is the plain representation, bit for bit.
"""
from __future__ import annotations

import math

import torch

from kktcheck.margins import sample_margins_from_outputs

# the late-phase rule moves ||P|| into kappa once it exceeds 2^64: with degree L <= 4 the frame's margins stay
# below 2^256 ~ 1e77, far inside float64, and runs that never get there are unchanged bit for bit
RENORMALIZE_ABOVE = 2.0 ** 64


def log_depth(log_L: float) -> float:
    """log log(1/L) from log L (nan when L >= 1: no depth before the data are fitted)."""
    return math.log(-log_L) if log_L < 0 else math.nan


def scaled_exp_loss(q, log_scale: float, degree: int):
    """(log L, log log(1/L), w) of the exp loss at theta = e^kappa P from the frame's margins q = q(P) (binary):
    the formulas of the module docstring. log L is -inf only where it is beyond float64; log log(1/L) is nan when
    some margin is <= 0 (then L is computed directly: e^(L kappa) q stays finite there in practice)."""
    m = float(q.min())
    log_z = degree * log_scale
    if not m > 0:
        zq = torch.exp(torch.tensor(log_z, dtype=q.dtype)) * q
        lL = float(torch.logsumexp(-zq, 0))
        return lL, log_depth(lL), torch.softmax(-zq, 0)
    gaps = q - m
    t = torch.where(gaps > 0, torch.exp(log_z + torch.log(gaps.clamp_min(1e-320))), torch.zeros_like(gaps))
    lse = float(torch.logsumexp(-t, 0))
    log_lead = log_z + math.log(m)                     # log(e^(L kappa) m)
    log_x = math.log(lse) - log_lead if lse > 0 else -math.inf      # x = lse / (e^(L kappa) m)
    x = math.exp(log_x) if log_x < 1.0 else 2.0
    depth = log_lead + math.log1p(-x) if x < 1 else math.nan
    lL = -math.exp(log_lead) + lse if log_lead < 709.7 else -math.inf
    return lL, depth, torch.softmax(-t, 0)


def eval_scaled(fm, params, X, y, log_scale: float, degree: int):
    """(log L, log log(1/L), G_P, q(P)) of the exp loss at theta = e^kappa P (binary labels): one forward pass and
    one pull-back of the weights -y w (closed form with ``forward_vjp``, else autograd on the outputs)."""
    if hasattr(fm, "forward_vjp"):
        with torch.no_grad():
            out, vjp = fm.forward_vjp(params, X)
            q = sample_margins_from_outputs(out, y)
            lL, depth, w = scaled_exp_loss(q, log_scale, degree)
            return lL, depth, vjp(-y * w), q
    with torch.enable_grad():
        ps = [p.detach().requires_grad_(True) for p in params]
        out = fm.apply_params(ps, X)
        q = sample_margins_from_outputs(out.detach(), y)
        lL, depth, w = scaled_exp_loss(q, log_scale, degree)
        G = torch.autograd.grad(out, ps, grad_outputs=-y * w, allow_unused=True)
    return lL, depth, [torch.zeros_like(p) if g is None else g for g, p in zip(G, ps)], q


def renormalize(params, size: float):
    """(P', k): P' = P 2^-k with k = floor(log2 size), size = ||P|| > 0 (so ||P'|| in [1, 2)): 2^e P = 2^(e+k) P'
    exactly (a power of two rounds nothing but entries below 2^-1074 ||P'||). The caller decides when (the loop: once
    ||P|| passes RENORMALIZE_ABOVE, with the norm it has just measured)."""
    k = math.floor(math.log2(size))
    return [torch.ldexp(p, torch.tensor(-k, dtype=p.dtype)) for p in params], k


def unscaled(params, exponent: int):
    """theta = 2^exponent P when every entry is finite in float64, else None (beyond float64's range)."""
    if not exponent:
        return params
    half = exponent // 2                     # two halves: 2^exponent itself may overflow where 2^e P does not
    theta = [torch.ldexp(torch.ldexp(p, torch.tensor(float(half), dtype=p.dtype)),
                         torch.tensor(float(exponent - half), dtype=p.dtype)) for p in params]
    return theta if all(bool(torch.isfinite(t).all()) for t in theta) else None


__all__ = ["RENORMALIZE_ABOVE", "eval_scaled", "log_depth", "renormalize", "scaled_exp_loss", "unscaled"]
