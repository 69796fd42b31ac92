"""Bias-free, L-homogeneous models in float64 (PyTorch (out, in) weight layout).

Every model is an ``nn.Module`` with
* ``apply_params(params, X)``: the functional forward f(X; theta) for a list of tensors ``params``
  (one per layer, same shapes as ``parameters()``); outputs (n,) for one output, (n, C) otherwise;
* ``degree``: the homogeneity degree L, f(x; c theta) = c^L f(x; theta) for c > 0;
* ``init(scale, generator)``: draw every trainable entry i.i.d. N(0, scale^2), store and return them;
* ``params()``: detached copies of the current parameters.
ReLU uses relu'(0) := 0 (PyTorch's autodiff selection of the Clarke subdifferential [0, 1]).

Closed forms (``forward_vjp``; Linear, TwoLayerReLU, ReLUNet, DiagonalNet and smooth_models.TwoLayerSquaredReLU):
ONE implementation for one run and for S runs at once. Every parameter block may carry a leading run axis
(shape (S, *shape)) with X then of shape (S, n, ...); the same matrix products act per run (torch.matmul
broadcasts: mm for one run, bmm for S runs; shared pieces in ``proofs_numeric.closed_forms``).
``flow.batched_field.BatchedField`` calls them with the run axis, ``losses.eval_log_loss`` without it.
ReLUNet's margins Jacobian and kink cuts (activation-pattern pieces) live in ``proofs_numeric.relu_pieces``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .closed_forms import flat_inputs, single_output, two_layer_vjp
from .relu_pieces import deep_kink_rows, piece_margins_jacobian

F64 = torch.float64


def check_size(name: str, v) -> int:
    """A layer width or input dimension: an integer >= 1 (TypeError for non-integers, ValueError otherwise)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= 1, got {v!r} ({type(v).__name__})")
    if v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v}; every layer needs at least one unit")
    return int(v)


class HomogeneousModel(nn.Module):
    degree: int

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.apply_params(list(self.parameters()), X)

    def params(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.parameters()]

    def set_params(self, params) -> None:
        with torch.no_grad():
            for p, v in zip(self.parameters(), params):
                p.copy_(torch.as_tensor(v, dtype=F64))

    def init(self, scale: float = 1.0, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise TypeError(f"init: scale must be a finite number >= 0 (the standard deviation), got {scale!r}") \
                from None
        if not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"init: scale must be a finite number >= 0 (the standard deviation), got {scale}")
        new = [scale * torch.randn(p.shape, dtype=F64, generator=generator) for p in self.parameters()]
        self.set_params(new)
        return self.params()


class Linear(HomogeneousModel):
    """f(x) = W x with W of shape (out, d); degree 1."""

    degree = 1

    def __init__(self, d: int, out: int = 1):
        super().__init__()
        d, out = check_size("d", d), check_size("out", out)
        self.weight = nn.Parameter(torch.zeros(out, d, dtype=F64))

    def apply_params(self, params, X):
        out = X.reshape(X.shape[0], -1) @ params[0].T
        return out[:, 0] if out.shape[1] == 1 else out

    def forward_vjp(self, params, X):
        """(outputs f = X W^T, c -> [grad_W sum_i <c_i, f_i>] = [c^T X]): the closed-form pullback used by the
        flow's field instead of autograd; W (out, d) or (S, out, d) with X (S, n, d) (module docstring)."""
        W = params[0]
        Xf = flat_inputs(X, W.dim() - 2)
        out = Xf @ W.transpose(-1, -2)

        def vjp(c):
            return [c.reshape(out.shape).transpose(-1, -2) @ Xf]
        return single_output(out), vjp

    def margins_jacobian(self, params, X, y):
        """Binary labels y: q_i = y_i <w, x_i>, J_i = dq_i/dw = y_i x_i (closed form, no autograd)."""
        Xf = X.reshape(X.shape[0], -1)
        return y * (Xf @ params[0][0]), y[:, None] * Xf


