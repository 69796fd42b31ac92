"""Seeded test cases: a bias-free two-layer ReLU ``nn.Sequential`` with a unit sitting exactly on a kink.

``kinked_two_layer(seed, n, d, m)``: X ~ N(0, I) (n x d), both layers N(0, 1), then the first hidden unit's
weight w_1 is projected so that <w_1, x_1> = 0 (the ReLU kink at sample 1); the labels are the signs of the
outputs, keeping the samples with |f(x_i)| > 1e-3. Returns (net, (X, y)) as float64 numpy data.

``gd_trained_two_layer(n, d, width, steps, seed)``: X ~ N(0, I), random labels, a bias-free two-layer ReLU
``nn.Sequential`` trained by plain GD (lr 0.5) on the mean logistic loss softplus(-y f(x)); returns (net, X, y)
(the KKT-measure benchmark's case and its tests' smaller copies).
"""
from __future__ import annotations

import numpy as np
import torch


def random_two_layer(g: torch.Generator, n: int, d: int, m: int):
    """(net, X): X ~ N(0, I) (n x d) drawn first from ``g``, then a bias-free two-layer ReLU ``nn.Sequential``
    (d -> m -> 1, float64) with every weight N(0, 1) from the same generator."""
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(d, m, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(m, 1, bias=False)).double()
    with torch.no_grad():
        for prm in net.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g, dtype=torch.float64))
    return net, X


def kinked_two_layer(seed: int, n: int = 8, d: int = 6, m: int = 7):
    net, X = random_two_layer(torch.Generator().manual_seed(seed), n, d, m)
    with torch.no_grad():
        net[0].weight[0] -= (net[0].weight[0] @ X[0]) / (X[0] @ X[0]) * X[0]  # a kink: <w_1, x_1> = 0
        out = net(X)[:, 0]
    keep = out.abs() > 1e-3
    return net, (X[keep].numpy(), torch.sign(out[keep]).numpy())


def gd_trained_two_layer(n: int, d: int, width: int, steps: int = 200, seed: int = 0):
    """(net, X, y): GD-trained (logistic loss, lr 0.5, ``steps`` steps) bias-free two-layer ReLU net on Gaussian
    data X (n x d) with random labels y in {-1, +1} (numpy float64)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(d, width, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(width, 1, bias=False)).double()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.softplus(-yt * net(Xt)[:, 0]).mean().backward()
        opt.step()
    return net, X, y


__all__ = ["random_two_layer", "kinked_two_layer", "gd_trained_two_layer"]
