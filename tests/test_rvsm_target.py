"""``rvsm`` with ``target_density``: λ set before every u-step so that u keeps exactly the target.

References: a numpy sort of |w| (which weights must survive) and the penalties' own prox.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from lottery_lab import masks, methods, penalties
from lottery_lab.lottery import LotteryConfig, play


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 30), nn.ReLU(), nn.Linear(30, 4))


@pytest.mark.parametrize("penalty,kw", [("l0", {}), ("l1", {}), ("tl1", {"a": 0.01}), ("tl1", {"a": 50.0})])
@pytest.mark.parametrize("target", [0.5, 0.1, 0.013])
def test_u_keeps_the_target_count_of_largest_weights(penalty, kw, target):
    model = _model()
    mask = masks.ones_like(model)
    # a pruned stretch, so that "kept" differs from "all"
    w0 = dict(model.named_parameters())["0.weight"]
    mask["0.weight"] = torch.rand(w0.shape, generator=torch.Generator().manual_seed(3)) < 0.7
    method = methods.get("rvsm", beta=2.0, penalty=penalty, penalty_kw=kw, target_density=target)
    search = method.search(model, mask, methods.Context(1, torch.Generator().manual_seed(0)))
    net = search.module
    net.update_u()  # at the target (the search starts dense and reaches it along its schedule)
    params = dict(model.named_parameters())
    # which weights must survive: the round(target·kept) largest |w| among the kept ones, by a numpy sort
    mags = np.concatenate([(params[n].detach().abs() * mask[n]).numpy().ravel() for n in net.names])
    kept = int(sum(int(mask[n].sum()) for n in net.names))
    k = round(target * kept)
    want = np.zeros_like(mags, dtype=bool)
    want[np.argsort(-mags, kind="stable")[:k]] = True
    got = np.concatenate([(u != 0).numpy().ravel() for u in net.us])
    assert got.sum() == k and np.array_equal(got, want)
    # and u is the penalty's prox at the τ the target chose (so λ = β·τ is a real penalty weight)
    P = penalties.get(penalty, **kw)
    for n, u in zip(net.names, net.us):
        torch.testing.assert_close(u, P.prox(params[n].detach(), net.tau) * mask[n])
    ticket = method.prune(model, mask, methods.Context(1, torch.Generator()), search)
    assert masks.count(ticket)[0] == k


def test_density_schedule_is_cubic_from_dense_to_target():
    model = _model()
    mask = masks.ones_like(model)
    method = methods.get("rvsm", penalty="l0", target_density=0.1)
    search = method.search(model, mask, methods.Context(1, torch.Generator()))
    net, (coupling,) = search.module, search.callbacks
    kept = masks.count(mask)[0]
    assert sum(int((u != 0).sum()) for u in net.us) == kept  # dense at the start
    total = 200
    for step in (1, 50, 99, 100, 150, 200):
        coupling.after_step(SimpleNamespace(step=step, total_steps=total))
        f = min(1.0, step / (0.5 * total))
        want = round((0.1 + 0.9 * (1 - f) ** 3) * kept)  # Zhu & Gupta's cubic schedule, by hand
        assert sum(int((u != 0).sum()) for u in net.us) == want, step


def test_a_run_lands_on_the_target():
    cfg = LotteryConfig(method="rvsm", method_kw={"target_density": 0.1, "penalty": "l0"}, model="mlp",
                        data="digits", rounds=1, epochs=1, seed=0, out_dir=None, progress=False)
    density = play(cfg).rows[1]["density"]
    assert abs(density - 0.1) <= 1e-4, density  # round(0.1·kept) of ~5·10⁴ weights


@pytest.mark.parametrize("kw,match", [({"target_density": 0.0}, "target_density"),
                                      ({"target_density": 1.0}, "target_density"),
                                      ({"target_density": 0.1, "penalty": "log"}, "'l0', 'l1' or 'tl1'")])
def test_bad_target(kw, match):
    with pytest.raises(ValueError, match=match):
        methods.get("rvsm", **kw)
