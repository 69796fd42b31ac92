"""The constraint side of the KKT programs: G z = sum_i lambda_i k_i = J0^T lambda + C mu, and the Gram split.

z = (lambda, mu): lambda (n,) multipliers, mu (k,) Clarke band variables (clarke.py, ``two_layer_clarke_band``);
J0 the n x P Jacobian with the band's lower slopes, C the P x k band columns (sparse). ``range_factor`` gives, for
the l2 programs, ||r - G z||_2^2 = ||R z - c||^2 + perp^2 with R^T R = G^T G (an (n + k)-dimensional form).
"""
from __future__ import annotations

import numpy as np


class Combination:
    """The linear map z = (lambda, mu) -> sum_i lambda_i k_i = J0^T lambda + C mu without forming G = [J0^T | C].

    J0: dense (n, P); C: the Clarke band columns, kept sparse (scipy CSC; a two-layer band column g_ij = y_i a_j x_i
    has d non-zeros in the W_j block), so memory stays at the n x P Jacobian however many pairs are in the band."""

    def __init__(self, J0: np.ndarray, cols, width=None, rank_one=None):
        """rank_one = (X, m), X (n x d), when the first m d columns of every row J0_i are sum_j B_ij e_j (x) x_i (two-layer
        ReLU nets: B_ij = y_i a_j s_ij, W stored first, row-major); the Gram then costs n^2 (d + m) instead of n^2 P."""
        from scipy import sparse
        self.J0, self.rank_one = J0, rank_one
        self.cols = cols.tocsc() if sparse.issparse(cols) else sparse.csc_matrix(np.asarray(cols, dtype=np.float64))
        self.n, self.k = J0.shape[0], self.cols.shape[1]
        self.width = np.ones(self.k) if width is None else np.asarray(width, dtype=np.float64)
        self._cols_csr = None
        self._gram = None
        self._factor = None

    def __matmul__(self, z):
        return self.J0.T @ z[:self.n] + (self.cols @ z[self.n:] if self.k else 0.0)

    def rows(self, S) -> np.ndarray:
        """Rows S of G (dense, len(S) x (n + k))."""
        return np.hstack([self.J0[:, S].T, self._band_rows(S).toarray()])

    def rows_sparse(self, S):
        """Rows S of G as a scipy CSR matrix (len(S) x (n + k)): the J0 part dense-stored, the band part sparse
        (a band column has d non-zeros, so a row of block W_j meets only neuron j's band columns)."""
        from scipy import sparse
        return sparse.hstack([sparse.csr_matrix(self.J0[:, S].T), self._band_rows(S)], format="csr")

    def _band_rows(self, S):
        if self._cols_csr is None:
            self._cols_csr = self.cols.tocsr()
        return self._cols_csr[S]

    def column(self, c: int) -> np.ndarray:
        """Band column c as a dense P-vector."""
        return self.cols[:, c].toarray().reshape(-1)

    def rmatvec(self, x) -> np.ndarray:
        """G^T x; when x has few non-zeros (the l1 working set's dual vector lives on its row set) only those
        columns of J0 are read (a full pass over the n x P Jacobian was a sizeable part of a round)."""
        nz = np.flatnonzero(x)
        if nz.size < x.size // 4:
            return np.concatenate([self.J0[:, nz] @ x[nz], self.cols.T @ x])
        return np.concatenate([self.J0 @ x, self.cols.T @ x])

    def rank_one_factor(self, check: bool = True):
        """(X, m, B) when the W-block rows of J0 have the two-layer layout J0_i|block j = B_ij x_i^T, else None.

        B_ij is read at the largest coordinate p_i of x_i (B_ij = J0_i|block j [p_i] / x_ip). With ``check`` the
        layout is then verified entrywise: |J0_i|block j - B_ij x_i| <= 1e-12 max_i (max_j |B_ij| max_p |x_ip|)
        (the largest entry of the W blocks when the layout holds), in chunks of rows (one pass over J0, no n x P
        temporary); the checked result is cached. ``check=False`` only reads B (n m entries): for callers whose
        output is certified against G itself (kkt/fy_l2_newton.py), where a wrong layout costs time, not accuracy."""
        if self.rank_one is None:
            return None
        if not check:
            return _read_rank_one(self.J0, *self.rank_one, check=False)
        if self._factor is None:
            self._factor = (_read_rank_one(self.J0, *self.rank_one),)
        return self._factor[0]

    def _gram0(self) -> np.ndarray:
        """J0 J0^T; with the rank-one layout (``rank_one_factor``) (x_i . x_i') (B B^T)_ii' + (rest of the rows)
        products, else the plain product."""
        factor = self.rank_one_factor()
        if factor is None:
            return self.J0 @ self.J0.T
        X, m, B = factor
        rest = self.J0[:, m * X.shape[1]:]
        return (X @ X.T) * (B @ B.T) + rest @ rest.T

    def gram(self) -> np.ndarray:
        """G^T G ((n + k) x (n + k)), computed once per Combination (the object is not modified after creation)."""
        if self._gram is None:
            self._gram = self._gram_now()
        return self._gram

    def _gram_now(self) -> np.ndarray:
        A = self._gram0()
        if not self.k:
            return A
        B = np.asarray((self.cols.T @ self.J0.T).T)
        return np.block([[A, B], [B.T, (self.cols.T @ self.cols).toarray()]])

    def matrix(self):
        """G as a scipy sparse matrix (P x (n + k)) for the cvxpy programs."""
        from scipy import sparse
        return sparse.hstack([sparse.csc_matrix(self.J0.T), self.cols], format="csc")

    def dense(self) -> np.ndarray:
        return np.hstack([self.J0.T, self.cols.toarray()])


