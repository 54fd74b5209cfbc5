"""No host–device sync inside a training step, for dense training and every method's search.

A GPU is not needed to see a sync: every read-back dispatches an op that
:class:`lottery_lab._profiling.CountingMode` counts on the CPU too. A step's count is the difference
between an epoch of 4 batches and one of 2 (halved), so the once-per-epoch read of the epoch loss and
the once-per-phase set-up cancel out.
"""

import math

import pytest
import torch
from torch import nn

from lottery_lab import methods, penalties
from lottery_lab import train as T
from lottery_lab._profiling import CountingMode, sync_kind
from lottery_lab.data import Batches, augment_batch
from lottery_lab.methods._scale_free import ScaledGrad
from lottery_lab.methods.base import Context, prune_lowest
from lottery_lab.methods.rvsm import _prox, kth_largest_pair
from lottery_lab.masks import Masker, ones_like


def convnet(seed=0):
    """A small conv net with BatchNorm, in channels_last (as the runner sets image models up)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    return net.to(memory_format=torch.channels_last)


CASES = [("dense", None, {})] + [(name, name, {}) for name in methods.names()] + [
    ("concave target_density", "concave", {"target_density": 0.3}),
    ("l0 target_density", "l0", {"target_density": 0.3}),
    ("rvsm target_density", "rvsm", {"target_density": 0.3}),
    ("cs scale_free", "cs", {"scale_free": True}),
]


def epoch_counts(method, kw, steps, batch=4):
    model = convnet()
    mask = ones_like(model)
    mask = prune_lowest({n: p.abs() for n, p in model.named_parameters() if n in mask}, mask, 0.5)
    masks, callbacks, groups, module = mask, [], None, model
    if method is not None:
        ctx = Context(1, torch.Generator().manual_seed(0), rewind_state=dict(model.state_dict()))
        search = methods.get(method, **kw).search(model, mask, ctx)
        if search is not None:
            module, masks, callbacks, groups = search.module, search.masks, search.callbacks, search.param_groups
    g = torch.Generator().manual_seed(1)
    X = torch.randn(steps * batch, 3, 8, 8, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (steps * batch,), generator=g)
    with CountingMode() as counts:
        T.train(module, Batches(X, y, batch, augment=True, generator=g), T.TrainConfig(epochs=1, progress=True),
                masks=masks, callbacks=callbacks, param_groups=groups, generator=g)
    return counts


@pytest.mark.parametrize("label, method, kw", CASES, ids=[c[0] for c in CASES])
def test_a_training_step_makes_no_host_device_sync(label, method, kw, monkeypatch):
    # rvsm's threshold: the path a GPU takes (topk); on the CPU it selects on the host (numpy), which
    # is no sync there, there being no device
    monkeypatch.setattr("lottery_lab.methods.rvsm._by_selection", lambda x: False)
    short, long = epoch_counts(method, kw, 2), epoch_counts(method, kw, 4)
    per_step = {k: (long.sync_ops[k] - short.sync_ops[k]) / 2 for k in long.sync_ops}
    assert not {k: v for k, v in per_step.items() if v}, f"{label}: syncs per step {per_step}"
    assert long.n_ops > short.n_ops  # the steps were counted at all


def test_the_counter_sees_each_kind_of_sync():
    x = torch.arange(6.0)
    with CountingMode() as c:
        float(x.sum()), bool((x > 2).any()), int(torch.count_nonzero(x))   # 3 read-backs
        x[x > 2]                                                            # boolean mask
        torch.nonzero(x)                                                    # data-dependent size
        torch.as_tensor(0.5, dtype=torch.float32)                           # host data
        x.to("meta")                                                        # a transfer
        x * 0.5 + torch.where(x > 1, 1.0, -1.0)                             # none of these
    assert c.syncs == {"item": 3, "boolean mask": 1, "data-dependent shape": 1, "tensor from host data": 1,
                       "copy cpu->meta": 1}
    assert sync_kind(torch.ops.aten.add.Tensor, (x, x), {}) is None


# ------------------------------------------------------------------------- Batches: one copy an epoch

def test_batches_with_a_generator_elsewhere_copy_once_an_epoch_not_per_batch():
    X, y = torch.zeros(40, 3, 8, 8, device="meta"), torch.zeros(40, dtype=torch.long, device="meta")
    counts = []
    for n in (20, 40):
        with CountingMode() as c:
            for _ in Batches(X[:n], y[:n], 4, augment=True, generator=torch.Generator().manual_seed(0)):
                pass
        counts.append(c.syncs["copy cpu->meta"])
    assert counts == [1, 1]  # 5 or 10 batches: the same single transfer (it was 4 a batch)


@pytest.mark.parametrize("shuffle, augment, drop_last", [(True, True, False), (False, True, True),
                                                          (True, False, False), (True, True, True)])
def test_drawing_an_epoch_ahead_gives_the_batches_of_drawing_batch_by_batch(shuffle, augment, drop_last):
    X = torch.randn(22, 3, 6, 6)
    y = torch.arange(22)
    runs = []
    for ahead in (False, True):
        b = Batches(X, y, 5, shuffle=shuffle, augment=augment, drop_last=drop_last,
                    generator=torch.Generator().manual_seed(3))
        runs.append([[t.clone() for t in batch] for epoch in range(2) for batch in b._epoch(ahead)])
    assert len(runs[0]) == len(runs[1]) == 2 * len(b)
    for (xa, ya), (xb, yb) in zip(*runs):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    if augment:  # and batch by batch is still augment_batch's own draw
        g = torch.Generator().manual_seed(3)
        order = torch.randperm(22, generator=g) if shuffle else torch.arange(22)
        assert torch.equal(runs[0][0][0], augment_batch(X[order[:5]], generator=g))


# ------------------------------------------------------------------------- the methods' step arithmetic

def host_scaled_grad(grads_per_step, beta=0.99):
    """ScaledGrad's definition on the host: EMA of float(g.abs().mean()), bias-corrected, per tensor."""
    ema, steps, out = [0.0] * len(grads_per_step[0]), [0.0] * len(grads_per_step[0]), []
    for grads in grads_per_step:
        scaled = []
        for i, g in enumerate(grads):
            ema[i] = beta * ema[i] + (1 - beta) * float(g.abs().mean())
            steps[i] += 1
            scaled.append(g / max(ema[i] / (1 - beta ** steps[i]), 1e-30))
        out.append(scaled)
    return out, ema, steps


