"""The field of S runs at once: log L, the margins q and G = grad log L for a leading run axis, in closed form.

Run s has its own data X_s (n, d), labels y_s (n,) in {-1, +1} and flat parameters theta_s (a row of the
(S, P) tensor ``theta``; blocks in the order of the model's ``parameters()``, each row-major, as
``kktcheck.params.flatten``). With q_i = y_i f(x_i; theta_s) and the SUMMED loss L = sum_i l(q_i):

    log L = logsumexp_i log l(q_i),      c_i = d log L / d f_i = -y_i exp(log|l'(q_i)| - log L),

log|l'(q)| = -q (exp) or log sigmoid(-q) (logistic), so c is the softmax-weighted pull-back of
``proofs_numeric.losses`` in log space (finite at log L = -1e6). The model pulls c back, G = sum_i c_i grad f_i:

* ``Linear``: f = <w, x>, G = sum_i c_i x_i;
* ``TwoLayerReLU`` (trainable or frozen output) and ``TwoLayerSquaredReLU``: f = sum_j a_j sigma(<w_j, x>) with
  sigma = relu (relu'(0) := 0, as autograd) or relu^2 (sigma' = 2 relu):
  grad_a = sum_i c_i sigma(H_i), grad_W = ((c a) * sigma'(H))^T X with H = X W^T.

The same formulas as the models' per-run ``forward_vjp`` (tested equal to 1e-12), as batched matrix products;
no autograd, one thread is enough. A model outside this list is a TypeError: autograd stays the per-run path
(``flow.integrate``). ``device``: where X, y (and a frozen output layer) live; theta must live there too.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from kktcheck.losses import log_softplus

from ..device import resolve_device
from ..models import Linear, TwoLayerReLU
from ..smooth_models import TwoLayerSquaredReLU

BATCHED_MODELS = (Linear, TwoLayerReLU, TwoLayerSquaredReLU)
BATCHED_LOSSES = ("exp", "logistic")


@dataclass
class BatchedEval:
    """The field at S parameter rows: log L (S,), margins q (S, n), G = grad log L (S, P)."""
    log_L: torch.Tensor
    q: torch.Tensor
    G: torch.Tensor


def log_loss_weights(out, y, loss: str):
    """(log L (S,), q (S, n), c = d log L / d f (S, n)) for binary outputs ``out`` (S, n), summed loss."""
    q = y * out
    if loss == "exp":
        lL = torch.logsumexp(-q, dim=1)
        return lL, q, -torch.exp(-q - lL.unsqueeze(1)) * y        # the form of logsumexp's own backward
    lL = torch.logsumexp(log_softplus(-q), dim=1)
    return lL, q, -torch.exp(torch.nn.functional.logsigmoid(-q) - lL.unsqueeze(1)) * y


def _outputs(model) -> int:
    """The number of outputs of a built-in model (rows of its output layer)."""
    if isinstance(model, Linear):
        return model.weight.shape[0]
    if isinstance(model, TwoLayerReLU):
        return (model.a if model.train_output else model.a_frozen).shape[0]
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
        self.model, self.loss = model, loss
        self.X, self.y = X.to(**f64).reshape(X.shape[0], X.shape[1], -1), y.to(**f64)
        self.shapes = [tuple(p.shape) for p in model.parameters()]
        self.P = sum(int(torch.Size(s).numel()) for s in self.shapes)
        self.degree = int(model.degree)
        if self.X.shape[2] != self.shapes[0][-1]:
            raise ValueError(f"X has {self.X.shape[2]} features per point, the model expects {self.shapes[0][-1]}")
        frozen = isinstance(model, TwoLayerReLU) and not model.train_output
        self.frozen_a = model.a_frozen.to(**f64).reshape(-1) if frozen else None
        self.squared = isinstance(model, TwoLayerSquaredReLU)

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
        if isinstance(self.model, Linear):
            return self._linear(theta)
        return self._two_layer(theta)

    def _linear(self, theta):
        out = torch.bmm(self.X, theta.unsqueeze(2)).squeeze(2)
        lL, q, c = log_loss_weights(out, self.y, self.loss)
        return BatchedEval(lL, q, torch.matmul(c.unsqueeze(1), self.X).squeeze(1))

    def _two_layer(self, theta):
        S, (k, d) = theta.shape[0], self.shapes[0]
        W = theta[:, :k * d].view(S, k, d)
        a = theta[:, k * d:] if self.frozen_a is None else self.frozen_a.expand(S, k)
        H = torch.bmm(self.X, W.transpose(1, 2))                      # (S, n, k)
        R = torch.relu(H)
        act = R * R if self.squared else R
        lL, q, c = log_loss_weights(torch.matmul(act, a.unsqueeze(2)).squeeze(2), self.y, self.loss)
        slope = 2.0 * R if self.squared else torch.sign(R)            # sigma'(H); sign(relu(H)) = 1[H > 0]
        gW = torch.bmm(((c.unsqueeze(2) * a.unsqueeze(1)) * slope).transpose(1, 2), self.X)
        if self.frozen_a is not None:
            return BatchedEval(lL, q, gW.reshape(S, -1))
        return BatchedEval(lL, q, torch.cat([gW.reshape(S, -1), torch.matmul(c.unsqueeze(1), act).squeeze(1)], 1))


__all__ = ["BatchedField", "BatchedEval", "log_loss_weights", "BATCHED_MODELS", "BATCHED_LOSSES"]
