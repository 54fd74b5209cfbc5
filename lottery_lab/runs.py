"""Run directories: where a lottery run keeps its records, and how a rerun finds and resumes them.

Storage only: how a run's rows are shown (its table and CSV, the summaries over seeds) lives in
:mod:`lottery_lab.results`, its figures in :mod:`lottery_lab.plots`; :class:`LotteryResult` (what
:func:`load` and :func:`lottery_lab.lottery.play` return) only hands its rows to them.

Layout (``runs/<method>-<short hash>/``)::

    config.json                 the config (all fields), its hash and the custom data's fingerprint
    results.csv                 one row per finished round (an export: rewritten from the verified
                                round records after each round; nothing reads it back)
    .lock                       the folder's lock file (see :func:`folder_lock`)
    round_00/                   one folder per round
        mask.pt                 the round's mask (name -> bool tensor); round 0: all ones
        weights.pt              the trained ticket (a state dict)
        metrics.json            the round's row, per-layer densities and the list of the round's files
                                (written last: from then on the round counts as done)
        rewind.pt               round 0 only: θ_k, the weights the tickets are rewound to
        scores.pt               where the method has them: the continuous scores the mask was cut from
        phases.json             results of the round's finished phases (search/train/reinit)
        ckpt_<phase>.pt         checkpoint inside a phase (on a timer and at the phase's end; deleted
                                when the round ends)

Every file (``config.json`` and ``results.csv`` included) is written atomically (a temp file, then
``os.replace``) together with a ``<file>.sha256`` checksum in ``sha256sum`` format, with the mode the
umask gives. Every file a finished round lists is verified whenever the round is read back; a file
whose checksum is missing or wrong is reported (one :class:`CorruptFileWarning` per file) and never
deleted on reading: :func:`lottery_lab.lottery.play` on the same config recomputes it (and only
what depends on it), :func:`load` names it with the command that recomputes it. Tensors load with
``torch.load(weights_only=True)``; checkpoints load on the CPU (the model and optimiser state are
placed by ``load_state_dict``, the RNG states stay CPU tensors, as ``torch.set_rng_state`` needs).
Writes are atomic with respect to a killed process (no fsync: a power cut is out of scope). A writer
holds the folder's lock (:meth:`RunStore.lock`); readers take none, so a finished run on read-only
media can be loaded and reported.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Mapping

import torch

from lottery_lab._files import _umask, atomic_write, save_figure  # noqa: F401  (re-exported)
from lottery_lab.results import ROW_KEYS, csv_bytes, run_table  # noqa: F401  (ROW_KEYS re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from lottery_lab.config import LotteryConfig

__all__ = ["RunStore", "LotteryResult", "Damaged", "load", "atomic_write", "save_figure", "save_verified",
           "read_verified", "load_verified", "folder_lock", "CorruptFileWarning", "LOCK_NAME"]

log = logging.getLogger("lottery_lab")

#: The lock file :func:`folder_lock` creates inside a run folder.
LOCK_NAME = ".lock"


class CorruptFileWarning(UserWarning):
    """A stored file failed its checksum (or could not be read); a rerun of the run recomputes it."""


# --------------------------------------------------------------------------------- files on disk

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


def _read_checked(path: Path) -> tuple[bytes | None, str | None]:
    """``(data, None)`` for a file whose checksum matches, ``(None, None)`` if absent (and so is its
    checksum file), else ``(None, why)``; a file gone while its checksum file is there is ``"missing"``."""
    if not path.exists():
        return None, ("missing" if _checksum_path(path).exists() else None)
    data = path.read_bytes()
    try:
        expected = _checksum_path(path).read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        expected = None
    if expected != hashlib.sha256(data).hexdigest():
        return None, "its SHA-256 checksum is missing or does not match"
    return data, None


#: files that lottery_lab wrote without a checksum before version 0.2 (every round file always had one)
_LEGACY_UNCHECKED = ("config.json", "results.csv")


def _legacy(path: Path) -> bool:
    """Whether ``path`` is a record from before checksums: a config.json or results.csv without a
    ``.sha256`` beside it. Such a config.json is still checked against the folder's hash, and
    results.csv is an export rebuilt from the verified rounds, so neither counts as damaged."""
    return path.name in _LEGACY_UNCHECKED and path.exists() and not _checksum_path(path).exists()


def _decode(path: Path, data: bytes, device: torch.device | str | None) -> tuple[Any, str | None]:
    """The object a verified file holds (JSON or a torch file), or ``(None, why)`` if it does not parse."""
    if path.suffix == ".json":
        try:
            return json.loads(data), None
        except ValueError as exc:
            return None, f"invalid JSON: {exc}"
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True), None
    except Exception as exc:  # a file that hashes right but does not unpickle (e.g. written by a bug)
        return None, f"torch.load failed: {exc}"


def _warn_corrupt(path: Path, why: str, action: str) -> None:
    warnings.warn(f"{path} is corrupt ({why}); {action}", CorruptFileWarning, stacklevel=4)


def read_verified(path: Path) -> bytes | None:
    """The bytes of ``path`` if its checksum matches; ``None`` if absent; a warning and ``None`` if corrupt.

    Nothing is deleted: a rerun of the run overwrites a corrupt file with a recomputed one.
    """
    path = Path(path)
    data, why = _read_checked(path)
    if why is not None:
        _warn_corrupt(path, why, "a rerun of the run recomputes it")
    return data


def load_verified(path: Path, device: torch.device | str = "cpu") -> Any | None:
    """A checksummed torch file, loaded with ``weights_only=True`` (``None`` if absent or corrupt)."""
    path = Path(path)
    data = read_verified(path)
    if data is None:
        return None
    obj, why = _decode(path, data, device)
    if why is not None:
        _warn_corrupt(path, why, "a rerun of the run recomputes it")
    return obj


def _detach(obj: Any) -> Any:
    """A copy of a (nested) state dict that no training step can change."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, Mapping):
        return {k: _detach(v) for k, v in obj.items()}
    return obj


