"""Step-size schedules s(t), t = 1, 2, ... (the step counter of the optimizer).

Every optimizer in this package moves by ``eta_t = lr * schedule(t)``; ``schedule=None`` means
``constant()`` (s(t) = 1). Schedules are small picklable classes so ``torch.save(opt.state_dict())`` works.

* ``constant(value=1.0)``:          s(t) = value.
* ``power(eta0=1.0, exponent=-0.8)``: s(t) = eta0 * t**exponent (Gronich & Vardi use eta0 * t^-0.8; with
  ``lr=1`` the step is exactly eta0 * t^-0.8, with ``lr=eta0`` and ``power()`` likewise).
"""
from __future__ import annotations

import math


class Schedule:
    def __call__(self, t: int) -> float:  # pragma: no cover - interface
        raise NotImplementedError


class Constant(Schedule):
    def __init__(self, value: float = 1.0):
        value = float(value)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"constant schedule needs a finite value > 0, got {value}")
        self.value = value

    def __call__(self, t: int) -> float:
        return self.value

    def __repr__(self):
        return f"constant({self.value!r})"


class Power(Schedule):
    def __init__(self, eta0: float = 1.0, exponent: float = -0.8):
        eta0, exponent = float(eta0), float(exponent)
        if not (eta0 > 0 and math.isfinite(eta0)):
            raise ValueError(f"power schedule needs eta0 > 0, got {eta0}")
        if not math.isfinite(exponent):
            raise ValueError(f"power schedule needs a finite exponent, got {exponent}")
        self.eta0, self.exponent = eta0, exponent

    def __call__(self, t: int) -> float:
        if t < 1:
            raise ValueError(f"schedules are evaluated at steps t >= 1, got t = {t}")
        return self.eta0 * float(t) ** self.exponent

    def __repr__(self):
        return f"power({self.eta0!r}, {self.exponent!r})"


def constant(value: float = 1.0) -> Constant:
    return Constant(value)


def power(eta0: float = 1.0, exponent: float = -0.8) -> Power:
    return Power(eta0, exponent)


def as_schedule(schedule) -> Schedule:
    if schedule is None:
        return Constant(1.0)
    if isinstance(schedule, (int, float)):
        return Constant(schedule)
    if not callable(schedule):
        raise TypeError(f"schedule must be None, a number or a callable t -> s(t), got {type(schedule).__name__}")
    return schedule


__all__ = ["Schedule", "Constant", "Power", "constant", "power", "as_schedule"]

try:  # let torch.load(weights_only=True) read optimizer state_dicts that hold these schedules
    import torch.serialization as _ser
    _ser.add_safe_globals([Constant, Power])
except (ImportError, AttributeError):  # pragma: no cover - torch < 2.4
    pass
