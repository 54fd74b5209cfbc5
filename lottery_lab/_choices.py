"""Allowed values and defaults that torch-free modules (the config, the CLI parser) need."""

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")

#: compare's target densities, seeds and quick settings (re-exported by lottery_lab.compare)
TARGETS = (0.2, 0.1, 0.05, 0.02)
SEEDS = (0, 1, 2)
QUICK = {"targets": (0.2, 0.05), "seeds": (0,), "epochs": 2}
