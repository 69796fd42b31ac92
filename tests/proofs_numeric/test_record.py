"""pn.record on a user's bias-free nn.Sequential trained with a plain torch loop: the recorded margins equal
the normalized margins computed here directly from the weights, the optimizer hook records the same values
as explicit rec.step() calls, and plot() writes the figure."""
from __future__ import annotations

import math

import pytest
import torch

import proofs_numeric as pn


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.sign(X[:, 0] + 0.5 * X[:, 1])
    net = torch.nn.Sequential(torch.nn.Linear(3, 8, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1, bias=False)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net, X, y


def _train(net, X, y, steps, rec=None, lr=0.5):
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.exp(-y * net(X)[:, 0]).mean()
        loss.backward()
        opt.step()
        if rec is not None:
            rec.step()
    return opt


def _direct(net, X, y):
    """(hard l2, soft l2, hard linf, log L) from the weights: q_i = y_i f(x_i), degree 2 (two layers)."""
    with torch.no_grad():
        q = y * net(X)[:, 0]
        flat = torch.cat([p.reshape(-1) for p in net.parameters()])
        l2, linf = float(flat.norm()), float(flat.abs().max())
        log_l = float(torch.logsumexp(-q, 0))
    return float(q.min()) / l2 ** 2, -log_l / l2 ** 2, float(q.min()) / linf ** 2, log_l


def test_recorder_in_a_plain_loop_matches_direct_margins(tmp_path):
    net, X, y = _problem()
    rec = pn.record(net, (X, y), norms=("l2", "linf"), every=10)
    _train(net, X, y, 200, rec)
    assert rec.steps == [1] + list(range(10, 201, 10))
    hard2, soft2, hardinf, log_l = _direct(net, X, y)
    assert log_l < 0, "the test problem must separate within 200 steps"
    tol = 1e3 * torch.finfo(torch.float64).eps
    assert math.isclose(rec.margins["l2"][-1], hard2, rel_tol=tol)
    assert math.isclose(rec.soft_margins["l2"][-1], soft2, rel_tol=tol)
    assert math.isclose(rec.margins["linf"][-1], hardinf, rel_tol=tol)
    assert math.isclose(rec.log_loss[-1], log_l, rel_tol=tol)
    assert rec.log_loss[-1] < rec.log_loss[0]
    path = rec.plot(tmp_path / "margins.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_attached_to_an_optimizer_records_like_explicit_steps():
    a, X, y = _problem(1)
    b, _, _ = _problem(1)
    rec_a = pn.record(a, (X, y), norms=("l2",), every=5)
    _train(a, X, y, 30, rec_a)
    rec_b = pn.record(b, (X, y), norms=("l2",), every=5)
    opt = torch.optim.SGD(b.parameters(), lr=0.5)
    rec_b.attach(opt)
    for _ in range(30):
        opt.zero_grad()
        torch.exp(-y * b(X)[:, 0]).mean().backward()
        opt.step()
    rec_b.detach()
    opt.step()                                    # detached: no further record
    assert rec_b.steps == rec_a.steps == [1, 5, 10, 15, 20, 25, 30]
    assert rec_b.margins["l2"] == rec_a.margins["l2"]


def test_residual_every_k_records_and_bad_arguments():
    net, X, y = _problem(2)
    rec = pn.record(net, (X, y), norms=("l2",), every=50, residual_every=2)
    _train(net, X, y, 200, rec)
    assert [r[0] for r in rec.residuals] == [1, 100, 200]
    assert all(r[1] >= 0 or r[2].startswith("not computed") for r in rec.residuals)
    assert rec.residuals[-1][1] >= 0 and rec.residuals[-1][2].startswith("optimal")
    with pytest.raises(ValueError, match="every"):
        pn.record(net, (X, y), every=0)
    with pytest.raises(ValueError, match="nothing recorded"):
        pn.record(net, (X, y)).plot("x.png")