def range_factor(Gc: Combination, rcond: float = 1e-13):
    """(R, c_of) with R^T R = G^T G (pivoted Cholesky of the Gram matrix, rank r: R is r x (n + k)); one n x P x n
    product and an O((n + k)^3 / 3) factorization.

    For any vector r: ||r - G z||_2^2 = ||R z - c||^2 + perp^2 with c = c_of(G^T r) (the solution of R^T c = G^T r,
    which exists because G^T r lies in range(G^T G)) and perp^2 = ||r||^2 - ||c||^2 (see ``_split``). Pivots below
    rcond * max diag are dropped (rank-deficient G)."""
    from scipy.linalg import lapack, solve_triangular
    H = Gc.gram()
    U, piv, rank, info = lapack.dpstrf(H, lower=0, tol=rcond * max(float(np.diag(H).max()), 1e-300))
    if info < 0:
        raise ValueError(f"pivoted Cholesky failed (LAPACK info {info})")
    piv = piv - 1
    U = np.triu(U[:rank])
    R = np.empty_like(U)
    R[:, piv] = U
    T = U[:, :rank]

    def c_of(g):
        return solve_triangular(T, g[piv[:rank]], trans="T", lower=False)
    return R, c_of


def _split(Gc, factor, r):
    c = factor[1](Gc.rmatvec(r))
    return c, float(np.sqrt(max(r @ r - c @ c, 0.0)))


def _read_rank_one(J0, X, m, chunk: int = 16, check: bool = True):
    """(X, m, B) of ``Combination.rank_one_factor``, or None when the layout check fails."""
    n, d = X.shape
    W = J0[:, :m * d].reshape(n, m, d)
    piv = np.abs(X).argmax(axis=1)
    xp = X[np.arange(n), piv]
    B = W[np.arange(n), :, piv] / np.where(xp != 0, xp, 1.0)[:, None]
    if not check:
        return X, m, B
    worst, buf = 0.0, np.empty((min(chunk, n), m, d))
    for s in range(0, n, chunk):
        b = buf[:min(n, s + chunk) - s]
        np.multiply(B[s:s + chunk, :, None], X[s:s + chunk, None, :], out=b)
        np.subtract(W[s:s + chunk], b, out=b)
        worst = max(worst, float(np.abs(b, out=b).max()))
    scale = float((np.abs(B).max(axis=1) * np.abs(X).max(axis=1)).max()) if n else 0.0
    return (X, m, B) if worst <= 1e-12 * max(scale, 1e-300) else None
