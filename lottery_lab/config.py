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

from lottery_lab._choices import DEVICES, OPTIMIZERS, SCHEDULES, TRAINING
from lottery_lab._validation import InstanceOf, Interval, check_keywords, invalid, validate, validate_fields

if TYPE_CHECKING:
    from lottery_lab.train import TrainConfig

__all__ = ["LotteryConfig", "NOT_HASHED"]

#: Fields the run directory's hash ignores: they do not change what a round computes (``rounds``
#: only says how many rounds to play, so a rerun with more rounds extends the same run).
NOT_HASHED = frozenset({"rounds", "out_dir", "progress", "device", "compile", "checkpoint_s"})


def _help(text: str, default: Any = MISSING, factory: Callable | None = None, constraints: Any = None):
    metadata = {"help": text} if constraints is None else {"help": text, "constraints": constraints}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _json_dict(name: str, value: dict) -> None:
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"{name}={value!r} must hold JSON values (it is stored in config.json): {exc}") from None


_NAME = InstanceOf(str, label="a registered name (a string)")
_DEVICES = f"one of {', '.join(DEVICES)} or cuda:N"


@dataclass
class LotteryConfig:
    """Everything that defines a lottery run. Fields carry help text in ``metadata["help"]`` and what
    they may be in ``metadata["constraints"]`` (:mod:`lottery_lab._validation`)."""

    method: str = _help("pruning method: one of lottery_lab.methods.names()", "imp", constraints=_NAME)
    method_kw: dict = _help("keyword arguments of the method (e.g. {'prune_fraction': 0.2})", factory=dict,
                            constraints=dict)
    model: str = _help("model: one of lottery_lab.models.names()", "mlp", constraints=_NAME)
    model_kw: dict = _help("keyword arguments of the model (e.g. {'width': 0.5})", factory=dict, constraints=dict)
    data: str = _help("dataset: one of lottery_lab.data.names() (or a label for tensors given to play)",
                      "mnist5k", constraints=_NAME)
    data_kw: dict = _help("keyword arguments of data.get (e.g. {'split': 'val'})", factory=dict, constraints=dict)
    rounds: int = _help("pruning rounds after the dense round 0 (results have rounds + 1 rows)", 5,
                        constraints=Interval(int, 1))
    epochs: int = _help("training epochs per round", 10, constraints=TRAINING["epochs"])
    iterations: int | None = _help("training length in optimiser steps (overrides epochs)", None,
                                   constraints=TRAINING["iterations"])
    batch_size: int = _help("mini-batch size", 128, constraints=TRAINING["batch_size"])
    optimizer: str = _help(f"optimiser: one of {', '.join(OPTIMIZERS)}", "sgd", constraints=TRAINING["optimizer"])
    lr: float = _help("learning rate", 0.1, constraints=TRAINING["lr"])
    momentum: float = _help("SGD momentum", 0.9, constraints=TRAINING["momentum"])
    weight_decay: float = _help("weight decay (L2), never applied to pruned weights", 0.0,
                                constraints=TRAINING["weight_decay"])
    schedule: str = _help(f"learning-rate schedule: one of {', '.join(SCHEDULES)}", "constant",
                          constraints=TRAINING["schedule"])
    milestones: tuple = _help("step schedule: fractions of training where the lr drops by gamma", (0.5, 0.75),
                              constraints=TRAINING["milestones"])
    gamma: float = _help("step schedule: the lr factor at each milestone", 0.1,
                         constraints=TRAINING["gamma"])
    rewind_iter: int = _help("rewind tickets to the weights at this step of round 0 (0: to the init)", 0,
                             constraints=Interval(int, 0))
    reinit: bool = _help("also train each round's mask from fresh random weights (the reinit control)",
                         False, constraints=bool)
    seed: int = _help("seeds the init, the data order and every random choice of the method", 0,
                      constraints=Interval(int))
    device: str = _help(f"device: one of {', '.join(DEVICES)} (auto: cuda, then mps, then cpu)", "auto",
                        constraints=InstanceOf(str, label=_DEVICES))
    amp: bool = _help("bf16 autocast on CUDA (no effect elsewhere)", True, constraints=TRAINING["amp"])
    compile: bool = _help("torch.compile the model's forward", False, constraints=TRAINING["compile"])
    out_dir: str | None = _help("where run folders go (None: keep nothing on disk)", "runs",
                                constraints=[InstanceOf(str, Path, label="a path"), None])
    progress: bool = _help("show tqdm progress bars", True, constraints=TRAINING["progress"])
    checkpoint_s: float = _help("seconds between checkpoints inside a phase (taken at epoch ends, and at "
                                "each phase's end; 0: every epoch)", 60.0, constraints=Interval(float, 0))

    def __post_init__(self) -> None:
        validate_fields(self)  # every field's kind and range, in this order (iterations before rewind_iter)
        for name in ("method_kw", "model_kw", "data_kw"):
            _json_dict(name, getattr(self, name))
        self.milestones = tuple(self.milestones)
        if self.iterations is not None and self.rewind_iter >= self.iterations:
            raise ValueError(f"rewind_iter={self.rewind_iter} is beyond the training length: it must be < "
                             f"iterations={self.iterations}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise invalid("device", self.device, _DEVICES)
        from lottery_lab import methods

        methods.get(self.method, **self.method_kw)  # unknown method or bad kwargs: errors name them
        from lottery_lab import models

        models.check_options(self.model, self.model_kw)  # unknown model or options
        from lottery_lab import data as data_lib

        allowed = [p for p in inspect.signature(data_lib.get).parameters if p != "name"]
        check_keywords("data_kw", self.data_kw, allowed, noun="key")
        root = self.data_kw.get("root")
        if root is not None:
            validate("data_kw root", root, InstanceOf(str, label="a folder path (a string) or None"))

    def check_data(self) -> None:
        """ValueError unless :attr:`data` names a registered dataset: call it where the data will come
        from the registry (``play`` without tensors, ``sweep.run``, the command line) — a config alone
        cannot know, since ``data`` may label tensors given to ``play``."""
        from lottery_lab import data as data_lib

        data_lib.names()  # loads the registry (and plug-ins) before the check
        if self.data not in data_lib._REGISTRY:
            raise invalid("data", self.data, f"one of the registered datasets: {', '.join(data_lib.names())}")

    def train_config(self, **overrides: Any) -> TrainConfig:
        """The :class:`~lottery_lab.train.TrainConfig` of this run (``overrides`` replace fields)."""
        from lottery_lab.train import TrainConfig

        kw = dict(epochs=self.epochs, iterations=self.iterations, optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
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
