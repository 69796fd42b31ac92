"""The one training engine: steepest-flow integrators (dtheta/dt = -||g||_* dualize(g), g = grad L) and discrete
optimizers (``OptimizerStep``) share the vector field, step rules, recorder and the ``integrate`` loop returning a
``Trajectory``."""
from __future__ import annotations

from .field import FieldEval, SteepestField
from .integrate import FlowError, default_step, integrate
from .late_phase import RidgeStep
from .optimizer_step import OptimizerStep
from .recorder import Recorder
from .solvers import RK4, SOLVERS, Euler, Heun, Solver, make_solver
from .steps import ConstantStep, RelativeStep, StepRule, make_step
from .trajectory import STATUSES, Trajectory

__all__ = ["integrate", "Trajectory", "STATUSES", "FlowError", "SteepestField", "FieldEval", "Solver",
           "Euler", "Heun", "RK4", "SOLVERS", "make_solver", "StepRule", "ConstantStep", "RelativeStep",
           "make_step", "Recorder", "RidgeStep", "OptimizerStep", "default_step"]
