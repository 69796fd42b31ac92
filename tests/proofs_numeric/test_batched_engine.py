"""The batched engine's parts (flow.batched*): the closed-form field with a run axis equals autograd run by run,
the row transforms are the package's per-run maps, and the step controllers keep the memory they document."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from proofs_numeric.flow.batched import SaveParams, run_batched
from proofs_numeric.flow.batched_directions import (GradientFeed, RowChain, RowContext, RowDualize, RowPartition,
                                                    RowState, norm_index)
from proofs_numeric.flow.batched_field import BatchedField
from proofs_numeric.flow.batched_steps import BoldDriverStep, FixedNorms, ScheduleStep, SHRINK
from proofs_numeric.losses import log_loss
from proofs_numeric.models import DiagonalNet, Linear, MatrixLinear, ReLUNet, TwoLayerReLU
from proofs_numeric.optim import power
from proofs_numeric.optim.transforms import Momentum
from proofs_numeric.smooth_models import TwoLayerSquaredReLU

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


def _stack(S=3, n=7, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(S, n, d, dtype=F64, generator=g)
    y = torch.where(torch.rand(S, n, generator=g) < 0.5, -1.0, 1.0).to(F64)
    return X, y, g


MODELS = {"linear": lambda d: Linear(d), "relu": lambda d: TwoLayerReLU(d, 5),
          "relu-frozen": lambda d: TwoLayerReLU(d, 5, train_output=False),
          "squared": lambda d: TwoLayerSquaredReLU(d, 5), "relunet-3": lambda d: ReLUNet([d, 5, 3, 1]),
          "relunet-4": lambda d: ReLUNet([d, 4, 6, 3, 1]), "diagonal-3": lambda d: DiagonalNet(d, 3),
          "diagonal-1": lambda d: DiagonalNet(d, 1)}


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("scale", [0.3, 30.0])
def test_batched_field_is_autograd_run_by_run(name, loss, scale):
    """log L, q and G = grad log L of each row equal autograd of the log-space loss on that run alone."""
    X, y, g = _stack()
    model = MODELS[name](X.shape[2])
    field = BatchedField(model, X, y, loss)
    theta = scale * torch.randn(X.shape[0], field.P, dtype=F64, generator=g)
    ev = field(theta)
    for s in range(X.shape[0]):
        ps = [b[s].clone().requires_grad_(True) for b in field.blocks(theta)]
        lL = log_loss(model.apply_params(ps, X[s]), y[s], loss)
        G = torch.cat([t.reshape(-1) for t in torch.autograd.grad(lL, ps)])
        assert math.isclose(float(ev.log_L[s]), float(lL.detach()), rel_tol=1e-12, abs_tol=1e-12)
        torch.testing.assert_close(ev.G[s], G, rtol=1e-11, atol=1e-12 * float(G.abs().max()))
        torch.testing.assert_close(ev.q[s], y[s] * model.apply_params([p.detach() for p in ps], X[s]),
                                   rtol=1e-12, atol=1e-12)


def test_batched_field_refuses_what_it_has_no_closed_form_for():
    X, y, _ = _stack()
    with pytest.raises(TypeError, match="MatrixLinear"):
        BatchedField(MatrixLinear(2, 2), X, y)
    with pytest.raises(TypeError, match="one output"):
        BatchedField(ReLUNet([4, 3, 2]), X, y)
    with pytest.raises(TypeError, match="one output"):
        BatchedField(Linear(4, out=2), X, y)
    with pytest.raises(ValueError, match="loss"):
        BatchedField(Linear(4), X, y, "ce")
    with pytest.raises(ValueError, match="same S and n"):
        BatchedField(Linear(4), X, y[:2])
    with pytest.raises(ValueError, match="features"):
        BatchedField(Linear(5), X, y)


def test_row_dualize_with_a_different_norm_per_run_is_kc_dual_and_dualize():
    """One batch holding l1, l2, linf and a zero row: every row is kc.norm(name).dual_and_dualize of that row."""
    g = torch.randn(5, 9, dtype=F64, generator=torch.Generator().manual_seed(3))
    g[1, 2] = 0.0
    g[4] = 0.0
    names = ["l2", "linf", "l1", "l2", "l1"]
    ctx = RowContext(1, g, torch.tensor([norm_index(n) for n in names]), torch.zeros(5, dtype=F64))
    u = RowDualize().update(g, ctx)
    for s, name in enumerate(names[:4]):
        dual, ref = kc.norm(name).dual_and_dualize([g[s]])
        torch.testing.assert_close(u[s], ref[0], rtol=0, atol=1e-15)
        assert math.isclose(float(ctx.gdual[s]), dual, rel_tol=1e-13)
    assert not u[4].any() and float(ctx.gdual[4]) == 0.0
    fixed = RowDualize("linf").update(g, ctx)                  # one norm for all rows, whatever ctx says
    assert torch.equal(fixed, torch.sign(g)) and torch.allclose(ctx.gdual, g.abs().sum(1))
    with pytest.raises(ValueError, match="spectral"):
        RowDualize("spectral")


def test_partition_gives_each_run_its_own_transform_and_memory():
    """Runs 0 and 2 (not consecutive) share momentum beta = 0.5, run 1 gets beta = 0.9: after three steps each
    row is the per-run exponential average with its own beta."""
    gs = [torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    part = RowPartition(["a", "b", "a"], {"a": RowState(Momentum(0.5)), "b": RowState(Momentum(0.9))})
    for t, g in enumerate(gs, 1):
        out = part.update(g, RowContext(t, g, torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=F64)))
    for s, beta in enumerate((0.5, 0.9, 0.5)):
        m = torch.zeros(4, dtype=F64)
        for g in gs:
            m = beta * m + (1 - beta) * g[s]
        torch.testing.assert_close(out[s], m, rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match="no transform for label"):
        RowPartition(["a", "c"], {"a": RowState(Momentum(0.5))})


def test_gradient_feed_is_the_optimizer_step_scaling():
    G = torch.ones(2, 3, dtype=F64)
    ctx = RowContext(1, G, torch.zeros(2, dtype=torch.long), torch.tensor([math.log(8.0), -800.0], dtype=F64))
    mean = GradientFeed("mean_loss", 4).update(G, ctx)
    assert torch.allclose(mean[0], torch.full((3,), 2.0, dtype=F64)) and not mean[1].any()   # L / n; underflow
    assert torch.equal(GradientFeed("log_loss").update(G, ctx), G)
    with pytest.raises(ValueError, match="gradient must be one of"):
        GradientFeed("sum")


def test_schedule_step_tabulates_every_run_schedule_across_chunks():
    sched = [power(0.5, -0.8), power(1.0, -1.5)]
    ctrl = ScheduleStep(sched, FixedNorms(torch.zeros(2, dtype=torch.long)))
    th = torch.zeros(2, 1, dtype=F64)
    for t in (1, 2, ScheduleStep.CHUNK, ScheduleStep.CHUNK + 1, 3 * ScheduleStep.CHUNK + 7, 5):
        eta = ctrl.size(RowContext(t, th, ctrl.norms.idx, torch.zeros(2, dtype=F64)))
        assert eta.tolist() == [s(t) for s in sched]


class _Eval:
    def __init__(self, lL):
        self.log_L = torch.tensor(lL, dtype=F64)
        self.q = torch.ones(len(lL), 1, dtype=F64)


def test_bold_driver_shrinks_on_a_stall_and_freezes_a_stopped_run():
    """Run 0's log L stalls (no decrease over two steps): kappa halves; run 1 decreases: kappa stays 1; run 2
    goes below stop_log_loss at t = 2 and then takes steps of size 0."""
    ctrl = BoldDriverStep(torch.tensor([0.1, 0.1, 0.1], dtype=F64), FixedNorms(torch.ones(3, dtype=torch.long)),
                          stop_log_loss=-50.0)
    for t, lL in enumerate([[1.0, 1.0, -10.0], [0.5, 0.0, -20.0], [1.0, -1.0, -60.0]]):
        ctrl.observe(t, _Eval(lL))
    assert ctrl.kappa.tolist() == [SHRINK, 1.0, 1.0] and ctrl.stop.tolist() == [-1, -1, 2]
    g = torch.ones(3, 4, dtype=F64)
    ctx = RowContext(3, g, ctrl.norms.idx, torch.zeros(3, dtype=F64), torch.ones(3, 3, dtype=F64))
    RowDualize().update(g, ctx)
    eta = ctrl.size(ctx)
    assert eta[2] == 0.0 and eta[1] > 0 and math.isclose(float(eta[0]), SHRINK * float(eta[1]))


def test_run_batched_saves_the_state_after_t_updates():
    """Normalized GD with a constant step on a separable linear problem: the saved theta after t updates is
    t steps of theta <- theta - eta G / ||G||_2 taken by hand from the per-run field; saved tensors are ordinary."""
    X, _, g = _stack(S=2, n=6, d=3)
    w_star = torch.randn(2, 3, dtype=F64, generator=g)
    y = torch.sign(torch.einsum("snd,sd->sn", X, w_star))
    field = BatchedField(Linear(3), X, y)
    ctrl = ScheduleStep([power(0.1, 0.0)] * 2, FixedNorms(torch.ones(2, dtype=torch.long)))
    save = SaveParams([0, 3])
    run_batched(field, torch.zeros(2, 3, dtype=F64), direction=RowDualize(), controller=ctrl, save=save, steps=3)
    w = torch.zeros(2, 3, dtype=F64)
    for _ in range(3):
        G = field(w).G
        w = w - 0.1 * G / G.norm(dim=1, keepdim=True)
    assert not save.params[0].any() and not save.params[3].is_inference()
    torch.testing.assert_close(save.params[3], w, rtol=1e-14, atol=0)
    assert np.all(field(save.params[3]).log_L.numpy() < field(save.params[0]).log_L.numpy())


def test_run_batched_refuses_a_bad_step_count_or_theta_shape():
    X, y, _ = _stack(S=2)
    field = BatchedField(Linear(4), X, y)
    kw = dict(direction=RowDualize(), controller=ScheduleStep([power(0.1, 0.0)] * 2,
                                                              FixedNorms(torch.ones(2, dtype=torch.long))),
              save=SaveParams([]))
    with pytest.raises(ValueError, match="steps must be an integer"):
        run_batched(field, torch.zeros(2, 4, dtype=F64), steps=-1, **kw)
    with pytest.raises(ValueError, match=r"theta must be \(S, P\) = \(2, 4\)"):
        run_batched(field, torch.zeros(3, 4, dtype=F64), steps=1, **kw)
