"""Theorem 3.4 recognized on a three-layer ReLUNet (proofs_numeric.checks.thm34_recognize_checks, kind "three-layer"):
GD (l2) run to log10 L = -1e8 with the RidgeStep h schedule of STAGES; kc.residual with the deep ReLU band
(kktcheck/clarke_deep.py) says approximately KKT in l2 (M = 7.9e-4 <= 1e-3) and certified not KKT in linf and l1;
claiming linf, or the same run stopped at log10 L = -10, fails. The run and its measures are cached (about 30 s)."""
import pytest

import kktcheck as kc
from proofs_numeric.checks.thm34_recognize_checks import check_kkt_recognized, recognize_case, run_snapshots

pytestmark = pytest.mark.usefixtures("one_thread")


def test_three_layer_gd_is_kkt_in_l2_and_not_in_linf_l1():
    own = check_kkt_recognized("l2", kind="three-layer")
    d = own.detail
    assert d["run_status"] == "success" and d["final_log10_loss"] <= -1e8
    assert own.passed and not own.negative_control and not own.informational and own.tolerance == 1e-3, d
    m = d["final"]
    assert m["l2"] <= 1e-3 and min(m["linf"], m["l1"]) > 0.1, m
    assert d["verdicts"] == {"l2": "approximately KKT", "linf": "not KKT", "l1": "not KKT"}


def test_the_band_not_the_autodiff_element_makes_the_difference():
    """At log10 L = -1e6 (a short run): the deep band's l2 measure is an order below the autodiff element's."""
    model, th0, data = recognize_case("three-layer")
    theta = run_snapshots(model, th0, data, "l2", stages=((0.05, -1e5), (0.0015625, -1e6)),
                          max_seconds=300.0)["params"][-1]
    band = kc.residual(theta, data, model=model, norm="l2", pair=False)
    auto = kc.residual(theta, data, model=model, norm="l2", pair=False, clarke="autodiff")
    assert band.clarke == "deep-relu-band" and auto.clarke == "autodiff"
    assert band.measure <= auto.measure / 5, (band.measure, auto.measure)      # 1.9e-3 against 0.038


# window=1 for the shallow run: its last 24 iterates include unseparated ones (no feasible rescaling to average)
@pytest.mark.parametrize("kw", [dict(claimed="linf"), dict(shallow=True, window=1)])
def test_the_three_layer_controls_fail(kw):
    ctl = check_kkt_recognized("l2", kind="three-layer", **kw)
    assert ctl.negative_control and not ctl.passed and ctl.as_expected, ctl.detail
    assert ctl.measured > ctl.tolerance
