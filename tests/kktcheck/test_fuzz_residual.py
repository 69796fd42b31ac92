"""Fuzzing kc.residual over scales 1e-300..1e300 of theta and X, and over non-finite entries: the measure is
scale-free (the same number at every scale, up to the solver's precision), or the call raises a ValueError or
TypeError that names the argument to fix."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

import kktcheck as kc
from kktcheck.reference import separable_data


def _linear(seed=0, n=8, d=3):
    X, y = separable_data(n, d, seed, gap=0.3)
    net = torch.nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(kc.max_margin_linear(X, y, norm="l2").w, dtype=torch.float64).reshape(1, -1))
        net.weight.add_(0.05)                 # a separating direction near, not at, the optimum
    return net, np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


@settings(max_examples=8)
@given(k_theta=st.integers(-300, 300), k_x=st.integers(-150, 150), norm=st.sampled_from(["l2", "linf", "l1"]))
@example(k_theta=-169, k_x=-150, norm="l2")   # subnormal outputs (~1e-319): the rescaling was 2e-4 off
def test_measure_is_the_same_at_every_scale(k_theta, k_x, norm):
    net, X, y = _linear()
    ref = kc.residual(net, (X, y), norm=norm, pair=False).measure
    scaled = torch.nn.Linear(X.shape[1], 1, bias=False).double()
    with torch.no_grad():
        scaled.weight.copy_(net.weight * 10.0 ** k_theta)
    try:
        got = kc.residual(scaled, (X * 10.0 ** k_x, y), norm=norm, pair=False).measure
    except (ValueError, TypeError) as err:
        assert any(w in str(err) for w in ("theta", "X", "data", "overflow", "scale")), str(err)
        return
    assert math.isfinite(got) and got == pytest.approx(ref, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_inputs_are_refused_by_name(bad):
    net, X, y = _linear()
    Xb = X.copy()
    Xb[0, 0] = bad
    with pytest.raises(ValueError, match="X"):
        kc.residual(net, (Xb, y), norm="l2")
    with torch.no_grad():
        net.weight[0, 0] = bad
    with pytest.raises(ValueError, match="theta|weight|param"):
        kc.residual(net, (X, y), norm="l2")
