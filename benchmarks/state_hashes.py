"""A fingerprint of what each case of ``bench_syncs`` trains to: run it on two checkouts and diff.

For dense training and every method's search (ResNet-20 at width 1/4, a pruned mask, channels_last,
augmented batches from a CPU generator), 3 epochs of 6 steps on the CPU; prints, per case, the first
16 hex digits of SHA-256 over the final state dict and the last epoch's loss. Equal lines: the change
did not alter the numbers. ``--contiguous-masks`` hands the searches contiguous masks (what
``prune_lowest`` made before it kept the parameters' memory format), to compare arithmetic alone.

    PYTHONPATH=<checkout> python <checkout>/benchmarks/state_hashes.py [--contiguous-masks]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_syncs  # noqa: E402
from lottery_lab.data import Batches  # noqa: E402
from lottery_lab.train import TrainConfig, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contiguous-masks", action="store_true", help="give the searches contiguous masks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.contiguous_masks:
        lowest = bench_syncs.prune_lowest
        bench_syncs.prune_lowest = lambda *a, **k: {n: m.contiguous() for n, m in lowest(*a, **k).items()}
    for label, method, kw in bench_syncs.CASES:
        module, masks, callbacks, groups = bench_syncs._setup(method, kw, 0.25)
        g = torch.Generator().manual_seed(1)
        X = torch.randn(96, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (96,), generator=g)
        res = train(module, Batches(X, y, 16, augment=True, generator=g),
                    TrainConfig(epochs=3, lr=0.05, progress=False),
                    masks=masks, callbacks=callbacks, param_groups=groups, generator=g)
        h = hashlib.sha256()
        for k, v in module.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().contiguous().numpy().tobytes())
        print(f"{label:<24} {h.hexdigest()[:16]} {res.train_loss!r}")


if __name__ == "__main__":
    main()
