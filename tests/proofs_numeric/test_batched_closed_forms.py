"""One closed form for one run and for S runs (proofs_numeric.models ``forward_vjp`` with an optional leading run
axis): the batched field's rows equal the per-run field to rounding (the same code; torch runs it as one mm per
run or as one bmm over S runs, whose sums may round differently: at most 4e-15 of the largest entry measured), and ReLUNet / DiagonalNet (new on the
batched path) equal autograd of the same model at several seeds and at exact ReLU kinks, where both select
relu'(0) := 0 (PyTorch's choice in the Clarke interval [0, 1])."""
from __future__ import annotations

import math

import pytest
import torch

from proofs_numeric.flow.batched_field import BatchedField
from proofs_numeric.losses import eval_log_loss, log_loss
from proofs_numeric.models import DiagonalNet, Linear, ReLUNet, TwoLayerReLU
from proofs_numeric.smooth_models import TwoLayerSquaredReLU

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = {"linear": lambda d: Linear(d), "relu": lambda d: TwoLayerReLU(d, 5),
          "relu-frozen": lambda d: TwoLayerReLU(d, 5, train_output=False),
          "squared": lambda d: TwoLayerSquaredReLU(d, 5), "relunet-3": lambda d: ReLUNet([d, 5, 3, 1]),
          "relunet-4": lambda d: ReLUNet([d, 4, 6, 3, 1]), "diagonal-3": lambda d: DiagonalNet(d, 3)}


def _stack(seed, S=3, n=9, d=4):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(S, n, d, dtype=F64, generator=g)
    y = torch.where(torch.rand(S, n, generator=g) < 0.5, -1.0, 1.0).to(F64)
    return X, y, g


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_batched_rows_are_the_per_run_field(name, loss):
    """Row s of BatchedField(theta) is eval_log_loss(model, theta_s, X_s, y_s) to 4 ulps (bmm against mm)."""
    X, y, g = _stack(11)
    model = MODELS[name](X.shape[2])
    field = BatchedField(model, X, y, loss)
    theta = 0.8 * torch.randn(X.shape[0], field.P, dtype=F64, generator=g)
    ev = field(theta)
    for s in range(X.shape[0]):
        lL, G, q = eval_log_loss(model, [b[s] for b in field.blocks(theta)], X[s], y[s], loss)
        G = torch.cat([t.reshape(-1) for t in G])
        assert math.isclose(lL, float(ev.log_L[s]), rel_tol=1e-15, abs_tol=1e-15)
        torch.testing.assert_close(ev.q[s], q, rtol=1e-15, atol=1e-15 * float(q.abs().max()))
        torch.testing.assert_close(ev.G[s], G, rtol=1e-15, atol=1e-15 * float(G.abs().max()))


def _autograd_rows(model, field, theta, X, y, loss):
    """(log L, G) of each run by autograd through apply_params (torch's relu backward: relu'(0) = 0)."""
    rows = []
    for s in range(X.shape[0]):
        ps = [b[s].clone().requires_grad_(True) for b in field.blocks(theta)]
        lL = log_loss(model.apply_params(ps, X[s]), y[s], loss)
        rows.append((float(lL.detach()), torch.cat([t.reshape(-1) for t in torch.autograd.grad(lL, ps)])))
    return rows


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", ["relunet-3", "relunet-4", "diagonal-3"])
def test_deep_and_diagonal_batched_fields_are_autograd(name, seed):
    X, y, g = _stack(seed)
    model = MODELS[name](X.shape[2])
    field = BatchedField(model, X, y, "exp")
    theta = 1.5 * torch.randn(X.shape[0], field.P, dtype=F64, generator=g)
    ev = field(theta)
    for s, (lL, G) in enumerate(_autograd_rows(model, field, theta, X, y, "exp")):
        assert math.isclose(float(ev.log_L[s]), lL, rel_tol=1e-13, abs_tol=1e-13)
        torch.testing.assert_close(ev.G[s], G, rtol=1e-12, atol=1e-13 * float(G.abs().max()))


