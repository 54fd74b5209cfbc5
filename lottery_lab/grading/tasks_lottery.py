"""Tasks of the lottery chapter: global magnitude pruning, an IMP round, rewinding, the concave mask's gradient."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lottery_lab import masks, penalties
from lottery_lab.grading._compare import mask_dict, tensor_close, tensor_dict
from lottery_lab.grading._core import Case, Task
from lottery_lab.methods.base import prune_lowest

#: layer shapes of the small networks the cases draw (a LeNet-like MLP, a conv net, one layer)
_ARCHS = {
    "mlp": {"fc1.weight": (12, 20), "fc2.weight": (8, 12), "fc3.weight": (3, 8)},
    "conv": {"conv.weight": (4, 1, 3, 3), "fc.weight": (5, 36)},
    "one layer": {"weight": (6, 7)},
}


def _weights(rng: np.random.Generator, shapes: dict, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Random weights with distinct magnitudes (no ties), layers on different scales."""
    out = {}
    for i, (name, shape) in enumerate(shapes.items()):
        scale = 0.5 + i
        out[name] = torch.from_numpy(rng.normal(scale=scale, size=shape)).to(dtype)
    return out


def _global_cases(rng):
    cases = []
    for arch, dtype in [("mlp", torch.float32), ("conv", torch.float32), ("one layer", torch.float64), ("mlp", torch.float64)]:
        w = _weights(rng, _ARCHS[arch], dtype)
        total = sum(t.numel() for t in w.values())
        for k in sorted({1, int(rng.integers(2, total // 10)), int(rng.integers(total // 3, total - 1))}):
            density = k / total
            ones = {n: torch.ones_like(t, dtype=torch.bool) for n, t in w.items()}
            expected = prune_lowest({n: t.abs() for n, t in w.items()}, ones, 1 - density)
            cases.append(Case((w, density), expected, f"{arch} weights ({dtype}), density={density:.4f} → keep {k} of {total}"))
    return cases


def _imp_cases(rng):
    cases = []
    for arch in ["mlp", "conv", "one layer"]:
        w = _weights(rng, _ARCHS[arch])
        mask = {n: torch.from_numpy(rng.random(t.shape) < rng.uniform(0.3, 0.9)) for n, t in w.items()}
        alive = sum(int(m.sum()) for m in mask.values())
        for n_prune in (1, max(1, alive // 5), alive - 1):
            rate = n_prune / alive
            expected = prune_lowest({n: t.abs() for n, t in w.items()}, mask, rate)
            cases.append(Case((w, mask, rate), expected,
                              f"{arch}, {alive} weights kept, rate={rate:.4f} → prune {n_prune}"))
    return cases


class _Net(nn.Module):
    """inputs → hidden → 3, with a buffer: a state dict holding more than the masked weights."""

    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, 3)
        self.register_buffer("running", torch.zeros(3))


def _rewind_cases(rng):
    cases = []
    for hidden, inputs in [(5, 4), (16, 10), (1, 2)]:
        torch.manual_seed(int(rng.integers(1 << 31)))
        net = _Net(inputs, hidden)
        init = {k: v.clone() for k, v in net.state_dict().items()}
        init["running"] = torch.from_numpy(rng.normal(size=3)).float()
        mask = {n: torch.from_numpy(rng.random(p.shape) < 0.4) for n, p in net.named_parameters() if n.endswith("weight")}
        with torch.no_grad():  # "trained" weights, so that loading init matters
            for p in net.parameters():
                p.add_(1.0)
        masks.rewind(net, init, mask)
        expected = {k: v.clone() for k, v in net.state_dict().items()}
        cases.append(Case((init, mask), expected,
                          f"state dict of a {inputs}-{hidden}-3 MLP with biases and a buffer, masks on the weights"))
    return cases


def _concave_grad_cases(rng):
    cases = []
    for shape, lam, kind in [((6, 5), 0.01, "random m"), ((3, 4, 2), 0.1, "random m"),
                             ((10,), 0.0, "lam=0"), ((4, 4), 0.05, "m with zeros and ones")]:
        theta = torch.from_numpy(rng.normal(size=shape)).float()
        m = torch.from_numpy(rng.random(shape)).float()
        if "zeros" in kind:
            m[torch.from_numpy(rng.random(shape) < 0.3)] = 0.0
            m[torch.from_numpy(rng.random(shape) < 0.3)] = 1.0
        grad_w = torch.from_numpy(rng.normal(size=shape)).float()
        eps = float(rng.uniform(0.05, 0.5))
        expected = grad_w * theta + lam * penalties.get("log", eps=eps).slope(m)
        cases.append(Case((theta, m, grad_w, lam, eps), expected, f"shape {shape}, {kind}, lam={lam}, eps={eps:.3g}"))
    return cases


TASKS = [
    Task("lottery.global_magnitude_mask", "keep the round(density·total) largest |w| across all layers",
         ("weights", "density"), 2,
         "concatenate |w| of every layer, find the k-th largest (torch.topk or torch.sort), keep the weights "
         "at or above it; return a dict of masks shaped like the weights.",
         _global_cases, mask_dict()),
    Task("lottery.imp_prune", "one IMP round: prune round(rate·kept) of the kept weights, smallest |w| globally",
         ("weights", "mask", "rate"), 2,
         "rank only the weights the mask keeps (pruned ones must stay pruned), globally across layers.",
         _imp_cases, mask_dict()),
    Task("lottery.rewind", "the ticket at initialisation: θ₀ ⊙ m for masked weights, everything else from θ₀",
         ("init_state", "mask"), 1,
         "start from a copy of init_state; multiply only the entries named in mask; keep biases and buffers.",
         _rewind_cases, tensor_dict()),
    Task("lottery.concave_mask_grad",
         "∂/∂m of L(θ ⊙ m) + λ Σ R(m) with R the log penalty, given ∂L/∂w at w = θ ⊙ m",
         ("theta", "m", "grad_w", "lam", "eps"), 2,
         "chain rule: ∂L/∂m = ∂L/∂w ⊙ θ; add λ·ε/(ε + m) (m ≥ 0, so no sign).",
         _concave_grad_cases, tensor_close(rtol=1e-5, atol=1e-6)),
]
