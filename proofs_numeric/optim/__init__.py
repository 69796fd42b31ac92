"""Optimizers as torch.optim.Optimizer subclasses (float64), composed from direction transforms (optax habit).

Every optimizer moves theta <- theta - eta_t d with eta_t = lr * schedule(t) and a direction d built by
``direction(group)`` from transforms.py; ``implicit_norm()`` returns the kktcheck Norm whose max-margin
problem the theory predicts (l2 for momentum GD, linf for Signum and Adam without eps, max-of-spectral for Muon). See docs/optim.md for every update formula.
"""
from .base import TransformOptimizer
from .momentum import Adam, MomentumGD, Muon, MuonAdam, MuonSignum, Signum
from .schedules import constant, power
from .shampoo import Shampoo, ShampooNoAccumulation
from .steepest import CoordinateDescent, NormalizedSteepestDescent, SignDescent, SpectralDescent, SteepestDescent
from . import schedules, transforms
from .identity import step_identity

OPTIMIZERS = ("SteepestDescent", "NormalizedSteepestDescent", "SignDescent", "CoordinateDescent",
              "SpectralDescent", "MomentumGD", "Signum", "Muon", "Adam", "MuonSignum", "MuonAdam",
              "Shampoo", "ShampooNoAccumulation")

__all__ = [*OPTIMIZERS, "TransformOptimizer", "OPTIMIZERS", "constant", "power", "step_identity", "schedules",
           "transforms"]
