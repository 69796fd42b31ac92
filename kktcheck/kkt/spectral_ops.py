"""The spectral-norm KKT measure's data in compressed coordinates, and its objective (exact and smoothed).

Norm: ||theta|| = max_l sigma_max(theta_l) (``kc.norm("spectral")``, vectors read as 1 x n rows), dual norm
N(u) = sum_l ||u_l||_nuc. In the scaled variables zeta = (lambda, mu) L / rho^2 of kkt/fy.py, with
U(zeta) = (rho / L) G zeta (rho = ||theta~||), c = G^T theta~ / L and qv = (q - 1, 0):

    F(zeta) = max( f1, f2 ),   f1 = 1/2 + 1/2 N(U(zeta))^2 - c . zeta,   f2 = qv . zeta,
    measure = min over zeta in Z of F,   Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner(c)}.

Compression (an isometry, so every nuclear norm is kept exactly): every constraint block G_c restricted to
layer l lies in span(Qc_l) x span(Qr_l); then ||U_l||_nuc = ||Qc_l^T U_l Qr_l||_nuc. For two-layer ReLU nets
(Combination.rank_one) the W-block of G_c is b_c x_i^T, so Qr = an orthonormal basis of the rows of X and
Qc = I; otherwise (no band) Qc, Qr are orthonormal bases of the columns / rows of all blocks (SVD) when that is
smaller, else the identity. ``Compressed.dense`` (lambda part) and ``Compressed.band`` (sparse, mu part) form
the matrix of zeta -> vec(Qc_l^T U_l(zeta) Qr_l) over the layers; the two-layer W-layer (first) is instead kept in
factored form, U_W = M(zeta) X Qr (kkt/spectral_factor.py, ``Compressed.factor``), when its band columns have
the one-neuron layout.

Smoothed dual norm (for the solver only; every reported number uses the exact one):
N_s(U) = sum_l sum_i (sqrt(sigma_i^2 + s^2) - s), with N - s rank <= N_s <= N and gradient
U_svd diag(sigma / sqrt(sigma^2 + s^2)) V^T (spectral norm < 1 in every layer), both from the eigenpairs of each
block's Gram matrix (``smoothed_block``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from . import spectral_factor
from .spectral_factor import FactoredW

_RANK = 1e-12


def _orth_rows(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of A (k x d)."""
    if A.size == 0:
        return np.zeros((A.shape[1], 0))
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    return Vt[s > _RANK * s[0]].T if s[0] > 0 else np.zeros((A.shape[1], 0))


