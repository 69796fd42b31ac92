"""Theorem 3.4 as a statement about the flow: the GD path's KKT-measure floor shrinks with the step h
(checks/thm34_step_checks.py), and the same statistic in another norm does not."""
import math

import pytest

from proofs_numeric.checks.thm34_step_checks import HS, check_thm34_step_floor, fit_step_order

QUICK = dict(hs=(HS[0], HS[-1]), n_points=12)     # verify --quick's pair: the full sweep's end steps (16x apart)


def test_gd_floor_shrinks_with_h_and_the_other_norm_control_fails():
    own = check_thm34_step_floor("l2", **QUICK)
    assert own.passed and own.measured >= 0.5 and own.detail["drop_factor"] >= 3.0
    ctl = check_thm34_step_floor("l2", measure_norm="linf", **QUICK)
    assert ctl.negative_control and not ctl.passed and abs(ctl.measured) < 0.1


def test_fit_step_order_recovers_a_planted_power_law():
    floors = {h: 0.3 * h ** 0.75 for h in (0.04, 0.02, 0.01, 0.005)}
    assert fit_step_order(floors) == pytest.approx(0.75, abs=1e-12)
    assert math.isnan(fit_step_order({0.01: math.nan, 0.02: 0.1}))


def test_no_usable_floor_is_no_evidence(monkeypatch):
    from proofs_numeric.checks import thm34_step_checks as m
    monkeypatch.setattr(m, "floor_curve", lambda *a, **k: ({0.02: math.nan, 0.01: math.nan}, {}))
    r = m.check_thm34_step_floor("l2", hs=(0.02, 0.01))
    assert not r.has_evidence and not r.passed