def test_scaled_grad_on_the_device_matches_the_host_formula_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    params = [torch.zeros(7, 3, requires_grad=True), torch.zeros(50, requires_grad=True)]
    grads_per_step = [[torch.randn(p.shape, generator=g) * 10 ** (-3 * i) for i, p in enumerate(params)]
                      for _ in range(6)]
    ref, ema, steps = host_scaled_grad(grads_per_step)
    state = torch.zeros(len(params), 2, dtype=torch.float64)
    cb = ScaledGrad(params, state)
    for s, grads in enumerate(grads_per_step):
        if s == 3:  # a resumed phase: a new callback reads the step counts back from the buffer
            cb = ScaledGrad(params, state)
        for p, gr in zip(params, grads):
            p.grad = gr.clone()
        with CountingMode() as c:
            cb.after_backward(None)
        assert c.n_syncs == (1 if s in (0, 3) else 0)  # the step counts, read once per phase
        for p, r in zip(params, ref[s]):
            assert torch.equal(p.grad, r)
    assert state[:, 0].tolist() == ema and state[:, 1].tolist() == steps


def test_scaled_grad_skips_tensors_without_a_gradient():
    params = [torch.zeros(3, requires_grad=True), torch.zeros(4, requires_grad=True)]
    state = torch.zeros(2, 2, dtype=torch.float64)
    cb = ScaledGrad(params, state)
    params[1].grad = torch.full((4,), 2.0)
    cb.after_backward(None)
    assert params[0].grad is None
    assert state.tolist() == [[0.0, 0.0], [(1 - 0.99) * 2.0, 1.0]]
    assert torch.allclose(params[1].grad, torch.ones(4))  # 2 / (0.02 / (1 - 0.99))


def test_kth_largest_pair_by_topk_equals_selection_and_a_sort_with_ties():
    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 33, 200):
        x = torch.randint(0, 4, (n,), generator=g).float() / 3  # many ties
        desc = torch.sort(x, descending=True).values
        for k in range(1, n + 1):
            for selection in (False, True):
                kth, nxt = kth_largest_pair(x, k, selection=selection)
                assert kth == desc[k - 1]
                assert (nxt is None) if k == n else (nxt == desc[k])


