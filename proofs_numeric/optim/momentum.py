"""Momentum steepest descent and Adam (m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) g^2, bias-corrected, theta -= lr m^/(sqrt(v^) + eps)); they differ only in the direction map.

m_t = beta m_{t-1} + (1 - beta) g_t with m_0 = 0; eta_t = lr * schedule(t).

| optimizer  | update                                                  | implicit_norm()                      |
|------------|---------------------------------------------------------|--------------------------------------|
| MomentumGD | normalized: -eta_t m_t/||m_t||_2; else -eta_t m_t       | l2                                   |
| Signum     | -eta_t sign(m_t), sign(0) = 0                           | linf                                 |
| Muon       | per matrix -eta_t U V^T of M_t (exact SVD; or N-S)      | spectral (msp: max_l ||W_l||_2)      |
| Adam       | -eta_t m_hat/(sqrt(v_hat) + eps), 0/0 := 0 (Eq. 75)     | linf if eps = 0, else l2 (asymptotic)|
| MuonSignum | Muon on matrices, Signum on vectors, same eta_t         | max{||W||_msp, ||u||_inf}            |
| MuonAdam   | Muon with eta_t, Adam with ratio * eta_t (ratio = eta^A/eta^M) | max{ratio ||W||_msp, ||u||_inf} |

On the FIRST step from a fresh state every normalized method here moves by eta_1 * dualize(g) in its
implicit norm (m_1 is a positive multiple of g; Adam's bias correction gives m_hat/sqrt(v_hat) = sign(g)
for eps = 0), which the shared test table checks. Adam without momentum is ``Adam(betas=(0, beta2))``;
with betas = (0, 0) and eps = 0 it is normalized sign descent step for step.
Hybrid split: ``is_matrix(p)`` (default: p.dim() >= 2) marks Muon's tensors, the rest get Signum/Adam.
"""
from __future__ import annotations

import kktcheck as kc
from kktcheck.norms import LpNorm, SpectralMatrix

from .base import TransformOptimizer, check_beta, check_betas, check_eps
from .transforms import AdamDirection, Chain, Dualize, Momentum, NewtonSchulz, Partition, Scale, is_matrix


def _orthogonalizer(method: str, ns_steps: int, ns_coefficients):
    if method == "svd":
        return Dualize("spectral")
    if method == "newton_schulz":
        return NewtonSchulz(ns_steps, ns_coefficients)
    raise ValueError(f"orthogonalize must be 'svd' (exact U V^T) or 'newton_schulz', got {method!r}")


class MomentumGD(TransformOptimizer):
    def __init__(self, params, lr, beta=0.9, normalized: bool = True, schedule=None, nonfinite="raise"):
        self.normalized = bool(normalized)
        super().__init__(params, dict(lr=lr, beta=check_beta("beta", beta), schedule=schedule, nonfinite=nonfinite))

    def direction(self, group):
        m = Momentum(group["beta"])
        return Chain(m, Dualize("l2")) if self.normalized else m

    def _implicit_norm(self, group):
        return kc.norm("l2")


class Signum(TransformOptimizer):
    def __init__(self, params, lr, beta=0.9, schedule=None, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, beta=check_beta("beta", beta), schedule=schedule, nonfinite=nonfinite))

    def direction(self, group):
        return Chain(Momentum(group["beta"]), Dualize("linf"))

    def _implicit_norm(self, group):
        return kc.norm("linf")


class Muon(TransformOptimizer):
    def __init__(self, params, lr, beta=0.9, schedule=None, orthogonalize: str = "svd", ns_steps: int = 30,
                 ns_coefficients=(1.5, -0.5, 0.0), nonfinite="raise"):
        _orthogonalizer(orthogonalize, ns_steps, ns_coefficients)
        super().__init__(params, dict(lr=lr, beta=check_beta("beta", beta), schedule=schedule,
                                      orthogonalize=orthogonalize, ns_steps=ns_steps,
                                      ns_coefficients=tuple(ns_coefficients), nonfinite=nonfinite))
        _require_matrix(self)

    def direction(self, group):
        return Chain(Momentum(group["beta"]),
                     _orthogonalizer(group["orthogonalize"], group["ns_steps"], group["ns_coefficients"]))

    def _implicit_norm(self, group):
        return kc.norm("spectral")


