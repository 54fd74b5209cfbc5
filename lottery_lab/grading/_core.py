"""The grader's machinery: tasks, cases, a guarded call of the student's function, and the result.

A :class:`Task` draws its :class:`Case` s from a seeded generator; every case holds the inputs and the
output the library's own implementation gives for them. The student's function is called on copies of
the inputs, under a time limit, with warnings and stderr captured, so that whatever it does (a wrong
signature, an exception, an endless loop, a wrong type or shape) ends as one line of text and never
as a traceback from inside the grader.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import html
import inspect
import io
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: status values of a :class:`CheckResult`
PASSED, FAILED, NOT_IMPLEMENTED = "passed", "failed", "not implemented"
_MARK = {PASSED: "✅", FAILED: "❌", NOT_IMPLEMENTED: "⏳"}


class Mismatch(Exception):
    """Raised by a comparison: the student's output is not the expected one (the message says how)."""


@dataclass(frozen=True)
class Case:
    """One input for the student's function, with the reference output.

    ``describe`` says what the input is in a few words (shown when the case fails).
    """

    args: tuple
    expected: Any
    describe: str


@dataclass(frozen=True)
class Task:
    """A task of an assignment: what to implement, how to draw its cases, how to compare outputs.

    Parameters
    ----------
    id : "chapter.name", as passed to :func:`lottery_lab.grading.check`.
    title : one line, what the function computes.
    params : the names of the function's parameters, in order.
    points : what passing is worth (all or nothing).
    hint : one sentence shown with every failure.
    cases : draws the cases from a numpy Generator; called once per check.
    compare : raises :class:`Mismatch` when ``got`` is not ``expected`` for that case.
    time_limit : seconds one call of the student's function may take.
    """

    id: str
    title: str
    params: tuple[str, ...]
    points: int
    hint: str
    cases: Callable[[np.random.Generator], list[Case]]
    compare: Callable[[Any, Any], None]
    time_limit: float = 2.0

    @property
    def chapter(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def function(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def signature(self) -> str:
        return f"{self.function}({', '.join(self.params)})"


@dataclass
class CheckResult:
    """The outcome of one check, for a student (its ``str`` is the one-line verdict) and a grader.

    Attributes
    ----------
    task, title : the task's id and title.
    status : ``"passed"``, ``"failed"`` or ``"not implemented"``.
    points, max_points : points earned (all or nothing) and possible.
    checks_passed, checks : how many of the drawn cases the function got right, of how many.
    message : the one-line verdict (which input failed, what was expected, a hint).
    seed : the seed the cases were drawn from (``check(..., seed=seed)`` repeats them).
    seconds : wall time the check took.
    """

    task: str
    title: str
    status: str
    points: float
    max_points: float
    checks_passed: int
    checks: int
    message: str
    seed: int
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """In a notebook: the verdict line as HTML, and the points earned as the plain-text value.

        nbgrader's autograder reads a grade cell's plain-text output as partial credit, so a check
        cell is scored by its own result; frontends show the HTML line.
        """
        line = html.escape(self.message)
        return {"text/html": f'<pre class="lottery-lab-check">{line}</pre>', "text/plain": f"{self.points:g}"}

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (JSON-ready), e.g. for a course's gradebook."""
        return {"task": self.task, "title": self.title, "status": self.status, "points": self.points,
                "max_points": self.max_points, "checks_passed": self.checks_passed, "checks": self.checks,
                "message": self.message, "seed": self.seed, "seconds": round(self.seconds, 4)}


@dataclass
class Summary:
    """All checks run in this session (the latest per task): totals, a table, plain data."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def __str__(self) -> str:
        if not self.results:
            return "no checks run yet"
        width = max(len(r.task) for r in self.results)
        lines = [f"{'task':<{width}}  {'status':<16}{'checks':>8}{'points':>9}"]
        for r in self.results:
            lines.append(f"{r.task:<{width}}  {r.status:<16}{f'{r.checks_passed}/{r.checks}':>8}"
                         f"{f'{r.points:g}/{r.max_points:g}':>9}")
        lines.append(f"{'total':<{width}}  {'':<16}{'':>8}{f'{self.points:g}/{self.max_points:g}':>9}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "max_points": self.max_points,
                "results": [r.to_dict() for r in self.results]}


# --- calling the student's function ---------------------------------------------------------------
class TimeLimitExceeded(BaseException):
    """Raised inside the student's function when it runs past the task's time limit.

    A BaseException, so that a student's ``except Exception`` does not swallow it.
    """


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise :class:`TimeLimitExceeded` in this (main) thread after ``seconds``, by SIGALRM."""
    def on_alarm(signum, frame):
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call_in_thread(fn: Callable, args: tuple, seconds: float) -> Any:
    """Where SIGALRM is not available: run ``fn`` in a thread, and stop it by an asynchronous exception."""
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # handed back to the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(TimeLimitExceeded))
        worker.join(1.0)
        raise TimeLimitExceeded
    if "error" in box:
        raise box["error"]
    return box["value"]


def guarded_call(fn: Callable, args: tuple, seconds: float) -> Any:
    """``fn(*args)`` under a time limit, with its warnings and stderr output swallowed."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        if use_alarm:
            with _alarm(seconds):
                return fn(*args)
        return _call_in_thread(fn, args, seconds)


def signature_problem(fn: Any, task: Task) -> str | None:
    """Why ``fn`` cannot be called as the task's function, or None when it can."""
    if not callable(fn):
        return f"expected a function {task.signature}, got {type(fn).__name__} {short(fn)}"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: let the call tell
    try:
        sig.bind(*task.params)
    except TypeError:
        name = getattr(fn, "__name__", "your function")
        return f"wrong signature: expected {task.signature}, your function is {name}{sig}"
    return None


# --- describing values in one line ----------------------------------------------------------------
def short(value: Any, limit: int = 60) -> str:
    """A one-line, length-limited description of a value (type, shape, dtype, a few entries)."""
    try:
        import torch
    except ImportError:  # the convex tasks work without torch
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape} {value.dtype}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {short(v, 30)}" for k, v in list(value.items())[:3]) + \
            (", …}" if len(value) > 3 else "}")
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clip_text(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def values(x: Any, n: int = 4) -> str:
    """The first ``n`` entries of an array-like, rounded, in one line."""
    flat = np.asarray(x, dtype=float).reshape(-1)
    shown = ", ".join(f"{v:.4g}" for v in flat[:n])
    return f"[{shown}{', …' if flat.size > n else ''}]"


def copy_args(args: tuple) -> tuple:
    """Deep copies of the inputs (the student's function gets these; the originals stay for comparison)."""
    return tuple(copy.deepcopy(a) for a in args)


def changed_argument(task: Task, before: tuple, after: tuple) -> str | None:
    """The name of the first argument the student's function modified in place, if any."""
    for name, a, b in zip(task.params, before, after):
        if not same_value(a, b):
            return name
    return None


def same_value(a: Any, b: Any) -> bool:
    """Exact equality of nested inputs (arrays, tensors, dicts, numbers, strings)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if hasattr(a, "shape") and hasattr(b, "shape"):
        na, nb = _to_numpy(a), _to_numpy(b)
        return na.shape == nb.shape and np.array_equal(na, nb, equal_nan=na.dtype.kind == "f")
    return bool(a == b) if type(a) is type(b) else False


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _points(n: int) -> str:
    return f"{n} point{'s' if n != 1 else ''}"


def run_check(task: Task, fn: Any, seed: int) -> CheckResult:
    """Draw the task's cases from ``seed``, run ``fn`` on each, and sum it up in a :class:`CheckResult`."""
    start = time.perf_counter()
    cases = task.cases(np.random.default_rng(seed))

    def result(status: str, passed: int, detail: str) -> CheckResult:
        points = float(task.points) if status == PASSED else 0.0
        line = f"{_MARK[status]} {task.id}: {detail}"
        if status == FAILED:
            line += f" Hint: {task.hint} (seed {seed})"
        return CheckResult(task.id, task.title, status, points, float(task.points), passed, len(cases),
                           line, seed, time.perf_counter() - start)

    problem = signature_problem(fn, task)
    if problem is not None:
        return result(FAILED, 0, problem + ".")
    first_failure = None
    passed = 0
    for i, case in enumerate(cases, 1):
        where = f"case {i}/{len(cases)} ({case.describe})"
        given = copy_args(case.args)
        try:
            got = guarded_call(fn, given, task.time_limit)
        except NotImplementedError:
            return result(NOT_IMPLEMENTED, 0, f"not implemented yet — write {task.signature} above, "
                                              f"then run this cell again ({_points(task.points)}).")
        except TimeLimitExceeded:
            first_failure = first_failure or f"{where}: took longer than the {task.time_limit:g} s limit."
            break  # a second endless loop would only cost more time
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # whatever the student's code raises ends as a line of text
            first_failure = first_failure or f"{where}: your function raised {type(err).__name__}: {clip_text(err)}."
            continue
        name = changed_argument(task, case.args, given)
        if name is not None:
            first_failure = first_failure or f"{where}: your function changed its argument {name!r} in place; leave inputs unchanged."
            continue
        try:
            task.compare(got, case.expected)
        except Mismatch as err:
            first_failure = first_failure or f"{where}: {err}"
            continue
        except Exception as err:  # an output so odd that comparing it failed
            first_failure = first_failure or f"{where}: could not compare your output {short(got)} ({type(err).__name__}: {clip_text(err, 60)})."
            continue
        passed += 1
    if first_failure is None:
        return result(PASSED, passed, f"passed {passed}/{len(cases)} checks ({_points(task.points)}).")
    return result(FAILED, passed, f"{passed}/{len(cases)} checks passed; first failure: {first_failure}")