def _mat_shape(b) -> tuple:
    return (1, b.size) if b.ndim <= 1 else (b.shape[0], b.size // b.shape[0])


@dataclass
class Compressed:
    """Compressed spectral data. shapes: (a_l, b_l) per layer; [dense | band]: the (sum a_l b_l) x (n + k) matrix
    of zeta -> vec of the compressed blocks of U(zeta) (already times rho / L) after the factored layer, if any;
    c, qv: (n + k,) vectors; owner, width: the band's owners and widths; n: number of samples; factor: the
    first layer in factored form (kkt/spectral_factor.py) or None."""

    shapes: list
    dense: np.ndarray
    band: "sparse.csr_matrix"
    c: np.ndarray
    qv: np.ndarray
    owner: np.ndarray
    width: np.ndarray
    n: int
    factor: "FactoredW | None" = None

    def apply(self, zeta: np.ndarray) -> np.ndarray:
        out = self.dense @ zeta[:self.n]
        out = out + self.band @ zeta[self.n:] if self.band.shape[1] else out
        return out if self.factor is None else np.concatenate([self.factor.apply(zeta), out])

    def adjoint(self, v: np.ndarray) -> np.ndarray:
        if self.factor is not None:
            s = self.factor.shape[0] * self.factor.shape[1]
            return self.factor.adjoint(v[:s]) + self._adjoint_rest(v[s:])
        return self._adjoint_rest(v)

    def _adjoint_rest(self, v: np.ndarray) -> np.ndarray:
        return np.concatenate([self.dense.T @ v, self.band.T @ v]) if self.band.shape[1] else self.dense.T @ v

    def blocks(self, v: np.ndarray) -> list:
        out, s = [], 0
        for a, b in self.shapes:
            out.append(v[s:s + a * b].reshape(a, b))
            s += a * b
        return out


def _two_layer_w(G, owner, scale):
    """The W-layer of a two-layer net in factored form (kkt/spectral_factor.py), or None when J0's W rows are not
    of the rank-one form B_ij x_i^T or a band column is not beta_c e_j x_i^T (both checked entrywise to 1e-12
    relative)."""
    factor = G.rank_one_factor()
    if factor is None:
        return None
    X, m, B = factor
    return spectral_factor.from_band(X, B, _orth_rows(X), G.cols, owner, scale)


def _generic_layer(G, s0, shape):
    """(compressed shape, dense (n, a b), band (a b, k)) of one layer from its slice of J0 (and the band)."""
    m, d = shape
    n = G.n
    G3 = G.J0[:, s0:s0 + m * d].reshape(n, m, d)
    bandl = G.cols.tocsr()[s0:s0 + m * d] if G.k else None
    if G.k == 0 and min(m, d) > 1 and n * min(m, d) < m * d:  # compress: the blocks span few directions
        Qr = _orth_rows(G3.reshape(n * m, d))
        Qc = _orth_rows(G3.transpose(0, 2, 1).reshape(n * d, m))
        if Qc.shape[1] * Qr.shape[1] < m * d:
            dense = np.einsum("ma,imd,db->iab", Qc, G3, Qr).reshape(n, -1)
            return (Qc.shape[1], Qr.shape[1]), dense, sparse.csr_matrix((dense.shape[1], 0))
    band = bandl if bandl is not None else sparse.csr_matrix((m * d, 0))
    return (m, d), G3.reshape(n, m * d), band


def compress(theta: list, q: np.ndarray, L: int, G, rho: float, owner) -> Compressed:
    """The compressed spectral data for theta~ (blocks), margins q at theta~, degree L and constraint map G."""
    x = np.concatenate([b.reshape(-1) for b in theta])
    scale = rho / L
    shapes, dens, bands, s0, factor = [], [], [], 0, None
    for li, b in enumerate(theta):
        shape = _mat_shape(b)
        if li == 0 and G.rank_one is not None and G.rank_one[1] == shape[0]:
            factor = _two_layer_w(G, owner, scale)
        if factor is not None and li == 0:
            shapes.append(factor.shape)
            s0 += b.size
            continue
        sh, dense, band = _generic_layer(G, s0, shape)
        shapes.append(sh)
        dens.append(dense)
        bands.append(band if band.shape[1] == G.k else sparse.csr_matrix((dense.shape[1], G.k)))
        s0 += b.size
    dense = scale * np.hstack(dens).T if dens else np.zeros((0, G.n))  # no layer left after a factored one
    band = (scale * sparse.vstack(bands)).tocsr() if G.k and bands else sparse.csr_matrix((dense.shape[0], G.k))
    c = G.rmatvec(x) / L
    qv = np.concatenate([q - 1.0, np.zeros(G.k)])
    return Compressed(shapes, np.ascontiguousarray(dense), band, c, qv, np.asarray(owner, dtype=int), G.width, G.n,
                      factor)


def dual_value(cp: Compressed, zeta: np.ndarray) -> float:
    """N(U(zeta)) = sum over layers of the nuclear norm (exact, singular values only)."""
    return float(sum(np.linalg.svd(B, compute_uv=False).sum() for B in cp.blocks(cp.apply(zeta))))


def objective(cp: Compressed, zeta: np.ndarray) -> float:
    """F(zeta) = max(1/2 + N^2 / 2 - c . zeta, qv . zeta), exact."""
    N = dual_value(cp, zeta)
    return max(0.5 + 0.5 * N * N - cp.c @ zeta, cp.qv @ zeta)


def smoothed_block(B: np.ndarray, s: float):
    """(N_s(B), grad N_s(B)) of one a x b block from the eigenpairs of its Gram matrix on the smaller side:
    with B B^T = Q diag(sigma^2) Q^T and r = sqrt(sigma^2 + s^2), N_s = sum (r - s) and the gradient
    U diag(sigma / r) V^T = Q diag(1 / r) Q^T B (as B^T u_j = sigma_j v_j); B^T B for a > b. An eigh of the
    min(a, b)-square Gram costs less than the SVD of B (3.5 against 8.6 ms for 100 x 256 on one core);
    eigenvalues below zero by rounding are read as 0. Only the solver and the dual guesses use it (every
    reported number recomputes singular values, or ||W||, by SVD)."""
    tall = B.shape[0] > B.shape[1]
    A = B.T if tall else B
    ev, Q = np.linalg.eigh(A @ A.T)
    r = np.sqrt(np.maximum(ev, 0.0) + s * s)
    W = (Q / r) @ (Q.T @ A)
    return float((r - s).sum()), (W.T if tall else W)


def smoothed(cp: Compressed, zeta: np.ndarray, s: float):
    """(F_s, gradient in zeta, alpha, W) of the smoothed objective: N -> N_s (module docstring) and
    max(a, b) -> (a + b + sqrt((a - b)^2 + s^2)) / 2 (weights alpha, 1 - alpha on a, b).
    W: the layers' gradient blocks of N_s (each of spectral norm < 1)."""
    Ns, Wb = 0.0, []
    for B in cp.blocks(cp.apply(zeta)):
        part, W = smoothed_block(B, s)
        Ns += part
        Wb.append(W)
    Wv = np.concatenate([w.reshape(-1) for w in Wb])
    a = 0.5 + 0.5 * Ns * Ns - cp.c @ zeta
    b = cp.qv @ zeta
    root = np.sqrt((a - b) ** 2 + s * s)
    alpha = 0.5 * (1.0 + (a - b) / root)
    grad = alpha * (Ns * cp.adjoint(Wv) - cp.c) + (1.0 - alpha) * cp.qv
    return 0.5 * (a + b + root), grad, alpha, Wv, Wb
