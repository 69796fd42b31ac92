"""kktcheck: the max-margin problem (MM) of homogeneous models and its certificates.

Geometry (norms, margins), the max-margin problem min 1/2 ||theta||^2 s.t. y_i f(x_i; theta) >= 1,
approximate-KKT residuals, generalized Bregman divergences and exact linear oracles.
Heavy modules (cvxpy programs) load lazily on first use.
"""
from __future__ import annotations

import importlib

from .losses import inverse_loss, log_loss
from .margins import margin, prepare, sample_margins, soft_margin
from .norms import BlockNorm, LpNorm, Norm, norm
from .params import as_params, feasible_rescaling
from ._quiet import silence_highs_banner
from .limits import check_seconds
from .threads import single_threaded

_LAZY = {
    "max_margin_linear": ".linear",
    "residual": ".kkt",
    "KKTResidual": ".kkt",
    "bregman": ".divergence",
    "bregman_proximity": ".divergence",
    "dutta_proximity": ".divergence",
    "a13_certificate": ".certificate",
}

__all__ = ["norm", "Norm", "LpNorm", "BlockNorm", "margin", "soft_margin", "sample_margins", "prepare", "log_loss",
           "inverse_loss", "as_params", "feasible_rescaling", "silence_highs_banner", "check_seconds",
           "single_threaded", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'kktcheck' has no attribute {name!r}")