class Adam(TransformOptimizer):
    def __init__(self, params, lr, betas=(0.9, 0.999), eps=0.0, schedule=None, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, betas=check_betas(betas), eps=check_eps("eps", eps),
                                      schedule=schedule, nonfinite=nonfinite))

    def direction(self, group):
        return AdamDirection(*group["betas"], group["eps"])

    def _implicit_norm(self, group):
        return kc.norm("linf") if group["eps"] == 0 else kc.norm("l2")


def _check_ratio(ratio) -> float:
    try:
        return check_eps("ratio", ratio, positive=True)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (ratio = eta_0^A / eta_0^M, Adam's rate over Muon's)") from None


def _require_matrix(opt, is_matrix_fn=is_matrix) -> None:
    """Muon orthogonalizes matrices: refuse parameters none of which is a matrix (is_matrix: >= 2 dims)."""
    params = [p for g in opt.param_groups for p in g["params"]]
    if not any(is_matrix_fn(p) for p in params):
        shapes = [tuple(p.shape) for p in params]
        raise ValueError(f"{type(opt).__name__}: params has no matrix parameter (shapes {shapes}); Muon's "
                         "orthogonalized step acts on weight matrices (>= 2 dims). For vector-only parameters use "
                         "Signum (l_inf) or MomentumGD (l2)")


class _Hybrid(TransformOptimizer):
    def __init__(self, params, defaults, is_matrix=is_matrix):
        self.is_matrix = is_matrix
        super().__init__(params, defaults)
        _require_matrix(self, is_matrix)

    def _label(self, p):
        return "matrix" if self.is_matrix(p) else "vector"

    def _ratio(self, group):
        return 1.0

    def _implicit_norm(self, group):
        """max{ratio ||W||_msp, ||u||_inf}: kc.norm("muon-signum") / ("muon-adam:ratio") for the default split."""
        if self.is_matrix is is_matrix:
            r = self._ratio(group)
            return kc.norm("muon-signum") if isinstance(self, MuonSignum) else kc.norm(f"muon-adam:{r!r}")
        mats = [self.is_matrix(p) for p in group["params"]]
        norms = [SpectralMatrix() if m else LpNorm(float("inf")) for m in mats]
        r = self._ratio(group)
        return kc.BlockNorm("max", norms, scales=[1.0 / r if m else 1.0 for m in mats],
                            name=f"{type(self).__name__}-implicit")


class MuonSignum(_Hybrid):
    def __init__(self, params, lr, beta=0.9, schedule=None, is_matrix=is_matrix, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, beta=check_beta("beta", beta), schedule=schedule, nonfinite=nonfinite),
                         is_matrix)

    def direction(self, group):
        return Chain(Momentum(group["beta"]),
                     Partition(self._label, {"matrix": Dualize("spectral"), "vector": Dualize("linf")}))


class MuonAdam(_Hybrid):
    """lr = eta^M (Muon's rate); Adam's rate is ratio * lr, ratio = eta_0^A / eta_0^M; shared schedule."""

    def __init__(self, params, lr, ratio=1.0, beta=0.9, betas=(0.9, 0.999), eps=0.0, schedule=None,
                 is_matrix=is_matrix, nonfinite="raise"):
        super().__init__(params, dict(lr=lr, ratio=_check_ratio(ratio), beta=check_beta("beta", beta),
                                      betas=check_betas(betas), eps=check_eps("eps", eps), schedule=schedule,
                                      nonfinite=nonfinite), is_matrix)

    def _ratio(self, group):
        return group["ratio"]

    def direction(self, group):
        return Partition(self._label, {
            "matrix": Chain(Momentum(group["beta"]), Dualize("spectral")),
            "vector": Chain(AdamDirection(*group["betas"], group["eps"]), Scale(group["ratio"]))})

    def step_size(self, group: int = 0, t=None) -> float:
        """ratio * eta_t: the step length in the implicit norm max{ratio ||W||_msp, ||u||_inf}."""
        return self.param_groups[group]["ratio"] * super().step_size(group, t)


__all__ = ["MomentumGD", "Signum", "Muon", "Adam", "MuonSignum", "MuonAdam"]
