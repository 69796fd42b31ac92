"""Norms on parameter lists and the ``norm(name)`` factory.

Valid names: "l2", "l1", "linf", "lp:P" (1 < P < inf), "spectral" (max over layers of the
per-matrix spectral norm, the msp norm of Muon/Shampoo), "nuclear" (its dual: sum of nuclear norms),
"muon-signum" and "muon-adam:R" (hybrid.py: max{R ||W||_msp, ||u||_inf}, R > 0).
"""
from __future__ import annotations

import math

from .base import Norm
from .block import BlockNorm
from .lp import LpNorm
from .matrix import NuclearMatrix, SpectralMatrix
from .hybrid import HybridNorm, muon_adam, muon_signum

VALID_NAMES = ("l2", "l1", "linf", "lp:P (e.g. lp:3)", "spectral", "nuclear", "muon-signum",
               "muon-adam:R (e.g. muon-adam:0.5)")
_ALIASES = {"l2": 2.0, "euclidean": 2.0, "l1": 1.0, "linf": math.inf, "l_inf": math.inf, "inf": math.inf}


def spectral() -> BlockNorm:
    """msp norm: max_l ||W_l||_2 (spectral per weight matrix, max over layers)."""
    return BlockNorm("max", SpectralMatrix(), name="spectral")


def nuclear() -> BlockNorm:
    """Dual of the msp norm: sum_l ||W_l||_nuc."""
    return BlockNorm("sum", NuclearMatrix(), name="nuclear")


def norm(spec) -> Norm:
    """Build a Norm from a name (see VALID_NAMES); a Norm instance is passed through unchanged."""
    if isinstance(spec, Norm):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"norm must be a name or a kktcheck Norm, got {type(spec).__name__}; "
                        f"valid names: {', '.join(VALID_NAMES)}")
    key = spec.strip().lower()
    if key in _ALIASES:
        return LpNorm(_ALIASES[key])
    if key == "spectral":
        return spectral()
    if key == "nuclear":
        return nuclear()
    if key == "muon-signum" or key.startswith("muon-adam:"):
        return muon_signum() if key == "muon-signum" else muon_adam(key[len("muon-adam:"):])
    if key.startswith("lp:"):
        try:
            p = float(key[3:])
        except ValueError:
            raise ValueError(f"cannot read p in norm name {spec!r}; write e.g. 'lp:3'") from None
        if not p >= 1:
            raise ValueError(f"norm {spec!r}: l_p needs p >= 1")
        return LpNorm(p)
    raise ValueError(f"unknown norm {spec!r}; valid names: {', '.join(VALID_NAMES)} "
                     "(or pass a kktcheck Norm object, e.g. kc.BlockNorm('max', ...))")


__all__ = ["Norm", "LpNorm", "SpectralMatrix", "NuclearMatrix", "BlockNorm", "HybridNorm", "norm", "spectral",
           "nuclear", "VALID_NAMES"]
