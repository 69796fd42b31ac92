"""The shared optimizer table (optax habit): every optimizer in pn.optim.OPTIMIZERS passes every row.

Rows: the step identity in the declared (implicit) norm (normalized: ||u|| = eta, <g,u> = -eta ||g||_*;
un-normalized: ||u|| = eta ||g||_*, <g,u> = -eta ||g||_*^2), on every step for memoryless methods and on
the first step (norm part on every step) for momentum methods; descent on a quadratic; state_dict round
trip; float64 preserved; determinism; a plain training loop on TwoLayerReLU and on a bias-free
nn.Sequential. Negative control: sign descent checked against the l2 identity fails.
"""
from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Callable

import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
import proofs_numeric as pn
from proofs_numeric.models import TwoLayerReLU

O = pn.optim
F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")
SHAPES = [(4, 3), (1, 4), (5,)]   # a matrix, a 1 x k row matrix, a vector


@dataclass
class Case:
    name: str
    make: Callable                 # make(params, lr) -> optimizer
    identity: str | None = "every"  # "every" step; "first+norm": full identity on step 1, ||u|| = eta later
    #                                 (normalized momentum); "first": step 1 only (Adam); None: no exact identity
    tol: Callable = field(default=lambda gs: 1.0)   # tol_factor from the gradient blocks
    shapes: list = field(default_factory=lambda: SHAPES)   # blocks of the quadratic-descent row


def _kappa2(gs):
    k = 1.0
    for g in gs:
        s = torch.linalg.svdvals(g.reshape(1, -1) if g.dim() < 2 else g)
        k = max(k, float(s[0] / s[-1]) ** 2)
    return k


CASES = [
    Case("SteepestDescent-l2", lambda p, lr: O.SteepestDescent(p, lr, norm="l2")),
    Case("SteepestDescent-l1", lambda p, lr: O.SteepestDescent(p, lr, norm="l1")),
    Case("SteepestDescent-lp3", lambda p, lr: O.SteepestDescent(p, lr, norm="lp:3")),
    Case("SteepestDescent-spectral", lambda p, lr: O.SteepestDescent(p, lr, norm="spectral")),
    Case("NormalizedSD-l2-power", lambda p, lr: O.NormalizedSteepestDescent(p, lr, norm="l2",
                                                                            schedule=O.power(1.0, -0.8))),
    Case("NormalizedSD-linf", lambda p, lr: O.NormalizedSteepestDescent(p, lr, norm="linf")),
    Case("SignDescent", lambda p, lr: O.SignDescent(p, lr)),
    Case("SignDescent-normalized", lambda p, lr: O.SignDescent(p, lr, normalized=True)),
    Case("CoordinateDescent", lambda p, lr: O.CoordinateDescent(p, lr)),
    Case("CoordinateDescent-normalized", lambda p, lr: O.CoordinateDescent(p, lr, normalized=True)),
    Case("SpectralDescent", lambda p, lr: O.SpectralDescent(p, lr)),
    Case("SpectralDescent-normalized", lambda p, lr: O.SpectralDescent(p, lr, normalized=True)),
    Case("MomentumGD", lambda p, lr: O.MomentumGD(p, lr, beta=0.9), "first+norm"),
    Case("Signum", lambda p, lr: O.Signum(p, lr, beta=0.9), "first+norm"),
    Case("Muon", lambda p, lr: O.Muon(p, lr, beta=0.9), "first+norm"),
    Case("Muon-newton-schulz", lambda p, lr: O.Muon(p, lr, orthogonalize="newton_schulz"), None),
    Case("Adam-eps0", lambda p, lr: O.Adam(p, lr, betas=(0.9, 0.99), eps=0.0), "first"),
    Case("Adam-no-momentum", lambda p, lr: O.Adam(p, lr, betas=(0.0, 0.999), eps=0.0), "first"),
    Case("Adam-eps1e-8", lambda p, lr: O.Adam(p, lr, eps=1e-8), None),
    Case("MuonSignum", lambda p, lr: O.MuonSignum(p, lr), "first+norm"),
    Case("MuonAdam-ratio0.5", lambda p, lr: O.MuonAdam(p, lr, ratio=0.5), "first"),
    Case("MuonAdam-ratio3", lambda p, lr: O.MuonAdam(p, lr, ratio=3.0), "first"),
    Case("ShampooNoAccumulation", lambda p, lr: O.ShampooNoAccumulation(p, lr), "every", _kappa2),
    # The reference Shampoo on a 1-D tensor uses (eps I + sum g g^T)^(-1): not a descent method there
    # (test_optim_shampoo pins that); its descent row runs on matrices, the paper's use.
    Case("Shampoo", lambda p, lr: O.Shampoo(p, lr, epsilon=1e-4), None, shapes=[(4, 3), (3, 5)]),
]
IDS = [c.name for c in CASES]


def _grads(seed, k=1):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, dtype=F64, generator=g) for s in SHAPES] for _ in range(k)]


