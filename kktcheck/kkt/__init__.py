"""KKT measure and residuals of the max-margin problem min 1/2||theta||^2 s.t. q_i >= 1: ``residual``, ``KKTResidual``."""
from .residual import residual
from .result import KKTResidual

__all__ = ["residual", "KKTResidual"]
