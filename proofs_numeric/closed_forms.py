"""Shared pieces of the models' closed forms (``proofs_numeric.models``): each acts on one run or, with a
leading run axis on every parameter block and X of shape (S, n, ...), on S runs at once (torch.matmul
broadcasts: one mm per run, one bmm over S runs)."""
from __future__ import annotations

import torch


def flat_inputs(X: torch.Tensor, runs: int) -> torch.Tensor:
    """X with its per-point features flattened: (n, d) for one run (runs = 0), (S, n, d) with a run axis (runs = 1)."""
    return X.reshape(*X.shape[:runs + 1], -1)


def single_output(out: torch.Tensor) -> torch.Tensor:
    """Outputs (..., n, C) as (..., n) when C = 1 (binary), unchanged otherwise."""
    return out[..., 0] if out.shape[-1] == 1 else out


def two_layer_vjp(W, a, X, squared: bool, train_output: bool):
    """The closed form of f(x) = a^T sigma(W x), sigma = relu (relu'(0) := 0, as autograd) or relu^2 (sigma' =
    2 relu, C^1): W (k, d), a (C, k), or both with a leading run axis and X (S, n, d). Returns (outputs
    (..., n) for C = 1, else (..., n, C); c -> [grad_W, grad_a] of sum_i <c_i, f_i> (grad_W only when the
    output is frozen)): grad_a = c^T sigma(H), grad_W = ((c a) * sigma'(H))^T X with H = X W^T."""
    Xf = flat_inputs(X, W.dim() - 2)
    H = Xf @ W.transpose(-1, -2)                                  # (..., n, k)
    R = torch.relu(H)
    act = R * R if squared else R
    out = act @ a.transpose(-1, -2)                               # (..., n, C)

    def vjp(c):
        c = c.reshape(out.shape)
        slope = 2.0 * R if squared else torch.sign(R)             # sigma'(H): sign(relu(H)) = 1[H > 0]
        gW = ((c @ a) * slope).transpose(-1, -2) @ Xf
        return [gW, c.transpose(-1, -2) @ act] if train_output else [gW]
    return single_output(out), vjp


__all__ = ["flat_inputs", "single_output", "two_layer_vjp"]
