"""kc.residual's verdict, refusals and argument checks: verdict line first, solver words last, clear errors."""
import importlib
import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck import reference as R
from kktcheck.cli import main

residual_module = importlib.import_module("kktcheck.kkt.residual")
kkt_package = importlib.import_module("kktcheck.kkt")


@pytest.mark.parametrize("kw, name", [
    ({"norm": "lp:1.001"}, "norm"), ({"norm": "lp:1e6"}, "norm"), ({"active_tol": math.nan}, "active_tol"),
    ({"active_tol": -1.0}, "active_tol"), ({"max_sdp": -1}, "max_sdp"), ({"max_size": -5}, "max_size"),
    ({"clarke_radius": -1e-3}, "clarke_radius"), ({"clarke_radius": 0.9}, "clarke_radius"),
    ({"clarke_radius": math.nan}, "clarke_radius"), ({"time_limit": 0.0}, "time_limit"),
    ({"time_limit": math.inf}, "time_limit"), ({"tol": math.nan}, "tol"), ({"tol": 1.0}, "tol"),
])
def test_bad_arguments_name_the_argument(kw, name):
    p = R.linear_max_margin("l2")
    with pytest.raises(ValueError, match=name):
        kc.residual(p.model, p.data, **kw)


def test_verdict_line_comes_first_and_solver_words_last():
    good = R.linear_max_margin("linf")
    text = str(kc.residual(good.theta, good.data, model=good.model, norm="linf"))
    first = text.splitlines()[0]
    assert first.startswith("approximately KKT: measure") and "<= tol 0.001" in first
    assert "optimal" not in first and text.splitlines()[1].startswith("multipliers: support 3 of 12")
    bad = R.linear_max_margin("linf", perturbed=True)
    res = kc.residual(bad.theta, bad.data, model=bad.model, norm="linf")
    assert str(res).splitlines()[0].startswith("not KKT: measure") and res.solver_status == "optimal"
    assert res.ok(1.0) and not res.ok(1e-3)  # ok(tol) reads the measure, which lies in (1e-3, 1/2] here


def test_size_estimate_refuses_before_the_jacobian(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the Jacobian must not be formed")
    monkeypatch.setattr(residual_module, "margins_and_jacobian", boom)
    p = R.linear_max_margin("linf", perturbed=True)
    res = kc.residual(p.model, p.data, norm="linf", max_size=10)  # n * P = 48 > 10
    assert res.status == "too_large" and "max_size" in res.message
    assert res.measure_source == "a13-bound" and res.measure == res.measure_bound > 1e-3
    assert res.verdict().startswith("could not decide: problem too large")


def test_sdp_size_estimate_refuses_nuclear_before_the_jacobian(monkeypatch):
    """The nuclear norm (dual: max of spectral norms) still needs the SDP; the spectral norm goes to the
    first-order solver instead of being refused (tests/kktcheck/test_kkt_spectral_fo.py)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(30, 12, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(12, 1, bias=False)).double()
    X = np.random.default_rng(0).standard_normal((20, 30))
    data = (X, np.sign(net(torch.from_numpy(X))[:, 0].detach().numpy()))
    est = (12 + 21) ** 2  # the 12 x 30 layer keeps at most 12 x min(30, n + 1) directions
    ok = kc.residual(net, data, norm="nuclear", pair=False, max_sdp=(12 + 30) ** 2)  # nuclear is not compressed
    assert ok.status != "too_large"
    monkeypatch.setattr(residual_module, "margins_and_jacobian", lambda *a, **k: pytest.fail("Jacobian formed"))
    res = kc.residual(net, data, norm="nuclear", pair=False, max_sdp=est - 1)
    assert res.status == "too_large" and "estimate before any work" in res.message


def test_too_large_still_decides_when_the_bound_certifies():
    """At the dead-neuron KKT point lambda* = (1, 1) is proportional to e^{-q_i}: the A.13 bound is 0."""
    p = R.two_layer_dead_neuron()
    res = kc.residual(p.model, p.data, norm="l2", max_size=1)
    assert res.status == "too_large" and res.measure <= 1e-12
    assert res.verdict().startswith("approximately KKT") and "A.13" in res.verdict()


def test_time_limit_is_a_verdict_not_a_crash():
    p = R.linear_max_margin("linf", n=200, d=50, perturbed=True, perturbation=0.05)
    res = kc.residual(p.model, p.data, norm="linf", time_limit=1e-4)
    assert res.status == "time_limit" and res.verdict().startswith("could not decide: time limit")
    assert math.isfinite(res.measure)  # the closed-form bound is still reported


def test_cli_verdict_and_unwritable_json(tmp_path, capsys, monkeypatch):
    p = R.two_layer_dead_neuron()
    torch.save(p.model, tmp_path / "model.pt")
    np.savez(tmp_path / "data.npz", X=p.data[0], y=p.data[1])
    args = ["residual", str(tmp_path / "model.pt"), str(tmp_path / "data.npz")]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("approximately KKT")
    monkeypatch.setattr(kkt_package, "residual", lambda *a, **k: pytest.fail("computation must not start"))
    assert main(args + ["--json", str(tmp_path / "no_such_dir" / "out.json")]) == 2
    assert "--json" in capsys.readouterr().err
    assert main(args + ["--json", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err


def test_cli_exit_codes_follow_the_verdict(tmp_path, capsys):
    p = R.two_layer_unbalanced()  # feasible, not KKT; its A.13 bound is far above the verdict tolerance
    torch.save(p.model, tmp_path / "model.pt")
    np.savez(tmp_path / "data.npz", X=p.data[0], y=p.data[1])
    args = ["residual", str(tmp_path / "model.pt"), str(tmp_path / "data.npz")]
    assert main(args) == 0 and capsys.readouterr().out.startswith("not KKT")
    assert main(args + ["--time-limit", "1e-9"]) == 1
    assert capsys.readouterr().out.startswith("could not decide: time limit")
    assert main(args + ["--verdict-tol", "nan"]) == 2 and "--verdict-tol" in capsys.readouterr().err
