"""Approximate-KKT residuals of the max-margin problem (MM) (SPEC section 4): ``residual`` and ``KKTResidual``."""
from .residual import residual
from .result import KKTResidual

__all__ = ["residual", "KKTResidual"]
