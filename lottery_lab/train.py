"""One training loop with callbacks; device and autocast selection; evaluation.

The loop is deliberately plain: cross-entropy on mini-batches from a device-resident iterator, SGD or
Adam, a constant, step or cosine learning-rate schedule evaluated at the global step, masks kept
exact (the weights masked after every step), a NaN/inf guard at every epoch end and an
optional tqdm bar. Everything else — penalties, projections, rewinding snapshots, checkpoints — is
a :class:`Callback`, so the loop itself never changes when a method is added.

Resume: :meth:`TrainState.state_dict` holds everything the rest of the run depends on (weights,
optimiser, step, the batch generator's and the global RNG's states), so ``train(...,
resume=state_dict)`` continues bit-identically on the CPU.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "TrainConfig", "TrainState", "TrainResult", "Callback", "TrainingDiverged", "select_device",
    "autocast_dtype", "lr_factor", "ForeachSGD", "make_optimizer", "train", "evaluate", "OPTIMIZERS", "SCHEDULES",
]

from lottery_lab._choices import DEVICES, OPTIMIZERS, SCHEDULES, TRAINING  # noqa: E402,F401  (torch-free home)
from lottery_lab._validation import validate_fields  # noqa: E402
from lottery_lab.masks import Masker  # noqa: E402
# the checks by name, for callers that import them from here (their home is lottery_lab._validation)
from lottery_lab._validation import check_flag, check_int, check_real  # noqa: E402,F401


# ---------------------------------------------------------------------------------------- devices

def _pick_device(name: str, cuda: bool, mps: bool) -> str:
    """The device type for ``name`` given what is available (pure: the logic behind select_device)."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"device={name!r} is not supported; use one of {', '.join(DEVICES)} (or 'cuda:N')")
    if name == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if name.startswith("cuda") and not cuda:
        raise ValueError(f"device={name!r} was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    if name == "mps" and not mps:
        raise ValueError("device='mps' was asked for but MPS is not available here; use 'auto' or 'cpu'")
    return name


def select_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``: ``"auto"`` picks CUDA, then MPS, then the CPU.

    Called once per run; the device is then passed down (data, model, masks all live there).
    """
    mps = getattr(torch.backends, "mps", None)
    return torch.device(_pick_device(name, torch.cuda.is_available(), bool(mps and mps.is_available())))


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """bf16 when ``amp`` is on and the device is CUDA; ``None`` (no autocast) anywhere else."""
    return torch.bfloat16 if amp and device.type == "cuda" else None


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


#: fp32 matmuls on CUDA (``amp=False``, or ops autocast keeps in fp32): TF32 ("high"), as cuDNN already
#: does for fp32 convolutions by default; bf16 autocast is the lower-precision choice already made
CUDA_MATMUL_PRECISION = "high"


@contextlib.contextmanager
def _matmul_precision(device: torch.device):
    """:data:`CUDA_MATMUL_PRECISION` while training or evaluating on CUDA; the caller's setting after."""
    if device.type != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(CUDA_MATMUL_PRECISION)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


# ----------------------------------------------------------------------------------------- config

def _checked(name: str, default: Any) -> Any:
    return field(default=default, metadata={"constraints": TRAINING[name]})


@dataclass
class TrainConfig:
    """How to train one network (one phase of one round) on the mini-batches it is given.

    ``iterations`` (optimiser steps), when given, overrides ``epochs``. Step schedule: the learning
    rate is multiplied by ``gamma`` at each fraction of training in ``milestones``. The batch size
    is the batches' own (:class:`lottery_lab.data.Batches`), not a training setting.
    """

    epochs: int = _checked("epochs", 10)
    iterations: int | None = _checked("iterations", None)
    optimizer: str = _checked("optimizer", "sgd")
    lr: float = _checked("lr", 0.1)
    momentum: float = _checked("momentum", 0.9)
    weight_decay: float = _checked("weight_decay", 0.0)
    schedule: str = _checked("schedule", "constant")
    milestones: tuple[float, ...] = _checked("milestones", (0.5, 0.75))
    gamma: float = _checked("gamma", 0.1)
    amp: bool = _checked("amp", True)
    compile: bool = _checked("compile", False)
    progress: bool = _checked("progress", True)

    def __post_init__(self) -> None:
        validate_fields(self)
        self.milestones = tuple(float(m) for m in self.milestones)

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps in the whole phase."""
        return self.iterations if self.iterations is not None else self.epochs * steps_per_epoch


def lr_factor(config: TrainConfig, step: int, total: int) -> float:
    """The schedule's multiplier of the base learning rate at global ``step`` of ``total``."""
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total))
    if config.schedule == "step":
        return config.gamma ** sum(step >= m * total for m in config.milestones)
    return 1.0


