"""Continuous Clarke band for deep bias-free ReLU nets with one output (``KKTResidual.clarke = "deep-relu-band"``).

Net: h_0 = x, z_l = W_l h_(l-1), h_l = relu(z_l) (l = 1..D-1), f = W_D h_(D-1) (one output), margins
q_i = y_i f(x_i). The constraint subgradients are the backpropagation elements with slopes s_l (n, width_l):

    G_i(s):  delta_D = y_i,  dq_i/dW_l = delta_l (x) h_(l-1),  g_(l-1) = delta_l W_l,  delta_(l-1) = g_(l-1) * s_(l-1),

forward values h_l the TRUE ones (relu), only the backward slopes varied. s = 1[z > 0] is the autodiff element
(relu'(0) := 0); slopes in [0, 1] at exact kinks give the chain-rule (conservative-field) set, which contains the
Clarke set of q_i (Clarke's chain rule), and equals the Clarke set for two layers (clarke.py).

Band: the normalized pre-activation of unit k of hidden layer l at sample i is

    zeta_ilk = z_ilk / (||W_l[k, :]||_2 ||h_(l-1)(x_i)||_2)          (0 when the denominator is 0)

and every (sample, unit) with |zeta| <= r is in the band, its slope ranging over I_r(zeta) = [lo, hi] =
[clip(2 zeta / r - 1, 0, 1), clip(2 zeta / r + 2, 0, 1)] (``clarke.band_slope_interval``: [0, 1] for |zeta| <= r / 2)
exactly as in the two-layer band (r = 0: exact zeros z = 0, [0, 1]).
Units outside the band keep 1[z > 0]. J0_i = G_i(s^lo) (every band slope at its lower end lo). The column of a band
pair c = (i, l, k) is the derivative of G_i in s_c along a staircase through the box: band slopes of the layers
above l at their upper ends hi, of the layers below l (and the rest of layer l) at lo,

    g_c = G_i(s_c = 1; above at hi, below at lo) - G_i(s_c = 0; above at hi, below at lo),   width_c = hi - lo,

and in the program

    k_i = J0_i + sum_{c owned by i} t_c g_c,  t_c in [0, width_c]  (mu_c = lambda_i t_c, 0 <= mu_c <= width_c lambda_i).

What this affine set A_i covers. G_i is affine in the slope vector of any ONE layer jointly (delta_l is linear in
s_l, the blocks above do not depend on it) and multilinear across layers. Hence:
* if the band units of sample i all lie in one hidden layer (in particular one unit: the convex hull of that
  unit's two slopes, i.e. of the gradients of the pieces on its two sides), A_i = {G_i(s): s_c in I_c} exactly;
* otherwise A_i contains G_i(s) on every staircase face of the slope box: for some layer m, the band slopes of the
  layers below m at lo, of the layers above m at hi, and those of layer m anywhere in their intervals (raise the
  layers from the top down: t = width for the layers above m, then t_c for layer m). It misses the other corners,
  e.g. a unit of a lower layer at hi with one of a higher layer at lo (their difference is the cross term
  t_c t_c' d^2 G_i / ds_c ds_c'). The true gradient (s = 1[z > 0]: lo where z <= 0, hi where z > 0) lies in A_i when
  the band units of sample i with z > 0 sit in layers above (or in the same single layer as) those with z <= 0.
  The staircase covers the chain case where a unit on its kink is the main input of a unit of the next layer,
  which is then on its kink too: the KKT needs the product of their slopes, reached with the upper unit at hi.
  ``DeepBand.multi_layer_samples`` counts the samples with band units in two or more layers.
Continuity (r > 0, for theta where every ||W_l[k, :]|| and ||h_(l-1)(x_i)|| is positive): zeta, the slopes lo and hi
(clip(.) in the band, 1[z > 0] outside; lo = hi = 1[z > 0] at |zeta| = r), J0, the columns and the widths are
continuous in theta; a pair enters or leaves the band with width 0, and when another unit of the sample enters the
band its lo and hi equal its old slope, so the columns do not jump. The feasible sets move continuously and the
measure is continuous (docs/kkt.md, Berge's theorem as for two layers). Elements of A_i are convex combinations of
slopes 0 / 1 realized by moving rows W_l[k, :] by at most r ||W_l[k, :]|| (forward values within O(r) of theta's):
a Goldstein-type enlargement of relative radius r.

Detection by duck typing (kktcheck never imports proofs_numeric): a model with attributes ``layers`` and ``degree``
whose parameters are D = degree matrices chaining d -> ... -> 1 (proofs_numeric.models.ReLUNet), or an
``nn.Sequential(Linear(bias=False), ReLU(), ..., Linear(., 1, bias=False))``; either way the model's output must equal
the ReLU forward above on X (else None: the autodiff element is used).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .clarke import band_slope_interval


@dataclass
class DeepReLU:
    """Weights W_1..W_D of a bias-free ReLU MLP with one output (W_l of shape (width_l, width_(l-1)), W_D (1, .))."""

    weights: list


@dataclass
class DeepBand:
    """The band pairs of one net at X: per hidden layer l (0-based) the arrays (i, k, lo, hi) of its band pairs, the
    forward values hs (inputs of each weight matrix), and per hidden layer the (n, width_l) slopes with every band
    unit at lo (``slopes``) or at hi (``upper``), the others at 1[z > 0]."""

    pairs: list
    hs: list
    slopes: list
    upper: list
    multi_layer_samples: int

    @property
    def k(self) -> int:
        return sum(len(p[0]) for p in self.pairs)

    def entries(self, sizes) -> int:
        """Stored entries of the columns: a pair of hidden layer l (0-based) fills one row of W_(l+1)'s block (its
        input width) and the whole blocks of W_1..W_l. ``sizes``: entries per weight matrix."""
        return sum(len(p[0]) * (int(np.sum(sizes[:l])) + self.hs[l].shape[1]) for l, p in enumerate(self.pairs))


def _relu_forward(weights, Xf):
    hs = [Xf]
    for W in weights[:-1]:
        hs.append(np.maximum(hs[-1] @ W.T, 0.0))
    return hs, hs[-1] @ weights[-1].T


def _chain(shapes, d) -> bool:
    if len(shapes) < 2 or any(len(s) != 2 for s in shapes) or shapes[0][1] != d or shapes[-1][0] != 1:
        return False
    return all(shapes[l][1] == shapes[l - 1][0] for l in range(1, len(shapes)))


def _sequential_relu(mod, n_params) -> bool:
    layers = list(mod)
    lin = layers[0::2]
    return (len(layers) % 2 == 1 and len(lin) == n_params
            and all(isinstance(m, torch.nn.Linear) and m.bias is None for m in lin)
            and all(isinstance(m, torch.nn.ReLU) for m in layers[1::2]))


def detect_deep_relu(fm, params, X) -> DeepReLU | None:
    """The weights of a bias-free ReLU MLP with one output (module docstring), or None for any other model."""
    mod = getattr(fm, "module", fm)
    if isinstance(mod, torch.nn.Sequential):
        if not _sequential_relu(mod, len(params)):
            return None
    elif not (hasattr(mod, "layers") and getattr(mod, "degree", None) == len(params)):
        return None
    Xf = np.asarray(X.reshape(X.shape[0], -1).detach().numpy(), dtype=np.float64)
    weights = [np.asarray(p.detach().numpy(), dtype=np.float64) for p in params]
    if not _chain([w.shape for w in weights], Xf.shape[1]):
        return None
    with torch.no_grad():
        out = np.asarray(fm.apply_params(params, X).detach().numpy(), dtype=np.float64).reshape(-1)
    mine = _relu_forward(weights, Xf)[1].reshape(-1)
    if out.shape != mine.shape or not np.allclose(out, mine, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(mine).max())):
        return None
    return DeepReLU(weights)


def deep_band_pairs(net: DeepReLU, X: np.ndarray, radius: float) -> DeepBand:
    """The band pairs (|zeta| <= radius; radius = 0: z = 0 exactly) of every hidden layer, the slopes lo and hi."""
    hs, _ = _relu_forward(net.weights, X.reshape(X.shape[0], -1))
    pairs, slopes, upper = [], [], []
    for l, W in enumerate(net.weights[:-1]):
        Z = hs[l] @ W.T
        scale = np.linalg.norm(hs[l], axis=1)[:, None] * np.linalg.norm(W, axis=1)[None, :]
        zeta = np.divide(Z, scale, out=np.zeros_like(Z), where=scale > 0)
        amb = np.argwhere(np.abs(zeta) <= radius) if radius > 0 else np.argwhere(Z == 0)
        i_, k_ = amb[:, 0], amb[:, 1]
        zr = zeta[i_, k_] / radius if radius > 0 else np.zeros(len(amb))
        lo, hi = band_slope_interval(zr)
        S, U = (Z > 0).astype(np.float64), (Z > 0).astype(np.float64)
        S[i_, k_], U[i_, k_] = lo, hi
        pairs.append((i_, k_, lo, hi))
        slopes.append(S)
        upper.append(U)
    layers_per_sample = sum(np.bincount(p[0], minlength=X.shape[0]) > 0 for p in pairs)
    return DeepBand(pairs, hs, slopes, upper, int(np.sum(layers_per_sample >= 2)))


def _backprop(weights, hs, slopes, y):
    """(J0 (n, P), coefficients g_l = dq/dh_l per hidden layer) with backward slopes ``slopes`` (module docstring)."""
    n, D = len(y), len(weights)
    delta, blocks, coefs = y[:, None].astype(np.float64), [None] * D, [None] * (D - 1)
    for m in range(D - 1, -1, -1):
        blocks[m] = (delta[:, :, None] * hs[m][:, None, :]).reshape(n, -1)
        if m > 0:
            coefs[m - 1] = delta @ weights[m]
            delta = coefs[m - 1] * slopes[m - 1]
    return np.hstack(blocks), coefs


def _layer_columns(weights, band, coefs, l):
    """Hidden layer l's band columns: (top, below). ``coefs[l]`` = dq_i/dh_l with the slopes above at hi; top (k_l,
    input width of W_(l+1)): row k of W_(l+1)'s block, g_ilk h_l(x_i); below (k_l, P_1 + ... + P_l): the backward
    pass seeded with g_ilk e_k at delta_l through the lower slopes (module docstring, the staircase)."""
    i_, k_ = band.pairs[l][0], band.pairs[l][1]
    g = coefs[l][i_, k_]
    top = g[:, None] * band.hs[l][i_]
    D = np.zeros((len(i_), weights[l].shape[0]))
    D[np.arange(len(i_)), k_] = g
    blocks = []
    for m in range(l, 0, -1):
        D = (D @ weights[m]) * band.slopes[m - 1][i_]
        blocks.append((D[:, :, None] * band.hs[m - 1][i_][:, None, :]).reshape(len(i_), -1))
    return top, (np.hstack(blocks[::-1]) if blocks else np.zeros((len(i_), 0)))


def deep_clarke_band(net: DeepReLU, band: DeepBand, y: np.ndarray):
    """(J0, cols, owner, width) of the deep band (module docstring): J0 (n, P) dense, cols (P, k) scipy CSC with
    columns ordered by hidden layer, then sample, then unit; owner (k,) the samples; width (k,) = hi - lo."""
    from scipy import sparse
    weights = net.weights
    J0 = _backprop(weights, band.hs, band.slopes, np.asarray(y, dtype=np.float64))[0]
    coefs = _backprop(weights, band.hs, band.upper, np.asarray(y, dtype=np.float64))[1]   # g_l: slopes above at hi
    offsets = np.concatenate([[0], np.cumsum([W.size for W in weights])])
    rows, cidx, vals, start = [], [], [], 0
    for l in range(len(weights) - 1):
        kl = len(band.pairs[l][0])
        if kl == 0:
            continue
        top, below = _layer_columns(weights, band, coefs, l)
        width_in = top.shape[1]
        top_rows = offsets[l] + band.pairs[l][1][:, None] * width_in + np.arange(width_in)[None, :]
        below_rows = np.broadcast_to(np.arange(below.shape[1])[None, :], below.shape)
        rows += [top_rows.reshape(-1), below_rows.reshape(-1)]
        cidx += [np.repeat(start + np.arange(kl), width_in), np.repeat(start + np.arange(kl), below.shape[1])]
        vals += [top.reshape(-1), below.reshape(-1)]
        start += kl
    P = J0.shape[1]
    cols = (sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cidx))), shape=(P, start))
            if start else sparse.csc_matrix((P, 0)))
    owner = np.concatenate([p[0] for p in band.pairs]).astype(int)
    width = np.concatenate([p[3] - p[2] for p in band.pairs])
    return J0, cols, owner, width


__all__ = ["DeepReLU", "DeepBand", "detect_deep_relu", "deep_band_pairs", "deep_clarke_band"]
