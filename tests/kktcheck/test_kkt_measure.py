"""The Fenchel-Young KKT measure (kktcheck/kkt/fy.py): zero at known KKT points, positive elsewhere, continuous
through ties and kinks (the regression of issue 10: the old eps_rel stayed bounded away), scale free."""
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.testing.cases import kinked_two_layer
from kktcheck import reference as R
from kktcheck.clarke import band_slope_interval

ZERO = 1e-7  # solver precision (Clarabel gap 1e-9, certificate recomputed in float64)


@pytest.mark.parametrize("name", ["l2", "l1", "linf", "lp:3"])
def test_measure_vanishes_at_linear_max_margin(name):
    """The SVM solution (cvxpy, independent of kc.residual) is a KKT point; linf has tied coordinates."""
    p = R.linear_max_margin(name)
    res = kc.residual(p.theta, p.data, model=p.model, norm=name)
    assert res.measure_source == "program" and res.measure <= ZERO, res
    assert res.ok() and res.verdict().startswith("approximately KKT")
    scale = np.abs(p.lambda_star).max()
    np.testing.assert_allclose(res.measure_multipliers, p.lambda_star, atol=1e-4 * scale)


def test_linf_reference_has_ties():
    w = R.linear_max_margin("linf").theta_star[0].numpy().reshape(-1)
    assert (np.abs(w) >= (1 - 1e-8) * np.abs(w).max()).sum() >= 2


@pytest.mark.parametrize("factory", [R.two_layer_dead_neuron, R.two_layer_clarke_needed])
def test_measure_vanishes_at_two_layer_kkt_points(factory):
    p = factory()
    res = kc.residual(p.model, p.data, norm="l2")
    assert res.clarke == "two-layer-exact" and res.measure <= ZERO, res
    # for l2 the measure is 1/2 eps_rel^2: lambda is determined to about sqrt(solver precision)
    np.testing.assert_allclose(res.measure_multipliers, p.lambda_star, atol=1e-4)


def test_measure_positive_at_non_kkt_points():
    for name in ("l2", "l1", "linf"):
        p = R.linear_max_margin(name, perturbed=True)
        res = kc.residual(p.theta, p.data, model=p.model, norm=name)
        assert res.status == "optimal" and res.measure > 1e-2, res
        assert res.verdict().startswith("not KKT") and not res.ok()
    p = R.two_layer_unbalanced()
    assert kc.residual(p.model, p.data, norm="l2").measure > 1e-2
    p = R.two_layer_clarke_needed()  # the autodiff element relu'(0) = 0 alone is the negative control
    assert kc.residual(p.model, p.data, norm="l2", clarke="autodiff").measure > 1e-2


@pytest.mark.parametrize("name, old_floor", [("linf", 0.5), ("l1", 0.2)])
def test_measure_tends_to_zero_along_untied_sequence(name, old_floor):
    """theta_k = KKT point + eps_k d never has exact ties/zeros; the measure goes to 0 linearly in eps_k while
    the old tie-tolerance residual eps_rel stays bounded away from 0 (the discontinuity of issue 10)."""
    p = R.linear_max_margin(name)
    w = p.theta_star[0].numpy().reshape(-1)
    d = np.random.default_rng(5).standard_normal(w.size)
    eps = np.array([1e-2, 1e-3, 1e-4])
    meas, old = [], []
    for e in eps:
        res = kc.residual([torch.tensor((w + e * np.abs(w).max() * d).reshape(1, -1))], p.data, model=p.model,
                          norm=name)
        assert res.status == "optimal"
        meas.append(res.measure)
        old.append(res.stationarity_rel)
    meas = np.array(meas)
    slope = np.polyfit(np.log(eps), np.log(meas), 1)[0]
    assert 0.85 <= slope <= 1.15, (meas, slope)
    assert meas[-1] <= 10 * eps[-1] and np.all(np.diff(meas) < 0)
    assert min(old) > old_floor, old


def _rotate_second_neuron(p, angle_offset):
    W = p.model[0].weight.detach().clone()
    t = W[1].norm()
    a = np.pi / 4 + angle_offset  # <w2, x_A> = sqrt2 |w2| sin(-angle_offset) < 0 for offset > 0: relu inactive
    W[1] = t * torch.tensor([np.cos(a), np.sin(a)], dtype=torch.float64)
    return [W, p.model[2].weight.detach().clone()]


def test_measure_continuous_through_relu_kink():
    """Approaching the kink of the Clarke reference from the inactive side: the exact Clarke set is the
    autodiff singleton there (measure bounded away); the band of radius 1e-3 gives a measure -> 0."""
    p = R.two_layer_clarke_needed()
    eps = np.array([1e-5, 1e-6, 1e-7])
    band = [kc.residual(_rotate_second_neuron(p, e), p.data, model=p.model).measure for e in eps]
    exact = [kc.residual(_rotate_second_neuron(p, e), p.data, model=p.model, clarke_radius=0.0).measure
             for e in eps]
    assert all(b <= 2 * e for b, e in zip(band, eps)), band
    assert min(exact) > 0.1, exact


def test_band_holds_the_whole_slope_interval_within_half_the_radius():
    """The Clarke reference needs slope 1 at the second neuron's kink. Rotated to the inactive side by zeta = 0.25 r
    and 0.45 r (r = 1e-3) the band still holds [0, 1], so M is only the rotation's own O(zeta) (a ramp interval
    [0, 1 + zeta / r] would cap the slope at 0.55-0.75: M ~ 0.03); at 0.9 r the band has narrowed to [0, 0.2] and at
    1.2 r the pair has left it (M = the exact Clarke set's 0.111): continuous, not flat."""
    p = R.two_layer_clarke_needed()
    got = {z: kc.residual(_rotate_second_neuron(p, z * 1e-3), p.data, model=p.model).measure
           for z in (0.25, 0.45, 0.9, 1.2)}
    exact = kc.residual(_rotate_second_neuron(p, 1.2e-3), p.data, model=p.model, clarke_radius=0.0).measure
    assert got[0.25] <= 1e-3 and got[0.45] <= 1e-3, got
    assert 0.05 < got[0.9] < got[1.2] and got[1.2] == pytest.approx(exact, rel=1e-6), (got, exact)


