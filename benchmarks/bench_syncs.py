"""Per training step: dispatched aten ops and host–device syncs, dense training and each method's search.

Counted on the CPU with :class:`lottery_lab._profiling.CountingMode` (see its docstring for what counts
as a sync). A step is measured by difference: one epoch of ``2 s`` batches minus one epoch of ``s``
batches, divided by ``s``, so what happens once per epoch or once per phase (the epoch-end loss read,
the optimiser's first-step state, the masker's set-up) cancels and only the step loop's own cost is
left: forward, backward, callbacks, optimiser, masker, the batch iterator with augmentation.

The searches run on a pruned mask (round 2 and later: half of ResNet-20's weights, the lowest |θ|),
with channels_last model and data, as the lottery runner sets them up. On the CPU SGD steps tensor by
tensor (torch picks ``foreach`` only on CUDA), so a CUDA step dispatches fewer optimiser ops; ``--fused``
counts with the fused SGD that lottery_lab uses on CUDA.

    python benchmarks/bench_syncs.py [--width 0.25] [--batch 32] [--device cpu] [--fused] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json

import torch

from lottery_lab import methods, models
from lottery_lab._profiling import CountingMode
from lottery_lab.data import Batches
from lottery_lab.masks import ones_like
from lottery_lab.methods.base import Context, prune_lowest
from lottery_lab.train import TrainConfig, train

#: (label, method name or None for dense training, keyword arguments)
CASES: list[tuple[str, str | None, dict]] = [
    ("dense (imp)", None, {}),
    ("concave", "concave", {}),
    ("concave target_density", "concave", {"target_density": 0.2}),
    ("l0", "l0", {}),
    ("l0 target_density", "l0", {"target_density": 0.2}),
    ("cs", "cs", {}),
    ("cs scale_free", "cs", {"scale_free": True}),
    ("rvsm", "rvsm", {}),
    ("rvsm target_density", "rvsm", {"target_density": 0.2}),
    ("edge_popup", "edge_popup", {}),
]


def _setup(method: str | None, kw: dict, width: float, seed: int = 0, device: str = "cpu"):
    """(module, masks, callbacks, param groups) of dense training or of ``method``'s search."""
    torch.manual_seed(seed)
    model = models.get("resnet20", input_shape=(3, 32, 32), num_classes=10, width=width)
    model = model.to(device, memory_format=torch.channels_last)
    mask = ones_like(model)
    mask = prune_lowest({n: p.abs() for n, p in model.named_parameters() if n in mask}, mask, 0.5)
    if method is None:
        return model, mask, [], None
    m = methods.get(method, **kw)
    ctx = Context(1, torch.Generator().manual_seed(seed), rewind_state={k: v.clone() for k, v in model.state_dict().items()})
    search = m.search(model, mask, ctx)
    return search.module, search.masks, search.callbacks, search.param_groups


def count_epoch(method: str | None, kw: dict, steps: int, batch: int, width: float,
                device: str = "cpu") -> CountingMode:
    """The counts of one epoch of ``steps`` batches (augmented, CPU generator) of the case's training.

    As in the lottery runner, the data live on ``device`` and the batch order's generator on the CPU.
    """
    module, masks, callbacks, groups = _setup(method, kw, width, device=device)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(steps * batch, 3, 32, 32, generator=g).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (steps * batch,), generator=g).to(device)
    batches = Batches(X, y, batch, augment=True, generator=g)
    cfg = TrainConfig(epochs=1, progress=False)
    with CountingMode() as counts:
        train(module, batches, cfg, masks=masks, callbacks=callbacks, param_groups=groups, generator=g)
    return counts


@contextlib.contextmanager
def gpu_paths(device: str):
    """On the CPU, the code paths a GPU takes where the two differ: rvsm's threshold selects on the host
    there (``numpy.partition``, no sync: there is no device), by ``topk`` on a GPU."""
    from lottery_lab.methods import rvsm

    if not str(device).startswith("cpu"):
        yield
        return
    saved = rvsm._by_selection
    rvsm._by_selection = lambda x: False
    try:
        yield
    finally:
        rvsm._by_selection = saved


def per_step(method: str | None, kw: dict, steps: int, batch: int, width: float, device: str = "cpu") -> dict:
    """Ops and syncs per step (difference of an epoch of 2·steps and one of steps batches), on the CPU
    along the paths a GPU takes (:func:`gpu_paths`)."""
    with gpu_paths(device):
        a = count_epoch(method, kw, steps, batch, width, device)
        b = count_epoch(method, kw, 2 * steps, batch, width, device)
    kinds = {k: (b.syncs[k] - a.syncs[k]) / steps for k in set(a.syncs) | set(b.syncs)}
    ops = {k: (b.sync_ops[k] - a.sync_ops[k]) / steps for k in set(a.sync_ops) | set(b.sync_ops)}
    return {"ops": (b.n_ops - a.n_ops) / steps, "syncs": (b.n_syncs - a.n_syncs) / steps,
            "sync_kinds": {k: v for k, v in kinds.items() if v}, "sync_ops": {k: v for k, v in ops.items() if v},
            "per_epoch_syncs": a.n_syncs - (b.n_syncs - a.n_syncs)}


def batches_copies(batch: int = 32, steps: int = 8) -> tuple[float, int]:
    """Transfers by :class:`Batches` with a CPU generator and the data elsewhere (``meta`` stands in for
    a GPU): (per batch, per epoch), from epochs of ``steps`` and ``2 steps`` batches."""
    counts = []
    for n in (steps, 2 * steps):
        X = torch.zeros(n * batch, 3, 32, 32, device="meta")
        y = torch.zeros(n * batch, dtype=torch.long, device="meta")
        with CountingMode() as c:
            for _ in Batches(X, y, batch, augment=True, generator=torch.Generator().manual_seed(0)):
                pass
        counts.append(sum(v for k, v in c.syncs.items() if k.startswith("copy")))
    per_batch = (counts[1] - counts[0]) / steps
    return per_batch, int(counts[0] - per_batch * steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=0.25, help="ResNet-20 width multiplier")
    parser.add_argument("--batch", type=int, default=32, help="batch size (counts do not depend on it)")
    parser.add_argument("--steps", type=int, default=2, help="steps of the shorter epoch")
    parser.add_argument("--device", default="cpu", help="where model and data live (the generator stays on the CPU)")
    parser.add_argument("--fused", action="store_true",
                        help="fused SGD as on CUDA (torch steps tensor by tensor on the CPU by default)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.fused:
        import lottery_lab.train

        lottery_lab.train._use_fused = lambda groups: True
    rows = {label: per_step(method, kw, args.steps, args.batch, args.width, args.device)
            for label, method, kw in CASES}
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"ResNet-20 width {args.width}, batch {args.batch}, {args.device}, torch {torch.__version__}"
          f"{', fused SGD' if args.fused else ''}; per step:")
    print(f"{'case':<24} {'aten ops':>9} {'syncs':>6}  sync kinds (per step)")
    for label, r in rows.items():
        kinds = ", ".join(f"{k} {v:g}" for k, v in sorted(r["sync_kinds"].items())) or "-"
        print(f"{label:<24} {r['ops']:>9g} {r['syncs']:>6g}  {kinds}")
    per_batch, per_epoch = batches_copies(args.batch)
    print(f"Batches, CPU generator, data on another device (meta): {per_batch:g} transfers per batch, "
          f"{per_epoch} per epoch")


if __name__ == "__main__":
    main()
