"""The related methods on the lottery engine: l0, cs, rvsm, edge_popup and pruning at initialisation.

References are independent: the penalties' prox formula, a numpy sort, the closed-form gradient of a
linear model, and exact counts.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import masks, methods, penalties
from lottery_lab.lottery import LotteryConfig, play
from lottery_lab.train import TrainConfig, train


def net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))


def tiny(seed=0, n=160, d=10, classes=5):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d, classes, generator=g)
    X = torch.randn(n, d, generator=g)
    y = (X @ W).argmax(1)
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def ctx(model=None, r=1, data=None):
    state = None if model is None else {k: v.clone() for k, v in model.state_dict().items()}
    return methods.Context(r, torch.Generator().manual_seed(0), rewind_state=state, data=data)


def run_search(method, model, mask, steps=20, seed=0):
    search = method.search(model, mask, ctx(model))
    X, y, _, _ = tiny(seed)
    cfg = TrainConfig(epochs=1, iterations=steps, lr=0.05, progress=False)
    from lottery_lab.data import Batches

    batches = Batches(X, y, 16, generator=torch.Generator().manual_seed(1))
    train(search.module, batches, cfg, masks=search.masks, callbacks=search.callbacks,
          param_groups=search.param_groups, generator=torch.Generator().manual_seed(1), seed=0)
    return search


# ------------------------------------------------------------------------------------------ rvsm

@pytest.mark.parametrize("penalty,kw", [("l0", {}), ("l1", {}), ("tl1", {"a": 1.0})])
def test_rvsm_u_is_the_prox_of_w_and_ticket_its_support(penalty, kw):
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("rvsm", lam=0.02, beta=2.0, penalty=penalty, penalty_kw=kw)
    search = run_search(method, model, mask)
    P = penalties.get(penalty, **kw)
    params = dict(model.named_parameters())
    for n, u in zip(search.module.names, search.module.us):
        torch.testing.assert_close(u, P.prox(params[n].detach(), 0.02 / 2.0))
    ticket = method.prune(model, mask, ctx(), search)
    for n, u in zip(search.module.names, search.module.us):
        assert torch.equal(ticket[n], u != 0)
    assert masks.density(ticket) < 1.0


def test_rvsm_gradient_is_loss_gradient_plus_coupling():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3, bias=False).double()
    mask = masks.ones_like(lin)
    method = methods.get("rvsm", lam=0.1, beta=3.0, penalty="l1")
    search = method.search(lin, mask, ctx())
    X = torch.randn(8, 4, dtype=torch.float64)
    t = torch.randn(8, 3, dtype=torch.float64)
    loss = ((search.module(X) - t) ** 2).mean()
    loss.backward()
    search.callbacks[0].after_backward(None)
    W = lin.weight.detach()
    u = np.sign(W.numpy()) * np.maximum(np.abs(W.numpy()) - 0.1 / 3.0, 0)  # soft threshold by hand
    grad_f = 2 * ((X @ W.T - t).T @ X) / (8 * 3)
    np.testing.assert_allclose(lin.weight.grad.numpy(), grad_f.numpy() + 3.0 * (W.numpy() - u), rtol=1e-10)


# -------------------------------------------------------------------------------------------- cs

def test_cs_reset_variant_ticket_is_positive_scores_and_temperature_anneals():
    model = net()
    mask = masks.ones_like(model)
    mask["0.weight"][:, :3] = False
    masks.apply(model, mask)
    method = methods.get("cs", lam=1.0, final_temperature=50.0, s_init=0.05, mask_lr=0.05, carry="reset",
                         layers="all", rescale=False, reduction="mean", scale_free=True)
    search = method.search(model, mask, ctx())
    X, y, _, _ = tiny()
    from lottery_lab.data import Batches

    batches = Batches(X, y, 16, generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(epochs=3, lr=0.05, progress=False)
    betas = []

    class Spy(type(search.callbacks[0]).__mro__[1]):  # a plain Callback
        def on_epoch_end(self, state):
            betas.append(float(search.module.beta))

    train(search.module, batches, cfg, masks=search.masks, callbacks=[*search.callbacks, Spy()],
          param_groups=search.param_groups, generator=torch.Generator().manual_seed(1), seed=0)
    assert betas == pytest.approx([50 ** 0.5, 50.0, 50.0])
    s = method.scores(search)
    ticket = method.prune(model, mask, ctx(), search)
    for n in mask:
        assert torch.equal(ticket[n], (s[n] > 0) & mask[n])
    assert not ticket["0.weight"][:, :3].any() and not method.revives


def test_cs_soft_mask_is_rescaled_by_one_over_sigmoid_s0_and_penalty_is_the_sum():
    model = net().double()
    mask = masks.ones_like(model)
    s0, lam = 0.0, 1e-3
    method = methods.get("cs", s_init=s0, lam=lam, layers="all")
    search = method.search(model, mask, ctx(model))
    softnet = search.module
    x = torch.randn(4, 10, dtype=torch.float64)
    torch.testing.assert_close(softnet(x), model(x))               # effective weights start at θ
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in softnet.s.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        softnet.beta.fill_(2.5)
    W1, W2 = model[0].weight.detach(), model[2].weight.detach()
    S1, S2 = softnet.s["0/weight"].detach(), softnet.s["2/weight"].detach()
    c = 1 + math.exp(-s0)                                            # 1 / σ(s0)
    m1, m2 = c / (1 + torch.exp(-2.5 * S1)), c / (1 + torch.exp(-2.5 * S2))
    ref = F.linear(torch.relu(F.linear(x, W1 * m1, model[0].bias)), W2 * m2, model[2].bias)
    out = softnet(x)
    torch.testing.assert_close(out, ref)
    loss = torch.zeros((), dtype=torch.float64)
    torch.testing.assert_close(search.callbacks[0].on_loss(None, loss), lam * (m1.sum() + m2.sum()))
    mean = methods.get("cs", s_init=s0, lam=lam, layers="all", reduction="mean").search(model, mask, ctx(model))
    mean.module.load_state_dict(softnet.state_dict())
    mean.module(x)
    torch.testing.assert_close(mean.callbacks[0].on_loss(None, loss), lam * (m1.sum() + m2.sum()) / (200 + 100))
    state = method.ticket_state(dict(model.state_dict()), mask)     # the reference's ticket: θ_k / σ(s0)
    torch.testing.assert_close(state["0.weight"], 2.0 * W1)
    torch.testing.assert_close(state["0.bias"], model[0].bias.detach())


def test_cs_carries_scores_clamped_at_s0_and_weights_into_the_next_round_and_revives():
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("cs", layers="all")
    c1 = ctx(model)
    first = method.search(model, mask, c1)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in first.module.s.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        model[0].weight.add_(1.0)                                    # the search moved θ
    ticket = method.prune(model, mask, c1, first)
    s1 = method.scores(first)
    assert all(torch.equal(ticket[n], s1[n] > 0) for n in mask)
    carry = method.carry_state(first)
    theta_search = model[0].weight.detach().clone()
    model2 = net(seed=5)                                              # the runner's trained ticket: ignored
    c2 = methods.Context(2, torch.Generator().manual_seed(0), rewind_state=c1.rewind_state, carry=carry)
    second = method.search(model2, ticket, c2)
    for n in mask:
        torch.testing.assert_close(method.scores(second)[n], torch.minimum(s1[n], torch.zeros(())))
    torch.testing.assert_close(model2[0].weight.detach(), theta_search)   # θ continues from the search
    assert second.masks == {}                                        # nothing held at zero: pruned can revive
    with torch.no_grad():
        pruned = (~ticket["0.weight"]).nonzero()[0]
        second.module.s["0/weight"][tuple(pruned)] = 0.3
    again = method.prune(model2, ticket, c2, second)
    assert again["0.weight"][tuple(pruned)] and method.revives


def test_cs_reference_layers_are_the_3x3_convolutions_or_lenets_hidden_layers():
    from lottery_lab import models
    from lottery_lab.methods.cs import masked_layers

    lenet = masks.ones_like(models.get("mlp", input_shape=(784,), num_classes=10))
    assert masked_layers(lenet, "reference") == ["1.weight", "3.weight"]            # not the output layer
    resnet = masks.ones_like(models.get("resnet20", input_shape=(3, 8, 8), num_classes=10, width=0.25))
    assert masked_layers(resnet, "reference") == [n for n in resnet if n != "fc.weight"]
    conv2 = masks.ones_like(models.get("conv2", input_shape=(3, 8, 8), num_classes=10, width=0.25))
    assert masked_layers(conv2, "reference") == [n for n in conv2 if conv2[n].dim() == 4]
    assert masked_layers(conv2, "all") == list(conv2)


def test_cs_step_makes_no_host_device_sync():
    model = net()
    method = methods.get("cs", layers="all")
    search = method.search(model, masks.ones_like(model), ctx(model))
    X, y, _, _ = tiny()
    syncs = []

    def forbid(name):
        def f(self, *a, **k):
            syncs.append(name)
            raise AssertionError(f"{name} of a tensor in the step")
        return f

    import unittest.mock as mock

    with mock.patch.object(torch.Tensor, "item", forbid("item")), \
            mock.patch.object(torch.Tensor, "__bool__", forbid("bool")), \
            mock.patch.object(torch.Tensor, "__float__", forbid("float")), \
            mock.patch.object(torch.Tensor, "__int__", forbid("int")):
        loss = F.cross_entropy(search.module(X[:16]), y[:16])
        for cb in search.callbacks:
            loss = cb.on_loss(None, loss)
        loss.backward()
        for cb in search.callbacks:
            cb.after_backward(None)
            cb.after_step(None)
    assert syncs == []


def test_cs_plays_rounds_with_revival_through_the_runner():
    res = play(LotteryConfig(method="cs", method_kw={"layers": "all", "lam": 1e-4}, model="mlp", data="tiny",
                             rounds=2, epochs=3, batch_size=16, out_dir=None, progress=False), data=tiny())
    assert [r["round"] for r in res.rows] == [0, 1, 2]
    assert res.rows[2]["density"] < 1.0 and all(0 <= r["test_acc"] <= 1 for r in res.rows)


# ------------------------------------------------------------------------------------------- l0

@pytest.mark.parametrize("per_layer", [False, True])
def test_l0_ticket_keeps_the_expected_number_of_most_probable_gates(per_layer):
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("l0", lam=0.5, per_layer=per_layer)
    search = run_search(method, model, mask, steps=10)
    la = method.scores(search)
    ticket = method.prune(model, mask, ctx(), search)
    # P(z ≠ 0) from the logistic CDF, written out: σ(log α − β log(−γ/ζ))
    p = {n: torch.sigmoid(la[n] - (2 / 3) * math.log(0.1 / 1.1)) for n in mask}
    groups = [[n] for n in mask] if per_layer else [list(mask)]
    for names in groups:
        probs = torch.cat([p[n].flatten() for n in names])
        kept = torch.cat([ticket[n].flatten() for n in names])
        assert int(kept.sum()) == round(float(probs.sum()))
        if (~kept).any():
            assert probs[kept].min() >= probs[~kept].max()


@pytest.mark.parametrize("per_layer", [False, True])
@pytest.mark.parametrize("target,epochs", [(0.3, 30), (0.05, 50)])  # a low target needs a larger multiplier
def test_l0_constrained_reaches_its_target_density(per_layer, target, epochs):
    data = tiny(n=400)
    cfg = LotteryConfig(method="l0", method_kw={"target_density": target, "per_layer": per_layer},
                        model="mlp", data="tiny", rounds=1, epochs=epochs, batch_size=32, out_dir=None,
                        progress=False)
    res = play(cfg, data=data)
    assert abs(res.rows[1]["density"] - target) <= 0.01
    if per_layer:
        assert all(abs(d - target) <= 0.02 for d in res.layer_densities[1].values()), res.layer_densities[1]


# ------------------------------------------------------------------------------------ edge_popup

@pytest.mark.parametrize("keep", [0.1, 0.37, 1.0])
def test_edge_popup_keeps_exactly_keep_per_layer_with_signed_constant_weights(keep):
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("edge_popup", keep=keep)
    c = ctx(model)
    search = method.search(model, mask, c)
    ticket = method.prune(model, mask, c, search)
    for n, m in ticket.items():
        assert int(m.sum()) == max(1, round(keep * m.numel()))
    state = method.ticket_state(c.rewind_state, mask)
    for n in mask:
        sigma = math.sqrt(2.0 / c.rewind_state[n][0].numel())
        torch.testing.assert_close(state[n], torch.sign(c.rewind_state[n]) * sigma)
    assert not methods.get("edge_popup").retrain


def test_edge_popup_trains_scores_not_weights_and_is_evaluated_untrained(tmp_path):
    data = tiny(n=400)
    cfg = LotteryConfig(method="edge_popup", method_kw={"keep": 0.5}, model="mlp", data="tiny", rounds=1,
                        epochs=5, batch_size=32, out_dir=str(tmp_path), progress=False)
    res = play(cfg, data=data)
    assert res.rows[1]["density"] == pytest.approx(0.5, abs=2e-3)
    assert res.rows[1]["test_acc"] > 0.3  # well above chance (0.2) without training any weight
    weights = res.weights(1)
    rewind = torch.load(next(tmp_path.glob("*/round_00/rewind.pt")), weights_only=True)
    for n in res.masks[1]:
        sigma = math.sqrt(2.0 / rewind[n][0].numel())
        kept = weights[n] != 0
        torch.testing.assert_close(weights[n][kept], (torch.sign(rewind[n]) * sigma)[kept])


def bn_images(seed=0, n=192):
    """Images far from mean 0 / variance 1, so BatchNorm statistics matter."""
    g = torch.Generator().manual_seed(seed)
    X = 3.0 * torch.randn(n, 3, 8, 8, generator=g) + 2.0
    y = (X[:, 0].mean((1, 2)) > 2.0).long() + (X[:, 1].mean((1, 2)) > 2.0).long()
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def _found_accuracy(scored, keep, X, y):
    """Accuracy of the searched network under its top-keep |s| support (computed here), in eval mode."""
    import copy

    found = copy.deepcopy(scored.net).eval()
    params = dict(found.named_parameters())
    with torch.no_grad():
        for n in scored.names:
            s = scored.s[n.replace(".", "/")].detach().abs().flatten()
            k = max(1, round(keep * s.numel()))
            keep_idx = torch.argsort(s, descending=True, stable=True)[:k]
            m = torch.zeros_like(s)
            m[keep_idx] = 1
            params[n].mul_(m.view_as(params[n]))
        return (found(X).argmax(1) == y).double().mean().item()


@pytest.mark.parametrize("model", ["vgg11", "resnet20"])
def test_strong_ticket_on_batchnorm_is_the_network_the_search_found(model, monkeypatch):
    X, y, Xt, yt = bn_images()
    captured = {}
    prune = methods.edge_popup.EdgePopup.prune

    def spy(self, model_, mask, c, search=None):
        captured["scored"] = search.module
        return prune(self, model_, mask, c, search)

    monkeypatch.setattr(methods.edge_popup.EdgePopup, "prune", spy)
    cfg = LotteryConfig(method="edge_popup", method_kw={"keep": 0.5}, model=model, model_kw={"width": 0.25},
                        data="bn", rounds=1, epochs=3, batch_size=32, lr=0.1, out_dir=None, progress=False,
                        amp=False, device="cpu")
    res = play(cfg, data=(X, y, Xt, yt))
    scored = captured["scored"]
    assert res.rows[1]["test_acc"] == pytest.approx(_found_accuracy(scored, 0.5, Xt, yt), abs=1e-12)
    # the statistics the search collected are far from θ_k's (mean 0, var 1): they matter here
    bn = next(m for m in scored.net.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.running_var.mean() > 2.0


def test_recalibrated_batchnorm_statistics_are_the_training_data_moments():
    X, y, _, _ = bn_images(n=128)
    from lottery_lab import models
    from lottery_lab.methods.edge_popup import recalibrate_batchnorm

    torch.manual_seed(0)
    net_ = models.get("vgg11", input_shape=(3, 8, 8), num_classes=3, width=0.125)
    mask = masks.ones_like(net_)
    mask["0.0.weight"][:4] = False
    before = {k: v.clone() for k, v in net_.state_dict().items() if "running" not in k and "num_batches" not in k}
    recalibrate_batchnorm(net_, mask, X, batch_size=1024)            # one batch: exact moments
    ref = [m for m in net_.modules() if isinstance(m, nn.BatchNorm2d)]
    inputs = []
    import copy

    probe = copy.deepcopy(net_).train()
    masks.apply(probe, mask)
    hooks = [m.register_forward_pre_hook(lambda mod, a: inputs.append(a[0].detach()))
             for m in probe.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        probe(X)
    for h in hooks:
        h.remove()
    for bn, x in zip(ref, inputs):
        torch.testing.assert_close(bn.running_mean, x.mean((0, 2, 3)))
        torch.testing.assert_close(bn.running_var, x.var((0, 2, 3), unbiased=True))
    after = net_.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())      # weights (unmasked) untouched


# --------------------------------------------------------------------------- pruning at init

def test_magnitude_init_prunes_smallest_initial_weights_globally():
    model = net()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # "train" the model: the method must ignore these weights
        for p in model.parameters():
            p.mul_(torch.rand_like(p))
    mask = masks.ones_like(model)
    c = methods.Context(1, torch.Generator().manual_seed(0), rewind_state=init)
    new = methods.get("magnitude_init", prune_fraction=0.3).prune(model, mask, c)
    flat = np.concatenate([init[n].abs().numpy().ravel() for n in mask])
    k = round(0.3 * flat.size)
    cut = np.sort(flat)[k - 1]
    kept = np.concatenate([new[n].numpy().ravel() for n in mask])
    assert (~kept).sum() == k and (flat[~kept] <= cut).all() and (flat[kept] >= cut).all()


@pytest.mark.parametrize("name", ["snip", "synflow", "magnitude_init"])
def test_pruning_at_init_follows_imps_densities(name):
    data = tiny(n=200)
    cfg = LotteryConfig(method=name, model="mlp", data="tiny", rounds=3, epochs=1, batch_size=32,
                        out_dir=None, progress=False)
    res = play(cfg, data=data)
    dens = [r["density"] for r in res.rows]
    assert dens == pytest.approx([1.0, 0.8, 0.64, 0.512], abs=2e-3)


# ----------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name,kw,arg", [
    ("l0", {"target_density": 0.0}, "target_density"),
    ("l0", {"target_density": 1.0}, "target_density"),
    ("l0", {"lam": -1.0}, "lam"),
    ("l0", {"dual_lr": 0.0}, "dual_lr"),
    ("l0", {"beta": 0.0}, "beta"),
    ("cs", {"final_temperature": 0.0}, "final_temperature"),
    ("cs", {"final_temperature": -5.0}, "final_temperature"),
    ("cs", {"lam": -1.0}, "lam"),
    ("rvsm", {"beta": 0.0}, "beta"),
    ("rvsm", {"beta": -1.0}, "beta"),
    ("rvsm", {"penalty": "nope"}, "l1"),
    ("edge_popup", {"keep": 0.0}, "keep"),
    ("edge_popup", {"keep": 1.5}, "keep"),
    ("snip", {"prune_fraction": 1.0}, "prune_fraction"),
    ("snip", {"batch_size": 0}, "batch_size"),
    ("synflow", {"iterations": 0}, "iterations"),
])
def test_bad_arguments_raise_naming_them(name, kw, arg):
    with pytest.raises(ValueError, match=arg):
        methods.get(name, **kw)


# ------------------------------------------------------------------ concave with target_density

def test_concave_target_density_multiplier_moves_in_log_space():
    from lottery_lab.methods.concave import _DensityDrivenPenalty

    ms = [torch.tensor([0.9, 0.8, 0.1, 0.0])]  # 2 of 4 at or above α = 0.5: density 0.5
    lam_t = torch.tensor(1e-5, dtype=torch.float64)
    cb = _DensityDrivenPenalty(ms, penalties.get("log"), lam_t, alpha=0.5, target=0.25, dual_lr=2.0, total=4)
    cb.after_step(None)
    assert float(lam_t) == pytest.approx(1e-5 * math.exp(2.0 * 0.25)) and cb.lam == float(lam_t)
    ms[0].copy_(torch.tensor([0.9, 0.1, 0.1, 0.0]))  # density 0.25: on target, λ stays
    cb.after_step(None)
    assert float(lam_t) == pytest.approx(1e-5 * math.exp(0.5))
    ms[0].zero_()  # density 0: λ falls
    cb.after_step(None)
    assert float(lam_t) == pytest.approx(1e-5 * math.exp(0.5 - 0.5))


@pytest.mark.parametrize("target", [0.3, 0.1])
def test_concave_target_density_gives_the_asked_density(target):
    data = tiny(n=400)
    cfg = LotteryConfig(method="concave", method_kw={"target_density": target}, model="mlp", data="tiny",
                        rounds=1, epochs=5, batch_size=32, out_dir=None, progress=False)
    res = play(cfg, data=data)
    kept, total = masks.count(res.masks[1])
    assert kept == round(target * total)


@pytest.mark.parametrize("kw,arg", [({"target_density": 0.0}, "target_density"),
                                    ({"target_density": 1.0}, "target_density"),
                                    ({"target_density": 0.1, "dual_lr": 0.0}, "dual_lr"),
                                    ({"target_density": 0.1, "lam": 0.0}, "lam")])
def test_concave_target_density_bad_input(kw, arg):
    with pytest.raises(ValueError, match=arg):
        methods.get("concave", **kw)


def test_scaled_grad_divides_each_tensor_by_its_bias_corrected_mean_magnitude():
    from lottery_lab.methods._scale_free import ScaledGrad

    a, b = torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)
    state = torch.zeros(2, 2, dtype=torch.float64)
    cb = ScaledGrad([a, b], state, beta=0.9)
    a.grad, b.grad = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.5])
    cb.after_backward(None)
    # step 1: the bias-corrected EMA is the mean magnitude itself
    torch.testing.assert_close(a.grad, torch.tensor([1.0, -2.0, 3.0]) / 2.0)
    torch.testing.assert_close(b.grad, torch.tensor([1.0, 1.0]))
    a.grad = torch.tensor([4.0, 4.0, 4.0])
    b.grad = None
    cb.after_backward(None)
    ema = 0.9 * (0.1 * 2.0) + 0.1 * 4.0
    torch.testing.assert_close(a.grad, torch.full((3,), 4.0 / (ema / (1 - 0.9**2))))
    assert state[1].tolist() == pytest.approx([0.1 * 0.5, 1.0])


@pytest.mark.parametrize("name", ["concave", "l0", "cs", "rvsm", "edge_popup"])
def test_methods_that_search_refuse_to_prune_without_their_search(name):
    model = net()
    with pytest.raises(ValueError, match=f"the {name} method prunes from its search"):
        methods.get(name).prune(model, masks.ones_like(model), ctx(), None)


def test_cs_carry_survives_until_the_next_round_is_on_disk_and_a_redone_search_is_identical(tmp_path,
                                                                                           monkeypatch):
    from lottery_lab.runs import RunStore

    def cfg(out):
        return LotteryConfig(method="cs", method_kw={"layers": "all", "lam": 1e-4}, model="mlp", data="tiny",
                             rounds=2, epochs=3, batch_size=16, out_dir=str(out), progress=False, device="cpu")

    whole = play(cfg(tmp_path / "whole"), data=tiny())
    store = RunStore(whole.run_dir)
    assert store.load(1, "carry.pt") is not None and store.load(2, "carry.pt") is not None  # kept on disk
    save = RunStore.save

    class Crash(Exception):
        pass

    def crash_before_round_2s_mask(self, r, name, obj):
        if (r, name) == (2, "mask.pt"):
            raise Crash
        save(self, r, name, obj)

    monkeypatch.setattr(RunStore, "save", crash_before_round_2s_mask)
    with pytest.raises(Crash):
        play(cfg(tmp_path / "crashed"), data=tiny())
    monkeypatch.setattr(RunStore, "save", save)
    again = play(cfg(tmp_path / "crashed"), data=tiny())                 # redoes round 2's search
    assert all(torch.equal(again.masks[2][n], whole.masks[2][n]) for n in whole.masks[2])
    assert again.rows[2]["test_acc"] == whole.rows[2]["test_acc"]
    with pytest.raises(ValueError, match="continues round 1's search"):
        methods.get("cs").search(net(), masks.ones_like(net()), ctx(net(), r=2))


def test_cs_lost_carry_or_scores_are_recomputed_to_the_same_rounds(tmp_path):
    """A finished cs round promises its carry (the next search continues from it): a deleted one, or a
    deleted later scores.pt whose search needs it, is recomputed and every round comes out the same."""
    from lottery_lab.runs import CorruptFileWarning

    cfg = LotteryConfig(method="cs", method_kw={"layers": "all", "lam": 1e-4}, model="mlp", data="tiny",
                        rounds=2, epochs=3, batch_size=16, out_dir=str(tmp_path), progress=False, device="cpu")
    whole = play(cfg, data=tiny())
    rows = [dict(r) for r in whole.rows]
    for lost in ("round_01/carry.pt", "round_02/scores.pt"):
        (whole.run_dir / lost).unlink()
        with pytest.warns(CorruptFileWarning, match=lost.split("/")[1]):
            again = play(cfg, data=tiny())
        assert (whole.run_dir / lost).exists()
        for r in range(3):
            assert all(torch.equal(again.masks[r][n], whole.masks[r][n]) for n in whole.masks[r])
        assert [{k: v for k, v in row.items() if k != "wall_s"} for row in again.rows] == \
            [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]
