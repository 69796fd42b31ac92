"""Smooth (C^1) homogeneous models for the momentum / Adam / Muon results (assumption M1: f is C^1 in theta).

``TwoLayerSquaredReLU(d, width)``: f(x; W, a) = sum_j a_j relu(<w_j, x>)^2 = a^T relu(W x)^2 with W of shape
(width, d) (PyTorch (out, in) layout) and a a VECTOR of shape (width,), so the hybrid optimizers and norms
(matrices: >= 2 dims) put W in the msp part and a in the l_inf part. relu(z)^2 is 2-homogeneous and C^1
(derivative 2 relu(z), continuous at 0), so f is 3-homogeneous in (W, a): f(x; cW, ca) = c^3 f(x; W, a),
and C^1 in theta: its Clarke subdifferential is the gradient, no tie/kink handling is needed.

The model deliberately has no ``train_output`` attribute: kktcheck's two-layer ReLU Clarke band (which
is for the kinked ReLU) is not applied to it; kc.residual uses the autodiff Jacobian (``clarke == "autodiff"``),
which for a C^1 model is the exact (singleton) Clarke set.
"""
from __future__ import annotations

import torch
from torch import nn

from .closed_forms import two_layer_vjp
from .models import F64, HomogeneousModel


class TwoLayerSquaredReLU(HomogeneousModel):
    """f(x) = sum_j a_j relu(<w_j, x>)^2; theta = (W, a), W: (width, d), a: (width,); degree 3."""

    degree = 3

    def __init__(self, d: int, width: int):
        super().__init__()
        if int(d) < 1 or int(width) < 1:
            raise ValueError(f"d and width must be positive integers, got d={d}, width={width}")
        self.W = nn.Parameter(torch.zeros(int(width), int(d), dtype=F64))
        self.a = nn.Parameter(torch.zeros(int(width), dtype=F64))

    def apply_params(self, params, X):
        W, a = params
        return torch.relu(X.reshape(X.shape[0], -1) @ W.T).pow(2) @ a

    def forward_vjp(self, params, X):
        """(outputs f_i = a^T relu(W x_i)^2, c -> [grad_W, grad_a] of sum_i c_i f_i) in closed form (exact: f is
        C^1): grad_a = c^T relu(H)^2, grad_W = ((c a) * 2 relu(H))^T X with H = X W^T (``models.two_layer_vjp``);
        W (k, d), a (k,), or both with a leading run axis and X (S, n, d)."""
        W, a = params
        out, vjp2 = two_layer_vjp(W, a.unsqueeze(-2), X, squared=True, train_output=True)

        def vjp(c):
            gW, ga = vjp2(c)
            return [gW, ga.reshape(a.shape)]
        return out, vjp

    def margins_jacobian(self, params, X, y):
        """Binary labels y: q_i = y_i sum_j a_j relu(z_ij)^2 with z_ij = <w_j, x_i>, and J_i = dq_i/dtheta in
        closed form (exact: f is C^1): dq_i/dw_j = 2 y_i a_j relu(z_ij) x_i, dq_i/da_j = y_i relu(z_ij)^2.
        Columns follow the flattened parameters (W row-major, then a)."""
        W, a = params
        Xf = X.reshape(X.shape[0], -1)
        r = torch.relu(Xf @ W.T)                                   # (n, width)
        q = y * (r.pow(2) @ a)
        gW = (2.0 * y[:, None] * r * a)[:, :, None] * Xf[:, None, :]   # (n, width, d)
        return q, torch.cat([gW.reshape(Xf.shape[0], -1), y[:, None] * r.pow(2)], dim=1)


__all__ = ["TwoLayerSquaredReLU"]
