"""Issue 14, item 5: S seeds of one tiny config trained at once as one batched network vs one at a time.

The tiny config: the 40-300-100-10 MLP on 4000 x 40 Gaussian features (bench_round.py's ``mlp40``),
batch 128, SGD with momentum 0.9, one epoch. One at a time: S separate nn.Sequential models, each
with its own batch order, stepped by torch's autograd and SGD arithmetic (what the sweep does per
run). Batched: the S models' weights stacked ((S, out, in)), each layer one ``torch.baddbmm`` over
the S batches, one backward, one update over the stacked tensors. Both sides do the same arithmetic
per seed; the printed ratio is throughput (seed-steps per CPU second), batched / one at a time.
Measured only: the sweep keeps training one run at a time unless this shows >= 2x.

    python benchmarks/bench_batched_seeds.py [--seeds 4 8] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from _timing import machine_line, median_spread  # benchmarks/_timing.py, beside this script

SIZES = (40, 300, 100, 10)
BATCH, LR, MOMENTUM = 128, 0.1, 0.9


def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4000, 40, generator=g)
    return X, (X @ torch.randn(40, 10, generator=g)).argmax(1)


def weights(seeds: int):
    """Per seed: [(W, b), ...] for each layer (Kaiming-normal weights, zero biases)."""
    out = []
    for s in range(seeds):
        g = torch.Generator().manual_seed(s)
        out.append([(torch.randn(o, i, generator=g) * (2 / i) ** 0.5, torch.zeros(o)) for i, o in zip(SIZES, SIZES[1:])])
    return out


def one_at_a_time(X, y, seeds: int, steps: int) -> float:
    """CPU seconds to train ``seeds`` models one after the other for ``steps`` steps each."""
    t0 = time.process_time()
    for s, layers in enumerate(weights(seeds)):
        params = [p.clone().requires_grad_() for wb in layers for p in wb]
        bufs = [None] * len(params)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(100 + s))
        for k in range(steps):
            idx = order[(k * BATCH) % (len(y) - BATCH):][:BATCH]
            h = X.index_select(0, idx)
            for j in range(0, len(params), 2):
                h = F.linear(h, params[j], params[j + 1])
                if j < len(params) - 2:
                    h = torch.relu(h)
            for p in params:
                p.grad = None
            F.cross_entropy(h, y.index_select(0, idx)).backward()
            with torch.no_grad():
                for i, p in enumerate(params):
                    bufs[i] = p.grad.clone() if bufs[i] is None else bufs[i].mul_(MOMENTUM).add_(p.grad)
                    p.add_(bufs[i], alpha=-LR)
    return time.process_time() - t0


def batched(X, y, seeds: int, steps: int) -> float:
    """CPU seconds to train the same ``seeds`` models as one stacked network for ``steps`` steps."""
    t0 = time.process_time()
    layers = weights(seeds)
    Ws = [torch.stack([layers[s][l][0].t() for s in range(seeds)]).requires_grad_() for l in range(len(SIZES) - 1)]
    bs = [torch.stack([layers[s][l][1] for s in range(seeds)]).unsqueeze(1).requires_grad_() for l in range(len(SIZES) - 1)]
    params = [*Ws, *bs]
    bufs = [None] * len(params)
    orders = torch.stack([torch.randperm(len(y), generator=torch.Generator().manual_seed(100 + s)) for s in range(seeds)])
    for k in range(steps):
        idx = orders[:, (k * BATCH) % (len(y) - BATCH):][:, :BATCH]
        h = X[idx]                                                   # (S, B, 40)
        for l, (W, b) in enumerate(zip(Ws, bs)):
            h = torch.baddbmm(b, h, W)
            if l < len(Ws) - 1:
                h = torch.relu(h)
        for p in params:
            p.grad = None
        # each seed's mean cross-entropy, summed: every seed gets its own gradient
        F.cross_entropy(h.reshape(-1, SIZES[-1]), y[idx].reshape(-1), reduction="sum").div(BATCH).backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                bufs[i] = p.grad.clone() if bufs[i] is None else bufs[i].mul_(MOMENTUM).add_(p.grad)
                p.add_(bufs[i], alpha=-LR)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--steps", type=int, default=31, help="steps per seed (default: one epoch, 31)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    X, y = data()
    one_at_a_time(X, y, 2, 5), batched(X, y, 2, 5)                  # warm up
    out = {"threads": torch.get_num_threads(), "clock": "cpu", "load_before": machine_line(), "seeds": {}}
    for S in args.seeds:
        t = {"one_at_a_time": [], "batched": []}
        for _ in range(args.repeats):
            t["one_at_a_time"].append(one_at_a_time(X, y, S, args.steps))
            t["batched"].append(batched(X, y, S, args.steps))
        st = {k: median_spread(v) for k, v in t.items()}
        out["seeds"][S] = {"seconds": {k: m for k, (m, _) in st.items()}, "spread": {k: s for k, (_, s) in st.items()},
                           "throughput_ratio": st["one_at_a_time"][0] / st["batched"][0]}
    out["load_after"] = machine_line()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"40-300-100-10 MLP, batch 128, {args.steps} steps per seed, CPU time, median of {args.repeats}; "
          f"build into the sweep if >= 2x")
    print(f"  before: {out['load_before']}\n  after:  {out['load_after']}")
    for S, r in out["seeds"].items():
        s, sp = r["seconds"], r["spread"]
        print(f"  {S} seeds: one at a time {s['one_at_a_time']:.3f} ± {sp['one_at_a_time']:.3f} s, batched "
              f"{s['batched']:.3f} ± {sp['batched']:.3f} s: {r['throughput_ratio']:.2f}x throughput")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
