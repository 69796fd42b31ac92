"""Data sets: small synthetic sets (``synthetic``), the teacher-student generator (ReLU teacher) and the
scikit-learn 8x8 digits pairs (``digits``) and real MNIST files (``mnist``).  All but ``synthetic`` load
lazily on first use."""
from __future__ import annotations

import importlib

from .synthetic import linearly_separable, non_separable, xor

# Eager (numpy/torch only): the function shares its name with its module, and an eager from-import is the
# one way the package attribute ends up the function, not the submodule (a lazy __getattr__ loses that race).
from .teacher_student import N_TEST, TeacherStudent, teacher_labels, teacher_output, teacher_student

_LAZY = {"load_digits_pair": ".digits", "load_digits_parity": ".digits",
         "DigitsSplit": ".digits", "read_mnist": ".mnist", "load_mnist_pair": ".mnist",
         "load_mnist_parity": ".mnist"}

__all__ = ["linearly_separable", "non_separable", "xor", "teacher_student", "TeacherStudent", "teacher_labels",
           "teacher_output", "N_TEST", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'proofs_numeric.datasets' has no attribute {name!r}")
