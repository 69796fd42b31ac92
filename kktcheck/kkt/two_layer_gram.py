"""The Gram matrix G^T G of a two-layer ReLU constraint side in n x n pieces, without P-dimensional products.

For f(x) = sum_j a_j relu(<w_j, x>) the rows of J0 and the Clarke band columns (kkt/combination.py, clarke.py,
``two_layer_clarke_band``) have the layout

    J0_i = (B_i1 x_i, ..., B_im x_i, Rst_i)      (W_j blocks, then the a block; B_ij = y_i a_j s_ij),
    C_c  = beta_c e_{j_c} (x) x_{i_c}            (band column of the pair (i_c, j_c); beta_c = y_i a_j),

checked entrywise (to 1e-12 relative) before use. Every z = (lambda, mu) then gives G z with W_j block
sum_i alpha_ij x_i and a block Rst^T lambda, where alpha = B * lambda[:, None] + (beta_c mu_c at (i_c, j_c)); with
K = X X^T (n x n) and Rr = Rst Rst^T:

    (G^T G z)_lambda_i = sum_j B_ij (K alpha)_ij + (Rr lambda)_i,      (G^T G z)_c = beta_c (K alpha)_{i_c j_c},

n^2 (m + 1) flops instead of two passes over the n x P Jacobian. Band columns of different neurons are
orthogonal (disjoint W_j blocks), so the band part of G^T G is block diagonal: beta beta' K[o, o] per neuron.
"""
from __future__ import annotations

import numpy as np

LAYOUT_RTOL = 1e-12  # entrywise relative tolerance of the layout check


class TwoLayerGram:
    """X (n x d), B (n x m), Rst (n x p), and per band column c: owner i_c, neuron j_c, beta_c, width_c."""

    def __init__(self, X, B, Rst, owner, neuron, beta, width):
        self.X, self.B, self.Rst = X, B, Rst
        self.owner, self.neuron, self.beta, self.width = owner, neuron, beta, width
        self.n, self.m, self.k = B.shape[0], B.shape[1], len(owner)
        self.K = X @ X.T
        self.Rr = Rst @ Rst.T

    @classmethod
    def of(cls, G, owner, check: bool = True) -> "TwoLayerGram | None":
        """The structure of Combination G (band columns owned by ``owner``) when its layout is the two-layer one
        (``Combination.rank_one_factor`` for J0, ``band_layout`` for the columns); None otherwise. ``check=False``
        reads the coefficients without the entrywise check (for solvers certified against G itself)."""
        factor = G.rank_one_factor(check)
        if factor is None:
            return None
        X, m, B = factor
        band = band_layout(G.cols, X, np.asarray(owner, dtype=int), m, check)
        if band is None:
            return None
        return cls(X, B, G.J0[:, m * X.shape[1]:], np.asarray(owner, dtype=int), band[0], band[1],
                   np.asarray(G.width, dtype=np.float64))

    @classmethod
    def plain(cls, J0) -> "TwoLayerGram":
        """Any model without band columns: no W blocks (m = 0), the whole row J0_i as Rst_i (G^T G = J0 J0^T)."""
        n = J0.shape[0]
        none = np.zeros(0, dtype=int)
        return cls(np.zeros((n, 0)), np.zeros((n, 0)), J0, none, none, np.zeros(0), np.zeros(0))

    def alpha(self, lam, mu, B=None) -> np.ndarray:
        """alpha = B * lambda[:, None] + (beta_c mu_c at (i_c, j_c)) (n x m): the W_j block of G z is X^T alpha_j."""
        out = (self.B if B is None else B) * lam[:, None]
        if self.k:
            np.add.at(out, (self.owner, self.neuron), self.beta * mu)
        return out

    def gram_times(self, lam, mu) -> np.ndarray:
        """G^T G z for z = (lambda, mu) ((n + k,), module docstring)."""
        Ka = self.K @ self.alpha(lam, mu)
        out_lam = np.einsum("ij,ij->i", self.B, Ka) + self.Rr @ lam
        return np.concatenate([out_lam, self.beta * Ka[self.owner, self.neuron]])

    def lam_gram(self, B, A) -> np.ndarray:
        """G_A^T G_A for the lambda columns A with W-block coefficients B: K[A, A] * (B_A B_A^T) + Rr[A, A]."""
        BA = B[A]
        return self.K[np.ix_(A, A)] * (BA @ BA.T) + self.Rr[np.ix_(A, A)]


def band_layout(cols, X, owner, m, check: bool = True):
    """(neuron j_c, beta_c) of the sparse band columns when column c equals beta_c e_{j_c} (x) x_{owner(c)}
    (with ``check``: entrywise to 1e-12 relative of |beta_c| max|x_i|, absent entries counting as 0), else None.
    beta_c is read at the largest coordinate of x_{owner(c)}."""
    n, d = X.shape
    k = cols.shape[1]
    if k == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    csc = cols.tocsc()
    csc.sort_indices()
    counts = np.diff(csc.indptr)
    if np.any(counts == 0):
        return None
    first = csc.indices[csc.indptr[:-1]]
    neuron = first // d
    if np.any(neuron >= m) or np.any(first != neuron * d):
        return None
    if np.all(counts == d):  # the usual case: every column stores its whole block, as (k, d) arrays
        rows, data = csc.indices.reshape(k, d), csc.data.reshape(k, d)
        if np.any(rows[:, -1] != neuron * d + d - 1):  # sorted, d distinct entries from the block start
            return None
    else:  # scatter into dense (k, d) blocks (entries outside the block are caught by the count)
        which = np.repeat(np.arange(k), counts)
        off = csc.indices - neuron[which] * d
        if np.any((off < 0) | (off >= d)):
            return None
        data = np.zeros((k, d))
        data[which, off] = csc.data
    Xo = X[owner]
    piv = np.abs(Xo).argmax(axis=1)
    xp = Xo[np.arange(k), piv]
    beta = data[np.arange(k), piv] / np.where(xp != 0, xp, 1.0)
    if not check:
        return neuron, beta
    tol = LAYOUT_RTOL * np.abs(beta) * np.abs(Xo).max(axis=1)
    if np.any(np.abs(data - beta[:, None] * Xo).max(axis=1) > np.maximum(tol, 1e-300)):
        return None
    return neuron, beta
