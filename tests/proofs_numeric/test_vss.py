"""Vardi-Shamir-Srebro cases (Vardi, Shamir & Srebro 2022): the flow's limit is KKT but not a local optimum; controls fail."""
import math

import numpy as np
import pytest

from proofs_numeric.checks import vss_checks as v

STARTS = 6


@pytest.mark.parametrize("name, order", [("C1", 2.0), ("C3", 1.0)])
def test_flow_limit_is_kkt_but_not_local(name, order):
    assert v.check_flow_limit(name).passed
    assert v.check_kkt(name).passed
    r = v.check_not_local(name, starts=STARTS)
    assert r.passed, r.detail
    assert r.detail["q_min"] >= 1 - 1e-12 and r.detail["norm_decrease"] > 0   # the re-checked certificate
    assert gains_shrink(r.detail["gains"])                                  # the better points approach theta
    assert math.isclose(r.detail["gain_order_in_r"], order, abs_tol=0.1)    # C1 saddle: r^2; C3 kink: r


def gains_shrink(gains):
    return all(a > b for a, b in zip(gains, gains[1:]))


@pytest.mark.parametrize("name", ["C1", "C3"])
def test_negative_controls_fail(name):
    for r in (v.check_kkt(name, negative=True), v.check_not_local(name, negative=True, starts=STARTS)):
        assert r.negative_control and not r.passed, r.name
    if name == "C1":
        r = v.check_flow_limit("C1", negative=True)
        assert r.negative_control and not r.passed and r.detail["gamma_bar"] > 0.99   # balanced init: global


@pytest.mark.parametrize("name", ["C1", "C3"])
def test_numpy_margins_match_the_model(name):
    case = v.vss_case(name)
    rng = np.random.default_rng(0)
    for params in (case.init, case.global_opt, case.non_kkt):
        flat = np.concatenate([p.reshape(-1).numpy() for p in params]) + 0.1 * rng.standard_normal(
            sum(p.numel() for p in params))
        shapes = [tuple(p.shape) for p in params]
        np.testing.assert_allclose(case.q_flat(flat), v._q(case, v._unflatten(flat, shapes)).numpy(), rtol=1e-14)


def test_known_global_optima_have_their_margin():
    for name in ("C1", "C3"):
        case = v.vss_case(name)
        assert math.isclose(v.gamma_bar(case, case.global_opt), case.global_gamma, rel_tol=1e-12)


def test_unknown_case():
    with pytest.raises(ValueError, match="unknown case 'C2'.*C1"):
        v.vss_case("C2")
