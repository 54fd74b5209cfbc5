"""One lottery run on several processes: ``torch.distributed`` (torchrun) and DistributedDataParallel.

``torchrun --nproc-per-node N -m lottery_lab run …`` starts N processes (ranks); :func:`init_from_env`
joins them in a process group (NCCL on CUDA, gloo on the CPU), and :func:`lottery_lab.lottery.play`
called under an initialised group plays one run across them:

- **Training** (every phase, searches included): each step's global batch is the one-process batch
  (``batch_size`` rows of the same seeded permutation); rank r trains on its slice
  (``tensor_split``), through :class:`~torch.nn.parallel.DistributedDataParallel`, which averages
  the gradients of every trained parameter (a method's m, gates, scores or u too). Each rank's loss
  is weighted by its share of the batch, so the average is the gradient of the global batch's mean
  loss even when the slices differ in size. BatchNorm statistics are those of rank 0's slice (DDP's
  ``broadcast_buffers``), copied to every rank at the end of a phase.
- **Agreement**: every rank computes the same masks from the same weights; rank 0's are broadcast
  and any difference (or any difference of the weights at the end of a phase) stops the run with a
  RuntimeError instead of letting the ranks drift apart.
- **The run store**: only rank 0 writes (and holds the folder's lock); every read is made by rank 0
  and broadcast, so all ranks see the same files at the same point of the run (:class:`RankStore`).
  A kill of all ranks leaves the folder as a one-process kill does, and the same command resumes.
- **Evaluation** is sharded: each rank scores its slice of the set, the sums are all-reduced.

The number of processes is not part of the run's identity: the folder and hash are the
one-process run's, and the shared dense round (:mod:`lottery_lab.dense_round`) is used the same way.
"""

from __future__ import annotations

import atexit
import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Mapping, Sequence

import torch
import torch.distributed as dist
from torch import nn

from lottery_lab.runs import Damaged, RunStore, _read_checked

__all__ = ["World", "world", "is_main", "init_from_env", "launched", "run_store", "reader",
           "evaluate", "check_batches"]

