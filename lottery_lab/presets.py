"""Full-scale reference settings as named presets, and what a run of them would cost.

``lottery-lab run --preset NAME`` starts from one of these (options given on the command line win);
``--dry-run`` prints the resolved config and :func:`estimate`'s steps and seconds without training.

The IMP presets are OpenLTH's defaults (facebookresearch/open_lth, commit 2ce732f, the
``default_hparams`` of ``models/mnist_lenet.py``, ``models/cifar_resnet.py``,
``models/cifar_vgg.py``; optimiser defaults from ``foundations/hparams.py``, pruning from
``pruning/sparse_global.py``). The ``*_concave`` presets play the concave relaxed mask
(Fracastoro et al. 2025) on the same training settings; see :data:`CONCAVE_NOTE` for which of its
settings the paper fixes and which it does not.

Torch-free: building the command line's parser imports this module; :func:`resolve` and
:func:`estimate` validate through :class:`~lottery_lab.config.LotteryConfig` (which imports torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lottery_lab.config import LotteryConfig

__all__ = ["Preset", "PRESETS", "CPU_IMAGES_PER_S", "GPU_IMAGES_PER_S", "names", "get", "resolve", "estimate"]

OPEN_LTH = "facebookresearch/open_lth@2ce732f"


@dataclass(frozen=True)
class Preset:
    """A named set of :class:`~lottery_lab.config.LotteryConfig` fields, where they come from, and how
    lottery_lab departs from that source."""

    name: str
    fields: dict[str, Any]
    source: str
    notes: tuple[str, ...] = field(default=())


#: OpenLTH's training settings per model (its ``default_hparams``), in LotteryConfig fields.
#: OpenLTH's ``TrainingHparams`` defaults momentum to 0.0 and weight decay to None (none), its
#: ``--levels`` (rounds) has no default: 14 rounds of 20 % reach 0.8**14 = 4.4 % density (round 7: 21 %),
#: the moderate and extreme densities of the paper's headline.
_LENET = {"model": "mlp", "data": "mnist", "epochs": 40, "batch_size": 128, "optimizer": "sgd", "lr": 0.1,
          "momentum": 0.0, "weight_decay": 0.0, "schedule": "constant", "rounds": 14, "rewind_iter": 0}
_CIFAR = {"data": "cifar10", "epochs": 160, "batch_size": 128, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
          "weight_decay": 1e-4, "schedule": "step", "milestones": (0.5, 0.75), "gamma": 0.1, "rounds": 14,
          "rewind_iter": 0}

_COMMON_NOTES = (
    "init: Kaiming-normal weights as OpenLTH; BatchNorm starts at weight 1, bias 0 (OpenLTH: "
    "batchnorm_init='uniform', weights drawn from U(0, 1))",
    "rewinding: to the initialisation (rewind_iter=0), OpenLTH's default (no --rewinding_steps)",
    "pruning: sparse_global, 20 % of the remaining weights per round by one global |theta| ranking over "
    "conv and linear weights (biases and BatchNorm never pruned)",
)
_RESNET_NOTES = (
    "model: lottery_lab's resnet20 has option-A shortcuts (no parameters); OpenLTH's cifar_resnet_20 uses "
    "1x1 conv + BatchNorm shortcuts where the shape changes (3 more prunable tensors), although its comment "
    "says 'No parameters for shortcut connections'",
    "data: CIFAR-10 with random flips and 4-pixel crops (OpenLTH: RandomHorizontalFlip, RandomCrop(32, 4))",
)
_VGG_NOTES = (
    "model: lottery_lab's vgg16 convs have no bias (BatchNorm follows each), OpenLTH's have one; both pool "
    "globally before fc (OpenLTH: AvgPool2d(2) of the 2x2 map)",
    "data: CIFAR-10 with random flips and 4-pixel crops (OpenLTH: RandomHorizontalFlip, RandomCrop(32, 4))",
)

#: What the concave presets take from the paper and what they fill in.
CONCAVE_NOTE = (
    "concave (Fracastoro et al. 2025): alpha=0.01 inside the threshold range the paper names "
    "(alpha in [0.001, 0.1]) and mask_init=0.5 (the paper's mask initialisation); the log penalty. "
    "Not given there in what lottery_lab could read: lambda, the mask's learning rate and the search length "
    "per round for these models -- lam=2e-5 and mask_lr=100 are lottery_lab's defaults, tuned on mnist5k "
    "with LeNet-300-100 at 10 epochs per round, so choose lam on a validation split "
    "(--data-kw '{\"split\": \"val\"}') before trusting a result; the search runs the round's full training "
    "length (epochs=None); the density per round follows from lam and alpha, not from a fixed 20 %."
)
_CONCAVE_KW = {"lam": 2e-5, "alpha": 0.01, "penalty": "log", "mask_lr": 100.0, "mask_init": 0.5}


def _openlth(name: str, fields: dict[str, Any], file: str, output: str, more: tuple[str, ...]) -> Preset:
    return Preset(name, fields, f"{OPEN_LTH} {file} (default_hparams)", _COMMON_NOTES + (output,) + more)


def _concave(base: Preset) -> Preset:
    """The concave mask on ``base``'s model, data and training (its IMP-only notes left out)."""
    f = {**base.fields, "method": "concave", "method_kw": dict(_CONCAVE_KW), "rounds": 5}
    kept = [n for n in base.notes if not n.startswith(("pruning:", "output layer:"))]
    return Preset(base.name + "_concave", f, base.source + " for the training; the method: Fracastoro et al. 2025",
                  tuple(kept) + (CONCAVE_NOTE,))


