"""Teacher-student data: x ~ N(0, I_d), labels from a fixed ReLU teacher, with our defaults (the paper's
numbers are lost).

Teacher: f*(x) = sum_{j=1}^{k*} a*_j relu(<w*_j, x>), bias-free, with
* each w*_j having exactly ``active`` non-zero coordinates (positions uniform without replacement, values
  i.i.d. N(0, 1)); W* is stored in PyTorch (out, in) layout, shape (k*, d);
* output weights alternating a*_j = +1, -1, +1, ... (mixed signs, so both labels occur).
Inputs x ~ N(0, I_d); labels y = sign(f*(x)) with sign(0) := +1. The tie is not a measure-zero event: every
teacher neuron is off (f* = 0) with probability about 2^-k*, and that region is labelled +1, a deterministic
rule the student can learn (the region is a polyhedral cone).

Seeds: ``seed`` fixes everything. The teacher and the n training points come from
``numpy.random.default_rng(SeedSequence([seed, 0]))``; ``test_set(n_test, seed=None)`` draws fresh points of
the SAME teacher from the independent stream ``SeedSequence([seed, 1])`` (or ``[seed, 1, test_seed]``), so the
20,000 test points never overlap the training draw and are reproducible.

``teacher_student(d, n, ...)`` returns a ``TeacherStudent``; it unpacks as ``X, y, W_star, a_star`` (float64
torch tensors, y in {-1, +1}).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

F64 = torch.float64
N_TEST = 20_000


def _int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}")
    if int(v) < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    return int(v)


def teacher_output(W_star: torch.Tensor, a_star: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """f*(X) = relu(X W*^T) a*, shape (n,)."""
    return torch.relu(X @ W_star.T) @ a_star


def teacher_labels(W_star: torch.Tensor, a_star: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """y = sign(f*(X)) with sign(0) := +1, float64 in {-1, +1}."""
    f = teacher_output(W_star, a_star, X)
    return torch.where(f >= 0, torch.ones_like(f), -torch.ones_like(f))


@dataclass(frozen=True)
class TeacherStudent:
    X: torch.Tensor        # (n, d) training inputs
    y: torch.Tensor        # (n,) labels in {-1, +1}
    W_star: torch.Tensor   # (k*, d) teacher first layer, exactly `active` non-zeros per row
    a_star: torch.Tensor   # (k*,) teacher output weights, alternating +-1
    seed: int

    def __iter__(self):
        return iter((self.X, self.y, self.W_star, self.a_star))

    @property
    def train(self) -> tuple:
        return self.X, self.y

    def test_set(self, n_test: int = N_TEST, seed: int | None = None) -> tuple:
        """``n_test`` fresh points (X, y) of the same teacher from the stream SeedSequence([seed, 1(, seed)])."""
        n_test = _int("n_test", n_test, 1)
        key = [self.seed, 1] if seed is None else [self.seed, 1, _int("seed", seed, 0)]
        rng = np.random.default_rng(np.random.SeedSequence(key))
        X = torch.as_tensor(rng.standard_normal((n_test, self.X.shape[1])), dtype=F64)
        return X, teacher_labels(self.W_star, self.a_star, X)


def teacher_student(d: int = 30, n: int = 40, *, k_star: int = 3, active: int = 3, seed: int = 0) -> TeacherStudent:
    """Draw the teacher and n training points (our defaults: d = 30, n = 40,
    k* = 3, 3 active coordinates per teacher neuron). Same ``seed`` -> the same numbers."""
    d, n = _int("d", d, 1), _int("n", n, 1)
    k_star, active = _int("k_star", k_star, 1), _int("active", active, 1)
    seed = _int("seed", seed, 0)
    if active > d:
        raise ValueError(f"active = {active} non-zero coordinates per teacher neuron need d >= active, got d = {d}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    W = np.zeros((k_star, d))
    for j in range(k_star):
        W[j, rng.choice(d, size=active, replace=False)] = rng.standard_normal(active)
    a = np.array([1.0 if j % 2 == 0 else -1.0 for j in range(k_star)])
    X = torch.as_tensor(rng.standard_normal((n, d)), dtype=F64)
    W_star, a_star = torch.as_tensor(W, dtype=F64), torch.as_tensor(a, dtype=F64)
    return TeacherStudent(X, teacher_labels(W_star, a_star, X), W_star, a_star, seed)


__all__ = ["teacher_student", "TeacherStudent", "teacher_output", "teacher_labels", "N_TEST"]
