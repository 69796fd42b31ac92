"""The W-layer of a two-layer ReLU net in factored form, for the spectral first-order path (kkt/spectral_ops.py).

For a bias-free two-layer ReLU net f(x) = sum_j a_j relu(<w_j, x>), the W-block of k_i (Clarke band included,
kkt/combination.py and clarke.two_layer_clarke_band) is sum_j B_ij e_j x_i^T + sum_{band c of i} t_c beta_c
e_{j(c)} x_i^T (B_ij = y_i a_j s_ij, beta_c = y_i a_j(c)). So, with X Qr the inputs in an orthonormal basis Qr of
their row space, the compressed W-block of U(zeta) = sum_i lambda_i k_i is the product

    U_W(zeta) = M(zeta) (X Qr),    M(zeta) = B^T diag(lambda) + sum_c mu_c beta_c e_{j(c)} e_{i(c)}^T   (m x n),

and its adjoint is V -> (sum_j B_ij (V (X Qr)^T)_ji for lambda_i, beta_c (V (X Qr)^T)_{j(c) i(c)} for mu_c).
Each costs one m x n x n' product; the dense (m n') x (n + k) matrix it replaces cost a pass over m n n' doubles
in memory per product (52 MB at n = 256, m = 100), the bottleneck of the solver's function evaluations.
``from_band`` reads beta_c and (i(c), j(c)) from the band columns and checks the layout entrywise (1e-12
relative), returning None when a column does not have it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYOUT_TOL = 1e-12


@dataclass
class FactoredW:
    """B: (n, m) slopes (already times the scale rho / L); XQ: (n, n'); band owner i, neuron j, coefficient beta
    (times the scale) of every band column."""

    B: np.ndarray
    XQ: np.ndarray
    bi: np.ndarray
    bj: np.ndarray
    beta: np.ndarray

    @property
    def shape(self) -> tuple:
        return self.B.shape[1], self.XQ.shape[1]

    def matrix(self, zeta: np.ndarray) -> np.ndarray:
        """M(zeta) = B^T diag(lambda) + the band entries (m x n)."""
        n = self.B.shape[0]
        M = self.B.T * zeta[None, :n]  # a new C-contiguous array, so the band entries can be added in place
        if self.beta.size:
            np.add.at(M, (self.bj, self.bi), self.beta * zeta[n:])
        return M

    def apply(self, zeta: np.ndarray) -> np.ndarray:
        """vec(U_W(zeta)) = vec(M(zeta) XQ), row-major (m n',)."""
        return (self.matrix(zeta) @ self.XQ).reshape(-1)

    def adjoint(self, v: np.ndarray) -> np.ndarray:
        """(n + k,) vector of <V, U_W(e_p)> over the coordinates p of zeta, V = v as an m x n' matrix."""
        m, nq = self.shape
        Vx = v.reshape(m, nq) @ self.XQ.T  # (m, n)
        lam = np.einsum("ij,ji->i", self.B, Vx)
        return np.concatenate([lam, self.beta * Vx[self.bj, self.bi]]) if self.beta.size else lam


def from_band(X: np.ndarray, B: np.ndarray, Qr: np.ndarray, cols, owner: np.ndarray, scale: float):
    """FactoredW of the W-layer, or None when some band column's W-block is not beta_c e_j x_owner^T (one neuron,
    the owner's input; checked entrywise to LAYOUT_TOL relative). cols: the band columns (P x k, scipy sparse,
    the W-block first, row-major neuron by input coordinate; entries past it belong to other layers and are
    ignored here); owner: the sample of every band column."""
    n, d = X.shape
    md = B.shape[1] * d
    owner = np.asarray(owner, dtype=int)
    k = len(owner)
    if k == 0:
        return FactoredW(scale * B, X @ Qr, owner, owner, np.zeros(0))
    csc = cols.tocsc()
    csc.sum_duplicates()  # canonical: one entry per (row, column), so the scatter below is a plain assignment
    col_of = np.repeat(np.arange(k), np.diff(csc.indptr))
    inside = csc.indices < md
    rows, col_of, data = csc.indices[inside], col_of[inside], csc.data[inside]
    neuron = np.full(k, -1)
    neuron[col_of] = rows // d
    if np.any(neuron < 0) or np.any(rows // d != neuron[col_of]):
        return None  # a column without a W entry, or spread over two neurons
    dense = np.zeros((k, d))
    dense[col_of, rows % d] = data
    xo = X[owner]
    piv = np.abs(xo).argmax(axis=1)
    xp = xo[np.arange(k), piv]
    beta = dense[np.arange(k), piv] / np.where(xp != 0, xp, 1.0)
    worst = float(np.abs(dense - beta[:, None] * xo).max())
    size = float((np.abs(beta) * np.abs(xo).max(axis=1)).max())
    if worst > LAYOUT_TOL * max(size, 1e-300):
        return None
    return FactoredW(scale * B, X @ Qr, owner, neuron, scale * beta)
