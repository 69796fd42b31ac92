"""Explicit one-step schemes for dtheta/dtau = v(theta), each with a declared order (diffrax habit).

* ``Euler``  (order 1): theta + h v(theta).  Valid for every norm: for non-smooth norms (l1, linf,
  spectral) the duality map is discontinuous and Euler is the discrete un-normalized steepest descent theta + eta Delta, Delta in argmin_{||u|| <= ||g||_*} <g, u>.
* ``Heun``   (order 2) and ``RK4`` (order 4): need a smooth vector field, i.e. a norm whose duality map
  is continuous away from 0 (``norm.smooth``: l2, lp with 1 < p < inf).  They are refused otherwise.
On ReLU networks the field is only piecewise smooth: the declared order holds between activation changes.
"""
from __future__ import annotations


def _axpy(a, x, y):
    return [yb + a * xb for xb, yb in zip(x, y)]


class Solver:
    name = "solver"
    order = 1
    needs_smooth = False

    def check_norm(self, norm) -> None:
        if self.needs_smooth and not norm.smooth:
            raise ValueError(f"solver {self.name!r} (order {self.order}) needs a smooth norm (l2 or lp:P with "
                             f"1 < P < inf), but {norm.name!r} has a discontinuous duality map, so the "
                             "higher order does not hold; use solver='euler'")

    def step(self, field, params, ev, h):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(order={self.order})"


class Euler(Solver):
    name, order = "euler", 1

    def step(self, field, params, ev, h):
        return _axpy(h, ev.velocity, params)


class Heun(Solver):
    name, order, needs_smooth = "heun", 2, True

    def step(self, field, params, ev, h):
        k1 = ev.velocity
        k2 = field(_axpy(h, k1, params), ev.log_scale).velocity
        return [p + 0.5 * h * (a + b) for p, a, b in zip(params, k1, k2)]


class RK4(Solver):
    name, order, needs_smooth = "rk4", 4, True

    def step(self, field, params, ev, h):
        k1 = ev.velocity
        k2 = field(_axpy(0.5 * h, k1, params), ev.log_scale).velocity
        k3 = field(_axpy(0.5 * h, k2, params), ev.log_scale).velocity
        k4 = field(_axpy(h, k3, params), ev.log_scale).velocity
        return [p + (h / 6.0) * (a + 2.0 * b + 2.0 * c + d) for p, a, b, c, d in zip(params, k1, k2, k3, k4)]


SOLVERS = {"euler": Euler, "heun": Heun, "rk4": RK4}


def make_solver(spec) -> Solver:
    if isinstance(spec, Solver):
        return spec
    if isinstance(spec, str) and spec.lower() in SOLVERS:
        return SOLVERS[spec.lower()]()
    raise ValueError(f"unknown solver {spec!r}; valid: {', '.join(SOLVERS)} (or a Solver instance)")
