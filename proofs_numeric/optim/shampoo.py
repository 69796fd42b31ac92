"""Shampoo, two variants (accumulating L_t = L_{t-1} + G G^T, R_t = R_{t-1} + G^T G, W -= lr L^{-1/4} G R^{-1/4}, and the
reference torch-optimizer code with exponent -1/order; without accumulation the step is lr U V^T).

``ShampooNoAccumulation(params, lr)`` (Eq. 77, Bernstein & Newhouse): per tensor G (read as a matrix,
1-D as 1 x n), W <- W - eta_t (G G^T)^{+1/4} G (G^T G)^{+1/4} = W - eta_t U V^T, with pseudo-inverse powers
computed by a float64 eigendecomposition of the Gram matrices: eigenvalues <= max(shape) * eps64 * lambda_max
count as zero (so singular values below ~sqrt(max(shape) eps64) sigma_max are dropped; the Gram route
squares the condition number). Normalized steepest descent in the msp norm: implicit norm "spectral".

``Shampoo(params, lr=0.1, epsilon=1e-4, update_freq=1)``: the torch-optimizer reference (momentum 0,
weight decay 0, the paper's setting). Per tensor of order k, preconditioners P_i = epsilon I (one per mode),
then every step, for each mode i in turn, with the CURRENT (partially preconditioned) gradient H:
    H_(i) = mode-i unfolding,  P_i <- P_i + H_(i) H_(i)^T,  P_i^{-1/k} recomputed when (step-1) % update_freq == 0,
    H <- P_i^{-1/k} H_(i) (last mode: H_(i)^T P_i^{-1/k}).
For a matrix: Delta = -eta L^{-1/2} G R^{-1/2}, L = eps I + sum G G^T, R = eps I + sum of H^T H with
H = L^{-1/2} G the left-preconditioned gradient: exponent -1/order = -1/2 per side, not Eq. 76's -1/4.
With one step and epsilon -> 0, Delta -> -eta U V^T (error O(epsilon / sigma_min^2)); in general it is not
spectral steepest descent. The matrix powers use eigh (the reference uses an SVD; equal for SPD matrices).
Its implicit_norm() is "spectral" as the paper's empirical claim (Fig. 3), not a theorem.
"""
from __future__ import annotations

import numbers

import torch

import kktcheck as kc

from .base import TransformOptimizer, check_eps
from .transforms import Transform, _matrix

_EPS = torch.finfo(torch.float64).eps


def sym_power(P: torch.Tensor, power: float, pinv_tol: float | None = None) -> torch.Tensor:
    """P^power for symmetric PSD P via eigh; with pinv_tol, eigenvalues <= pinv_tol * lambda_max map to 0."""
    lam, Q = torch.linalg.eigh(P)
    if pinv_tol is None:
        return (Q * lam.pow(power)) @ Q.T
    keep = lam > pinv_tol * lam.max().clamp(min=0)
    w = torch.where(keep, lam.clamp(min=_EPS).pow(power), torch.zeros_like(lam))
    return (Q * w) @ Q.T


class Eq77Direction(Transform):
    def update(self, gs, states, params, t):
        out = []
        for g in gs:
            G = _matrix(g)
            if not bool(G.any()):
                out.append(torch.zeros_like(g))
                continue
            G = G / G.abs().max()   # U V^T is scale invariant; G G^T of entries beyond 1e+-154 would over/underflow
            tol = max(G.shape) * _EPS
            d = sym_power(G @ G.T, -0.25, tol) @ G @ sym_power(G.T @ G, -0.25, tol)
            out.append(d.reshape(g.shape))
        return out


class ReferenceShampooDirection(Transform):
    def __init__(self, epsilon: float, update_freq: int):
        self.epsilon, self.update_freq = epsilon, update_freq

    def update(self, gs, states, params, t):
        out = []
        for j, (grad, s) in enumerate(zip(gs, states)):
            order, original = grad.dim(), grad.shape
            if "precond_0" not in s:
                for i, n in enumerate(original):
                    s[f"precond_{i}"] = self.epsilon * torch.eye(n, dtype=grad.dtype)
                    s[f"inv_precond_{i}"] = torch.zeros(n, n, dtype=grad.dtype)
            for i, n in enumerate(original):
                P, Pinv = s[f"precond_{i}"], s[f"inv_precond_{i}"]
                grad = grad.transpose(0, i).contiguous()
                transposed = grad.shape
                grad = grad.view(n, -1)
                P.add_(grad @ grad.T)
                if not bool(torch.isfinite(P).all()):
                    raise ValueError(f"['params'][{j}] (shape {tuple(original)}): the preconditioner "
                                     f"P_{i} += G G^T overflows float64 (max|g| = {float(grad.abs().max()):.3g}); "
                                     "rescale the loss, or use ShampooNoAccumulation (scale invariant)")
                if (t - 1) % self.update_freq == 0:
                    Pinv.copy_(sym_power(P, -1.0 / order))
                grad = (grad.T @ Pinv).view(original) if i == order - 1 else (Pinv @ grad).view(transposed)
            out.append(grad)
        return out


def check_update_freq(update_freq) -> int:
    """The reference's ``update_freq``: recompute P_i^{-1/k} every this many steps (an int >= 1; bool refused)."""
    if isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral) or update_freq < 1:
        raise ValueError(f"update_freq must be an integer >= 1 (recompute the inverse roots every update_freq "
                         f"steps; 1 = every step, the reference default), got {update_freq!r}")
    return int(update_freq)


class ShampooNoAccumulation(TransformOptimizer):
    def __init__(self, params, lr, schedule=None, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, schedule=schedule, nonfinite=nonfinite))

    def direction(self, group):
        return Eq77Direction()

    def _implicit_norm(self, group):
        return kc.norm("spectral")


class Shampoo(TransformOptimizer):
    def __init__(self, params, lr=0.1, epsilon=1e-4, update_freq: int = 1, schedule=None, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, epsilon=check_eps("epsilon", epsilon, positive=True),
                                      update_freq=check_update_freq(update_freq), schedule=schedule,
                                      nonfinite=nonfinite))
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() == 0:
                    raise ValueError("Shampoo preconditions tensor modes; a 0-dim (scalar) parameter has none. "
                                     "Put scalars in another optimizer.")

    def direction(self, group):
        return ReferenceShampooDirection(group["epsilon"], group["update_freq"])

    def _implicit_norm(self, group):
        return kc.norm("spectral")


__all__ = ["Shampoo", "ShampooNoAccumulation", "sym_power"]