def test_relunet_batched_field_selects_zero_at_exact_kinks_like_autograd():
    """Integer data and weights put pre-activations exactly at 0 in BOTH hidden layers (checked); the closed form
    must take relu'(0) = 0 there as autograd does (relu'(0) = 1 changes G: the planted-bug control)."""
    X = torch.tensor([[[1., 0., -1.], [0., 1., 1.], [1., 1., 0.], [2., -1., 1.]]] * 2, dtype=F64)
    y = torch.tensor([[1., -1., 1., -1.], [-1., 1., 1., 1.]], dtype=F64)
    model = ReLUNet([3, 3, 2, 1])
    W1 = torch.tensor([[1., 0., 1.], [0., 1., -1.], [1., -1., 0.]], dtype=F64)
    W2 = torch.tensor([[1., -1., 1.], [1., 1., -2.]], dtype=F64)
    W3 = torch.tensor([[1., -1.]], dtype=F64)
    field = BatchedField(model, X, y, "exp")
    theta = field.flat([torch.stack([W, 0.5 * W]) for W in (W1, W2, W3)])
    z1 = X[0] @ W1.T
    assert bool((z1 == 0).any()) and bool(((torch.relu(z1) @ W2.T) == 0).any())
    ev = field(theta)
    for s, (lL, G) in enumerate(_autograd_rows(model, field, theta, X, y, "exp")):
        torch.testing.assert_close(ev.G[s], G, rtol=1e-13, atol=1e-15)
    ones_at_kinks = _autograd_rows(OneAtZero(model), field, theta, X, y, "exp")
    assert any(not torch.allclose(ev.G[s], G, rtol=1e-6) for s, (_, G) in enumerate(ones_at_kinks))


class OneAtZero:
    """The same net with relu'(0) := 1 (autograd through where(z >= 0, z, 0)): the other Clarke selection."""

    def __init__(self, net):
        self.net = net

    def apply_params(self, params, X):
        h = X.reshape(X.shape[0], -1)
        for k, W in enumerate(params):
            h = h @ W.T
            if k < len(params) - 1:
                h = torch.where(h >= 0, h, torch.zeros_like(h))
        return h[:, 0]


@pytest.mark.parametrize("name", ["relunet-4", "diagonal-3"])
def test_run_batched_trains_deep_and_diagonal_nets_like_the_per_run_loop(name):
    """run_batched with the new fields: 30 normalized GD / sign-descent steps theta <- theta - eta dualize(G) per
    run equal a per-run loop on eval_log_loss and kc.norm(p).dualize (to 1e-12 relative)."""
    import kktcheck as kc
    from proofs_numeric.flow.batched import SaveParams, run_batched
    from proofs_numeric.flow.batched_directions import RowDualize, norm_index
    from proofs_numeric.flow.batched_steps import FixedNorms, ScheduleStep
    from proofs_numeric.optim import constant
    X, y, g = _stack(5, S=2)
    model = MODELS[name](X.shape[2])
    field = BatchedField(model, X, y, "exp")
    theta0 = 0.7 * torch.randn(2, field.P, dtype=F64, generator=g)
    norms, steps = ["l2", "linf"], 30
    ctrl = ScheduleStep([constant(0.05)] * 2, FixedNorms(torch.tensor([norm_index(p) for p in norms])))
    save = SaveParams([steps])
    run_batched(field, theta0.clone(), direction=RowDualize(), controller=ctrl, save=save, steps=steps)
    for s, p in enumerate(norms):
        ps = [b[s].clone() for b in field.blocks(theta0)]
        for _ in range(steps):
            ps = [w - 0.05 * u for w, u in zip(ps, kc.norm(p).dualize(eval_log_loss(model, ps, X[s], y[s])[1]))]
        want = torch.cat([w.reshape(-1) for w in ps])
        torch.testing.assert_close(save.params[steps][s], want, rtol=1e-12, atol=1e-12 * float(want.abs().max()))
        assert float(log_loss(model.apply_params(ps, X[s]), y[s])) < float(
            log_loss(model.apply_params([b[s] for b in field.blocks(theta0)], X[s]), y[s]))
