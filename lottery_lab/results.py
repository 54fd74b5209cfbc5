"""What runs found, as summaries and text: the presentation side of the run store.

:mod:`lottery_lab.runs` keeps a run's files and reads them back as a
:class:`~lottery_lab.runs.LotteryResult`; this module says how rows are shown: a run's table
(:func:`run_table`) and CSV export (:func:`csv_bytes`), the mean ± std over seeds (:func:`mean_std`,
the one place it is computed: :func:`summarize`, ``lottery-lab report``/``demo``, the lottery plots
and :mod:`lottery_lab.compare`) and the CLI's summary tables. Figures are drawn by
:mod:`lottery_lab.plots` from these summaries. Imports neither torch nor matplotlib, nor the store.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["ROW_KEYS", "count", "plural", "csv_bytes", "mean_std", "rows_of", "summarize", "summary_table",
           "summary_records", "run_table"]

#: the columns of a run's rows, in the order the CSV export writes them (other keys follow)
ROW_KEYS = ("round", "density", "test_acc", "test_loss", "train_loss", "method", "seed", "wall_s")


# ------------------------------------------------------------------------------ numbers over seeds

def plural(n: int, noun: str) -> str:
    """``noun`` in the singular for 1 and the plural otherwise ("seed", "seeds")."""
    return noun if n == 1 else f"{noun}s"


def count(n: int, noun: str) -> str:
    """``n`` with ``noun`` in the singular for 1 and the plural otherwise ("1 round", "3 rounds")."""
    return f"{n} {plural(n, noun)}"


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """``(mean, std, n)`` of ``values`` (one per seed); the std with ``ddof=0``, so one seed has 0.

    The one place the package averages over seeds: :func:`summarize` (report, demo, the lottery
    plots) and :func:`lottery_lab.compare.aggregate` / :func:`~lottery_lab.compare.dense_baseline`.
    """
    a = np.asarray([float(v) for v in values], dtype=float)
    if a.size == 0:
        raise ValueError("values=[] must hold at least one number (one per seed)")
    return float(a.mean()), float(a.std()), int(a.size)


def rows_of(results: Any) -> list[dict]:
    """Result rows as dicts, from a ``LotteryResult`` (``.rows``), rows, or lists mixing them."""
    if hasattr(results, "rows"):
        return [_as_dict(r) for r in results.rows]
    out: list[dict] = []
    for item in results:
        out.extend(rows_of(item) if hasattr(item, "rows") or isinstance(item, (list, tuple)) else [_as_dict(item)])
    return out


def _as_dict(row: Any) -> dict:
    if isinstance(row, Mapping):
        return dict(row)
    if dataclasses.is_dataclass(row):
        return dataclasses.asdict(row)
    if hasattr(row, "_asdict"):
        return row._asdict()
    raise TypeError(f"cannot read a result row from {type(row).__name__}")


def summarize(rows: Iterable[Mapping], by: str = "method", y: str = "test_acc") -> dict[str, dict[str, np.ndarray]]:
    """Mean and std over seeds of ``density`` and ``y`` at each round, per value of ``by``.

    Returns ``{label: {"round", "density", "density_std", "mean", "std", "n"}}`` (arrays by round).
    """
    groups: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[str(r[by])][int(r["round"])].append((float(r["density"]), float(r[y])))
    out = {}
    for label, by_round in groups.items():
        rounds = sorted(by_round)
        d = [mean_std(v[0] for v in by_round[k]) for k in rounds]
        a = [mean_std(v[1] for v in by_round[k]) for k in rounds]
        out[label] = {
            "round": np.array(rounds), "density": np.array([x[0] for x in d]),
            "density_std": np.array([x[1] for x in d]),
            "mean": np.array([x[0] for x in a]), "std": np.array([x[1] for x in a]),
            "n": np.array([x[2] for x in a]),
        }
    return out


def summary_table(summary: Mapping[str, Mapping[str, np.ndarray]], by: str = "method") -> str:
    """Density and test accuracy (mean ± std over seeds) per round, one block per ``by`` value.

    With one seed there is no spread: its ``± std`` reads ``—``, not a 0 that looks measured.
    """
    lines = [f"{by:<12}{'round':>6}{'density':>10}{'test acc':>11}{'± std':>8}{'seeds':>7}"]
    for label, s in summary.items():
        for i in range(len(s["round"])):
            n = int(s["n"][i])
            std = f"{s['std'][i]:.4f}" if n > 1 else "—"
            lines.append(f"{label:<12}{int(s['round'][i]):>6}{s['density'][i]:>10.4f}{s['mean'][i]:>11.4f}"
                         f"{std:>8}{n:>7}")
    return "\n".join(lines)


def summary_records(s: Mapping[str, np.ndarray]) -> list[dict]:
    """One :func:`summarize` entry as JSON-ready records, one per round (the CLI's ``--json``)."""
    return [{"round": int(s["round"][i]), "density": float(s["density"][i]), "test_acc_mean": float(s["mean"][i]),
             "test_acc_std": float(s["std"][i]), "n": int(s["n"][i])} for i in range(len(s["round"]))]


# ------------------------------------------------------------------------------------ one run

def run_table(rows: Sequence[Mapping], head: str) -> str:
    """A run's rows as a fixed-width text table under the line ``head``."""
    cols = [("round", "round", "{:d}"), ("density", "density", "{:.4f}"), ("test_acc", "test acc", "{:.4f}"),
            ("train_loss", "train loss", "{:.4f}"), ("wall_s", "wall s", "{:.1f}")]
    if any("reinit_acc" in row for row in rows):
        cols.append(("reinit_acc", "reinit acc", "{:.4f}"))
    lines = [head, "  ".join(f"{title:>10}" for _, title, _ in cols)]
    for row in rows:
        cells = []
        for key, _, fmt in cols:
            v = row.get(key)
            cells.append(f"{'-' if v is None else fmt.format(v):>10}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


def csv_bytes(rows: Sequence[Mapping]) -> bytes:
    """Rows as CSV: the :data:`ROW_KEYS` that occur first, then any other key in order of appearance."""
    keys: list[str] = [k for k in ROW_KEYS if any(k in row for row in rows)]
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return buf.getvalue().encode()
