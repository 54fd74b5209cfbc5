"""lottery_lab beside the reference implementations: each reference's kernel, recomputed here.

Every check writes the reference's rule from the facts of its code (file named in the table; the code
itself is not copied) and compares it with lottery_lab's on the same weights and inputs: tiny models,
the CPU, float64 where it matters, a few seconds in all. Prints one Markdown table row per check:
method, reference (repository and file), what was compared, agree/differ with the numbers.

    python benchmarks/check_references.py [--json]

The rows are the source of the book's page "lottery_lab beside the reference implementations"
(``book/references_side_by_side.md``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import masks, methods, models
from lottery_lab.methods.cs import SoftMaskNet
from lottery_lab.methods.hard_concrete import HardConcrete
from lottery_lab.methods.saliency import snip_scores, synflow_scores

OPEN_LTH = "facebookresearch/open_lth"
SYNFLOW = "ganguli-lab/Synaptic-Flow"
HIDDEN = "allenai/hidden-networks"
CS = "lolemacs/continuous-sparsification"
CONSTRAINED = "gallego-posada/constrained_sparsity"

ROWS: list[dict] = []


def row(method: str, repo: str, file: str, compared: str, agree: bool, numbers: str) -> None:
    ROWS.append({"method": method, "reference": f"{repo} `{file}`", "compared": compared,
                 "result": "agree" if agree else "differ", "numbers": numbers})


def ctx(r: int = 1, **kw) -> methods.Context:
    return methods.Context(r, torch.Generator().manual_seed(0), **kw)


def lenet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return models.get("mlp", input_shape=(784,), num_classes=10).double()


def max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float(((a - b).abs().max() / b.abs().max().clamp_min(1e-300)))


# ------------------------------------------------------------------------------------------ IMP

def open_lth_sparse_global(weights: dict, mask: dict, fraction: float, ignore: set[str]) -> dict:
    """OpenLTH's sparse_global rule: prune ceil(p · all remaining weights, ignored layers counted)
    from the non-ignored layers; the threshold is the sorted kept |w| at that index; keep |w| > it."""
    remaining = sum(int(m.sum()) for m in mask.values())
    n = int(np.ceil(fraction * remaining))
    prunable = [k for k in mask if k not in ignore]
    vec = np.concatenate([np.abs(weights[k])[mask[k]] for k in prunable])
    threshold = np.sort(vec)[n]
    out = {k: mask[k].copy() for k in mask}
    for k in prunable:
        out[k] = np.where(np.abs(weights[k]) > threshold, mask[k], False)
    return out


def check_imp() -> None:
    model = lenet()
    weights = {n: p.detach().numpy() for n, p in model.named_parameters()}
    out_layer = list(masks.ones_like(model))[-1]
    for scheme, ignore in (("global", set()), ("open_lth", {out_layer})):
        imp = methods.get("imp", scheme=scheme)
        m_ref = {n: np.ones(m.shape, bool) for n, m in masks.ones_like(model).items()}
        m_ll = masks.ones_like(model)
        worst = 0
        for r in range(1, 6):
            m_ref = open_lth_sparse_global(weights, m_ref, 0.2, ignore)
            m_ll = imp.prune(model, m_ll, ctx(r))
            worst = max(worst, sum(int((m_ll[k].numpy() != m_ref[k]).sum()) for k in m_ref))
        out_ref = m_ref[out_layer].mean()
        out_ll = float(m_ll[out_layer].float().mean())
        total = sum(m.size for m in m_ref.values())
        row(f"imp (scheme={scheme!r})", OPEN_LTH, "pruning/sparse_global.py",
            f"global magnitude masks, 5 rounds at p = 0.2 on LeNet-300-100 ({total:,} weights)"
            + ("; output layer in `pruning_layers_to_ignore`" if ignore else ""),
            worst <= 5, f"at most {worst} weights differ in any round (OpenLTH prunes ceil(p·kept), "
            f"lottery_lab round(p·kept)); output-layer density after 5 rounds {out_ll:.3f} "
            f"(OpenLTH {out_ref:.3f})")


# -------------------------------------------------------------------------------- SNIP / SynFlow

BN_SHAPE = (3, 16, 16)


def bn_net(seed: int = 0) -> nn.Module:
    """ResNet-20 (width 1/4, BatchNorm), its running statistics moved off (0, 1) as after some training."""
    torch.manual_seed(seed)
    net = models.get("resnet20", input_shape=BN_SHAPE, num_classes=10, width=0.25).double()
    with torch.no_grad():  # running statistics unlike a batch's, so that eval and train mode differ
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.8, 1.25)
    return net


def synflow_style_snip(net: nn.Module, names: list[str], X: torch.Tensor, y: torch.Tensor) -> dict:
    """Synaptic-Flow's SNIP: masks c = 1 multiplying each weight, the model in eval mode
    (``prune.py``'s default ``train_mode=False``), score |∂L/∂c|, normalised by the sum of all scores."""
    net = copy.deepcopy(net).eval()
    params = dict(net.named_parameters())
    cs = {n: torch.ones_like(params[n], requires_grad=True) for n in names}
    eff = {n: params[n].detach() * cs[n] for n in names}
    loss = F.cross_entropy(torch.func.functional_call(net, eff, (X,)), y)
    grads = torch.autograd.grad(loss, [cs[n] for n in names])
    scores = {n: g.abs() for n, g in zip(names, grads)}
    total = sum(s.sum() for s in scores.values())
    return {n: s / total for n, s in scores.items()}


def synflow_reference(net: nn.Module, names: list[str], input_shape: tuple[int, ...]) -> dict:
    """Synaptic-Flow's SynFlow score: every state-dict entry replaced by its absolute value, eval mode,
    an all-ones input of batch 1, R = Σ output, score |∂R/∂w ⊙ w|."""
    net = copy.deepcopy(net).eval()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    params = dict(net.named_parameters())
    R = net(torch.ones((1, *input_shape), dtype=torch.float64)).sum()
    grads = torch.autograd.grad(R, [params[n] for n in names])
    return {n: (g * params[n]).abs().detach() for n, g in zip(names, grads)}


def global_keep(scores: dict, density: float) -> dict:
    """Synaptic-Flow's global mask: threshold = the k-th smallest score, k = (1 − sparsity)·N with
    sparsity the fraction kept; scores ≤ threshold pruned."""
    flat = torch.cat([s.flatten() for s in scores.values()])
    k = int((1.0 - density) * flat.numel())
    threshold = torch.kthvalue(flat, k).values
    return {n: s > threshold for n, s in scores.items()}


def check_saliency() -> None:
    net = bn_net()
    names = list(masks.ones_like(net))
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(64, *BN_SHAPE, generator=g, dtype=torch.float64), torch.randint(0, 10, (64,), generator=g)
    ref = synflow_style_snip(net, names, X, y)
    ours = snip_scores(net, names, X, y)
    total = sum(s.sum() for s in ours.values())
    err = max(max_rel(ours[n] / total, ref[n]) for n in names)
    n_all = sum(ref[n].numel() for n in names)
    m_ref = global_keep(ref, 0.8)
    m_ll = methods.base.prune_lowest(ours, masks.ones_like(net), 0.2)
    differ = sum(int((m_ref[n] != m_ll[n]).sum()) for n in names)
    train = snip_scores(net, names, X, y, mode="train")
    m_train = methods.base.prune_lowest(train, masks.ones_like(net), 0.2)
    differ_mode = sum(int((m_train[n] != m_ll[n]).sum()) for n in names)
    row("snip (mode='eval')", SYNFLOW, "Pruners/pruners.py, prune.py",
        f"scores abs(∂L/∂c) on ResNet-20 (width 1/4, BatchNorm, {n_all:,} weights), eval mode; "
        "one-shot mask at 80 %",
        err < 1e-10 and differ <= 1, f"scores max rel. diff {err:.1e}; masks differ in {differ} weights "
        f"(train mode, `mode='train'`: {differ_mode} weights differ from eval mode)")
    ref_sf = synflow_reference(net, names, BN_SHAPE)
    ours_sf = synflow_scores(net, names, BN_SHAPE)
    err_sf = max(max_rel(ours_sf[n], ref_sf[n]) for n in names)
    row("synflow", SYNFLOW, "Pruners/pruners.py",
        "one scoring pass (abs(state), eval mode, all-ones input) on the same ResNet-20",
        err_sf < 1e-10, f"scores max rel. diff {err_sf:.1e} (lottery_lab iterates 20 times per round "
        "by default, the reference 100: a setting, not compared)")
    mag = {n: p.detach().abs() for n, p in net.named_parameters() if n in names}
    ours_mag = methods.saliency.magnitude_scores(net, names)
    row("magnitude_init", SYNFLOW, "Pruners/pruners.py (Mag)", "scores abs(w)", all(
        torch.equal(mag[n], ours_mag[n]) for n in names), "identical")


# --------------------------------------------------------------------------------- edge-popup

def hidden_networks_subnet(scores: torch.Tensor, k: float) -> torch.Tensor:
    """hidden-networks' GetSubnet on |s|: sort ascending, the first int((1 − k)·n) get 0, the rest 1."""
    flat = scores.abs().flatten()
    idx = flat.sort().indices
    j = int((1 - k) * flat.numel())
    out = torch.ones_like(flat)
    out[idx[:j]] = 0
    return out.view_as(scores)


def check_edge_popup() -> None:
    torch.manual_seed(0)
    model = models.get("resnet20", input_shape=(3, 8, 8), num_classes=10, width=0.25).double()
    mask = masks.ones_like(model)
    state = dict(model.state_dict())
    worst, count_diff = 0, 0
    for keep in (0.5, 0.3, 0.05):
        method = methods.get("edge_popup", keep=keep)
        search = method.search(copy.deepcopy(model), mask, ctx(rewind_state=state))
        ticket = method.prune(model, mask, ctx(rewind_state=state), search)
        for n, s in zip(search.module.names, search.module._ranked()):
            ref = hidden_networks_subnet(s.detach(), keep).bool()
            worst = max(worst, int((ref != ticket[n]).sum()))
            count_diff = max(count_diff, abs(int(ref.sum()) - int(ticket[n].sum())))
    # the scores' gradient: straight through the top-k, then through |s|
    search = methods.get("edge_popup", keep=0.5).search(copy.deepcopy(model), mask, ctx(rewind_state=state))
    scored = search.module
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 3])
    F.cross_entropy(scored(x), y).backward()
    net = scored.net
    params = dict(net.named_parameters())
    subnets = {n: hidden_networks_subnet(scored.s[n.replace(".", "/")].detach(), 0.5) for n in scored.names}
    eff = {n: (params[n].detach() * subnets[n]).requires_grad_() for n in scored.names}
    gw = torch.autograd.grad(F.cross_entropy(torch.func.functional_call(net, eff, (x,)), y),
                             [eff[n] for n in scored.names])
    err = max(max_rel(scored.s[n.replace(".", "/")].grad,
                      g * params[n].detach() * torch.sign(scored.s[n.replace(".", "/")].detach()))
              for n, g in zip(scored.names, gw))
    row("edge_popup", HIDDEN, "utils/conv_type.py (GetSubnet, SubnetConv)",
        "per-layer top-k of abs(s) on ResNet-20 (width 1/4) at keep 0.5, 0.3, 0.05; ∂L/∂s",
        worst <= 2 and err < 1e-10, f"at most {worst} weight(s) per layer differ (the reference keeps "
        f"n − int((1 − k)·n), lottery_lab round(k·n): counts differ by ≤ {count_diff}); ∂L/∂s = "
        f"∂L/∂w_eff ⊙ w ⊙ sign(s): max rel. diff {err:.1e}")


