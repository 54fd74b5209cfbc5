"""The lottery: rounds of find-a-mask → rewind → retrain, recorded round by round.

>>> from lottery_lab.lottery import LotteryConfig, play
>>> result = play(LotteryConfig(method="imp", rounds=3, epochs=2, out_dir=None, progress=False))  # doctest: +SKIP
>>> print(result.table())  # doctest: +SKIP

Round 0 trains the dense network from θ₀ (seeded), and the weights θ_k at iteration ``rewind_iter``
of that training are kept (k = 0: θ₀, Frankle & Carbin's reset; k > 0: late rewinding). Each later
round r: the method finds a mask from round r − 1's trained ticket (IMP: its magnitudes; concave: a
search that trains θ and a relaxed mask), the surviving weights are rewound to θ_k, and the ticket
trains steps k … T − 1 of the same schedule and data order as round 0. With ``reinit=True`` every
round's mask is also trained from fresh random weights (the reinitialisation control: same mask,
same steps), recorded as ``reinit_acc``/``reinit_loss``.

All randomness is derived from ``seed`` through explicit generators (see :func:`derive_seed`), and
every phase checkpoints at an epoch end once ``checkpoint_s`` seconds have passed since its last
checkpoint, and at its end, so a rerun of the same config resumes where it stopped and ends
bit-identical (on the CPU) to an uninterrupted run. On a GPU a resumed run continues from the same
weights, optimiser state, data order and RNG states, but cuDNN and bf16 kernels are not bitwise
reproducible, so it agrees with an uninterrupted run statistically, not bit for bit. A run folder is
locked while :func:`play` writes to it: a second process on the same config waits, then reuses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from lottery_lab import distributed
from lottery_lab import masks as masks_lib
from lottery_lab import methods
from lottery_lab.runs import LotteryResult, RunStore, load  # noqa: F401  (re-exported)
from lottery_lab.config import NOT_HASHED, LotteryConfig  # noqa: F401  (re-exported; torch-free module)
from lottery_lab.train import Callback, TrainConfig, TrainState, select_device, train

__all__ = ["LotteryConfig", "LotteryResult", "play", "load", "derive_seed", "run_dir"]

log = logging.getLogger("lottery_lab")

def derive_seed(seed: int, *tags: Any) -> int:
    """A 63-bit seed for one use (``tags``: e.g. ``("data",)``, ``("prune", 3)``) derived from ``seed``."""
    text = "/".join(str(t) for t in (seed, *tags))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def _generator(seed: int, *tags: Any) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, *tags))


def _fingerprint(ds) -> str:
    h = hashlib.sha256()
    for t in (ds.X_train, ds.y_train, ds.X_test, ds.y_test):
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


#: The last registry datasets this process loaded (at most 2, each at most 64 MB), by name, loader and
#: ``data_kw``: a sweep's worker or ``compare`` plays many runs on one dataset, and loading and
#: normalising it again took ≈ 35 ms a run on mnist5k. Only lottery_lab's own loaders are kept (they
#: are deterministic); runs never write into their data.
_DATA_CACHE: "OrderedDict[tuple, Any]" = OrderedDict()
_DATA_CACHE_SIZE, _DATA_CACHE_BYTES = 2, 64 << 20


def _registry_dataset(name: str, data_kw: dict):
    from lottery_lab import data as data_lib

    loader = data_lib._REGISTRY.get(name)
    if not getattr(loader, "__module__", "").startswith("lottery_lab."):
        return data_lib.get(name, **data_kw)
    key = (name, loader, json.dumps(data_kw, sort_keys=True, default=str))
    if key in _DATA_CACHE:
        _DATA_CACHE.move_to_end(key)
        return _DATA_CACHE[key]
    ds = data_lib.get(name, **data_kw)
    if sum(t.nbytes for t in (ds.X_train, ds.y_train, ds.X_test, ds.y_test)) <= _DATA_CACHE_BYTES:
        _DATA_CACHE[key] = ds
        while len(_DATA_CACHE) > _DATA_CACHE_SIZE:
            _DATA_CACHE.popitem(last=False)
    return ds


def _dataset(config: LotteryConfig, data):
    """(dataset, fingerprint): the registry dataset, or the given tensors/Dataset (fingerprinted)."""
    from lottery_lab import data as data_lib

    if data is None:
        return _registry_dataset(config.data, config.data_kw), None
    if isinstance(data, data_lib.Dataset):
        return data, _fingerprint(data)
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise TypeError("data must be None, a Dataset, or a tuple (X_train, y_train, X_test, y_test)")
    ds = data_lib.from_tensors(*data, name=config.data)
    return ds, _fingerprint(ds)


def run_dir(config: LotteryConfig, data=None) -> Path | None:
    """Where ``play(config, data)`` keeps its records (``None`` when ``config.out_dir`` is None)."""
    if config.out_dir is None:
        return None
    fingerprint = None if data is None else _dataset(config, data)[1]
    return Path(config.out_dir) / f"{config.method}-{config.short_hash(fingerprint)}"


# ------------------------------------------------------------------------------------ callbacks

class _Checkpoint(Callback):
    """Checkpoints the phase at an epoch end once ``interval`` seconds have passed, and at its end."""

    def __init__(self, store: RunStore, r: int, phase: str, interval: float):
        self.store, self.r, self.phase, self.interval = store, r, phase, interval
        self.last = time.monotonic()

    def on_train_start(self, state: TrainState) -> None:
        self.last = time.monotonic()

    def on_epoch_end(self, state: TrainState) -> None:
        now = time.monotonic()
        if state.step >= state.total_steps or now - self.last >= self.interval:
            self.store.save_checkpoint(self.r, self.phase, state.state_dict())
            self.last = time.monotonic()


class _Snapshot(Callback):
    """Keeps θ_k: the model's state after ``step`` optimiser steps."""

    def __init__(self, step: int, keep: Callable[[dict], None]):
        self.step, self.keep = step, keep

    def after_step(self, state: TrainState) -> None:
        if state.step == self.step:
            self.keep(state.model.state_dict())


