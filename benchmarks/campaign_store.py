"""The run store under attack: a kill campaign and a corruption campaign, each printed as a table.

Kill campaign: runs of several methods (IMP with late rewinding and the reinit control, concave,
l0 and rvsm with and without ``target_density``) are started in a subprocess and SIGKILLed, either
at a random moment of the run or right after a chosen file appears (a search checkpoint, a mask, a
round's metrics ...); the rerun must end with every stored tensor byte-identical and every metric
(wall-clock times aside) equal to an uninterrupted run, with no checkpoint left behind.

Corruption campaign: every kind of file in a run folder (config.json, results.csv, mask.pt,
weights.pt, metrics.json, rewind.pt, scores.pt, phases.json, ckpt_*.pt and each one's .sha256) is
damaged (a flipped byte), truncated or deleted in a copy of a finished run (a killed one for the
checkpoint); ``runs.load`` must name it without changing the folder, a rerun must warn about it,
recompute it and end identical to the uninterrupted run.

    python benchmarks/campaign_store.py [--kills 32] [--seed 0]

Tiny data and models (seconds per kill); one torch thread.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from lottery_lab import runs
from lottery_lab.lottery import LotteryConfig, play

SETUP = """
import torch
torch.set_num_threads(1)
from lottery_lab.lottery import LotteryConfig, play
g = torch.Generator().manual_seed(0)
X = torch.randn(320, 12, generator=g)
y = (X @ torch.randn(12, 3, generator=g)).argmax(1)
DATA = (X[:256], y[:256], X[256:], y[256:])
"""

CONFIGS = {
    "imp-rewind-reinit": dict(method="imp", method_kw={"prune_fraction": 0.4}, rewind_iter=3, reinit=True),
    "concave": dict(method="concave", method_kw={"lam": 1e-3, "epochs": 8}),
    "concave-target": dict(method="concave", method_kw={"target_density": 0.5, "epochs": 8}),
    "l0": dict(method="l0", method_kw={"lam": 0.05, "epochs": 8}),
    "l0-target": dict(method="l0", method_kw={"target_density": 0.5, "epochs": 8}),
    "rvsm": dict(method="rvsm", method_kw={"lam": 1e-3, "epochs": 8}),
    "rvsm-target": dict(method="rvsm", method_kw={"target_density": 0.5, "epochs": 8}),
}
COMMON = dict(model="mlp", model_kw={"width": 0.1}, data="tiny", rounds=2, epochs=6, batch_size=32, lr=0.05,
              seed=1, progress=False, checkpoint_s=0)

#: kill right after the first file matching each pattern appears (the rest are random moments)
EVENTS = ["round_00/ckpt_train.pt.sha256", "round_00/rewind.pt.sha256", "round_00/metrics.json",
          "round_01/ckpt_search.pt.sha256", "round_01/scores.pt", "round_01/mask.pt.sha256",
          "round_01/phases.json.sha256", "round_01/ckpt_train.pt.sha256", "round_01/ckpt_reinit.pt.sha256",
          "round_01/weights.pt", "round_01/metrics.json.sha256", "round_02/ckpt_search.pt.sha256",
          "round_02/metrics.json"]


def config(name: str, out_dir: Path) -> LotteryConfig:
    return LotteryConfig(**COMMON, **CONFIGS[name], out_dir=str(out_dir))


def data():
    ns: dict = {}
    exec(SETUP, ns)
    return ns["DATA"]


def play_quiet(name: str, out_dir: Path) -> tuple[runs.LotteryResult, list[str]]:
    """Play in this process; returns the result and the corruption warnings it gave."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = play(config(name, out_dir), data=data())
    return result, [str(w.message) for w in seen if issubclass(w.category, runs.CorruptFileWarning)]


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in ("wall_s", "out_dir")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def differences(run: Path, ref: Path) -> list[str]:
    """What differs between two run folders (wall-clock times and out_dir aside)."""
    names = {str(p.relative_to(ref)) for p in ref.rglob("*") if p.is_file() and p.name != runs.LOCK_NAME}
    have = {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.name != runs.LOCK_NAME}
    out = [f"extra {n}" for n in sorted(have - names)] + [f"missing {n}" for n in sorted(names - have)]
    for n in sorted(names & have):
        a, b = (run / n).read_bytes(), (ref / n).read_bytes()
        if n.endswith(".json"):
            same = _strip(json.loads(a)) == _strip(json.loads(b))
        elif n.endswith(".csv"):
            same = _strip(list(csv.DictReader(a.decode().splitlines()))) == \
                _strip(list(csv.DictReader(b.decode().splitlines())))
        elif n.endswith(".sha256") and (n.startswith("config.json") or "json" in n or "csv" in n):
            same = True  # checksums of files that hold wall-clock times
        else:
            same = a == b
        if not same:
            out.append(f"differs {n}")
    return out


