"""Run directories: where a lottery run keeps its records, and how a rerun finds and resumes them.

Layout (``runs/<method>-<short hash>/``)::

    config.json                 the config (all fields), its hash and the custom data's fingerprint
    results.csv                 one row per finished round (rewritten after each round)
    round_00/                   one folder per round
        mask.pt                 the round's mask (name -> bool tensor); round 0: all ones
        weights.pt              the trained ticket (a state dict)
        metrics.json            the round's row plus per-layer densities (written last: round done)
        rewind.pt               round 0 only: θ_k, the weights the tickets are rewound to
        scores.pt               optional: the continuous scores the mask was cut from (concave: m)
        phases.json             results of the round's finished phases (search/train/reinit)
        ckpt_<phase>.pt         epoch checkpoint inside a phase (deleted when the round ends)

Every file is written atomically (a temp file, then ``os.replace``) together with a ``<file>.sha256``
checksum in ``sha256sum`` format. A file whose checksum is missing or wrong is reported
(``warnings.warn``), removed and recomputed. Tensors load with ``torch.load(weights_only=True)``.
Writes are atomic with respect to a killed process (no fsync: a power cut is out of scope).
"""

from __future__ import annotations

import csv
from contextlib import suppress
import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch

if TYPE_CHECKING:  # pragma: no cover
    from lottery_lab.lottery import LotteryConfig

__all__ = ["RunStore", "LotteryResult", "load", "atomic_write", "save_verified", "load_verified",
           "CorruptFileWarning"]

log = logging.getLogger("lottery_lab")

ROW_KEYS = ("round", "density", "test_acc", "test_loss", "train_loss", "method", "seed", "wall_s")


class CorruptFileWarning(UserWarning):
    """A stored file failed its checksum (or could not be read) and will be recomputed."""


# --------------------------------------------------------------------------------- files on disk

