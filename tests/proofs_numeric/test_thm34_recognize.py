"""Theorem 3.4 recognized (proofs_numeric.checks.thm34_recognize_checks): on a deep GD (l2), coordinate-descent
(l1) and sign-descent (linf) run of a small two-layer teacher-student ReLU net, kc.residual says approximately KKT
in the algorithm's own norm and not KKT in the others; claiming another norm, or the same run stopped at
log10 L = -10, fails.

The runs and measures are cached in the module (functools.lru_cache): each run is integrated once (about 2-3 s)."""
import pytest
import torch

import kktcheck as kc
from proofs_numeric.checks.thm34_recognize_checks import (SHALLOW, check_kkt_recognized, feasible_average,
                                                          recognize_case,
                                                          run_snapshots)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("norm,tol,others", [("l2", 1e-3, ("linf", "l1")), ("l1", 1e-2, ("l2", "linf")),
                                             ("linf", 1e-3, ("l2", "l1"))])
def test_deep_run_is_kkt_in_its_own_norm_and_not_in_the_others(norm, tol, others):
    own = check_kkt_recognized(norm)
    assert own.detail["run_status"] == "success" and own.detail["final_log10_loss"] <= -1e5
    assert own.passed and not own.negative_control and own.tolerance == tol, own.detail
    m, verdicts = own.detail["final"], own.detail["verdicts"]
    assert m[norm] <= tol and all(m[o] > tol for o in others)
    assert verdicts == {norm: "approximately KKT", **{o: "not KKT" for o in others}}
    for o in others:      # the negative control: the same measure, claimed in another norm
        ctl = check_kkt_recognized(norm, claimed=o)
        assert ctl.negative_control and not ctl.passed and ctl.as_expected, ctl.detail
        assert ctl.measured == pytest.approx(m[o], rel=1e-12)


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
def test_the_same_check_fails_on_a_shallow_iterate(norm):
    ctl = check_kkt_recognized(norm, shallow=True)
    assert ctl.detail["final_log10_loss"] == pytest.approx(SHALLOW, abs=1.0)
    assert ctl.negative_control and not ctl.passed and ctl.as_expected, ctl.detail
    assert ctl.measured > ctl.tolerance


def test_feasible_average_is_scale_free_and_lands_on_the_feasible_boundary():
    model, theta0, data = recognize_case()
    w, a = run_snapshots(model, theta0, data, "l2", stages=((0.05, -2.0),), max_seconds=30.0)["params"][-1]
    avg = feasible_average([[w, a], [3.0 * w, 3.0 * a], [0.01 * w, 0.01 * a]], data, model)
    q = kc.sample_margins(avg, data, model=model)
    assert float(q.min()) == pytest.approx(1.0, rel=1e-12)        # on the boundary of (MM)'s feasible set
    tilde = kc.feasible_rescaling([w, a], float(kc.sample_margins([w, a], data, model=model).min()), model.degree)[0]
    for got, want in zip(avg, tilde):
        assert torch.allclose(got, want, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="at least one"):
        feasible_average([], data, model)


def test_bad_case_or_missing_schedule_is_a_value_error():
    with pytest.raises(ValueError, match="unknown kind"):
        recognize_case("huge")
    with pytest.raises(ValueError, match="no default stages"):
        check_kkt_recognized("linf", kind="three-layer")


def test_plot_recognized_writes_one_png_with_a_bar_group_per_row(tmp_path):
    from proofs_numeric.checks.thm34_recognize_checks import plot_recognized
    rows = [check_kkt_recognized("l2"), check_kkt_recognized("l1")]
    path = plot_recognized(rows, tmp_path / "recognized.png")
    assert path.endswith("recognized.png") and (tmp_path / "recognized.png").stat().st_size > 10_000
