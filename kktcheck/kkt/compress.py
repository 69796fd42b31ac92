"""Spectral norm (max over layers of sigma_max): compress each layer to the subspaces the program can reach.

For layer l (matrix m_l x d_l) every candidate h_l = U_r M V_r^T (top-r singular space of theta_l, see
subdiff.py) and every constraint subgradient block K_il lie in span(Qc_l) x span(Qr_l), where Qc_l is an
orthonormal basis of the columns of [U_r, K_1l, ..., K_nl] and Qr_l of their rows. The residual
R_l = h_l - sum_i z_i K_il therefore satisfies R_l = Qc_l (Qc_l^T R_l Qr_l) Qr_l^T, and the nuclear norm (the
dual) is invariant under this isometry: ||R_l||_nuc = ||Qc_l^T R_l Qr_l||_nuc. The generic program on the
compressed blocks (theta_l replaced by Qc^T U_r S_r V_r^T Qr, which has the same top singular values and
the same tie set) has the same optimum; h is mapped back by h_l = Qc h_c Qr^T.

Useful when n + r is smaller than the layer dimensions (e.g. few samples, wide layers); ``worthwhile``
says whether the compressed size is below half the original.
"""
from __future__ import annotations

import numpy as np

from . import combination, solve

_RANK = 1e-12


def _orth(A: np.ndarray) -> np.ndarray:
    if A.shape[1] == 0:
        return np.zeros((A.shape[0], 0))
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    return U[:, s > _RANK * s[0]] if s.size and s[0] > 0 else np.zeros((A.shape[0], 0))


def _mat_shape(b):
    return (1, b.size) if b.ndim <= 1 else (b.shape[0], int(np.prod(b.shape[1:])))


def bases(theta, Gd: np.ndarray, tol: float):
    """Per layer: (Qc, Qr, compressed theta) for theta (list of arrays) and dense G (P x nk)."""
    out, s0 = [], 0
    nk = Gd.shape[1]
    for b in theta:
        m, d = _mat_shape(b)
        G3 = Gd[s0:s0 + m * d].reshape(m, d, nk)
        s0 += m * d
        U, s, Vt = np.linalg.svd(b.reshape(m, d), full_matrices=False)
        r = int((s >= (1.0 - tol) * s[0]).sum())
        Qc = _orth(np.hstack([U[:, :r], G3.reshape(m, d * nk)]))
        Qr = _orth(np.hstack([Vt[:r].T, G3.transpose(1, 0, 2).reshape(d, m * nk)]))
        top = (U[:, :r] * s[:r]) @ Vt[:r]
        out.append((Qc, Qr, Qc.T @ top @ Qr, G3))
    return out


def worthwhile(info, theta) -> bool:
    """True when the compressed layers have less than half as many entries as the original ones."""
    return sum(Qc.shape[1] * Qr.shape[1] for Qc, Qr, _, _ in info) < 0.5 * sum(b.size for b in theta)


def compressed(nrm, theta, q, L, G: combination.Combination, owner, tol, solver=None, info=None):
    """The generic program on compressed layers; same return dict as solve.generic (h in full coordinates)."""
    Gd = G.dense()
    info = bases(theta, Gd, tol) if info is None else info
    th_c = [tc for _, _, tc, _ in info]
    rows = [np.einsum("ma,mdk,db->abk", Qc, G3, Qr).reshape(-1, Gd.shape[1]) for Qc, Qr, _, G3 in info]
    Gc = np.vstack(rows)
    n = G.n
    out = solve.generic(nrm, th_c, q, L, combination.Combination(Gc[:, :n].T.copy(), Gc[:, n:], G.width), owner, tol, solver)
    if "h" not in out:
        return out
    h_full, s0 = [], 0
    for (Qc, Qr, tc, _), b in zip(info, theta):
        hc = out["h"][s0:s0 + tc.size].reshape(tc.shape)
        s0 += tc.size
        h_full.append((Qc @ hc @ Qr.T).reshape(-1))
    out["h"] = np.concatenate(h_full)
    return out
