"""prune_lowest's selection against the rule written out: a stable ascending sort of the kept
weights' scores (pruned ones last), the first round(fraction · kept) of it pruned."""

from __future__ import annotations

import pytest
import torch

from lottery_lab.methods.base import prune_lowest


def reference(scores, mask, fraction):
    names = list(mask)
    keep = torch.cat([mask[n].reshape(-1).bool() for n in names])
    flat = torch.cat([scores[n].reshape(-1).float() for n in names])
    alive = int(keep.sum())
    n_prune = min(alive - 1, max(1, round(fraction * alive))) if alive > 1 else 0
    # written out: positions sorted by (score of a kept weight or +inf, position)
    key = [(float(flat[i]) if keep[i] else float("inf"), i) for i in range(len(flat))]
    out = keep.clone()
    for _, i in sorted(key)[:n_prune]:
        out[i] = False
    res, i = {}, 0
    for n in names:
        k = mask[n].numel()
        res[n] = out[i:i + k].view(mask[n].shape)
        i += k
    return res


@pytest.mark.parametrize("levels", [3, 17, None])      # heavy ties, some ties, (almost) none
@pytest.mark.parametrize("fraction", [0.01, 0.2, 0.5, 0.97])
def test_matches_the_stable_sort_rule(levels, fraction):
    g = torch.Generator().manual_seed(levels or 0)
    shapes = {"a": (7, 5), "b": (40,), "c": (3, 2, 4)}
    scores = {n: (torch.randint(0, levels, s, generator=g).float() if levels else torch.randn(s, generator=g))
              for n, s in shapes.items()}
    mask = {n: torch.rand(s, generator=g) > 0.3 for n, s in shapes.items()}
    got, want = prune_lowest(scores, mask, fraction), reference(scores, mask, fraction)
    for n in shapes:
        assert torch.equal(got[n], want[n]), n
        assert got[n].dtype == torch.bool and got[n].shape == mask[n].shape


def test_exact_count_and_only_kept_weights_pruned():
    g = torch.Generator().manual_seed(1)
    scores = {"w": torch.randint(0, 2, (1000,), generator=g).float()}   # two values: ties everywhere
    mask = {"w": torch.rand(1000, generator=g) > 0.5}
    alive = int(mask["w"].sum())
    out = prune_lowest(scores, mask, 0.3)["w"]
    assert int(out.sum()) == alive - round(0.3 * alive)
    assert not bool((out & ~mask["w"]).any())


def test_nan_scores_sort_last_as_before():
    scores = {"w": torch.tensor([float("nan"), 0.5, 0.1, float("nan"), 0.3])}
    mask = {"w": torch.ones(5, dtype=torch.bool)}
    out = prune_lowest(scores, mask, 0.4)["w"]            # prunes 2: the two smallest finite scores
    assert out.tolist() == [True, True, False, True, False]
