"""The linf measure (dual norm l1) by a smoothed start and sign cuts (kkt/fy_linf_smooth.py, kkt/fy_linf_cuts.py).

* the two-layer products of the smoothed start equal G z and G^T w of the Combination (a wrong reshape or a
  dropped band term fails);
* with every row a kink row the linear program is the measure program itself: in both forms (direction, tangent)
  its optimum equals the generic cvxpy program, and its multipliers v certify it: LB(t, v) of kkt/fy_dual.py meets
  the upper bound to 1e-8 (a wrong sign in v leaves a gap: checked by flipping it);
* with few kink rows and one sign cut the program is a relaxation: its value lies below the measure;
* GD-trained nets far from KKT (the benchmark's regime, small): kc.residual(norm="linf") equals the generic
  program to 1e-6 with certified gap <= 1e-8, with the exact Clarke set and with the band, on both paths (all
  rows at once; the smoothed start with crash basis and kink rows, forced by SMALL = 0);
* a time limit gives status time_limit and an honest interval (lower bound <= generic optimum <= reported value).
"""
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.kkt import fy_linf_cuts, fy_linf_smooth, fy_working
from kktcheck.testing.cases import gd_trained_two_layer


def _trained(seed, n=40, d=30, m=20, steps=150):
    """GD-trained (logistic loss) bias-free two-layer ReLU net on Gaussian data with random labels, keeping the
    correctly classified points (the measure needs them)."""
    net, X, y = gd_trained_two_layer(n, d, m, steps, seed)
    with torch.no_grad():
        keep = (torch.from_numpy(y) * net(torch.from_numpy(X))[:, 0]) > 1e-3
    return net, (X[keep.numpy()], y[keep.numpy()])


def _problem(net, data, radius, monkeypatch):
    """The fy_working problem of kc.residual(net, data, norm="linf", clarke_radius=radius) (captured)."""
    seen = {}

    def spy(nrm, theta, q, L, G, owner, *a, **k):
        seen["pb"] = fy_working._Problem(nrm, theta, q, L, G, owner)
        seen["start"] = k.get("start")
        raise RuntimeError("captured")
    monkeypatch.setattr(fy_working, "program", spy)
    with pytest.raises(RuntimeError, match="captured"):
        kc.residual(net, data, norm="linf", pair=False, clarke_radius=radius)
    monkeypatch.undo()
    return seen["pb"], seen["start"]


def test_two_layer_products_equal_the_combination(monkeypatch):
    net, data = _trained(0, n=30, d=8, m=6, steps=60)
    pb, _ = _problem(net, data, 0.2, monkeypatch)
    assert pb.k > 0
    op = fy_linf_smooth.ProductMap(pb.G, pb.owner)
    assert op.tl is not None
    rng = np.random.default_rng(1)
    z, w = rng.random(pb.n + pb.k), rng.standard_normal(pb.G.J0.shape[1])
    dense = pb.G.dense()
    assert np.allclose(op @ z, dense @ z, rtol=1e-13, atol=1e-13)
    assert np.allclose(op.rmatvec(w), dense.T @ w, rtol=1e-13, atol=1e-13)


def _all_rows_lp(pb, direction):
    z = np.full(pb.n + pb.k, 1.0 / pb.n)
    z[pb.n:] = 0.0
    r = pb.scale * (pb.G @ z)
    return fy_linf_cuts._model(pb, direction, z, r, np.arange(r.size), np.sign(r))


