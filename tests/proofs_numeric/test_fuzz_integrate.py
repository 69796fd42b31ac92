"""Fuzzing integrate over scales 1e-300..1e300, shapes and non-finite entries: every call either returns a
trajectory whose recorded numbers are finite, or raises ValueError/TypeError naming what to fix."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from proofs_numeric import models
from proofs_numeric.datasets import linearly_separable
from proofs_numeric.flow import STATUSES, integrate

NAMES = ("theta", "X", "log L", "loss", "parameters", "data", "norm")


def _check(call):
    try:
        tr = call()
    except (ValueError, TypeError) as err:
        assert any(k in str(err) for k in NAMES), f"error does not say what to fix: {err}"
        return None
    assert tr.status in STATUSES
    for arr in (tr.log_loss, tr.theta_norm, tr.s):
        assert np.all(np.isfinite(arr)), (tr.status, arr)
    return tr


@settings(max_examples=20)
@given(e=st.integers(-300, 300), d=st.integers(1, 4), n=st.integers(2, 6), norm=st.sampled_from(["l1", "l2", "linf"]),
       two_layer=st.booleans())
def test_integrate_at_any_scale(e, d, n, norm, two_layer):
    X, y = linearly_separable(n, d, seed=0)
    m = models.TwoLayerReLU(d, 3) if two_layer else models.Linear(d)
    th = [10.0 ** e * p for p in m.init(1.0, torch.Generator().manual_seed(1))]
    _check(lambda: integrate(m, th, (X, y), norm=norm, max_steps=15, margin_norms=()))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_start_or_data_is_refused_by_name(bad):
    X, y = linearly_separable(6, 3, seed=0)
    m = models.Linear(3)
    th = m.init(1.0, torch.Generator().manual_seed(1))
    th[0][0, 0] = bad
    with pytest.raises(ValueError, match="theta"):
        integrate(m, th, (X, y), max_steps=3)
    Xb = X.clone()
    Xb[0, 0] = bad
    with pytest.raises(ValueError, match="X"):
        integrate(m, m.init(1.0, torch.Generator().manual_seed(1)), (Xb, y), max_steps=3)


def test_normalized_margin_when_the_norm_power_overflows():
    """||theta||^L beyond float64 (||theta|| = 2.2e154, L = 2: a hypothesis draw that raised OverflowError):
    the ratio goes through logarithms."""
    from proofs_numeric.flow.recorder import normalized
    assert normalized(-0.0, 2.229307056025196e154, 2) == 0.0
    assert normalized(1e300, 1e160, 2) == pytest.approx(1e-20, rel=1e-12)
    assert normalized(-1e300, 1e160, 2) == pytest.approx(-1e-20, rel=1e-12)