def state_of(run: Path) -> str:
    """Where a killed run stood: its finished rounds and any checkpoint."""
    done = sorted(int(p.parent.name[6:]) for p in run.glob("round_*/metrics.json"))
    ckpts = []
    for p in sorted(run.glob("round_*/ckpt_*.pt")):
        try:
            ckpts.append(f"r{p.parent.name[6:]} {p.stem[5:]}@{torch.load(p, weights_only=True)['step']}")
        except Exception:
            ckpts.append(f"r{p.parent.name[6:]} {p.stem[5:]}@?")
    files = len([p for p in run.rglob("*") if p.is_file()])
    return f"done {done or '-'}; ckpt {', '.join(ckpts) or '-'}; {files} files"


def kill_run(name: str, out: Path, delay: float | None, event: str | None) -> tuple[Path | None, str]:
    code = SETUP + f"\nplay(LotteryConfig(**{COMMON!r}, **{CONFIGS[name]!r}, out_dir={str(out)!r}), data=DATA)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stderr=subprocess.DEVNULL)
    t0 = started = time.monotonic()
    while proc.poll() is None:  # the clock of a random moment starts when config.json appears
        if started == t0 and list(out.glob("*/config.json")):
            started = time.monotonic()
        if delay is not None and started > t0 and time.monotonic() - started >= delay:
            break
        if event is not None and list(out.glob(f"*/{event}")):
            break
        time.sleep(0.0005)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    moment = (f"{time.monotonic() - started:.2f} s after config.json" if started > t0 else
              f"{time.monotonic() - t0:.2f} s after start") + (" (had finished)" if finished else "")
    folders = list(out.glob("*-*"))
    return (folders[0] if folders else None), moment