def _use_fused(groups: Sequence[Mapping[str, Any]]) -> bool:
    """Fused optimiser kernels (one for the whole update) when every parameter is on CUDA, where torch's
    default is ``foreach`` (several kernels per step); elsewhere torch's default."""
    return bool(groups) and all(p.is_cuda for g in groups for p in g["params"])


class ForeachSGD:
    """SGD with torch.optim.SGD's arithmetic, grouping and ``state_dict`` format, without its start-up cost.

    Building the first ``torch.optim`` optimizer imports ``torch._dynamo`` (≈ 1 s, issue 14); this class
    does the same update with ``_foreach`` ops (per element: ``g += wd·p``; ``b = g`` on the first step,
    else ``b = μ·b + (1 − dampening)·g``; ``g = g + μ·b`` with Nesterov, else ``g = b``; ``p -= lr·g``),
    bit-identical to torch's CPU SGD (tests/test_train.py checks it), and its state dicts load into
    ``torch.optim.SGD`` and back, so a checkpoint resumes with either.
    """

    _DEFAULTS = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False,
                 "foreach": None, "differentiable": False, "fused": None}

    def __init__(self, params: Iterable, lr: float, **defaults: Any):
        unknown = sorted(set(defaults) - set(self._DEFAULTS))
        if unknown:
            raise TypeError(f"ForeachSGD got unknown options {unknown}; allowed: {', '.join(self._DEFAULTS)}")
        self.defaults = {"lr": lr, **self._DEFAULTS, **defaults}
        params = list(params)
        if params and not isinstance(params[0], Mapping):
            params = [{"params": params}]
        self.param_groups: list[dict[str, Any]] = []
        for g in params:
            g = {**self.defaults, **g}
            g["params"] = [g["params"]] if isinstance(g["params"], torch.Tensor) else list(g["params"])
            self.param_groups.append(g)
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One SGD update of every parameter that has a gradient."""
        for g in self.param_groups:
            params = [p for p in g["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if g["maximize"]:
                grads = torch._foreach_neg(grads)
            if g["weight_decay"] != 0:
                grads = torch._foreach_add(grads, params, alpha=g["weight_decay"])
            momentum = g["momentum"]
            if momentum != 0:
                bufs = [self.state.get(p, {}).get("momentum_buffer") for p in params]
                if all(b is not None for b in bufs):
                    torch._foreach_mul_(bufs, momentum)
                    torch._foreach_add_(bufs, grads, alpha=1 - g["dampening"])
                else:
                    for i, (p, b) in enumerate(zip(params, bufs)):
                        if b is None:
                            bufs[i] = grads[i].detach().clone()
                        else:
                            b.mul_(momentum).add_(grads[i], alpha=1 - g["dampening"])
                        self.state.setdefault(p, {})["momentum_buffer"] = bufs[i]
                grads = torch._foreach_add(grads, bufs, alpha=momentum) if g["nesterov"] else bufs
            torch._foreach_add_(params, grads, alpha=-g["lr"])

    def state_dict(self) -> dict[str, Any]:
        """torch.optim.Optimizer's format: groups with parameter indices, state keyed by index."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (or torch.optim.SGD's): hyperparameters and momentum buffers."""
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("state_dict's parameter groups do not match this optimizer's (sizes differ)")
        params = [p for g in self.param_groups for p in g["params"]]
        for g, s in zip(self.param_groups, saved):
            g.update({k: v for k, v in s.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: v.to(device=p.device, dtype=p.dtype) if isinstance(v, torch.Tensor) else v
                             for k, v in s.items()}


def make_optimizer(param_groups: Sequence[Mapping[str, Any]],
                   config: TrainConfig) -> torch.optim.Optimizer | ForeachSGD:
    """SGD (with momentum) or Adam/AdamW over ``param_groups``; a group's own ``lr``/``weight_decay`` win.

    SGD is torch's fused kernel when every parameter is on CUDA, else :class:`ForeachSGD`."""
    groups = []
    for g in param_groups:
        g = dict(g)
        g["params"] = [g["params"]] if isinstance(g["params"], torch.Tensor) else list(g["params"])
        g.setdefault("lr", config.lr)
        g.setdefault("weight_decay", config.weight_decay)
        g["initial_lr"] = g["lr"]
        groups.append(g)
    fused = {"fused": True} if _use_fused(groups) else {}
    if config.optimizer == "sgd":
        if not fused:  # off CUDA: the same update without torch.optim's import of torch._dynamo
            return ForeachSGD(groups, lr=config.lr, momentum=config.momentum)
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, **fused)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=config.lr, **fused)


# -------------------------------------------------------------------------------------- callbacks

class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


