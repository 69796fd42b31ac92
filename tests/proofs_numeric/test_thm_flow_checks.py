"""Theorem checks on steepest-flow trajectories: positive cases pass, negative controls fail."""
import pytest

from proofs_numeric.checks import flow_checks as fc

NORMS = ["l2", "l1", "linf", "spectral"]


@pytest.mark.parametrize("norm", NORMS)
def test_prop_a3(norm):
    assert fc.check_prop_a3(norm).passed


def test_prop_a3_wrong_direction_fails():
    r = fc.check_prop_a3("linf", direction_norm="l2")
    assert r.negative_control and not r.passed


@pytest.mark.parametrize("norm", NORMS)
def test_thm31_monotone(norm):
    r = fc.check_thm31_monotone(norm)
    assert r.passed, r.detail


@pytest.mark.parametrize("seed", [1, 3])
def test_thm31_monotone_coordinate_descent_other_seeds(seed):
    from proofs_numeric.flow.cases import separated_case
    r = fc.check_thm31_monotone("l1", case=separated_case(seed))
    assert r.passed, r.detail


def test_thm31_monotone_nonhomogeneous_fails():
    r = fc.check_thm31_monotone("l2", negative=True)
    assert r.negative_control and not r.passed


@pytest.mark.parametrize("norm", NORMS)
def test_thm31_inequality(norm):
    assert fc.check_thm31_inequality(norm).passed


def test_thm31_inequality_nonhomogeneous_fails():
    assert not fc.check_thm31_inequality("l2", negative=True).passed


@pytest.mark.parametrize("norm", ["l2", "linf", "l1"])
def test_lemma_a7(norm):
    assert fc.check_lemma_a7(norm).passed


def test_lemma_a7_mean_loss_fails():
    assert not fc.check_lemma_a7("l2", mean_loss=True).passed


def test_remark32_own_norm_monotone_other_not():
    assert fc.check_other_norm_monotone("linf", "linf").passed
    r = fc.check_other_norm_monotone("linf", "l2")
    assert r.negative_control and not r.passed


def test_lemma_a6():
    assert fc.check_lemma_a6("l2").passed
    r = fc.check_lemma_a6("l2", negative=True, max_steps=400)
    assert r.negative_control and not r.passed


def test_lemma_a6_at_depth_1e300():
    """log10 L = -1e300 with the late-phase integrator, every recorded number finite; the non-separable control
    run with the same rule and target fails."""
    import math
    from proofs_numeric.flow import RidgeStep
    kw = dict(target_log_loss=-1e300 * math.log(10), step=RidgeStep(0.5), max_steps=20_000, max_seconds=60.0)
    r = fc.check_lemma_a6("l2", **kw)
    assert r.passed and r.detail["all_finite"] and r.measured <= -1e300 * math.log(10)
    ctl = fc.check_lemma_a6("l2", negative=True, **dict(kw, max_steps=300))
    assert ctl.negative_control and not ctl.passed


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
def test_gunasekar(norm):
    r = fc.check_gunasekar(norm)
    assert r.passed, r.detail


def test_gunasekar_relative_steps_leave_the_flow_for_sign_descent():
    """Documented limitation: relative steps move q_i by O(h ||theta||), far more than the softmax scale,
    and Euler sign descent then chatters below the linf optimum (about 20% low on linear_case)."""
    from proofs_numeric.flow import RelativeStep, integrate
    from proofs_numeric.flow.cases import linear_case
    import kktcheck as kc
    m, th, data = linear_case()
    tr = integrate(m, th, data, norm="linf", step=RelativeStep(0.02), max_steps=1000, margin_norms=())
    opt = kc.max_margin_linear(data[0].numpy(), data[1].numpy(), norm="linf").margin
    assert tr.margin[-1] < 0.9 * opt


def test_gunasekar_wrong_norm_fails():
    r = fc.check_gunasekar("l2", measure_norm="l1")
    assert r.negative_control and not r.passed


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_solver_order(solver):
    r = fc.check_solver_order(solver)
    assert r.passed, r.detail


def test_solver_wrong_declared_order_fails():
    r = fc.check_solver_order("euler", declared_order=2)
    assert r.negative_control and not r.passed


def test_flow_margins_figure_is_drawn_from_the_gunasekar_checks_runs(tmp_path):
    """The figure beside the gunasekar rows re-uses their runs (cache hits, no new integration) and its caption
    names those checks and their step rule."""
    from proofs_numeric.checks import flow_checks as fc
    from proofs_numeric.checks import suites
    checks = [fc.check_gunasekar(nm) for nm in suites.NORMS]
    before = fc.gunasekar_run.cache_info()
    fig = suites._margins_figure(fc, tmp_path, checks)
    after = fc.gunasekar_run.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3
    assert "gunasekar-l2, gunasekar-l1, gunasekar-linf" in fig.caption and "ConstantStep(0.25)" in fig.caption
    assert (tmp_path / "flow_margins.png").read_bytes()[:4] == b"\x89PNG"
