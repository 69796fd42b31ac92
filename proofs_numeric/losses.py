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
    (the built-in Linear, TwoLayerReLU, ReLUNet, DiagonalNet, TwoLayerSquaredReLU) gets its gradient in closed
    form: dlog L/df from ``binary_output_weights`` (autograd on the (n, C) outputs only for multi-class),
    pulled back by the model (G = sum_i (dlog L/df_i) grad f_i).
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
            lL, q, c = binary_output_weights(out, y, loss)
            return float(lL), vjp(c), q
    with torch.enable_grad():        # multi-class outputs: autograd on the (n, C) outputs only
        o = out.detach().requires_grad_(True)
        lL = log_loss(o, y, loss)
        (c,) = torch.autograd.grad(lL, [o])
    with torch.no_grad():
        return float(lL.detach()), vjp(c), sample_margins_from_outputs(out, y)


def binary_output_weights(out, y, loss: str):
    """(log L, q, c = dlog L/df) for binary outputs f (..., n) with labels y (..., n), q_i = y_i f_i, the loss
    summed over the last axis (one run, or S runs with a leading axis). In log space, with s_i = log l(q_i):

        log L = logsumexp_i s_i,   c_i = y_i dlog L/dq_i = -y_i exp(log|l'(q_i)| - log L),

    log|l'(q)| = -q (exp) or log sigmoid(-q) (logistic): the form of logsumexp's own backward, finite at
    log L = -1e6 where L underflows (no 0/0 as q -> inf)."""
    q = y * out
    neg_q = -q
    if loss == "exp":
        lL = torch.logsumexp(neg_q, dim=-1)
        return lL, q, torch.exp(neg_q.sub_(lL.unsqueeze(-1))).mul_(y).neg_()
    lL = torch.logsumexp(log_softplus(neg_q), dim=-1)
    return lL, q, torch.exp(torch.nn.functional.logsigmoid(neg_q).sub_(lL.unsqueeze(-1))).mul_(y).neg_()


def grad_log_loss(fm, params, X, y, loss: str = "exp"):
    """Return (log L as a float, G = grad log L = grad L / L as a list of tensors shaped like params)."""
    check_loss(loss)
    lL, G, _ = eval_log_loss(fm, params, X, y, loss)
    return lL, G


__all__ = ["LOSSES", "check_loss", "inverse_loss", "log_loss", "log_softplus", "pair_gaps",
           "per_sample_log_loss", "separation_threshold", "grad_log_loss", "eval_log_loss",
           "binary_output_weights"]