class Callback:
    """Hooks into :func:`train`; override only what you need.

    Order within a step: forward → ``on_loss`` (may add a penalty to the loss) → backward →
    ``after_backward`` (may edit gradients) → optimiser step → masks applied to weights →
    ``after_step`` (projections, snapshots). State a callback needs across a
    resume must live in the trained module (parameters or buffers), which is checkpointed.
    """

    def on_train_start(self, state: "TrainState") -> None:
        """Before the first step (also after a resume)."""

    def on_loss(self, state: "TrainState", loss: torch.Tensor) -> torch.Tensor:
        """Return the loss to differentiate (default: unchanged)."""
        return loss

    def after_backward(self, state: "TrainState") -> None:
        """After ``backward()``, before the optimiser steps (gradients of pruned weights not yet zero)."""

    def after_step(self, state: "TrainState") -> None:
        """After the optimiser step and the mask re-application; ``state.step`` already counts it."""

    def on_epoch_end(self, state: "TrainState") -> None:
        """After an epoch (and after the NaN guard): a safe place for a checkpoint."""

    def on_train_end(self, state: "TrainState") -> None:
        """After the last step."""


@dataclass
class TrainState:
    """What callbacks see: the model, the optimiser and where training stands."""

    model: nn.Module
    optimizer: torch.optim.Optimizer | ForeachSGD
    generator: torch.Generator | None
    total_steps: int
    steps_per_epoch: int
    step: int = 0
    epoch_loss: float = float("nan")
    elapsed: float = 0.0
    round_index: int | None = None
    phase: str = "train"

    @property
    def epoch(self) -> int:
        """Epochs completed (0-based index of the current epoch)."""
        return self.step // self.steps_per_epoch

    def state_dict(self) -> dict:
        """Everything needed to resume at this point (call at an epoch end)."""
        out = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch_loss": self.epoch_loss,
            "elapsed": self.elapsed,
            "rng": torch.get_rng_state(),
        }
        if self.generator is not None:
            out["generator"] = self.generator.get_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            out["cuda_rng"] = torch.cuda.get_rng_state_all()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`. Load it on the CPU (``torch.load(map_location="cpu")``) whatever
        the model's device: the RNG states must stay CPU byte tensors, and ``load_state_dict`` places
        the model's and optimiser's tensors (Adam's ``step`` counters stay on the CPU)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.epoch_loss = float(state["epoch_loss"])
        self.elapsed = float(state["elapsed"])
        torch.set_rng_state(state["rng"])
        if self.generator is not None:
            self.generator.set_state(state["generator"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


@dataclass
class TrainResult:
    """``train_loss``: mean mini-batch loss (without penalties) over the last epoch."""

    train_loss: float
    steps: int
    elapsed: float


# ------------------------------------------------------------------------------------------- loop

def _skip(it, n: int) -> None:
    for _ in range(n):
        next(it)


def train(
    model: nn.Module,
    batches: Iterable,
    config: TrainConfig,
    *,
    masks: Mapping[str, torch.Tensor] | None = None,
    callbacks: Sequence[Callback] = (),
    param_groups: Sequence[Mapping[str, Any]] | None = None,
    generator: torch.Generator | None = None,
    seed: int = 0,
    start_step: int = 0,
    resume: Mapping[str, Any] | None = None,
    round_index: int | None = None,
    phase: str = "train",
    group=None,
) -> TrainResult:
    """Train ``model`` in place on ``batches`` (an iterable of one epoch of ``(x, y)``, with ``len``).

    Parameters
    ----------
    masks : parameter name -> mask; pruned weights stay exactly zero and get no update.
    callbacks : :class:`Callback` hooks (penalties, projections, snapshots, checkpoints).
    param_groups : optimiser groups (default: all of ``model``'s parameters at ``config.lr``).
    generator : the generator ``batches`` draws its order from; saved and restored on resume.
    seed : seeds the global RNG for this phase (dropout and the like), inside a forked RNG scope
        so the caller's global RNG state is untouched.
    start_step : global step to start at (late rewinding: a ticket trains steps k..T; the batches of
        steps < k are drawn and skipped so the data order matches an uninterrupted run).
    resume : a :meth:`TrainState.state_dict` taken at an epoch end; training continues from it.
    round_index, phase : named in the progress bar and in the divergence error.
    group : a :class:`lottery_lab.distributed.World` to train as one of its ranks: each global batch
        is split over the ranks and the gradients averaged (DDP); ``None``: this process alone.
    """
    steps_per_epoch = len(batches)  # type: ignore[arg-type]
    if steps_per_epoch < 1:
        raise ValueError("batches is empty: need at least one mini-batch per epoch")
    total = config.total_steps(steps_per_epoch)
    if not 0 <= start_step <= total:
        raise ValueError(f"start_step={start_step} must lie in [0, {total}] (the training length in steps)")
    device = next(model.parameters()).device
    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    optimizer = make_optimizer(groups, config)
    state = TrainState(model, optimizer, generator, total, steps_per_epoch, step=start_step,
                       round_index=round_index, phase=phase)
    masker = Masker(model, masks)
    amp = autocast_dtype(device, config.amp)
    # a process group (lottery_lab.distributed.World): each rank its slice of the batch, gradients averaged by DDP
    net_model = model if group is None else group.wrap(model)
    forward = torch.compile(net_model) if config.compile else net_model
    where = f"round {round_index}, " if round_index is not None else ""
    rng_devices = [device.index or 0] if device.type == "cuda" else []

    with torch.random.fork_rng(devices=rng_devices), _matmul_precision(device):
        torch.manual_seed(seed)
        if resume is not None:
            state.load_state_dict(resume)
        else:
            masker.apply()
        for cb in callbacks:
            cb.on_train_start(state)
        model.train()
        bar = _progress(config.progress, total, state.step, f"{where}{phase}")
        t0 = time.perf_counter() - state.elapsed
        fresh_start = resume is None
        full_batch = 0
        try:
            while state.step < total:
                epoch = state.step // steps_per_epoch
                if fresh_start:  # late rewinding: draw (and drop) the batches of steps < k
                    for _ in range(epoch):
                        _skip(iter(batches), steps_per_epoch)
                    it = iter(batches)
                    _skip(it, state.step % steps_per_epoch)
                    fresh_start = False
                else:
                    it = iter(batches)
                loss_sum = torch.zeros((), device=device)
                n = 0
                for xb, yb in it:
                    if group is not None:
                        xb, yb, share = group.shard(xb, yb)
                    # under compile, a batch smaller than the largest seen (an epoch's last) runs eagerly:
                    # a new batch size would recompile the forward
                    full_batch = max(full_batch, len(xb))
                    net = forward if len(xb) == full_batch else net_model
                    factor = lr_factor(config, state.step, total)
                    for g in optimizer.param_groups:
                        g["lr"] = g["initial_lr"] * factor
                    with _autocast(device, amp):
                        loss = F.cross_entropy(net(xb), yb)
                    objective = loss
                    for cb in callbacks:
                        objective = cb.on_loss(state, objective)
                    if group is not None:  # the ranks' mean is then the global batch's gradient
                        objective = objective * (share * group.size)
                    optimizer.zero_grad(set_to_none=True)
                    objective.backward()
                    for cb in callbacks:
                        cb.after_backward(state)
                    optimizer.step()
                    masker.apply()
                    state.step += 1
                    loss_sum += loss.detach().float() if group is None else loss.detach().float() * share
                    n += 1
                    for cb in callbacks:
                        cb.after_step(state)
                    bar.update(1)
                    if state.step >= total:
                        break
                if group is not None:
                    loss_sum = group.all_sum(loss_sum)
                state.epoch_loss = float(loss_sum) / max(n, 1)
                if not math.isfinite(state.epoch_loss):
                    raise TrainingDiverged(
                        f"training diverged in {where}epoch {epoch + 1} ({phase}): the mean loss is "
                        f"{state.epoch_loss}; lower the learning rate (lr={config.lr}) or check the data"
                    )
                bar.set_postfix(loss=f"{state.epoch_loss:.4f}", refresh=False)
                state.elapsed = time.perf_counter() - t0
                for cb in callbacks:
                    cb.on_epoch_end(state)
            state.elapsed = time.perf_counter() - t0
            if group is not None:
                group.settle(model, f"{where}{phase}")
            for cb in callbacks:
                cb.on_train_end(state)
        finally:
            bar.close()
    return TrainResult(state.epoch_loss, state.step, state.elapsed)


def _progress(enabled: bool, total: int, initial: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, leave=False, unit="step")


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             amp: bool = True) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` of ``model`` on ``(X, y)``, in eval mode, in batches."""
    if len(X) != len(y) or len(y) == 0:
        raise ValueError(f"X has {len(X)} rows and y has {len(y)} labels: need the same, non-zero number")
    was_training = model.training
    model.eval()
    dtype = autocast_dtype(X.device, amp)
    correct = torch.zeros((), device=X.device)
    loss = torch.zeros((), device=X.device, dtype=torch.float64)
    for i in range(0, len(y), batch_size):
        xb, yb = X[i:i + batch_size], y[i:i + batch_size]
        with _autocast(X.device, dtype), _matmul_precision(X.device):
            out = model(xb)
        out = out.float()
        loss += F.cross_entropy(out, yb, reduction="sum").double()
        correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    n = len(y)
    return float(correct) / n, float(loss) / n
