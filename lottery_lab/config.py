"""The run's identity: :class:`LotteryConfig`, importable without torch.

Kept apart from :mod:`lottery_lab.lottery` (which re-exports it) so that building the command-line
parser, whose ``run`` options are generated from these fields, imports no torch. Everything heavy
(methods, models, data, train) is imported inside the methods that need it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lottery_lab._choices import DEVICES, OPTIMIZERS, SCHEDULES

if TYPE_CHECKING:
    from lottery_lab.train import TrainConfig

__all__ = ["LotteryConfig", "NOT_HASHED"]

#: Fields the run directory's hash ignores: they do not change what a round computes (``rounds``
#: only says how many rounds to play, so a rerun with more rounds extends the same run).
NOT_HASHED = frozenset({"rounds", "out_dir", "progress", "device", "compile", "checkpoint_s"})


def _help(text: str, default: Any = MISSING, factory: Callable | None = None):
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class LotteryConfig:
    """Everything that defines a lottery run. Fields carry help text in ``metadata["help"]``."""

    method: str = _help("pruning method: one of lottery_lab.methods.names()", "imp")
    method_kw: dict = _help("keyword arguments of the method (e.g. {'prune_fraction': 0.2})", factory=dict)
    model: str = _help("model: one of lottery_lab.models.names()", "mlp")
    model_kw: dict = _help("keyword arguments of the model (e.g. {'width': 0.5})", factory=dict)
    data: str = _help("dataset: one of lottery_lab.data.names() (or a label for tensors given to play)",
                      "mnist5k")
    data_kw: dict = _help("keyword arguments of data.get (e.g. {'split': 'val'})", factory=dict)
    rounds: int = _help("pruning rounds after the dense round 0 (results have rounds + 1 rows)", 5)
    epochs: int = _help("training epochs per round", 10)
    iterations: int | None = _help("training length in optimiser steps (overrides epochs)", None)
    batch_size: int = _help("mini-batch size", 128)
    optimizer: str = _help(f"optimiser: one of {', '.join(OPTIMIZERS)}", "sgd")
    lr: float = _help("learning rate", 0.1)
    momentum: float = _help("SGD momentum", 0.9)
    weight_decay: float = _help("weight decay (L2), never applied to pruned weights", 0.0)
    schedule: str = _help(f"learning-rate schedule: one of {', '.join(SCHEDULES)}", "constant")
    milestones: tuple = _help("step schedule: fractions of training where the lr drops by gamma", (0.5, 0.75))
    gamma: float = _help("step schedule: the lr factor at each milestone", 0.1)
    rewind_iter: int = _help("rewind tickets to the weights at this step of round 0 (0: to the init)", 0)
    reinit: bool = _help("also train each round's mask from fresh random weights (the reinit control)",
                         False)
    seed: int = _help("seeds the init, the data order and every random choice of the method", 0)
    device: str = _help(f"device: one of {', '.join(DEVICES)} (auto: cuda, then mps, then cpu)", "auto")
    amp: bool = _help("bf16 autocast on CUDA (no effect elsewhere)", True)
    compile: bool = _help("torch.compile the model's forward", False)
    out_dir: str | None = _help("where run folders go (None: keep nothing on disk)", "runs")
    progress: bool = _help("show tqdm progress bars", True)
    checkpoint_s: float = _help("seconds between checkpoints inside a phase (taken at epoch ends, and at "
                                "each phase's end; 0: every epoch)", 60.0)

    def __post_init__(self) -> None:
        for name in ("method_kw", "model_kw", "data_kw"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
            try:
                json.dumps(value)
            except TypeError as exc:
                raise TypeError(f"{name}={value!r} must hold JSON values (it is stored in config.json): {exc}")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(f"rounds={self.rounds!r} must be an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed={self.seed!r} must be an integer")
        if isinstance(self.rewind_iter, bool) or not isinstance(self.rewind_iter, int) or self.rewind_iter < 0:
            raise ValueError(f"rewind_iter={self.rewind_iter!r} must be an integer >= 0")
        if not isinstance(self.milestones, (list, tuple)):
            raise TypeError(f"milestones={self.milestones!r} must be a list of fractions of training in (0, 1)")
        self.milestones = tuple(self.milestones)
        from lottery_lab.train import check_flag

        check_flag("reinit", self.reinit)
        self.train_config()  # validates the training fields, naming the bad one (iterations first)
        if self.iterations is not None and self.rewind_iter >= self.iterations:
            raise ValueError(f"rewind_iter={self.rewind_iter} is beyond the training length: it must be < "
                             f"iterations={self.iterations}")
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device={self.device!r} is not supported; use one of {', '.join(DEVICES)}")
        if isinstance(self.checkpoint_s, bool) or not isinstance(self.checkpoint_s, (int, float)) \
                or not 0 <= self.checkpoint_s < float("inf"):
            raise ValueError(f"checkpoint_s={self.checkpoint_s!r} must be a finite number of seconds >= 0")
        if self.out_dir is not None and not isinstance(self.out_dir, (str, Path)):
            raise TypeError(f"out_dir must be a path or None, got {type(self.out_dir).__name__}")
        from lottery_lab import methods

        methods.get(self.method, **self.method_kw)  # unknown method or bad kwargs: errors name them
        from lottery_lab import models

        if self.model not in models.names():
            raise ValueError(f"unknown model={self.model!r}; registered models: {', '.join(models.names())}")
        models.check_options(self.model, self.model_kw)
        from lottery_lab import data as data_lib

        allowed = [p for p in inspect.signature(data_lib.get).parameters if p != "name"]
        unknown = sorted(set(self.data_kw) - set(allowed))
        if unknown:
            raise ValueError(f"data_kw has unknown key(s) {', '.join(unknown)}; data.get accepts: {', '.join(allowed)}")
        if not isinstance(self.data_kw.get("root", ""), (str, type(None))):
            raise TypeError(f"data_kw root={self.data_kw['root']!r} must be a folder path (a string) or None")

    def train_config(self, **overrides: Any) -> TrainConfig:
        """The :class:`~lottery_lab.train.TrainConfig` of this run (``overrides`` replace fields)."""
        from lottery_lab.train import TrainConfig

        kw = dict(epochs=self.epochs, iterations=self.iterations, batch_size=self.batch_size,
                  optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                  weight_decay=self.weight_decay, schedule=self.schedule, milestones=self.milestones,
                  gamma=self.gamma, amp=self.amp, compile=self.compile, progress=self.progress)
        kw.update(overrides)
        return TrainConfig(**kw)

    # records ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready values."""
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        d["out_dir"] = None if self.out_dir is None else str(self.out_dir)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LotteryConfig":
        """The config from :meth:`to_dict` output (or a JSON/CLI dict); unknown keys raise TypeError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TypeError(f"unknown config field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def hashed_fields(self) -> dict[str, Any]:
        """The fields that define the run and differ from their defaults; ``method_kw`` as
        :func:`lottery_lab.methods.hashed_kwargs` resolves it (a changed method default changes it)."""
        from lottery_lab import methods

        out = {}
        for f in fields(self):
            if f.name in NOT_HASHED:
                continue
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if f.name == "method_kw":
                value = methods.hashed_kwargs(self.method, value)
            if f.name == "milestones":
                value, default = list(value), list(default)
            if value != default:
                out[f.name] = value
        return out

    def short_hash(self, data_fingerprint: str | None = None) -> str:
        """10 hex digits of SHA-256 over :meth:`hashed_fields` (and custom data's fingerprint).

        Fields at their defaults are left out (as in OpenLTH), so adding a field with a default keeps
        old run directories valid; a method's arguments are hashed as resolved, less its recorded
        :attr:`~lottery_lab.methods.Method.hash_baseline`, so changing a method default moves its runs
        to new folders instead of silently reusing results computed under the old default.
        """
        payload = self.hashed_fields()
        if data_fingerprint is not None:
            payload["data_fingerprint"] = data_fingerprint
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