def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_verified(path: Path, data: bytes) -> None:
    """Atomically write ``data`` and then its SHA-256 checksum file."""
    atomic_write(path, data)
    atomic_write(_checksum_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n".encode())


def _remove(path: Path) -> None:
    for p in (path, _checksum_path(path)):
        with suppress(OSError):
            p.unlink()


def read_verified(path: Path) -> bytes | None:
    """The bytes of ``path`` if its checksum matches; ``None`` if absent; a warning and ``None`` if corrupt."""
    path = Path(path)
    if not path.exists():
        if _checksum_path(path).exists():
            _remove(path)
        return None
    data = path.read_bytes()
    try:
        expected = _checksum_path(path).read_text().split()[0]
    except (OSError, IndexError):
        expected = None
    if expected != hashlib.sha256(data).hexdigest():
        _corrupt(path, "its SHA-256 checksum is missing or does not match")
        return None
    return data


def _corrupt(path: Path, why: str) -> None:
    msg = f"{path} is corrupt ({why}); it is removed and will be recomputed"
    warnings.warn(msg, CorruptFileWarning, stacklevel=3)
    log.warning(msg)
    _remove(path)


def _to_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def load_verified(path: Path, device: torch.device | str = "cpu") -> Any | None:
    """A checksummed torch file, loaded with ``weights_only=True`` (``None`` if absent or corrupt)."""
    data = read_verified(path)
    if data is None:
        return None
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as exc:  # a file that hashes right but does not unpickle (e.g. written by a bug)
        _corrupt(Path(path), f"torch.load failed: {exc}")
        return None


def _load_json(path: Path) -> Any | None:
    data = read_verified(path)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        _corrupt(Path(path), f"invalid JSON: {exc}")
        return None


def _detach(obj: Any) -> Any:
    """A copy of a (nested) state dict that no training step can change."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, Mapping):
        return {k: _detach(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------------- the store

class RunStore:
    """One run's records: on disk under ``run_dir``, or in memory when ``run_dir`` is ``None``.

    In memory nothing is checkpointed (there is nothing to resume from); masks, scores and metrics of
    every round are kept, weights only for the latest rounds.
    """

    def __init__(self, run_dir: str | os.PathLike | None, device: torch.device | str = "cpu"):
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.device = torch.device(device)
        self._mem: dict[tuple[int, str], Any] = {}

    @property
    def on_disk(self) -> bool:
        return self.run_dir is not None

    def round_dir(self, r: int) -> Path:
        assert self.run_dir is not None
        return self.run_dir / f"round_{r:02d}"

    # config ----------------------------------------------------------------------------------
    def prepare(self, record: Mapping[str, Any]) -> None:
        """Create the folder, write ``config.json`` (or check the one there) and drop stale temp files."""
        if self.run_dir is None:
            return
        path = self.run_dir / "config.json"
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except ValueError:
                old = None
            if old is not None and (old.get("hash"), old.get("hashed")) != (record["hash"], record["hashed"]):
                raise RuntimeError(f"{self.run_dir} holds a different run (config.json differs); "
                                   f"choose another out_dir")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.run_dir.rglob(".*.tmp"):
            with suppress(OSError):
                tmp.unlink()
        atomic_write(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    # generic records -------------------------------------------------------------------------
    def save(self, r: int, name: str, obj: Any) -> None:
        """Store a torch object (state dict, mask, checkpoint) as ``round_rr/name``."""
        if self.run_dir is None:
            self._mem[(r, name)] = _detach(obj)
        else:
            save_verified(self.round_dir(r) / name, _to_bytes(obj))

    def load(self, r: int, name: str) -> Any | None:
        """A stored torch object on the run's device (``None`` if absent or corrupt)."""
        if self.run_dir is None:
            obj = self._mem.get((r, name))
            return None if obj is None else _detach(obj)
        return load_verified(self.round_dir(r) / name, self.device)

    def save_json(self, r: int, name: str, obj: Any) -> None:
        if self.run_dir is None:
            self._mem[(r, name)] = json.loads(json.dumps(obj))
        else:
            save_verified(self.round_dir(r) / name, (json.dumps(obj, indent=2) + "\n").encode())

    def load_json(self, r: int, name: str) -> Any | None:
        if self.run_dir is None:
            return self._mem.get((r, name))
        return _load_json(self.round_dir(r) / name)

    def exists(self, r: int, name: str) -> bool:
        if self.run_dir is None:
            return (r, name) in self._mem
        return (self.round_dir(r) / name).exists()

    def remove(self, r: int, name: str) -> None:
        if self.run_dir is None:
            self._mem.pop((r, name), None)
        else:
            _remove(self.round_dir(r) / name)

    # checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, r: int, phase: str, state: Mapping[str, Any]) -> None:
        """An epoch checkpoint inside ``phase`` of round ``r`` (disk only)."""
        if self.run_dir is not None:
            self.save(r, f"ckpt_{phase}.pt", state)

    def load_checkpoint(self, r: int, phase: str) -> Any | None:
        return self.load(r, f"ckpt_{phase}.pt") if self.run_dir is not None else None

    def clear_checkpoints(self, r: int) -> None:
        if self.run_dir is not None:
            for p in self.round_dir(r).glob("ckpt_*.pt"):
                _remove(p)

    def forget_weights(self, r: int) -> None:
        """In memory, drop round ``r``'s weights once no later round needs them."""
        if self.run_dir is None:
            self._mem.pop((r, "weights.pt"), None)

    # rounds ----------------------------------------------------------------------------------
    def finished_round(self, r: int, extra: Sequence[str] = ()) -> dict | None:
        """Round ``r``'s metrics if the round is finished and all its files check out, else ``None``."""
        if not self.exists(r, "metrics.json"):
            return None
        for name in ("mask.pt", "weights.pt", *extra):
            if not self.exists(r, name) or (self.run_dir is not None and read_verified(self.round_dir(r) / name) is None):
                self.remove(r, "metrics.json")
                return None
        return self.load_json(r, "metrics.json")

    def masks(self, n: int) -> Sequence:
        """The masks of rounds 0 … n − 1: loaded on access from disk, or the kept ones in memory."""
        if self.run_dir is None:
            return [self.load(r, "mask.pt") for r in range(n)]
        return _StoredMasks(self, n)

    def write_results(self, rows: list[dict]) -> None:
        if self.run_dir is not None:
            atomic_write(self.run_dir / "results.csv", _csv_bytes(rows))


def _csv_bytes(rows: list[dict]) -> bytes:
    keys: list[str] = [k for k in ROW_KEYS if any(k in row for row in rows)]
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return buf.getvalue().encode()


# ---------------------------------------------------------------------------------- the result

class _StoredMasks(Sequence):
    """``masks[r]``: round r's mask, loaded from the run store when asked for."""

    def __init__(self, store: RunStore, n: int):
        self._store, self._n = store, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, r):
        if isinstance(r, slice):
            return [self[i] for i in range(*r.indices(self._n))]
        if not -self._n <= r < self._n:
            raise IndexError(f"round {r} out of range: the run has {self._n} finished rounds")
        return self._store.load(r % self._n, "mask.pt")