def test_kth_smallest_equals_a_sort_with_ties_nan_and_both_float_widths():
    from lottery_lab.masks import kth_smallest

    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for n in (1, 2, 7, 64, 1001):
            x = (torch.randint(0, 5, (n,), generator=g).to(dtype) / 3).requires_grad_()  # many ties
            if n > 2:
                x = x.detach().clone()
                x[torch.randint(0, n, (2,), generator=g)] = float("nan")  # sorts last
            asc = torch.sort(x.detach()).values
            ks = list(range(1, n + 1))
            got = kth_smallest(x, *ks)
            assert all(v.dtype == dtype and v.ndim == 0 for v in got)
            torch.testing.assert_close(torch.stack(got), asc, rtol=0, atol=0, equal_nan=True)
            finite = x.detach()[~torch.isnan(x.detach())]
            assert torch.equal(torch.stack(kth_smallest(finite, *range(1, finite.numel() + 1))),
                               torch.stack([torch.kthvalue(finite, k).values for k in range(1, finite.numel() + 1)]))
    half = torch.tensor([3.0, 1.0, 2.0, 1.0], dtype=torch.bfloat16)  # no numpy dtype: kthvalue
    assert [float(v) for v in kth_smallest(half, 1, 2, 3, 4)] == [1.0, 1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"k=0 must lie in \[1, 3\]"):
        kth_smallest(torch.zeros(3), 0)
    with pytest.raises(ValueError, match=r"k=4 must lie in \[1, 3\]"):
        kth_smallest(torch.zeros(3), 2, 4)


@pytest.mark.parametrize("name, kw", [("l0", {}), ("l1", {}), ("tl1", {"a": 0.7}), ("log", {})])
def test_rvsm_prox_without_the_tau_check_equals_the_penalty_prox(name, kw):
    P = penalties.get(name, **kw)
    w = torch.randn(40, 3, generator=torch.Generator().manual_seed(1))
    for tau in (0.0, 0.05, 0.4):
        t = torch.tensor(tau)
        assert torch.equal(_prox(P, w, t), P.prox(w, t))


def test_rvsm_target_density_tau_is_the_old_kthvalue_threshold():
    from lottery_lab.methods.rvsm import SplitNet
    model = nn.Sequential(nn.Linear(30, 20), nn.Linear(20, 5))
    mask = ones_like(model)
    net = SplitNet(model, mask, penalties.get("l1"), 0.0, target_density=0.3)
    mags = torch.cat([p.detach().abs().flatten() for n, p in model.named_parameters() if n in mask])
    n, k = mags.numel(), round(0.3 * mags.numel())
    old = (torch.kthvalue(mags, n - k + 1).values + torch.kthvalue(mags, n - k).values) / 2
    assert torch.equal(net.tau_for_density(0.3), old)
    kth, nxt = kth_largest_pair(mags, k, selection=False)  # the topk path, taken off the CPU
    assert torch.equal((kth + nxt) / 2, old)


def test_concave_target_density_ascends_lambda_on_the_device():
    from lottery_lab.methods.concave import _DensityDrivenPenalty
    ms = [torch.tensor([0.2, 0.7, 0.9], requires_grad=True), torch.tensor([[0.4, 0.6]], requires_grad=True)]
    lam_t = torch.tensor(1e-3, dtype=torch.float64)
    P = penalties.get("log")
    cb = _DensityDrivenPenalty(ms, P, lam_t, alpha=0.5, target=0.2, dual_lr=0.5, total=5)
    for m in ms:
        m.grad = torch.ones_like(m)
    ref = [m.grad.clone().add_(P.slope(m.detach()), alpha=1e-3) for m in ms]
    with CountingMode() as c:
        cb.after_backward(None)
        cb.after_step(None)
    assert c.n_syncs == 0
    for m, r in zip(ms, ref):
        assert torch.equal(m.grad, r)  # grad + λ R'(m), λ rounded to float32 as alpha=λ rounds it
    kept = 3  # 0.7, 0.9, 0.6 >= 0.5
    assert math.isclose(float(lam_t), 1e-3 * math.exp(0.5 * (kept / 5 - 0.2)), rel_tol=1e-15)


# --------------------------------------------------------------------------------- memory formats

def test_masks_keep_the_parameters_memory_format_from_round_to_round():
    model = convnet()
    mask = ones_like(model)
    pruned = prune_lowest({n: p.abs() for n, p in model.named_parameters() if n in mask}, mask, 0.3)
    params = dict(model.named_parameters())
    for n in mask:
        assert pruned[n].stride() == params[n].stride() == mask[n].stride()
        assert torch.equal(pruned[n], pruned[n].contiguous())
    contiguous = {n: m.contiguous() for n, m in pruned.items()}  # e.g. a mask made elsewhere
    masker = Masker(model, contiguous)
    assert masker.params and all(m.stride() == p.stride() for p, m in zip(masker.params, masker.masks))


