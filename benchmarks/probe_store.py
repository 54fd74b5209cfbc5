"""Before/after probe of issue 11's run-store items, one line each.

    PYTHONPATH=<a checkout> python benchmarks/probe_store.py

Run it against an older checkout to see what the store used to do (it prints which code it ran).
"""
import json, logging, os, shutil, tempfile, warnings
from pathlib import Path
import torch
torch.set_num_threads(1)
import lottery_lab.runs as runs
from lottery_lab.lottery import LotteryConfig, play
print("code:", runs.__file__)
g = torch.Generator().manual_seed(0)
X = torch.randn(192, 10, generator=g); y = (X @ torch.randn(10, 3, generator=g)).argmax(1)
DATA = (X[:128], y[:128], X[128:], y[128:])
def cfg(out): return LotteryConfig(method="concave", method_kw={"lam": 1e-3, "epochs": 2}, model="mlp",
    model_kw={"width": 0.1}, data="tiny", rounds=3, epochs=2, batch_size=32, lr=0.05, seed=2, out_dir=str(out), progress=False)
tmp = Path(tempfile.mkdtemp())
os.umask(0o022)
ref = play(cfg(tmp / "ref"), data=DATA).run_dir
def fresh(tag):
    return Path(shutil.copytree(ref, tmp / tag / ref.name))
records = []
h = logging.Handler(); h.emit = lambda r: records.append(r.getMessage()); logging.getLogger("lottery_lab").addHandler(h)
def quiet(f):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always"); out = f()
    return out, [str(x.message) for x in w if "corrupt" in str(x.message)]
# 11.1
run = fresh("a"); s = run / "round_01" / "scores.pt"; b = bytearray(s.read_bytes()); b[len(b)//2] ^= 1; s.write_bytes(bytes(b))
sc, _ = quiet(lambda: runs.load(run).scores(1))
print("11.1 damaged scores: scores(1) ->", sc, "| file still there:", s.exists())
quiet(lambda: play(cfg(run.parent), data=DATA))
print("11.1 after a rerun: scores.pt exists:", s.exists(), "| equals the original:", s.exists() and s.read_bytes() == (ref/"round_01"/"scores.pt").read_bytes())
# 11.2
run = fresh("b"); c = run / "config.json"; c.write_text(c.read_text().replace('"lr": 0.05', '"lr": 0.7'))
try:
    r, _ = quiet(lambda: runs.load(run)); print("11.2 config.json lr 0.05->0.7: load gives lr =", r.config.lr)
except Exception as e: print("11.2 config.json lr 0.05->0.7: load raises", type(e).__name__)
run = fresh("c"); c = run / "results.csv"; acc = str(json.loads((run/"round_01"/"metrics.json").read_text())["row"]["test_acc"])
c.write_text(c.read_text().replace(acc, "0.999")); r, w = quiet(lambda: runs.load(run))
print("11.2 results.csv edited: warnings:", len(w), "| named:", [d.file for d in getattr(r, "damaged", [])])
# 11.3
run = fresh("d"); m = run / "round_02" / "metrics.json"; m.write_bytes(m.read_bytes()[:20])
snap = {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file()}
r, _ = quiet(lambda: runs.load(run))
snap2 = {str(p): p.read_bytes() for p in run.rglob("*") if p.is_file()}
print("11.3 truncated round_02/metrics.json: rounds shown", [x["round"] for x in r.rows], "| folder unchanged:", snap == snap2)
run = fresh("e"); t = (run/"config.json").stat().st_mtime_ns; quiet(lambda: play(cfg(run.parent), data=DATA))
print("11.3 pure rerun rewrote config.json:", (run/"config.json").stat().st_mtime_ns != t, "(out_dir differs in this copy)")
t = (ref/"config.json").stat().st_mtime_ns; quiet(lambda: play(cfg(tmp / "ref"), data=DATA))
print("11.3 pure rerun (same command) rewrote config.json:", (ref/"config.json").stat().st_mtime_ns != t)
# 11.10
print("11.10 mode of weights.pt under umask 022:", oct((ref/"round_01"/"weights.pt").stat().st_mode & 0o777))
run = fresh("f"); w_ = run/"round_03"/"weights.pt"; b = bytearray(w_.read_bytes()); b[len(b)//2] ^= 1; w_.write_bytes(bytes(b))
records.clear(); _, w = quiet(lambda: play(cfg(run.parent), data=DATA))
print("11.10 one corrupt weights.pt: warnings", len(w), "+ log records", len([x for x in records if "corrupt" in x]))
run = fresh("g"); runs.save_verified(run/"round_01"/"ckpt_train.pt", runs._to_bytes({"step": 3}))
(run/"round_01"/"x.pt.sha256").write_text("0"*64 + "  x.pt\n")
quiet(lambda: play(cfg(run.parent), data=DATA))
print("11.10 stale ckpt_train.pt after a rerun:", (run/"round_01"/"ckpt_train.pt").exists(), "| orphan .sha256:", (run/"round_01"/"x.pt.sha256").exists())
shutil.rmtree(tmp)