@pytest.mark.parametrize("radius", [0.0, 0.2])
def test_all_rows_program_is_certified_by_its_multipliers(radius, monkeypatch):
    net, data = _trained(1, n=16, d=5, m=4, steps=60)
    ref = kc.residual(net, data, norm="linf", pair=False, clarke_radius=radius, method="generic")
    assert ref.status == "optimal" and 0.01 < ref.measure < 0.5
    pb, _ = _problem(net, data, radius, monkeypatch)
    for direction in (False, True):
        pb.best, pb.lower = None, -np.inf
        out = _all_rows_lp(pb, direction).solve()
        assert out["status"] == "optimal"
        pb.upper(out["z"])
        pb.bound(out["v"], out["z"], out["hint"])
        if direction and fy_linf_cuts._g_binds(pb, out["z"], pb.scale * (pb.G @ out["z"])):
            continue  # the direction form drops the complementarity term: no claim there
        assert abs(pb.best["value"] - ref.measure) <= 1e-6
        assert pb.gap() <= 1e-8 and pb.lower <= ref.measure + 1e-8
        wrong = pb.lower
        pb.lower = -np.inf
        pb.bound(-out["v"], out["z"], out["hint"])  # the planted sign error: no longer a certificate of M
        assert pb.lower < wrong - 1e-3


def test_few_rows_and_one_sign_cut_is_a_relaxation(monkeypatch):
    net, data = _trained(2, n=24, d=10, m=8, steps=100)
    ref = kc.residual(net, data, norm="linf", pair=False, clarke_radius=0.0, method="generic")
    pb, _ = _problem(net, data, 0.0, monkeypatch)
    z = np.full(pb.n + pb.k, 1.0 / pb.n)
    r = pb.scale * (pb.G @ z)
    lp = fy_linf_cuts._model(pb, False, z, r, np.argsort(np.abs(r))[:5], np.sign(r))
    out = lp.solve()
    value = lp.hs.getInfo().objective_function_value
    assert out["status"] == "optimal" and value <= ref.measure + 1e-9


@pytest.mark.parametrize("small", [True, False], ids=["all-rows", "smoothed-start"])
@pytest.mark.parametrize("radius", [0.0, 1e-3, 0.05])
@pytest.mark.parametrize("seed", [3, 4])
def test_trained_nets_agree_with_the_generic_program(seed, radius, small, monkeypatch):
    """Both paths: all rows in the first program (small P n), and the smoothed start with its crash basis and
    kink rows (forced here by SMALL = 0; the path of the benchmark net)."""
    monkeypatch.setattr(fy_linf_cuts, "SMALL", 2e5 if small else 0.0)
    net, data = _trained(seed)
    fast = kc.residual(net, data, norm="linf", pair=False, clarke_radius=radius)
    full = kc.residual(net, data, norm="linf", pair=False, clarke_radius=radius, method="generic")
    assert full.status == "optimal" and fast.status == "optimal", fast.message
    assert abs(fast.measure - full.measure) <= 1e-6
    assert fast.measure - fast.measure_lower <= 1e-8 and fast.measure_lower <= full.measure + 1e-8
    assert full.measure <= fast.measure + 1e-8


def test_time_limit_gives_an_honest_interval(monkeypatch):
    monkeypatch.setattr(fy_linf_cuts, "SMALL", 0.0)
    net, data = _trained(5, n=60, d=40, m=30)
    full = kc.residual(net, data, norm="linf", pair=False, clarke_radius=0.0, method="generic")
    cut = kc.residual(net, data, norm="linf", pair=False, clarke_radius=0.0, time_limit=0.05)
    assert cut.status == "time_limit"
    assert not cut.measure_lower > full.measure + 1e-8 and cut.measure >= full.measure - 1e-8


def test_the_norm_family_routes_linf_here(monkeypatch):
    """kc.residual(norm="linf") runs fy_linf_cuts.run (and l1 does not)."""
    calls = []
    original = fy_linf_cuts.run
    monkeypatch.setattr(fy_linf_cuts, "run", lambda *a, **k: calls.append(1) or original(*a, **k))
    net, data = _trained(6, n=12, d=4, m=3, steps=40)
    kc.residual(net, data, norm="l1", pair=False)
    assert not calls
    kc.residual(net, data, norm="linf", pair=False)
    assert calls