def test_under_compile_a_smaller_last_batch_runs_eagerly(monkeypatch):
    seen = []

    class Compiled(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            seen.append(len(x))
            return self.model(x)

    monkeypatch.setattr(T.torch, "compile", Compiled)
    model = nn.Sequential(nn.Linear(6, 3))
    X, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    T.train(model, Batches(X, y, 4, generator=torch.Generator().manual_seed(0)),
            T.TrainConfig(epochs=2, compile=True, progress=False))
    assert seen == [4, 4, 4, 4]  # the batches of 2 went to the eager model, not to a recompile


def test_cuda_matmul_precision_is_set_for_training_and_restored():
    before = torch.get_float32_matmul_precision()
    with T._matmul_precision(torch.device("cuda")):
        assert torch.get_float32_matmul_precision() == T.CUDA_MATMUL_PRECISION == "high"
    with T._matmul_precision(torch.device("cpu")):
        assert torch.get_float32_matmul_precision() == before
    assert torch.get_float32_matmul_precision() == before


def test_l0_gates_and_expected_density_by_foreach_equal_the_per_layer_formulas():
    from lottery_lab.methods.hard_concrete import HardConcrete
    from lottery_lab.methods.l0 import GatedNet
    model = convnet()
    mask = prune_lowest({n: p.abs() for n, p in model.named_parameters() if n in ones_like(model)},
                        ones_like(model), 0.4)
    hc = HardConcrete()
    net = GatedNet(model, mask, 0.3, hc, 1)
    with torch.no_grad():
        for la in net.variables:
            la.add_(torch.randn(la.shape, generator=torch.Generator().manual_seed(la.numel())))
    for a, la, s in zip(net.expected_kept(), net.variables, net.support):
        assert torch.equal(a, (torch.sigmoid(la - hc.beta * math.log(-hc.gamma / hc.zeta)) * s).sum())
    outs = []
    for fused in (True, False):
        torch.manual_seed(5)
        gates = net._sampled_gates() if fused else [hc.sample(la) for la in net.variables]
        grads = torch.autograd.grad(sum((g * g).sum() for g in gates), net.variables)
        outs.append((gates, grads))
    for a, b in zip(outs[0][0] + list(outs[0][1]), outs[1][0] + list(outs[1][1])):
        assert torch.equal(a, b)


def test_optimizers_are_fused_when_every_parameter_is_on_cuda(monkeypatch):
    made = []
    monkeypatch.setattr(T.torch.optim, "SGD", lambda groups, **kw: made.append((groups, kw)))
    monkeypatch.setattr(T.torch.optim, "Adam", lambda groups, **kw: made.append((groups, kw)))

    class OnCuda:
        is_cuda = True

    T.make_optimizer([{"params": iter([OnCuda(), OnCuda()])}], T.TrainConfig())
    T.make_optimizer([{"params": [OnCuda()]}], T.TrainConfig(optimizer="adam"))
    assert [kw.get("fused") for _, kw in made] == [True, True]
    assert len(made[0][0][0]["params"]) == 2  # an iterator of parameters is read once, not consumed
    assert isinstance(T.make_optimizer([{"params": [torch.zeros(2, requires_grad=True)]}], T.TrainConfig()),
                      T.ForeachSGD)  # off CUDA, SGD is the foreach one (no torch._dynamo import)


META_CASES = [("concave", {}), ("concave", {"target_density": 0.3}), ("l0", {}), ("l0", {"target_density": 0.3}),
              ("cs", {}), ("cs", {"scale_free": True}), ("edge_popup", {})]


@pytest.mark.parametrize("method, kw", META_CASES, ids=["-".join([m, *kw]) for m, kw in META_CASES])
def test_a_search_step_keeps_every_tensor_on_the_models_device(method, kw):
    """On ``meta`` (a stand-in for a GPU) mixing in a CPU tensor raises, as on CUDA."""
    cpu_model = convnet()
    mask = prune_lowest({n: p.abs() for n, p in cpu_model.named_parameters() if n in ones_like(cpu_model)},
                        ones_like(cpu_model), 0.5)
    model = convnet().to("meta")
    mask = {n: m.to("meta") for n, m in mask.items()}
    ctx = Context(1, torch.Generator().manual_seed(0), rewind_state=dict(model.state_dict()))
    search = methods.get(method, **kw).search(model, mask, ctx)
    state = T.TrainState(search.module, None, None, total_steps=10, steps_per_epoch=5)
    for cb in search.callbacks:
        if isinstance(cb, ScaledGrad):
            cb._steps = [0.0] * len(cb.params)  # what on_train_start reads back (meta has no values)
    x = torch.empty(4, 3, 8, 8, device="meta").contiguous(memory_format=torch.channels_last)
    loss = torch.nn.functional.cross_entropy(search.module(x), torch.zeros(4, dtype=torch.long, device="meta"))
    for cb in search.callbacks:
        loss = cb.on_loss(state, loss)
    loss.backward()
    for cb in search.callbacks:
        cb.after_backward(state)
        cb.after_step(state)
    assert all(t.device.type == "meta" for t in search.module.state_dict().values())
