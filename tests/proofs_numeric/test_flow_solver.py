"""Direct tests of flow.integrate: statuses, errors, late phase, determinism, exact steepest direction."""
import math

import pytest
import torch

import kktcheck as kc
from proofs_numeric import models
from proofs_numeric.datasets import linearly_separable, non_separable
from proofs_numeric.flow import ConstantStep, FlowError, integrate
from proofs_numeric.losses import grad_log_loss


def _net(seed=0):
    X, y = linearly_separable(10, 5, seed=seed)
    m = models.TwoLayerReLU(5, 6)
    return m, m.init(0.5, torch.Generator().manual_seed(seed)), (X, y)


def test_not_separated_status_and_throw():
    m = models.Linear(4)
    th = [torch.ones(1, 4, dtype=torch.float64)]
    data = non_separable(12, 4, seed=0)
    tr = integrate(m, th, data, norm="l2", max_steps=100)
    # the budget ended the run: it says so, and that the data were not fitted, without blaming the data
    assert tr.status == "max_steps" and "step budget" in tr.message and "not fitted" in tr.message
    assert tr.t0_index is None


def test_stationary_start_is_reported_as_such_and_throws():
    m = models.TwoLayerReLU(4, 3)
    dead = [torch.zeros(3, 4, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64)]
    data = non_separable(12, 4, seed=0)
    tr = integrate(m, dead, data, norm="l2", max_steps=100)
    assert tr.status == "stalled" and "stationary point" in tr.message and tr.info["steps"] == 0
    with pytest.raises(FlowError, match="stalled"):
        integrate(m, dead, data, norm="l2", max_steps=100, throw=True)


def test_zero_start_of_a_linear_model_moves():
    """theta = 0 is not stationary for a linear model (G != 0): the run must move, not report a stall."""
    X, y = linearly_separable(10, 4, seed=0)
    tr = integrate(models.Linear(4), [torch.zeros(1, 4, dtype=torch.float64)], (X, y), norm="l2",
                   target_log_loss=-20.0)
    assert tr.status == "success" and tr.info["steps"] > 0


@pytest.mark.parametrize("kw", [{"max_seconds": float("nan")}, {"max_seconds": -1.0},
                                {"target_log_loss": float("nan")}, {"snapshot_every": 0}, {"max_steps": -1}])
def test_bad_budgets_name_the_argument(kw):
    m, th, data = _net(0)
    with pytest.raises(ValueError, match=next(iter(kw))):
        integrate(m, th, data, **kw)


def test_bad_inputs():
    m, th, data = _net()
    bad = [t.clone() for t in th]
    bad[0][0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        integrate(m, bad, data)
    with pytest.raises(ValueError, match="unknown norm"):
        integrate(m, th, data, norm="l7")
    with pytest.raises(ValueError, match="smooth norm"):
        integrate(m, th, data, norm="linf", solver="rk4")
    with pytest.raises(ValueError, match="unknown solver"):
        integrate(m, th, data, solver="midpoint")


@pytest.mark.parametrize("norm", ["l2", "l1", "linf", "spectral"])
def test_reaches_late_phase(norm):
    m, th, data = _net()
    target = -1e5 * math.log(10.0)
    tr = integrate(m, th, data, norm=norm, step="relative:0.1", target_log_loss=target, max_steps=3000)
    assert tr.status == "success", tr.message
    assert tr.log10_loss[-1] <= -1e5
    for arr in (tr.log_loss, tr.soft_margin, tr.margin, tr.theta_norm, tr.log_t):
        assert all(math.isfinite(v) for v in arr[1:])
    assert tr.train_accuracy[-1] == 1.0 and tr.t0_index is not None


def test_same_seed_same_numbers():
    a = integrate(*_net(1), norm="linf", max_steps=30)
    b = integrate(*_net(1), norm="linf", max_steps=30)
    assert (a.log_loss == b.log_loss).all() and (a.soft_margin == b.soft_margin).all()


@pytest.mark.parametrize("norm", ["l2", "l1", "linf", "spectral"])
def test_first_step_is_norm_steepest(norm):
    m, th, data = _net()
    h = 1e-2
    tr = integrate(m, th, data, norm=norm, step=ConstantStep(h), max_steps=1, snapshot_every=1)
    _, G = grad_log_loss(m, th, *data)
    want = [t + h * d for t, d in zip(th, kc.norm(norm).steepest(G))]
    assert all(torch.equal(a, b) for a, b in zip(tr.params, want))


def test_time_change_same_curve():
    """Flow time t and loss time s trace the same curve: log t recorded by the loss-time run matches."""
    m, th, data = _net()
    fine = integrate(m, th, data, norm="l2", solver="rk4", time="loss", step=ConstantStep(0.02), max_steps=25)
    t_end = math.exp(fine.log_t[-1])  # trapezoid rule: O(h^2) error
    n = 200
    flow = integrate(m, th, data, norm="l2", solver="rk4", time="flow", step=ConstantStep(t_end / n), max_steps=n)
    diff = max(float((a - b).abs().max()) for a, b in zip(fine.params, flow.params))
    assert diff < 1e-4 * max(float(p.abs().max()) for p in flow.params)
    assert abs(flow.s[-1] - fine.s[-1]) < 1e-4


def test_user_module():
    X, y = linearly_separable(10, 5, seed=0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8, bias=False), torch.nn.ReLU(), torch.nn.Linear(8, 1, bias=False))
    tr = integrate(net.double(), None, (X, y), norm="l2", target_log_loss=-10.0, max_steps=2000)
    assert tr.degree == 2 and tr.status == "success", tr.message


def test_grad_log_loss_no_underflow():
    m = models.Linear(2)
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.ones(2, dtype=torch.float64)
    lL, G = grad_log_loss(m, [torch.tensor([[1e6, 2e6]], dtype=torch.float64)], X, y)
    assert lL == pytest.approx(-1e6)
    assert torch.allclose(G[0], torch.tensor([[-1.0, 0.0]], dtype=torch.float64))


def test_spurious_stationary_point_reports_not_separated():
    """A small ReLU net that gets stuck (loss cannot decrease, 83% accuracy): the safeguard detects the
    stall quickly and the run reports not_separated with the reason, instead of burning max_steps."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 4, dtype=torch.float64, generator=g)
    _ = models.TwoLayerReLU(4, 8, out=3).init(0.5, g)  # keep the generator stream of the pinned case
    y = torch.where(X[:, 0] > 0, 1.0, -1.0)
    m = models.TwoLayerReLU(4, 8)
    tr = integrate(m, m.init(0.5, g), (X, y), loss="logistic", target_log_loss=-50, max_steps=3000)
    assert tr.status == "not_separated" and "no longer decreases" in tr.message
    assert tr.info["steps"] < 3000
