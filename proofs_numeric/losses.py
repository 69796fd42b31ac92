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

    Hot-path version: no validation; ``params`` is a list of float64 tensors.
    """
    with torch.enable_grad():
        ps = [p.detach().requires_grad_(True) for p in params]
        out = fm.apply_params(ps, X)
        lL = log_loss(out, y, loss)
        G = torch.autograd.grad(lL, ps, allow_unused=True)
    G = [torch.zeros_like(p) if g is None else g for g, p in zip(G, ps)]
    with torch.no_grad():
        q = sample_margins_from_outputs(out.detach(), y)
    return float(lL.detach()), G, q


def grad_log_loss(fm, params, X, y, loss: str = "exp"):
    """Return (log L as a float, G = grad log L = grad L / L as a list of tensors shaped like params)."""
    check_loss(loss)
    lL, G, _ = eval_log_loss(fm, params, X, y, loss)
    return lL, G


__all__ = ["LOSSES", "check_loss", "inverse_loss", "log_loss", "log_softplus", "pair_gaps",
           "per_sample_log_loss", "separation_threshold", "grad_log_loss", "eval_log_loss"]
