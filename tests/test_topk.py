"""Edge-popup's top-k mask: the kept count is exact, the straight-through gradient follows its formula."""

import math

import pytest
import torch

from lottery_lab.methods.topk import n_kept, signed_kaiming_constant_, topk_mask, topk_ste


@pytest.mark.parametrize("shape", [(7,), (13, 9), (4, 3, 3, 3)])
@pytest.mark.parametrize("keep", [0.01, 0.3, 0.5, 0.77, 1.0])
def test_kept_count_is_exact_and_largest_scores(shape, keep):
    s = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    m = topk_mask(s, keep)
    n = s.numel()
    k = max(1, min(n, round(keep * n)))
    assert int(m.sum()) == k == n_kept(n, keep)
    kept, dropped = s.abs()[m.bool()], s.abs()[~m.bool()]
    if dropped.numel():
        assert kept.min() >= dropped.max()


def test_straight_through_gradient_matches_formula():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, dtype=torch.float64, generator=g)
    s = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    x = torch.randn(5, 4, dtype=torch.float64, generator=g)
    t = torch.randn(5, 3, dtype=torch.float64, generator=g)
    m = topk_ste(s, 0.5)
    out = x @ (w * m).T
    loss = ((out - t) ** 2).sum()
    loss.backward()
    # by hand: ∂L/∂W_eff = 2 (out − t)ᵀ x; STE: ∂L/∂s = ∂L/∂W_eff ⊙ w
    dW = 2 * (out.detach() - t).T @ x
    torch.testing.assert_close(s.grad, dW * w)


def test_signed_kaiming_constant():
    w = torch.empty(64, 8, 3, 3)
    signed_kaiming_constant_(w, generator=torch.Generator().manual_seed(0))
    sigma = math.sqrt(2 / (8 * 9))
    assert torch.allclose(w.abs(), torch.full_like(w, sigma))
    assert 0.4 < (w > 0).float().mean() < 0.6