#: the environment variables torchrun sets for each process it starts
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class World:
    """The initialised process group as this process sees it."""

    rank: int
    size: int
    backend: str

    # groups ----------------------------------------------------------------------------------
    @property
    def cpu_group(self):
        """A gloo group for Python objects and small CPU tensors (the default group under gloo)."""
        return _cpu_group(self.backend)

    def barrier(self) -> None:
        dist.barrier(group=self.cpu_group)

    def share(self, make: Callable[[], Any]) -> Any:
        """``make()`` evaluated on rank 0 and sent to every rank (pickled: keep tensors on the CPU)."""
        box = [make() if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, group=self.cpu_group)
        return box[0]

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on some rank (every rank gets the same answer)."""
        t = torch.tensor([int(bool(flag))])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.cpu_group)
        return bool(t.item())

    # training --------------------------------------------------------------------------------
    def shard(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """This rank's slice of a global batch and its share ``len(slice) / len(batch)``."""
        x, y = xb.tensor_split(self.size)[self.rank], yb.tensor_split(self.size)[self.rank]
        return x, y, len(y) / len(yb)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` under DistributedDataParallel (its parameters stay ``module``'s own objects).

        Every parameter that requires a gradient must get one from the forward pass (DDP's default,
        without the per-step graph search ``find_unused_parameters`` costs): a search freezes what it
        does not train (``requires_grad_(False)``), as edge-popup does with the weights."""
        from torch.nn.parallel import DistributedDataParallel

        p = next(module.parameters())
        return DistributedDataParallel(module, device_ids=[p.device] if p.device.type == "cuda" else None)

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of ``t`` over the ranks (``t`` on the backend's device: CUDA for NCCL)."""
        out = t.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    def settle(self, module: nn.Module, where: str) -> None:
        """End of a phase: rank 0's buffers (BatchNorm statistics) everywhere, then check the weights agree."""
        for b in module.buffers():
            dist.broadcast(b, src=0)
        params = [p.detach() for p in module.parameters()]
        local = torch.stack([p.double().sum() for p in params] + [p.double().square().sum() for p in params]).cpu()
        ref = self.share(lambda: local)
        if self.any(not torch.equal(ref, local)):
            raise RuntimeError(f"{where}: the ranks' weights differ after training (rank {self.rank}); the "
                               f"processes no longer compute the same run")

    def same_mask(self, mask: Mapping[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
        """Rank 0's mask on every rank, after checking that each rank computed the same one."""
        ref = self.share(lambda: {k: v.cpu() for k, v in mask.items()})
        differs = ref.keys() != mask.keys() or any(not torch.equal(ref[k], mask[k].cpu()) for k in ref)
        if self.any(differs):
            raise RuntimeError(f"{where}: the ranks found different masks; the processes no longer compute "
                               f"the same run")
        return {k: v.to(mask[k].device) for k, v in ref.items()}


_GLOO_GROUPS: dict[int, Any] = {}


def _cpu_group(backend: str):
    if backend == "gloo":
        return None  # the default group
    key = id(dist.group.WORLD)
    if key not in _GLOO_GROUPS:
        _GLOO_GROUPS[key] = dist.new_group(backend="gloo")
    return _GLOO_GROUPS[key]


def world() -> World | None:
    """The initialised process group (any size, one included), or ``None`` outside one."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return World(dist.get_rank(), dist.get_world_size(), str(dist.get_backend()))


def is_main() -> bool:
    """Whether this process is rank 0 (or the only process): the one that writes and prints."""
    w = world()
    return w is None or w.rank == 0


def launched() -> bool:
    """Whether this process was started by torchrun (its environment names a rank and a rendezvous)."""
    return all(k in os.environ for k in TORCHRUN_ENV)


def init_from_env(device: str = "auto") -> World | None:
    """Join the process group torchrun's environment describes (NCCL when ``device`` resolves to CUDA,
    else gloo) and pin this rank's GPU; ``None`` when not started by torchrun. Idempotent."""
    if not launched():
        return None
    if not dist.is_initialized():
        from lottery_lab.train import select_device

        cuda = select_device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if cuda else "gloo")
        atexit.register(_leave)
    return world()


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """This rank's device: ``cuda`` without an index becomes ``cuda:LOCAL_RANK`` (one GPU per rank)."""
    if device.type != "cuda" or device.index is not None or world() is None:
        return device
    index = int(os.environ.get("LOCAL_RANK", dist.get_rank() % torch.cuda.device_count()))
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def check_batches(n: int, batch_size: int, size: int) -> None:
    """Every global batch of an epoch of ``n`` rows must give each of ``size`` ranks at least one row."""
    last = n % batch_size
    if min(batch_size, n) < size or 0 < last < size:
        raise ValueError(f"batch_size={batch_size} with {size} processes: every batch must hold at least "
                         f"{size} rows (one per process), but an epoch of {n} rows ends with a batch of "
                         f"{last or min(batch_size, n)}; choose a batch_size that leaves none smaller")


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, amp: bool = True) -> tuple[float, float]:
    """:func:`lottery_lab.train.evaluate` of the whole set, each rank scoring its slice (one process: as is)."""
    from lottery_lab.train import evaluate as evaluate_one

    w = world()
    if w is None:
        return evaluate_one(model, X, y, amp=amp)
    Xr, yr = X.tensor_split(w.size)[w.rank], y.tensor_split(w.size)[w.rank]
    n = len(yr)
    acc, loss = evaluate_one(model, Xr, yr, amp=amp) if n else (0.0, 0.0)
    sums = torch.tensor([round(acc * n), loss * n, n], dtype=torch.float64)
    dist.all_reduce(sums, op=dist.ReduceOp.SUM, group=w.cpu_group)
    correct, total, count = sums.tolist()
    return correct / count, total / count


# ------------------------------------------------------------------------------------- the store

class RankStore(RunStore):
    """A run folder shared by the ranks: rank 0 reads and writes it, the others only receive its reads.

    Every rank makes the same calls in the same order (they play the same run), so each read is a
    broadcast from rank 0: all ranks see what rank 0 has written so far, never a file half-written or
    one rank 0 has not reached yet. Writes on the other ranks do nothing, and they hold no lock (rank 0
    holds it; they wait for it in the broadcasts).
    """

    def __init__(self, run_dir, device, action: str, w: World):
        super().__init__(run_dir, device, action)
        self.world = w
        self.writes = w.rank == 0

    def lock(self) -> ContextManager:
        return super().lock() if self.writes else nullcontext()

    def _corrupt(self, path, why: str) -> None:
        if self.writes:
            super()._corrupt(path, why)

    def _checked(self, path) -> tuple[bytes | None, str | None]:
        return self.world.share(lambda: _read_checked(path))

    def exists(self, r: int, name: str) -> bool:
        return self.world.share(lambda: RunStore.exists(self, r, name))

    def check_round(self, r: int, extra: Sequence[str] = ()) -> tuple[dict | None, list[Damaged]]:
        return self.world.share(lambda: _plain(self).check_round(r, extra))

    def prepare(self, record: Mapping[str, Any]) -> None:
        def attempt():
            try:
                RunStore.prepare(self, record)
            except (RuntimeError, OSError) as exc:
                return exc
            return None

        error = self.world.share(attempt)
        if error is not None:
            raise error

    def save(self, r: int, name: str, obj: Any) -> None:
        if self.writes:
            super().save(r, name, obj)

    def save_json(self, r: int, name: str, obj: Any) -> None:
        if self.writes:
            super().save_json(r, name, obj)

    def remove(self, r: int, name: str) -> None:
        if self.writes:
            super().remove(r, name)

    def clear_checkpoints(self, r: int) -> None:
        if self.writes:
            super().clear_checkpoints(r)

    def tidy(self) -> None:
        if self.writes:
            super().tidy()

    def write_results(self, rows: list[dict]) -> None:
        if self.writes:
            super().write_results(rows)


def _plain(store: RunStore) -> RunStore:
    """A one-process view of ``store``'s folder (rank 0's own reads)."""
    return RunStore(store.run_dir, store.device, store.action)


def run_store(run_dir, device: torch.device, action: str) -> RunStore:
    """The store for a run folder: a :class:`RankStore` under a process group, else a plain one.
    In memory (``run_dir=None``) each rank keeps its own: they compute the same records."""
    w = world()
    if w is None or run_dir is None:
        return RunStore(run_dir, device, action)
    return RankStore(run_dir, device, action, w)


def reader(store: RunStore) -> RunStore:
    """After the run: wait until rank 0 has written everything, then a plain reader of the folder
    (a finished result's lazy reads must not wait for the other ranks)."""
    if not isinstance(store, RankStore):
        return store
    store.world.barrier()
    return _plain(store)