def kill_campaign(n: int, seed: int, tmp: Path, refs: dict[str, Path]) -> list[dict]:
    rng = random.Random(seed)
    names = list(CONFIGS)
    durations = {}
    for name in names:  # how long a run takes in a subprocess, from its config.json to its last record
        out = tmp / f"time-{name}"
        proc = subprocess.Popen([sys.executable, "-c", SETUP + f"\nplay(LotteryConfig(**{COMMON!r}, "
                                 f"**{CONFIGS[name]!r}, out_dir={str(out)!r}), data=DATA)\n"],
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
        while not list(out.glob("*/config.json")) and proc.poll() is None:
            time.sleep(0.0005)
        t0 = time.monotonic()
        last = f"*/round_{COMMON['rounds']:02d}/metrics.json.sha256"
        while not list(out.glob(last)) and proc.poll() is None:  # to the last write (not the exit)
            time.sleep(0.0005)
        durations[name] = time.monotonic() - t0
        proc.wait()
    rows = []
    for i in range(n):
        name = names[i % len(names)]
        if i % 2 == 0:
            event = rng.choice([e for e in EVENTS if "reinit" not in e or name.startswith("imp")]
                               if not name.startswith("imp") else [e for e in EVENTS if "search" not in e
                                                                   and "scores" not in e])
            delay = None
        else:
            event, delay = None, rng.uniform(0.02, 0.9) * durations[name]
        out = tmp / f"kill-{i}"
        run, moment = kill_run(name, out, delay, event)
        state = state_of(run) if run is not None else "no folder yet"
        result, warned = play_quiet(name, out)
        diff = differences(result.run_dir, refs[name])
        rows.append({"#": i, "config": name, "kill at": event or "random", "moment": moment, "state at kill": state,
                     "corrupt warnings": len(warned), "identical": "yes" if not diff else "NO: " + "; ".join(diff)})
        shutil.rmtree(out)
    return rows


def damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: max(0, path.stat().st_size // 3)])
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def corruption_campaign(tmp: Path, refs: dict[str, Path]) -> list[dict]:
    name = "concave"
    ref = refs[name]
    killed, _ = kill_run(name, tmp / "killed", None, "round_01/ckpt_search.pt.sha256")
    targets = ["config.json", "results.csv", "round_00/rewind.pt", "round_00/mask.pt", "round_00/weights.pt",
               "round_00/metrics.json", "round_01/mask.pt", "round_01/weights.pt", "round_01/metrics.json",
               "round_01/scores.pt", "round_01/phases.json", "round_02/metrics.json", "round_01/ckpt_search.pt"]
    rows = []
    for target in targets:
        for suffix in ("", ".sha256"):
            for how in ("flip", "truncate", "delete"):
                if suffix and how == "truncate":
                    continue
                source = killed if "ckpt" in target else ref
                work = tmp / f"c-{len(rows)}"
                run = Path(shutil.copytree(source, work / source.name))
                damage(run / (target + suffix), how)
                before = snapshot(run)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        loaded = runs.load(run)
                    named = [d.file for d in loaded.damaged]
                    detected = "named: " + ", ".join(named) if named else "-"
                except (ValueError, FileNotFoundError) as exc:
                    detected = "refused: " + str(exc).split(" (")[0].split("/")[-1]
                untouched = snapshot(run) == before
                result, warned = play_quiet(name, work)
                diff = differences(result.run_dir, ref)
                after = runs.load(result.run_dir).damaged
                now = snapshot(run)
                rewritten = sorted(k.replace("round_0", "r") for k, v in now.items()
                                   if v[0] is not None and not k.endswith((".sha256", runs.LOCK_NAME))
                                   and before.get(k) != v)
                rows.append({"file": target + suffix, "damage": how,
                             "load (read-only)": detected + ("" if untouched else " [CHANGED THE FOLDER]"),
                             "rerun warned": len(warned), "rerun rewrote": ", ".join(rewritten) or "-",
                             "clean after": "yes" if not after else str(after),
                             "identical": "yes" if not diff else "NO: " + "; ".join(diff)})
                shutil.rmtree(work)
    return rows


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["| " + " | ".join(k.ljust(widths[k]) for k in keys) + " |",
             "|" + "|".join("-" * (widths[k] + 2) for k in keys) + "|"]
    lines += ["| " + " | ".join(str(r[k]).ljust(widths[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads: {torch.get_num_threads()}; load average: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        refs = {name: play_quiet(name, tmp / "ref")[0].run_dir for name in CONFIGS}
        t0 = time.monotonic()
        kills = kill_campaign(args.kills, args.seed, tmp, refs) if args.kills else []
        if kills:
            print(f"\n## Kill campaign ({len(kills)} kills, {time.monotonic() - t0:.0f} s)\n")
            print(table(kills))
        t0 = time.monotonic()
        corrupt = corruption_campaign(tmp, refs)
        print(f"\n## Corruption campaign ({len(corrupt)} cases, {time.monotonic() - t0:.0f} s)\n")
        print(table(corrupt))
        bad = [r for r in kills + corrupt if r["identical"] != "yes"]
        print(f"\n{len(kills)} kills, {len(corrupt)} corruptions: {len(bad)} not identical; load average "
              f"{os.getloadavg()}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
