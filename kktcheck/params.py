"""Parameters as a flat list of float64 tensors, one per layer (PyTorch (out, in) layout).

Every public entry point converts user input here once (``as_params``); internal code then
works on ``list[torch.Tensor]`` of dtype float64.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

Params = list  # list[torch.Tensor], float64, one tensor per layer


def as_params(theta, *, name: str = "theta", check_finite: bool = True) -> list[torch.Tensor]:
    """Convert ``theta`` (nn.Module, tensor, ndarray or a sequence of them) to float64 tensors.

    Raises ValueError with the layer index when an entry is NaN/inf or a layer has no entries (width 0), and
    TypeError for objects that are not numeric arrays.
    """
    if isinstance(theta, torch.nn.Module):
        blocks = [p.detach() for p in theta.parameters()]
    elif isinstance(theta, (torch.Tensor, np.ndarray)):
        blocks = [theta]
    elif isinstance(theta, Iterable) and not isinstance(theta, (str, bytes)):
        blocks = list(theta)
    else:
        raise TypeError(f"{name} must be a list of arrays/tensors (one per layer) or an nn.Module; "
                        f"got {type(theta).__name__}")
    if not blocks:
        raise ValueError(f"{name} is empty: pass one array per layer")
    out = []
    for k, b in enumerate(blocks):
        _check_block_kind(b, f"{name}[{k}]")
        try:
            t = torch.as_tensor(b.detach() if isinstance(b, torch.Tensor) else b, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name}[{k}] is not a numeric array ({type(b).__name__}): {err}") from None
        if t.numel() == 0:
            raise ValueError(f"{name}[{k}] has shape {tuple(t.shape)}, no entries: a layer of width 0 has no units; "
                             "build every layer with width >= 1")
        if check_finite and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name}[{k}] (shape {tuple(t.shape)}) contains NaN or inf; "
                             "the margin and KKT quantities are undefined there. Check the training run "
                             "that produced these weights (e.g. an overflowing loss).")
        out.append(t)
    return out


def _check_block_kind(b, name: str) -> None:
    """TypeError for a complex block (float64 conversion would drop its imaginary part silently),
    ValueError for a tensor on the 'meta' device (a shape without values)."""
    if isinstance(b, torch.Tensor) and b.device.type == "meta":
        raise ValueError(f"{name} is on the 'meta' device (a shape without values): materialize the model first, "
                         "e.g. model.to_empty(device='cpu') and then load its weights")
    if (isinstance(b, torch.Tensor) and b.is_complex()) or (isinstance(b, np.ndarray) and np.iscomplexobj(b)):
        raise TypeError(f"{name} is complex; norms and margins are defined on real parameters")


def blocks(theta, name: str = "theta") -> list[torch.Tensor]:
    """Light conversion for hot paths: float64 tensors, no copy when possible; only complex/meta blocks are
    refused (TypeError/ValueError naming ``name[k]``)."""
    bs = [theta] if isinstance(theta, (torch.Tensor, np.ndarray)) else list(theta)
    out = []
    for k, b in enumerate(bs):
        _check_block_kind(b, f"{name}[{k}]")
        if isinstance(b, torch.Tensor):
            out.append(b.to(torch.float64))
        elif isinstance(b, np.ndarray):
            out.append(torch.from_numpy(np.asarray(b, dtype=np.float64)))
        else:
            out.append(torch.as_tensor(b, dtype=torch.float64))
    return out


def flatten(theta: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate all blocks into one vector (row-major within each block)."""
    return torch.cat([b.reshape(-1) for b in theta])


def unflatten(vec: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of ``flatten``: split ``vec`` into tensors shaped like ``like``."""
    out, start = [], 0
    for b in like:
        n = b.numel()
        out.append(vec[start:start + n].reshape(b.shape))
        start += n
    if start != vec.numel():
        raise ValueError(f"vector of length {vec.numel()} does not match parameter sizes totalling {start}")
    return out


def inner(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """Euclidean pairing <a, b> = sum over blocks of sum(a_l * b_l)."""
    if len(a) != len(b):
        raise ValueError(f"cannot pair {len(a)} blocks with {len(b)} blocks")
    return float(sum((x * y).sum() for x, y in zip(a, b)))


def scale(theta: Sequence[torch.Tensor], c: float) -> list[torch.Tensor]:
    """c * theta, blockwise."""
    return [c * b for b in theta]


def axpy(a: float, x: Sequence[torch.Tensor], y: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """a * x + y, blockwise."""
    return [a * xb + yb for xb, yb in zip(x, y)]


def feasible_rescaling(theta: Sequence, q_min: float, degree: int) -> tuple[list, float]:
    """The feasible point of (MM) min 1/2||theta||^2 s.t. q_i(theta) >= 1 on the ray of theta:
    theta~ = theta / c with c = q_min^(1/L). For an L-homogeneous model q_i(c theta) = c^L q_i(theta), so
    min_i q_i(theta~) = 1. Returns (theta~ blocks, c); blocks keep their type (tensors or arrays).
    ValueError unless q_min > 0 (every sample classified) and degree >= 1."""
    q_min = float(q_min)
    if not np.isfinite(q_min):
        raise ValueError(f"q_min = {q_min!r}: the margins of theta overflow float64 at this scale of theta or the "
                         "data; rescale theta (every quantity of (MM) is scale free)")
    if not q_min > 0:
        raise ValueError(f"q_min must be a positive margin (every sample correctly classified), got {q_min!r}")
    if isinstance(degree, bool) or int(degree) != degree or degree < 1:
        raise ValueError(f"degree must be a positive integer (the homogeneity L of the model), got {degree!r}")
    c = q_min ** (1.0 / degree)
    return [b / c for b in theta], c
