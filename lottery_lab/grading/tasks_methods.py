"""Tasks of the related-methods chapter: hard-concrete gates, their expected L0, edge-popup's top-k,
the transformed-ℓ1 threshold and RVSM's u-step."""

from __future__ import annotations

import numpy as np
import torch

from lottery_lab import penalties
from lottery_lab.grading._compare import mask_tensor, numpy_close, tensor_close
from lottery_lab.grading._core import Case, Task
from lottery_lab.methods.topk import n_kept, topk_mask
from lottery_lab.methods.hard_concrete import HardConcrete

#: (beta, gamma, zeta): the paper's defaults and two other stretches
_HC = [(2 / 3, -0.1, 1.1), (0.5, -0.2, 1.05), (1.0, -0.05, 1.3)]


def _log_alpha(rng: np.random.Generator, shape: tuple[int, ...], dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(rng.normal(scale=3.0, size=shape)).to(dtype)


def _gate_cases(rng):
    cases = []
    for (beta, gamma, zeta), shape in zip(_HC + [_HC[0]], [(50,), (4, 6), (3, 2, 5), (1000,)]):
        la = _log_alpha(rng, shape)
        seed = int(rng.integers(1 << 31))
        u = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).clamp(1e-6, 1 - 1e-6)
        expected = HardConcrete(beta, gamma, zeta).sample(la, generator=torch.Generator().manual_seed(seed))
        cases.append(Case((la, u, beta, gamma, zeta), expected,
                          f"log_alpha {tuple(shape)}, beta={beta:.3g}, gamma={gamma}, zeta={zeta}"))
    return cases


def _l0_cases(rng):
    cases = []
    for (beta, gamma, zeta), shape, dtype in zip(_HC + [_HC[0]], [(50,), (4, 6), (3, 2, 5), (1,)],
                                                 [torch.float32, torch.float64, torch.float32, torch.float64]):
        la = _log_alpha(rng, shape, dtype)
        expected = HardConcrete(beta, gamma, zeta).prob_nonzero(la).sum()
        cases.append(Case((la, beta, gamma, zeta), expected,
                          f"log_alpha {tuple(shape)} {str(dtype).replace('torch.', '')}, beta={beta:.3g}, gamma={gamma}, zeta={zeta}"))
    return cases


def _topk_cases(rng):
    cases = []
    for shape, keep in [((20,), 0.3), ((6, 8), 0.5), ((4, 3, 3, 3), 0.1), ((10,), 1.0), ((7, 7), 0.01),
                        ((9,), 0.45)]:
        scores = torch.from_numpy(rng.normal(size=shape)).float()
        k = n_kept(scores.numel(), keep)
        cases.append(Case((scores, keep), topk_mask(scores, keep),
                          f"scores {shape} with negatives, keep={keep} → {k} of {scores.numel()}"))
    return cases


def _tl1_cases(rng):
    cases = []
    for a in (0.5, 1.0, 3.0):
        P = penalties.get("tl1", a=a)
        edge = a / 2  # the τ where the regimes meet: λ = τa/(a+1) = a²/(2(a+1))
        taus = np.sort(np.concatenate([rng.uniform(0.01, edge, 3), rng.uniform(edge, 4 * edge, 3)]))
        cases.append(Case((taus, a), np.asarray(P.threshold(taus)), f"a={a}, tau on both sides of the regime change"))
        tau = float(rng.uniform(0.01, 2.0))
        cases.append(Case((tau, a), np.asarray(P.threshold(tau)), f"a={a}, a single tau={tau:.3g}"))
    return cases


def _rvsm_cases(rng):
    cases = []
    for penalty in ("l1", "l0"):
        for shape, lam, beta in [((30,), 0.05, 1.0), ((5, 4), 0.2, 0.5), ((8,), 0.0, 2.0), ((3, 3, 3), 0.5, 10.0)]:
            w = torch.from_numpy(rng.normal(size=shape)).float()
            tau = lam / beta
            if penalty == "l0":  # keep every |w| away from the hard threshold √(2τ)
                t = (2 * tau) ** 0.5
                w = torch.where((w.abs() - t).abs() < 1e-3, w + 0.01, w)
            expected = penalties.get(penalty).prox(w, tau)
            cases.append(Case((w, lam, beta, penalty), expected, f"penalty={penalty!r}, w {shape}, lam={lam}, beta={beta}"))
    return cases


TASKS = [
    Task("methods.hard_concrete_gate", "a hard-concrete gate z from uniform noise u (Louizos et al. 2018)",
         ("log_alpha", "u", "beta", "gamma", "zeta"), 1,
         "s = σ((log u − log(1 − u) + log α)/β), stretch to s(ζ − γ) + γ, clamp to [0, 1]; use torch ops.",
         _gate_cases, tensor_close(rtol=1e-5, atol=1e-6)),
    Task("methods.expected_l0", "E‖z‖₀ = Σ P(z ≠ 0) = Σ σ(log α − β log(−γ/ζ))",
         ("log_alpha", "beta", "gamma", "zeta"), 1,
         "P(z ≠ 0) = torch.sigmoid(log_alpha − beta·log(−gamma/zeta)); sum it to a 0-d tensor.",
         _l0_cases, tensor_close(rtol=1e-5, atol=1e-6)),
    Task("methods.topk_mask", "edge-popup's forward mask: keep the max(1, round(keep·n)) largest |scores|",
         ("scores", "keep"), 1,
         "rank by |scores| over the whole tensor (flatten, torch.topk), return a 0/1 tensor of scores' shape.",
         _topk_cases, mask_tensor()),
    Task("methods.tl1_threshold", "the transformed-ℓ1 prox threshold t*(τ) (Zhang & Xin, our normalisation)",
         ("tau", "a"), 2,
         "with λ = τa/(a+1): t* = λ(a+1)/a when λ ≤ a²/(2(a+1)), else √(2λ(a+1)) − a/2; elementwise (np.where).",
         _tl1_cases, numpy_close(rtol=1e-9, atol=1e-12)),
    Task("methods.rvsm_u", "RVSM's u-step: u = prox of (λ/β)·P at w, P = ℓ1 (soft) or ℓ0 (hard threshold)",
         ("w", "lam", "beta", "penalty"), 2,
         "τ = λ/β; ℓ1: sign(w)·max(|w| − τ, 0); ℓ0: keep w where |w| > √(2τ), else 0.",
         _rvsm_cases, tensor_close(rtol=1e-6, atol=1e-7)),
]
