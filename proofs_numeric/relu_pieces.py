"""Activation-pattern pieces of a bias-free deep ReLU net (``models.ReLUNet``, one output, binary labels): the
margins, their Jacobian and the kink cuts of the late-phase ridge step, in closed form.

Net: h_0 = x, z_k = W_k h_(k-1), h_k = m_k * z_k (k < D), f = z_D, with m_k = 1[z_k > 0] (relu'(0) := 0, as
autograd). Freezing the masks m_k gives the PIECE of the net on that activation pattern, a polynomial in theta;
the net equals its current piece near theta. For the margins q_i = y_i f(x_i) of a piece, backpropagation per
point gives the Jacobian rows:

    g_D = y_i,   dq_i/dW_k = delta_k (x) h_(k-1),   delta_k = g_k * m_k,   g_(k-1) = delta_k W_k,

where g_k = dq_i/dh_k is the COEFFICIENT of unit (k, j) in q_i: with every other unit and the layers above
fixed, q_i = g_kj relu(z_kj) + (terms without z_kj), concave in z_kj when g_kj < 0, convex when g_kj > 0.

Kink cuts (the two-layer rule of ``models.TwoLayerReLU.kink_rows`` applied unit by unit): for every point i
whose LOCALLY CONCAVE units (g_kj < 0 at theta) change side between theta and a trial step, one row: q_i and
grad q_i at theta of the piece with those units on their trial side (z > 0 counts as active) and every other
unit on its current side. For two layers g_1j = y_i a_j, and the rows are the two-layer ones.

Why this is not a clean concave/convex split for depth >= 3 (it is one for two layers with a frozen output,
and to first order with a trained one): g_kj depends on the downstream weights and the downstream activation
pattern, so (1) a unit's kink can be concave on one side of another unit's kink and convex on the other, and
the sign test at theta can be wrong at the trial; (2) a unit crossing in layer k moves every pre-activation
above it, so q_i is not a sum over units of univariate pieces and not the min of its concave pieces; (3) the
pieces are polynomials of degree D in theta, so their linearization is itself only first-order accurate.
What stays exact is the conditional statement the two-layer argument needs: for a step that moves only the
first layer W_1 while no unit of layers 2..D-1 changes side, q_i(W_1) = sum_j g_1j relu(z_1j) with fixed
g_1j, piecewise linear in W_1, and then each row evaluated at the trial is <= the true q_i there (= when no
locally convex unit of point i crossed): the cut lower-bounds the margin the step reaches. In general the
rows are the trial's pieces linearized at theta (a first-order model of the crossed kinks), and the ridge
step's trust-region test (achieved against predicted gain) remains the safeguard.
"""
from __future__ import annotations

import torch


def forward_pieces(params, X, masks=None):
    """(z_1..z_D, h_0..h_(D-1), m_1..m_(D-1)) of the net at X (n, ...); ``masks``: the activation pattern to
    freeze (a list of (n, width_k) 0/1 tensors), default the net's own pattern 1[z_k > 0]."""
    hs, zs, ms = [X.reshape(X.shape[0], -1)], [], []
    for k, W in enumerate(params):
        zs.append(hs[-1] @ W.T)
        if k < len(params) - 1:
            ms.append((zs[-1] > 0).to(zs[-1].dtype) if masks is None else masks[k])
            hs.append(ms[-1] * zs[-1])
    return zs, hs, ms


def piece_margins_jacobian(params, X, y, masks=None):
    """(q (n,), J (n, P), coefficients [g_1, ..., g_(D-1)]) of the piece with activation pattern ``masks``
    (default: the net's own, so q and J are the net's margins and Jacobian, relu'(0) := 0). J's columns follow
    the flattened parameters (layer by layer, each row-major); g_k (n, width_k) = dq_i/dh_k (module docstring)."""
    zs, hs, ms = forward_pieces(params, X, masks)
    n = zs[-1].shape[0]
    delta, cols, coefs = y[:, None], [None] * len(params), [None] * len(ms)
    for k in range(len(params) - 1, -1, -1):
        cols[k] = (delta[:, :, None] * hs[k][:, None, :]).reshape(n, -1)
        if k > 0:
            coefs[k - 1] = delta @ params[k]
            delta = coefs[k - 1] * ms[k - 1]
    return y * zs[-1][:, 0], torch.cat(cols, dim=1), coefs


def deep_kink_rows(params, trial, X, y):
    """(q', J', owner): the kink cuts of the step params -> trial (module docstring): one row per point with a
    locally concave unit (g_kj < 0 at params) whose side (z > 0) differs at the trial; empty when none."""
    zs, _, ms = forward_pieces(params, X)
    q, J, coefs = piece_margins_jacobian(params, X, y)
    zs_trial = forward_pieces(trial, X)[0]
    flips = [(g < 0) & ((z > 0) != (zt > 0)) for g, z, zt in zip(coefs, zs, zs_trial)]
    owner = torch.nonzero(torch.stack([f.any(dim=1) for f in flips]).any(dim=0), as_tuple=True)[0]
    if owner.numel() == 0:
        return q[:0], J[:0], owner
    masks = [torch.where(f, (zt > 0).to(m.dtype), m)[owner] for f, zt, m in zip(flips, zs_trial, ms)]
    qa, Ja, _ = piece_margins_jacobian(params, X.reshape(X.shape[0], -1)[owner], y[owner], masks)
    return qa, Ja, owner


__all__ = ["forward_pieces", "piece_margins_jacobian", "deep_kink_rows"]
