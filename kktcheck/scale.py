"""Scale out, work at unit scale, put the scale back (in log space where it would overflow).

Every quantity kktcheck reports is homogeneous in the parameters or the data: ||c x|| = c ||x||,
q(c theta) = c^L q(theta), gamma*(c X) = c gamma*(X). Float64 holds 10^-308 .. 10^308, but squares,
sums and products of such numbers do not, so each computation first divides by s = 2^e with
2^(e-1) <= max_j |x_j| < 2^e (exact: a power of two only changes the exponent), works on entries in
[-1, 1], and multiplies the result by s at the end (or adds e log 2 to its logarithm).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

LOG2 = math.log(2.0)
_CHUNK = 1000  # 2^+-1000 is a normal float64; larger shifts are applied in pieces


def exponent(xs: Sequence[torch.Tensor]) -> int:
    """e with max_j |x_j| < 2^e <= 2 max_j |x_j| (0 for an all-zero or empty list); entries must be finite."""
    m = max((float(x.abs().max()) for x in xs if x.numel()), default=0.0)
    if m == 0.0:
        return 0
    return math.frexp(m)[1]


def times_pow2(x: torch.Tensor, e: int) -> torch.Tensor:
    """x * 2^e, exact (barring underflow of entries far below the largest), for any integer e."""
    while e:
        step = max(-_CHUNK, min(_CHUNK, e))
        x = x * math.ldexp(1.0, step)
        e -= step
    return x


def unit_scale(xs: Sequence[torch.Tensor]) -> tuple[int, list[torch.Tensor]]:
    """(e, xs / 2^e): the blocks rescaled so max |entry| lies in [1/2, 1)."""
    e = exponent(xs)
    return e, [times_pow2(x, -e) for x in xs]


def scaled_float(value: float, e: int) -> float:
    """value * 2^e as a Python float (inf when it overflows, which callers turn into an error)."""
    if value == 0.0 or not math.isfinite(value):
        return value
    m, k = math.frexp(value)
    total = k + e
    if total > 1024:
        return math.copysign(math.inf, value)
    return math.ldexp(m, total) if total >= -1074 else 0.0


def log_abs_scaled(value: float, e: int) -> float:
    """log(|value| * 2^e), never overflowing."""
    return math.log(abs(value)) + e * LOG2


def check_finite_blocks(xs: Sequence[torch.Tensor], name: str) -> None:
    """ValueError naming ``name[k]`` when block k has NaN or inf entries."""
    for k, x in enumerate(xs):
        if x.is_complex():
            raise TypeError(f"{name}[{k}] is complex; norms and margins are defined on real parameters")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name}[{k}] (shape {tuple(x.shape)}) contains NaN or inf; the norm and its "
                             "duality map are undefined there. Check what produced it (e.g. an overflowing loss).")
