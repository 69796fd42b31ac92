"""Theorem 3.4 recognized for spectral descent (proofs_numeric.checks.thm34_recognize_checks, norm "spectral"): on
the tiny two-layer teacher-student net run to log10 L = -1e5 with RidgeStep(0.05) (whose late phase solves the
spectral ridge program, flow.ridge_spectral), kc.residual says approximately KKT in the layer-wise spectral norm
(M <= 1e-3; measured 3.9e-4) and not KKT in l2, linf and l1; claiming l2, or stopping at log10 L = -10, fails.
The run is cached (functools.lru_cache) and takes about 1 s."""
from types import SimpleNamespace

import pytest

from proofs_numeric.checks.suites import _thm34_recognized as thm34_recognized_suite
from proofs_numeric.checks.thm34_recognize_checks import SHALLOW, check_kkt_recognized

pytestmark = pytest.mark.usefixtures("one_thread")
OTHERS = ("l2", "linf", "l1")


def test_deep_spectral_descent_is_kkt_in_the_spectral_norm_only():
    own = check_kkt_recognized("spectral")
    assert own.detail["run_status"] == "success" and own.detail["final_log10_loss"] <= -1e5
    assert own.passed and not own.negative_control and own.tolerance == 1e-3, own.detail
    m = own.detail["final"]
    assert set(m) == {"spectral", *OTHERS}
    assert m["spectral"] <= 1e-3 and all(m[o] > 1e-3 for o in OTHERS)
    assert own.detail["verdicts"] == {"spectral": "approximately KKT", **{o: "not KKT" for o in OTHERS}}


def test_spectral_row_fails_when_another_norm_is_claimed_or_the_run_is_shallow():
    ctl = check_kkt_recognized("spectral", claimed="l2")
    assert ctl.negative_control and not ctl.passed and ctl.as_expected, ctl.detail
    assert ctl.measured == pytest.approx(check_kkt_recognized("spectral").detail["final"]["l2"], rel=1e-12)
    shallow = check_kkt_recognized("spectral", shallow=True)
    assert shallow.detail["final_log10_loss"] == pytest.approx(SHALLOW, abs=1.0)
    assert shallow.negative_control and not shallow.passed and shallow.as_expected
    assert shallow.measured > 1e-3


def test_other_rows_still_measure_three_norms_and_unknown_norms_are_refused():
    assert set(check_kkt_recognized("l2").detail["final"]) == set(OTHERS)
    with pytest.raises(ValueError, match="no algorithm"):
        check_kkt_recognized("nuclear", stages=((0.05, -2.0),))


def test_spectral_row_is_in_the_full_suite_only(tmp_path):
    class Recorder:     # stands in for the checks module: records which rows the suite asks for
        SD_NOT_ASSERTED = ""

        def __init__(self):
            self.calls = []

        def check_kkt_recognized(self, norm, **kw):
            self.calls.append((norm, kw))
            return SimpleNamespace(negative_control=bool(set(kw) & {"claimed", "shallow"}), figures=[])

        def plot_recognized(self, rows, path):
            return str(path)
    for quick, want in ((True, []), (False, [{}, {"claimed": "l2"}, {"shallow": True}])):
        rec = Recorder()
        thm34_recognized_suite(rec, quick, tmp_path)
        assert [kw for nm, kw in rec.calls if nm == "spectral"] == want
