"""``benchmarks/gpu_check.py --tiny`` runs end to end on the CPU (CI's stand-in for the GPU check)."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_tiny_passes_every_check_on_the_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LOTTERY_LAB_QUICK": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    table = proc.stdout[proc.stdout.index("| check |"):]
    for check in ("data", "imp", "concave", "l0", "cs (BatchNorm)", "resume", "throughput", "syncs"):
        assert f"| {check} | ok |" in table, table
    assert "all passed" in proc.stdout
    assert (tmp_path / "data" / "cifar-10-batches-bin" / "test_batch.bin").stat().st_size == 32 * 3073
