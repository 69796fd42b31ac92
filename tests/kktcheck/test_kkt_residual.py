"""kc.residual on reference problems with known answers, certificates, and the fast formulations."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck import reference as R

NORMS = ["l2", "l1", "linf", "lp:3", "spectral"]


@pytest.mark.parametrize("name", NORMS)
def test_linear_max_margin_is_kkt_and_perturbation_is_not(name):
    p = R.linear_max_margin(name)
    res = kc.residual(p.theta, p.data, model=p.model, norm=p.norm)
    assert res.ok(1e-6), res
    assert res.stationarity_rel <= 1e-6 and res.complementarity_rel <= 1e-6
    scale = np.abs(p.lambda_star).max()
    np.testing.assert_allclose(res.multipliers, p.lambda_star, atol=1e-5 * scale)
    bad = R.linear_max_margin(name, perturbed=True)
    res_bad = kc.residual(bad.theta, bad.data, model=bad.model, norm=bad.norm)
    assert res_bad.status.startswith("optimal")
    assert res_bad.objective > 1e-2 and not res_bad.ok(1e-6)


def test_linear_direction_matches_max_margin_linear_if_available():
    try:
        mm = kc.max_margin_linear
    except (AttributeError, ImportError):
        pytest.skip("kc.max_margin_linear not available yet")
    p = R.linear_max_margin("l1")
    out = mm(*p.data, norm="l1")
    w = p.theta_star[0].numpy().reshape(-1)
    np.testing.assert_allclose(np.asarray(out.w).reshape(-1), w / np.abs(w).sum(), atol=1e-6)


def test_two_layer_dead_neuron_is_kkt_with_hand_multipliers():
    p = R.two_layer_dead_neuron()
    res = kc.residual(p.model, p.data, norm="l2")
    assert res.clarke == "two-layer-exact"
    assert res.ok(1e-7)
    np.testing.assert_allclose(res.multipliers, p.lambda_star, atol=1e-7)
    np.testing.assert_array_equal(res.active_set, [0, 1])


def test_feasible_but_not_kkt():
    p = R.two_layer_unbalanced()
    res = kc.residual(p.model, p.data, norm="l2")
    assert res.primal_feasibility == 0.0
    assert res.objective > 0.1 and not res.ok(1e-3)
    for name in ("l2", "l1", "linf"):  # two-layer with Clarke columns: fast formulations = generic
        fast = kc.residual(p.model, p.data, norm=name)
        ref = kc.residual(p.model, p.data, norm=name, method="generic")
        assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


def test_clarke_set_needed_and_autodiff_is_the_negative_control():
    p = R.two_layer_clarke_needed()
    exact = kc.residual(p.model, p.data, norm="l2")
    auto = kc.residual(p.model, p.data, norm="l2", clarke="autodiff")
    assert exact.clarke == "two-layer-exact" and auto.clarke == "autodiff"
    assert exact.ok(1e-7)
    np.testing.assert_allclose(exact.multipliers, p.lambda_star, atol=1e-7)
    assert auto.objective > 0.1


@pytest.mark.parametrize("name", NORMS + ["nuclear"])
def test_certificate_recheck_with_numpy(name):
    p = R.linear_max_margin(name if name != "nuclear" else "l2", perturbed=True)
    res = kc.residual(p.theta, p.data, model=p.model, norm=name)
    # complementarity by hand from the certificate's multipliers and margins: sum_i lambda_i (q_i - 1)
    lam, q = np.asarray(res.multipliers), np.asarray(res.q)
    assert res.complementarity == pytest.approx(float(lam @ (q - 1.0)), rel=1e-9, abs=1e-15)
    # the certificate's h lies in d(1/2||theta_tilde||^2) and reproduces eps by hand
    nrm = kc.norm(name)
    h = [torch.from_numpy(b) for b in res.h]
    tt = [torch.from_numpy(b) for b in res.theta_tilde]
    assert nrm.dual(h) == pytest.approx(nrm(tt), rel=1e-6)
    lam_k = res.k.T @ res.multipliers
    assert res.stationarity == pytest.approx(nrm.dual([h[0] - torch.from_numpy(lam_k.reshape(h[0].shape))]),
                                             rel=1e-9)


def _small_relu_net(seed, d=3, m=4, n=8):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(d, m, bias=False), torch.nn.ReLU(), torch.nn.Linear(m, 1, bias=False))
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        out = net(X)[:, 0]
    keep = out.abs() > 1e-3  # drop samples on which every neuron is dead (q_i = 0 has no (MM) rescaling)
    return net, (X[keep].numpy(), torch.sign(out[keep]).numpy())


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 16), name=st.sampled_from(["l2", "l1", "linf"]))
def test_fast_formulations_agree_with_generic(seed, name):
    net, data = _small_relu_net(seed)
    fast = kc.residual(net, data, norm=name)
    ref = kc.residual(net, data, norm=name, method="generic")
    assert fast.method != "generic"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name,method", [("l2", "l2-reduced"), ("linf", "active-set"), ("l1", "active-set")])
def test_fast_formulations_pinned_case(name, method):
    net, data = _small_relu_net(3, d=4, m=6, n=10)
    fast = kc.residual(net, data, norm=name, method=method)
    ref = kc.residual(net, data, norm=name, method="generic")
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-8)


def test_user_sequential_trained_by_plain_loop():
    """float32 nn.Sequential trained by the user's own loop works as is (converted to float64 inside)."""
    torch.manual_seed(0)
    X = torch.randn(16, 3)
    y = torch.sign(X[:, 0] + 0.5 * X[:, 1])
    net = torch.nn.Sequential(torch.nn.Linear(3, 8, bias=False), torch.nn.ReLU(), torch.nn.Linear(8, 1, bias=False))
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(1500):
        opt.zero_grad()
        loss = torch.exp(-y * net(X)[:, 0]).mean()
        loss.backward()
        opt.step()
    res = kc.residual(net, (X, y))
    assert res.status == "optimal" and res.degree == 2 and res.clarke == "two-layer-exact"
    assert res.theta_tilde[0].dtype == np.float64 and next(net.parameters()).dtype == torch.float32
    # the pair's objective recomputed by hand from the certificate (h, k, lambda, q), not from verify()
    nrm, tt = kc.norm("l2"), [torch.from_numpy(b) for b in res.theta_tilde]
    h = torch.cat([torch.from_numpy(b).reshape(-1) for b in res.h])
    eps = float(torch.linalg.vector_norm(h - torch.from_numpy(res.k.T @ res.multipliers)))
    comp = float(res.multipliers @ (np.asarray(res.q) - 1.0))
    assert res.objective == pytest.approx(max(eps / nrm(tt), 2 * comp / nrm(tt) ** 2), rel=1e-9, abs=1e-12)
    assert min(res.q) == pytest.approx(1.0, rel=1e-12)  # theta_tilde = theta / q_min^(1/L) is feasible, tight