class TwoLayerReLU(HomogeneousModel):
    """f(x) = a^T relu(W x), W: (width, d), a: (out, width).

    ``train_output=True``: theta = (W, a), degree 2 (f(x) = sum_j a_j relu(<w_j, x>)).
    ``train_output=False``: theta = (W,), a frozen at ``output`` (default alternating +-1/sqrt(width)),
    degree 1 in W (the spectral-margin set-up).
    """

    def __init__(self, d: int, width: int, train_output: bool = True, out: int = 1, output=None):
        super().__init__()
        d, width, out = check_size("d", d), check_size("width", width), check_size("out", out)
        self.W = nn.Parameter(torch.zeros(width, d, dtype=F64))
        self.train_output = train_output
        if train_output:
            self.a = nn.Parameter(torch.zeros(out, width, dtype=F64))
        else:
            if output is None:
                signs = torch.tensor([(-1.0) ** j for j in range(width)], dtype=F64)
                output = (signs / math.sqrt(width)).repeat(out, 1)
            self.register_buffer("a_frozen", torch.as_tensor(output, dtype=F64).reshape(out, width))
        self.degree = 2 if train_output else 1

    def apply_params(self, params, X):
        a = params[1] if self.train_output else self.a_frozen
        out = torch.relu(X.reshape(X.shape[0], -1) @ params[0].T) @ a.T
        return out[:, 0] if out.shape[1] == 1 else out

    def forward_vjp(self, params, X):
        """(outputs f_i = a^T relu(W x_i), c -> grad_theta sum_i <c_i, f_i>) in closed form, relu'(0) := 0 (as
        autograd): grad_a = c^T relu(H), grad_W = ((c a) * 1[H > 0])^T X with H = X W^T (``two_layer_vjp``);
        with or without a leading run axis (module docstring)."""
        W = params[0]
        a = params[1] if self.train_output else self.a_frozen.expand(*W.shape[:-2], *self.a_frozen.shape)
        return two_layer_vjp(W, a, X, squared=False, train_output=self.train_output)

    def margins_jacobian(self, params, X, y):
        """Binary labels y, one output: q_i = y_i sum_j a_j relu(<w_j, x_i>) and J_i = dq_i/dtheta, closed form:
        dq_i/dW_j = y_i a_j relu'(<w_j, x_i>) x_i with relu'(0) := 0, dq_i/da_j = y_i relu(<w_j, x_i>).
        Columns follow the flattened parameters (W row-major, then a)."""
        Xf = X.reshape(X.shape[0], -1)
        a = (params[1] if self.train_output else self.a_frozen)[0]
        H = Xf @ params[0].T
        act = torch.relu(H)
        q = y * (act @ a)
        gW = ((y[:, None] * (H > 0).to(H.dtype)) * a)[:, :, None] * Xf[:, None, :]
        J = gW.reshape(Xf.shape[0], -1)
        return q, (torch.cat([J, y[:, None] * act], dim=1) if self.train_output else J)

    def kink_rows(self, params, trial, X, y, q, J):
        """Clarke pieces of the concave kinks a trial step crosses, for the late-phase step (binary y, one output).

        Neuron j contributes c_ij relu(z_ij) to q_i, c_ij = y_i a_j, z_ij = <w_j, x_i>. Where c_ij < 0 the
        contribution min(0, c_ij z_ij) is CONCAVE: the linearization on the current side over-predicts q_i once
        a step crosses the kink; convex pairs (c_ij > 0) need nothing (either side's linearization is a lower
        bound). For every point i whose concave pairs change side between ``params`` and ``trial``
        (z_ij > 0 counts as active, relu'(0) := 0), return ONE row: q_i and grad q_i at ``params`` with all
        those units on their trial side, q'_i = q_i + sum_j s_ij c_ij z_ij and J'_i = J_i + sum_j s_ij (the
        unit's gradient: c_ij x_i in the W_j block, y_i z_ij at a_j), s_ij = -1 for a unit leaving the active
        side and +1 for one entering it. The concave part of q_i is the min over its pieces, so a row is exact
        on the trial's side of its concave units and never below their true contribution elsewhere; with the
        convex units on the current side (a lower bound), the linear program's min over the rows of point i
        equals q_i's linearization from below once the crossed pieces are in (a cutting plane). Returns (q', J', owner)
        as tensors; empty when no concave pair changes side."""
        Xf = X.reshape(X.shape[0], -1)
        a = (params[1] if self.train_output else self.a_frozen)[0]
        Z, Z_trial = Xf @ params[0].T, Xf @ trial[0].T
        C = y[:, None] * a[None, :]
        flip = (C < 0) & ((Z > 0) != (Z_trial > 0))
        owner = torch.nonzero(flip.any(dim=1), as_tuple=True)[0]
        if owner.numel() == 0:
            return q[:0], J[:0], owner
        S = torch.where(Z > 0, -1.0, 1.0).to(q.dtype) * flip.to(q.dtype)      # s_ij on the flipped pairs, else 0
        S, Zo, Co = S[owner], Z[owner], C[owner]
        rows = J[owner].clone()
        k, d = params[0].shape
        rows[:, :k * d] += ((S * Co)[:, :, None] * Xf[owner][:, None, :]).reshape(owner.numel(), k * d)
        if self.train_output:
            rows[:, k * d:] += S * y[owner][:, None] * Zo
        return q[owner] + (S * Co * Zo).sum(dim=1), rows, owner


