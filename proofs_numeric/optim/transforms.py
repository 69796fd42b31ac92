"""Direction transforms (optax habit): small maps g -> d composed into one-line optimizers.

A transform acts on the gradient blocks of ONE parameter group (a list of float64 tensors, PyTorch (out, in)
layout) and returns the direction blocks d; the optimizer then moves theta <- theta - eta_t * d with
eta_t = lr * schedule(t). Per-parameter state (momentum buffers, second moments, preconditioners) lives in
the optimizer's ``self.state[p]`` dicts, so ``state_dict()`` round-trips it; each transform uses its own keys.

    update(gs, states, params, t) -> ds      (t = 1, 2, ... the step number)

Transforms:
* ``Dualize(norm)``          d = dualize(g): ||d|| = 1, <g, d> = ||g||_* (normalized steepest direction).
* ``Dualize(norm, scaled=True)`` d = ||g||_* dualize(g) (un-normalized steepest step: ||d|| = ||g||_*,
                             <g, d> = ||g||_*^2). Selections at ties are the norm's (kktcheck docs): l1 first
                             argmax, sign(0) = 0, U_r V_r^T of the thin SVD.
* ``Momentum(beta)``         m_t = beta m_{t-1} + (1 - beta) g_t, m_0 = 0 (exponential moving average); d = m_t.
* ``AdamDirection(b1, b2, eps)`` Eq. (75): d = m_hat / (sqrt(v_hat) + eps), bias-corrected (sqrt(v) is kept
                             directly, "exp_avg_rms", so g^2 never over/underflows); wherever the
                             denominator is 0 the coordinate is 0 (the 0/0 := 0 convention; with
                             beta2 > 0 or beta1 = 0 a zero denominator forces a zero numerator).
* ``NewtonSchulz(steps, coefficients)`` per block, X <- a X + b (X X^T) X + c (X X^T)^2 X from
                             X_0 = G / ||G||_F; the default cubic (1.5, -0.5, 0) converges to the polar factor
                             U V^T (singular values in (0, sqrt 3) -> 1); float64 throughout.
* ``Scale(c)``               d = c g.
* ``Partition(label, {name: transform})`` routes each block by ``label(p)`` (hybrids: Muon on matrices,
                             Signum/Adam on vector parameters), optax's multi_transform.
* ``Chain(t1, t2, ...)``     composition, applied left to right.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

import kktcheck as kc


class Transform:
    def update(self, gs: list, states: list, params: list, t: int) -> list:  # pragma: no cover
        raise NotImplementedError


class Chain(Transform):
    def __init__(self, *transforms: Transform):
        self.transforms = transforms

    def update(self, gs, states, params, t):
        for tr in self.transforms:
            gs = tr.update(gs, states, params, t)
        return gs


class Dualize(Transform):
    def __init__(self, norm, scaled: bool = False):
        self.norm = kc.norm(norm)
        self.scaled = scaled

    def update(self, gs, states, params, t):
        d = self.norm.dualize(list(gs))
        if self.scaled:
            c = self.norm.dual(list(gs))
            d = [c * u for u in d]
        return d


class Momentum(Transform):
    def __init__(self, beta: float, key: str = "momentum_buffer"):
        self.beta, self.key = float(beta), key

    def update(self, gs, states, params, t):
        out = []
        for g, s in zip(gs, states):
            m = s.get(self.key)
            if m is None:
                m = s[self.key] = torch.zeros_like(g)
            m.mul_(self.beta).add_(g, alpha=1.0 - self.beta)
            out.append(m.clone())
        return out


class AdamDirection(Transform):
    """Adam's direction with the second moment kept as its square root r = sqrt(v) (state "exp_avg_rms"):
    r_t = hypot(sqrt(beta2) r_{t-1}, sqrt(1 - beta2) |g_t|) equals sqrt(beta2 v + (1 - beta2) g^2) but never
    forms g^2, which overflows for |g| > 1e154 and underflows to 0 for |g| < 1e-162 (then v = 0 and the
    0/0 := 0 rule zeroed the step). d = (m_t / c1) / (r_t / sqrt(c2) + eps), c_k = 1 - beta_k^t."""

    def __init__(self, beta1: float, beta2: float, eps: float):
        self.b1, self.b2, self.eps = float(beta1), float(beta2), float(eps)

    def update(self, gs, states, params, t):
        c1, c2 = 1.0 - self.b1 ** t, 1.0 - self.b2 ** t
        out = []
        for g, s in zip(gs, states):
            if "exp_avg_sq" in s and "exp_avg_rms" not in s:      # a state saved before r replaced v
                s["exp_avg_rms"] = torch.sqrt(s.pop("exp_avg_sq"))
            if "exp_avg" not in s:
                s["exp_avg"], s["exp_avg_rms"] = torch.zeros_like(g), torch.zeros_like(g)
            m, r = s["exp_avg"], s["exp_avg_rms"]
            m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
            r.copy_(torch.hypot(r * self.b2 ** 0.5, g.abs() * (1.0 - self.b2) ** 0.5))
            denom = r / c2 ** 0.5 + self.eps
            zero = denom == 0
            safe = torch.where(zero, torch.ones_like(denom), denom)
            out.append(torch.where(zero, torch.zeros_like(m), (m / c1) / safe))
        return out


def _matrix(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(1, -1) if x.dim() <= 1 else x.reshape(x.shape[0], -1)


class NewtonSchulz(Transform):
    def __init__(self, steps: int = 30, coefficients: Sequence[float] = (1.5, -0.5, 0.0)):
        if int(steps) < 1:
            raise ValueError(f"Newton-Schulz needs steps >= 1, got {steps}")
        self.steps, (self.a, self.b, self.c) = int(steps), (float(c) for c in coefficients)

    def polar(self, G: torch.Tensor) -> torch.Tensor:
        X = _matrix(G)
        big = X.abs().max()
        X = X / big if big > 0 else X          # rescale first: ||X||_F over/underflows for entries near 1e+-160
        nrm = torch.linalg.matrix_norm(X)
        if nrm == 0:
            return torch.zeros_like(G)
        tall = X.shape[0] > X.shape[1]
        X = (X.T if tall else X) / nrm
        for _ in range(self.steps):
            A = X @ X.T
            X = self.a * X + (self.b * A + self.c * (A @ A)) @ X
        return (X.T if tall else X).reshape(G.shape)

    def update(self, gs, states, params, t):
        return [self.polar(g) for g in gs]


class Scale(Transform):
    def __init__(self, c: float):
        self.c = float(c)

    def update(self, gs, states, params, t):
        return [self.c * g for g in gs]


def is_matrix(p: torch.Tensor) -> bool:
    """Default hybrid split: tensors with >= 2 dims are matrices (Muon), the rest vectors (Signum/Adam)."""
    return p.dim() >= 2


class Partition(Transform):
    def __init__(self, label: Callable[[torch.Tensor], str], transforms: dict):
        self.label, self.transforms = label, transforms

    def update(self, gs, states, params, t):
        labels = [self.label(p) for p in params]
        out = [None] * len(gs)
        for name, tr in self.transforms.items():
            idx = [i for i, lab in enumerate(labels) if lab == name]
            if idx:
                ds = tr.update([gs[i] for i in idx], [states[i] for i in idx], [params[i] for i in idx], t)
                for i, d in zip(idx, ds):
                    out[i] = d
        missing = sorted({labels[i] for i, d in enumerate(out) if d is None})
        if missing:
            raise ValueError(f"no transform for parameter label(s) {missing}; known: {sorted(self.transforms)}")
        return out


__all__ = ["Transform", "Chain", "Dualize", "Momentum", "AdamDirection", "NewtonSchulz", "Scale", "Partition",
           "is_matrix"]
