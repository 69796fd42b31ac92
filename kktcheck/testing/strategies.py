"""Public hypothesis strategies over parameters, norms and data (no models: kktcheck never imports
proofs_numeric, so model strategies live in the tests that own the models).

* Elements are float64 drawn from [-max_abs, max_abs] with |v| >= min_abs (or exactly 0 when
  ``allow_zero``), so no subnormals and no values whose squares underflow; identities can then be
  checked with tolerances ``c * eps * scale`` derived from ``EPS = finfo(float64).eps``.
* Parameters are a list of float64 torch tensors, one per layer, PyTorch (out, in) layout.
* Binary labels are float64 in {-1, +1}.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

EPS = float(np.finfo(np.float64).eps)
NORM_NAMES = ("l2", "l1", "linf", "lp:3", "lp:1.5", "spectral", "nuclear")
DEFAULT_SHAPES = ((3, 4), (1, 3))


def tolerance(scale: float, dim: int = 1, c: float = 16.0) -> float:
    """Rounding-error allowance for an identity of magnitude ``scale`` over ``dim`` terms: c*eps*sqrt(dim)*scale."""
    return c * EPS * max(dim, 1) ** 0.5 * max(float(scale), np.finfo(np.float64).tiny)


def elements(min_abs: float = 1e-3, max_abs: float = 10.0, allow_zero: bool = True):
    """float64 values in [-max_abs, max_abs], bounded away from 0 by min_abs (0 itself optional)."""
    if not 0 < min_abs <= max_abs:
        raise ValueError(f"need 0 < min_abs <= max_abs, got {min_abs}, {max_abs}")
    mag = st.floats(min_abs, max_abs, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    signed = st.tuples(st.sampled_from((-1.0, 1.0)), mag).map(lambda t: t[0] * t[1])
    return st.one_of(st.just(0.0), signed) if allow_zero else signed


def arrays(shape, **elem_kw):
    """A float64 numpy array of the given shape with ``elements(**elem_kw)``."""
    n = int(np.prod(shape)) if len(shape) else 1
    return st.lists(elements(**elem_kw), min_size=n, max_size=n).map(
        lambda v: np.asarray(v, dtype=np.float64).reshape(shape))


@st.composite
def shapes(draw, max_layers: int = 3, max_dim: int = 4):
    """Layer shapes [(out, in), ...] of a chain (in of layer k+1 = out of layer k)."""
    k = draw(st.integers(1, max_layers))
    dims = draw(st.lists(st.integers(1, max_dim), min_size=k + 1, max_size=k + 1))
    return [(dims[i + 1], dims[i]) for i in range(k)]


@st.composite
def params(draw, shapes=DEFAULT_SHAPES, nonzero: bool = True, **elem_kw):
    """theta: a list of float64 tensors with the given shapes (or a shapes strategy).

    ``nonzero=True`` rejects the all-zero theta (where norms have no direction).
    """
    shp = draw(shapes) if isinstance(shapes, st.SearchStrategy) else shapes
    theta = [torch.from_numpy(draw(arrays(tuple(s), **elem_kw))) for s in shp]
    if nonzero and not any(bool(t.any()) for t in theta):
        theta[0].view(-1)[0] = 1.0
    return theta


def norms(names=NORM_NAMES):
    """Norm names for ``kc.norm`` (l2, l1, linf, lp:P, spectral, nuclear)."""
    return st.sampled_from(tuple(names))


def lp_norms(min_p: float = 1.1, max_p: float = 8.0):
    """Names "lp:P" with P drawn from [min_p, max_p] (rounded to 3 decimals)."""
    return st.floats(min_p, max_p).map(lambda p: f"lp:{round(p, 3):g}")


@st.composite
def binary_data(draw, n=st.integers(2, 8), d=st.integers(1, 4), **elem_kw):
    """(X (n, d) float64 numpy, y (n,) in {-1, +1}); n, d ints or integer strategies."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    d = draw(d) if isinstance(d, st.SearchStrategy) else d
    X = draw(arrays((n, d), **elem_kw))
    y = np.asarray(draw(st.lists(st.sampled_from((-1.0, 1.0)), min_size=n, max_size=n)), dtype=np.float64)
    return X, y


@st.composite
def multiclass_data(draw, n=st.integers(2, 8), d=st.integers(1, 4), classes: int = 3, **elem_kw):
    """(X (n, d), y (n,) int64 in [0, classes))."""
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    d = draw(d) if isinstance(d, st.SearchStrategy) else d
    X = draw(arrays((n, d), **elem_kw))
    y = np.asarray(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    return X, y


@st.composite
def separable_linear_data(draw, n=st.integers(3, 12), d=st.integers(2, 5), min_gap: float = 0.05):
    """(X, y, w_true): y_i = sign(<w_true, x_i>) with |<w_true, x_i>| >= min_gap * ||w_true||_2 ||x_i||_2.

    Points too close to the separating hyperplane are pushed out along w_true, so the data are separable
    through the origin with a margin bounded away from 0 (the LP/SOCP answers are then well conditioned).
    """
    n = draw(n) if isinstance(n, st.SearchStrategy) else n
    d = draw(d) if isinstance(d, st.SearchStrategy) else d
    w = draw(arrays((d,), allow_zero=False, min_abs=0.1, max_abs=1.0))
    w = w / np.linalg.norm(w)
    X = draw(arrays((n, d), allow_zero=True, min_abs=1e-2, max_abs=3.0))
    s = X @ w
    side = np.where(s >= 0, 1.0, -1.0)
    need = min_gap * np.maximum(np.linalg.norm(X, axis=1), 1.0)
    X = X + ((np.maximum(need - np.abs(s), 0.0)) * side)[:, None] * w[None, :]
    return X, side, w


def powers_of_ten(lo: int = -300, hi: int = 300):
    """Exponents k in [lo, hi] (10.0**k is a normal float64 for -307 <= k <= 308); draw k, scale by 10.0**k."""
    return st.integers(lo, hi)


@st.composite
def poisoned(draw, blocks, p_clean: float = 0.7):
    """(blocks, where): with probability p_clean the blocks unchanged and where = None; otherwise copies with
    ONE entry replaced by NaN, +inf or -inf, and where = the index of the poisoned block."""
    if draw(st.floats(0, 1)) < p_clean:
        return blocks, None
    k = draw(st.integers(0, len(blocks) - 1))
    out = [b.clone() if isinstance(b, torch.Tensor) else np.array(b, dtype=np.float64, copy=True) for b in blocks]
    flat = out[k].reshape(-1)
    flat[draw(st.integers(0, flat.shape[0] - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return out, k


__all__ = ["EPS", "NORM_NAMES", "tolerance", "elements", "arrays", "shapes", "params", "norms", "lp_norms",
           "binary_data", "multiclass_data", "separable_linear_data", "powers_of_ten", "poisoned"]
