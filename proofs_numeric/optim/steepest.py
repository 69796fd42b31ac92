"""Steepest descent in a norm, un-normalized (Delta in argmin_{||u|| <= ||g||_*} <g, u>) or normalized (Gronich & Vardi).

On one param group with gradient blocks g (the group's tensors form the block list of the norm):

* ``SteepestDescent(params, lr, norm)``: theta <- theta - lr ||g||_* dualize(g)        (un-normalized)
  so ||Delta|| = lr ||g||_* and <g, Delta> = -lr ||g||_*^2.
* ``NormalizedSteepestDescent(params, lr, norm, schedule)``: theta <- theta - eta_t dualize(g),
  eta_t = lr * schedule(t); ||Delta|| = eta_t and <g, Delta> = -eta_t ||g||_*.
* ``SignDescent``       norm l_inf: dualize(g) = sign(g), sign(0) = 0; un-normalized scale ||g||_1.
* ``CoordinateDescent`` norm l_1 over ALL tensors of the group: dualize(g) = sign(g_i*) e_i*, i* the FIRST
  index of max |g_i| in the concatenation (row-major within each tensor); un-normalized scale ||g||_inf.
* ``SpectralDescent``   msp norm max_l ||W_l||_2: per matrix U_r V_r^T from the float64 thin SVD (singular
  values > 1e-12 sigma_max kept; 1-D tensors read as 1 x n rows, conv kernels as (out, in*kh*kw));
  un-normalized scale sum_l ||G_l||_nuc (the dual norm).

``normalized`` defaults to False for the three named methods: they are the paper's Eq. (1) algorithms
(GD, CD and SD of Fig. 1). Pass ``normalized=True`` for the G-V normalized versions (sign GD = Adam with
beta1 = beta2 = eps = 0; spectral = Shampoo without accumulation, Eq. 77).
"""
from __future__ import annotations

import kktcheck as kc

from .base import TransformOptimizer
from .transforms import Dualize


class NormalizedSteepestDescent(TransformOptimizer):
    normalized = True

    def __init__(self, params, lr, norm="l2", schedule=None, nonfinite="raise"):
        self._norm = kc.norm(norm)
        super().__init__(params, dict(lr=lr, schedule=schedule, nonfinite=nonfinite))

    def direction(self, group):
        return Dualize(self._norm, scaled=not self.normalized)

    def _implicit_norm(self, group):
        return self._norm


class SteepestDescent(NormalizedSteepestDescent):
    normalized = False

    def __init__(self, params, lr, norm="l2", schedule=None, nonfinite="raise"):
        super().__init__(params, lr, norm=norm, schedule=schedule, nonfinite=nonfinite)


class _Named(NormalizedSteepestDescent):
    _NAME = "l2"

    def __init__(self, params, lr, normalized: bool = False, schedule=None, nonfinite="raise"):
        self.normalized = bool(normalized)
        super().__init__(params, lr, norm=self._NAME, schedule=schedule, nonfinite=nonfinite)


class SignDescent(_Named):
    _NAME = "linf"


class CoordinateDescent(_Named):
    _NAME = "l1"


class SpectralDescent(_Named):
    _NAME = "spectral"


__all__ = ["SteepestDescent", "NormalizedSteepestDescent", "SignDescent", "CoordinateDescent", "SpectralDescent"]