@dataclass
class LotteryResult:
    """The outcome of :func:`lottery_lab.lottery.play` (or :func:`load`).

    Attributes
    ----------
    rows : one dict per finished round (``rows[0]``: the dense network), with at least
        ``round, density, test_acc, test_loss, train_loss, method, seed, wall_s``
        (and ``reinit_acc, reinit_loss`` when the config asks for the reinitialisation control).
    config : the :class:`~lottery_lab.lottery.LotteryConfig`.
    run_dir : where the records live (``None`` for ``out_dir=None``).
    masks : ``masks[r]`` is round r's mask (loaded on access for runs on disk).
    layer_densities : per round, parameter name -> density.
    """

    rows: list[dict]
    config: "LotteryConfig"
    run_dir: Path | None
    masks: Sequence
    layer_densities: list[dict[str, float]] = field(default_factory=list)
    _store: RunStore | None = field(default=None, repr=False)

    def scores(self, r: int) -> dict[str, torch.Tensor] | None:
        """The continuous scores round r's mask was cut from (the concave method's m), if kept."""
        return None if self._store is None else self._store.load(r, "scores.pt")

    def weights(self, r: int) -> dict[str, torch.Tensor] | None:
        """Round r's trained ticket as a state dict (``None`` if not kept)."""
        return None if self._store is None else self._store.load(r, "weights.pt")

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :attr:`rows` as CSV; returns the path."""
        path = Path(path)
        atomic_write(path, _csv_bytes(self.rows))
        return path

    def table(self) -> str:
        """The rows as a fixed-width text table."""
        cols = [("round", "round", "{:d}"), ("density", "density", "{:.4f}"), ("test_acc", "test acc", "{:.4f}"),
                ("train_loss", "train loss", "{:.4f}"), ("wall_s", "wall s", "{:.1f}")]
        if any("reinit_acc" in row for row in self.rows):
            cols.append(("reinit_acc", "reinit acc", "{:.4f}"))
        head = f"{self.config.method} (seed {self.config.seed})"
        lines = [head, "  ".join(f"{title:>10}" for _, title, _ in cols)]
        for row in self.rows:
            cells = []
            for key, _, fmt in cols:
                v = row.get(key)
                cells.append(f"{'-' if v is None else fmt.format(v):>10}")
            lines.append("  ".join(cells))
        return "\n".join(lines)

    def plot(self, ax=None, label: str | None = None, **kw):
        """Test accuracy against density (log x, pruning goes right); returns the axes."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        d = [row["density"] for row in self.rows]
        line, = ax.plot(d, [row["test_acc"] for row in self.rows], marker="o",
                        label=label or self.config.method, **kw)
        re = [(row["density"], row["reinit_acc"]) for row in self.rows if row.get("reinit_acc") is not None]
        if re:
            ax.plot(*zip(*re), marker="x", linestyle="--", color=line.get_color(),
                    label=f"{label or self.config.method} (reinit)")
        ax.set_xscale("log")
        if not ax.xaxis_inverted():
            ax.invert_xaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:g}%"))
        ax.set_xlabel("density (fraction of weights kept)")
        ax.set_ylabel("test accuracy")
        ax.legend()
        return ax

    def __str__(self) -> str:
        return self.table()


def load(run_dir: str | os.PathLike) -> LotteryResult:
    """The :class:`LotteryResult` of a stored run (its finished rounds), for reports and plots."""
    from lottery_lab.lottery import LotteryConfig  # lottery imports this module: import at call time

    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no config.json")
    record = json.loads(path.read_text())
    config = LotteryConfig.from_dict(record["config"])
    store = RunStore(run_dir)
    rows, layers = [], []
    r = 0
    while (metrics := store.load_json(r, "metrics.json")) is not None:
        rows.append(metrics["row"])
        layers.append(metrics.get("layer_density", {}))
        r += 1
    return LotteryResult(rows, config, run_dir, store.masks(len(rows)), layers, store)
