"""The shared dense round 0: trained once per (model, data, training, seed, rewind_iter), used by every run.

Round 0 (dense training from θ₀, keeping θ_k) does not depend on the pruning method, so runs that
differ only in ``method``/``method_kw``/``reinit``/``rounds`` share it. It is kept content-addressed
under the runs' own ``out_dir``::

    OUT_DIR/_dense/<key>/        key: :func:`key` (10 hex digits)
        dense.json               the fields the key covers (for people)
        round_00/                mask.pt, rewind.pt, weights.pt, metrics.json (+ checkpoints while training)

The folder is written under :func:`lottery_lab.runs.folder_lock`: when two workers need the same
round 0 at once, one trains it and the other waits and then copies it. A killed trainer leaves its
checkpoints there and the next one resumes them. A run copies the files into its own folder, so a run
folder stays self-contained (and a run with a shared round 0 equals, bit for bit on the CPU, one that
trained its own: the same code trains it with the same seeds). Run hashes are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["key", "dense_dir", "round0", "COUNTS", "DENSE_DIR"]

#: The folder under ``out_dir`` holding the shared dense rounds.
DENSE_DIR = "_dense"
#: Config fields round 0 does not depend on (besides the unhashed ones).
NOT_ROUND0 = frozenset({"method", "method_kw", "reinit"})
#: Trainings this process ran, by kind (``"dense"``); the sweep's workers report their increments.
COUNTS: Counter = Counter()


def key_fields(config, data_fingerprint: str | None = None) -> dict[str, Any]:
    """What round 0 of ``config`` depends on: its hashed fields less the method's (and the data's fingerprint)."""
    out = {k: v for k, v in config.hashed_fields().items() if k not in NOT_ROUND0}
    if data_fingerprint is not None:
        out["data_fingerprint"] = data_fingerprint
    return out


def key(config, data_fingerprint: str | None = None) -> str:
    """10 hex digits of SHA-256 over :func:`key_fields` (tagged, so it never equals a run's hash)."""
    payload = {"round0": key_fields(config, data_fingerprint)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]


def dense_dir(config, data_fingerprint: str | None = None) -> Path | None:
    """``OUT_DIR/_dense/<key>`` of ``config`` (``None`` when it keeps nothing on disk)."""
    if config.out_dir is None:
        return None
    return Path(config.out_dir) / DENSE_DIR / key(config, data_fingerprint)


def shared_dir(config, data_fingerprint: str | None = None) -> Path | None:
    """The folder ``config``'s round 0 comes from (:func:`dense_dir`), or ``None`` when the run trains its
    own: it keeps nothing on disk, or ``LOTTERY_LAB_NO_SHARED_DENSE`` is set."""
    return None if os.environ.get("LOTTERY_LAB_NO_SHARED_DENSE") else dense_dir(config, data_fingerprint)


#: what a damaged file of the shared folder becomes
_ACTION = "the next run that needs it retrains it"


def _train_shared(run, folder: Path, shared=None):
    """Train round 0 of ``run`` into the shared ``folder`` (its lock held) unless it is there; returns
    the shared store (``shared``: that store, for a process group's ranks)."""
    from lottery_lab.runs import RunStore, save_verified

    if shared is None:
        shared = RunStore(folder, run.device, action=_ACTION)
    if shared.finished_round(0, ("rewind.pt",)) is not None:
        return shared
    record = key_fields(run.config, run.record.get("data_fingerprint"))
    if shared.writes:
        save_verified(folder / "dense.json", (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    own = run.store
    run.store = shared  # checkpoints, θ_k and the final weights go to the shared folder
    try:
        run.train_round0()
    finally:
        run.store = own
    COUNTS["dense"] += 1
    return shared


def round0(run) -> dict:
    """Round 0 of ``run`` (a :class:`lottery_lab.lottery._Run`): from the shared folder, trained there first if needed."""
    folder = shared_dir(run.config, run.record.get("data_fingerprint"))
    if folder is None:
        row = run.train_round0()
        COUNTS["dense"] += 1
        return row
    from lottery_lab.distributed import run_store

    shared = run_store(folder, run.device, _ACTION)  # under a process group: rank 0 locks, reads, writes
    with shared.lock():
        _train_shared(run, folder, shared)
        metrics = shared.load_json(0, "metrics.json")
        mask, rewind, weights = (shared.load(0, n) for n in ("mask.pt", "rewind.pt", "weights.pt"))
    run.model.load_state_dict(weights)
    run.store.save(0, "mask.pt", mask)
    run.store.save(0, "rewind.pt", rewind)
    row = metrics["row"]
    return run.finish(0, mask, {k: row[k] for k in ("test_acc", "test_loss", "train_loss", "wall_s")})
