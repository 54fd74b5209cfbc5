"""Allowed values and defaults that torch-free modules (the config, the CLI parser) need."""

from lottery_lab._validation import Interval, ListOf, Options

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")

#: what each training field may be, shared by :class:`lottery_lab.train.TrainConfig` and
#: :class:`lottery_lab.config.LotteryConfig` (:mod:`lottery_lab._validation` constraints)
TRAINING = {
    "epochs": Interval(int, 1),
    "iterations": [Interval(int, 1), None],
    "batch_size": Interval(int, 1),
    "optimizer": Options(OPTIMIZERS),
    "lr": Interval(float, 0, None, closed="neither"),
    "momentum": Interval(float, 0, 1, closed="left"),
    "weight_decay": Interval(float, 0),
    "schedule": Options(SCHEDULES),
    "milestones": ListOf(Interval(float, 0, 1, closed="neither")),
    "gamma": Interval(float, 0, 1, closed="right"),
    "amp": bool,
    "compile": bool,
    "progress": bool,
}

#: compare's target densities, seeds and quick settings (re-exported by lottery_lab.compare)
TARGETS = (0.2, 0.1, 0.05, 0.02)
SEEDS = (0, 1, 2)
QUICK = {"targets": (0.2, 0.05), "seeds": (0,), "epochs": 2}
