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


def test_pair_entries_follow_the_programs_matrices():
    from kktcheck.kkt import solve
    assert solve.pair_entries("l2-reduced", 1000, 2742, 10_100)[0] == 3742 ** 2  # the 2.28 GB case
    assert solve.pair_entries("l2-reduced", 1000, 2742, 10_100)[0] > solve.PAIR_MAX_ENTRIES
    m = 256 + 2758
    assert solve.pair_entries("l2-reduced", 256, 2758, 50_100)[0] == m * m <= solve.PAIR_MAX_ENTRIES
    assert solve.pair_entries("active-set", 10, 5, 40)[0] == 15 * 15 + 40 * 15  # rows capped at P
    assert solve.pair_entries("generic", 10, 0, 40, 0)[0] == 400
    assert solve.pair_entries("compressed", 10, 5, 40)[0] == 0


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_oversized_pair_is_skipped_before_its_work(monkeypatch, norm):
    """Above PAIR_MAX_ENTRIES the (eps, delta) program is not run (its solver is never called): pair_status
    too_large with the reason, the measure identical to pair=False."""
    import sys
    from kktcheck.kkt import solve
    rmod = sys.modules["kktcheck.kkt.residual"]
    p = R.two_layer_clarke_needed()
    alone = kc.residual(p.model, p.data, norm=norm, pair=False)
    full = kc.residual(p.model, p.data, norm=norm)
    assert full.pair_status == "optimal"  # the pair runs at the default limit
    monkeypatch.setattr(solve, "PAIR_MAX_ENTRIES", 3)
    monkeypatch.setattr(rmod, "_pair", lambda *a: pytest.fail("the pair program ran"))
    res = kc.residual(p.model, p.data, norm=norm)
    assert res.pair_status == "too_large" and "skipped before any of its work" in res.pair_message
    assert res.measure == alone.measure and res.status == alone.status and res.multipliers is None
    assert "too_large" in str(res)
