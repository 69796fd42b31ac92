"""Validation of a data set ``(X, y)``.

Binary labels are y in {-1, +1} (float); multi-class labels are integer classes 0..C-1 (long).
"""
from __future__ import annotations

import numpy as np
import torch


def check_data(data, n_outputs: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (X float64, y) after checking shapes, finiteness and labels.

    ``n_outputs`` is the model's output width: 1 (or None) means binary labels in {-1, +1};
    C > 1 means integer classes in [0, C).
    """
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError("data must be a pair (X, y): X of shape (n, ...) and y of shape (n,)") from None
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X.detach(), dtype=torch.float64)
    y_raw = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y.detach())
    if y_raw.dim() == 2 and y_raw.shape[1] == 1:
        y_raw = y_raw[:, 0]
    if X.dim() < 2 or y_raw.dim() != 1 or X.shape[0] != y_raw.shape[0]:
        raise ValueError(f"shape mismatch: X has shape {tuple(X.shape)} and y has shape {tuple(y_raw.shape)}; "
                         "expected X of shape (n, d, ...) and y of shape (n,)")
    if X.shape[0] == 0:
        raise ValueError("data set is empty")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or inf; clean the inputs before computing margins")
    if not bool(torch.isfinite(y_raw.double()).all()):
        raise ValueError("y contains NaN or inf")
    if n_outputs is None or n_outputs == 1:
        vals = set(torch.unique(y_raw.double()).tolist())
        if not vals <= {-1.0, 1.0}:
            hint = " (looks like {0, 1}: use y = 2*y - 1)" if vals <= {0.0, 1.0} else ""
            raise ValueError(f"binary labels must be -1 or +1, got values {sorted(vals)[:10]}{hint}")
        return X, y_raw.to(torch.float64)
    yd = y_raw.double()
    if not bool((yd == yd.round()).all()):
        raise ValueError("multi-class labels must be integers 0..C-1")
    lo, hi = int(yd.min()), int(yd.max())
    if lo < 0 or hi >= n_outputs:
        raise ValueError(f"class labels must lie in [0, {n_outputs - 1}] for a model with {n_outputs} outputs; "
                         f"got range [{lo}, {hi}]")
    return X, y_raw.to(torch.long)
