"""Fuzzing every optimizer's step (issue 12, item 6) over gradient scales 10^-300 .. 10^300 and non-finite
entries: a normalized method's step does not depend on the scale, an un-normalized one scales with it, the
reference Shampoo (epsilon breaks scale invariance) stays finite or refuses, and a NaN/inf gradient raises
ValueError naming param_groups[0]['params'][i] with no weight changed."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, strategies as st

import proofs_numeric as pn
from kktcheck.testing import strategies as kst

O = pn.optim
F64 = torch.float64
EPS = kst.EPS
MAKERS = {
    "SteepestDescent": (lambda p: O.SteepestDescent(p, 0.1, norm="lp:3"), "scaled"),
    "NormalizedSteepestDescent": (lambda p: O.NormalizedSteepestDescent(p, 0.1, norm="l1"), "invariant"),
    "SignDescent": (lambda p: O.SignDescent(p, 0.1), "scaled"),
    "CoordinateDescent": (lambda p: O.CoordinateDescent(p, 0.1), "scaled"),
    "SpectralDescent": (lambda p: O.SpectralDescent(p, 0.1), "scaled"),
    "MomentumGD": (lambda p: O.MomentumGD(p, 0.1), "invariant"),
    "Signum": (lambda p: O.Signum(p, 0.1), "invariant"),
    "Muon": (lambda p: O.Muon(p, 0.1), "invariant"),
    "Adam": (lambda p: O.Adam(p, 0.1), "invariant"),
    "MuonSignum": (lambda p: O.MuonSignum(p, 0.1), "invariant"),
    "MuonAdam": (lambda p: O.MuonAdam(p, 0.1), "invariant"),
    "Shampoo": (lambda p: O.Shampoo(p, 0.1), "finite"),
    "ShampooNoAccumulation": (lambda p: O.ShampooNoAccumulation(p, 0.1), "invariant"),
}


def test_every_optimizer_is_fuzzed():
    assert set(MAKERS) == set(O.OPTIMIZERS)


def _run(name, shapes, grads):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, dtype=F64)) for s in shapes]
    opt = MAKERS[name][0](params)
    start = [p.detach().clone() for p in params]
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.as_tensor(g, dtype=F64).clone()
        opt.step()
    return start, [p.detach() for p in params]


def _assert_refusal(name, err):
    """Only the accumulating Shampoo may refuse a finite gradient: its P += G G^T overflows at |g| ~ 1e155."""
    assert MAKERS[name][1] == "finite" and "param_groups[0]['params']" in str(err) and "overflows float64" in str(err)


@given(name=st.sampled_from(sorted(MAKERS)), shapes=kst.shapes(max_layers=2, max_dim=3), k=kst.powers_of_ten(),
       data=st.data())
def test_step(name, shapes, k, data):
    grads = [[t.numpy() for t in data.draw(kst.params(shapes=shapes), label=f"g{s}")] for s in (1, 2)]
    second, bad = data.draw(kst.poisoned(grads[1], p_clean=0.75), label="poison")
    c = 10.0 ** k
    scaled = [[g * c for g in grads[0]], [g * c for g in second]]
    if bad is not None:
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(s, dtype=F64)) for s in shapes]
        opt = MAKERS[name][0](params)
        for p, g in zip(params, scaled[0]):
            p.grad = torch.as_tensor(g, dtype=F64)
        try:
            opt.step()
        except ValueError as err:                  # the clean first step may already overflow Shampoo's P
            _assert_refusal(name, err)
            return
        before = [p.detach().clone() for p in params]
        for p, g in zip(params, scaled[1]):
            p.grad = torch.as_tensor(g, dtype=F64)
        with pytest.raises(ValueError, match=rf"param_groups\[0\]\['params'\]\[{bad}\].*NaN or inf"):
            opt.step()
        assert all(torch.equal(p, b) for p, b in zip(params, before))
        return
    kind = MAKERS[name][1]
    try:
        start, end = _run(name, shapes, scaled)
    except ValueError as err:
        _assert_refusal(name, err)
        return
    assert all(bool(torch.isfinite(p).all()) for p in end)
    if kind == "finite":
        return
    _, ref = _run(name, shapes, grads)
    for s, e, r in zip(start, end, ref):
        if kind == "invariant":
            assert torch.allclose(e, r, rtol=1e-10, atol=1e-10)
        else:                                      # the displacement scales with c
            slack = 64 * EPS * (s.abs() + e.abs()) + 1e-10 * c * (r - s).abs().max()
            assert bool(((e - s) - c * (r - s)).abs().le(slack + 1e-300).all())
