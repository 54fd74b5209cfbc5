"""Methods: the registry, IMP's global magnitude rule, the random control, the concave relaxed mask."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import masks, methods, penalties
from lottery_lab.methods.concave import RelaxedMaskNet
from lottery_lab.train import TrainConfig, train


def net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))


def ctx(r=1, seed=0):
    return methods.Context(r, torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------ registry

def test_registry_lists_and_builds_methods():
    assert {"imp", "random", "concave"} <= set(methods.names())
    assert methods.get("imp").prune_fraction == 0.2
    assert methods.get("imp", prune_fraction=0.5).kwargs() == {"prune_fraction": 0.5, "scheme": "global",
                                                               "layer_rates": None}
    assert methods.defaults("concave")["penalty"] == "log"
    with pytest.raises(ValueError, match="method='lth'.*imp.*random.*concave"):
        methods.get("lth")
    with pytest.raises(TypeError, match="frac.*accepts: prune_fraction, scheme, layer_rates"):
        methods.get("imp", frac=0.3)


@pytest.mark.parametrize("name, kw, arg", [
    ("imp", dict(prune_fraction=0.0), "prune_fraction"),
    ("imp", dict(prune_fraction=1.0), "prune_fraction"),
    ("random", dict(prune_fraction=-0.2), "prune_fraction"),
    ("concave", dict(alpha=0.0), "alpha"),
    ("concave", dict(alpha=1.0), "alpha"),
    ("concave", dict(alpha=1.5), "alpha"),
    ("concave", dict(lam=-1e-3), "lam"),
    ("concave", dict(prune_fraction=1.2), "prune_fraction"),
    ("concave", dict(mask_init=0.0), "mask_init"),
    ("concave", dict(mask_lr=0.0), "mask_lr"),
    ("concave", dict(epochs=0), "epochs"),
])
def test_bad_method_arguments_name_argument_value_and_range(name, kw, arg):
    value = next(iter(kw.values()))
    with pytest.raises(ValueError, match=rf"{arg}={value!r}"):
        methods.get(name, **kw)
    if arg in ("alpha", "prune_fraction"):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            methods.get(name, **kw)


def test_unknown_penalty_lists_the_registered_ones():
    with pytest.raises(ValueError, match="l1.*log.*scad"):
        methods.get("concave", penalty="cauchy")
    with pytest.raises(TypeError, match="penalty 'log' got unknown parameter.*zeta; it accepts: eps"):
        methods.get("concave", penalty="log", penalty_kw={"zeta": 1})


# -------------------------------------------------------------------------------------------- IMP

def numpy_global_magnitude(weights, mask, fraction):
    flat_w = np.concatenate([np.abs(weights[k].detach().numpy()).ravel() for k in mask])
    flat_m = np.concatenate([mask[k].numpy().ravel() for k in mask])
    alive = np.flatnonzero(flat_m)
    n_prune = int(round(fraction * len(alive)))
    drop = alive[np.argsort(flat_w[alive], kind="stable")[:n_prune]]
    flat_m = flat_m.copy()
    flat_m[drop] = False
    out, i = {}, 0
    for k in mask:
        n = mask[k].numel()
        out[k] = flat_m[i:i + n].reshape(mask[k].shape)
        i += n
    return out


def test_imp_prunes_exactly_the_smallest_magnitudes_globally():
    model = net()
    weights = dict(model.named_parameters())
    mask = masks.ones_like(model)
    mask["0.weight"][:3] = False                         # some weights were pruned before
    ref = numpy_global_magnitude(weights, mask, 0.3)
    got = methods.get("imp", prune_fraction=0.3).prune(model, mask, ctx())
    for k in mask:
        assert got[k].dtype == torch.bool
        np.testing.assert_array_equal(got[k].numpy(), ref[k])
    # layers are pruned unevenly (a global threshold), and only among the kept weights
    assert masks.layer_density(got)["0.weight"] != masks.layer_density(got)["2.weight"]
    assert not (got["0.weight"][:3]).any()


def test_imp_densities_follow_the_geometric_schedule():
    model = net()
    mask = masks.ones_like(model)
    imp = methods.get("imp", prune_fraction=0.2)
    total = masks.count(mask)[1]
    kept = total
    for r in range(1, 8):
        mask = imp.prune(model, mask, ctx(r))
        masks.apply(model, mask)
        kept -= round(0.2 * kept)
        assert masks.count(mask)[0] == kept
        assert masks.density(mask) == pytest.approx(0.8 ** r, abs=r / total)


def numpy_lowest(weights, mask, names, n):
    """Prune the ``n`` kept weights of smallest |w| among layers ``names`` (a numpy sort)."""
    out = {k: mask[k].numpy().copy() for k in mask}
    flat_w = np.concatenate([np.abs(weights[k].detach().numpy()).ravel() for k in names])
    flat_m = np.concatenate([out[k].ravel() for k in names])
    alive = np.flatnonzero(flat_m)
    flat_m[alive[np.argsort(flat_w[alive], kind="stable")[:n]]] = False
    i = 0
    for k in names:
        size = out[k].size
        out[k] = flat_m[i:i + size].reshape(out[k].shape)
        i += size
    return out


@pytest.mark.parametrize("kw, output_rate", [
    (dict(scheme="open_lth"), 0.0),
    (dict(scheme="frankle_carbin"), 0.15),
    (dict(layer_rates={"2.weight": 0.5}), 0.5),
    (dict(scheme="open_lth", layer_rates={"output": 0.1}), 0.1),
])
def test_imp_layer_rates_prune_their_own_layer_and_keep_the_density_schedule(kw, output_rate):
    model = net()
    weights = dict(model.named_parameters())
    mask = masks.ones_like(model)
    mask["2.weight"][0, :6] = False                      # the output layer lost some weights before
    imp = methods.get("imp", prune_fraction=0.3, **kw)
    got = imp.prune(model, mask, ctx())
    kept_out, kept_all = int(mask["2.weight"].sum()), masks.count(mask)[0]
    n_out = round(output_rate * kept_out)
    ref = numpy_lowest(weights, mask, ["2.weight"], n_out)
    ref = numpy_lowest(weights, {k: torch.from_numpy(v) for k, v in ref.items()}, ["0.weight"],
                       round(0.3 * kept_all) - n_out)
    for k in mask:
        np.testing.assert_array_equal(got[k].numpy(), ref[k])
    assert masks.count(got)[0] == kept_all - round(0.3 * kept_all)   # the schedule (1 - p)^r holds
    if output_rate == 0.0:
        assert torch.equal(got["2.weight"], mask["2.weight"])        # never pruned


def test_imp_default_scheme_is_the_global_ranking_and_bad_rates_are_named():
    model = net()
    mask = masks.ones_like(model)
    default = methods.get("imp").prune(model, mask, ctx())
    ref = numpy_global_magnitude(dict(model.named_parameters()), mask, 0.2)
    assert all(np.array_equal(default[k].numpy(), ref[k]) for k in mask)
    with pytest.raises(ValueError, match="scheme='openlth'.*global, open_lth, frankle_carbin"):
        methods.get("imp", scheme="openlth")
    with pytest.raises(ValueError, match=r"layer_rates\['fc'\]=1.0.*\[0, 1\)"):
        methods.get("imp", layer_rates={"fc": 1.0})
    with pytest.raises(TypeError, match="layer_rates"):
        methods.get("imp", layer_rates=[0.1])
    with pytest.raises(ValueError, match="fc.weight: not layers of this mask.*0.weight, 2.weight"):
        methods.get("imp", layer_rates={"fc.weight": 0.0}).prune(model, mask, ctx())


def test_random_control_matches_imp_densities_but_not_its_masks():
    model = net()
    imp, rnd = methods.get("imp", prune_fraction=0.25), methods.get("random", prune_fraction=0.25)
    m_imp = m_rnd = masks.ones_like(model)
    for r in range(1, 6):
        m_imp = imp.prune(model, m_imp, ctx(r))
        new = rnd.prune(model, m_rnd, ctx(r, seed=r))
        assert all(not (new[k] & ~m_rnd[k]).any() for k in new)          # only prunes kept weights
        m_rnd = new
        assert masks.count(m_rnd) == masks.count(m_imp)
    assert any(not torch.equal(m_imp[k], m_rnd[k]) for k in m_imp)
    again = masks.ones_like(model)
    for r in range(1, 6):
        again = rnd.prune(model, again, ctx(r, seed=r))
    assert all(torch.equal(again[k], m_rnd[k]) for k in again)             # seeded: reproducible


# ------------------------------------------------------------------------------------ concave

def test_concave_gradient_wrt_m_is_the_closed_form():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    mask = masks.ones_like(lin)
    mask["weight"][0, 0] = False
    lam, eps = 0.3, 0.05
    method = methods.get("concave", lam=lam, penalty="log", penalty_kw={"eps": eps}, mask_init=0.7)
    search = method.search(lin, mask, ctx())
    relaxed = search.module
    with torch.no_grad():
        relaxed.m["weight"].uniform_(0.2, 0.9)
        relaxed.m["weight"].mul_(mask["weight"])
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    F.cross_entropy(relaxed(x), y).backward()
    search.callbacks[0].after_backward(None)

    theta, m = lin.weight.detach(), relaxed.m["weight"].detach()
    w = (theta * m).requires_grad_()                   # independent reference: autograd on plain w
    F.cross_entropy(F.linear(x, w, lin.bias.detach()), y).backward()
    dR = eps / (eps + m)                               # d/dm of eps*log(1 + m/eps), m >= 0
    torch.testing.assert_close(relaxed.m["weight"].grad, theta * w.grad + lam * dR)
    torch.testing.assert_close(lin.weight.grad, m * w.grad)


def test_concave_search_keeps_m_in_unit_interval_and_pruned_at_zero():
    model = net()
    mask = masks.ones_like(model)
    mask["2.weight"][:, :4] = False
    masks.apply(model, mask)
    method = methods.get("concave", lam=0.05, mask_lr=5.0)
    search = method.search(model, mask, ctx())
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 10, generator=g), torch.randint(0, 5, (64,), generator=g)
    lo, hi = [], []

    class Watch(methods.base.Callback):
        def after_step(self, state):
            m = torch.cat([p.detach().flatten() for p in search.module.m.parameters()])
            lo.append(float(m.min()))
            hi.append(float(m.max()))

    train(search.module, [(X[:32], y[:32]), (X[32:], y[32:])], TrainConfig(epochs=10, lr=0.5, progress=False),
          masks=search.masks, callbacks=[*search.callbacks, Watch()], param_groups=search.param_groups)
    assert min(lo) >= 0.0 and max(hi) <= 1.0
    assert min(lo) == 0.0 and max(hi) == 1.0            # the projection was active on both sides
    m = method.scores(search)
    assert (m["2.weight"][:, :4] == 0).all() and (model[2].weight[:, :4] == 0).all()


def test_concave_threshold_at_alpha_gives_the_documented_mask():
    model = net()
    mask = masks.ones_like(model)
    mask["0.weight"][0] = False
    method = methods.get("concave", alpha=0.4)
    search = method.search(model, mask, ctx())
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in search.module.m.parameters():
            p.copy_(torch.rand(p.shape, generator=g))
        search.module.m["0/weight"][1, :3] = torch.tensor([0.4, 0.39999, 0.41])
    got = method.prune(model, mask, ctx(), search)
    m = method.scores(search)
    for k in mask:
        assert torch.equal(got[k], mask[k] & (m[k] >= 0.4))    # keep m >= alpha among the kept
    assert got["0.weight"][1, :3].tolist() == [True, False, True]
    assert not got["0.weight"][0].any()


def test_concave_fixed_fraction_ablation_prunes_smallest_m_ties_by_magnitude():
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("concave", prune_fraction=0.25)
    search = method.search(model, mask, ctx())         # m = 1 everywhere: all ties
    got = method.prune(model, mask, ctx(), search)
    ref = methods.get("imp", prune_fraction=0.25).prune(model, mask, ctx())
    assert all(torch.equal(got[k], ref[k]) for k in mask)   # ties broken by |theta|: IMP's choice
    with torch.no_grad():
        search.module.m["2/weight"].zero_()             # now the last layer has the smallest m
    got = method.prune(model, mask, ctx(), search)
    kept, total = masks.count(got)
    n_prune = round(0.25 * total)                       # 78 of 310: fewer than layer 2's 100 weights
    assert total - kept == n_prune and got["0.weight"].all()
    w = model[2].weight.detach().abs().flatten()
    assert set(torch.nonzero(~got["2.weight"].flatten()).flatten().tolist()) == set(
        torch.argsort(w)[:n_prune].tolist())            # within the tie (m = 0): smallest |theta|


@pytest.mark.parametrize("penalty", penalties.names())
def test_every_registered_penalty_runs_a_search_step(penalty):
    model = net()
    mask = masks.ones_like(model)
    method = methods.get("concave", penalty=penalty, lam=1e-3)
    search = method.search(model, mask, ctx())
    X, y = torch.randn(16, 10), torch.randint(0, 5, (16,))
    train(search.module, [(X, y)], TrainConfig(epochs=2, progress=False), masks=search.masks,
          callbacks=search.callbacks, param_groups=search.param_groups)
    new = method.prune(model, mask, ctx(), search)
    assert set(new) == set(mask) and all(torch.isfinite(p).all() for p in search.module.parameters())


def test_relaxed_net_computes_with_theta_times_m():
    model = net()
    mask = masks.ones_like(model)
    before = [p.detach().clone() for p in model.parameters()]
    relaxed = RelaxedMaskNet(model, mask, mask_init=0.5)
    x = torch.randn(3, 10)
    with torch.no_grad():
        expected = F.linear(torch.relu(F.linear(x, 0.5 * model[0].weight, model[0].bias)),
                            0.5 * model[2].weight, model[2].bias)
    torch.testing.assert_close(relaxed(x), expected)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # θ itself untouched
