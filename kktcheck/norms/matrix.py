"""Schatten norms of ONE weight matrix (PyTorch (out, in) layout); 1-D blocks are read as 1 x n rows.

* Spectral ||W||_2 = sigma_max(W), dual nuclear ||G||_nuc = sum_i sigma_i(G).
  Duality map of the spectral norm: U_r V_r^T from the thin SVD G = U S V^T, keeping the r singular
  values above ``rank_tol * sigma_max`` (the documented selection for rank-deficient G; every
  U_r V_r^T + U_perp M V_perp^T with ||M||_2 <= 1 is also valid).
* Nuclear norm duality map: u_1 v_1^T for the FIRST top singular pair returned by the SVD.

Values and SVDs are computed on W / max|W_ij| and scaled back (sigma(cW) = c sigma(W), U V^T(cW) = U V^T(W)),
so matrices with entries near 1e+-300 neither overflow nor lose their small singular values to underflow.

These are per-block norms; ``kc.norm("spectral")`` is their max over layers (see block.py).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .base import Norm

_RANK_TOL = 1e-12


def _as_matrix(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return x
    if x.dim() <= 1:
        return x.reshape(1, -1)
    return x.reshape(x.shape[0], -1)  # conv kernels: (out, in * kh * kw)


def _rescaled(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, x / m) with m = max |x_ij| (m = 1 for x = 0): the SVD then works on entries in [-1, 1]."""
    m = x.abs().max() if x.numel() else x.new_ones(())
    m = torch.where((m > 0) & torch.isfinite(m), m, torch.ones_like(m))
    return m, x / m


def _sdp_entries(shape) -> int:
    shape = tuple(shape)
    return 0 if len(shape) <= 1 or min(shape) <= 1 else (shape[0] + shape[1]) ** 2


def _single(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    if len(xs) != 1:
        raise ValueError(f"a matrix norm acts on one block, got {len(xs)}; wrap it in a block norm")
    return xs[0]


class SpectralMatrix(Norm):
    """sigma_max of a single matrix."""

    name = "spectral-matrix"

    def __init__(self, rank_tol: float = _RANK_TOL):
        self.rank_tol = rank_tol

    @property
    def dual_norm(self) -> "NuclearMatrix":
        return NuclearMatrix(self.rank_tol)

    def _value(self, xs):
        m, x = _rescaled(_as_matrix(_single(xs)))
        return m * torch.linalg.matrix_norm(x, ord=2)

    def _dualize(self, gs):
        g = _single(gs)
        u, s, vh = torch.linalg.svd(_rescaled(_as_matrix(g))[1], full_matrices=False)
        if s.numel() == 0 or s[0] == 0:
            return [torch.zeros_like(g)]
        r = int((s > self.rank_tol * s[0]).sum())
        return [(u[:, :r] @ vh[:r]).reshape(g.shape)]

    def subdifferential_cvxpy(self, theta, h, t, tol):
        """h = U_r M V_r^T with M PSD, tr M = t, r = #{sigma_i >= (1 - tol) sigma_1}."""
        from ..subdiff import spectral_constraints
        return spectral_constraints(theta, h, t, tol)

    def cvxpy(self, xs):
        import cvxpy as cp
        x = xs[0]
        return cp.norm(x, 2) if len(x.shape) <= 1 or 1 in x.shape else cp.sigma_max(x)

    def psd_entries(self, shapes) -> int:
        """sigma_max of an a x b matrix is an SDP with an (a + b)^2 PSD cone (a vector: none)."""
        return _sdp_entries(shapes[0])


class NuclearMatrix(Norm):
    """Sum of singular values of a single matrix."""

    name = "nuclear-matrix"

    def __init__(self, rank_tol: float = _RANK_TOL):
        self.rank_tol = rank_tol

    @property
    def dual_norm(self) -> SpectralMatrix:
        return SpectralMatrix(self.rank_tol)

    def _value(self, xs):
        m, x = _rescaled(_as_matrix(_single(xs)))
        return m * torch.linalg.matrix_norm(x, ord="nuc")

    def _dualize(self, gs):
        g = _single(gs)
        u, s, vh = torch.linalg.svd(_rescaled(_as_matrix(g))[1], full_matrices=False)
        if s.numel() == 0 or s[0] == 0:
            return [torch.zeros_like(g)]
        return [torch.outer(u[:, 0], vh[0]).reshape(g.shape)]

    def subdifferential_cvxpy(self, theta, h, t, tol):
        """h = t U_r V_r^T + U_perp M V_perp^T, ||M||_2 <= t, r = #{sigma_i > tol sigma_1}."""
        from ..subdiff import nuclear_constraints
        return nuclear_constraints(theta, h, t, tol)

    def cvxpy(self, xs):
        import cvxpy as cp
        x = xs[0]
        return cp.norm(x, 2) if len(x.shape) <= 1 or 1 in x.shape else cp.normNuc(x)

    def psd_entries(self, shapes) -> int:
        """The nuclear norm of an a x b matrix is an SDP with an (a + b)^2 PSD cone (a vector: none)."""
        return _sdp_entries(shapes[0])
