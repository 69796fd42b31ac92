"""Clarke subdifferentials of the per-sample margins q_i(theta) = y_i f(x_i; theta).

Two treatments, reported in ``KKTResidual.clarke``:

* ``"two-layer-exact"`` for f(x) = sum_j a_j relu(<w_j, x>) with one output (W: (m, d), a: (1, m) or frozen).
  The terms a_j relu(<w_j, x_i>) depend on disjoint parameters, so the Clarke set of q_i is the product
  of the per-neuron sets. A neuron j whose pre-activation z_ij = <w_j, x_i> is near zero,
  |z_ij| <= tol * ||w_j||_2 ||x_i||_2 (the documented tolerance; tol = 0 means exact zeros only),
  contributes s_ij * y_i a_j x_i to the W_j block with s_ij in [0, 1] (the convex hull of relu'(0-) = 0 and
  relu'(0+) = 1). Its a_j component keeps the autodiff value y_i relu(z_ij) (|.| <= tol-level).
  In the KKT program the products mu_ij = lambda_i s_ij are the variables, 0 <= mu_ij <= lambda_i,
  which keeps the program convex.
* ``"autodiff"`` for every other model: the single element of jacobian.py (relu'(0) := 0). For deeper
  ReLU networks this is an element of the Clarke set only where the net is differentiable; near-ties in
  the norm's subdifferential still use ``tol``. The result says so.

Continuous band (``two_layer_clarke_band``, used by kc.residual): with the normalized pre-activation
zeta_ij = z_ij / (||w_j||_2 ||x_i||_2) and a relative radius r > 0, the slope s_ij of relu at the pair ranges
over the trapezoid interval (``band_slope_interval``)

    I_r(zeta) = [clip(2 zeta / r - 1, 0, 1), clip(2 zeta / r + 2, 0, 1)]:

I = [0, 1] for |zeta| <= r / 2, {1} for zeta >= r, {0} for zeta <= -r, and I moves continuously (Lipschitz 2 / r in
the Hausdorff distance) for r / 2 <= |zeta| <= r. It always contains the true one-sided slope (1 if zeta > 0, 0 if
zeta < 0), and every element is a convex combination of the slopes 0 and 1 realized at points theta' obtained by
moving w_j by less than r ||w_j|| (w_j -> w_j - t x_i with |t| ||x_i|| < r ||w_j|| flips the sign of z_ij when
|zeta_ij| < r): a Goldstein-type enlargement of relative radius r. The flat top matters on paths that cross a kink
back and forth (a discrete path chattering around the flow's sliding mode on z_ij = 0): while the crossings stay
within r / 2, both sides see the whole Clarke interval [0, 1], whatever slope the limit's multipliers need (a
ramp [clip(zeta / r, 0, 1), clip(1 + zeta / r, 0, 1)] would exclude the slopes below zeta / r on the active side,
and a KKT limit whose slope there is 0 would read M ~ zeta / r on every other iterate). r = 0 gives the exact
Clarke set (discontinuous at kinks).

Two-layer structure is detected by duck typing (attributes ``W`` and ``a`` / ``a_frozen`` /
``train_output``, as in proofs_numeric.models.TwoLayerReLU, never imported here) or for a wrapped
``nn.Sequential(Linear(d, m, bias=False), ReLU(), Linear(m, 1, bias=False))``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TwoLayer:
    """Parameters of f(x) = a^T relu(W x): W (m, d); a (m,); whether a is a trained block (second in theta)."""

    W: np.ndarray
    a: np.ndarray
    train_output: bool


def detect_two_layer(fm, params) -> TwoLayer | None:
    """Return the two-layer ReLU structure of (model, params), or None if the model is not of that form."""
    mod = getattr(fm, "module", fm)
    W = np.asarray(params[0].detach().numpy(), dtype=np.float64)
    if W.ndim != 2:
        return None
    if isinstance(mod, torch.nn.Sequential):
        layers = list(mod)
        ok = (len(layers) == 3 and isinstance(layers[0], torch.nn.Linear) and isinstance(layers[1], torch.nn.ReLU)
              and isinstance(layers[2], torch.nn.Linear) and layers[2].out_features == 1 and len(params) == 2)
        if not ok:
            return None
        return TwoLayer(W, np.asarray(params[1].detach().numpy(), dtype=np.float64).reshape(-1), True)
    if not hasattr(mod, "W") or not hasattr(mod, "train_output"):
        return None
    if mod.train_output and hasattr(mod, "a") and len(params) == 2 and params[1].numel() == W.shape[0]:
        return TwoLayer(W, np.asarray(params[1].detach().numpy(), dtype=np.float64).reshape(-1), True)
    if not mod.train_output and hasattr(mod, "a_frozen") and len(params) == 1 and mod.a_frozen.numel() == W.shape[0]:
        return TwoLayer(W, mod.a_frozen.detach().double().numpy().reshape(-1), False)
    return None


def band_slope_interval(zr):
    """(lo, hi) of the band's slope interval I_r(zeta) at zr = zeta / r (module docstring): the trapezoid
    [clip(2 zr - 1, 0, 1), clip(2 zr + 2, 0, 1)], [0, 1] for |zr| <= 1/2 and the one-sided slope at |zr| = 1."""
    zr = np.asarray(zr, dtype=np.float64)
    return np.clip(2.0 * zr - 1.0, 0.0, 1.0), np.clip(2.0 * zr + 2.0, 0.0, 1.0)


def two_layer_clarke(tl: TwoLayer, X: np.ndarray, y: np.ndarray, J: np.ndarray, tol: float):
    """Split the autodiff Jacobian J (n, P) into J0 plus free Clarke columns.

    Returns (J0, cols, owner): J0 is J with the autodiff contribution of every ambiguous pair (i, j)
    removed from the W_j block; cols (P, k) holds g_ij = y_i a_j x_i in the W_j block; owner (k,) gives i.
    Any k_i = J0_i + sum_{(i,j) ambiguous} s_ij g_ij with s_ij in [0, 1] is in the Clarke set of q_i.
    """
    Xf = X.reshape(X.shape[0], -1)
    m, d = tl.W.shape
    Z = Xf @ tl.W.T  # (n, m) pre-activations
    scale = np.linalg.norm(Xf, axis=1)[:, None] * np.linalg.norm(tl.W, axis=1)[None, :]
    amb = np.argwhere(np.abs(Z) <= tol * scale)
    J0 = J.copy() if len(amb) else J
    cols = np.zeros((J.shape[1], len(amb)))
    for c, (i, j) in enumerate(amb):
        g = y[i] * tl.a[j] * Xf[i]
        if Z[i, j] > 0:  # autodiff used relu'(z) = 1 here; relu'(0) = 0 otherwise
            J0[i, j * d:(j + 1) * d] -= g
        cols[j * d:(j + 1) * d, c] = g
    return J0, cols, amb[:, 0].copy() if len(amb) else np.zeros(0, dtype=int)


def two_layer_clarke_band(tl: TwoLayer, X: np.ndarray, y: np.ndarray, J: np.ndarray, radius: float):
    """Continuous Clarke band of relative radius ``radius`` (module docstring): (J0, cols, owner, width).

    Every pair (i, j) with |zeta_ij| <= radius (zeta_ij = <w_j, x_i> / (||w_j|| ||x_i||)) is free: its slope
    s_ij ranges over I_r(zeta_ij) = [lo, hi]. J0 holds the gradient with s_ij = lo in the W_j block, cols[:, c]
    the vector g_ij = y_i a_j x_i (W_j block) and width[c] = hi - lo, so
        k_i = J0_i + sum_{c owned by i} t_c g_c,  t_c in [0, width_c],
    covers the band exactly. In the programs mu_c = lambda_i t_c with 0 <= mu_c <= width_c lambda_i (convex).
    radius = 0 reproduces ``two_layer_clarke`` with tol = 0 (exact zeros, width 1).
    """
    from scipy import sparse
    Xf = X.reshape(X.shape[0], -1)
    m, d = tl.W.shape
    Z = Xf @ tl.W.T
    scale = np.linalg.norm(Xf, axis=1)[:, None] * np.linalg.norm(tl.W, axis=1)[None, :]
    zeta = np.divide(Z, scale, out=np.zeros_like(Z), where=scale > 0)
    amb = np.argwhere(np.abs(zeta) <= radius) if radius > 0 else np.argwhere(Z == 0)
    i_, j_ = amb[:, 0], amb[:, 1]
    zr = zeta[i_, j_] / radius if radius > 0 else np.zeros(len(amb))
    lo, hi = band_slope_interval(zr)
    auto = (Z[i_, j_] > 0).astype(np.float64)  # autodiff used relu'(z) = 1 for z > 0, relu'(0) = 0 otherwise
    g = (y[i_] * tl.a[j_])[:, None] * Xf[i_]  # (k, d): g_ij = y_i a_j x_i, the W_j block of column c
    J0 = J.copy() if len(amb) else J
    np.add.at(J0, (i_[:, None], j_[:, None] * d + np.arange(d)[None, :]), (lo - auto)[:, None] * g)
    rows = (j_[:, None] * d + np.arange(d)[None, :]).reshape(-1)
    cols = sparse.csc_matrix((g.reshape(-1), (rows, np.repeat(np.arange(len(amb)), d))),
                             shape=(J.shape[1], len(amb)))
    return J0, cols, i_.copy(), hi - lo
