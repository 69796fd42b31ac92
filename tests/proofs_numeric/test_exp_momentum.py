"""The squared-ReLU model (closed-form Jacobian, degree, kc.residual) and the quick momentum_margins experiment.

The quick run (2 seeds, n = 50, width 24, <= 600 steps) must produce every claim with its control, the controls
must fail, and the recorded margins must equal kc.margin in each norm.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import kktcheck as kc
from kktcheck.model import detect_degree
from proofs_numeric.experiments import get, momentum_margins as M
from proofs_numeric.experiments import _momentum_claims as MC
from proofs_numeric.smooth_models import TwoLayerSquaredReLU

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


def _net(seed=0, d=5, width=7, n=9):
    g = torch.Generator().manual_seed(seed)
    model = TwoLayerSquaredReLU(d, width)
    params = model.init(1.0, g)
    X = torch.randn(n, d, dtype=F64, generator=g)
    y = torch.sign(torch.randn(n, dtype=F64, generator=g))
    return model, params, X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_jacobian_equals_autodiff(seed):
    model, params, X, y = _net(seed)
    q, J = model.margins_jacobian(params, X, y)
    flat = torch.cat([p.reshape(-1) for p in params])

    def q_of(v):
        W = v[: params[0].numel()].reshape(params[0].shape)
        return y * model.apply_params([W, v[params[0].numel():]], X)

    J_auto = torch.func.jacrev(q_of)(flat)
    assert torch.allclose(q, q_of(flat), rtol=1e-13, atol=0)
    assert torch.allclose(J, J_auto, rtol=1e-12, atol=1e-13)


def test_jacobian_control_relu_derivative_differs():
    """Control: the ReLU-net Jacobian formula (slope relu'(z) instead of 2 relu(z)) is not this model's."""
    model, params, X, y = _net(3)
    _, J = model.margins_jacobian(params, X, y)
    W, a = params
    H = X @ W.T
    wrong = ((y[:, None] * (H > 0).to(F64)) * a)[:, :, None] * X[:, None, :]
    assert (J[:, : W.numel()] - wrong.reshape(len(X), -1)).abs().max() > 1e-3


def test_degree_three_and_residual_runs_on_the_smooth_net():
    model, params, X, y = _net(4, n=6)
    assert detect_degree(model, params, X) == 3 == model.degree
    c = 1.7
    assert torch.allclose(model.apply_params([c * p for p in params], X), c ** 3 * model.apply_params(params, X),
                          rtol=1e-12, atol=0)
    y = torch.sign(model.apply_params(params, X))        # labels the net separates: a feasible margin problem
    res = kc.residual(params, (X, y), model=model, norm="l2", pair=False)
    assert res.degree == 3 and res.clarke == "autodiff"  # C^1: no ReLU Clarke band is applied
    assert 0.0 <= res.measure <= 0.5


def test_hybrid_margins_are_kc_margin_in_the_hybrid_norm():
    model, params, X, _ = _net(5)
    y = torch.sign(model.apply_params(params, X))
    g = kc.margin(params, (X, y), model=model, norm="muon-adam:0.3")
    W, a = params
    N = max(0.3 * float(torch.linalg.matrix_norm(W, 2)), float(a.abs().max()))
    assert math.isclose(g, float((y * model.apply_params(params, X)).min()) / N ** 3, rel_tol=1e-12)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("mm")
    res = get("momentum_margins").run(out, quick=True, progress=False)
    per_seed = {s: M.seed_runs(s, M.QUICK, out / "cache")[2] for s in range(M.N_SEEDS_QUICK)}   # from the cache
    return res, per_seed, out


def test_quick_run_shape_cache_and_figure(quick):
    res, per_seed, out = quick
    n_algos = len(M.algorithms())
    assert len([f for f in (out / "cache").glob("*.json") if not f.name.startswith("kkt-")]) == \
        n_algos * M.N_SEEDS_QUICK
    assert len(list((out / "cache").glob("kkt-*.json"))) == 2 * len(MC.KKT_PAIRS)     # first seed only
    assert res.figures and Path(res.figures[0]).stat().st_size > 0
    assert all(c.informational for c in res.claims)
    names = {c.name for c in res.claims}
    for c in res.claims:                                   # every claim has its control
        if not c.negative_control and not c.name.startswith("directional-convergence"):
            base, _, rest = c.name.partition(":")
            assert any(n.startswith(f"{base}:control") for n in names), c.name


def test_quick_controls_fail(quick):
    res, _, _ = quick
    controls = [c for c in res.claims if c.negative_control]
    assert len(controls) >= 12
    for c in controls:
        assert c.has_evidence and not c.passed, (c.name, c.measured)


def test_recorded_margins_match_kc_margin(quick):
    _, per_seed, _ = quick
    from proofs_numeric.datasets.digits import load_digits_parity
    ds = load_digits_parity(M.QUICK["n_train"], seed=0)
    model = TwoLayerSquaredReLU(64, M.QUICK["width"])
    r = per_seed[0]["Muon-Signum"]
    for nm in M.norm_names():
        assert math.isclose(r.margins[nm][-1], kc.margin(r.params, ds.train, model=model, norm=nm), rel_tol=1e-9)


def test_own_norm_statistic_flips_with_the_norm(quick):
    """NGD's l2 margin beats every non-l2 method's; in linf Signum beats NGD (the control's reason to fail)."""
    _, per_seed, _ = quick
    owners = {n: nm for n, (_, nm) in M.algorithms().items()}
    assert MC.own_norm_largest(per_seed, owners, "NGD").passed
    ctl = MC.own_norm_largest(per_seed, owners, "NGD", norm="linf", control=True)
    assert ctl.measured == 0.0
    assert all(MC.final(r["Signum"], "linf") > MC.final(r["NGD"], "linf") for r in per_seed.values())


def test_bad_ratio_is_rejected():
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="ratios"):
            M.algorithms(ratios=(bad,))


def _fake(linf):
    from types import SimpleNamespace
    import numpy as np
    return SimpleNamespace(margins={"linf": np.array([0.0, linf])})


def test_adam_like_signum_statistic_and_non_separated_seed():
    """s = log(A/N)/log(S/N): Adam halfway (log scale) between NGD and Signum gives 0.5; a seed where Adam did
    not separate counts as s = -1 (a finite, failing value, not 'no evidence')."""
    half = {0: {"NGD": _fake(0.1), "Signum": _fake(10.0), "Adam eps=0": _fake(1.0)}}
    res = MC.adam_like_signum(half)
    assert math.isclose(res.measured, 0.5, rel_tol=1e-12) and not res.passed
    dead = {0: {"NGD": _fake(0.1), "Signum": _fake(10.0), "Adam eps=0": _fake(-0.02)}}
    res = MC.adam_like_signum(dead)
    assert res.measured == MC.NOT_SEPARATED and res.has_evidence and not res.passed
