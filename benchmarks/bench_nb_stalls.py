"""How often a notebook cell's reply reaches nbclient only when its poll times out ("stalls").

Executes the tutorial notebooks (``notebooks/0*.ipynb``, quick mode) one after another, in this
process, through ``nbclient.NotebookClient`` with a short cell timeout, and counts the executions in
which some cell's reply arrived late: the client saw the reply more than half a timeout after the
kernel had sent it (client-side duration from nbclient's ``on_cell_execute``/``on_cell_executed``
hooks minus the kernel-side duration ``shell.execute_reply - iopub.execute_input`` that
``record_timing`` stores). A stalled cell waits the timeout and goes on without error, so the count of
timeouts alone would not see it.

Also counts the figures saved inside ``Output`` widgets (the notebook's widget state) per execution,
to show that the remedy keeps them. ``--mode stock`` runs jupyter_client's own channel, ``--mode remedy`` runs with
``lottery_lab._nbexec.install()`` (what the test and book harnesses use), ``--mode both`` (the default)
alternates the two execution by execution, so that both see the same load. Prints the load average
(the machine may be shared), the stalls per notebook and in all.

    python benchmarks/bench_nb_stalls.py [--mode both|stock|remedy] [--executions N] [--timeout S] [NOTEBOOK ...]
    python benchmarks/bench_nb_stalls.py --stress 20 --executions 40 --timeout 10   # widget traffic only

Measured 2026-12-02 on the shared 2-core machine (other sessions' load; load average 3-7), pyzmq 27.3.0,
jupyter_client 8.10.0, nbclient 0.11.0, ipykernel 6.31.0:
``--executions 100 --timeout 40``: stock 1/50 executions stalled (notebook 04's explorer cell, reply
after 40.0 s, kernel 0.5 s), remedy 0/50; figures inside Output widgets identical in every execution
(01, 03, 04, 05: 1; 02: 0). ``--stress 20 --executions 80 --timeout 10``: stock 20/40 executions (32
cells), remedy 0/40.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["LOTTERY_LAB_QUICK"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from lottery_lab import _nbexec  # noqa: E402


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def widget_figures(nb: nbformat.NotebookNode) -> int:
    """Figures (``image/png`` outputs) held by the ``Output`` widgets in the notebook's saved widget state."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return sum("image/png" in out.get("data", {}) for model in state.values()
               if model.get("model_name") == "OutputModel" for out in model["state"].get("outputs", []))


def stress_notebook(cells: int, folder: Path) -> Path:
    """A notebook of ``cells`` cells that each print into a new ``Output`` widget: the widget traffic of
    an explorer cell without its computation, so that many replies race the widget's sends."""
    source = ("import ipywidgets as widgets\nout = widgets.Output()\ndisplay(out)\nwith out:\n"
              "    for i in range(3):\n        print('line', i, flush=True)\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for _ in range(cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"stress_{cells}_output_widgets.ipynb"
    nbformat.write(nb, path)
    return path


def execute(path: Path, timeout: int) -> tuple[list[tuple[int, float, float]], str | None, float, int]:
    """Execute one notebook: ([(cell index, client seconds, kernel seconds)], error or None, wall seconds,
    figures saved inside Output widgets)."""
    nb = nbformat.read(path, as_version=4)
    started: dict[int, float] = {}
    seen: dict[int, float] = {}

    def on_execute(cell: nbformat.NotebookNode, cell_index: int) -> None:
        started[cell_index] = time.monotonic()

    def on_executed(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        seen[cell_index] = time.monotonic()

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=on_execute, on_cell_executed=on_executed)
    error = None
    t0 = time.monotonic()
    try:
        client.execute()
    except Exception as exc:  # a real timeout or a cell error: counted, reported, not a stall
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    wall = time.monotonic() - t0
    cells = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if i in seen and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            kernel = _stamp(timing["shell.execute_reply"]) - _stamp(timing["iopub.execute_input"])
            cells.append((i, seen[i] - started[i], kernel))
    return cells, error, wall, widget_figures(nb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "notebooks").glob("0*.ipynb")))
    parser.add_argument("--executions", type=int, default=50, help="notebook executions in all (round robin)")
    parser.add_argument("--timeout", type=int, default=20, help="nbclient's cell timeout, seconds")
    parser.add_argument("--mode", choices=["both", "stock", "remedy"], default="both",
                        help="stock: jupyter_client as installed; remedy: with _nbexec.install(); both: alternate")
    parser.add_argument("--stress", type=int, metavar="CELLS", default=0,
                        help="execute a generated notebook of CELLS Output-widget cells instead")
    args = parser.parse_args()
    if args.stress:
        args.notebooks = [stress_notebook(args.stress, Path(tempfile.mkdtemp()))]
    modes = ["stock", "remedy"] if args.mode == "both" else [args.mode]
    print(f"modes {modes}; cell timeout {args.timeout} s; {args.executions} executions of "
          f"{len(args.notebooks)} notebooks; load average {os.getloadavg()}", flush=True)
    counts = {(m, p.name): [0, 0] for m in modes for p in args.notebooks}
    figs: dict[tuple[str, str], set[int]] = {(m, p.name): set() for m in modes for p in args.notebooks}
    errors = 0
    t_all = time.monotonic()
    for n in range(args.executions):
        mode = modes[n % len(modes)]
        path = args.notebooks[(n // len(modes)) % len(args.notebooks)]
        if mode == "stock":
            _nbexec.uninstall()
        elif not _nbexec.install():
            raise SystemExit("the remedy is not needed or not installable for these versions")
        cells, error, wall, figures = execute(path, args.timeout)
        late = [(i, c, k) for i, c, k in cells if c - k > args.timeout / 2]
        counts[mode, path.name][0] += 1
        counts[mode, path.name][1] += bool(late)
        errors += error is not None
        detail = ", ".join(f"cell {i}: client {c:.1f} s, kernel {k:.1f} s" for i, c, k in late)
        figs[mode, path.name].add(figures)
        print(f"{n + 1:3d} {mode:6s} {path.name:28s} {wall:6.1f} s  {figures} widget figures  "
              f"{'STALL ' + detail if late else 'ok'}"
              f"{'  ERROR ' + error if error else ''}  load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"{time.monotonic() - t_all:.0f} s; errors: {errors}; load average {os.getloadavg()}")
    for mode in modes:
        runs = sum(counts[mode, p.name][0] for p in args.notebooks)
        late = sum(counts[mode, p.name][1] for p in args.notebooks)
        per = ", ".join(f"{p.stem[:2]} {counts[mode, p.name][1]}/{counts[mode, p.name][0]}" for p in args.notebooks)
        print(f"{mode:6s} stalls: {late}/{runs} executions ({per})")
        print(f"       figures inside Output widgets per execution: "
              + ", ".join(f"{p.stem[:2]} {sorted(figs[mode, p.name])}" for p in args.notebooks))

if __name__ == "__main__":
    main()
