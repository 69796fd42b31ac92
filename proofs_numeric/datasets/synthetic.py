"""Small synthetic data sets (float64 torch tensors, binary labels in {-1, +1}).

* ``linearly_separable(n, d, seed, margin=0.1)``: x ~ N(0, I_d), labels sign(<w*, x>) for a random unit
  w*; points with |<w*, x>| < margin are pushed out to margin (so the l2 margin of w* is >= margin).
* ``non_separable(n, d, seed)``: linearly separable pairs plus one point x and its copy with the opposite
  label, so no classifier fits every point (any model: the two inputs are identical).
* ``xor(n, seed)``: 2-d XOR labels sign(x1 x2); not linearly separable, fitted by a 2-layer ReLU net.

Sizes are integers n >= 1 (n >= 2 for ``non_separable``), d >= 1; anything else is a TypeError/ValueError
naming the argument (an empty data set has no margin).
"""
from __future__ import annotations

import numpy as np
import torch

from .teacher_student import _int


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def linearly_separable(n: int, d: int, seed: int = 0, margin: float = 0.1):
    n, d = _int("n", n, 1), _int("d", d, 1)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    X = rng.standard_normal((n, d))
    proj = X @ w
    y = np.where(proj >= 0, 1.0, -1.0)
    push = np.maximum(margin - np.abs(proj), 0.0)
    X = X + (y * push)[:, None] * w[None, :]
    return _t(X), _t(y)


def non_separable(n: int, d: int, seed: int = 0):
    n = _int("n", n, 2)
    X, y = linearly_separable(n - 1, d, seed)
    X = torch.cat([X, X[:1]])
    y = torch.cat([y, -y[:1]])
    return X, y


def xor(n: int, seed: int = 0):
    n = _int("n", n, 1)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    X[:, 0] += np.where(X[:, 0] >= 0, 0.2, -0.2)
    X[:, 1] += np.where(X[:, 1] >= 0, 0.2, -0.2)
    return _t(X), _t(np.sign(X[:, 0] * X[:, 1]))


__all__ = ["linearly_separable", "non_separable", "xor"]