def test_band_slope_interval_is_a_continuous_trapezoid():
    zr = np.linspace(-1.5, 1.5, 30001)
    lo, hi = band_slope_interval(zr)
    inside = np.abs(zr) <= 0.5
    assert np.all(lo[inside] == 0) and np.all(hi[inside] == 1)                  # the whole Clarke interval
    assert np.all(lo[zr >= 1] == 1) and np.all(hi[zr <= -1] == 0)                # one-sided slope outside
    assert np.all((lo <= 1.0 * (zr > 0)) & (1.0 * (zr > 0) <= hi))             # contains the true slope
    step = zr[1] - zr[0]
    assert np.abs(np.diff(lo)).max() <= 2 * step + 1e-12 and np.abs(np.diff(hi)).max() <= 2 * step + 1e-12


@pytest.mark.parametrize("c", [1e-3, 7.5, 1e3])
def test_scale_invariance(c):
    for p, name in ((R.linear_max_margin("linf", perturbed=True), "linf"), (R.two_layer_unbalanced(), "l1")):
        base = kc.residual(p.theta, p.data, model=p.model, norm=name)
        scaled = kc.residual([c * t for t in p.theta], p.data, model=p.model, norm=name)
        assert scaled.measure == pytest.approx(base.measure, rel=1e-6, abs=1e-9)
        # the A.13 bound is NOT scale free (its weights e^{-q_i(theta)} depend on ||theta||), but it always bounds
        assert scaled.measure <= scaled.measure_bound + 1e-9


@pytest.mark.parametrize("own, other", [("l1", "l2"), ("linf", "l1"), ("l2", "linf")])
def test_max_margin_linear_is_kkt_in_its_own_norm_only(own, other):
    X, y = R.separable_data(20, 5, seed=3)
    w = np.asarray(kc.max_margin_linear(X, y, norm=own).w, dtype=np.float64).reshape(1, -1)
    net = torch.nn.Linear(5, 1, bias=False).double()
    mine = kc.residual([torch.tensor(w)], (X, y), model=net, norm=own)
    theirs = kc.residual([torch.tensor(w)], (X, y), model=net, norm=other)
    assert mine.measure <= 1e-6, mine
    assert theirs.measure > 1e-3 and theirs.verdict().startswith("not KKT"), theirs


def test_a13_bound_matches_the_certificate_module():
    """beta from kc.a13_certificate (an independent computation at theta) equals the bound's beta; the bound
    is an upper bound of the program's minimum and at most the A.13 value max(1 - beta, s)."""
    for name in ("l2", "linf"):
        p = R.linear_max_margin(name, perturbed=True)
        res = kc.residual(p.theta, p.data, model=p.model, norm=name)
        cert = kc.a13_certificate(p.theta, p.data, model=p.model, norm=name, stationarity=False)
        assert res.beta == pytest.approx(cert.beta, rel=1e-10)
        assert res.measure <= res.measure_bound + 1e-9 <= res.a13_value + 2e-9
        assert res.a13_value >= 1 - cert.beta - 1e-12


@pytest.mark.parametrize("name", ["l2", "l1", "linf"])
def test_program_matches_a_direct_formulation(name):
    """The measure program (scaled variables, Gram split for l2) against the textbook P-dimensional program
    min_lambda max(FY(x, J^T lambda) / rho^2, (q - 1) . lambda / rho^2) written here with cvxpy (linear model: L = 1,
    the Jacobian rows are y_i x_i and no Clarke columns)."""
    import cvxpy as cp
    p = R.linear_max_margin(name, perturbed=True)
    res = kc.residual(p.theta, p.data, model=p.model, norm=name)
    X, y = p.data
    x = np.concatenate([b.reshape(-1) for b in res.theta_tilde])
    J = y[:, None] * X
    q = J @ x
    rho = {"l2": np.linalg.norm(x), "l1": np.abs(x).sum(), "linf": np.abs(x).max()}[name]
    lam = cp.Variable(len(q), nonneg=True)
    u = J.T @ lam
    dual = {"l2": cp.norm(u, 2), "l1": cp.norm(u, "inf"), "linf": cp.norm(u, 1)}[name]
    fy = 0.5 * rho ** 2 + 0.5 * cp.square(dual) - x @ u
    prob = cp.Problem(cp.Minimize(cp.maximum(fy / rho ** 2, (q - 1) @ lam / rho ** 2)))
    prob.solve(solver="CLARABEL")
    assert res.status == "optimal" and prob.status in ("optimal", "optimal_inaccurate")
    assert res.measure == pytest.approx(prob.value, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_l1_row_generation_matches_the_full_program(seed):
    """l1 (auto) uses the working set (kkt/fy_working.py); method="generic" runs the full P-row program."""
    net, data = kinked_two_layer(seed, n=10, d=12, m=20)
    fast = kc.residual(net, data, norm="l1", pair=False)
    full = kc.residual(net, data, norm="l1", method="generic", pair=False)
    assert fast.status == full.status == "optimal" and fast.clarke == "two-layer-exact"
    assert fast.measure == pytest.approx(full.measure, rel=1e-6, abs=1e-9)
