"""Optimizers never write a silent wrong answer (issue 12, item 3): non-finite gradients raise a ValueError
naming the parameter (or are skipped with nonfinite="skip"), hyper-parameters edited in param_groups or
loaded from a state_dict are checked at step(), malformed betas and foreign state_dicts get clear errors,
and steps are exact under gradient scaling by 10^+-300."""
from __future__ import annotations

import math

import pytest
import torch

import kktcheck as kc
import proofs_numeric as pn

O = pn.optim
F64 = torch.float64
SHAPES = [(4, 3), (5,)]
MAKERS = {
    "SteepestDescent": lambda p, **k: O.SteepestDescent(p, 0.1, norm="l2", **k),
    "NormalizedSteepestDescent": lambda p, **k: O.NormalizedSteepestDescent(p, 0.1, norm="lp:3", **k),
    "SignDescent": lambda p, **k: O.SignDescent(p, 0.1, **k),
    "CoordinateDescent": lambda p, **k: O.CoordinateDescent(p, 0.1, **k),
    "SpectralDescent": lambda p, **k: O.SpectralDescent(p, 0.1, normalized=True, **k),
    "MomentumGD": lambda p, **k: O.MomentumGD(p, 0.1, **k),
    "Signum": lambda p, **k: O.Signum(p, 0.1, **k),
    "Muon": lambda p, **k: O.Muon(p, 0.1, **k),
    "Adam": lambda p, **k: O.Adam(p, 0.1, **k),
    "MuonSignum": lambda p, **k: O.MuonSignum(p, 0.1, **k),
    "MuonAdam": lambda p, **k: O.MuonAdam(p, 0.1, **k),
    "Shampoo": lambda p, **k: O.Shampoo(p, 0.1, **k),
    "ShampooNoAccumulation": lambda p, **k: O.ShampooNoAccumulation(p, 0.1, **k),
}
NORMALIZED = ("NormalizedSteepestDescent", "SpectralDescent", "MomentumGD", "Signum", "Muon", "Adam",
              "MuonSignum", "MuonAdam", "ShampooNoAccumulation")


def test_every_optimizer_is_covered():
    assert set(MAKERS) == set(O.OPTIMIZERS)


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, dtype=F64, generator=g)) for s in SHAPES]


def _grads(seed=1, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(s, dtype=F64, generator=g) for s in SHAPES]


def _step(opt, params, grads):
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.step()


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_gradient_raises_naming_the_parameter(name, bad):
    params = _params()
    opt = MAKERS[name](params)
    before = [p.detach().clone() for p in params]
    g = _grads()
    g[1][2] = bad
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[1\] \(shape \(5,\)\).*NaN or inf.*"
                                         r"nonfinite='skip'"):
        _step(opt, params, g)
    assert all(torch.equal(p, b) for p, b in zip(params, before))   # nothing written
    assert all(not s for s in opt.state.values())                    # no state touched


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_skip_leaves_weights_and_state_untouched_then_continues(name):
    """Before the fix Signum froze a coordinate forever after one NaN gradient (sign(NaN) = 0, NaN buffer)."""
    params, ref = _params(), _params()
    opt, ref_opt = MAKERS[name](params, nonfinite="skip"), MAKERS[name](ref)
    _step(opt, params, _grads(1))
    _step(ref_opt, ref, _grads(1))
    bad = _grads(2)
    bad[0][0, 0] = math.nan
    _step(opt, params, bad)                      # skipped: no write, no state change
    for k in (3, 4):
        _step(opt, params, _grads(k))
        _step(ref_opt, ref, _grads(k))
    assert all(torch.equal(p, r) for p, r in zip(params, ref))


def test_signum_moves_every_coordinate_after_a_skipped_nan():
    params = _params()
    opt = O.Signum(params, 0.1, nonfinite="skip")
    bad = _grads()
    bad[1][:] = math.nan
    _step(opt, params, bad)
    before = params[1].detach().clone()
    _step(opt, params, _grads(5))
    assert bool((params[1] != before).all())


def test_nonfinite_option_is_checked():
    with pytest.raises(ValueError, match=r"nonfinite must be 'raise' or 'skip'"):
        O.Signum(_params(), 0.1, nonfinite="ignore")


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("lr", [-1.0, math.nan, 0.0])
def test_lr_edited_in_param_groups_is_checked_at_step(name, lr):
    params = _params()
    opt = MAKERS[name](params)
    opt.param_groups[0]["lr"] = lr
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\].*> 0"):
        _step(opt, params, _grads())


def test_lr_loaded_from_a_state_dict_is_checked_at_step():
    params = _params()
    opt = O.Adam(params, 0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = math.inf
    opt.load_state_dict(sd)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\]"):
        _step(opt, params, _grads())
    sd["param_groups"][0]["lr"] = 0.1
    sd["param_groups"][0]["betas"] = (0.9, 1.5)
    opt.load_state_dict(sd)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['betas'\].*\[0, 1\)"):
        _step(opt, params, _grads())


@pytest.mark.parametrize("make", [lambda p: O.Adam(p, 0.1, betas=(0.9,)),
                                  lambda p: O.MuonAdam(p, 0.1, betas=0.9),
                                  lambda p: O.Adam(p, 0.1, betas=(0.9, 0.99, 0.5))])
def test_betas_must_be_a_pair(make):
    with pytest.raises(ValueError, match=r"betas must be a pair \(beta1, beta2\)"):
        make(_params())


def test_loading_another_optimizers_state_is_refused():
    params = _params()
    adam = O.Adam(params, 0.1)
    _step(adam, params, _grads())
    for other in (O.Signum(params, 0.1), O.MomentumGD(params, 0.1)):
        with pytest.raises(ValueError, match=rf"this state_dict was saved by Adam, not {type(other).__name__}"):
            other.load_state_dict(adam.state_dict())


def test_l1_dualize_of_nan_is_an_error_not_zeros():
    g = torch.tensor([1.0, math.nan, -2.0], dtype=F64)
    with pytest.raises(ValueError, match=r"g\[0\].*NaN or inf"):
        kc.norm("l1").dualize([g])


@pytest.mark.parametrize("name", NORMALIZED)
@pytest.mark.parametrize("k", [-300, -160, 160, 300])
def test_normalized_step_is_invariant_to_gradient_scale(name, k):
    """A normalized method moves by eta dualize(m) whatever the size of g. Before the fix Adam's g^2 and
    Shampoo's G G^T overflowed (zero step / linalg error) and l2 dualize divided by an inf norm."""
    p0, pk = _params(), _params()
    o0, ok = MAKERS[name](p0), MAKERS[name](pk)
    for s in (1, 2):
        _step(o0, p0, _grads(s))
        _step(ok, pk, _grads(s, scale=10.0 ** k))
    for a, b in zip(p0, pk):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [O.SteepestDescent, O.SignDescent, O.CoordinateDescent])
def test_overflowing_step_raises_instead_of_writing_inf(cls):
    """lr * ||d|| = 1e300 * 1e10 is beyond float64: before the fix the weights became inf silently."""
    params = _params()
    opt = cls(params, 1e300)
    before = [p.detach().clone() for p in params]
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[\d\].*not finite.*lower lr"):
        _step(opt, params, _grads(scale=1e10))
    assert all(torch.equal(p, b) for p, b in zip(params, before))
