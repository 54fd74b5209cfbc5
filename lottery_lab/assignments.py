"""Student versions of the instructor notebooks in ``notebooks/assignments/``, and their nbgrader metadata.

An instructor notebook holds each solution between nbgrader's marker comments::

    def log_penalty(m, eps):
        ### BEGIN SOLUTION
        return eps * np.log1p(np.abs(m) / eps)
        ### END SOLUTION

and after it a cell ``check("convex.log_penalty", log_penalty)``. :func:`build` writes the student
versions: every region between the markers becomes ``raise NotImplementedError(...)`` at the same
indentation, outputs are cleared, nothing else changes. Solution and check cells carry nbgrader
metadata (solution cell: ``solution``; check cell: ``grade`` with the task's points, ``locked``), so
that a course running nbgrader can import the notebooks as they are.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["BEGIN", "END", "strip_solutions", "nbgrader_metadata", "tag", "tag_folder", "student_version", "build"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("your code here")'

_CHECK = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


def strip_solutions(source: str) -> str:
    """``source`` with every BEGIN…END SOLUTION region (markers included) replaced by a stub.

    Raises ValueError on an END without a BEGIN, a BEGIN inside a region, or a region left open.
    """
    out: list[str] = []
    indent: str | None = None
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        text = line.strip()
        if text == BEGIN:
            if indent is not None:
                raise ValueError(f"line {number}: {BEGIN!r} inside a solution region")
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{STUB}\n")
        elif text == END:
            if indent is None:
                raise ValueError(f"line {number}: {END!r} without {BEGIN!r}")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError(f"a solution region is not closed by {END!r}")
    stripped = "".join(out)
    return stripped.rstrip("\n") if not source.endswith("\n") else stripped


def _has_solution(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.splitlines())


def nbgrader_metadata(cell: Any) -> dict | None:
    """The nbgrader metadata a cell should carry: solution cells, check cells; None for the others."""
    if cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    if _has_solution(source):
        names = _DEF.findall(source)
        if not names:
            raise ValueError(f"a solution cell must define the task's function (no 'def' in: {source[:60]!r})")
        return {"grade": False, "grade_id": f"solution-{names[0]}", "locked": False, "schema_version": 3,
                "solution": True, "task": False}
    ids = _CHECK.findall(source)
    if ids:
        from lottery_lab.grading import get_task

        task = get_task(ids[0])
        return {"grade": True, "grade_id": f"check-{task.id.replace('.', '-')}", "locked": True,
                "points": task.points, "schema_version": 3, "solution": False, "task": False}
    return None


def tag(nb: Any) -> bool:
    """Write :func:`nbgrader_metadata` into every cell of ``nb`` (in place); True when anything changed."""
    changed = False
    for cell in nb.cells:
        want = nbgrader_metadata(cell)
        have = cell.get("metadata", {}).get("nbgrader")
        if want != have:
            changed = True
            if want is None:
                del cell.metadata["nbgrader"]
            else:
                cell.metadata["nbgrader"] = want
    return changed


def student_version(nb: Any) -> Any:
    """A copy of the instructor notebook ``nb`` with solutions stubbed and outputs cleared.

    Raises ValueError when a cell's nbgrader metadata is missing or stale (run ``lottery-lab
    assignments tag``), so that a built notebook never carries metadata that disagrees with its cells.
    """
    for i, cell in enumerate(nb.cells):
        if nbgrader_metadata(cell) != cell.get("metadata", {}).get("nbgrader"):
            raise ValueError(f"cell {i}: nbgrader metadata missing or out of date; "
                             "run `lottery-lab assignments tag` on the instructor notebooks")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if _has_solution(cell.source):
            cell.source = strip_solutions(cell.source)
    return out


def _student_version_of(path: Path) -> Any:
    """:func:`student_version` of the notebook at ``path``; its errors name the notebook."""
    try:
        return student_version(nbformat.read(path, as_version=4))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _notebooks(source: Path) -> list[Path]:
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"source must be a folder of instructor notebooks; {str(source)!r} is not a folder")
    found = sorted(p for p in source.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise ValueError(f"source {str(source)!r} holds no .ipynb notebooks")
    return found


def tag_folder(source: str | Path) -> list[tuple[Path, bool]]:
    """:func:`tag` every notebook in ``source`` and rewrite those that changed; (path, changed) each."""
    out = []
    for path in _notebooks(Path(source)):
        nb = nbformat.read(path, as_version=4)
        changed = tag(nb)
        if changed:
            nbformat.write(nb, path)
        out.append((path, changed))
    return out


def build(source: str | Path, out_dir: str | Path) -> list[Path]:
    """Write the student version of every notebook in ``source`` to ``out_dir``; the paths written."""
    paths = _notebooks(Path(source))
    out = Path(out_dir)
    if out.resolve() == Path(source).resolve():
        raise ValueError("out_dir must differ from source: the build would overwrite the instructor notebooks")
    students = [(p, _student_version_of(p)) for p in paths]  # all checked before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p, nb in students:
        target = out / p.name
        nbformat.write(nb, target)
        written.append(target)
    return written
