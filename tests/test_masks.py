"""Masks: what is prunable, density arithmetic, exact zeros under every optimiser, rewinding."""

import pytest
import torch
from torch import nn

from lottery_lab import masks
from lottery_lab.train import TrainConfig, train


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)          # 18 weights
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2 * 2 * 2, 3)       # 24 weights

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def tiny_batches(n=64, batch=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, 4, 4, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return [(X[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def test_prunable_is_conv_and_linear_weights_only():
    net = Net()
    assert list(masks.prunable(net)) == ["conv.weight", "fc.weight"]
    m = masks.ones_like(net)
    assert all(v.dtype == torch.bool and v.all() for v in m.values())
    assert masks.count(m) == (18 + 24, 18 + 24)


def test_density_by_hand():
    m = {"a": torch.tensor([1, 0, 0, 1], dtype=torch.bool),     # 2 of 4
         "b": torch.tensor([[1, 0], [0, 0], [0, 0]], dtype=torch.bool)}  # 1 of 6
    assert masks.count(m) == (3, 10)
    assert masks.density(m) == pytest.approx(0.3)
    assert masks.layer_density(m) == {"a": 0.5, "b": pytest.approx(1 / 6)}
    with pytest.raises(ValueError, match="covers no weight"):
        masks.density({})
    with pytest.raises(ValueError, match="covers no weight"):
        masks.density({"a": torch.zeros(0, dtype=torch.bool)})
    with pytest.raises(TypeError, match="masks must be a dict"):
        masks.density([torch.ones(3)])
    assert masks.to_bool({"a": torch.tensor([0.0, 0.3])})["a"].tolist() == [False, True]


def test_apply_zeroes_pruned_weights_and_check_names_and_shapes():
    net = Net()
    m = masks.ones_like(net)
    m["fc.weight"][0] = False
    masks.apply(net, m)
    assert (net.fc.weight[0] == 0).all() and (net.fc.weight[1:] != 0).all()
    masks.check(net, m)
    with pytest.raises(ValueError, match="nope.weight"):
        masks.check(net, {"nope.weight": torch.ones(3)})
    with pytest.raises(ValueError, match="shape"):
        masks.check(net, {"fc.weight": torch.ones(2, 2)})


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_pruned_weights_stay_exactly_zero_with_momentum_and_weight_decay(optimizer):
    torch.manual_seed(0)
    net = Net()
    m = masks.ones_like(net)
    g = torch.Generator().manual_seed(1)
    for v in m.values():
        v &= torch.rand(v.shape, generator=g) < 0.5
    before = {k: v.detach().clone() for k, v in masks.prunable(net).items()}
    cfg = TrainConfig(epochs=25, optimizer=optimizer, lr=0.05, momentum=0.9, weight_decay=0.1, progress=False)
    train(net, tiny_batches(), cfg, masks=m)
    for name, p in masks.prunable(net).items():
        assert (p[~m[name]] == 0).all(), name            # exactly zero, not small
        assert (p[m[name]] != before[name][m[name]]).any(), name  # the kept weights did train


def test_rewind_restores_theta_k_on_surviving_weights():
    torch.manual_seed(0)
    net = Net()
    theta_k = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    m = masks.ones_like(net)
    m["conv.weight"][0] = False
    masks.rewind(net, theta_k, m)
    state = net.state_dict()
    for k, v in theta_k.items():
        if k in m:
            assert torch.equal(state[k][m[k]], v[m[k]])
            assert (state[k][~m[k]] == 0).all()
        else:
            assert torch.equal(state[k], v)
