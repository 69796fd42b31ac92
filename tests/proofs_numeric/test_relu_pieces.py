"""ReLUNet's closed-form margins Jacobian and kink cuts (proofs_numeric.relu_pieces) against brute force: autograd
of the net and of its activation-pattern pieces (relu'(0) := 0, PyTorch's selection), the two-layer rule of
TwoLayerReLU.kink_rows, and the lower bound a cut must give at the trial (first-layer steps)."""
from __future__ import annotations

import pytest
import torch

from kktcheck.jacobian import margins_and_jacobian
from proofs_numeric.models import ReLUNet, TwoLayerReLU

F64 = torch.float64


def _case(seed, widths=(5, 6, 5, 1), n=12, step=0.8, layers=None):
    """(net, theta, trial, X, y): trial = theta + step * N(0, 1) on the listed layers (default all)."""
    g = torch.Generator().manual_seed(seed)
    net = ReLUNet(list(widths))
    th = net.init(1.0, g)
    X = torch.randn(n, widths[0], dtype=F64, generator=g)
    y = torch.where(torch.randn(n, generator=g) > 0, 1.0, -1.0).to(F64)
    moved = range(len(th)) if layers is None else layers
    trial = [W + step * torch.randn(W.shape, dtype=F64, generator=g) if k in moved else W.clone()
             for k, W in enumerate(th)]
    return net, th, trial, X, y


@pytest.mark.parametrize("seed", range(3))
def test_margins_jacobian_is_autograd(seed):
    net, th, _, X, y = _case(seed)
    q, J = net.margins_jacobian(th, X, y)
    q_ref, J_ref = margins_and_jacobian(net, th, X, y)
    torch.testing.assert_close(q, q_ref, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(J, J_ref, rtol=1e-13, atol=1e-14)


def _coefficients(th, X, y):
    """g_k = dq_i/dh_k of the net by autograd (brute force for the concavity test), hidden layers 1..D-1."""
    th, h, hs = [W.clone().requires_grad_(True) for W in th], X, []
    for W in th[:-1]:
        h = torch.relu(h @ W.T)
        h.retain_grad()
        hs.append(h)
    (y * (h @ th[-1].T)[:, 0]).sum().backward()
    return [t.grad for t in hs]


def _piece(th, x, masks):
    """The piece's margin function of theta at one point x for frozen masks (one 0/1 vector per hidden layer)."""
    def f(*ps):
        h = x[None, :]
        for W, m in zip(ps[:-1], masks):
            h = m * (h @ W.T)
        return (h @ ps[-1].T)[0, 0]
    return f


@pytest.mark.parametrize("seed", range(4))
def test_deep_kink_rows_are_the_trial_pieces_of_the_locally_concave_crossings(seed):
    """Owners and rows by brute force: unit (k, j) of point i is cut when its autograd coefficient dq_i/dh_kj < 0
    and its pre-activation changes side (z > 0) from theta to the trial; the row is y_i times the value and the
    autograd gradient at theta of the piece with those units on their trial side."""
    net, th, trial, X, y = _case(seed)
    q, J = net.margins_jacobian(th, X, y)
    qa, Ja, owner = net.kink_rows(th, trial, X, y, q, J)
    coefs = _coefficients(th, X, y)
    zs, zt, h, ht = [], [], X, X
    for W, Wt in zip(th[:-1], trial[:-1]):
        zs.append(h @ W.T)
        zt.append(ht @ Wt.T)
        h, ht = torch.relu(zs[-1]), torch.relu(zt[-1])
    flips = [(g < 0) & ((z > 0) != (t > 0)) for g, z, t in zip(coefs, zs, zt)]
    expected = [i for i in range(X.shape[0]) if any(bool(f[i].any()) for f in flips)]
    assert owner.tolist() == expected and expected
    for r, i in enumerate(expected):
        masks = [torch.where(f[i], (t[i] > 0), (z[i] > 0)).to(F64) for f, z, t in zip(flips, zs, zt)]
        ps = [W.clone().requires_grad_(True) for W in th]
        val = y[i] * _piece(th, X[i], masks)(*ps)
        grad = torch.cat([gW.reshape(-1) for gW in torch.autograd.grad(val, ps)])
        assert float(qa[r]) == pytest.approx(float(val.detach()), abs=1e-12)
        torch.testing.assert_close(Ja[r], grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_two_layer_relunet_cuts_are_twolayerrelu_cuts(seed):
    g = torch.Generator().manual_seed(seed)
    two = TwoLayerReLU(5, 6)
    th = two.init(1.0, g)
    X = torch.randn(10, 5, dtype=F64, generator=g)
    y = torch.where(torch.randn(10, generator=g) > 0, 1.0, -1.0).to(F64)
    trial = [th[0] + 0.8 * torch.randn(th[0].shape, dtype=F64, generator=g), th[1] + 0.3 * torch.randn(
        th[1].shape, dtype=F64, generator=g)]
    q, J = two.margins_jacobian(th, X, y)
    want = two.kink_rows(th, trial, X, y, q, J)
    got = ReLUNet([5, 6, 1]).kink_rows(th, trial, X, y, q, J)
    assert got[2].tolist() == want[2].tolist() and want[2].numel() > 0
    torch.testing.assert_close(got[0], want[0], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(got[1], want[1], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_cut_rows_lower_bound_the_margin_at_a_first_layer_trial(seed):
    """Three layers, a step moving only W_1: for every cut point whose layer-2 units keep their side, the row at
    the trial, q'_i + J'_i D, is <= the true q_i(trial) (= when no locally convex unit crossed), while the plain
    linearization q_i + J_i D over-predicts some crossed point (the control: why the cuts are needed)."""
    net, th, trial, X, y = _case(seed, layers=(0,), step=0.6)
    q, J = net.margins_jacobian(th, X, y)
    qa, Ja, owner = net.kink_rows(th, trial, X, y, q, J)
    q_trial, _ = net.margins_jacobian(trial, X, y)
    D = torch.cat([(t - w).reshape(-1) for t, w in zip(trial, th)])
    same_above = (((X @ th[0].T).relu() @ th[1].T > 0) == ((X @ trial[0].T).relu() @ trial[1].T > 0)).all(dim=1)
    checked = 0
    for r, i in enumerate(owner.tolist()):
        if bool(same_above[i]):
            assert float(qa[r] + Ja[r] @ D) <= float(q_trial[i]) + 1e-12
            checked += 1
    assert checked > 0
    lin = q[owner] + J[owner] @ D
    assert bool((lin > q_trial[owner] + 1e-9).any())


def test_margins_jacobian_and_kink_rows_refuse_several_outputs():
    net, th, trial, X, y = _case(0, widths=(5, 4, 2))
    with pytest.raises(ValueError, match="one output"):
        net.margins_jacobian(th, X, y)
    with pytest.raises(ValueError, match="one output"):
        net.kink_rows(th, trial, X, y, y, y[:, None])