# ------------------------------------------------------------------------------------------- cs

def check_cs() -> None:
    torch.manual_seed(0)
    model = models.get("mlp", input_shape=(20,), num_classes=5, width=0.1).double()
    mask = masks.ones_like(model)
    s0, lam, beta = 0.0, 1e-8, 7.0
    method = methods.get("cs")
    search = method.search(model, mask, ctx(rewind_state=dict(model.state_dict())))
    net: SoftMaskNet = search.module
    x = torch.randn(8, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        start_err = float((net(x) - model(x)).abs().max())
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in net.s.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        net.beta.fill_(beta)
    # the reference (models/layers.py): mask = sigmoid(temp · s) / sigmoid(s0); ticket (s > 0) / sigmoid(s0);
    # main.py: loss + lmbda · Σ mask; between rounds (temp reset to 1 first) s ← min(s, s0)
    scaling = 1.0 / (1.0 / (1.0 + math.exp(-s0)))
    params = dict(model.named_parameters())
    soft = {n: torch.sigmoid(beta * net.s[n.replace(".", "/")].detach()) * scaling for n in net.names}
    eff = {n: params[n].detach() * soft[n] for n in net.names}
    ref_out = torch.func.functional_call(model, eff, (x,))
    out = net(x)
    err_out = max_rel(out, ref_out)
    pen = search.callbacks[0].on_loss(None, torch.zeros((), dtype=torch.float64))
    err_pen = max_rel(pen, lam * sum(m.sum() for m in soft.values()))
    ticket = method.prune(model, mask, ctx(), search)
    s = method.scores(search)
    ticket_ok = all(torch.equal(ticket[n], s[n] > 0) for n in net.names)
    theta_k = dict(model.state_dict())
    state = method.ticket_state(theta_k, ticket)
    err_ticket = max(max_rel(state[n] * ticket[n], theta_k[n] * (s[n] > 0) * scaling) for n in net.names)
    carry = method.carry_state(search)
    nxt = method.search(copy.deepcopy(model), ticket, ctx(2, rewind_state=theta_k, carry=carry))
    clamp_ok = all(torch.equal(method.scores(nxt)[n], torch.clamp(s[n], max=s0)) for n in net.names)
    revivable = sum(int((s[n] < 0).sum()) for n in net.names)
    row("cs", CS, "models/layers.py, main.py",
        "soft mask σ(βs)/σ(s₀) and its output, the penalty λΣ, the ticket 1[s>0]/σ(s₀), s ← min(s, s₀)",
        err_out < 1e-12 and err_pen < 1e-12 and ticket_ok and err_ticket < 1e-12 and clamp_ok and start_err < 1e-12,
        f"output max rel. diff {err_out:.1e} (at s = s₀: {start_err:.1e}, effective weights = θ); penalty "
        f"{err_pen:.1e}; ticket identical, its weights {err_ticket:.1e}; carried scores identical "
        f"({revivable} negative scores kept, revivable)")
    # the earlier variant, for the record: σ(s_init)·θ at the start, a factor 1/σ(0.5) = 1.61 below the reference
    old = methods.get("cs", s_init=0.5, rescale=False, carry="reset", layers="all")
    onet = old.search(copy.deepcopy(model), mask, ctx(rewind_state=theta_k)).module
    ratio = float((model[1].weight.detach() / onet.soft_masks()[0].detach().mul(model[1].weight.detach())).mean())
    row("cs (earlier variant)", CS, "models/layers.py",
        "effective weights at the start with `s_init=0.5, rescale=False`", False,
        f"θ·σ(0.5): the reference's are {ratio:.2f}× larger (now a named option, not the default)")


# --------------------------------------------------------------------------------- hard concrete

def check_hard_concrete() -> None:
    hc = HardConcrete()
    beta, gamma, zeta, eps = 2 / 3, -0.1, 1.1, 1e-6
    la = torch.linspace(-8, 8, 1001, dtype=torch.float64)
    # sparse/l0_layers.py concrete_cdf(0): sigmoid(temperature · logit((0 − γ)/(ζ − γ)) − log α), clamped
    x = (0 - gamma) / (zeta - gamma)
    q0 = torch.sigmoid(math.log(x / (1 - x)) * beta - la).clamp(eps, 1 - eps)
    p_ref = 1 - q0
    p = hc.prob_nonzero(la)
    inside = (q0 > eps) & (q0 < 1 - eps)
    err = float((p - p_ref)[inside].abs().max())
    err_l0 = abs(float(p.sum() - p_ref.sum()))
    row("l0 (hard-concrete gates)", CONSTRAINED, "sparse/l0_layers.py",
        "P(z ≠ 0) for log α ∈ [−8, 8] (1,001 points) and the expected L0 (their sum)",
        err < 1e-15, f"max abs. diff {err:.1e} where the reference does not clamp to [1e-6, 1 − 1e-6]; "
        f"expected L0 differs by {err_l0:.1e} (the clamp)")
    # evaluation gate: reference median sigmoid(log α / β) stretched and clipped; lottery_lab the paper's σ(log α)
    med = (torch.sigmoid(la / beta) * (zeta - gamma) + gamma).clamp(0, 1)
    det = hc.deterministic(la)
    row("l0 (test-time gate)", CONSTRAINED, "sparse/l0_layers.py (evaluation_gates)",
        "the deterministic gate used when evaluating during the search", False,
        f"the reference takes the median σ(log α/β) stretched, lottery_lab Louizos et al.'s σ(log α): "
        f"max abs. diff {float((med - det).abs().max()):.2f}, same zero set only where both clip "
        f"(tickets are cut from P(z ≠ 0), which agrees)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for check in (check_imp, check_saliency, check_edge_popup, check_cs, check_hard_concrete):
        check()
    if args.json:
        print(json.dumps(ROWS, indent=1))
        return
    print("| method | reference (repository, file) | compared | result | numbers |")
    print("|---|---|---|---|---|")
    for r in ROWS:
        print(f"| `{r['method']}` | {r['reference']} | {r['compared']} | {r['result']} | {r['numbers']} |")
    print(f"\n{len(ROWS)} checks in {time.perf_counter() - t0:.1f} s (one thread, CPU)")


if __name__ == "__main__":
    main()
