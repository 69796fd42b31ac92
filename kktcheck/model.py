"""Functional view of a homogeneous model: ``apply_params(params, X) -> outputs`` and ``degree`` L.

Anything with ``apply_params`` and ``degree`` (the proofs_numeric models) is used as is. A user's own
``torch.nn.Module`` is wrapped by ``ModuleModel``: it is copied to float64, refused if it has bias
parameters, and its homogeneity degree L (f(x; c theta) = c^L f(x; theta)) is detected numerically.
Outputs are (n,) for a single output and (n, C) for C > 1 outputs.
"""
from __future__ import annotations

import copy
import math

import torch

from .params import as_params

_NORMALIZING = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)


class ModuleModel:
    """Wrap a bias-free nn.Module as a functional, float64 model."""

    def __init__(self, module: torch.nn.Module, degree: int | None = None):
        for name, sub in module.named_modules():
            if isinstance(sub, _NORMALIZING):
                raise ValueError(f"module {name!r} ({type(sub).__name__}) is a normalization layer, so the model "
                                 "is not homogeneous in its parameters; remove it")
        for name, p in module.named_parameters():
            if name.split(".")[-1].startswith("bias") and p is not None:
                raise ValueError(f"module has a bias parameter {name!r}: the max-margin theory needs an "
                                 "L-homogeneous model; build every layer with bias=False")
        self.module = copy.deepcopy(module).to(torch.float64)
        self.names = [n for n, _ in self.module.named_parameters()]
        self._degree = degree

    def params(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.module.parameters()]

    def apply_params(self, params, X: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(self.module, dict(zip(self.names, params)), (X,))
        return out[..., 0] if out.dim() == 2 and out.shape[1] == 1 else out

    @property
    def degree(self) -> int:
        if self._degree is None:
            raise ValueError("degree not yet detected; call detect_degree(model, params, X)")
        return self._degree


def detect_degree(model, params, X: torch.Tensor, *, rtol: float = 1e-8) -> int:
    """Numerical homogeneity degree: the integer L with f(c theta) = c^L f(theta) for c in {0.5, 2, 3}.

    Raises ValueError (model not positively homogeneous) when no such integer fits.
    """
    f1 = apply_checked(model, params, X)
    scale = float(f1.abs().max())
    if not scale > 0:
        raise ValueError("the model outputs 0 on every input at these parameters; cannot detect its "
                         "homogeneity degree (check for dead ReLUs or zero weights)")
    f2 = model.apply_params([2.0 * p for p in params], X)
    ratio = float(f2.abs().max()) / scale
    L = round(math.log2(ratio)) if ratio > 0 else -1
    for c in (0.5, 2.0, 3.0):
        fc = model.apply_params([c * p for p in params], X)
        err = float((fc - c ** L * f1).abs().max())
        if L < 1 or err > rtol * max(1.0, c ** L) * scale * 10:
            raise ValueError("model is not positively homogeneous in its parameters: f(x; c*theta) != "
                             f"c^L f(x; theta) for c = {c} (best integer L = {L}, max deviation {err:.3g}). "
                             "Remove biases and use 1-homogeneous activations (ReLU, LeakyReLU, identity).")
    return L


def _check_shapes(params, shapes) -> None:
    got = [tuple(p.shape) for p in params]
    if got != shapes:
        raise ValueError(f"parameter shapes {got} do not match the model's {shapes}; pass one tensor per "
                         "model parameter, in the order of model.parameters(), PyTorch (out, in) layout")


def apply_checked(fm, params, X: torch.Tensor) -> torch.Tensor:
    """fm.apply_params(params, X), turning shape errors from torch into a ValueError naming the shapes."""
    try:
        return fm.apply_params(params, X)
    except (RuntimeError, IndexError) as err:
        raise ValueError(f"the model cannot be evaluated on inputs x of shape {tuple(X.shape[1:])} with parameter shapes "
                         f"{[tuple(p.shape) for p in params]} ({err}); check the input dimension d and "
                         "the parameter list") from None


def as_model(theta, model=None, X: torch.Tensor | None = None):
    """Resolve (theta, model) into (functional model, float64 params, degree).

    ``theta`` is an nn.Module (then ``model`` must be None) or parameters with ``model=``, where
    ``model`` has ``apply_params``/``degree`` or is an nn.Module whose parameter layout ``theta`` follows.
    """
    if isinstance(theta, torch.nn.Module):
        if model is not None:
            raise ValueError("theta is already an nn.Module; do not also pass model=")
        if hasattr(theta, "apply_params") and hasattr(theta, "degree"):
            return theta, as_params(theta), int(theta.degree)
        fm = ModuleModel(theta)
        params = fm.params()
        as_params(params)  # finiteness check
    else:
        if model is None:
            raise ValueError("theta is a list of parameters, so pass model= (a proofs_numeric model or "
                             "the nn.Module these parameters belong to), or pass the nn.Module itself")
        params = as_params(theta)
        if hasattr(model, "apply_params") and hasattr(model, "degree"):
            if isinstance(model, torch.nn.Module):
                _check_shapes(params, [tuple(p.shape) for p in model.parameters()])
            return model, params, int(model.degree)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be an nn.Module or have apply_params(params, X) and degree; got {type(model).__name__}")
        fm = ModuleModel(model)
        _check_shapes(params, [tuple(p.shape) for p in fm.module.parameters()])
    if X is None:
        raise ValueError("cannot detect the homogeneity degree without inputs X")
    fm._degree = detect_degree(fm, params, X)
    return fm, params, fm.degree
