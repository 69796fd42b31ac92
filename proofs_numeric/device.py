"""Where the engine's training loops run: the one place that turns a device request into a ``torch.device``.

Accepted requests: None (the CPU, the tested path), "cpu", "cuda", "cuda:N", or a ``torch.device`` of type
cpu or cuda. A CUDA request is checked before any work: ``torch.cuda.is_available()`` must be True (a CUDA
build of torch and a visible GPU) and N must be below ``torch.cuda.device_count()``; "cuda" resolves to the
current CUDA device with its index (``cuda:0`` unless changed), the device the tensors actually land on.
The dtype never changes: every loop that takes a device stays in float64 there.

Which paths use the device (docs/sweeps.md, "GPU runs"): ``flow.integrate`` (the steepest-flow field: X, y
and the parameters) and ``experiments.batched.train_batched`` (the batched teacher-student engine). The
late-phase ridge linear programs, kktcheck's convex programs and all reporting stay on the CPU; results
come back as CPU float64 arrays and tensors.
"""
from __future__ import annotations

import copy

import torch

DEVICE_TYPES = ("cpu", "cuda")


def resolve_device(device=None, *, argument: str = "device") -> torch.device:
    """The ``torch.device`` for the request ``device`` (None means the CPU).

    ``argument`` names the parameter or option in the error messages (e.g. "--device"). Raises TypeError
    for a request that is neither None, a string nor a ``torch.device``, and ValueError for an unknown
    device string, a device type other than cpu/cuda, or CUDA asked for where it is not available."""
    if device is None:
        return torch.device("cpu")
    if isinstance(device, bool) or not isinstance(device, (str, torch.device)):
        raise TypeError(f"{argument} must be None, 'cpu', 'cuda', 'cuda:N' or a torch.device, got "
                        f"{type(device).__name__} {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{_said(argument, device)} is not a device: use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type not in DEVICE_TYPES:
        raise ValueError(f"{_said(argument, device)}: only 'cpu' and 'cuda' (or 'cuda:N') are supported, "
                         f"got device type {dev.type!r}")
    if dev.type == "cpu":
        return torch.device("cpu")
    return _cuda_device(dev, device, argument)


def _cuda_device(dev: torch.device, request, argument: str) -> torch.device:
    """The CUDA device ``dev`` with an explicit index, after checking that it exists here."""
    if not torch.cuda.is_available():
        build = "this torch build is CPU-only" if torch.version.cuda is None else "no GPU is visible"
        raise ValueError(f"{_said(argument, request)} but torch.cuda.is_available() is False: {build}; install "
                         "a CUDA build of torch on a machine with a GPU (docs/sweeps.md, 'GPU runs'), or use "
                         f"{_said(argument, 'cpu')}")
    count = torch.cuda.device_count()
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= count:
        raise ValueError(f"{_said(argument, request)}: this machine has {count} visible CUDA device(s) "
                         f"(cuda:0 .. cuda:{count - 1}); choose one of them (CUDA_VISIBLE_DEVICES renumbers them)")
    return torch.device("cuda", index)


def _said(argument: str, request) -> str:
    """How the request reads in a message: "--device cuda" for an option, "device='cuda'" for a parameter."""
    return f"{argument} {request}" if argument.startswith("--") else f"{argument}={str(request)!r}"


def device_name(device=None) -> str:
    """The canonical text of a request ("cpu", "cuda:0", ...), resolved as by ``resolve_device``."""
    return str(resolve_device(device))


def model_on(fm, device: torch.device):
    """The functional model ``fm`` with its own tensors (parameters and buffers, e.g. a frozen output layer) on
    ``device``: ``fm`` itself on the CPU, else a moved deep copy (the caller's model is never changed).
    Handles an ``nn.Module`` and a wrapper holding one as ``.module`` (kktcheck's ModuleModel); other objects
    hold no tensors of their own and are returned as they are."""
    if device.type == "cpu":
        return fm
    if isinstance(fm, torch.nn.Module):
        return copy.deepcopy(fm).to(device)
    inner = getattr(fm, "module", None)
    if isinstance(inner, torch.nn.Module):
        moved = copy.copy(fm)
        moved.module = copy.deepcopy(inner).to(device)
        return moved
    return fm


__all__ = ["DEVICE_TYPES", "resolve_device", "device_name", "model_on"]
