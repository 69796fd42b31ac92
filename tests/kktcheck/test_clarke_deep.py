"""Deep ReLU Clarke band (kktcheck/clarke_deep.py): J0 and the columns against autograd with the slopes set by hand,
the two-layer band recovered on a two-layer net written as ReLUNet / Sequential, continuity of kc.residual's measure at
a kink of a three-layer KKT reference (band -> 0, exact set r = 0 bounded away), planted bugs caught."""
import numpy as np
import pytest
import torch

import kktcheck as kc
import importlib
from kktcheck.clarke import TwoLayer, two_layer_clarke_band
from kktcheck.clarke_deep import deep_band_pairs, deep_clarke_band, detect_deep_relu
from kktcheck.jacobian import margins_and_jacobian
from proofs_numeric.models import ReLUNet



def _net(widths, n=9, seed=0):
    net = ReLUNet(widths)
    theta = net.init(1.0, torch.Generator().manual_seed(seed))
    X = torch.randn(n, widths[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    y = torch.sign(net.apply_params(theta, X)).detach()
    return net, theta, X, y


def _grad_with_slopes(theta, X, y, slopes, i):
    """grad q_i by autograd with the backward slope of every hidden unit set to ``slopes`` (forward values relu)."""
    ps = [t.clone().requires_grad_(True) for t in theta]
    h = X[i:i + 1]
    for l, W in enumerate(ps):
        h = h @ W.T
        if l < len(ps) - 1:
            s = torch.as_tensor(slopes[l][i:i + 1])
            h = h * s + (torch.relu(h) - h * s).detach()
    g = torch.autograd.grad(y[i] * h.sum(), ps)
    return np.concatenate([t.reshape(-1).numpy() for t in g])


def column_error(theta, X, y, band, J0, cols):
    """max |J0_i - G_i(s^lo)| and |g_c - (G_i(s_c = 1) - G_i(s_c = 0))| over rows and band columns (autograd), the
    column of a pair in hidden layer l taken with the slopes of the layers above l at hi and the others at lo."""
    err = max(np.abs(_grad_with_slopes(theta, X, y, band.slopes, i) - J0[i]).max() for i in range(len(y)))
    c = 0
    for l, (i_, k_, _, _) in enumerate(band.pairs):
        stair = [band.slopes[m] if m <= l else band.upper[m] for m in range(len(band.slopes))]
        for i, k in zip(i_, k_):
            up, down = [s.copy() for s in stair], [s.copy() for s in stair]
            up[l][i, k], down[l][i, k] = 1.0, 0.0
            want = _grad_with_slopes(theta, X, y, up, i) - _grad_with_slopes(theta, X, y, down, i)
            err = max(err, np.abs(want - cols[:, c].toarray().ravel()).max())
            c += 1
    return err


@pytest.mark.parametrize("widths", [[4, 5, 6, 1], [3, 4, 3, 5, 1]])
def test_columns_match_autograd_with_flipped_slopes(widths):
    net, theta, X, y = _net(widths)
    deep = detect_deep_relu(net, theta, X)
    band = deep_band_pairs(deep, X.numpy(), 0.3)           # a wide band: many pairs, several layers per sample
    assert band.k >= 10 and band.multi_layer_samples >= 1
    J0, cols, owner, width = deep_clarke_band(deep, band, y.numpy())
    assert column_error(theta, X, y, band, J0, cols) <= 1e-12
    assert np.array_equal(owner, np.concatenate([p[0] for p in band.pairs])) and np.all((width >= 0) & (width <= 1))
    exact = deep_band_pairs(deep, X.numpy(), 0.0)   # exact zeros only (dead inputs), lo = 0 = relu'(0): J0 = autodiff
    J0e, _, _, widthe = deep_clarke_band(deep, exact, y.numpy())
    assert np.all(widthe == 1.0)
    np.testing.assert_allclose(J0e, margins_and_jacobian(net, theta, X, y)[1].numpy(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("bug", ["sign", "layer"])
def test_a_planted_bug_in_the_columns_is_caught(bug):
    net, theta, X, y = _net([4, 5, 6, 1])
    band = deep_band_pairs(detect_deep_relu(net, theta, X), X.numpy(), 0.3)
    J0, cols, _, _ = deep_clarke_band(detect_deep_relu(net, theta, X), band, y.numpy())
    if bug == "sign":
        cols = -cols
    else:                           # every column moved to the next pair's (another layer's or sample's) slot
        cols = cols[:, np.roll(np.arange(cols.shape[1]), 1)]
    assert column_error(theta, X, y, band, J0, cols) > 1e-2


def test_two_layer_net_as_relunet_or_sequential_gives_the_two_layer_band():
    net, theta, X, y = _net([5, 7, 1], n=12)
    seq = torch.nn.Sequential(torch.nn.Linear(5, 7, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(7, 1, bias=False)).double()
    J = margins_and_jacobian(net, theta, X, y)[1].numpy()
    tl = TwoLayer(theta[0].numpy(), theta[1].numpy().reshape(-1), True)
    J0t, colst, ownert, widtht = two_layer_clarke_band(tl, X.numpy(), y.numpy(), J, 0.2)
    assert colst.shape[1] >= 5
    for model in (net, kc.model.ModuleModel(seq)):
        deep = detect_deep_relu(model, theta, X)
        J0, cols, owner, width = deep_clarke_band(deep, deep_band_pairs(deep, X.numpy(), 0.2), y.numpy())
        np.testing.assert_allclose(J0, J0t, rtol=0, atol=1e-13)
        np.testing.assert_allclose(cols.toarray(), colst.toarray(), rtol=0, atol=1e-13)
        assert np.array_equal(owner, ownert) and np.allclose(width, widtht, rtol=0, atol=1e-15)


def _three_layer_reference(eps):
    """A KKT point of (MM) in l2 for f(x) = a relu(v^T relu(W x)) on x_A = (1, -1), x_B = (0.5, 1.5), y = (1, 1):
    w_j = rho w^_j (w^_1 = (1, -1) / sqrt2, w^_2 = (1, 1) / sqrt2), v = (rho, rho), a = 2^(1/6), rho = (sqrt2 a)^(-1/2),
    multipliers lambda_A = 1 / (sqrt2 a), lambda_B = 2 lambda_A; unit 2 of layer 1 sits on its kink at x_A and the KKT
    needs its slope 1/2 there. ``eps`` rotates w_2 by that angle (eps > 0: the inactive side, autodiff slope 0)."""
    a = 2 ** (1 / 6)
    rho, ang = (np.sqrt(2) * a) ** -0.5, np.pi / 4 + eps
    W = torch.tensor([[rho / np.sqrt(2), -rho / np.sqrt(2)], [rho * np.cos(ang), rho * np.sin(ang)]])
    return [W, torch.tensor([[rho, rho]]), torch.tensor([[a]])]


REF_DATA = (torch.tensor([[1.0, -1.0], [0.5, 1.5]]), torch.ones(2, dtype=torch.float64))


def test_measure_continuous_at_a_three_layer_kink():
    net = ReLUNet([2, 2, 1, 1])
    eps = np.array([1e-5, 1e-6, 1e-7])
    band = [kc.residual(_three_layer_reference(e), REF_DATA, model=net) for e in eps]
    exact = [kc.residual(_three_layer_reference(e), REF_DATA, model=net, clarke_radius=0.0).measure for e in eps]
    assert all(r.clarke == "deep-relu-band" and r.status == "optimal" for r in band)
    assert all(r.measure <= 0.5 * e for r, e in zip(band, eps)), [r.measure for r in band]   # 2.5e-6, -7, -8
    assert min(exact) > 1e-2, exact                                                            # 0.0189


def _chain_reference(eps):
    """The two-layer Clarke reference lifted to three layers through a diagonal second layer: f(x) = sum_j c_j^3
    relu(w^_j . x), each unit of layer 1 the only input of one unit of layer 2 (c = (2^(-1/6), 2^(1/6)), x_A = (1, -1),
    x_B = (0, 1), y = (1, 1); KKT in l2 with lambda_A = 1 / (sqrt2 c_1), lambda_B = sqrt2 / c_2). Unit 2 of layer 1 is
    on its kink at x_A, so unit 2 of layer 2 is too; the KKT needs the product of their slopes 2^(-1/3)."""
    c1, c2, ang = 2 ** (-1 / 6), 2 ** (1 / 6), np.pi / 4 + eps
    W = torch.tensor([[c1 / np.sqrt(2), -c1 / np.sqrt(2)], [c2 * np.cos(ang), c2 * np.sin(ang)]])
    return [W, torch.diag(torch.tensor([c1, c2])), torch.tensor([[c1, c2]])]


def test_a_kink_feeding_a_kink_needs_the_upper_slope_above():
    """Columns with the layers above at their upper slope reach the product of the two slopes; with every other
    slope at its lower end (a planted 'wrong layer' choice) the column of the layer-1 unit vanishes and M stays."""
    net, data = ReLUNet([2, 2, 2, 1]), (torch.tensor([[1.0, -1.0], [0.0, 1.0]]), torch.ones(2, dtype=torch.float64))
    for eps in (1e-5, 1e-6, -1e-6):       # eps < 0: the active side, both units in the band with z > 0
        r = kc.residual(_chain_reference(eps), data, model=net)
        assert r.clarke == "deep-relu-band" and r.measure <= 20 * abs(eps), (eps, r.measure)   # 6e-6, 6e-7, 1e-6
    exact = kc.residual(_chain_reference(1e-6), data, model=net, clarke_radius=0.0).measure
    assert exact > 1e-2, exact                                                                   # 0.077


def test_lower_slopes_above_lose_the_chain_kink(monkeypatch):
    band_module = importlib.import_module("kktcheck.clarke_deep")
    real = band_module.deep_band_pairs

    def lower_everywhere(net, X, radius):
        band = real(net, X, radius)
        band.upper = band.slopes
        return band
    monkeypatch.setattr(importlib.import_module("kktcheck.kkt.residual"), "deep_band_pairs", lower_everywhere)
    r = kc.residual(_chain_reference(1e-6), (torch.tensor([[1.0, -1.0], [0.0, 1.0]]), torch.ones(2)),
                    model=ReLUNet([2, 2, 2, 1]))
    assert r.measure > 1e-2, r.measure


def test_sign_flipped_columns_lose_the_continuity(monkeypatch):
    def flipped(net, band, y):
        J0, cols, owner, width = deep_clarke_band(net, band, y)
        return J0, -cols, owner, width
    monkeypatch.setattr(importlib.import_module("kktcheck.kkt.residual"), "deep_clarke_band", flipped)
    r = kc.residual(_three_layer_reference(1e-6), REF_DATA, model=ReLUNet([2, 2, 1, 1]))
    assert r.measure > 1e-2, r.measure


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
def test_every_norm_runs_the_deep_band_and_agrees_with_the_generic_program(norm):
    net, theta, X, y = _net([4, 5, 6, 1], n=12, seed=2)
    fast = kc.residual(theta, (X, y), model=net, norm=norm, clarke_radius=0.05, pair=False)
    full = kc.residual(theta, (X, y), model=net, norm=norm, clarke_radius=0.05, pair=False, method="generic")
    assert fast.clarke == full.clarke == "deep-relu-band" and fast.status == full.status == "optimal"
    assert fast.measure == pytest.approx(full.measure, abs=1e-6)


def test_other_models_keep_the_autodiff_element_and_a_huge_band_is_refused():
    leaky = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.LeakyReLU(0.1),
                                torch.nn.Linear(4, 4, bias=False), torch.nn.LeakyReLU(0.1),
                                torch.nn.Linear(4, 1, bias=False)).double()
    X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.sign(leaky(X)[:, 0]).detach()
    assert kc.residual(leaky, (X, y), pair=False).clarke == "autodiff"
    net, theta, X, y = _net([4, 5, 6, 1], n=12)
    big = kc.residual(theta, (X, y), model=net, clarke_radius=0.5, max_size=12 * 86, pair=False)
    assert big.status == "too_large" and "deep ReLU band" in big.message, big.message
