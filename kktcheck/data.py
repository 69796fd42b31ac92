"""Validation of a data set ``(X, y)``: the one layer every public entry point runs FIRST, before anything
evaluates a model, so a bad X or y is reported as such (not as a dead or non-homogeneous model).

Binary labels are y in {-1, +1} (float); multi-class labels are integer classes 0..C-1 (long).
"""
from __future__ import annotations

import numpy as np
import torch


def as_real_tensor(v, name: str, dtype=torch.float64) -> torch.Tensor:
    """``v`` as a real tensor (``dtype``, or its own dtype if None); TypeError for complex or non-numeric input,
    ValueError for a tensor on the 'meta' device (it has a shape but no values)."""
    if isinstance(v, torch.Tensor):
        if v.device.type == "meta":
            raise ValueError(f"{name} is on the 'meta' device (a shape without values); materialize it first, "
                             "e.g. torch.empty_like(t, device='cpu') filled with the real data")
        t = v.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(v))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} is not a numeric array ({type(v).__name__}): {err}") from None
    if t.is_complex():
        raise TypeError(f"{name} is complex ({t.dtype}); margins are defined for real data. Pass {name}.real "
                        "if the imaginary part is meant to be 0")
    if not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                  torch.uint8, torch.bool)):
        raise TypeError(f"{name} has dtype {t.dtype}; pass real numbers")
    return t.to(dtype) if dtype is not None else t


def check_inputs(data) -> tuple[torch.Tensor, torch.Tensor]:
    """(X float64, raw y) after checking that data is a pair, X and y are real, shapes match, n >= 1 and
    every entry is finite. Labels are checked later against the model's output width (check_labels)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        what = f"a {type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
        raise TypeError(f"data must be a pair (X, y): X of shape (n, ...) and y of shape (n,); got {what}")
    X = as_real_tensor(data[0], "X")
    y_raw = as_real_tensor(data[1], "y", dtype=None)
    if y_raw.dim() == 2 and y_raw.shape[1] == 1:
        y_raw = y_raw[:, 0]
    if X.dim() < 2 or y_raw.dim() != 1 or X.shape[0] != y_raw.shape[0]:
        raise ValueError(f"shape mismatch: X has shape {tuple(X.shape)} and y has shape {tuple(y_raw.shape)}; "
                         "expected X of shape (n, d, ...) and y of shape (n,)")
    if X.shape[0] == 0 or X[0].numel() == 0:
        raise ValueError(f"X is empty (shape {tuple(X.shape)}): pass at least one sample with at least one feature")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or inf; clean the inputs before computing margins")
    if not bool(torch.isfinite(y_raw.double()).all()):
        raise ValueError("y contains NaN or inf")
    return X, y_raw


def check_labels(y_raw: torch.Tensor, n_outputs: int | None = None) -> torch.Tensor:
    """``n_outputs`` is the model's output width: 1 (or None) means binary labels in {-1, +1} (float64);
    C > 1 means integer classes in [0, C) (long)."""
    if n_outputs is None or n_outputs == 1:
        vals = set(torch.unique(y_raw.double()).tolist())
        if not vals <= {-1.0, 1.0}:
            hint = " (looks like {0, 1}: use y = 2*y - 1)" if vals <= {0.0, 1.0} else ""
            raise ValueError(f"binary labels must be -1 or +1, got values {sorted(vals)[:10]}{hint}")
        return y_raw.to(torch.float64)
    yd = y_raw.double()
    if not bool((yd == yd.round()).all()):
        raise ValueError("multi-class labels must be integers 0..C-1")
    lo, hi = int(yd.min()), int(yd.max())
    if lo < 0 or hi >= n_outputs:
        raise ValueError(f"class labels must lie in [0, {n_outputs - 1}] for a model with {n_outputs} outputs; "
                         f"got range [{lo}, {hi}]")
    return y_raw.to(torch.long)


def check_data(data, n_outputs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (X float64, y) after check_inputs and check_labels."""
    X, y_raw = check_inputs(data)
    return X, check_labels(y_raw, n_outputs)
