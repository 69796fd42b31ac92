"""Per-sample margins q_i(theta) and their Jacobian J = dq/dtheta (one row per sample).

J is the autodiff element of the Clarke subdifferential of each q_i: for ReLU, relu'(0) := 0.
Columns follow ``params.flatten`` (blocks concatenated, each row-major).
"""
from __future__ import annotations

import torch

from .margins import sample_margins_from_outputs
from .params import flatten, unflatten

CHUNK = 256  # rows of J per reverse pass: jacrev vmaps the backward over the n rows. Two-layer net, n = 1000,
             # P = 10,100 (measured, loaded machine): all rows at once 3.4 s and 2.08 GB peak RSS; chunks of 256
             # 3.6 s and 0.98 GB; chunks of 64 8.4 s and 0.50 GB


def margins_and_jacobian(fm, params, X: torch.Tensor, y: torch.Tensor):
    """Return (q, J) with q of shape (n,) and J of shape (n, P), float64 (the reverse passes run CHUNK rows at a
    time; the result does not depend on the chunking)."""
    flat = flatten(params).detach()

    def q_of(v):
        return sample_margins_from_outputs(fm.apply_params(unflatten(v, params), X), y)

    q = q_of(flat).detach()
    J = torch.func.jacrev(q_of, chunk_size=CHUNK)(flat).detach()
    return q, J