# ---------------------------------------------------------------------------------------- play

@torch.no_grad()
def _check_model_fits(model: nn.Module, ds, config: LotteryConfig) -> None:
    """One forward pass of two training examples (eval mode: no statistics or RNG touched), so a
    model that does not fit the data fails with a message before any file is written."""
    was_training = model.training
    model.eval()
    try:
        out = model(ds.X_train[:2])
    except RuntimeError as exc:
        raise ValueError(f"model={config.model!r} (model_kw={config.model_kw}) does not fit data={config.data!r} "
                         f"(inputs of shape {tuple(ds.input_shape)}): {str(exc).splitlines()[0]}") from None
    finally:
        model.train(was_training)
    if out.shape[-1] != ds.num_classes:
        raise ValueError(f"model={config.model!r} gives {out.shape[-1]} outputs for data={config.data!r} "
                         f"with {ds.num_classes} classes")


class _Run:
    """The state of one :func:`play` call (kept together so each round's code reads as the paper)."""

    def __init__(self, config: LotteryConfig, data):
        from lottery_lab import data as data_lib

        self.config = config
        self.device = distributed.local_device(select_device(config.device))
        self.world = distributed.world()  # under torchrun: one run across the group's processes
        ds, fingerprint = _dataset(config, data)
        self.ds = ds.to(self.device)
        self.channels_last = self.ds.X_train.ndim == 4  # images: NHWC convolutions are faster
        if self.channels_last:
            self.ds = replace(self.ds, X_train=self.ds.X_train.contiguous(memory_format=torch.channels_last),
                              X_test=self.ds.X_test.contiguous(memory_format=torch.channels_last))
        self.method = methods.get(config.method, **config.method_kw)
        self.train_cfg = config.train_config()
        self.data_gen = torch.Generator()
        self.batches = data_lib.Batches(self.ds.X_train, self.ds.y_train, config.batch_size, shuffle=True,
                                        augment=self.ds.augment, generator=self.data_gen)
        self.total = self.train_cfg.total_steps(len(self.batches))
        if self.world is not None:
            distributed.check_batches(len(self.ds.y_train), config.batch_size, self.world.size)
        if config.rewind_iter >= self.total:
            raise ValueError(
                f"rewind_iter={config.rewind_iter} is beyond the training length: it must be < "
                f"{self.total} steps ({config.epochs} epochs x {len(self.batches)} batches"
                f"{'' if config.iterations is None else f', or iterations={config.iterations}'})")
        try:
            self.model = self.fresh_model("init")
        except (TypeError, ValueError) as exc:  # options of the right names but the wrong kind
            raise ValueError(f"model={config.model!r} cannot be built with model_kw={config.model_kw}: {exc}") from None
        _check_model_fits(self.model, self.ds, config)  # before the run folder exists
        folder = None if config.out_dir is None else Path(config.out_dir) / (
            f"{config.method}-{config.short_hash(fingerprint)}")
        self.store = distributed.run_store(folder, self.device, action="play recomputes it now")
        self.record = {"config": config.to_dict(), "hash": config.short_hash(fingerprint),
                       "hashed": config.hashed_fields(), "data_fingerprint": fingerprint}
        self.extra = ("rewind.pt",)

    def fresh_model(self, *tags: Any) -> nn.Module:
        """A newly initialised model, seeded from the run's seed and ``tags``, on the run's device."""
        from lottery_lab import models

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.config.seed, *tags))
            model = models.get(self.config.model, input_shape=self.ds.input_shape,
                               num_classes=self.ds.num_classes, **self.config.model_kw)
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def fit(self, model: nn.Module, r: int, phase: str, mask, *, start_step: int = 0,
            callbacks: Sequence[Callback] = (), param_groups=None, batches=None, generator=None,
            train_cfg: TrainConfig | None = None):
        """Train one phase of round ``r``, resuming from its epoch checkpoint when there is one."""
        if generator is None:
            generator = self.data_gen
            generator.manual_seed(derive_seed(self.config.seed, "data"))
        resume = self.store.load_checkpoint(r, phase)
        if resume is not None:
            log.info("resuming round %d (%s) at step %d from its checkpoint", r, phase, resume["step"])
        return train(model, self.batches if batches is None else batches, train_cfg or self.train_cfg, masks=mask,
                     callbacks=[*callbacks, _Checkpoint(self.store, r, phase, self.config.checkpoint_s)],
                     param_groups=param_groups,
                     generator=generator, seed=derive_seed(self.config.seed, "train", r, phase),
                     start_step=start_step, resume=resume, round_index=r, phase=phase, group=self.world)

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        return distributed.evaluate(model, self.ds.X_test, self.ds.y_test, amp=self.config.amp)

    # the rounds ------------------------------------------------------------------------------
    def round0(self) -> dict:
        """Round 0 from the shared dense round under ``out_dir`` (trained there first if needed)."""
        from lottery_lab import dense_round as dense

        return dense.round0(self)

    def train_round0(self) -> dict:
        """Train the dense network from θ₀, keeping θ_k."""
        store, k = self.store, self.config.rewind_iter
        mask = masks_lib.ones_like(self.model)
        store.save(0, "mask.pt", mask)
        if k == 0:
            store.save(0, "rewind.pt", self.model.state_dict())
        else:  # a checkpoint past step k is useless without the θ_k it should have written
            ckpt = store.load_checkpoint(0, "train")
            if ckpt is not None and ckpt["step"] >= k and store.load(0, "rewind.pt") is None:
                store.remove(0, "ckpt_train.pt")
        snapshot = [_Snapshot(k, lambda sd: store.save(0, "rewind.pt", sd))] if k > 0 else []
        result = self.fit(self.model, 0, "train", mask, callbacks=snapshot)
        acc, loss = self.evaluate(self.model)
        return self.finish(0, mask, {"test_acc": acc, "test_loss": loss, "train_loss": result.train_loss,
                                     "wall_s": result.elapsed})

    def find_mask(self, r: int, prev_mask) -> tuple[dict, float, list[str]]:
        """The method's mask for round r from round r − 1's ticket (now in ``self.model``), the time
        it took, and the files the search kept beside the mask (``scores.pt``, ``found.pt``, ``carry.pt``)."""
        ctx = methods.Context(r, _generator(self.config.seed, "prune", r),
                              rewind_state=self.store.load(0, "rewind.pt"), data=self.ds,
                              carry=self.store.load(r - 1, "carry.pt") if r > 1 else None)
        t0 = time.perf_counter()
        search = self.method.search(self.model, prev_mask, ctx)
        wall = 0.0
        if search is not None:
            cfg = self.train_cfg if search.epochs is None else self.config.train_config(
                epochs=search.epochs, iterations=None)
            gen = _generator(self.config.seed, "search", r)
            from lottery_lab import data as data_lib

            batches = data_lib.Batches(self.ds.X_train, self.ds.y_train, self.config.batch_size,
                                       augment=self.ds.augment, generator=gen)
            res = self.fit(search.module, r, "search", search.masks, callbacks=search.callbacks,
                           param_groups=search.param_groups, batches=batches, generator=gen, train_cfg=cfg)
            wall = res.elapsed
            t0 = time.perf_counter()
        mask = self.method.prune(self.model, prev_mask, ctx, search)
        _check_mask(self.config.method, r, mask, prev_mask, self.method.revives)
        if self.world is not None:  # computed alike on every rank: checked, and rank 0's kept
            mask = self.world.same_mask(mask, f"round {r} ({self.config.method})")
        scores = self.method.scores(search)
        if scores is not None:
            self.store.save(r, "scores.pt", scores)
        kept = ["scores.pt"] if scores is not None else []
        found = self.method.found_network(search, mask)
        if found is not None:  # a strong ticket: the network the search found, BatchNorm statistics included
            self.store.save(r, "found.pt", found)
            kept.append("found.pt")
        carry = self.method.carry_state(search)
        if carry is not None:  # the next round's search continues from it
            self.store.save(r, "carry.pt", carry)
            kept.append("carry.pt")
        return mask, wall + time.perf_counter() - t0, kept

    def round(self, r: int) -> dict:
        """Play round r, reusing what its stored files hold and recomputing what is missing or corrupt.

        The search reruns when the mask is missing, or the scores it kept are; the retraining (and
        the reinit control) only when its own results are missing or the recomputed mask differs.
        """
        store = self.store
        phases = store.load_json(r, "phases.json") or {}
        searched = phases.get("search")
        mask = store.load(r, "mask.pt") if searched is not None else None
        lost = searched is not None and any(store.load(r, name) is None
                                            for name in self._search_files(r, searched, "train" in phases))
        if mask is None or lost:
            prev_mask = store.load(r - 1, "mask.pt")
            self.model.load_state_dict(store.load(r - 1, "weights.pt"))
            new_mask, wall, kept = self.find_mask(r, prev_mask)
            if mask is None or mask.keys() != new_mask.keys() or not all(
                    torch.equal(mask[k], new_mask[k]) for k in mask):
                phases = {}  # a new mask: what was trained with the old one does not count
            mask = new_mask
            store.save(r, "mask.pt", mask)
            phases["search"] = {"wall_s": wall, "files": kept}
            store.save_json(r, "phases.json", phases)
            store.forget(r - 1, "carry.pt")  # in memory: spent once round r's search is kept
        theta_k = store.load(0, "rewind.pt")
        weights = store.load(r, "weights.pt") if "train" in phases else None
        if weights is None:
            found = None if self.method.retrain else store.load(r, "found.pt")
            start = found if found is not None else self.method.ticket_state(theta_k, mask)
            masks_lib.rewind(self.model, start, mask)
            if self.method.retrain:
                result = self.fit(self.model, r, "train", mask, start_step=self.config.rewind_iter)
                train_loss, wall = result.train_loss, result.elapsed
            else:  # a strong ticket is evaluated as found: its weights and BatchNorm statistics
                train_loss = distributed.evaluate(self.model, self.ds.X_train, self.ds.y_train, amp=self.config.amp)[1]
                wall = 0.0
            acc, loss = self.evaluate(self.model)
            phases["train"] = {"test_acc": acc, "test_loss": loss, "train_loss": train_loss, "wall_s": wall}
            store.save(r, "weights.pt", self.model.state_dict())
            store.save_json(r, "phases.json", phases)
            if found is not None:  # weights.pt now holds the found network
                store.remove(r, "found.pt")
        else:
            self.model.load_state_dict(weights)
        row = dict(phases["train"])
        row["wall_s"] += phases["search"]["wall_s"]
        if self.config.reinit:
            if "reinit" not in phases:
                fresh = self.fresh_model("reinit", r)
                masks_lib.apply(fresh, mask)
                result = self.fit(fresh, r, "reinit", mask, start_step=self.config.rewind_iter)
                acc, loss = self.evaluate(fresh)
                phases["reinit"] = {"reinit_acc": acc, "reinit_loss": loss, "wall_s": result.elapsed}
                store.save_json(r, "phases.json", phases)
            row["reinit_acc"], row["reinit_loss"] = phases["reinit"]["reinit_acc"], phases["reinit"]["reinit_loss"]
            row["wall_s"] += phases["reinit"]["wall_s"]
        return self.finish(r, mask, row)

    def _search_files(self, r: int, searched: dict, trained: bool) -> list[str]:
        """The files round r's finished search kept that are still needed (``found.pt`` only until the
        ticket is trained; a record without a ``files`` entry, written before it existed, kept
        ``scores.pt`` if one is there)."""
        files = searched.get("files", ["scores.pt"] if self.store.exists(r, "scores.pt") else [])
        return [f for f in files if not (trained and f == "found.pt")]

    def finish(self, r: int, mask, measured: dict) -> dict:
        """Write the round's record (its metrics last: from then on the round counts as done)."""
        row = {"round": r, "density": masks_lib.density(mask), "test_acc": measured["test_acc"],
               "test_loss": measured["test_loss"], "train_loss": measured["train_loss"],
               "method": self.config.method, "seed": self.config.seed, "wall_s": measured["wall_s"]}
        if self.config.reinit:
            row["reinit_acc"] = measured.get("reinit_acc")
            row["reinit_loss"] = measured.get("reinit_loss")
        if r == 0:
            self.store.save(0, "weights.pt", self.model.state_dict())
        files = ["mask.pt", "weights.pt", *(["rewind.pt"] if r == 0 else ["phases.json"])]
        if r > 0:  # what a rerun of the search needs to redo this round or the next one identically
            files += [f for f in ("scores.pt", "carry.pt") if self.store.exists(r, f)]
        self.store.save_json(r, "metrics.json", {"row": row, "layer_density": masks_lib.layer_density(mask),
                                                 "files": files})
        self.store.clear_checkpoints(r)
        return row


