"""Theorem 3.4 on ReLU networks (proofs_numeric.checks.thm34_net_checks): along the deep flow the KKT measure in
the algorithm's own norm falls (positive case passes); in another norm it does not (control fails).

The runs and measure curves are cached in the module (functools.lru_cache), so each case is integrated once."""
import math

import numpy as np
import pytest

from proofs_numeric.checks.thm34_net_checks import (check_thm34_net, check_thm34_net_depth, fit_order,
                                                    plot_measures)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_fit_order_recovers_a_planted_power_law():
    depth = np.geomspace(1, 1e5, 12)
    measure = 0.3 * (math.log(10) * depth) ** -0.25
    p, i0 = fit_order(depth, measure)
    assert p == pytest.approx(0.25, abs=1e-12)
    assert depth[i0] >= math.sqrt(1e5) * (1 - 1e-12)


def test_fit_order_sees_a_plateau_after_an_early_fall():
    depth = np.geomspace(1, 1e5, 12)
    measure = np.maximum(0.3 * depth ** -1.0, 0.01)    # falls until depth 30, then flat
    assert fit_order(depth, measure)[0] == pytest.approx(0.0, abs=1e-12)
    assert fit_order(depth, measure, start=1.0)[0] > 0.1   # a whole-run fit would hide the plateau


@pytest.mark.parametrize("norm,other", [("linf", "l2"), ("l1", "linf")])
def test_two_layer_own_norm_measure_falls_and_other_norm_does_not(norm, other):
    own = check_thm34_net(norm, kind="two-layer", log10_target=-1e5)
    ctl = check_thm34_net(norm, kind="two-layer", measure_norm=other, log10_target=-1e5)
    assert own.detail["run_status"] == "success" and own.detail["final_log10_loss"] <= -1e5
    assert own.passed and not own.negative_control, own.detail
    assert ctl.negative_control and not ctl.passed, ctl.detail
    assert own.as_expected and ctl.as_expected
    assert own.detail["final_measure"] < 0.1 < ctl.detail["final_measure"]


def test_three_layer_sign_descent_measure_falls_and_l2_does_not():
    own = check_thm34_net("linf", kind="three-layer", log10_target=-1e6)
    ctl = check_thm34_net("linf", kind="three-layer", measure_norm="l2", log10_target=-1e6)
    assert own.detail["run_status"] == "success"
    assert own.passed, own.detail
    assert not ctl.passed, ctl.detail


def test_depth_row_is_informational_and_reports_the_deepest_own_measure(tmp_path):
    r = check_thm34_net_depth("linf", kind="two-layer", log10_target=-1e5)
    assert r.informational and r.as_expected
    assert 0 < r.measured < 0.5 and r.tolerance == 1e-3 and r.passed == (r.measured <= 1e-3)
    path = plot_measures("two-layer", ("linf",), tmp_path / "m.png", log10_target=-1e5)
    assert (tmp_path / "m.png").stat().st_size > 1000 and path.endswith("m.png")
