"""Per-sample margins q_i(theta) and their Jacobian J = dq/dtheta (one row per sample).

J is the autodiff element of the Clarke subdifferential of each q_i: for ReLU, relu'(0) := 0.
Columns follow ``params.flatten`` (blocks concatenated, each row-major).
"""
from __future__ import annotations

import torch

from .margins import sample_margins_from_outputs
from .params import flatten, unflatten


def margins_and_jacobian(fm, params, X: torch.Tensor, y: torch.Tensor):
    """Return (q, J) with q of shape (n,) and J of shape (n, P), float64."""
    flat = flatten(params).detach()

    def q_of(v):
        return sample_margins_from_outputs(fm.apply_params(unflatten(v, params), X), y)

    q = q_of(flat).detach()
    J = torch.func.jacrev(q_of)(flat).detach()
    return q, J
