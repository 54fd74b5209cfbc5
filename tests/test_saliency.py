"""SNIP and SynFlow scores against hand-computed values on a 2-layer network."""

import numpy as np
import torch
from torch import nn

from lottery_lab.methods.saliency import magnitude_scores, snip_scores, synflow_scores


def _net(bias: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4, bias=bias), nn.ReLU(), nn.Linear(4, 3, bias=bias)).double()


NAMES = ["0.weight", "2.weight"]


def test_snip_matches_hand_computed_cross_entropy_gradient():
    net = _net()
    X = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    W1, W2 = (net[0].weight.detach().numpy(), net[2].weight.detach().numpy())
    x = X.numpy()
    pre = x @ W1.T
    h = np.maximum(pre, 0)
    o = h @ W2.T
    p = np.exp(o - o.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(3)[y.numpy()]) / len(y)
    gW2 = delta.T @ h
    gW1 = ((delta @ W2) * (pre > 0)).T @ x
    s = snip_scores(net, NAMES, X, y)
    np.testing.assert_allclose(s["0.weight"].numpy(), np.abs(gW1 * W1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(s["2.weight"].numpy(), np.abs(gW2 * W2), rtol=1e-10, atol=1e-14)


def test_synflow_matches_path_norm_formula_and_restores_weights():
    net = _net(bias=False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    A1, A2 = (np.abs(net[0].weight.detach().numpy()), np.abs(net[2].weight.detach().numpy()))
    # R = 1ᵀ|W2||W1|1: score(W1[i,j]) = |W1[i,j]|·Σ_k|W2[k,i]|, score(W2[k,i]) = |W2[k,i]|·Σ_j|W1[i,j]|
    s = synflow_scores(net, NAMES, (5,))
    np.testing.assert_allclose(s["0.weight"].numpy(), A1 * A2.sum(0)[:, None], rtol=1e-12)
    np.testing.assert_allclose(s["2.weight"].numpy(), A2 * A1.sum(1)[None, :], rtol=1e-12)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # with a mask: pruned weights carry no flow
    m1 = torch.ones_like(net[0].weight)
    m1[0, :] = 0
    s = synflow_scores(net, NAMES, (5,), masks={"0.weight": m1})
    B1 = A1 * m1.numpy()
    np.testing.assert_allclose(s["2.weight"].numpy(), A2 * B1.sum(1)[None, :], rtol=1e-12)
    assert (s["0.weight"][0] == 0).all()
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_magnitude_scores_are_absolute_weights():
    net = _net()
    s = magnitude_scores(net, NAMES)
    assert torch.equal(s["0.weight"], net[0].weight.detach().abs())
