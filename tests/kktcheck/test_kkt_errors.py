"""Bad input to kc.residual: clear errors, and solver failure as a status."""
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck import reference as R


def test_misclassified_points_are_counted():
    p = R.linear_max_margin("l2")
    X, y = p.data
    y = y.copy()
    y[:3] *= -1
    with pytest.raises(ValueError, match="3 of 12 points are misclassified"):
        kc.residual(p.model, (X, y))


def test_zero_and_nonfinite_theta():
    p = R.linear_max_margin("l2")
    with pytest.raises(ValueError, match="theta = 0"):
        kc.residual([torch.zeros(1, 4)], p.data, model=p.model)
    with pytest.raises(ValueError, match="NaN or inf"):
        kc.residual([torch.full((1, 4), float("nan"))], p.data, model=p.model)


def test_module_with_bias():
    p = R.linear_max_margin("l2")
    with pytest.raises(ValueError, match="bias"):
        kc.residual(torch.nn.Linear(4, 1), p.data)


def test_bad_options():
    p = R.linear_max_margin("l2")
    with pytest.raises(ValueError, match="method"):
        kc.residual(p.model, p.data, method="fast")
    with pytest.raises(ValueError, match="l2-reduced"):
        kc.residual(p.model, p.data, norm="l1", method="l2-reduced")
    with pytest.raises(ValueError, match="unknown norm"):
        kc.residual(p.model, p.data, norm="l7")


def test_solver_failure_is_a_status():
    p = R.linear_max_margin("l2")
    res = kc.residual(p.model, p.data, method="generic", solver="NO_SUCH_SOLVER")
    assert res.status == "solver_error" and res.message
    assert not res.ok() and np.isnan(res.stationarity)
    with pytest.raises(ValueError, match="no certificate"):
        res.verify()


def test_oversized_sdp_is_refused_with_a_status():
    p = R.two_layer_dead_neuron()
    res = kc.residual(p.model, p.data, norm="nuclear", max_sdp=4)
    assert res.status == "too_large" and "max_sdp" in res.message and not res.ok()
    assert kc.residual(p.model, p.data, norm="nuclear").status.startswith("optimal")
    fo = kc.residual(p.model, p.data, norm="spectral", max_sdp=4)  # spectral: first-order, no SDP, no refusal
    assert fo.method == "first-order" and fo.status == "optimal" and fo.pair_status == "too_large"