def test_proofs_numeric_two_layer_is_detected():
    pn = pytest.importorskip("proofs_numeric.models")
    m = pn.TwoLayerReLU(2, 3)
    p = R.two_layer_dead_neuron()
    params = [p.theta[0], p.theta[1].reshape(1, 3)]
    res = kc.residual(params, p.data, model=m)
    assert res.clarke == "two-layer-exact" and res.ok(1e-7)


def test_deeper_net_uses_the_deep_band_and_says_so():
    g = torch.Generator().manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.ReLU(), torch.nn.Linear(4, 4, bias=False),
                              torch.nn.ReLU(), torch.nn.Linear(4, 1, bias=False)).double()
    with torch.no_grad():
        for q in net.parameters():
            q.copy_(torch.randn(q.shape, generator=g, dtype=torch.float64))
        X = torch.randn(6, 3, generator=g, dtype=torch.float64)
        y = torch.sign(net(X)[:, 0])
    res = kc.residual(net, (X, y))
    assert res.clarke == "deep-relu-band" and res.degree == 3 and res.status == "optimal"   # kktcheck/clarke_deep.py
    assert kc.residual(net, (X, y), clarke="autodiff").clarke == "autodiff"


@pytest.mark.parametrize("name", ["l1", "linf"])
def test_tie_tolerance_matters_and_zero_tolerance_is_the_negative_control(name):
    """The solver's max-margin point has near-ties (linf) / near-zeros (l1) at the 1e-9 level: with the
    documented tolerance it is KKT, with tol = 0 (exact, singleton subdifferential) it is not."""
    p = R.linear_max_margin(name)
    assert kc.residual(p.theta, p.data, model=p.model, norm=name).ok(1e-6)
    exact = kc.residual(p.theta, p.data, model=p.model, norm=name, tol=0.0)
    assert exact.objective > 0.1


def test_spectral_compression_agrees_with_generic():
    """Few samples, wide layers: the compressed spectral program has the generic optimum."""
    net, data = _small_relu_net(5, d=8, m=10, n=4)
    fast = kc.residual(net, data, norm="spectral")
    ref = kc.residual(net, data, norm="spectral", method="generic")
    assert fast.method == "compressed" and ref.method == "generic"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-8)
    p = R.linear_max_margin("spectral", n=3, d=8)
    assert kc.residual(p.theta, p.data, model=p.model, norm="spectral").method == "compressed"
    assert kc.residual(p.theta, p.data, model=p.model, norm="spectral").ok(1e-6)
    bad = R.linear_max_margin("spectral", n=3, d=8, perturbed=True)  # non-degenerate: 0 < objective < 1
    fast = kc.residual(bad.theta, bad.data, model=bad.model, norm="spectral")
    ref = kc.residual(bad.theta, bad.data, model=bad.model, norm="spectral", method="generic")
    assert 1e-2 < ref.objective < 0.9
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


@settings(max_examples=4)
@given(seed=st.integers(0, 1000), name=st.sampled_from(["l2", "l1", "linf"]))
def test_fast_formulations_agree_on_non_degenerate_points(seed, name):
    """Perturbed max-margin points (mostly 0 < objective < 1): fast and generic optima agree."""
    from hypothesis import assume
    try:
        p = R.linear_max_margin(name, n=10, d=5, seed=seed, perturbed=True, perturbation=0.1)
    except RuntimeError:
        assume(False)
    fast = kc.residual(p.theta, p.data, model=p.model, norm=name)
    ref = kc.residual(p.theta, p.data, model=p.model, norm=name, method="generic")
    assert fast.method != "generic"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6)


@pytest.mark.parametrize("name", ["l2", "l1", "linf"])
def test_fast_formulations_agree_pinned_non_degenerate(name):
    p = R.linear_max_margin(name, perturbed=True)
    fast = kc.residual(p.theta, p.data, model=p.model, norm=name)
    ref = kc.residual(p.theta, p.data, model=p.model, norm=name, method="generic")
    assert 0.01 < ref.objective < 0.99 and ref.multipliers.max() > 0  # lambda = 0 is not optimal here
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6)
