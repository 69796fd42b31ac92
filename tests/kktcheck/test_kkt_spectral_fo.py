"""The spectral-norm KKT measure without an SDP (kkt/spectral_fo.py) against the generic cvxpy SDP.

Every agreement test also checks the certificate: the first-order result is 'optimal' only when its certified
interval [lower, upper] is narrower than 1e-7, and the SDP value must lie in that interval."""
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.kkt import spectral_fo
from kktcheck.testing.cases import random_two_layer

AGREE = 1e-6


def _relu_net(n, d, m, seed, steps=0):
    """Two-layer bias-free ReLU net (random init, labels from a random teacher; ``steps`` GD steps)."""
    g = torch.Generator().manual_seed(seed)
    net, X = random_two_layer(g, n, d, m)
    with torch.no_grad():
        y = torch.sign(net(X)[:, 0] + 0.3 * torch.randn(n, generator=g, dtype=torch.float64))
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.softplus(-y * net(X)[:, 0]).mean().backward()
        opt.step()
    with torch.no_grad():
        keep = y * net(X)[:, 0] > 1e-3
    return net, (X[keep].numpy(), y[keep].numpy())


def _matrix_problem(a=4, b=5, n=10, seed=0, perturb=0.0, rank_one=False):
    """f(X; W) = <W, X> (degree 1, one a x b matrix): the spectral max-margin W* (cvxpy), optionally perturbed.
    rank_one: inputs X_i = u_i v_i^T, so the layer compresses to the span of the u_i and v_i."""
    import cvxpy as cp
    from proofs_numeric.models import MatrixLinear
    rng = np.random.default_rng(seed)
    X = np.einsum("ia,ib->iab", rng.normal(size=(n, a)), rng.normal(size=(n, b))) if rank_one else \
        rng.normal(size=(n, a, b))
    W0 = rng.normal(size=(a, 2)) @ rng.normal(size=(2, b))
    y = np.sign((X * W0).sum((1, 2)))
    X += 0.3 * y[:, None, None] * W0 / np.linalg.norm(W0)
    W = cp.Variable((a, b))
    cons = [cp.multiply(y, cp.hstack([cp.sum(cp.multiply(Xi, W)) for Xi in X])) >= 1]
    cp.Problem(cp.Minimize(cp.sigma_max(W)), cons).solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10,
                                                         tol_feas=1e-10)
    Wv = W.value + perturb * np.linalg.norm(W.value, 2) * rng.normal(size=(a, b)) / np.sqrt(a * b)
    return MatrixLinear(a, b), (X, y), [torch.tensor(Wv)]


def _both(theta, data, model=None, **kw):
    fo = kc.residual(theta, data, model=model, norm="spectral", method="first-order", pair=False, **kw)
    ref = kc.residual(theta, data, model=model, norm="spectral", method="generic", pair=False, **kw)
    assert fo.method == "first-order" and ref.method == "generic"
    assert ref.status in ("optimal", "optimal_inaccurate") and ref.measure_source == "program"
    return fo, ref


@pytest.mark.parametrize("n, d, m, seed, radius", [
    (6, 5, 10, 0, 0.0),      # n < width, exact Clarke set
    (6, 5, 10, 1, 1e-3),     # n < width, default band
    (20, 4, 5, 2, 0.0),      # n >= width
    (20, 4, 5, 3, 1e-3),
])
def test_two_layer_relu_agrees_with_generic_sdp(n, d, m, seed, radius):
    net, data = _relu_net(n, d, m, seed, steps=100)
    fo, ref = _both(net, data, clarke_radius=radius)
    assert fo.status == "optimal", fo.message
    assert fo.measure == pytest.approx(ref.measure, abs=AGREE)
    assert 1e-3 < ref.measure < 0.5  # not a degenerate value: both terms of the max matter


@pytest.mark.parametrize("n, d, m, seed", [(6, 5, 10, 1), (20, 4, 5, 3)])
def test_wide_band_where_the_band_changes_the_measure(n, d, m, seed):
    """Clarke band of radius 0.2 (full slope interval [0, 1] for |zeta| <= 0.1): the band variables move the optimum
    (by > 1e-3 against the exact set), so an infeasible or ignored band (mu_c > width_c lambda_i, or mu = 0) would show
    as a disagreement or an open gap. (Wider bands hit the first-order path's known limit, a lower bound of 0 when the
    band lets the smallest eigenvalue of the budget reach 0: docs/kkt.md.)"""
    net, data = _relu_net(n, d, m, seed, steps=100)
    fo, ref = _both(net, data, clarke_radius=0.2)
    exact = kc.residual(net, data, norm="spectral", method="generic", pair=False, clarke_radius=0.0)
    assert ref.measure < exact.measure - 1e-3
    assert fo.status == "optimal", fo.message
    assert fo.measure == pytest.approx(ref.measure, abs=AGREE)


def test_matrix_model_agrees_off_and_at_the_kkt_point():
    model, data, W = _matrix_problem(perturb=0.3)
    fo, ref = _both(W, data, model=model)
    assert fo.status == "optimal" and 1e-2 < ref.measure < 0.5
    assert fo.measure == pytest.approx(ref.measure, abs=AGREE)
    model, data, W = _matrix_problem()  # the spectral max-margin point itself: M = 0
    fo, ref = _both(W, data, model=model)
    assert fo.status == "optimal" and fo.measure <= 1e-6 and ref.measure <= 1e-6
    assert fo.verdict(1e-5).startswith("approximately KKT")


