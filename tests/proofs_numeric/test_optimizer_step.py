"""The engine runs discrete optimizers (flow.OptimizerStep): same iterates as a plain torch-optimizer loop,
the documented gradient scalings, divergence reported as a status, and SaveAt-style step lists."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from proofs_numeric import optim as O
from proofs_numeric.flow import OptimizerStep, integrate
from proofs_numeric.models import TwoLayerReLU
from proofs_numeric.smooth_models import TwoLayerSquaredReLU


def _data(n=16, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X, torch.sign(X @ torch.randn(d, generator=g, dtype=torch.float64))


class AutogradOnly:
    """A built-in model without its closed form (``forward_vjp``): apply_params and degree only."""

    def __init__(self, m):
        self.apply_params, self.degree = m.apply_params, m.degree


def _plain_loop(model, p0, data, make_opt, steps, loss="logistic"):
    """The oracle: autograd of log(mean loss), the optimizer fed grad(mean loss) = L_mean grad log L_mean."""
    X, y = data
    ps = [p.detach().clone().requires_grad_(True) for p in p0]
    opt = make_opt(ps)
    for _ in range(steps):
        lL = kc.log_loss(model.apply_params(ps, X), y, loss) - math.log(X.shape[0])
        opt.zero_grad(set_to_none=False)
        lL.backward()
        with torch.no_grad():
            for p in ps:
                p.grad.mul_(math.exp(float(lL)))
        opt.step()
    return [p.detach() for p in ps]


@pytest.mark.parametrize("make_opt", [lambda p: O.Adam(p, lr=1e-2, eps=1e-8),
                                      lambda p: O.Signum(p, lr=1e-2, beta=0.9),
                                      lambda p: O.SteepestDescent(p, lr=0.5, norm="l2")],
                         ids=["adam", "signum", "gd"])
def test_engine_matches_a_plain_optimizer_loop(make_opt):
    """Autograd model (squared ReLU seen only through apply_params, so the field takes autograd rather than its
    closed form): the engine's iterates equal the plain loop's bit for bit."""
    data, model = _data(), TwoLayerSquaredReLU(4, 6)
    p0 = model.init(0.5, torch.Generator().manual_seed(1))
    tr = integrate(AutogradOnly(model), p0, data, loss="logistic", step=OptimizerStep(make_opt), max_steps=40, margin_norms=())
    ref = _plain_loop(model, p0, data, make_opt, 40)
    assert tr.status == "max_steps" and int(tr.steps[-1]) == 40
    assert all(torch.equal(a, b) for a, b in zip(tr.params, ref))


def test_closed_form_field_follows_the_loop_to_rounding():
    """TwoLayerReLU's closed-form gradient drives Adam along the autograd loop's path (to 1e-12 relative)."""
    data, model = _data(), TwoLayerReLU(4, 6)
    p0 = model.init(0.5, torch.Generator().manual_seed(2))
    make = lambda p: O.Adam(p, lr=1e-2, eps=1e-8)  # noqa: E731
    tr = integrate(model, p0, data, loss="logistic", step=OptimizerStep(make), max_steps=30, margin_norms=())
    ref = _plain_loop(model, p0, data, make, 30)
    scale = max(float(p.abs().max()) for p in ref)
    assert max(float((a - b).abs().max()) for a, b in zip(tr.params, ref)) <= 1e-12 * scale


def test_log_loss_gradient_keeps_moving_where_the_mean_loss_gradient_underflows():
    """At L / n ~ exp(-1000) the mean-loss gradient is 0 in float64 (nothing moves); grad log L still gives the
    normalized direction, so the same normalized optimizer keeps moving."""
    data, model = _data(), TwoLayerReLU(4, 6)
    p0 = model.init(0.5, torch.Generator().manual_seed(3))
    fitted = integrate(model, p0, data, target_log_loss=-1000.0, max_seconds=60, margin_norms=())
    assert fitted.status == "success"
    make = lambda p: O.NormalizedSteepestDescent(p, lr=0.1, norm="l2")  # noqa: E731
    runs = {g: integrate(model, fitted.params, data, step=OptimizerStep(make, gradient=g), max_steps=5,
                         snapshot_every=1, margin_norms=()) for g in ("mean_loss", "log_loss")}
    assert all(torch.equal(a, b) for a, b in zip(runs["mean_loss"].params, fitted.params))
    snaps = [ps for _, ps in runs["log_loss"].snapshots]
    lengths = [math.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(s0, s1))) for s0, s1 in zip(snaps, snaps[1:])]
    assert len(lengths) == 5 and lengths == pytest.approx([0.1] * 5, rel=1e-9)   # ||Delta theta||_2 = lr each step
    assert runs["log_loss"].log_loss[-1] < runs["mean_loss"].log_loss[-1]


def test_a_non_finite_step_is_reported_as_diverged():
    data, model = _data(), TwoLayerSquaredReLU(4, 6)
    p0 = model.init(0.5, torch.Generator().manual_seed(4))
    tr = integrate(model, p0, data, loss="logistic", step=OptimizerStep(lambda p: torch.optim.SGD(p, lr=1e300)),
                   max_steps=20, margin_norms=())
    assert tr.status == "diverged" and "non-finite" in tr.message
    assert all(bool(torch.isfinite(p).all()) for p in tr.params)   # the last finite state is returned


def test_save_and_snapshot_at_listed_steps():
    data, model = _data(), TwoLayerSquaredReLU(4, 6)
    p0 = model.init(0.5, torch.Generator().manual_seed(5))
    step = OptimizerStep(lambda p: O.Adam(p, lr=1e-2))
    tr = integrate(model, p0, data, loss="logistic", step=step, max_steps=50, save_every=[0, 7, 30],
                   snapshot_every={7, 45}, margin_norms=())
    assert tr.steps.tolist() == [0, 7, 30, 45, 50]            # saves, the snapshot's own record, the last state
    assert [int(tr.steps[i]) for i, _ in tr.snapshots] == [7, 45]
    again = integrate(model, p0, data, loss="logistic", step=step, max_steps=50, save_every=[0, 7, 30],
                      snapshot_every={7, 45}, margin_norms=())
    assert np.array_equal(again.log_loss, tr.log_loss)       # reset(): a reused rule starts a fresh optimizer


@pytest.mark.parametrize("kw, match", [({"make_optimizer": 3}, "make_optimizer must be callable"),
                                       ({"make_optimizer": lambda p: None, "gradient": "grad"}, "gradient must be")])
def test_bad_optimizer_step_arguments(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        OptimizerStep(**kw)


@pytest.mark.parametrize("value", [0, -3, 2.5, "every", [1, -1]])
def test_bad_save_selection(value):
    data, model = _data(), TwoLayerSquaredReLU(4, 6)
    with pytest.raises(ValueError, match="save_every must be a positive integer|step indices must be >= 0"):
        integrate(model, model.init(0.5, torch.Generator().manual_seed(0)), data, save_every=value, max_steps=1)
