"""The public masked-network base (methods.masked_net), masks.Masker and edge_popup's ticket weights,
each against arithmetic written out here."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lottery_lab import masks, methods
from lottery_lab.methods import concave
from lottery_lab.methods.cs import SoftMaskNet
from lottery_lab.methods.hard_concrete import HardConcrete
from lottery_lab.methods.l0 import GatedNet
from lottery_lab.methods.masked_net import MaskedNet, RelaxedMaskNet


def deep_mlp(n_layers: int = 12) -> nn.Sequential:
    """More than ten layers: sorted keys ('10/weight' < '2/weight') differ from the layers' order."""
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Linear(4, 4) for _ in range(n_layers)])


def half_mask(model: nn.Module) -> masks.Mask:
    g = torch.Generator().manual_seed(3)
    return {n: torch.rand(p.shape, generator=g) < 0.5 for n, p in masks.prunable(model).items()}


def test_the_old_name_is_the_public_class():
    assert concave.RelaxedMaskNet is RelaxedMaskNet is methods.RelaxedMaskNet
    assert issubclass(RelaxedMaskNet, MaskedNet) and methods.MaskedNet is MaskedNet


def test_relaxed_mask_net_computes_theta_times_m():
    model = deep_mlp(3)
    mask = half_mask(model)
    net = RelaxedMaskNet(model, mask, mask_init=0.5)
    x = torch.randn(5, 4)
    ref = x
    for i, layer in enumerate(model):
        m = mask[f"{i}.weight"].float() * 0.5
        ref = ref @ (layer.weight * m).T + layer.bias
    assert torch.allclose(net(x), ref, atol=1e-6)
    for n, v in net.relaxed_mask().items():
        assert torch.equal(v, mask[n].float() * 0.5) and not v.requires_grad


def test_variables_follow_names_and_the_stored_order_is_kept():
    model = deep_mlp()
    mask = half_mask(model)
    names = list(mask)
    keys = [n.replace(".", "/") for n in names]
    assert keys != sorted(keys)
    relaxed = RelaxedMaskNet(model, mask, 1.0)
    # concave's and l0's parameter dicts stay sorted (their checkpoints and optimiser states have that order)
    assert list(relaxed.m.keys()) == sorted(keys)
    gated = GatedNet(model, mask, 0.7, HardConcrete(2 / 3, -0.1, 1.1), 1)
    assert list(gated.m.keys()) == sorted(keys)
    soft = SoftMaskNet(model, names, {n: torch.zeros(4, 4) for n in names}, 2.0)
    assert list(soft.s.keys()) == keys  # cs's in the layers' order
    for net, store in ((relaxed, relaxed.m), (gated, gated.m), (soft, soft.s)):
        assert net.names == names
        assert all(v is store[k] for v, k in zip(net.variables, keys))
        assert all(t is dict(model.named_parameters())[n] for t, n in zip(net.thetas, names))
    assert all(torch.equal(v, torch.full((4, 4), 0.7)) for v in gated.variables)


def test_soft_mask_net_computes_theta_times_sigmoid():
    model = deep_mlp(2)
    names = list(masks.prunable(model))
    scores = {n: torch.randn(4, 4) for n in names}
    net = SoftMaskNet(model, names, scores, 2.0)
    net.beta.fill_(3.0)
    x = torch.randn(5, 4)
    ref = x
    for i, layer in enumerate(model):
        ref = ref @ (layer.weight * torch.sigmoid(3.0 * scores[f"{i}.weight"]) * 2.0).T + layer.bias
    assert torch.allclose(net(x), ref, atol=1e-6)
    assert all(torch.equal(net.scores()[n], scores[n]) for n in names)


def test_masker_equals_multiplying_by_the_mask():
    model = deep_mlp(3)
    mask = half_mask(model)
    mask["0.weight"] = torch.ones(4, 4, dtype=torch.bool)  # keeps everything: left out, unchanged
    expected = {n: p.detach() * mask[n].float() for n, p in model.named_parameters() if n in mask}
    masker = masks.Masker(model, mask)
    assert len(masker.params) == 2
    masker.apply()
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], expected[n]) for n in mask)
    with pytest.raises(ValueError, match="nope.weight"):
        masks.Masker(model, {"nope.weight": torch.ones(1)})


def test_apply_with_a_fractional_mask_multiplies_it():
    model = deep_mlp(1)
    w = model[0].weight.detach().clone()
    masks.apply(model, {"0.weight": torch.full((4, 4), 0.5)})  # not all ones: multiplied, not skipped
    assert torch.equal(model[0].weight.detach(), w * 0.5)


def test_edge_popup_ticket_weights_are_signed_kaiming_constants():
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.Flatten(), nn.Linear(20, 2))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["0.weight"][0, 0, 0, 0] = 0.0  # a zero weight gets the + sign
    mask = masks.ones_like(model)
    ticket = methods.get("edge_popup").ticket_state(state, mask)
    for n, fan_in in (("0.weight", 27), ("2.weight", 20)):
        sign = torch.where(state[n] >= 0, 1.0, -1.0)
        assert torch.equal(ticket[n], sign * math.sqrt(2.0 / fan_in))
    assert torch.equal(ticket["0.bias"], state["0.bias"])
