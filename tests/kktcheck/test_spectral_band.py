"""Pieces of the spectral first-order path with the Clarke band (kkt/spectral_factor.py, spectral_param.py,
spectral_ops.smoothed_block), each checked against an independent computation, with negative controls, and the
measure with a band that has many columns per sample against the generic cvxpy SDP."""
import sys

import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.kkt import spectral_factor, spectral_ops
from kktcheck.kkt.spectral_param import SlopeParam
from kktcheck.testing.cases import random_two_layer

AGREE = 1e-6


def _sign_labelled_net(n, d, m, seed):
    """Two-layer bias-free ReLU net with N(0, 1) weights, labels = signs of its outputs (|f| > 1e-3 kept)."""
    net, X = random_two_layer(torch.Generator().manual_seed(seed), n, d, m)
    with torch.no_grad():
        out = net(X)[:, 0]
    keep = out.abs() > 1e-3
    return net, (X[keep].numpy(), torch.sign(out[keep]).numpy())


def _program_args(net, data, radius):
    """The arguments kc.residual passes to spectral_fo.program (nrm, theta~, q, L, G, owner, warm_lam)."""
    cap = {}
    mod = sys.modules["kktcheck.kkt.residual"]
    saved = mod.spectral_fo.program

    def spy(*a, **k):
        cap["a"] = a
        return saved(*a, **k)
    mod.spectral_fo.program = spy
    try:
        kc.residual(net, data, norm="spectral", method="first-order", pair=False, clarke_radius=radius)
    finally:
        mod.spectral_fo.program = saved
    return cap["a"]


@pytest.fixture(scope="module")
def wide_band():
    net, data = _sign_labelled_net(12, 5, 8, 1)
    nrm, theta, q, L, G, owner, _ = _program_args(net, data, 0.3)
    assert G.k > len(data[1])  # several band columns per sample
    return nrm, theta, q, L, G, owner


def test_factored_w_layer_is_the_band_combination(wide_band):
    """The factored W-layer has the singular values of the W-block of (rho / L) G zeta (the compression is an
    isometry), the a-layer is that block itself, and apply / adjoint are transposes of each other."""
    nrm, theta, q, L, G, owner = wide_band
    rho = nrm(theta)
    cp = spectral_ops.compress(theta, q, L, G, rho, owner)
    assert cp.factor is not None
    rng = np.random.default_rng(0)
    zeta = rng.random(G.n + G.k)
    u = (rho / L) * (G @ zeta)
    m, d = theta[0].shape
    Wblk, ablk = cp.blocks(cp.apply(zeta))
    assert np.linalg.svd(Wblk, compute_uv=False)[:m] == pytest.approx(
        np.linalg.svd(u[:m * d].reshape(m, d), compute_uv=False)[:m], rel=1e-10, abs=1e-12)
    assert ablk.reshape(-1) == pytest.approx(u[m * d:], rel=1e-10, abs=1e-12)
    v = rng.standard_normal(cp.apply(zeta).size)
    assert cp.apply(zeta) @ v == pytest.approx(zeta @ cp.adjoint(v), rel=1e-10)


