"""The field of S runs at once: log L, the margins q and G = grad log L for a leading run axis, in closed form.

Run s has its own data X_s (n, d), labels y_s (n,) in {-1, +1} and flat parameters theta_s (a row of the
(S, P) tensor ``theta``; blocks in the order of the model's ``parameters()``, each row-major, as
``kktcheck.params.flatten``). With q_i = y_i f(x_i; theta_s) and the SUMMED loss L = sum_i l(q_i):

    log L = logsumexp_i log l(q_i),      c_i = d log L / d f_i = -y_i exp(log|l'(q_i)| - log L),

log|l'(q)| = -q (exp) or log sigmoid(-q) (logistic) (``proofs_numeric.losses.binary_output_weights``, the one
implementation the per-run field uses too), and the model pulls c back, G = sum_i c_i grad f_i, with its own
``forward_vjp`` called on the (S, *shape) views of theta (the per-run closed form IS the batched one: one
implementation with an optional leading run axis, ``proofs_numeric.models``):

* ``Linear``: f = <w, x>, G = sum_i c_i x_i;
* ``TwoLayerReLU`` (trainable or frozen output) and ``TwoLayerSquaredReLU``: f = sum_j a_j sigma(<w_j, x>) with
  sigma = relu (relu'(0) := 0, as autograd) or relu^2 (sigma' = 2 relu):
  grad_a = sum_i c_i sigma(H_i), grad_W = ((c a) * sigma'(H))^T X with H = X W^T;
* ``ReLUNet``: backpropagation delta_(k-1) = (delta_k W_k) * 1[z_(k-1) > 0], grad W_k = delta_k^T h_(k-1);
* ``DiagonalNet``: beta = w_1 * ... * w_D, grad w_k = (X^T c) * prod_(j != k) w_j (prefix/suffix products).

No autograd, one thread is enough. A model outside this list, or one with several outputs, is a TypeError:
autograd stays the per-run path (``flow.integrate``). ``device``: where X, y (and a frozen output layer) live;
theta must live there too.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..device import model_on, resolve_device
from ..losses import binary_output_weights
from ..models import DiagonalNet, Linear, ReLUNet, TwoLayerReLU
from ..smooth_models import TwoLayerSquaredReLU

BATCHED_MODELS = (Linear, TwoLayerReLU, TwoLayerSquaredReLU, ReLUNet, DiagonalNet)
BATCHED_LOSSES = ("exp", "logistic")


@dataclass
class BatchedEval:
    """The field at S parameter rows: log L (S,), margins q (S, n), G = grad log L (S, P)."""
    log_L: torch.Tensor
    q: torch.Tensor
    G: torch.Tensor


def _outputs(model) -> int:
    """The number of outputs of a built-in model (rows of its output layer)."""
    if isinstance(model, Linear):
        return model.weight.shape[0]
    if isinstance(model, TwoLayerReLU):
        return (model.a if model.train_output else model.a_frozen).shape[0]
    if isinstance(model, ReLUNet):
        return model.layers[-1].shape[0]
    return 1


class BatchedField:
    """theta (S, P) -> BatchedEval for a built-in model (``BATCHED_MODELS``) on stacked data X (S, n, ...)."""

    def __init__(self, model, X, y, loss: str = "exp", device=None):
        if not isinstance(model, BATCHED_MODELS) or _outputs(model) != 1:
            raise TypeError(f"BatchedField has closed forms for {[m.__name__ for m in BATCHED_MODELS]} with one "
                            f"output; got {type(model).__name__}: train it run by run with flow.integrate")
        if loss not in BATCHED_LOSSES:
            raise ValueError(f"loss must be one of {BATCHED_LOSSES} (binary labels), got {loss!r}")
        if X.dim() < 3 or y.dim() != 2 or X.shape[:2] != y.shape:
            raise ValueError(f"X must be (S, n, ...) and y (S, n) with the same S and n; got X {tuple(X.shape)}, "
                             f"y {tuple(y.shape)}")
        self.device = resolve_device(device)
        f64 = dict(dtype=torch.float64, device=self.device)
        self.loss = loss
        self.X, self.y = X.to(**f64).reshape(X.shape[0], X.shape[1], -1), y.to(**f64)
        self.shapes = [tuple(p.shape) for p in model.parameters()]
        self.P = sum(int(torch.Size(s).numel()) for s in self.shapes)
        self.degree = int(model.degree)
        if self.X.shape[2] != self.shapes[0][-1]:
            raise ValueError(f"X has {self.X.shape[2]} features per point, the model expects {self.shapes[0][-1]}")
        self.model = model_on(model, self.device)      # a frozen output layer moved with the data

    @property
    def S(self) -> int:
        return self.X.shape[0]

    def blocks(self, theta) -> list:
        """Views of theta (S, P) shaped (S, *block shape), one per model parameter."""
        out, at = [], 0
        for shape in self.shapes:
            size = int(torch.Size(shape).numel())
            out.append(theta[:, at:at + size].view(theta.shape[0], *shape))
            at += size
        return out

    def flat(self, params) -> torch.Tensor:
        """One (S, P) float64 tensor on the field's device from stacked blocks [(S, *shape), ...] (a copy)."""
        S = params[0].shape[0]
        return torch.cat([p.detach().to(dtype=torch.float64, device=self.device).reshape(S, -1) for p in params], 1)

    def __call__(self, theta) -> BatchedEval:
        """log L, q and G at the S rows of theta: the model's closed form on the run axis, then the loss weights."""
        out, vjp = self.model.forward_vjp(self.blocks(theta), self.X)
        lL, q, c = binary_output_weights(out, self.y, self.loss)
        G = vjp(c)
        return BatchedEval(lL, q, G[0].reshape(theta.shape[0], -1) if len(G) == 1 else
                           torch.cat([g.reshape(theta.shape[0], -1) for g in G], 1))


__all__ = ["BatchedField", "BatchedEval", "BATCHED_MODELS", "BATCHED_LOSSES"]
