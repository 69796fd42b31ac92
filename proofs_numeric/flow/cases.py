"""Small built-in cases for the flow checks (d <= 10, n <= 20, width <= 10), seeded and cached.

* ``separated_case(seed)``: a bias-free 2-layer ReLU net (d=5, width=6, both layers trained, degree 2)
  on 10 linearly separable points, started from a point with log L <= -1 (reached by the l2 flow).
* ``kinked_case(seed)``: teacher-student data (d=10, n=32, 3 teacher neurons on 3 coordinates) and a
  bias-free 2-layer ReLU student of width 20 from init 0.1: coordinate descent crosses ReLU kinks there.
* ``linear_case(seed)``: the linear model on 12 linearly separable points in d=4, small random init.
* ``smooth_case(seed)``: a depth-2 diagonal linear net (smooth in theta) for solver-order checks.
* ``OffsetLinear``: f(x) = <w, x> + c with a FIXED offset c: not homogeneous (negative controls).
* ``kkt_case(norm)``: seeded data with margin 0.3 along a planted direction for the Thm 3.4 / A.13 / B.6
  checks: the linear model (d=5, 12 points) for l2/l1/linf; ``MatrixLinear`` on 12 3x3 matrices with a
  rank-1 teacher for spectral.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .. import models
from ..datasets import linearly_separable


class OffsetLinear:
    """f(x; w) = <w, x> + offset: violates A2 (homogeneity) while claiming degree 1."""

    degree = 1

    def __init__(self, offset: float = 3.0):
        self.offset = float(offset)

    def apply_params(self, params, X):
        return X.reshape(X.shape[0], -1) @ params[0][0] + self.offset


@lru_cache(maxsize=8)
def separated_case(seed: int = 0):
    from .integrate import integrate
    X, y = linearly_separable(10, 5, seed=seed)
    m = models.TwoLayerReLU(5, 6)
    th = m.init(0.5, torch.Generator().manual_seed(seed))
    tr = integrate(m, th, (X, y), norm="l2", step="relative:0.05", target_log_loss=-1.0, max_steps=2000)
    if tr.status != "success":
        raise RuntimeError(f"separated_case({seed}) failed to fit: {tr.message}")
    return m, tr.params, (X, y)


@lru_cache(maxsize=8)
def kinked_case(seed: int = 0):
    from ..datasets import teacher_student
    X, y, _, _ = teacher_student(10, 32, k_star=3, active=3, seed=seed)
    m = models.TwoLayerReLU(10, 20)
    return m, m.init(0.1, torch.Generator().manual_seed(seed)), (X, y)


@lru_cache(maxsize=8)
def linear_case(seed: int = 0):
    X, y = linearly_separable(12, 4, seed=seed, margin=0.2)
    m = models.Linear(4)
    th = m.init(0.1, torch.Generator().manual_seed(seed))
    return m, th, (X, y)


@lru_cache(maxsize=8)
def smooth_case(seed: int = 0):
    X, y = linearly_separable(10, 4, seed=seed)
    m = models.DiagonalNet(4, depth=2)
    th = m.init(0.7, torch.Generator().manual_seed(seed))
    return m, th, (X, y)


def offset_case(seed: int = 0, offset: float = 3.0):
    """All-positive labels with a helping offset: L < 1 at the start, yet the soft margin falls."""
    X, _ = linearly_separable(8, 4, seed=seed)
    y = torch.ones(8, dtype=torch.float64)
    w0 = [0.05 * torch.ones(1, 4, dtype=torch.float64)]
    return OffsetLinear(offset), w0, (X, y)


def remark32_case():
    """Remark 3.2: two mirrored points x = (1, 0.2), y = +1 and -x, y = -1, started on the l2-max-margin
    direction x/||x|| (scale 50, L < 1, soft margin ~ hard margin).  Sign descent moves along sign(x) = (1, 1): its own (linf) margin rises
    from 1.04 to ||x||_1 = 1.2, while the l2 margin falls from ||x||_2 = 1.02 to 1.2/sqrt(2) = 0.85."""
    x = torch.tensor([1.0, 0.2], dtype=torch.float64)
    X = torch.stack([x, -x])
    y = torch.tensor([1.0, -1.0], dtype=torch.float64)
    return models.Linear(2), [(50.0 * x / torch.linalg.vector_norm(x)).reshape(1, 2)], (X, y)


def kkt_case(norm: str):
    """(data, model, theta0) for the KKT checks; data = (X, y) numpy arrays, theta0 = init(0.1, seed 0)."""
    if norm == "spectral":
        rng = np.random.default_rng(1)
        X = rng.normal(size=(12, 3, 3))
        W0 = rng.normal(size=(3, 1)) @ rng.normal(size=(1, 3))
        y = np.sign((X * W0).sum((1, 2)))
        X += 0.3 * y[:, None, None] * W0 / np.linalg.norm(W0)
        model = models.MatrixLinear(3, 3)
    else:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(12, 5))
        w0 = rng.normal(size=5)
        y = np.sign(X @ w0)
        X += 0.3 * y[:, None] * w0 / np.linalg.norm(w0)
        model = models.Linear(5)
    return (X, y), model, model.init(0.1, torch.Generator().manual_seed(0))