def test_band_layout_check_rejects_other_columns(wide_band):
    """Negative controls: a band column spread over two neurons, or not proportional to its owner's input, is
    refused (None), and compress then falls back to the generic layer with the same nuclear norm."""
    nrm, theta, q, L, G, owner = wide_band
    X, m, B = G.rank_one_factor()
    Qr = np.linalg.svd(X, full_matrices=False)[2].T  # X has full row rank here: an orthonormal row basis
    assert spectral_factor.from_band(X, B, Qr, G.cols, owner, 1.0) is not None
    d = X.shape[1]
    cols = G.cols.tolil()
    c0 = 0
    j0 = cols[:, c0].nonzero()[0][0] // d
    other = (j0 + 1) % m
    cols[other * d, c0] = 1.0  # spread over two neurons
    assert spectral_factor.from_band(X, B, Qr, cols.tocsc(), owner, 1.0) is None
    cols = G.cols.tolil()
    rows = cols[:, c0].nonzero()[0]
    cols[rows[0], c0] = cols[rows[0], c0] * 1.5  # same neuron, not beta x_owner
    bad = cols.tocsc()
    assert spectral_factor.from_band(X, B, Qr, bad, owner, 1.0) is None
    from kktcheck.kkt.combination import Combination
    G_bad = Combination(G.J0, bad, G.width, G.rank_one)
    rho = nrm(theta)
    cp = spectral_ops.compress(theta, q, L, G_bad, rho, owner)
    assert cp.factor is None
    zeta = np.random.default_rng(1).random(G.n + G.k)
    u = (rho / L) * (G_bad @ zeta)
    ref = sum(np.linalg.svd(b.reshape(1, -1) if b.ndim == 1 else b, compute_uv=False).sum()
              for b in (u[:m * d].reshape(m, d), u[m * d:]))
    assert spectral_ops.dual_value(cp, zeta) == pytest.approx(ref, rel=1e-10)


def test_slope_parametrization_maps_the_box_onto_the_band_cone():
    """Every box point lands in Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner}, x_of inverts the map where
    lambda > 0, and the chain-rule gradient matches finite differences of a linear function of zeta."""
    rng = np.random.default_rng(2)
    n, k = 5, 9
    owner, width = rng.integers(0, n, k), rng.random(k)
    par = SlopeParam(n, owner, width, rng.random(n) / n)
    lo, hi = np.array(par.bounds(), dtype=float).T
    x = np.concatenate([rng.random(n), lo[n:] + rng.random(k) * (hi[n:] - lo[n:])])
    z = par.zeta(x)
    assert np.all(z[n:] >= 0) and np.all(z[n:] <= width * z[:n][owner] * (1 + 1e-12))
    assert par.x_of(z) == pytest.approx(x, rel=1e-12)
    g = rng.standard_normal(n + k)
    h = 1e-6
    fd = np.array([(g @ par.zeta(x + h * e) - g @ par.zeta(x - h * e)) / (2 * h) for e in np.eye(n + k)])
    assert par.grad(x, g) == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (1, 6), (5, 5)])
def test_smoothed_block_equals_the_svd_formula(shape):
    """N_s = sum (sqrt(sigma^2 + s^2) - s) and gradient U diag(sigma / r) V^T from the Gram eigenpairs equal the
    SVD formulas, wide, tall, a vector and a rank-deficient square block (rank 2)."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal(shape)
    if shape == (5, 5):
        B = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 5))
    s = 1e-3
    Ub, sv, Vt = np.linalg.svd(B, full_matrices=False)
    r = np.sqrt(sv * sv + s * s)
    val, W = spectral_ops.smoothed_block(B, s)
    assert val == pytest.approx(float((r - s).sum()), rel=1e-10)
    assert W == pytest.approx((Ub * (sv / r)) @ Vt, abs=1e-8)


@pytest.mark.parametrize("n, d, m, seed, radius", [(30, 5, 12, 5, 0.2), (16, 6, 10, 6, 0.1)])
def test_many_band_columns_agree_with_generic_sdp(n, d, m, seed, radius):
    """Bands with several columns per sample, interior slopes at the optimum: the first-order measure is
    certified optimal, equals the generic SDP to 1e-6, and the band moves it (against the exact set)."""
    net, data = _sign_labelled_net(n, d, m, seed)
    kw = dict(norm="spectral", pair=False, clarke_radius=radius)
    fo = kc.residual(net, data, method="first-order", **kw)
    ref = kc.residual(net, data, method="generic", **kw)
    exact = kc.residual(net, data, method="generic", **dict(kw, clarke_radius=0.0))
    assert fo.method == "first-order" and ref.status == "optimal" and fo.status == "optimal", fo.message
    assert fo.measure == pytest.approx(ref.measure, abs=AGREE)
    assert fo.measure_lower - 1e-9 <= ref.measure <= fo.measure + 1e-9
    assert ref.measure < exact.measure - 1e-3
