"""Losses in log space for the dynamics (re-exports ``kktcheck.losses``) and G = grad log L.

L(theta) = sum_i l(q_i(theta)) (a SUM over samples, not a mean).  The flow code never forms L or grad L:
it works with log L = logsumexp_i log l_i and

    G = grad log L = grad L / L = sum_i softmax(log l)_i * grad log l_i,

which autograd of the log-space scalar produces directly (for the exp loss: -sum_i softmax(-q)_i grad q_i).
Both stay finite and accurate at log L = -1e6, where L itself underflows to 0.
"""
from __future__ import annotations

import torch

from kktcheck.losses import (LOSSES, check_loss, inverse_loss, log_loss, log_softplus, pair_gaps,
                             per_sample_log_loss, separation_threshold)
from kktcheck.margins import sample_margins_from_outputs


def eval_log_loss(fm, params, X, y, loss: str = "exp"):
    """(log L, G = grad log L, q) in one forward/backward pass; q are the per-sample margins (detached).

    Hot-path version: no validation; ``params`` is a list of float64 tensors. A model with ``forward_vjp``
    (the built-in Linear, TwoLayerReLU, ReLUNet, DiagonalNet) gets its gradient in closed form: dlog L/df from
    ``_binary_output_weights`` (autograd on the (n, C) outputs only for multi-class), pulled back by the
    model (G = sum_i (dlog L/df_i) grad f_i).
    """
    if hasattr(fm, "forward_vjp"):
        return _eval_closed_form(fm, params, X, y, loss)
    with torch.enable_grad():
        ps = [p.detach().requires_grad_(True) for p in params]
        out = fm.apply_params(ps, X)
        lL = log_loss(out, y, loss)
        G = torch.autograd.grad(lL, ps, allow_unused=True)
    G = [torch.zeros_like(p) if g is None else g for g, p in zip(G, ps)]
    with torch.no_grad():
        q = sample_margins_from_outputs(out.detach(), y)
    return float(lL.detach()), G, q


def _eval_closed_form(fm, params, X, y, loss):
    with torch.no_grad():
        out, vjp = fm.forward_vjp(params, X)
        if out.dim() == 1:
            lL, c = _binary_output_weights(out, y, loss)
        else:
            lL = c = None
    if c is None:                     # multi-class outputs: autograd on the (n, C) outputs only
        with torch.enable_grad():
            o = out.detach().requires_grad_(True)
            lL = log_loss(o, y, loss)
            (c,) = torch.autograd.grad(lL, [o])
    with torch.no_grad():
        G = vjp(c)
        q = sample_margins_from_outputs(out, y)
    return float(lL.detach()), G, q


def _binary_output_weights(out, y, loss):
    """(log L, dlog L/df) for binary outputs f (q_i = y_i f_i), log space: with s_i = log l_i(q_i),
    dlog L/dq_i = softmax(s)_i * s'(q_i); exp: s = -q, s' = -1; logistic: s = log softplus(-q),
    s' = -sigmoid(-q) / softplus(-q) = -exp(logsigmoid(-q) - s) (-> -1 as q -> inf, no 0/0)."""
    q = y * out
    s = per_sample_log_loss(out, y, loss)
    lL = torch.logsumexp(s, dim=0)
    w = torch.softmax(s, dim=0)
    ds = -torch.ones_like(q) if loss == "exp" else -torch.exp(torch.nn.functional.logsigmoid(-q) - s)
    return lL, y * w * ds


def grad_log_loss(fm, params, X, y, loss: str = "exp"):
    """Return (log L as a float, G = grad log L = grad L / L as a list of tensors shaped like params)."""
    check_loss(loss)
    lL, G, _ = eval_log_loss(fm, params, X, y, loss)
    return lL, G


__all__ = ["LOSSES", "check_loss", "inverse_loss", "log_loss", "log_softplus", "pair_gaps",
           "per_sample_log_loss", "separation_threshold", "grad_log_loss", "eval_log_loss"]