class ReLUNet(HomogeneousModel):
    """Bias-free ReLU MLP; ``widths = [d, h_1, ..., h_{D-1}, out]``, degree D = len(widths) - 1."""

    def __init__(self, widths):
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths needs at least [d, out], got {widths}")
        widths = [check_size(f"widths[{k}]", w) for k, w in enumerate(widths)]
        self.layers = nn.ParameterList(
            [nn.Parameter(torch.zeros(o, i, dtype=F64)) for i, o in zip(widths[:-1], widths[1:])])
        self.degree = len(widths) - 1

    def apply_params(self, params, X):
        h = X.reshape(X.shape[0], -1)
        for k, W in enumerate(params):
            h = h @ W.T
            if k < len(params) - 1:
                h = torch.relu(h)
        return h[:, 0] if h.shape[1] == 1 else h

    def forward_vjp(self, params, X):
        """(outputs, c -> grad_theta sum_i <c_i, f_i>) in closed form (backpropagation, relu'(0) := 0 as autograd):
        h_0 = x, z_k = W_k h_(k-1), h_k = relu(z_k); grad W_k = delta_k^T h_(k-1) with delta_D = c and
        delta_(k-1) = (delta_k W_k) * 1[z_(k-1) > 0]; with or without a leading run axis (module docstring)."""
        hs, zs = [flat_inputs(X, params[0].dim() - 2)], []
        for k, W in enumerate(params):
            zs.append(hs[-1] @ W.transpose(-1, -2))
            if k < len(params) - 1:
                hs.append(torch.relu(zs[-1]))
        out = zs[-1]

        def vjp(c):
            delta, grads = c.reshape(out.shape), [None] * len(params)
            for k in range(len(params) - 1, -1, -1):
                grads[k] = delta.transpose(-1, -2) @ hs[k]
                if k > 0:
                    delta = (delta @ params[k]) * torch.sign(hs[k])     # 1[z_(k-1) > 0] = sign(relu(z_(k-1)))
            return grads
        return single_output(out), vjp

    def margins_jacobian(self, params, X, y):
        """Binary labels y, one output: q_i = y_i f(x_i) and J_i = dq_i/dtheta in closed form (per-point
        backpropagation, relu'(0) := 0; ``relu_pieces.piece_margins_jacobian``), columns layer by layer."""
        self._one_output(params)
        q, J, _ = piece_margins_jacobian(params, X, y)
        return q, J

    def kink_rows(self, params, trial, X, y, q, J):
        """Cutting planes for the locally concave ReLU kinks the step params -> trial crosses (binary y, one
        output): for each point whose units with coefficient g_kj = dq_i/dh_kj < 0 change side, q_i and grad q_i
        at params of the piece with those units on their trial side (``relu_pieces``: the two-layer rule of
        ``TwoLayerReLU.kink_rows`` unit by unit, and why depth >= 3 has no clean concave/convex split). ``q``,
        ``J``: the margins and Jacobian at params (used for the empty result's shapes). Returns (q', J', owner)."""
        self._one_output(params)
        qa, Ja, owner = deep_kink_rows(params, trial, X, y)
        return (qa, Ja, owner) if owner.numel() else (q[:0], J[:0], owner)

    @staticmethod
    def _one_output(params):
        if params[-1].shape[0] != 1:
            raise ValueError(f"margins_jacobian/kink_rows need one output (binary labels); this net has "
                             f"{params[-1].shape[0]}")


class DiagonalNet(HomogeneousModel):
    """Depth-D diagonal linear net f(x) = <w_1 * ... * w_D, x>; degree D."""

    def __init__(self, d: int, depth: int = 2):
        super().__init__()
        d, depth = check_size("d", d), check_size("depth", depth)
        self.factors = nn.ParameterList([nn.Parameter(torch.zeros(d, dtype=F64)) for _ in range(depth)])
        self.degree = depth

    def apply_params(self, params, X):
        beta = params[0]
        for w in params[1:]:
            beta = beta * w
        return X.reshape(X.shape[0], -1) @ beta

    def forward_vjp(self, params, X):
        """(f_i = <beta, x_i>, c -> gradients) with beta = w_1 * ... * w_D: grad w_k = (X^T c) * prod_(j != k) w_j,
        the products of the other factors from prefix and suffix products (no division, exact at zeros); factors
        (d,) or (S, d) with X (S, n, d) (module docstring)."""
        Xf = flat_inputs(X, params[0].dim() - 1)
        prefix = [torch.ones_like(params[0])]
        for w in params[:-1]:
            prefix.append(prefix[-1] * w)
        beta = prefix[-1] * params[-1]
        out = (Xf @ beta.unsqueeze(-1))[..., 0]

        def vjp(c):
            g = (Xf.transpose(-1, -2) @ c.reshape(out.shape).unsqueeze(-1))[..., 0]
            suffix, grads = torch.ones_like(params[0]), [None] * len(params)
            for k in range(len(params) - 1, -1, -1):
                grads[k] = g * prefix[k] * suffix
                suffix = suffix * params[k]
            return grads
        return out, vjp


class MatrixLinear(HomogeneousModel):
    """f(X) = <W, X> = sum_jk W_jk X_jk for inputs X of shape (n, a, b); degree 1, one (a, b) matrix parameter.

    The smallest model on which spectral steepest descent (W -= lr U V^T) differs from GD, so the spectral
    (MM) problem min ||W||_2 s.t. y_i <W, X_i> >= 1 is non-trivial."""

    degree = 1

    def __init__(self, a: int, b: int):
        super().__init__()
        a, b = check_size("a", a), check_size("b", b)
        self.W = nn.Parameter(torch.zeros(a, b, dtype=F64))

    def apply_params(self, params, X):
        return (X * params[0]).sum((1, 2))


__all__ = ["HomogeneousModel", "Linear", "TwoLayerReLU", "ReLUNet", "DiagonalNet", "MatrixLinear"]
