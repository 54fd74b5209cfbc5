"""``rvsm``: relaxed variable splitting (Xue & Xin; Dinh & Xin) with an ℓ0, ℓ1 or transformed-ℓ1 penalty.

The weights w are split from a sparse copy u, and the search minimises
f(w) + λ P(u) + (β/2)‖w − u‖². Each step: u = argmin_u λP(u) + (β/2)‖w − u‖² = prox_{λ/β}(w)
(hard threshold for ℓ0, soft for ℓ1, Zhang & Xin's formula for transformed ℓ1 — all from
:mod:`lottery_lab.penalties`), then w ← w − η(∇f(w) + β(w − u)) by the run's optimiser. The ticket is
the support of u.

With ``target_density`` (this project's addition, like ``concave``'s) λ is not fixed: before every
u-step it is set to the value whose prox keeps exactly round(target·kept) weights — the threshold placed
midway between the k-th and (k+1)-th largest |w| and turned into τ = λ/β by the penalty's threshold
formula. For ℓ0 this makes u the projection of w onto the ℓ0 ball (iterative hard thresholding); for
ℓ1 and tℓ1 the shrinkage of the kept weights follows from the same τ. The density u keeps goes from 1
down to the target along Zhu & Gupta's (2017) cubic schedule over the first half of the search and
stays there for the second: asking u for 2 % at the first step pulls 98 % of the weights to 0 at once,
and with the run's SGD (lr 0.1, momentum 0.9 on LeNet-300-100) that diverged within 50 steps.
"""

from __future__ import annotations


import torch
from torch import nn

from lottery_lab.methods.recipe import Recipe
from lottery_lab import penalties
from lottery_lab.penalties import _Ops
from lottery_lab.masks import Mask, kth_smallest
from lottery_lab.methods.base import (Context, Method, Search, check_count, check_fraction,
                                       check_nonnegative, check_positive, register)
from lottery_lab.train import Callback, TrainState


#: τ at which the prox of τ·P starts keeping |w| > t, for the penalties whose threshold inverts in closed form
_TAU_FOR_THRESHOLD = {
    "l1": lambda t, a: t,                                   # soft threshold at τ
    "l0": lambda t, a: t * t / 2,                           # hard threshold at √(2τ)
    "tl1": lambda t, a: torch.where(t <= a / 2, t, (t + a / 2) ** 2 / (2 * a)),  # Zhang & Xin's two regimes
}


#: with ``target_density``: the fraction of the search over which u's density falls from 1 to the target
RAMP = 0.5


