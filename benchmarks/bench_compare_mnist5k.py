"""The full mnist5k comparison end to end, before vs after issue 13 (the shared dense round, workers, threads).

Both variants run ``lottery-lab compare --data mnist5k --model mlp --epochs 10 --seeds 0,1,2`` as a
command of its own, in a fresh out_dir each (nothing reused):

- **before**: ``LOTTERY_LAB_NO_SHARED_DENSE=1`` (every run trains its own dense round 0), ``--jobs 1``,
  torch's default threads (``OMP_NUM_THREADS`` unset, ``--threads`` = what torch picks then);
- **after**: the defaults of this version with ``--jobs 2``: the dense round trained once per seed, two
  worker processes, one torch thread each.

Prints each wall time (and the load around it), the trainings the ``--json`` summaries count, the
ratio, and how far the two tables' accuracies lie apart (the thread counts differ, so float sums may
round differently). The full setting takes ~30+ min on 2 cores; check it first with a tiny one:

    python benchmarks/bench_compare_mnist5k.py                      # the full comparison
    python benchmarks/bench_compare_mnist5k.py --epochs 1 --seeds 0 # a smoke check (minutes)
    python benchmarks/bench_compare_mnist5k.py --seeds 0 --neighbour  # beside one other CPU-bound job

``--neighbour`` runs one other single-threaded job (512 × 512 matrix products in a loop) for the whole
benchmark, as on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
NEIGHBOUR = ("import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n")


def torch_default_threads(env: dict) -> int:
    """torch's thread count in a fresh process with ``env`` (no thread variables: torch's own choice)."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def compare(out_dir: Path, extra: list[str], env: dict, args) -> dict:
    """One ``lottery-lab compare`` command; its ``--json`` summary with ``wall`` (seconds, end to end)."""
    cmd = [sys.executable, "-m", "lottery_lab", "compare", "--data", "mnist5k", "--model", "mlp",
           "--epochs", str(args.epochs), "--seeds", args.seeds, "--out-dir", str(out_dir), "--json",
           "--no-progress", *extra]
    before = load()
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {**json.loads(done.stdout), "wall": wall, "load": f"{before} -> {load()}", "cmd": " ".join(cmd[1:])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="epochs per round (default: %(default)s)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="after: worker processes (default: %(default)s)")
    p.add_argument("--neighbour", action="store_true", help="run one other single-threaded CPU-bound job beside it")
    p.add_argument("--keep", metavar="DIR", default=None,
                   help="keep the two out_dirs under DIR (default: a temporary folder, removed after)")
    args = p.parse_args()

    base = {k: v for k, v in os.environ.items() if k not in THREAD_VARS and k != "LOTTERY_LAB_NO_SHARED_DENSE"}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    default_threads = torch_default_threads(base)
    variants = {
        "before": (["--jobs", "1", "--threads", str(default_threads)], {**base, "LOTTERY_LAB_NO_SHARED_DENSE": "1"}),
        "after": (["--jobs", str(args.jobs)], base),
    }
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) if args.neighbour else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp:
            root = Path(args.keep or tmp)
            got = {}
            if neighbour is not None:
                time.sleep(3)  # its torch import done: it computes from here on
                print("beside one other single-threaded job (matrix products)", flush=True)
            for name, (extra, env) in variants.items():
                got[name] = r = compare(root / name, extra, env, args)
                print(f"{name:<6} {r['wall']:8.1f} s  dense trainings {r['dense_trainings']:3d}, runs trained "
                      f"{r['runs_trained']:3d} of {len(r['runs'])}; load {r['load']}\n       {r['cmd']}", flush=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    b, a = got["before"], got["after"]
    key = lambda row: (row["method"], row["target"])  # noqa: E731
    after_rows = {key(r): r for r in a["rows"]}
    gaps = [abs(r["test_acc_mean"] - after_rows[key(r)]["test_acc_mean"]) for r in b["rows"] if key(r) in after_rows]
    print(f"after vs before: {b['wall'] / a['wall']:.2f}x faster end to end "
          f"(before: torch's default {default_threads} thread(s), every run its own dense round)")
    print(f"tables: {len(gaps)} of {len(b['rows'])} (method, target) cells in both, largest |Δ test acc mean| "
          f"{max(gaps, default=0.0):.4f}; dense {b['dense']['test_acc_mean']:.4f} vs {a['dense']['test_acc_mean']:.4f}")
    print(f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