def test_far_from_kkt_measure_near_its_lambda_zero_value():
    """Random init with random labels: M close to its lambda = 0 value 1/2 (M < 1/2 always: by Euler's identity
    a small multiple of an active sample's multiplier lowers FY), and the two programs agree there too."""
    g = torch.Generator().manual_seed(7)
    net, (X, _) = _relu_net(12, 6, 8, 7)
    y = np.where(torch.rand(len(X), generator=g).numpy() < 0.5, -1.0, 1.0)
    with torch.no_grad():
        y = y * np.sign(y * net(torch.from_numpy(X))[:, 0].numpy())  # flip to separable: keep random signs of f
    fo, ref = _both(net, (X, y), clarke_radius=0.0)
    assert fo.measure == pytest.approx(ref.measure, abs=AGREE)
    assert 0.3 < ref.measure < 0.5


def test_certified_interval_contains_the_sdp_value_and_rejects_another():
    """lower <= SDP value <= upper; the interval of a different point (the perturbed one) excludes the KKT
    point's value 0 (negative control: the same containment check fails on a wrong reference)."""
    model, data, W = _matrix_problem(perturb=0.3)
    ref = kc.residual(W, data, model=model, norm="spectral", method="generic", pair=False).measure
    cap = {}
    orig = spectral_fo.program

    def spy(*a, **k):
        cap.update(orig(*a, **k))
        return cap
    import sys
    mod = sys.modules["kktcheck.kkt.residual"]
    mod.spectral_fo.program, saved = spy, mod.spectral_fo.program
    try:
        kc.residual(W, data, model=model, norm="spectral", method="first-order", pair=False)
    finally:
        mod.spectral_fo.program = saved
    assert cap["lower"] - 1e-9 <= ref <= cap["upper"] + 1e-9
    assert not (cap["lower"] <= 0.0 <= cap["upper"])


def test_time_limit_bounds_the_call_and_keeps_an_upper_bound():
    import time
    net, data = _relu_net(20, 4, 5, 3, steps=100)
    ref = kc.residual(net, data, norm="spectral", method="generic", pair=False).measure
    t = time.perf_counter()
    res = kc.residual(net, data, norm="spectral", method="first-order", pair=False, time_limit=0.05)
    assert time.perf_counter() - t < 5.0
    assert res.status in ("time_limit", "optimal")
    assert res.measure_lower - 1e-9 <= ref <= res.measure + 1e-9  # both ends certified, whatever stopped it
    if res.status == "time_limit":
        decided = res.measure_lower > 1e-3
        assert res.verdict().startswith("not KKT: measure in [" if decided else "could not decide")


def test_sdp_too_large_goes_first_order_and_only_memory_refuses():
    net, data = _relu_net(20, 4, 5, 3, steps=100)
    res = kc.residual(net, data, norm="spectral", pair=True, max_sdp=1)
    assert res.method == "first-order" and res.status == "optimal"
    assert res.pair_status == "too_large"  # the (eps, delta) pair is still an SDP
    big = kc.residual(net, data, norm="spectral", pair=False, max_size=10)
    assert big.status == "too_large" and "max_size" in big.message


def test_certified_lower_bound_decides_not_kkt_without_optimality():
    """An approximate result whose certified lower bound exceeds tol says "not KKT"; below it, "could not decide"
    (the control: same result, tol above the lower bound)."""
    net, data = _relu_net(20, 4, 5, 3, steps=100)
    res = kc.residual(net, data, norm="spectral", method="first-order", pair=False)
    assert res.status == "optimal" and res.measure_lower <= res.measure <= res.measure_lower + 1e-7
    res.status, res.measure_lower = "approximate", 0.5 * res.measure  # an open interval [m / 2, m]
    assert res.verdict(0.25 * res.measure).startswith("not KKT: measure in [")
    assert res.verdict(0.75 * res.measure).startswith("could not decide")
    assert res.summary()["measure_lower"] == res.measure_lower


def test_compressed_generic_layers_agree():
    """Layers that are not two-layer W blocks: a matrix model with rank-one inputs (the layer compresses to
    n x n) and a three-layer ReLU net with n < width (compression of the middle layer)."""
    from kktcheck.kkt import spectral_ops
    model, data, W = _matrix_problem(a=8, b=9, n=4, perturb=0.3, rank_one=True)
    fo, ref = _both(W, data, model=model)
    assert fo.status == "optimal" and fo.measure == pytest.approx(ref.measure, abs=AGREE)
    import kktcheck.kkt.spectral_fo as F
    shapes = []
    orig = spectral_ops.compress
    try:
        spectral_ops.compress = lambda *a: shapes.append(orig(*a).shapes) or orig(*a)
        F.ops.compress = spectral_ops.compress
        kc.residual(W, data, model=model, norm="spectral", method="first-order", pair=False)
    finally:
        spectral_ops.compress = F.ops.compress = orig
    assert shapes[0][0][0] * shapes[0][0][1] < 8 * 9  # it did compress
    g = torch.Generator().manual_seed(4)
    X = torch.randn(5, 3, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8, bias=False), torch.nn.ReLU(), torch.nn.Linear(8, 8, bias=False),
                              torch.nn.ReLU(), torch.nn.Linear(8, 1, bias=False)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        out = net(X)[:, 0]
    keep = out.abs() > 1e-3
    fo, ref = _both(net, (X[keep].numpy(), torch.sign(out[keep]).numpy()))
    assert fo.status == "optimal" and fo.measure == pytest.approx(ref.measure, abs=AGREE)