def kth_largest_pair(x: torch.Tensor, k: int, selection: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The k-th and (k+1)-th largest entries of the 1-d ``x`` (``None`` for the second when k = len(x)).

    ``selection``: both found in one selection pass (:func:`lottery_lab.masks.kth_smallest`, the faster
    on the CPU); otherwise one ``topk`` of the smaller side (on CUDA ``kthvalue`` runs one block per
    slice, far slower than ``topk`` here). The values are the same either way, ties included.
    """
    n = x.numel()
    if selection:
        if k < n:
            return tuple(kth_smallest(x, n - k + 1, n - k))
        return kth_smallest(x, 1)[0], None
    if k < n - k:  # the k + 1 largest, in descending order
        top = torch.topk(x, k + 1, largest=True, sorted=True).values
        return top[k - 1], top[k]
    low = torch.topk(x, n - k + 1, largest=False, sorted=True).values  # the n - k + 1 smallest, ascending
    return low[n - k], (low[n - k - 1] if k < n else None)


def _by_selection(x: torch.Tensor) -> bool:
    """Whether :meth:`SplitNet.tau_for_density` selects by :func:`~lottery_lab.masks.kth_smallest`
    (on the CPU, where it reads the values on the host: there is no device to wait for) or by ``topk``
    (on a GPU, with no host read)."""
    return x.device.type == "cpu"


def _prox(penalty: penalties.Penalty, w: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``penalty.prox(w, tau)`` for a tensor τ ≥ 0 on ``w``'s device, without prox's check of τ.

    That check reads τ back to the host (a sync per call, twenty a step on ResNet-20); here τ ≥ 0
    by construction: λ/β from validated λ ≥ 0, β > 0, or a threshold formula of |w|.
    """
    z = penalty._prox_pos(_Ops(torch), w.abs(), tau)
    return torch.where(w < 0, -z, z)


class SplitNet(nn.Module):
    """``net`` plus the sparse copies u of its masked weights (buffers, so they are checkpointed).

    ``tau`` is λ/β; with ``target_density`` it is recomputed before every u-step (see the module doc).
    """

    def __init__(self, net: nn.Module, support: Mask, penalty: penalties.Penalty, tau: float,
                 target_density: float | None = None):
        super().__init__()
        self.net = net
        self.names = list(support)
        self.penalty, self.tau, self.target_density = penalty, tau, target_density
        params = dict(net.named_parameters())
        self._ws = [params[n] for n in self.names]
        self._support = [support[n].to(params[n].dtype) for n in self.names]
        self._kept = int(sum(int(s.sum()) for s in self._support))
        if target_density is None:  # τ as a tensor on the weights' device: no host-to-device copy per step
            self.tau = torch.tensor(tau, dtype=self._ws[0].dtype if self._ws else None,
                                    device=self._ws[0].device if self._ws else None)
        for i, w in enumerate(self._ws):
            self.register_buffer(f"u{i}", torch.zeros_like(w))
        self.update_u(None if target_density is None else 1.0)

    @property
    def us(self) -> list[torch.Tensor]:
        return [getattr(self, f"u{i}") for i in range(len(self.names))]

    @torch.no_grad()
    def tau_for_density(self, density: float) -> torch.Tensor:
        """The τ whose prox keeps round(density·kept) of the kept weights (globally)."""
        mags = torch.cat([(w.detach().abs() * s).flatten() for w, s in zip(self._ws, self._support)])
        k = min(self._kept, max(1, round(density * self._kept)))
        kth, next_ = kth_largest_pair(mags, k, selection=_by_selection(mags))
        t = (kth + next_) / 2 if next_ is not None else kth / 2
        return _TAU_FOR_THRESHOLD[self.penalty.name](t, self.penalty.params.get("a", 1.0))

    @torch.no_grad()
    def update_u(self, density: float | None = None) -> None:
        """u = prox_{λ/β}(w) on the kept weights (pruned weights stay 0).

        With a ``target_density``, λ is first set so that u keeps ``density`` of the kept weights
        (the target itself when ``density`` is None).
        """
        if self.target_density is not None:
            self.tau = self.tau_for_density(self.target_density if density is None else density)
        for u, w, s in zip(self.us, self._ws, self._support):
            u.copy_(_prox(self.penalty, w.detach(), self.tau) * s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def ticket(self) -> Mask:
        """The support of u, by the net's parameter names."""
        return {n: (u != 0) & s.bool() for n, u, s in zip(self.names, self.us, self._support)}


class _Coupling(Callback):
    """Adds β(w − u) to the weights' gradients; recomputes u after every step."""

    def __init__(self, net: SplitNet, beta: float):
        self.net, self.beta = net, beta

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        pairs = [(w, u) for w, u in zip(self.net._ws, self.net.us) if w.grad is not None]
        if pairs:
            ws = [w.detach() for w, _ in pairs]
            torch._foreach_add_([w.grad for w, _ in pairs], torch._foreach_sub(ws, [u for _, u in pairs]),
                                alpha=self.beta)

    def after_step(self, state: TrainState) -> None:
        target = self.net.target_density
        if target is None:
            self.net.update_u()
            return
        progress = min(1.0, state.step / max(1.0, RAMP * state.total_steps))
        self.net.update_u(target + (1 - target) * (1 - progress) ** 3)


@register
class RVSM(Method):
    """Relaxed variable splitting: the ticket is the support of u = prox_{λ/β}(w).

    Parameters
    ----------
    lam : λ ≥ 0, the penalty weight on u (ignored when ``target_density`` is set).
    beta : β > 0, the coupling between w and u.
    penalty : ``"l0"``, ``"l1"``, ``"tl1"`` (any :func:`lottery_lab.penalties.names` entry works with
        ``lam``; ``target_density`` needs one of these three).
    target_density : the fraction of kept weights the ticket keeps, in (0, 1): λ is then set before
        every u-step so that u keeps exactly that many (``None``: the fixed ``lam``).
    penalty_kw : the penalty's parameters, e.g. ``{"a": 1.0}`` for ``tl1``.
    epochs : search length in epochs (``None``: the run's training length).
    """

    name = "rvsm"
    recipes = (Recipe(knob="target_density"),)  # how compare reaches a density
    hash_baseline = {"lam": 1e-4, "beta": 1.0, "penalty": "l1", "penalty_kw": None, "target_density": None,
                     "epochs": None}

    def __init__(self, lam: float = 1e-4, beta: float = 1.0, penalty: str = "l1",
                 penalty_kw: dict | None = None, target_density: float | None = None, epochs: int | None = None):
        self.lam, self.beta = check_nonnegative("lam", lam), check_positive("beta", beta)
        self.penalty = penalty
        self.penalty_kw = dict(penalty_kw or {})
        self._penalty = penalties.get(penalty, **self.penalty_kw)
        self.target_density = None if target_density is None else check_fraction("target_density", target_density)
        if self.target_density is not None and self._penalty.name not in _TAU_FOR_THRESHOLD:
            raise ValueError(f"target_density needs penalty 'l0', 'l1' or 'tl1' (a closed-form threshold); "
                             f"got penalty {penalty!r}")
        self.epochs = check_count("epochs", epochs, allow_none=True)

    def search(self, model: nn.Module, mask: Mask, ctx: Context) -> Search:
        net = SplitNet(model, mask, self._penalty, self.lam / self.beta, self.target_density)
        support = {f"net.{n}": mask[n] for n in mask}
        return Search(net, support, [{"params": list(model.parameters())}], [_Coupling(net, self.beta)],
                      self.epochs)

    def scores(self, search: Search | None) -> dict[str, torch.Tensor] | None:
        """u, the sparse copy of the weights, by parameter name."""
        return None if search is None else dict(zip(search.module.names, search.module.us))

    @torch.no_grad()
    def prune(self, model: nn.Module, mask: Mask, ctx: Context, search: Search | None = None) -> Mask:
        return self.searched(search, SplitNet).ticket()
