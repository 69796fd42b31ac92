"""Homogeneity f(c theta) = c^L f(theta) and Euler's identity <grad q_i, theta> = L q_i (homogeneous models)
on every proofs_numeric model and a user's bias-free nn.Sequential; negative controls with biases/Tanh."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from kktcheck.model import ModuleModel, as_model, detect_degree
from kktcheck.params import inner
from kktcheck.testing import strategies as kst
from proofs_numeric import models

EPS = kst.EPS
D = 3


def user_sequential():
    return torch.nn.Sequential(torch.nn.Linear(D, 5, bias=False), torch.nn.ReLU(),
                               torch.nn.Linear(5, 4, bias=False), torch.nn.LeakyReLU(0.1),
                               torch.nn.Linear(4, 1, bias=False)).double()


MODELS = {
    "Linear": (lambda: models.Linear(D), 1),
    "TwoLayerReLU-trained": (lambda: models.TwoLayerReLU(D, 4, train_output=True), 2),
    "TwoLayerReLU-frozen": (lambda: models.TwoLayerReLU(D, 4, train_output=False), 1),
    "ReLUNet": (lambda: models.ReLUNet([D, 4, 3, 2]), 3),
    "DiagonalNet": (lambda: models.DiagonalNet(D, depth=3), 3),
    "user-Sequential": (lambda: ModuleModel(user_sequential()), 3),
}


def euler_gap(fm, params, X):
    """max_i |<grad f_i(theta), theta> - L f_i(theta)| via autograd (outputs summed over classes)."""
    ps = [p.clone().requires_grad_(True) for p in params]
    out = fm.apply_params(ps, X).reshape(X.shape[0], -1).sum(1)
    gaps = []
    for i in range(X.shape[0]):
        grads = torch.autograd.grad(out[i], ps, retain_graph=True, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(ps, grads)]
        gaps.append(inner(grads, params) - fm.degree * float(out[i].detach()))
    return np.abs(gaps), out.detach()


def _params_for(fm):
    return [p.detach().clone() for p in (fm.module.parameters() if isinstance(fm, ModuleModel) else fm.parameters())]


@settings(max_examples=40)
@given(st.data())
def test_homogeneity_and_euler_identity(data):
    name = data.draw(st.sampled_from(sorted(MODELS)), label="model")
    make, L = MODELS[name]
    fm = make()
    if isinstance(fm, ModuleModel):
        fm._degree = L
    assert fm.degree == L
    params = data.draw(kst.params(shapes=[tuple(p.shape) for p in _params_for(fm)], max_abs=3.0), label="theta")
    X = torch.from_numpy(data.draw(kst.arrays((5, D), max_abs=3.0), label="X"))
    c = data.draw(st.floats(0.1, 10.0), label="c")
    f1 = fm.apply_params(params, X)
    fc = fm.apply_params([c * p for p in params], X)
    scale = float(f1.abs().max()) + 1e-300
    assert float((fc - c ** L * f1).abs().max()) <= kst.tolerance(c ** L * scale, 64, c=64.0)
    gaps, out = euler_gap(fm, params, X)
    assert gaps.max() <= kst.tolerance(L * (float(out.abs().max()) + 1.0), 64, c=64.0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_detect_degree(name):
    make, L = MODELS[name]
    fm = make()
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(p.shape, dtype=torch.float64, generator=g) for p in _params_for(fm)]
    X = torch.randn(8, D, dtype=torch.float64, generator=g)
    assert detect_degree(fm, params, X) == L


def test_user_module_detected_through_as_model():
    net = user_sequential()
    X = torch.randn(8, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fm, params, L = as_model(net, None, X)
    assert L == 3 and len(params) == 3


def test_module_with_bias_is_refused():
    net = torch.nn.Sequential(torch.nn.Linear(D, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1, bias=False))
    with pytest.raises(ValueError, match="bias parameter '0.bias'.*bias=False"):
        ModuleModel(net)


@pytest.mark.parametrize("act", [torch.nn.Tanh, torch.nn.Softplus])
def test_non_homogeneous_activation_is_refused(act):
    net = torch.nn.Sequential(torch.nn.Linear(D, 4, bias=False), act(), torch.nn.Linear(4, 1, bias=False)).double()
    X = torch.randn(8, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with pytest.raises(ValueError, match="not positively homogeneous"):
        as_model(net, None, X)


def test_euler_identity_fails_with_bias():
    """Negative control: f(x) = a relu(W x + b) with a FIXED bias b (as a user's pretrained/frozen bias) is not
    homogeneous in theta = (W, a), and Euler's gap is far above rounding. (A bias trained jointly with W, a is
    2-homogeneous in (W, b, a); ModuleModel still refuses all biases, see above.)"""
    b = torch.ones(4, dtype=torch.float64)

    class Biased:
        degree = 2

        def apply_params(self, p, X):
            return (torch.relu(X @ p[0].T + b) @ p[1].T)[:, 0]

    g = torch.Generator().manual_seed(3)
    params = [torch.randn(4, D, dtype=torch.float64, generator=g), torch.randn(1, 4, dtype=torch.float64, generator=g)]
    X = torch.randn(6, D, dtype=torch.float64, generator=g)
    gaps, out = euler_gap(Biased(), params, X)
    assert gaps.max() > 1e6 * kst.tolerance(2 * (float(out.abs().max()) + 1.0), 64, c=64.0)
    with pytest.raises(ValueError, match="not positively homogeneous"):
        detect_degree(Biased(), params, X)