_IMP = [
    _openlth("mnist_lenet_300_100",
             {**_LENET, "method": "imp", "method_kw": {"prune_fraction": 0.2, "scheme": "open_lth"}},
             "models/mnist_lenet.py",
             "output layer: never pruned (pruning_layers_to_ignore='fc.weight'), though its weights count in "
             "the total of which 20 % is pruned (sparse_global.py)",
             ("data: MNIST, 60,000 training images, no augmentation",)),
    _openlth("cifar_resnet_20",
             {**_CIFAR, "model": "resnet20", "method": "imp",
              "method_kw": {"prune_fraction": 0.2, "scheme": "global"}},
             "models/cifar_resnet.py", "output layer: pruned like every other (no pruning_layers_to_ignore)",
             _RESNET_NOTES),
    _openlth("cifar_vgg_16",
             {**_CIFAR, "model": "vgg16", "method": "imp", "method_kw": {"prune_fraction": 0.2, "scheme": "open_lth"}},
             "models/cifar_vgg.py",
             "output layer: never pruned (pruning_layers_to_ignore='fc.weight'), counted in the total",
             _VGG_NOTES),
]

#: Every preset by name.
PRESETS: dict[str, Preset] = {p.name: p for p in _IMP + [_concave(p) for p in _IMP]}

#: Measured training throughput, images/s at batch 128 on one CPU thread, by (model, input shape)
#: and phase: ``python benchmarks/bench_preset_throughput.py --cpu-time --repeats 3`` (medians; see
#: book/presets.md for the spread and the load). "train" is a round's (re)training, "search" the
#: concave search step. Measured 2026-12-03 on the 2-core machine at load average 9.6-14.4 (the CPU
#: clock counts this process's time only, so the load slows it less than the wall clock).
CPU_IMAGES_PER_S: dict[tuple[str, tuple[int, ...]], dict[str, float]] = {
    ("mlp", (1, 28, 28)): {"train": 48830.4, "search": 25422.9},
    ("resnet20", (3, 32, 32)): {"train": 316.0, "search": 309.1},
    ("vgg16", (3, 32, 32)): {"train": 52.0, "search": 46.9},
    ("conv2", (1, 28, 28)): {"train": 545.1, "search": 378.5},
    ("conv4", (1, 28, 28)): {"train": 299.4, "search": 272.1},
}

#: The same on one GPU: none measured yet (no GPU was at hand), so estimates give ``gpu_s: null``.
GPU_IMAGES_PER_S: dict[tuple[str, tuple[int, ...]], dict[str, float]] = {}

#: Training-set sizes and input shapes of the registered datasets (for estimates without loading them).
TRAIN_SIZES = {"mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000, "cifar100": 50000, "mnist5k": 4000,
               "digits": 1438, "synthetic": 2048}
