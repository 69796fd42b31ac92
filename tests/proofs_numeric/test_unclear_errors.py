"""One clear error at the public boundary (issue 12, item 5): layer widths and init scales of the models, data
set sizes, optimizer parameters on the meta device or with no entries."""
from __future__ import annotations

import math

import pytest
import torch

from proofs_numeric import models, optim
from proofs_numeric.datasets.synthetic import linearly_separable, non_separable, xor

BAD_MODELS = [
    ("Linear d=0", lambda: models.Linear(0), ValueError, r"d must be an integer >= 1, got 0"),
    ("Linear out=-2", lambda: models.Linear(3, out=-2), ValueError, r"out must be an integer >= 1, got -2"),
    ("TwoLayer width=0", lambda: models.TwoLayerReLU(3, 0), ValueError, r"width must be an integer >= 1, got 0"),
    ("TwoLayer d=-1", lambda: models.TwoLayerReLU(-1, 4), ValueError, r"d must be an integer >= 1, got -1"),
    ("TwoLayer width=2.5", lambda: models.TwoLayerReLU(3, 2.5), TypeError, r"width must be an integer"),
    ("ReLUNet negative", lambda: models.ReLUNet([3, -4, 1]), ValueError, r"widths\[1\] must be an integer >= 1"),
    ("ReLUNet zero out", lambda: models.ReLUNet([3, 4, 0]), ValueError, r"widths\[2\] must be an integer >= 1"),
    ("DiagonalNet d=0", lambda: models.DiagonalNet(0), ValueError, r"d must be an integer >= 1"),
    ("MatrixLinear b=0", lambda: models.MatrixLinear(2, 0), ValueError, r"b must be an integer >= 1"),
]


@pytest.mark.parametrize("label,call,exc,pattern", BAD_MODELS, ids=[c[0] for c in BAD_MODELS])
def test_bad_widths(label, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("scale", [math.nan, math.inf, -1.0, "big"])
def test_init_scale_must_be_finite_and_nonnegative(scale):
    m = models.TwoLayerReLU(3, 4)
    with pytest.raises((ValueError, TypeError), match=r"init: scale must be a finite number >= 0"):
        m.init(scale)
    assert not any(bool(p.isnan().any()) for p in m.parameters())


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: linearly_separable(-1, 3), ValueError, r"n must be >= 1, got -1"),   # was numpy's "negative dimensions"
    (lambda: linearly_separable(5, 0), ValueError, r"d must be >= 1, got 0"),      # was an empty (5, 0) X
    (lambda: linearly_separable(0, 3), ValueError, r"n must be >= 1, got 0"),      # was an empty data set
    (lambda: non_separable(1, 3), ValueError, r"n must be >= 2, got 1"),
    (lambda: xor(2.5), TypeError, r"n must be an integer"),
])
def test_synthetic_data_sizes_are_checked(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
@pytest.mark.parametrize("param,pattern", [
    (lambda: torch.zeros(2, 2, dtype=torch.float64, device="meta", requires_grad=True),
     r"is on the 'meta' device.*to_empty"),
    (lambda: torch.zeros(0, 2, dtype=torch.float64, requires_grad=True), r"has no entries \(a layer of width 0\)"),
], ids=["meta", "width0"])
def test_optimizer_refuses_meta_and_empty_parameters_by_name(name, param, pattern):
    """Before: Tensor.item() cannot be called on meta tensors (every optimizer, inside step) and a reshape
    error inside Shampoo's step for an empty parameter."""
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[0\] \(shape .*\) " + pattern):
        getattr(optim, name)([param()], lr=0.1)
