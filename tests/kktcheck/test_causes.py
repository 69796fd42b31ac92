"""Errors name the real cause (issue 12, items 2 and 5): the data are validated before the model's degree is
detected, overflow is called overflow, Dropout in train mode and complex inputs are refused, and a valid
ReLU net whose output nearly cancels is accepted."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kktcheck as kc

D, H = 3, 4
X = np.random.default_rng(0).standard_normal((6, D))
Y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])


def relu_net(*extra):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(D, H, bias=False), torch.nn.ReLU(), *extra,
                               torch.nn.Linear(H, 1, bias=False)).double()


NET = relu_net()


def zero_width_net():
    """A user module with a hidden layer of width 0 (torch warns that initializing it is a no-op)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.nn.Sequential(torch.nn.Linear(D, 0, bias=False), torch.nn.ReLU(),
                                   torch.nn.Linear(0, 1, bias=False)).double()

CASES = [
    ("NaN in X, user module", lambda: kc.margin(NET, (np.where(X > 1, np.nan, X), Y)), ValueError,
     r"X contains NaN or inf"),
    ("inf in X, soft margin", lambda: kc.soft_margin(NET, (np.where(X > 1, np.inf, X), Y)), ValueError,
     r"X contains NaN or inf"),
    ("data is X alone", lambda: kc.margin(NET, X), TypeError, r"data must be a pair \(X, y\)"),
    ("data is a 2-row array", lambda: kc.margin(NET, X[:2]), TypeError, r"data must be a pair \(X, y\)"),
    ("data is a triple", lambda: kc.margin(NET, (X, Y, Y)), TypeError, r"data must be a pair \(X, y\)"),
    ("empty X", lambda: kc.margin(NET, (X[:0], Y[:0])), ValueError, r"X is empty.*at least one sample"),
    ("empty X linear", lambda: kc.max_margin_linear(X[:0], Y[:0]), ValueError, r"X is empty"),
    ("output overflows", lambda: kc.sample_margins([1e10 * p.detach() for p in NET.parameters()], (X * 1e300, Y),
                                                   model=NET), ValueError,
     r"outputs.*not finite.*overflow.*rescale X"),
    ("complex X", lambda: kc.margin(NET, (X + 1j, Y)), TypeError, r"X is complex"),
    ("complex y", lambda: kc.margin(NET, (X, Y + 0j)), TypeError, r"y is complex"),
    ("complex X linear", lambda: kc.max_margin_linear(X + 1j, Y), TypeError, r"X is complex"),
    ("complex theta", lambda: kc.norm("l2")([torch.ones(3, dtype=torch.complex128)]), TypeError,
     r"theta\[0\] is complex"),
    ("complex g", lambda: kc.norm("l1").dualize([torch.ones(2), torch.ones(3, dtype=torch.complex128)]), TypeError,
     r"g\[1\] is complex"),
    ("dropout in train mode", lambda: kc.margin(relu_net(torch.nn.Dropout(0.5)).train(), (X, Y)), ValueError,
     r"Dropout.*train mode.*\.eval\(\) or remove"),
    ("meta device module", lambda: kc.margin(relu_net().to("meta"), (X, Y)), ValueError,
     r"meta.*device.*to_empty"),
    ("meta device X", lambda: kc.margin(NET, (torch.empty(6, D, device="meta"), Y)), ValueError,
     r"X is on the 'meta' device"),
    ("zero-width user module", lambda: kc.margin(zero_width_net(), (X, Y)),
     ValueError, r"theta\[0\] has shape \(0, 3\), no entries: a layer of width 0"),   # was "dead ReLUs"
]


@pytest.mark.parametrize("label,call,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_the_cause_is_named(label, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_dropout_in_eval_mode_is_accepted():
    net = relu_net(torch.nn.Dropout(0.5)).eval()
    assert kc.margin(net, (X, Y)) == pytest.approx(kc.margin(relu_net(), (X, Y)), rel=1e-15)


def test_nearly_cancelling_relu_net_is_homogeneous():
    """f(x) = relu(w.x) - relu(w'.x) with w' = w (1 + 1e-12): the output is 1e-12 of each path's size, below
    max|f| * 1e-7 rounding noise of the old test but exact 2-homogeneous. Before the fix: 'not positively
    homogeneous'."""
    w = torch.tensor([[0.3, -0.2, 0.5], [0.3 * (1 + 1e-12), -0.2 * (1 + 1e-12), 0.5 * (1 + 1e-12)]],
                     dtype=torch.float64) * 1e3
    net = torch.nn.Sequential(torch.nn.Linear(D, 2, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(2, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(w)
        net[2].weight.copy_(torch.tensor([[1e3, -1e3]], dtype=torch.float64))
    Xp = np.abs(X) + 0.1
    q = kc.sample_margins(net, (Xp, np.ones(6))).numpy()
    exact = -1e-12 * 1e6 * (Xp @ np.array([0.3, -0.2, 0.5]))      # a (relu(w x) - relu(w' x)), w' = w(1 + 1e-12)
    assert np.allclose(q, exact, rtol=1e-3)
    assert kc.margin(net, (Xp, -np.ones(6))) > 0
