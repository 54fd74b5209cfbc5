"""Page size and precompute time of every explorer as the book draws it (``LOTTERY_LAB_STATIC=1``).

Each explorer is called with the arguments its notebook gives it in quick mode (the book's setting;
notebook 02's IMP and random baselines are left out, which changes the figures' content, not their
number); the call's wall time is the precompute (runs played, every figure of the grid drawn) and
the HTML it returns is what the page carries. ``--pages`` also lists the built book's notebook pages
(``book/_build/html``) with the size of their explorers in them.

    python benchmarks/bench_static_explorers.py [--only mask lottery methods subset_sum rvsm] [--pages] [--json]

Measured 2026-12-04 on the shared 2-core machine (load average 4.4), ``--pages`` after ``bash book/build.sh``:

    explorer     precompute s  HTML KB  grid figures KB/figure   built page          page KB
    mask                 17.0    423.2    90      54       7.6   01_convex_mask        481
    lottery              45.8    747.1    48      48      15.2   02_lottery            864
    methods              21.4    500.8    30      30      16.0   03_methods            562
    subset_sum           29.6   1137.4    54      54      20.4   04_strong_tickets    1256
    rvsm                 39.8    703.5    36      36      18.9   05_no_overlap_rvsm    791

The whole book build took 196 s (``bash book/build.sh``; its notebooks 184 s) against 85 s (notebooks
69 s) for the same build with ``LOTTERY_LAB_STATIC=0``, whose pages are 78–218 KB and whose explorers
show no figure without a kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

os.environ["LOTTERY_LAB_STATIC"] = "1"
os.environ.setdefault("LOTTERY_LAB_QUICK", "1")

import matplotlib

matplotlib.use("Agg")
import torch

BOOK = Path(__file__).resolve().parent.parent / "book"


def mask():  # notebook 01
    from lottery_lab import convex
    from lottery_lab.widgets.convex import mask_explorer

    D = convex.data.synthetic(n=1500, d=6, s=2, seed=0, snr=0.6)
    return mask_explorer(convex.MaskProblem(D.X, D.y, D.theta, ridge=0.0), D.mask, lam=0.01, eps=0.05, penalty="log")


def lottery():  # notebook 02 (quick), without its baselines
    from lottery_lab.widgets.lottery import lottery_explorer

    common = dict(model="mlp", data="mnist5k", data_kw={"n_train": 1000}, epochs=1, seed=0, device="cpu",
                  out_dir=None, progress=False)
    return lottery_explorer(lam=2e-5, rounds=2, method_kw={"lam": 2e-5, "mask_lr": 100.0}, **common)


def methods():  # notebook 03 (quick)
    from lottery_lab.widgets.methods import method_explorer

    return method_explorer(method="imp", target=0.1, data="digits", model="mlp", epochs=2, out_dir=None,
                           play_now=True, batch_size=64)


def subset_sum():  # notebook 04
    from lottery_lab.widgets.theory import subset_sum_explorer

    return subset_sum_explorer(n=12, k=0, eps=0.01)


def rvsm():  # notebook 05
    from lottery_lab.theory import no_overlap
    from lottery_lab.widgets.theory import rvsm_explorer

    return rvsm_explorer(no_overlap.sparse_teacher(16, nnz=8, seed=0), k=4, lam=0.03, beta=0.5, penalty="tl1")


EXPLORERS = {"mask": mask, "lottery": lottery, "methods": methods, "subset_sum": subset_sum, "rvsm": rvsm}


def measure(name: str) -> dict:
    t0 = time.perf_counter()
    html = EXPLORERS[name]().data
    wall = time.perf_counter() - t0
    figures = json.loads(re.search(r"figures = (\[.*?\]), frame", html).group(1))
    frame = json.loads(re.search(r"frame = (\{.*?\}), shown", html).group(1))
    return {"explorer": name, "precompute_s": round(wall, 1), "html_kb": round(len(html.encode()) / 1024, 1),
            "grid_points": len(frame), "figures": len(figures),
            "kb_per_figure": round(sum(len(f) for f in figures) / 1024 / len(figures), 1)}


def pages(html_dir: Path) -> list[dict]:
    """Every built notebook page: its HTML size and how much of it its explorers' outputs are."""
    rows = []
    for page in sorted((html_dir / "notebooks").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        explorers = [m.end() - m.start() for m in re.finditer(
            r'<div class="lottery-lab-explorer".*?</script></div>', text, flags=re.S)]
        rows.append({"page": page.name, "page_kb": round(page.stat().st_size / 1024, 1),
                     "explorers": len(explorers), "explorers_kb": round(sum(explorers) / 1024, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=list(EXPLORERS), default=list(EXPLORERS))
    ap.add_argument("--pages", action="store_true", help="also the sizes of the built book's notebook pages")
    ap.add_argument("--html", type=Path, default=BOOK / "_build" / "html")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [measure(name) for name in args.only]
    built = pages(args.html) if args.pages else []
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.json:
        print(json.dumps({"explorers": rows, "pages": built, "load": load}, indent=1))
        return
    print(f"{'explorer':<12}{'precompute s':>13}{'HTML KB':>9}{'grid':>6}{'figures':>8}{'KB/figure':>10}")
    for r in rows:
        print(f"{r['explorer']:<12}{r['precompute_s']:>13.1f}{r['html_kb']:>9.1f}{r['grid_points']:>6}"
              f"{r['figures']:>8}{r['kb_per_figure']:>10.1f}")
    if built:
        print(f"\n{'built page':<28}{'page KB':>9}{'explorers':>10}{'of it KB':>10}")
        for r in built:
            print(f"{r['page']:<28}{r['page_kb']:>9.1f}{r['explorers']:>10}{r['explorers_kb']:>10.1f}")
    print(f"\nload average {load} on {os.cpu_count()} cores, torch threads 1")


if __name__ == "__main__":
    main()
