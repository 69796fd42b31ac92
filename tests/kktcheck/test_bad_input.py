"""Bad input gives a ValueError/TypeError that says what is wrong and what to do (never a torch traceback)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import kktcheck as kc

D, H = 3, 4


class TwoLayer(torch.nn.Module):
    """Bias-free a relu(W x) with apply_params/degree (the proofs_numeric protocol, defined here)."""
    degree = 2

    def __init__(self, out=1):
        super().__init__()
        self.W = torch.nn.Parameter(torch.zeros(H, D, dtype=torch.float64))
        self.a = torch.nn.Parameter(torch.zeros(out, H, dtype=torch.float64))

    def apply_params(self, p, X):
        o = torch.relu(X.reshape(X.shape[0], -1) @ p[0].T) @ p[1].T
        return o[:, 0] if o.shape[1] == 1 else o


G = torch.Generator().manual_seed(0)
THETA = [torch.randn(H, D, dtype=torch.float64, generator=G), torch.randn(1, H, dtype=torch.float64, generator=G)]
THETA3 = [THETA[0], torch.randn(3, H, dtype=torch.float64, generator=G)]
X = np.random.default_rng(0).standard_normal((5, D))
Y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
M, M3 = TwoLayer(), TwoLayer(out=3)

CASES = [
    ("labels {0,1}", lambda: kc.margin(THETA, (X, np.array([0, 1, 0, 1, 1])), model=M), ValueError,
     r"-1 or \+1.*use y = 2\*y - 1"),
    ("labels {1,2}", lambda: kc.margin(THETA, (X, np.array([1, 2, 1, 1, 1])), model=M), ValueError,
     r"binary labels must be -1 or \+1, got values \[1.0, 2.0\]"),
    ("class out of range", lambda: kc.margin(THETA3, (X, np.array([0, 1, 3, 1, 1])), model=M3), ValueError,
     r"\[0, 2\] for a model with 3 outputs; got range \[0, 3\]"),
    ("NaN in theta", lambda: kc.margin([THETA[0] * np.nan, THETA[1]], (X, Y), model=M), ValueError,
     r"theta\[0\] \(shape \(4, 3\)\) contains NaN or inf"),
    ("inf in theta", lambda: kc.soft_margin([THETA[0], THETA[1] * np.inf], (X, Y), model=M), ValueError,
     r"theta\[1\].*NaN or inf"),
    ("NaN in X", lambda: kc.margin(THETA, (np.where(X > 1, np.nan, X), Y), model=M), ValueError, "X contains NaN"),
    ("inf in X", lambda: kc.max_margin_linear(np.where(X > 1, np.inf, X), Y), ValueError, "X contains NaN or inf"),
    ("n mismatch", lambda: kc.margin(THETA, (X, Y[:3]), model=M), ValueError,
     r"X has shape \(5, 3\) and y has shape \(3,\)"),
    ("d mismatch", lambda: kc.margin(THETA, (X[:, :2], Y), model=M), ValueError,
     r"inputs x of shape \(2,\) with parameter shapes \[\(4, 3\), \(1, 4\)\]"),
    ("theta shape", lambda: kc.margin([THETA[0][:, :2], THETA[1]], (X, Y), model=M), ValueError,
     r"parameter shapes \[\(4, 2\), \(1, 4\)\] do not match the model's \[\(4, 3\), \(1, 4\)\]"),
    ("theta count", lambda: kc.margin([THETA[0]], (X, Y), model=M), ValueError, r"do not match the model's"),
    ("unknown norm", lambda: kc.margin(THETA, (X, Y), model=M, norm="l7"), ValueError,
     r"unknown norm 'l7'; valid names: l2, l1, linf, lp:P.*spectral, nuclear"),
    ("bad lp", lambda: kc.norm("lp:abc"), ValueError, r"write e.g. 'lp:3'"),
    ("p < 1", lambda: kc.norm("lp:0.5"), ValueError, r"p >= 1"),
    ("norm type", lambda: kc.norm(3), TypeError, r"valid names"),
    ("unknown loss", lambda: kc.soft_margin(THETA, (X, Y), model=M, loss="hinge"), ValueError,
     r"valid losses: exp, logistic, ce"),
    ("empty theta", lambda: kc.margin([], (X, Y), model=M), ValueError, r"theta is empty: pass one array per layer"),
    ("empty norm arg", lambda: kc.norm("l2")([]), ValueError, r"empty parameter list"),
    ("theta = 0 margin", lambda: kc.margin([0 * t for t in THETA], (X, Y), model=M), ValueError,
     r"theta = 0.*pass non-zero parameters"),
    ("theta = 0 soft", lambda: kc.soft_margin([0 * t for t in THETA], (X, Y), model=M), ValueError, r"theta = 0"),
    ("data not a pair", lambda: kc.margin(THETA, X, model=M), TypeError, r"data must be a pair \(X, y\)"),
    ("no model", lambda: kc.margin(THETA, (X, Y)), ValueError, r"pass model="),
    ("theta not numeric", lambda: kc.margin(["a", "b"], (X, Y), model=M), TypeError, r"theta\[0\] is not a numeric"),
    ("linear {0,1}", lambda: kc.max_margin_linear(X, (Y > 0).astype(int)), ValueError, r"y = 2\*y - 1"),
    ("linear 3-D X", lambda: kc.max_margin_linear(X.reshape(5, 3, 1), Y), ValueError, r"X of shape \(n, d\)"),
]


@pytest.mark.parametrize("label,call,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_clear_error(label, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_user_module_wrong_input_dim():
    net = torch.nn.Sequential(torch.nn.Linear(D, H, bias=False), torch.nn.ReLU(), torch.nn.Linear(H, 1, bias=False))
    with pytest.raises(ValueError, match=r"inputs x of shape \(2,\)"):
        kc.margin(net, (X[:, :2], Y))


def test_valid_input_still_works():
    """Control: the same calls with valid input return finite numbers."""
    assert np.isfinite(kc.margin(THETA, (X, Y), model=M, norm="lp:3"))
    assert np.isfinite(kc.soft_margin(THETA3, (X, np.array([0, 1, 2, 1, 0])), model=M3, loss="ce"))