def _check_mask(method: str, r: int, mask, prev_mask, revives: bool = False) -> None:
    if set(mask) != set(prev_mask):
        raise ValueError(f"method {method!r} returned a mask over {sorted(mask)}, expected {sorted(prev_mask)}")
    for name, m in mask.items():
        if m.dtype != torch.bool or m.shape != prev_mask[name].shape:
            raise ValueError(f"method {method!r}: mask {name!r} must be a bool tensor of shape "
                             f"{tuple(prev_mask[name].shape)}, got {m.dtype} {tuple(m.shape)}")
        if not revives and bool((m & ~prev_mask[name].bool()).any()):
            raise ValueError(f"method {method!r} revived pruned weights of {name!r} in round {r}")
        if not bool(m.any()):
            warnings.warn(f"round {r}: method {method!r} pruned every weight of {name!r}; "
                          f"the network can no longer pass signal through it", RuntimeWarning, stacklevel=3)


def play(config: LotteryConfig, data=None, until: Callable[[list[dict]], bool] | None = None) -> LotteryResult:
    """Play the lottery: round 0 dense, then ``config.rounds`` rounds of prune → rewind → retrain.

    Parameters
    ----------
    config : the run's :class:`LotteryConfig`.
    data : ``None`` (the registry dataset ``config.data``), a ``(X_train, y_train, X_test, y_test)``
        tuple of tensors, or a :class:`lottery_lab.data.Dataset`; given data is fingerprinted into the
        run's hash and ``config.data`` only names it.
    until : ``until(rows)`` is asked after each round (``rows``: the rows so far); ``True`` stops the run
        there, before ``config.rounds``: the result then holds fewer rounds and its config says how many
        (``rounds`` is not part of a run's identity: the same folder, extended or read back later).
        ``compare`` plays a pruning-rounds method this way until it reaches its smallest target.

    Returns
    -------
    LotteryResult
        ``rows[r]`` for rounds 0 … ``config.rounds``; finished rounds found on disk are reused.

    Under an initialised ``torch.distributed`` process group (``torchrun``) every rank calls ``play``
    with the same config and they play one run together (:mod:`lottery_lab.distributed`): same folder,
    hash and results as one process, within the rounding of the sharded batches.
    """
    if not isinstance(config, LotteryConfig):
        raise TypeError(f"config must be a LotteryConfig, got {type(config).__name__}")
    if until is not None and not callable(until):
        raise TypeError(f"until must be None or a callable taking the rows so far, got {type(until).__name__}")
    if not distributed.is_main():  # a process group's other ranks: no progress bars
        config = replace(config, progress=False)
    if data is None:
        config.check_data()
    run = _Run(config, data)
    store = run.store
    rows: list[dict] = []
    layers: list[dict] = []
    from tqdm.auto import tqdm

    bar = tqdm(range(config.rounds + 1), desc=f"lottery {config.method}", disable=not config.progress,
               unit="round")
    with store.lock():  # a second process on the same config waits here, then reuses the rounds
        store.prepare(run.record)
        try:
            _play_rounds(run, bar, rows, layers, until)
        finally:
            bar.close()
        store.tidy()
    store = distributed.reader(store)
    if len(rows) < config.rounds + 1:  # stopped by `until`
        config = replace(config, rounds=len(rows) - 1)
    return LotteryResult(rows, config, store.run_dir, store.masks(len(rows)), layers, store)


def _play_rounds(run: _Run, bar, rows: list[dict], layers: list[dict], until=None) -> None:
    """Play (or read back) each round in ``bar``, appending its row and layer densities, until
    ``until(rows)`` says stop."""
    store = run.store
    for r in bar:
        metrics = store.finished_round(r, run.extra if r == 0 else ())
        played = metrics is None
        if not played:
            store.clear_checkpoints(r)  # left by a kill between the metrics and their removal
        else:
            run.round0() if r == 0 else run.round(r)
            metrics = store.load_json(r, "metrics.json")
            if r >= 2:
                store.forget(r - 2, "weights.pt")
        rows.append(metrics["row"])
        layers.append(metrics["layer_density"])
        bar.set_postfix(density=f"{rows[-1]['density']:.3f}", acc=f"{rows[-1]['test_acc']:.3f}")
        if played:
            store.write_results(rows)
        if until is not None and until(rows):
            break
    store.write_results(rows)  # a pure rerun finds it as it was and leaves it alone