def _params(seed=0, scale=0.0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(scale * torch.randn(s, dtype=F64, generator=g)) for s in shapes]


def test_every_optimizer_is_in_the_table():
    covered = {type(c.make(_params(), 0.1)).__name__ for c in CASES}
    assert covered == set(O.OPTIMIZERS)


@pytest.mark.parametrize("case", [c for c in CASES if c.identity], ids=[c.name for c in CASES if c.identity])
@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1))
def test_step_identity_in_declared_norm(case, seed):
    opt = case.make(_params(seed % 97, scale=0.5), 0.1)
    for k, gs in enumerate(_grads(seed, k=3 if case.identity != "first" else 1)):
        res = O.step_identity(opt, gs, check_inner=(case.identity == "every" or k == 0),
                              tol_factor=case.tol(gs))
        assert res.passed, (case.name, k, res.detail)


def test_negative_control_sign_descent_fails_the_l2_identity():
    opt = O.SignDescent(_params(), 0.1, normalized=True)
    res = O.step_identity(opt, _grads(3)[0], norm="l2", negative_control=True)
    assert not res.passed and res.as_expected and res.measured > 1e6
    right = O.step_identity(O.SignDescent(_params(), 0.1, normalized=True), _grads(3)[0])
    assert right.passed


def test_negative_control_unnormalized_checked_as_normalized_fails():
    res = O.step_identity(O.SteepestDescent(_params(), 0.1, norm="l1"), _grads(4)[0], normalized=True,
                          negative_control=True)
    assert not res.passed


def _quadratic(params, targets):
    return 0.5 * sum(((p - t) ** 2).sum() for p, t in zip(params, targets))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_descent_on_a_quadratic(case):
    targets = _params(seed=5, scale=1.0, shapes=case.shapes)
    params = _params(seed=6, scale=1.0, shapes=case.shapes)
    opt = case.make(params, 0.01)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = _quadratic(params, targets)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    losses.append(_quadratic(params, targets).item())
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def _model_and_data(kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(24, 5, dtype=F64, generator=g)
    y = torch.sign(X @ torch.randn(5, dtype=F64, generator=g))
    if kind == "two_layer":
        model = TwoLayerReLU(5, 8)
        model.init(0.5, generator=g)
    else:
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(5, 8, bias=False), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 1, bias=False)).double()
    return model, X, y


def _train(case, kind, steps, seed=0, opt_state=None, model=None):
    m0, X, y = _model_and_data(kind, seed)
    model = model or m0
    opt = case.make(model.parameters(), 0.02)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-y * model(X).reshape(-1)).mean()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return model, opt, losses


@pytest.mark.parametrize("kind", ["two_layer", "sequential"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_plain_training_loop_on_a_module(case, kind):
    model, opt, losses = _train(case, kind, 15)
    assert losses[-1] < losses[0]
    assert all(p.dtype == F64 and bool(torch.isfinite(p).all()) for p in model.parameters())
    for state in opt.state.values():
        assert all(v.dtype == F64 for v in state.values() if isinstance(v, torch.Tensor))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_round_trip_and_determinism(case):
    straight, _, _ = _train(case, "two_layer", 6)
    again, _, _ = _train(case, "two_layer", 6)
    assert all(torch.equal(a, b) for a, b in zip(straight.parameters(), again.parameters()))
    half, opt, _ = _train(case, "two_layer", 3)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)            # weights_only default: our schedules are registered safe globals
    resumed = copy.deepcopy(half)
    resumed, _, _ = _train(case, "two_layer", 3, opt_state=state, model=resumed)
    assert all(torch.equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_learning_rate_is_a_value_error(case):
    for lr in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="lr"):
            case.make(_params(), lr)


@pytest.mark.parametrize("make, name", [
    (lambda p: O.MuonSignum(p, 0.1), "muon-signum"),
    (lambda p: O.MuonAdam(p, 0.1, ratio=0.5), "muon-adam:0.5"),
    (lambda p: O.MuonAdam(p, 0.1, ratio=3.0), "muon-adam:3"),
    (lambda p: O.Muon(p, 0.1), "spectral"),
    (lambda p: O.Adam(p, 0.1, eps=0.0), "linf"),
    (lambda p: O.Signum(p, 0.1), "linf"),
    (lambda p: O.MomentumGD(p, 0.1), "l2"),
])
def test_declared_norms_are_the_named_implicit_norms(make, name):
    """The identity rows above check each optimizer in these named kktcheck norms (the companion paper's table)."""
    assert make(_params()).implicit_norm() == kc.norm(name)


def test_negative_control_muon_signum_step_fails_the_muon_adam_identity():
    """MuonSignum's step (unit steps in both parts) is not a unit step of max{3 ||W||_msp, ||u||_inf}."""
    res = O.step_identity(O.MuonSignum(_params(), 0.1), _grads(5)[0], norm="muon-adam:3", negative_control=True)
    assert not res.passed
