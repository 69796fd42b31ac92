"""Binary tasks from scikit-learn's bundled 8x8 handwritten digits (1797 images, no download).

* ``load_digits_pair(a=3, b=6, n_train=100, seed=0)``: digit ``a`` -> label +1, digit ``b`` -> label -1.
* ``load_digits_parity(n_train=100, seed=0)``: even digits -> +1, odd digits -> -1.

Selection (our choice): the images of the chosen classes are shuffled with numpy ``default_rng(seed)``;
the first ``n_train`` form the training set, the rest the test set. With ``normalize=True`` every input
x (64 pixel values) is scaled to unit Euclidean norm, x / ||x||_2 (an all-zero image would stay zero;
the bundled set has none). Returns a ``DigitsSplit`` with float64 torch tensors X_train (n, 64),
y_train (n,) in {-1, +1}, X_test, y_test, and the original digit labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class DigitsSplit:
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    digits_train: np.ndarray
    digits_test: np.ndarray
    name: str

    @property
    def train(self):
        return self.X_train, self.y_train

    @property
    def test(self):
        return self.X_test, self.y_test


def _raw_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - sklearn is a dependency
        raise ImportError("the digits data set needs scikit-learn (pip install scikit-learn)") from exc
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)


def _check_n_train(n_train, available: int) -> int:
    if int(n_train) != n_train or n_train < 1:
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}")
    if n_train >= available:
        raise ValueError(f"n_train={n_train} leaves no test points: only {available} images of the chosen "
                         f"classes exist; pass n_train < {available}")
    return int(n_train)


def binary_split(X: np.ndarray, digits: np.ndarray, positive, n_train: int, seed: int, normalize: bool,
                 name: str) -> DigitsSplit:
    """Shuffle (X, digits) with default_rng(seed), label digits in ``positive`` as +1 (others -1), split."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    n_train = _check_n_train(n_train, len(X))
    if normalize:
        nrm = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(nrm > 0, nrm, 1.0)
    perm = np.random.default_rng(seed).permutation(len(X))
    X, digits = X[perm], digits[perm]
    y = np.where(np.isin(digits, list(positive)), 1.0, -1.0)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))  # noqa: E731
    return DigitsSplit(t(X[:n_train]), t(y[:n_train]), t(X[n_train:]), t(y[n_train:]),
                       digits[:n_train], digits[n_train:], name)


def _check_digit(name, v):
    if int(v) != v or not 0 <= v <= 9:
        raise ValueError(f"{name} must be a digit 0..9, got {v!r}")
    return int(v)


def load_digits_pair(a: int = 3, b: int = 6, n_train: int = 100, seed: int = 0,
                     normalize: bool = True) -> DigitsSplit:
    """Digit a (label +1) vs digit b (label -1) from sklearn's 8x8 digits; see the module docstring."""
    a, b = _check_digit("a", a), _check_digit("b", b)
    if a == b:
        raise ValueError(f"a and b must be different digits, got a = b = {a}")
    X, t = _raw_digits()
    keep = (t == a) | (t == b)
    return binary_split(X[keep], t[keep], (a,), n_train, seed, normalize, f"digits {a} vs {b}")


def load_digits_parity(n_train: int = 100, seed: int = 0, normalize: bool = True) -> DigitsSplit:
    """Even digits (label +1) vs odd digits (label -1) from sklearn's 8x8 digits."""
    X, t = _raw_digits()
    return binary_split(X, t, (0, 2, 4, 6, 8), n_train, seed, normalize, "digits even vs odd")


__all__ = ["DigitsSplit", "load_digits_pair", "load_digits_parity", "binary_split"]