INPUT_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32),
                "cifar100": (3, 32, 32), "mnist5k": (1, 28, 28), "digits": (1, 8, 8), "synthetic": (32,)}


def names() -> list[str]:
    """The preset names."""
    return list(PRESETS)


def get(name: str) -> Preset:
    """The preset ``name``; ValueError naming the known ones otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"preset name must be a string, got {type(name).__name__}")
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def resolve(name: str, overrides: dict[str, Any] | None = None) -> "LotteryConfig":
    """The :class:`~lottery_lab.config.LotteryConfig` of preset ``name`` with ``overrides`` (config
    fields) replacing its values; fields neither sets keep LotteryConfig's defaults."""
    from lottery_lab.config import LotteryConfig

    preset = get(name)
    if overrides is not None and not isinstance(overrides, dict):
        raise TypeError(f"overrides must be a dict of config fields, got {type(overrides).__name__}")
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in preset.fields.items()}
    values.update(overrides or {})
    return LotteryConfig.from_dict(values)


def _n_train(config: "LotteryConfig") -> int:
    kw = config.data_kw
    if kw.get("n_train") is not None:
        return int(kw["n_train"])
    if config.data not in TRAIN_SIZES:
        raise ValueError(f"estimate: data={config.data!r} has no known training-set size; known: "
                         f"{', '.join(TRAIN_SIZES)} (or give data_kw n_train)")
    n = TRAIN_SIZES[config.data]
    if kw.get("split") == "val":  # the held-out slice leaves training (per class, so about this many)
        n -= round(kw.get("val_fraction", 0.1) * n)
    return n


def estimate(config: "LotteryConfig") -> dict[str, Any]:
    """Optimiser steps and seconds a run of ``config`` takes, from measured throughput.

    Round 0 trains densely for the run's length T; each later round runs the method's search (if it
    has one: its own ``epochs`` or T) and retrains the ticket from ``rewind_iter`` (if the method
    retrains), and the reinit control once more. Seconds are images / (measured images/s) at one CPU
    thread, or on one GPU (the concave search at its measured rate, other searches at the training
    rate); ``None`` where that model and input shape were not measured. Sparse
    tickets are timed as dense (masks do not skip work); the shared dense round 0 of a sweep is
    counted here as the run's own.

    Returns
    -------
    dict with ``steps_per_round`` (a pruning round), ``steps_total`` (round 0 and every round),
    ``cpu_s_1_thread``, ``gpu_s``, and what they rest on: ``n_train``, ``batches_per_epoch``,
    ``search_steps_per_round``, ``cpu_images_per_s``.
    """
    from lottery_lab.config import LotteryConfig
    from lottery_lab import methods

    if not isinstance(config, LotteryConfig):
        raise TypeError(f"config must be a LotteryConfig, got {type(config).__name__}")
    n = _n_train(config)
    per_epoch = math.ceil(n / config.batch_size)
    total = config.iterations if config.iterations is not None else config.epochs * per_epoch
    method = methods.get(config.method, **config.method_kw)
    has_search = type(method).search is not methods.Method.search
    search_epochs = getattr(method, "epochs", None)
    search = 0 if not has_search else (total if search_epochs is None else search_epochs * per_epoch)
    retrain = (total - config.rewind_iter) if type(method).retrain else 0
    per_round = search + retrain * (2 if config.reinit else 1)
    steps_total = total + config.rounds * per_round
    key = (config.model, INPUT_SHAPES.get(config.data, ()))

    def seconds(table: dict) -> float | None:
        rates = table.get(key)
        if rates is None:
            return None
        train_steps = total + config.rounds * retrain * (2 if config.reinit else 1)
        search_rate = rates.get("search", rates["train"]) if config.method == "concave" else rates["train"]
        return config.batch_size * (train_steps / rates["train"] + config.rounds * search / search_rate)

    return {"steps_per_round": per_round, "steps_total": steps_total,
            "cpu_s_1_thread": seconds(CPU_IMAGES_PER_S), "gpu_s": seconds(GPU_IMAGES_PER_S),
            "n_train": n, "batches_per_epoch": per_epoch, "search_steps_per_round": search,
            "cpu_images_per_s": CPU_IMAGES_PER_S.get(key)}
