"""One clear error at the public boundary (issue 12, item 5): layer widths and init scales of the models."""
from __future__ import annotations

import math

import pytest
import torch

from proofs_numeric import models

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
