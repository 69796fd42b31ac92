"""Momentum family and Adam (Gronich & Vardi 2026; Adam's bias-corrected update): formulas, conventions, hybrids, implicit norms."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
import proofs_numeric as pn

O = pn.optim
F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")
EPS = torch.finfo(F64).eps


def _gs(seed, shapes=((4, 3), (5,)), k=1):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, dtype=F64, generator=g) for s in shapes] for _ in range(k)]


def _run(opt_cls, grad_seq, shapes=((4, 3), (5,)), **kw):
    ps = [torch.nn.Parameter(torch.zeros(s, dtype=F64)) for s in shapes]
    opt = opt_cls(ps, **kw)
    traj = []
    for gs in grad_seq:
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        opt.step()
        traj.append([p.detach().clone() for p in ps])
    return traj


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_adam_zero_betas_zero_eps_is_sign_descent_step_for_step(seed):
    seq = _gs(seed, k=6)
    seq[2][0][1, 1] = 0.0                               # a zero coordinate: 0/0 := 0 = sign(0)
    a = _run(O.Adam, seq, lr=0.1, betas=(0.0, 0.0), eps=0.0)
    s = _run(O.SignDescent, seq, lr=0.1, normalized=True)
    assert all(torch.equal(x, y) for ta, ts in zip(a, s) for x, y in zip(ta, ts))


def test_adam_with_momentum_is_not_sign_descent_negative_control():
    seq = _gs(1, k=4)
    a = _run(O.Adam, seq, lr=0.1, betas=(0.9, 0.999), eps=0.0)
    s = _run(O.SignDescent, seq, lr=0.1, normalized=True)
    assert float((a[-1][0] - s[-1][0]).abs().max()) > 1e-3


@pytest.mark.parametrize("betas,eps", [((0.9, 0.999), 1e-8), ((0.0, 0.99), 1e-3), ((0.5, 0.9), 0.1)])
def test_adam_matches_torch_adam_eq75(betas, eps):
    seq = _gs(2, k=12)
    ours = _run(O.Adam, seq, lr=0.01, betas=betas, eps=eps)
    ref = _run(torch.optim.Adam, seq, lr=0.01, betas=betas, eps=eps)
    scale = max(float(t.abs().max()) for t in ref[-1])
    assert all(torch.allclose(x, y, rtol=0, atol=64 * EPS * scale) for x, y in zip(ours[-1], ref[-1]))


def test_adam_zero_over_zero_is_zero():
    seq = [[torch.zeros(4, 3, dtype=F64), torch.tensor([0.0, 1.0, -2.0, 0.0, 3.0], dtype=F64)]] * 3
    out = _run(O.Adam, seq, lr=1.0, betas=(0.9, 0.999), eps=0.0)[-1]
    assert torch.isfinite(out[0]).all() and torch.equal(out[0], torch.zeros(4, 3, dtype=F64))
    assert out[1][0] == 0 and out[1][3] == 0 and out[1][1] < 0 and out[1][4] < 0 and out[1][2] > 0


def test_momentum_gd_formulas():
    seq, beta, lr = _gs(3, k=3), 0.8, 0.1
    m = [torch.zeros_like(g) for g in seq[0]]
    th_n = [torch.zeros_like(g) for g in seq[0]]
    th_u = [torch.zeros_like(g) for g in seq[0]]
    for gs in seq:
        m = [beta * mi + (1 - beta) * g for mi, g in zip(m, gs)]
        nm = float(torch.sqrt(sum((mi ** 2).sum() for mi in m)))
        th_n = [t - lr * mi / nm for t, mi in zip(th_n, m)]
        th_u = [t - lr * mi for t, mi in zip(th_u, m)]
    got_n = _run(O.MomentumGD, seq, lr=lr, beta=beta)[-1]
    got_u = _run(O.MomentumGD, seq, lr=lr, beta=beta, normalized=False)[-1]
    assert all(torch.allclose(a, b, rtol=1e-13, atol=1e-15) for a, b in zip(got_n + got_u, th_n + th_u))


def test_signum_and_muon_use_the_momentum_buffer():
    seq, beta = _gs(4, k=3), 0.7
    m = [torch.zeros_like(g) for g in seq[0]]
    for gs in seq:
        m = [beta * mi + (1 - beta) * g for mi, g in zip(m, gs)]
    prev_s = _run(O.Signum, seq[:2], lr=1.0, beta=beta)[-1]
    last_s = _run(O.Signum, seq, lr=1.0, beta=beta)[-1]
    assert all(torch.equal(p - l, torch.sign(mi)) for p, l, mi in zip(prev_s, last_s, m))
    prev_m = _run(O.Muon, seq[:2], lr=1.0, beta=beta)[-1]
    last_m = _run(O.Muon, seq, lr=1.0, beta=beta)[-1]
    U, S, Vh = torch.linalg.svd(m[0], full_matrices=False)
    assert torch.allclose(prev_m[0] - last_m[0], U @ Vh, atol=1e-13, rtol=0)
    assert torch.allclose(prev_m[1] - last_m[1], m[1] / m[1].norm(), atol=1e-13, rtol=0)  # 1-D: 1 x n row


def test_newton_schulz_cubic_converges_to_svd_polar_and_quintic_does_not():
    G = torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(5))
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    ns = O.transforms.NewtonSchulz(steps=40).polar(G)
    assert float((ns - U @ Vh).abs().max()) < 1e-12
    assert float((O.transforms.NewtonSchulz(steps=40).polar(G.T) - (U @ Vh).T).abs().max()) < 1e-12
    quintic = O.transforms.NewtonSchulz(steps=5, coefficients=(3.4445, -4.7750, 2.0315)).polar(G)
    assert float((quintic - U @ Vh).abs().max()) > 1e-3      # Keller Jordan's N-S is only approximate


def test_hybrids_split_matrices_and_vectors():
    seq, lr, ratio = _gs(6, k=1), 0.1, 0.25
    W, v = seq[0]
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    ms = _run(O.MuonSignum, seq, lr=lr)[-1]
    assert torch.allclose(ms[0], -lr * U @ Vh, atol=1e-14, rtol=0) and torch.equal(ms[1], -lr * torch.sign(v))
    ma = _run(O.MuonAdam, seq, lr=lr, ratio=ratio)[-1]
    assert torch.allclose(ma[0], -lr * U @ Vh, atol=1e-14, rtol=0)
    assert torch.allclose(ma[1], -ratio * lr * torch.sign(v), atol=1e-15, rtol=0)


def test_hybrid_implicit_norms_follow_the_weighted_max_rule():
    W, v = (torch.nn.Parameter(torch.randn(4, 3, dtype=F64)), torch.nn.Parameter(torch.randn(5, dtype=F64)))
    theta = [W.detach(), v.detach()]
    spec, linf = float(torch.linalg.matrix_norm(theta[0], ord=2)), float(theta[1].abs().max())
    assert O.MuonSignum([W, v], lr=0.1).implicit_norm()(theta) == pytest.approx(max(spec, linf), rel=1e-14)
    ma = O.MuonAdam([W, v], lr=0.1, ratio=3.0).implicit_norm()
    assert ma(theta) == pytest.approx(max(3.0 * spec, linf), rel=1e-14)
    assert ma.dual(theta) == pytest.approx(torch.linalg.matrix_norm(theta[0], ord="nuc").item() / 3.0
                                           + theta[1].abs().sum().item(), rel=1e-13)


def test_implicit_norms_of_the_family():
    p = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))]
    expect = {O.MomentumGD: "l2", O.Signum: "linf", O.Muon: "spectral"}
    for cls, name in expect.items():
        assert cls(p, lr=0.1).implicit_norm() == kc.norm(name)
    assert O.Adam(p, lr=0.1, eps=0.0).implicit_norm() == kc.norm("linf")
    assert O.Adam(p, lr=0.1, eps=1e-8).implicit_norm() == kc.norm("l2")     # asymptotic (Wang et al.)
    assert O.SignDescent(p, 0.1).implicit_norm() == kc.norm("linf")
    assert O.CoordinateDescent(p, 0.1).implicit_norm() == kc.norm("l1")
    assert O.SpectralDescent(p, 0.1).implicit_norm() == kc.norm("spectral")


def test_schedules():
    s = O.power(0.5, -0.8)
    assert s(1) == 0.5 and s(32) == pytest.approx(0.5 * 32 ** -0.8, rel=1e-15)
    assert O.constant(2.0)(7) == 2.0
    seq = _gs(7, shapes=((3,),), k=3)
    traj = _run(O.NormalizedSteepestDescent, seq, shapes=((3,),), lr=2.0, norm="l2", schedule=s)
    steps = [float((b[0] - a[0]).norm()) for a, b in zip([[torch.zeros(3, dtype=F64)]] + traj, traj)]
    assert steps == pytest.approx([2.0 * s(t) for t in (1, 2, 3)], rel=1e-14)
    with pytest.raises(ValueError):
        O.power(-1.0)
    with pytest.raises(ValueError):
        O.constant(0.0)


def test_bad_input_is_explained():
    p = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))]
    with pytest.raises(ValueError, match="unknown norm"):
        O.SteepestDescent(p, 0.1, norm="l7")
    with pytest.raises(ValueError, match="unknown norm"):
        O.NormalizedSteepestDescent(p, 0.1, norm="frobenius")
    with pytest.raises(TypeError, match="float64"):
        O.SignDescent([torch.nn.Parameter(torch.zeros(3))], 0.1)
    with pytest.raises(ValueError, match="beta"):
        O.Adam(p, 0.1, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="eps"):
        O.Adam(p, 0.1, eps=-1.0)
    with pytest.raises(ValueError, match="orthogonalize"):
        O.Muon(p, 0.1, orthogonalize="qr")
    with pytest.raises(ValueError, match="ratio"):
        O.MuonAdam(p, 0.1, ratio=0.0)
    with pytest.raises(TypeError, match="lr"):
        O.Signum(p, "fast")
    two = O.SignDescent([{"params": p}, {"params": [torch.nn.Parameter(torch.zeros(2, dtype=F64))]}], 0.1)
    with pytest.raises(ValueError, match="group"):
        two.implicit_norm()
    assert two.implicit_norm(group=1) == kc.norm("linf")


def test_torch_lr_scheduler_drives_the_step():
    p = torch.nn.Parameter(torch.zeros(4, dtype=F64))
    opt = O.SignDescent([p], lr=1.0, normalized=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sizes = []
    for _ in range(3):
        before = p.detach().clone()
        p.grad = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)
        opt.step()
        sched.step()
        sizes.append(float((p.detach() - before).abs().max()))
    assert sizes == [1.0, 0.5, 0.25]


@pytest.mark.parametrize("make", [lambda p: O.Muon(p, 0.1), lambda p: O.MuonSignum(p, 0.1),
                                  lambda p: O.MuonAdam(p, 0.1, ratio=0.3)])
def test_muon_refuses_a_model_without_a_matrix_layer(make):
    """Muon orthogonalizes weight matrices: a vector-only model is refused, naming params (not silently 1 x n rows)."""
    vectors = [torch.nn.Parameter(torch.zeros(3, dtype=F64)), torch.nn.Parameter(torch.zeros(2, dtype=F64))]
    with pytest.raises(ValueError, match="params has no matrix parameter.*Signum"):
        make(vectors)
    make(vectors + [torch.nn.Parameter(torch.zeros(2, 3, dtype=F64))])       # one matrix layer suffices


@pytest.mark.parametrize("ratio, err", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("fast", TypeError), (None, TypeError)])
def test_muon_adam_ratio_must_be_a_finite_positive_number(ratio, err):
    p = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))]
    with pytest.raises(err, match=r"ratio .*eta_0\^A / eta_0\^M"):
        O.MuonAdam(p, 0.1, ratio=ratio)


@pytest.mark.parametrize("make, name", [(lambda p, b: O.MomentumGD(p, 0.1, beta=b), "beta"),
                                        (lambda p, b: O.Signum(p, 0.1, beta=b), "beta"),
                                        (lambda p, b: O.Muon(p, 0.1, beta=b), "beta"),
                                        (lambda p, b: O.MuonAdam(p, 0.1, betas=(0.9, b)), "beta2"),
                                        (lambda p, b: O.Adam(p, 0.1, betas=(b, 0.9)), "beta1")])
@pytest.mark.parametrize("beta", [1.0, -0.1, float("nan")])
def test_beta_outside_unit_interval_is_refused(make, name, beta):
    p = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))]
    with pytest.raises(ValueError, match=rf"{name}.*\[0, 1\)"):
        make(p, beta)


@pytest.mark.parametrize("eps", [-1e-8, float("nan"), float("inf")])
def test_negative_or_nonfinite_eps_is_refused(eps):
    p = [torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))]
    for make in (lambda: O.Adam(p, 0.1, eps=eps), lambda: O.MuonAdam(p, 0.1, eps=eps)):
        with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
            make()
