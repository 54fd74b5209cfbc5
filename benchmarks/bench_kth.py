"""The k-th smallest of a weight vector: ``lottery_lab.masks.kth_smallest`` (one ``numpy.partition`` on
the CPU) against ``torch.kthvalue``, for one k and for the pair rvsm's target-density threshold needs.

Sizes: LeNet-300-100's 266,200 prunable weights and ResNet-20's ≈ 270,000 are the same order; the
other sizes show how both scale. Times are medians of ``--repeats`` interleaved repeats of a batch of
calls (and half their range), per call; the ratio is kthvalue / kth_smallest. The values are checked equal.

    python benchmarks/bench_kth.py --cpu-time
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import add_timing_args, clock_from, machine_line, median_spread  # noqa: E402

from lottery_lab.masks import kth_smallest  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_timing_args(p, repeats=7)
    p.add_argument("--calls", type=int, default=50, help="calls per repeat (default: %(default)s)")
    args = p.parse_args()
    clock = clock_from(args)
    g = torch.Generator().manual_seed(0)
    print(f"{'n':>9} {'what':<6} {'kthvalue ms':>14} {'kth_smallest ms':>17} {'ratio':>6}")
    for n in (10_000, 266_200, 2_000_000):
        x = torch.randn(n, generator=g).abs()
        k = int(0.98 * n)
        for what, ours, theirs in [
            ("one", lambda: kth_smallest(x, k), lambda: [torch.kthvalue(x, k).values]),
            ("pair", lambda: kth_smallest(x, k, k + 1),
             lambda: [torch.kthvalue(x, k).values, torch.kthvalue(x, k + 1).values]),
        ]:
            assert [float(v) for v in ours()] == [float(v) for v in theirs()]
            times = {"theirs": [], "ours": []}
            for _ in range(args.repeats):
                for name, fn in (("theirs", theirs), ("ours", ours)):
                    t = clock()
                    for _ in range(args.calls):
                        fn()
                    times[name].append((clock() - t) / args.calls * 1e3)
            (a, sa), (b, sb) = median_spread(times["theirs"]), median_spread(times["ours"])
            print(f"{n:>9} {what:<6} {a:9.3f} ± {sa:.3f} {b:11.3f} ± {sb:.3f} {a / b:6.2f}x")
    print(f"median of {args.repeats} × {args.calls} calls; {machine_line()}")


if __name__ == "__main__":
    main()
