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
from .scale import unit_scale

_NORMALIZING = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)
_DROPOUT = (torch.nn.modules.dropout._DropoutNd,)


def _check_module(module: torch.nn.Module) -> None:
    """Refuse what makes f(x; theta) undefined or random before any evaluation: meta tensors, Dropout in train
    mode, normalization layers and biases (each with the fix)."""
    for name, p in module.named_parameters():
        if p.device.type == "meta":
            raise ValueError(f"parameter {name!r} is on the 'meta' device (a shape without values): materialize "
                             "the model first, e.g. model.to_empty(device='cpu') and then load its weights")
    for name, sub in module.named_modules():
        if isinstance(sub, _DROPOUT) and sub.training and sub.p > 0:
            raise ValueError(f"module {name!r} ({type(sub).__name__}) is in train mode, so the output is random; "
                             "call model.eval() or remove Dropout before computing margins")
        if isinstance(sub, _NORMALIZING):
            raise ValueError(f"module {name!r} ({type(sub).__name__}) is a normalization layer, so the model "
                             "is not homogeneous in its parameters; remove it")


class ModuleModel:
    """Wrap a bias-free nn.Module as a functional, float64 model."""

    def __init__(self, module: torch.nn.Module, degree: int | None = None):
        _check_module(module)
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

    Deviations are measured against A = max(max|f(theta; X)|, max|f(|theta|; |X|)|): for a bias-free
    ReLU/linear net f(|theta|; |X|) is the sum over paths of |contributions|, the size that bounds the
    rounding error of f, so an output that nearly cancels (|f| << A) is not mistaken for non-homogeneity.
    L is read from the larger of the two. Raises ValueError (model not positively homogeneous) when no
    integer fits, or when both outputs vanish (dead ReLUs, zero weights).
    """
    f1 = model_outputs(model, params, X)
    fa = model_outputs(model, [p.abs() for p in params], X.abs())
    use_abs = float(fa.abs().max()) > float(f1.abs().max())
    scale = max(float(f1.abs().max()), float(fa.abs().max()))
    if not scale > 0:
        raise ValueError("the model outputs 0 on every input at these parameters; cannot detect its "
                         "homogeneity degree (check for dead ReLUs or zero weights)")
    ref, P, Xr = (fa, [p.abs() for p in params], X.abs()) if use_abs else (f1, params, X)
    ratio = float(model.apply_params([2.0 * p for p in P], Xr).abs().max()) / float(ref.abs().max())
    L = round(math.log2(ratio)) if ratio > 0 else -1
    c, err = _deviation(model, params, X, f1, L, scale, rtol)
    if L < 1 or c is not None:
        raise ValueError("model is not positively homogeneous in its parameters: f(x; c*theta) != "
                         f"c^L f(x; theta) for c = {c or 0.5} (best integer L = {L}, max deviation {err:.3g}). "
                         "Remove biases and use 1-homogeneous activations (ReLU, LeakyReLU, identity).")
    return L


def _deviation(model, params, X, f1, L, scale, rtol, cs=(0.5, 2.0, 3.0)):
    """(first c in cs with |f(c theta) - c^L f(theta)| > 10 rtol max(1, c^L) scale, or None; its error)."""
    err = 0.0
    for c in cs:
        fc = model.apply_params([c * p for p in params], X)
        err = float((fc - c ** L * f1).abs().max())
        if not err <= rtol * max(1.0, c ** L) * scale * 10:
            return c, err
    return None, err


def is_homogeneous(model, params, X: torch.Tensor, L: int, *, rtol: float = 1e-8) -> bool:
    """True when f(2 theta) = 2^L f(theta) on X to rounding (relative to f(|theta|; |X|), see detect_degree).

    Margins use this identity to evaluate at theta / ||theta||; a model declaring a degree it does not have
    (e.g. a negative control with an output offset) is evaluated by the literal definition instead."""
    try:
        f1 = model_outputs(model, params, X)
        scale = max(float(f1.abs().max()),
                    float(model_outputs(model, [p.abs() for p in params], X.abs()).abs().max()))
    except ValueError:
        return False
    return _deviation(model, params, X, f1, L, scale, rtol, cs=(2.0,))[0] is None


def model_outputs(fm, params, X: torch.Tensor) -> torch.Tensor:
    """apply_checked, then a ValueError when an output is NaN/inf (float64 overflow of the forward pass)."""
    out = apply_checked(fm, params, X)
    if not bool(torch.isfinite(out).all()):
        mx = float(X.abs().max()) if X.numel() else 0.0
        mt = max((float(p.abs().max()) for p in params if p.numel()), default=0.0)
        raise ValueError(f"the model's outputs are not finite (float64 overflow) at these inputs and parameters "
                         f"(max|x| = {mx:.3g}, max|theta| = {mt:.3g}); rescale X (margins scale with it) or theta")
    return out


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
    fm._degree = detect_degree(fm, unit_scale(params)[1], X)  # q(c theta) = c^L q(theta): detect at unit scale
    return fm, params, fm.degree