@contextmanager
def folder_lock(folder: str | os.PathLike, timeout: float = -1) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) across processes and hosts' processes.

    A ``filelock.FileLock`` on ``folder/.lock`` (an OS file lock: released when the holder exits,
    even by SIGKILL). A second holder waits (logging that it does) until the first releases it, or
    ``timeout`` seconds (``-1``: for ever; then ``filelock.Timeout``). The lock is reentrant within
    one process. Every writer of a run folder holds it (:func:`lottery_lab.lottery.play`), and so
    must any other writer of a shared folder (the sweep's shared dense round). Yields the folder.
    """
    import filelock

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(folder / LOCK_NAME, mode=0o666 & ~_umask())
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("waiting for %s: another process is writing to it", folder)
        lock.acquire(timeout=timeout)
    try:
        yield folder
    finally:
        lock.release()


# ----------------------------------------------------------------------------------- the store

@dataclass(frozen=True)
class Damaged:
    """A stored file that failed verification: ``file`` relative to the run folder, and why."""

    round: int | None
    file: str
    why: str


class RunStore:
    """One run's records: on disk under ``run_dir``, or in memory when ``run_dir`` is ``None``.

    In memory nothing is checkpointed (there is nothing to resume from); masks, scores and metrics of
    every round are kept, weights only for the latest rounds. ``action`` ends each corruption warning:
    what happens to a corrupt file (the runner recomputes it; a reader names the command that does).
    """

    def __init__(self, run_dir: str | os.PathLike | None, device: torch.device | str = "cpu",
                 action: str = "a rerun of the run recomputes it"):
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.device = torch.device(device)
        self.action = action
        self._mem: dict[tuple[int, str], Any] = {}
        self._warned: set[Path] = set()

    @property
    def on_disk(self) -> bool:
        return self.run_dir is not None

    def round_dir(self, r: int) -> Path:
        assert self.run_dir is not None
        return self.run_dir / f"round_{r:02d}"

    def lock(self) -> ContextManager:
        """The run folder's :func:`folder_lock` (nothing to lock in memory)."""
        return nullcontext() if self.run_dir is None else folder_lock(self.run_dir)

    def _corrupt(self, path: Path, why: str) -> None:
        """Warn once per file (a file read twice in one run is reported once)."""
        if path not in self._warned:
            self._warned.add(path)
            _warn_corrupt(path, why, self.action)

    # config ----------------------------------------------------------------------------------
    def prepare(self, record: Mapping[str, Any]) -> None:
        """Set the folder up for writing (hold :meth:`lock`): check or write ``config.json``, tidy up.

        A verified ``config.json`` of another run is refused; one that is damaged (or has no checksum)
        is reported and rewritten from ``record`` (the folder's name is the record's hash, so the
        same config maps here); one of the same run is left as first written (fields outside the
        hash, such as ``out_dir`` or ``progress``, may differ between reruns). Stale temp files are removed;
        checksum files without their file are left to :meth:`tidy` (reported first, as missing files).
        """
        if self.run_dir is None:
            return
        path = self.run_dir / "config.json"
        data, why = _read_checked(path)
        if why is not None and _legacy(path):  # rewritten below with its checksum, no warning
            data, why = None, None
        if data is not None:
            old, why = _decode(path, data, None)
            if why is None and (old.get("hash"), old.get("hashed")) != (record["hash"], record["hashed"]):
                raise RuntimeError(f"{self.run_dir} holds a different run (config.json differs); "
                                   f"choose another out_dir")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.run_dir.rglob(".*.tmp"):
            with suppress(OSError):
                tmp.unlink()
        if why is not None:
            self._corrupt(path, why)
        if data is None or why is not None:  # an intact record of this run stays as first written
            save_verified(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    def tidy(self) -> None:
        """Remove checksum files whose file is gone (after a rerun has recomputed what it reported)."""
        if self.run_dir is None:
            return
        for check in self.run_dir.rglob("*.sha256"):
            if not check.with_suffix("").exists():
                with suppress(OSError):
                    check.unlink()

    # generic records -------------------------------------------------------------------------
    def save(self, r: int, name: str, obj: Any) -> None:
        """Store a torch object (state dict, mask, checkpoint) as ``round_rr/name``."""
        if self.run_dir is None:
            self._mem[(r, name)] = _detach(obj)
        else:
            path = self.round_dir(r) / name
            save_verified(path, _to_bytes(obj))
            self._warned.discard(path)

    #: whether this store writes (a process group's other ranks only read: lottery_lab.distributed)
    writes = True

    def _checked(self, path: Path) -> tuple[bytes | None, str | None]:
        """:func:`_read_checked` of ``path`` (a process group's ranks get rank 0's reading)."""
        return _read_checked(path)

    def _read(self, r: int, name: str, device: torch.device | str | None) -> Any | None:
        path = self.round_dir(r) / name
        data, why = self._checked(path)
        if why is None and data is not None:
            obj, why = _decode(path, data, device)
            if why is None:
                return obj
        if why is not None:
            self._corrupt(path, why)
        return None

    def load(self, r: int, name: str) -> Any | None:
        """A stored torch object on the run's device (``None`` if absent or corrupt)."""
        if self.run_dir is None:
            obj = self._mem.get((r, name))
            return None if obj is None else _detach(obj)
        return self._read(r, name, self.device)

    def save_json(self, r: int, name: str, obj: Any) -> None:
        if self.run_dir is None:
            self._mem[(r, name)] = json.loads(json.dumps(obj))
        else:
            path = self.round_dir(r) / name
            save_verified(path, (json.dumps(obj, indent=2) + "\n").encode())
            self._warned.discard(path)

    def load_json(self, r: int, name: str) -> Any | None:
        if self.run_dir is None:
            return self._mem.get((r, name))
        return self._read(r, name, None)

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
        """A checkpoint inside ``phase`` of round ``r`` (disk only)."""
        if self.run_dir is not None:
            self.save(r, f"ckpt_{phase}.pt", state)

    def load_checkpoint(self, r: int, phase: str) -> Any | None:
        """The phase's checkpoint, on the CPU whatever the run's device (``load_state_dict`` places it)."""
        return self._read(r, f"ckpt_{phase}.pt", "cpu") if self.run_dir is not None else None

    def clear_checkpoints(self, r: int) -> None:
        if self.run_dir is not None:
            for p in self.round_dir(r).glob("ckpt_*.pt"):
                _remove(p)

    def forget(self, r: int, name: str) -> None:
        """In memory, drop round ``r``'s ``name`` once no later round needs it (on disk it stays: a
        rerun that recomputes a later round needs it)."""
        if self.run_dir is None:
            self._mem.pop((r, name), None)

    # rounds ----------------------------------------------------------------------------------
    def round_files(self, r: int, metrics: Mapping[str, Any], extra: Sequence[str] = ()) -> list[str]:
        """The files finished round ``r`` promises: those its metrics list (older records: the usual ones)."""
        if "files" in metrics:
            return list(metrics["files"])
        names = ["mask.pt", "weights.pt", *extra] + (["phases.json"] if r > 0 else [])
        if self.run_dir is not None and (self.exists(r, "scores.pt") or self.exists(r, "scores.pt.sha256")):
            names.append("scores.pt")
        return names

    def check_round(self, r: int, extra: Sequence[str] = ()) -> tuple[dict | None, list[Damaged]]:
        """``(metrics, damaged)``: metrics is ``None`` unless round ``r`` is finished and every file checks out.

        Pure: warns about nothing and changes nothing on disk. A round without ``metrics.json`` and
        without its checksum has not finished (no damage); one whose metrics went missing has.
        """
        if self.run_dir is None:
            metrics = self.load_json(r, "metrics.json")
            return metrics, []
        rel = f"round_{r:02d}"
        path = self.round_dir(r) / "metrics.json"
        data, why = _read_checked(path)
        if data is None:
            return None, ([] if why is None else [Damaged(r, f"{rel}/metrics.json", why)])
        metrics, why = _decode(path, data, None)
        if why is not None:
            return None, [Damaged(r, f"{rel}/metrics.json", why)]
        damaged = []
        for name in self.round_files(r, metrics, extra):
            p = self.round_dir(r) / name
            data, why = _read_checked(p)
            if data is None and why is None:
                why = "missing"
            elif data is not None and p.suffix == ".pt":  # hashes right: still must unpickle
                why = _decode(p, data, "cpu")[1]
            if why is not None:
                damaged.append(Damaged(r, f"{rel}/{name}", why))
        return (None if damaged else metrics), damaged

    def finished_round(self, r: int, extra: Sequence[str] = ()) -> dict | None:
        """Round ``r``'s metrics if the round is finished and all its files check out, else ``None``.

        Each damaged file is reported once (:class:`CorruptFileWarning`); nothing is removed.
        """
        metrics, damaged = self.check_round(r, extra)
        for d in damaged:
            self._corrupt(self.run_dir / d.file, d.why)
        return metrics

    def masks(self, n: int) -> Sequence:
        """The masks of rounds 0 … n − 1: loaded on access from disk, or the kept ones in memory."""
        if self.run_dir is None:
            return [self.load(r, "mask.pt") for r in range(n)]
        return _StoredMasks(self, list(range(n)))

    def write_results(self, rows: list[dict]) -> None:
        """Rewrite ``results.csv`` (checksummed) from ``rows`` unless it already holds exactly them."""
        if self.run_dir is not None:
            path = self.run_dir / "results.csv"
            new = csv_bytes(rows)
            data, why = _read_checked(path)
            if why is not None and not _legacy(path):
                self._corrupt(path, why)
            if data != new:
                save_verified(path, new)


def _to_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# ------------------------------------------------------------------------------ reading a run

class _StoredMasks(Sequence):
    """``masks[i]``: the mask of the i-th finished round (``rounds[i]``), loaded when asked for."""

    def __init__(self, store: RunStore, rounds: list[int]):
        self._store, self._rounds = store, rounds

    def __len__(self) -> int:
        return len(self._rounds)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"round {i} out of range: the run has {len(self)} finished rounds")
        return self._store.load(self._rounds[i], "mask.pt")


@dataclass
class LotteryResult:
    """The outcome of :func:`lottery_lab.lottery.play` (or :func:`load`).

    Attributes
    ----------
    rows : one dict per finished round (``rows[0]``: the dense network), with at least
        ``round, density, test_acc, test_loss, train_loss, method, seed, wall_s``
        (and ``reinit_acc, reinit_loss`` when the config asks for the reinitialisation control).
        From :func:`load`, only the rounds whose files all check out (see ``damaged``).
    config : the :class:`~lottery_lab.lottery.LotteryConfig`.
    run_dir : where the records live (``None`` for ``out_dir=None``).
    masks : ``masks[i]`` is the mask of ``rows[i]`` (loaded on access for runs on disk).
    layer_densities : per row, parameter name -> density.
    damaged : from :func:`load`, the stored files that failed verification (never
        from ``play``, which recomputes them).
    recompute : the command that recomputes what ``damaged`` names (``None`` when nothing is damaged).
    """

    rows: list[dict]
    config: "LotteryConfig"
    run_dir: Path | None
    masks: Sequence
    layer_densities: list[dict[str, float]] = field(default_factory=list)
    _store: RunStore | None = field(default=None, repr=False)
    damaged: list[Damaged] = field(default_factory=list)
    recompute: str | None = None

    def scores(self, r: int) -> dict[str, torch.Tensor] | None:
        """The continuous scores round r's mask was cut from (the concave method's m), if kept.

        A corrupt file gives ``None`` and a :class:`CorruptFileWarning` saying how to
        recompute it.
        """
        return None if self._store is None else self._store.load(r, "scores.pt")

    def weights(self, r: int) -> dict[str, torch.Tensor] | None:
        """Round r's trained ticket as a state dict (``None`` if not kept)."""
        return None if self._store is None else self._store.load(r, "weights.pt")

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :attr:`rows` as CSV (atomically); returns the path."""
        path = Path(path)
        atomic_write(path, csv_bytes(self.rows))
        return path

    def table(self) -> str:
        """The rows as a fixed-width text table (:func:`lottery_lab.results.run_table`)."""
        return run_table(self.rows, f"{self.config.method} (seed {self.config.seed})")

    def plot(self, ax=None, label: str | None = None, **kw):
        """Test accuracy against density (log x, pruning goes right); returns the axes
        (:func:`lottery_lab.plots.lottery.result_curve`)."""
        from lottery_lab.plots.lottery import result_curve

        return result_curve(self, ax=ax, label=label, **kw)

    def __str__(self) -> str:
        return self.table()


def _legacy_consistent(record: Mapping[str, Any], config: "LotteryConfig") -> bool:
    """Whether an unchecksummed record of an earlier version is intact though its config no longer
    hashes to its folder: its ``hashed`` fields hash to its ``hash`` (the rule of that version), and
    its config agrees with them (fields it did not hash at their defaults), so only the method's
    defaults (not recorded) can have moved."""
    from dataclasses import MISSING, fields

    from lottery_lab.config import NOT_HASHED

    hashed = record.get("hashed")
    if not isinstance(hashed, dict):
        return False
    payload = dict(hashed)
    if record.get("data_fingerprint") is not None:
        payload["data_fingerprint"] = record["data_fingerprint"]
    if hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10] != record.get("hash"):
        return False
    values = config.to_dict()
    for f in fields(config):
        if f.name in NOT_HASHED:
            continue
        if f.name == "method_kw":
            if any(values["method_kw"].get(k) != v for k, v in hashed.get("method_kw", {}).items()):
                return False
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        expected = hashed.get(f.name, list(default) if isinstance(default, tuple) else default)
        if values[f.name] != expected:
            return False
    return True


def _recompute_command(run_dir: Path, record: Mapping[str, Any]) -> str:
    if record.get("data_fingerprint") is not None:
        return (f"lottery.play(dataclasses.replace(runs.load({str(run_dir)!r}).config, "
                f"out_dir={str(run_dir.parent)!r}), data=<the tensors the run was trained on>)")
    return f"lottery-lab run --config {run_dir / 'config.json'}"


def _round_numbers(run_dir: Path) -> list[int]:
    found = [int(p.name[6:]) for p in run_dir.glob("round_*") if p.is_dir() and p.name[6:].isdigit()]
    return list(range(max(found) + 1)) if found else []


def load(run_dir: str | os.PathLike) -> LotteryResult:
    """The :class:`LotteryResult` of a stored run, read without changing anything on disk.

    ``rows`` holds every round whose files all check out; ``damaged`` names each file that does not
    (one :class:`CorruptFileWarning` each), and ``recompute`` the command that recomputes them (a
    rerun of the same config recomputes only the damaged rounds). Works on read-only media.

    Raises
    ------
    FileNotFoundError : ``run_dir`` has no ``config.json``.
    ValueError : ``config.json`` is corrupt or not a run record (the run's identity is unknown: rerun
        the command that made the run; it lands in the same folder and rewrites the file).
    """
    from lottery_lab.config import LotteryConfig

    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no config.json")
    data, why = _read_checked(path)
    damaged: list[Damaged] = []
    legacy = why is not None and _legacy(path)
    if why is not None:  # still usable if it parses and its config hashes to the record's hash
        if not legacy:
            damaged.append(Damaged(None, "config.json", why))
        data = path.read_bytes()
    try:
        record = json.loads(data)
        config = LotteryConfig.from_dict(record["config"])
        rehashed = config.short_hash(record.get("data_fingerprint"))
        trusted = why is None or rehashed == record["hash"]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path} is not a readable run record ({type(exc).__name__}: {exc}); rerun the "
                         f"command that made the run: it lands in this folder and rewrites config.json") from None
    if legacy and not trusted and _legacy_consistent(record, config):  # shown as recorded, never reused
        warnings.warn(f"{path} was written by an earlier lottery_lab (no checksum) whose defaults for this "
                      f"method differ from today's (its config now hashes to {rehashed!r}, not "
                      f"{record.get('hash')!r}): its results are shown as recorded; the same config run "
                      f"today starts a new folder", UserWarning, stacklevel=2)
        trusted = True
    if not trusted:
        raise ValueError(f"{path} is corrupt ({why}) and its config does not hash to the run's hash "
                         f"{record.get('hash')!r}: the run's identity is unknown; rerun the command that made "
                         f"the run: it lands in this folder and rewrites config.json")
    command = _recompute_command(run_dir, record)
    store = RunStore(run_dir, action=f"recompute it with: {command}")
    rows, layers, finished = [], [], []
    numbers = _round_numbers(run_dir)
    for r in numbers:
        metrics, bad = store.check_round(r, ("rewind.pt",) if r == 0 else ())
        if metrics is None and not bad and r != numbers[-1]:
            bad = [Damaged(r, f"round_{r:02d}/metrics.json", "missing")]
        damaged += bad
        if metrics is not None:
            rows.append(metrics["row"])
            layers.append(metrics.get("layer_density", {}))
            finished.append(r)
    csv_path = run_dir / "results.csv"
    csv_data, csv_why = _read_checked(csv_path)
    if csv_why is None and csv_data is None and finished:
        csv_why = "missing"
    if csv_why is not None and not _legacy(csv_path):
        damaged.append(Damaged(None, "results.csv", csv_why))
    for d in damaged:
        store._corrupt(run_dir / d.file, d.why)
    return LotteryResult(rows, config, run_dir, _StoredMasks(store, finished), layers, store,
                         damaged=damaged, recompute=command if damaged else None)
