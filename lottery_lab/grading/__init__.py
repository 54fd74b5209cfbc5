"""Automatic checks for the course assignments: ``check("<task-id>", student_fn)``.

Each task has randomised property checks against the library's own implementation (several shapes,
dtypes and edge cases). A check never shows a traceback from inside the grader: whatever the
student's function does — a wrong signature, an exception, an endless loop, a wrong type, shape or
value — ends as one line saying which input failed, what was expected and a hint.

>>> from lottery_lab.grading import check
>>> import numpy as np
>>> check("convex.log_penalty", lambda m, eps: eps * np.log1p(np.abs(m) / eps)).passed
True

The returned :class:`CheckResult` is the score: ``points`` of ``max_points`` (all or nothing),
``to_dict()`` for a gradebook; :func:`summary` adds up every check run in this session. A notebook
shows a check cell's result as the verdict line, while its plain-text value is the points earned:
nbgrader's autograder reads that as the grade cell's partial credit (0 or all of the cell's points).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

from lottery_lab.grading._core import CheckResult, Summary, Task, not_run, run_check

__all__ = ["check", "summary", "reset", "tasks", "get_task", "CheckResult", "Summary", "Task", "CHAPTERS"]

#: chapter name → module holding its ``TASKS`` (torch is imported only by the chapters that need it)
CHAPTERS = {
    "convex": "lottery_lab.grading.tasks_convex",
    "lottery": "lottery_lab.grading.tasks_lottery",
    "methods": "lottery_lab.grading.tasks_methods",
    "theory": "lottery_lab.grading.tasks_theory",
}

_results: dict[str, CheckResult] = {}


def tasks(chapter: str | None = None) -> list[Task]:
    """The tasks of one chapter (``"convex"``, ``"lottery"``, ``"methods"``, ``"theory"``), or of all."""
    if chapter is not None and chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {', '.join(CHAPTERS)}; got {chapter!r}")
    names = [chapter] if chapter is not None else list(CHAPTERS)
    return [t for name in names for t in importlib.import_module(CHAPTERS[name]).TASKS]


def get_task(task_id: str) -> Task:
    """The task called ``task_id`` ("chapter.function"); ValueError listing the chapter's tasks otherwise."""
    if not isinstance(task_id, str):
        raise TypeError(f"task_id must be a str such as 'convex.log_penalty', got {type(task_id).__name__}")
    chapter = task_id.split(".", 1)[0]
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown task {task_id!r}: the chapter must be one of {', '.join(CHAPTERS)}")
    found = {t.id: t for t in tasks(chapter)}
    if task_id not in found:
        raise ValueError(f"unknown task {task_id!r}; the {chapter} tasks are: {', '.join(found)}")
    return found[task_id]


def check(task_id: str, fn: Callable[..., Any], *, seed: int | None = None) -> CheckResult:
    """Check a student's implementation of a task; the result's ``str`` is the one-line verdict.

    Parameters
    ----------
    task_id : str
        "chapter.function", e.g. ``"convex.log_penalty"`` (see :func:`tasks`).
    fn : callable
        The student's function. It is called on copies of the inputs, each call under the task's
        time limit (in a forked child process killed at the limit, where fork exists); anything
        it raises or prints to stderr stays inside the check, what it prints to stdout is shown.
    seed : int, optional
        Seed of the random cases; None draws a fresh one (shown in a failure line, to repeat it).

    Returns
    -------
    CheckResult
        ``status`` "passed", "failed" or "not implemented" (the function raises NotImplementedError),
        ``points``/``max_points``, the number of cases passed, and the line.
    """
    task = get_task(task_id)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    result = run_check(task, fn, int(seed))
    _results[task.id] = result
    return result


def summary(chapter: str | None = None) -> Summary:
    """The latest result per task of every chapter checked in this session (or of ``chapter`` only),
    with totals; print it for a table.

    A task of such a chapter whose check never ran (its cell stopped by an error above it) is listed
    as "not run" with 0 of its points, so that the total counts every task of the assignment.
    """
    chapters = [chapter] if chapter is not None else list(dict.fromkeys(r.task.split(".", 1)[0] for r in _results.values()))
    return Summary([_results[t.id] if t.id in _results else not_run(t) for name in chapters for t in tasks(name)])


def reset() -> None:
    """Forget the results :func:`summary` adds up (e.g. between two students' notebooks in one process)."""
    _results.clear()
