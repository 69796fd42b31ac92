"""Theorem 3.4 recognized on a three-layer ReLUNet (proofs_numeric.checks.thm34_recognize_checks, kind "three-layer"):
GD (l2) run to log10 L = -1e6 with the RidgeStep h schedule; kc.residual with the deep ReLU band (kktcheck/clarke_deep.py)
measures the l2 measure at the final iterate. 1e-3 is not reached (about 2e-3, reported, not asserted); what is asserted:
the band brings the measure an order below the autodiff element's, linf and l1 are certified "not KKT", and the two
negative controls (linf claimed; the run stopped at log10 L = -10) fail. The run and measures are cached (a few s)."""
import pytest

import kktcheck as kc
from proofs_numeric.checks.thm34_recognize_checks import (THREE_LAYER_NOT_ASSERTED, check_kkt_recognized,
                                                          recognize_case, run_snapshots, STAGES)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_three_layer_gd_is_near_kkt_in_l2_with_the_deep_band_and_not_kkt_in_linf_l1():
    own = check_kkt_recognized("l2", kind="three-layer", not_asserted=THREE_LAYER_NOT_ASSERTED)
    d = own.detail
    assert d["run_status"] == "success" and d["final_log10_loss"] <= -1e6
    assert own.informational and not own.negative_control
    m = d["final"]
    assert m["l2"] <= 5e-3, m           # measured 1.9e-3 (docs/kkt.md); the autodiff element alone gives 0.038
    assert d["verdicts"]["linf"] == "not KKT" and d["verdicts"]["l1"] == "not KKT"
    assert min(m["linf"], m["l1"]) > 0.1, m


def test_the_band_not_the_autodiff_element_makes_the_difference():
    model, th0, data = recognize_case("three-layer")
    theta = run_snapshots(model, th0, data, "l2", stages=STAGES["three-layer", "l2"], max_seconds=300.0)["params"][-1]
    band = kc.residual(theta, data, model=model, norm="l2", pair=False)
    auto = kc.residual(theta, data, model=model, norm="l2", pair=False, clarke="autodiff")
    assert band.clarke == "deep-relu-band" and auto.clarke == "autodiff"
    assert band.measure <= auto.measure / 5, (band.measure, auto.measure)


# window=1 for the shallow run: its last 24 iterates include unseparated ones (no feasible rescaling to average)
@pytest.mark.parametrize("kw", [dict(claimed="linf"), dict(shallow=True, window=1)])
def test_the_three_layer_controls_fail(kw):
    ctl = check_kkt_recognized("l2", kind="three-layer", **kw)
    assert ctl.negative_control and not ctl.passed and ctl.as_expected, ctl.detail
    assert ctl.measured > ctl.tolerance
