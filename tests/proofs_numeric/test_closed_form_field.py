"""The closed-form field (``forward_vjp`` of Linear, TwoLayerReLU, ReLUNet and DiagonalNet, the loss derivative in log space)
against autograd through ``apply_params``: the same log L and G = grad log L at every scale and for every loss."""
import pytest
import torch

from proofs_numeric import models
from proofs_numeric.flow.cases import separated_case
from proofs_numeric.losses import eval_log_loss


class AutogradOnly:
    """The same model seen only through apply_params: eval_log_loss takes its autograd path."""

    def __init__(self, m):
        self.m = m

    def apply_params(self, params, X):
        return self.m.apply_params(params, X)


def _compare(m, params, X, y, loss):
    lL, G, q = eval_log_loss(m, params, X, y, loss)
    lL_ref, G_ref, q_ref = eval_log_loss(AutogradOnly(m), params, X, y, loss)
    assert lL == pytest.approx(lL_ref, rel=1e-13, abs=1e-13)
    assert torch.equal(q, q_ref)
    for g, g_ref in zip(G, G_ref):
        assert torch.allclose(g, g_ref, rtol=1e-12, atol=1e-14 * float(g_ref.abs().max()))


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("scale", [1.0, 10.0, 1e3, 1e50, 1e150])
def test_two_layer_relu_closed_form_matches_autograd_deep_in_the_late_phase(loss, scale):
    m, th, (X, y) = separated_case(0)
    _compare(m, [t * scale for t in th], X, y, loss)


@pytest.mark.parametrize("make", [lambda: models.TwoLayerReLU(6, 5, train_output=False), lambda: models.Linear(6),
                                  lambda: models.ReLUNet([6, 5, 4, 1]), lambda: models.ReLUNet([6, 7, 1]),
                                  lambda: models.DiagonalNet(6, 3), lambda: models.DiagonalNet(6, 1)],
                         ids=["two-layer-frozen", "linear", "relunet-3", "relunet-2", "diagonal-3", "diagonal-1"])
@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_frozen_output_and_linear_closed_form_match_autograd(make, loss):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(15, 6, generator=g, dtype=torch.float64)
    y = torch.where(torch.randn(15, generator=g) > 0, 1.0, -1.0).double()
    m = make()
    _compare(m, m.init(1.0, torch.Generator().manual_seed(4)), X, y, loss)


def test_relu_kink_selection_is_zero_like_autograd():
    m = models.TwoLayerReLU(2, 2)
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    params = [torch.tensor([[0.0, 1.0], [1.0, -1.0]], dtype=torch.float64), torch.tensor([[1.0, -1.0]], dtype=torch.float64)]
    _compare(m, params, X, y, "exp")            # pre-activations exactly 0 on several (unit, sample) pairs


def test_multiclass_outputs_take_the_autograd_loss_derivative():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=g)
    m = models.Linear(4, out=3)
    _compare(m, m.init(1.0, torch.Generator().manual_seed(6)), X, y, "ce")


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e60])
def test_relunet_and_diagonal_closed_forms_match_autograd_at_scale_and_at_zeros(scale):
    """Deep nets at large scale, and a diagonal net with zero factors (the prefix/suffix products, no division)."""
    g = torch.Generator().manual_seed(5)
    X = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.where(torch.randn(12, generator=g) > 0, 1.0, -1.0).double()
    net = models.ReLUNet([4, 6, 5, 1])
    _compare(net, [t * scale ** (1 / 3) for t in net.init(1.0, torch.Generator().manual_seed(6))], X, y, "exp")
    diag = models.DiagonalNet(4, 3)
    ws = diag.init(1.0, torch.Generator().manual_seed(7))
    ws[0][1], ws[2][3] = 0.0, 0.0
    _compare(diag, ws, X, y, "logistic")
